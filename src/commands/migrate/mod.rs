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

use anyhow::Context;

use crate::cli::{MigrateArgs, MigrateFrom};

/// Runs the command: prints the TOML to stdout; exit 0.
pub fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
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
        std::fs::read_to_string(&real).map_err(|e| format!("cannot read {}: {e}", real.display()))
    }
}
