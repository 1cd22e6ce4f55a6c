// ws_servers.js: the Node `ws` echo server for `make bench-ws` (benches/ws.sh).
//
//   NODE_PATH=target/node/node_modules node benches/ws_servers.js
//
// Echoes every message (text or binary) back, as httpfault's WebSocket does by default, and
// prints "listening on ws://127.0.0.1:PORT" (a free port) on stdout.
'use strict';
const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${wss.address().port}`));
