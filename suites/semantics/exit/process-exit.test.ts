/** A submitter that exits with requests in flight (SEMANTICS §1.7, §3.11). */
import { missingSetup, runDeparture, Submitter, SUBMITTER_OPS } from '../../../src/oracle/exit';
import { conformance } from '../../../src/suite/conformance';

const SUBMITTERS: [Submitter, string][] = [
  ['uring', 'io_uring'],
  ['uring-sqpoll', 'io_uring SQPOLL'],
  ['uring-defer', 'io_uring DEFER_TASKRUN|SINGLE_ISSUER'],
  ['aio', 'AIO'],
];

for (const [submitter, what] of SUBMITTERS)
  conformance(
    `${what}: a process that exits with requests in flight is reaped, leaks nothing and keeps its completed writes`,
    { ops: SUBMITTER_OPS[submitter], rule: submitter === 'aio' ? 'SEMANTICS §1.7' : 'SEMANTICS §3.11' },
    async ({ target, caps, scratch, skip, note }) => {
      const why = missingSetup(caps, submitter);
      if (why) skip(why);
      await runDeparture(target, scratch, submitter, 'exit', note);
    },
  );
