//! The bench report (text or JSON) and the progress line on a terminal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Plan;
use super::client::Target;
use super::process::Usage;
use super::stats::{Answers, ErrorKind, Tally};

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The target as given.
    pub target: String,
    /// Connections at once.
    pub concurrency: usize,
    /// Messages in the corpus, and their total size.
    pub corpus_messages: usize,
    /// Bytes in the corpus.
    pub corpus_bytes: usize,
    /// Messages answered (final reply received).
    pub messages: u64,
    /// Messages that failed (see `errors`).
    pub failed: u64,
    /// Milter connections negotiated.
    pub connections: u64,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// Answered messages per second.
    pub msgs_per_sec: f64,
    /// Latency percentiles of answered messages, MAIL to final reply, microseconds.
    pub latency_us: Latency,
    /// Errors by kind.
    pub errors: std::collections::BTreeMap<&'static str, u64>,
    /// The milter's answers.
    pub answers: Answers,
    /// This client's CPU time per answered message, microseconds.
    pub client_cpu_us_per_msg: f64,
    /// The milter's CPU time per answered message (with --pid), microseconds.
    pub milter_cpu_us_per_msg: Option<f64>,
    /// The milter's peak RSS (VmHWM, with --pid), KiB.
    pub milter_peak_rss_kib: Option<u64>,
}

/// Latency percentiles.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Report {
    /// Builds the report from the merged tally.
    pub fn new(
        plan: &Plan,
        tally: &Tally,
        elapsed: Duration,
        own: Usage,
        target: Option<Usage>,
        corpus_messages: usize,
        corpus_bytes: usize,
    ) -> Report {
        let messages = tally.latency.count();
        let seconds = elapsed.as_secs_f64();
        let per_msg = |cpu_us: u64| {
            if messages == 0 {
                0.0
            } else {
                cpu_us as f64 / messages as f64
            }
        };
        Report {
            target: match &plan.target {
                Target::Inet(a) => format!("inet:{a}"),
                Target::Unix(p) => format!("unix:{}", p.display()),
            },
            concurrency: plan.concurrency,
            corpus_messages,
            corpus_bytes,
            messages,
            failed: tally.errors.total(),
            connections: tally.connections,
            seconds,
            msgs_per_sec: if seconds > 0.0 {
                messages as f64 / seconds
            } else {
                0.0
            },
            latency_us: Latency {
                p50: tally.latency.quantile(0.50),
                p90: tally.latency.quantile(0.90),
                p99: tally.latency.quantile(0.99),
                max: tally.latency.max(),
            },
            errors: ErrorKind::ALL
                .iter()
                .map(|k| (k.name(), tally.errors.get(*k)))
                .collect(),
            answers: tally.answers.clone(),
            client_cpu_us_per_msg: per_msg(own.cpu_us),
            milter_cpu_us_per_msg: target.map(|t| per_msg(t.cpu_us)),
            milter_peak_rss_kib: target.map(|t| t.peak_rss_kib),
        }
    }

    /// The human-readable report.
    pub fn text(&self) -> String {
        let a = &self.answers;
        let l = &self.latency_us;
        let mut out = format!(
            "target {}  concurrency {}  corpus {} messages ({} bytes)\n\
             messages  {} answered, {} failed, {} connections, {:.2} s\n\
             rate      {:.1} msg/s\n\
             latency   p50 {}  p90 {}  p99 {}  max {}  (MAIL to final reply)\n",
            self.target,
            self.concurrency,
            self.corpus_messages,
            self.corpus_bytes,
            self.messages,
            self.failed,
            self.connections,
            self.seconds,
            self.msgs_per_sec,
            micros(l.p50),
            micros(l.p90),
            micros(l.p99),
            micros(l.max),
        );
        out.push_str(&format!(
            "answers   accept {}  reject {}  tempfail {}  discard {}  quarantine {}  decided early {}  mismatched {}\n\
             headers   added {} (DKIM-Signature {}, Authentication-Results {})  changed {}  deleted {}  other modifications {}\n",
            a.accept,
            a.reject,
            a.tempfail,
            a.discard,
            a.quarantine,
            a.decided_early,
            a.mismatched,
            a.headers_added,
            a.dkim_signatures_added,
            a.authentication_results_added,
            a.headers_changed,
            a.headers_deleted,
            a.other_modifications,
        ));
        let errors: Vec<String> = self
            .errors
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        out.push_str(&format!(
            "errors    {}\n",
            if errors.is_empty() {
                "none".to_string()
            } else {
                errors.join("  ")
            }
        ));
        out.push_str(&format!(
            "cpu       client {:.1} µs/msg",
            self.client_cpu_us_per_msg
        ));
        if let (Some(cpu), Some(rss)) = (self.milter_cpu_us_per_msg, self.milter_peak_rss_kib) {
            out.push_str(&format!(
                "  milter {cpu:.1} µs/msg  (milter peak RSS {:.1} MiB)",
                rss as f64 / 1024.0
            ));
        }
        out.push('\n');
        out
    }
}

fn micros(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

/// Prints a progress line to stderr once a second until aborted.
pub async fn progress(plan: Arc<Plan>, started: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let done = plan.finished();
        let secs = started.elapsed().as_secs_f64();
        eprint!(
            "\r\x1b[2K{done} messages, {:.0} msg/s, {:.0} s",
            done as f64 / secs.max(0.001),
            secs
        );
    }
}
