/**
 * A recording on disk, for violations worth keeping. The ideas are dm-log-writes' (a header, then
 * entries with position, length and flags, each followed by its data; flags FLUSH=1 FUA=2 DISCARD=4
 * MARK=8 as there), but byte-addressed, unpadded, and closed by a digest:
 *
 *   header   'KASYNCLW' | version u32 | 0 u32 | device size u64 | entry count u64 | base path length u32 | base path
 *   entry    seq u64 | offset u64 | length u64 | flags u32 | data length u32 | data
 *   trailer  sha256 of everything before it
 *
 * Integers are little-endian. A write carries its data; a zero (flag ZERO=32) or trim carries none;
 * a mark carries its Mark as JSON.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import { UsageError } from '../cli/usage';
import type { LogEntry, Mark, Recording } from './log';

const MAGIC = Buffer.from('KASYNCLW', 'latin1');
const VERSION = 1;
/** Entry flags: the first four are dm-log-writes' (LOG_FLUSH_FLAG … LOG_MARK_FLAG). */
export const LOG_FLAG = { FLUSH: 1, FUA: 2, DISCARD: 4, MARK: 8, ZERO: 32 } as const;
const KIND_FLAGS = LOG_FLAG.FLUSH | LOG_FLAG.DISCARD | LOG_FLAG.MARK | LOG_FLAG.ZERO;
const ENTRY_HEAD = 32;

/** A log file that is not one, or is cut short or damaged: its message is one line. */
export class LogFileError extends UsageError {}

/** Save `rec` to `file` (replaced). */
export function writeRecording(file: string, rec: Recording): void {
  const fd = fs.openSync(file, 'w');
  const hash = createHash('sha256');
  const put = (b: Buffer) => {
    hash.update(b);
    for (let done = 0; done < b.length;) done += fs.writeSync(fd, b, done);
  };
  try {
    const base = Buffer.from(rec.base ?? '', 'utf8');
    const h = Buffer.alloc(36);
    MAGIC.copy(h, 0);
    h.writeUInt32LE(VERSION, 8);
    h.writeBigUInt64LE(BigInt(rec.size), 16);
    h.writeBigUInt64LE(BigInt(rec.entries.length), 24);
    h.writeUInt32LE(base.length, 32);
    put(Buffer.concat([h, base]));
    for (const e of rec.entries) {
      let offset = 0;
      let length = 0;
      let flags = 0;
      let data: Buffer = Buffer.alloc(0);
      switch (e.kind) {
        case 'write':
          [offset, length, data, flags] = [e.offset, e.data.length, e.data, e.fua ? LOG_FLAG.FUA : 0];
          break;
        case 'zero':
          [offset, length, flags] = [e.offset, e.length, LOG_FLAG.ZERO | (e.fua ? LOG_FLAG.FUA : 0)];
          break;
        case 'trim':
          [offset, length, flags] = [e.offset, e.length, LOG_FLAG.DISCARD | (e.fua ? LOG_FLAG.FUA : 0)];
          break;
        case 'flush':
          flags = LOG_FLAG.FLUSH;
          break;
        case 'mark':
          flags = LOG_FLAG.MARK;
          data = Buffer.from(JSON.stringify(e.mark), 'utf8');
          break;
      }
      const eh = Buffer.alloc(ENTRY_HEAD);
      eh.writeBigUInt64LE(BigInt(e.seq), 0);
      eh.writeBigUInt64LE(BigInt(offset), 8);
      eh.writeBigUInt64LE(BigInt(length), 16);
      eh.writeUInt32LE(flags, 24);
      eh.writeUInt32LE(data.length, 28);
      put(eh);
      put(data);
    }
    const digest = hash.digest();
    for (let done = 0; done < digest.length;) done += fs.writeSync(fd, digest, done);
  } finally {
    fs.closeSync(fd);
  }
}

/** Load a recording saved by writeRecording; a LogFileError (one line) if it is not intact. */
export function readRecording(file: string): Recording {
  let b: Buffer;
  try {
    b = fs.readFileSync(file);
  } catch (e) {
    throw new LogFileError(`cannot read log ${file}: ${(e as Error).message}`);
  }
  const bad = (why: string) => new LogFileError(`log ${file} is not a kasync recording: ${why}`);
  if (b.length < 36 + 32 || !b.subarray(0, 8).equals(MAGIC)) throw bad('no KASYNCLW header');
  const version = b.readUInt32LE(8);
  if (version !== VERSION) throw bad(`version ${version} (this kasync reads ${VERSION})`);
  const body = b.subarray(0, b.length - 32);
  if (
    !createHash('sha256')
      .update(body)
      .digest()
      .equals(b.subarray(b.length - 32))
  ) {
    throw bad('digest mismatch (truncated or corrupt)');
  }
  const size = num(b.readBigUInt64LE(16), 'device size', bad);
  const count = num(b.readBigUInt64LE(24), 'entry count', bad);
  const baseLen = b.readUInt32LE(32);
  let p = 36 + baseLen;
  if (p > body.length) throw bad('header runs past the end');
  const base = baseLen ? b.toString('utf8', 36, p) : undefined;
  const entries: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (p + ENTRY_HEAD > body.length) throw bad(`entry ${i} of ${count} is cut off`);
    const seq = num(b.readBigUInt64LE(p), 'seq', bad);
    const offset = num(b.readBigUInt64LE(p + 8), 'offset', bad);
    const length = num(b.readBigUInt64LE(p + 16), 'length', bad);
    const flags = b.readUInt32LE(p + 24);
    const dlen = b.readUInt32LE(p + 28);
    p += ENTRY_HEAD;
    if (p + dlen > body.length) throw bad(`entry ${i}'s data is cut off`);
    const data = Buffer.from(b.subarray(p, p + dlen));
    p += dlen;
    const fua = (flags & LOG_FLAG.FUA) !== 0;
    const kind = flags & KIND_FLAGS;
    if (flags & ~(KIND_FLAGS | LOG_FLAG.FUA)) throw bad(`entry ${i} has unknown flags 0x${flags.toString(16)}`);
    if (kind === 0) {
      if (dlen !== length) throw bad(`entry ${i}: write of ${length} bytes carries ${dlen}`);
      entries.push({ seq, kind: 'write', offset, data, fua });
    } else if (kind === LOG_FLAG.ZERO) entries.push({ seq, kind: 'zero', offset, length, fua });
    else if (kind === LOG_FLAG.DISCARD)
      entries.push(fua ? { seq, kind: 'trim', offset, length, fua } : { seq, kind: 'trim', offset, length });
    else if (kind === LOG_FLAG.FLUSH) entries.push({ seq, kind: 'flush' });
    else if (kind === LOG_FLAG.MARK) {
      let mark: Mark;
      try {
        mark = JSON.parse(data.toString('utf8')) as Mark;
      } catch {
        throw bad(`entry ${i}: mark is not JSON`);
      }
      entries.push({ seq, kind: 'mark', mark });
    } else throw bad(`entry ${i} has flags 0x${flags.toString(16)}`);
  }
  if (p !== body.length) throw bad(`${body.length - p} bytes after the last entry`);
  return base === undefined ? { size, entries } : { size, base, entries };
}

function num(v: bigint, what: string, bad: (why: string) => Error): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`${what} ${v} out of range`);
  return Number(v);
}
