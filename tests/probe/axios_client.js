// A client as many Node programs are written with axios: its defaults (no timeout, up to 21
// redirects followed, non-2xx is an error), the body on stdout. With --retry, axios-retry as its
// README suggests: 3 retries with exponential backoff, on network errors and 5xx of idempotent
// requests (and 429 with its Retry-After). Needs NODE_PATH=target/node/node_modules. Used by
// tests/probe_clients.rs.
//
//     node axios_client.js URL [--retry]
const axios = require("axios");
if (process.argv.includes("--retry")) {
  const axiosRetry = require("axios-retry").default;
  axiosRetry(axios, { retries: 3, retryDelay: axiosRetry.exponentialDelay });
}
axios
  .get(process.argv[2], { responseType: "arraybuffer" })
  .then((response) => {
    // A write to a pipe is asynchronous in Node: exit once it is flushed.
    process.stdout.write(Buffer.from(response.data), () => process.exit(0));
  })
  .catch((e) => {
    console.error(e.code || e.message);
    process.exit(1);
  });
