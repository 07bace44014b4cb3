//! The reports and report mails the reports-in tests send: synthetic aggregate reports, their
//! XML, gzip and zip attachments, report mails; the vendored samples; days.

use std::path::{Path, PathBuf};

use base64::Engine;
use reports::vocabulary::{
    ActionDisposition, AlignedResult, Disposition, DkimResult, SpfResult, SpfScope,
};
use reports::{
    AuthResults, DateRange, DkimAuthResult, Feedback, Identifiers, PolicyEvaluated,
    PolicyPublished, Record, ReportMetadata, Row, SpfAuthResult,
};

pub(crate) const DAY: u64 = 86_400;

/// The vendored report samples (crates/reports/tests/data/samples, see SOURCE.md there).
pub(crate) fn sample(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/reports/tests/data/samples")
        .join(path)
}

pub(crate) fn read_sample(path: &str) -> Vec<u8> {
    std::fs::read(sample(path)).expect("sample")
}

/// One row of a synthetic report: a source, its messages and results.
#[derive(Debug, Clone)]
pub(crate) struct Src {
    pub ip: &'static str,
    pub count: u64,
    pub spf_aligned: bool,
    pub dkim_aligned: bool,
    pub spf: SpfResult,
    /// (d=, s=, result) of the one signature, if any.
    pub dkim: Option<(&'static str, &'static str, DkimResult)>,
    pub disposition: ActionDisposition,
}

impl Src {
    /// A source passing everything with a signature of `domain`, selector `s1`.
    pub fn good(ip: &'static str, count: u64, domain: &'static str) -> Src {
        Src {
            ip,
            count,
            spf_aligned: true,
            dkim_aligned: true,
            spf: SpfResult::Pass,
            dkim: Some((domain, "s1", DkimResult::Pass)),
            disposition: ActionDisposition::None,
        }
    }

    /// A source failing everything, rejected.
    pub fn spoofer(ip: &'static str, count: u64) -> Src {
        Src {
            ip,
            count,
            spf_aligned: false,
            dkim_aligned: false,
            spf: SpfResult::Fail,
            dkim: None,
            disposition: ActionDisposition::Reject,
        }
    }
}

/// An RFC 9990 report of `org` about `domain` for the UTC day starting at `day`.
pub(crate) fn report(org: &str, id: &str, domain: &str, day: u64, rows: &[Src]) -> Feedback {
    Feedback {
        version: Some("1.0".into()),
        metadata: ReportMetadata {
            org_name: org.into(),
            email: format!("noreply-dmarc@{org}"),
            extra_contact_info: None,
            report_id: id.into(),
            date_range: DateRange {
                begin: day,
                end: day + DAY - 1,
            },
            errors: Vec::new(),
            generator: None,
        },
        policy: PolicyPublished {
            domain: domain.into(),
            discovery_method: None,
            p: Disposition::Reject,
            sp: None,
            np: None,
            adkim: None,
            aspf: None,
            pct: None,
            fo: None,
            testing: None,
        },
        records: rows
            .iter()
            .map(|s| Record {
                row: Row {
                    source_ip: s.ip.parse().expect("ip"),
                    count: s.count,
                    policy_evaluated: PolicyEvaluated {
                        disposition: s.disposition,
                        dkim: AlignedResult::from_bool(s.dkim_aligned),
                        spf: AlignedResult::from_bool(s.spf_aligned),
                        reasons: Vec::new(),
                    },
                },
                identifiers: Identifiers {
                    header_from: domain.into(),
                    envelope_from: Some(domain.into()),
                    envelope_to: None,
                },
                auth_results: AuthResults {
                    dkim: s
                        .dkim
                        .iter()
                        .map(|(d, sel, result)| DkimAuthResult {
                            domain: (*d).into(),
                            selector: Some((*sel).into()),
                            result: *result,
                            human_result: None,
                        })
                        .collect(),
                    spf: vec![SpfAuthResult {
                        domain: domain.into(),
                        scope: Some(SpfScope::MailFrom),
                        result: s.spf,
                        human_result: None,
                    }],
                },
            })
            .collect(),
    }
}

pub(crate) fn xml(fb: &Feedback) -> Vec<u8> {
    reports::write_feedback(fb, reports::ReportFormat::Rfc9990).expect("write report")
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

pub(crate) fn zip(name: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(name, zip::write::SimpleFileOptions::default())
        .expect("zip entry");
    w.write_all(data).expect("zip");
    w.finish().expect("zip").into_inner()
}

/// A report mail (RFC 9990 §3.5.2): a text part and the attachments
/// `(content type, file name, bytes)`, base64, in one multipart/mixed; `marker` goes into the
/// Message-ID and the subject.
pub(crate) fn report_mail(to: &str, marker: &str, parts: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let b = "==report-boundary==";
    let mut m = format!(
        "From: noreply-dmarc@reporter.example\r\nTo: {to}\r\n\
         Subject: Report Domain: example.com Submitter: reporter.example {marker}\r\n\
         Date: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <{marker}@reporter.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n\
         --{b}\r\nContent-Type: text/plain\r\n\r\nThis is an aggregate report.\r\n"
    );
    for (ctype, name, data) in parts {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        m.push_str(&format!(
            "--{b}\r\nContent-Type: {ctype}; name=\"{name}\"\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        ));
        for line in encoded.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            m.push_str("\r\n");
        }
    }
    m.push_str(&format!("--{b}--\r\n"));
    m.into_bytes()
}

/// `YYYY-MM-DD` of a day.
pub(crate) fn ymd(t: u64) -> String {
    authmilter::reports::period::format_day(t)
}

/// Today's first second, and some days back.
pub(crate) fn days_ago(n: u64) -> u64 {
    let now = dkim::unix_now();
    now - now % DAY - n * DAY
}
