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
    /// Mailed with DMARC pass for a From domain that is not the reporter's: its
    /// organizational domain is neither that of the report's `<email>` domain nor that of
    /// its `org_name` (when a domain name). Not verified: anyone passes DMARC for their own
    /// domain ([`Provenance::for_report`]).
    OtherDomain {
        /// The RFC 5322.From domain (A-label, lowercase).
        from_domain: String,
    },
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
            Provenance::OtherDomain { .. } => false,
        }
    }

    /// This provenance of a message as it vouches for `report` (RFC 9990 §3.5.2, §8.2): a
    /// DMARC pass verifies the report only when the From domain's organizational domain
    /// (`org_domain`, RFC 9989 §3.2.9) is that of the report's `<email>` domain or of its
    /// `org_name` when that is a domain name; otherwise [`Provenance::OtherDomain`].
    pub fn for_report(
        self,
        report: &reports::Feedback,
        org_domain: impl Fn(&str) -> String,
    ) -> Provenance {
        let from = match &self {
            Provenance::Mail {
                from_domain: Some(d),
                dmarc: CarrierDmarc::Pass,
            } => d.clone(),
            _ => return self,
        };
        let m = &report.metadata;
        // a name as a domain: A-labels (a U-label <email> domain is the same domain)
        let as_domain = |d: &str| {
            let d = d.trim().trim_end_matches('.');
            dns::name::to_ascii(d.as_bytes())
                .ok()
                .filter(|a| looks_like_domain(a))
        };
        let own = org_domain(&from.to_ascii_lowercase());
        // an org_name that is a domain name decides: the <email> the sender writes cannot
        // stand in for a reporter it names; a free-text org_name leaves it to <email>
        let of_reporter = match as_domain(&m.org_name) {
            Some(named) => org_domain(&named) == own,
            None => m
                .email
                .rsplit_once('@')
                .and_then(|(_, d)| as_domain(d))
                .is_some_and(|d| org_domain(&d) == own),
        };
        if of_reporter {
            self
        } else {
            Provenance::OtherDomain { from_domain: from }
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
            Provenance::OtherDomain { .. } => 1,
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
            Provenance::OtherDomain { from_domain } => {
                (Some(from_domain.clone()), Some(CarrierDmarc::Pass.as_str()))
            }
        }
    }

    /// From the `sender_domain`, `sender_dmarc` and `counted` columns (anything unknown:
    /// `Unknown`); a pass not counted is [`Provenance::OtherDomain`].
    pub(crate) fn from_columns(
        domain: Option<String>,
        dmarc: Option<String>,
        counted: bool,
    ) -> Provenance {
        match dmarc.as_deref() {
            Some(IMPORTED) => Provenance::Imported,
            Some(name) => match (CarrierDmarc::parse(name), domain) {
                (Some(CarrierDmarc::Pass), Some(from_domain)) if !counted => {
                    Provenance::OtherDomain { from_domain }
                }
                (Some(dmarc), domain) => Provenance::Mail {
                    from_domain: domain,
                    dmarc,
                },
                (None, _) => Provenance::Unknown,
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
            Provenance::OtherDomain { from_domain } => {
                format!("sent by {from_domain}, DMARC pass, not the reporter's domain")
            }
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
            (Provenance::OtherDomain { from_domain }, _) => {
                format!("sent by {from_domain}, not the reporter's")
            }
            (Provenance::Unknown, _) => "unknown".to_string(),
        }
    }
}

/// Whether `name` is written as a domain name: dot-separated labels of letters, digits and
/// hyphens (an `org_name` such as `google.com`, not `Yahoo! Inc.`).
fn looks_like_domain(name: &str) -> bool {
    name.contains('.')
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
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
            Provenance::OtherDomain { from_domain } => {
                ("mail", Some(from_domain.as_str()), Some(CarrierDmarc::Pass))
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
                &Provenance::from_columns(d, r.map(str::to_string), p.counted()),
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

    /// The organizational domain as the tests need it: the last two labels.
    fn last_two_labels(d: &str) -> String {
        let labels: Vec<&str> = d.rsplit('.').take(2).collect();
        labels.into_iter().rev().collect::<Vec<_>>().join(".")
    }

    /// RFC 9990 §8.2: a DMARC pass vouches for the From domain, not for the reporter a
    /// report names; it is verified only when that domain's organizational domain is the
    /// one of the report's `<email>` domain, or of its `org_name` when that is a domain name.
    #[test]
    fn a_pass_is_verified_only_for_the_reporters_own_domain() {
        let mut report = reports::parse_report(
            b"<feedback><report_metadata><org_name>google.com</org_name>\
              <email>noreply-dmarc-support@google.com</email><report_id>1</report_id>\
              <date_range><begin>1</begin><end>2</end></date_range></report_metadata>\
              <policy_published><domain>example.com</domain><p>none</p></policy_published>\
              <record><row><source_ip>192.0.2.1</source_ip><count>1</count><policy_evaluated>\
              <disposition>none</disposition><dkim>pass</dkim><spf>pass</spf>\
              </policy_evaluated></row><identifiers><header_from>example.com</header_from>\
              </identifiers><auth_results><spf><domain>example.com</domain>\
              <result>pass</result></spf></auth_results></record></feedback>",
        )
        .unwrap();
        let sent = |domain: &str, report: &reports::Feedback| {
            Provenance::Mail {
                from_domain: Some(domain.into()),
                dmarc: CarrierDmarc::Pass,
            }
            .for_report(report, last_two_labels)
        };
        for own in ["google.com", "mail.google.com"] {
            let p = sent(own, &report);
            assert_eq!(p.verified_domain(), Some(own));
            assert!(p.counted());
        }
        for other in [
            "evil.example",
            "google.com.evil.example",
            "xn--ggle-55da.com",
        ] {
            let p = sent(other, &report);
            assert_eq!(p.verified_domain(), None, "{other}");
            assert!(!p.counted(), "{other}");
            assert_eq!(
                p.describe(),
                format!("sent by {other}, DMARC pass, not the reporter's domain")
            );
            let (d, r) = p.columns();
            assert_eq!(
                Provenance::from_columns(d, r.map(str::to_string), p.counted()),
                p
            );
        }
        // an org_name that is no domain name: the <email> domain decides
        report.metadata.org_name = "Google Inc.".into();
        assert!(sent("google.com", &report).counted());
        // an org_name that is a domain name decides: the <email> the sender writes cannot
        // stand in for it (a forged "google.com" report with its <email> at evil.example,
        // sent with DMARC pass by evil.example, was counted)
        report.metadata.org_name = "google.com".into();
        report.metadata.email = "dmarc@mailer.example".into();
        assert!(sent("google.com", &report).counted());
        assert!(!sent("mailer.example", &report).counted());
        report.metadata.email = "noreply@evil.example".into();
        assert!(!sent("evil.example", &report).counted());
        // a reporter writing its IDN <email> domain in U-labels is the same domain
        report.metadata.org_name = "Bücher".into();
        report.metadata.email = "dmarc@bücher.example".into();
        assert!(sent("xn--bcher-kva.example", &report).counted());
        // a result other than pass is unverified whoever it names
        let failed = Provenance::Mail {
            from_domain: Some("google.com".into()),
            dmarc: CarrierDmarc::Fail,
        }
        .for_report(&report, last_two_labels);
        assert!(!failed.counted());
    }
}
