//! toxiproxy's toxics: one table row per type ([`TYPES`]) with its attributes, their bounds
//! and what the toxic does to a direction of the relay, as TCP mode's steps ([`DirShape`]).
//! Parsing a request body into a [`Toxic`] and printing one back are pure.

use super::json::Value;
use super::ApiError;
use crate::plan::tcp::{Dir, TcpPlan};
use crate::plan::EndKind;
use crate::tcp::live::DirShape;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most milliseconds a duration attribute may hold (a day, as the plan language's durations).
pub const MAX_MS: i64 = 86_400_000;
/// Largest `bandwidth` rate, KB/s (10^9: a TB/s).
pub const MAX_RATE: i64 = 1_000_000_000;
/// Largest byte count (`limit_data`, slicer sizes): 1 TiB, as the plan language's sizes.
pub const MAX_BYTES: i64 = 1 << 40;
/// Longest `plan` attribute of the `httpfault` toxic.
pub const MAX_PLAN: usize = 4096;
/// Longest toxic name.
pub const MAX_NAME: usize = 256;

/// One attribute of a toxic type: its JSON name and its bounds.
pub struct Attr {
    /// The JSON name.
    pub name: &'static str,
    /// Smallest value.
    pub min: i64,
    /// Largest value.
    pub max: i64,
    /// What the number means, for messages.
    pub unit: &'static str,
}

/// A toxic type: its name and attributes (in toxiproxy's JSON order).
pub struct ToxicType {
    /// `latency`, `bandwidth`, ...
    pub name: &'static str,
    /// Numeric attributes; the `httpfault` type has the text attribute `plan` instead.
    pub attrs: &'static [Attr],
}

const fn attr(name: &'static str, min: i64, max: i64, unit: &'static str) -> Attr {
    Attr {
        name,
        min,
        max,
        unit,
    }
}

/// Every toxic type httpfault knows, toxiproxy's seven and its own `httpfault`.
pub const TYPES: &[ToxicType] = &[
    ToxicType {
        name: "latency",
        attrs: &[
            attr("latency", 0, MAX_MS, "milliseconds"),
            attr("jitter", 0, MAX_MS, "milliseconds"),
        ],
    },
    ToxicType {
        name: "bandwidth",
        attrs: &[attr("rate", 0, MAX_RATE, "KB/s")],
    },
    ToxicType {
        name: "slow_close",
        attrs: &[attr("delay", 0, MAX_MS, "milliseconds")],
    },
    ToxicType {
        name: "timeout",
        attrs: &[attr("timeout", 0, MAX_MS, "milliseconds")],
    },
    ToxicType {
        name: "reset_peer",
        attrs: &[attr("timeout", 0, MAX_MS, "milliseconds")],
    },
    ToxicType {
        name: "slicer",
        attrs: &[
            attr("average_size", 1, MAX_BYTES, "bytes"),
            attr("size_variation", 0, MAX_BYTES, "bytes"),
            attr("delay", 0, MAX_MS * 1000, "microseconds"),
        ],
    },
    ToxicType {
        name: "limit_data",
        attrs: &[attr("bytes", 0, MAX_BYTES, "bytes")],
    },
    ToxicType {
        name: "httpfault",
        attrs: &[],
    },
];

/// Index of the `httpfault` type in [`TYPES`].
const HTTPFAULT: usize = 7;

fn type_names() -> String {
    TYPES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

/// A toxic of a proxy.
#[derive(Clone, Debug)]
pub struct Toxic {
    /// Unique in its proxy.
    pub name: String,
    /// Index in [`TYPES`].
    pub kind: usize,
    /// The direction it acts on.
    pub stream: Dir,
    /// Probability that it applies to a connection.
    pub toxicity: f32,
    /// The numeric attributes, in the order of its type's `attrs`.
    pub values: Vec<i64>,
    /// The `httpfault` type: the plan as given, and parsed.
    pub plan: Option<(String, TcpPlan)>,
    /// Identifies the toxic among every toxic ever made in the process (a connection keeps
    /// its draw per id).
    pub id: u64,
    /// Bumped by each update: connections draw toxicity again and take the new attributes.
    pub version: u64,
    /// Connections it applied to (for the `httpfault` plan's `times`).
    pub applied: Arc<AtomicU64>,
}

fn bad_body(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(400, format!("bad request body: {detail}"))
}

fn stream_name(d: Dir) -> &'static str {
    match d {
        Dir::Up => "upstream",
        Dir::Down => "downstream",
    }
}

/// toxiproxy's stream names, case-insensitive as its `ParseDirection`.
fn parse_stream(s: &str) -> Option<Dir> {
    if s.eq_ignore_ascii_case("upstream") {
        Some(Dir::Up)
    } else if s.eq_ignore_ascii_case("downstream") {
        Some(Dir::Down)
    } else {
        None
    }
}

/// A top-level field that must be a string when present.
fn opt_str<'a>(body: &'a Value, key: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(v) => Err(bad_body(format!(
            "field '{key}' must be a string, not {}",
            v.kind()
        ))),
    }
}

/// `toxicity`: a number from 0 to 1.
fn opt_toxicity(body: &Value) -> Result<Option<f32>, ApiError> {
    match body.get("toxicity") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => Ok(Some(x as f32)),
            _ => Err(bad_body(format!(
                "field 'toxicity' must be a number from 0 to 1, not {}",
                shown(v)
            ))),
        },
    }
}

/// A value as a message shows it: the number itself, or its kind.
fn shown(v: &Value) -> String {
    match v {
        Value::Num(t) => t.clone(),
        other => other.kind().to_string(),
    }
}

impl Toxic {
    /// A new toxic from a `POST /proxies/{proxy}/toxics` body, checked in toxiproxy's order
    /// (body, stream, name, type; the caller then checks the name is free, then
    /// [`Toxic::set_attributes`]). Defaults as toxiproxy's: stream `downstream`, toxicity 1,
    /// name `TYPE_STREAM`.
    pub fn create(body: &Value, id: u64) -> Result<Toxic, ApiError> {
        if !matches!(body, Value::Obj(_)) {
            return Err(bad_body(format!("expected an object, not {}", body.kind())));
        }
        let type_name = opt_str(body, "type")?.unwrap_or("");
        let stream = match opt_str(body, "stream")? {
            None => Dir::Down,
            Some(s) => parse_stream(s).ok_or_else(|| {
                ApiError::new(
                    400,
                    "stream was invalid, can be either upstream or downstream".to_string(),
                )
            })?,
        };
        let toxicity = opt_toxicity(body)?.unwrap_or(1.0);
        let name = match opt_str(body, "name")? {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => format!("{type_name}_{}", stream_name(stream)),
        };
        if name.len() > MAX_NAME {
            return Err(bad_body(format!(
                "field 'name' is longer than {MAX_NAME} bytes"
            )));
        }
        let kind = TYPES
            .iter()
            .position(|t| t.name == type_name)
            .ok_or_else(|| {
                ApiError::new(
                    400,
                    format!(
                        "invalid toxic type: '{}' (expected one of: {})",
                        crate::plan::Escaped(type_name),
                        type_names()
                    ),
                )
            })?;
        let attrs = TYPES.get(kind).map_or(&[][..], |t| t.attrs);
        Ok(Toxic {
            name,
            kind,
            stream,
            toxicity,
            values: attrs.iter().map(|a| a.min.max(0)).collect(),
            plan: None,
            id,
            version: 0,
            applied: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The type's table row.
    pub fn ty(&self) -> &'static ToxicType {
        TYPES.get(self.kind).unwrap_or(&TYPES[0])
    }

    /// Applies `attributes` (and, for an update, `toxicity`) of a request body: attributes
    /// not named keep their values, as toxiproxy's decoder leaves them. Unknown attributes,
    /// wrong types and values out of bounds are errors naming the attribute; on an error the
    /// toxic is unchanged.
    pub fn set_attributes(&mut self, body: &Value, update: bool) -> Result<(), ApiError> {
        if !matches!(body, Value::Obj(_)) {
            return Err(bad_body(format!("expected an object, not {}", body.kind())));
        }
        let mut next = self.clone();
        if update {
            if let Some(t) = opt_toxicity(body)? {
                next.toxicity = t;
            }
        }
        let members = match body.get("attributes") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Obj(m)) => &m[..],
            Some(v) => {
                return Err(bad_body(format!(
                    "field 'attributes' must be an object, not {}",
                    v.kind()
                )))
            }
        };
        let ty = self.ty();
        for (key, v) in members {
            if self.kind == HTTPFAULT && key == "plan" {
                next.plan = Some(parse_plan(v, self.stream)?);
                continue;
            }
            let Some(i) = ty.attrs.iter().position(|a| a.name == key) else {
                let expected = if self.kind == HTTPFAULT {
                    "plan".to_string()
                } else {
                    ty.attrs
                        .iter()
                        .map(|a| a.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(bad_body(format!(
                    "unknown attribute 'attributes.{}' of a {} toxic (expected {expected})",
                    crate::plan::Escaped(key),
                    ty.name
                )));
            };
            let a = &ty.attrs[i];
            match v.as_i64().filter(|n| (a.min..=a.max).contains(n)) {
                Some(n) => next.values[i] = n,
                None => {
                    return Err(bad_body(format!(
                    "attribute 'attributes.{}' must be a whole number of {} from {} to {}, not {}",
                    a.name,
                    a.unit,
                    a.min,
                    a.max,
                    shown(v)
                )))
                }
            }
        }
        if self.kind == HTTPFAULT && next.plan.is_none() {
            return Err(bad_body(
                "an httpfault toxic needs the attribute 'attributes.plan' (a TCP-mode plan)",
            ));
        }
        if update {
            next.version = next.version.wrapping_add(1);
        }
        *self = next;
        Ok(())
    }

    /// The toxic as toxiproxy's JSON: `{"attributes", "name", "type", "stream", "toxicity"}`.
    pub fn write_json(&self, out: &mut String) {
        let mut attrs: Vec<(String, Value)> = self
            .ty()
            .attrs
            .iter()
            .zip(&self.values)
            .map(|(a, v)| (a.name.to_string(), Value::Num(v.to_string())))
            .collect();
        if let Some((text, _)) = &self.plan {
            attrs.push(("plan".to_string(), Value::Str(text.clone())));
        }
        Value::Obj(vec![
            ("attributes".into(), Value::Obj(attrs)),
            ("name".into(), Value::Str(self.name.clone())),
            ("type".into(), Value::Str(self.ty().name.into())),
            ("stream".into(), Value::Str(stream_name(self.stream).into())),
            // f32's shortest text, as Go prints a float32 (1, 0.5).
            ("toxicity".into(), Value::Num(self.toxicity.to_string())),
        ])
        .write(out);
    }

    fn value(&self, name: &str) -> i64 {
        self.ty()
            .attrs
            .iter()
            .position(|a| a.name == name)
            .and_then(|i| self.values.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// Adds what the toxic does to direction `d` to `shape`. `base`: bytes delivered in `d`
    /// when the toxic began to apply (its offsets count from there); `since`: when it did.
    /// `at_start`: it applied as the connection began (its plan's `delay` and bare endings
    /// were taken before connecting).
    pub fn shape_into(
        &self,
        shape: &mut DirShape,
        d: Dir,
        base: u64,
        since: Instant,
        at_start: bool,
    ) {
        let ms = |n: i64| Duration::from_millis(u64::try_from(n).unwrap_or(0));
        if let Some((_, plan)) = &self.plan {
            plan_into(shape, plan, d, base, since, at_start);
            return;
        }
        if self.stream != d {
            return;
        }
        let p = &mut shape.plan;
        match self.ty().name {
            "latency" => {
                let (l, j) = (ms(self.value("latency")), ms(self.value("jitter")));
                if !l.is_zero() || !j.is_zero() {
                    p.latency = Some(p.latency.unwrap_or_default() + l);
                }
                if !j.is_zero() {
                    p.jitter = Some(p.jitter.unwrap_or_default() + j);
                }
            }
            "bandwidth" => match u64::try_from(self.value("rate")) {
                // toxiproxy's rate 0 lets nothing through.
                Ok(0) | Err(_) => shape.hold = true,
                Ok(kb) => p.rate = Some(p.rate.map_or(kb * 1000, |r| r.min(kb * 1000))),
            },
            "slow_close" => {
                shape.eof_delay =
                    Some(shape.eof_delay.unwrap_or_default() + ms(self.value("delay")));
            }
            "timeout" => {
                shape.hold = true;
                let t = self.value("timeout");
                if t > 0 {
                    earliest_cut(shape, EndKind::Close, since + ms(t));
                }
            }
            "reset_peer" => {
                let t = ms(self.value("timeout"));
                shape.reset_after_data = Some(shape.reset_after_data.map_or(t, |x| x.min(t)));
            }
            "slicer" => {
                let n = |k: &str| u64::try_from(self.value(k)).unwrap_or(0);
                p.slice = Some(n("average_size").max(1));
                p.slice_variation = Some(n("size_variation")).filter(|v| *v > 0);
                p.slice_delay = Some(Duration::from_micros(n("delay"))).filter(|x| !x.is_zero());
            }
            "limit_data" => {
                let at = base.saturating_add(u64::try_from(self.value("bytes")).unwrap_or(0));
                earliest_ending(shape, EndKind::Close, at);
            }
            _ => {}
        }
    }
}

/// The `httpfault` toxic's plan: unprefixed steps act on the toxic's stream.
fn parse_plan(v: &Value, stream: Dir) -> Result<(String, TcpPlan), ApiError> {
    let Value::Str(text) = v else {
        return Err(bad_body(format!(
            "attribute 'attributes.plan' must be a string (a TCP-mode plan), not {}",
            v.kind()
        )));
    };
    if text.len() > MAX_PLAN {
        return Err(bad_body(format!(
            "attribute 'attributes.plan' is longer than {MAX_PLAN} bytes"
        )));
    }
    let plan = TcpPlan::parse_toward(text, stream)
        .map_err(|e| bad_body(format!("attribute 'attributes.plan': {e}")))?;
    Ok((text.clone(), plan))
}

fn earliest_ending(shape: &mut DirShape, kind: EndKind, at: u64) {
    match shape.plan.ending {
        Some((_, old)) if old <= at => {}
        _ => shape.plan.ending = Some((kind, at)),
    }
}

fn earliest_cut(shape: &mut DirShape, kind: EndKind, at: Instant) {
    match shape.cut_at {
        Some((_, old)) if old <= at => {}
        _ => shape.cut_at = Some((kind, at)),
    }
}

/// An `httpfault` toxic's plan, direction `d`, with its offsets moved to `base`.
fn plan_into(
    shape: &mut DirShape,
    plan: &TcpPlan,
    d: Dir,
    base: u64,
    since: Instant,
    at_start: bool,
) {
    let dp = plan.dir(d);
    let p = &mut shape.plan;
    if let Some(l) = dp.latency {
        p.latency = Some(p.latency.unwrap_or_default() + l);
    }
    if let Some(j) = dp.jitter {
        p.jitter = Some(p.jitter.unwrap_or_default() + j);
    }
    if let Some(r) = dp.rate {
        p.rate = Some(p.rate.map_or(r, |old| old.min(r)));
    }
    if dp.slice.is_some() {
        p.slice = dp.slice;
        p.slice_variation = dp.slice_variation;
        p.slice_delay = dp.slice_delay;
    }
    for (off, pause) in &dp.pauses {
        p.pauses.push((base.saturating_add(*off), *pause));
    }
    if let Some((kind, at)) = dp.ending {
        earliest_ending(shape, kind, base.saturating_add(at));
    }
    // A bare ending added to a live connection acts at once (at the start it was taken
    // instead of connecting upstream).
    if let (Some(kind), false, Dir::Down) = (plan.at_accept, at_start, d) {
        earliest_cut(shape, kind, since);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::toxiproxy::json::parse;

    fn make(body: &str) -> Result<Toxic, ApiError> {
        let v = parse(body.as_bytes()).unwrap();
        let mut t = Toxic::create(&v, 1)?;
        t.set_attributes(&v, false)?;
        Ok(t)
    }

    fn json(t: &Toxic) -> String {
        let mut s = String::new();
        t.write_json(&mut s);
        s
    }

    #[test]
    fn defaults_are_toxiproxys() {
        let t = make(r#"{"type":"latency","attributes":{"latency":100}}"#).unwrap();
        assert_eq!(
            json(&t),
            r#"{"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}"#
        );
        let t = make(r#"{"type":"slicer","stream":"Upstream","toxicity":0.5}"#).unwrap();
        assert_eq!(
            json(&t),
            r#"{"attributes":{"average_size":1,"size_variation":0,"delay":0},"name":"slicer_upstream","type":"slicer","stream":"upstream","toxicity":0.5}"#
        );
        let t =
            make(r#"{"type":"httpfault","name":"x","attributes":{"plan":"reset=10"}}"#).unwrap();
        assert!(json(&t).starts_with(r#"{"attributes":{"plan":"reset=10"},"name":"x""#));
    }

    #[test]
    fn errors_name_the_field() {
        let e = |b: &str| make(b).unwrap_err();
        assert_eq!(e(r#"{"type":"nope"}"#).status, 400);
        assert!(e(r#"{"type":"nope"}"#)
            .message
            .starts_with("invalid toxic type: 'nope'"));
        assert_eq!(
            e(r#"{"type":"latency","stream":"sideways"}"#).message,
            "stream was invalid, can be either upstream or downstream"
        );
        let m = e(r#"{"type":"latency","attributes":{"latency":-5}}"#).message;
        assert!(
            m.starts_with("bad request body: attribute 'attributes.latency'"),
            "{m}"
        );
        assert!(m.contains("-5"), "{m}");
        let m = e(r#"{"type":"latency","attributes":{"latency":"x"}}"#).message;
        assert!(
            m.contains("'attributes.latency'") && m.contains("a string"),
            "{m}"
        );
        let m = e(r#"{"type":"latency","attributes":{"latency":1.5}}"#).message;
        assert!(m.contains("1.5"), "{m}");
        let m = e(r#"{"type":"latency","attributes":{"bogus":1}}"#).message;
        assert!(m.contains("unknown attribute 'attributes.bogus'"), "{m}");
        let m = e(r#"{"type":"latency","attributes":{"latency":99999999999}}"#).message;
        assert!(m.contains("86400000"), "{m}");
        let m = e(r#"{"type":"latency","toxicity":2}"#).message;
        assert!(m.contains("'toxicity'"), "{m}");
        let m = e(r#"{"type":"latency","name":5}"#).message;
        assert!(m.contains("'name' must be a string"), "{m}");
        let m = e(r#"{"type":"httpfault"}"#).message;
        assert!(m.contains("'attributes.plan'"), "{m}");
        let m = e(r#"{"type":"httpfault","attributes":{"plan":"status=500"}}"#).message;
        assert!(
            m.contains("'attributes.plan'") && m.contains("status"),
            "{m}"
        );
        assert_eq!(e(r#"[1]"#).status, 400);
        let m = e(r#"{"type":"slicer","attributes":{"average_size":0}}"#).message;
        assert!(m.contains("'attributes.average_size'"), "{m}");
    }

    #[test]
    fn updates_keep_what_they_do_not_name() {
        let mut t = make(r#"{"type":"latency","attributes":{"latency":100,"jitter":5}}"#).unwrap();
        let v = parse(br#"{"attributes":{"jitter":2},"toxicity":0.25}"#).unwrap();
        t.set_attributes(&v, true).unwrap();
        assert_eq!(t.values, vec![100, 2]);
        assert_eq!(t.toxicity, 0.25);
        assert_eq!(t.version, 1);
        let bad = parse(br#"{"attributes":{"jitter":-1}}"#).unwrap();
        assert!(t.set_attributes(&bad, true).is_err());
        assert_eq!(t.values, vec![100, 2], "unchanged on an error");
    }

    #[test]
    fn toxics_become_shapes() {
        let now = Instant::now();
        let shape = |body: &str, d: Dir, base: u64| {
            let mut s = DirShape::default();
            make(body).unwrap().shape_into(&mut s, d, base, now, false);
            s
        };
        let s = shape(
            r#"{"type":"latency","attributes":{"latency":100,"jitter":10}}"#,
            Dir::Down,
            0,
        );
        assert_eq!(s.plan.latency, Some(Duration::from_millis(100)));
        assert_eq!(s.plan.jitter, Some(Duration::from_millis(10)));
        assert_eq!(
            shape(r#"{"type":"latency"}"#, Dir::Down, 0),
            DirShape::default()
        );
        let s = shape(
            r#"{"type":"latency","stream":"upstream","attributes":{"latency":1}}"#,
            Dir::Down,
            0,
        );
        assert_eq!(s, DirShape::default(), "the other stream is untouched");
        assert_eq!(
            shape(
                r#"{"type":"bandwidth","attributes":{"rate":64}}"#,
                Dir::Down,
                0
            )
            .plan
            .rate,
            Some(64_000)
        );
        assert!(shape(r#"{"type":"bandwidth"}"#, Dir::Down, 0).hold);
        let s = shape(
            r#"{"type":"limit_data","attributes":{"bytes":10}}"#,
            Dir::Down,
            5,
        );
        assert_eq!(s.plan.ending, Some((EndKind::Close, 15)));
        let s = shape(
            r#"{"type":"timeout","attributes":{"timeout":50}}"#,
            Dir::Down,
            0,
        );
        assert!(s.hold);
        assert_eq!(
            s.cut_at,
            Some((EndKind::Close, now + Duration::from_millis(50)))
        );
        let s = shape(
            r#"{"type":"reset_peer","attributes":{"timeout":7}}"#,
            Dir::Down,
            0,
        );
        assert_eq!(s.reset_after_data, Some(Duration::from_millis(7)));
        let s = shape(
            r#"{"type":"slow_close","attributes":{"delay":7}}"#,
            Dir::Down,
            0,
        );
        assert_eq!(s.eof_delay, Some(Duration::from_millis(7)));
        let s = shape(
            r#"{"type":"slicer","attributes":{"average_size":8,"size_variation":2,"delay":30}}"#,
            Dir::Down,
            0,
        );
        assert_eq!((s.plan.slice, s.plan.slice_variation), (Some(8), Some(2)));
        assert_eq!(s.plan.slice_delay, Some(Duration::from_micros(30)));
        // The httpfault toxic: unprefixed steps act on its stream, offsets from the base.
        let body = r#"{"type":"httpfault","stream":"upstream","attributes":{"plan":"reset=10/down:latency=1s"}}"#;
        assert_eq!(
            shape(body, Dir::Up, 100).plan.ending,
            Some((EndKind::Reset, 110))
        );
        assert_eq!(
            shape(body, Dir::Down, 100).plan.latency,
            Some(Duration::from_secs(1))
        );
    }
}
