// ws_load.js: the load of `make bench-ws` (benches/ws.sh): CONNS WebSocket connections, each
// sending a 64-byte text message and waiting for its echo before the next, for SECONDS.
//
//   NODE_PATH=target/node/node_modules node benches/ws_load.js URL CONNS SECONDS
//
// Prints one line: "<echoes per second> <connections that failed>". One Node process drives
// every connection, so the numbers compare servers under the same client.
'use strict';
const WebSocket = require('ws');

const [url, conns, seconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const MSG = 'x'.repeat(64);
let echoes = 0;
let failed = 0;
let measuring = false;

function one() {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('open', () => {
      ws.send(MSG);
      resolve(ws);
    });
    ws.on('message', () => {
      if (measuring) echoes += 1;
      ws.send(MSG);
    });
    ws.on('error', () => {
      failed += 1;
      resolve(null);
    });
  });
}

async function main() {
  const all = await Promise.all(Array.from({ length: conns }, one));
  // Half a second of warm-up, then the measured window.
  await new Promise((r) => setTimeout(r, 500));
  measuring = true;
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${Math.round(echoes / secs)} ${failed}`);
  all.forEach((ws) => ws && ws.terminate());
  process.exit(0);
}

main();
