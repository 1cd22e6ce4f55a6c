//! The docs run: every fenced block of README.md, ARCHITECTURE.md, RELEASING.md and docs/*.md
//! is run or checked here (part of `make test`), so an example cannot drift from the program.
//!
//! How a block is written, by its info string (the words after the opening fence):
//!
//! | fence | what the check does |
//! |---|---|
//! | ```` ```console ```` | a session: `$ COMMAND` lines run in order (each in a fresh `bash` on a terminal, in a directory of the page's own), and the lines after a command up to the next `$ ` are what it must print (stdout and stderr as a terminal shows them; `...` matches any text, line breaks included). A command that shows no output must exit 0 |
//! | `$ httpfault ... &` in a session | a server: started with its `-l`/`--listen` (default 9000) and `--control` set to port 0; the port the docs gave it is replaced by the real one in every later command, file and script of the page, and back in what they print. `kill %N` stops the N-th server, as in a shell. A fixed port that no server of the page listens on is an error |
//! | ```` ```python ````, ```` ```js ```` | run with the project's Python (target/venv, with packaging/python on `PYTHONPATH`) or Node (with the npm package as `httpfault`), after the same port replacement; must exit 0 |
//! | ```` ```sh ```` | a script run with `bash -e` (no servers in it); must exit 0 |
//! | ```` ```LANG file=NAME ```` | the text of the file NAME in the page's directory, for later commands (`$ python3 NAME`); checked for syntax |
//! | ```` ```LANG no-run ... ```` | cannot run here (a build, an install, a service we do not have): checked for syntax only (`bash -n`, Python's parser, `node --check`, TOML, JSON, YAML) |
//! | ```` ```rust ```` | compiled and run by `make external`: each piece (blank lines separate them) must be in `tests/external/tests/*.rs` |
//! | ```` ```text ```` | not code (output, grammar): no `$ ` commands in it |
//!
//! Pages run in parallel, their blocks in order. Besides: every option of `httpfault --help`
//! and `httpfault probe --help` has its row in docs/cli.md and docs/probe.md, every option the
//! docs give httpfault exists, and every local link and anchor resolves.

#[path = "docs/md.rs"]
mod md;
#[path = "docs/options.rs"]
mod options;
#[path = "docs/page.rs"]
mod page;
#[path = "docs/session.rs"]
mod session;

use page::{Counts, Page, Tools};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_httpfault");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The pages: README.md, ARCHITECTURE.md, RELEASING.md and docs/*.md, as paths from the root.
fn pages() -> Vec<String> {
    let mut out: Vec<String> = ["README.md", "ARCHITECTURE.md", "RELEASING.md"]
        .into_iter()
        .filter(|p| root().join(p).exists())
        .map(String::from)
        .collect();
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    out.extend(docs);
    // DOCS_ONLY=docs/tls.md,README.md: only these (while writing a page).
    if let Ok(only) = std::env::var("DOCS_ONLY") {
        out.retain(|p| only.split(',').any(|o| o == p));
    }
    out
}

fn read(page: &str) -> String {
    std::fs::read_to_string(root().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"))
}

/// A tool the runs need: missing on a user's machine, the test says so and skips; in CI it
/// fails.
fn have(tool: &str, why: &str) -> bool {
    let found = if tool.contains('/') {
        Path::new(tool).exists()
    } else {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool} >/dev/null")])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is missing ({why}); CI must have it"
        );
        eprintln!("SKIPPED: {tool} is missing ({why})");
    }
    found
}

#[test]
fn every_block_of_every_page_runs() {
    let root = root();
    let python = root.join("target/venv/bin/python");
    let tools_there = have(python.to_str().unwrap(), "make deps makes target/venv")
        & have("node", "the JavaScript examples")
        & have("curl", "the sessions")
        & have("jq", "the sessions read the journal with it")
        & have("script", "util-linux: the sessions run on a terminal");
    if !tools_there {
        return;
    }
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("docs");
    let bin_dir = work.join("bin");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(BIN, bin_dir.join("httpfault")).unwrap();
    let tools = Tools {
        root: root.clone(),
        bin_dir,
        python,
        work,
    };
    let started = Instant::now();
    let results: Vec<(String, Vec<String>, Counts, f64)> = std::thread::scope(|s| {
        let runs: Vec<_> = pages()
            .into_iter()
            .map(|name| {
                let tools = &tools;
                s.spawn(move || {
                    let t0 = Instant::now();
                    let text = read(&name);
                    let mut page = Page::new(tools, &name);
                    match md::blocks(&text) {
                        Ok(blocks) => blocks.iter().for_each(|b| page.block(b)),
                        Err(e) => page.failures.push(format!("{name}: {e}")),
                    }
                    if !page.failures.is_empty() {
                        page.failures.push(format!(
                            "{name}: the page's servers:\n{}",
                            page.server_logs()
                        ));
                    }
                    let failures = std::mem::take(&mut page.failures);
                    let counts = page.ran;
                    drop(page);
                    (name, failures, counts, t0.elapsed().as_secs_f64())
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("a page's run panicked"))
            .collect()
    });
    let mut all = Counts::default();
    let mut failures = Vec::new();
    for (name, f, counts, secs) in results {
        eprintln!("{name}: {counts:?} in {secs:.1} s");
        all += counts;
        failures.extend(f);
    }
    eprintln!(
        "all pages: {all:?} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        all.commands > 0 || std::env::var("DOCS_ONLY").is_ok(),
        "no session ran"
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The Rust examples are the code tests/external runs (`make external`), piece by piece (blank
/// lines separate the pieces), so they cannot drift apart.
#[test]
fn rust_blocks_are_what_tests_external_runs() {
    let dir = root().join("tests/external/tests");
    // tests/external is a package of its own, so a packaged httpfault does not carry it.
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("SKIPPED: tests/external is not here (a packaged crate)");
        return;
    };
    let mut external = String::new();
    for e in entries.flatten() {
        external += &std::fs::read_to_string(e.path()).unwrap_or_default();
    }
    let mut blocks = 0;
    for page in pages() {
        for b in md::blocks(&read(&page)).unwrap() {
            if b.lang != "rust" {
                continue;
            }
            for piece in b.body.trim_end().split("\n\n") {
                assert!(
                    external.contains(piece),
                    "{page}:{}: this piece of a Rust example is not in tests/external/tests/:\n{piece}",
                    b.line
                );
            }
            blocks += 1;
        }
    }
    assert!(
        blocks >= 2 || std::env::var("DOCS_ONLY").is_ok(),
        "the docs have {blocks} Rust examples"
    );
}

fn help(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "httpfault {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Every option `--help` lists has its row in the options table of its page, and every option
/// the docs give httpfault exists.
#[test]
fn every_option_is_documented_and_every_documented_option_exists() {
    let main = options::from_help(&help(&["--help"]));
    let probe = options::from_help(&help(&["probe", "--help"]));
    assert!(main.contains("--listen") && main.contains("-l") && probe.contains("--only"));
    let toxiproxy_help = Command::new(BIN)
        .args(["toxiproxy", "--help"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let toxiproxy = options::from_help(&toxiproxy_help);
    let mut problems = Vec::new();
    for (page, wanted) in [("docs/cli.md", &main), ("docs/probe.md", &probe)] {
        let rows: BTreeSet<String> = read(page)
            .lines()
            .filter(|l| l.starts_with("| `-"))
            .flat_map(|l| {
                let cell = l.split('|').nth(1).unwrap_or("");
                md::code_spans(cell)
                    .into_iter()
                    .flat_map(|s| s.split([' ', ',']).map(String::from).collect::<Vec<_>>())
                    .filter(|w| options::is_option(w))
                    .collect::<Vec<_>>()
            })
            .collect();
        for o in wanted.difference(&rows) {
            problems.push(format!(
                "{page}: `{o}` (in --help) has no row in the options table"
            ));
        }
        for o in rows.difference(wanted) {
            problems.push(format!(
                "{page}: the options table has `{o}`, which --help does not list"
            ));
        }
    }
    // `httpfault toxiproxy`'s few options: each named on its page (by one of its names; its
    // help aside).
    if !toxiproxy.is_empty() {
        let page = read("docs/toxiproxy.md");
        let named: BTreeSet<String> = options::mentions(&page)
            .unwrap()
            .into_iter()
            .map(|m| m.option)
            .collect();
        for group in options::groups(&toxiproxy_help) {
            if !group.iter().any(|o| named.contains(o) || o == "--help") {
                problems.push(format!(
                    "docs/toxiproxy.md: `{}` (in toxiproxy --help) is not named",
                    group.join(", ")
                ));
            }
        }
    }
    let any: BTreeSet<&String> = main.iter().chain(&probe).chain(&toxiproxy).collect();
    for page in pages() {
        for m in options::mentions(&read(&page)).unwrap() {
            let known = match m.sub.as_deref() {
                Some("probe") => probe.contains(&m.option),
                Some("toxiproxy") => toxiproxy.contains(&m.option),
                Some(_) => main.contains(&m.option),
                None => {
                    any.contains(&m.option) || options::FOREIGN.iter().any(|(o, _)| *o == m.option)
                }
            };
            if !known {
                let of = match m.sub.as_deref() {
                    Some("") => "httpfault".to_string(),
                    Some(sub) => format!("httpfault {sub}"),
                    None => "httpfault (nor in options::FOREIGN)".to_string(),
                };
                problems.push(format!(
                    "{page}:{}: `{}` is not an option of {of}",
                    m.line, m.option
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Links between pages and to files of the repository resolve, anchors included.
#[test]
fn local_links_and_anchors_resolve() {
    // Generated by the lead from the step table (issue 25); linked before it lands.
    const PENDING: &[&str] = &["docs/plans.md"];
    let mut problems = Vec::new();
    for page in pages() {
        let text = read(&page);
        let dir = Path::new(&page).parent().unwrap_or(Path::new(""));
        for (n, line) in md::prose(&text) {
            for target in md::links(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let path = if file.is_empty() {
                    PathBuf::from(&page)
                } else {
                    normalize(&dir.join(file))
                };
                let shown = path.to_string_lossy().to_string();
                if !root().join(&path).exists() {
                    if !PENDING.contains(&shown.as_str()) {
                        problems.push(format!("{page}:{n}: `{target}`: no file {shown}"));
                    }
                    continue;
                }
                if !anchor.is_empty() && shown.ends_with(".md") {
                    let anchors = md::anchors(&read(&shown));
                    if !anchors.iter().any(|a| a == anchor) {
                        problems.push(format!(
                            "{page}:{n}: `{target}`: no heading #{anchor} in {shown}"
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// `a/b/../c` -> `a/c`, so links compare as paths from the root.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// The README stays a front page: short, with the two set-up commands.
#[test]
fn the_readme_is_a_front_page() {
    let readme = read("README.md");
    let lines = readme.lines().count();
    assert!(
        lines < 200,
        "README.md has {lines} lines (under 200: the rest goes to docs/)"
    );
    for cmd in ["make run", "make test"] {
        assert!(readme.contains(cmd), "README.md lost `{cmd}`");
    }
}

/// A file the docs write is used: by a later block of its page (`$ python3 retry.py`), or by
/// tests/packaging.sh, which runs the test files of the Python and JavaScript pages from the
/// installed packages.
#[test]
fn every_file_block_is_used() {
    let packaging = std::fs::read_to_string(root().join("tests/packaging.sh")).unwrap_or_default();
    let mut problems = Vec::new();
    for page in pages() {
        let blocks = md::blocks(&read(&page)).unwrap();
        for (i, b) in blocks.iter().enumerate() {
            let Some(name) = &b.file else { continue };
            let later = blocks[i + 1..]
                .iter()
                .any(|l| l.body.contains(name.as_str()));
            let packaged = packaging.contains(&format!("doc_block {page} {name}"));
            if !later && !packaged {
                problems.push(format!("{page}:{}: nothing uses the file {name}", b.line));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
