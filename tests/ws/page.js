// Drives headless Chromium (playwright-core, the browser from $CHROMIUM) to tests/ws/page.html
// served by httpfault, waits until the page is finished or TIMEOUT_MS pass, and prints the
// page's results as one JSON line: {"finished": true|false, "results": [...]}.
//
//   CHROMIUM=/path/to/chromium NODE_PATH=target/node/node_modules \
//     node tests/ws/page.js URL TIMEOUT_MS
const { chromium } = require("playwright-core");

async function main() {
  const [url, timeout] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    // As tests/streams/eventsource.js: no network beyond loopback, no GPU, no sandbox (root).
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
    const results = await page.evaluate(() => window.results);
    console.log(JSON.stringify({ finished, results }));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
