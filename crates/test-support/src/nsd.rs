//! An authoritative NSD on loopback serving zones written by the test.
//!
//! Tests that use it run only when `AUTHMILTER_E2E=1` ([`crate::e2e_enabled`]); then a missing
//! `nsd` binary (Debian package `nsd`, installed by `tests/install-deps.sh`) is an error, not a
//! skip.
//!
//! ```no_run
//! # fn demo() -> Result<(), String> {
//! use test_support::nsd::{Nsd, zone};
//! let nsd = Nsd::start(&[("test.example", &zone("test.example", "@ TXT \"v=spf1 -all\""))])?;
//! println!("nameserver at {}", nsd.addr());
//! # Ok(()) }
//! ```

use std::io::Read as _;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::free_udp_tcp_port;
use crate::process::{find_program, signal};

/// A zone file for `origin` with SOA (negative TTL 60 s), NS and default TTL 300 s, followed by
/// `records` (zone-file lines relative to `origin`).
pub fn zone(origin: &str, records: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 300\n\
         @ IN SOA ns.{origin}. hostmaster.{origin}. 1 3600 900 604800 60\n\
         @ IN NS ns.{origin}.\nns IN A 127.0.0.1\n{records}\n"
    )
}

/// Where the `nsd` binary is (`$PATH`, then `/usr/sbin`).
pub fn nsd_binary() -> Option<PathBuf> {
    find_program("nsd")
}

/// A running NSD serving the given zones on `127.0.0.1:<high port>` (UDP and TCP).
/// Stopped (its whole process group, by the PID it was started with) on drop.
#[derive(Debug)]
pub struct Nsd {
    child: Option<Child>,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Nsd {
    /// Writes the zones and a config into a fresh temporary directory, starts `nsd -d` and waits
    /// (at most 10 s) until it answers. `zones` are (origin, zone text) pairs.
    pub fn start(zones: &[(&str, &str)]) -> Result<Self, String> {
        let binary = nsd_binary().ok_or("nsd not found (install the Debian package `nsd`)")?;
        let mut last_error = String::new();
        for _ in 0..3 {
            match Self::try_start(&binary, zones) {
                Ok(nsd) => return Ok(nsd),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    fn try_start(binary: &Path, zones: &[(&str, &str)]) -> Result<Self, String> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "authmilter-nsd-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let port = free_udp_tcp_port()?;
        let d = dir.display();
        let mut conf = format!(
            "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  username: \"\"\n  \
             chroot: \"\"\n  zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  \
             xfrdfile: \"{d}/xfrd.state\"\n  zonelistfile: \"{d}/zone.list\"\n  \
             logfile: \"{d}/nsd.log\"\n  server-count: 1\n  do-ip6: no\n  verbosity: 1\n\
             remote-control:\n  control-enable: no\n"
        );
        for (i, (origin, text)) in zones.iter().enumerate() {
            let file = format!("zone{i}.zone");
            std::fs::write(dir.join(&file), text).map_err(|e| format!("write zone: {e}"))?;
            conf.push_str(&format!("zone:\n  name: {origin}\n  zonefile: {file}\n"));
        }
        let conf_path = dir.join("nsd.conf");
        std::fs::write(&conf_path, conf).map_err(|e| format!("write nsd.conf: {e}"))?;
        let child = Command::new(binary)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
        let mut nsd = Nsd {
            child: Some(child),
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let probe_name = zones.first().map_or("example", |z| z.0);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if probe(nsd.addr, probe_name) {
                return Ok(nsd);
            }
            let exited = nsd
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
                .is_some();
            if exited || Instant::now() > deadline {
                let log = nsd.log();
                let stderr = nsd.take_stderr();
                nsd.stop();
                return Err(format!("nsd did not start: {stderr}\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The address NSD listens on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// NSD's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nsd.log")).unwrap_or_default()
    }

    fn take_stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.child.as_mut().and_then(|c| c.stderr.take()) {
            let _ = e.read_to_string(&mut s);
        }
        s
    }

    /// Stops NSD: SIGTERM to the process group it leads, then SIGKILL after 5 s; removes the
    /// temporary directory. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = format!("-{}", child.id());
            signal(&group, "TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if !matches!(child.try_wait(), Ok(Some(_))) {
                signal(&group, "KILL");
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends one SOA query for `name` over UDP and reports whether any answer came back.
fn probe(addr: SocketAddr, name: &str) -> bool {
    let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
    let mut query = vec![0x4d, 0x31, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        query.push(u8::try_from(label.len()).unwrap_or(63));
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 6, 0, 1]);
    if socket.send_to(&query, addr).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    matches!(socket.recv_from(&mut buf), Ok((n, _)) if n >= 12 && buf.get(..2) == Some(&[0x4d, 0x31][..]))
}
