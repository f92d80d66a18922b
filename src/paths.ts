/** Where kasync's own files are, whether it runs from dist/ or as an installed package. */
import * as fs from 'fs';
import * as path from 'path';

function findRoot(): string {
  let d = __dirname;
  while (!fs.existsSync(path.join(d, 'package.json')) || !fs.existsSync(path.join(d, 'native'))) {
    const up = path.dirname(d);
    if (up === d) throw new Error(`kasync: cannot find the package root above ${__dirname}`);
    d = up;
  }
  return d;
}

/** The package root (holds package.json, native/, dist/). */
export const ROOT = findRoot();
/** The in-process executor, built by `npm ci` (node-gyp). */
export const ADDON = path.join(ROOT, 'build', 'Release', 'kasync.node');
/** The static executor binary, built by `npm ci` (make -C native). */
export const EXEC_BIN = path.join(ROOT, 'native', 'out', 'kasync-exec');
/** Compiled conformance suites. */
export const SUITES_DIST = path.join(ROOT, 'dist', 'suites');
