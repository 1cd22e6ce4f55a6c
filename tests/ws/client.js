// Node's ws against httpfault: runs every scenario of a JSON list at once and prints one JSON
// list of what the client saw (tests/ws.rs asserts it).
//
//   NODE_PATH=target/node/node_modules node tests/ws/client.js ws://127.0.0.1:PORT SCENARIOS
//
// A scenario: {"name", "path", "send": [text...], "until": N (close with 1000 after N
// messages, 0: wait for the server), "timeout": ms, "protocols": [...], "pings": count pings}.
// A result: {"name", "got": [...] ("bin:LEN" for binary, "len:LEN" past 64 characters),
// "code", "reason" (the close event's), "error" (the error's code, e.g. WS_ERR_INVALID_UTF8),
// "status" (a refused handshake's), "pings" (pings received), "timeout"}.
const WebSocket = require("ws");

function scenario(base, s) {
  return new Promise((resolve) => {
    const r = { name: s.name, got: [], code: null, reason: null, error: null, status: null,
      pings: 0, timeout: false };
    const ws = new WebSocket(base + s.path, s.protocols || []);
    const timer = setTimeout(() => {
      r.timeout = true;
      ws.terminate();
      resolve(r);
    }, s.timeout || 5000);
    const done = () => {
      clearTimeout(timer);
      resolve(r);
    };
    ws.on("open", () => (s.send || []).forEach((m) => ws.send(m)));
    ws.on("message", (data, binary) => {
      const t = data.toString();
      r.got.push(binary ? `bin:${data.length}` : t.length <= 64 ? t : `len:${t.length}`);
      if (s.until && r.got.length >= s.until) ws.close(1000);
    });
    ws.on("ping", () => (r.pings += 1));
    ws.on("unexpected-response", (req, res) => {
      r.status = res.statusCode;
      req.destroy();
      done();
    });
    ws.on("error", (e) => (r.error = r.error || e.code || e.message));
    ws.on("close", (code, reason) => {
      r.code = code;
      r.reason = reason.toString();
      done();
    });
  });
}

async function main() {
  const [base, scenarios] = process.argv.slice(2);
  const results = await Promise.all(JSON.parse(scenarios).map((s) => scenario(base, s)));
  console.log(JSON.stringify(results));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
