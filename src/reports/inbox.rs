//! The report inbox (`[reports.inbox]`, docs/reports.md "Reports in"): mail to our report
//! addresses is captured while it streams through the milter, read as aggregate reports
//! (RFC 9990 §3.5.2) and stored; everything else is never buffered.
//!
//! - At RCPT a transaction to a report address gets a [`Capture`]: header fields and body
//!   chunks are copied into it as they arrive, within `max_size` and the shared `max_memory`
//!   budget (a semaphore of KiB held by captures in progress and waiting to be read). Past
//!   either the copy is dropped and the message is delivered untouched, unread, logged.
//! - At end of message ([`finish`]) the copy goes to one background worker through a
//!   bounded queue. With `action = "deliver"` the milter answers at once. With `discard` it
//!   waits, at most `discard_timeout` (less than the end-of-message budget), for the worker
//!   to report that every report in the message was stored, and only then discards; a part
//!   that cannot be read, a limit, a full queue, a store error or a slow worker means the
//!   message is delivered; so is one that is more than reports (a failure report, an
//!   attachment that is no report, an attached message: `Outcome::other_part`). Why not keep the raw message and discard at once: a report mail
//!   is a few KB and read in milliseconds, so waiting costs little, and a discarded message
//!   is then always one whose reports are in the store, with no second spool to watch.
//!   Discard also needs every recipient to be a report address (the others must get it),
//!   and the message to pass DMARC for its From domain: a forged report is delivered, so
//!   that the postmaster keeps its evidence (RFC 9990 §8.2).
//! - Each report is stored with who sent it (its message's From domain and DMARC result,
//!   RFC 9990 §3.5.2), which the dashboard and `report show` print beside its `org_name`;
//!   with `authenticated_only` a message that did not pass DMARC is not read at all.
//! - The worker ([`run`]) parses on a blocking thread (bounded by the reports crate's
//!   limits), stores, logs each unreadable part with its reason, then hands the new sources
//!   to a second task that looks up their reverse DNS names: a report whose sources' PTR
//!   lookups all time out (anyone can mail one) holds only that task, never the storing of
//!   the next message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use report_store::{CarrierDmarc, Provenance, Store};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

use super::ingest::{self, Outcome};
use crate::app::App;
use crate::config::{InboxAction, InboxConfig};
use crate::logging::Escaped;
use crate::pipeline::{Decision, MessageState, Verdict};

/// Messages waiting for the worker at most (the memory budget usually binds first).
const QUEUE: usize = 256;
/// How long the worker goes on with what is queued after shutdown begins.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// Stored reports whose sources wait for their name lookups at most; past it a report's
/// sources are not looked up now (they are with the next report that names them).
const NAME_QUEUE: usize = 16;

/// The long-lived half of the inbox, shared by every connection (in `Services`).
#[derive(Debug)]
pub struct Inbox {
    tx: mpsc::Sender<Job>,
    /// KiB of captured messages held at once.
    memory: Arc<Semaphore>,
    /// Messages delivered unread because of a limit or a full queue.
    unread: AtomicU64,
}

/// The receiving end, for [`run`].
pub type InboxReceiver = mpsc::Receiver<Job>;

/// One captured message on its way to the worker.
#[derive(Debug)]
pub struct Job {
    raw: Vec<u8>,
    input: String,
    /// Who sent it: its From domain and DMARC result (RFC 9990 §3.5.2).
    sent: Provenance,
    /// Released when the worker is done with the message.
    _memory: OwnedSemaphorePermit,
    reply: Option<oneshot::Sender<Result<Outcome, String>>>,
}

impl Inbox {
    /// An inbox holding at most `max_memory` bytes of captured messages, and its queue's
    /// receiving end.
    pub fn new(max_memory: usize) -> (Arc<Inbox>, InboxReceiver) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let kib = (max_memory / 1024).clamp(1, Semaphore::MAX_PERMITS);
        (
            Arc::new(Inbox {
                tx,
                memory: Arc::new(Semaphore::new(kib)),
                unread: AtomicU64::new(0),
            }),
            rx,
        )
    }

    /// Messages to a report address that were delivered unread (a limit, a full queue).
    pub fn unread(&self) -> u64 {
        self.unread.load(Ordering::Relaxed)
    }
}

/// Why a capture was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abandoned {
    TooLarge(usize),
    NoMemory(usize),
}

impl std::fmt::Display for Abandoned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Abandoned::TooLarge(n) => write!(f, "larger than reports.inbox.max_size ({n} bytes)"),
            Abandoned::NoMemory(n) => write!(
                f,
                "reports.inbox.max_memory ({n} bytes) is taken by other report messages"
            ),
        }
    }
}

/// The copy of one message to a report address, made while it streams through.
#[derive(Debug)]
pub struct Capture {
    inbox: Arc<Inbox>,
    buf: Vec<u8>,
    /// KiB of the budget this copy holds.
    held: Option<OwnedSemaphorePermit>,
    max_size: usize,
    max_memory: usize,
    abandoned: Option<Abandoned>,
}

impl Capture {
    /// Starts copying a message (at RCPT to a report address).
    pub fn start(inbox: &Arc<Inbox>, cfg: &InboxConfig) -> Capture {
        Capture {
            inbox: Arc::clone(inbox),
            buf: Vec::new(),
            held: None,
            max_size: cfg.max_size,
            max_memory: cfg.max_memory,
            abandoned: None,
        }
    }

    /// One header field as the MTA passed it (what follows the colon, folds included).
    pub fn header(&mut self, name: &[u8], value: &[u8]) {
        self.append(&[name, b":", value, b"\r\n"]);
    }

    /// The empty line between header and body.
    pub fn end_of_headers(&mut self) {
        self.append(&[b"\r\n"]);
    }

    /// One body chunk.
    pub fn body(&mut self, chunk: &[u8]) {
        self.append(&[chunk]);
    }

    fn append(&mut self, pieces: &[&[u8]]) {
        if self.abandoned.is_some() {
            return;
        }
        let add: usize = pieces.iter().map(|p| p.len()).sum();
        let len = self.buf.len().saturating_add(add);
        if len > self.max_size {
            return self.abandon(Abandoned::TooLarge(self.max_size));
        }
        let need = len.div_ceil(1024);
        let held = self
            .held
            .as_ref()
            .map_or(0, OwnedSemaphorePermit::num_permits);
        if need > held {
            let more = u32::try_from(need - held).unwrap_or(u32::MAX);
            match Arc::clone(&self.inbox.memory).try_acquire_many_owned(more) {
                Ok(p) => match &mut self.held {
                    Some(h) => h.merge(p),
                    None => self.held = Some(p),
                },
                Err(_) => return self.abandon(Abandoned::NoMemory(self.max_memory)),
            }
        }
        for p in pieces {
            self.buf.extend_from_slice(p);
        }
    }

    fn abandon(&mut self, why: Abandoned) {
        self.abandoned = Some(why);
        self.buf = Vec::new();
        self.held = None;
    }
}

/// End of message: hands the captured copy to the worker and, with `action = "discard"`,
/// turns an accepted message into a discarded one once its reports are stored (module docs).
pub async fn finish(capture: Capture, app: &App, state: &MessageState, d: &mut Decision) {
    let cfg = &app.config.reports.inbox;
    let queue_id = state.queue_id.clone().unwrap_or_else(|| "-".into());
    let qid = Escaped::str(&queue_id);
    if let Some(why) = capture.abandoned {
        capture.inbox.unread.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            queue_id = %crate::logging::Field(qid),
            "reports inbox: message not read ({why}); delivered untouched"
        );
        d.summary.push_str(" reports=unread");
        return;
    }
    if d.verdict != Verdict::Accept {
        tracing::info!(
            queue_id = %crate::logging::Field(qid),
            action = d.action(),
            "reports inbox: message not accepted, not read"
        );
        return;
    }
    let Some(memory) = capture.held else {
        tracing::info!(
            queue_id = %crate::logging::Field(qid),
            "reports inbox: empty message, not read"
        );
        return;
    };
    let sent = sender(d);
    let authenticated = sent.verified_domain().is_some();
    if cfg.authenticated_only && !authenticated {
        tracing::info!(
            queue_id = %crate::logging::Field(qid),
            sent = %crate::logging::Field(Escaped::str(&sent.describe())),
            "reports inbox: the message did not pass DMARC for its From domain; not read (reports.inbox.authenticated_only), delivered"
        );
        d.summary.push_str(" reports=unauthenticated");
        return;
    }
    let all_reports = !state.envelope.recipients.is_empty()
        && state
            .envelope
            .recipients
            .iter()
            .all(|(r, _)| cfg.matches(r));
    // an unauthenticated message is never discarded: if it is forged, the postmaster keeps
    // the evidence (its envelope, its Authentication-Results)
    let discard = cfg.action == InboxAction::Discard
        && d.quarantine.is_none()
        && all_reports
        && authenticated;
    let (reply, answer) = if discard {
        let (tx, rx) = oneshot::channel();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let job = Job {
        raw: capture.buf,
        input: format!(
            "message {queue_id} from <{}>",
            String::from_utf8_lossy(&state.envelope.mail_from)
        ),
        sent,
        _memory: memory,
        reply,
    };
    if capture.inbox.tx.try_send(job).is_err() {
        capture.inbox.unread.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            queue_id = %crate::logging::Field(qid),
            "reports inbox: the queue is full; message delivered unread"
        );
        d.summary.push_str(" reports=unread");
        return;
    }
    let Some(answer) = answer else {
        d.summary.push_str(" reports=queued");
        if cfg.action == InboxAction::Discard && !authenticated {
            tracing::info!(
                queue_id = %crate::logging::Field(qid),
                "reports inbox: the message did not pass DMARC for its From domain; delivered, not discarded, so that the evidence of a forged report is kept"
            );
        } else if cfg.action == InboxAction::Discard {
            tracing::info!(
                queue_id = %crate::logging::Field(qid),
                "reports inbox: not every recipient is a report address (or the message is quarantined); delivered"
            );
        }
        return;
    };
    let why_delivered = match tokio::time::timeout(cfg.discard_timeout.get(), answer).await {
        Ok(Ok(Ok(outcome))) if outcome.complete() => {
            d.verdict = Verdict::Discard;
            d.summary.push_str(" reports=stored");
            tracing::info!(queue_id = %crate::logging::Field(qid), reports = %outcome.summary(), "reports inbox: reports stored; message discarded");
            return;
        }
        Ok(Ok(Ok(outcome))) if outcome.other_part.is_some() => format!(
            "the message is more than reports ({}; {})",
            outcome.other_part.as_deref().unwrap_or_default(),
            outcome.summary()
        ),
        Ok(Ok(Ok(outcome))) if !outcome.not_ours.is_empty() => format!(
            "a report is about a domain reports.inbox.domains does not list ({})",
            outcome.summary()
        ),
        Ok(Ok(Ok(outcome))) if unvouched(&outcome).is_some() => format!(
            "a report is not vouched for by its sender ({}; {}); kept as evidence",
            unvouched(&outcome).unwrap_or_default(),
            outcome.summary()
        ),
        Ok(Ok(Ok(outcome))) if outcome.stored.is_empty() && outcome.duplicates.is_empty() => {
            "no report could be read".to_string()
        }
        Ok(Ok(Ok(outcome))) => format!("a part could not be read ({})", outcome.summary()),
        Ok(Ok(Err(e))) => format!("the store failed: {e}"),
        Ok(Err(_)) => "the worker stopped".to_string(),
        Err(_) => format!(
            "not stored within reports.inbox.discard_timeout ({})",
            cfg.discard_timeout
        ),
    };
    d.summary.push_str(" reports=delivered");
    tracing::warn!(
        queue_id = %crate::logging::Field(qid),
        "reports inbox: message delivered, not discarded: {}",
        Escaped::str(&why_delivered)
    );
}

/// Who sent the message, as its DMARC result says (RFC 9990 §3.5.2: report mail conforms
/// to DMARC, "resulting in an aligned 'pass'"): its From domain (the first, when there are
/// several: the result is then the strictest of theirs) and the result.
fn sender(d: &Decision) -> Provenance {
    let Some(outcome) = d.results.as_ref().and_then(|r| r.dmarc.as_ref()) else {
        return Provenance::Mail {
            from_domain: None,
            dmarc: CarrierDmarc::Unchecked,
        };
    };
    let dmarc = match outcome.result {
        dmarc::DmarcResult::Pass => CarrierDmarc::Pass,
        dmarc::DmarcResult::Fail => CarrierDmarc::Fail,
        dmarc::DmarcResult::None => CarrierDmarc::None,
        dmarc::DmarcResult::TempError => CarrierDmarc::TempError,
        dmarc::DmarcResult::PermError => CarrierDmarc::PermError,
    };
    Provenance::Mail {
        from_domain: outcome.evaluations.first().map(|e| e.author_domain.clone()),
        dmarc,
    }
}

/// The worker: waits for the store, then reads and stores each queued message in turn until
/// `stop` fires (and what is queued then, for at most `DRAIN_LIMIT`).
pub async fn run(
    mut rx: InboxReceiver,
    mut store: watch::Receiver<Option<Store>>,
    shared: Arc<ArcSwap<App>>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(store) = super::opened(&mut store, &mut stop).await else {
        return;
    };
    let (names, names_rx) = mpsc::channel(NAME_QUEUE);
    let lookups = tokio::spawn(look_up_names(
        names_rx,
        store.clone(),
        Arc::clone(&shared),
        stop.clone(),
    ));
    loop {
        let job = tokio::select! {
            j = rx.recv() => j,
            _ = stop.changed() => break,
        };
        let Some(job) = job else {
            lookups.abort();
            return;
        };
        handle(&store, &shared.load_full(), job, &names).await;
    }
    // shutdown: what is queued was delivered or waits for an answer; read it while we may
    let drain = async {
        while let Ok(job) = rx.try_recv() {
            handle(&store, &shared.load_full(), job, &names).await;
        }
    };
    if tokio::time::timeout(DRAIN_LIMIT, drain).await.is_err() {
        tracing::warn!(
            "reports inbox: stopped with report messages still queued (they were delivered)"
        );
    }
}

/// The name task: looks up the reverse DNS names of each stored report's new sources in
/// turn (each batch bounded by `ingest`'s limits) until `stop` fires.
async fn look_up_names(
    mut rx: mpsc::Receiver<(Vec<std::net::IpAddr>, u64)>,
    store: Store,
    shared: Arc<ArcSwap<App>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let batch = tokio::select! {
            b = rx.recv() => b,
            _ = stop.changed() => return,
        };
        let Some((sources, now)) = batch else { return };
        let app = shared.load_full();
        tokio::select! {
            () = ingest::resolve_names(&store, &*app.resolver, &sources, now) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn handle(
    store: &Store,
    app: &App,
    job: Job,
    names: &mpsc::Sender<(Vec<std::net::IpAddr>, u64)>,
) {
    let cfg = &app.config.reports.inbox;
    let limits = cfg.read_limits();
    let Job {
        raw,
        input,
        sent,
        reply,
        ..
    } = job;
    let (found, reading) = ingest::extract_in_background(raw, limits);
    let now = super::unix_now();
    let wanted = |domain: &str| cfg.wants_domain(domain);
    let mut result = ingest::store_found(store, &input, &sent, found, &wanted, now).await;
    match reading.await {
        Ok(other) => {
            if let Ok((outcome, _)) = &mut result {
                outcome.other_part = other.map(|o| o.to_string());
            }
        }
        Err(e) => {
            tracing::error!(
                input = %crate::logging::Field(Escaped::str(&input)),
                "reports inbox: reading failed: {e}"
            );
            if let Some(r) = reply {
                let _ = r.send(Err("reading the message failed".into()));
            }
            return;
        }
    }
    let sources = match &result {
        Ok((outcome, sources)) => {
            log_outcome(outcome);
            sources.clone()
        }
        Err(e) => {
            tracing::error!(
                input = %crate::logging::Field(Escaped::str(&input)),
                "reports inbox: cannot store: {e}"
            );
            Vec::new()
        }
    };
    if let Some(r) = reply {
        let _ = r.send(result.map(|(o, _)| o).map_err(|e| e.to_string()));
    }
    if cfg.resolve_names && !sources.is_empty() && names.try_send((sources, now)).is_err() {
        tracing::debug!(
            "reports inbox: name lookups busy; this report's sources wait for the next"
        );
    }
}

/// Who sent the first report of `o` whose sender does not vouch for it (a DMARC pass for
/// another domain than the reporter's, RFC 9990 §8.2), as people read it.
fn unvouched(o: &Outcome) -> Option<String> {
    o.stored
        .iter()
        .chain(&o.duplicates)
        .find(|s| !s.sent.counted())
        .map(|s| s.sent.describe())
}

fn log_outcome(o: &Outcome) {
    let input = Escaped::str(&o.input);
    for s in o.stored.iter().chain(&o.duplicates) {
        tracing::info!(
            input = %crate::logging::Field(input),
            sent = %crate::logging::Field(Escaped::str(&s.sent.describe())),
            part = %crate::logging::Field(Escaped::str(&s.part)),
            org_name = %crate::logging::Field(Escaped::str(&s.org_name)),
            report_id = %crate::logging::Field(Escaped::str(&s.report_id)),
            policy_domain = %crate::logging::Field(Escaped::str(&s.policy_domain)),
            records = s.records,
            messages = s.messages,
            new = o.stored.contains(s),
            "reports inbox: report"
        );
        if s.id_reused {
            tracing::warn!(
                input = %crate::logging::Field(input),
                org_name = %crate::logging::Field(Escaped::str(&s.org_name)),
                report_id = %crate::logging::Field(Escaped::str(&s.report_id)),
                "reports inbox: a report with this Report-ID but other contents was stored before; both are kept (one of them may be forged)"
            );
        }
    }
    for s in &o.not_ours {
        tracing::info!(
            input = %crate::logging::Field(input),
            part = %crate::logging::Field(Escaped::str(&s.part)),
            org_name = %crate::logging::Field(Escaped::str(&s.org_name)),
            report_id = %crate::logging::Field(Escaped::str(&s.report_id)),
            policy_domain = %crate::logging::Field(Escaped::str(&s.policy_domain)),
            "reports inbox: report about a domain reports.inbox.domains does not list; not stored"
        );
    }
    for u in &o.unreadable {
        tracing::warn!(
            input = %crate::logging::Field(input),
            part = %crate::logging::Field(Escaped::str(&u.part)),
            "reports inbox: cannot read a report: {:?}",
            Escaped::str(&u.error)
        );
    }
}
