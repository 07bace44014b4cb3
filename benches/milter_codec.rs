//! Benchmark milter_codec (divan): decoding a realistic Postfix message stream (server side)
//! and encoding/decoding typical end-of-message replies. Run: `cargo bench --bench milter_codec`.

use bytes::{Bytes, BytesMut};
use divan::{Bencher, black_box, counter::BytesCount};
use milter_proto::{
    Command, ConnectInfo, Envelope, Event, Family, FrameDecoder, Header, MacroStage, Macros,
    OptNeg, ReplyOwed, Response, Session,
};

fn main() {
    divan::main();
}

/// OPTNEG, connect/helo/mail/rcpt/data with macros, 15 headers (each with a Postfix `L` macro
/// packet), EOH, a 200 KB body in 65535-byte chunks (each with a `B` packet), EOM, ABORT.
fn postfix_stream() -> Vec<u8> {
    let mut cmds = vec![
        Command::OptNeg(OptNeg::POSTFIX_V6),
        macros(
            MacroStage::Connect,
            &[
                ("j", "mx.example.net"),
                ("{daemon_name}", "mx.example.net"),
                ("v", "Postfix 3.7.11"),
            ],
        ),
        Command::Connect(ConnectInfo {
            hostname: b("mail.example.org"),
            family: Family::Inet,
            port: 50000,
            address: b("192.0.2.10"),
        }),
        macros(MacroStage::Helo, &[]),
        Command::Helo(b("mail.example.org")),
        macros(
            MacroStage::Mail,
            &[
                ("{mail_addr}", "alice@example.org"),
                ("{auth_authen}", "alice"),
            ],
        ),
        Command::Mail(Envelope::new(
            b("<alice@example.org>"),
            vec![b("SIZE=204800"), b("BODY=8BITMIME")],
        )),
        macros(MacroStage::Rcpt, &[("{rcpt_addr}", "bob@example.net")]),
        Command::Rcpt(Envelope::new(b("<bob@example.net>"), vec![])),
        macros(MacroStage::Data, &[("i", "F2A1C3B0D9")]),
        Command::Data,
    ];
    let headers: [(&str, &str); 15] = [
        (
            "Received",
            " from mail.example.org (mail.example.org [192.0.2.10])\n\tby mx.example.net (Postfix) with ESMTPS id F2A1C3B0D9\n\tfor <bob@example.net>; Sun, 22 Nov 2026 10:00:00 +0000 (UTC)",
        ),
        (
            "DKIM-Signature",
            " v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\n\ts=s1; t=1795000000; h=from:to:subject:date:message-id;\n\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\n\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaGFzIGEgcmVhbGlzdGljIGxlbmd0aCBmb3IgYSAyMDQ4LWJpdCBSU0Ega2V5IGFuZCB0aGF0IGlzIGFsbCB3ZSBuZWVkIGhlcmU=",
        ),
        ("From", " Alice <alice@example.org>"),
        ("To", " Bob <bob@example.net>"),
        ("Subject", " Quarterly report"),
        ("Date", " Sun, 22 Nov 2026 10:00:00 +0000"),
        ("Message-ID", " <20261122100000.12345@example.org>"),
        ("MIME-Version", " 1.0"),
        ("Content-Type", " multipart/mixed; boundary=\"b1\""),
        (
            "Authentication-Results",
            " other.example; spf=pass smtp.mailfrom=example.org",
        ),
        (
            "ARC-Seal",
            " i=1; a=rsa-sha256; cv=none; d=example.org; s=arc; t=1795000000;\n\tb=c2VhbA==",
        ),
        ("List-Id", " <reports.example.org>"),
        ("X-Mailer", " ExampleMail 1.0"),
        ("Reply-To", " alice@example.org"),
        ("Cc", " carol@example.net"),
    ];
    for (n, v) in headers {
        cmds.push(macros(MacroStage::Header, &[("i", "F2A1C3B0D9")]));
        cmds.push(Command::Header(Header {
            name: b(n),
            value: b(v),
        }));
    }
    cmds.push(macros(MacroStage::Eoh, &[("i", "F2A1C3B0D9")]));
    cmds.push(Command::Eoh);
    let line =
        b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n";
    let body: Vec<u8> = line.iter().copied().cycle().take(200 * 1024).collect();
    for chunk in body.chunks(65535) {
        cmds.push(macros(MacroStage::Body, &[("i", "F2A1C3B0D9")]));
        cmds.push(Command::Body(Bytes::copy_from_slice(chunk)));
    }
    cmds.push(macros(MacroStage::Eom, &[("i", "F2A1C3B0D9")]));
    cmds.push(Command::BodyEob(Bytes::new()));
    cmds.push(Command::Abort);
    let mut out = BytesMut::new();
    for c in &cmds {
        c.encode(&mut out).expect("valid command");
    }
    out.to_vec()
}

/// Typical EOM answer: delete two forged A-R, insert A-R, ARC-Seal and DKIM-Signature, continue.
fn eom_replies() -> Vec<Response> {
    let mut r = Response::delete_headers(b"Authentication-Results", [1, 2]);
    r.push(Response::InsHeader {
        index: 0,
        name: b("DKIM-Signature"),
        value: b("v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=s1;\n\tt=1795000000; h=from:to:subject:date:message-id;\n\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\n\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaGFzIGEgcmVhbGlzdGljIGxlbmd0aA=="),
    });
    r.push(Response::InsHeader {
        index: 0,
        name: b("Authentication-Results"),
        value: b("mx.example.net;\n\tspf=pass smtp.mailfrom=example.org;\n\tdkim=pass header.d=example.org header.s=s1;\n\tdmarc=pass header.from=example.org;\n\tiprev=pass policy.iprev=192.0.2.10"),
    });
    r.push(Response::Continue);
    r
}

#[divan::bench]
fn decode_postfix_message(bencher: Bencher) {
    let wire = postfix_stream();
    bencher.counter(BytesCount::new(wire.len())).bench(|| {
        let mut buf = BytesMut::from(&wire[..]);
        let mut dec = FrameDecoder::new();
        let mut n = 0usize;
        while let Some(cmd) = dec.decode(&mut buf).expect("valid stream") {
            black_box(&cmd);
            n += 1;
        }
        n
    });
}

#[divan::bench]
fn decode_postfix_message_16k_reads(bencher: Bencher) {
    let wire = postfix_stream();
    bencher.counter(BytesCount::new(wire.len())).bench(|| {
        let mut buf = BytesMut::new();
        let mut dec = FrameDecoder::new();
        let mut n = 0usize;
        for piece in wire.chunks(16 * 1024) {
            buf.extend_from_slice(piece);
            while let Some(cmd) = dec.decode(&mut buf).expect("valid stream") {
                black_box(&cmd);
                n += 1;
            }
        }
        n
    });
}

#[divan::bench]
fn session_postfix_message(bencher: Bencher) {
    let wire = postfix_stream();
    let replies = eom_replies();
    bencher.counter(BytesCount::new(wire.len())).bench(|| {
        let mut buf = BytesMut::from(&wire[..]);
        let mut dec = FrameDecoder::new();
        let mut session = Session::default();
        let mut out = BytesMut::new();
        while let Some(cmd) = dec.decode(&mut buf).expect("valid stream") {
            let step = session.handle(cmd).expect("valid session");
            match (&step.event, step.reply) {
                (Event::Negotiate { negotiated, .. }, _) => {
                    session.send(&negotiated.reply(), &mut out)
                }
                (_, ReplyOwed::EndOfMessage) => {
                    replies.iter().try_for_each(|r| session.send(r, &mut out))
                }
                (_, ReplyOwed::Final) => session.send(&Response::Continue, &mut out),
                _ => Ok(()),
            }
            .expect("legal replies");
        }
        out.len()
    });
}

#[divan::bench]
fn encode_eom_replies(bencher: Bencher) {
    let replies = eom_replies();
    bencher.bench(|| {
        let mut out = BytesMut::with_capacity(1024);
        for r in &replies {
            r.encode(true, &mut out).expect("valid");
        }
        out
    });
}

#[divan::bench]
fn decode_eom_replies_client_side(bencher: Bencher) {
    let mut wire = BytesMut::new();
    for r in eom_replies() {
        r.encode(true, &mut wire).expect("valid");
    }
    let wire = wire.freeze();
    bencher.bench(|| {
        let mut buf = BytesMut::from(&wire[..]);
        let mut dec = FrameDecoder::new();
        let mut n = 0usize;
        while let Some(r) = dec.decode_response(&mut buf, true).expect("valid") {
            black_box(&r);
            n += 1;
        }
        n
    });
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn macros(stage: MacroStage, pairs: &[(&'static str, &'static str)]) -> Command {
    Command::Macro(Macros::new(stage, pairs.iter().copied()).expect("no NUL in test macros"))
}
