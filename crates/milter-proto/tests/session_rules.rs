//! Session rules beyond the pitfall list: SKIP, actions, REPLBODY, DISCARD, out-of-order input,
//! QUIT_NC, BODYEOB data, UNKNOWN (docs/design/milter-protocol.md §2–§4).

mod common;

use bytes::BytesMut;
use common::b;
use common::mta::*;
use milter_proto::{
    Actions, Command, CommandCode, Event, MacroStage, OptNeg, ProtocolError, ProtocolFlags,
    ReplyOwed, Response, Session, Wants, Warning,
};

// §3.8: SKIP only as the reply to BODY, and only when negotiated (never with NR_BODY).
#[test]
fn skip_only_as_reply_to_body_when_negotiated() {
    let mut m = Mta::postfix();
    m.step(mail("<a@b>"), ReplyOwed::Final);
    assert_eq!(m.cmd(Command::Body(b("x"))).reply, ReplyOwed::None);
    illegal(m.send(&Response::Skip));

    let wants = Wants {
        protocol: ProtocolFlags::SKIP | ProtocolFlags::HDR_LEADSPC,
        ..Wants::default()
    };
    let mut m = Mta::new(wants, OptNeg::POSTFIX_V6);
    m.cmd(mail("<a@b>"));
    illegal(m.send(&Response::Skip));
    m.send(&Response::Continue).unwrap();
    assert_eq!(m.cmd(Command::Body(b("x"))).reply, ReplyOwed::Final);
    m.send(&Response::Skip).unwrap();
    assert_eq!(m.cmd(eom()).reply, ReplyOwed::EndOfMessage);
    illegal(m.send(&Response::Skip));

    let wants = Wants {
        protocol: ProtocolFlags::HDR_LEADSPC,
        ..Wants::default()
    };
    let mut m = Mta::new(wants, OptNeg::POSTFIX_V6);
    m.step(mail("<a@b>"), ReplyOwed::Final);
    m.cmd(Command::Body(b("x")));
    assert!(matches!(
        m.send(&Response::Skip),
        Err(ProtocolError::NotNegotiated {
            action: "SMFIP_SKIP",
            ..
        })
    ));
}

// §2.2: actions that were not negotiated are refused (CHGBODY is never requested by default).
#[test]
fn not_negotiated_actions_are_refused() {
    let mut m = Mta::postfix();
    m.step(mail("<a@b>"), ReplyOwed::Final);
    m.cmd(eom());
    assert!(matches!(
        m.send(&Response::ReplBody(b("x"))),
        Err(ProtocolError::NotNegotiated {
            action: "SMFIF_CHGBODY",
            ..
        })
    ));
    m.send(&Response::AddRcptPar {
        rcpt: b("<x@y>"),
        args: None,
    })
    .unwrap();
    m.send(&Response::DelRcpt(b("<a@b>"))).unwrap();
}

// §3.7: REPLBODY packets must be consecutive (Postfix).
#[test]
fn replbody_packets_must_be_consecutive() {
    let wants = Wants {
        actions: Actions::CHGBODY | Actions::ADDHDRS,
        ..Wants::default()
    };
    let mut m = Mta::new(wants, OptNeg::POSTFIX_V6);
    m.step(mail("<a@b>"), ReplyOwed::Final);
    m.cmd(eom());
    m.send(&Response::ReplBody(b("a"))).unwrap();
    m.send(&Response::ReplBody(b("b"))).unwrap();
    m.send(&add_ar()).unwrap();
    illegal(m.send(&Response::ReplBody(b("c"))));
}

// §3: DISCARD is for messages; the OPTNEG reply must match the negotiation.
#[test]
fn discard_outside_a_message_and_foreign_optneg_are_refused() {
    let mut s = Session::default();
    s.handle(Command::OptNeg(OptNeg::POSTFIX_V6)).unwrap();
    let bogus = Response::OptNeg {
        options: OptNeg::POSTFIX_V6,
        symlists: vec![],
    };
    illegal(s.send(&bogus, &mut BytesMut::new()));
    let reply = s.negotiated().unwrap().reply();
    s.send(&reply, &mut BytesMut::new()).unwrap();
    illegal(s.send(&reply, &mut BytesMut::new()));
    s.handle(connect()).unwrap();
    illegal(s.send(&Response::Discard, &mut BytesMut::new()));
    s.send(&Response::Continue, &mut BytesMut::new()).unwrap();
    s.handle(mail("<a@b>")).unwrap();
    s.send(&Response::Discard, &mut BytesMut::new()).unwrap();
}

// §4.2: out-of-order commands are handled best-effort, get their reply, and carry a warning.
#[test]
fn out_of_order_commands_get_replies_and_warnings() {
    let mut m = Mta::postfix();
    m.step(connect(), ReplyOwed::Final);
    // HEADER without MAIL: a message without envelope
    let s = m.cmd(header("From", " a@b"));
    assert_eq!(s.warnings, vec![Warning::NoMessage(CommandCode::Header)]);
    assert!(m.session.message().unwrap().sender.is_none());
    // MAIL while a message is open: implicit abort + new message
    let s = m.step(mail("<a@b>"), ReplyOwed::Final);
    assert_eq!(s.warnings, vec![Warning::MailInsideMessage]);
    assert_eq!(m.session.message().unwrap().header_count, 0);
    // MAIL twice
    let s = m.step(mail("<c@d>"), ReplyOwed::Final);
    assert_eq!(s.warnings, vec![Warning::MailInsideMessage]);
    // HELO inside a message ends it
    let s = m.step(Command::Helo(b("again")), ReplyOwed::Final);
    assert_eq!(s.warnings, vec![Warning::HeloInsideMessage]);
    assert!(m.session.message().is_none());
    // RCPT without MAIL
    let s = m.step(rcpt("<x@y>"), ReplyOwed::Final);
    assert_eq!(s.warnings, vec![Warning::NoMessage(CommandCode::Rcpt)]);
    // empty header name
    let s = m.cmd(header("", "x"));
    assert_eq!(s.warnings, vec![Warning::EmptyHeaderName]);
    // a forgotten reply is reported on the next command
    m.cmd(connect());
    let s = m.cmd(Command::Abort);
    assert_eq!(
        s.warnings,
        vec![Warning::ReplyNotSent(CommandCode::Connect)]
    );
    illegal(m.send(&Response::Continue));
}

// §4.2: commands before OPTNEG are answered with v2 rules; a second OPTNEG renegotiates.
#[test]
fn before_negotiation_and_renegotiation() {
    let mut s = Session::default();
    let step = s.handle(header("From", " a@b")).unwrap();
    assert_eq!(step.reply, ReplyOwed::Final);
    assert!(step.warnings.contains(&Warning::BeforeNegotiation));
    s.send(&Response::Continue, &mut BytesMut::new()).unwrap();
    s.handle(Command::OptNeg(OptNeg::POSTFIX_V6)).unwrap();
    s.send(&s.negotiated().unwrap().reply(), &mut BytesMut::new())
        .unwrap();
    let step = s.handle(Command::OptNeg(OptNeg::POSTFIX_V6)).unwrap();
    assert_eq!(step.warnings, vec![Warning::Renegotiation]);
    assert!(s.message().is_none());
}

// CONNECT follows without a warning. A CONNECT without it warns.
#[test]
fn quit_nc_keeps_negotiation() {
    let mut m = Mta::postfix();
    m.cmd(macros(MacroStage::Connect, &[("j", "mx")]));
    m.envelope();
    let s = m.cmd(Command::QuitNc);
    assert_eq!(s.event, Event::QuitNewConnection);
    assert!(m.session.connect_info().is_none());
    assert!(m.session.macro_value(b"j").is_none());
    assert!(m.session.message().is_none());
    assert!(m.session.negotiated().is_some());
    assert!(!m.session.is_closed());
    let s = m.step(connect(), ReplyOwed::Final);
    assert!(s.warnings.is_empty());
    let s = m.step(connect(), ReplyOwed::Final);
    assert_eq!(s.warnings, vec![Warning::ConnectWhileConnected]);
    m.cmd(Command::Quit);
    assert!(m.session.is_closed());
    assert!(m.session.connect_info().is_none());
}

// §2.8: data carried by BODYEOB is a last body chunk.
#[test]
fn bodyeob_data_is_a_last_chunk() {
    let mut m = Mta::postfix();
    m.step(mail("<a@b>"), ReplyOwed::Final);
    let s = m.cmd(Command::BodyEob(b("tail")));
    assert_eq!(
        s.event,
        Event::EndOfMessage {
            last_chunk: Some(b("tail"))
        }
    );
    assert_eq!(m.session.message().unwrap().body_bytes, 4);
}

// §2.8: a body frame handed out in parts (FrameDecoder::decode_streaming) counts as one chunk
// of all its bytes, its reply owed once, after the frame's command.
#[test]
fn streamed_body_parts_count_as_one_chunk() {
    let mut m = Mta::postfix();
    m.step(mail("<a@b>"), ReplyOwed::Final);
    assert!(m.session.body_part(b"abc").is_empty());
    assert!(m.session.body_part(b"de").is_empty());
    assert_eq!(m.session.reply_owed(), ReplyOwed::None);
    m.cmd(Command::Body(b("f")));
    let msg = m.session.message().unwrap();
    assert_eq!((msg.body_bytes, msg.body_chunks), (6, 1));
    // without MAIL, the first part opens the message, as the BODY command would have
    let mut m = Mta::postfix();
    assert_eq!(
        m.session.body_part(b"x"),
        vec![Warning::NoMessage(CommandCode::Body)]
    );
    assert!(m.cmd(Command::Body(b("y"))).warnings.is_empty());
    assert_eq!(m.session.message().unwrap().body_bytes, 2);
}

// §2.9: UNKNOWN gets a reply (unless NR_UNKN) and does not disturb the message or macros.
#[test]
fn unknown_does_not_disturb_state() {
    let mut m = Mta::postfix();
    m.cmd(macros(MacroStage::Mail, &[("{auth_authen}", "alice")]));
    m.step(mail("<a@b>"), ReplyOwed::Final);
    m.step(Command::Unknown(b("XYZZY")), ReplyOwed::Final);
    assert!(m.session.message().is_some());
    assert_eq!(m.session.macro_value(b"auth_authen").unwrap(), "alice");
}
