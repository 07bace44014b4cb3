//! The report XML: DTDs and entities, structure limits, malformed reports, and counts past
//! four billion.

use reports::{Limits, ReportsError, extract_reports, parse_report, parse_report_with};

use crate::archives::gzip;
use crate::{GOOD, only_error};

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
    // ... between elements and inside one that is skipped too (XML 1.0 §4.1 "Entity
    // Declared": not well-formed wherever it is)
    for undefined in [
        GOOD.replace("<report_metadata>", "&x;<report_metadata>"),
        GOOD.replace("<record>", "<extension><a>&x;</a></extension><record>"),
        GOOD.replace("<record>", "<extension><a b=\"&x;\"/></extension><record>"),
        GOOD.replace("<feedback>", "<feedback a=\"&x;\">"),
    ] {
        assert_eq!(
            parse_report(undefined.as_bytes()),
            Err(ReportsError::UnknownEntity("&x;".into())),
            "{undefined}"
        );
    }
    // attributes with predefined entities and character references are fine
    let attributes = GOOD.replace("<feedback>", "<feedback xmlns=\"urn:x?a=1&amp;b=&#50;\">");
    assert!(parse_report(attributes.as_bytes()).is_ok());
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
