//! Public input and output types: configuration, SPF/DKIM inputs, results (RFC 9989 §5.3).

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::record::{Policy, Record};

/// Which DMARC specification drives policy discovery and alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// RFC 9989 (DMARCbis): DNS tree walk (§4.10), `np`, `psd`, `t`; `pct`, `rf`, `ri` ignored.
    #[default]
    Rfc9989,
    /// RFC 7489: `_dmarc.<from>` then the PSL organizational domain (§3.2, §6.6.3); `pct`
    /// sampling (§6.6.4); `np`, `psd` and `t` ignored.
    Rfc7489,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Rfc9989 => "rfc9989",
            Mode::Rfc7489 => "rfc7489",
        })
    }
}

/// What to do with messages that do not have exactly one author domain
/// (RFC 7489 §6.6.1, RFC 9989 §5.3.1 and §11.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MultiFrom {
    /// Several `From:` fields or several distinct author domains give `permerror` with a
    /// [`FromProblem`] the caller can turn into a rejection (CVE-2019-16378 class).
    #[default]
    Reject,
    /// Evaluate every distinct author domain and keep the strictest outcome
    /// (RFC 7489 §6.6.1, RFC 9989 §11.5), at most [`Config::max_author_domains`] of them.
    Strictest,
}

/// DMARC evaluation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// RFC 9989 (default) or RFC 7489 behaviour.
    pub mode: Mode,
    /// Behaviour for several `From:` fields or author domains.
    pub multi_from: MultiFrom,
    /// In [`MultiFrom::Reject`], also refuse one `From:` with several mailboxes of the same
    /// domain (RFC 5322 allows it with a `Sender:`; RFC 9989 §5.3.1 only counts domains).
    pub reject_multiple_addresses: bool,
    /// Upper bound of author domains evaluated in [`MultiFrom::Strictest`] (RFC 9989 §11.5);
    /// more gives `permerror`.
    pub max_author_domains: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Rfc9989,
            multi_from: MultiFrom::Reject,
            reject_multiple_addresses: false,
            max_author_domains: 5,
        }
    }
}

/// An SPF result as DMARC sees it (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfOutcome {
    /// `pass` (RFC 7208 §2.6.3).
    Pass,
    /// `fail` (RFC 7208 §2.6.4).
    Fail,
    /// `softfail` (RFC 7208 §2.6.5).
    SoftFail,
    /// `neutral` (RFC 7208 §2.6.2).
    Neutral,
    /// `none` (RFC 7208 §2.6.1).
    None,
    /// `temperror` (RFC 7208 §2.6.6).
    TempError,
    /// `permerror` (RFC 7208 §2.6.7).
    PermError,
}

impl fmt::Display for SpfOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpfOutcome::Pass => "pass",
            SpfOutcome::Fail => "fail",
            SpfOutcome::SoftFail => "softfail",
            SpfOutcome::Neutral => "neutral",
            SpfOutcome::None => "none",
            SpfOutcome::TempError => "temperror",
            SpfOutcome::PermError => "permerror",
        })
    }
}

/// Which SPF identity produced an [`SpfAuth`] (RFC 7208 §2.3, §2.4; RFC 7489 Appendix C `scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SpfScope {
    /// The RFC5321.MailFrom domain (the only identity DMARC uses, RFC 9989 §4.4.2).
    #[default]
    MailFrom,
    /// The HELO identity, standing in for a null reverse-path (`postmaster@<helo>`,
    /// RFC 7208 §2.4; RFC 9989 §3.2.4; RFC 7489 §3.1.2).
    Helo,
}

impl fmt::Display for SpfScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpfScope::MailFrom => "mfrom",
            SpfScope::Helo => "helo",
        })
    }
}

/// The SPF check of the MAIL FROM identity, input to DMARC (RFC 9989 §5.3.3).
///
/// Pass the MAIL FROM result; when the reverse-path was null, pass the result for
/// `postmaster@<HELO>` with [`SpfScope::Helo`]. A separate HELO check of a message with a
/// non-null reverse-path must not be passed here (RFC 9989 §4.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpfAuth {
    /// The SPF result.
    pub result: SpfOutcome,
    /// The domain SPF evaluated (lowercase, no trailing dot preferred; normalised anyway).
    pub domain: String,
    /// Which identity the domain came from.
    pub scope: SpfScope,
}

impl SpfAuth {
    /// Builds an SPF input.
    pub fn new(result: SpfOutcome, domain: impl Into<String>, scope: SpfScope) -> Self {
        SpfAuth {
            result,
            domain: domain.into(),
            scope,
        }
    }
}

/// A DKIM verification result as DMARC sees it (RFC 8601 §2.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DkimOutcome {
    /// `pass`: the signature verified.
    Pass,
    /// `fail`: the signature did not verify.
    Fail,
    /// `neutral`: the signature could not be processed (syntax, RFC 8601 §2.7.1).
    Neutral,
    /// `policy`: verified, but not acceptable under local policy.
    Policy,
    /// `none`: no signature.
    None,
    /// `temperror`: key lookup failed temporarily.
    TempError,
    /// `permerror`: key record unusable.
    PermError,
}

impl fmt::Display for DkimOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DkimOutcome::Pass => "pass",
            DkimOutcome::Fail => "fail",
            DkimOutcome::Neutral => "neutral",
            DkimOutcome::Policy => "policy",
            DkimOutcome::None => "none",
            DkimOutcome::TempError => "temperror",
            DkimOutcome::PermError => "permerror",
        })
    }
}

/// One checked DKIM signature, input to DMARC (RFC 9989 §5.3.3: result, `d=` and `s=`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DkimAuth {
    /// The verification result.
    pub result: DkimOutcome,
    /// The signing domain (`d=`).
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
}

impl DkimAuth {
    /// Builds a DKIM input.
    pub fn new(
        result: DkimOutcome,
        domain: impl Into<String>,
        selector: impl Into<String>,
    ) -> Self {
        DkimAuth {
            result,
            domain: domain.into(),
            selector: selector.into(),
        }
    }
}

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

impl fmt::Display for DmarcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::None => "none",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        })
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
    /// The `From:` field(s) name several distinct author domains.
    MultipleAuthorDomains(Vec<String>),
    /// More author domains than [`Config::max_author_domains`].
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
}

impl fmt::Display for FromProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FromProblem::NoFromField => f.write_str("no From header field"),
            FromProblem::MultipleFromFields(n) => write!(f, "{n} From header fields"),
            FromProblem::MultipleAddresses(n) => write!(f, "{n} addresses in From"),
            FromProblem::MultipleAuthorDomains(d) => {
                write!(f, "{} author domains in From: {}", d.len(), d.join(" "))
            }
            FromProblem::TooManyAuthorDomains(n) => write!(f, "too many author domains ({n})"),
            FromProblem::NoAddress => f.write_str("no address in From"),
            FromProblem::InvalidDomain(d) => write!(f, "unusable From domain: {d}"),
            FromProblem::EntryWithoutAddress => f.write_str("a From entry has no address"),
            FromProblem::Unparseable(why) => write!(f, "unparseable From: {why}"),
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
}

impl DmarcOutcome {
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

    /// A short human-readable explanation, for an A-R comment or a log line.
    pub fn reason_text(&self) -> String {
        if let Some(p) = &self.from_problem {
            return p.to_string();
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

/// A source of uniform numbers in `0..100` for `pct` sampling (RFC 7489 §6.6.4).
pub trait Sampler: Send + Sync + fmt::Debug {
    /// A number in `0..100`; the policy applies when it is below `pct`.
    fn roll(&self) -> u8;
}

/// Always rolls the same number (tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedSampler(pub u8);

impl Sampler for FixedSampler {
    fn roll(&self) -> u8 {
        self.0 % 100
    }
}

/// A std-only pseudo-random sampler: SipHash with a random key over a counter.
#[derive(Debug, Default)]
pub struct RandomSampler {
    state: RandomState,
    counter: AtomicU64,
}

impl RandomSampler {
    /// A sampler with a fresh random key.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Sampler for RandomSampler {
    fn roll(&self) -> u8 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut h = self.state.build_hasher();
        h.write_u64(n);
        // the remainder is below 100, so it fits in u8
        u8::try_from(h.finish() % 100).unwrap_or(0)
    }
}
