// Node's testcontainers with the npm package's HttpfaultContainer (issue 29), as a user's suite
// would use them. Run by tests/containers.sh with `node --test` (engine, DOCKER_HOST, images
// and NODE_PATH set there). CommonJS: NODE_PATH resolves `testcontainers` for the package's
// lazy require. Every container is stopped (and removed) by its test's t.after.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const https = require('node:https');
const path = require('node:path');

const { HttpfaultContainer, JournalTimeout, PlanError } = require(
  path.join(__dirname, '..', '..', 'packaging', 'npm', 'index.js'),
);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A client's retry loop: retry on a broken connection (fetch: TypeError), with a pause.
async function fetchWithRetries(url, init, { tries = 4, backoffMs = 50 } = {}) {
  for (let i = 0; i < tries; i++) {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(10000) });
    } catch (e) {
      assert.equal(e.name, 'TypeError'); // "fetch failed", the cause is the socket error
      assert.equal(e.cause?.code, 'ECONNRESET');
    }
    await sleep(backoffMs);
  }
  throw new Error(`gave up after ${tries} tries`);
}

test('fetch retries a reset POST until 201; the journal via the mapped control port', async (t) => {
  const routes = ['POST /v1/orders reset*2 status=201'];
  const hf = await new HttpfaultContainer({ routes }).start();
  t.after(() => hf.stop());
  assert.match(hf.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const res = await fetchWithRetries(`${hf.url}/v1/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'Idempotency-Key': 'k1' },
    body: JSON.stringify({ item: 1 }),
  });
  assert.equal(res.status, 201);
  const seen = await hf.requests({ min: 3, wait: '5s' });
  assert.deepEqual(
    seen.map((e) => [e.method, e.target, e.step, e.end, e.status]),
    [
      ['POST', '/v1/orders', 1, 'reset', null],
      ['POST', '/v1/orders', 2, 'reset', null],
      ['POST', '/v1/orders', 3, 'complete', 201],
    ],
  );
  // fetch sends the names it adds in lowercase ('content-type'): an exact lookup of
  // 'Content-Type' finds nothing, the accessor ignores case.
  assert.equal(
    seen[0].headers.find(([n]) => n === 'Content-Type'),
    undefined,
  );
  assert.deepEqual(
    seen.map((e) => e.header('Content-Type')),
    Array(3).fill('application/json'),
  );
  assert.deepEqual(
    seen.map((e) => e.header('idempotency-key')),
    ['k1', 'k1', 'k1'],
  );
  // The rest of Server's calls, through the same port.
  await hf.setRoutes(['GET /flaky status=500 ok']);
  assert.deepEqual(await hf.routes(), ['GET /flaky status=500 ok']);
  assert.equal((await fetch(`${hf.url}/flaky`)).status, 500);
  assert.equal((await fetch(`${hf.url}/flaky`)).status, 200);
  await hf.reset();
  assert.deepEqual(await hf.requests(), []);
  await hf.setPlan('status=418');
  assert.equal(await hf.plan(), 'status=418');
  assert.equal((await fetch(hf.url)).status, 418);
  await assert.rejects(hf.requests({ min: 2, wait: '200ms' }), (e) => {
    assert.ok(e instanceof JournalTimeout);
    const want = 'only 1 of the 2 requests waited for arrived within 200ms: GET / (complete)';
    assert.equal(e.message, want);
    assert.equal(e.entries.length, 1);
    return true;
  });
});

test('tls: https with the CA from the container', async (t) => {
  const hf = await new HttpfaultContainer({ plan: 'status=201/text=secure', tls: true }).start();
  t.after(() => hf.stop());
  assert.match(hf.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const get = (options) =>
    new Promise((resolve, reject) => {
      const req = https.get(`${hf.url}/x`, { timeout: 10000, ...options }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve([res.statusCode, body]));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  assert.deepEqual(await get({ ca: hf.caPem }), [201, 'secure']);
  // Without the CA: the chain ends in httpfault's own CA, which nothing else trusts.
  await assert.rejects(get({}), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  assert.deepEqual(
    (await hf.requests({ min: 1, wait: '5s' })).map((e) => e.target),
    ['/x'],
  );
});

test('a bad plan rejects with PlanError carrying the binary reason', async () => {
  await assert.rejects(new HttpfaultContainer({ plan: 'rset' }).start(), (e) => {
    assert.ok(e instanceof PlanError);
    assert.match(e.message, /unknown step 'rset'/);
    return true;
  });
});
