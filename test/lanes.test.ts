/**
 * kasync-exec's tagged frames (WIRE.md, "Lanes"): several programs in flight at once, each answered
 * when it ends, with its tag; the VM agent serves the fuzzer's `--procs` this way.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect } from 'chai';
import { O, SIG, SYSCALLS } from '../src/abi';
import { arg, Program } from '../src/program/builder';
import { mkfifo, openat } from '../src/program/sys';
import { decodeTrace, Trace, TraceView } from '../src/program/trace';
import { EXEC_BIN } from '../src/paths';

/** A kasync-exec server, with tagged and untagged frames. */
class Server {
  private readonly proc: ChildProcess;
  private inbox = Buffer.alloc(0);
  private readonly replies: { tag?: number; trace: Trace }[] = [];
  private wake?: () => void;

  constructor() {
    this.proc = spawn(EXEC_BIN, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc.stdout!.on('data', (d: Buffer) => {
      this.inbox = Buffer.concat([this.inbox, d]);
      while (this.inbox.length >= 4 && this.inbox.length >= 4 + this.inbox.readUInt32LE(0)) {
        const f = this.inbox.subarray(4, 4 + this.inbox.readUInt32LE(0));
        this.inbox = this.inbox.subarray(4 + f.length);
        const tagged = f.toString('latin1', 0, 4) === 'KASL';
        this.replies.push(tagged ? { tag: f.readUInt32LE(4), trace: decodeTrace(Buffer.from(f.subarray(8))) } : { trace: decodeTrace(Buffer.from(f)) });
        this.wake?.();
      }
    });
  }

  send(p: Program, tag?: number): void {
    const prog = p.encode();
    const head = Buffer.alloc(tag === undefined ? 4 : 12);
    head.writeUInt32LE(prog.length + (tag === undefined ? 0 : 8));
    if (tag !== undefined) {
      head.write('KASL', 4, 'latin1');
      head.writeUInt32LE(tag, 8);
    }
    this.proc.stdin!.write(Buffer.concat([head, prog]));
  }

  /** The first `n` replies, in the order they came; fails after `ms`. */
  async replies_(n: number, ms = 20_000): Promise<{ tag?: number; trace: Trace }[]> {
    const end = Date.now() + ms;
    while (this.replies.length < n) {
      if (Date.now() > end) throw new Error(`only ${this.replies.length} of ${n} replies within ${ms} ms`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 100);
      });
    }
    return this.replies.slice(0, n);
  }

  close(): void {
    this.proc.stdin!.end();
    this.proc.kill('SIGKILL');
  }
}

describe('kasync-exec lanes (tagged frames)', function () {
  this.timeout(60_000);
  let dir: string;
  let server: Server;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-lanes-'));
    server = new Server();
  });
  afterEach(() => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs tagged programs at once: a FIFO reader sent first gets the bytes of a writer sent second', async () => {
    const fifo = path.join(dir, 'fifo');
    // untagged, so answered before the next frame is read: the FIFO exists before either opens it
    const make = new Program();
    const mk = mkfifo(make.main, fifo);
    // a reader blocks in open(2) until a writer opens: run one after the other, it would never return
    const reader = new Program({ deadlineMs: 10_000 });
    const r = openat(reader.main, fifo, O.RDONLY.value);
    const into = reader.buf(8);
    const got = reader.main.syscall(SYSCALLS.read, [arg.fd(r.fd), arg.buf(into), 8]);
    const writer = new Program({ deadlineMs: 10_000 });
    const w = openat(writer.main, fifo, O.WRONLY.value);
    const put = writer.main.syscall(SYSCALLS.write, [arg.fd(w.fd), arg.buf(writer.cstr('hello')), 5]);
    server.send(make);
    server.send(reader, 7);
    server.send(writer, 9);
    const [first, ...tagged] = await server.replies_(3);
    expect(first.tag, 'the untagged frame is answered untagged').to.equal(undefined);
    expect(new TraceView(first.trace).ret(mk)).to.equal(0);
    expect(tagged.map((x) => x.tag).sort(), 'each tagged program answered once, with its tag').to.deep.equal([7, 9]);
    const byTag = new Map(tagged.map((x) => [x.tag, new TraceView(x.trace)]));
    expect(byTag.get(9)!.ret(put)).to.equal(5);
    expect(byTag.get(7)!.trace.status).to.equal('ok');
    expect(byTag.get(7)!.ret(got), 'the reader got the writer\'s 5 bytes').to.equal(5);
  });

  it("leaves none of the server's fds open in a runner: a program's first open gets fd 3, as in a C reproducer", async () => {
    const p = new Program();
    const f = openat(p.main, '/dev/null', O.RDONLY.value);
    server.send(p, 1);
    const [r] = await server.replies_(1);
    expect(new TraceView(r.trace).ret(f.step)).to.equal(3);
  });

  it('kills a tagged program that outlives its deadline, without holding up one sent after it', async () => {
    // a stopped runner cannot end itself at its deadline: the server kills its group past the grace
    const stuck = new Program({ deadlineMs: 300 });
    const self = stuck.pid();
    stuck.main.syscall(SYSCALLS.getpid, [], { pid: self });
    stuck.main.syscall(SYSCALLS.kill, [arg.pid(self), SIG.STOP.value]);
    const quick = new Program();
    const pid = quick.main.syscall(SYSCALLS.getpid, []);
    server.send(stuck, 1);
    server.send(quick, 2);
    const replies = await server.replies_(2);
    expect(replies.map((x) => x.tag), 'the quick program first').to.deep.equal([2, 1]);
    expect(new TraceView(replies[0].trace).ret(pid)).to.be.above(0);
    expect(replies[1].trace.status, 'the stopped runner was killed').to.equal('runner-died');
  });
});
