use super::*;

const M: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Feeds `input` to a reader one prefix at a time, as reads might deliver it: every prefix
/// short of a frame is incomplete, never an error; returns the events and the first failure.
fn run(input: &[u8], max: u64) -> (Vec<Event>, Option<Fail>) {
    let mut r = Reader::new(max);
    let mut events = Vec::new();
    let mut at = 0;
    let mut seen = at;
    while at < input.len() {
        // Every prefix of what is left.
        let mut got = None;
        for end in seen.max(at)..=input.len() {
            match r.next(&input[at..end]) {
                Ok(None) => continue,
                Ok(Some((n, e))) => {
                    got = Some((n, e));
                    break;
                }
                Err(f) => return (events, Some(f)),
            }
        }
        match got {
            Some((n, e)) => {
                at += n;
                seen = at;
                events.push(e);
            }
            None => break,
        }
    }
    (events, None)
}

fn text(s: &str) -> Event {
    Event::Message {
        text: true,
        data: s.as_bytes().to_vec(),
    }
}

#[test]
fn rfc_examples_parse_on_every_prefix() {
    // RFC 6455 section 5.7: a masked "Hello".
    let hello = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    for end in 0..hello.len() {
        assert_eq!(Reader::new(100).next(&hello[..end]), Ok(None));
    }
    assert_eq!(
        Reader::new(100).next(&hello),
        Ok(Some((hello.len(), text("Hello"))))
    );
    let mut all = client_frame(false, TEXT, b"Hel", M);
    all.extend(client_frame(true, PING, b"p", M));
    all.extend(client_frame(true, CONT, b"lo", M));
    all.extend(client_frame(true, BINARY, &[0u8; 300], M));
    all.extend(client_frame(true, BINARY, &vec![7u8; 70_000], M));
    all.extend(client_frame(true, PONG, b"", M));
    all.extend(client_frame(true, CLOSE, b"\x03\xe8bye", M));
    let (events, fail) = run(&all, 1 << 20);
    assert_eq!(fail, None);
    assert_eq!(
        events,
        vec![
            Event::Fragment,
            Event::Ping(b"p".to_vec()),
            text("Hello"),
            Event::Message {
                text: false,
                data: vec![0; 300]
            },
            Event::Message {
                text: false,
                data: vec![7; 70_000]
            },
            Event::Pong,
            Event::Close(Some(1000), b"bye".to_vec()),
        ]
    );
}

#[test]
fn utf8_split_across_fragments_is_valid() {
    let e = "é€😀".as_bytes();
    let mut all = client_frame(false, TEXT, &e[..1], M);
    all.extend(client_frame(false, CONT, &e[1..4], M));
    all.extend(client_frame(true, CONT, &e[4..], M));
    let (events, fail) = run(&all, 100);
    assert_eq!(fail, None);
    assert_eq!(events.last(), Some(&text("é€😀")));
}

fn fails(input: &[u8], max: u64) -> u16 {
    run(input, max).1.expect("a failure").code
}

#[test]
fn violations_get_their_close_codes() {
    // Not masked.
    let mut unmasked = Vec::new();
    frame(&mut unmasked, true, TEXT, b"hi");
    assert_eq!(fails(&unmasked, 100), 1002);
    // RSV1, RSV2, RSV3.
    for rsv in [0x40, 0x20, 0x10] {
        let mut f = client_frame(true, TEXT, b"hi", M);
        f[0] |= rsv;
        assert_eq!(fails(&f, 100), 1002);
    }
    // Reserved opcodes.
    for op in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        assert_eq!(fails(&client_frame(true, op, b"", M), 100), 1002, "{op}");
    }
    // Control frames: over 125 bytes, fragmented.
    assert_eq!(fails(&client_frame(true, PING, &[0; 126], M), 1000), 1002);
    assert_eq!(fails(&client_frame(false, PING, b"", M), 1000), 1002);
    assert_eq!(fails(&client_frame(false, CLOSE, b"", M), 1000), 1002);
    // A ping whose length is in a 16-bit extension, even 0: refused at once, in any pieces.
    let mut long_form = vec![0x89, 0x80 | 126, 0, 0];
    long_form.extend_from_slice(&M);
    assert_eq!(fails(&long_form, 1000), 1002);
    check_pieces(&long_form, 1000);
    // A continuation with no start; a new message inside a fragmented one.
    assert_eq!(fails(&client_frame(true, CONT, b"x", M), 100), 1002);
    let mut two = client_frame(false, TEXT, b"a", M);
    two.extend(client_frame(true, TEXT, b"b", M));
    assert_eq!(fails(&two, 100), 1002);
    // Invalid UTF-8: in one frame, across fragments, in a close reason.
    assert_eq!(fails(&client_frame(true, TEXT, b"\xff", M), 100), 1007);
    let mut split = client_frame(false, TEXT, b"\xe2\x82", M);
    split.extend(client_frame(true, CONT, b"x", M));
    assert_eq!(fails(&split, 100), 1007);
    assert_eq!(
        fails(&client_frame(true, CLOSE, b"\x03\xe8\xff", M), 100),
        1007
    );
    // Bad close payloads.
    assert_eq!(fails(&client_frame(true, CLOSE, b"\x03", M), 100), 1002);
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2000, 5000] {
        let f = client_frame(true, CLOSE, &code.to_be_bytes(), M);
        assert_eq!(fails(&f, 100), 1002, "{code}");
    }
    // Too big: one frame, and fragments that add up (before the payload arrives).
    assert_eq!(
        fails(&client_frame(true, BINARY, &[0; 101], M)[..4], 100),
        1009
    );
    let mut big = client_frame(false, BINARY, &[0; 60], M);
    big.extend(client_frame(true, CONT, &[0; 41], M));
    assert_eq!(fails(&big, 100), 1009);
    // A 64-bit length with its top bit set.
    let mut huge = vec![0x82, 0xFF];
    huge.extend_from_slice(&(1u64 << 63).to_be_bytes());
    assert_eq!(fails(&huge, u64::MAX), 1002);
}

#[test]
fn server_frames_have_the_shortest_length() {
    for (len, head) in [
        (0u64, 2usize),
        (125, 2),
        (126, 4),
        (65_535, 4),
        (65_536, 10),
    ] {
        let mut out = Vec::new();
        header(&mut out, true, BINARY, len);
        assert_eq!(out.len(), head, "{len}");
        assert_eq!(out[0], 0x82);
    }
    let mut c = Vec::new();
    close(&mut c, 1011, b"bye");
    assert_eq!(c, b"\x88\x05\x03\xf3bye");
}

/// The bounded random-input test (the fuzz target's property on the stable toolchain):
/// random and mutated frame streams never panic, never take more bytes than given, and give
/// the same events fed at once as fed in two pieces.
#[test]
fn random_and_mutated_frames() {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut valid = client_frame(false, TEXT, "hé".as_bytes(), M);
    valid.extend(client_frame(true, PING, b"p", M));
    valid.extend(client_frame(true, CONT, b"llo", M));
    valid.extend(client_frame(true, BINARY, &[1; 200], M));
    valid.extend(client_frame(true, CLOSE, b"\x03\xe8", M));
    for i in 0..20_000 {
        let mut input = if i % 2 == 0 {
            valid.clone()
        } else {
            (0..rnd() % 64).map(|_| rnd() as u8).collect()
        };
        for _ in 0..(rnd() % 4) {
            if input.is_empty() {
                break;
            }
            let at = (rnd() as usize) % input.len();
            input[at] ^= 1 << (rnd() % 8);
        }
        check_pieces(&input, 256);
    }
}

/// Whole and in two pieces, the same events and the same failure.
pub(crate) fn check_pieces(input: &[u8], max: u64) {
    let whole = events_of(input, max, input.len());
    let cut = input.len() / 2;
    assert_eq!(whole, events_of(input, max, cut));
}

fn events_of(input: &[u8], max: u64, first: usize) -> (Vec<Event>, Option<Fail>) {
    let mut r = Reader::new(max);
    let mut events = Vec::new();
    let mut at = 0;
    let mut avail = first;
    loop {
        match r.next(&input[at..avail]) {
            Ok(Some((n, e))) => {
                assert!(n > 0 && at + n <= avail);
                at += n;
                events.push(e);
            }
            Ok(None) if avail < input.len() => avail = input.len(),
            Ok(None) => return (events, None),
            Err(f) => return (events, Some(f)),
        }
    }
}

/// `unmask` eight bytes at a time gives byte `i` XOR `mask[i % 4]`, at every length (the
/// remainder after the 8-byte words included); `client_frame` masks with the same function,
/// so this checks it against the definition, not against itself.
#[test]
fn unmask_is_the_bytewise_xor_at_every_length() {
    let mask = [0x12, 0x34, 0x56, 0x78];
    for len in 0..40 {
        let original: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let mut got = original.clone();
        unmask(&mut got, mask);
        let want: Vec<u8> = original
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        assert_eq!(got, want, "length {len}");
    }
}

/// A message's buffer handed back (`recycle`) carries nothing into the next message: a
/// shorter message after a longer one, and a ping after them, have exactly their own bytes.
#[test]
fn a_recycled_buffer_starts_empty() {
    let mut r = Reader::new(1 << 20);
    let long = client_frame(true, BINARY, &[9; 100], M);
    let Ok(Some((n, Event::Message { text: false, data }))) = r.next(&long) else {
        panic!("no message")
    };
    assert_eq!((n, data.len()), (long.len(), 100));
    r.recycle(data);
    let short = client_frame(true, TEXT, b"abc", M);
    let Ok(Some((_, Event::Message { text: true, data }))) = r.next(&short) else {
        panic!("no message")
    };
    assert_eq!(data, b"abc");
    r.recycle(data);
    let ping = client_frame(true, PING, b"p", M);
    assert_eq!(
        r.next(&ping),
        Ok(Some((ping.len(), Event::Ping(b"p".to_vec()))))
    );
    // A large buffer is not kept: an idle connection holds no large one.
    r.recycle(Vec::with_capacity(10));
    r.recycle(vec![0; 1 << 16]);
    assert!(r.spare.capacity() >= 10 && r.spare.capacity() <= SPARE_MAX);
}
