//! Forward/reverse behaviour: round trips, SRS1 chains, tampering, expiry and wrap, foreign
//! and rotated secrets, hash lengths, case, separators, 8-bit addresses, configuration.

use srs::{
    Clock, Forwarded, HashEncoding, Malformed, NotRewritten, Separator, Srs, SrsConfig, SrsError,
    load_secrets,
};

const DAY: u64 = 18_262; // 2020-01-01

fn config(secrets: &str, domain: &str, day: u64) -> SrsConfig {
    let mut c = SrsConfig::new(load_secrets(secrets).unwrap(), domain);
    c.clock = Clock::FixedDay(day);
    c
}

fn srs_at(secrets: &str, domain: &str, day: u64) -> Srs {
    Srs::new(config(secrets, domain, day)).unwrap()
}

fn fwd(srs: &Srs, sender: &str) -> String {
    match srs.forward(sender, srs.srs_domain()).unwrap() {
        Forwarded::Rewritten(a) => a,
        other => panic!("{sender}: {other:?}"),
    }
}

#[test]
fn round_trips() {
    let srs = srs_at("s3cret", "fwd.example", DAY);
    for sender in [
        "user@source.example",
        "First.Last+tag@Source.Example",
        "a=b=c@x.example",
        "weird=@x.example",
        "@x.example",
        "user@",
        "quoted@local@x.example",
        "srs0ish@x.example",
    ] {
        let srs_addr = fwd(&srs, sender);
        assert!(srs_addr.starts_with("SRS0="), "{srs_addr}");
        assert!(srs_addr.ends_with("@fwd.example"), "{srs_addr}");
        assert_eq!(srs.reverse(&srs_addr).unwrap(), sender, "{srs_addr}");
    }
}

#[test]
fn srs1_forwarding_chain_and_bounce_path() {
    // source.example -> a.example (SRS0) -> b.example (SRS1) -> c.example (SRS1) -> bounce.
    let a = srs_at("secret-a", "a.example", DAY);
    let b = srs_at("secret-b", "b.example", DAY);
    let c = srs_at("secret-c", "c.example", DAY);

    let at_a = fwd(&a, "user@source.example");
    let (hash_a, tail) = at_a.strip_prefix("SRS0=").unwrap().split_once('=').unwrap();
    assert_eq!(tail, "2W=source.example=user@a.example");

    let at_b = fwd(&b, &at_a);
    let opaque = format!("={hash_a}=2W=source.example=user");
    assert!(at_b.starts_with("SRS1="), "{at_b}");
    assert!(
        at_b.ends_with(&format!("=a.example={opaque}@b.example")),
        "{at_b}"
    );

    // c keeps a's host and opaque part, only re-hashes.
    let at_c = fwd(&c, &at_b);
    assert!(
        at_c.ends_with(&format!("=a.example={opaque}@c.example")),
        "{at_c}"
    );
    assert_ne!(at_c.get(5..9), at_b.get(5..9));

    // The bounce to at_c goes straight back to a (SRS1 reverses to the SRS0 at a) ...
    assert_eq!(c.reverse(&at_c).unwrap(), at_a);
    assert_eq!(b.reverse(&at_b).unwrap(), at_a);
    // ... and a recovers the original sender.
    assert_eq!(a.reverse(&at_a).unwrap(), "user@source.example");
    // b cannot verify c's SRS1 hash.
    assert_eq!(b.reverse(&at_c), Err(SrsError::BadHash));
}

#[test]
fn foreign_srs0_with_plus_separator_keeps_it() {
    let srs = srs_at("s", "fwd.example", DAY);
    let out = fwd(&srs, "SRS0+abcd=XX=h.example=u@other.example");
    assert!(
        out.ends_with("=other.example=+abcd=XX=h.example=u@fwd.example"),
        "{out}"
    );
    assert_eq!(
        srs.reverse(&out).unwrap(),
        "SRS0+abcd=XX=h.example=u@other.example"
    );
}

#[test]
fn tampering_is_detected() {
    let srs = srs_at("s3cret", "fwd.example", DAY);
    let good = fwd(&srs, "user@source.example");
    let tampered = [
        good.replacen("user@", "admin@", 1),
        good.replacen("source.example", "evil.example", 1),
        {
            let mut h: Vec<char> = good.chars().collect();
            h[5] = if h[5] == 'A' { 'B' } else { 'A' };
            h.into_iter().collect()
        },
    ];
    for t in &tampered {
        assert_eq!(srs.reverse(t), Err(SrsError::BadHash), "{t}");
    }
    // A different but valid timestamp breaks the hash too.
    let other_stamp = good.replacen("=2W=", "=2V=", 1);
    assert_eq!(srs.reverse(&other_stamp), Err(SrsError::BadHash));
    // SRS1 tampering.
    let srs1 = fwd(&srs, "SRS0=opaque@other.example");
    assert_eq!(
        srs.reverse(&srs1.replacen("opaque", "opaquE2", 1)),
        Err(SrsError::BadHash)
    );
}

#[test]
fn expiry_future_and_wrap() {
    let signer = srs_at("s3cret", "fwd.example", DAY);
    let addr = fwd(&signer, "user@source.example");
    let at = |day| srs_at("s3cret", "fwd.example", day).reverse(&addr);
    assert!(at(DAY).is_ok());
    assert!(at(DAY + 21).is_ok());
    assert_eq!(at(DAY + 22), Err(SrsError::Expired));
    assert_eq!(at(DAY + 500), Err(SrsError::Expired));
    // Not yet valid: a stamp from tomorrow is "1023 days old".
    assert_eq!(at(DAY - 1), Err(SrsError::Expired));
    // The 10-bit day counter wraps every 1024 days (a property of the format).
    assert!(at(DAY + 1024).is_ok());
    assert_eq!(at(DAY + 1024 + 22), Err(SrsError::Expired));

    // A custom maximum age.
    let mut c = config("s3cret", "fwd.example", DAY + 3);
    c.max_age_days = 2;
    assert_eq!(Srs::new(c).unwrap().reverse(&addr), Err(SrsError::Expired));
    let mut c = config("s3cret", "fwd.example", DAY);
    c.max_age_days = 0;
    assert!(Srs::new(c).unwrap().reverse(&addr).is_ok());
}

#[test]
fn expired_is_reported_before_bad_hash() {
    // postsrsd checks the timestamp first.
    let srs = srs_at("s3cret", "fwd.example", DAY);
    assert_eq!(
        srs.reverse("SRS0=FAKE=AA=h.example=u@fwd.example"),
        Err(SrsError::Expired)
    );
    assert_eq!(
        srs.reverse("SRS0=FAKE=2W=h.example=u@fwd.example"),
        Err(SrsError::BadHash)
    );
}

#[test]
fn foreign_secret_and_rotation() {
    let old = srs_at("old-secret", "fwd.example", DAY);
    let signed_old = fwd(&old, "user@source.example");

    let foreign = srs_at("someone-else", "fwd.example", DAY);
    assert_eq!(foreign.reverse(&signed_old), Err(SrsError::BadHash));

    // Rotation: the new secret signs, the old one still verifies.
    let rotated = srs_at("new-secret\nold-secret\n", "fwd.example", DAY);
    assert_eq!(rotated.reverse(&signed_old).unwrap(), "user@source.example");
    let signed_new = fwd(&rotated, "user@source.example");
    assert_ne!(signed_new, signed_old);
    assert_eq!(
        signed_new,
        fwd(
            &srs_at("new-secret", "fwd.example", DAY),
            "user@source.example"
        )
    );
    assert_eq!(old.reverse(&signed_new), Err(SrsError::BadHash));

    // After the old secret is dropped, its addresses no longer reverse.
    let retired = srs_at("new-secret", "fwd.example", DAY);
    assert_eq!(retired.reverse(&signed_old), Err(SrsError::BadHash));
}

#[test]
fn hash_lengths() {
    let mut c = config("s3cret", "fwd.example", DAY);
    c.hash_length = 8;
    c.hash_minimum = 8;
    let long = Srs::new(c.clone()).unwrap();
    let addr8 = fwd(&long, "user@source.example");
    assert_eq!(addr8.split('=').nth(1).unwrap().len(), 8);
    assert!(long.reverse(&addr8).is_ok());

    // A 4-character hash is too short for minimum 8 ...
    let addr4 = fwd(&srs_at("s3cret", "fwd.example", DAY), "user@source.example");
    assert_eq!(long.reverse(&addr4), Err(SrsError::HashTooShort));
    // ... but accepted during a transition with minimum 4 (it is a prefix of the long hash).
    c.hash_minimum = 4;
    assert_eq!(
        Srs::new(c).unwrap().reverse(&addr4).unwrap(),
        "user@source.example"
    );

    // Longer hashes than hash_length are compared on hash_length characters (libsrs2).
    let short = srs_at("s3cret", "fwd.example", DAY);
    assert!(short.reverse(&addr8).is_ok());
    assert_eq!(
        short.reverse("SRS0=abc=2W=source.example=user@fwd.example"),
        Err(SrsError::HashTooShort)
    );
    assert_eq!(
        short.reverse("SRS0==2W=source.example=user@fwd.example"),
        Err(SrsError::HashTooShort)
    );

    // The whole 27-character hash.
    let mut c = config("s3cret", "fwd.example", DAY);
    c.hash_length = 27;
    let full = Srs::new(c).unwrap();
    let addr27 = fwd(&full, "user@source.example");
    assert_eq!(addr27.split('=').nth(1).unwrap().len(), 27);
    assert!(full.reverse(&addr27).is_ok());
}

#[test]
fn case_insensitive() {
    let srs = srs_at("s3cret", "fwd.example", DAY);
    let addr = fwd(&srs, "User@Source.Example");
    assert_eq!(
        srs.reverse(&addr.to_lowercase()).unwrap(),
        "user@source.example"
    );
    assert_eq!(
        srs.reverse(&addr.to_uppercase()).unwrap(),
        "USER@SOURCE.EXAMPLE"
    );
    // The hash does not depend on the case of the input either.
    assert_eq!(
        fwd(&srs, "USER@SOURCE.EXAMPLE").to_lowercase(),
        addr.to_lowercase()
    );
}

#[test]
fn separators() {
    for (sep, c) in [
        (Separator::Equals, '='),
        (Separator::Plus, '+'),
        (Separator::Minus, '-'),
    ] {
        let mut cfg = config("s3cret", "fwd.example", DAY);
        cfg.separator = sep;
        let srs = Srs::new(cfg).unwrap();
        let addr = fwd(&srs, "user@source.example");
        assert!(addr.starts_with(&format!("SRS0{c}")), "{addr}");
        assert_eq!(addr.matches('=').count(), 3 + usize::from(c == '='));
        assert_eq!(srs.reverse(&addr).unwrap(), "user@source.example");
        let srs1 = fwd(&srs, "SRS0=x@other.example");
        assert!(srs1.starts_with(&format!("SRS1{c}")), "{srs1}");
        assert_eq!(srs.reverse(&srs1).unwrap(), "SRS0=x@other.example");
        // Any separator is accepted on reverse, whatever we write.
        let default = srs_at("s3cret", "fwd.example", DAY);
        assert_eq!(default.reverse(&addr).unwrap(), "user@source.example");
    }
}

#[test]
fn both_hash_alphabets_verify() {
    let mut c = config("tops3cr3t", "example.com", DAY);
    c.hash_encoding = HashEncoding::Base64;
    let classic = Srs::new(c).unwrap();
    let url = srs_at("tops3cr3t", "example.com", DAY);
    let a = fwd(&classic, "hash234@somedomain.com");
    let b = fwd(&url, "hash234@somedomain.com");
    assert_eq!(a, "SRS0=+3/5=2W=somedomain.com=hash234@example.com");
    assert_eq!(b, "SRS0=-3_5=2W=somedomain.com=hash234@example.com");
    for srs in [&classic, &url] {
        assert!(srs.reverse(&a).is_ok() && srs.reverse(&b).is_ok());
    }
}

#[test]
fn utf8_and_8bit_addresses() {
    let srs = srs_at("s3cret", "fwd.example", DAY);
    for sender in [
        "jürgen@bücher.example",
        "用户@例子.广告",
        "Ünïcödé@X.example",
    ] {
        let addr = fwd(&srs, sender);
        assert!(addr.contains(sender.split('@').next().unwrap()));
        assert_eq!(srs.reverse(&addr).unwrap(), sender);
    }
    // Only ASCII letters are case-folded: changing the case of a non-ASCII letter is a
    // different address (as in postsrsd's C locale).
    let addr = fwd(&srs, "jürgen@x.example");
    assert_eq!(srs.reverse(&addr.replace('ü', "Ü")), Err(SrsError::BadHash));

    // Raw 8-bit, not UTF-8.
    let sender: &[u8] = b"caf\xe9\xff@x.example";
    let Forwarded::Rewritten(addr) = srs.forward_bytes(sender, b"fwd.example").unwrap() else {
        panic!("not rewritten");
    };
    assert!(addr.windows(2).any(|w| w == b"\xe9\xff"));
    assert_eq!(srs.reverse_bytes(&addr).unwrap(), sender);
}

#[test]
fn not_rewritten() {
    let srs = srs_at("s3cret", "fwd.example", DAY);
    let nr = |s: &str| srs.forward(s, "fwd.example").unwrap();
    assert_eq!(nr(""), Forwarded::NotRewritten(NotRewritten::NullSender));
    assert_eq!(nr("foo"), Forwarded::NotRewritten(NotRewritten::NoDomain));
    assert_eq!(
        nr("user@FWD.example"),
        Forwarded::NotRewritten(NotRewritten::OwnDomain)
    );
    assert_eq!(
        nr("SRS0=XjO9=2V=x.example=u@fwd.example"),
        Forwarded::NotRewritten(NotRewritten::OwnDomain)
    );
    // The SRS domain argument may be an address.
    assert_eq!(
        srs.forward("user@fwd.example", "postmaster@fwd.example")
            .unwrap(),
        Forwarded::NotRewritten(NotRewritten::OwnDomain)
    );
    assert_eq!(NotRewritten::NoDomain.to_string(), "No domain.");
    assert_eq!(
        NotRewritten::OwnDomain.to_string(),
        "Need not rewrite local domain."
    );

    let mut c = config("s3cret", "fwd.example", DAY);
    c.always_rewrite = true;
    let always = Srs::new(c).unwrap();
    let addr = fwd(&always, "user@fwd.example");
    assert_eq!(always.reverse(&addr).unwrap(), "user@fwd.example");
}

#[test]
fn malformed_addresses() {
    let srs = srs_at("s3cret", "fwd.example", DAY);
    let m = |e| Err(SrsError::Malformed(e));
    assert_eq!(srs.reverse("SRS0=@fwd.example"), m(Malformed::NoSrs0Hash));
    assert_eq!(
        srs.reverse("SRS0=XjO9@fwd.example"),
        m(Malformed::NoSrs0Timestamp)
    );
    assert_eq!(
        srs.reverse("SRS0=XjO9=2V@fwd.example"),
        m(Malformed::NoSrs0Host)
    );
    assert_eq!(
        srs.reverse("SRS0=XjO9=2V=h.example@fwd.example"),
        m(Malformed::NoSrs0User)
    );
    assert_eq!(
        srs.reverse("SRS0=XjO9=1!=h.example=u@fwd.example"),
        m(Malformed::BadTimestampChar)
    );
    assert_eq!(srs.reverse("SRS1=@fwd.example"), m(Malformed::NoSrs1Hash));
    assert_eq!(
        srs.reverse("SRS1=abcd@fwd.example"),
        m(Malformed::NoSrs1Host)
    );
    assert_eq!(
        srs.reverse("SRS1=abcd=h.example@fwd.example"),
        m(Malformed::NoSrs1User)
    );
    for not_srs in [
        "",
        "@",
        "SRS0",
        "SRS2=a=b=c=d@x",
        "SRS0#a=b@x",
        "user@x",
        "xSRS0=a@b",
    ] {
        assert_eq!(srs.reverse(not_srs), Err(SrsError::NotSrs), "{not_srs:?}");
    }
    // A malformed foreign SRS1 sender cannot be re-forwarded.
    let f = |s| srs.forward(s, "fwd.example").unwrap_err();
    assert_eq!(
        f("SRS1=X@other.example"),
        SrsError::Malformed(Malformed::NoSrs1Host)
    );
    assert_eq!(
        f("SRS1=@other.example"),
        SrsError::Malformed(Malformed::NoSrs1Hash)
    );
    assert_eq!(
        f("srs1-X=h@other.example"),
        SrsError::Malformed(Malformed::NoSrs1User)
    );
    assert_eq!(
        SrsError::Malformed(Malformed::NoSrs0Host).to_string(),
        "No host in SRS0 address."
    );
}

/// A local part that is only the tag (`SRS0`, `SRS1`, any case) with no separator after it is
/// an ordinary mailbox: an SRS address is the tag followed by one of `=`, `+`, `-` (SRS paper
/// §3.1, libsrs2 `SRS_IS_SRS_ADDRESS`). postsrsd (1.10 and 2.4) tests the character after the
/// tag with `strchr("=-+", c)`, which also finds the string's terminating NUL: it refuses
/// `srs1@x` as a malformed SRS1 address (socketmap `PERM`, milter reject) and turns `srs0@x`
/// into `SRS1=HHHH=x=@fwd` with the mailbox name dropped. We rewrite both like any sender.
#[test]
fn a_bare_srs_tag_is_an_ordinary_mailbox() {
    let srs = srs_at("s3cret", "fwd.example", DAY);
    for sender in [
        "srs0@source.example",
        "SRS0@source.example",
        "SRS1@source.example",
        "sRs1@source.example",
    ] {
        let local = sender.split('@').next().unwrap();
        let addr = fwd(&srs, sender);
        assert!(
            addr.starts_with("SRS0=")
                && addr.ends_with(&format!("=source.example={local}@fwd.example")),
            "{sender} -> {addr}"
        );
        assert_eq!(srs.reverse(&addr).unwrap(), sender);
        assert_eq!(srs.reverse(sender), Err(SrsError::NotSrs), "{sender}");
    }
}

#[test]
fn database_alias_is_refused() {
    let srs = srs_at("tops3cr3t", "example.com", DAY);
    let alias = "SRS0=bxzH=2W=1=DCJGDE6N24LCRT41A4T0G1UIF0DTKKQJ@example.com";
    assert_eq!(srs.reverse(alias), Err(SrsError::DatabaseAlias));
}

#[test]
fn reverse_ignores_the_domain() {
    let srs = srs_at("s3cret", "fwd.example", DAY);
    let addr = fwd(&srs, "user@source.example");
    let moved = addr.replace("@fwd.example", "@elsewhere.example");
    assert_eq!(srs.reverse(&moved).unwrap(), "user@source.example");
    let bare = addr.trim_end_matches("@fwd.example");
    assert_eq!(srs.reverse(bare).unwrap(), "user@source.example");
}

#[test]
fn configuration_is_checked() {
    let bad_len = |length, minimum| {
        let mut c = config("s", "fwd.example", DAY);
        c.hash_length = length;
        c.hash_minimum = minimum;
        Srs::new(c).unwrap_err()
    };
    assert_eq!(
        bad_len(0, 0),
        SrsError::InvalidHashLength {
            length: 0,
            minimum: 0
        }
    );
    assert_eq!(
        bad_len(28, 4),
        SrsError::InvalidHashLength {
            length: 28,
            minimum: 4
        }
    );
    assert_eq!(
        bad_len(4, 5),
        SrsError::InvalidHashLength {
            length: 4,
            minimum: 5
        }
    );
    assert_eq!(
        bad_len(4, 0),
        SrsError::InvalidHashLength {
            length: 4,
            minimum: 0
        }
    );
    let mut c = config("s", "fwd.example", DAY);
    c.max_age_days = 1024;
    assert_eq!(Srs::new(c).unwrap_err(), SrsError::InvalidMaxAge(1024));
    for domain in [
        "",
        ".",
        "a..b",
        "with space.example",
        "x.example.",
        "exämple.com",
    ] {
        let c = config("s", domain, DAY);
        assert!(
            matches!(Srs::new(c), Err(SrsError::InvalidSrsDomain(_))),
            "{domain:?}"
        );
    }
    assert_eq!(srs_at("s", "@Fwd.Example", DAY).srs_domain(), "Fwd.Example");
    assert_eq!(srs_at("s", ".fwd.example", DAY).srs_domain(), "fwd.example");
}

#[test]
fn debug_output_hides_secrets_and_srs_is_shareable() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<Srs>();
    let srs = srs_at("do-not-print-me", "fwd.example", DAY);
    let dbg = format!("{srs:?}");
    assert!(!dbg.contains("do-not-print-me"), "{dbg}");
    assert!(dbg.contains("fwd.example"));
}
