//! Rules a value's type cannot check alone, across keys and sections: listeners and other
//! sockets once each, limits that would fail every message or panic `serve`, reply
//! placeholders each reply fills. `config check` and `serve` (and every reload) run them.

use std::net::IpAddr;

use anyhow::bail;

use super::{Config, SocketSpec, is_loopback_host, reply};

impl Config {
    /// Checks rules that span several keys. `text` is the source, used to find line numbers.
    pub(super) fn validate(&self, text: &str) -> anyhow::Result<()> {
        let line_of = |needle: &str| line_of_key(text, None, needle);
        let in_section =
            |section: &'static str| move |needle: &str| line_of_key(text, Some(section), needle);
        if self.server.listen.is_empty() {
            bail!("server.listen: at least one listener is required");
        }
        for (i, l) in self.server.listen.iter().enumerate() {
            if matches!(l.socket, SocketSpec::Unix(_)) && !l.clients.is_empty() {
                // a Unix peer has no address to match: the file's permissions decide
                let line = line_in_block(text, "[[server.listen]]", i, "clients");
                bail!(
                    "server.listen[{i}]{line}: clients applies to TCP listeners only; who may connect to {} is decided by server.socket_mode, socket_owner and socket_group",
                    l.socket
                );
            }
            if let Some(j) = self.server.listen.get(..i).and_then(|earlier| {
                earlier
                    .iter()
                    .position(|e| same_socket(&e.socket, &l.socket))
            }) {
                let line = line_in_block(text, "[[server.listen]]", i, "socket");
                bail!(
                    "server.listen[{i}]{line}: {} is already listener {j}; each socket once",
                    l.socket
                );
            }
        }
        self.sockets_once(text)?;
        self.reply_placeholders(text)?;
        self.absolute_paths()?;
        let id = self.authres.authserv_id.trim();
        if !id.is_ascii() && dns::name::to_ascii(id.as_bytes()).is_err() {
            // our header field is US-ASCII: a non-ASCII id must be a domain with A-labels
            bail!(
                "authres.authserv_id{}: {id:?} is not ASCII and not a domain name with an A-label form",
                line_of("authserv_id")
            );
        }
        if self.server.max_headers == 0 || self.server.max_header_bytes < 1024 {
            bail!(
                "server.max_headers / max_header_bytes{}: at least 1 field and 1024 bytes",
                line_of("max_header")
            );
        }
        if self.server.max_connections == 0 {
            bail!(
                "server.max_connections{}: must be at least 1",
                line_of("max_connections")
            );
        }
        if self.server.max_connections > MAX_COUNT {
            // past tokio's semaphore limit serve panicked; far past any MTA's process limit
            bail!(
                "server.max_connections{}: at most {MAX_COUNT}",
                line_of("max_connections")
            );
        }
        if self.iprev.max_names == 0 {
            // no forward lookup at all: every client with a PTR name would get iprev=fail
            bail!(
                "iprev.max_names{}: must be at least 1 (turn iprev off with enabled = false)",
                line_of("max_names")
            );
        }
        if self.iprev.max_names > MAX_IPREV_NAMES {
            // each name is a forward lookup per message; a PTR answer listing hundreds of
            // names is itself hostile (RFC 8601 §3 leaves the bound to the verifier)
            bail!(
                "iprev.max_names{}: at most {MAX_IPREV_NAMES}",
                line_of("max_names")
            );
        }
        if self.dkim.max_signatures > MAX_DKIM_SIGNATURES {
            // each signature is a key lookup and a public-key operation per message (RFC 6376
            // §6.1 lets a verifier limit them; §4.2's sender may add a few, not hundreds)
            bail!(
                "dkim.max_signatures{}: at most {MAX_DKIM_SIGNATURES}",
                line_of("max_signatures")
            );
        }
        if self.dkim.max_signatures == 0 {
            // every signature would be "too many signatures" (permerror)
            bail!(
                "dkim.max_signatures{}: must be at least 1 (turn verification off with verify = false)",
                line_of("max_signatures")
            );
        }
        for (i, name) in self.dkim.sign_headers.iter().enumerate() {
            if let Some(why) = super::header_field_name_problem(name) {
                bail!(
                    "dkim.sign_headers[{i}]{}: {name:?} is {why}",
                    line_in_section(text, "[dkim]", "sign_headers")
                );
            }
        }
        let expiration = self.dkim.expiration.get();
        if !expiration.is_zero()
            && (expiration.as_secs() == 0 || expiration.as_secs() > MAX_EXPIRATION_SECS)
        {
            // x= is whole seconds after t= (RFC 6376 §3.5: 1*12DIGIT, greater than t=)
            bail!(
                "dkim.expiration{}: 0s (no x=) or from 1s to 36500d",
                line_in_section(text, "[dkim]", "expiration")
            );
        }
        // a zero timeout fails every connection, message or DNS query at once
        for (key, needle, span) in [
            (
                "server.idle_timeout",
                "idle_timeout",
                self.server.idle_timeout,
            ),
            (
                "server.write_timeout",
                "write_timeout",
                self.server.write_timeout,
            ),
            ("server.eom_timeout", "eom_timeout", self.server.eom_timeout),
            ("dns.timeout", "timeout", self.dns.timeout),
        ] {
            if span.is_zero() {
                let line = if key == "dns.timeout" {
                    line_in_section(text, "[dns]", needle)
                } else {
                    line_of(needle)
                };
                bail!("{key}{line}: must be more than 0s");
            }
        }
        if self.spf.dns_lookup_limit == 0 {
            // every include, a, mx, ptr, exists or redirect would be a permerror
            bail!(
                "spf.dns_lookup_limit{}: must be at least 1 (RFC 7208 §4.6.4 says 10; turn SPF off with enabled = false)",
                line_of("dns_lookup_limit")
            );
        }
        if self.spf.dns_lookup_limit > 10 {
            // more would pass records every other verifier gives permerror
            bail!(
                "spf.dns_lookup_limit{}: must be at most 10 (RFC 7208 §4.6.4: implementations MUST limit DNS-querying terms to 10)",
                line_of("dns_lookup_limit")
            );
        }
        if self.server.max_packet_size < 65_536 + 5 {
            bail!(
                "server.max_packet_size{}: must be at least 65541 bytes (a full BODY chunk)",
                line_of("max_packet_size")
            );
        }
        if self.server.socket_mode.0 & 0o222 == 0 {
            // connecting to a Unix socket needs write permission on it (unix(7)): with no
            // write bit only root could, and Postfix and Sendmail connect as their own users
            bail!(
                "server.socket_mode{}: {:04o} lets no MTA connect (it needs write permission); e.g. \"0660\" with socket_group = \"postfix\"",
                line_of("socket_mode"),
                self.server.socket_mode.0
            );
        }
        if self.server.max_packet_size > MAX_PACKET_SIZE {
            // one frame is held whole in the connection's buffer: a typo of a few digits
            // would let one MTA connection take gigabytes (Postfix's largest frame is a
            // header of header_size_limit, 100 KB by default)
            bail!(
                "server.max_packet_size{}: at most {MAX_PACKET_SIZE} bytes (64 MiB)",
                line_of("max_packet_size")
            );
        }
        for (i, key) in self.dkim.keys.iter().enumerate() {
            if key.domain.trim().is_empty() || key.selector.trim().is_empty() {
                bail!(
                    "dkim.key[{i}]{}: domain and selector are required",
                    block_line(text, "[[dkim.key]]", i)
                );
            }
            // one selector of one domain is one DNS record: a second key there (a rotation
            // that reused the active key's selector) would replace the first key's record
            let record = key.record_name();
            if let Some(j) = self
                .dkim
                .keys
                .iter()
                .take(i)
                .position(|k| k.record_name() == record)
            {
                bail!(
                    "dkim.key[{i}]{}: {record} is already dkim.key[{j}]'s record; give each key its own selector",
                    block_line(text, "[[dkim.key]]", i)
                );
            }
            // a rule names keys by id: two keys with one id would make it pick one silently
            let id = key.id();
            if let Some(j) = self.dkim.keys.iter().take(i).position(|k| k.id() == id) {
                bail!(
                    "dkim.key[{i}]{}: the name {id:?} is already dkim.key[{j}]'s; give each key its own `name`",
                    line_of(&id)
                );
            }
        }
        for (i, rule) in self.dkim.signing.iter().enumerate() {
            for name in &rule.keys {
                if !self.dkim.keys.iter().any(|k| k.id() == *name) {
                    bail!(
                        "dkim.signing[{i}].keys{}: no [[dkim.key]] named {name:?} (a key's name is its `name`, or \"selector._domainkey.domain\")",
                        line_of(name)
                    );
                }
            }
            if rule.from.trim().is_empty() {
                bail!("dkim.signing[{i}].from: must not be empty");
            }
            // matched against the From domain: anything but `*`, `DOMAIN` or `*.DOMAIN` would
            // never match, and the mail it was meant for would go out unsigned
            let from = rule.from.trim();
            let domain = from.strip_prefix("*.").unwrap_or(from);
            if from != "*" && super::allowed_domain(domain).is_none() {
                let hint = from
                    .rsplit_once('@')
                    .map(|(_, d)| format!("; rules match the From domain: write \"{d}\""))
                    .unwrap_or_default();
                bail!(
                    "dkim.signing[{i}].from{}: {from:?} is not \"*\", a domain or \"*.\" and a domain{hint}",
                    line_of(from)
                );
            }
        }
        if !(1..=arc::MAX_INSTANCE).contains(&self.arc.max_sets) {
            // 0 would fail every chain; past 50 no chain is valid (RFC 8617 §4.2.1)
            bail!(
                "arc.max_sets{}: must be 1 to {} (turn validation off with verify = false)",
                line_of("max_sets"),
                arc::MAX_INSTANCE
            );
        }
        if self.arc.seal && !self.arc.verify {
            bail!(
                "arc.seal{}: sealing needs arc.verify = true (the seal's cv= is the validation result)",
                line_of("seal")
            );
        }
        for (i, d) in self.arc.trusted_sealers.iter().enumerate() {
            if !dns::name::is_host_like(d.trim().trim_end_matches('.')) {
                bail!(
                    "arc.trusted_sealers[{i}]{}: {d:?} is not a domain name",
                    line_of("trusted_sealers")
                );
            }
        }
        for (i, name) in self.outbound.daemon_names.iter().enumerate() {
            // the macro's value is one word (Postfix milter_macro_daemon_name, Sendmail
            // DaemonPortOptions Name=) compared exactly: " ORIGINATING" never matched, and our
            // users' mail went unsigned, as inbound
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                bail!(
                    "outbound.daemon_names[{i}]{}: {name:?} is not a daemon name (one word, as milter_macro_daemon_name or Sendmail's Name= is written, e.g. \"ORIGINATING\")",
                    line_of("daemon_names")
                );
            }
        }
        self.policy.validate(&in_section("[policy]"))?;
        self.reports.validate(&in_section("[reports]"))?;
        for (key, section, value) in [
            ("reports.queue", "[reports]", self.reports.queue),
            ("reports.batch_size", "[reports]", self.reports.batch_size),
            (
                "reports.failure.queue",
                "[reports.failure]",
                self.reports.failure.queue,
            ),
        ] {
            if value > MAX_COUNT {
                bail!(
                    "{key}{}: at most {}",
                    line_in_section(text, section, key.rsplit('.').next().unwrap_or(key)),
                    MAX_COUNT
                );
            }
        }
        self.reports.inbox.validate(
            self.server.eom_timeout.get(),
            &in_section("[reports.inbox]"),
        )?;
        self.dashboard.validate(&in_section("[dashboard]"))?;
        if let Some(addr) = self.metrics.listen.0
            && !addr.ip().is_loopback()
            && !self.metrics.allow_remote
        {
            bail!(
                "metrics.listen{}: {addr} is not a loopback address; the metrics would reach the network. Use 127.0.0.1 or [::1], or set [metrics] allow_remote = true (and firewall the port)",
                line_of(&addr.to_string())
            );
        }
        if let Some(SocketSpec::Inet { host, port }) = &self.srs.socketmap.0
            && !self.srs.allow_remote
            && !is_loopback_host(host)
        {
            bail!(
                "srs.socketmap{}: {host}:{port} is not a loopback address; anyone who reaches it gets valid SRS addresses for any recipient (an open relay). Use inet:127.0.0.1:PORT or a unix: socket, or set [srs] allow_remote = true (and firewall the port)",
                line_of("socketmap")
            );
        }
        self.srs.validate(&in_section("[srs]"))?;
        if self.srs.enabled && self.srs.domain.trim().is_empty() {
            bail!(
                "srs.domain{}: required when srs.enabled = true",
                line_of("[srs]")
            );
        }
        Ok(())
    }
}

impl Config {
    /// The SRS socketmap, the metrics and the dashboard each need a socket of their own: one
    /// that a listener (or the other of them) has cannot be bound twice.
    fn sockets_once(&self, text: &str) -> anyhow::Result<()> {
        let inet = |a: std::net::SocketAddr| SocketSpec::Inet {
            host: a.ip().to_string(),
            port: a.port(),
        };
        let mut taken: Vec<(String, SocketSpec)> = self
            .server
            .listen
            .iter()
            .enumerate()
            .map(|(i, l)| (format!("server.listen[{i}]"), l.socket.clone()))
            .collect();
        let others = [
            (
                "srs.socketmap",
                "[srs]",
                "socketmap",
                self.srs.socketmap.0.clone(),
            ),
            (
                "metrics.listen",
                "[metrics]",
                "listen",
                self.metrics.listen.0.map(inet),
            ),
            (
                "dashboard.listen",
                "[dashboard]",
                "listen",
                self.dashboard.listen.0.map(inet),
            ),
        ];
        for (key, section, needle, spec) in others {
            let Some(spec) = spec else { continue };
            if let Some((owner, _)) = taken.iter().find(|(_, t)| same_socket(t, &spec)) {
                bail!(
                    "{key}{}: {spec} is already {owner}'s; each socket once",
                    line_in_section(text, section, needle)
                );
            }
            taken.push((key.to_string(), spec));
        }
        Ok(())
    }
}

impl Config {
    /// Each reply template uses only the placeholders its reply fills (`{explanation}` in
    /// a DMARC rejection would stay empty).
    fn reply_placeholders(&self, text: &str) -> anyhow::Result<()> {
        let replies: [(&str, &str, &str, &reply::ReplyTemplate, &[&str]); 5] = [
            (
                "spf.reject_reply",
                "[spf]",
                "reject_reply",
                &self.spf.reject_reply,
                &["domain", "explanation"],
            ),
            (
                "spf.tempfail_reply",
                "[spf]",
                "tempfail_reply",
                &self.spf.tempfail_reply,
                &["domain"],
            ),
            (
                "dmarc.reject_reply",
                "[dmarc]",
                "reject_reply",
                &self.dmarc.reject_reply,
                &["domain"],
            ),
            (
                "dmarc.invalid_from_reply",
                "[dmarc]",
                "invalid_from_reply",
                &self.dmarc.invalid_from_reply,
                &["problem"],
            ),
            (
                "policy.tempfail_reply",
                "[policy]",
                "tempfail_reply",
                &self.policy.tempfail_reply,
                &["domain"],
            ),
        ];
        for (key, section, needle, template, filled) in replies {
            if let Some(slot) = template.unfilled(filled) {
                let usable: Vec<String> = filled.iter().map(|f| format!("{{{f}}}")).collect();
                bail!(
                    "{key}{}: {{{slot}}} is not filled in this reply (it can use {})",
                    line_in_section(text, section, needle),
                    usable.join(" and ")
                );
            }
        }
        Ok(())
    }
}

/// The same socket: one Unix path (its directory resolved when it exists, so `sd/../sd/m.sock`
/// and a symbolic link to `sd` name `sd/m.sock`), or one port on overlapping addresses (IP
/// literals compared as the kernel does, names case-insensitively).
fn same_socket(a: &SocketSpec, b: &SocketSpec) -> bool {
    match (a, b) {
        (SocketSpec::Unix(a), SocketSpec::Unix(b)) => {
            a == b || matches!((resolved(a), resolved(b)), (Some(x), Some(y)) if x == y)
        }
        (SocketSpec::Inet { host: ha, port: pa }, SocketSpec::Inet { host: hb, port: pb }) => {
            let ip = |h: &str| {
                h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .ok()
            };
            pa == pb
                && match (ip(ha), ip(hb)) {
                    (Some(a), Some(b)) => addresses_overlap(a, b),
                    _ => ha.eq_ignore_ascii_case(hb),
                }
        }
        _ => false,
    }
}

/// A Unix socket path with its directory resolved (`..`, symbolic links); `None` when the
/// directory does not exist (yet) or the path names no file in it.
fn resolved(path: &std::path::Path) -> Option<std::path::PathBuf> {
    let name = path.file_name()?;
    let dir = path.parent()?;
    Some(std::fs::canonicalize(dir).ok()?.join(name))
}

/// Whether one port bound on `a` keeps it from being bound on `b` (Linux, SO_REUSEADDR as
/// tokio sets it): the same address (`::ffff:127.0.0.1` is `127.0.0.1`), or a wildcard of the
/// other's family; `::` covers IPv4 too unless `net.ipv6.bindv6only` is 1.
pub(crate) fn addresses_overlap(a: IpAddr, b: IpAddr) -> bool {
    let (a, b) = (a.to_canonical(), b.to_canonical());
    let covers = |w: IpAddr, other: IpAddr| {
        w.is_unspecified()
            && match (w, other) {
                (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => true,
                (IpAddr::V6(_), IpAddr::V4(_)) => dual_stack(),
                (IpAddr::V4(_), IpAddr::V6(_)) => false,
            }
    };
    a == b || covers(a, b) || covers(b, a)
}

/// An IPv6 wildcard socket also takes IPv4 (Linux's default, `net.ipv6.bindv6only = 0`,
/// which tokio's sockets follow).
fn dual_stack() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").map_or(true, |v| v.trim() != "1")
}

/// The largest connection limit or queue length accepted (a bounded queue past tokio's
/// semaphore limit panics; long before that the memory is gone).
const MAX_COUNT: usize = 1_000_000;

/// The most PTR names iprev looks up a message (RFC 8601 §3 leaves the bound to the verifier).
const MAX_IPREV_NAMES: usize = 50;

/// The most DKIM signatures verified a message (RFC 6376 §6.1: verifiers may limit them).
const MAX_DKIM_SIGNATURES: usize = 50;

/// The largest milter frame accepted, 64 MiB (docs/configuration.md, `[server]`).
const MAX_PACKET_SIZE: usize = 64 << 20;

/// The longest signature lifetime accepted (100 years): x= stays far within its 12 digits
/// (RFC 6376 §3.5).
const MAX_EXPIRATION_SECS: u64 = 36_500 * 86_400;

/// ` (line N)` of the first line containing `needle` after the `section` header line, for
/// keys whose name other sections use too (`timeout`).
/// ` (line N)` of `needle` in `text`: the first line that sets it as a key, within
/// `section` when one is given (a `[section]` needle is that header line). Keys are compared
/// by their whole dotted path, so `failure.reporting_mta = …` under `[reports]` is
/// `reports.failure.reporting_mta`, and a comment after a header does not hide it. Without a
/// section, any key whose path ends with `needle` matches, else the first line holding
/// `needle` anywhere (a value). Empty when there is none.
fn line_of_key(text: &str, section: Option<&str>, needle: &str) -> String {
    let header = |t: &str| header_of(t).map(|(_, name)| name);
    let found = |n: usize| format!(" (line {})", n + 1);
    if needle.starts_with('[') {
        let wanted = header(needle);
        return text
            .lines()
            .position(|l| header(l.trim()).is_some_and(|h| Some(h) == wanted))
            .map(found)
            .unwrap_or_default();
    }
    let key = needle.trim_end_matches('=').trim();
    let target = section.and_then(header).map(|s| format!("{s}.{key}"));
    let mut current = String::new();
    let mut fallback = None;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = header(t) {
            current = h;
            continue;
        }
        if t.starts_with('#') {
            continue;
        }
        if let Some((k, _)) = t.split_once('=') {
            let k = k.trim().trim_matches('"');
            let path = if current.is_empty() {
                k.to_string()
            } else {
                format!("{current}.{k}")
            };
            let hit = match &target {
                Some(target) => &path == target,
                None => path == key || path.ends_with(&format!(".{key}")),
            };
            if hit {
                return found(n);
            }
        }
        if section.is_none() && fallback.is_none() && line.contains(needle) {
            fallback = Some(n);
        }
    }
    fallback.map(found).unwrap_or_default()
}

fn line_in_section(text: &str, section: &str, needle: &str) -> String {
    text.lines()
        .enumerate()
        .skip_while(|(_, l)| !is_header(l, section))
        .find(|(_, l)| l.trim_start().starts_with(needle))
        .map(|(i, _)| format!(" (line {})", i + 1))
        .unwrap_or_default()
}

/// Whether `line` is the section header `header` (`[dns]`, `[[dkim.key]]`), a comment after
/// it and white space inside the brackets aside.
fn is_header(line: &str, header: &str) -> bool {
    header_of(line).is_some_and(|h| Some(h) == header_of(header))
}

/// A section header line as TOML reads it: its bracket depth (1 for `[dns]`, 2 for
/// `[[dkim.key]]`) and its name, a comment after it and white space inside the brackets
/// aside; `None` for any other line.
fn header_of(line: &str) -> Option<(usize, String)> {
    let t = line.split('#').next().unwrap_or_default().trim();
    let depth = t.chars().take_while(|&c| c == '[').count();
    (depth > 0).then(|| {
        let name = t.trim_start_matches('[').trim_end_matches(']').trim();
        (depth, name.to_string())
    })
}

/// ` (line N)` of the header of the `index`th `header` block (`[[dkim.key]]`), from 0.
fn block_line(text: &str, header: &str, index: usize) -> String {
    text.lines()
        .enumerate()
        .filter(|(_, l)| is_header(l, header))
        .nth(index)
        .map(|(n, _)| format!(" (line {})", n + 1))
        .unwrap_or_default()
}

/// ` (line N)` of the first line starting with `key` in the `index`th `header` block
/// (`[[server.listen]]`), counted from 0.
fn line_in_block(text: &str, header: &str, index: usize, key: &str) -> String {
    let mut blocks = -1_i64;
    let mut current = false;
    for (n, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            let ours = is_header(t, header);
            if ours {
                blocks += 1;
            }
            current = ours && usize::try_from(blocks).is_ok_and(|b| b == index);
        } else if current && t.starts_with(key) {
            return format!(" (line {})", n + 1);
        }
    }
    String::new()
}

impl Config {
    /// Files the running milter opens must be named by absolute paths: a relative one is read
    /// from the working directory, which `config check` run in the config's directory and
    /// `serve` under systemd (working directory `/`) do not share, so the check passed and the
    /// service failed (as relative Unix socket paths already are refused).
    fn absolute_paths(&self) -> anyhow::Result<()> {
        let mut paths: Vec<(String, &std::path::Path)> = self
            .dkim
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (format!("dkim.key[{i}].path"), k.path.as_path()))
            .collect();
        paths.push(("dkim.state_file".into(), self.dkim.state_file.as_path()));
        paths.push(("srs.secrets".into(), self.srs.secrets.as_path()));
        paths.push((
            "reports.failure.redaction_key".into(),
            self.reports.failure.redaction_key.as_path(),
        ));
        paths.push((
            "dashboard.token_file".into(),
            self.dashboard.token_file.as_path(),
        ));
        if let report_store::StoreLocation::Sqlite(file) = &self.reports.store.0 {
            paths.push(("reports.store".into(), file.as_path()));
        }
        for (key, path) in paths {
            if !path.as_os_str().is_empty() && path.is_relative() {
                bail!(
                    "{key}: {} is a relative path; write it whole (under systemd the working directory is /)",
                    path.display()
                );
            }
        }
        Ok(())
    }
}
