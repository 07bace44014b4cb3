//! ARC through the milter (RFC 8617): the `arc=` result in our Authentication-Results, the
//! trusted-sealer DMARC override (a list broke the author's DKIM signature, a trusted sealer
//! vouched for it), no override for an untrusted sealer or a broken chain, and sealing on a
//! forwarding listener that the next hop validates.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use authmilter::app::App;
use authmilter::config::{Config, SocketSpec};
use authmilter::pipeline::ResultsSink;
use authmilter::server::Server;
use authmilter::services::Services;
use dns::memory::MemoryResolver;
use testkit::{MtaClient, Profile};

use crate::support::message;

/// The list server's address (SPF pass for lists.example).
const LIST_IP: &str = "192.0.2.50";

pub(super) struct World {
    pub(super) zone: String,
    /// The message as the list forwards it: the author's signature broken by a footer,
    /// sealed by the list at i=1.
    pub(super) forwarded: Vec<u8>,
    _dir: tempfile::TempDir,
    pub(super) forwarder_key: std::path::PathBuf,
}

fn txt(name: &str, record: &dkim::DnsKeyRecord) -> String {
    let strings: Vec<String> = record
        .txt_strings()
        .into_iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    format!("{name} TXT {}\n", strings.join(" "))
}

pub(super) async fn world() -> World {
    world_from("Alice <alice@author.example>").await
}

/// [`world`] with this From field value (the list still records a pass for author.example
/// only); `victim.example` publishes `p=reject`.
pub(super) async fn world_from(from: &str) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let author = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).expect("keygen");
    let list = dkim::generate_key(dkim::KeyAlgorithm::Rsa { bits: 2048 }).expect("keygen");
    let forwarder = dkim::generate_key(dkim::KeyAlgorithm::Rsa { bits: 2048 }).expect("keygen");
    let forwarder_key = dir.path().join("fwd.pem");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&forwarder_key)
            .expect("key file");
        f.write_all(forwarder.private_key_pem.as_bytes())
            .expect("write");
    }
    let mut zone = String::from(
        "_dmarc.author.example TXT \"v=DMARC1; p=reject\"\n\
         _dmarc.victim.example TXT \"v=DMARC1; p=reject\"\n\
         author.example TXT \"v=spf1 -all\"\n\
         lists.example TXT \"v=spf1 ip4:192.0.2.50 -all\"\n",
    );
    zone.push_str(&txt("a1._domainkey.author.example", &author.record));
    zone.push_str(&txt("s._domainkey.lists.example", &list.record));
    zone.push_str(&txt("f._domainkey.fwd.example", &forwarder.record));
    // the author signs
    let from = format!("From: {from}");
    let original = message(&[
        &from,
        "To: members@lists.example",
        "Subject: meeting",
        "Message-ID: <m1@author.example>",
        "",
        "See you at 10.",
    ]);
    let signer = dkim::Signer::from_pem(
        author.private_key_pem.as_bytes(),
        dkim::SignerConfig::new("author.example", "a1"),
    )
    .expect("author signer");
    let mut signed = dkim::sign_message(&signer, &original, dkim::unix_now())
        .expect("sign")
        .to_field()
        .into_bytes();
    signed.extend_from_slice(&original);
    // the list checked it (DKIM and DMARC passed), adds a footer and seals
    let mut modified = signed.clone();
    modified.extend_from_slice(b"--\r\nmembers mailing list\r\n");
    let aar = authres::AuthenticationResults::new("mx.lists.example")
        .with(authres::MethodResult::new("dkim", "pass").with_property(
            "header",
            "d",
            "author.example",
        ))
        .with(authres::MethodResult::new("dmarc", "pass").with_property(
            "header",
            "from",
            "author.example",
        ));
    let forwarded = seal_over(
        list.private_key_pem.as_bytes(),
        ("lists.example", "s"),
        &zone,
        &modified,
        aar,
    )
    .await;
    World {
        zone,
        forwarded,
        _dir: dir,
        forwarder_key,
    }
}

/// `raw` validated with `zone` and sealed with the key `pem` as `(domain, selector)`,
/// recording `aar`: the message with the new ARC set on top.
async fn seal_over(
    pem: &[u8],
    (domain, selector): (&str, &str),
    zone: &str,
    raw: &[u8],
    aar: authres::AuthenticationResults,
) -> Vec<u8> {
    let sealer =
        arc::Sealer::from_pem(pem, arc::SealerConfig::new(domain, selector)).expect("sealer");
    let resolver = MemoryResolver::from_zone(zone).expect("zone");
    let (_, set) = arc::seal_message(
        &arc::Verifier::default(),
        &sealer,
        &resolver,
        raw,
        |_| aar.clone(),
        dkim::unix_now(),
    )
    .await
    .expect("seal");
    let mut sealed = set.to_fields("\r\n").into_bytes();
    sealed.extend_from_slice(raw);
    sealed
}

/// `zone` with the list's key (s._domainkey.lists.example) answering `failure` (`SERVFAIL`,
/// `TIMEOUT`).
fn list_key_fails(zone: &str, failure: &str) -> String {
    let name = "s._domainkey.lists.example";
    zone.lines()
        .filter(|l| !l.starts_with(name))
        .map(|l| format!("{l}\n"))
        .chain(std::iter::once(format!("{name} {failure}\n")))
        .collect()
}

pub(super) struct Run {
    pub(super) out: testkit::EomOutcome,
    pub(super) record: Arc<authmilter::pipeline::FinishedMessage>,
}

pub(super) async fn run(toml: &str, zone: &str, raw: &[u8]) -> Run {
    let dns = Arc::new(MemoryResolver::from_zone(zone).expect("zone"));
    let toml = format!("{toml}\n[authres]\nauthserv_id = \"mx.test.example\"\n");
    let app = Arc::new(App::new(Config::parse(&toml).expect("config"), dns).expect("app"));
    let (sink, mut published) = ResultsSink::bounded(4);
    let server = Server::bind_shared(Arc::new(ArcSwap::new(app)), Services::with_sink(sink))
        .await
        .expect("bind");
    let addr = match server.local_addrs().first() {
        Some(SocketSpec::Inet { host, port }) => {
            std::net::SocketAddr::new(host.parse().expect("ip"), *port)
        }
        other => panic!("{other:?}"),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let mut mta = MtaClient::connect_tcp(
        addr,
        Profile::postfix().with_timeout(Duration::from_secs(20)),
    )
    .await
    .expect("connect");
    mta.negotiate().await.expect("negotiate");
    mta.connect("mail.lists.example", LIST_IP.parse().expect("ip"), 1, &[])
        .await
        .expect("connect");
    mta.helo("mail.lists.example", &[]).await.expect("helo");
    let out = mta
        .send_transaction("<bounce@lists.example>", &["<bob@mx.test.example>"], raw)
        .await
        .expect("message");
    let record = tokio::time::timeout(Duration::from_secs(10), published.recv())
        .await
        .expect("published")
        .expect("open");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    Run { out, record }
}

fn authres_of(r: &Run) -> String {
    r.record
        .decision
        .as_deref()
        .expect("the sink keeps decisions")
        .authentication_results()
        .map(|h| h.one_line())
        .unwrap_or_default()
}

const VERIFY: &str = "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"verify\"\n\
                      [dmarc]\nenforce = true\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_sealer_keeps_a_list_message_from_being_rejected() {
    let w = world().await;
    let toml = format!("{VERIFY}[arc]\ntrusted_sealers = [\"lists.example\"]\n");
    let r = run(&toml, &w.zone, &w.forwarded).await;
    assert!(r.out.is_accept(), "{:?}", r.out);
    let ar = authres_of(&r);
    assert!(
        ar.contains("arc=pass header.oldest-pass=0 smtp.remote-ip=192.0.2.50"),
        "{ar}"
    );
    assert!(
        ar.contains("dkim=fail"),
        "the footer broke the author's signature: {ar}"
    );
    assert!(
        ar.contains("dmarc=fail (p=reject dis=reject) reason=\"trusted ARC sealer lists.example (i=1) recorded dkim=pass header.d=author.example\"")
            && ar.contains("policy.override=trusted_forwarder"),
        "{ar}"
    );
    let applied = r
        .record
        .decision
        .as_deref()
        .expect("the sink keeps decisions")
        .applied
        .as_ref()
        .expect("policy applied");
    assert_eq!(applied.disposition, dmarc::Disposition::None);
    assert_eq!(
        applied.overrides.first().map(|o| o.kind.as_str()),
        Some("trusted_forwarder")
    );
    assert!(
        applied.overrides[0]
            .comment
            .starts_with("arc=pass as[1].d=lists.example")
    );
}

/// A trusted sealer's key that DNS does not answer makes the chain `fail` (RFC 8617 §5.2.1),
/// but the rescue it would have granted is undecided, not refused: with `[policy] temperror =
/// "tempfail"` (the default) the DMARC failure is deferred (451), not rejected for good (550:
/// a permanent answer for a temporary DNS failure). With `temperror = "accept"` the failure is
/// acted on: a DNS failure never grants the rescue.
#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_sealers_key_dns_cannot_fetch_defers_instead_of_rejecting() {
    let w = world().await;
    let broken = list_key_fails(&w.zone, "SERVFAIL");
    let toml = format!("{VERIFY}[arc]\ntrusted_sealers = [\"lists.example\"]\n");
    let r = run(&toml, &broken, &w.forwarded).await;
    assert!(r.out.is_tempfail(), "{:?}", r.out);
    let accept = format!("{toml}[policy]\ntemperror = \"accept\"\n");
    let r = run(&accept, &broken, &w.forwarded).await;
    assert!(r.out.is_reject(), "{:?}", r.out);
    // a sealer we do not trust: its key's DNS decides nothing
    let untrusted = format!("{VERIFY}[arc]\ntrusted_sealers = [\"other.example\"]\n");
    let r = run(&untrusted, &broken, &w.forwarded).await;
    assert!(r.out.is_reject(), "{:?}", r.out);
}

/// A trusted sealer (fwd.example, i=2) vouched for a chain whose older hop (lists.example,
/// i=1) we do not trust, and that hop's key did not answer: the trusted seal verified and
/// says cv=pass, so only DNS stands between the message and its rescue. It was rejected
/// (550) for a temporary failure; it is deferred now, and accepted once DNS answers.
#[tokio::test(flavor = "multi_thread")]
async fn an_older_untrusted_hops_key_timing_out_under_a_trusted_seal_defers() {
    let w = world().await;
    let pem = std::fs::read(&w.forwarder_key).expect("key");
    let aar = authres::AuthenticationResults::new("mx.fwd.example").with(
        authres::MethodResult::new("dmarc", "pass").with_property(
            "header",
            "from",
            "author.example",
        ),
    );
    let twice = seal_over(&pem, ("fwd.example", "f"), &w.zone, &w.forwarded, aar).await;
    let broken = list_key_fails(&w.zone, "TIMEOUT");
    let toml = format!("{VERIFY}[arc]\ntrusted_sealers = [\"fwd.example\"]\n");
    let r = run(&toml, &w.zone, &twice).await;
    assert!(r.out.is_accept(), "{:?}", r.out);
    let r = run(&toml, &broken, &twice).await;
    assert!(r.out.is_tempfail(), "{:?}", r.out);
    // nobody we trust vouched: the failure decides
    let untrusted = format!("{VERIFY}[arc]\ntrusted_sealers = [\"other.example\"]\n");
    let r = run(&untrusted, &broken, &twice).await;
    assert!(r.out.is_reject(), "{:?}", r.out);
}

/// With several author domains (`multiple_from = "strictest"`, the default), the trusted
/// sealer's pass for one of them overrode DMARC for the message: a From naming author.example
/// (vouched for, failing here) first and victim.example (`p=reject`, authenticated by nobody)
/// was delivered. Each author domain DMARC would act on needs its own vouching (RFC 8617
/// §7.2.1 overrides the policy of the domain the sealer authenticated, not of others).
#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_pass_for_one_author_domain_does_not_cover_another() {
    let w = world_from("Alice <alice@author.example>, CEO <ceo@victim.example>").await;
    let toml = format!("{VERIFY}[arc]\ntrusted_sealers = [\"lists.example\"]\n");
    let r = run(&toml, &w.zone, &w.forwarded).await;
    assert!(r.out.is_reject(), "{:?}", r.out);
    let ar = authres_of(&r);
    assert!(ar.contains("arc=pass"), "{ar}");
    assert!(!ar.contains("policy.override"), "{ar}");
    // the same list message from author.example alone is still rescued
    let w = world_from("Alice <alice@author.example>, Bob <bob@author.example>").await;
    let r = run(&toml, &w.zone, &w.forwarded).await;
    assert!(r.out.is_accept(), "{:?}", r.out);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_sealer_or_a_broken_chain_never_overrides() {
    let w = world().await;
    // the same message, the sealer not on the list
    let r = run(VERIFY, &w.zone, &w.forwarded).await;
    assert!(r.out.is_reject(), "{:?}", r.out);
    assert!(authres_of(&r).contains("arc=pass"));
    // trusted, but the AAR was changed after sealing: the seal no longer verifies
    let tampered = String::from_utf8(w.forwarded.clone())
        .expect("ascii")
        .replacen("dkim=pass", "dkim=pass (checked)", 1)
        .into_bytes();
    let toml = format!("{VERIFY}[arc]\ntrusted_sealers = [\"lists.example\"]\n");
    let r = run(&toml, &w.zone, &tampered).await;
    assert!(r.out.is_reject(), "{:?}", r.out);
    let ar = authres_of(&r);
    assert!(ar.contains("arc=fail"), "{ar}");
    assert!(!ar.contains("policy.override"), "{ar}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forwarding_listener_seals_and_the_next_hop_validates() {
    let w = world().await;
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"forward\"\n\
         [arc]\nseal = true\ntrusted_sealers = [\"lists.example\"]\n\
         [dkim]\nkey_check_interval = \"0s\"\n\
         [[dkim.key]]\nname = \"fwd\"\ndomain = \"fwd.example\"\nselector = \"f\"\npath = \"{}\"\n\
         [[dkim.signing]]\nfrom = \"*\"\nkeys = [\"fwd\"]\n",
        w.forwarder_key.display()
    );
    let r = run(&toml, &w.zone, &w.forwarded).await;
    assert!(r.out.is_accept(), "{:?}", r.out);
    let names: Vec<&str> = r
        .record
        .decision
        .as_deref()
        .expect("the sink keeps decisions")
        .prepend
        .iter()
        .map(|h| h.name.as_str())
        .collect();
    // RFC 8617 §5.1 step 1: our DKIM-Signature is added before sealing, so the ARC set goes
    // on top of it and its ARC-Message-Signature covers it (§4.1.2 SHOULD)
    assert_eq!(
        names,
        [
            "ARC-Seal",
            "ARC-Message-Signature",
            "ARC-Authentication-Results",
            "DKIM-Signature",
            "Authentication-Results"
        ]
    );
    // the next hop: the message as delivered validates with two sets
    let mut delivered = String::new();
    for h in &r
        .record
        .decision
        .as_deref()
        .expect("the sink keeps decisions")
        .prepend
    {
        delivered.push_str(&format!(
            "{}: {}\r\n",
            h.name,
            h.value.replace('\n', "\r\n")
        ));
    }
    let mut delivered = delivered.into_bytes();
    delivered.extend_from_slice(&w.forwarded);
    let resolver = MemoryResolver::from_zone(&w.zone).expect("zone");
    let next = arc::verify_message(
        &arc::Verifier::default(),
        &resolver,
        &delivered,
        dkim::unix_now(),
    )
    .await;
    assert_eq!(next.result, arc::ChainStatus::Pass, "{next:?}");
    assert_eq!(next.instances, 2);
    assert_eq!(next.sets[1].seal_domain, "fwd.example");
    // the newest AMS covers our DKIM-Signature: without it, the chain fails at i=2
    let ours = String::from_utf8(delivered.clone()).expect("ascii");
    let start = ours.find("DKIM-Signature:").expect("our signature");
    let end = start
        + ours[start..]
            .split_inclusive("\r\n")
            .enumerate()
            .take_while(|(n, l)| *n == 0 || l.starts_with([' ', '\t']))
            .map(|(_, l)| l.len())
            .sum::<usize>();
    let stripped = format!("{}{}", &ours[..start], &ours[end..]);
    let without = arc::verify_message(
        &arc::Verifier::default(),
        &resolver,
        stripped.as_bytes(),
        dkim::unix_now(),
    )
    .await;
    assert!(
        matches!(
            without.reason,
            Some(arc::FailReason::MessageSignature { instance: 2, .. })
        ),
        "{without:?}"
    );
    let aar = next.sets[1]
        .authentication_results
        .as_ref()
        .expect("AAR parses");
    assert!(aar.by_method("arc").any(|m| m.result == "pass"), "{aar:?}");
    // one body hash per canonicalization across verification, the seal and the signature
    assert!(
        r.record
            .decision
            .as_deref()
            .expect("the sink keeps decisions")
            .body_hashes
            <= 3,
        "{}",
        r.record
            .decision
            .as_deref()
            .expect("the sink keeps decisions")
            .body_hashes
    );
}

/// RFC 8617 §5.2.1 makes a chain whose key lookup failed `fail`, and a seal with `cv=fail`
/// ends the chain for every later hop (§5.1 step 2): a DNS hiccup at our forwarder must not
/// destroy a chain the next hop could still validate. The set is left unsealed instead.
#[tokio::test(flavor = "multi_thread")]
async fn a_dns_failure_while_validating_does_not_end_the_chain_with_cv_fail() {
    let w = world().await;
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"forward\"\n\
         [arc]\nseal = true\n\
         [dkim]\nkey_check_interval = \"0s\"\n\
         [[dkim.key]]\nname = \"fwd\"\ndomain = \"fwd.example\"\nselector = \"f\"\npath = \"{}\"\n\
         [[dkim.signing]]\nfrom = \"*\"\nkeys = [\"fwd\"]\n",
        w.forwarder_key.display()
    );
    // the list's key cannot be fetched right now
    let broken: String = w
        .zone
        .lines()
        .filter(|l| !l.starts_with("s._domainkey.lists.example"))
        .map(|l| format!("{l}\n"))
        .chain(std::iter::once(
            "s._domainkey.lists.example SERVFAIL\n".to_string(),
        ))
        .collect();
    let r = run(&toml, &broken, &w.forwarded).await;
    assert!(r.out.is_accept(), "{:?}", r.out);
    let decision = r
        .record
        .decision
        .as_deref()
        .expect("the sink keeps decisions");
    for h in &decision.prepend {
        assert!(
            !(h.name == "ARC-Seal" && h.value.contains("cv=fail")),
            "a DNS failure ended the chain: {}",
            h.value
        );
    }
    // the next hop, whose DNS works, still validates the list's chain
    let mut delivered = String::new();
    for h in &decision.prepend {
        delivered.push_str(&format!(
            "{}: {}\r\n",
            h.name,
            h.value.replace('\n', "\r\n")
        ));
    }
    let mut delivered = delivered.into_bytes();
    delivered.extend_from_slice(&w.forwarded);
    let resolver = MemoryResolver::from_zone(&w.zone).expect("zone");
    let next = arc::verify_message(
        &arc::Verifier::default(),
        &resolver,
        &delivered,
        dkim::unix_now(),
    )
    .await;
    assert_eq!(next.result, arc::ChainStatus::Pass, "{next:?}");
}

/// docs/arc.md: seal with RSA (dkimpy and other validators refuse ed25519-sha256 seals, and
/// the whole chain then fails at the next hop). A rule that names an Ed25519 key before an RSA
/// key signs with both, but seals with the RSA key (repro-arc-ed25519.sh sealed a=ed25519-sha256).
#[tokio::test(flavor = "multi_thread")]
async fn a_rule_holding_an_rsa_key_seals_with_it_even_when_ed25519_comes_first() {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let w = world().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ed = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).expect("keygen");
    let ed_path = dir.path().join("fwd-ed.pem");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&ed_path)
        .and_then(|mut f| f.write_all(ed.private_key_pem.as_bytes()))
        .expect("key file");
    let zone = format!("{}{}", w.zone, txt("e._domainkey.fwd.example", &ed.record));
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"forward\"\n\
         [arc]\nseal = true\n\
         [dkim]\nkey_check_interval = \"0s\"\n\
         [[dkim.key]]\nname = \"fwd-ed\"\ndomain = \"fwd.example\"\nselector = \"e\"\npath = \"{}\"\n\
         [[dkim.key]]\nname = \"fwd\"\ndomain = \"fwd.example\"\nselector = \"f\"\npath = \"{}\"\n\
         [[dkim.signing]]\nfrom = \"*\"\nkeys = [\"fwd-ed\", \"fwd\"]\n",
        ed_path.display(),
        w.forwarder_key.display()
    );
    let r = run(&toml, &zone, &w.forwarded).await;
    assert!(r.out.is_accept(), "{:?}", r.out);
    let decision = r
        .record
        .decision
        .as_deref()
        .expect("the sink keeps decisions");
    let seal = decision
        .prepend
        .iter()
        .find(|h| h.name == "ARC-Seal")
        .expect("sealed");
    let value = seal.value.replace(['\n', '\t', ' '], "");
    assert!(value.contains("a=rsa-sha256;"), "{value}");
    assert!(value.contains("s=f;"), "{value}");
}

/// A forward listener with `[arc] seal` whose signing rule holds only an Ed25519 key seals
/// with it: `config check` warns (docs/arc.md: validators such as dkimpy refuse such seals).
#[test]
fn config_check_warns_of_ed25519_only_sealing() {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let ed = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).expect("keygen");
    let ed_path = dir.path().join("fwd-ed.pem");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&ed_path)
        .and_then(|mut f| f.write_all(ed.private_key_pem.as_bytes()))
        .expect("key file");
    let cfg = dir.path().join("milter.toml");
    let check = |seal: bool| {
        std::fs::write(
            &cfg,
            format!(
                "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"forward\"\n\
                 [arc]\nseal = {seal}\n[dkim]\nstate_file = \"\"\n\
                 [[dkim.key]]\nname = \"fwd-ed\"\ndomain = \"fwd.example\"\nselector = \"e\"\npath = \"{}\"\n\
                 [[dkim.signing]]\nfrom = \"*\"\nkeys = [\"fwd-ed\"]\n",
                ed_path.display()
            ),
        )
        .expect("config");
        crate::support::run_cli(
            &["config", "check", "-c", cfg.to_str().expect("utf-8")],
            None,
        )
    };
    let (code, _, err) = check(true);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("dkim.signing[0]") && err.contains("seals with an Ed25519 key"),
        "{err}"
    );
    let (code, _, err) = check(false);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("seals with an Ed25519 key"), "{err}");
}

/// `[arc] seal = true` that can seal nothing (no forward listener, or no `[[dkim.key]]` to
/// seal with) was accepted in silence: `config check` says so.
#[test]
fn config_check_warns_when_arc_seal_seals_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("milter.toml");
    let check = |toml: &str| {
        std::fs::write(&cfg, toml).expect("config");
        let (code, _, err) = crate::support::run_cli(
            &["config", "check", "-c", cfg.to_str().expect("utf-8")],
            None,
        );
        assert_eq!(code, 0, "{err}");
        err
    };
    let forward = "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"forward\"\n";
    let err = check(&format!(
        "{forward}[arc]\nseal = true\n[dkim]\nstate_file = \"\"\n"
    ));
    assert!(err.contains("no [[dkim.key]] is loaded"), "{err}");
    let err = check("[arc]\nseal = true\n[dkim]\nstate_file = \"\"\n");
    assert!(err.contains("there is none"), "{err}");
    let err = check(&format!("{forward}[dkim]\nstate_file = \"\"\n"));
    assert!(!err.contains("[arc] seal"), "{err}");
}
