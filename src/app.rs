//! Shared application state: the configuration and everything built from it once (resolver,
//! evaluators, signing keys, SRS), shared by every connection.

use std::sync::Arc;

use dns::Resolver;

use crate::config::{Config, DmarcMode, MultipleFrom, Sha1Policy};
use crate::forwarding::SrsState;
use crate::signing::SigningKeys;

/// Everything a connection needs, built once from the configuration.
pub struct App {
    /// The configuration.
    pub config: Config,
    /// Our authserv-id (RFC 8601 §2.5): configured, or this host's name.
    pub authserv_id: String,
    /// The DNS resolver shared by all checks (with its cache).
    pub resolver: Arc<dyn Resolver>,
    /// SPF evaluator (RFC 7208).
    pub spf: spf::Evaluator,
    /// DKIM verifier (RFC 6376).
    pub dkim: dkim::Verifier,
    /// DMARC evaluator (RFC 9989 / RFC 7489).
    pub dmarc: dmarc::Dmarc,
    /// ARC chain validator (RFC 8617 §5.2).
    pub arc: arc::Verifier,
    /// iprev settings (RFC 8601 §3).
    pub iprev: iprev::Config,
    /// Our signing keys and signing table.
    pub signing: SigningKeys,
    /// SRS, when `[srs]` is enabled or its socketmap is configured.
    pub srs: Option<Arc<SrsState>>,
}

impl App {
    /// Builds the application state: reads signing keys, sets up the evaluators.
    pub fn new(config: Config, resolver: Arc<dyn Resolver>) -> anyhow::Result<App> {
        Self::build(config, resolver, true)
    }

    /// Like [`App::new`] without reading signing keys (for the verify-only tools).
    pub fn without_keys(config: Config, resolver: Arc<dyn Resolver>) -> anyhow::Result<App> {
        Self::build(config, resolver, false)
    }

    fn build(config: Config, resolver: Arc<dyn Resolver>, keys: bool) -> anyhow::Result<App> {
        let authserv_id = config.authres.our_id();
        let limits = spf::Limits {
            dns_terms: config.spf.dns_lookup_limit,
            void_lookups: config.spf.void_lookup_limit,
            ..spf::Limits::default()
        };
        let spf = spf::Evaluator::new(
            spf::Config::default()
                .with_limits(limits)
                .with_receiver(authserv_id.clone()),
        );
        let dkim = dkim::Verifier::new(dkim::VerifyOptions {
            rsa_sha1: match config.dkim.rsa_sha1 {
                Sha1Policy::Reject => dkim::RsaSha1Policy::Policy,
                Sha1Policy::Verify => dkim::RsaSha1Policy::Verify,
            },
            max_signatures: config.dkim.max_signatures,
            allow_partial_body: config.dkim.allow_partial_body,
            ..dkim::VerifyOptions::default()
        });
        let dmarc = dmarc::Dmarc::new(dmarc::Config {
            mode: match config.dmarc.mode {
                DmarcMode::Rfc9989 => dmarc::Mode::Rfc9989,
                DmarcMode::Rfc7489 => dmarc::Mode::Rfc7489,
            },
            multi_from: match config.dmarc.multiple_from {
                MultipleFrom::Reject => dmarc::MultiFrom::Reject,
                MultipleFrom::Strictest => dmarc::MultiFrom::Strictest,
            },
            ..dmarc::Config::default()
        });
        let arc = arc_verifier(&config);
        let iprev = iprev::Config {
            max_names: config.iprev.max_names,
        };
        let signing = if keys {
            SigningKeys::load(&config.dkim)?
        } else {
            SigningKeys::default()
        };
        let srs = if keys && (config.srs.enabled || config.srs.socketmap.0.is_some()) {
            let state = SrsState::load(&config.srs)?;
            crate::forwarding::warn_if_shared(&config.srs.secrets);
            Some(Arc::new(state))
        } else {
            None
        };
        Ok(App {
            srs,
            config,
            authserv_id,
            resolver,
            spf,
            dkim,
            dmarc,
            arc,
            iprev,
            signing,
        })
    }
}

/// This host's name, for the default authserv-id.
pub fn host_name() -> String {
    let name = gethostname::gethostname()
        .to_string_lossy()
        .trim()
        .to_string();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}

/// The ARC validator as `[arc]` configures it (RFC 8617 §5.2; `max_sets`), for the milter and
/// for `authmilter arc verify` / `arc seal`, which must answer as the milter does.
pub fn arc_verifier(config: &Config) -> arc::Verifier {
    arc::Verifier::new(arc::VerifyOptions {
        max_sets: config.arc.max_sets,
        ..arc::VerifyOptions::default()
    })
}
