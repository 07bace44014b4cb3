//! The corpus transactions and where they live.

use super::*;

// ---------------------------------------------------------------------------------------------
// Cases and configurations
// ---------------------------------------------------------------------------------------------

pub(super) fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/milter-authmilter")
}

pub(super) fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One transaction of cases.yml.
#[derive(Debug, Default, Clone)]
pub(super) struct Case {
    pub(super) desc: String,
    pub(super) milter_config: String,
    pub(super) source: String,
    pub(super) expected: String,
    pub(super) client_ip: String,
    pub(super) client_name_or_helo: String,
    pub(super) mail_from: String,
    pub(super) rcpt_to: String,
}

impl Case {
    /// The expected file's name: the case's identifier.
    pub(super) fn expected_name(&self) -> String {
        self.expected
            .rsplit('/')
            .next()
            .unwrap_or(&self.expected)
            .to_string()
    }
}

/// Reads cases.yml: a list of flat maps of plain or single-quoted scalars.
pub(super) fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() || line == "cases:" {
            continue;
        }
        let (new, body) = match line.strip_prefix("- ") {
            Some(rest) => (true, rest),
            None => (false, line.trim_start()),
        };
        if new {
            cases.push(Case::default());
        }
        let (key, value) = body.split_once(':').expect("key: value");
        let mut value = value.trim().to_string();
        if let Some(q) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            value = q.replace("''", "'");
        }
        let case = cases.last_mut().expect("a case");
        match key {
            "desc" => case.desc = value,
            "milter_config" => case.milter_config = value,
            "source" => case.source = value,
            "expected" => case.expected = value,
            "client_ip" => case.client_ip = value,
            "client_name_or_helo" => case.client_name_or_helo = value,
            "mail_from" => case.mail_from = value,
            "rcpt_to" => case.rcpt_to = value,
            "prefix" => {} // the test client's own configuration directory
            other => panic!("unknown case key {other:?}"),
        }
    }
    cases
}
