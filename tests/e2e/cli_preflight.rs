//! `config check` runs every check `serve` runs except binding (docs/cli.md,
//! src/commands/preflight.rs): each broken file below is run through both `authmilter config
//! check -c F` and `authmilter serve -c F` (on a free loopback port, stopped by PID), and both
//! must fail, non-zero and without a panic, for the same reason.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use test_support::free_port;

use crate::support::{ServeProcess, genkey, run_cli};

/// What `authmilter serve -c config` did: `Err(log)` when it became ready (the port
/// accepted), else `Ok((exit code, log))`.
fn serve_outcome(config: &Path, port: u16, log: &Path) -> Result<(i32, String), String> {
    let mut p = ServeProcess::spawn(config, &[], log, None).expect("spawn serve");
    let ready = p.wait_ready(port);
    if ready == Some(true) {
        p.stop();
        return Err(p.log_text());
    }
    assert_eq!(ready, Some(false), "serve neither failed nor became ready");
    let code = p.wait_exit(Duration::from_secs(10)).unwrap_or(-1);
    Ok((code, p.log_text()))
}

/// The error `main` prints last (`authmilter: ...`, to the end: a TOML error spans lines),
/// without the prefix.
fn error_line(stderr: &str) -> Option<&str> {
    let start = if stderr.starts_with("authmilter: ") {
        stderr.rfind("\nauthmilter: ").map_or(0, |i| i + 1)
    } else {
        stderr.rfind("\nauthmilter: ")? + 1
    };
    stderr
        .get(start..)?
        .strip_prefix("authmilter: ")
        .map(str::trim_end)
}

fn write_mode(path: &Path, text: &str, mode: u32) -> String {
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path.display().to_string()
}

#[test]
fn config_check_and_serve_fail_on_the_same_files_for_the_same_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let key = genkey(d, "example.com", "s1", "ed25519").path;
    let loose_key = d.join("loose.pem");
    std::fs::copy(&key, &loose_key).expect("copy key");
    let loose_key = write_mode(
        &loose_key,
        &std::fs::read_to_string(&key).expect("key"),
        0o644,
    );
    let key = key.display().to_string();
    let garbage = write_mode(&d.join("garbage.pem"), "not a key\n", 0o600);
    let empty_secrets = write_mode(&d.join("empty.secrets"), "# none yet\n", 0o600);
    let secrets = write_mode(&d.join("srs.secrets"), "a-secret-for-the-test\n", 0o600);
    let short_secret = write_mode(&d.join("short.secrets"), "changeme\n", 0o600);
    let open_token = write_mode(&d.join("open.token"), "0123456789abcdef0123\n", 0o644);
    let short_token = write_mode(&d.join("short.token"), "short\n", 0o600);
    let not_a_socket = write_mode(&d.join("file.sock"), "not a socket\n", 0o600);
    let port = free_port();
    let base = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
         [authres]\nauthserv_id = \"mx.test.example\"\n"
    );
    let dkim = |path: &str| {
        format!("[[dkim.key]]\ndomain = \"example.com\"\nselector = \"s1\"\npath = \"{path}\"\n")
    };
    let srs =
        |extra: &str| format!("[srs]\ndomain = \"fwd.example\"\nsecrets = \"{secrets}\"\n{extra}");
    let cases: Vec<(&str, String, &str)> = vec![
        ("unknown key", "[dmarc]\nenforec = true\n".into(), "enforec"),
        (
            "one socket twice",
            format!("[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"sign\"\n"),
            "already listener 0",
        ),
        (
            "the metrics on the listener's socket",
            format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
            "metrics.listen",
        ),
        (
            "a socket host that is no host",
            "[srs]\ndomain = \"fwd.example\"\nsocketmap = \"inet:999.0.0.1:10003\"\n".into(),
            "bad socket",
        ),
        ("a zero eom_timeout", "[server]\neom_timeout = \"0s\"\n".into(), "server.eom_timeout"),
        (
            "more connections than a semaphore holds",
            format!("[server]\nmax_connections = {}\n", i64::MAX),
            "server.max_connections",
        ),
        (
            "a reply that is not US-ASCII",
            "[dmarc]\nreject_reply = \"550 5.7.1 Zur\u{fc}ckgewiesen\"\n".into(),
            "US-ASCII",
        ),
        (
            "a reply placeholder never filled",
            "[dmarc]\nreject_reply = \"550 5.7.1 {explanation}\"\n".into(),
            "dmarc.reject_reply",
        ),
        ("bad nameserver", "[dns]\nnameservers = [\"resolver.example\"]\n".into(), "bad nameserver"),
        ("bad log level", "[log]\nlevel = \"verbose\"\n".into(), "verbose"),
        ("reply template not 5xx", "[dmarc]\nreject_reply = \"250 2.0.0 fine\"\n".into(), "reject_reply"),
        ("missing key file", dkim("/nonexistent/k.pem"), "dkim.key[0].path (line 9): cannot read DKIM key /nonexistent/k.pem"),
        ("a directory for a key file", dkim(&d.display().to_string()), "dkim.key[0].path"),
        ("key readable by others", dkim(&loose_key), "chmod 600"),
        ("unusable key", dkim(&garbage), "dkim.key[0] (line 6): "),
        (
            "SRS secrets missing",
            "[srs]\nenabled = true\ndomain = \"fwd.example\"\nsecrets = \"/nonexistent/srs.secrets\"\n".into(),
            "/nonexistent/srs.secrets",
        ),
        (
            "SRS secrets empty",
            format!("[srs]\nenabled = true\ndomain = \"fwd.example\"\nsecrets = \"{empty_secrets}\"\n"),
            "srs.secrets",
        ),
        ("SRS without a domain", "[srs]\nenabled = true\n".into(), "srs.domain"),
        (
            "SRS signing secret too short to stay secret",
            format!("[srs]\nenabled = true\ndomain = \"fwd.example\"\nsecrets = \"{short_secret}\"\n"),
            "authmilter srs secret",
        ),
        (
            "SRS local domain with a wildcard",
            srs("enabled = true\nlocal_domains = [\"*.example.com\"]\n"),
            "srs.local_domains",
        ),
        (
            "SRS domain that is not a host name",
            format!("[srs]\nenabled = true\ndomain = \"fwd example\"\nsecrets = \"{secrets}\"\n"),
            "srs.domain (line 8): invalid SRS domain",
        ),
        (
            "SRS hash length out of range",
            srs("enabled = true\nhash_length = 0\n"),
            "srs.hash_length (line 10): invalid SRS hash length 0",
        ),
        (
            "SRS maximum age past the timestamp period",
            srs("enabled = true\nmax_age_days = 2000\n"),
            "srs.max_age_days (line 10): invalid SRS maximum age 2000",
        ),
        (
            "SRS socketmap off loopback",
            srs("socketmap = \"inet:192.0.2.1:10003\"\n"),
            "not a loopback address",
        ),
        (
            "SRS socketmap in a missing directory",
            srs("socketmap = \"unix:/nonexistent/dir/srs.sock\"\n"),
            "srs.socketmap (line 9): socket /nonexistent/dir/srs.sock: the directory /nonexistent/dir does not exist",
        ),
        (
            "a Unix listener in a missing directory",
            "[[server.listen]]\nsocket = \"unix:/nonexistent/dir/milter.sock\"\n".into(),
            "server.listen[1].socket (line 7): socket /nonexistent/dir/milter.sock: the directory /nonexistent/dir does not exist",
        ),
        (
            "a regular file at a Unix listener's path",
            format!("[[server.listen]]\nsocket = \"unix:{not_a_socket}\"\n"),
            "server.listen[1].socket (line 7): ",
        ),
        (
            "a listener host that does not resolve",
            "[[server.listen]]\nsocket = \"inet:no-such-host.invalid:10025\"\n".into(),
            "server.listen[1].socket (line 7): cannot resolve no-such-host.invalid",
        ),
        ("no such user", "[server]\nuser = \"no-such-user-authmilter\"\n".into(), "server.user (line 7): no such user"),
        ("group without user", "[server]\ngroup = \"root\"\n".into(), "server.group"),
        (
            "no such socket group",
            "[server]\nsocket_group = \"no-such-group-authmilter\"\n".into(),
            "server.socket_group",
        ),
        (
            "no such socket owner",
            "[server]\nsocket_owner = \"no-such-user-authmilter\"\n".into(),
            "server.socket_owner",
        ),
        (
            "dashboard token file missing",
            "[dashboard]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"/nonexistent/token\"\n".into(),
            "dashboard.token_file",
        ),
        (
            "dashboard token readable by others",
            format!("[dashboard]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"{open_token}\"\n"),
            "readable by every user",
        ),
        (
            "dashboard token too short",
            format!("[dashboard]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"{short_token}\"\n"),
            "at least 16",
        ),
        (
            "metrics off loopback",
            "[metrics]\nlisten = \"192.0.2.1:9090\"\n".into(),
            "metrics.listen",
        ),
        (
            "failure reports' redaction key missing",
            format!(
                "[reports]\nenabled = true\nsend = false\nstore = \"sqlite:{}\"\n\
                 [reports.failure]\nenabled = true\nredaction_key = \"/nonexistent/redaction.key\"\n",
                d.join("reports.db").display()
            ),
            "reports.failure.redaction_key",
        ),
        (
            "report store CA file missing",
            "[reports]\nenabled = true\nsend = false\nstore = \"postgres://u@127.0.0.1/dmarc?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem\"\n".into(),
            "/nonexistent/ca.pem",
        ),
    ];
    let mut cases = cases;
    // a name for an address a listener has (where localhost is 127.0.0.1 alone: elsewhere
    // serve binds its other address)
    let localhost: Vec<std::net::SocketAddr> =
        std::net::ToSocketAddrs::to_socket_addrs(&("localhost", port))
            .map(Iterator::collect)
            .unwrap_or_default();
    if !localhost.is_empty()
        && localhost
            .iter()
            .all(|a| a.ip() == std::net::Ipv4Addr::LOCALHOST)
    {
        cases.push((
            "a host name for a listener's address",
            srs(&format!("socketmap = \"inet:localhost:{port}\"\n")),
            "srs.socketmap (line 9): localhost",
        ));
    }
    // the control: the base file with a good key and SRS passes both
    let good = d.join("good.toml");
    std::fs::write(
        &good,
        format!("{base}{}{}", dkim(&key), srs("enabled = true\n")),
    )
    .expect("write");
    let good = good.display().to_string();
    let (code, _, err) = run_cli(&["config", "check", "-c", &good], None);
    assert_eq!(code, 0, "the control file: {err}");
    let started = serve_outcome(Path::new(&good), port, &d.join("good.log"));
    assert!(
        started.is_err(),
        "the control file: serve did not start: {started:?}"
    );

    let mut failures = Vec::new();
    for (i, (what, extra, needle)) in cases.into_iter().enumerate() {
        let path = d.join(format!("case{i}.toml"));
        std::fs::write(&path, format!("{base}{extra}")).expect("write");
        let shown = path.display().to_string();
        let (code, _, err) = run_cli(&["config", "check", "-c", &shown], None);
        let serve = serve_outcome(&path, port, &d.join(format!("case{i}.log")));
        let (serve_code, serve_log) = match serve {
            Ok(done) => done,
            Err(log) => {
                failures.push(format!(
                    "{what}: serve started, config check said ({code}) {err}\n{log}"
                ));
                continue;
            }
        };
        let check_line = error_line(&err).unwrap_or_default();
        let serve_line = error_line(&serve_log).unwrap_or_default();
        let same = !serve_line.is_empty() && check_line == serve_line;
        let panicked = err.contains("panicked") || serve_log.contains("panicked");
        if code == 0
            || serve_code == 0
            || !check_line.contains(needle)
            || !serve_line.contains(needle)
            || !same
            || panicked
        {
            failures.push(format!(
                "{what}: config check ({code}) {check_line:?}; serve ({serve_code}) {serve_line:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Started as a user that is neither root nor `server.user`, `serve` cannot switch users, nor
/// give its Unix socket to another owner or to a group it is not in: `config check` run as
/// that user says so too (it said OK, and serve failed after binding). Needs root to start the
/// two as `nobody` (setpriv); skipped otherwise.
#[test]
fn config_check_as_another_user_fails_like_serve() {
    let setpriv = Path::new("/usr/bin/setpriv");
    if !nix::unistd::geteuid().is_root() || !setpriv.exists() {
        eprintln!("skipped: needs root and /usr/bin/setpriv");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let port = free_port();
    let sock = dir.path().join("milter.sock");
    let unix = format!("[[server.listen]]\nsocket = \"unix:{}\"\n", sock.display());
    for (i, (text, needle)) in [
        (
            format!(
                "[server]\nuser = \"root\"\n[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\n"
            ),
            "cannot switch users when not started as root",
        ),
        (
            format!("[server]\nsocket_owner = \"root\"\n{unix}"),
            "server.socket_owner",
        ),
        (
            format!("[server]\nsocket_group = \"root\"\n{unix}"),
            "server.socket_group",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let config = dir.path().join(format!("milter{i}.toml"));
        write_mode(&config, &text, 0o644);
        let as_nobody = |args: &[&str]| {
            // `timeout` stops a serve that would (wrongly) keep running
            let out = std::process::Command::new("timeout")
                .arg("20")
                .arg(setpriv)
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(crate::support::binary())
                .args(args)
                .arg("-c")
                .arg(&config)
                .output()
                .expect("setpriv");
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let (check_code, check_err) = as_nobody(&["config", "check"]);
        let (serve_code, serve_err) = as_nobody(&["serve"]);
        assert_ne!(check_code, 0, "config check: {check_err}");
        assert_ne!(serve_code, 0, "serve: {serve_err}");
        assert_eq!(
            error_line(&check_err),
            error_line(&serve_err),
            "{check_err}\n{serve_err}"
        );
        assert!(check_err.contains(needle), "{check_err}");
        let _ = std::fs::remove_file(&sock);
    }
}

#[test]
fn a_store_password_in_a_world_readable_file_is_warned_of() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{}\"\n[reports]\nenabled = true\nsend = false\nstore = \"postgres://authmilter:secret@127.0.0.1:1/reports\"\n",
        free_port()
    );
    let warning = "holds the PostgreSQL password in a file every local user can read";
    let open = write_mode(&dir.path().join("open.toml"), &text, 0o644);
    let (code, _, err) = run_cli(&["config", "check", "-c", &open], None);
    assert_eq!(code, 0, "a warning, not an error: {err}");
    assert!(err.contains(warning), "{err}");
    assert!(
        !err.contains("secret"),
        "the password is never shown: {err}"
    );
    let private = write_mode(&dir.path().join("private.toml"), &text, 0o640);
    let (code, _, err) = run_cli(&["config", "check", "-c", &private], None);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(warning), "{err}");
    // the store is also opened for the report inbox or the dashboard alone
    for user in [
        "[reports.inbox]\naddresses = [\"dmarc@example.com\"]\n",
        "[dashboard]\nlisten = \"127.0.0.1:1\"\n",
    ] {
        let alone = text.replace("enabled = true\nsend = false\n", "") + user;
        let open = write_mode(&dir.path().join("alone.toml"), &alone, 0o644);
        let (code, _, err) = run_cli(&["config", "check", "-c", &open], None);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains(warning), "{alone}: {err}");
    }
    let no_password = text.replace("authmilter:secret@", "authmilter@");
    let open = write_mode(&dir.path().join("nopass.toml"), &no_password, 0o644);
    let (code, _, err) = run_cli(&["config", "check", "-c", &open], None);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(warning), "{err}");
}

/// An SQLite report store in a directory that does not exist: serve starts (the store is
/// opened after binding, and retried every 30 s while records are dropped), so config check
/// accepts the file, but said nothing; both now warn, naming the key.
#[test]
fn a_report_store_in_a_missing_directory_is_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("milter.toml");
    std::fs::write(
        &config,
        "[reports]\nenabled = true\nsend = false\nstore = \"sqlite:/nonexistent/dir/reports.db\"\n",
    )
    .expect("write");
    let shown = config.display().to_string();
    let (code, _, err) = run_cli(&["config", "check", "-c", &shown], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("reports.store: the directory /nonexistent/dir does not exist"),
        "{err}"
    );
}

/// An SQLite report store that is a directory, or a file that is not an SQLite database: serve
/// starts and then logs "cannot open the store" every 30 s, dropping records, while config
/// check said nothing. Both now warn; an empty file (a new database) and a database are fine.
#[test]
fn a_report_store_that_cannot_be_a_database_is_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir(d.join("adir")).expect("mkdir");
    std::fs::write(d.join("notes.txt"), "not a database\n").expect("write");
    std::fs::write(d.join("empty.db"), "").expect("write");
    for (store, warning) in [
        ("adir", Some("is a directory")),
        ("notes.txt", Some("is not an SQLite database")),
        ("empty.db", None),
        ("new.db", None),
    ] {
        let config = d.join("milter.toml");
        std::fs::write(
            &config,
            format!(
                "[reports]\nenabled = true\nsend = false\nstore = \"sqlite:{}\"\n",
                d.join(store).display()
            ),
        )
        .expect("write");
        let shown = config.display().to_string();
        let (code, _, err) = run_cli(&["config", "check", "-c", &shown], None);
        assert_eq!(code, 0, "{err}");
        match warning {
            Some(w) => assert!(
                err.contains("reports.store") && err.contains(w),
                "{store}: {err}"
            ),
            None => assert!(!err.contains("reports.store"), "{store}: {err}"),
        }
    }
}

/// `[reports.failure] enabled = true` does nothing while `[reports] enabled` is false (the
/// failures are recorded by the reports' recorder): the file was accepted in silence, and
/// no failure report ever went out. serve and config check now say so.
#[test]
fn failure_reports_without_reports_are_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("milter.toml");
    std::fs::write(&config, "[reports.failure]\nenabled = true\n").expect("write");
    let shown = config.display().to_string();
    let (code, _, err) = run_cli(&["config", "check", "-c", &shown], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("reports.failure.enabled: no failure reports while reports.enabled = false"),
        "{err}"
    );
    std::fs::write(
        &config,
        format!(
            "[reports]\nenabled = true\nsend = false\nstore = \"sqlite:{}\"\n[reports.failure]\nenabled = true\n",
            dir.path().join("reports.db").display()
        ),
    )
    .expect("write");
    let (code, _, err) = run_cli(&["config", "check", "-c", &shown], None);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("no failure reports"), "{err}");
}

/// An `internal_networks` entry wider than /8 makes nearly every client ours (signed with our
/// keys, never checked): `config check` warns, and still passes.
#[test]
fn a_near_universal_internal_network_is_warned_of() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("milter.toml");
    for net in ["0.0.0.0/0", "::/0", "::ffff:0:0/96"] {
        std::fs::write(
            &config,
            format!(
                "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\n[dkim]\nstate_file = \"\"\n\
                 [outbound]\ninternal_networks = [\"{net}\"]\n"
            ),
        )
        .expect("config");
        let (code, _, err) = run_cli(
            &["config", "check", "-c", config.to_str().expect("utf-8")],
            None,
        );
        assert_eq!(code, 0, "{net}: {err}");
        assert!(
            err.contains("nearly every client on the internet is ours"),
            "{net}: {err}"
        );
    }
}

/// A report lease shorter than a slow submission can run out while the relay still answers:
/// `config check` warns.
#[test]
fn a_lease_shorter_than_a_submission_is_warned_of() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("milter.toml");
    std::fs::write(
        &config,
        format!(
            "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\n[dkim]\nstate_file = \"\"\n\
             [reports]\nenabled = true\nemail = \"dmarc@example.com\"\nstore = \"sqlite:{}\"\n\
             claim_timeout = \"5s\"\nsmtp_timeout = \"10s\"\n",
            dir.path().join("r.db").display()
        ),
    )
    .expect("config");
    let (code, _, err) = run_cli(
        &["config", "check", "-c", config.to_str().expect("utf-8")],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("shorter than 10 × smtp_timeout"), "{err}");
}
