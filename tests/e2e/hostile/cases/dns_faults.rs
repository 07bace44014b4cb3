//! DNS faults (SERVFAIL, timeouts) at every point DMARC depends on.

use super::*;

pub(super) fn temperror() -> Vec<Case> {
    let c = |n| case("temperror", n);
    let tf = || expect("tempfail", "temperror");
    vec![
        c("SERVFAIL on the author domain's _dmarc")
            .zone("_dmarc.bank.example SERVFAIL")
            .expect("tempfail", "temperror"),
        c("timeout on the author domain's _dmarc")
            .zone("_dmarc.bank.example TIMEOUT")
            .expect("tempfail", "temperror"),
        c("SERVFAIL on the organizational domain's _dmarc (tree walk / PSL)")
            .headers(&[b"From: ceo@mail.bank.example"])
            .zone("_dmarc.bank.example SERVFAIL")
            .expect("tempfail", "temperror"),
        c("SERVFAIL on the key of the only signature that could align")
            .signed_by("bank.example", false)
            .zone("s._domainkey.bank.example SERVFAIL")
            .expect("tempfail", "temperror"),
        c("SERVFAIL on the SPF record of an aligned MAIL FROM")
            .mail_from("bounce@bank.example")
            .zone("bank.example TXT SERVFAIL")
            .expect("tempfail", "temperror"),
        c("SERVFAIL on _dmarc of the aligned DKIM domain (RFC 9989 alignment walk)")
            .signed_by("mail.bank.example", false)
            .zone("_dmarc.mail.bank.example SERVFAIL")
            .expect_modes(tf(), expect("accept", "pass")),
        c("SPF temperror for a MAIL FROM whose alignment walk failed")
            .mail_from("bounce@mail.bank.example")
            .zone("mail.bank.example TXT SERVFAIL\n_dmarc.mail.bank.example SERVFAIL")
            .expect("tempfail", "temperror"),
        c("timeout of the np existence check (RFC 9989)")
            .headers(&[b"From: ceo@ghost.np.example"])
            .zone("_dmarc.np.example TXT \"v=DMARC1; p=quarantine; np=reject\"\n_dmarc.ghost.np.example NXDOMAIN\nghost.np.example TIMEOUT")
            .expect_modes(tf(), expect("quarantine", "fail")),
        c("policy.temperror = accept delivers with dmarc=temperror")
            .config("[policy]\ntemperror = \"accept\"")
            .zone("_dmarc.bank.example SERVFAIL")
            .expect("accept", "temperror"),
    ]
}
