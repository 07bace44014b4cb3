//! The docs' configuration examples are real configuration: every ```toml block in
//! docs/*.md and README.md parses as (part of) a milter.toml — known keys, valid values —
//! and every examples/*.toml is a complete, valid configuration.

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
