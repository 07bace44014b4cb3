//! Everything `serve` checks before it binds a socket, in one place, so that `authmilter
//! config check` runs exactly the same checks (docs/cli.md): the users and groups to run and
//! own sockets as, the directories of Unix sockets, the signing keys (readable, usable, not
//! readable by others), the SRS secrets, the dashboard's token file, the failure reports'
//! redaction key, the open-file limit for `max_connections`, and every value of the file.

use anyhow::Context;

use crate::app::App;
use crate::cli::DnsArg;
use crate::config::{Config, SocketSpec};
use crate::server::privileges::RunAs;
use crate::server::sockets::{UnixSocketSettings, check_unix_dir};

/// What the checks produced, for `serve` to go on with.
pub struct Checked {
    /// The state every connection shares.
    pub app: App,
    /// The user and group to switch to after binding.
    pub run_as: Option<RunAs>,
}

/// Runs every check `serve` runs except binding on `config`, read from `path` (named in the
/// error); call inside a tokio runtime: the resolver is built here, counting its work in
/// `dns_stats`. `passed` tells the Unix sockets systemd passed (`serve` does not create them).
pub fn run_checks(
    config: Config,
    path: &std::path::Path,
    dns: &DnsArg,
    dns_stats: std::sync::Arc<dns::stats::QueryStats>,
    passed: &dyn Fn(&std::path::Path) -> bool,
) -> anyhow::Result<Checked> {
    warn_of_a_readable_password(&config, path);
    checks(config, dns, dns_stats, passed).map_err(|e| {
        // the key's line, as parse errors have it (read again: only for the message)
        let text = std::fs::read_to_string(path).unwrap_or_default();
        crate::config::with_line(e, &text).context(format!("in {}", path.display()))
    })
}

/// The failure reports' redaction key (RFC 6590) is read when the first report is due; a
/// missing or empty file would stop failure reports then, with one error line, so it is read
/// here first (at start, by `config check`, and on every reload).
pub fn check_redaction_key(config: &Config) -> anyhow::Result<()> {
    let failure = &config.reports.failure;
    let path = &failure.redaction_key;
    if !(config.reports.enabled && failure.enabled) || path.as_os_str().is_empty() {
        return Ok(());
    }
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "reports.failure.redaction_key: cannot read {}",
            path.display()
        )
    })?;
    if bytes.trim_ascii().is_empty() {
        anyhow::bail!(
            "reports.failure.redaction_key: {} is empty (failure reports would not be sent)",
            path.display()
        );
    }
    Ok(())
}

/// Whether `serve` opens the report store: for the aggregate reports, the report inbox or the
/// dashboard (RFC 9990 §2.1 records, RFC 9990 §4 reports received).
fn opens_store(config: &Config) -> bool {
    config.reports.enabled || config.reports.inbox.enabled() || config.dashboard.listen.0.is_some()
}

/// The report store's password in a file every local user can read (the Debian package and
/// most editors leave milter.toml 0644): said at start and by `config check`, not refused.
fn warn_of_a_readable_password(config: &Config, path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if !opens_store(config) || !config.reports.store.0.has_password() {
        return;
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.permissions().mode() & 0o004 != 0 {
        tracing::warn!(
            file = %path.display(),
            "reports.store holds the PostgreSQL password in a file every local user can read: chmod o-r it (e.g. 0640, owner root, group authmilter)"
        );
    }
}

/// The checks of the file's own values that a start and every reload run alike: the user and
/// group to run as and the SRS socketmap's directory or host (applied at the next start, but refused
/// now rather than then), the owner and group of Unix sockets, the failure reports' redaction
/// key.
pub fn check_settings(config: &Config) -> anyhow::Result<(Option<RunAs>, UnixSocketSettings)> {
    let run_as = RunAs::from_config(&config.server.user, &config.server.group)?;
    let unix = UnixSocketSettings::from_config(&config.server)?;
    // opened at the next start only, unlike listeners, which a reload opens or keeps
    match &config.srs.socketmap.0 {
        Some(SocketSpec::Unix(path)) => check_unix_dir(path).context("srs.socketmap")?,
        Some(SocketSpec::Inet { host, port }) => {
            std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), *port))
                .with_context(|| format!("srs.socketmap: cannot resolve {host}"))?;
        }
        None => {}
    }
    check_redaction_key(config)?;
    Ok((run_as, unix))
}

/// Warnings about settings that work but expose or lose something (a start, `config check` and
/// every reload give them): a listener that serves any client, `trusted_ids` trusted from any
/// client, an SQLite report store in a directory that does not exist or at a path that cannot
/// be a database, failure reports
/// switched on without the reports. `reloading`: the running process may hold the report
/// store open, so its file is not opened here (closing any descriptor of an SQLite file drops
/// every lock the process holds on it, and another client could then checkpoint and remove
/// the write-ahead log under the store; SQLite's "How To Corrupt", §2.2).
pub fn warn_about(config: &Config, reloading: bool) {
    for l in config
        .server
        .listen
        .iter()
        .filter(|l| l.open_to_the_network())
    {
        tracing::warn!(
            socket = %l.socket,
            "this listener serves milter clients from any address: whoever reaches it can have mail signed and DMARC results recorded; list the MTAs in its clients = [...] or firewall the port"
        );
    }
    if opens_store(config)
        && let report_store::StoreLocation::Sqlite(path) = &config.reports.store.0
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        tracing::warn!(
            "reports.store: the directory {} does not exist; serve opens the store after binding and retries every 30s, dropping records meanwhile (create it, owned by the service user)",
            dir.display()
        );
    }
    if opens_store(config)
        && !reloading
        && let report_store::StoreLocation::Sqlite(path) = &config.reports.store.0
        && let Some(problem) = sqlite_file_problem(path)
    {
        tracing::warn!(
            "reports.store: {} {problem}; serve opens the store after binding and retries every 30s, dropping records meanwhile",
            path.display()
        );
    }
    if config.reports.failure.enabled && !config.reports.enabled {
        tracing::warn!(
            "reports.failure.enabled: no failure reports while reports.enabled = false (the failures are recorded with the aggregate reports' records)"
        );
    }
    if !config.authres.trusted_ids.is_empty() && config.authres.trusted_clients.is_empty() {
        tracing::warn!(
            "[authres] trusted_ids is used for mail from any client: a client that reaches this host directly can write such a header (spf=pass for any domain, which also lets a forward listener sign its forgery of our domain); list the upstream hosts in trusted_clients"
        );
    }
    // a submission takes up to ~9 replies of smtp_timeout each: a lease shorter than that can
    // run out while the relay is still answering, and another sender then calls the send
    // uncertain (never retried) even when the relay's answer was a 4xx
    let reports = &config.reports;
    if reports.enabled
        && reports.claim_timeout.get() < reports.smtp_timeout.get().saturating_mul(10)
    {
        tracing::warn!(
            "reports.claim_timeout ({:?}) is shorter than 10 × smtp_timeout ({:?}): a submission to a slow relay can outlast its lease, and a report the relay refused for now may end uncertain instead of being retried",
            reports.claim_timeout.get(),
            reports.smtp_timeout.get()
        );
    }
    // a network this wide makes every client ours: signed with our keys, never checked
    for n in &config.outbound.internal_networks {
        if n.0.prefix_len() < 8 {
            tracing::warn!(
                "[outbound] internal_networks contains {}: nearly every client on the internet is ours, its mail signed with our keys and never checked; list only the networks of your own hosts",
                n.0
            );
        }
    }
}

/// What keeps an existing file at `path` from being an SQLite database: a directory, or a
/// file that does not start with SQLite's header (an empty file is a new database). `None`
/// when it does not exist or cannot be read here (the service user may read it).
fn sqlite_file_problem(path: &std::path::Path) -> Option<&'static str> {
    use std::io::Read;
    const HEADER: &[u8; 16] = b"SQLite format 3\0";
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_dir() {
        return Some("is a directory");
    }
    if meta.len() == 0 {
        return None;
    }
    let mut start = [0u8; 16];
    let mut file = std::fs::File::open(path).ok()?;
    match file.read_exact(&mut start) {
        Ok(()) if &start == HEADER => None,
        Ok(()) => Some("is not an SQLite database"),
        // shorter than the header: not a database either
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Some("is not an SQLite database")
        }
        Err(_) => None,
    }
}

/// Warnings about the loaded signing keys and rules (a start, `config check` and every reload
/// give them): a `[[dkim.signing]]` rule left without a key that signs (RFC 6376 §3.6.1, docs/dkim.md
/// Key rotation step 4), and ARC seals made with Ed25519 only (RFC 8617 §5.1, docs/arc.md).
pub fn warn_about_keys(app: &App) {
    for warning in app
        .signing
        .rule_warnings()
        .into_iter()
        .chain(app.signing.rotation_warnings())
    {
        tracing::warn!("{warning}");
    }
    let seals = app.config.arc.seal
        && app
            .config
            .server
            .listen
            .iter()
            .any(|l| l.role == crate::config::Role::Forward);
    if app.config.arc.seal && !seals {
        tracing::warn!(
            "[arc] seal = true seals on forward listeners only, and there is none (role = \"forward\"): nothing is sealed"
        );
    }
    if seals && app.signing.is_empty() {
        tracing::warn!(
            "[arc] seal = true: no [[dkim.key]] is loaded, so nothing is sealed (a forward listener seals with the key it signs the message's domain with; docs/arc.md)"
        );
    }
    if seals {
        for what in app.signing.ed25519_only_sealing() {
            tracing::warn!(
                "{what}: [arc] seal on a forward listener seals with an Ed25519 key, having no RSA key that signs by itself (a retired one seals only through a rotation recorded in dkim.state_file): dkimpy and other ARC validators refuse ed25519-sha256 seals, so the chain fails at the next hop; name an RSA key (docs/arc.md)"
            );
        }
    }
}

fn checks(
    config: Config,
    dns: &DnsArg,
    dns_stats: std::sync::Arc<dns::stats::QueryStats>,
    passed: &dyn Fn(&std::path::Path) -> bool,
) -> anyhow::Result<Checked> {
    let (run_as, unix) = check_settings(&config)?;
    if let Some(user) = &run_as {
        user.check_switch()?;
    }
    let unix_sockets = config
        .server
        .listen
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("server.listen[{i}].socket"), &l.socket))
        .chain(
            config
                .srs
                .socketmap
                .0
                .iter()
                .map(|s| ("srs.socketmap".to_string(), s)),
        );
    for (key, spec) in unix_sockets {
        if let SocketSpec::Unix(path) = spec {
            check_unix_dir(path).context(key)?;
            if !passed(path) {
                unix.check_chown(&config.server)?;
            }
        }
    }
    check_tcp_sockets(&config)?;
    if dns.zone.is_some() {
        tracing::warn!("DNS answers come from a zone file (--zone), not from the network");
    }
    crate::server::fd_limit::raise_and_report(config.server.max_connections);
    warn_about(&config, false);
    crate::dashboard::Access::from_config(&config)?;
    let resolver = super::common::counted_resolver(&config, dns, dns_stats)?;
    let app = App::new(config, resolver)?;
    warn_about_keys(&app);
    if let Some(warning) = crate::reports::unsigned_reports_warning(&app) {
        tracing::warn!("{warning}");
    }
    if let Some(user) = &run_as {
        let keys: Vec<&std::path::Path> = app
            .config
            .dkim
            .keys
            .iter()
            .map(|k| k.path.as_path())
            .collect();
        for problem in user.unreadable(&keys) {
            tracing::warn!(
                user = %user.name,
                "after dropping privileges a SIGHUP reload cannot read {problem}"
            );
        }
    }
    Ok(Checked { app, run_as })
}

/// Resolves the TCP sockets' host names as `serve` does when it binds, in its order (the
/// dashboard, the listeners, the SRS socketmap, the metrics), each taking the first address
/// no earlier one holds: a name that does not resolve, or whose every address an earlier
/// socket of the file holds, would fail `serve` after binding the others (IP literals are
/// compared when the file is parsed, with their line).
fn check_tcp_sockets(config: &Config) -> anyhow::Result<()> {
    use std::net::{SocketAddr, ToSocketAddrs};
    let literal = |key: &str, a: SocketAddr| (key.to_string(), a.ip().to_string(), a.port());
    let mut sockets: Vec<(String, String, u16)> = Vec::new();
    sockets.extend(
        config
            .dashboard
            .listen
            .0
            .map(|a| literal("dashboard.listen", a)),
    );
    for (i, l) in config.server.listen.iter().enumerate() {
        if let SocketSpec::Inet { host, port } = &l.socket {
            sockets.push((format!("server.listen[{i}].socket"), host.clone(), *port));
        }
    }
    if let Some(SocketSpec::Inet { host, port }) = &config.srs.socketmap.0 {
        sockets.push(("srs.socketmap".to_string(), host.clone(), *port));
    }
    sockets.extend(
        config
            .metrics
            .listen
            .0
            .map(|a| literal("metrics.listen", a)),
    );
    let mut bound: Vec<(String, SocketAddr)> = Vec::new();
    for (key, host, port) in sockets {
        let addrs: Vec<SocketAddr> = (host.as_str(), port)
            .to_socket_addrs()
            .with_context(|| format!("{key}: cannot resolve {host}"))?
            .collect();
        if addrs.is_empty() {
            anyhow::bail!("{key}: {host} has no address");
        }
        if port == 0 {
            // any free port: never one another socket holds
            continue;
        }
        let holder = |a: &SocketAddr| {
            bound
                .iter()
                .find(|(_, b)| {
                    b.port() == a.port() && crate::config::addresses_overlap(a.ip(), b.ip())
                })
                .map(|(k, _)| k.clone())
        };
        match addrs.iter().find(|a| holder(a).is_none()) {
            Some(a) => bound.push((key, *a)),
            None => {
                let owner = addrs.first().and_then(holder).unwrap_or_default();
                anyhow::bail!(
                    "{key}: {host}:{port} is {} there, already {owner}'s; each socket once",
                    addrs
                        .iter()
                        .map(|a| a.ip().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    Ok(())
}
