//! Property tests of the record and From parsers: no panics on arbitrary bytes, and the
//! author domain of generated RFC 5322 mailboxes is found in every display form.

use dmarc::{Config, MultiFrom, author_domains, parse_from, parse_record};
use proptest::prelude::*;

fn domain() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 2..5).prop_map(|l| l.join("."))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_record(&bytes);
        if let Ok(addrs) = parse_from(&bytes) {
            for a in addrs {
                let _ = a.author_domain();
            }
        }
        let strictest = Config { multi_from: MultiFrom::Strictest, ..Config::default() };
        let _ = author_domains(&[bytes.as_slice(), bytes.as_slice()], &strictest);
    }

    #[test]
    fn author_domain_is_found_in_every_form(
        d in domain(),
        local in "[a-z0-9._%+-]{1,12}",
        name in "[A-Za-z ,.()<>@\"]{0,20}",
        form in 0usize..5,
    ) {
        let quoted_name = name.replace(['\\', '"'], "");
        let value = match form {
            0 => format!("{local}@{d}"),
            1 => format!("\"{quoted_name}\" <{local}@{d}>"),
            2 => format!("<{local}@{}>", d.to_uppercase()),
            3 => format!("{local}@{d} (comment {})", quoted_name.replace(['(', ')'], "")),
            _ => format!("Group: \"{quoted_name}\" <{local}@{d}>;"),
        };
        let addrs = parse_from(value.as_bytes()).unwrap();
        prop_assert_eq!(addrs.len(), 1, "{}", value);
        prop_assert_eq!(addrs[0].author_domain().unwrap(), d);
    }

    #[test]
    fn records_keep_their_policy(
        p in prop_oneof!["none", "quarantine", "reject"],
        pct in 0u8..=100,
        junk in "[a-z]{1,5}=[a-z0-9]{0,5}".prop_filter("an unknown tag", |j| {
            let name = j.split('=').next().unwrap_or("");
            !["p", "sp", "np", "psd", "t", "adkim", "aspf", "pct", "rua", "ruf", "fo", "rf", "ri", "v"]
                .contains(&name)
        }),
    ) {
        let text = format!("v=DMARC1; {junk}; p={p}; pct={pct}");
        let r = parse_record(text.as_bytes()).unwrap();
        prop_assert_eq!(r.policy.map(|x| x.to_string()), Some(p.clone()));
        prop_assert_eq!(r.pct, pct);
    }
}
