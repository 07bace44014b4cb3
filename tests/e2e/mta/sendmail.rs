//! A throwaway Sendmail 8.17 from Debian's packages, extracted but not installed.
//!
//! Debian's `sendmail-bin` conflicts with `postfix` (both are a `mail-transport-agent`), so
//! installing it would remove the Postfix the other tests need. `tests/install-deps.sh` therefore
//! only downloads `sendmail-bin`, `sendmail-base`, `sendmail-cf`, `m4` and the libraries
//! Sendmail links that the machine lacks (usually only `libwrap0`) and unpacks them with
//! `dpkg -x` into a private root
//! (default `/var/cache/authmilter-test/sendmail/root`, or `$AUTHMILTER_SENDMAIL_ROOT`); nothing
//! is registered with dpkg, nothing under `/etc` or `/usr` changes.
//!
//! From that root the harness builds a `.cf` with the extracted `m4` and cf macros (loopback
//! port, own queue directory, pid and status files, no alias file, deferred delivery so that
//! accepted mail stays in the queue, the milter as `INPUT_MAIL_FILTER`) and runs
//! `sendmail -bD -C <cf>` as a child, as root, stopped by its PID (process group) on drop.
//!
//! One thing cannot be configured: before reading any configuration, Sendmail qualifies the
//! machine's host name, and if the name has no dot and none of its aliases has one it sleeps
//! 60 s ("My unqualified host name ... unknown; sleeping for retry"). Containers are usually
//! named `vm` or a hex id. So Sendmail runs under `unshare --mount --uts` with its own host name
//! (`mx.test.example`) and, bind-mounted inside that private mount namespace only, its own
//! `/etc/hosts` (the name on 127.0.0.1) and `/etc/nsswitch.conf` (hosts from files: Sendmail
//! makes no DNS query at all). The machine's host name and files are untouched.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::message::Message;
use super::smtp::SmtpClient;
use test_support::{free_port, process};

/// Where `tests/install-deps.sh` unpacks the packages unless `$AUTHMILTER_SENDMAIL_ROOT` says
/// otherwise.
pub const DEFAULT_ROOT: &str = "/var/cache/authmilter-test/sendmail/root";

/// The host name Sendmail runs with (also our authserv-id).
pub const HOSTNAME: &str = super::milter::AUTHSERV_ID;

/// The extracted packages.
#[derive(Debug, Clone)]
pub struct SendmailRoot {
    root: PathBuf,
}

impl SendmailRoot {
    /// Finds the extracted packages and checks that everything the harness runs is there.
    pub fn locate() -> Result<SendmailRoot, String> {
        let root = std::env::var_os("AUTHMILTER_SENDMAIL_ROOT")
            .map_or_else(|| PathBuf::from(DEFAULT_ROOT), PathBuf::from);
        let found = SendmailRoot { root };
        for p in [found.binary(), found.m4(), found.cf_dir().join("m4/cf.m4")] {
            if !p.is_file() {
                return Err(format!(
                    "{} is missing: run tests/install-deps.sh (it downloads and unpacks \
                     sendmail-bin, sendmail-cf and m4 into {} without installing them)",
                    p.display(),
                    found.root.display()
                ));
            }
        }
        if process::find_program("unshare").is_none() {
            return Err("`unshare` (util-linux) is missing".into());
        }
        Ok(found)
    }

    /// The MTA binary.
    pub fn binary(&self) -> PathBuf {
        self.root.join("usr/libexec/sendmail/sendmail")
    }

    fn m4(&self) -> PathBuf {
        self.root.join("usr/bin/m4")
    }

    fn cf_dir(&self) -> PathBuf {
        self.root.join("usr/share/sendmail/cf")
    }

    /// Extracted libraries (`libwrap.so.0`) for `LD_LIBRARY_PATH`. The binary is set-group-id
    /// `mail` in the package, which would make the loader ignore the variable; install-deps.sh
    /// clears that bit on the extracted copy.
    /// The multiarch directories (`usr/lib/<triplet>`, any architecture) come first.
    fn library_path(&self) -> String {
        let mut dirs = Vec::new();
        for base in ["usr/lib", "lib"] {
            let base = self.root.join(base);
            if let Ok(entries) = std::fs::read_dir(&base) {
                let mut multiarch: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_dir() && p.to_string_lossy().contains("-linux-"))
                    .collect();
                multiarch.sort();
                dirs.extend(multiarch);
            }
        }
        dirs.push(self.root.join("usr/lib"));
        dirs.push(self.root.join("lib"));
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// A running Sendmail daemon. Stopped by PID on drop: SIGTERM to the process group it leads
/// (the daemon and its per-connection children), SIGKILL after 10 s.
pub struct Sendmail {
    child: Option<Child>,
    base: PathBuf,
    port: u16,
    greeting: String,
}

impl Sendmail {
    /// Writes `.mc`, `.cf` and the files Sendmail reads under `dir/sendmail-<name>-N` and starts
    /// the daemon with `milter` (`inet:PORT@127.0.0.1`) as its one input mail filter; waits
    /// (bounded) for its greeting. Retries with a fresh port if the port was taken.
    pub fn start(
        root: &SendmailRoot,
        dir: &Path,
        name: &str,
        milter: &str,
    ) -> Result<Sendmail, String> {
        if !process::is_root() {
            return Err("the Sendmail harness must run as root (unshare, bind mounts)".into());
        }
        let mut last = String::new();
        for attempt in 0..3 {
            let base = dir.join(format!("sendmail-{name}-{attempt}"));
            match Self::try_start(root, &base, milter) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn try_start(root: &SendmailRoot, base: &Path, milter: &str) -> Result<Sendmail, String> {
        use std::os::unix::fs::PermissionsExt;
        let queue = base.join("mqueue");
        std::fs::create_dir_all(&queue).map_err(|e| format!("mkdir {}: {e}", queue.display()))?;
        std::fs::set_permissions(&queue, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| e.to_string())?;
        let port = free_port();
        let write = |file: &str, text: &str| {
            std::fs::write(base.join(file), text).map_err(|e| format!("write {file}: {e}"))
        };
        write(
            "hosts",
            &format!("127.0.0.1 localhost\n127.0.0.1 {HOSTNAME}\n"),
        )?;
        write("nsswitch.conf", &nsswitch_files_only())?;
        write("service.switch", "hosts files\naliases files\n")?;
        for empty in ["local-host-names", "relay-domains", "trusted-users"] {
            write(empty, "")?;
        }
        write("test.mc", &mc(root, base, port, milter))?;
        let cf = base.join("sendmail.cf");
        let m4 = process::run(
            Command::new(root.m4()).arg(base.join("test.mc")),
            Duration::from_secs(30),
        )?;
        if !m4.status.success() {
            return Err(format!(
                "m4 failed: {}",
                String::from_utf8_lossy(&m4.stderr)
            ));
        }
        std::fs::write(&cf, &m4.stdout).map_err(|e| format!("write sendmail.cf: {e}"))?;
        let log = std::fs::File::create(base.join("sendmail.out")).map_err(|e| e.to_string())?;
        // $1 hosts, $2 nsswitch.conf, $3 host name, $4 sendmail, $5 .cf, $6 traffic log
        let script = "mount --bind \"$1\" /etc/hosts && mount --bind \"$2\" /etc/nsswitch.conf \
                      && hostname \"$3\" && exec \"$4\" -bD -C \"$5\" -X \"$6\"";
        let child = Command::new("unshare")
            .args(["--mount", "--uts", "--", "/bin/sh", "-c", script, "sh"])
            .arg(base.join("hosts"))
            .arg(base.join("nsswitch.conf"))
            .arg(HOSTNAME)
            .arg(root.binary())
            .arg(&cf)
            .arg(base.join("traffic.log"))
            .env("LD_LIBRARY_PATH", root.library_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("spawn unshare: {e}"))?;
        let mut sendmail = Sendmail {
            child: Some(child),
            base: base.to_path_buf(),
            port,
            greeting: String::new(),
        };
        let addr = sendmail.smtp();
        let greeted = process::poll(Duration::from_secs(20), || {
            if sendmail.exited() {
                return Some(None);
            }
            let c = SmtpClient::connect(addr, Duration::from_secs(5)).ok()?;
            let ok = c.greeting.code == 220;
            let greeting = c.greeting.text();
            c.quit();
            ok.then_some(Some(greeting))
        })
        .flatten();
        sendmail.greeting = greeted.clone().unwrap_or_default();
        if greeted.is_none() {
            let out = sendmail.output();
            sendmail.stop();
            return Err(format!(
                "Sendmail did not greet on {addr} (config {}):\n{out}",
                cf.display()
            ));
        }
        Ok(sendmail)
    }

    /// Where Sendmail listens for SMTP.
    pub fn smtp(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The SMTP greeting (`mx.test.example ESMTP Sendmail 8.17.1.9/8.17.1.9; <date>`).
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// The generated configuration.
    pub fn cf(&self) -> String {
        std::fs::read_to_string(self.base.join("sendmail.cf")).unwrap_or_default()
    }

    /// What Sendmail printed, and the tail of its traffic log (`-X`), for failure messages.
    /// (Sendmail logs only to syslog, which a container usually lacks.)
    pub fn output(&self) -> String {
        format!(
            "--- sendmail stdout/stderr ---\n{}\n--- sendmail traffic log (tail) ---\n{}",
            process::tail(&self.base.join("sendmail.out"), 20),
            process::tail(&self.base.join("traffic.log"), 40)
        )
    }

    /// The queued message (`qf` header lines, `df` body) whose queue files contain `marker`.
    pub fn queued(&self, marker: &str) -> Option<Queued> {
        let entries = std::fs::read_dir(self.base.join("mqueue")).ok()?;
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for qf in files.iter().filter(|p| file_name_starts(p, "qf")) {
            let id = qf.file_name()?.to_str()?.get(2..)?.to_string();
            let df = qf.with_file_name(format!("df{id}"));
            let qf_text = std::fs::read(qf).unwrap_or_default();
            let body = std::fs::read(&df).unwrap_or_default();
            if contains(&qf_text, marker) || contains(&body, marker) {
                return Some(Queued::from_files(&qf_text, &body));
            }
        }
        None
    }

    /// Every file in the queue directory whose contents include `marker` (qf, df, tf, xf...).
    pub fn queue_files_with(&self, marker: &str) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.base.join("mqueue")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| contains(&std::fs::read(p).unwrap_or_default(), marker))
            .collect()
    }

    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_)) | Err(_)))
    }

    /// Stops the daemon and its children by the process group it leads. Idempotent.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = format!("-{}", child.id());
        process::signal(&group, "TERM");
        let gone = process::poll(Duration::from_secs(10), || {
            matches!(child.try_wait(), Ok(Some(_)) | Err(_)).then_some(())
        });
        // children of a connection may outlive the daemon for a moment: take them along
        process::signal(&group, "KILL");
        if gone.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sendmail {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A message in Sendmail's queue.
#[derive(Debug, Clone)]
pub struct Queued {
    /// The `H` lines as written (continuations joined with `\n`), top first, including
    /// Sendmail's `?flags?` prefix on conditional headers.
    pub h_lines: Vec<String>,
    /// The `qf` file as text, for failure messages.
    pub qf: String,
    /// The headers a delivery would write (H lines without a `?mailer-flags?` condition, which
    /// only some mailers expand), then the body from the `df` file.
    pub message: Message,
}

impl Queued {
    fn from_files(qf: &[u8], df: &[u8]) -> Queued {
        let text = String::from_utf8_lossy(qf);
        let mut h_lines: Vec<String> = Vec::new();
        let mut in_header = false;
        for line in text.lines() {
            if let Some(h) = line.strip_prefix('H') {
                h_lines.push(h.to_string());
                in_header = true;
            } else if in_header && (line.starts_with(' ') || line.starts_with('\t')) {
                if let Some(last) = h_lines.last_mut() {
                    last.push('\n');
                    last.push_str(line);
                }
            } else {
                in_header = false;
            }
        }
        let mut raw = Vec::new();
        for h in &h_lines {
            let Some(field) = unconditional(h) else {
                continue;
            };
            raw.extend_from_slice(field.replace('\n', "\r\n").as_bytes());
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(df);
        Queued {
            qf: text.clone().into_owned(),
            h_lines,
            message: Message::parse(&raw),
        }
    }
}

/// `H??Name: value` (no condition) and plain `HName: value` fields are written by every
/// delivery; `H?P?Return-Path: <$g>` is a template only mailers with flag `P` expand: None.
fn unconditional(h: &str) -> Option<&str> {
    let Some(rest) = h.strip_prefix('?') else {
        return Some(h);
    };
    let (cond, field) = rest.split_once('?')?;
    let mailer_flags = !cond.is_empty() && cond.bytes().all(|b| b.is_ascii_alphabetic());
    (!mailer_flags).then_some(field)
}

fn file_name_starts(p: &Path, prefix: &str) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(prefix))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len().max(1))
        .any(|w| w == needle.as_bytes())
}

/// The machine's nsswitch.conf with `hosts: files` (for the private mount namespace).
fn nsswitch_files_only() -> String {
    let host = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
    let mut out: Vec<String> = host
        .lines()
        .filter(|l| !l.trim_start().starts_with("hosts:"))
        .map(str::to_string)
        .collect();
    out.push("hosts: files".into());
    out.join("\n") + "\n"
}

/// The `.mc`: loopback on `port`, everything Sendmail writes under `base`, deferred delivery
/// (no DNS, no delivery attempts: accepted mail stays queued), and the milter.
fn mc(root: &SendmailRoot, base: &Path, port: u16, milter: &str) -> String {
    let b = base.display();
    let cf = root.cf_dir();
    let helpfile = root.root.join("etc/mail/helpfile");
    format!(
        "divert(-1)dnl\n\
         # authmilter end-to-end test: loopback only, deferred delivery (everything stays queued)\n\
         divert(0)dnl\n\
         include(`{cf}/m4/cf.m4')dnl\n\
         VERSIONID(`authmilter end-to-end test')dnl\n\
         OSTYPE(`linux')dnl\n\
         define(`MAIL_SETTINGS_DIR', `{b}/')dnl\n\
         define(`confDOMAIN_NAME', `{HOSTNAME}')dnl\n\
         define(`confDONT_PROBE_INTERFACES', `True')dnl\n\
         define(`QUEUE_DIR', `{b}/mqueue')dnl\n\
         define(`confPID_FILE', `{b}/sendmail.pid')dnl\n\
         define(`STATUS_FILE', `{b}/sendmail.st')dnl\n\
         define(`HELP_FILE', `{helpfile}')dnl\n\
         define(`confSERVICE_SWITCH_FILE', `{b}/service.switch')dnl\n\
         define(`confHOSTS_FILE', `{b}/hosts')dnl\n\
         undefine(`ALIAS_FILE')dnl\n\
         define(`confDELIVERY_MODE', `deferred')dnl\n\
         define(`confTO_IDENT', `0s')dnl\n\
         define(`confLOG_LEVEL', `9')dnl\n\
         define(`confMILTER_LOG_LEVEL', `14')dnl\n\
         FEATURE(`nocanonify')dnl\n\
         FEATURE(`accept_unresolvable_domains')dnl\n\
         FEATURE(`no_default_msa')dnl\n\
         DAEMON_OPTIONS(`Family=inet, Name=MTA-test, Port={port}, Addr=127.0.0.1')dnl\n\
         INPUT_MAIL_FILTER(`authmilter', `S={milter}, F=T, T=C:10s;S:10s;R:30s;E:5m')dnl\n\
         MAILER(`local')dnl\n\
         MAILER(`smtp')dnl\n",
        cf = cf.display(),
        helpfile = helpfile.display(),
    )
}
