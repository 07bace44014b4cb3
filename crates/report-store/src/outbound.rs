//! Our own outbound view on the dashboard (docs/dashboard.md): per policy domain, what we
//! recorded about the mail we received and the aggregate reports we sent.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::StoreError;
use crate::sql::Stmt;
use crate::{Span, Store};

/// One policy domain of our own outbound view: what we recorded about mail from it and the
/// reports we sent it (RFC 9990 §3: we are the receiver reporting).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct OutboundDomain {
    /// The policy domain.
    pub policy_domain: String,
    /// Messages recorded.
    pub messages: u64,
    /// Of which passed DMARC.
    pub dmarc_pass: u64,
    /// Report destinations sent to.
    pub sent: u64,
    /// Given up on (failed, skipped, uncertain).
    pub not_sent: u64,
    /// Still to go (pending, sending).
    pub pending: u64,
}

impl Store {
    /// Our outbound view for `span`: per policy domain, the messages we recorded and the
    /// aggregate report destinations by state, most messages first, at most `max` domains;
    /// and how many domains there are in all.
    pub async fn outbound_summary(
        &self,
        span: Span,
        max: usize,
    ) -> Result<(Vec<OutboundDomain>, usize), StoreError> {
        // the policy domains are whatever the mail we received named: only the first `max`
        // are read (and the sends of those), with how many there are
        let params = || span.params_limited(max);
        let results = self
            .read(vec![
                Stmt::new(
                    "SELECT policy_domain, CAST(SUM(count) AS BIGINT),
                        CAST(SUM(CASE WHEN result = 'pass' THEN count ELSE 0 END) AS BIGINT),
                        CAST(COUNT(*) OVER () AS BIGINT)
                     FROM observations
                     WHERE period_begin >= ?1 AND period_begin < ?2
                     GROUP BY policy_domain
                     ORDER BY SUM(count) DESC, policy_domain
                     LIMIT ?3",
                    params(),
                ),
                Stmt::new(
                    "SELECT policy_domain, state, COUNT(*) FROM report_sends
                     WHERE period_begin >= ?1 AND period_begin < ?2 AND policy_domain IN (
                        SELECT policy_domain FROM observations
                        WHERE period_begin >= ?1 AND period_begin < ?2
                        GROUP BY policy_domain
                        ORDER BY SUM(count) DESC, policy_domain
                        LIMIT ?3)
                     GROUP BY policy_domain, state",
                    params(),
                ),
            ])
            .await?;
        let mut total = 0;
        let mut by: BTreeMap<String, OutboundDomain> = BTreeMap::new();
        for r in results.first().map(Vec::as_slice).unwrap_or_default() {
            total = usize::try_from(r.uint(3)?).unwrap_or(usize::MAX);
            let d = by.entry(r.text(0)?).or_default();
            d.messages = d.messages.saturating_add(r.uint(1)?);
            d.dmarc_pass = d.dmarc_pass.saturating_add(r.uint(2)?);
        }
        for r in results.get(1).map(Vec::as_slice).unwrap_or_default() {
            let Some(d) = by.get_mut(&r.text(0)?) else {
                continue;
            };
            let n = r.uint(2)?;
            match r.text(1)?.as_str() {
                "sent" => d.sent = d.sent.saturating_add(n),
                "pending" | "sending" => d.pending = d.pending.saturating_add(n),
                _ => d.not_sent = d.not_sent.saturating_add(n),
            }
        }
        let mut out: Vec<OutboundDomain> = by
            .into_iter()
            .map(|(policy_domain, d)| OutboundDomain { policy_domain, ..d })
            .collect();
        out.sort_by(|a, b| {
            b.messages
                .cmp(&a.messages)
                .then_with(|| a.policy_domain.cmp(&b.policy_domain))
        });
        out.truncate(max);
        Ok((out, total))
    }
}
