/**
 * /proc/<pid>/fdinfo/<ring fd> lists the ring's registered personalities with the credentials each one holds
 * (io_uring/fdinfo.c io_uring_show_cred, "io_uring: add fdinfo output for personalities", 5.7) and, under
 * PollList, the requests waiting on an internal poll, e.g. a READ of an empty pipe. A personality holds the
 * creds of the task that registered it (SEMANTICS §3.8; man io_uring_register(2) IORING_REGISTER_PERSONALITY).
 * The personalities part was dropped in 6.16 ("io_uring/fdinfo: get rid of dumping credentials", Jens Axboe,
 * May 2025): from that release on the section must be absent.
 */
import { expect } from 'chai';
import { O, REGISTER, releasedBy, SYSCALLS, URING_OP } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { placeAll } from '../../src/program/struct';
import { pipe2, readSmallFile } from '../../src/program/sys';
import { enter, reap, setupRing, sqe } from '../../src/program/uring';
import { requireSetup } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

// the ring fd is dup'ed to this number so the fdinfo path is known when the program is built
const FDINFO_FD = 910;

/** Check the Personalities: section at line `at`: each id once, with the registering task's ids. */
function personalities(lines: string[], at: number, ids: number[], want: number[], text: string): void {
  // per personality: its id, then Uid (real, effective, saved, fs), Gid (same), Groups, CapEff
  const creds = new Map<number, { uid: number[]; gid: number[] }>();
  const nums = (l: string | undefined, key: string) =>
    (l ?? '').startsWith(`\t${key}:\t`) ? l!.split('\t').filter((x) => /^\d+$/.test(x)).map(Number) : [];
  for (let i = at + 1; i < lines.length; i++) {
    if (!/^\s*\d+$/.test(lines[i])) continue;
    if (!lines[i + 1]?.startsWith('\tUid:')) break;
    creds.set(Number(lines[i].trim()), { uid: nums(lines[i + 1], 'Uid'), gid: nums(lines[i + 2], 'Gid') });
  }
  expect([...creds.keys()].sort(), `the 2 personalities, by id:\n${text}`).to.deep.equal([...ids].sort());
  for (const id of ids) {
    const c = creds.get(id)!;
    expect([c.uid.length, c.gid.length], `personality ${id}: 4 uids and 4 gids`).to.deep.equal([4, 4]);
    expect(
      [c.uid[0], c.uid[1], c.gid[0], c.gid[1]],
      `personality ${id}: the registering task's real and effective uid and gid`,
    ).to.deep.equal(want);
  }
}

conformance(
  'uring /proc/self/fdinfo lists each registered personality with its uid and gid, and a READ waiting on a pipe under PollList',
  {
    ops: ['uring.register', 'uring.READ'],
    rule: 'io_uring/fdinfo.c io_uring_show_cred; SEMANTICS §3.8 (personality = creds at registration)',
  },
  async ({ target, caps }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const reg = () => s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.PERSONALITY.value, 0, 0]);
    const ids = [reg(), reg()];
    const ugid = [SYSCALLS.getuid, SYSCALLS.geteuid, SYSCALLS.getgid, SYSCALLS.getegid].map((nr) => s.syscall(nr));
    // a READ of an empty pipe waits on the pipe through an internal poll
    const pipe = pipe2(s, O.CLOEXEC.value);
    const buf = p.buf(16);
    const b = p.buf(64);
    placeAll(s, b, 0, [sqe({ opcode: 'READ', fd: pipe.r, addr: arg.buf(buf), len: 16, off: -1n, user_data: 0x71 })]);
    const q = s.uringQueue(h.ring, b, 0, 1);
    const e = enter(s, h, 1, 0, 0);
    const dup = s.syscall(SYSCALLS.dup3, [arg.ring(h.ring), FDINFO_FD, O.CLOEXEC.value], { fd: p.fd() });
    const info = readSmallFile(s, `/proc/self/fdinfo/${FDINFO_FD}`, 16384);
    // the read completes once the pipe has data
    const wr = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(p.data(Buffer.from('abc'))), 3]);
    const c = reap(s, h, 1, 4);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'io_uring_setup', step: h.setup },
      { what: 'pipe2', step: pipe.step },
      { what: 'queue of the READ', step: q, want: 1 },
      { what: 'io_uring_enter', step: e, want: 1 },
      { what: `dup3 of the ring fd to ${FDINFO_FD}`, step: dup, want: FDINFO_FD },
      { what: 'open of the fdinfo file', step: info.open },
      { what: 'read of the fdinfo file', step: info.read },
      { what: 'write to the pipe', step: wr, want: 3 },
    ]);
    const [id1, id2] = ids.map((x) => v.ret(x));
    expect(id1, 'IORING_REGISTER_PERSONALITY returns an id ≥ 1 (SEMANTICS §3.8)').to.be.at.least(1);
    expect(id2, 'a second registration: another id').to.be.at.least(1).and.not.equal(id1);
    const [uid, euid, gid, egid] = ugid.map((x) => v.ret(x));
    const text = v.step(info.dump).dump!.subarray(0, v.ret(info.read)).toString('utf8');
    const lines = text.split('\n');
    const at = lines.indexOf('Personalities:');
    if (releasedBy('6.16', caps.kernel)) {
      expect(at, `${caps.kernel} (6.16 or later): no Personalities: section:\n${text}`).to.equal(-1);
    } else {
      expect(at, `a Personalities: section:\n${text}`).to.be.at.least(0);
      personalities(lines, at, [id1, id2], [uid, euid, gid, egid], text);
    }
    const polls = lines.slice(lines.indexOf('PollList:') + 1).map((l) => l.trim());
    expect(
      polls.filter((l) => l.startsWith(`op=${URING_OP.READ.value},`)).length,
      `the READ waiting on the empty pipe is under PollList:\n${text}`,
    ).to.equal(1);
    expect(
      v.step(c).cqes.map((x) => [Number(x.userData), x.res]),
      'the READ completes with the 3 bytes written',
    ).to.deep.equal([[0x71, 3]]);
  },
);
