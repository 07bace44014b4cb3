//! Listeners and sockets: several listeners with roles, each socket once, metrics and the
//! SRS socketmap on loopback unless allowed.

use crate::config::*;

#[test]
fn several_listeners_with_roles() {
    let c = Config::parse(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\nrole = \"verify\"\n[[server.listen]]\nsocket = \"unix:/run/authmilter/sign.sock\"\nrole = \"sign\"\n",
    )
    .unwrap();
    assert_eq!(c.server.listen.len(), 2);
    assert_eq!(c.server.listen[1].role, Role::Sign);
    // the effective config round-trips
    assert_eq!(Config::parse(&c.to_toml().unwrap()).unwrap(), c);
}

#[test]
fn a_socket_may_not_be_listed_twice() {
    let err = Config::parse(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\n\n[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\nrole = \"sign\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("server.listen[1] (line 5)"), "{err}");
}

/// The SRS socketmap, the metrics and the dashboard cannot share a listener's socket: serve
/// failed to bind the second ("already in use", or "another authmilter running?" for a Unix
/// socket) while config check said OK.
#[test]
fn a_socket_serves_one_purpose() {
    let listen = "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\n\
                  [[server.listen]]\nsocket = \"unix:/run/authmilter/m.sock\"\n";
    let srs = "[srs]\ndomain = \"fwd.example\"\n";
    for (extra, key) in [
        (
            format!("{srs}socketmap = \"inet:8891@127.0.0.1\"\n"),
            "srs.socketmap (line 7)",
        ),
        (
            format!("{srs}socketmap = \"unix:/run/authmilter/m.sock\"\n"),
            "srs.socketmap (line 7)",
        ),
        (
            "[metrics]\nlisten = \"127.0.0.1:8891\"\n".to_string(),
            "metrics.listen (line 6)",
        ),
        (
            "[dashboard]\nlisten = \"127.0.0.1:8891\"\n".to_string(),
            "dashboard.listen (line 6)",
        ),
        (
            "[metrics]\nlisten = \"127.0.0.1:9100\"\n[dashboard]\nlisten = \"127.0.0.1:9100\"\n"
                .to_string(),
            "dashboard.listen (line 8)",
        ),
    ] {
        let err = Config::parse(&format!("{listen}{extra}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{extra}: {err}");
        assert!(err.contains("each socket once"), "{extra}: {err}");
    }
    Config::parse(&format!(
        "{listen}{srs}socketmap = \"inet:127.0.0.1:10003\"\n[metrics]\nlisten = \"127.0.0.1:9100\"\n"
    ))
    .unwrap();
}

/// Two Unix paths that name one file (through `..` or a symbolic link to the directory):
/// serve failed to bind the second ("a process listens on it": its own first listener) while
/// config check said OK.
#[test]
fn one_unix_socket_under_two_paths_is_listed_twice() {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("sd");
    std::fs::create_dir(&sd).unwrap();
    std::os::unix::fs::symlink(&sd, dir.path().join("link")).unwrap();
    let d = dir.path().display();
    for (a, b) in [
        (format!("{d}/sd/m.sock"), format!("{d}/sd/../sd/m.sock")),
        (format!("{d}/sd/m.sock"), format!("{d}/link/m.sock")),
        (format!("{d}/sd/m.sock"), format!("{d}/./sd/./m.sock")),
    ] {
        let err = Config::parse(&format!(
            "[[server.listen]]\nsocket = \"unix:{a}\"\n[[server.listen]]\nsocket = \"unix:{b}\"\nrole = \"sign\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("each socket once"), "{b}: {err}");
    }
    // two files in one directory, and paths whose directory does not exist yet, stay apart
    Config::parse(&format!(
        "[[server.listen]]\nsocket = \"unix:{d}/sd/m.sock\"\n[[server.listen]]\nsocket = \"unix:{d}/link/n.sock\"\n\
         [[server.listen]]\nsocket = \"unix:{d}/nowhere/m.sock\"\n\
         [[server.listen]]\nsocket = \"unix:{d}/elsewhere/n.sock\"\n"
    ))
    .unwrap();
}

/// `clients` on a Unix listener was accepted and ignored: a postmaster restricting who may
/// connect got no restriction. Refused, naming what decides instead.
#[test]
fn clients_on_a_unix_listener_are_refused() {
    let err = Config::parse(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\n[[server.listen]]\nsocket = \"unix:/run/authmilter/m.sock\"\nclients = [\"127.0.0.1\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("server.listen[1] (line 5)"), "{err}");
    assert!(err.contains("TCP listeners only"), "{err}");
}

#[test]
fn metrics_are_off_by_default_and_loopback_unless_allowed() {
    assert_eq!(Config::default().metrics.listen.0, None);
    let c = Config::parse("[metrics]\nlisten = \"127.0.0.1:9851\"\n").unwrap();
    assert_eq!(c.metrics.listen.0, Some("127.0.0.1:9851".parse().unwrap()));
    assert!(Config::parse("[metrics]\nlisten = \"[::1]:9851\"\n").is_ok());
    let err = Config::parse("[metrics]\n\nlisten = \"0.0.0.0:9851\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("metrics.listen (line 3)") && err.contains("allow_remote"),
        "{err}"
    );
    let c = Config::parse("[metrics]\nlisten = \"0.0.0.0:9851\"\nallow_remote = true\n").unwrap();
    assert!(c.metrics.allow_remote);
    // the effective config round-trips, off included
    assert_eq!(Config::parse(&c.to_toml().unwrap()).unwrap(), c);
    let off = Config::default();
    assert_eq!(Config::parse(&off.to_toml().unwrap()).unwrap(), off);
}

/// `[srs] socketmap` signs any address for anyone who connects: only on loopback (or a
/// Unix socket) unless `allow_remote` says the port is firewalled.
#[test]
fn srs_socketmap_stays_on_loopback_unless_allowed() {
    for ok in [
        "inet:127.0.0.1:10003",
        "inet:[::1]:10003",
        "inet:localhost:10003",
        "unix:/run/authmilter/srs.sock",
    ] {
        let toml = format!("[srs]\nsocketmap = \"{ok}\"\n");
        assert!(Config::parse(&toml).is_ok(), "{ok}");
    }
    for remote in [
        "inet:0.0.0.0:10003",
        "inet:192.0.2.1:10003",
        "inet:mail.example.com:10003",
    ] {
        let toml = format!("[srs]\n\nsocketmap = \"{remote}\"\n");
        let err = Config::parse(&toml).unwrap_err().to_string();
        assert!(
            err.contains("srs.socketmap (line 3)") && err.contains("allow_remote"),
            "{remote}: {err}"
        );
        let allowed = format!("[srs]\nsocketmap = \"{remote}\"\nallow_remote = true\n");
        assert!(Config::parse(&allowed).is_ok(), "{remote}");
    }
}
