//! Hostile and broken inputs to the report reader (RFC 9990 §8.1): bombs, DTDs, deep nesting,
//! huge fields, truncation, and the MIME/mbox containers. Each is refused with a clear error
//! within the limits, or read as far as it is sound; nothing panics.

use std::io::Write;

use flate2::{Compress, Compression, FlushCompress};
use reports::{
    ExtractedReport, Limits, ReportsError, extract_reports, parse_report, parse_report_with,
};

const GOOD: &str = r#"<?xml version="1.0"?>
<feedback>
  <report_metadata>
    <org_name>Reporter</org_name><email>r@reporter.example</email>
    <report_id>id-1</report_id>
    <date_range><begin>1700000000</begin><end>1700086399</end></date_range>
  </report_metadata>
  <policy_published><domain>example.com</domain><p>none</p></policy_published>
  <record>
    <row><source_ip>192.0.2.1</source_ip><count>3</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>example.com</header_from></identifiers>
    <auth_results><dkim><domain>example.com</domain><selector>s</selector><result>pass</result></dkim></auth_results>
  </record>
</feedback>
"#;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn only_error(found: &[ExtractedReport]) -> &ReportsError {
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].report.as_ref().unwrap_err()
}

/// One compress call that must consume all of `input`.
fn deflate_step(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 100 + 4096);
    let before = c.total_in();
    c.compress_vec(input, &mut out, flush).unwrap();
    assert_eq!(c.total_in() - before, input.len() as u64);
    out
}

/// A raw deflate stream that inflates to `chunks` MiB of zeros, built without compressing
/// them: after a sync flush, the code for one more MiB of zeros is always the same bytes.
fn deflate_zeros(chunks: usize) -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::best(), false);
    let mut out = deflate_step(&mut c, &zeros, FlushCompress::Sync);
    let chunk = deflate_step(&mut c, &zeros, FlushCompress::Sync);
    assert_eq!(chunk, deflate_step(&mut c, &zeros, FlushCompress::Sync));
    for _ in 0..chunks.saturating_sub(1) {
        out.extend_from_slice(&chunk);
    }
    out.extend(deflate_step(&mut c, &[], FlushCompress::Finish));
    out
}

#[test]
fn gzip_bomb_of_10_gib_is_refused_at_the_limit() {
    // 10 GiB of zeros as 10240 gzip members of 1 MiB each: about 10 MB compressed
    let member = gzip(&vec![0u8; 1 << 20]);
    let mut bomb = Vec::with_capacity(member.len() * 10240);
    for _ in 0..10240 {
        bomb.extend_from_slice(&member);
    }
    let limits = Limits::default();
    assert!(bomb.len() < limits.max_input_bytes, "{}", bomb.len());
    let found = extract_reports(&bomb, &limits);
    assert_eq!(
        only_error(&found),
        &ReportsError::TooLarge {
            what: "decompressed report",
            limit: limits.max_xml_bytes as u64
        }
    );

    // the same as one gzip member (a single deflate stream), attached to a message
    let mut single = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];
    single.extend(deflate_zeros(10240));
    single.extend_from_slice(&[0; 8]); // crc and size: never reached
    let msg = attach("application/gzip", "rx!example.com!1!2.xml.gz", &single);
    let found = extract_reports(&msg, &limits);
    assert!(
        matches!(only_error(&found), ReportsError::TooLarge { .. }),
        "{found:?}"
    );
    assert!(found[0].source.contains("rx!example.com!1!2.xml.gz"));
}

/// A zip archive of (name, method, data, declared size) entries, assembled by hand so that
/// sizes can lie.
fn zip_archive(entries: &[(&str, u16, &[u8], u32)]) -> Vec<u8> {
    let with_crc: Vec<(&str, u16, &[u8], u32, u32)> = entries
        .iter()
        .map(|&(name, method, data, declared)| {
            let mut crc = flate2::Crc::new();
            if method == 0 {
                crc.update(data);
            }
            (name, method, data, declared, crc.sum())
        })
        .collect();
    zip_archive_with_crc(&with_crc)
}

/// [`zip_archive`] with each entry's CRC-32 of its uncompressed content given.
fn zip_archive_with_crc(entries: &[(&str, u16, &[u8], u32, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for &(name, method, data, declared, crc) in entries {
        let offset = out.len() as u32;
        let header = |sig: u32, central_dir: bool| {
            let mut h = Vec::new();
            h.extend(sig.to_le_bytes());
            if central_dir {
                h.extend(20u16.to_le_bytes());
            }
            h.extend(20u16.to_le_bytes()); // version needed
            h.extend(0u16.to_le_bytes()); // flags
            h.extend(method.to_le_bytes());
            h.extend([0u8; 4]); // time, date
            h.extend(crc.to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend(declared.to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend(0u16.to_le_bytes()); // extra
            if central_dir {
                h.extend([0u8; 6]); // comment len, disk, internal attrs
                h.extend([0u8; 4]); // external attrs
                h.extend(offset.to_le_bytes());
            }
            h.extend(name.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend_from_slice(data);
        central.extend(header(0x0201_4b50, true));
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

#[test]
fn zip_bombs_are_refused() {
    let limits = Limits::default();
    let bomb = deflate_zeros(4095);
    // honest about its 4 GiB size: refused from the header
    let zip = zip_archive(&[("report.xml", 8, &bomb, 0xFFFF_FFFF)]);
    let found = extract_reports(&zip, &limits);
    assert_eq!(
        only_error(&found),
        &ReportsError::TooLarge {
            what: "zip entry",
            limit: limits.max_xml_bytes as u64
        }
    );
    // lying (declares 1 KiB): stopped by the zip reader's size check or our read limit
    let zip = zip_archive(&[("report.xml", 8, &bomb, 1024)]);
    let found = extract_reports(&zip, &limits);
    let err = only_error(&found);
    assert!(
        matches!(err, ReportsError::Zip(m) if m.contains("larger than its declared")),
        "{err}"
    );

    // thousands of entries: refused before any is read
    let names: Vec<String> = (0..5000).map(|i| format!("{i}.xml")).collect();
    let entries: Vec<(&str, u16, &[u8], u32)> = names
        .iter()
        .map(|n| (n.as_str(), 0u16, &b""[..], 0u32))
        .collect();
    let found = extract_reports(&zip_archive(&entries), &limits);
    assert_eq!(
        only_error(&found),
        &ReportsError::TooMany {
            what: "zip entries",
            limit: limits.max_zip_entries
        }
    );

    // a normal archive with a stored report and a directory
    let zip = zip_archive(&[
        ("dir/", 0, b"", 0),
        ("a.xml", 0, GOOD.as_bytes(), GOOD.len() as u32),
    ]);
    let found = extract_reports(&zip, &limits);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].report.as_ref().unwrap().message_count(), 3);
}

/// This process's peak resident memory so far (`VmHWM`), KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// RFC 9990 §8.1: the decompressed budget of an input holds before the bytes are made. A zip
/// of 16 entries that each inflate to `max_xml_bytes` (16 MiB of zeros from 16 KB) costs one
/// entry's memory, not sixteen: each is decompressed, read and dropped before the next, and
/// the next is refused once the budget is spent. Run in a child process of this test binary
/// so that no other test's memory counts.
#[test]
fn zip_entries_are_decompressed_one_at_a_time() {
    const CHILD: &str = "REPORTS_HOSTILE_MEMORY_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "zip_entries_are_decompressed_one_at_a_time",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let grown: u64 = stdout
            .lines()
            .filter_map(|l| l.split("peak growth KiB: ").nth(1))
            .map(|v| v.trim().parse::<u64>().unwrap())
            .max()
            .unwrap_or_else(|| panic!("no measurement: {stdout}"));
        // one entry and its read buffer (≤ 48 MiB); all sixteen would be ≥ 256 MiB
        assert!(grown < 100 << 10, "peak grew by {grown} KiB");
        return;
    }
    let limits = Limits {
        max_xml_bytes: 16 << 20,
        max_total_xml_bytes: 32 << 20,
        ..Limits::default()
    };
    let bomb = deflate_zeros(16);
    let mut crc = flate2::Crc::new();
    crc.update(&vec![0u8; 16 << 20]);
    let names: Vec<String> = (0..16).map(|i| format!("{i}.xml")).collect();
    // valid archives (each entry inflates and checks out), and ones whose entries fail their
    // checksum only after inflating: those bytes are spent too
    for crc in [crc.sum(), 0] {
        let entries: Vec<(&str, u16, &[u8], u32, u32)> = names
            .iter()
            .map(|n| (n.as_str(), 8u16, bomb.as_slice(), 16u32 << 20, crc))
            .collect();
        let zip = zip_archive_with_crc(&entries);
        let before = peak_rss_kib();
        let found = extract_reports(&zip, &limits);
        let grown = peak_rss_kib() - before;
        println!("peak growth KiB: {grown}");
        // two entries read (not XML / bad checksum), then the budget is spent and the rest
        // is never inflated
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(
            found[2].report,
            Err(ReportsError::TooLarge {
                what: "decompressed data of one input",
                limit: 32 << 20
            })
        );
    }
}

#[test]
fn total_decompressed_budget_spans_attachments() {
    let limits = Limits {
        max_xml_bytes: 1 << 20,
        max_total_xml_bytes: 3 << 20,
        ..Limits::default()
    };
    // a report padded to almost 1 MiB, five times in one message
    let padded = GOOD.replace(
        "<feedback>",
        &format!("<feedback>{}", " ".repeat(1000 << 10)),
    );
    let gz = gzip(padded.as_bytes());
    let mut parts = String::new();
    for _ in 0..5 {
        parts.push_str(&format!(
            "--b\r\nContent-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(&gz)
        ));
    }
    let msg = format!("Content-Type: multipart/mixed; boundary=b\r\n\r\n{parts}--b--\r\n");
    let found = extract_reports(msg.as_bytes(), &limits);
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found[..3].iter().all(|f| f.report.is_ok()));
    assert_eq!(
        found[3].report,
        Err(ReportsError::TooLarge {
            what: "decompressed data of one input",
            limit: 3 << 20
        })
    );
}

#[test]
fn dtds_and_entities_are_refused() {
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>"#;
    assert_eq!(
        parse_report(laughs.as_bytes()),
        Err(ReportsError::DtdRefused)
    );
    let found = extract_reports(&gzip(laughs.as_bytes()), &Limits::default());
    assert_eq!(only_error(&found), &ReportsError::DtdRefused);

    let xxe = GOOD.replace(
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\"?><!DOCTYPE feedback [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>",
    );
    assert_eq!(parse_report(xxe.as_bytes()), Err(ReportsError::DtdRefused));
    // without a DTD an entity reference is simply unknown
    let undefined = GOOD.replace("Reporter", "&x;");
    assert_eq!(
        parse_report(undefined.as_bytes()),
        Err(ReportsError::UnknownEntity("&x;".into()))
    );
    // predefined entities and character references are fine
    let fine = GOOD.replace("Reporter", "A &amp; B &#x263A;&#65;");
    assert_eq!(
        parse_report(fine.as_bytes()).unwrap().metadata.org_name,
        "A & B \u{263A}A"
    );
    assert!(matches!(
        parse_report(GOOD.replace("Reporter", "&#0;").as_bytes()),
        Err(ReportsError::UnknownEntity(_))
    ));
}

#[test]
fn structure_limits() {
    let deep = GOOD.replace(
        "<feedback>",
        &format!(
            "<feedback>{}{}",
            "<x>".repeat(100_000),
            "</x>".repeat(100_000)
        ),
    );
    assert_eq!(
        parse_report(deep.as_bytes()),
        Err(ReportsError::TooDeep { limit: 16 })
    );

    let long = GOOD.replace("Reporter", &"a".repeat(10 << 20));
    assert_eq!(
        parse_report(long.as_bytes()),
        Err(ReportsError::FieldTooLong {
            element: "org_name".into(),
            limit: 4096
        })
    );

    let record = &GOOD[GOOD.find("<record>").unwrap()..GOOD.find("</feedback>").unwrap()];
    let many = GOOD.replace("</feedback>", &format!("{}</feedback>", record.repeat(20)));
    let limits = Limits {
        max_records: 10,
        ..Limits::default()
    };
    assert_eq!(
        parse_report_with(many.as_bytes(), &limits),
        Err(ReportsError::TooMany {
            what: "records",
            limit: 10
        })
    );
    assert_eq!(parse_report(many.as_bytes()).unwrap().records.len(), 21);

    let sigs = GOOD.replace(
        "<auth_results>",
        &format!(
            "<auth_results>{}",
            "<dkim><domain>d</domain><result>fail</result></dkim>".repeat(1001)
        ),
    );
    assert_eq!(
        parse_report(sigs.as_bytes()),
        Err(ReportsError::TooMany {
            what: "authentication results",
            limit: 1000
        })
    );
    let huge = Limits {
        max_xml_bytes: 100,
        ..Limits::default()
    };
    assert!(matches!(
        parse_report_with(GOOD.as_bytes(), &huge),
        Err(ReportsError::TooLarge { .. })
    ));
}

#[test]
fn malformed_reports_get_clear_errors() {
    let cases: Vec<(String, &str)> = vec![
        (GOOD[..GOOD.len() / 2].to_string(), "malformed XML"),
        (GOOD.replace("</org_name>", "</orgname>"), "malformed XML"),
        (
            GOOD.replace("<count>3</count>", "<count>-3</count>"),
            "invalid value \"-3\" in <count>",
        ),
        (
            GOOD.replace("192.0.2.1", "192.0.2.300"),
            "invalid value \"192.0.2.300\" in <source_ip>",
        ),
        (
            GOOD.replace("<p>none</p>", ""),
            "missing <p> in <policy_published>",
        ),
        (
            GOOD.replace("<p>none</p>", "<p>none</p><p>reject</p>"),
            "duplicate <p> in <policy_published>",
        ),
        (
            GOOD.replace("<dkim>pass</dkim>", "<dkim>maybe</dkim>"),
            "invalid value \"maybe\" in <dkim>",
        ),
        (
            GOOD.replace("feedback>", "report>"),
            "not a DMARC aggregate report: the root element is <report>",
        ),
        (
            GOOD.replace("<org_name>Reporter", "<org_name><b>x</b>Reporter"),
            "unexpected element <b> inside <org_name>",
        ),
        (
            format!("{GOOD}<feedback/>"),
            "content after the root element",
        ),
        (
            // a policy domain that is no domain name (the dashboard links by it)
            GOOD.replace(
                "<policy_published><domain>example.com</domain>",
                "<policy_published><domain>x&quot;y/../?#z</domain>",
            ),
            "invalid value \"x\\\"y/../?#z\" in <domain>",
        ),
        (String::new(), "empty document"),
        ("just text".to_string(), "text before the root element"),
        (
            GOOD[..GOOD.find("<record>").unwrap()].to_string() + "</feedback>",
            "missing <record> in <feedback>",
        ),
    ];
    for (xml, want) in &cases {
        let err = parse_report(xml.as_bytes()).unwrap_err();
        assert!(err.to_string().contains(want), "{want:?} vs {err}");
    }
    assert_eq!(
        parse_report(b"<feedback>\xff</feedback>"),
        Err(ReportsError::NotUtf8 { offset: 10 })
    );
    // what is tolerated: namespaces and prefixes, any element order, float timestamps, case
    let lenient = GOOD
        .replace(
            "<feedback>",
            "<d:feedback xmlns:d=\"http://dmarc.org/dmarc-xml/0.1\">",
        )
        .replace("</feedback>", "</d:feedback>")
        .replace("1700000000", "1700000000.0")
        .replace("<dkim>pass</dkim>", "<dkim>PASS</dkim>");
    let fb = parse_report(lenient.as_bytes()).unwrap();
    assert_eq!(fb.metadata.date_range.begin, 1_700_000_000);
    // a truncated gzip stream
    let gz = gzip(GOOD.as_bytes());
    let found = extract_reports(&gz[..gz.len() - 20], &Limits::default());
    assert!(
        matches!(only_error(&found), ReportsError::Gzip(_)),
        "{found:?}"
    );
}

/// A row's `count` is summed by the store as a 64-bit integer: a count no receiver could
/// report (more than four billion messages from one source) is refused, so that a few such
/// records cannot overflow the sums every page of the dashboard reads (RFC 9990 §8.1).
#[test]
fn counts_beyond_four_billion_are_refused() {
    let with = |n: &str| GOOD.replace("<count>3</count>", &format!("<count>{n}</count>"));
    let fb = parse_report(with("4294967295").as_bytes()).unwrap();
    assert_eq!(fb.records[0].row.count, u64::from(u32::MAX));
    for n in ["4294967296", "9223372036854775807", "18446744073709551615"] {
        let err = parse_report(with(n).as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("invalid value \"{n}\" in <count>")),
            "{n}: {err}"
        );
    }
}

fn b64(data: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    text.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn attach(ctype: &str, filename: &str, data: &[u8]) -> Vec<u8> {
    format!(
        "From: r@reporter.example\r\nSubject: Report Domain: example.com Submitter: reporter.example\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n\
         --=_b\r\nContent-Type: text/plain\r\n\r\nA report.\r\n\
         --=_b\r\nContent-Type: {ctype}\r\nContent-Disposition: attachment; filename=\"{filename}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--=_b--\r\n",
        b64(data)
    )
    .into_bytes()
}

#[test]
fn messages_and_mboxes() {
    let limits = Limits::default();
    // a forwarded report: message/rfc822 holding a quoted-printable XML attachment
    let qp = GOOD.replace('=', "=3D");
    let inner = format!(
        "From: r@reporter.example\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\n\
         Content-Type: text/xml\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{qp}\r\n--in--\r\n"
    );
    let outer = format!(
        "From: someone@forwarder.example\r\nContent-Type: multipart/mixed; boundary=out\r\n\r\n--out\r\n\
         Content-Type: message/rfc822\r\n\r\n{inner}\r\n--out--\r\n"
    );
    let found = extract_reports(outer.as_bytes(), &limits);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].source, "message / part 1 / part 1");
    assert_eq!(
        found[0].report.as_ref().unwrap().idempotency_key(),
        ("Reporter", "id-1")
    );

    // mbox: a gzip report, a message without one, a broken one
    let gz = attach("application/gzip", "a.xml.gz", &gzip(GOOD.as_bytes()));
    let broken = attach("application/gzip", "b.xml.gz", b"not gzip at all");
    let mbox = [
        b"From reporter@example Mon Jan  1 00:00:00 2024\n".to_vec(),
        gz,
        b"\nFrom x@y Mon Jan  1 00:00:00 2024\nSubject: hello\n\nno report here\n".to_vec(),
        b"From z@y Mon Jan  1 00:00:00 2024\n".to_vec(),
        broken,
    ]
    .concat();
    let found = extract_reports(&mbox, &limits);
    let summary: Vec<(String, bool)> = found
        .iter()
        .map(|f| (f.source.clone(), f.report.is_ok()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("message 1 / part 2 \"a.xml.gz\"".to_string(), true),
            ("message 2".to_string(), false),
            ("message 3 / part 2 \"b.xml.gz\"".to_string(), false),
        ]
    );
    assert!(matches!(
        found[2].report,
        Err(ReportsError::UnknownFormat(_))
    ));

    let small = Limits {
        max_mbox_messages: 2,
        ..Limits::default()
    };
    let found = extract_reports(&mbox, &small);
    assert!(matches!(
        only_error(&found),
        ReportsError::TooMany {
            what: "messages in the mbox",
            limit: 2
        }
    ));

    // MIME nesting and part-count limits
    let mut deep = attach("text/xml", "r.xml", GOOD.as_bytes());
    for i in 0..20 {
        deep = [
            format!("Content-Type: multipart/mixed; boundary=l{i}\r\n\r\n--l{i}\r\n").into_bytes(),
            deep,
            format!("\r\n--l{i}--\r\n").into_bytes(),
        ]
        .concat();
    }
    let found = extract_reports(&deep, &limits);
    assert!(
        matches!(
            only_error(&found),
            ReportsError::TooMany {
                what: "levels of MIME nesting",
                ..
            }
        ),
        "{found:?}"
    );
    let many = format!(
        "Content-Type: multipart/mixed; boundary=m\r\n\r\n{}--m--\r\n",
        "--m\r\nContent-Type: text/plain\r\n\r\nx\r\n".repeat(1000)
    );
    let found = extract_reports(many.as_bytes(), &limits);
    assert!(matches!(
        only_error(&found),
        ReportsError::TooMany {
            what: "MIME parts",
            ..
        }
    ));

    assert!(matches!(
        only_error(&extract_reports(b"\x00\x01binary", &limits)),
        ReportsError::UnknownFormat(_)
    ));
    let too_big = Limits {
        max_input_bytes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        only_error(&extract_reports(GOOD.as_bytes(), &too_big)),
        ReportsError::TooLarge { what: "input", .. }
    ));
}

/// A failure report (RFC 9991 §3, RFC 5965 §2) given to the aggregate-report reader was
/// refused as "no report attachment found", which sent the postmaster looking for a broken
/// attachment; it is named as a failure report now, alone and inside an mbox.
#[test]
fn a_failure_report_is_named_as_such() {
    let arf = b"From: dmarc@reporter.example\r\nTo: ruf@example.com\r\nSubject: DMARC failure report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report;\r\n report-type=\"Feedback-Report\"; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nA message failed DMARC.\r\n--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: auth-failure\r\nVersion: 1\r\n--b--\r\n";
    let plain =
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n\r\nno report here\r\n";
    let reasons = |input: &[u8]| -> Vec<String> {
        extract_reports(input, &Limits::default())
            .into_iter()
            .map(|r| match r.report {
                Err(ReportsError::NotAReport(why)) => why,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let failure = "a failure report (RFC 9991, report-type=feedback-report)";
    assert!(reasons(arf)[0].starts_with(failure), "{:?}", reasons(arf));
    assert_eq!(reasons(plain), ["no report attachment found"]);
    let mut mbox = b"From dmarc@reporter.example Thu Dec  3 10:00:00 2026\n".to_vec();
    mbox.extend_from_slice(arf);
    mbox.extend_from_slice(b"From a@example.com Thu Dec  3 10:00:01 2026\n");
    mbox.extend_from_slice(plain);
    let found = reasons(&mbox);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with(failure), "{found:?}");
    assert_eq!(found[1], "no report attachment found");
}
