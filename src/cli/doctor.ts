/** `kasync doctor`: what is present on this machine and what each missing piece disables. */
import * as fs from 'fs';
import { findExecutable } from '../tools';
import { findBusybox } from '../vm/initramfs';
import { accelerator } from '../vm/qemu';
import { ADDON, EXEC_BIN } from '../paths';
import { LIBELF_HEADER } from '../vm/build';

/** One check. */
export interface DoctorItem {
  name: string;
  ok: boolean;
  found: string;
  /** What is lost without it. */
  disables: string;
}

function readSysctl(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
}

const kvmUsable = () => accelerator() === 'kvm';

function staticBusybox(): DoctorItem {
  let found: string;
  try {
    found = findBusybox();
  } catch (e) {
    found = (e as Error).message;
  }
  return { name: 'busybox-static', ok: found.startsWith('/'), found, disables: 'building VM initramfs images (--kernel)' };
}

/** Run every check. */
export async function doctor(): Promise<DoctorItem[]> {
  const tool = (name: string, cmd: string, disables: string): DoctorItem => {
    const p = findExecutable(cmd);
    return { name, ok: !!p, found: p ?? 'not found', disables };
  };
  const file = (name: string, p: string, disables: string): DoctorItem => ({
    name, ok: fs.existsSync(p), found: fs.existsSync(p) ? p : `${p} missing (run npm ci)`, disables,
  });
  const disabled = readSysctl('/proc/sys/kernel/io_uring_disabled');
  const maxNr = readSysctl('/proc/sys/fs/aio-max-nr');
  const nr = readSysctl('/proc/sys/fs/aio-nr');
  return [
    file('native addon', ADDON, 'the in-process (local) target'),
    file('kasync-exec', EXEC_BIN, 'the child target, process-level steps, and every VM run (it is the guest agent)'),
    {
      name: 'io_uring',
      ok: disabled === undefined || disabled === '0',
      found: disabled === undefined ? 'no kernel.io_uring_disabled (kernel before 6.6)' : `kernel.io_uring_disabled=${disabled}`,
      disables: 'the uring suites on this host when 2 (and for unprivileged users when 1)',
    },
    {
      name: 'AIO',
      ok: maxNr !== undefined,
      found: maxNr !== undefined ? `fs.aio-max-nr=${maxNr}, fs.aio-nr=${nr}` : 'no fs.aio-max-nr (CONFIG_AIO off?)',
      disables: 'the aio suites on this host',
    },
    tool('qemu', 'qemu-system-x86_64', 'VM targets (--kernel): candidate kernels, fuzzing in VMs, fsync durability'),
    { name: 'KVM', ok: kvmUsable(), found: kvmUsable() ? '/dev/kvm' : 'no usable /dev/kvm: qemu runs under TCG (slower)', disables: 'nothing; VMs are slower without it' },
    staticBusybox(),
    tool('depmod', 'depmod', 'module plans of fetched Debian kernels (apt-get install kmod)'),
    tool('setpriv', 'setpriv', 'killing qemu when kasync itself is SIGKILLed (util-linux)'),
    tool('xz', 'xz', 'the fast PVH boot of XZ-compressed kernels such as Debian 6.1 (xz-utils)'),
    tool('zstd', 'zstd', 'the fast PVH boot of zstd-compressed kernels such as Debian 6.12'),
    tool('apt-get', 'apt-get', 'fetching Debian kernels (kasync kernels fetch)'),
    tool('C compiler', 'cc', 'checking C reproducers and the ABI header test'),
    tool('mkfs.ext4', 'mkfs.ext4', 'ext4 scratch filesystems in VMs'),
    tool('mkfs.xfs', 'mkfs.xfs', 'xfs scratch filesystems in VMs'),
    tool('mkfs.btrfs', 'mkfs.btrfs', 'btrfs scratch filesystems in VMs'),
    tool('flex', 'flex', 'building coverage/debug kernels (kasync kernels build)'),
    tool('bison', 'bison', 'building coverage/debug kernels (kasync kernels build)'),
    tool('bc', 'bc', 'building coverage/debug kernels (kasync kernels build)'),
    {
      name: 'libelf-dev',
      ok: fs.existsSync(LIBELF_HEADER),
      found: fs.existsSync(LIBELF_HEADER) ? LIBELF_HEADER : `${LIBELF_HEADER} missing (apt-get install libelf-dev)`,
      disables: 'building coverage/debug kernels (kasync kernels build: objtool needs it)',
    },
    tool('gcov', 'gcov', 'kernel line coverage (kasync coverage)'),
    tool('genhtml', 'genhtml', 'the HTML page of kasync coverage --output (lcov)'),
  ];
}

/** A table for the terminal. */
export function formatDoctor(items: DoctorItem[]): string {
  const w = Math.max(...items.map((i) => i.name.length));
  return items
    .map((i) => `${i.ok ? 'ok     ' : 'MISSING'}  ${i.name.padEnd(w)}  ${i.found}${i.ok ? '' : `\n         ${''.padEnd(w)}  without it: ${i.disables}`}`)
    .join('\n');
}
