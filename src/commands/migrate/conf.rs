//! The configuration file format OpenDKIM and OpenDMARC share (opendkim.conf(5)): one
//! `Name value` per line, names case-insensitive, `#` comments; and their "datasets" (a
//! file, `refile:` patterns, `csl:` or a plain comma-separated list).

use super::Files;

/// One setting, as written.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The name as written (for comments).
    pub name: String,
    /// The value, trimmed.
    pub value: String,
}

impl Setting {
    /// The name, lowercase, for matching.
    pub fn key(&self) -> String {
        self.name.to_ascii_lowercase()
    }

    /// A boolean value, read as OpenDKIM and OpenDMARC read it (their `config_get`): by its
    /// first character, `t`, `y` or `1` true and `f`, `n` or `0` false (`Yes`, `T`,
    /// `nope`); `on` and `off`, which they refuse, are taken as meant.
    pub fn flag(&self) -> Option<bool> {
        let value = self.value.to_ascii_lowercase();
        match value.as_str() {
            "on" => return Some(true),
            "off" => return Some(false),
            _ => {}
        }
        match value.bytes().next() {
            Some(b't' | b'y' | b'1') => Some(true),
            Some(b'f' | b'n' | b'0') => Some(false),
            _ => None,
        }
    }
}

/// The settings of a file, in order.
pub fn parse(text: &str) -> Vec<Setting> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            // a `#` starts a comment wherever it is, as the programs read the file
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                return None;
            }
            let (name, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            Some(Setting {
                name: name.to_string(),
                value: value.trim().to_string(),
            })
        })
        .collect()
}

/// The setting that overrides `settings[index]`: the last later one of the same name, as
/// the programs' configuration reader keeps only the last value of a setting.
pub fn overridden_by(settings: &[Setting], index: usize) -> Option<&Setting> {
    let key = settings.get(index)?.key();
    settings
        .get(index + 1..)?
        .iter()
        .rev()
        .find(|s| s.key() == key)
}

/// Where a dataset's entries come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSet {
    /// Entries (one per line of a file, or listed inline).
    Entries {
        /// The entries.
        entries: Vec<String>,
        /// They are `refile:` wildcard patterns.
        patterns: bool,
    },
    /// A kind we cannot read (db:, ldap:, dsn:, lua:, ...).
    Unsupported(String),
}

/// The key and value of a table entry, up to the first white space (a file's line
/// `k1 example.com:s1:/path`; a `csl:` list's `k1=example.com:s1:/path` is given in that form
/// by [`dataset`]); `None` without a value.
pub fn key_and_value(entry: &str) -> Option<(&str, &str)> {
    let (key, value) = entry.trim().split_once(char::is_whitespace)?;
    let value = value.trim();
    (!key.is_empty() && !value.is_empty()).then_some((key, value))
}

/// An inline list's entry (`csl:` or a plain list) in a file line's form: a key-value pair
/// cut at its first `=`, both sides trimmed, as OpenDKIM's csl reader cuts it (`k1 =
/// example.com:s1:/path` is `k1 example.com:s1:/path`, opendkim(8) "DATA SETS"); an entry
/// without `=` as it is.
fn inline_entry(entry: &str) -> String {
    match entry.split_once('=') {
        Some((key, value)) => format!("{} {}", key.trim(), value.trim()),
        None => entry.trim().to_string(),
    }
}

/// Reads a dataset value: `file:PATH`, `refile:PATH`, `csl:a,b`, a plain `/path`, or a plain
/// comma-separated list.
pub fn dataset(value: &str, files: &Files) -> Result<DataSet, String> {
    let v = value.trim();
    let read_lines = |path: &str| -> Result<Vec<String>, String> {
        Ok(files
            .read(path)?
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect())
    };
    if let Some(path) = v.strip_prefix("refile:") {
        return Ok(DataSet::Entries {
            entries: read_lines(path)?,
            patterns: true,
        });
    }
    if let Some(path) = v.strip_prefix("file:") {
        return Ok(DataSet::Entries {
            entries: read_lines(path)?,
            patterns: false,
        });
    }
    if v.starts_with('/') {
        return Ok(DataSet::Entries {
            entries: read_lines(v)?,
            patterns: false,
        });
    }
    if let Some((kind, _)) = v.split_once(':')
        && kind != "csl"
        && !kind.contains(['.', ',', '/'])
        && kind.parse::<std::net::IpAddr>().is_err()
        && !v.contains("::")
    {
        return Ok(DataSet::Unsupported(kind.to_string()));
    }
    let list = v.strip_prefix("csl:").unwrap_or(v);
    Ok(DataSet::Entries {
        entries: list
            .split(',')
            .map(inline_entry)
            .filter(|s| !s.is_empty())
            .collect(),
        patterns: false,
    })
}

/// Splits host-list entries into networks milter.toml takes (addresses, CIDR) and the rest
/// (host names, negated host names), which it does not. A negated address or network
/// (`!192.0.2.5`) is cut out of every listed network that contains it, as OpenDKIM's and
/// OpenDMARC's host lists let the most specific entry win (opendkim.conf(5), "PeerList"); a
/// more specific entry listed again inside the cut stays listed on its own.
pub fn networks(entries: &[String], patterns: bool) -> HostList {
    // OpenDKIM also matches an address written in brackets, `[192.0.2.1]`, `[2001:db8::]/32`
    let parse = |e: &str| {
        crate::config::Network::try_from(e.replace(['[', ']'], ""))
            .ok()
            .map(|n| n.0)
    };
    let mut never = Vec::new();
    let mut usable = Vec::new();
    for line in entries {
        // a line of a file is `KEY [VALUE]`: OpenDKIM's loader matches the key
        let e = &line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let bare = e.trim().trim_start_matches('!').trim();
        // under refile: an entry is a regular expression OpenDKIM matches against the keys it
        // looks the client up by (`a.b.c.d`, `a.b.c.d/N` with the host bits cleared): a plain
        // address or network matches as in a file, but `[` opens a character class, so the
        // bracketed form matches nothing
        if patterns && bare.contains('[') && parse(bare).is_some() {
            never.push((e.clone(), NEVER_AS_PATTERN));
            continue;
        }
        // (Network clears the host bits; ipnet keeps them as written)
        let written = bare.replace(['[', ']'], "");
        if let Ok(net) = written.parse::<ipnet::IpNet>()
            && net.trunc() != net
        {
            never.push((e.clone(), NEVER_WITH_HOST_BITS));
            continue;
        }
        // OpenDKIM compares the client's address as inet_ntop writes it (lower case, IPv6
        // zeros compressed): an entry written otherwise never matched
        if (parse(&written).is_some() || looks_like_ipv4(&written)) && !is_inet_ntop_text(&written)
        {
            never.push((e.clone(), NEVER_NOT_INET_NTOP));
            continue;
        }
        usable.push(e.clone());
    }
    let entries = usable;
    let excluded: Vec<ipnet::IpNet> = entries
        .iter()
        .filter_map(|e| e.trim().strip_prefix('!').and_then(|n| parse(n.trim())))
        .collect();
    let mut nets = Vec::new();
    let mut other = Vec::new();
    for e in &entries {
        if e.trim().starts_with('!') {
            if parse(e.trim().trim_start_matches('!').trim()).is_none() {
                other.push(e.clone());
            }
            continue;
        }
        let Some(net) = parse(e) else {
            other.push(e.clone());
            continue;
        };
        let pieces = without(net, &excluded);
        if pieces == [net] && !e.contains('[') {
            nets.push(e.clone());
        } else {
            nets.extend(pieces.iter().map(ToString::to_string));
        }
    }
    HostList { nets, other, never }
}

/// Why an entry with host bits set is not carried over.
pub const NEVER_WITH_HOST_BITS: &str = "the address has bits set past the prefix: OpenDKIM and OpenDMARC look the client up with those bits cleared, so this entry never matched; write the network (e.g. 192.168.0.0/24) if it was meant";
/// Why an address not written as `inet_ntop` writes it is not carried over.
pub const NEVER_NOT_INET_NTOP: &str = "OpenDKIM and OpenDMARC compare the client's address as inet_ntop writes it (IPv6 lower case with zeros compressed, e.g. 2001:db8::5), so an entry written otherwise never matched; write the network in that form if it was meant";

/// Whether `text` (`ADDRESS` or `ADDRESS/PREFIX`) is written as `inet_ntop` writes an
/// address and OpenDKIM a prefix length, case aside (it compares without case).
fn is_inet_ntop_text(text: &str) -> bool {
    let (address, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let canonical = address
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| inet_ntop(ip).eq_ignore_ascii_case(address));
    let prefix_ok = prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n.to_string() == p));
    canonical && prefix_ok
}

/// An address as glibc's `inet_ntop` writes it: as Rust does, but an IPv4-compatible IPv6
/// address (`::a.b.c.d`, the first 96 bits zero, the next 16 not) dotted.
fn inet_ntop(ip: std::net::IpAddr) -> String {
    if let std::net::IpAddr::V6(v6) = ip {
        let w = v6.segments();
        if w.iter().take(6).all(|&x| x == 0) && w.get(6).is_some_and(|&x| x != 0) {
            let o = v6.octets();
            return format!("::{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
        }
    }
    ip.to_string()
}

/// Four dot-separated runs of up to three digits (with a `/N`): meant as an IPv4 address, which
/// OpenDKIM compares as text (`10.0.0.05` never matched).
fn looks_like_ipv4(text: &str) -> bool {
    let address = text.split('/').next().unwrap_or_default();
    let parts: Vec<&str> = address.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Why a bracketed address inside a `refile:` list is not carried over.
pub const NEVER_AS_PATTERN: &str = "in a refile: list every entry is a regular expression, where `[` opens a character class, so the bracketed form never matched; list the network yourself if it was meant";

/// A host list (`InternalHosts`, `IgnoreHosts`) split by what milter.toml can hold.
#[derive(Debug, Default)]
pub struct HostList {
    /// Addresses and networks, negated ones cut out.
    pub nets: Vec<String>,
    /// Host names and other entries milter.toml cannot hold.
    pub other: Vec<String>,
    /// Entries the old program never matched, and why.
    pub never: Vec<(String, &'static str)>,
}

/// `net` less every network of `cut` inside it (or equal to it): the largest networks that
/// cover the rest, at most one per prefix bit for each cut.
fn without(net: ipnet::IpNet, cut: &[ipnet::IpNet]) -> Vec<ipnet::IpNet> {
    let mut pieces = vec![net];
    for c in cut.iter().filter(|c| net.contains(*c)) {
        let mut next = Vec::new();
        for p in pieces {
            if c.contains(&p) {
                continue; // all of it is excluded
            }
            if !p.contains(c) {
                next.push(p);
                continue;
            }
            // halve p down to c's length, keeping the halves that do not hold c
            let mut cur = p;
            while cur.prefix_len() < c.prefix_len() {
                let Ok(mut halves) = cur.subnets(cur.prefix_len() + 1) else {
                    break;
                };
                let (Some(a), Some(b)) = (halves.next(), halves.next()) else {
                    break;
                };
                let (keep, into) = if a.contains(c) { (b, a) } else { (a, b) };
                next.push(keep);
                cur = into;
            }
        }
        pieces = next;
    }
    pieces
}
