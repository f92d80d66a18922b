/**
 * The `child` target: programs run in `kasync-exec`, a static binary that forks a fresh runner per
 * program, so process-level steps (fork, exit, credentials, threads) never touch Node.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import { EXEC_BIN } from '../paths';
import { Program } from '../program/builder';
import type { TraceView } from '../program/trace';
import { cachedProbe, makeHostScratch, removeHostScratch } from './host';
import { Target, TargetError, view } from './target';

/** Extra time the executor gets beyond a program's own deadline before it is killed. */
const GRACE_MS = 5000;

interface Waiter {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
}

/** Runs programs through `kasync-exec` over stdin/stdout frames. */
export class ChildTarget implements Target {
  readonly name: string = 'child';
  private proc?: ChildProcess;
  private inbox = Buffer.alloc(0);
  private waiters: Waiter[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  readonly probe = cachedProbe(this);

  constructor(private readonly bin = EXEC_BIN) {}

  private start(): ChildProcess {
    if (this.proc && this.proc.exitCode === null && !this.proc.killed) return this.proc;
    if (!fs.existsSync(this.bin)) throw new TargetError(`executor ${this.bin} is missing: run npm ci`);
    const proc = spawn(this.bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.inbox = Buffer.alloc(0);
    proc.stdout!.on('data', (d: Buffer) => this.onData(d));
    proc.on('exit', (code, sig) => this.fail(new TargetError(`kasync-exec exited (${sig ?? code})`), proc));
    proc.on('error', (e) => this.fail(new TargetError(`kasync-exec: ${e.message}`), proc));
    proc.stdin!.on('error', () => undefined); // reported by 'exit'
    this.proc = proc;
    return proc;
  }

  private fail(e: Error, proc: ChildProcess): void {
    if (this.proc === proc) this.proc = undefined;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  private onData(d: Buffer): void {
    this.inbox = Buffer.concat([this.inbox, d]);
    while (this.inbox.length >= 4) {
      const n = this.inbox.readUInt32LE(0);
      if (this.inbox.length < 4 + n) break;
      const frame = Buffer.from(this.inbox.subarray(4, 4 + n));
      this.inbox = this.inbox.subarray(4 + n);
      this.waiters.shift()?.resolve(frame);
    }
  }

  /** One program at a time: the executor answers in order. */
  runWire(program: Buffer, deadlineMs: number): Promise<Buffer> {
    const next = this.chain.then(() => this.exchange(program, deadlineMs));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private exchange(program: Buffer, deadlineMs: number): Promise<Buffer> {
    const proc = this.start();
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new TargetError(`kasync-exec gave no trace within ${deadlineMs + GRACE_MS} ms: killed`));
      }, deadlineMs + GRACE_MS);
      this.waiters.push({
        resolve: (b) => (clearTimeout(timer), resolve(b)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      const head = Buffer.alloc(4);
      head.writeUInt32LE(program.length);
      proc.stdin!.write(Buffer.concat([head, program]));
    });
  }

  async run(p: Program): Promise<TraceView> {
    return view(await this.runWire(p.encode(), p.deadlineMs));
  }

  makeScratch = makeHostScratch;
  removeScratch = removeHostScratch;

  async close(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => (proc.kill('SIGKILL'), resolve()), 2000);
      proc.once('exit', () => (clearTimeout(t), resolve()));
      proc.stdin!.end();
    });
  }
}
