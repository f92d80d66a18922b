/**
 * IORING_OP_READ and IORING_OP_WRITE on an O_DIRECT fd against pread(2) and pwrite(2) on one: aligned I/O
 * moves the bytes, a read across EOF is short like pread's, and misaligned buffer, offset or length get
 * the synchronous call's answer (-EINVAL on a block filesystem). SEMANTICS §3.2, §1.6; man 2 open O_DIRECT.
 * Needs a scratch filesystem that opens O_DIRECT: a block filesystem (`--fs ext4` in a VM) or tmpfs from 6.6.
 */
import { directIoMatchesTwins } from '../../src/oracle/rw-twins';

directIoMatchesTwins('uring', 0x0b70, 'SEMANTICS §3.2, §1.6; man 2 open O_DIRECT', true);
