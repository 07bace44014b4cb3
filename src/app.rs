//! Shared application state: the configuration and everything built from it once (resolver,
//! evaluators, signing keys), shared by every connection.

use std::sync::Arc;

use dns::Resolver;

use crate::config::Config;

/// Everything a connection needs, built once from the configuration.
pub struct App {
    /// The configuration.
    pub config: Config,
    /// Our authserv-id (RFC 8601 §2.5): configured, or this host's name.
    pub authserv_id: String,
    /// The DNS resolver shared by all checks (with its cache).
    pub resolver: Arc<dyn Resolver>,
}

impl App {
    /// Builds the application state from a configuration and a resolver.
    pub fn new(config: Config, resolver: Arc<dyn Resolver>) -> anyhow::Result<App> {
        let authserv_id = if config.authres.authserv_id.trim().is_empty() {
            host_name()
        } else {
            config.authres.authserv_id.trim().to_string()
        };
        Ok(App {
            config,
            authserv_id,
            resolver,
        })
    }
}

/// This host's name, for the default authserv-id.
pub fn host_name() -> String {
    let name = gethostname::gethostname().to_string_lossy().trim().to_string();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}
