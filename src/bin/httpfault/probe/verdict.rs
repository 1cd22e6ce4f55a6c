//! Verdicts: a pure function from what happened in one scenario (the server's journal, the
//! command's exit status, time and standard output) to a grade and a reason in numbers.

use super::catalogue::{Rule, Scenario, EXTRA};
use httpfault::End;
use std::fmt;

/// How bad a verdict is; ordered, so `--fail-on` compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grade {
    Ok,
    Warn,
    Bad,
}

impl Grade {
    pub fn name(self) -> &'static str {
        match self {
            Grade::Ok => "ok",
            Grade::Warn => "warn",
            Grade::Bad => "bad",
        }
    }
}

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    /// Ended by a signal it was not sent by the probe.
    Signal(i32),
    /// Still running at `--timeout`: the probe killed its process group.
    Killed,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit {c}"),
            Exit::Signal(s) => write!(f, "signal {s}"),
            Exit::Killed => f.write_str("killed"),
        }
    }
}

/// One request as the server saw it, on the command's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    /// Seconds from the command's start to the request head's arrival.
    pub t: f64,
    /// The connection it came on (counted by the server from 1).
    pub conn: u64,
    pub method: String,
    /// The status sent, 0 when none was.
    pub status: u16,
    pub end: Option<End>,
    /// It got the healthy answer (the scenario's faults were used up).
    pub healthy: bool,
    pub idempotency_key: Option<String>,
    /// Its `Accept-Encoding` names gzip.
    pub accepts_gzip: bool,
}

/// What happened in one scenario.
#[derive(Clone, Copy, Debug)]
pub struct Outcome<'a> {
    pub exit: Exit,
    pub seconds: f64,
    pub stdout: &'a [u8],
    pub attempts: &'a [Attempt],
    /// `--method`: the method the command uses, when the journal should not decide it.
    pub method: Option<&'a str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub grade: Grade,
    pub reason: String,
}

fn ok(reason: String) -> Verdict {
    Verdict {
        grade: Grade::Ok,
        reason,
    }
}

fn warn(reason: String) -> Verdict {
    Verdict {
        grade: Grade::Warn,
        reason,
    }
}

fn bad(reason: String) -> Verdict {
    Verdict {
        grade: Grade::Bad,
        reason,
    }
}

/// What the command printed, against the healthy body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Empty,
    /// The healthy body, once or more (a command that fetches several times).
    Healthy,
    /// A strict prefix of it (of the body repeated): this many bytes.
    Prefix(usize),
    /// The healthy body followed by the `extra-bytes` scenario's extra bytes.
    WithExtra,
    /// Some bytes, then the whole body: what a broken attempt (or an error answer) wrote stays
    /// before the good one. The count of those first bytes, and whether they are a prefix of
    /// the body.
    Spliced(usize, bool),
    /// Something else: its length and the first byte that differs.
    Other {
        len: usize,
        differs_at: usize,
    },
}

fn classify(out: &[u8], healthy: &[u8]) -> Output {
    if out.is_empty() {
        return Output::Empty;
    }
    if healthy.is_empty() {
        return Output::Other {
            len: out.len(),
            differs_at: 0,
        };
    }
    if out.len() == healthy.len() + EXTRA.len()
        && out.starts_with(healthy)
        && out.ends_with(EXTRA.as_bytes())
    {
        return Output::WithExtra;
    }
    let repeats = |bytes: &[u8]| {
        bytes
            .iter()
            .enumerate()
            .position(|(i, b)| *b != healthy[i % healthy.len()])
    };
    let hl = healthy.len();
    let first = out.len().saturating_sub(hl);
    if out.len() > hl && out.ends_with(healthy) {
        match repeats(&out[..first]) {
            None if first % hl != 0 => return Output::Spliced(first, true),
            Some(_) => return Output::Spliced(first, false),
            None => {}
        }
    }
    match repeats(out) {
        Some(i) => Output::Other {
            len: out.len(),
            differs_at: i,
        },
        None if out.len() % hl == 0 => Output::Healthy,
        None => Output::Prefix(out.len()),
    }
}

fn idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE"
    )
}

/// Rules where the server read the request and the response was lost or broken: sending a
/// non-idempotent request again may do its work twice.
fn response_lost(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::Cut
            | Rule::NoBytes { .. }
            | Rule::Hang
            | Rule::Dribble
            | Rule::BadGzip
            | Rule::Extra
            | Rule::NoCloseNotify
    )
}

/// Retries closer together than this did not wait: no backoff worth the name is shorter, and
/// a busy machine can take tens of milliseconds between an answer and a retry sent at once.
const NO_WAIT: f64 = 0.1;

fn secs(s: f64) -> String {
    format!("{s:.2} s")
}

fn gaps(attempts: &[Attempt]) -> Vec<f64> {
    attempts.windows(2).map(|w| w[1].t - w[0].t).collect()
}

fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "retried 2 times, gaps 0.50 s and 1.00 s".
fn retried(attempts: &[Attempt]) -> String {
    let g = gaps(attempts);
    let n = g.len();
    let times = match n {
        1 => "1 time".to_string(),
        _ => format!("{n} times"),
    };
    let gap_text = if n <= 4 {
        list(&g.iter().map(|s| secs(*s)).collect::<Vec<_>>())
    } else {
        let min = g.iter().copied().fold(f64::INFINITY, f64::min);
        let max = g.iter().copied().fold(0.0, f64::max);
        format!("{} to {}", secs(min), secs(max))
    };
    let word = if n == 1 { "gap" } else { "gaps" };
    format!("retried {times}, {word} {gap_text}")
}

/// Judges exit 0: the command says it succeeded; did it get the healthy body?
fn accepted(out: Output, healthy_len: usize, got_healthy: bool) -> Result<(), Verdict> {
    match out {
        Output::Healthy | Output::Empty if got_healthy => Ok(()),
        Output::Healthy => Err(bad(
            "printed the healthy body although the server never sent it whole".into(),
        )),
        Output::Empty => Err(bad(
            "exit 0 with no output although no attempt got the whole body: failure not reported"
                .into(),
        )),
        Output::Prefix(n) => Err(bad(format!(
            "exit 0 with {n} of {healthy_len} bytes: truncated body accepted"
        ))),
        Output::Spliced(k, true) => Err(bad(format!(
            "exit 0 with {} bytes: the first {k} bytes of a broken attempt, then the whole body (the broken part was kept)",
            k + healthy_len
        ))),
        Output::Spliced(k, false) => Err(bad(format!(
            "exit 0 with {} bytes: {k} bytes that are not the body, then the whole body",
            k + healthy_len
        ))),
        Output::WithExtra => Err(bad(format!(
            "exit 0 with the {} bytes past Content-Length appended to the body",
            EXTRA.len()
        ))),
        Output::Other { len, differs_at } => Err(bad(format!(
            "exit 0 with {len} bytes that are not the healthy body (first difference at byte {differs_at})"
        ))),
    }
}

/// "32768 of 65536 bytes" or "no output" or "13 other bytes".
fn printed(out: Output, stdout_len: usize, healthy_len: usize) -> String {
    match out {
        Output::Empty => "no output".into(),
        Output::Spliced(k, _) => format!("{} bytes", k + healthy_len),
        Output::Prefix(n) => format!("{n} of {healthy_len} bytes"),
        Output::Healthy => format!("{stdout_len} bytes (the healthy body)"),
        _ => format!("{stdout_len} bytes"),
    }
}

/// The verdict on one scenario. `healthy` is the healthy body.
pub fn judge(s: &Scenario, o: &Outcome, healthy: &[u8]) -> Verdict {
    let a = o.attempts;
    let n = a.len();
    let hl = healthy.len();
    let out = classify(o.stdout, healthy);
    let shown = printed(out, o.stdout.len(), hl);
    let got_healthy = a.iter().any(|x| x.healthy && x.end == Some(End::Complete));
    let method = o
        .method
        .map(str::to_string)
        .or_else(|| a.first().map(|x| x.method.clone()))
        .unwrap_or_else(|| "GET".into());

    if o.exit == Exit::Killed {
        let after = secs(o.seconds);
        return bad(match s.rule {
            Rule::ConnectTimeout => format!(
                "hung until killed after {after}: no connect timeout (or retries that outlast it)"
            ),
            Rule::Dribble => format!(
                "still reading the dribbled body when killed after {after}: no overall deadline ({shown})"
            ),
            Rule::Refused => format!(
                "still running when killed after {after} although nothing listens (retrying the refused connect?)"
            ),
            Rule::RedirectLoop if n > 1 => format!(
                "followed {} redirects until killed after {after}: no redirect limit",
                n - 1
            ),
            Rule::Transient { status, .. } | Rule::Always { status } if n > 0 => {
                let since = secs(o.seconds - a[n - 1].t);
                let tries = if n == 1 { "1 attempt".to_string() } else { format!("{n} attempts") };
                format!(
                    "still running when killed after {after}, {since} after the last {status} ({tries}): its waits outlast the deadline"
                )
            }
            Rule::HandshakeCut { what } | Rule::BadCert { what } if n > 1 => format!(
                "still running when killed after {after}, after {n} connections that met {what}: no deadline over its retries"
            ),
            _ => format!("hung until killed after {after}: no timeout ({shown})"),
        });
    }
    if s.answers() && n == 0 {
        return warn(format!("made no request ({}, {shown})", o.exit));
    }
    if response_lost(s.rule) && n > 1 && !idempotent(&method) {
        // --method speaks for every attempt; otherwise count those the journal shows.
        let same = match o.method {
            Some(_) => n,
            None => a.iter().filter(|x| x.method == method).count(),
        };
        let keys: Vec<_> = a.iter().map(|x| x.idempotency_key.as_deref()).collect();
        let one_key = keys[0].is_some() && keys.iter().all(|k| *k == keys[0]);
        if same > 1 && !one_key {
            return bad(format!(
                "{method} sent {same} times after the server had read it: duplicate side effects"
            ));
        }
    }
    let exit0 = o.exit == Exit::Code(0);
    let exit = o.exit;
    // For a fault that loses the response: exit 0 (with the healthy body, after retries or
    // not), or a failure after retries; None for a failure at the first attempt.
    let settled = || {
        if exit0 {
            if let Err(v) = accepted(out, hl, got_healthy) {
                return Some(v);
            }
            return Some(ok(if n > 1 {
                format!("{}, then succeeded", retried(a))
            } else {
                format!("exit 0 with {shown}")
            }));
        }
        (n > 1).then(|| ok(format!("{}, then failed with {exit}", retried(a))))
    };
    match s.rule {
        Rule::Cut | Rule::Hang | Rule::Dribble | Rule::NoBytes { .. } => {
            if let Some(v) = settled() {
                return v;
            }
            match s.rule {
                Rule::NoBytes { what } if idempotent(&method) => warn(format!(
                    "gave up at once ({exit}) on {what} that a retry would have fixed"
                )),
                Rule::NoBytes { what } => ok(format!(
                    "did not resend the {method} after {what} ({exit}): the server may have acted on it"
                )),
                Rule::Hang | Rule::Dribble => ok(format!(
                    "gave up after {} with {exit} ({shown})",
                    secs(o.seconds)
                )),
                _ if out == Output::Empty => ok(format!("failed with {exit}, no output")),
                _ => ok(format!("failed with {exit} after {shown}")),
            }
        }
        Rule::Transient {
            status,
            retry_after,
        } => {
            if n == 1 {
                return warn(if exit0 {
                    format!("gave up at once on a {status} that a retry would have fixed, and exited 0 with {shown}: error not reported")
                } else {
                    format!("gave up at once ({exit}) on a {status} that a retry would have fixed")
                });
            }
            let gap = a[1].t - a[0].t;
            if let Some(ra) = retry_after {
                if gap < f64::from(ra) * 0.9 {
                    return warn(format!(
                        "ignored Retry-After: {ra} (retried after {})",
                        secs(gap)
                    ));
                }
            } else if gaps(a).iter().all(|g| *g < NO_WAIT) {
                return warn(format!("retried without waiting (gap {gap:.3} s)"));
            }
            let ra = retry_after
                .map(|r| format!(" (Retry-After: {r})"))
                .unwrap_or_default();
            if exit0 {
                if let Err(v) = accepted(out, hl, got_healthy) {
                    return v;
                }
                return ok(format!("{}{ra}, then succeeded", retried(a)));
            }
            if got_healthy {
                return warn(format!(
                    "{}{ra} and got the healthy answer, but ended with {exit}",
                    retried(a)
                ));
            }
            ok(format!("{}{ra}, then failed with {exit}", retried(a)))
        }
        Rule::Always { status } => {
            if n == 1 {
                return if exit0 {
                    warn(format!(
                        "exit 0 after a {status} with {shown}: the error was not reported"
                    ))
                } else {
                    ok(format!("failed with {exit} on a {status}, no retry"))
                };
            }
            if gaps(a).iter().all(|g| *g < NO_WAIT) {
                return warn(format!(
                    "retried {} times without waiting (gaps under 0.1 s)",
                    n - 1
                ));
            }
            if exit0 {
                warn(format!(
                    "{}, then exit 0: the {status} was not reported",
                    retried(a)
                ))
            } else {
                ok(format!("{}, then gave up with {exit}", retried(a)))
            }
        }
        Rule::Stale => {
            let hit = (1..n).find(|&i| {
                a[..i].iter().any(|p| p.conn == a[i].conn)
                    && a[i].status == 0
                    && matches!(a[i].end, Some(End::Close | End::Reset))
            });
            let Some(i) = hit else {
                let conns = {
                    let mut c: Vec<u64> = a.iter().map(|x| x.conn).collect();
                    c.sort_unstable();
                    c.dedup();
                    c.len()
                };
                if exit0 {
                    if let Err(v) = accepted(out, hl, got_healthy) {
                        return v;
                    }
                }
                let what = format!(
                    "{n} request{} on {conns} connection{}: no kept-alive connection was reused",
                    if n == 1 { "" } else { "s" },
                    if conns == 1 { "" } else { "s" }
                );
                return if exit0 {
                    ok(what)
                } else {
                    warn(format!("{what}, yet {exit}"))
                };
            };
            let resent = a[i + 1..]
                .iter()
                .any(|x| x.conn != a[i].conn && x.end == Some(End::Complete));
            if exit0 {
                if let Err(v) = accepted(out, hl, got_healthy) {
                    return v;
                }
                return ok(if resent {
                    format!(
                        "request {} met the closed kept-alive connection; resent on a new one, then succeeded",
                        i + 1
                    )
                } else {
                    format!(
                        "request {} met the closed kept-alive connection; exit 0 without resending",
                        i + 1
                    )
                });
            }
            warn(format!(
                "{exit} after request {} met the closed kept-alive connection: resending it on a new connection would have fixed it",
                i + 1
            ))
        }
        Rule::BadGzip => {
            if !exit0 {
                return ok(if n > 1 {
                    format!("{}, then failed with {exit}", retried(a))
                } else {
                    format!("rejected the gzip body with a wrong CRC: {exit}, {shown}")
                });
            }
            if out == Output::Healthy && got_healthy {
                return ok(format!("{}, then succeeded", retried(a)));
            }
            if o.stdout.starts_with(&[0x1f, 0x8b]) {
                let len = o.stdout.len();
                return if a[0].accepts_gzip {
                    warn(format!(
                        "asked for gzip but printed the {len} encoded bytes undecoded"
                    ))
                } else {
                    ok(format!(
                        "did not ask for gzip and printed the {len} encoded bytes as sent"
                    ))
                };
            }
            if out == Output::Healthy {
                return warn(
                    "exit 0 with a gzip body whose CRC is wrong: integrity not checked".into(),
                );
            }
            accepted(out, hl, got_healthy)
                .err()
                .unwrap_or_else(|| ok(format!("exit 0 with {shown}")))
        }
        Rule::Extra => {
            if !exit0 {
                return warn(format!(
                    "failed with {exit} although the response was whole ({} extra bytes after it)",
                    EXTRA.len()
                ));
            }
            if out == Output::Healthy || (out == Output::Empty && a.iter().all(|x| x.end == Some(End::Complete))) {
                return ok(format!(
                    "read the {hl}-byte body and ignored the {} bytes past Content-Length",
                    EXTRA.len()
                ));
            }
            accepted(out, hl, got_healthy)
                .err()
                .unwrap_or_else(|| ok(format!("exit 0 with {shown}")))
        }
        Rule::Refused => {
            if exit0 {
                bad(format!("exit 0 although nothing listens ({shown})"))
            } else {
                ok(format!(
                    "failed with {exit} after {}: nothing listens",
                    secs(o.seconds)
                ))
            }
        }
        Rule::ConnectTimeout => {
            if exit0 {
                bad(format!("exit 0 although the connect never completed ({shown})"))
            } else {
                ok(format!(
                    "gave up after {} with {exit}: the connect never completed",
                    secs(o.seconds)
                ))
            }
        }
        Rule::RedirectLoop => match (n, exit0) {
            (1, true) => warn(format!(
                "did not follow the redirect and exited 0 with the 302's {shown}: error not reported"
            )),
            (1, false) => ok(format!("did not follow the redirect; failed with {exit}")),
            (_, true) => warn(format!(
                "followed {} redirects, then exited 0 with {shown}",
                n - 1
            )),
            (_, false) => ok(format!(
                "followed {} redirects, then gave up with {exit}",
                n - 1
            )),
        },
        Rule::BadCert { what } => {
            let (hs, reqs) = split_handshakes(a);
            if let Some(r) = reqs.first() {
                let times = match reqs.len() {
                    1 => String::new(),
                    k => format!(" {k} times"),
                };
                return bad(format!(
                    "accepted {what}: sent {}{times} over it, then {exit} with {shown}",
                    r.method
                ));
            }
            if hs.is_empty() {
                return warn(format!("made no TLS connection ({exit}, {shown})"));
            }
            if exit0 {
                return bad(format!(
                    "exit 0 with {shown} although it refused {what}: failure not reported"
                ));
            }
            // A client may check the name after the handshake (curl does): what counts is
            // that no request went over it.
            ok(format!("refused {what} ({exit}), no request sent"))
        }
        Rule::HandshakeCut { what } => {
            let (hs, _) = split_handshakes(a);
            if hs.is_empty() {
                return warn(format!("made no TLS connection ({exit}, {shown})"));
            }
            if exit0 {
                return bad(format!(
                    "exit 0 with {shown} although every handshake failed ({what}): failure not reported"
                ));
            }
            if hs.len() > 1 {
                return ok(format!("{}, then failed with {exit}", retried(&hs)));
            }
            ok(format!(
                "failed with {exit} after {} on {what}",
                secs(o.seconds)
            ))
        }
        Rule::NoCloseNotify => {
            if exit0 {
                if let (Output::Prefix(k), false) = (out, got_healthy) {
                    return warn(format!(
                        "exit 0 with {k} of {hl} bytes: a body ended by a FIN without close_notify accepted as complete (TLS truncation not detected)"
                    ));
                }
            }
            if let Some(v) = settled() {
                return v;
            }
            ok(format!(
                "failed with {exit} after {shown}: the missing close_notify was noticed"
            ))
        }
    }
}

/// The method of a journal entry that is a TLS handshake fault, not a request.
const HANDSHAKE: &str = "TLS";

/// The handshake entries and the requests, apart.
fn split_handshakes(a: &[Attempt]) -> (Vec<Attempt>, Vec<Attempt>) {
    a.iter().cloned().partition(|x| x.method == HANDSHAKE)
}

#[cfg(test)]
mod tests {
    use super::super::catalogue::find;
    use super::*;

    const HL: usize = 1024;

    fn healthy() -> Vec<u8> {
        (0..HL).map(|i| b"abcdefghij"[i % 10]).collect()
    }

    /// Attempts at these times, on connections 1, 2, ...; the last one healthy when `ok_last`.
    fn tries(times: &[f64], status: u16, end: End, ok_last: bool) -> Vec<Attempt> {
        let n = times.len();
        times
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let last = i + 1 == n && i > 0 && ok_last;
                Attempt {
                    t: *t,
                    conn: i as u64 + 1,
                    method: "GET".into(),
                    status: if last { 200 } else { status },
                    end: Some(if last { End::Complete } else { end }),
                    healthy: last,
                    idempotency_key: None,
                    accepts_gzip: false,
                }
            })
            .collect()
    }

    fn run(name: &str, exit: Exit, stdout: &[u8], attempts: &[Attempt]) -> Verdict {
        let o = Outcome {
            exit,
            seconds: 2.5,
            stdout,
            attempts,
            method: None,
        };
        judge(find(name).unwrap(), &o, &healthy())
    }

    #[test]
    fn a_truncated_body_accepted_is_bad_with_the_numbers() {
        let h = healthy();
        let a = tries(&[0.01], 200, End::Reset, false);
        let v = run("reset-mid-body", Exit::Code(0), &h[..512], &a);
        assert_eq!(v.grade, Grade::Bad);
        assert_eq!(
            v.reason,
            "exit 0 with 512 of 1024 bytes: truncated body accepted"
        );
        let v = run("close-mid-body", Exit::Code(0), b"", &a);
        assert_eq!(v.grade, Grade::Bad, "{v:?}");
    }

    #[test]
    fn a_retry_appended_to_output_already_written_is_bad() {
        // curl --retry writing to stdout: what the broken attempt wrote stays.
        let h = healthy();
        let a = tries(&[0.0, 1.0], 200, End::Reset, true);
        let v = run(
            "reset-mid-body",
            Exit::Code(0),
            &[&h[..512], &h[..]].concat(),
            &a,
        );
        assert_eq!(v.grade, Grade::Bad);
        assert!(
            v.reason
                .starts_with("exit 0 with 1536 bytes: the first 512 bytes of a broken attempt"),
            "{v:?}"
        );
    }

    #[test]
    fn failing_loudly_on_a_cut_is_ok_and_retrying_says_the_gaps() {
        let h = healthy();
        let a = tries(&[0.01], 200, End::Reset, false);
        let v = run("reset-mid-body", Exit::Code(56), &h[..512], &a);
        assert_eq!(v, ok("failed with exit 56 after 512 of 1024 bytes".into()));
        let a = tries(&[0.0, 0.5, 1.5], 200, End::Reset, true);
        let v = run("reset-mid-body", Exit::Code(0), &h, &a);
        assert_eq!(
            v,
            ok("retried 2 times, gaps 0.50 s and 1.00 s, then succeeded".into())
        );
    }

    #[test]
    fn a_post_resent_after_the_server_read_it_is_bad_unless_one_idempotency_key() {
        let h = healthy();
        let mut a = tries(&[0.0, 0.5, 1.0], 200, End::Reset, true);
        for x in &mut a {
            x.method = "POST".into();
        }
        let v = run("reset-mid-body", Exit::Code(0), &h, &a);
        assert_eq!(
            v,
            bad("POST sent 3 times after the server had read it: duplicate side effects".into())
        );
        for x in &mut a {
            x.idempotency_key = Some("k1".into());
        }
        assert_eq!(
            run("reset-mid-body", Exit::Code(0), &h, &a).grade,
            Grade::Ok
        );
        // --method overrides what the journal says.
        let mut get = tries(&[0.0, 0.5], 200, End::Reset, true);
        get[0].method = "GET".into();
        let o = Outcome {
            exit: Exit::Code(0),
            seconds: 1.0,
            stdout: &h,
            attempts: &get,
            method: Some("PATCH"),
        };
        let v = judge(find("empty-reply").unwrap(), &o, &h);
        assert_eq!(v.grade, Grade::Bad, "{v:?}");
        assert!(v.reason.starts_with("PATCH sent 2 times"), "{v:?}");
    }

    #[test]
    fn killed_is_bad_and_says_which_timeout_is_missing() {
        let a = tries(&[0.0], 0, End::Hang, false);
        let v = run("hang-before-head", Exit::Killed, b"", &a);
        assert_eq!(
            v,
            bad("hung until killed after 2.50 s: no timeout (no output)".into())
        );
        let v = run("refused", Exit::Killed, b"", &[]);
        assert_eq!(v.grade, Grade::Bad);
        assert!(v
            .reason
            .starts_with("still running when killed after 2.50 s although nothing listens"));
        let v = run("connect-timeout", Exit::Killed, b"", &[]);
        assert!(v
            .reason
            .starts_with("hung until killed after 2.50 s: no connect timeout"));
        let h = healthy();
        let v = run(
            "dribble",
            Exit::Killed,
            &h[..100],
            &tries(&[0.0], 200, End::PeerGone, false),
        );
        assert_eq!(v.grade, Grade::Bad);
        assert!(
            v.reason.contains("no overall deadline (100 of 1024 bytes)"),
            "{v:?}"
        );
        let waiting = tries(&[0.5], 503, End::Complete, false);
        let v = run("503-retry-after", Exit::Killed, b"", &waiting);
        assert_eq!(
            v,
            bad("still running when killed after 2.50 s, 2.00 s after the last 503 (1 attempt): its waits outlast the deadline".into())
        );
        let many = tries(&[0.0, 0.01, 0.02, 0.03], 302, End::Complete, false);
        let v = run("redirect-loop", Exit::Killed, b"", &many);
        assert_eq!(
            v,
            bad("followed 3 redirects until killed after 2.50 s: no redirect limit".into())
        );
    }

    #[test]
    fn a_timeout_on_a_hang_is_ok() {
        let a = tries(&[0.0], 0, End::PeerGone, false);
        let v = run("hang-before-head", Exit::Code(28), b"", &a);
        assert_eq!(
            v,
            ok("gave up after 2.50 s with exit 28 (no output)".into())
        );
    }

    #[test]
    fn no_retry_on_nothing_at_all_is_a_warning_for_get_and_right_for_post() {
        let mut a = tries(&[0.0], 0, End::Close, false);
        let v = run("empty-reply", Exit::Code(52), b"", &a);
        assert_eq!(
            v,
            warn(
                "gave up at once (exit 52) on an empty reply that a retry would have fixed".into()
            )
        );
        a[0].method = "POST".into();
        let v = run("empty-reply", Exit::Code(52), b"", &a);
        assert_eq!(v.grade, Grade::Ok, "{v:?}");
    }

    #[test]
    fn transient_statuses_want_a_retry_that_honours_retry_after() {
        let h = healthy();
        let one = tries(&[0.0], 503, End::Complete, false);
        let v = run("503-once", Exit::Code(22), b"", &one);
        assert_eq!(
            v,
            warn("gave up at once (exit 22) on a 503 that a retry would have fixed".into())
        );
        let v = run("503-once", Exit::Code(0), b"Hello, world!", &one);
        assert_eq!(v.grade, Grade::Warn);
        assert!(v.reason.contains("exited 0 with 13 bytes"), "{v:?}");
        let fast = tries(&[0.0, 0.1], 503, End::Complete, true);
        let v = run("503-retry-after", Exit::Code(0), &h, &fast);
        assert_eq!(
            v,
            warn("ignored Retry-After: 2 (retried after 0.10 s)".into())
        );
        let instant = tries(&[0.0, 0.001], 503, End::Complete, true);
        let busy = tries(&[0.0, 0.04], 503, End::Complete, true);
        assert_eq!(run("503-once", Exit::Code(0), &h, &busy).grade, Grade::Warn);
        let v = run("503-once", Exit::Code(0), &h, &instant);
        assert_eq!(v, warn("retried without waiting (gap 0.001 s)".into()));
        let polite = tries(&[0.0, 2.01], 503, End::Complete, true);
        let v = run("503-retry-after", Exit::Code(0), &h, &polite);
        assert_eq!(
            v,
            ok("retried 1 time, gap 2.01 s (Retry-After: 2), then succeeded".into())
        );
    }

    #[test]
    fn always_500_grades_reporting_and_backoff() {
        let one = tries(&[0.0], 500, End::Complete, false);
        assert_eq!(
            run("500-always", Exit::Code(22), b"", &one),
            ok("failed with exit 22 on a 500, no retry".into())
        );
        assert_eq!(
            run("500-always", Exit::Code(0), b"Hello, world!", &one).grade,
            Grade::Warn
        );
        let hammer = tries(&[0.0, 0.001, 0.002, 0.003], 500, End::Complete, false);
        assert_eq!(
            run("500-always", Exit::Code(22), b"", &hammer),
            warn("retried 3 times without waiting (gaps under 0.1 s)".into())
        );
        // urllib3's Retry: no wait before the first retry, backoff after.
        let urllib3 = tries(&[0.0, 0.001, 1.0, 3.0], 500, End::Complete, false);
        assert_eq!(
            run("500-always", Exit::Code(1), b"", &urllib3).grade,
            Grade::Ok
        );
        let backoff = tries(&[0.0, 1.0, 3.0, 7.0], 500, End::Complete, false);
        assert_eq!(
            run("500-always", Exit::Code(22), b"", &backoff),
            ok("retried 3 times, gaps 1.00 s, 2.00 s and 4.00 s, then gave up with exit 22".into())
        );
    }

    #[test]
    fn stale_keepalive_needs_a_resend_on_a_new_connection() {
        let h = healthy();
        let mut two = h.clone();
        two.extend_from_slice(&h);
        let mut a = tries(&[0.0, 0.1, 0.1], 200, End::Complete, false);
        for x in &mut a {
            x.healthy = true;
        }
        a[1].conn = 1;
        a[1].status = 0;
        a[1].end = Some(End::Close);
        a[2].conn = 2;
        let v = run("stale-keepalive", Exit::Code(0), &two, &a);
        assert_eq!(
            v,
            ok("request 2 met the closed kept-alive connection; resent on a new one, then succeeded".into())
        );
        let v = run("stale-keepalive", Exit::Code(56), &h, &a[..2]);
        assert_eq!(v.grade, Grade::Warn, "{v:?}");
        let single = &a[..1];
        let v = run("stale-keepalive", Exit::Code(0), &h, single);
        assert_eq!(
            v,
            ok("1 request on 1 connection: no kept-alive connection was reused".into())
        );
    }

    #[test]
    fn gzip_extra_refused_connect_and_redirects() {
        let h = healthy();
        let one = tries(&[0.0], 200, End::Complete, false);
        let v = run("bad-gzip", Exit::Code(0), &[0x1f, 0x8b, 8, 0], &one);
        assert_eq!(
            v,
            ok("did not ask for gzip and printed the 4 encoded bytes as sent".into())
        );
        assert_eq!(run("bad-gzip", Exit::Code(0), &h, &one).grade, Grade::Warn);
        assert_eq!(run("bad-gzip", Exit::Code(1), b"", &one).grade, Grade::Ok);
        let mut more = h.clone();
        more.extend_from_slice(EXTRA.as_bytes());
        assert_eq!(
            run("extra-bytes", Exit::Code(0), &more, &one),
            bad("exit 0 with the 31 bytes past Content-Length appended to the body".into())
        );
        assert_eq!(run("extra-bytes", Exit::Code(0), &h, &one).grade, Grade::Ok);
        assert_eq!(
            run("refused", Exit::Code(7), b"", &[]),
            ok("failed with exit 7 after 2.50 s: nothing listens".into())
        );
        assert_eq!(run("refused", Exit::Code(0), b"", &[]).grade, Grade::Bad);
        assert_eq!(
            run("connect-timeout", Exit::Code(28), b"", &[]).grade,
            Grade::Ok
        );
        let loops = tries(&[0.0, 0.01, 0.02], 302, End::Complete, false);
        assert_eq!(
            run("redirect-loop", Exit::Code(47), b"", &loops),
            ok("followed 2 redirects, then gave up with exit 47".into())
        );
        assert_eq!(
            run(
                "redirect-loop",
                Exit::Code(0),
                b"Hello, world!",
                &loops[..1]
            )
            .grade,
            Grade::Warn
        );
    }

    #[test]
    fn output_is_classified_against_the_repeated_body() {
        let h = healthy();
        assert_eq!(classify(b"", &h), Output::Empty);
        assert_eq!(classify(&h, &h), Output::Healthy);
        assert_eq!(
            classify(&[h.clone(), h.clone()].concat(), &h),
            Output::Healthy
        );
        assert_eq!(classify(&h[..6], &h), Output::Prefix(6));
        let spliced = [&h[..100], &h[..]].concat();
        assert_eq!(classify(&spliced, &h), Output::Spliced(100, true));
        let after_error = [&b"Hello, world!"[..], &h[..]].concat();
        assert_eq!(classify(&after_error, &h), Output::Spliced(13, false));
        assert_eq!(
            classify(&[&h[..], &h[..], &h[..10]].concat(), &h),
            Output::Prefix(2058)
        );
        assert_eq!(
            classify(b"abX", &h),
            Output::Other {
                len: 3,
                differs_at: 2
            }
        );
        assert_eq!(
            classify(&[h.clone(), EXTRA.as_bytes().to_vec()].concat(), &h),
            Output::WithExtra
        );
    }

    #[test]
    fn a_server_scenario_without_a_request_says_so() {
        let v = run("503-once", Exit::Code(0), b"", &[]);
        assert_eq!(v, warn("made no request (exit 0, no output)".into()));
    }

    /// Handshake entries (method TLS) that ended so.
    fn handshakes(times: &[f64], end: End) -> Vec<Attempt> {
        let mut a = tries(times, 0, end, false);
        for x in &mut a {
            x.method = HANDSHAKE.into();
        }
        a
    }

    #[test]
    fn a_bad_certificate_must_be_refused_before_any_request() {
        for name in [
            "tls-expired",
            "tls-wrong-host",
            "tls-self-signed",
            "tls-untrusted",
        ] {
            let v = run(
                name,
                Exit::Code(60),
                b"",
                &handshakes(&[0.1], End::PeerGone),
            );
            assert_eq!(v.grade, Grade::Ok, "{name}: {v:?}");
            assert!(v.reason.contains("exit 60"), "{v:?}");
            // curl -k: the handshake completes and the GET gets the body.
            let mut a = handshakes(&[0.1], End::Complete);
            a.extend(tries(&[0.12], 200, End::Complete, false));
            let v = run(name, Exit::Code(0), &healthy(), &a);
            assert_eq!(v.grade, Grade::Bad, "{name}: {v:?}");
            assert!(v.reason.starts_with("accepted "), "{v:?}");
            assert!(v.reason.contains("sent GET over it"), "{v:?}");
            // Sent the request and only then failed: still bad.
            let v = run(name, Exit::Code(1), b"", &a);
            assert_eq!(v.grade, Grade::Bad, "{name}: {v:?}");
        }
        let v = run(
            "tls-expired",
            Exit::Code(0),
            b"",
            &handshakes(&[0.1], End::PeerGone),
        );
        assert_eq!(v.grade, Grade::Bad, "refused but exit 0: {v:?}");
        let v = run("tls-expired", Exit::Code(7), b"", &[]);
        assert_eq!(v.grade, Grade::Warn, "never connected: {v:?}");
        let v = run(
            "tls-expired",
            Exit::Code(1),
            b"",
            &handshakes(&[0.1], End::Complete),
        );
        assert_eq!(
            v.grade,
            Grade::Ok,
            "name checked after the handshake: {v:?}"
        );
    }

    #[test]
    fn a_broken_handshake_must_fail_loudly() {
        let v = run(
            "tls-reset",
            Exit::Code(35),
            b"",
            &handshakes(&[0.1], End::Reset),
        );
        assert_eq!(v.grade, Grade::Ok, "{v:?}");
        assert!(v.reason.contains("exit 35"), "{v:?}");
        let v = run(
            "tls-reset",
            Exit::Code(35),
            b"",
            &handshakes(&[0.1, 0.6, 1.6], End::Reset),
        );
        assert_eq!(v.grade, Grade::Ok, "{v:?}");
        assert!(
            v.reason.contains("retried 2 times, gaps 0.50 s and 1.00 s"),
            "{v:?}"
        );
        let v = run(
            "tls-reset",
            Exit::Code(0),
            b"",
            &handshakes(&[0.1], End::Reset),
        );
        assert_eq!(v.grade, Grade::Bad, "{v:?}");
        let v = run(
            "tls-hang",
            Exit::Code(28),
            b"",
            &handshakes(&[0.1], End::Hang),
        );
        assert_eq!(v.grade, Grade::Ok, "{v:?}");
        let v = run(
            "tls-hang",
            Exit::Killed,
            b"",
            &handshakes(&[0.1], End::Hang),
        );
        assert_eq!(v.grade, Grade::Bad, "{v:?}");
        assert!(v.reason.contains("no timeout"), "{v:?}");
    }

    #[test]
    fn a_cut_without_close_notify_accepted_is_a_warning() {
        let half = &healthy()[..HL / 2];
        let cut = tries(&[0.1], 200, End::Close, false);
        let v = run("tls-no-close-notify", Exit::Code(0), half, &cut);
        assert_eq!(v.grade, Grade::Warn, "{v:?}");
        assert!(v.reason.contains("512 of 1024 bytes"), "{v:?}");
        let v = run("tls-no-close-notify", Exit::Code(56), half, &cut);
        assert_eq!(v.grade, Grade::Ok, "{v:?}");
        let v = run(
            "tls-no-close-notify",
            Exit::Code(0),
            &healthy(),
            &tries(&[0.1, 0.5], 200, End::Close, true),
        );
        assert_eq!(v.grade, Grade::Ok, "noticed and retried: {v:?}");
        let v = run("tls-no-close-notify", Exit::Code(0), &healthy(), &cut);
        assert_eq!(v.grade, Grade::Bad, "a body never sent whole: {v:?}");
    }
}
