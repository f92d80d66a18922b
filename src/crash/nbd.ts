/**
 * The recording disk: an NBD server (newstyle fixed handshake, simple replies only) on a Unix socket,
 * serving named exports. Each export is a private copy of a base image; every WRITE (with its data),
 * WRITE_ZEROES, TRIM and FLUSH is logged in reply order into the export's `LogEntry[]` (log.ts), and
 * the host places marks between them. Requests are executed and answered synchronously, one at a
 * time across all connections, so the log order is the order the client saw the replies in.
 *
 * Protocol: NetworkBlockDevice/nbd doc/proto.md. What qemu 7.2 sends: research/nbd_experiment.md.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { UsageError } from '../cli/usage';
import type { LogEntry, Mark, Recording } from './log';

/** NBD protocol constants (proto.md); the in-test client imports them too. */
export const NBD = {
  /** 'NBDMAGIC', then 'IHAVEOPT': the newstyle greeting and the option request magic. */
  MAGIC: 0x4e42444d41474943n,
  IHAVEOPT: 0x49484156454f5054n,
  /** Magic of the server's option replies. */
  REPLY_MAGIC: 0x3e889045565a9n,
  REQUEST_MAGIC: 0x25609513,
  SIMPLE_REPLY_MAGIC: 0x67446698,
  /** Handshake flags (server) and client flags. */
  FLAG_FIXED_NEWSTYLE: 1,
  FLAG_NO_ZEROES: 2,
  OPT: { EXPORT_NAME: 1, ABORT: 2, LIST: 3, STARTTLS: 5, INFO: 6, GO: 7, STRUCTURED_REPLY: 8 },
  REP: { ACK: 1, SERVER: 2, INFO: 3 },
  /** Option error replies have bit 31 set. */
  REP_ERR: { UNSUP: 0x80000001, POLICY: 0x80000002, INVALID: 0x80000003, UNKNOWN: 0x80000006, TOO_BIG: 0x80000009 },
  INFO: { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 },
  /** Transmission flags. */
  TF: { HAS_FLAGS: 1, READ_ONLY: 2, SEND_FLUSH: 4, SEND_FUA: 8, SEND_TRIM: 32, SEND_WRITE_ZEROES: 64 },
  CMD: { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, CACHE: 5, WRITE_ZEROES: 6, BLOCK_STATUS: 7 },
  CMD_FLAG: { FUA: 1, NO_HOLE: 2, DF: 4, REQ_ONE: 8, FAST_ZERO: 16 },
  ERR: { EPERM: 1, EIO: 5, ENOMEM: 12, EINVAL: 22, ENOSPC: 28, EOVERFLOW: 75, ESHUTDOWN: 108 },
} as const;

/** What this server advertises: flush and FUA (the crash model needs both), trim and write-zeroes. */
export const TRANSMISSION_FLAGS =
  NBD.TF.HAS_FLAGS | NBD.TF.SEND_FLUSH | NBD.TF.SEND_FUA | NBD.TF.SEND_TRIM | NBD.TF.SEND_WRITE_ZEROES;
/** Largest READ/WRITE payload; advertised as the maximum block size (qemu splits larger requests). */
export const MAX_PAYLOAD = 32 << 20;
/** Option data past this closes the connection (names are at most 4096 bytes, proto.md). */
const MAX_OPTION = 64 << 10;
/** Export names go into qemu's nbd+unix URL unescaped. */
const EXPORT_NAME = /^[A-Za-z0-9._-]{0,64}$/;

/** One export: a base raw image (never modified) or a zeroed device, optionally with log entries applied. */
export interface ExportSpec {
  /** Raw image to start from (e.g. mkfs output); copied, never written. */
  base?: string;
  /** Device size in bytes when there is no base. */
  size?: number;
  /** Writes, zeroes and trims applied to the private copy before serving (a crash state); flushes and marks are ignored. */
  apply?: LogEntry[];
  /** Log what the client does (default true; a checker VM's disk need not be recorded). */
  record?: boolean;
  /**
   * A lying disk: a write for which this returns true is acknowledged and served from the live image,
   * but left out of the log, so every crash state loses it (used to show the checker bites).
   */
  drop?: (offset: number, data: Buffer) => boolean;
}

/** Counters of what an export has served (logged or not). */
export interface DiskStats {
  reads: number;
  writes: number;
  fuaWrites: number;
  zeroes: number;
  trims: number;
  flushes: number;
  dropped: number;
}

/** One export of the server: its live image and its log. */
export class RecordingDisk {
  /** The log, in reply order (log.ts). */
  readonly entries: LogEntry[] = [];
  readonly stats: DiskStats = { reads: 0, writes: 0, fuaWrites: 0, zeroes: 0, trims: 0, flushes: 0, dropped: 0 };
  private isFrozen = false;
  private fd: number;

  /** @internal built by NbdServer.addExport */
  constructor(
    readonly name: string,
    readonly size: number,
    readonly base: string | undefined,
    /** The private live image (removed when the export is). */
    readonly image: string,
    private readonly spec: ExportSpec,
  ) {
    this.fd = fs.openSync(image, 'r+');
  }

  /** Has freeze() been called? */
  get frozen(): boolean {
    return this.isFrozen;
  }

  /**
   * Append a mark (the host saw the guest reap an fsync completion). Ignored, returning false,
   * after freeze(): a mark past the crash point never happened.
   */
  mark(m: Mark): boolean {
    if (this.isFrozen) return false;
    this.entries.push({ seq: this.entries.length, kind: 'mark', mark: m });
    return true;
  }

  /** Stop logging: the crash point. The export keeps serving (qemu flushes on exit; those must not count). */
  freeze(): void {
    this.isFrozen = true;
  }

  /** The recording so far (entries are shared, not copied: do not mutate them). */
  recording(): Recording {
    return { size: this.size, base: this.base, entries: this.entries.slice() };
  }

  /** Current contents of the live image. */
  read(offset: number, length: number): Buffer {
    const b = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, b, done, length - done, offset + done);
      if (n === 0) break; // past the file's end reads as zeroes
      done += n;
    }
    return b;
  }

  /** @internal */
  write(offset: number, data: Buffer): void {
    let done = 0;
    while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done, offset + done);
  }

  /** @internal */
  zero(offset: number, length: number): void {
    for (let done = 0; done < length;) {
      const n = Math.min(ZEROES.length, length - done);
      this.write(offset + done, ZEROES.subarray(0, n));
      done += n;
    }
  }

  /** @internal apply one logged change to the live image (ExportSpec.apply) */
  applyEntry(e: LogEntry): void {
    if (e.kind === 'write') this.write(e.offset, e.data);
    else if (e.kind === 'zero' || e.kind === 'trim') this.zero(e.offset, e.length);
  }

  /** @internal log an entry unless frozen or unrecorded */
  log(e: DistributiveOmit<LogEntry, 'seq'>): void {
    if (this.isFrozen || this.spec.record === false) return;
    this.entries.push({ ...e, seq: this.entries.length } as LogEntry);
  }

  /** @internal */
  shouldDrop(offset: number, data: Buffer): boolean {
    return this.spec.drop?.(offset, data) === true;
  }

  /** @internal */
  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
    fs.rmSync(this.image, { force: true });
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

const ZEROES = Buffer.alloc(1 << 20);

/** The client broke the protocol in a way that leaves no reply to give: hang up. */
class Hangup extends Error {}

/**
 * Bytes from a socket on demand: `read(n)` resolves with exactly n bytes, or rejects when the peer
 * goes away first. The socket is paused while more than a payload's worth is buffered.
 */
class ByteReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private want?: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void };
  private ended?: Error;

  constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.have += d.length;
      if (this.have > MAX_PAYLOAD + 65536) sock.pause();
      this.pump();
    });
    const end = (why: string) => {
      this.ended ??= new Hangup(why);
      this.pump();
    };
    sock.on('end', () => end('client closed the connection'));
    sock.on('close', () => end('connection closed'));
    sock.on('error', (e) => end(e.message));
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.want = { n, resolve, reject };
      this.pump();
    });
  }

  private pump(): void {
    const w = this.want;
    if (!w) return;
    if (this.have >= w.n) {
      this.want = undefined;
      w.resolve(this.take(w.n));
      if (this.have <= MAX_PAYLOAD) this.sock.resume();
    } else if (this.ended) {
      this.want = undefined;
      w.reject(this.ended);
    } else {
      this.sock.resume();
    }
  }

  /** The first n buffered bytes, copied so that a logged payload does not pin a large socket chunk. */
  private take(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let got = 0; got < n;) {
      const c = this.chunks[0];
      const k = c.copy(out, got, 0, Math.min(c.length, n - got));
      got += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.have -= n;
    return out;
  }
}

/** Where and what to serve. */
export interface NbdServerOptions {
  /** Path of the Unix socket (≤ 107 bytes); replaced if it exists, removed on close. */
  socket: string;
  exports?: Record<string, ExportSpec>;
  /** Directory for the exports' private images (default: a temp dir, removed on close). */
  workDir?: string;
}

/** An NBD server on a Unix socket serving several named exports, each a RecordingDisk. */
export class NbdServer {
  /** Protocol errors seen, newest last (a client's mistake, not ours; kept for diagnostics). */
  readonly errors: string[] = [];
  private readonly disks = new Map<string, RecordingDisk>();
  private readonly conns = new Set<net.Socket>();
  private readonly ownWorkDir: boolean;
  private readonly workDir: string;
  private closed = false;

  private constructor(
    readonly socket: string,
    private readonly server: net.Server,
    workDir: string | undefined,
  ) {
    this.ownWorkDir = !workDir;
    this.workDir = workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-nbd-'));
  }

  /** Listen on `opts.socket` with the given exports. */
  static async start(opts: NbdServerOptions): Promise<NbdServer> {
    if (Buffer.byteLength(opts.socket) > 107) throw new UsageError(`NBD socket path too long: ${opts.socket}`);
    fs.rmSync(opts.socket, { force: true });
    const server = net.createServer();
    const s = new NbdServer(opts.socket, server, opts.workDir);
    try {
      for (const [name, spec] of Object.entries(opts.exports ?? {})) s.addExport(name, spec);
      server.on('connection', (c) => s.serve(c));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.socket, () => resolve());
      });
      server.on('error', (e) => s.protocolError(`server: ${e.message}`));
    } catch (e) {
      await s.close();
      throw e instanceof UsageError ? e : new UsageError(`NBD server on ${opts.socket}: ${(e as Error).message}`);
    }
    return s;
  }

  /** Serve a new export (a crash state for a checker VM, say). Names: [A-Za-z0-9._-], at most 64. */
  addExport(name: string, spec: ExportSpec): RecordingDisk {
    if (!EXPORT_NAME.test(name)) throw new UsageError(`bad NBD export name '${name}' (use [A-Za-z0-9._-])`);
    if (this.disks.has(name)) throw new UsageError(`NBD export '${name}' exists`);
    const image = path.join(this.workDir, `export-${name || 'default'}.img`);
    let size: number;
    if (spec.base) {
      if (!fs.existsSync(spec.base)) throw new UsageError(`base image ${spec.base} does not exist`);
      size = fs.statSync(spec.base).size;
      // a sparse copy (and a reflink where the filesystem can): mkfs output is mostly holes
      const r = spawnSync('cp', ['--sparse=always', '--reflink=auto', spec.base, image], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      if (r.status !== 0) throw new UsageError(`copying ${spec.base}: ${(r.stderr || r.error?.message || '').trim()}`);
    } else {
      if (!spec.size || spec.size <= 0 || !Number.isSafeInteger(spec.size))
        throw new UsageError(`NBD export '${name}' needs a base or a size`);
      size = spec.size;
      fs.writeFileSync(image, '');
      fs.truncateSync(image, size);
    }
    const disk = new RecordingDisk(name, size, spec.base, image, spec);
    for (const e of spec.apply ?? []) disk.applyEntry(e);
    this.disks.set(name, disk);
    return disk;
  }

  /** Stop serving an export and delete its private image (open connections to it are closed). */
  removeExport(name: string): void {
    const d = this.disks.get(name);
    if (!d) return;
    this.disks.delete(name);
    for (const c of this.conns) if ((c as ConnWithDisk).disk === d) c.destroy();
    d.close();
  }

  /** The export named `name` ('' is the default export). */
  disk(name = ''): RecordingDisk {
    const d = this.disks.get(name);
    if (!d) throw new Error(`no NBD export '${name}'`);
    return d;
  }

  /** Names of the exports. */
  get exportNames(): string[] {
    return [...this.disks.keys()];
  }

  /** The URL qemu's NBD client takes: nbd+unix:///NAME?socket=PATH. */
  url(name = ''): string {
    return `nbd+unix:///${name}?socket=${this.socket.replace(/[^A-Za-z0-9/._-]/g, (c) => encodeURIComponent(c))}`;
  }

  /** Connections open now. */
  get connections(): number {
    return this.conns.size;
  }

  /** Stop listening, drop every connection, remove the socket file and the private images. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
    fs.rmSync(this.socket, { force: true });
    for (const d of this.disks.values()) d.close();
    this.disks.clear();
    if (this.ownWorkDir) fs.rmSync(this.workDir, { recursive: true, force: true });
  }

  private protocolError(msg: string): void {
    this.errors.push(msg);
    if (this.errors.length > 100) this.errors.shift();
  }

  private serve(sock: net.Socket): void {
    this.conns.add(sock);
    sock.once('close', () => this.conns.delete(sock));
    const rd = new ByteReader(sock);
    const conn = new Connection(this, sock, rd);
    conn
      .run()
      .catch((e: Error) => {
        // a peer that went away mid-frame is not worth a report; a protocol violation is
        if (!(e instanceof Hangup) || !/closed|ECONNRESET|EPIPE/.test(e.message)) this.protocolError(e.message);
      })
      .finally(() => sock.destroy());
  }

  /** @internal */
  lookup(name: string): RecordingDisk | undefined {
    return this.disks.get(name);
  }
}

type ConnWithDisk = net.Socket & { disk?: RecordingDisk };

/** One client connection: handshake, then requests one at a time. */
class Connection {
  private noZeroes = false;

  constructor(
    private readonly server: NbdServer,
    private readonly sock: ConnWithDisk,
    private readonly rd: ByteReader,
  ) {}

  async run(): Promise<void> {
    const disk = await this.handshake();
    if (!disk) return;
    this.sock.disk = disk;
    await this.transmission(disk);
  }

  private send(b: Buffer): Promise<void> | void {
    this.sock.write(b);
    // a client that does not read its replies must not make us buffer without bound
    if (this.sock.writableLength > 2 * MAX_PAYLOAD) {
      return new Promise((resolve) => {
        const done = () => {
          this.sock.off('drain', done);
          this.sock.off('close', done);
          resolve();
        };
        this.sock.on('drain', done);
        this.sock.on('close', done);
      });
    }
  }

  /** Newstyle fixed negotiation; the export to serve, or undefined when the client aborted. */
  private async handshake(): Promise<RecordingDisk | undefined> {
    const hello = Buffer.alloc(18);
    hello.writeBigUInt64BE(NBD.MAGIC, 0);
    hello.writeBigUInt64BE(NBD.IHAVEOPT, 8);
    hello.writeUInt16BE(NBD.FLAG_FIXED_NEWSTYLE | NBD.FLAG_NO_ZEROES, 16);
    await this.send(hello);
    const cflags = (await this.rd.read(4)).readUInt32BE(0);
    if (!(cflags & NBD.FLAG_FIXED_NEWSTYLE)) throw new Hangup('client does not speak fixed newstyle');
    if (cflags & ~(NBD.FLAG_FIXED_NEWSTYLE | NBD.FLAG_NO_ZEROES))
      throw new Hangup(`unknown client flags 0x${cflags.toString(16)}`);
    this.noZeroes = (cflags & NBD.FLAG_NO_ZEROES) !== 0;
    for (;;) {
      const head = await this.rd.read(16);
      if (head.readBigUInt64BE(0) !== NBD.IHAVEOPT) throw new Hangup('bad option magic');
      const opt = head.readUInt32BE(8);
      const len = head.readUInt32BE(12);
      if (len > MAX_OPTION) throw new Hangup(`option ${opt} with ${len} bytes of data`);
      const data = await this.rd.read(len);
      switch (opt) {
        case NBD.OPT.EXPORT_NAME: {
          const disk = this.server.lookup(data.toString('utf8'));
          // EXPORT_NAME has no error reply: an unknown name closes the connection (proto.md)
          if (!disk) throw new Hangup(`EXPORT_NAME of unknown export '${data.toString('utf8')}'`);
          const r = Buffer.alloc(this.noZeroes ? 10 : 134);
          r.writeBigUInt64BE(BigInt(disk.size), 0);
          r.writeUInt16BE(TRANSMISSION_FLAGS, 8);
          await this.send(r);
          return disk;
        }
        case NBD.OPT.GO:
        case NBD.OPT.INFO: {
          const disk = await this.info(opt, data);
          if (disk && opt === NBD.OPT.GO) return disk;
          break;
        }
        case NBD.OPT.ABORT:
          await this.optReply(opt, NBD.REP.ACK);
          return undefined;
        case NBD.OPT.LIST:
          if (len !== 0) {
            await this.optReply(opt, NBD.REP_ERR.INVALID);
            break;
          }
          for (const name of this.server.exportNames) {
            const n = Buffer.from(name, 'utf8');
            const b = Buffer.alloc(4 + n.length);
            b.writeUInt32BE(n.length, 0);
            n.copy(b, 4);
            await this.optReply(opt, NBD.REP.SERVER, b);
          }
          await this.optReply(opt, NBD.REP.ACK);
          break;
        default:
          // STRUCTURED_REPLY, STARTTLS, meta contexts, extended headers...: simple replies only
          await this.optReply(opt, NBD.REP_ERR.UNSUP);
      }
    }
  }

  /** NBD_OPT_INFO / NBD_OPT_GO: the export's size and flags, and what else was asked for. */
  private async info(opt: number, data: Buffer): Promise<RecordingDisk | undefined> {
    const nameLen = data.length >= 4 ? data.readUInt32BE(0) : -1;
    const nreq = nameLen >= 0 && data.length >= 6 + nameLen ? data.readUInt16BE(4 + nameLen) : -1;
    if (nreq < 0 || data.length !== 6 + nameLen + 2 * nreq) {
      await this.optReply(opt, NBD.REP_ERR.INVALID);
      return undefined;
    }
    const name = data.toString('utf8', 4, 4 + nameLen);
    const disk = this.server.lookup(name);
    if (!disk) {
      await this.optReply(opt, NBD.REP_ERR.UNKNOWN);
      return undefined;
    }
    const ex = Buffer.alloc(12);
    ex.writeUInt16BE(NBD.INFO.EXPORT, 0);
    ex.writeBigUInt64BE(BigInt(disk.size), 2);
    ex.writeUInt16BE(TRANSMISSION_FLAGS, 10);
    await this.optReply(opt, NBD.REP.INFO, ex);
    for (let i = 0; i < nreq; i++) {
      const what = data.readUInt16BE(6 + nameLen + 2 * i);
      if (what === NBD.INFO.NAME) {
        const n = Buffer.from(name, 'utf8');
        await this.optReply(opt, NBD.REP.INFO, Buffer.concat([u16(NBD.INFO.NAME), n]));
      } else if (what === NBD.INFO.BLOCK_SIZE) {
        const b = Buffer.alloc(14);
        b.writeUInt16BE(NBD.INFO.BLOCK_SIZE, 0);
        b.writeUInt32BE(1, 2); // any byte alignment works: the image is a file
        b.writeUInt32BE(4096, 6);
        b.writeUInt32BE(MAX_PAYLOAD, 10);
        await this.optReply(opt, NBD.REP.INFO, b);
      }
    }
    await this.optReply(opt, NBD.REP.ACK);
    return disk;
  }

  private optReply(opt: number, type: number, data: Buffer = Buffer.alloc(0)): Promise<void> | void {
    const h = Buffer.alloc(20);
    h.writeBigUInt64BE(NBD.REPLY_MAGIC, 0);
    h.writeUInt32BE(opt, 8);
    h.writeUInt32BE(type, 12);
    h.writeUInt32BE(data.length, 16);
    return this.send(Buffer.concat([h, data]));
  }

  private reply(handle: Buffer, error: number, data?: Buffer): Promise<void> | void {
    const h = Buffer.alloc(16);
    h.writeUInt32BE(NBD.SIMPLE_REPLY_MAGIC, 0);
    h.writeUInt32BE(error, 4);
    handle.copy(h, 8);
    return this.send(data ? Buffer.concat([h, data]) : h);
  }

  /** Requests one at a time: each is executed, logged and answered before the next is read. */
  private async transmission(disk: RecordingDisk): Promise<void> {
    const { CMD, ERR } = NBD;
    for (;;) {
      const h = await this.rd.read(28);
      if (h.readUInt32BE(0) !== NBD.REQUEST_MAGIC) throw new Hangup('bad request magic');
      const flags = h.readUInt16BE(4);
      const type = h.readUInt16BE(6);
      const handle = h.subarray(8, 16);
      const off64 = h.readBigUInt64BE(16);
      const len = h.readUInt32BE(24);
      if (this.server.lookup(disk.name) !== disk) throw new Hangup(`export '${disk.name}' was removed`);
      let payload: Buffer | undefined;
      if (type === CMD.WRITE) {
        // the payload cannot be skipped without reading it: refuse, then hang up (proto.md allows both)
        if (len > MAX_PAYLOAD) {
          await this.reply(handle, ERR.EINVAL);
          throw new Hangup(`WRITE of ${len} bytes (max ${MAX_PAYLOAD})`);
        }
        payload = await this.rd.read(len);
      }
      const inRange = len > 0 && off64 + BigInt(len) <= BigInt(disk.size);
      const offset = Number(off64);
      const allowed = NBD.CMD_FLAG.FUA | (type === CMD.WRITE_ZEROES ? NBD.CMD_FLAG.NO_HOLE : 0);
      const fua = (flags & NBD.CMD_FLAG.FUA) !== 0;
      if (flags & ~allowed) {
        await this.reply(handle, ERR.EINVAL);
        continue;
      }
      switch (type) {
        case CMD.READ:
          if (!inRange || len > MAX_PAYLOAD) await this.reply(handle, ERR.EINVAL);
          else {
            disk.stats.reads++;
            await this.reply(handle, 0, disk.read(offset, len));
          }
          break;
        case CMD.WRITE:
          if (!inRange) await this.reply(handle, len === 0 ? ERR.EINVAL : ERR.ENOSPC);
          else {
            disk.write(offset, payload!);
            disk.stats.writes++;
            if (fua) disk.stats.fuaWrites++;
            if (disk.shouldDrop(offset, payload!)) disk.stats.dropped++;
            else disk.log({ kind: 'write', offset, data: payload!, fua });
            await this.reply(handle, 0);
          }
          break;
        case CMD.WRITE_ZEROES:
        case CMD.TRIM:
          if (!inRange) await this.reply(handle, len === 0 ? ERR.EINVAL : ERR.ENOSPC);
          else {
            // a trimmed range reads back as zeroes: deterministic, and allowed (proto.md, NBD_CMD_TRIM)
            disk.zero(offset, len);
            if (type === CMD.TRIM) {
              disk.stats.trims++;
              disk.log(fua ? { kind: 'trim', offset, length: len, fua } : { kind: 'trim', offset, length: len });
            } else {
              disk.stats.zeroes++;
              disk.log({ kind: 'zero', offset, length: len, fua });
            }
            await this.reply(handle, 0);
          }
          break;
        case CMD.FLUSH:
          if (off64 !== 0n || len !== 0) await this.reply(handle, ERR.EINVAL);
          else {
            // nothing to do on the host: durability is what the log says, not the private image
            disk.stats.flushes++;
            disk.log({ kind: 'flush' });
            await this.reply(handle, 0);
          }
          break;
        case CMD.DISC:
          return;
        default:
          await this.reply(handle, ERR.EINVAL);
      }
    }
  }
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v, 0);
  return b;
}
