// Drives headless Chromium (playwright-core, the browser from $CHROMIUM) to a page that runs
// an EventSource (tests/streams/eventsource.html), waits until the page says it is finished
// or TIMEOUT_MS pass, and prints the page's log as one JSON line:
//   {"finished": true|false, "events": [["open", ms], ["message", id, data, ms], ...]}
//
//   CHROMIUM=/path/to/chromium NODE_PATH=target/node/node_modules \
//     node tests/streams/eventsource.js URL TIMEOUT_MS
const { chromium } = require("playwright-core");

async function main() {
  const [url, timeout] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    // The flags that work on a machine without a network beyond loopback: no background
    // traffic, no QUIC, no GPU; --no-sandbox because the tests may run as root.
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
  try {
    const page = await browser.newPage();
    await page.goto(url);
    const finished = await page
      .waitForFunction(() => window.finished === true, null, { timeout: Number(timeout) })
      .then(() => true, () => false);
    const events = await page.evaluate(() => window.events);
    console.log(JSON.stringify({ finished, events }));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
