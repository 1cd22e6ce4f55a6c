//! One byte timeline for every engine (issue 25): the same plan takes the same time over
//! HTTP/1.1, HTTP/2, TLS, proxy mode and TCP mode. `body=4k/rate=1k/pause=1k,2s` took 6.05 s
//! over HTTP/1.1 and 4.0 s over HTTP/2 when each engine kept its own copy of pacing (HTTP/2
//! paced from a start that a pause never moved).
//!
//! What is paced differs by protocol, as documented: HTTP/1.1's `rate` covers the whole
//! response, head included (so do proxy mode's relayed bytes and TCP mode's), HTTP/2's covers
//! the stream's DATA payload. Each duration is compared with its own expectation (paced bytes
//! / rate + pauses), within 50 ms, so the head's few bytes are not mistaken for a disagreement.
//! Times are curl's own (`%{time_total}`): no process start in them.

use httpfault::Server;
use std::process::Command;

const PLAN: &str = "body=4k/rate=1k/pause=1k,2s";
const RATE: f64 = 1024.0;
const PAUSE: f64 = 2.0;
const TOLERANCE: f64 = 0.050;

fn have_curl() -> bool {
    let ok = Command::new("curl").arg("--version").output().is_ok();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "curl is missing"
        );
        eprintln!("SKIPPED: curl is not installed");
    }
    ok
}

/// curl's time for the whole response, and the bytes it received (head included).
fn curl(args: &[&str]) -> (f64, u64) {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--max-time", "30"])
        .args(["-w", "%{time_total} %{size_header} %{size_download}"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "curl {args:?}: {text} {:?}",
        out.status
    );
    let mut it = text.split_whitespace();
    let t: f64 = it.next().and_then(|v| v.parse().ok()).expect("time");
    let head: u64 = it.next().and_then(|v| v.parse().ok()).expect("head");
    let body: u64 = it.next().and_then(|v| v.parse().ok()).expect("body");
    assert_eq!(body, 4096, "curl {args:?}");
    (t, head + body)
}

/// The pacing's expectation for `paced` bytes: the last piece (1/50 s of bytes) may start
/// `piece / rate` before the end.
fn assert_paced(mode: &str, took: f64, paced: u64) {
    let want = paced as f64 / RATE + PAUSE;
    assert!(
        (took - want).abs() <= TOLERANCE + 1.0 / 50.0,
        "{mode}: {took:.3} s, expected {want:.3} s ({paced} paced bytes at {RATE} B/s + {PAUSE} s)"
    );
}

fn server(b: httpfault::Builder) -> Server {
    b.plan(PLAN).start().expect("start")
}

#[test]
fn http1_plain_tls_and_proxy_pace_and_pause_alike() {
    if !have_curl() {
        return;
    }
    let plain = server(Server::builder());
    let (t, bytes) = curl(&[&plain.url()]);
    assert_paced("HTTP/1.1", t, bytes);

    let tls = server(Server::builder().tls());
    let ca = std::env::temp_dir().join(format!("httpfault-timeline-{}.pem", std::process::id()));
    std::fs::write(&ca, tls.ca_pem().expect("a CA")).unwrap();
    let url = tls.url().replace("127.0.0.1", "localhost");
    let (t, bytes) = curl(&["--cacert", ca.to_str().unwrap(), &url]);
    let _ = std::fs::remove_file(&ca);
    assert_paced("HTTP/1.1 over TLS", t, bytes);

    // Proxy mode: the upstream answers 4 KiB at once; the proxy paces what it relays.
    let up = Server::start("body=4k").expect("upstream");
    let proxy = Server::builder()
        .upstream(&up.url())
        .plan("rate=1k/pause=1k,2s")
        .start()
        .expect("proxy");
    let (t, bytes) = curl(&[&proxy.url()]);
    assert_paced("proxy mode", t, bytes);
}

#[test]
fn tcp_mode_paces_and_pauses_alike() {
    if !have_curl() {
        return;
    }
    let up = Server::start("body=4k").expect("upstream");
    let relay = Server::builder()
        .tcp()
        .upstream(&up.addr().to_string())
        .plan("rate=1k/pause=1k,2s")
        .start()
        .expect("relay");
    let (t, bytes) = curl(&[&format!("http://{}/", relay.addr())]);
    assert_paced("TCP mode", t, bytes);
}

#[test]
fn http2_paces_and_pauses_alike() {
    if !have_curl() {
        return;
    }
    let s = server(Server::builder());
    let (t, _) = curl(&["--http2-prior-knowledge", &s.url()]);
    // Over HTTP/2 the pace covers the DATA payload only.
    assert_paced("HTTP/2", t, 4096);
}
