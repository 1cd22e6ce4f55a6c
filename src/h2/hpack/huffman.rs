//! HPACK's Huffman code (RFC 7541 section 5.2 and Appendix B): decoding, and encoding for the
//! tests. The code table is data ([`CODES`]); since the code is canonical, decoding needs only,
//! per code length, the first code and where its symbols start in the symbols sorted by
//! (length, value), all derived from the table once.

use super::huffman_table::CODES;
use std::sync::OnceLock;

/// The longest code (EOS and a few control bytes).
const MAX_LEN: usize = 30;

/// A Huffman-coded string does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HuffmanError {
    /// The EOS symbol inside the string (section 5.2: a decoding error).
    Eos,
    /// More than 7 bits of padding, or padding that is not the EOS prefix (all ones).
    Padding,
}

struct Canon {
    /// `first[l]`: the first code of length `l`.
    first: [u32; MAX_LEN + 1],
    /// `count[l]`: how many codes have length `l`.
    count: [u32; MAX_LEN + 1],
    /// `start[l]`: where the symbols of length `l` start in `symbols`.
    start: [u16; MAX_LEN + 1],
    /// Symbols sorted by (length, value).
    symbols: [u16; 257],
}

fn canon() -> &'static Canon {
    static CANON: OnceLock<Canon> = OnceLock::new();
    CANON.get_or_init(|| {
        let mut c = Canon {
            first: [0; MAX_LEN + 1],
            count: [0; MAX_LEN + 1],
            start: [0; MAX_LEN + 1],
            symbols: [0; 257],
        };
        let mut order: Vec<u16> = (0..257).collect();
        order.sort_by_key(|&s| (CODES[usize::from(s)].1, s));
        for (i, &s) in order.iter().enumerate() {
            let (code, len) = CODES[usize::from(s)];
            let l = usize::from(len);
            if c.count[l] == 0 {
                c.first[l] = code;
                c.start[l] = i as u16;
            }
            c.count[l] += 1;
            c.symbols[i] = s;
        }
        c
    })
}

/// Decodes `src` and appends the bytes to `dst`.
pub fn decode(src: &[u8], dst: &mut Vec<u8>) -> Result<(), HuffmanError> {
    let c = canon();
    let mut code: u32 = 0;
    let mut len = 0usize;
    for &byte in src {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            let l = len;
            if c.count[l] > 0 && code >= c.first[l] && code - c.first[l] < c.count[l] {
                let i = usize::from(c.start[l]) + (code - c.first[l]) as usize;
                let sym = c.symbols[i];
                if sym == 256 {
                    return Err(HuffmanError::Eos);
                }
                dst.push(sym as u8);
                code = 0;
                len = 0;
            } else if len >= MAX_LEN {
                // Only EOS is 30 bits long and every 30-bit prefix is a code, so this cannot
                // happen with a complete code; kept as a bound, not trusted.
                return Err(HuffmanError::Eos);
            }
        }
    }
    // What is left is padding: fewer than 8 bits, all ones (the most significant bits of EOS).
    if len > 7 || code != (1u32 << len) - 1 {
        return Err(HuffmanError::Padding);
    }
    Ok(())
}

/// Encodes `src` with the Huffman code (the server's encoder sends plain literals; this serves
/// the tests and the fuzz target's round trips).
pub fn encode(src: &[u8], dst: &mut Vec<u8>) {
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &b in src {
        let (code, len) = CODES[usize::from(b)];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            dst.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        let pad = 8 - bits;
        dst.push(((acc << pad) | ((1 << pad) - 1)) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_complete_and_canonical() {
        // Kraft's sum of a complete prefix code is exactly 1: sum of 2^(30-len) == 2^30.
        let sum: u64 = CODES.iter().map(|&(_, l)| 1u64 << (30 - l)).sum();
        assert_eq!(sum, 1 << 30);
        let mut order: Vec<usize> = (0..257).collect();
        order.sort_by_key(|&s| (CODES[s].1, s));
        for w in order.windows(2) {
            let ((a, la), (b, lb)) = (CODES[w[0]], CODES[w[1]]);
            assert_eq!(b, (a + 1) << (lb - la), "symbols {} and {}", w[0], w[1]);
        }
        // A few rows of Appendix B as printed there.
        assert_eq!(CODES[0], (0x1ff8, 13));
        assert_eq!(CODES[b'a' as usize], (0x3, 5));
        assert_eq!(CODES[b' ' as usize], (0x14, 6));
        assert_eq!(CODES[255], (0x3ffffee, 26));
        assert_eq!(CODES[256], (0x3fffffff, 30));
    }

    #[test]
    fn round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let mut enc = Vec::new();
        encode(&all, &mut enc);
        let mut dec = Vec::new();
        decode(&enc, &mut dec).unwrap();
        assert_eq!(dec, all);
    }

    #[test]
    fn rfc_7541_c4_1_www_example_com() {
        let mut enc = Vec::new();
        encode(b"www.example.com", &mut enc);
        assert_eq!(
            enc,
            [0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff]
        );
    }

    #[test]
    fn bad_padding_and_eos_are_errors() {
        // 'a' (00011) then 3 bits of zeros: padding that is not all ones.
        assert_eq!(decode(&[0x18], &mut Vec::new()), Err(HuffmanError::Padding));
        // A whole byte of ones after a complete symbol: 8 bits of padding.
        assert_eq!(
            decode(&[0x1f, 0xff], &mut Vec::new()),
            Err(HuffmanError::Padding)
        );
        // EOS itself (30 ones) inside the string.
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff], &mut Vec::new()),
            Err(HuffmanError::Eos)
        );
    }
}
