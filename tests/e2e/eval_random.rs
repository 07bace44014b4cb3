//! A randomised differential of `authmilter eval --json` against the milter behind a fake MTA:
//! a seeded generator (`generate.rs`) builds a pinned number of hostile messages, envelopes and
//! configurations in a DNS world with p=none, quarantine and reject domains and DNS failures
//! (`world.rs`); each runs through the binary's `eval` and through the in-process server
//! driven as Postfix or Sendmail drive it, with the body cut into chunks at random, and both
//! must give the same SMTP answer and reply text, the same Authentication-Results byte for
//! byte, the same headers removed and added (signatures included), the same envelope changes.
//!
//! The message is sent to the milter as `testkit` splits it for an MTA (whitespace before the
//! colon dropped, folds as bare LF, every body line ending in CRLF); a header value with a NUL
//! goes out whole, as a hostile MTA could send it (Postfix would cut it: docs/cli.md).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use authmilter::app::App;
use authmilter::config::{Config, SocketSpec};
use authmilter::pipeline::ResultsSink;
use authmilter::server::Server;
use authmilter::services::Services;
use dns::memory::MemoryResolver;
use milter_proto::Response;
use testkit::{Eml, MtaClient, Profile, Reply};

use crate::support::binary;

mod generate;
mod tools;
mod world;

use generate::Case;

/// The number of cases: pinned, so the suite's reach does not shrink unnoticed.
const CASES: usize = 300;
/// The generator's seed.
const SEED: u64 = 0x5eed_e7a1;

/// What one path decided, in the terms both share.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observed {
    action: String,
    reply: Option<String>,
    quarantine: Option<String>,
    /// Our Authentication-Results on one line, when the message was not refused at RCPT.
    authres: Option<String>,
    /// `name #index` of every incoming header deleted (only when accepted).
    removed: Vec<String>,
    /// `Name: value` (one line) of every header added (only when accepted), sorted.
    added: Vec<String>,
    /// The new envelope sender.
    new_sender: Option<String>,
    /// Recipient changes, `-addr` and `+addr`.
    recipients: Vec<String>,
}

/// A folded value on one line, as `eval` shows it.
fn one_line(v: &str) -> String {
    v.replace("\n\t", " ").replace('\n', "")
}

/// `t=` of a signature differs when the two runs straddle a second: the signing time and the
/// signature over it are left out of the comparison then (`h=`, `bh=` and the rest stay).
fn without_time(h: &str) -> String {
    h.split("; ")
        .filter(|t| !(t.starts_with("t=") || t.starts_with("b=") || t.starts_with("x=")))
        .collect::<Vec<_>>()
        .join("; ")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn same_added(a: &[String], b: &[String]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x == y || without_time(x) == without_time(y))
}

struct Files {
    _dir: tempfile::TempDir,
    key: String,
    secrets: String,
    zone: String,
}

fn files() -> Files {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.pem");
    std::fs::copy(world::KEY, &key).expect("key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("mode");
    let secrets = dir.path().join("srs.secrets");
    std::fs::write(&secrets, "current-secret-of-the-test\n").expect("secrets");
    let zone = dir.path().join("zone");
    std::fs::write(&zone, world::zone()).expect("zone");
    let s = |p: &std::path::Path| p.to_str().expect("path").to_string();
    Files {
        key: s(&key),
        secrets: s(&secrets),
        zone: s(&zone),
        _dir: dir,
    }
}

fn toml(case: &Case, f: &Files) -> String {
    case.cfg.toml(&f.key, &f.secrets)
}

fn run_eval(case: &Case, f: &Files) -> Observed {
    let dir = tempfile::tempdir().expect("tempdir");
    let (msg, cfg) = (dir.path().join("m.eml"), dir.path().join("milter.toml"));
    std::fs::write(&msg, &case.raw).expect("message");
    std::fs::write(&cfg, toml(case, f)).expect("config");
    let mut cmd = std::process::Command::new(binary());
    cmd.arg("eval")
        .arg(&msg)
        .args(["--ip", &case.env.ip, "--mail-from", &case.env.mail_from_arg])
        .args(["--role", case.cfg.role, "--zone", &f.zone, "--json", "-c"])
        .arg(&cfg);
    if let Some(h) = &case.env.helo {
        cmd.args(["--helo", h]);
    }
    for r in &case.env.rcpts {
        cmd.args(["--rcpt", r]);
    }
    if let Some(a) = &case.env.auth {
        cmd.args(["--auth", a]);
    }
    if let Some(d) = &case.env.daemon_name {
        cmd.args(["--daemon-name", d]);
    }
    let out = cmd.output().expect("run eval");
    assert!(
        out.status.success(),
        "eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("eval JSON");
    let strings = |key: &str| -> Vec<String> {
        json[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let action = json["action"].as_str().unwrap_or("?").to_string();
    let accepted = matches!(action.as_str(), "accept" | "quarantine");
    let mut added = if accepted {
        strings("headers_added")
    } else {
        Vec::new()
    };
    added.sort();
    Observed {
        reply: json["smtp_reply"].as_str().map(str::to_string),
        quarantine: json["quarantine"].as_str().map(str::to_string),
        authres: json["authentication_results"].as_str().map(str::to_string),
        removed: if accepted {
            sorted(strings("headers_removed"))
        } else {
            Vec::new()
        },
        added,
        new_sender: json["new_sender"].as_str().map(str::to_string),
        recipients: strings("recipients_changed"),
        action,
    }
}

async fn run_milter(case: &Case, f: &Files) -> Observed {
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"{}\"\n{}",
        case.cfg.role,
        toml(case, f)
    );
    let config = Config::parse(&toml).expect("config");
    let dns = Arc::new(MemoryResolver::from_zone(&world::zone()).expect("zone"));
    let app = Arc::new(App::new(config, dns).expect("app"));
    let (sink, mut published) = ResultsSink::bounded(4);
    let server = Server::bind_shared(Arc::new(ArcSwap::new(app)), Services::with_sink(sink))
        .await
        .expect("bind");
    let addr = match server.local_addrs().first() {
        Some(SocketSpec::Inet { host, port }) => {
            std::net::SocketAddr::new(host.parse().expect("ip"), *port)
        }
        other => panic!("{other:?}"),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stop_rx.await;
    }));
    let profile = if case.sendmail {
        Profile::sendmail()
    } else {
        Profile::postfix()
    };
    let profile = profile.with_timeout(Duration::from_secs(20));
    let mut mta = match &case.fragments {
        None => MtaClient::connect_tcp(addr, profile)
            .await
            .expect("connect"),
        Some(sizes) => {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            tcp.set_nodelay(true).expect("nodelay");
            MtaClient::from_stream(
                Fragmenting {
                    inner: tcp,
                    sizes: sizes.clone(),
                    next: 0,
                },
                profile,
            )
        }
    };
    mta.negotiate().await.expect("negotiate");
    let ip: std::net::IpAddr = case.env.ip.parse().expect("ip");
    let daemon: Vec<(&str, &str)> = case
        .env
        .daemon_name
        .as_deref()
        .map(|d| vec![("{daemon_name}", d)])
        .unwrap_or_default();
    mta.connect(&format!("[{ip}]"), ip, 40000, &daemon)
        .await
        .expect("connect");
    if let Some(h) = &case.env.helo {
        mta.helo(h, &[]).await.expect("helo");
    }
    let auth: Vec<(&str, &str)> = case
        .env
        .auth
        .as_deref()
        .map(|a| vec![("{auth_authen}", a)])
        .unwrap_or_default();
    if let Some((from, rcpts, raw)) = &case.before {
        let rcpts: Vec<String> = rcpts.iter().map(|r| format!("<{r}>")).collect();
        let rcpts: Vec<&str> = rcpts.iter().map(String::as_str).collect();
        // the test client sends no NUL in a header value: a blank for it here
        let raw: Vec<u8> = raw.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
        let out = mta
            .send_transaction(from, &rcpts, &mailbox_lines(&raw, case.sendmail))
            .await
            .expect("the message before");
        if out.decided_at == milter_proto::CommandCode::BodyEob {
            let _ = tokio::time::timeout(Duration::from_secs(10), published.recv()).await;
        }
    }
    let observed = |action: &str, reply: Option<String>| Observed {
        action: action.to_string(),
        reply,
        quarantine: None,
        authres: None,
        removed: Vec::new(),
        added: Vec::new(),
        new_sender: None,
        recipients: Vec::new(),
    };
    let mail = mta
        .mail(&case.env.mail_from, &[], &auth)
        .await
        .expect("mail");
    let mut refused = None;
    if let Some(o) = refusal(&mail) {
        refused = Some(o);
    } else {
        let mut last = None;
        let mut accepted = 0;
        for r in &case.env.rcpts {
            let reply = mta.rcpt(&format!("<{r}>"), &[], &[]).await.expect("rcpt");
            match refusal(&reply) {
                Some(o) => last = Some(o),
                None => accepted += 1,
            }
        }
        if accepted == 0 {
            refused = last;
        }
    }
    let result = if let Some((action, reply)) = refused {
        observed(action, reply)
    } else {
        let out = send_message(&mut mta, case).await;
        let record = tokio::time::timeout(Duration::from_secs(10), published.recv())
            .await
            .expect("published")
            .expect("sink open");
        let decision = record
            .decision
            .as_deref()
            .expect("the sink keeps decisions");
        let mut o = observed(out.action(), None);
        o.authres = decision.authentication_results().map(|h| h.one_line());
        if let Response::ReplyCode(r) = &out.final_response {
            o.reply = Some(authmilter::pipeline::reply_text(r));
        }
        for m in &out.modifications {
            match m {
                Response::Quarantine(q) => {
                    o.quarantine = Some(String::from_utf8_lossy(q).into_owned())
                }
                Response::ChgHeader { index, name, value } if value.is_empty() => o
                    .removed
                    .push(format!("{} #{index}", String::from_utf8_lossy(name))),
                Response::InsHeader { name, value, .. } | Response::AddHeader { name, value } => {
                    o.added.push(format!(
                        "{}: {}",
                        String::from_utf8_lossy(name),
                        one_line(&String::from_utf8_lossy(value))
                    ))
                }
                Response::ChgFrom { from, .. } => {
                    let from = String::from_utf8_lossy(from);
                    o.new_sender = Some(
                        from.trim_start_matches('<')
                            .trim_end_matches('>')
                            .to_string(),
                    );
                }
                Response::AddRcpt(a) => o.recipients.push(format!(
                    "+{}",
                    String::from_utf8_lossy(a)
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                )),
                Response::DelRcpt(a) => o.recipients.push(format!(
                    "-{}",
                    String::from_utf8_lossy(a)
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                )),
                _ => {}
            }
        }
        o.added.sort();
        o.removed.sort();
        o
    };
    let _ = mta.quit().await;
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    result
}

/// A stream that writes at most the next of `sizes` bytes at a time: the milter reads frames
/// (a body chunk, a header) in pieces.
struct Fragmenting {
    inner: tokio::net::TcpStream,
    sizes: Vec<usize>,
    next: usize,
}

impl tokio::io::AsyncRead for Fragmenting {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Fragmenting {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let n = self.sizes[self.next % self.sizes.len()].min(buf.len());
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, &buf[..n]);
        if matches!(r, std::task::Poll::Ready(Ok(_))) {
            self.next += 1;
        }
        r
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A refusal at MAIL or RCPT: the action and reply text.
fn refusal(r: &Reply) -> Option<(&'static str, Option<String>)> {
    match r {
        Reply::Response(Response::ReplyCode(reply)) => Some((
            if reply.code() / 100 == 4 {
                "tempfail"
            } else {
                "reject"
            },
            Some(authmilter::pipeline::reply_text(reply)),
        )),
        Reply::Response(Response::Reject) => Some(("reject", None)),
        Reply::Response(Response::Tempfail) => Some(("tempfail", None)),
        _ => None,
    }
}

/// DATA, the headers as the MTA splits them (a value with a NUL as a raw packet), the body in
/// the case's chunks, end of message.
async fn send_message(mta: &mut MtaClient, case: &Case) -> testkit::EomOutcome {
    // the CRs as Postfix passes them (Sendmail refuses a bare CR instead), without the
    // fields Postfix's cleanup drops
    let raw = message::postfix_view(&case.raw);
    let eml = Eml::parse(&mailbox_lines(&raw, case.sendmail));
    mta.data(&[]).await.expect("data");
    for h in eml
        .headers
        .iter()
        .filter(|h| !message::dropped_by_postfix(&h.name))
    {
        crate::hostile::send_header(mta, &h.name, &h.value).await;
    }
    mta.eoh().await.expect("eoh");
    mta.body_with(&eml.body, &case.split).await.expect("body");
    mta.eom().await.expect("eom")
}

/// `raw` with an ARC set of `sealer` in front whose ARC-Authentication-Results records
/// `dmarc=pass header.from=<from>` (RFC 8617 §5.1): the chain validates unless the message
/// already carried a broken one.
async fn seal(raw: &[u8], sealer: &str, from: &str) -> Vec<u8> {
    let pem = std::fs::read(world::KEY).expect("test key");
    let s = arc::Sealer::from_pem(&pem, arc::SealerConfig::new(sealer, "s")).expect("sealer");
    let resolver = MemoryResolver::from_zone(&world::zone()).expect("zone");
    let sealed = arc::seal_message(
        &arc::Verifier::default(),
        &s,
        &resolver,
        raw,
        |_| {
            authres::AuthenticationResults::new("mx.sealer.example").with(
                authres::MethodResult::new("dmarc", "pass").with_property("header", "from", from),
            )
        },
        1_700_000_000,
    )
    .await;
    match sealed {
        Ok((_, set)) => {
            let mut out = set.to_fields("\r\n").into_bytes();
            out.extend_from_slice(raw);
            out
        }
        Err(_) => raw.to_vec(),
    }
}

/// The message as the MTA passes it on: Postfix's smtpd makes every leading line that starts
/// with `From ` (after any `>`) an `X-Mailbox-Line:` field and, when the next line starts with
/// a space or tab, ends the header block before it (smtpd.c, "UNIX-style From_ lines");
/// Sendmail drops one leading `From ` line, and so does `eval` (docs/cli.md).
fn mailbox_lines(raw: &[u8], sendmail: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    loop {
        let quoted = rest.iter().take_while(|&&b| b == b'>').count();
        if !rest[quoted..].starts_with(b"From ") {
            break;
        }
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| p + 1);
        if !sendmail {
            out.extend_from_slice(b"X-Mailbox-Line: ");
            out.extend_from_slice(&rest[..end]);
        }
        rest = &rest[end..];
        if sendmail {
            break;
        }
        if rest.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(rest);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_and_the_milter_decide_the_same_for_random_hostile_mail() {
    let mut cases = generate::cases(SEED, CASES);
    assert_eq!(cases.len(), CASES, "the number of cases is pinned");
    let f = files();
    let mut failures = Vec::new();
    let mut actions = std::collections::BTreeMap::<String, usize>::new();
    for (i, case) in cases.iter_mut().enumerate() {
        if let Some((sealer, from)) = case.arc_seal.clone() {
            case.raw = seal(&case.raw, &sealer, &from).await;
        }
        let case = &*case;
        let eval = run_eval(case, &f);
        let milter = run_milter(case, &f).await;
        *actions.entry(milter.action.clone()).or_default() += 1;
        let ar = milter.authres.clone().unwrap_or_default();
        for (label, seen) in [
            ("arc=pass", ar.contains("arc=pass")),
            ("trusted sealer", ar.contains("trusted ARC sealer")),
            ("dkim=pass", ar.contains("dkim=pass")),
            ("dkim=policy", ar.contains("dkim=policy")),
            ("dmarc=pass", ar.contains("dmarc=pass")),
            ("dmarc=temperror", ar.contains("dmarc=temperror")),
            ("removed", !milter.removed.is_empty()),
            (
                "oversize",
                ar.contains("not checked")
                    || milter
                        .reply
                        .as_deref()
                        .is_some_and(|r| r.starts_with("451 4.3.4")),
            ),
            (
                "signed",
                milter
                    .added
                    .iter()
                    .any(|h| h.starts_with("DKIM-Signature:")),
            ),
            (
                "sealed",
                milter.added.iter().any(|h| h.starts_with("ARC-Seal:")),
            ),
            ("new sender", milter.new_sender.is_some()),
            (
                "refused at RCPT",
                milter
                    .reply
                    .as_deref()
                    .is_some_and(|r| r.starts_with("550 5.1.1")),
            ),
        ] {
            if seen {
                *actions.entry(label.to_string()).or_default() += 1;
            }
        }
        let same = eval.action == milter.action
            && eval.reply == milter.reply
            && eval.quarantine == milter.quarantine
            && (milter.authres.is_none() || eval.authres == milter.authres)
            && eval.removed == milter.removed
            && same_added(&eval.added, &milter.added)
            && eval.new_sender == milter.new_sender
            && eval.recipients == milter.recipients;
        if !same {
            failures.push(format!(
                "case {i}: {:?}\n  envelope {:?}\n  message {:?}\n  eval:   {eval:?}\n  milter: {milter:?}",
                case.cfg,
                case.env,
                String::from_utf8_lossy(&case.raw)
            ));
        }
    }
    eprintln!("actions: {actions:?}");
    // the generator still reaches every outcome and every kind of change
    for seen in [
        "accept",
        "reject",
        "quarantine",
        "tempfail",
        "arc=pass",
        "trusted sealer",
        "dkim=pass",
        "dkim=policy",
        "dmarc=pass",
        "dmarc=temperror",
        "removed",
        "oversize",
        "signed",
        "sealed",
        "new sender",
        "refused at RCPT",
    ] {
        assert!(
            actions.contains_key(seen),
            "no case with {seen}: {actions:?}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {CASES} disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
