//! Routes and sequences on the wire, against the binary (../shared/interface.md, "Routes and
//! sequences"): `--route` and `--routes FILE`, sequences with `PLAN*N` and `ok`, the last plan
//! repeating, globs, methods, first match, routes before path plans before the default plan,
//! the `-` base URL with `times` per method, counters under concurrent clients, and seeded
//! `chance` that does not depend on other traffic.

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

/// A request on its own connection, with `Connection: close`, so the answer ends with a FIN
/// (or the plan's RST) and never waits for a keep-alive timeout.
fn request(method: &str, target: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n")
        .into_bytes();
    if !body.is_empty() || method == "POST" || method == "PUT" {
        r.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(body);
    r
}

/// What a client saw, in one word: `reset` (an RST and not one byte), the status code of a
/// complete response followed by a FIN, or a description of anything else (so a comparison
/// fails loudly on it).
fn outcome(addr: std::net::SocketAddr, method: &str, target: &str) -> String {
    let (bytes, end) = exchange(addr, &request(method, target, b""), IO);
    describe(&bytes, end)
}

fn describe(bytes: &[u8], end: Ending) -> String {
    match (end, split_head(bytes)) {
        (Ending::Reset, None) if bytes.is_empty() => "reset".into(),
        (Ending::Eof, Some((head, _))) => {
            let (_, status, _) = parse_head(head);
            status.to_string()
        }
        _ => format!("{end:?} after {}", show(bytes)),
    }
}

/// The body of a complete response (asserting it ended with a FIN).
fn body_of(addr: std::net::SocketAddr, method: &str, target: &str) -> Vec<u8> {
    let (bytes, end) = exchange(addr, &request(method, target, b""), IO);
    assert_ending(end, Ending::Eof, &bytes);
    let (_, body) = split_head(&bytes).unwrap_or_else(|| panic!("{}", show(&bytes)));
    body.to_vec()
}

fn outcomes(addr: std::net::SocketAddr, method: &str, target: &str, n: usize) -> Vec<String> {
    (0..n).map(|_| outcome(addr, method, target)).collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Sequences
// ---------------------------------------------------------------------------------------------

#[test]
fn sequence_resets_twice_then_201_and_the_last_plan_repeats() {
    let s = Server::start(&["--route", "POST /v1/upload reset*2 status=201"]);
    let got: Vec<String> = (0..5)
        .map(|_| {
            let (bytes, end) = exchange(s.addr, &request("POST", "/v1/upload", b"{}"), IO);
            describe(&bytes, end)
        })
        .collect();
    assert_eq!(
        got,
        strs(&["reset", "reset", "201", "201", "201"]),
        "{}",
        s.describe()
    );
    // The log says which route matched and which plan of its sequence was used.
    for step in 1..=3 {
        let want = format!("route=\"POST /v1/upload reset*2 status=201\" step={step} ");
        assert!(
            s.wait_log(IO, |l| l.contains("event=request") && l.contains(&want))
                .is_some(),
            "no log line with {want}\n{}",
            s.describe()
        );
    }
}

#[test]
fn ok_is_a_plain_200_with_the_default_body() {
    // The default plan is the classic `Hello,` then RST: `ok` must not be it.
    let s = Server::start(&["--route", "GET /a ok", "--route", "/b status=500 ok"]);
    let (bytes, end) = exchange(s.addr, &request("GET", "/a", b""), IO);
    assert_ending(end, Ending::Eof, &bytes);
    assert!(
        bytes.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        show(&bytes)
    );
    assert_head_then(&bytes, b"Hello, world!");
    assert_eq!(
        outcomes(s.addr, "GET", "/b", 3),
        strs(&["500", "200", "200"])
    );
    assert_eq!(body_of(s.addr, "GET", "/b"), b"Hello, world!");
    // Not routed, and no default plan given: 404 naming the closest routes.
    assert_eq!(outcome(s.addr, "GET", "/c"), "404");
    // Not routed, with a default plan given: that plan.
    let s = Server::start(&["--route", "GET /a ok", "reset=6"]);
    let (bytes, end) = exchange(s.addr, &request("GET", "/c", b""), IO);
    assert_head_then(&bytes, b"Hello,");
    assert_ending(end, Ending::Reset, &bytes);
}

#[test]
fn plan_times_n_repeats_a_plan_and_runs_add_up() {
    let s = Server::start(&[
        "--route",
        "GET /s status=503*3 status=204*2 status=202",
        // A literal `*` in a value is %2A, and does not make a repetition.
        "--route",
        "GET /star text=a%2Ab*2 ok",
    ]);
    assert_eq!(
        outcomes(s.addr, "GET", "/s", 8),
        strs(&["503", "503", "503", "204", "204", "202", "202", "202"])
    );
    assert_eq!(body_of(s.addr, "GET", "/star"), b"a*b");
    assert_eq!(body_of(s.addr, "GET", "/star"), b"a*b");
    assert_eq!(body_of(s.addr, "GET", "/star"), b"Hello, world!");
}

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

#[test]
fn glob_star_matches_any_run_of_characters_slashes_included() {
    let s = Server::start(&[
        "--route",
        "GET /v1/items/* status=201",
        "--route",
        "GET /a/*/c status=202",
        "--route",
        "GET /exact status=203",
        "status=418",
    ]);
    for (target, want) in [
        ("/v1/items/42", "201"),
        ("/v1/items/42/parts", "201"),
        ("/v1/items/", "201"),
        // The query is not part of the path that is matched.
        ("/v1/items/42?x=/y", "201"),
        ("/v1/items", "418"),
        ("/v1/itemsX", "418"),
        ("/v2/items/42", "418"),
        ("/a/b/c", "202"),
        ("/a/b/b/c", "202"),
        ("/a//c", "202"),
        ("/a/b/c/d", "418"),
        ("/exact", "203"),
        ("/exact?q=1", "203"),
        ("/exact/", "418"),
        ("/exactly", "418"),
    ] {
        assert_eq!(outcome(s.addr, "GET", target), want, "GET {target}");
    }
}

#[test]
fn a_method_route_matches_only_that_method() {
    let s = Server::start(&[
        "--route",
        "POST /m status=201",
        "--route",
        "/any status=202",
        "status=418",
    ]);
    assert_eq!(outcome(s.addr, "GET", "/m"), "418");
    assert_eq!(outcome(s.addr, "HEAD", "/m"), "418");
    assert_eq!(outcome(s.addr, "PUT", "/m"), "418");
    assert_eq!(outcome(s.addr, "POST", "/m"), "201");
    // Without a METHOD, any method matches.
    for m in ["GET", "POST", "DELETE", "PATCH", "HEAD"] {
        assert_eq!(outcome(s.addr, m, "/any"), "202", "{m} /any");
    }
}

#[test]
fn head_does_not_use_up_get_faults() {
    let s = Server::start(&["--route", "GET /h reset*2 ok", "status=418"]);
    // HEAD does not match a GET route, so it takes nothing from its sequence.
    assert_eq!(outcomes(s.addr, "HEAD", "/h", 3), strs(&["418"; 3]));
    assert_eq!(
        outcomes(s.addr, "GET", "/h", 3),
        strs(&["reset", "reset", "200"])
    );
    // Path plans: `times` counts per method.
    assert_eq!(
        outcomes(s.addr, "HEAD", "/times=2/reset", 3),
        strs(&["reset", "reset", "200"])
    );
    assert_eq!(
        outcomes(s.addr, "GET", "/times=2/reset", 3),
        strs(&["reset", "reset", "200"])
    );
}

#[test]
fn the_first_matching_route_wins_and_only_it_counts() {
    let s = Server::start(&[
        "--route",
        "GET /p/special status=500 status=202",
        "--route",
        "GET /p/* status=201 status=203",
        // Never reached for /p/special: listed after the glob that covers it.
        "--route",
        "GET /p/special status=599",
    ]);
    assert_eq!(outcome(s.addr, "GET", "/p/special"), "500");
    // The request above matched the first route only: the glob's sequence is untouched.
    assert_eq!(outcome(s.addr, "GET", "/p/other"), "201");
    assert_eq!(outcome(s.addr, "GET", "/p/special"), "202");
    assert_eq!(outcome(s.addr, "GET", "/p/other"), "203");
}

#[test]
fn routes_come_before_path_plans_and_path_plans_before_the_default() {
    let s = Server::start(&[
        // A route whose path looks like a path plan: the route wins.
        "--route",
        "GET /status=500 status=201",
        "--route",
        "GET /routed status=202",
        "status=418",
    ]);
    assert_eq!(outcome(s.addr, "GET", "/status=500"), "201");
    assert_eq!(outcome(s.addr, "POST", "/status=500"), "500");
    assert_eq!(outcome(s.addr, "GET", "/status=503"), "503");
    assert_eq!(outcome(s.addr, "GET", "/routed"), "202");
    assert_eq!(outcome(s.addr, "GET", "/plain"), "418");
    assert_eq!(outcome(s.addr, "GET", "/"), "418");
}

#[test]
fn routes_file_with_comments_and_blank_lines() {
    let path = temp_path("routes");
    std::fs::write(
        &path,
        "# the API under test\n\
         \n\
         GET /v1/items ok\n\
         \x20  # an indented comment\n\
         POST /v1/upload   reset*2 status=201\n\
         \t\n\
         /v1/* status=404\n",
    )
    .unwrap();
    let s = Server::start(&["--routes", path.to_str().unwrap()]);
    assert_eq!(body_of(s.addr, "GET", "/v1/items"), b"Hello, world!");
    assert_eq!(
        outcomes(s.addr, "POST", "/v1/upload", 3),
        strs(&["reset", "reset", "201"])
    );
    assert_eq!(outcome(s.addr, "GET", "/v1/other"), "404");
    // The routes in force, one SPEC a line, in order (the comments are not routes).
    let (bytes, _) = exchange(s.addr, &request("GET", "/__httpfault/routes", b""), IO);
    let (_, body) = split_head(&bytes).unwrap_or_else(|| panic!("{}", show(&bytes)));
    assert_eq!(
        String::from_utf8_lossy(body),
        "GET /v1/items ok\nPOST /v1/upload   reset*2 status=201\n/v1/* status=404\n"
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_bad_route_on_the_command_line_exits_2_with_one_line_naming_it() {
    for spec in [
        "GET /x rset",
        "GET /x reset*0",
        "GET /x reset*two",
        "get /x ok",
        "x/y ok",
        "GET",
        "/x",
        "/x?q=1 ok",
        "",
    ] {
        let f = start_expect_fail(&["--route", "GET /fine ok", "--route", spec], 2);
        let lines = f.stderr_lines();
        assert_eq!(
            lines.len(),
            1,
            "one stderr line for {spec:?}\n{}",
            f.describe()
        );
        assert!(
            lines[0].starts_with("httpfault: error: "),
            "{}",
            f.describe()
        );
        assert!(
            lines[0].contains(&format!("'{spec}'")),
            "the line names the route {spec:?}\n{}",
            f.describe()
        );
        assert!(f.stdout.is_empty(), "{}", f.describe());
    }
    // A routes file: the line number and the route.
    let path = temp_path("bad-routes");
    std::fs::write(&path, "# ok\nGET /a ok\n\nPOST /b rset\n").unwrap();
    let f = start_expect_fail(&["--routes", path.to_str().unwrap()], 2);
    let lines = f.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", f.describe());
    assert!(
        lines[0].contains("line 4") && lines[0].contains("'POST /b rset'"),
        "{}",
        f.describe()
    );
    let _ = std::fs::remove_file(&path);
}

// ---------------------------------------------------------------------------------------------
// Plans in a base URL
// ---------------------------------------------------------------------------------------------

#[test]
fn a_base_url_plan_ends_at_a_dash_segment() {
    let s = Server::start(&["status=418"]);
    let base = "/times=2/reset/-";
    assert_eq!(outcome(s.addr, "GET", &format!("{base}/v1/items")), "reset");
    assert_eq!(
        outcome(s.addr, "GET", &format!("{base}/v1/items?page=2")),
        "reset",
        "the query is not part of the path"
    );
    let (bytes, end) = exchange(
        s.addr,
        &request("GET", &format!("{base}/v1/items"), b""),
        IO,
    );
    assert_ending(end, Ending::Eof, &bytes);
    assert!(
        bytes.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        show(&bytes)
    );
    assert_head_then(&bytes, b"Hello, world!");
    // Per method: POST and HEAD have faults of their own.
    assert_eq!(
        outcomes(s.addr, "POST", &format!("{base}/v1/items"), 3),
        strs(&["reset", "reset", "200"])
    );
    assert_eq!(
        outcomes(s.addr, "HEAD", &format!("{base}/v1/items"), 3),
        strs(&["reset", "reset", "200"])
    );
    // The base URL alone, with and without the trailing slash, is one path (`/`).
    assert_eq!(
        [
            outcome(s.addr, "GET", base),
            outcome(s.addr, "GET", &format!("{base}/")),
            outcome(s.addr, "GET", base),
        ],
        ["reset", "reset", "200"]
    );
    // The counters restart with POST /__httpfault/reset.
    let (bytes, _) = exchange(s.addr, &request("POST", "/__httpfault/reset", b""), IO);
    assert!(bytes.starts_with(b"HTTP/1.1 204 "), "{}", show(&bytes));
    assert_eq!(
        outcomes(s.addr, "GET", &format!("{base}/v1/items"), 3),
        strs(&["reset", "reset", "200"])
    );
    // Each client path after the `-` has its own counter.
    assert_eq!(
        outcomes(s.addr, "GET", &format!("{base}/v1/other"), 3),
        strs(&["reset", "reset", "200"])
    );
    // Another plan before the `-` is another counter.
    assert_eq!(
        outcome(s.addr, "GET", "/times=1/status=503/-/v1/items"),
        "503"
    );
    assert_eq!(
        outcome(s.addr, "GET", "/times=1/status=503/-/v1/items"),
        "200"
    );
}

// ---------------------------------------------------------------------------------------------
// Counters under load, and seeded chance
// ---------------------------------------------------------------------------------------------

#[test]
fn each_sequence_slot_is_taken_exactly_once_by_32_concurrent_clients() {
    const CLIENTS: usize = 32;
    let s = Server::start(&["--route", "GET /c status=201*16 status=202"]);
    let addr = s.addr;
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let barrier = barrier.clone();
            thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let mut c = Client::connect(addr);
                    barrier.wait();
                    c.send(&request("GET", "/c", b""));
                    let (bytes, end) = c.read_to_end(IO);
                    describe(&bytes, end)
                })
                .expect("spawn client")
        })
        .collect();
    let got: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let count = |w: &str| got.iter().filter(|g| *g == w).count();
    assert_eq!(
        (count("201"), count("202")),
        (16, 16),
        "{got:?}\n{}",
        s.describe()
    );
    // Every slot of the sequence went to exactly one request: steps 1..=16 once each, and the
    // last plan (step 17) to the other 16.
    let mut steps = s.wait_logs(CLIENTS, IO, |l| l.contains("event=request"));
    assert_eq!(steps.len(), CLIENTS, "{}", s.describe());
    let mut nums: Vec<u32> = steps
        .drain(..)
        .map(|l| {
            let v = l.split(" step=").nth(1).unwrap_or_else(|| panic!("{l}"));
            v.split(' ').next().unwrap().parse().unwrap()
        })
        .collect();
    nums.sort_unstable();
    let mut want: Vec<u32> = (1..=16).collect();
    want.extend([17; 16]);
    assert_eq!(nums, want);
}

/// 40 requests on route /r and 20 on the path plan, as a string of outcomes.
fn chance_run(seed: &str, noise: bool) -> (Vec<String>, Vec<String>) {
    let s = Server::start(&[
        "-q",
        "--seed",
        seed,
        "--route",
        "GET /r chance=0.5/status=503",
        "--route",
        "GET /o chance=0.5/status=503",
    ]);
    let addr = s.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let noise_thread = noise.then(|| {
        let stop = stop.clone();
        thread::spawn(move || {
            // Other traffic: another chance route, the same route with another method (which
            // does not match it), the same path plan with another method, the default plan.
            // At least one round, however soon the measured requests finish (a busy machine
            // may not schedule this thread before they do).
            let mut n = 0;
            loop {
                for (m, t) in [
                    ("GET", "/o"),
                    ("POST", "/r"),
                    ("HEAD", "/chance=0.5/status=502"),
                    ("GET", "/chance=0.5/status=501"),
                ] {
                    let _ = exchange(addr, &request(m, t, b""), IO);
                    n += 1;
                }
                if stop.load(Ordering::Relaxed) || n >= 2000 {
                    break;
                }
            }
            n
        })
    });
    let mut r = Vec::new();
    let mut p = Vec::new();
    for i in 0..40 {
        if noise && i % 4 == 0 {
            let _ = exchange(addr, &request("GET", "/o", b""), IO);
        }
        r.push(outcome(addr, "GET", "/r"));
    }
    for _ in 0..20 {
        p.push(outcome(addr, "GET", "/chance=0.5/status=502"));
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(h) = noise_thread {
        let n = h.join().unwrap();
        assert!(n > 0, "the other traffic ran");
    }
    (r, p)
}

#[test]
fn seeded_chance_gives_the_same_outcomes_whatever_other_traffic_runs_beside() {
    let (alone_r, alone_p) = chance_run("7", false);
    for v in [&alone_r, &alone_p] {
        assert!(v.iter().all(|o| o == "200" || o.starts_with("50")), "{v:?}");
        assert!(
            v.iter().any(|o| o == "200") && v.iter().any(|o| o != "200"),
            "both outcomes occur with chance=0.5: {v:?}"
        );
    }
    let (busy_r, busy_p) = chance_run("7", true);
    assert_eq!(alone_r, busy_r, "route /r with and without other traffic");
    assert_eq!(alone_p, busy_p, "path plan with and without other traffic");
    // Another seed, other outcomes (40 equal coin flips by accident: 1 in 2^40).
    let (other_r, _) = chance_run("8", false);
    assert_ne!(alone_r, other_r);
}

#[test]
fn a_request_of_the_control_api_is_not_counted_by_routes() {
    let s = Server::start(&["--route", "/* status=201 status=202"]);
    for _ in 0..3 {
        let (bytes, _) = exchange(s.addr, &request("GET", "/__httpfault/requests", b""), IO);
        assert!(
            bytes.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{}",
            show(&bytes)
        );
    }
    assert_eq!(outcomes(s.addr, "GET", "/x", 2), strs(&["201", "202"]));
}

/// `times` on a route that takes any method counts per method: the HEADs a client (or a proxy
/// in front of it) sends do not use up the GET's faults.
#[test]
fn times_on_an_any_method_route_counts_per_method() {
    let s = Server::start(&["-q", "--route", "/x times=1/reset"]);
    assert_eq!(outcome(s.addr, "HEAD", "/x"), "reset");
    assert_eq!(
        outcome(s.addr, "GET", "/x"),
        "reset",
        "GET has its own first time"
    );
    assert_eq!(outcome(s.addr, "GET", "/x"), "200");
    assert_eq!(outcome(s.addr, "HEAD", "/x"), "200");
}

// ---------------------------------------------------------------------------------------------
// Issue 17: what SDK testers trip over
// ---------------------------------------------------------------------------------------------

/// A response read to its end: status, headers, body and how the connection ended.
fn full(addr: std::net::SocketAddr, method: &str, target: &str, body: &[u8]) -> Full {
    let (bytes, end) = exchange(addr, &request(method, target, body), IO);
    let (head, rest) = split_head(&bytes).unwrap_or_else(|| panic!("{end:?}: {}", show(&bytes)));
    let (_, status, headers) = parse_head(head);
    Full {
        status,
        headers,
        body: rest.to_vec(),
        end,
    }
}

#[derive(Debug)]
struct Full {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    end: Ending,
}

impl Full {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Issue 17 item 1: an SDK that calls `/token` before `/items` through one base URL does not
/// use up `/items`' faults on `/token`: `times` counts per method and per client path after
/// the `-`.
#[test]
fn issue17_times_in_a_base_url_counts_per_client_path() {
    let s = Server::start(&["-q", "status=418"]);
    let base = "/times=2/status=503/-";
    assert_eq!(
        outcomes(s.addr, "POST", &format!("{base}/token"), 3),
        strs(&["503", "503", "200"])
    );
    assert_eq!(
        outcomes(s.addr, "GET", &format!("{base}/v1/items"), 3),
        strs(&["503", "503", "200"]),
        "/v1/items has faults of its own"
    );
    assert_eq!(
        outcome(s.addr, "GET", &format!("{base}/v1/items/42")),
        "503"
    );
}

/// Issue 17 item 2: once `times` is used up (or `chance` leaves a request out), the plan's
/// content steps stay and only its faults go: the answer a healthy server would send.
#[test]
fn issue17_when_times_runs_out_the_content_stays_and_the_faults_go() {
    let s = Server::start(&["-q", "--route", "GET /dl times=1/body=10k/ranges/reset=5k"]);
    // The download is cut at 50 KiB once, then served whole: a retry can succeed.
    let cut = full(s.addr, "GET", "/times=1/body=100k/close=50k", b"");
    assert_eq!((cut.status, cut.end), (200, Ending::Eof));
    assert_eq!(cut.header("content-length"), Some("102400"));
    assert_eq!(cut.body.len(), 50 * 1024);
    let whole = full(s.addr, "GET", "/times=1/body=100k/close=50k", b"");
    assert_eq!((whole.status, whole.end), (200, Ending::Eof));
    assert_eq!(whole.body.len(), 100 * 1024);
    assert_eq!(
        &whole.body[..cut.body.len()],
        &cut.body[..],
        "the same body, whole"
    );
    // `status` is a fault: 503 twice, then 200 with the plan's body and headers.
    let plan = "/times=2/status=503/header=Retry-After:1/text=busy";
    for want in [503, 503, 200] {
        let r = full(s.addr, "GET", plan, b"");
        assert_eq!((r.status, &r.body[..]), (want, &b"busy"[..]), "{r:?}");
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    // `chance=0` never applies: no gzip=bad (a fault), no reset; the text stays.
    let r = full(s.addr, "GET", "/chance=0/gzip=bad/text=hi/reset", b"");
    assert_eq!(
        (r.status, &r.body[..], r.end),
        (200, &b"hi"[..], Ending::Eof)
    );
    assert_eq!(r.header("content-encoding"), None);
    // On a route too: reset after 5 KiB once, then the whole body, ranges still honoured.
    let (bytes, end) = exchange(s.addr, &request("GET", "/dl", b""), IO);
    assert_ending(end, Ending::Reset, &bytes);
    let r = full(s.addr, "GET", "/dl", b"");
    assert_eq!((r.status, r.body.len()), (200, 10 * 1024));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
}

/// Issue 17 item 3: `ok` is a plan everywhere, the command line's default plan included.
#[test]
fn issue17_ok_is_the_default_plan_on_the_command_line() {
    let s = Server::start(&["-q", "ok"]);
    let r = full(s.addr, "GET", "/anything", b"");
    assert_eq!(
        (r.status, &r.body[..], r.end),
        (200, &b"Hello, world!"[..], Ending::Eof)
    );
    // TCP mode's plan language takes it too (the connection is relayed untouched).
    let t = Server::start(&["-q", "--tcp", "--upstream", "127.0.0.1:9", "ok"]);
    assert_ne!(t.addr.port(), 0);
}

/// Issue 17 item 4: with routes and no default plan, a request no route matches gets `404`
/// and a one-line body naming the closest routes, not the default `reset=6` that looks like
/// the fault under test. Path plans still work; a default plan given later takes over.
#[test]
fn issue17_unmatched_requests_get_404_naming_the_closest_routes() {
    let s = Server::start(&[
        "-q",
        "--route",
        "GET /v1/items ok",
        "--route",
        "POST /v1/upload reset*2 status=201",
        "--route",
        "GET /health ok",
    ]);
    let r = full(s.addr, "GET", "/v1/itme?page=2", b"");
    assert_eq!((r.status, r.end), (404, Ending::Eof));
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "no route matches GET /v1/itme; closest: 'GET /v1/items ok', 'GET /health ok', \
         'POST /v1/upload reset*2 status=201'\n"
    );
    // The method counts: the POST route comes first for a POST to a near path.
    let r = full(s.addr, "POST", "/v1/uploads", b"{}");
    assert!(
        r.body
            .starts_with(b"no route matches POST /v1/uploads; closest: 'POST /v1/upload "),
        "{r:?}"
    );
    assert_eq!(
        outcome(s.addr, "GET", "/status=418"),
        "418",
        "path plans stay"
    );
    let (bytes, _) = exchange(s.addr, &request("PUT", "/__httpfault/plan", b"reset"), IO);
    assert!(bytes.starts_with(b"HTTP/1.1 204 "), "{}", show(&bytes));
    assert_eq!(
        outcome(s.addr, "GET", "/v1/itme"),
        "reset",
        "the default plan now"
    );
}

/// Issue 17 item 4: `--no-path-plans` makes paths that look like steps ordinary paths.
#[test]
fn issue17_no_path_plans_makes_step_paths_ordinary() {
    let s = Server::start(&[
        "-q",
        "--no-path-plans",
        "--route",
        "GET /status ok",
        "--route",
        "GET /reset text=mine",
    ]);
    assert_eq!(body_of(s.addr, "GET", "/status"), b"Hello, world!");
    assert_eq!(body_of(s.addr, "GET", "/reset"), b"mine");
    assert_eq!(outcome(s.addr, "GET", "/hang"), "404");
    assert_eq!(outcome(s.addr, "GET", "/reset=6"), "404");
    let s = Server::start(&["-q", "--no-path-plans", "status=418"]);
    assert_eq!(outcome(s.addr, "GET", "/reset=6"), "418");
    assert_eq!(outcome(s.addr, "GET", "/times=1/status=503/-/v1/a"), "418");
}

/// Issue 17 item 5: a routes file with a UTF-8 byte order mark, trailing `# comments` and a
/// literal `#` written `%23`; a route an earlier one shadows is warned about on stderr with
/// both line numbers, and the `listening` line counts the routes (item 9).
#[test]
fn issue17_routes_file_bom_comments_and_shadow_warnings() {
    let path = temp_path("routes-bom");
    std::fs::write(
        &path,
        "\u{feff}# the API under test\n\
         GET /v1/items ok # the list\n\
         GET /v1/* status=503\n\
         GET /v1/items/42 reset   # never: line 3 matches first\n\
         POST /v1/upload text=a%23b\t# a literal #\n",
    )
    .unwrap();
    let s = Server::start(&["--routes", path.to_str().unwrap(), "--route", "/x ok"]);
    assert_eq!(body_of(s.addr, "GET", "/v1/items"), b"Hello, world!");
    assert_eq!(outcome(s.addr, "GET", "/v1/items/42"), "503");
    assert_eq!(body_of(s.addr, "POST", "/v1/upload"), b"a#b");
    let warning = s
        .wait_log(IO, |l| l.contains("event=warning"))
        .unwrap_or_else(|| panic!("no warning\n{}", s.describe()));
    assert!(
        warning.contains("line 4: route 'GET /v1/items/42 reset' never matches: line 3 "),
        "{warning}"
    );
    let listening = s
        .wait_log(IO, |l| l.contains("event=listening"))
        .unwrap_or_else(|| panic!("no listening line\n{}", s.describe()));
    assert!(listening.contains(" routes=5"), "{listening}");
    let (bytes, _) = exchange(s.addr, &request("GET", "/__httpfault/routes", b""), IO);
    let (_, body) = split_head(&bytes).unwrap_or_else(|| panic!("{}", show(&bytes)));
    assert_eq!(
        String::from_utf8_lossy(body),
        "GET /v1/items ok\nGET /v1/* status=503\nGET /v1/items/42 reset\n\
         POST /v1/upload text=a%23b\n/x ok\n"
    );
    // Routes put through the control API are warned about the same way.
    let (bytes, _) = exchange(
        s.addr,
        &request(
            "PUT",
            "/__httpfault/routes",
            b"/a ok\n/b ok\nPOST /a reset\n",
        ),
        IO,
    );
    assert!(bytes.starts_with(b"HTTP/1.1 204 "), "{}", show(&bytes));
    let warning = s
        .wait_log(IO, |l| {
            l.contains("warning=\"line 3: route 'POST /a reset'")
        })
        .unwrap_or_else(|| panic!("no warning for PUT routes\n{}", s.describe()));
    assert!(
        warning.contains("never matches: line 1 '/a ok'"),
        "{warning}"
    );
    let _ = std::fs::remove_file(&path);
}
