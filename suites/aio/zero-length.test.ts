/** Zero-length PREAD, PWRITE, PREADV and PWRITEV against their synchronous twins (SEMANTICS §1.2); shared with uring. */
import { zeroLengthMatchesTwins } from '../../src/oracle/rw-twins';

zeroLengthMatchesTwins('aio');
