//! `authmilter report import` and `authmilter report show`: the reports others send us, in
//! from files, out as a summary (docs/reports.md, "Reports in"; docs/cli.md).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use report_store::{DomainOverview, DomainSummary, ReporterName, SourceSummary, Unverified};

use crate::cli::{ReportImportArgs, ReportShowArgs};
use crate::config::Config;
use crate::logging::{Escaped, json_visible};
use crate::reports::ingest::{self, Outcome, Unreadable};
use crate::reports::period::{self, format_day};

/// Files found in directories at most (a mistaken `/` must end).
const MAX_FILES: usize = 1_000_000;
/// Directory nesting followed at most.
const MAX_DEPTH: usize = 16;

/// `report import FILE|DIR|-`.
pub fn import(args: ReportImportArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(args.config.path.as_deref())?.config;
    let files = inputs(&args.inputs)?;
    let limits = reports::Limits::default();
    let runtime = super::common::runtime()?;
    runtime.block_on(async move {
        let store = super::report::open(&config).await?;
        let resolver = if args.no_names {
            None
        } else {
            Some(super::common::tool_resolver(&config, &args.dns)?)
        };
        let mut outcomes = Vec::new();
        for input in &files {
            let label = input.display().to_string();
            let now = crate::reports::unix_now();
            let outcome = match read_bounded(input, limits.max_input_bytes) {
                Ok(data) => ingest::ingest(
                    &store,
                    &label,
                    data,
                    &limits,
                    resolver.as_deref(),
                    now,
                )
                .await
                .with_context(|| format!("{label}: cannot store"))?,
                Err(e) => Outcome {
                    input: label,
                    unreadable: vec![Unreadable {
                        part: "file".into(),
                        error: format!("{e:#}"),
                    }],
                    ..Outcome::default()
                },
            };
            if !args.json {
                print_outcome(&outcome)?;
            }
            outcomes.push(outcome);
        }
        let stored: usize = outcomes.iter().map(|o| o.stored.len()).sum();
        let duplicates: usize = outcomes.iter().map(|o| o.duplicates.len()).sum();
        let unreadable: usize = outcomes.iter().map(|o| o.unreadable.len()).sum();
        if args.json {
            let v = serde_json::json!({
                "store": store.location().to_string(),
                "inputs": outcomes,
                "stored": stored,
                "already_stored": duplicates,
                "unreadable": unreadable,
            });
            outln!("{}", json_visible(&serde_json::to_string_pretty(&v)?))?;
        } else {
            outln!(
                "{} input(s): {stored} report(s) stored, {duplicates} already stored, {unreadable} unreadable",
                outcomes.len()
            )?;
        }
        Ok(if unreadable == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

/// A path for stdin, else the files: each file given, and the regular files under each
/// directory given (sorted, recursively).
fn inputs(args: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for a in args {
        if a == Path::new("-") || !a.is_dir() {
            out.push(a.clone());
        } else {
            walk(a, 0, &mut out)?;
        }
    }
    Ok(out)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if depth > MAX_DEPTH {
        anyhow::bail!("{}: more than {MAX_DEPTH} directory levels", dir.display());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            walk(&p, depth + 1, out)?;
        } else if meta.is_file() {
            if out.len() >= MAX_FILES {
                anyhow::bail!("more than {MAX_FILES} files");
            }
            out.push(p);
        }
    }
    Ok(())
}

/// The file (or stdin for `-`), refused when larger than `limit` (read no further).
fn read_bounded(path: &Path, limit: usize) -> anyhow::Result<Vec<u8>> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut data = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .take(cap)
            .read_to_end(&mut data)
            .context("cannot read stdin")?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(cap).read_to_end(&mut data))
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    if data.len() > limit {
        anyhow::bail!("larger than {limit} bytes, not read (RFC 9990 section 8.1 limits)");
    }
    Ok(data)
}

fn print_outcome(o: &Outcome) -> std::io::Result<()> {
    let input = Escaped::str(&o.input);
    for (what, list) in [("stored", &o.stored), ("already stored", &o.duplicates)] {
        for s in list {
            outln!(
                "{input}: {what}: {} report {} for {} ({} records, {} messages){}",
                Escaped::str(&s.org_name),
                Escaped::str(&s.report_id),
                Escaped::str(&s.policy_domain),
                s.records,
                s.messages,
                if s.id_reused {
                    "; a report with this Report-ID but other contents was stored before, both are kept"
                } else {
                    ""
                }
            )?;
        }
    }
    for u in &o.unreadable {
        outln!(
            "{input}: refused: {}: {}",
            Escaped::str(&u.part),
            Escaped::str(&u.error)
        )?;
    }
    Ok(())
}

/// `report show [--domain D] [--since 7d] [--json|--csv]`.
pub fn show(args: ReportShowArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(args.config.path.as_deref())?.config;
    let now = args.now.unwrap_or_else(crate::reports::unix_now);
    let span = period::span(&args.since, args.until.as_deref(), now)?;
    let runtime = super::common::runtime()?;
    runtime.block_on(async move {
        // only reads: an older store is not upgraded here (serve or report status do it)
        let store = super::report::open_for_reading(&config).await?;
        match &args.domain {
            None => {
                let (domains, _) = store.received_domains(span, usize::MAX).await?;
                if args.json {
                    let v = serde_json::json!({ "span": span, "domains": domains });
                    outln!("{}", json_visible(&serde_json::to_string_pretty(&v)?))?;
                } else if args.csv {
                    domains_csv(&domains)?;
                } else {
                    domains_text(&domains, span)?;
                }
            }
            Some(d) => {
                let summary = store
                    .received_domain_summary(d, span, args.sources, 100, usize::MAX)
                    .await?;
                if args.json {
                    outln!("{}", json_visible(&serde_json::to_string_pretty(&summary)?))?;
                } else if args.csv {
                    sources_csv(&summary.sources)?;
                } else {
                    domain_text(&summary)?;
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn span_text(span: report_store::Span) -> String {
    format!(
        "{} to {}",
        format_day(span.begin),
        format_day(span.end.saturating_sub(86_400))
    )
}

fn domains_text(domains: &[DomainOverview], span: report_store::Span) -> std::io::Result<()> {
    outln!("reports received {} (UTC)", span_text(span))?;
    if domains.is_empty() {
        return outln!("none");
    }
    outln!(
        "{:<32} {:>10} {:>8} {:>8} {:>9}  last day",
        "domain",
        "messages",
        "dmarc",
        "reports",
        "reporters"
    )?;
    for d in domains {
        outln!(
            "{:<32} {:>10} {:>8} {:>8} {:>9}  {}",
            Escaped::str(&d.policy_domain).to_string(),
            d.messages,
            pct(d.dmarc_pass, d.messages),
            d.reports,
            d.reporters,
            format_day(d.last_day)
        )?;
        if d.unverified.reports > 0 {
            outln!("  {}", unverified_text(&d.unverified))?;
        }
    }
    Ok(())
}

/// The reports left out of the figures (RFC 9990 §8.2: an unverified sender):
/// `+ 1000000 messages in 1 unverified report, not counted`.
fn unverified_text(u: &Unverified) -> String {
    format!(
        "+ {} messages in {} unverified report{}, not counted",
        u.messages,
        u.reports,
        if u.reports == 1 { "" } else { "s" }
    )
}

fn domain_text(s: &DomainSummary) -> std::io::Result<()> {
    let domain = Escaped::str(&s.policy_domain);
    outln!(
        "{domain}, {} (UTC): {} messages, {} pass DMARC, {} sources, {} reporters",
        span_text(s.span),
        s.messages,
        pct(s.dmarc_pass, s.messages),
        s.sources_total,
        s.reporters_counted
    )?;
    if s.unverified.reports > 0 {
        outln!("{} (see reporters)", unverified_text(&s.unverified))?;
    }
    if let Some(p) = &s.policy {
        outln!("policy as last reported: p={}", p.p)?;
    }
    outln!(
        "\nsources, failing first{}:",
        if s.sources.len() < s.sources_total {
            format!(" ({} of {})", s.sources.len(), s.sources_total)
        } else {
            String::new()
        }
    )?;
    outln!(
        "{:<40} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7}  name / reported by",
        "source",
        "messages",
        "failing",
        "dmarc",
        "spf-al",
        "dkim-al",
        "spf",
        "dkim"
    )?;
    for x in &s.sources {
        let n = x.messages;
        outln!(
            "{:<40} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7}  {} / {}",
            x.ip,
            n,
            x.failing(),
            pct(x.dmarc_pass, n),
            pct(x.spf_aligned, n),
            pct(x.dkim_aligned, n),
            pct(x.spf_pass, n),
            pct(x.dkim_pass, n),
            Escaped::str(x.name.as_deref().unwrap_or("-")),
            reporters_text(&x.reporters)
        )?;
    }
    outln!("\nDKIM selectors:")?;
    for sel in &s.selectors {
        outln!(
            "  d={} s={}: {} messages, {} verified",
            Escaped::str(&sel.domain),
            Escaped::str(&sel.selector),
            sel.messages,
            pct(sel.pass, sel.messages)
        )?;
    }
    outln!("\nreporters:")?;
    for r in &s.reporters {
        outln!(
            "  {}: {} reports, {} messages; {}",
            Escaped::str(&r.org_name),
            r.reports,
            r.messages,
            Escaped::str(&r.sent.describe())
        )?;
    }
    Ok(())
}

/// Most characters of one reporter's name shown in a source's line (the rest counted), so
/// that a long name never pushes the marks after it out of sight.
const SHOWN_NAME_CHARS: usize = 64;

/// A source's reporters for people, each with who sent its reports (RFC 9990 §3.5.2: the
/// name is the sender's text, so it is quoted and escaped once, Rust-style, and a name of its
/// own "(sent by …)" stays inside its quotes; each is cut on its own):
/// `"google.com" (sent by google.com), "Yahoo" (unverified)`. Printed as it is.
fn reporters_text(reporters: &[ReporterName]) -> String {
    reporters
        .iter()
        .map(|r| {
            let name = &r.org_name;
            let shown: String = name.chars().take(SHOWN_NAME_CHARS).collect();
            let cut = match name.len() - shown.len() {
                0 => String::new(),
                more => format!("...({more} more bytes)"),
            };
            format!("{shown:?}{cut} ({})", r.sent.short())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A source's reporters in one CSV field: a JSON array of `[org_name, who sent its
/// reports]` pairs (docs/cli.md), which no name (spaces, commas, quotes) can blur.
fn reporters_csv(reporters: &[ReporterName]) -> String {
    let pairs: Vec<(&str, String)> = reporters
        .iter()
        .map(|r| (r.org_name.as_str(), r.sent.short()))
        .collect();
    json_visible(&serde_json::to_string(&pairs).unwrap_or_default())
}

/// One CSV field (RFC 4180 quoting); a leading `= + - @` (a spreadsheet formula, from text
/// a reporter chose) gets a `'` first.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn domains_csv(domains: &[DomainOverview]) -> std::io::Result<()> {
    outln!(
        "domain,messages,dmarc_pass,reports,reporters,last_day,unverified_reports,unverified_messages"
    )?;
    for d in domains {
        outln!(
            "{},{},{},{},{},{},{},{}",
            csv_field(&d.policy_domain),
            d.messages,
            d.dmarc_pass,
            d.reports,
            d.reporters,
            format_day(d.last_day),
            d.unverified.reports,
            d.unverified.messages
        )?;
    }
    Ok(())
}

fn sources_csv(sources: &[SourceSummary]) -> std::io::Result<()> {
    outln!(
        "source_ip,name,reporters,messages,failing,dmarc_pass,spf_aligned,dkim_aligned,spf_pass,dkim_pass"
    )?;
    for s in sources {
        outln!(
            "{},{},{},{},{},{},{},{},{},{}",
            s.ip,
            csv_field(s.name.as_deref().unwrap_or("")),
            csv_field(&reporters_csv(&s.reporters)),
            s.messages,
            s.failing(),
            s.dmarc_pass,
            s.spf_aligned,
            s.dkim_aligned,
            s.spf_pass,
            s.dkim_pass
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reporter names are the reports' text: with spaces, commas, quotes, or a fake
    /// "(sent by …)" of their own, a source's reporters must still read back one by one, each
    /// with who sent its reports.
    #[test]
    fn a_sources_reporters_read_back_unambiguously() {
        let reporters = vec![
            ReporterName {
                org_name: "Yahoo! Inc.".into(),
                sent: report_store::Provenance::Imported,
            },
            ReporterName {
                org_name: "google.com (sent by google.com), \"x\"".into(),
                sent: report_store::Provenance::Mail {
                    from_domain: Some("evil.example".into()),
                    dmarc: report_store::CarrierDmarc::None,
                },
            },
        ];
        let csv = reporters_csv(&reporters);
        let back: Vec<(String, String)> = serde_json::from_str(&csv).unwrap();
        assert_eq!(
            back,
            [
                ("Yahoo! Inc.".to_string(), "imported".to_string()),
                (
                    "google.com (sent by google.com), \"x\"".to_string(),
                    "unverified".to_string()
                )
            ]
        );
        // the text form quotes each name: its own parentheses stay inside the quotes
        assert_eq!(
            reporters_text(&reporters),
            "\"Yahoo! Inc.\" (imported), \"google.com (sent by google.com), \\\"x\\\"\" (unverified)"
        );
    }

    #[test]
    fn csv_fields() {
        assert_eq!(csv_field("google.com"), "google.com");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }
}
