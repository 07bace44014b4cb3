//! `authmilter bench`: load-test any milter (src/bench).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;

use crate::bench::{self, Plan, client::Target};
use crate::cli::BenchArgs;

/// Longest `--duration`, in seconds (a week).
const MAX_DURATION: f64 = 604_800.0;
/// Longest `--timeout` for one reply, in seconds.
const MAX_TIMEOUT: f64 = 3_600.0;

/// Loads the corpus, runs the plan, prints the report. Exit code 0 when every message was
/// answered (and, with --verify-answers, answered as when sent alone), 1 otherwise.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    // bounded, so the Durations and the deadlines built from them cannot overflow
    if !(args.duration > 0.0 && args.duration <= MAX_DURATION) {
        bail!("--duration must be a positive number of seconds, at most {MAX_DURATION} (a week)");
    }
    if !(args.timeout > 0.0 && args.timeout <= MAX_TIMEOUT) {
        bail!("--timeout must be a positive number of seconds, at most {MAX_TIMEOUT}");
    }
    if args.concurrency == 0 || args.concurrency > 10_000 {
        bail!("--concurrency must be between 1 and 10000");
    }
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    if args.per_connection == 0 {
        bail!("--per-connection must be at least 1");
    }
    let target = Target::parse(&args.target)?;
    let corpus = bench::corpus::load(&args.corpus)?;
    let plan = Plan::new(
        target,
        args.concurrency,
        args.count,
        Duration::from_secs_f64(args.duration),
        args.per_connection,
        args.client_ip,
        args.helo.clone(),
        args.mail_from.clone(),
        args.rcpt.clone(),
        args.auth.clone(),
        Duration::from_secs_f64(args.timeout),
    );
    let plan = if args.verify_answers {
        bench::with_answers_recorded(plan, &corpus)?
    } else {
        plan
    };
    let progress = !args.json && std::io::stderr().is_terminal();
    let report = bench::run(plan, corpus, args.pid, progress)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        out!("{}", report.text())?;
    }
    // a run that answered nothing proves nothing
    Ok(
        if report.failed == 0 && report.answers.mismatched == 0 && report.messages > 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}
