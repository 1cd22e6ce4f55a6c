// @testcontainers/toxiproxy's ToxiProxyContainer started with httpfault's toxiproxy image
// (issue 29): the module's documented flow, unchanged: an upstream container on a network, a
// proxy to it created through the module, toxics added and removed with its client
// (toxiproxy-node-client), the proxy disabled and enabled, all through the mapped ports.
// Run by tests/containers.sh with `node --test` (HTTPFAULT_TOXIPROXY_IMAGE, default
// httpfault:toxiproxy). The upstream is httpfault's own image (nothing can be pulled).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const { Network } = require('testcontainers');
const { ToxiProxyContainer } = require('@testcontainers/toxiproxy');

const { HttpfaultContainer } = require(
  path.join(__dirname, '..', '..', 'packaging', 'npm', 'index.js'),
);

const IMAGE = process.env.HTTPFAULT_TOXIPROXY_IMAGE || 'httpfault:toxiproxy';
const IO_MS = 10000;

/** One HTTP/1.1 request on a raw connection: [bytes received, 'eof' | 'reset' | error code]. */
function exchange(host, port, target) {
  return new Promise((resolve) => {
    const chunks = [];
    const sock = net.connect({ host, port });
    sock.setTimeout(IO_MS, () => sock.destroy(new Error('timeout')));
    sock.on('connect', () =>
      sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    );
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => resolve([Buffer.concat(chunks), 'eof']));
    sock.on('error', (e) =>
      resolve([Buffer.concat(chunks), e.code === 'ECONNRESET' ? 'reset' : e.code || e.message]),
    );
  });
}

test("ToxiProxyContainer's flow on httpfault's toxiproxy image", async (t) => {
  const network = await new Network().start();
  t.after(() => network.stop());
  const upstream = await new HttpfaultContainer({ plan: 'body=64k', log: null })
    .withNetwork(network)
    .withNetworkAliases('upstream')
    .start();
  t.after(() => upstream.stop());
  const toxiproxy = await new ToxiProxyContainer(IMAGE).withNetwork(network).start();
  t.after(() => toxiproxy.stop());

  // The module's createProxy: a free port of 8666-8697 in the container, its mapped one here.
  // The upstream by its address on the network (podman's default CNI network has no DNS).
  const upstreamAddr = `${upstream.getIpAddress(network.getName())}:9000`;
  const proxy = await toxiproxy.createProxy({ name: 'upstream', upstream: upstreamAddr });
  assert.match(proxy.instance.listen, /:8666$/); // toxiproxy itself answers '[::]:8666'
  const [full, fullEnd] = await exchange(proxy.host, proxy.port, '/');
  const head = 'HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: 65536\r\n';
  assert.equal(full.subarray(0, head.length).toString(), head);
  assert.equal(full.length, full.indexOf('\r\n\r\n') + 4 + 65536);
  assert.equal(fullEnd, 'eof');

  // limit_data: exactly the first N bytes downstream, then the connection closes.
  const limit = await proxy.instance.addToxic({
    name: 'limit',
    type: 'limit_data',
    stream: 'downstream',
    toxicity: 1,
    attributes: { bytes: 1000 },
  });
  const [cut, cutEnd] = await exchange(proxy.host, proxy.port, '/');
  assert.equal(cut.length, 1000);
  assert.ok(cut.equals(full.subarray(0, 1000)));
  assert.equal(cutEnd, 'eof');
  await limit.remove();
  assert.ok((await exchange(proxy.host, proxy.port, '/'))[0].equals(full));

  // latency: every chunk downstream waits 300 ms (a lower bound: timers never fire early).
  const latency = await proxy.instance.addToxic({
    name: 'slow',
    type: 'latency',
    stream: 'downstream',
    toxicity: 1,
    attributes: { latency: 300, jitter: 0 },
  });
  const t0 = Date.now();
  const [slow] = await exchange(proxy.host, proxy.port, '/');
  assert.ok(Date.now() - t0 >= 300, `${Date.now() - t0} ms`);
  assert.ok(slow.equals(full));
  await latency.remove();

  // Disabled: connections are refused (nothing listens on the proxy's port in the container);
  // enabled again: the same bytes as before.
  await proxy.setEnabled(false);
  const [none, noneEnd] = await exchange(proxy.host, proxy.port, '/');
  assert.equal(none.length, 0);
  assert.ok(['ECONNREFUSED', 'reset', 'eof'].includes(noneEnd), noneEnd);
  await proxy.setEnabled(true);
  assert.ok((await exchange(proxy.host, proxy.port, '/'))[0].equals(full));
});
