/**
 * refusedSetupFlags: a flag the probe saw refused is a reason to skip only on a kernel older than the
 * flag's mainline release; on one that should have it the refusal is a failure (issue 4).
 */
import { expect } from 'chai';
import { Capabilities, FlagSupport, refusedSetupFlags } from '../src/target/caps';

function caps(kernel: string, setupFlags: FlagSupport[], available = true): Capabilities {
  return {
    kernel,
    euid: 0,
    uring: { available, lastOp: 0, features: 0, featureNames: [], ops: [], setupFlags },
    aio: { available: false, ops: [] },
    sysctl: { io_uring_disabled: 0, io_uring_group: null, aio_max_nr: null, aio_nr: null },
  };
}
const refused = (name: string, since: string): FlagSupport => ({ name, value: 0, since, accepted: false, error: 'EINVAL' });
const accepted = (name: string, since: string): FlagSupport => ({ name, value: 0, since, accepted: true });

describe('refusedSetupFlags', () => {
  it('accepted flags: nothing to say', () => {
    expect(refusedSetupFlags(caps('6.18.4', [accepted('NO_MMAP', '6.5')]), ['NO_MMAP'])).to.equal(undefined);
  });

  it('a kernel older than the flag: the probe’s refusal is the skip reason', () => {
    const why = refusedSetupFlags(caps('6.1.0-56-amd64', [refused('NO_MMAP', '6.5')]), ['NO_MMAP']);
    expect(why).to.match(/^probe: io_uring_setup refuses IORING_SETUP_NO_MMAP on kernel 6\.1\.0-56-amd64 \(EINVAL\)$/);
  });

  it('a kernel that should have the flag: the refusal throws', () => {
    const c = caps('6.12.117+deb12-amd64', [accepted('NO_MMAP', '6.5'), refused('REGISTERED_FD_ONLY', '6.5')]);
    expect(() => refusedSetupFlags(c, ['NO_MMAP', 'REGISTERED_FD_ONLY'])).to.throw(
      /refuses IORING_SETUP_REGISTERED_FD_ONLY .*mainline has had it since 6\.5/,
    );
  });

  it('an unverified release or io_uring unavailable: a skip, never a failure', () => {
    expect(refusedSetupFlags(caps('7.2.0', [refused('SQE_MIXED', '6.19')]), ['SQE_MIXED'])).to.match(/^probe: /);
    expect(refusedSetupFlags(caps('6.18.4', [], false), ['NO_MMAP'])).to.match(/^probe: /);
  });
});
