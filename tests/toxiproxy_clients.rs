//! `httpfault toxiproxy` driven by toxiproxy's real client libraries (toxiproxy-node-client
//! from npm, toxiproxy-python from PyPI, installed by `make deps` into target/), and the same
//! API calls made to toxiproxy itself and compared field by field
//! (tests/toxiproxy/compare.py), when its server is at ../shared/bin/toxiproxy-server or
//! target/toxiproxy-ref/toxiproxy-server (`make toxiproxy-ref`).

mod common;

use common::{Server, IO};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn start() -> Server {
    let args: Vec<String> = ["toxiproxy", "--listen", "127.0.0.1:0", "-q"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    Server::start_exact(&args)
}

/// An echo server on a free port, for the life of the test process.
fn echo_upstream() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            thread::spawn(move || {
                let mut s: TcpStream = s;
                let mut buf = [0u8; 65536];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Runs a command with a deadline; its output.
fn run(mut cmd: Command, limit: Duration) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{shown}: {e}"));
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{shown} still running after {limit:?}\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn expect_ok(out: &Output, what: &str, lines: &[&str]) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
    for l in lines {
        assert!(
            stdout.lines().any(|x| x.starts_with(&format!("ok {l}"))),
            "{what}: no 'ok {l}' in\n{stdout}"
        );
    }
}

fn node_flows(api: SocketAddr, upstream: SocketAddr) -> Output {
    let modules = root().join("target/node/node_modules");
    assert!(
        modules.join("toxiproxy-node-client").exists(),
        "toxiproxy-node-client is not installed: run `make deps`"
    );
    let mut cmd = Command::new("node");
    cmd.arg(root().join("tests/toxiproxy/node_flows.js"))
        .arg(format!("http://{api}"))
        .arg(upstream.to_string())
        .env("NODE_PATH", modules);
    run(cmd, Duration::from_secs(60))
}

fn python_flows(api: SocketAddr, upstream: SocketAddr) -> Output {
    let python = root().join("target/venv/bin/python");
    assert!(python.exists(), "target/venv is missing: run `make deps`");
    let mut cmd = Command::new(python);
    cmd.arg(root().join("tests/toxiproxy/python_flows.py"))
        .arg(api.ip().to_string())
        .arg(api.port().to_string())
        .arg(upstream.to_string());
    run(cmd, Duration::from_secs(60))
}

const NODE_FLOWS: &[&str] = &[
    "version",
    "create",
    "latency",
    "update",
    "remove",
    "reset_peer",
    "list",
    "disable-enable",
    "populate",
    "reset",
    "conflict",
    "delete",
];
const PYTHON_FLOWS: &[&str] = &[
    "version",
    "create",
    "conflict",
    "latency",
    "invalid",
    "remove",
    "reset_peer",
    "list",
    "disable-enable",
    "populate",
    "reset",
    "delete",
];

#[test]
fn toxiproxy_node_client_flows_work_unchanged() {
    let s = start();
    let out = node_flows(s.addr, echo_upstream());
    expect_ok(&out, "node_flows.js", NODE_FLOWS);
}

#[test]
fn toxiproxy_python_flows_work_unchanged() {
    let s = start();
    let out = python_flows(s.addr, echo_upstream());
    expect_ok(&out, "python_flows.py", PYTHON_FLOWS);
}

/// toxiproxy's server, built from its source: ../shared/bin/ beside the repository, or
/// target/toxiproxy-ref/ (`make toxiproxy-ref`).
fn reference() -> Option<PathBuf> {
    [
        root().join("../shared/bin/toxiproxy-server"),
        root().join("target/toxiproxy-ref/toxiproxy-server"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// toxiproxy's server on a free port (it reports nothing on port 0, so a port is picked and
/// freed first); killed on drop.
struct Reference {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_reference(bin: &Path) -> Reference {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args(["-host", "127.0.0.1", "-port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let r = Reference { child, addr };
    let deadline = Instant::now() + IO;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{} did not listen on {addr}",
            bin.display()
        );
        thread::sleep(Duration::from_millis(20));
    }
    r
}

#[test]
fn the_same_calls_against_toxiproxy_itself_differ_only_where_documented() {
    let Some(bin) = reference() else {
        eprintln!(
            "skipped: no toxiproxy-server at ../shared/bin/ or target/toxiproxy-ref/ (make toxiproxy-ref)"
        );
        return;
    };
    let up = echo_upstream();
    let ours = start();
    let theirs = start_reference(&bin);
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("tests/toxiproxy/compare.py"))
        .arg(format!("http://{}", theirs.addr))
        .arg(format!("http://{}", ours.addr))
        .arg(up.to_string());
    let out = run(cmd, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "differences not listed as deliberate:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 differences not listed"), "{stdout}");
    // The flows of both clients are toxiproxy's own usage: they pass against it too.
    let theirs2 = start_reference(&bin);
    expect_ok(
        &node_flows(theirs2.addr, up),
        "node_flows.js on toxiproxy",
        NODE_FLOWS,
    );
    let theirs3 = start_reference(&bin);
    expect_ok(
        &python_flows(theirs3.addr, up),
        "python_flows.py on toxiproxy",
        PYTHON_FLOWS,
    );
}

#[test]
fn every_deliberate_difference_is_in_the_docs_table() {
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("tests/toxiproxy/compare.py"))
        .arg("--ids");
    let out = run(cmd, Duration::from_secs(30));
    let docs = std::fs::read_to_string(root().join("docs/toxiproxy.md")).unwrap();
    let ids = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!ids.trim().is_empty());
    for id in ids.lines() {
        assert!(
            docs.contains(&format!("`{id}`")),
            "docs/toxiproxy.md has no row `{id}`"
        );
    }
}
