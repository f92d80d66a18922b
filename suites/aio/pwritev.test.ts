/** IOCB_CMD_PWRITEV against pwritev(2) (SEMANTICS §1.2); the check is shared with uring.WRITEV. */
import { vectoredWriteMatchesPwritev } from '../../src/oracle/rw-twins';

vectoredWriteMatchesPwritev('aio');
