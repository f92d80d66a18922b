/**
 * kasync's debug kernel (`kasync kernels build debian-src:6.12 --profile debug`) live: a memory error in the
 * kernel during a program ends that program's run with the KASAN report's title, which is what the fuzzer
 * turns into a finding. LKDTM, built into the profile, provokes the report. Needs qemu and the debug build in
 * kasync's cache (about 30 min to build); skipped with that reason otherwise. The console capture of the same
 * program is fixtures/console/debug-6.12-kasan-slab-uaf.txt.
 */
import { spawnSync } from 'child_process';
import { expect } from 'chai';
import { O, SYSCALLS } from '../src/abi';
import { arg, Program } from '../src/program/builder';
import { openat } from '../src/program/sys';
import { VmTarget } from '../src/target/vm';
import { resolveBuiltKernel } from '../src/vm/build';
import type { KernelImage } from '../src/vm/types';

const SPEC = 'debian-src:6.12/debug';
const DIRECT = '/sys/kernel/debug/provoke-crash/DIRECT';

/** A program that writes an LKDTM crash type's name to provoke-crash/DIRECT. */
function provoke(crashType: string): Program {
  const p = new Program({ deadlineMs: 20_000 });
  const f = openat(p.main, DIRECT, O.WRONLY.value);
  const text = `${crashType}\n`;
  p.main.syscall(SYSCALLS.write, [arg.fd(f.fd), arg.buf(p.cstr(text)), text.length]);
  return p;
}

describe(`the debug kernel (${SPEC}) under qemu`, function () {
  // a KASAN kernel boots in about a minute under TCG, several on a busy host (src/vm/qemu.ts bootTimeoutMs)
  this.timeout(15 * 60_000);
  let kernel: KernelImage;
  let target: VmTarget | undefined;

  before(async function () {
    if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) {
      this.test!.parent!.title += ' (skipped: qemu-system-x86_64 is not installed)';
      return this.skip();
    }
    try {
      kernel = await resolveBuiltKernel(SPEC);
    } catch {
      this.test!.parent!.title += ` (skipped: ${SPEC} is not built: kasync kernels build debian-src:6.12 --profile debug)`;
      return this.skip();
    }
    target = new VmTarget({ kernel });
  });
  after(async () => target?.close());

  it('a KASAN use-after-free during a program fails that program with the report title', async () => {
    const benign = new Program();
    const pid = benign.main.syscall(SYSCALLS.getpid, []);
    expect((await target!.run(benign)).ret(pid), 'a program before the bug runs normally').to.be.above(0);
    expect(await target!.checkKernel(), 'no report before the bug').to.deep.equal([]);
    const err = await target!.run(provoke('WRITE_AFTER_FREE')).then(
      () => undefined,
      (e: Error & { kernelReport?: string }) => e,
    );
    expect(err, 'panic_on_warn: the KASAN report ends the VM under the program').to.be.instanceOf(Error);
    expect(err!.kernelReport).to.equal('KASAN: slab-use-after-free Write in lkdtm_WRITE_AFTER_FREE');
    expect(err!.message).to.match(/^kernel crashed: KASAN: slab-use-after-free Write in lkdtm_WRITE_AFTER_FREE \(program \d+;/);
    // the next program gets a fresh VM
    const after = new Program();
    const again = after.main.syscall(SYSCALLS.getpid, []);
    expect((await target!.run(after)).ret(again), 'a fresh VM runs the next program').to.be.above(0);
  });
});
