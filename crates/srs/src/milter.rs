//! The SRS decision for one SMTP transaction in milter mode (pure; postsrsd 2's milter
//! semantics, plus exclusions and SPF-aware lazy rewriting).
//!
//! At end of message the milter calls [`SrsMilter::decide`] with the envelope and applies
//! the result: `SMFIR_CHGFROM` with [`Changes::new_sender`] (keeping the original ESMTP
//! parameters), and `SMFIR_DELRCPT` + `SMFIR_ADDRCPT` for each [`RecipientChange`]. It may
//! also call [`SrsMilter::check_sender`] at MAIL and [`SrsMilter::check_recipient`] at RCPT
//! to reject early, and then pass only the accepted recipients to `decide`.
//!
//! Rules (postsrsd 2.4 `handle_milter_client`):
//! - every recipient that is a valid SRS address signed by us (any domain) is replaced by
//!   the original address; an invalid SRS address *at our SRS domain* (forged hash, expired,
//!   malformed) is rejected; SRS addresses of other signers are left alone;
//! - the sender is rewritten only if some recipient (after reversal) is not local, unless
//!   `rewrite_local`; never for the null sender, an address without `@`, a local domain, an
//!   excluded domain, or (mode `WhenSpfFails`) when the sender's SPF already authorizes us.
//!
//! Addresses come and go in their SMTP form (RFC 5321 §4.1.2: `"john doe"@example.com`);
//! SRS works on the internal form ([`crate::address`]), as the socketmap does.

use std::fmt;

use crate::address::{quote, unquote};
use crate::{Forwarded, Srs, SrsError, is_srs_address};

/// postsrsd's longest accepted envelope address in milter mode (its 512-byte milter
/// buffer holds the command byte, `<`, the address, `>` and a NUL).
pub const POSTSRSD_MAX_MILTER_ADDRESS: usize = 508;

/// When to rewrite the envelope sender of forwarded mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RewriteMode {
    /// Rewrite every forwarded sender (postsrsd).
    #[default]
    Always,
    /// Rewrite only when the original sender's SPF would not authorize our outbound address
    /// (the milter evaluates that and passes it to [`SrsMilter::decide`]).
    WhenSpfFails,
}

/// Options of the milter decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MilterOptions {
    /// When to rewrite the sender.
    pub mode: RewriteMode,
    /// Rewrite the sender even when every recipient is local (postsrsd `milter-rewrite-local`).
    pub rewrite_local: bool,
    /// Longer senders and recipients are rejected (default 508, as postsrsd).
    pub max_address_len: usize,
}

impl Default for MilterOptions {
    fn default() -> Self {
        MilterOptions {
            mode: RewriteMode::Always,
            rewrite_local: false,
            max_address_len: POSTSRSD_MAX_MILTER_ADDRESS,
        }
    }
}

/// An SMTP rejection: `550 5.1.1 text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpReply {
    /// The basic reply code (RFC 5321 §4.2), always 550 here.
    pub code: u16,
    /// The enhanced status code (RFC 3463), e.g. `5.1.1`.
    pub enhanced: &'static str,
    /// Human-readable text; never contains the address or CR/LF.
    pub text: String,
}

impl fmt::Display for SmtpReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.code, self.enhanced, self.text)
    }
}

/// What to do with one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientAction {
    /// Not an SRS address of ours: deliver as addressed.
    Keep,
    /// A valid SRS address: replace it with this original address.
    Replace(String),
    /// An invalid SRS address at our SRS domain (or too long): reject.
    Reject(SmtpReply),
}

/// One recipient to replace (`DELRCPT old`, `ADDRCPT new`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientChange {
    /// The recipient as received.
    pub old: String,
    /// The original address recovered from it.
    pub new: String,
}

/// The envelope changes of an accepted transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// The new MAIL FROM address, if the sender is to be rewritten.
    pub new_sender: Option<String>,
    /// Recipients to replace, in recipient order.
    pub recipients: Vec<RecipientChange>,
}

/// The verdict for one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MilterDecision {
    /// Accept, applying these changes (possibly none).
    Accept(Changes),
    /// Reject the message with this reply.
    Reject(SmtpReply),
}

/// The milter-mode decision maker: an [`Srs`] plus domain predicates and options.
///
/// `is_local` and `is_excluded` receive a domain (the part after the last `@`). Our SRS
/// domain always counts as local.
pub struct SrsMilter<'a> {
    /// The rewriter (its SRS domain is the one we sign for).
    pub srs: &'a Srs,
    /// Is this domain delivered locally (postsrsd `domains`)?
    pub is_local: &'a dyn Fn(&str) -> bool,
    /// Is this sender domain never to be rewritten?
    pub is_excluded: &'a dyn Fn(&str) -> bool,
    /// Options.
    pub options: MilterOptions,
}

impl fmt::Debug for SrsMilter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrsMilter")
            .field("srs", self.srs)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SrsMilter<'_> {
    /// At MAIL: a rejection if the sender is longer than `max_address_len` (by what
    /// forwarding adds more for an address at our SRS domain, which we may have made).
    pub fn check_sender(&self, sender: &str) -> Option<SmtpReply> {
        (sender.len() > self.address_limit(sender))
            .then(|| reject("5.1.7", "Sender address too long".to_owned()))
    }

    /// The longest `address` taken: `max_address_len`, and for an address at our SRS domain
    /// as much more as forwarding adds ([`Srs::wrapping_len`]): one we made from an address
    /// within the bound comes back as a bounce's recipient, or as the sender of mail passing
    /// another of our milters.
    fn address_limit(&self, address: &str) -> usize {
        let ours = domain_of(address).is_some_and(|d| self.srs.is_srs_domain(d));
        if ours {
            self.options.max_address_len + self.srs.wrapping_len()
        } else {
            self.options.max_address_len
        }
    }

    /// At RCPT (or end of message): replace a valid SRS recipient, reject an invalid SRS
    /// recipient at our SRS domain, keep anything else.
    pub fn check_recipient(&self, rcpt: &str) -> RecipientAction {
        // an address at our SRS domain may be one we made from a sender as long as the
        // bound, SRS wrapping added: its bounce is reversed, not refused
        if rcpt.len() > self.address_limit(rcpt) {
            return RecipientAction::Reject(reject(
                "5.1.3",
                "Recipient address too long".to_owned(),
            ));
        }
        let internal = unquote(rcpt);
        match self.srs.reverse(&internal) {
            Ok(original) => RecipientAction::Replace(quote(&original).into_owned()),
            Err(e @ SrsError::DatabaseAlias) => RecipientAction::Reject(invalid_srs_reply(&e)),
            Err(e) => {
                let ours = domain_of(&internal).is_some_and(|d| self.srs.is_srs_domain(d));
                if ours && is_srs_address(internal.as_bytes()) {
                    RecipientAction::Reject(invalid_srs_reply(&e))
                } else {
                    RecipientAction::Keep
                }
            }
        }
    }

    /// The decision at end of message for `sender` (empty for `<>`) and the accepted
    /// `recipients`. `sender_spf_authorizes_us` is whether the sender domain's SPF passes for
    /// our outbound address (`None`: unknown, treated as "does not"); only `WhenSpfFails`
    /// looks at it.
    pub fn decide<R: AsRef<str>>(
        &self,
        sender: &str,
        recipients: &[R],
        sender_spf_authorizes_us: Option<bool>,
    ) -> MilterDecision {
        if let Some(reply) = self.check_sender(sender) {
            return MilterDecision::Reject(reply);
        }
        let mut changes = Changes::default();
        let mut all_local = true;
        for rcpt in recipients {
            let rcpt = rcpt.as_ref();
            let delivered_to = match self.check_recipient(rcpt) {
                RecipientAction::Reject(reply) => return MilterDecision::Reject(reply),
                RecipientAction::Keep => rcpt.to_owned(),
                RecipientAction::Replace(original) => {
                    changes.recipients.push(RecipientChange {
                        old: rcpt.to_owned(),
                        new: original.clone(),
                    });
                    original
                }
            };
            // A recipient without a domain is local (postsrsd).
            if domain_of(&delivered_to).is_some_and(|d| !self.local(d)) {
                all_local = false;
            }
        }
        if !all_local || self.options.rewrite_local || self.srs.config().always_rewrite {
            changes.new_sender = self.rewrite_sender(sender, sender_spf_authorizes_us);
        }
        MilterDecision::Accept(changes)
    }

    /// The rewritten sender, or `None` when it stays as it is.
    fn rewrite_sender(&self, sender: &str, spf_authorizes_us: Option<bool>) -> Option<String> {
        let sender = unquote(sender);
        if let Some(domain) = domain_of(&sender) {
            if !self.srs.config().always_rewrite && self.local(domain) {
                return None;
            }
            if (self.is_excluded)(domain) {
                return None;
            }
        }
        if self.options.mode == RewriteMode::WhenSpfFails && spf_authorizes_us == Some(true) {
            return None;
        }
        match self.srs.forward(&sender, self.srs.srs_domain()) {
            Ok(Forwarded::Rewritten(address)) => Some(quote(&address).into_owned()),
            Ok(Forwarded::NotRewritten(_)) | Err(_) => None,
        }
    }

    /// Local domain, or our SRS domain.
    fn local(&self, domain: &str) -> bool {
        (self.is_local)(domain) || self.srs.is_srs_domain(domain)
    }
}

/// The domain after the last `@`.
fn domain_of(address: &str) -> Option<&str> {
    address.rsplit_once('@').map(|(_, d)| d)
}

/// A 550 reply.
fn reject(enhanced: &'static str, text: String) -> SmtpReply {
    SmtpReply {
        code: 550,
        enhanced,
        text,
    }
}

/// The rejection of an invalid SRS recipient of ours, saying why.
fn invalid_srs_reply(e: &SrsError) -> SmtpReply {
    let text = match e {
        SrsError::BadHash => {
            "Invalid SRS address: hash does not verify (forged or unknown secret)".to_owned()
        }
        SrsError::HashTooShort => "Invalid SRS address: hash too short".to_owned(),
        SrsError::Expired => "Invalid SRS address: timestamp expired or out of range".to_owned(),
        SrsError::DatabaseAlias => {
            "Invalid SRS address: database-mode aliases are not supported".to_owned()
        }
        SrsError::Malformed(m) => format!("Invalid SRS address: {m}"),
        other => format!("Invalid SRS address: {other}"),
    };
    reject("5.1.1", text)
}
