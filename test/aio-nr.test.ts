import { expect } from 'chai';
import { AIO_NR_ATTEMPTS, aioNrProblem, AioNrReadings, judgeAioNr } from '../src/oracle/aio-nr';

/** An attempt function that returns the given readings in turn, counting calls. */
function runs(...r: AioNrReadings[]): { attempt: () => Promise<AioNrReadings>; calls: () => number } {
  let i = 0;
  return { attempt: async () => r[Math.min(i++, r.length - 1)], calls: () => i };
}

describe('oracle/aio-nr: judging the system-wide fs.aio-nr', () => {
  it('names what does not add up: the held count, then the count after the context was freed', () => {
    expect(aioNrProblem({ before: 10, during: 18, after: 10 }, 8)).to.equal(undefined);
    expect(aioNrProblem({ before: 10, after: 10 }, 8)).to.equal(undefined);
    expect(aioNrProblem({ before: 10, during: 10, after: 10 }, 8)).to.equal(
      'aio-nr rose by 0 while the context of 8 events was held',
    );
    expect(aioNrProblem({ before: 10, during: 18, after: 18 }, 8)).to.equal(
      'aio-nr was 10 before and 18 after the context was freed',
    );
  });

  it('passes a first run that adds up, with no note', async () => {
    const notes: string[] = [];
    const r = runs({ before: 0, during: 8, after: 0 });
    await judgeAioNr(8, 'SEMANTICS §1.7', (n) => notes.push(n), r.attempt);
    expect(r.calls()).to.equal(1);
    expect(notes).to.deep.equal([]);
  });

  it("reruns when another process's context moved the count, and notes it", async () => {
    const notes: string[] = [];
    const r = runs({ before: 0, during: 8, after: 256 }, { before: 256, during: 264, after: 256 });
    await judgeAioNr(8, 'SEMANTICS §1.7', (n) => notes.push(n), r.attempt);
    expect(r.calls()).to.equal(2);
    expect(notes).to.deep.equal([
      'fs.aio-nr moved by something else in 1 run(s), rerun: aio-nr was 0 before and 256 after the context was freed',
    ]);
  });

  it('fails a context that stays counted in every run, naming the rule and each run', async () => {
    const r = runs(
      { before: 0, during: 8, after: 8 },
      { before: 8, during: 16, after: 16 },
      { before: 16, during: 24, after: 24 },
    );
    const err = await judgeAioNr(8, 'SEMANTICS §1.7', () => undefined, r.attempt).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(r.calls()).to.equal(AIO_NR_ATTEMPTS);
    expect(err?.message).to.match(/^freeing the context put aio-nr back where it was \(SEMANTICS §1\.7\), 3 runs: /);
    expect(err?.message).to.include('aio-nr was 16 before and 24 after the context was freed');
  });

  it('fails a context never counted while held', async () => {
    const r = runs({ before: 5, during: 5, after: 5 });
    const err = await judgeAioNr(8, 'SEMANTICS §1.5', () => undefined, r.attempt).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/the context's 8 events counted in aio-nr \(SEMANTICS §1\.5\), 3 runs/);
  });

  it('an exception from the program or its other checks is not retried', async () => {
    let calls = 0;
    const err = await judgeAioNr(8, 'r', () => undefined, async () => {
      calls++;
      throw new Error('io_setup in the child: expected -22 to equal 0');
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(calls).to.equal(1);
    expect(err?.message).to.equal('io_setup in the child: expected -22 to equal 0');
  });
});
