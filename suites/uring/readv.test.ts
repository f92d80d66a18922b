/** IORING_OP_READV against preadv(2) (SEMANTICS §3.2); the check is shared with aio.PREADV. */
import { vectoredReadMatchesPreadv } from '../../src/oracle/rw-twins';

vectoredReadMatchesPreadv('uring');
