//! What DMARC takes in: the SPF and DKIM results as plain types (RFC 9989 §5.3.3).

use std::fmt;

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
