//! Running a case through authmilter, and what happened.

use super::*;

/// How a case is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Variant {
    /// The equivalent configuration, RFC 7489 mode.
    Main,
    /// The same with `[dmarc] mode = "rfc9989"` (the default), compared with the main run.
    Rfc9989,
    /// The same with `[dkim] rsa_sha1 = "verify"`, for cases with rsa-sha1 signatures.
    Sha1Verify,
    /// The timeout configuration without dryrun.
    NoDryrun,
}

impl Variant {
    pub(super) fn label(self) -> &'static str {
        match self {
            Variant::Main => "",
            Variant::Rfc9989 => "rfc9989",
            Variant::Sha1Verify => "rsa_sha1=verify",
            Variant::NoDryrun => "no-dryrun",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------------------

/// Runs `case` and, when authmilter refused a message that upstream delivered with a header,
/// runs it again with `enforce = false` to have the header's results.
pub(super) async fn run(
    case: &Case,
    cfg: &Upstream,
    variant: Variant,
    zone: &str,
    raw: &[u8],
) -> Observed {
    let mut observed = run_once(case, cfg, variant, true, zone, raw).await;
    if observed.outcome == "reject" {
        let again = run_once(case, cfg, variant, false, zone, raw).await;
        observed.ar = again.ar;
        observed.received_spf = again.received_spf;
        observed.removed_ar = again.removed_ar;
    }
    observed
}

/// Milter transactions run (for the summary).
pub(super) static TRANSACTIONS: AtomicUsize = AtomicUsize::new(0);

pub(super) async fn run_once(
    case: &Case,
    cfg: &Upstream,
    variant: Variant,
    enforce: bool,
    zone: &str,
    raw: &[u8],
) -> Observed {
    TRANSACTIONS.fetch_add(1, Ordering::Relaxed);
    let m = Milter::start(&cfg.toml(variant, enforce), zone).await;
    if cfg.handlers.contains("TestTimeout") {
        m.dns.set_latency(Some(Duration::from_secs(3)));
    }
    let mut mta = m.postfix().await;
    let ip: IpAddr = case.client_ip.parse().expect("client ip");
    let name = &case.client_name_or_helo;
    mta.connect(name, ip, 40000, &[]).await.expect("connect");
    mta.helo(name, &[]).await.expect("helo");
    let r = mta
        .mail(&bracket(&case.mail_from), &[], &[])
        .await
        .expect("mail");
    assert!(r.is_continue(), "{}: MAIL {r:?}", case.desc);
    let r = mta
        .rcpt(&bracket(&case.rcpt_to), &[], &[])
        .await
        .expect("rcpt");
    assert!(r.is_continue(), "{}: RCPT {r:?}", case.desc);
    let out = mta.send_message(raw).await.expect("message");
    let _ = mta.quit().await;
    m.stop().await;
    Observed::from_outcome(&out, raw)
}

pub(super) fn bracket(addr: &str) -> String {
    if addr.starts_with('<') {
        addr.to_string()
    } else {
        format!("<{addr}>")
    }
}

pub(super) fn has_rsa_sha1(raw: &[u8]) -> bool {
    Eml::parse(raw).headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case(b"DKIM-Signature")
            && String::from_utf8_lossy(&h.value)
                .replace(char::is_whitespace, "")
                .contains("a=rsa-sha1")
    })
}

// ---------------------------------------------------------------------------------------------
// What happened
// ---------------------------------------------------------------------------------------------

/// The behaviour of one run (ours) or of the expected message (upstream's).
#[derive(Debug, Clone)]
pub(super) struct Observed {
    /// `accept`, `quarantine`, `reject` or `tempfail`.
    pub(super) outcome: String,
    /// The Authentication-Results header the milter added.
    pub(super) ar: Option<AuthenticationResults>,
    /// The result word of the Received-SPF header the milter added.
    pub(super) received_spf: Option<String>,
    /// Authserv-ids of the incoming A-R headers that were removed, in message order.
    pub(super) removed_ar: Vec<String>,
    /// Incoming A-R headers were there to remove.
    pub(super) had_incoming_ar: bool,
}

/// Authserv-ids of the A-R headers of a message, in order.
pub(super) fn incoming_ar_ids(raw: &[u8]) -> Vec<String> {
    Eml::parse(raw)
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(b"Authentication-Results"))
        .map(|h| authres::authserv_id(&h.value).unwrap_or_default())
        .collect()
}

impl Observed {
    pub(super) fn from_outcome(out: &EomOutcome, source: &[u8]) -> Observed {
        let outcome = match &out.final_response {
            Response::ReplyCode(r) if r.code() >= 500 => "reject",
            Response::ReplyCode(_) | Response::Tempfail => "tempfail",
            Response::Reject => "reject",
            Response::Discard => "discard",
            _ if out
                .modifications
                .iter()
                .any(|m| matches!(m, Response::Quarantine(_))) =>
            {
                "quarantine"
            }
            _ => "accept",
        };
        // ours must follow the RFC 8601 grammar: the strict parser
        let ar = out.added_header("Authentication-Results").map(|v| {
            authres::parse(v).unwrap_or_else(|e| {
                panic!(
                    "our A-R {:?} is RFC 8601 syntax: {e}",
                    String::from_utf8_lossy(v)
                )
            })
        });
        if let Some(ar) = &ar {
            for m in &ar.results {
                let reason = m.reason.as_deref().unwrap_or("-");
                assert!(
                    !reason.trim_end().ends_with(':'),
                    "a reason with its detail missing: {}={} reason={reason:?}",
                    m.method,
                    m.result
                );
            }
        }
        let received_spf = out
            .added_header("Received-SPF")
            .map(|v| first_word(&String::from_utf8_lossy(v)));
        let incoming = incoming_ar_ids(source);
        let mut removed: Vec<u32> = out
            .deleted_headers()
            .into_iter()
            .filter(|(_, n)| n.eq_ignore_ascii_case(b"Authentication-Results"))
            .map(|(i, _)| i)
            .collect();
        removed.sort_unstable();
        let removed_ar = removed
            .iter()
            .filter_map(|i| incoming.get((*i as usize).checked_sub(1)?).cloned())
            .collect();
        Observed {
            outcome: outcome.to_string(),
            ar,
            received_spf,
            removed_ar,
            had_incoming_ar: !incoming.is_empty(),
        }
    }

    /// The expected message: `Message rejected with code : 550 ...`, or the message with the
    /// headers upstream added (an A-R with `authserv_id`, Received-SPF,
    /// `X-Disposition-Quarantine: Quarantined due to DMARC policy`) and removed.
    pub(super) fn from_expected(raw: &[u8], source: &[u8], authserv_id: &str) -> Observed {
        let incoming = incoming_ar_ids(source);
        if raw.starts_with(b"Message rejected with code : ") {
            return Observed {
                outcome: "reject".into(),
                ar: None,
                received_spf: None,
                removed_ar: Vec::new(),
                had_incoming_ar: !incoming.is_empty(),
            };
        }
        let eml = Eml::parse(raw);
        let quarantined = eml.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case(b"X-Disposition-Quarantine")
                && String::from_utf8_lossy(&h.value)
                    .trim()
                    .starts_with("Quarantined due to DMARC policy")
        });
        let mut ar = None;
        let mut kept: Vec<String> = Vec::new();
        for h in &eml.headers {
            if !h.name.eq_ignore_ascii_case(b"Authentication-Results") {
                continue;
            }
            if authres::claims_authserv_id(&h.value, authserv_id) && ar.is_none() {
                ar = Some(authres::parse_lenient(&h.value).unwrap_or_else(|e| {
                    panic!(
                        "expected A-R {:?} parses: {e}",
                        String::from_utf8_lossy(&h.value)
                    )
                }));
            } else {
                kept.push(authres::authserv_id(&h.value).unwrap_or_default());
            }
        }
        // removed = incoming minus kept, in order
        let mut removed_ar = Vec::new();
        let mut rest = kept.into_iter().peekable();
        for id in &incoming {
            if rest.peek() == Some(id) {
                rest.next();
            } else {
                removed_ar.push(id.clone());
            }
        }
        let received_spf = eml
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(b"Received-SPF"))
            .map(|h| first_word(&String::from_utf8_lossy(&h.value)));
        Observed {
            outcome: if quarantined { "quarantine" } else { "accept" }.into(),
            ar,
            received_spf,
            removed_ar,
            had_incoming_ar: !incoming.is_empty(),
        }
    }
}

pub(super) fn first_word(s: &str) -> String {
    s.split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}
