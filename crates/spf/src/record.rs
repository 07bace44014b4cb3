//! SPF records: record selection (RFC 7208 §4.5) and the term grammar (RFC 7208 §4.6.1, §12).
//!
//! [`Record::parse`] validates the whole record first, as RFC 7208 §4.6 requires: any syntax
//! error anywhere gives `permerror` before any mechanism is evaluated.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::SpfError;
use crate::macros::{MacroKind, MacroString};

/// A directive's qualifier (RFC 7208 §4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// `+` (the default): pass.
    Pass,
    /// `-`: fail.
    Fail,
    /// `~`: softfail.
    SoftFail,
    /// `?`: neutral.
    Neutral,
}

/// CIDR prefix lengths for `a` and `mx` (RFC 7208 §5.6 `dual-cidr-length`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DualCidr {
    /// Prefix length applied to IPv4 addresses (0–32, default 32).
    pub v4: u8,
    /// Prefix length applied to IPv6 addresses (0–128, default 128).
    pub v6: u8,
}

impl Default for DualCidr {
    fn default() -> Self {
        Self { v4: 32, v6: 128 }
    }
}

/// A mechanism (RFC 7208 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all` (RFC 7208 §5.1).
    All,
    /// `include:<domain-spec>` (RFC 7208 §5.2).
    Include(MacroString),
    /// `a[:<domain-spec>][cidr]` (RFC 7208 §5.3).
    A {
        /// Target; `None` means the current `<domain>`.
        domain: Option<MacroString>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `mx[:<domain-spec>][cidr]` (RFC 7208 §5.4).
    Mx {
        /// Target; `None` means the current `<domain>`.
        domain: Option<MacroString>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `ptr[:<domain-spec>]` (RFC 7208 §5.5).
    Ptr(Option<MacroString>),
    /// `ip4:<network>[/len]` (RFC 7208 §5.6).
    Ip4 {
        /// Network address.
        addr: Ipv4Addr,
        /// Prefix length, 0–32.
        prefix: u8,
    },
    /// `ip6:<network>[/len]` (RFC 7208 §5.6).
    Ip6 {
        /// Network address.
        addr: Ipv6Addr,
        /// Prefix length, 0–128.
        prefix: u8,
    },
    /// `exists:<domain-spec>` (RFC 7208 §5.7).
    Exists(MacroString),
}

impl Mechanism {
    /// True for the terms that count toward the 10-lookup limit (RFC 7208 §4.6.4).
    pub fn queries_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include(_)
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr(_)
                | Mechanism::Exists(_)
        )
    }

    /// The `<domain-spec>` the mechanism names, if any (RFC 7208 §5).
    pub fn domain_spec(&self) -> Option<&MacroString> {
        match self {
            Mechanism::Include(spec) | Mechanism::Exists(spec) => Some(spec),
            Mechanism::A { domain, .. } | Mechanism::Mx { domain, .. } | Mechanism::Ptr(domain) => {
                domain.as_ref()
            }
            Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => None,
        }
    }
}

/// A qualifier and a mechanism (RFC 7208 §4.6.1 `directive`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The qualifier (default `+`).
    pub qualifier: Qualifier,
    /// The mechanism.
    pub mechanism: Mechanism,
    /// The term as published, for `mechanism=` in Received-SPF (RFC 7208 §9.1).
    pub text: String,
}

/// A parsed `v=spf1` record (RFC 7208 §4.5, §4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Directives, in order.
    pub directives: Vec<Directive>,
    /// `redirect=` target (RFC 7208 §6.1).
    pub redirect: Option<MacroString>,
    /// `exp=` target (RFC 7208 §6.2).
    pub exp: Option<MacroString>,
}

/// True when `txt` starts with the version section `v=spf1` (case-insensitive) followed by a
/// space or the end of the record (RFC 7208 §4.5).
pub fn is_spf_record(txt: &[u8]) -> bool {
    match txt.get(..6) {
        Some(v) if v.eq_ignore_ascii_case(b"v=spf1") => matches!(txt.get(6), None | Some(b' ')),
        _ => false,
    }
}

/// Picks the one SPF record out of a TXT RRset (RFC 7208 §4.5): `Ok(None)` when there is none,
/// an error when there are several.
pub fn select_record<'a>(domain: &str, txts: &'a [Vec<u8>]) -> Result<Option<&'a [u8]>, SpfError> {
    let mut found = txts.iter().filter(|t| is_spf_record(t));
    let first = found.next();
    if found.next().is_some() {
        return Err(SpfError::MultipleRecords(domain.to_string()));
    }
    Ok(first.map(Vec::as_slice))
}

impl Record {
    /// Parses a complete record, `v=spf1` included (RFC 7208 §4.6, §12).
    pub fn parse(txt: &[u8]) -> Result<Self, SpfError> {
        if !is_spf_record(txt) {
            return Err(SpfError::Syntax {
                term: lossy(txt.get(..6.min(txt.len())).unwrap_or_default()),
                reason: "record does not start with v=spf1",
            });
        }
        if !txt.is_ascii() {
            return Err(SpfError::NonAscii);
        }
        let mut record = Record {
            directives: Vec::new(),
            redirect: None,
            exp: None,
        };
        let rest = txt.get(6..).unwrap_or_default();
        for term in rest.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
            parse_term(term, &mut record)?;
        }
        Ok(record)
    }

    /// True when an `all` mechanism is present, which makes `redirect=` ignored (RFC 7208 §5.1).
    pub fn has_all(&self) -> bool {
        self.directives
            .iter()
            .any(|d| d.mechanism == Mechanism::All)
    }
}

fn syntax(term: &[u8], reason: &'static str) -> SpfError {
    SpfError::Syntax {
        term: lossy(term),
        reason,
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )` (RFC 7208 §4.6.1).
fn is_modifier_name(name: &[u8]) -> bool {
    match name.split_first() {
        Some((first, rest)) => {
            first.is_ascii_alphabetic()
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        None => false,
    }
}

fn parse_term(term: &[u8], record: &mut Record) -> Result<(), SpfError> {
    // A modifier has '=' before any ':' or '/' (RFC 7208 §4.6.1).
    let first_special = term.iter().position(|b| matches!(b, b'=' | b':' | b'/'));
    if let Some(eq) = first_special.filter(|&i| term.get(i) == Some(&b'=')) {
        let (name, value) = (
            term.get(..eq).unwrap_or_default(),
            term.get(eq + 1..).unwrap_or_default(),
        );
        if !is_modifier_name(name) {
            return Err(syntax(term, "invalid modifier name"));
        }
        if name.eq_ignore_ascii_case(b"redirect") || name.eq_ignore_ascii_case(b"exp") {
            let is_redirect = name.eq_ignore_ascii_case(b"redirect");
            let spec = domain_spec(term, value)?;
            let slot = if is_redirect {
                &mut record.redirect
            } else {
                &mut record.exp
            };
            if slot.is_some() {
                return Err(SpfError::DuplicateModifier(if is_redirect {
                    "redirect"
                } else {
                    "exp"
                }));
            }
            *slot = Some(spec);
        } else {
            // Unknown modifiers are ignored, but their value must be a macro-string (RFC 7208 §6).
            MacroString::parse(value, MacroKind::Modifier)?;
        }
        return Ok(());
    }

    let (qualifier, body) = match term.first() {
        Some(b'+') => (Qualifier::Pass, term.get(1..).unwrap_or_default()),
        Some(b'-') => (Qualifier::Fail, term.get(1..).unwrap_or_default()),
        Some(b'~') => (Qualifier::SoftFail, term.get(1..).unwrap_or_default()),
        Some(b'?') => (Qualifier::Neutral, term.get(1..).unwrap_or_default()),
        _ => (Qualifier::Pass, term),
    };
    let name_end = body
        .iter()
        .position(|b| matches!(b, b':' | b'/'))
        .unwrap_or(body.len());
    let raw_name = body.get(..name_end).unwrap_or_default();
    // mechanism names are short: lowercased on the stack (a longer one is no mechanism)
    let mut lowered = [0u8; 16];
    let name: &[u8] = match lowered.get_mut(..raw_name.len()) {
        Some(room) => {
            room.copy_from_slice(raw_name);
            room.make_ascii_lowercase();
            room
        }
        None => raw_name,
    };
    let args = body.get(name_end..).unwrap_or_default();
    let mechanism = match name {
        b"all" => {
            if !args.is_empty() {
                return Err(syntax(term, "all takes no argument"));
            }
            Mechanism::All
        }
        b"include" => Mechanism::Include(required_domain(term, args)?),
        b"exists" => Mechanism::Exists(required_domain(term, args)?),
        b"a" | b"mx" => {
            let (domain, cidr) = domain_and_cidr(term, args)?;
            if name == b"a" {
                Mechanism::A { domain, cidr }
            } else {
                Mechanism::Mx { domain, cidr }
            }
        }
        b"ptr" => match args.split_first() {
            None => Mechanism::Ptr(None),
            Some((b':', spec)) => Mechanism::Ptr(Some(domain_spec(term, spec)?)),
            Some(_) => return Err(syntax(term, "ptr takes no CIDR length")),
        },
        b"ip4" => {
            let value = args
                .strip_prefix(b":")
                .ok_or_else(|| syntax(term, "ip4 needs ':' and a network"))?;
            let (net, len) = split_cidr(value);
            let addr = parse_ip4(net).ok_or_else(|| syntax(term, "invalid IPv4 network"))?;
            let prefix = match len {
                None => 32,
                Some(l) => {
                    parse_cidr(l, 32).ok_or_else(|| syntax(term, "invalid ip4 CIDR length"))?
                }
            };
            Mechanism::Ip4 { addr, prefix }
        }
        b"ip6" => {
            let value = args
                .strip_prefix(b":")
                .ok_or_else(|| syntax(term, "ip6 needs ':' and a network"))?;
            let (net, len) = split_cidr(value);
            let addr = std::str::from_utf8(net)
                .ok()
                .and_then(|s| s.parse::<Ipv6Addr>().ok())
                .ok_or_else(|| syntax(term, "invalid IPv6 network"))?;
            let prefix = match len {
                None => 128,
                Some(l) => {
                    parse_cidr(l, 128).ok_or_else(|| syntax(term, "invalid ip6 CIDR length"))?
                }
            };
            Mechanism::Ip6 { addr, prefix }
        }
        _ => return Err(syntax(term, "unknown mechanism")),
    };
    record.directives.push(Directive {
        qualifier,
        mechanism,
        text: lossy(term),
    });
    Ok(())
}

/// Splits `network/len` at the first '/'.
fn split_cidr(value: &[u8]) -> (&[u8], Option<&[u8]>) {
    match value.iter().position(|&b| b == b'/') {
        Some(i) => (
            value.get(..i).unwrap_or_default(),
            Some(value.get(i + 1..).unwrap_or_default()),
        ),
        None => (value, None),
    }
}

/// `"0" / %x31-39 0*nDIGIT`, at most `max` (RFC 7208 §5.6): no leading zeros, no sign.
fn parse_cidr(digits: &[u8], max: u8) -> Option<u8> {
    if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.len() > 1 && digits.first() == Some(&b'0') {
        return None;
    }
    let value = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    u8::try_from(value).ok().filter(|v| *v <= max)
}

/// `ip4-network = qnum "." qnum "." qnum "." qnum`, no leading zeros (RFC 7208 §5.6).
fn parse_ip4(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&b| b == b'.');
    for slot in &mut octets {
        let part = parts.next()?;
        *slot = parse_cidr(part, 255)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

fn domain_spec(term: &[u8], spec: &[u8]) -> Result<MacroString, SpfError> {
    let parsed = MacroString::parse(spec, MacroKind::DomainSpec)?;
    if !parsed.is_domain_spec() {
        return Err(syntax(
            term,
            "domain-spec must end in a macro or a valid top label",
        ));
    }
    Ok(parsed)
}

fn required_domain(term: &[u8], args: &[u8]) -> Result<MacroString, SpfError> {
    match args.split_first() {
        Some((b':', spec)) => domain_spec(term, spec),
        _ => Err(syntax(term, "mechanism needs ':' and a domain-spec")),
    }
}

/// `[ ":" domain-spec ] [ dual-cidr-length ]` for `a` and `mx` (RFC 7208 §5.3, §5.4).
fn domain_and_cidr(term: &[u8], args: &[u8]) -> Result<(Option<MacroString>, DualCidr), SpfError> {
    let bad_cidr = || syntax(term, "invalid CIDR length");
    let mut rest = args;
    let mut cidr = DualCidr::default();
    // The dual-cidr suffix is unambiguous: a domain-spec ends in a macro or a top label, and
    // neither can end in "/digits".
    if let Some((head, digits)) = split_trailing_digits(rest) {
        if let Some(head) = head.strip_suffix(b"/") {
            // "//len": the IPv6 length.
            cidr.v6 = parse_cidr(digits, 128).ok_or_else(bad_cidr)?;
            rest = head;
            if let Some((head4, digits4)) = split_trailing_digits(rest) {
                cidr.v4 = parse_cidr(digits4, 32).ok_or_else(bad_cidr)?;
                rest = head4;
            }
        } else {
            cidr.v4 = parse_cidr(digits, 32).ok_or_else(bad_cidr)?;
            rest = head;
        }
    }
    match rest.split_first() {
        None => Ok((None, cidr)),
        Some((b':', spec)) => Ok((Some(domain_spec(term, spec)?), cidr)),
        Some(_) => Err(syntax(term, "invalid argument")),
    }
}

/// If `s` ends in `/` followed by digits, returns (text before the `/`, the digits).
fn split_trailing_digits(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let digits_start = s
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let digits = s.get(digits_start..)?;
    if digits.is_empty() || digits_start == 0 {
        return None;
    }
    let slash = digits_start - 1;
    if s.get(slash) != Some(&b'/') {
        return None;
    }
    Some((s.get(..slash)?, digits))
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Qualifier::Pass => "+",
            Qualifier::Fail => "-",
            Qualifier::SoftFail => "~",
            Qualifier::Neutral => "?",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Record, SpfError> {
        Record::parse(s.as_bytes())
    }

    #[test]
    fn version_section() {
        assert!(is_spf_record(b"v=spf1"));
        assert!(is_spf_record(b"V=SpF1 -all"));
        assert!(!is_spf_record(b"v=spf10"));
        assert!(!is_spf_record(b"v=spf1-all"));
        assert!(!is_spf_record(b"spf1"));
        let txts = vec![b"v=spf1 a".to_vec(), b"v=spf1 mx".to_vec()];
        assert!(select_record("x.example", &txts).is_err());
        assert_eq!(
            select_record("x.example", &txts[..1]).unwrap(),
            Some(&b"v=spf1 a"[..])
        );
        assert_eq!(
            select_record("x.example", &[b"hello".to_vec()]).unwrap(),
            None
        );
    }

    #[test]
    fn mechanisms_and_cidr() {
        let r = parse("v=spf1 a/24//64 mx:%{d}/0 -ip4:192.0.2.0/24 ~ip6:2001:db8::/32 ?ptr exists:%{i}.x.example +include:_spf.example.com all").unwrap();
        assert_eq!(r.directives.len(), 8);
        assert_eq!(
            r.directives[0].mechanism,
            Mechanism::A {
                domain: None,
                cidr: DualCidr { v4: 24, v6: 64 }
            }
        );
        assert!(
            matches!(&r.directives[1].mechanism, Mechanism::Mx { domain: Some(_), cidr } if cidr.v4 == 0 && cidr.v6 == 128)
        );
        assert_eq!(r.directives[2].qualifier, Qualifier::Fail);
        assert_eq!(r.directives[2].text, "-ip4:192.0.2.0/24");
        assert!(matches!(
            r.directives[3].mechanism,
            Mechanism::Ip6 { prefix: 32, .. }
        ));
        assert!(r.has_all());
        let r = parse("v=spf1 a//0 ip4:0.0.0.0/0 ip6:::/0 ip6:::1/128").unwrap();
        assert!(matches!(
            r.directives[0].mechanism,
            Mechanism::A {
                cidr: DualCidr { v4: 32, v6: 0 },
                ..
            }
        ));
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "v=spf1 -all.",
            "v=spf1 -all:foo",
            "v=spf1 -all/8",
            "v=spf1 ptr/0",
            "v=spf1 ptr:",
            "v=spf1 a:",
            "v=spf1 a/33",
            "v=spf1 a//129",
            "v=spf1 a/24/64",
            "v=spf1 ip4:1.2.3.4/33",
            "v=spf1 ip4:1.2.3.4/032",
            "v=spf1 ip4:1.2.3.4//32",
            "v=spf1 ip4:1.2.3",
            "v=spf1 ip4:01.2.3.4",
            "v=spf1 ip4:1.2.3.4:8080",
            "v=spf1 ip4",
            "v=spf1 ip6",
            "v=spf1 ip6:::1/129",
            "v=spf1 ip6:::1//33",
            "v=spf1 ip6::CAFE::BABE",
            "v=spf1 include",
            "v=spf1 include:",
            "v=spf1 include:example.com/24",
            "v=spf1 exists",
            "v=spf1 exists:foo.example.com/24",
            "v=spf1 a:museum",
            "v=spf1 a:abc.123",
            "v=spf1 a:111.222.33.44",
            "v=spf1 redirect:example.com",
            "v=spf1 redirect=",
            "v=spf1 redirect=-all",
            "v=spf1 exp=",
            "v=spf1 1up=foo",
            "v=spf1 =all",
            "v=spf1 foo=%abc",
            "v=spf1 moo.cow/far_out=man:dog/cat",
            "v=spf1 moo",
            "v=spf1 a:ctrl.example.com\rptr",
            "v=spf1 a:foo.example.com\0",
            "v=spf1 exp=a.example.com exp=b.example.com",
            "v=spf1 redirect=a.example.com redirect=b.example.com",
            "v=spf1 a:%{c}.example.com",
            "v=spf1 \u{96}all",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn accepted_oddities() {
        for good in [
            "v=spf1",
            "v=spf1 ",
            "v=spf1  a  -all ",
            "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all",
            "v=spf1 default=+",
            "v=spf1 a:foo:bar/baz.example.com",
            "v=spf1 a:mail.example...com",
            "v=spf1 a:foo.example.xn--zckzah",
            "v=spf1 redirect=%{d}.d.spf.example.com.",
            "V=SPF1 IP4:192.0.2.1 -ALL",
            "v=spf1 ip6:::FFFF:1.2.3.4",
        ] {
            assert!(parse(good).is_ok(), "{good:?} should parse");
        }
    }
}
