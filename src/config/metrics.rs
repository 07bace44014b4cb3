//! `[metrics]`: the Prometheus endpoint (docs/operations.md).

use serde::{Deserialize, Serialize};

use super::values::OptionalAddress;

/// `[metrics]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// `IP:PORT` serving `GET /metrics` (Prometheus text); empty: no metrics endpoint.
    pub listen: OptionalAddress,
    /// Allow `listen` on an address other than loopback (the metrics then reach the network:
    /// firewall it). Off: a non-loopback address is a configuration error.
    pub allow_remote: bool,
}
