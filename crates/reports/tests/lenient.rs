//! Reports as real and RFC-literate reporters send them that a strict reader would refuse:
//! schema lexical forms (XML Schema Part 2), transfer-encoding leniency (RFC 2045, RFC 2047
//! names), declared encodings (XML 1.0 §4.3.3, RFC 7303) and known reporter quirks. Each must
//! be read, not refused; and the one thing XML itself forbids in values stays refused.

use reports::{Limits, extract_reports, parse_report};

fn report(begin: &str, end: &str, count: &str, pct: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<feedback>
  <report_metadata>
    <org_name>Reporter</org_name><email>r@reporter.example</email>
    <report_id>id-1</report_id>
    <date_range><begin>{begin}</begin><end>{end}</end></date_range>
  </report_metadata>
  <policy_published><domain>example.com</domain><p>none</p><pct>{pct}</pct></policy_published>
  <record>
    <row><source_ip>192.0.2.1</source_ip><count>{count}</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>example.com</header_from></identifiers>
    <auth_results><dkim><domain>example.com</domain><selector>s</selector><result>pass</result></dkim></auth_results>
  </record>
</feedback>
"#
    )
}

/// XML Schema Part 2 §3.3.13 (integer) and §3.4.20–24 (nonNegativeInteger, unsignedInt,
/// unsignedByte): an optional leading `+` is part of the lexical space, so `+3` is the
/// count 3 in a schema-valid report (RFC 9990 Appendix A: begin and end are xs:integer,
/// count xs:integer, pct xs:unsignedByte... all take a sign).
#[test]
fn schema_integers_with_a_plus_sign_are_read() {
    let fb = parse_report(report("+1700000000", "+1700086399", "+3", "+100").as_bytes())
        .expect("a schema-valid report");
    assert_eq!(fb.metadata.date_range.begin, 1_700_000_000);
    assert_eq!(fb.metadata.date_range.end, 1_700_086_399);
    assert_eq!(fb.records[0].row.count, 3);
    assert_eq!(fb.policy.pct, Some(100));
    // and a `-` (other than on zero) or a lone sign is still no count
    for bad in ["-3", "+", "++3", "+-3", "3+"] {
        assert!(
            parse_report(report("1700000000", "1700086399", bad, "100").as_bytes()).is_err(),
            "{bad}"
        );
    }
    let zero = parse_report(report("1700000000", "1700086399", "-0", "-0").as_bytes())
        .expect("-0 is zero in the lexical space");
    assert_eq!(zero.records[0].row.count, 0);
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

fn mail(body: &str) -> Vec<u8> {
    format!(
        "From: r@reporter.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n\
         --=_b\r\nContent-Type: text/xml\r\nContent-Disposition: attachment; filename=\"r.xml\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n--=_b--\r\n"
    )
    .into_bytes()
}

/// RFC 2045 §6.8: "Any characters outside of the base64 alphabet are to be ignored in
/// base64-encoded data", and `=` ends the data (what follows the padding is not decoded).
#[test]
fn base64_ignores_characters_outside_its_alphabet() {
    let xml = report("1700000000", "1700086399", "3", "100");
    let encoded = b64(xml.as_bytes());
    // a stray character mid-line and a line of junk an MTA or a footer left behind
    let mut lines: Vec<String> = encoded.split("\r\n").map(str::to_string).collect();
    lines[1].insert(10, '*');
    lines.insert(2, "-- ".into());
    let body = format!(
        "{}\r\n=\r\n\r\n--\r\nsent by Reporter's gateway",
        lines.join("\r\n")
    );
    let found = extract_reports(&mail(&body), &Limits::default());
    assert_eq!(found.len(), 1, "{found:?}");
    let fb = found[0].report.as_ref().expect("the report");
    assert_eq!(fb.records[0].row.count, 3);
}

fn with_org(decl: &str, org: &str) -> String {
    report("1700000000", "1700086399", "3", "100")
        .replace(r#"<?xml version="1.0"?>"#, decl)
        .replace(
            "<org_name>Reporter</org_name>",
            &format!("<org_name>{org}</org_name>"),
        )
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        let bytes = if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        out.extend_from_slice(&bytes);
    }
    out
}

/// XML 1.0 §4.3.3 and Appendix F: a document names its encoding in its declaration or shows
/// it by its byte order mark. A report written by a Windows or Java tool in ISO-8859-1 or
/// windows-1252 (the OpenDMARC bad.com sample declares windows-1252) or in UTF-16 with a BOM
/// is read in that encoding; a label treated as windows-1252, as browsers do (WHATWG
/// Encoding), since such tools write its characters under the ISO-8859-1 name.
#[test]
fn declared_and_bom_encodings_are_read() {
    // "Telefónica" in ISO-8859-1: 0xF3 is not UTF-8
    let latin1: Vec<u8> = with_org(
        r#"<?xml version="1.0" encoding="ISO-8859-1"?>"#,
        "Telef\u{0}nica",
    )
    .into_bytes()
    .into_iter()
    .map(|b| if b == 0 { 0xF3 } else { b })
    .collect();
    let fb = parse_report(&latin1).expect("an ISO-8859-1 report");
    assert_eq!(fb.metadata.org_name, "Telefónica");

    // windows-1252 0x92 is a right single quotation mark; single-quoted declaration
    let cp1252: Vec<u8> = with_org(
        "<?xml version='1.0' encoding='windows-1252' ?>",
        "O\u{0}Neil",
    )
    .into_bytes()
    .into_iter()
    .map(|b| if b == 0 { 0x92 } else { b })
    .collect();
    let fb = parse_report(&cp1252).expect("a windows-1252 report");
    assert_eq!(fb.metadata.org_name, "O\u{2019}Neil");

    // UTF-16 with a byte order mark, both orders, also as a mail attachment
    let text = with_org(r#"<?xml version="1.0" encoding="UTF-16"?>"#, "Mail.ru ☃");
    for be in [false, true] {
        let fb = parse_report(&utf16(&text, be)).expect("a UTF-16 report");
        assert_eq!(fb.metadata.org_name, "Mail.ru ☃");
    }
    let found = extract_reports(&utf16(&text, false), &Limits::default());
    assert!(found[0].report.is_ok(), "{found:?}");
    let msg = mail(&b64(&utf16(&text, true)));
    let found = extract_reports(&msg, &Limits::default());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].report.is_ok(), "{found:?}");

    // a UTF-8 report that declares another encoding is still read as it is (mislabelled
    // reports are common), and what is neither stays refused with a clear error
    let mislabelled = with_org(r#"<?xml version="1.0" encoding="ISO-8859-1"?>"#, "Zürich");
    assert_eq!(
        parse_report(mislabelled.as_bytes())
            .unwrap()
            .metadata
            .org_name,
        "Zürich"
    );
    let sjis: Vec<u8> = with_org(r#"<?xml version="1.0" encoding="Shift_JIS"?>"#, "\u{0}")
        .into_bytes()
        .into_iter()
        .flat_map(|b| if b == 0 { vec![0x82, 0xA0] } else { vec![b] })
        .collect();
    let err = parse_report(&sjis).unwrap_err();
    assert!(err.to_string().contains("Shift_JIS"), "{err}");
    // an odd number of UTF-16 bytes, an unpaired surrogate: refused, no panic
    let mut odd = utf16(&text, false);
    odd.push(b'<');
    assert!(parse_report(&odd).is_err());
    let lone = [&[0xFF, 0xFE][..], &[0x00, 0xD8, b'<', 0]].concat();
    assert!(parse_report(&lone).is_err());
}

/// Early DMARC drafts named `identifiers` `identities`, and some reporters still send it
/// (parsedmarc reads both): the record's identifiers are read from either name, one of them.
#[test]
fn draft_identities_element_is_read_as_identifiers() {
    let xml = report("1700000000", "1700086399", "3", "100").replace("identifiers>", "identities>");
    let fb = parse_report(xml.as_bytes()).expect("a report with <identities>");
    assert_eq!(fb.records[0].identifiers.header_from, "example.com");
    let both = report("1700000000", "1700086399", "3", "100").replace(
        "<identifiers>",
        "<identities><header_from>x.example</header_from></identities><identifiers>",
    );
    assert!(
        parse_report(both.as_bytes()).is_err(),
        "two sets of identifiers"
    );
}

/// RFC 9990 §3.1.1.9: `domain` is the domain whose DMARC record was used. The store, the
/// dashboard and `[reports.inbox] domains` key everything by it, so its spellings
/// (`Example.COM.`, a U-label) are one domain: keyed by the lowercase A-label without the
/// trailing dot (RFC 5890 §2.3.2.1, RFC 1034 §3.1); the report keeps what was written.
#[test]
fn the_policy_domain_is_read_in_one_spelling() {
    for (given, want) in [
        ("Example.COM.", "example.com"),
        ("example.com", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
    ] {
        let xml = report("1700000000", "1700086399", "3", "100").replace(
            "<domain>example.com</domain><p>",
            &format!("<domain>{given}</domain><p>"),
        );
        let fb = parse_report(xml.as_bytes()).expect(given);
        assert_eq!(fb.policy.domain_key(), want, "{given}");
        assert_eq!(fb.policy.domain, given);
    }
}

/// A reporter whose MTA listens on a dual-stack socket reports IPv4 clients as
/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2): that is the IPv4
/// source, one row with its other reports and looked up in in-addr.arpa, not a second
/// source whose PTR name is never found.
#[test]
fn ipv4_mapped_sources_are_ipv4() {
    for given in [
        "::ffff:192.0.2.1",
        "::FFFF:c000:0201",
        "0:0:0:0:0:ffff:192.0.2.1",
    ] {
        let xml = report("1700000000", "1700086399", "3", "100")
            .replace("<source_ip>192.0.2.1<", &format!("<source_ip>{given}<"));
        let fb = parse_report(xml.as_bytes()).expect(given);
        assert_eq!(
            fb.records[0].row.source().to_string(),
            "192.0.2.1",
            "{given}"
        );
        assert!(fb.records[0].row.source_ip.is_ipv6(), "kept as written");
    }
    // a real IPv6 source stays as it is, in its one canonical form
    let xml = report("1700000000", "1700086399", "3", "100")
        .replace("<source_ip>192.0.2.1<", "<source_ip>2001:DB8:0::1<");
    let fb = parse_report(xml.as_bytes()).unwrap();
    assert_eq!(fb.records[0].row.source().to_string(), "2001:db8::1");
}

/// zoho.com reports SPF results of scope `helo` without a `domain` (debricked/dmarc-visualizer
/// issue 18). RFC 9990 §3.1.1.11 asks for it, but the result itself is sound: the record is
/// read with an empty SPF domain rather than the whole report refused.
#[test]
fn spf_result_without_a_domain_is_read() {
    let xml = report("1700000000", "1700086399", "3", "100").replace(
        "</dkim></auth_results>",
        "</dkim><spf><scope>helo</scope><result>pass</result></spf></auth_results>",
    );
    let fb = parse_report(xml.as_bytes()).expect("a zoho.com-style report");
    let spf = &fb.records[0].auth_results.spf;
    assert_eq!(spf.len(), 1);
    assert_eq!(spf[0].domain, "");
    assert_eq!(spf[0].result.to_string(), "pass");
    // a result is still required
    let xml = report("1700000000", "1700086399", "3", "100").replace(
        "</dkim></auth_results>",
        "</dkim><spf><domain>example.com</domain></spf></auth_results>",
    );
    assert!(parse_report(xml.as_bytes()).is_err());
}

/// A `<reason>` with empty `<type>` and `<comment>` (parsedmarc's `empty_reason.xml`, a real
/// report) says nothing and reads as no reason; the other reasons stay; an unknown type is
/// still refused (RFC 9990 §3.1.1.14).
#[test]
fn empty_reason_reads_as_no_reason() {
    let with = |reasons: &str| {
        report("1700000000", "1700086399", "3", "100")
            .replace("<spf>fail</spf>", &format!("<spf>fail</spf>{reasons}"))
    };
    for empty in [
        "<reason><type></type><comment></comment></reason>",
        "<reason><type> </type></reason>",
        "<reason/>",
    ] {
        let fb = parse_report(with(empty).as_bytes()).expect(empty);
        assert!(
            fb.records[0].row.policy_evaluated.reasons.is_empty(),
            "{empty}"
        );
    }
    let fb = parse_report(
        with("<reason><type/></reason><reason><type>mailing_list</type><comment/></reason>")
            .as_bytes(),
    )
    .unwrap();
    let reasons = &fb.records[0].row.policy_evaluated.reasons;
    assert_eq!(reasons.len(), 1);
    assert_eq!(reasons[0].kind.as_str(), "mailing_list");
    assert_eq!(reasons[0].comment.as_deref(), Some(""));
    // an empty or absent type beside a comment: `other`, "see the comment" (RFC 9990
    // §3.1.1.14), as DmarcRua reads the ones it collected
    for other in [
        "<reason><type></type><comment>list</comment></reason>",
        "<reason><comment>list</comment></reason>",
    ] {
        let fb = parse_report(with(other).as_bytes()).expect(other);
        let reasons = &fb.records[0].row.policy_evaluated.reasons;
        assert_eq!(reasons.len(), 1, "{other}");
        assert_eq!(reasons[0].kind.as_str(), "other", "{other}");
        assert_eq!(reasons[0].comment.as_deref(), Some("list"), "{other}");
    }
    assert!(parse_report(with("<reason><type>bogus</type></reason>").as_bytes()).is_err());
    // rspamd before 1.9 wrote the type as the reason's text (rspamd issue 2872; the "$text"
    // of cry-inc/dmarc-report-viewer issue 21): that type, not silently nothing
    let fb = parse_report(with("<reason> sampled_out </reason>").as_bytes()).unwrap();
    let reasons = &fb.records[0].row.policy_evaluated.reasons;
    assert_eq!(reasons.len(), 1);
    assert_eq!(reasons[0].kind.as_str(), "sampled_out");
    assert_eq!(reasons[0].comment, None);
    assert!(parse_report(with("<reason>bogus</reason>").as_bytes()).is_err());
    // layout whitespace around children is no text, however much of it
    let spaced = format!(
        "<reason>{0}<type>mailing_list</type>{0}</reason>",
        " \r\n\t".repeat(5000)
    );
    let fb = parse_report(with(&spaced).as_bytes()).unwrap();
    assert_eq!(
        fb.records[0].row.policy_evaluated.reasons[0].kind.as_str(),
        "mailing_list"
    );
}

/// Optional `policy_published` elements written empty (`<sp></sp>`, `<pct/>`: Yahoo's empty
/// `sp` per modoboa-dmarc PR 67) say the tag was not there: they read as absent, as parsedmarc
/// reads them, instead of refusing the report (RFC 9990 §3.1.1.5 makes them optional). An
/// empty `p`, the one required policy, is still refused.
#[test]
fn empty_optional_policy_elements_read_as_absent() {
    let with = |extra: &str| {
        report("1700000000", "1700086399", "3", "100")
            .replace("<pct>100</pct>", "")
            .replace("<p>none</p>", &format!("<p>none</p>{extra}"))
    };
    let fb = parse_report(
        with(
            "<sp></sp><np/><adkim> </adkim><aspf></aspf><pct></pct><testing/>\
             <discovery_method></discovery_method>",
        )
        .as_bytes(),
    )
    .expect("empty optional elements");
    let p = &fb.policy;
    assert_eq!(
        (
            p.sp,
            p.np,
            p.adkim,
            p.aspf,
            p.pct,
            p.testing,
            p.discovery_method
        ),
        (None, None, None, None, None, None, None)
    );
    // an empty one beside a real one is not a duplicate
    let fb = parse_report(with("<sp/><sp>reject</sp>").as_bytes()).unwrap();
    assert_eq!(
        fb.policy.sp.map(|d| d.to_string()).as_deref(),
        Some("reject")
    );
    let empty_p = with("").replace("<p>none</p>", "<p></p>");
    assert!(parse_report(empty_p.as_bytes()).is_err());
}

fn attachment(ctype: &str, filename_param: &str, data: &[u8]) -> Vec<u8> {
    format!(
        "From: r@reporter.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n\
         --=_b\r\nContent-Type: text/plain\r\n\r\nA report.\r\n\
         --=_b\r\nContent-Type: {ctype}\r\nContent-Disposition: attachment;\r\n {filename_param}\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--=_b--\r\n",
        b64(data)
    )
    .into_bytes()
}

/// Report file names are long (`receiver!policy-domain!begin!end.xml.gz`, RFC 9990 §3.5.2),
/// and many mailers write a long or non-ASCII parameter as RFC 2047 encoded-words rather than
/// RFC 2231 (not allowed by RFC 2047 §5, but what Outlook and others send and every MUA
/// reads): an `application/octet-stream` part named so is still found by its name.
#[test]
fn encoded_word_file_names_are_read() {
    use base64::Engine;
    let xml = report("1700000000", "1700086399", "3", "100");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, xml.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let name = "reporter.example!example.com!1700000000!1700086399!123456789.xml.gz";
    let b = base64::engine::general_purpose::STANDARD.encode(name);
    let (first, second) = name.split_at(30);
    for param in [
        format!("filename=\"=?UTF-8?B?{b}?=\""),
        format!("filename=\"=?utf-8?q?{}?=\"", first.replace('!', "=21")),
        // two encoded-words: the white space between them goes (RFC 2047 §6.2)
        format!("filename=\"=?UTF-8?Q?{first}?= =?UTF-8?Q?{second}?=\""),
    ] {
        let param = if param.contains("?q?") {
            // the Q form above only holds the first part: add the rest plainly
            param.replace("?=\"", &format!("?={second}\""))
        } else {
            param
        };
        let found = extract_reports(
            &attachment("application/octet-stream", &param, &gz),
            &Limits::default(),
        );
        assert_eq!(found.len(), 1, "{param}: {found:?}");
        assert!(found[0].report.is_ok(), "{param}: {found:?}");
        assert!(found[0].source.contains(name), "{}", found[0].source);
    }
}

/// XML 1.0 §2.2 (Char) and §4.1 (WFC: Legal Character): NUL, the other C0 controls but tab,
/// LF and CR, and U+FFFE/U+FFFF are in no well-formed document, raw or as a character
/// reference. A value holding one is refused, so it never reaches the store (PostgreSQL
/// refuses a NUL in text, failing the whole input) or the dashboard and terminal.
#[test]
fn characters_xml_forbids_are_refused() {
    for org in [
        "a\u{0}b",
        "a&#1;b",
        "a\u{1}b",
        "a&#x1F;b",
        "a\u{FFFE}b",
        "a&#xFFFF;b",
        "a&#xDFFF;b",
    ] {
        let xml = with_org(r#"<?xml version="1.0"?>"#, org);
        let err = parse_report(xml.as_bytes()).expect_err(org);
        assert!(!err.to_string().is_empty());
    }
    let fine = with_org(r#"<?xml version="1.0"?>"#, "a&#9;b&#xA;c\u{E000}\u{1F600}");
    assert_eq!(
        parse_report(fine.as_bytes()).unwrap().metadata.org_name,
        "a\tb\nc\u{E000}\u{1F600}"
    );
}

/// RFC 2045 §6.7 rule (3): a transport may pad a line with white space, which the decoder
/// deletes, so `=` followed by spaces or tabs and the line end is still a soft line break
/// (not a literal `=` splitting an element name).
#[test]
fn quoted_printable_soft_breaks_with_transport_padding() {
    let xml = report("1700000000", "1700086399", "3", "100");
    let at = xml.find("<org_name>").unwrap() + 5;
    let qp = format!("{}= \t\r\n{}", &xml[..at], &xml[at..]).replace("=\"", "=3D\"");
    let msg = format!(
        "From: r@reporter.example\r\nContent-Type: text/xml\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\n{qp}"
    );
    let found = extract_reports(msg.as_bytes(), &Limits::default());
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0]
            .report
            .as_ref()
            .expect("the report")
            .metadata
            .org_name,
        "Reporter"
    );
}

/// RFC 7303 §3.2: the `charset` parameter of an XML media type names the encoding of the
/// document, ahead of its declaration: a `text/xml; charset=iso-8859-1` attachment
/// without an encoding declaration is read as ISO-8859-1 (windows-1252).
#[test]
fn the_charset_of_an_xml_attachment_names_its_encoding() {
    let xml: Vec<u8> = with_org(r#"<?xml version="1.0"?>"#, "Telef\u{0}nica")
        .into_bytes()
        .into_iter()
        .map(|b| if b == 0 { 0xF3 } else { b })
        .collect();
    let head = "From: r@reporter.example\r\nMIME-Version: 1.0\r\n\
                Content-Type: text/xml; charset=\"ISO-8859-1\"\r\n\
                Content-Transfer-Encoding: 8bit\r\n\r\n";
    let msg = [head.as_bytes(), &xml].concat();
    let found = extract_reports(&msg, &Limits::default());
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0]
            .report
            .as_ref()
            .expect("the report")
            .metadata
            .org_name,
        "Telefónica"
    );
}

/// RFC 5322 §4.5.2 (obs-optional: `field-name *WSP ":"`), which §4 says a receiver must
/// accept: a report mail whose `Content-Type :` (or `Content-Transfer-Encoding\t:`) has white
/// space before its colon, at the top or in a part. `report import` skipped such a field (and
/// did not take a file starting with one for a mail at all), while the `[reports.inbox]` copy
/// of the same mail, whose top fields the MTA passes as `Content-Type`, was read.
#[test]
fn fields_with_white_space_before_the_colon_are_read() {
    let xml = report("1700000000", "1700086399", "3", "100");
    let body = b64(xml.as_bytes());
    for (top, part, cte) in [
        (
            "Content-Type :",
            "Content-Type:",
            "Content-Transfer-Encoding:",
        ),
        (
            "Content-Type\t:",
            "Content-Type :",
            "Content-Transfer-Encoding\t:",
        ),
        (
            "Content-Type:",
            "Content-Type:",
            "Content-Transfer-Encoding :",
        ),
    ] {
        let msg = format!(
            "{top} multipart/mixed; boundary=\"=_b\"\r\nFrom: r@reporter.example\r\n\
             MIME-Version: 1.0\r\n\r\n\
             --=_b\r\n{part} text/xml\r\nContent-Disposition : attachment; filename=\"r.xml\"\r\n\
             {cte} base64\r\n\r\n{body}\r\n--=_b--\r\n"
        );
        let found = extract_reports(msg.as_bytes(), &Limits::default());
        assert_eq!(found.len(), 1, "{top} {part} {cte}: {found:?}");
        let fb = found[0].report.as_ref().expect("the report");
        assert_eq!(fb.records[0].row.count, 3, "{top} {part} {cte}");
    }
}
