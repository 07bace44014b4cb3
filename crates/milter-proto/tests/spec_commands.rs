//! Decoding and encoding of every command (docs/design/milter-protocol.md §2), with malformed and truncated input.

mod common;

use std::net::IpAddr;

use bytes::{BufMut, Bytes, BytesMut};
use common::{b, decode_one, encode_cmd, frame};
use milter_proto::{
    Actions, Command, ConnectInfo, Envelope, Family, FrameDecoder, Header, MacroStage, Macros,
    OptNeg, ProtocolError, ProtocolFlags,
};

fn malformed(wire: &[u8]) -> ProtocolError {
    let err = decode_one(wire).unwrap_err();
    assert!(err.is_fatal(), "{err}");
    err
}

/// Every proper prefix of a valid frame decodes to `None` and is `Truncated` at EOF.
fn assert_truncation_safe(wire: &[u8]) {
    for cut in 1..wire.len() {
        let mut buf = BytesMut::from(&wire[..cut]);
        let mut dec = FrameDecoder::new();
        assert_eq!(dec.decode(&mut buf), Ok(None), "prefix {cut}");
        assert_eq!(
            dec.finish(&buf),
            Err(ProtocolError::Truncated { buffered: cut })
        );
    }
}

/// Decodes `wire` to `expected` and encodes `expected` back to `wire`.
fn both_ways(wire: &[u8], expected: Command) {
    assert_eq!(decode_one(wire).unwrap(), expected);
    assert_eq!(encode_cmd(&expected), wire);
    assert_truncation_safe(wire);
}

#[test]
fn optneg_postfix_default_offer() {
    let wire = [
        0x00, 0x00, 0x00, 0x0D, 0x4F, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x1F,
        0xFF, 0xFF,
    ];
    both_ways(
        &wire,
        Command::OptNeg(OptNeg {
            version: 6,
            actions: Actions::ALL,
            protocol: ProtocolFlags::ALL,
        }),
    );
}

#[test]
fn optneg_shorter_than_12_bytes_is_malformed() {
    let err = malformed(&frame(b'O', &[0, 0, 0, 6, 0, 0, 1, 0xFF, 0, 0x1F, 0xFF]));
    assert!(err.to_string().contains("12 bytes"), "{err}");
    malformed(&frame(b'O', &[]));
}

#[test]
fn optneg_extra_bytes_are_ignored() {
    let mut p = vec![0, 0, 0, 6, 0, 0, 1, 0xFF, 0, 0x1F, 0xFF, 0xFF];
    p.extend_from_slice(b"extra");
    assert_eq!(
        decode_one(&frame(b'O', &p)).unwrap(),
        Command::OptNeg(OptNeg::POSTFIX_V6)
    );
}

#[test]
fn macro_connect_stage_pairs() {
    both_ways(
        &frame(b'D', b"Cj\0mx.example.net\0{daemon_name}\0ORIGINATING\0"),
        Command::Macro(
            Macros::new(
                MacroStage::Connect,
                [("j", "mx.example.net"), ("{daemon_name}", "ORIGINATING")],
            )
            .unwrap(),
        ),
    );
}

#[test]
fn macro_empty_packet_is_stage_byte_only() {
    both_ways(
        &frame(b'D', b"H"),
        Command::Macro(Macros::empty(MacroStage::Helo)),
    );
}

/// The pairs of a packet as text.
fn pairs(m: &Macros) -> Vec<(&str, &str)> {
    m.pairs().map(|(k, v)| (text(k), text(v))).collect()
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

#[test]
fn macro_empty_value_is_kept() {
    let cmd = decode_one(&frame(b'D', b"M{mail_addr}\0\0")).unwrap();
    let Command::Macro(m) = cmd else { panic!() };
    assert_eq!(pairs(&m), [("{mail_addr}", "")]);
    assert_eq!(m.get(b"mail_addr").unwrap(), "");
}

#[test]
fn macro_odd_trailing_name_gets_empty_value() {
    let cmd = decode_one(&frame(b'D', b"Mi\0Q1\0{auth_type}\0")).unwrap();
    let Command::Macro(m) = cmd else { panic!() };
    assert_eq!(pairs(&m), [("i", "Q1"), ("{auth_type}", "")]);
}

#[test]
fn macro_unterminated_tail_is_accepted() {
    let cmd = decode_one(&frame(b'D', b"Ti\0Q1")).unwrap();
    let Command::Macro(m) = cmd else { panic!() };
    assert_eq!(pairs(&m), [("i", "Q1")]);
}

#[test]
fn macro_postfix_and_unknown_stage_letters() {
    for (letter, stage) in [
        (b'L', MacroStage::Header),
        (b'B', MacroStage::Body),
        (b'U', MacroStage::Unknown),
        (b'Z', MacroStage::Other(b'Z')),
        (0, MacroStage::Other(0)),
    ] {
        let wire = frame(b'D', &[letter, b'i', 0, b'Q', 0]);
        both_ways(
            &wire,
            Command::Macro(Macros::new(stage, [("i", "Q")]).unwrap()),
        );
    }
}

#[test]
fn macro_without_stage_byte_is_malformed() {
    malformed(&frame(b'D', b""));
}

#[test]
fn connect_ipv4_postfix() {
    let mut p = b"mail.example.org\0".to_vec();
    p.extend_from_slice(&[b'4', 0xC3, 0x50]);
    p.extend_from_slice(b"192.0.2.10\0");
    let expected = ConnectInfo {
        hostname: b("mail.example.org"),
        family: Family::Inet,
        port: 50000,
        address: b("192.0.2.10"),
    };
    both_ways(&frame(b'C', &p), Command::Connect(expected.clone()));
    assert_eq!(expected.ip(), Some("192.0.2.10".parse().unwrap()));
    assert!(!expected.hostname_is_address_literal());
}

#[test]
fn connect_ipv6_sendmail_prefix_and_bracketed_host() {
    let mut p = b"[2001:db8::1]\0".to_vec();
    p.extend_from_slice(&[b'6', 0x00, 0x19]);
    p.extend_from_slice(b"IPv6:2001:db8::1\0");
    let cmd = decode_one(&frame(b'C', &p)).unwrap();
    let Command::Connect(c) = cmd else { panic!() };
    assert_eq!(c.port, 25);
    assert_eq!(c.ip(), Some("2001:db8::1".parse::<IpAddr>().unwrap()));
    assert!(c.hostname_is_address_literal());
    assert_eq!(c.hostname_unbracketed(), b"2001:db8::1");
    // lower-case tag, IPv4-mapped address
    let c = ConnectInfo {
        address: b("ipv6:::ffff:192.0.2.1"),
        ..c
    };
    assert_eq!(c.ip(), Some("192.0.2.1".parse().unwrap()));
    let c = ConnectInfo {
        address: b("not an ip"),
        ..c
    };
    assert_eq!(c.ip(), None);
}

#[test]
fn connect_family_unknown_has_no_port_or_address() {
    let expected = ConnectInfo {
        hostname: b("localhost"),
        family: Family::Unknown,
        port: 0,
        address: Bytes::new(),
    };
    both_ways(
        &frame(b'C', b"localhost\0U"),
        Command::Connect(expected.clone()),
    );
    assert_eq!(expected.ip(), None);
}

#[test]
fn connect_family_unix() {
    let mut p = b"localhost\0L\0\0".to_vec();
    p.extend_from_slice(b"/run/smtp.sock\0");
    let cmd = decode_one(&frame(b'C', &p)).unwrap();
    let Command::Connect(c) = cmd else { panic!() };
    assert_eq!(c.family, Family::Unix);
    assert_eq!(c.address, "/run/smtp.sock");
    assert_eq!(c.ip(), None);
    assert_eq!(encode_cmd(&Command::Connect(c)), frame(b'C', &p));
}

#[test]
fn connect_malformed() {
    malformed(&frame(b'C', b"no-nul"));
    malformed(&frame(b'C', b"host\0"));
    let err = malformed(&frame(b'C', b"host\0X\0\0addr\0"));
    assert!(err.to_string().contains("family"), "{err}");
    malformed(&frame(b'C', b"host\x004"));
    malformed(&frame(b'C', b"host\x004\x01"));
    malformed(&frame(b'C', b"host\x004\x01\x02192.0.2.1"));
}

#[test]
fn helo() {
    both_ways(
        &frame(b'H', b"mail.example.org\0"),
        Command::Helo(b("mail.example.org")),
    );
    both_ways(
        &frame(b'H', b"[192.0.2.1]\0"),
        Command::Helo(b("[192.0.2.1]")),
    );
    malformed(&frame(b'H', b"mail.example.org"));
    malformed(&frame(b'H', b""));
}

#[test]
fn mail_with_esmtp_args() {
    let env = Envelope {
        address: b("<alice@example.org>"),
        args: vec![b("SIZE=1234"), b("BODY=8BITMIME")],
    };
    both_ways(
        &frame(b'M', b"<alice@example.org>\0SIZE=1234\0BODY=8BITMIME\0"),
        Command::Mail(env.clone()),
    );
    assert_eq!(env.mailbox(), b"alice@example.org");
    assert_eq!(env.arg("size"), Some(&b"1234"[..]));
    assert_eq!(env.arg("SMTPUTF8"), None);
    assert!(!env.is_null());
}

#[test]
fn mail_null_sender_spellings() {
    for wire in [&b"<>\0"[..], b"\0", b"\"\"\0", b"< >\0"] {
        let Command::Mail(env) = decode_one(&frame(b'M', wire)).unwrap() else {
            panic!()
        };
        assert!(env.is_null(), "{wire:?}");
        assert_eq!(env.mailbox(), b"");
    }
}

#[test]
fn mail_bare_address_and_source_route() {
    let Command::Mail(env) = decode_one(&frame(b'M', b"alice@example.org\0")).unwrap() else {
        panic!()
    };
    assert_eq!(env.mailbox(), b"alice@example.org");
    assert!(env.args.is_empty());
    let env = Envelope::new(b("<@a.example,@b.example:bob@example.net>"), vec![]);
    assert_eq!(env.mailbox(), b"bob@example.net");
}

#[test]
fn mail_and_rcpt_malformed() {
    for code in [b'M', b'R'] {
        malformed(&frame(code, b""));
        malformed(&frame(code, b"<a@b>"));
        malformed(&frame(code, b"<a@b>\0SIZE=1"));
    }
}

#[test]
fn rcpt() {
    both_ways(
        &frame(b'R', b"<bob@example.net>\0NOTIFY=NEVER\0"),
        Command::Rcpt(Envelope {
            address: b("<bob@example.net>"),
            args: vec![b("NOTIFY=NEVER")],
        }),
    );
}

#[test]
fn empty_commands() {
    for (code, cmd) in [
        (b'T', Command::Data),
        (b'N', Command::Eoh),
        (b'A', Command::Abort),
        (b'Q', Command::Quit),
        (b'K', Command::QuitNc),
    ] {
        both_ways(&[0, 0, 0, 1, code], cmd.clone());
        // a payload on an empty command is ignored
        assert_eq!(decode_one(&frame(code, b"junk")).unwrap(), cmd);
    }
}

#[test]
fn header_with_folding_and_leading_space() {
    both_ways(
        &frame(b'L', b"DKIM-Signature\0 v=1; a=rsa-sha256;\n\ts=s1\0"),
        Command::Header(Header {
            name: b("DKIM-Signature"),
            value: b(" v=1; a=rsa-sha256;\n\ts=s1"),
        }),
    );
}

#[test]
fn header_empty_value_and_empty_name_are_kept() {
    both_ways(
        &frame(b'L', b"Subject\0\0"),
        Command::Header(Header {
            name: b("Subject"),
            value: Bytes::new(),
        }),
    );
    both_ways(
        &frame(b'L', b"\0x\0"),
        Command::Header(Header {
            name: Bytes::new(),
            value: b("x"),
        }),
    );
}

#[test]
fn header_value_keeps_an_embedded_nul() {
    // `From NUL a@evil NUL victim@bank NUL`: the value is everything up to the final NUL, so
    // the application sees the NUL instead of evaluating only `a@evil`
    assert_eq!(
        decode_one(&frame(
            b'L',
            b"From\0 a@evil.example\0victim@bank.example\0"
        ))
        .unwrap(),
        Command::Header(Header {
            name: b("From"),
            value: Bytes::from_static(b" a@evil.example\0victim@bank.example"),
        })
    );
}

#[test]
fn header_malformed() {
    malformed(&frame(b'L', b"Subject\0hi"));
    malformed(&frame(b'L', b"Subject"));
    malformed(&frame(b'L', b""));
}

#[test]
fn body_is_raw_bytes_with_nul_and_crlf() {
    both_ways(
        &frame(b'B', b"a\0b\r\n\r"),
        Command::Body(Bytes::from_static(b"a\0b\r\n\r")),
    );
    both_ways(&frame(b'B', b""), Command::Body(Bytes::new()));
}

#[test]
fn body_larger_than_65535_is_accepted_under_the_cap() {
    let big = vec![b'x'; 70_000];
    let Command::Body(chunk) = decode_one(&frame(b'B', &big)).unwrap() else {
        panic!()
    };
    assert_eq!(chunk.len(), 70_000);
}

#[test]
fn bodyeob_with_and_without_data() {
    both_ways(&[0, 0, 0, 1, b'E'], Command::BodyEob(Bytes::new()));
    both_ways(&frame(b'E', b"tail\r\n"), Command::BodyEob(b("tail\r\n")));
}

#[test]
fn unknown_smtp_command() {
    both_ways(
        &frame(b'U', b"XYZZY foo\0"),
        Command::Unknown(b("XYZZY foo")),
    );
    malformed(&frame(b'U', b"XYZZY"));
}

#[test]
fn unknown_code_zero_length_and_over_cap() {
    assert_eq!(
        decode_one(&frame(b'Z', b"")),
        Err(ProtocolError::UnknownCommand(b'Z'))
    );
    // codes below ' ' (libmilter's internal pseudo-codes) are unknown too
    assert_eq!(
        decode_one(&frame(1, b"")),
        Err(ProtocolError::UnknownCommand(1))
    );
    assert_eq!(decode_one(&[0, 0, 0, 0]), Err(ProtocolError::ZeroLength));
    let mut buf = BytesMut::from(&frame(b'B', &[0; 200])[..]);
    let err = FrameDecoder::with_max_payload(100)
        .decode(&mut buf)
        .unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::FrameTooLarge { len: 200, max: 100 }
    ));
    assert!(err.to_string().contains("exceeds"));
}

#[test]
fn default_cap_admits_postfix_header_limit() {
    let mut p = b"X-Big\0".to_vec();
    p.extend(std::iter::repeat_n(b'a', 102_400));
    p.push(0);
    assert!(decode_one(&frame(b'L', &p)).is_ok());
    let mut buf = BytesMut::new();
    buf.put_u32((1 << 20) + 2);
    buf.put_u8(b'B');
    assert!(matches!(
        FrameDecoder::new().decode(&mut buf),
        Err(ProtocolError::FrameTooLarge { .. })
    ));
}

#[test]
fn pipelined_stream_decodes_the_same_whole_and_byte_by_byte() {
    let mut wire = Vec::new();
    wire.extend(frame(b'D', b"L"));
    wire.extend(frame(b'L', b"From\0 a@b\0"));
    wire.extend(frame(b'D', b"L"));
    wire.extend(frame(b'L', b"To\0 c@d\0"));
    wire.extend(frame(b'N', b""));
    wire.extend(frame(b'B', b"hi\r\n"));
    wire.extend(frame(b'E', b""));
    let decode_all = |chunks: &mut dyn Iterator<Item = &[u8]>| {
        let mut dec = FrameDecoder::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for c in chunks {
            buf.extend_from_slice(c);
            while let Some(cmd) = dec.decode(&mut buf).unwrap() {
                out.push(cmd);
            }
        }
        dec.finish(&buf).unwrap();
        out
    };
    let whole = decode_all(&mut std::iter::once(&wire[..]));
    let bytewise = decode_all(&mut wire.chunks(1));
    let odd = decode_all(&mut wire.chunks(7));
    assert_eq!(whole.len(), 7);
    assert_eq!(whole, bytewise);
    assert_eq!(whole, odd);
}

#[test]
fn encode_refuses_nul_inside_c_strings() {
    let bad = [
        Command::Helo(b("a\0b")),
        Command::Unknown(b("a\0b")),
        Command::Mail(Envelope::new(b("<a\0b>"), vec![])),
        Command::Rcpt(Envelope::new(b("<a@b>"), vec![b("X=\0")])),
        Command::Header(Header {
            name: b("X"),
            value: b("a\0"),
        }),
        Command::Connect(ConnectInfo {
            hostname: b("h\0"),
            family: Family::Unknown,
            port: 0,
            address: Bytes::new(),
        }),
    ];
    assert!(Macros::new(MacroStage::Connect, [("j\0", "x")]).is_err());
    assert!(Macros::new(MacroStage::Connect, [("j", "x\0")]).is_err());
    for cmd in bad {
        let mut out = BytesMut::new();
        assert!(cmd.encode(&mut out).is_err(), "{cmd:?}");
        assert!(out.is_empty());
    }
}
