//! `[server]`, `[log]` and `[dns]`: listeners, limits, timeouts, logging, the resolver.

use serde::{Deserialize, Serialize};

use super::values::{FileMode, LogLevel, Nameserver, Network, SocketSpec, Span};

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
    /// Most header fields per message that are kept and checked (Postfix passes every
    /// field; real mail has tens). Past it the message is answered per `on_oversize`.
    pub max_headers: usize,
    /// Most bytes of header fields per message that are kept and checked.
    pub max_header_bytes: usize,
    /// A message over `max_headers` or `max_header_bytes`: `tempfail` (451 4.3.4), or
    /// `accept` it unchecked with our Authentication-Results saying so (forged ones removed).
    pub on_oversize: OversizeAction,
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
            max_headers: 1000,
            max_header_bytes: 512 * 1024,
            on_oversize: OversizeAction::Tempfail,
        }
    }
}

/// What to do with a message whose header block is over the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OversizeAction {
    /// Ask the sender to retry (`451 4.3.4`); it will not get through unchecked.
    Tempfail,
    /// Deliver it unchecked: our Authentication-Results says `none` with the reason, forged
    /// ones are still removed, no DMARC policy is applied.
    Accept,
}

/// One `[[server.listen]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listener {
    /// `inet:HOST:PORT`, `inet:PORT@HOST`, `inet6:PORT@HOST` or `unix:/path`.
    pub socket: SocketSpec,
    /// What the listener does with each message.
    pub role: Role,
    /// The only client addresses a TCP listener serves (the MTAs); empty: any. A milter
    /// client chooses the macros and envelope it sends, so whoever reaches the port can have
    /// mail signed and results recorded.
    pub clients: Vec<Network>,
}

impl Listener {
    /// Whether a TCP connection from `peer` may be served (`clients`).
    pub fn serves(&self, peer: std::net::IpAddr) -> bool {
        self.clients.is_empty() || self.clients.iter().any(|n| n.contains(peer))
    }

    /// A TCP listener on an address other hosts can reach, serving any client: worth a
    /// warning at start (`clients`, or a firewall, should say who the MTAs are).
    pub fn open_to_the_network(&self) -> bool {
        matches!(&self.socket, SocketSpec::Inet { host, .. } if !super::is_loopback_host(host))
            && self.clients.is_empty()
    }
}

impl Default for Listener {
    fn default() -> Self {
        Listener {
            socket: SocketSpec::Inet {
                host: "127.0.0.1".into(),
                port: 8891,
            },
            role: Role::Auto,
            clients: Vec::new(),
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
    /// A forwarder (mailing list, alias expansion): verify like `verify`, then sign with
    /// the keys the signing table picks (and ARC-seal, when configured), in one pass.
    Forward,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Auto => "auto",
            Role::Verify => "verify",
            Role::Sign => "sign",
            Role::Forward => "forward",
        })
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`, or a tracing filter; `RUST_LOG` overrides it.
    pub level: LogLevel,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: LogLevel::from("info"),
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
    /// Nameservers as `IP` or `IP:PORT`; empty means those in /etc/resolv.conf.
    pub nameservers: Vec<Nameserver>,
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
