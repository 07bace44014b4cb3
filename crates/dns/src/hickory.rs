//! The production [`Resolver`] over hickory-resolver 0.26.
//!
//! - Nameservers come from `/etc/resolv.conf` or an explicit `IP:PORT` list (UDP, with TCP for
//!   truncated answers: hickory retries over TCP when a UDP answer has the TC bit).
//! - **Cache:** our own [`TtlCache`] in front of hickory (whose own
//!   cache is switched off: its moka store enforces the size bound only eventually, and clamps
//!   record TTLs in place). It is shared by every clone of a [`HickoryResolver`] (the server holds
//!   one behind an `Arc<dyn Resolver>`) and holds at most [`HickoryConfig::cache_size`] answers
//!   taking at most [`HickoryConfig::cache_bytes`] together, keyed by (type, name). Positive answers live for the smallest TTL in the answer, negative
//!   ones (NXDOMAIN and NODATA, RFC 2308 §5) for the SOA's negative TTL, each clamped to the
//!   configured bounds; a negative answer without an SOA is kept for [`HickoryConfig::min_ttl`]
//!   (default 0: not kept). Temporary failures (timeouts, SERVFAIL) are never cached.
//! - **Merging:** on a cache miss, identical questions (type, name) in flight at once share one
//!   lookup ([`InFlight`]): one question goes out, its answer or failure goes to every asker and
//!   is counted once in [`QueryStats`]. (hickory 0.26 also shares identical requests on the
//!   wire; ours keeps that guarantee our own, and does the answer's handling once.)
//! - Errors are classified once, here, into [`DnsError`].
//! - Names are always sent fully qualified (no search domains) and `/etc/hosts` is not read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::net::{DnsError as HDns, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

use crate::cache::TtlCache;
use crate::inflight::InFlight;
use crate::stats::QueryStats;
use crate::{DnsError, LookupFuture, Mx, Resolver, normalize_name, reverse_name};
use cname::Chain;
use servers::Servers;

mod checked;
mod cname;
mod owners;
mod servers;

/// Settings for [`HickoryResolver`]; the server builds it from milter.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HickoryConfig {
    /// Nameservers as `IP:PORT`, queried over UDP and TCP. Empty: read `/etc/resolv.conf`.
    pub nameservers: Vec<SocketAddr>,
    /// Timeout of one query attempt.
    pub timeout: Duration,
    /// Times a question is sent (the first try included) before giving up with
    /// [`DnsError::Timeout`] (RFC 1035 §4.2.1 leaves retransmission to the resolver).
    pub attempts: usize,
    /// Responses kept in the cache (positive and negative together).
    pub cache_size: u64,
    /// Bytes the cached responses may take together (names and record data, estimated): a
    /// TXT answer over TCP reaches 64 KiB, so `cache_size` alone bounds memory only loosely.
    pub cache_bytes: u64,
    /// Lower bound for cached TTLs, positive and negative (also the TTL of a negative answer
    /// that carries no SOA).
    pub min_ttl: Duration,
    /// Upper bound for TTLs of cached positive answers.
    pub max_ttl: Duration,
    /// Upper bound for TTLs of cached negative answers (RFC 2308 §5 suggests hours at most).
    pub negative_max_ttl: Duration,
}

impl Default for HickoryConfig {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(3),
            attempts: 2,
            cache_size: 8192,
            cache_bytes: 64 << 20,
            min_ttl: Duration::ZERO,
            max_ttl: Duration::from_secs(86_400),
            negative_max_ttl: Duration::from_secs(3_600),
        }
    }
}

/// DNS over hickory-resolver with a shared, TTL-respecting, size-bounded cache.
/// Clones share the cache and the connections.
#[derive(Clone)]
pub struct HickoryResolver {
    inner: Arc<Servers>,
    cache: Arc<TtlCache<(Kind, String), Result<Answer, DnsError>>>,
    in_flight: Arc<InFlight<(Kind, String), Result<Answer, DnsError>>>,
    min_ttl: Duration,
    max_ttl: Duration,
    negative_max_ttl: Duration,
    /// The longest one lookup may take, CNAME chains followed included (see [`Self::new`]).
    lookup_budget: Duration,
    stats: Arc<QueryStats>,
}

impl std::fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryResolver").finish_non_exhaustive()
    }
}

impl HickoryResolver {
    /// Builds a resolver. With no nameservers configured, `/etc/resolv.conf` is read; a missing
    /// or unreadable file is [`DnsError::Other`].
    pub fn new(config: &HickoryConfig) -> Result<Self, DnsError> {
        let inner = Arc::new(Servers::new(config)?);
        Ok(Self {
            inner,
            cache: Arc::new(TtlCache::with_max_bytes(
                usize::try_from(config.cache_size).unwrap_or(usize::MAX),
                usize::try_from(config.cache_bytes).unwrap_or(usize::MAX),
            )),
            in_flight: Arc::new(InFlight::new(IN_FLIGHT_KEYS, IN_FLIGHT_WAITERS)),
            min_ttl: config.min_ttl,
            max_ttl: config.max_ttl.max(config.min_ttl),
            negative_max_ttl: config.negative_max_ttl.max(config.min_ttl),
            // one question may take `timeout` per attempt; a chain of aliases asks one question
            // per alias (hickory up to 8, `cname::walk` up to 16 more), so a zone answering each
            // just in time could hold one lookup for ~25 timeouts: a lookup gets twice one
            // question's time, then is a temporary failure
            lookup_budget: config
                .timeout
                .saturating_mul(u32::try_from(config.attempts.max(1)).unwrap_or(u32::MAX))
                .saturating_mul(2),
            stats: Arc::new(QueryStats::default()),
        })
    }

    /// Counts this resolver's work in `stats` (shared with whoever exports it, and kept when a
    /// new resolver replaces this one).
    pub fn with_stats(mut self, stats: Arc<QueryStats>) -> Self {
        self.stats = stats;
        self
    }

    /// The counters of this resolver's work.
    pub fn stats(&self) -> &Arc<QueryStats> {
        &self.stats
    }

    /// Empties the cache.
    pub fn clear_cache(&self) {
        self.cache.clear();
        self.inner.clear_cache();
    }

    /// Entries in the cache now (for metrics and tests).
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// One query through the cache: a fresh answer or NXDOMAIN/NODATA is kept for its TTL.
    /// On a miss, identical questions in flight are merged ([`InFlight`]): one goes out, and
    /// every asker gets its answer.
    async fn query(&self, kind: Kind, name: &str) -> Result<Answer, DnsError> {
        let normalized = normalize_name(name)?;
        let key = (kind, normalized);
        if let Some(hit) = self.cache.get(&key, Instant::now()) {
            self.stats.count_cache_hit();
            return hit;
        }
        let fqdn = Name::from_labels(key.1.split('.').map(str::as_bytes))
            .map_err(|_| DnsError::InvalidName(name.to_string()))?;
        let this = self.clone();
        let shared_key = key.clone();
        self.in_flight
            .run(key, move || async move {
                let budget = this.lookup_budget;
                tokio::time::timeout(budget, this.fetch(shared_key, fqdn))
                    .await
                    .unwrap_or(Err(DnsError::Timeout))
            })
            .await
            .unwrap_or_else(|_| Err(DnsError::Other("lookup abandoned".into())))
    }

    /// Asks the nameservers (unless an answer just arrived in the cache) and caches the answer.
    async fn fetch(self, key: (Kind, String), fqdn: Name) -> Result<Answer, DnsError> {
        // a merged lookup that finished between our cache miss and now has filled the cache
        if let Some(hit) = self.cache.get(&key, Instant::now()) {
            self.stats.count_cache_hit();
            return hit;
        }
        let kind = key.0;
        self.stats.count_query();
        let mut outcome = self
            .inner
            .lookup(&self.stats, &fqdn, kind.record_type())
            .await;
        // the asked name is an alias (we walked its chain ourselves)
        let mut walked_alias = false;
        if cname::may_be_cut_chain(&outcome) {
            match cname::walk(&self.inner, &self.stats, &fqdn).await {
                Chain::NotAlias => {}
                Chain::End(end) => {
                    self.stats.count_query();
                    outcome = self
                        .inner
                        .lookup(&self.stats, &end, kind.record_type())
                        .await;
                    walked_alias = true;
                }
                Chain::Broken(why) => {
                    // never cached: the zone may be fixed by the next try (RFC 7208 §4.4)
                    let result = Err(DnsError::Other(why.to_string()));
                    self.stats.count_outcome(&result);
                    return result;
                }
            }
        }
        let (result, ttl) = match outcome {
            Ok(lookup) => {
                // only the records of the question's chain (RFC 1034 §4.3.2), of the asked type
                let records = owners::relevant(&fqdn, &lookup);
                let answer = Answer::extract(kind, &records);
                // records of the asked type were there, even if none is usable (an MX or PTR
                // name that is no host name): not NODATA, which SPF counts as a void lookup
                // (RFC 7208 §4.6.4: an answer with no records)
                let had_data = records.iter().any(|r| kind.holds(&r.data));
                let ttl = records.iter().map(|r| received_ttl(r.ttl)).min();
                let rcode = lookup.message().metadata.response_code;
                // hickory follows a chain the server sends whole without counting it
                let aliases = records
                    .iter()
                    .filter(|r| matches!(r.data, RData::CNAME(_)))
                    .count();
                let contradicted = match rcode {
                    ResponseCode::NoError => false,
                    // NXDOMAIN says the chain's last name does not exist (RFC 6604 §3): an
                    // answer of the asked type beside it is a broken or forged reply
                    ResponseCode::NXDomain => had_data,
                    // hickory hands over any answer under an RCODE it does not know
                    _ => true,
                };
                if aliases > cname::MAX_HOPS {
                    (Err(DnsError::Other("CNAME chain too long".into())), None)
                } else if contradicted {
                    // never data, never cached (the next try may get a sound answer)
                    (
                        Err(DnsError::Other(format!(
                            "an answer under response code {rcode} is not used"
                        ))),
                        None,
                    )
                } else if answer.is_empty() && !had_data {
                    (Err(DnsError::NoData), Some(self.negative_ttl(None)))
                } else {
                    let ttl = ttl.map_or(self.min_ttl, |t| {
                        Duration::from_secs(u64::from(t)).clamp(self.min_ttl, self.max_ttl)
                    });
                    (Ok(answer), Some(ttl))
                }
            }
            Err(error) => {
                let soa_ttl = match &error {
                    NetError::Dns(HDns::NoRecordsFound(nr)) => nr.negative_ttl.map(received_ttl),
                    _ => None,
                };
                // NXDOMAIN at the end of a CNAME chain says the chain's last name does not
                // exist (RFC 6604 §3), not the asked one: that name exists (it owns the
                // CNAME), with no records of the asked type: NODATA (RFC 9989 §3.2.13 "np"
                // must not apply to a dangling alias)
                let alias = walked_alias
                    || matches!(&error, NetError::Dns(HDns::NoRecordsFound(nr))
                        if owners::key(nr.query.name()) != owners::key(&fqdn));
                let error = match classify(error) {
                    DnsError::NxDomain if alias => DnsError::NoData,
                    other => other,
                };
                // only NXDOMAIN and NODATA are cached (RFC 2308 §5), never a failure
                let ttl = error.is_not_found().then(|| self.negative_ttl(soa_ttl));
                (Err(error), ttl)
            }
        };
        self.stats.count_outcome(&result);
        if let Some(ttl) = ttl {
            let now = Instant::now();
            let size = entry_size(&key.1, &result);
            self.cache
                .insert_sized(key, result.clone(), size, now + ttl, now);
        }
        result
    }

    /// The negative-caching TTL (RFC 2308 §5): the SOA's, clamped; `min_ttl` without an SOA.
    fn negative_ttl(&self, soa_ttl: Option<u32>) -> Duration {
        soa_ttl.map_or(self.min_ttl, |t| {
            Duration::from_secs(u64::from(t)).clamp(self.min_ttl, self.negative_max_ttl)
        })
    }
}

/// A TTL as received: one with the top bit set reads as 0 (RFC 2181 §8).
fn received_ttl(ttl: u32) -> u32 {
    if ttl > 0x7fff_ffff { 0 } else { ttl }
}

/// Distinct questions merged at once ([`InFlight`]); more are asked unmerged.
const IN_FLIGHT_KEYS: usize = 4096;
/// Askers merged onto one question; more ask on their own.
const IN_FLIGHT_WAITERS: usize = 1024;

/// The record types the checks ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Txt,
    A,
    Aaaa,
    Mx,
    Ptr,
}

impl Kind {
    fn record_type(self) -> RecordType {
        match self {
            Kind::Txt => RecordType::TXT,
            Kind::A => RecordType::A,
            Kind::Aaaa => RecordType::AAAA,
            Kind::Mx => RecordType::MX,
            Kind::Ptr => RecordType::PTR,
        }
    }

    /// `data` is a record of this type.
    fn holds(self, data: &RData) -> bool {
        data.record_type() == self.record_type()
    }
}

/// A cached answer.
#[derive(Debug, Clone)]
enum Answer {
    Txt(Vec<Vec<u8>>),
    A(Vec<Ipv4Addr>),
    Aaaa(Vec<Ipv6Addr>),
    Mx(Vec<Mx>),
    Ptr(Vec<String>),
}

impl Answer {
    fn extract(kind: Kind, records: &[&Record]) -> Self {
        let data = records.iter().map(|r| &r.data);
        let mut answer = match kind {
            // RFC 7208 §3.3, RFC 6376 §3.6.2.2: a record's strings are joined without separators.
            Kind::Txt => Answer::Txt(
                data.filter_map(|d| match d {
                    RData::TXT(t) => {
                        // allocated once at its length (collecting would double the buffer)
                        let len = t.txt_data.iter().map(|s| s.len()).sum();
                        let mut joined = Vec::with_capacity(len);
                        for s in &t.txt_data {
                            joined.extend_from_slice(s);
                        }
                        Some(joined)
                    }
                    _ => None,
                })
                .collect(),
            ),
            Kind::A => Answer::A(
                data.filter_map(|d| match d {
                    RData::A(a) => Some(a.0),
                    _ => None,
                })
                .collect(),
            ),
            Kind::Aaaa => Answer::Aaaa(
                data.filter_map(|d| match d {
                    RData::AAAA(a) => Some(a.0),
                    _ => None,
                })
                .collect(),
            ),
            Kind::Mx => Answer::Mx(
                data.filter_map(|d| match d {
                    RData::MX(mx) => host_name(&mx.exchange).map(|exchange| Mx {
                        preference: mx.preference,
                        exchange,
                    }),
                    _ => None,
                })
                .collect(),
            ),
            Kind::Ptr => Answer::Ptr(
                data.filter_map(|d| match d {
                    RData::PTR(p) => host_name(&p.0),
                    _ => None,
                })
                .collect(),
            ),
        };
        // the cache charges what is allocated: no spare capacity kept for a day
        match &mut answer {
            Answer::Txt(v) => v.shrink_to_fit(),
            Answer::A(v) => v.shrink_to_fit(),
            Answer::Aaaa(v) => v.shrink_to_fit(),
            Answer::Mx(v) => v.shrink_to_fit(),
            Answer::Ptr(v) => v.shrink_to_fit(),
        }
        answer
    }

    fn is_empty(&self) -> bool {
        match self {
            Answer::Txt(v) => v.is_empty(),
            Answer::A(v) => v.is_empty(),
            Answer::Aaaa(v) => v.is_empty(),
            Answer::Mx(v) => v.is_empty(),
            Answer::Ptr(v) => v.is_empty(),
        }
    }
}

/// The bytes a cache entry holds: the name (map key and order-queue copy), the record data as
/// allocated, and fixed slots: the map's, the order queue's, and one stale order-queue entry
/// (the cache keeps at most one per live entry, with a name of up to 253 octets).
fn entry_size(name: &str, result: &Result<Answer, DnsError>) -> usize {
    use std::mem::size_of;
    const KEY: usize = size_of::<(Kind, String)>();
    // key, value, expiry, sequence number and size in the map; key and sequence in the queue
    const SLOTS: usize = 2 * KEY + size_of::<Result<Answer, DnsError>>() + 48;
    const STALE: usize = KEY + 8 + 253;
    const ENTRY: usize = SLOTS + STALE;
    let data = match result {
        Ok(Answer::Txt(v)) => {
            v.capacity() * size_of::<Vec<u8>>() + v.iter().map(Vec::capacity).sum::<usize>()
        }
        Ok(Answer::A(v)) => v.capacity() * size_of::<Ipv4Addr>(),
        Ok(Answer::Aaaa(v)) => v.capacity() * size_of::<Ipv6Addr>(),
        Ok(Answer::Mx(v)) => {
            v.capacity() * size_of::<Mx>() + v.iter().map(|m| m.exchange.capacity()).sum::<usize>()
        }
        Ok(Answer::Ptr(v)) => {
            v.capacity() * size_of::<String>() + v.iter().map(String::capacity).sum::<usize>()
        }
        Err(e) => match e {
            DnsError::InvalidName(t) | DnsError::Other(t) => t.capacity(),
            _ => 0,
        },
    };
    ENTRY + 2 * name.len() + data
}

/// Maps hickory's errors onto [`DnsError`] (RFC 1035 §4.1.1 RCODEs, RFC 2308).
/// "No records found" is NXDOMAIN under RCODE 3 and NODATA under NOERROR (RFC 2308 §2.1,
/// §2.2); under any other RCODE it is a failure.
fn classify(error: NetError) -> DnsError {
    match &error {
        NetError::Dns(HDns::NoRecordsFound(nr)) => match nr.response_code {
            ResponseCode::NXDomain => DnsError::NxDomain,
            ResponseCode::NoError => DnsError::NoData,
            ResponseCode::ServFail | ResponseCode::Refused => DnsError::ServFail,
            _ => DnsError::Other(error.to_string()),
        },
        NetError::Timeout => DnsError::Timeout,
        NetError::Dns(HDns::ResponseCode(ResponseCode::ServFail | ResponseCode::Refused)) => {
            DnsError::ServFail
        }
        _ => DnsError::Other(error.to_string()),
    }
}

/// The name of an MX or PTR answer as the text our lookups take (labels joined by dots,
/// lowercase, the root as ""): `None` for a name one of whose labels holds a dot or a byte
/// that is not printable ASCII. Hickory's presentation form escapes those (`mail\.relay`,
/// `\195`), and asked again as text it named another host (RFC 7208 §5.4, §5.5, RFC 8601 §3:
/// the forward lookup is of the name itself); such a name is no host name and matches nothing.
fn host_name(name: &Name) -> Option<String> {
    let mut out = String::new();
    for label in name.iter() {
        if label.iter().any(|&b| b == b'.' || !b.is_ascii_graphic()) {
            return None;
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(std::str::from_utf8(label).ok()?);
    }
    out.make_ascii_lowercase();
    Some(out)
}

/// The wrong variant cannot come back for a kind (the cache key includes the kind); treat it as
/// "no data" rather than panic.
fn mismatch<T>() -> Result<T, DnsError> {
    Err(DnsError::NoData)
}

impl Resolver for HickoryResolver {
    fn txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Vec<u8>>> {
        Box::pin(async move {
            match self.query(Kind::Txt, name).await? {
                Answer::Txt(v) => Ok(v),
                _ => mismatch(),
            }
        })
    }

    fn a<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv4Addr>> {
        Box::pin(async move {
            match self.query(Kind::A, name).await? {
                Answer::A(v) => Ok(v),
                _ => mismatch(),
            }
        })
    }

    fn aaaa<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv6Addr>> {
        Box::pin(async move {
            match self.query(Kind::Aaaa, name).await? {
                Answer::Aaaa(v) => Ok(v),
                _ => mismatch(),
            }
        })
    }

    fn mx<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Mx>> {
        Box::pin(async move {
            match self.query(Kind::Mx, name).await? {
                Answer::Mx(v) => Ok(v),
                _ => mismatch(),
            }
        })
    }

    fn ptr<'a>(&'a self, ip: IpAddr) -> LookupFuture<'a, Vec<String>> {
        Box::pin(async move {
            match self.query(Kind::Ptr, &reverse_name(ip)).await? {
                Answer::Ptr(v) => Ok(v),
                _ => mismatch(),
            }
        })
    }
}

#[cfg(test)]
mod tests;
