//! Organizational domains: the public suffix list (RFC 7489 §3.2) and the DNS tree walk
//! (RFC 9989 §4.10, §4.10.2), with a per-message cache of `_dmarc` lookups.

use std::collections::HashMap;

use dns::{DnsError, Resolver};

use crate::domain::{label_count, last_labels};
use crate::record::{Psd, Record, parse_record};

/// The most DMARC queries one tree walk makes (RFC 9989 §4.10).
pub(crate) const MAX_WALK_QUERIES: usize = 8;

/// The organizational domain of `domain` by the compiled-in public suffix list (RFC 7489 §3.2):
/// the longest matching public suffix plus one label. ICANN and private sections both count,
/// so `example.github.io` is its own organizational domain; an unlisted TLD is a public suffix
/// (the PSL default rule `*`). A domain that is itself a public suffix is returned unchanged.
/// `domain` is expected lowercase A-label form (see the crate docs).
pub fn psl_organizational_domain(domain: &str) -> String {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    match psl::domain(d.as_bytes()) {
        Some(reg) => String::from_utf8_lossy(reg.as_bytes()).into_owned(),
        None => d,
    }
}

/// Relaxed alignment by the public suffix list: same organizational domain (RFC 7489 §3.1).
pub fn relaxed_aligned_psl(a: &str, b: &str) -> bool {
    psl_organizational_domain(a) == psl_organizational_domain(b)
}

/// What a `_dmarc.<domain>` TXT query gave (RFC 9989 §4.10 steps 1–2, 5–6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Exactly one DMARC record.
    Record(Box<Record>),
    /// No DMARC record (NXDOMAIN, NODATA, only non-DMARC TXT records, or an unusable name).
    None,
    /// Several DMARC records: all discarded.
    Multiple,
    /// A temporary DNS failure.
    TempError,
}

/// A per-message cache of `_dmarc` lookups, so policy discovery and the alignment walks never
/// ask the same name twice.
#[derive(Debug, Clone, Default)]
pub(crate) struct LookupCache {
    map: HashMap<String, Lookup, foldhash::fast::RandomState>,
}

impl LookupCache {
    /// The DMARC record(s) at `_dmarc.<domain>`.
    pub(crate) async fn lookup<R: Resolver + ?Sized>(
        &mut self,
        resolver: &R,
        domain: &str,
    ) -> Lookup {
        if let Some(hit) = self.map.get(domain) {
            return hit.clone();
        }
        let name = format!("_dmarc.{domain}");
        let result = match resolver.txt(&name).await {
            Ok(txts) => {
                let mut records: Vec<Record> =
                    txts.iter().filter_map(|t| parse_record(t).ok()).collect();
                match records.len() {
                    0 => Lookup::None,
                    1 => records
                        .pop()
                        .map_or(Lookup::None, |r| Lookup::Record(Box::new(r))),
                    _ => Lookup::Multiple,
                }
            }
            Err(e) if e.is_temporary() => Lookup::TempError,
            Err(DnsError::NxDomain | DnsError::NoData | DnsError::InvalidName(_)) => Lookup::None,
            Err(_) => Lookup::TempError,
        };
        self.map.insert(domain.to_string(), result.clone());
        result
    }
}

/// The targets of a tree walk starting at `domain` (RFC 9989 §4.10 steps 3–7): the domain
/// itself, then (if it has 8 or more labels) its last 7 labels, then one label fewer each time.
/// Never more than [`MAX_WALK_QUERIES`].
pub(crate) fn walk_targets(domain: &str) -> Vec<&str> {
    let x = label_count(domain);
    let mut out = vec![domain];
    let next = if x < MAX_WALK_QUERIES {
        x.saturating_sub(1)
    } else {
        MAX_WALK_QUERIES - 1
    };
    for n in (1..=next).rev() {
        out.push(last_labels(domain, n));
    }
    out
}

/// The records a tree walk found, longest name first.
#[derive(Debug, Clone, Default)]
pub(crate) struct WalkResult {
    /// (domain, record) for every target that had exactly one DMARC record.
    pub found: Vec<(String, Record)>,
    /// Names where several records were discarded.
    pub multiple: Vec<String>,
}

/// Runs the tree walk over `targets` (RFC 9989 §4.10), stopping at a record with `psd=y` or
/// `psd=n`. `Err(name)` on a temporary DNS failure.
pub(crate) async fn tree_walk<R: Resolver + ?Sized>(
    resolver: &R,
    cache: &mut LookupCache,
    targets: &[&str],
) -> Result<WalkResult, String> {
    let mut out = WalkResult::default();
    for target in targets.iter().take(MAX_WALK_QUERIES) {
        match cache.lookup(resolver, target).await {
            Lookup::Record(r) => {
                let stop = matches!(r.psd, Psd::Yes | Psd::No);
                out.found.push((target.to_string(), *r));
                if stop {
                    break;
                }
            }
            Lookup::Multiple => out.multiple.push(format!("_dmarc.{target}")),
            Lookup::None => {}
            Lookup::TempError => return Err(format!("_dmarc.{target}")),
        }
    }
    Ok(out)
}

/// Selects the organizational domain of `start` from a walk's records (RFC 9989 §4.10.2).
pub(crate) fn select_org_domain(start: &str, found: &[(String, Record)]) -> String {
    for (domain, record) in found {
        if record.psd == Psd::No {
            return domain.clone();
        }
        if record.psd == Psd::Yes && domain != start {
            return last_labels(start, label_count(domain).saturating_add(1)).to_string();
        }
    }
    match found.last() {
        Some((domain, _)) => domain.clone(),
        None => start.to_string(),
    }
}

/// The organizational domain of `domain` by a full tree walk from the domain itself
/// (RFC 9989 §4.10.2). `Err(name)` on a temporary DNS failure.
pub(crate) async fn tree_walk_org_domain<R: Resolver + ?Sized>(
    resolver: &R,
    cache: &mut LookupCache,
    domain: &str,
) -> Result<String, String> {
    let targets = walk_targets(domain);
    let walk = tree_walk(resolver, cache, &targets).await?;
    Ok(select_org_domain(domain, &walk.found))
}

/// The organizational domains of `domains` by the DNS tree walk (RFC 9989 §4.10.2), one walk
/// each over a shared lookup cache (two domains under one PSD ask for its record once), so
/// callers outside DMARC evaluation (RFC 9990 §4 destination checks) decide "same
/// organization" as alignment does. `Err(name)` names the `_dmarc` query that failed
/// temporarily.
pub async fn tree_walk_organizational_domains<R: Resolver + ?Sized>(
    resolver: &R,
    domains: &[&str],
) -> Result<Vec<String>, String> {
    let mut cache = LookupCache::default();
    let mut out = Vec::with_capacity(domains.len());
    for domain in domains {
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        out.push(tree_walk_org_domain(resolver, &mut cache, &d).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_follow_the_rfc_example() {
        let t = walk_targets("a.b.c.d.e.f.g.h.i.j.mail.example.com");
        assert_eq!(
            t,
            [
                "a.b.c.d.e.f.g.h.i.j.mail.example.com",
                "g.h.i.j.mail.example.com",
                "h.i.j.mail.example.com",
                "i.j.mail.example.com",
                "j.mail.example.com",
                "mail.example.com",
                "example.com",
                "com"
            ]
        );
        assert_eq!(walk_targets("example.com"), ["example.com", "com"]);
        assert_eq!(walk_targets("com"), ["com"]);
        assert_eq!(walk_targets("a.b.c.d.e.f.g.h").len(), 8);
    }

    #[test]
    fn psl_examples() {
        assert_eq!(
            psl_organizational_domain("a.b.example.co.uk"),
            "example.co.uk"
        );
        assert_eq!(
            psl_organizational_domain("x.example.github.io"),
            "example.github.io"
        );
        assert_eq!(psl_organizational_domain("co.uk"), "co.uk");
        assert_eq!(
            psl_organizational_domain("a.b.example.unknowntld"),
            "example.unknowntld"
        );
        assert!(relaxed_aligned_psl("mail.example.com", "example.com"));
        assert!(!relaxed_aligned_psl("a.github.io", "b.github.io"));
    }
}
