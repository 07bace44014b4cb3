//! `authmilter eval`: run the pipeline offline on a message file and show what the milter
//! would do — the same pipeline, the same decision, the same words as the milter's log and
//! headers. The message is split into header fields the way the MTA does it (`message`
//! crate), so a header block the MTA would cut short is cut short here too.

use std::process::ExitCode;
use std::sync::Arc;

use serde::Serialize;

use crate::app::App;
use crate::cli::EvalArgs;
use crate::pipeline::{ClientInfo, Decision, MessagePipeline, ResultsReport, StageMacros};
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
    /// The DMARC disposition as applied (what an aggregate report records), RFC 9990 §3.1.1.9.
    applied_disposition: Option<String>,
    policy_overrides: Vec<String>,
    header_block: Option<String>,
}

/// Runs the command. Exit status 0 whatever the outcome.
pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let config = tool_config(&args.config)?;
    let resolver = tool_resolver(&config, &args.dns)?;
    let app = Arc::new(App::new(config, resolver)?);
    let raw = read_input(Some(&args.file))?;
    let msg = message::parse_message(&raw);
    let decision = runtime()?.block_on(evaluate(app, &args, &msg));
    let mut report = build_report(&decision);
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

async fn evaluate(app: Arc<App>, args: &EvalArgs, msg: &message::Message) -> Arc<Decision> {
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
    let mail_from = args
        .mail_from
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let macros = StageMacros {
        auth_authen: args.auth.clone(),
        queue_id: None,
    };
    p.mail(mail_from.as_bytes(), Vec::new(), &macros);
    for r in &args.rcpt {
        p.rcpt(
            r.trim_start_matches('<').trim_end_matches('>').as_bytes(),
            Vec::new(),
        );
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
    p.end_of_message().await
}

fn build_report(d: &Decision) -> EvalJson {
    let results = d.results.as_ref().map(|r| r.report()).unwrap_or_default();
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
            .map(|h| format!("{} #{}", h.name, h.index))
            .collect(),
        headers_added: d
            .prepend
            .iter()
            .chain(&d.append)
            .map(|h| format!("{}: {}", h.name, h.one_line()))
            .collect(),
        signatures: d.signed.clone(),
        applied_disposition: d.applied.as_ref().map(|a| a.disposition.to_string()),
        policy_overrides: d
            .applied
            .iter()
            .flat_map(|a| &a.overrides)
            .map(|o| format!("{} ({})", o.kind.as_str(), o.comment))
            .collect(),
        header_block: None,
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
    if r.direction != "inbound" && r.signatures.is_empty() {
        outln!("sign:   none (no key for the From domain)")?;
    }
    for h in &r.headers_removed {
        outln!("remove: {}", e(h))?;
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
