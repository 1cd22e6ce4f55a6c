//! A small JSON reader and writer for toxiproxy's API (RFC 8259), std only. Pure: bytes in,
//! [`Value`] out, and a [`Value`] written back as text.
//!
//! Every body comes from a peer, so the reader is bounded: nesting at most [`MAX_DEPTH`] deep,
//! a number at most [`MAX_NUMBER`] characters, and no more values than the input's length
//! allows (the caller bounds the input). Errors are values naming the byte offset; nothing
//! panics. Like the decoder toxiproxy uses (Go's `json.Decoder`), it reads one value and
//! leaves what follows it, replaces invalid UTF-8 and lone surrogates in strings with U+FFFD,
//! and lets the last of two equal keys win ([`Value::get`]).
//!
//! Strings are written with the crate's one JSON string escaper
//! ([`crate::log::json_str`]).

use crate::log::json_str;
use std::fmt;

/// Deepest nesting of arrays and objects.
pub const MAX_DEPTH: usize = 32;
/// Longest number, in characters (a longer one cannot be any value the API takes).
pub const MAX_NUMBER: usize = 64;

/// A JSON value. Numbers keep their text, so a reader can tell `1` from `1.0` (toxiproxy's
/// attributes are whole numbers) and nothing is lost to floating point.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as written (valid JSON number syntax).
    Num(String),
    /// A string, unescaped.
    Str(String),
    /// An array.
    Arr(Vec<Value>),
    /// An object's members in the order written (keys may repeat; the last one counts).
    Obj(Vec<(String, Value)>),
}

/// Why a body is not JSON: what was wrong and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset in the input.
    pub at: usize,
    /// What was expected or found.
    pub what: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed JSON at byte {}: {}", self.at, self.what)
    }
}

impl std::error::Error for JsonError {}

impl Value {
    /// The member `key` of an object (the last one, when the key repeats).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Obj(members) => members.iter().rev().find(|(k, _)| k == key).map(|m| &m.1),
            _ => None,
        }
    }

    /// The name of the value's type, for messages (`a string`, `an object`).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Num(_) => "a number",
            Value::Str(_) => "a string",
            Value::Arr(_) => "an array",
            Value::Obj(_) => "an object",
        }
    }

    /// A whole number written without a fraction or exponent, as Go decodes into `int64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Num(t) if !t.contains(['.', 'e', 'E']) => t.parse().ok(),
            _ => None,
        }
    }

    /// Any number, as a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Num(t) => t.parse().ok(),
            _ => None,
        }
    }

    /// Appends the value as compact JSON text.
    pub fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Num(t) => out.push_str(t),
            Value::Str(s) => json_str(out, s),
            Value::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Value::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_str(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write(&mut s);
        f.write_str(&s)
    }
}

/// Reads the first JSON value of `input` (leading whitespace allowed; what follows the value
/// is left, as toxiproxy's decoder leaves it). An empty input is an error.
pub fn parse(input: &[u8]) -> Result<Value, JsonError> {
    let mut r = Reader { b: input, at: 0 };
    r.value(0)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn err<T>(&self, what: &'static str) -> Result<T, JsonError> {
        Err(JsonError { at: self.at, what })
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.skip_ws();
        match self.peek() {
            None => self.err("unexpected end of input"),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::Str),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.err("expected a value"),
        }
    }

    fn literal(&mut self, word: &'static str, v: Value) -> Result<Value, JsonError> {
        let end = self.at.saturating_add(word.len());
        if self.b.get(self.at..end) == Some(word.as_bytes()) {
            self.at = end;
            Ok(v)
        } else {
            self.err("invalid literal")
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        self.at += 1; // '{'
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Obj(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return self.err("expected a string key");
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return self.err("expected ':' after a key");
            }
            self.at += 1;
            let v = self.value(depth)?;
            members.push((key, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Obj(members));
                }
                _ => return self.err("expected ',' or '}'"),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        self.at += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Arr(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Arr(items));
                }
                _ => return self.err("expected ',' or ']'"),
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.at;
        let digits = |r: &mut Self| {
            let from = r.at;
            while matches!(r.peek(), Some(b'0'..=b'9')) {
                r.at += 1;
            }
            r.at > from
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        if self.peek() == Some(b'0') {
            self.at += 1;
        } else if !digits(self) {
            return self.err("expected a digit");
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !digits(self) {
                return self.err("expected a digit after '.'");
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if !digits(self) {
                return self.err("expected a digit in the exponent");
            }
        }
        if self.at - start > MAX_NUMBER {
            self.at = start;
            return self.err("number too long");
        }
        let text = self.b.get(start..self.at).unwrap_or_default();
        // Only ASCII digits and signs were taken.
        Ok(Value::Num(String::from_utf8_lossy(text).into_owned()))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut n = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return self.err("expected 4 hex digits after \\u"),
            };
            n = n * 16 + u32::from(d);
            self.at += 1;
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1; // '"'
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return self.err("unterminated string");
            };
            match c {
                b'"' => {
                    self.at += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.at += 1;
                    let esc = self.peek();
                    self.at += 1;
                    let ch = match esc {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => {
                            self.at -= 1;
                            return self.err("invalid escape");
                        }
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return self.err("control character in a string"),
                _ => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }

    /// After `\u`: one escape, or a surrogate pair of two. A lone surrogate is U+FFFD.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let hi = self.hex4()?;
        if !(0xD800..0xDC00).contains(&hi) {
            return Ok(char::from_u32(hi).unwrap_or('\u{fffd}'));
        }
        let rest = self.b.get(self.at..).unwrap_or_default();
        if !rest.starts_with(b"\\u") {
            return Ok('\u{fffd}');
        }
        let save = self.at;
        self.at += 2;
        let lo = self.hex4()?;
        if (0xDC00..0xE000).contains(&lo) {
            let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
            return Ok(char::from_u32(c).unwrap_or('\u{fffd}'));
        }
        // Not a low surrogate: the high one stands alone; the next escape is read on its own.
        self.at = save;
        Ok('\u{fffd}')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Value {
        parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn bad(text: &[u8]) -> JsonError {
        match parse(text) {
            Ok(v) => panic!("{text:?} parsed as {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn values_parse_and_print_back() {
        for text in [
            "null",
            "true",
            "false",
            "0",
            "-0",
            "12",
            "-3.25e+7",
            "1E5",
            "\"a\\\"b\\\\c\\nd\"",
            "[]",
            "{}",
            "[1,[2,[3]],{\"a\":null}]",
            "{\"name\":\"redis\",\"enabled\":true,\"toxics\":[]}",
        ] {
            let v = ok(text);
            assert_eq!(v.to_string(), text, "{text}");
            assert_eq!(ok(&v.to_string()), v);
        }
        assert_eq!(
            ok(" {\n\t\"a\" : [ 1 , 2 ] } ").to_string(),
            "{\"a\":[1,2]}"
        );
    }

    #[test]
    fn strings_unescape() {
        assert_eq!(
            ok(r#""\u00e9\/\b\f\t\r""#),
            Value::Str("é/\u{8}\u{c}\t\r".into())
        );
        assert_eq!(ok(r#""\ud83d\ude00""#), Value::Str("😀".into()));
        // Lone surrogates become U+FFFD, as Go's decoder does.
        assert_eq!(ok(r#""\ud83dx""#), Value::Str("\u{fffd}x".into()));
        assert_eq!(ok(r#""\ude00""#), Value::Str("\u{fffd}".into()));
        assert_eq!(ok(r#""\ud83d\u0041""#), Value::Str("\u{fffd}A".into()));
        // Invalid UTF-8 too.
        assert_eq!(
            parse(b"\"a\xffb\"").unwrap(),
            Value::Str("a\u{fffd}b".into())
        );
    }

    #[test]
    fn the_first_value_is_read_and_the_rest_left() {
        assert_eq!(ok("{\"a\":1} trailing"), ok("{\"a\":1}"));
        assert_eq!(ok("1 2"), Value::Num("1".into()));
    }

    #[test]
    fn numbers_keep_their_text() {
        assert_eq!(ok("100").as_i64(), Some(100));
        assert_eq!(ok("-5").as_i64(), Some(-5));
        assert_eq!(ok("1.0").as_i64(), None);
        assert_eq!(ok("1e3").as_i64(), None);
        assert_eq!(ok("99999999999999999999").as_i64(), None);
        assert_eq!(ok("0.5").as_f64(), Some(0.5));
        assert_eq!(ok("\"1\"").as_i64(), None);
    }

    #[test]
    fn the_last_of_two_equal_keys_wins() {
        let v = ok("{\"a\":1,\"a\":2}");
        assert_eq!(v.get("a"), Some(&Value::Num("2".into())));
        assert_eq!(v.get("b"), None);
        assert_eq!(ok("[1]").get("a"), None);
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(bad(b"").at, 0);
        assert_eq!(bad(b"   ").what, "unexpected end of input");
        assert_eq!(bad(b"{\"a\" 1}").at, 5);
        assert_eq!(bad(b"{\"a\":1,}").what, "expected a string key");
        assert_eq!(bad(b"[1,]").what, "expected a value");
        assert_eq!(bad(b"[1 2]").what, "expected ',' or ']'");
        assert_eq!(bad(b"tru").what, "invalid literal");
        assert_eq!(bad(b"[01]").at, 2, "a leading zero ends the number");
        assert_eq!(bad(b"-").what, "expected a digit");
        assert_eq!(bad(b"1.").what, "expected a digit after '.'");
        assert_eq!(bad(b"1e").what, "expected a digit in the exponent");
        assert_eq!(bad(b"\"abc").what, "unterminated string");
        assert_eq!(bad(b"\"a\nb\"").what, "control character in a string");
        assert_eq!(bad(b"\"\\x\"").what, "invalid escape");
        assert_eq!(bad(b"\"\\u12\"").what, "expected 4 hex digits after \\u");
        assert_eq!(bad(b"{'a':1}").what, "expected a string key");
        let long = "1".repeat(MAX_NUMBER + 1);
        assert_eq!(bad(long.as_bytes()).what, "number too long");
        assert!(bad(b"x")
            .to_string()
            .starts_with("malformed JSON at byte 0: "));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(deep(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(
            bad(deep(MAX_DEPTH + 1).as_bytes()).what,
            "nested too deeply"
        );
        let objs = "{\"a\":".repeat(MAX_DEPTH + 1);
        assert_eq!(bad(objs.as_bytes()).what, "nested too deeply");
        // A million openings fail fast at the bound, without recursing a million times.
        assert!(parse("[".repeat(1_000_000).as_bytes()).is_err());
    }

    #[test]
    fn property_random_bytes_parse_or_fail_cleanly() {
        let mut r = crate::rng::Rng::new(5);
        let atoms: &[&[u8]] = &[
            b"{", b"}", b"[", b"]", b",", b":", b"\"", b"\\", b"u", b"d83d", b"0", b"1", b"-",
            b".", b"e", b"true", b"null", b" ", b"\xff", b"\"k\"", b"\n",
        ];
        for _ in 0..50_000 {
            let n = r.next_u64() % 16;
            let text: Vec<u8> = (0..n)
                .flat_map(|_| atoms[(r.next_u64() % atoms.len() as u64) as usize].to_vec())
                .collect();
            if let Ok(v) = parse(&text) {
                let printed = v.to_string();
                assert_eq!(parse(printed.as_bytes()), Ok(v), "{text:?}");
            }
        }
    }
}
