//! `authmilter dkim verify|sign|genkey|testkey|rotate`.

pub(super) mod genkey;
mod records;
mod rotate;

use std::process::ExitCode;

use anyhow::{Context, bail};
use dkim::{Signer, SignerConfig, TestKeyOutcome};

use crate::app::App;
use crate::cli::{AlgorithmArg, DkimCommand, DkimSignArgs, DkimTestkeyArgs, DkimVerifyArgs};
use crate::pipeline::report::DkimReport;

use super::common::{
    read_input, runtime, shown, tool_config, tool_resolver, write_with_fields_on_top,
};

/// Runs a `dkim` subcommand.
pub fn run(cmd: DkimCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DkimCommand::Verify(a) => verify(a),
        DkimCommand::Sign(a) => sign(a),
        DkimCommand::Genkey(a) => genkey::run(a),
        DkimCommand::Rotate(a) => rotate::run(a),
        DkimCommand::Testkey(a) => testkey(a),
    }
}

#[derive(serde::Serialize)]
struct VerifyJson {
    signatures: Vec<DkimReport>,
}

/// Verifies every signature; exit status 0 whatever the results.
fn verify(args: DkimVerifyArgs) -> anyhow::Result<ExitCode> {
    let config = tool_config(&args.config)?;
    let resolver = tool_resolver(&config, &args.dns)?;
    let app = App::without_keys(config, resolver)?;
    let raw = read_input(args.file.as_deref())?;
    // the fields as the milter is shown them, so that this agrees with the milter
    let msg = message::parse_as_postfix_passes(&raw);
    // past the budget, the signatures that could align with From first, as the milter does
    let could_align = crate::pipeline::could_align_with_from(&app, &msg.headers);
    let results = runtime()?.block_on(dkim::verify_parsed(
        &app.dkim,
        &*app.resolver,
        &msg,
        dkim::unix_now(),
        could_align,
    ));
    let report = VerifyJson {
        signatures: results.iter().map(DkimReport::from).collect(),
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else if report.signatures.is_empty() {
        outln!("no DKIM signatures")?;
    } else {
        for (n, s) in report.signatures.iter().enumerate() {
            out!(
                "signature {}: {} d={} s={} a={}",
                n + 1,
                s.result,
                shown(&s.domain),
                shown(&s.selector),
                s.algorithm.as_deref().unwrap_or("-")
            )?;
            match &s.reason {
                Some(r) => outln!(" ({})", shown(r))?,
                None => outln!()?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Says on stderr when group or others may read or write the key at `path`: `serve` refuses
/// such a key, so a tool that accepted it silently would hide that.
fn warn_if_loose(path: &std::path::Path) -> anyhow::Result<()> {
    if let Some((mode, who)) = crate::signing::loose_key_permissions(path)? {
        eprintln!(
            "warning: {} is {who} by group or others (mode {mode:04o}); authmilter serve refuses such a key unless [dkim] allow_loose_key_permissions = true: chmod 600 it",
            path.display()
        );
    }
    Ok(())
}

/// Signs a message and writes it, signature first, to stdout.
fn sign(args: DkimSignArgs) -> anyhow::Result<ExitCode> {
    warn_if_loose(&args.key)?;
    let pem =
        std::fs::read(&args.key).with_context(|| format!("cannot read {}", args.key.display()))?;
    let pair: crate::config::CanonPair = args
        .canonicalization
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--canonicalization: {e}"))?;
    let (hc, bc) = (pair.header, pair.body);
    // the names as genkey takes them (an internationalized domain as its A-labels)
    let domain = genkey::signing_domain(&args.domain)?;
    let selector = genkey::selector(&args.selector, &domain)?;
    let mut sc = SignerConfig::new(domain, selector);
    sc.header_canon = hc;
    sc.body_canon = bc;
    let signer =
        Signer::from_pem(&pem, sc).map_err(|e| anyhow::anyhow!("{}: {e}", args.key.display()))?;
    if let Some(want) = args.algorithm {
        let have = signer.algorithm();
        let ok = matches!(
            (want, have),
            (AlgorithmArg::RsaSha256, dkim::Algorithm::RsaSha256)
                | (AlgorithmArg::Ed25519Sha256, dkim::Algorithm::Ed25519Sha256)
        );
        if !ok {
            bail!(
                "--algorithm does not match the key: the key signs {}",
                have.as_str()
            );
        }
    }
    let raw = read_input(args.file.as_deref())?;
    // signed as the milter would sign it: the fields as an MTA shows them (`To :` as `To`,
    // which Postfix also queues as `To:`)
    let msg = message::parse_as_postfix_passes(&raw);
    let header = dkim::sign_parsed(&signer, &msg, dkim::unix_now())
        .map_err(|e| anyhow::anyhow!("cannot sign: {e}"))?;
    // keep the input's line-ending style
    let crlf = raw.windows(2).any(|w| w == b"\r\n");
    let field = if crlf {
        header.to_field()
    } else {
        format!("{}: {}\n", header.name(), header.value("\n"))
    };
    write_with_fields_on_top(&mut std::io::stdout().lock(), field.as_bytes(), &raw)?;
    Ok(ExitCode::SUCCESS)
}

/// Checks that DNS publishes the public half of a private key. Exit status 0 when it does,
/// 1 when it does not (mismatch, missing, revoked, invalid, several records), 2 on errors.
fn testkey(args: DkimTestkeyArgs) -> anyhow::Result<ExitCode> {
    // the names as genkey takes them (an internationalized domain as its A-labels)
    let domain = genkey::signing_domain(&args.domain)?;
    let selector = genkey::selector(&args.selector, &domain)?;
    let config = tool_config(&crate::cli::ConfigArg { path: None })?;
    let resolver = tool_resolver(&config, &args.dns)?;
    warn_if_loose(&args.key)?;
    let pem =
        std::fs::read(&args.key).with_context(|| format!("cannot read {}", args.key.display()))?;
    let signer = Signer::from_pem(&pem, SignerConfig::new(domain.clone(), selector.clone()))
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.key.display()))?;
    let name = dkim::key_name(&selector, &domain);
    let outcome = runtime()?.block_on(dkim::test_key(&*resolver, &selector, &domain, signer.key()));
    let text = crate::signing::describe(&outcome);
    outln!("{name}: {text}")?;
    Ok(match outcome {
        TestKeyOutcome::Match { .. } => ExitCode::SUCCESS,
        TestKeyOutcome::DnsError(_) => ExitCode::from(2),
        _ => ExitCode::from(1),
    })
}
