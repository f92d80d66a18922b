/**
 * The stream oracle: judges a trace against the plan of the program that produced it. Only what the
 * kernel guarantees is asserted (SEMANTICS §1.5, §3.5, §3.9, §3.10): CQE order across unlinked
 * requests is free; a cancel races with completion, so any of its legal results goes, as long as the
 * target's own result agrees with it. A request ends -ECANCELED only when something could cancel it
 * (a link, a matching cancel, its submitting thread's exit, §3.11); a cancel must find an armed poll
 * it matches; FIXED_FILE requests follow their slot (§3.4); multishot polls post F_MORE CQEs then one
 * final CQE (§3.3); an overflowing CQ drops nothing (FEAT_NODROP). Each failure has a stable title
 * (no numbers, so the same bug lands in the same failure dir) and a detail line.
 */
import { CQE_F, errno, errnoName, URING_CONST } from '../src/abi';
import type { Cqe, IoEvent, StepResult, Trace } from '../src/program/trace';
import type { AioReq, Plan, PlanStep, UringReq } from './build';
import { waitStatus } from '../src/oracle/exit';
import { FILE_WORDS } from './model';

/** One thing the kernel did wrong (or the environment, when `env` is set: not a finding). */
export interface Failure {
  title: string;
  detail: string;
  /** The setup failed (scratch dir gone, out of fds): retry, do not report. */
  env?: boolean;
}

const E = errno;
const F_MORE = CQE_F.MORE.value;
const F_BUFFER = CQE_F.BUFFER.value;
const BUFFER_SHIFT = URING_CONST.CQE_BUFFER_SHIFT.value;
const hex = (n: number) => `0x${n.toString(16)}`;
const resName = (r: number) => (r < 0 ? `-${errnoName(-r) ?? -r}` : String(r));

/** Where a completion was seen. */
interface Seen<T> {
  step: number;
  /** Order among completions of its ring or context. */
  pos: number;
  t1: bigint;
  c: T;
}

/** Outcome classes of a run (op, link role, result class), for the corpus: "did this run do something new?" */
export function outcomeClasses(plan: Plan, trace: Trace): string[] {
  const cls = new Set<string>();
  for (const s of trace.steps) {
    const st = plan.steps.get(s.step);
    if (!st || s.seq !== 0) continue;
    if (st.kind === 'reap')
      for (const c of s.cqes) {
        const r = plan.uring[Number(c.userData) - 1];
        if (r) {
          // ring kind, fixed file and cancel mode are part of the class, so the corpus keeps programs that use them
          const kind = plan.ringKinds?.[r.ring] ?? 'plain';
          const how = `${kind === 'plain' ? '' : kind + ':'}${r.op}${r.slot !== undefined ? '/fixed' : ''}${r.select ? '/select' : ''}${r.alias ? '/alias' : ''}${r.byChild ? '/child' : ''}${r.multi ? `/multi${c.flags & F_MORE ? '+more' : ''}` : ''}${r.byThread ? '/thread' : ''}${r.cancelMode && r.cancelMode !== 'ud' ? '/' + r.cancelMode : ''}`;
          cls.add(`u:${how}:${r.chain !== undefined ? 'l' : ''}${r.drain ? 'd' : ''}:${c.res >= 0 ? (c.res > 0 ? '+' : '0') : resName(c.res)}`);
        }
      }
    if (st.kind === 'aioReap')
      for (const e of s.events) {
        const r = plan.aio[Number(e.data) - 0x1000];
        if (r) cls.add(`a:${r.op}:${e.res >= 0n ? (e.res > 0n ? '+' : '0') : resName(Number(e.res))}`);
      }
    if (st.kind === 'aioCancel') cls.add(`a:cancel:${resName(Number(s.ret))}`);
    if (st.kind === 'enter' && Number(s.ret) !== st.reqs.length) cls.add(`u:enter:${resName(Number(s.ret))}`);
  }
  return [...cls];
}

/** Judge a trace; an empty list means the kernel did nothing wrong that this oracle can see. */
export function judge(plan: Plan, trace: Trace): Failure[] {
  const out: Failure[] = [];
  const fail = (title: string, detail: string) => out.push({ title, detail });
  if (trace.status !== 'ok') {
    const what = trace.status === 'deadline' ? 'program hit its deadline (hang?)' : `program ended with status ${trace.status}`;
    return [{ title: `program: ${what}`, detail: trace.message || 'no message', env: trace.status === 'error' }];
  }
  const main = trace.steps.filter((s) => s.seq === 0 && s.proc === 0);
  for (const s of main) {
    if (s.error) return [{ title: 'program: a step could not run', detail: `step ${s.step}: ${s.error}`, env: true }];
    if (!plan.steps.has(s.step) && s.ret < 0n)
      return [{ title: 'setup: a setup step failed', detail: `step ${s.step}: ${resName(Number(s.ret))}`, env: true }];
    // a wait that ended short of both its count and its time was interrupted. io_uring's task work
    // (TIF_NOTIFY_SIGNAL, no signal) cuts io_getevents short, which man 2 io_getevents allows (EINTR):
    // the program calls it again for the rest (SYSCALL post 6, native/WIRE.md), so only the executor's
    // own trouble is left here, and the run says nothing about the kernel
    const st = plan.steps.get(s.step);
    if (st && (st.kind === 'reap' || st.kind === 'aioReap')) {
      // (by the executor's count: a completion missing from the records is the kernel's or the trace's problem)
      const got = Math.max(0, Number(s.ret));
      if (got < st.want && s.t1Ns - s.t0Ns < BigInt(st.waitMs) * 1_000_000n && (s.ret < 0n || !s.deadline))
        return [{ title: 'executor: a wait was interrupted', detail: `step ${s.step}: ${got} of ${st.want} after ${Number(s.t1Ns - s.t0Ns) / 1e6} ms (ret ${resName(Number(s.ret))})`, env: true }];
    }
  }
  for (const s of main) {
    const st = plan.steps.get(s.step);
    if (st?.kind === 'bufs' && Number(s.ret) !== st.want)
      // man 2 io_uring_register: BUFFERS2 (sparse: iov_base NULL, iov_len 0) 0, -EBUSY with a table; BUFFERS_UPDATE the slots updated; -ENXIO without a table
      fail(`uring: IORING_REGISTER ${st.action} of the buffer table returned the wrong result`, `ring ${st.ring}: ${resName(Number(s.ret))}, expected ${resName(st.want)}`);
    if (st?.kind === 'depart') judgeDeparture(st, s, main, fail);
  }
  judgeUring(plan, main, fail, trace.steps);
  judgeAio(plan, main, fail);
  judgeFiles(plan, main, fail, trace.steps);
  return out;
}

type Fail = (title: string, detail: string) => void;

function judgeUring(plan: Plan, main: StepResult[], fail: Fail, all: StepResult[]): void {
  if (plan.uring.length === 0) return;
  const fifo = new Map<number, number[]>();
  const submittedAt = new Map<number, { step: number; t0: bigint }>();
  const seen = new Map<number, Seen<Cqe>[]>();
  const pos = new Map<number, number>();
  const reapedAt = new Map<number, number>();
  const strangers: string[] = [];
  // when each request's SQE reached the SQ: an SQPOLL thread may start it before io_uring_enter
  const queuedT0 = new Map<number, bigint>();
  for (const s of main) {
    const st = plan.steps.get(s.step);
    if (!st) continue;
    const ret = Number(s.ret);
    if (st.kind === 'files' && ret !== st.want)
      // SEMANTICS §3.4, man 2 io_uring_register: FILES_UPDATE returns the slots updated; -ENXIO without a table, FILES -EBUSY with one
      fail(`uring: IORING_REGISTER ${st.action} of the file table returned the wrong result`, `ring ${st.ring}: ${resName(ret)}, expected ${resName(st.want)}`);
    if (st.kind === 'ringState' && plan.ringKinds[st.ring] === 'smallcq' && s.ring && s.ring.cqOverflow !== 0)
      // FEAT_NODROP (5.5): an overflowing CQ keeps completions in a list; cq_overflow counts only dropped ones
      fail('uring: completions were dropped from an overflowing CQ despite FEAT_NODROP', `ring ${st.ring}: cq_overflow ${s.ring.cqOverflow}`);
    if (st.kind === 'threadEnter') {
      judgeThreadEnter(st, s, fifo.get(st.ring) ?? [], submittedAt, all, fail);
      continue;
    }
    if (st.kind === 'queue') {
      for (const id of st.reqs) queuedT0.set(id, s.t0Ns);
      const q = fifo.get(st.ring) ?? [];
      if (ret !== st.reqs.length) fail('uring: the SQ did not take a whole batch', `ring ${st.ring}: queued ${ret} of ${st.reqs.length}`);
      q.push(...st.reqs.slice(0, Math.max(0, ret)));
      fifo.set(st.ring, q);
    } else if (st.kind === 'enter') {
      const q = fifo.get(st.ring) ?? [];
      if (ret < 0) fail('uring: io_uring_enter failed', `ring ${st.ring}: ${resName(ret)} for ${q.length} valid SQEs`);
      else if (ret !== q.length) fail('uring: io_uring_enter consumed fewer SQEs than queued', `ring ${st.ring}: ${ret} of ${q.length} valid SQEs`);
      for (const id of q.splice(0, Math.max(0, ret))) submittedAt.set(id, { step: s.step, t0: s.t0Ns });
    } else if (st.kind === 'reap') {
      for (const c of s.cqes) {
        const n = pos.get(st.ring) ?? 0;
        pos.set(st.ring, n + 1);
        const id = Number(c.userData) - 1;
        const r = plan.uring[id];
        const at = submittedAt.get(id);
        if (!r || r.ring !== st.ring || !at) {
          strangers.push(`ring ${st.ring} step ${s.step}: user_data ${hex(Number(c.userData))} res ${resName(c.res)}`);
          continue;
        }
        const list = seen.get(id) ?? [];
        list.push({ step: s.step, pos: n, t1: s.t1Ns, c });
        seen.set(id, list);
        if (!reapedAt.has(id)) reapedAt.set(id, s.step);
      }
    }
  }
  if (strangers.length) fail('uring: completion for a request never submitted', strangers.join('; '));
  const one = new Map<number, Seen<Cqe>>();
  const moreOf = new Map<number, number>();
  for (const r of plan.uring) {
    if (!submittedAt.has(r.id)) continue;
    const l = seen.get(r.id) ?? [];
    if (r.multi && l.length > 0) {
      // multishot (SEMANTICS §3.3, §3.9): CQEs with F_MORE, then one final CQE without it
      const last = l[l.length - 1];
      const more = l.slice(0, -1);
      if (more.some((x) => x.c.flags !== F_MORE || x.c.res <= 0))
        fail('uring: multishot POLL_ADD posted a CQE without F_MORE before its last', `user_data ${hex(r.userData)}: ${l.map((x) => `${resName(x.c.res)}/${hex(x.c.flags)}`).join(', ')}`);
      if (last.c.flags & F_MORE) fail('uring: multishot POLL_ADD never posted its final CQE', `user_data ${hex(r.userData)}: ${l.length} CQEs, all with F_MORE`);
      one.set(r.id, last);
      moreOf.set(r.id, more.length);
      continue;
    }
    if (l.length === 0) fail(`uring: ${r.op} never completed`, `user_data ${hex(r.userData)} on ring ${r.ring}, submitted at step ${r.enterStep}`);
    else if (l.length > 1)
      fail(`uring: ${r.op} completed more than once`, `user_data ${hex(r.userData)} completed ${l.length} times (${l.map((x) => resName(x.c.res)).join(', ')})`);
    else one.set(r.id, l[0]);
  }
  const cancellers = plan.uring.filter((c) => (c.op === 'ASYNC_CANCEL' || c.op === 'POLL_REMOVE') && submittedAt.has(c.id));
  const u: UringSeen = { plan, fail, submittedAt, reapedAt, queuedT0, one, moreOf, cancellers };
  judgeUringResults(u);
  judgeUringCancels(u);
  judgeProvided(plan, one, submittedAt, reapedAt, fail);
  judgeDrains(u);
}

/** What judgeUring gathered from the steps, for the checks of the functions below. */
interface UringSeen {
  plan: Plan;
  fail: Fail;
  /** Request id → the io_uring_enter (or THREADS/WAIT) step that submitted it. */
  submittedAt: Map<number, { step: number; t0: bigint }>;
  /** Request id → the step of its first CQE. */
  reapedAt: Map<number, number>;
  /** Request id → when its SQE reached the SQ. */
  queuedT0: Map<number, bigint>;
  /** Request id → its one CQE (a multishot poll's final one). */
  one: Map<number, Seen<Cqe>>;
  /** Multishot poll id → its F_MORE CQEs. */
  moreOf: Map<number, number>;
  /** The submitted ASYNC_CANCELs and POLL_REMOVEs. */
  cancellers: UringReq[];
}

/** A CQE result of a request cancelled (or interrupted in io-wq) by a cancel or its chain. */
function cancelled(v: number | undefined): boolean {
  return v === -E.ECANCELED || v === -E.EINTR;
}

/** How findings name a request: its op, a non-default cancel mode, its user_data. */
function label(r: UringReq): string {
  return `${r.op}${r.cancelMode && r.cancelMode !== 'ud' ? `(${r.cancelMode})` : ''} ${hex(r.userData)}`;
}

// judgeUring's checks come in functions of their own: V8 compiles (and, after a deopt on a rarely
// seen shape, recompiles) each one alone, not one function of several hundred lines at a time.

/** Each request's one result: in its domain, cancelled only when something could cancel it, slots, timers, cancels. */
function judgeUringResults(u: UringSeen): void {
  const { plan, fail, submittedAt, reapedAt, queuedT0, one, cancellers } = u;
  const res = (id: number) => one.get(id)?.c.res;
  // SEMANTICS §3.11: a request whose submitter (a thread) exited before it was issued is failed from
  // the fallback task-work path: -EFAULT (io_req_task_submit) or -ECANCELED
  const orphaned = (r: UringReq, v: number | undefined) => !!r.byThread && v === -E.EFAULT;
  // a request ends -ECANCELED (or -EINTR) only when something could cancel it: its link chain, a
  // cancel that matches it (SEMANTICS §3.9, §3.10); nothing in a stream tears a ring down early
  const mayBeCancelled = (r: UringReq) => r.chain !== undefined || !!r.byThread || cancellers.some((c) => couldMatch(c, r));

  for (const [id, got] of one) {
    const r = plan.uring[id];
    const v = got.c.res;
    // IOSQE_BUFFER_SELECT: F_BUFFER and the buffer id above CQE_BUFFER_SHIFT (judged in judgeProvided)
    const legalFlags = r.select && (got.c.flags & 0xffff & ~F_BUFFER) === 0;
    if (got.c.flags !== 0 && !(r.multi && got.c.flags & F_MORE) && !legalFlags) fail(`uring: ${r.op} CQE has unexpected flags`, `user_data ${hex(r.userData)}: flags ${hex(got.c.flags)}`);
    if (!inDomain(r, v) && !orphaned(r, v)) fail(`uring: ${r.op} result outside its domain`, `user_data ${hex(r.userData)}: res ${resName(v)}`);
    else if (cancelled(v) && !mayBeCancelled(r))
      fail(`uring: ${r.op} was cancelled with nothing to cancel it`, `user_data ${hex(r.userData)}: res ${resName(v)}, not linked and matched by no cancel`);
    if (r.slot !== undefined && r.inline && !cancelled(v)) {
      // IOSQE_FIXED_FILE: the slot is read when the request is issued, inside its io_uring_enter here;
      // an empty slot is -EBADF (SEMANTICS §3.4), and a request that got its file keeps it (§3.9)
      if (r.slotFull && v === -E.EBADF)
        fail(`uring: FIXED_FILE ${r.op} of a registered file failed with -EBADF`, `user_data ${hex(r.userData)}: slot ${r.slot}`);
      if (r.slotFull === false && v !== -E.EBADF)
        fail(`uring: FIXED_FILE ${r.op} of an empty slot did not fail with -EBADF`, `user_data ${hex(r.userData)}: slot ${r.slot}, res ${resName(v)}`);
    }
    if (r.bufSlot !== undefined && r.inline && r.bufFull !== undefined && !cancelled(v)) {
      // READ_FIXED/WRITE_FIXED: the buffer index is looked up inside its io_uring_enter here (at prep
      // up to 6.14, at issue since); a registered buffer is used, an index with none is -EFAULT
      // (man 2 io_uring_register IORING_REGISTER_BUFFERS2/BUFFERS_UPDATE: sparse slots; io_uring/rw.c)
      if (r.bufFull && v === -E.EFAULT)
        fail(`uring: ${r.op} of a registered buffer failed with -EFAULT`, `user_data ${hex(r.userData)}: buffer index ${r.bufSlot}`);
      if (!r.bufFull && v !== -E.EFAULT)
        fail(`uring: ${r.op} of an unregistered buffer index did not fail with -EFAULT`, `user_data ${hex(r.userData)}: buffer index ${r.bufSlot}, res ${resName(v)}`);
    }
    if (r.op === 'FILES_UPDATE' && r.inline && !cancelled(v) && v !== (r.tableExists ? 1 : -E.ENXIO))
      // issued inside its io_uring_enter: the table is the one the program left (man 2 io_uring_enter IORING_OP_FILES_UPDATE)
      fail('uring: FILES_UPDATE (the op) returned the wrong result', `user_data ${hex(r.userData)}: ${resName(v)}, expected ${resName(r.tableExists ? 1 : -E.ENXIO)}`);
    // a timer never fires before its time (hrtimers do not fire early; the clock is CLOCK_MONOTONIC)
    if ((r.op === 'TIMEOUT' || r.op === 'LINK_TIMEOUT') && v === -E.ETIME) {
      const t0 = queuedT0.get(id) ?? submittedAt.get(id)!.t0;
      if (got.t1 < t0 + BigInt(r.ms * 1e6))
        fail(`uring: ${r.op} fired early`, `user_data ${hex(r.userData)}: ${r.ms} ms timer reaped ${Number(got.t1 - t0) / 1e6} ms after submission`);
    }
    if ((r.op === 'ASYNC_CANCEL' && (r.cancelMode ?? 'ud') === 'ud') || r.op === 'POLL_REMOVE') {
      // SEMANTICS §3.9: 0 = found and cancelled (target ends -ECANCELED, or -EINTR if it was running);
      // POLL_REMOVE finds only polls
      const target = r.cancelReq !== undefined ? plan.uring[r.cancelReq] : undefined;
      const known = target !== undefined && target.ring === r.ring && submittedAt.has(target.id) && (r.op !== 'POLL_REMOVE' || target.op === 'POLL_ADD');
      if (!known && v !== -E.ENOENT && v !== -E.ECANCELED && !orphaned(r, v))
        fail('uring: cancel of an unknown user_data did not return -ENOENT', `cancel ${hex(r.userData)} of ${hex(r.cancelUd!)}: ${resName(v)}`);
      if (known && v === 0) {
        const tr = res(target.id);
        if (tr !== undefined && !cancelled(tr) && !orphaned(target, tr))
          fail('uring: cancel succeeded but its target was not cancelled', `cancel ${hex(r.userData)} returned 0; ${target.op} ${hex(target.userData)} completed ${resName(tr)}`);
        const reaped = reapedAt.get(target.id);
        if (reaped !== undefined && reaped < submittedAt.get(id)!.step)
          fail('uring: cancel of a completed request succeeded', `cancel ${hex(r.userData)} returned 0 for ${target.op} ${hex(target.userData)}, reaped at step ${reaped}`);
      }
    }
    if (r.op === 'ASYNC_CANCEL' && r.cancelMode !== undefined && r.cancelMode !== 'ud' && !cancelled(v)) {
      // ALL and ANY return the number found (SEMANTICS §3.9): never more than the requests it can match
      // (those before it in SQ order when it is issued inline, which have not been reaped yet)
      const cand = plan.uring.filter(
        (q) => couldMatch(r, q) && submittedAt.has(q.id) && (!r.inline || (q.id < r.id && !((reapedAt.get(q.id) ?? Infinity) < submittedAt.get(id)!.step))),
      );
      if (r.cancelMode !== 'fd' && v > cand.length)
        fail('uring: cancel found more requests than it could match', `${label(r)}: res ${v}, at most ${cand.length} (${cand.map((q) => `${q.op} ${hex(q.userData)}`).join(', ') || 'none'})`);
    }
    if (r.op === 'LINK_TIMEOUT' && v === -E.ETIME && r.guards !== undefined) {
      // SEMANTICS §3.10: -ETIME means the timer cancelled its target, or (docs/KERNEL-NOTES.md) that it
      // expired while the target was completing: then the target completed at or after the expiry
      const tr = res(r.guards);
      const tg = one.get(r.guards);
      const t0 = queuedT0.get(id) ?? submittedAt.get(id)!.t0;
      if (tr !== undefined && !cancelled(tr) && !orphaned(plan.uring[r.guards], tr) && tg !== undefined && tg.t1 < t0 + BigInt(r.ms * 1e6))
        fail('uring: LINK_TIMEOUT fired but its target was not cancelled', `${plan.uring[r.guards].op} ${hex(plan.uring[r.guards].userData)} completed ${resName(tr)}, reaped before the ${r.ms} ms timer could expire`);
    }
  }
}

/** Cancels against armed polls and multishot polls, and link chains. */
function judgeUringCancels(u: UringSeen): void {
  const { plan, fail, submittedAt, one, moreOf, cancellers } = u;
  const res = (id: number) => one.get(id)?.c.res;

  // a poll armed on a pipe nothing has written, issued in SQ order before a cancel that matches it,
  // is found by that cancel and ends -ECANCELED (SEMANTICS §3.13 item 6), unless another cancel could
  // have taken it first
  for (const c of cancellers) {
    const got = one.get(c.id);
    if (!got || !c.inline || plan.pipeWrittenAt < c.queueStep || cancelled(got.c.res)) continue;
    const armed = plan.uring.filter(
      (q) =>
        q.op === 'POLL_ADD' && q.ring === c.ring && q.id < c.id && q.inline && q.chain === undefined && submittedAt.has(q.id) &&
        couldMatch(c, q) && !cancellers.some((x) => x !== c && x.id < c.id && couldMatch(x, q)),
    );
    if (!armed.length) continue;
    const v = got.c.res;
    const all = c.op === 'ASYNC_CANCEL' && (c.cancelMode === 'udAll' || c.cancelMode === 'any' || c.cancelMode === 'fdAll');
    if (all ? v < armed.length : v !== 0)
      fail('uring: cancel missed an armed poll', `${label(c)}: res ${resName(v)} with ${armed.length} armed poll(s) it matches (${armed.map((q) => hex(q.userData)).join(', ')})`);
    else
      for (const q of all || c.cancelMode !== 'fd' ? armed : []) {
        const qv = res(q.id);
        if (qv !== undefined && qv !== -E.ECANCELED)
          fail('uring: an armed poll a cancel found was not cancelled', `${label(c)} returned ${v}; POLL_ADD ${hex(q.userData)} completed ${resName(qv)}`);
      }
  }

  // multishot polls: every one ends cancelled here (the stream cancels each); F_MORE only once the
  // pipe had data, and at least one when it had data before any cancel of the poll was submitted
  for (const r of plan.uring) {
    if (!r.multi || !one.has(r.id)) continue;
    const n = moreOf.get(r.id) ?? 0;
    const firstCancel = Math.min(...cancellers.filter((c) => couldMatch(c, r)).map((c) => c.queueStep));
    if (n > 0 && plan.pipeWrittenAt === Infinity)
      fail('uring: multishot POLL_ADD fired on a pipe nothing wrote', `user_data ${hex(r.userData)}: ${n} CQE(s) with F_MORE`);
    if (n === 0 && plan.pipeWrittenAt < firstCancel)
      fail('uring: multishot POLL_ADD missed the data in its pipe', `user_data ${hex(r.userData)}: no F_MORE CQE although the pipe was written (step ${plan.pipeWrittenAt}) before any cancel of it`);
  }
  // a cancel of a multishot poll that nothing else cancelled finds it: it never ends by itself
  for (const c of cancellers) {
    const t = c.cancelReq !== undefined ? plan.uring[c.cancelReq] : undefined;
    const v = one.get(c.id)?.c.res;
    if (!t?.multi || t.ring !== c.ring || v === undefined || cancellers.some((x) => x !== c && x.id < c.id && couldMatch(x, t))) continue;
    if (v !== 0 && v !== -E.EALREADY)
      fail('uring: cancel missed an armed multishot poll', `${label(c)} of POLL_ADD(multishot) ${hex(t.userData)}: ${resName(v)}`);
  }

  for (const chain of plan.chains) {
    const members = chain.filter((id) => submittedAt.has(id) && plan.uring[id].op !== 'LINK_TIMEOUT');
    // link CQEs are posted in chain order (SEMANTICS §3.10)
    let last: Seen<Cqe> | undefined;
    for (const id of members) {
      const g = one.get(id);
      if (!g) continue;
      if (last && g.pos < last.pos)
        fail('uring: link chain completed out of order', `chain ${chain.map((x) => hex(plan.uring[x].userData)).join('>')}: ${hex(plan.uring[id].userData)} came before ${hex(Number(last.c.userData))}`);
      last = g;
    }
    // after a failed member of a soft link, the rest complete -ECANCELED (a member failed at prep
    // reports its own error, SEMANTICS §3.5)
    for (let i = 0; i < members.length; i++) {
      const r = plan.uring[members[i]];
      const v = res(r.id);
      if (v === undefined || r.link !== 1 || !failedInLink(r, v)) continue;
      for (const later of members.slice(i + 1)) {
        const lv = res(later);
        if (lv !== undefined && lv !== -E.ECANCELED && !prepFailed(plan.uring[later], lv))
          fail('uring: linked request ran after its predecessor failed', `${r.op} ${hex(r.userData)} failed (${resName(v)}); ${plan.uring[later].op} ${hex(plan.uring[later].userData)} then completed ${resName(lv)}`);
      }
      break;
    }
  }
}

/** IOSQE_IO_DRAIN: started only after every earlier request of its ring completed. */
function judgeDrains(u: UringSeen): void {
  const { plan, fail, one } = u;
  for (const r of plan.uring) {
    const g = one.get(r.id);
    // a request failed at prep completes at once, drained or not (io_submit_fail_init, SEMANTICS §3.5)
    if (!r.drain || !g || prepFailed(r, g.c.res)) continue;
    for (const e of plan.uring) {
      if (e.id >= r.id) break;
      const eg = one.get(e.id);
      if (e.ring === r.ring && eg && eg.pos > g.pos)
        fail('uring: drained request completed before an earlier one', `${r.op} ${hex(r.userData)} (IO_DRAIN) before ${e.op} ${hex(e.userData)}`);
    }
  }
}

/**
 * A THREADS step (two threads io_uring_enter the SQEs queued before it, `q`) or a forked child's WAIT
 * (the child entered them). A function of its own, not a branch of judgeUring: programs with threads
 * are rare, and the first of them to reach a branch V8 optimized judgeUring without threw all of that
 * big function's optimized code away (a recompile costs more CPU than judging hundreds of runs).
 */
function judgeThreadEnter(
  st: Extract<PlanStep, { kind: 'threadEnter' }>,
  s: StepResult,
  q: number[],
  submittedAt: Map<number, { step: number; t0: bigint }>,
  all: StepResult[],
  fail: Fail,
): void {
  const threadStep = (seq: number, step: number) => all.find((x) => x.seq === seq && x.step === step);
  const ret = Number(s.ret);
  if (st.fork) {
    // the child ran its steps and _exit(0)ed, and the parent reaped it (this WAIT)
    if (s.deadline || ret <= 0 || waitStatus(s.ret2).exited !== 0)
      fail('process: a forked child that submitted did not exit cleanly', `ring ${st.ring}: waitpid ${resName(ret)}, status ${hex(Number(s.ret2))}${s.deadline ? ', deadline' : ''}`);
    const a = st.aioSubmit && threadStep(st.aioSubmit.seq, st.aioSubmit.step);
    // SEMANTICS §1.7: fork does not inherit AIO contexts (mm_init_aio: no ioctx table): -EINVAL
    if (a && Number(a.ret) !== -E.EINVAL) fail("aio: a forked child's io_submit on its parent's context did not fail with -EINVAL", `io_submit returned ${resName(Number(a.ret))}`);
  }
  const rets = st.enters.map((e) => threadStep(e.seq, e.step));
  if (rets.some((x) => x === undefined)) {
    fail('program: a thread did not run its io_uring_enter', `ring ${st.ring}: THREADS joined ${ret}`);
    return;
  }
  const got = rets.map((x) => Number(x!.ret));
  if (st.single) {
    // SEMANTICS §3.11: a SINGLE_ISSUER ring takes submissions from its creator only
    if (got.some((x) => x !== -E.EEXIST))
      fail(`uring: another ${st.fork ? 'process' : 'thread'} submitted on a SINGLE_ISSUER ring`, `ring ${st.ring}: the ${st.fork ? "child's" : "threads'"} io_uring_enter returned ${got.map(resName).join(', ')}`);
    return;
  }
  if (st.sqpoll) {
    // SEMANTICS §3.5: with SQPOLL io_uring_enter returns to_submit; the SQ thread consumes the SQEs
    if (got.some((x) => x !== st.reqs.length))
      fail('uring: io_uring_enter on an SQPOLL ring did not return to_submit', `ring ${st.ring}: ${got.map(resName).join(', ')} for ${st.reqs.length}`);
    for (const id of q.splice(0)) submittedAt.set(id, { step: s.step, t0: s.t0Ns });
    return;
  }
  // two io_uring_enter calls racing for the same SQEs consume each of them exactly once
  const sum = got.reduce((a, b) => a + Math.max(0, b), 0);
  if (got.some((x) => x < 0) || sum !== q.length)
    fail(st.fork ? "uring: a forked child's io_uring_enter on the inherited ring did not consume its SQEs" : 'uring: concurrent io_uring_enter calls did not consume each SQE exactly once', `ring ${st.ring}: ${got.map(resName).join(' + ')} for ${q.length} valid SQEs`);
  for (const id of q.splice(0, Math.max(0, Math.min(sum, q.length)))) submittedAt.set(id, { step: s.step, t0: s.t0Ns });
}

/**
 * Legacy provided buffers (man 2 io_uring_enter: IORING_OP_PROVIDE_BUFFERS, IORING_OP_REMOVE_BUFFERS,
 * IOSQE_BUFFER_SELECT; man 3 io_uring_prep_provide_buffers). Every PROVIDE_BUFFERS hands out fresh
 * buffer ids, so per ring and group: a read's CQE names (F_BUFFER, id above CQE_BUFFER_SHIFT) a
 * provided id no other read got; reads and removes never take more than was provided; -ENOBUFS
 * only when the group may have been empty, a buffer only when one may have been provided; and the
 * REMOVE_BUFFERS after everything completed removes exactly what is left.
 */
function judgeProvided(plan: Plan, one: Map<number, Seen<Cqe>>, submittedAt: Map<number, { step: number }>, reapedAt: Map<number, number>, fail: Fail): void {
  const groups = new Map<string, UringReq[]>();
  for (const r of plan.uring) {
    if (r.group === undefined || !one.has(r.id)) continue;
    const k = `ring ${r.ring} group ${r.group}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const res = (r: UringReq) => one.get(r.id)!.c.res;
  const flags = (r: UringReq) => one.get(r.id)!.c.flags;
  for (const [k, reqs] of groups) {
    const provides = reqs.filter((r) => r.op === 'PROVIDE_BUFFERS' && res(r) === 0);
    const provided = new Set(provides.flatMap((r) => Array.from({ length: r.nbufs! }, (_, i) => r.bid! + i)));
    const total = provided.size;
    const reads = reqs.filter((r) => r.select);
    const removes = reqs.filter((r) => r.op === 'REMOVE_BUFFERS' && !r.finalRemove);
    const removedBy = (rs: UringReq[]) => rs.reduce((a, r) => a + Math.max(0, res(r)), 0);
    const got = new Map<number, UringReq>();
    for (const r of reads) {
      if (!(flags(r) & F_BUFFER)) {
        if (res(r) >= 0) fail('uring: a BUFFER_SELECT read succeeded without naming its buffer', `${k}: user_data ${hex(r.userData)} res ${resName(res(r))} flags ${hex(flags(r))}`);
        continue;
      }
      const bid = flags(r) >>> BUFFER_SHIFT;
      if (res(r) === -E.ENOBUFS) fail('uring: a BUFFER_SELECT read failed -ENOBUFS but named a buffer', `${k}: user_data ${hex(r.userData)} buffer ${bid}`);
      if (!provided.has(bid)) fail('uring: a BUFFER_SELECT read got a buffer id never provided to its group', `${k}: user_data ${hex(r.userData)} buffer ${bid}; provided: ${[...provided].join(', ') || 'none'}`);
      else if (got.has(bid)) fail('uring: two BUFFER_SELECT reads got the same provided buffer', `${k}: buffer ${bid} to ${hex(got.get(bid)!.userData)} and ${hex(r.userData)}`);
      got.set(bid, r);
    }
    const used = reads.filter((r) => flags(r) & F_BUFFER).length;
    const removed = removedBy(removes);
    if (used + removed > total) fail('uring: more provided buffers were used and removed than provided', `${k}: ${used} used by reads, ${removed} removed, ${total} provided`);
    for (const r of reads) {
      const enter = submittedAt.get(r.id)!.step;
      const reaped = reapedAt.get(r.id)!;
      if (res(r) === -E.ENOBUFS) {
        // provided (and reaped) before the read was submitted, less all that may have gone before it completed
        const surely = provides.filter((q) => reapedAt.get(q.id)! < enter).reduce((a, q) => a + q.nbufs!, 0);
        const taken = reads.filter((x) => x !== r && flags(x) & F_BUFFER && submittedAt.get(x.id)!.step <= reaped).length + removedBy(removes.filter((x) => submittedAt.get(x.id)!.step <= reaped));
        if (surely - taken >= 1) fail('uring: a BUFFER_SELECT read failed -ENOBUFS while its group held buffers', `${k}: user_data ${hex(r.userData)}: ${surely} provided before it was submitted, at most ${taken} taken before it completed`);
      } else if (flags(r) & F_BUFFER && !provides.some((q) => submittedAt.get(q.id)!.step <= reaped))
        fail('uring: a BUFFER_SELECT read got a buffer before any was provided to its group', `${k}: user_data ${hex(r.userData)}`);
    }
    const fin = reqs.find((r) => r.finalRemove);
    if (fin) {
      const v = res(fin);
      const left = total - used - removed;
      if (left > 0 ? v !== left : v !== 0 && v !== -E.ENOENT)
        fail('uring: REMOVE_BUFFERS after every request completed did not remove what was left', `${k}: res ${resName(v)}; ${total} provided, ${used} used by reads, ${removed} removed before (${Math.max(0, left)} left)`);
    }
  }
}

/**
 * A child that left requests in flight and exited or exec'ed (SEMANTICS §1.7: exit_aio waits for the
 * in-flight I/O and frees the contexts; §3.11: exit and exec cancel the task's io_uring requests, and
 * the rings go with the last reference): reaped before the deadline with the expected status, no
 * thread of it left (kill(pid, 0) is -ESRCH), and the exec'ed image maps no ring of the old one.
 */
function judgeDeparture(st: Extract<PlanStep, { kind: 'depart' }>, s: StepResult, main: StepResult[], fail: Fail): void {
  const rule = st.aio ? 'SEMANTICS §1.7' : 'SEMANTICS §3.11';
  const what = `a child with ${st.aio ? 'an AIO context' : 'a ring'} that ${st.how === 'exit' ? 'exited' : 'exec\'ed'} with requests in flight`;
  if (s.deadline) {
    fail(`process: ${what} was not reaped in time (teardown hang?)`, `${rule}: waitpid hit its deadline`);
    return;
  }
  const status = Number(s.ret2);
  const fork = main.find((x) => x.step === st.fork);
  if (Number(s.ret) !== Number(fork?.ret ?? -1) || waitStatus(status).exited !== st.code)
    fail(`process: ${what} did not end as it should`, `waitpid ${resName(Number(s.ret))} (fork ${fork ? resName(Number(fork.ret)) : 'missing'}), status ${hex(status)}, expected exit ${st.code}`);
  const probe = main.find((x) => x.step === st.probe);
  if (probe && Number(probe.ret) !== -E.ESRCH) fail(`process: ${what} left a thread behind after it was reaped`, `${rule}: kill(pid, 0) returned ${resName(Number(probe.ret))}`);
  if (st.maps) {
    const rd = main.find((x) => x.step === st.maps!.read);
    const d = main.find((x) => x.step === st.maps!.dump);
    const n = rd && d?.dump && rd.ret > 0n ? Number.parseInt(d.dump.subarray(0, Number(rd.ret)).toString('ascii').trim(), 10) : NaN;
    if (n !== 0) fail(`process: the image a child exec'ed still maps ${st.aio ? 'an [aio]' : 'an io_uring'} ring`, `${rule}: ${Number.isNaN(n) ? 'no count was written' : `${n} mapping(s)`}`);
  }
}

/**
 * Could cancel request `c` match request `r` (SEMANTICS §3.9)? By user_data; ANY: every other
 * request of the ring; by fd: requests on that file (timeouts never), and for the pipe only polls
 * armed on the pipe the fd named (when `c` or the poll may run later than its enter, either pipe).
 */
function couldMatch(c: UringReq, r: UringReq): boolean {
  if (c.ring !== r.ring || c.id === r.id) return false;
  if (c.op === 'POLL_REMOVE') return r.op === 'POLL_ADD' && c.cancelUd === r.userData;
  switch (c.cancelMode ?? 'ud') {
    case 'ud':
    case 'udAll':
      return c.cancelUd === r.userData;
    case 'any':
      return true;
    case 'fd':
    case 'fdAll':
      // a poll issued later than its enter (behind a link, or as DEFER_TASKRUN task work) looks the pipe fd up then:
      // after a dupPipe it may be armed on either pipe, as may a cancel issued later
      if (c.cancelFile === -1) return r.op === 'POLL_ADD' && (!c.inline || !r.inline || r.pipeGen === c.pipeGen);
      return (r.op === 'READ' || r.op === 'WRITE' || r.op === 'FSYNC' || r.op === 'READ_FIXED' || r.op === 'WRITE_FIXED') && r.file === c.cancelFile;
  }
}

/** The results a request may legally complete with (SEMANTICS §3.5, §3.9, §3.10). */
function inDomain(r: UringReq, v: number): boolean {
  const cancelled = v === -E.ECANCELED;
  switch (r.op) {
    case 'NOP':
      return v === 0 || cancelled;
    case 'READ':
    case 'WRITE':
      // a registered-file slot may be empty when the request is issued: -EBADF (SEMANTICS §3.4); an
      // empty provided-buffer group: -ENOBUFS (man 2 io_uring_enter, IOSQE_BUFFER_SELECT). Requests
      // on the alias fd are issued inside their io_uring_enter, before closeFile closes it: they hold
      // their file, and the close changes nothing (SEMANTICS §3.9), so never -EBADF
      return (
        v === r.len ||
        cancelled ||
        v === -E.EINTR ||
        (r.slot !== undefined && v === -E.EBADF) ||
        (!!r.select && v === -E.ENOBUFS)
      );
    case 'READ_FIXED':
    case 'WRITE_FIXED':
      // an index with no registered buffer (empty sparse slot, past the table, no table): -EFAULT
      // (io_uring/rw.c io_prep_rw_fixed / io_import_reg_buf; 6.1, 6.12, 6.18 alike)
      return v === r.len || cancelled || v === -E.EINTR || v === -E.EFAULT;
    case 'FSYNC':
      return v === 0 || cancelled || v === -E.EINTR;
    case 'FILES_UPDATE':
      // man 2 io_uring_enter IORING_OP_FILES_UPDATE: the number of slots updated; -ENXIO with no file table.
      // Issued later (io-wq, a link), it may run while IORING_UNREGISTER_FILES waits for the table's users:
      // up to 6.12 the table then reads as 0 slots, so the update is out of range, -EINVAL (docs/KERNEL-NOTES.md)
      return v === 1 || v === -E.ENXIO || cancelled || (!r.inline && v === -E.EINVAL);
    case 'PROVIDE_BUFFERS':
      return v === 0 || cancelled;
    case 'REMOVE_BUFFERS':
      // the number removed, at most the count asked for; -ENOENT for a group that does not exist
      return (v >= 0 && v <= r.nbufs!) || v === -E.ENOENT || cancelled;
    case 'POLL_ADD':
      return v > 0 || cancelled;
    case 'ASYNC_CANCEL':
      // ALL and ANY: a count, 0 included (SEMANTICS §3.9)
      if (r.cancelMode === 'udAll' || r.cancelMode === 'any' || r.cancelMode === 'fdAll') return v >= 0 || cancelled;
      return v === 0 || v === -E.ENOENT || v === -E.EALREADY || cancelled;
    case 'POLL_REMOVE':
      return v === 0 || v === -E.ENOENT || v === -E.EALREADY || cancelled;
    case 'TIMEOUT':
      return v === 0 || v === -E.ETIME || cancelled;
    case 'LINK_TIMEOUT':
      return v === -E.ETIME || v === -E.EALREADY || v === -E.ENOENT || cancelled;
  }
}

/**
 * Did this request fail at prep, inside io_uring_enter (SEMANTICS §3.5)? Up to 6.14, READ_FIXED and
 * WRITE_FIXED look their buffer index up there (io_prep_rw_fixed: -EFAULT); since, at issue.
 */
function prepFailed(r: UringReq, v: number): boolean {
  return (r.op === 'READ_FIXED' || r.op === 'WRITE_FIXED') && v === -E.EFAULT;
}

/** Does this result break a soft link? Any error, and a short read or write. */
function failedInLink(r: UringReq, v: number): boolean {
  if (v < 0) return true;
  return (r.op === 'READ' || r.op === 'WRITE') && v !== r.len;
}

function judgeAio(plan: Plan, main: StepResult[], fail: Fail): void {
  if (plan.aio.length === 0) return;
  const accepted = new Map<number, number>();
  const seen = new Map<number, Seen<IoEvent>[]>();
  const reapedAt = new Map<number, number>();
  const cancelledBy = new Map<number, number>();
  const strangers: string[] = [];
  let n = 0;
  for (const s of main) {
    const st = plan.steps.get(s.step);
    if (!st) continue;
    const ret = Number(s.ret);
    if (st.kind === 'aioSubmit') {
      if (ret !== st.reqs.length) fail('aio: io_submit accepted fewer iocbs than given', `context ${st.ctx}: ${resName(ret)} of ${st.reqs.length}`);
      for (const id of st.reqs.slice(0, Math.max(0, ret))) accepted.set(id, s.step);
    } else if (st.kind === 'aioReap') {
      if (ret < 0) fail('aio: io_getevents failed', `context ${st.ctx}: ${resName(ret)}`);
      for (const e of s.events) {
        const id = Number(e.data) - 0x1000;
        const r = plan.aio[id];
        if (!r || r.ctx !== st.ctx || !accepted.has(id)) {
          strangers.push(`context ${st.ctx} step ${s.step}: aio_data ${hex(Number(e.data))} res ${e.res}`);
          continue;
        }
        const l = seen.get(id) ?? [];
        l.push({ step: s.step, pos: n++, t1: s.t1Ns, c: e });
        seen.set(id, l);
        if (!reapedAt.has(id)) reapedAt.set(id, s.step);
      }
    } else if (st.kind === 'aioCancel') {
      // SEMANTICS §1.5: only an armed POLL of this context is cancellable (-EINPROGRESS); else -EINVAL
      const t = st.target !== undefined ? plan.aio[st.target] : undefined;
      const armed = t !== undefined && t.op === 'POLL' && t.ctx === st.ctx && accepted.has(t.id) && !reapedAt.has(t.id);
      if (ret === -E.EINPROGRESS && t !== undefined) cancelledBy.set(t.id, s.step);
      if (ret !== -E.EINVAL && ret !== -E.EINPROGRESS) fail('aio: io_cancel returned an undocumented result', `${resName(ret)} for ${t ? `${t.op} ${hex(t.data)}` : 'an unknown iocb'}`);
      else if (ret === -E.EINPROGRESS && !armed)
        fail(
          t && reapedAt.has(t.id) ? 'aio: io_cancel of a completed request succeeded' : 'aio: io_cancel succeeded on a request it cannot cancel',
          `${t ? `${t.op} ${hex(t.data)} on context ${t.ctx}` : 'unknown iocb'}, cancel on context ${st.ctx}`,
        );
    }
  }
  if (strangers.length) fail('aio: completion for an iocb never submitted', strangers.join('; '));
  for (const r of plan.aio) {
    if (!accepted.has(r.id)) continue;
    const l = seen.get(r.id) ?? [];
    if (l.length === 0) fail(`aio: ${r.op} never completed`, `aio_data ${hex(r.data)} on context ${r.ctx}`);
    else if (l.length > 1) fail(`aio: ${r.op} completed more than once`, `aio_data ${hex(r.data)} completed ${l.length} times`);
    else {
      const e = l[0].c;
      const v = Number(e.res);
      const ok =
        r.op === 'POLL'
          ? v > 0 || (v === 0 && cancelledBy.has(r.id))
          : r.op === 'FSYNC'
            ? v === 0
            : v === r.len;
      if (!ok) fail(`aio: ${r.op} result outside its domain`, `aio_data ${hex(r.data)}: res ${resName(v)}${cancelledBy.has(r.id) ? ' after io_cancel' : ''}`);
      if (e.res2 !== 0n) fail('aio: io_event res2 is not 0', `aio_data ${hex(r.data)}: res2 ${e.res2}`);
      // a POLL cancelled before the pipe had data cannot have seen it: it completes with 0
      const by = cancelledBy.get(r.id);
      if (by !== undefined && by < plan.pipeWrittenAt && v !== 0)
        fail('aio: cancelled POLL did not complete with 0', `aio_data ${hex(r.data)}: res ${resName(v)}`);
    }
  }
}

/** A write as the file check sees it. */
interface W {
  seed: number;
  off: number;
  len: number;
  submit: number;
  /** Step where its completion was reaped (Infinity: never, or failed). */
  done: number;
  ok: boolean;
}

function judgeFiles(plan: Plan, main: StepResult[], fail: Fail, all: StepResult[] = main): void {
  const byStep = new Map<number, StepResult>();
  for (const s of main) byStep.set(s.step, s);
  const writes: W[][] = Array.from({ length: plan.files }, () => []);
  // completions of writes: from the reap steps
  const doneU = new Map<number, { step: number; res: number }>();
  const doneA = new Map<number, { step: number; res: number }>();
  for (const s of main) {
    const st = plan.steps.get(s.step);
    if (st?.kind === 'reap') for (const c of s.cqes) if (!doneU.has(Number(c.userData) - 1)) doneU.set(Number(c.userData) - 1, { step: s.step, res: c.res });
    if (st?.kind === 'aioReap') for (const e of s.events) if (!doneA.has(Number(e.data) - 0x1000)) doneA.set(Number(e.data) - 0x1000, { step: s.step, res: Number(e.res) });
  }
  const consumed = (r: UringReq) => {
    const e = byStep.get(r.enterStep);
    const st = plan.steps.get(r.enterStep);
    if (st?.kind === 'threadEnter') {
      // a thread's SQEs: consumed when the threads' io_uring_enter calls took them (SQ order)
      const took = st.enters.reduce((a, x) => a + Math.max(0, Number(all.find((y) => y.seq === x.seq && y.step === x.step)?.ret ?? 0)), 0);
      return st.sqpoll || st.reqs.indexOf(r.id) < took;
    }
    return !!e && !!st && st.kind === 'enter' && st.reqs.indexOf(r.id) < Number(e.ret);
  };
  // a departed child's write: done once the child was reaped when it was an AIO write io_submit
  // accepted (SEMANTICS §1.7: exit_aio waits for in-flight I/O), else maybe, at any time
  for (const w of plan.childWrites ?? []) {
    const acc = w.accepted && all.find((x) => x.seq === w.accepted!.seq && x.step === w.accepted!.step);
    writes[w.file].push({ seed: w.seed, off: w.off, len: w.len, submit: w.submit, done: w.done, ok: !!acc && Number(acc.ret) === w.accepted!.want });
  }
  for (const r of plan.uring)
    if ((r.op === 'WRITE' || r.op === 'WRITE_FIXED') && consumed(r)) {
      const d = doneU.get(r.id);
      writes[r.file].push({ seed: r.seed, off: r.off, len: r.len, submit: r.enterStep, done: d ? d.step : Infinity, ok: d?.res === r.len });
    }
  for (const r of plan.aio as AioReq[])
    if (r.op === 'PWRITE' && r.pos < Number(byStep.get(r.submitStep)?.ret ?? 0)) {
      const d = doneA.get(r.id);
      writes[r.file].push({ seed: r.seed, off: r.off, len: r.len, submit: r.submitStep, done: d ? d.step : Infinity, ok: d?.res === r.len });
    }
  for (const [idx, st] of plan.steps) {
    if (st.kind !== 'dump') continue;
    const data = byStep.get(idx)?.dump;
    if (!data) continue;
    const ws = writes[st.file];
    const bySeed = new Map(ws.map((x) => [x.seed, x]));
    const covers = (x: W, o: number) => x.off <= o && o < x.off + x.len;
    // W's data is gone for good if a successful write over it was submitted after W was reaped
    const superseded = (x: W, o: number) => ws.some((y) => y.ok && y !== x && covers(y, o) && y.submit > x.done);
    // the same two questions, answered once per write and per word instead of by a scan per word
    // (this loop runs 512 times per file per run): which successful writes cover each word, and
    // which successful writes came after each write was reaped
    const okCovered = new Uint8Array(FILE_WORDS);
    for (const y of ws) {
      if (y.ok) okCovered.fill(1, Math.max(0, Math.ceil(y.off / 8)), Math.min(FILE_WORDS, Math.ceil((y.off + y.len) / 8)));
    }
    const later = new Map<W, W[]>();
    const laterOf = (x: W) => {
      let l = later.get(x);
      if (!l) later.set(x, (l = ws.filter((y) => y.ok && y !== x && y.submit > x.done)));
      return l;
    };
    const bad: string[] = [];
    // runs of words come from one write: look its seed up once per run
    let lastSeed = -1;
    let lastSrc: W | undefined;
    let lastLater: W[] = [];
    for (let w = 0; w < FILE_WORDS; w++) {
      const o = w * 8;
      // tracePatternWord, without a Buffer per word
      const pos = data.readUInt32LE(o) * 8;
      const seed = data.readUInt32LE(o + 4);
      if (pos === o && seed !== lastSeed) {
        lastSeed = seed;
        lastSrc = bySeed.get(seed);
        lastLater = lastSrc ? laterOf(lastSrc) : [];
      }
      const src = pos === o ? lastSrc : undefined;
      let legal: boolean;
      if (src) {
        legal = covers(src, o);
        for (let i = 0; legal && i < lastLater.length; i++) if (covers(lastLater[i], o)) legal = false;
      } else legal = pos === o && seed === plan.fileSeeds[st.file] && okCovered[w] === 0;
      if (legal) continue;
      const from = { pos, seed };
      const could = ws.filter((x) => covers(x, o) && !superseded(x, o)).map((x) => hex(x.seed));
      if (!ws.some((y) => y.ok && covers(y, o))) could.push('initial');
      bad.push(`word ${w} (offset ${o}) came from seed ${hex(from.seed)} pos ${from.pos}; legal: ${could.join(', ') || 'none'}`);
      if (bad.length >= 4) break;
    }
    if (bad.length) fail('file: contents match no legal order of the completed writes', `file ${st.file}: ${bad.join('; ')}`);
  }
}
