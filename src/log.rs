//! Log lines on stderr: `text` (grep-friendly `key=value`) or `json` (one object a line).
//!
//! Every value a client controls (method, target, peer) is escaped, so no request can forge a
//! log line: text values with spaces, quotes, `=`, control or non-ASCII bytes are quoted with
//! escapes, and JSON strings are escaped per RFC 8259.

use std::fmt::Write as _;
use std::io::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// One field's value.
#[derive(Clone, Debug)]
pub enum Val<'a> {
    /// A number.
    Num(u64),
    /// Text (escaped or quoted as needed).
    Str(&'a str),
    /// Text printed as it is: only for values the server makes, such as `0.012345`.
    Raw(&'a str),
}

#[derive(Clone, Copy, Debug)]
pub struct Logger {
    pub format: Format,
    pub quiet: bool,
}

impl Logger {
    pub fn enabled(&self) -> bool {
        !self.quiet
    }

    /// Writes one event line. The line is built first and written with one call, so lines
    /// from different connections never interleave.
    pub fn event(&self, event: &str, fields: &[(&str, Val<'_>)]) {
        if self.quiet {
            return;
        }
        let line = self.format_line(event, fields);
        // A closed stderr must not take the server down: the log is best effort.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    pub fn format_line(&self, event: &str, fields: &[(&str, Val<'_>)]) -> String {
        let mut line = String::with_capacity(160);
        match self.format {
            Format::Text => {
                line.push_str("httpfault: event=");
                text_value(&mut line, event);
                for (key, val) in fields {
                    line.push(' ');
                    line.push_str(key);
                    line.push('=');
                    match val {
                        Val::Num(n) => {
                            let _ = write!(line, "{n}");
                        }
                        Val::Str(s) => text_value(&mut line, s),
                        Val::Raw(s) => line.push_str(s),
                    }
                }
            }
            Format::Json => {
                line.push_str("{\"event\":");
                json_str(&mut line, event);
                for (key, val) in fields {
                    line.push(',');
                    json_str(&mut line, key);
                    line.push(':');
                    match val {
                        Val::Num(n) => {
                            let _ = write!(line, "{n}");
                        }
                        Val::Str(s) => json_str(&mut line, s),
                        Val::Raw(s) => line.push_str(s),
                    }
                }
                line.push('}');
            }
        }
        line.push('\n');
        line
    }
}

fn text_value(out: &mut String, s: &str) {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    if plain {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' ' => out.push(c),
            c if c.is_ascii_graphic() => out.push(c),
            c => {
                let mut utf8 = [0u8; 4];
                for b in c.encode_utf8(&mut utf8).bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
        }
    }
    out.push('"');
}

/// Writes `s` as a JSON string (RFC 8259 escapes): the one JSON string writer of the crate
/// (log lines, the journal, the control API).
pub fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(format: Format, fields: &[(&str, Val<'_>)]) -> String {
        Logger {
            format,
            quiet: false,
        }
        .format_line("request", fields)
    }

    #[test]
    fn text_lines_are_key_value() {
        let l = line(
            Format::Text,
            &[
                ("conn", Val::Num(3)),
                ("target", Val::Str("/reset=6")),
                ("plan", Val::Str("")),
            ],
        );
        assert_eq!(
            l,
            "httpfault: event=request conn=3 target=/reset=6 plan=\"\"\n"
        );
    }

    #[test]
    fn text_values_cannot_forge_lines() {
        let l = line(
            Format::Text,
            &[("target", Val::Str("/x\nhttpfault: event=forged \"q\" \\ é"))],
        );
        assert_eq!(l.matches('\n').count(), 1);
        assert_eq!(
            l,
            "httpfault: event=request target=\"/x\\x0ahttpfault: event=forged \\\"q\\\" \\\\ \\xc3\\xa9\"\n"
        );
    }

    #[test]
    fn json_lines_escape_everything() {
        let l = line(
            Format::Json,
            &[
                ("conn", Val::Num(1)),
                ("target", Val::Str("a\"b\\c\n\u{1}\u{7f}é")),
            ],
        );
        assert_eq!(
            l,
            "{\"event\":\"request\",\"conn\":1,\"target\":\"a\\\"b\\\\c\\n\\u0001\\u007fé\"}\n"
        );
    }
}
