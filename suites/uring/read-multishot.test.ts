/**
 * IORING_OP_READ_MULTISHOT (6.7) on a pipe: one CQE per read with IORING_CQE_F_MORE while the request
 * stays armed, then a final CQE without it (EOF: res 0), with provided buffers of either kind.
 */
import { expect } from 'chai';
import { CQE_F, errno, IOSQE, URING_CONST } from '../../src/abi';
import { Buf, Program } from '../../src/program/builder';
import { close, pipe2 } from '../../src/program/sys';
import type { Cqe, TraceView } from '../../src/program/trace';
import { reap, sqe, submit } from '../../src/program/uring';
import {
  providedBuffers,
  provideSpec,
  registerBufRing,
  requireSetup,
  UringRunner,
  writeBytes,
} from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

const SHIFT = URING_CONST.CQE_BUFFER_SHIFT.value;
const MSHOT_UD = 0x6d5n;
const CHUNKS = ['hello', 'multishot', 'world!'];
const LABEL = { legacy: 'PROVIDE_BUFFERS', ring: 'buffer ring' } as const;

for (const kind of ['legacy', 'ring'] as const) {
  conformance(
    `uring.READ_MULTISHOT on a pipe: a CQE with F_MORE per write, a last one without at EOF (${LABEL[kind]})`,
    {
      ops: ['uring.READ_MULTISHOT', ...(kind === 'legacy' ? ['uring.PROVIDE_BUFFERS'] : [])],
      rule: 'man 3 io_uring_prep_read_multishot',
    },
    async ({ target }) => {
      const p = new Program();
      const s = p.main;
      const { r, w, step: pipe } = pipe2(s);
      const u = new UringRunner(s);
      const setup = [{ what: 'pipe2', step: pipe }];
      let mem: Buf;
      let provided: ((v: TraceView) => number) | undefined;
      if (kind === 'legacy') {
        const pb = providedBuffers(s, 3, 0, 4, 64);
        provided = u.res(provideSpec(pb));
        mem = pb.mem;
      } else {
        const ring = registerBufRing(s, u.h, 3, 4, 64);
        setup.push({ what: 'IORING_REGISTER_PBUF_RING', step: ring.reg });
        mem = ring.mem;
      }
      // addr and len stay 0: the length is the selected buffer's
      const sub = submit(s, u.h, [
        sqe({ opcode: 'READ_MULTISHOT', flags: IOSQE.BUFFER_SELECT.value, fd: r, buf_group: 3, user_data: MSHOT_UD }),
      ]);
      const armed = reap(s, u.h, 0, 8, 0);
      const got = CHUNKS.map((c) => {
        const wrote = writeBytes(s, w, Buffer.from(c));
        return { wrote, reap: reap(s, u.h, 1, 8) };
      });
      const closed = close(s, w);
      const last = [reap(s, u.h, 1, 8), reap(s, u.h, 0, 8, 0)];
      const dump = s.dump(mem);
      const v = await target.run(p);
      requireSetup(v, setup);
      if (provided) expect(provided(v), 'PROVIDE_BUFFERS: 0').to.equal(0);
      expect(v.ret(sub.enter), 'READ_MULTISHOT submitted').to.equal(1);
      expect(v.step(armed).cqes, 'nothing to read yet: no CQE').to.deep.equal([]);
      const bytes = v.step(dump).dump!;
      for (const [i, c] of CHUNKS.entries()) {
        expect(v.ret(got[i].wrote), `write of chunk ${i}`).to.equal(c.length);
        const cqes: Cqe[] = v.step(got[i].reap).cqes;
        expect(
          cqes.map((q) => [q.userData, q.res]),
          `chunk ${i}: one CQE of ${c.length} bytes`,
        ).to.deep.equal([[MSHOT_UD, c.length]]);
        const f = cqes[0].flags;
        expect(f & CQE_F.MORE.value, `chunk ${i}: IORING_CQE_F_MORE, the request stays armed`).to.equal(
          CQE_F.MORE.value,
        );
        expect(f & CQE_F.BUFFER.value, `chunk ${i}: IORING_CQE_F_BUFFER`).to.equal(CQE_F.BUFFER.value);
        const id = f >>> SHIFT;
        expect(id, `chunk ${i}: a provided buffer id`).to.be.within(0, 3);
        expect(bytes.toString('latin1', id * 64, id * 64 + c.length), `chunk ${i} is in buffer ${id}`).to.equal(c);
      }
      expect(v.ret(closed), 'close of the write end').to.equal(0);
      const final = last.flatMap((x) => v.step(x).cqes);
      expect(
        final.map((q) => [q.userData, q.res]),
        'EOF ends the request: one last CQE with res 0',
      ).to.deep.equal([[MSHOT_UD, 0]]);
      expect(final[0].flags & CQE_F.MORE.value, 'the last CQE has no IORING_CQE_F_MORE').to.equal(0);
    },
  );
}

conformance(
  'uring.READ_MULTISHOT ends with -ENOBUFS when its provided buffers run out',
  { ops: ['uring.READ_MULTISHOT', 'uring.PROVIDE_BUFFERS'], rule: 'man 3 io_uring_prep_read_multishot' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w, step: pipe } = pipe2(s);
    const u = new UringRunner(s);
    const provided = u.res(provideSpec(providedBuffers(s, 5, 0, 2, 64)));
    const sub = submit(s, u.h, [
      sqe({ opcode: 'READ_MULTISHOT', flags: IOSQE.BUFFER_SELECT.value, fd: r, buf_group: 5, user_data: MSHOT_UD }),
    ]);
    const reaps = CHUNKS.map((c) => {
      writeBytes(s, w, Buffer.from(c));
      return reap(s, u.h, 1, 8, 1000);
    });
    reaps.push(reap(s, u.h, 0, 8, 0));
    const v = await target.run(p);
    requireSetup(v, [{ what: 'pipe2', step: pipe }]);
    expect(provided(v), 'PROVIDE_BUFFERS of 2 buffers: 0').to.equal(0);
    expect(v.ret(sub.enter), 'READ_MULTISHOT submitted').to.equal(1);
    const cqes = reaps.flatMap((x) => v.step(x).cqes);
    const more = (q: Cqe) => (q.flags & CQE_F.MORE.value ? 'F_MORE' : 'last');
    expect(
      cqes.map((q) => [q.userData, q.res, more(q)]),
      'a CQE with F_MORE for each of the 2 buffers, then a last one with -ENOBUFS',
    ).to.deep.equal([
      [MSHOT_UD, CHUNKS[0].length, 'F_MORE'],
      [MSHOT_UD, CHUNKS[1].length, 'F_MORE'],
      [MSHOT_UD, -errno.ENOBUFS, 'last'],
    ]);
  },
);

conformance(
  'uring.READ_MULTISHOT rejects a length, a buffer address and a missing IOSQE_BUFFER_SELECT with -EINVAL',
  { ops: ['uring.READ_MULTISHOT', 'uring.PROVIDE_BUFFERS'], rule: 'man 3 io_uring_prep_read_multishot' },
  async ({ target }) => {
    // the length comes from the selected buffer: prep refuses len, addr, and a request without buffers
    const p = new Program();
    const s = p.main;
    const { r, step: pipe } = pipe2(s);
    const u = new UringRunner(s);
    const provided = u.res(provideSpec(providedBuffers(s, 6, 0, 2, 64)));
    const SELECT = IOSQE.BUFFER_SELECT.value;
    const cases = [
      { what: 'len 64', spec: { flags: SELECT, len: 64 } },
      { what: 'addr set', spec: { flags: SELECT, addr: 0x1000 } },
      { what: 'no IOSQE_BUFFER_SELECT', spec: { flags: 0 } },
    ].map((c) => ({ ...c, res: u.res({ opcode: 'READ_MULTISHOT', fd: r, buf_group: 6, ...c.spec }) }));
    const v = await target.run(p);
    requireSetup(v, [{ what: 'pipe2', step: pipe }]);
    expect(provided(v), 'PROVIDE_BUFFERS: 0').to.equal(0);
    for (const c of cases) expect(c.res(v), `READ_MULTISHOT with ${c.what}: -EINVAL`).to.equal(-errno.EINVAL);
  },
);
