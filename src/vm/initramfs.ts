/**
 * The guest's root: an initramfs made at run time from busybox-static, `kasync-exec`, the init
 * script in vm-images/ and the modules a kernel needs, cached by a hash of its contents.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { UsageError } from '../cli/usage';
import { EXEC_BIN, ROOT } from '../paths';
import { cacheDir } from './types';

/** The init script copied to /init. */
export const INIT_SCRIPT = path.join(ROOT, 'vm-images', 'init.sh');
/** Where Debian's busybox-static puts its binary. */
export const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** One file, directory or device node of the archive. */
export interface CpioEntry {
  name: string;
  /** File contents; absent for directories and device nodes. */
  data?: Buffer;
  /** Full st_mode (type bits included). */
  mode: number;
  rdev?: { major: number; minor: number };
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Encode entries as a `newc` cpio archive (the format the kernel unpacks into its rootfs). */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const put = (e: CpioEntry) => {
    const name = Buffer.from(e.name + '\0');
    const size = e.data?.length ?? 0;
    const fields = [
      ino++, e.mode, 0, 0, e.mode & S_IFDIR ? 2 : 1, 0, size, 0, 0,
      e.rdev?.major ?? 0, e.rdev?.minor ?? 0, name.length, 0,
    ];
    const head = Buffer.from('070701' + fields.map(hex8).join(''));
    parts.push(head, name, Buffer.alloc(pad4(head.length + name.length)));
    if (e.data) parts.push(e.data, Buffer.alloc(pad4(size)));
  };
  for (const e of entries) put(e);
  put({ name: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(parts);
}

/** Is this file a statically linked x86-64 ELF executable (no PT_INTERP)? */
export function isStaticElf(file: string): boolean {
  const b = fs.readFileSync(file);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false;
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3) return false; // PT_INTERP
  return true;
}

/** The static busybox to put in the guest, or a one-line reason why there is none. */
export function findBusybox(): string {
  for (const c of BUSYBOX_CANDIDATES) if (fs.existsSync(c) && isStaticElf(c)) return c;
  const dyn = BUSYBOX_CANDIDATES.find((c) => fs.existsSync(c));
  throw new UsageError(
    dyn ? `${dyn} is dynamically linked: install busybox-static` : 'busybox is not installed: apt-get install busybox-static',
  );
}

/** What goes into an initramfs. */
export interface InitramfsSpec {
  /** Module files in load order (from resolveModules). */
  modules: string[];
  /** Extra files: guest path → host file (e.g. test helpers). */
  extra?: Record<string, string>;
}

/** Build (or find in the cache) the initramfs for these modules; returns its path. */
export function buildInitramfs(spec: InitramfsSpec): string {
  if (!fs.existsSync(EXEC_BIN)) throw new UsageError(`executor ${EXEC_BIN} is missing: run npm ci`);
  const files: Array<[string, string, number]> = [
    ['init', INIT_SCRIPT, 0o755],
    ['bin/busybox', findBusybox(), 0o755],
    ['bin/kasync-exec', EXEC_BIN, 0o755],
  ];
  const order: string[] = [];
  spec.modules.forEach((m, i) => {
    const name = `${String(i).padStart(3, '0')}-${path.basename(m)}`;
    files.push([`modules/${name}`, m, 0o644]);
    order.push(name);
  });
  for (const [guest, host] of Object.entries(spec.extra ?? {})) files.push([guest.replace(/^\/+/, ''), host, 0o755]);

  const hash = crypto.createHash('sha256');
  const contents = files.map(([guest, host, mode]) => {
    const data = fs.readFileSync(host);
    hash.update(`${guest}\0${mode}\0${data.length}\0`).update(data);
    return { guest, data, mode };
  });
  hash.update(order.join('\n'));
  const out = path.join(cacheDir(), 'initramfs', `${hash.digest('hex').slice(0, 24)}.cpio.gz`);
  if (fs.existsSync(out)) return out;

  const dirs = new Set<string>(['bin', 'dev', 'proc', 'sys', 'tmp', 'scratch', 'modules']);
  for (const c of contents) for (let d = path.dirname(c.guest); d !== '.'; d = path.dirname(d)) dirs.add(d);
  const entries: CpioEntry[] = [...dirs].sort().map((d) => ({ name: d, mode: S_IFDIR | 0o755 }));
  // the kernel opens /dev/console for init's stdio before devtmpfs is mounted
  entries.push({ name: 'dev/console', mode: S_IFCHR | 0o600, rdev: { major: 5, minor: 1 } });
  for (const c of contents) entries.push({ name: c.guest, data: c.data, mode: S_IFREG | c.mode });
  entries.push({ name: 'modules/order', data: Buffer.from(order.join('\n') + '\n'), mode: S_IFREG | 0o644 });

  const gz = zlib.gzipSync(cpioNewc(entries), { level: 1 });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, gz);
  fs.renameSync(tmp, out);
  return out;
}
