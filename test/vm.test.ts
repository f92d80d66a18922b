/**
 * The VM target on a real Debian kernel under qemu: boot, programs, scratch, kernel reports, a
 * forced hang and a forced crash (each detected, the VM rebooted, the run going on), a kernel that
 * panics at boot, and no qemu outliving kasync. Needs qemu and busybox-static; the kernel package
 * comes from Debian (cached after the first fetch).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect } from 'chai';
import { fuzz } from '../fuzz/runner';
import { reproduce } from '../src/cli/repro';
import { O, SIG, SYSCALLS } from '../src/abi';
import { arg, Program } from '../src/program/builder';
import { openat, pread, pwrite, readSmallFile, scratchFile } from '../src/program/sys';
import { ROOT } from '../src/paths';
import { runSuites } from '../src/suite/runner';
import { LocalTarget } from '../src/target/local';
import { VmBystanderError, VmTarget } from '../src/target/vm';
import { resolveKernel } from '../src/vm/kernels';
import { buildInitramfs } from '../src/vm/initramfs';
import { liveVmCount, Vm, VmError } from '../src/vm/qemu';
import type { KernelImage } from '../src/vm/types';

const KASYNC = path.join(ROOT, 'bin', 'kasync.js');
const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

/** Children of `ppid` running qemu (setpriv execs qemu in place, so qemu is a direct child). */
function qemuChildren(ppid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(stat)!;
      if (comm.startsWith('qemu-system') && Number(rest.split(' ')[1]) === ppid) out.push(Number(d));
    } catch {
      // the process went away while we looked
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

describe('VM target (debian:6.12 under qemu)', function () {
  this.timeout(600_000);
  let kernel: KernelImage;
  let target: VmTarget;

  before(async function () {
    if (!hasQemu) this.skip(); // reason: qemu-system-x86_64 is not installed (.ci/run installs it)
    kernel = await resolveKernel('debian:6.12');
    target = new VmTarget({ kernel });
  });
  after(async () => {
    await target?.close();
    expect(liveVmCount(), 'no qemu left running after close').to.equal(0);
  });

  it('boots, probes the guest kernel and measures its slowdown', async () => {
    const caps = await target.probe();
    expect(caps.kernel, 'the probe sees the guest, not the host').to.equal(kernel.release);
    expect(caps.uring.available).to.equal(true);
    expect(target.slowdown).to.be.at.least(1);
    expect(target.bootTimes).to.have.length(1);
  });

  it('runs a write/read program in a guest scratch directory and removes it', async () => {
    const dir = await target.makeScratch();
    expect(dir, 'scratch lives in the guest').to.match(/^\/scratch\/kasync-/);
    const p = new Program();
    const b = p.buf(4096);
    p.main.fillPattern(b, 0, 4096, 7);
    const f = scratchFile(p.main, dir, 'data');
    const w = pwrite(p.main, f.fd, b, 4096, 0);
    const back = p.buf(4096);
    const r = pread(p.main, f.fd, back, 4096, 0);
    const check = p.main.verify(back, 0, 4096, 7);
    const v = await target.run(p);
    expect(Number(v.ret(w))).to.equal(4096);
    expect(Number(v.ret(r))).to.equal(4096);
    expect(v.step(check).verify?.mismatches, 'the data read back is the data written').to.equal(0);
    await target.removeScratch(dir);
    const gone = new Program();
    const o = openat(gone.main, dir, O.RDONLY.value | O.DIRECTORY.value);
    expect((await target.run(gone)).step(o.step).ret, 'the scratch dir is gone').to.equal(-2n);
  });

  it('announces every program in the kernel log, none rate-limited away', async () => {
    const vm = await target.ensureVm();
    const from = vm.consoleEnd;
    const first = Number(/ok \S+ (\d+)/.exec('ok ' + (await vm.control('hello')))![1]) + 1;
    for (let i = 0; i < 40; i++) {
      const p = new Program();
      p.main.syscall(SYSCALLS.getpid, []);
      await target.run(p);
    }
    await new Promise((r) => setTimeout(r, 500));
    const seen = new Set([...vm.since(from).matchAll(/KASYNC-RUN (\d+)/g)].map((m) => Number(m[1])));
    const missing = Array.from({ length: 40 }, (_, i) => first + i).filter((n) => !seen.has(n));
    expect(missing, 'markers missing from the console').to.deep.equal([]);
  });

  it('pins a kernel report on the program that caused it and reboots the VM', async () => {
    await target.ensureVm();
    const before = target.bootTimes.length;
    await target.checkKernel();
    const p = new Program();
    const k = openat(p.main, '/dev/kmsg', O.WRONLY.value);
    const line = p.cstr('WARNING: CPU: 0 PID: 1 at fs/aio.c:1 kasync_injected+0x1/0x2\n');
    p.main.syscall(SYSCALLS.write, [arg.fd(k.fd), arg.buf(line), 62]);
    await target.run(p);
    const found = await target.checkKernel();
    expect(found.map((f) => f.title), 'the injected warning is reported').to.deep.equal(['WARNING in kasync_injected']);
    expect(found[0].run, `attributed to a program of this boot: ${JSON.stringify(found)}`).to.be.a('number');
    const p2 = new Program();
    p2.main.syscall(SYSCALLS.getpid, []);
    await target.run(p2);
    expect(target.bootTimes.length, 'a fresh VM after a report').to.equal(before + 1);
  });

  it('names the programs in flight when a report was printed as its suspects, the last started first', async () => {
    await target.ensureVm();
    await target.checkKernel();
    const ids: number[] = [];
    const sleeper = () => {
      const p = new Program();
      p.main.sleep(1500);
      return p;
    };
    const writer = new Program();
    writer.main.sleep(300); // the sleepers' markers are all out by then
    const k = openat(writer.main, '/dev/kmsg', O.WRONLY.value);
    const line = writer.cstr('WARNING: CPU: 0 PID: 1 at fs/aio.c:1 kasync_inflight+0x1/0x2\n');
    writer.main.syscall(SYSCALLS.write, [arg.fd(k.fd), arg.buf(line), 62]);
    // started after the sleepers, ended (KASYNC-END) long before the report: a suspect after those in flight
    const quick = new Program();
    quick.main.syscall(SYSCALLS.getpid, []);
    // sent in this order: the guest starts (and marks) them in it
    await Promise.all([sleeper(), sleeper(), quick, writer].map((p, i) => target.run(p, { onStart: (id) => (ids[i] = id) })));
    const found = await target.checkKernel();
    expect(found.map((f) => f.title)).to.deep.equal(['WARNING in kasync_inflight']);
    const [s1, s2, q, w] = ids;
    expect(found[0].suspects!.slice(0, 4), `in flight, the last started first, then the ended: ${JSON.stringify(found[0])}`).to.deep.equal([w, s2, s1, q]);
  });

  it('checks that finished programs gave everything back: a process left behind is a leak, with its program as suspect', async () => {
    await target.ensureVm();
    expect(await target.checkRest(), 'nothing held after the programs so far').to.deep.equal([]);
    const before = target.bootTimes.length;
    // a child takes a session of its own and forks (a raw fork: the executor does not know the
    // grandchild, which goes on with the same steps); the grandchild escapes the kill of the runner's
    // process group and the executor's kill of its known children, and outlives the program
    const p = new Program();
    const kid = p.seq();
    kid.syscall(SYSCALLS.setsid, []);
    kid.syscall(SYSCALLS.fork, []);
    kid.sleep(60_000);
    kid.exit(0);
    p.main.fork(kid, p.pid());
    p.main.sleep(300);
    let id = -1;
    await target.run(p, { onStart: (n) => (id = n) });
    const found = await target.checkRest();
    expect(found.map((f) => f.title)).to.deep.equal(['a process outlived its program']);
    expect(found[0].suspects![0], 'the program run since the last check').to.equal(id);
    const p2 = new Program();
    p2.main.syscall(SYSCALLS.getpid, []);
    await target.run(p2);
    expect(target.bootTimes.length, 'a fresh VM after a leak').to.equal(before + 1);
    expect(await target.checkRest(), 'the fresh VM holds nothing').to.deep.equal([]);
  });

  it('kasync repro of a kernel-report finding on a VM: the report is what reproduces, not the trace', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-vmrepro-'));
    try {
      const p = new Program();
      const k = openat(p.main, '/dev/kmsg', O.WRONLY.value);
      const line = p.cstr('WARNING: CPU: 0 PID: 1 at fs/aio.c:1 kasync_repro+0x1/0x2\n');
      p.main.syscall(SYSCALLS.write, [arg.fd(k.fd), arg.buf(line), 58]);
      fs.writeFileSync(path.join(dir, 'program.kasp'), p.encode());
      fs.writeFileSync(path.join(dir, 'description'), 'kernel: WARNING in kasync_repro\nconsole report after this program\n');
      const v = await reproduce(dir, { kernel: 'debian:6.12' });
      expect(v.verdict, v.lines.join('\n')).to.equal('fails');
      expect(v.lines.join('\n')).to.match(/still fails: kernel: WARNING in kasync_repro/);
      // the same program, recorded under another report's title: it fails differently
      fs.writeFileSync(path.join(dir, 'description'), 'kernel: WARNING in something_else\n');
      const d = await reproduce(dir, { kernel: 'debian:6.12' });
      expect(d.lines.join('\n')).to.match(/fails differently: kernel: WARNING in kasync_repro/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('detects a silent hang (agent stopped with SIGSTOP), reboots, and goes on', async () => {
    const p = new Program({ deadlineMs: 500 });
    const parent = p.pid();
    p.main.syscall(SYSCALLS.getppid, [], { pid: parent });
    p.main.syscall(SYSCALLS.kill, [arg.pid(parent), SIG.STOP.value]);
    // in flight beside it: the VM's end is told once, by the program that hung; this one is a bystander
    const other = new Program({ deadlineMs: 60_000 });
    other.main.sleep(3000);
    await target.ensureVm();
    const before = target.bootTimes.length;
    const caught = (e: Error) => e;
    const [err, otherErr] = await Promise.all([target.run(p).then(() => undefined, caught), target.run(other).then(() => undefined, caught)]);
    expect(otherErr, 'the program in flight beside it is a bystander, to be run again').to.be.instanceOf(VmBystanderError);
    expect(err, 'a hang is an error, never a result').to.be.instanceOf(VmError);
    expect(err, 'the hung program is not a bystander').not.to.be.instanceOf(VmBystanderError);
    expect(err!.message).to.match(/^hang \(silent\): program \d+ gave no trace/);
    expect(err!.message, 'the console tail comes with it').to.contain('console tail:');
    const ok = new Program();
    const s = ok.main.syscall(SYSCALLS.getpid, []);
    expect((await target.run(ok)).ret(s) > 0, 'the next program runs in a fresh VM').to.equal(true);
    expect(target.bootTimes.length).to.equal(before + 1);
  });

  it('detects a kernel crash (sysrq c), reports its title, reboots, and goes on', async () => {
    const p = new Program({ deadlineMs: 5000 });
    const f = openat(p.main, '/proc/sysrq-trigger', O.WRONLY.value);
    p.main.syscall(SYSCALLS.write, [arg.fd(f.fd), arg.buf(p.cstr('c')), 1]);
    const err = await target.run(p).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err, 'a crash is an error').to.be.instanceOf(VmError);
    expect(err!.message).to.match(/^kernel crashed: .*sysrq/i);
    expect(err!.message).to.contain('console tail:');
    const ok = new Program();
    const s = ok.main.syscall(SYSCALLS.getpid, []);
    expect((await target.run(ok)).ret(s) > 0, 'the next program runs in a fresh VM').to.equal(true);
  });

  it('a suite run goes on past a hang, a crash and a kernel report, each failing only its own test', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-suites-'));
    try {
      const dist = path.join(ROOT, 'dist', 'src');
      fs.mkdirSync(path.join(root, 'vmcheck'));
      fs.writeFileSync(
        path.join(root, 'vmcheck', 'events.test.js'),
        `const { conformance } = require(${JSON.stringify(dist + '/suite/conformance')});
const { arg, Program } = require(${JSON.stringify(dist + '/program/builder')});
const { openat } = require(${JSON.stringify(dist + '/program/sys')});
const { O, SIG, SYSCALLS } = require(${JSON.stringify(dist + '/abi')});
const meta = { ops: [], rule: 'test/vm.test.ts' };
const kmsg = (text) => {
  const p = new Program();
  const k = openat(p.main, '/dev/kmsg', O.WRONLY.value);
  p.main.syscall(SYSCALLS.write, [arg.fd(k.fd), arg.buf(p.cstr(text)), text.length]);
  return p;
};
const getpid = () => { const p = new Program(); p.main.syscall(SYSCALLS.getpid, []); return p; };
conformance('vmcheck.1 hangs', meta, async ({ target }) => {
  const p = new Program({ deadlineMs: 500 });
  const parent = p.pid();
  p.main.syscall(SYSCALLS.getppid, [], { pid: parent });
  p.main.syscall(SYSCALLS.kill, [arg.pid(parent), SIG.STOP.value]);
  await target.run(p);
});
conformance('vmcheck.2 runs', meta, async ({ target }) => { await target.run(getpid()); });
conformance('vmcheck.3 crashes', meta, async ({ target }) => {
  const p = new Program();
  const f = openat(p.main, '/proc/sysrq-trigger', O.WRONLY.value);
  p.main.syscall(SYSCALLS.write, [arg.fd(f.fd), arg.buf(p.cstr('c')), 1]);
  await target.run(p);
});
conformance('vmcheck.4 passes its assertions but warns', meta, async ({ target }) => {
  await target.run(kmsg('WARNING: CPU: 1 PID: 9 at io_uring/io_uring.c:1 kasync_runner_check+0x1/0x2\\n'));
});
conformance('vmcheck.5 runs', meta, async ({ target }) => { await target.run(getpid()); });
conformance('vmcheck.6 runs on a fresh kernel', { ...meta, needs: { freshKernel: true } }, async ({ target }) => {
  await target.run(getpid());
});
`,
      );
      await target.ensureVm();
      const boots = target.bootTimes.length;
      const run = await runSuites({ target, root });
      const got = run.tests.map((t) => [t.title, t.status]);
      expect(got).to.deep.equal([
        ['vmcheck.1 hangs', 'fail'],
        ['vmcheck.2 runs', 'pass'],
        ['vmcheck.3 crashes', 'fail'],
        ['vmcheck.4 passes its assertions but warns', 'fail'],
        ['vmcheck.5 runs', 'pass'],
        ['vmcheck.6 runs on a fresh kernel', 'pass'],
      ]);
      expect(target.bootTimes.length - boots, 'reboots after the hang, the crash, the report, and for the fresh kernel').to.equal(4);
      expect(run.tests[0].reason).to.match(/^hang \(silent\)/);
      expect(run.tests[0].detail, 'the hang comes with the console tail').to.contain('console tail:');
      expect(run.tests[2].reason).to.match(/^kernel crashed: kernel panic: sysrq triggered crash/);
      expect(run.tests[2].kernelReport, 'the crash is the report, told once').to.equal('kernel panic: sysrq triggered crash');
      expect(run.tests[3].kernelReport).to.equal('WARNING in kasync_runner_check');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('puts scratch directories on the filesystem --fs asks for (ext4 on a virtio disk)', async () => {
    const ext4 = new VmTarget({ kernel, fs: 'ext4', slowdown: target.slowdown });
    try {
      const dir = await ext4.makeScratch();
      const p = new Program();
      const mounts = readSmallFile(p.main, '/proc/mounts', 4096);
      const v = await ext4.run(p);
      const text = v.step(mounts.dump).dump!.toString('utf8', 0, Number(v.ret(mounts.read)));
      expect(text, 'the scratch filesystem is the attached ext4 disk').to.match(/^\/dev\/vda \/scratch ext4 /m);
      expect(dir.startsWith('/scratch/')).to.equal(true);
      await ext4.removeScratch(dir);
    } finally {
      await ext4.close();
    }
  });

  it('fuzzes with 4 programs in flight in one VM and finds nothing (kasync fuzz --procs)', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-vmfuzz-'));
    let running = 0;
    let most = 0;
    try {
      const s = await fuzz({
        runs: 150,
        seed: 7,
        jobs: 1,
        procs: 4,
        out,
        corpus: path.join(out, 'corpus.jsonl'),
        shrinkMs: 20_000,
        makeTarget: async () => {
          const t = new VmTarget({ kernel, slowdown: target.slowdown });
          const run = t.run.bind(t);
          t.run = async (p, hooks) => {
            most = Math.max(most, ++running);
            try {
              return await run(p, hooks);
            } finally {
              running--;
            }
          };
          return t;
        },
      });
      expect(s.findings.map((f) => `${f.title}: ${f.detail}`), 'no findings on debian:6.12').to.deep.equal([]);
      expect(s.runs).to.be.at.least(150);
      expect(most, 'four programs in flight at once').to.equal(4);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('reports a kernel that panics at boot (no init) clearly', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-bootfail-'));
    try {
      const vm = new Vm({ kernel, initramfs: buildInitramfs({ modules: [] }), workDir: work, append: 'rdinit=/no/such/init' });
      const err = await vm.start().then(
        () => undefined,
        (e: Error) => e,
      );
      await vm.stop();
      expect(err).to.be.instanceOf(VmError);
      expect(err!.message).to.match(/^kernel debian:6\.12 did not boot: /);
      expect((err as VmError).consoleTail, 'the console says why').to.match(/Kernel panic|No working init/);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  for (const sig of ['SIGKILL', 'SIGINT'] as const) {
    it(`leaves no qemu behind when kasync gets ${sig} mid-boot${sig === 'SIGINT' ? ', nor its work dir' : ''}`, async () => {
      // its own TMPDIR: the work dir a SIGKILLed kasync cannot remove goes with it
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-midboot-'));
      try {
        const child = spawn(process.execPath, [KASYNC, 'probe', '--kernel', 'debian:6.12'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
        let qemus: number[] = [];
        expect(await until(() => (qemus = qemuChildren(child.pid!)).length > 0, 60_000), `qemu started; stderr: ${stderr}`).to.equal(true);
        child.kill(sig);
        const code = await exited;
        if (sig === 'SIGINT') expect(code, `exit 130; stderr: ${stderr}`).to.equal(130);
        expect(await until(() => !qemus.some(alive), 10_000), 'qemu is gone').to.equal(true);
        if (sig === 'SIGINT') expect(fs.readdirSync(tmp).filter((d) => d.startsWith('kasync-vm-')), 'its VM work dir is removed').to.deep.equal([]);
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
});

describe('a test that needs a fresh kernel, on the host', () => {
  it('skips with the reason: only a VM target can boot one', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-suites-'));
    const target = new LocalTarget();
    try {
      fs.mkdirSync(path.join(root, 'fresh'));
      fs.writeFileSync(
        path.join(root, 'fresh', 'fresh.test.js'),
        `const { conformance } = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'suite', 'conformance'))});
conformance('fresh.needs a fresh kernel', { ops: [], rule: 'test', needs: { freshKernel: true } }, async () => {});`,
      );
      const run = await runSuites({ target, root });
      expect(run.tests.map((t) => [t.status, t.reason])).to.deep.equal([['skip', 'needs a fresh kernel: only a VM target (--kernel) can boot one']]);
    } finally {
      await target.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('a VM that cannot come up', function () {
  this.timeout(300_000);
  before(function () {
    if (!hasQemu) this.skip(); // reason: qemu-system-x86_64 is not installed (.ci/run installs it)
  });
  const oneLine = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, [KASYNC, ...args], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env } });
    const lines = r.stderr.trim().split('\n').filter((l) => !/^kasync: (booting|fetching|unpacked)|trying once more/.test(l));
    expect(r.status, r.stderr).to.equal(2);
    expect(lines, r.stderr).to.have.length(1);
    return lines[0];
  };
  it('a kernel that panics at boot (bad command line): one line with the panic, exit 2', () => {
    const line = oneLine(['probe', '--kernel', 'debian:6.12', '--append', 'rdinit=/no/such/init']);
    expect(line, line).to.match(
      /^kasync: kernel debian:6\.12 did not boot: kernel panic: /,
    );
  });
  it('a missing qemu: one line naming the package, exit 2', () => {
    expect(oneLine(['probe', '--kernel', 'debian:6.12'], { KASYNC_QEMU: '/nonexistent/qemu' })).to.equal(
      'kasync: /nonexistent/qemu not found: apt-get install qemu-system-x86 (or set KASYNC_QEMU)',
    );
  });
  it('a qemu that exits at once: one line, exit 2', () => {
    expect(oneLine(['probe', '--kernel', 'debian:6.12'], { KASYNC_QEMU: '/bin/false' })).to.match(
      /^kasync: kernel debian:6\.12 did not boot: qemu exited \(status 1\)/,
    );
  });
});

describe('--kernel given a bad path', () => {
  for (const [what, make] of [
    ['a missing file', () => '/nonexistent/bzImage'],
    ['a file that is not a kernel', () => {
      const f = path.join(os.tmpdir(), `kasync-notakernel-${process.pid}`);
      fs.writeFileSync(f, 'not a kernel\n'.repeat(100));
      return f;
    }],
  ] as const) {
    it(`rejects ${what} with one line and exit 2`, () => {
      const file = make();
      const r = spawnSync(process.execPath, [KASYNC, 'probe', '--kernel', file], { encoding: 'utf8', timeout: 60_000 });
      if (file.includes('notakernel')) fs.rmSync(file, { force: true });
      expect(r.status).to.equal(2);
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
      expect(r.stderr).to.match(/^kasync: /);
    });
  }
});
