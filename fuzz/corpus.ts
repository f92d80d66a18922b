/**
 * The corpus: programs that produced an outcome class no earlier program did, kept across runs in
 * an append-only JSON-lines file. Each entry is appended with one write(2) of a whole line, so a
 * crash mid-write leaves at worst a torn last line, which the reader skips.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { StreamModel } from './model';

/** One corpus line. */
export interface CorpusEntry {
  /** The outcome classes (oracle.ts `outcomeClasses`) this program was the first to produce. */
  classes: string[];
  model: StreamModel;
  /** Kernel it was found on. */
  kernel?: string;
}

/** Read a corpus file; lines that do not parse (a torn tail) are counted and skipped. */
export function readCorpus(file: string): { entries: CorpusEntry[]; skipped: number } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], skipped: 0 };
    throw e;
  }
  const entries: CorpusEntry[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const e = JSON.parse(line) as CorpusEntry;
      if (Array.isArray(e.classes) && e.model && Array.isArray(e.model.steps)) entries.push(e);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  return { entries, skipped };
}

/** An open corpus: the outcome classes seen so far and an append-only file. */
export class Corpus {
  readonly classes = new Set<string>();
  readonly loaded: CorpusEntry[];
  readonly skipped: number;
  private fd: number;
  private added = 0;

  constructor(readonly file: string) {
    const { entries, skipped } = readCorpus(file);
    this.loaded = entries;
    this.skipped = skipped;
    for (const e of entries) for (const c of e.classes) this.classes.add(c);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'a');
    // a torn tail: start on a fresh line so the next entry is whole
    const size = fs.fstatSync(this.fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      const rfd = fs.openSync(file, 'r');
      try {
        fs.readSync(rfd, last, 0, 1, size - 1);
      } finally {
        fs.closeSync(rfd);
      }
      if (last[0] !== 0x0a) fs.writeSync(this.fd, '\n');
    }
  }

  /** Keep a program if it produced a class no earlier one did; true when it was kept. */
  offer(model: StreamModel, classes: string[], kernel?: string): boolean {
    const fresh = classes.filter((c) => !this.classes.has(c));
    if (!fresh.length) return false;
    for (const c of fresh) this.classes.add(c);
    const e: CorpusEntry = { classes: fresh, model, kernel };
    if (this.fd >= 0) fs.writeSync(this.fd, JSON.stringify(e) + '\n');
    this.added++;
    return true;
  }

  /** Entries in the file (loaded and added). */
  get size(): number {
    return this.loaded.length + this.added;
  }

  /** Flush and close the file. */
  close(): void {
    if (this.fd < 0) return;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}
