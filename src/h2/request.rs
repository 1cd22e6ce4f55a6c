//! A request's header fields as HTTP/2 carries them (RFC 9113 section 8): the rules that make a
//! request malformed (a stream error PROTOCOL_ERROR, section 8.1.1), what the server needs of a
//! well-formed one, and its HTTP/1-style text for the journal and `echo`. Pure.

use super::hpack::Fields;

/// What the server needs of a well-formed request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// `:method`.
    pub method: String,
    /// `:path` (`/` for CONNECT, which has none).
    pub path: String,
    /// `content-length`: the request body must be exactly this long (section 8.1.1).
    pub content_length: Option<u64>,
    /// `content-type: application/grpc...`.
    pub grpc: bool,
}

/// The pseudo-header fields of a request (section 8.3.1), each at most once.
#[derive(Default)]
struct Pseudo<'a> {
    method: Option<&'a [u8]>,
    scheme: Option<&'a [u8]>,
    path: Option<&'a [u8]>,
    authority: Option<&'a [u8]>,
}

/// Checks a request's fields; the error says which rule of section 8 they break.
pub fn check(fields: &Fields) -> Result<Request, &'static str> {
    let mut pseudo = Pseudo::default();
    let mut regular = false;
    let mut content_length = None;
    let mut grpc = false;
    for (n, v) in fields {
        check_field(n, v)?;
        if let Some(name) = n.strip_prefix(b":") {
            if regular {
                return Err("pseudo-header field after a regular field");
            }
            let slot = match name {
                b"method" => &mut pseudo.method,
                b"scheme" => &mut pseudo.scheme,
                b"path" => &mut pseudo.path,
                b"authority" => &mut pseudo.authority,
                _ => return Err("pseudo-header field a request does not have"),
            };
            if slot.replace(v).is_some() {
                return Err("pseudo-header field given twice");
            }
            continue;
        }
        regular = true;
        match n.as_slice() {
            b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding"
            | b"upgrade" => return Err("connection-specific header field"),
            b"te" if v != b"trailers" => return Err("te other than trailers"),
            b"content-length" => {
                let len = digits(v).ok_or("content-length that is not a number")?;
                if content_length.replace(len).is_some_and(|l| l != len) {
                    return Err("content-length fields that differ");
                }
            }
            b"content-type" => grpc = v.starts_with(b"application/grpc"),
            _ => {}
        }
    }
    let method = pseudo.method.ok_or("no :method")?;
    let path = if method == b"CONNECT" {
        // Section 8.5: the authority only.
        if pseudo.authority.is_none() || pseudo.scheme.is_some() || pseudo.path.is_some() {
            return Err("CONNECT with :scheme or :path, or without :authority");
        }
        &b"/"[..]
    } else {
        pseudo.scheme.ok_or("no :scheme")?;
        pseudo.path.filter(|p| !p.is_empty()).ok_or("no :path")?
    };
    Ok(Request {
        method: String::from_utf8_lossy(method).into_owned(),
        path: String::from_utf8_lossy(path).into_owned(),
        content_length,
        grpc,
    })
}

/// What the server needs of a request that came as HTTP/1.1 with `Upgrade: h2c` (the HTTP/1
/// parser checked it by its own rules): the first value of each pseudo-header field.
pub fn upgraded(fields: &Fields) -> Request {
    let get = |name: &[u8]| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    Request {
        method: get(b":method").unwrap_or_default(),
        path: get(b":path").unwrap_or_else(|| "/".into()),
        content_length: None,
        grpc: get(b"content-type").is_some_and(|c| c.starts_with("application/grpc")),
    }
}

/// Checks a request's trailers: no pseudo-header fields (section 8.1), well-formed fields.
pub fn check_trailers(fields: &Fields) -> Result<(), &'static str> {
    for (n, v) in fields {
        check_field(n, v)?;
        if n.first() == Some(&b':') {
            return Err("pseudo-header field in trailers");
        }
    }
    Ok(())
}

/// A field's name and value (section 8.2.1): a name of visible ASCII without uppercase (and a
/// colon only at the front of a pseudo-header field's); a value without NUL, CR or LF that
/// neither starts nor ends with a space or tab.
fn check_field(name: &[u8], value: &[u8]) -> Result<(), &'static str> {
    let bare = name.strip_prefix(b":").unwrap_or(name);
    if bare.is_empty()
        || bare
            .iter()
            .any(|&b| b <= 0x20 || b.is_ascii_uppercase() || b >= 0x7f || b == b':')
    {
        return Err("field name with a character it may not have");
    }
    if value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n'))
        || value.first().is_some_and(|b| matches!(b, b' ' | b'\t'))
        || value.last().is_some_and(|b| matches!(b, b' ' | b'\t'))
    {
        return Err("field value with NUL, CR, LF or space at an end");
    }
    Ok(())
}

/// A decimal number of at most 19 digits.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// The request as HTTP/1-style text: the journal's head and what `echo` sends back.
pub fn text_head(method: &str, path: &str, fields: &Fields) -> Vec<u8> {
    let mut t = format!("{method} {path} HTTP/2\r\n").into_bytes();
    for (n, v) in fields {
        let name: &[u8] = match n.as_slice() {
            b":authority" => b"host",
            n if n.first() == Some(&b':') => continue,
            n => n,
        };
        t.extend_from_slice(name);
        t.extend_from_slice(b": ");
        t.extend(
            v.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        t.extend_from_slice(b"\r\n");
    }
    t.extend_from_slice(b"\r\n");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Fields {
        list.iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    const GET: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", "x"),
        (":path", "/a"),
    ];

    fn with(extra: &[(&str, &str)]) -> Fields {
        let mut f = fields(&GET);
        f.extend(fields(extra));
        f
    }

    #[test]
    fn a_well_formed_request_gives_what_the_server_needs() {
        let r = check(&with(&[
            ("content-length", "5"),
            ("content-type", "application/grpc+proto"),
            ("te", "trailers"),
        ]))
        .unwrap();
        assert_eq!(
            r,
            Request {
                method: "GET".into(),
                path: "/a".into(),
                content_length: Some(5),
                grpc: true,
            }
        );
        let r = check(&fields(&[(":method", "CONNECT"), (":authority", "h:443")])).unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("CONNECT", "/"));
    }

    /// h2spec 8.1.2.3/1-7 and 8.1.2.2, 8.1.2.1: each pseudo-header rule.
    #[test]
    fn pseudo_header_fields_missing_twice_unknown_or_late_are_malformed() {
        for (what, f) in [
            ("no :method", fields(&GET[1..])),
            ("no :scheme", fields(&[GET[0], GET[2], GET[3]])),
            ("no :path", fields(&GET[..3])),
            (
                "empty :path",
                with(&[])
                    .into_iter()
                    .take(3)
                    .chain(fields(&[(":path", "")]))
                    .collect(),
            ),
            ("two :method", with(&[(":method", "GET")])),
            ("two :scheme", with(&[(":scheme", "http")])),
            ("two :path", with(&[(":path", "/b")])),
            ("two :authority", with(&[(":authority", "y")])),
            ("a response field", with(&[(":status", "200")])),
            ("late", fields(&[GET[0], GET[1], ("a", "b"), GET[3]])),
            (
                "CONNECT with a path",
                fields(&[(":method", "CONNECT"), (":authority", "h"), (":path", "/")]),
            ),
        ] {
            assert!(check(&f).is_err(), "{what}: {f:?}");
        }
    }

    #[test]
    fn connection_specific_and_badly_formed_fields_are_malformed() {
        for extra in [
            ("connection", "close"),
            ("upgrade", "h2c"),
            ("transfer-encoding", "chunked"),
            ("te", "gzip"),
            ("Upper", "x"),
            ("sp ace", "x"),
            ("co:lon", "x"),
            ("x", "a\0b"),
            ("x", "a\r\nb"),
            ("x", " lead"),
            ("x", "trail\t"),
            ("content-length", "12a"),
            ("content-length", "-1"),
            ("content-length", "99999999999999999999"),
        ] {
            assert!(check(&with(&[extra])).is_err(), "{extra:?}");
        }
        assert!(check(&with(&[("content-length", "3"), ("content-length", "4")])).is_err());
        assert!(check(&with(&[("content-length", "3"), ("content-length", "3")])).is_ok());
        assert!(check(&with(&[("x", "")])).is_ok(), "an empty value is fine");
    }

    #[test]
    fn trailers_have_no_pseudo_header_fields() {
        assert!(check_trailers(&fields(&[("grpc-status", "0")])).is_ok());
        assert!(check_trailers(&fields(&[(":path", "/")])).is_err());
        assert!(check_trailers(&fields(&[("X", "1")])).is_err());
    }

    #[test]
    fn the_text_head_reads_as_http1_with_host_from_the_authority() {
        let t = text_head("GET", "/a", &with(&[("x", "1")]));
        assert_eq!(t, b"GET /a HTTP/2\r\nhost: x\r\nx: 1\r\n\r\n");
    }
}
