/** IORING_OP_WRITEV against pwritev(2) (SEMANTICS §3.2); the check is shared with aio.PWRITEV. */
import { vectoredWriteMatchesPwritev } from '../../src/oracle/rw-twins';

vectoredWriteMatchesPwritev('uring');
