//! httpfault: an HTTP/1.1 server that breaks on purpose.
//!
//! `main` parses the command line, runs the server and maps the result to an exit code:
//! 0 normal end, 1 a failure on the server's side, 2 a usage error.
#![deny(unsafe_code)]

mod cli;
mod conn;
mod log;
mod plan;
mod request;
mod respond;
mod rng;
mod server;
mod sys;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1).collect()) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("httpfault: error: {e}");
            return ExitCode::from(2);
        }
    };
    match command {
        cli::Command::Help => print_and_exit(cli::HELP),
        cli::Command::Version => print_and_exit(&format!("httpfault {}\n", cli::VERSION)),
        cli::Command::Run(config) => match server::run(*config) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("httpfault: error: {e}");
                ExitCode::from(1)
            }
        },
    }
}

/// Prints help or version; a closed stdout (`httpfault -h | head -1`) is not an error.
fn print_and_exit(text: &str) -> ExitCode {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::SUCCESS
}
