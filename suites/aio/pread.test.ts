/** IOCB_CMD_PREAD against pread(2): short reads at EOF and holes (SEMANTICS §1.2, §1.6); shared with uring.READ. */
import { readMatchesPreadOnShortFile, readOfHoleReadsZeros } from '../../src/oracle/rw-twins';

readMatchesPreadOnShortFile('aio');
readOfHoleReadsZeros('aio');
