//! Counters of the caching resolver's work (questions sent, cache hits, timeouts, SERVFAILs),
//! plain atomics that whoever exports metrics reads; this crate knows nothing of the format.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the resolver did, counted since it was created (shared by every clone, and across
/// resolvers given the same [`QueryStats`]).
#[derive(Debug, Default)]
pub struct QueryStats {
    queries: AtomicU64,
    cache_hits: AtomicU64,
    timeouts: AtomicU64,
    servfails: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryCounts {
    /// Questions sent to the nameservers (lookups the cache could not answer; identical ones
    /// in flight at once count once, a CNAME chain followed by hand one per alias).
    pub queries: u64,
    /// Lookups answered from the cache (positive and negative answers).
    pub cache_hits: u64,
    /// Questions that got no answer within the timeout and attempts.
    pub timeouts: u64,
    /// Questions answered SERVFAIL or REFUSED (RFC 1035 §4.1.1 RCODE 2 and 5).
    pub servfails: u64,
}

impl QueryStats {
    /// The counters now.
    pub fn snapshot(&self) -> QueryCounts {
        QueryCounts {
            queries: self.queries.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            servfails: self.servfails.load(Ordering::Relaxed),
        }
    }

    /// Counts a question sent to a nameserver.
    pub fn count_query(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a lookup answered from the cache.
    pub fn count_cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts the outcome of a question: timeouts and server failures.
    pub fn count_outcome<T>(&self, outcome: &Result<T, crate::DnsError>) {
        match outcome {
            Err(crate::DnsError::Timeout) => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
            }
            Err(crate::DnsError::ServFail) => {
                self.servfails.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DnsError;

    #[test]
    fn counts_what_it_is_told() {
        let s = QueryStats::default();
        s.count_query();
        s.count_query();
        s.count_cache_hit();
        s.count_outcome::<()>(&Err(DnsError::Timeout));
        s.count_outcome::<()>(&Err(DnsError::ServFail));
        s.count_outcome::<()>(&Err(DnsError::NxDomain));
        s.count_outcome(&Ok(()));
        assert_eq!(
            s.snapshot(),
            QueryCounts {
                queries: 2,
                cache_hits: 1,
                timeouts: 1,
                servfails: 1
            }
        );
    }
}
