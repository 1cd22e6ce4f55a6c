//! The units of the plan language: SIZE, DUR, OFFSET, percent-encoding. Pure functions.

use std::fmt;
use std::time::Duration;

/// Sizes and offsets above this are refused: 1 TiB is more than any test needs and keeps every
/// sum of offsets far from overflowing `u64`.
pub const MAX_SIZE: u64 = 1 << 40;
/// Durations above this are refused (a day), so deadline arithmetic on `Instant` cannot overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(86_400);

pub(crate) const SIZE_HELP: &str = "a size such as 512, 64k or 10m";
pub(crate) const DUR_HELP: &str = "a duration such as 250ms, 2s, 1.5s or 1m";
pub(crate) const OFFSET_HELP: &str =
    "an offset such as 6, 64k, head:10, end, req:100, 3ev, 3msg or 3msg+10";

/// Parses a SIZE: a whole number of bytes with an optional `k` or `m` (1024-based).
pub fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], 1024),
        b'm' | b'M' => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<u64>()
        .ok()?
        .checked_mul(unit)
        .filter(|n| *n <= MAX_SIZE)
}

/// Parses a DUR: a number with a unit (`us`, `ms`, `s`, `m`), decimals allowed: `1.5s`.
///
/// Exact to the microsecond, without floating point: a value that is not a whole number of
/// microseconds (`1.0000001s`) is refused rather than rounded, and one that is
/// (`1.00000005m` = 60.000003 s) is accepted however many digits it takes.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let micros_per_unit: u128 = match unit {
        "us" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        _ => return None,
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || whole.len() > 20 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if number.contains('.') && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    // Trailing zeros add nothing; past 30 significant digits no unit here can be exact.
    let frac = frac.trim_end_matches('0');
    if frac.len() > 30 {
        return None;
    }
    let whole: u128 = whole.parse().ok()?;
    let scale = 10u128.checked_pow(u32::try_from(frac.len()).ok()?)?;
    let frac_num: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let frac_micros = frac_num.checked_mul(micros_per_unit)?;
    if frac_micros % scale != 0 {
        return None;
    }
    let micros = whole
        .checked_mul(micros_per_unit)?
        .checked_add(frac_micros / scale)?;
    let dur = Duration::from_micros(u64::try_from(micros).ok()?);
    (dur <= MAX_DURATION).then_some(dur)
}

/// Where in the response a pause or an ending falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offset {
    /// After this many bytes of the body as it goes on the wire (chunk framing included).
    Body(u64),
    /// After this many bytes of the whole response, counted from the status line.
    Head(u64),
    /// After the last byte.
    End,
    /// After this many bytes of the *request* body, as they arrive on the wire (chunk framing
    /// included); only an ending takes it (`reset=req:100`), and then no response is sent.
    Req(u64),
    /// Right after the `n`-th complete message of the body as sent, then `plus` more bytes of
    /// it (`3ev`, `3msg+10`): messages are Server-Sent Events (`ev`), or gRPC length-prefixed
    /// and WebSocket messages (`msg`). Counted in the payload: chunk framing, TLS and HTTP/2
    /// framing are not part of it.
    Msg {
        /// What a message is.
        unit: Unit,
        /// After this many complete messages (at least 1).
        n: u64,
        /// Then this many bytes more of the payload.
        plus: u64,
    },
}

/// What [`Offset::Msg`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Server-Sent Events: an event ends with the blank line after its `data` field(s).
    Ev,
    /// gRPC messages (a 5-byte prefix: a flag and a 32-bit length), or WebSocket messages.
    Msg,
}

impl Unit {
    /// As written after the count.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Ev => "ev",
            Unit::Msg => "msg",
        }
    }
}

/// Parses an OFFSET: a SIZE of body bytes, `head:SIZE`, `end`, or `req:SIZE`.
pub fn parse_offset(text: &str) -> Option<Offset> {
    if text == "end" {
        return Some(Offset::End);
    }
    if let Some(rest) = text.strip_prefix("req:") {
        return parse_size(rest).map(Offset::Req);
    }
    if let Some(o) = parse_message_offset(text) {
        return Some(o);
    }
    match text.strip_prefix("head:") {
        Some(rest) => parse_size(rest).map(Offset::Head),
        None => parse_size(text).map(Offset::Body),
    }
}

/// `3ev`, `3msg`, `3ev+10`, `3msg+64k`.
fn parse_message_offset(text: &str) -> Option<Offset> {
    let (count, plus) = match text.split_once('+') {
        Some((c, p)) => (c, parse_size(p)?),
        None => (text, 0),
    };
    let (digits, unit) = if let Some(d) = count.strip_suffix("ev") {
        (d, Unit::Ev)
    } else {
        (count.strip_suffix("msg")?, Unit::Msg)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok().filter(|&n| n >= 1)?;
    Some(Offset::Msg { unit, n, plus })
}

/// Decodes `%XX` escapes; `None` for a `%` not followed by two hex digits.
pub fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Bytes written so that they parse back to the same bytes: unreserved characters stay; `/`,
/// `%`, `*`, space, control, non-ASCII and the like become `%XX` (`*` because a route's
/// sequence uses it for repetition).
pub struct Encoded<'a>(pub &'a [u8]);

impl fmt::Display for Encoded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()+,;=:@".contains(&b) {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "%{b:02X}")?;
            }
        }
        Ok(())
    }
}

/// A SIZE printed in its shortest exact form: `64k`, `10m`, `13`.
pub struct SizeText(pub u64);

impl fmt::Display for SizeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n != 0 && n % (1024 * 1024) == 0 {
            write!(f, "{}m", n / (1024 * 1024))
        } else if n != 0 && n % 1024 == 0 {
            write!(f, "{}k", n / 1024)
        } else {
            write!(f, "{n}")
        }
    }
}

/// A DUR printed in its shortest exact form: `2s`, `250ms`, `1m`, `100us`.
pub struct DurText(pub Duration);

impl fmt::Display for DurText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0.as_micros();
        if us != 0 && us % 60_000_000 == 0 {
            write!(f, "{}m", us / 60_000_000)
        } else if us != 0 && us % 1_000_000 == 0 {
            write!(f, "{}s", us / 1_000_000)
        } else if us % 1_000 == 0 {
            write!(f, "{}ms", us / 1_000)
        } else {
            write!(f, "{us}us")
        }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offset::Body(n) => write!(f, "{}", SizeText(*n)),
            Offset::Head(n) => write!(f, "head:{}", SizeText(*n)),
            Offset::End => f.write_str("end"),
            Offset::Req(n) => write!(f, "req:{}", SizeText(*n)),
            Offset::Msg { unit, n, plus: 0 } => write!(f, "{n}{}", unit.suffix()),
            Offset::Msg { unit, n, plus } => write!(f, "{n}{}+{}", unit.suffix(), SizeText(*plus)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("64k"), Some(65536));
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("1.5k"), None);
        assert_eq!(parse_size("99999999999999999999"), None);
        assert_eq!(parse_size("2000000m"), None);
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("0.1s"), Some(Duration::from_millis(100)));
        assert_eq!(parse_duration("1.0000001s"), None);
        assert_eq!(parse_duration("1.0000000s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_duration("2d"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("99999999999999999999s"), None);
        assert_eq!(parse_duration("1441m"), None);
        assert_eq!(parse_offset("end"), Some(Offset::End));
        assert_eq!(parse_offset("head:1k"), Some(Offset::Head(1024)));
        assert_eq!(parse_offset("req:1k"), Some(Offset::Req(1024)));
        assert_eq!(parse_offset("req:"), None);
        assert_eq!(parse_offset("req:head:1"), None);
        assert_eq!(Offset::Req(2048).to_string(), "req:2k");
    }

    /// Regression (issue 13, framing defect 8): an exact duration is accepted however many
    /// fraction digits it takes.
    #[test]
    fn exact_durations_with_many_digits() {
        assert_eq!(
            parse_duration("1.00000005m"),
            Some(Duration::from_micros(60_000_003))
        );
        assert_eq!(parse_duration("0.0000015s"), None);
        assert_eq!(parse_duration("1.5us"), None);
        assert_eq!(parse_duration("0.001ms"), Some(Duration::from_micros(1)));
        assert_eq!(
            parse_duration(&format!("1.{}s", "0".repeat(500))),
            Some(Duration::from_secs(1))
        );
        assert_eq!(parse_duration(&format!("1.{}1s", "0".repeat(40))), None);
    }
}
