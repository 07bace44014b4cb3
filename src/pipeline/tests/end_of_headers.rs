//! The header checks and the body: a body that arrives without SMFIC_EOH before it (an MTA
//! out of order, or one sending NOEOH unasked) must still be hashed whole for every
//! signature (RFC 6376 §3.7; the milter protocol's EOH is the only boundary we have).

use std::sync::Arc;

use super::{ClientInfo, MessagePipeline, StageMacros};
use crate::app::App;
use crate::config::{Config, Role};
use crate::services::Services;

/// A signed message's headers, then its body in two chunks with no end of headers between:
/// the signature passes (it was `temperror`, "body hash did not verify": the body hashes were
/// asked for only at end of message, after the body had gone by).
#[test]
fn a_body_without_end_of_headers_is_hashed_for_every_signature() {
    let key = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).unwrap();
    let signer = dkim::Signer::from_pem(
        key.private_key_pem.as_bytes(),
        dkim::SignerConfig::new("example.org", "sel"),
    )
    .unwrap();
    let raw = b"From: a@example.org\r\nSubject: no EOH\r\n\r\nline one\r\nline two\r\n";
    let signature = dkim::sign_message(&signer, raw, dkim::unix_now()).unwrap();
    let zone = format!("sel._domainkey.example.org TXT \"{}\"\n", key.record.text());
    let toml = "[authres]\nauthserv_id = \"mx.test.example\"\n\
                [spf]\nenabled = false\n[iprev]\nenabled = false\n\
                [dmarc]\nenabled = false\n[arc]\nverify = false\n";
    let resolver: Arc<dyn dns::Resolver> =
        Arc::new(dns::memory::MemoryResolver::from_zone(&zone).unwrap());
    let app = Arc::new(App::new(Config::parse(toml).unwrap(), resolver).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let decision = rt.block_on(async {
        let mut p = MessagePipeline::new(Arc::clone(&app), Services::none(), Role::Verify);
        p.connect(
            ClientInfo {
                hostname: "relay.example".into(),
                ip: Some([192, 0, 2, 1].into()),
                port: 25,
            },
            None,
        );
        p.helo(b"relay.example");
        let _ = p.mail(b"<a@example.org>", Vec::new(), &StageMacros::default());
        let _ = p.rcpt(b"<b@example.net>", Vec::new());
        let field = signature.to_header_field();
        p.header(&field.name, &field.value);
        p.header(b"From", b" a@example.org");
        p.header(b"Subject", b" no EOH");
        p.body(b"line one\r\nli");
        p.body(b"ne two\r\n");
        p.end_of_message().await
    });
    let results = decision.results.as_ref().expect("results");
    let dkim: Vec<_> = results.dkim.iter().map(|s| s.result).collect();
    assert_eq!(dkim, [dkim::DkimResult::Pass], "{results:?}");
}
