// toxiproxy-node-client's documented flows against a toxiproxy API (httpfault toxiproxy, or
// toxiproxy itself): node node_flows.js API_URL UPSTREAM_HOST:PORT (an echo server).
// Prints one "ok NAME" line per flow; exits 1 with the reason on the first failure.
"use strict";
const { Toxiproxy } = require("toxiproxy-node-client");
const net = require("net");

const [api, upstream] = process.argv.slice(2);
const toxiproxy = new Toxiproxy(api);

function fail(msg) {
  console.error("FAIL " + msg);
  process.exit(1);
}

// One round trip through HOST:PORT: resolves with { data, ms } or { error }.
function roundTrip(listen, msg, timeoutMs = 5000) {
  const [host, port] = [listen.slice(0, listen.lastIndexOf(":")), Number(listen.slice(listen.lastIndexOf(":") + 1))];
  return new Promise((resolve) => {
    const t = Date.now();
    const s = net.connect({ host: host === "[::]" ? "127.0.0.1" : host, port });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => { s.destroy(); resolve({ error: "timeout", data: got }); }, timeoutMs);
    s.on("connect", () => s.write(msg));
    s.on("data", (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= msg.length) { clearTimeout(timer); s.end(); resolve({ data: got, ms: Date.now() - t }); }
    });
    s.on("error", (e) => { clearTimeout(timer); resolve({ error: e.code, data: got }); });
    s.on("close", () => { clearTimeout(timer); resolve({ error: "closed", data: got }); });
  });
}

async function main() {
  const version = await toxiproxy.getVersion();
  if (!version.includes("version")) fail("version: " + version);
  console.log("ok version");

  const proxy = await toxiproxy.createProxy({ listen: "localhost:0", name: "node_redis", upstream });
  if (proxy.listen.endsWith(":0")) fail("create: no real port in " + proxy.listen);
  let r = await roundTrip(proxy.listen, "PING\r\n");
  if (r.error || r.data.toString() !== "PING\r\n") fail("relay: " + JSON.stringify(r));
  console.log("ok create");

  const latency = await proxy.addToxic({ type: "latency", attributes: { latency: 300, jitter: 0 } });
  if (latency.name !== "latency_downstream" || latency.toxicity !== 1 || latency.stream !== "downstream") {
    fail("latency toxic: " + JSON.stringify(latency.toJson()));
  }
  r = await roundTrip(proxy.listen, "GET k\r\n");
  if (r.error || r.ms < 300) fail("latency: " + JSON.stringify(r));
  console.log("ok latency " + r.ms);

  const updated = await latency.update({ attributes: { latency: 600, jitter: 0 }, toxicity: 1 });
  if (updated.attributes.latency !== 600) fail("update: " + JSON.stringify(updated.toJson()));
  r = await roundTrip(proxy.listen, "GET k\r\n");
  if (r.error || r.ms < 600) fail("updated latency: " + JSON.stringify(r));
  console.log("ok update " + r.ms);

  const got = await proxy.getToxic("latency_downstream");
  if (got.attributes.latency !== 600) fail("getToxic");
  await got.remove();
  r = await roundTrip(proxy.listen, "x");
  if (r.error || r.ms >= 600) fail("removed latency: " + JSON.stringify(r));
  console.log("ok remove");

  const reset = await proxy.addToxic({ type: "reset_peer", attributes: { timeout: 0 } });
  r = await roundTrip(proxy.listen, "SET k v\r\n");
  if (r.error !== "ECONNRESET" || r.data.length !== 0) fail("reset_peer: " + JSON.stringify(r));
  await reset.remove();
  console.log("ok reset_peer");

  const all = await toxiproxy.getAll();
  if (!all.node_redis || all.node_redis.upstream !== upstream) fail("getAll: " + Object.keys(all));
  const one = await toxiproxy.get("node_redis");
  if (one.listen !== proxy.listen) fail("get");
  console.log("ok list");

  const down = await proxy.update({ enabled: false, listen: proxy.listen, upstream, name: proxy.name });
  if (down.enabled !== false) fail("disable");
  r = await roundTrip(proxy.listen, "x", 2000);
  if (r.error !== "ECONNREFUSED") fail("disabled proxy: " + JSON.stringify(r));
  const up = await proxy.update({ enabled: true, listen: proxy.listen, upstream, name: proxy.name });
  r = await roundTrip(up.listen, "back");
  if (r.error || r.data.toString() !== "back") fail("enabled again: " + JSON.stringify(r));
  console.log("ok disable-enable");

  const populated = await toxiproxy.populate([
    { name: "node_a", listen: "127.0.0.1:0", upstream },
    { name: "node_b", listen: "127.0.0.1:0", upstream, enabled: false },
  ]);
  if (!populated.node_a || populated.node_b.enabled !== false) fail("populate: " + JSON.stringify(Object.keys(populated)));
  console.log("ok populate");

  await proxy.addToxic({ type: "latency", attributes: { latency: 1000 } });
  await toxiproxy.reset();
  const after = await toxiproxy.getAll();
  if (after.node_b.enabled !== true) fail("reset did not enable node_b");
  r = await roundTrip(after.node_redis.listen, "fast");
  if (r.error || r.ms >= 1000) fail("reset left a toxic: " + JSON.stringify(r));
  console.log("ok reset");

  try {
    await toxiproxy.createProxy({ listen: "localhost:0", name: "node_redis", upstream });
    fail("a second proxy of the same name was made");
  } catch (e) {
    if (!String(e.message).includes("409")) fail("duplicate: " + e.message);
  }
  console.log("ok conflict");

  for (const name of ["node_redis", "node_a", "node_b"]) await after[name].remove();
  const none = await toxiproxy.getAll();
  if (Object.keys(none).length !== 0) fail("remove: " + Object.keys(none));
  console.log("ok delete");
}

main().catch((e) => fail(e.stack || String(e)));
