// exec.c: the kasync wire-program interpreter (WIRE.md is the contract).
// Boring on purpose, like a syzkaller executor: fixed tables, no allocation while steps run, raw
// system calls, and every failure is a constant message plus detail. The executor holds no kernel
// knowledge beyond what it needs to drive io_uring rings itself; numbers and flags come from the program.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "exec.h"

#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h> // 6.1 UAPI; only IORING_* constants, newer ones are defined below
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_SEQ = 64, MAX_BUFS = 256, MAX_FDS = 256, MAX_CTX = 64, MAX_RINGS = 16, MAX_PIDS = 64,
       MAX_THREADS = 32, MAX_PROCS = 256, NDONE = 64, MSGMAX = 256, MAX_SNAP = 1024 };
enum { OP_SYSCALL = 1, OP_PATCH, OP_BYTES, OP_FILL, OP_DIGEST, OP_DUMP, OP_VERIFY, OP_SETSLOT,
       OP_URING_SETUP, OP_URING_QUEUE, OP_URING_REAP, OP_URING_STATE, OP_URING_CLOSE, OP_FORK,
       OP_WAIT, OP_THREADS, OP_SLEEP, OP_EXIT, OP_LIBC, OP_SIGCOUNT, OP_KCOV, OP_LAST = OP_KCOV };
enum { R_STEP = 1, R_AIO, R_CQE, R_DIGEST, R_DUMP, R_VERIFY, R_RING, R_ERROR, R_KCOV };
enum { A_IMM, A_BUF, A_FD, A_CTX, A_RING, A_PID, A_BAD, A_LOAD32, A_LOAD64, A_RES, A_RINGMEM, A_NOTIFY };
// LIBC step functions (WIRE.md, "LIBC functions"); the index is the wire value.
enum { FN_AIO_READ, FN_AIO_WRITE, FN_AIO_FSYNC, FN_AIO_ERROR, FN_AIO_RETURN, FN_AIO_CANCEL, FN_AIO_SUSPEND,
       FN_LIO_LISTIO, FN_COUNT_WAIT, FN_COUNT };
enum { F_DEADLINE = 1, F_REFUSED = 2 };
/* URING_REAP: min counts every CQE reaped from the ring since its setup (WIRE.md) */
#define REAP_MIN_TOTAL 0x80000000u

#define MiB (1ull << 20)
#define PAGE 4096ull
#define PROG_MAGIC 0x5053414bu
#define TRACE_MAGIC 0x5453414bu
#define MS 1000000ull
#define KX_SIG (SIGRTMIN + 6)
#define KCOV_PATH "/sys/kernel/debug/kcov" // where debugfs puts KCOV (Documentation/dev-tools/kcov.rst)
#define KCOV_MAX_WORDS (1u << 22)
// Newer than the 6.1 header.
#define SETUP_SQE128 (1u << 10)
#define SETUP_CQE32 (1u << 11)
#define SETUP_NO_MMAP (1u << 14)
#define SETUP_REGISTERED_FD_ONLY (1u << 15)
#define SETUP_NO_SQARRAY (1u << 16)
#define SETUP_CQE_MIXED (1u << 18)
#define CQE_F_32 (1u << 15)
#define ENTER_REGISTERED_RING (1u << 4)
#define REGISTER_USE_REGISTERED_RING (1u << 31)
#define UNREGISTER_RING_FDS 21
#define NR_IO_URING_SETUP 425
#define NR_IO_URING_ENTER 426
#define NR_IO_URING_REGISTER 427

// The trace region. In runner mode it is MAP_SHARED so FORK children append to it and the
// supervisor can still read it after the runner died. It must start zeroed (fresh mmap).
struct region {
	uint64_t cap;     // bytes available in rec[]
	uint64_t cursor;  // bytes reserved so far; may run past cap
	uint64_t full_at; // offset of the first reservation that did not fit, or UINT64_MAX
	uint32_t procs;   // last proc number handed out
	uint32_t status;  // first non-zero status wins
	uint32_t done;    // kx_exec returned normally
	uint32_t msglen;
	char msg[MSGMAX];
	uint8_t head[32 + MSGMAX]; // kx_finish writes header + message so they end right at rec[]
	uint8_t rec[];
};
_Static_assert(offsetof(struct region, rec) % 8 == 0, "records must be 8-aligned");
_Static_assert(offsetof(struct region, rec) == offsetof(struct region, head) + 32 + MSGMAX, "head abuts rec");

struct ring {
	int used, mapped, own_maps, regidx, fd_closed;
	int64_t fd; // fd, or the registered index with REGISTERED_FD_ONLY
	uint32_t setup, sq_entries, cq_entries, sq_mask, cq_mask, sqe_size, cqe_size;
	uint8_t *sq, *cq, *sqes;
	size_t sqsz, cqsz, sqesz;
	uint32_t *sq_head, *sq_tail, *sq_flags, *sq_dropped, *sq_array;
	uint32_t *cq_head, *cq_tail, *cq_flags, *cq_overflow;
	uint8_t *cqes;
	uint32_t reaped; // CQEs URING_REAP took from this ring since its setup
};

struct prog;
struct thr {
	struct prog *g;
	uint16_t proc;
	uint32_t seq;    // THREADS: sequence to run
	int timer;       // kernel timer id; -1 none yet, -2 unavailable
	uint64_t armed;  // absolute deadline the timer is armed for
	struct kcov *kcov; // KCOV step: this task's coverage, collected when its sequence ends
};

struct prog {
	const uint8_t *p;
	size_t len;
	int mode, stray, used_async, used_libc, fdslots, snapped;
	struct region *r;
	uint32_t nseq, nbufs, seqtab;
	uint64_t deadline; // absolute CLOCK_MONOTONIC ns
	uint8_t *mem;
	size_t memsz;
	uint8_t *arena; // in-process: the pooled arena mem lies in (arena_get), or NULL
	uint8_t *buf[MAX_BUFS];
	uint32_t bsz[MAX_BUFS], balign[MAX_BUFS];
	int64_t fd[MAX_FDS], pid[MAX_PIDS];
	uint64_t ctx[MAX_CTX];
	uint8_t fdset[MAX_FDS], ctxset[MAX_CTX], pidset[MAX_PIDS], pidown[MAX_PIDS];
	uint32_t ctxtaken[MAX_CTX]; // io_events SYSCALL post 3/6/7 took from each ctx slot since it was set (post 7)
	struct ring ring[MAX_RINGS];
	struct done { uint64_t ud; int64_t res; } done[NDONE];
	uint32_t ndone;
	struct thr thr[MAX_PROCS + 1]; // indexed by proc, so a thread's state outlives a timed-out join
	// In-process fd ownership: what was open when the program started, and what each fd slot
	// held when it was set (see claim_fd).
	uint32_t nsnap, snapfd[MAX_SNAP];
	struct ident { uint64_t dev, ino; } snapid[MAX_SNAP], fdid[MAX_FDS];
	uint8_t fdown[MAX_FDS];
};

struct res { int64_t ret; int32_t err; uint32_t flags; uint64_t t0, t1; int64_t ret2; };
_Static_assert(sizeof(struct res) == 40, "STEP payload is 40 bytes");

static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint64_t pad8(uint64_t n) { return (n + 7) & ~7ull; }
static inline uint64_t umin(uint64_t a, uint64_t b) { return a < b ? a : b; }

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); // vDSO: no kernel entry on the hot path
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// Raw system call: the kernel's result as is (-errno on failure); errno is never touched.
static inline long kx_sys(long nr, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#else
	long ret = syscall(nr, a, b, c, d, e, f);
	return ret == -1 ? -errno : ret;
#endif
}

// System calls that would change the Node process itself; the in-process addon refuses them.
static const int proc_nrs[] = {
#if defined(__x86_64__)
	9, 10, 11, 12, 13, 14, 15, 25, 56, 57, 58, 59, 60, 62, 80, 81, 101, 105, 106, 113, 114, 116,
	117, 119, 122, 123, 126, 129, 131, 157, 158, 160, 161, 200, 218, 231, 234, 272, 297, 302, 308,
	317, 322, 424, 435,
#else
	SYS_mmap, SYS_mprotect, SYS_munmap, SYS_brk, SYS_rt_sigaction, SYS_rt_sigprocmask,
	SYS_rt_sigreturn, SYS_mremap, SYS_clone, SYS_execve, SYS_exit, SYS_kill, SYS_chdir, SYS_fchdir,
	SYS_ptrace, SYS_setuid, SYS_setgid, SYS_setreuid, SYS_setregid, SYS_setgroups, SYS_setresuid,
	SYS_setresgid, SYS_setfsuid, SYS_setfsgid, SYS_capset, SYS_rt_sigqueueinfo, SYS_sigaltstack,
	SYS_prctl, SYS_setrlimit, SYS_chroot, SYS_tkill, SYS_set_tid_address, SYS_exit_group,
	SYS_tgkill, SYS_unshare, SYS_rt_tgsigqueueinfo, SYS_prlimit64, SYS_setns, SYS_seccomp,
	SYS_execveat, SYS_pidfd_send_signal, SYS_clone3,
#endif
};

// ---- trace -------------------------------------------------------------------------------

static void fail(struct region *r, uint32_t status, const char *fmt, ...)
{
	uint32_t zero = 0;
	if (!__atomic_compare_exchange_n(&r->status, &zero, status, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return; // the first failure explains the trace; later ones are consequences
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, MSGMAX, fmt, ap);
	va_end(ap);
	r->msglen = (uint32_t)strlen(r->msg);
}

// Reserves a record. The length goes in first so a writer killed mid-record leaves a hole that
// kx_finish can step over; the type is stored last (rec_close) and marks the record complete.
static uint8_t *rec_open(struct thr *t, uint16_t seq, uint16_t step, uint32_t plen)
{
	struct region *r = t->g->r;
	uint64_t need = 16 + (uint64_t)plen;
	uint64_t at = __atomic_fetch_add(&r->cursor, need, __ATOMIC_RELAXED);
	if (at + need > r->cap) {
		uint64_t cur = __atomic_load_n(&r->full_at, __ATOMIC_RELAXED);
		while (at < cur && !__atomic_compare_exchange_n(&r->full_at, &cur, at, 0, __ATOMIC_RELAXED,
								__ATOMIC_RELAXED))
			;
		fail(r, 1, "trace capacity exceeded");
		return NULL;
	}
	uint8_t *h = r->rec + at;
	memcpy(h + 8, &plen, 4);
	memcpy(h + 2, &seq, 2);
	memcpy(h + 4, &step, 2);
	memcpy(h + 6, &t->proc, 2);
	return h;
}

static void rec_close(uint8_t *h, uint16_t type) { __atomic_store_n((uint16_t *)h, type, __ATOMIC_RELEASE); }

static void rec_bytes(struct thr *t, uint16_t type, uint16_t seq, uint16_t step, const void *a, uint32_t na,
		      const void *b, uint32_t nb)
{
	uint8_t *h = rec_open(t, seq, step, (uint32_t)pad8(na + nb));
	if (!h) return;
	if (na <= 64 && na % 8 == 0) // CQEs and STEPs: word copies beat a libc call
		for (uint32_t k = 0; k < na; k += 8)
			memcpy(h + 16 + k, (const uint8_t *)a + k, 8);
	else
		memcpy(h + 16, a, na);
	if (nb) memcpy(h + 16 + na, b, nb);
	rec_close(h, type);
}

static int rec_error(struct thr *t, uint16_t seq, uint16_t step, const char *fmt, ...)
{
	char m[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	uint32_t n[2] = {(uint32_t)strlen(m), 0};
	rec_bytes(t, R_ERROR, seq, step, n, 8, m, n[0]);
	return -1;
}

// ---- deadlines ---------------------------------------------------------------------------

static void on_sig(int sig) { (void)sig; } // exists only so blocking calls return EINTR
static int sig_ready;

static void sig_install(void)
{
	if (__atomic_load_n(&sig_ready, __ATOMIC_ACQUIRE)) return;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig; // no SA_RESTART: the whole point is EINTR
	sigemptyset(&sa.sa_mask);
	sigaction(KX_SIG, &sa, NULL); // racing installers install the same thing
	__atomic_store_n(&sig_ready, 1, __ATOMIC_RELEASE);
}

// Makes sure this thread's timer fires at dl. Armed lazily: only before something can block,
// and only when the deadline differs from the one already armed. After expiry it keeps firing
// every 10 ms, so a blocking call entered just after the deadline is still interrupted.
static void arm(struct thr *t, uint64_t dl)
{
	if (t->timer == -2 || (t->timer >= 0 && t->armed == dl)) return;
	if (t->timer == -1) {
		struct sigevent se;
		int id = -1;
		memset(&se, 0, sizeof se);
		se.sigev_notify = SIGEV_THREAD_ID;
		se.sigev_signo = KX_SIG;
		se._sigev_un._tid = (int)kx_sys(SYS_gettid, 0, 0, 0, 0, 0, 0);
		if (kx_sys(SYS_timer_create, CLOCK_MONOTONIC, (long)&se, (long)&id, 0, 0, 0) < 0) {
			t->timer = -2;
			return;
		}
		t->timer = id;
	}
	struct itimerspec its = {{0, 10 * (long)MS}, {(time_t)(dl / 1000000000ull), (long)(dl % 1000000000ull)}};
	kx_sys(SYS_timer_settime, t->timer, TIMER_ABSTIME, (long)&its, 0, 0, 0);
	t->armed = dl;
}

static void disarm(struct thr *t)
{
	if (t->timer >= 0) kx_sys(SYS_timer_delete, t->timer, 0, 0, 0, 0, 0);
	t->timer = -1;
}

static uint64_t step_deadline(struct prog *g, uint64_t t0, uint32_t waitms)
{
	return waitms ? umin(t0 + waitms * MS, g->deadline) : g->deadline;
}

static uint8_t *bad_page(void)
{
	static uint8_t *page;
	uint8_t *p = __atomic_load_n(&page, __ATOMIC_ACQUIRE);
	if (p) return p;
	uint8_t *n = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (n == MAP_FAILED)
		return NULL; // page 0 is never mapped either
	if (!__atomic_compare_exchange_n(&page, &p, n, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) munmap(n, PAGE);
	return __atomic_load_n(&page, __ATOMIC_ACQUIRE);
}

// ---- validation --------------------------------------------------------------------------

static int bad(char *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e, MSGMAX - 64, fmt, ap);
	va_end(ap);
	return -1;
}

// FNV-1a 32 over little-endian u32 words (then any tail bytes): a quarter of the byte-wise cost,
// which mattered on 10,000-step programs.
static uint32_t fnv32(const uint8_t *p, size_t n)
{
	uint32_t h = 0x811c9dc5u;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) h = (h ^ rd32(p + i)) * 0x01000193u;
	for (; i < n; i++) h = (h ^ p[i]) * 0x01000193u;
	return h;
}

static uint64_t fnv64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static int check_range(struct prog *g, uint32_t b, uint32_t off, uint64_t n, char *e)
{
	if (b >= g->nbufs) return bad(e, "buffer %u out of range", b);
	if (off > g->bsz[b] || n > g->bsz[b] - off)
		return bad(e, "bytes [%u, +%llu) outside buffer %u of %u bytes", off, (unsigned long long)n, b,
			   g->bsz[b]);
	return 0;
}

static int check_slot(uint32_t slot, uint32_t max, const char *what, char *e)
{
	return slot < max ? 0 : bad(e, "%s slot %u out of range", what, slot);
}

static int check_arg(struct prog *g, const uint8_t *a, unsigned k, char *e)
{
	uint32_t kind = rd32(a), slot = rd32(a + 4);
	uint64_t v = rd64(a + 8);
	switch (kind) {
	case A_IMM: case A_RES: return 0;
	case A_BUF: return slot < g->nbufs ? 0 : bad(e, "arg %u: buffer %u out of range", k, slot);
	case A_FD: return check_slot(slot, MAX_FDS, "fd", e);
	case A_CTX: return check_slot(slot, MAX_CTX, "ctx", e);
	case A_RING: return check_slot(slot, MAX_RINGS, "ring", e);
	case A_PID: return check_slot(slot, MAX_PIDS, "pid", e);
	case A_BAD: return v < PAGE ? 0 : bad(e, "arg %u: BAD offset %llu not below 4096", k, (unsigned long long)v);
	case A_LOAD32: case A_LOAD64:
		if (v > UINT32_MAX)
			return bad(e, "arg %u: load offset %llu out of range", k, (unsigned long long)v);
		return check_range(g, slot, (uint32_t)v, kind == A_LOAD32 ? 4 : 8, e);
	case A_RINGMEM:
		if (check_slot(slot, MAX_RINGS, "ring", e)) return -1;
		return (v >> 32) <= 2 ? 0 : bad(e, "arg %u: ring region %llu unknown", k, (unsigned long long)(v >> 32));
	case A_NOTIFY: return v || slot ? bad(e, "arg %u: NOTIFY takes no slot or value", k) : 0;
	}
	return bad(e, "arg %u: unknown kind %u", k, kind);
}

static int in_proc_list(uint32_t nr)
{
	for (size_t i = 0; i < sizeof proc_nrs / sizeof proc_nrs[0]; i++)
		if ((uint32_t)proc_nrs[i] == nr) return 1;
	return 0;
}

// Payload sizes of the fixed-size steps (0 = variable).
static const uint32_t fixed_len[OP_LAST + 1] = {0, 112, 32, 0, 32, 16, 16, 32, 24, 16, 16, 16, 8, 8, 8, 8, 0, 8, 8, 104, 8, 40};

static int check_step(struct prog *g, uint16_t op, const uint8_t *pl, uint32_t len, char *e)
{
	uint32_t a = len >= 4 ? rd32(pl) : 0, b = len >= 8 ? rd32(pl + 4) : 0;
	uint32_t c = len >= 12 ? rd32(pl + 8) : 0, d = len >= 16 ? rd32(pl + 12) : 0;
	uint32_t want = fixed_len[op];
	if (op == OP_BYTES) want = len >= 16 ? (uint32_t)umin(16 + pad8(c), UINT32_MAX) : 16;
	if (op == OP_THREADS) want = len >= 8 ? (uint32_t)(8 + pad8(4ull * a)) : 8;
	if (len != want) return bad(e, "op %u payload is %u bytes, want %u", op, len, want);
	switch (op) {
	case OP_SYSCALL: {
		uint16_t nargs = rd16(pl + 4), post = rd16(pl + 6);
		if (nargs > 6) return bad(e, "%u args", nargs);
		for (unsigned k = 0; k < nargs; k++)
			if (check_arg(g, pl + 16 + 16 * k, k, e)) return -1;
		switch (post) {
		case 0: return 0;
		case 1: return check_slot(c, MAX_FDS, "fd", e);
		case 2: return check_slot(c, MAX_PIDS, "pid", e);
		case 4: return check_slot(c, MAX_CTX, "ctx", e);
		case 3:
			if (nargs < 4 || rd32(pl + 16 + 48) != A_BUF)
				return bad(e, "post 3 needs argument 3 to be a buffer");
			return 0;
		case 5: return check_range(g, c, 0, 8, e);
		case 6:
		case 7:
			// io_getevents only, its events and timeout (or 0) in buffers: the executor reads the timeout;
			// post 7 counts per ctx slot, so argument 0 is a CTX arg
			if (rd32(pl) != SYS_io_getevents || nargs < 5 || (post == 7 && rd32(pl + 16) != A_CTX) || rd32(pl + 16 + 48) != A_BUF ||
			    (rd32(pl + 16 + 64) != A_BUF && !(rd32(pl + 16 + 64) == A_IMM && rd64(pl + 16 + 64 + 8) == 0)))
				return bad(e, post == 6 ? "post 6 needs io_getevents with buffers for its events and timeout"
							: "post 7 needs io_getevents on a ctx argument with buffers for its events and timeout");
			return 0;
		}
		return bad(e, "unknown post %u", post);
	}
	case OP_PATCH:
		if (c != 1 && c != 2 && c != 4 && c != 8) return bad(e, "width %u", c);
		return check_range(g, a, b, c, e) ? -1 : check_arg(g, pl + 16, 0, e);
	case OP_BYTES: case OP_DIGEST: case OP_VERIFY:
		return check_range(g, a, b, c, e);
	case OP_DUMP:
		return c > MiB ? bad(e, "dump of %u bytes exceeds 1 MiB", c) : check_range(g, a, b, c, e);
	case OP_FILL:
		return d > 2 ? bad(e, "fill kind %u", d) : check_range(g, a, b, c, e);
	case OP_SETSLOT: {
		static const uint32_t lim[4] = {0, MAX_FDS, MAX_CTX, MAX_PIDS};
		if (a < 1 || a > 3) return bad(e, "slot kind %u", a);
		return check_slot(b, lim[a], "target", e) ? -1 : check_arg(g, pl + 8, 0, e);
	}
	case OP_URING_SETUP:
		if (check_slot(a, MAX_RINGS, "ring", e)) return -1;
		if (c >= g->nbufs) return bad(e, "params buffer %u out of range", c);
		return g->bsz[c] < 120 ? bad(e, "params buffer %u is %u bytes, want 120", c, g->bsz[c]) : 0;
	case OP_URING_QUEUE:
		return check_slot(a, MAX_RINGS, "ring", e) ? -1 : check_range(g, b, c, 64ull * d, e);
	case OP_URING_REAP:
		if (!(b & REAP_MIN_TOTAL) && b > c) return bad(e, "min %u > max %u", b, c);
		return check_slot(a, MAX_RINGS, "ring", e);
	case OP_URING_STATE: case OP_URING_CLOSE:
		return check_slot(a, MAX_RINGS, "ring", e);
	case OP_FORK:
		if (a >= g->nseq) return bad(e, "sequence %u out of range", a);
		return check_slot(b, MAX_PIDS, "pid", e);
	case OP_WAIT:
		return check_slot(a, MAX_PIDS, "pid", e);
	case OP_THREADS:
		if (a < 1 || a > MAX_THREADS) return bad(e, "%u threads", a);
		for (uint32_t k = 0; k < a; k++)
			if (rd32(pl + 8 + 4 * k) >= g->nseq)
				return bad(e, "thread %u: sequence %u out of range", k, rd32(pl + 8 + 4 * k));
		return 0;
	case OP_EXIT:
		return b > 1 ? bad(e, "exit group %u", b) : 0;
	case OP_LIBC: {
		// The function index is checked when the step runs (an ERROR record), like an empty slot.
		uint16_t nargs = rd16(pl + 4);
		if (nargs > 6) return bad(e, "%u args", nargs);
		for (unsigned k = 0; k < nargs; k++)
			if (check_arg(g, pl + 8 + 16 * k, k, e)) return -1;
		return 0;
	}
	case OP_SIGCOUNT:
		if (a < 1 || a > 64) return bad(e, "signal %u", a);
		return (int)a == KX_SIG ? bad(e, "signal %u is the executor's deadline signal", a) : 0;
	case OP_KCOV:
		return a < 2 || a > KCOV_MAX_WORDS ? bad(e, "kcov area of %u words", a) : 0;
	}
	return 0;
}

// Returns 0, or -1 with e holding the whole trace message.
static int check(struct prog *g, char *e)
{
	const uint8_t *p = g->p;
	size_t len = g->len;
	char d[MSGMAX];
	if (len < 32 || !p) return bad(e, "invalid program: %zu bytes, shorter than the header", len);
	if (rd32(p) != PROG_MAGIC) return bad(e, "invalid program: bad magic 0x%08x", rd32(p));
	if (rd16(p + 4) != KX_WIRE_VERSION)
		return bad(e, "invalid program: version %u, want %u", rd16(p + 4), KX_WIRE_VERSION);
	g->nseq = rd16(p + 6);
	g->nbufs = rd32(p + 16);
	uint32_t dl = rd32(p + 12), cap = rd32(p + 20);
	if (rd32(p + 8) != len)
		return bad(e, "invalid program: length field %u but %zu bytes", rd32(p + 8), len);
	if (g->nseq < 1 || g->nseq > MAX_SEQ) return bad(e, "invalid program: %u sequences", g->nseq);
	if (dl < 1 || dl > 3600000) return bad(e, "invalid program: deadline %u ms", dl);
	if (g->nbufs > MAX_BUFS) return bad(e, "invalid program: %u buffers", g->nbufs);
	if (cap > 256 * MiB) return bad(e, "invalid program: trace capacity %u", cap);
	if (rd32(p + 28) != 0) return bad(e, "invalid program: reserved field 0x%x", rd32(p + 28));
	if (fnv32(p + 32, len - 32) != rd32(p + 24))
		return bad(e, "invalid program: checksum 0x%08x, want 0x%08x", fnv32(p + 32, len - 32), rd32(p + 24));
	g->seqtab = 32 + 8 * g->nbufs;
	uint64_t steps = (uint64_t)g->seqtab + 8ull * g->nseq;
	if (steps > len)
		return bad(e, "invalid program: tables end at %llu, past the end", (unsigned long long)steps);
	uint64_t total = 0;
	for (uint32_t b = 0; b < g->nbufs; b++) {
		uint32_t sz = rd32(p + 32 + 8 * b), al = rd32(p + 36 + 8 * b);
		if (sz < 1 || sz > 256 * MiB) return bad(e, "invalid program: buffer %u size %u", b, sz);
		if (al < 1 || al > PAGE || (al & (al - 1)))
			return bad(e, "invalid program: buffer %u align %u", b, al);
		g->bsz[b] = sz;
		g->balign[b] = al;
		if ((total += sz) > 1024 * MiB) return bad(e, "invalid program: buffers exceed 1 GiB");
	}
	for (uint32_t s = 0; s < g->nseq; s++) {
		uint64_t off = rd32(p + g->seqtab + 8 * s), n = rd32(p + g->seqtab + 8 * s + 4);
		if (off < steps || off % 8)
			return bad(e, "invalid program: seq %u offset %llu", s, (unsigned long long)off);
		if (n > 65535)
			return bad(e, "invalid program: seq %u has %llu steps", s, (unsigned long long)n);
		for (uint32_t i = 0; i < n; i++) {
			if (off + 8 > len)
				return bad(e, "invalid program: step %u of seq %u: past the end", i, s);
			uint16_t op = rd16(p + off), fl = rd16(p + off + 2);
			uint32_t sl = rd32(p + off + 4);
			if (sl % 8 || sl > len - off - 8)
				return bad(e, "invalid program: step %u of seq %u: length %u", i, s, sl);
			if (op < 1 || op > OP_LAST)
				return bad(e, "invalid program: step %u of seq %u: unknown op %u", i, s, op);
			if (fl & ~1u)
				return bad(e, "invalid program: step %u of seq %u: unknown flags 0x%x", i, s, fl);
			if (check_step(g, op, p + off + 8, sl, d))
				return bad(e, "invalid program: step %u of seq %u: %s", i, s, d);
			g->fdslots |= (op == OP_SYSCALL && rd16(p + off + 14) == 1) || (op == OP_SETSLOT && rd32(p + off + 8) == 1);
			// LIBC starts glibc helper threads and SIGCOUNT installs a signal handler: the process's own business
			int procstep = op == OP_FORK || op == OP_WAIT || op == OP_THREADS || op == OP_EXIT || op == OP_LIBC ||
				       op == OP_SIGCOUNT || (op == OP_SYSCALL && in_proc_list(rd32(p + off + 8)));
			if (procstep && g->mode == KX_INPROC)
				return bad(e, "process-level step %u in seq %u needs the child target", i, s);
			off += 8 + sl;
		}
	}
	return 0;
}

// ---- buffers -----------------------------------------------------------------------------

// In-process, a program's buffers (when none is page-aligned, as in every fuzz program) live in a
// pooled arena instead of a mapping of their own: an munmap in Node's many-threaded process is a
// TLB shootdown (an IPI to the other CPU), and the fresh pages of a new mapping fault in one by
// one. An arena is ARENA_SIZE bytes ending in a guard page that stays in place; the buffers are
// laid out as alloc_bufs always does and placed so that their guard page is the arena's, and are
// zeroed with memset on reuse. Released arenas queue up and are reused only after ARENA_REST
// others were released, as freed buffers were parked before (see free_bufs): a request io-wq
// still runs after its program ended writes into memory no program uses. (Ring mappings cannot
// be pooled or batched the same way: io_uring refuses MAP_FIXED, io_uring_get_unmapped_area.)
#define ARENA_SIZE (256 << 10) // including the guard page
#define ARENA_REST 8
#define ARENA_POOL 64
static uint8_t *arena_q[ARENA_POOL];
static unsigned arena_head, arena_n;
static pthread_mutex_t arena_mu = PTHREAD_MUTEX_INITIALIZER;

static uint8_t *arena_get(void)
{
	uint8_t *a = NULL;
	pthread_mutex_lock(&arena_mu);
	if (arena_n > ARENA_REST) {
		a = arena_q[arena_head];
		arena_head = (arena_head + 1) % ARENA_POOL;
		arena_n--;
	}
	pthread_mutex_unlock(&arena_mu);
	if (a) return a;
	a = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED) return NULL;
	if (mprotect(a + ARENA_SIZE - PAGE, PAGE, PROT_NONE)) {
		munmap(a, ARENA_SIZE);
		return NULL;
	}
	return a;
}

static void arena_put(uint8_t *a)
{
	pthread_mutex_lock(&arena_mu);
	if (arena_n < ARENA_POOL) {
		arena_q[(arena_head + arena_n++) % ARENA_POOL] = a;
		a = NULL;
	}
	pthread_mutex_unlock(&arena_mu);
	if (a) munmap(a, ARENA_SIZE);
}

// Page-aligned buffers come first, each page-rounded and followed by a guard page; the others
// share an arena that ends in a guard page too.
static int alloc_bufs(struct prog *g, char *e)
{
	uint64_t off[MAX_BUFS], total = 0;
	if (!g->nbufs) return 0;
	for (uint32_t b = 0; b < g->nbufs; b++)
		if (g->balign[b] == PAGE) {
			off[b] = total;
			total += (g->bsz[b] + PAGE - 1) / PAGE * PAGE + PAGE;
		}
	uint64_t arena = total;
	for (uint32_t b = 0; b < g->nbufs; b++)
		if (g->balign[b] != PAGE) {
			total = (total + g->balign[b] - 1) & ~((uint64_t)g->balign[b] - 1);
			off[b] = total;
			total += g->bsz[b];
		}
	total = (total + PAGE - 1) / PAGE * PAGE + PAGE;
	if (g->mode == KX_INPROC && arena == 0 && total > PAGE && total <= ARENA_SIZE && (g->arena = arena_get())) {
		// the same layout, placed so that its guard page is the arena's
		g->mem = g->arena + ARENA_SIZE - total;
		g->memsz = total;
		memset(g->mem, 0, total - PAGE);
		for (uint32_t b = 0; b < g->nbufs; b++) g->buf[b] = g->mem + off[b];
		return 0;
	}
	g->mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (g->mem == MAP_FAILED) {
		g->mem = NULL;
		return bad(e, "buffer allocation failed: %llu bytes: %s", (unsigned long long)total, strerror(errno));
	}
	g->memsz = total;
	for (uint32_t b = 0; b < g->nbufs; b++) {
		g->buf[b] = g->mem + off[b];
		if (g->balign[b] == PAGE)
			mprotect(g->buf[b] + (g->bsz[b] + PAGE - 1) / PAGE * PAGE, PAGE, PROT_NONE);
	}
	if (total > arena + PAGE) mprotect(g->mem + total - PAGE, PAGE, PROT_NONE);
	return 0;
}

// In-process, a request the kernel still runs after its ring is closed (io-wq) may write into a
// buffer after the program ends. Freed buffer memory is therefore first parked and only unmapped
// some programs later, so the address cannot come back as Node memory meanwhile. Large buffers
// are parked as fresh PROT_NONE memory (holding no pages); small ones as they are, since each
// remap is one more TLB shootdown across Node's threads (a late write lands in memory nobody uses).
#define PARK_AS_IS (1u << 20)
static struct { void *p; size_t n; } parked[8];
static unsigned parked_next;
static pthread_mutex_t parked_mu = PTHREAD_MUTEX_INITIALIZER;

static void free_bufs(struct prog *g)
{
	if (g->arena) {
		arena_put(g->arena);
		return;
	}
	if (!g->mem) return;
	if (g->mode != KX_INPROC || !g->used_async ||
	    (g->memsz > PARK_AS_IS &&
	     mmap(g->mem, g->memsz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) ==
		     MAP_FAILED)) {
		munmap(g->mem, g->memsz);
		return;
	}
	pthread_mutex_lock(&parked_mu);
	unsigned i = parked_next++ % 8;
	if (parked[i].p) munmap(parked[i].p, parked[i].n);
	parked[i].p = g->mem;
	parked[i].n = g->memsz;
	pthread_mutex_unlock(&parked_mu);
}

static int in_bufs(struct prog *g, uint64_t a, uint64_t n)
{
	for (uint32_t b = 0; b < g->nbufs; b++) {
		uint64_t s = (uint64_t)(uintptr_t)g->buf[b];
		if (a >= s && a - s <= g->bsz[b] && n <= g->bsz[b] - (a - s)) return 1;
	}
	return 0;
}

// ---- notification counters (LIBC, SIGCOUNT) ------------------------------------------------

// The program whose buffers counters may live in. Runner only: one program per process, and a
// program that used LIBC keeps its buffers and state until the runner exits (glibc's helper
// threads may still write aiocbs and send notifications after the last step).
static struct prog *count_prog;

static void count_at(void *p)
{
	struct prog *g = __atomic_load_n(&count_prog, __ATOMIC_ACQUIRE);
	if (p && g && in_bufs(g, (uint64_t)(uintptr_t)p, 4)) __atomic_fetch_add((uint32_t *)p, 1, __ATOMIC_SEQ_CST);
}

// Arg kind NOTIFY: the sigev_notify_function of SIGEV_THREAD requests. Programs cannot carry
// function pointers, only this one.
static void kx_notify(union sigval v) { count_at(v.sival_ptr); }

// SIGCOUNT's SA_SIGINFO handler: a queued signal's value names its counter.
static void on_count(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	count_at(si ? si->si_value.sival_ptr : NULL);
}

// ---- steps -------------------------------------------------------------------------------

// Completions for arg kind RES: `n` of them, `stride` bytes apart, user_data at +0 and res at +8
// (a CQE, s32) or +16 (an io_event, s64). One atomic claims all n slots: a locked add per CQE
// was a third of the executor's own time on NOP runs.
static void remember(struct prog *g, const uint8_t *first, uint32_t n, uint32_t stride, int aio)
{
	uint32_t base = __atomic_fetch_add(&g->ndone, n, __ATOMIC_RELAXED);
	for (uint32_t k = 0; k < n; k++) {
		const uint8_t *c = first + (size_t)k * stride;
		struct done *d = &g->done[(base + k) % NDONE];
		d->ud = rd64(c);
		d->res = aio ? (int64_t)rd64(c + 16) : (int32_t)rd32(c + 8);
	}
}

static int64_t lookup(struct prog *g, uint64_t ud)
{
	uint32_t n = __atomic_load_n(&g->ndone, __ATOMIC_RELAXED);
	for (uint32_t j = 1; j <= NDONE && j <= n; j++)
		if (g->done[(n - j) % NDONE].ud == ud) return g->done[(n - j) % NDONE].res;
	return -1;
}

static int resolve(struct thr *t, const uint8_t *a, uint64_t *v, char *e)
{
	struct prog *g = t->g;
	uint32_t kind = rd32(a), slot = rd32(a + 4);
	uint64_t x = rd64(a + 8);
	struct ring *rg = &g->ring[slot % MAX_RINGS];
	switch (kind) {
	case A_IMM: *v = x; return 0;
	case A_BUF: *v = (uint64_t)(uintptr_t)g->buf[slot] + x; return 0;
	case A_FD: *v = (uint64_t)(g->fdset[slot] ? g->fd[slot] : -1) + x; return 0;
	case A_CTX:
		if (!g->ctxset[slot]) return bad(e, "ctx slot %u is empty", slot);
		*v = g->ctx[slot];
		return 0;
	case A_RING: *v = rg->used ? (uint64_t)rg->fd : (uint64_t)-1; return 0;
	case A_PID:
		if (!g->pidset[slot])
			return bad(e, "pid slot %u is empty", slot); // -1 or 0 would make kill() hit everything
		*v = (uint64_t)g->pid[slot];
		return 0;
	case A_BAD: *v = (uint64_t)(uintptr_t)bad_page() + x; return 0;
	case A_LOAD32: *v = rd32(g->buf[slot] + x); return 0;
	case A_LOAD64: *v = rd64(g->buf[slot] + x); return 0;
	case A_RES: *v = (uint64_t)lookup(g, x); return 0;
	case A_RINGMEM: {
		if (!rg->mapped) return bad(e, "ring %u is not set up", slot);
		uint8_t *base[3] = {rg->sq, rg->cq, rg->sqes};
		*v = (uint64_t)(uintptr_t)base[x >> 32] + (uint32_t)x;
		return 0;
	}
	case A_NOTIFY: *v = (uint64_t)(uintptr_t)kx_notify; return 0;
	}
	return bad(e, "arg kind %u", kind);
}

static void set_ret(struct res *o, long r)
{
	o->ret = r;
	o->err = r < 0 && r >= -4095 ? (int32_t)-r : 0;
}

// The program closed an fd or destroyed a context itself: teardown must not do it again (by
// then the number may belong to Node or to another program running concurrently).
static void forget(struct prog *g, uint32_t nr, uint64_t v)
{
	for (uint32_t k = 0; k < MAX_RINGS && nr == SYS_close; k++)
		if (g->ring[k].used && !g->ring[k].regidx && (uint64_t)g->ring[k].fd == v)
			g->ring[k].fd_closed = 1;
	for (uint32_t k = 0; k < MAX_FDS && nr == SYS_close; k++)
		if (g->fdset[k] && (uint64_t)g->fd[k] == v) g->fdset[k] = 0;
	for (uint32_t k = 0; k < MAX_CTX && nr == SYS_io_destroy; k++)
		if (g->ctxset[k] && g->ctx[k] == v) g->ctxset[k] = 0;
}

// In-process, fd slots may hold numbers the program did not create: Node's own fds, or a
// number that another program running concurrently closed and the kernel handed out again.
// So the fds open at the start are snapshotted with their identities, a slot is owned only if
// the fd it names is not one of those, and teardown closes it only if it still names the same
// file. (In the runner, the process dies anyway: every slot is owned.)
static int fd_ident(int64_t fd, struct ident *id)
{
	struct stat st;
	if (fd < 0 || fd > INT32_MAX || kx_sys(SYS_fstat, (long)fd, (long)&st, 0, 0, 0, 0) < 0) return -1;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

static void snap_fds(struct prog *g)
{
	uint8_t d[4096];
	struct ident id;
	long dfd = kx_sys(SYS_openat, AT_FDCWD, (long)"/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
	if (dfd < 0)
		return; // not snapshotted: no slot is owned, nothing is closed
	for (long n; (n = kx_sys(SYS_getdents64, dfd, (long)d, sizeof d, 0, 0, 0)) > 0;)
		for (long o = 0; o < n && rd16(d + o + 16); o += rd16(d + o + 16)) {
			long fd = strtol((const char *)d + o + 19, NULL, 10);
			if (fd == dfd || d[o + 19] == '.' || fd_ident(fd, &id)) continue;
			if (g->nsnap == MAX_SNAP)
				goto out; // too many to know: own nothing
			g->snapfd[g->nsnap] = (uint32_t)fd;
			g->snapid[g->nsnap++] = id;
		}
	g->snapped = 1;
out:
	kx_sys(SYS_close, dfd, 0, 0, 0, 0, 0);
}

static void claim_fd(struct prog *g, uint32_t slot, int64_t fd)
{
	struct ident id;
	g->fd[slot] = fd;
	g->fdset[slot] = 1;
	g->fdown[slot] = g->mode != KX_INPROC;
	if (g->mode != KX_INPROC || !g->snapped || fd <= 2 || fd_ident(fd, &id)) return;
	for (uint32_t k = 0; k < g->nsnap; k++)
		if (g->snapfd[k] == fd && g->snapid[k].dev == id.dev && g->snapid[k].ino == id.ino) return;
	g->fdid[slot] = id;
	g->fdown[slot] = 1;
}

static int may_close(struct prog *g, uint32_t slot)
{
	struct ident id;
	if (!g->fdset[slot] || !g->fdown[slot] || g->fd[slot] <= 2 || g->fd[slot] > INT32_MAX) return 0;
	return g->mode != KX_INPROC ||
	       (!fd_ident(g->fd[slot], &id) && id.dev == g->fdid[slot].dev && id.ino == g->fdid[slot].ino);
}

// SYSCALL post 6: an io_getevents that ended early (-EINTR, or fewer than min_nr events before its
// timeout) is called again for the rest, with the time left. read_events (fs/aio.c) sleeps
// interruptibly and signal_pending() is true for TIF_NOTIFY_SIGNAL too (5.11, 12db8b690010), which
// io_uring's task work sets on the task that submitted (TWA_SIGNAL) with no signal sent; man 2
// io_getevents allows EINTR. Result: the events in hand, or the error of the last call if none.
static long aio_wait_rest(struct thr *t, const uint64_t a[6], long r, uint64_t t0)
{
	uint64_t end = t->g->deadline;
	long got = r > 0 ? r : 0, min = (long)a[1], nr = (long)a[2];
	if (a[4]) {
		const struct timespec *ts = (const struct timespec *)(uintptr_t)a[4];
		end = umin(end, t0 + (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec);
	}
	// also once more after an -EINTR with nothing in hand when min_nr is 0 (post 7 with nothing owed): the
	// syscall turns "no events" into -EINTR while io_uring task work is pending (fs/aio.c io_getevents)
	while (got < nr && (((r >= 0 || r == -EINTR) && got < min) || (r == -EINTR && got == 0))) {
		uint64_t now = now_ns();
		if (now >= end) break;
		struct timespec rest = {(time_t)((end - now) / 1000000000ull), (long)((end - now) % 1000000000ull)};
		arm(t, t->g->deadline);
		r = kx_sys(SYS_io_getevents, (long)a[0], min - got, nr - got, (long)(a[3] + 32 * (uint64_t)got),
			   a[4] ? (long)&rest : 0, 0);
		if (r > 0) got += r;
	}
	return got > 0 || r >= 0 ? got : r;
}

static int op_syscall(struct thr *t, uint16_t s, uint16_t i, const uint8_t *pl, struct res *o)
{
	struct prog *g = t->g;
	uint32_t nr = rd32(pl), ps = rd32(pl + 8);
	uint16_t nargs = rd16(pl + 4), post = rd16(pl + 6);
	uint64_t a[6] = {0};
	char e[MSGMAX];
	for (unsigned k = 0; k < nargs; k++)
		if (resolve(t, pl + 16 + 16 * k, &a[k], e)) return rec_error(t, s, i, "%s", e);
	// the io_events this step takes from a ctx slot count toward post 7's total (validated: slot < MAX_CTX)
	uint32_t *taken = nargs && rd32(pl + 16) == A_CTX ? &g->ctxtaken[rd32(pl + 20)] : NULL;
	if (post == 7) {
		// min_nr is a total over the ctx: only what earlier steps did not take is still owed
		long owed = (long)a[1] - (long)__atomic_load_n(taken, __ATOMIC_RELAXED);
		owed = owed < 0 ? 0 : (long)a[2] >= 0 && owed > (long)a[2] ? (long)a[2] : owed;
		a[1] = (uint64_t)owed;
	}
	arm(t, g->deadline);
	o->t0 = now_ns();
	long r = kx_sys(nr, (long)a[0], (long)a[1], (long)a[2], (long)a[3], (long)a[4], (long)a[5]);
	if (post == 6 || post == 7) r = aio_wait_rest(t, a, r, o->t0), post = 3;
	if (post == 3 && r > 0 && taken) __atomic_fetch_add(taken, (uint32_t)r, __ATOMIC_RELAXED);
	o->t1 = now_ns();
	set_ret(o, r);
	if (o->t1 >= g->deadline) o->flags |= F_DEADLINE;
	if (r == 0 && nargs)
		forget(g, nr, a[0]);
	if (post == 5) {
		// the result, negative ones too, as an i64 at the start of a buffer: later args LOAD it
		memcpy(g->buf[ps], &r, 8);
		return 0;
	}
	if (r < 0 && post != 3) return 0;
	switch (post) {
	case 1: claim_fd(g, ps, r); break;
	case 2: g->pid[ps] = r; g->pidset[ps] = 1; g->pidown[ps] = 0; break;
	case 4: g->ctx[ps] = (uint64_t)r; g->ctxset[ps] = 1; g->ctxtaken[ps] = 0; g->used_async = 1; break;
	case 3: {
		// io_getevents-style: `ret` io_events were written to the buffer argument 3 names.
		uint32_t b = rd32(pl + 16 + 48 + 4);
		uint64_t off = rd64(pl + 16 + 48 + 8);
		// one record for all of them: the io_events are contiguous in the buffer
		uint64_t n = r > 0 && off <= g->bsz[b] ? umin((uint64_t)r, (g->bsz[b] - off) / 32) : 0;
		if (n) rec_bytes(t, R_AIO, s, i, g->buf[b] + off, (uint32_t)(32 * n), NULL, 0);
		remember(g, g->buf[b] + off, (uint32_t)n, 32, 1);
		break;
	}
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
		// A ring set up with REGISTERED_FD_ONLY lives in this thread's registered-ring table.
		uint32_t upd[4] = {(uint32_t)rg->fd, 0, 0, 0};
		r = kx_sys(NR_IO_URING_REGISTER, (long)rg->fd, UNREGISTER_RING_FDS | REGISTER_USE_REGISTERED_RING,
			   (long)upd, 1, 0, 0);
	} else if (!rg->fd_closed) {
		r = kx_sys(SYS_close, (long)rg->fd, 0, 0, 0, 0, 0);
	}
	if (o) set_ret(o, r);
	memset(rg, 0, sizeof *rg);
}

static const char *ring_map(struct prog *g, struct ring *rg, const uint8_t *p, uint64_t sq_ua, uint64_t cq_ua)
{
	uint32_t features = rd32(p + 20);
	const uint8_t *so = p + 40, *co = p + 80; // io_sqring_offsets, io_cqring_offsets
	uint32_t sqn = rd32(p), cqn = rd32(p + 4), fl = rg->setup;
	rg->sqe_size = fl & SETUP_SQE128 ? 128 : 64;
	rg->cqe_size = fl & SETUP_CQE32 ? 32 : 16;
	if (!sqn || !cqn || (sqn & (sqn - 1)) || (cqn & (cqn - 1)) || sqn > (1u << 20) || cqn > (1u << 22))
		return "implausible ring sizes";
	uint64_t cqsz = (uint64_t)rd32(co + 20) + (uint64_t)cqn * rg->cqe_size;
	uint64_t sqsz = fl & SETUP_NO_SQARRAY ? cqsz : (uint64_t)rd32(so + 24) + 4ull * sqn;
	rg->sqesz = (size_t)sqn * rg->sqe_size;
	if (fl & SETUP_NO_MMAP) {
		// The kernel used the program's memory: cq_off.user_addr holds both rings (one region,
		// as with SINGLE_MMAP), sq_off.user_addr the SQE array. Only touch it inside our buffers.
		sqsz = cqsz = sqsz > cqsz ? sqsz : cqsz;
		if (!in_bufs(g, cq_ua, cqsz) || !in_bufs(g, sq_ua, rg->sqesz))
			return "NO_MMAP ring memory is not inside a buffer";
		rg->sq = rg->cq = (uint8_t *)(uintptr_t)cq_ua;
		rg->sqes = (uint8_t *)(uintptr_t)sq_ua;
	} else {
		int single = features & IORING_FEAT_SINGLE_MMAP;
		if (single) sqsz = cqsz = sqsz > cqsz ? sqsz : cqsz;
		int fd = (int)rg->fd;
		rg->sq = mmap(NULL, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
		rg->cq = single ? rg->sq
				: mmap(NULL, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
		rg->sqes = mmap(NULL, rg->sqesz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
		if (rg->sq == MAP_FAILED || rg->cq == MAP_FAILED || rg->sqes == MAP_FAILED) {
			if (rg->sq != MAP_FAILED) munmap(rg->sq, sqsz);
			if (!single && rg->cq != MAP_FAILED) munmap(rg->cq, cqsz);
			if (rg->sqes != MAP_FAILED) munmap(rg->sqes, rg->sqesz);
			rg->sq = rg->cq = rg->sqes = NULL;
			return "mmap of the ring failed";
		}
		rg->own_maps = 1;
	}
	rg->sqsz = sqsz;
	rg->cqsz = cqsz;
	// Every offset the kernel handed back must land inside what we mapped.
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
	if (rg->sq_mask != sqn - 1 || rg->cq_mask != cqn - 1)
		return "ring masks disagree with the entry counts";
	rg->mapped = 1;
	return NULL;
}

static int op_setup(struct thr *t, uint16_t s, uint16_t i, const uint8_t *pl, struct res *o)
{
	struct prog *g = t->g;
	uint32_t n = rd32(pl), entries = rd32(pl + 4);
	struct ring *rg = &g->ring[n];
	uint8_t *p = g->buf[rd32(pl + 8)];
	ring_close(rg, NULL); // a second setup replaces the slot's ring
	uint32_t flags = rd32(p + 8);
	uint64_t sq_ua = rd64(p + 72), cq_ua = rd64(p + 112); // read first: the kernel may rewrite them
	o->t0 = now_ns();
	long r = kx_sys(NR_IO_URING_SETUP, entries, (long)p, 0, 0, 0, 0);
	o->t1 = now_ns();
	set_ret(o, r);
	g->used_async = 1;
	if (r < 0) return 0;
	rg->used = 1;
	rg->fd = r;
	rg->setup = flags;
	rg->regidx = !!(flags & SETUP_REGISTERED_FD_ONLY);
	const char *why = ring_map(g, rg, p, sq_ua, cq_ua);
	if (!why) return 0;
	rg->mapped = 0;
	rec_bytes(t, R_STEP, s, i, o, sizeof *o, NULL, 0);
	return rec_error(t, s, i, "ring %u: %s", n, why);
}

static struct ring *ring_get(struct thr *t, uint32_t n, uint16_t s, uint16_t i)
{
	struct ring *rg = &t->g->ring[n];
	if (!rg->mapped) {
		rec_error(t, s, i, "ring %u is not set up", n);
		return NULL;
	}
	return rg;
}

static int op_queue(struct thr *t, uint16_t s, uint16_t i, const uint8_t *pl, struct res *o)
{
	struct prog *g = t->g;
	uint32_t b = rd32(pl + 4), off = rd32(pl + 8), count = rd32(pl + 12);
	struct ring *rg = ring_get(t, rd32(pl), s, i);
	if (!rg) return -1;
	uint32_t sz = rg->sqe_size;
	if ((uint64_t)count * sz > g->bsz[b] - off)
		return rec_error(t, s, i, "%u SQEs of %u bytes overrun buffer %u", count, sz, b);
	uint32_t head = __atomic_load_n(rg->sq_head, __ATOMIC_ACQUIRE), tail = *rg->sq_tail;
	uint32_t used = tail - head, n = used >= rg->sq_entries ? 0 : rg->sq_entries - used;
	if (n > count) n = count;
	const uint8_t *src = g->buf[b] + off;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t idx = (tail + k) & rg->sq_mask;
		memcpy(rg->sqes + (size_t)idx * sz, src + (size_t)k * sz, sz);
		if (rg->sq_array) rg->sq_array[idx] = idx;
	}
	__atomic_store_n(rg->sq_tail, tail + n, __ATOMIC_RELEASE);
	o->ret = n;
	return 0;
}

// One CQE record: u32 n, u32 size, then n CQEs: `first` of them at c, the rest at the ring start
// (a run of CQEs wraps at most once).
static void rec_cqes(struct thr *t, uint16_t s, uint16_t i, const uint8_t *c, uint32_t n, uint32_t first,
		     uint32_t sz, const uint8_t *start)
{
	uint8_t *h = rec_open(t, s, i, 8 + n * sz);
	if (!h) return; // trace full: the CQEs are still consumed (the trace says so in its status)
	memcpy(h + 16, &n, 4);
	memcpy(h + 20, &sz, 4);
	memcpy(h + 24, c, (size_t)first * sz);
	if (n > first) memcpy(h + 24 + (size_t)first * sz, start, (size_t)(n - first) * sz);
	rec_close(h, R_CQE);
}

static int op_reap(struct thr *t, uint16_t s, uint16_t i, const uint8_t *pl, struct res *o)
{
	struct prog *g = t->g;
	uint32_t min = rd32(pl + 4), max = rd32(pl + 8);
	struct ring *rg = ring_get(t, rd32(pl), s, i);
	if (!rg) return -1;
	uint64_t dl = step_deadline(g, o->t0, rd32(pl + 12));
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
			uint32_t idx = head & rg->cq_mask, sz = rg->cqe_size, n = umin(max - have, tail - head);
			const uint8_t *c = rg->cqes + (size_t)idx * sz;
			if (rg->setup & SETUP_CQE_MIXED) {
				// a 32-byte completion takes two 16-byte slots (never across the wrap): one at a time
				n = 1;
				if ((rd32(c + 12) & CQE_F_32) && idx != rg->cq_mask) sz = 32, head++;
			}
			// one record for the whole run, which is contiguous up to the wrap, then goes on at the ring start
			uint32_t first = umin(n, rg->cq_mask + 1 - idx);
			rec_cqes(t, s, i, c, n, first, sz, rg->cqes);
			remember(g, c, first, sz, 0);
			remember(g, rg->cqes, n - first, sz, 0);
			head += n;
			have += n;
		}
		__atomic_store_n(rg->cq_head, head, __ATOMIC_RELEASE);
		if (have >= min) break;
		if (now_ns() >= dl) {
			o->flags |= F_DEADLINE;
			break;
		}
		arm(t, dl);
		long r = kx_sys(NR_IO_URING_ENTER, (long)rg->fd, 0, min - have,
				IORING_ENTER_GETEVENTS | (rg->regidx ? ENTER_REGISTERED_RING : 0), 0, 0);
		if (r < 0 && r != -EINTR) {
			o->err = (int32_t)-r; // ret stays the count reaped
			break;
		}
	}
	rg->reaped += have;
	o->ret = have;
	return 0;
}

static int op_state(struct thr *t, uint16_t s, uint16_t i, const uint8_t *pl)
{
	struct ring *rg = ring_get(t, rd32(pl), s, i);
	if (!rg) return -1;
	uint32_t st[10] = {
		__atomic_load_n(rg->sq_head, __ATOMIC_ACQUIRE), __atomic_load_n(rg->sq_tail, __ATOMIC_ACQUIRE),
		__atomic_load_n(rg->cq_head, __ATOMIC_ACQUIRE), __atomic_load_n(rg->cq_tail, __ATOMIC_ACQUIRE),
		__atomic_load_n(rg->sq_flags, __ATOMIC_ACQUIRE), __atomic_load_n(rg->cq_flags, __ATOMIC_ACQUIRE),
		__atomic_load_n(rg->cq_overflow, __ATOMIC_ACQUIRE), __atomic_load_n(rg->sq_dropped, __ATOMIC_ACQUIRE),
		rg->sq_entries, rg->cq_entries};
	rec_bytes(t, R_RING, s, i, st, sizeof st, NULL, 0);
	return 0;
}

// ---- LIBC, SIGCOUNT ----------------------------------------------------------------------

// glibc reads (and its helper threads write) every aiocb, list and sigevent it is handed, and
// calls SIGEV_THREAD's function: only memory inside the program's buffers, and only kx_notify.
static const char *libc_sigev(const struct sigevent *se)
{
	if (se->sigev_notify == SIGEV_THREAD &&
	    (se->sigev_notify_function != kx_notify || se->sigev_notify_attributes != NULL))
		return "SIGEV_THREAD needs the NOTIFY function and no attributes";
	return NULL;
}

static const char *libc_aiocb(struct prog *g, uint64_t a)
{
	if (!in_bufs(g, a, sizeof(struct aiocb))) return "aiocb outside the buffers";
	return libc_sigev(&((const struct aiocb *)(uintptr_t)a)->aio_sigevent);
}

static const char *libc_list(struct prog *g, uint64_t list, uint64_t n)
{
	if ((int64_t)(int32_t)n <= 0) return NULL; // glibc looks at no entry
	if (n > 65536 || !in_bufs(g, list, 8 * n)) return "aiocb list outside the buffers";
	for (uint64_t k = 0; k < n; k++) {
		uint64_t a = rd64((const uint8_t *)(uintptr_t)list + 8 * k);
		const char *why = a ? libc_aiocb(g, a) : NULL;
		if (why) return why;
	}
	return NULL;
}

static const char *libc_opt(struct prog *g, uint64_t a, uint64_t n, const char *why)
{
	return !a || in_bufs(g, a, n) ? NULL : why;
}

// COUNT_WAIT: until the u32 at p reaches want, polling every millisecond under the step deadline;
// the result is the last value read.
static long count_wait(struct thr *t, uint64_t p, uint32_t want, uint64_t dl, struct res *o)
{
	struct timespec ms = {0, (long)MS};
	uint32_t v;
	while ((v = __atomic_load_n((uint32_t *)(uintptr_t)p, __ATOMIC_SEQ_CST)) < want) {
		if (now_ns() >= dl) {
			o->flags |= F_DEADLINE;
			break;
		}
		arm(t, dl);
		kx_sys(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (long)&ms, 0, 0, 0);
	}
	return v;
}

static int op_libc(struct thr *t, uint16_t s, uint16_t i, const uint8_t *pl, struct res *o)
{
	static const uint8_t arity[FN_COUNT] = {1, 1, 2, 1, 1, 2, 3, 4, 3};
	struct prog *g = t->g;
	uint32_t fn = rd32(pl);
	uint16_t nargs = rd16(pl + 4);
	uint64_t a[6] = {0};
	char e[MSGMAX];
	if (fn >= FN_COUNT) return rec_error(t, s, i, "libc function %u out of range", fn);
	if (nargs < arity[fn]) return rec_error(t, s, i, "libc function %u takes %u args, got %u", fn, arity[fn], nargs);
	for (unsigned k = 0; k < nargs; k++)
		if (resolve(t, pl + 8 + 16 * k, &a[k], e)) return rec_error(t, s, i, "%s", e);
	const char *why = NULL;
	switch (fn) {
	case FN_AIO_READ: case FN_AIO_WRITE: case FN_AIO_ERROR: case FN_AIO_RETURN: why = libc_aiocb(g, a[0]); break;
	case FN_AIO_FSYNC: why = libc_aiocb(g, a[1]); break;
	case FN_AIO_CANCEL: why = a[1] ? libc_aiocb(g, a[1]) : NULL; break;
	case FN_AIO_SUSPEND:
		why = libc_list(g, a[0], a[1]);
		if (!why) why = libc_opt(g, a[2], sizeof(struct timespec), "timeout outside the buffers");
		break;
	case FN_LIO_LISTIO:
		why = libc_list(g, a[1], a[2]);
		if (!why) why = libc_opt(g, a[3], sizeof(struct sigevent), "sigevent outside the buffers");
		if (!why && a[3]) why = libc_sigev((const struct sigevent *)(uintptr_t)a[3]);
		break;
	case FN_COUNT_WAIT: why = in_bufs(g, a[0], 4) ? NULL : "counter outside the buffers"; break;
	}
	if (why) return rec_error(t, s, i, "libc function %u: %s", fn, why);
	g->used_libc = 1;
	__atomic_store_n(&count_prog, g, __ATOMIC_RELEASE);
	uint64_t dl = fn == FN_COUNT_WAIT ? step_deadline(g, o->t0, (uint32_t)a[2]) : g->deadline;
	void *p0 = (void *)(uintptr_t)a[0], *p1 = (void *)(uintptr_t)a[1];
	long r = 0;
	arm(t, dl); // aio_suspend(NULL timeout) and lio_listio(LIO_WAIT) return EINTR on the deadline signal
	o->t0 = now_ns();
	errno = 0;
	switch (fn) {
	case FN_AIO_READ: r = aio_read(p0); break;
	case FN_AIO_WRITE: r = aio_write(p0); break;
	case FN_AIO_FSYNC: r = aio_fsync((int)a[0], p1); break;
	case FN_AIO_ERROR: r = aio_error(p0); break;
	case FN_AIO_RETURN: r = aio_return(p0); break;
	case FN_AIO_CANCEL: r = aio_cancel((int)a[0], p1); break;
	case FN_AIO_SUSPEND:
		r = aio_suspend(p0, (int)a[1], (const struct timespec *)(uintptr_t)a[2]);
		break;
	case FN_LIO_LISTIO: r = lio_listio((int)a[0], p1, (int)a[2], (struct sigevent *)(uintptr_t)a[3]); break;
	case FN_COUNT_WAIT: r = count_wait(t, a[0], (uint32_t)a[1], dl, o); break;
	}
	o->t1 = now_ns();
	o->ret = r;
	o->err = r == -1 ? errno : 0;
	if (o->t1 >= dl) o->flags |= F_DEADLINE;
	return 0;
}

static int op_sigcount(const uint8_t *pl, struct res *o)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_count;
	sa.sa_flags = SA_SIGINFO | SA_RESTART; // a notification must not cut short the step it lands in
	sigemptyset(&sa.sa_mask);
	set_ret(o, sigaction((int)rd32(pl), &sa, NULL) ? -errno : 0);
	return 0;
}

static inline uint64_t pat_word(uint64_t seed, uint64_t w) { return (seed << 32) | w; }

static void fill_pattern(uint8_t *d, uint32_t n, uint64_t seed, uint64_t pos)
{
	uint32_t k = 0;
	for (; k < n && (pos + k) % 8; k++)
		d[k] = (uint8_t)(pat_word(seed, (pos + k) / 8) >> (8 * ((pos + k) % 8)));
	for (; k + 8 <= n; k += 8) {
		uint64_t w = pat_word(seed, (pos + k) / 8);
		memcpy(d + k, &w, 8);
	}
	for (; k < n; k++) d[k] = (uint8_t)(pat_word(seed, (pos + k) / 8) >> (8 * ((pos + k) % 8)));
}

static void verify_pattern(const uint8_t *d, uint32_t n, uint64_t seed, uint64_t pos, uint32_t base, uint32_t *out)
{
	uint32_t bad_n = 0, first = 0xffffffffu;
	for (uint32_t k = 0; k < n;) {
		if ((pos + k) % 8 == 0 && k + 8 <= n) { // fast path: whole words
			uint64_t w = pat_word(seed, (pos + k) / 8);
			if (!memcmp(d + k, &w, 8)) {
				k += 8;
				continue;
			}
		}
		if (d[k] != (uint8_t)(pat_word(seed, (pos + k) / 8) >> (8 * ((pos + k) % 8)))) {
			if (!bad_n++) first = base + k;
		}
		k++;
	}
	out[0] = bad_n;
	out[1] = first;
}

static void *thread_main(void *arg);
static void run_seq(struct thr *t, uint32_t s);

static uint16_t new_proc(struct prog *g)
{
	uint32_t p = __atomic_add_fetch(&g->r->procs, 1, __ATOMIC_RELAXED);
	return p > MAX_PROCS ? 0 : (uint16_t)p;
}

static void refuse(struct res *o)
{
	o->ret = -EAGAIN;
	o->err = EAGAIN;
	o->flags |= F_REFUSED;
}

static int op_fork(struct thr *t, const uint8_t *pl, struct res *o)
{
	struct prog *g = t->g;
	uint32_t seq = rd32(pl), slot = rd32(pl + 4);
	uint16_t proc = new_proc(g);
	if (!proc) {
		refuse(o);
		return 0;
	}
	pid_t pid = fork();
	if (pid == 0) {
		struct thr *c = &g->thr[proc];
		*c = (struct thr){g, proc, seq, -1, 0, NULL};
		run_seq(c, seq);
		disarm(c);
		kx_sys(SYS_exit_group, 0, 0, 0, 0, 0, 0);
	}
	set_ret(o, pid < 0 ? -errno : pid);
	if (pid > 0) {
		g->pid[slot] = pid;
		g->pidset[slot] = g->pidown[slot] = 1;
	}
	return 0;
}

// wait4 under a deadline; returns the raw result (-EINTR if the deadline passed).
static long wait_until(struct thr *t, pid_t pid, int *st, uint64_t dl)
{
	long r;
	do {
		arm(t, dl);
		r = kx_sys(SYS_wait4, pid, (long)st, __WALL, 0, 0, 0);
	} while (r == -EINTR && now_ns() < dl);
	return r;
}

static int op_wait(struct thr *t, uint16_t s, uint16_t i, const uint8_t *pl, struct res *o)
{
	struct prog *g = t->g;
	uint32_t slot = rd32(pl);
	if (!g->pidset[slot]) return rec_error(t, s, i, "pid slot %u is empty", slot);
	pid_t pid = (pid_t)g->pid[slot];
	int st = 0;
	long r = wait_until(t, pid, &st, step_deadline(g, o->t0, rd32(pl + 4)));
	if (r == -EINTR) {
		o->flags |= F_DEADLINE;
		kx_sys(SYS_kill, pid, SIGKILL, 0, 0, 0, 0);
		r = wait_until(t, pid, &st, now_ns() + 1000 * MS);
	}
	set_ret(o, r);
	o->ret2 = st;
	if (r == pid)
		g->pidown[slot] = 0; // reaped: never signal that number again
	return 0;
}

static int op_threads(struct thr *t, const uint8_t *pl, struct res *o)
{
	struct prog *g = t->g;
	uint32_t n = rd32(pl);
	uint64_t dl = step_deadline(g, o->t0, rd32(pl + 4));
	pthread_t th[MAX_THREADS];
	int started[MAX_THREADS] = {0};
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 1 << 20);
	for (uint32_t k = 0; k < n; k++) {
		uint16_t proc = new_proc(g);
		if (!proc) {
			o->flags |= F_REFUSED;
			continue;
		}
		struct thr *c = &g->thr[proc];
		*c = (struct thr){g, proc, rd32(pl + 8 + 4 * k), -1, 0, NULL};
		started[k] = pthread_create(&th[k], &at, thread_main, c) == 0;
	}
	pthread_attr_destroy(&at);
	struct timespec ts = {(time_t)(dl / 1000000000ull), (long)(dl % 1000000000ull)};
	for (uint32_t k = 0; k < n; k++) {
		if (!started[k]) continue;
		if (pthread_clockjoin_np(th[k], NULL, CLOCK_MONOTONIC, &ts) == 0) {
			o->ret++;
		} else {
			// Still running: the runner will exit (or be killed) around it.
			o->flags |= F_DEADLINE;
			g->stray = 1;
			pthread_detach(th[k]);
		}
	}
	return 0;
}

static void *thread_main(void *arg)
{
	struct thr *c = arg;
	run_seq(c, c->seq);
	disarm(c);
	return NULL;
}

// ---- KCOV ---------------------------------------------------------------------------------

// Per-task kernel coverage (Documentation/dev-tools/kcov.rst): the step opens KCOV_PATH, sizes and
// maps the area and enables tracing of the calling task (ioctl numbers and mode from the program);
// the end of the sequence reads the PCs, disables, and records them deduplicated (WIRE.md, KCOV).
struct kcov {
	int fd;
	long tid; // the task KCOV is enabled for: a forked child's copy of the state is not its own
	uint64_t *area, words, disable;
	uint16_t seq, step;
};

static int op_kcov(struct thr *t, uint16_t s, uint16_t i, const uint8_t *pl, struct res *o)
{
	uint64_t words = rd32(pl);
	if (t->kcov) return rec_error(t, s, i, "KCOV is already on for this sequence");
	long fd = kx_sys(SYS_openat, AT_FDCWD, (long)KCOV_PATH, O_RDWR | O_CLOEXEC, 0, 0, 0), r;
	if (fd < 0) {
		set_ret(o, fd);
		return 0;
	}
	r = kx_sys(SYS_ioctl, fd, (long)rd64(pl + 8), (long)words, 0, 0, 0);
	long a = r < 0 ? r : kx_sys(SYS_mmap, 0, (long)(words * 8), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r >= 0 && (unsigned long)a >= -4095ul) r = a;
	if (r >= 0) r = kx_sys(SYS_ioctl, fd, (long)rd64(pl + 16), (long)rd64(pl + 32), 0, 0, 0);
	struct kcov *k = r >= 0 ? malloc(sizeof *k) : NULL;
	if (r >= 0 && !k) r = -ENOMEM;
	if (r < 0) {
		if ((unsigned long)a < -4095ul && a) kx_sys(SYS_munmap, a, (long)(words * 8), 0, 0, 0, 0);
		kx_sys(SYS_close, fd, 0, 0, 0, 0, 0);
		set_ret(o, r);
		return 0;
	}
	*k = (struct kcov){(int)fd, kx_sys(SYS_gettid, 0, 0, 0, 0, 0, 0), (uint64_t *)a, words, rd64(pl + 24), s, i};
	__atomic_store_n(&k->area[0], 0, __ATOMIC_RELAXED); // from here on
	t->kcov = k;
	set_ret(o, 0);
	return 0;
}

static uint32_t kcov_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (uint32_t)x;
}

// Inserts v (non-zero) into an open-addressing set of cap (a power of two) slots; 1 if it was new.
static int kcov_add(uint32_t *set, uint32_t cap, uint32_t v)
{
	for (uint32_t h = kcov_mix(v) & (cap - 1);; h = (h + 1) & (cap - 1)) {
		if (set[h] == v) return 0;
		if (!set[h]) {
			set[h] = v;
			return 1;
		}
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void kcov_collect(struct thr *t)
{
	struct kcov *k = t->kcov;
	t->kcov = NULL;
	if (k->tid != kx_sys(SYS_gettid, 0, 0, 0, 0, 0, 0)) return; // the parent collects its own
	uint64_t n = __atomic_load_n(&k->area[0], __ATOMIC_RELAXED);
	kx_sys(SYS_ioctl, k->fd, (long)k->disable, 0, 0, 0, 0);
	uint32_t hdr[4] = {0, 0, (uint32_t)umin(n, UINT32_MAX), n >= k->words - 1};
	n = umin(n, k->words - 1);
	uint32_t cap = 2;
	while (cap < 2 * n + 2) cap <<= 1;
	uint32_t *pcs = calloc(2ull * cap, 4), *edges = pcs + cap, *out = pcs ? malloc(8ull * (n + 1)) : NULL;
	if (!out) {
		free(pcs);
		rec_error(t, k->seq, k->step, "KCOV: out of memory for %llu PCs", (unsigned long long)n);
	} else {
		uint64_t prev = 0;
		for (uint64_t j = 1; j <= n; j++) {
			uint64_t pc = __atomic_load_n(&k->area[j], __ATOMIC_RELAXED);
			// kernel text lies in one 2 GiB window: the low 32 bits tell PCs apart
			uint32_t lo = (uint32_t)pc ? (uint32_t)pc : 1, e = kcov_mix(prev) ^ (uint32_t)pc;
			if (kcov_add(pcs, cap, lo)) out[hdr[0]++] = lo;
			if (kcov_add(edges, cap, e ? e : 1)) out[n + hdr[1]++] = e ? e : 1;
			prev = pc;
		}
		memmove(out + hdr[0], out + n, 4ull * hdr[1]);
		qsort(out, hdr[0], 4, cmp_u32);
		qsort(out + hdr[0], hdr[1], 4, cmp_u32);
		rec_bytes(t, R_KCOV, k->seq, k->step, hdr, sizeof hdr, out, 4 * (hdr[0] + hdr[1]));
		free(out);
		free(pcs);
	}
	kx_sys(SYS_munmap, (long)k->area, (long)(k->words * 8), 0, 0, 0, 0);
	kx_sys(SYS_close, k->fd, 0, 0, 0, 0, 0);
	free(k);
}

static int step(struct thr *t, uint16_t s, uint16_t i, uint16_t op, const uint8_t *pl, struct res *o)
{
	struct prog *g = t->g;
	uint32_t a = rd32(pl), b = rd32(pl + 4), n = op == OP_SETSLOT || op >= OP_URING_STATE ? 0 : rd32(pl + 8);
	uint8_t *p = op >= OP_PATCH && op <= OP_VERIFY ? g->buf[a] + b : NULL;
	char e[MSGMAX];
	uint64_t v;
	switch (op) {
	case OP_SYSCALL: return op_syscall(t, s, i, pl, o);
	case OP_PATCH:
		if (resolve(t, pl + 16, &v, e)) return rec_error(t, s, i, "%s", e);
		memcpy(p, &v, n); // little-endian: the low `width` bytes
		o->ret = (int64_t)v;
		return 0;
	case OP_BYTES: memcpy(p, pl + 16, n); return 0;
	case OP_FILL: {
		uint32_t kind = rd32(pl + 12);
		uint64_t seed = rd64(pl + 16);
		if (kind == 1)
			fill_pattern(p, n, seed, rd64(pl + 24));
		else
			memset(p, kind == 2 ? (int)(seed & 0xff) : 0, n);
		return 0;
	}
	case OP_DIGEST: {
		uint64_t h[2] = {fnv64(p, n), n};
		rec_bytes(t, R_DIGEST, s, i, h, 16, NULL, 0);
		return 0;
	}
	case OP_DUMP: {
		uint32_t hd[2] = {n, 0};
		rec_bytes(t, R_DUMP, s, i, hd, 8, p, n);
		return 0;
	}
	case OP_VERIFY: {
		uint32_t out[2];
		verify_pattern(p, n, rd64(pl + 16), rd64(pl + 24), b, out);
		rec_bytes(t, R_VERIFY, s, i, out, 8, NULL, 0);
		o->ret = out[0];
		return 0;
	}
	case OP_SETSLOT:
		if (resolve(t, pl + 8, &v, e)) return rec_error(t, s, i, "%s", e);
		if (a == 1)
			claim_fd(g, b, (int64_t)v);
		else if (a == 2)
			g->ctx[b] = v, g->ctxset[b] = 1, g->ctxtaken[b] = 0, g->used_async = 1;
		else
			g->pid[b] = (int64_t)v, g->pidset[b] = 1, g->pidown[b] = 0;
		o->ret = (int64_t)v;
		return 0;
	case OP_URING_SETUP: return op_setup(t, s, i, pl, o);
	case OP_URING_QUEUE: return op_queue(t, s, i, pl, o);
	case OP_URING_REAP: return op_reap(t, s, i, pl, o);
	case OP_URING_STATE: return op_state(t, s, i, pl);
	case OP_URING_CLOSE:
		if (!g->ring[a].used) return rec_error(t, s, i, "ring %u is not set up", a);
		ring_close(&g->ring[a], o);
		return 0;
	case OP_FORK: return op_fork(t, pl, o);
	case OP_WAIT: return op_wait(t, s, i, pl, o);
	case OP_THREADS: return op_threads(t, pl, o);
	case OP_SLEEP: {
		struct timespec ts = {(time_t)(rd64(pl) / 1000000000ull), (long)(rd64(pl) % 1000000000ull)};
		arm(t, g->deadline);
		set_ret(o, kx_sys(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (long)&ts, 0, 0, 0));
		if (now_ns() >= g->deadline) o->flags |= F_DEADLINE;
		return 0;
	}
	case OP_EXIT:
		disarm(t); // a dead thread's timer must not signal the rest of the process
		kx_sys(b ? SYS_exit_group : SYS_exit, a, 0, 0, 0, 0, 0);
		return 0;
	case OP_LIBC: return op_libc(t, s, i, pl, o);
	case OP_SIGCOUNT:
		__atomic_store_n(&count_prog, g, __ATOMIC_RELEASE);
		g->used_libc = 1;
		return op_sigcount(pl, o);
	case OP_KCOV: return op_kcov(t, s, i, pl, o);
	}
	return rec_error(t, s, i, "op %u", op);
}

static void run_steps(struct thr *t, uint32_t s)
{
	struct prog *g = t->g;
	uint64_t off = rd32(g->p + g->seqtab + 8 * s);
	uint32_t n = rd32(g->p + g->seqtab + 8 * s + 4);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *st = g->p + off;
		uint16_t op = rd16(st), fl = rd16(st + 2);
		off += 8 + rd32(st + 4);
		if (__atomic_load_n(&g->r->status, __ATOMIC_RELAXED))
			return; // trace full, or the deadline already cut the program short
		struct res o = {0};
		o.t0 = now_ns();
		if (o.t0 >= g->deadline) {
			fail(g->r, 2, "program deadline exceeded: step %u of seq %u", i, s);
			return;
		}
		if (step(t, (uint16_t)s, (uint16_t)i, op, st + 8, &o) < 0)
			return; // an ERROR record ends the sequence
		if (!o.t1) o.t1 = now_ns();
		rec_bytes(t, R_STEP, (uint16_t)s, (uint16_t)i, &o, sizeof o, NULL, 0);
		if ((fl & 1) && o.ret < 0) return;
	}
}

static void run_seq(struct thr *t, uint32_t s)
{
	run_steps(t, s);
	if (t->kcov) kcov_collect(t);
}

static void *destroy_ctx(void *ctx)
{
	kx_sys(SYS_io_destroy, (long)(uintptr_t)ctx, 0, 0, 0, 0, 0);
	return NULL;
}

// Nothing may outlive the program: the addon runs thousands of programs inside Node.
static void teardown(struct prog *g)
{
	struct thr *t = &g->thr[0];
	int closed[MAX_RINGS + MAX_FDS], nclosed = 0;
	for (uint32_t k = 0; k < MAX_PIDS; k++)
		if (g->pidset[k] && g->pidown[k]) { // children first: they share our rings and buffers
			int st;
			kx_sys(SYS_kill, g->pid[k], SIGKILL, 0, 0, 0, 0);
			wait_until(t, (pid_t)g->pid[k], &st, now_ns() + 1000 * MS);
		}
	// Rings before AIO contexts: io_destroy sleeps for a grace period, and an SQPOLL ring's kernel
	// thread would spin through its idle time meanwhile (a jiffy or two per wake-up) instead of stopping.
	for (uint32_t k = 0; k < MAX_RINGS; k++)
		if (g->ring[k].used) {
			if (!g->ring[k].regidx && !g->ring[k].fd_closed) closed[nclosed++] = (int)g->ring[k].fd;
			ring_close(&g->ring[k], NULL);
		}
	// io_destroy waits for in-flight iocbs and for RCU grace periods (~35 ms on the host, ~50 under
	// TCG): contexts past the first are destroyed side by side on threads of their own, so the
	// program waits that long once, not once per context. A runner exits next instead, and exit_aio
	// destroys all its contexts within the same grace periods.
	pthread_t th[MAX_CTX];
	pthread_attr_t at;
	int nth = 0, first = -1;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 << 10);
	for (uint32_t k = 0; k < MAX_CTX && g->mode == KX_INPROC; k++)
		if (g->ctxset[k]) {
			int dup = 0;
			for (uint32_t j = 0; j < k; j++) dup |= g->ctxset[j] && g->ctx[j] == g->ctx[k];
			if (dup) continue;
			if (first < 0) first = (int)k;
			else if (pthread_create(&th[nth], &at, destroy_ctx, (void *)(uintptr_t)g->ctx[k]) == 0) nth++;
			else destroy_ctx((void *)(uintptr_t)g->ctx[k]);
		}
	if (first >= 0) destroy_ctx((void *)(uintptr_t)g->ctx[first]);
	for (int k = 0; k < nth; k++) pthread_join(th[k], NULL);
	pthread_attr_destroy(&at);
	for (uint32_t k = 0; k < MAX_FDS; k++)
		if (may_close(g, k)) { // never twice
			int dup = 0;
			for (int j = 0; j < nclosed; j++) dup |= closed[j] == (int)g->fd[k];
			if (!dup) {
				kx_sys(SYS_close, (long)g->fd[k], 0, 0, 0, 0, 0);
				closed[nclosed++] = (int)g->fd[k];
			}
		}
	if (!g->used_libc) free_bufs(g); // else glibc's threads may still write into them; the runner exits next
}

// ---- entry points ------------------------------------------------------------------------

uint32_t kx_deadline_ms(const uint8_t *prog, size_t len)
{
	uint32_t dl = prog && len >= 16 ? rd32(prog + 12) : 0;
	return dl >= 1 && dl <= 3600000 ? dl : 1000;
}

size_t kx_region_size(const uint8_t *prog, size_t len)
{
	uint64_t cap = 0;
	if (prog && len >= 32 && rd32(prog) == PROG_MAGIC && rd32(prog + 20) <= 256 * MiB)
		cap = rd32(prog + 20) ? rd32(prog + 20) : 16 * MiB;
	return offsetof(struct region, rec) + cap;
}

void kx_region_init(void *region, size_t size)
{
	struct region *r = region;
	memset(r, 0, offsetof(struct region, rec));
	r->cap = size - offsetof(struct region, rec);
	r->full_at = UINT64_MAX;
}

void kx_set_error(void *region, const char *msg) { fail(region, 1, "%s", msg); }

void kx_exec(const uint8_t *prog, size_t len, int mode, void *region)
{
	struct region *r = region;
	char e[MSGMAX];
	struct prog *g = calloc(1, sizeof *g);
	if (!g) {
		fail(r, 1, "out of memory");
		return;
	}
	g->p = prog;
	g->len = len;
	g->mode = mode;
	g->r = r;
	if (check(g, e) || alloc_bufs(g, e)) {
		fail(r, 1, "%s", e);
		free(g);
		__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
		return;
	}
	// The deadline signal must reach this thread (libuv workers block signals).
	sigset_t set, old;
	sig_install();
	sigemptyset(&set);
	sigaddset(&set, KX_SIG);
	pthread_sigmask(SIG_UNBLOCK, &set, &old);
	if (mode == KX_INPROC && g->fdslots) snap_fds(g);
	g->deadline = now_ns() + rd32(prog + 12) * MS;
	struct thr *t = &g->thr[0];
	*t = (struct thr){g, 0, 0, -1, 0, NULL};
	run_seq(t, 0);
	if (!g->stray) teardown(g);
	disarm(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!g->stray && !g->used_libc)
		free(g); // else a thread (ours or glibc's) still uses it; the runner is about to exit anyway
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
}

const uint8_t *kx_finish(void *region, int died, int wstatus, size_t *out_len)
{
	struct region *r = region;
	uint64_t end = umin(umin(r->cursor, r->cap), r->full_at), rd = 0, wr = 0;
	uint32_t nrec = 0;
	// Compact: drop records whose writer died before completing them.
	while (rd + 16 <= end) {
		uint8_t *h = r->rec + rd;
		uint32_t plen = rd32(h + 8);
		if (plen == 0 || plen % 8 || plen > end - rd - 16)
			break; // reserved but never described: nothing after it can be trusted
		if (rd16(h)) {
			if (wr != rd) memmove(r->rec + wr, h, 16 + plen);
			wr += 16 + plen;
			nrec++;
		}
		rd += 16 + plen;
	}
	char msg[MSGMAX];
	uint32_t status = r->status;
	snprintf(msg, sizeof msg, "%.*s", (int)umin(r->msglen, MSGMAX - 1), r->msg);
	if (wstatus != -1 && !r->done) died = 1;
	if (died) {
		char why[64];
		if (wstatus == -1)
			snprintf(why, sizeof why, "no wait status");
		else if (WIFSIGNALED(wstatus))
			snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(wstatus));
		else
			snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(wstatus));
		char prev[MSGMAX];
		memcpy(prev, msg, sizeof prev);
		snprintf(msg, sizeof msg, "runner died: %.60s%s%.170s", why, status ? "; " : "", status ? prev : "");
		status = 3;
	}
	uint32_t ml = status ? (uint32_t)strlen(msg) : 0, mp = (uint32_t)pad8(ml);
	uint8_t *out = r->head + sizeof r->head - 32 - mp; // ends exactly where rec[] begins
	uint32_t total = (uint32_t)(32 + mp + wr), magic = TRACE_MAGIC;
	uint16_t ver = KX_WIRE_VERSION, st16 = (uint16_t)status;
	int32_t ex = wstatus;
	memset(out, 0, 32 + mp);
	memcpy(out, &magic, 4);
	memcpy(out + 4, &ver, 2);
	memcpy(out + 6, &st16, 2);
	memcpy(out + 8, &total, 4);
	memcpy(out + 12, &nrec, 4);
	memcpy(out + 16, &ex, 4);
	memcpy(out + 20, &ml, 4);
	memcpy(out + 32, msg, ml);
	*out_len = total;
	return out;
}

// In-process, each program runs on a thread of its own. io_uring ties every ring to the task
// that set it up: closing a ring makes the kernel send task work (a TWA_SIGNAL "interrupt")
// to that task some 10-25 ms later, which cuts short a blocking io_getevents or epoll_wait of
// whatever program runs there next. A thread that exits drops those ties (and its
// registered-ring table), so programs cannot disturb each other.
struct job { const uint8_t *prog; size_t len; int mode; void *reg; };
static void *job_main(void *a)
{
	struct job *j = a;
	kx_exec(j->prog, j->len, j->mode, j->reg);
	return NULL;
}

// Trace regions are pooled (virtual 256 MiB each, NORESERVE): a fresh mapping per run costs a
// page fault per 4 KiB of trace. Records are only read below the cursor and in-process there
// is a single writer, so stale bytes from an earlier run do not matter.
#define POOL 8
#define REGION_MAX (offsetof(struct region, rec) + 256 * MiB)
#define KEEP (8 * MiB) // touched pages beyond this go back to the kernel on release
static void *pool[POOL];
static int npool;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;

const uint8_t *kx_run_region(const uint8_t *prog, size_t len, int mode, void **handle, size_t *trace_len)
{
	void *reg = NULL;
	pthread_mutex_lock(&pool_mu);
	if (npool) reg = pool[--npool];
	pthread_mutex_unlock(&pool_mu);
	if (!reg) {
		reg = mmap(NULL, REGION_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (reg == MAP_FAILED) return NULL;
	}
	kx_region_init(reg, kx_region_size(prog, len));
	struct job j = {prog, len, mode, reg};
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 1 << 20);
	if (mode != KX_INPROC || pthread_create(&th, &at, job_main, &j) != 0)
		job_main(&j);
	else
		pthread_join(th, NULL);
	pthread_attr_destroy(&at);
	*handle = reg;
	return kx_finish(reg, 0, -1, trace_len);
}

void kx_release(void *handle)
{
	struct region *r = handle;
	if (!r) return;
	if (umin(r->cursor, r->cap) > KEEP - PAGE)
		madvise((uint8_t *)r + KEEP, REGION_MAX - KEEP, MADV_DONTNEED);
	pthread_mutex_lock(&pool_mu);
	if (npool < POOL) {
		pool[npool++] = r;
		r = NULL;
	}
	pthread_mutex_unlock(&pool_mu);
	if (r) munmap(r, REGION_MAX);
}

int kx_run(const uint8_t *prog, size_t len, int mode, uint8_t **trace, size_t *trace_len)
{
	void *h;
	size_t n;
	const uint8_t *t = kx_run_region(prog, len, mode, &h, &n);
	if (!t) return -ENOMEM;
	uint8_t *out = malloc(n);
	if (out) memcpy(out, t, n);
	kx_release(h);
	if (!out) return -ENOMEM;
	*trace = out;
	*trace_len = n;
	return 0;
}
