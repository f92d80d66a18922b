/**
 * Registered resources while requests use them, and what they cost an unprivileged process:
 * unregistering a buffer or file table while a request that uses it is still in flight succeeds, the
 * request completes normally (here: cancelled by its link timeout), and later requests no longer find
 * the table, also on a DEFER_TASKRUN ring, whose task work the unregister must run while it waits (6.1 does not:
 * a known kernel bug); an unprivileged ring charges registered buffers (and zerocopy sends) to RLIMIT_MEMLOCK.
 * man io_uring_register(2) IORING_UNREGISTER_BUFFERS / FILES, ENOMEM; io_uring_prep_send_zc(3).
 */
import { expect } from 'chai';
import { CQE_F, errno, IOSQE, MSG, REGISTER, RLIMIT, SOCK_FLAG, SYSCALLS } from '../../src/abi';
import { arg, Program, Sequence } from '../../src/program/builder';
import { pipe2, timespecMs } from '../../src/program/sys';
import { reap, RingHandle, setupRing, sqe, submit } from '../../src/program/uring';
import { iovecArray, registerBuffers, registerFiles } from '../../src/oracle/uring-files';
import { dropToNobody } from '../../src/oracle/creds';
import { conformance, needSetupFlags } from '../../src/suite/conformance';
import { RSRC_QUIESCE_DEFER_TASKRUN } from '../../src/suite/known-bugs';
import type { Target } from '../../src/target/target';
import { byUserData, expectSetup, loopbackReady, NET, reaped, tcpListener, tcpSocket } from '../../src/oracle/uring-net';

type TableKind = 'BUFFERS' | 'FILES';

/**
 * One ring set up with `flags`: a table of one buffer (or file), a READ_FIXED of an empty pipe (or a READ of
 * fixed file 0) linked to a 100 ms LINK_TIMEOUT, IORING_UNREGISTER_<kind> while the read waits, a reap of
 * both CQEs, then a read that must no longer find the table. The program's 3 s deadline bounds an unregister
 * that never returns: its step ends -EINTR at the deadline signal, which the checks report as a failure.
 */
async function unregisterInFlight(target: Target, kind: TableKind, what: string, flags: number) {
  const p = new Program({ deadlineMs: 3000 });
  const s = p.main;
  const h = setupRing(s, { entries: 8, flags });
  const pipe = pipe2(s);
  const buf = p.buf(4096, 4096);
  const reg = kind === 'BUFFERS' ? registerBuffers(s, h, [buf]) : registerFiles(s, h, [pipe.r]);
  const base = 0xd00n;
  const read =
    kind === 'BUFFERS'
      ? { opcode: 'READ_FIXED' as const, fd: pipe.r, addr: arg.buf(buf), len: 64, buf_index: 0 }
      : { opcode: 'READ' as const, fd: 0, addr: arg.buf(buf), len: 64, flags: IOSQE.FIXED_FILE.value };
  // an empty pipe: the read waits until its link timeout cancels it
  const sub = submit(s, h, [
    sqe({ ...read, flags: (read.flags ?? 0) | IOSQE.IO_LINK.value, user_data: base }),
    sqe({ opcode: 'LINK_TIMEOUT', fd: -1, addr: arg.buf(timespecMs(s, 100)), len: 1, user_data: base + 1n }),
  ]);
  const unreg = s.syscall(SYSCALLS.io_uring_register, [
    arg.ring(h.ring),
    (kind === 'BUFFERS' ? REGISTER.UNREGISTER_BUFFERS : REGISTER.UNREGISTER_FILES).value,
    0,
    0,
  ]);
  const got = reap(s, h, 2, 4);
  const after = submit(s, h, [sqe({ ...read, user_data: base + 2n })]);
  const late = reap(s, h, 1, 4);
  const v = await target.run(p);
  expect(v.ret(h.setup), `io_uring_setup of ${what}`).to.be.at.least(0);
  expectSetup(v, [pipe.step], 'pipe');
  expect(v.ret(reg), `${what}: IORING_REGISTER_${kind}`).to.equal(0);
  expect(v.ret(sub.enter), `${what}: the read and its LINK_TIMEOUT submitted`).to.equal(2);
  expect(v.ret(unreg), `${what}: IORING_UNREGISTER_${kind} with the read in flight`).to.equal(0);
  expect(
    byUserData(v.step(got).cqes),
    `${what}: the read ends -ECANCELED by its timeout, which ends -ETIME (SEMANTICS §3.10)`,
  ).to.deep.equal([
    [base, -errno.ECANCELED],
    [base + 1n, -errno.ETIME],
  ]);
  expect(v.ret(after.enter), `${what}: a read after the unregister is submitted`).to.equal(1);
  // no table any more: a fixed buffer index is -EFAULT, a fixed file index -EBADF
  expect(
    byUserData(v.step(late).cqes),
    `${what}: it finds no table (${kind === 'BUFFERS' ? '-EFAULT' : '-EBADF'})`,
  ).to.deep.equal([[base + 2n, kind === 'BUFFERS' ? -errno.EFAULT : -errno.EBADF]]);
}

for (const kind of ['BUFFERS', 'FILES'] as const) {
  const ops = ['uring.register', kind === 'BUFFERS' ? 'uring.READ_FIXED' : 'uring.READ', 'uring.LINK_TIMEOUT'];
  const rule = `man io_uring_register(2) IORING_UNREGISTER_${kind}; SEMANTICS §3.10 (LINK_TIMEOUT fires: the target -ECANCELED, the timeout -ETIME); §3.3 (every request completes once)`;
  conformance(
    `uring UNREGISTER_${kind} while a request using the table is in flight: 0, the request completes as it would have, later ones no longer find the table`,
    { ops, rule },
    ({ target }) => unregisterInFlight(target, kind, 'a plain ring', 0),
  );

  // the unregister waits for the read, whose cancellation is task work that a DEFER_TASKRUN ring runs only
  // when its task waits: here that task is the one inside the unregister (6.1 sleeps without running it)
  conformance(
    `uring UNREGISTER_${kind} on a DEFER_TASKRUN ring while a request using the table is in flight: the call runs the ring's task work, returns 0, the request completes`,
    {
      ops: [...ops, 'uring.setup'],
      rule: `${rule}; man io_uring_setup(2) IORING_SETUP_DEFER_TASKRUN (task work runs when the task waits for completions); kernel 7d481e035633 "io_uring/rsrc: fix DEFER_TASKRUN rsrc quiesce"`,
      knownBug: RSRC_QUIESCE_DEFER_TASKRUN,
    },
    (ctx) => {
      const flags = needSetupFlags(ctx, 'SINGLE_ISSUER', 'DEFER_TASKRUN');
      return unregisterInFlight(ctx.target, kind, 'a DEFER_TASKRUN ring', flags);
    },
  );
}

/** setrlimit(RLIMIT_MEMLOCK, {bytes, bytes}). */
function memlock(s: Sequence, bytes: number) {
  const b = s.program.buf(16);
  s.patch(b, 0, 8, bytes);
  s.patch(b, 8, 8, bytes);
  return s.syscall(SYSCALLS.setrlimit, [RLIMIT.MEMLOCK.value, arg.buf(b)]);
}

/** IORING_REGISTER_BUFFERS of one iovec: `len` bytes of a page-aligned buffer. */
function registerOne(s: Sequence, h: RingHandle, len: number) {
  const b = s.program.buf(len, 4096);
  return s.syscall(SYSCALLS.io_uring_register, [
    arg.ring(h.ring),
    REGISTER.BUFFERS.value,
    arg.buf(iovecArray(s, [[b, 0, len]])),
    1,
  ]);
}

conformance(
  'uring as an unprivileged process: registered buffers count against RLIMIT_MEMLOCK (-ENOMEM past it, room again after unregistering); SEND_ZC works within it',
  {
    ops: ['uring.register', 'uring.SEND_ZC'],
    rule: 'man io_uring_register(2) ENOMEM ("tried to lock more memory than the RLIMIT_MEMLOCK limit permitted… not enforced if the process is privileged (CAP_IPC_LOCK)"); man io_uring_prep_send_zc',
    needs: { root: true },
  },
  async ({ target, skip }) => {
    await loopbackReady(target, skip);
    const LIMIT = 64 << 10;
    const UD = 0xe00n;
    const p = new Program();
    const s = p.main;
    const lim = memlock(s, LIMIT);
    const drop = dropToNobody(s);
    // the ring of a process without CAP_IPC_LOCK accounts pinned pages to its user
    const h = setupRing(s, { entries: 8 });
    const tooBig = registerOne(s, h, 2 * LIMIT);
    const fits = registerOne(s, h, LIMIT / 2);
    const second = registerOne(s, h, LIMIT / 2);
    const unreg = s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.UNREGISTER_BUFFERS.value, 0, 0]);
    const again = registerOne(s, h, LIMIT / 2);
    const unreg2 = s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.UNREGISTER_BUFFERS.value, 0, 0]);
    // a zerocopy send pins (and charges) its pages until the notification
    const l = tcpListener(s);
    const c = tcpSocket(s);
    const conn = s.syscall(SYSCALLS.connect, [arg.fd(c.fd), arg.buf(l.addr), NET.SOCKADDR_IN_SIZE]);
    const server = p.fd();
    const acc = s.syscall(SYSCALLS.accept4, [arg.fd(l.fd), 0, 0, SOCK_FLAG.CLOEXEC.value], { fd: server });
    const src = p.buf(16 << 10, 4096);
    s.fillPattern(src, 0, src.size, 0x3e1);
    const dst = p.buf(src.size);
    const sub = submit(s, h, [
      sqe({
        opcode: 'SEND_ZC',
        fd: c.fd,
        addr: arg.buf(src),
        len: src.size,
        msg_flags: MSG.NOSIGNAL.value,
        user_data: UD,
      }),
      sqe({
        opcode: 'RECV',
        fd: server,
        addr: arg.buf(dst),
        len: dst.size,
        msg_flags: MSG.WAITALL.value,
        user_data: UD + 1n,
      }),
    ]);
    const got = reap(s, h, 3, 4);
    const more = reap(s, h, 0, 4, 0);
    const check = s.verify(dst, 0, dst.size, 0x3e1);
    const v = await target.run(p);
    expectSetup(v, [lim, ...drop], 'setrlimit and the drop to uid 65534');
    expect(v.ret(h.setup), 'io_uring_setup as uid 65534').to.be.at.least(0);
    expect(v.ret(tooBig), 'registering twice RLIMIT_MEMLOCK: -ENOMEM').to.equal(-errno.ENOMEM);
    expect(v.ret(fits), 'registering half of it: 0').to.equal(0);
    expect(v.ret(second), 'a second table while the first is registered: -EBUSY (one table per ring)').to.equal(
      -errno.EBUSY,
    );
    expect(v.ret(unreg), 'UNREGISTER_BUFFERS').to.equal(0);
    expect(v.ret(again), 'after unregistering, the same amount fits again: 0').to.equal(0);
    expect(v.ret(unreg2), 'UNREGISTER_BUFFERS again').to.equal(0);
    expectSetup(v, [...l.steps, c.step, conn, acc], 'loopback connection');
    expect(v.ret(sub.enter), 'SEND_ZC and RECV submitted').to.equal(2);
    const cqes = reaped(v, got, more);
    expect(
      cqes.map((q) => [q.userData, q.res, q.flags & (CQE_F.MORE.value | CQE_F.NOTIF.value)]).sort((a, b) =>
        Number(a[0]) - Number(b[0]) || Number(a[2]) - Number(b[2]),
      ),
      'SEND_ZC: the result with F_MORE and a notification; RECV gets every byte',
    ).to.deep.equal([
      [UD, src.size, CQE_F.MORE.value],
      [UD, 0, CQE_F.NOTIF.value],
      [UD + 1n, src.size, 0],
    ]);
    expect(v.step(check).verify!.mismatches, 'the bytes sent').to.equal(0);
  },
);
