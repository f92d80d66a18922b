/**
 * Runs that may overlap, and `exclusive` sections that wait for every run in flight to end and hold
 * new ones back until they are done (runs started inside the section go through). A VM target uses
 * it so that a fuzz finding is replayed and shrunk with no other program in its guest.
 */
import { AsyncLocalStorage } from 'async_hooks';

/** A gate between overlapping runs and exclusive sections. */
export class RunGate {
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];
  private held?: Promise<void>;
  private readonly inside = new AsyncLocalStorage<boolean>();

  /** Run `fn` as one of any number of overlapping runs, after any exclusive section ends. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.inside.getStore()) while (this.held) await this.held;
    this.inflight++;
    try {
      return await fn();
    } finally {
      if (--this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Run `fn` with no other run in flight; runs that `fn` starts itself go ahead. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inside.getStore()) return fn();
    while (this.held) await this.held;
    let release!: () => void;
    this.held = new Promise<void>((r) => (release = r));
    try {
      while (this.inflight > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
      return await this.inside.run(true, fn);
    } finally {
      this.held = undefined;
      release();
    }
  }
}
