//! `authmilter check-domain`: checks what a domain publishes the way receivers will read it
//! (MX and the reverse DNS of each MX address, SPF with its include tree, DMARC with its
//! report destinations, DKIM keys, MTA-STS and TLS-RPT), and says what is wrong or risky, each
//! finding with a one-line fix.
//!
//! DNS trouble (timeout, SERVFAIL) is never a verdict on the records: such a check is reported
//! as "could not check" everywhere alike, and the command exits 3 unless it found errors. The
//! whole run has one deadline (`--timeout`, 10 s); sections still waiting then are "could not
//! check" too.

mod dkim;
mod dmarc;
mod mx;
mod spf;
mod tls;

use std::process::ExitCode;
use std::time::Duration;

use dns::DnsError;
use serde::Serialize;

use crate::app::App;
use crate::cli::CheckDomainArgs;

use super::common::{domain_arg, runtime, shown, tool_config, tool_resolver};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Fine.
    Ok,
    /// Worth knowing.
    Note,
    /// Risky or incomplete.
    Warning,
    /// Broken: receivers get a wrong or no result.
    Error,
    /// DNS did not answer: nothing can be said.
    CouldNotCheck,
}

/// One finding.
#[derive(Debug, Serialize)]
pub struct Finding {
    /// How bad.
    pub level: Level,
    /// What was found.
    pub text: String,
    /// What to do about it (for warnings and errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The findings about one record.
#[derive(Debug, Serialize)]
pub struct Section {
    /// E.g. `SPF example.com`.
    pub name: String,
    /// The record as published, when there is one.
    pub record: Option<String>,
    /// Indented lines shown under the record (the SPF include tree, MX hosts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// What was found.
    pub findings: Vec<Finding>,
}

impl Section {
    fn new(name: impl Into<String>) -> Self {
        Section {
            name: name.into(),
            record: None,
            details: Vec::new(),
            findings: Vec::new(),
        }
    }

    fn ok(&mut self, text: impl Into<String>) {
        self.push(Level::Ok, text.into(), None);
    }

    fn note(&mut self, text: impl Into<String>) {
        self.push(Level::Note, text.into(), None);
    }

    fn warn(&mut self, text: impl Into<String>, fix: impl Into<String>) {
        self.push(Level::Warning, text.into(), Some(fix.into()));
    }

    fn error(&mut self, text: impl Into<String>, fix: impl Into<String>) {
        self.push(Level::Error, text.into(), Some(fix.into()));
    }

    /// A lookup that DNS did not answer: the one wording every check uses.
    fn could_not_check(&mut self, what: &str, e: &DnsError) {
        self.push(
            Level::CouldNotCheck,
            format!("could not check {what}: {e}"),
            Some("retry later; if it persists, check that the domain's nameservers answer".into()),
        );
    }

    fn push(&mut self, level: Level, text: String, fix: Option<String>) {
        self.findings.push(Finding { level, text, fix });
    }

    fn sections_timed_out(name: String, deadline: Duration) -> Section {
        let mut s = Section::new(name);
        s.push(
            Level::CouldNotCheck,
            format!(
                "could not check: no complete answer within {}s",
                deadline.as_secs()
            ),
            Some("retry later; if it persists, check that the domain's nameservers answer".into()),
        );
        s
    }
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The domain checked.
    pub domain: String,
    /// MX hosts and their reverse DNS.
    pub mx: Section,
    /// SPF.
    pub spf: Section,
    /// DMARC.
    pub dmarc: Section,
    /// One per DKIM selector found or asked for.
    pub dkim: Vec<Section>,
    /// MTA-STS (RFC 8461) policy indicator.
    pub mta_sts: Section,
    /// SMTP TLS reporting (RFC 8460).
    pub tls_rpt: Section,
    /// Findings at level error.
    pub errors: usize,
    /// Findings at level warning.
    pub warnings: usize,
    /// Checks DNS did not answer.
    pub could_not_check: usize,
}

impl Report {
    fn sections(&self) -> impl Iterator<Item = &Section> {
        [&self.mx, &self.spf, &self.dmarc]
            .into_iter()
            .chain(self.dkim.iter())
            .chain([&self.mta_sts, &self.tls_rpt])
    }
}

/// Exit status when DNS did not answer some check and no error was found.
pub const EXIT_COULD_NOT_CHECK: u8 = 3;

/// Runs the command: exit 0 (no errors), 1 (errors found), 3 (some checks could not be made,
/// no errors found).
pub fn run(args: CheckDomainArgs) -> anyhow::Result<ExitCode> {
    let mut config = tool_config(&args.config)?;
    // a diagnostic tool must not sit on a dead nameserver: short tries, one attempt
    let per_query = Duration::from_secs(2).min(config.dns.timeout.get());
    config.dns.timeout = crate::config::Span::secs(per_query.as_secs().max(1));
    config.dns.attempts = 1;
    let resolver = tool_resolver(&config, &args.dns)?;
    let app = App::without_keys(config, resolver)?;
    let domain = domain_arg(&args.domain)?;
    // selectors as genkey takes them: names DNS can carry (RFC 6376 §3.1)
    let selectors = args
        .selector
        .iter()
        .map(|s| super::dkim::genkey::selector(s, &domain))
        .collect::<anyhow::Result<Vec<String>>>()?;
    let deadline = Duration::from_secs(args.timeout.max(1));
    let report = runtime()?.block_on(check(&app, &domain, &selectors, deadline));
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_report(&report)?;
    }
    Ok(if report.errors > 0 {
        ExitCode::from(1)
    } else if report.could_not_check > 0 {
        ExitCode::from(EXIT_COULD_NOT_CHECK)
    } else {
        ExitCode::SUCCESS
    })
}

/// Every check, concurrently, each bounded by `deadline` from now.
pub async fn check(app: &App, domain: &str, selectors: &[String], deadline: Duration) -> Report {
    let end = tokio::time::Instant::now() + deadline;
    let bounded = |name: String, fut| bounded(end, deadline, name, fut);
    let explicit = !selectors.is_empty();
    let selectors: Vec<String> = if explicit {
        selectors.to_vec()
    } else {
        dkim::COMMON_SELECTORS
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let dkim_all = async {
        let futures = selectors
            .iter()
            .map(|s| {
                let name = format!("DKIM {}", ::dkim::key_name(s, domain));
                let fut = dkim::check(app, domain, s, explicit);
                Box::pin(async move {
                    tokio::time::timeout_at(end, fut)
                        .await
                        .unwrap_or_else(|_| Some(Section::sections_timed_out(name, deadline)))
                })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send + '_>>
            })
            .collect();
        dns::join_all(futures).await
    };
    let (mx, spf, dmarc, dkim, mta_sts, tls_rpt) = tokio::join!(
        bounded(format!("MX {domain}"), Box::pin(mx::check(app, domain))),
        bounded(format!("SPF {domain}"), Box::pin(spf::check(app, domain))),
        bounded(
            format!("DMARC {domain}"),
            Box::pin(dmarc::check(app, domain))
        ),
        dkim_all,
        bounded(
            format!("MTA-STS {domain}"),
            Box::pin(tls::check_mta_sts(app, domain))
        ),
        bounded(
            format!("TLS-RPT {domain}"),
            Box::pin(tls::check_tls_rpt(app, domain))
        ),
    );
    // guessed selectors DNS did not answer for: "no key found" only when every one answered
    let (unanswered, mut dkim): (Vec<Section>, Vec<Section>) = dkim
        .into_iter()
        .flatten()
        .partition(|s: &Section| s.name == dkim::GUESSES_UNCHECKED);
    if dkim.is_empty() {
        dkim.push(unanswered.into_iter().next().unwrap_or_else(|| {
            let mut s = Section::new("DKIM");
            s.note("no key found under the common selectors; name yours with --selector");
            s
        }));
    }
    let mut report = Report {
        domain: domain.to_string(),
        mx,
        spf,
        dmarc,
        dkim,
        mta_sts,
        tls_rpt,
        errors: 0,
        warnings: 0,
        could_not_check: 0,
    };
    let (mut e, mut w, mut u) = (0, 0, 0);
    for f in report.sections().flat_map(|s| s.findings.iter()) {
        match f.level {
            Level::Error => e += 1,
            Level::Warning => w += 1,
            Level::CouldNotCheck => u += 1,
            Level::Ok | Level::Note => {}
        }
    }
    (report.errors, report.warnings, report.could_not_check) = (e, w, u);
    report
}

/// `fut`, or a "could not check" section when `end` comes first.
async fn bounded(
    end: tokio::time::Instant,
    deadline: Duration,
    name: String,
    fut: std::pin::Pin<Box<dyn std::future::Future<Output = Section> + Send + '_>>,
) -> Section {
    tokio::time::timeout_at(end, fut)
        .await
        .unwrap_or_else(|_| Section::sections_timed_out(name, deadline))
}

/// The text report. Records, names and addresses come from DNS: every line is escaped as the
/// log escapes (`\u{1b}`), so a hostile zone cannot drive the terminal.
fn print_report(r: &Report) -> std::io::Result<()> {
    for s in r.sections() {
        outln!("{}", shown(&s.name))?;
        if let Some(rec) = &s.record {
            outln!("  record:  {}", shown(rec))?;
        }
        for d in &s.details {
            outln!("    {}", shown(d))?;
        }
        for f in &s.findings {
            let tag = match f.level {
                Level::Ok => "ok",
                Level::Note => "note",
                Level::Warning => "warning",
                Level::Error => "ERROR",
                Level::CouldNotCheck => "UNCHECKED",
            };
            outln!("  {tag:<9} {}", shown(&f.text))?;
            if let Some(fix) = &f.fix {
                outln!("  {:<9} fix: {}", "", shown(fix))?;
            }
        }
        outln!()?;
    }
    outln!(
        "{} error(s), {} warning(s), {} could not be checked",
        r.errors,
        r.warnings,
        r.could_not_check
    )?;
    Ok(())
}
