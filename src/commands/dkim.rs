//! `authmilter dkim verify|sign|genkey|testkey`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use dkim::{KeyAlgorithm, Signer, SignerConfig, TestKeyOutcome};

use crate::app::App;
use crate::cli::{
    AlgorithmArg, DkimCommand, DkimGenkeyArgs, DkimSignArgs, DkimTestkeyArgs, DkimVerifyArgs,
    KeyTypeArg,
};
use crate::pipeline::results::DkimReport;

use super::common::{read_input, runtime, tool_config, tool_resolver};

/// Runs a `dkim` subcommand.
pub fn run(cmd: DkimCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DkimCommand::Verify(a) => verify(a),
        DkimCommand::Sign(a) => sign(a),
        DkimCommand::Genkey(a) => genkey(a),
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
    let results = runtime()?.block_on(dkim::verify_message(
        &app.dkim,
        &*app.resolver,
        &raw,
        dkim::unix_now(),
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
                s.domain,
                s.selector,
                s.algorithm.as_deref().unwrap_or("-")
            )?;
            match &s.reason {
                Some(r) => outln!(" ({r})")?,
                None => outln!()?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Signs a message and writes it, signature first, to stdout.
fn sign(args: DkimSignArgs) -> anyhow::Result<ExitCode> {
    let pem =
        std::fs::read(&args.key).with_context(|| format!("cannot read {}", args.key.display()))?;
    let (hc, bc) = crate::signing::parse_canonicalization(&args.canonicalization)?;
    let mut sc = SignerConfig::new(args.domain.to_ascii_lowercase(), args.selector.clone());
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
    let header = dkim::sign_message(&signer, &raw, dkim::unix_now())
        .map_err(|e| anyhow::anyhow!("cannot sign: {e}"))?;
    // keep the input's line-ending style
    let crlf = raw.windows(2).any(|w| w == b"\r\n");
    let field = if crlf {
        header.to_field()
    } else {
        format!("{}: {}\n", header.name(), header.value("\n"))
    };
    let mut out = std::io::stdout().lock();
    out.write_all(field.as_bytes())?;
    out.write_all(&raw)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Generates a key pair: writes the private key (mode 0600), prints the DNS record.
fn genkey(args: DkimGenkeyArgs) -> anyhow::Result<ExitCode> {
    use std::os::unix::fs::OpenOptionsExt;
    let algorithm = match args.algorithm {
        KeyTypeArg::Rsa => {
            if !(2048..=4096).contains(&args.bits) {
                bail!("--bits must be between 2048 and 4096 (RFC 8301 §3.2; 2048 is usual)");
            }
            KeyAlgorithm::Rsa {
                bits: args.bits as u32,
            }
        }
        KeyTypeArg::Ed25519 => KeyAlgorithm::Ed25519,
    };
    let domain = args
        .domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let selector = args.selector.trim().to_string();
    if domain.is_empty() || selector.is_empty() {
        bail!("--domain and --selector must not be empty");
    }
    let key = dkim::generate_key(algorithm).map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let path: PathBuf = args.out.join(format!("{domain}.{selector}.pem"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| {
            format!(
                "cannot create {} (an existing key is never overwritten)",
                path.display()
            )
        })?;
    file.write_all(key.private_key_pem.as_bytes())?;
    file.flush()?;
    let name = dkim::key_name(&selector, &domain);
    outln!("Private key written to {} (mode 0600).", path.display())?;
    outln!()?;
    outln!("Publish this TXT record (zone file syntax):")?;
    outln!()?;
    outln!("{}", key.record.zone_entry(&selector, &domain))?;
    outln!()?;
    outln!("Or in a DNS provider's web form:")?;
    outln!("  Name:  {name}")?;
    outln!("  Type:  TXT")?;
    outln!("  Value: {}", key.record.text())?;
    outln!()?;
    outln!("Then add to milter.toml:")?;
    outln!()?;
    outln!("[[dkim.key]]")?;
    outln!("domain = \"{domain}\"")?;
    outln!("selector = \"{selector}\"")?;
    outln!("path = \"{}\"", path.display())?;
    outln!()?;
    outln!(
        "and check the record once it is published: authmilter dkim testkey --domain {domain} --selector {selector} --key {}",
        path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Checks that DNS publishes the public half of a private key. Exit status 0 when it does,
/// 1 when it does not (mismatch, missing, revoked, invalid), 2 on errors.
fn testkey(args: DkimTestkeyArgs) -> anyhow::Result<ExitCode> {
    let config = tool_config(&crate::cli::ConfigArg { path: None })?;
    let resolver = tool_resolver(&config, &args.dns)?;
    let pem =
        std::fs::read(&args.key).with_context(|| format!("cannot read {}", args.key.display()))?;
    let signer = Signer::from_pem(
        &pem,
        SignerConfig::new(args.domain.clone(), args.selector.clone()),
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", args.key.display()))?;
    let domain = args
        .domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let outcome = runtime()?.block_on(dkim::test_key(
        &*resolver,
        &args.selector,
        &domain,
        signer.key(),
    ));
    let name = dkim::key_name(&args.selector, &domain);
    let text = crate::signing::describe(&outcome);
    outln!("{name}: {text}")?;
    Ok(match outcome {
        TestKeyOutcome::Match { .. } => ExitCode::SUCCESS,
        TestKeyOutcome::DnsError(_) => ExitCode::from(2),
        _ => ExitCode::from(1),
    })
}
