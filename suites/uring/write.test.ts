/** IORING_OP_WRITE against pwrite(2) (SEMANTICS §3.2); the check is shared with aio.PWRITE. */
import { writeExtendingFileMatchesPwrite } from '../../src/oracle/rw-twins';

writeExtendingFileMatchesPwrite('uring');
