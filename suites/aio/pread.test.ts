/** IOCB_CMD_PREAD against pread(2): short reads at EOF, reads at and past EOF, holes (SEMANTICS §1.2, §1.6); shared with uring.READ. */
import { readAtEofReturnsZero, readMatchesPreadOnShortFile, readOfHoleReadsZeros } from '../../src/oracle/rw-twins';

readMatchesPreadOnShortFile('aio');
readAtEofReturnsZero('aio');
readOfHoleReadsZeros('aio');
