/**
 * IOCB_CMD_POLL against poll(2) on the same fd state: the io_event's res is the readiness mask poll(2)
 * puts in revents, POLLERR and POLLHUP always included; an armed POLL completes when the state changes
 * (SEMANTICS §1.6).
 */
import { expect } from 'chai';
import { decodeBits, O, POLL_EV, POLLFD_LAYOUT, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../src/program/aio';
import { arg, Fd, Program, Sequence } from '../../src/program/builder';
import { encodeStruct, place } from '../../src/program/struct';
import { close, pipe2, scratchFile } from '../../src/program/sys';
import type { TraceView } from '../../src/program/trace';
import { conformance } from '../../src/suite/conformance';

/** Every readiness bit a pipe or file can report, asked for by both the POLL and poll(2). */
const ASK = POLL_EV.IN.value | POLL_EV.RDNORM.value | POLL_EV.OUT.value | POLL_EV.WRNORM.value | POLL_EV.PRI.value;

/** poll(2) of one fd with timeout 0; `revents(v)` reads the result. */
function pollNow(s: Sequence, fd: Fd, events: number) {
  const b = s.program.buf(POLLFD_LAYOUT.size);
  place(s, b, 0, encodeStruct(POLLFD_LAYOUT, { fd: arg.fd(fd), events }));
  const step = s.syscall(SYSCALLS.poll, [arg.buf(b), 1, 0]);
  const dump = s.dump(b);
  return { step, revents: (v: TraceView) => v.step(dump).dump!.readUInt16LE(POLLFD_LAYOUT.fields.revents.offset) };
}

const names = (m: number | bigint) => decodeBits(POLL_EV, Number(m)).join('|') || '0';

/** Arm a POLL for `events` on `fd` with aio_data `data`, on a fresh context. */
function armPoll(s: Sequence, fd: Fd, events: number, data: number) {
  const { ctx, setup } = aioSetup(s, 4);
  const { submit } = aioSubmit(s, ctx, [iocb({ opcode: 'POLL', fd, aio_data: data, aio_buf: events })]);
  return { ctx, setup, submit };
}

conformance(
  'aio.POLL of a readable pipe completes at once with the mask poll reports',
  { ops: ['aio.POLL'], rule: 'SEMANTICS §1.6' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w, step: pipe } = pipe2(s, O.CLOEXEC.value);
    const write = s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(p.buf(1)), 1]);
    const sync = pollNow(s, r, ASK);
    const a = armPoll(s, r, ASK, 1);
    const ev = aioGetevents(s, a.ctx, 1, 4, 2e9);
    const v = await target.run(p);
    expect([v.ret(pipe), v.ret(write), v.ret(a.setup)], 'pipe2, write of 1 byte, io_setup').to.deep.equal([0, 1, 0]);
    expect(v.ret(sync.step), 'poll(2) sees the read end ready').to.equal(1);
    expect(v.ret(a.submit), 'io_submit arms the POLL').to.equal(1);
    const events = v.step(ev).events;
    expect(
      events.map((e) => e.data),
      'one io_event',
    ).to.deep.equal([1n]);
    expect(names(events[0].res), 'res is the mask poll(2) put in revents (SEMANTICS §1.6)').to.equal(
      names(sync.revents(v)),
    );
    expect(names(events[0].res), 'a pipe read end with data is IN|RDNORM').to.equal(
      names(POLL_EV.IN.value | POLL_EV.RDNORM.value),
    );
  },
);

conformance(
  'aio.POLL armed on an empty pipe completes when it becomes readable, with the mask poll reports',
  { ops: ['aio.POLL'], rule: 'SEMANTICS §1.6' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w, step: pipe } = pipe2(s, O.CLOEXEC.value);
    const before = pollNow(s, r, ASK);
    const a = armPoll(s, r, ASK, 1);
    const early = aioGetevents(s, a.ctx, 0, 4, 0);
    const write = s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(p.buf(1)), 1]);
    const late = aioGetevents(s, a.ctx, 1, 4, 2e9);
    const after = pollNow(s, r, ASK);
    const v = await target.run(p);
    expect([v.ret(pipe), v.ret(a.setup)], 'pipe2, io_setup').to.deep.equal([0, 0]);
    expect(v.ret(before.step), 'poll(2) of the empty pipe: nothing ready').to.equal(0);
    expect(v.ret(a.submit), 'io_submit arms the POLL').to.equal(1);
    expect(v.step(early).events, 'nothing ready: the POLL stays armed (SEMANTICS §1.6)').to.deep.equal([]);
    expect(v.ret(write), 'write of 1 byte').to.equal(1);
    const events = v.step(late).events;
    expect(
      events.map((e) => e.data),
      'the write completes the POLL: one io_event',
    ).to.deep.equal([1n]);
    expect(names(events[0].res), 'res is the mask poll(2) reports afterwards (SEMANTICS §1.6)').to.equal(
      names(after.revents(v)),
    );
  },
);

conformance(
  'aio.POLL for POLLOUT on a full pipe completes when a read makes room, with the mask poll reports',
  { ops: ['aio.POLL'], rule: 'SEMANTICS §1.6' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w, step: pipe } = pipe2(s, O.NONBLOCK.value | O.CLOEXEC.value);
    // the default pipe holds 64 KiB; a non-blocking write of 64 KiB fills it
    const big = p.buf(65536);
    const fill = s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(big), 65536]);
    const before = pollNow(s, w, ASK);
    const a = armPoll(s, w, ASK, 1);
    const early = aioGetevents(s, a.ctx, 0, 4, 0);
    const drain = s.syscall(SYSCALLS.read, [arg.fd(r), arg.buf(big), 8192]);
    const late = aioGetevents(s, a.ctx, 1, 4, 2e9);
    const after = pollNow(s, w, ASK);
    const v = await target.run(p);
    expect([v.ret(pipe), v.ret(a.setup)], 'pipe2, io_setup').to.deep.equal([0, 0]);
    expect(v.ret(fill), 'the write fills the pipe').to.be.greaterThan(0);
    expect(v.ret(before.step), 'poll(2) of the full pipe: not writable').to.equal(0);
    expect(v.step(early).events, 'the POLL stays armed while the pipe is full (SEMANTICS §1.6)').to.deep.equal([]);
    expect(v.ret(drain), 'a read of 8 KiB makes room').to.equal(8192);
    const events = v.step(late).events;
    expect(
      events.map((e) => e.data),
      'the read completes the POLL: one io_event',
    ).to.deep.equal([1n]);
    expect(names(events[0].res), 'res is the mask poll(2) reports afterwards (SEMANTICS §1.6)').to.equal(
      names(after.revents(v)),
    );
    expect(names(events[0].res), 'the write end is OUT|WRNORM').to.equal(
      names(POLL_EV.OUT.value | POLL_EV.WRNORM.value),
    );
  },
);

conformance(
  'aio.POLL reports POLLHUP of a pipe without writers though not asked for, like poll',
  { ops: ['aio.POLL'], rule: 'SEMANTICS §1.6' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w, step: pipe } = pipe2(s, O.CLOEXEC.value);
    const closed = close(s, w);
    const sync = pollNow(s, r, POLL_EV.OUT.value);
    const a = armPoll(s, r, POLL_EV.OUT.value, 1);
    const ev = aioGetevents(s, a.ctx, 1, 4, 2e9);
    const v = await target.run(p);
    expect([v.ret(pipe), v.ret(closed), v.ret(a.setup)], 'pipe2, close of the write end, io_setup').to.deep.equal([
      0, 0, 0,
    ]);
    expect(v.ret(a.submit), 'io_submit arms the POLL').to.equal(1);
    const events = v.step(ev).events;
    expect(
      events.map((e) => e.data),
      'one io_event',
    ).to.deep.equal([1n]);
    expect(names(events[0].res), 'POLLERR and POLLHUP are always reported (SEMANTICS §1.6)').to.equal(
      names(POLL_EV.HUP.value),
    );
    expect(names(events[0].res), 'the same mask as poll(2)').to.equal(names(sync.revents(v)));
  },
);

conformance(
  'aio.POLL of a regular file completes at once with the mask poll reports',
  { ops: ['aio.POLL'], rule: 'SEMANTICS §1.6' },
  async ({ target, scratch }) => {
    // files without ->poll (or with the generic one) are always ready: DEFAULT_POLLMASK
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const sync = pollNow(s, fd, ASK);
    const a = armPoll(s, fd, ASK, 1);
    const ev = aioGetevents(s, a.ctx, 1, 4, 2e9);
    const v = await target.run(p);
    expect([v.ret(open) >= 0, v.ret(a.setup)], 'open, io_setup').to.deep.equal([true, 0]);
    expect(v.ret(a.submit), 'io_submit arms the POLL').to.equal(1);
    const events = v.step(ev).events;
    expect(
      events.map((e) => e.data),
      'one io_event',
    ).to.deep.equal([1n]);
    expect(names(events[0].res), 'res is the mask poll(2) reports (SEMANTICS §1.6)').to.equal(names(sync.revents(v)));
    expect(names(events[0].res), 'a regular file is IN|OUT|RDNORM|WRNORM').to.equal(
      names(POLL_EV.IN.value | POLL_EV.OUT.value | POLL_EV.RDNORM.value | POLL_EV.WRNORM.value),
    );
  },
);
