//! `authmilter eval`: run the inbound pipeline offline on a message file and show what the
//! milter would do.

use std::process::ExitCode;
use std::sync::Arc;

use serde::Serialize;

use crate::app::App;
use crate::cli::EvalArgs;
use crate::config::Role;
use crate::pipeline::{
    ClientInfo, Decision, HeaderChange, MessagePipeline, ResultsReport, StageMacros,
};

use super::common::{read_input, runtime, tool_config, tool_resolver};

#[derive(Serialize)]
struct EvalJson {
    #[serde(flatten)]
    results: ResultsReport,
    action: &'static str,
    smtp_reply: Option<String>,
    quarantine: Option<String>,
    authentication_results: Option<String>,
    headers_removed: Vec<String>,
    headers_added: Vec<String>,
}

/// Runs the command. Exit status 0 whatever the outcome.
pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let config = tool_config(&args.config)?;
    let resolver = tool_resolver(&config, &args.dns)?;
    let app = if args.auth.is_some() {
        App::new(config, resolver)?
    } else {
        App::without_keys(config, resolver)?
    };
    let app = Arc::new(app);
    let raw = read_input(Some(&args.file))?;
    let role = if args.auth.is_some() {
        Role::Auto
    } else {
        Role::Verify
    };
    let decision = runtime()?.block_on(evaluate(app, role, &args, &raw));
    let report = build_report(&decision);
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_text(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn evaluate(app: Arc<App>, role: Role, args: &EvalArgs, raw: &[u8]) -> Decision {
    let mut p = MessagePipeline::new(app, role);
    p.connect(
        ClientInfo {
            hostname: format!("[{}]", args.ip),
            ip: Some(args.ip),
            port: 0,
        },
        None,
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
    let msg = dkim::parse_message(raw);
    for h in &msg.headers {
        p.header(&h.name, &h.value);
    }
    p.end_of_headers();
    for chunk in msg.body.chunks(milter_proto::MILTER_CHUNK_SIZE) {
        p.body(chunk);
    }
    p.end_of_message().await
}

fn build_report(d: &Decision) -> EvalJson {
    let results = d
        .results
        .as_ref()
        .map(|r| r.report())
        .unwrap_or(ResultsReport {
            spf: None,
            spf_helo: None,
            dkim: Vec::new(),
            dmarc: None,
            iprev: None,
        });
    let mut removed = Vec::new();
    let mut added = Vec::new();
    let mut ar = None;
    for h in &d.headers {
        match h {
            HeaderChange::Delete { name, index } => removed.push(format!("{name} #{index}")),
            HeaderChange::Insert { name, value, .. } | HeaderChange::Add { name, value } => {
                let one_line = value.replace("\n\t", " ");
                if name == "Authentication-Results" {
                    ar = Some(one_line.clone());
                }
                added.push(format!("{name}: {one_line}"));
            }
        }
    }
    EvalJson {
        results,
        action: d.action(),
        smtp_reply: d.verdict.smtp_reply().map(str::to_string),
        quarantine: d.quarantine.clone(),
        authentication_results: ar,
        headers_removed: removed,
        headers_added: added,
    }
}

fn print_text(r: &EvalJson) -> std::io::Result<()> {
    if let Some(ar) = &r.authentication_results {
        outln!("Authentication-Results: {ar}")?;
        outln!()?;
    }
    if let Some(i) = &r.results.iprev {
        outln!(
            "iprev:  {}{}",
            i.result,
            i.reason
                .as_ref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default()
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
            outln!("{label} {} for {} {}", s.result, s.domain, detail)?;
        }
    }
    if r.results.dkim.is_empty() {
        outln!("dkim:   none (no signatures)")?;
    }
    for s in &r.results.dkim {
        outln!(
            "dkim:   {} d={} s={}{}",
            s.result,
            s.domain,
            s.selector,
            s.reason
                .as_ref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default()
        )?;
    }
    if let Some(d) = &r.results.dmarc {
        outln!(
            "dmarc:  {} from={} policy={} disposition={}{}",
            d.result,
            d.domain.as_deref().unwrap_or("-"),
            d.policy.as_deref().unwrap_or("-"),
            d.disposition,
            d.reason
                .as_ref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default()
        )?;
    }
    for h in &r.headers_removed {
        outln!("remove: {h}")?;
    }
    outln!()?;
    match &r.smtp_reply {
        Some(reply) => outln!("action: {} ({reply})", r.action)?,
        None => outln!("action: {}", r.action)?,
    }
    if let Some(q) = &r.quarantine {
        outln!("quarantine reason: {q}")?;
    }
    Ok(())
}
