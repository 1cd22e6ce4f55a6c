//! The rules of the WebSocket catalogue. The command prints each message it receives on a
//! line; the healthy run's four lines (its message echoed, `1`, `2`, `3`) may come in another
//! order from run to run (the echo races the server's first message), so the lines are
//! compared as a multiset. The journal gives each connection's close frames: the one the server
//! sent and the client's, which the reasons quote.

use super::sse::{lines, printed, shown, stderr_ends, Printed};
use super::{bad, ok, secs, warn, Facts, Verdict};

/// The printed lines against the healthy run's, both sorted.
struct Lines {
    got: Vec<String>,
    want: Vec<String>,
    p: Printed,
}

impl Lines {
    fn of(f: &Facts) -> Lines {
        let got = lines(f.o.stdout);
        let want = lines(&f.b.output);
        let (mut a, mut b) = (got.clone(), want.clone());
        a.sort();
        b.sort();
        let p = printed(&a, &b);
        Lines { got, want, p }
    }

    fn shown(&self) -> String {
        // A line of the big message is shown by its length.
        let short: Vec<String> = self
            .got
            .iter()
            .map(|l| match l.len() {
                n if n > 40 => format!("a line of {n} bytes"),
                _ => l.clone(),
            })
            .collect();
        shown(&short, &self.want)
    }

    fn same(&self) -> bool {
        self.p == Printed::Same
    }
}

/// "; the server got its close frame 1002" (or "; the server got no close frame from it") from the
/// first attempt's journal entry, when the connection was upgraded.
fn client_close(f: &Facts) -> String {
    match f.req.first().and_then(|a| a.ws) {
        Some(w) => match w.received {
            Some(code) => format!("; the server got its close frame {code}"),
            None => "; the server got no close frame from it".into(),
        },
        None => String::new(),
    }
}

/// The connection ended early (`what`) once: fail loudly, or reconnect to every message.
pub fn cut(f: &Facts, what: &str) -> Verdict {
    let l = Lines::of(f);
    if f.n >= 2 {
        let when = format!("reconnected after {what}");
        return match (f.exit0, l.same()) {
            (true, true) => ok(format!("{when}, then printed every message once")),
            (_, false) if matches!(l.p, Printed::Twice(_)) => {
                bad(format!("{when} and {}: messages printed twice", l.shown()))
            }
            (true, false) => bad(format!("{when}, then exit 0 and {}", l.shown())),
            (false, _) => ok(format!("{when}, then failed with {}", f.exit)),
        };
    }
    if f.exit0 {
        return bad(format!(
            "exit 0 after {what} and {}: messages lost without a failure",
            l.shown()
        ));
    }
    ok(format!(
        "failed with {} after {what}; {}{}",
        f.exit,
        l.shown(),
        client_close(f)
    ))
}

/// Every message, then a FIN with no close frame: an abnormal closure (1006).
pub fn no_close(f: &Facts) -> Verdict {
    let l = Lines::of(f);
    match (f.exit0, l.same()) {
        (true, true) => warn(
            "exit 0 with every message although the connection ended with no close frame \
             (1006): an abnormal end taken for a normal one"
                .into(),
        ),
        (true, false) => bad(format!(
            "exit 0 and {} after a connection that ended with no close frame",
            l.shown()
        )),
        (false, _) => ok(format!(
            "failed with {} on the missing close frame (1006); {}",
            f.exit,
            l.shown()
        )),
    }
}

/// The connection stays open and silent (`what`): only a timeout of the client's ends it
/// (a command still running at `--timeout` was judged before this rule).
pub fn hang(f: &Facts, what: &str) -> Verdict {
    let l = Lines::of(f);
    ok(format!(
        "ended by itself after {} with {} on {what}; {}{}{}",
        secs(f.o.seconds),
        f.exit,
        l.shown(),
        client_close(f),
        stderr_ends(f.o.stderr)
    ))
}

/// A valid stream in an unusual shape (`what`): it must read as the healthy one.
pub fn valid(f: &Facts, what: &str) -> Verdict {
    let l = Lines::of(f);
    match (f.exit0, l.same()) {
        (true, true) => ok(format!("read {what}: printed every message once")),
        (true, false) => bad(format!("exit 0 with {what} and {}", l.shown())),
        (false, _) => warn(format!(
            "failed with {} on {what}, a valid stream; {}{}",
            f.exit,
            l.shown(),
            stderr_ends(f.o.stderr)
        )),
    }
}

/// A frame the client must fail the connection on (`what`), never delivering it.
pub fn must_fail(f: &Facts, what: &str) -> Verdict {
    let l = Lines::of(f);
    if let Printed::Other(line) = &l.p {
        let line: String = line.chars().take(40).collect();
        return bad(format!(
            "delivered {what}: printed {line:?}, which the healthy run never printed"
        ));
    }
    if f.n >= 2 && f.exit0 && l.same() {
        return ok(format!(
            "failed the connection on {what}{}, reconnected, then printed every message once",
            client_close(f)
        ));
    }
    if f.exit0 {
        return bad(format!(
            "exit 0 after {what} ({}): the connection was not failed",
            l.shown()
        ));
    }
    ok(format!(
        "failed with {} on {what}, delivering none of it{}",
        f.exit,
        client_close(f)
    ))
}

/// One message of `size` bytes first: take it whole, or refuse it and fail.
pub fn big(f: &Facts, size: u64) -> Verdict {
    let l = Lines::of(f);
    let whole = l.got.iter().any(|x| x.len() as u64 == size);
    let n = super::super::catalogue::thousands(size);
    match (f.exit0, whole) {
        (true, true) => ok(format!("took the {n}-byte message whole, exit 0")),
        (true, false) => bad(format!(
            "exit 0 without the {n}-byte message ({}): dropped without a failure",
            l.shown()
        )),
        (false, true) => warn(format!(
            "printed the {n}-byte message, then failed with {}{}",
            f.exit,
            stderr_ends(f.o.stderr)
        )),
        (false, false) => ok(format!(
            "refused the {n}-byte message: failed with {}{}{}",
            f.exit,
            client_close(f),
            stderr_ends(f.o.stderr)
        )),
    }
}

/// The upgrade refused with `status` every time: fail and say so.
pub fn refused(f: &Facts, status: u16) -> Verdict {
    let l = Lines::of(f);
    let tries = match f.n {
        0 | 1 => String::new(),
        n => format!(" after {n} attempts"),
    };
    if f.exit0 {
        return bad(format!(
            "exit 0 on an upgrade refused with {status}{tries} ({}): failure not reported",
            l.shown()
        ));
    }
    ok(format!(
        "failed with {} on the upgrade refused with {status}{tries}",
        f.exit
    ))
}
