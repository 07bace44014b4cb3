//! Report destinations: the address of a `mailto:` URI, external destination verification
//! (RFC 9990 §4; RFC 9991 §5 for `ruf`; RFC 7489 §7.1) and an MX check, all through
//! [`dns::Resolver`].

use dns::{DnsError, Resolver};

use crate::message::checked_address;
use crate::observation::ReportAddress;
use crate::vocabulary::Mode;

/// At most this many `rua` (or `ruf`) URIs of one record are used, in the order given (RFC 9990
/// §3.5 "up to the Receiver's limits on supported URIs"; RFC 7489 §6.2 asks for at least two).
pub const MAX_REPORT_URIS: usize = 10;

/// The address of a `mailto:` URI (RFC 6068): `?headers` dropped, `%XX` decoded, an
/// internationalized domain (UTF-8, RFC 6068 §2) converted to A-labels (RFC 5890 §2.3.2.1),
/// checked to be a plain ASCII `local@domain` (a UTF-8 local part needs SMTPUTF8, which our
/// submission does not use). `None` for other schemes and unusable addresses.
pub fn mailto_address(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    if !scheme.eq_ignore_ascii_case("mailto") {
        return None;
    }
    let addr = rest.split('?').next().unwrap_or(rest);
    let decoded = percent_decode(addr)?;
    let decoded = match decoded.rsplit_once('@') {
        Some((local, domain)) if !domain.is_ascii() && local.is_ascii() => {
            let ascii = idna::domain_to_ascii(domain).ok()?;
            format!("{local}@{ascii}")
        }
        _ => decoded,
    };
    checked_address(&decoded, "mailto address").ok()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The "destination host" of a report URI (RFC 9990 §4 step 1): the domain of a `mailto:`
/// address, or the host of an `https://host[:port]/…` URI; lowercase A-label, no trailing dot.
pub fn destination_host(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    let host = if scheme.eq_ignore_ascii_case("mailto") {
        let addr = percent_decode(rest.split('?').next().unwrap_or(rest))?;
        let (local, domain) = addr.rsplit_once('@')?;
        // an `@` in the local part: not one address (RFC 5321 §4.1.2), no host to verify
        if local.is_empty()
            || local.contains('@')
            || domain.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return None;
        }
        domain.to_string()
    } else {
        let rest = rest.strip_prefix("//")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host_port.starts_with('[') {
            return None; // an IP literal has no DNS name to ask
        }
        host_port.split(':').next()?.to_string()
    };
    let host = host.trim_end_matches('.');
    let ascii = idna::domain_to_ascii(host).ok()?;
    (!ascii.is_empty()).then_some(ascii)
}

/// Whether a URI came from `rua` or `ruf` (the verification record's override tag differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportKind {
    /// Aggregate reports, `rua` (RFC 9990 §4).
    Aggregate,
    /// Failure reports, `ruf` (RFC 9991 §5).
    Failure,
}

/// The outcome of external destination verification (RFC 9990 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The destination is in the Policy Domain's organization: no check is needed.
    Internal,
    /// The destination published `<policy-domain>._report._dmarc.<host>` with `v=DMARC1`;
    /// send to these URIs (the original one, or the destination's override, step 9).
    Authorized(Vec<ReportAddress>),
    /// Not authorized: the URI MUST be ignored (why, for the log).
    NotAuthorized(String),
    /// A temporary DNS failure of the destination's DNS: try again later; never treated as
    /// authorized.
    TempError(String),
    /// A temporary DNS failure of the Policy Domain's own DNS (its tree walk): this report
    /// waits, and says nothing about the destination's other reports.
    PolicyTempError(String),
}

impl Verification {
    /// The URIs to send to: the original for `Internal`, the authorized ones, or none.
    pub fn destinations(&self, original: &ReportAddress) -> Vec<ReportAddress> {
        match self {
            Verification::Internal => vec![original.clone()],
            Verification::Authorized(uris) => uris.clone(),
            Verification::NotAuthorized(_)
            | Verification::TempError(_)
            | Verification::PolicyTempError(_) => Vec::new(),
        }
    }
}

/// Verifies that the destination of `uri` accepts `kind` reports about `policy_domain`
/// (RFC 9990 §4, RFC 7489 §7.1). The organizational domains are compared as `mode`'s
/// alignment finds them: the DNS tree walk in RFC 9989 mode (RFC 9989 §4.10.2: a `psd=y`
/// hoster's customers are different organizations), the public suffix list (no DNS) in
/// RFC 7489 mode; when they differ, the TXT record at
/// `<policy-domain>._report._dmarc.<destination host>` is looked up: at least one record
/// starting with `v=DMARC1` authorizes; an override `rua` (`ruf` for failure reports) in it
/// replaces the URI (its first [`MAX_REPORT_URIS`]), but only if all of those have the same
/// destination host, otherwise nothing may be sent.
pub async fn verify_destination<R: Resolver + ?Sized>(
    resolver: &R,
    policy_domain: &str,
    uri: &ReportAddress,
    kind: ReportKind,
    mode: Mode,
) -> Verification {
    let Some(host) = destination_host(&uri.uri) else {
        return Verification::NotAuthorized(format!("no destination host in {}", uri.uri));
    };
    let policy_domain = match idna::domain_to_ascii(policy_domain.trim_end_matches('.')) {
        Ok(d) if !d.is_empty() => d,
        _ => return Verification::NotAuthorized(format!("bad policy domain {policy_domain:?}")),
    };
    match same_organization(resolver, &policy_domain, &host, mode).await {
        Ok(true) => return Verification::Internal,
        Ok(false) => {}
        Err(name) => {
            let why = format!("{name}: temporary DNS error finding the organizational domain");
            // a name on the destination's side of the walk (its own or an ancestor's record)
            // is the destination's DNS failing; any other is the Policy Domain's
            let queried = name.strip_prefix("_dmarc.").unwrap_or(&name);
            return if dns::name::is_subdomain_of(&host, queried)
                || dns::name::is_subdomain_of(queried, &host)
            {
                Verification::TempError(why)
            } else {
                Verification::PolicyTempError(why)
            };
        }
    }
    let name = format!("{policy_domain}._report._dmarc.{host}");
    if dns::normalize_name(&name).is_err() {
        // step 4: too long for DNS, no positive determination
        return Verification::NotAuthorized(format!("{name} exceeds DNS limits"));
    }
    let records = match resolver.txt(&name).await {
        Ok(r) => r,
        Err(e) if e.is_temporary() => {
            return Verification::TempError(format!("{name}: {e}"));
        }
        Err(e) => return Verification::NotAuthorized(format!("{name}: {e}")),
    };
    let Some(record) = records.iter().find_map(|txt| dmarc::parse_record(txt).ok()) else {
        return Verification::NotAuthorized(format!("{name}: no record starting v=DMARC1"));
    };
    let overrides = match kind {
        ReportKind::Aggregate => &record.rua,
        ReportKind::Failure => &record.ruf,
    };
    if overrides.is_empty() {
        return Verification::Authorized(vec![uri.clone()]);
    }
    let mut uris = Vec::with_capacity(overrides.len().min(MAX_REPORT_URIS));
    for o in overrides.iter().take(MAX_REPORT_URIS) {
        if destination_host(&o.uri).as_deref() != Some(host.as_str()) {
            return Verification::NotAuthorized(format!(
                "{name}: override {} points to another host",
                o.uri
            ));
        }
        uris.push(ReportAddress::from(o));
    }
    Verification::Authorized(uris)
}

/// Whether `a` and `b` have the same Organizational Domain under `mode` (RFC 9989 §4.10.2
/// tree walk, or RFC 7489 §3.2 public suffix list). `Err(name)`: a temporary DNS failure.
async fn same_organization<R: Resolver + ?Sized>(
    resolver: &R,
    a: &str,
    b: &str,
    mode: Mode,
) -> Result<bool, String> {
    match mode {
        Mode::Rfc7489 => {
            Ok(dmarc::psl_organizational_domain(a) == dmarc::psl_organizational_domain(b))
        }
        Mode::Rfc9989 => {
            let orgs = dmarc::tree_walk_organizational_domains(resolver, &[a, b]).await?;
            Ok(!orgs.is_empty() && orgs.first() == orgs.get(1))
        }
    }
}

/// Whether a domain can receive mail (RFC 5321 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MxStatus {
    /// An MX, or no MX but an address (implicit MX).
    Exists,
    /// NXDOMAIN, a null MX (RFC 7505), or neither MX nor address.
    Missing,
    /// A temporary DNS failure: unknown, try later.
    TempError,
}

/// Checks that `domain` has somewhere to deliver mail, to skip report destinations that
/// cannot receive (an optional courtesy, not required by RFC 9990).
pub async fn mx_exists<R: Resolver + ?Sized>(resolver: &R, domain: &str) -> MxStatus {
    match resolver.mx(domain).await {
        Ok(mx) => {
            let null = mx.len() == 1
                && mx
                    .iter()
                    .all(|m| m.exchange.trim_end_matches('.').is_empty());
            if null {
                MxStatus::Missing
            } else {
                MxStatus::Exists
            }
        }
        Err(DnsError::NoData) => {
            let a = resolver.a(domain).await.map(|_| ());
            let aaaa = match a {
                Ok(()) => return MxStatus::Exists,
                Err(ref e) if e.is_temporary() => return MxStatus::TempError,
                Err(_) => resolver.aaaa(domain).await.map(|_| ()),
            };
            match aaaa {
                Ok(()) => MxStatus::Exists,
                Err(e) if e.is_temporary() => MxStatus::TempError,
                Err(_) => MxStatus::Missing,
            }
        }
        Err(e) if e.is_temporary() => MxStatus::TempError,
        Err(_) => MxStatus::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_addresses() {
        assert_eq!(
            mailto_address("mailto:dmarc%2Brua@Example.COM?subject=x").as_deref(),
            Some("dmarc+rua@Example.COM")
        );
        assert_eq!(mailto_address("https://x.example/"), None);
        assert_eq!(mailto_address("mailto:a%0d%0aBcc:x@y"), None);
        assert_eq!(
            destination_host("mailto:r@Reports.Example.NET.").as_deref(),
            Some("reports.example.net")
        );
        assert_eq!(
            destination_host("https://user@rx.example:8443/path").as_deref(),
            Some("rx.example")
        );
        assert_eq!(
            destination_host("mailto:r@b%C3%BCcher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(destination_host("https://[2001:db8::1]/"), None);
    }

    /// RFC 6068 §2: a `mailto:` domain may be UTF-8, percent-encoded; it is sent to as its
    /// A-labels (the destination check already used them), where it was refused as "not a
    /// usable mailto: URI". A UTF-8 local part needs SMTPUTF8: still refused.
    #[test]
    fn internationalized_mailto_domains_become_a_labels() {
        assert_eq!(
            mailto_address("mailto:d@b%C3%BCcher.example").as_deref(),
            Some("d@xn--bcher-kva.example")
        );
        assert_eq!(
            mailto_address("mailto:d@B%C3%9Ccher.Example?subject=x").as_deref(),
            Some("d@xn--bcher-kva.example")
        );
        assert_eq!(
            mailto_address("mailto:j%C3%BCrgen@b%C3%BCcher.example"),
            None
        );
        assert_eq!(mailto_address("mailto:d@b%C3%BCcher%0a.example"), None);
    }
}
