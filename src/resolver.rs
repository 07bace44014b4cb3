//! Builds the production resolver from `[dns]`.

use std::net::SocketAddr;
use std::sync::Arc;

use dns::Resolver;
use dns::hickory::{HickoryConfig, HickoryResolver};
use dns::stats::QueryStats;

use crate::config::DnsConfig;

/// The hickory resolver with the shared cache, configured from `[dns]`.
pub fn build(cfg: &DnsConfig) -> anyhow::Result<Arc<dyn Resolver>> {
    build_counted(cfg, Arc::new(QueryStats::default()))
}

/// Like [`build`], counting the resolver's work in `stats` (the metrics' counters, which a
/// reload's new resolver keeps using).
pub fn build_counted(cfg: &DnsConfig, stats: Arc<QueryStats>) -> anyhow::Result<Arc<dyn Resolver>> {
    let nameservers: Vec<SocketAddr> = cfg.nameservers.iter().map(|n| n.0).collect();
    let config = HickoryConfig {
        nameservers,
        timeout: cfg.timeout.get(),
        attempts: cfg.attempts.max(1),
        cache_size: cfg.cache_size as u64,
        ..HickoryConfig::default()
    };
    let r = HickoryResolver::new(&config)
        .map_err(|e| anyhow::anyhow!("cannot set up DNS: {e}"))?
        .with_stats(stats);
    Ok(Arc::new(r))
}
