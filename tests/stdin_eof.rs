//! `--exit-on-stdin-eof`: the server lives as long as the write end of its stdin pipe (the
//! Python and Node helpers hold it, so a test runner killed by SIGKILL takes its server along).

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Instant;

#[test]
fn exits_0_when_stdin_closes_and_not_before() {
    let mut child = Command::new(BIN)
        .args(["-l", "127.0.0.1:0", "--exit-on-stdin-eof", "status=201"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn httpfault");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(STARTUP).expect("readiness line");
    let addr = parse_ready_line(line.trim_end()).expect("listening on http://HOST:PORT");

    // Bytes on stdin are not an end: the server goes on serving.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"anything\n").unwrap();
    let (bytes, _) = exchange(addr, &get_close_request("/"), IO);
    assert!(bytes.starts_with(b"HTTP/1.1 201 "), "{}", show(&bytes));
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited while stdin was open"
    );

    drop(stdin);
    let deadline = Instant::now() + EXIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running {EXIT:?} after its stdin closed");
        }
        thread::sleep(ms(10));
    };
    assert_eq!(status.code(), Some(0));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("event=stdin-eof"), "{err}");
}

#[test]
fn without_the_option_a_closed_stdin_changes_nothing() {
    let mut server = Server::start(&["-q", "status=202"]);
    // Server::start gives the child a null stdin (EOF at once): it must still serve.
    let (bytes, _) = exchange(server.addr, &get_close_request("/"), IO);
    assert!(bytes.starts_with(b"HTTP/1.1 202 "), "{}", show(&bytes));
    assert!(server.wait_exit(ms(1)).is_none());
}
