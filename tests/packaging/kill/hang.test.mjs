// Not an example: tests/packaging.sh runs this file (node:test in process) and kills node in the
// middle of the test (SIGKILL, SIGTERM), then checks that the server it started is gone.
import { test } from 'node:test';
import { writeFileSync, renameSync } from 'node:fs';
import { start } from 'httpfault';

test('hang', async () => {
  const s = await start({ plan: 'hang' });
  const file = process.env.HTTPFAULT_PID_FILE;
  writeFileSync(`${file}.tmp`, `${s.pid}\n`);
  renameSync(`${file}.tmp`, file);
  await fetch(s.url); // never answered: the test is stuck here when it is killed
});
