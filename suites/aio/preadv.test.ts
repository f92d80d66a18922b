/** IOCB_CMD_PREADV against preadv(2) (SEMANTICS §1.2); the check is shared with uring.READV. */
import { vectoredReadMatchesPreadv } from '../../src/oracle/rw-twins';

vectoredReadMatchesPreadv('aio');
