//! Value types used in `milter.toml`: durations, socket addresses, networks, file modes.
//!
//! Each parses from a string through `TryFrom<String>`, so a bad value is reported by the TOML
//! parser with the key and the line it sits on.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A duration written as `500ms`, `30s`, `5m`, `2h` or `7d` (a bare number means seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "DurationInput", into = "String")]
pub struct Span(Duration);

impl Span {
    /// A span of `secs` seconds.
    pub const fn secs(secs: u64) -> Self {
        Span(Duration::from_secs(secs))
    }

    /// The value as a `std::time::Duration`.
    pub fn get(self) -> Duration {
        self.0
    }

    /// True for a zero duration (used as "off" by some keys).
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

/// What `milter.toml` may hold for a duration: a string with a unit, or a number of seconds.
#[derive(Deserialize)]
#[serde(untagged)]
enum DurationInput {
    Text(String),
    Seconds(u64),
}

/// The longest duration a key takes (100 years): past it, deadlines computed from "now"
/// would overflow the clock's range (a bare `18446744073709551615` seconds panicked as
/// `Instant + Duration`); no setting needs more.
const MAX_SPAN: Duration = Duration::from_secs(100 * 365 * 86_400);

impl Span {
    fn bounded(d: Duration, text: &dyn fmt::Display) -> Result<Self, String> {
        if d > MAX_SPAN {
            return Err(format!(
                "duration {text} is too large (at most {}d)",
                MAX_SPAN.as_secs() / 86_400
            ));
        }
        Ok(Span(d))
    }
}

impl TryFrom<DurationInput> for Span {
    type Error = String;
    fn try_from(input: DurationInput) -> Result<Self, String> {
        match input {
            DurationInput::Seconds(s) => Span::bounded(Duration::from_secs(s), &s),
            DurationInput::Text(t) => t.parse(),
        }
    }
}

impl FromStr for Span {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("bad duration {text:?}: expected e.g. \"30s\", \"5m\", \"2h\""))?;
        let ms_per_unit: u64 = match unit.trim() {
            "ms" => 1,
            "" | "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            other => {
                return Err(format!(
                    "bad duration unit {other:?} in {text:?}: use ms, s, m, h or d"
                ));
            }
        };
        let ms = n
            .checked_mul(ms_per_unit)
            .ok_or_else(|| format!("duration {text:?} is too large"))?;
        Span::bounded(Duration::from_millis(ms), &format!("{text:?}"))
    }
}

impl From<Span> for String {
    fn from(s: Span) -> String {
        s.to_string()
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            write!(f, "0s")
        } else if ms.is_multiple_of(86_400_000) {
            write!(f, "{}d", ms / 86_400_000)
        } else if ms.is_multiple_of(3_600_000) {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// Longest Unix socket path: `sockaddr_un.sun_path` is 108 bytes with the final NUL (Linux).
const MAX_UNIX_PATH: usize = 107;

/// Where a milter listener binds (RFC-less; Postfix and libmilter socket syntax).
///
/// Accepted forms: `inet:HOST:PORT` and `inet:[V6]:PORT` (Postfix), `inet:PORT@HOST` and
/// `inet6:PORT@HOST` (libmilter/Sendmail), `unix:/path` and `local:/path`, and a plain
/// `HOST:PORT` or `[V6]:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SocketSpec {
    /// A TCP socket on `host` (a name or an IP literal) and `port`.
    Inet {
        /// Host name or IP address literal (IPv6 without brackets).
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A Unix-domain socket at `path`.
    Unix(PathBuf),
}

impl TryFrom<String> for SocketSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl FromStr for SocketSpec {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let bad = || {
            format!(
                "bad socket {text:?}: expected inet:HOST:PORT, inet:PORT@HOST, inet6:PORT@HOST or unix:/path"
            )
        };
        if let Some(path) = t.strip_prefix("unix:").or_else(|| t.strip_prefix("local:")) {
            if path.is_empty() {
                return Err(bad());
            }
            if !path.starts_with('/') {
                // found from the working directory of whoever opens it: `/` under systemd,
                // wherever `config check` was typed, somewhere else again for the MTA
                return Err(format!(
                    "bad socket {text:?}: a unix: socket needs an absolute path, like unix:/run/authmilter/milter.sock"
                ));
            }
            if path.len() > MAX_UNIX_PATH {
                // sockaddr_un holds 108 bytes with the final NUL: bind would fail
                return Err(format!(
                    "bad socket {text:?}: a unix: socket path has at most {MAX_UNIX_PATH} bytes (this one {})",
                    path.len()
                ));
            }
            return Ok(SocketSpec::Unix(PathBuf::from(path)));
        }
        let rest = t
            .strip_prefix("inet6:")
            .or_else(|| t.strip_prefix("inet:"))
            .unwrap_or(t);
        // libmilter form PORT@HOST
        if let Some((port, host)) = rest.split_once('@') {
            let port = port.parse().map_err(|_| bad())?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if !is_host(host) {
                return Err(bad());
            }
            return Ok(SocketSpec::Inet {
                host: host.to_string(),
                port,
            });
        }
        // Postfix form HOST:PORT, with [v6]:PORT
        let (host, port) = if let Some(after) = rest.strip_prefix('[') {
            let (h, p) = after.split_once("]:").ok_or_else(bad)?;
            (h, p)
        } else {
            rest.rsplit_once(':').ok_or_else(bad)?
        };
        let bracketed = rest.starts_with('[');
        if !is_host(host) || (host.contains(':') && !bracketed) {
            return Err(bad());
        }
        let port = port.parse().map_err(|_| bad())?;
        Ok(SocketSpec::Inet {
            host: host.to_string(),
            port,
        })
    }
}

/// An IP address literal, or a host name (RFC 1123 §2.1: letters, digits and `-` in labels
/// of 1–63 octets, none starting or ending with `-`, and a top label that is not all digits,
/// so `999.0.0.1` is neither); anything else `serve` could never resolve to bind.
fn is_host(host: &str) -> bool {
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(label_ok)
        && !name
            .rsplit('.')
            .next()
            .is_some_and(|top| top.bytes().all(|b| b.is_ascii_digit()))
}

impl fmt::Display for SocketSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketSpec::Inet { host, port } if host.contains(':') => {
                write!(f, "inet:[{host}]:{port}")
            }
            SocketSpec::Inet { host, port } => write!(f, "inet:{host}:{port}"),
            SocketSpec::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl From<SocketSpec> for String {
    fn from(s: SocketSpec) -> String {
        s.to_string()
    }
}

/// An IP network in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Network(pub ipnet::IpNet);

impl Network {
    /// True when `ip` is inside the network. IPv4-mapped IPv6 addresses match IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.contains(&ip)
    }
}

impl TryFrom<String> for Network {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim();
        if let Ok(net) = t.parse::<ipnet::IpNet>() {
            return Ok(Network(ipv4_mapped_as_ipv4(net).trunc()));
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Network(ipnet::IpNet::from(ip.to_canonical())));
        }
        Err(format!(
            "bad network {s:?}: expected CIDR like 192.0.2.0/24 or an address"
        ))
    }
}

/// `::ffff:a.b.c.d/(96+n)` as the IPv4 network `a.b.c.d/n`: clients are compared as IPv4
/// ([`Network::contains`]), so a network written IPv4-mapped would never match (RFC 4291
/// §2.5.5.2).
fn ipv4_mapped_as_ipv4(net: ipnet::IpNet) -> ipnet::IpNet {
    match net {
        ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(ipnet::IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        other => other,
    }
}

impl From<Network> for String {
    fn from(n: Network) -> String {
        n.0.to_string()
    }
}

/// A Unix file mode written in octal, e.g. `"0660"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileMode(pub u32);

impl TryFrom<String> for FileMode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let mode = u32::from_str_radix(s.trim(), 8)
            .map_err(|_| format!("bad file mode {s:?}: expected octal like \"0660\""))?;
        if mode > 0o7777 {
            return Err(format!("bad file mode {s:?}: too large"));
        }
        Ok(FileMode(mode))
    }
}

impl From<FileMode> for String {
    fn from(m: FileMode) -> String {
        format!("{:04o}", m.0)
    }
}

/// A log filter: `error`, `warn`, `info`, `debug`, `trace`, or a tracing filter such as
/// `info,authmilter=debug`; checked when the configuration loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LogLevel(String);

impl LogLevel {
    /// The filter text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LogLevel {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("empty log level: use error, warn, info, debug or trace".into());
        }
        let help =
            "use off, error, warn, info, debug, trace, or a filter like \"info,authmilter=debug\"";
        const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
        for directive in t.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            // a bare word is a level, never a target: `level = "verbose"` is a typo, not
            // "trace for the target verbose"
            let level = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
            if !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level.trim())) {
                return Err(format!(
                    "bad log level {s:?}: {level:?} is not a level; {help}"
                ));
            }
        }
        tracing_subscriber::EnvFilter::try_new(t)
            .map_err(|e| format!("bad log level {s:?}: {e}; {help}"))?;
        Ok(LogLevel(t.to_string()))
    }
}

impl From<LogLevel> for String {
    fn from(l: LogLevel) -> String {
        l.0
    }
}

impl From<&str> for LogLevel {
    fn from(s: &str) -> Self {
        LogLevel(s.to_string())
    }
}

/// A nameserver address: `IP` (port 53) or `IP:PORT` (`[V6]:PORT` for IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nameserver(pub std::net::SocketAddr);

impl TryFrom<String> for Nameserver {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim();
        if let Ok(a) = t.parse::<std::net::SocketAddr>() {
            return Ok(Nameserver(a));
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Nameserver(std::net::SocketAddr::new(ip, 53)));
        }
        Err(format!(
            "bad nameserver {s:?}: expected an IP address with an optional port, e.g. \"192.0.2.53\" or \"127.0.0.1:5353\""
        ))
    }
}

impl From<Nameserver> for String {
    fn from(n: Nameserver) -> String {
        if n.0.port() == 53 {
            n.0.ip().to_string()
        } else {
            n.0.to_string()
        }
    }
}

/// Where an optional HTTP endpoint listens: `IP:PORT` (`[V6]:PORT` for IPv6), or an empty
/// string for "off" (`[metrics] listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OptionalAddress(pub Option<std::net::SocketAddr>);

impl TryFrom<String> for OptionalAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() {
            return Ok(OptionalAddress(None));
        }
        t.parse().map(|a| OptionalAddress(Some(a))).map_err(|_| {
            format!(
                "bad address {s:?}: expected IP:PORT, e.g. \"127.0.0.1:9851\" or \"[::1]:9851\", or \"\" for off"
            )
        })
    }
}

impl From<OptionalAddress> for String {
    fn from(a: OptionalAddress) -> String {
        a.0.map(|a| a.to_string()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A network written IPv4-mapped is the IPv4 network: clients are compared as IPv4.
    #[test]
    fn ipv4_mapped_networks_match_ipv4_clients() {
        let net = |s: &str| Network::try_from(s.to_string()).unwrap();
        let mapped = net("::ffff:10.0.0.0/104");
        assert_eq!(String::from(mapped), "10.0.0.0/8");
        assert!(mapped.contains("10.1.2.3".parse().unwrap()));
        assert!(mapped.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!mapped.contains("11.0.0.1".parse().unwrap()));
        assert_eq!(String::from(net("::ffff:192.0.2.7")), "192.0.2.7/32");
        assert_eq!(String::from(net("2001:db8::/32")), "2001:db8::/32");
        assert_eq!(String::from(net("::/0")), "::/0");
    }

    #[test]
    fn durations() {
        assert_eq!(
            "30s".parse::<Span>().unwrap().get(),
            Duration::from_secs(30)
        );
        assert_eq!(
            "5m".parse::<Span>().unwrap().get(),
            Duration::from_secs(300)
        );
        assert_eq!(
            "250ms".parse::<Span>().unwrap().get(),
            Duration::from_millis(250)
        );
        assert_eq!(
            "7210".parse::<Span>().unwrap().get(),
            Duration::from_secs(7210)
        );
        assert!("5 parsecs".parse::<Span>().is_err());
        assert!("".parse::<Span>().is_err());
        assert!("99999999999999999999d".parse::<Span>().is_err());
        // past 100 years a deadline from "now" would overflow: refused, with the limit
        assert!("36500d".parse::<Span>().is_ok());
        let err = "36501d".parse::<Span>().unwrap_err();
        assert!(err.contains("at most 36500d"), "{err}");
        let bare: Result<Span, _> =
            toml::from_str::<std::collections::BTreeMap<String, Span>>("t = 18446744073709551615")
                .map(|m| m["t"]);
        assert!(bare.is_err(), "{bare:?}");
        assert_eq!(Span::secs(7200).to_string(), "2h");
        assert_eq!(Span::secs(90).to_string(), "90s");
    }

    #[test]
    fn socket_specs() {
        let inet = |h: &str, p| SocketSpec::Inet {
            host: h.into(),
            port: p,
        };
        assert_eq!("inet:127.0.0.1:8891".parse(), Ok(inet("127.0.0.1", 8891)));
        assert_eq!("inet:8891@127.0.0.1".parse(), Ok(inet("127.0.0.1", 8891)));
        assert_eq!("inet6:8891@::1".parse(), Ok(inet("::1", 8891)));
        assert_eq!("inet6:8891@[::1]".parse(), Ok(inet("::1", 8891)));
        assert_eq!("inet:[::1]:8891".parse(), Ok(inet("::1", 8891)));
        assert_eq!("localhost:25".parse(), Ok(inet("localhost", 25)));
        assert_eq!(
            "unix:/run/am.sock".parse(),
            Ok(SocketSpec::Unix("/run/am.sock".into()))
        );
        assert_eq!(
            "local:/run/am.sock".parse(),
            Ok(SocketSpec::Unix("/run/am.sock".into()))
        );
        for bad in [
            "inet:",
            "unix:",
            "inet:host",
            "inet:1.2.3.4:99999",
            "inet:::1:25",
            "x",
            // no IP address and no host name: serve could never resolve them
            "inet:999.0.0.1:8891",
            "inet:127.1:8891",
            "inet:8891@999.0.0.1",
            "inet:a b:8891",
            "inet:8891@foo:bar",
            "inet:-mx.example:8891",
            // relative to whichever working directory opens it
            "unix:relative.sock",
            "local:run/am.sock",
            "unix:./am.sock",
            // longer than sockaddr_un's sun_path
            format!("unix:/{}", "a".repeat(107)).as_str(),
        ] {
            assert!(bad.parse::<SocketSpec>().is_err(), "{bad}");
        }
        assert_eq!(inet("::1", 25).to_string(), "inet:[::1]:25");
        assert_eq!(
            "inet:mx-1.Example.:8891".parse(),
            Ok(inet("mx-1.Example.", 8891))
        );
    }

    #[test]
    fn networks() {
        let n = Network::try_from("192.0.2.7/24".to_string()).unwrap();
        assert!(n.contains("192.0.2.200".parse().unwrap()));
        assert!(n.contains("::ffff:192.0.2.1".parse().unwrap()));
        assert!(!n.contains("192.0.3.1".parse().unwrap()));
        assert!(
            Network::try_from("::1".to_string())
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(Network::try_from("192.0.2.0/33".to_string()).is_err());
    }

    #[test]
    fn log_levels_and_nameservers() {
        assert!(LogLevel::try_from("info,authmilter=debug".to_string()).is_ok());
        assert!(LogLevel::try_from("verbose".to_string()).is_err());
        assert!(LogLevel::try_from("info,authmilter=loud".to_string()).is_err());
        assert!(LogLevel::try_from("WARN".to_string()).is_ok());
        assert!(LogLevel::try_from("".to_string()).is_err());
        assert_eq!(
            Nameserver::try_from("192.0.2.1".to_string()).unwrap().0,
            "192.0.2.1:53".parse().unwrap()
        );
        assert_eq!(
            Nameserver::try_from("[::1]:5353".to_string()).unwrap().0,
            "[::1]:5353".parse().unwrap()
        );
        assert!(Nameserver::try_from("ns.example:53".to_string()).is_err());
        assert_eq!(
            String::from(Nameserver("192.0.2.1:53".parse().unwrap())),
            "192.0.2.1"
        );
    }

    #[test]
    fn optional_addresses() {
        assert_eq!(
            OptionalAddress::try_from(String::new()),
            Ok(OptionalAddress(None))
        );
        assert_eq!(
            OptionalAddress::try_from(" ".to_string()),
            Ok(OptionalAddress(None))
        );
        let a = OptionalAddress::try_from("127.0.0.1:9851".to_string()).unwrap();
        assert_eq!(a.0, Some("127.0.0.1:9851".parse().unwrap()));
        assert_eq!(String::from(a), "127.0.0.1:9851");
        assert!(OptionalAddress::try_from("[::1]:9851".to_string()).is_ok());
        for bad in ["localhost:9851", "127.0.0.1", "9851", "127.0.0.1:99999"] {
            assert!(OptionalAddress::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_modes() {
        assert_eq!(FileMode::try_from("0660".to_string()).unwrap().0, 0o660);
        assert!(FileMode::try_from("0999".to_string()).is_err());
        assert_eq!(String::from(FileMode(0o660)), "0660");
    }
}
