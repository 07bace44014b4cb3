//! How a received report reached the store, and whether the organization it names was
//! authenticated: RFC 9990 §3.5.2 has report mail conform to DMARC ("resulting in an
//! aligned 'pass'") so that fraudulent reports can be told apart, and §8.2 warns that
//! report data may be forged. The `org_name` of a report is the sender's text; what vouches
//! for it is the DMARC result of the message that carried it (docs/reports.md, "Who sent
//! a report").
//!
//! Stored in `received_reports.sender_domain` and `.sender_dmarc` (schema version 4):
//! a mailed report has its RFC 5322.From domain (NULL when unreadable) and the DMARC result
//! name; an imported one `sender_dmarc = 'imported'`; rows stored before version 4 have both
//! NULL (unknown).

use serde::Serialize;

/// The DMARC result of the message that carried a report (RFC 9989 §4.4; names as RFC 8601
/// §2.7.1), or that DMARC was not evaluated for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CarrierDmarc {
    /// An aligned DKIM or SPF pass for the From domain.
    Pass,
    /// The From domain's policy applies and nothing aligned passed.
    Fail,
    /// The From domain publishes no DMARC policy.
    None,
    /// A temporary DNS failure: no conclusion.
    TempError,
    /// The From field could not be evaluated (none, several, unusable).
    PermError,
    /// DMARC is turned off (`[dmarc] enabled = false`) or was not evaluated.
    Unchecked,
}

impl CarrierDmarc {
    /// The stored and shown name (RFC 8601 §2.7.1 for the DMARC results).
    pub fn as_str(self) -> &'static str {
        match self {
            CarrierDmarc::Pass => "pass",
            CarrierDmarc::Fail => "fail",
            CarrierDmarc::None => "none",
            CarrierDmarc::TempError => "temperror",
            CarrierDmarc::PermError => "permerror",
            CarrierDmarc::Unchecked => "unchecked",
        }
    }

    fn parse(name: &str) -> Option<CarrierDmarc> {
        [
            CarrierDmarc::Pass,
            CarrierDmarc::Fail,
            CarrierDmarc::None,
            CarrierDmarc::TempError,
            CarrierDmarc::PermError,
            CarrierDmarc::Unchecked,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }
}

/// What `sender_dmarc` holds for a report `authmilter report import` stored.
const IMPORTED: &str = "imported";

/// How a received report arrived (RFC 9990 §3.5.2, §8.2; module docs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provenance {
    /// Stored before schema version 4: not known.
    Unknown,
    /// Mailed to the report inbox: the From domain of its message (`None`: unreadable) and
    /// that message's DMARC result.
    Mail {
        /// The RFC 5322.From domain (A-label, lowercase).
        from_domain: Option<String>,
        /// The message's DMARC result for it.
        dmarc: CarrierDmarc,
    },
    /// Stored by `authmilter report import`: the operator vouches for it.
    Imported,
}

impl Provenance {
    /// The domain that authenticated the report's message (its From domain passed DMARC).
    pub fn verified_domain(&self) -> Option<&str> {
        match self {
            Provenance::Mail {
                from_domain: Some(d),
                dmarc: CarrierDmarc::Pass,
            } => Some(d),
            _ => None,
        }
    }

    /// Whether a report of this provenance counts in the totals, pass rates, days, sources
    /// and "policy as last reported" (RFC 9990 §8.2: report data may be forged): a verified
    /// sender, the operator's import, or a report stored before provenance was kept; an
    /// unverified one is shown apart (`received_reports.counted`).
    pub fn counted(&self) -> bool {
        match self {
            Provenance::Unknown | Provenance::Imported => true,
            Provenance::Mail { .. } => self.verified_domain().is_some(),
        }
    }

    /// Whether a copy of a stored report arriving as `self` replaces the `stored`
    /// provenance: a stronger one does (the same report sent forged first, then by its
    /// reporter, is shown as the reporter's), never a weaker; an import replaces only an
    /// unknown one, since the operator re-importing a mailbox must not erase the
    /// "unverified" mark of a report mailed forged (RFC 9990 §8.2); and a counted report
    /// never becomes uncounted (an unverified copy of an unknown one changes nothing).
    pub fn replaces(&self, stored: &Provenance) -> bool {
        match (self, stored) {
            (Provenance::Imported, Provenance::Unknown) => true,
            (Provenance::Imported, _) => false,
            _ if stored.counted() && !self.counted() => false,
            _ => self.strength() > stored.strength(),
        }
    }

    /// How much it vouches for the report (RFC 9990 §3.5.2: a DMARC pass most; see
    /// [`Provenance::replaces`]).
    pub fn strength(&self) -> u8 {
        match self {
            Provenance::Unknown => 0,
            Provenance::Mail { .. } if self.verified_domain().is_none() => 1,
            Provenance::Imported => 2,
            Provenance::Mail { .. } => 3,
        }
    }

    /// The `sender_domain` and `sender_dmarc` columns.
    pub(crate) fn columns(&self) -> (Option<String>, Option<&'static str>) {
        match self {
            Provenance::Unknown => (None, None),
            Provenance::Imported => (None, Some(IMPORTED)),
            Provenance::Mail { from_domain, dmarc } => (from_domain.clone(), Some(dmarc.as_str())),
        }
    }

    /// From the `sender_domain` and `sender_dmarc` columns (anything unknown: `Unknown`).
    pub(crate) fn from_columns(domain: Option<String>, dmarc: Option<String>) -> Provenance {
        match dmarc.as_deref() {
            Some(IMPORTED) => Provenance::Imported,
            Some(name) => match CarrierDmarc::parse(name) {
                Some(dmarc) => Provenance::Mail {
                    from_domain: domain,
                    dmarc,
                },
                None => Provenance::Unknown,
            },
            None => Provenance::Unknown,
        }
    }

    /// One line for people: `sent by google.com, DMARC pass`, `unverified: sent as
    /// evil.example, DMARC none`, `imported by the operator`, `unknown: stored before …`.
    pub fn describe(&self) -> String {
        match self {
            Provenance::Unknown => {
                "unknown: stored before authmilter kept who sent reports".to_string()
            }
            Provenance::Imported => "imported by the operator (report import)".to_string(),
            Provenance::Mail { from_domain, dmarc } => {
                match (self.verified_domain(), from_domain) {
                    (Some(d), _) => format!("sent by {d}, DMARC pass"),
                    (None, Some(d)) => format!("unverified: sent as {d}, DMARC {}", dmarc.as_str()),
                    (None, None) => format!(
                        "unverified: the From domain is unreadable, DMARC {}",
                        dmarc.as_str()
                    ),
                }
            }
        }
    }

    /// A few words for lists: `sent by google.com`, `unverified`, `imported`, `unknown`.
    pub fn short(&self) -> String {
        match (self, self.verified_domain()) {
            (_, Some(d)) => format!("sent by {d}"),
            (Provenance::Mail { .. }, None) => "unverified".to_string(),
            (Provenance::Imported, _) => "imported".to_string(),
            (Provenance::Unknown, _) => "unknown".to_string(),
        }
    }
}

/// The JSON form (`report show --json`).
#[derive(Serialize)]
struct ProvenanceJson<'a> {
    /// `mail`, `imported` or `unknown`.
    how: &'static str,
    /// The From domain passed DMARC.
    verified: bool,
    /// The From domain of a mailed report.
    from_domain: Option<&'a str>,
    /// Its DMARC result.
    dmarc: Option<CarrierDmarc>,
    /// [`Provenance::describe`].
    text: String,
}

impl Serialize for Provenance {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (how, from_domain, dmarc) = match self {
            Provenance::Unknown => ("unknown", None, None),
            Provenance::Imported => ("imported", None, None),
            Provenance::Mail { from_domain, dmarc } => {
                ("mail", from_domain.as_deref(), Some(*dmarc))
            }
        };
        ProvenanceJson {
            how,
            verified: self.verified_domain().is_some(),
            from_domain,
            dmarc,
            text: self.describe(),
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_read_back_and_only_a_pass_is_verified() {
        let all = [
            Provenance::Unknown,
            Provenance::Imported,
            Provenance::Mail {
                from_domain: Some("google.com".into()),
                dmarc: CarrierDmarc::Pass,
            },
            Provenance::Mail {
                from_domain: Some("evil.example".into()),
                dmarc: CarrierDmarc::None,
            },
            Provenance::Mail {
                from_domain: None,
                dmarc: CarrierDmarc::PermError,
            },
        ];
        for p in &all {
            let (d, r) = p.columns();
            assert_eq!(
                &Provenance::from_columns(d, r.map(str::to_string)),
                p,
                "{p:?}"
            );
        }
        let verified: Vec<_> = all.iter().filter_map(Provenance::verified_domain).collect();
        assert_eq!(verified, ["google.com"]);
        assert_eq!(
            all[3].describe(),
            "unverified: sent as evil.example, DMARC none"
        );
    }
}
