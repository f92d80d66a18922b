/** IOCB_CMD_PWRITE against pwrite(2) (SEMANTICS §1.2); the check is shared with uring.WRITE. */
import { writeExtendingFileMatchesPwrite } from '../../src/oracle/rw-twins';

writeExtendingFileMatchesPwrite('aio');
