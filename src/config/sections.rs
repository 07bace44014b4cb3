//! The sections of `milter.toml`, each with its defaults.

use serde::{Deserialize, Serialize};

use super::values::{FileMode, Network, SocketSpec, Span};

/// `[server]`: listeners, limits and timeouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The sockets to listen on, each with its role.
    pub listen: Vec<Listener>,
    /// Most milter connections served at once; more wait in the accept queue.
    pub max_connections: usize,
    /// Largest milter packet accepted from the MTA, in bytes.
    pub max_packet_size: usize,
    /// How long a connection may sit idle between commands (libmilter uses 7210 s).
    pub idle_timeout: Span,
    /// How long writing one reply may take.
    pub write_timeout: Span,
    /// Budget for answering end-of-message, DNS included; past it the fallback answer is sent.
    pub eom_timeout: Span,
    /// How often to send PROGRESS while end-of-message work is pending.
    pub progress_interval: Span,
    /// On SIGTERM/SIGINT, how long in-flight connections get to finish.
    pub shutdown_timeout: Span,
    /// Permissions of Unix sockets we create (the MTA needs write access).
    pub socket_mode: FileMode,
    /// Owner (user name or number) given to Unix sockets we create; empty: unchanged.
    pub socket_owner: String,
    /// Group (name or number) given to Unix sockets we create, e.g. `postfix`; empty: unchanged.
    pub socket_group: String,
    /// Ask the MTA for the macros we use (SETSYMLIST), where it supports that.
    pub request_macros: bool,
    /// When started as root: the user to switch to after binding sockets and reading keys;
    /// empty: keep running as started.
    pub user: String,
    /// The group to switch to with `user`; empty: the user's primary group.
    pub group: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: vec![Listener::default()],
            max_connections: 512,
            max_packet_size: 1024 * 1024,
            idle_timeout: Span::secs(7210),
            write_timeout: Span::secs(30),
            eom_timeout: Span::secs(240),
            progress_interval: Span::secs(5),
            shutdown_timeout: Span::secs(30),
            socket_mode: FileMode(0o660),
            socket_owner: String::new(),
            socket_group: String::new(),
            request_macros: true,
            user: String::new(),
            group: String::new(),
        }
    }
}

/// One `[[server.listen]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listener {
    /// `inet:HOST:PORT`, `inet:PORT@HOST`, `inet6:PORT@HOST` or `unix:/path`.
    pub socket: SocketSpec,
    /// What the listener does with each message.
    pub role: Role,
}

impl Default for Listener {
    fn default() -> Self {
        Listener {
            socket: SocketSpec::Inet {
                host: "127.0.0.1".into(),
                port: 8891,
            },
            role: Role::Auto,
        }
    }
}

/// What a listener does with mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Sign mail from our own users (see `[outbound]`), verify everything else.
    Auto,
    /// Verify only: every message is inbound mail, nothing is signed.
    Verify,
    /// Sign only: every message is ours (submission), nothing is verified or rejected.
    Sign,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Auto => "auto",
            Role::Verify => "verify",
            Role::Sign => "sign",
        })
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`, or a tracing filter; `RUST_LOG` overrides it.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[dns]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// Nameservers as `IP:PORT`; empty means those in /etc/resolv.conf.
    pub nameservers: Vec<String>,
    /// Timeout of one query attempt.
    pub timeout: Span,
    /// Attempts per query before it is a temporary error.
    pub attempts: usize,
    /// Answers kept in the shared cache (positive and negative).
    pub cache_size: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            nameservers: Vec::new(),
            timeout: Span::secs(5),
            attempts: 2,
            cache_size: 8192,
        }
    }
}

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
}

impl Default for AuthresConfig {
    fn default() -> Self {
        AuthresConfig {
            authserv_id: String::new(),
            remove_forged: true,
            remove_ids: Vec::new(),
            trusted_ids: Vec::new(),
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
    pub reject_reply: String,
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
            reject_reply: "550 5.7.23 SPF check failed for {domain}: {explanation}".into(),
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
    /// Canonicalization for our signatures, `header/body`.
    pub canonicalization: String,
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
            canonicalization: "relaxed/relaxed".into(),
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

impl DkimKey {
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

/// `[dmarc]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DmarcConfig {
    /// Evaluate DMARC for inbound mail.
    pub enabled: bool,
    /// `rfc9989` (DNS tree walk) or `rfc7489` (public suffix list, `pct=`).
    pub mode: DmarcMode,
    /// Apply the domain's policy: reject `p=reject`, quarantine `p=quarantine`.
    pub enforce: bool,
    /// What quarantine means: `hold` (milter QUARANTINE: Postfix hold queue) or `header`.
    pub quarantine: QuarantineAction,
    /// Header added to quarantined mail when `quarantine = "header"`.
    pub quarantine_header: String,
    /// Reply for rejected mail; `{domain}` is the From domain.
    pub reject_reply: String,
    /// Messages with several From domains: `reject` them, or evaluate each and take the `strictest`.
    pub multiple_from: MultipleFrom,
}

impl Default for DmarcConfig {
    fn default() -> Self {
        DmarcConfig {
            enabled: true,
            mode: DmarcMode::Rfc9989,
            enforce: false,
            quarantine: QuarantineAction::Hold,
            quarantine_header: "X-Spam-Flag: YES".into(),
            reject_reply: "550 5.7.1 Message rejected: DMARC policy of {domain} says reject".into(),
            multiple_from: MultipleFrom::Strictest,
        }
    }
}

/// Which DMARC specification to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DmarcMode {
    /// RFC 9989 (DMARCbis): DNS tree walk, `np`, `psd`, `t`.
    Rfc9989,
    /// RFC 7489: public suffix list, `pct`.
    Rfc7489,
}

/// How DMARC quarantine is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuarantineAction {
    /// Milter QUARANTINE: Postfix puts the message on hold.
    Hold,
    /// Add `dmarc.quarantine_header` for the delivery agent to file as junk.
    Header,
}

/// Handling of several From addresses or domains (RFC 7489 §6.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MultipleFrom {
    /// Reject such messages.
    Reject,
    /// Evaluate every domain and apply the strictest result.
    Strictest,
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

/// `[policy]`: exceptions and failure handling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// On a DNS temporary failure that decides the outcome: `tempfail` or `accept`.
    pub temperror: TempErrorAction,
    /// Reply for `tempfail`.
    pub tempfail_reply: String,
    /// On an internal error or a blown deadline: `tempfail` or `accept`.
    pub on_error: TempErrorAction,
    /// Never reject or quarantine mail from these client networks.
    pub allow_networks: Vec<Network>,
    /// Never reject or quarantine mail authenticated by one of these domains (SPF pass for the
    /// MAIL FROM domain, or a verified DKIM signature with that `d=`; subdomains included).
    pub allow_domains: Vec<String>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            temperror: TempErrorAction::Tempfail,
            tempfail_reply:
                "451 4.7.5 Temporary DNS failure while checking {domain}; try again later".into(),
            on_error: TempErrorAction::Tempfail,
            allow_networks: Vec::new(),
            allow_domains: Vec::new(),
        }
    }
}

/// Answer on temporary failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TempErrorAction {
    /// Ask the sender to retry (4xx).
    Tempfail,
    /// Accept the message (the A-R header still records temperror).
    Accept,
}

/// `[srs]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SrsConfig {
    /// Rewrite envelope senders of forwarded mail in the milter.
    pub enabled: bool,
    /// Our forwarding domain: the domain of SRS addresses we make.
    pub domain: String,
    /// File with secrets, one per line; the first signs, all verify.
    pub secrets: std::path::PathBuf,
    /// Domains that are ours: their senders are not rewritten, their recipients are local.
    pub local_domains: Vec<String>,
    /// Sender domains never rewritten.
    pub exclude_domains: Vec<String>,
    /// `always`, or `when-spf-fails` (only when the sender's SPF would not pass from us).
    pub rewrite: SrsRewrite,
    /// Undo SRS for bounces to our SRS addresses (replace the recipient).
    pub reverse: bool,
    /// Maximum age of an SRS address, in days.
    pub max_age_days: u32,
    /// Length of the hash in SRS addresses.
    pub hash_length: usize,
    /// Separator after `SRS0`/`SRS1`: `=`, `+` or `-`.
    pub separator: String,
    /// Hash alphabet of new addresses: `base64url` (postsrsd 2.2.6+) or `base64` (postsrsd 1.x).
    pub hash_encoding: SrsHashEncoding,
    /// Our outbound IP addresses, for `rewrite = "when-spf-fails"`.
    pub outbound_addresses: Vec<std::net::IpAddr>,
    /// Postfix socketmap listener (`inet:127.0.0.1:10003`); empty disables it.
    pub socketmap: String,
}

impl Default for SrsConfig {
    fn default() -> Self {
        SrsConfig {
            enabled: false,
            domain: String::new(),
            secrets: "/etc/authmilter/srs.secrets".into(),
            local_domains: Vec::new(),
            exclude_domains: Vec::new(),
            rewrite: SrsRewrite::Always,
            reverse: true,
            max_age_days: 21,
            hash_length: 4,
            separator: "=".into(),
            hash_encoding: SrsHashEncoding::Base64url,
            outbound_addresses: Vec::new(),
            socketmap: String::new(),
        }
    }
}

/// When the SRS milter rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SrsRewrite {
    /// Every forwarded message.
    Always,
    /// Only when the original sender's SPF would not authorize our outbound address.
    WhenSpfFails,
}

/// Hash alphabet of new SRS addresses (reverse accepts both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SrsHashEncoding {
    /// `-` and `_` (postsrsd 2.2.6 and later).
    Base64url,
    /// `+` and `/` (postsrsd 1.x and 2.0–2.2.5): set this while an old postsrsd still has
    /// to reverse our addresses.
    Base64,
}
