//! The probe's outputs: the table on stdout, `--json` and `--html` (one self-contained page,
//! an SVG timeline per scenario). Pure: text in, text out.

use super::verdict::{Exit, Grade, Verdict};
use super::ScenarioRun;
use httpfault::End;
use std::fmt::Write as _;

/// A scenario's run with its verdict.
pub struct Judged {
    pub run: ScenarioRun,
    pub verdict: Verdict,
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
            j.run.scenario.name,
            j.verdict.grade.name(),
            j.run.attempts.len(),
            j.run.seconds,
            j.verdict.reason
        );
    }
    let count = |g| judged.iter().filter(|j| j.verdict.grade == g).count();
    let _ = writeln!(
        o,
        "{} scenario{}: {} ok, {} warn, {} bad",
        judged.len(),
        if judged.len() == 1 { "" } else { "s" },
        count(Grade::Ok),
        count(Grade::Warn),
        count(Grade::Bad)
    );
    o
}

fn json_str(o: &mut String, s: &str) {
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
}

/// `{"command": [...], "body": N, "scenarios": [...]}` as the contract gives it, with the
/// server's URL, how the command ended and the tail of its stderr besides.
pub fn json(command: &[String], body: u64, tls: bool, judged: &[Judged]) -> String {
    let mut o = String::from("{\"command\": [");
    for (i, a) in command.iter().enumerate() {
        if i > 0 {
            o.push_str(", ");
        }
        json_str(&mut o, a);
    }
    let _ = write!(o, "], \"body\": {body}, \"tls\": {tls}, \"scenarios\": [");
    for (i, j) in judged.iter().enumerate() {
        let r = &j.run;
        o.push_str(if i == 0 { "\n  {" } else { ",\n  {" });
        o.push_str("\"name\": ");
        json_str(&mut o, r.scenario.name);
        o.push_str(", \"grade\": ");
        json_str(&mut o, j.verdict.grade.name());
        o.push_str(", \"reason\": ");
        json_str(&mut o, &j.verdict.reason);
        match r.exit {
            Exit::Code(c) => {
                let _ = write!(o, ", \"exit\": {c}, \"signal\": null, \"killed\": false");
            }
            Exit::Signal(s) => {
                let _ = write!(o, ", \"exit\": null, \"signal\": {s}, \"killed\": false");
            }
            Exit::Killed => o.push_str(", \"exit\": null, \"signal\": null, \"killed\": true"),
        }
        let _ = write!(
            o,
            ", \"seconds\": {:.6}, \"stdout_bytes\": {}, \"url\": ",
            r.seconds, r.stdout_bytes
        );
        json_str(&mut o, &r.url);
        o.push_str(", \"stderr_tail\": ");
        json_str(&mut o, &r.stderr_tail);
        o.push_str(", \"attempts\": [");
        for (k, (t, req)) in r.journal.iter().enumerate() {
            o.push_str(if k == 0 { "\n    " } else { ",\n    " });
            // The entry as the control API gives it, plus its arrival on the command's clock.
            let entry = req.to_json();
            let _ = write!(o, "{{\"at\": {t:.6}, {}", &entry[1..]);
        }
        o.push_str("]}");
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
        Grade::Ok => "#1a7f37",
        Grade::Warn => "#9a6700",
        Grade::Bad => "#cf222e",
    }
}

fn end_color(status: u16, end: Option<End>) -> &'static str {
    match end {
        Some(End::Complete) if (200..300).contains(&status) => "#1a7f37",
        Some(End::Complete) => "#bf8700",
        Some(End::PeerGone) => "#8c959f",
        _ => "#cf222e",
    }
}

const SVG_W: f64 = 760.0;
const LEFT: f64 = 30.0;
const RIGHT: f64 = 90.0;

/// One scenario's timeline: the time axis, one `class="attempt"` mark per request at its
/// arrival (as wide as the response took), the fault, and the command's end.
fn timeline(j: &Judged) -> String {
    let r = &j.run;
    let last = r
        .journal
        .iter()
        .map(|(t, q)| t + q.duration.map_or(0.0, |d| d.as_secs_f64()))
        .fold(r.seconds, f64::max);
    let span = if last > 0.0 { last * 1.05 } else { 1.0 };
    let x = |t: f64| LEFT + (t.max(0.0) / span) * (SVG_W - LEFT - RIGHT);
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{SVG_W}\" height=\"78\" \
         viewBox=\"0 0 {SVG_W} 78\" role=\"img\" aria-label=\"timeline of {}\">",
        r.scenario.name
    );
    let _ = write!(
        o,
        "<line x1=\"{LEFT}\" y1=\"50\" x2=\"{:.1}\" y2=\"50\" stroke=\"#57606a\"/>",
        SVG_W - RIGHT
    );
    for k in 0..=4 {
        let t = span * f64::from(k) / 4.0;
        let _ = write!(
            o,
            "<line x1=\"{0:.1}\" y1=\"50\" x2=\"{0:.1}\" y2=\"54\" stroke=\"#57606a\"/>\
             <text x=\"{0:.1}\" y=\"66\" font-size=\"10\" text-anchor=\"middle\" fill=\"#57606a\">{1:.2} s</text>",
            x(t),
            t
        );
    }
    let mut next_label = 0.0;
    for (i, (t, q)) in r.journal.iter().enumerate() {
        let dur = q
            .duration
            .map_or(r.seconds - t, |d| d.as_secs_f64())
            .max(0.0);
        let x0 = x(*t);
        let w = (x(t + dur) - x0).max(3.0);
        let status = q
            .status_sent()
            .map_or("no status".to_string(), |s| s.to_string());
        let end = q.end.map_or("open", |e| e.name());
        let fault = if q.plan.is_empty() {
            "healthy"
        } else {
            &q.plan
        };
        let _ = write!(
            o,
            "<rect class=\"attempt\" x=\"{x0:.1}\" y=\"30\" width=\"{w:.1}\" height=\"16\" \
             fill=\"{}\" fill-opacity=\"0.75\"><title>#{} at {t:.3} s: {} {} on conn {}; {} ({}), \
             {} bytes, {}</title></rect>",
            end_color(q.status, q.end),
            i + 1,
            html_escape(&q.method),
            html_escape(&q.target),
            q.conn,
            status,
            html_escape(fault),
            q.bytes,
            end
        );
        // A label where it does not overlap the one before (the title has it anyway).
        if x0 >= next_label {
            next_label = x0 + 140.0;
            let _ = write!(
                o,
                "<text x=\"{x0:.1}\" y=\"24\" font-size=\"10\" fill=\"#24292f\">{} {}</text>",
                html_escape(fault),
                end
            );
        }
    }
    let xe = x(r.seconds);
    let _ = write!(
        o,
        "<line class=\"end\" x1=\"{xe:.1}\" y1=\"10\" x2=\"{xe:.1}\" y2=\"56\" stroke=\"#0969da\" \
         stroke-width=\"2\"/><text x=\"{:.1}\" y=\"14\" font-size=\"11\" fill=\"#0969da\">{}</text>",
        xe + 4.0,
        html_escape(&r.exit.to_string())
    );
    o.push_str("</svg>");
    o
}

/// One page, no script and nothing from the network: the table, then per scenario its
/// verdict, what the server did and the timeline.
pub fn html(command: &[String], body: u64, never: Option<&str>, judged: &[Judged]) -> String {
    let cmd = html_escape(&command.join(" "));
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>httpfault probe: {cmd}</title><style>\
         body{{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#24292f}}\
         table{{border-collapse:collapse}}td,th{{padding:3px 10px;border-bottom:1px solid #d0d7de;text-align:left}}\
         .ok{{color:#1a7f37}}.warn{{color:#9a6700}}.bad{{color:#cf222e}}td.n{{text-align:right}}\
         td.n,td:first-child{{white-space:nowrap}}\
         section{{margin:1.5em 0}}code{{background:#f6f8fa;padding:1px 4px}}</style></head><body>\n\
         <h1>httpfault probe</h1><p>Command: <code>{cmd}</code></p>\n"
    );
    if let Some(statement) = never {
        let _ = writeln!(
            o,
            "<p class=\"bad\"><strong>{}</strong></p>",
            html_escape(statement)
        );
    }
    o.push_str(
        "<table><tr><th>scenario</th><th>grade</th><th>attempts</th><th>time</th><th>reason</th></tr>\n",
    );
    for j in judged {
        let g = j.verdict.grade.name();
        let _ = writeln!(
            o,
            "<tr><td><a href=\"#{0}\">{0}</a></td><td class=\"{g}\">{g}</td><td class=\"n\">{1}</td>\
             <td class=\"n\">{2:.2} s</td><td>{3}</td></tr>",
            j.run.scenario.name,
            j.run.attempts.len(),
            j.run.seconds,
            html_escape(&j.verdict.reason)
        );
    }
    o.push_str("</table>\n");
    for j in judged {
        let s = j.run.scenario;
        let g = j.verdict.grade;
        let _ = writeln!(
            o,
            "<section id=\"{0}\"><h2>{0} <span style=\"color:{1}\">{2}</span></h2>\
             <p>{3}</p><p>Server: {4}. {5}; {6} stdout bytes in {7:.2} s; {8} attempt(s).</p>\n{9}</section>",
            s.name,
            grade_color(g),
            g.name(),
            html_escape(&j.verdict.reason),
            html_escape(&s.describe(body)),
            html_escape(&j.run.exit.to_string()),
            j.run.stdout_bytes,
            j.run.seconds,
            j.run.attempts.len(),
            timeline(j)
        );
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_and_html_text_are_escaped() {
        let mut o = String::new();
        json_str(&mut o, "a\"b\\c\nd\u{1}");
        assert_eq!(o, r#""a\"b\\c\nd\u0001""#);
        assert_eq!(
            html_escape("<b a=\"1\">&</b>"),
            "&lt;b a=&quot;1&quot;&gt;&amp;&lt;/b&gt;"
        );
    }

    #[test]
    fn attempt_colours_follow_how_they_ended() {
        assert_eq!(end_color(200, Some(End::Complete)), "#1a7f37");
        assert_eq!(end_color(503, Some(End::Complete)), "#bf8700");
        assert_eq!(end_color(200, Some(End::Reset)), "#cf222e");
        assert_eq!(end_color(0, None), "#cf222e");
    }
}
