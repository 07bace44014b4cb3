//! DMARC reports in the running milter (docs/reports.md): the recorder (results sink →
//! store), the failure report producer, and the schedule that sends aggregate and failure
//! reports and purges old data. All of it lives outside `App`, so a SIGHUP reload neither
//! stops it nor loses records; each pass reads the current configuration and signing keys.

pub mod clock;
pub mod destinations;
pub mod failure;
pub mod inbox;
pub mod ingest;
pub mod observe;
pub mod period;
pub mod recorder;
pub mod schedule;
pub mod sender;
pub mod smtp;
pub mod submission;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use report_store::Store;
use tokio::sync::{Notify, mpsc, watch};

use crate::app::App;
use crate::config::{ReportFormatSetting, ReportsConfig};
use crate::pipeline::SinkReceiver;

/// This process's name in claims: `<node>/<pid>` (a restarted process is another holder, so
/// it waits for the claims of the dead one to expire).
pub fn holder(cfg: &ReportsConfig) -> String {
    format!("{}/{}", node_name(cfg), std::process::id())
}

/// The node name: configured, or the host name.
pub fn node_name(cfg: &ReportsConfig) -> String {
    if cfg.node.trim().is_empty() {
        crate::app::host_name()
    } else {
        cfg.node.trim().to_string()
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    dkim::unix_now()
}

/// Who we are in reports (RFC 9990 §3.1.1.3).
pub fn reporter_info(app: &App) -> reports::ReporterInfo {
    let cfg = &app.config.reports;
    let (email, _, submitter) = cfg.identity();
    reports::ReporterInfo {
        org_name: if cfg.org_name.trim().is_empty() {
            app.authserv_id.clone()
        } else {
            cfg.org_name.trim().to_string()
        },
        email,
        extra_contact_info: Some(cfg.extra_contact_info.trim().to_string())
            .filter(|s| !s.is_empty()),
        submitter,
        generator: Some(format!("authmilter {}", env!("CARGO_PKG_VERSION"))),
        include_envelope_to: cfg.include_envelope_to,
    }
}

/// How report mails are written.
pub fn mail_options(cfg: &ReportsConfig) -> reports::MailOptions {
    let (_, from, submitter) = cfg.identity();
    let mut o = reports::MailOptions::new(submitter, from);
    o.format = match cfg.format {
        ReportFormatSetting::Rfc9990 => reports::ReportFormat::Rfc9990,
        ReportFormatSetting::Rfc7489 => reports::ReportFormat::Rfc7489,
    };
    o
}

/// The relay, from the configuration.
pub fn relay(cfg: &ReportsConfig) -> smtp::Relay {
    smtp::Relay {
        target: cfg.relay.clone(),
        helo: cfg.helo_name().unwrap_or_else(crate::app::host_name),
        timeout: cfg.smtp_timeout.get(),
    }
}

/// The keys that sign report mail from `domain` so that it passes DMARC (RFC 9990 §3.5.2,
/// RFC 9991 §5.1): those for the domain itself (the signing table decides, as for our users'
/// mail), else those of its closest parent domain in the same organization, whose signature
/// is aligned under relaxed alignment (`adkim=r`, the default; RFC 9989 §4.4.1), e.g. a key
/// of `example.com` for reports from `dmarc@reports.example.com`.
pub fn report_signing_keys<'a>(app: &'a App, domain: &str) -> Vec<&'a crate::signing::LoadedKey> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let own = app.signing.for_domain(&domain);
    if !own.is_empty() {
        return own;
    }
    let org = dmarc::psl_organizational_domain(&domain);
    let mut name = domain.as_str();
    while let Some((_, parent)) = name.split_once('.') {
        if parent.len() < org.len() {
            break;
        }
        let keys: Vec<_> = app
            .signing
            .for_domain(parent)
            .into_iter()
            .filter(|k| k.domain == parent)
            .collect();
        if !keys.is_empty() {
            return keys;
        }
        name = parent;
    }
    Vec::new()
}

/// The warning for reports that would go out unsigned: no key signs for the `from` domain of
/// reports (nor for a parent in its organization), so they fail DMARC wherever it is checked
/// (RFC 9990 §3.5.2 asks for an aligned pass). `None` when reports are off or signed.
pub fn unsigned_reports_warning(app: &App) -> Option<String> {
    let cfg = &app.config.reports;
    if !cfg.enabled || cfg.email.trim().is_empty() {
        return None;
    }
    let (_, from, _) = cfg.identity();
    let domain = from.rsplit_once('@').map_or("", |(_, d)| d);
    report_signing_keys(app, domain).is_empty().then(|| {
        format!(
            "reports: no [[dkim.key]] signs for {domain} (nor for a parent domain of it): reports from {from} are sent unsigned and fail DMARC at receivers that check them (RFC 9990 §3.5.2); add a key for {domain} or its organizational domain"
        )
    })
}

/// DKIM-signs a report mail with the keys of [`report_signing_keys`] for the domain of its
/// `From:`; unsigned when there is none (`config check` and `serve` warn of it at start).
/// Signatures go on top.
pub fn sign(app: &App, from: &str, message: Vec<u8>, now: u64) -> Vec<u8> {
    let domain = from.rsplit_once('@').map_or("", |(_, d)| d);
    let mut fields = String::new();
    for key in report_signing_keys(app, domain) {
        match dkim::sign_message(&key.signer, &message, now) {
            Ok(h) => fields.push_str(&h.to_field()),
            Err(e) => tracing::error!(key = %key.id, "reports: cannot DKIM-sign a report: {e}"),
        }
    }
    if fields.is_empty() {
        return message;
    }
    let mut out = fields.into_bytes();
    out.extend_from_slice(&message);
    out
}

/// The `Message-ID` of a message we built (for the store).
pub fn message_id(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message.get(..message.len().min(8192)).unwrap_or_default());
    text.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("Message-ID")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default()
}

/// Opens the report store for `serve` in the background, retrying every 30 s while it
/// cannot; the recorder, the report inbox and the dashboard wait on the returned channel.
pub fn open_store(
    shared: &Arc<ArcSwap<App>>,
    stop: watch::Receiver<bool>,
    tasks: &mut tokio::task::JoinSet<()>,
) -> watch::Receiver<Option<Store>> {
    let (tx, rx) = watch::channel(None);
    let shared = Arc::clone(shared);
    tasks.spawn(async move {
        if let Some(store) = open_with_retry(&shared, stop).await {
            // receivers keep seeing the value after the sender is gone
            let _ = tx.send(Some(store));
        }
    });
    rx
}

/// Waits until `store` holds the open store; `None` when `stop` fires first.
pub async fn opened(
    store: &mut watch::Receiver<Option<Store>>,
    stop: &mut watch::Receiver<bool>,
) -> Option<Store> {
    loop {
        if let Some(s) = store.borrow().clone() {
            return Some(s);
        }
        tokio::select! {
            _ = stop.changed() => return None,
            changed = store.changed() => if changed.is_err() { return None },
        }
    }
}

/// Starts reporting for `serve` once the store is open: the recorder, the failure report
/// producer and the schedule (failure reports and purges on every node, aggregate reports
/// where `[reports] send` is on).
pub fn start(
    shared: Arc<ArcSwap<App>>,
    rx: SinkReceiver,
    mut store: watch::Receiver<Option<Store>>,
    mut stop: watch::Receiver<bool>,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    tasks.spawn(async move {
        let Some(store) = opened(&mut store, &mut stop).await else {
            return;
        };
        let app = shared.load_full();
        let cfg = &app.config.reports;
        let kick = Arc::new(Notify::new());
        let mut inner = tokio::task::JoinSet::new();
        // the producer runs whether failure reports are on or not (an idle task): the
        // recorder hands it failed messages while the running configuration turns them on,
        // so a reload can turn them on or off; its queue is sized once, at start
        let (failures, frx) = mpsc::channel(cfg.failure.queue);
        inner.spawn(failure::run(
            frx,
            store.clone(),
            Arc::clone(&shared),
            Arc::clone(&kick),
            failure::retry::RetryPolicy::default(),
            stop.clone(),
        ));
        inner.spawn(recorder::run(
            rx,
            store.clone(),
            Arc::clone(&shared),
            Some(failures),
            stop.clone(),
        ));
        inner.spawn(schedule::schedule(store, Arc::clone(&shared), kick, stop));
        while inner.join_next().await.is_some() {}
    });
}

async fn open_with_retry(
    shared: &Arc<ArcSwap<App>>,
    mut stop: watch::Receiver<bool>,
) -> Option<Store> {
    let location = shared.load().config.reports.store.0.clone();
    let mut logged = false;
    loop {
        match Store::open(&location, unix_now()).await {
            Ok(s) => {
                tracing::info!(store = %location, "reports: store open");
                return Some(s);
            }
            Err(e) => {
                if !logged {
                    tracing::error!(
                        store = %location,
                        "reports: cannot open the store (retrying every 30s; records wait in the queue meanwhile, and are dropped and counted once it is full): {e}"
                    );
                    logged = true;
                }
            }
        }
        tokio::select! {
            _ = stop.changed() => return None,
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
        }
    }
}

#[cfg(test)]
mod tests;
