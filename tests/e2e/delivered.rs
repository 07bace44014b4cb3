//! The message as the MTA finally delivers it: our responses applied to the header list the
//! way Postfix applies them (docs/milter-protocol.md "Header changes"; Postfix hides its own
//! Received from milters, CHGHEADER counts per name over the headers the milter was shown and
//! unlinks, INSHEADER counts over all headers, its own Received included), then every
//! signature and seal we added is verified on that message.

use milter_proto::Response;

use crate::arc_pipeline::{run, world};

/// One header field of the queue file: its line(s) with CRLF, and whether Postfix hid it
/// from the milter (its own Received).
struct Field {
    name: String,
    text: Vec<u8>,
    hidden: bool,
}

/// `raw` as Postfix delivers it after the milter's `modifications` (module docs).
fn apply_as_postfix(raw: &[u8], received: &str, modifications: &[Response]) -> Vec<u8> {
    let parsed = message::parse_message(raw);
    let mut fields: Vec<Field> = vec![Field {
        name: "Received".into(),
        text: format!("Received: {received}\r\n").into_bytes(),
        hidden: true,
    }];
    for h in parsed.headers.iter() {
        let mut text = h.name.clone();
        text.push(b':');
        text.extend_from_slice(&h.value);
        text.extend_from_slice(b"\r\n");
        fields.push(Field {
            name: String::from_utf8_lossy(h.canonical_name()).into_owned(),
            text,
            hidden: false,
        });
    }
    let line = |name: &[u8], value: &[u8]| {
        let mut t = name.to_vec();
        t.extend_from_slice(b": ");
        t.extend_from_slice(&message::lf_to_crlf(value));
        t.extend_from_slice(b"\r\n");
        Field {
            name: String::from_utf8_lossy(name).into_owned(),
            text: t,
            hidden: false,
        }
    };
    for m in modifications {
        match m {
            Response::ChgHeader { index, name, value } => {
                assert!(value.is_empty(), "we only delete: {m:?}");
                let wanted = (*index).max(1) as usize;
                let name = String::from_utf8_lossy(name);
                let at = fields
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| !f.hidden && f.name.eq_ignore_ascii_case(&name))
                    .nth(wanted - 1)
                    .map(|(i, _)| i);
                if let Some(i) = at {
                    fields.remove(i);
                }
            }
            Response::InsHeader { index, name, value } => {
                let at = (*index as usize).min(fields.len());
                fields.insert(at, line(name, value));
            }
            Response::AddHeader { name, value } => fields.push(line(name, value)),
            _ => {}
        }
    }
    let mut out: Vec<u8> = fields.into_iter().flat_map(|f| f.text).collect();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&parsed.body);
    out
}

/// A forwarder that signs and seals a message carrying forged Authentication-Results of our
/// authserv-id in several spellings and places, between other hosts' fields: in the message
/// Postfix delivers exactly the forged fields are gone, ours is the only one with our id, our
/// headers are on top in the documented order, and our DKIM signature and the two-set ARC
/// chain verify (RFC 8601 §5, RFC 8617 §4.1, §5.1).
#[tokio::test(flavor = "multi_thread")]
async fn signed_and_sealed_message_as_postfix_delivers_it() {
    let w = world().await;
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"forward\"\n\
         [arc]\nseal = true\ntrusted_sealers = [\"lists.example\"]\n\
         [dkim]\nkey_check_interval = \"0s\"\n\
         [[dkim.key]]\nname = \"fwd\"\ndomain = \"fwd.example\"\nselector = \"f\"\npath = \"{}\"\n\
         [[dkim.signing]]\nfrom = \"*\"\nkeys = [\"fwd\"]\n",
        w.forwarder_key.display()
    );
    let top = "AUTHENTICATION-RESULTS: MX.TEST.EXAMPLE; dmarc=pass header.from=author.example\r\n\
               Authentication-Results: other.example; spf=pass smtp.mailfrom=lists.example\r\n\
               authentication-results: mx.test.example;\r\n\tarc=pass\r\n\
               Authentication-Results: other.example (2); dkim=pass header.d=author.example\r\n";
    let end = w
        .forwarded
        .windows(4)
        .position(|x| x == b"\r\n\r\n")
        .expect("header end")
        + 2;
    let mut raw = top.as_bytes().to_vec();
    raw.extend_from_slice(&w.forwarded[..end]);
    raw.extend_from_slice(
        b"Authentication-Results: mx.test.example; dkim=pass header.d=author.example\r\n\
          Authentication-Results: other.example (3); none\r\n",
    );
    raw.extend_from_slice(&w.forwarded[end..]);

    let r = run(&toml, &w.zone, &raw).await;
    assert!(r.out.is_accept(), "{:?}", r.out);
    let delivered = apply_as_postfix(
        &raw,
        "from mail.lists.example (mail.lists.example [192.0.2.50])\r\n\tby mx.test.example (Postfix) with ESMTP id F2A1C3B0D9",
        &r.out.modifications,
    );
    let parsed = message::parse_message(&delivered);
    let names: Vec<String> = parsed
        .headers
        .iter()
        .take(6)
        .map(|h| String::from_utf8_lossy(&h.name).into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "ARC-Seal",
            "ARC-Message-Signature",
            "ARC-Authentication-Results",
            "DKIM-Signature",
            "Authentication-Results",
            "Received"
        ]
    );
    let ours: Vec<String> = parsed
        .headers
        .named("authentication-results")
        .map(|(h, _)| String::from_utf8_lossy(&h.value).trim().to_string())
        .collect();
    assert_eq!(ours.len(), 4, "{ours:#?}");
    assert!(ours[0].starts_with("mx.test.example;"), "{ours:#?}");
    assert!(ours[1].starts_with("other.example;"), "{ours:#?}");
    assert!(ours[2].starts_with("other.example (2);"), "{ours:#?}");
    assert!(ours[3].starts_with("other.example (3);"), "{ours:#?}");

    let resolver = dns::memory::MemoryResolver::from_zone(&w.zone).expect("zone");
    let chain = arc::verify_message(
        &arc::Verifier::default(),
        &resolver,
        &delivered,
        dkim::unix_now(),
    )
    .await;
    assert_eq!(chain.result, arc::ChainStatus::Pass, "{chain:?}");
    assert_eq!(chain.instances, 2);
    let sigs = dkim::verify_message(
        &dkim::Verifier::default(),
        &resolver,
        &delivered,
        dkim::unix_now(),
    )
    .await;
    let ours = sigs
        .iter()
        .find(|s| s.domain == "fwd.example")
        .expect("our signature");
    assert_eq!(ours.result, dkim::DkimResult::Pass, "{sigs:?}");
    if let Ok(dir) = std::env::var("AUTHMILTER_DELIVERED_DIR") {
        // for a look with other verifiers (dkimpy): the message and the zone
        std::fs::write(format!("{dir}/delivered.eml"), &delivered).expect("write");
        std::fs::write(format!("{dir}/zone.txt"), &w.zone).expect("write");
    }
}

/// A client's 1,500-character HELO name and MAIL FROM domain (Postfix takes SMTP lines up to
/// 2048 octets): no line of a header we add is longer than 998 octets (RFC 5322 §2.1.1).
/// Postfix's SMTP client breaks a longer line by inserting CRLF SP (smtp_line_length_limit),
/// which splits the value for every reader and, in an ARC-Authentication-Results we seal,
/// changes what the ARC-Seal covers.
#[tokio::test(flavor = "multi_thread")]
async fn no_line_we_add_is_longer_than_998_octets() {
    use crate::support::{LISTEN_VERIFY, Milter, message};
    let toml = format!("{LISTEN_VERIFY}\n[spf]\nreceived_spf_header = true\n");
    let m = Milter::start(&toml, "").await;
    let mut mta = m.postfix().await;
    let helo = format!("{}.example", "h".repeat(1500));
    mta.connect("client.example", "192.0.2.10".parse().expect("ip"), 1, &[])
        .await
        .expect("connect");
    mta.helo(&helo, &[]).await.expect("helo");
    for sender in [
        format!("<{}@example.org>", "l".repeat(1500)),
        format!("<a@{}.example>", "d".repeat(1500)),
        format!("<a@{}>", ["sub"; 400].join(".")),
    ] {
        mta.mail(&sender, &[], &[]).await.expect("mail");
        mta.rcpt("<bob@example.net>", &[], &[]).await.expect("rcpt");
        let raw = message(&[&format!("From: {sender}"), "Subject: x", "", "b"]);
        let out = mta.send_message(&raw).await.expect("message");
        assert!(out.is_accept(), "{out:?}");
        assert!(!out.added_headers().is_empty());
        for (_, name, value) in out.added_headers() {
            for line in value.split(|&b| b == b'\n') {
                // the first line follows `Name: `
                assert!(
                    name.len() + 2 + line.len() <= 998,
                    "{}: a line of {} octets: {}",
                    String::from_utf8_lossy(name),
                    line.len(),
                    String::from_utf8_lossy(line)
                );
            }
        }
    }
    m.stop().await;
}
