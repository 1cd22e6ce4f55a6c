// The browser's own EventSource as a command for `httpfault probe --protocol sse`: headless
// Chromium (playwright-core, the browser at $CHROMIUM) opens a page that playwright serves
// itself at URL/__probe_page (so the page and the stream share an origin and the probe's
// server sees only the EventSource's requests), and prints each message's data on a line as
// it comes. The EventSource reconnects by itself (Last-Event-ID, the retry field); the script
// ends when it is CLOSED: exit 0 if the last response was a 204 (the spec's "stop"), 1 if it
// closed on anything else (a 503, a wrong Content-Type: the spec's "fail the connection").
//
//   CHROMIUM=/usr/bin/chromium NODE_PATH=target/node/node_modules node sse_chromium.js URL
const { chromium } = require("playwright-core");

const PAGE = `<!doctype html><meta charset="utf-8"><title>probe</title><script>
const es = new EventSource("/");
es.onmessage = (e) => window.probeEvent(e.data);
es.onerror = () => { if (es.readyState === EventSource.CLOSED) window.probeClosed(); };
</script>`;

async function main() {
  const url = process.argv[2].replace(/\/$/, "");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  let lastStatus = 0;
  try {
    const page = await browser.newPage();
    page.on("response", (r) => {
      if (!r.url().includes("__probe_page")) lastStatus = r.status();
    });
    await page.route(url + "/__probe_page", (route) =>
      route.fulfill({ status: 200, contentType: "text/html", body: PAGE }),
    );
    let closed;
    const done = new Promise((resolve) => (closed = resolve));
    await page.exposeFunction("probeEvent", (data) => process.stdout.write(data + "\n"));
    await page.exposeFunction("probeClosed", () => closed());
    await page.goto(url + "/__probe_page");
    await done;
  } finally {
    await browser.close();
  }
  process.exitCode = lastStatus === 204 ? 0 : 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
