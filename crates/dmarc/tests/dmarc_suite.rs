//! Table-driven DMARC suite (RFC 9989 and RFC 7489 mode): alignment, sp/np, pct/t, PSL and
//! tree walk organizational domains, bad records, multiple From, DNS temperror at each step.
//! Every case names what it checks.

mod common;

use common::{Case, case};
use dmarc::{Disposition as D, DkimOutcome as K, DmarcResult as R, Policy as P, PolicySource as S};
use test_support::block_on;

const REJECT: &str = "_dmarc.example.com TXT \"v=DMARC1; p=reject; rua=mailto:d@example.com\"";

// The cases of the table, by subject.
#[path = "dmarc_suite/alignment.rs"]
mod alignment;
#[path = "dmarc_suite/dns_temperror.rs"]
mod dns_temperror;
#[path = "dmarc_suite/from_header.rs"]
mod from_header;
#[path = "dmarc_suite/organizational_domain.rs"]
mod organizational_domain;
#[path = "dmarc_suite/policy_records.rs"]
mod policy_records;

fn cases() -> Vec<Case> {
    [
        alignment::cases(),
        policy_records::cases(),
        organizational_domain::cases(),
        from_header::cases(),
        dns_temperror::cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[test]
fn dmarc_table() {
    let cases = cases();
    // pinned: a case (or a whole subject file) dropped from `cases()` must fail here
    assert_eq!(cases.len(), 85, "the table's case count changed");
    let mut names = std::collections::HashSet::new();
    let mut passed = 0;
    for c in &cases {
        assert!(names.insert(c.name), "duplicate case name {}", c.name);
        c.run();
        passed += 1;
    }
    println!("dmarc table: {passed} of {} cases passed", cases.len());
}

#[test]
fn futures_are_send_with_a_dyn_resolver() {
    fn assert_send<T: Send>(_: &T) {}
    let resolver: std::sync::Arc<dyn dns::Resolver> =
        std::sync::Arc::new(dns::memory::MemoryResolver::new());
    let dmarc = dmarc::Dmarc::new(dmarc::Config::default());
    let from: [&[u8]; 1] = [b"a@example.com"];
    let discover = dmarc.discover(resolver.as_ref(), &from);
    assert_send(&discover);
    let discovery = block_on(discover);
    assert_send(&discovery);
    let finish = dmarc.finish(resolver.as_ref(), discovery, None, &[]);
    assert_send(&finish);
    assert_eq!(block_on(finish).result, R::None);
}

/// RFC 7489 §6.6.4: `pct` limits how often the requested policy ("p" or "sp") is enacted;
/// with `p=none` nothing is enacted, so nothing is sampled out (RFC 9990 `sampled_out`: "exempted
/// from application of policy by the pct setting"), as `t=y` leaves `none` alone (RFC 9989 §4.7).
#[test]
fn pct_does_not_sample_out_p_none() {
    let out = case("7489 pct=0 with p=none: no policy to sample, not sampled out")
        .rfc7489()
        .zone("_dmarc.example.com TXT \"v=DMARC1; p=none; pct=0\"")
        .from("a@example.com")
        .roll(50)
        .expect(R::Fail)
        .disposition(D::None)
        .policy(P::None, S::P)
        .run();
    let e = out.primary().unwrap();
    assert!(
        !e.sampled_out,
        "p=none was sampled out: {}",
        out.reason_text()
    );
    assert!(
        !e.reasons
            .iter()
            .any(|r| matches!(r, dmarc::Reason::SampledOut(_)))
    );
}

/// RFC 9989 §9.1: `policy.dmarc` is the policy "applied/to be applied after policy options
/// have been processed": under `t=y` one level below `p` (§4.7), for a failure and a pass alike;
/// under RFC 7489 `pct` sampling, what the failure was given. A local rule keyed on
/// `policy.dmarc=quarantine` must not junk mail of a domain testing `p=quarantine`.
#[test]
fn policy_dmarc_is_the_policy_after_the_records_options() {
    let evaluated = |c: Case| c.run().evaluated_policy();
    let testing = |p: &'static str| {
        case("t=y")
            .zone(match p {
                "reject" => "_dmarc.example.com TXT \"v=DMARC1; p=reject; t=y\"",
                _ => "_dmarc.example.com TXT \"v=DMARC1; p=quarantine; t=y\"",
            })
            .from("a@example.com")
    };
    assert_eq!(
        evaluated(testing("quarantine").expect(R::Fail)),
        Some(D::None)
    );
    assert_eq!(
        evaluated(testing("reject").expect(R::Fail)),
        Some(D::Quarantine)
    );
    assert_eq!(
        evaluated(
            testing("reject")
                .dkim(K::Pass, "example.com")
                .expect(R::Pass)
        ),
        Some(D::Quarantine)
    );
    let plain = case("no options")
        .zone(REJECT)
        .from("a@example.com")
        .expect(R::Fail);
    assert_eq!(evaluated(plain), Some(D::Reject));
    let sampled = case("7489 pct=0")
        .rfc7489()
        .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; pct=0\"")
        .from("a@example.com")
        .roll(50)
        .expect(R::Fail);
    assert_eq!(evaluated(sampled), Some(D::Quarantine));
}

/// RFC 9989 §4.10.2: a failing signature's alignment only feeds failure reports, so its tree
/// walks are capped per message; a message with a hundred failing signatures under the
/// author's domain (each `d=` a distinct deep name) must not send hundreds of `_dmarc` queries
/// to that domain's name servers, and a passing signature after them still aligns.
#[test]
fn failing_signatures_do_not_walk_without_bound() {
    let mut c = case("100 failing deep d= under the author's domain, then one aligned pass")
        .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject\"")
        .from("a@example.com");
    for i in 0..100 {
        let d = format!("s{i}.x{i}.y{i}.z{i}.example.com");
        c = c.dkim(K::Fail, &d);
    }
    let out = c
        .dkim(K::Pass, "mail.example.com")
        .expect(R::Pass)
        .max_txt_queries(90)
        .run();
    let aligned_fails = out.primary().map_or(0, |e| {
        e.dkim.iter().filter(|k| k.aligned && !k.pass).count()
    });
    assert_eq!(aligned_fails, 8, "the capped walks still report alignment");
}
