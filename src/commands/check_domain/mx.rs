//! MX hosts (RFC 5321 §5.1) and the forward-confirmed reverse DNS of each of their addresses
//! (what receivers' iprev checks see when these hosts send, RFC 8601 §3).

use std::net::IpAddr;

use dns::DnsError;

use super::Section;
use crate::app::App;

/// Most MX hosts and addresses looked at (bounded work for hostile zones).
const MAX_HOSTS: usize = 10;
const MAX_ADDRESSES: usize = 20;

/// Checks the domain's MX records and the PTR of every MX address.
pub async fn check(app: &App, domain: &str) -> Section {
    let mut s = Section::new(format!("MX {domain}"));
    let r = &*app.resolver;
    let mut mx = match r.mx(domain).await {
        Ok(mx) => mx,
        Err(DnsError::NxDomain) => {
            // every record the other sections ask to publish would need the name first
            s.error(
                format!("{domain} does not exist in DNS (NXDOMAIN): no mail can be delivered to it, and receivers refuse mail from it"),
                "check the spelling; else register or delegate the domain before publishing its records",
            );
            return s;
        }
        Err(e) if e.is_not_found() => {
            s.warn(
                "no MX record: senders fall back to the domain's A/AAAA record (RFC 5321 §5.1)",
                format!("publish an MX record, e.g. `{domain}. IN MX 10 mail.{domain}.`, or a null MX `0 .` if the domain takes no mail"),
            );
            return s;
        }
        Err(e) => {
            s.could_not_check("the MX records", &e);
            return s;
        }
    };
    mx.sort_by_key(|m| m.preference);
    let is_null = |m: &dns::Mx| m.exchange.is_empty() || m.exchange == ".";
    if mx.len() == 1 && mx.first().is_some_and(is_null) {
        s.note("null MX (RFC 7505): the domain accepts no mail");
        return s;
    }
    s.record = Some(
        mx.iter()
            .map(|m| format!("{} {}", m.preference, m.exchange))
            .collect::<Vec<_>>()
            .join(", "),
    );
    if mx.iter().any(is_null) {
        s.error(
            "a null MX `0 .` beside other MX records: RFC 7505 §3 forbids any other MX with it, and senders may treat the domain as taking no mail",
            "remove the null MX if the domain takes mail, or the other MX records if it does not",
        );
        mx.retain(|m| !is_null(m));
    }
    let mut addresses = 0;
    for m in mx.iter().take(MAX_HOSTS) {
        let host = m.exchange.as_str();
        let mut ips: Vec<IpAddr> = Vec::new();
        let mut failed: Option<DnsError> = None;
        match r.a(host).await {
            Ok(v4) => ips.extend(v4.into_iter().map(IpAddr::V4)),
            Err(e) if e.is_not_found() => {}
            Err(e) => failed = Some(e),
        }
        match r.aaaa(host).await {
            Ok(v6) => ips.extend(v6.into_iter().map(IpAddr::V6)),
            Err(e) if e.is_not_found() => {}
            Err(e) => failed = failed.or(Some(e)),
        }
        if let Some(e) = failed {
            s.could_not_check(&format!("the addresses of {host}"), &e);
            if ips.is_empty() {
                continue;
            }
        }
        if ips.is_empty() {
            s.error(
                format!(
                    "MX {host} has no A or AAAA record: mail to {domain} cannot be delivered there"
                ),
                format!("publish an address for {host}, or remove the MX record"),
            );
            continue;
        }
        for ip in ips {
            addresses += 1;
            if addresses > MAX_ADDRESSES {
                s.note(format!(
                    "more than {MAX_ADDRESSES} MX addresses; the rest are not checked"
                ));
                return s;
            }
            let out = iprev::check(r, ip, &app.iprev).await;
            match out.result {
                iprev::IprevResult::Pass => {
                    s.details.push(format!(
                        "{} {host} {ip} -> PTR {}",
                        m.preference,
                        out.name.as_deref().unwrap_or("")
                    ));
                    s.ok(format!(
                        "{host} {ip}: reverse DNS {} is forward-confirmed",
                        out.name.unwrap_or_default()
                    ));
                }
                iprev::IprevResult::TempError => {
                    s.details.push(format!("{} {host} {ip} -> ?", m.preference));
                    s.push(
                        super::Level::CouldNotCheck,
                        format!(
                            "could not check the reverse DNS of {host} {ip}: {}",
                            out.reason
                        ),
                        Some(
                            "retry later; if it persists, check the reverse zone's nameservers"
                                .into(),
                        ),
                    );
                }
                _ => {
                    let names = if out.ptr_names.is_empty() {
                        "no PTR".to_string()
                    } else {
                        let more = match out.more_ptr_names {
                            0 => String::new(),
                            n => format!(" and {n} more"),
                        };
                        format!("PTR {}{more}", out.ptr_names.join(", "))
                    };
                    s.details
                        .push(format!("{} {host} {ip} -> {names}", m.preference));
                    s.warn(
                        format!("{host} {ip}: {} (receivers' iprev gives fail, and many reject or score mail sent from it)", out.reason),
                        format!("ask the address's owner to set its PTR to {host}, which resolves back to {ip}"),
                    );
                }
            }
        }
    }
    if mx.len() > MAX_HOSTS {
        s.note(format!(
            "more than {MAX_HOSTS} MX hosts; the rest are not checked"
        ));
    }
    s
}
