//! `authmilter arc verify|seal`: validate a message's Authenticated Received Chain, or seal a
//! message (RFC 8617), for interop checks and debugging.

use std::process::ExitCode;

use anyhow::Context;
use arc::{ArcOutcome, ArcSetInfo, Sealer, SealerConfig, SignatureCheck};
use authres::AuthenticationResults;
use serde::Serialize;

use crate::cli::{ArcCommand, ArcSealArgs, ArcVerifyArgs};

use super::common::{
    read_input, runtime, shown, tool_config, tool_resolver, write_with_fields_on_top,
};

/// Runs an `arc` subcommand.
pub fn run(cmd: ArcCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ArcCommand::Verify(a) => verify(a),
        ArcCommand::Seal(a) => seal(a),
    }
}

/// The JSON of `arc verify --json`.
#[derive(Debug, Serialize)]
struct ArcReport {
    /// none, pass or fail (RFC 8617 §4.4).
    result: String,
    /// Why it failed.
    reason: Option<String>,
    /// The failure came from a DNS lookup that may work later (still fail, RFC 8617 §5.2.1).
    temporary: bool,
    /// N, when the structure is sound.
    instances: u32,
    /// RFC 8617 §5.2 step 5.
    oldest_pass: Option<u32>,
    /// The `arc=` entry we would add to Authentication-Results (RFC 8617 §6).
    authentication_results: String,
    /// Each set, from i=1.
    sets: Vec<SetReport>,
}

#[derive(Debug, Serialize)]
struct SetReport {
    instance: u32,
    cv: String,
    seal: SignatureReport,
    message_signature: SignatureReport,
    aar: Option<AarReport>,
    aar_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct SignatureReport {
    domain: String,
    selector: String,
    algorithm: Option<String>,
    /// `pass`, `fail` or `not checked`.
    result: String,
    reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct AarReport {
    authserv_id: String,
    /// The payload on one line.
    text: String,
    results: Vec<MethodReport>,
}

#[derive(Debug, Serialize)]
struct MethodReport {
    method: String,
    result: String,
}

impl From<&ArcOutcome> for ArcReport {
    fn from(o: &ArcOutcome) -> Self {
        ArcReport {
            result: o.result.to_string(),
            reason: o.reason.as_ref().map(ToString::to_string),
            temporary: o.reason.as_ref().is_some_and(|r| r.is_temporary()),
            instances: o.instances,
            oldest_pass: o.oldest_pass,
            authentication_results: AuthenticationResults::new("-")
                .with(o.method_result(None))
                .to_string()
                .trim_start_matches("-; ")
                .to_string(),
            sets: o.sets.iter().map(SetReport::from).collect(),
        }
    }
}

impl From<&ArcSetInfo> for SetReport {
    fn from(s: &ArcSetInfo) -> Self {
        let check = |c: &SignatureCheck| match c {
            SignatureCheck::NotChecked => ("not checked".to_string(), None),
            SignatureCheck::Pass => ("pass".to_string(), None),
            SignatureCheck::Fail(r) => ("fail".to_string(), Some(r.to_string())),
        };
        let (seal_result, seal_reason) = check(&s.seal);
        let (ams_result, ams_reason) = check(&s.message_signature);
        let (aar, aar_error) = match &s.authentication_results {
            Ok(ar) => (
                Some(AarReport {
                    authserv_id: ar.authserv_id.clone(),
                    text: ar.to_string(),
                    results: ar
                        .results
                        .iter()
                        .map(|r| MethodReport {
                            method: r.method.clone(),
                            result: r.result.clone(),
                        })
                        .collect(),
                }),
                None,
            ),
            Err(e) => (None, Some(e.clone())),
        };
        SetReport {
            instance: s.instance,
            cv: s.cv.to_string(),
            seal: SignatureReport {
                domain: s.seal_domain.clone(),
                selector: s.seal_selector.clone(),
                algorithm: Some(s.seal_algorithm.as_str().to_string()),
                result: seal_result,
                reason: seal_reason,
            },
            message_signature: SignatureReport {
                domain: s.signature_domain.clone(),
                selector: s.signature_selector.clone(),
                algorithm: s.signature_algorithm.map(|a| a.as_str().to_string()),
                result: ams_result,
                reason: ams_reason,
            },
            aar,
            aar_error,
        }
    }
}

/// Validates the chain; exit status 0 whatever the result.
fn verify(args: ArcVerifyArgs) -> anyhow::Result<ExitCode> {
    let config = tool_config(&args.config)?;
    let resolver = tool_resolver(&config, &args.dns)?;
    let raw = read_input(args.file.as_deref())?;
    // the fields as the MTA shows them to the milter (`To :` is `To`), so the answer is the
    // milter's (RFC 6376 §3.4.1 simple canonicalization hashes the name as written)
    let msg = message::parse_as_postfix_passes(&raw);
    let outcome = runtime()?.block_on(arc::verify_parsed(
        &crate::app::arc_verifier(&config),
        &*resolver,
        &msg,
        dkim::unix_now(),
    ));
    let report = ArcReport::from(&outcome);
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    out!("arc={}", report.result)?;
    if let Some(r) = &report.reason {
        out!(
            " ({}{})",
            shown(r),
            if report.temporary {
                "; DNS, may be temporary"
            } else {
                ""
            }
        )?;
    }
    if report.instances > 0 {
        out!(
            ", {} set{}",
            report.instances,
            if report.instances == 1 { "" } else { "s" }
        )?;
    }
    if let Some(p) = report.oldest_pass {
        out!(", oldest-pass={p}")?;
    }
    outln!()?;
    for s in report.sets.iter().rev() {
        outln!(
            "i={} seal d={} s={} a={} cv={}: {}{}",
            s.instance,
            shown(&s.seal.domain),
            shown(&s.seal.selector),
            s.seal.algorithm.as_deref().unwrap_or("-"),
            s.cv,
            s.seal.result,
            s.seal
                .reason
                .as_deref()
                .map(|r| format!(" ({})", shown(r)))
                .unwrap_or_default()
        )?;
        outln!(
            "    message signature d={} s={} a={}: {}{}",
            shown(&s.message_signature.domain),
            shown(&s.message_signature.selector),
            s.message_signature.algorithm.as_deref().unwrap_or("-"),
            s.message_signature.result,
            s.message_signature
                .reason
                .as_deref()
                .map(|r| format!(" ({})", shown(r)))
                .unwrap_or_default()
        )?;
        match (&s.aar, &s.aar_error) {
            (Some(a), _) => outln!("    recorded: {}", shown(&a.text))?,
            (None, Some(e)) => outln!("    recorded: unreadable ({})", shown(e))?,
            (None, None) => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Validates the chain, then writes the message with a new ARC set on top to stdout.
fn seal(args: ArcSealArgs) -> anyhow::Result<ExitCode> {
    let config = tool_config(&args.config)?;
    let resolver = tool_resolver(&config, &args.dns)?;
    let pem =
        std::fs::read(&args.key).with_context(|| format!("cannot read {}", args.key.display()))?;
    // the names as dkim genkey takes them (an internationalized domain as its A-labels)
    let domain = super::dkim::genkey::signing_domain(&args.domain)?;
    let selector = super::dkim::genkey::selector(&args.selector, &domain)?;
    let sealer = Sealer::from_pem(&pem, SealerConfig::new(domain, selector))
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.key.display()))?;
    let given = args
        .authres
        .as_deref()
        .map(|t| authres::parse(t.as_bytes()))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--authres is not an Authentication-Results value: {e}"))?;
    let authserv_id = args
        .authserv_id
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| config.authres.our_id());
    let raw = read_input(args.file.as_deref())?;
    // sealed over the fields as the MTA shows them to the milter and queues them (`To :` is
    // `To`), so the seal holds after Postfix as the milter's does
    let msg = message::parse_as_postfix_passes(&raw);
    let (outcome, set) = runtime()?
        .block_on(arc::seal_parsed(
            &crate::app::arc_verifier(&config),
            &sealer,
            &*resolver,
            &msg,
            |o| {
                given.unwrap_or_else(|| {
                    AuthenticationResults::new(authserv_id).with(o.method_result(None))
                })
            },
            dkim::unix_now(),
        ))
        .map_err(|e| anyhow::anyhow!("cannot seal: {e}"))?;
    eprintln!(
        "incoming chain: arc={}{}; added i={} cv={}",
        outcome.result,
        outcome
            .reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        set.instance,
        set.cv
    );
    // keep the input's line-ending style
    let separator = if raw.windows(2).any(|w| w == b"\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    write_with_fields_on_top(
        &mut std::io::stdout().lock(),
        set.to_fields(separator).as_bytes(),
        &raw,
    )?;
    Ok(ExitCode::SUCCESS)
}
