//! The seeded generator: hostile messages and envelopes built from pieces (several From
//! fields, group syntax, encoded words, folds, bare CR and LF, NUL and 8-bit bytes,
//! duplicated fields, forged Authentication-Results and ARC sets, DKIM signatures valid,
//! tampered, foreign or with `l=`), and the way the MTA cuts the body into chunks.

use dkim::{Canonicalization, Signer, SignerConfig};
use testkit::BodySplit;

use super::world::{AUTHSERV_ID, Cfg, FROM_DOMAINS, KEY, SIGNING_DOMAINS, SRS_DOMAIN};

/// splitmix64: small, seeded, the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo).max(1) as u64) as usize
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.range(0, items.len())].clone()
    }
}

/// The SMTP envelope of a case, as the MTA has it.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub ip: String,
    pub helo: Option<String>,
    /// The reverse-path as written in MAIL FROM (with its angle brackets).
    pub mail_from: String,
    /// What `eval --mail-from` is given (the same, with or without the brackets).
    pub mail_from_arg: String,
    pub auth: Option<String>,
    pub daemon_name: Option<String>,
    pub rcpts: Vec<String>,
}

/// One generated case.
#[derive(Debug, Clone)]
pub struct Case {
    pub cfg: Cfg,
    pub env: Envelope,
    pub raw: Vec<u8>,
    pub split: BodySplit,
    pub sendmail: bool,
    /// A message sent before this one on the same milter connection (MAIL FROM, recipients,
    /// message): nothing of it may change this one's decision.
    pub before: Option<(String, Vec<String>, Vec<u8>)>,
    /// An ARC set to seal over the message (sealer domain, the From domain its
    /// ARC-Authentication-Results says passed DMARC), by [`super::seal`].
    pub arc_seal: Option<(String, String)>,
    /// Write the milter connection in pieces of these sizes in turn (frames split across
    /// TCP segments, as a busy MTA's socket delivers them).
    pub fragments: Option<Vec<usize>>,
}

fn domain(r: &mut Rng) -> String {
    r.pick(&FROM_DOMAINS).to_string()
}

fn address(r: &mut Rng) -> String {
    let local = r.pick(&[
        "ceo",
        "a.b",
        "x+tag",
        "\"john doe\"",
        "p\u{f6}stmaster",
        "u",
    ]);
    format!("{local}@{}", domain(r))
}

/// A From field's value (after the colon).
fn from_value(r: &mut Rng) -> String {
    let a = address(r);
    let b = address(r);
    match r.range(0, 16) {
        0 => format!(" {a}"),
        1 => format!(" Boss <{a}>"),
        2 => format!(" \"Boss, The\" <{a}>"),
        3 => format!(" team: {a}, {b};"),
        4 => format!(" =?utf-8?q?Bo=C3=9F?= <{a}>"),
        5 => format!(" =?utf-8?b?{}?= <{a}>", "Ym9zcw=="),
        6 => format!(" Boss\r\n <{a}>"),
        7 => format!(" {a} (comment <{b}>)"),
        8 => format!(" {a}, {b}"),
        9 => " <>".to_string(),
        10 => String::new(),
        11 => format!(" \"{a}\" <{b}>"),
        12 => format!(" J\u{f6}rg <{a}>"),
        13 => a.clone(),
        14 => format!(" <{a}>\r\n\t(folded comment)"),
        _ => format!(" {a} <{b}>"),
    }
}

/// A forged Authentication-Results field (name and value), in many spellings.
fn forged_authres(r: &mut Rng) -> (String, String) {
    let id = r.pick(&[
        AUTHSERV_ID,
        "MX.Test.Example",
        "mx.test.example.",
        "\"mx.test.example\"",
        "other.example",
        "mx.test.example 1",
        "mx.test.example (our host)",
        "mx.test.example\r\n\t",
        "",
    ]);
    let d = domain(r);
    let body = r.pick(&[
        format!("dkim=pass header.d={d}"),
        format!("dmarc=pass header.from={d}"),
        format!("spf=pass smtp.mailfrom={d}"),
        "none".to_string(),
        format!("arc=pass; dmarc=pass (p=reject) header.from={d}"),
    ]);
    let name = r.pick(&[
        "Authentication-Results",
        "authentication-results",
        "AUTHENTICATION-RESULTS",
        "Authentication-Results ",
    ]);
    (name.to_string(), format!(" {id}; {body}"))
}

/// ARC header fields: a partial, complete or out-of-order set, never validly sealed.
fn arc_fields(r: &mut Rng) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let n = r.range(1, 4);
    for i in 1..=n {
        let d = domain(r);
        if r.chance(80) {
            out.push((
                "ARC-Seal".into(),
                format!(
                    " i={i}; a=rsa-sha256; cv={}; d={d}; s=s; t=1700000000; b=AAAA",
                    { if i == 1 { "none" } else { "pass" } }
                ),
            ));
        }
        if r.chance(80) {
            out.push((
                "ARC-Message-Signature".into(),
                format!(
                    " i={i}; a=rsa-sha256; c=relaxed/relaxed; d={d}; s=s; h=from:subject; bh=AAAA; b=AAAA"
                ),
            ));
        }
        if r.chance(80) {
            out.push((
                "ARC-Authentication-Results".into(),
                format!(" i={i}; {d}; dmarc=pass header.from={}", domain(r)),
            ));
        }
    }
    if r.chance(30) {
        out.reverse();
    }
    out
}

/// A line ending: mostly CRLF, some bare LF.
fn eol(r: &mut Rng, lf: bool) -> &'static str {
    if lf || r.chance(5) { "\n" } else { "\r\n" }
}

fn body(r: &mut Rng, lf: bool) -> Vec<u8> {
    let mut b = Vec::new();
    match r.range(0, 10) {
        0 => return b,
        1 => return b"\r\n\r\n".to_vec(),
        _ => {}
    }
    for _ in 0..r.range(1, 12) {
        let line = r.pick(&[
            &b"Please wire the money today."[..],
            b"",
            b" leading space",
            b"trailing space \t",
            b"8-bit: \xc3\xa4\xff",
            b"a NUL \x00 here",
            b"bare CR\rinside",
            b".",
            b"From the desk of",
            b"--boundary",
        ]);
        b.extend_from_slice(line);
        let e = eol(r, lf);
        b.extend_from_slice(e.as_bytes());
    }
    if r.chance(10) {
        let long = r.range(100, 3000);
        b.extend(std::iter::repeat_n(b'x', long));
        b.extend_from_slice(b"\r\n");
    }
    match r.range(0, 6) {
        0 => {
            // no final line end
            while b.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
                b.pop();
            }
        }
        1 => b.extend_from_slice(b"\r\n\r\n\r\n"),
        _ => {}
    }
    b
}

fn header_block(r: &mut Rng, lf: bool) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = Vec::new();
    if r.chance(40) {
        h.push((
            "Received".into(),
            " from mail.evil.example (mail.evil.example [198.51.100.7])\r\n\tby relay; Sat, 5 Dec 2026 10:00:00 +0000".into(),
        ));
    }
    let froms = match r.range(0, 10) {
        0 => 0,
        1 | 2 => 2,
        3 => 3,
        _ => 1,
    };
    for _ in 0..froms {
        let name = r.pick(&["From", "From", "from", "FROM", "From ", "From\t"]);
        h.push((name.to_string(), from_value(r)));
    }
    h.push(("To".into(), format!(" {}", address(r))));
    for (name, val) in [
        ("Subject", " Invoice =?utf-8?q?f=C3=BCr?= you"),
        ("Date", " Sat, 5 Dec 2026 10:00:00 +0000"),
        ("Message-ID", " <1@evil.example>"),
    ] {
        for _ in 0..r.range(0, 3) {
            h.push((name.into(), val.into()));
        }
    }
    for _ in 0..r.range(0, 4) {
        h.push(forged_authres(r));
    }
    if r.chance(25) {
        h.extend(arc_fields(r));
    }
    let pads = if r.chance(5) { 1200 } else { 8 };
    for i in 0..r.range(0, pads) {
        let val = match r.range(0, 8) {
            0 => " 8-bit \u{e9}t\u{e9}".to_string(),
            1 => " bare CR\rin value".to_string(),
            2 => " a NUL\0in value".to_string(),
            3 => {
                let e = eol(r, lf);
                format!(" folded{e}\tline")
            }
            4 => {
                let e = eol(r, lf);
                format!(" blank continuation{e} {e}\tafter")
            }
            5 => " CR before the line end\r".to_string(),
            _ => format!(" pad {i}"),
        };
        h.push((format!("X-Pad-{}", i % 5), val));
    }
    // shuffle a little: a field moved up or down
    for _ in 0..r.range(0, 3) {
        if h.len() > 1 {
            let (a, b) = (r.range(0, h.len()), r.range(0, h.len()));
            h.swap(a, b);
        }
    }
    h
}

/// `raw` with a DKIM signature in front: of a random signing domain, maybe with `l=`.
fn sign(r: &mut Rng, raw: &[u8], from_domain: Option<&str>) -> Vec<u8> {
    let pem = std::fs::read(KEY).expect("test key");
    let d = match from_domain {
        Some(d) if r.chance(60) && SIGNING_DOMAINS.contains(&d) => d.to_string(),
        _ => r.pick(&SIGNING_DOMAINS).to_string(),
    };
    let mut cfg = SignerConfig::new(d, "s");
    if r.chance(40) {
        cfg.header_canon = Canonicalization::Simple;
    }
    if r.chance(40) {
        cfg.body_canon = Canonicalization::Simple;
    }
    cfg.body_length = r.chance(35);
    let signer = Signer::from_pem(&pem, cfg).expect("signer");
    let Ok(header) = dkim::sign_message(&signer, raw, 1_700_000_000) else {
        return raw.to_vec();
    };
    let mut out = header.to_field().into_bytes();
    out.extend_from_slice(raw);
    out
}

/// A random message; its body and header line ends are LF throughout one time in ten.
fn message(r: &mut Rng) -> (Vec<u8>, Option<String>) {
    let lf = r.chance(10);
    let headers = header_block(r, lf);
    let from_domain = headers
        .iter()
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("from"))
        .and_then(|(_, v)| v.split_once('@'))
        .map(|(_, d)| {
            d.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect::<String>()
        });
    let mut raw = Vec::new();
    for (i, (n, v)) in headers.iter().enumerate() {
        // two leading `From ` lines: Postfix turns both into X-Mailbox-Line, eval and Sendmail
        // drop the first only (a documented difference, docs/cli.md)
        let n = if i == 1 && n == "From " && headers[0].0 == "From " {
            "From"
        } else {
            n
        };
        raw.extend_from_slice(n.as_bytes());
        raw.push(b':');
        raw.extend_from_slice(v.as_bytes());
        let e = eol(r, lf);
        raw.extend_from_slice(e.as_bytes());
    }
    match r.range(0, 20) {
        // no empty line: the header block ends at the end of the input
        0 => {}
        // a line that is not a field ends the header block (the MTA makes it body)
        1 => raw.extend_from_slice(b"not a header line\r\nX-After: hidden\r\n\r\nbody\r\n"),
        _ => {
            let e = eol(r, lf);
            raw.extend_from_slice(e.as_bytes());
            let b = body(r, lf);
            raw.extend_from_slice(&b);
        }
    }
    let mut signed = raw.clone();
    for _ in 0..r.range(0, 3) {
        signed = sign(r, &signed, from_domain.as_deref());
    }
    match r.range(0, 6) {
        // tampered after signing: the body grows, or the Subject changes
        0 => signed.extend_from_slice(b"appended after signing\r\n"),
        1 => {
            if let Some(p) = signed.windows(9).position(|w| w == b"Subject: ") {
                signed.insert(p + 9, b'X');
            }
        }
        _ => {}
    }
    (signed, from_domain)
}

fn envelope(r: &mut Rng) -> Envelope {
    let ip = r
        .pick(&[
            "198.51.100.7",
            "198.51.100.7",
            "2001:db8::7",
            "::ffff:198.51.100.7",
            "192.0.2.99",
            "127.0.0.1",
            "203.0.113.5",
        ])
        .to_string();
    let helo = match r.range(0, 6) {
        0 => None,
        1 => Some("[198.51.100.7]".to_string()),
        2 => Some("garbage helo!".to_string()),
        3 => Some("[IPv6:2001:db8::7]".to_string()),
        _ => Some("mail.evil.example".to_string()),
    };
    let sender = match r.range(0, 9) {
        0 => String::new(),
        1 => format!("\"john doe\"@{}", domain(r)),
        2 => format!("b\u{f6}unce@{}", domain(r)),
        3 => format!("@relay.example:bounce@{}", domain(r)),
        4 => format!(" bounce@{} ", domain(r)),
        5 => format!(
            "SRS0=abcd=TT={}=u@{SRS_DOMAIN}",
            r.pick(&["reject.example", "evil.example"])
        ),
        _ => format!("bounce@{}", domain(r)),
    };
    let mail_from = format!("<{sender}>");
    let mail_from_arg = if r.chance(50) {
        mail_from.clone()
    } else {
        sender.clone()
    };
    let auth = r.chance(10).then(|| {
        r.pick(&["alice", "alice@ours.example", "bob@evil.example"])
            .to_string()
    });
    let daemon_name = r
        .chance(10)
        .then(|| r.pick(&["ORIGINATING", "smtpd"]).to_string());
    let mut rcpts = Vec::new();
    for _ in 0..r.range(1, 4) {
        rcpts.push(r.pick(&[
            "user@mx.test.example".to_string(),
            "\"quoted local\"@mx.test.example".to_string(),
            "j\u{f6}rg@mx.test.example".to_string(),
            format!("SRS0=zzzz=TT=bank.example=u@{SRS_DOMAIN}"),
            "postmaster@mx.test.example".to_string(),
            "forwarded@elsewhere.example".to_string(),
        ]));
    }
    Envelope {
        ip,
        helo,
        mail_from,
        mail_from_arg,
        auth,
        daemon_name,
        rcpts,
    }
}

fn split(r: &mut Rng) -> BodySplit {
    match r.range(0, 4) {
        0 => BodySplit::Standard,
        1 => BodySplit::CrLfAcrossChunks,
        _ => BodySplit::Sizes((0..r.range(1, 5)).map(|_| r.range(1, 200)).collect()),
    }
}

/// `n` cases from `seed`.
pub fn cases(seed: u64, n: usize) -> Vec<Case> {
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (cfg, env, (raw, from)) = (Cfg::random(&mut r), envelope(&mut r), message(&mut r));
        let split = split(&mut r);
        let sendmail = r.chance(30);
        let before = r.chance(30).then(|| {
            let e = envelope(&mut r);
            (e.mail_from, e.rcpts, message(&mut r).0)
        });
        let arc_seal = r.chance(25).then(|| {
            let claimed = match &from {
                Some(d) if r.chance(70) => d.clone(),
                _ => domain(&mut r),
            };
            (
                r.pick(&["none.example", "evil.example"]).to_string(),
                claimed,
            )
        });
        let fragments = r
            .chance(25)
            .then(|| (0..r.range(1, 4)).map(|_| r.range(1, 700)).collect());
        out.push(Case {
            fragments,
            cfg,
            env,
            raw,
            split,
            sendmail,
            before,
            arc_seal,
        });
    }
    out
}
