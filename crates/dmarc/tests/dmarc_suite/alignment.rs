//! The DMARC table's cases for SPF and DKIM alignment (RFC 9989 §4.4.2, §4.4.1): relaxed and
//! strict, which identities align.

use dmarc::{
    Disposition as D, DkimOutcome as K, DmarcResult as R, Policy as P, PolicySource as S,
    SpfOutcome as F,
};

use crate::REJECT;
use crate::common::{Case, case};

pub(crate) fn cases() -> Vec<Case> {
    vec![
        // --- SPF alignment (RFC 9989 §4.4.2) ---
        case("spf relaxed: MAIL FROM subdomain aligns with the author domain")
            .zone(REJECT)
            .from("a@example.com")
            .spf(F::Pass, "bounce.example.com")
            .expect(R::Pass)
            .disposition(D::None)
            .check(|o| assert!(o.primary().unwrap().spf_aligned())),
        case("spf strict: a subdomain does not align with aspf=s")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; aspf=s\"")
            .from("a@example.com")
            .spf(F::Pass, "bounce.example.com")
            .expect(R::Fail)
            .disposition(D::Reject)
            .policy(P::Reject, S::P),
        case("spf strict: the identical domain aligns with aspf=s")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; aspf=s\"")
            .from("a@example.com")
            .spf(F::Pass, "Example.COM.")
            .expect(R::Pass),
        case("spf softfail for an aligned domain is not a pass")
            .zone(REJECT)
            .from("a@example.com")
            .spf(F::SoftFail, "example.com")
            .expect(R::Fail)
            .disposition(D::Reject),
        case("spf null reverse-path: the HELO identity (postmaster@helo) aligns")
            .zone(REJECT)
            .from("a@example.com")
            .spf_helo(F::Pass, "mx.example.com")
            .expect(R::Pass),
        case("spf pass for an unrelated domain does not align")
            .zone(REJECT)
            .from("a@example.com")
            .spf(F::Pass, "example.net")
            .expect(R::Fail)
            .disposition(D::Reject)
            .check(|o| assert!(!o.primary().unwrap().spf.as_ref().unwrap().aligned)),
        // --- DKIM alignment (RFC 9989 §4.4.1) ---
        case("dkim relaxed: d= subdomain aligns")
            .zone(REJECT)
            .from("a@example.com")
            .dkim(K::Pass, "mail.example.com")
            .expect(R::Pass),
        case("dkim strict: d= subdomain does not align with adkim=s")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=quarantine; adkim=s\"")
            .from("a@example.com")
            .dkim(K::Pass, "mail.example.com")
            .expect(R::Fail)
            .disposition(D::Quarantine),
        case("dkim strict: identical d= aligns with adkim=s")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=quarantine; adkim=s\"")
            .from("a@example.com")
            .dkim(K::Pass, "EXAMPLE.com")
            .expect(R::Pass),
        case("dkim fail for the author domain is not a pass")
            .zone(REJECT)
            .from("a@example.com")
            .dkim(K::Fail, "example.com")
            .expect(R::Fail),
        case("dkim: any aligned passing signature among several makes DMARC pass")
            .zone(REJECT)
            .from("a@example.com")
            .dkim(K::Pass, "esp.example.net")
            .dkim(K::Fail, "example.com")
            .dkim(K::Pass, "example.com")
            .expect(R::Pass)
            .check(|o| {
                let e = o.primary().unwrap();
                assert_eq!(e.aligned_dkim().unwrap().domain, "example.com");
                assert_eq!(e.dkim.iter().filter(|d| d.aligned).count(), 2);
            }),
        case("9989: an identifier equal to the author domain needs no tree walk (1 TXT query)")
            .zone(REJECT)
            .from("a@example.com")
            .dkim(K::Pass, "example.com")
            .spf(F::Pass, "example.com")
            .expect(R::Pass)
            .max_txt_queries(1),
        case("9989: an unrelated identifier is not walked (not under the author's org)")
            .zone(REJECT)
            .from("a@sub.example.com")
            .zone("sub.example.com A 192.0.2.1")
            .dkim(K::Pass, "esp.example.net")
            .expect(R::Fail)
            .max_txt_queries(3),
        case("dkim relaxed in 9989 mode: author subdomain with its own record, d= parent")
            .zone("_dmarc.mail.example.com TXT \"v=DMARC1; p=reject\"")
            .zone(REJECT)
            .from("a@mail.example.com")
            .dkim(K::Pass, "example.com")
            .expect(R::Pass)
            .org("example.com"),
    ]
}
