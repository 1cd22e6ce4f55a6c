//! The step reference (`docs/plans.md`), generated from the step tables: every fact of a step
//! is a column of its row ([`super::steps::STEPS`], TCP mode's [`super::tcp::STEPS`]), so the
//! reference cannot disagree with the parser, the executor's proxy behaviour or `--help`.
//! `tests/step_table.rs` fails when the committed file differs (`make plans-doc` rewrites it).

use super::steps::{Proto, Proxy, Role, StepDef, STEPS};
use super::tcp;
use std::fmt::Write as _;

/// The whole of `docs/plans.md`.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str(INTRO);
    section(&mut out, "HTTP steps (HTTP/1.1 and HTTP/2)", |s| {
        s.proto == Proto::Any
    });
    section(&mut out, "HTTP/1.1 only", |s| s.proto == Proto::H1);
    out.push_str(
        "On HTTP/2 these are a plan error answered `400` on the stream, naming the protocol.\n",
    );
    section(&mut out, "HTTP/2 and gRPC only", |s| s.proto == Proto::H2);
    out.push_str("On HTTP/1.1 these are a plan error answered `400`, naming the protocol.\n");
    section(&mut out, "WebSocket only", |s| s.proto == Proto::Ws);
    out.push_str(
        "They act on a request with `Upgrade: websocket` (see [WebSocket](websocket.md)); on any \
         other request, and over HTTP/2, they are a plan error answered `400`, naming the \
         protocol. On a WebSocket connection byte offsets count the server's frame bytes after \
         the `101` head, and `3msg` counts complete server messages.\n",
    );
    section(&mut out, "WebSocket tunnels in proxy mode only", |s| {
        s.proto == Proto::Tunnel
    });
    out.push_str(
        "They act on the client-to-upstream direction of a WebSocket tunnel that proxy mode \
         relays (see [WebSocket](websocket.md#proxy-mode)): OFFSET counts the client's bytes \
         after its upgrade request, frame headers and masks included, and `2msg` its complete \
         messages. They cannot go with an ending of the other direction. On any other request, \
         in server mode and over HTTP/2 they are a plan error answered `400`, naming why.\n",
    );
    roles(&mut out);
    tcp_steps(&mut out);
    out
}

const INTRO: &str = "\
# Plan steps

<!-- Generated from the step tables (src/plan/steps.rs, src/plan/tcp.rs) by `make plans-doc`;
tests/step_table.rs fails when this file differs from them. Do not edit by hand. -->

A plan is steps separated by `/`, each `name` or `name=value`, on the command line, in a
request path, in routes, in the `X-Httpfault-Plan` header (proxy mode), through the control
API and the library. How plans are chosen, routes and sequences: [the plan language](plan-language.md).

Units: **SIZE** is bytes with an optional `k` or `m` (1024-based). **DUR** is a number with a
unit (`100us`, `250ms`, `2s`, `1.5s`, `1m`). **OFFSET** is where in the response a step acts:
`6` or `64k` counts body bytes as they go on the wire (for a chunked HTTP/1.1 body the framing
counts; over HTTP/2 the stream's DATA payload), `head:N` counts from the first byte of the
status line, `end` is after the last byte, `req:N` (endings only) counts bytes of the request
body, and message offsets count the body's messages: `3ev` is right after the 3rd complete
Server-Sent Event (the blank line that ends it), `3msg` after the 3rd gRPC (length-prefixed)
or WebSocket message, `3ev+10` / `3msg+10` ten payload bytes into the next one. A byte offset
past the end is the end; a message offset the body never reaches is never reached (the
response completes). Pauses and the cut follow one timeline in every mode: pauses at an
offset come first, then the cut, and a pause shifts the pace of `rate`.

Columns: *proxy mode* says what `--upstream` does with the step (answers without the
upstream, shapes the upstream's response, or refuses the plan with a `400` naming why);
*curl* is what `curl -sS http://127.0.0.1:9000/PLAN` (curl 7.88) reports, measured. What
Python, Node and Rust clients report: [clients.md](clients.md). `*` marks content steps (kept
when `times` or `chance` leaves a request out).
";

fn section(out: &mut String, title: &str, pick: impl Fn(&StepDef) -> bool) {
    let _ = writeln!(out, "\n## {title}\n");
    out.push_str("| step | what goes on the wire | proxy mode | curl | example |\n");
    out.push_str("|---|---|---|---|---|\n");
    for s in STEPS.iter().filter(|s| pick(s)) {
        let mark = if s.role.mark() == '*' { " *" } else { "" };
        let proxy = match s.proxy {
            Proxy::Refused(why) => format!("refused: {why}"),
            p => p.describe().to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}`{mark} | {} | {proxy} | {} | `{}` |",
            cell(&s.synopsis()),
            cell(s.docs),
            cell(s.curl),
            s.example
        );
    }
}

fn roles(out: &mut String) {
    out.push_str("\n## Content, fault and limit steps\n\n");
    out.push_str(
        "A request that `times` or `chance` leaves out gets the plan without its faults: its \
         content steps stay, so the answer is what a healthy server would send.\n\n",
    );
    out.push_str("| role | steps |\n|---|---|\n");
    for (name, want) in [
        ("content (kept)", 0),
        ("fault (dropped)", 1),
        ("limit (dropped)", 2),
    ] {
        let steps: Vec<String> = STEPS
            .iter()
            .filter(|s| {
                let r = match s.role {
                    Role::Content | Role::ContentUnless(_) => 0,
                    Role::Fault => 1,
                    Role::Limit => 2,
                };
                r == want
            })
            .map(|s| match s.role {
                Role::ContentUnless(v) => format!("`{}` (but `{}={v}` is a fault)", s.name, s.name),
                _ => format!("`{}`", s.name),
            })
            .collect();
        let _ = writeln!(out, "| {name} | {} |", steps.join(", "));
    }
}

fn tcp_steps(out: &mut String) {
    out.push_str("\n## TCP mode (`--tcp --upstream HOST:PORT`)\n\n");
    out.push_str(
        "Steps act on the upstream-to-client direction unless prefixed with `up:` \
         (client-to-upstream; `down:` may be written for clarity). Offsets count the bytes of \
         that direction.\n\n",
    );
    out.push_str("| step | direction | what it does | example |\n|---|---|---|---|\n");
    for s in tcp::STEPS {
        let usage = match s.value {
            "" => s.name.to_string(),
            v if v.starts_with('[') => format!("{}[={}", s.name, &v[1..]),
            v => format!("{}={v}", s.name),
        };
        let dir = if s.directional {
            "either (`up:`)"
        } else {
            "the connection"
        };
        let _ = writeln!(
            out,
            "| `{usage}` | {dir} | {} | `{}` |",
            cell(s.help),
            s.example
        );
    }
}

/// Text for a table cell: a `|` would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}
