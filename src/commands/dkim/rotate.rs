//! `authmilter dkim rotate --domain D`: make the next key for a domain under a new dated
//! selector, print its record in every form and the `[[dkim.key]]` block (with
//! `state = "next"`) that lets the milter switch to it safely once DNS serves it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;

use super::genkey::{algorithm, key_path, selector, signing_domain, write_new_key};
use super::records::all_forms;
use crate::cli::{DkimRotateArgs, KeyTypeArg};
use crate::config::{Config, KeyState, dns_domain};

/// Where keys go when neither `--dir` nor an existing key of the domain says otherwise.
const DEFAULT_DIR: &str = "/etc/authmilter/keys";

/// Runs the command.
pub fn run(args: DkimRotateArgs) -> anyhow::Result<ExitCode> {
    let config = super::super::common::tool_config(&args.config)?;
    let domain = signing_domain(&args.domain)?;
    let alg = algorithm(args.algorithm, args.bits)?;
    let dir = args
        .dir
        .clone()
        .or_else(|| existing_key_dir(&config, &domain))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR));
    let resolver = super::super::common::tool_resolver(&config, &args.dns)?;
    let rt = super::super::common::runtime()?;
    let published = |s: &str| -> anyhow::Result<bool> {
        let name = dkim::key_name(s, &domain);
        name_in_use(&name, &rt.block_on(resolver.txt(&name)))
    };
    let selector = match &args.selector {
        Some(s) => {
            let s = selector(s, &domain)?;
            if selector_taken(&config, &domain, &dir, &s) {
                bail!(
                    "--selector {s}: {} is already used by a configured key of {domain} or a key file in {}; a new key needs a selector of its own",
                    dkim::key_name(&s, &domain),
                    dir.display()
                );
            }
            match published(&s) {
                Ok(true) => bail!(
                    "--selector {s}: {} already holds a record in DNS; a new key needs a selector of its own",
                    dkim::key_name(&s, &domain)
                ),
                Ok(false) => {}
                // the user chose this selector: say what could not be checked, and go on
                Err(e) => tracing::warn!("{e:#}"),
            }
            s
        }
        None => next_selector(
            &config,
            &domain,
            &dir,
            crate::signing::unix_now(),
            &published,
        )?,
    };
    let (path, key) = write_new_key(&dir, &domain, &selector, alg)?;
    let kind = match args.algorithm {
        KeyTypeArg::Rsa => "RSA",
        KeyTypeArg::Ed25519 => "Ed25519",
    };
    outln!("Private key written to {} (mode 0600).", path.display())?;
    // made by root, the file is root's: a milter that runs as its own user (server.user, or
    // the packaged service's User=) cannot read it, and the reload that adds it is refused
    if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&path)?) == 0 {
        let user = match config.server.user.trim() {
            "" => "authmilter",
            configured => configured,
        };
        outln!(
            "It belongs to root: give it to the milter's user, or the reload cannot read it: chown {user}: {}",
            path.display()
        )?;
    }
    outln!()?;
    outln!(
        "1. Publish this TXT record at {}, in the form your DNS takes:",
        dkim::key_name(&selector, &domain)
    )?;
    outln!()?;
    outln!("{}", all_forms(&key.record, &selector, &domain))?;
    // every key of the domain and type that signs or may: an earlier rotation's `next` key,
    // perhaps promoted already, too (the milter's own default without `replaces`)
    let replaced: Vec<String> = config
        .dkim
        .keys
        .iter()
        .filter(|k| {
            matches!(k.state, KeyState::Active | KeyState::Next)
                && crate::signing::key_domain(&k.domain) == domain
                && key_kind(&k.path).is_none_or(|t| t == args.algorithm)
        })
        .map(|k| k.id())
        .collect();
    outln!("2. Add this block to milter.toml and reload (systemctl reload authmilter):")?;
    outln!()?;
    outln!("[[dkim.key]]")?;
    outln!("domain = \"{domain}\"")?;
    outln!("selector = \"{selector}\"")?;
    outln!("path = {}", super::genkey::toml_string(&path))?;
    outln!("state = \"next\"")?;
    if !replaced.is_empty() {
        // said in the block, so that a domain with two keys of one type (a bulk and a
        // corporate stream) can keep the one this does not replace: edit the list
        let names: Vec<String> = replaced
            .iter()
            .map(|n| toml::Value::String(n.clone()).to_string())
            .collect();
        outln!("replaces = [{}]", names.join(", "))?;
    }
    outln!()?;

    if config.dkim.key_check_interval.get().is_zero() {
        // src/signing.rs: with the checks off a `next` key is never checked and never signs
        outln!(
            "3. dkim.key_check_interval is 0s: the milter never checks a next key, so it never \
             signs with it on its own. Once the record is published, check it (below), then set \
             this key's state to \"active\" and the replaced key's to \"retired\", and reload."
        )?;
    } else {
        outln!(
            "3. The milter checks the record every dkim.key_check_interval ({}). Once DNS has served \
         exactly this key for dkim.publish_wait ({}) without a break, it signs with it{}.",
            config.dkim.key_check_interval,
            config.dkim.publish_wait,
            if replaced.is_empty() {
                format!(" (no active {kind} key of {domain} to retire)")
            } else {
                format!(
                    " and retires the key(s) `replaces` names: {} (with two keys of one type for two purposes, keep in `replaces` only the one this key replaces)",
                    replaced.join(", ")
                )
            }
        )?;
    }
    outln!(
        "   Until then nothing changes. Check the record yourself with: authmilter dkim testkey --domain {domain} --selector {selector} --key {}",
        path.display()
    )?;
    // mail signed with the old key may still be verified while it waits in queues (days)
    // and, with x=, until its signatures expire
    let keep = if config.dkim.expiration.get() > std::time::Duration::from_secs(7 * 86_400) {
        format!("for dkim.expiration ({})", config.dkim.expiration)
    } else {
        "for a week".to_string()
    };
    outln!(
        "4. Afterwards set the old key's state to \"retired\" and this one's to \"active\", and in every [[dkim.signing]] rule that names the old key put \"{}\" in its place (a rule signs only with the keys it names; a retired one only through the rotation dkim.state_file remembers); keep the old record published {keep}, then revoke it (v=DKIM1; p=).",
        dkim::key_name(&selector, &domain)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The directory of the domain's existing keys, if it has any.
fn existing_key_dir(config: &Config, domain: &str) -> Option<PathBuf> {
    config
        .dkim
        .keys
        .iter()
        .find(|k| same_domain(&k.domain, domain))
        .and_then(|k| k.path.parent().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
}

/// The key type of a configured key file, when it can be read.
fn key_kind(path: &Path) -> Option<KeyTypeArg> {
    let pem = std::fs::read(path).ok()?;
    let key = crypto::default_provider().signing_key(&pem).ok()?;
    Some(match key.key_type() {
        crypto::KeyType::Rsa => KeyTypeArg::Rsa,
        crypto::KeyType::Ed25519 => KeyTypeArg::Ed25519,
    })
}

/// `YYYYMM` of `now` (UTC), with `b`, `c`, … appended while that selector is taken by a
/// configured key of the domain, a key file in `dir`, or a record in DNS (`published`; an
/// error there, such as a timeout, is returned: the command then asks for `--selector`).
pub fn next_selector(
    config: &Config,
    domain: &str,
    dir: &Path,
    now: u64,
    published: &dyn Fn(&str) -> anyhow::Result<bool>,
) -> anyhow::Result<String> {
    let (year, month) = year_month(now);
    let base = format!("{year:04}{month:02}");
    let candidates =
        std::iter::once(base.clone()).chain(('b'..='z').map(|suffix| format!("{base}{suffix}")));
    for s in candidates {
        if !selector_taken(config, domain, dir, &s) && !published(&s)? {
            return Ok(s);
        }
    }
    bail!("selectors {base} to {base}z are all taken; pass --selector")
}

/// Does the DNS answer to a TXT question for a selector's `name` say the name is in use? A
/// name that holds any record is someone's: a TXT record of ours there would replace theirs,
/// or could not be published at all beside a CNAME (RFC 1034 §3.6.2). Only NXDOMAIN says it
/// is free; NODATA means records of other types (a CNAME to a name without TXT, an A, an MX).
fn name_in_use(name: &str, answer: &Result<Vec<Vec<u8>>, dns::DnsError>) -> anyhow::Result<bool> {
    match answer {
        Ok(records) => Ok(!records.is_empty()),
        Err(dns::DnsError::NxDomain) => Ok(false),
        Err(dns::DnsError::NoData) => Ok(true),
        Err(e) => Err(anyhow::anyhow!(
            "cannot tell whether {name} is free in DNS ({e}); check it yourself and pass --selector"
        )),
    }
}

/// Is `selector` used by a configured key of `domain` or a key file in `dir`?
fn selector_taken(config: &Config, domain: &str, dir: &Path, selector: &str) -> bool {
    key_path(dir, domain, selector).exists()
        || config.dkim.keys.iter().any(|k| {
            same_domain(&k.domain, domain) && k.selector.trim().eq_ignore_ascii_case(selector)
        })
}

/// A configured key's domain and `domain` name the same DNS domain (A-labels compared: a key
/// configured as `bücher.example` is `xn--bcher-kva.example`'s).
fn same_domain(configured: &str, domain: &str) -> bool {
    dns_domain(configured) == dns_domain(domain)
}

/// The UTC year and month of a Unix time (days to civil date, proleptic Gregorian).
fn year_month(unix: u64) -> (u64, u64) {
    let days = unix / 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (non-negative here)
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(951_782_400), (2000, 2)); // 2000-02-29
        assert_eq!(year_month(1_798_761_599), (2026, 12)); // 2026-12-31 23:59:59
        assert_eq!(year_month(1_798_761_600), (2027, 1));
    }

    #[test]
    fn a_name_holding_records_of_another_type_is_in_use() {
        let name = "202612._domainkey.example.com";
        assert!(!name_in_use(name, &Err(dns::DnsError::NxDomain)).unwrap());
        assert!(name_in_use(name, &Err(dns::DnsError::NoData)).unwrap());
        assert!(name_in_use(name, &Ok(vec![b"v=DKIM1; p=".to_vec()])).unwrap());
        assert!(name_in_use(name, &Err(dns::DnsError::ServFail)).is_err());
    }

    #[test]
    fn selectors_skip_taken_ones() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::parse(
            "[[dkim.key]]\ndomain = \"example.com\"\nselector = \"202612\"\npath = \"/k.pem\"\n",
        )
        .unwrap();
        let now = 1_798_761_599;
        let nothing = |_: &str| Ok(false);
        assert_eq!(
            next_selector(&config, "example.com", dir.path(), now, &nothing).unwrap(),
            "202612b"
        );
        std::fs::write(key_path(dir.path(), "example.com", "202612b"), "x").unwrap();
        assert_eq!(
            next_selector(&config, "example.com", dir.path(), now, &nothing).unwrap(),
            "202612c"
        );
        assert_eq!(
            next_selector(&config, "example.org", dir.path(), now, &nothing).unwrap(),
            "202612"
        );
        // published in DNS: skipped
        let in_dns = |s: &str| Ok(s == "202612");
        assert_eq!(
            next_selector(&config, "example.org", dir.path(), now, &in_dns).unwrap(),
            "202612b"
        );
        // DNS did not answer: no guess
        let timeout = |_: &str| Err(anyhow::anyhow!("timed out"));
        assert!(next_selector(&config, "example.org", dir.path(), now, &timeout).is_err());
    }
}
