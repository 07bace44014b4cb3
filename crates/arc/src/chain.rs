//! Collecting the ARC sets of a message and checking the chain's structure (RFC 8617 §5.2
//! steps 1–3): the instance numbering, one field of each kind per instance, and the `cv=`
//! progression. No DNS, no cryptography.

use dkim::HeaderField;

use crate::error::ArcError;
use crate::fields::{
    ArcAuthResults, ArcField, ArcSeal, MAX_INSTANCE, MessageSignature, Parsed, instance_and_cv,
};
use crate::outcome::{ChainStatus, FailReason};

/// One set whose structure is sound: each field's position in the header list and its
/// parsed form.
#[derive(Debug, Clone)]
pub(crate) struct SetFields {
    pub instance: u32,
    pub aar: (usize, ArcAuthResults),
    /// Only the newest must parse; an older one that does not only ends oldest-pass.
    pub ams: (usize, Result<MessageSignature, ArcError>),
    pub seal: (usize, ArcSeal),
}

impl SetFields {
    /// Header-list positions in ARC-Seal hashing order (RFC 8617 §5.1.1).
    pub fn positions(&self) -> [usize; 3] {
        [self.aar.0, self.ams.0, self.seal.0]
    }
}

/// The chain as found in the header (RFC 8617 §5.2 steps 1–3).
#[derive(Debug, Clone)]
pub(crate) enum Structure {
    /// No ARC header fields.
    None,
    /// The chain fails before any signature is checked.
    Broken { reason: FailReason, highest: u32 },
    /// Sets 1..N, in order.
    Sound(Vec<SetFields>),
}

enum Entry {
    Aar(Parsed<ArcAuthResults>),
    Ams(Parsed<MessageSignature>),
    Seal(Parsed<ArcSeal>),
}

impl Entry {
    fn field(&self) -> ArcField {
        match self {
            Entry::Aar(_) => ArcField::AuthenticationResults,
            Entry::Ams(_) => ArcField::MessageSignature,
            Entry::Seal(_) => ArcField::Seal,
        }
    }

    fn instance(&self) -> &Result<u32, ArcError> {
        match self {
            Entry::Aar(p) => &p.instance,
            Entry::Ams(p) => &p.instance,
            Entry::Seal(p) => &p.instance,
        }
    }
}

/// Collects the ARC header fields of `headers` and checks the structure (RFC 8617 §5.2 steps
/// 1–3). Work is bounded: beyond `max_sets` sets' fields (at most 50 sets, 150 fields) only
/// each field's instance and `cv=` are read, no signature.
pub(crate) fn structure(headers: &[HeaderField], max_sets: u32) -> Structure {
    let arc: Vec<(usize, ArcField, &[u8])> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| ArcField::of(h).map(|f| (i, f, h.value.as_slice())))
        .collect();
    if arc.is_empty() {
        return Structure::None;
    }
    // the instance numbers and the newest seal's cv=, read from every field however the
    // rest of it reads (linear in the header bytes, which the server bounds)
    let numbers: Vec<(ArcField, Option<u32>, Option<ChainStatus>)> = arc
        .iter()
        .map(|&(_, f, value)| {
            let (instance, cv) = instance_and_cv(value, f);
            (f, instance, cv)
        })
        .collect();
    let highest = numbers.iter().filter_map(|n| n.1).max().unwrap_or(0);
    let broken = |reason| Structure::Broken { reason, highest };
    // step 2: the most recent seal reports fail, the chain ended there (RFC 8617 §5.1 step 2,
    // §5.2 step 2), whatever else is wrong with it: nobody seals after it
    let seals = || numbers.iter().filter(|n| n.0 == ArcField::Seal);
    if let Some(newest) = seals().filter_map(|n| n.1).max()
        && seals().any(|n| n.1 == Some(newest) && n.2 == Some(ChainStatus::Fail))
    {
        return broken(FailReason::Terminated { instance: newest });
    }
    // step 1: at most 50 sets, or fewer where the operator set a lower limit (each set costs
    // two key lookups and two signature checks, RFC 8617 §9.2); past it no signature is parsed
    let limit = max_sets.clamp(1, MAX_INSTANCE);
    let max_fields = usize::try_from(limit).unwrap_or(50).saturating_mul(3);
    if arc.len() > max_fields {
        return broken(FailReason::TooManySets {
            fields: arc.len(),
            limit,
        });
    }
    let entries: Vec<(usize, Entry)> = arc
        .iter()
        .map(|&(i, f, value)| {
            let entry = match f {
                ArcField::AuthenticationResults => Entry::Aar(ArcAuthResults::parse_parts(value)),
                ArcField::MessageSignature => Entry::Ams(MessageSignature::parse_parts(value)),
                ArcField::Seal => Entry::Seal(ArcSeal::parse_parts(value)),
            };
            (i, entry)
        })
        .collect();
    if let Some(e) = entries
        .iter()
        .find_map(|(_, e)| e.instance().as_ref().err())
    {
        return broken(FailReason::Malformed(e.clone()));
    }
    // step 3A/3B: exactly one of each field for every instance 1..N
    for instance in 1..=highest {
        for field in ArcField::ALL {
            let count = entries
                .iter()
                .filter(|(_, e)| e.field() == field && e.instance() == &Ok(instance))
                .count();
            if count == 0 {
                return broken(FailReason::Missing { field, instance });
            }
            if count > 1 {
                return broken(FailReason::Duplicate { field, instance });
            }
        }
    }
    let mut aars = Vec::new();
    let mut amss = Vec::new();
    let mut seals = Vec::new();
    for (i, e) in entries {
        match e {
            Entry::Aar(p) => match p.full {
                Ok(a) => aars.push((i, a)),
                Err(err) => return broken(FailReason::Malformed(err)),
            },
            Entry::Ams(p) => match (p.instance, p.full) {
                (Ok(n), Err(err)) if n == highest => return broken(FailReason::Malformed(err)),
                (Ok(n), full) => amss.push((i, n, full)),
                (Err(err), _) => return broken(FailReason::Malformed(err)),
            },
            Entry::Seal(p) => match p.full {
                Ok(s) => seals.push((i, s)),
                Err(err) => return broken(FailReason::Malformed(err)),
            },
        }
    }
    // step 3C: cv= none at i=1, pass after
    let mut sets = Vec::with_capacity(seals.len());
    for instance in 1..=highest {
        let (Some(aar), Some(ams), Some(seal)) = (
            aars.iter().position(|(_, a)| a.instance == instance),
            amss.iter().position(|(_, n, _)| *n == instance),
            seals.iter().position(|(_, s)| s.instance == instance),
        ) else {
            // unreachable after step 3A; stay total
            return broken(FailReason::Missing {
                field: ArcField::Seal,
                instance,
            });
        };
        let aar = aars.swap_remove(aar);
        let (ams_pos, _, ams) = amss.swap_remove(ams);
        let seal = seals.swap_remove(seal);
        let want = if instance == 1 {
            ChainStatus::None
        } else {
            ChainStatus::Pass
        };
        if seal.1.cv != want {
            return broken(FailReason::BadChainStatus {
                instance,
                cv: seal.1.cv,
            });
        }
        sets.push(SetFields {
            instance,
            aar,
            ams: (ams_pos, ams),
            seal,
        });
    }
    Structure::Sound(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(i: u32, cv: &str) -> Vec<HeaderField> {
        vec![
            HeaderField::new(
                "ARC-Seal",
                format!(" i={i}; a=rsa-sha256; cv={cv}; d=e.org; s=s; b=AAAA"),
            ),
            HeaderField::new(
                "ARC-Message-Signature",
                format!(" i={i}; a=rsa-sha256; d=e.org; s=s; h=from; bh=AAAA; b=AAAA"),
            ),
            HeaderField::new("ARC-Authentication-Results", format!(" i={i}; e.org; none")),
        ]
    }

    fn reason(headers: &[HeaderField]) -> FailReason {
        match structure(headers, MAX_INSTANCE) {
            Structure::Broken { reason, .. } => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sound_chain() {
        let mut h = set(2, "pass");
        h.extend(set(1, "none"));
        h.push(HeaderField::new("From", " a@e.org"));
        let Structure::Sound(sets) = structure(&h, MAX_INSTANCE) else {
            panic!()
        };
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0].instance, 1);
        assert_eq!(sets[0].positions(), [5, 4, 3]);
        assert!(matches!(structure(&h[6..], MAX_INSTANCE), Structure::None));
    }

    #[test]
    fn structural_failures() {
        let mut h = set(2, "pass");
        h.extend(set(1, "pass"));
        assert_eq!(
            reason(&h),
            FailReason::BadChainStatus {
                instance: 1,
                cv: ChainStatus::Pass
            }
        );
        let mut h = set(3, "pass");
        h.extend(set(1, "none"));
        assert!(matches!(
            reason(&h),
            FailReason::Missing { instance: 2, .. }
        ));
        let mut h = set(1, "none");
        h.extend(set(1, "none"));
        assert!(matches!(
            reason(&h),
            FailReason::Duplicate {
                field: ArcField::AuthenticationResults,
                instance: 1
            }
        ));
        let mut h = set(2, "fail");
        h.extend(set(1, "none"));
        assert_eq!(reason(&h), FailReason::Terminated { instance: 2 });
        let h = set(0, "none");
        assert!(matches!(
            reason(&h),
            FailReason::Malformed(ArcError::BadInstance { .. })
        ));
        let h: Vec<HeaderField> = (1..=51).flat_map(|i| set(i, "pass")).collect();
        assert_eq!(
            reason(&h),
            FailReason::TooManySets {
                fields: 153,
                limit: 50
            }
        );
        let h: Vec<HeaderField> = (1..=50)
            .rev()
            .flat_map(|i| set(i, if i == 1 { "none" } else { "pass" }))
            .collect();
        assert!(matches!(structure(&h, MAX_INSTANCE), Structure::Sound(s) if s.len() == 50));
    }

    /// The newest seal's `cv=fail` ends the chain however the rest reads (RFC 8617 §5.1 step
    /// 2): a stray field, a seal with a refused algorithm or a field numbered past it does
    /// not reopen it for the next sealer.
    #[test]
    fn the_newest_seal_ends_the_chain_whatever_else_is_wrong() {
        let terminated = |h: &[HeaderField]| match structure(h, MAX_INSTANCE) {
            Structure::Broken { reason, highest } => (reason, highest),
            other => panic!("{other:?}"),
        };
        let mut ended = set(2, "fail");
        ended.extend(set(1, "none"));
        let stray = HeaderField::new("ARC-Authentication-Results", " i=0; junk.example; none");
        let h = [vec![stray], ended.clone()].concat();
        assert_eq!(terminated(&h), (FailReason::Terminated { instance: 2 }, 2));
        let mut sha1 = ended.clone();
        sha1[0] = HeaderField::new(
            "ARC-Seal",
            " i=2; a=rsa-sha1; cv=fail; d=e.org; s=s; b=AAAA",
        );
        assert_eq!(
            terminated(&sha1),
            (FailReason::Terminated { instance: 2 }, 2)
        );
        let later = HeaderField::new("ARC-Authentication-Results", " i=3; e.org; none");
        let h = [vec![later], ended].concat();
        assert_eq!(terminated(&h), (FailReason::Terminated { instance: 2 }, 3));
    }

    /// A chain longer than the operator's limit fails unchecked, but its highest instance is
    /// still known, so that a sealer numbers its set after it (RFC 8617 §5.1 step 3).
    #[test]
    fn a_chain_past_the_limit_still_has_its_highest_instance() {
        let h: Vec<HeaderField> = (1..=11)
            .rev()
            .flat_map(|i| set(i, if i == 1 { "none" } else { "pass" }))
            .collect();
        match structure(&h, 10) {
            Structure::Broken { reason, highest } => {
                assert_eq!(
                    reason,
                    FailReason::TooManySets {
                        fields: 33,
                        limit: 10
                    }
                );
                assert_eq!(highest, 11);
            }
            other => panic!("{other:?}"),
        }
    }
}
