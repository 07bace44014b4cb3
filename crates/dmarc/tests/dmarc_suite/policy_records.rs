//! The DMARC table's cases for which policy applies: no record and bad records, sp and np, pct
//! and t (RFC 9989 §4.7, §4.10.1; RFC 7489 §6.6.3, §6.6.4; RFC 9091).

use dmarc::{Disposition as D, DmarcResult as R, Policy as P, PolicySource as S};

use crate::REJECT;
use crate::common::{Case, case};

pub(crate) fn cases() -> Vec<Case> {
    vec![
        // --- no record / bad records (RFC 9989 §4.7, §4.10.1; RFC 7489 §6.6.3) ---
        case("no DMARC record anywhere: none")
            .from("a@nothing.example")
            .expect(R::None)
            .no_policy(),
        case("record not starting with v=DMARC1 is ignored: none")
            .zone("_dmarc.example.com TXT \"p=reject; v=DMARC1\"")
            .from("a@example.com")
            .expect(R::None),
        case("invalid p without rua: the record is ignored (none)")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=bogus\"")
            .from("a@example.com")
            .expect(R::None),
        case("invalid p with a valid rua: treated as p=none")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=bogus; rua=mailto:d@example.com\"")
            .from("a@example.com")
            .expect(R::Fail)
            .disposition(D::None)
            .policy(P::None, S::P),
        case("missing p with a valid rua: treated as p=none")
            .zone("_dmarc.example.com TXT \"v=DMARC1; rua=mailto:d@example.com\"")
            .from("a@example.com")
            .expect(R::Fail)
            .policy(P::None, S::P),
        case("invalid sp with a valid rua: the record is read as p=none")
            .zone(
                "_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=bogus; rua=mailto:d@example.com\"",
            )
            .from("a@example.com")
            .expect(R::Fail)
            .disposition(D::None),
        case("unknown tags and a syntax error later in the record are ignored")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; foo=bar; reject; x\"")
            .from("a@example.com")
            .expect(R::Fail)
            .disposition(D::Reject),
        case("7489: several records at the author domain end discovery (none)")
            .rfc7489()
            .zone("_dmarc.sub.example.com TXT \"v=DMARC1; p=none\"")
            .zone("_dmarc.sub.example.com TXT \"v=DMARC1; p=reject\"")
            .zone(REJECT)
            .zone("sub.example.com A 192.0.2.1")
            .from("a@sub.example.com")
            .expect(R::None),
        case("9989: several records at the author domain are discarded, the walk goes on")
            .zone("_dmarc.sub.example.com TXT \"v=DMARC1; p=none\"")
            .zone("_dmarc.sub.example.com TXT \"v=DMARC1; p=reject\"")
            .zone(REJECT)
            .zone("sub.example.com A 192.0.2.1")
            .from("a@sub.example.com")
            .expect(R::Fail)
            .policy(P::Reject, S::P),
        case("non-DMARC TXT records next to the DMARC record are ignored")
            .zone("_dmarc.example.com TXT \"v=spf1 -all\"")
            .zone(REJECT)
            .from("a@example.com")
            .expect(R::Fail)
            .disposition(D::Reject),
        // --- sp / np (RFC 9989 §4.7, §4.10.1; RFC 9091) ---
        case("sp applies to an existing subdomain")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine\"")
            .zone("sub.example.com A 192.0.2.1")
            .from("a@sub.example.com")
            .expect(R::Fail)
            .disposition(D::Quarantine)
            .policy(P::Quarantine, S::Sp),
        case("without sp, p applies to subdomains")
            .zone(REJECT)
            .zone("sub.example.com MX 10 mx.example.com")
            .from("a@sub.example.com")
            .expect(R::Fail)
            .policy(P::Reject, S::P),
        case("np applies to a non-existent subdomain (NXDOMAIN)")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine; np=none\"")
            .from("a@ghost.example.com")
            .expect(R::Fail)
            .disposition(D::None)
            .policy(P::None, S::Np)
            .check(|o| assert_eq!(o.primary().unwrap().author_domain_exists, Some(false))),
        case("np does not apply when the subdomain exists (NODATA on A is existence)")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine; np=none\"")
            .zone("real.example.com TXT \"hello\"")
            .from("a@real.example.com")
            .expect(R::Fail)
            .policy(P::Quarantine, S::Sp),
        case("np does not apply to a dangling alias: the alias exists (RFC 6604 §3)")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine; np=none\"")
            .zone("alias.example.com CNAME gone.example.com")
            .from("a@alias.example.com")
            .expect(R::Fail)
            .policy(P::Quarantine, S::Sp)
            .check(|o| assert_eq!(o.primary().unwrap().author_domain_exists, Some(true))),
        case("without np, sp applies to a non-existent subdomain")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine\"")
            .from("a@ghost.example.com")
            .policy(P::Quarantine, S::Sp),
        case("7489: np is not a tag of RFC 7489, sp applies")
            .rfc7489()
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine; np=none\"")
            .from("a@ghost.example.com")
            .policy(P::Quarantine, S::Sp),
        case("np does not apply to the organizational domain itself")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; np=none\"")
            .from("a@example.com")
            .policy(P::Reject, S::P)
            .disposition(D::Reject),
        // --- pct (RFC 7489 §6.6.4) and t (RFC 9989 §4.7) ---
        case("7489 pct=0: never sampled, reject becomes quarantine")
            .rfc7489()
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; pct=0\"")
            .from("a@example.com")
            .roll(0)
            .expect(R::Fail)
            .disposition(D::Quarantine)
            .check(|o| assert!(o.primary().unwrap().sampled_out)),
        case("7489 pct=100: always applied")
            .rfc7489()
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; pct=100\"")
            .from("a@example.com")
            .roll(99)
            .disposition(D::Reject),
        case("7489 pct=50 with roll 49: sampled in")
            .rfc7489()
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=quarantine; pct=50\"")
            .from("a@example.com")
            .roll(49)
            .disposition(D::Quarantine),
        case("7489 pct=50 with roll 50: sampled out, quarantine becomes none")
            .rfc7489()
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=quarantine; pct=50\"")
            .from("a@example.com")
            .roll(50)
            .disposition(D::None),
        case("9989 ignores pct")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; pct=0\"")
            .from("a@example.com")
            .disposition(D::Reject),
        case("9989 t=y: reject is applied as quarantine")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; t=y\"")
            .from("a@example.com")
            .expect(R::Fail)
            .disposition(D::Quarantine)
            .policy(P::Reject, S::P)
            .check(|o| assert!(o.primary().unwrap().testing)),
        case("9989 t=y: quarantine is applied as none")
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=quarantine; t=y\"")
            .from("a@example.com")
            .disposition(D::None),
        case("7489 ignores t=y")
            .rfc7489()
            .zone("_dmarc.example.com TXT \"v=DMARC1; p=reject; t=y\"")
            .from("a@example.com")
            .disposition(D::Reject),
    ]
}
