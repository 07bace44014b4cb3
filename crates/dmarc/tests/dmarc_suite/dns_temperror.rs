//! The DMARC table's cases for DNS temporary errors at each step (RFC 9989 §5.3.6; RFC 7489
//! §6.6.3).

use dmarc::{
    Disposition as D, DkimOutcome as K, DmarcResult as R, Policy as P, PolicySource as S,
    SpfOutcome as F,
};

use crate::REJECT;
use crate::common::{Case, case};

pub(crate) fn cases() -> Vec<Case> {
    vec![
        // --- DNS temporary errors at each step (RFC 9989 §5.3.6; RFC 7489 §6.6.3) ---
        case("temperror: the author domain's _dmarc query times out")
            .zone("_dmarc.example.com TIMEOUT")
            .from("a@example.com")
            .expect(R::TempError),
        case("temperror: a tree-walk query (org level) fails with SERVFAIL")
            .zone("_dmarc.example.com SERVFAIL")
            .from("a@sub.example.com")
            .expect(R::TempError),
        case("7489 temperror: the PSL org-domain query times out")
            .rfc7489()
            .zone("_dmarc.example.com TIMEOUT")
            .from("a@sub.example.com")
            .expect(R::TempError),
        case("temperror: the existence check for np times out on A, AAAA and MX")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=quarantine; np=reject\"")
            .zone("sub.example.com TIMEOUT")
            .from("a@sub.example.com")
            .expect(R::TempError),
        // the existence query only picks np or sp/p, a policy that applies to a fail alone
        // (RFC 9989 §4.10.1, §5.3.5-§5.3.6): it is not needed for a pass
        case("an aligned DKIM pass does not wait on a timed-out existence check for np")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=quarantine; np=reject\"")
            .zone("sub.example.com TIMEOUT")
            .from("a@sub.example.com")
            .dkim(K::Pass, "example.com")
            .expect(R::Pass),
        case("an identical SPF pass does not wait on a failed existence check for np")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=none; np=reject\"")
            .zone("sub.example.com SERVFAIL")
            .from("a@SUB.example.com")
            .spf(F::Pass, "sub.example.com")
            .expect(R::Pass),
        case("temperror: existence check timed out, the only DKIM pass is not aligned")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=quarantine; np=reject\"")
            .zone("sub.example.com TIMEOUT")
            .from("a@sub.example.com")
            .dkim(K::Pass, "example.net")
            .expect(R::TempError)
            .disposition(D::None),
        case("np equal to the subdomain policy: no existence check, a timeout is irrelevant")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine; np=quarantine\"")
            .zone("sub.example.com TIMEOUT")
            .from("a@sub.example.com")
            .expect(R::Fail)
            .disposition(D::Quarantine)
            .policy(P::Quarantine, S::Sp),
        case("np equal to p without sp: no existence check, a timeout is irrelevant")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; np=reject\"")
            .zone("sub.example.com TIMEOUT")
            .from("a@sub.example.com")
            .expect(R::Fail)
            .disposition(D::Reject)
            .policy(P::Reject, S::P),
        case("temperror: alignment walk of a passing d= times out, nothing else aligned")
            .zone(REJECT)
            .zone("_dmarc.mail.example.com TXT TIMEOUT")
            .from("a@example.com")
            .dkim(K::Pass, "mail.example.com")
            .expect(R::TempError),
        case("an aligned SPF pass makes an undecided DKIM alignment irrelevant")
            .zone(REJECT)
            .zone("_dmarc.mail.example.com TXT TIMEOUT")
            .from("a@example.com")
            .dkim(K::Pass, "mail.example.com")
            .spf(F::Pass, "example.com")
            .expect(R::Pass),
        case("temperror: aligned DKIM key lookup failed temporarily, no aligned pass")
            .zone(REJECT)
            .from("a@example.com")
            .dkim(K::TempError, "example.com")
            .expect(R::TempError)
            .disposition(D::None),
        case("temperror: DKIM temperror for a d= whose alignment walk failed (SERVFAIL)")
            .zone(REJECT)
            .zone("_dmarc.mail.example.com TXT SERVFAIL")
            .from("a@example.com")
            .dkim(K::TempError, "mail.example.com")
            .expect(R::TempError)
            .disposition(D::None),
        case("temperror: SPF temperror for a MAIL FROM whose alignment walk failed")
            .zone(REJECT)
            .zone("_dmarc.bounce.example.com TXT SERVFAIL")
            .from("a@example.com")
            .spf(F::TempError, "bounce.example.com")
            .expect(R::TempError)
            .disposition(D::None),
        case("temperror: SERVFAIL on the aligned SPF domain's _dmarc, SPF pass")
            .zone(REJECT)
            .zone("_dmarc.bounce.example.com TXT SERVFAIL")
            .from("a@example.com")
            .spf(F::Pass, "bounce.example.com")
            .expect(R::TempError)
            .disposition(D::None),
        case("undecided under 7489 pct=0: at most quarantine (reject sampled out)")
            .rfc7489()
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; pct=0\"")
            .from("a@example.com")
            .dkim(K::TempError, "example.com")
            .expect(R::TempError)
            .check(|o| assert_eq!(o.primary().unwrap().strictest_possible(), D::Quarantine)),
        case("undecided policy record: the strictest possible disposition is reject")
            .zone("_dmarc.example.com TIMEOUT")
            .from("a@example.com")
            .expect(R::TempError)
            .check(|o| assert_eq!(o.primary().unwrap().strictest_possible(), D::Reject)),
        case("undecided existence, every policy it could pick lowered to none by t=y")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=none; np=quarantine; t=y\"")
            .zone("nx.example.com TIMEOUT")
            .from("a@nx.example.com")
            .expect(R::TempError)
            .check(|o| assert_eq!(o.primary().unwrap().strictest_possible(), D::None)),
        case("undecided existence, p=quarantine t=y or np=none: none either way")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=quarantine; np=none; t=y\"")
            .zone("nx.example.com TIMEOUT")
            .from("a@nx.example.com")
            .expect(R::TempError)
            .check(|o| assert_eq!(o.primary().unwrap().strictest_possible(), D::None)),
        case("undecided existence: the stricter of np and sp")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=none; np=quarantine\"")
            .zone("nx.example.com TIMEOUT")
            .from("a@nx.example.com")
            .expect(R::TempError)
            .check(|o| assert_eq!(o.primary().unwrap().strictest_possible(), D::Quarantine)),
        case("undecided existence, p=reject np=none: reject is possible")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; np=none\"")
            .zone("nx.example.com TIMEOUT")
            .from("a@nx.example.com")
            .expect(R::TempError)
            .check(|o| assert_eq!(o.primary().unwrap().strictest_possible(), D::Reject)),
        case("an SPF temperror for an unrelated domain does not block a fail")
            .zone(REJECT)
            .from("a@example.com")
            .spf(F::TempError, "example.net")
            .expect(R::Fail)
            .disposition(D::Reject),
    ]
}
