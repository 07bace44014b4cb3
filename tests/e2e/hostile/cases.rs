//! The cases of the hostile-mail suite, by class. Unless a case says otherwise the attacker
//! sends from its own server (SPF pass for evil.example, MAIL FROM bounce@evil.example) with
//! enforcement on, and bank.example (p=reject) is the victim.

use dkim::{DnsKeyRecord, Signer, SignerConfig};

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

fn from_spelling() -> Vec<Case> {
    let c = |n| case("from-spelling", n);
    vec![
        c("baseline: a spoofed From of a p=reject domain").expect("reject", "fail"),
        c("control: the attacker's own domain passes")
            .headers(&[b"From: x@evil.example"])
            .expect("accept", "pass"),
        c("From with a space before the colon (RFC 5322 obsolete syntax)")
            .headers(&[b"From : ceo@bank.example"])
            .expect("reject", "fail"),
        c("FROM in capitals")
            .headers(&[b"FROM: ceo@bank.example"])
            .expect("reject", "fail"),
        c("from in lower case, no space")
            .headers(&[b"from:ceo@bank.example"])
            .expect("reject", "fail"),
        c("From with a tab before the colon")
            .headers(&[b"From\t: ceo@bank.example"])
            .expect("reject", "fail"),
        c("obsolete From : then a normal From of the attacker")
            .headers(&[b"From : ceo@bank.example", b"From: x@evil.example"])
            .expect("reject", "fail"),
        c("normal From of the attacker then an obsolete From :")
            .headers(&[b"From: x@evil.example", b"From : ceo@bank.example"])
            .expect("reject", "fail"),
        c("two From fields of one domain evaluate that domain")
            .headers(&[b"From: x@evil.example", b"From: y@evil.example"])
            .expect("accept", "pass"),
        c("two From fields refused under multiple_from = reject")
            .dmarc("multiple_from = \"reject\"")
            .headers(&[b"From: x@evil.example", b"From: y@evil.example"])
            .expect("reject", "permerror"),
        c("two mailboxes in one From: the strictest result applies")
            .headers(&[b"From: x@evil.example, ceo@bank.example"])
            .expect("reject", "fail"),
    ]
}

fn header_block() -> Vec<Case> {
    let c = |n| case("header-block", n);
    vec![
        c("a header block that starts with whitespace is all body: no From")
            .raw(b" From: ceo@bank.example\r\nFrom: x@evil.example\r\nSubject: s\r\n\r\nbody\r\n")
            .expect("reject", "permerror"),
        c("a line that is not a field ends the header block before the From")
            .raw(b"Subject: s\r\ngarbage line\r\nFrom: x@evil.example\r\n\r\nbody\r\n")
            .expect("reject", "permerror"),
        c("a line that is not a field after the real From hides a second From")
            .raw(b"From: ceo@bank.example\r\ngarbage line\r\nFrom: x@evil.example\r\n\r\nbody\r\n")
            .expect("reject", "fail"),
        c("From : on the very first line is an mbox separator to the MTA, not a From")
            .raw(b"From : ceo@bank.example\r\nFrom: x@evil.example\r\n\r\nbody\r\n")
            .expect("accept", "pass"),
        c("an 8-bit field name ends the header block")
            .raw("Fröm: x@evil.example\r\nFrom: x@evil.example\r\n\r\nbody\r\n".as_bytes())
            .expect("reject", "permerror"),
        c("a From folded onto the next line")
            .headers(&[b"From:\r\n ceo@bank.example"])
            .expect("reject", "fail"),
        c("a second address folded into the attacker's From")
            .headers(&[b"From: x@evil.example\r\n ceo@bank.example"])
            .expect("reject", "permerror"),
    ]
}

fn control_characters() -> Vec<Case> {
    let c = |n| case("control-character", n);
    vec![
        c("NUL between two addresses")
            .headers(&[b"From: x@evil.example\0ceo@bank.example"])
            .expect("reject", "permerror"),
        c("NUL at the end of the attacker's address")
            .headers(&[b"From: x@evil.example\0"])
            .expect("reject", "permerror"),
        c("an escape sequence that erases the line on a terminal")
            .headers(&[b"From: x@evil.example\x1b[2K ceo@bank.example"])
            .expect("reject", "permerror"),
        c("a lone CR that some readers take for a line end")
            .headers(&[b"From: x@evil.example\rFrom: ceo@bank.example"])
            .expect("reject", "permerror"),
        c("DEL")
            .headers(&[b"From: x@evil.example\x7f"])
            .expect("reject", "permerror"),
        c("SOH")
            .headers(&[b"From: \x01x@evil.example"])
            .expect("reject", "permerror"),
        c("control: a tab is folding white space, not a control character")
            .headers(&[b"From:\tx@evil.example"])
            .expect("accept", "pass"),
    ]
}

fn no_author_domain() -> Vec<Case> {
    let c = |n| case("no-author-domain", n);
    vec![
        c("no From field at all")
            .raw(b"Subject: s\r\n\r\nbody\r\n")
            .expect("reject", "permerror"),
        c("an empty From")
            .headers(&[b"From:"])
            .expect("reject", "permerror"),
        c("From: <>")
            .headers(&[b"From: <>"])
            .expect("reject", "permerror"),
        c("only an encoded word")
            .headers(&[b"From: =?utf-8?b?Y2VvQGJhbmsuZXhhbXBsZQ==?="])
            .expect("reject", "permerror"),
        c("only a display name")
            .headers(&[b"From: \"The Bank\""])
            .expect("reject", "permerror"),
        c("an empty group")
            .headers(&[b"From: undisclosed-recipients:;"])
            .expect("reject", "permerror"),
        c("an unterminated comment")
            .headers(&[b"From: x@evil.example (ceo@bank.example"])
            .expect("reject", "permerror"),
        c("an unterminated quoted string")
            .headers(&[b"From: \"ceo@bank.example <x@evil.example>"])
            .expect("reject", "permerror"),
        c("an unterminated angle address")
            .headers(&[b"From: Boss <ceo@bank.example"])
            .expect("reject", "permerror"),
        c("an address as the display name of another address")
            .headers(&[b"From: ceo@bank.example <x@evil.example>"])
            .expect("reject", "permerror"),
        c("text after the angle address")
            .headers(&[b"From: <x@evil.example> ceo@bank.example"])
            .expect("reject", "permerror"),
        c("two angle addresses in one mailbox")
            .headers(&[b"From: <x@evil.example><ceo@bank.example>"])
            .expect("reject", "permerror"),
        c("two @ in one address")
            .headers(&[b"From: x@evil.example@bank.example"])
            .expect("reject", "permerror"),
        c("a domain literal")
            .headers(&[b"From: x@[198.51.100.7]"])
            .expect("reject", "permerror"),
        c("the victim's address as the name of a group holding the attacker's")
            .headers(&[b"From: ceo@bank.example: x@evil.example;"])
            .expect("reject", "permerror"),
        c("the victim's address as a source route before the attacker's")
            .headers(&[b"From: <ceo@bank.example:x@evil.example>"])
            .expect("reject", "permerror"),
        c("the victim's address as the display name of an empty address before the attacker's")
            .headers(&[b"From: \"ceo@bank.example\" <>, x@evil.example"])
            .expect("reject", "permerror"),
        c("the victim's domain, a comment, then the rest of the attacker's domain")
            .headers(&[b"From: ceo@bank.example (Bank).evil.example"])
            .expect("reject", "permerror"),
        c("the victim's domain, a fold, then the rest of the attacker's domain")
            .headers(&[b"From: ceo@bank.example\r\n .evil.example"])
            .expect("reject", "permerror"),
        c("the victim's address as the name of an empty group before the attacker's")
            .headers(&[b"From: \"ceo@bank.example\":;, x@evil.example"])
            .expect("reject", "permerror"),
        c("invalid_from = accept delivers it with dmarc=permerror")
            .dmarc("invalid_from = \"accept\"")
            .headers(&[b"From:"])
            .expect("accept", "permerror"),
        c("invalid_from = quarantine holds it")
            .dmarc("invalid_from = \"quarantine\"")
            .headers(&[b"From: <>"])
            .expect("quarantine", "permerror"),
    ]
}

fn encoded_words() -> Vec<Case> {
    let c = |n| case("encoded-word", n);
    vec![
        c("an encoded display name that reads ceo@bank.example evaluates the real address")
            .headers(&[b"From: =?utf-8?b?Y2VvQGJhbmsuZXhhbXBsZQ==?= <x@evil.example>"])
            .expect("accept", "pass"),
        c("an encoded word as the local part keeps the real domain")
            .headers(&[b"From: =?utf-8?q?ceo?=@bank.example"])
            .expect("reject", "fail"),
        c("a quoted encoded display name before the victim's address")
            .headers(&[b"From: \"=?utf-8?q?x=40evil.example?=\" <ceo@bank.example>"])
            .expect("reject", "fail"),
    ]
}

fn comments_and_quotes() -> Vec<Case> {
    let c = |n| case("comment-quote", n);
    vec![
        c("the victim's address in a comment is not the address")
            .headers(&[b"From: x@evil.example (ceo@bank.example)"])
            .expect("accept", "pass"),
        c("the victim's address in a quoted display name is not the address")
            .headers(&[b"From: \"ceo@bank.example\" <x@evil.example>"])
            .expect("accept", "pass"),
        c("the attacker's address in a comment does not hide the victim's")
            .headers(&[b"From: ceo@bank.example (x@evil.example)"])
            .expect("reject", "fail"),
        c("the attacker's address quoted as the display name")
            .headers(&[b"From: \"x@evil.example\" <ceo@bank.example>"])
            .expect("reject", "fail"),
        c("a comment holding a comma and the victim")
            .headers(&[b"From: x@evil.example(,ceo@bank.example)"])
            .expect("accept", "pass"),
        c("a source route through the attacker's domain")
            .headers(&[b"From: <@evil.example:ceo@bank.example>"])
            .expect("reject", "fail"),
        c("a quoted local part that looks like the attacker's address")
            .headers(&[b"From: \"x@evil.example\"@bank.example"])
            .expect("reject", "fail"),
    ]
}

fn dkim_length() -> Vec<Case> {
    let c = |n| case("dkim-length", n);
    let bank = || {
        c("x")
            .headers(&[b"From: Boss <ceo@bank.example>"])
            .signed_by("bank.example", true)
    };
    vec![
        Case {
            name: "content appended after an l= signature gets dkim=policy",
            ..bank()
                .append_body(b"\r\nNew account: 12345\r\n")
                .expect("reject", "fail")
        },
        Case {
            name: "control: an l= signature over the whole body passes",
            ..bank().expect("accept", "pass")
        },
        Case {
            name: "allow_partial_body = true lets appended content pass, as RFC 6376 wrote it",
            ..bank()
                .config("[dkim]\nallow_partial_body = true")
                .append_body(b"\r\nNew account: 12345\r\n")
                .expect("accept", "pass")
        },
    ]
}

fn alignment() -> Vec<Case> {
    let c = |n| case("alignment", n);
    vec![
        c("a valid signature of the attacker's domain under the victim's From")
            .signed_by("evil.example", false)
            .expect("reject", "fail"),
        c("the victim's name as a subdomain of the attacker's domain aligns with the attacker")
            .headers(&[b"From: ceo@bank.example.evil.example"])
            .signed_by("evil.example", false)
            .expect("accept", "pass"),
        c("a look-alike domain is a different domain")
            .headers(&[b"From: ceo@bank-example.example"])
            .zone("_dmarc.bank-example.example TXT \"v=DMARC1; p=reject\"")
            .signed_by("evil.example", false)
            .expect("reject", "fail"),
    ]
}

fn authres_injection() -> Vec<Case> {
    let c = |n| case("authres-injection", n);
    let inj = |mut e: Expect| {
        e.single_dmarc = true;
        e
    };
    vec![
        c("a MAIL FROM local part that carries ;dmarc=pass")
            .dmarc("enforce = false")
            .mail_from("\"x;dmarc=pass\"@evil.example")
            .expect_with(inj(expect("accept", "fail"))),
        c("a DKIM d= that carries ;dmarc=pass")
            .dmarc("enforce = false")
            .raw(b"DKIM-Signature: v=1; a=rsa-sha256; d=evil.example\\;dmarc=pass; s=s; h=from; bh=AAAA; b=AAAA\r\nFrom: ceo@bank.example\r\n\r\nbody\r\n")
            .expect_with(inj(expect("accept", "fail"))),
        c("a From domain that carries ;dmarc=pass")
            .dmarc("enforce = false")
            .headers(&[b"From: ceo@bank.example;dmarc=pass"])
            .expect_with(inj(expect("accept", "permerror"))),
        c("a HELO name that carries ;dmarc=pass")
            .dmarc("enforce = false")
            .helo("evil.example;dmarc=pass")
            .expect_with(inj(expect("accept", "fail"))),
    ]
}

fn temperror() -> Vec<Case> {
    let c = |n| case("temperror", n);
    let tf = || expect("tempfail", "temperror");
    vec![
        c("SERVFAIL on the author domain's _dmarc")
            .zone("_dmarc.bank.example SERVFAIL")
            .expect("tempfail", "temperror"),
        c("timeout on the author domain's _dmarc")
            .zone("_dmarc.bank.example TIMEOUT")
            .expect("tempfail", "temperror"),
        c("SERVFAIL on the organizational domain's _dmarc (tree walk / PSL)")
            .headers(&[b"From: ceo@mail.bank.example"])
            .zone("_dmarc.bank.example SERVFAIL")
            .expect("tempfail", "temperror"),
        c("SERVFAIL on the key of the only signature that could align")
            .signed_by("bank.example", false)
            .zone("s._domainkey.bank.example SERVFAIL")
            .expect("tempfail", "temperror"),
        c("SERVFAIL on the SPF record of an aligned MAIL FROM")
            .mail_from("bounce@bank.example")
            .zone("bank.example TXT SERVFAIL")
            .expect("tempfail", "temperror"),
        c("SERVFAIL on _dmarc of the aligned DKIM domain (RFC 9989 alignment walk)")
            .signed_by("mail.bank.example", false)
            .zone("_dmarc.mail.bank.example SERVFAIL")
            .expect_modes(tf(), expect("accept", "pass")),
        c("SPF temperror for a MAIL FROM whose alignment walk failed")
            .mail_from("bounce@mail.bank.example")
            .zone("mail.bank.example TXT SERVFAIL\n_dmarc.mail.bank.example SERVFAIL")
            .expect("tempfail", "temperror"),
        c("timeout of the np existence check (RFC 9989)")
            .headers(&[b"From: ceo@ghost.np.example"])
            .zone("_dmarc.np.example TXT \"v=DMARC1; p=quarantine; np=reject\"\n_dmarc.ghost.np.example NXDOMAIN\nghost.np.example TIMEOUT")
            .expect_modes(tf(), expect("quarantine", "fail")),
        c("policy.temperror = accept delivers with dmarc=temperror")
            .config("[policy]\ntemperror = \"accept\"")
            .zone("_dmarc.bank.example SERVFAIL")
            .expect("accept", "temperror"),
    ]
}

fn forged_authres() -> Vec<Case> {
    let c = |n| case("forged-authres", n);
    let removed = |n: usize| Expect {
        deleted: Some(n),
        ..expect("accept", "pass")
    };
    vec![
        c("our authserv-id claiming dmarc=pass is removed")
            .headers(&[
                b"Authentication-Results: mx.test.example; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("obsolete spacing and case do not hide a forged header")
            .headers(&[
                b"authentication-results : MX.TEST.EXAMPLE.; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("a folded forged header")
            .headers(&[
                b"Authentication-Results:\r\n\tmx.test.example;\r\n\tdmarc=pass header.from=bank.example",
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("a quoted authserv-id")
            .headers(&[
                b"Authentication-Results: \"mx.test.example\"; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("junk after our authserv-id still claims it")
            .headers(&[
                b"Authentication-Results: mx.test.example (c) /1; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("a control character before our authserv-id does not hide it")
            .headers(&[
                b"Authentication-Results: \x0bmx.test.example; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("a zero-width space inside our authserv-id does not hide it")
            .headers(&[
                "Authentication-Results: mx.test\u{200b}.example; dmarc=pass".as_bytes(),
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("another host's header stays")
            .headers(&[
                b"Authentication-Results: other.example; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(0)),
        c("three forged headers among others are all removed")
            .headers(&[
                b"Authentication-Results: mx.test.example; spf=pass",
                b"Authentication-Results: other.example; none",
                b"Authentication-Results: mx.test.example; dkim=pass",
                b"Received: from x",
                b"Authentication-Results: mx.test.example; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(3)),
    ]
}
