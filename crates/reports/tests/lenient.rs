//! Reports as real and RFC-literate reporters send them that a strict reader would refuse:
//! schema lexical forms (XML Schema Part 2), transfer-encoding leniency (RFC 2045) and
//! declared encodings (XML 1.0 §4.3.3). Each must be read, not refused.

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
