//! The enumerated values of aggregate reports: the simple types of the RFC 9990 XSD
//! (Appendix A) and of the RFC 7489 XSD (Appendix C), shared by observations, the report model,
//! the XML writer and the parser.
//!
//! Each type has `as_str` (the XML token) and `from_token` (case-insensitive, accepting the
//! spellings of both schemas and a few common aliases).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Defines an enum with its XML tokens: the first token is written, every token is accepted.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => [$first:literal $(, $alias:literal)*] ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// The XML token written in reports.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $first, )+
                }
            }

            /// Parses a token, ASCII case-insensitively; `None` when unknown.
            pub fn from_token(token: &str) -> Option<Self> {
                $(
                    if token.eq_ignore_ascii_case($first) $(|| token.eq_ignore_ascii_case($alias))* {
                        return Some($name::$variant);
                    }
                )+
                None
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// The DMARC result of one message (RFC 8601 §2.7.1, RFC 9989 §5.3).
    pub enum DmarcResult {
        /// An authenticated identifier is aligned.
        Pass => ["pass"],
        /// A policy applies and no authenticated identifier is aligned.
        Fail => ["fail"],
        /// No DMARC policy record applies.
        None => ["none"],
        /// A temporary DNS failure: no conclusion.
        TempError => ["temperror"],
        /// The message could not be evaluated (From problems).
        PermError => ["permerror"],
    }
}

vocabulary! {
    /// A policy action: `p`, `sp`, `np` and the disposition applied (RFC 9990 `DispositionType`).
    #[derive(Default)]
    pub enum Disposition {
        /// No action.
        #[default]
        None => ["none"],
        /// Treat as suspicious.
        Quarantine => ["quarantine"],
        /// Reject.
        Reject => ["reject"],
    }
}

vocabulary! {
    /// The disposition reported in `policy_evaluated` (RFC 9990 `ActionDispositionType`; RFC 7489
    /// has no `pass`).
    pub enum ActionDisposition {
        /// No action taken.
        None => ["none"],
        /// No action, passing DMARC with an enforcing policy (RFC 9990 only).
        Pass => ["pass"],
        /// Failed DMARC, marked for quarantine.
        Quarantine => ["quarantine"],
        /// Failed DMARC, rejected.
        Reject => ["reject"],
    }
}

impl From<Disposition> for ActionDisposition {
    fn from(d: Disposition) -> Self {
        match d {
            Disposition::None => ActionDisposition::None,
            Disposition::Quarantine => ActionDisposition::Quarantine,
            Disposition::Reject => ActionDisposition::Reject,
        }
    }
}

vocabulary! {
    /// The DMARC-aligned result of one mechanism in `policy_evaluated` (RFC 9990 `DMARCResultType`).
    pub enum AlignedResult {
        /// The mechanism produced an aligned pass.
        Pass => ["pass"],
        /// It did not.
        Fail => ["fail"],
    }
}

impl AlignedResult {
    /// `Pass` when `pass` is true.
    pub fn from_bool(pass: bool) -> Self {
        if pass {
            AlignedResult::Pass
        } else {
            AlignedResult::Fail
        }
    }
}

vocabulary! {
    /// Identifier alignment mode, `adkim` / `aspf` (RFC 9990 `AlignmentType`).
    pub enum AlignmentMode {
        /// `r`: same organizational domain.
        Relaxed => ["r", "relaxed"],
        /// `s`: identical domains.
        Strict => ["s", "strict"],
    }
}

vocabulary! {
    /// How the policy record was discovered (RFC 9990 `DiscoveryType`).
    pub enum DiscoveryMethod {
        /// The public suffix list (RFC 7489).
        Psl => ["psl"],
        /// The DNS tree walk (RFC 9989 §4.10).
        TreeWalk => ["treewalk"],
    }
}

vocabulary! {
    /// The `psd` tag of the policy record (RFC 9989 §4.7); not part of either report schema.
    pub enum Psd {
        /// `y`: a public suffix domain.
        Yes => ["y"],
        /// `n`: an organizational domain.
        No => ["n"],
        /// `u`: unknown (default).
        Unknown => ["u"],
    }
}

vocabulary! {
    /// Which DMARC specification evaluated the message.
    pub enum Mode {
        /// RFC 9989 (DMARCbis).
        Rfc9989 => ["rfc9989"],
        /// RFC 7489.
        Rfc7489 => ["rfc7489"],
    }
}

vocabulary! {
    /// A failure reporting option of `fo` (RFC 9989 §4.7).
    pub enum FailureOption {
        /// `0`: report when no mechanism produced an aligned pass.
        All => ["0"],
        /// `1`: report when any mechanism failed to produce an aligned pass.
        Any => ["1"],
        /// `d`: report DKIM signatures that failed evaluation.
        Dkim => ["d"],
        /// `s`: report SPF failures.
        Spf => ["s"],
    }
}

vocabulary! {
    /// Why the applied disposition differs from the requested policy: the union of RFC 9990
    /// `PolicyOverrideType` and RFC 7489 `PolicyOverrideType` (RFC 9990 §3.1.6).
    pub enum OverrideType {
        /// The receiver's local policy exempted the message.
        LocalPolicy => ["local_policy"],
        /// The message came through a mailing list.
        MailingList => ["mailing_list"],
        /// Anything else; the comment says what.
        Other => ["other"],
        /// The record's `t=y` testing mode (RFC 9990 only; written as `other` in RFC 7489 format).
        PolicyTestMode => ["policy_test_mode"],
        /// A locally known trusted forwarder.
        TrustedForwarder => ["trusted_forwarder"],
        /// Forwarded (RFC 7489 only; written as `other` in RFC 9990 format).
        Forwarded => ["forwarded"],
        /// `pct` sampling left the message out (RFC 7489 only; `other` in RFC 9990 format).
        SampledOut => ["sampled_out"],
    }
}

impl OverrideType {
    /// Whether the RFC 9990 schema has this value.
    pub fn in_rfc9990(self) -> bool {
        !matches!(self, OverrideType::Forwarded | OverrideType::SampledOut)
    }

    /// Whether the RFC 7489 schema has this value.
    pub fn in_rfc7489(self) -> bool {
        self != OverrideType::PolicyTestMode
    }
}

vocabulary! {
    /// A DKIM verification result (RFC 8601 §2.7.1; RFC 9990 `DKIMResultType`).
    pub enum DkimResult {
        /// No signature.
        None => ["none"],
        /// Verified.
        Pass => ["pass"],
        /// Did not verify.
        Fail => ["fail", "hardfail"],
        /// Verified but unacceptable by local policy.
        Policy => ["policy"],
        /// Could not be processed.
        Neutral => ["neutral"],
        /// Temporary failure (key lookup); `unknown` is an old alias.
        TempError => ["temperror", "unknown"],
        /// Permanent failure (unusable key); `error` is an old alias.
        PermError => ["permerror", "error"],
    }
}

vocabulary! {
    /// An SPF result (RFC 8601 §2.7.2, RFC 7208 §2.6; RFC 9990 `SPFResultType`).
    pub enum SpfResult {
        /// No record.
        None => ["none"],
        /// Neutral.
        Neutral => ["neutral"],
        /// Authorized.
        Pass => ["pass"],
        /// Not authorized.
        Fail => ["fail", "hardfail"],
        /// Weakly not authorized.
        SoftFail => ["softfail"],
        /// Unacceptable by local policy (RFC 9990 only; `neutral` in RFC 7489 format).
        Policy => ["policy"],
        /// Temporary failure; `unknown` per the RFC 7489 XSD comment.
        TempError => ["temperror", "unknown"],
        /// Permanent failure; `error` per the RFC 7489 XSD comment.
        PermError => ["permerror", "error"],
    }
}

vocabulary! {
    /// The SPF identity checked (RFC 7489 `SPFDomainScope`; RFC 9990 allows only `mfrom`).
    pub enum SpfScope {
        /// The RFC5321.MailFrom domain.
        MailFrom => ["mfrom"],
        /// The HELO identity (null reverse-path).
        Helo => ["helo"],
    }
}

impl From<dmarc::DmarcResult> for DmarcResult {
    fn from(r: dmarc::DmarcResult) -> Self {
        match r {
            dmarc::DmarcResult::Pass => DmarcResult::Pass,
            dmarc::DmarcResult::Fail => DmarcResult::Fail,
            dmarc::DmarcResult::None => DmarcResult::None,
            dmarc::DmarcResult::TempError => DmarcResult::TempError,
            dmarc::DmarcResult::PermError => DmarcResult::PermError,
        }
    }
}

impl From<dmarc::Disposition> for Disposition {
    fn from(d: dmarc::Disposition) -> Self {
        match d {
            dmarc::Disposition::None => Disposition::None,
            dmarc::Disposition::Quarantine => Disposition::Quarantine,
            dmarc::Disposition::Reject => Disposition::Reject,
        }
    }
}

impl From<dmarc::Policy> for Disposition {
    fn from(p: dmarc::Policy) -> Self {
        match p {
            dmarc::Policy::None => Disposition::None,
            dmarc::Policy::Quarantine => Disposition::Quarantine,
            dmarc::Policy::Reject => Disposition::Reject,
        }
    }
}

impl From<dmarc::AlignmentMode> for AlignmentMode {
    fn from(m: dmarc::AlignmentMode) -> Self {
        match m {
            dmarc::AlignmentMode::Relaxed => AlignmentMode::Relaxed,
            dmarc::AlignmentMode::Strict => AlignmentMode::Strict,
        }
    }
}

impl From<dmarc::DiscoveryMethod> for DiscoveryMethod {
    fn from(m: dmarc::DiscoveryMethod) -> Self {
        match m {
            dmarc::DiscoveryMethod::Psl => DiscoveryMethod::Psl,
            dmarc::DiscoveryMethod::TreeWalk => DiscoveryMethod::TreeWalk,
        }
    }
}

impl From<dmarc::Psd> for Psd {
    fn from(p: dmarc::Psd) -> Self {
        match p {
            dmarc::Psd::Yes => Psd::Yes,
            dmarc::Psd::No => Psd::No,
            dmarc::Psd::Unknown => Psd::Unknown,
        }
    }
}

impl From<dmarc::Mode> for Mode {
    fn from(m: dmarc::Mode) -> Self {
        match m {
            dmarc::Mode::Rfc9989 => Mode::Rfc9989,
            dmarc::Mode::Rfc7489 => Mode::Rfc7489,
        }
    }
}

impl From<dmarc::FailureOption> for FailureOption {
    fn from(o: dmarc::FailureOption) -> Self {
        match o {
            dmarc::FailureOption::All => FailureOption::All,
            dmarc::FailureOption::Any => FailureOption::Any,
            dmarc::FailureOption::Dkim => FailureOption::Dkim,
            dmarc::FailureOption::Spf => FailureOption::Spf,
        }
    }
}

impl From<dmarc::DkimOutcome> for DkimResult {
    fn from(o: dmarc::DkimOutcome) -> Self {
        match o {
            dmarc::DkimOutcome::Pass => DkimResult::Pass,
            dmarc::DkimOutcome::Fail => DkimResult::Fail,
            dmarc::DkimOutcome::Neutral => DkimResult::Neutral,
            dmarc::DkimOutcome::Policy => DkimResult::Policy,
            dmarc::DkimOutcome::None => DkimResult::None,
            dmarc::DkimOutcome::TempError => DkimResult::TempError,
            dmarc::DkimOutcome::PermError => DkimResult::PermError,
        }
    }
}

impl From<dmarc::SpfOutcome> for SpfResult {
    fn from(o: dmarc::SpfOutcome) -> Self {
        match o {
            dmarc::SpfOutcome::Pass => SpfResult::Pass,
            dmarc::SpfOutcome::Fail => SpfResult::Fail,
            dmarc::SpfOutcome::SoftFail => SpfResult::SoftFail,
            dmarc::SpfOutcome::Neutral => SpfResult::Neutral,
            dmarc::SpfOutcome::None => SpfResult::None,
            dmarc::SpfOutcome::TempError => SpfResult::TempError,
            dmarc::SpfOutcome::PermError => SpfResult::PermError,
        }
    }
}

impl From<dmarc::SpfScope> for SpfScope {
    fn from(s: dmarc::SpfScope) -> Self {
        match s {
            dmarc::SpfScope::MailFrom => SpfScope::MailFrom,
            dmarc::SpfScope::Helo => SpfScope::Helo,
        }
    }
}

/// Writes `fo` options as in the record: `0:d:s` (RFC 9989 §4.7).
pub fn format_failure_options(fo: &[FailureOption]) -> String {
    fo.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_aliases() {
        for r in [
            SpfResult::None,
            SpfResult::Neutral,
            SpfResult::Pass,
            SpfResult::Fail,
            SpfResult::SoftFail,
            SpfResult::Policy,
            SpfResult::TempError,
            SpfResult::PermError,
        ] {
            assert_eq!(SpfResult::from_token(r.as_str()), Some(r));
        }
        assert_eq!(SpfResult::from_token("Unknown"), Some(SpfResult::TempError));
        assert_eq!(DkimResult::from_token("ERROR"), Some(DkimResult::PermError));
        assert_eq!(
            OverrideType::from_token("sampled_out"),
            Some(OverrideType::SampledOut)
        );
        assert_eq!(AlignmentMode::from_token("x"), None);
        assert_eq!(
            format_failure_options(&[FailureOption::Any, FailureOption::Dkim]),
            "1:d"
        );
    }
}
