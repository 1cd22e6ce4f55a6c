//! Options as `--help` lists them, and as the docs mention them. Pure.

use super::md;
use super::session;
use std::collections::BTreeSet;

/// Options of other programs that the docs name on their own (in a code span with no
/// program before them), with the program they belong to.
pub const FOREIGN: &[(&str, &str)] = &[
    ("--cacert", "curl"),
    ("--compressed", "curl"),
    ("--connect-timeout", "curl"),
    ("--http2", "curl"),
    ("--http2-prior-knowledge", "curl"),
    ("--max-time", "curl"),
    ("--retry", "curl"),
    ("--retry-all-errors", "curl"),
    ("-f", "curl"),
    ("-k", "curl"),
    ("-m", "curl"),
    ("-o", "curl"),
    ("-C", "curl"),
    ("-H", "curl"),
    ("-i", "curl"),
    ("-N", "curl"),
    ("-r", "curl"),
    ("-s", "cargo fuzz"),
    ("-p", "podman run"),
    ("--check", "tests/matrix/matrix.py"),
    ("--write", "tests/matrix/matrix.py"),
    ("--fresh", "tests/matrix/matrix.py"),
    ("--compression", "wget"),
    ("--http1", "tests/probe/ProbeGet.java"),
    ("--print", "tests/probe/httpx_client.py"),
    ("--deadline", "tests/probe/grpc_unary.py"),
    ("--resume", "tests/probe/sse_httpx.py"),
    ("--keepalive", "tests/probe/ws_client.py"),
    ("--close-timeout", "tests/probe/ws_client.py"),
    ("--disable-features", "chromium"),
    ("--retries", "tests/probe/sse_openai.py"),
    ("--release", "cargo"),
    ("-proxy-metrics", "toxiproxy-server"),
    ("-runtime-metrics", "toxiproxy-server"),
    ("--no-default-features", "cargo"),
    ("--path", "cargo install"),
    ("--test", "node"),
    ("--provenance", "npm publish"),
    ("--why-extract", "the linker"),
    ("--compare", "benches/sse.py"),
    ("--secs", "benches/sse.py"),
    ("--epoll", "benches/loadgen (ws)"),
    ("--deepest", "benches/stack.py"),
    ("--ws", "benches/stack.py"),
];

/// The options of a help text's `OPTIONS:` section (`--listen`, `-l`, ...).
pub fn from_help(help: &str) -> BTreeSet<String> {
    groups(help).into_iter().flatten().collect()
}

/// The same, one group a line: the names of one option (`-l`, `--listen`), or the options a
/// line gives together (`--cert`, `--key`).
pub fn groups(help: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut lines = help.lines().skip_while(|l| l.trim() != "OPTIONS:").skip(1);
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue; // a description's second line
        }
        // The option column ends where two spaces start the description.
        let column = t.split("  ").next().unwrap_or(t);
        let names: Vec<String> = column
            .split([' ', ','])
            .filter(|w| is_option(w))
            .map(String::from)
            .collect();
        out.push(names);
    }
    out
}

/// `--name` or `-x`, not a number (`-1`) or a lone dash.
pub fn is_option(w: &str) -> bool {
    let name = w.strip_prefix("--").or_else(|| w.strip_prefix('-'));
    name.is_some_and(|n| n.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Where a documented option was seen: the line and the option, and which program it is for.
#[derive(Debug, PartialEq, Eq)]
pub struct Mention {
    pub line: usize,
    pub option: String,
    /// `Some("probe")` for `httpfault probe ...`, `Some("")` for `httpfault ...`, `None` when
    /// the docs name the option alone.
    pub sub: Option<String>,
}

/// The options a page gives httpfault: in its command lines (code blocks and code spans that
/// start with `httpfault`) and in code spans that are options on their own.
pub fn mentions(text: &str) -> Result<Vec<Mention>, String> {
    let mut out = Vec::new();
    for b in md::blocks(text)? {
        if !matches!(b.lang.as_str(), "console" | "sh" | "bash" | "text") {
            continue;
        }
        for (i, line) in b.body.lines().enumerate() {
            let line = line.strip_prefix("$ ").unwrap_or(line);
            command_mentions(line, b.line + 1 + i, &mut out);
        }
    }
    for (n, line) in md::prose(text) {
        for span in md::code_spans(line) {
            if span.starts_with('-') {
                for w in span.split([' ', ',', '/', '=']) {
                    if is_option(w) {
                        out.push(Mention {
                            line: n,
                            option: w.to_string(),
                            sub: None,
                        });
                    }
                }
            } else {
                command_mentions(span, n, &mut out);
            }
        }
    }
    Ok(out)
}

fn command_mentions(line: &str, n: usize, out: &mut Vec<Mention>) {
    for simple in session::simple_commands(line) {
        let words = session::program_and_args(&simple);
        if words.first().map(String::as_str) != Some("httpfault") {
            continue;
        }
        let sub = words
            .get(1)
            .map(String::as_str)
            .filter(|s| matches!(*s, "probe" | "toxiproxy"))
            .unwrap_or_default();
        for w in words.iter().skip(1).take_while(|w| *w != "--") {
            // A synopsis writes optional options in brackets: `[--listen ADDR]`.
            let w = w.trim_matches(|c| c == '[' || c == ']');
            let w = w.split('=').next().unwrap_or(w);
            if is_option(w) {
                out.push(Mention {
                    line: n,
                    option: w.to_string(),
                    sub: Some(sub.to_string()),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_options_come_from_the_option_column() {
        let help = "x\n\nOPTIONS:\n    -l, --listen ADDR      where (see --tcp)\n        --exit-on-stdin-eof\n                           more --not-this\n        --cert FILE --key FILE   HTTPS\n    -j N                   jobs\n\nROUTES: --route\n";
        let got: Vec<String> = from_help(help).into_iter().collect();
        assert_eq!(
            got,
            [
                "--cert",
                "--exit-on-stdin-eof",
                "--key",
                "--listen",
                "-j",
                "-l"
            ]
        );
    }

    #[test]
    fn mentions_in_commands_and_spans() {
        let text = "Use `--read-timeout DUR` or `curl --max-time 1` or `httpfault probe --only a -- curl -k {url}`.\n\n```console\n$ httpfault --tls -l 9443 &\n```\n";
        let m = mentions(text).unwrap();
        let got: Vec<(&str, Option<&str>)> = m
            .iter()
            .map(|m| (m.option.as_str(), m.sub.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("--tls", Some("")),
                ("-l", Some("")),
                ("--read-timeout", None),
                ("--only", Some("probe")),
            ]
        );
        assert!(!is_option("-1") && !is_option("-") && !is_option("--"));
    }
}
