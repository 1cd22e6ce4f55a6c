//! The rules of the Server-Sent Events catalogue. The command prints each event's data on a
//! line; what it printed is read line by line against the healthy run's lines (`1` to `5`), so
//! a reason can say which events were missing or printed twice. A reconnect is the request
//! after the one that met the fault, and its `Last-Event-ID` says where the client resumed.

use super::{bad, ok, retried, secs, times, warn, Facts, Verdict, NO_WAIT};

/// What the command printed, against the healthy run's lines.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Printed {
    /// The healthy run's lines, each once.
    Same,
    /// Lines of the healthy run only, none more often than there, some missing.
    Missing,
    /// Lines printed more often than in the healthy run (these).
    Twice(Vec<String>),
    /// A line the healthy run never printed.
    Other(String),
}

pub(super) fn lines(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

pub(super) fn printed(got: &[String], want: &[String]) -> Printed {
    if got == want {
        return Printed::Same;
    }
    let count = |v: &[String], l: &String| v.iter().filter(|x| *x == l).count();
    if let Some(l) = got.iter().find(|l| !want.contains(l)) {
        return Printed::Other(l.clone());
    }
    let mut twice: Vec<String> = Vec::new();
    for l in got {
        if count(got, l) > count(want, l) && !twice.contains(l) {
            twice.push(l.clone());
        }
    }
    if twice.is_empty() {
        Printed::Missing
    } else {
        Printed::Twice(twice)
    }
}

/// "printed 1, 2, 3 (3 of the healthy run's 5 lines)", "printed nothing".
pub(super) fn shown(got: &[String], want: &[String]) -> String {
    const MOST: usize = 12;
    if got.is_empty() {
        return "printed nothing".into();
    }
    let mut list = got
        .iter()
        .take(MOST)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if got.len() > MOST {
        list.push_str(", ...");
    }
    format!(
        "printed {list} ({} of the healthy run's {} lines)",
        got.len(),
        want.len()
    )
}

/// "; its stderr ends: LINE" (shortened), or nothing when it is empty.
pub(super) fn stderr_ends(stderr: &str) -> String {
    const MOST: usize = 100;
    match stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(l) => {
            let short: String = l.chars().take(MOST).collect();
            let more = if short.len() < l.len() { "..." } else { "" };
            format!("; its stderr ends: {short}{more}")
        }
        None => String::new(),
    }
}

struct Lines {
    got: Vec<String>,
    want: Vec<String>,
    p: Printed,
}

impl Lines {
    fn of(f: &Facts) -> Lines {
        let got = lines(f.o.stdout);
        let want = lines(&f.b.output);
        let p = printed(&got, &want);
        Lines { got, want, p }
    }

    fn shown(&self) -> String {
        shown(&self.got, &self.want)
    }

    /// A verdict on output that is not the healthy run's, or `None` when it is.
    fn wrong(&self, f: &Facts, after: &str) -> Option<Verdict> {
        match &self.p {
            Printed::Same => None,
            Printed::Twice(l) => Some(bad(format!(
                "{after}, {}: {} printed twice (duplicate events)",
                self.shown(),
                l.join(", ")
            ))),
            Printed::Other(l) => Some(bad(format!(
                "{after}, {}: the line {l:?} is not one the healthy run printed",
                self.shown()
            ))),
            Printed::Missing if f.exit0 => Some(bad(format!(
                "{after}, exit 0 and {}: events lost without a failure",
                self.shown()
            ))),
            Printed::Missing => Some(ok(format!("{after}, then {} and {}", f.exit, self.shown()))),
        }
    }
}

/// The stream ended after `after` events (`what`): the client must reconnect with
/// `Last-Event-ID: after`, after `retry_ms` when the stream set it, and print every event
/// once. A client that dispatched the cut event `after + 1` (its blank line never came)
/// resumes after it.
pub fn resume(f: &Facts, what: &str, after: u32, retry_ms: Option<u32>) -> Verdict {
    let l = Lines::of(f);
    let cut = (after + 1).to_string();
    let Some(r) = f.req.get(1) else {
        // Event `after + 1` never arrived whole: printing it is dispatching the part that came.
        if l.got.contains(&cut) {
            return bad(format!(
                "did not reconnect after {what} and {}: the cut event {cut} was dispatched \
                 without its blank line ({})",
                l.shown(),
                f.exit
            ));
        }
        return match f.exit0 {
            true => bad(format!(
                "did not reconnect after {what}: exit 0 and {}: the cut stream taken for a \
                 whole one",
                l.shown()
            )),
            false => warn(format!(
                "did not reconnect after {what}: {} and {}{}",
                f.exit,
                l.shown(),
                stderr_ends(f.o.stderr)
            )),
        };
    };
    let first = f.req[0];
    let gap = r.t - first.done.unwrap_or(first.t);
    let when = format!("reconnected {} after {what}", secs(gap));
    let Some(id) = r.last_event_id.as_deref() else {
        return l
            .wrong(f, &format!("{when}, without Last-Event-ID"))
            .unwrap_or_else(|| {
                warn(format!(
                    "{when}, without Last-Event-ID, and printed every event once"
                ))
            });
    };
    if id == cut {
        return bad(format!(
            "{when}, with Last-Event-ID: {id}: the cut event {cut} was dispatched without its \
             blank line ({})",
            l.shown()
        ));
    }
    let with = format!("{when}, with Last-Event-ID: {id}");
    if id != after.to_string() {
        return l.wrong(f, &with).unwrap_or_else(|| {
            warn(format!(
                "{with} (the last event it got whole was {after}), and printed every event once"
            ))
        });
    }
    if let Some(v) = l.wrong(f, &with) {
        return v;
    }
    if let Some(ms) = retry_ms {
        let wanted = f64::from(ms) / 1000.0;
        if gap < wanted * 0.9 {
            return warn(format!("ignored retry: {ms} ({with})"));
        }
    }
    let honoured = match retry_ms {
        Some(ms) => format!(" (retry: {ms} honoured)"),
        None => String::new(),
    };
    match f.exit0 {
        true => ok(format!("{with}{honoured}; printed every event once")),
        false => warn(format!(
            "{with}{honoured}; printed every event once, but ended with {}",
            f.exit
        )),
    }
}

/// `204` on every request: the client must stop reconnecting.
pub fn stop(f: &Facts) -> Verdict {
    let l = Lines::of(f);
    if f.n > 1 {
        let all = retried(&f.req);
        let gaps = all.split_once(", ").map_or("", |(_, g)| g);
        return bad(format!(
            "reconnected {} after a 204 ({gaps}): a 204 means stop",
            times(f.n - 1)
        ));
    }
    if !l.got.is_empty() {
        return warn(format!(
            "stopped after the 204 ({}), but {} although it carried no event",
            f.exit,
            l.shown()
        ));
    }
    ok(format!(
        "stopped after the 204 ({}, no output, {})",
        f.exit,
        secs(f.o.seconds)
    ))
}

/// Not a byte once: an idle timeout must end the wait (and a reconnect may then succeed).
pub fn stall(f: &Facts) -> Verdict {
    let l = Lines::of(f);
    if let Some(r) = f.req.get(1) {
        let when = format!(
            "gave up on the silent stream and reconnected after {}",
            secs(r.t - f.req[0].t)
        );
        return l.wrong(f, &when).unwrap_or_else(|| {
            let then = format!("{when}; printed every event once");
            match f.exit0 {
                true => ok(then),
                false => warn(format!("{then}, but ended with {}", f.exit)),
            }
        });
    }
    match f.exit0 {
        true => bad(format!(
            "exit 0 after {} of silence and {}: the silent stream taken for an empty one",
            secs(f.o.seconds),
            l.shown()
        )),
        false => ok(format!(
            "gave up after {} of silence with {}",
            secs(f.o.seconds),
            f.exit
        )),
    }
}

/// A transient status once, then the stream: a reconnect gets every event.
pub fn transient(f: &Facts, status: u16) -> Verdict {
    let l = Lines::of(f);
    let Some(r) = f.req.get(1) else {
        let gave_up = format!("gave up at once on a {status} that a reconnect would have fixed");
        return warn(match f.exit0 {
            true => format!("{gave_up}, and exited 0 and {}", l.shown()),
            false => format!("{gave_up} ({}){}", f.exit, stderr_ends(f.o.stderr)),
        });
    };
    let gap = r.t - f.req[0].t;
    if gap < NO_WAIT {
        return warn(format!("reconnected without waiting (gap {gap:.3} s)"));
    }
    // The retries are the requests up to the first that got the stream (the healthy run's
    // count would include an EventSource's reconnect that gets the final 204).
    let upto = f.req.iter().position(|a| a.healthy).map_or(f.n, |i| i + 1);
    let when = retried(&f.req[..upto]);
    l.wrong(f, &when).unwrap_or_else(|| match f.exit0 {
        true => ok(format!("{when}, then printed every event once")),
        false => warn(format!(
            "{when}, printed every event once, but ended with {}",
            f.exit
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn printed_lines_are_read_against_the_healthy_run() {
        let want = v(&["1", "2", "3", "4", "5"]);
        assert_eq!(lines(b"1\r\n2\n\n3\n"), v(&["1", "2", "3"]));
        assert_eq!(printed(&want, &want), Printed::Same);
        assert_eq!(printed(&v(&["1", "2", "3"]), &want), Printed::Missing);
        assert_eq!(
            printed(&v(&["1", "2", "3", "1", "2", "3", "4", "5"]), &want),
            Printed::Twice(v(&["1", "2", "3"]))
        );
        assert_eq!(
            printed(&v(&["1", "oops"]), &want),
            Printed::Other("oops".into())
        );
        assert_eq!(
            shown(&v(&["1", "2", "3"]), &want),
            "printed 1, 2, 3 (3 of the healthy run's 5 lines)"
        );
        assert_eq!(shown(&[], &want), "printed nothing");
    }
}
