//! Unit tests of From parsing and author domains.

use super::*;

fn domains(v: &str) -> Vec<String> {
    parse_from(v.as_bytes())
        .unwrap()
        .iter()
        .map(|a| a.author_domain().unwrap_or_else(|_| "?".into()))
        .collect()
}

#[test]
fn common_forms() {
    assert_eq!(domains("Joe <joe@Example.COM>"), ["example.com"]);
    assert_eq!(domains("\"Doe, John\" <j@a.example>"), ["a.example"]);
    assert_eq!(domains("j@a.example (John)"), ["a.example"]);
    assert_eq!(
        domains("a@x.example, B <b@y.example>"),
        ["x.example", "y.example"]
    );
    assert_eq!(
        domains("Team: a@x.example, b@y.example;"),
        ["x.example", "y.example"]
    );
    assert_eq!(
        domains("<@r1.example,@r2.example:u@z.example>"),
        ["z.example"]
    );
    assert_eq!(domains("u @ sub . example . com"), ["sub.example.com"]);
    assert_eq!(domains("=?UTF-8?B?QQ==?= <u@b.example>"), ["b.example"]);
    assert_eq!(domains("u@bücher.example"), ["xn--bcher-kva.example"]);
    assert_eq!(
        domains("\"a@evil.example\" <u@good.example>"),
        ["good.example"]
    );
}

#[test]
fn empty_group_and_display_only() {
    assert!(parse_from(b"undisclosed-recipients:;").unwrap().is_empty());
    let a = parse_from(b"\"Test User\"").unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].domain, None);
}

#[test]
fn an_entry_without_address_next_to_an_address_is_named_as_such() {
    // corpus case spam_headers (authentication_milter): a quoted display name, a comma,
    // then an address; the reason used to read "unusable From domain: " with no domain
    let value = b"\"Dear Customer\r\n \r\n Happy new Year\r\n \",\r\n        <noreply@example.com>";
    for multi_from in [MultiFrom::Reject, MultiFrom::Strictest] {
        let config = Config {
            multi_from,
            ..Config::default()
        };
        let problem = author_domains(&[&value[..]], &config).unwrap_err();
        assert_eq!(problem, FromProblem::EntryWithoutAddress);
        assert_eq!(problem.to_string(), "a From entry has no address");
    }
    let problem = author_domains(&[&b"alice, bob@example.com"[..]], &Config::default());
    assert_eq!(problem, Err(FromProblem::EntryWithoutAddress));
    // an unusable domain is still named
    let problem = author_domains(&[&b"a@[192.0.2.1], b@example.com"[..]], &Config::default());
    assert_eq!(
        problem,
        Err(FromProblem::InvalidDomain("[192.0.2.1]".into()))
    );
    // a display name alone is a From without any address
    let problem = author_domains(&[&b"\"Test User\""[..]], &Config::default());
    assert_eq!(problem, Err(FromProblem::NoAddress));
}

#[test]
fn unterminated_is_an_error() {
    assert!(parse_from(b"\"unterminated <a@b.example>").is_err());
    assert!(parse_from(b"(comment a@b.example").is_err());
}

/// A display name that is an address of the same domain as the angle address (sloppy
/// software writes `support@example.com <support@example.com>`) names no other domain: read;
/// one of another domain is refused (below).
#[test]
fn a_display_name_address_of_the_same_domain_is_read() {
    assert_eq!(
        domains("support@example.com <support@example.com>"),
        ["example.com"]
    );
    assert_eq!(
        domains("Support@Example.COM. <help@example.com>"),
        ["example.com"]
    );
    for v in [
        &b"support@example.com <support@example.org>"[..],
        b"support@sub.example.com <support@example.com>",
        b"a@example.com@evil.example <b@example.com>",
    ] {
        assert!(
            parse_from(v).is_err(),
            "{:?} was accepted",
            String::from_utf8_lossy(v)
        );
    }
}

#[test]
fn ambiguous_fields_are_refused() {
    for v in [
        &b"victim@bank.example <attacker@evil.example>"[..],
        b"<attacker@evil.example> victim@bank.example",
        b"<attacker@evil.example",
        b"attacker@evil.example>",
        b"<a@evil.example> <b@bank.example>",
        b"<<a@evil.example>>",
        b"a@evil.example@bank.example",
        b"a@evil.example bank.example",
        b"a@evil.example\\@bank.example",
        b"a@evil.example\0b@bank.example",
        b"a@evil.example\x1b[2Kb@bank.example",
        b"a@evil.example\rFrom: b@bank.example",
        b"a@evil.example\nFrom: b@bank.example",
        b"\"Bank\" a@evil.example <b@bank.example>",
        b"[192.0.2.1] <a@evil.example>",
    ] {
        assert!(
            parse_from(v).is_err(),
            "{:?} was accepted",
            String::from_utf8_lossy(v)
        );
    }
    let problem = author_domains(
        &[&b" a@evil.example\0b@bank.example"[..]],
        &Config::default(),
    );
    assert_eq!(problem, Err(FromProblem::ControlCharacter(0)));
}

#[test]
fn folds_and_comments_are_not_ambiguous() {
    assert_eq!(domains("Joe\r\n\t<joe@example.com>"), ["example.com"]);
    assert_eq!(domains("Joe\n <joe@example.com>"), ["example.com"]);
    assert_eq!(domains("\"Joe\" joe@example.com"), ["example.com"]);
    assert_eq!(
        domains("attacker@evil.example (victim@bank.example)"),
        ["evil.example"]
    );
    assert_eq!(
        domains("\"victim@bank.example\" <a@evil.example>"),
        ["evil.example"]
    );
    assert_eq!(domains("<@bank.example:a@evil.example>"), ["evil.example"]);
    assert!(parse_from(b"<>").unwrap().is_empty());
    assert!(
        parse_from(b"=?utf-8?b?YWRtaW5AYmFuay5leGFtcGxl?=").unwrap()[0]
            .domain
            .is_none()
    );
}

#[test]
fn domain_literal_is_unusable() {
    let a = parse_from(b"u@[192.0.2.1]").unwrap();
    assert!(a[0].author_domain().is_err());
}

#[test]
fn a_group_name_is_a_phrase_never_an_address() {
    // RFC 5322 §3.4: group = display-name ":" [group-list] ";" and display-name = phrase.
    // An address before the ':' is not a group name: dropping it would evaluate only the
    // address after it while a reader may show the one before.
    for v in [
        &b"a@bank.example: b@evil.example;"[..],
        b"\"Bank\" <a@bank.example>: b@evil.example;",
        b"[192.0.2.1]: b@evil.example;",
        b"g: a@bank.example: b@evil.example;",
    ] {
        assert!(
            parse_from(v).is_err(),
            "{:?} was accepted",
            String::from_utf8_lossy(v)
        );
    }
    assert_eq!(domains("Bank Team: a@x.example;"), ["x.example"]);
    assert_eq!(domains("\"Bank, Team\": a@x.example;"), ["x.example"]);
    assert_eq!(
        domains("g: a@x.example; b@y.example"),
        ["x.example", "y.example"]
    );
    // a display name with colons, unquoted: sloppy, but it names no address
    assert_eq!(domains("Acme: Billing: <b@acme.example>"), ["acme.example"]);
    assert_eq!(domains("g: h: b@evil.example;;"), ["evil.example"]);
}

#[test]
fn a_route_is_a_list_of_at_domains_only() {
    // RFC 5322 §4.4: obs-route = obs-domain-list ":", obs-domain-list =
    // *(CFWS / ",") "@" domain *("," [CFWS] ["@" domain]); anything else before the ':'
    // (an address, a bare domain) is no route, and a reader may show it as the address.
    for v in [
        &b"<a@bank.example:b@evil.example>"[..],
        b"<a@bank.example,:b@evil.example>",
        b"<bank.example:b@evil.example>",
        b"<@r.example:@s.example:b@evil.example>",
        b"<@:b@evil.example>",
        b"<:b@evil.example>",
    ] {
        assert!(
            parse_from(v).is_err(),
            "{:?} was accepted",
            String::from_utf8_lossy(v)
        );
    }
    assert_eq!(
        domains("<,@r1.example,,@r2.example:u@z.example>"),
        ["z.example"]
    );
    assert_eq!(domains("<@r1.example,:u@z.example>"), ["z.example"]);
    // a route to no address names only the route's domain
    for v in [
        &b"<@bank.example:>, x@evil.example"[..],
        b"x@evil.example, <@bank.example:>",
    ] {
        assert!(
            author_domains(&[v], &Config::default()).is_err(),
            "{:?}",
            String::from_utf8_lossy(v)
        );
    }
}

#[test]
fn a_problem_names_a_bounded_part_of_the_field() {
    // the problem text goes into the A-R reason, the log and the SMTP reply: a From field of
    // 100 KB (Postfix's header_size_limit) must not make an A-R field of 100 KB
    let mut long = b"a@".to_vec();
    long.extend(b"x.".repeat(50_000));
    long.extend_from_slice(b"example");
    let problem = author_domains(&[&long[..]], &Config::default()).unwrap_err();
    assert!(matches!(problem, FromProblem::InvalidDomain(_)));
    let text = problem.to_string();
    assert!(text.len() < 400, "{} bytes", text.len());
    assert!(text.starts_with("unusable From domain: x.x.x."), "{text}");
    assert!(text.ends_with("..."), "{text}");

    let many: Vec<u8> = (0..5000)
        .flat_map(|i| format!("a@d{i}.example, ").into_bytes())
        .collect();
    let problem = author_domains(&[&many[..]], &Config::default()).unwrap_err();
    assert!(matches!(
        &problem,
        FromProblem::MultipleAuthorDomains { count: 5000, .. }
    ));
    let text = problem.to_string();
    assert!(text.len() < 400, "{} bytes", text.len());
    assert!(
        text.starts_with("5000 author domains in From: d0.example d1.example"),
        "{text}"
    );
    assert!(text.ends_with(" and 4995 more"), "{text}");
    // short ones are named whole
    let problem = author_domains(&[&b"a@x.example, b@y.example"[..]], &Config::default());
    assert_eq!(
        problem.unwrap_err().to_string(),
        "2 author domains in From: x.example y.example"
    );
}

#[test]
fn a_display_name_with_an_empty_address_is_an_entry_without_address() {
    // `"ceo@bank.example" <>` shows the victim as the author as much as `"ceo@bank.example"`
    // does; next to an address it must not drop out unseen (as `"Name", <a@b>` does not)
    for multi_from in [MultiFrom::Reject, MultiFrom::Strictest] {
        let config = Config {
            multi_from,
            ..Config::default()
        };
        for v in [
            &b"\"ceo@bank.example\" <>, x@evil.example"[..],
            b"Bank <>, x@evil.example",
        ] {
            assert_eq!(
                author_domains(&[v], &config),
                Err(FromProblem::EntryWithoutAddress),
                "{:?}",
                String::from_utf8_lossy(v)
            );
        }
        // alone it is a From without any address, as before
        assert_eq!(
            author_domains(&[&b"\"ceo@bank.example\" <>"[..]], &config),
            Err(FromProblem::NoAddress)
        );
    }
    // a bare `<>` shows nothing and is skipped as an empty list element
    assert_eq!(domains("<>, x@evil.example"), ["evil.example"]);
}

#[test]
fn an_empty_group_next_to_an_address_is_refused() {
    // `"ceo@bank.example":;` shows its name as the author as much as `"ceo@bank.example" <>`
    for multi_from in [MultiFrom::Reject, MultiFrom::Strictest] {
        let config = Config {
            multi_from,
            ..Config::default()
        };
        for v in [
            &b"\"ceo@bank.example\":;, x@evil.example"[..],
            b"x@evil.example, \"ceo@bank.example\":;",
            b"Bank: ; x@evil.example",
        ] {
            assert!(
                author_domains(&[v], &config).is_err(),
                "{:?}",
                String::from_utf8_lossy(v)
            );
        }
        // alone it is a From without any address, as before
        assert_eq!(
            author_domains(&[&b"\"ceo@bank.example\":;"[..]], &config),
            Err(FromProblem::NoAddress)
        );
    }
    // in a field of its own next to another From field
    let config = Config {
        multi_from: MultiFrom::Strictest,
        ..Config::default()
    };
    for first in [&b"\"ceo@bank.example\":;"[..], b"\"ceo@bank.example\" <>"] {
        assert_eq!(
            author_domains(&[first, b"x@evil.example"], &config),
            Err(FromProblem::EntryWithoutAddress),
            "{:?}",
            String::from_utf8_lossy(first)
        );
    }
    // an unnamed empty group or a bare <> shows nothing and is skipped
    assert_eq!(domains(":;, x@evil.example"), ["evil.example"]);
    assert!(parse_from(b"undisclosed-recipients:;").unwrap().is_empty());
}

#[test]
fn white_space_inside_a_domain_after_a_dot_is_refused() {
    // RFC 5322 §4.4 obs-domain allows CFWS around dots, so `ceo@bank.example .evil.example`
    // is the domain bank.example.evil.example (the attacker's); a reader that stops at the
    // white space or the comment shows ceo@bank.example. A domain whose first part before the
    // CFWS is already a name with a dot is refused; the old spaced form stays readable.
    for v in [
        &b"ceo@bank.example .evil.example"[..],
        b"ceo@bank.example. evil.example",
        b"ceo@bank.example\r\n .evil.example",
        b"ceo@bank.example (c).evil.example",
        b"ceo@bank.example(c).evil.example",
        b"Boss <ceo@bank.example .evil.example>",
    ] {
        assert!(
            author_domains(&[v], &Config::default()).is_err(),
            "{:?} was accepted",
            String::from_utf8_lossy(v)
        );
    }
    assert_eq!(domains("u @ sub . example . com"), ["sub.example.com"]);
    assert_eq!(domains("u@sub. example.com"), ["sub.example.com"]);
    assert_eq!(domains("u@ (c) sub.example.com (c)"), ["sub.example.com"]);
}

#[test]
fn distinct_author_domains_are_kept_only_up_to_the_limit() {
    // Each address was compared with every distinct domain kept so far: a From of 36,527
    // distinct domains (460 KB, inside max_header_bytes) cost one message 1.2 s of CPU
    // (audit 5, cost). Past max_author_domains the answer is decided (RFC 9989 §11.5), so no
    // more are kept in order (a set counts them), and the comparisons per address do not
    // grow with the domains seen.
    let value: Vec<u8> = (0..10_000)
        .map(|i| format!("a@d{i}.example"))
        .collect::<Vec<_>>()
        .join(",")
        .into_bytes();
    let config = Config {
        multi_from: MultiFrom::Strictest,
        ..Config::default()
    };
    assert_eq!(
        author_domains(&[&value[..]], &config),
        Err(FromProblem::TooManyAuthorDomains(10_000))
    );
    assert_eq!(
        author_domains(&[&value[..]], &config)
            .unwrap_err()
            .to_string(),
        "too many author domains (10000)"
    );
    let reject = Config {
        multi_from: MultiFrom::Reject,
        ..Config::default()
    };
    match author_domains(&[&value[..]], &reject) {
        Err(FromProblem::MultipleAuthorDomains { count, first }) => {
            assert_eq!(count, 10_000);
            assert_eq!(first.len(), config.max_author_domains + 1);
        }
        other => panic!("{other:?}"),
    }
    // an invalid domain anywhere still decides, as before
    let mut bad = value.clone();
    bad.extend_from_slice(b",x@[192.0.2.1]");
    assert!(matches!(
        author_domains(&[&bad[..]], &config),
        Err(FromProblem::InvalidDomain(_))
    ));
    // within the limit, every distinct domain, in order
    assert_eq!(
        author_domains(&[&b"a@x.example, b@y.example, c@x.example"[..]], &config),
        Ok(vec!["x.example".to_string(), "y.example".to_string()])
    );
}

/// RFC 2047 §5(3): an encoded-word must not appear in an addr-spec. Readers decode it anyway:
/// Python's `email` shows `=?utf-8?q?ceo=40bank.example?= x@evil.example` as
/// `ceo@bank.example`, so a field where an encoded-word sits in or before an address that is
/// not in angle brackets (or in a display name that is itself an address) is refused; an
/// encoded display name before an angle address is the ordinary form and is read.
#[test]
fn encoded_words_in_or_before_a_bare_address_are_refused() {
    for v in [
        &b"=?utf-8?q?ceo=40bank.example?= x@evil.example"[..],
        b"=?utf-8?b?Y2VvQGJhbmsuZXhhbXBsZQ==?= x@evil.example",
        b"=?utf-8?q?ceo=40bank.example=2C?= x@evil.example",
        b"x@evil.example, =?utf-8?q?ceo=40bank.example?= x@evil.example",
        b"g: =?utf-8?q?ceo=40bank.example?= x@evil.example;",
        b"=?utf-8?q?ceo=40bank.example?= x@evil.example <y@evil.example>",
        b"=?utf-8?q?=3Cceo=40bank.example=3E?= x@evil.example",
        b"\"=?utf-8?q?ceo=40bank.example?=\" x@evil.example",
        b"=?utf-8?q?ceo=40bank.example?=@evil.example",
        b"Joe <=?utf-8?q?ceo=40bank.example?=@evil.example>",
    ] {
        assert!(
            parse_from(v).is_err(),
            "{:?} was accepted",
            String::from_utf8_lossy(v)
        );
    }
    assert_eq!(
        domains("=?utf-8?q?ceo=40bank.example?= <x@evil.example>"),
        ["evil.example"]
    );
    assert_eq!(domains("a=?b@evil.example"), ["evil.example"]);
    assert_eq!(domains("Joe x@evil.example"), ["evil.example"]);
}

/// Work and memory per From field are bounded: a field of half a megabyte of specials or
/// one-letter atoms (inside the header limits) held ~64 MiB of tokens while it was parsed.
/// Past `MAX_TOKENS` the field is refused (a DMARC permerror, as an unusable From is); a long
/// real list of authors stays well inside it.
#[test]
fn a_from_field_of_too_many_tokens_is_refused() {
    for hostile in [
        format!("{}<alice@example.org>", "@".repeat(500_000)),
        format!("{}<alice@example.org>", "a ".repeat(250_000)),
        format!("<{}alice@example.org>", "@a,".repeat(170_000)),
    ] {
        let err = parse_from(hostile.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("too many"), "{err}");
    }
    let many: Vec<String> = (0..5_000).map(|i| format!("u{i}@d{i}.example")).collect();
    assert_eq!(parse_from(many.join(", ").as_bytes()).unwrap().len(), 5_000);
}
