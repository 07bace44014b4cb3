//! What a bench run counts: latencies (a fixed-size log-linear histogram, so a run of any
//! length uses the same memory), the milter's answers, and errors by kind.

use milter_proto::client::EomOutcome;
use milter_proto::{CommandCode, Response};
use serde::Serialize;

/// Sub-buckets per power of two: latency percentiles are exact to about 3%.
const SUB: usize = 32;
/// Powers of two covered, in microseconds (2^40 µs is 12 days).
const OCTAVES: usize = 40;

/// Latency histogram in microseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_us: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; SUB * (OCTAVES + 1)],
            total: 0,
            max_us: 0,
        }
    }
}

impl Histogram {
    /// Records one latency.
    pub fn record(&mut self, us: u64) {
        if let Some(c) = self.counts.get_mut(bucket(us)) {
            *c += 1;
        }
        self.total += 1;
        self.max_us = self.max_us.max(us);
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max_us = self.max_us.max(other.max_us);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest value recorded.
    pub fn max(&self) -> u64 {
        self.max_us
    }

    /// The value at quantile `q` (0..=1): the upper bound of its bucket, at most the max.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper_bound(i).min(self.max_us);
            }
        }
        self.max_us
    }
}

fn bucket(us: u64) -> usize {
    if us < SUB as u64 {
        return us as usize;
    }
    // us in [2^k, 2^(k+1)), k >= 5: 32 sub-buckets of width 2^(k-5).
    let octave = (63 - us.leading_zeros() as usize).saturating_sub(5);
    let sub = ((us >> octave) as usize).saturating_sub(SUB);
    (SUB * (octave + 1) + sub).min(SUB * (OCTAVES + 1) - 1)
}

fn upper_bound(index: usize) -> u64 {
    if index < SUB {
        return index as u64;
    }
    let octave = index / SUB - 1;
    let sub = (index % SUB + SUB) as u64;
    ((sub + 1) << octave).saturating_sub(1)
}

/// The milter's answers, counted per message (a run proves what the milter did).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Answers {
    /// Final CONTINUE or ACCEPT.
    pub accept: u64,
    /// Final REJECT or a 5xx reply.
    pub reject: u64,
    /// Final TEMPFAIL or a 4xx reply.
    pub tempfail: u64,
    /// Final DISCARD.
    pub discard: u64,
    /// Messages quarantined (SMFIR_QUARANTINE).
    pub quarantine: u64,
    /// Messages decided before end of message (at MAIL, RCPT, DATA, a header or the body).
    pub decided_early: u64,
    /// Headers added or inserted, all messages together.
    pub headers_added: u64,
    /// Headers changed, all messages together.
    pub headers_changed: u64,
    /// Headers deleted (CHGHEADER with an empty value), all messages together.
    pub headers_deleted: u64,
    /// DKIM-Signature headers added (RFC 6376 §3.5), all messages together.
    pub dkim_signatures_added: u64,
    /// Authentication-Results headers added (RFC 8601), all messages together.
    pub authentication_results_added: u64,
    /// Other modifications (envelope, recipients, body).
    pub other_modifications: u64,
    /// With --verify-answers: messages answered differently than when sent alone.
    pub mismatched: u64,
}

impl Answers {
    /// Counts one message's outcome.
    pub fn record(&mut self, outcome: &EomOutcome) {
        match &outcome.final_response {
            Response::Continue | Response::Accept => self.accept += 1,
            Response::Reject => self.reject += 1,
            Response::Tempfail => self.tempfail += 1,
            Response::Discard => self.discard += 1,
            Response::ReplyCode(r) if r.code() >= 500 => self.reject += 1,
            Response::ReplyCode(_) => self.tempfail += 1,
            _ => {}
        }
        if outcome.decided_at != CommandCode::BodyEob {
            self.decided_early += 1;
        }
        for m in &outcome.modifications {
            match m {
                Response::AddHeader { name, .. } | Response::InsHeader { name, .. } => {
                    self.headers_added += 1;
                    if name.eq_ignore_ascii_case(b"DKIM-Signature") {
                        self.dkim_signatures_added += 1;
                    }
                    if name.eq_ignore_ascii_case(b"Authentication-Results") {
                        self.authentication_results_added += 1;
                    }
                }
                Response::ChgHeader { value, .. } if value.is_empty() => self.headers_deleted += 1,
                Response::ChgHeader { .. } => self.headers_changed += 1,
                Response::Quarantine(_) => self.quarantine += 1,
                _ => self.other_modifications += 1,
            }
        }
    }

    /// Adds another tally.
    pub fn merge(&mut self, o: &Answers) {
        self.accept += o.accept;
        self.reject += o.reject;
        self.tempfail += o.tempfail;
        self.discard += o.discard;
        self.quarantine += o.quarantine;
        self.decided_early += o.decided_early;
        self.headers_added += o.headers_added;
        self.headers_changed += o.headers_changed;
        self.headers_deleted += o.headers_deleted;
        self.dkim_signatures_added += o.dkim_signatures_added;
        self.authentication_results_added += o.authentication_results_added;
        self.other_modifications += o.other_modifications;
        self.mismatched += o.mismatched;
    }
}

/// `--verify-answers`: the answer each corpus message got when sent alone, and the check of
/// every later answer against it (issue: answers must not change under load).
#[derive(Debug, Default)]
pub enum AnswerCheck {
    /// No check.
    #[default]
    Off,
    /// First pass: record each message's answer.
    Record(std::sync::Mutex<Vec<Option<String>>>),
    /// Load pass: compare with the recorded answers.
    Compare(Vec<Option<String>>),
}

impl AnswerCheck {
    /// Records or compares the outcome of corpus message `index`; false on a mismatch.
    pub fn check(&self, index: usize, outcome: &EomOutcome) -> bool {
        match self {
            AnswerCheck::Off => true,
            AnswerCheck::Record(m) => {
                if let Ok(mut v) = m.lock()
                    && let Some(slot) = v.get_mut(index)
                {
                    *slot = Some(fingerprint(outcome));
                }
                true
            }
            AnswerCheck::Compare(v) => match v.get(index) {
                Some(Some(expected)) => *expected == fingerprint(outcome),
                _ => true,
            },
        }
    }

    /// The recorded answers, for the compare pass.
    pub fn into_recorded(self) -> Vec<Option<String>> {
        match self {
            AnswerCheck::Record(m) => m.into_inner().unwrap_or_default(),
            AnswerCheck::Compare(v) => v,
            AnswerCheck::Off => Vec::new(),
        }
    }
}

/// Fields whose value changes from one sending to the next: they carry a `t=` timestamp and a
/// signature over it (RFC 6376 §3.5, RFC 8617 §4.1.2 and §4.1.3).
const TIMESTAMPED_FIELDS: &[&str] = &["DKIM-Signature", "ARC-Seal", "ARC-Message-Signature"];

/// The answer without what legitimately differs between two sendings: the values of
/// [`TIMESTAMPED_FIELDS`].
fn fingerprint(outcome: &EomOutcome) -> String {
    let mut out = format!("{:?}@{:?}", outcome.final_response, outcome.decided_at);
    for m in &outcome.modifications {
        match m {
            Response::AddHeader { name, .. } | Response::InsHeader { name, .. }
                if TIMESTAMPED_FIELDS
                    .iter()
                    .any(|f| name.eq_ignore_ascii_case(f.as_bytes())) =>
            {
                out.push('|');
                out.push_str(&String::from_utf8_lossy(name));
            }
            other => out.push_str(&format!("|{other:?}")),
        }
    }
    out
}

/// Why a message or connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Nothing listens at the target.
    ConnectRefused,
    /// Connecting failed otherwise (timeout, no such socket file, ...).
    ConnectFailed,
    /// The milter closed the connection while a reply was due.
    ClosedEarly,
    /// Bytes that are not a valid milter reply, or a reply no MTA would accept here.
    GarbageReply,
    /// The OPTNEG reply would be refused by the MTA.
    NegotiationRefused,
    /// No reply within --timeout.
    Timeout,
    /// Another socket error (reset, broken pipe).
    Io,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectFailed,
        ErrorKind::ClosedEarly,
        ErrorKind::GarbageReply,
        ErrorKind::NegotiationRefused,
        ErrorKind::Timeout,
        ErrorKind::Io,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectFailed => "connect_failed",
            ErrorKind::ClosedEarly => "closed_early",
            ErrorKind::GarbageReply => "garbage_reply",
            ErrorKind::NegotiationRefused => "negotiation_refused",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Io => "io",
        }
    }
}

/// Error counts by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Errors {
    counts: [u64; 7],
}

impl Errors {
    /// Counts one error.
    pub fn record(&mut self, kind: ErrorKind) {
        if let Some(c) = self.counts.get_mut(kind as usize) {
            *c += 1;
        }
    }

    /// Adds another tally.
    pub fn merge(&mut self, o: &Errors) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
    }

    /// Errors of `kind`.
    pub fn get(&self, kind: ErrorKind) -> u64 {
        self.counts.get(kind as usize).copied().unwrap_or(0)
    }

    /// All errors.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// What one connection slot measured.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Latency of each completed message, MAIL to final reply.
    pub latency: Histogram,
    /// The answers.
    pub answers: Answers,
    /// Errors by kind.
    pub errors: Errors,
    /// Milter connections opened (negotiated).
    pub connections: u64,
}

impl Tally {
    /// Adds another slot's tally.
    pub fn merge(&mut self, o: &Tally) {
        self.latency.merge(&o.latency);
        self.answers.merge(&o.answers);
        self.errors.merge(&o.errors);
        self.connections += o.connections;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_within_bucket_precision() {
        let mut h = Histogram::default();
        for us in 1..=10_000u64 {
            h.record(us);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.max(), 10_000);
        for (q, expect) in [(0.5, 5_000f64), (0.9, 9_000.0), (0.99, 9_900.0)] {
            let got = h.quantile(q) as f64;
            assert!((got - expect).abs() / expect < 0.04, "q{q}: {got}");
        }
        assert_eq!(h.quantile(1.0), 10_000);
        let mut small = Histogram::default();
        small.record(7);
        assert_eq!(small.quantile(0.5), 7);
        assert_eq!(Histogram::default().quantile(0.99), 0);
    }

    #[test]
    fn buckets_are_monotonic() {
        let mut last = 0;
        for us in (0..5_000_000u64).step_by(997) {
            let b = bucket(us);
            assert!(b >= last);
            assert!(upper_bound(b) >= us, "{us} -> {b} -> {}", upper_bound(b));
            last = b;
        }
    }
}
