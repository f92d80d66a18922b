/**
 * /proc/<pid>/fdinfo/<ring fd>: the ring's state as the kernel shows it (io_uring/fdinfo.c, added with
 * "io_uring: add io_uring_show_fdinfo", 5.3; the SQ/CQ fields with commit 83f84356bc8f, 5.18). The fields must
 * match the ring: SQ and CQ heads and tails, the SQEs queued and not yet consumed, the CQEs posted and not yet
 * reaped, the registered files and buffers.
 */
import { expect } from 'chai';
import { ENTER, O, POLL_EV, SETUP, SYSCALLS, URING_OP } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { placeAll } from '../../src/program/struct';
import { pipe2, readSmallFile, scratchFile } from '../../src/program/sys';
import { enter, reap, setupRing, sqe } from '../../src/program/uring';
import { registerBuffers, registerFiles, requireSetup } from '../../src/oracle/uring-files';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

// the ring fd is dup'ed to this number so the fdinfo path is known when the program is built
const FDINFO_FD = 900;

/** `Key:\tvalue` lines of an fdinfo text, by key; lines of other shapes (SQE and CQE entries) are left out. */
function fields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const x = /^([A-Za-z_]+):\t(.*)$/.exec(line);
    if (x) m.set(x[1], x[2]);
  }
  return m;
}

conformance(
  'uring /proc/self/fdinfo of a ring shows its heads and tails, pending SQEs and CQEs, registered files and buffers',
  { ops: ['uring.setup', 'uring.register', 'uring.NOP'], rule: 'io_uring/fdinfo.c (commit 83f84356bc8f)' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'fdinfo-file');
    const h = setupRing(s, { entries: 8 });
    const files = registerFiles(s, h, [fd, -1]);
    const buf = p.buf(4096, 4096);
    const bufs = registerBuffers(s, h, [buf]);
    // 3 NOPs submitted, 2 of their CQEs reaped; then 2 more queued and never submitted
    const sqes = [0xf1, 0xf2, 0xf3, 0xf4, 0xf5].map((ud) => sqe({ opcode: 'NOP', user_data: ud }));
    const b = p.buf(64 * sqes.length);
    placeAll(s, b, 0, sqes);
    const q1 = s.uringQueue(h.ring, b, 0, 3);
    const e = enter(s, h, 3, 3, 1);
    const taken = reap(s, h, 2, 2, 5000);
    const q2 = s.uringQueue(h.ring, b, 3 * 64, 2);
    const dup = s.syscall(SYSCALLS.dup3, [arg.ring(h.ring), FDINFO_FD, O.CLOEXEC.value], { fd: p.fd() });
    const info = readSmallFile(s, `/proc/self/fdinfo/${FDINFO_FD}`, 16384);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of the file', step: open },
      { what: 'io_uring_setup', step: h.setup },
      { what: 'IORING_REGISTER_FILES', step: files },
      { what: 'IORING_REGISTER_BUFFERS', step: bufs },
      { what: 'queue of 3 NOPs', step: q1, want: 3 },
      { what: 'io_uring_enter', step: e, want: 3 },
      { what: 'queue of 2 more NOPs', step: q2, want: 2 },
      { what: `dup3 of the ring fd to ${FDINFO_FD}`, step: dup, want: FDINFO_FD },
      { what: 'open of the fdinfo file', step: info.open },
      { what: 'read of the fdinfo file', step: info.read },
    ]);
    expect(
      v.step(taken).cqes.map((c) => Number(c.userData)),
      'the 2 CQEs reaped',
    ).to.deep.equal([0xf1, 0xf2]);
    const text = v.step(info.dump).dump!.subarray(0, v.ret(info.read)).toString('utf8');
    const f = fields(text);
    const got = [
      'SqMask',
      'SqHead',
      'SqTail',
      'CachedSqHead',
      'SQEs',
      'CqMask',
      'CqHead',
      'CqTail',
      'CachedCqTail',
      'CQEs',
    ]
      .concat(['SqThread', 'UserFiles', 'UserBufs'])
      .map((k) => [k, f.get(k)]);
    expect(got, `the ring's fields in fdinfo:\n${text}`).to.deep.equal([
      ['SqMask', '0x7'],
      ['SqHead', '3'],
      ['SqTail', '5'],
      ['CachedSqHead', '3'],
      ['SQEs', '2'],
      ['CqMask', '0xf'],
      ['CqHead', '2'],
      ['CqTail', '3'],
      ['CachedCqTail', '3'],
      ['CQEs', '1'],
      ['SqThread', '-1'],
      ['UserFiles', '2'],
      ['UserBufs', '1'],
    ]);
    const lines = text.split('\n').map((l) => l.trim());
    const sqeLines = lines.filter((l) => /^\d+: opcode:NOP,/.test(l));
    expect(
      sqeLines.map((l) => /user_data:(\d+)/.exec(l)?.[1]),
      'the 2 SQEs queued and not consumed, listed with their user_data',
    ).to.deep.equal(['244', '245']);
    expect(
      lines.filter((l) => /^\d+: user_data:/.test(l)).map((l) => /user_data:(\d+), res:(-?\d+)/.exec(l)?.slice(1)),
      'the CQE not reaped, with its user_data and res',
    ).to.deep.equal([['243', '0']]);
    // the name is the file's name up to 6.12 and its whole path since (measured on 6.18); an empty slot's
    // '<none>' line is gone in 6.18 too, so only the slot that holds a file is checked
    expect(
      lines.filter((l) => /^0: (.*\/)?fdinfo-file$/.test(l)).length,
      `registered file 0, by its name:\n${text}`,
    ).to.equal(1);
    expect(
      lines.filter((l) => /^0: 0x[0-9a-f]+\/\d+$/.test(l)).map((l) => l.split('/')[1]),
      'registered buffer 0: its address and length',
    ).to.deep.equal(['4096']);
  },
);

conformance(
  'uring /proc/self/fdinfo lists big SQEs and CQEs in full, the CQ overflow list, armed polls and the SQ thread',
  {
    ops: ['uring.setup', 'uring.NOP', 'uring.POLL_ADD'],
    rule: 'io_uring/fdinfo.c (commit 83f84356bc8f)',
  },
  async (ctx) => {
    const big = needSetupFlags(ctx, 'SQE128', 'CQE32');
    const sqpoll = needSetupFlags(ctx, 'SQPOLL');
    const p = new Program();
    const s = p.main;
    // ring 1, 128-byte SQEs and 32-byte CQEs: one NOP completed and not reaped, one queued and not submitted
    const r1 = setupRing(s, { entries: 4, flags: big });
    const b1 = p.buf(2 * 128);
    placeAll(s, b1, 0, [sqe({ opcode: 'NOP', user_data: 0xb1 }, 128), sqe({ opcode: 'NOP', user_data: 0xb2 }, 128)]);
    const q1 = s.uringQueue(r1.ring, b1, 0, 1);
    const e1 = enter(s, r1, 1, 1, ENTER.GETEVENTS.value);
    const q1b = s.uringQueue(r1.ring, b1, 128, 1);
    // ring 2, a 2-entry CQ: 4 NOPs, one at a time and never reaped, leave 2 on the overflow list
    const r2 = setupRing(s, { entries: 1, flags: SETUP.CQSIZE.value, cqEntries: 2 });
    const overflow = [0xc1, 0xc2, 0xc3, 0xc4].map((ud) => {
      const b = p.buf(64);
      placeAll(s, b, 0, [sqe({ opcode: 'NOP', user_data: ud })]);
      return [s.uringQueue(r2.ring, b, 0, 1), enter(s, r2, 1, 0, 0)];
    });
    // ring 3: a POLL_ADD for POLLIN on an empty pipe stays armed
    const pipe = pipe2(s);
    const r3 = setupRing(s, { entries: 4 });
    const b3 = p.buf(64);
    placeAll(s, b3, 0, [sqe({ opcode: 'POLL_ADD', fd: pipe.r, poll32_events: POLL_EV.IN.value, user_data: 0xd1 })]);
    const q3 = s.uringQueue(r3.ring, b3, 0, 1);
    const e3 = enter(s, r3, 1, 0, 0);
    // ring 4: SQPOLL
    const r4 = setupRing(s, { entries: 4, flags: sqpoll, sqThreadIdle: 1000 });
    const infos = [r1, r2, r3, r4].map((h, i) => {
      const dup = s.syscall(SYSCALLS.dup3, [arg.ring(h.ring), FDINFO_FD + 1 + i, O.CLOEXEC.value], { fd: p.fd() });
      return { dup, ...readSmallFile(s, `/proc/self/fdinfo/${FDINFO_FD + 1 + i}`, 16384) };
    });
    const v = await ctx.target.run(p);
    requireSetup(v, [
      ...[r1, r2, r3, r4].map((h, i) => ({ what: `io_uring_setup of ring ${i + 1}`, step: h.setup })),
      { what: 'queue on ring 1', step: q1, want: 1 },
      { what: 'io_uring_enter on ring 1', step: e1, want: 1 },
      { what: 'second queue on ring 1', step: q1b, want: 1 },
      ...overflow.flatMap(([q, e], i) => [
        { what: `queue ${i} on ring 2`, step: q, want: 1 },
        { what: `io_uring_enter ${i} on ring 2`, step: e, want: 1 },
      ]),
      { what: 'pipe2', step: pipe.step },
      { what: 'queue on ring 3', step: q3, want: 1 },
      { what: 'io_uring_enter on ring 3', step: e3, want: 1 },
      ...infos.flatMap((x, i) => [
        { what: `dup3 of ring ${i + 1}`, step: x.dup, want: FDINFO_FD + 1 + i },
        { what: `open of ring ${i + 1}'s fdinfo`, step: x.open },
        { what: `read of ring ${i + 1}'s fdinfo`, step: x.read },
      ]),
    ]);
    const [t1, t2, t3, t4] = infos.map((x) => v.step(x.dump).dump!.subarray(0, v.ret(x.read)).toString('utf8'));
    const lines = (t: string) => t.split('\n').map((l) => l.trim());
    // a 128-byte SQE is listed with its second half as e0..e7, a 32-byte CQE with extra1 and extra2
    expect(
      lines(t1).filter((l) => /^\d+: opcode:NOP,.*user_data:178, e0:0x0,.* e7:0x0$/.test(l)).length,
      `ring 1's queued 128-byte SQE, with its big half:\n${t1}`,
    ).to.equal(1);
    expect(
      lines(t1).filter((l) => /^\d+: user_data:177, res:0, flag:0, extra1:0, extra2:0$/.test(l)).length,
      `ring 1's unreaped 32-byte CQE, with extra1 and extra2:\n${t1}`,
    ).to.equal(1);
    const f2 = fields(t2);
    expect([f2.get('CqTail'), f2.get('CQEs')], 'ring 2: its 2-entry CQ is full').to.deep.equal(['2', '2']);
    const after = lines(t2).slice(lines(t2).indexOf('CqOverflowList:') + 1);
    expect(
      after.filter((l) => l.startsWith('user_data=')).map((l) => /user_data=(\d+), res=(-?\d+)/.exec(l)?.slice(1)),
      `ring 2: the 2 CQEs that did not fit are on the overflow list:\n${t2}`,
    ).to.deep.equal([
      ['195', '0'],
      ['196', '0'],
    ]);
    const polls = lines(t3).slice(lines(t3).indexOf('PollList:') + 1);
    expect(
      polls.filter((l) => l.startsWith(`op=${URING_OP.POLL_ADD.value},`)).length,
      `ring 3: the armed POLL_ADD is on the poll list:\n${t3}`,
    ).to.equal(1);
    expect(Number(fields(t4).get('SqThread')), `ring 4: SqThread is the SQ thread's pid:\n${t4}`).to.be.greaterThan(0);
    expect(Number(fields(t1).get('SqThread')), 'ring 1 has no SQ thread: -1').to.equal(-1);
  },
);
