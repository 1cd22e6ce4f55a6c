#!/usr/bin/env node
'use strict';
// `npx httpfault ...`: runs the binary with these arguments, the same stdio, its exit status.
const { spawn } = require('node:child_process');
const { binaryPath } = require('../index.js');

let bin;
try {
  bin = binaryPath();
} catch (e) {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
}
const child = spawn(bin, process.argv.slice(2), { stdio: 'inherit' });
// A signal sent to this wrapper (a test runner stopping `npx httpfault`) reaches the server.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => child.kill(sig));
}
child.on('error', (e) => {
  process.stderr.write(`httpfault: cannot run ${bin}: ${e.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code);
  }
});
