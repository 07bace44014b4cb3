//! `authmilter check-domain`: checks a domain's published SPF, DMARC and DKIM records the way
//! receivers will read them, and says what is wrong or risky.

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

use serde::Serialize;

use crate::app::App;
use crate::cli::CheckDomainArgs;

use super::common::{runtime, tool_config, tool_resolver};

/// Selectors tried when none are given (common defaults of mail providers and tools).
const COMMON_SELECTORS: &[&str] = &[
    "default",
    "dkim",
    "mail",
    "s1",
    "s2",
    "k1",
    "k2",
    "selector1",
    "selector2",
    "google",
];

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Ok,
    Note,
    Warning,
    Error,
}

#[derive(Debug, Serialize)]
struct Finding {
    level: Level,
    text: String,
}

#[derive(Debug, Serialize)]
struct Section {
    name: String,
    record: Option<String>,
    findings: Vec<Finding>,
}

impl Section {
    fn new(name: impl Into<String>) -> Self {
        Section {
            name: name.into(),
            record: None,
            findings: Vec::new(),
        }
    }
    fn add(&mut self, level: Level, text: impl Into<String>) {
        self.findings.push(Finding {
            level,
            text: text.into(),
        });
    }
}

#[derive(Debug, Serialize)]
struct Report {
    domain: String,
    spf: Section,
    dmarc: Section,
    dkim: Vec<Section>,
    errors: usize,
    warnings: usize,
}

/// Runs the command. Exit status 0 without errors, 1 when an error was found.
pub fn run(args: CheckDomainArgs) -> anyhow::Result<ExitCode> {
    let config = tool_config(&args.config)?;
    let resolver = tool_resolver(&config, &args.dns)?;
    let app = App::without_keys(config, resolver)?;
    let domain = args
        .domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let report = runtime()?.block_on(async {
        let spf = check_spf(&app, &domain).await;
        let dmarc = check_dmarc(&app, &domain).await;
        let explicit = !args.selector.is_empty();
        let selectors: Vec<String> = if explicit {
            args.selector.clone()
        } else {
            COMMON_SELECTORS.iter().map(|s| s.to_string()).collect()
        };
        let mut dkim = Vec::new();
        for s in &selectors {
            if let Some(section) = check_dkim(&app, &domain, s, explicit).await {
                dkim.push(section);
            }
        }
        if dkim.is_empty() {
            let mut s = Section::new("DKIM");
            s.add(
                Level::Note,
                "no key found under the common selectors; name yours with --selector",
            );
            dkim.push(s);
        }
        let all = std::iter::once(&spf)
            .chain(std::iter::once(&dmarc))
            .chain(dkim.iter())
            .flat_map(|s| s.findings.iter());
        let (mut errors, mut warnings) = (0, 0);
        for f in all {
            match f.level {
                Level::Error => errors += 1,
                Level::Warning => warnings += 1,
                _ => {}
            }
        }
        Report {
            domain: domain.clone(),
            spf,
            dmarc,
            dkim,
            errors,
            warnings,
        }
    });
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_report(&report)?;
    }
    Ok(if report.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn check_spf(app: &App, domain: &str) -> Section {
    let mut s = Section::new(format!("SPF {domain}"));
    let txts = match app.resolver.txt(domain).await {
        Ok(t) => t,
        Err(e) if e.is_not_found() => {
            s.add(Level::Warning, "no SPF record: receivers get spf=none");
            return s;
        }
        Err(e) => {
            s.add(Level::Error, format!("DNS error: {e}"));
            return s;
        }
    };
    let raw = match spf::record::select_record(domain, &txts) {
        Ok(Some(r)) => r.to_vec(),
        Ok(None) => {
            s.add(Level::Warning, "no SPF record: receivers get spf=none");
            return s;
        }
        Err(e) => {
            s.add(Level::Error, format!("{e} (permerror for every message)"));
            return s;
        }
    };
    s.record = Some(String::from_utf8_lossy(&raw).into_owned());
    match spf::Record::parse(&raw) {
        Err(e) => s.add(Level::Error, format!("syntax error: {e} (permerror)")),
        Ok(record) => {
            use spf::record::{Mechanism, Qualifier};
            for d in &record.directives {
                if d.mechanism == Mechanism::All && d.qualifier == Qualifier::Pass {
                    s.add(Level::Error, "+all authorizes every host on the Internet");
                }
                if matches!(d.mechanism, Mechanism::Ptr(_)) {
                    s.add(
                        Level::Warning,
                        "ptr is slow and unreliable; RFC 7208 §5.5 says do not use it",
                    );
                }
            }
            if !record.has_all() && record.redirect.is_none() {
                s.add(
                    Level::Warning,
                    "no 'all' and no redirect: unlisted hosts get neutral",
                );
            }
        }
    }
    // evaluate for an address no one authorizes (reserved, 240/4): walks every include
    let probe = IpAddr::V4(Ipv4Addr::new(240, 0, 0, 1));
    let out = app
        .spf
        .check_host(
            &*app.resolver,
            probe,
            domain,
            format!("postmaster@{domain}").as_bytes(),
            b"",
        )
        .await;
    match out.result {
        spf::SpfResult::PermError => s.add(
            Level::Error,
            format!(
                "evaluation gives permerror: {}",
                out.problem
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "unknown".into())
            ),
        ),
        spf::SpfResult::TempError => s.add(
            Level::Warning,
            format!(
                "evaluation gives temperror: {}",
                out.problem.map(|p| p.to_string()).unwrap_or_default()
            ),
        ),
        spf::SpfResult::Pass => s.add(
            Level::Error,
            format!(
                "a reserved address ({probe}) gets pass (via {}): the record authorizes far too much",
                out.mechanism.unwrap_or_default()
            ),
        ),
        r => {
            let level = if out.dns_terms >= 9 {
                Level::Warning
            } else {
                Level::Ok
            };
            s.add(
                level,
                format!(
                    "evaluates cleanly: {} of 10 DNS lookups, {} void; an unlisted host gets {r}",
                    out.dns_terms, out.void_lookups
                ),
            );
        }
    }
    s
}

async fn check_dmarc(app: &App, domain: &str) -> Section {
    let mut s = Section::new(format!("DMARC {domain}"));
    let from = format!(" postmaster@{domain}");
    let discovery = app.dmarc.discover(&*app.resolver, &[from.as_bytes()]).await;
    let outcome = app.dmarc.finish(&*app.resolver, discovery, None, &[]).await;
    let Some(e) = outcome.primary() else {
        s.add(Level::Error, outcome.reason_text());
        return s;
    };
    if outcome.result == dmarc::DmarcResult::TempError {
        s.add(
            Level::Warning,
            format!("DNS error: {}", outcome.reason_text()),
        );
        return s;
    }
    let Some(record) = &e.record else {
        s.add(
            Level::Warning,
            "no DMARC record: receivers apply no policy to mail forged with this domain",
        );
        return s;
    };
    s.record = Some(record.text.clone());
    if let Some(pd) = &e.policy_domain
        && pd != domain
    {
        s.add(
            Level::Note,
            format!("no record at _dmarc.{domain}; the one at _dmarc.{pd} applies"),
        );
    }
    for p in &record.problems {
        s.add(
            Level::Warning,
            format!("tag {}={:?} is invalid", p.tag, p.value),
        );
    }
    match e.policy {
        Some(dmarc::Policy::None) => s.add(
            Level::Warning,
            "p=none: monitoring only, forged mail is still delivered",
        ),
        Some(p) => s.add(Level::Ok, format!("policy for this domain: {p}")),
        None => s.add(Level::Error, "no usable policy (p= missing or invalid)"),
    }
    if record.testing {
        s.add(Level::Note, "t=y: receivers apply one level less (testing)");
    }
    if record.pct < 100 {
        s.add(
            Level::Note,
            format!(
                "pct={}: RFC 7489 receivers apply the policy to that share only",
                record.pct
            ),
        );
    }
    if record.rua.is_empty() {
        s.add(Level::Warning, "no rua=: you will get no aggregate reports");
    } else {
        let uris: Vec<&str> = record.rua.iter().map(|u| u.uri.as_str()).collect();
        s.add(
            Level::Ok,
            format!("aggregate reports to {}", uris.join(", ")),
        );
    }
    s
}

async fn check_dkim(app: &App, domain: &str, selector: &str, explicit: bool) -> Option<Section> {
    let name = dkim::key_name(selector, domain);
    let mut s = Section::new(format!("DKIM {name}"));
    let txts = match app.resolver.txt(&name).await {
        Ok(t) => t,
        Err(e) if e.is_not_found() => {
            if explicit {
                s.add(Level::Error, "no key record published");
                return Some(s);
            }
            return None;
        }
        Err(e) => {
            s.add(Level::Warning, format!("DNS error: {e}"));
            return Some(s);
        }
    };
    let raw = txts.first()?;
    s.record = Some(String::from_utf8_lossy(raw).into_owned());
    if txts.len() > 1 {
        s.add(Level::Warning, "several TXT records at the key name");
    }
    match dkim::KeyRecord::parse(raw) {
        Err(e) => s.add(Level::Error, format!("key record invalid: {e}")),
        Ok(k) if k.is_revoked() => s.add(Level::Note, "key revoked (empty p=)"),
        Ok(k) => {
            match k.key_type {
                crypto::KeyType::Ed25519 => s.add(Level::Ok, "Ed25519 key (RFC 8463)"),
                crypto::KeyType::Rsa => {
                    let bits = crypto::rsa_public_key_from_spki(&k.public_key)
                        .and_then(crypto::rsa_modulus_bits)
                        .or_else(|| crypto::rsa_modulus_bits(&k.public_key));
                    match bits {
                        Some(b) if b < 1024 => s.add(
                            Level::Error,
                            format!("RSA key of {b} bits: RFC 8301 forbids verifying it"),
                        ),
                        Some(b) if b < 2048 => s.add(
                            Level::Warning,
                            format!("RSA key of {b} bits: use 2048 (RFC 8301 §3.2)"),
                        ),
                        Some(b) => s.add(Level::Ok, format!("RSA key of {b} bits")),
                        None => s.add(Level::Error, "RSA public key does not parse"),
                    }
                }
            }
            if k.testing {
                s.add(
                    Level::Note,
                    "t=y: testing mode, some verifiers ignore failures",
                );
            }
        }
    }
    Some(s)
}

fn print_report(r: &Report) -> std::io::Result<()> {
    let sections = std::iter::once(&r.spf)
        .chain(std::iter::once(&r.dmarc))
        .chain(r.dkim.iter());
    for s in sections {
        outln!("{}", s.name)?;
        if let Some(rec) = &s.record {
            outln!("  record:  {rec}")?;
        }
        for f in &s.findings {
            let tag = match f.level {
                Level::Ok => "ok",
                Level::Note => "note",
                Level::Warning => "warning",
                Level::Error => "ERROR",
            };
            outln!("  {tag:<8} {}", f.text)?;
        }
        outln!()?;
    }
    outln!("{} error(s), {} warning(s)", r.errors, r.warnings)?;
    Ok(())
}
