//! Real-world reports from parsedmarc's sample set (tests/data/samples/parsedmarc, see
//! SOURCE.md) that parsedmarc reads: those we once refused are read, with the numbers
//! parsedmarc reads from them (written out here: no test needs Python); those XML 1.0 forbids
//! reading are refused with the reason.

use std::fs;
use std::path::{Path, PathBuf};

use reports::{Feedback, Limits, extract_reports};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/samples/parsedmarc")
        .join(name)
}

/// The one report `name` holds; panics with the reason when it is refused.
fn only_report(name: &str) -> Feedback {
    let bytes = fs::read(sample(name)).unwrap();
    let mut found = extract_reports(&bytes, &Limits::default());
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    let one = found.remove(0);
    match one.report {
        Ok(fb) => fb,
        Err(e) => panic!("{name}: {} refused: {e}", one.source),
    }
}

/// The report as one line per field that parsedmarc and we both read: metadata, policy and
/// each record's source, count, disposition, DMARC results, identifiers and auth results.
fn summary(fb: &Feedback) -> Vec<String> {
    let m = &fb.metadata;
    let p = &fb.policy;
    let mut out = vec![
        format!(
            "{} <{}> {} {}..{}",
            m.org_name, m.email, m.report_id, m.date_range.begin, m.date_range.end
        ),
        format!(
            "{} p={} sp={:?} pct={:?} fo={:?}",
            p.domain,
            p.p,
            p.sp.map(|d| d.to_string()),
            p.pct,
            p.fo
        ),
    ];
    for r in &fb.records {
        let pe = &r.row.policy_evaluated;
        let reasons: Vec<String> = pe
            .reasons
            .iter()
            .map(|x| format!("{}:{:?}", x.kind.as_str(), x.comment))
            .collect();
        let dkim: Vec<String> = r
            .auth_results
            .dkim
            .iter()
            .map(|d| format!("{}/{:?}={}", d.domain, d.selector, d.result))
            .collect();
        let spf: Vec<String> = r
            .auth_results
            .spf
            .iter()
            .map(|s| format!("{}={}", s.domain, s.result))
            .collect();
        out.push(format!(
            "{} x{} {} dkim={} spf={} reasons={reasons:?} from={} env={:?} dkim={dkim:?} spf={spf:?}",
            r.row.source_ip,
            r.row.count,
            pe.disposition,
            pe.dkim,
            pe.spf,
            r.identifiers.header_from,
            r.identifiers.envelope_from,
        ));
    }
    out
}

/// Mimecast ends its gzip attachment with CRLF after the gzip member (the base64 ends in
/// `...AAAA0K`): gzip(1) says "trailing garbage ignored" and parsedmarc reads it.
#[test]
fn mimecast_gzip_with_trailing_crlf_is_read() {
    let fb = only_report("mimecast-weird-gzip.eml");
    assert_eq!(
        summary(&fb),
        [
            "Mimecast <no-reply@au-1.mimecastreport.com> \
             157a5fe30ec76f4bc0d8bccfc96c118a167a1280fee7c7465af5115e73082e5e \
             1693353600..1693439999",
            "ab.id.au p=reject sp=Some(\"none\") pct=Some(100) fo=None",
            "40.93.199.22 x1 none dkim=pass spf=pass reasons=[] from=ab.id.au env=None \
             dkim=[\"ab.id.au/Some(\\\"selector1\\\")=pass\"] spf=[\"ab.id.au=pass\"]",
        ]
    );
}

/// A `<reason>` with an empty `<type>` and `<comment>` says nothing: it reads as no reason
/// (parsedmarc reads the report with a reason of type and comment `None`), instead of the
/// whole report being refused over an optional element (RFC 9990 §3.1.1.14).
#[test]
fn empty_reason_reads_as_no_reason() {
    let fb = only_report("empty_reason.xml");
    assert_eq!(
        summary(&fb),
        [
            "example.org <noreply-dmarc-support@example.org> 20240125141224705995 \
             1706159544..1706185733",
            "example.com p=quarantine sp=Some(\"quarantine\") pct=Some(100) fo=Some(\"1\")",
            "198.51.100.123 x2 none dkim=pass spf=fail reasons=[] from=example.com \
             env=Some(\"example.edu\") dkim=[\"example.com/Some(\\\"example\\\")=pass\"] \
             spf=[\"example.edu=pass\"]",
        ]
    );
    assert_eq!(
        fb.records[0].identifiers.envelope_to.as_deref(),
        Some("example.net")
    );
}

/// The vendored parsedmarc samples (SOURCE.md: 5 files): two are read, one report each;
/// three are refused because XML 1.0 forbids reading them (parsedmarc "recovers" them with
/// lxml): IKEA's `<feedback>` inside an `<xs:schema>` never closed and `<email><bad-xml@...>`
/// are not well-formed (§2.1), a 0x91 byte in a UTF-8 document is an encoding error (§4.3.3).
#[test]
fn every_vendored_parsedmarc_sample_is_read_or_refused_as_xml_requires() {
    let mut names: Vec<String> = fs::read_dir(sample(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "empty_reason.xml",
            "ikea.com!example.de!1538690400!1538776800.xml",
            "invalid_utf_8.xml",
            "invalid_xml.xml",
            "mimecast-weird-gzip.eml",
        ]
    );
    for name in ["empty_reason.xml", "mimecast-weird-gzip.eml"] {
        assert_eq!(only_report(name).records.len(), 1, "{name}");
    }
    for (name, why) in [
        (
            "ikea.com!example.de!1538690400!1538776800.xml",
            "the root element is <schema>, not <feedback>",
        ),
        (
            "invalid_utf_8.xml",
            "not UTF-8 (invalid byte at offset 706)",
        ),
        (
            "invalid_xml.xml",
            "unexpected element <bad-xml@bad-xml.net> inside <email>",
        ),
    ] {
        let found = extract_reports(&fs::read(sample(name)).unwrap(), &Limits::default());
        assert_eq!(found.len(), 1, "{name}");
        let err = found[0].report.as_ref().expect_err(name).to_string();
        assert!(err.contains(why), "{name}: {err}");
    }
}
