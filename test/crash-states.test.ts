/** Crash states from synthetic logs: durable sets, FUA, flush ordering, trims and zeroes, seeds, images. */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { LogEntry, Mark, Recording } from '../src/crash/log';
import { crashStates, durableSplit, markIndex, materialize, TORN_BLOCK, windowEnd } from '../src/crash/states';

const mark = (id: string, file = 'f'): Mark => ({ id, file, size: 0, workload: 'w', iface: 'i', datasync: false });

/** A log from a compact script: W<sector>[F] write 512 bytes of `tag`, Z/T<sector> zero/trim, F flush, M<id> mark. */
function log(script: string): LogEntry[] {
  return script
    .split(/\s+/)
    .filter(Boolean)
    .map((w, seq): LogEntry => {
      const m = /^([WZTFM])(\w*?)(f?)$/.exec(w);
      if (!m) throw new Error(`bad word ${w}`);
      const [, k, arg, fua] = m;
      if (k === 'F') return { seq, kind: 'flush' };
      if (k === 'M') return { seq, kind: 'mark', mark: mark(arg) };
      const offset = Number(arg) * 512;
      if (k === 'W') return { seq, kind: 'write', offset, data: Buffer.alloc(512, seq + 1), fua: fua === 'f' };
      if (k === 'Z') return { seq, kind: 'zero', offset, length: 512, fua: fua === 'f' };
      return { seq, kind: 'trim', offset, length: 512 };
    });
}

describe('crash states', () => {
  it('durable: writes logged before the last flush before the crash point; later ones are volatile', () => {
    const e = log('W0 W1 F W2 W3 F W4 Mm W5');
    // crash at the mark (index 7): the flush at 5 covers 0,1,3,4; 6 is volatile
    expect(durableSplit(e, markIndex(e, 'm'))).to.deep.equal({ durable: [0, 1, 3, 4], volatile: [6] });
    // a flush after the crash point makes nothing durable
    expect(durableSplit(e, 2)).to.deep.equal({ durable: [], volatile: [0, 1] });
  });

  it('FUA writes and zeroes are durable once replied, without a flush', () => {
    const e = log('W0 W1f Z2f Z3 T4 Mm');
    expect(durableSplit(e, 5)).to.deep.equal({ durable: [1, 2], volatile: [0, 3, 4] });
  });

  it('trims and zeroes before a flush are durable like writes', () => {
    const e = log('T0 Z1 F Mm');
    expect(durableSplit(e, 3).durable).to.deep.equal([0, 1]);
  });

  it('the durable state holds exactly the durable set; the maximal state every entry of the window', () => {
    const rec: Recording = { size: 8 * 512, entries: log('W0 F W1 Mm W2 F W3 Mn W4') };
    const [durable, maximal] = crashStates(rec, 'm', 2);
    expect(durable.kind).to.equal('durable');
    expect(durable.applied).to.deep.equal([0]);
    expect(durable.dropped).to.deep.equal([2]);
    expect(maximal.kind).to.equal('maximal');
    // the window ends at mark n (the same file): W4 after it is not part of m's states
    expect(maximal.applied).to.deep.equal([0, 2, 4, 6]);
  });

  it('the window ends at the next mark of the same file', () => {
    const e = log('W0 F Mm W1 Mm2 W2');
    (e[4] as Extract<LogEntry, { kind: 'mark' }>).mark.file = 'f';
    expect(windowEnd(e, 2)).to.equal(4);
    (e[4] as Extract<LogEntry, { kind: 'mark' }>).mark.file = 'g';
    expect(windowEnd(e, 2)).to.equal(6);
  });

  it('every random state holds the durable set at its crash point and keeps log order', () => {
    const rec: Recording = { size: 64 * 512, entries: log('W0 W1 F W2 Mm W3 W2 W4 F W5 W3 W6 W7') };
    const states = crashStates(rec, 'm', 20, 7);
    expect(states.length).to.be.greaterThan(5);
    for (const s of states) {
      const { durable, volatile } = durableSplit(rec.entries, s.crashAt);
      expect(s.applied, s.id).to.include.members(durable);
      expect(
        [...s.applied, ...s.dropped].sort((a, b) => a - b),
        s.id,
      ).to.deep.equal([...durable, ...volatile].sort((a, b) => a - b));
      expect(s.applied, s.id).to.deep.equal([...s.applied].sort((a, b) => a - b));
      expect(s.crashAt, s.id).to.be.within(4, rec.entries.length);
      for (const i of Object.keys(s.torn).map(Number))
        expect(volatile, `${s.id}: only volatile writes tear`).to.include(i);
    }
    expect(new Set(states.map((s) => s.applied.join())).size, 'no recipe twice').to.equal(states.length);
  });

  it('the same seed gives the same states; another seed other ones', () => {
    const rec: Recording = { size: 64 * 512, entries: log('W0 F Mm W1 W2 W3 W4 W5 W6 W7 W8 F W9 W10 W11') };
    const a = crashStates(rec, 'm', 12, 42);
    expect(crashStates(rec, 'm', 12, 42)).to.deep.equal(a);
    expect(crashStates(rec, 'm', 12, 43).map((s) => s.applied)).not.to.deep.equal(a.map((s) => s.applied));
  });

  it('a volatile multi-block write may be torn: some states keep only some of its 4 KiB blocks', () => {
    const big: LogEntry = { seq: 2, kind: 'write', offset: 0, data: Buffer.alloc(8 * TORN_BLOCK, 7), fua: false };
    const rec: Recording = { size: 16 * TORN_BLOCK, entries: [...log('F Mm'), big] };
    const states = crashStates(rec, 'm', 20, 3);
    expect(states.length, 'eight blocks give more than 20 distinct states').to.equal(20);
    const torn = states.filter((s) => s.torn[2]);
    expect(torn.length).to.be.greaterThan(0);
    for (const s of torn) {
      expect(s.applied).to.include(2);
      expect(s.torn[2].length).to.be.within(1, 7);
    }
  });

  it('an unknown mark throws', () => {
    expect(() => crashStates({ size: 512, entries: log('W0') }, 'nope', 3)).to.throw(/mark 'nope'/);
  });

  describe('materialize', () => {
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-states-'))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('applies entries in log order over the base: a later write to a sector wins only when both are in', () => {
      const base = path.join(dir, 'base.img');
      fs.writeFileSync(base, Buffer.alloc(4 * 512, 0xee));
      const rec: Recording = { size: 4 * 512, base, entries: log('W0 W0 W1 Z2 T3 Mm') };
      const img = path.join(dir, 's.img');
      const read = () => fs.readFileSync(img);
      materialize(rec, { applied: [0, 1, 2, 3, 4] }, img);
      expect(read().length).to.equal(4 * 512);
      expect(read()[0], 'the second write to sector 0 wins').to.equal(2);
      expect(read()[512]).to.equal(3);
      expect(read()[1024], 'zeroed').to.equal(0);
      expect(read()[1536], 'trimmed reads as zeroes').to.equal(0);
      materialize(rec, { applied: [0] }, img);
      expect(read()[0], 'only the first write').to.equal(1);
      expect(read()[512], 'base data where nothing was applied').to.equal(0xee);
      expect(fs.readFileSync(base)[0], 'the base is untouched').to.equal(0xee);
    });

    it('a torn write puts only its kept blocks on the disk', () => {
      const img = path.join(dir, 't.img');
      const data = Buffer.alloc(3 * TORN_BLOCK, 9);
      const rec: Recording = {
        size: 4 * TORN_BLOCK,
        entries: [{ seq: 0, kind: 'write', offset: TORN_BLOCK, data, fua: false }],
      };
      materialize(rec, { applied: [0], torn: { 0: [0, 2] } }, img);
      const b = fs.readFileSync(img);
      expect([0, 1, 2, 3].map((k) => b[k * TORN_BLOCK])).to.deep.equal([0, 9, 0, 9]);
    });

    it('without a base the device starts as zeroes of the recorded size', () => {
      const img = path.join(dir, 'z.img');
      materialize({ size: 1 << 20, entries: log('W4') }, { applied: [0] }, img);
      const b = fs.readFileSync(img);
      expect(b.length).to.equal(1 << 20);
      expect(b[4 * 512]).to.equal(1);
      expect(b[0]).to.equal(0);
    });
  });
});
