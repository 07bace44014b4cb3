//! Prometheus metrics (`[metrics] listen`, docs/operations.md "Metrics"): one registry for
//! the life of the process, in [`Services`](crate::services::Services), so a SIGHUP reload
//! never resets a counter.
//!
//! Counters are bumped where decisions are made: once per message where the server logs its
//! `message` line ([`Metrics::record_message`]), per connection in the accept loop. What
//! other parts count themselves — the resolver (`dns::stats`), the results sink, the DKIM
//! key board — is read when Prometheus scrapes (`scrape.rs`). Labels are low-cardinality by
//! construction: listener roles, actions and result words are fixed sets, key names come
//! from the configuration. The endpoint is `http.rs`.

pub mod http;
mod record;
mod scrape;

use std::sync::Arc;

use arc_swap::ArcSwap;
use dns::stats::QueryStats;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::app::App;
use crate::config::Role;
use crate::pipeline::{OverrideKind, ResultsSink};

pub use record::MessageTiming;

/// Two fixed labels (`role`/`action`, `method`/`result`).
type Pair = [(&'static str, &'static str); 2];
/// One fixed label (`kind`).
type One = [(&'static str, &'static str); 1];
/// One label from the configuration (`key`).
type Named = [(&'static str, String); 1];

/// The listener roles, as labels.
const ROLES: [Role; 4] = [Role::Auto, Role::Verify, Role::Sign, Role::Forward];
/// What a message's answer can be (`Decision::action`).
const ACTIONS: [&str; 5] = ["accept", "reject", "tempfail", "discard", "quarantine"];
/// The result words each method can report (RFC 8601 §2.7, RFC 7489 §11.2, RFC 8617 §4.4).
const RESULTS: [(&str, &[&str]); 5] = [
    (
        "spf",
        &[
            "none",
            "neutral",
            "pass",
            "fail",
            "softfail",
            "temperror",
            "permerror",
        ],
    ),
    (
        "dkim",
        &[
            "none",
            "pass",
            "fail",
            "policy",
            "neutral",
            "temperror",
            "permerror",
        ],
    ),
    ("dmarc", &["none", "pass", "fail", "temperror", "permerror"]),
    ("iprev", &["pass", "fail", "temperror", "permerror"]),
    ("arc", &["none", "pass", "fail"]),
];
/// DMARC policy overrides (RFC 9990 `PolicyOverrideType`).
const OVERRIDES: [OverrideKind; 4] = [
    OverrideKind::LocalPolicy,
    OverrideKind::PolicyTestMode,
    OverrideKind::SampledOut,
    OverrideKind::TrustedForwarder,
];

/// Upper bounds of the latency buckets, in seconds: 5 ms to the 4-minute default
/// `eom_timeout`.
const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 240.0,
];

/// Every metric of the process (see the module docs).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    messages: Family<Pair, Counter>,
    results: Family<Pair, Counter>,
    signatures: Family<Named, Counter>,
    arc_seals: Counter,
    overrides: Family<One, Counter>,
    connections_open: Gauge,
    connections_refused: Counter,
    message_seconds: Histogram,
    eom_seconds: Histogram,
    sources: Arc<scrape::Sources>,
}

impl Metrics {
    /// Registers every metric; `sink` and `dns` are read at each scrape.
    pub fn new(sink: Arc<ResultsSink>, dns: Arc<QueryStats>) -> Metrics {
        let mut registry = Registry::with_prefix("authmilter");
        let messages = Family::<Pair, Counter>::default();
        for role in ROLES {
            for action in ACTIONS {
                let _ = messages.get_or_create(&[("role", role_label(role)), ("action", action)]);
            }
        }
        registry.register(
            "messages",
            "Messages answered at end of message, by listener role and action",
            messages.clone(),
        );
        let results = Family::<Pair, Counter>::default();
        for (method, words) in RESULTS {
            for result in words {
                let _ = results.get_or_create(&[("method", method), ("result", result)]);
            }
        }
        registry.register(
            "results",
            "Check results by method and result word (spf of MAIL FROM; each DKIM signature, dkim=none for an unsigned message)",
            results.clone(),
        );
        let signatures = Family::<Named, Counter>::default();
        registry.register(
            "dkim_signatures",
            "DKIM signatures made, by key name",
            signatures.clone(),
        );
        let arc_seals = Counter::default();
        registry.register("arc_seals", "ARC sets added (RFC 8617)", arc_seals.clone());
        let overrides = Family::<One, Counter>::default();
        for kind in OVERRIDES {
            let _ = overrides.get_or_create(&[("kind", kind.as_str())]);
        }
        registry.register(
            "dmarc_overrides",
            "DMARC policy overrides applied, by RFC 9990 kind",
            overrides.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "connections_open",
            "Milter connections open now",
            connections_open.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "Milter connections closed at once because server.max_connections were open",
            connections_refused.clone(),
        );
        let message_seconds = Histogram::new(LATENCY_BUCKETS);
        registry.register_with_unit(
            "message_duration",
            "From CONNECT (MAIL FROM for later messages of a connection) to the end-of-message answer",
            Unit::Seconds,
            message_seconds.clone(),
        );
        let eom_seconds = Histogram::new(LATENCY_BUCKETS);
        registry.register_with_unit(
            "eom_duration",
            "End-of-message work alone: from the end of the body to the answer",
            Unit::Seconds,
            eom_seconds.clone(),
        );
        registry.register(
            "build",
            "The running version",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        let sources = Arc::new(scrape::Sources::new(sink, dns));
        registry.register_collector(Box::new(Arc::clone(&sources)));
        Metrics {
            registry,
            messages,
            results,
            signatures,
            arc_seals,
            overrides,
            connections_open,
            connections_refused,
            message_seconds,
            eom_seconds,
            sources,
        }
    }

    /// Metrics that nobody scrapes (tools and tests): counting costs a few atomics.
    pub fn unexported() -> Arc<Metrics> {
        Arc::new(Metrics::new(
            ResultsSink::disabled(),
            Arc::new(QueryStats::default()),
        ))
    }

    /// The resolver counters (give them to every resolver `serve` builds, so a reload keeps
    /// counting in the same place).
    pub fn dns_stats(&self) -> Arc<QueryStats> {
        self.sources.dns()
    }

    /// Reads the key-check status of the keys in the running state at each scrape (`serve`
    /// calls this once; later calls are ignored).
    pub fn follow_keys(&self, app: Arc<ArcSwap<App>>) {
        self.sources.follow_keys(app);
    }

    /// A connection was accepted; it counts as open until the returned guard is dropped.
    pub fn connection_opened(&self) -> OpenConnection {
        self.connections_open.inc();
        OpenConnection(self.connections_open.clone())
    }

    /// A connection was closed at once: `max_connections` were open.
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// Everything in the Prometheus text format (version 0.0.4).
    pub fn encode_prometheus(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(8192);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// Everything in the OpenMetrics text format (ends with `# EOF`).
    pub fn encode_openmetrics(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(8192);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Keeps a connection counted as open (see [`Metrics::connection_opened`]).
#[derive(Debug)]
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A role as a label value.
fn role_label(role: Role) -> &'static str {
    match role {
        Role::Auto => "auto",
        Role::Verify => "verify",
        Role::Sign => "sign",
        Role::Forward => "forward",
    }
}

#[cfg(test)]
mod tests;
