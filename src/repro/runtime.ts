/**
 * The C runtime a reproducer carries: the parts of native/exec.c a program's steps need (slots,
 * deadlines, rings mapped by hand, the data pattern, FNV-1a 64), reduced to plain C that prints one
 * text line per recorded event. Split in sections so a reproducer only holds what its steps use.
 */

/** Sections of the runtime, in the order they are emitted. */
export type Section = 'core' | 'res' | 'pattern' | 'digest' | 'dump' | 'aio' | 'ring' | 'fork' | 'threads';

/** Sections each section needs. */
export const NEEDS: Record<Section, Section[]> = {
  core: [],
  res: [],
  pattern: [],
  digest: [],
  dump: [],
  aio: ['res'],
  ring: ['res'],
  fork: [],
  threads: [],
};

const CORE = String.raw`
// ---- runtime: slots, output, deadlines (as native/exec.c does them) ----------------------

#define MS 1000000ull
#define PAGE 4096ull
// The executor's deadline signal: a no-op handler without SA_RESTART, so blocking calls get EINTR.
#define DEADLINE_SIG (SIGRTMIN + 6)
enum { F_DEADLINE = 1, F_REFUSED = 2 };
/* URING_REAP: min counts every CQE reaped from the ring since its setup (WIRE.md) */
#define REAP_MIN_TOTAL 0x80000000u

struct thr { unsigned proc; int timer; uint64_t armed; void (*seq)(struct thr *); };
struct res { int64_t ret; int32_t err; uint32_t flags; uint64_t t0, t1; int64_t ret2; };

// Shared with forked children: the first failure wins, proc numbers are handed out once.
static struct shared { uint32_t procs, status; } *sh;
static uint64_t deadline; // absolute CLOCK_MONOTONIC ns
static int out_fd = 1;
static uint8_t *bad_page; // PROT_NONE: arg kind BAD
static int64_t fd[256], pid[64];
static uint64_t ctx[64];
static uint8_t fd_set_[256], ctx_set[64], pid_set[64], pid_own[64];

static inline uint32_t rd32(const void *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t rd64(const void *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void wr64(void *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint64_t umin(uint64_t a, uint64_t b) { return a < b ? a : b; }

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// syscall(2), with the kernel's -errno convention.
static long sys(long nr, long a, long b, long c, long d, long e, long f)
{
	long r = syscall(nr, a, b, c, d, e, f);
	return r == -1 ? -errno : r;
}

static void out_raw(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(out_fd, p, n);
		if (w <= 0 && errno != EINTR) return;
		if (w > 0) p += w, n -= (size_t)w;
	}
}

// One event line, written with one write(2): lines of forked children and threads do not mix.
static void __attribute__((format(printf, 1, 2))) out(const char *fmt, ...)
{
	char l[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(l, sizeof l, fmt, ap);
	va_end(ap);
	out_raw(l, n < (int)sizeof l ? (size_t)n : sizeof l - 1);
}

static void __attribute__((format(printf, 2, 3))) set_status(uint32_t st, const char *fmt, ...)
{
	uint32_t zero = 0;
	char m[256];
	va_list ap;
	if (!__atomic_compare_exchange_n(&sh->status, &zero, st, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	out("STATUS %s %s\n", st == 2 ? "deadline" : "error", m);
}

static void on_sig(int sig) { (void)sig; } // exists only so blocking calls return EINTR

// This thread's timer fires at dl, then every 10 ms, so a call entered just after it is interrupted too.
static void arm(struct thr *t, uint64_t dl)
{
	if (t->timer == -2 || (t->timer >= 0 && t->armed == dl)) return;
	if (t->timer == -1) {
		struct sigevent se;
		int id = -1;
		memset(&se, 0, sizeof se);
		se.sigev_notify = SIGEV_THREAD_ID;
		se.sigev_signo = DEADLINE_SIG;
		se._sigev_un._tid = (int)sys(__NR_gettid, 0, 0, 0, 0, 0, 0);
		if (sys(__NR_timer_create, CLOCK_MONOTONIC, (long)&se, (long)&id, 0, 0, 0) < 0) {
			t->timer = -2;
			return;
		}
		t->timer = id;
	}
	struct itimerspec its = {{0, 10 * (long)MS}, {(time_t)(dl / 1000000000ull), (long)(dl % 1000000000ull)}};
	sys(__NR_timer_settime, t->timer, TIMER_ABSTIME, (long)&its, 0, 0, 0);
	t->armed = dl;
}

static void disarm(struct thr *t)
{
	if (t->timer >= 0) sys(__NR_timer_delete, t->timer, 0, 0, 0, 0, 0);
	t->timer = -1;
}

static uint64_t step_deadline(uint64_t t0, uint32_t waitms) { return waitms ? umin(t0 + waitms * MS, deadline) : deadline; }

static void set_ret(struct res *o, long r)
{
	o->ret = r;
	o->err = r < 0 && r >= -4095 ? (int32_t)-r : 0;
}

// Before every step: a failure elsewhere or the program deadline ends the sequence.
static int begin(unsigned s, unsigned i, struct res *o)
{
	memset(o, 0, sizeof *o);
	if (__atomic_load_n(&sh->status, __ATOMIC_RELAXED)) return 0;
	o->t0 = now_ns();
	if (o->t0 >= deadline) {
		set_status(2, "program deadline exceeded: step %u of seq %u", i, s);
		return 0;
	}
	return 1;
}

// After every step: its STEP line; true when STOP_ON_ERROR ends the sequence.
static int finish(struct thr *t, unsigned s, unsigned i, struct res *o, int stop_on_error)
{
	if (!o->t1) o->t1 = now_ns();
	out("STEP %u %u %u %lld %d %u %llu %llu %lld\n", s, i, t->proc, (long long)o->ret, o->err, o->flags,
	    (unsigned long long)o->t0, (unsigned long long)o->t1, (long long)o->ret2);
	return stop_on_error && o->ret < 0;
}

// The step could not run (an empty slot, a ring not set up): an ERROR line, and the sequence ends.
static void __attribute__((format(printf, 4, 5))) step_error(struct thr *t, unsigned s, unsigned i, const char *fmt, ...)
{
	char m[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	out("ERROR %u %u %u %s\n", s, i, t->proc, m);
}

// A system call step: armed for the program deadline, timed, flagged when it ran into it.
static long do_sys(struct thr *t, struct res *o, long nr, const long a[6])
{
	arm(t, deadline);
	o->t0 = now_ns();
	long r = sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	o->t1 = now_ns();
	set_ret(o, r);
	if (o->t1 >= deadline) o->flags |= F_DEADLINE;
	return r;
}

// The program closed an fd or destroyed a context itself: its slots are empty from now on.
static void forget_fd(long v)
{
	for (int k = 0; k < 256; k++)
		if (fd_set_[k] && fd[k] == v) fd_set_[k] = 0;
}

static void forget_ctx(long v)
{
	for (int k = 0; k < 64; k++)
		if (ctx_set[k] && (long)ctx[k] == v) ctx_set[k] = 0;
}

// Buffers as the executor lays them out: page-aligned ones first, each followed by a guard page,
// then the others in an arena that ends in a guard page too.
static uint8_t *buf[256];
static const uint32_t *buf_size;
static unsigned nbufs;
static void alloc_bufs(const uint32_t *size, const uint32_t *align, unsigned n)
{
	uint64_t off[256], total = 0;
	if (!n) return;
	for (unsigned b = 0; b < n; b++)
		if (align[b] == PAGE) {
			off[b] = total;
			total += (size[b] + PAGE - 1) / PAGE * PAGE + PAGE;
		}
	uint64_t arena = total;
	for (unsigned b = 0; b < n; b++)
		if (align[b] != PAGE) {
			total = (total + align[b] - 1) & ~((uint64_t)align[b] - 1);
			off[b] = total;
			total += size[b];
		}
	total = (total + PAGE - 1) / PAGE * PAGE + PAGE;
	uint8_t *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		out("STATUS error buffer allocation failed: %llu bytes\n", (unsigned long long)total);
		exit(1);
	}
	for (unsigned b = 0; b < n; b++) {
		buf[b] = mem + off[b];
		if (align[b] == PAGE) mprotect(buf[b] + (size[b] + PAGE - 1) / PAGE * PAGE, PAGE, PROT_NONE);
	}
	if (total > arena + PAGE) mprotect(mem + total - PAGE, PAGE, PROT_NONE);
}

static void setup(uint32_t deadline_ms, const uint32_t *size, const uint32_t *align, unsigned n)
{
	struct sigaction sa;
	sigset_t set;
	// Our lines go to a high fd; 0 and 1 are /dev/null, as in the executor's runner.
	int nul = open("/dev/null", O_RDWR);
	out_fd = fcntl(1, F_DUPFD_CLOEXEC, 500);
	if (out_fd < 0) out_fd = 1;
	else if (nul >= 0) dup2(nul, 0), dup2(nul, 1);
	if (nul > 2) close(nul);
	sh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	bad_page = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || bad_page == MAP_FAILED) exit(1);
	buf_size = size;
	nbufs = n;
	alloc_bufs(size, align, n);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig; // no SA_RESTART: the whole point is EINTR
	sigemptyset(&sa.sa_mask);
	sigaction(DEADLINE_SIG, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, DEADLINE_SIG);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	deadline = now_ns() + deadline_ms * MS;
}

// Children first (they share our rings and buffers); the kernel closes the rest at exit.
static void teardown(void)
{
	for (int k = 0; k < 64; k++)
		if (pid_set[k] && pid_own[k]) {
			int st;
			sys(__NR_kill, pid[k], SIGKILL, 0, 0, 0, 0);
			sys(__NR_wait4, pid[k], (long)&st, __WALL, 0, 0, 0);
		}
}
`;

const RES = String.raw`
// ---- completions for arg kind RES: the latest res per user_data / aio_data --------------------

static struct done { uint64_t ud; int64_t res; } done[64];
static uint32_t ndone;

static void remember(const uint8_t *first, uint32_t n, uint32_t stride, int aio)
{
	uint32_t base = __atomic_fetch_add(&ndone, n, __ATOMIC_RELAXED);
	for (uint32_t k = 0; k < n; k++) {
		const uint8_t *c = first + (size_t)k * stride;
		struct done *d = &done[(base + k) % 64];
		d->ud = rd64(c);
		d->res = aio ? (int64_t)rd64(c + 16) : (int32_t)rd32(c + 8);
	}
}

static int64_t res_of(uint64_t ud)
{
	uint32_t n = __atomic_load_n(&ndone, __ATOMIC_RELAXED);
	for (uint32_t j = 1; j <= 64 && j <= n; j++)
		if (done[(n - j) % 64].ud == ud) return done[(n - j) % 64].res;
	return -1;
}
`;

const PATTERN = String.raw`
// ---- the data pattern: byte k of stream seed is byte k % 8 (LE) of (seed << 32) | (k / 8) -----

static inline uint8_t pat(uint64_t seed, uint64_t k) { return (uint8_t)(((seed << 32) | (k / 8)) >> (8 * (k % 8))); }

static void fill_pattern(uint8_t *d, uint32_t n, uint64_t seed, uint64_t pos)
{
	for (uint32_t k = 0; k < n; k++) d[k] = pat(seed, pos + k);
}

static void verify(struct thr *t, unsigned s, unsigned i, struct res *o, uint32_t b, uint32_t off, uint32_t n,
		   uint64_t seed, uint64_t pos)
{
	uint32_t bad = 0, first = 0xffffffffu;
	for (uint32_t k = 0; k < n; k++)
		if (buf[b][off + k] != pat(seed, pos + k) && !bad++) first = off + k;
	out("VERIFY %u %u %u %u %u\n", s, i, t->proc, bad, first);
	o->ret = bad;
}
`;

const DIGEST = String.raw`
// ---- DIGEST: FNV-1a 64 --------------------------------------------------------------------

static void digest(struct thr *t, unsigned s, unsigned i, const uint8_t *p, uint32_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint32_t k = 0; k < n; k++) h = (h ^ p[k]) * 0x100000001b3ull;
	out("DIGEST %u %u %u %016llx %u\n", s, i, t->proc, (unsigned long long)h, n);
}
`;

const DUMP = String.raw`
// ---- DUMP: the bytes in hex ----------------------------------------------------------------

static void dump(struct thr *t, unsigned s, unsigned i, const uint8_t *p, uint32_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *l = malloc(64 + 2 * (size_t)n);
	if (!l) return;
	int h = snprintf(l, 64, "DUMP %u %u %u %u ", s, i, t->proc, n);
	for (uint32_t k = 0; k < n; k++) l[h + 2 * k] = hex[p[k] >> 4], l[h + 2 * k + 1] = hex[p[k] & 15];
	l[h + 2 * (size_t)n] = '\n';
	out_raw(l, h + 2 * (size_t)n + 1);
	free(l);
}
`;

const AIO = String.raw`
// ---- io_getevents-style results: ret io_events written to the events buffer --------------------

static void aio_events(struct thr *t, unsigned s, unsigned i, long r, uint32_t b, uint64_t off)
{
	uint64_t n = r > 0 && off <= buf_size[b] ? umin((uint64_t)r, (buf_size[b] - off) / 32) : 0;
	for (uint64_t k = 0; k < n; k++) {
		const uint8_t *e = buf[b] + off + 32 * k;
		out("EVENT %u %u %u %llu %llu %lld %lld\n", s, i, t->proc, (unsigned long long)rd64(e),
		    (unsigned long long)rd64(e + 8), (long long)rd64(e + 16), (long long)rd64(e + 24));
	}
	remember(buf[b] + off, (uint32_t)n, 32, 1);
}

// post 6: an io_getevents cut short before its timeout (-EINTR, or fewer than min_nr: io_uring's
// task work sets TIF_NOTIFY_SIGNAL, which ends the interruptible wait) is made again for the rest.
static long aio_wait_rest(struct thr *t, struct res *o, const long a[6], long r)
{
	uint64_t end = deadline;
	long got = r > 0 ? r : 0;
	if (a[4]) {
		const struct timespec *ts = (const struct timespec *)a[4];
		end = umin(end, o->t0 + (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec);
	}
	// once more after an -EINTR with nothing in hand even when min_nr is 0 (io_getevents turns "no events"
	// into -EINTR while io_uring task work is pending)
	while (got < a[2] && (((r >= 0 || r == -EINTR) && got < a[1]) || (r == -EINTR && got == 0))) {
		uint64_t now = now_ns();
		if (now >= end) break;
		struct timespec rest = {(time_t)((end - now) / 1000000000ull), (long)((end - now) % 1000000000ull)};
		arm(t, deadline);
		r = sys(SYS_io_getevents, a[0], a[1] - got, a[2] - got, a[3] + 32 * got, a[4] ? (long)&rest : 0, 0);
		if (r > 0) got += r;
	}
	r = got > 0 || r >= 0 ? got : r;
	o->t1 = now_ns();
	set_ret(o, r);
	if (o->t1 >= deadline) o->flags |= F_DEADLINE;
	return r;
}

// post 7: min_nr counts every io_event taken from the ctx slot since it was set (by post 3, 6 and 7
// steps on it, on any thread), so the call asks only for what is still owed, at most nr.
static uint32_t ctx_taken[64];
static long aio_owed(uint32_t slot, long total, long nr)
{
	long owed = total - (long)__atomic_load_n(&ctx_taken[slot], __ATOMIC_RELAXED);
	return owed < 0 ? 0 : nr >= 0 && owed > nr ? nr : owed;
}

static void aio_took(uint32_t slot, long r)
{
	if (r > 0) __atomic_fetch_add(&ctx_taken[slot], (uint32_t)r, __ATOMIC_RELAXED);
}
`;

const RING = String.raw`
// ---- io_uring rings, mapped by hand from the offsets io_uring_setup returned -------------------

#define SETUP_SQE128 (1u << 10)
#define SETUP_CQE32 (1u << 11)
#define SETUP_NO_MMAP (1u << 14)
#define SETUP_REGISTERED_FD_ONLY (1u << 15)
#define SETUP_NO_SQARRAY (1u << 16)
#define SETUP_CQE_MIXED (1u << 18)
#define FEAT_SINGLE_MMAP (1u << 0)
#define CQE_F_32 (1u << 15)
#define ENTER_GETEVENTS (1u << 0)
#define ENTER_REGISTERED_RING (1u << 4)
#define REGISTER_UNREGISTER_RING_FDS 21
#define REGISTER_USE_REGISTERED_RING (1u << 31)
#define OFF_SQ_RING 0ull
#define OFF_CQ_RING 0x8000000ull
#define OFF_SQES 0x10000000ull

static struct ring {
	int used, mapped, own_maps, regidx, fd_closed;
	int64_t fd; // fd, or the registered index with REGISTERED_FD_ONLY
	uint32_t setup, sq_entries, cq_entries, sq_mask, cq_mask, sqe_size, cqe_size;
	uint8_t *sq, *cq, *sqes;
	size_t sqsz, cqsz, sqesz;
	uint32_t *sq_head, *sq_tail, *sq_flags, *sq_dropped, *sq_array;
	uint32_t *cq_head, *cq_tail, *cq_flags, *cq_overflow;
	uint8_t *cqes;
	uint32_t reaped; // CQEs URING_REAP took from this ring since its setup
} ring[16];

#define RING_FD(n) (ring[n].used ? (long)ring[n].fd : -1L)

static int in_bufs(uint64_t a, uint64_t n)
{
	for (unsigned b = 0; b < nbufs; b++) {
		uint64_t s = (uint64_t)(uintptr_t)buf[b];
		if (a >= s && a - s <= buf_size[b] && n <= buf_size[b] - (a - s)) return 1;
	}
	return 0;
}

static void ring_close(struct ring *rg, struct res *o)
{
	long r = 0;
	if (!rg->used) return;
	if (rg->own_maps) {
		munmap(rg->sq, rg->sqsz);
		if (rg->cq != rg->sq) munmap(rg->cq, rg->cqsz);
		munmap(rg->sqes, rg->sqesz);
	}
	if (rg->regidx) {
		uint32_t upd[4] = {(uint32_t)rg->fd, 0, 0, 0};
		r = sys(__NR_io_uring_register, (long)rg->fd, REGISTER_UNREGISTER_RING_FDS | REGISTER_USE_REGISTERED_RING,
			(long)upd, 1, 0, 0);
	} else if (!rg->fd_closed) {
		r = sys(__NR_close, (long)rg->fd, 0, 0, 0, 0, 0);
	}
	if (o) set_ret(o, r);
	memset(rg, 0, sizeof *rg);
}

static void forget_ring_fd(long v)
{
	for (int k = 0; k < 16; k++)
		if (ring[k].used && !ring[k].regidx && ring[k].fd == v) ring[k].fd_closed = 1;
}

// io_uring_params: sq_entries at 0, cq_entries 4, features 20, sq_off at 40, cq_off at 80.
static const char *ring_map(struct ring *rg, const uint8_t *p, uint64_t sq_ua, uint64_t cq_ua)
{
	uint32_t features = rd32(p + 20);
	const uint8_t *so = p + 40, *co = p + 80;
	uint32_t sqn = rd32(p), cqn = rd32(p + 4), fl = rg->setup;
	rg->sqe_size = fl & SETUP_SQE128 ? 128 : 64;
	rg->cqe_size = fl & SETUP_CQE32 ? 32 : 16;
	if (!sqn || !cqn || (sqn & (sqn - 1)) || (cqn & (cqn - 1)) || sqn > (1u << 20) || cqn > (1u << 22))
		return "implausible ring sizes";
	uint64_t cqsz = (uint64_t)rd32(co + 20) + (uint64_t)cqn * rg->cqe_size;
	uint64_t sqsz = fl & SETUP_NO_SQARRAY ? cqsz : (uint64_t)rd32(so + 24) + 4ull * sqn;
	rg->sqesz = (size_t)sqn * rg->sqe_size;
	if (fl & SETUP_NO_MMAP) {
		sqsz = cqsz = sqsz > cqsz ? sqsz : cqsz;
		if (!in_bufs(cq_ua, cqsz) || !in_bufs(sq_ua, rg->sqesz))
			return "NO_MMAP ring memory is not inside a buffer";
		rg->sq = rg->cq = (uint8_t *)(uintptr_t)cq_ua;
		rg->sqes = (uint8_t *)(uintptr_t)sq_ua;
	} else {
		int single = features & FEAT_SINGLE_MMAP;
		if (single) sqsz = cqsz = sqsz > cqsz ? sqsz : cqsz;
		int f = (int)rg->fd;
		rg->sq = mmap(NULL, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, f, OFF_SQ_RING);
		rg->cq = single ? rg->sq : mmap(NULL, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, f, OFF_CQ_RING);
		rg->sqes = mmap(NULL, rg->sqesz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, f, OFF_SQES);
		if (rg->sq == MAP_FAILED || rg->cq == MAP_FAILED || rg->sqes == MAP_FAILED) return "mmap of the ring failed";
		rg->own_maps = 1;
	}
	rg->sqsz = sqsz;
	rg->cqsz = cqsz;
	for (int k = 0; k < 7; k++)
		if ((uint64_t)rd32(so + 4 * k) + 4 > sqsz && !(k == 6 && (fl & SETUP_NO_SQARRAY)))
			return "sq_off outside the SQ ring";
	for (int k = 0; k < 7; k++)
		if ((uint64_t)rd32(co + 4 * k) + 4 > cqsz) return "cq_off outside the CQ ring";
	rg->sq_head = (uint32_t *)(rg->sq + rd32(so));
	rg->sq_tail = (uint32_t *)(rg->sq + rd32(so + 4));
	rg->sq_mask = *(uint32_t *)(rg->sq + rd32(so + 8));
	rg->sq_entries = sqn;
	rg->sq_flags = (uint32_t *)(rg->sq + rd32(so + 16));
	rg->sq_dropped = (uint32_t *)(rg->sq + rd32(so + 20));
	rg->sq_array = fl & SETUP_NO_SQARRAY ? NULL : (uint32_t *)(rg->sq + rd32(so + 24));
	rg->cq_head = (uint32_t *)(rg->cq + rd32(co));
	rg->cq_tail = (uint32_t *)(rg->cq + rd32(co + 4));
	rg->cq_mask = *(uint32_t *)(rg->cq + rd32(co + 8));
	rg->cq_entries = cqn;
	rg->cq_overflow = (uint32_t *)(rg->cq + rd32(co + 16));
	rg->cqes = rg->cq + rd32(co + 20);
	rg->cq_flags = (uint32_t *)(rg->cq + rd32(co + 24));
	if (rg->sq_mask != sqn - 1 || rg->cq_mask != cqn - 1) return "ring masks disagree with the entry counts";
	rg->mapped = 1;
	return NULL;
}

// URING_SETUP: io_uring_setup(entries, params), then the mappings. Returns -1 when the sequence ends.
static int ring_setup(struct thr *t, unsigned s, unsigned i, struct res *o, unsigned n, uint32_t entries, uint8_t *p)
{
	struct ring *rg = &ring[n];
	ring_close(rg, NULL); // a second setup replaces the slot's ring
	uint32_t flags = rd32(p + 8);
	uint64_t sq_ua = rd64(p + 72), cq_ua = rd64(p + 112); // read first: the kernel may rewrite them
	o->t0 = now_ns();
	long r = sys(__NR_io_uring_setup, entries, (long)p, 0, 0, 0, 0);
	o->t1 = now_ns();
	set_ret(o, r);
	if (r < 0) return 0;
	rg->used = 1;
	rg->fd = r;
	rg->setup = flags;
	rg->regidx = !!(flags & SETUP_REGISTERED_FD_ONLY);
	const char *why = ring_map(rg, p, sq_ua, cq_ua);
	if (!why) return 0;
	rg->mapped = 0;
	finish(t, s, i, o, 0);
	step_error(t, s, i, "ring %u: %s", n, why);
	return -1;
}

static struct ring *ring_get(struct thr *t, unsigned s, unsigned i, unsigned n)
{
	if (ring[n].mapped) return &ring[n];
	step_error(t, s, i, "ring %u is not set up", n);
	return NULL;
}

// URING_QUEUE: copy count SQEs into the SQ and publish the tail; ret = how many fitted.
static int ring_queue(struct thr *t, unsigned s, unsigned i, struct res *o, unsigned n, uint32_t b, uint32_t off,
		      uint32_t count)
{
	struct ring *rg = ring_get(t, s, i, n);
	if (!rg) return -1;
	uint32_t sz = rg->sqe_size;
	if ((uint64_t)count * sz > buf_size[b] - off) {
		step_error(t, s, i, "%u SQEs of %u bytes overrun buffer %u", count, sz, b);
		return -1;
	}
	uint32_t head = __atomic_load_n(rg->sq_head, __ATOMIC_ACQUIRE), tail = *rg->sq_tail;
	uint32_t used = tail - head, k, m = used >= rg->sq_entries ? 0 : rg->sq_entries - used;
	if (m > count) m = count;
	for (k = 0; k < m; k++) {
		uint32_t idx = (tail + k) & rg->sq_mask;
		memcpy(rg->sqes + (size_t)idx * sz, buf[b] + off + (size_t)k * sz, sz);
		if (rg->sq_array) rg->sq_array[idx] = idx;
	}
	__atomic_store_n(rg->sq_tail, tail + m, __ATOMIC_RELEASE);
	o->ret = m;
	return 0;
}

static void cqe_line(struct thr *t, unsigned s, unsigned i, const uint8_t *c, uint32_t sz)
{
	if (sz == 32)
		out("CQE %u %u %u %llu %d %u %llu %llu\n", s, i, t->proc, (unsigned long long)rd64(c), (int32_t)rd32(c + 8),
		    rd32(c + 12), (unsigned long long)rd64(c + 16), (unsigned long long)rd64(c + 24));
	else
		out("CQE %u %u %u %llu %d %u\n", s, i, t->proc, (unsigned long long)rd64(c), (int32_t)rd32(c + 8), rd32(c + 12));
}

// URING_REAP: take up to max CQEs, waiting (GETEVENTS) until min are in hand or waitms passes.
static int ring_reap(struct thr *t, unsigned s, unsigned i, struct res *o, unsigned n, uint32_t min, uint32_t max,
		     uint32_t waitms)
{
	struct ring *rg = ring_get(t, s, i, n);
	if (!rg) return -1;
	uint64_t dl = step_deadline(o->t0, waitms);
	uint32_t have = 0;
	if (min & REAP_MIN_TOTAL) {
		// owed CQEs an earlier reap ran out of time for are taken here
		min &= ~REAP_MIN_TOTAL;
		min = min > rg->reaped ? min - rg->reaped : 0;
		if (max < min) max = min;
	}
	for (;;) {
		uint32_t head = *rg->cq_head, tail = __atomic_load_n(rg->cq_tail, __ATOMIC_ACQUIRE);
		while (have < max && head != tail) {
			uint32_t idx = head & rg->cq_mask, sz = rg->cqe_size;
			const uint8_t *c = rg->cqes + (size_t)idx * sz;
			// a 32-byte completion of a CQE_MIXED ring takes two 16-byte slots (never across the wrap)
			if ((rg->setup & SETUP_CQE_MIXED) && (rd32(c + 12) & CQE_F_32) && idx != rg->cq_mask) sz = 32, head++;
			cqe_line(t, s, i, c, sz);
			remember(c, 1, sz, 0);
			head++;
			have++;
		}
		__atomic_store_n(rg->cq_head, head, __ATOMIC_RELEASE);
		if (have >= min) break;
		if (now_ns() >= dl) {
			o->flags |= F_DEADLINE;
			break;
		}
		arm(t, dl);
		long r = sys(__NR_io_uring_enter, (long)rg->fd, 0, min - have,
			     ENTER_GETEVENTS | (rg->regidx ? ENTER_REGISTERED_RING : 0), 0, 0);
		if (r < 0 && r != -EINTR) {
			o->err = (int32_t)-r; // ret stays the count reaped
			break;
		}
	}
	rg->reaped += have;
	o->ret = have;
	return 0;
}

static int ring_state(struct thr *t, unsigned s, unsigned i, unsigned n)
{
	struct ring *rg = ring_get(t, s, i, n);
	if (!rg) return -1;
	out("RING %u %u %u %u %u %u %u %u %u %u %u %u %u\n", s, i, t->proc, __atomic_load_n(rg->sq_head, __ATOMIC_ACQUIRE),
	    __atomic_load_n(rg->sq_tail, __ATOMIC_ACQUIRE), __atomic_load_n(rg->cq_head, __ATOMIC_ACQUIRE),
	    __atomic_load_n(rg->cq_tail, __ATOMIC_ACQUIRE), __atomic_load_n(rg->sq_flags, __ATOMIC_ACQUIRE),
	    __atomic_load_n(rg->cq_flags, __ATOMIC_ACQUIRE), __atomic_load_n(rg->cq_overflow, __ATOMIC_ACQUIRE),
	    __atomic_load_n(rg->sq_dropped, __ATOMIC_ACQUIRE), rg->sq_entries, rg->cq_entries);
	return 0;
}
`;

const FORK = String.raw`
// ---- processes: FORK, WAIT -------------------------------------------------------------------

static unsigned new_proc(void)
{
	uint32_t p = __atomic_add_fetch(&sh->procs, 1, __ATOMIC_RELAXED);
	return p > 256 ? 0 : p;
}

static void do_fork(struct res *o, void (*seq)(struct thr *), unsigned slot)
{
	unsigned proc = new_proc();
	if (!proc) {
		o->ret = -EAGAIN, o->err = EAGAIN, o->flags |= F_REFUSED;
		return;
	}
	pid_t p = fork();
	if (p == 0) {
		struct thr c = {proc, -1, 0, seq};
		seq(&c);
		disarm(&c);
		sys(__NR_exit_group, 0, 0, 0, 0, 0, 0);
	}
	set_ret(o, p < 0 ? -errno : p);
	if (p > 0) pid[slot] = p, pid_set[slot] = pid_own[slot] = 1;
}

// wait4 under a deadline; the raw result (-EINTR if the deadline passed).
static long wait_until(struct thr *t, pid_t p, int *st, uint64_t dl)
{
	long r;
	do {
		arm(t, dl);
		r = sys(__NR_wait4, p, (long)st, __WALL, 0, 0, 0);
	} while (r == -EINTR && now_ns() < dl);
	return r;
}

static int do_wait(struct thr *t, unsigned s, unsigned i, struct res *o, unsigned slot, uint32_t waitms)
{
	if (!pid_set[slot]) {
		step_error(t, s, i, "pid slot %u is empty", slot);
		return -1;
	}
	int st = 0;
	long r = wait_until(t, (pid_t)pid[slot], &st, step_deadline(o->t0, waitms));
	if (r == -EINTR) { // at the deadline the child is killed
		o->flags |= F_DEADLINE;
		sys(__NR_kill, pid[slot], SIGKILL, 0, 0, 0, 0);
		r = wait_until(t, (pid_t)pid[slot], &st, now_ns() + 1000 * MS);
	}
	set_ret(o, r);
	o->ret2 = st;
	if (r == pid[slot]) pid_own[slot] = 0; // reaped: never signal that number again
	return 0;
}
`;

const THREADS = String.raw`
// ---- THREADS: sequences on threads, joined under the step deadline ---------------------------

static struct thr thr[257];

static void *thread_main(void *arg)
{
	struct thr *c = arg;
	c->seq(c);
	disarm(c);
	return NULL;
}

static void do_threads(struct res *o, void (*const *seqs)(struct thr *), unsigned n, uint32_t waitms)
{
	uint64_t dl = step_deadline(o->t0, waitms);
	pthread_t th[32];
	int started[32] = {0};
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 1 << 20);
	for (unsigned k = 0; k < n; k++) {
		unsigned proc = __atomic_add_fetch(&sh->procs, 1, __ATOMIC_RELAXED);
		if (proc > 256) {
			o->flags |= F_REFUSED;
			continue;
		}
		thr[proc] = (struct thr){proc, -1, 0, seqs[k]};
		started[k] = pthread_create(&th[k], &at, thread_main, &thr[proc]) == 0;
	}
	pthread_attr_destroy(&at);
	struct timespec ts = {(time_t)(dl / 1000000000ull), (long)(dl % 1000000000ull)};
	for (unsigned k = 0; k < n; k++) {
		if (!started[k]) continue;
		if (pthread_clockjoin_np(th[k], NULL, CLOCK_MONOTONIC, &ts) == 0) {
			o->ret++;
		} else { // still running: exit_group ends it with the program
			o->flags |= F_DEADLINE;
			pthread_detach(th[k]);
		}
	}
}
`;

/** The C text of each section. */
export const SECTIONS: Record<Section, string> = {
  core: CORE,
  res: RES,
  pattern: PATTERN,
  digest: DIGEST,
  dump: DUMP,
  aio: AIO,
  ring: RING,
  fork: FORK,
  threads: THREADS,
};

/** Headers every reproducer includes (libc and UAPI only). */
export const INCLUDES = [
  'errno.h',
  'fcntl.h',
  'signal.h',
  'stdarg.h',
  'stdint.h',
  'stdio.h',
  'stdlib.h',
  'string.h',
  'sys/mman.h',
  'sys/syscall.h',
  'sys/wait.h',
  'time.h',
  'unistd.h',
];
