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

    /// A boolean value (`true`/`yes`/`1` or `false`/`no`/`0`).
    pub fn flag(&self) -> Option<bool> {
        match self.value.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Some(true),
            "false" | "no" | "0" | "off" => Some(false),
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
            let (name, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            // a comment after the value, separated by white space
            let value = match value.find(" #").or_else(|| value.find("\t#")) {
                Some(i) => value.get(..i).unwrap_or(value),
                None => value,
            };
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
            .map(|s| s.trim().to_string())
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
pub fn networks(entries: &[String]) -> (Vec<String>, Vec<String>) {
    // OpenDKIM also matches an address written in brackets, `[192.0.2.1]`, `[2001:db8::]/32`
    let parse = |e: &str| {
        crate::config::Network::try_from(e.replace(['[', ']'], ""))
            .ok()
            .map(|n| n.0)
    };
    let excluded: Vec<ipnet::IpNet> = entries
        .iter()
        .filter_map(|e| e.trim().strip_prefix('!').and_then(|n| parse(n.trim())))
        .collect();
    let mut nets = Vec::new();
    let mut other = Vec::new();
    for e in entries {
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
    (nets, other)
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
