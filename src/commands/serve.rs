//! `authmilter serve`: load the configuration, build the shared state, run the server.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::app::App;
use crate::cli::ServeArgs;
use crate::config::Config;
use crate::server::{Server, shutdown_signal};

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
    runtime.block_on(async move {
        let mut config = loaded.config;
        if let Some(ns) = args.dns.dns {
            config.dns.nameservers = vec![ns.to_string()];
        }
        let resolver = crate::resolver::build(&config.dns)?;
        let app = Arc::new(App::new(config, resolver)?);
        tracing::info!(authserv_id = %app.authserv_id, "ready");
        let server = Server::bind(app).await?;
        server.run(shutdown_signal()).await
    })?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
