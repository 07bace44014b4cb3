//! `authmilter bench`: a milter load generator usable against any milter. It speaks the
//! protocol as Postfix does (`milter_proto::client`), sends a corpus at a given concurrency
//! until `--count` messages or `--duration` (whichever comes first), and reports the rate,
//! latency percentiles, errors by kind, the milter's answers, and — given `--pid` — the
//! milter's CPU time per message and peak RSS, beside its own CPU time per message.
//!
//! - [`corpus`]: loading a directory or an mbox;
//! - [`client`]: one connection slot (the async loop over the client session);
//! - [`stats`]: latency histogram, answers, errors;
//! - [`process`]: CPU time and memory from /proc;
//! - [`report`]: the text and JSON report, the progress line.

pub mod client;
pub mod corpus;
pub mod process;
pub mod report;
pub mod stats;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use client::Target;
use corpus::CorpusMessage;
use report::Report;
use stats::Tally;

/// What a run does, shared by the connection slots.
#[derive(Debug)]
pub struct Plan {
    /// Where the milter listens.
    pub target: Target,
    /// Connections at once.
    pub concurrency: usize,
    /// Message budget.
    pub count: u64,
    /// `--duration`: how long messages are started, from the start of the run.
    pub duration: Duration,
    /// No message is started after this (set again when the run starts).
    pub deadline: Instant,
    /// Messages per connection.
    pub per_connection: u64,
    /// SMTP client address at CONNECT.
    pub client_ip: IpAddr,
    /// Client port at CONNECT.
    pub client_port: u16,
    /// HELO name (and client host name).
    pub helo: String,
    /// MAIL FROM override.
    pub mail_from: Option<String>,
    /// RCPT TO addresses.
    pub rcpts: Vec<String>,
    /// SMTP AUTH user, sent as `{auth_authen}`.
    pub auth: Option<String>,
    /// Deadline per reply.
    pub timeout: Duration,
    /// `--verify-answers`: record or compare each message's answer.
    pub answers: stats::AnswerCheck,
    claimed: AtomicU64,
    finished: AtomicU64,
    stop: AtomicBool,
}

impl Plan {
    /// A plan; counters at zero.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        target: Target,
        concurrency: usize,
        count: u64,
        duration: Duration,
        per_connection: u64,
        client_ip: IpAddr,
        helo: String,
        mail_from: Option<String>,
        rcpts: Vec<String>,
        auth: Option<String>,
        timeout: Duration,
    ) -> Plan {
        Plan {
            target,
            concurrency: concurrency.max(1),
            count,
            duration,
            deadline: Instant::now() + duration,
            per_connection: per_connection.max(1),
            client_ip,
            client_port: 50_000,
            helo,
            mail_from,
            rcpts,
            auth,
            timeout,
            answers: stats::AnswerCheck::Off,
            claimed: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        }
    }

    /// Takes the next message of the budget, or `None` when the run is over.
    pub fn claim(&self) -> Option<u64> {
        if self.stopped() {
            return None;
        }
        let n = self.claimed.fetch_add(1, Ordering::Relaxed);
        if n >= self.count {
            self.stop.store(true, Ordering::Relaxed);
            return None;
        }
        Some(n)
    }

    /// Counts finished messages (answered or failed).
    pub fn done(&self, n: u64) {
        self.finished.fetch_add(n, Ordering::Relaxed);
    }

    /// Messages finished so far.
    pub fn finished(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }

    /// When waiting ends whatever the milter does: the end of `--duration` plus one
    /// `--timeout` for the messages under way.
    pub fn hard_end(&self) -> Instant {
        self.deadline + self.timeout
    }

    /// True once the budget is used or the duration is over.
    pub fn stopped(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return true;
        }
        if Instant::now() >= self.deadline {
            self.stop.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }
}

/// `--verify-answers`: sends every corpus message once, alone (concurrency 1), and returns the
/// plan set to compare each later answer with that one.
pub fn with_answers_recorded(mut plan: Plan, corpus: &[CorpusMessage]) -> anyhow::Result<Plan> {
    let alone = Plan {
        answers: stats::AnswerCheck::Record(std::sync::Mutex::new(vec![None; corpus.len()])),
        ..Plan::new(
            plan.target.clone(),
            1,
            corpus.len() as u64,
            plan.duration,
            plan.per_connection,
            plan.client_ip,
            plan.helo.clone(),
            plan.mail_from.clone(),
            plan.rcpts.clone(),
            plan.auth.clone(),
            plan.timeout,
        )
    };
    let alone = Arc::new(alone);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let tally = rt.block_on(client::run_slot(alone.clone(), Arc::new(corpus.to_vec())));
    if tally.errors.total() > 0 {
        anyhow::bail!(
            "sending the corpus alone failed for {} messages",
            tally.errors.total()
        );
    }
    let alone =
        Arc::try_unwrap(alone).map_err(|_| anyhow::anyhow!("recording pass still running"))?;
    let recorded = alone.answers.into_recorded();
    let missing = recorded.iter().filter(|a| a.is_none()).count();
    if missing > 0 {
        // a message never answered alone could not be checked under load
        anyhow::bail!(
            "sending the corpus alone answered {} of {} messages within --duration",
            recorded.len() - missing,
            recorded.len()
        );
    }
    plan.answers = stats::AnswerCheck::Compare(recorded);
    Ok(plan)
}

/// Runs the plan over `corpus` on one thread (so the client leaves the other cores to the
/// milter) and returns the report. `pid` is the milter's process, for CPU and memory.
pub fn run(
    mut plan: Plan,
    corpus: Vec<CorpusMessage>,
    pid: Option<u32>,
    progress: bool,
) -> anyhow::Result<Report> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // --duration counts from here, not from before a --verify-answers recording pass
    plan.deadline = Instant::now() + plan.duration;
    let plan = Arc::new(plan);
    let corpus = Arc::new(corpus);
    let corpus_bytes: usize = corpus.iter().map(|m| m.bytes).sum();
    let corpus_len = corpus.len();
    let target_before = pid.map(process::Usage::of).transpose()?;
    let own_before = process::Usage::own()?;
    let started = Instant::now();
    let tally = rt.block_on(async {
        let mut slots = tokio::task::JoinSet::new();
        for _ in 0..plan.concurrency {
            slots.spawn(client::run_slot(plan.clone(), corpus.clone()));
        }
        let ticker = progress.then(|| tokio::spawn(report::progress(plan.clone(), started)));
        let mut total = Tally::default();
        while let Some(slot) = slots.join_next().await {
            if let Ok(t) = slot {
                total.merge(&t);
            }
        }
        if let Some(t) = ticker {
            t.abort();
            eprint!("\r\x1b[2K");
        }
        total
    });
    let elapsed = started.elapsed();
    let own = process::Usage::own()?.since(&own_before);
    let target = match (pid, target_before) {
        (Some(pid), Some(before)) => match process::Usage::of(pid) {
            Ok(after) => Some(after.since(&before)),
            Err(e) => {
                // a milter that crashed under load: the run's report matters most then
                eprintln!(
                    "authmilter: --pid {pid}: {e:#} (the process ended during the run?); its CPU time and memory are not reported"
                );
                None
            }
        },
        _ => None,
    };
    Ok(Report::new(
        &plan,
        &tally,
        elapsed,
        own,
        target,
        corpus_len,
        corpus_bytes,
    ))
}
