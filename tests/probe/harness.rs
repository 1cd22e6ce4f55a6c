//! What tests/probe.rs and tests/probe_clients.rs share: `httpfault probe` run with a
//! deadline, its table read row by row, and where the clients and tools are. Included by
//! `#[path]`, with `mod common` beside it.

#![allow(dead_code)]

use super::common::{Json, BIN};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Longest a probe run may take in these tests before it is killed and the test fails.
pub const RUN: Duration = Duration::from_secs(120);

pub struct Probe {
    pub cmd: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub seconds: f64,
}

impl Probe {
    /// The table row of a scenario: (grade, attempts, reason).
    pub fn row(&self, name: &str) -> (String, usize, String) {
        for line in self.stdout.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some(name) {
                continue;
            }
            let grade = words.next().unwrap_or_default().to_string();
            let attempts = words
                .next()
                .and_then(|w| w.parse().ok())
                .unwrap_or(usize::MAX);
            let _time = words.next();
            let reason = words.collect::<Vec<_>>().join(" ");
            return (grade, attempts, reason);
        }
        panic!("no row for {name}\n{self}");
    }

    /// Asserts the grade of `name` and that its reason contains each of `facts`.
    pub fn expect(&self, name: &str, grade: &str, facts: &[&str]) {
        let (g, _, reason) = self.row(name);
        assert_eq!(g, grade, "{name}: grade\n{self}");
        for fact in facts {
            assert!(
                reason.contains(fact),
                "{name}: reason lacks {fact:?}\n{self}"
            );
        }
    }
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nexit: {:?} after {:.1} s\nstdout:\n{}\nstderr:\n{}",
            self.cmd, self.code, self.seconds, self.stdout, self.stderr
        )
    }
}

/// `httpfault probe ARGS...`, with a deadline.
pub fn probe(args: &[&str]) -> Probe {
    let cmd = format!("httpfault probe {}", args.join(" "));
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .arg("probe")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start httpfault probe");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if started.elapsed() > RUN {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{cmd}` did not finish within {RUN:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Probe {
        cmd,
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Is the tool there? Missing: the test fails under CI=true and is skipped, loudly, elsewhere.
pub fn have(path: &str, why: &str) -> bool {
    // Go has no `--version`: it prints its version with `go version`.
    let probe_arg = if path.ends_with("go") {
        "version"
    } else {
        "--version"
    };
    let found = Command::new(path)
        .arg(probe_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(!ci(), "{path} is missing and CI=true ({why})");
        eprintln!("SKIPPED: {path} is missing ({why})");
    }
    found
}

pub fn python() -> Option<String> {
    let p = root().join("target/venv/bin/python");
    let p = p.to_string_lossy().into_owned();
    have(&p, "run `make deps` for target/venv with requests").then_some(p)
}

pub fn script(name: &str) -> String {
    root()
        .join("tests/probe")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

pub fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("httpfault-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

pub fn array<'a>(j: &'a Json, key: &str) -> &'a [Json] {
    match j.get(key) {
        Some(Json::Arr(a)) => a,
        other => panic!("{key}: not an array: {other:?}"),
    }
}

/// What one scenario of a `--json` report says the command and the server did.
pub struct Facts {
    /// The exit status; `None` when it was killed or ended by a signal.
    pub exit: Option<i64>,
    pub killed: bool,
    pub stdout_bytes: u64,
    pub stderr: String,
    /// Each attempt: (connection, protocol version, status, how it ended, Last-Event-ID).
    pub attempts: Vec<(u64, String, u64, String, Option<String>)>,
}

impl Facts {
    /// How the attempts ended, in order ("reset", "complete", ...).
    pub fn ends(&self) -> Vec<&str> {
        self.attempts.iter().map(|a| a.3.as_str()).collect()
    }

    /// Each attempt's Last-Event-ID.
    pub fn last_event_ids(&self) -> Vec<Option<&str>> {
        self.attempts.iter().map(|a| a.4.as_deref()).collect()
    }
}

/// The facts of scenario `name` (or `baseline`) in the `--json` report at `path`.
pub fn facts(path: &std::path::Path, name: &str) -> Facts {
    let text = std::fs::read_to_string(path).unwrap();
    let j = super::common::parse_json(&text).unwrap();
    let run = if name == "baseline" {
        j.get("baseline").unwrap()
    } else {
        array(&j, "scenarios")
            .iter()
            .find(|s| s.str("name") == Some(name))
            .unwrap_or_else(|| panic!("no scenario {name} in {}", path.display()))
    };
    let attempts = array(run, "attempts")
        .iter()
        .map(|a| {
            let lei = match a.get("headers") {
                Some(Json::Arr(h)) => h.iter().find_map(|pair| match pair {
                    Json::Arr(kv) if kv.len() == 2 => match (&kv[0], &kv[1]) {
                        (Json::Str(k), Json::Str(v)) if k.eq_ignore_ascii_case("last-event-id") => {
                            Some(v.clone())
                        }
                        _ => None,
                    },
                    _ => None,
                }),
                _ => None,
            };
            (
                a.num("conn").unwrap_or(0.0) as u64,
                a.str("version").unwrap_or("").to_string(),
                a.num("status").unwrap_or(0.0) as u64,
                a.str("end").unwrap_or("open").to_string(),
                lei,
            )
        })
        .collect();
    Facts {
        exit: run.num("exit").map(|n| n as i64),
        killed: matches!(run.get("killed"), Some(Json::Bool(true))),
        stdout_bytes: run.num("stdout_bytes").unwrap_or(0.0) as u64,
        stderr: run.str("stderr_tail").unwrap_or("").to_string(),
        attempts,
    }
}
