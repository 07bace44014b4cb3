//! Long-lived services that outlive a configuration reload: `App` is rebuilt on SIGHUP, these
//! are created once in `serve` and handed to every connection (docs/architecture.md,
//! "Where long-lived state lives").

use std::sync::Arc;

use crate::pipeline::ResultsSink;

/// The services every connection shares across reloads.
#[derive(Debug, Clone)]
pub struct Services {
    /// Where finished messages are published (reports, metrics).
    pub sink: Arc<ResultsSink>,
}

impl Services {
    /// Services that publish nowhere (tools, tests without a consumer).
    pub fn none() -> Arc<Services> {
        Arc::new(Services {
            sink: ResultsSink::disabled(),
        })
    }
}
