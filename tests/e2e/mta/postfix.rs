//! A throwaway Postfix instance: its own `config_directory`, `queue_directory` and
//! `data_directory` under the test's work directory, SMTP on loopback ports of our choosing,
//! every daemon unchrooted, delivery of everything to the sink (no DNS), logs in a file.
//!
//! How a non-default configuration directory works with Debian's Postfix 3.7: `postfix -c DIR`
//! exports `MAIL_CONFIG=DIR` to `postfix-script` and the daemons. Postfix insists that such a
//! directory be listed in `alternate_config_directories` or `multi_instance_directories` of
//! the *default* `/etc/postfix/main.cf` only for set-gid programs (`postdrop`, `postqueue`) and
//! for non-root users of `postfix`; root may start, check and stop an instance from any
//! directory. So the harness runs as root, never uses `sendmail`/`postdrop`/`postqueue`
//! (it submits over SMTP and looks at the queue directories directly), and never reads or
//! writes anything under `/etc/postfix`: the machine's own Postfix configuration (present or
//! not) is left exactly as it was. `postfix start` runs `post-install create-missing`, which
//! creates the queue and data directories with the owners from `postfix-files` (user
//! `postfix`, group `postdrop`, both made by the Debian package).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::smtp::SmtpClient;
use test_support::{free_port, process};

/// The instance's `myhostname` (also our authserv-id).
pub const MYHOSTNAME: &str = super::milter::AUTHSERV_ID;

/// One `smtpd` listener in master.cf.
#[derive(Debug, Clone)]
pub struct SmtpService {
    /// How tests refer to it (also its `syslog_name` suffix).
    pub name: String,
    /// `-o` overrides for this service, e.g. `smtpd_milters`.
    pub options: Vec<(String, String)>,
}

impl SmtpService {
    /// A service whose `smtpd_milters` is `milters` (empty: no milter).
    pub fn with_milter(name: &str, milters: &str) -> SmtpService {
        SmtpService {
            name: name.to_string(),
            options: vec![("smtpd_milters".into(), milters.to_string())],
        }
    }
}

/// What the instance looks like besides the harness defaults.
#[derive(Debug, Clone, Default)]
pub struct PostfixSpec {
    /// The SMTP listeners.
    pub services: Vec<SmtpService>,
    /// main.cf settings added to (or replacing) the defaults. `{config}` is replaced by the
    /// configuration directory.
    pub main: Vec<(String, String)>,
    /// Files written into the configuration directory (name, content), e.g. a `texthash`
    /// virtual alias table.
    pub files: Vec<(String, String)>,
}

/// A running Postfix. Stopped on drop: `postfix -c DIR stop`, then the master's PID (from
/// its pid file) is waited for and killed with its process group if it lingers.
pub struct Postfix {
    postfix: PathBuf,
    config_dir: PathBuf,
    queue_dir: PathBuf,
    maillog: PathBuf,
    ports: Vec<(String, u16)>,
    master_pid: Option<u32>,
}

impl Postfix {
    /// Writes the configuration under `dir/postfix-<name>` and starts the instance; waits
    /// (bounded) until every SMTP service greets. `relay` is the sink every message goes to.
    pub fn start(
        dir: &Path,
        name: &str,
        relay: SocketAddr,
        spec: &PostfixSpec,
    ) -> Result<Postfix, String> {
        let postfix = process::find_program("postfix")
            .ok_or("postfix not found (install the Debian package `postfix`)")?;
        if !process::is_root() {
            return Err("the Postfix harness must run as root (postfix start needs it)".into());
        }
        let mut last = String::new();
        for attempt in 0..3 {
            let base = dir.join(format!("postfix-{name}-{attempt}"));
            match Self::try_start(&postfix, &base, relay, spec) {
                Ok(p) => return Ok(p),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn try_start(
        postfix: &Path,
        base: &Path,
        relay: SocketAddr,
        spec: &PostfixSpec,
    ) -> Result<Postfix, String> {
        let config_dir = base.join("etc");
        let queue_dir = base.join("spool");
        // `postfix` changes into the queue directory before anything else; post-install
        // (run by `postfix start`) creates what is inside it, and the data directory.
        for d in [&config_dir, &queue_dir] {
            std::fs::create_dir_all(d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
        }
        // The unprivileged daemons (user postfix) must be able to reach the queue directory.
        make_traversable(base, dir_of(base))?;
        let data_dir = base.join("data");
        let maillog = base.join("maillog");
        let ports: Vec<(String, u16)> = spec
            .services
            .iter()
            .map(|s| (s.name.clone(), free_port()))
            .collect();
        let main = main_cf(&config_dir, &queue_dir, &data_dir, &maillog, relay, spec);
        std::fs::write(config_dir.join("main.cf"), main).map_err(|e| e.to_string())?;
        std::fs::write(config_dir.join("master.cf"), master_cf(spec, &ports))
            .map_err(|e| e.to_string())?;
        for (file, content) in &spec.files {
            std::fs::write(config_dir.join(file), content).map_err(|e| e.to_string())?;
        }
        let mut instance = Postfix {
            postfix: postfix.to_path_buf(),
            config_dir,
            queue_dir,
            maillog,
            ports,
            master_pid: None,
        };
        let out = process::run(
            Command::new(&instance.postfix)
                .arg("-c")
                .arg(&instance.config_dir)
                .arg("start"),
            Duration::from_secs(60),
        );
        instance.master_pid = instance.read_master_pid();
        let started = match &out {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!(
                "postfix start failed ({}): {}{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )),
            Err(e) => Err(e.clone()),
        };
        let greeted = started.and_then(|()| {
            for (name, port) in &instance.ports {
                let addr = SocketAddr::from(([127, 0, 0, 1], *port));
                let ok = process::poll(Duration::from_secs(20), || {
                    let c = SmtpClient::connect(addr, Duration::from_secs(5)).ok()?;
                    let code = c.greeting.code;
                    c.quit();
                    (code == 220).then_some(())
                });
                if ok.is_none() {
                    return Err(format!(
                        "Postfix service {name} on port {port} does not greet"
                    ));
                }
            }
            Ok(())
        });
        match greeted {
            Ok(()) => Ok(instance),
            Err(e) => {
                let log = instance.log_tail(40);
                instance.stop();
                Err(format!("{e}\n--- maillog ---\n{log}"))
            }
        }
    }

    /// The address of the named SMTP service.
    pub fn smtp(&self, service: &str) -> SocketAddr {
        let port = self
            .ports
            .iter()
            .find(|(n, _)| n == service)
            .map(|(_, p)| *p)
            .unwrap_or_else(|| panic!("no Postfix service named {service}"));
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The last `n` lines of the Postfix log.
    pub fn log_tail(&self, n: usize) -> String {
        process::tail(&self.maillog, n)
    }

    /// Queue files of messages Postfix still holds (incoming, active, deferred, hold).
    pub fn queued(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for sub in ["maildrop", "incoming", "active", "deferred", "hold"] {
            collect_files(&self.queue_dir.join(sub), &mut found);
        }
        found
    }

    fn read_master_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.queue_dir.join("pid/master.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// `postfix stop`, then makes sure the master (by PID) is gone. Idempotent.
    pub fn stop(&mut self) {
        let pid = self.master_pid.take().or_else(|| self.read_master_pid());
        let Some(pid) = pid else { return };
        if !process::pid_alive(pid) {
            return;
        }
        let _ = process::run(
            Command::new(&self.postfix)
                .arg("-c")
                .arg(&self.config_dir)
                .arg("stop"),
            Duration::from_secs(30),
        );
        let gone = process::poll(Duration::from_secs(15), || {
            (!process::pid_alive(pid)).then_some(())
        });
        if gone.is_none() {
            // The master leads its own process group (setsid): take the daemons along.
            process::signal(&format!("-{pid}"), "KILL");
            process::signal(&pid.to_string(), "KILL");
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
    }
}

/// main.cf: the harness defaults, then the spec's settings (which win).
fn main_cf(
    config: &Path,
    queue: &Path,
    data: &Path,
    maillog: &Path,
    relay: SocketAddr,
    spec: &PostfixSpec,
) -> String {
    let base = maillog.parent().unwrap_or(config);
    let defaults: Vec<(&str, String)> = vec![
        ("compatibility_level", "3.6".into()),
        ("config_directory", config.display().to_string()),
        ("queue_directory", queue.display().to_string()),
        ("data_directory", data.display().to_string()),
        // Logs go to a file of ours through postlogd (there is no syslog in a container).
        ("maillog_file", maillog.display().to_string()),
        ("maillog_file_prefixes", base.display().to_string()),
        ("myhostname", MYHOSTNAME.into()),
        ("mydomain", "test.example".into()),
        ("myorigin", "$myhostname".into()),
        // No local delivery at all: everything is relayed to the sink.
        ("mydestination", String::new()),
        ("local_recipient_maps", String::new()),
        ("alias_maps", String::new()),
        ("alias_database", String::new()),
        ("inet_interfaces", "127.0.0.1".into()),
        ("inet_protocols", "ipv4".into()),
        ("mynetworks", "127.0.0.0/8".into()),
        ("relayhost", format!("[{}]:{}", relay.ip(), relay.port())),
        ("smtp_dns_support_level", "disabled".into()),
        ("smtp_host_lookup", "native".into()),
        ("smtpd_peername_lookup", "no".into()),
        ("smtp_tls_security_level", "none".into()),
        ("smtpd_tls_security_level", "none".into()),
        ("smtputf8_enable", "no".into()),
        ("biff", "no".into()),
        ("append_dot_mydomain", "no".into()),
        ("in_flow_delay", "0".into()),
        ("smtpd_error_sleep_time", "0".into()),
        // A delivery that fails once is retried soon, not in minutes.
        ("minimal_backoff_time", "1s".into()),
        ("maximal_backoff_time", "2s".into()),
        ("queue_run_delay", "1s".into()),
        ("milter_protocol", "6".into()),
        ("milter_default_action", "tempfail".into()),
        ("smtpd_milters", String::new()),
        ("non_smtpd_milters", String::new()),
    ];
    let mut settings: BTreeMap<String, String> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let config_str = config.display().to_string();
    for (k, v) in defaults
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(spec.main.iter().cloned())
    {
        if !settings.contains_key(&k) {
            order.push(k.clone());
        }
        settings.insert(k, v.replace("{config}", &config_str));
    }
    let mut out = String::from("# written by the authmilter MTA test harness\n");
    for k in order {
        out.push_str(&format!("{k} = {}\n", settings[&k]));
    }
    out
}

/// master.cf: the SMTP services on their ports and the internal services, none chrooted.
fn master_cf(spec: &PostfixSpec, ports: &[(String, u16)]) -> String {
    let mut out = String::from(
        "# written by the authmilter MTA test harness; every service with chroot n\n\
         # service type  private unpriv  chroot  wakeup  maxproc command\n",
    );
    for (service, (_, port)) in spec.services.iter().zip(ports) {
        out.push_str(&format!("127.0.0.1:{port} inet n - n - - smtpd\n"));
        out.push_str(&format!("  -o syslog_name=postfix/{}\n", service.name));
        for (k, v) in &service.options {
            // master.cf -o values cannot contain spaces: use commas.
            out.push_str(&format!("  -o {k}={}\n", v.replace(' ', ",")));
        }
    }
    out.push_str(
        "pickup    unix  n       -       n       60      1       pickup\n\
         cleanup   unix  n       -       n       -       0       cleanup\n\
         qmgr      unix  n       -       n       300     1       qmgr\n\
         rewrite   unix  -       -       n       -       -       trivial-rewrite\n\
         bounce    unix  -       -       n       -       0       bounce\n\
         defer     unix  -       -       n       -       0       bounce\n\
         trace     unix  -       -       n       -       0       bounce\n\
         verify    unix  -       -       n       -       1       verify\n\
         flush     unix  n       -       n       1000?   0       flush\n\
         proxymap  unix  -       -       n       -       -       proxymap\n\
         smtp      unix  -       -       n       -       -       smtp\n\
         relay     unix  -       -       n       -       -       smtp\n\
         error     unix  -       -       n       -       -       error\n\
         retry     unix  -       -       n       -       -       error\n\
         discard   unix  -       -       n       -       -       discard\n\
         anvil     unix  -       -       n       -       1       anvil\n\
         scache    unix  -       -       n       -       1       scache\n\
         postlog   unix-dgram n  -       n       -       1       postlogd\n",
    );
    out
}

/// Makes `base` and `work` (both ours; the work directory is created 0700) traversable for
/// the `postfix` user, and checks that the directories above them already are.
fn make_traversable(base: &Path, work: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    for d in [work, base] {
        let mode = std::fs::metadata(d)
            .map_err(|e| format!("stat {}: {e}", d.display()))?
            .permissions()
            .mode();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o755))
            .map_err(|e| format!("chmod {}: {e}", d.display()))?;
    }
    for d in work.ancestors().skip(1) {
        let mode = std::fs::metadata(d)
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        if mode & 0o001 == 0 {
            return Err(format!(
                "{} is not searchable by the postfix user; set TMPDIR to a directory that is \
                 (e.g. /tmp)",
                d.display()
            ));
        }
    }
    Ok(())
}

/// The work directory `base` was made in.
fn dir_of(base: &Path) -> &Path {
    base.parent().unwrap_or(base)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_files(&p, out);
        } else {
            out.push(p);
        }
    }
}
