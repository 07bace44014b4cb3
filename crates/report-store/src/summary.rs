//! What the dashboard and `authmilter report show` read (docs/dashboard.md): per policy domain
//! and period, the messages others reported by DMARC result and day, the sources that sent as
//! the domain (failing first), the DKIM selectors seen, the reporters (our own outbound view
//! is `outbound.rs`). Every query reads an index or a rollup bounded by the period
//! (benches/dashboard.rs times them on a million records), and returns at most the rows shown:
//! domains, selectors and reporters are whatever the reports named.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::StoreError;
use crate::provenance::Provenance;
use crate::sql::{Stmt, Value};
use crate::{Store, secs};

// the query rows as values
mod rows;
use rows::{day_results, reporters, selectors, sources};

const DAY: u64 = 86_400;

/// A period of whole UTC days: from `begin` (a day's first second) up to, not including,
/// `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    /// The first day, Unix seconds.
    pub begin: u64,
    /// The day after the last, Unix seconds.
    pub end: u64,
}

impl Span {
    /// The `days` UTC days up to and including the day of `now` (at least one).
    pub fn last_days(now: u64, days: u64) -> Span {
        let end = (now - now % DAY).saturating_add(DAY);
        Span {
            begin: end.saturating_sub(days.max(1).saturating_mul(DAY)),
            end,
        }
    }

    /// The days of the period, oldest first.
    pub fn days(&self) -> impl Iterator<Item = u64> + use<> {
        let (begin, end) = (self.begin, self.end);
        (0..)
            .map(move |i: u64| begin + i * DAY)
            .take_while(move |d| *d < end)
    }

    pub(crate) fn params(&self) -> [Value; 2] {
        [Value::Int(secs(self.begin)), Value::Int(secs(self.end))]
    }

    /// [`Span::params`] and a row limit of `max` (at least 1) as the third parameter.
    pub(crate) fn params_limited(&self, max: usize) -> Vec<Value> {
        let mut v = self.params().to_vec();
        v.push(Value::Int(secs(max.max(1) as u64)));
        v
    }
}

/// One policy domain in the list of domains reports were received for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainOverview {
    /// The policy domain.
    pub policy_domain: String,
    /// Messages reported.
    pub messages: u64,
    /// Of which passed DMARC.
    pub dmarc_pass: u64,
    /// Reports received.
    pub reports: u64,
    /// Distinct reporting organizations.
    pub reporters: u64,
    /// The newest day with data.
    pub last_day: u64,
    /// Reports not counted in the figures above (unverified sender).
    pub unverified: Unverified,
}

/// Reports whose sender is not verified (RFC 9990 §8.2; [`Provenance::counted`]): listed
/// among the reporters, never counted in totals, pass rates, days, sources or the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Unverified {
    /// Reports.
    pub reports: u64,
    /// Messages they claim to cover.
    pub messages: u64,
}

/// Messages of one day by DMARC result and disposition (RFC 9990 §3.1.1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DayResults {
    /// The day, Unix seconds.
    pub day: u64,
    /// Passed DMARC.
    pub pass: u64,
    /// Failed, no action taken (`none`).
    pub fail_none: u64,
    /// Failed and quarantined.
    pub fail_quarantine: u64,
    /// Failed and rejected.
    pub fail_reject: u64,
}

impl DayResults {
    /// All messages of the day.
    pub fn total(&self) -> u64 {
        self.pass
            .saturating_add(self.fail_none)
            .saturating_add(self.fail_quarantine)
            .saturating_add(self.fail_reject)
    }
}

/// One source address that sent mail as the domain (RFC 9990 §3.1.1.8 `source_ip`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceSummary {
    /// The address.
    pub ip: String,
    /// Its reverse DNS name, when looked up and found.
    pub name: Option<String>,
    /// The organizations that reported it, most messages first (at most the number of
    /// reporters asked for), each with who sent its reports.
    pub reporters: Vec<ReporterName>,
    /// How many organizations reported it in all.
    pub reporters_total: usize,
    /// Messages.
    pub messages: u64,
    /// Passed DMARC (aligned DKIM or SPF).
    pub dmarc_pass: u64,
    /// Aligned SPF pass.
    pub spf_aligned: u64,
    /// Aligned DKIM pass.
    pub dkim_aligned: u64,
    /// SPF pass, aligned or not.
    pub spf_pass: u64,
    /// DKIM pass (some signature), aligned or not.
    pub dkim_pass: u64,
}

impl SourceSummary {
    /// Messages that failed DMARC.
    pub fn failing(&self) -> u64 {
        self.messages.saturating_sub(self.dmarc_pass)
    }
}

/// One DKIM signing domain and selector seen in the reports (RFC 9990 §3.1.1.12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelectorSummary {
    /// `d=`.
    pub domain: String,
    /// `s=` (empty when the reporter left it out, RFC 7489).
    pub selector: String,
    /// Messages with a signature of this selector.
    pub messages: u64,
    /// Of which the signature verified.
    pub pass: u64,
}

/// A reporting organization as its reports name it (RFC 9990 §3.1.1.3 `org_name`, the
/// sender's text) and who sent those reports (§3.5.2: the DMARC result of their messages).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ReporterName {
    /// `org_name`.
    pub org_name: String,
    /// Who sent its reports: never show `org_name` as verified without it.
    pub sent: Provenance,
}

/// One reporting organization (RFC 9990 §3.1.1.3 `org_name`) and one provenance of its
/// reports (§3.5.2): the same name sent forged and sent by its reporter is two rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReporterSummary {
    /// `org_name`.
    pub org_name: String,
    /// Who sent these reports.
    pub sent: Provenance,
    /// Reports received.
    pub reports: u64,
    /// Messages they cover.
    pub messages: u64,
}

/// Everything the domain page shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainSummary {
    /// The policy domain.
    pub policy_domain: String,
    /// The period.
    pub span: Span,
    /// Messages reported.
    pub messages: u64,
    /// Of which passed DMARC.
    pub dmarc_pass: u64,
    /// Each day of the period.
    pub days: Vec<DayResults>,
    /// The sources, failing first (at most the number asked for).
    pub sources: Vec<SourceSummary>,
    /// How many distinct sources there were in all.
    pub sources_total: usize,
    /// The DKIM selectors, most messages first.
    pub selectors: Vec<SelectorSummary>,
    /// The reporters, most messages first (at most the number asked for).
    pub reporters: Vec<ReporterSummary>,
    /// How many distinct reporters there were in all (per name and provenance, counted or
    /// not: the reporters table's length).
    pub reporters_total: usize,
    /// How many of them have counted reports (the figure beside the counted totals, as the
    /// domain list gives it).
    pub reporters_counted: usize,
    /// The policy as the newest counted report saw it.
    pub policy: Option<reports::PolicyPublished>,
    /// Reports not counted in the figures above (unverified sender).
    pub unverified: Unverified,
}

fn text_list(values: &[String], first: usize) -> String {
    (0..values.len())
        .map(|i| format!("?{}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// The policy domains with received reports in `span`, most messages first, at most
    /// `max`; and how many there are in all.
    pub async fn received_domains(
        &self,
        span: Span,
        max: usize,
    ) -> Result<(Vec<DomainOverview>, usize), StoreError> {
        let params = || span.params_limited(max);
        let results = self
            .read(vec![
                // the policy domains are whatever the reports named: only the first `max` are
                // read (and the report counts of those), with how many there are
                Stmt::new(
                    "SELECT policy_domain, CAST(SUM(messages) AS BIGINT),
                        CAST(SUM(messages * dmarc_pass) AS BIGINT), MAX(day),
                        CAST(COUNT(*) OVER () AS BIGINT)
                     FROM received_daily WHERE day >= ?1 AND day < ?2
                     GROUP BY policy_domain
                     ORDER BY SUM(messages) DESC, policy_domain
                     LIMIT ?3",
                    params(),
                ),
                // reports and reporters (one per name and provenance, as the reporters
                // table lists them), counted and not
                Stmt::new(
                    "SELECT policy_domain, counted, CAST(SUM(n) AS BIGINT), COUNT(*),
                        CAST(SUM(m) AS BIGINT)
                     FROM (
                        SELECT policy_domain, counted, COUNT(*) AS n, SUM(message_count) AS m
                        FROM received_reports
                        WHERE begin_time >= ?1 AND begin_time < ?2 AND policy_domain IN (
                            SELECT policy_domain FROM received_daily
                            WHERE day >= ?1 AND day < ?2
                            GROUP BY policy_domain
                            ORDER BY SUM(messages) DESC, policy_domain
                            LIMIT ?3)
                        GROUP BY policy_domain, counted, org_name, sender_domain, sender_dmarc
                     ) by_reporter
                     GROUP BY policy_domain, counted",
                    params(),
                ),
            ])
            .await?;
        // (reports, reporters) counted, and the uncounted
        let mut reports: BTreeMap<String, ((u64, u64), Unverified)> = BTreeMap::new();
        for r in results.get(1).map(Vec::as_slice).unwrap_or_default() {
            let e = reports.entry(r.text(0)?).or_default();
            if r.int(1)? == 0 {
                e.1 = Unverified {
                    reports: r.uint(2)?,
                    messages: r.uint(4)?,
                };
            } else {
                e.0 = (r.uint(2)?, r.uint(3)?);
            }
        }
        let mut total = 0;
        let mut out = Vec::new();
        for r in results.first().map(Vec::as_slice).unwrap_or_default() {
            total = usize::try_from(r.uint(4)?).unwrap_or(usize::MAX);
            let policy_domain = r.text(0)?;
            let ((n, orgs), unverified) = reports.get(&policy_domain).copied().unwrap_or_default();
            out.push(DomainOverview {
                messages: r.uint(1)?,
                dmarc_pass: r.uint(2)?,
                last_day: r.uint(3)?,
                reports: n,
                reporters: orgs,
                unverified,
                policy_domain,
            });
        }
        out.sort_by(|a, b| {
            b.messages
                .cmp(&a.messages)
                .then_with(|| a.policy_domain.cmp(&b.policy_domain))
        });
        out.truncate(max);
        Ok((out, total))
    }

    /// The domain page of `policy_domain` for `span`, with at most `max_sources` sources
    /// (failing first), `max_selectors` selectors and `max_reporters` reporters.
    pub async fn received_domain_summary(
        &self,
        policy_domain: &str,
        span: Span,
        max_sources: usize,
        max_selectors: usize,
        max_reporters: usize,
    ) -> Result<DomainSummary, StoreError> {
        // the key the report was stored under (a U-label asked for finds its A-label)
        let domain = reports::PolicyPublished::key_of(policy_domain.trim()).unwrap_or_else(|| {
            policy_domain
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase()
        });
        let p = || {
            let mut v = vec![Value::Text(domain.clone())];
            v.extend(span.params());
            v
        };
        let results = self
            .read(vec![
                Stmt::new(
                    "SELECT day, dmarc_pass, disposition, CAST(SUM(messages) AS BIGINT)
                     FROM received_daily WHERE policy_domain = ?1 AND day >= ?2 AND day < ?3
                     GROUP BY day, dmarc_pass, disposition",
                    p(),
                ),
                // the sources, failing first, the first `max_sources` only, and how many there
                // are; read in source order from the covering index (no sort of the records)
                Stmt::new(
                    "SELECT source_ip, CAST(SUM(count) AS BIGINT),
                        CAST(SUM(count * dmarc_pass) AS BIGINT),
                        CAST(SUM(CASE WHEN spf_aligned = 'pass' THEN count ELSE 0 END) AS BIGINT),
                        CAST(SUM(CASE WHEN dkim_aligned = 'pass' THEN count ELSE 0 END) AS BIGINT),
                        CAST(SUM(count * spf_pass) AS BIGINT),
                        CAST(SUM(count * dkim_pass) AS BIGINT),
                        CAST(COUNT(*) OVER () AS BIGINT)
                     FROM received_records
                     WHERE policy_domain = ?1 AND day >= ?2 AND day < ?3 AND counted = 1
                     GROUP BY source_ip
                     ORDER BY SUM(count) - SUM(count * dmarc_pass) DESC, SUM(count) DESC,
                        source_ip
                     LIMIT ?4",
                    {
                        let mut v = p();
                        v.push(Value::Int(secs(max_sources.max(1) as u64)));
                        v
                    },
                ),
                // selectors and reporters come from the reports' contents: only the first
                // `max_selectors` and `max_reporters` are read, and how many reporters there are
                Stmt::new(
                    "SELECT domain, selector, CAST(SUM(messages) AS BIGINT),
                        CAST(SUM(CASE WHEN result = 'pass' THEN messages ELSE 0 END) AS BIGINT)
                     FROM received_selectors
                     WHERE policy_domain = ?1 AND day >= ?2 AND day < ?3
                     GROUP BY domain, selector
                     ORDER BY SUM(messages) DESC, domain, selector
                     LIMIT ?4",
                    {
                        let mut v = p();
                        v.push(Value::Int(secs(max_selectors.max(1) as u64)));
                        v
                    },
                ),
                Stmt::new(
                    "SELECT org_name, COUNT(*), CAST(SUM(message_count) AS BIGINT),
                        CAST(COUNT(*) OVER () AS BIGINT), sender_domain, sender_dmarc, counted,
                        CAST(SUM(counted) OVER () AS BIGINT)
                     FROM received_reports
                     WHERE policy_domain = ?1 AND begin_time >= ?2 AND begin_time < ?3
                     GROUP BY org_name, sender_domain, sender_dmarc, counted
                     ORDER BY SUM(message_count) DESC, org_name, COALESCE(sender_domain, ''),
                        COALESCE(sender_dmarc, ''), counted
                     LIMIT ?4",
                    {
                        let mut v = p();
                        v.push(Value::Int(secs(max_reporters.max(1) as u64)));
                        v
                    },
                ),
                Stmt::new(
                    "SELECT policy_published FROM received_reports
                     WHERE policy_domain = ?1 AND begin_time < ?2 AND counted = 1
                     ORDER BY begin_time DESC, id DESC LIMIT 1",
                    vec![Value::Text(domain.clone()), Value::Int(secs(span.end))],
                ),
                Stmt::new(
                    "SELECT COUNT(*), CAST(COALESCE(SUM(message_count), 0) AS BIGINT)
                     FROM received_reports
                     WHERE policy_domain = ?1 AND begin_time >= ?2 AND begin_time < ?3
                        AND counted = 0",
                    p(),
                ),
            ])
            .await?;
        let rows = |i: usize| results.get(i).map(Vec::as_slice).unwrap_or_default();
        let days = day_results(rows(0), span)?;
        let (mut sources, sources_total) = sources(rows(1), max_sources)?;
        let (reporters, reporters_total, reporters_counted) = reporters(rows(3), max_reporters)?;
        self.fill_reporters(&domain, span, &mut sources, max_reporters)
            .await?;
        self.fill_names(&mut sources).await?;
        Ok(DomainSummary {
            messages: days
                .iter()
                .map(DayResults::total)
                .fold(0, u64::saturating_add),
            dmarc_pass: days.iter().map(|d| d.pass).fold(0, u64::saturating_add),
            days,
            sources,
            sources_total,
            selectors: selectors(rows(2), max_selectors)?,
            reporters,
            reporters_total,
            reporters_counted,
            policy: match rows(4).first() {
                Some(r) => serde_json::from_str(&r.text(0)?).ok(),
                None => None,
            },
            unverified: match rows(5).first() {
                Some(r) => Unverified {
                    reports: r.uint(0)?,
                    messages: r.uint(1)?,
                },
                None => Unverified::default(),
            },
            policy_domain: domain,
            span,
        })
    }

    /// Who reported each of `sources` in `span`, most messages first: at most `max` per source
    /// are read (reports name any organization), with how many there are.
    async fn fill_reporters(
        &self,
        domain: &str,
        span: Span,
        sources: &mut [SourceSummary],
        max: usize,
    ) -> Result<(), StoreError> {
        let ips: Vec<String> = sources.iter().map(|s| s.ip.clone()).collect();
        let mut by_ip: BTreeMap<String, (Vec<(u64, ReporterName)>, usize)> = BTreeMap::new();
        for chunk in ips.chunks(500) {
            let mut params = vec![Value::Text(domain.to_string())];
            params.extend(span.params());
            params.extend(chunk.iter().map(|ip| Value::Text(ip.clone())));
            params.push(Value::Int(secs(max.max(1) as u64)));
            let rows = self
                .read(vec![Stmt::new(
                    format!(
                        "SELECT source_ip, org_name, n, total, sender_domain, sender_dmarc
                         FROM (
                            SELECT c.source_ip, r.org_name, r.sender_domain, r.sender_dmarc,
                                CAST(SUM(c.count) AS BIGINT) AS n,
                                ROW_NUMBER() OVER (PARTITION BY c.source_ip
                                    ORDER BY SUM(c.count) DESC, r.org_name,
                                        COALESCE(r.sender_domain, ''),
                                        COALESCE(r.sender_dmarc, '')) AS pos,
                                CAST(COUNT(*) OVER (PARTITION BY c.source_ip) AS BIGINT) AS total
                            FROM received_records c
                            JOIN received_reports r ON r.id = c.report_id
                            WHERE c.policy_domain = ?1 AND c.source_ip IN ({}) AND c.day >= ?2
                                AND c.day < ?3 AND c.counted = 1
                            GROUP BY c.source_ip, r.org_name, r.sender_domain, r.sender_dmarc
                         ) ranked WHERE pos <= ?{}",
                        text_list(chunk, 4),
                        4 + chunk.len()
                    ),
                    params,
                )])
                .await?;
            for r in rows.first().map(Vec::as_slice).unwrap_or_default() {
                let e = by_ip.entry(r.text(0)?).or_default();
                let name = ReporterName {
                    org_name: r.text(1)?,
                    // a source's reporters are of counted reports only
                    sent: Provenance::from_columns(r.opt_text(4)?, r.opt_text(5)?, true),
                };
                e.0.push((r.uint(2)?, name));
                e.1 = usize::try_from(r.uint(3)?).unwrap_or(usize::MAX);
            }
        }
        for s in sources {
            let (mut orgs, total) = by_ip.remove(&s.ip).unwrap_or_default();
            orgs.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            orgs.truncate(max);
            s.reporters = orgs.into_iter().map(|(_, o)| o).collect();
            s.reporters_total = total;
        }
        Ok(())
    }

    async fn fill_names(&self, sources: &mut [SourceSummary]) -> Result<(), StoreError> {
        let ips: Vec<String> = sources.iter().map(|s| s.ip.clone()).collect();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for chunk in ips.chunks(500) {
            let rows = self
                .read(vec![Stmt::new(
                    format!(
                        "SELECT ip, name FROM source_names WHERE name IS NOT NULL AND ip IN ({})",
                        text_list(chunk, 1)
                    ),
                    chunk.iter().map(|ip| Value::Text(ip.clone())).collect(),
                )])
                .await?;
            for r in rows.first().map(Vec::as_slice).unwrap_or_default() {
                names.insert(r.text(0)?, r.text(1)?);
            }
        }
        for s in sources {
            s.name = names.remove(&s.ip);
        }
        Ok(())
    }
}
