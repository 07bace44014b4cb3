//! The milter-mode decision beyond postsrsd's own cases: lazy (SPF-aware) rewriting,
//! exclusions, `rewrite_local`, per-recipient checks and rejection texts.

use srs::milter::{
    Changes, MilterDecision, MilterOptions, RecipientAction, RecipientChange, RewriteMode,
    SrsMilter,
};
use srs::{Clock, DomainSet, Forwarded, Srs, SrsConfig, load_secrets};

fn srs() -> Srs {
    let mut c = SrsConfig::new(load_secrets("tops3cr3t").unwrap(), "fwd.example");
    c.clock = Clock::FixedDay(18_262);
    Srs::new(c).unwrap()
}

fn own(srs: &Srs, sender: &str) -> String {
    match srs.forward(sender, "fwd.example").unwrap() {
        Forwarded::Rewritten(a) => a,
        other => panic!("{other:?}"),
    }
}

struct Fixture {
    srs: Srs,
    local: DomainSet,
    excluded: DomainSet,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            srs: srs(),
            local: ["fwd.example", "local.example"].into_iter().collect(),
            excluded: [".partner.example"].into_iter().collect(),
        }
    }

    fn decide(
        &self,
        options: MilterOptions,
        sender: &str,
        rcpts: &[&str],
        spf: Option<bool>,
    ) -> MilterDecision {
        let is_local = |d: &str| self.local.contains(d);
        let is_excluded = |d: &str| self.excluded.contains(d);
        let m = SrsMilter {
            srs: &self.srs,
            is_local: &is_local,
            is_excluded: &is_excluded,
            options,
        };
        m.decide(sender, rcpts, spf)
    }
}

fn new_sender(d: &MilterDecision) -> Option<&str> {
    match d {
        MilterDecision::Accept(c) => c.new_sender.as_deref(),
        MilterDecision::Reject(r) => panic!("rejected: {r}"),
    }
}

#[test]
fn lazy_rewriting_follows_spf() {
    let f = Fixture::new();
    let lazy = MilterOptions {
        mode: RewriteMode::WhenSpfFails,
        ..MilterOptions::default()
    };
    let rcpt = ["alias-target@remote.example"];
    // SPF of the original sender already authorizes us: no rewrite needed.
    assert_eq!(
        new_sender(&f.decide(lazy, "u@origin.example", &rcpt, Some(true))),
        None
    );
    // It does not, or we could not tell: rewrite.
    let expected = own(&f.srs, "u@origin.example");
    assert_eq!(
        new_sender(&f.decide(lazy, "u@origin.example", &rcpt, Some(false))),
        Some(expected.as_str())
    );
    assert_eq!(
        new_sender(&f.decide(lazy, "u@origin.example", &rcpt, None)),
        Some(expected.as_str())
    );
    // Mode Always ignores the SPF hint.
    let always = MilterOptions::default();
    assert_eq!(
        new_sender(&f.decide(always, "u@origin.example", &rcpt, Some(true))),
        Some(expected.as_str())
    );
}

#[test]
fn exclusions_and_local_senders() {
    let f = Fixture::new();
    let o = MilterOptions::default();
    let rcpt = ["x@remote.example"];
    assert_eq!(
        new_sender(&f.decide(o, "u@mail.partner.example", &rcpt, None)),
        None
    );
    assert!(new_sender(&f.decide(o, "u@partner.example", &rcpt, None)).is_some());
    assert_eq!(
        new_sender(&f.decide(o, "u@LOCAL.example", &rcpt, None)),
        None
    );
    assert_eq!(new_sender(&f.decide(o, "", &rcpt, None)), None);
    assert_eq!(new_sender(&f.decide(o, "MAILER-DAEMON", &rcpt, None)), None);
}

#[test]
fn rewrite_local_option() {
    let f = Fixture::new();
    let rcpt = ["x@local.example"];
    assert_eq!(
        new_sender(&f.decide(MilterOptions::default(), "u@origin.example", &rcpt, None)),
        None
    );
    let o = MilterOptions {
        rewrite_local: true,
        ..MilterOptions::default()
    };
    assert!(new_sender(&f.decide(o, "u@origin.example", &rcpt, None)).is_some());
}

#[test]
fn bounce_to_our_srs_address_is_reversed() {
    let f = Fixture::new();
    let srs_addr = own(&f.srs, "sender@origin.example");
    let d = f.decide(
        MilterOptions::default(),
        "",
        &[srs_addr.as_str(), "postmaster@local.example"],
        None,
    );
    assert_eq!(
        d,
        MilterDecision::Accept(Changes {
            new_sender: None,
            recipients: vec![RecipientChange {
                old: srs_addr,
                new: "sender@origin.example".into()
            }],
        })
    );
}

#[test]
fn invalid_recipients_of_ours_are_rejected_with_reasons() {
    let f = Fixture::new();
    let is_local = |d: &str| f.local.contains(d);
    let never = |_: &str| false;
    let m = SrsMilter {
        srs: &f.srs,
        is_local: &is_local,
        is_excluded: &never,
        options: MilterOptions::default(),
    };
    let good = own(&f.srs, "sender@origin.example");
    let text = |rcpt: &str| match m.check_recipient(rcpt) {
        RecipientAction::Reject(r) => r.to_string(),
        other => panic!("{rcpt}: {other:?}"),
    };
    let forged = text(&good.replacen("sender", "victim", 1));
    assert_eq!(
        forged,
        "550 5.1.1 Invalid SRS address: hash does not verify (forged or unknown secret)"
    );
    let expired = text("SRS0=te87=T7=otherdomain.com=test@fwd.example");
    assert_eq!(
        expired,
        "550 5.1.1 Invalid SRS address: timestamp expired or out of range"
    );
    assert_eq!(
        text("SRS0=XjO9@FWD.example"),
        "550 5.1.1 Invalid SRS address: No timestamp in SRS0 address."
    );
    assert_eq!(
        text("SRS0=ab=2W=h=u@fwd.example"),
        "550 5.1.1 Invalid SRS address: hash too short"
    );
    assert!(text(&format!("{}@fwd.example", "a".repeat(600))).starts_with("550 5.1.3 "));

    // Other signers' SRS addresses and ordinary addresses pass untouched.
    assert_eq!(
        m.check_recipient("SRS0=FAKE=2W=h=u@other-signer.example"),
        RecipientAction::Keep
    );
    assert_eq!(m.check_recipient("user@fwd.example"), RecipientAction::Keep);
    assert_eq!(
        m.check_recipient(&good),
        RecipientAction::Replace("sender@origin.example".into())
    );
    // Our valid address moved to another domain still reverses (postsrsd does the same).
    let moved = good.replace("@fwd.example", "@local.example");
    assert_eq!(
        m.check_recipient(&moved),
        RecipientAction::Replace("sender@origin.example".into())
    );

    assert!(
        m.check_sender(&"x".repeat(509))
            .is_some_and(|r| r.to_string().starts_with("550 5.1.7 "))
    );
    assert_eq!(m.check_sender(&"x".repeat(508)), None);
}

#[test]
fn one_bad_recipient_rejects_the_transaction() {
    let f = Fixture::new();
    let good = own(&f.srs, "sender@origin.example");
    let bad = good.replacen("sender", "victim", 1);
    let d = f.decide(
        MilterOptions::default(),
        "u@origin.example",
        &[good.as_str(), bad.as_str()],
        None,
    );
    assert!(matches!(d, MilterDecision::Reject(r) if r.code == 550 && r.enhanced == "5.1.1"));
}

#[test]
fn reversed_recipient_that_is_remote_triggers_sender_rewrite() {
    let f = Fixture::new();
    let srs_addr = own(&f.srs, "orig@remote.example");
    let d = f.decide(
        MilterOptions::default(),
        "u@origin.example",
        &[srs_addr.as_str()],
        None,
    );
    let MilterDecision::Accept(changes) = d else {
        panic!("rejected")
    };
    assert_eq!(changes.new_sender, Some(own(&f.srs, "u@origin.example")));
    assert_eq!(changes.recipients.len(), 1);
}

/// A sender or recipient whose local part is only `SRS0`/`SRS1` (no separator: not an SRS
/// address, SRS paper §3.1) is an ordinary mailbox: the sender is rewritten, the recipient at
/// our SRS domain is delivered, nothing is refused. postsrsd's milter rejects the transaction
/// for a sender `SRS1@...` (it reads the terminating NUL as the separator).
#[test]
fn a_bare_srs_tag_is_an_ordinary_mailbox() {
    let f = Fixture::new();
    for sender in ["SRS1@origin.example", "srs0@origin.example"] {
        let d = f.decide(
            MilterOptions::default(),
            sender,
            &[
                "friend@remote.example",
                "SRS0@fwd.example",
                "srs1@fwd.example",
            ],
            None,
        );
        let MilterDecision::Accept(changes) = d else {
            panic!("{sender}: rejected")
        };
        assert_eq!(changes.new_sender, Some(own(&f.srs, sender)), "{sender}");
        assert!(changes.recipients.is_empty(), "{sender}");
    }
    let is_local = |d: &str| f.local.contains(d);
    let is_excluded = |d: &str| f.excluded.contains(d);
    let m = SrsMilter {
        srs: &f.srs,
        is_local: &is_local,
        is_excluded: &is_excluded,
        options: MilterOptions::default(),
    };
    for rcpt in ["SRS0@fwd.example", "SRS1@FWD.EXAMPLE", "srs1"] {
        assert_eq!(m.check_recipient(rcpt), RecipientAction::Keep, "{rcpt}");
    }
}

/// An SMTP (external) form of an internal address: the local part quoted (RFC 5321 §4.1.2
/// Quoted-string) when it is not a Dot-string, as Postfix's `quote_822_local` writes it.
fn quoted(internal: &str) -> String {
    let (local, domain) = internal.rsplit_once('@').unwrap();
    let escaped = local.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"@{domain}")
}

fn recipient(f: &Fixture, rcpt: &str) -> RecipientAction {
    let is_local = |d: &str| f.local.contains(d);
    let is_excluded = |d: &str| f.excluded.contains(d);
    let m = SrsMilter {
        srs: &f.srs,
        is_local: &is_local,
        is_excluded: &is_excluded,
        options: MilterOptions::default(),
    };
    m.check_recipient(rcpt)
}

#[test]
fn quoted_local_parts_are_rewritten_in_internal_form_and_sent_quoted() {
    // The milter sees MAIL FROM and RCPT TO as the client wrote them (RFC 5321 §4.1.2): a
    // quoted local part keeps its quotes. SRS works on the address (Postfix's internal,
    // unquoted form, what the socketmap gets) and the MTA needs the SMTP form back: the
    // same sender must give the same SRS address in both modes, and its bounce must reverse.
    let f = Fixture::new();
    let rcpt = ["x@remote.example"];
    for (smtp, internal) in [
        ("\"john doe\"@origin.example", "john doe@origin.example"),
        ("\"a@b\"@origin.example", "a@b@origin.example"),
        ("\"q\\\"uote\"@origin.example", "q\"uote@origin.example"),
        ("\"plain\"@origin.example", "plain@origin.example"),
    ] {
        let srs_internal = own(&f.srs, internal);
        let srs_smtp = if internal.starts_with("plain@") {
            srs_internal.clone()
        } else {
            quoted(&srs_internal)
        };
        let d = f.decide(MilterOptions::default(), smtp, &rcpt, None);
        assert_eq!(new_sender(&d), Some(srs_smtp.as_str()), "{smtp}");
        let back = if internal.starts_with("plain@") {
            internal.to_owned()
        } else {
            smtp.to_owned()
        };
        assert_eq!(
            recipient(&f, &srs_smtp),
            RecipientAction::Replace(back),
            "{smtp}"
        );
    }
}

#[test]
fn forged_srs_recipients_of_ours_in_other_spellings_are_rejected() {
    // A forged SRS address at our SRS domain is refused however it is spelled: a quoted
    // local part or a trailing dot on the domain names the same mailbox (RFC 5321 §4.1.2,
    // §2.3.5), which the MTA delivers to the same place.
    let f = Fixture::new();
    for rcpt in [
        "\"SRS0=XXXX=2W=evil.example=victim\"@fwd.example",
        "SRS0=XXXX=2W=evil.example=victim@fwd.example.",
        "SRS0=XXXX=2W=evil.example=victim@FWD.example.",
    ] {
        assert!(
            matches!(recipient(&f, rcpt), RecipientAction::Reject(_)),
            "{rcpt}"
        );
    }
}

#[test]
fn an_address_literal_sender_gets_an_srs_address_smtp_can_carry() {
    // `[` and `]` are not atext: the SRS local part that holds `[192.0.2.1]` must be a
    // Quoted-string (RFC 5321 §4.1.2), and its bounce still reverses
    let f = Fixture::new();
    let d = f.decide(
        MilterOptions::default(),
        "user@[192.0.2.1]",
        &["x@remote.example"],
        None,
    );
    let new = new_sender(&d).expect("rewritten").to_owned();
    assert_eq!(new, quoted(&own(&f.srs, "user@[192.0.2.1]")));
    assert_eq!(
        recipient(&f, &new),
        RecipientAction::Replace("user@[192.0.2.1]".to_owned())
    );
}

/// A sender near the length bound is rewritten as postsrsd rewrites it, into an SRS address
/// longer than the bound: its bounce to that address is reversed, not refused at RCPT
/// ("Recipient address too long") and lost.
#[test]
fn the_bounce_to_an_srs_address_of_a_long_sender_is_reversed() {
    let f = Fixture::new();
    let long = format!("{}@r.example", "y".repeat(490));
    let d = f.decide(MilterOptions::default(), &long, &["x@remote.example"], None);
    let srs_address = new_sender(&d).expect("rewritten").to_owned();
    assert!(srs_address.len() > srs::milter::POSTSRSD_MAX_MILTER_ADDRESS);
    match f.decide(MilterOptions::default(), "", &[srs_address.as_str()], None) {
        MilterDecision::Accept(c) => assert_eq!(c.recipients[0].new, long),
        other => panic!("{other:?}"),
    }
    // another domain's address that long is still refused
    let other = format!("{}@other.example", "z".repeat(520));
    assert!(matches!(
        f.decide(MilterOptions::default(), "", &[other.as_str()], None),
        MilterDecision::Reject(_)
    ));
    // as a sender (the mail passes another of our milters): taken, and not rewritten again
    let d = f.decide(
        MilterOptions::default(),
        &srs_address,
        &["x@remote.example"],
        None,
    );
    assert_eq!(new_sender(&d), None);
    assert!(matches!(
        f.decide(
            MilterOptions::default(),
            &other,
            &["x@remote.example"],
            None
        ),
        MilterDecision::Reject(_)
    ));
}
