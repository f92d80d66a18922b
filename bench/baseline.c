// Baseline for `npm run bench -- executor`: the same raw system calls the executor makes, in a plain
// C loop, so the benchmark can report the executor's throughput as a ratio of this one.
//   baseline nop   N BATCH   -> io_uring NOPs, BATCH per io_uring_enter, reaped from the CQ ring
//   baseline pread N BATCH FILE -> AIO 4 KiB preads, BATCH per io_submit, reaped by io_getevents
// Prints the elapsed nanoseconds (pread: then the part io_destroy took), from ring or context setup to teardown: the executor's figure
// covers the same span (its program sets up, loops and tears down), so the two are comparable.
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

static int die(const char *what) {
  perror(what);
  return 1;
}

static int nop(long n, int batch) {
  uint64_t t0 = now_ns();
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  int fd = syscall(__NR_io_uring_setup, 64, &p);
  if (fd < 0) return die("io_uring_setup");
  size_t sqsz = p.sq_off.array + p.sq_entries * 4, cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  size_t ringsz = sqsz > cqsz ? sqsz : cqsz;
  uint8_t *ring = mmap(0, ringsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  struct io_uring_sqe *sqes = mmap(0, p.sq_entries * sizeof *sqes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (ring == MAP_FAILED || sqes == MAP_FAILED) return die("mmap");
  unsigned *sq_tail = (unsigned *)(ring + p.sq_off.tail), *sq_array = (unsigned *)(ring + p.sq_off.array);
  unsigned *cq_head = (unsigned *)(ring + p.cq_off.head), *cq_tail = (unsigned *)(ring + p.cq_off.tail);
  unsigned sq_mask = *(unsigned *)(ring + p.sq_off.ring_mask), cq_mask = *(unsigned *)(ring + p.cq_off.ring_mask);
  struct io_uring_cqe *cqes = (struct io_uring_cqe *)(ring + p.cq_off.cqes);
  for (long done = 0; done < n;) {
    int k = n - done < batch ? n - done : batch;
    unsigned tail = *sq_tail;
    for (int i = 0; i < k; i++, tail++) {
      struct io_uring_sqe *s = &sqes[tail & sq_mask];
      memset(s, 0, sizeof *s);
      s->opcode = IORING_OP_NOP;
      s->user_data = done + i;
      sq_array[tail & sq_mask] = tail & sq_mask;
    }
    __atomic_store_n(sq_tail, tail, __ATOMIC_RELEASE);
    if (syscall(__NR_io_uring_enter, fd, k, k, IORING_ENTER_GETEVENTS, NULL, 0) < 0) return die("io_uring_enter");
    unsigned head = *cq_head, ctail = __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE);
    for (; head != ctail; head++)
      if (cqes[head & cq_mask].res != 0) return die("nop result");
    __atomic_store_n(cq_head, head, __ATOMIC_RELEASE);
    done += k;
  }
  munmap(sqes, p.sq_entries * sizeof *sqes);
  munmap(ring, ringsz);
  close(fd);
  printf("%llu\n", (unsigned long long)(now_ns() - t0));
  return 0;
}

static int pread_loop(long n, int batch, const char *path) {
  uint64_t t0 = now_ns();
  int fd = open(path, O_RDONLY);
  if (fd < 0) return die("open");
  aio_context_t ctx = 0;
  if (syscall(__NR_io_setup, 64, &ctx) < 0) return die("io_setup");
  static char buf[32][4096];
  struct iocb cb[32], *cbp[32];
  struct io_event ev[32];
  for (long done = 0; done < n;) {
    int k = n - done < batch ? n - done : batch;
    for (int i = 0; i < k; i++) {
      memset(&cb[i], 0, sizeof cb[i]);
      cb[i].aio_lio_opcode = IOCB_CMD_PREAD;
      cb[i].aio_fildes = fd;
      cb[i].aio_buf = (uintptr_t)buf[i];
      cb[i].aio_nbytes = 4096;
      cb[i].aio_offset = ((done + i) % 16) * 4096;
      cbp[i] = &cb[i];
    }
    if (syscall(__NR_io_submit, ctx, k, cbp) != k) return die("io_submit");
    if (syscall(__NR_io_getevents, ctx, k, k, ev, NULL) != k) return die("io_getevents");
    done += k;
  }
  uint64_t d0 = now_ns();
  syscall(__NR_io_destroy, ctx);
  close(fd);
  uint64_t t1 = now_ns();
  // io_destroy waits for an RCU grace period: say how much of the span that was
  printf("%llu %llu\n", (unsigned long long)(t1 - t0), (unsigned long long)(t1 - d0));
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "nop")) return nop(atol(argv[2]), atoi(argv[3]));
  if (argc >= 5 && !strcmp(argv[1], "pread")) return pread_loop(atol(argv[2]), atoi(argv[3]), argv[4]);
  fprintf(stderr, "usage: baseline nop N BATCH | baseline pread N BATCH FILE\n");
  return 2;
}
