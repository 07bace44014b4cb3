//! `authmilter serve`: load the configuration, build the shared state, open the listeners
//! (or take systemd's) and the metrics endpoint, drop root, run the server, the SRS socketmap
//! and the key checker; reload on SIGHUP (listeners included); tell systemd about each step.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::{Notify, watch};

use crate::app::App;
use crate::cli::{DnsArg, ServeArgs};
use crate::config::Config;
use crate::dashboard::Dashboard;
use crate::pipeline::ResultsSink;
use crate::reports::inbox::Inbox;
use crate::server::sockets::{Listening, UnixSocketSettings};
use crate::server::{ListenerChanges, ListenerControl, Server, ShutdownSignals};
use crate::services::Services;
use crate::systemd::{self, Inherited};

/// After the connections are done, how long a stop waits for the background work (the report
/// store's last write gets [`crate::reports::recorder::LAST_WRITE`] of it).
const BACKGROUND_GRACE: Duration = Duration::from_secs(10);

/// Runs the milter until SIGTERM/SIGINT.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let loaded = Config::load(args.config.path.as_deref())?;
    crate::logging::init(&loaded.config.log);
    tracing::info!(
        config = %loaded.path.display(),
        version = env!("CARGO_PKG_VERSION"),
        "starting authmilter"
    );
    // before any thread exists: the sockets systemd passed, if any
    let mut inherited = Inherited::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("authmilter")
        .build()
        .context("cannot start the async runtime")?;
    let dns_override = args.dns.clone();
    let path = loaded.path.clone();
    let served = runtime.block_on(async move {
        // the resolver counts its work where the metrics read it, across reloads
        let dns_stats = Arc::new(dns::stats::QueryStats::default());
        let checked = super::preflight::run_checks(
            loaded.config,
            &path,
            &dns_override,
            Arc::clone(&dns_stats),
            &|p| inherited.passes_unix(p),
        )?;
        let (app, run_as) = (Arc::new(checked.app), checked.run_as);
        let shared = Arc::new(ArcSwap::new(Arc::clone(&app)));
        // long-lived services outside App (which SIGHUP replaces)
        let (sink, sink_rx) = if app.config.reports.enabled {
            // reports: a bounded sink the milter publishes to without ever waiting
            let (sink, rx) = ResultsSink::for_reports(app.config.reports.queue);
            (sink, Some(rx))
        } else {
            (ResultsSink::disabled(), None)
        };
        // reports in: the inbox the milter hands report mail to, read by one worker
        let inbox_cfg = &app.config.reports.inbox;
        let (inbox, inbox_rx) = if inbox_cfg.enabled() {
            let (inbox, rx) = Inbox::new(inbox_cfg.max_memory);
            (Some(inbox), Some(rx))
        } else {
            (None, None)
        };
        let services = Services::new(sink, inbox, dns_stats);
        services.metrics.follow_keys(Arc::clone(&shared));
        // the signal handlers exist from the first bound socket on (the checks before stay
        // interruptible): a SIGHUP or SIGTERM sent as soon as a port accepts or READY=1 is
        // heard must reload or stop, not kill with the default action; one that comes
        // before the listeners serve waits in its stream
        let shutdown =
            ShutdownSignals::install().context("cannot install SIGTERM/SIGINT handlers")?;
        let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        if let Err(e) = &hup {
            tracing::warn!("cannot listen for SIGHUP ({e}); reload disabled");
        }
        let dashboard = Dashboard::bind(&app.config).await?;
        let server =
            Server::bind_with(Arc::clone(&shared), Arc::clone(&services), &mut inherited).await?;
        let socketmap = open_socketmap(&app, &mut inherited).await?;
        let metrics_listener = match app.config.metrics.listen.0 {
            Some(addr) => Some(crate::metrics::http::bind(addr).await?),
            None => None,
        };
        if !inherited.is_empty() {
            tracing::warn!(
                sockets = ?inherited.unclaimed(),
                "systemd passed sockets that no listener in the configuration uses"
            );
        }
        if let Some(user) = &run_as {
            user.switch()?;
            tracing::info!(user = %user.name, uid = %user.uid, gid = %user.gid, "dropped root privileges");
        }
        tracing::info!(
            authserv_id = %app.authserv_id,
            signing_keys = app.signing.keys().len(),
            "ready"
        );
        let (stop_tx, stop_rx) = watch::channel(false);
        let check_now = Arc::new(Notify::new());
        let mut background = tokio::task::JoinSet::new();
        // the report store, opened after privileges are dropped (as the service user) for
        // the recorder, the inbox and the dashboard, which all live outside App
        let store = (sink_rx.is_some() || inbox_rx.is_some() || dashboard.is_some())
            .then(|| crate::reports::open_store(&shared, stop_rx.clone(), &mut background));
        if let (Some(rx), Some(store)) = (sink_rx, &store) {
            // reports: the recorder consumes the sink
            crate::reports::start(
                Arc::clone(&shared),
                rx,
                store.clone(),
                stop_rx.clone(),
                &mut background,
            );
        }
        if let (Some(rx), Some(store)) = (inbox_rx, &store) {
            background.spawn(crate::reports::inbox::run(
                rx,
                store.clone(),
                Arc::clone(&shared),
                stop_rx.clone(),
            ));
        }
        // the dashboard runs whenever the store is open, so a reload can start, move or stop it
        let dashboard = store.as_ref().map(|store| {
            if let Some(d) = &dashboard {
                let addr = d.local_addr();
                tracing::info!(address = %addr, "dashboard: http://{addr}/");
            }
            let (tx, rx) = watch::channel(dashboard);
            background.spawn(crate::dashboard::serve(rx, store.clone(), stop_rx.clone()));
            tx
        });
        let srs_map = socketmap.as_ref().map(|(_, state)| Arc::clone(state));
        if let Some((listening, state)) = socketmap {
            let stop = stop_rx.clone();
            background.spawn(async move {
                if let Err(e) = crate::forwarding::run_socketmap(listening, state, stop).await {
                    tracing::error!("SRS socketmap stopped: {e:#}");
                }
            });
        }
        background.spawn(
            Arc::clone(&services.sink)
                .report_overflow(Duration::from_secs(60), stop_rx.clone()),
        );
        if let Some(listener) = metrics_listener {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(address = %addr, "metrics: GET http://{addr}/metrics");
            }
            background.spawn(crate::metrics::http::serve(
                listener,
                Arc::clone(&services.metrics),
                stop_rx.clone(),
            ));
        }
        background.spawn(key_checker(
            Arc::clone(&shared),
            Arc::clone(&check_now),
            stop_rx.clone(),
        ));
        if let Ok(hup) = hup {
            background.spawn(reloader(
                hup,
                Reload {
                    shared: Arc::clone(&shared),
                    path,
                    dns: dns_override,
                    services: Arc::clone(&services),
                    listeners: server.control(),
                    dashboard,
                    srs_map,
                },
                check_now,
                stop_rx,
            ));
        }
        systemd::notify_ready("serving");
        let result = server
            .run(async {
                shutdown.recv().await;
                systemd::notify_stopping();
            })
            .await;
        let _ = stop_tx.send(true);
        // the report store's last write, the report submission under way: bounded, so that a
        // hung store or relay cannot hold the stop past the service manager's kill
        let finished = tokio::time::timeout(BACKGROUND_GRACE, async {
            while background.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                "shutdown: background work (a report store write, a report submission) still running after {}s; stopped",
                BACKGROUND_GRACE.as_secs()
            );
            background.abort_all();
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while background.join_next().await.is_some() {}
            })
            .await;
        }
        result
    });
    // a store thread blocked in a frozen file system is not waited for
    runtime.shutdown_timeout(Duration::from_secs(1));
    served?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The services a reload leaves as they started ([metrics], the report recorder and inbox):
/// warned of when a reload changes their settings.
fn warn_of_restart_only_services(new: &Config, old: &Config) {
    if new.metrics != old.metrics {
        tracing::warn!("reload: [metrics] changes take effect after a restart");
    }
    let (r, o) = (&new.reports, &old.reports);
    if r.inbox.enabled() != o.inbox.enabled() || r.inbox.max_memory != o.inbox.max_memory {
        tracing::warn!(
            "reload: turning reports.inbox on or off and its max_memory take effect after a restart"
        );
    }
    if r.failure.queue != o.failure.queue {
        tracing::warn!("reload: reports.failure.queue takes effect after a restart");
    }
    if r.enabled != o.enabled || r.store != o.store || r.queue != o.queue {
        // the recorder and its store live outside App: they keep running as started; every
        // other [reports] setting applies at the next batch/pass
        tracing::warn!(
            "reload: reports.enabled, reports.store and reports.queue take effect after a restart (recording continues into {})",
            o.store.0
        );
    }
}

fn build_app(config: Config, dns: &DnsArg, services: &Services) -> anyhow::Result<App> {
    if dns.zone.is_some() {
        tracing::warn!("DNS answers come from a zone file (--zone), not from the network");
    }
    let resolver = super::common::counted_resolver(&config, dns, services.metrics.dns_stats())?;
    App::new(config, resolver)
}

/// The SRS state the socketmap answers with; a reload stores the new one.
type SrsMap = Arc<ArcSwap<crate::forwarding::SrsState>>;

/// Opens the SRS socketmap listener (before privileges are dropped), when configured.
async fn open_socketmap(
    app: &App,
    inherited: &mut Inherited,
) -> anyhow::Result<Option<(Listening, SrsMap)>> {
    let Some(spec) = app.config.srs.socketmap.0.clone() else {
        return Ok(None);
    };
    let Some(state) = app.srs.clone() else {
        anyhow::bail!("srs.socketmap is set but SRS could not be set up");
    };
    let unix = UnixSocketSettings::from_config(&app.config.server)?;
    let listening = crate::server::sockets::listen(&spec, &unix, inherited)
        .await
        .with_context(|| format!("socketmap: cannot listen on {spec}"))?;
    tracing::info!(socket = %spec, "SRS socketmap listening");
    Ok(Some((listening, Arc::new(ArcSwap::new(state)))))
}

/// At start, after every reload, and every `dkim.key_check_interval`: does DNS publish each
/// signing key? Also promotes rotated keys (`state = "next"`) whose wait is over.
async fn key_checker(
    shared: Arc<ArcSwap<App>>,
    check_now: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let app = shared.load_full();
        let interval = app.config.dkim.key_check_interval;
        let wait = if interval.is_zero() || app.signing.is_empty() {
            // nothing to do now; look again after a reload
            std::time::Duration::from_secs(3600)
        } else {
            let now = crate::signing::unix_now();
            tokio::select! {
                _ = stop.changed() => return,
                next = crate::signing::check_published(&app.signing, &*app.resolver, now) => {
                    next.map_or(interval.get(), |due| due.min(interval.get()))
                }
            }
        };
        tokio::select! {
            _ = stop.changed() => return,
            _ = check_now.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// What the SIGHUP handler works on.
struct Reload {
    shared: Arc<ArcSwap<App>>,
    path: PathBuf,
    dns: DnsArg,
    services: Arc<Services>,
    listeners: ListenerControl,
    /// The dashboard being served; `None` when the store was not opened at start.
    dashboard: Option<watch::Sender<Option<Dashboard>>>,
    /// The SRS socketmap's state, when it runs: reloaded secrets apply to it too.
    srs_map: Option<SrsMap>,
}

/// SIGHUP: re-read the configuration, keys and secrets; keep the old state on error. New keys
/// are checked against DNS at once. Changed listeners are opened and closed; if a new one
/// cannot be opened, the listeners stay as they were and the rest of the reload applies.
async fn reloader(
    mut hup: tokio::signal::unix::Signal,
    reload: Reload,
    check_now: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let Reload {
        shared,
        path,
        dns,
        services,
        listeners,
        dashboard,
        srs_map,
    } = reload;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = hup.recv() => {}
        }
        systemd::notify_reloading();
        let old = shared.load_full();
        let attempt = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
            .and_then(|text| {
                let (config, changes) = super::reload::check_reload(&old.config, &text)?;
                let located = |e| crate::config::with_line(e, &text);
                let (_, unix) = super::preflight::check_settings(&config).map_err(located)?;
                let mut app = build_app(config, &dns, &services).map_err(located)?;
                app.signing.continue_from(&old.signing);
                Ok((app, changes, unix))
            });
        match attempt {
            Ok((mut app, changes, unix)) => {
                // said once the reload is certain to apply (a refused one changes nothing)
                super::reload::warn_of_lost_keys(&old.config, &app.config);
                warn_of_restart_only_services(&app.config, &old.config);
                super::reload::log_changes(&changes);
                super::preflight::warn_about(&app.config, true);
                super::preflight::warn_about_keys(&app);
                let later = super::reload::restart_only(&changes);
                if !later.is_empty() {
                    tracing::warn!(
                        keys = %later.join(", "),
                        "reload: these settings take effect after a restart; until then the running values stay"
                    );
                }
                let sockets = super::reload::new_sockets_only(&changes);
                if !sockets.is_empty() {
                    tracing::warn!(
                        keys = %sockets.join(", "),
                        "reload: Unix sockets this reload opens get the new settings; sockets already open keep theirs until a restart"
                    );
                }
                if let (Some(map), Some(srs)) = (&srs_map, &app.srs) {
                    // the socketmap's address is fixed until a restart; its secrets are not
                    map.store(Arc::clone(srs));
                }
                let wanted = app.config.server.listen.clone();
                app.config.server.listen = match listeners.apply(&wanted, &unix).await {
                    Ok(done) => {
                        log_listener_changes(&done);
                        done.now
                    }
                    Err(e) => {
                        tracing::error!(
                            "reload: listeners unchanged: {}{}",
                            super::reload::one_line(&e),
                            permission_hint(&e)
                        );
                        old.config.server.listen.clone()
                    }
                };
                // a changed address or token file, and the token itself, re-read
                let wanted = &app.config.dashboard;
                if wanted != &old.config.dashboard || wanted.listen.0.is_some() {
                    app.config.dashboard =
                        reload_dashboard(dashboard.as_ref(), &app.config, &old.config).await;
                }
                tracing::info!(
                    config = %path.display(),
                    signing_keys = app.signing.keys().len(),
                    "configuration reloaded"
                );
                shared.store(Arc::new(app));
                check_now.notify_one();
                systemd::notify_ready("serving (reloaded)");
            }
            Err(e) => {
                tracing::error!(
                    "reload refused, keeping the running configuration: {}",
                    super::reload::one_line(&e)
                );
                systemd::notify_ready("serving (reload failed; previous configuration kept)");
            }
        }
    }
}

/// Applies `[dashboard]` of `config` on reload: opens a new address (then closes the old one),
/// re-reads the token, or stops the dashboard. Returns the `[dashboard]` now in force (the old
/// one when the change failed).
async fn reload_dashboard(
    control: Option<&watch::Sender<Option<Dashboard>>>,
    config: &Config,
    old: &Config,
) -> crate::config::DashboardConfig {
    let Some(control) = control else {
        tracing::warn!(
            "reload: the dashboard starts after a restart (the report store was not opened at start)"
        );
        return old.dashboard.clone();
    };
    let running = control.borrow().clone();
    match Dashboard::rebind(config, running.as_ref()).await {
        Ok(new) => {
            let before = running.as_ref().map(Dashboard::local_addr);
            match new.as_ref().map(Dashboard::local_addr) {
                Some(addr) if before != Some(addr) => {
                    tracing::info!(address = %addr, "dashboard: http://{addr}/");
                }
                None if before.is_some() => tracing::info!("dashboard: stopped"),
                _ => {}
            }
            if let (Some(old), Some(new)) = (running.as_ref(), new.as_ref())
                && !old.same_token(new)
            {
                tracing::info!(
                    "reload: dashboard token changed (the old one is refused from now on)"
                );
            }
            control.send_replace(new);
            config.dashboard.clone()
        }
        Err(e) => {
            tracing::error!(
                "reload: dashboard unchanged: {}{}",
                super::reload::one_line(&e),
                permission_hint(&e)
            );
            old.dashboard.clone()
        }
    }
}

/// Says what a reload did to the listeners (the server logs each socket opened or closed).
fn log_listener_changes(changes: &ListenerChanges) {
    for spec in &changes.kept_passed {
        tracing::warn!(
            socket = %spec,
            "reload: this socket came from systemd socket activation and cannot be closed or rebound by a reload; it stays open (edit authmilter.socket and restart)"
        );
    }
    if !changes.is_empty() {
        tracing::info!(
            opened = changes.opened.len(),
            closed = changes.closed.len(),
            new_roles = changes.new_roles.len(),
            "reload: listeners changed"
        );
    }
}

/// Why opening a socket may fail only now: privileges were dropped at start.
fn permission_hint(e: &anyhow::Error) -> &'static str {
    let denied = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
    });
    if denied {
        " (if privileges were dropped with [server] user, a port below 1024, a directory only root may write, or a socket_owner other than that user needs a restart)"
    } else {
        ""
    }
}
