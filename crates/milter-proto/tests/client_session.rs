//! The sans-IO MTA side (`milter_proto::client`): what it encodes for each step, what it waits
//! for, and how it judges replies, as Postfix does (docs/design/milter-protocol.md §2, §11).

use bytes::BytesMut;
use milter_proto::client::{Awaiting, ClientSession, Profile, Reply, ReplyStep};
use milter_proto::{
    Actions, Command, CommandCode, FrameDecoder, OptNeg, ProtocolError, ProtocolFlags, Response,
};

fn decode_all(out: &mut BytesMut) -> Vec<Command> {
    let mut d = FrameDecoder::new();
    let mut cmds = Vec::new();
    while let Some(c) = d.decode(out).unwrap() {
        cmds.push(c);
    }
    assert!(out.is_empty());
    cmds
}

fn negotiated(protocol: ProtocolFlags) -> ClientSession {
    let mut s = ClientSession::new(Profile::postfix());
    let mut out = BytesMut::new();
    let aw = s.negotiate(&mut out).unwrap();
    assert!(matches!(
        aw,
        Awaiting::Reply {
            command: CommandCode::OptNeg,
            ..
        }
    ));
    assert!(matches!(decode_all(&mut out)[..], [Command::OptNeg(o)] if o == OptNeg::POSTFIX_V6));
    let reply = Response::OptNeg {
        options: OptNeg {
            version: 6,
            actions: Actions::ALL,
            protocol,
        },
        symlists: Vec::new(),
    };
    s.accept_negotiation(reply).unwrap();
    s
}

/// What `milter8.c` refuses (a version above its offer, actions it did not offer) Postfix
/// refuses; a lower version and protocol bits it did not offer it takes (the bits dropped).
/// Sendmail refuses those too.
#[test]
fn negotiation_is_checked_as_each_mta_checks_it() {
    let reply = |version, protocol: u32| Response::OptNeg {
        options: OptNeg {
            version,
            actions: Actions::ALL,
            protocol: ProtocolFlags::from_bits(protocol),
        },
        symlists: Vec::new(),
    };
    let mut s = ClientSession::new(Profile::postfix());
    let agreed = s.accept_negotiation(reply(6, 0x0020_0000 | 0x2)).unwrap();
    assert_eq!(agreed.protocol, ProtocolFlags::from_bits(0x2));
    let mut s = ClientSession::new(Profile::postfix());
    assert!(s.accept_negotiation(reply(1, 0)).is_ok());
    for (version, protocol, why) in [
        (1, 0, "version outside 2..=offered"),
        (6, 0x0020_0000, "protocol bits not offered"),
    ] {
        let mut s = ClientSession::new(Profile::sendmail());
        assert_eq!(
            s.accept_negotiation(reply(version, protocol)),
            Err(ProtocolError::NegotiationRefused(why))
        );
    }
}

#[test]
fn negotiation_replies_an_mta_refuses_are_errors() {
    let mut s = ClientSession::new(Profile::postfix());
    let reply = Response::OptNeg {
        options: OptNeg {
            version: 7,
            actions: Actions::ALL,
            protocol: ProtocolFlags::default(),
        },
        symlists: Vec::new(),
    };
    assert_eq!(
        s.accept_negotiation(reply),
        Err(ProtocolError::NegotiationRefused(
            "version outside 2..=offered"
        ))
    );
    let mut s = ClientSession::new(Profile::postfix());
    assert!(matches!(
        s.accept_negotiation(Response::Continue),
        Err(ProtocolError::UnexpectedResponse { .. })
    ));
}

#[test]
fn postfix_sends_macros_with_each_header_and_strips_the_leading_space() {
    let mut s = negotiated(ProtocolFlags::default());
    let mut out = BytesMut::new();
    let aw = s.header(b"Subject", b" hello", &mut out).unwrap();
    assert!(matches!(
        aw,
        Awaiting::Reply {
            command: CommandCode::Header,
            ..
        }
    ));
    let cmds = decode_all(&mut out);
    assert_eq!(
        cmds.len(),
        2,
        "an L macro packet, then the header: {cmds:?}"
    );
    match &cmds[1] {
        Command::Header(h) => {
            assert_eq!(&h.name[..], b"Subject");
            assert_eq!(&h.value[..], b"hello");
        }
        other => panic!("{other:?}"),
    }
    // With HDR_LEADSPC the value goes as it is.
    let mut s = negotiated(ProtocolFlags::HDR_LEADSPC);
    s.header(b"Subject", b" hello", &mut out).unwrap();
    assert!(matches!(&decode_all(&mut out)[1], Command::Header(h) if &h.value[..] == b" hello"));
}

#[test]
fn negotiated_bits_decide_what_is_sent_and_awaited() {
    let mut s = negotiated(ProtocolFlags::NR_HDR);
    let mut out = BytesMut::new();
    assert_eq!(s.header(b"A", b" b", &mut out).unwrap(), Awaiting::NoReply);
    let mut s = negotiated(ProtocolFlags::NOHDRS);
    out.clear();
    assert_eq!(s.header(b"A", b" b", &mut out).unwrap(), Awaiting::NotSent);
    assert!(out.is_empty(), "neither the header nor its macros are sent");
}

#[test]
fn replies_are_judged_as_postfix_would() {
    let s = negotiated(ProtocolFlags::default());
    assert_eq!(
        s.on_reply(CommandCode::Rcpt, Response::Progress).unwrap(),
        ReplyStep::Wait
    );
    assert_eq!(
        s.on_reply(CommandCode::Rcpt, Response::Reject).unwrap(),
        ReplyStep::Done(Reply::Response(Response::Reject))
    );
    assert!(
        s.on_reply(CommandCode::Header, Response::Skip).is_err(),
        "SKIP not negotiated"
    );
    let mut outcome = ClientSession::new_eom_outcome();
    let add = Response::AddHeader {
        name: "X-A".into(),
        value: "b".into(),
    };
    assert!(!s.on_eom_reply(&mut outcome, add).unwrap());
    assert!(s.on_eom_reply(&mut outcome, Response::Accept).unwrap());
    assert_eq!(outcome.modifications.len(), 1);
    assert!(outcome.is_accept());
}

#[test]
fn postfix_aborts_once_then_twice_after_messages() {
    let mut s = negotiated(ProtocolFlags::default());
    let mut out = BytesMut::new();
    s.finish_message(&mut out).unwrap();
    assert!(matches!(decode_all(&mut out)[..], [Command::Abort]));
    s.finish_message(&mut out).unwrap();
    assert!(matches!(
        decode_all(&mut out)[..],
        [Command::Abort, Command::Abort]
    ));
    assert_eq!(s.messages_finished(), 2);
}

/// SETSYMLIST (§3.9): Postfix sends, for a stage the milter listed, exactly the listed macros
/// it has values for (client details included), in place of its default list; other stages
/// keep the defaults.
#[test]
fn a_setsymlist_list_replaces_the_stage_macros() {
    use milter_proto::{SymList, SymStage};
    let mut s = ClientSession::new(Profile::postfix());
    let mut out = BytesMut::new();
    s.negotiate(&mut out).unwrap();
    out.clear();
    s.accept_negotiation(Response::OptNeg {
        options: OptNeg {
            version: 6,
            actions: Actions::ALL,
            protocol: ProtocolFlags::default(),
        },
        symlists: vec![
            SymList {
                stage: SymStage::CONNECT,
                macros: bytes::Bytes::from_static(b"{client_addr} j {no_such} {client_ptr}"),
            },
            SymList {
                stage: SymStage::ENVFROM,
                macros: bytes::Bytes::from_static(b"{mail_host} {auth_authen}"),
            },
        ],
    })
    .unwrap();
    let names = |cmds: &[Command]| -> Vec<String> {
        match cmds.first() {
            Some(Command::Macro(m)) => m
                .pairs()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        String::from_utf8_lossy(k),
                        String::from_utf8_lossy(v)
                    )
                })
                .collect(),
            other => panic!("{other:?}"),
        }
    };
    s.connect(
        "mail.example.org",
        "192.0.2.10".parse().unwrap(),
        4000,
        &[],
        &mut out,
    )
    .unwrap();
    assert_eq!(
        names(&decode_all(&mut out)),
        [
            "{client_addr}=192.0.2.10",
            "j=mx.example.net",
            "{client_ptr}=mail.example.org"
        ]
    );
    s.helo("mail.example.org", &[], &mut out).unwrap();
    out.clear();
    s.mail(
        "<a@example.org>",
        &[],
        &[("{auth_authen}", "alice")],
        &mut out,
    )
    .unwrap();
    assert_eq!(
        names(&decode_all(&mut out)),
        ["{mail_host}=example.org", "{auth_authen}=alice"]
    );
}
