//! An in-memory [`Resolver`] for tests, benchmarks and offline tools.
//!
//! Records are added with the `add_*` methods or loaded from a small zone text
//! ([`MemoryResolver::from_zone`]). Failures are injected per name or per (name, type), every
//! query is counted (to assert SPF's lookup limits, RFC 7208 §4.6.4), and an optional latency
//! (feature `latency`) makes each answer wait, to exercise timeouts and overlap.
//!
//! Zone text, one record per line (`#` starts a comment, blank lines are ignored):
//!
//! ```text
//! example.com.           TXT   "v=spf1 ip4:192.0.2.0/24 -all"
//! sel._domainkey.example.com TXT "v=DKIM1; k=rsa; " "p=MIIB..."   ; several strings are joined
//! example.com            A     192.0.2.1
//! example.com            AAAA  2001:db8::1
//! example.com            MX    10 mail.example.com
//! 1.2.0.192.in-addr.arpa PTR   mail.example.com
//! alias.example.com      CNAME example.com
//! slow.example.com       TIMEOUT            # every query for the name times out
//! broken.example.com     SERVFAIL
//! half.example.com       TXT   TIMEOUT      # only TXT queries time out
//! ```
//!
//! Standard master-file syntax (RFC 1035 §5) is read as well: `$ORIGIN`, `@`, relative names,
//! a TTL and class (`IN`) before the type, records continued over lines in parentheses, as
//! `authmilter dkim genkey` prints them and as BIND zone files hold them. SOA, NS and other
//! types the checks never ask for are skipped. See [`crate::zonefile`].

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
#[cfg(feature = "latency")]
use std::time::Duration;

use crate::{DnsError, LookupFuture, Mx, Resolver, normalize_name, reverse_name};

mod zone;

pub use zone::ZoneError;

/// The most queries [`MemoryResolver::queries`] keeps (the first ones; the count goes on):
/// `serve --zone` answers from a `MemoryResolver` for as long as it runs.
pub const QUERY_LOG_MAX: usize = 10_000;

/// A DNS record type the in-memory resolver can hold or be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// TXT (RFC 1035 §3.3.14).
    Txt,
    /// A (RFC 1035 §3.4.1).
    A,
    /// AAAA (RFC 3596).
    Aaaa,
    /// MX (RFC 1035 §3.3.9).
    Mx,
    /// PTR (RFC 1035 §3.3.12).
    Ptr,
}

/// A record set held by the in-memory resolver.
#[derive(Debug, Clone, Default)]
struct Node {
    txt: Vec<Vec<u8>>,
    a: Vec<Ipv4Addr>,
    aaaa: Vec<Ipv6Addr>,
    mx: Vec<Mx>,
    ptr: Vec<String>,
    cname: Option<String>,
    /// An error for every query at this name.
    error: Option<DnsError>,
    /// An error for queries of one type at this name.
    type_errors: HashMap<RecordType, DnsError>,
}

impl Node {
    fn has_records(&self) -> bool {
        !(self.txt.is_empty()
            && self.a.is_empty()
            && self.aaaa.is_empty()
            && self.mx.is_empty()
            && self.ptr.is_empty()
            && self.cname.is_none())
    }
}

/// DNS answers held in memory. Cheap to share behind an `Arc`; records can be added at any time.
#[derive(Debug, Default)]
pub struct MemoryResolver {
    nodes: RwLock<HashMap<String, Node>>,
    /// Every name that has a descendant with records (empty non-terminals, RFC 8020).
    ancestors: RwLock<HashSet<String>>,
    queries: AtomicUsize,
    log: Mutex<Vec<(RecordType, String)>>,
    #[cfg(feature = "latency")]
    latency: RwLock<Option<Duration>>,
}

impl MemoryResolver {
    /// An empty resolver: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a TXT record with one character-string.
    pub fn add_txt(&self, name: &str, value: impl AsRef<[u8]>) {
        self.with_node(name, |n| n.txt.push(value.as_ref().to_vec()));
    }

    /// Adds a TXT record made of several character-strings (joined without separators).
    pub fn add_txt_strings(&self, name: &str, strings: &[Vec<u8>]) {
        let joined: Vec<u8> = strings.iter().flatten().copied().collect();
        self.with_node(name, |n| n.txt.push(joined));
    }

    /// Adds an A record.
    pub fn add_a(&self, name: &str, ip: Ipv4Addr) {
        self.with_node(name, |n| n.a.push(ip));
    }

    /// Adds an AAAA record.
    pub fn add_aaaa(&self, name: &str, ip: Ipv6Addr) {
        self.with_node(name, |n| n.aaaa.push(ip));
    }

    /// Adds an A or AAAA record, whichever fits `ip`.
    pub fn add_ip(&self, name: &str, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => self.add_a(name, v4),
            IpAddr::V6(v6) => self.add_aaaa(name, v6),
        }
    }

    /// Adds an MX record.
    pub fn add_mx(&self, name: &str, preference: u16, exchange: &str) {
        let exchange = clean_target(exchange);
        self.with_node(name, |n| {
            n.mx.push(Mx {
                preference,
                exchange,
            })
        });
    }

    /// Adds a PTR record for `ip` (at its in-addr.arpa / ip6.arpa name).
    pub fn add_ptr(&self, ip: IpAddr, target: &str) {
        self.add_ptr_name(&reverse_name(ip), target);
    }

    /// Adds a PTR record at an explicit owner name.
    pub fn add_ptr_name(&self, owner: &str, target: &str) {
        let target = clean_target(target);
        self.with_node(owner, |n| n.ptr.push(target));
    }

    /// Makes `name` an alias of `target`.
    pub fn add_cname(&self, name: &str, target: &str) {
        let target = clean_target(target);
        self.with_node(name, |n| n.cname = Some(target));
    }

    /// Makes every query for `name` fail with `error`.
    pub fn fail(&self, name: &str, error: DnsError) {
        self.with_node(name, |n| n.error = Some(error));
    }

    /// Makes queries of type `rtype` for `name` fail with `error`.
    pub fn fail_type(&self, name: &str, rtype: RecordType, error: DnsError) {
        self.with_node(name, |n| {
            n.type_errors.insert(rtype, error);
        });
    }

    /// Clears the failures injected at `name` ([`fail`](Self::fail), [`fail_type`](Self::fail_type)):
    /// it answers from its records again, NXDOMAIN when it has none (a DNS outage ending).
    pub fn heal(&self, name: &str) {
        let key = clean_target(name);
        if let Ok(mut nodes) = self.nodes.write()
            && let Some(node) = nodes.get_mut(&key)
        {
            node.error = None;
            node.type_errors.clear();
            if !node.has_records() {
                nodes.remove(&key);
            }
        }
    }

    /// Makes every answer wait `latency` first (feature `latency`; needs a tokio runtime with
    /// timers).
    #[cfg(feature = "latency")]
    pub fn set_latency(&self, latency: Option<Duration>) {
        if let Ok(mut l) = self.latency.write() {
            *l = latency;
        }
    }

    /// How many queries were asked since creation or the last [`reset_queries`](Self::reset_queries).
    pub fn query_count(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }

    /// The queries asked, in order, as (type, normalised name): the first [`QUERY_LOG_MAX`].
    pub fn queries(&self) -> Vec<(RecordType, String)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Forgets the query count and log.
    pub fn reset_queries(&self) {
        self.queries.store(0, Ordering::Relaxed);
        if let Ok(mut l) = self.log.lock() {
            l.clear();
        }
    }

    fn with_node(&self, name: &str, f: impl FnOnce(&mut Node)) {
        let key = clean_target(name);
        if let Ok(mut nodes) = self.nodes.write() {
            f(nodes.entry(key.clone()).or_default());
        }
        if let Ok(mut anc) = self.ancestors.write() {
            let mut rest = key.as_str();
            while let Some((_, parent)) = rest.split_once('.') {
                anc.insert(parent.to_string());
                rest = parent;
            }
        }
    }

    /// Resolves `name` for `rtype`, following CNAMEs (at most 8), and extracts the answer.
    fn answer<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&Node) -> Vec<T>,
    ) -> Result<Vec<T>, DnsError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let mut current = normalize_name(name)?;
        if let Ok(mut log) = self.log.lock()
            && log.len() < QUERY_LOG_MAX
        {
            log.push((rtype, current.clone()));
        }
        let nodes = self
            .nodes
            .read()
            .map_err(|_| DnsError::Other("poisoned".into()))?;
        for hop in 0..8 {
            let Some(node) = nodes.get(&current) else {
                let is_ent = self
                    .ancestors
                    .read()
                    .map(|a| a.contains(&current))
                    .unwrap_or(false);
                // past an alias, NXDOMAIN is about the chain's end: the asked name exists
                // (RFC 6604 §3), as the hickory resolver reads it
                return Err(if is_ent || hop > 0 {
                    DnsError::NoData
                } else {
                    DnsError::NxDomain
                });
            };
            if let Some(e) = &node.error {
                return Err(e.clone());
            }
            if let Some(e) = node.type_errors.get(&rtype) {
                return Err(e.clone());
            }
            let found = pick(node);
            if !found.is_empty() {
                return Ok(found);
            }
            match &node.cname {
                Some(target) => current = target.clone(),
                None => {
                    return Err(if node.has_records() {
                        DnsError::NoData
                    } else {
                        // a node that only carries injected errors for other types
                        DnsError::NoData
                    });
                }
            }
        }
        Err(DnsError::ServFail)
    }

    fn delayed<'a, T: Send + 'a>(&'a self, result: Result<T, DnsError>) -> LookupFuture<'a, T> {
        #[cfg(feature = "latency")]
        {
            let latency = self.latency.read().ok().and_then(|l| *l);
            Box::pin(async move {
                if let Some(d) = latency {
                    tokio::time::sleep(d).await;
                }
                result
            })
        }
        #[cfg(not(feature = "latency"))]
        Box::pin(std::future::ready(result))
    }
}

impl Resolver for MemoryResolver {
    fn txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Vec<u8>>> {
        self.delayed(self.answer(name, RecordType::Txt, |n| n.txt.clone()))
    }
    fn a<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv4Addr>> {
        self.delayed(self.answer(name, RecordType::A, |n| n.a.clone()))
    }
    fn aaaa<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv6Addr>> {
        self.delayed(self.answer(name, RecordType::Aaaa, |n| n.aaaa.clone()))
    }
    fn mx<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Mx>> {
        self.delayed(self.answer(name, RecordType::Mx, |n| n.mx.clone()))
    }
    fn ptr<'a>(&'a self, ip: IpAddr) -> LookupFuture<'a, Vec<String>> {
        let name = reverse_name(ip);
        self.delayed(self.answer(&name, RecordType::Ptr, |n| n.ptr.clone()))
    }
}

/// Lowercase, without the trailing dot(s): host names as a resolver returns them.
fn clean_target(name: &str) -> String {
    name.trim()
        .strip_suffix('.')
        .unwrap_or(name.trim())
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
