/** Synchronous system calls that programs use around the async ones: files, pipes, sysctls. */
import * as path from 'path';
import { AT, KERNEL_TIMESPEC_LAYOUT, O, S_IF, SYSCALLS } from '../abi';
import { arg, Buf, Fd, Sequence, StepRef } from './builder';
import { encodeStruct, place } from './struct';

/** openat(AT_FDCWD, path, flags, mode) into a fresh fd slot. */
export function openat(seq: Sequence, path: string, flags: number, mode = 0o644): { fd: Fd; step: StepRef } {
  const p = seq.program;
  const fd = p.fd();
  const step = seq.syscall(SYSCALLS.openat, [AT.FDCWD.value, arg.buf(p.cstr(path)), flags, mode], { fd });
  return { fd, step };
}

/** A fresh read-write file `name` in directory `dir` (O_CREAT|O_TRUNC, mode 0600), into a fresh fd slot. */
export function scratchFile(seq: Sequence, dir: string, name: string): { fd: Fd; step: StepRef } {
  return openat(seq, path.posix.join(dir, name), O.RDWR.value | O.CREAT.value | O.TRUNC.value | O.CLOEXEC.value, 0o600);
}

/** pipe2 into two fresh fd slots: [read end, write end]. */
export function pipe2(seq: Sequence, flags = 0): { r: Fd; w: Fd; step: StepRef } {
  const p = seq.program;
  const b = p.buf(8);
  const step = seq.syscall(SYSCALLS.pipe2, [arg.buf(b), flags]);
  const r = p.fd();
  const w = p.fd();
  seq.setSlot(r, arg.load32(b, 0));
  seq.setSlot(w, arg.load32(b, 4));
  return { r, w, step };
}

/** pread64 into a buffer. */
export function pread(seq: Sequence, fd: Fd, b: Buf, n: number, off: number | bigint, bufOff = 0): StepRef {
  return seq.syscall(SYSCALLS.pread64, [arg.fd(fd), arg.buf(b, bufOff), n, off]);
}

/** pwrite64 from a buffer. */
export function pwrite(seq: Sequence, fd: Fd, b: Buf, n: number, off: number | bigint, bufOff = 0): StepRef {
  return seq.syscall(SYSCALLS.pwrite64, [arg.fd(fd), arg.buf(b, bufOff), n, off]);
}

/** close(fd); the executor then forgets the slot, so teardown does not close the number again. */
export function close(seq: Sequence, fd: Fd): StepRef {
  return seq.syscall(SYSCALLS.close, [arg.fd(fd)]);
}

/** Read a small text file (a sysctl) through the target: the step's DUMP holds its bytes. */
export function readSmallFile(seq: Sequence, path: string, max = 256): { open: StepRef; read: StepRef; dump: StepRef } {
  const p = seq.program;
  const { fd, step: open } = openat(seq, path, O.RDONLY.value | O.CLOEXEC.value);
  const b = p.buf(max);
  const read = pread(seq, fd, b, max, 0);
  const dump = seq.dump(b);
  close(seq, fd);
  return { open, read, dump };
}

/** mknodat(AT_FDCWD, file, S_IFIFO | mode): a FIFO; an open for reading waits on it until a writer comes (fifo(7)). */
export function mkfifo(seq: Sequence, file: string, mode = 0o600): StepRef {
  return seq.syscall(SYSCALLS.mknodat, [AT.FDCWD.value, arg.buf(seq.program.cstr(file)), S_IF.IFIFO.value | mode, 0]);
}

/** A relative `struct __kernel_timespec` of `ns` nanoseconds (glibc's `struct timespec` is the same on x86-64). */
export function timespec(seq: Sequence, ns: number): Buf {
  const b = seq.program.buf(KERNEL_TIMESPEC_LAYOUT.size);
  place(seq, b, 0, encodeStruct(KERNEL_TIMESPEC_LAYOUT, { tv_sec: Math.floor(ns / 1e9), tv_nsec: ns % 1e9 }));
  return b;
}

/** {@link timespec} of `ms` milliseconds. */
export function timespecMs(seq: Sequence, ms: number): Buf {
  return timespec(seq, ms * 1e6);
}
