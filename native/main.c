// kasync-exec: the child front door (WIRE.md, "Front doors").
// A supervisor loop: each program runs in a fresh runner process (its own process group) that
// writes its trace into shared memory, so EXIT steps, crashes and kills end the runner and never
// the server. Every wait has a deadline.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"

#define FRAME_MAX (256u << 20)
#define GRACE_MS 2000

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

// Reads up to n bytes; fewer only at EOF. -1 on error.
static ssize_t readn(int fd, void *b, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)b + got, n - got);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) return -1;
		if (r == 0) break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int writen(int fd, const void *b, size_t n)
{
	while (n) {
		ssize_t r = write(fd, b, n);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return -1;
		b = (const char *)b + r;
		n -= (size_t)r;
	}
	return 0;
}

// How a trace is answered: bare (--once), framed, or framed and tagged ("KASL" + tag + trace).
struct dest {
	int framed, tagged;
	uint32_t tag;
};

static const struct dest FRAMED = {1, 0, 0};

static int emit(const uint8_t *t, size_t n, struct dest d)
{
	uint32_t len = (uint32_t)n + (d.tagged ? 8 : 0);
	if (d.framed && writen(1, &len, 4)) return -1;
	if (d.tagged && (writen(1, "KASL", 4) || writen(1, &d.tag, 4))) return -1;
	return writen(1, t, n);
}

// A trace for a frame that cannot run at all.
static int emit_error(const char *msg, struct dest d)
{
	size_t sz = kx_region_size(NULL, 0), n;
	void *reg = calloc(1, sz);
	if (!reg) return -1;
	kx_region_init(reg, sz);
	kx_set_error(reg, msg);
	const uint8_t *t = kx_finish(reg, 0, -1, &n);
	int r = emit(t, n, d);
	free(reg);
	return r;
}


// Agent mode (inside a VM): programs are numbered, and each is announced in the kernel log so a
// report on the console can be pinned on the program that caused it (WIRE.md, "Control frames").
static int kmsg_fd = -1;
static unsigned long run_no;
static const char *scratch_base = "/tmp";

// `KASYNC-RUN <n>` before program n starts, `KASYNC-END <n>` once its runner and process group are
// gone: a report between them may be program n's (with programs in flight, also another's).
static void mark(const char *what, unsigned long n)
{
	if (kmsg_fd < 0) return;
	char m[48];
	int ml = snprintf(m, sizeof m, "KASYNC-%s %lu\n", what, n);
	if (write(kmsg_fd, m, (size_t)ml) < 0) {
		// the marker is lost, the program still runs
	}
}

static int emit_reply(const char *text)
{
	size_t tl = strlen(text);
	uint32_t len = (uint32_t)(4 + tl);
	if (writen(1, &len, 4) || writen(1, "KASR", 4)) return -1;
	return writen(1, text, tl);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

// A scratch path is ours only if it is <base>/kasync-XXXXXX with nothing after it.
static int is_scratch(const char *path)
{
	size_t bl = strlen(scratch_base);
	if (strncmp(path, scratch_base, bl) || path[bl] != '/' || strncmp(path + bl + 1, "kasync-", 7)) return 0;
	return !strchr(path + bl + 1, '/') && !strstr(path, "..");
}

static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

// What the guest holds that a finished program must have given back: the system-wide fs.aio-nr,
// io_uring's threads (iou-sqp-*, iou-wrk-*: they belong to the program's processes) and our
// children (a runner, or an orphan it left). With no program in flight each is 0.
static void rest_counts(long *aio_nr, int *iou, int *kids)
{
	char buf[512], path[96];
	*aio_nr = read_small("/proc/sys/fs/aio-nr", buf, sizeof buf) > 0 ? strtol(buf, NULL, 10) : -1;
	*iou = *kids = 0;
	DIR *proc = opendir("/proc");
	if (!proc) return;
	pid_t self = getpid();
	struct dirent *e;
	while ((e = readdir(proc))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0) continue;
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		char *close_paren = read_small(path, buf, sizeof buf) > 0 ? strrchr(buf, ')') : NULL;
		char state;
		int ppid;
		if (close_paren && sscanf(close_paren + 1, " %c %d", &state, &ppid) == 2 && ppid == self) (*kids)++;
		snprintf(path, sizeof path, "/proc/%ld/task", pid);
		DIR *tasks = opendir(path);
		if (!tasks) continue;
		struct dirent *t;
		while ((t = readdir(tasks))) {
			if (t->d_name[0] == '.') continue;
			snprintf(path, sizeof path, "/proc/%ld/task/%.20s/comm", pid, t->d_name);
			if (read_small(path, buf, sizeof buf) > 0 && !strncmp(buf, "iou-", 4)) (*iou)++;
		}
		closedir(tasks);
	}
	closedir(proc);
}

// Control frames ("KASC" + text) are answered with one "KASR" + text frame: "ok ..." or "error ...".
static int control(const char *cmd, size_t n)
{
	char line[512], out[640];
	if (n >= sizeof line) return emit_reply("error command too long");
	memcpy(line, cmd, n);
	line[n] = 0;
	if (!strcmp(line, "hello")) {
		struct utsname u;
		uname(&u);
		snprintf(out, sizeof out, "ok %s %lu", u.release, run_no);
		return emit_reply(out);
	}
	if (!strcmp(line, "rest")) {
		long aio_nr;
		int iou, kids;
		rest_counts(&aio_nr, &iou, &kids);
		snprintf(out, sizeof out, "ok aio-nr=%ld iou=%d children=%d", aio_nr, iou, kids);
		return emit_reply(out);
	}
	if (!strcmp(line, "mkscratch")) {
		snprintf(out, sizeof out, "%s/kasync-XXXXXX", scratch_base);
		char tmp[600];
		memcpy(tmp, out, sizeof tmp);
		if (!mkdtemp(tmp)) {
			snprintf(out, sizeof out, "error mkdtemp under %s: %s", scratch_base, strerror(errno));
			return emit_reply(out);
		}
		snprintf(out, sizeof out, "ok %s", tmp);
		return emit_reply(out);
	}
	if (!strncmp(line, "rmscratch ", 10)) {
		const char *path = line + 10;
		if (!is_scratch(path)) return emit_reply("error not a kasync scratch directory");
		if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT) {
			snprintf(out, sizeof out, "error removing %s: %s", path, strerror(errno));
			return emit_reply(out);
		}
		return emit_reply("ok");
	}
	if (!strncmp(line, "kmsg ", 5)) {
		if (kmsg_fd >= 0 && write(kmsg_fd, line + 5, strlen(line + 5)) < 0) return emit_reply("error kmsg write failed");
		return emit_reply("ok");
	}
	if (!strcmp(line, "poweroff")) {
		// no sync: the guest's disks are the host's to judge (a crash, not a clean shutdown)
		if (emit_reply("ok")) return -1;
		if (getpid() == 1 || kmsg_fd >= 0) reboot(RB_POWER_OFF);
		exit(0);
	}
	snprintf(out, sizeof out, "error unknown control command '%.400s'", line);
	return emit_reply(out);
}

// A program in flight: its runner process (also its process group) and the shared trace region.
// Several run at once in agent mode (tagged "KASL" frames, WIRE.md "Lanes"); an untagged frame is
// answered before the next frame is read.
struct lane {
	int used;
	pid_t pid;        // the runner (and its process group); 0 if the fork failed
	int status;       // its wait status, -1 if it never ended
	int exited;       // the runner has been reaped (or given up on, or never forked)
	int killed;       // SIGKILL sent to its group
	uint64_t deadline; // when to kill, then when to give up on it
	void *reg;
	size_t sz;
	struct dest dest;
	unsigned long run; // its number in the kernel log's markers
};

#define MAX_LANES 32
static struct lane lanes[MAX_LANES];
static int nlanes;
static sigset_t chld_set, old_mask;
static int chld_fd = -1; // SIGCHLD's signalfd

// Starts a program in a fresh runner; returns the lane, or NULL after answering with an error trace
// (-1 if even that failed).
static struct lane *lane_start(const uint8_t *prog, size_t len, struct dest d, int *bad)
{
	struct lane *l = NULL;
	for (int i = 0; i < MAX_LANES && !l; i++)
		if (!lanes[i].used) l = &lanes[i];
	size_t sz = kx_region_size(prog, len);
	void *reg = l ? mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) : MAP_FAILED;
	if (reg == MAP_FAILED) {
		char msg[128];
		if (l) snprintf(msg, sizeof msg, "trace region of %zu bytes: %s", sz, strerror(errno));
		else snprintf(msg, sizeof msg, "more than %d programs in flight", MAX_LANES);
		*bad = emit_error(msg, d);
		return NULL;
	}
	kx_region_init(reg, sz);
	*l = (struct lane){1, 0, -1, 0, 0, 0, reg, sz, d, run_no};
	mark("RUN", run_no);
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		// the program's fds start at 3, as in a C reproducer: none of ours stays open in it
		close(chld_fd);
		if (kmsg_fd >= 0) close(kmsg_fd);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) _exit(1);
		// The program must not write into our frame stream or read the next frame.
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		if (nul > 2) close(nul);
		kx_exec(prog, len, KX_RUNNER, reg);
		_exit(0);
	}
	nlanes++;
	if (pid < 0) {
		char msg[128];
		snprintf(msg, sizeof msg, "fork of the runner failed: %s", strerror(errno));
		kx_set_error(reg, msg);
		l->exited = 1;
		return l;
	}
	setpgid(pid, pid); // also here: whichever of us runs first
	l->pid = pid;
	l->deadline = now_ms() + kx_deadline_ms(prog, len) + GRACE_MS;
	return l;
}

// Answers a lane whose runner has ended and whose process group is gone; frees it.
static int lane_finish(struct lane *l)
{
	size_t n;
	int st = l->status;
	// a failed fork left its error in the region; a runner that ended other than by exit(0) died
	int died = l->pid && !(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	const uint8_t *t = kx_finish(l->reg, died, st, &n);
	mark("END", l->run);
	int r = emit(t, n, l->dest);
	munmap(l->reg, l->sz);
	l->used = 0;
	nlanes--;
	return r;
}

// Is anything of this group still alive (or unreaped)?
static int group_alive(pid_t pgid)
{
	return !(kill(-pgid, 0) < 0 && errno == ESRCH);
}

// Reaps every child that has ended: a runner's end is noted in its lane (then its group is
// killed, so leftovers cannot write the trace), others are the runners' orphans (we are a
// subreaper). Then answers each lane whose group is gone, or whose grace has run out.
static int lanes_step(void)
{
	int st;
	pid_t r;
	while ((r = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
		for (int i = 0; i < MAX_LANES; i++) {
			struct lane *l = &lanes[i];
			if (l->used && l->pid == r && !l->exited) {
				l->status = st;
				l->exited = 1;
				kill(-r, SIGKILL); // its leftovers (forked children) end with it
				l->deadline = now_ms() + GRACE_MS;
			}
		}
	}
	uint64_t now = now_ms();
	for (int i = 0; i < MAX_LANES; i++) {
		struct lane *l = &lanes[i];
		if (!l->used) continue;
		if (!l->exited && now >= l->deadline) {
			if (!l->killed) {
				// past its deadline: kill the runner and its group, then give it a while to go
				l->killed = 1;
				kill(-l->pid, SIGKILL);
				kill(l->pid, SIGKILL);
				l->deadline = now + 5000;
				continue;
			}
			l->exited = 1; // unkillable (stuck in the kernel): answer without its status
			l->status = -1;
		}
		if (!l->exited) continue;
		// a live escapee (setsid) is left to be reaped on a later pass; the trace is final by now
		if (l->pid && group_alive(l->pid) && now < l->deadline) continue;
		if (lane_finish(l)) return -1;
	}
	return 0;
}

// Milliseconds until the next lane deadline (-1: none); short while a group is draining.
static int lanes_wait_ms(void)
{
	int64_t best = -1;
	uint64_t now = now_ms();
	for (int i = 0; i < MAX_LANES; i++) {
		struct lane *l = &lanes[i];
		if (!l->used) continue;
		int64_t left = l->exited ? 1 : l->deadline > now ? (int64_t)(l->deadline - now) : 0;
		if (best < 0 || left < best) best = left;
	}
	return best > 1000000 ? 1000000 : (int)best;
}

// Runs lanes until `until` (if given) has been answered; waits on SIGCHLD's signalfd and, when
// `in` >= 0, on `in` too: returns 1 when `in` is readable, 0 when `until` is done, -1 on error.
static int serve_lanes(int in, const struct lane *until)
{
	for (;;) {
		if (lanes_step()) return -1;
		if (until && !until->used) return 0;
		struct pollfd p[2] = {{chld_fd, POLLIN, 0}, {in, POLLIN, 0}};
		int w = lanes_wait_ms();
		if (in < 0 && w < 0) return 0; // nothing to wait for
		int n = poll(p, in >= 0 ? 2 : 1, w);
		if (n < 0 && errno != EINTR) return -1;
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(chld_fd, &si, sizeof si) == (ssize_t)sizeof si) {
			}
		}
		if (in >= 0 && p[1].revents) return 1;
	}
}

static int once(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "kasync-exec: %s: %s\n", path, strerror(errno));
		return 2;
	}
	off_t sz = lseek(fd, 0, SEEK_END);
	uint8_t *p = sz >= 0 && sz <= FRAME_MAX ? malloc((size_t)sz + 1) : NULL;
	if (!p || lseek(fd, 0, SEEK_SET) < 0 || readn(fd, p, (size_t)sz) != sz) {
		fprintf(stderr, "kasync-exec: %s: cannot read\n", path);
		return 2;
	}
	close(fd);
	int bad = 0;
	struct lane *l = lane_start(p, (size_t)sz, (struct dest){0, 0, 0}, &bad);
	int r = l ? serve_lanes(-1, l) : bad;
	free(p);
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	// children's ends come through a signalfd; runners get the old mask back
	sigemptyset(&chld_set);
	sigaddset(&chld_set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld_set, &old_mask);
	chld_fd = signalfd(-1, &chld_set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (chld_fd < 0) {
		fprintf(stderr, "kasync-exec: signalfd: %s\n", strerror(errno));
		return 2;
	}
	if (argc == 3 && !strcmp(argv[1], "--once")) return once(argv[2]);
	int agent = argc == 5 && !strcmp(argv[1], "--agent") && !strcmp(argv[3], "--scratch");
	if (argc != 1 && !agent) {
		fprintf(stderr, "usage: kasync-exec [--once FILE | --agent PORT --scratch DIR]\n"
				"  reads frames (u32 length, program) on stdin, writes (u32 length, trace) on stdout;\n"
				"  --agent: the same on a VM's virtio-serial PORT, announcing each program in /dev/kmsg\n");
		return 2;
	}
	if (agent) {
		int fd = open(argv[2], O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "kasync-exec: %s: %s\n", argv[2], strerror(errno));
			return 2;
		}
		dup2(fd, 0);
		dup2(fd, 1);
		close(fd);
		scratch_base = argv[4];
		kmsg_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
		struct utsname u;
		uname(&u);
		char hello[300];
		snprintf(hello, sizeof hello, "ready %s", u.release);
		if (emit_reply(hello)) return 1;
	}
	uint8_t *buf = NULL;
	size_t cap = 0;
	for (;;) {
		// a full house reads no frame until a lane is free
		int ready = serve_lanes(nlanes < MAX_LANES ? 0 : -1, NULL);
		if (ready < 0) return 1;
		if (ready == 0) continue;
		uint32_t n;
		ssize_t r = readn(0, &n, 4);
		if (r == 0 && agent) {
			// a virtio port reads EOF while the host is not connected: wait for it to come back
			struct pollfd p = {chld_fd, POLLIN, 0};
			poll(&p, 1, 50);
			continue;
		}
		if (r == 0) return serve_lanes(-1, NULL) ? 1 : 0;
		if (r != 4) {
			emit_error("truncated frame header", FRAMED);
			return 2;
		}
		if (n > FRAME_MAX) {
			char msg[64];
			snprintf(msg, sizeof msg, "frame of %u bytes exceeds 256 MiB", n);
			emit_error(msg, FRAMED);
			return 2;
		}
		if (n > cap) {
			uint8_t *nb = realloc(buf, n);
			if (!nb) {
				emit_error("out of memory for the frame", FRAMED);
				return 2;
			}
			buf = nb;
			cap = n;
		}
		if (readn(0, buf, n) != (ssize_t)n) {
			emit_error("truncated frame", FRAMED);
			return 2;
		}
		if (n >= 4 && !memcmp(buf, "KASC", 4)) {
			if (control((const char *)buf + 4, n - 4)) return 1;
			continue;
		}
		run_no++;
		// a tagged program ("KASL" + u32 tag) is answered whenever it ends, while others run; an
		// untagged one before the next frame is read (the child target's order)
		int tagged = n >= 8 && !memcmp(buf, "KASL", 4), bad = 0;
		struct dest d = {1, tagged, 0};
		if (tagged) memcpy(&d.tag, buf + 4, 4);
		struct lane *l = lane_start(buf + (tagged ? 8 : 0), n - (tagged ? 8 : 0), d, &bad);
		if (bad) return 1; // stdout is gone
		if (tagged) continue;
		if (l && serve_lanes(-1, l)) return 1; // stdout is gone
	}
}
