//! Long-lived services that outlive a configuration reload: `App` is rebuilt on SIGHUP, these
//! are created once in `serve` and handed to every connection (docs/architecture.md,
//! "Where long-lived state lives").

use std::sync::Arc;

use crate::metrics::Metrics;
use crate::pipeline::ResultsSink;
use crate::reports::inbox::Inbox;

/// The services every connection shares across reloads.
#[derive(Debug, Clone)]
pub struct Services {
    /// Where finished messages are published (reports).
    pub sink: Arc<ResultsSink>,
    /// The report inbox (`[reports.inbox]`), when serve started with report addresses.
    pub inbox: Option<Arc<Inbox>>,
    /// The Prometheus metrics (exported when `[metrics] listen` is set).
    pub metrics: Arc<Metrics>,
}

impl Services {
    /// Services that publish nowhere (tools, tests without a consumer).
    pub fn none() -> Arc<Services> {
        Self::with_sink(ResultsSink::disabled())
    }

    /// Services publishing to `sink`, without a report inbox, with a fresh set of metrics that
    /// reads its drops.
    pub fn with_sink(sink: Arc<ResultsSink>) -> Arc<Services> {
        Self::new(sink, None, Arc::new(dns::stats::QueryStats::default()))
    }

    /// Services publishing to `sink`, handing report mail to `inbox`, with metrics that read the
    /// sink's drops and `dns_stats` (the counters every resolver `serve` builds is given).
    pub fn new(
        sink: Arc<ResultsSink>,
        inbox: Option<Arc<Inbox>>,
        dns_stats: Arc<dns::stats::QueryStats>,
    ) -> Arc<Services> {
        let metrics = Arc::new(Metrics::new(Arc::clone(&sink), dns_stats));
        Arc::new(Services {
            sink,
            inbox,
            metrics,
        })
    }
}
