//! Encoding (exact bytes) and client-side parsing of every response (docs/design/milter-protocol.md §3).

mod common;

use bytes::{Bytes, BytesMut};
use common::{b, decode_responses, encode_resp, frame};
use milter_proto::{
    Actions, OptNeg, ProtocolError, ProtocolFlags, Response, SmtpReply, SymList, SymStage,
};

fn parse(code: u8, payload: &[u8], leadspc: bool) -> Result<Response, ProtocolError> {
    Response::parse(code, Bytes::copy_from_slice(payload), leadspc)
}

/// Encodes to exactly `wire` and parses back to `resp`.
fn both_ways(resp: Response, leadspc: bool, wire: &[u8]) {
    assert_eq!(encode_resp(&resp, leadspc), wire, "{resp:?}");
    assert_eq!(decode_responses(wire, leadspc), vec![resp]);
}

fn refused(resp: Response) -> ProtocolError {
    let mut out = BytesMut::new();
    let err = resp.encode(true, &mut out).unwrap_err();
    assert!(out.is_empty(), "nothing is written on error");
    assert!(err.is_refusal());
    err
}

#[test]
fn optneg_reply_recommended() {
    let resp = Response::OptNeg {
        options: OptNeg {
            version: 6,
            actions: Actions::from_bits(0x7D),
            protocol: ProtocolFlags::from_bits(0x001C_0180),
        },
        symlists: vec![],
    };
    both_ways(
        resp,
        true,
        &[
            0, 0, 0, 13, b'O', 0, 0, 0, 6, 0, 0, 0, 0x7D, 0, 0x1C, 0x01, 0x80,
        ],
    );
}

#[test]
fn optneg_reply_with_symlists() {
    let resp = Response::OptNeg {
        options: OptNeg {
            version: 6,
            actions: Actions::from_bits(0x17D),
            protocol: ProtocolFlags::empty(),
        },
        symlists: vec![SymList {
            stage: SymStage::ENVFROM,
            macros: b("{auth_authen} i"),
        }],
    };
    let mut payload = vec![0, 0, 0, 6, 0, 0, 1, 0x7D, 0, 0, 0, 0, 0, 0, 0, 2];
    payload.extend_from_slice(b"{auth_authen} i\0");
    both_ways(resp, false, &frame(b'O', &payload));
}

#[test]
fn no_payload_responses_have_len_1() {
    for (resp, code) in [
        (Response::Continue, b'c'),
        (Response::Accept, b'a'),
        (Response::Reject, b'r'),
        (Response::Tempfail, b't'),
        (Response::Discard, b'd'),
        (Response::Progress, b'p'),
        (Response::Skip, b's'),
    ] {
        both_ways(resp, true, &[0, 0, 0, 1, code]);
        // Postfix: "reply ... was followed by N data bytes" -> so do we
        assert!(parse(code, b"x", true).is_err());
    }
}

#[test]
fn replycode_escapes_percent_and_is_nul_terminated() {
    let reply =
        SmtpReply::new(550, Some("5.7.23"), "SPF fail, see https://x.example/?q=%s").unwrap();
    both_ways(
        Response::ReplyCode(reply),
        true,
        &frame(b'y', b"550 5.7.23 SPF fail, see https://x.example/?q=%%s\0"),
    );
}

#[test]
fn replycode_multiline() {
    let reply =
        SmtpReply::multiline(451, Some("4.7.1"), ["DNS timeout", "try again later"]).unwrap();
    both_ways(
        Response::ReplyCode(reply),
        false,
        &frame(
            b'y',
            b"451-4.7.1 DNS timeout\r\n451 4.7.1 try again later\0",
        ),
    );
}

#[test]
fn replycode_parse_errors() {
    assert!(parse(b'y', b"550 5.7.1 x", true).is_err(), "no NUL");
    assert!(
        parse(b'y', b"550 5.7.1 x\0junk", true).is_err(),
        "data after NUL"
    );
    assert!(parse(b'y', b"250 ok\0", true).is_err(), "2xx");
    assert!(
        parse(b'y', b"550 4.7.1 x\0", true).is_ok(),
        "parses with the enhanced code as text"
    );
}

#[test]
fn addheader_leading_space_only_with_leadspc() {
    let resp = Response::AddHeader {
        name: b("X-Test"),
        value: b("v"),
    };
    both_ways(resp.clone(), true, &frame(b'h', b"X-Test\0 v\0"));
    both_ways(resp, false, &frame(b'h', b"X-Test\0v\0"));
}

#[test]
fn insheader_at_zero_exact_bytes() {
    let resp = Response::InsHeader {
        index: 0,
        name: b("Authentication-Results"),
        value: b("mx.example.net;\n\tspf=pass smtp.mailfrom=example.org"),
    };
    let mut p = vec![0, 0, 0, 0];
    p.extend_from_slice(
        b"Authentication-Results\0 mx.example.net;\n\tspf=pass smtp.mailfrom=example.org\0",
    );
    both_ways(resp, true, &frame(b'i', &p));
}

#[test]
fn chgheader_delete_never_gets_a_space() {
    let resp = Response::ChgHeader {
        index: 2,
        name: b("Authentication-Results"),
        value: Bytes::new(),
    };
    let mut p = vec![0, 0, 0, 2];
    p.extend_from_slice(b"Authentication-Results\0\0");
    both_ways(resp.clone(), true, &frame(b'm', &p));
    both_ways(resp, false, &frame(b'm', &p));
}

#[test]
fn chgheader_change_value() {
    let resp = Response::ChgHeader {
        index: 1,
        name: b("Subject"),
        value: b("[SPAM] hi"),
    };
    let mut p = vec![0, 0, 0, 1];
    p.extend_from_slice(b"Subject\0 [SPAM] hi\0");
    both_ways(resp, true, &frame(b'm', &p));
}

#[test]
fn delete_headers_goes_from_highest_index_down() {
    let rs = Response::delete_headers(b"Authentication-Results", [1, 3, 2, 3]);
    let idx: Vec<u32> = rs
        .iter()
        .map(|r| match r {
            Response::ChgHeader { index, value, .. } => {
                assert!(value.is_empty());
                *index
            }
            _ => panic!(),
        })
        .collect();
    assert_eq!(idx, vec![3, 2, 1]);
}

#[test]
fn chgfrom_with_and_without_args() {
    both_ways(
        Response::ChgFrom {
            from: b("<SRS0=ab=cd=example.org=alice@fwd.example>"),
            args: None,
        },
        true,
        &frame(b'e', b"<SRS0=ab=cd=example.org=alice@fwd.example>\0"),
    );
    both_ways(
        Response::ChgFrom {
            from: b("<>"),
            args: Some(b("RET=HDRS ENVID=x")),
        },
        true,
        &frame(b'e', b"<>\0RET=HDRS ENVID=x\0"),
    );
    assert!(
        parse(b'e', b"<a@b>\0x\0y\0", true).is_err(),
        "left-over data"
    );
    assert!(parse(b'e', b"<a@b>", true).is_err());
}

#[test]
fn recipients() {
    both_ways(
        Response::AddRcpt(b("<a@b>")),
        true,
        &frame(b'+', b"<a@b>\0"),
    );
    both_ways(
        Response::DelRcpt(b("<a@b>")),
        true,
        &frame(b'-', b"<a@b>\0"),
    );
    both_ways(
        Response::AddRcptPar {
            rcpt: b("<a@b>"),
            args: Some(b("NOTIFY=NEVER")),
        },
        true,
        &frame(b'2', b"<a@b>\0NOTIFY=NEVER\0"),
    );
    assert!(parse(b'+', b"<a@b>", true).is_err());
    assert!(parse(b'-', b"", true).is_err());
}

#[test]
fn replbody_is_split_at_65535() {
    let body = Bytes::from(vec![b'x'; 65535 + 10]);
    let wire = encode_resp(&Response::ReplBody(body), true);
    let frames = decode_responses(&wire, true);
    assert_eq!(frames.len(), 2);
    assert_eq!(
        frames[0],
        Response::ReplBody(Bytes::from(vec![b'x'; 65535]))
    );
    assert_eq!(frames[1], Response::ReplBody(Bytes::from(vec![b'x'; 10])));
    assert_eq!(&wire[..5], &[0, 1, 0, 0, b'b']);
    both_ways(Response::ReplBody(Bytes::new()), true, &[0, 0, 0, 1, b'b']);
}

#[test]
fn quarantine() {
    both_ways(
        Response::Quarantine(b("DMARC policy quarantine")),
        true,
        &frame(b'q', b"DMARC policy quarantine\0"),
    );
    refused(Response::Quarantine(Bytes::new()));
    refused(Response::Quarantine(b("two\nlines")));
    refused(Response::Quarantine(b("cr\r")));
    assert!(parse(b'q', b"no nul", true).is_err());
}

#[test]
fn header_names_are_validated() {
    for name in ["", "X Test", "X:Test", "X-T\u{e9}st", "X\tT"] {
        let err = refused(Response::AddHeader {
            name: Bytes::copy_from_slice(name.as_bytes()),
            value: b("v"),
        });
        assert!(
            matches!(err, ProtocolError::InvalidHeaderName(_)),
            "{name:?}"
        );
    }
}

#[test]
fn header_values_fold_with_bare_lf() {
    let wire = encode_resp(
        &Response::AddHeader {
            name: b("X-A"),
            value: b("one\r\n\ttwo"),
        },
        false,
    );
    assert_eq!(wire, frame(b'h', b"X-A\0one\n\ttwo\0"));
    for bad in ["a\0b", "a\rb", "a\nb", "a\n", "a\r\nb", "a\r"] {
        let err = refused(Response::InsHeader {
            index: 0,
            name: b("X-A"),
            value: Bytes::copy_from_slice(bad.as_bytes()),
        });
        assert!(
            matches!(err, ProtocolError::InvalidHeaderValue(_)),
            "{bad:?}"
        );
    }
}

#[test]
fn addresses_are_validated() {
    refused(Response::AddRcpt(Bytes::new()));
    refused(Response::DelRcpt(b("a\0b")));
    refused(Response::ChgFrom {
        from: b("<a@b>"),
        args: Some(b("X\0")),
    });
}

#[test]
fn header_values_parse_leadspc_inverse() {
    let r = parse(b'h', b"X\0 v\0", true).unwrap();
    assert_eq!(
        r,
        Response::AddHeader {
            name: b("X"),
            value: b("v")
        }
    );
    let r = parse(b'h', b"X\0 v\0", false).unwrap();
    assert_eq!(
        r,
        Response::AddHeader {
            name: b("X"),
            value: b(" v")
        }
    );
}

#[test]
fn response_parse_errors() {
    for code in [b'f', b'4', b'l', b'Z', 0] {
        assert_eq!(
            parse(code, b"", true),
            Err(ProtocolError::UnknownResponse(code))
        );
    }
    assert!(parse(b'i', b"\0\0\0", true).is_err(), "short index");
    assert!(
        parse(b'm', b"\0\0\0\x01X\0", true).is_err(),
        "missing value"
    );
    assert!(parse(b'h', b"X\0", true).is_err());
    assert!(parse(b'O', &[0; 11], true).is_err());
    let mut p = vec![0u8; 12];
    p.extend_from_slice(&[0, 0, 0]);
    assert!(parse(b'O', &p, true).is_err(), "truncated symlist stage");
    p.extend_from_slice(&[2, b'x']);
    assert!(parse(b'O', &p, true).is_err(), "symlist without NUL");
}

#[test]
fn truncated_response_frames_wait_for_more() {
    let wire = encode_resp(
        &Response::InsHeader {
            index: 0,
            name: b("X"),
            value: b("v"),
        },
        true,
    );
    let mut dec = milter_proto::FrameDecoder::new();
    for cut in 1..wire.len() {
        let mut buf = BytesMut::from(&wire[..cut]);
        assert_eq!(dec.decode_response(&mut buf, true), Ok(None));
        assert!(dec.finish(&buf).is_err());
    }
}

/// One of each response, for the generic truncation and malformation checks.
fn catalog() -> Vec<Response> {
    vec![
        Response::OptNeg {
            options: OptNeg::POSTFIX_V6,
            symlists: vec![SymList {
                stage: SymStage::EOM,
                macros: b("i"),
            }],
        },
        Response::Continue,
        Response::Accept,
        Response::Reject,
        Response::Tempfail,
        Response::Discard,
        Response::Progress,
        Response::Skip,
        Response::ReplyCode(SmtpReply::new(451, Some("4.4.3"), "DNS").unwrap()),
        Response::AddHeader {
            name: b("X"),
            value: b("v"),
        },
        Response::InsHeader {
            index: 0,
            name: b("X"),
            value: b("v"),
        },
        Response::ChgHeader {
            index: 1,
            name: b("X"),
            value: Bytes::new(),
        },
        Response::ChgFrom {
            from: b("<a@b>"),
            args: Some(b("RET=FULL")),
        },
        Response::AddRcpt(b("<a@b>")),
        Response::AddRcptPar {
            rcpt: b("<a@b>"),
            args: None,
        },
        Response::DelRcpt(b("<a@b>")),
        Response::ReplBody(b("body\r\n")),
        Response::Quarantine(b("why")),
    ]
}

#[test]
fn every_response_truncated_at_every_byte_waits_then_fails_at_eof() {
    for resp in catalog() {
        let wire = encode_resp(&resp, true);
        for cut in 1..wire.len() {
            let mut buf = BytesMut::from(&wire[..cut]);
            let mut dec = milter_proto::FrameDecoder::new();
            assert_eq!(
                dec.decode_response(&mut buf, true),
                Ok(None),
                "{resp:?} cut {cut}"
            );
            assert_eq!(
                dec.finish(&buf),
                Err(ProtocolError::Truncated { buffered: cut })
            );
        }
    }
}

#[test]
fn every_response_without_its_final_nul_is_malformed() {
    for resp in catalog() {
        let wire = encode_resp(&resp, true);
        let payload = &wire[5..];
        if payload.last() != Some(&0) || matches!(resp, Response::ReplBody(_)) {
            continue;
        }
        let chopped = &payload[..payload.len() - 1];
        let err = parse(wire[4], chopped, true).unwrap_err();
        assert!(err.is_fatal(), "{resp:?}: {err}");
    }
}

#[test]
fn every_response_round_trips_both_leadspc_modes() {
    for resp in catalog() {
        for leadspc in [false, true] {
            let wire = encode_resp(&resp, leadspc);
            assert_eq!(decode_responses(&wire, leadspc), vec![resp.clone()]);
        }
    }
}
