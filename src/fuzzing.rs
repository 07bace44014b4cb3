//! Fuzz harnesses shared by `fuzz/fuzz_targets/{config,pipeline}.rs` and `tests/fuzz_seeds.rs`,
//! so a seed replays exactly what the fuzzer ran. Not part of the API; a panic here is a finding.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use dns::fuzzing::{ScriptedResolver, split_script};
use dns::{LookupFuture, Mx, Resolver};
use message::parse_message;

use crate::app::App;
use crate::config::{Config, Role};
use crate::pipeline::{ClientInfo, Decision, MessagePipeline, StageMacros, Verdict};
use crate::services::Services;

/// `config`: `milter.toml` text (as `config check` and SIGHUP read it). What is accepted
/// prints as TOML (`config check`'s output) that is accepted again and prints the same.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::parse(text) else {
        return;
    };
    let printed = config.to_toml().expect("an accepted config prints");
    let again = Config::parse(&printed)
        .unwrap_or_else(|e| panic!("printed config is refused: {e:#}\n{printed}"));
    let reprinted = again.to_toml().expect("an accepted config prints");
    assert_eq!(printed, reprinted, "printing is not stable");
}

/// Our authserv-id in the `pipeline` harness's configuration.
const AUTHSERV_ID: &str = "mx.fuzz.example";

/// `pipeline`: one whole message through the message pipeline, as the milter and `eval` run
/// it (RFC 7208, RFC 6376, RFC 8617, RFC 9989, RFC 8601 together), against DNS answers the
/// fuzzer chooses ([`dns::fuzzing::ScriptedResolver`]: the script, an empty line, then the
/// payload).
///
/// The payload's first line is `ROLE IP HELO` (`verify`, `sign`, `forward` or `auto`; each part
/// optional), the second the MAIL FROM address, the third RCPT TO, the rest the message as the
/// MTA would pass it (header fields, an empty line, the body; LF or CRLF).
///
/// Checks, whatever the message and the DNS answers:
/// - reject carries a 5xx reply and tempfail a 4xx one;
/// - at most one Authentication-Results is added, exactly one when the role verifies;
/// - every header deletion names a field the message has, by a valid occurrence index;
/// - a DMARC `pass` names an author domain that is written in a From field (the reader sees
///   it), and a DKIM `pass` a `d=` written in a DKIM-Signature field.
pub fn pipeline(data: &[u8]) {
    let (resolver, payload) = split_script(data);
    let mut lines = payload.splitn(4, |&b| b == b'\n');
    let control = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let mail_from = lines.next().unwrap_or_default().to_vec();
    let rcpt = lines.next().unwrap_or_default().to_vec();
    let raw = lines.next().unwrap_or_default();
    let mut words = control.split_ascii_whitespace();
    let role = match words.next() {
        Some("sign") => Role::Sign,
        Some("forward") => Role::Forward,
        Some("auto") => Role::Auto,
        _ => Role::Verify,
    };
    let ip: IpAddr = words
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(IpAddr::from([192, 0, 2, 1]));
    let helo = words.next().unwrap_or("mail.example").to_string();
    let msg = parse_message(raw);

    let harness = harness();
    harness.script.set(resolver);
    let decision = harness.runtime.block_on(async {
        let mut p = MessagePipeline::new(Arc::clone(&harness.app), Services::none(), role);
        p.connect(
            ClientInfo {
                hostname: format!("[{ip}]"),
                ip: Some(ip),
                port: 25,
            },
            None,
        );
        p.helo(helo.as_bytes());
        let _ = p.mail(&mail_from, Vec::new(), &StageMacros::default());
        let _ = p.rcpt(&rcpt, Vec::new());
        for h in &msg.headers {
            p.header(&h.name, &h.value);
        }
        p.end_of_headers();
        for chunk in msg.body.chunks(milter_proto::MILTER_CHUNK_SIZE) {
            p.body(chunk);
        }
        p.end_of_message().await
    });
    check_decision(&decision, &msg, role);
}

fn check_decision(d: &Decision, msg: &message::Message, role: Role) {
    match &d.verdict {
        Verdict::Reject(r) => assert_eq!(r.code() / 100, 5, "reject with {}", r.code()),
        Verdict::TempFail(r) => assert_eq!(r.code() / 100, 4, "tempfail with {}", r.code()),
        Verdict::Accept | Verdict::Discard => {}
    }
    let added = d
        .prepend
        .iter()
        .chain(&d.append)
        .filter(|h| h.name.eq_ignore_ascii_case("Authentication-Results"))
        .count();
    assert!(added <= 1, "{added} Authentication-Results added");
    if matches!(role, Role::Verify | Role::Forward) {
        assert_eq!(added, 1, "no Authentication-Results for a verified message");
    }
    for del in &d.delete {
        let have = msg.headers.iter().filter(|h| h.name_is(&del.name)).count();
        assert!(
            del.index >= 1 && usize::try_from(del.index).is_ok_and(|i| i <= have),
            "deletes {}[{}] of {have}",
            del.name,
            del.index
        );
    }
    let Some(results) = &d.results else {
        return;
    };
    if let Some(dmarc) = &results.dmarc {
        for e in &dmarc.evaluations {
            if e.result == dmarc::DmarcResult::Pass {
                assert!(
                    written_in(msg, "From", &e.author_domain),
                    "dmarc=pass for {} which no From field shows",
                    e.author_domain
                );
            }
        }
    }
    for s in &results.dkim {
        if s.result == dkim::DkimResult::Pass {
            assert!(
                written_in(msg, "DKIM-Signature", &s.domain.to_ascii_lowercase()),
                "dkim=pass for d={} which no signature shows",
                s.domain
            );
        }
    }
}

/// True when `domain` (an A-label) is written, as an A-label or a U-label, in a `name` field.
fn written_in(msg: &message::Message, name: &str, domain: &str) -> bool {
    let is_domain_byte = |b: u8| b.is_ascii_alphanumeric() || b"-._".contains(&b) || b >= 0x80;
    msg.headers.iter().filter(|h| h.name_is(name)).any(|h| {
        h.value
            .split(|&b| !is_domain_byte(b))
            .filter(|t| !t.is_empty())
            .any(|t| dns::name::to_ascii(t).is_ok_and(|a| a == domain))
    })
}

/// What every `pipeline` run shares: the application state (keys loaded once), the runtime,
/// and the resolver whose script each run replaces.
struct PipelineHarness {
    app: Arc<App>,
    script: Arc<CurrentScript>,
    runtime: tokio::runtime::Runtime,
}

fn harness() -> &'static PipelineHarness {
    static HARNESS: OnceLock<PipelineHarness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let script = Arc::new(CurrentScript::default());
        let resolver: Arc<dyn Resolver> = Arc::clone(&script) as Arc<dyn Resolver>;
        let key = fuzz_key_path();
        let app = match App::new(fuzz_config(&key), resolver) {
            Ok(app) => Arc::new(app),
            Err(e) => panic!("the fuzz configuration loads: {e:#}"),
        };
        // the key is in memory now
        if let Some(dir) = key.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        PipelineHarness {
            app,
            script,
            runtime,
        }
    })
}

/// A resolver answering from the current run's script (the App holds one resolver for good).
#[derive(Debug, Default)]
struct CurrentScript(Mutex<Option<Arc<ScriptedResolver>>>);

impl CurrentScript {
    fn set(&self, script: ScriptedResolver) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *slot = Some(Arc::new(script));
    }

    fn current(&self) -> Arc<ScriptedResolver> {
        let slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        slot.clone()
            .unwrap_or_else(|| Arc::new(ScriptedResolver::new(b"")))
    }
}

impl Resolver for CurrentScript {
    fn txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Vec<u8>>> {
        let r = self.current();
        Box::pin(async move { r.txt(name).await })
    }
    fn a<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv4Addr>> {
        let r = self.current();
        Box::pin(async move { r.a(name).await })
    }
    fn aaaa<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv6Addr>> {
        let r = self.current();
        Box::pin(async move { r.aaaa(name).await })
    }
    fn mx<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Mx>> {
        let r = self.current();
        Box::pin(async move { r.mx(name).await })
    }
    fn ptr<'a>(&'a self, ip: IpAddr) -> LookupFuture<'a, Vec<String>> {
        let r = self.current();
        Box::pin(async move { r.ptr(ip).await })
    }
}

/// The harness's configuration: DMARC enforced, ARC verified and sealed, a trusted sealer, one
/// Ed25519 key for example.org (generated once per process, so signing runs too).
fn fuzz_config(key: &std::path::Path) -> Config {
    let text = format!(
        "[authres]\nauthserv_id = \"{AUTHSERV_ID}\"\n\
         [dmarc]\nenforce = true\n\
         [arc]\nverify = true\nseal = true\ntrusted_sealers = [\"lists.example\"]\n\
         [dkim]\nkey_check_interval = \"0s\"\n\
         [[dkim.key]]\ndomain = \"example.org\"\nselector = \"fz\"\npath = \"{}\"\n",
        key.display()
    );
    match Config::parse(&text) {
        Ok(c) => c,
        Err(e) => panic!("the fuzz configuration parses: {e:#}\n{text}"),
    }
}

/// Writes a fresh Ed25519 key for the harness to a per-process temporary file.
fn fuzz_key_path() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("authmilter-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("example.org.fz.pem");
    let key = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).expect("an Ed25519 key");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .expect("create the key file");
    file.write_all(key.private_key_pem.as_bytes())
        .expect("write the key");
    path
}
