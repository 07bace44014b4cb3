//! Counting one answered message: its action, its check results, our signatures and ARC
//! set, the DMARC overrides, and how long it took.

use std::time::Duration;

use crate::config::Role;
use crate::pipeline::Decision;
use crate::signing::SigningKeys;

use super::{Metrics, role_label};

/// How long one message took.
#[derive(Debug, Clone, Copy)]
pub struct MessageTiming {
    /// From CONNECT (or MAIL FROM, for a later message of the same connection) to the answer;
    /// `None` when the start was not seen.
    pub since_start: Option<Duration>,
    /// From the end of the body to the answer.
    pub end_of_message: Duration,
}

impl Metrics {
    /// Counts one message answered at end of message on a listener with `role`, with the
    /// `action` the MTA was sent (the decision's, or `tempfail` when the MTA would not let it
    /// be carried out); `keys` are the signing keys of the state that signed it (for key names);
    /// without `headers_sent` (no SMFIF_ADDHDRS) its signatures and seals are not counted.
    pub fn record_message(
        &self,
        role: Role,
        decision: &Decision,
        action: &'static str,
        keys: &SigningKeys,
        timing: MessageTiming,
        headers_sent: bool,
    ) {
        self.messages
            .get_or_create(&[("role", role_label(role)), ("action", action)])
            .inc();
        if let Some(r) = decision.results.as_deref() {
            let result = |method: &'static str, word: &'static str| {
                self.results
                    .get_or_create(&[("method", method), ("result", word)])
                    .inc();
            };
            if let Some(o) = &r.spf_mail {
                result("spf", o.result.as_str());
            }
            if r.dkim_checked {
                if r.dkim.is_empty() {
                    result("dkim", dkim::DkimResult::None.as_str());
                }
                for s in &r.dkim {
                    result("dkim", s.result.as_str());
                }
            }
            if let Some(d) = &r.dmarc {
                result("dmarc", d.result.as_str());
            }
            if let Some(i) = &r.iprev {
                result("iprev", i.result.as_str());
            }
            if let Some(a) = &r.arc {
                result("arc", a.result.as_str());
            }
        }
        let made = if headers_sent {
            decision.signed.as_slice()
        } else {
            &[]
        };
        for label in made {
            self.signatures
                .get_or_create(&[("key", key_name(keys, label))])
                .inc();
        }
        let seals = decision
            .prepend
            .iter()
            .filter(|h| headers_sent && h.name.eq_ignore_ascii_case("ARC-Seal"))
            .count();
        self.arc_seals.inc_by(seals as u64);
        if let Some(applied) = &decision.applied {
            for o in &applied.overrides {
                self.overrides
                    .get_or_create(&[("kind", o.kind.as_str())])
                    .inc();
            }
        }
        if let Some(d) = timing.since_start {
            self.message_seconds.observe(d.as_secs_f64());
        }
        self.eom_seconds
            .observe(timing.end_of_message.as_secs_f64());
    }
}

/// The configured name of the key a `domain/selector` signature label stands for (the label
/// itself if no loaded key matches, which cannot happen for a signature we made).
fn key_name(keys: &SigningKeys, label: &str) -> String {
    keys.keys()
        .iter()
        .find(|k| {
            label
                .split_once('/')
                .is_some_and(|(d, s)| d == k.domain && s == k.selector)
        })
        .map_or_else(|| label.to_string(), |k| k.id.clone())
}
