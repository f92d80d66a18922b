#!/usr/bin/env node
'use strict';
const path = require('path');
const fs = require('fs');
const main = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write('kasync: not built: run `npm ci` (or `npm run build`) in ' + path.dirname(__dirname) + '\n');
  process.exit(2);
}
require(main)
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
    // let stdout drain, then leave even if a handle lingers
    process.stdout.write('', () => process.exit(code));
  })
  .catch((e) => {
    process.stderr.write('kasync: internal error: ' + (e && e.stack ? e.stack : String(e)) + '\n');
    process.exit(3);
  });
