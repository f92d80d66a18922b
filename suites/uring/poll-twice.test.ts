/**
 * Poll arming beyond the one-waitqueue case: a pseudo-terminal, whose poll waits on two queues (the
 * reader's and the writer's), under POLL_ADD, POLL_REMOVE and a READ that has to wait; a multishot
 * POLL_ADD on a descriptor that is ready already; two RECVs racing for one socket's data, the loser
 * waiting again (man io_uring_prep_poll_add, io_uring_prep_poll_multishot, io_uring_prep_recv).
 */
import * as path from 'path';
import { expect } from 'chai';
import { AT, CQE_F, errno, O, POLL, POLL_EV, PTY_IOCTL, SYSCALLS, UMOUNT } from '../../src/abi';
import { arg, Fd, Program, Sequence } from '../../src/program/builder';
import { pipe2 } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import { byUserData, expectSetup, socketpair } from '../../src/oracle/uring-net';

const IN = POLL_EV.IN.value;

/**
 * A pseudo-terminal pair from a devpts instance of its own mounted under `dir` (the kasync VM mounts no
 * /dev/pts): the master, the slave (TIOCGPTPEER), the setup steps, and the unmount to run last.
 */
function pty(s: Sequence, dir: string) {
  const p = s.program;
  const mkdir = s.syscall(SYSCALLS.mkdirat, [AT.FDCWD.value, arg.buf(p.cstr(dir)), 0o755]);
  const mount = s.syscall(SYSCALLS.mount, [
    arg.buf(p.cstr('devpts')),
    arg.buf(p.cstr(dir)),
    arg.buf(p.cstr('devpts')),
    0,
    arg.buf(p.cstr('newinstance,ptmxmode=0600')),
  ]);
  const master = p.fd();
  const ptmx = path.posix.join(dir, 'ptmx');
  const flags = O.RDWR.value | O.NOCTTY.value | O.CLOEXEC.value;
  const open = s.syscall(SYSCALLS.openat, [AT.FDCWD.value, arg.buf(p.cstr(ptmx)), flags, 0], { fd: master });
  const zero = p.buf(4);
  const unlock = s.syscall(SYSCALLS.ioctl, [arg.fd(master), PTY_IOCTL.TIOCSPTLCK.value, arg.buf(zero)]);
  const slave = p.fd();
  const peer = s.syscall(SYSCALLS.ioctl, [arg.fd(master), PTY_IOCTL.TIOCGPTPEER.value, flags], { fd: slave });
  return {
    master,
    slave,
    setup: [mkdir, mount, open, unlock, peer],
    umount: () => s.syscall(SYSCALLS.umount2, [arg.buf(p.cstr(dir)), UMOUNT.DETACH.value]),
  };
}

/** write(2) of literal bytes. */
function write(s: Sequence, fd: Fd, text: string) {
  const b = s.program.data(Buffer.from(text));
  return s.syscall(SYSCALLS.write, [arg.fd(fd), arg.buf(b), text.length]);
}

conformance(
  'uring.POLL_ADD, POLL_REMOVE and READ on a pseudo-terminal master (a poll on two waitqueues) wait for the slave and complete once',
  {
    ops: ['uring.POLL_ADD', 'uring.POLL_REMOVE', 'uring.READ'],
    rule: 'man io_uring_prep_poll_add (res is the ready mask), io_uring_prep_poll_remove (-ECANCELED for the removed poll), io_uring_prep_read; pty(7)',
    needs: { root: true },
  },
  async ({ target, scratch }) => {
    const [POLL1, POLL2, REMOVE, READ] = [0x7a0n, 0x7a1n, 0x7a2n, 0x7a3n];
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const t = pty(s, path.posix.join(scratch, 'pts'));
    const out = p.buf(64);
    // a poll that the slave's write completes, and one that POLL_REMOVE ends
    const armed = submit(s, h, [
      sqe({ opcode: 'POLL_ADD', fd: t.master, poll32_events: IN, user_data: POLL1 }),
      sqe({ opcode: 'POLL_ADD', fd: t.master, poll32_events: POLL_EV.PRI.value, user_data: POLL2 }),
    ]);
    const quiet = reap(s, h, 0, 4, 50);
    const w1 = write(s, t.slave, 'hello');
    const ready = reap(s, h, 1, 4);
    const removed = submit(s, h, [sqe({ opcode: 'POLL_REMOVE', fd: -1, addr: POLL2, user_data: REMOVE })]);
    const gone = reap(s, h, 2, 4);
    const drain = s.syscall(SYSCALLS.read, [arg.fd(t.master), arg.buf(out), 64]);
    // nothing to read: the READ waits (polled, or in a worker) until the slave writes again
    const read = submit(s, h, [sqe({ opcode: 'READ', fd: t.master, addr: arg.buf(out), len: 64, user_data: READ })]);
    const waiting = reap(s, h, 0, 4, 50);
    const w2 = write(s, t.slave, 'again');
    const done = reap(s, h, 1, 4);
    const dump = s.dump(out, 0, 5);
    const umount = t.umount();
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [...t.setup, w1, w2], 'devpts, the pty pair and the writes');
    expect(v.ret(armed.enter), 'two POLL_ADDs submitted').to.equal(2);
    expect(v.step(quiet).cqes, 'nothing to read on the master: no CQE').to.deep.equal([]);
    const r = v.step(ready).cqes.map((q) => [q.userData, q.res & IN, q.flags & CQE_F.MORE.value]);
    expect(r, 'the slave writes: the POLLIN poll completes once with POLLIN, without F_MORE').to.deep.equal([
      [POLL1, IN, 0],
    ]);
    expect(v.ret(removed.enter), 'POLL_REMOVE submitted').to.equal(1);
    expect(
      byUserData(v.step(gone).cqes),
      'POLL_REMOVE finds the POLLPRI poll: it ends -ECANCELED, the remove 0',
    ).to.deep.equal([
      [POLL2, -errno.ECANCELED],
      [REMOVE, 0],
    ]);
    expect(v.ret(drain), "read(2) takes the slave's 5 bytes").to.equal(5);
    expect(v.ret(read.enter), 'READ submitted').to.equal(1);
    expect(v.step(waiting).cqes, 'nothing to read: the READ waits').to.deep.equal([]);
    expect(byUserData(v.step(done).cqes), 'the slave writes again: READ returns its 5 bytes').to.deep.equal([
      [READ, 5],
    ]);
    expect(v.step(dump).dump!.toString(), 'the bytes the slave wrote').to.equal('again');
    expect(v.ret(umount), 'umount2 of the devpts instance').to.equal(0);
  },
);

conformance(
  'uring.POLL_ADD multishot on a descriptor that is ready already posts a CQE with F_MORE at once, and one per later event',
  { ops: ['uring.POLL_ADD', 'uring.POLL_REMOVE'], rule: 'man io_uring_prep_poll_multishot' },
  async ({ target }) => {
    const [MULTI, REMOVE] = [0x7b0n, 0x7b1n];
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const pipe = pipe2(s, O.CLOEXEC.value | O.NONBLOCK.value);
    const sink = p.buf(8);
    const first = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(sink), 1]);
    const sub = submit(s, h, [
      sqe({ opcode: 'POLL_ADD', fd: pipe.r, poll32_events: IN, len: POLL.ADD_MULTI.value, user_data: MULTI }),
    ]);
    const now = reap(s, h, 1, 4);
    const read = s.syscall(SYSCALLS.read, [arg.fd(pipe.r), arg.buf(sink), 8]);
    const second = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(sink), 1]);
    const later = reap(s, h, 1, 4);
    const rm = submit(s, h, [sqe({ opcode: 'POLL_REMOVE', fd: -1, addr: MULTI, user_data: REMOVE })]);
    const end = reap(s, h, 2, 4);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [pipe.step, first, second, read], 'pipe, writes and read');
    expect(v.ret(rm.enter), 'io_uring_enter took the POLL_REMOVE').to.equal(1);
    expect(v.ret(sub.enter), 'POLL_ADD submitted').to.equal(1);
    const show = (ref: typeof now) =>
      v.step(ref).cqes.map((q) => [q.userData, q.res < 0 ? q.res : q.res & IN, q.flags & CQE_F.MORE.value]);
    expect(show(now), 'the pipe holds a byte: a POLLIN CQE with F_MORE right away').to.deep.equal([
      [MULTI, IN, CQE_F.MORE.value],
    ]);
    expect(show(later), 'drained and written again: another POLLIN CQE with F_MORE').to.deep.equal([
      [MULTI, IN, CQE_F.MORE.value],
    ]);
    expect(
      show(end).sort((a, b) => Number(a[0]) - Number(b[0])),
      'POLL_REMOVE ends it: -ECANCELED without F_MORE; the remove 0',
    ).to.deep.equal([
      [MULTI, -errno.ECANCELED, 0],
      [REMOVE, 0, 0],
    ]);
  },
);

conformance(
  'uring.RECV: two RECVs wait on one empty socket; data for one completes one, the other waits on and takes the next data',
  { ops: ['uring.RECV'], rule: 'man io_uring_prep_recv (a RECV with nothing to read waits for data); recv(2)' },
  async ({ target }) => {
    const [A, B] = [0x7c0n, 0x7c1n];
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const pair = socketpair(s);
    const bufs = [p.buf(100), p.buf(100)];
    const sub = submit(
      s,
      h,
      [A, B].map((ud, i) => sqe({ opcode: 'RECV', fd: pair.y, addr: arg.buf(bufs[i]), len: 100, user_data: ud })),
    );
    const quiet = reap(s, h, 0, 4, 50);
    const w1 = write(s, pair.x, 'x'.repeat(100));
    const one = reap(s, h, 1, 4);
    const still = reap(s, h, 0, 4, 50);
    const w2 = write(s, pair.x, 'y'.repeat(50));
    const two = reap(s, h, 1, 4);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [pair.step, w1, w2], 'socketpair and writes');
    expect(v.ret(sub.enter), 'both RECVs submitted').to.equal(2);
    expect(v.step(quiet).cqes, 'an empty socket: both wait').to.deep.equal([]);
    const first = v.step(one).cqes;
    expect(
      first.map((q) => q.res),
      '100 bytes arrive: one RECV takes all of them (recv(2) on a stream socket)',
    ).to.deep.equal([100]);
    expect(v.step(still).cqes, 'the other one finds nothing and waits again').to.deep.equal([]);
    const second = v.step(two).cqes;
    expect(
      second.map((q) => [q.userData, q.res]),
      'the next 50 bytes complete the other RECV',
    ).to.deep.equal([[first[0].userData === A ? B : A, 50]]);
  },
);
