/**
 * The adapter-level cancel and credential checks on the kernel interfaces: a cancelled request
 * completes exactly once, consistently with the cancel's result (SEMANTICS §3.9, §1.5); a queued
 * io_uring request (held behind IOSQE_IO_DRAIN) runs with its submitter's credentials at submission
 * (SEMANTICS §3.8).
 */
import { aioAdapter } from '../../../src/adapter/aio';
import { checkCancelOnce, checkQueuedCreds } from '../../../src/adapter/checks';
import { genericAdapter } from '../../../src/adapter/generic';
import { uringAdapter } from '../../../src/adapter/uring';
import { conformance } from '../../../src/suite/conformance';

conformance(
  'whitelist.uring: a READ of an empty pipe, cancelled, completes once, as its ASYNC_CANCEL result says',
  { ops: ['uring.READ', 'uring.ASYNC_CANCEL'], rule: 'SEMANTICS §3.9' },
  async ({ target }) => checkCancelOnce(target, uringAdapter),
);

conformance(
  'whitelist.aio: a POLL of an empty pipe, cancelled, completes once, as its io_cancel result says',
  { ops: ['aio.POLL', 'aio.cancel'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => checkCancelOnce(target, aioAdapter),
);

conformance(
  'whitelist.uring: a queued (drained) OPENAT runs with the credentials its submitter had at submission',
  { ops: ['uring.OPENAT', 'uring.POLL_ADD'], rule: 'SEMANTICS §3.8', needs: { root: true } },
  async ({ target, scratch }) => checkQueuedCreds(target, scratch, uringAdapter),
);

const generic = genericAdapter();
conformance(
  `whitelist.${generic.name}: a queued openat runs with the credentials its submitter had at submission`,
  { ops: [...generic.ops], rule: 'SEMANTICS §3.8, §2.3', needs: { root: true } },
  async ({ target, caps, scratch, skip }) => {
    const why = generic.unsupported(0, caps);
    if (why) skip(why);
    await checkQueuedCreds(target, scratch, generic);
  },
);

conformance(
  `whitelist.${generic.name}: a request waiting on an empty pipe, cancelled, completes once, as the cancel says`,
  { ops: [...generic.ops], rule: 'SEMANTICS §3.9, §2.4' },
  async ({ target, caps, skip }) => {
    const why = generic.unsupported(0, caps);
    if (why) skip(why);
    await checkCancelOnce(target, generic);
  },
);
