// kasync-exec: the child front door (WIRE.md, "Front doors").
// A supervisor loop: each program runs in a fresh runner process (its own process group) that
// writes its trace into shared memory, so EXIT steps, crashes and kills end the runner and never
// the server. Every wait has a deadline.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
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

// Waits for pid until ms have passed: 1 reaped (status in *st), 0 timed out, -1 error.
static int wait_for(pid_t pid, int *st, uint64_t ms)
{
	uint64_t end = now_ms() + ms;
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0), ret;
	for (;;) {
		pid_t r = waitpid(pid, st, WNOHANG | __WALL);
		if (r == pid || (r < 0 && errno != EINTR)) {
			ret = r == pid ? 1 : -1;
			break;
		}
		uint64_t now = now_ms();
		if (now >= end) {
			ret = 0;
			break;
		}
		uint64_t left = end - now;
		if (pfd >= 0) {
			struct pollfd p = {pfd, POLLIN, 0};
			poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		} else {
			usleep(left > 10 ? 10000 : (useconds_t)left * 1000); // no pidfd: poll gently
		}
	}
	if (pfd >= 0) close(pfd);
	return ret;
}

// Kills whatever is left of the runner's process group and reaps it (we are a subreaper, so
// orphaned grandchildren come back to us).
static void reap_group(pid_t pgid)
{
	uint64_t end = now_ms() + GRACE_MS;
	kill(-pgid, SIGKILL);
	for (;;) {
		int st;
		pid_t r = waitpid(-1, &st, WNOHANG | __WALL);
		if (r > 0) continue;
		if (r < 0 && errno == ECHILD) return;
		if ((kill(-pgid, 0) < 0 && errno == ESRCH) || now_ms() >= end)
			return; // the group is gone; live escapees (setsid) are reaped on a later pass
		usleep(1000);
	}
}

static int emit(const uint8_t *t, size_t n, int framed)
{
	uint32_t len = (uint32_t)n;
	if (framed && writen(1, &len, 4)) return -1;
	return writen(1, t, n);
}

// A trace for a frame that cannot run at all.
static int emit_error(const char *msg, int framed)
{
	size_t sz = kx_region_size(NULL, 0), n;
	void *reg = calloc(1, sz);
	if (!reg) return -1;
	kx_region_init(reg, sz);
	kx_set_error(reg, msg);
	const uint8_t *t = kx_finish(reg, 0, -1, &n);
	int r = emit(t, n, framed);
	free(reg);
	return r;
}


// Agent mode (inside a VM): programs are numbered, and each is announced in the kernel log so a
// report on the console can be pinned on the program that caused it (WIRE.md, "Control frames").
static int kmsg_fd = -1;
static unsigned long run_no;
static const char *scratch_base = "/tmp";

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

static int run_one(const uint8_t *prog, size_t len, int framed)
{
	size_t sz = kx_region_size(prog, len), n;
	void *reg = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char msg[128];
	if (reg == MAP_FAILED) {
		snprintf(msg, sizeof msg, "trace region of %zu bytes: %s", sz, strerror(errno));
		return emit_error(msg, framed);
	}
	kx_region_init(reg, sz);
	if (kmsg_fd >= 0) {
		char m[48];
		int ml = snprintf(m, sizeof m, "KASYNC-RUN %lu\n", run_no);
		if (write(kmsg_fd, m, (size_t)ml) < 0) {
			// the marker is lost, the program still runs
		}
	}
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
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
	int st = -1, died = 1;
	if (pid < 0) {
		snprintf(msg, sizeof msg, "fork of the runner failed: %s", strerror(errno));
		kx_set_error(reg, msg);
		died = 0;
	} else {
		setpgid(pid, pid); // also here: whichever of us runs first
		int ok = wait_for(pid, &st, kx_deadline_ms(prog, len) + (uint64_t)GRACE_MS);
		if (ok == 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			ok = wait_for(pid, &st, 5000);
		}
		if (ok != 1) st = -1;
		reap_group(pid); // before reading the trace: nobody may still be writing it
		died = !(ok == 1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	const uint8_t *t = kx_finish(reg, died, st, &n);
	int r = emit(t, n, framed);
	munmap(reg, sz);
	return r;
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
	int r = run_one(p, (size_t)sz, 0);
	free(p);
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
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
		uint32_t n;
		ssize_t r = readn(0, &n, 4);
		if (r == 0 && agent) {
			// a virtio port reads EOF while the host is not connected: wait for it to come back
			usleep(50000);
			continue;
		}
		if (r == 0) return 0;
		if (r != 4) {
			emit_error("truncated frame header", 1);
			return 2;
		}
		if (n > FRAME_MAX) {
			char msg[64];
			snprintf(msg, sizeof msg, "frame of %u bytes exceeds 256 MiB", n);
			emit_error(msg, 1);
			return 2;
		}
		if (n > cap) {
			uint8_t *nb = realloc(buf, n);
			if (!nb) {
				emit_error("out of memory for the frame", 1);
				return 2;
			}
			buf = nb;
			cap = n;
		}
		if (readn(0, buf, n) != (ssize_t)n) {
			emit_error("truncated frame", 1);
			return 2;
		}
		if (n >= 4 && !memcmp(buf, "KASC", 4)) {
			if (control((const char *)buf + 4, n - 4)) return 1;
			continue;
		}
		run_no++;
		if (run_one(buf, n, 1))
			return 1; // stdout is gone
	}
}
