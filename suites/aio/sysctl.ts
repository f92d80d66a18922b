/**
 * The AIO sysctls as program steps: fs.aio-nr and fs.aio-max-nr live in the target's kernel (on a VM
 * target, in the guest), so they are read and written by the program, never by the host.
 */
import { O, SYSCALLS } from '../../src/abi';
import { arg, Sequence, StepRef } from '../../src/program/builder';
import { close, openat, readSmallFile } from '../../src/program/sys';
import type { TraceView } from '../../src/program/trace';

/** System-wide count of io_events reserved by io_setup (SEMANTICS §1.5). */
export const AIO_NR = '/proc/sys/fs/aio-nr';
/** The limit io_setup checks that count against. */
export const AIO_MAX_NR = '/proc/sys/fs/aio-max-nr';

/** Steps that read a decimal sysctl; `value(v)` parses it from the trace. */
export function readSysctl(seq: Sequence, file: string): { value: (v: TraceView) => number } {
  const { read, dump } = readSmallFile(seq, file, 64);
  return {
    value: (v) => {
      const n = v.ret(read);
      if (n <= 0) throw new Error(`reading ${file} returned ${n}`);
      return Number.parseInt(v.step(dump).dump!.subarray(0, n).toString('ascii').trim(), 10);
    },
  };
}

/** Steps that write a decimal value to a sysctl; the write step's result is the byte count. */
export function writeSysctl(seq: Sequence, file: string, value: number): { open: StepRef; write: StepRef } {
  const text = Buffer.from(`${value}\n`, 'ascii');
  const { fd, step: open } = openat(seq, file, O.WRONLY.value | O.CLOEXEC.value);
  const b = seq.program.buf(text.length);
  seq.bytes(b, 0, text);
  const write = seq.syscall(SYSCALLS.write, [arg.fd(fd), arg.buf(b), text.length]);
  close(seq, fd);
  return { open, write };
}
