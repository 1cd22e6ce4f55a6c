// A client as many Node programs are written: the built-in fetch (undici), its default
// timeouts and redirect handling, non-2xx is an error, the body on stdout. Used by tests/probe.rs.
//
//     node fetch_client.js URL
const url = process.argv[2];
fetch(url)
  .then(async (response) => {
    if (!response.ok) {
      console.error(`status ${response.status}`);
      process.exit(1);
    }
    const body = Buffer.from(await response.arrayBuffer());
    // A write to a pipe is asynchronous in Node: exit once it is flushed.
    process.stdout.write(body, () => process.exit(0));
  })
  .catch((e) => {
    console.error(String(e.cause || e));
    process.exit(1);
  });
