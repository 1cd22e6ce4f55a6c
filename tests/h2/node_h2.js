// Node's built-in http2 client, for tests/h2.rs: opens ONE session to the server and sends
// every path given on the command line as a concurrent stream on it, then prints one JSON line:
// {"streams": [{"path", "status", "bytes", "rst", "error", "order"}...], "goaway": code|null,
//  "ping": "answered"|"unanswered"|null}
// Usage: node node_h2.js URL [--ping] PATH...
'use strict';
const http2 = require('http2');
const [url, ...rest] = process.argv.slice(2);
const ping = rest[0] === '--ping';
const paths = ping ? rest.slice(1) : rest;
const result = { streams: [], goaway: null, ping: null };
const session = http2.connect(url);
session.on('error', () => {});
session.on('goaway', (code) => { result.goaway = code; });
let left = paths.length + (ping ? 1 : 0);
let closed = 0;
const done = () => {
  if (--left === 0) {
    console.log(JSON.stringify(result));
    session.destroy();
    process.exit(0);
  }
};
// Whatever happens, say what was seen after 8 s.
setTimeout(() => { left = 1; done(); }, 8000).unref();
paths.forEach((path, i) => {
  const s = { path, status: null, bytes: 0, rst: null, error: null, order: null };
  result.streams[i] = s;
  const req = session.request({ ':path': path });
  req.on('response', (h) => { s.status = h[':status']; });
  req.on('data', (d) => { s.bytes += d.length; });
  req.on('error', (e) => { s.error = e.code || String(e); });
  req.on('close', () => {
    s.rst = req.rstCode;
    s.order = ++closed; // the order in which streams ended
    // --ping: the PING goes out once the first stream is over, so its plan is in force.
    if (ping && i === 0) sendPing();
    done();
  });
  req.end();
});
function sendPing() {
  const t = setTimeout(() => { result.ping = 'unanswered'; done(); }, 3000);
  session.ping((err) => {
    if (!err) { clearTimeout(t); result.ping = 'answered'; done(); }
  });
}
