//! Harness functions shared by the cargo-fuzz targets and the stable seed-replay test
//! (the session must "never panic, never owe or send a reply except as the protocol says": docs/design/milter-protocol.md §0).
//!
//! These functions **panic on purpose** when an invariant is broken: that is how the fuzzer
//! reports a bug. They are not for production paths.

use bytes::{Bytes, BytesMut};

use crate::command::{Command, ConnectInfo, Envelope, Header};
use crate::error::ProtocolError;
use crate::frame::{Decoded, FrameDecoder};
use crate::macros::Macros;
use crate::negotiate::{OptNeg, SymList, Wants};
use crate::reply::SmtpReply;
use crate::response::Response;
use crate::session::{ReplyOwed, Session};
use crate::{Actions, CommandCode, Family, MacroStage, ProtocolFlags, SymStage};

/// Target `milter_frames`: arbitrary bytes → frames → commands and responses.
///
/// Checks that decoding the stream whole and in small pieces, also streaming body frames, gives
/// the same results, and that every decoded command and response survives encode → decode
/// unchanged.
pub fn frames(data: &[u8]) {
    let piece = usize::from(data.first().copied().unwrap_or(0) % 7) + 1;
    let whole = decode_commands(&[data]);
    let pieces: Vec<&[u8]> = data.chunks(piece).collect();
    assert_eq!(whole, decode_commands(&pieces), "split decoding differs");
    assert_eq!(whole, decode_streamed(&pieces), "streamed decoding differs");
    for cmd in whole.iter().filter_map(|r| r.as_ref().ok()) {
        let mut out = BytesMut::new();
        if let Command::Header(h) = cmd
            && h.value.contains(&0)
        {
            // The decoder keeps a NUL inside a header value (so the part before it is never
            // evaluated alone); our encoder, which writes C strings, refuses to send one.
            assert!(
                matches!(
                    cmd.encode(&mut out),
                    Err(ProtocolError::InvalidField {
                        field: "header value",
                        ..
                    })
                ),
                "a header value with a NUL must not be encoded"
            );
            continue;
        }
        cmd.encode(&mut out).expect("a decoded command re-encodes");
        let again = FrameDecoder::new().decode(&mut out).expect("re-decodes");
        assert_eq!(again.as_ref(), Some(cmd), "command round trip");
        assert!(out.is_empty());
    }
    for leadspc in [false, true] {
        let mut dec = FrameDecoder::with_max_payload(1 << 17);
        let mut buf = BytesMut::from(data);
        while let Ok(Some(resp)) = dec.decode_response(&mut buf, leadspc) {
            let mut out = BytesMut::new();
            if resp.encode(leadspc, &mut out).is_ok() {
                let mut d = FrameDecoder::with_max_payload(1 << 17);
                while !out.is_empty() {
                    d.decode_response(&mut out, leadspc)
                        .expect("our own encoding parses")
                        .expect("whole frames");
                }
            }
        }
    }
}

/// Target `milter_session`: arbitrary bytes → a sequence of commands and attempted responses.
///
/// Checks that the session never owes a reply the protocol forbids, never lets a forbidden
/// response through, and leaves state and output untouched when it refuses one.
pub fn session(data: &[u8]) {
    let mut u = Input(data);
    let cfg = u.byte();
    let mut wants = Wants::default();
    if cfg & 1 != 0 {
        wants.protocol = wants.protocol.difference(ProtocolFlags::ALL_NR) | ProtocolFlags::SKIP;
    }
    if cfg & 2 != 0 {
        wants.actions |= Actions::CHGBODY;
    }
    if cfg & 4 != 0 {
        wants.protocol = wants.protocol.difference(ProtocolFlags::HDR_LEADSPC);
    }
    if cfg & 8 != 0 {
        wants.symlists.push(SymList {
            stage: SymStage::ENVFROM,
            macros: Bytes::from_static(b"{auth_authen}"),
        });
    }
    let mut s = Session::new(wants);
    let mut out = BytesMut::new();
    let mut steps = 0u32;
    while !u.is_empty() && steps < 10_000 {
        steps += 1;
        match u.byte() % 8 {
            0..=3 => {
                let cmd = command(&mut u);
                feed(&mut s, cmd);
            }
            4 => {
                let code = u.byte();
                let len = usize::from(u.byte() % 64);
                let payload = Bytes::copy_from_slice(u.take(len));
                if let Ok(cmd) = Command::parse(code, payload) {
                    feed(&mut s, cmd);
                }
            }
            _ => {
                let resp = response(&mut u, &s);
                try_send(&mut s, &resp, &mut out);
                out.clear();
            }
        }
    }
}

fn decode_commands(pieces: &[&[u8]]) -> Vec<Result<Command, ProtocolError>> {
    let mut dec = FrameDecoder::with_max_payload(1 << 16);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for p in pieces {
        buf.extend_from_slice(p);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(c)) => out.push(Ok(c)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}

/// The stream given in `pieces` decoded through [`FrameDecoder::decode_streaming`] (payload cap
/// 64 KiB), each body frame's parts joined to the command that ends it: the same as decoding
/// whole frames.
pub fn decode_streamed(pieces: &[&[u8]]) -> Vec<Result<Command, ProtocolError>> {
    let mut dec = FrameDecoder::with_max_payload(1 << 16);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut parts = Vec::new();
    for p in pieces {
        buf.extend_from_slice(p);
        loop {
            match dec.decode_streaming(&mut buf) {
                Ok(Some(Decoded::BodyPart(part))) => parts.extend_from_slice(&part),
                Ok(Some(Decoded::Command(Command::Body(last)))) => {
                    parts.extend_from_slice(&last);
                    out.push(Ok(Command::Body(std::mem::take(&mut parts).into())));
                }
                Ok(Some(Decoded::Command(Command::BodyEob(last)))) => {
                    parts.extend_from_slice(&last);
                    out.push(Ok(Command::BodyEob(std::mem::take(&mut parts).into())));
                }
                Ok(Some(Decoded::Command(c))) => {
                    assert!(parts.is_empty(), "a command inside a body frame");
                    out.push(Ok(c));
                }
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}

fn feed(s: &mut Session, cmd: Command) {
    let code = cmd.code();
    let step = match s.handle(cmd) {
        Ok(step) => step,
        Err(e) => {
            assert_eq!(code, CommandCode::OptNeg, "only OPTNEG may fail: {e}");
            assert!(matches!(e, ProtocolError::UnsupportedVersion(v) if v < 2));
            return;
        }
    };
    let expected = match code {
        CommandCode::OptNeg => ReplyOwed::Negotiation,
        CommandCode::BodyEob => ReplyOwed::EndOfMessage,
        c if c.never_replied() => ReplyOwed::None,
        c if c
            .no_reply_flag()
            .is_some_and(|f| s.options().protocol.contains(f)) =>
        {
            ReplyOwed::None
        }
        _ => ReplyOwed::Final,
    };
    assert_eq!(step.reply, expected, "{code:?}");
    assert_eq!(s.reply_owed(), expected);
    if expected == ReplyOwed::None {
        for r in [Response::Continue, Response::Reject, Response::Progress] {
            assert!(s.check(&r).is_err(), "{r:?} allowed after {code:?}");
        }
    }
}

fn try_send(s: &mut Session, resp: &Response, out: &mut BytesMut) {
    let before = s.reply_owed();
    let len = out.len();
    match s.send(resp, out) {
        Err(_) => {
            assert_eq!(s.reply_owed(), before, "state changed on refusal");
            assert_eq!(out.len(), len, "bytes written on refusal");
        }
        Ok(()) => {
            assert_ne!(before, ReplyOwed::None, "sent {resp:?} with no reply owed");
            let code = resp.code();
            if code.is_modification() || code == crate::ResponseCode::Progress {
                assert_eq!(before, ReplyOwed::EndOfMessage, "{resp:?} outside EOM");
            }
            if let Some(a) = resp.required_action() {
                assert!(s.options().allows(a), "{resp:?} not negotiated");
            }
            if *resp == Response::Skip {
                assert_eq!(before, ReplyOwed::Final);
            }
            if code.is_final() || code == crate::ResponseCode::OptNeg {
                assert_eq!(s.reply_owed(), ReplyOwed::None, "still owed after final");
            }
            let mut dec = FrameDecoder::new();
            while !out.is_empty() {
                dec.decode_response(out, s.leadspc())
                    .expect("our output parses")
                    .expect("whole frames");
            }
        }
    }
}

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn text(&mut self) -> Bytes {
        const WORDS: [&str; 8] = [
            "",
            "<a@example.org>",
            "From",
            "Authentication-Results",
            " v\n\tw",
            "i",
            "{auth_authen}",
            "x\r\ny",
        ];
        let w = WORDS
            .get(usize::from(self.byte() % 8))
            .copied()
            .unwrap_or("");
        Bytes::from_static(w.as_bytes())
    }
}

fn command(u: &mut Input) -> Command {
    match u.byte() % 15 {
        0 => Command::OptNeg(OptNeg {
            version: u32::from(u.byte() % 8),
            actions: Actions::from_bits(u.u32()),
            protocol: ProtocolFlags::from_bits(u.u32()),
        }),
        1 => {
            let stage = MacroStage::from_u8(u.byte());
            let pairs: Vec<(Bytes, Bytes)> =
                (0..u.byte() % 3).map(|_| (u.text(), u.text())).collect();
            // a NUL in a name or value cannot be sent: such a packet is an empty one
            Command::Macro(Macros::new(stage, pairs).unwrap_or_else(|_| Macros::empty(stage)))
        }
        2 => Command::Connect(ConnectInfo {
            hostname: u.text(),
            family: Family::from_u8(u.byte()).unwrap_or(Family::Inet),
            port: 25,
            address: Bytes::from_static(b"192.0.2.1"),
        }),
        3 => Command::Helo(u.text()),
        4 => Command::Mail(Envelope::new(u.text(), vec![])),
        5 => Command::Rcpt(Envelope::new(u.text(), vec![])),
        6 => Command::Data,
        7 => Command::Header(Header {
            name: u.text(),
            value: u.text(),
        }),
        8 => Command::Eoh,
        9 => {
            let n = usize::from(u.byte() % 40);
            Command::Body(Bytes::copy_from_slice(u.take(n)))
        }
        10 => {
            let n = usize::from(u.byte() % 4);
            Command::BodyEob(Bytes::copy_from_slice(u.take(n)))
        }
        11 => Command::Abort,
        12 => Command::Quit,
        13 => Command::QuitNc,
        _ => Command::Unknown(u.text()),
    }
}

fn response(u: &mut Input, s: &Session) -> Response {
    let name = u.text();
    let value = u.text();
    match u.byte() % 19 {
        0 => Response::Continue,
        1 => Response::Accept,
        2 => Response::Reject,
        3 => Response::Tempfail,
        4 => Response::Discard,
        5 => match SmtpReply::new(550, Some("5.7.1"), "no %") {
            Ok(r) => Response::ReplyCode(r),
            Err(_) => Response::Reject,
        },
        6 => Response::AddHeader { name, value },
        7 => Response::InsHeader {
            index: u32::from(u.byte()),
            name,
            value,
        },
        8 => Response::ChgHeader {
            index: u32::from(u.byte()),
            name,
            value,
        },
        9 => Response::ChgFrom {
            from: name,
            args: None,
        },
        10 => Response::AddRcpt(name),
        11 => Response::AddRcptPar {
            rcpt: name,
            args: Some(value),
        },
        12 => Response::DelRcpt(name),
        13 => Response::ReplBody(value),
        14 => Response::Quarantine(value),
        15 => Response::Progress,
        16 => Response::Skip,
        17 => s.options().reply(),
        _ => Response::OptNeg {
            options: OptNeg::POSTFIX_V6,
            symlists: Vec::new(),
        },
    }
}
