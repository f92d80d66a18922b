/**
 * The generic "run system call N by number" adapter, for a kernel developer's candidate patch: an
 * io_uring opcode or an IOCB opcode whose request carries the syscall number and its six arguments
 * (Linus's "do arbitrary system call X with arguments A, B, C, D asynchronously", SEMANTICS §2.5).
 * Its encoding is data, set by the candidate:
 *
 *   KASYNC_ASYNC_SYSCALL='uring:op=70,nr=off,args=@addr'      nr in sqe->off, addr → u64 args[6]
 *   KASYNC_ASYNC_SYSCALL='aio:op=14,nr=aio_offset,args=@aio_buf'
 *   KASYNC_ASYNC_SYSCALL='uring:op=70,nr=len,args=off+addr+addr2+addr3+splice_fd_in+buf_index'
 *
 * Without a candidate the default encoding (io_uring opcode 255, which no kernel defines) is used:
 * every attempt must then be refused without side effects.
 */
import { errno, IOCB_LAYOUT, SQE_LAYOUT } from '../abi';
import { arg, ArgLike, Sequence } from '../program/builder';
import type { FieldValue } from '../program/struct';
import type { SqeSpec } from '../program/uring';
import { AioSession } from './aio';
import { fixtureNumbers } from './fixtures';
import type { AsyncAdapter, CancelOutcome, SyscallRequest } from './types';
import { UringSession } from './uring';

/** Where a candidate interface puts the system call number and its arguments. */
export interface GenericEncoding {
  iface: 'uring' | 'aio';
  /** The SQE opcode or `aio_lio_opcode`. */
  opcode: number;
  /** The SQE or iocb field holding the system call number. */
  nr: string;
  /** The six arguments: each in its own field, or as a u64[6] array whose address goes in one field. */
  args: { fields: string[] } | { array: string };
  /** Set by the user (a candidate), not the default. */
  candidate: boolean;
}

/** The environment variable a candidate's encoding comes from. */
export const GENERIC_ENV = 'KASYNC_ASYNC_SYSCALL';

/** The default: an io_uring opcode no kernel defines (io_init_req: opcode >= IORING_OP_LAST → -EINVAL). */
export const DEFAULT_GENERIC = 'uring:op=255,nr=off,args=@addr';

/** Parse an encoding (`iface:op=N,nr=FIELD,args=@FIELD|F1+F2+…`); throws a one-line message on bad input. */
export function parseGenericEncoding(text: string, candidate = true): GenericEncoding {
  const m = /^(uring|aio):(.*)$/.exec(text.trim());
  if (!m) throw new Error(`${GENERIC_ENV}: expected "uring:…" or "aio:…", got ${JSON.stringify(text)}`);
  const iface = m[1] as 'uring' | 'aio';
  const kv = new Map(m[2].split(',').map((p) => p.split('=', 2) as [string, string]));
  const fields = Object.keys(iface === 'uring' ? SQE_LAYOUT.fields : IOCB_LAYOUT.fields);
  const field = (f: string | undefined, what: string): string => {
    if (!f || !fields.includes(f)) throw new Error(`${GENERIC_ENV}: ${what} must name a field of the ${iface} request, got ${f}`);
    return f;
  };
  const op = Number(kv.get('op'));
  const max = iface === 'uring' ? 255 : 65535;
  if (!Number.isInteger(op) || op < 0 || op > max) throw new Error(`${GENERIC_ENV}: op must be an integer 0..${max}`);
  const a = kv.get('args') ?? '';
  let args: GenericEncoding['args'];
  if (a.startsWith('@')) args = { array: field(a.slice(1), 'args=@') };
  else {
    const fields = a.split('+').map((f) => field(f, 'each of args'));
    if (fields.length !== 6) throw new Error(`${GENERIC_ENV}: args needs six fields, got ${fields.length}`);
    args = { fields };
  }
  return { iface, opcode: op, nr: field(kv.get('nr'), 'nr'), args, candidate };
}

/** The encoding in effect: the candidate's from {@link GENERIC_ENV}, or the default. */
export function genericEncoding(env: NodeJS.ProcessEnv = process.env): GenericEncoding {
  const t = env[GENERIC_ENV];
  return t ? parseGenericEncoding(t) : parseGenericEncoding(DEFAULT_GENERIC, false);
}

/** The request's fields under an encoding; the argument array (if any) is written into a fresh buffer. */
function fieldsOf(enc: GenericEncoding, s: Sequence, req: SyscallRequest): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = { [enc.nr]: req.nr };
  const args: ArgLike[] = [...req.args, 0, 0, 0, 0, 0, 0].slice(0, 6);
  if ('array' in enc.args) {
    const b = s.program.buf(48);
    args.forEach((a, i) => s.patch(b, 8 * i, 8, a));
    out[enc.args.array] = arg.buf(b);
  } else enc.args.fields.forEach((f, i) => (out[f] = args[i]));
  // the iocb encoder takes the fd as `fd`
  if (enc.iface === 'aio' && 'aio_fildes' in out) {
    out.fd = out.aio_fildes;
    delete out.aio_fildes;
  }
  return out;
}

/** The generic adapter under an encoding (default: {@link genericEncoding}). */
export function genericAdapter(enc: GenericEncoding = genericEncoding()): AsyncAdapter {
  return {
    name: enc.candidate ? `generic(${enc.iface} op ${enc.opcode})` : 'generic',
    rule: 'SEMANTICS §2.5',
    ops: [enc.iface === 'uring' ? 'uring.setup' : 'aio.setup'],
    traits: { cancel: enc.iface === 'uring', hold: enc.iface === 'uring', byNumber: true },
    // a candidate runs any number: every fixture checks it
    mapped: () => fixtureNumbers(),
    expresses: () => true,
    unsupported(_nr, caps) {
      if (!enc.candidate) return `no candidate interface: set ${GENERIC_ENV} to its encoding (e.g. '${DEFAULT_GENERIC}')`;
      if (enc.iface === 'uring' && !caps.uring.ops.some((o) => o.value === enc.opcode && o.supported))
        return `probe: io_uring opcode ${enc.opcode} not supported by kernel ${caps.kernel}`;
      if (enc.iface === 'aio' && !caps.aio.available) return `AIO unavailable: ${caps.aio.reason}`;
      return undefined;
    },
    session(s, opts) {
      if (enc.iface === 'uring')
        return new UringSession(s, opts?.hold === true, (req) => {
          return { opcode: enc.opcode, ...fieldsOf(enc, s, req) } as Omit<SqeSpec, 'user_data'>;
        });
      const m = { op: 'PREAD' as const, encode: () => undefined };
      return new AioSession(s, (req) => ({ m, spec: { fd: 0, ...fieldsOf(enc, s, req), opcode: enc.opcode } }));
    },
    cancelOutcome(r: number): CancelOutcome {
      if (r === 0 || r === -errno.EINPROGRESS) return 'cancelled';
      if (r === -errno.ENOENT || r === -errno.EINVAL) return 'not-found';
      if (r === -errno.EALREADY) return 'already-running';
      return 'error';
    },
    cancelledResults: [-errno.ECANCELED, -errno.EINTR],
  };
}
