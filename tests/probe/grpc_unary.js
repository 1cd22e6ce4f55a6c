// One unary gRPC call with @grpc/grpc-js, for `httpfault probe --protocol grpc`: the method
// /probe.Echo/Say on URL (http://HOST:PORT, the scheme dropped), raw bytes in and out, the
// reply printed as hex on a line. The same options as tests/probe/grpc_unary.py:
//
//   NODE_PATH=target/node/node_modules node grpc_unary.js URL [--deadline S] [--retry]
//
// A failed call: `grpc error CODE: DETAILS` on stderr, exit 1.
'use strict';
const grpc = require('@grpc/grpc-js');

const args = process.argv.slice(2);
const addr = args[0].replace(/^[a-z]+:\/\//, '').replace(/\/$/, '');
const d = args.indexOf('--deadline');
const POLICY = {
  maxAttempts: 4,
  initialBackoff: '0.2s',
  maxBackoff: '2s',
  backoffMultiplier: 2,
  retryableStatusCodes: ['UNAVAILABLE', 'RESOURCE_EXHAUSTED'],
};
const options = args.includes('--retry')
  ? {
      'grpc.enable_retries': 1,
      'grpc.service_config': JSON.stringify({
        methodConfig: [{ name: [{ service: 'probe.Echo' }], retryPolicy: POLICY }],
      }),
    }
  : {};
const names = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));
const client = new grpc.Client(addr, grpc.credentials.createInsecure(), options);
const opts = d >= 0 ? { deadline: Date.now() + Number(args[d + 1]) * 1000 } : {};
const id = (b) => b;
client.makeUnaryRequest('/probe.Echo/Say', id, id, Buffer.from('0a05776f726c64', 'hex'), opts,
  (err, reply) => {
    if (err) {
      process.stderr.write(`grpc error ${names[err.code]}: ${err.details}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(reply.toString('hex') + '\n');
    }
    client.close();
  });
