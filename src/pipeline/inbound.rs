//! The inbound checks of one message, started as early as their inputs allow and collected
//! at end of message: SPF and iprev from MAIL, DKIM key lookups and DMARC policy discovery
//! from end of headers, the body hashed once (shared with our signatures), and the results
//! at end of message.

use std::net::IpAddr;
use std::sync::Arc;

use ::message::Headers;
use dkim::{BodyHashes, FinishedBodyHashes, KeyAnswer, MessageVerification};
use spf::SpfOutput;

use crate::app::App;

use super::message::MessageState;
use super::results::Results;
use super::task::Task;
use trusted_sealers::{trusted_override, undecided_override};

mod trusted_sealers;

/// A result computed once per connection (HELO SPF, iprev) and shared by its messages.
#[derive(Debug, Default)]
pub enum Cached<T> {
    /// Not asked for yet.
    #[default]
    NotStarted,
    /// Running in the background.
    Running(Task<Option<T>>),
    /// Known.
    Done(Option<T>),
}

impl<T: Clone + Send + 'static> Cached<T> {
    /// Starts the work unless it is running or done.
    pub fn start(&mut self, fut: impl std::future::Future<Output = Option<T>> + Send + 'static) {
        if matches!(self, Cached::NotStarted) {
            *self = Cached::Running(Task::start(fut));
        }
    }

    /// The result, waiting for it if needed.
    pub async fn get(&mut self) -> Option<T> {
        if let Cached::Running(_) = self
            && let Cached::Running(task) = std::mem::take(self)
        {
            *self = Cached::Done(task.join().await.flatten());
        }
        match self {
            Cached::Done(v) => v.clone(),
            _ => None,
        }
    }
}

/// Per-connection check state.
#[derive(Debug, Default)]
pub struct ConnectionChecks {
    /// SPF of the HELO identity (RFC 7208 §2.3), once per HELO name.
    pub helo_spf: Cached<SpfOutput>,
    /// iprev of the client address (RFC 8601 §3), once per connection.
    pub iprev: Cached<iprev::IprevOutcome>,
}

impl ConnectionChecks {
    /// Drops (aborts) checks that have not finished, so the next message starts them again.
    pub fn reset_unfinished(&mut self) {
        if matches!(self.helo_spf, Cached::Running(_)) {
            self.helo_spf = Cached::NotStarted;
        }
        if matches!(self.iprev, Cached::Running(_)) {
            self.iprev = Cached::NotStarted;
        }
    }
}

/// Inbound checks in flight for one message.
#[derive(Default)]
pub struct InboundChecks {
    spf_mail: Option<Task<SpfOutput>>,
    dkim: Option<MessageVerification>,
    key_lookups: Vec<(String, Task<KeyAnswer>)>,
    arc: Option<arc::ChainVerification>,
    arc_lookups: Vec<(String, Task<KeyAnswer>)>,
    dmarc: Option<Task<dmarc::Discovery>>,
}

impl InboundChecks {
    /// MAIL: starts SPF for MAIL FROM (and HELO, iprev once per connection).
    pub fn start_envelope(
        &mut self,
        app: &Arc<App>,
        conn: &mut ConnectionChecks,
        ip: Option<IpAddr>,
        helo: Option<&[u8]>,
        mail_from: &[u8],
    ) {
        let Some(ip) = ip else { return };
        // SMTPUTF8 mail may carry U-labels: SPF looks up A-labels (RFC 8616 §4)
        let helo_bytes = a_label_domain(helo.unwrap_or_default());
        let mail_from = a_label_address(mail_from);
        if app.config.spf.enabled {
            let (a, from, h) = (Arc::clone(app), mail_from, helo_bytes.clone());
            self.spf_mail = Some(Task::start(async move {
                a.spf.check_mail_from(&*a.resolver, ip, &from, &h).await
            }));
            if app.config.spf.helo && !helo_bytes.is_empty() {
                let a = Arc::clone(app);
                conn.helo_spf.start(async move {
                    let mut out = a.spf.check_helo(&*a.resolver, ip, &helo_bytes).await;
                    // kept for the connection, and no report names the HELO's records
                    out.records = Vec::new();
                    Some(out)
                });
            }
        }
        if app.config.iprev.enabled {
            let a = Arc::clone(app);
            conn.iprev
                .start(async move { Some(iprev::check(&*a.resolver, ip, &a.iprev).await) });
        }
    }

    /// End of headers: parses DKIM signatures and starts their key lookups (signatures whose
    /// `d=` could align with the From domain first), requests their body hashes, and starts
    /// DMARC policy discovery for the From field(s).
    pub fn start_headers(&mut self, app: &Arc<App>, headers: &Headers, hashes: &mut BodyHashes) {
        let from: Vec<Vec<u8>> = headers
            .named("From")
            .map(|(h, _)| h.value.clone())
            .collect();
        if app.config.dkim.verify {
            // parsed only if there are more signatures than the verification budget
            let authors = std::cell::OnceCell::new();
            let limit = app.dmarc.config().max_author_domains;
            let mv = app
                .dkim
                .begin_shared(headers, dkim::unix_now(), hashes, |d| {
                    could_align(
                        d,
                        authors.get_or_init(|| candidate_author_domains(&from, limit)),
                    )
                });
            for name in mv.key_queries() {
                let (a, n) = (Arc::clone(app), name.clone());
                let task = Task::start(async move { a.resolver.txt(&n).await });
                self.key_lookups.push((name, task));
            }
            self.dkim = Some(mv);
        }
        if app.config.arc.verify {
            let chain = app.arc.begin(headers, dkim::unix_now(), hashes);
            for name in chain.key_queries() {
                let (a, n) = (Arc::clone(app), name.clone());
                let task = Task::start(async move { a.resolver.txt(&n).await });
                self.arc_lookups.push((name, task));
            }
            self.arc = Some(chain);
        }
        if app.config.dmarc.enabled {
            let a = Arc::clone(app);
            self.dmarc = Some(Task::start(async move {
                a.dmarc.discover(&*a.resolver, &from).await
            }));
        }
    }

    /// End of message: collects every result.
    pub async fn finish(
        self,
        app: &Arc<App>,
        conn: &mut ConnectionChecks,
        state: &MessageState,
        hashes: &FinishedBodyHashes,
        client_ip: Option<std::net::IpAddr>,
    ) -> Results {
        let mut results = Results::default();
        if let Some((id, output)) = trusted_upstream_spf(app, &state.headers, client_ip) {
            // our own check only saw the relay; the trusted border host saw the client
            results.spf_mail = Some(output);
            results.spf_from_upstream = Some(id);
        } else if let Some(task) = self.spf_mail {
            results.spf_mail = task.join().await;
        }
        results.spf_helo = conn.helo_spf.get().await;
        results.iprev = conn.iprev.get().await;
        if let Some(mut mv) = self.dkim {
            for (name, task) in self.key_lookups {
                // a lookup task that never answered leaves the key unset: temperror
                if let Some(answer) = task.join().await {
                    mv.set_key_answer(&name, answer);
                }
            }
            results.dkim = mv.finish_shared(hashes, &state.headers);
            results.dkim_checked = true;
        }
        if let Some(mut chain) = self.arc {
            for (name, task) in self.arc_lookups {
                if let Some(answer) = task.join().await {
                    chain.set_key_answer(&name, answer);
                }
            }
            results.arc = Some(chain.finish(hashes));
        }
        if let Some(task) = self.dmarc {
            let discovery = task.join().await;
            let spf_auth = results.spf_mail.as_ref().map(|o| dmarc::SpfAuth {
                result: spf_outcome(o.result),
                domain: o.domain.clone(),
                scope: if state.envelope.mail_from.is_empty() {
                    dmarc::SpfScope::Helo
                } else {
                    dmarc::SpfScope::MailFrom
                },
            });
            let dkim_auths: Vec<dmarc::DkimAuth> = results
                .dkim
                .iter()
                .map(|r| {
                    dmarc::DkimAuth::new(
                        dkim_outcome(r.result),
                        r.domain.clone(),
                        r.selector.clone(),
                    )
                })
                .collect();
            results.dmarc = Some(match discovery {
                Some(d) => {
                    app.dmarc
                        .finish(&*app.resolver, d, spf_auth.as_ref(), &dkim_auths)
                        .await
                }
                // discovery did not complete (its task failed): temporary, never a pass
                None => dmarc::DmarcOutcome::temperror("policy discovery did not complete"),
            });
        }
        results.arc_override = trusted_override(app, &results);
        if results.arc_override.is_none() {
            results.arc_override_undecided = undecided_override(app, &results);
        }
        results
    }
}

/// Which signature domains could align with the From fields of `headers`, as the milter asks
/// when it spends the DKIM verification budget ([`dkim::Verifier::begin_shared`]): for the
/// tools that verify a whole message (`authmilter dkim verify`).
pub fn could_align_with_from(app: &App, headers: &Headers) -> impl Fn(&str) -> bool + use<> {
    let from: Vec<Vec<u8>> = headers
        .named("From")
        .map(|(h, _)| h.value.clone())
        .collect();
    let authors = candidate_author_domains(&from, app.dmarc.config().max_author_domains);
    move |d| could_align(d, &authors)
}

/// The distinct domains of the addresses in the From fields, as far as they parse: used
/// only to decide which DKIM signatures to verify first, never for a result. None when there
/// are more than DMARC evaluates (`limit`, its `max_author_domains`; RFC 9989 §4.4: more is
/// permerror, no signature can align), so each signature's question costs a few comparisons,
/// however long the From fields are.
fn candidate_author_domains(from: &[Vec<u8>], limit: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in from {
        let Ok(addrs) = dmarc::parse_from(value) else {
            continue;
        };
        for domain in addrs.iter().filter_map(|a| a.author_domain().ok()) {
            if out.contains(&domain) {
                continue;
            }
            if out.len() >= limit {
                return Vec::new();
            }
            out.push(domain);
        }
    }
    out
}

/// Whether a signature's `d=` could align with one of the author domains (RFC 9989 §4.4
/// relaxed alignment, approximated with the public suffix list), compared as A-labels: for
/// ordering signatures, and for which of our keys a forward listener withholds.
pub(super) fn could_align(d: &str, authors: &[String]) -> bool {
    // the author domains are A-labels; a d= may be a U-label (RFC 8616 §5)
    let d = dns::name::to_ascii(d.as_bytes())
        .unwrap_or_else(|_| d.trim_end_matches('.').to_ascii_lowercase());
    let d_org = dmarc::psl_organizational_domain(&d);
    authors
        .iter()
        .any(|a| *a == d || dmarc::psl_organizational_domain(a) == d_org)
}

/// The MAIL FROM SPF result from the topmost Authentication-Results header of a trusted
/// upstream authserv-id (`[authres] trusted_ids`, RFC 8601 §5 and §7.2). A header claiming our
/// own authserv-id or one of `remove_ids` is forged by definition (RFC 8601 §5) and never
/// trusted, even if `trusted_ids` lists that id; nor is any header of a message whose SMTP
/// client `[authres] trusted_clients` does not list. The upstream header is one whose
/// authserv-id is a trusted id exactly as RFC 8601 §2.2 reads it (ASCII case aside), read by
/// the strict parser: the loose match that finds forged headers of our own id would take ids
/// the upstream host does not remove (`\u{a0}border.example`, `border.example.`) for its own.
/// Only version 1 of the field and of the `spf` method is read (RFC 8601 §2.6).
fn trusted_upstream_spf(
    app: &App,
    headers: &Headers,
    client_ip: Option<std::net::IpAddr>,
) -> Option<(String, SpfOutput)> {
    let trusted = &app.config.authres.trusted_ids;
    if trusted.is_empty() || !app.config.authres.trusts_client(client_ip) {
        return None;
    }
    let is_trusted_id = |value: &[u8]| {
        authres::authserv_id(value)
            .is_some_and(|id| trusted.iter().any(|t| id.eq_ignore_ascii_case(t.trim())))
    };
    let claims = |value: &[u8], id: &String| authres::claims_authserv_id(value, id);
    let (header, _) = headers.named("Authentication-Results").find(|(h, _)| {
        let mut ours = std::iter::once(&app.authserv_id).chain(&app.config.authres.remove_ids);
        is_trusted_id(&h.value) && !ours.any(|id| claims(&h.value, id))
    })?;
    let ar = authres::parse(&header.value).ok()?;
    // RFC 8601 §2.6: a field of a version we do not know is not read on, and a method result
    // of a method-version we do not know is ignored
    let known = |version: Option<u32>| version.is_none_or(|v| v == 1);
    if !known(ar.version) {
        return None;
    }
    let spf = ar
        .by_method("spf")
        .filter(|m| known(m.method_version))
        .find(|m| m.property("smtp", "mailfrom").is_some())?;
    let result: spf::SpfResult = spf.result.parse().ok()?;
    let value = spf.property("smtp", "mailfrom")?.to_string();
    let domain = value
        .rsplit_once('@')
        .map(|(_, d)| d.to_string())
        .unwrap_or_else(|| value.clone())
        .to_ascii_lowercase();
    Some((
        ar.authserv_id.clone(),
        SpfOutput {
            result,
            sender: if value.contains('@') {
                value.clone()
            } else {
                format!("postmaster@{domain}")
            },
            domain,
            mechanism: None,
            explanation: None,
            dns_terms: 0,
            void_lookups: 0,
            problem: None,
            used_local_part: value.contains('@'),
            // an upstream's result: we did not read the record
            records: Vec::new(),
        },
    ))
}

/// `local@domain` with a non-ASCII domain turned into A-labels (RFC 5890); otherwise as is.
pub fn a_label_address(addr: &[u8]) -> Vec<u8> {
    match addr.iter().rposition(|&b| b == b'@') {
        Some(at) => {
            let (local, domain) = addr.split_at(at);
            let mut out = local.to_vec();
            out.push(b'@');
            out.extend(a_label_domain(domain.get(1..).unwrap_or_default()));
            out
        }
        None => addr.to_vec(),
    }
}

/// A domain as A-labels when it has non-ASCII characters and converts (`dns::name`);
/// otherwise as is (SPF then judges it).
pub fn a_label_domain(domain: &[u8]) -> Vec<u8> {
    if domain.is_ascii() {
        return domain.to_vec();
    }
    dns::name::to_ascii(domain)
        .map(String::into_bytes)
        .unwrap_or_else(|_| domain.to_vec())
}

/// SPF result as DMARC input.
pub fn spf_outcome(r: spf::SpfResult) -> dmarc::SpfOutcome {
    use dmarc::SpfOutcome as O;
    use spf::SpfResult as R;
    match r {
        R::Pass => O::Pass,
        R::Fail => O::Fail,
        R::SoftFail => O::SoftFail,
        R::Neutral => O::Neutral,
        R::None => O::None,
        R::TempError => O::TempError,
        R::PermError => O::PermError,
    }
}

/// DKIM result as DMARC input.
pub fn dkim_outcome(r: dkim::DkimResult) -> dmarc::DkimOutcome {
    use dkim::DkimResult as R;
    use dmarc::DkimOutcome as O;
    match r {
        R::Pass => O::Pass,
        R::Fail => O::Fail,
        R::Neutral => O::Neutral,
        R::Policy => O::Policy,
        R::None => O::None,
        R::TempError => O::TempError,
        R::PermError => O::PermError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_labels_become_a_labels() {
        assert_eq!(
            a_label_address("jöe@bücher.example".as_bytes()),
            "jöe@xn--bcher-kva.example".as_bytes()
        );
        assert_eq!(a_label_address(b"joe@example.com"), b"joe@example.com");
        assert_eq!(
            a_label_domain("mx.bücher.example".as_bytes()),
            b"mx.xn--bcher-kva.example"
        );
        assert_eq!(a_label_domain(b"\xff\xfe"), b"\xff\xfe");
        assert_eq!(a_label_address(b""), b"");
    }

    #[test]
    fn alignment_candidates() {
        let authors = candidate_author_domains(
            &[b" Joe <joe@mail.example.com>".to_vec()],
            dmarc::Config::default().max_author_domains,
        );
        assert_eq!(authors, ["mail.example.com"]);
        assert!(could_align("example.com", &authors));
        assert!(could_align("Other.Example.COM.", &authors));
        assert!(!could_align("example.net", &authors));
        // a U-label d= (RFC 8616 §5) aligns with the A-label author domain
        let authors = candidate_author_domains(
            &[" jörg@bücher.example".as_bytes().to_vec()],
            dmarc::Config::default().max_author_domains,
        );
        assert_eq!(authors, ["xn--bcher-kva.example"]);
        assert!(could_align("Bücher.example", &authors));
        assert!(could_align("mail.bücher.example", &authors));
    }

    #[test]
    fn alignment_candidates_are_few_whatever_the_from_field() {
        // Every signature over the max_signatures budget asks could_align about every
        // candidate: a From of 36,527 addresses and 900 DKIM-Signature fields cost one
        // message 6 s of CPU (audit 5, cost). DMARC evaluates at most max_author_domains
        // distinct author domains (more is permerror, RFC 9989 §4.4 needs one), so the
        // candidates are the distinct domains, none when there are more than that.
        let limit = dmarc::Config::default().max_author_domains;
        let same: Vec<u8> = vec![" a@mail.example.com"; 10_000].join(",").into_bytes();
        let authors = candidate_author_domains(&[same], limit);
        assert_eq!(authors, ["mail.example.com"]);
        assert!(could_align("example.com", &authors));
        let few: Vec<u8> = (0..limit)
            .map(|i| format!("a@d{i}.example"))
            .collect::<Vec<_>>()
            .join(",")
            .into_bytes();
        assert_eq!(candidate_author_domains(&[few], limit).len(), limit);
        let many: Vec<u8> = (0..10_000)
            .map(|i| format!("a@d{i}.io"))
            .collect::<Vec<_>>()
            .join(",")
            .into_bytes();
        assert_eq!(candidate_author_domains(&[many], limit).len(), 0);
        // the limit counts distinct domains across every From field
        let fields: Vec<Vec<u8>> = (0..=limit)
            .map(|i| format!("a@d{i}.example").into_bytes())
            .collect();
        assert_eq!(candidate_author_domains(&fields, limit).len(), 0);
    }
}
