// Not an example: a failing test that never calls stop(); tests/packaging.sh checks that node
// still ends (the server does not hold the event loop) and that the server is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { start } from 'httpfault';

test('fails without stopping its server', async () => {
  const s = await start({ plan: 'status=500' });
  writeFileSync(process.env.HTTPFAULT_PID_FILE, `${s.pid}\n`);
  assert.equal((await fetch(s.url)).status, 200);
});
