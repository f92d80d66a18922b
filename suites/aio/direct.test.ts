/**
 * PREAD and PWRITE on an O_DIRECT fd against pread(2) and pwrite(2) on one: aligned I/O moves the bytes,
 * and misaligned buffer, offset or length get the same answer as the synchronous call, whether the
 * filesystem refuses it (-EINVAL on a block filesystem) or not (SEMANTICS §1.5, §1.6). Needs a scratch
 * filesystem that opens O_DIRECT: a block filesystem (`--fs ext4` in a VM) or tmpfs from 6.6 on.
 */
import { directIoMatchesTwins } from '../../src/oracle/rw-twins';

describe('aio O_DIRECT', function () {
  directIoMatchesTwins('aio', 0x0a70, 'SEMANTICS §1.6', false);
});
