'use strict';
// Start the httpfault binary from a test and drive it through its control API.
//
//   const { start } = require('httpfault');          // or: import { start } from 'httpfault'
//   const s = await start({ plan: 'reset=6', routes: ['POST /v1/orders reset*2 status=201'] });
//   s.url; await s.requests({ min: 3, wait: '2s' }); await s.stop();
//
// Node's standard library only (child_process, fetch). The server is a child process on
// 127.0.0.1 and a free port, in its own process group, and never outlives this process: stop()
// ends it, an 'exit' handler kills what is left, and if this process dies without running it
// (SIGKILL, a fatal signal) the binary goes by itself: it runs with --exit-on-stdin-eof and its
// stdin is a pipe only this process holds, which the kernel closes when the process dies.
// Under `node --test`, the servers also go when the runner process dies (see installHooks).
// A started server does not keep the event loop alive: a test file that forgets stop() ends.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { Control, PlanError, JournalTimeout } = require('./control');
const { HttpfaultContainer } = require('./container');

const READY = 'listening on ';
const ERROR = 'httpfault: error: ';

/** Where the binary is: $HTTPFAULT_BIN, a platform package, or the one in this package. */
function binaryPath() {
  if (process.env.HTTPFAULT_BIN) return process.env.HTTPFAULT_BIN;
  const platform = `${process.platform}-${process.arch}`;
  const exe = process.platform === 'win32' ? 'httpfault.exe' : 'httpfault';
  // An optional per-platform package (esbuild's layout), should one be published later.
  try {
    return require.resolve(`@httpfault/${platform}/${exe}`);
  } catch (_) {
    /* not installed: the bundled binary */
  }
  const bundled = path.join(__dirname, 'vendor', platform, exe);
  if (fs.existsSync(bundled)) return bundled;
  throw new Error(
    `httpfault: no binary for ${platform} in this package (built: linux-x64); set HTTPFAULT_BIN`,
  );
}

const live = new Set();

function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch (_) {
      /* already gone */
    }
  }
}

let hooksInstalled = false;
function installHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers run synchronously: a signal is all that can be sent.
  process.on('exit', killAll);
  // Under `node --test` each test file runs in a child of the runner. If the runner dies (even
  // by SIGKILL), Node leaves that child running, and a test stuck on the server would keep
  // both alive: when the runner is gone (this process was reparented), the servers go.
  if (process.env.NODE_TEST_CONTEXT) {
    const runner = process.ppid;
    setInterval(() => {
      if (process.ppid !== runner) killAll();
    }, 500).unref();
  }
}

class Server extends Control {
  constructor(child, url, logLines) {
    super();
    this.url = url;
    this.pid = child.pid;
    this.logLines = logLines;
    this._child = child;
    this._exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  }

  get running() {
    return this._child.exitCode === null && this._child.signalCode === null;
  }

  _controlUrl() {
    if (!this.running) throw new Error('httpfault: the server is not running');
    return this.url;
  }

  /** SIGTERM, SIGKILL after `timeoutMs`; resolves once the process is gone. */
  async stop({ timeoutMs = 5000 } = {}) {
    const child = this._child;
    if (this.running) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await this._exited;
      clearTimeout(timer);
    }
    live.delete(child);
    child.stdin.destroy();
  }
}

/**
 * Starts httpfault on 127.0.0.1 and a free port; resolves once it listens.
 * Rejects with a PlanError (the binary's one-line reason) for a bad plan, route or option.
 */
function start(options = {}) {
  const {
    plan,
    routes = [],
    seed,
    journal,
    log,
    args = [],
    binary,
    startTimeoutMs = 10000,
  } = options;
  const argv = ['-l', '127.0.0.1:0', '--exit-on-stdin-eof'];
  argv.push(...(log ? ['--log', log] : ['-q']));
  if (seed !== undefined) argv.push('--seed', String(seed));
  if (journal !== undefined) argv.push('--journal', String(journal));
  // A routes file's text: blank lines and # comments are not routes.
  const list =
    typeof routes === 'string'
      ? routes.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'))
      : routes;
  for (const r of list) argv.push('--route', r);
  argv.push(...args);
  if (plan !== undefined && plan !== null) argv.push(plan);

  return new Promise((resolve, reject) => {
    let bin;
    try {
      bin = binary || binaryPath();
    } catch (e) {
      reject(e);
      return;
    }
    installHooks();
    const child = spawn(bin, argv, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    live.add(child);
    const logLines = [];
    let errTail = '';
    let out = '';
    let settled = false;
    const finish = (err, server) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        live.delete(child);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(err);
      } else {
        // A running server must not keep the test process alive.
        child.unref();
        for (const s of [child.stdin, child.stdout, child.stderr]) s.unref();
        resolve(server);
      }
    };
    const timer = setTimeout(
      () => finish(new Error(`httpfault: no readiness line within ${startTimeoutMs} ms`)),
      startTimeoutMs,
    );
    // stderr is always drained, so a chatty server never blocks on a full pipe.
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      errTail += chunk;
      const lines = errTail.split('\n');
      errTail = lines.pop();
      for (const l of lines) {
        logLines.push(l);
        if (logLines.length > 1000) logLines.shift();
      }
    });
    child.stdout.setEncoding('utf8');
    const onData = (chunk) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      child.stdout.off('data', onData);
      child.stdout.resume();
      const line = out.slice(0, nl);
      if (!line.startsWith(READY)) {
        finish(new Error(`httpfault: unexpected first line on stdout: ${JSON.stringify(line)}`));
        return;
      }
      finish(null, new Server(child, line.slice(READY.length).trim(), logLines));
    };
    child.stdout.on('data', onData);
    child.stdin.on('error', () => {}); // EPIPE once the server is gone
    child.on('error', (e) => finish(e));
    child.on('exit', (code) => {
      live.delete(child);
      if (settled) return;
      // Wait for stderr's last bytes, then report the binary's one-line reason.
      const report = () => {
        if (errTail) logLines.push(errTail);
        const reasonLine = [...logLines].reverse().find((l) => l.startsWith(ERROR));
        const reason = reasonLine ? reasonLine.slice(ERROR.length) : null;
        if (code === 2) finish(new PlanError(reason || 'bad option, plan or route'));
        else finish(new Error(reason || `httpfault exited with ${code} before listening`));
      };
      if (child.stderr.readableEnded) report();
      else child.stderr.once('close', report);
    });
  });
}

exports.start = start;
exports.PlanError = PlanError;
exports.JournalTimeout = JournalTimeout;
exports.binaryPath = binaryPath;
exports.HttpfaultContainer = HttpfaultContainer;
