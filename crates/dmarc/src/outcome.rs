//! What DMARC gives out: results, dispositions, reasons and evaluations (RFC 9989 §5.3, RFC 8601 §2.7.1).

use crate::config::Mode;
use crate::input::{DkimAuth, SpfAuth};
use crate::record::{Policy, Record};
use std::fmt;

/// The DMARC result (RFC 8601 §2.7.1 via RFC 7489 §11.2 / RFC 9989 §9.2), lowercase on display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DmarcResult {
    /// An authenticated identifier is aligned with the author domain.
    Pass,
    /// A policy record applies and no authenticated identifier is aligned.
    Fail,
    /// No DMARC policy record applies (DMARC does not apply to the message).
    None,
    /// A DNS lookup (or an aligned SPF/DKIM check) failed temporarily: no conclusion.
    TempError,
    /// The message cannot be evaluated: no, several or unusable author domains (see
    /// [`DmarcOutcome::from_problem`]).
    PermError,
}

impl DmarcResult {
    /// The lowercase RFC 8601 §2.7.1 name (`pass`, `fail`, `none`, `temperror`, `permerror`).
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::None => "none",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for DmarcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The disposition applied after `pct` sampling or `t=y` (RFC 7489 §6.6.4, RFC 9989 §4.7 `t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Disposition {
    /// Deliver as usual.
    #[default]
    None,
    /// Treat as suspicious (spam folder, hold, mark).
    Quarantine,
    /// Reject during the SMTP transaction.
    Reject,
}

impl Disposition {
    /// One level lower: reject → quarantine → none (RFC 9989 `t=y`, RFC 7489 §6.6.4).
    pub fn one_lower(self) -> Disposition {
        match self {
            Disposition::Reject => Disposition::Quarantine,
            Disposition::Quarantine | Disposition::None => Disposition::None,
        }
    }
}

impl From<Policy> for Disposition {
    fn from(p: Policy) -> Self {
        match p {
            Policy::None => Disposition::None,
            Policy::Quarantine => Disposition::Quarantine,
            Policy::Reject => Disposition::Reject,
        }
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Disposition::None => "none",
            Disposition::Quarantine => "quarantine",
            Disposition::Reject => "reject",
        })
    }
}

/// Which tag of the record gave the applicable policy (RFC 9989 §4.10.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    /// `p`: the author domain is the policy domain.
    P,
    /// `sp`: an existing subdomain of the policy domain.
    Sp,
    /// `np`: a non-existent subdomain (RFC 9989 §3.2.13, NXDOMAIN).
    Np,
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicySource::P => "p",
            PolicySource::Sp => "sp",
            PolicySource::Np => "np",
        })
    }
}

/// Where the applied record was found (RFC 9989 §4.10.1 order of preference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordSource {
    /// At `_dmarc.<author domain>`.
    AuthorDomain,
    /// At the organizational domain of the author domain.
    OrganizationalDomain,
    /// At the public suffix domain (a PSD record, `psd=y`, RFC 9989 §3.2.15).
    PublicSuffixDomain,
}

impl fmt::Display for RecordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordSource::AuthorDomain => "author domain record",
            RecordSource::OrganizationalDomain => "organizational domain record",
            RecordSource::PublicSuffixDomain => "public suffix domain record",
        })
    }
}

/// How the organizational domain was determined (RFC 9990 `discovery_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscoveryMethod {
    /// The compiled-in public suffix list (RFC 7489 §3.2).
    Psl,
    /// The DNS tree walk (RFC 9989 §4.10).
    TreeWalk,
}

impl fmt::Display for DiscoveryMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DiscoveryMethod::Psl => "psl",
            DiscoveryMethod::TreeWalk => "treewalk",
        })
    }
}

/// Why the `From:` field(s) could not be evaluated (RFC 7489 §6.6.1, RFC 9989 §5.3.1, §11.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FromProblem {
    /// The message has no `From:` field.
    NoFromField,
    /// The message has several `From:` fields (RFC 5322 §3.6 allows one).
    MultipleFromFields(usize),
    /// The `From:` field holds several mailboxes (rejected when configured).
    MultipleAddresses(usize),
    /// The `From:` field(s) name several distinct author domains (RFC 9989 §11.5).
    MultipleAuthorDomains {
        /// How many distinct domains.
        count: usize,
        /// The first ones in order, at most one more than [`Config::max_author_domains`](crate::Config::max_author_domains).
        first: Vec<String>,
    },
    /// More author domains than [`Config::max_author_domains`](crate::Config::max_author_domains) (RFC 9989 §11.5).
    TooManyAuthorDomains(usize),
    /// The `From:` field holds no mailbox (display name only, empty group, ...).
    NoAddress,
    /// A mailbox whose domain is unusable (a domain literal, an invalid name).
    InvalidDomain(String),
    /// One of several entries has no address: a display name or word without `@`
    /// (`"Name", <a@b.example>`).
    EntryWithoutAddress,
    /// The field could not be parsed (unterminated quoted string or comment, ...).
    Unparseable(String),
    /// A control character (NUL, ESC, a lone CR, …) in a From field (RFC 5322 §2.2): no part
    /// of the field is evaluated.
    ControlCharacter(u8),
}

/// How many author domains a [`FromProblem`] names; the text goes into the A-R reason, the
/// log and the SMTP reply, so a From field of 100 KB must not make one of them that long.
const SHOWN_DOMAINS: usize = 5;

/// The longest domain text a [`FromProblem`] shows (a valid name has at most 253 octets).
const SHOWN_DOMAIN_CHARS: usize = 64;

/// `domain`, or its first [`SHOWN_DOMAIN_CHARS`] characters and `...`.
fn shown(domain: &str) -> std::borrow::Cow<'_, str> {
    match domain.char_indices().nth(SHOWN_DOMAIN_CHARS) {
        Some((cut, _)) => format!("{}...", domain.get(..cut).unwrap_or_default()).into(),
        None => domain.into(),
    }
}

impl fmt::Display for FromProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FromProblem::NoFromField => f.write_str("no From header field"),
            FromProblem::MultipleFromFields(n) => write!(f, "{n} From header fields"),
            FromProblem::MultipleAddresses(n) => write!(f, "{n} addresses in From"),
            FromProblem::MultipleAuthorDomains { count, first } => {
                write!(f, "{count} author domains in From:")?;
                for domain in first.iter().take(SHOWN_DOMAINS) {
                    write!(f, " {}", shown(domain))?;
                }
                match count.checked_sub(SHOWN_DOMAINS) {
                    Some(more) if more > 0 => write!(f, " and {more} more"),
                    _ => Ok(()),
                }
            }
            FromProblem::TooManyAuthorDomains(n) => write!(f, "too many author domains ({n})"),
            FromProblem::NoAddress => f.write_str("no address in From"),
            FromProblem::InvalidDomain(d) => write!(f, "unusable From domain: {}", shown(d)),
            FromProblem::EntryWithoutAddress => f.write_str("a From entry has no address"),
            FromProblem::Unparseable(why) => write!(f, "unparseable From: {why}"),
            FromProblem::ControlCharacter(b) => {
                write!(f, "control character 0x{b:02X} in From")
            }
        }
    }
}

/// A step or condition that explains an [`Evaluation`] (for logs, A-R comments and reports).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// No DMARC policy record was found (RFC 9989 §4.10.1: DMARC does not apply).
    NoRecord,
    /// Several DMARC records at one name were discarded (RFC 7489 §6.6.3 step 5,
    /// RFC 9989 §4.10 step 2).
    MultipleRecords(String),
    /// A record without a valid `p` (or with an invalid `sp`/`np`) and without a valid `rua`
    /// was ignored (RFC 9989 §4.10.1, RFC 7489 §6.6.3 step 6).
    InvalidPolicyIgnored(String),
    /// A record without a valid `p` (or with an invalid `sp`/`np`) but with a valid `rua` was
    /// read as `p=none` (RFC 9989 §4.10.1, RFC 7489 §6.6.3 step 6).
    InvalidPolicyAsNone(String),
    /// The record used, and where it was found.
    UsedRecord(RecordSource, String),
    /// A DNS query failed temporarily (name queried).
    DnsTempError(String),
    /// The author domain does not exist (NXDOMAIN, RFC 9989 §3.2.13).
    AuthorDomainMissing,
    /// SPF passed for an aligned domain.
    SpfAligned(String),
    /// DKIM passed for an aligned `d=`.
    DkimAligned(String),
    /// An SPF or DKIM check that could have aligned failed temporarily, so there is no
    /// conclusion (RFC 7489 §6.6.2).
    UnderlyingTempError,
    /// `pct` sampling left this message out (RFC 7489 §6.6.4): one level lower.
    SampledOut(u8),
    /// `t=y` testing mode (RFC 9989 §4.7): one level lower.
    TestingMode,
    /// The `From:` field could not be evaluated.
    From(FromProblem),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoRecord => f.write_str("no DMARC record"),
            Reason::MultipleRecords(n) => write!(f, "multiple DMARC records at {n}"),
            Reason::InvalidPolicyIgnored(n) => write!(f, "record at {n} has no valid policy"),
            Reason::InvalidPolicyAsNone(n) => {
                write!(f, "record at {n} has no valid policy, treated as p=none")
            }
            Reason::UsedRecord(src, n) => write!(f, "used {src} {n}"),
            Reason::DnsTempError(n) => write!(f, "DNS temporary error for {n}"),
            Reason::AuthorDomainMissing => f.write_str("author domain does not exist"),
            Reason::SpfAligned(d) => write!(f, "SPF aligned {d}"),
            Reason::DkimAligned(d) => write!(f, "DKIM aligned {d}"),
            Reason::UnderlyingTempError => f.write_str("SPF or DKIM temporary error"),
            Reason::SampledOut(p) => write!(f, "not sampled (pct={p})"),
            Reason::TestingMode => f.write_str("testing mode (t=y)"),
            Reason::From(p) => p.fmt(f),
        }
    }
}

/// The SPF identifier as evaluated for alignment (RFC 9989 §4.4.2, RFC 7489 Appendix C).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpfCheck {
    /// The input.
    pub auth: SpfAuth,
    /// The domain is aligned with the author domain (whatever the SPF result).
    pub aligned: bool,
    /// SPF passed and the domain is aligned: this identifier makes DMARC pass.
    pub pass: bool,
}

/// One DKIM identifier as evaluated for alignment (RFC 9989 §4.4.1, RFC 7489 Appendix C).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DkimCheck {
    /// The input.
    pub auth: DkimAuth,
    /// `d=` is aligned with the author domain (whatever the DKIM result).
    pub aligned: bool,
    /// DKIM passed and `d=` is aligned: this signature makes DMARC pass.
    pub pass: bool,
}

/// DMARC evaluated for one author domain (RFC 9989 §5.3): everything an A-R field and an
/// aggregate report (RFC 9990) need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The author domain (A-label, lowercase): `header.from`.
    pub author_domain: String,
    /// The DMARC result for this domain.
    pub result: DmarcResult,
    /// The organizational domain of the author domain, when determined.
    pub org_domain: Option<String>,
    /// How the organizational domain was determined.
    pub discovery: DiscoveryMethod,
    /// The domain whose `_dmarc` record applies (the DMARC policy domain, RFC 9989 §3.2.5).
    pub policy_domain: Option<String>,
    /// Where the applied record was found.
    pub record_source: Option<RecordSource>,
    /// The applied record (policy published).
    pub record: Option<Record>,
    /// The requested policy for this author domain (from `p`, `sp` or `np`): `policy.dmarc`.
    pub policy: Option<Policy>,
    /// Which tag `policy` came from.
    pub policy_source: Option<PolicySource>,
    /// Whether the author domain exists, when it had to be checked for `np`.
    pub author_domain_exists: Option<bool>,
    /// The disposition after `pct` / `t=y` (none unless the result is `fail`).
    pub disposition: Disposition,
    /// `pct` sampling left the message out (RFC 7489 mode).
    pub sampled_out: bool,
    /// `t=y` lowered the disposition (RFC 9989 mode).
    pub testing: bool,
    /// The SPF identifier and its alignment, if SPF was given.
    pub spf: Option<SpfCheck>,
    /// Every DKIM signature and its alignment.
    pub dkim: Vec<DkimCheck>,
    /// How the result came about, in order.
    pub reasons: Vec<Reason>,
}

impl Evaluation {
    /// SPF passed for an aligned domain.
    pub fn spf_aligned(&self) -> bool {
        self.spf.as_ref().is_some_and(|s| s.pass)
    }

    /// At least one DKIM signature passed for an aligned `d=`.
    pub fn dkim_aligned(&self) -> bool {
        self.dkim.iter().any(|d| d.pass)
    }

    /// The first passing, aligned DKIM signature.
    pub fn aligned_dkim(&self) -> Option<&DkimAuth> {
        self.dkim.iter().find(|d| d.pass).map(|d| &d.auth)
    }

    /// The strictest disposition this evaluation could end in once every DNS answer is in
    /// (RFC 9989 §4.7 `t`, RFC 7489 §6.6.4 `pct`): the requested policy, one level lower
    /// under `t=y` (RFC 9989 mode) or `pct=0` (RFC 7489 mode); with the record known but not
    /// whether the author domain exists, the stricter of `np` and the policy of existing
    /// subdomains (RFC 9989 §4.7 `np`); `reject` when the policy is not known.
    pub fn strictest_possible(&self) -> Disposition {
        let requested = match (self.policy, self.record.as_ref()) {
            (Some(policy), _) => Disposition::from(policy),
            (None, Some(r)) if self.author_domain_exists.is_none() => {
                match (r.nonexistent_policy, r.subdomain_policy.or(r.policy)) {
                    (Some(np), Some(existing)) => {
                        Disposition::from(np).max(Disposition::from(existing))
                    }
                    _ => return Disposition::Reject,
                }
            }
            _ => return Disposition::Reject,
        };
        let lowered = self.record.as_ref().is_some_and(|r| match self.discovery {
            DiscoveryMethod::TreeWalk => r.testing,
            DiscoveryMethod::Psl => r.pct == 0,
        });
        if lowered {
            requested.one_lower()
        } else {
            requested
        }
    }

    /// The aligned SPF domain, when SPF made DMARC pass.
    pub fn aligned_spf_domain(&self) -> Option<&str> {
        self.spf
            .as_ref()
            .filter(|s| s.pass)
            .map(|s| s.auth.domain.as_str())
    }
}

/// The outcome of DMARC for one message (RFC 9989 §5.3; RFC 7489 §6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcOutcome {
    /// The overall result (of the strictest evaluation when several domains were evaluated).
    pub result: DmarcResult,
    /// The overall disposition to apply (none unless `fail`).
    pub disposition: Disposition,
    /// Set when the `From:` field(s) could not be evaluated; `result` is then `permerror`.
    pub from_problem: Option<FromProblem>,
    /// One evaluation per author domain; the first one decided the overall result.
    pub evaluations: Vec<Evaluation>,
    /// The mode used.
    pub mode: Mode,
    /// Why the evaluation could not complete (an internal failure), when `result` is
    /// `temperror` without any evaluation.
    pub incomplete: Option<String>,
}

impl DmarcOutcome {
    /// A `temperror` outcome for an evaluation that could not complete (RFC 9989 §5.3:
    /// a temporary failure is never a pass nor a fail).
    pub fn temperror(why: &str) -> Self {
        DmarcOutcome {
            result: DmarcResult::TempError,
            disposition: Disposition::None,
            from_problem: None,
            evaluations: Vec::new(),
            mode: Mode::default(),
            incomplete: Some(why.to_string()),
        }
    }

    /// The evaluation that decided the result.
    pub fn primary(&self) -> Option<&Evaluation> {
        self.evaluations.first()
    }

    /// The value for `header.from` (RFC 7489 §11.2): the decisive author domain.
    pub fn header_from(&self) -> Option<&str> {
        self.primary().map(|e| e.author_domain.as_str())
    }

    /// The requested policy for `policy.dmarc` (the p/sp/np value that applies).
    pub fn policy(&self) -> Option<Policy> {
        self.primary().and_then(|e| e.policy)
    }

    /// `policy.dmarc` (RFC 9989 §9.1, "the evaluated DMARC policy applied/to be applied after
    /// policy options have been processed"): a failure's disposition after `t=y` (or RFC 7489
    /// `pct` sampling); for any other result the p/sp/np value, one level lower under `t=y`
    /// (§4.7: a testing domain expects failing mail to get the policy below the one written).
    pub fn evaluated_policy(&self) -> Option<Disposition> {
        let e = self.primary()?;
        let requested = Disposition::from(e.policy?);
        if e.result == DmarcResult::Fail {
            return Some(e.disposition);
        }
        let testing = e.discovery == DiscoveryMethod::TreeWalk
            && e.record.as_ref().is_some_and(|r| r.testing);
        Some(if testing {
            requested.one_lower()
        } else {
            requested
        })
    }

    /// A short human-readable explanation, for an A-R comment or a log line.
    pub fn reason_text(&self) -> String {
        if let Some(p) = &self.from_problem {
            return p.to_string();
        }
        if let Some(why) = &self.incomplete {
            return why.clone();
        }
        match self.primary() {
            Some(e) => e
                .reasons
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            None => String::new(),
        }
    }
}
