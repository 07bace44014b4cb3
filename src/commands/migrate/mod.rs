//! `authmilter migrate opendkim|opendmarc FILE`: read an OpenDKIM or OpenDMARC configuration
//! and print the equivalent milter.toml, with a comment for every setting that has no
//! equivalent (and why). The full mapping table is in docs/migrating.md.

mod conf;
mod daemon_names;
mod opendkim;
mod opendmarc;
mod output;
mod sign_headers;
mod signing_table;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::{MigrateArgs, MigrateFrom};

/// Runs the command: prints the TOML to stdout; exit 0.
pub fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let text = read_text(&args.file).map_err(anyhow::Error::msg)?;
    let files = Files {
        root: args.root.clone(),
    };
    let plan = match args.from {
        MigrateFrom::Opendkim => opendkim::migrate(&text, &files)?,
        MigrateFrom::Opendmarc => opendmarc::migrate(&text, &files)?,
    };
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let toml = plan.render(args.from.program(), &name);
    // what we print must be a configuration authmilter accepts; each mapped setting was
    // already checked (Plan::undo_if_refused), so this only guards against a bug
    crate::config::Config::parse(&toml).with_context(|| {
        format!("internal error: the migrated configuration does not load:\n{toml}")
    })?;
    out!("{toml}")?;
    Ok(ExitCode::SUCCESS)
}

impl MigrateFrom {
    /// The program's name, for comments.
    pub fn program(self) -> &'static str {
        match self {
            MigrateFrom::Opendkim => "OpenDKIM",
            MigrateFrom::Opendmarc => "OpenDMARC",
        }
    }
}

/// Reads the files a configuration names (tables, host lists), under `--root` if given.
pub struct Files {
    root: Option<PathBuf>,
}

impl Files {
    /// The text of `path` (as written in the configuration).
    pub fn read(&self, path: &str) -> Result<String, String> {
        let p = Path::new(path);
        let real = match &self.root {
            Some(root) => root.join(p.strip_prefix("/").unwrap_or(p)),
            None => p.to_path_buf(),
        };
        read_text(&real)
    }
}

/// The most a configuration file or a table it names is read (OpenDKIM's own tables are
/// kilobytes; a device or a runaway file must not take the machine's memory).
const MAX_FILE_BYTES: u64 = 16 << 20;

/// The text of a configuration file or table: a regular file (a FIFO would wait forever, a
/// device never end) of at most [`MAX_FILE_BYTES`], read as the daemons read it, as bytes:
/// what is not UTF-8 (a Latin-1 comment) becomes U+FFFD instead of refusing the whole file.
fn read_text(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let cannot = |why: String| format!("cannot read {}: {why}", path.display());
    // looked at before it is opened: opening a FIFO waits for a writer
    let meta = std::fs::metadata(path).map_err(|e| cannot(e.to_string()))?;
    if !meta.is_file() {
        return Err(cannot("not a regular file".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| cannot(e.to_string()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(cannot(format!("larger than {} MiB", MAX_FILE_BYTES >> 20)));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(cannot(format!("larger than {} MiB", MAX_FILE_BYTES >> 20)));
    }
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// A daemon's `Socket` value as a listener: `inet:PORT` / `inet6:PORT` (libmilter: every
/// interface, opendkim.conf(5)) on loopback at that port, with a note saying so; any other
/// form as written. `None` when authmilter does not read it.
pub fn daemon_socket(value: &str) -> Option<(String, Option<String>)> {
    let value = value.trim();
    for (scheme, loopback) in [("inet:", "127.0.0.1"), ("inet6:", "[::1]")] {
        if let Some(port) = value.strip_prefix(scheme)
            && !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p > 0)
        {
            let spec = format!("inet:{loopback}:{port}");
            let note = format!(
                "`Socket {value}` listened on every interface; the listener is {spec} (loopback); for an MTA on another host set socket = \"inet:0.0.0.0:{port}\" and clients = [...]"
            );
            return Some((spec, Some(note)));
        }
    }
    value
        .parse::<crate::config::SocketSpec>()
        .is_ok()
        .then(|| (value.to_string(), None))
}
