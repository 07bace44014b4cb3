//! Sender Policy Framework evaluation, RFC 7208.
//!
//! [`Evaluator::check_host`] is RFC 7208 §4 `check_host()`; [`Evaluator::check_mail_from`] and
//! [`Evaluator::check_helo`] apply the identity rules of §2.3 and §2.4 first. DNS goes through
//! [`dns::Resolver`]. The result is an [`SpfOutput`]: the [`SpfResult`], the matched mechanism,
//! the explanation for `fail`, lookup counts and the problem behind an error result.
//! [`ReceivedSpf`] renders the `Received-SPF` header field (§9.1).
//!
//! ```
//! # async fn demo() {
//! use dns::memory::MemoryResolver;
//! let dns = MemoryResolver::from_zone(r#"example.com TXT "v=spf1 ip4:192.0.2.0/24 -all""#).unwrap();
//! let spf = spf::Evaluator::new(spf::Config::default());
//! let out = spf
//!     .check_mail_from(&dns, "192.0.2.7".parse().unwrap(), b"alice@example.com", b"mx.example.com")
//!     .await;
//! assert_eq!(out.result, spf::SpfResult::Pass);
//! assert_eq!(out.mechanism.as_deref(), Some("ip4:192.0.2.0/24"));
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::str::FromStr;

mod config;
mod error;
mod eval;
#[doc(hidden)]
pub mod fuzzing;
mod header;
pub mod macros;
mod names;
pub mod record;

pub use config::{
    Clock, Config, DEFAULT_EXPLANATION, DEFAULT_MAX_EXPLANATION, FixedClock, Limits, SystemClock,
};
pub use error::SpfError;
pub use eval::Evaluator;
pub use header::{AuthResProperty, ReceivedSpf, authres_property};
pub use macros::{MacroContext, MacroKind, MacroString};
pub use record::Record;

/// The result of `check_host()` (RFC 7208 §2.6, §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfResult {
    /// No syntactically valid domain, or no SPF record (RFC 7208 §2.6.1).
    None,
    /// The domain owner makes no assertion (RFC 7208 §2.6.2).
    Neutral,
    /// The client is authorized (RFC 7208 §2.6.3).
    Pass,
    /// The client is not authorized (RFC 7208 §2.6.4).
    Fail,
    /// Probably not authorized (RFC 7208 §2.6.5).
    SoftFail,
    /// A transient (generally DNS) error (RFC 7208 §2.6.6).
    TempError,
    /// The published records could not be interpreted (RFC 7208 §2.6.7).
    PermError,
}

impl SpfResult {
    /// The lowercase RFC name (`pass`, `softfail`, `temperror`, ...; RFC 7208 §2.6).
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error from parsing an [`SpfResult`] name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownResult(pub String);

impl fmt::Display for UnknownResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown SPF result {:?}", self.0)
    }
}

impl std::error::Error for UnknownResult {}

impl FromStr for SpfResult {
    type Err = UnknownResult;
    /// Parses the RFC 7208 §2.6 names, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "none" => SpfResult::None,
            "neutral" => SpfResult::Neutral,
            "pass" => SpfResult::Pass,
            "fail" => SpfResult::Fail,
            "softfail" => SpfResult::SoftFail,
            "temperror" => SpfResult::TempError,
            "permerror" => SpfResult::PermError,
            _ => return Err(UnknownResult(s.to_string())),
        })
    }
}

/// Which identity was checked (RFC 7208 §2.3, §2.4; `identity=` in Received-SPF, §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Identity {
    /// The MAIL FROM identity (RFC 7208 §2.4).
    MailFrom,
    /// The HELO identity (RFC 7208 §2.3).
    Helo,
}

impl Identity {
    /// `mailfrom` or `helo` (RFC 7208 §9.1).
    pub fn as_str(self) -> &'static str {
        match self {
            Identity::MailFrom => "mailfrom",
            Identity::Helo => "helo",
        }
    }
}

/// The outcome of one `check_host()` evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutput {
    /// The result (RFC 7208 §2.6).
    pub result: SpfResult,
    /// The `<domain>` checked at the top level (without a trailing dot).
    pub domain: String,
    /// The `<sender>` used, `local-part@domain`, with `postmaster` filled in (RFC 7208 §4.3).
    pub sender: String,
    /// The mechanism that decided, as published (`ip4:192.0.2.0/24`, `-all`), or `default`
    /// when none matched; `None` for `none`, `temperror` and `permerror` (RFC 7208 §9.1).
    pub mechanism: Option<String>,
    /// The explanation for `fail` (RFC 7208 §6.2), US-ASCII.
    pub explanation: Option<String>,
    /// DNS-querying terms evaluated (RFC 7208 §4.6.4).
    pub dns_terms: usize,
    /// Void lookups seen (RFC 7208 §4.6.4).
    pub void_lookups: usize,
    /// Why the result is `temperror` or `permerror` (RFC 7208 §9.1 `problem=`).
    pub problem: Option<SpfError>,
    /// True when an evaluated term expanded `%{s}` or `%{l}`: the policy looked at the
    /// local-part, so `smtp.mailfrom` may carry it (RFC 8601 §2.7.2).
    pub used_local_part: bool,
    /// The SPF records read to reach the result, `(domain, record as published)`, the
    /// `<domain>`'s own first, then its includes and redirects in the order read, while their
    /// text stays within 4 KiB in all (the `SPF-DNS` fields of a failure report, RFC 6591
    /// §3.2.6: one for every record used).
    pub records: Vec<(String, String)>,
}
