//! parse(format(x)) == x for generated Authentication-Results (RFC 8601 §2.2), with every
//! layout: milter (`\n` + tab), CRLF, one line, and narrow widths that force folding inside
//! comments and quoted strings.

use authres::{AuthenticationResults, FormatOptions, MethodResult, Property, parse};
use proptest::prelude::*;

fn printable(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~]{{0,{max}}}")).unwrap()
}

fn property() -> impl Strategy<Value = Property> {
    (
        "[a-z]{1,6}",
        "[a-z][a-z0-9-]{0,8}",
        prop_oneof![
            printable(30),
            "[a-z0-9.+_-]{1,10}@[a-z0-9-]{1,8}\\.[a-z]{2,4}",
            "@[a-z]{1,8}\\.example"
        ],
        proptest::option::of(printable(30)),
    )
        .prop_map(|(ptype, name, value, comment)| Property {
            ptype: ptype.into(),
            name: name.into(),
            value,
            comment,
        })
}

fn method_result() -> impl Strategy<Value = MethodResult> {
    (
        "[a-z][a-z0-9-]{0,8}",
        proptest::option::of(0u32..5),
        "[a-z][a-z0-9_-]{0,9}",
        proptest::option::of(printable(40)),
        proptest::option::of(printable(40)),
        proptest::collection::vec(property(), 0..5),
    )
        .prop_map(
            |(method, method_version, result, result_comment, reason, properties)| MethodResult {
                method,
                method_version,
                result,
                result_comment,
                reason,
                properties,
            },
        )
}

fn authentication_results() -> impl Strategy<Value = AuthenticationResults> {
    (
        prop_oneof!["[a-z0-9][a-z0-9.-]{0,30}", printable(20)],
        proptest::option::of(0u32..3),
        proptest::collection::vec(method_result(), 0..6),
    )
        .prop_map(|(authserv_id, version, results)| AuthenticationResults {
            none_comment: None,
            authserv_id,
            version,
            results,
        })
}

fn options() -> impl Strategy<Value = FormatOptions> {
    prop_oneof![
        Just(FormatOptions::milter()),
        Just(FormatOptions::crlf()),
        Just(FormatOptions::single_line()),
        (20usize..90).prop_map(|w| FormatOptions {
            max_width: w,
            ..FormatOptions::crlf()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_inverts_format(ar in authentication_results(), o in options()) {
        let text = ar.format(&o);
        let back = parse(text.as_bytes());
        prop_assert_eq!(back.as_ref().ok(), Some(&ar), "formatted: {:?} -> {:?}", text, back);
    }

    #[test]
    fn folded_lines_stay_within_78_columns_unless_one_word_is_longer(ar in authentication_results()) {
        let o = FormatOptions::crlf();
        let text = ar.format(&o);
        for (i, line) in text.split("\r\n").enumerate() {
            let offset = if i == 0 { o.first_line_offset } else { 0 };
            let width: usize = line.chars().map(|c| if c == '\t' { 8 } else { 1 }).sum::<usize>() + offset;
            // only a line holding one unbreakable word (or the authserv-id line) may overflow
            let one_word = !line.trim_start().contains(' ');
            prop_assert!(width <= 78 || one_word || i == 0,
                "line {} too long ({}): {:?}", i, width, line);
        }
        prop_assert!(!text.contains('\r') || text.contains("\r\n"));
    }

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = authres::parse(&bytes);
        let _ = authres::parse_lenient(&bytes);
        let _ = authres::parse_arc(&bytes);
        let _ = authres::authserv_id(&bytes);
    }
}
