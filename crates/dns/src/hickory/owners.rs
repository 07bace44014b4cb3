//! Which answer records answer the question (RFC 1034 §4.3.2 step 3a, §3.6.2): those owned by
//! the name asked, or by a name its CNAMEs lead to through the answer's own CNAME records,
//! each once (RFC 2181 §5: an RRset holds no two identical records).
//!
//! hickory hands a response's answer section on as the server sent it when the first response
//! answers the question, so records for other names (out of the question's chain: a broken or
//! hostile server, a forwarder that does not scrub) would otherwise reach the checks: an A
//! record for another name matching an SPF `a:` mechanism, a second SPF record making
//! `permerror`. Recursive resolvers drop such records (unbound's scrubber); so do we.

use std::collections::HashSet;

use hickory_resolver::lookup::Lookup;
use hickory_resolver::proto::rr::{Name, RData, Record};

/// Names followed through CNAMEs at most (the chains hickory and [`super::cname`] follow).
const MAX_OWNERS: usize = super::cname::MAX_HOPS + 2;

/// The records of `lookup` that answer a question for `asked` (see the module docs): the
/// CNAMEs of its chain and the records their names own, in the order the server gave them.
/// The reply's own question is one of the chain's names: hickory asked it, and every reply
/// answers the question it was sent for (`super::checked`).
pub(super) fn relevant<'l>(asked: &Name, lookup: &'l Lookup) -> Vec<&'l Record> {
    let records: Vec<(String, &Record)> =
        lookup.answers().iter().map(|r| (key(&r.name), r)).collect();
    // the name asked, and the last name hickory asked when it followed a chain itself
    let mut starts = vec![key(asked)];
    if let Some(question) = lookup.message().queries.first() {
        starts.push(key(question.name()));
    }
    let owners = chain(starts, &records);
    // an RRset holds no two identical records: a repeated one counts once (RFC 2181 §5)
    let mut seen: HashSet<(String, &RData)> = HashSet::with_capacity(records.len());
    records
        .into_iter()
        .filter(|(owner, _)| owners.contains(owner))
        .filter(|(owner, r)| seen.insert((owner.clone(), &r.data)))
        .map(|(_, r)| r)
        .collect()
}

/// `starts` and every name their CNAMEs among `records` lead to, at most [`MAX_OWNERS`].
fn chain(starts: Vec<String>, records: &[(String, &Record)]) -> Vec<String> {
    let mut owners: Vec<String> = Vec::with_capacity(MAX_OWNERS);
    for start in starts {
        if !owners.contains(&start) {
            owners.push(start);
        }
    }
    let mut grew = true;
    while grew && owners.len() < MAX_OWNERS {
        grew = false;
        for (owner, record) in records {
            if let RData::CNAME(target) = &record.data
                && owners.contains(owner)
            {
                let target = key(&target.0);
                if !owners.contains(&target) && owners.len() < MAX_OWNERS {
                    owners.push(target);
                    grew = true;
                }
            }
        }
    }
    owners
}

/// A name compared as DNS does: ASCII case ignored, the trailing dot ignored.
pub(super) fn key(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}
