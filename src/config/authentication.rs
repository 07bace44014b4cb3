//! `[outbound]`, `[authres]`, `[spf]`, `[dkim]` and `[iprev]`: which mail is ours and how
//! each authentication method runs.

use serde::{Deserialize, Serialize};

use super::mail_values::CanonPair;
use super::reply::{RejectReply, TempfailReply};
use super::values::{Network, Span};

/// `[outbound]`: which mail is from our own users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig {
    /// Clients in these networks are ours.
    pub internal_networks: Vec<Network>,
    /// Mail from clients that authenticated with SMTP AUTH (`{auth_authen}`) is ours.
    pub authenticated: bool,
    /// Values of the `{daemon_name}` macro that mark our submission service.
    pub daemon_names: Vec<String>,
    /// For which From domains an authenticated user's mail is signed.
    pub authenticated_from: AuthenticatedFrom,
}

/// `authenticated_from`: which From domains an SMTP AUTH login may have signed (RFC 6376
/// §8.13: a signature vouches for the author; a hosting server's users should not get
/// signatures for each other's domains).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthenticatedFrom {
    /// Any domain we hold a key for (as OpenDKIM).
    #[default]
    Any,
    /// Only the login's own domain and its subdomains: `alice@example.com` gets signatures
    /// for `From: …@example.com` and `…@news.example.com`; a login without a domain gets
    /// none (as rspamd's `allow_username_mismatch = false`).
    LoginDomain,
}

impl AuthenticatedFrom {
    /// Whether mail from SMTP AUTH user `login` with From domain `author` may be signed.
    pub fn allows(self, login: &str, author: &str) -> bool {
        match self {
            AuthenticatedFrom::Any => true,
            // the login's domain as A-labels, as the From domain is (a Unicode login domain
            // never matched its own From)
            AuthenticatedFrom::LoginDomain => login
                .rsplit_once('@')
                .and_then(|(_, domain)| dns::name::to_ascii(domain.as_bytes()).ok())
                .is_some_and(|domain| dns::name::is_subdomain_of(author, &domain)),
        }
    }
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            internal_networks: vec![
                Network(ipnet::IpNet::V4(ipnet::Ipv4Net::new_assert(
                    std::net::Ipv4Addr::new(127, 0, 0, 0),
                    8,
                ))),
                Network(ipnet::IpNet::V6(ipnet::Ipv6Net::new_assert(
                    std::net::Ipv6Addr::LOCALHOST,
                    128,
                ))),
            ],
            authenticated: true,
            daemon_names: vec!["ORIGINATING".into()],
            authenticated_from: AuthenticatedFrom::Any,
        }
    }
}

/// `[authres]`: the Authentication-Results header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthresConfig {
    /// Our authserv-id (RFC 8601 §2.5); empty means this host's name.
    pub authserv_id: String,
    /// Remove incoming Authentication-Results headers that claim our authserv-id.
    pub remove_forged: bool,
    /// More authserv-ids whose incoming headers are removed (e.g. other hosts of ours).
    pub remove_ids: Vec<String>,
    /// Authserv-ids of our own upstream hosts (e.g. a border MX relaying to this one) whose
    /// SPF result is used instead of our own SPF check, which would only see the relay.
    pub trusted_ids: Vec<String>,
    /// The SMTP clients (those upstream hosts' addresses) whose messages' `trusted_ids`
    /// headers are used; empty: any client's (warned at start), as OpenDMARC does.
    pub trusted_clients: Vec<Network>,
}

impl AuthresConfig {
    /// Our authserv-id as written in our Authentication-Results (RFC 8601 §2.5): the
    /// configured one in A-labels (a header field is US-ASCII), or this host's name.
    pub fn our_id(&self) -> String {
        let id = self.authserv_id.trim();
        if id.is_empty() {
            crate::app::host_name()
        } else if id.is_ascii() {
            id.to_string()
        } else {
            // `validate` refuses an id that has no A-label form
            dns::name::to_ascii(id.as_bytes()).unwrap_or_else(|_| id.to_string())
        }
    }

    /// Whether a `trusted_ids` header of a message from `client` may be used (RFC 8601 §5:
    /// only headers our own upstream added; a client that reaches us directly can write any).
    pub fn trusts_client(&self, client: Option<std::net::IpAddr>) -> bool {
        self.trusted_clients.is_empty()
            || client.is_some_and(|ip| self.trusted_clients.iter().any(|n| n.contains(ip)))
    }
}

impl Default for AuthresConfig {
    fn default() -> Self {
        AuthresConfig {
            authserv_id: String::new(),
            remove_forged: true,
            remove_ids: Vec::new(),
            trusted_ids: Vec::new(),
            trusted_clients: Vec::new(),
        }
    }
}

/// `[spf]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpfConfig {
    /// Evaluate SPF for inbound mail.
    pub enabled: bool,
    /// Also evaluate the HELO identity (RFC 7208 §2.3).
    pub helo: bool,
    /// Reject mail whose MAIL FROM gets `fail` (normally DMARC decides instead).
    pub reject_fail: bool,
    /// Reply used when `reject_fail` rejects; `{domain}` and `{explanation}` are filled in.
    pub reject_reply: RejectReply,
    /// Reply used when `reject_fail` meets an SPF `temperror` and `[policy] temperror` is
    /// `tempfail` (RFC 7208 §8.6, RFC 7372 §3.2 X.7.24); `{domain}` is filled in.
    pub tempfail_reply: TempfailReply,
    /// Add a Received-SPF header (RFC 7208 §9.1).
    pub received_spf_header: bool,
    /// DNS-querying terms allowed per evaluation (RFC 7208 §4.6.4).
    pub dns_lookup_limit: usize,
    /// Lookups that return no records allowed per evaluation (RFC 7208 §4.6.4).
    pub void_lookup_limit: usize,
}

impl Default for SpfConfig {
    fn default() -> Self {
        SpfConfig {
            enabled: true,
            helo: true,
            reject_fail: false,
            reject_reply: RejectReply::builtin(
                "550 5.7.23 SPF check failed for {domain}: {explanation}",
            ),
            tempfail_reply: TempfailReply::builtin(
                "451 4.7.24 Temporary DNS failure checking the SPF policy of {domain}; try again later",
            ),
            received_spf_header: false,
            dns_lookup_limit: 10,
            void_lookup_limit: 2,
        }
    }
}

/// `[dkim]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DkimConfig {
    /// Verify DKIM signatures on inbound mail.
    pub verify: bool,
    /// Most signatures verified per message; further ones are not evaluated.
    pub max_signatures: usize,
    /// rsa-sha1 signatures (RFC 8301 forbids them): `reject` gives `policy`; `verify` accepts them.
    pub rsa_sha1: Sha1Policy,
    /// A signature whose `l=` leaves part of the body unsigned still passes. Off (the
    /// default): it gets `policy`, so appended content never rides on someone's signature.
    pub allow_partial_body: bool,
    /// Canonicalization for our signatures, `header/body`.
    pub canonicalization: CanonPair,
    /// Header fields we sign; empty means the RFC 6376 §5.4.1 recommended set.
    pub sign_headers: Vec<String>,
    /// Sign each header name once more than present, so none can be added later.
    pub oversign: bool,
    /// Signature lifetime (`x=`); `0s` means no expiry.
    pub expiration: Span,
    /// How often to check that DNS publishes each key's public half; `0s` disables (and then
    /// keys with `state = "next"` never sign).
    pub key_check_interval: Span,
    /// How long DNS must have served a `next` key's exact public key, without a break, before
    /// it signs (and the active key it replaces retires): long enough for old TTLs to expire.
    pub publish_wait: Span,
    /// File remembering key promotions across restarts; empty: not remembered (after a restart
    /// a `next` key waits `publish_wait` again, the old key signing meanwhile).
    pub state_file: std::path::PathBuf,
    /// Accept private key files readable or writable by group or others (normally an error).
    pub allow_loose_key_permissions: bool,
    /// Signing keys.
    #[serde(rename = "key")]
    pub keys: Vec<DkimKey>,
    /// Which keys sign which From domains; empty means each key signs its own domain.
    pub signing: Vec<SigningRule>,
}

impl Default for DkimConfig {
    fn default() -> Self {
        DkimConfig {
            verify: true,
            max_signatures: 8,
            rsa_sha1: Sha1Policy::Reject,
            allow_partial_body: false,
            canonicalization: CanonPair::RELAXED,
            sign_headers: Vec::new(),
            oversign: true,
            expiration: Span::secs(0),
            key_check_interval: Span::secs(3600),
            publish_wait: Span::secs(3600),
            state_file: "/var/lib/authmilter/dkim-keys.json".into(),
            allow_loose_key_permissions: false,
            keys: Vec::new(),
            signing: Vec::new(),
        }
    }
}

/// What to do with rsa-sha1 signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sha1Policy {
    /// Result `policy` without verifying (RFC 8301 §3.1).
    Reject,
    /// Verify them as before RFC 8301 (legacy interoperability).
    Verify,
}

/// One `[[dkim.key]]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DkimKey {
    /// A name for `[[dkim.signing]]` to refer to; default `selector._domainkey.domain`.
    pub name: String,
    /// The `d=` domain.
    pub domain: String,
    /// The `s=` selector.
    pub selector: String,
    /// PEM file with the private key (PKCS#8 or PKCS#1 RSA, PKCS#8 Ed25519).
    pub path: std::path::PathBuf,
    /// `active` (signs), `next` (signs once DNS has published it for `publish_wait`, then
    /// retires the active key of the same domain and type) or `retired` (never signs).
    pub state: KeyState,
    /// For a `next` key: the names of the keys it replaces when promoted (of its domain and
    /// key type; a key retired at once among them too). Empty: every active key of its domain
    /// and key type (docs/dkim.md, key rotation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
}

/// Where a signing key is in its life (key rotation, docs/dkim.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyState {
    /// Signs (unless DNS shows a missing, different, revoked or restricted record).
    #[default]
    Active,
    /// Signs only after DNS has served exactly this key for `dkim.publish_wait`.
    Next,
    /// Never signs; kept in the configuration while its record stays published.
    Retired,
}

/// A configured domain as DNS is asked for it (A-labels, lowercase, no trailing dot); a value
/// that is not a valid name only trimmed and lowercased (config check reports it).
pub fn dns_domain(configured: &str) -> String {
    let domain = configured.trim();
    dns::name::to_ascii(domain.as_bytes())
        .unwrap_or_else(|_| domain.trim_end_matches('.').to_ascii_lowercase())
}

impl DkimKey {
    /// The key's DNS record name, `selector._domainkey.domain`, as DNS is asked (A-labels,
    /// lowercase, no trailing dot; RFC 6376 §3.6.2.1): two keys with one record name would
    /// replace each other's record.
    pub fn record_name(&self) -> String {
        format!(
            "{}._domainkey.{}",
            self.selector.trim().to_ascii_lowercase(),
            dns_domain(&self.domain)
        )
    }

    /// The name signing rules use for this key.
    pub fn id(&self) -> String {
        if self.name.is_empty() {
            format!("{}._domainkey.{}", self.selector, self.domain)
        } else {
            self.name.clone()
        }
    }
}

/// One `[[dkim.signing]]` rule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigningRule {
    /// From domain pattern: `example.com`, `*.example.com` (subdomains) or `*`.
    pub from: String,
    /// Names of the keys that sign matching mail (one signature each).
    pub keys: Vec<String>,
}

/// Why `name` cannot stand in a signature's `h=` tag as a header field name (RFC 6376 §3.5;
/// RFC 5322 §2.2 ftext: printable ASCII but ':'; ';' would end the tag), or `None`.
pub fn header_field_name_problem(name: &str) -> Option<&'static str> {
    if name == "*" || name.starts_with(['+', '-', '!']) {
        // OpenDKIM's SignHeaders "*,+name" syntax: no field has such a name
        return Some(
            "not a header field name: OpenDKIM's \"*,+Name\" / \"-Name\" delta syntax is not read here; list every field to sign, or leave sign_headers empty for the default set",
        );
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b':' && b != b';')
    {
        return Some(
            "not a header field name (printable ASCII without ':', ';' or white space; RFC 5322 §2.2)",
        );
    }
    None
}

/// `[iprev]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IprevConfig {
    /// Check forward-confirmed reverse DNS of the client.
    pub enabled: bool,
    /// Most PTR names checked.
    pub max_names: usize,
}

impl Default for IprevConfig {
    fn default() -> Self {
        IprevConfig {
            enabled: true,
            max_names: 10,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AuthenticatedFrom::{Any, LoginDomain};

    /// RFC 6376 §8.13: with `login-domain` a login signs for its own domain and below only.
    #[test]
    fn login_domain_allows_the_logins_domain_and_below() {
        assert!(Any.allows("alice", "anything.example"));
        assert!(LoginDomain.allows("alice@example.com", "example.com"));
        assert!(LoginDomain.allows("Alice@Example.COM", "news.example.com."));
        assert!(LoginDomain.allows("a@b@example.com", "example.com"));
        assert!(!LoginDomain.allows("alice", "example.com"));
        assert!(!LoginDomain.allows("alice@", "example.com"));
        assert!(!LoginDomain.allows("alice@example.com", "badexample.com"));
        assert!(!LoginDomain.allows("alice@example.com", "example.com.evil"));
        assert!(!LoginDomain.allows("alice@news.example.com", "example.com"));
        // the From domain comes as A-labels: a Unicode login domain is compared as A-labels
        assert!(LoginDomain.allows("alice@bücher.example", "xn--bcher-kva.example"));
        assert!(LoginDomain.allows("alice@xn--bcher-kva.example", "xn--bcher-kva.example"));
        assert!(!LoginDomain.allows("alice@bücher.example", "bucher.example"));
    }
}
