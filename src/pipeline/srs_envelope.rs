//! SRS on the envelope (docs/srs.md): the lazy mode's SPF check from MAIL on, the refusal
//! of forged SRS recipients at RCPT, and at end of message the sender rewrite of forwarded
//! mail and the restoring of bounces' SRS recipients.

use std::sync::Arc;

use milter_proto::SmtpReply;

use crate::app::App;

use super::decision::{Decision, RcptChange, Verdict};
use super::message::MessageState;
use super::task::Task;

/// For `rewrite = "when-spf-fails"`: checks whether the sender domain's SPF passes for every
/// one of our outbound addresses, in the background from MAIL on.
pub(super) fn srs_spf_task(app: &Arc<App>, sender: &[u8]) -> Option<Task<bool>> {
    let cfg = &app.config.srs;
    if !cfg.enabled
        || cfg.rewrite != crate::config::SrsRewrite::WhenSpfFails
        || cfg.outbound_addresses.is_empty()
        || sender.is_empty()
    {
        return None;
    }
    let (a, sender) = (Arc::clone(app), sender.to_vec());
    Some(Task::start(async move {
        for ip in &a.config.srs.outbound_addresses {
            let out = a
                .spf
                .check_mail_from(&*a.resolver, *ip, &sender, a.authserv_id.as_bytes())
                .await;
            if out.result != spf::SpfResult::Pass {
                return false;
            }
        }
        true
    }))
}

/// RCPT: a forged or expired SRS recipient of ours is refused (postsrsd's milter behaviour).
pub(super) fn srs_recipient_check(app: &App, recipient: &[u8]) -> Option<SmtpReply> {
    if !may_refuse_recipients(app) {
        return None;
    }
    let srs = app.srs.as_ref()?;
    let Some(rcpt) = srs_text(recipient) else {
        return forged_8bit_srs(&srs.srs, recipient).then(|| {
            srs_reply(&srs::milter::SmtpReply {
                code: 550,
                enhanced: "5.1.1",
                text: "Invalid SRS address".to_owned(),
            })
        });
    };
    match srs.with_milter(|m| m.check_recipient(rcpt)) {
        srs::milter::RecipientAction::Reject(reply) => Some(srs_reply(&reply)),
        _ => None,
    }
}

/// An envelope address as the SRS milter handles it: as text, when it is UTF-8. The milter's
/// changes (CHGFROM, ADDRCPT, DELRCPT) are text here, so an 8-bit address read as text would
/// name another mailbox (U+FFFD for each bad byte): such an address is left to the MTA, never
/// rewritten, reversed or refused (the socketmap works on bytes and still handles it).
fn srs_text(address: &[u8]) -> Option<&str> {
    std::str::from_utf8(address).ok()
}

/// An 8-bit SRS address at our SRS domain that does not verify (checked on its bytes, as the
/// socketmap signs them): refused like any forged SRS recipient of ours.
fn forged_8bit_srs(srs: &srs::Srs, address: &[u8]) -> bool {
    let Some(at) = address.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (
        address.get(..at).unwrap_or_default(),
        address.get(at + 1..).unwrap_or_default(),
    );
    srs.is_srs_domain(domain) && srs::is_srs_address(local) && srs.reverse_bytes(address).is_err()
}

/// True when RCPT may be refused (SRS reverse rewriting checks the recipients); every other
/// envelope stage always continues, so the server asks the MTA not to wait for those replies.
pub fn may_refuse_recipients(app: &App) -> bool {
    app.config.srs.enabled && app.srs.as_ref().is_some_and(|s| s.reverse)
}

/// SRS at end of message: rewrite the sender of forwarded mail, restore SRS recipients.
pub(super) async fn apply_srs(
    app: &App,
    state: &MessageState,
    srs_spf: Option<Task<bool>>,
    signed_domains: &[String],
    decision: &mut Decision,
) {
    let Some(srs) = app.srs.as_ref().filter(|_| app.config.srs.enabled) else {
        return;
    };
    // the rewritten sender's SPF pass at the next hop would align with a From domain nothing
    // authenticated: a stranger's forgery of our domain would pass DMARC there (RFC 9989
    // §4.4); the sender stays as it came. A bounce's SRS recipients are still restored:
    // that vouches for nothing, and withholding it lost the bounce
    let withhold_sender = srs_would_vouch(
        srs.srs.srs_domain(),
        app,
        state,
        decision.results.as_deref(),
        signed_domains,
    );
    let spf_ok = match srs_spf {
        Some(t) => t.join().await,
        None => None,
    };
    // an 8-bit sender stays as it is, as the null sender does
    let sender = srs_text(&state.envelope.mail_from).unwrap_or_default();
    let mut rcpts: Vec<std::borrow::Cow<'_, str>> = state
        .envelope
        .recipients
        .iter()
        .map(|(r, _)| match srs_text(r) {
            Some(text) => text.into(),
            // an 8-bit recipient counts by its domain alone, which is neither reversed nor
            // refused
            None => match r.iter().rposition(|&b| b == b'@') {
                Some(at) => format!(
                    "@{}",
                    String::from_utf8_lossy(r.get(at + 1..).unwrap_or_default())
                )
                .into(),
                None => "".into(),
            },
        })
        .collect();
    // a recipient the check refuses (an SRS address of our SRS domain that does not verify)
    // is left as it is here: without reverse it is local mail; with reverse it verified at
    // RCPT (each is checked there alone), and one that stopped verifying since (the day
    // changed at midnight, a reload dropped an old secret) must not refuse the message for
    // every other recipient
    rcpts.retain(|r| {
        let refused = matches!(
            srs.with_milter(|m| m.check_recipient(r)),
            srs::milter::RecipientAction::Reject(_)
        );
        if refused && srs.reverse {
            tracing::warn!(
                recipient = %crate::logging::Field(crate::logging::Escaped::str(r)),
                "SRS recipient accepted at RCPT no longer verifies; left as it is"
            );
        }
        !refused
    });
    match srs.with_milter(|m| m.decide(sender, &rcpts, spf_ok)) {
        srs::milter::MilterDecision::Accept(changes) => {
            if let Some(new) = changes.new_sender {
                if withhold_sender {
                    tracing::warn!(
                        "sender not rewritten (SRS): the SRS domain aligns with a From domain no SPF or DKIM pass authenticated"
                    );
                    decision.summary.push_str(" srs=withheld");
                } else {
                    decision.summary.push_str(" srs=forward");
                    decision.new_sender = Some(new);
                    decision.new_sender_args = dsn_args(&state.envelope.mail_args);
                }
            }
            if srs.reverse {
                for c in changes.recipients {
                    decision.summary.push_str(" srs=reverse");
                    decision.recipients.push(RcptChange::Delete(c.old));
                    decision.recipients.push(RcptChange::Add(c.new));
                }
            }
        }
        srs::milter::MilterDecision::Reject(reply) => {
            if srs.reverse {
                decision.verdict = Verdict::Reject(srs_reply(&reply));
            }
        }
    }
}

/// The SRS crate's refusal as a milter reply (one conversion at the boundary, no text
/// round trip); a reply the MTA would refuse falls back to a plain `550 5.7.1`.
fn srs_reply(r: &srs::milter::SmtpReply) -> SmtpReply {
    SmtpReply::new(r.code, Some(r.enhanced), r.text.as_bytes())
        .or_else(|_| SmtpReply::new(r.code, None, r.text.as_bytes()))
        .unwrap_or_else(|_| {
            crate::config::RejectReply::builtin("550 5.7.1 Invalid SRS address")
                .render(&Default::default())
        })
}

/// The MAIL FROM parameters that travel with a changed sender: the DSN ones (RFC 3461 RET=
/// and ENVID=). Postfix keeps only these from CHGFROM and Sendmail validates them, while SIZE
/// and BODY describe the message, not the sender, and stay as they are.
fn dsn_args(args: &[Vec<u8>]) -> Option<String> {
    let kept: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .filter(|a| {
            let upper = a.to_ascii_uppercase();
            upper.starts_with("RET=") || upper.starts_with("ENVID=")
        })
        .filter(|a| !a.contains(char::is_whitespace) && !a.contains('\0'))
        .collect();
    (!kept.is_empty()).then(|| kept.join(" "))
}

/// Whether an SRS rewrite would give the message an envelope domain (`[srs] domain`) aligned,
/// relaxed, with one of its From domains (RFC 9989 §4.4) that neither an SPF or DKIM pass here
/// nor one of our own signatures (`signed_domains`, their `d=`) authenticated: the next hop's
/// SPF pass for our SRS domain would then vouch for the author. A From field that cannot be
/// read, or names more domains than DMARC evaluates, counts as such an author: no reading of it
/// was authenticated.
fn srs_would_vouch(
    srs_domain: &str,
    app: &App,
    state: &MessageState,
    results: Option<&super::Results>,
    signed_domains: &[String],
) -> bool {
    let limit = app.dmarc.config().max_author_domains;
    let mut authors: Vec<String> = Vec::new();
    for (field, _) in state.headers.named("From") {
        let Ok(addresses) = dmarc::parse_from(&field.value) else {
            return true;
        };
        for domain in addresses.iter().filter_map(|a| a.author_domain().ok()) {
            if !authors.contains(&domain) {
                if authors.len() >= limit {
                    return true;
                }
                authors.push(domain);
            }
        }
    }
    authors.iter().any(|author| {
        let one = std::slice::from_ref(author);
        super::inbound::could_align(srs_domain, one)
            && !super::steps::author_authenticated(results, author)
            && !signed_domains
                .iter()
                .any(|d| super::inbound::could_align(d, one))
    })
}
