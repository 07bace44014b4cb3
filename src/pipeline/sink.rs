//! The results sink: every finished message is published here for consumers that outlive a
//! configuration reload (DMARC aggregate reports, metrics). It is owned outside `App` (which
//! SIGHUP replaces), bounded, and never blocks mail: when the queue is full the record is
//! dropped and counted, and the count is logged at most once a minute.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::decision::Decision;
use super::message::Direction;

/// One finished message as consumers see it.
#[derive(Debug, Clone)]
pub struct FinishedMessage {
    /// When it finished (Unix seconds).
    pub time: u64,
    /// The MTA's queue id.
    pub queue_id: Option<String>,
    /// Inbound, outbound or forward.
    pub direction: Direction,
    /// The SMTP client.
    pub client_ip: Option<IpAddr>,
    /// The HELO name.
    pub helo: Option<Vec<u8>>,
    /// MAIL FROM (empty for the null sender).
    pub mail_from: Vec<u8>,
    /// RCPT TO addresses.
    pub recipients: Vec<Vec<u8>>,
    /// The DMARC observations, one per evaluated author domain (empty without DMARC), built
    /// when the message finished, on its own thread, while its results are at hand.
    pub observations: Vec<reports::Observation>,
    /// The envelope as the reports crate has it, converted once when the observations were
    /// built (present whenever they were, i.e. the message had DMARC results), for the
    /// failure reports of the recorder.
    pub envelope: Option<reports::Envelope>,
    /// What was decided (results, policy applied, signatures), shared with the connection;
    /// only when the sink keeps decisions ([`ResultsSink::bounded`]): the reports sink of
    /// `serve` does not, so a queued record never holds a message's results.
    pub decision: Option<Arc<Decision>>,
    /// The header fields as received, only when a failure report may be due
    /// (`[reports.failure] enabled` and a DMARC record with `ruf=`).
    pub headers: Option<Arc<Vec<message::HeaderField>>>,
    /// The body as received, with the headers, when `[reports.failure] original = "full"`
    /// and the whole message is within `reports::failure::MAX_ORIGINAL_BYTES`.
    pub body: Option<Arc<Vec<u8>>>,
    /// The SPF record DMARC's SPF result came from, `(domain, record)`, with the headers
    /// (the `SPF-DNS` field of a failure report, RFC 6591 §3.2.6).
    pub spf_records: Vec<(String, String)>,
}

/// The receiving end of the sink, for the one consumer task.
pub type SinkReceiver = mpsc::Receiver<Arc<FinishedMessage>>;

/// Where finished messages are published (see the module docs).
#[derive(Debug)]
pub struct ResultsSink {
    tx: Option<mpsc::Sender<Arc<FinishedMessage>>>,
    keeps_decisions: bool,
    published: AtomicU64,
    dropped: AtomicU64,
    reported_dropped: AtomicU64,
}

impl ResultsSink {
    /// A sink that publishes nowhere (no consumer configured).
    pub fn disabled() -> Arc<ResultsSink> {
        Arc::new(ResultsSink {
            tx: None,
            keeps_decisions: false,
            published: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            reported_dropped: AtomicU64::new(0),
        })
    }

    /// A sink holding at most `capacity` unconsumed records with their decisions, and its
    /// receiving end (for consumers that inspect what the pipeline decided).
    pub fn bounded(capacity: usize) -> (Arc<ResultsSink>, SinkReceiver) {
        Self::with_capacity(capacity, true)
    }

    /// A sink for the reports recorder: at most `capacity` records, each with the message's
    /// observations and envelope but not its decision.
    pub fn for_reports(capacity: usize) -> (Arc<ResultsSink>, SinkReceiver) {
        Self::with_capacity(capacity, false)
    }

    fn with_capacity(capacity: usize, keeps_decisions: bool) -> (Arc<ResultsSink>, SinkReceiver) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Arc::new(ResultsSink {
                tx: Some(tx),
                keeps_decisions,
                published: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                reported_dropped: AtomicU64::new(0),
            }),
            rx,
        )
    }

    /// True when the records carry the pipeline's decision.
    pub fn keeps_decisions(&self) -> bool {
        self.keeps_decisions
    }

    /// True when someone consumes the records.
    pub fn is_enabled(&self) -> bool {
        self.tx.as_ref().is_some_and(|t| !t.is_closed())
    }

    /// Publishes one record without waiting; a full queue drops it and counts the drop.
    pub fn publish(&self, record: FinishedMessage) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(Arc::new(record)) {
            Ok(()) => {
                self.published.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records published so far.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Records dropped because the queue was full (or its consumer gone).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Logs new drops, at most once per `every`, until `stop` fires (run as a task).
    pub async fn report_overflow(
        self: Arc<Self>,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            let stopping = tokio::select! {
                _ = stop.changed() => true,
                _ = tokio::time::sleep(every) => false,
            };
            let now = self.dropped();
            let before = self.reported_dropped.swap(now, Ordering::Relaxed);
            if now > before {
                tracing::warn!(
                    dropped = now - before,
                    total_dropped = now,
                    "results sink full: records for reports were dropped (the consumer is too slow)"
                );
            }
            if stopping {
                // the drops since the last report are logged before the process ends
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> FinishedMessage {
        FinishedMessage {
            time: 0,
            queue_id: None,
            direction: Direction::Inbound,
            client_ip: None,
            helo: None,
            mail_from: Vec::new(),
            recipients: Vec::new(),
            observations: Vec::new(),
            envelope: None,
            decision: Some(Arc::new(Decision::accept())),
            headers: None,
            body: None,
            spf_records: Vec::new(),
        }
    }

    #[test]
    fn a_full_sink_drops_and_counts_without_blocking() {
        let (sink, mut rx) = ResultsSink::bounded(2);
        for _ in 0..5 {
            sink.publish(record());
        }
        assert_eq!((sink.published(), sink.dropped()), (2, 3));
        assert!(rx.try_recv().is_ok());
        sink.publish(record());
        assert_eq!(sink.published(), 3);
        let off = ResultsSink::disabled();
        off.publish(record());
        assert_eq!((off.published(), off.dropped()), (0, 0));
        assert!(!off.is_enabled());
    }
}
