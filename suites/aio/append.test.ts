/**
 * Where an AIO write lands when it should append: on an O_APPEND fd (like pwrite(2) on Linux, offset
 * ignored) and with RWF_APPEND (like pwritev2(2)) (SEMANTICS §1.4, man 2 pwrite); shared with uring.
 */
import { writeOnAppendFdMatchesPwrite, writeWithRwfMatchesPwritev2 } from '../../src/oracle/rw-twins';

writeOnAppendFdMatchesPwrite('aio');
writeWithRwfMatchesPwritev2('aio', 'APPEND');
