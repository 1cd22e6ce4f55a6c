//! Header fields (RFC 9110 section 5, RFC 9112 section 5), the one scanner for both
//! directions: [`FieldLines`] checks the field lines of a request head (the server's parser)
//! and of a response head (an upstream's, in proxy mode) alike, as httparse's
//! `parse_headers_iter` serves its `Request::parse` and `Response::parse`. Pure, bounded.

/// What is wrong with a head's field lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// A line that is not `name ":" OWS value OWS` with a token name and no control bytes in
    /// the value (obsolete line folding included).
    Malformed,
    /// More fields than the caller allows.
    TooMany,
}

/// The field lines of a head, checked one by one: `data` is the bytes after the start line
/// (request line or status line), up to and including the blank line; empty lines are
/// skipped. At most `max` fields.
pub struct FieldLines<'a> {
    rest: &'a [u8],
    count: usize,
    max: usize,
}

impl<'a> FieldLines<'a> {
    /// The field lines of `data`, at most `max` of them.
    pub fn new(data: &'a [u8], max: usize) -> Self {
        FieldLines {
            rest: data,
            count: 0,
            max,
        }
    }
}

impl<'a> Iterator for FieldLines<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (line, rest) = match self.rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let line = trim_cr(line);
            if line.is_empty() {
                // The blank line that ends the head.
                continue;
            }
            self.count += 1;
            if self.count > self.max {
                return Some(Err(FieldError::TooMany));
            }
            return Some(field_line(line).ok_or(FieldError::Malformed));
        }
    }
}

/// Splits a field line: `name ":" OWS value OWS` (RFC 9112 section 5). The name is a token with
/// no whitespace before the colon (so obsolete line folding, a line starting with whitespace,
/// is refused too); the value holds no control bytes.
pub(crate) fn field_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    // One pass finds the colon and checks the name: every byte before it is a tchar.
    let colon = line.iter().position(|&b| !is_tchar(b))?;
    if colon == 0 || line[colon] != b':' {
        return None;
    }
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    value
        .iter()
        .copied()
        .all(is_field_byte)
        .then(|| (name, trim_ows(value)))
}

pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// `tchar` (RFC 9110 section 5.6.2) as a table: every byte of every method and field name is
/// looked up here.
static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    t
};

/// Optional whitespace (RFC 9110 section 5.6.3): space and tab only. `trim_ascii` would also
/// strip form feed, CR and LF, which a proxy may keep as part of the value.
pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// A byte a field value may hold (RFC 9110 section 5.5: visible ASCII, obs-text, SP, HTAB).
/// Control bytes are refused rather than kept or replaced: no proxy can read a refused request
/// differently.
pub(crate) fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// A line without its CR (lines end with CRLF, or a bare LF where tolerated).
pub(crate) fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}
