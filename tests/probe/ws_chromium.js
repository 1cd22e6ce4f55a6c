// The browser's own WebSocket as a command for `httpfault probe --protocol ws`: headless
// Chromium (playwright-core, the browser at $CHROMIUM) runs, in a blank page (so the probe's
// server sees only the WebSocket's request), a WebSocket to ws://HOST:PORT/ that sends `hello`
// and prints each message's data on a line as it comes. It ends when the socket closes: exit 0
// on a clean close with 1000, 1 otherwise.
//
//   CHROMIUM=/usr/bin/chromium NODE_PATH=target/node/node_modules node ws_chromium.js URL
const { chromium } = require('playwright-core');


async function main() {
  const url = process.argv[2].replace(/\/$/, '');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // Chromium 156 blocks a blank page's WebSocket to 127.0.0.1 (Local Network Access).
      '--disable-features=LocalNetworkAccessChecks'],
  });
  let result = null;
  try {
    const page = await browser.newPage();
    let closed;
    const done = new Promise((resolve) => (closed = resolve));
    await page.exposeFunction('probeMessage', (data) => process.stdout.write(data + '\n'));
    await page.exposeFunction('probeClosed', (code, clean) => closed([code, clean]));
    await page.goto('about:blank');
    await page.evaluate((target) => {
      const ws = new WebSocket(target);
      ws.onopen = () => ws.send('hello');
      ws.onmessage = (e) => window.probeMessage(typeof e.data === 'string' ? e.data : '(binary)');
      ws.onclose = (e) => window.probeClosed(e.code, e.wasClean);
    }, url.replace(/^http/, 'ws') + '/');
    result = await done;
  } finally {
    await browser.close();
  }
  if (result[0] !== 1000 || !result[1]) {
    process.stderr.write(`closed with ${result[0]}${result[1] ? '' : ', not clean'}\n`);
    process.exitCode = 1;
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
