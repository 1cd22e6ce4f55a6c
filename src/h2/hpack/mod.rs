//! HPACK (RFC 7541): the static table and Huffman code as data, the dynamic table, the decoder
//! of request header blocks and the (plain-literal) encoder of response header blocks.

pub mod decoder;
pub mod encoder;
pub mod huffman;
mod huffman_table;
pub mod table;

pub use decoder::{DecodeError, Decoder, Fields};

#[cfg(test)]
mod tests {
    //! RFC 7541 Appendix C, byte for byte.
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn fields(list: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        list.iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn check(d: &mut Decoder, block: &str, want: &[(&str, &str)], table_size: usize) {
        let got = d.decode(&hex(block), 1 << 20).unwrap();
        assert_eq!(got, fields(want));
        assert_eq!(d.table().size(), table_size);
    }

    #[test]
    fn c1_integers() {
        let mut out = Vec::new();
        encoder::integer(&mut out, 0, 5, 10);
        assert_eq!(out, [0x0a]);
        out.clear();
        encoder::integer(&mut out, 0, 5, 1337);
        assert_eq!(out, [0x1f, 0x9a, 0x0a]);
        out.clear();
        encoder::integer(&mut out, 0, 8, 42);
        assert_eq!(out, [0x2a]);
        let mut pos = 0;
        assert_eq!(decoder::integer(&[0x1f, 0x9a, 0x0a], &mut pos, 5), Ok(1337));
        assert_eq!(pos, 3);
    }

    #[test]
    fn c2_single_fields() {
        let mut d = Decoder::new(4096);
        check(
            &mut d,
            "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            &[("custom-key", "custom-header")],
            55,
        );
        let mut d = Decoder::new(4096);
        check(
            &mut d,
            "040c 2f73 616d 706c 652f 7061 7468",
            &[(":path", "/sample/path")],
            0,
        );
        let mut d = Decoder::new(4096);
        check(
            &mut d,
            "1008 7061 7373 776f 7264 0673 6563 7265 74",
            &[("password", "secret")],
            0,
        );
        let mut d = Decoder::new(4096);
        check(&mut d, "82", &[(":method", "GET")], 0);
    }

    /// RFC 7541 C.3 and C.4: the same three requests on one connection, `hex` their blocks.
    fn three_requests(hex: [&str; 3]) {
        let mut d = Decoder::new(4096);
        let first = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ];
        check(&mut d, hex[0], &first, 57);
        let mut second = first.to_vec();
        second.push(("cache-control", "no-cache"));
        check(&mut d, hex[1], &second, 110);
        check(
            &mut d,
            hex[2],
            &[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/index.html"),
                (":authority", "www.example.com"),
                ("custom-key", "custom-value"),
            ],
            164,
        );
    }

    #[test]
    fn c3_requests_without_huffman() {
        three_requests([
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ]);
    }

    #[test]
    fn c4_requests_with_huffman() {
        three_requests([
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ]);
    }

    const R1: [(&str, &str); 4] = [
        (":status", "302"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    const R2: [(&str, &str); 4] = [
        (":status", "307"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    const R3: [(&str, &str); 6] = [
        (":status", "200"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ("location", "https://www.example.com"),
        ("content-encoding", "gzip"),
        (
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
    ];

    #[test]
    fn c5_responses_with_eviction() {
        let mut d = Decoder::new(256);
        check(
            &mut d,
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
             2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
             6c65 2e63 6f6d",
            &R1,
            222,
        );
        check(&mut d, "4803 3330 37c1 c0bf", &R2, 222);
        check(
            &mut d,
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
             54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
             5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
             3d31",
            &R3,
            215,
        );
        assert_eq!(d.table().len(), 3);
    }

    #[test]
    fn c6_responses_with_huffman() {
        let mut d = Decoder::new(256);
        check(
            &mut d,
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
             2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            &R1,
            222,
        );
        check(&mut d, "4883 640e ffc1 c0bf", &R2, 222);
        check(
            &mut d,
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
             77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
             9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            &R3,
            215,
        );
    }

    #[test]
    fn bad_blocks_are_errors_not_panics() {
        let mut d = Decoder::new(4096);
        assert_eq!(d.decode(&[0x80], 1 << 16), Err(DecodeError::BadIndex(0)));
        assert_eq!(d.decode(&[0xbe], 1 << 16), Err(DecodeError::BadIndex(62)));
        assert_eq!(
            d.decode(&[0x40, 0x05, b'a'], 1 << 16),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            d.decode(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], 1 << 16),
            Err(DecodeError::IntegerOverflow)
        );
        // Continuation bytes that add nothing: the shift, not the value, would overflow.
        let mut block = vec![0x3f];
        block.extend([0x80; 100]);
        assert_eq!(d.decode(&block, 1 << 16), Err(DecodeError::IntegerOverflow));
        // A size update above the advertised 4096, and one after a field.
        assert_eq!(
            d.decode(&[0x3f, 0xe2, 0x1f], 1 << 16),
            Err(DecodeError::BadSizeUpdate)
        );
        assert_eq!(
            d.decode(&[0x82, 0x20], 1 << 16),
            Err(DecodeError::BadSizeUpdate)
        );
        // The list limit: 32 + 7 + 3 = 42 bytes for `:method: GET`.
        assert_eq!(d.decode(&[0x82], 41), Err(DecodeError::ListTooLarge));
        assert!(d.decode(&[0x82], 42).is_ok());
    }

    #[test]
    fn encoder_output_decodes() {
        let mut block = Vec::new();
        encoder::field(&mut block, b":status", b"200");
        encoder::field(&mut block, b":status", b"503");
        encoder::field(&mut block, b"content-type", b"application/grpc");
        encoder::field(&mut block, b"grpc-status", b"14");
        assert_eq!(block[0], 0x88);
        let got = Decoder::new(4096).decode(&block, 1 << 16).unwrap();
        assert_eq!(
            got,
            fields(&[
                (":status", "200"),
                (":status", "503"),
                ("content-type", "application/grpc"),
                ("grpc-status", "14"),
            ])
        );
    }

    /// What decoding `blocks` costs per input byte: bytes the decoder copied, a measure of
    /// its work that a loaded machine does not change. `setup` fills the table first.
    fn cost_per_byte(setup: &[u8], block: &[u8], blocks: usize) -> f64 {
        let mut d = Decoder::new(4096);
        d.decode(setup, 1 << 20).unwrap();
        let before = d.copied();
        for _ in 0..blocks {
            // As the server decodes a request's block: its list limit, over it or not.
            let _ = d.decode(block, crate::h2::MAX_HEADER_LIST);
        }
        (d.copied() - before) as f64 / (block.len() * blocks) as f64
    }

    /// Issue 24 item 11 (HPACK CPU amplification): every indexed reference to a 4 KB entry
    /// copied it, also once the list was over its limit (79x the CPU of literal blocks per
    /// input byte). Whatever the block's shape, its cost per input byte is now at most 5x a
    /// block of plain literals'.
    #[test]
    fn the_cost_of_any_block_per_input_byte_is_at_most_5x_a_literal_blocks() {
        // A 4,000-byte value under a 1-byte name, and a 4,000-byte name with an empty value.
        let mut big_value = vec![0x40, 1, b'x'];
        encoder::integer(&mut big_value, 0, 7, 4000);
        big_value.resize(big_value.len() + 4000, b'v');
        let mut big_name = vec![0x40];
        encoder::integer(&mut big_name, 0, 7, 4000);
        big_name.resize(big_name.len() + 4000, b'n');
        big_name.push(0);
        // Plain literals, never indexed: 1 + 1 + 40 + 1 + 60 bytes for 100 bytes of field.
        let mut literal = Vec::new();
        while literal.len() < 16_000 {
            literal.extend([0x10, 40]);
            literal.extend([b'n'; 40]);
            literal.push(60);
            literal.extend([b'v'; 60]);
        }
        let base = cost_per_byte(&[], &literal, 64);
        assert!(base > 0.5, "a literal block copies what it carries: {base}");
        let shapes: [(&str, &[u8], Vec<u8>); 3] = [
            // 1 byte: index 62, the 4 KB entry.
            ("indexed", &big_value, vec![0xbe; 16_000]),
            // 3 bytes: literal without indexing, name = index 62 (4 KB), empty value.
            ("indexed name", &big_name, [0x0f, 0x2f, 0].repeat(5_000)),
            // 2 bytes: the same with incremental indexing (each evicts the one before).
            ("indexed name, indexed", &big_name, [0x7e, 0].repeat(8_000)),
        ];
        for (what, setup, block) in shapes {
            let cost = cost_per_byte(setup, &block, 64);
            eprintln!("{what}: {cost:.3} bytes copied per input byte (literal {base:.3})");
            assert!(
                cost <= 5.0 * base,
                "{what}: {cost:.2} bytes copied per input byte, literal blocks {base:.2}"
            );
        }
    }
}
