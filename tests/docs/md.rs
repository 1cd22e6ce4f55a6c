//! The parts of Markdown the checker reads: fenced blocks with their info strings, inline code
//! spans, links and headings (as GitHub makes anchors of them). Pure: text in, values out.

/// A fenced block: where it is, what its info string says, and its text.
#[derive(Clone, Debug)]
pub struct Block {
    /// The 1-based line of its opening fence.
    pub line: usize,
    /// The first word of the info string (`console`, `python`, ...); empty when there is none.
    pub lang: String,
    /// `no-run` in the info string: the block is syntax-checked, never run.
    pub no_run: bool,
    /// `file=NAME` in the info string: the block is the text of the file NAME.
    pub file: Option<String>,
    /// The block's lines, without the fences and the fence's indentation.
    pub body: String,
}

/// The fenced blocks of a Markdown text, in order. An unclosed fence is an error.
pub fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };
        let indent = line.len() - trimmed.len();
        let mut words = info.split_whitespace();
        let lang = words.next().unwrap_or("").to_string();
        let (mut no_run, mut file) = (false, None);
        for w in words {
            if w == "no-run" || w.starts_with("no-run:") {
                no_run = true;
            } else if let Some(name) = w.strip_prefix("file=") {
                file = Some(name.to_string());
            }
        }
        let mut body = String::new();
        let mut closed = false;
        for (_, l) in lines.by_ref() {
            if l.trim() == "```" {
                closed = true;
                break;
            }
            let cut = l.len() - l.trim_start().len();
            body.push_str(&l[cut.min(indent)..]);
            body.push('\n');
        }
        if !closed {
            return Err(format!("line {}: the fence is never closed", i + 1));
        }
        out.push(Block {
            line: i + 1,
            lang,
            no_run,
            file,
            body,
        });
    }
    Ok(out)
}

/// The text outside fenced blocks, line by line with 1-based line numbers.
pub fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence {
            out.push((i + 1, line));
        }
    }
    out
}

/// The inline code spans of one line of prose (single backticks, as the docs write them).
pub fn code_spans(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('`') else { break };
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    out
}

/// The targets of the links `[text](target)` of one line of prose.
pub fn links(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    out
}

/// The anchors GitHub gives the headings of a Markdown text (`## Proxy mode` -> `proxy-mode`;
/// a repeated heading gets `-1`, `-2`, ...).
pub fn anchors(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, line) in prose(text) {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let base: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut anchor = base.clone();
        let mut n = 0;
        while out.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        out.push(anchor);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_info_and_lose_their_indentation() {
        let text = "a\n```console\n$ curl x\nout\n```\n- item\n\n  ```python file=t.py\n  x = 1\n  ```\n```sh no-run: needs redis\nredis-cli\n```\n";
        let b = blocks(text).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].line, b[0].lang.as_str()), (2, "console"));
        assert_eq!(b[0].body, "$ curl x\nout\n");
        assert_eq!(b[1].file.as_deref(), Some("t.py"));
        assert_eq!(b[1].body, "x = 1\n");
        assert!(b[2].no_run && !b[1].no_run);
        assert!(blocks("```sh\nnever closed\n").is_err());
    }

    #[test]
    fn anchors_are_githubs() {
        let a = anchors("# httpfault\n## Proxy mode\n### A gRPC retry policy, tested\n```\n# not a heading\n```\n## Proxy mode\n## `--tls`: HTTPS\n");
        assert_eq!(
            a,
            [
                "httpfault",
                "proxy-mode",
                "a-grpc-retry-policy-tested",
                "proxy-mode-1",
                "--tls-https"
            ]
        );
    }

    #[test]
    fn spans_and_links() {
        let line = "see [the plans](docs/plans.md#steps) and `--listen ADDR`, `-q`";
        assert_eq!(code_spans(line), ["--listen ADDR", "-q"]);
        assert_eq!(links(line), ["docs/plans.md#steps"]);
    }
}
