/** PREADV and PWRITEV with IOV_MAX and IOV_MAX + 1 iovecs against preadv(2) and pwritev(2) (man 2 readv); shared with uring. */
import { vectorOfIovMaxMatchesTwin } from '../../src/oracle/rw-twins';

vectorOfIovMaxMatchesTwin('aio', 'readv');
vectorOfIovMaxMatchesTwin('aio', 'writev');
