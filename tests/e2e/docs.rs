//! The docs' configuration examples are real configuration: every ```toml block in
//! docs/*.md and README.md parses as (part of) a milter.toml — known keys, valid values —
//! and every examples/*.toml is a complete, valid configuration; the Postfix main.cf lines
//! shown (examples/*.cf and the docs' other code blocks) mean what they say.

use std::path::{Path, PathBuf};

use authmilter::config::Config;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ```toml blocks of a Markdown text, with the line each starts on.
fn toml_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        match current.as_mut() {
            None if fence.starts_with("```toml") => current = Some((i + 1, String::new())),
            None => {}
            Some(_) if fence.starts_with("```") => blocks.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    blocks
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.push(root().join("README.md"));
    files.sort();
    files
}

fn shown(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

#[test]
fn every_toml_block_in_the_docs_is_valid_milter_toml() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).expect("read");
        for (line, block) in toml_blocks(&text) {
            checked += 1;
            // deserializing checks every key and value; cross-key rules need a whole file
            if let Err(e) = toml::from_str::<Config>(&block) {
                problems.push(format!("{}:{line}: {e}", shown(&file)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 7, "only {checked} ```toml blocks found");
}

#[test]
fn the_extractor_sees_a_bad_key() {
    let blocks = toml_blocks("text\n```toml\n[dkim]\nexpiry = 5\n```\n```\n[x]\n```\n");
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].0, 2);
    assert!(toml::from_str::<Config>(&blocks[0].1).is_err());
}

#[test]
fn every_example_config_is_complete_and_valid() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("examples")).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "toml") {
            let text = std::fs::read_to_string(&path).expect("read");
            Config::parse(&text).unwrap_or_else(|e| panic!("{}: {e:#}", shown(&path)));
            n += 1;
        }
    }
    assert!(n >= 1);
}

/// The lines of a main.cf snippet (`parameter = value`) that carry a `#` comment after the
/// value: postconf(5) takes only lines whose first non-blank character is `#` as comments, so
/// Postfix reads the rest as part of the value (`milter_default_action = tempfail # ...` is
/// not `tempfail`, `non_smtpd_milters = $smtpd_milters # sign ...` names milters `#`, `sign`, ...).
fn main_cf_inline_comments(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let Some((name, value)) = line.split_once('=') else {
                return false;
            };
            let name = name.trim_end();
            !name.is_empty()
                && !line.starts_with(char::is_whitespace)
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && value.contains('#')
        })
        .map(|(i, line)| (i + 1, line.to_string()))
        .collect()
}

/// The lines of the fenced blocks of a Markdown text that are not ```toml (TOML allows
/// comments after a value), as one text with the other lines blanked (line numbers kept).
fn other_blocks(text: &str) -> String {
    let mut out = String::new();
    let mut inside: Option<bool> = None; // Some(is_toml)
    for line in text.lines() {
        let fence = line.trim_start();
        let keep = match inside {
            None if fence.starts_with("```") => {
                inside = Some(fence.starts_with("```toml"));
                false
            }
            None => false,
            Some(_) if fence.starts_with("```") => {
                inside = None;
                false
            }
            Some(is_toml) => !is_toml,
        };
        if keep {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn postfix_lines_in_the_docs_have_no_comment_after_the_value() {
    let mut problems = Vec::new();
    let mut files = markdown_files();
    for entry in std::fs::read_dir(root().join("examples")).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "cf") {
            files.push(path);
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        let text = if file.extension().is_some_and(|x| x == "md") {
            other_blocks(&text)
        } else {
            text
        };
        for (line, content) in main_cf_inline_comments(&text) {
            problems.push(format!("{}:{line}: {content}", shown(&file)));
        }
    }
    assert!(
        problems.is_empty(),
        "a # after a main.cf value is part of the value (postconf(5)); put the comment on a line of its own:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_main_cf_check_sees_an_inline_comment() {
    let md = "```\nmilter_protocol = 6\nmilter_default_action = tempfail  # down\n```\n\
              ```toml\nseal = true  # ok in TOML\n```\nx = 1 # prose\n";
    let found = main_cf_inline_comments(&other_blocks(md));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 3);
    assert!(main_cf_inline_comments("# a comment = line\n  -o x=y # z\n").is_empty());
}
