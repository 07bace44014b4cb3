//! What real Sendmail 8.17 and real Postfix 3.7 pass to a milter for malformed header lines
//! (issue 9 item 1; docs/dmarc.md "What Postfix and Sendmail pass for malformed From lines").
//!
//! The same header blocks go through both MTAs, each with the milter recorder between the MTA
//! and authmilter. For every case the test pins the header fields (name and value bytes) the
//! MTA sent in `SMFIC_HEADER` and the end-of-DATA reply, so that a change in either MTA (or in
//! how we drive it) shows up here. The MTAs' own `Received:` fields are left out (they carry
//! dates and queue ids). The marker that finds a message is in the body.

use std::time::Duration;

use test_support::nsd::Nsd;

use super::stack::{ATTACKER, RCPT, Stack, enabled, recorded_milter, start_nsd};
use crate::postfix::mta::milter_recorder::{MilterRecorder, Transaction, escape};
use crate::postfix::mta::smtp::submit;
use crate::postfix::mta::{Authmilter, Postfix, PostfixSpec, Sink, SmtpService, message_id};

/// One header block and what each MTA did with it.
struct Case {
    tag: &'static str,
    /// The header lines (CRLF-terminated); the empty line and a body with the marker follow.
    head: &'static str,
    /// Header fields Sendmail passed, as `name:value` with the bytes escaped.
    sendmail: &'static [&'static str],
    /// Sendmail's end-of-DATA reply code (authmilter with DMARC enforcement on).
    sendmail_reply: &'static str,
    /// Header fields Postfix passed (its own `Received:` left out).
    postfix: &'static [&'static str],
    /// Postfix's end-of-DATA reply code.
    postfix_reply: &'static str,
}

const CASES: &[Case] = &[
    // RFC 5322 §4.5.2 obsolete syntax: both MTAs drop the whitespace before the colon and
    // pass a second field named exactly `From`: two From fields, refused (multiple_from).
    Case {
        tag: "space-before-colon",
        head: "Subject: wire\r\nFrom : The CEO <ceo@strict.example>\r\nFrom: alice@pass.example\r\n",
        sendmail: &[
            "Subject: wire",
            "From: The CEO <ceo@strict.example>",
            "From: alice@pass.example",
        ],
        sendmail_reply: "550",
        postfix: &[
            "Subject: wire",
            "From: The CEO <ceo@strict.example>",
            "From: alice@pass.example",
        ],
        postfix_reply: "550",
    },
    // the same with a tab
    Case {
        tag: "tab-before-colon",
        head: "Subject: wire\r\nFrom\t: <ceo@strict.example>\r\nFrom: alice@pass.example\r\n",
        sendmail: &[
            "Subject: wire",
            "From: <ceo@strict.example>",
            "From: alice@pass.example",
        ],
        sendmail_reply: "550",
        postfix: &[
            "Subject: wire",
            "From: <ceo@strict.example>",
            "From: alice@pass.example",
        ],
        postfix_reply: "550",
    },
    // the first line starts with `From `: a UNIX From line to both. Sendmail takes it off the
    // message, Postfix renames it X-Mailbox-Line; the one From left is the attacker's own.
    Case {
        tag: "space-before-colon-first",
        head: "From : <ceo@strict.example>\r\nFrom: alice@pass.example\r\nSubject: wire\r\n",
        sendmail: &["From: alice@pass.example", "Subject: wire"],
        sendmail_reply: "250",
        postfix: &[
            "X-Mailbox-Line: From : <ceo@strict.example>",
            "From: alice@pass.example",
            "Subject: wire",
        ],
        postfix_reply: "250",
    },
    // a real mbox separator line: the same treatment
    Case {
        tag: "mbox-line-first",
        head: "From ceo@strict.example Sun Nov 22 12:00:00 2026\r\nFrom: alice@pass.example\r\n",
        sendmail: &["From: alice@pass.example"],
        sendmail_reply: "250",
        postfix: &[
            "X-Mailbox-Line: From ceo@strict.example Sun Nov 22 12:00:00 2026",
            "From: alice@pass.example",
        ],
        postfix_reply: "250",
    },
    // a continuation line with nothing above it: no header block at all, everything is body
    // to both, so no From (invalid_from: refused)
    Case {
        tag: "whitespace-first",
        head: " From: ceo@strict.example\r\nFrom: alice@pass.example\r\nSubject: s\r\n",
        sendmail: &[],
        sendmail_reply: "550",
        postfix: &[],
        postfix_reply: "550",
    },
    // no From: neither MTA adds one for this client before the milter sees the message
    Case {
        tag: "no-from",
        head: "To: bob@remote.example\r\nSubject: no author\r\n",
        sendmail: &["To: bob@remote.example", "Subject: no author"],
        sendmail_reply: "550",
        postfix: &["To: bob@remote.example", "Subject: no author"],
        postfix_reply: "550",
    },
    // the MTAs differ: Sendmail ends the header block at a line starting with `--` (it can be
    // a MIME boundary), so the From below it is body and the message has no From; Postfix
    // passes `--x` as a field name and the From after it
    Case {
        tag: "dash-dash-name",
        head: "Subject: s\r\n--x: y\r\nFrom: alice@pass.example\r\n",
        sendmail: &["Subject: s"],
        sendmail_reply: "550",
        postfix: &["Subject: s", "--x: y", "From: alice@pass.example"],
        postfix_reply: "250",
    },
    // a line that is no field ends the header block for both: the From below it is body
    Case {
        tag: "line-without-colon",
        head: "Subject: s\r\ngarbage line\r\nFrom: ceo@strict.example\r\n",
        sendmail: &["Subject: s"],
        sendmail_reply: "550",
        postfix: &["Subject: s"],
        postfix_reply: "550",
    },
];

/// What one MTA passed and answered for one case.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    headers: Vec<String>,
    reply: String,
}

fn seen(t: &Transaction, reply: u16) -> Seen {
    let headers = t
        .headers
        .iter()
        .filter(|(n, v)| {
            // the MTA's own trace field
            let own = n == b"Received"
                && (contains(v, b"by mx.test.example (Postfix)")
                    || contains(v, b"by mx.test.example (8."));
            !own
        })
        .map(|(n, v)| format!("{}:{}", escape(n), escape(v)))
        .collect();
    Seen {
        headers,
        reply: reply.to_string(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn message(case: &Case, id: &str) -> Vec<u8> {
    format!("{}\r\nbody {id}\r\n", case.head).into_bytes()
}

/// NSD, the sink, authmilter, the recorder and a throwaway Postfix whose `smtpd_milters` is the
/// recorder; Postfix adds no header of its own for this client.
struct PostfixRecorded {
    postfix: Postfix,
    recorder: MilterRecorder,
    milter: Authmilter,
    _sink: Sink,
    _nsd: Nsd,
    _dir: tempfile::TempDir,
}

impl PostfixRecorded {
    fn start(name: &'static str) -> PostfixRecorded {
        let dir = crate::postfix::mta::workdir(name);
        let nsd = start_nsd("");
        let sink = Sink::start();
        let (milter, recorder) = recorded_milter(dir.path(), name, &nsd, "");
        let pf = PostfixSpec {
            services: vec![SmtpService::with_milter(
                "in",
                &format!("inet:{}", recorder.addr()),
            )],
            main: vec![
                ("local_header_rewrite_clients".into(), String::new()),
                ("always_add_missing_headers".into(), "no".into()),
            ],
            ..PostfixSpec::default()
        };
        let postfix = Postfix::start(dir.path(), name, sink.addr(), &pf)
            .unwrap_or_else(|e| panic!("Postfix did not start: {e}"));
        PostfixRecorded {
            postfix,
            recorder,
            milter,
            _sink: sink,
            _nsd: nsd,
            _dir: dir,
        }
    }
}

/// Waits (bounded) for the recorder to have the transaction with `marker`.
fn recorded(recorder: &MilterRecorder, marker: &str, logs: impl Fn() -> String) -> Transaction {
    test_support::process::poll(Duration::from_secs(10), || {
        recorder.find(marker).filter(|t| t.ended)
    })
    .unwrap_or_else(|| panic!("the milter never saw {marker}\n{}", logs()))
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn what_sendmail_and_postfix_pass_for_malformed_header_lines() {
    let Some(root) = enabled() else { return };
    assert!(
        test_support::process::find_program("postfix").is_some(),
        "AUTHMILTER_E2E=1 but `postfix` is not installed (apt-get install postfix)"
    );
    let sendmail = Stack::start(&root, "sm-lines");
    let postfix = PostfixRecorded::start("pf-lines");
    let mut report = Vec::new();
    let mut wrong = Vec::new();
    for case in CASES {
        let id = message_id(case.tag);
        let msg = message(case, &id);
        let sub = sendmail.submit(ATTACKER, &msg);
        let reply = sendmail.end(&sub).code;
        let by_sendmail = seen(
            &recorded(&sendmail.recorder, &id, || sendmail.diagnostics()),
            reply,
        );
        let pid = format!("{id}.pf");
        let msg = message(case, &pid);
        let sub = submit(postfix.postfix.smtp("in"), ATTACKER, &[RCPT], &msg)
            .unwrap_or_else(|e| panic!("SMTP to Postfix failed: {e}"));
        let reply = sub.end.as_ref().map_or(sub.final_reply().code, |r| r.code);
        let by_postfix = seen(
            &recorded(&postfix.recorder, &pid, || {
                format!(
                    "{}\n{}",
                    postfix.postfix.log_tail(30),
                    postfix.milter.log_tail(30)
                )
            }),
            reply,
        );
        report.push(format!(
            "{}\n  sendmail {} {:?}\n  postfix  {} {:?}",
            case.tag, by_sendmail.reply, by_sendmail.headers, by_postfix.reply, by_postfix.headers
        ));
        let want = |h: &[&str], r: &str| Seen {
            headers: h.iter().map(|s| s.to_string()).collect(),
            reply: r.to_string(),
        };
        if by_sendmail != want(case.sendmail, case.sendmail_reply)
            || by_postfix != want(case.postfix, case.postfix_reply)
        {
            wrong.push(case.tag);
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        wrong.is_empty(),
        "changed: {wrong:?}\n{}",
        report.join("\n")
    );
}
