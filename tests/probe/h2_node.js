// Node's own http2 client as many Node programs use it, for `httpfault probe --protocol http2`:
// http2.connect(URL) (prior knowledge over http://, ALPN h2 over https:// trusting
// $HTTPFAULT_CA), one GET, the body on stdout whatever the status. Exit 1 (the error on
// stderr) when the session or the stream fails, or the stream ends with an RST_STREAM code.
// No timeout unless --timeout MS (stream.setTimeout: an idle stream is closed with CANCEL).
//
//   node h2_node.js URL [--timeout MS]
const http2 = require("http2");
const fs = require("fs");

const [url, ...rest] = process.argv.slice(2);
const t = rest.indexOf("--timeout");
const timeout = t >= 0 ? Number(rest[t + 1]) : 0;
const ca = process.env.HTTPFAULT_CA;
const session = http2.connect(url, url.startsWith("https:") && ca ? { ca: fs.readFileSync(ca) } : {});

function fail(what) {
  process.stderr.write(`${what}\n`);
  process.exitCode = 1;
  session.destroy();
}

session.on("error", (e) => fail(`session error: ${e.code || e.message}`));
const req = session.request({ ":method": "GET", ":path": new URL(url).pathname || "/" });
if (timeout > 0) {
  req.setTimeout(timeout, () => {
    fail(`timed out after ${timeout} ms idle`);
    req.close(http2.constants.NGHTTP2_CANCEL);
  });
}
req.on("data", (chunk) => process.stdout.write(chunk));
req.on("error", (e) => fail(`stream error: ${e.code || e.message}`));
req.on("close", () => {
  if (req.rstCode && req.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
    fail(`stream closed with code ${req.rstCode}`);
  } else if (!req.aborted) {
    session.close();
  }
});
req.end();
