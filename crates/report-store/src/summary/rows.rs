//! The rows of the domain page's queries ([`super::Store::received_domain_summary`]) as
//! the values the dashboard and `report show` read: days, sources, selectors, reporters
//! (RFC 9990 §3.1.1).

use std::collections::BTreeMap;

use super::{DayResults, ReporterSummary, SelectorSummary, SourceSummary, Span};
use crate::error::StoreError;
use crate::provenance::Provenance;
use crate::sql::Row;

pub(super) fn day_results(rows: &[Row], span: Span) -> Result<Vec<DayResults>, StoreError> {
    let mut by_day: BTreeMap<u64, DayResults> = span
        .days()
        .map(|day| {
            (
                day,
                DayResults {
                    day,
                    ..DayResults::default()
                },
            )
        })
        .collect();
    for r in rows {
        let Some(d) = by_day.get_mut(&r.uint(0)?) else {
            continue;
        };
        let n = r.uint(3)?;
        let slot = if r.int(1)? == 1 {
            &mut d.pass
        } else {
            match r.text(2)?.as_str() {
                "quarantine" => &mut d.fail_quarantine,
                "reject" => &mut d.fail_reject,
                _ => &mut d.fail_none,
            }
        };
        *slot = slot.saturating_add(n);
    }
    Ok(by_day.into_values().collect())
}

/// Sources from (ip, org) groups: summed per ip, failing first, at most `max`.
pub(super) fn sources(rows: &[Row], max: usize) -> Result<(Vec<SourceSummary>, usize), StoreError> {
    let mut total = 0;
    let mut all = Vec::with_capacity(rows.len());
    for r in rows {
        total = usize::try_from(r.uint(7)?).unwrap_or(usize::MAX);
        all.push(SourceSummary {
            ip: r.text(0)?,
            name: None,
            reporters: Vec::new(),
            reporters_total: 0,
            messages: r.uint(1)?,
            dmarc_pass: r.uint(2)?,
            spf_aligned: r.uint(3)?,
            dkim_aligned: r.uint(4)?,
            spf_pass: r.uint(5)?,
            dkim_pass: r.uint(6)?,
        });
    }
    // the order of the query, made exact here (ties: the address, bytewise, whatever the
    // database's collation)
    all.sort_by(|a, b| {
        b.failing()
            .cmp(&a.failing())
            .then_with(|| b.messages.cmp(&a.messages))
            .then_with(|| a.ip.cmp(&b.ip))
    });
    all.truncate(max);
    Ok((all, total))
}

/// Selectors from (d=, s=) groups with their messages and passes, most messages first, at
/// most `max`.
pub(super) fn selectors(rows: &[Row], max: usize) -> Result<Vec<SelectorSummary>, StoreError> {
    let mut out = rows
        .iter()
        .map(|r| {
            Ok(SelectorSummary {
                domain: r.text(0)?,
                selector: r.text(1)?,
                messages: r.uint(2)?,
                pass: r.uint(3)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // the order of the query, made exact here (ties bytewise, whatever the collation)
    out.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then_with(|| (&a.domain, &a.selector).cmp(&(&b.domain, &b.selector)))
    });
    out.truncate(max);
    Ok(out)
}

/// Reporters, most messages first, at most `max`; and how many there are in all.
pub(super) fn reporters(
    rows: &[Row],
    max: usize,
) -> Result<(Vec<ReporterSummary>, usize, usize), StoreError> {
    let (mut total, mut counted) = (0, 0);
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        total = usize::try_from(r.uint(3)?).unwrap_or(usize::MAX);
        counted = usize::try_from(r.uint(7)?).unwrap_or(usize::MAX);
        out.push(ReporterSummary {
            org_name: r.text(0)?,
            sent: Provenance::from_columns(r.opt_text(4)?, r.opt_text(5)?, r.int(6)? != 0),
            reports: r.uint(1)?,
            messages: r.uint(2)?,
        });
    }
    out.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then_with(|| a.org_name.cmp(&b.org_name))
            .then_with(|| a.sent.cmp(&b.sent))
    });
    out.truncate(max);
    Ok((out, total, counted))
}
