// The Node example suite: run by tests/packaging.sh with `node --test`, in a fresh project
// where only the built tarball was installed (npm install ./httpfault-X.tgz), as a user would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { start, PlanError, JournalTimeout } from 'httpfault';

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
  assert.deepEqual(seen.map((e) => e.header('idempotency-key')), ['k1', 'k1', 'k1']);
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

test('requests({ min }) rejects with a JournalTimeout naming what arrived (issue 29)', async (t) => {
  const s = await start();
  t.after(() => s.stop());
  await fetch(`${s.url}/ok`).catch(() => {}); // the default plan resets: one entry all the same
  await assert.rejects(s.requests({ min: 5, wait: 0.2 }), (e) => {
    assert.ok(e instanceof JournalTimeout && e instanceof Error);
    assert.equal(e.message, 'only 1 of the 5 requests waited for arrived within 200ms: GET /ok (reset)');
    assert.deepEqual([e.wanted, e.entries.map((x) => x.target)], [5, ['/ok']]);
    return true;
  });
  const got = await s.requests({ min: 5, wait: '100ms', partial: true });
  assert.deepEqual(got.map((x) => x.target), ['/ok']);
});

test('entry.header() ignores the case of names; entries stay plain JSON', async (t) => {
  const s = await start({ plan: 'status=204' });
  t.after(() => s.stop());
  await fetch(s.url, { headers: { 'X-Request-Id': 'r1' } });
  const [e] = await s.requests({ min: 1, wait: '2s' });
  // fetch adds its own names in lowercase ('accept'); an exact 'Accept' lookup misses them.
  assert.equal(e.headers.find(([n]) => n === 'Accept'), undefined);
  assert.equal(e.header('Accept'), '*/*');
  assert.equal(e.header('x-request-id'), 'r1');
  assert.deepEqual(e.headerValues('X-REQUEST-ID'), ['r1']);
  assert.equal(e.header('missing'), undefined);
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(e))), Object.keys(e));
  assert.ok(!('header' in JSON.parse(JSON.stringify(e))));
});

test('npx httpfault runs the binary, at the package version', () => {
  const out = execFileSync('npx', ['--no-install', 'httpfault', '--version'], { encoding: 'utf8' });
  const { version } = createRequire(import.meta.url)('httpfault/package.json');
  assert.equal(out, `httpfault ${version}\n`);
});
