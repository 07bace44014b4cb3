//! DMARC evaluation settings (RFC 9989 §5.3, RFC 7489 §6.6).

use std::fmt;

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
    /// [`FromProblem`](crate::FromProblem) the caller can turn into a rejection (CVE-2019-16378 class).
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
