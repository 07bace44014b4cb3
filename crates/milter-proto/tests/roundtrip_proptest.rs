//! Property tests: encode → decode is the identity for commands and responses, and nothing
//! panics on arbitrary bytes (docs/design/milter-protocol.md §1.2, §2, §3).

use bytes::{Bytes, BytesMut};
use milter_proto::{
    Actions, Command, ConnectInfo, Envelope, Family, FrameDecoder, Header, MacroStage, Macros,
    OptNeg, ProtocolFlags, Response, SmtpReply, SymList, SymStage,
};
use proptest::prelude::*;

fn bytes_any(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

/// Bytes without NUL (C strings).
fn cstr(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(1u8..=255, 0..max).prop_map(Bytes::from)
}

fn optneg() -> impl Strategy<Value = OptNeg> {
    (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(v, a, p)| OptNeg {
        version: v,
        actions: Actions::from_bits(a),
        protocol: ProtocolFlags::from_bits(p),
    })
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        optneg().prop_map(Command::OptNeg),
        (
            any::<u8>(),
            proptest::collection::vec((cstr(12), cstr(12)), 0..4)
        )
            .prop_map(|(s, pairs)| Command::Macro(
                Macros::new(MacroStage::from_u8(s), pairs).expect("cstr() has no NUL")
            )),
        (
            cstr(20),
            prop_oneof![
                Just(Family::Unknown),
                Just(Family::Unix),
                Just(Family::Inet),
                Just(Family::Inet6)
            ],
            any::<u16>(),
            cstr(20)
        )
            .prop_map(|(hostname, family, port, address)| {
                let (port, address) = if family == Family::Unknown {
                    (0, Bytes::new())
                } else {
                    (port, address)
                };
                Command::Connect(ConnectInfo {
                    hostname,
                    family,
                    port,
                    address,
                })
            }),
        cstr(20).prop_map(Command::Helo),
        (cstr(20), proptest::collection::vec(cstr(10), 0..3))
            .prop_map(|(a, args)| Command::Mail(Envelope::new(a, args))),
        (cstr(20), proptest::collection::vec(cstr(10), 0..3))
            .prop_map(|(a, args)| Command::Rcpt(Envelope::new(a, args))),
        Just(Command::Data),
        (cstr(20), cstr(60)).prop_map(|(name, value)| Command::Header(Header { name, value })),
        Just(Command::Eoh),
        bytes_any(200).prop_map(Command::Body),
        bytes_any(20).prop_map(Command::BodyEob),
        Just(Command::Abort),
        Just(Command::Quit),
        Just(Command::QuitNc),
        cstr(30).prop_map(Command::Unknown),
    ]
}

fn header_name() -> impl Strategy<Value = Bytes> {
    "[!-9;-~]{1,20}".prop_map(Bytes::from)
}

/// Folded header values: no NUL/CR, every LF followed by SP or HTAB, no trailing LF.
fn header_value() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(("[ -~]{0,20}", prop_oneof![Just(" "), Just("\t")]), 0..4).prop_map(
        |lines| {
            let mut v = String::new();
            for (i, (text, wsp)) in lines.iter().enumerate() {
                if i > 0 {
                    v.push('\n');
                    v.push_str(wsp);
                }
                v.push_str(text);
            }
            Bytes::from(v)
        },
    )
}

fn addr() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(1u8..=255, 1..30).prop_map(Bytes::from)
}

fn smtp_reply() -> impl Strategy<Value = SmtpReply> {
    (
        400u16..=599,
        proptest::option::of((0u16..1000, 0u16..1000)),
        proptest::collection::vec("[A-Za-z%][ -~]{0,40}", 1..4),
    )
        .prop_map(|(code, enh, lines)| {
            let enh = enh.map(|(s, d)| format!("{}.{s}.{d}", code / 100));
            SmtpReply::multiline(code, enh.as_deref(), lines).unwrap()
        })
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        (
            optneg(),
            proptest::collection::vec((any::<u32>(), cstr(20)), 0..3)
        )
            .prop_map(|(options, lists)| Response::OptNeg {
                options,
                symlists: lists
                    .into_iter()
                    .map(|(s, macros)| SymList {
                        stage: SymStage(s),
                        macros
                    })
                    .collect()
            }),
        Just(Response::Continue),
        Just(Response::Accept),
        Just(Response::Reject),
        Just(Response::Tempfail),
        Just(Response::Discard),
        Just(Response::Progress),
        Just(Response::Skip),
        smtp_reply().prop_map(Response::ReplyCode),
        (header_name(), header_value())
            .prop_map(|(name, value)| Response::AddHeader { name, value }),
        (any::<u32>(), header_name(), header_value())
            .prop_map(|(index, name, value)| Response::InsHeader { index, name, value }),
        (any::<u32>(), header_name(), header_value())
            .prop_map(|(index, name, value)| Response::ChgHeader { index, name, value }),
        (addr(), proptest::option::of(cstr(20)))
            .prop_map(|(from, args)| Response::ChgFrom { from, args }),
        addr().prop_map(Response::AddRcpt),
        (addr(), proptest::option::of(cstr(20)))
            .prop_map(|(rcpt, args)| Response::AddRcptPar { rcpt, args }),
        addr().prop_map(Response::DelRcpt),
        bytes_any(300).prop_map(Response::ReplBody),
        "[ -~]{1,40}".prop_map(|r| Response::Quarantine(Bytes::from(r))),
    ]
}

proptest! {
    #[test]
    fn command_round_trip(cmds in proptest::collection::vec(command(), 1..8)) {
        let mut wire = BytesMut::new();
        for c in &cmds {
            c.encode(&mut wire).unwrap();
        }
        let mut dec = FrameDecoder::new();
        let mut got = Vec::new();
        while let Some(c) = dec.decode(&mut wire).unwrap() {
            got.push(c);
        }
        prop_assert!(wire.is_empty());
        prop_assert_eq!(got, cmds);
    }

    /// Fed in pieces of any sizes, the streaming decoder gives the same commands: each body
    /// frame's parts, joined, are the data of the command that ends it.
    #[test]
    fn streaming_decode_gives_the_same_commands(
        cmds in proptest::collection::vec(command(), 1..8),
        sizes in proptest::collection::vec(1usize..80, 1..20),
    ) {
        let mut wire = BytesMut::new();
        for c in &cmds {
            c.encode(&mut wire).unwrap();
        }
        let mut pieces = Vec::new();
        let mut rest = &wire[..];
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*size).min(rest.len()));
            pieces.push(piece);
            rest = tail;
        }
        let got = milter_proto::fuzzing::decode_streamed(&pieces);
        prop_assert_eq!(got, cmds.into_iter().map(Ok).collect::<Vec<_>>());
    }

    #[test]
    fn response_round_trip(resps in proptest::collection::vec(response(), 1..8), leadspc in any::<bool>()) {
        let mut wire = BytesMut::new();
        for r in &resps {
            r.encode(leadspc, &mut wire).unwrap();
        }
        let mut dec = FrameDecoder::new();
        let mut got = Vec::new();
        while let Some(r) = dec.decode_response(&mut wire, leadspc).unwrap() {
            got.push(r);
        }
        prop_assert!(wire.is_empty());
        prop_assert_eq!(got, resps);
    }

    #[test]
    fn decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600), cap in 0usize..300) {
        for leadspc in [false, true] {
            let mut dec = FrameDecoder::with_max_payload(cap);
            let mut buf = BytesMut::from(&data[..]);
            while let Ok(Some(_)) = dec.decode_response(&mut buf, leadspc) {}
        }
        let mut dec = FrameDecoder::with_max_payload(cap);
        let mut buf = BytesMut::from(&data[..]);
        while let Ok(Some(_)) = dec.decode(&mut buf) {}
        let mut dec = FrameDecoder::with_max_payload(cap);
        let mut buf = BytesMut::from(&data[..]);
        while let Ok(Some(_)) = dec.decode_streaming(&mut buf) {}
        milter_proto::fuzzing::frames(&data);
    }

    #[test]
    fn framed_arbitrary_payloads_never_panic(code in any::<u8>(), payload in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = Command::parse(code, Bytes::from(payload.clone()));
        let _ = Response::parse(code, Bytes::from(payload), true);
    }

    #[test]
    fn session_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        milter_proto::fuzzing::session(&data);
    }
}

/// `normalize_header_value` as it was written byte by byte (§3.2): the run-copying form must
/// accept, fold and refuse exactly the same values.
fn normalize_reference(value: &[u8]) -> Result<Vec<u8>, &'static str> {
    if value.contains(&0) {
        return Err("contains NUL");
    }
    let mut out = Vec::new();
    let mut it = value.iter().peekable();
    while let Some(&b) = it.next() {
        if b == b'\r' {
            if it.peek() != Some(&&b'\n') {
                return Err("bare CR");
            }
            continue;
        }
        out.push(b);
    }
    let mut it = out.iter().peekable();
    while let Some(&b) = it.next() {
        if b == b'\n' {
            match it.peek() {
                Some(b' ' | b'\t') => {}
                Some(_) => return Err("a line break must be followed by a space or tab (folding)"),
                None => return Err("ends with a line break"),
            }
        }
    }
    Ok(out)
}

/// Header values as tokens, mostly well-formed folds (so long values reach the end of every
/// search) with now and then a bare CR, a bare LF, a NUL: up to ~300 bytes, past memchr's
/// 16-, 32- and 64-byte vector steps.
fn folded_value() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        30 => Just(&b"abc"[..]),
        6 => Just(&b" "[..]),
        2 => Just(&b"\t"[..]),
        4 => Just(&b"\r\n "[..]),
        2 => Just(&b"\n\t"[..]),
        1 => Just(&b"\r"[..]),
        1 => Just(&b"\n"[..]),
        1 => Just(&b"\0"[..]),
    ];
    proptest::collection::vec(token, 0..100).prop_map(|t| t.concat())
}

proptest! {
    #[test]
    fn long_header_values_normalize_as_the_bytewise_form(value in folded_value()) {
        let got = milter_proto::normalize_header_value(&value).map(|v| v.into_owned());
        match (got, normalize_reference(&value)) {
            (Ok(g), Ok(r)) => prop_assert_eq!(g, r),
            (Err(milter_proto::ProtocolError::InvalidHeaderValue(g)), Err(r)) => prop_assert_eq!(g, r),
            (g, r) => prop_assert!(false, "{:?}: got {:?}, reference {:?}", value, g, r),
        }
    }

    #[test]
    fn header_value_normalization_matches_the_bytewise_form(
        value in proptest::collection::vec(
            proptest::sample::select(vec![b'a', b' ', b'\t', b'\r', b'\n', 0u8]),
            0..24,
        )
    ) {
        let got = milter_proto::normalize_header_value(&value).map(|v| v.into_owned());
        match (got, normalize_reference(&value)) {
            (Ok(g), Ok(r)) => prop_assert_eq!(g, r),
            (Err(milter_proto::ProtocolError::InvalidHeaderValue(g)), Err(r)) => prop_assert_eq!(g, r),
            (g, r) => prop_assert!(false, "{:?}: got {:?}, reference {:?}", value, g, r),
        }
    }
}
