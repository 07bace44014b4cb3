//! The DMARC table's cases for From handling (RFC 7489 §6.6.1, RFC 9989 §5.3.1, §11.5).

use dmarc::{Disposition as D, DkimOutcome as K, DmarcResult as R, FromProblem};

use crate::REJECT;
use crate::common::{Case, case};

pub(crate) fn cases() -> Vec<Case> {
    vec![
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
    ]
}
