//! iprev: forward-confirmed reverse DNS of the client address, RFC 8601 section 3.
//!
//! The client address is looked up as PTR; each returned name (at most
//! [`Config::max_names`], RFC 8601 §3 "limited so as not to be unduly taxing") is looked up as
//! A (IPv4 client) or AAAA (IPv6 client); the check passes when one of them maps back to the
//! client address. IPv4-mapped IPv6 addresses are treated as IPv4.
//!
//! ```no_run
//! # async fn demo(resolver: &dns::memory::MemoryResolver) {
//! let outcome = iprev::check(resolver, "192.0.2.1".parse().unwrap(), &iprev::Config::default()).await;
//! // Authentication-Results: ...; iprev=pass policy.iprev=192.0.2.1 (mail.example.com)
//! println!("iprev={} policy.iprev={} ({:?})", outcome.result, outcome.ip, outcome.name);
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use dns::{DnsError, Resolver, join_all};

#[doc(hidden)]
pub mod fuzzing;

/// The iprev result (RFC 8601 §2.7.3), lowercase on display. There is no `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IprevResult {
    /// A name from the PTR answer maps back to the client address.
    Pass,
    /// PTR names exist but none maps back (forward answers differ, NXDOMAIN or NODATA).
    Fail,
    /// A temporary DNS error kept the check from completing.
    TempError,
    /// No PTR data is published for the address (NXDOMAIN or NODATA on the reverse query).
    PermError,
}

impl IprevResult {
    /// The lowercase RFC 8601 §2.7.3 name (`pass`, `fail`, `temperror`, `permerror`).
    pub fn as_str(self) -> &'static str {
        match self {
            IprevResult::Pass => "pass",
            IprevResult::Fail => "fail",
            IprevResult::TempError => "temperror",
            IprevResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for IprevResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings for the check (RFC 8601 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The most PTR names whose addresses are looked up (RFC 8601 §3; default 10, the
    /// limit RFC 7208 §4.6.4 chose for the same algorithm).
    pub max_names: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { max_names: 10 }
    }
}

/// Why the check ended as it did (for logs and A-R comments).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The name maps back to the address.
    Confirmed(String),
    /// No PTR records (NXDOMAIN or NODATA).
    NoPtr,
    /// The PTR query failed temporarily.
    PtrTempError,
    /// None of the names maps back to the address.
    NotConfirmed,
    /// PTR records are published, but none names a host (the root, or a label no host name
    /// has): no forward lookup can agree (RFC 8601 §2.7.3 fail).
    NoHostName,
    /// None confirmed, and the forward lookup of at least one name failed temporarily.
    ForwardTempError(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Confirmed(n) => write!(f, "{n} confirmed"),
            Reason::NoPtr => f.write_str("no PTR record"),
            Reason::PtrTempError => f.write_str("PTR lookup failed temporarily"),
            Reason::NotConfirmed => f.write_str("no PTR name maps back to the address"),
            Reason::NoHostName => f.write_str("no PTR record names a host"),
            Reason::ForwardTempError(n) => write!(f, "lookup of {n} failed temporarily"),
        }
    }
}

/// The outcome of the check (RFC 8601 §3, §2.7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IprevOutcome {
    /// The result.
    pub result: IprevResult,
    /// The address checked (IPv4-mapped IPv6 converted to IPv4): `policy.iprev` /
    /// `smtp.remote-ip`.
    pub ip: IpAddr,
    /// The confirmed name on `pass`.
    pub name: Option<String>,
    /// The first [`Config::max_names`] distinct names of the PTR answer (lowercase, no
    /// trailing dot), the ones checked (RFC 7208 §4.6.4 limit, RFC 8601 §3).
    pub ptr_names: Vec<String>,
    /// Further names of the PTR answer, neither kept nor checked.
    pub more_ptr_names: usize,
    /// How many of `ptr_names` were looked up (at most [`Config::max_names`]).
    pub names_checked: usize,
    /// Why.
    pub reason: Reason,
}

/// Runs the iprev check for `ip` (RFC 8601 §3).
pub async fn check<R: Resolver + ?Sized>(
    resolver: &R,
    ip: IpAddr,
    config: &Config,
) -> IprevOutcome {
    // IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is checked as IPv4
    let ip = ip.to_canonical();
    let mut outcome = IprevOutcome {
        result: IprevResult::PermError,
        ip,
        name: None,
        ptr_names: Vec::new(),
        more_ptr_names: 0,
        names_checked: 0,
        reason: Reason::NoPtr,
    };
    let names = match resolver.ptr(ip).await {
        Ok(n) => n,
        Err(DnsError::NxDomain | DnsError::NoData | DnsError::InvalidName(_)) => return outcome,
        Err(_) => {
            outcome.result = IprevResult::TempError;
            outcome.reason = Reason::PtrTempError;
            return outcome;
        }
    };
    for n in names {
        let n = n.trim_end_matches('.').to_ascii_lowercase();
        if n.is_empty() || outcome.ptr_names.contains(&n) {
            continue;
        }
        if outcome.ptr_names.len() < config.max_names {
            outcome.ptr_names.push(n);
        } else {
            outcome.more_ptr_names += 1;
        }
    }
    if outcome.ptr_names.is_empty() {
        // PTR data are published (else NXDOMAIN or NODATA above), none of it a host name: the
        // reverse lookup produced results no forward lookup can agree with (RFC 8601 §2.7.3
        // fail; permerror is for no PTR data at all)
        outcome.result = IprevResult::Fail;
        outcome.reason = Reason::NoHostName;
        return outcome;
    }
    let checked: Vec<String> = outcome
        .ptr_names
        .iter()
        .take(config.max_names)
        .cloned()
        .collect();
    outcome.names_checked = checked.len();
    let lookups: Vec<ForwardFuture<'_>> = checked
        .iter()
        .map(|name| forward(resolver, name, ip))
        .collect();
    let answers = join_all(lookups).await;
    let mut temp: Option<String> = None;
    for (name, answer) in checked.iter().zip(answers) {
        match answer {
            Ok(true) => {
                outcome.result = IprevResult::Pass;
                outcome.name = Some(name.clone());
                outcome.reason = Reason::Confirmed(name.clone());
                return outcome;
            }
            Ok(false) => {}
            Err(()) => {
                temp.get_or_insert_with(|| name.clone());
            }
        }
    }
    match temp {
        Some(name) => {
            outcome.result = IprevResult::TempError;
            outcome.reason = Reason::ForwardTempError(name);
        }
        None => {
            outcome.result = IprevResult::Fail;
            outcome.reason = Reason::NotConfirmed;
        }
    }
    outcome
}

/// One forward lookup: `Ok(true)` when `name` maps to `ip`, `Ok(false)` when it does not
/// (including NXDOMAIN / NODATA), `Err` on a temporary failure.
type ForwardFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, ()>> + Send + 'a>>;

fn forward<'a, R: Resolver + ?Sized>(
    resolver: &'a R,
    name: &'a str,
    ip: IpAddr,
) -> ForwardFuture<'a> {
    Box::pin(async move {
        let answer = match ip {
            IpAddr::V4(v4) => resolver.a(name).await.map(|a| a.contains(&v4)),
            IpAddr::V6(v6) => resolver.aaaa(name).await.map(|a| a.contains(&v6)),
        };
        match answer {
            Ok(found) => Ok(found),
            Err(e) if e.is_temporary() => Err(()),
            Err(_) => Ok(false),
        }
    })
}

#[cfg(test)]
mod tests;
