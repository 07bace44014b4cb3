//! The world the randomised differential runs in: DNS (p=none, quarantine and reject domains,
//! a domain whose policy lookup fails, one whose key lookup fails, our own signing domain),
//! the DKIM key every signer uses, and the configurations a case picks from.

use dkim::{DnsKeyRecord, Signer, SignerConfig};

use super::generate::Rng;

/// The RSA key every signature of the world is made with (published for each signing domain).
pub const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crates/dkim/tests/data/keys/rsa2048.pem"
);

/// Our authserv-id.
pub const AUTHSERV_ID: &str = "mx.test.example";
/// Our SRS domain.
pub const SRS_DOMAIN: &str = "fwd.test.example";

/// Domains with a published key at selector `s` (and their DMARC policy in [`zone`]).
pub const SIGNING_DOMAINS: [&str; 6] = [
    "reject.example",
    "quar.example",
    "none.example",
    "evil.example",
    "ours.example",
    "keyfail.example",
];

/// Author domains a From field picks from: every policy, a temperror, none at all.
pub const FROM_DOMAINS: [&str; 9] = [
    "reject.example",
    "quar.example",
    "none.example",
    "evil.example",
    "ours.example",
    "dnsfail.example",
    "keyfail.example",
    "sub.reject.example",
    "nodmarc.example",
];

/// The zone: SPF passes for the attacker's client at evil.example, quar.example and
/// none.example; reject.example's SPF fails it.
pub fn zone() -> String {
    let pem = std::fs::read(KEY).expect("test key");
    let signer = Signer::from_pem(&pem, SignerConfig::new("x.example", "s")).expect("signer");
    let txt: Vec<String> = DnsKeyRecord::for_key(signer.key())
        .txt_strings()
        .into_iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    let mut z = String::from(
        "\
reject.example TXT \"v=spf1 ip4:192.0.2.99 -all\"
_dmarc.reject.example TXT \"v=DMARC1; p=reject; sp=reject\"
quar.example TXT \"v=spf1 ip4:198.51.100.7 ip6:2001:db8::7 ~all\"
_dmarc.quar.example TXT \"v=DMARC1; p=quarantine; adkim=s; aspf=s\"
none.example TXT \"v=spf1 ip4:198.51.100.0/24 -all\"
_dmarc.none.example TXT \"v=DMARC1; p=none\"
evil.example TXT \"v=spf1 ip4:198.51.100.7 ip6:2001:db8::7 -all\"
_dmarc.evil.example TXT \"v=DMARC1; p=none\"
ours.example TXT \"v=spf1 ip4:127.0.0.1 -all\"
_dmarc.ours.example TXT \"v=DMARC1; p=reject\"
dnsfail.example SERVFAIL
_dmarc.dnsfail.example SERVFAIL
keyfail.example TXT \"v=spf1 -all\"
_dmarc.keyfail.example TXT \"v=DMARC1; p=reject\"
nodmarc.example TXT \"v=spf1 +all\"
7.100.51.198.in-addr.arpa PTR mail.evil.example
mail.evil.example A 198.51.100.7
mail.evil.example AAAA 2001:db8::7
mail.evil.example TXT \"v=spf1 a -all\"
7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR mail.evil.example
",
    );
    for d in SIGNING_DOMAINS {
        if d == "keyfail.example" {
            z.push_str("s._domainkey.keyfail.example SERVFAIL\n");
        } else {
            z.push_str(&format!("s._domainkey.{d} TXT {}\n", txt.join(" ")));
        }
    }
    z
}

/// One configuration of the milter (and of eval).
#[derive(Debug, Clone)]
pub struct Cfg {
    /// The listener role (`--role`).
    pub role: &'static str,
    pub enforce: bool,
    pub mode: &'static str,
    pub quarantine: &'static str,
    pub temperror: &'static str,
    pub srs: bool,
    pub reject_fail: bool,
    pub received_spf: bool,
    pub seal: bool,
    pub invalid_from: &'static str,
    pub multiple_from: &'static str,
    pub max_headers: Option<usize>,
    pub max_header_bytes: Option<usize>,
    pub on_oversize: &'static str,
    pub allow_partial_body: bool,
    pub trusted_upstream: bool,
    pub trusted_sealer: bool,
    pub authenticated_from: &'static str,
}

impl Cfg {
    /// A random configuration.
    pub fn random(r: &mut Rng) -> Cfg {
        Cfg {
            role: r.pick(&["auto", "auto", "auto", "verify", "forward", "sign"]),
            enforce: r.chance(70),
            mode: r.pick(&["rfc9989", "rfc7489"]),
            quarantine: r.pick(&["hold", "header"]),
            temperror: r.pick(&["tempfail", "accept"]),
            srs: r.chance(30),
            reject_fail: r.chance(20),
            received_spf: r.chance(20),
            seal: r.chance(30),
            invalid_from: r.pick(&["reject", "reject", "quarantine", "accept"]),
            multiple_from: r.pick(&["strictest", "strictest", "reject"]),
            max_headers: r.chance(10).then(|| r.range(5, 40)),
            max_header_bytes: r.chance(10).then(|| r.range(1024, 4000)),
            on_oversize: r.pick(&["tempfail", "accept"]),
            allow_partial_body: r.chance(30),
            trusted_upstream: r.chance(20),
            trusted_sealer: r.chance(50),
            authenticated_from: r.pick(&["any", "login-domain"]),
        }
    }

    /// The TOML (without listeners) with the key at `key` and SRS secrets at `secrets`.
    pub fn toml(&self, key: &str, secrets: &str) -> String {
        let mut t = format!(
            "[server]\n{}\n{}\non_oversize = \"{}\"\n[authres]\nauthserv_id = \"{AUTHSERV_ID}\"\n{}\n\
             [spf]\nreject_fail = {}\nreceived_spf_header = {}\n\
             [dkim]\nkey_check_interval = \"0s\"\nstate_file = \"\"\nallow_partial_body = {}\n\
             [[dkim.key]]\ndomain = \"ours.example\"\nselector = \"s\"\npath = \"{key}\"\n\
             [[dkim.key]]\ndomain = \"none.example\"\nselector = \"s\"\npath = \"{key}\"\n\
             [dmarc]\nenforce = {}\nmode = \"{}\"\nquarantine = \"{}\"\n\
             invalid_from = \"{}\"\nmultiple_from = \"{}\"\n\
             [outbound]\nauthenticated_from = \"{}\"\n\
             [arc]\nseal = {}\ntrusted_sealers = [{}]\n[policy]\ntemperror = \"{}\"\n",
            self.max_headers
                .map(|n| format!("max_headers = {n}"))
                .unwrap_or_default(),
            self.max_header_bytes
                .map(|n| format!("max_header_bytes = {n}"))
                .unwrap_or_default(),
            self.on_oversize,
            if self.trusted_upstream {
                "trusted_ids = [\"other.example\"]"
            } else {
                ""
            },
            self.reject_fail,
            self.received_spf,
            self.allow_partial_body,
            self.enforce,
            self.mode,
            self.quarantine,
            self.invalid_from,
            self.multiple_from,
            self.authenticated_from,
            self.seal,
            if self.trusted_sealer {
                "\"none.example\", \"evil.example\""
            } else {
                ""
            },
            self.temperror,
        );
        if self.srs {
            t.push_str(&format!(
                "[srs]\nenabled = true\ndomain = \"{SRS_DOMAIN}\"\nsecrets = \"{secrets}\"\n\
                 local_domains = [\"test.example\", \".test.example\", \"ours.example\"]\n"
            ));
        }
        t
    }
}
