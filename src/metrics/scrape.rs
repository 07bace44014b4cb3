//! What is read when Prometheus scrapes rather than counted here: the resolver's counters,
//! the results sink's drops, and what DNS says about each signing key of the running state.

use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use dns::stats::QueryStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::app::App;
use crate::pipeline::ResultsSink;

/// The long-lived things read at each scrape.
pub(super) struct Sources {
    sink: Arc<ResultsSink>,
    dns: Arc<QueryStats>,
    app: OnceLock<Arc<ArcSwap<App>>>,
}

impl Sources {
    pub(super) fn new(sink: Arc<ResultsSink>, dns: Arc<QueryStats>) -> Self {
        Sources {
            sink,
            dns,
            app: OnceLock::new(),
        }
    }

    pub(super) fn dns(&self) -> Arc<QueryStats> {
        Arc::clone(&self.dns)
    }

    pub(super) fn follow_keys(&self, app: Arc<ArcSwap<App>>) {
        let _ = self.app.set(app);
    }
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("dns", &self.dns)
            .field("follows_keys", &self.app.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Collector for Sources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let dns = self.dns.snapshot();
        for (name, help, value) in [
            (
                "dns_queries",
                "DNS questions sent to the nameservers (lookups the cache could not answer)",
                dns.queries,
            ),
            (
                "dns_cache_hits",
                "DNS lookups answered from the cache (positive and negative answers)",
                dns.cache_hits,
            ),
            (
                "dns_timeouts",
                "DNS questions that got no answer within [dns] timeout and attempts",
                dns.timeouts,
            ),
            (
                "dns_servfails",
                "DNS questions answered SERVFAIL or REFUSED",
                dns.servfails,
            ),
            (
                "results_sink_dropped",
                "Finished-message records dropped because the results sink was full (its consumer, e.g. DMARC reports, is too slow)",
                self.sink.dropped(),
            ),
        ] {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        let reports = self
            .app
            .get()
            .map(|app| app.load().signing.report())
            .unwrap_or_default();
        if reports.is_empty() {
            return Ok(());
        }
        let mut published = encoder.encode_descriptor(
            "dkim_key_published",
            "1 when DNS publishes exactly the loaded key in a record our signatures can use, 0 otherwise (not checked yet, missing, different, revoked, restricted), by key name",
            None,
            MetricType::Gauge,
        )?;
        for r in &reports {
            let value = i64::from(r.dns == "published");
            ConstGauge::new(value).encode(published.encode_family(&[("key", r.id.as_str())])?)?;
        }
        let mut refused = encoder.encode_descriptor(
            "dkim_key_refused",
            "Messages a key would have signed but did not because DNS shows a problem with its record, by key name",
            None,
            MetricType::Counter,
        )?;
        for r in &reports {
            ConstCounter::new(r.refused)
                .encode(refused.encode_family(&[("key", r.id.as_str())])?)?;
        }
        Ok(())
    }
}
