//! Transport security records: the MTA-STS policy indicator (`_mta-sts`, RFC 8461 §3.1) and
//! SMTP TLS reporting (`_smtp._tls`, RFC 8460 §3).

use super::Section;
use crate::app::App;

/// `_mta-sts.<domain>`: `v=STSv1; id=...`.
pub async fn check_mta_sts(app: &App, domain: &str) -> Section {
    let mut s = Section::new(format!("MTA-STS {domain}"));
    let name = format!("_mta-sts.{domain}");
    let txts = match app.resolver.txt(&name).await {
        Ok(t) => t,
        Err(e) if e.is_not_found() => {
            s.note(format!(
                "no MTA-STS record at {name}: senders may deliver to you without TLS if an attacker strips STARTTLS"
            ));
            return s;
        }
        Err(e) => {
            s.could_not_check(&format!("the MTA-STS record {name}"), &e);
            return s;
        }
    };
    let records: Vec<String> = txts
        .iter()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .filter(|t| t.trim_start().starts_with("v=STSv1"))
        .collect();
    match records.as_slice() {
        // RFC 8461 §3.1: other records are discarded (a wildcard TXT lands here too)
        [] => s.note(format!(
            "no MTA-STS record at {name} (its TXT records are no v=STSv1 record): senders may deliver to you without TLS if an attacker strips STARTTLS"
        )),
        [one] => {
            s.record = Some(one.clone());
            let has_id = one.split(';').any(|t| {
                t.trim().strip_prefix("id=").is_some_and(|v| {
                    !v.is_empty() && v.len() <= 32 && v.chars().all(|c| c.is_ascii_alphanumeric())
                })
            });
            if has_id {
                s.ok(format!(
                    "MTA-STS announced; the policy itself is at https://mta-sts.{domain}/.well-known/mta-sts.txt (not fetched)"
                ));
            } else {
                s.error(
                    "no valid id= (1 to 32 letters and digits): senders ignore the record",
                    "add id=<a new value each time the policy changes>",
                );
            }
        }
        _ => s.error(
            "several v=STSv1 records: senders treat MTA-STS as absent (RFC 8461 §3.1)",
            "keep exactly one",
        ),
    }
    s
}

/// `_smtp._tls.<domain>`: `v=TLSRPTv1; rua=mailto:...`.
pub async fn check_tls_rpt(app: &App, domain: &str) -> Section {
    let mut s = Section::new(format!("TLS-RPT {domain}"));
    let name = format!("_smtp._tls.{domain}");
    let txts = match app.resolver.txt(&name).await {
        Ok(t) => t,
        Err(e) if e.is_not_found() => {
            s.note(format!(
                "no TLS-RPT record at {name}: you get no reports of failed TLS deliveries to you"
            ));
            return s;
        }
        Err(e) => {
            s.could_not_check(&format!("the TLS-RPT record {name}"), &e);
            return s;
        }
    };
    let records: Vec<String> = txts
        .iter()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .filter(|t| t.trim_start().starts_with("v=TLSRPTv1"))
        .collect();
    match records.as_slice() {
        // RFC 8460 §3: other records are discarded (a wildcard TXT lands here too)
        [] => s.note(format!(
            "no TLS-RPT record at {name} (its TXT records are no v=TLSRPTv1 record): you get no reports of failed TLS deliveries to you"
        )),
        [one] => {
            s.record = Some(one.clone());
            let rua = one
                .split(';')
                .find_map(|t| t.trim().strip_prefix("rua="))
                .filter(|v| {
                    v.split(',').all(|u| {
                        let u = u.trim();
                        u.starts_with("mailto:") || u.starts_with("https:")
                    })
                });
            match rua {
                Some(r) => s.ok(format!("TLS reports go to {r}")),
                None => s.error(
                    "no valid rua= (mailto: or https: URIs)",
                    format!("add rua=mailto:tls-reports@{domain}"),
                ),
            }
        }
        _ => s.error(
            "several v=TLSRPTv1 records: senders send no reports (RFC 8460 §3)",
            "keep exactly one",
        ),
    }
    s
}
