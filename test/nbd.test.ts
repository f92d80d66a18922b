/**
 * The recording disk (src/crash/nbd.ts): the NBD handshake and every command through a small client
 * written here, malformed input (each gets the protocol's error reply or a closed connection, and the
 * server serves the next client), the log file format, and qemu's real NBD client under a Debian
 * 6.12 guest: a guest fsync reaches the server as WRITEs then FLUSH, before the fsync returns.
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { expect } from 'chai';
import { O, SYSCALLS } from '../src/abi';
import type { Recording } from '../src/crash/log';
import { LogFileError, readRecording, writeRecording } from '../src/crash/logfile';
import { MAX_PAYLOAD, NBD, NbdServer, TRANSMISSION_FLAGS } from '../src/crash/nbd';
import { recordSession, RecordSession } from '../src/crash/record';
import { arg, Program } from '../src/program/builder';
import { patternBytes } from '../src/program/pattern';
import { openat, pread, pwrite, readSmallFile, scratchFile } from '../src/program/sys';
import { VmTarget } from '../src/target/vm';
import { resolveKernel } from '../src/vm/kernels';
import { driveArg, liveVmCount } from '../src/vm/qemu';
import type { KernelImage } from '../src/vm/types';

/** A byte-exact NBD client: raw frames in, raw frames out, every read with a deadline. */
class Client {
  private buf = Buffer.alloc(0);
  private closed = false;
  private wake?: () => void;

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    sock.on('error', () => undefined);
  }

  static connect(socket: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect(socket);
      s.once('connect', () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }

  /** Exactly n bytes, or an error when the server hangs up first or 5 s pass. */
  async read(n: number): Promise<Buffer> {
    const deadline = Date.now() + 5000;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`server closed the connection (${this.buf.length}/${n} bytes)`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${n} bytes within 5 s`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Resolves true once the server has closed the connection (within 5 s). */
  async hungUp(): Promise<boolean> {
    const deadline = Date.now() + 5000;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  write(b: Buffer): void {
    this.sock.write(b);
  }

  /** Greeting, then our client flags. */
  async hello(cflags = NBD.FLAG_FIXED_NEWSTYLE | NBD.FLAG_NO_ZEROES): Promise<number> {
    const g = await this.read(18);
    expect(g.readBigUInt64BE(0), 'NBDMAGIC').to.equal(NBD.MAGIC);
    expect(g.readBigUInt64BE(8), 'IHAVEOPT').to.equal(NBD.IHAVEOPT);
    this.write(u32(cflags));
    return g.readUInt16BE(16);
  }

  option(opt: number, data: Buffer = Buffer.alloc(0)): void {
    const h = Buffer.alloc(16);
    h.writeBigUInt64BE(NBD.IHAVEOPT, 0);
    h.writeUInt32BE(opt, 8);
    h.writeUInt32BE(data.length, 12);
    this.write(Buffer.concat([h, data]));
  }

  async optReply(): Promise<{ opt: number; type: number; data: Buffer }> {
    const h = await this.read(20);
    expect(h.readBigUInt64BE(0), 'option reply magic').to.equal(NBD.REPLY_MAGIC);
    return { opt: h.readUInt32BE(8), type: h.readUInt32BE(12), data: await this.read(h.readUInt32BE(16)) };
  }

  /** NBD_OPT_GO (or INFO) for `name`, asking for `infos`; the replies up to and including the final one. */
  async go(name: string, infos: number[] = [NBD.INFO.BLOCK_SIZE], opt: number = NBD.OPT.GO) {
    const n = Buffer.from(name);
    const d = Buffer.alloc(6 + n.length + 2 * infos.length);
    d.writeUInt32BE(n.length, 0);
    n.copy(d, 4);
    d.writeUInt16BE(infos.length, 4 + n.length);
    infos.forEach((t, i) => d.writeUInt16BE(t, 6 + n.length + 2 * i));
    this.option(opt, d);
    const replies = [];
    for (;;) {
      const r = await this.optReply();
      replies.push(r);
      if (r.type !== NBD.REP.INFO) return replies;
    }
  }

  request(type: number, offset: number | bigint, length: number, flags = 0, handle = 7n, payload?: Buffer): void {
    const h = Buffer.alloc(28);
    h.writeUInt32BE(NBD.REQUEST_MAGIC, 0);
    h.writeUInt16BE(flags, 4);
    h.writeUInt16BE(type, 6);
    h.writeBigUInt64BE(handle, 8);
    h.writeBigUInt64BE(BigInt(offset), 16);
    h.writeUInt32BE(length, 24);
    this.write(payload ? Buffer.concat([h, payload]) : h);
  }

  /** A simple reply: its error and handle (and `dataLen` bytes of data when it succeeded). */
  async reply(dataLen = 0): Promise<{ error: number; handle: bigint; data: Buffer }> {
    const h = await this.read(16);
    expect(h.readUInt32BE(0), 'simple reply magic').to.equal(NBD.SIMPLE_REPLY_MAGIC);
    const error = h.readUInt32BE(4);
    return {
      error,
      handle: h.readBigUInt64BE(8),
      data: error === 0 && dataLen ? await this.read(dataLen) : Buffer.alloc(0),
    };
  }

  async cmd(type: number, offset: number | bigint, length: number, flags = 0, payload?: Buffer, dataLen = 0) {
    this.request(type, offset, length, flags, 7n, payload);
    return this.reply(dataLen);
  }

  end(): void {
    this.sock.destroy();
  }
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v, 0);
  return b;
}

const { CMD, ERR, OPT, REP, REP_ERR } = NBD;
const MiB = 1 << 20;

describe('NBD recording disk (in-test client)', () => {
  let dir: string;
  let server: NbdServer;
  let baseFile: string;
  const baseBytes = patternBytes(3, 0, MiB);

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-nbdt-'));
    baseFile = path.join(dir, 'base.img');
    fs.writeFileSync(baseFile, baseBytes);
    server = await NbdServer.start({
      socket: path.join(dir, 's'),
      exports: { '': { size: MiB }, b: { base: baseFile } },
    });
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A connection in the transmission phase on export `name`. */
  async function open(name = ''): Promise<Client> {
    const c = await Client.connect(server.socket);
    await c.hello();
    const r = await c.go(name);
    expect(r[r.length - 1].type, `GO '${name}' acknowledged`).to.equal(REP.ACK);
    return c;
  }

  /** The server still works: a fresh client can write and read back. */
  async function stillServes(): Promise<void> {
    const c = await open();
    const data = Buffer.alloc(512, 0x5a);
    expect((await c.cmd(CMD.WRITE, 4096, 512, 0, data)).error).to.equal(0);
    expect((await c.cmd(CMD.READ, 4096, 512, 0, undefined, 512)).data.equals(data), 'read back').to.equal(true);
    c.end();
  }

  it('negotiates fixed newstyle with GO: size, flags (flush, FUA, trim, write-zeroes) and block sizes', async () => {
    const c = await Client.connect(server.socket);
    expect(await c.hello(), 'handshake flags').to.equal(NBD.FLAG_FIXED_NEWSTYLE | NBD.FLAG_NO_ZEROES);
    c.option(OPT.STRUCTURED_REPLY);
    expect((await c.optReply()).type, 'structured replies refused: simple replies only').to.equal(REP_ERR.UNSUP);
    const r = await c.go('b', [NBD.INFO.BLOCK_SIZE, NBD.INFO.NAME]);
    const ex = r.find((x) => x.type === REP.INFO && x.data.readUInt16BE(0) === NBD.INFO.EXPORT)!;
    expect(Number(ex.data.readBigUInt64BE(2)), 'export size = base image size').to.equal(MiB);
    expect(ex.data.readUInt16BE(10)).to.equal(TRANSMISSION_FLAGS);
    expect(TRANSMISSION_FLAGS & (NBD.TF.SEND_FLUSH | NBD.TF.SEND_FUA)).to.equal(NBD.TF.SEND_FLUSH | NBD.TF.SEND_FUA);
    const bs = r.find((x) => x.type === REP.INFO && x.data.readUInt16BE(0) === NBD.INFO.BLOCK_SIZE)!;
    expect([bs.data.readUInt32BE(2), bs.data.readUInt32BE(6), bs.data.readUInt32BE(10)]).to.deep.equal([
      1,
      4096,
      MAX_PAYLOAD,
    ]);
    const nm = r.find((x) => x.type === REP.INFO && x.data.readUInt16BE(0) === NBD.INFO.NAME)!;
    expect(nm.data.toString('utf8', 2)).to.equal('b');
    expect(r[r.length - 1].type).to.equal(REP.ACK);
    expect(
      (await c.cmd(CMD.READ, 0, 4096, 0, undefined, 4096)).data.equals(baseBytes.subarray(0, 4096)),
      'serves the base',
    ).to.equal(true);
    c.end();
  });

  it('INFO, LIST, unknown options and EXPORT_NAME (with and without the 124 zeroes)', async () => {
    const c = await Client.connect(server.socket);
    await c.hello(NBD.FLAG_FIXED_NEWSTYLE);
    const info = await c.go('b', [], OPT.INFO);
    expect(
      info.map((x) => x.type),
      'INFO: export info then ACK, still negotiating',
    ).to.deep.equal([REP.INFO, REP.ACK]);
    expect((await c.go('nope'))[0].type, 'GO of an unknown export').to.equal(REP_ERR.UNKNOWN);
    c.option(OPT.LIST);
    const names = [];
    for (let r = await c.optReply(); r.type === REP.SERVER; r = await c.optReply())
      names.push(r.data.toString('utf8', 4));
    expect(names.sort()).to.deep.equal(['', 'b']);
    c.option(OPT.LIST, Buffer.from('x'));
    expect((await c.optReply()).type, 'LIST with data').to.equal(REP_ERR.INVALID);
    c.option(999, Buffer.alloc(10));
    expect((await c.optReply()).type, 'unknown option').to.equal(REP_ERR.UNSUP);
    c.option(OPT.GO, Buffer.from([0, 0, 0, 9, 1]));
    expect((await c.optReply()).type, 'GO whose name length overruns its data').to.equal(REP_ERR.INVALID);
    c.option(OPT.EXPORT_NAME, Buffer.from('b'));
    const r = await c.read(134);
    expect(Number(r.readBigUInt64BE(0))).to.equal(MiB);
    expect(r.readUInt16BE(8)).to.equal(TRANSMISSION_FLAGS);
    expect(r.subarray(10).equals(Buffer.alloc(124)), '124 zero bytes without NO_ZEROES').to.equal(true);
    expect((await c.cmd(CMD.FLUSH, 0, 0)).error).to.equal(0);
    c.end();

    const z = await Client.connect(server.socket);
    await z.hello();
    z.option(OPT.EXPORT_NAME, Buffer.alloc(0));
    expect(Number((await z.read(10)).readBigUInt64BE(0)), 'default export, NO_ZEROES').to.equal(MiB);
    expect((await z.cmd(CMD.READ, 0, 512, 0, undefined, 512)).data.equals(Buffer.alloc(512)), 'zeroed device').to.equal(
      true,
    );
    z.end();

    const a = await Client.connect(server.socket);
    await a.hello();
    a.option(OPT.ABORT);
    expect((await a.optReply()).type, 'ABORT acknowledged').to.equal(REP.ACK);
    expect(await a.hungUp(), 'then the server hangs up').to.equal(true);
  });

  it('logs writes (data, FUA), zeroes, trims and flushes in reply order, marks between them, nothing after freeze', async () => {
    const c = await open('b');
    const disk = server.disk('b');
    const w1 = patternBytes(9, 0, 8192);
    expect((await c.cmd(CMD.WRITE, 65536, 8192, 0, w1)).error).to.equal(0);
    expect((await c.cmd(CMD.FLUSH, 0, 0)).error).to.equal(0);
    const w2 = Buffer.alloc(512, 0xee);
    expect((await c.cmd(CMD.WRITE, 1000, 512, NBD.CMD_FLAG.FUA, w2)).error, 'unaligned FUA write').to.equal(0);
    disk.mark({ id: 'm1', file: 'f', size: 1, workload: 'w', iface: 'i', datasync: false });
    expect((await c.cmd(CMD.WRITE_ZEROES, 131072, 4096, NBD.CMD_FLAG.NO_HOLE)).error).to.equal(0);
    expect((await c.cmd(CMD.TRIM, 200000, 1000)).error).to.equal(0);
    const back = (await c.cmd(CMD.READ, 0, MiB, 0, undefined, MiB)).data;
    const want = Buffer.from(baseBytes);
    w1.copy(want, 65536);
    w2.copy(want, 1000);
    want.fill(0, 131072, 131072 + 4096);
    want.fill(0, 200000, 201000);
    expect(back.equals(want), 'reads see every write, zero and trim').to.equal(true);
    expect(fs.readFileSync(baseFile).equals(baseBytes), 'the base image is never written').to.equal(true);
    disk.freeze();
    expect((await c.cmd(CMD.WRITE, 0, 512, 0, Buffer.alloc(512, 1))).error, 'serves after freeze').to.equal(0);
    expect((await c.cmd(CMD.FLUSH, 0, 0)).error).to.equal(0);
    expect(
      disk.mark({ id: 'late', file: 'f', size: 1, workload: 'w', iface: 'i', datasync: false }),
      'no marks past the crash',
    ).to.equal(false);
    expect(disk.read(0, 512).equals(Buffer.alloc(512, 1))).to.equal(true);
    const summary = disk.entries.map((e) => [e.seq, e.kind, 'offset' in e ? e.offset : -1, 'fua' in e ? e.fua : '-']);
    expect(summary).to.deep.equal([
      [0, 'write', 65536, false],
      [1, 'flush', -1, '-'],
      [2, 'write', 1000, true],
      [3, 'mark', -1, '-'],
      [4, 'zero', 131072, false],
      [5, 'trim', 200000, '-'],
    ]);
    expect((disk.entries[0] as { data: Buffer }).data.equals(w1), 'a write carries its data').to.equal(true);
    expect(disk.stats).to.include({ writes: 3, fuaWrites: 1, flushes: 2, zeroes: 1, trims: 1 });
    c.request(CMD.DISC, 0, 0);
    expect(await c.hungUp(), 'DISC closes the connection').to.equal(true);
    // a checker's view of a crash state: the base plus chosen entries, served as a new export
    const state = server.addExport('state1', { base: baseFile, apply: disk.entries.slice(0, 2), record: false });
    expect(state.read(65536, 8192).equals(w1)).to.equal(true);
    expect(state.read(1000, 512).equals(baseBytes.subarray(1000, 1512)), 'entry 2 not applied').to.equal(true);
  });

  it('lies when told to: a dropped write is acknowledged and served but never logged', async () => {
    const liar = server.addExport('liar', { size: MiB, drop: (offset) => offset === 8192 });
    const c = await open('liar');
    for (const off of [4096, 8192])
      expect((await c.cmd(CMD.WRITE, off, 512, 0, Buffer.alloc(512, 7))).error).to.equal(0);
    expect(liar.entries.map((e) => (e.kind === 'write' ? e.offset : -1))).to.deep.equal([4096]);
    expect(liar.read(8192, 512).equals(Buffer.alloc(512, 7)), 'the live image has it').to.equal(true);
    expect(liar.stats.dropped).to.equal(1);
    c.end();
  });

  it('keeps one log per export and serves two connections at once', async () => {
    const a = await open('');
    const b = await open('b');
    a.request(CMD.WRITE, 0, 4, 0, 1n, Buffer.from('aaaa'));
    b.request(CMD.WRITE, 0, 4, 0, 2n, Buffer.from('bbbb'));
    expect((await a.reply()).handle).to.equal(1n);
    expect((await b.reply()).handle).to.equal(2n);
    expect(server.disk('').entries.map((e) => e.kind)).to.deep.equal(['write']);
    expect(server.disk('b').entries.map((e) => e.kind)).to.deep.equal(['write']);
    expect(server.disk('b').read(0, 4).toString()).to.equal('bbbb');
    a.end();
    b.end();
  });

  it('answers bad requests with the protocol error and keeps the connection', async () => {
    const c = await open();
    expect((await c.cmd(CMD.READ, MiB - 512, 1024)).error, 'read past the end (proto.md: EINVAL)').to.equal(ERR.EINVAL);
    expect((await c.cmd(CMD.READ, 2n ** 63n, 512)).error, 'read at offset 2^63').to.equal(ERR.EINVAL);
    expect(
      (await c.cmd(CMD.WRITE, MiB, 512, 0, Buffer.alloc(512))).error,
      'write past the end (proto.md: ENOSPC)',
    ).to.equal(ERR.ENOSPC);
    expect((await c.cmd(CMD.WRITE_ZEROES, MiB - 4096, 8192)).error, 'zeroes past the end').to.equal(ERR.ENOSPC);
    expect((await c.cmd(CMD.READ, 0, MAX_PAYLOAD + 1)).error, 'read above the maximum block size').to.equal(ERR.EINVAL);
    expect((await c.cmd(CMD.READ, 0, 0)).error, 'zero-length read').to.equal(ERR.EINVAL);
    expect((await c.cmd(CMD.READ, 0, 512, NBD.CMD_FLAG.DF)).error, 'DF without structured replies').to.equal(
      ERR.EINVAL,
    );
    expect((await c.cmd(CMD.WRITE, 0, 4, NBD.CMD_FLAG.NO_HOLE, Buffer.alloc(4))).error, 'NO_HOLE on a write').to.equal(
      ERR.EINVAL,
    );
    expect((await c.cmd(CMD.FLUSH, 512, 0)).error, 'flush with an offset').to.equal(ERR.EINVAL);
    expect((await c.cmd(CMD.BLOCK_STATUS, 0, 512)).error, 'block status without meta contexts').to.equal(ERR.EINVAL);
    expect((await c.cmd(77, 0, 512)).error, 'unknown command').to.equal(ERR.EINVAL);
    expect(server.disk('').entries, 'nothing refused is logged').to.deep.equal([]);
    expect(
      (await c.cmd(CMD.READ, 0, 512, NBD.CMD_FLAG.FUA, undefined, 512)).error,
      'FUA is accepted on any command',
    ).to.equal(0);
    c.end();
    await stillServes();
  });

  describe('hangs up on input it cannot answer, and serves the next client', () => {
    const cases: [string, (c: Client) => Promise<void>][] = [
      ['client flags without FIXED_NEWSTYLE', async (c) => void (await c.hello(0))],
      ['unknown client flags', async (c) => void (await c.hello(NBD.FLAG_FIXED_NEWSTYLE | 0x80))],
      [
        'bad option magic',
        async (c) => {
          await c.hello();
          c.write(Buffer.alloc(16, 0x41));
        },
      ],
      [
        'an option claiming 4 GiB of data',
        async (c) => {
          await c.hello();
          const h = Buffer.alloc(16);
          h.writeBigUInt64BE(NBD.IHAVEOPT, 0);
          h.writeUInt32BE(OPT.GO, 8);
          h.writeUInt32BE(0xffffffff, 12);
          c.write(h);
        },
      ],
      [
        'EXPORT_NAME of an unknown export',
        async (c) => {
          await c.hello();
          c.option(OPT.EXPORT_NAME, Buffer.from('missing'));
        },
      ],
      [
        'bad request magic',
        async (c) => {
          await c.hello();
          await c.go('');
          c.write(Buffer.alloc(28, 0x11));
        },
      ],
      [
        'a WRITE longer than the maximum block size (EINVAL, then hang up)',
        async (c) => {
          await c.hello();
          await c.go('');
          c.request(CMD.WRITE, 0, MAX_PAYLOAD + 1);
          expect((await c.reply()).error).to.equal(ERR.EINVAL);
        },
      ],
    ];
    for (const [what, act] of cases) {
      it(what, async () => {
        const c = await Client.connect(server.socket);
        const errors = server.errors.length;
        await act(c);
        expect(await c.hungUp(), 'the server closed the connection').to.equal(true);
        expect(server.errors.length, 'and noted why').to.equal(errors + 1);
        await stillServes();
      });
    }

    const truncated: [string, (c: Client) => Promise<void>][] = [
      ['mid-greeting', async (c) => c.write(Buffer.from([0, 0]))],
      [
        'mid-option',
        async (c) => {
          await c.hello();
          c.option(OPT.GO, Buffer.alloc(0));
          c.write(Buffer.alloc(5));
        },
      ],
      [
        'mid-request',
        async (c) => {
          await c.hello();
          await c.go('');
          c.write(Buffer.alloc(10));
        },
      ],
      [
        'mid-WRITE payload',
        async (c) => {
          await c.hello();
          await c.go('');
          c.request(CMD.WRITE, 0, 4096, 0, 1n, Buffer.alloc(100));
        },
      ],
    ];
    for (const [what, act] of truncated) {
      it(`a client that goes away ${what}`, async () => {
        const c = await Client.connect(server.socket);
        await act(c);
        await new Promise((r) => setTimeout(r, 50)); // let the fragment arrive before the hang-up
        c.end();
        await stillServes();
        expect(
          server.disk('').entries.filter((e) => e.kind === 'write' && e.offset === 0),
          'the cut-off write is not logged',
        ).to.deep.equal([]);
      });
    }
  });

  it('closes cleanly: connections dropped, socket file and private images removed', async () => {
    const c = await open('b');
    const img = server.disk('b').image;
    expect(fs.existsSync(img)).to.equal(true);
    await server.close();
    expect(await c.hungUp()).to.equal(true);
    expect(fs.existsSync(server.socket), 'socket file removed').to.equal(false);
    expect(fs.existsSync(img), 'private image removed').to.equal(false);
    expect(fs.existsSync(baseFile), 'the base stays').to.equal(true);
  });

  it('builds qemu drive arguments with cache=writeback for files and NBD exports', () => {
    expect(driveArg({ nbdSocket: '/tmp/a b/s', exportName: 'rec' }, 'd1')).to.equal(
      'file=nbd+unix:///rec?socket=/tmp/a%20b/s,format=raw,if=none,id=d1,cache=writeback',
    );
    expect(driveArg('/x,y.img', 'd0')).to.equal('file=/x,,y.img,format=raw,if=none,id=d0,cache=writeback');
    expect(server.url('b')).to.equal(`nbd+unix:///b?socket=${server.socket}`);
  });
});

describe('recording log file', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-logf-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const rec: Recording = {
    size: 1 << 30,
    base: '/some/base.img',
    entries: [
      { seq: 0, kind: 'write', offset: 4096, data: patternBytes(1, 0, 5000), fua: false },
      { seq: 1, kind: 'flush' },
      { seq: 2, kind: 'write', offset: 2 ** 40, data: Buffer.from('x'), fua: true },
      { seq: 3, kind: 'zero', offset: 8192, length: 1 << 20, fua: true },
      { seq: 4, kind: 'trim', offset: 0, length: 512 },
      {
        seq: 5,
        kind: 'mark',
        mark: { id: 'm', file: 'a/b', size: 5000, sha256: 'ab', workload: 'w', iface: 'aio', datasync: true },
      },
    ],
  };

  it('round-trips every entry kind', () => {
    const f = path.join(dir, 'rec.kl');
    writeRecording(f, rec);
    expect(readRecording(f)).to.deep.equal(rec);
    const noBase = { size: 512, entries: [] };
    writeRecording(f, noBase);
    expect(readRecording(f)).to.deep.equal(noBase);
  });

  it('refuses a truncated, corrupted or foreign file with a one-line error', () => {
    const f = path.join(dir, 'rec.kl');
    writeRecording(f, rec);
    const good = fs.readFileSync(f);
    const variants: [string, Buffer][] = [
      ['truncated', good.subarray(0, good.length - 100)],
      ['cut to the header', good.subarray(0, 20)],
      ['a flipped data byte', Buffer.concat([good.subarray(0, 100), Buffer.from([good[100] ^ 1]), good.subarray(101)])],
      ['not a log', Buffer.from('hello world, not a log at all, not at all, no, not a log\n'.repeat(3))],
      ['empty', Buffer.alloc(0)],
    ];
    for (const [what, bytes] of variants) {
      fs.writeFileSync(f, bytes);
      let err: Error | undefined;
      try {
        readRecording(f);
      } catch (e) {
        err = e as Error;
      }
      expect(err, what).to.be.instanceOf(LogFileError);
      expect(err!.message, what).to.not.include('\n');
    }
    // a well-formed file (digest fixed up) with a bad entry is still refused, by structure
    const forged = Buffer.from(good.subarray(0, good.length - 32));
    forged.writeUInt32LE(0x400, 36 + '/some/base.img'.length + 24); // unknown flag on entry 0
    fs.writeFileSync(f, Buffer.concat([forged, createHash('sha256').update(forged).digest()]));
    expect(() => readRecording(f)).to.throw(LogFileError, /unknown flags/);
    expect(() => readRecording(path.join(dir, 'missing'))).to.throw(LogFileError, /cannot read/);
  });
});

const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const hasMkfs = spawnSync('mkfs.ext4', ['-V']).status === 0;

describe('recording disk under qemu (debian:6.12, ext4)', function () {
  this.timeout(600_000);
  let session: RecordSession | undefined;
  let rec: Recording;
  const seedA = 0x4b41; // written and fsynced
  const seedB = 0x4b42; // written, never synced
  const size = 65536;
  // 1 KiB pieces: whatever the filesystem's block size, each lies whole inside one WRITE
  const blocks = (seed: number) => Array.from({ length: size / 1024 }, (_, i) => patternBytes(seed, i * 1024, 1024));
  const mark = (id: string) => ({ id, file: id, size, workload: 'nbd-test', iface: 'sync', datasync: false });
  let writeCache = '';
  let kernel: KernelImage | undefined;
  let scratchDir = '';

  before(async function () {
    if (!hasQemu || !hasMkfs) {
      console.log(`      skip: ${!hasQemu ? 'qemu-system-x86_64' : 'mkfs.ext4'} is not installed`);
      return this.skip();
    }
    const k = await resolveKernel('debian:6.12', { fetch: false }).catch((e: Error) => e);
    if (k instanceof Error) {
      console.log(`      skip: kernel debian:6.12 is not cached (${k.message})`);
      return this.skip();
    }
    kernel = k;
    session = await recordSession({ kernel, fs: 'ext4', slowdown: 10 });
    const { target, disk } = session;
    const dir = (scratchDir = await target.makeScratch());
    const wc = new Program();
    const { dump } = readSmallFile(wc.main, '/sys/block/vda/queue/write_cache', 64);
    writeCache = (await target.run(wc)).step(dump).dump!.toString('utf8').replace(/\0+$/, '').trim();

    // mark, write+fsync A, mark (the host saw fsync return), write B without fsync, mark
    disk.mark(mark('before'));
    for (const [seed, name, sync] of [
      [seedA, 'a.dat', true],
      [seedB, 'b.dat', false],
    ] as const) {
      const p = new Program({ deadlineMs: 30_000 });
      const b = p.buf(size);
      p.main.fillPattern(b, 0, size, seed);
      const f = scratchFile(p.main, dir, name);
      const w = pwrite(p.main, f.fd, b, size, 0);
      const s = sync ? p.main.syscall(SYSCALLS.fsync, [arg.fd(f.fd)]) : undefined;
      const v = await target.run(p);
      expect(Number(v.ret(w)), `pwrite ${name}`).to.equal(size);
      if (s) expect(Number(v.ret(s)), 'fsync').to.equal(0);
      disk.mark(mark(name));
    }
    rec = await session.crash();
  });
  after(async () => {
    await session?.close();
    expect(liveVmCount(), 'no qemu left running').to.equal(0);
  });

  const at = (id: string) => rec.entries.findIndex((e) => e.kind === 'mark' && e.mark.id === id);
  const carrying = (seed: number, from: number, to: number) =>
    blocks(seed).map((blk) =>
      rec.entries.findIndex((e, i) => i > from && i < to && e.kind === 'write' && e.data.includes(blk)),
    );

  it('runs qemu with a write-back cache, so the guest sends flushes (cache=writeback)', () => {
    expect(writeCache, '/sys/block/vda/queue/write_cache').to.equal('write back');
    expect(session!.server.errors, "qemu's client broke no protocol rule").to.deep.equal([]);
    expect(
      rec.entries.filter((e) => e.kind === 'write' && e.fua),
      'no FUA in writeback mode (nbd_experiment §3.3)',
    ).to.deep.equal([]);
  });

  it('a guest fsync reaches the server as WRITEs then FLUSH, before fsync returns (fsync(2); issue 8)', () => {
    const [m0, m1, m2] = [at('before'), at('a.dat'), at('b.dat')];
    expect(m0 < m1 && m1 < m2, `marks in order ${m0} ${m1} ${m2}`).to.equal(true);
    const dataAt = carrying(seedA, m0, m1);
    expect(
      dataAt.filter((i) => i < 0),
      'every 1 KiB piece of a.dat written between the marks',
    ).to.deep.equal([]);
    const lastData = Math.max(...dataAt);
    const flushes = rec.entries.slice(lastData + 1, m1).filter((e) => e.kind === 'flush');
    expect(
      flushes.length,
      `a FLUSH after a.dat's data (entry ${lastData}) and before fsync returned (mark at ${m1})`,
    ).to.be.at.least(1);
  });

  it('an unsynced write does not reach the server before the crash (negative control)', () => {
    expect(
      carrying(seedB, at('a.dat'), rec.entries.length).filter((i) => i >= 0),
      'b.dat blocks in the log',
    ).to.deep.equal([]);
  });

  it('a crash state served as a new export mounts in a fresh VM with a.dat intact; extra disks attach as vdb', async () => {
    const { server, base } = session!;
    const upTo = at('a.dat');
    server.addExport('state', { base, apply: rec.entries.slice(0, upTo), record: false });
    server.addExport('spare', { size: MiB, record: false });
    const checker = new VmTarget({
      kernel: kernel!,
      fs: 'ext4',
      disk: { nbdSocket: server.socket, exportName: 'state' },
      extraDisks: [{ nbdSocket: server.socket, exportName: 'spare' }],
      slowdown: 10,
    });
    try {
      const p = new Program({ deadlineMs: 30_000 });
      const back = p.buf(size);
      const f = openat(p.main, `${scratchDir}/a.dat`, O.RDONLY.value);
      const r = pread(p.main, f.fd, back, size, 0);
      const check = p.main.verify(back, 0, size, seedA);
      const spare = readSmallFile(p.main, '/sys/block/vdb/size', 32);
      const v = await checker.run(p);
      expect(Number(v.ret(r)), 'a.dat read after journal replay (state = log up to the fsync mark)').to.equal(size);
      expect(v.step(check).verify?.mismatches, 'a.dat holds what was fsynced').to.equal(0);
      expect(
        v.step(spare.dump).dump!.toString('utf8').replace(/\0+$/, '').trim(),
        'vdb: the 1 MiB spare export',
      ).to.equal('2048');
    } finally {
      await checker.close();
    }
  });

  it('the log is complete: base + every logged change = the live image', async () => {
    const { server, base } = session!;
    const disk = server.disk('rec');
    const logged = (k: string) => rec.entries.filter((e) => e.kind === k).length;
    expect(
      [logged('write'), logged('zero'), logged('trim')],
      'nothing was served between freeze and SIGKILL',
    ).to.deep.equal([disk.stats.writes, disk.stats.zeroes, disk.stats.trims]);
    const replay = server.addExport('replay', { base, apply: rec.entries, record: false });
    const r = spawnSync('cmp', [replay.image, disk.image], { encoding: 'utf8' });
    expect(r.status, `cmp: ${r.stdout}${r.stderr}`).to.equal(0);
  });
});
