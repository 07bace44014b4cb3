//! Interop with dkimpy's ARC (`dkim.arc_sign` / `dkim.arc_verify`) in both directions and in
//! mixed chains. Runs only with `AUTHMILTER_E2E=1` (`tests/run.sh`); then a missing tool is a
//! failure.
//!
//! Needs `python3` with pip `dkimpy` and `authres` (dkimpy's sealer builds the AAR with it).
//! Each dkimpy hop is a real one: it validates the incoming chain with `arc_verify`, records
//! `arc=<result>` in its Authentication-Results (dkimpy takes `cv=` from there) and seals with
//! `arc_sign`. Keys come from a records file through dkimpy's `dnsfunc` and from a
//! `MemoryResolver` on our side.
//!
//! dkimpy validates only rsa-sha256 seals (its `ARC_HASH_ALGORITHMS`), so the chains here are
//! RSA; our Ed25519 sealing interoperates with Stalwart mail-auth's chain in
//! `tests/data/mail-auth/002.txt` (see `valimail.rs`), and dkimpy's refusal of it is checked.

mod common;

use std::path::PathBuf;
use std::process::Command;

use arc::ChainStatus;
use common::{DOMAIN, MESSAGE, sealer};

/// dkimpy seals at the current time, so this side runs on the real clock too.
fn validate(m: &[u8]) -> arc::ArcOutcome {
    common::validate_at(m, dkim::unix_now())
}

fn seal(
    s: &arc::Sealer,
    m: &[u8],
    srv_id: &str,
) -> Result<(arc::ArcOutcome, Vec<u8>), arc::ArcError> {
    common::seal_at(s, m, srv_id, dkim::unix_now())
}

const PY: &str = r#"
import sys, dkim
mode, msgfile, dnsfile = sys.argv[1], sys.argv[2], sys.argv[3]
records = {}
for line in open(dnsfile):
    name, value = line.rstrip("\n").split(" ", 1)
    records[name] = value.encode()
def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    return records.get(n.rstrip(".").lower(), b"")
msg = open(msgfile, "rb").read()
cv, results, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc)
status = (cv or b"fail").decode()
if mode == "verify":
    print(status, reason)
else:
    keyfile, selector, srv_id = sys.argv[4:7]
    ar = ("Authentication-Results: %s; arc=%s;\r\n\tspf=pass smtp.mailfrom=alice@example.com\r\n"
          % (srv_id, status)).encode()
    hop = ar + msg
    fields = dkim.arc_sign(hop, selector.encode(), b"example.org", open(keyfile, "rb").read(),
                           srv_id.encode(), include_headers=[b"from", b"to", b"subject", b"date",
                           b"message-id"])
    sys.stdout.buffer.write(b"".join(fields) + hop)
"#;

fn e2e() -> bool {
    if std::env::var("AUTHMILTER_E2E").as_deref() == Ok("1") {
        let ok = Command::new("python3")
            .args(["-c", "import dkim, authres"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "required: python3 with dkimpy and authres (tests/install-deps.sh)"
        );
        return true;
    }
    println!("skipped: set AUTHMILTER_E2E=1 to run the dkimpy ARC interop tests");
    false
}

struct Dkimpy {
    dir: tempfile::TempDir,
    dns: PathBuf,
}

impl Dkimpy {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let dns = dir.path().join("dns.txt");
        let mut text = String::new();
        for which in ["rsa", "ed"] {
            text.push_str(&format!(
                "{} {}\n",
                dkim::key_name(which, DOMAIN),
                dkim::DnsKeyRecord::for_key(sealer(which).key()).text()
            ));
        }
        std::fs::write(&dns, text).unwrap();
        Dkimpy { dir, dns }
    }

    fn run(&self, args: &[&str], msg: &[u8]) -> Vec<u8> {
        let file = self.dir.path().join("msg.eml");
        std::fs::write(&file, msg).unwrap();
        let out = Command::new("python3")
            .arg("-c")
            .arg(PY)
            .arg(args[0])
            .arg(&file)
            .arg(&self.dns)
            .args(&args[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "dkimpy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// dkimpy's verdict: `pass`, `fail` or `none`, and its reason.
    fn verify(&self, msg: &[u8]) -> (String, String) {
        let out = String::from_utf8(self.run(&["verify"], msg)).unwrap();
        let (cv, reason) = out
            .trim_end()
            .split_once(' ')
            .unwrap_or((out.trim_end(), ""));
        (cv.to_string(), reason.to_string())
    }

    /// A dkimpy hop: validate, record, seal with the RSA test key.
    fn seal(&self, msg: &[u8], srv_id: &str) -> Vec<u8> {
        let key = common::data("keys/rsa2048.pem");
        let out = self.run(&["sign", key.to_str().unwrap(), "rsa", srv_id], msg);
        assert!(
            out.starts_with(b"ARC-Seal: i="),
            "{}",
            String::from_utf8_lossy(&out)
        );
        out
    }
}

fn tamper(m: &[u8]) -> Vec<u8> {
    String::from_utf8(m.to_vec())
        .unwrap()
        .replacen("Hello list", "Hello lust", 1)
        .into_bytes()
}

fn ours(m: &[u8]) -> ChainStatus {
    let o = validate(m);
    println!(
        "  authmilter: {} {:?}",
        o.result,
        o.reason.map(|r| r.to_string())
    );
    o.result
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn dkimpy_seals_we_validate() {
    if !e2e() {
        return;
    }
    let py = Dkimpy::new();
    let hop1 = py.seal(MESSAGE.as_bytes(), "mx1.example.org");
    assert_eq!(ours(&hop1), ChainStatus::Pass);
    let o = validate(&hop1);
    assert_eq!((o.instances, o.oldest_pass), (1, Some(0)));
    let ar = o.sets[0].authentication_results.as_ref().unwrap();
    assert_eq!(ar.authserv_id, "mx1.example.org");
    assert_eq!(ours(&tamper(&hop1)), ChainStatus::Fail);
    let hop2 = py.seal(&hop1, "mx2.example.org");
    assert_eq!(ours(&hop2), ChainStatus::Pass);
    assert_eq!(validate(&hop2).instances, 2);
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn we_seal_dkimpy_validates() {
    if !e2e() {
        return;
    }
    let py = Dkimpy::new();
    let (_, hop1) = seal(&sealer("rsa"), MESSAGE.as_bytes(), "mx1.example.org").unwrap();
    assert_eq!(py.verify(&hop1).0, "pass", "{:?}", py.verify(&hop1));
    assert_eq!(py.verify(&tamper(&hop1)).0, "fail");
    let (_, hop2) = seal(&sealer("rsa"), &hop1, "mx2.example.org").unwrap();
    assert_eq!(py.verify(&hop2).0, "pass", "{:?}", py.verify(&hop2));
    // dkimpy has no Ed25519 ARC: our Ed25519 seal is one it cannot check
    let (_, ed) = seal(&sealer("ed"), MESSAGE.as_bytes(), "mx1.example.org").unwrap();
    let (cv, reason) = py.verify(&ed);
    assert_eq!(cv, "fail");
    assert!(reason.contains("unknown signature algorithm"), "{reason}");
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn mixed_chains_validate_on_both_sides() {
    if !e2e() {
        return;
    }
    let py = Dkimpy::new();
    // dkimpy i=1, authmilter i=2, dkimpy validates (and so do we)
    let d1 = py.seal(MESSAGE.as_bytes(), "mx1.example.org");
    let (o, d1_a2) = seal(&sealer("rsa"), &d1, "mx2.example.org").unwrap();
    assert_eq!(o.result, ChainStatus::Pass);
    assert_eq!(py.verify(&d1_a2).0, "pass", "{:?}", py.verify(&d1_a2));
    assert_eq!(ours(&d1_a2), ChainStatus::Pass);
    // authmilter i=1, dkimpy i=2, authmilter validates (and so does dkimpy)
    let (_, a1) = seal(&sealer("rsa"), MESSAGE.as_bytes(), "mx1.example.org").unwrap();
    let a1_d2 = py.seal(&a1, "mx2.example.org");
    assert_eq!(ours(&a1_d2), ChainStatus::Pass);
    assert_eq!(py.verify(&a1_d2).0, "pass");
    let text = String::from_utf8(a1_d2.clone()).unwrap();
    assert!(
        text.contains("arc=pass"),
        "dkimpy recorded our chain as passing"
    );
    // a third hop each way, and a tampered body fails on both sides
    let (_, a3) = seal(&sealer("rsa"), &a1_d2, "mx3.example.org").unwrap();
    assert_eq!(py.verify(&a3).0, "pass");
    let d3 = py.seal(&d1_a2, "mx3.example.org");
    assert_eq!(ours(&d3), ChainStatus::Pass);
    assert_eq!(validate(&d3).instances, 3);
    for m in [a3, d3] {
        assert_eq!(py.verify(&tamper(&m)).0, "fail");
        assert_eq!(ours(&tamper(&m)), ChainStatus::Fail);
    }
}
