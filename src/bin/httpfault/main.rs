//! The `httpfault` binary: the command line, signals, the readiness line, the port file, the
//! file-descriptor limit and exit codes. Serving is the library's.
//!
//! Exit status: 0 normal end (one-shot done, `--exit-after`, `--exit-on-stdin-eof`, SIGINT or
//! SIGTERM); 1 a failure on the server's own side (address in use); 2 a usage error.

mod cli;
mod probe;

use httpfault::process as signals;

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::mpsc;

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "probe") {
        return probe::main(std::env::args_os().skip(2).collect());
    }
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let command = match args.first() {
        Some(a) if a == "toxiproxy" => cli::parse_toxiproxy(args[1..].to_vec()),
        _ => cli::parse(args),
    };
    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            // A dead or full stderr must not turn a usage error into a panic.
            let _ = writeln!(std::io::stderr().lock(), "httpfault: error: {message}");
            ExitCode::from(code)
        }
    }
}

/// Why the server stopped.
enum Stop {
    Signal(&'static str),
    ExitAfter,
    OnceDone,
    StdinEof,
}

fn run(command: Result<cli::Command, cli::UsageError>) -> Result<(), (u8, String)> {
    let options = match command {
        Ok(cli::Command::Run(options)) => *options,
        Ok(cli::Command::Help) => return print(&cli::help()),
        Ok(cli::Command::ToxiproxyHelp) => return print(cli::TOXIPROXY_HELP),
        Ok(cli::Command::Version) => return print(&format!("httpfault {}\n", cli::VERSION)),
        Err(e) => return Err((2, e.to_string())),
    };
    // Before any thread starts, so every thread inherits the mask and the stop signals wait
    // for the one thread that takes them.
    signals::block_stop_signals().map_err(|e| (1, format!("cannot block signals: {e}")))?;
    let _ = signals::raise_fd_limit();
    let (tx, rx) = mpsc::channel();
    let done_tx = tx.clone();
    let builder = options
        .builder()
        .map_err(|e| (2, e.to_string()))?
        .on_done(move || {
            let _ = done_tx.send(Stop::OnceDone);
        });
    let server = builder.start().map_err(|e| {
        let code = if e.is_usage() { 2 } else { 1 };
        (code, e.to_string())
    })?;
    let addr = server.addr();
    if let Some(path) = &options.port_file {
        std::fs::write(path, format!("{}\n", addr.port())).map_err(|e| {
            (
                1,
                format!("cannot write port file '{}': {e}", path.display()),
            )
        })?;
    }
    if let (Some(path), Some(pem)) = (&options.cert_out, server.ca_pem()) {
        std::fs::write(path, pem).map_err(|e| {
            (
                1,
                format!("cannot write --cert-out file '{}': {e}", path.display()),
            )
        })?;
    }
    {
        let mut out = std::io::stdout().lock();
        // TCP mode speaks no HTTP: its address is not an http:// URL.
        let scheme = match (options.tcp, server.is_tls()) {
            (true, _) => "tcp",
            (false, true) => "https",
            (false, false) => "http",
        };
        let _ = writeln!(out, "listening on {scheme}://{addr}");
        let _ = out.flush();
    }
    let signal_tx = tx.clone();
    spawn(move || {
        if let Ok(name) = signals::wait_for_stop_signal() {
            let _ = signal_tx.send(Stop::Signal(name));
        }
    })?;
    if let Some(after) = options.exit_after {
        let timer_tx = tx.clone();
        spawn(move || {
            std::thread::sleep(after);
            let _ = timer_tx.send(Stop::ExitAfter);
        })?;
    }
    if options.exit_on_stdin_eof {
        // The package helpers (Python, Node) hold the write end of this pipe: when their process
        // dies, even by SIGKILL, the kernel closes it and the server goes too.
        let eof_tx = tx.clone();
        spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 256];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            let _ = eof_tx.send(Stop::StdinEof);
        })?;
    }
    drop(tx);
    // The signal thread holds a sender for the life of the process, so this cannot fail.
    let stop = rx.recv().unwrap_or(Stop::Signal("SIGTERM"));
    if !options.quiet {
        let line = match stop {
            Stop::Signal(name) => format!("httpfault: event=shutdown signal={name}\n"),
            Stop::ExitAfter => "httpfault: event=exit-after\n".to_string(),
            Stop::OnceDone => "httpfault: event=once-done\n".to_string(),
            Stop::StdinEof => "httpfault: event=stdin-eof\n".to_string(),
        };
        let line = if options.json_log() {
            line.replace("httpfault: event=", "{\"event\":\"")
                .replace(" signal=", "\",\"signal\":\"")
                .trim_end()
                .to_string()
                + "\"}\n"
        } else {
            line
        };
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
    // Stopping joins the connection threads (a second at most for a stuck one); the process
    // exits right after either way.
    drop(server);
    Ok(())
}

fn spawn(f: impl FnOnce() + Send + 'static) -> Result<(), (u8, String)> {
    std::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(f)
        .map(drop)
        .map_err(|e| (1, format!("cannot start a thread: {e}")))
}

/// Prints help or version; a closed stdout (`httpfault -h | head -1`) is not an error.
fn print(text: &str) -> Result<(), (u8, String)> {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}
