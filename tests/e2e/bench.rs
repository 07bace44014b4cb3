//! `authmilter bench` as a user runs it: against `authmilter serve` started as a process (the
//! answers are tallied, the count and duration bounds end the run, `--pid` reads the milter's
//! CPU and memory), and against small fake milters that misbehave (close early, answer
//! garbage, stall), whose errors are counted by kind. No timing is asserted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{ServeProcess, binary};
use test_support::free_port;

fn write_corpus(dir: &Path) -> std::path::PathBuf {
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for (i, size) in [200usize, 5_000, 70_000].iter().enumerate() {
        let line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n";
        let body = line.repeat(size / line.len() + 1);
        let msg = format!(
            "From: Sender {i} <sender{i}@example.org>\r\nTo: rcpt@example.net\r\n\
             Subject: bench {i}\r\nMessage-ID: <{i}@example.org>\r\n\r\n{body}"
        );
        std::fs::write(corpus.join(format!("{i:03}.eml")), msg).unwrap();
    }
    corpus
}

/// Runs `authmilter bench ... --json` (bounded by a generous hang guard) and parses the report.
fn bench(args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut child = Command::new(binary())
        .arg("bench")
        .args(args)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run authmilter bench");
    let guard = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > guard {
            let _ = child.kill();
            panic!("bench did not end by itself");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {stderr}"));
    (out.status.code().unwrap_or(-1), json, stderr)
}

fn verify_config(port: u16) -> String {
    format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
         [authres]\nauthserv_id = \"mx.test.example\"\n[dns]\nnameservers = [\"127.0.0.1:9\"]\n\
         timeout = \"200ms\"\nattempts = 1\n[spf]\nenabled = false\n[iprev]\nenabled = false\n\
         [dmarc]\nenabled = false\n[dkim]\nverify = false\n"
    )
}

#[test]
fn answers_are_tallied_against_authmilter_serve() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path());
    let port = free_port();
    let server = ServeProcess::start(&verify_config(port), port, &[]);
    let target = format!("inet:127.0.0.1:{port}");
    let pid = server.pid().to_string();
    let (code, r, err) = bench(&[
        "--target",
        &target,
        "--corpus",
        corpus.to_str().unwrap(),
        "--count",
        "30",
        "--concurrency",
        "4",
        "--per-connection",
        "4",
        "--pid",
        &pid,
    ]);
    assert_eq!(code, 0, "{err} {r}");
    assert_eq!(r["messages"], 30, "{r}");
    assert_eq!(r["failed"], 0);
    assert_eq!(r["corpus_messages"], 3);
    assert_eq!(r["answers"]["accept"], 30);
    assert_eq!(r["answers"]["reject"], 0);
    assert_eq!(r["answers"]["authentication_results_added"], 30);
    assert_eq!(r["answers"]["dkim_signatures_added"], 0);
    // --verify-answers: every message was answered as when it was sent alone.
    assert_eq!(r["answers"]["mismatched"], 0);
    // 30 messages, 4 per connection: at least 8 connections.
    assert!(r["connections"].as_u64().unwrap() >= 8, "{r}");
    assert!(r["latency_us"]["max"].as_u64().unwrap() >= r["latency_us"]["p50"].as_u64().unwrap());
    assert!(r["milter_peak_rss_kib"].as_u64().unwrap() > 0, "{r}");
    assert!(r["milter_cpu_us_per_msg"].is_number(), "{r}");
}

#[test]
fn signatures_are_counted_and_an_mbox_corpus_works() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    crate::support::genkey(&keys, "example.org", "b", "ed25519");
    let port = free_port();
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"sign\"\n\
         [authres]\nauthserv_id = \"mx.test.example\"\n\
         [dkim]\nkey_check_interval = \"0s\"\n\
         [[dkim.key]]\ndomain = \"example.org\"\nselector = \"b\"\npath = \"{}\"\n",
        keys.join("example.org.b.pem").display()
    );
    let _server = ServeProcess::start(&toml, port, &[]);
    let mbox = dir.path().join("corpus.mbox");
    std::fs::write(
        &mbox,
        "From a@example.org Mon Jan  1 00:00:00 2024\nFrom: a@example.org\nSubject: one\n\nbody one\n\n\
         From a@example.org Mon Jan  1 00:00:01 2024\nFrom: a@example.org\nSubject: two\n\n>From the top\n",
    )
    .unwrap();
    let target = format!("inet:127.0.0.1:{port}");
    let (code, r, err) = bench(&[
        "--target",
        &target,
        "--corpus",
        mbox.to_str().unwrap(),
        "--count",
        "12",
        "--concurrency",
        "2",
        "--auth",
        "alice",
    ]);
    assert_eq!(code, 0, "{err} {r}");
    assert_eq!(r["corpus_messages"], 2);
    assert_eq!(r["messages"], 12);
    assert_eq!(r["answers"]["accept"], 12);
    assert_eq!(r["answers"]["dkim_signatures_added"], 12, "{r}");
    assert_eq!(
        r["answers"]["mismatched"], 0,
        "signature timestamps are not a difference"
    );
}

#[test]
fn the_duration_bound_ends_a_run_before_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path());
    let port = free_port();
    let _server = ServeProcess::start(&verify_config(port), port, &[]);
    let target = format!("inet:127.0.0.1:{port}");
    let (code, r, err) = bench(&[
        "--target",
        &target,
        "--corpus",
        corpus.to_str().unwrap(),
        "--count",
        "100000000",
        "--duration",
        "1",
        "--concurrency",
        "2",
    ]);
    assert_eq!(code, 0, "{err}");
    let n = r["messages"].as_u64().unwrap();
    assert!(n > 0 && n < 100_000_000, "{r}");
    assert_eq!(r["answers"]["accept"].as_u64().unwrap(), n);
}

/// A fake milter on loopback that treats every connection with `behave`.
fn fake_milter(behave: fn(std::net::TcpStream)) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || behave(stream));
        }
    });
    port
}

/// Reads one milter frame (4-byte length, then the payload).
fn read_frame(s: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut payload = vec![0u8; u32::from_be_bytes(len).min(1 << 20) as usize];
    s.read_exact(&mut payload).ok()?;
    Some(payload)
}

/// A run against a misbehaving fake: it fails (exit code 1) and answers nothing.
fn run_against_fake(port: u16, extra: &[&str]) -> serde_json::Value {
    let r = run_against_fake_with_answers(port, extra);
    assert_eq!(r["messages"], 0, "{r}");
    r
}

#[test]
fn a_milter_that_closes_early_is_counted() {
    let port = fake_milter(|mut s| {
        let _ = read_frame(&mut s);
        // closes without answering OPTNEG
    });
    let r = run_against_fake(port, &["--count", "5", "--concurrency", "1"]);
    assert_eq!(r["errors"]["closed_early"], 5, "{r}");
    assert_eq!(r["failed"], 5);
}

#[test]
fn a_milter_that_answers_garbage_is_counted() {
    let port = fake_milter(|mut s| {
        use std::io::Write;
        let _ = read_frame(&mut s);
        // a frame with an unknown response code
        let _ = s.write_all(b"\0\0\0\x01Z");
        let _ = read_frame(&mut s);
    });
    let r = run_against_fake(port, &["--count", "4", "--concurrency", "2"]);
    assert_eq!(r["errors"]["garbage_reply"], 4, "{r}");
}

#[test]
fn a_milter_that_stalls_times_out_and_a_dead_one_is_refused() {
    let port = fake_milter(|mut s| while read_frame(&mut s).is_some() {});
    let r = run_against_fake(
        port,
        &["--count", "2", "--concurrency", "2", "--timeout", "0.3"],
    );
    assert_eq!(r["errors"]["timeout"], 2, "{r}");
    // Nothing listens on a port just released.
    let dead = free_port();
    let r = run_against_fake(dead, &["--count", "3", "--concurrency", "1"]);
    assert_eq!(r["errors"]["connect_refused"], 3, "{r}");
}

/// Writes one milter frame.
fn send_frame(s: &mut std::net::TcpStream, payload: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    s.write_all(&frame)
}

/// The OPTNEG reply: version 6, the actions Postfix offers, `protocol` bits.
fn optneg_reply(protocol: u32) -> Vec<u8> {
    let mut r = b"O".to_vec();
    for v in [6u32, 0x1ff, protocol] {
        r.extend_from_slice(&v.to_be_bytes());
    }
    r
}

/// A fake milter that negotiates (no no-reply flags), continues every command, and answers
/// with `eom` at end of message and `connect` at CONNECT.
fn scripted(s: &mut std::net::TcpStream, connect: &[u8], eom: fn(&mut std::net::TcpStream)) {
    while let Some(f) = read_frame(s) {
        let sent = match f.first() {
            Some(b'O') => send_frame(s, &optneg_reply(0)),
            Some(b'D' | b'A') => Ok(()),
            Some(b'Q') | None => return,
            Some(b'C') => send_frame(s, connect),
            Some(b'E') => {
                eom(s);
                Ok(())
            }
            Some(_) => send_frame(s, b"c"),
        };
        if sent.is_err() {
            return;
        }
    }
}

/// A milter that sends PROGRESS forever at end of message (Postfix keeps waiting through
/// PROGRESS) cannot hold the run past --duration plus --timeout; nor can one that stops
/// reading while a large message is written to it.
#[test]
fn a_milter_that_never_finishes_cannot_hold_the_run() {
    let port = fake_milter(|mut s| {
        scripted(&mut s, b"c", |s| {
            for _ in 0..2000 {
                if send_frame(s, b"p").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    });
    let bounds = ["--count", "1", "--duration", "1", "--timeout", "1"];
    let r = run_against_fake(port, &bounds);
    assert_eq!(r["errors"]["timeout"], 1, "{r}");
    // negotiates every no-reply flag, then reads nothing more
    let port = fake_milter(|mut s| {
        let _ = read_frame(&mut s);
        let _ = send_frame(
            &mut s,
            &optneg_reply(0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x40000 | 0x80000 | 0x80),
        );
        std::thread::sleep(Duration::from_secs(60));
    });
    let dir = tempfile::tempdir().unwrap();
    let big = format!(
        "From: a@example.org\r\n\r\n{}",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n".repeat(130_000)
    );
    let file = dir.path().join("big.eml");
    std::fs::write(&file, big).unwrap();
    let target = format!("inet:127.0.0.1:{port}");
    let mut args = vec!["--target", &target, "--corpus", file.to_str().unwrap()];
    args.extend_from_slice(&bounds);
    let (code, r, _) = bench(&args);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["errors"]["timeout"], 1, "{r}");
}

/// A reject at CONNECT decides the connection's message, as in Postfix: counted as a reject
/// decided early, not as an accept.
#[test]
fn a_reject_at_connect_is_the_answer() {
    let port = fake_milter(|mut s| scripted(&mut s, b"r", |s| drop(send_frame(s, b"a"))));
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path());
    let target = format!("inet:127.0.0.1:{port}");
    let (code, r, _) = bench(&[
        "--target",
        &target,
        "--corpus",
        corpus.to_str().unwrap(),
        "--count",
        "4",
        "--concurrency",
        "2",
    ]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["answers"]["reject"], 4, "{r}");
    assert_eq!(r["answers"]["accept"], 0, "{r}");
    assert_eq!(r["answers"]["decided_early"], 4, "{r}");
}

/// A milter that answers the ABORT after each message (which takes no reply) is out of step:
/// counted as a garbage reply, not read as the next command's answer.
#[test]
fn a_reply_nobody_asked_for_is_garbage() {
    let port = fake_milter(|mut s| {
        let mut stray = false;
        while let Some(f) = read_frame(&mut s) {
            let reply: &[u8] = match f.first() {
                Some(b'O') => &optneg_reply(0),
                Some(b'D') => continue,
                Some(b'A') => {
                    stray = true;
                    continue;
                }
                Some(b'E') => b"a",
                Some(b'Q') | None => return,
                Some(_) => b"c",
            };
            let mut out = Vec::new();
            if std::mem::take(&mut stray) {
                out.extend_from_slice(b"\0\0\0\x01r");
            }
            out.extend_from_slice(&(reply.len() as u32).to_be_bytes());
            out.extend_from_slice(reply);
            if std::io::Write::write_all(&mut s, &out).is_err() {
                return;
            }
        }
    });
    let r = run_against_fake_with_answers(
        port,
        &[
            "--count",
            "6",
            "--concurrency",
            "1",
            "--per-connection",
            "10",
        ],
    );
    assert!(r["errors"]["garbage_reply"].as_u64() >= Some(1), "{r}");
}

/// A run against a fake that answers some messages: it fails (exit code 1).
fn run_against_fake_with_answers(port: u16, extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path());
    let target = format!("inet:127.0.0.1:{port}");
    let mut args = vec!["--target", &target, "--corpus", corpus.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, r, _) = bench(&args);
    assert_eq!(code, 1, "failures give exit code 1: {r}");
    r
}
