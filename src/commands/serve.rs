//! `authmilter serve`: load the configuration, build the shared state, run the server, the
//! SRS socketmap and the key checker; reload on SIGHUP.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::app::App;
use crate::cli::{DnsArg, ServeArgs};
use crate::config::Config;
use crate::pipeline::ResultsSink;
use crate::server::{Server, shutdown_signal};
use crate::services::Services;

/// Runs the milter until SIGTERM/SIGINT.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let loaded = Config::load(args.config.path.as_deref())?;
    crate::logging::init(&loaded.config.log);
    tracing::info!(
        config = %loaded.path.display(),
        version = env!("CARGO_PKG_VERSION"),
        "starting authmilter"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("authmilter")
        .build()
        .context("cannot start the async runtime")?;
    let dns_override = args.dns.clone();
    let path = loaded.path.clone();
    runtime.block_on(async move {
        let app = Arc::new(build_app(loaded.config, &dns_override)?);
        tracing::info!(
            authserv_id = %app.authserv_id,
            signing_keys = app.signing.keys().len(),
            "ready"
        );
        let shared = Arc::new(ArcSwap::new(Arc::clone(&app)));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut background = tokio::task::JoinSet::new();
        let services = if app.config.reports.enabled {
            // reports: a bounded sink consumed by the recorder, both outside App
            let (sink, rx) = ResultsSink::bounded(app.config.reports.queue);
            crate::reports::start(Arc::clone(&shared), rx, stop_rx.clone(), &mut background);
            background
                .spawn(Arc::clone(&sink).report_overflow(Duration::from_secs(60), stop_rx.clone()));
            Arc::new(Services { sink })
        } else {
            Services::none()
        };
        let server = Server::bind_shared(Arc::clone(&shared), services).await?;
        start_socketmap(&app, stop_rx.clone(), &mut background)?;
        background.spawn(key_checker(Arc::clone(&shared), stop_rx.clone()));
        background.spawn(reloader(Arc::clone(&shared), path, dns_override, stop_rx));
        let result = server.run(shutdown_signal()).await;
        let _ = stop_tx.send(true);
        while background.join_next().await.is_some() {}
        result
    })?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn build_app(config: Config, dns: &DnsArg) -> anyhow::Result<App> {
    if dns.zone.is_some() {
        tracing::warn!("DNS answers come from a zone file (--zone), not from the network");
    }
    let resolver = super::common::tool_resolver(&config, dns)?;
    App::new(config, resolver)
}

fn start_socketmap(
    app: &App,
    stop: watch::Receiver<bool>,
    tasks: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<()> {
    let Some(spec) = app.config.srs.socketmap.0.clone() else {
        return Ok(());
    };
    let Some(state) = app.srs.clone() else {
        anyhow::bail!("srs.socketmap is set but SRS could not be set up");
    };
    let mode = app.config.server.socket_mode.0;
    tasks.spawn(async move {
        if let Err(e) = crate::forwarding::run_socketmap(spec, state, mode, stop).await {
            tracing::error!("SRS socketmap stopped: {e:#}");
        }
    });
    Ok(())
}

/// At start and every `dkim.key_check_interval`: does DNS publish each signing key?
async fn key_checker(shared: Arc<ArcSwap<App>>, mut stop: watch::Receiver<bool>) {
    loop {
        let app = shared.load_full();
        let interval = app.config.dkim.key_check_interval;
        if interval.is_zero() || app.signing.is_empty() {
            // nothing to do now; look again after a reload
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => continue,
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = crate::signing::check_published(&app.signing, &*app.resolver) => {}
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(interval.get()) => {}
        }
    }
}

/// SIGHUP: re-read the configuration, keys and secrets; keep the old state on error.
async fn reloader(
    shared: Arc<ArcSwap<App>>,
    path: PathBuf,
    dns: DnsArg,
    mut stop: watch::Receiver<bool>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload disabled");
        return;
    };
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = hup.recv() => {}
        }
        let attempt = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
            .and_then(|text| {
                let old = shared.load();
                let (config, changes) = super::reload::check_reload(&old.config, &text)?;
                if config.server.listen != old.config.server.listen {
                    tracing::warn!("reload: listener changes take effect after a restart");
                }
                let (r, o) = (&config.reports, &old.config.reports);
                if r.enabled != o.enabled || r.store != o.store || r.queue != o.queue {
                    // the recorder and its store live outside App: they keep running as
                    // started; every other [reports] setting applies at the next batch/pass
                    tracing::warn!(
                        "reload: reports.enabled, reports.store and reports.queue take effect after a restart (recording continues into {})",
                        o.store.0
                    );
                }
                Ok((build_app(config, &dns)?, changes))
            });
        match attempt {
            Ok((app, changes)) => {
                super::reload::log_changes(&changes);
                tracing::info!(
                    config = %path.display(),
                    signing_keys = app.signing.keys().len(),
                    "configuration reloaded"
                );
                shared.store(Arc::new(app));
            }
            Err(e) => tracing::error!(
                "reload refused, keeping the running configuration: {}",
                super::reload::one_line(&e)
            ),
        }
    }
}
