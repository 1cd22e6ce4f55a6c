//! One small pure function per rule of the catalogue, each from the facts of one run to its
//! verdict. Each reason states what was seen, in numbers.

use super::super::catalogue::{Rule, EXTRA, LOOP_TARGET};
use super::output::Output;
use super::{
    bad, count, gaps, idempotent, na, ok, retried, secs, times, warn, Attempt, Facts, Verdict,
    HANDSHAKE, NO_WAIT,
};
use httpfault::End;

/// The command said it succeeded (exit 0): did it print what the healthy run printed, with
/// every request answered whole (`whole`)?
fn exit0_output(f: &Facts, whole: bool) -> Result<(), Verdict> {
    let hl = f.healthy_len;
    let len = f.o.stdout.len();
    match f.out {
        Output::Same if whole => Ok(()),
        Output::Same if f.b.output.is_empty() => Err(bad(format!(
            "exit 0 with no output although {}: failure not reported",
            not_whole(f)
        ))),
        Output::Same => Err(bad(format!(
            "printed what the healthy run printed although {}",
            not_whole(f)
        ))),
        Output::Empty => Err(bad(format!(
            "exit 0 with no output where the healthy run printed {} bytes{}",
            f.b.output.len(),
            if whole { "" } else { ": failure not reported" }
        ))),
        Output::Fewer { whole: k, of } => Err(warn(format!(
            "exit 0 with {k} of the healthy run's {of} bodies: the failed request was dropped and \
             not reported"
        ))),
        Output::Partial {
            kept, others: 0, ..
        } => Err(bad(format!(
            "exit 0 with {kept} of {hl} bytes: truncated body accepted"
        ))),
        Output::Partial {
            kept,
            then_whole: true,
            ..
        } if f.extra > 0 => Err(bad(format!(
            "exit 0 with {len} bytes: the first {kept} bytes of a broken attempt, then the whole \
             body (the broken part was kept)"
        ))),
        // Several bodies (the filler repeats, so which one was cut cannot be told).
        Output::Partial { kept, .. } => Err(bad(format!(
            "exit 0 with {len} bytes, a body cut at {kept} of {hl} bytes among them: truncated \
             body accepted"
        ))),
        Output::Corrupt { at } => Err(bad(format!(
            "exit 0 with a corrupted body ({len} bytes, byte {at} differs from the healthy body)"
        ))),
        Output::WithExtra => Err(bad(format!(
            "exit 0 with the {} bytes past Content-Length appended to the body",
            EXTRA.len()
        ))),
        Output::ErrorBody { .. } => {
            Err(warn(format!("exit 0 with {}: error not reported", f.shown)))
        }
        Output::Encoded | Output::Other { .. } => Err(other_output(f, whole)),
    }
}

/// "no attempt got the whole body", "1 of its 2 requests never got the whole body".
fn not_whole(f: &Facts) -> String {
    match (f.b.requests, f.served) {
        (0 | 1, _) => "no attempt got the whole body".into(),
        (n, k) => format!(
            "{} of its {n} requests never got the whole body",
            n.saturating_sub(k)
        ),
    }
}

fn other_output(f: &Facts, whole: bool) -> Verdict {
    let Output::Other { differs_at } = f.out else {
        return bad(format!("exit 0 with {}: not the healthy body", f.shown));
    };
    let what = format!(
        "{} bytes that are not what the healthy run printed ({} bytes; first difference at \
         byte {differs_at})",
        f.o.stdout.len(),
        f.b.output.len()
    );
    if whole {
        warn(format!(
            "exit 0 with {what}, although every request got its whole answer"
        ))
    } else {
        bad(format!("exit 0 with {what}"))
    }
}

/// A verdict from `exit0_output`, or `ok(then)` when the output was right.
fn exit0_or(f: &Facts, whole: bool, then: String) -> Verdict {
    match exit0_output(f, whole) {
        Ok(()) => ok(then),
        Err(v) => v,
    }
}

/// "gave up at once (exit 52) on an empty reply that a retry would have fixed", or for a
/// command of several requests, whose later requests are its own, "did not retry ...".
/// `exit` is left out when the reason goes on to say how the command ended.
fn gave_up(f: &Facts, what: &str, exit: bool) -> String {
    let exit = match exit {
        true => format!(" ({})", f.exit),
        false => String::new(),
    };
    if f.b.requests > 1 {
        format!("did not retry{exit} {what} that a retry would have fixed")
    } else {
        format!("gave up at once{exit} on {what} that a retry would have fixed")
    }
}

/// Cut, Hang, Dribble, NoBytes: the response was lost once; failing loudly or retrying to the
/// whole body is right, exit 0 with less is not.
pub fn lost(f: &Facts) -> Verdict {
    let exit = f.exit;
    if f.exit0 {
        let then = match f.extra {
            0 => format!("exit 0 with {}", f.shown),
            _ => format!("{}, then succeeded", f.retried()),
        };
        return exit0_or(f, f.all_served(), then);
    }
    if f.extra > 0 {
        if f.all_served() {
            return warn(format!(
                "{} and got the whole body, but ended with {exit}",
                f.retried()
            ));
        }
        return ok(format!("{}, then failed with {exit}", f.retried()));
    }
    match f.s.rule {
        Rule::NoBytes { what } if idempotent(&f.method) => warn(gave_up(f, what, true)),
        Rule::NoBytes { what } => ok(format!(
            "did not resend the {} after {what} ({exit}): the server may have acted on it",
            f.method
        )),
        Rule::Hang | Rule::Dribble => ok(format!(
            "gave up after {} with {exit} ({})",
            secs(f.o.seconds),
            f.shown
        )),
        _ if f.out == Output::Empty || f.o.stdout.is_empty() => {
            ok(format!("failed with {exit}, no output"))
        }
        _ => ok(format!("failed with {exit} after {}", f.shown)),
    }
}

/// A transient status once (`status`, with `Retry-After` seconds if any): a retry fixes it.
pub fn transient(f: &Facts, status: u16, retry_after: Option<u32>) -> Verdict {
    let exit = f.exit;
    if f.extra == 0 {
        let what = format!("a {status}");
        return warn(if f.exit0 {
            format!(
                "{}, and exited 0 with {}: error not reported",
                gave_up(f, &what, false),
                f.shown
            )
        } else {
            gave_up(f, &what, true)
        });
    }
    let chain = f.chain();
    let gap = chain[1].t - chain[0].t;
    match retry_after {
        Some(ra) if gap < f64::from(ra) * 0.9 => {
            return warn(format!(
                "ignored Retry-After: {ra} (retried after {})",
                secs(gap)
            ));
        }
        None if gaps(&chain).iter().all(|g| *g < NO_WAIT) => {
            return warn(format!("retried without waiting (gap {gap:.3} s)"));
        }
        _ => {}
    }
    let ra = retry_after
        .map(|r| format!(" (Retry-After: {r})"))
        .unwrap_or_default();
    if f.exit0 {
        let then = format!("{}{ra}, then succeeded", f.retried());
        return exit0_or(f, f.all_served(), then);
    }
    if f.all_served() {
        return warn(format!(
            "{}{ra} and got the healthy answer, but ended with {exit}",
            f.retried()
        ));
    }
    ok(format!("{}{ra}, then failed with {exit}", f.retried()))
}

/// The same error status every time: report it, retry with backoff or not at all.
pub fn always(f: &Facts, status: u16) -> Verdict {
    let exit = f.exit;
    if f.extra == 0 {
        let answers = match f.n {
            1 => format!("a {status}"),
            n => format!("{n} answers of {status}"),
        };
        return if f.exit0 {
            warn(format!(
                "exit 0 after {answers} with {}: the error was not reported",
                f.shown
            ))
        } else {
            ok(format!("failed with {exit} on {answers}, no retry"))
        };
    }
    if gaps(&f.chain()).iter().all(|g| *g < NO_WAIT) {
        return warn(format!(
            "retried {} without waiting (gaps under 0.1 s)",
            times(f.extra)
        ));
    }
    if f.exit0 {
        warn(format!(
            "{}, then exit 0: the {status} was not reported",
            f.retried()
        ))
    } else {
        ok(format!("{}, then gave up with {exit}", f.retried()))
    }
}

/// Keep-alive connections are closed when reused: a request that meets one must be sent
/// again on a new connection. Only a command that reuses connections can meet it.
pub fn stale(f: &Facts) -> Verdict {
    if !f.b.reused() {
        return na(format!(
            "not exercised: in the healthy run it made {} on {}, reusing none",
            count(f.b.requests, "request"),
            count(f.b.connections, "connection")
        ));
    }
    let a = &f.req;
    let hit = (1..a.len()).find(|&i| {
        a[..i].iter().any(|p| p.conn == a[i].conn)
            && a[i].status == 0
            && matches!(a[i].end, Some(End::Close | End::Reset))
    });
    let Some(i) = hit else {
        return na(format!(
            "not exercised: no request met a closed kept-alive connection ({} on {} this time; \
             {})",
            count(f.n, "request"),
            count(super::connections(a), "connection"),
            f.exit
        ));
    };
    let nth = i + 1;
    if !f.exit0 {
        return warn(format!(
            "{} after request {nth} met the closed kept-alive connection: resending it on a new \
             connection would have fixed it",
            f.exit
        ));
    }
    let resent = a[i + 1..]
        .iter()
        .any(|x| x.conn != a[i].conn && x.end == Some(End::Complete));
    let then = if resent {
        format!(
            "request {nth} met the closed kept-alive connection; resent on a new one, then \
             succeeded"
        )
    } else {
        format!("request {nth} met the closed kept-alive connection; exit 0 without resending")
    };
    exit0_or(f, f.all_served(), then)
}

/// A gzip body with a byte changed whose CRC check fails: the data must not be kept, nor
/// completed with a `Range` request as though the bytes already decoded were good.
pub fn bad_gzip(f: &Facts) -> Verdict {
    let first = f.req[0];
    let resumed = f.req[1..]
        .iter()
        .find_map(|a| a.range.as_deref())
        .map(|r| {
            format!("; it resumed with Range: {r} after the CRC failed instead of fetching again")
        })
        .unwrap_or_default();
    let exit = f.exit;
    if f.exit0 {
        return match f.out {
            Output::Corrupt { at } => bad(format!(
                "exit 0 with a corrupted body (byte {at} differs): it kept data whose gzip CRC \
                 failed{resumed}"
            )),
            Output::Encoded if first.accepts_gzip => warn(format!(
                "asked for gzip but printed the {} encoded bytes undecoded",
                f.o.stdout.len()
            )),
            Output::Encoded => na(format!(
                "not exercised: it did not ask for gzip (no Accept-Encoding: gzip) and printed \
                 the gzip bytes as sent ({} bytes on stdout)",
                f.o.stdout.len()
            )),
            _ => match exit0_output(f, f.all_served()) {
                Ok(()) if f.extra > 0 => ok(format!("{}, then succeeded", f.retried())),
                Ok(()) => ok(format!("exit 0 with {}", f.shown)),
                Err(v) => Verdict {
                    reason: v.reason + &resumed,
                    ..v
                },
            },
        };
    }
    if !resumed.is_empty() {
        return warn(format!("failed with {exit}{resumed}"));
    }
    if f.extra > 0 {
        return ok(format!("{}, then failed with {exit}", f.retried()));
    }
    if !first.accepts_gzip {
        return ok(format!(
            "failed with {exit} on a gzip body it had not asked for"
        ));
    }
    match first.end {
        Some(End::Complete) => ok(format!(
            "rejected the gzip body whose CRC failed ({exit}, after the whole body arrived{})",
            stderr_note(
                f.o.stderr,
                &["crc", "checksum", "gzip", "decompress", "inflate"]
            )
        )),
        end => ok(format!(
            "failed with {exit} before the whole gzip body arrived ({})",
            end.map_or("open", End::name)
        )),
    }
}

/// More bytes than `Content-Length`: the body is whole; the extra bytes are not part of it.
pub fn extra(f: &Facts) -> Verdict {
    let n = EXTRA.len();
    if !f.exit0 {
        let retried = match f.extra {
            0 => String::new(),
            _ => format!("{}, then ", f.retried()),
        };
        return warn(format!(
            "{retried}failed with {} although the response was whole ({n} extra bytes after it)",
            f.exit
        ));
    }
    let whole = f.req.iter().all(|x| x.end == Some(End::Complete));
    let then = format!(
        "read the {}-byte body and ignored the {n} bytes past Content-Length",
        f.healthy_len
    );
    exit0_or(f, whole, then)
}

pub fn refused(f: &Facts) -> Verdict {
    if f.exit0 {
        bad(format!("exit 0 although nothing listens ({})", f.shown))
    } else {
        ok(format!(
            "failed with {} after {}: nothing listens",
            f.exit,
            secs(f.o.seconds)
        ))
    }
}

pub fn connect_timeout(f: &Facts) -> Verdict {
    if f.exit0 {
        bad(format!(
            "exit 0 although the connect never completed ({})",
            f.shown
        ))
    } else {
        ok(format!(
            "gave up after {} with {}: the connect never completed",
            secs(f.o.seconds),
            f.exit
        ))
    }
}

/// The runs of a redirect chain: each starts with a request for another target than the
/// loop's, and counts the redirects it followed.
fn chains(req: &[&Attempt]) -> Vec<usize> {
    let mut runs: Vec<usize> = Vec::new();
    for a in req {
        match runs.last_mut() {
            Some(k) if a.target == LOOP_TARGET => *k += 1,
            _ => runs.push(0),
        }
    }
    runs
}

/// "followed 21 redirects"; for a command of several requests "followed 4 redirects in each
/// of its 2 requests"; for one that ran the chain again "ran the redirect chain 4 times (3
/// retries), 21 redirects each time, 84 in all".
fn followed(runs: &[usize], usual: usize) -> String {
    let total: usize = runs.iter().sum();
    let same = runs.iter().all(|k| *k == runs[0]);
    let each = match same {
        true => format!("{} each time", count(runs[0], "redirect")),
        false => format!(
            "{} to {} redirects",
            runs.iter().min().unwrap_or(&0),
            runs.iter().max().unwrap_or(&0)
        ),
    };
    match runs.len() {
        0 | 1 => format!("followed {}", count(total, "redirect")),
        k if k <= usual && same => format!(
            "followed {} in each of its {k} requests",
            count(runs[0], "redirect")
        ),
        k if k <= usual => format!("followed {total} redirects over its {k} requests"),
        k => {
            let retries = match k - usual.max(1) {
                1 => "1 retry".to_string(),
                r => format!("{r} retries"),
            };
            format!(
                "ran the redirect chain {} ({retries}), {each}, {total} in all",
                times(k)
            )
        }
    }
}

/// Every answer redirects: the client must stop by itself and say so.
pub fn redirect_loop(f: &Facts) -> Verdict {
    let runs = chains(&f.req);
    let total: usize = runs.iter().sum();
    let exit = f.exit;
    match (total, f.exit0) {
        (0, true) => warn(format!(
            "did not follow the redirect and exited 0 with {}: error not reported",
            f.shown
        )),
        (0, false) => ok(format!("did not follow the redirect; failed with {exit}")),
        (_, true) => warn(format!(
            "{}, then exited 0 with {}",
            followed(&runs, f.b.requests),
            f.shown
        )),
        (_, false) => ok(format!(
            "{}, then gave up with {exit}",
            followed(&runs, f.b.requests)
        )),
    }
}

/// The handshake entries and the requests, apart.
fn split_handshakes(a: &[Attempt]) -> (Vec<&Attempt>, Vec<&Attempt>) {
    a.iter().partition(|x| x.method == HANDSHAKE)
}

/// `--tls`: a certificate the client must refuse (`what`): sending a request over it is bad.
pub fn bad_cert(f: &Facts, what: &str) -> Verdict {
    let (hs, reqs) = split_handshakes(f.o.attempts);
    let exit = f.exit;
    if let Some(r) = reqs.first() {
        let many = match reqs.len() {
            1 => String::new(),
            k => format!(" {k} times"),
        };
        return bad(format!(
            "accepted {what}: sent {}{many} over it, then {exit} with {}",
            r.method, f.shown
        ));
    }
    if hs.is_empty() {
        return warn(format!("made no TLS connection ({exit}, {})", f.shown));
    }
    if f.exit0 {
        return bad(format!(
            "exit 0 with {} although it refused {what}: failure not reported",
            f.shown
        ));
    }
    // A client may check the name after the handshake (curl does): what counts is that no
    // request went over it.
    ok(format!("refused {what} ({exit}), no request sent"))
}

/// `--tls`: every handshake breaks (`what`) before any HTTP byte: fail and say so.
pub fn handshake_cut(f: &Facts, what: &str) -> Verdict {
    let (hs, _) = split_handshakes(f.o.attempts);
    let exit = f.exit;
    if hs.is_empty() {
        return warn(format!("made no TLS connection ({exit}, {})", f.shown));
    }
    if f.exit0 {
        return bad(format!(
            "exit 0 with {} although every handshake failed ({what}): failure not reported",
            f.shown
        ));
    }
    if hs.len() > 1 {
        return ok(format!("{}, then failed with {exit}", retried(&hs)));
    }
    ok(format!(
        "failed with {exit} after {} on {what}",
        secs(f.o.seconds)
    ))
}

/// `--tls`: a body framed by the connection's end, cut by a FIN without `close_notify`.
pub fn no_close_notify(f: &Facts) -> Verdict {
    if let (
        true,
        Output::Partial {
            kept, others: 0, ..
        },
        false,
    ) = (f.exit0, f.out, f.all_served())
    {
        return warn(format!(
            "exit 0 with {kept} of {} bytes: a body ended by a FIN without close_notify \
             accepted as complete (TLS truncation not detected)",
            f.healthy_len
        ));
    }
    if f.exit0 || f.extra > 0 {
        return lost(f);
    }
    ok(format!(
        "failed with {} after {}: the missing close_notify was noticed",
        f.exit, f.shown
    ))
}

/// The command was still running at `--timeout` and was killed.
pub fn killed(f: &Facts) -> Verdict {
    let at = format!("still running at --timeout {}", f.o.timeout);
    let n = f.n;
    let reason = match f.s.rule {
        Rule::ConnectTimeout => format!("{at}, its connect never accepted"),
        Rule::Dribble => format!(
            "still reading the dribbled body at --timeout {} ({})",
            f.o.timeout, f.shown
        ),
        Rule::Refused => format!("{at} although nothing listens (retrying the refused connect?)"),
        Rule::RedirectLoop if n > 1 => format!("{at} after following {}", count(n - 1, "redirect")),
        Rule::Transient { status, .. } | Rule::Always { status } if n > 0 => format!(
            "{at}, {} after the last {status} ({}): its waits outlast it",
            secs(f.o.seconds - f.req[n - 1].t),
            count(n, "attempt")
        ),
        Rule::HandshakeCut { what } | Rule::BadCert { what } if f.o.attempts.len() > 1 => {
            format!(
                "{at} after {} that met {what}",
                count(f.o.attempts.len(), "connection")
            )
        }
        _ => format!("{at} ({})", f.shown),
    };
    let note = stderr_note(f.o.stderr, TIMEOUT_WORDS);
    if !note.is_empty() && f.extra == 0 {
        // Its own timeout fired and nothing was retried: it may have been on its way out.
        return na(format!(
            "no verdict: {reason}{note}: a timeout fired, the end was not seen (raise --timeout)"
        ));
    }
    bad(reason + &note)
}

/// Words of a timeout message on standard error.
const TIMEOUT_WORDS: &[&str] = &["timeout", "timed out", "time out", "deadline"];

/// "; its stderr says: httpx.ReadTimeout: timed out" when a line of `stderr` holds one of
/// `words` (the last such line, shortened), else nothing.
fn stderr_note(stderr: &str, words: &[&str]) -> String {
    let line = stderr.lines().rev().find(|l| {
        let l = l.to_ascii_lowercase();
        words.iter().any(|w| l.contains(w))
    });
    match line {
        Some(l) => {
            let l = l.trim();
            let short: String = l.chars().take(100).collect();
            let more = if short.len() < l.len() { "..." } else { "" };
            format!("; its stderr says: {short}{more}")
        }
        None => String::new(),
    }
}

/// HTTP/2: the stream was refused unprocessed (`what`): the server says it did nothing with
/// it, so a retry is safe whatever the method, and the next attempt is answered.
pub fn unprocessed(f: &Facts, what: &str) -> Verdict {
    let exit = f.exit;
    if f.extra == 0 {
        let gave_up = format!(
            "{} (the stream was not processed: a retry is safe)",
            gave_up(f, what, !f.exit0)
        );
        return match f.exit0 {
            true => bad(format!(
                "{gave_up}, and exited 0 with {}: failure not reported",
                f.shown
            )),
            false => warn(gave_up),
        };
    }
    let first = f.req[0];
    let retry = f.chain().get(1).copied().unwrap_or(first);
    let on = match retry.conn == first.conn {
        true => ", on the same connection",
        false => ", on a new connection",
    };
    if f.exit0 {
        let then = format!("{}{on}, then succeeded", f.retried());
        return exit0_or(f, f.all_served(), then);
    }
    if f.all_served() {
        return warn(format!(
            "{}{on}, and got the whole body, but ended with {exit}",
            f.retried()
        ));
    }
    ok(format!("{}{on}, then failed with {exit}", f.retried()))
}
