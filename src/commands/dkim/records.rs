//! A DKIM key record written for the places people publish DNS: a BIND zone file
//! (RFC 1035 §5), tinydns-data (djbdns), an nsupdate script (RFC 2136 dynamic update), and a
//! DNS provider's web form.

use dkim::DnsKeyRecord;

/// TTL suggested for a new key record: short enough to fix a mistake quickly.
pub const SUGGESTED_TTL: u32 = 3600;

/// The record in every form, as printed by `genkey` and `rotate`.
pub fn all_forms(record: &DnsKeyRecord, selector: &str, domain: &str) -> String {
    let name = dkim::key_name(selector, domain);
    let mut out = String::new();
    out.push_str("BIND zone file:\n\n");
    out.push_str(&record.zone_entry(selector, domain));
    out.push_str("\n\ntinydns-data (djbdns):\n\n");
    out.push_str(&tinydns(record, &name));
    out.push_str("\n\nnsupdate (dynamic update, RFC 2136; add `server` and `key` lines as your setup needs):\n\n");
    out.push_str(&nsupdate(record, &name));
    out.push_str("\nDNS provider's web form:\n");
    out.push_str(&format!(
        "  Name:  {name}\n  Type:  TXT\n  Value: {}\n",
        record.text()
    ));
    out
}

/// tinydns-data's TXT line, `'fqdn:text:ttl`, with `:`, `\` and every byte outside printable
/// ASCII written as a three-digit octal escape (tinydns-data splits long text itself).
pub fn tinydns(record: &DnsKeyRecord, name: &str) -> String {
    let mut text = String::new();
    for b in record.text().bytes() {
        if b == b':' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            text.push_str(&format!("\\{b:03o}"));
        } else {
            text.push(char::from(b));
        }
    }
    format!("'{name}:{text}:{SUGGESTED_TTL}")
}

/// An nsupdate script adding the record (strings of at most 255 bytes, RFC 1035 §3.3).
pub fn nsupdate(record: &DnsKeyRecord, name: &str) -> String {
    let strings: Vec<String> = record
        .txt_strings()
        .iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!(
        "update add {name}. {SUGGESTED_TTL} IN TXT {}\nsend\n",
        strings.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> DnsKeyRecord {
        DnsKeyRecord {
            key_type: crypto::KeyType::Ed25519,
            public_key: vec![7; 32],
            testing: false,
        }
    }

    #[test]
    fn tinydns_escapes_colons_only_where_needed() {
        let line = tinydns(&record(), "s._domainkey.example.com");
        assert!(line.starts_with("'s._domainkey.example.com:v=DKIM1; k=ed25519; p="));
        assert!(line.ends_with(":3600"));
        // exactly two unescaped colons: the field separators
        assert_eq!(line.matches(':').count(), 2, "{line}");
        let with_colon = DnsKeyRecord {
            testing: true,
            ..record()
        };
        assert!(!tinydns(&with_colon, "x").contains("\\072"));
    }

    #[test]
    fn nsupdate_quotes_each_string() {
        let script = nsupdate(&record(), "s._domainkey.example.com");
        assert!(
            script.starts_with("update add s._domainkey.example.com. 3600 IN TXT \"v=DKIM1;"),
            "{script}"
        );
        assert!(script.ends_with("\nsend\n"));
    }
}
