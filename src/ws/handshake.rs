//! The opening handshake (RFC 6455 section 4.2), pure: is a request an upgrade to WebSocket,
//! is it a valid one, and the `101` that accepts it (with the plan's handshake faults,
//! `ws-accept=bad` and `ws-protocol=NAME`).

use crate::http::request;

/// The GUID every `Sec-WebSocket-Accept` hashes with the key (section 1.3).
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Does the head ask to upgrade to WebSocket (`Upgrade: websocket`, any case, in a list)?
pub fn is_upgrade(head: &[u8]) -> bool {
    request::fields(head)
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"upgrade"))
        .any(|(_, v)| {
            v.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"websocket"))
        })
}

/// A valid upgrade request: the key to answer, and the subprotocols offered.
#[derive(Debug, PartialEq, Eq)]
pub struct Upgrade {
    /// `Sec-WebSocket-Key`, as sent.
    pub key: String,
}

/// Checks an upgrade request (section 4.2.1): `GET`, `Connection: Upgrade`,
/// `Sec-WebSocket-Version: 13`, a `Sec-WebSocket-Key` of 16 bytes in base64. The error is the
/// reason of the `400` that refuses it.
pub fn check(head: &[u8], method: &str) -> Result<Upgrade, &'static str> {
    if method != "GET" {
        return Err("a WebSocket upgrade must be a GET");
    }
    let connection_upgrade = request::fields(head)
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"connection"))
        .any(|(_, v)| {
            v.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
        });
    if !connection_upgrade {
        return Err("a WebSocket upgrade needs Connection: Upgrade");
    }
    match request::single_header_value(head, "sec-websocket-version") {
        Ok(Some(b"13")) => {}
        _ => return Err("Sec-WebSocket-Version must be 13"),
    }
    let key = match request::single_header_value(head, "sec-websocket-key") {
        Ok(Some(k)) => k.trim_ascii(),
        _ => return Err("missing Sec-WebSocket-Key"),
    };
    let decoded = match key.len() {
        24 if key.ends_with(b"==") => crate::base64::decode(key),
        _ => None,
    };
    if !decoded.is_some_and(|d| d.len() == 16) || key.contains(&b'-') || key.contains(&b'_') {
        return Err("Sec-WebSocket-Key must be 16 bytes in base64");
    }
    Ok(Upgrade {
        key: String::from_utf8_lossy(key).into_owned(),
    })
}

/// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)).
pub fn accept(key: &str) -> String {
    let mut k = key.as_bytes().to_vec();
    k.extend_from_slice(GUID.as_bytes());
    crate::base64::encode(&super::sha1::digest(&k))
}

/// The `101` that accepts the upgrade: with a wrong accept value under `ws-accept=bad`, a
/// `Sec-WebSocket-Protocol` under `ws-protocol=NAME`, and the plan's `header=` fields.
pub fn switching(
    key: &str,
    bad_accept: bool,
    protocol: Option<&str>,
    headers: &[(String, String)],
) -> Vec<u8> {
    let mut value = accept(key);
    if bad_accept {
        // The accept of another key: well formed, and wrong.
        value = accept(&format!("{key}x"));
    }
    let mut out = format!(
        "HTTP/1.1 101 Switching Protocols\r\nServer: httpfault\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Accept: {value}\r\n"
    );
    if let Some(p) = protocol {
        out.push_str("Sec-WebSocket-Protocol: ");
        out.push_str(p);
        out.push_str("\r\n");
    }
    for (n, v) in headers {
        out.push_str(n);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// The `400` that refuses a bad upgrade request, saying why, with the version the server
/// speaks (section 4.4).
pub fn refusal(reason: &str) -> Vec<u8> {
    let body = format!("{reason}\n");
    format!(
        "HTTP/1.1 400 Bad Request\r\nServer: httpfault\r\nSec-WebSocket-Version: 13\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn rfc6455_example_key() {
        assert_eq!(
            accept("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(is_upgrade(HEAD.as_bytes()));
        let up = check(HEAD.as_bytes(), "GET").unwrap();
        let ok = String::from_utf8(switching(&up.key, false, None, &[])).unwrap();
        assert!(ok.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(ok.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        let bad = String::from_utf8(switching(&up.key, true, Some("x"), &[])).unwrap();
        assert!(!bad.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        assert!(bad.contains("\r\nSec-WebSocket-Protocol: x\r\n"));
    }

    #[test]
    fn bad_upgrades_are_refused() {
        let with = |from: &str, to: &str| HEAD.replace(from, to);
        assert!(check(HEAD.as_bytes(), "POST").is_err());
        assert!(!is_upgrade(with("websocket", "h2c").as_bytes()));
        let cases = [
            with("keep-alive, Upgrade", "keep-alive"),
            with("Version: 13", "Version: 8"),
            with("Sec-WebSocket-Version: 13\r\n", ""),
            with("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
            with("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="),
            with("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZ*=="),
        ];
        for c in cases {
            assert!(check(c.as_bytes(), "GET").is_err(), "{c}");
        }
        assert!(String::from_utf8(refusal("why"))
            .unwrap()
            .starts_with("HTTP/1.1 400 Bad Request\r\n"));
    }
}
