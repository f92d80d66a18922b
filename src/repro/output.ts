/**
 * What a C reproducer prints, turned back into the Trace the executor's trace decodes to: the lines
 * are rebuilt as trace records (native/WIRE.md, Trace) and handed to decodeTrace, so both paths
 * assemble steps, completions and data the same way and the same oracle judges them.
 *
 * Format (one event per line, integers in decimal, the digest in hex):
 * ```
 * STEP seq step proc ret errno flags t0_ns t1_ns ret2
 * CQE seq step proc user_data res flags [big0 big1]
 * EVENT seq step proc data obj res res2
 * DIGEST seq step proc hex n
 * DUMP seq step proc n hex
 * VERIFY seq step proc mismatches first
 * RING seq step proc sq_head sq_tail cq_head cq_tail sq_flags cq_flags cq_overflow sq_dropped sq_entries cq_entries
 * ERROR seq step proc message
 * STATUS deadline|error message
 * END
 * ```
 */
import { decodeTrace, Trace } from '../program/trace';
import { Rec, TRACE_HEADER, TRACE_MAGIC, TraceStatus, WIRE_VERSION } from '../program/wire';

/** Output a reproducer cannot have printed. */
export class ReproOutputError extends Error {}

const pad8 = (n: number) => (n + 7) & ~7;

function record(type: number, seq: number, step: number, proc: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16LE(type, 0);
  h.writeUInt16LE(seq, 2);
  h.writeUInt16LE(step, 4);
  h.writeUInt16LE(proc, 6);
  h.writeUInt32LE(pad8(payload.length), 8);
  return Buffer.concat([h, payload, Buffer.alloc(pad8(payload.length) - payload.length)]);
}

function words(kind: 'u32' | 'i32' | 'u64' | 'i64', vals: bigint[]): Buffer {
  const w = kind.endsWith('64') ? 8 : 4;
  const b = Buffer.alloc(w * vals.length);
  vals.forEach((v, k) => {
    if (kind === 'u32') b.writeUInt32LE(Number(BigInt.asUintN(32, v)), 4 * k);
    else if (kind === 'i32') b.writeInt32LE(Number(BigInt.asIntN(32, v)), 4 * k);
    else b.writeBigUInt64LE(BigInt.asUintN(64, v), 8 * k);
  });
  return b;
}

/** How the reproducer process ended, to tell a finished program from a runner that died. */
export interface ReproExit {
  /** Wait status as waitpid reports it (exit code << 8, or the signal number). */
  waitStatus: number;
}

function diedMessage(ws: number | undefined): string {
  if (ws === undefined) return 'runner died: no wait status';
  return (ws & 0x7f) !== 0 ? `runner died: killed by signal ${ws & 0x7f}` : `runner died: exit status ${(ws >> 8) & 0xff}`;
}

/**
 * Parse a reproducer's stdout into the Trace `decodeTrace` would give for the same events. Without an
 * `END` line the program did not finish (EXIT, a crash, a kill): status `runner-died`, as the child
 * target reports it. A partial last line (the process died mid-write) is ignored.
 */
export function parseReproOutput(text: string, exit?: ReproExit): Trace {
  const recs: Buffer[] = [];
  let status: number = TraceStatus.OK;
  let message = '';
  let ended = false;
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') lines.pop(); // cut short mid-line
  lines.forEach((line, n) => {
    if (line === '') return;
    const sp = line.indexOf(' ');
    const tag = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? '' : line.slice(sp + 1);
    const f = rest.split(' ');
    const bad = (): never => {
      throw new ReproOutputError(`line ${n + 1} of the reproducer's output is not an event: ${JSON.stringify(line.slice(0, 80))}`);
    };
    const int = (k: number): bigint => {
      if (!/^-?\d+$/.test(f[k] ?? '')) bad();
      return BigInt(f[k]);
    };
    const head = (): [number, number, number] => [Number(int(0)), Number(int(1)), Number(int(2))];
    switch (tag) {
      case 'STEP': {
        if (f.length !== 9) bad();
        const payload = Buffer.concat([words('i64', [int(3)]), words('i32', [int(4)]), words('u32', [int(5)]), words('u64', [int(6), int(7)]), words('i64', [int(8)])]);
        recs.push(record(Rec.STEP, ...head(), payload));
        break;
      }
      case 'CQE': {
        if (f.length !== 6 && f.length !== 8) bad();
        const big = f.length === 8;
        const cqe = Buffer.concat([words('u64', [int(3)]), words('i32', [int(4)]), words('u32', [int(5)]), ...(big ? [words('u64', [int(6), int(7)])] : [])]);
        recs.push(record(Rec.CQE, ...head(), Buffer.concat([words('u32', [1n, BigInt(cqe.length)]), cqe])));
        break;
      }
      case 'EVENT':
        if (f.length !== 7) bad();
        recs.push(record(Rec.AIO_EVENT, ...head(), words('u64', [int(3), int(4), int(5), int(6)])));
        break;
      case 'DIGEST':
        if (f.length !== 5 || !/^[0-9a-f]{16}$/.test(f[3])) bad();
        recs.push(record(Rec.DIGEST, ...head(), Buffer.concat([words('u64', [BigInt('0x' + f[3])]), words('u32', [int(4), 0n])])));
        break;
      case 'DUMP': {
        if (f.length !== 5 || !/^([0-9a-f]{2})*$/.test(f[4]) || f[4].length !== 2 * Number(int(3))) bad();
        recs.push(record(Rec.DUMP, ...head(), Buffer.concat([words('u32', [int(3), 0n]), Buffer.from(f[4], 'hex')])));
        break;
      }
      case 'VERIFY':
        if (f.length !== 5) bad();
        recs.push(record(Rec.VERIFY, ...head(), words('u32', [int(3), int(4)])));
        break;
      case 'RING':
        if (f.length !== 13) bad();
        recs.push(record(Rec.RING_STATE, ...head(), words('u32', f.slice(3).map((_, k) => int(k + 3)))));
        break;
      case 'ERROR': {
        if (f.length < 3) bad();
        const m = Buffer.from(f.slice(3).join(' '), 'utf8');
        recs.push(record(Rec.ERROR, ...head(), Buffer.concat([words('u32', [BigInt(m.length), 0n]), m])));
        break;
      }
      case 'STATUS':
        if (status === TraceStatus.OK) {
          status = f[0] === 'deadline' ? TraceStatus.DEADLINE : TraceStatus.ERROR;
          message = f.slice(1).join(' ');
        }
        break;
      case 'END':
        ended = true;
        break;
      default:
        bad();
    }
  });
  if (!ended) {
    message = diedMessage(exit?.waitStatus) + (message ? `; ${message}` : '');
    status = TraceStatus.RUNNER_DIED;
  }
  const msg = Buffer.from(message, 'utf8');
  const h = Buffer.alloc(TRACE_HEADER);
  const body = Buffer.concat([msg, Buffer.alloc(pad8(msg.length) - msg.length), ...recs]);
  h.writeUInt32LE(TRACE_MAGIC, 0);
  h.writeUInt16LE(WIRE_VERSION, 4);
  h.writeUInt16LE(status, 6);
  h.writeUInt32LE(TRACE_HEADER + body.length, 8);
  h.writeUInt32LE(recs.length, 12);
  h.writeInt32LE(exit?.waitStatus ?? -1, 16);
  h.writeUInt32LE(msg.length, 20);
  return decodeTrace(Buffer.concat([h, body]));
}
