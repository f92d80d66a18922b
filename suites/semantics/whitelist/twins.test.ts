/**
 * Every system call an adapter maps agrees with its synchronous twin on a representative fixture:
 * same result, same buffer, same file or tree afterwards (SEMANTICS §4.1; the differential oracle).
 */
import { aioAdapter, aioThreadAdapter } from '../../../src/adapter/aio';
import { checkTwin } from '../../../src/adapter/checks';
import { nameOf } from '../../../src/adapter/fixtures';
import { genericAdapter } from '../../../src/adapter/generic';
import type { AsyncAdapter } from '../../../src/adapter/types';
import { uringAdapter } from '../../../src/adapter/uring';
import { conformance } from '../../../src/suite/conformance';

const ADAPTERS: AsyncAdapter[] = [uringAdapter, aioAdapter, aioThreadAdapter, genericAdapter()];

for (const a of ADAPTERS)
  for (const nr of a.mapped())
    conformance(
      `whitelist.${a.name}: ${nameOf(nr)} agrees with its synchronous twin`,
      { ops: [...a.ops], rule: `${a.rule}; SEMANTICS §4.1` },
      async ({ target, caps, scratch, skip }) => {
        const why = a.unsupported(nr, caps);
        if (why) skip(why);
        await checkTwin(target, scratch, a, nr);
      },
    );
