// The Node example suite: run by tests/packaging.sh with `node --test`, in a fresh project
// where only the built tarball was installed (npm install ./httpfault-X.tgz), as a user would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { start, PlanError } from 'httpfault';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A client's retry loop: retry on 503 and on a broken connection (fetch: TypeError), with a pause.
async function fetchWithRetries(url, init, { tries = 4, backoffMs = 100 } = {}) {
  for (let i = 0; i < tries; i++) {
    try {
      const res = await fetch(url, init);
      if (res.status !== 503) return res;
      await res.arrayBuffer();
    } catch (e) {
      assert.equal(e.name, 'TypeError'); // "fetch failed", the cause is the socket error
    }
    await sleep(backoffMs);
  }
  throw new Error(`gave up after ${tries} tries`);
}

test('fetch retries a reset POST with the same Idempotency-Key until 201', async (t) => {
  const s = await start({ routes: ['POST /v1/orders reset*2 status=201'] });
  t.after(() => s.stop());
  const res = await fetchWithRetries(`${s.url}/v1/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'Idempotency-Key': 'k1' },
    body: JSON.stringify({ item: 1 }),
  });
  assert.equal(res.status, 201);
  const seen = await s.requests({ min: 3, wait: '2s' });
  assert.deepEqual(seen.map((e) => [e.method, e.target, e.step, e.end]), [
    ['POST', '/v1/orders', 1, 'reset'],
    ['POST', '/v1/orders', 2, 'reset'],
    ['POST', '/v1/orders', 3, 'complete'],
  ]);
  const key = (e) => e.headers.find(([name]) => name.toLowerCase() === 'idempotency-key')?.[1];
  assert.deepEqual(seen.map(key), ['k1', 'k1', 'k1']);
  // The journal's clock shows the client's pauses (a lower bound: timers never fire early).
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i].t - seen[i - 1].t >= 0.09);
});

test('setRoutes, setPlan, reset and metrics through the control API', async (t) => {
  const s = await start({ plan: 'status=503' });
  t.after(() => s.stop());
  assert.equal((await fetch(s.url)).status, 503);
  await s.setPlan('status=418/text=teapot');
  const res = await fetch(`${s.url}/anything`);
  assert.deepEqual([res.status, await res.text()], [418, 'teapot']);
  await s.setRoutes('GET /flaky status=500 ok\n');
  assert.deepEqual(await s.routes(), ['GET /flaky status=500 ok']);
  assert.equal((await fetch(`${s.url}/flaky`)).status, 500);
  assert.equal((await fetch(`${s.url}/flaky`)).status, 200);
  await s.reset();
  assert.deepEqual(await s.requests(), []);
  assert.equal((await fetch(`${s.url}/flaky`)).status, 500);
  const m = await s.metrics();
  assert.equal(typeof m.httpfault_connections_open, 'number');
});

test('a bad plan or route rejects with PlanError carrying the binary reason', async (t) => {
  await assert.rejects(start({ plan: 'rset' }), (e) => {
    assert.ok(e instanceof PlanError && e instanceof Error);
    assert.match(e.message, /unknown step 'rset'/);
    return true;
  });
  await assert.rejects(start({ routes: ['GET /x status=abc'] }), PlanError);
  const s = await start({ routes: ['GET /a ok'] });
  t.after(() => s.stop());
  await assert.rejects(s.setRoutes(['GET /b ok', 'GET /c rset']), /line 2/);
  assert.deepEqual(await s.routes(), ['GET /a ok']);
  await assert.rejects(s.setPlan('status=abc'), PlanError);
});

test('stop() ends the process; require() works as well as import', async () => {
  const { start: startCjs } = createRequire(import.meta.url)('httpfault');
  const s = await startCjs({ plan: 'status=204' });
  assert.equal((await fetch(s.url)).status, 204);
  await s.stop();
  assert.equal(s.running, false);
  assert.throws(() => process.kill(s.pid, 0), { code: 'ESRCH' });
});

test('npx httpfault runs the binary, at the package version', () => {
  const out = execFileSync('npx', ['--no-install', 'httpfault', '--version'], { encoding: 'utf8' });
  const { version } = createRequire(import.meta.url)('httpfault/package.json');
  assert.equal(out, `httpfault ${version}\n`);
});
