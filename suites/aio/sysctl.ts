/**
 * The AIO sysctls as program steps: fs.aio-nr and fs.aio-max-nr live in the target's kernel (on a VM
 * target, in the guest), so they are read and written by the program, never by the host. Reading is
 * src/oracle/aio-nr.ts's readDecimal.
 */
import { O, SYSCALLS } from '../../src/abi';
import { arg, Sequence, StepRef } from '../../src/program/builder';
import { close, openat } from '../../src/program/sys';

/** The limit io_setup checks that count against. */
export const AIO_MAX_NR = '/proc/sys/fs/aio-max-nr';

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
