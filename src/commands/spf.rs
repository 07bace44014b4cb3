//! `authmilter spf`: evaluate SPF (RFC 7208) for one IP, MAIL FROM and HELO.

use std::process::ExitCode;

use milter_proto::Envelope;
use serde::Serialize;

use crate::app::App;
use crate::cli::SpfArgs;
use crate::pipeline::{a_label_address, a_label_domain};

use super::common::{runtime, shown, tool_config, tool_resolver};

#[derive(Serialize)]
struct SpfJson {
    result: String,
    domain: String,
    identity: &'static str,
    mechanism: Option<String>,
    explanation: Option<String>,
    lookups: usize,
    void_lookups: usize,
    problem: Option<String>,
}

/// Runs the command. Exit status 0 whatever the SPF result.
pub fn run(args: SpfArgs) -> anyhow::Result<ExitCode> {
    let config = tool_config(&args.config)?;
    let resolver = tool_resolver(&config, &args.dns)?;
    let app = App::without_keys(config, resolver)?;
    if args.mail_from.is_none() && args.helo.trim().is_empty() {
        anyhow::bail!("give --mail-from ADDR, or --helo NAME to check the HELO identity");
    }
    // the sender the milter reads from MAIL FROM (brackets, blanks inside them, a source
    // route and `""` as in RFC 5321 §4.1.2), U-labels looked up as A-labels (RFC 8616 §4)
    let mail_from = args
        .mail_from
        .as_deref()
        .map(|m| a_label_address(Envelope::new(m.as_bytes().to_vec(), Vec::new()).mailbox()));
    let helo = a_label_domain(args.helo.trim().as_bytes());
    let (identity, out) = runtime()?.block_on(async {
        if let Some(mail_from) = mail_from {
            (
                "mailfrom",
                app.spf
                    .check_mail_from(&*app.resolver, args.ip, &mail_from, &helo)
                    .await,
            )
        } else {
            // no MAIL FROM given: the HELO identity (RFC 7208 §2.3)
            (
                "helo",
                app.spf.check_helo(&*app.resolver, args.ip, &helo).await,
            )
        }
    });
    let json = SpfJson {
        result: out.result.to_string(),
        domain: out.domain.clone(),
        identity,
        mechanism: out.mechanism.clone(),
        explanation: out.explanation.clone(),
        lookups: out.dns_terms,
        void_lookups: out.void_lookups,
        problem: out.problem.as_ref().map(ToString::to_string),
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&json)?)?;
    } else {
        outln!("result:      {}", json.result)?;
        outln!(
            "identity:    {} ({})",
            shown(json.identity),
            shown(&json.domain)
        )?;
        outln!(
            "mechanism:   {}",
            shown(json.mechanism.as_deref().unwrap_or("-"))
        )?;
        if let Some(e) = &json.explanation {
            outln!("explanation: {}", shown(e))?;
        }
        if let Some(p) = &json.problem {
            outln!("problem:     {}", shown(p))?;
        }
        outln!(
            "lookups:     {} (void: {})",
            json.lookups,
            json.void_lookups
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
