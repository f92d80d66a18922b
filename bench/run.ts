/**
 * `npm run bench -- <name>`: runs one benchmark; progress goes to stderr and the last line of stdout
 * is one JSON object with its figures.
 */
import { benchExecutor } from './executor';
import { benchFuzz } from './fuzz';
import { benchSuites } from './suites';
import { benchVm } from './vm';
import { benchCrash } from './crash';
import { benchKcov } from './kcov';

const BENCHES: Record<string, (log: (s: string) => void, args: string[]) => Promise<Record<string, number>>> = {
  executor: benchExecutor,
  vm: (log, args) => benchVm(log, args.length ? args : undefined),
  fuzz: (log, args) => benchFuzz(log, args),
  suites: (log, args) => benchSuites(log, args.length ? args : undefined),
  crash: (log, args) => benchCrash(log, args),
  kcov: (log, args) => benchKcov(log, args),
};

async function main(): Promise<number> {
  const name = process.argv[2];
  if (!name || !(name in BENCHES)) {
    process.stderr.write(`usage: npm run bench -- <name>   (${Object.keys(BENCHES).join(', ')})\n`);
    return 2;
  }
  const figures = await BENCHES[name]((s) => process.stderr.write(s + '\n'), process.argv.slice(3));
  process.stdout.write(JSON.stringify({ bench: name, ...figures }) + '\n');
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: Error) => {
    process.stderr.write(`bench: ${e.message}\n`);
    process.exitCode = 1;
  },
);
