/**
 * src/oracle/cancel.ts bites: the rule tying a cancel's answer to its target rejects a target completed twice or
 * never, a "cancelled" answer with a target that completed normally, a "not found" answer with a cancelled target,
 * and answers the rules do not list; it accepts the pairs SEMANTICS §3.9–3.10 allow.
 */
import { expect } from 'chai';
import { errno } from '../src/abi';
import { aioCancelProblems, Answer, cancelProblems, posixCancelProblems } from '../src/oracle/cancel';

const normal = (r: number) => r === 1;
const judge = (answer: Answer, cancel: number, target: number[], mayRun = false, foundIsOne = false) =>
  cancelProblems({ answer, cancel, target, normal, mayRun, foundIsOne });
const { ECANCELED, EINTR, ENOENT, EALREADY, ETIME, EINVAL, EINPROGRESS } = errno;

describe('cancel oracle', () => {
  it('accepts the pairs SEMANTICS §3.9 and §3.10 allow', () => {
    expect(judge('async-cancel', 0, [-ECANCELED])).to.deep.equal([]);
    expect(judge('async-cancel', -ENOENT, [1])).to.deep.equal([]);
    expect(judge('async-cancel', -EALREADY, [-EINTR], true)).to.deep.equal([]);
    expect(judge('count', 1, [-ECANCELED])).to.deep.equal([]);
    expect(judge('count', 0, [1])).to.deep.equal([]);
    expect(judge('link-timeout', -ETIME, [-ECANCELED])).to.deep.equal([]);
    expect(judge('link-timeout', -ECANCELED, [1])).to.deep.equal([]);
    expect(judge('sync-cancel', 1, [-ECANCELED], false, true)).to.deep.equal([]);
  });

  it('rejects a target that completed twice or never', () => {
    expect(judge('async-cancel', 0, [-ECANCELED, -ECANCELED])[0]).to.match(/completed 2 times/);
    expect(judge('async-cancel', 0, [])[0]).to.match(/completed 0 times/);
  });

  it('rejects answers that disagree with the target', () => {
    expect(judge('async-cancel', 0, [1])[0]).to.match(/allows cancelled/);
    expect(judge('async-cancel', -ENOENT, [-ECANCELED])[0]).to.match(/allows normal/);
    expect(judge('count', 0, [-ECANCELED])).to.have.length(1);
    expect(judge('link-timeout', -ECANCELED, [-ECANCELED])).to.have.length(1);
    expect(judge('timeout-remove', 0, [-ETIME])).to.have.length(1);
  });

  it('rejects -EALREADY, a count of 2 or a 1 where the rules do not allow them', () => {
    expect(judge('async-cancel', -EALREADY, [-EINTR])[0]).to.match(/not one SEMANTICS/);
    expect(judge('count', 2, [-ECANCELED])[0]).to.match(/not one SEMANTICS/);
    expect(judge('async-cancel', 1, [-ECANCELED])[0]).to.match(/not one SEMANTICS/);
    expect(judge('async-cancel', 0, [-EINVAL])[0]).to.match(/neither -ECANCELED/);
  });

  it('legacy AIO and POSIX AIO', () => {
    expect(aioCancelProblems(-EINPROGRESS, [0], normal)).to.deep.equal([]);
    expect(aioCancelProblems(-EINPROGRESS, [1], normal)).to.have.length(1);
    expect(aioCancelProblems(-EINVAL, [1, 1], normal)[0]).to.match(/2 times/);
    const p = { canceled: 0, notCanceled: 1, n: 8 };
    expect(posixCancelProblems({ ...p, cancel: 0, error: ECANCELED, ret: -1 })).to.deep.equal([]);
    expect(posixCancelProblems({ ...p, cancel: 1, error: 0, ret: 8 })).to.deep.equal([]);
    expect(posixCancelProblems({ ...p, cancel: 0, error: 0, ret: 8 })).to.have.length(1);
    expect(posixCancelProblems({ ...p, cancel: 2, error: 0, ret: 8 })).to.have.length(1);
  });
});
