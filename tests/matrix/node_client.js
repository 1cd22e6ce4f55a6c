#!/usr/bin/env node
// Matrix helper: Node's built-in fetch (undici) and http module, driven by tasks on stdin.
//
//     node node_client.js fetch|http
//
// One task per line on stdin, tab-separated (the protocol of every helper, see matrix.py):
//
//     ID  HOST:PORT  TIMEOUT_MS  METHOD  UPLOAD_BYTES  MODE  SLEEP_MS  PATH [PATH...]
//
// MODE: `one` (one request), `same` (the requests through one keep-alive pool of one
// connection, SLEEP_MS apart; a later request that went out on a new connection, not the kept
// one, is marked `(new connection)`), `new` (each request with a new pool). For each task one JSON line
// on stdout: {"id": ID, "out": [outcome per request]}.
//
// Outcomes:
//   fetch  `ok STATUS N bytes`, or the cause's code (or name) and the error's message:
//          `ECONNRESET (fetch failed)` = fetch() rejected, `... (terminated)` = the body read
//          failed; `TimeoutError` = AbortSignal.timeout(TIMEOUT_MS) fired (a total timeout).
//   http   `ok STATUS N bytes`, or the error's code and message (`ECONNRESET (socket hang up)`);
//          `timeout event` = the request's `timeout` option fired (an idle timeout: Node only
//          emits 'timeout', the caller has to destroy the request).
'use strict';

const dc = require('node:diagnostics_channel');
const http = require('node:http');
const readline = require('node:readline');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function describe(code, message) {
  if (!code) return message || 'unknown error';
  if (String(code).startsWith('HPE_')) return code;
  if (!message || message === code) return code;
  if (message.includes(code)) return message; // e.g. "read ECONNRESET", "write EPIPE"
  return `${code} (${message})`;
}

// ---- fetch ----------------------------------------------------------------------------------

// Node does not export undici's Agent, but the global dispatcher is one: its constructor gives
// a fresh connection pool per task, so no connection leaks from one task into the next.
let Agent = null;
async function fetchAgentClass(base) {
  if (Agent) return Agent;
  const sym = Symbol.for('undici.globalDispatcher.1');
  if (!globalThis[sym]) {
    try {
      await (await fetch(`${base}/status=200`, { signal: AbortSignal.timeout(5000) })).arrayBuffer();
    } catch (e) {
      // ignore: we only want the dispatcher to exist
    }
  }
  Agent = globalThis[sym] && globalThis[sym].constructor;
  return Agent;
}

async function fetchOne(url, task, dispatcher) {
  const init = { method: task.method, signal: AbortSignal.timeout(task.timeout), dispatcher };
  if (task.upload > 0) init.body = Buffer.alloc(task.upload, 'x');
  try {
    const res = await fetch(url, init);
    const body = await res.arrayBuffer();
    return { ok: true, text: `ok ${res.status} ${body.byteLength} bytes` };
  } catch (e) {
    if (e && e.name === 'TimeoutError') return { ok: false, text: 'TimeoutError' };
    const c = e && e.cause;
    if (c) return { ok: false, text: `${c.code || c.name} (${e.message})` };
    return { ok: false, text: describe(e && e.code, e && (e.name || e.message)) };
  }
}

// undici announces every new connection: that tells whether a request went on a new one.
let fetchConnects = 0;
dc.channel('undici:client:connected').subscribe(() => { fetchConnects += 1; });

async function runFetch(task) {
  const base = `http://${task.addr}`;
  const A = await fetchAgentClass(base);
  const newPool = () => (A ? new A({ connections: 1 }) : undefined);
  const out = [];
  let pool = newPool();
  for (let i = 0; i < task.paths.length; i++) {
    if (i > 0) {
      await sleep(task.sleep);
      if (task.mode !== 'same') {
        if (pool) await pool.destroy().catch(() => {});
        pool = newPool();
      }
    }
    const before = fetchConnects;
    const r = await fetchOne(base + task.paths[i], task, pool);
    out.push(r.ok && i > 0 && task.mode === 'same' && fetchConnects > before ? `${r.text} (new connection)` : r.text);
    if (!r.ok && task.mode === 'same') break;
  }
  if (pool) await pool.destroy().catch(() => {});
  return out;
}

// ---- http -----------------------------------------------------------------------------------

function httpOne(task, i, agent) {
  const path = task.paths[i];
  const [host, port] = [task.addr.slice(0, task.addr.lastIndexOf(':')), task.addr.slice(task.addr.lastIndexOf(':') + 1)];
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok, text) => {
      if (done) return;
      done = true;
      resolve({ ok, text });
      if (!ok) req.destroy();
    };
    const headers = {};
    const body = task.upload > 0 ? Buffer.alloc(task.upload, 'x') : null;
    if (body) headers['content-length'] = body.length;
    const req = http.request({ host, port: Number(port), path, method: task.method, agent, headers, timeout: task.timeout }, (res) => {
      let n = 0;
      res.on('data', (d) => { n += d.length; });
      const fresh = task.mode === 'same' && i > 0 && !req.reusedSocket ? ' (new connection)' : '';
      res.on('end', () => finish(true, `ok ${res.statusCode} ${n} bytes${fresh}`));
      res.on('error', (e) => finish(false, describe(e.code, e.message)));
      // 'aborted' comes first but is deprecated; the 'error' that follows is what stream code
      // (pipeline, for await) meets. 'close' without either is reported as such.
      res.on('close', () => { if (!res.complete) setImmediate(() => finish(false, 'closed early (no error)')); });
    });
    req.on('timeout', () => finish(false, 'timeout event'));
    req.on('error', (e) => finish(false, describe(e.code, e.message)));
    if (body) req.end(body); else req.end();
  });
}

async function runHttp(task) {
  const newAgent = () => new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out = [];
  let agent = newAgent();
  for (let i = 0; i < task.paths.length; i++) {
    if (i > 0) {
      await sleep(task.sleep);
      if (task.mode !== 'same') {
        agent.destroy();
        agent = newAgent();
      }
    }
    const r = await httpOne(task, i, agent);
    out.push(r.text);
    if (!r.ok && task.mode === 'same') break;
  }
  agent.destroy();
  return out;
}

// ---- main -----------------------------------------------------------------------------------

const RUNNERS = { fetch: runFetch, http: runHttp };

async function main() {
  const run = RUNNERS[process.argv[2]];
  if (!run) {
    process.stderr.write(`usage: node node_client.js ${Object.keys(RUNNERS).join('|')}\n`);
    process.exit(2);
  }
  // A late error on a socket whose task is already over must not end the helper.
  process.on('uncaughtException', (e) => process.stderr.write(`late error: ${e && e.message}\n`));
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const f = line.split('\t');
    const task = {
      id: f[0], addr: f[1], timeout: Number(f[2]), method: f[3], upload: Number(f[4]),
      mode: f[5], sleep: Number(f[6]), paths: f.slice(7),
    };
    let out;
    try {
      out = await run(task);
    } catch (e) {
      out = [`helper error: ${e && e.message}`];
    }
    process.stdout.write(JSON.stringify({ id: task.id, out }) + '\n');
  }
  // Abandoned sockets (a connect into --blackhole keeps going after the abort) would keep the
  // process alive; everything is answered, so leave now (stdout to a pipe is synchronous).
  process.exit(0);
}

main();
