//! The `[spf]`, `[dmarc]` and `[policy]` actions (docs/configuration.md) applied to results made
//! by hand: which checks may refuse a message, and what exempts it.

use std::net::IpAddr;
use std::sync::Arc;

use dkim::{DkimResult, SignatureResult};
use spf::{SpfOutput, SpfResult};

use super::decision::{Decision, Verdict};
use super::policy::{OverrideKind, PolicyInput, apply};
use super::results::Results;
use crate::app::App;
use crate::config::Config;

/// example.org publishes `p=reject`, example.net `p=none`, example.info `p=quarantine; t=y`
/// (applied as none, RFC 9989 §4.7), example.com's record times out.
const ZONE: &str = "_dmarc.example.org TXT \"v=DMARC1; p=reject\"\n\
                    _dmarc.example.net TXT \"v=DMARC1; p=none\"\n\
                    _dmarc.example.com TIMEOUT\n\
                    _dmarc.example.info TXT \"v=DMARC1; p=quarantine; t=y\"\n";

/// An app with DMARC enforced and `extra` settings, over [`ZONE`].
fn app(extra: &str) -> App {
    let toml =
        format!("[authres]\nauthserv_id = \"mx.test.example\"\n[dmarc]\nenforce = true\n{extra}");
    let resolver: Arc<dyn dns::Resolver> =
        Arc::new(dns::memory::MemoryResolver::from_zone(ZONE).unwrap());
    App::new(Config::parse(&toml).unwrap(), resolver).unwrap()
}

/// The SPF result of MAIL FROM `alice@<domain>`.
fn spf(result: SpfResult, domain: &str) -> SpfOutput {
    SpfOutput {
        result,
        domain: domain.into(),
        sender: format!("alice@{domain}"),
        mechanism: None,
        explanation: None,
        dns_terms: 0,
        void_lookups: 0,
        problem: None,
        used_local_part: false,
        records: Vec::new(),
    }
}

/// One DKIM signature result for `d=<domain>`.
fn dkim(result: DkimResult, domain: &str) -> SignatureResult {
    SignatureResult {
        result,
        reason: None,
        domain: domain.into(),
        selector: "s".into(),
        algorithm: None,
        identity: None,
        header_b: "abcdefgh".into(),
        testing: false,
        key_bits: None,
        body_length: None,
        index: 0,
    }
}

/// Results of a message `From: alice@example.org` with these SPF and DKIM results, DMARC
/// evaluated from them over [`ZONE`].
fn results(app: &App, spf_mail: SpfOutput, sigs: Vec<SignatureResult>) -> Results {
    results_from(app, b" alice@example.org", spf_mail, sigs)
}

/// [`results`] for this From field value.
fn results_from(
    app: &App,
    from: &[u8],
    spf_mail: SpfOutput,
    sigs: Vec<SignatureResult>,
) -> Results {
    let spf_auth = dmarc::SpfAuth::new(
        super::inbound::spf_outcome(spf_mail.result),
        spf_mail.domain.clone(),
        dmarc::SpfScope::MailFrom,
    );
    let dkim_auths: Vec<dmarc::DkimAuth> = sigs
        .iter()
        .map(|r| {
            dmarc::DkimAuth::new(
                super::inbound::dkim_outcome(r.result),
                r.domain.clone(),
                r.selector.clone(),
            )
        })
        .collect();
    let from: [&[u8]; 1] = [from];
    let outcome = test_support::block_on(app.dmarc.evaluate(
        &*app.resolver,
        &from,
        Some(&spf_auth),
        &dkim_auths,
    ));
    Results {
        spf_mail: Some(spf_mail),
        dkim: sigs,
        dkim_checked: true,
        dmarc: Some(outcome),
        ..Results::default()
    }
}

/// The decision for `results` from a client at `ip`.
fn decide(app: &App, ip: &str, results: &Results) -> Decision {
    let mut d = Decision::accept();
    let input = PolicyInput {
        client_ip: Some(ip.parse::<IpAddr>().unwrap()),
    };
    apply(app, &input, results, &mut d);
    d
}

/// A message forwarded without SRS: SPF of the original MAIL FROM fails at our MX, the
/// author's own DKIM signature survives, so DMARC passes (RFC 9989 §4.4.1). `[spf]
/// reject_fail` must not refuse it: RFC 9989 §7.1 warns that rejecting on an SPF fail alone
/// loses exactly such mail, and unlike an SMTP-time SPF policy daemon we know the DMARC result
/// when we decide. The same SPF fail without the aligned signature is still refused.
#[test]
fn spf_reject_fail_spares_mail_that_passes_dmarc_through_dkim() {
    let app = app("[spf]\nreject_fail = true\n");
    let r = results(
        &app,
        spf(SpfResult::Fail, "example.org"),
        vec![dkim(DkimResult::Pass, "example.org")],
    );
    assert_eq!(r.dmarc.as_ref().unwrap().result, dmarc::DmarcResult::Pass);
    let d = decide(&app, "198.51.100.7", &r);
    assert_eq!(d.verdict, Verdict::Accept, "{d}");
    let applied = d.applied.unwrap();
    assert_eq!(applied.disposition, dmarc::Disposition::None);
    assert!(applied.overrides.is_empty(), "{:?}", applied.overrides);

    // an SPF temperror decides nothing either when DKIM made DMARC pass
    let r = results(
        &app,
        spf(SpfResult::TempError, "example.org"),
        vec![dkim(DkimResult::Pass, "example.org")],
    );
    assert_eq!(decide(&app, "198.51.100.7", &r).verdict, Verdict::Accept);

    // without the aligned signature the SPF fail is refused as configured
    let r = results(
        &app,
        spf(SpfResult::Fail, "example.org"),
        vec![dkim(DkimResult::Pass, "example.net")],
    );
    let d = decide(&app, "198.51.100.7", &r);
    assert!(matches!(d.verdict, Verdict::Reject(_)), "{d}");
    assert!(
        d.verdict.reply_text().unwrap().starts_with("550 5.7.23"),
        "{d}"
    );
}

/// `[policy] allow_networks`: a listed client is never rejected (docs/configuration.md). A
/// DMARC failure that a trusted ARC sealer vouched for (RFC 8617 §7.2.1) took another branch
/// that applied `[spf] reject_fail` before looking at the allow-lists, so a listed client
/// (a backup MX, whose relaying fails SPF) was refused only when the message also carried a
/// trusted ARC pass.
#[test]
fn allow_networks_client_is_not_refused_for_spf_when_a_trusted_sealer_vouched() {
    let app = app(
        "[spf]\nreject_fail = true\n[policy]\nallow_networks = [\"192.0.2.0/24\"]\n\
         [arc]\ntrusted_sealers = [\"lists.example.net\"]\n",
    );
    // the list changed the message: the author's signature no longer verifies
    let mut r = results(
        &app,
        spf(SpfResult::Fail, "example.org"),
        vec![dkim(DkimResult::Fail, "example.org")],
    );
    assert_eq!(
        r.dmarc.as_ref().unwrap().disposition,
        dmarc::Disposition::Reject
    );
    // without an ARC override: allowed
    assert_eq!(decide(&app, "192.0.2.7", &r).verdict, Verdict::Accept);
    r.arc_override = Some(arc::TrustedPass {
        instance: 1,
        sealer: "lists.example.net".into(),
        authserv_id: "lists.example.net".into(),
        kind: arc::PassKind::Dmarc,
        property: "header.from".into(),
        value: "example.org".into(),
    });
    let d = decide(&app, "192.0.2.7", &r);
    assert_eq!(d.verdict, Verdict::Accept, "{d}");
    let applied = d.applied.unwrap();
    assert_eq!(applied.disposition, dmarc::Disposition::None);
    assert!(
        applied
            .overrides
            .iter()
            .any(|o| o.kind == OverrideKind::TrustedForwarder),
        "{:?}",
        applied.overrides
    );
    // a client outside the list is still refused for the SPF fail
    let d = decide(&app, "198.51.100.7", &r);
    assert!(matches!(d.verdict, Verdict::Reject(_)), "{d}");
}

/// RFC 9989 §5.4: a `p=none` policy MUST NOT modify mail handling. A DKIM key lookup that
/// timed out for the author's own `d=` leaves DMARC undecided (`temperror`), but the policy
/// is known to be `none`: pass or fail, the message is delivered, so deferring it (`[policy]
/// temperror = "tempfail"`) only delays mail, and bounces it when the sender's selector stays
/// broken. The same timeout under `p=reject`, or a policy record that could not be read,
/// still defers.
#[test]
fn an_undecided_result_under_p_none_is_not_deferred() {
    let app = app("");
    let undecided = |from: &[u8], d: &str| {
        results_from(
            &app,
            from,
            spf(SpfResult::Pass, "bounces.esp.example"),
            vec![dkim(DkimResult::TempError, d)],
        )
    };
    let r = undecided(b" alice@example.net", "example.net");
    assert_eq!(
        r.dmarc.as_ref().unwrap().result,
        dmarc::DmarcResult::TempError
    );
    let d = decide(&app, "198.51.100.7", &r);
    assert_eq!(d.verdict, Verdict::Accept, "{d}");
    // p=quarantine in testing mode is applied as none: delivered either way too
    let r = undecided(b" alice@example.info", "example.info");
    let d = decide(&app, "198.51.100.7", &r);
    assert_eq!(d.verdict, Verdict::Accept, "{d}");

    // p=reject: the timeout decides between delivery and refusal
    let r = undecided(b" alice@example.org", "example.org");
    let d = decide(&app, "198.51.100.7", &r);
    assert!(matches!(d.verdict, Verdict::TempFail(_)), "{d}");
    // the policy itself unknown
    let r = undecided(b" alice@example.com", "example.com");
    let d = decide(&app, "198.51.100.7", &r);
    assert!(matches!(d.verdict, Verdict::TempFail(_)), "{d}");
}

/// `[spf] reject_fail` spares mail that passes DMARC; when the author's DKIM key lookup timed
/// out, whether it passes is undecided, so a permanent 550 for the SPF fail answered a
/// temporary DNS failure for good (forwarded mail that would pass on the next try bounced).
/// It now follows `[policy] temperror`, as the option's DNS trouble does: 451, or delivery.
#[test]
fn spf_reject_fail_waits_for_an_undecided_dmarc() {
    let undecided = |app: &App| {
        results(
            app,
            spf(SpfResult::Fail, "example.org"),
            vec![dkim(DkimResult::TempError, "example.org")],
        )
    };
    let deferring = app("[spf]\nreject_fail = true\n");
    let r = undecided(&deferring);
    assert_eq!(
        r.dmarc.as_ref().unwrap().result,
        dmarc::DmarcResult::TempError
    );
    let d = decide(&deferring, "198.51.100.7", &r);
    assert!(matches!(d.verdict, Verdict::TempFail(_)), "{d}");
    assert!(
        d.verdict.reply_text().unwrap().starts_with("451 4.7.5"),
        "{d}"
    );

    let accepting = app("[spf]\nreject_fail = true\n[policy]\ntemperror = \"accept\"\n");
    let d = decide(&accepting, "198.51.100.7", &undecided(&accepting));
    assert_eq!(d.verdict, Verdict::Accept, "{d}");
}
