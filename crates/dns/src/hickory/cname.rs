//! CNAME chains hickory gave up on (RFC 1034 §3.6.2: "CNAME chains should be followed and
//! CNAME loops signalled as an error").
//!
//! hickory follows an alias for at most 8 questions and then reports the name as having no
//! records of the type (NOERROR, no answer, no SOA): a loop, or a longer chain whose end does
//! have the records, would read as NODATA, which SPF turns into `permerror` or `none` and DKIM
//! into "no key" (a permanent failure). A recursive resolver answers SERVFAIL for a loop.
//! When an answer looks like that (NODATA without an SOA), [`walk`] asks the CNAMEs itself, at
//! most [`MAX_HOPS`] of them: a name that is no alias keeps its NODATA, a chain that ends gives
//! its end to ask, and a loop, an overlong chain or a failed step is a temporary failure.

use hickory_resolver::net::{DnsError as HDns, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::owners::key;
use super::servers::Servers;
use crate::stats::QueryStats;

/// Aliases followed at most for one lookup (unbound restarts 11 times, BIND 16); the walk asks
/// one more question, whose answer shows the chain ended.
pub(super) const MAX_HOPS: usize = 16;

/// Where the CNAMEs from a name lead (RFC 1034 §3.6.2).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Chain {
    /// The name is no alias: its NODATA stands.
    NotAlias,
    /// The chain ends at this name, which is no alias: ask it.
    End(Name),
    /// A loop, a chain over [`MAX_HOPS`], or a step that failed: a temporary failure.
    Broken(&'static str),
}

/// True for the answer hickory gives when it stops following a chain: no records under
/// NOERROR and no SOA (a NODATA from a zone carries its SOA, RFC 2308 §2.2).
pub(super) fn may_be_cut_chain<T>(outcome: &Result<T, NetError>) -> bool {
    matches!(outcome, Err(NetError::Dns(HDns::NoRecordsFound(nr)))
        if nr.response_code == ResponseCode::NoError && nr.soa.is_none())
}

/// Follows the CNAMEs from `start` one question at a time (see the module docs).
pub(super) async fn walk(servers: &Servers, stats: &QueryStats, start: &Name) -> Chain {
    let mut seen = vec![key(start)];
    let mut current = start.clone();
    // MAX_HOPS aliases and the question that finds the last one is no alias
    for _ in 0..=MAX_HOPS {
        stats.count_query();
        let next = match servers.lookup(stats, &current, RecordType::CNAME).await {
            Ok(lookup) => lookup.answers().iter().find_map(|r| match &r.data {
                RData::CNAME(target) if key(&r.name) == key(&current) => Some(target.0.clone()),
                _ => None,
            }),
            Err(NetError::Dns(HDns::NoRecordsFound(nr)))
                if matches!(
                    nr.response_code,
                    ResponseCode::NoError | ResponseCode::NXDomain
                ) =>
            {
                None
            }
            Err(_) => return Chain::Broken("a CNAME in the chain could not be looked up"),
        };
        let Some(next) = next else {
            return if seen.len() == 1 {
                Chain::NotAlias
            } else {
                Chain::End(current)
            };
        };
        let next_key = key(&next);
        if seen.contains(&next_key) {
            return Chain::Broken("CNAME loop");
        }
        seen.push(next_key);
        current = next;
    }
    Chain::Broken("CNAME chain too long")
}
