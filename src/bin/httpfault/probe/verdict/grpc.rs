//! The rules of the gRPC catalogue. Every call of the healthy run gets the request's message
//! echoed with `grpc-status: 0`; a run's output is what the healthy run printed or not (it is
//! compared whole). gRPC's retry policies retry at once or after a short jittered backoff (a
//! service config's choice), so quick retries are not faulted here; the pushback trailer's
//! wait is.

use super::output::Output;
use super::{bad, ok, retried, secs, warn, Facts, Verdict};

/// The gRPC status codes' names, as clients print them.
const CODES: &[&str] = &[
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// "; its stderr names INTERNAL": the last status name on the command's stderr, if any.
fn named(stderr: &str) -> String {
    let upper = stderr.to_ascii_uppercase();
    let last = CODES
        .iter()
        .filter_map(|c| upper.rfind(c).map(|at| (at, *c)))
        .max_by_key(|(at, c)| (*at, c.len()));
    match last {
        Some((_, c)) => format!("; its stderr names {c}"),
        None => String::new(),
    }
}

/// The requests up to the first that got the healthy answer: the call and its retries.
fn chain<'a>(f: &Facts<'a>) -> Vec<&'a super::Attempt> {
    let upto = f.req.iter().position(|a| a.healthy).map_or(f.n, |i| i + 1);
    f.req[..upto].to_vec()
}

/// It printed what the healthy run printed.
fn same(f: &Facts) -> bool {
    f.out == Output::Same
}

/// A retryable status once: a retry (a retry policy) fixes it.
pub fn transient(f: &Facts, code: &str) -> Verdict {
    let exit = f.exit;
    if f.n < 2 {
        return match f.exit0 {
            true => bad(format!(
                "exit 0 after {code} with {}: the failed call reported as a success",
                f.shown
            )),
            false => warn(format!(
                "gave up at once ({exit}) on {code} that a retry would have fixed{}",
                named(f.o.stderr)
            )),
        };
    }
    let tries = retried(&chain(f));
    match (f.exit0, same(f)) {
        (true, true) => ok(format!("{tries}, then succeeded")),
        (true, false) => bad(format!(
            "{tries}, then exit 0 with {}: not the healthy run's output",
            f.shown
        )),
        (false, _) if f.all_served() => warn(format!(
            "{tries} and got the echo, but ended with {exit}{}",
            named(f.o.stderr)
        )),
        (false, _) => ok(format!(
            "{tries}, then failed with {exit}{}",
            named(f.o.stderr)
        )),
    }
}

/// The same status on every call.
pub fn always(f: &Facts, code: &str) -> Verdict {
    let exit = f.exit;
    let calls = match f.n {
        1 => format!("one {code}"),
        n => format!("{n} calls answered {code}"),
    };
    if f.exit0 {
        return bad(format!(
            "exit 0 after {calls} with {}: the failed call reported as a success",
            f.shown
        ));
    }
    if f.n > f.b.requests {
        return ok(format!(
            "{}, then failed with {exit}{}",
            retried(&f.req),
            named(f.o.stderr)
        ));
    }
    ok(format!(
        "failed with {exit} after {calls}, no retry{}",
        named(f.o.stderr)
    ))
}

/// A status with `grpc-retry-pushback-ms: ms` once: a retry must wait that long first.
pub fn pushback(f: &Facts, code: &str, ms: u32) -> Verdict {
    let exit = f.exit;
    if f.n < 2 {
        return match f.exit0 {
            true => bad(format!(
                "exit 0 after {code} with {}: the failed call reported as a success",
                f.shown
            )),
            false => ok(format!(
                "failed with {exit} after {} on {code}, no second attempt{}",
                secs(f.o.seconds),
                named(f.o.stderr)
            )),
        };
    }
    let gap = f.req[1].t - f.req[0].t;
    if gap < f64::from(ms) / 1000.0 * 0.9 {
        return warn(format!(
            "ignored grpc-retry-pushback-ms: {ms} (retried after {})",
            secs(gap)
        ));
    }
    let tries = format!(
        "retried after {} (grpc-retry-pushback-ms: {ms} honoured)",
        secs(gap)
    );
    match (f.exit0, same(f)) {
        (true, true) => ok(format!("{tries}, then succeeded")),
        (true, false) => bad(format!(
            "{tries}, then exit 0 with {}: not the healthy run's output",
            f.shown
        )),
        (false, _) => ok(format!(
            "{tries}, then failed with {exit}{}",
            named(f.o.stderr)
        )),
    }
}

/// A call that failed (`what`): failing, or retrying to the echo, is right; exit 0 without
/// the echo is not.
pub fn failure(f: &Facts, what: &str) -> Verdict {
    let exit = f.exit;
    if f.exit0 {
        if f.all_served() && same(f) && f.n >= 2 {
            return ok(format!("{}, then succeeded", retried(&chain(f))));
        }
        return bad(format!(
            "exit 0 after {what} with {}: the failed call reported as a success",
            f.shown
        ));
    }
    if f.n >= 2 {
        return ok(format!(
            "{}, then failed with {exit}{}",
            retried(&chain(f)),
            named(f.o.stderr)
        ));
    }
    ok(format!("failed with {exit} on {what}{}", named(f.o.stderr)))
}

/// The answer stalled inside its message once: a deadline must end the call (a command still
/// running at `--timeout` was judged before this rule).
pub fn deadline(f: &Facts) -> Verdict {
    let exit = f.exit;
    let after = secs(f.o.seconds);
    match (f.exit0, same(f)) {
        (true, true) if f.n >= 2 => ok(format!("{}, then succeeded", retried(&chain(f)))),
        (true, _) => bad(format!(
            "exit 0 after {after} with {} although the answer stalled: the failed call \
             reported as a success",
            f.shown
        )),
        (false, _) => ok(format!(
            "the call ended after {after} with {exit}{}",
            named(f.o.stderr)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::named;

    #[test]
    fn the_status_a_client_printed_is_named() {
        assert_eq!(
            named("grpc error StatusCode.UNAVAILABLE: try later\n"),
            "; its stderr names UNAVAILABLE"
        );
        assert_eq!(
            named("13 INTERNAL: Received RST_STREAM with code 2"),
            "; its stderr names INTERNAL"
        );
        assert_eq!(named("Error: connect ECONNREFUSED"), "");
    }
}
