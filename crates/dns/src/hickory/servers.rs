//! The nameservers: one hickory pool over all of them, and one resolver per server to ask in
//! turn when the pool's answer was one server's failure.
//!
//! hickory's pool asks two servers at once and hands back the first answer that is not a
//! timeout or an I/O error: a SERVFAIL or REFUSED from a broken server ends the question while
//! the other may still have answered (with two servers, one of them broken, about half the
//! lookups failed). glibc's resolver and unbound go on to the next server on those answers;
//! [`Servers::ask_each`] does the same.

use std::net::SocketAddr;

use hickory_resolver::Resolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::{DnsError as HDns, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RecordType};

use super::HickoryConfig;
use super::checked::CheckedProvider;
use crate::DnsError;
use crate::stats::QueryStats;

/// The pool and, with more than one server, a resolver per server.
pub(super) struct Servers {
    /// All servers (hickory picks and fails over on timeouts).
    pool: Resolver<CheckedProvider>,
    /// One resolver per server, in the configured order; empty with one server.
    each: Vec<Resolver<CheckedProvider>>,
}

impl Servers {
    /// The configured servers, or those of `/etc/resolv.conf` when none are configured.
    pub(super) fn new(config: &HickoryConfig) -> Result<Self, DnsError> {
        let other = |e: NetError| DnsError::Other(format!("resolver setup: {e}"));
        let servers = if config.nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(other)?
                .0
                .name_servers()
                .to_vec()
        } else {
            configured(&config.nameservers)
        };
        let build = |servers: Vec<NameServerConfig>, attempts: usize| {
            let mut builder = Resolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], servers),
                CheckedProvider::default(),
            );
            set_options(builder.options_mut(), config.timeout, attempts);
            builder.build().map_err(other)
        };
        // the pool tries `attempts` times; after it, each server is asked once
        let each = if servers.len() > 1 {
            servers
                .iter()
                .map(|s| build(vec![s.clone()], 1))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok(Servers {
            pool: build(servers, config.attempts)?,
            each,
        })
    }

    /// Asks the pool; after a server's failure, each server once, in turn, past those that
    /// fail or do not answer, until one answers (records, NXDOMAIN or NODATA); else the pool's
    /// failure. The caller bounds the time it all takes.
    pub(super) async fn lookup(
        &self,
        stats: &QueryStats,
        name: &Name,
        rtype: RecordType,
    ) -> Result<Lookup, NetError> {
        let first = self.pool.lookup(name.clone(), rtype).await;
        if !server_failed(&first) {
            return first;
        }
        for server in &self.each {
            stats.count_query();
            let next = server.lookup(name.clone(), rtype).await;
            if answered(&next) {
                return next;
            }
        }
        first
    }

    /// Empties hickory's own caches (ours is the one that counts; hickory's are off).
    pub(super) fn clear_cache(&self) {
        self.pool.clear_cache();
        for server in &self.each {
            server.clear_cache();
        }
    }
}

/// True for an answer: records, NXDOMAIN or NODATA.
fn answered(outcome: &Result<Lookup, NetError>) -> bool {
    match outcome {
        Ok(_) => true,
        Err(NetError::Dns(HDns::NoRecordsFound(nr))) => matches!(
            nr.response_code,
            ResponseCode::NXDomain | ResponseCode::NoError
        ),
        Err(_) => false,
    }
}

/// True for an answer one server failed to give (SERVFAIL, REFUSED, NOTIMP, a malformed or
/// broken reply, a refused connection), which another server may give; not for records,
/// NXDOMAIN or NODATA, and not for a timeout (the pool has already tried the others then).
fn server_failed(outcome: &Result<Lookup, NetError>) -> bool {
    !answered(outcome) && !matches!(outcome, Err(NetError::Timeout))
}

/// One NameServerConfig per address and port, with a UDP and a TCP connection: the
/// connections of one NameServerConfig are another transport of one server to hickory (it
/// always takes the first UDP one), so two ports of one address would never fail over to the
/// second.
fn configured(addresses: &[SocketAddr]) -> Vec<NameServerConfig> {
    let mut seen = Vec::with_capacity(addresses.len());
    addresses
        .iter()
        .filter(|addr| {
            let new = !seen.contains(*addr);
            seen.push(**addr);
            new
        })
        .map(|addr| {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
        })
        .collect()
}

/// The options every resolver of ours runs with: `attempts` tries of `timeout` each.
fn set_options(opts: &mut ResolverOpts, timeout: std::time::Duration, attempts: usize) {
    opts.timeout = timeout;
    // hickory's `attempts` counts the retries after the first try; ours counts the tries
    opts.attempts = attempts.max(1) - 1;
    // Our own cache does the caching: its bound is exact and it sees the TTLs.
    opts.cache_size = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.ndots = 1;
    // TTLs reach us as received (hickory would clamp them to a day, hiding the top bit
    // that RFC 2181 §8 reads as 0); our cache applies the configured bounds
    opts.positive_max_ttl = Some(std::time::Duration::from_secs(u64::from(u32::MAX)));
    // a chain's CNAMEs stay in the answer: `owners` links the records to the name asked
    opts.preserve_intermediates = true;
}
