//! The probe's outputs: the table on stdout, `--json` and `--html` (one self-contained page,
//! an SVG timeline and a table of attempts per scenario). Pure: text in, text out.

use super::catalogue::{thousands, Scenario};
use super::options::Config;
use super::runner::Run;
use super::verdict::{Baseline, Exit, Grade, Verdict};
use httpfault::{End, Request};
use std::fmt::Write as _;

/// A scenario's run with its verdict.
pub struct Judged {
    pub scenario: &'static Scenario,
    pub run: Run,
    pub verdict: Verdict,
}

fn plural(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

/// The protocols the requests of a run came over: "HTTP/1.1", "HTTP/1.1 and HTTP/2".
fn protocols(journal: &[(f64, Request)]) -> String {
    let mut seen: Vec<&str> = journal.iter().filter_map(|(_, r)| r.version).collect();
    seen.sort_unstable();
    seen.dedup();
    match seen.as_slice() {
        [] => "no protocol".into(),
        [one] => (*one).into(),
        many => many.join(" and "),
    }
}

/// The healthy run in one line, above the table.
pub fn baseline_line(base: &Run, b: &Baseline) -> String {
    format!(
        "healthy run: {} after {:.2} s, {} on {} over {}, {} bytes on stdout\n",
        base.exit,
        base.seconds,
        plural(b.requests, "request"),
        plural(b.connections, "connection"),
        protocols(&base.journal),
        base.stdout_bytes
    )
}

/// The table: one row a scenario (name, grade, attempts, time, reason), then a summary.
pub fn table(judged: &[Judged]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<19} {:<5} {:>8} {:>8}  reason",
        "scenario", "grade", "attempts", "time"
    );
    for j in judged {
        let _ = writeln!(
            o,
            "{:<19} {:<5} {:>8} {:>7.2}s  {}",
            j.scenario.name,
            j.verdict.grade.name(),
            j.run.attempts.len(),
            j.run.seconds,
            j.verdict.reason
        );
    }
    let count = |g| judged.iter().filter(|j| j.verdict.grade == g).count();
    let na = match count(Grade::NotApplicable) {
        0 => String::new(),
        k => format!(", {k} n/a"),
    };
    let _ = writeln!(
        o,
        "{}: {} ok, {} warn, {} bad{na}",
        plural(judged.len(), "scenario"),
        count(Grade::Ok),
        count(Grade::Warn),
        count(Grade::Bad)
    );
    o
}

use httpfault::json::string as json_str;

/// A run's fields: how it ended, its time, output, URL, stderr and journal entries.
fn json_run(o: &mut String, r: &Run) {
    match r.exit {
        Exit::Code(c) => {
            let _ = write!(o, "\"exit\": {c}, \"signal\": null, \"killed\": false");
        }
        Exit::Signal(s) => {
            let _ = write!(o, "\"exit\": null, \"signal\": {s}, \"killed\": false");
        }
        Exit::Killed => o.push_str("\"exit\": null, \"signal\": null, \"killed\": true"),
    }
    let _ = write!(
        o,
        ", \"seconds\": {:.6}, \"stdout_bytes\": {}, \"url\": ",
        r.seconds, r.stdout_bytes
    );
    json_str(o, &r.url);
    o.push_str(", \"stderr_tail\": ");
    json_str(o, &r.stderr_tail);
    o.push_str(", \"attempts\": [");
    for (k, (t, req)) in r.journal.iter().enumerate() {
        o.push_str(if k == 0 { "\n    " } else { ",\n    " });
        // The entry as the control API gives it, plus its arrival on the command's clock.
        let entry = req.to_json();
        let _ = write!(o, "{{\"at\": {t:.6}, {}", &entry[1..]);
    }
    o.push(']');
}

/// `{"command": [...], "baseline": {...}, "stopped": ..., "scenarios": [...]}`: the
/// contract's shape, with the healthy run, the sentence that stopped the probe (`null` when
/// it ran), and per scenario the server's URL, how the command ended and its stderr's tail.
pub fn json(config: &Config, base: &Run, stopped: Option<&str>, judged: &[Judged]) -> String {
    let mut o = String::from("{\"command\": [");
    for (i, a) in config.command.iter().enumerate() {
        if i > 0 {
            o.push_str(", ");
        }
        json_str(&mut o, a);
    }
    let _ = write!(
        o,
        "], \"protocol\": \"{}\", \"body\": {}, \"tls\": {}, \"timeout\": \"{}\",\n\"baseline\": {{",
        config.protocol.name(),
        config.body,
        config.tls,
        config.timeout_text()
    );
    json_run(&mut o, base);
    o.push_str("},\n\"stopped\": ");
    match stopped {
        Some(s) => json_str(&mut o, s),
        None => o.push_str("null"),
    }
    o.push_str(",\n\"scenarios\": [");
    for (i, j) in judged.iter().enumerate() {
        o.push_str(if i == 0 { "\n  {" } else { ",\n  {" });
        o.push_str("\"name\": ");
        json_str(&mut o, j.scenario.name);
        o.push_str(", \"grade\": ");
        json_str(&mut o, j.verdict.grade.name());
        o.push_str(", \"reason\": ");
        json_str(&mut o, &j.verdict.reason);
        o.push_str(", ");
        json_run(&mut o, &j.run);
        o.push('}');
    }
    o.push_str("\n]}\n");
    o
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            c => o.push(c),
        }
    }
    o
}

fn grade_color(g: Grade) -> &'static str {
    match g {
        Grade::NotApplicable => "#57606a",
        Grade::Ok => "#1a7f37",
        Grade::Warn => "#9a6700",
        Grade::Bad => "#cf222e",
    }
}

/// The colours of the attempt marks, and what each means (the page's legend).
const COLORS: [(&str, &str); 5] = [
    ("#1a7f37", "whole answer, 2xx"),
    ("#bf8700", "whole answer, another status"),
    ("#cf222e", "cut short by the server (RST, FIN, silence)"),
    ("#8c959f", "the client left first"),
    ("#6e40c9", "still open when the command ended"),
];

fn end_color(status: u16, end: Option<End>) -> &'static str {
    let i = match end {
        Some(End::Complete) if (200..300).contains(&status) => 0,
        Some(End::Complete) => 1,
        Some(End::PeerGone) => 3,
        None => 4,
        _ => 2,
    };
    COLORS[i].0
}

/// What the server did with one request, in plain words: the scenario's fault for the
/// attempts that met it, else what was sent.
fn answer(s: &Scenario, healthy: bool, r: &Request, body: u64) -> String {
    if r.step.is_none() && r.method != super::verdict::HANDSHAKE {
        // Not from the scenario's plans: a request the server refused (400, 431, ...).
        return match r.status {
            0 => "no answer (not from the plan)".into(),
            status => format!("{status}, not from the plan"),
        };
    }
    let met_close = r.status == 0 && matches!(r.end, Some(End::Close | End::Reset));
    match (healthy, r.status) {
        (false, _) => s.label(body),
        (true, _) if met_close => "closed: a reused connection".into(),
        (true, 0) => "nothing sent".into(),
        (true, status) => format!("{status}, healthy"),
    }
}

/// How one request ended, in plain words.
fn ending(r: &Request) -> &'static str {
    match r.end {
        Some(End::Complete) => "answered whole",
        Some(End::Reset) => "RST",
        Some(End::Close) => "FIN",
        Some(End::Hang) => "silence",
        Some(End::PeerGone) => "client left",
        Some(End::Timeout) => "client too slow",
        Some(End::Error) => "server error",
        None => "still open",
    }
}

const SVG_W: f64 = 760.0;
const LEFT: f64 = 30.0;
const RIGHT: f64 = 30.0;
/// Width of a character of the 10-pixel labels, generously (so labels never overlap).
const CHAR_W: f64 = 6.2;

/// One attempt's label: "#1 RST after 32,768 bytes".
struct Label {
    x: f64,
    text: String,
}

/// Labels left to right, each kept only where it does not overlap the one before, and
/// shifted left (never past the axis' start) where it would run off the page.
fn place(labels: Vec<Label>) -> Vec<Label> {
    let mut kept: Vec<Label> = Vec::new();
    let mut free = 0.0;
    for mut l in labels {
        let w = l.text.chars().count() as f64 * CHAR_W;
        l.x = l.x.min(SVG_W - 2.0 - w).max(2.0);
        if l.x >= free {
            free = l.x + w + 8.0;
            kept.push(l);
        }
    }
    kept
}

/// One run's timeline: the time axis, one `class="attempt"` mark per journal entry at its
/// arrival (as wide as the response took, coloured by how it ended), its label in plain words
/// where there is room, and the command's end in a row of its own.
fn timeline(name: &str, s: Option<&Scenario>, run: &Run, faults: usize, body: u64) -> String {
    let last = run
        .journal
        .iter()
        .map(|(t, q)| t + q.duration.map_or(0.0, |d| d.as_secs_f64()))
        .fold(run.seconds, f64::max);
    let span = if last > 0.0 { last * 1.05 } else { 1.0 };
    let x = |t: f64| LEFT + (t.max(0.0) / span) * (SVG_W - LEFT - RIGHT);
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{SVG_W}\" height=\"92\" \
         viewBox=\"0 0 {SVG_W} 92\" role=\"img\" aria-label=\"timeline of {name}\">\
         <line x1=\"{LEFT}\" y1=\"46\" x2=\"{:.1}\" y2=\"46\" stroke=\"#57606a\"/>",
        SVG_W - RIGHT
    );
    for k in 0..=4 {
        let t = span * f64::from(k) / 4.0;
        let _ = write!(
            o,
            "<line x1=\"{0:.1}\" y1=\"46\" x2=\"{0:.1}\" y2=\"50\" stroke=\"#57606a\"/>\
             <text x=\"{0:.1}\" y=\"61\" font-size=\"10\" text-anchor=\"middle\" fill=\"#57606a\">{1:.2} s</text>",
            x(t),
            t
        );
    }
    let mut labels = Vec::new();
    for (i, (t, q)) in run.journal.iter().enumerate() {
        let dur = q
            .duration
            .map_or(run.seconds - t, |d| d.as_secs_f64())
            .max(0.0);
        let x0 = x(*t);
        let w = (x(t + dur) - x0).max(3.0);
        let healthy = q.step.is_some_and(|step| step > faults);
        let said = match s {
            Some(s) => answer(s, healthy, q, body),
            None => format!("{}, healthy", q.status),
        };
        let _ = write!(
            o,
            "<rect class=\"attempt\" x=\"{x0:.1}\" y=\"22\" width=\"{w:.1}\" height=\"16\" \
             fill=\"{}\" fill-opacity=\"0.8\"><title>#{} at {t:.3} s, {}: {} {} on connection {}; \
             {said}; {} bytes sent; {}</title></rect>",
            end_color(q.status, q.end),
            i + 1,
            q.version.unwrap_or("no HTTP"),
            html_escape(&q.method),
            html_escape(&q.target),
            q.conn,
            thousands(q.bytes),
            ending(q)
        );
        labels.push(Label {
            x: x0,
            text: format!("#{} {said}", i + 1),
        });
    }
    for l in place(labels) {
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"15\" font-size=\"10\" fill=\"#24292f\">{}</text>",
            l.x,
            html_escape(&l.text)
        );
    }
    let xe = x(run.seconds);
    let end = format!("command ended: {} at {:.2} s", run.exit, run.seconds);
    let ew = end.chars().count() as f64 * CHAR_W;
    let (tx, anchor) = if xe + 4.0 + ew <= SVG_W - 2.0 {
        (xe + 4.0, "start")
    } else {
        ((xe - 4.0).max(ew + 2.0), "end")
    };
    let _ = write!(
        o,
        "<line class=\"end\" x1=\"{xe:.1}\" y1=\"18\" x2=\"{xe:.1}\" y2=\"72\" stroke=\"#0969da\" \
         stroke-width=\"2\"/><text x=\"{tx:.1}\" y=\"84\" font-size=\"11\" fill=\"#0969da\" \
         text-anchor=\"{anchor}\">{}</text></svg>",
        html_escape(&end)
    );
    o
}

/// The attempts of a run as a table: number, arrival, protocol, connection, request, what the
/// server did, how it ended, bytes sent.
fn attempts_table(s: Option<&Scenario>, run: &Run, faults: usize, body: u64) -> String {
    if run.journal.is_empty() {
        return "<p>No request reached the server.</p>".into();
    }
    let mut o = String::from(
        "<table class=\"attempts\"><tr><th>#</th><th>at</th><th>protocol</th><th>connection</th>\
         <th>request</th><th>the server</th><th>ended</th><th>bytes sent</th></tr>",
    );
    for (i, (t, q)) in run.journal.iter().enumerate().take(MAX_ROWS) {
        let healthy = q.step.is_some_and(|step| step > faults);
        let said = match s {
            Some(s) => answer(s, healthy, q, body),
            None => format!("{}, healthy", q.status),
        };
        let _ = write!(
            o,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{t:.3} s</td><td>{}</td><td class=\"n\">{}</td>\
             <td><code>{} {}</code></td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            i + 1,
            match (q.version, q.stream, q.ws.is_some()) {
                (Some(v), Some(stream), _) => format!("{v} (stream {stream})"),
                (Some(v), None, true) => format!("{v}, then WebSocket"),
                (v, _, _) => v.unwrap_or("(TLS handshake)").to_string(),
            },
            q.conn,
            html_escape(&q.method),
            html_escape(&q.target),
            html_escape(&said),
            ending(q),
            thousands(q.bytes)
        );
    }
    if let Some(more) = run.journal.len().checked_sub(MAX_ROWS).filter(|k| *k > 0) {
        let _ = write!(
            o,
            "<tr><td colspan=\"8\">... and {more} more (--json has every one)</td></tr>"
        );
    }
    o.push_str("</table>");
    o
}

/// Most attempts listed in a scenario's table (a redirect loop makes hundreds).
const MAX_ROWS: usize = 30;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#24292f}\
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #d0d7de;text-align:left}\
.ok{color:#1a7f37}.warn{color:#9a6700}.bad{color:#cf222e}.na{color:#57606a}td.n{text-align:right}\
td.n,td:first-child{white-space:nowrap}table.attempts{font-size:12px;margin-top:.5em}\
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:-1px}\
section{margin:1.5em 0}code{background:#f6f8fa;padding:1px 4px}";

fn grade_class(g: Grade) -> &'static str {
    match g {
        Grade::NotApplicable => "na",
        g => g.name(),
    }
}

/// The colours of the timelines, once for the page.
fn legend() -> String {
    let mut o = String::from(
        "<p class=\"legend\">Each mark is one request, from its arrival to the end of its answer:",
    );
    for (color, meaning) in COLORS {
        let _ = write!(o, "<span style=\"background:{color}\"></span>{meaning}");
    }
    o.push_str(
        "<span style=\"background:#0969da;width:3px\"></span>the command's end. \
         Hover a mark for its details.</p>\n",
    );
    o
}

/// One page, no script and nothing from the network: the healthy run, the legend, the table,
/// then per scenario its verdict, what the server did, the timeline and the attempts.
pub fn html(config: &Config, base: &Run, stopped: Option<&str>, judged: &[Judged]) -> String {
    let cmd = html_escape(&config.command.join(" "));
    let body = config.body;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>httpfault probe: {cmd}</title><style>{STYLE}</style></head><body>\n\
         <h1>httpfault probe</h1><p>Command: <code>{cmd}</code>; catalogue: <code>{}</code> \
         (each attempt's protocol version is in its row below)</p>\n",
        config.protocol.name()
    );
    if let Some(statement) = stopped {
        let _ = writeln!(
            o,
            "<p class=\"bad\"><strong>{}</strong></p>",
            html_escape(statement)
        );
    }
    o.push_str(&legend());
    let b = Baseline::new(&base.attempts, Vec::new());
    let _ = writeln!(
        o,
        "<section id=\"baseline\"><h2>The healthy run (baseline)</h2><p>{} after {:.2} s; {} on \
         {} over {}; {} bytes on stdout. Requests beyond its count are retries, and its output is \
         the healthy output.</p>\n{}{}</section>",
        html_escape(&base.exit.to_string()),
        base.seconds,
        plural(b.requests, "request"),
        plural(b.connections, "connection"),
        protocols(&base.journal),
        thousands(base.stdout_bytes),
        timeline("the healthy run", None, base, 0, body),
        attempts_table(None, base, 0, body)
    );
    if judged.is_empty() {
        o.push_str("</body></html>\n");
        return o;
    }
    o.push_str(
        "<table><tr><th>scenario</th><th>grade</th><th>attempts</th><th>time</th><th>reason</th></tr>\n",
    );
    for j in judged {
        let g = j.verdict.grade;
        let _ = writeln!(
            o,
            "<tr><td><a href=\"#{0}\">{0}</a></td><td class=\"{1}\">{2}</td><td class=\"n\">{3}</td>\
             <td class=\"n\">{4:.2} s</td><td>{5}</td></tr>",
            j.scenario.name,
            grade_class(g),
            g.name(),
            j.run.attempts.len(),
            j.run.seconds,
            html_escape(&j.verdict.reason)
        );
    }
    o.push_str("</table>\n");
    for j in judged {
        let s = j.scenario;
        let g = j.verdict.grade;
        let _ = writeln!(
            o,
            "<section id=\"{0}\"><h2>{0} <span style=\"color:{1}\">{2}</span></h2>\
             <p>{3}</p><p>The server: {4}. The command: {5} after {6:.2} s, {7} bytes on stdout, \
             {8}.</p>\n{9}{10}</section>",
            s.name,
            grade_color(g),
            g.name(),
            html_escape(&j.verdict.reason),
            html_escape(&s.describe(body)),
            html_escape(&j.run.exit.to_string()),
            j.run.seconds,
            thousands(j.run.stdout_bytes),
            plural(j.run.attempts.len(), "attempt"),
            timeline(s.name, Some(s), &j.run, s.faults, body),
            attempts_table(Some(s), &j.run, s.faults, body)
        );
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_text_is_escaped() {
        assert_eq!(
            html_escape("<b a=\"1\">&</b>"),
            "&lt;b a=&quot;1&quot;&gt;&amp;&lt;/b&gt;"
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut o = String::new();
        json_str(&mut o, "a\"b\\c\nd\u{1}");
        assert_eq!(o, r#""a\"b\\c\nd\u0001""#);
    }

    #[test]
    fn attempt_colours_follow_how_they_ended() {
        assert_eq!(end_color(200, Some(End::Complete)), "#1a7f37");
        assert_eq!(end_color(503, Some(End::Complete)), "#bf8700");
        assert_eq!(end_color(200, Some(End::Reset)), "#cf222e");
        assert_eq!(end_color(200, Some(End::PeerGone)), "#8c959f");
        assert_eq!(end_color(0, None), "#6e40c9");
    }

    #[test]
    fn labels_never_overlap_nor_leave_the_picture() {
        let labels = (0..30)
            .map(|i| Label {
                x: LEFT + f64::from(i) * 25.0,
                text: format!("#{} 302 to /redirect-loop", i + 1),
            })
            .chain(std::iter::once(Label {
                x: SVG_W - 5.0,
                text: "#31 RST after 32,768 bytes".into(),
            }))
            .collect();
        let kept = place(labels);
        assert!(kept.len() >= 3, "{}", kept.len());
        let mut end = 0.0;
        for l in &kept {
            let w = l.text.chars().count() as f64 * CHAR_W;
            assert!(l.x >= end, "overlap at {}", l.text);
            assert!(l.x >= 0.0 && l.x + w <= SVG_W, "clipped: {}", l.text);
            end = l.x + w;
        }
        assert_eq!(kept[0].text, "#1 302 to /redirect-loop");
    }
}
