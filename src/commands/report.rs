//! `authmilter report send|status` (`import` and `show` are in `report_in.rs`).

use std::process::ExitCode;

use anyhow::{Context, bail};
use report_store::{SendState, Status, Store};

use crate::app::App;
use crate::cli::{ReportCommand, ReportSendArgs, ReportStatusArgs};
use crate::config::Config;
use crate::reports::period::{format_day as day, format_time as time, parse_day};
use crate::reports::schedule::failure_pass;
use crate::reports::sender::{PassClock, PassOptions, aggregate_pass};

/// Runs `report send` or `report status`.
pub fn run(cmd: ReportCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ReportCommand::Send(a) => send(a),
        ReportCommand::Status(a) => status(a),
        ReportCommand::Import(a) => super::report_in::import(a),
        ReportCommand::Show(a) => super::report_in::show(a),
    }
}

/// Opens the configured report store (`report` subcommands).
pub(super) async fn open(config: &Config) -> anyhow::Result<Store> {
    let loc = &config.reports.store.0;
    Store::open(loc, crate::reports::unix_now())
        .await
        .with_context(|| format!("cannot open the report store {loc}"))
}

/// Opens the configured report store to read it (`report show`): an older schema is
/// refused, not upgraded.
pub(super) async fn open_for_reading(config: &Config) -> anyhow::Result<Store> {
    let loc = &config.reports.store.0;
    Store::open_for_reading(loc, crate::reports::unix_now())
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
        let stop = stop_on_interrupt();
        let opts = PassOptions {
            period,
            dry_run: args.dry_run.then(|| args.out.clone()),
            immediate: true,
            stop: Some(stop.clone()),
        };
        let clock = PassClock::starting_at(now);
        let mut summary = aggregate_pass(&app, &store, &holder, clock, &opts).await?;
        if !args.dry_run {
            summary.failure_sent =
                failure_pass(&app, &store, &holder, clock, Some(&stop)).await?;
        }
        let interrupted = *stop.borrow();
        if args.json {
            outln!("{}", serde_json::to_string_pretty(&summary)?)?;
        } else if args.dry_run {
            outln!(
                "dry run: {} report(s), {} message(s) written, {} skipped, nothing sent",
                summary.reports,
                summary.written.len(),
                summary.skipped
            )?;
            for p in &summary.written {
                outln!("  {}", p.display())?;
            }
        } else {
            outln!(
                "{} report(s): {} sent, {} skipped, {} failed, {} deferred, {} uncertain, {} held by another sender; {} failure report(s) sent",
                summary.reports,
                summary.sent,
                summary.skipped,
                summary.failed,
                summary.deferred,
                summary.uncertain,
                summary.busy,
                summary.failure_sent
            )?;
        }
        if interrupted {
            eprintln!("report send: interrupted; the reports not sent are due at the next run");
            return Ok(ExitCode::from(130));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Says true once SIGINT (Ctrl-C) or SIGTERM arrives: the pass then stops after the
/// submission under way, as `serve`'s does at shutdown, so no report is left in doubt; a
/// second signal quits at once (exit status 130).
fn stop_on_interrupt() -> tokio::sync::watch::Receiver<bool> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::watch::channel(false);
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return rx; // no handler: the signals keep their default action
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        eprintln!(
            "report send: stopping after the submission under way (interrupt again to quit now)"
        );
        let _ = tx.send(true);
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        std::process::exit(130);
    });
    rx
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
            outln!("{}", serde_json::to_string_pretty(&v)?)?;
        } else {
            print_status(&store.location().to_string(), &status)?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn print_status(location: &str, s: &Status) -> std::io::Result<()> {
    outln!("store: {location} (schema {})", s.schema_version)?;
    if s.periods.is_empty() {
        outln!("no periods recorded")?;
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
        outln!(
            "{}  {}  {} messages in {} rows  report: {job}",
            day(p.period_begin),
            p.policy_domain,
            p.messages,
            p.rows
        )?;
        for d in &p.sends {
            let detail = match d.state {
                SendState::Sent => format!(
                    "{} {}",
                    d.sent_at.map(time).unwrap_or_default(),
                    d.message_id.as_deref().unwrap_or("")
                ),
                _ => d.last_error.clone().unwrap_or_default(),
            };
            outln!("    {:<9} {}  {detail}", d.state.as_str(), d.destination)?;
        }
    }
    if s.unreported_messages > 0 {
        outln!(
            "{} message(s) recorded without rua= (record_all)",
            s.unreported_messages
        )?;
    }
    if !s.failure_reports.is_empty() {
        let parts: Vec<String> = s
            .failure_reports
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        outln!("failure reports: {}", parts.join(", "))?;
    }
    if s.received.0 > 0 {
        outln!(
            "received reports: {} ({} records)",
            s.received.0,
            s.received.1
        )?;
    }
    Ok(())
}
