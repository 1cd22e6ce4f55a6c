//! Runs the blocks of one page, in order, in a directory of its own: sessions against servers
//! started on port 0, files written for later commands, Python and JavaScript run, the rest
//! checked for syntax. Each failure is a message naming the page, the line and what differed.

use super::md::Block;
use super::session::{self, Command};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long one command, script or readiness line may take.
const LIMIT: Duration = Duration::from_secs(60);
/// Ports below this are never servers of the docs (`--upstream http://127.0.0.1:1`: nothing
/// listens there).
const FIRST_DOC_PORT: u16 = 1024;

/// What the runs need from the machine.
pub struct Tools {
    /// The repository.
    pub root: PathBuf,
    /// A directory whose `httpfault` is the binary under test (first on PATH).
    pub bin_dir: PathBuf,
    /// The project's Python (target/venv: requests, httpx, grpcio).
    pub python: PathBuf,
    /// Where the pages' directories go.
    pub work: PathBuf,
}

/// A server a session started in the background.
struct Bg {
    job: u32,
    child: Child,
    alive: bool,
    /// The port the docs give it, and the one it got.
    doc: u16,
    real: u16,
    stderr: Arc<Mutex<String>>,
}

/// One page's run.
pub struct Page<'a> {
    name: String,
    dir: PathBuf,
    tools: &'a Tools,
    /// Doc port -> real port.
    ports: HashMap<u16, u16>,
    servers: Vec<Bg>,
    files: Vec<(String, String)>,
    pub failures: Vec<String>,
    pub ran: Counts,
}

/// How many blocks of each kind ran (or were checked).
#[derive(Default, Clone, Copy, Debug)]
pub struct Counts {
    pub commands: usize,
    pub servers: usize,
    pub python: usize,
    pub js: usize,
    pub sh: usize,
    pub files: usize,
    pub syntax: usize,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.commands += o.commands;
        self.servers += o.servers;
        self.python += o.python;
        self.js += o.js;
        self.sh += o.sh;
        self.files += o.files;
        self.syntax += o.syntax;
    }
}

impl<'a> Page<'a> {
    pub fn new(tools: &'a Tools, name: &str) -> Page<'a> {
        let stem = name.replace(['/', '.'], "_");
        let dir = tools.work.join(stem);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("node_modules")).expect("page directory");
        link_node_modules(&tools.root, &dir.join("node_modules"));
        Page {
            name: name.to_string(),
            dir,
            tools,
            ports: HashMap::new(),
            servers: Vec::new(),
            files: Vec::new(),
            failures: Vec::new(),
            ran: Counts::default(),
        }
    }

    fn fail(&mut self, line: usize, what: String) {
        self.failures.push(format!("{}:{line}: {what}", self.name));
    }

    /// Runs (or checks) one block.
    pub fn block(&mut self, b: &Block) {
        let known = [
            "console",
            "sh",
            "bash",
            "python",
            "js",
            "rust",
            "toml",
            "json",
            "yaml",
            "text",
            "dockerfile",
        ];
        if !known.contains(&b.lang.as_str()) {
            let lang = &b.lang;
            return self.fail(
                b.line,
                format!("a fence needs a kind from {known:?} (`{lang}` is not one)"),
            );
        }
        if let Some(name) = &b.file {
            self.files.push((name.clone(), b.body.clone()));
            self.ran.files += 1;
            return self.syntax(b);
        }
        match (b.lang.as_str(), b.no_run) {
            ("rust", _) => {} // tests/docs.rs binds them to tests/external
            ("text", _) => self.text(b),
            ("console", false) => self.console(b),
            ("python" | "js", false) => self.script(b),
            ("sh" | "bash", false) => self.sh(b),
            _ => self.syntax(b),
        }
    }

    /// `text` is not code: a command in it would never run.
    fn text(&mut self, b: &Block) {
        for (i, l) in b.body.lines().enumerate() {
            if l.starts_with("$ ") {
                self.fail(
                    b.line + 1 + i,
                    "a command in a ```text block: make it a ```console session (or \
                     ```sh no-run)"
                        .into(),
                );
            }
        }
    }

    fn console(&mut self, b: &Block) {
        let commands = match session::parse(&b.body, b.line + 1) {
            Ok(c) => c,
            Err(e) => return self.fail(b.line, e),
        };
        for c in &commands {
            self.command(c);
        }
    }

    fn command(&mut self, c: &Command) {
        let (code, _) = session::split_comment(&c.text);
        if let Some(jobs) = code.strip_prefix("kill %") {
            return self.kill_jobs(c.line, jobs);
        }
        let simple = session::simple_commands(code);
        let words = simple
            .first()
            .map(|s| session::program_and_args(s))
            .unwrap_or_default();
        let background = code.ends_with('&') && !code.ends_with("&&");
        let is_server = simple.len() == 1
            && words.first().is_some_and(|p| p == "httpfault")
            && words.get(1).map_or(true, |w| w != "probe");
        if background && !is_server {
            return self.fail(
                c.line,
                "only an `httpfault` server may run in the background (`&`)".into(),
            );
        }
        self.write_files();
        if is_server {
            return self.server(c, code.trim_end_matches('&').trim_end(), &words);
        }
        if let Err(e) = self.check_ports(code) {
            return self.fail(c.line, e);
        }
        self.ran.commands += 1;
        let code = self.subst(code);
        match self.run_shell(&code) {
            Err(e) => self.fail(c.line, format!("`{}`: {e}", c.text)),
            Ok((status, out)) => {
                let got = session::normalize(&self.unsubst(&out));
                match &c.expect {
                    Some(want) if !session::matches(want, &got) => self.fail(
                        c.line,
                        format!(
                            "`{}` printed\n{}\n--- but the docs show ---\n{want}",
                            c.text,
                            indent(&got)
                        ),
                    ),
                    None if !status.success() => self.fail(
                        c.line,
                        format!(
                            "`{}` failed ({status}) and the docs show no output:\n{}",
                            c.text,
                            indent(&got)
                        ),
                    ),
                    _ => {}
                }
            }
        }
    }

    /// A command starting with `httpfault`: a server (started on port 0 in the background, the
    /// docs' port mapped to its real one) if it prints its readiness line, else a command.
    fn server(&mut self, c: &Command, code: &str, words: &[String]) {
        let toxiproxy = words.get(1).is_some_and(|w| w == "toxiproxy");
        let (code, doc, control) = listen_on_port_0(code, toxiproxy);
        if let Err(e) = self.check_ports(&code) {
            return self.fail(c.line, e);
        }
        let code = self.subst(&code);
        let mut child = match self
            .process("bash")
            .args(["-c", &code])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
        {
            Ok(child) => child,
            Err(e) => return self.fail(c.line, format!("`{code}`: {e}")),
        };
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_done = drain(child.stderr.take().expect("piped"), stderr.clone());
        let (tx, rx) = mpsc::channel();
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        thread::spawn(move || {
            let mut first = String::new();
            let _ = out.read_line(&mut first);
            let _ = tx.send(first.clone());
            let mut rest = String::new();
            let _ = out.read_to_string(&mut rest);
            let _ = tx.send(rest);
        });
        let first = rx.recv_timeout(LIMIT).unwrap_or_default();
        let Some(real) = ready_port(&first) else {
            // Not a server: a command that ends (a usage error, --version, ...).
            self.ran.commands += 1;
            let status = wait(&mut child, LIMIT);
            let rest = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
            let _ = stderr_done.recv_timeout(Duration::from_secs(5));
            let err = stderr.lock().map(|s| s.clone()).unwrap_or_default();
            let got = session::normalize(&self.unsubst(&format!("{first}{rest}{err}")));
            let ok = match &c.expect {
                Some(want) => session::matches(want, &got),
                None => status.is_some_and(|s| s.success()),
            };
            if !ok {
                let want = c.expect.as_deref().unwrap_or("(nothing, and exit 0)");
                self.fail(
                    c.line,
                    format!(
                        "`{}` ({status:?}) printed\n{}\n--- but the docs show ---\n{want}",
                        c.text,
                        indent(&got)
                    ),
                );
            }
            return;
        };
        self.ran.servers += 1;
        if doc != 0 && self.servers.iter_mut().any(|s| s.alive && s.doc == doc) {
            stop(&mut child);
            return self.fail(
                c.line,
                format!("a server already listens on {doc} here: `kill %N` it first"),
            );
        }
        if doc != 0 {
            // `-l 0` in the docs: a port of its own, read from the readiness line or a file.
            self.ports.insert(doc, real);
        }
        let job = self
            .servers
            .iter()
            .filter(|s| s.alive)
            .map(|s| s.job)
            .max()
            .unwrap_or(0)
            + 1;
        if let Some(doc_control) = control {
            match control_port(&stderr) {
                Some(p) => {
                    self.ports.insert(doc_control, p);
                }
                None => self.fail(c.line, "no `control=` address in the server's log".into()),
            }
        }
        self.servers.push(Bg {
            job,
            child,
            alive: true,
            doc,
            real,
            stderr,
        });
        let got = session::normalize(&self.unsubst(&first));
        if let Some(want) = &c.expect {
            if !session::matches(want, &got) {
                self.fail(
                    c.line,
                    format!("`{}` printed `{got}`, the docs show `{want}`", c.text),
                );
            }
        }
    }

    fn kill_jobs(&mut self, line: usize, jobs: &str) {
        for job in jobs.split_whitespace().map(|j| j.trim_start_matches('%')) {
            let Ok(job) = job.parse::<u32>() else {
                return self.fail(line, format!("`kill %{jobs}`: not a job number"));
            };
            match self.servers.iter_mut().find(|s| s.alive && s.job == job) {
                Some(s) => {
                    stop(&mut s.child);
                    s.alive = false;
                }
                None => return self.fail(line, format!("`kill %{job}`: no such server here")),
            }
        }
    }

    /// A block of Python or JavaScript: run, and it must exit 0.
    fn script(&mut self, b: &Block) {
        let (name, program) = match b.lang.as_str() {
            "python" => {
                self.ran.python += 1;
                (format!("block-{}.py", b.line), self.tools.python.clone())
            }
            _ => {
                self.ran.js += 1;
                (format!("block-{}.mjs", b.line), PathBuf::from("node"))
            }
        };
        if let Err(e) = self.check_ports(&b.body) {
            return self.fail(b.line, e);
        }
        self.write_files();
        let path = self.dir.join(&name);
        std::fs::write(&path, self.subst(&b.body)).expect("write the block");
        let mut cmd = self.process(program.to_str().unwrap_or("node"));
        cmd.arg(&name);
        self.expect_success(b.line, cmd, &name);
    }

    /// A shell block that is not a session: a script that must exit 0 (no servers in it).
    fn sh(&mut self, b: &Block) {
        self.ran.sh += 1;
        if let Err(e) = self.check_ports(&b.body) {
            return self.fail(b.line, e);
        }
        self.write_files();
        let mut cmd = self.process("bash");
        cmd.args(["-e", "-c", &self.subst(&b.body)]);
        self.expect_success(b.line, cmd, "the script");
    }

    fn expect_success(&mut self, line: usize, mut cmd: Process, what: &str) {
        match output(&mut cmd, LIMIT) {
            Ok((Some(st), out)) if st.success() => drop(out),
            Ok((st, out)) => self.fail(line, format!("{what} failed ({st:?}):\n{}", indent(&out))),
            Err(e) => self.fail(line, format!("{what}: {e}")),
        }
    }

    /// Blocks that do not run: their syntax, by the language's own tools.
    fn syntax(&mut self, b: &Block) {
        self.ran.syntax += 1;
        let body = match b.lang.as_str() {
            "console" => match session::parse(&b.body, b.line + 1) {
                Ok(c) => c.iter().map(|c| c.text.clone() + "\n").collect(),
                Err(e) => return self.fail(b.line, e),
            },
            _ => b.body.clone(),
        };
        let file = self.dir.join(format!("syntax-{}", b.line));
        std::fs::write(&file, &body).expect("write the block");
        let f = file.to_string_lossy().to_string();
        let py = self.tools.python.to_string_lossy().to_string();
        let check: Vec<String> = match b.lang.as_str() {
            "console" | "sh" | "bash" => vec!["bash".into(), "-n".into(), f],
            "python" => vec![
                py,
                "-c".into(),
                "import ast,sys; ast.parse(open(sys.argv[1]).read())".into(),
                f,
            ],
            "js" => {
                let mjs = format!("{f}.mjs");
                let _ = std::fs::rename(&file, &mjs);
                vec!["node".into(), "--check".into(), mjs]
            }
            "toml" => vec![
                py,
                "-c".into(),
                "import tomllib,sys; tomllib.load(open(sys.argv[1],'rb'))".into(),
                f,
            ],
            "json" => vec![
                py,
                "-c".into(),
                "import json,sys; json.load(open(sys.argv[1]))".into(),
                f,
            ],
            "yaml" => vec![
                py,
                "-c".into(),
                "import yaml,sys; list(yaml.safe_load_all(open(sys.argv[1])))".into(),
                f,
            ],
            "dockerfile" => return self.dockerfile(b),
            _ => return, // text and rust: not here
        };
        let mut cmd = self.process(&check[0]);
        cmd.args(&check[1..]);
        self.expect_success(b.line, cmd, &format!("the {} syntax check", b.lang));
    }

    fn dockerfile(&mut self, b: &Block) {
        const INSTRUCTIONS: &[&str] = &[
            "FROM",
            "COPY",
            "ADD",
            "RUN",
            "CMD",
            "ENTRYPOINT",
            "EXPOSE",
            "ENV",
            "ARG",
            "USER",
            "WORKDIR",
            "LABEL",
            "HEALTHCHECK",
            "STOPSIGNAL",
            "VOLUME",
            "SHELL",
            "ONBUILD",
        ];
        let mut continued = false;
        for (i, l) in b.body.lines().enumerate() {
            let t = l.trim();
            let first = t.split_whitespace().next().unwrap_or("");
            if !continued && !t.is_empty() && !t.starts_with('#') && !INSTRUCTIONS.contains(&first)
            {
                self.fail(
                    b.line + 1 + i,
                    format!("not a Dockerfile instruction: `{first}`"),
                );
            }
            continued = t.ends_with('\\');
        }
    }

    /// A fixed port must be a server of this page: `127.0.0.1:9000` with no server given
    /// 9000 would reach whatever else listens there.
    fn check_ports(&self, text: &str) -> Result<(), String> {
        for port in doc_ports(text) {
            if port >= FIRST_DOC_PORT && !self.ports.contains_key(&port) && !self.is_real(port) {
                return Err(format!(
                    "port {port} is used before a server of this page listens on it (start one \
                     with `$ httpfault -l {port} ... &`)"
                ));
            }
        }
        Ok(())
    }

    fn is_real(&self, port: u16) -> bool {
        self.ports.values().any(|&p| p == port)
    }

    fn subst(&self, text: &str) -> String {
        let mut t = text.to_string();
        for (&doc, &real) in &self.ports {
            t = replace_number(&t, doc, real);
        }
        t
    }

    fn unsubst(&self, text: &str) -> String {
        let mut t = text.to_string();
        for (&doc, &real) in &self.ports {
            t = replace_number(&t, real, doc);
        }
        t
    }

    fn write_files(&self) {
        for (name, body) in &self.files {
            let path = self.dir.join(name);
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            std::fs::write(&path, self.subst(body)).expect("write a file of the docs");
        }
    }

    /// A process in the page's directory with the docs' environment.
    fn process(&self, program: &str) -> Process {
        let t = self.tools;
        let path = format!(
            "{}:{}:{}",
            t.bin_dir.display(),
            t.python
                .parent()
                .map(Path::display)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Process::new(program);
        cmd.current_dir(&self.dir)
            .env("PATH", path)
            .env("HTTPFAULT_BIN", t.bin_dir.join("httpfault"))
            .env("PYTHONPATH", t.root.join("packaging/python/python"))
            .env("NODE_PATH", t.root.join("target/node/node_modules"))
            .env("NO_COLOR", "1")
            .env("TERM", "dumb")
            .env("SHELL", "/bin/bash")
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a command line as a terminal would (a pty, so curl orders its output and shows no
    /// progress meter as it does for a person): (exit status, what the terminal showed).
    fn run_shell(&self, code: &str) -> Result<(ExitStatus, String), String> {
        let mut cmd = self.process("script");
        cmd.args(["-qec", code, "/dev/null"]).process_group(0);
        match output(&mut cmd, LIMIT)? {
            (Some(st), out) => Ok((st, out)),
            (None, out) => Err(format!(
                "still running after {} s, killed; it printed:\n{}",
                LIMIT.as_secs(),
                indent(&out)
            )),
        }
    }

    /// What the page's servers wrote on stderr (for a failure's explanation).
    pub fn server_logs(&self) -> String {
        let mut s = String::new();
        for b in &self.servers {
            let log = b.stderr.lock().map(|l| l.clone()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(8).collect();
            s.push_str(&format!(
                "  server %{} (port {} -> {}):\n",
                b.job, b.doc, b.real
            ));
            for l in tail.iter().rev() {
                s.push_str(&format!("    {l}\n"));
            }
        }
        s
    }
}

impl Drop for Page<'_> {
    fn drop(&mut self) {
        for s in &mut self.servers {
            if s.alive {
                stop(&mut s.child);
            }
        }
    }
}

/// `-l`/`--listen` (and `--control`) given port 0, and what the docs called them: returns the
/// new command, the docs' listening port and the docs' control port. Without `-l` the server
/// listens on the default (9000; 8474 for `httpfault toxiproxy`). `-q` goes, so the log names
/// the control listener.
pub fn listen_on_port_0(code: &str, toxiproxy: bool) -> (String, u16, Option<u16>) {
    let spans = word_spans(code);
    let mut out = String::new();
    let mut last = 0;
    let (mut doc, mut control) = (None, None);
    let mut i = 0;
    while i < spans.len() {
        let (s, e) = spans[i];
        let w = &code[s..e];
        let (value, next) = match w {
            "-l" | "--listen" | "--control" => (spans.get(i + 1).copied(), 1),
            _ if w.starts_with("--listen=") => (Some((s + "--listen=".len(), e)), 0),
            "-q" | "--quiet" => {
                out.push_str(&code[last..s]);
                last = e;
                i += 1;
                continue;
            }
            _ => (None, 0),
        };
        if let Some((vs, ve)) = value {
            let v = &code[vs..ve];
            let (host, port) = match v.rsplit_once(':') {
                Some((h, p)) => (format!("{h}:"), p),
                None => (String::new(), v),
            };
            if let Ok(p) = port.parse::<u16>() {
                out.push_str(&code[last..vs]);
                out.push_str(&format!("{host}0"));
                last = ve;
                if w == "--control" {
                    control = Some(p);
                } else {
                    doc = Some(p);
                }
            }
            i += next;
        }
        i += 1;
    }
    out.push_str(&code[last..]);
    if doc.is_none() {
        let (word, flag, port) = if toxiproxy {
            ("toxiproxy", "--listen", 8474)
        } else {
            ("httpfault", "-l", 9000)
        };
        let at = word_spans(&out)
            .into_iter()
            .find(|&(s, e)| &out[s..e] == word)
            .map(|(_, e)| e);
        if let Some(at) = at {
            out.insert_str(at, &format!(" {flag} 127.0.0.1:0"));
        }
        doc = Some(port);
    }
    (out, doc.unwrap_or(9000), control)
}

/// Byte ranges of the words of a command (quotes kept inside their words).
fn word_spans(code: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut single, mut double) = (false, false);
    let mut start = None;
    for (i, c) in code.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            _ => {}
        }
        if c.is_whitespace() && !single && !double {
            if let Some(s) = start.take() {
                out.push((s, i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, code.len()));
    }
    out
}

/// The ports a text names: `HOST:PORT` for loopback and `localhost` hosts, and `-l PORT`.
pub fn doc_ports(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for host in ["127.0.0.1:", "localhost:", "[::1]:", "-l ", "-p "] {
        let mut rest = text;
        while let Some(at) = rest.find(host) {
            rest = &rest[at + host.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(p) = digits.parse() {
                out.push(p);
            }
        }
    }
    out
}

/// Replaces the number `from` by `to` where it stands alone (no digit or letter around it).
pub fn replace_number(text: &str, from: u16, to: u16) -> String {
    let (from, to) = (from.to_string(), to.to_string());
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (at, _) in text.match_indices(&from) {
        if at < done {
            continue;
        }
        let before = text[..at].chars().last();
        let after = text[at + from.len()..].chars().next();
        if !alnum(before) && !alnum(after) {
            out.push_str(&text[done..at]);
            out.push_str(&to);
            done = at + from.len();
        }
    }
    out.push_str(&text[done..]);
    out
}

/// The port of a readiness line, `listening on SCHEME://HOST:PORT`.
fn ready_port(line: &str) -> Option<u16> {
    let rest = line.trim().strip_prefix("listening on ")?;
    rest.rsplit_once(':')?.1.trim_end_matches('/').parse().ok()
}

/// The control listener's port from the server's `listening` log event.
fn control_port(stderr: &Arc<Mutex<String>>) -> Option<u16> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let log = stderr.lock().map(|s| s.clone()).unwrap_or_default();
        for key in ["control=", "\"control\":\""] {
            if let Some(at) = log.find(key) {
                let addr: String = log[at + key.len()..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"')
                    .collect();
                return addr.rsplit_once(':')?.1.parse().ok();
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Copies what a pipe gives into a string until the pipe closes; the receiver hears when.
fn drain<R: Read + Send + 'static>(mut r: R, into: Arc<Mutex<String>>) -> mpsc::Receiver<()> {
    let (done, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = r.read(&mut buf) {
            if let Ok(mut s) = into.lock() {
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
        let _ = done.send(());
    });
    rx
}

/// Runs a command with a deadline: its exit status (`None`: killed at the deadline) and its
/// stdout and stderr, one after the other.
fn output(cmd: &mut Process, limit: Duration) -> Result<(Option<ExitStatus>, String), String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let out = Arc::new(Mutex::new(String::new()));
    let err = Arc::new(Mutex::new(String::new()));
    let out_done = drain(child.stdout.take().expect("piped"), out.clone());
    let err_done = drain(child.stderr.take().expect("piped"), err.clone());
    let status = wait(&mut child, limit);
    // The pipes close once the process is gone (unless something it started holds them).
    for done in [out_done, err_done] {
        let _ = done.recv_timeout(Duration::from_secs(5));
    }
    let text = format!(
        "{}{}",
        out.lock().map(|s| s.clone()).unwrap_or_default(),
        err.lock().map(|s| s.clone()).unwrap_or_default()
    );
    Ok((status, text))
}

/// Waits for a child until the deadline; past it the child (and its process group, when it
/// leads one) is killed.
fn wait(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            _ => {
                stop(child);
                return None;
            }
        }
    }
}

/// Kills a child this run started, with its process group (its own: `process_group(0)`).
fn stop(child: &mut Child) {
    let _ = Process::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// `node_modules` for the page's JavaScript: the npm package as `httpfault`, and the packages
/// of target/node (ES modules do not read NODE_PATH).
fn link_node_modules(root: &Path, into: &Path) {
    let _ = std::os::unix::fs::symlink(root.join("packaging/npm"), into.join("httpfault"));
    if let Ok(entries) = std::fs::read_dir(root.join("target/node/node_modules")) {
        for e in entries.flatten() {
            let _ = std::os::unix::fs::symlink(e.path(), into.join(e.file_name()));
        }
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_goes_to_port_0() {
        assert_eq!(
            listen_on_port_0("httpfault --routes api.routes", false),
            (
                "httpfault -l 127.0.0.1:0 --routes api.routes".to_string(),
                9000,
                None
            )
        );
        assert_eq!(
            listen_on_port_0("httpfault -q -l 8080 status=201", false),
            ("httpfault  -l 0 status=201".to_string(), 8080, None)
        );
        assert_eq!(
            listen_on_port_0(
                "httpfault --tcp --upstream 127.0.0.1:6379 --listen=127.0.0.1:9000 --control 127.0.0.1:9001 'reset=1'",
                false
            ),
            (
                "httpfault --tcp --upstream 127.0.0.1:6379 --listen=127.0.0.1:0 --control 127.0.0.1:0 'reset=1'".to_string(),
                9000,
                Some(9001)
            )
        );
        assert_eq!(
            listen_on_port_0("httpfault toxiproxy", true).0,
            "httpfault toxiproxy --listen 127.0.0.1:0"
        );
    }

    #[test]
    fn ports_are_replaced_where_they_stand_alone() {
        assert_eq!(
            replace_number("127.0.0.1:9000/x 19000 9000ms -p 9000", 9000, 41234),
            "127.0.0.1:41234/x 19000 9000ms -p 41234"
        );
        assert_eq!(
            doc_ports("curl 127.0.0.1:9000/ localhost:9443 -l 8080 body=9000"),
            [9000, 9443, 8080]
        );
        assert_eq!(ready_port("listening on https://[::1]:4433\n"), Some(4433));
    }
}
