// A WebSocket client for `httpfault probe --protocol ws`, on Node's `ws` package: connects to
// URL (http:// becomes ws://, https:// wss:// trusting $HTTPFAULT_CA), sends `hello`, prints
// each message on a line, and ends when the connection closes: exit 0 on a close frame with
// 1000, 1 otherwise (the code or the error on stderr). `ws` has no ping, idle or closing
// timeout of its own unless told: --timeout MS ends the connection (terminate) after MS ms
// without a message.
//
//   NODE_PATH=target/node/node_modules node ws_client.js URL [--timeout MS]
const WebSocket = require('ws');
const fs = require('fs');

const args = process.argv.slice(2);
const url = args[0].replace(/^http/, 'ws');
const t = args.indexOf('--timeout');
const idle = t >= 0 ? Number(args[t + 1]) : 0;
const ca = process.env.HTTPFAULT_CA;
const ws = new WebSocket(url, url.startsWith('wss:') && ca ? { ca: fs.readFileSync(ca) } : {});
let timer = null;
const arm = () => {
  if (!idle) return;
  clearTimeout(timer);
  timer = setTimeout(() => {
    process.stderr.write(`no message for ${idle} ms\n`);
    ws.terminate();
  }, idle);
};
ws.on('open', () => { ws.send('hello'); arm(); });
ws.on('message', (data, binary) => {
  arm();
  process.stdout.write((binary ? data.toString('hex') : data.toString()) + '\n');
});
ws.on('unexpected-response', (req, res) => {
  process.stderr.write(`unexpected response ${res.statusCode}\n`);
  process.exitCode = 1;
  ws.terminate();
});
ws.on('error', (e) => { process.stderr.write(`error ${e.code || e.message}\n`); process.exitCode = 1; });
ws.on('close', (code) => {
  clearTimeout(timer);
  if (code !== 1000) {
    process.stderr.write(`closed with ${code}\n`);
    process.exitCode = 1;
  }
});
