// @grpc/grpc-js client for tests/h2.rs: one unary call to METHOD on ADDR with a hand-written
// HelloRequest{name: "world"}, identity (de)serializers (no code generation); prints one JSON
// line {"code": "OK"|"INTERNAL"|..., "reply": hex|null, "details": str|null}.
// Usage: node grpcjs_client.js ADDR METHOD
'use strict';
const grpc = require('@grpc/grpc-js');
const [addr, method] = process.argv.slice(2);
const client = new grpc.Client(addr, grpc.credentials.createInsecure());
const id = (b) => b;
const names = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));
client.makeUnaryRequest(method, id, id, Buffer.from('0a05776f726c64', 'hex'),
  { deadline: Date.now() + 8000 }, (err, reply) => {
    const out = err
      ? { code: names[err.code], reply: null, details: err.details }
      : { code: 'OK', reply: reply.toString('hex'), details: null };
    console.log(JSON.stringify(out));
    client.close();
  });
