//! The cases of the hostile-mail suite, by class. Unless a case says otherwise the attacker
//! sends from its own server (SPF pass for evil.example, MAIL FROM bounce@evil.example) with
//! enforcement on, and bank.example (p=reject) is the victim.

use dkim::{DnsKeyRecord, Signer, SignerConfig};

// The classes' cases, by subject; `all` lists them in the suite's order.
mod authentication_results;
mod author_domain;
mod dkim_alignment;
mod dns_faults;

use authentication_results::{authres_injection, forged_authres};
use author_domain::{
    comments_and_quotes, control_characters, encoded_words, from_spelling, header_block,
    no_author_domain,
};
use dkim_alignment::{alignment, dkim_length};
use dns_faults::temperror;

/// DMARC mode of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// RFC 9989 (tree walk).
    Rfc9989,
    /// RFC 7489 (public suffix list).
    Rfc7489,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Rfc9989 => "rfc9989",
            Mode::Rfc7489 => "rfc7489",
        }
    }
}

/// What a run must decide.
#[derive(Debug, Clone)]
pub struct Expect {
    pub action: &'static str,
    /// The dmarc= result of our A-R (None: not checked).
    pub dmarc: Option<&'static str>,
    /// dmarc=pass is allowed (only when expected).
    pub pass_ok: bool,
    /// How many incoming headers are deleted (None: not checked).
    pub deleted: Option<usize>,
    /// Our A-R must hold exactly one dmarc method and no method name with a ';'.
    pub single_dmarc: bool,
}

/// One run of a case in one mode.
#[derive(Debug, Clone)]
pub struct Run {
    pub mode: Mode,
    pub expect: Expect,
}

/// One case.
#[derive(Debug, Clone)]
pub struct Case {
    pub class: &'static str,
    pub name: &'static str,
    pub zone: String,
    pub dmarc: String,
    pub config: String,
    pub mail_from: String,
    pub helo: String,
    pub raw: Vec<u8>,
    pub runs: Vec<Run>,
}

const BODY: &[u8] = b"Please wire the money today.\r\n";
const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crates/dkim/tests/data/keys/rsa2048.pem"
);

fn case(class: &'static str, name: &'static str) -> Case {
    Case {
        class,
        name,
        zone: String::new(),
        dmarc: String::new(),
        config: String::new(),
        mail_from: "bounce@evil.example".into(),
        helo: "mail.evil.example".into(),
        raw: message(&[b"From: Boss <ceo@bank.example>"]),
        runs: Vec::new(),
    }
}

/// Header lines, the empty line, the body.
fn message(headers: &[&[u8]]) -> Vec<u8> {
    // a trace field first, as in real mail (a first line starting "From " is an mbox
    // separator to the MTA: see the header-block class)
    let mut m = b"Received: from mail.evil.example ([198.51.100.7])\r\n\tby relay.evil.example\r\n"
        .to_vec();
    for h in headers {
        m.extend_from_slice(h);
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b"Subject: urgent\r\nMessage-ID: <1@evil.example>\r\n\r\n");
    m.extend_from_slice(BODY);
    m
}

fn expect(action: &'static str, dmarc: &'static str) -> Expect {
    Expect {
        action,
        dmarc: Some(dmarc),
        pass_ok: dmarc == "pass",
        deleted: None,
        single_dmarc: false,
    }
}

impl Case {
    fn headers(mut self, headers: &[&[u8]]) -> Self {
        self.raw = message(headers);
        self
    }

    fn raw(mut self, raw: &[u8]) -> Self {
        self.raw = raw.to_vec();
        self
    }

    fn mail_from(mut self, m: &str) -> Self {
        self.mail_from = m.into();
        self
    }

    fn helo(mut self, h: &str) -> Self {
        self.helo = h.into();
        self
    }

    fn zone(mut self, z: &str) -> Self {
        self.zone.push_str(z);
        self.zone.push('\n');
        self
    }

    fn dmarc(mut self, d: &str) -> Self {
        self.dmarc.push_str(d);
        self.dmarc.push('\n');
        self
    }

    fn config(mut self, c: &str) -> Self {
        self.config.push_str(c);
        self.config.push('\n');
        self
    }

    /// Signs the message as it is now with the test key for `domain` (selector `s`),
    /// publishes the key, and prepends the signature.
    fn signed_by(mut self, domain: &str, length: bool) -> Self {
        let pem = std::fs::read(KEY).expect("test key");
        let mut cfg = SignerConfig::new(domain, "s");
        cfg.body_length = length;
        let signer = Signer::from_pem(&pem, cfg).expect("signer");
        let header = dkim::sign_message(&signer, &self.raw, dkim::unix_now()).expect("sign");
        let strings: Vec<String> = DnsKeyRecord::for_key(signer.key())
            .txt_strings()
            .into_iter()
            .map(|s| format!("\"{s}\""))
            .collect();
        self = self.zone(&format!("s._domainkey.{domain} TXT {}", strings.join(" ")));
        let mut raw = header.to_field().into_bytes();
        raw.extend_from_slice(&self.raw);
        self.raw = raw;
        self
    }

    fn append_body(mut self, extra: &[u8]) -> Self {
        self.raw.extend_from_slice(extra);
        self
    }

    /// The same expectation in both modes.
    fn expect(self, action: &'static str, dmarc: &'static str) -> Case {
        self.expect_with(expect(action, dmarc))
    }

    fn expect_with(mut self, e: Expect) -> Case {
        self.runs = vec![
            Run {
                mode: Mode::Rfc9989,
                expect: e.clone(),
            },
            Run {
                mode: Mode::Rfc7489,
                expect: e,
            },
        ];
        self
    }

    /// Different expectations per mode.
    fn expect_modes(mut self, rfc9989: Expect, rfc7489: Expect) -> Case {
        self.runs = vec![
            Run {
                mode: Mode::Rfc9989,
                expect: rfc9989,
            },
            Run {
                mode: Mode::Rfc7489,
                expect: rfc7489,
            },
        ];
        self
    }
}

/// Every case, by class.
pub fn all() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(from_spelling());
    v.extend(header_block());
    v.extend(control_characters());
    v.extend(no_author_domain());
    v.extend(encoded_words());
    v.extend(comments_and_quotes());
    v.extend(dkim_length());
    v.extend(alignment());
    v.extend(authres_injection());
    v.extend(temperror());
    v.extend(forged_authres());
    v
}
