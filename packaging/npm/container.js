'use strict';
// httpfault in a container, for Node's Testcontainers (npm install --save-dev testcontainers).
//
//   const { HttpfaultContainer } = require('httpfault');
//   const routes = ['POST /v1/orders reset*2 status=201'];
//   const hf = await new HttpfaultContainer({ routes }).start();
//   hf.url;                                   // 'http://127.0.0.1:MAPPED' (the listener, 9000)
//   await hf.requests({ min: 3, wait: '2s' }); // the journal, through the mapped port of 9001
//   await hf.stop();
//
// The same calls as start()'s Server, on the image `make image` builds (httpfault:latest;
// another with `image` or $HTTPFAULT_IMAGE). `testcontainers` is required only when a
// container is made: the package itself depends on nothing. HttpfaultContainer is a
// GenericContainer, so withNetwork(), withNetworkAliases() and the rest work before start().
//
// The image is FROM scratch: no shell for the exec-based port check Testcontainers does by
// default, so start() waits for the binary's readiness line in the container's log, and rejects
// with the binary's own one-line reason (a PlanError for exit 2) if it exits first.

const { Control, PlanError } = require('./control');

const PORT = 9000;
const CONTROL_PORT = 9001;
const READY = 'listening on ';
const ERROR = 'httpfault: error: ';
const PEM = /-----BEGIN CERTIFICATE-----\n[\s\S]*?-----END CERTIFICATE-----\n/;

/** $HTTPFAULT_IMAGE, else httpfault:latest (what `make image` tags). */
function defaultImage() {
  return process.env.HTTPFAULT_IMAGE || 'httpfault:latest';
}

/** The container's stdout and stderr so far (the engine's multiplexed log format, split). */
async function readLogs(container) {
  const raw = await container.logs({ follow: false, stdout: true, stderr: true });
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw));
  const out = [];
  const err = [];
  // 8-byte frame headers: stream (1 stdout, 2 stderr), 3 zero bytes, payload length (BE).
  for (let at = 0; at + 8 <= buf.length;) {
    const size = buf.readUInt32BE(at + 4);
    const payload = buf.subarray(at + 8, at + 8 + size);
    (buf[at] === 2 ? err : out).push(payload);
    at += 8 + size;
  }
  const text = (parts) => Buffer.concat(parts).toString('utf8');
  return { stdout: text(out), stderr: text(err) };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A Testcontainers wait strategy: the readiness line on stdout, polled from the log (no exec,
 * no shell). If the container exits first, the binary's reason: a PlanError for exit 2.
 */
class ReadinessLine {
  constructor() {
    this.startupTimeoutMs = 30000;
    this.timeoutSet = false;
    this.stdout = '';
  }

  withStartupTimeout(ms) {
    this.startupTimeoutMs = ms;
    this.timeoutSet = true;
    return this;
  }

  isStartupTimeoutSet() {
    return this.timeoutSet;
  }

  getStartupTimeout() {
    return this.startupTimeoutMs;
  }

  async waitUntilReady(container) {
    const deadline = Date.now() + this.startupTimeoutMs;
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const { stdout, stderr } = await readLogs(container);
      const at = stdout.indexOf(READY);
      if (at >= 0 && stdout.indexOf('\n', at) >= 0) {
        this.stdout = stdout;
        return;
      }
      const { State } = await container.inspect();
      if (!State.Running && State.Status !== 'created') {
        const reasonLine = stderr
          .split('\n')
          .reverse()
          .find((l) => l.startsWith(ERROR));
        const reason = reasonLine ? reasonLine.slice(ERROR.length) : null;
        if (State.ExitCode === 2) throw new PlanError(reason || 'bad option, plan or route');
        const tail = stderr.slice(-500);
        throw new Error(
          reason || `httpfault exited with ${State.ExitCode} before listening: ${tail}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(`httpfault: no readiness line within ${this.startupTimeoutMs} ms`);
      }
      await sleep(pause);
    }
  }
}

let ContainerClass;

// The class extends testcontainers' GenericContainer, so it is made on first use: requiring
// this package must not require testcontainers.
function containerClass() {
  if (ContainerClass) return ContainerClass;
  let tc;
  try {
    tc = require('testcontainers');
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND') {
      throw new Error(
        "httpfault: HttpfaultContainer needs the 'testcontainers' package " +
          '(npm install --save-dev testcontainers)',
      );
    }
    throw e;
  }

  class StartedHttpfaultContainer extends tc.AbstractStartedContainer {
    constructor(started, scheme, stdout, tls) {
      super(started);
      const host = this.getHost();
      this.url = `${scheme}://${host}:${this.getMappedPort(PORT)}`;
      this.controlUrl = `http://${host}:${this.getMappedPort(CONTROL_PORT)}`;
      this.caPem = undefined;
      if (tls) {
        const pem = PEM.exec(stdout);
        if (!pem) throw new Error("httpfault: no CA certificate in the container's output");
        this.caPem = pem[0];
      }
    }

    _controlUrl() {
      return this.controlUrl;
    }
  }
  // The control API's calls (requests, setRoutes, setPlan, reset, metrics, ...), as Server has.
  for (const name of Object.getOwnPropertyNames(Control.prototype)) {
    if (name === 'constructor') continue;
    Object.defineProperty(
      StartedHttpfaultContainer.prototype,
      name,
      Object.getOwnPropertyDescriptor(Control.prototype, name),
    );
  }

  class Impl extends tc.GenericContainer {
    constructor(options = {}) {
      const {
        plan,
        routes = [],
        image,
        tls = false,
        seed,
        journal,
        log = 'text',
        args = [],
        startTimeoutMs = 30000,
      } = options;
      super(image || defaultImage());
      const argv = ['--listen', `0.0.0.0:${PORT}`, '--control', `0.0.0.0:${CONTROL_PORT}`];
      argv.push(...(log ? ['--log', log] : ['-q']));
      // The CA goes to stdout before the readiness line: nothing to copy out of the container.
      if (tls) argv.push('--tls', '--cert-out', '/dev/stdout');
      if (seed !== undefined) argv.push('--seed', String(seed));
      if (journal !== undefined) argv.push('--journal', String(journal));
      const list =
        typeof routes === 'string'
          ? routes.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'))
          : routes;
      for (const r of list) argv.push('--route', r);
      argv.push(...args);
      if (plan !== undefined && plan !== null) argv.push(plan);
      this.httpfaultArgs = argv;
      this.tls = tls;
      this.readiness = new ReadinessLine();
      this.withCommand(argv)
        .withExposedPorts(PORT, CONTROL_PORT)
        .withWaitStrategy(this.readiness)
        .withStartupTimeout(startTimeoutMs);
    }

    async start() {
      const started = await super.start();
      const stdout = this.readiness.stdout;
      const line = stdout.slice(stdout.indexOf(READY) + READY.length);
      const scheme = line.slice(0, line.indexOf('://'));
      try {
        return new StartedHttpfaultContainer(started, scheme, stdout, this.tls);
      } catch (e) {
        await started.stop();
        throw e;
      }
    }
  }
  ContainerClass = Impl;
  return Impl;
}

/**
 * `new HttpfaultContainer({ plan, routes, tls, image, seed, journal, log, args,
 * startTimeoutMs })`: a GenericContainer of the httpfault image; `await start()` resolves to a
 * started container with `url`, `controlUrl`, `caPem` (with `tls`) and the calls of start()'s
 * Server (requests, setRoutes, routes, setPlan, plan, reset, metrics, clearRequests), and
 * Testcontainers' own (stop, getHost, getMappedPort, logs, ...).
 */
function HttpfaultContainer(options) {
  if (!new.target) throw new TypeError("HttpfaultContainer must be called with 'new'");
  const Impl = containerClass();
  return new Impl(options);
}

module.exports = { HttpfaultContainer, defaultImage };
