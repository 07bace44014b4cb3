//! Helpers shared by the ARC integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use crypto::{CryptoError, KeyType, SigningKey};
use dns::memory::MemoryResolver;

/// Path under `tests/data/`.
pub fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

/// Reads a file under `tests/data/` as text.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(data(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A current-thread runtime for the async convenience API.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Splits a mail-auth style file: `<name> <TXT value>` lines, an empty line, the message.
pub fn zone_and_message(text: &str) -> (MemoryResolver, Vec<u8>) {
    let (zone, msg) = text
        .split_once("\n\n")
        .expect("empty line after the DNS records");
    let r = MemoryResolver::new();
    for line in zone.lines() {
        let (name, value) = line.split_once(' ').expect("name value");
        r.add_txt(name, value);
    }
    (r, msg.as_bytes().to_vec())
}

/// DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// An RSA key of any size, signing RSASSA-PKCS1-v1_5 SHA-256 through the `rsa` crate: ring
/// (our provider) refuses to sign with keys under 2048 bits, and the ValiMail signing suite's
/// key has 1024. Test keys only.
#[derive(Debug)]
pub struct TestRsaKey(rsa::RsaPrivateKey);

impl TestRsaKey {
    /// From a PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pkcs1_pem(pem: &str) -> Self {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        TestRsaKey(rsa::RsaPrivateKey::from_pkcs1_pem(pem).expect("PKCS#1 PEM"))
    }
}

impl SigningKey for TestRsaKey {
    fn key_type(&self) -> KeyType {
        KeyType::Rsa
    }

    fn bits(&self) -> u32 {
        use rsa::traits::PublicKeyParts;
        u32::try_from(self.0.n().bits()).unwrap()
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut info = SHA256_DIGEST_INFO.to_vec();
        info.extend_from_slice(&crypto::sha256(data));
        self.0
            .sign(rsa::Pkcs1v15Sign::new_unprefixed(), &info)
            .map_err(|_| CryptoError::SigningFailed)
    }

    fn public_key_dns(&self) -> Vec<u8> {
        use rsa::pkcs8::EncodePublicKey;
        self.0
            .to_public_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec()
    }
}

/// The domain the test sealers use.
pub const DOMAIN: &str = "example.org";

/// A sealer with one of the test keys (`"rsa"`: RSA-2048, `"ed"`: Ed25519), selector = the
/// key name, `d=example.org`.
pub fn sealer(which: &str) -> arc::Sealer {
    let file = match which {
        "rsa" => "keys/rsa2048.pem",
        "ed" => "keys/ed25519.pem",
        other => panic!("no key {other}"),
    };
    let pem = std::fs::read(data(file)).unwrap();
    arc::Sealer::from_pem(&pem, arc::SealerConfig::new(DOMAIN, which)).unwrap()
}

/// A resolver publishing both test keys at `rsa._domainkey.example.org` and
/// `ed._domainkey.example.org`.
pub fn key_resolver() -> MemoryResolver {
    let r = MemoryResolver::new();
    for which in ["rsa", "ed"] {
        let s = sealer(which);
        r.add_txt(
            &dkim::key_name(which, DOMAIN),
            dkim::DnsKeyRecord::for_key(s.key()).text(),
        );
    }
    r
}

/// A plain message with CRLF line ends.
pub const MESSAGE: &str = "From: Alice <alice@example.com>\r\n\
To: list@lists.example.net\r\n\
Subject: ARC test\r\n\
Date: Mon, 20 Nov 2023 10:00:00 +0000\r\n\
Message-ID: <arc-1@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
Hello list,\r\n\
\r\n\
a line with   inner  spaces   \r\n";

/// Fixed clock for sealing and validation.
pub const NOW: u64 = 1_700_000_000;

/// This hop's results for the AAR.
pub fn payload(authserv_id: &str) -> authres::AuthenticationResults {
    authres::AuthenticationResults::new(authserv_id)
        .with(authres::MethodResult::new("spf", "pass").with_property(
            "smtp",
            "mailfrom",
            "alice@example.com",
        ))
        .with(authres::MethodResult::new("dmarc", "pass").with_property(
            "header",
            "from",
            "example.com",
        ))
}

/// Validates `raw` with the test keys.
pub fn validate(raw: &[u8]) -> arc::ArcOutcome {
    validate_at(raw, NOW)
}

/// Validates `raw` with the test keys at Unix time `now`.
pub fn validate_at(raw: &[u8], now: u64) -> arc::ArcOutcome {
    block_on(arc::verify_message(
        &arc::Verifier::default(),
        &key_resolver(),
        raw,
        now,
    ))
}

/// Validates and seals `raw` with `sealer`, returning the outcome, and the message with the
/// new set prepended.
pub fn seal(
    sealer: &arc::Sealer,
    raw: &[u8],
    authserv_id: &str,
) -> Result<(arc::ArcOutcome, Vec<u8>), arc::ArcError> {
    seal_at(sealer, raw, authserv_id, NOW)
}

/// [`seal`] at Unix time `now`.
pub fn seal_at(
    sealer: &arc::Sealer,
    raw: &[u8],
    authserv_id: &str,
    now: u64,
) -> Result<(arc::ArcOutcome, Vec<u8>), arc::ArcError> {
    let (outcome, set) = block_on(arc::seal_message(
        &arc::Verifier::default(),
        sealer,
        &key_resolver(),
        raw,
        |_| payload(authserv_id),
        now,
    ))?;
    Ok((outcome, [set.to_fields("\r\n").as_bytes(), raw].concat()))
}

/// Seals `raw` with an outcome validated earlier (a hop that validates on receipt, then
/// modifies the message, then seals), returning the message with the set prepended.
pub fn seal_after_change(
    sealer: &arc::Sealer,
    raw: &[u8],
    outcome: &arc::ArcOutcome,
    authserv_id: &str,
) -> Vec<u8> {
    let msg = message::parse_message(raw);
    let mut hashes = dkim::BodyHashes::default();
    let session = sealer.start(&mut hashes);
    hashes.update(&msg.body);
    let set = session
        .seal(
            &hashes.finish(),
            &msg.headers,
            outcome,
            &payload(authserv_id),
            NOW,
        )
        .unwrap();
    [set.to_fields("\r\n").as_bytes(), raw].concat()
}
