/**
 * Shared pieces of the io_uring socket, timeout and cancellation suites: loopback and AF_UNIX fixtures
 * (socketpairs, 127.0.0.1 listeners on a port the kernel picks), sockaddr/msghdr/timespec bytes, CQE
 * views, and the gate for op flags the probe cannot see. Network fixtures never leave the machine.
 */
import { expect } from 'chai';
import {
  AF,
  IOVEC_LAYOUT,
  releasedBy,
  SOCK_FLAG,
  SOCK_TYPE,
  SOCKET_CONST,
  SYSCALLS,
  describeErrno,
  errno,
  type AbiEntry,
} from '../abi';
import type { Capabilities } from '../target/caps';
import type { Target } from '../target/target';
import { arg, Buf, Fd, Program, Sequence, StepRef } from '../program/builder';
import { encodeStruct, placeAll } from '../program/struct';
import type { Cqe, StepResult, TraceView } from '../program/trace';
import { reap, RingHandle, sqe, SqeSpec, submit } from '../program/uring';

/**
 * Socket syscalls and options src/abi does not list yet (x86-64, `<asm/unistd_64.h>`,
 * `<asm-generic/socket.h>`, `<netinet/in.h>`); local until src/abi gains them.
 */
export const NET = Object.freeze({
  SYS_getsockname: 51,
  SYS_getpeername: 52,
  SYS_getsockopt: 55,
  SO_TYPE: 3,
  SO_ACCEPTCONN: 30,
  SO_PROTOCOL: 38,
  SO_DOMAIN: 39,
  IPPROTO_UDP: 17,
  /** `sizeof(struct sockaddr_in)`. */
  SOCKADDR_IN_SIZE: 16,
  /** `sizeof(struct msghdr)` on x86-64. */
  MSGHDR_SIZE: 56,
});

/** `struct msghdr` field offsets on x86-64 (`<sys/socket.h>`). */
export const MSGHDR = Object.freeze({
  name: 0,
  namelen: 8,
  iov: 16,
  iovlen: 24,
  control: 32,
  controllen: 40,
  flags: 48,
});

/** `struct sockaddr_in` for 127.0.0.1 and `port` (0: the kernel picks one at bind). */
export function loopbackAddr(port = 0): Buffer {
  const b = Buffer.alloc(NET.SOCKADDR_IN_SIZE);
  b.writeUInt16LE(AF.INET.value, 0);
  b.writeUInt16BE(port, 2);
  Buffer.from([127, 0, 0, 1]).copy(b, 4);
  return b;
}

/** socketpair(AF_UNIX, type | SOCK_CLOEXEC) into two fresh fd slots. */
export function socketpair(s: Sequence, type = SOCK_TYPE.STREAM.value): { x: Fd; y: Fd; step: StepRef } {
  const p = s.program;
  const b = p.buf(8);
  const step = s.syscall(SYSCALLS.socketpair, [AF.UNIX.value, type | SOCK_FLAG.CLOEXEC.value, 0, arg.buf(b)]);
  const [x, y] = [p.fd(), p.fd()];
  s.setSlot(x, arg.load32(b, 0));
  s.setSlot(y, arg.load32(b, 4));
  return { x, y, step };
}

/** socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) into a fresh fd slot. */
export function tcpSocket(s: Sequence): { fd: Fd; step: StepRef } {
  const fd = s.program.fd();
  const step = s.syscall(SYSCALLS.socket, [AF.INET.value, SOCK_TYPE.STREAM.value | SOCK_FLAG.CLOEXEC.value, 0], { fd });
  return { fd, step };
}

/** getsockname(fd) into `addr` (16 bytes); its length word goes to a fresh buffer. */
export function getsockname(s: Sequence, fd: Fd, addr: Buf): StepRef {
  const len = s.program.buf(4);
  s.patch(len, 0, 4, addr.size);
  return s.syscall(NET.SYS_getsockname, [arg.fd(fd), arg.buf(addr), arg.buf(len)]);
}

/** A 127.0.0.1 TCP listener on a port the kernel picks; `addr` holds its address (for connect). */
export interface Listener {
  fd: Fd;
  /** The bound sockaddr_in, written by getsockname. */
  addr: Buf;
  /** socket, bind, listen, getsockname: each must return 0 (fd >= 0 for socket). */
  steps: StepRef[];
}

/** socket + bind(127.0.0.1:0) + listen(backlog) + getsockname. */
export function tcpListener(s: Sequence, backlog = 8): Listener {
  const { fd, step } = tcpSocket(s);
  const addr = s.program.data(loopbackAddr());
  const bind = s.syscall(SYSCALLS.bind, [arg.fd(fd), arg.buf(addr), NET.SOCKADDR_IN_SIZE]);
  const listen = s.syscall(SYSCALLS.listen, [arg.fd(fd), backlog]);
  return { fd, addr, steps: [step, bind, listen, getsockname(s, fd, addr)] };
}

/** getsockopt(fd, SOL_SOCKET, opt) of an int option: the step and the buffer holding the value. */
export function sockoptInt(s: Sequence, fd: Fd, opt: number): { step: StepRef; val: Buf } {
  const val = s.program.buf(4);
  const len = s.program.buf(4);
  s.patch(len, 0, 4, 4);
  const step = s.syscall(NET.SYS_getsockopt, [
    arg.fd(fd),
    SOCKET_CONST.SOL_SOCKET.value,
    opt,
    arg.buf(val),
    arg.buf(len),
  ]);
  return { step, val };
}

/** The int a {@link sockoptInt} read, or the getsockopt error as -errno. */
export function sockoptValue(v: TraceView, o: { step: StepRef; val: Buf }, dump: StepRef): number {
  const r = v.ret(o.step);
  return r < 0 ? r : v.step(dump).dump!.readInt32LE(0);
}

/** A msghdr over `segments` ([offset, length]) of `data`, without a name or control data. */
export function msghdr(s: Sequence, data: Buf, segments: readonly (readonly [number, number])[]): Buf {
  const p = s.program;
  const iov = p.buf(IOVEC_LAYOUT.size * segments.length);
  placeAll(
    s,
    iov,
    0,
    segments.map(([off, len]) => encodeStruct(IOVEC_LAYOUT, { iov_base: arg.buf(data, off), iov_len: len })),
  );
  const m = p.buf(NET.MSGHDR_SIZE);
  s.patch(m, MSGHDR.iov, 8, arg.buf(iov));
  s.patch(m, MSGHDR.iovlen, 8, segments.length);
  return m;
}

/** A CQE as `[user_data, res, flags]`, the shape tests compare. */
export type CqeTuple = [bigint, number, number];

/** Every CQE the steps reaped, in reap order. */
export function reaped(v: TraceView, ...steps: StepRef[]): Cqe[] {
  return steps.flatMap((r) => v.step(r).cqes);
}

/** The CQEs as `[user_data, res]`, sorted by user_data (order between requests is not promised). */
export function byUserData(cqes: Cqe[]): [bigint, number][] {
  return cqes.map((q): [bigint, number] => [q.userData, q.res]).sort((a, b) => Number(a[0] - b[0]));
}

/** Milliseconds between the start of one step and the end of another (CLOCK_MONOTONIC of the executor). */
export function elapsedMs(from: StepResult, to: StepResult): number {
  return Number(to.t1Ns - from.t0Ns) / 1e6;
}

/**
 * Op flags (`IORING_NOP_INJECT_RESULT`, `IORING_TIMEOUT_MULTISHOT`, `IORING_ASYNC_CANCEL_OP`) are not
 * in IORING_REGISTER_PROBE: only the kernel's answer tells. A flag refused with -EINVAL, or ignored where
 * `ignored` says what that looks like, is missing only when mainline did not have it yet at this
 * kernel's release; then the test skips with that reason. On a kernel that should have it, the same
 * answer is a failure like any other wrong result.
 */
export function flagMissing(
  caps: Capabilities,
  flag: AbiEntry,
  res: number | undefined,
  ignored?: number,
): string | undefined {
  const since = flag.since;
  if (!since || releasedBy(since, caps.kernel)) return undefined;
  const [what, why] = [`${flag.cName} (mainline ${since})`, 'the probe does not cover op flags'];
  if (res === -errno.EINVAL) return `${what} refused with -EINVAL by kernel ${caps.kernel}; ${why}`;
  if (ignored !== undefined && res === ignored) return `${what} ignored by kernel ${caps.kernel} (res ${res}); ${why}`;
  return undefined;
}

/** One SQE submitted on its own and its completion reaped: the async side of a twin. */
export interface OneShot {
  userData: bigint;
  enter: StepRef;
  reap: StepRef;
}

/** Submit one SQE (its user_data set to `userData`) and reap its CQE. */
export function oneShot(s: Sequence, h: RingHandle, spec: Omit<SqeSpec, 'user_data'>, userData: bigint): OneShot {
  const sub = submit(s, h, [sqe({ ...spec, user_data: userData })], 1);
  return { userData, enter: sub.enter, reap: reap(s, h, 1, 2) };
}

/** The `res` of a {@link oneShot}, after checking it completed exactly once (SEMANTICS §3.3). */
export function resOf(v: TraceView, o: OneShot): number {
  expect(v.ret(o.enter), `io_uring_enter consumes SQE 0x${o.userData.toString(16)} (SEMANTICS §3.5)`).to.equal(1);
  const cqes = v.step(o.reap).cqes;
  expect(
    cqes.map((q) => q.userData),
    `one CQE, carrying user_data 0x${o.userData.toString(16)} (SEMANTICS §3.3)`,
  ).to.deep.equal([o.userData]);
  return cqes[0].res;
}

/** Each step returned 0 (setup steps that must not fail; a socket's fd counts as success). */
export function expectSetup(v: TraceView, steps: StepRef[], what: string): void {
  for (const st of steps) {
    const r = v.ret(st);
    if (r < 0) throw new Error(`${what}: step ${st.index} failed with ${describeErrno(-r)}`);
  }
}

/** ioctl(2) and the interface-flag requests (`<asm/unistd_64.h>`, `<linux/sockios.h>`, `<net/if.h>`); local. */
const IFCTL = Object.freeze({
  SYS_ioctl: 16,
  SIOCGIFFLAGS: 0x8913,
  SIOCSIFFLAGS: 0x8914,
  IFF_UP: 0x1,
  IFREQ_SIZE: 40,
  FLAGS_OFF: 16,
});

/**
 * Make sure 127.0.0.1 is reachable before a TCP test: the kasync VM's init leaves `lo` down (connect
 * fails with -ENETUNREACH), so on a VM target, whose guest kasync booted for tests, `lo` is brought up;
 * anywhere else a down `lo` is a missing requirement and the test skips. Only `lo` is ever touched.
 */
export async function loopbackReady(target: Target, skip: (reason: string) => never): Promise<void> {
  const read = new Program();
  const s = read.main;
  const fd = read.fd();
  const sock = s.syscall(SYSCALLS.socket, [AF.INET.value, SOCK_TYPE.DGRAM.value | SOCK_FLAG.CLOEXEC.value, 0], { fd });
  const ifrFull = read.buf(IFCTL.IFREQ_SIZE);
  s.bytes(ifrFull, 0, Buffer.from('lo\0'));
  const get = s.syscall(IFCTL.SYS_ioctl, [arg.fd(fd), IFCTL.SIOCGIFFLAGS, arg.buf(ifrFull)]);
  const dump = s.dump(ifrFull);
  const v = await target.run(read);
  if (v.ret(sock) < 0 || v.ret(get) < 0)
    skip(`cannot read the flags of lo: ${describeErrno(-Math.min(v.ret(sock), v.ret(get)))}`);
  const flags = v.step(dump).dump!.readUInt16LE(IFCTL.FLAGS_OFF);
  if (flags & IFCTL.IFF_UP) return;
  if (!target.name.startsWith('vm:')) skip(`the loopback interface lo is down on ${target.name}`);
  const up = new Program();
  const fd2 = up.fd();
  up.main.syscall(SYSCALLS.socket, [AF.INET.value, SOCK_TYPE.DGRAM.value | SOCK_FLAG.CLOEXEC.value, 0], { fd: fd2 });
  const b = up.buf(IFCTL.IFREQ_SIZE);
  up.main.bytes(b, 0, Buffer.from('lo\0'));
  up.main.patch(b, IFCTL.FLAGS_OFF, 2, flags | IFCTL.IFF_UP);
  const set = up.main.syscall(IFCTL.SYS_ioctl, [arg.fd(fd2), IFCTL.SIOCSIFFLAGS, arg.buf(b)]);
  const r = (await target.run(up)).ret(set);
  if (r < 0) skip(`the loopback interface lo is down on ${target.name} and cannot be brought up: ${describeErrno(-r)}`);
}
