/**
 * The probe: what the kernel behind a target supports, found by asking it (IORING_REGISTER_PROBE,
 * io_uring_setup per flag, an AIO trial per opcode on a scratch file), never by parsing `uname`.
 */
import { AIO_OPS, decodeBits, entriesOf, errnoName, FEAT, IO_URING_PARAMS_LAYOUT, PROBE_LAYOUT, PROBE_OP_LAYOUT, REGISTER, SETUP, SYSCALLS, URING_OPS } from '../abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../program/aio';
import { arg, Program, StepRef } from '../program/builder';
import { encodeStruct, place } from '../program/struct';
import { readSmallFile, scratchFile } from '../program/sys';
import type { TraceView } from '../program/trace';
import { setupRing } from '../program/uring';
import type { Capabilities, FlagSupport, OpSupport } from './caps';
import type { Target } from './target';

type SetupName = Extract<keyof typeof SETUP, string>;

const UTSNAME_FIELD = 65;
const SYSCTLS = {
  io_uring_disabled: '/proc/sys/kernel/io_uring_disabled',
  io_uring_group: '/proc/sys/kernel/io_uring_group',
  aio_max_nr: '/proc/sys/fs/aio-max-nr',
  aio_nr: '/proc/sys/fs/aio-nr',
} as const;

/** Setup flags that need a companion flag to be accepted at all (SEMANTICS §3.4). */
const COMPANIONS: Partial<Record<SetupName, (SetupName)[]>> = {
  SQ_AFF: ['SQPOLL'],
  TASKRUN_FLAG: ['COOP_TASKRUN'],
  DEFER_TASKRUN: ['SINGLE_ISSUER'],
  REGISTERED_FD_ONLY: ['NO_MMAP'],
  HYBRID_IOPOLL: ['IOPOLL'],
};

const errName = (ret: bigint): string => errnoName(-Number(ret)) ?? `errno ${-ret}`;

/** Probe a target. */
export async function probeTarget(t: Target): Promise<Capabilities> {
  const base = baseProgram.build();
  const bv = await t.run(base.p);
  const caps = baseProgram.read(bv, base.refs);
  const uring = uringProgram.build(baseProgram.allowedCpu(bv, base.refs));
  caps.uring = uringProgram.read(await t.run(uring.p), uring.refs, caps.sysctl.io_uring_disabled);
  const scratch = await t.makeScratch();
  try {
    const aio = aioProgram.build(scratch);
    caps.aio = aioProgram.read(await t.run(aio.p), aio.refs);
  } finally {
    await t.removeScratch(scratch);
  }
  return caps;
}

interface BaseRefs {
  uname: StepRef;
  euid: StepRef;
  sysctl: Record<keyof typeof SYSCTLS, { read: StepRef; dump: StepRef }>;
  status: { read: StepRef; dump: StepRef };
}

// Each probe program is built with the steps to read back, and read with those same steps: no state
// is kept between the two, so two targets can probe at once.
const baseProgram = {
  build(): { p: Program; refs: BaseRefs } {
    const p = new Program({ deadlineMs: 10_000 });
    const uts = p.buf(6 * UTSNAME_FIELD);
    p.main.syscall(SYSCALLS.uname, [arg.buf(uts)]);
    const uname = p.main.dump(uts, 2 * UTSNAME_FIELD, UTSNAME_FIELD);
    const euid = p.main.syscall(SYSCALLS.geteuid, []);
    const sysctl = {} as BaseRefs['sysctl'];
    for (const [k, path] of Object.entries(SYSCTLS) as [keyof typeof SYSCTLS, string][]) sysctl[k] = readSmallFile(p.main, path, 64);
    const status = readSmallFile(p.main, '/proc/self/status', 4096);
    return { p, refs: { uname, euid, sysctl, status } };
  },
  /** The first CPU in the executor's Cpus_allowed_list (0 if unreadable): SQ_AFF's trial must name one it may use. */
  allowedCpu(v: TraceView, r: BaseRefs): number {
    const read = v.step(r.status.read);
    const text = read.ret > 0n ? v.step(r.status.dump).dump!.toString('utf8', 0, Number(read.ret)) : '';
    return Number(/^Cpus_allowed_list:\s*(\d+)/m.exec(text)?.[1] ?? 0);
  },
  read(v: TraceView, r: BaseRefs): Capabilities {
    const num = (k: keyof typeof SYSCTLS): number | null => {
      const read = v.step(r.sysctl[k].read);
      if (read.ret <= 0n) return null;
      const n = parseInt(v.step(r.sysctl[k].dump).dump!.toString('utf8', 0, Number(read.ret)).trim(), 10);
      return Number.isFinite(n) ? n : null;
    };
    return {
      kernel: v.step(r.uname).dump!.toString('utf8').replace(/\0.*$/s, ''),
      euid: v.ret(r.euid),
      uring: { available: false, lastOp: -1, features: 0, featureNames: [], ops: [], setupFlags: [] },
      aio: { available: false, ops: [] },
      sysctl: { io_uring_disabled: num('io_uring_disabled'), io_uring_group: num('io_uring_group'), aio_max_nr: num('aio_max_nr'), aio_nr: num('aio_nr') },
    };
  },
};

const PROBE_SLOTS = 256;

interface UringRefs {
  setup: StepRef;
  params: StepRef;
  probe: StepRef;
  probeDump: StepRef;
  flags: { name: SetupName; step: StepRef }[];
}

const uringProgram = {
  build(sqCpu: number): { p: Program; refs: UringRefs } {
    const p = new Program({ deadlineMs: 10_000 });
    const h = setupRing(p.main, { entries: 4 });
    const probeBuf = p.buf(PROBE_LAYOUT.size + PROBE_SLOTS * PROBE_OP_LAYOUT.size);
    const probe = p.main.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.PROBE.value, arg.buf(probeBuf), PROBE_SLOTS]);
    const probeDump = p.main.dump(probeBuf);
    const flags: { name: SetupName; step: StepRef }[] = [];
    for (const f of entriesOf(SETUP)) {
      if (f.mask || f.value === 0) continue;
      const name = f.name as SetupName;
      let bits = f.value;
      for (const c of COMPANIONS[name] ?? []) bits |= SETUP[c].value;
      const params = p.buf(IO_URING_PARAMS_LAYOUT.size);
      const fields: Parameters<typeof encodeStruct<keyof typeof IO_URING_PARAMS_LAYOUT.fields>>[1] = { flags: bits >>> 0 };
      if (name === 'CQSIZE') fields.cq_entries = 8;
      if (name === 'SQ_AFF') fields.sq_thread_cpu = sqCpu;
      if (name === 'ATTACH_WQ') fields.wq_fd = arg.ring(h.ring);
      if (bits & SETUP.NO_MMAP.value) {
        // the kernel maps rings the caller provides: give it page-aligned memory
        fields['sq_off.user_addr'] = arg.buf(p.buf(16384, 4096));
        fields['cq_off.user_addr'] = arg.buf(p.buf(16384, 4096));
      }
      place(p.main, params, 0, encodeStruct(IO_URING_PARAMS_LAYOUT, fields));
      // the fd goes to a slot, so the executor closes the ring when the program ends
      flags.push({ name, step: p.main.syscall(SYSCALLS.io_uring_setup, [4, arg.buf(params)], { fd: p.fd() }) });
    }
    return { p, refs: { setup: h.setup, params: h.paramsDump, probe, probeDump, flags } };
  },
  read(v: TraceView, r: UringRefs, disabled: number | null): Capabilities['uring'] {
    const setup = v.step(r.setup);
    if (setup.ret < 0n) {
      const why = `io_uring_setup failed with ${errName(setup.ret)}${disabled ? ` (kernel.io_uring_disabled=${disabled})` : ''}`;
      return { available: false, reason: why, lastOp: -1, features: 0, featureNames: [], ops: URING_OPS.map((o) => ({ name: o.name, value: o.value, since: o.since ?? undefined, supported: false })), setupFlags: [] };
    }
    const features = v.step(r.params).dump!.readUInt32LE(IO_URING_PARAMS_LAYOUT.fields.features.offset);
    const pr = v.step(r.probe);
    const probe = v.step(r.probeDump).dump!;
    const lastOp = pr.ret >= 0n ? probe.readUInt8(PROBE_LAYOUT.fields.last_op.offset) : -1;
    const opsLen = pr.ret >= 0n ? probe.readUInt8(PROBE_LAYOUT.fields.ops_len.offset) : 0;
    const supported = new Set<number>();
    for (let i = 0; i < opsLen; i++) {
      const o = PROBE_LAYOUT.size + i * PROBE_OP_LAYOUT.size;
      if (probe.readUInt16LE(o + PROBE_OP_LAYOUT.fields.flags.offset) & 1) supported.add(probe.readUInt8(o + PROBE_OP_LAYOUT.fields.op.offset));
    }
    const ops: OpSupport[] = URING_OPS.map((o) => ({ name: o.name, value: o.value, since: o.since ?? undefined, supported: supported.has(o.value) }));
    // opcodes this kernel has that kasync's tables do not know yet
    for (const value of supported) if (!ops.some((o) => o.value === value)) ops.push({ name: `OP_${value}`, value, supported: true, note: 'not in kasync tables' });
    const setupFlags: FlagSupport[] = r.flags.map(({ name, step }) => {
      const s = v.step(step);
      const e = SETUP[name];
      return { name, value: e.value, since: e.since ?? '', accepted: s.ret >= 0n, ...(s.ret < 0n ? { error: errName(s.ret) } : {}) };
    });
    return {
      available: true,
      lastOp,
      features,
      featureNames: decodeBits(FEAT, features).map(String),
      ops,
      setupFlags,
      ...(pr.ret < 0n ? { reason: `IORING_REGISTER_PROBE failed with ${errName(pr.ret)}` } : {}),
    };
  },
};

interface AioRefs {
  setup: StepRef;
  trials: { value: number; submit: StepRef; reap: StepRef }[];
}

const aioProgram = {
  build(scratch: string): { p: Program; refs: AioRefs } {
    const p = new Program({ deadlineMs: 10_000 });
    const s = p.main;
    const { fd } = scratchFile(s, scratch, 'aio-probe');
    const { ctx, setup } = aioSetup(s, 16);
    const data = p.buf(4096, 4096);
    s.fillPattern(data, 0, 4096, 1);
    const iov = p.buf(16);
    s.patch(iov, 0, 8, arg.buf(data));
    s.patch(iov, 8, 8, 512);
    const trials = AIO_OPS.map((o) => {
      // each op gets the arguments its working form takes; never-merged ones get all zeros
      const rw = { aio_buf: arg.buf(data), aio_nbytes: 512 };
      const vec = { aio_buf: arg.buf(iov), aio_nbytes: 1 };
      const fields = o.name === 'PREAD' || o.name === 'PWRITE' ? rw : o.name === 'PREADV' || o.name === 'PWRITEV' ? vec : o.name === 'POLL' ? { aio_buf: 1 } : {};
      const submit = aioSubmit(s, ctx, [iocb({ opcode: o.value, fd, aio_data: o.value + 1, ...fields })]).submit;
      // wait for the ops that exist; the others must fail at io_submit, and a waiting reap would stall
      const reap = aioGetevents(s, ctx, o.state === 'works' ? 1 : 0, 1, o.state === 'works' ? 2e9 : 0);
      return { value: o.value, submit, reap };
    });
    return { p, refs: { setup, trials } };
  },
  read(v: TraceView, r: AioRefs): Capabilities['aio'] {
    const setup = v.step(r.setup);
    const ops = (working: (t: AioRefs['trials'][number]) => [boolean, string]): OpSupport[] =>
      r.trials.map((t) => {
        const o = AIO_OPS[t.value];
        const [supported, note] = working(t);
        return { name: o.name, value: o.value, since: o.since ?? undefined, supported, note };
      });
    if (setup.ret < 0n) return { available: false, reason: `io_setup failed with ${errName(setup.ret)}`, ops: ops(() => [false, 'io_setup failed']) };
    return {
      available: true,
      ops: ops((t) => {
        const sub = v.step(t.submit);
        if (sub.ret !== 1n) return [false, `io_submit ${sub.ret < 0n ? errName(sub.ret) : sub.ret}`];
        const ev = v.step(t.reap).events.find((e) => e.data === BigInt(t.value + 1));
        if (!ev) return [false, 'no completion within 2 s'];
        return ev.res >= 0n ? [true, `res ${ev.res}`] : [false, `res ${errName(ev.res)}`];
      }),
    };
  },
};
