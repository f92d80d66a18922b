/**
 * `kasync` command line: probe, run, doctor. User mistakes get one line and exit 2; a failed test
 * exits 1; all passed or skipped exits 0.
 */
import * as fs from 'fs';
import { Command, CommanderError } from 'commander';
import { isReporterName, REPORTERS, reporterNames, exitCodeOf, toSpecSummary } from '../report';
import type { TestResult } from '../report/model';
import { runSuites, suiteNames } from '../suite/runner';
import type { Target } from '../target/target';
import { decodeProgram } from '../program/decode';
import { decodeTrace } from '../program/trace';
import { doctor, formatDoctor } from './doctor';
import { formatProbe, probeJson } from './probe-format';
import { kernelOptions, TargetOpts, withTarget } from './targets';
import { TargetError } from '../target/target';
import { grepOption, UsageError } from './usage';
import type { Capabilities } from '../target/caps';
import { killAllVms } from '../vm/qemu';
import { formatOpsCoverage, opsCoverage } from '../report/coverage';
import { registerKernels } from './kernels';
import { registerRepro } from './repro';
import { registerFuzz } from './fuzz';
import { registerMatrix } from './matrix';
import { registerCrash } from './crash';
import { registerCoverage } from './coverage';

export { UsageError };

function writeOut(text: string, file?: string): void {
  if (file) {
    try {
      fs.writeFileSync(file, text.endsWith('\n') ? text : text + '\n');
    } catch (e) {
      throw new UsageError(`cannot write ${file}: ${(e as Error).message}`);
    }
  } else process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

/** The line a run starts with: which kernel, where, and what its probe found. */
function runHeader(t: Target, caps: Capabilities): string {
  const uring = caps.uring.available ? `io_uring ${caps.uring.ops.filter((x) => x.supported).length} opcodes supported` : `io_uring unavailable`;
  const aio = caps.aio.available ? `AIO ${caps.aio.ops.filter((x) => x.supported).length} opcodes` : 'AIO unavailable';
  const slow = t.slowdown && t.slowdown !== 1 ? `, timeouts x${t.slowdown.toFixed(1)}` : '';
  return `kernel ${caps.kernel} (${t.name}${slow}): ${uring}, ${aio}`;
}

function progressLine(t: TestResult, done: number, total: number, tty: boolean): string {
  const mark = t.status === 'pass' ? 'ok  ' : t.status === 'fail' ? 'FAIL' : 'skip';
  const known = t.knownBug ? ` (known kernel bug: ${t.knownBug})` : '';
  const extra = t.status === 'skip' ? ` (${t.reason})` : t.status === 'fail' ? `${known} — ${t.reason}` : '';
  const line = `[${done}/${total}] ${mark} ${t.title}${extra}`;
  return tty ? `\r\x1b[K${line}${t.status === 'pass' ? '' : '\n'}` : line + '\n';
}

/** Build the program. */
export function buildCli(): Command {
  const program = new Command('kasync')
    .description('Conformance and fuzzing suite for Linux asynchronous system-call interfaces')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  kernelOptions(
    program.command('probe').description('what the kernel supports: io_uring opcodes and setup flags, AIO opcodes by trial, sysctls'),
  )
    .option('--json', 'one JSON document')
    .action(async (o: TargetOpts & { json?: boolean }) => {
      const caps = await withTarget(o, (t) => t.probe());
      writeOut(o.json ? JSON.stringify(probeJson(caps)) : formatProbe(caps));
    });

  kernelOptions(program.command('run').description('run the conformance suites against the running kernel or, with --kernel, a VM of another'))
    .option('--log-dir <dir>', 'with --kernel: keep the console logs here')
    .option('--coverage-ops', 'after the run, list the tests that exercised each supported opcode and the ones none did')
    .option('-r, --reporter <name>', `spec | ${reporterNames.filter((r) => r !== 'spec').join(' | ')}`, 'spec')
    .option('-o, --output <file>', 'write the report to a file')
    .option('-g, --grep <regexp>', 'only tests whose title matches')
    .option('-s, --suite <names>', 'only these suites, comma-separated')
    .action(async (o: TargetOpts & { reporter: string; output?: string; grep?: string; suite?: string; coverageOps?: boolean }) => {
      const reporter = o.reporter;
      if (!isReporterName(reporter)) throw new UsageError(`unknown reporter '${reporter}' (${reporterNames.join(', ')})`);
      const grep = grepOption(o.grep);
      const present = suiteNames();
      if (present.length === 0) throw new UsageError('no compiled suites under dist/suites: run npm ci (or npm run build)');
      const suites = o.suite ? o.suite.split(',').map((s) => s.trim()) : undefined;
      for (const s of suites ?? []) if (!present.includes(s)) throw new UsageError(`unknown suite '${s}' (${present.join(', ')})`);
      const code = await withTarget(o, async (target) => {
        const caps = await target.probe();
        const wantsUring = (suites ?? present).includes('uring');
        if (wantsUring && !caps.uring.available)
          throw new UsageError(`io_uring is unavailable here (${caps.uring.reason}); run --suite with the others or enable it`);
        process.stderr.write(`kasync: ${runHeader(target, caps)}\n`);
        const tty = process.stderr.isTTY === true;
        const live = o.reporter === 'spec' || o.output !== undefined;
        const run = await runSuites({
          target,
          grep,
          suites,
          onTest: live ? (t, d, n) => process.stderr.write(progressLine(t, d, n, tty)) : undefined,
        });
        if (tty && live) process.stderr.write('\r\x1b[K');
        const text = o.reporter === 'spec' ? toSpecSummary(run, process.stdout.isTTY === true) : REPORTERS[reporter](run);
        writeOut(text, o.output);
        if (o.output && o.reporter !== 'spec') process.stdout.write(toSpecSummary(run).split('\n').slice(-2).join('\n'));
        if (o.coverageOps) {
          const table = formatOpsCoverage(opsCoverage(run, caps), caps.kernel) + '\n';
          // a machine-readable report on stdout stays parseable: the table goes to stderr then
          (o.reporter === 'spec' || o.output ? process.stdout : process.stderr).write(table);
        }
        return exitCodeOf(run);
      });
      process.exitCode = code;
    });

  program
    .command('exec')
    .description('run one wire program from a file (native/WIRE.md) and print its trace as JSON')
    .argument('<file>', 'program file');
  kernelOptions(program.commands[program.commands.length - 1]).action(async (file: string, o: TargetOpts) => {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch (e) {
        throw new UsageError(`cannot read program ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      let deadline = 10_000;
      try {
        deadline = decodeProgram(bytes).deadlineMs;
      } catch (e) {
        throw new UsageError(`${file} is not a valid kasync program: ${(e as Error).message}`);
      }
      const trace = await withTarget(o, async (t) => decodeTrace(await t.runWire(bytes, deadline)));
      writeOut(JSON.stringify(trace, (_k, v) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('hex') : v)));
      if (trace.status === 'error') throw new UsageError(`program rejected by the executor: ${trace.message}`);
    });

  program
    .command('doctor')
    .description('what is present (qemu, KVM, busybox, io_uring, AIO) and what each missing piece disables')
    .option('--json', 'one JSON document')
    .action(async (o: { json?: boolean }) => {
      const d = await doctor();
      writeOut(o.json ? JSON.stringify(d) : formatDoctor(d));
    });

  registerKernels(program);
  registerRepro(program);
  registerFuzz(program);
  registerMatrix(program);
  registerCrash(program);
  registerCoverage(program);
  return program;
}

/** Entry point: returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  // Ctrl-C, a terminal hangup or a kill: no qemu may outlive us
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(sig, () => {
      killAllVms();
      process.stderr.write(`kasync: ${sig}: stopped\n`);
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  try {
    await buildCli().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UsageError || e instanceof TargetError) {
      process.stderr.write(`kasync: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
