//! `authmilter dkim genkey`: make a key pair, write the private key, print the record. Also
//! the checks that a selector and a domain can work in DNS at all, shared with `rotate`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use dkim::{GeneratedKey, KeyAlgorithm};

use super::super::common::{MAX_NAME, check_labels};
use crate::cli::{DkimGenkeyArgs, KeyTypeArg};

/// Generates a key pair: writes the private key (mode 0600), prints the DNS record.
pub fn run(args: DkimGenkeyArgs) -> anyhow::Result<ExitCode> {
    let algorithm = algorithm(args.algorithm, args.bits)?;
    let domain = signing_domain(&args.domain)?;
    let selector = selector(&args.selector, &domain)?;
    let (path, key) = write_new_key(&args.out, &domain, &selector, algorithm)?;
    outln!("Private key written to {} (mode 0600).", path.display())?;
    outln!()?;
    outln!(
        "Publish this TXT record at {}, in the form your DNS takes:",
        dkim::key_name(&selector, &domain)
    )?;
    outln!()?;
    outln!(
        "{}",
        super::records::all_forms(&key.record, &selector, &domain)
    )?;
    outln!("Then add to milter.toml:")?;
    outln!()?;
    outln!("[[dkim.key]]")?;
    outln!("domain = \"{domain}\"")?;
    outln!("selector = \"{selector}\"")?;
    outln!("path = {}", toml_string(&path))?;
    outln!()?;
    outln!(
        "and check the record once it is published: authmilter dkim testkey --domain {domain} --selector {selector} --key {}",
        path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The key algorithm from the command line (RSA 2048, 3072 or 4096 bits, RFC 8301 §3.2: the
/// sizes the crypto backend generates).
pub fn algorithm(kind: KeyTypeArg, bits: usize) -> anyhow::Result<KeyAlgorithm> {
    Ok(match kind {
        KeyTypeArg::Rsa => {
            if ![2048, 3072, 4096].contains(&bits) {
                bail!("--bits must be 2048, 3072 or 4096 (RFC 8301 §3.2; 2048 is usual)");
            }
            KeyAlgorithm::Rsa { bits: bits as u32 }
        }
        KeyTypeArg::Ed25519 => KeyAlgorithm::Ed25519,
    })
}

/// Generates a key and writes it to `DIR/<domain>.<selector>.pem`, mode 0600, never over an
/// existing file.
pub fn write_new_key(
    dir: &Path,
    domain: &str,
    selector: &str,
    algorithm: KeyAlgorithm,
) -> anyhow::Result<(PathBuf, GeneratedKey)> {
    // absolute: the path goes into milter.toml, which serve reads from its own working
    // directory (`/` under systemd)
    let dir = &std::path::absolute(dir)
        .with_context(|| format!("cannot make {} absolute", dir.display()))?;
    let path = key_path(dir, domain, selector);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if path.exists() {
        bail!(
            "{} exists (an existing key is never overwritten)",
            path.display()
        );
    }
    let key = dkim::generate_key(algorithm).map_err(|e| anyhow::anyhow!("{e}"))?;
    write_private_file(&path, |f| f.write_all(key.private_key_pem.as_bytes())).with_context(
        || {
            format!(
                "cannot create {} (an existing key is never overwritten)",
                path.display()
            )
        },
    )?;
    Ok((path, key))
}

/// Creates `path`, mode 0600, with what `write` writes, never over an existing file, and
/// atomically: written and synced to a temporary file (mode 0600 from its creation) in the
/// same directory, then linked into place, so a crash never leaves a truncated key.
fn write_private_file(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if path.exists() {
        return Err(std::io::ErrorKind::AlreadyExists.into());
    }
    let mut attempt = 0u32;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    let result = write(&mut file)
        .and_then(|()| file.sync_all())
        // a link, unlike a rename, fails when the key exists: never overwritten
        .and_then(|()| std::fs::hard_link(&tmp, path));
    let removed = std::fs::remove_file(&tmp);
    result?;
    removed?;
    std::fs::File::open(dir)?.sync_all()
}

/// A path as a TOML string, quoted and escaped (for the `[[dkim.key]]` block printed).
pub fn toml_string(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

/// Where `genkey` and `rotate` put a key.
pub fn key_path(dir: &Path, domain: &str, selector: &str) -> PathBuf {
    dir.join(format!("{domain}.{selector}.pem"))
}

/// A signing domain (`d=`) that DNS can carry: lowercase A-labels (an internationalized
/// name is converted, RFC 5891), at least two labels, each a valid host-name label.
pub fn signing_domain(text: &str) -> anyhow::Result<String> {
    let t = text.trim().trim_end_matches('.');
    if t.is_empty() {
        bail!("--domain must not be empty");
    }
    let ascii = idna::domain_to_ascii(t)
        .map_err(|_| anyhow::anyhow!("--domain {text:?} is not a valid domain name"))?;
    check_labels("--domain", &ascii)?;
    if !ascii.contains('.') {
        bail!("--domain {text:?} has one label; a signing domain looks like example.com");
    }
    Ok(ascii)
}

/// A selector (`s=`, RFC 6376 §3.1: dot-separated labels) that, with `domain`, makes a name
/// DNS can carry.
pub fn selector(text: &str, domain: &str) -> anyhow::Result<String> {
    let t = text.trim();
    if t.is_empty() {
        bail!("--selector must not be empty");
    }
    if t.to_ascii_lowercase().contains("_domainkey") {
        bail!(
            "--selector {text:?} contains \"_domainkey\": give the selector alone (\"2026a\"), authmilter adds ._domainkey.<domain>"
        );
    }
    check_labels("--selector", t)?;
    let name = dkim::key_name(t, domain);
    if name.len() > MAX_NAME {
        bail!(
            "{name} is {} characters long; DNS names end at {MAX_NAME} (use a shorter selector)",
            name.len()
        );
    }
    Ok(t.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that fails half-way (disk full, a crash) leaves nothing at the key's path, so
    /// a second run is not refused by a truncated key, and no temporary file behind.
    #[test]
    fn a_failed_write_leaves_no_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("example.com.s.pem");
        let result = write_private_file(&path, |f| {
            f.write_all(b"-----BEGIN PRIVATE KEY-----\n")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(result.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_private_file(&path, |f| f.write_all(b"key")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"key");
        // never over an existing file
        assert!(write_private_file(&path, |f| f.write_all(b"other")).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"key");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn domains() {
        assert_eq!(signing_domain("Example.COM.").unwrap(), "example.com");
        assert_eq!(
            signing_domain("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        for bad in [
            "",
            "example",
            "exa mple.com",
            "a..com",
            "-x.com",
            "x_y.com",
            "x.com/y",
        ] {
            assert!(signing_domain(bad).is_err(), "{bad}");
        }
        assert!(signing_domain(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn selectors() {
        assert_eq!(selector("2026A", "example.com").unwrap(), "2026a");
        assert_eq!(selector("mail.2026", "example.com").unwrap(), "mail.2026");
        for bad in [
            "",
            "s 1",
            "s_1",
            "-s",
            "s.",
            "2026a._domainkey.example.com",
            "sel@x",
        ] {
            assert!(selector(bad, "example.com").is_err(), "{bad}");
        }
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(selector(&long, "example.com").is_err());
    }
}
