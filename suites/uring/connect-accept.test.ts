/**
 * IORING_OP_CONNECT and IORING_OP_ACCEPT (and multishot accept) against connect(2) and accept4(2), on
 * 127.0.0.1 listeners the test makes (man io_uring_prep_connect, io_uring_prep_accept).
 */
import { expect } from 'chai';
import { ACCEPT, CQE_F, errno, SOCK_FLAG, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { close, scratchFile } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import {
  expectSetup,
  getsockname,
  loopbackAddr,
  loopbackReady,
  NET,
  oneShot,
  reaped,
  resOf,
  tcpListener,
  tcpSocket,
} from '../../src/oracle/uring-net';

conformance(
  'uring.CONNECT connects to a 127.0.0.1 listener like connect(2) and fails like it',
  { ops: ['uring.CONNECT'], rule: 'man io_uring_prep_connect' },
  async ({ target, scratch, skip }) => {
    await loopbackReady(target, skip);
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const l = tcpListener(s);
    // a port that was bound a moment ago and is closed now: nothing listens there
    const gone = tcpSocket(s);
    const goneAddr = p.data(loopbackAddr());
    const goneSetup = [
      gone.step,
      s.syscall(SYSCALLS.bind, [arg.fd(gone.fd), arg.buf(goneAddr), NET.SOCKADDR_IN_SIZE]),
      getsockname(s, gone.fd, goneAddr),
      close(s, gone.fd),
    ];
    const file = scratchFile(s, scratch, 'not-a-socket');
    const cases = [
      { what: 'the listener', addr: l.addr, on: 'fresh', want: 0 },
      { what: 'the listener again, from a connected socket', addr: l.addr, on: 'connected', want: -errno.EISCONN },
      { what: 'a closed loopback port', addr: goneAddr, on: 'fresh', want: -errno.ECONNREFUSED },
      { what: 'the listener, from a regular file', addr: l.addr, on: 'file', want: -errno.ENOTSOCK },
    ] as const;
    const runs = cases.map((c, i) => {
      const fds = [0, 1].map(() => {
        if (c.on === 'file') return { fd: file.fd, steps: [file.step] };
        const t = tcpSocket(s);
        const steps = [t.step];
        if (c.on === 'connected')
          steps.push(s.syscall(SYSCALLS.connect, [arg.fd(t.fd), arg.buf(l.addr), NET.SOCKADDR_IN_SIZE]));
        return { fd: t.fd, steps };
      });
      const sync = s.syscall(SYSCALLS.connect, [arg.fd(fds[0].fd), arg.buf(c.addr), NET.SOCKADDR_IN_SIZE]);
      // liburing io_uring_prep_connect: addr = sockaddr, off = addrlen
      const one = oneShot(
        s,
        h,
        { opcode: 'CONNECT', fd: fds[1].fd, addr: arg.buf(c.addr), off: NET.SOCKADDR_IN_SIZE },
        BigInt(0xc0 + i),
      );
      const peer = p.buf(NET.SOCKADDR_IN_SIZE);
      const plen = p.buf(4);
      s.patch(plen, 0, 4, NET.SOCKADDR_IN_SIZE);
      const getpeer = s.syscall(NET.SYS_getpeername, [arg.fd(fds[1].fd), arg.buf(peer), arg.buf(plen)]);
      return { c, setup: fds.flatMap((f) => f.steps), sync, one, getpeer, peer: s.dump(peer) };
    });
    const listenerAddr = s.dump(l.addr);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [...l.steps, ...goneSetup], 'listener and closed port');
    for (const r of runs) {
      expectSetup(v, r.setup, `fixture of "${r.c.what}"`);
      expect(v.ret(r.sync), `connect(2) to ${r.c.what}`).to.equal(r.c.want);
      expect(
        resOf(v, r.one),
        `CONNECT to ${r.c.what}: the same result as connect(2) (man io_uring_prep_connect)`,
      ).to.equal(r.c.want);
      if (r.c.want !== 0) continue;
      expect(v.ret(r.getpeer), 'getpeername of the socket CONNECT connected').to.equal(0);
      expect(v.step(r.peer).dump!.equals(v.step(listenerAddr).dump!), 'its peer is the listener').to.equal(true);
    }
  },
);

conformance(
  'uring.ACCEPT takes a connection like accept4(2) and fails like it',
  { ops: ['uring.ACCEPT'], rule: 'man io_uring_prep_accept' },
  async ({ target, scratch, skip }) => {
    await loopbackReady(target, skip);
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const l = tcpListener(s);
    // two clients in the accept queue: accept4(2) takes the first, ACCEPT the second (FIFO)
    const clients = [0, 1].map(() => {
      const t = tcpSocket(s);
      const conn = s.syscall(SYSCALLS.connect, [arg.fd(t.fd), arg.buf(l.addr), NET.SOCKADDR_IN_SIZE]);
      const name = p.buf(NET.SOCKADDR_IN_SIZE);
      return { setup: [t.step, conn, getsockname(s, t.fd, name)], name: s.dump(name) };
    });
    const addrs = [0, 1].map(() => {
      const a = p.buf(NET.SOCKADDR_IN_SIZE);
      const len = p.buf(4);
      s.patch(len, 0, 4, NET.SOCKADDR_IN_SIZE);
      return { a, len };
    });
    const [fs, fa] = [p.fd(), p.fd()];
    const sync = s.syscall(
      SYSCALLS.accept4,
      [arg.fd(l.fd), arg.buf(addrs[0].a), arg.buf(addrs[0].len), SOCK_FLAG.CLOEXEC.value],
      {
        fd: fs,
      },
    );
    // liburing io_uring_prep_accept: addr = sockaddr, addr2 = &addrlen, accept_flags = flags
    const one = oneShot(
      s,
      h,
      {
        opcode: 'ACCEPT',
        fd: l.fd,
        addr: arg.buf(addrs[1].a),
        addr2: arg.buf(addrs[1].len),
        accept_flags: SOCK_FLAG.CLOEXEC.value,
      },
      0xacc0n,
    );
    s.setSlot(fa, arg.res(one.userData));
    const got = addrs.map((x) => ({ a: s.dump(x.a), len: s.dump(x.len) }));
    // error cases: a socket that does not listen, and a regular file
    const idle = tcpSocket(s);
    const file = scratchFile(s, scratch, 'not-a-socket');
    const errs = [
      { what: 'a socket that does not listen', fd: idle.fd, want: -errno.EINVAL },
      { what: 'a regular file', fd: file.fd, want: -errno.ENOTSOCK },
    ].map((e, i) => ({
      ...e,
      sync: s.syscall(SYSCALLS.accept4, [arg.fd(e.fd), 0, 0, SOCK_FLAG.CLOEXEC.value]),
      one: oneShot(s, h, { opcode: 'ACCEPT', fd: e.fd, accept_flags: SOCK_FLAG.CLOEXEC.value }, BigInt(0xacc1 + i)),
    }));
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [...l.steps, ...clients.flatMap((c) => c.setup), idle.step, file.step], 'listener, clients, file');
    expect(v.ret(sync), 'accept4(2) takes the first client').to.be.at.least(0);
    expect(resOf(v, one), 'ACCEPT completes with a new fd (man io_uring_prep_accept)').to.be.at.least(0);
    for (const i of [0, 1]) {
      const who = i === 0 ? 'accept4(2)' : 'ACCEPT';
      expect(v.step(got[i].len).dump!.readUInt32LE(0), `${who} writes back the address length`).to.equal(
        NET.SOCKADDR_IN_SIZE,
      );
      expect(
        v.step(got[i].a).dump!.equals(v.step(clients[i].name).dump!),
        `${who} reports client ${i + 1}'s address as the peer`,
      ).to.equal(true);
    }
    for (const e of errs) {
      expect(v.ret(e.sync), `accept4(2) on ${e.what}`).to.equal(e.want);
      expect(resOf(v, e.one), `ACCEPT on ${e.what}: the same error as accept4(2) (man io_uring_prep_accept)`).to.equal(
        e.want,
      );
    }
  },
);

conformance(
  'uring.ACCEPT with IORING_ACCEPT_MULTISHOT posts one CQE with F_MORE per connection',
  { ops: ['uring.ACCEPT', 'uring.ASYNC_CANCEL'], rule: 'man io_uring_prep_multishot_accept' },
  async ({ target, skip }) => {
    await loopbackReady(target, skip);
    const MULTI = 0xacc5n;
    const CANCEL = 0xacc6n;
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const l = tcpListener(s);
    const arm = submit(s, h, [
      sqe({
        opcode: 'ACCEPT',
        fd: l.fd,
        ioprio: ACCEPT.MULTISHOT.value,
        accept_flags: SOCK_FLAG.CLOEXEC.value,
        user_data: MULTI,
      }),
    ]);
    const idle = reap(s, h, 0, 4, 0);
    const conns = [0, 1, 2].map(() => {
      const t = tcpSocket(s);
      const conn = s.syscall(SYSCALLS.connect, [arg.fd(t.fd), arg.buf(l.addr), NET.SOCKADDR_IN_SIZE]);
      const got = reap(s, h, 1, 4);
      s.setSlot(p.fd(), arg.res(MULTI)); // the accepted fd, closed with the program
      return { setup: [t.step, conn], got };
    });
    const cancel = submit(s, h, [sqe({ opcode: 'ASYNC_CANCEL', addr: MULTI, user_data: CANCEL })], 2);
    const end = reap(s, h, 2, 4);
    const more = reap(s, h, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [...l.steps, ...conns.flatMap((c) => c.setup)], 'listener and clients');
    expect(v.ret(arm.enter), 'the multishot ACCEPT is submitted').to.equal(1);
    expect(v.step(idle).cqes, 'no connection yet: no CQE').to.deep.equal([]);
    const fds = conns.map((c, i) => {
      const cqes = v.step(c.got).cqes;
      expect(cqes.length, `connection ${i + 1}: one CQE`).to.equal(1);
      const [q] = cqes;
      expect(q.userData, `connection ${i + 1}: the CQE carries the multishot ACCEPT's user_data`).to.equal(MULTI);
      expect(q.res, `connection ${i + 1}: res is the accepted fd`).to.be.at.least(0);
      expect(q.flags & CQE_F.MORE.value, `connection ${i + 1}: IORING_CQE_F_MORE, the accept stays armed`).to.equal(
        CQE_F.MORE.value,
      );
      return q.res;
    });
    expect(new Set(fds).size, 'three distinct fds').to.equal(3);
    expect(v.ret(cancel.enter), 'ASYNC_CANCEL submitted').to.equal(1);
    const last = reaped(v, end, more).map((q) => [q.userData, q.res, q.flags & CQE_F.MORE.value]);
    expect(
      last.sort((a, b) => Number((a[0] as bigint) - (b[0] as bigint))),
      'cancelled: the accept ends with -ECANCELED and no F_MORE; the cancel completes with 0 (SEMANTICS §3.9)',
    ).to.deep.equal([
      [MULTI, -errno.ECANCELED, 0],
      [CANCEL, 0, 0],
    ]);
  },
);
