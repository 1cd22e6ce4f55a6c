//! Console sessions as the docs write them, and the shell text the checker must understand to
//! run them: `$ ` starts a command (a line ending in `\` goes on), the lines up to the next
//! `$ ` are what it prints, and `...` in them matches any text. Pure.

/// One command of a session and what the docs say it prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The 1-based line of the file where the command starts.
    pub line: usize,
    /// The command, continuation lines joined as the shell joins them.
    pub text: String,
    /// What the docs show it printing (stdout and stderr as a terminal shows them), if anything.
    pub expect: Option<String>,
}

/// The commands of a console block whose first line is line `first` of its file.
pub fn parse(body: &str, first: usize) -> Result<Vec<Command>, String> {
    let mut out: Vec<Command> = Vec::new();
    let mut lines = body.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let Some(cmd) = line.strip_prefix("$ ") else {
            match out.last_mut() {
                Some(c) => {
                    let e = c.expect.get_or_insert_with(String::new);
                    e.push_str(line);
                    e.push('\n');
                }
                None => {
                    return Err(format!(
                        "line {}: output before any `$ ` command",
                        first + i
                    ))
                }
            }
            continue;
        };
        let mut text = cmd.to_string();
        while text.ends_with('\\') {
            text.pop();
            match lines.next() {
                Some((_, more)) => text.push_str(more),
                None => return Err(format!("line {}: `\\` at the end of the block", first + i)),
            }
        }
        if text.contains("<<") && !text.contains("<<<") {
            return Err(format!(
                "line {}: a here-document in a session reads as output; put the text in a \
                 ```LANG file=NAME block and use the file",
                first + i
            ));
        }
        out.push(Command {
            line: first + i,
            text,
            expect: None,
        });
    }
    for c in &mut out {
        if let Some(e) = &c.expect {
            let e = normalize(e);
            c.expect = (!e.is_empty()).then_some(e);
        }
    }
    Ok(out)
}

/// Output as compared: no `\r`, no terminal colours, no trailing blanks on a line or at the end.
pub fn normalize(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {}
            // CSI sequences (colours): ESC [ parameters final-byte.
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            c => plain.push(c),
        }
    }
    let lines: Vec<&str> = plain.lines().map(str::trim_end).collect();
    lines.join("\n").trim_end().to_string()
}

/// Does `got` match `expected`, where each `...` in `expected` stands for any text (line breaks
/// included), a number with a decimal point for any such number (times and durations differ
/// from run to run: `0.10s`, `t: 0.012345`), and a run of spaces for any run of spaces (the
/// columns of a table move with those numbers)?
pub fn matches(expected: &str, got: &str) -> bool {
    matches_exactly(&loosen(expected), &loosen(got))
}

/// Decimal numbers as `0.0`, runs of spaces as one space.
fn loosen(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let digits = |mut j: usize| {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            j
        };
        let preceded = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.');
        if b[i].is_ascii_digit() && !preceded {
            let mut j = digits(i);
            let mut decimal = false;
            while j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
                j = digits(j + 1);
                decimal = true;
            }
            if decimal {
                out.push_str("0.0");
            } else {
                out.push_str(&text[i..j]);
            }
            i = j;
        } else if b[i] == b' ' {
            out.push(' ');
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
        } else {
            let c = text[i..].chars().next().expect("inside the text");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn matches_exactly(expected: &str, got: &str) -> bool {
    let parts: Vec<&str> = expected.split("...").collect();
    let (first, rest) = parts.split_first().expect("split gives one part at least");
    let Some(mut tail) = got.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return tail.is_empty();
    };
    for part in middle {
        match tail.find(part) {
            Some(at) => tail = &tail[at + part.len()..],
            None => return false,
        }
    }
    tail.len() >= last.len() && tail.ends_with(last)
}

/// Splits a command into its code and its trailing `# comment` (a `#` outside quotes that
/// starts a word).
pub fn split_comment(cmd: &str) -> (&str, &str) {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in cmd.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single && prev != '\\' => double = !double,
            '#' if !single && !double && prev.is_whitespace() => {
                return (cmd[..i].trim_end(), &cmd[i..]);
            }
            _ => {}
        }
        prev = c;
    }
    (cmd.trim_end(), "")
}

/// Shell words, quotes removed (enough for the options of a command line: no expansions).
pub fn words(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut single, mut double, mut any) = (false, false, false);
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' if !double => {
                single = !single;
                any = true;
            }
            '"' if !single => {
                double = !double;
                any = true;
            }
            '\\' if !single => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() && !single && !double => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The simple commands of a command line: split at `|`, `;`, `&&`, `||`, `&` and `$(` outside
/// quotes (and outside a synopsis's brackets: `[--log text|json]`), comments dropped.
pub fn simple_commands(cmd: &str) -> Vec<String> {
    let code = split_comment(cmd).0;
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut single, mut double, mut brackets) = (false, false, 0usize);
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '[' if !single && !double => brackets += 1,
            ']' if !single && !double => brackets = brackets.saturating_sub(1),
            _ => {}
        }
        let split = !single
            && !double
            && brackets == 0
            && (matches!(c, '|' | ';' | '&' | ')') || (c == '$' && chars.peek() == Some(&'(')));
        if split {
            if c == '$' {
                chars.next();
            }
            out.push(std::mem::take(&mut cur));
            continue;
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The words of a simple command after its `NAME=value` assignments.
pub fn program_and_args(simple: &str) -> Vec<String> {
    let w = words(simple);
    let start = w
        .iter()
        .position(|w| {
            !(w.contains('=') && w.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        })
        .unwrap_or(w.len());
    w[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_commands_and_their_output() {
        let s = "$ httpfault &\nlistening on http://127.0.0.1:9000\n$ curl -s \\\n  http://127.0.0.1:9000/x\n$ echo hi\nhi\n\n";
        let c = parse(s, 10).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].line, 10);
        assert_eq!(
            c[0].expect.as_deref(),
            Some("listening on http://127.0.0.1:9000")
        );
        assert_eq!(c[1].text, "curl -s   http://127.0.0.1:9000/x");
        assert_eq!((c[1].line, c[1].expect.as_deref()), (12, None));
        assert_eq!(c[2].expect.as_deref(), Some("hi"));
        assert!(parse("out\n$ x\n", 1).is_err());
        assert!(parse("$ cat <<EOF\nx\nEOF\n", 1).is_err());
    }

    #[test]
    fn ellipsis_matches_any_text() {
        assert!(matches("abc", "abc"));
        assert!(!matches("abc", "abcd"));
        assert!(matches("a...d", "abcd"));
        assert!(matches("a...", "a\nb\nc"));
        assert!(matches("...c", "abc"));
        assert!(matches("t: ..., x: 1...", "t: 0.123, x: 1, y: 2"));
        assert!(!matches("a...b...c", "acb"));
        assert!(!matches("ab...ba", "aba"));
        assert!(matches("...", ""));
        assert!(matches(
            "x      0.10s  after 0.10 s",
            "x     12.25s  after 3.5 s"
        ));
        assert!(!matches(
            "exit 56 after 32768 bytes",
            "exit 18 after 32768 bytes"
        ));
        assert!(!matches("32768 bytes", "32769 bytes"));
        assert!(matches(
            "curl/7.88.1 at 127.0.0.1:9000",
            "curl/7.88.2 at 127.0.0.1:9000"
        ));
    }

    #[test]
    fn normalize_drops_colours_and_carriage_returns() {
        assert_eq!(normalize("\x1b[1;39m{\x1b[0m}  \r\nx\r\n\r\n"), "{}\nx");
    }

    #[test]
    fn shell_text() {
        assert_eq!(
            split_comment("curl 'a # b' x   # exit 56"),
            ("curl 'a # b' x", "# exit 56")
        );
        assert_eq!(split_comment("echo a#b"), ("echo a#b", ""));
        assert_eq!(
            words("httpfault --route 'GET /x ok' -l \"a b\" c\\ d"),
            ["httpfault", "--route", "GET /x ok", "-l", "a b", "c d"]
        );
        assert_eq!(
            simple_commands("curl -s x | jq -c '.a | .b' && echo $(cat port) # c"),
            ["curl -s x", "jq -c '.a | .b'", "echo", "cat port"]
        );
        assert_eq!(
            simple_commands("httpfault toxiproxy [--log text|json] [-q]"),
            ["httpfault toxiproxy [--log text|json] [-q]"]
        );
        assert_eq!(
            program_and_args("HTTPFAULT_URL=x httpfault probe -- curl"),
            ["httpfault", "probe", "--", "curl"]
        );
    }
}
