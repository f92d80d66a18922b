/** IORING_OP_READ against pread(2): short reads at EOF and holes (SEMANTICS §3.2); shared with aio.PREAD. */
import { readMatchesPreadOnShortFile, readOfHoleReadsZeros } from '../../src/oracle/rw-twins';

readMatchesPreadOnShortFile('uring');
readOfHoleReadsZeros('uring');
