//! Reports in behind a real Postfix (AUTHMILTER_E2E=1): a report mailed to the
//! `[reports.inbox]` address through Postfix is stored, then delivered (`action = "deliver"`)
//! or discarded (`action = "discard"`, Postfix logs the milter's DISCARD and nothing reaches
//! the sink); a report with a broken attachment is delivered untouched and logged.

use std::path::PathBuf;
use std::time::Duration;

use super::mta::{self, Listener, MilterSpec, PostfixSpec, SmtpService, Stack, StackSpec};
use crate::reports_in::{
    Src, days_ago, gzip, report, report_mail, stored_messages, wait_stored_messages, xml,
};

/// A stack whose milter stores reports to `dmarc@rx.example` with `action`; the reporter's
/// mail passes DMARC (aligned SPF), without which it is never discarded (docs/reports.md).
fn inbox_stack(name: &'static str, action: &str) -> Stack {
    Stack::start(StackSpec {
        name,
        records: "reporter IN TXT \"v=spf1 ip4:127.0.0.1 -all\"\n\
                  _dmarc.reporter IN TXT \"v=DMARC1; p=none\"\n"
            .to_string(),
        milter: MilterSpec {
            listeners: vec![Listener::inet("in", "verify")],
            socketmap: false,
            extra: format!(
                "[reports]\nstore = \"sqlite:{{dir}}/reports.db\"\n\n\
                 [reports.inbox]\naddresses = [\"dmarc@rx.example\"]\naction = \"{action}\"\n\
                 discard_timeout = \"20s\"\nresolve_names = false\n"
            ),
        },
        postfix: PostfixSpec {
            services: vec![SmtpService::with_milter("in", "{milter:in}")],
            ..PostfixSpec::default()
        },
    })
}

/// A config for `report show` on the stack's store.
fn show_config(stack: &Stack) -> PathBuf {
    let store = format!("sqlite:{}/reports.db", stack.dir.path().display());
    let cfg = stack.dir.path().join("show.toml");
    std::fs::write(&cfg, format!("[reports]\nstore = \"{store}\"\n")).expect("config");
    cfg
}

/// `report show --json` on the stack's store for `domain` on `day`: the messages stored.
fn stored(stack: &Stack, domain: &str, day: u64) -> u64 {
    stored_messages(&show_config(stack), domain, day)
}

/// Waits (bounded) until the store holds `n` messages for `domain` on `day`.
fn wait_stored(stack: &Stack, domain: &str, day: u64, n: u64) {
    wait_stored_messages(
        &show_config(stack),
        domain,
        day,
        n,
        Duration::from_secs(30),
        || stack.diagnostics(),
    );
}

/// Submits `msg` from the reporter to the inbox address; Postfix must accept it.
fn submit_report(stack: &Stack, msg: &[u8]) {
    let sub = stack.submit(
        "in",
        "noreply-dmarc@reporter.example",
        &["dmarc@rx.example"],
        msg,
    );
    super::assert_accepted(stack, &sub);
}

/// The body of a message (after the first empty line).
fn body(data: &[u8]) -> &[u8] {
    let at = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a message has a body");
    &data[at + 4..]
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_report_is_stored_and_delivered() {
    if !mta::enabled() {
        return;
    }
    let stack = inbox_stack("rin-deliver", "deliver");
    let day = days_ago(2);
    let fb = xml(&report(
        "reporter.example",
        "pf-deliver-1",
        "example.com",
        day,
        &[
            Src::good("192.0.2.1", 40, "example.com"),
            Src::spoofer("198.51.100.7", 2),
        ],
    ));
    let msg = report_mail(
        "dmarc@rx.example",
        "pf-deliver-1",
        &[("application/gzip", "r.xml.gz", &gzip(&fb))],
    );
    submit_report(&stack, &msg);
    let d = stack.delivered("pf-deliver-1@reporter.example");
    assert_eq!(d.rcpts, ["dmarc@rx.example"]);
    assert_eq!(
        body(&d.data),
        body(&msg),
        "the report is delivered unchanged"
    );
    wait_stored(&stack, "example.com", day, 42);
    stack.assert_quiet_logs();
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_report_is_discarded_once_stored_and_a_broken_one_is_delivered() {
    if !mta::enabled() {
        return;
    }
    let stack = inbox_stack("rin-discard", "discard");
    let day = days_ago(3);
    let fb = xml(&report(
        "reporter.example",
        "pf-discard-1",
        "example.com",
        day,
        &[Src::good("192.0.2.1", 9, "example.com")],
    ));
    let msg = report_mail(
        "dmarc@rx.example",
        "pf-discard-1",
        &[("text/xml", "r.xml", &fb)],
    );
    submit_report(&stack, &msg);
    // discarded only once stored: stored when Postfix has the answer
    assert_eq!(stored(&stack, "example.com", day), 9);

    // a broken attachment: delivered untouched, the reason logged
    let mut broken = gzip(&fb);
    broken.truncate(broken.len() / 2);
    let bad = report_mail(
        "dmarc@rx.example",
        "pf-broken-1",
        &[("application/gzip", "broken.xml.gz", &broken)],
    );
    submit_report(&stack, &bad);
    let d = stack.delivered("pf-broken-1@reporter.example");
    assert_eq!(d.rcpts, ["dmarc@rx.example"]);
    assert_eq!(body(&d.data), body(&bad), "delivered untouched");
    let log = stack.milter.log_tail(200);
    assert!(
        log.contains("cannot read a report") && log.contains("gzip"),
        "{log}"
    );
    assert!(
        log.contains("message delivered, not discarded: no report could be read"),
        "{log}"
    );
    // the discarded one never reached the sink (the broken one, sent after it, did), and
    // Postfix says the milter discarded it
    assert!(
        !stack
            .sink
            .messages()
            .iter()
            .any(|m| m.contains("pf-discard-1@reporter.example")),
        "{}",
        stack.diagnostics()
    );
    let maillog = stack.postfix.log_tail(10_000);
    assert!(
        maillog
            .lines()
            .any(|l| l.contains("milter-discard") && l.contains("DISCARD")),
        "{maillog}"
    );
    // and holds nothing once the broken one's delivery is done
    let drained = test_support::process::poll(Duration::from_secs(20), || {
        stack.postfix.queued().is_empty().then_some(())
    });
    assert!(drained.is_some(), "{}", stack.diagnostics());
    assert_eq!(
        stored(&stack, "example.com", day),
        9,
        "the broken one adds nothing"
    );
}
