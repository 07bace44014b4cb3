//! The reports crate's well-formed samples (tests/data/samples there), parsed.

use std::path::Path;

use reports::{Feedback, Limits, extract_reports, parse_report};

pub(crate) fn sample(path: &str) -> Vec<u8> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/data/samples");
    std::fs::read(base.join(path)).unwrap()
}

pub(crate) fn xml(path: &str) -> Feedback {
    parse_report(&sample(path)).unwrap()
}

pub(crate) fn eml(path: &str) -> Feedback {
    extract_reports(&sample(path), &Limits::default())
        .into_iter()
        .find_map(|r| r.report.ok())
        .unwrap()
}

/// Every well-formed sample of the reports crate (tests/data/SOURCE.md there).
pub(crate) fn samples() -> Vec<Feedback> {
    let mut out: Vec<Feedback> = [
        "dmarc-reports/163.com!example.com!1337270400!1337356799.20120518163.xml",
        "dmarc-reports/good.com!example.com!1337270400!1337356799.xml",
        "dmarc-reports/yeah.net!example.com!1337270400!1337356799.20120518.xml",
        "dmarc-reports/mail-dmarc-test_dmarc.xml",
        "mail-auth/001.xml",
        "mail-auth/002.xml",
        "mail-auth/003.xml",
        "mail-auth/004.xml",
        "mail-auth/005.xml",
    ]
    .iter()
    .map(|p| xml(p))
    .collect();
    for m in ["100", "101", "102", "103", "104"] {
        out.push(eml(&format!("mail-auth/{m}.eml")));
    }
    out
}
