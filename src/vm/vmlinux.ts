/**
 * A faster boot under TCG: the kernel ELF inside a bzImage, booted through its PVH entry point,
 * skips the firmware's real-mode start and the kernel's self-decompression (an XZ kernel spends
 * ~9 s of emulated time decompressing itself; measured in bench/vm). Falls back to the bzImage
 * whenever anything is missing: no PVH entry, an unknown compressor, no decompression tool.
 */
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { cacheDir } from './types';

const MAGICS: Array<[string, Buffer, string[] | 'gzip']> = [
  ['gzip', Buffer.from([0x1f, 0x8b]), 'gzip'],
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), ['xz', '-dcq']],
  ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), ['zstd', '-dcq']],
];

/** The compressed payload of a bzImage (setup header fields payload_offset / payload_length). */
function payloadOf(b: Buffer): Buffer | undefined {
  if (b.length < 0x250 || b.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const setupSects = b[0x1f1] || 4;
  const off = (setupSects + 1) * 512 + b.readUInt32LE(0x248);
  const len = b.readUInt32LE(0x24c);
  return off + len <= b.length ? b.subarray(off, off + len) : undefined;
}

/** Does this ELF kernel have a PVH entry (a "Xen" note of type XEN_ELFNOTE_PHYS32_ENTRY, 18)? */
export function hasPvhEntry(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  for (let i = 0, n = elf.readUInt16LE(0x38); i < n; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 4) continue; // PT_NOTE
    const start = Number(elf.readBigUInt64LE(ph + 8));
    const end = Math.min(elf.length, start + Number(elf.readBigUInt64LE(ph + 32)));
    for (let o = start; o + 12 <= end; ) {
      const namesz = elf.readUInt32LE(o);
      const descsz = elf.readUInt32LE(o + 4);
      const type = elf.readUInt32LE(o + 8);
      if (type === 18 && elf.toString('latin1', o + 12, o + 12 + namesz).replace(/\0+$/, '') === 'Xen') return true;
      o += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
    }
  }
  return false;
}

/** Whether the kernel's .config (when known) has KASAN: such kernels boot several times slower under TCG. */
export function hasKasan(config?: string): boolean {
  return !!config && fs.existsSync(config) && /^CONFIG_KASAN=y$/m.test(fs.readFileSync(config, 'utf8'));
}

/**
 * The path qemu should boot for this bzImage: its PVH-capable ELF (cached), or the bzImage itself.
 * `config` (the kernel's .config, when known) rules PVH out for KASAN kernels: measured with the 6.12 debug
 * profile, qemu 7.2 stops before the first console line through the PVH entry, while the bzImage boots.
 */
export function bootableKernel(bzImage: string, log?: (s: string) => void, config?: string): string {
  if (hasKasan(config)) {
    log?.('booting the bzImage as it is: a KASAN kernel does not come up through the PVH entry');
    return bzImage;
  }
  const b = fs.readFileSync(bzImage);
  const key = crypto.createHash('sha256').update(b).digest('hex').slice(0, 24);
  const out = path.join(cacheDir(), 'vmlinux', `${key}.elf`);
  const none = path.join(cacheDir(), 'vmlinux', `${key}.none`);
  if (fs.existsSync(out)) return out;
  if (fs.existsSync(none)) return bzImage;
  const give = (why: string) => {
    log?.(`booting the bzImage as it is: ${why}`);
    fs.mkdirSync(path.dirname(none), { recursive: true });
    fs.writeFileSync(none, why + '\n');
    return bzImage;
  };
  const payload = payloadOf(b);
  if (!payload) return give('no payload in the setup header');
  const kind = MAGICS.find(([, magic]) => payload.subarray(0, magic.length).equals(magic));
  if (!kind) return give(`payload compressed with something kasync does not unpack (${payload.subarray(0, 4).toString('hex')})`);
  let elf: Buffer;
  if (kind[2] === 'gzip') elf = zlib.gunzipSync(payload);
  else {
    const r = spawnSync(kind[2][0], kind[2].slice(1), { input: payload, maxBuffer: 1 << 30, timeout: 60_000 });
    // xz and zstd warn about the padding after the stream but still write the whole kernel
    if (!r.stdout?.length) return bzImage; // no tool: not cached, a later run may have it
    elf = r.stdout;
  }
  if (!hasPvhEntry(elf)) return give('the kernel has no PVH entry point (CONFIG_PVH)');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, elf);
  fs.renameSync(tmp, out);
  return out;
}
