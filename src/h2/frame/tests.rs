use super::*;

/// The code of a connection error, whose debug text must say something.
fn conn_code<T>(r: Result<T, Error>) -> Option<Reason> {
    match r {
        Err(Error::Conn(reason, why)) => {
            assert!(!why.is_empty());
            Some(reason)
        }
        _ => None,
    }
}

fn head(kind: Kind, flags: u8, stream: u32, payload: &[u8]) -> Head {
    let mut b = Vec::new();
    Head::encode(kind, flags, stream, payload.len(), &mut b);
    Head::parse(&b).unwrap()
}

#[test]
fn head_round_trips_and_clears_the_reserved_bit() {
    let h = Head::parse(&[0, 0, 5, 1, 0x25, 0x80, 0, 0, 3]).unwrap();
    assert_eq!(
        h,
        Head {
            len: 5,
            kind: Kind::Headers,
            flags: 0x25,
            stream: 3
        }
    );
    assert_eq!(Head::parse(&[0; 8]), None);
    assert_eq!(
        Head::parse(&[0, 0, 0, 0xfe, 0, 0, 0, 0, 0]).unwrap().kind,
        Kind::Unknown(0xfe)
    );
}

#[test]
fn data_unpads_and_rejects_bad_padding() {
    let p = [3, b'h', b'i', 0, 0, 0];
    let d = Data::load(
        &head(Kind::Data, flag::PADDED | flag::END_STREAM, 1, &p),
        &p,
    )
    .unwrap();
    assert_eq!(d.data, b"hi");
    assert!(d.end_stream);
    assert_eq!(d.flow_len, 6);
    let p = [6, 0, 0, 0, 0, 0];
    assert_eq!(
        conn_code(Data::load(&head(Kind::Data, flag::PADDED, 1, &p), &p)),
        Some(Reason::PROTOCOL_ERROR)
    );
    assert_eq!(
        conn_code(Data::load(&head(Kind::Data, 0, 0, b"x"), b"x")),
        Some(Reason::PROTOCOL_ERROR)
    );
}

#[test]
fn headers_strip_priority_and_split_into_continuations() {
    let p = [0, 0, 0, 1, 16, 0x82];
    let h = Headers::load(
        &head(Kind::Headers, flag::PRIORITY | flag::END_HEADERS, 3, &p),
        &p,
    )
    .unwrap();
    assert_eq!(h.fragment, [0x82]);
    let p = [0, 0, 0, 3, 16];
    assert_eq!(
        Headers::load(&head(Kind::Headers, flag::PRIORITY, 3, &p), &p),
        Err(Error::Stream(3, Reason::PROTOCOL_ERROR))
    );
    let mut out = Vec::new();
    Headers::encode(1, &[7; 10], true, 4, &mut out);
    // HEADERS(4) + CONTINUATION(4) + CONTINUATION(2, END_HEADERS).
    assert_eq!(out.len(), 3 * 9 + 10);
    assert_eq!(Head::parse(&out).unwrap().flags, flag::END_STREAM);
    let last = Head::parse(&out[2 * 9 + 8..]).unwrap();
    assert_eq!(
        (last.kind, last.flags, last.len),
        (Kind::Continuation, flag::END_HEADERS, 2)
    );
}

#[test]
fn settings_check_lengths_and_values() {
    let mut out = Vec::new();
    Settings::encode(
        &[
            Setting::MaxConcurrentStreams(7),
            Setting::InitialWindowSize(0),
        ],
        &mut out,
    );
    let h = Head::parse(&out).unwrap();
    let s = Settings::load(&h, &out[9..]).unwrap();
    assert_eq!(
        s.values,
        [
            Setting::MaxConcurrentStreams(7),
            Setting::InitialWindowSize(0)
        ]
    );
    let bad = |p: &[u8], flags: u8| Settings::load(&head(Kind::Settings, flags, 0, p), p);
    assert_eq!(conn_code(bad(&[0; 5], 0)), Some(Reason::FRAME_SIZE_ERROR));
    assert_eq!(
        conn_code(bad(&[0; 6], flag::ACK)),
        Some(Reason::FRAME_SIZE_ERROR)
    );
    assert_eq!(
        conn_code(bad(&[0, 2, 0, 0, 0, 2], 0)),
        Some(Reason::PROTOCOL_ERROR)
    );
    assert_eq!(
        conn_code(bad(&[0, 4, 0x80, 0, 0, 0], 0)),
        Some(Reason::FLOW_CONTROL_ERROR)
    );
    assert_eq!(
        conn_code(bad(&[0, 5, 0, 0, 0, 1], 0)),
        Some(Reason::PROTOCOL_ERROR)
    );
    // Unknown identifiers are ignored.
    assert_eq!(bad(&[0, 99, 0, 0, 0, 1], 0).unwrap().values, []);
}

#[test]
fn fixed_size_frames_check_their_size() {
    let fs = Some(Reason::FRAME_SIZE_ERROR);
    assert_eq!(
        conn_code(Ping::load(&head(Kind::Ping, 0, 0, &[0; 7]), &[0; 7])),
        fs
    );
    assert_eq!(
        conn_code(Reset::load(&head(Kind::Reset, 0, 1, &[0; 3]), &[0; 3])),
        fs
    );
    assert_eq!(
        conn_code(GoAway::load(&head(Kind::GoAway, 0, 0, &[0; 7]), &[0; 7])),
        fs
    );
    assert_eq!(
        conn_code(WindowUpdate::load(
            &head(Kind::WindowUpdate, 0, 0, &[0; 5]),
            &[0; 5]
        )),
        fs
    );
    assert_eq!(
        WindowUpdate::load(&head(Kind::WindowUpdate, 0, 5, &[0; 4]), &[0; 4]),
        Err(Error::Stream(5, Reason::PROTOCOL_ERROR))
    );
    assert_eq!(
        Priority::load(&head(Kind::Priority, 0, 5, &[0; 4]), &[0; 4]),
        Err(Error::Stream(5, Reason::FRAME_SIZE_ERROR))
    );
    let mut out = Vec::new();
    GoAway::encode(5, Reason::CANCEL, b"", &mut out);
    let g = GoAway::load(&Head::parse(&out).unwrap(), &out[9..]).unwrap();
    assert_eq!((g.last_stream, g.reason), (5, Reason::CANCEL));
}

#[test]
fn reasons_parse_by_name_and_number() {
    assert_eq!(Reason::parse("cancel"), Some(Reason::CANCEL));
    assert_eq!(
        Reason::parse("REFUSED-STREAM"),
        Some(Reason::REFUSED_STREAM)
    );
    assert_eq!(Reason::parse("11"), Some(Reason::ENHANCE_YOUR_CALM));
    assert_eq!(Reason::parse("0x1f"), Some(Reason(0x1f)));
    assert_eq!(Reason::parse("nope"), None);
    assert_eq!(Reason::CANCEL.to_string(), "cancel");
    assert_eq!(Reason(99).to_string(), "99");
}
