//! `authmilter eval`: run the pipeline offline on a message file and show what the milter
//! would do — the same pipeline, the same decision, the same words as the milter's log and
//! headers. The message is split into header fields the way the MTA does it (`message`
//! crate), so a header block the MTA would cut short is cut short here too.

use std::process::ExitCode;
use std::sync::Arc;

use serde::Serialize;

use crate::app::App;
use crate::cli::EvalArgs;
use milter_proto::{Envelope, SmtpReply};

use crate::pipeline::{
    ClientInfo, Decision, MessagePipeline, RcptChange, ResultsReport, StageMacros, StageReply,
    Verdict, reply_text,
};
use crate::services::Services;

use super::common::{read_input, runtime, shown as e, tool_config, tool_resolver};

#[derive(Serialize)]
struct EvalJson {
    #[serde(flatten)]
    results: ResultsReport,
    direction: String,
    action: &'static str,
    smtp_reply: Option<String>,
    quarantine: Option<String>,
    authentication_results: Option<String>,
    headers_removed: Vec<String>,
    headers_added: Vec<String>,
    signatures: Vec<String>,
    /// Keys that would have signed but were withheld (a stranger's or a re-submitted forgery
    /// of their domain), as the log line's `signed=KEY:withheld`.
    signatures_withheld: Vec<String>,
    /// The SRS rewrite was withheld (`srs=withheld`: its domain aligns with an
    /// unauthenticated From domain).
    srs_withheld: bool,
    /// The DMARC disposition as applied (what an aggregate report records), RFC 9990 §3.1.1.9.
    applied_disposition: Option<String>,
    policy_overrides: Vec<String>,
    header_block: Option<String>,
    /// The new envelope sender the milter sets (CHGFROM: SRS), without `<>`.
    new_sender: Option<String>,
    /// Envelope recipient changes (DELRCPT `-addr`, ADDRCPT `+addr`: SRS reversal).
    recipients_changed: Vec<String>,
    /// Recipients the milter refuses at RCPT, each with the reply (`addr: 550 5.1.1 ...`).
    recipients_refused: Vec<String>,
}

/// Runs the command. Exit status 0 whatever the outcome.
pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let config = tool_config(&args.config)?;
    let resolver = tool_resolver(&config, &args.dns)?;
    let app = Arc::new(App::new(config, resolver)?);
    let raw = read_input(Some(&args.file))?;
    let msg = message::parse_as_postfix_passes(&raw);
    let rt = runtime()?;
    if !app.config.dkim.key_check_interval.is_zero() && !app.signing.is_empty() {
        // serve checks each key's DNS record before it signs with it (and promotes a `next`
        // key whose wait is over): the same keys sign here. The state file is read (remembered
        // promotions count) but never written: it is serve's, and a test configuration or a
        // check that misses a record must not change what the milter does next
        app.signing.never_save_state();
        rt.block_on(crate::signing::check_published(
            &app.signing,
            &*app.resolver,
            crate::signing::unix_now(),
        ));
    }
    let evaluated = rt.block_on(evaluate(app, &args, &msg));
    let mut report = build_report(&evaluated.decision);
    report.recipients_refused = evaluated.refused;
    if msg.header_end.is_malformed() {
        report.header_block = Some(match msg.header_end {
            message::HeaderEnd::NotAField(line) => format!(
                "line {line} is not a header field: the header block ends there and the rest is body, as the MTA does it"
            ),
            _ => "the header block starts with a continuation line: it is all body, as the MTA does it".into(),
        });
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_text(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What eval decided: the decision, and the recipients the milter would refuse at RCPT.
struct Evaluated {
    decision: Arc<Decision>,
    refused: Vec<String>,
}

/// The envelope address as the milter reads it from MAIL FROM or RCPT TO (milter_proto
/// [`Envelope::mailbox`]: `<>` and blanks inside them, a source route and the `""` null
/// sender), so `--mail-from "<@relay:a@b>"` is the sender the milter would see.
fn mailbox(arg: &str) -> Vec<u8> {
    Envelope::new(arg.as_bytes().to_vec(), Vec::new())
        .mailbox()
        .to_vec()
}

/// A refusal at MAIL or RCPT (RFC 5321 §3.3) as the decision the MTA acts on: it ends the
/// transaction with the milter's reply.
fn refusal(reply: SmtpReply, direction: Option<crate::pipeline::Direction>) -> Decision {
    let mut d = Decision::accept();
    d.summary = direction.map_or("inbound", |d| d.as_str()).to_string();
    d.verdict = if reply.code() / 100 == 4 {
        Verdict::TempFail(reply)
    } else {
        Verdict::Reject(reply)
    };
    d
}

async fn evaluate(app: Arc<App>, args: &EvalArgs, msg: &message::Message) -> Evaluated {
    let mut p = MessagePipeline::new(app, Services::none(), args.role.into());
    p.connect(
        ClientInfo {
            hostname: format!("[{}]", args.ip),
            ip: Some(args.ip),
            port: 0,
        },
        args.daemon_name.clone(),
    );
    if !args.helo.is_empty() {
        p.helo(args.helo.as_bytes());
    }
    let macros = StageMacros {
        auth_authen: args.auth.clone(),
        queue_id: None,
    };
    if let StageReply::Refuse(reply) = p.mail(&mailbox(&args.mail_from), Vec::new(), &macros) {
        return Evaluated {
            decision: Arc::new(refusal(reply, p.message_direction())),
            refused: Vec::new(),
        };
    }
    // the MTA goes on with the recipients the milter accepts, and ends the transaction when it
    // refuses them all (the last refusal is the answer)
    let mut refused = Vec::new();
    let mut last_refusal = None;
    for r in &args.rcpt {
        if let StageReply::Refuse(reply) = p.rcpt(&mailbox(r), Vec::new()) {
            refused.push(format!("{r}: {}", reply_text(&reply)));
            last_refusal = Some(reply);
        }
    }
    if let Some(reply) = last_refusal.filter(|_| refused.len() == args.rcpt.len()) {
        return Evaluated {
            decision: Arc::new(refusal(reply, p.message_direction())),
            refused,
        };
    }
    for h in &msg.headers {
        // Postfix and Sendmail drop the whitespace the obsolete syntax allows before the colon
        // (RFC 5322 §4.5.2, `From :`): the milter is sent `From`, and Postfix queues `From:`
        p.header(h.canonical_name(), &h.value);
    }
    p.end_of_headers();
    for chunk in msg.body.chunks(milter_proto::MILTER_CHUNK_SIZE) {
        p.body(chunk);
    }
    Evaluated {
        decision: p.end_of_message().await,
        refused,
    }
}

fn build_report(d: &Decision) -> EvalJson {
    let results = d.results.as_ref().map(|r| r.report()).unwrap_or_default();
    // the milter changes the message and its envelope only when it lets it through
    // (server::responses): a refused message shows no changes
    let applied = d.verdict == Verdict::Accept;
    let direction = d
        .summary
        .split_whitespace()
        .next()
        .unwrap_or("inbound")
        .to_string();
    EvalJson {
        results,
        direction,
        action: d.action(),
        smtp_reply: d.verdict.reply_text(),
        quarantine: d.quarantine.clone(),
        authentication_results: d.authentication_results().map(|h| h.one_line()),
        headers_removed: d
            .delete
            .iter()
            .filter(|_| applied)
            .map(|h| format!("{} #{}", h.name, h.index))
            .collect(),
        headers_added: d
            .prepend
            .iter()
            .chain(&d.append)
            .filter(|_| applied)
            .map(|h| format!("{}: {}", h.name, h.one_line()))
            .collect(),
        signatures: d.signed.clone(),
        signatures_withheld: d
            .summary
            .split_whitespace()
            .filter_map(|t| t.strip_prefix("signed=")?.strip_suffix(":withheld"))
            .map(str::to_string)
            .collect(),
        srs_withheld: d.summary.split_whitespace().any(|t| t == "srs=withheld"),
        applied_disposition: d.applied.as_ref().map(|a| a.disposition.to_string()),
        policy_overrides: d
            .applied
            .iter()
            .flat_map(|a| &a.overrides)
            .map(|o| format!("{} ({})", o.kind.as_str(), o.comment))
            .collect(),
        header_block: None,
        new_sender: d.new_sender.clone().filter(|_| applied),
        recipients_changed: d
            .recipients
            .iter()
            .filter(|_| applied)
            .map(|r| match r {
                RcptChange::Delete(a) => format!("-{a}"),
                RcptChange::Add(a) => format!("+{a}"),
            })
            .collect(),
        recipients_refused: Vec::new(),
    }
}

/// The report as text. Every value that can come from the message is escaped ([`e`]) unless
/// it is already free of control characters: a hostile message must not drive the terminal
/// of the postmaster who evaluates it.
fn print_text(r: &EvalJson) -> std::io::Result<()> {
    outln!("direction: {}", e(&r.direction))?;
    if let Some(note) = &r.header_block {
        outln!("header: {}", e(note))?;
    }
    if let Some(ar) = &r.authentication_results {
        // already free of control characters (authres writes none): shown as the milter writes it
        outln!("Authentication-Results: {ar}")?;
        outln!()?;
    }
    if let Some(i) = &r.results.iprev {
        outln!(
            "iprev:  {}{}",
            e(&i.result),
            e(&i.reason
                .as_ref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default())
        )?;
    }
    for (label, s) in [
        ("spf:   ", &r.results.spf),
        ("helo:  ", &r.results.spf_helo),
    ] {
        if let Some(s) = s {
            let detail = s
                .reason
                .clone()
                .or_else(|| s.mechanism.as_ref().map(|m| format!("matched {m}")))
                .unwrap_or_default();
            outln!(
                "{label} {} for {} {}",
                e(&s.result),
                e(&s.domain),
                e(&detail)
            )?;
        }
    }
    if r.results.checked && r.results.dkim.is_empty() {
        outln!("dkim:   none (no signatures)")?;
    }
    for s in &r.results.dkim {
        outln!(
            "dkim:   {} d={} s={}{}",
            e(&s.result),
            e(&s.domain),
            e(&s.selector),
            e(&s.reason
                .as_ref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default())
        )?;
    }
    if let Some(a) = &r.results.arc {
        outln!(
            "arc:    {}{}{}",
            e(&a.result),
            e(&a.reason
                .as_ref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default()),
            e(&if a.sealers.is_empty() {
                String::new()
            } else {
                format!(" sealers: {}", a.sealers.join(", "))
            })
        )?;
        if let Some(o) = &a.trusted_override {
            outln!("arc:    override: {}", e(o))?;
        }
    }
    if let Some(d) = &r.results.dmarc {
        outln!(
            "dmarc:  {} from={} policy={} disposition={}{}",
            e(&d.result),
            e(d.domain.as_deref().unwrap_or("-")),
            e(d.policy.as_deref().unwrap_or("-")),
            e(&d.disposition),
            e(&d.reason
                .as_ref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default())
        )?;
    }
    for o in &r.policy_overrides {
        outln!("override: {}", e(o))?;
    }
    for s in &r.signatures {
        outln!("sign:   {}", e(s))?;
    }
    if !r.signatures_withheld.is_empty() {
        outln!(
            "sign:   none: withheld {} (the warning above says why)",
            e(&r.signatures_withheld.join(", "))
        )?;
    } else if r.direction != "inbound" && r.signatures.is_empty() {
        outln!("sign:   none (no key for the From domain, or a From the warning above names)")?;
    }
    if r.srs_withheld {
        outln!(
            "sender: unchanged (SRS withheld: its domain aligns with an unauthenticated From domain)"
        )?;
    }
    for h in &r.headers_removed {
        outln!("remove: {}", e(h))?;
    }
    if let Some(s) = &r.new_sender {
        outln!("sender: {} (CHGFROM)", e(s))?;
    }
    for c in &r.recipients_changed {
        outln!("rcpt:   {}", e(c))?;
    }
    for c in &r.recipients_refused {
        outln!("refuse: {} (at RCPT)", e(c))?;
    }
    outln!()?;
    match &r.smtp_reply {
        // an SMTP reply holds no control characters (config::reply)
        Some(reply) => outln!("action: {} ({reply})", r.action)?,
        None => outln!("action: {}", r.action)?,
    }
    if let Some(q) = &r.quarantine {
        outln!("quarantine reason: {}", e(q))?;
    }
    Ok(())
}
