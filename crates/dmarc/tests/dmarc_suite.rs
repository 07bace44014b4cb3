//! Table-driven DMARC suite (RFC 9989 and RFC 7489 mode): alignment, sp/np, pct/t, PSL and
//! tree walk organizational domains, bad records, multiple From, DNS temperror at each step.
//! Every case names what it checks.

mod common;

use common::{Case, case};
use dmarc::{
    Disposition as D, DkimOutcome as K, DmarcResult as R, FromProblem, Policy as P,
    PolicySource as S, SpfOutcome as F,
};
use test_support::block_on;

const REJECT: &str = "_dmarc.example.com TXT \"v=DMARC1; p=reject; rua=mailto:d@example.com\"";

fn cases() -> Vec<Case> {
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
        // --- From handling (RFC 7489 §6.6.1, RFC 9989 §5.3.1, §11.5) ---
        case("reject mode: two From fields give permerror")
            .zone(REJECT)
            .from("a@example.com")
            .from("b@example.com")
            .expect(R::PermError)
            .expect_from_problem()
            .check(|o| assert_eq!(o.from_problem, Some(FromProblem::MultipleFromFields(2)))),
        case("reject mode: two author domains in one From give permerror")
            .zone(REJECT)
            .from("a@example.com, b@example.org")
            .expect(R::PermError)
            .expect_from_problem(),
        case("reject mode: two addresses of one domain are one author domain")
            .zone(REJECT)
            .from("a@example.com, b@EXAMPLE.com")
            .dkim(K::Pass, "example.com")
            .expect(R::Pass),
        case("strictest mode: the failing p=reject domain wins over a passing p=none domain")
            .strictest()
            .zone("_dmarc.example.org TXT \"v=DMARC1; p=none\"")
            .zone(REJECT)
            .from("Bad <spoof@example.org>, Test <t@example.com>")
            .dkim(K::Pass, "example.org")
            .expect(R::Fail)
            .disposition(D::Reject)
            .header_from("example.com")
            .check(|o| assert_eq!(o.evaluations.len(), 2)),
        case("strictest mode: two From fields, both pass")
            .strictest()
            .zone("_dmarc.example.org TXT \"v=DMARC1; p=none\"")
            .zone(REJECT)
            .from("a@example.org")
            .from("b@example.com")
            .dkim(K::Pass, "example.org")
            .dkim(K::Pass, "example.com")
            .expect(R::Pass),
        case("strictest mode: an undecided domain outranks a failing p=none one (temperror)")
            .strictest()
            .zone("_dmarc.example.org TXT \"v=DMARC1; p=none\"")
            .zone("_dmarc.example.com TIMEOUT")
            .from("Me <me@example.org>, Bank <ceo@example.com>")
            .expect(R::TempError)
            .disposition(D::None)
            .header_from("example.com"),
        case("no From field: permerror")
            .zone(REJECT)
            .expect(R::PermError)
            .expect_from_problem(),
        case("From with a display name only: permerror")
            .zone(REJECT)
            .from("\"Test User\"")
            .expect(R::PermError)
            .expect_from_problem(),
        case("From with a domain literal: permerror")
            .zone(REJECT)
            .from("a@[192.0.2.1]")
            .expect(R::PermError)
            .expect_from_problem(),
        case("From with an unterminated quoted string: permerror")
            .zone(REJECT)
            .from("\"broken <a@example.com>")
            .expect(R::PermError)
            .expect_from_problem(),
        case("IDN author domain is looked up as its A-label")
            .zone("_dmarc.xn--bcher-kva.example TXT \"v=DMARC1; p=reject\"")
            .from("Büch <a@Bücher.example>")
            .dkim(K::Pass, "xn--bcher-kva.example")
            .expect(R::Pass)
            .header_from("xn--bcher-kva.example"),
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
        case("an SPF temperror for an unrelated domain does not block a fail")
            .zone(REJECT)
            .from("a@example.com")
            .spf(F::TempError, "example.net")
            .expect(R::Fail)
            .disposition(D::Reject),
    ]
}

#[test]
fn dmarc_table() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
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
