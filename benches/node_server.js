// node_server.js: the Node.js comparison for the httpfault benchmarks.
//
//   node node_server.js PORT classic   (net)  head with Content-Length: 13, "Hello,", then RST (resetAndDestroy)
//   node node_server.js PORT ok        (http) healthy keep-alive 200 with "Hello, world!"
//   node node_server.js PORT delay MS  (http) like ok, answered MS ms after the request (setTimeout)
//   node node_server.js PORT hold      (net)  accept, read, never answer
//
// Prints "listening on http://127.0.0.1:PORT" (the real port; PORT may be 0) on stdout.
'use strict';
const net = require('net');
const http = require('http');

const port = Number(process.argv[2] || 0);
const mode = process.argv[3] || 'classic';
const ms = Number(process.argv[4] || 0);

const CLASSIC = Buffer.from('HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Length: 13\r\n\r\nHello,');
const BODY = Buffer.from('Hello, world!');

let server;
if (mode === 'classic') {
  server = net.createServer((sock) => {
    sock.setNoDelay(true);
    let head = '';
    sock.on('error', () => {});
    sock.on('data', (d) => {
      if (head === null) return;
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        head = null;
        sock.write(CLASSIC, () => sock.resetAndDestroy());
      }
    });
  });
} else if (mode === 'hold') {
  server = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.on('data', () => {});
    sock.on('end', () => sock.destroy());
  });
} else if (mode === 'ok' || mode === 'delay') {
  const answer = (res) => {
    res.writeHead(200, { 'Server': 'floor', 'Content-Length': BODY.length });
    res.end(BODY);
  };
  server = http.createServer(mode === 'ok' ? (req, res) => answer(res)
    : (req, res) => setTimeout(answer, ms, res));
  server.keepAliveTimeout = 60000;
  server.headersTimeout = 61000;
} else {
  console.error(`bad mode ${mode}`);
  process.exit(2);
}
server.maxConnections = 100000;
server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
