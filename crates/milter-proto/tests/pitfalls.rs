//! One test per rule in docs/design/milter-protocol.md §0 and per pitfall in §8, driven through `Session`.

mod common;

use bytes::{Bytes, BytesMut};
use common::mta::*;
use common::{b, frame};
use milter_proto::{
    Actions, Command, Event, FrameDecoder, MacroStage, OptNeg, ProtocolError, ProtocolFlags,
    ReplyOwed, Response, Session, SmtpReply, SymList, SymStage, Wants,
};

// §0 rule 1: frames are pipelined and split arbitrarily. The exact Postfix sequence of §11.1,
// fed in one write and byte by byte, produces the exact replies.
#[test]
fn rule1_postfix_sequence_pipelined_and_bytewise() {
    let mut wire = Vec::new();
    wire.extend(frame(
        b'O',
        &[0, 0, 0, 6, 0, 0, 1, 0xFF, 0, 0x1F, 0xFF, 0xFF],
    ));
    wire.extend(frame(
        b'D',
        b"Cj\0mx.example.net\0{daemon_name}\0mx.example.net\0v\0Postfix 3.7.11\0",
    ));
    wire.extend(frame(b'C', b"mail.example.org\x004\xC3\x50192.0.2.10\0"));
    wire.extend(frame(b'D', b"H"));
    wire.extend(frame(b'H', b"mail.example.org\0"));
    wire.extend(frame(b'D', b"M{mail_addr}\0alice@example.org\0"));
    wire.extend(frame(b'M', b"<alice@example.org>\0SIZE=1234\0"));
    wire.extend(frame(b'D', b"R{rcpt_addr}\0bob@example.net\0"));
    wire.extend(frame(b'R', b"<bob@example.net>\0"));
    wire.extend(frame(b'D', b"Ti\0F2A1C3B0D9\0"));
    wire.extend(frame(b'T', b""));
    for (n, v) in [
        ("From", " Alice <alice@example.org>"),
        ("To", " bob@example.net"),
        ("Subject", " hi"),
    ] {
        wire.extend(frame(b'D', b"Li\0F2A1C3B0D9\0"));
        let mut p = n.as_bytes().to_vec();
        p.push(0);
        p.extend_from_slice(v.as_bytes());
        p.push(0);
        wire.extend(frame(b'L', &p));
    }
    wire.extend(frame(b'D', b"Ni\0F2A1C3B0D9\0"));
    wire.extend(frame(b'N', b""));
    wire.extend(frame(b'D', b"Bi\0F2A1C3B0D9\0"));
    wire.extend(frame(b'B', b"Hello Bob\r\n"));
    wire.extend(frame(b'D', b"Ei\0F2A1C3B0D9\0"));
    wire.extend(frame(b'E', b""));
    wire.extend(frame(b'A', b""));
    wire.extend(frame(b'A', b""));
    wire.extend(frame(b'Q', b""));

    let mut expected = Vec::new();
    expected.extend(frame(
        b'O',
        &[0, 0, 0, 6, 0, 0, 0, 0xFD, 0, 0x1C, 0x01, 0x80],
    ));
    for _ in 0..5 {
        expected.extend(frame(b'c', b"")); // C H M R T
    }
    expected.extend(frame(
        b'i',
        b"\0\0\0\0Authentication-Results\0 mx.example.net; spf=pass\0",
    ));
    expected.extend(frame(b'c', b""));

    for chunk in [wire.len(), 1, 3] {
        let mut session = Session::default();
        let mut dec = FrameDecoder::new();
        let (mut buf, mut out) = (BytesMut::new(), BytesMut::new());
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(cmd) = dec.decode(&mut buf).unwrap() {
                let step = session.handle(cmd).unwrap();
                assert!(step.warnings.is_empty(), "{:?}", step.warnings);
                match (step.event, step.reply) {
                    (Event::Negotiate { negotiated, .. }, _) => {
                        session.send(&negotiated.reply(), &mut out).unwrap()
                    }
                    (Event::EndOfMessage { .. }, _) => {
                        assert_eq!(session.macro_value(b"{i}").unwrap(), "F2A1C3B0D9");
                        assert_eq!(
                            session.macro_value(b"{daemon_name}").unwrap(),
                            "mx.example.net"
                        );
                        assert_eq!(
                            session.macro_value(b"mail_addr").unwrap(),
                            "alice@example.org"
                        );
                        session.send(&add_ar(), &mut out).unwrap();
                        session.send(&Response::Continue, &mut out).unwrap();
                    }
                    (_, ReplyOwed::Final) => session.send(&Response::Continue, &mut out).unwrap(),
                    (_, ReplyOwed::None) => {}
                    other => panic!("{other:?}"),
                }
            }
        }
        dec.finish(&buf).unwrap();
        assert_eq!(&out[..], &expected[..], "chunk size {chunk}");
        assert!(session.is_closed());
    }
}

// §0 rule 2 / §8.4 (milterfrom#7) / §8.14 (miltr-server ABORT): no reply to MACRO, ABORT, QUIT,
// QUIT_NC, or to a command covered by a negotiated NR_* bit.
#[test]
fn rule2_never_reply_to_no_reply_commands() {
    let mut m = Mta::postfix();
    let s = m.cmd(macros(MacroStage::Connect, &[("j", "mx")]));
    assert_eq!(s.reply, ReplyOwed::None);
    illegal(m.send(&Response::Continue));
    m.envelope();
    m.step(Command::Data, ReplyOwed::Final);
    for c in [
        header("From", " a@b"),
        Command::Eoh,
        Command::Body(b("x\r\n")),
    ] {
        let s = m.cmd(c);
        assert_eq!(s.reply, ReplyOwed::None, "NR_HDR/NR_EOH/NR_BODY");
        illegal(m.send(&Response::Continue));
        illegal(m.send(&Response::Reject));
    }
    assert_eq!(m.cmd(Command::Abort).reply, ReplyOwed::None);
    illegal(m.send(&Response::Continue));
    assert_eq!(m.cmd(Command::QuitNc).reply, ReplyOwed::None);
    illegal(m.send(&Response::Continue));
    assert_eq!(m.cmd(Command::Quit).reply, ReplyOwed::None);
    illegal(m.send(&Response::Continue));
    assert!(m.out.is_empty(), "nothing was written by refused sends");
}

// §0 rule 2: every other command gets exactly one final reply; a second one is refused.
#[test]
fn rule2_exactly_one_final_reply() {
    let mut m = Mta::postfix();
    assert_eq!(m.cmd(connect()).reply, ReplyOwed::Final);
    m.send(&Response::Continue).unwrap();
    illegal(m.send(&Response::Continue));
}

// §0 rule 3 / §8.5 (phalaaxx/milter#5): modifications only after BODYEOB, before the final reply.
#[test]
fn rule3_modifications_only_at_end_of_message() {
    let mut m = Mta::new(
        Wants {
            protocol: ProtocolFlags::HDR_LEADSPC,
            ..Wants::default()
        },
        OptNeg::POSTFIX_V6,
    );
    m.step(connect(), ReplyOwed::Final);
    let s = m.cmd(mail("<a@b>"));
    illegal(m.send(&add_ar()));
    assert_eq!(s.reply, ReplyOwed::Final);
    m.send(&Response::Continue).unwrap();
    m.cmd(Command::Eoh);
    illegal(m.send(&add_ar()));
    illegal(m.send(&Response::Quarantine(b("x"))));
    m.send(&Response::Continue).unwrap();
    assert_eq!(m.cmd(eom()).reply, ReplyOwed::EndOfMessage);
    m.send(&add_ar()).unwrap();
    m.send(&Response::Quarantine(b("policy"))).unwrap();
    m.send(&Response::Continue).unwrap();
    illegal(m.send(&add_ar()));
}

// §0 rule 4: PROGRESS only after BODYEOB (Sendmail), any number of times, then a final reply.
#[test]
fn rule4_progress_only_after_bodyeob() {
    let mut m = Mta::postfix();
    m.cmd(connect());
    illegal(m.send(&Response::Progress));
    m.send(&Response::Continue).unwrap();
    m.step(mail("<a@b>"), ReplyOwed::Final);
    m.cmd(eom());
    for _ in 0..3 {
        m.send(&Response::Progress).unwrap();
        assert_eq!(m.session.reply_owed(), ReplyOwed::EndOfMessage);
    }
    m.send(&Response::Tempfail).unwrap();
    assert_eq!(m.session.reply_owed(), ReplyOwed::None);
    illegal(m.send(&Response::Progress));
    assert_eq!(
        &m.out[..],
        &[
            0, 0, 0, 1, b'c', 0, 0, 0, 1, b'p', 0, 0, 0, 1, b'p', 0, 0, 0, 1, b'p', 0, 0, 0, 1,
            b't'
        ]
    );
}

// §0 rule 5 / §8.3 (authentication_milter#71, rspamd#6194): with LEADSPC the value is exactly
// what followed the colon; without it one space was removed and the raw line adds it back.
#[test]
fn rule5_leadspc_incoming_both_ways() {
    let mut m = Mta::postfix();
    m.step(mail("<a@b>"), ReplyOwed::Final);
    let Event::Header(h) = m.cmd(header("Subject", "  two spaces\n\tfolded")).event else {
        panic!()
    };
    assert_eq!(h.value, "  two spaces\n\tfolded");
    assert_eq!(h.raw_line(), b"Subject:  two spaces\n\tfolded");
    let Event::Header(h) = m.cmd(header("X-Tight", "x")).event else {
        panic!()
    };
    assert_eq!(h.raw_line(), b"X-Tight:x");

    let legacy = OptNeg {
        version: 6,
        actions: Actions::ALL,
        protocol: ProtocolFlags::from_bits(0x000F_FFFF), // everything but LEADSPC
    };
    let mut m = Mta::new(Wants::default(), legacy);
    assert!(!m.session.leadspc());
    m.step(mail("<a@b>"), ReplyOwed::Final);
    let Event::Header(h) = m.cmd(header("Subject", "hi")).event else {
        panic!()
    };
    assert_eq!(h.value, "hi");
    assert_eq!(h.raw_line(), b"Subject: hi");
}

// §0 rule 5 / §3.2 / OpenARC PR #40: outgoing values get the space only when LEADSPC is active.
#[test]
fn rule5_leadspc_outgoing_both_ways() {
    for (leadspc, expected) in [
        (true, &b"\0\0\0\0X-A\0 v\0"[..]),
        (false, &b"\0\0\0\0X-A\0v\0"[..]),
    ] {
        let offer = OptNeg {
            protocol: if leadspc {
                ProtocolFlags::ALL
            } else {
                ProtocolFlags::from_bits(0x000F_FFFF)
            },
            ..OptNeg::POSTFIX_V6
        };
        let mut m = Mta::new(Wants::default(), offer);
        m.step(mail("<a@b>"), ReplyOwed::Final);
        m.cmd(eom());
        m.send(&Response::InsHeader {
            index: 0,
            name: b("X-A"),
            value: b("v"),
        })
        .unwrap();
        assert_eq!(&m.out[..], &frame(b'i', expected)[..]);
    }
}

// §0 rule 6: body chunks pass through untouched, including a CR|LF split across chunks.
#[test]
fn rule6_crlf_split_across_body_chunks_passes_through() {
    let mut m = Mta::postfix();
    m.step(mail("<a@b>"), ReplyOwed::Final);
    let chunks = [&b"line one\r"[..], b"\nline two\r\n\r", b"\n", b"tail"];
    let mut seen = Vec::new();
    for c in chunks {
        let Event::Body(got) = m.cmd(Command::Body(Bytes::copy_from_slice(c))).event else {
            panic!()
        };
        assert_eq!(&got[..], c);
        seen.extend_from_slice(&got);
    }
    assert_eq!(seen, b"line one\r\nline two\r\n\r\ntail");
    assert_eq!(m.session.message().unwrap().body_bytes, seen.len() as u64);
    assert_eq!(m.session.message().unwrap().body_chunks, 4);
}

// §0 rule 7 / §8.1 (go-milter#11) / §8.14: many messages per connection; Postfix sends ABORT
// after every message, sometimes twice; ABORT is idempotent and keeps the connection state.
#[test]
fn rule7_many_messages_and_abort_after_each_and_twice() {
    let mut m = Mta::postfix();
    m.envelope();
    for n in 0..3u64 {
        if n > 0 {
            m.step(mail("<alice@example.org>"), ReplyOwed::Final);
            m.step(rcpt("<bob@example.net>"), ReplyOwed::Final);
        }
        m.cmd(header("From", " a@b"));
        m.cmd(eom());
        m.send(&Response::Continue).unwrap();
        assert!(m.session.message().is_none());
        assert_eq!(m.session.messages_completed(), n + 1);
        let s = m.cmd(Command::Abort);
        assert_eq!(s.event, Event::Abort { had_message: false });
        assert!(s.warnings.is_empty());
        if n % 2 == 0 {
            assert_eq!(
                m.cmd(Command::Abort).event,
                Event::Abort { had_message: false }
            );
        }
        assert!(
            m.session.connect_info().is_some(),
            "connection state survives ABORT"
        );
        assert_eq!(m.session.helo().unwrap(), "mail.example.org");
    }
    // RSET mid-transaction: the abort is real
    m.step(mail("<a@b>"), ReplyOwed::Final);
    assert_eq!(
        m.cmd(Command::Abort).event,
        Event::Abort { had_message: true }
    );
    assert_eq!(
        m.cmd(Command::Abort).event,
        Event::Abort { had_message: false }
    );
}

// §0 rule 8 / §8.6 (rspamd#1708, go-milter 8790ca6): empty MACRO packets, odd pairs and the
// Postfix stage letters L, B, U are accepted silently, also before OPTNEG.
#[test]
fn rule8_lenient_macros() {
    let mut session = Session::default();
    let mut dec = FrameDecoder::new();
    let mut wire = Vec::new();
    wire.extend(frame(b'D', b"C{early}\0yes\0"));
    wire.extend(frame(
        b'O',
        &[0, 0, 0, 6, 0, 0, 1, 0xFF, 0, 0x1F, 0xFF, 0xFF],
    ));
    wire.extend(frame(b'D', b"H"));
    wire.extend(frame(b'D', b"Mi\0Q1\0{auth_authen}\0"));
    wire.extend(frame(b'D', b"Li\0Q2\0"));
    wire.extend(frame(b'D', b"Bi\0Q3\0"));
    wire.extend(frame(b'D', b"U{u}\0x\0"));
    wire.extend(frame(b'D', b"\x7fodd"));
    let mut buf = BytesMut::from(&wire[..]);
    while let Some(cmd) = dec.decode(&mut buf).unwrap() {
        let step = session.handle(cmd).unwrap();
        assert!(step.warnings.is_empty(), "{:?}", step.warnings);
        if let Event::Negotiate { negotiated, .. } = step.event {
            session
                .send(&negotiated.reply(), &mut BytesMut::new())
                .unwrap();
        } else {
            assert_eq!(step.reply, ReplyOwed::None);
        }
    }
    assert_eq!(session.macro_value(b"early").unwrap(), "yes");
    assert_eq!(session.macro_value(b"{auth_authen}").unwrap(), "");
    assert_eq!(
        session.macro_value(b"i").unwrap(),
        "Q3",
        "B (end of data) is the latest stage"
    );
    assert!(
        session.macro_value(b"u").is_none(),
        "U macros are not stored"
    );
    assert!(session.macro_value(b"odd").is_none());
}

// §0 rule 9 / §8.9 (go-milter#29): version = min(mta, 6), actions and protocol ⊆ offer.
#[test]
fn rule9_negotiation_versions() {
    for (mta, ours) in [(2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 6), (255, 6)] {
        let mut s = Session::default();
        let step = s
            .handle(Command::OptNeg(OptNeg {
                version: mta,
                ..OptNeg::POSTFIX_V6
            }))
            .unwrap();
        let Event::Negotiate { negotiated, .. } = step.event else {
            panic!()
        };
        assert_eq!(negotiated.version, ours);
        assert!(OptNeg::POSTFIX_V6.actions.contains(negotiated.actions));
        assert!(OptNeg::POSTFIX_V6.protocol.contains(negotiated.protocol));
    }
    let mut s = Session::default();
    let err = s.handle(Command::OptNeg(OptNeg {
        version: 1,
        ..OptNeg::POSTFIX_V6
    }));
    assert_eq!(err, Err(ProtocolError::UnsupportedVersion(1)));
}

// §11.2 legacy MTA: v2 / 0x7F. No NR, no LEADSPC: a reply to every header and chunk.
#[test]
fn legacy_v2_replies_to_every_header_and_chunk() {
    let offer = OptNeg {
        version: 2,
        actions: Actions::V2,
        protocol: ProtocolFlags::V2,
    };
    let mut m = Mta::new(Wants::default(), offer);
    let n = m.session.negotiated().unwrap().clone();
    assert_eq!(n.version, 2);
    assert!(n.protocol.is_empty());
    assert_eq!(
        n.actions,
        Actions::ADDHDRS
            | Actions::CHGHDRS
            | Actions::QUARANTINE
            | Actions::ADDRCPT
            | Actions::DELRCPT
    );
    m.envelope();
    m.step(header("From", "a@b"), ReplyOwed::Final);
    m.step(header("To", "c@d"), ReplyOwed::Final);
    m.step(Command::Eoh, ReplyOwed::Final);
    m.step(Command::Body(b("x")), ReplyOwed::Final);
    m.step(Command::Body(b("y")), ReplyOwed::Final);
    m.cmd(eom());
    // CHGFROM was not negotiated at v2
    assert!(matches!(
        m.send(&Response::ChgFrom {
            from: b("<x@y>"),
            args: None
        }),
        Err(ProtocolError::NotNegotiated {
            action: "SMFIF_CHGFROM",
            ..
        })
    ));
    m.send(&add_ar()).unwrap();
    m.send(&Response::Continue).unwrap();
}

// §0 rule 10: EOF between frames is fine, EOF mid-frame is `Truncated`.
#[test]
fn rule10_eof_mid_frame() {
    let dec = FrameDecoder::new();
    assert_eq!(dec.finish(&BytesMut::new()), Ok(()));
    let wire = frame(b'M', b"<a@b>\0");
    let mut buf = BytesMut::from(&wire[..4]);
    let mut dec = FrameDecoder::new();
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert_eq!(
        dec.finish(&buf),
        Err(ProtocolError::Truncated { buffered: 4 })
    );
}

// §8.2 (go-milter 66cc0fb): CRLF in header values we send becomes bare LF.
#[test]
fn pitfall2_crlf_in_outgoing_header_values() {
    let mut m = Mta::postfix();
    m.step(mail("<a@b>"), ReplyOwed::Final);
    m.cmd(eom());
    m.send(&Response::InsHeader {
        index: 0,
        name: b("DKIM-Signature"),
        value: b("v=1;\r\n\tb=abc"),
    })
    .unwrap();
    assert_eq!(
        &m.out[..],
        &frame(b'i', b"\0\0\0\0DKIM-Signature\0 v=1;\n\tb=abc\0")[..]
    );
}

// §8.7 (go-milter PR #22): empty header values are kept and indexed.
#[test]
fn pitfall7_empty_header_values_are_kept() {
    let mut m = Mta::postfix();
    m.step(mail("<a@b>"), ReplyOwed::Final);
    let Event::Header(h) = m.cmd(header("Subject", "")).event else {
        panic!()
    };
    assert_eq!(h.value, "");
    assert_eq!(h.position, 0);
    assert_eq!(m.session.message().unwrap().header_count, 1);
}

// §8.8 / §3.3: CHGHEADER index is 1-based per name (case-insensitive); delete forged A-R from
// the highest index down, before our INSHEADER at 0.
#[test]
fn pitfall8_chgheader_and_insheader_index_rules() {
    let mut m = Mta::postfix();
    m.step(mail("<a@b>"), ReplyOwed::Final);
    // the application keeps the fields and their per-name indexes (message::Headers)
    let mut headers = message::Headers::new();
    for (name, value) in [
        ("Authentication-Results", " mx.example.net; spf=pass"),
        ("Received", " from x"),
        ("authentication-results", " other.example; dkim=pass"),
        ("AUTHENTICATION-RESULTS", " mx.example.net; dkim=pass"),
    ] {
        let Event::Header(h) = m.cmd(header(name, value)).event else {
            panic!()
        };
        headers.push(message::HeaderField::new(h.name.to_vec(), &h.value));
    }
    m.cmd(Command::Eoh);
    m.cmd(eom());
    let forged: Vec<u32> = headers
        .named("Authentication-Results")
        .filter(|(h, _)| h.value.starts_with(b" mx.example.net;"))
        .map(|(_, index)| index)
        .collect();
    assert_eq!(forged, vec![1, 3]);
    assert_eq!(headers.count("authentication-results"), 3);
    for r in Response::delete_headers(b"Authentication-Results", forged) {
        m.send(&r).unwrap();
    }
    m.send(&add_ar()).unwrap();
    m.send(&Response::Continue).unwrap();
    let mut expected = frame(b'm', b"\0\0\0\x03Authentication-Results\0\0");
    expected.extend(frame(b'm', b"\0\0\0\x01Authentication-Results\0\0"));
    expected.extend(frame(
        b'i',
        b"\0\0\0\0Authentication-Results\0 mx.example.net; spf=pass\0",
    ));
    expected.extend(frame(b'c', b""));
    assert_eq!(&m.out[..], &expected[..]);
}

// §8.10 (smf-spf#33): reply codes: class must match, '%' doubled, 4xx/5xx only.
#[test]
fn pitfall10_reply_code_formatting() {
    assert!(SmtpReply::new(550, Some("4.7.23"), "x").is_err());
    let r = SmtpReply::new(550, Some("5.7.23"), "100% fail").unwrap();
    let mut m = Mta::postfix();
    m.cmd(mail("<a@b>"));
    m.send(&Response::ReplyCode(r)).unwrap();
    assert_eq!(&m.out[..], &frame(b'y', b"550 5.7.23 100%% fail\0")[..]);
    assert!(
        m.session.message().unwrap().finished,
        "a rejected MAIL ends the message"
    );
    // the next MAIL after a reject is not "inside a message"
    let s = m.cmd(Command::Abort);
    assert_eq!(s.event, Event::Abort { had_message: true });
}

// §8.11: slow DNS at EOM: PROGRESS keeps the MTA waiting, then one final reply.
#[test]
fn pitfall11_progress_then_final() {
    let mut m = Mta::postfix();
    m.step(mail("<a@b>"), ReplyOwed::Final);
    m.cmd(eom());
    m.send(&Response::Progress).unwrap();
    m.send(&add_ar()).unwrap();
    m.send(&Response::Progress).unwrap();
    m.send(&Response::Accept).unwrap();
    illegal(m.send(&Response::Accept));
}

// §8.13 (purepythonmilter#14): empty SETSYMLIST lists are never sent.
#[test]
fn pitfall13_no_empty_symlists() {
    let wants = Wants {
        symlists: vec![
            SymList {
                stage: SymStage::CONNECT,
                macros: Bytes::new(),
            },
            SymList {
                stage: SymStage::ENVFROM,
                macros: b("{auth_authen}"),
            },
        ],
        ..Wants::default()
    };
    let mut s = Session::new(wants);
    let Event::Negotiate { negotiated, .. } =
        s.handle(Command::OptNeg(OptNeg::POSTFIX_V6)).unwrap().event
    else {
        panic!()
    };
    let mut out = BytesMut::new();
    s.send(&negotiated.reply(), &mut out).unwrap();
    let mut expected_payload = vec![0, 0, 0, 6, 0, 0, 1, 0xFD, 0, 0x1C, 0x01, 0x80, 0, 0, 0, 2];
    expected_payload.extend_from_slice(b"{auth_authen}\0");
    assert_eq!(&out[..], &frame(b'O', &expected_payload)[..]);
}

// §2.10: QUIT_NC resets connection state and macros but keeps the negotiated options;
