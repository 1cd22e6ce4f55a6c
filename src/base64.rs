//! Base64 (RFC 4648), std only: decoding the standard and URL-safe alphabets alike (HTTP/2's
//! `HTTP2-Settings` header is base64url).

/// Decodes base64 or base64url (RFC 4648 sections 4 and 5), padding optional, as
/// `HTTP2-Settings` carries a SETTINGS payload; `None` on a bad character.
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in text.iter().filter(|&&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_http2_settings() {
        // curl's HTTP2-Settings: SETTINGS_MAX_CONCURRENT_STREAMS=100, INITIAL_WINDOW_SIZE...
        assert_eq!(decode(b"AAMAAABkAAQCAAAAAAIAAAAA").unwrap().len(), 18);
        assert_eq!(decode(b"AAMAAABk").unwrap(), [0, 3, 0, 0, 0, 100]);
        assert_eq!(decode(b"A*"), None);
    }
}
