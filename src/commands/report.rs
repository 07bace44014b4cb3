//! `authmilter report send|status`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use report_store::{SendState, Status, Store};

use crate::app::App;
use crate::cli::{ReportCommand, ReportSendArgs, ReportStatusArgs};
use crate::config::Config;
use crate::reports::sender::{PassOptions, aggregate_pass, failure_pass};

/// Runs `report send` or `report status`.
pub fn run(cmd: ReportCommand) -> anyhow::Result<ExitCode> {
    crate::logging::init_cli();
    match cmd {
        ReportCommand::Send(a) => send(a),
        ReportCommand::Status(a) => status(a),
    }
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    let loc = &config.reports.store.0;
    Store::open(loc, crate::reports::unix_now())
        .await
        .with_context(|| format!("cannot open the report store {loc}"))
}

fn send(args: ReportSendArgs) -> anyhow::Result<ExitCode> {
    let loaded = Config::load(args.config.path.as_deref())?;
    let config = loaded.config;
    if !config.reports.enabled {
        bail!(
            "reports are off in {} ([reports] enabled = false)",
            loaded.path.display()
        );
    }
    if config.reports.email.trim().is_empty() {
        bail!("reports.email is required to send reports");
    }
    let now = args.now.unwrap_or_else(crate::reports::unix_now);
    let period = match &args.period {
        Some(p) => {
            let begin = parse_day(p)?;
            if begin.saturating_add(86_400) > now {
                bail!("the period {p} has not ended yet (reports cover whole UTC days)");
            }
            Some(begin)
        }
        None => None,
    };
    if args.dry_run {
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
    }
    let runtime = super::common::runtime()?;
    runtime.block_on(async move {
        let resolver = super::common::tool_resolver(&config, &args.dns)?;
        let app = App::new(config, resolver)?;
        let store = open(&app.config).await?;
        let holder = crate::reports::holder(&app.config.reports);
        let opts = PassOptions {
            period,
            dry_run: args.dry_run.then(|| args.out.clone()),
            immediate: true,
        };
        let mut summary = aggregate_pass(&app, &store, &holder, now, &opts).await?;
        if !args.dry_run {
            summary.failure_sent = failure_pass(&app, &store, &holder, now).await?;
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else if args.dry_run {
            println!(
                "dry run: {} report(s), {} message(s) written, nothing sent",
                summary.reports,
                summary.written.len()
            );
            for p in &summary.written {
                println!("  {}", p.display());
            }
        } else {
            println!(
                "{} report(s): {} sent, {} skipped, {} failed, {} deferred, {} uncertain, {} held by another sender; {} failure report(s) sent",
                summary.reports,
                summary.sent,
                summary.skipped,
                summary.failed,
                summary.deferred,
                summary.uncertain,
                summary.busy,
                summary.failure_sent
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn status(args: ReportStatusArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(args.config.path.as_deref())?.config;
    let now = args.now.unwrap_or_else(crate::reports::unix_now);
    let since = now.saturating_sub(args.days.saturating_mul(86_400));
    let runtime = super::common::runtime()?;
    runtime.block_on(async move {
        let store = open(&config).await?;
        let status = store.status(since).await?;
        if args.json {
            let v = serde_json::json!({
                "store": store.location().to_string(),
                "status": status,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            print_status(&store.location().to_string(), &status);
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn print_status(location: &str, s: &Status) {
    println!("store: {location} (schema {})", s.schema_version);
    if s.periods.is_empty() {
        println!("no periods recorded");
    }
    for p in &s.periods {
        let job = match &p.job {
            None => "not started".to_string(),
            Some(j) if j.state == "done" => match &j.last_error {
                Some(e) => format!("done ({e})"),
                None => "done".to_string(),
            },
            Some(j) => format!(
                "pending (attempts {}{})",
                j.attempts,
                j.last_error
                    .as_deref()
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            ),
        };
        println!(
            "{}  {}  {} messages in {} rows  report: {job}",
            day(p.period_begin),
            p.policy_domain,
            p.messages,
            p.rows
        );
        for d in &p.sends {
            let detail = match d.state {
                SendState::Sent => format!(
                    "{} {}",
                    d.sent_at.map(time).unwrap_or_default(),
                    d.message_id.as_deref().unwrap_or("")
                ),
                _ => d.last_error.clone().unwrap_or_default(),
            };
            println!("    {:<9} {}  {detail}", d.state.as_str(), d.destination);
        }
    }
    if s.unreported_messages > 0 {
        println!(
            "{} message(s) recorded without rua= (record_all)",
            s.unreported_messages
        );
    }
    if !s.failure_reports.is_empty() {
        let parts: Vec<String> = s
            .failure_reports
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!("failure reports: {}", parts.join(", "));
    }
    if s.received.0 > 0 {
        println!(
            "received reports: {} ({} records)",
            s.received.0, s.received.1
        );
    }
}

/// `YYYY-MM-DD` → the Unix time of 00:00:00 UTC that day.
pub fn parse_day(text: &str) -> anyhow::Result<u64> {
    let bad = || anyhow::anyhow!("bad date {text:?}: expected YYYY-MM-DD");
    let mut parts = text.trim().split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return Err(bad()); // e.g. February 30
    }
    u64::try_from(days * 86_400).map_err(|_| bad())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn day(t: u64) -> String {
    let (y, m, d) = civil_from_days(i64::try_from(t / 86_400).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}")
}

fn time(t: u64) -> String {
    let s = t % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        day(t),
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days() {
        assert_eq!(parse_day("1970-01-01").unwrap(), 0);
        assert_eq!(parse_day("2026-11-02").unwrap(), 1_793_577_600);
        assert_eq!(day(1_793_577_600 + 5), "2026-11-02");
        assert_eq!(time(1_793_577_600 + 3661), "2026-11-02T01:01:01Z");
        for bad in ["2026-02-30", "2026-13-01", "26-1-1", "2026-01-01-01", "x"] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }
}
