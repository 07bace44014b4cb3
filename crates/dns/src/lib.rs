//! DNS lookups for mail authentication.
//!
//! The checks (SPF, DKIM, DMARC, iprev) never talk to a DNS library directly: they take a
//! [`Resolver`], a small trait with exactly the record types they need (TXT, A, AAAA, MX, PTR).
//! Two implementations ship here:
//!
//! - [`memory::MemoryResolver`]: records held in memory, with injectable timeouts and server
//!   failures and a query counter. Tests, benchmarks and the offline tools use it.
//! - `hickory::HickoryResolver` (feature `hickory`, on by default): the production resolver over
//!   hickory-resolver, with a TTL-respecting, size-bounded cache ([`cache::TtlCache`]) shared
//!   by all connections: `HickoryResolver::new(&HickoryConfig { nameservers, timeout, attempts,
//!   cache_size, cache_bytes, min_ttl, max_ttl, negative_max_ttl })`. It counts its work in a
//!   [`stats::QueryStats`] (questions sent, cache hits, timeouts, SERVFAILs) that the caller
//!   may share (`with_stats`) and export.
//!
//! Answers distinguish *found*, *NXDOMAIN*, *no data* and *temporary failure*, because SPF,
//! DMARC and DKIM map each of them to a different result (RFC 7208 §4.4, §5; RFC 6376 §6.1.2).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::Arc;

pub mod cache;
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "hickory")]
pub mod hickory;
pub mod inflight;
pub mod memory;
pub mod name;
pub mod stats;
pub mod zonefile;

/// A boxed lookup future, so that `dyn Resolver` works (`Arc<dyn Resolver>` in the server).
pub type LookupFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DnsError>> + Send + 'a>>;

/// Why a lookup returned no records (RFC 1035 §4.1.1 RCODEs, RFC 2308 negative answers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The name does not exist (RCODE 3, NXDOMAIN).
    #[error("domain does not exist (NXDOMAIN)")]
    NxDomain,
    /// The name exists but has no records of the requested type (NODATA, RFC 2308 §2.2).
    #[error("no records of the requested type")]
    NoData,
    /// No answer arrived within the configured timeout and attempts.
    #[error("DNS query timed out")]
    Timeout,
    /// The server answered SERVFAIL (RCODE 2), or REFUSED.
    #[error("DNS server failure")]
    ServFail,
    /// The name cannot be sent to DNS (empty label, label over 63 octets, name over 253).
    #[error("invalid domain name: {0}")]
    InvalidName(String),
    /// Any other failure (I/O error, malformed answer, truncation TCP could not fix).
    #[error("DNS error: {0}")]
    Other(String),
}

impl DnsError {
    /// True for NXDOMAIN and NODATA: the DNS answered, and there is nothing there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, DnsError::NxDomain | DnsError::NoData)
    }

    /// True for failures worth retrying later (timeout, SERVFAIL, other errors):
    /// the `temperror` of RFC 7208 §2.6.6 and RFC 7489 §6.6.3.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            DnsError::Timeout | DnsError::ServFail | DnsError::Other(_)
        )
    }
}

/// One MX record (RFC 1035 §3.3.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mx {
    /// Lower is preferred.
    pub preference: u16,
    /// The mail exchanger's host name, lowercase, without a trailing dot.
    pub exchange: String,
}

/// The DNS lookups the mail-authentication checks need.
///
/// Contract for every implementation:
/// - `name` is a domain name as text; a trailing dot is optional and case does not matter.
/// - A successful answer is never empty: an empty answer is `Err(DnsError::NoData)`.
/// - CNAMEs are followed; the answer holds the records at the end of the chain.
/// - TXT answers are one `Vec<u8>` per resource record, its character-strings concatenated
///   without separators (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
/// - Returned host names (MX exchange, PTR target) are lowercase without the trailing dot.
pub trait Resolver: Send + Sync {
    /// TXT records at `name` (RFC 1035 §3.3.14).
    fn txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Vec<u8>>>;
    /// IPv4 addresses of `name` (A, RFC 1035 §3.4.1).
    fn a<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv4Addr>>;
    /// IPv6 addresses of `name` (AAAA, RFC 3596).
    fn aaaa<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv6Addr>>;
    /// Mail exchangers of `name` (MX, RFC 1035 §3.3.9), in the order the server gave them.
    fn mx<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Mx>>;
    /// Host names for `ip` via in-addr.arpa / ip6.arpa (PTR, RFC 1035 §3.5, RFC 3596 §2.5).
    fn ptr<'a>(&'a self, ip: IpAddr) -> LookupFuture<'a, Vec<String>>;
}

impl<R: Resolver + ?Sized> Resolver for Arc<R> {
    fn txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Vec<u8>>> {
        (**self).txt(name)
    }
    fn a<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv4Addr>> {
        (**self).a(name)
    }
    fn aaaa<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv6Addr>> {
        (**self).aaaa(name)
    }
    fn mx<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Mx>> {
        (**self).mx(name)
    }
    fn ptr<'a>(&'a self, ip: IpAddr) -> LookupFuture<'a, Vec<String>> {
        (**self).ptr(ip)
    }
}

impl<R: Resolver + ?Sized> Resolver for &R {
    fn txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Vec<u8>>> {
        (**self).txt(name)
    }
    fn a<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv4Addr>> {
        (**self).a(name)
    }
    fn aaaa<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv6Addr>> {
        (**self).aaaa(name)
    }
    fn mx<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Mx>> {
        (**self).mx(name)
    }
    fn ptr<'a>(&'a self, ip: IpAddr) -> LookupFuture<'a, Vec<String>> {
        (**self).ptr(ip)
    }
}

/// Polls every future concurrently and returns their outputs in input order: several lookups
/// in flight at once without a runtime or an extra dependency (used by DMARC and iprev).
pub async fn join_all<'a, T>(futures: Vec<Pin<Box<dyn Future<Output = T> + Send + 'a>>>) -> Vec<T> {
    let mut slots: Vec<Option<Pin<Box<dyn Future<Output = T> + Send + 'a>>>> =
        futures.into_iter().map(Some).collect();
    let mut results: Vec<Option<T>> = slots.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for (slot, result) in slots.iter_mut().zip(results.iter_mut()) {
            if let Some(fut) = slot {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(results.iter_mut().filter_map(Option::take).collect())
        }
    })
    .await
}

/// Normalises a query name (see [`name::normalize`]).
pub use name::normalize as normalize_name;

/// The reverse-lookup name for `ip`: `4.3.2.1.in-addr.arpa` or the nibble form under
/// `ip6.arpa` (RFC 1035 §3.5, RFC 3596 §2.5).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                for nibble in [byte & 0x0f, byte >> 4] {
                    out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    out.push('.');
                }
            }
            out.push_str("ip6.arpa");
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.1".parse().unwrap()),
            "1.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_name("2001:db8::1".parse().unwrap()),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }
}
