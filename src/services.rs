//! Long-lived services that outlive a configuration reload: `App` is rebuilt on SIGHUP, these
//! are created once in `serve` and handed to every connection (docs/architecture.md,
//! "Where long-lived state lives").

use std::sync::Arc;

use crate::pipeline::ResultsSink;
use crate::reports::inbox::Inbox;

/// The services every connection shares across reloads.
#[derive(Debug, Clone)]
pub struct Services {
    /// Where finished messages are published (reports, metrics).
    pub sink: Arc<ResultsSink>,
    /// The report inbox (`[reports.inbox]`), when serve started with report addresses.
    pub inbox: Option<Arc<Inbox>>,
}

impl Services {
    /// Services that publish nowhere (tools, tests without a consumer).
    pub fn none() -> Arc<Services> {
        Self::with_sink(ResultsSink::disabled())
    }

    /// Services publishing to `sink`, without a report inbox.
    pub fn with_sink(sink: Arc<ResultsSink>) -> Arc<Services> {
        Arc::new(Services { sink, inbox: None })
    }
}
