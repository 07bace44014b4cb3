//! Recording the result: the `Received-SPF` header field (RFC 7208 §9.1) and the `smtp.mailfrom`
//! / `smtp.helo` property for Authentication-Results (RFC 7208 §9.2, RFC 8601 §2.7.2).

use std::fmt;
use std::net::IpAddr;

use crate::{Identity, SpfOutput, SpfResult};

/// Longest value (after sanitising) written for one key or into the comment; longer values are
/// cut so the field stays well inside RFC 5322 line limits.
const MAX_VALUE: usize = 200;

/// Builds the value of a `Received-SPF` header field (RFC 7208 §9.1).
///
/// Everything from the sender (addresses, HELO, the published mechanism, problems) is sanitised:
/// only printable US-ASCII is kept, values are quoted where they are not dot-atoms, and each is
/// cut to 200 bytes.
#[derive(Debug, Clone)]
pub struct ReceivedSpf<'a> {
    output: &'a SpfOutput,
    identity: Identity,
    client_ip: IpAddr,
    envelope_from: Option<&'a [u8]>,
    helo: Option<&'a [u8]>,
    receiver: Option<&'a str>,
}

impl<'a> ReceivedSpf<'a> {
    /// A header for `output`, which checked `identity` for the SMTP client `client_ip`.
    pub fn new(output: &'a SpfOutput, identity: Identity, client_ip: IpAddr) -> Self {
        Self {
            output,
            identity,
            client_ip,
            envelope_from: None,
            helo: None,
            receiver: None,
        }
    }

    /// Adds `envelope-from=` (the MAIL FROM reverse-path as given; RFC 7208 §9.1).
    pub fn envelope_from(mut self, mail_from: &'a [u8]) -> Self {
        self.envelope_from = Some(mail_from);
        self
    }

    /// Adds `helo=` (the HELO/EHLO argument; RFC 7208 §9.1).
    pub fn helo(mut self, helo: &'a [u8]) -> Self {
        self.helo = Some(helo);
        self
    }

    /// Adds `receiver=` and names the receiver in the comment (RFC 7208 §9.1).
    pub fn receiver(mut self, receiver: &'a str) -> Self {
        self.receiver = Some(receiver);
        self
    }

    /// The field value on one line: `result (comment) key=value; ...`.
    pub fn value(&self) -> String {
        self.render("; ")
    }

    /// The field value folded between key-value pairs with `fold` (for example `"\r\n\t"` or
    /// `"\n\t"`, whichever the MTA interface expects).
    pub fn folded_value(&self, fold: &str) -> String {
        self.render(&format!(";{fold}"))
    }

    fn render(&self, separator: &str) -> String {
        let out = self.output;
        let mut s = String::with_capacity(256);
        s.push_str(out.result.as_str());
        s.push_str(" (");
        if let Some(r) = self.receiver {
            s.push_str(&comment_text(r.as_bytes()));
            s.push_str(": ");
        }
        s.push_str(&self.comment());
        s.push(')');
        let mut pairs: Vec<(&str, String)> = Vec::new();
        // an IPv6 address is no dot-atom (`:` is not atext): quoted (RFC 7208 §9.1)
        pairs.push((
            "client-ip",
            atom_or_quoted(self.client_ip.to_string().as_bytes()),
        ));
        if let Some(from) = self.envelope_from {
            pairs.push(("envelope-from", quoted(from)));
        }
        if let Some(helo) = self.helo {
            pairs.push(("helo", atom_or_quoted(helo)));
        }
        if let Some(r) = self.receiver {
            pairs.push(("receiver", atom_or_quoted(r.as_bytes())));
        }
        pairs.push(("identity", self.identity.as_str().to_string()));
        if let Some(m) = &out.mechanism {
            pairs.push(("mechanism", atom_or_quoted(m.as_bytes())));
        }
        if let Some(p) = &out.problem {
            pairs.push(("problem", quoted(p.to_string().as_bytes())));
        }
        for (i, (key, value)) in pairs.iter().enumerate() {
            s.push_str(if i == 0 { " " } else { separator });
            s.push_str(key);
            s.push('=');
            s.push_str(value);
        }
        s.push(';');
        s
    }

    fn comment(&self) -> String {
        let out = self.output;
        let who = comment_text(out.sender.as_bytes());
        let ip = self.client_ip;
        match out.result {
            SpfResult::Pass => format!("domain of {who} designates {ip} as permitted sender"),
            SpfResult::Fail => {
                format!("domain of {who} does not designate {ip} as permitted sender")
            }
            SpfResult::SoftFail => {
                format!("domain of transitioning {who} does not designate {ip} as permitted sender")
            }
            SpfResult::Neutral => {
                format!("{ip} is neither permitted nor denied by domain of {who}")
            }
            SpfResult::None => format!("domain of {who} does not designate permitted sender hosts"),
            SpfResult::TempError => format!("temporary error looking up the SPF policy of {who}"),
            SpfResult::PermError => format!("permanent error in the SPF policy of {who}"),
        }
    }
}

impl fmt::Display for ReceivedSpf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value())
    }
}

/// An Authentication-Results property for the SPF result (RFC 8601 §2.7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResProperty {
    /// Always `smtp`.
    pub ptype: &'static str,
    /// `mailfrom` or `helo`.
    pub property: &'static str,
    /// The domain (RFC 8601 §2.7.2: no local-part unless the policy used it), or for `mailfrom`
    /// when the evaluation expanded `%{s}` or `%{l}`, the whole sender.
    pub value: String,
}

/// The `smtp.mailfrom` / `smtp.helo` property for `output` (RFC 7208 §9.2, RFC 8601 §2.7.2).
pub fn authres_property(output: &SpfOutput, identity: Identity) -> AuthResProperty {
    let value = match identity {
        Identity::MailFrom if output.used_local_part => output.sender.clone(),
        _ => output.domain.clone(),
    };
    AuthResProperty {
        ptype: "smtp",
        property: identity.as_str(),
        value,
    }
}

/// Printable ASCII only, cut to [`MAX_VALUE`].
fn printable(raw: &[u8]) -> impl Iterator<Item = char> + '_ {
    raw.iter().take(MAX_VALUE).map(|&b| {
        if (0x20..0x7f).contains(&b) {
            char::from(b)
        } else {
            '?'
        }
    })
}

/// Text safe inside an RFC 5322 comment.
fn comment_text(raw: &[u8]) -> String {
    let mut s = String::new();
    for c in printable(raw) {
        if matches!(c, '(' | ')' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// An RFC 5322 quoted-string.
fn quoted(raw: &[u8]) -> String {
    let mut s = String::from("\"");
    for c in printable(raw) {
        if matches!(c, '"' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// A dot-atom when the value is one (RFC 5322 §3.2.3), else a quoted-string.
fn atom_or_quoted(raw: &[u8]) -> String {
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    let is_dot_atom = !raw.is_empty()
        && raw.len() <= MAX_VALUE
        && raw
            .split(|&b| b == b'.')
            .all(|part| !part.is_empty() && part.iter().all(|&b| atext(b)));
    if is_dot_atom {
        String::from_utf8_lossy(raw).into_owned()
    } else {
        quoted(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SpfError;

    fn output(result: SpfResult) -> SpfOutput {
        SpfOutput {
            result,
            domain: "example.com".into(),
            sender: "myname@example.com".into(),
            mechanism: Some("ip4:192.0.2.1".into()),
            explanation: None,
            dns_terms: 0,
            void_lookups: 0,
            problem: None,
            used_local_part: false,
            records: Vec::new(),
        }
    }

    #[test]
    /// RFC 7208 §9.1's third example, except that `mechanism=` is quoted: `ip4:...` is not a
    /// dot-atom (`:` is not atext), so the ABNF wants a quoted-string.
    fn rfc7208_section_9_1_shape() {
        let out = output(SpfResult::Pass);
        let h = ReceivedSpf::new(&out, Identity::MailFrom, "192.0.2.1".parse().unwrap())
            .receiver("mybox.example.org")
            .envelope_from(b"myname@example.com")
            .helo(b"foo.example.com")
            .value();
        assert_eq!(
            h,
            "pass (mybox.example.org: domain of myname@example.com designates 192.0.2.1 as \
             permitted sender) client-ip=192.0.2.1; envelope-from=\"myname@example.com\"; \
             helo=foo.example.com; receiver=mybox.example.org; identity=mailfrom; \
             mechanism=\"ip4:192.0.2.1\";"
        );
    }

    /// RFC 7208 §9.1: a value is a dot-atom or a quoted-string; an IPv6 address (`:` is not
    /// atext) is no dot-atom, so `client-ip=` quotes it. It was written bare.
    #[test]
    fn ipv6_client_ip_is_quoted() {
        let out = output(SpfResult::Pass);
        let h = ReceivedSpf::new(&out, Identity::MailFrom, "2001:db8::1".parse().unwrap()).value();
        assert!(h.contains(" client-ip=\"2001:db8::1\";"), "{h}");
        assert!(h.contains("designates 2001:db8::1 as"), "{h}");
    }

    #[test]
    fn hostile_values_are_sanitised() {
        let mut out = output(SpfResult::PermError);
        out.sender = "a)(\\b@example.com".into();
        out.mechanism = None;
        out.problem = Some(SpfError::Syntax {
            term: "x\"y".into(),
            reason: "bad",
        });
        let evil = b"evil\r\nX-Injected: yes\xff\"";
        let h = ReceivedSpf::new(&out, Identity::Helo, "2001:db8::1".parse().unwrap())
            .helo(evil)
            .envelope_from(&[b'a'; 1000])
            .folded_value("\r\n\t");
        assert!(!h.contains("\r\nX-Injected"), "{h}");
        assert!(h.contains("helo=\"evil??X-Injected: yes?\\\"\""), "{h}");
        assert!(h.contains("a\\)\\(\\\\b@example.com"), "{h}");
        assert!(
            h.contains(r#"problem="syntax error in term \"x\\\"y\": bad""#),
            "{h}"
        );
        assert!(h.lines().all(|l| l.len() < 998));
        assert!(h.starts_with("permerror ("));
    }

    #[test]
    fn authres_values() {
        let out = output(SpfResult::Pass);
        let p = authres_property(&out, Identity::MailFrom);
        assert_eq!(
            (p.ptype, p.property, p.value.as_str()),
            ("smtp", "mailfrom", "example.com")
        );
        let mut out = out;
        out.used_local_part = true;
        let p = authres_property(&out, Identity::MailFrom);
        assert_eq!(p.value, "myname@example.com");
        let p = authres_property(&out, Identity::Helo);
        assert_eq!(p.property, "helo");
    }
}
