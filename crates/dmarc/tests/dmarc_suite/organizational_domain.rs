//! The DMARC table's cases for organizational domains: the PSL (RFC 7489 §3.2) and the tree
//! walk (RFC 9989 §4.10).

use dmarc::{DkimOutcome as K, DmarcResult as R, Policy as P, PolicySource as S, SpfOutcome as F};

use crate::REJECT;
use crate::common::{Case, case};

pub(crate) fn cases() -> Vec<Case> {
    vec![
        // --- organizational domains: PSL (RFC 7489 §3.2) ---
        case("7489: multi-label public suffix co.uk, org domain example.co.uk, relaxed aligned")
            .rfc7489()
            .zone("_dmarc.example.co.uk TXT \"v=DMARC1; p=reject\"")
            .zone("mail.example.co.uk A 192.0.2.1")
            .from("a@mail.example.co.uk")
            .dkim(K::Pass, "example.co.uk")
            .expect(R::Pass)
            .org("example.co.uk"),
        case("7489: siblings under co.uk are different organizations")
            .rfc7489()
            .zone("_dmarc.example.co.uk TXT \"v=DMARC1; p=reject\"")
            .from("a@example.co.uk")
            .spf(F::Pass, "other.co.uk")
            .expect(R::Fail),
        case("7489: private suffix github.io, alice.github.io is its own org domain")
            .rfc7489()
            .zone("_dmarc.alice.github.io TXT \"v=DMARC1; p=reject\"")
            .from("a@alice.github.io")
            .dkim(K::Pass, "bob.github.io")
            .expect(R::Fail)
            .org("alice.github.io"),
        case("7489: subdomain of a private-suffix org finds the org record (sp)")
            .rfc7489()
            .zone("_dmarc.alice.github.io TXT \"v=DMARC1; p=none; sp=reject\"")
            .from("a@www.alice.github.io")
            .dkim(K::Pass, "alice.github.io")
            .expect(R::Pass)
            .org("alice.github.io")
            .policy(P::Reject, S::Sp),
        case("7489: the record of an intermediate subdomain is not used")
            .rfc7489()
            .zone("_dmarc.mail.example.com TXT \"v=DMARC1; p=none\"")
            .zone(REJECT)
            .zone("a.mail.example.com A 192.0.2.1")
            .from("a@a.mail.example.com")
            .policy(P::Reject, S::P)
            .org("example.com"),
        // --- tree walk (RFC 9989 §4.10) ---
        case("9989: the walk selects the record with the fewest labels")
            .zone("_dmarc.mail.example.com TXT \"v=DMARC1; p=quarantine\"")
            .zone(REJECT)
            .zone("a.mail.example.com A 192.0.2.1")
            .from("a@a.mail.example.com")
            .org("example.com")
            .policy(P::Reject, S::P)
            .max_txt_queries(4),
        case("9989: psd=n marks the organizational domain; siblings below it align")
            .zone("_dmarc.mail.example.com TXT \"v=DMARC1; p=reject; psd=n\"")
            .zone("a.mail.example.com A 192.0.2.1")
            .from("a@a.mail.example.com")
            .spf(F::Pass, "b.mail.example.com")
            .expect(R::Pass)
            .org("mail.example.com"),
        case("9989: psd=y makes the org one label below; sibling orgs do not align")
            .zone("_dmarc.bank.example TXT \"v=DMARC1; p=reject; psd=y\"")
            .zone("giant.bank.example A 192.0.2.1")
            .from("a@giant.bank.example")
            .spf(F::Pass, "mega.bank.example")
            .expect(R::Fail)
            .org("giant.bank.example")
            .check(|o| {
                assert_eq!(
                    o.primary().unwrap().record_source,
                    Some(dmarc::RecordSource::PublicSuffixDomain)
                )
            }),
        case("9989: PSD record under a PSD-registered org: subdomain of the org aligns with it")
            .zone("_dmarc.bank.example TXT \"v=DMARC1; p=reject; psd=y\"")
            .zone("mail.giant.bank.example A 192.0.2.1")
            .from("a@mail.giant.bank.example")
            .dkim(K::Pass, "giant.bank.example")
            .expect(R::Pass)
            .org("giant.bank.example"),
        case(
            "RFC 9989 Appendix B.4.3: PSD record, SPF aligns via giant.bank.example, DKIM does not",
        )
        .zone("_dmarc.bank.example TXT \"v=DMARC1; p=reject; psd=y\"")
        .zone("_dmarc.giant.bank.example TXT \"v=DMARC1; p=quarantine\"")
        .from("a@giant.bank.example")
        .spf(F::Pass, "mail.giant.bank.example")
        .dkim(K::Pass, "mail.mega.bank.example")
        .expect(R::Pass)
        .org("giant.bank.example")
        .check(|o| {
            let e = o.primary().unwrap();
            assert!(e.spf_aligned() && !e.dkim[0].aligned);
            assert_eq!(e.record_source, Some(dmarc::RecordSource::AuthorDomain));
        }),
        case("9989: 8-query cap on a 13-label author domain; np of example.com applies")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; np=none\"")
            .from("a@a.b.c.d.e.f.g.h.i.j.mail.example.com")
            .expect(R::Fail)
            .policy(P::None, S::Np)
            .max_txt_queries(8)
            .org("example.com"),
        case("9989: label-skipping: a record 9 labels deep is never queried")
            .zone("_dmarc.d.e.f.g.h.i.j.mail.example.com TXT \"v=DMARC1; p=reject\"")
            .from("a@a.b.c.d.e.f.g.h.i.j.mail.example.com")
            .expect(R::None)
            .max_txt_queries(8),
    ]
}
