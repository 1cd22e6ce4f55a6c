//! What the command printed, against what it printed in the healthy run (the baseline).
//!
//! A command that prints the body (as `curl -s {url}` does) prints, in the healthy run, the
//! healthy body once per request, each perhaps followed by a short suffix (Python's `print`
//! adds a newline). Such an output is read as a sequence of bodies, so a body cut short, a body
//! with a byte changed, a body missing or an error answer printed in its place can be told
//! apart. Any other output (nothing, or a summary of the command's own) can only be compared
//! whole.

use super::super::catalogue::{ERROR_MARK, EXTRA};

/// What the command printed in a faulty run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Exactly what the healthy run printed.
    Same,
    /// Nothing, where the healthy run printed something.
    Empty,
    /// Whole bodies only, fewer than the healthy run's.
    Fewer { whole: usize, of: usize },
    /// A body cut short: the bytes of it that were printed, the whole bodies printed besides,
    /// and whether one came after it (a retry appended to what the broken attempt wrote, or
    /// the command's next request).
    Partial {
        kept: usize,
        others: usize,
        then_whole: bool,
    },
    /// A body of the whole length with bytes changed: the offset of the first in the output.
    Corrupt { at: usize },
    /// A whole body followed by the bytes `extra-bytes` sends past `Content-Length`.
    WithExtra,
    /// An error answer's body (503, 429, 500, 302) printed as data: its status.
    ErrorBody { status: u16 },
    /// The gzip stream as it came (the magic bytes first), not decoded.
    Encoded,
    /// Something else: where it departs from the healthy run's output.
    Other { differs_at: usize },
}

/// The healthy run printed the healthy body `count` times, each followed by `suffix`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Bodies<'a> {
    suffix: &'a [u8],
    count: usize,
}

/// Longest suffix after each body read as part of it (a newline, `\r\n`, a status line of
/// the command's own is longer and makes the output one to compare whole).
const MAX_SUFFIX: usize = 16;

/// Whether `baseline` is the healthy body printed one or more times, and with what suffix.
fn bodies<'a>(baseline: &'a [u8], healthy: &[u8]) -> Option<Bodies<'a>> {
    if healthy.is_empty() || !baseline.starts_with(healthy) {
        return None;
    }
    let rest = &baseline[healthy.len()..];
    let suffix_len = find(rest, healthy).unwrap_or(rest.len());
    if suffix_len > MAX_SUFFIX {
        return None;
    }
    let suffix = &rest[..suffix_len];
    let unit = healthy.len() + suffix_len;
    let count = baseline.len() / unit;
    let whole = baseline.len() % unit == 0
        && baseline
            .chunks(unit)
            .all(|c| c.starts_with(healthy) && &c[healthy.len()..] == suffix);
    whole.then_some(Bodies { suffix, count })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Most changed bytes in a body of the whole length for it to count as that body corrupted
/// (rather than other bytes that happen to be as long).
const MAX_CHANGED: usize = 8;

/// Classifies `out` against the healthy run's output `baseline`; `healthy` is the healthy body.
pub fn classify(out: &[u8], baseline: &[u8], healthy: &[u8]) -> Output {
    if out == baseline {
        return Output::Same;
    }
    if out.is_empty() {
        return Output::Empty;
    }
    if out.starts_with(&[0x1f, 0x8b]) && !baseline.starts_with(&[0x1f, 0x8b]) {
        return Output::Encoded;
    }
    if let Some(status) = error_body(out).filter(|_| error_body(baseline).is_none()) {
        return Output::ErrorBody { status };
    }
    let other = Output::Other {
        differs_at: common_prefix(out, baseline),
    };
    match bodies(baseline, healthy) {
        Some(b) => read_bodies(out, baseline, healthy, &b).unwrap_or(other),
        None => other,
    }
}

/// The status of the first error answer's body in `out` (`PROBE-ERROR-503`).
fn error_body(out: &[u8]) -> Option<u16> {
    let at = find(out, ERROR_MARK.as_bytes())? + ERROR_MARK.len();
    let digits = out.get(at..at + 3)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Reads `out` as the healthy run's bodies; `None` when it is not made of them.
fn read_bodies(out: &[u8], baseline: &[u8], healthy: &[u8], b: &Bodies) -> Option<Output> {
    let hl = healthy.len();
    // A broken attempt's bytes, then everything the healthy run printed: checked first, as
    // the filler repeats every 64 bytes, so a cut at a multiple of 64 followed by the whole
    // body also reads as a whole body followed by a cut one.
    if let Some(lead) = out.strip_suffix(baseline) {
        let kept = lead.strip_suffix(b.suffix).unwrap_or(lead);
        if !kept.is_empty() && kept.len() < hl && healthy.starts_with(kept) {
            return Some(Output::Partial {
                kept: kept.len(),
                others: b.count,
                then_whole: true,
            });
        }
    }
    let (mut p, mut whole) = (0, 0);
    let mut partial: Option<(usize, usize)> = None;
    let mut extra = false;
    while p < out.len() {
        let rest = &out[p..];
        if rest.starts_with(healthy) {
            whole += 1;
            p += hl;
            if out[p..].starts_with(EXTRA.as_bytes()) {
                extra = true;
                p += EXTRA.len();
            }
        } else if let Some(at) = corrupt(rest, healthy) {
            return Some(Output::Corrupt { at: p + at });
        } else {
            let kept = common_prefix(rest, healthy);
            if kept == 0 || partial.is_some() {
                return None;
            }
            partial = Some((kept, whole));
            p += kept;
        }
        if out[p..].starts_with(b.suffix) {
            p += b.suffix.len();
        }
    }
    Some(match (partial, extra) {
        (Some((kept, before)), _) => Output::Partial {
            kept,
            others: whole,
            then_whole: whole > before,
        },
        (None, true) => Output::WithExtra,
        (None, false) if whole < b.count => Output::Fewer { whole, of: b.count },
        // More bodies than the healthy run printed, or another suffix.
        (None, false) => return None,
    })
}

/// Where `rest` starts with a body of the whole length that differs from the healthy one in
/// a few bytes: the first of them.
fn corrupt(rest: &[u8], healthy: &[u8]) -> Option<usize> {
    let candidate = rest.get(..healthy.len())?;
    let mut changed = candidate
        .iter()
        .zip(healthy)
        .enumerate()
        .filter(|(_, (a, b))| a != b);
    let first = changed.next()?.0;
    (changed.count() < MAX_CHANGED).then_some(first)
}

/// The output in a few words with its numbers: "32768 of 65536 bytes", "no output".
pub fn describe(out: Output, len: usize, healthy_len: usize) -> String {
    match out {
        Output::Empty => "no output".into(),
        Output::Same => format!("{len} bytes, as in the healthy run"),
        Output::Partial {
            kept, others: 0, ..
        } => format!("{kept} of {healthy_len} bytes"),
        Output::ErrorBody { status } => format!("{len} bytes, the {status}'s body as data"),
        Output::Encoded => format!("the {len} gzip bytes undecoded"),
        _ => format!("{len} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> Vec<u8> {
        (0..1024).map(|i| b"abcdefghij"[i % 10]).collect()
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn the_baseline_is_read_as_bodies_with_their_suffix() {
        let h = h();
        let b = |out: &[u8]| bodies(out, &h).map(|b| (b.suffix.to_vec(), b.count));
        assert_eq!(b(&h), Some((vec![], 1)));
        assert_eq!(b(&cat(&[&h, b"\n"])), Some((b"\n".to_vec(), 1)));
        assert_eq!(b(&cat(&[&h, &h])), Some((vec![], 2)));
        assert_eq!(
            b(&cat(&[&h, b"\r\n", &h, b"\r\n"])),
            Some((b"\r\n".to_vec(), 2))
        );
        assert_eq!(b(b""), None);
        assert_eq!(b(b"ok 1024 bytes\n"), None);
        assert_eq!(b(&cat(&[&h, b"\n", &h])), None, "no suffix after the last");
        assert_eq!(b(&cat(&[&h, &[b'.'; 17]])), None, "a long tail");
    }

    #[test]
    fn a_print_with_a_newline_is_the_same_as_the_healthy_run() {
        // Python's print(body): the baseline has the newline too (issue 24 item 6).
        let h = h();
        let base = cat(&[&h, b"\n"]);
        assert_eq!(classify(&base, &base, &h), Output::Same);
        assert_eq!(
            classify(&cat(&[&h[..512], b"\n"]), &base, &h),
            Output::Partial {
                kept: 512,
                others: 0,
                then_whole: false
            }
        );
        assert_eq!(classify(b"", &base, &h), Output::Empty);
    }

    #[test]
    fn cut_spliced_corrupt_extra_and_fewer_bodies() {
        let h = h();
        assert_eq!(
            classify(&h[..6], &h, &h),
            Output::Partial {
                kept: 6,
                others: 0,
                then_whole: false
            }
        );
        assert_eq!(
            classify(&cat(&[&h[..100], &h]), &h, &h),
            Output::Partial {
                kept: 100,
                others: 1,
                then_whole: true
            }
        );
        let mut bad = h.clone();
        bad[512] ^= 1;
        assert_eq!(classify(&bad, &h, &h), Output::Corrupt { at: 512 });
        let two = cat(&[&h, &h]);
        assert_eq!(
            classify(&cat(&[&h, &bad]), &two, &h),
            Output::Corrupt { at: 1024 + 512 }
        );
        assert_eq!(
            classify(&cat(&[&h, EXTRA.as_bytes()]), &h, &h),
            Output::WithExtra
        );
        assert_eq!(classify(&h, &two, &h), Output::Fewer { whole: 1, of: 2 });
        // More bodies than the healthy run: compared whole.
        assert_eq!(
            classify(&cat(&[&h, &h, &h]), &two, &h),
            Output::Other { differs_at: 2048 }
        );
        // Every byte different is not a corrupted body.
        let other = vec![b'#'; 1024];
        assert_eq!(classify(&other, &h, &h), Output::Other { differs_at: 0 });
    }

    #[test]
    fn the_real_filler_repeats_yet_a_retry_after_a_cut_reads_as_one() {
        // curl --retry writing to stdout: 32768 bytes of the broken attempt, then the body;
        // the filler repeats every 64 bytes, so this is also "a body, then half a body".
        let h = super::super::super::healthy_body(65536);
        let out = cat(&[&h[..32768], &h]);
        assert_eq!(
            classify(&out, &h, &h),
            Output::Partial {
                kept: 32768,
                others: 1,
                then_whole: true
            }
        );
        let nl = cat(&[&h, b"\n"]);
        let out = cat(&[&h[..32768], b"\n", &h, b"\n"]);
        assert_eq!(
            classify(&out, &nl, &h),
            Output::Partial {
                kept: 32768,
                others: 1,
                then_whole: true
            }
        );
    }

    #[test]
    fn error_bodies_and_gzip_bytes_are_named() {
        let h = h();
        let two = cat(&[&h, &h]);
        // Go's client printing the 503's body, then the next GET's body (issue 24 item 2).
        let go = cat(&[b"PROBE-ERROR-503", &h]);
        assert_eq!(classify(&go, &two, &h), Output::ErrorBody { status: 503 });
        assert_eq!(
            classify(b"PROBE-ERROR-302", &h, &h),
            Output::ErrorBody { status: 302 }
        );
        assert_eq!(classify(&[0x1f, 0x8b, 8, 0], &h, &h), Output::Encoded);
        assert_eq!(
            describe(Output::ErrorBody { status: 503 }, 15, 1024),
            "15 bytes, the 503's body as data"
        );
    }

    #[test]
    fn a_summary_or_silent_baseline_is_compared_whole() {
        let h = h();
        assert_eq!(classify(b"ok\n", b"ok\n", &h), Output::Same);
        assert_eq!(
            classify(b"failed\n", b"ok\n", &h),
            Output::Other { differs_at: 0 }
        );
        assert_eq!(classify(b"", b"", &h), Output::Same);
        assert_eq!(classify(b"x", b"", &h), Output::Other { differs_at: 0 });
    }
}
