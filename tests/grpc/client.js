// gRPC streaming calls with @grpc/grpc-js for tests/grpc_streams.rs, no code generation (raw
// bytes in and out): the same calls and output as tests/grpc/client.py (see there).
// Usage: node client.js ADDR CALL...; one JSON line per call.
'use strict';
const grpc = require('@grpc/grpc-js');

const REQUEST = Buffer.from('0a05776f726c64', 'hex');
const id = (b) => b;
const names = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));
const message = (i, size = 0) => Buffer.from(`m${i}`.padEnd(size, '.'));

function options(call) {
  if (!call.retry) return {};
  const config = {
    methodConfig: [{ name: [{ service: call.method.split('/')[1] }], retryPolicy: call.retry }],
  };
  return { 'grpc.service_config': JSON.stringify(config), 'grpc.enable_retries': 1 };
}

function run(addr, call) {
  return new Promise((resolve) => {
    const client = new grpc.Client(addr, grpc.credentials.createInsecure(), options(call));
    const t0 = process.hrtime.bigint();
    const now = () => Number(process.hrtime.bigint() - t0) / 1e9;
    const deadline = call.deadline ?? 10;
    const out = { code: 'OK', details: null, messages: [], times: [], answered_after: null };
    let sent = 0;
    let wake = null;
    const came = () => {
      if (out.answered_after === null) out.answered_after = sent;
      if (wake) { const w = wake; wake = null; w(); }
    };
    const got = (m) => { came(); out.messages.push(m.toString('hex')); out.times.push(now()); };
    let done = false;
    const finish = (st) => {
      if (done) return;
      done = true;
      came();
      if (st.code !== grpc.status.OK) { out.code = names[st.code]; out.details = st.details; }
      out.elapsed = now();
      client.close();
      resolve(out);
    };
    const opts = { deadline: Date.now() + deadline * 1000 };
    // The client's messages, waiting between them as `expect` says (see client.py).
    const writeAll = async (stream) => {
      const hold = call.hold ?? 0.5;
      for (let i = 1; i <= (call.send ?? 1) && !done; i++) {
        sent = i;
        stream.write(message(i, call.size));
        if (call.expect !== undefined && out.answered_after === null) {
          const wait = i < call.expect ? hold : Math.max(0, deadline - now());
          await new Promise((r) => { wake = r; setTimeout(r, wait * 1000); });
          wake = null;
        }
      }
      if (!done) stream.end();
    };
    if (call.kind === 'unary') {
      const c = client.makeUnaryRequest(call.method, id, id, REQUEST, opts, (err, reply) => {
        if (!err) got(reply);
      });
      c.on('status', finish);
    } else if (call.kind === 'server') {
      const c = client.makeServerStreamRequest(call.method, id, id, REQUEST, opts);
      c.on('data', got);
      c.on('error', () => {});
      c.on('status', finish);
    } else if (call.kind === 'client') {
      const c = client.makeClientStreamRequest(call.method, id, id, opts, (err, reply) => {
        if (!err) got(reply);
      });
      c.on('status', finish);
      writeAll(c);
    } else if (call.kind === 'bidi') {
      const c = client.makeBidiStreamRequest(call.method, id, id, opts);
      c.on('data', got);
      c.on('error', () => {});
      c.on('status', finish);
      writeAll(c);
    } else {
      throw new Error(`unknown kind ${call.kind}`);
    }
  });
}

(async () => {
  const [addr, ...calls] = process.argv.slice(2);
  for (const text of calls) {
    console.log(JSON.stringify(await run(addr, JSON.parse(text))));
  }
})();
