//! Per-message state: the envelope, the header fields (held once, with per-name indexes and
//! the size limits), the forged Authentication-Results found while they arrived, body
//! accounting.

use ::message::{HeaderField, Headers};

use super::decision::HeaderDeletion;

/// What a message is to us, from the listener role and `[outbound]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From elsewhere: verify, record results, maybe reject.
    Inbound,
    /// From our users: sign, never reject on our checks.
    Outbound,
    /// Passing through us (a forwarder): verify like inbound, then sign (and seal).
    Forward,
}

impl Direction {
    /// `inbound`, `outbound` or `forward`, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Forward => "forward",
        }
    }

    /// Inbound checks, Authentication-Results and policy run.
    pub fn verifies(self) -> bool {
        matches!(self, Direction::Inbound | Direction::Forward)
    }

    /// Our DKIM signatures are added.
    pub fn signs(self) -> bool {
        matches!(self, Direction::Outbound | Direction::Forward)
    }
}

/// The SMTP envelope of one message.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// MAIL FROM without angle brackets (empty for the null sender).
    pub mail_from: Vec<u8>,
    /// MAIL FROM ESMTP parameters.
    pub mail_args: Vec<Vec<u8>>,
    /// Recipients with their ESMTP parameters.
    pub recipients: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
}

/// Which header limit a message went over (`[server] max_headers`, `max_header_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    /// More header fields than `max_headers`.
    Fields(usize),
    /// More header bytes than `max_header_bytes`.
    Bytes(usize),
}

impl std::fmt::Display for Oversize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Oversize::Fields(n) => write!(f, "more than {n} header fields"),
            Oversize::Bytes(n) => write!(f, "more than {n} bytes of header fields"),
        }
    }
}

/// The header limits and the authserv-ids whose incoming Authentication-Results are forged.
#[derive(Debug, Clone)]
pub struct HeaderRules {
    /// Most fields kept.
    pub max_fields: usize,
    /// Most bytes kept.
    pub max_bytes: usize,
    /// Remove incoming A-R that claim one of `forged_ids` (RFC 8601 §5).
    pub remove_forged: bool,
    /// Our authserv-id and `[authres] remove_ids`.
    pub forged_ids: Vec<String>,
}

/// One message transaction.
#[derive(Debug)]
pub struct MessageState {
    /// The envelope.
    pub envelope: Envelope,
    /// Header fields in arrival order, each with its per-name index (held once).
    pub headers: Headers,
    /// End of headers was seen.
    pub headers_done: bool,
    /// The header block went over a limit: the first limit hit.
    pub oversize: Option<Oversize>,
    /// A header field came after end of headers (the MTA out of step): the checks started
    /// without it, so the message is not judged.
    pub late_header: bool,
    /// Indexes of incoming Authentication-Results fields that claim one of our ids, found as
    /// they arrived (also past the limits, so they are removed whatever happens).
    forged_authres: Vec<u32>,
    /// More forged Authentication-Results came than `max_fields`; only that many are noted.
    forged_left: bool,
    /// Body bytes seen.
    pub body_bytes: u64,
    /// The body as it arrived, kept for a failure report's original when
    /// `[reports.failure] original = "full"` asked for it ([`MessageState::keep_body`]);
    /// `None` when not asked for or once the body outgrew its limit.
    body_copy: Option<Vec<u8>>,
    /// The most body bytes `body_copy` keeps.
    body_copy_limit: usize,
    /// Inbound, outbound or forward.
    pub direction: Direction,
    /// The client is one of ours by `[outbound]` (authenticated, an internal network or a
    /// daemon name), whatever the listener's role.
    pub client_is_ours: bool,
    /// `{auth_authen}`: the SMTP AUTH login, when the client authenticated.
    pub auth_login: Option<String>,
    /// The MTA's queue id, once known.
    pub queue_id: Option<String>,
}

/// Whether an Authentication-Results value claims one of our ids (RFC 8601 §5), when we
/// remove such fields.
fn claims_our_id(value: &[u8], rules: &HeaderRules) -> bool {
    rules.remove_forged
        && rules
            .forged_ids
            .iter()
            .any(|id| authres::claims_authserv_id(value, id))
}

impl MessageState {
    /// A message that began with MAIL FROM.
    pub fn new(envelope: Envelope, direction: Direction, queue_id: Option<String>) -> Self {
        MessageState {
            envelope,
            headers: Headers::new(),
            headers_done: false,
            oversize: None,
            late_header: false,
            forged_authres: Vec::new(),
            forged_left: false,
            body_bytes: 0,
            body_copy: None,
            body_copy_limit: 0,
            direction,
            client_is_ours: false,
            auth_login: None,
            queue_id,
        }
    }

    /// A message whose MAIL FROM we never saw (out-of-order input); treated as inbound.
    pub fn without_envelope() -> Self {
        MessageState::new(Envelope::default(), Direction::Inbound, None)
    }

    /// Records a header as the MTA passed it (`value` is what follows the colon, `\n` or
    /// `\r\n` folds). Past the limits the field is only counted (and checked for a forged
    /// Authentication-Results), never stored: memory per message stays bounded.
    pub fn add_header(&mut self, name: &[u8], value: &[u8], rules: &HeaderRules) {
        let is_authres =
            message::trim_wsp_end(name).eq_ignore_ascii_case(b"Authentication-Results");
        // counted as stored (CRLF folds, as `Headers::byte_len` counts the fields kept), so a
        // value folded with `\n` (the MTA) and with `\r\n` (a file, `eval`) weigh the same
        let value = ::message::lf_to_crlf(value);
        let size = name.len().saturating_add(value.len()).saturating_add(3);
        if self.oversize.is_none() {
            if self.headers.len() >= rules.max_fields {
                self.oversize = Some(Oversize::Fields(rules.max_fields));
            } else if self.headers.byte_len().saturating_add(size) > rules.max_bytes {
                self.oversize = Some(Oversize::Bytes(rules.max_bytes));
            }
        }
        let forged = is_authres && claims_our_id(&value, rules);
        let index = if self.oversize.is_some() {
            // not kept, but counted: the MTA's indexes include it
            if !is_authres {
                return;
            }
            self.headers.count_one(name)
        } else {
            // already CRLF: built directly, not converted (scanned) a second time by `new`
            self.headers.push(HeaderField {
                name: name.to_vec(),
                value: value.into_owned(),
            })
        };
        if forged {
            // bounded however many come: past `max_fields` the rest are not all removed,
            // which `forged_left` tells the decision
            if self.forged_authres.len() < rules.max_fields {
                self.forged_authres.push(index);
            } else {
                self.forged_left = true;
            }
        }
    }

    /// More forged Authentication-Results came than `max_headers`: not all can be removed.
    pub fn forged_left(&self) -> bool {
        self.forged_left
    }

    /// Records a recipient.
    pub fn add_recipient(&mut self, rcpt: Vec<u8>, args: Vec<Vec<u8>>) {
        self.envelope.recipients.push((rcpt, args));
    }

    /// Accounts for one body chunk (and keeps it, when asked to and within the limit).
    pub fn body(&mut self, chunk: &[u8]) {
        self.body_bytes = self.body_bytes.saturating_add(chunk.len() as u64);
        if let Some(copy) = &mut self.body_copy {
            if copy.len().saturating_add(chunk.len()) > self.body_copy_limit {
                self.body_copy = None;
            } else {
                copy.extend_from_slice(chunk);
            }
        }
    }

    /// Keeps a copy of the body of at most `limit` bytes for a failure report's original
    /// (RFC 6591 §3.1 `message/rfc822`); a longer body is not kept at all, never cut.
    pub fn keep_body(&mut self, limit: usize) {
        self.body_copy = Some(Vec::new());
        self.body_copy_limit = limit;
    }

    /// The body kept by [`MessageState::keep_body`], if it stayed within its limit.
    pub fn take_body(&mut self) -> Option<Vec<u8>> {
        self.body_copy.take()
    }

    /// Deletions of the incoming Authentication-Results that claim our authserv-id (or one
    /// of `authres.remove_ids`), RFC 8601 §5.
    pub fn forged_deletions(&self) -> Vec<HeaderDeletion> {
        self.forged_authres
            .iter()
            .map(|&index| HeaderDeletion {
                name: "Authentication-Results".into(),
                index,
            })
            .collect()
    }

    /// Whether the message carries a verdict of our site that did not authenticate `author`:
    /// an inbound message we (or our MX) judged, delivered, and now see again from one of our
    /// own clients (a Sieve or procmail redirect, `| sendmail`), where a signature aligned with
    /// a forged From of our domain would make the forgery pass DMARC downstream (RFC 9989
    /// §4.4). `ours` are the authserv-ids of our hosts (ours and `remove_ids`), `trusted` the
    /// upstreams of `trusted_ids`; `aligns` says whether an SPF or DKIM domain aligns with
    /// `author` (relaxed alignment). A `dmarc=` verdict is about `author` when its
    /// `header.from` names `author` or a subdomain of it (however spelled: Postfix's
    /// masquerading may have rewritten the From to the parent since), a domain of one label
    /// (Postfix completes it with `$mydomain`), or no usable domain (we found no From, or none
    /// with a domain: Postfix adds one, or appends its own domain, when the message is
    /// re-submitted). A `dmarc=fail` about `author` in a field of
    /// either withholds (a stranger can write one only to keep their own message unsigned).
    /// Otherwise the topmost field of `ours` that judged `author` decides: it has a `dmarc=`
    /// about it, or no `dmarc=` (`[dmarc] enabled = false`) but SPF or DKIM results; a field
    /// with other methods only (`auth=pass` from our submission host) judged nothing, and one
    /// whose `dmarc=pass` names another domain was about a From that has changed since (a
    /// list on our host rewriting an authenticated post's From to its own); any other
    /// `dmarc=` result about another domain judged it unauthenticated (the From was rewritten
    /// since, by canonical maps from a host name of ours, and nothing authenticated it). It authenticated `author` with a
    /// `dmarc=pass` about it, or an SPF (`smtp.mailfrom`) or DKIM (`header.d`/`header.i`) pass
    /// `aligns` accepts. Only the topmost counts, and never a `trusted_ids` field: we write
    /// our verdict above every field the sender brought, which may claim any id (RFC 8601
    /// §5). A field of ours saying the message was not checked (`[policy] on_error`) leaves it
    /// unauthenticated. No field of ours judged it: false (not a message we judged). Read whether or not
    /// such fields are removed (the fields kept are bounded by the header limits).
    pub fn our_verdict_leaves_unauthenticated(
        &self,
        ours: &[&str],
        trusted: &[&str],
        author: &str,
        aligns: impl Fn(&str) -> bool,
    ) -> bool {
        // a domain (or an address's) as A-labels, however it was written
        let domain_of = |value: &str| {
            let value = value.trim_matches(['<', '>']);
            let d = value.rsplit_once('@').map_or(value, |(_, d)| d);
            dns::name::to_ascii(d.as_bytes()).ok()
        };
        // Postfix completes a one-label domain (`append_dot_mydomain`) and masquerades a
        // subdomain as its parent (`masquerade_domains`): never the other way, so a verdict
        // about our.example is not about lists.our.example (a list rewriting From to its own)
        let about_author =
            |r: &authres::MethodResult| match r.property("header", "from").and_then(domain_of) {
                Some(d) if d.contains('.') => dns::name::is_subdomain_of(&d, author),
                _ => true,
            };
        let aligned_pass = |r: &authres::MethodResult| {
            let value = match r.method.as_str() {
                "spf" => r.property("smtp", "mailfrom"),
                "dkim" => r.property("header", "d").or(r.property("header", "i")),
                _ => None,
            };
            r.result == "pass" && value.and_then(domain_of).is_some_and(|d| aligns(&d))
        };
        let claims = |f: &HeaderField, ids: &[&str]| {
            ids.iter()
                .any(|id| authres::claims_authserv_id(&f.value, id))
        };
        let mut topmost: Option<bool> = None;
        let fields = self
            .headers
            .indexed()
            .filter(|(f, _)| f.name_is("Authentication-Results"))
            .filter_map(|(f, _)| {
                let own = claims(f, ours);
                (own || claims(f, trusted)).then_some((f, own))
            })
            .filter_map(|(f, own)| authres::parse_lenient(&f.value).ok().map(|ar| (ar, own)));
        for (ar, own) in fields {
            let verdicts: Vec<_> = ar.results.iter().filter(|r| r.method == "dmarc").collect();
            let mine: Vec<_> = verdicts.iter().filter(|r| about_author(r)).collect();
            if mine.iter().any(|r| r.result == "fail") {
                return true;
            }
            let judged = if verdicts.is_empty() {
                ar.results
                    .iter()
                    .any(|r| r.method == "spf" || r.method == "dkim")
            } else {
                // a verdict about another From that did not pass judged this one too: the From
                // was rewritten since (canonical maps turn alice@host.example into
                // alice@our.example); only a pass about another domain is a list's rewrite
                !mine.is_empty() || verdicts.iter().any(|r| r.result != "pass")
            };
            // a message we accepted without checking it (`[policy] on_error`) was not
            // authenticated by us
            let unchecked = ar.results.is_empty()
                && ar
                    .none_comment
                    .as_deref()
                    .is_some_and(|c| c.starts_with(super::authres_header::NOT_CHECKED));
            if own && unchecked && topmost.is_none() {
                topmost = Some(false);
            }
            if own && judged && topmost.is_none() {
                let authenticated =
                    mine.iter().any(|r| r.result == "pass") || ar.results.iter().any(aligned_pass);
                topmost = Some(authenticated);
            }
        }
        topmost.is_some_and(|authenticated| !authenticated)
    }

    /// The header fields as they will be delivered: without the forged Authentication-Results
    /// we delete (what our signatures and seals cover).
    pub fn delivered_headers(&self) -> Vec<HeaderField> {
        self.headers
            .indexed()
            .filter(|(f, index)| {
                !(f.name_is("Authentication-Results") && self.forged_authres.contains(index))
            })
            .map(|(f, _)| f.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> HeaderRules {
        HeaderRules {
            max_fields: 4,
            max_bytes: 10_000,
            remove_forged: true,
            forged_ids: vec!["mx.example".into()],
        }
    }

    #[test]
    fn forged_authres_found_as_headers_arrive_also_past_the_limit() {
        let mut m = MessageState::without_envelope();
        let r = rules();
        m.add_header(b"Authentication-Results", b" mx.example; spf=pass", &r);
        m.add_header(b"Received", b" a", &r);
        m.add_header(b"authentication-results", b" other.example; none", &r);
        m.add_header(b"From", b" a@b.example", &r);
        assert_eq!(m.oversize, None);
        m.add_header(b"Authentication-Results ", b" mx.example; dkim=pass", &r);
        assert_eq!(m.oversize, Some(Oversize::Fields(4)));
        assert_eq!(m.headers.len(), 4);
        let idx: Vec<u32> = m.forged_deletions().iter().map(|d| d.index).collect();
        assert_eq!(idx, [1, 3]);
        let delivered = m.delivered_headers();
        assert_eq!(delivered.len(), 3);
        assert!(
            delivered
                .iter()
                .all(|h| !h.value.starts_with(b" mx.example"))
        );
    }

    /// Our site's `dmarc=fail` names the From domain however a verifier spelled it: U-labels
    /// (OpenDMARC writes `header.from=bücher.example` raw), upper case, a final dot, or an
    /// address; the author is compared as A-labels (a redirected forgery of an IDN domain was
    /// signed).
    #[test]
    fn our_dmarc_failure_is_found_in_any_spelling_of_the_domain() {
        let r = rules();
        for from in [
            "xn--bcher-kva.example",
            "bücher.example",
            "BÜCHER.example.",
            "ceo@xn--bcher-kva.example",
            "<ceo@bücher.example>",
        ] {
            let mut m = MessageState::without_envelope();
            let value = format!(" mx.example; dmarc=fail header.from={from}");
            m.add_header(b"Authentication-Results", value.as_bytes(), &r);
            // a field of an upstream we trust: only a failure about the author withholds
            // (in our own, any result but pass about another domain would)
            let withholds = |author: &str| {
                m.our_verdict_leaves_unauthenticated(&[], &["mx.example"], author, |d| {
                    d.eq_ignore_ascii_case(author)
                })
            };
            assert!(withholds("xn--bcher-kva.example"), "{from}");
            assert!(!withholds("bucher.example"), "{from}");
        }
    }

    /// Postfix rewrites the From of re-submitted mail: it masquerades a subdomain as its
    /// parent, completes a one-label domain with `$mydomain`, adds a From or appends a domain
    /// where there was none, and canonical maps may rewrite any address. A verdict of ours
    /// about the author, a subdomain or an incomplete From judged it; one about another
    /// domain judged it too unless it passed (a list rewriting an authenticated post's From).
    #[test]
    fn a_verdict_is_about_the_author_its_subdomains_and_incomplete_froms() {
        let r = rules();
        let withholds = |verdict: &str, author: &str| {
            let mut m = MessageState::without_envelope();
            let value = format!(" mx.example; {verdict}");
            m.add_header(b"Authentication-Results", value.as_bytes(), &r);
            m.our_verdict_leaves_unauthenticated(&["mx.example"], &[], author, |d| {
                d.ends_with("our.example")
            })
        };
        for (verdict, author) in [
            ("dmarc=fail header.from=hq.our.example", "our.example"),
            ("dmarc=none header.from=HQ.Our.Example.", "our.example"),
            ("dmarc=none header.from=mail", "mail.our.example"),
            (
                "dmarc=none header.from=ceo@localhost",
                "localhost.our.example",
            ),
            (
                "dmarc=permerror reason=\"no From header field\"",
                "our.example",
            ),
            // rewritten since (canonical maps), after a verdict that authenticated nothing
            ("dmarc=none header.from=srv1.hosting.example", "our.example"),
            ("dmarc=fail header.from=our.example", "lists.our.example"),
            ("dmarc=fail header.from=notour.example", "our.example"),
        ] {
            assert!(withholds(verdict, author), "{verdict} / {author}");
        }
        for (verdict, author) in [
            ("dmarc=pass header.from=hq.our.example", "our.example"),
            // a list on our host rewrote an authenticated post's From to its own
            ("dmarc=pass header.from=our.example", "lists.our.example"),
            ("dmarc=pass header.from=other.example", "our.example"),
            (
                "spf=pass smtp.mailfrom=our.example; dmarc=permerror",
                "our.example",
            ),
        ] {
            assert!(!withholds(verdict, author), "{verdict} / {author}");
        }
    }

    /// A message we accepted unchecked (`[policy] on_error = "accept"` after a timeout or an
    /// internal error: `id; none (not checked: …)`) was never authenticated: re-submitted, it
    /// is not signed. A bare `none` of ours (nothing to report) judges nothing.
    #[test]
    fn a_message_we_accepted_unchecked_is_not_signed() {
        let r = rules();
        let withholds = |fields: &[&str]| {
            let mut m = MessageState::without_envelope();
            for value in fields {
                m.add_header(b"Authentication-Results", value.as_bytes(), &r);
            }
            m.our_verdict_leaves_unauthenticated(&["mx.example"], &[], "our.example", |d| {
                d.ends_with("our.example")
            })
        };
        assert!(withholds(&[" mx.example; none (not checked: timeout)"]));
        assert!(withholds(&[
            " mx.example;\r\n\tnone (not checked: internal error)",
            " mx.example; dmarc=pass header.from=our.example",
        ]));
        assert!(!withholds(&[" mx.example; none"]));
        assert!(!withholds(&[" mx.example; none (nothing to say)"]));
        // a stranger's field saying so is not ours
        assert!(!withholds(&[" other.example; none (not checked: timeout)"]));
    }

    /// A flood of forged Authentication-Results past the limits: at most `max_fields` are
    /// noted for removal (memory stays bounded), and the message says that more were left.
    #[test]
    fn forged_authres_noted_are_bounded() {
        let mut m = MessageState::without_envelope();
        let r = rules();
        for _ in 0..100 {
            m.add_header(b"Authentication-Results", b" mx.example; spf=pass", &r);
        }
        assert_eq!(m.forged_deletions().len(), 4);
        assert!(m.forged_left());
        let mut m = MessageState::without_envelope();
        for _ in 0..4 {
            m.add_header(b"Authentication-Results", b" mx.example; spf=pass", &r);
        }
        assert!(!m.forged_left());
    }

    #[test]
    fn byte_limit() {
        let mut m = MessageState::without_envelope();
        let r = HeaderRules {
            max_bytes: 40,
            ..rules()
        };
        m.add_header(b"Subject", b" 0123456789", &r);
        m.add_header(b"X", &[b'x'; 40], &r);
        assert_eq!(m.oversize, Some(Oversize::Bytes(40)));
        assert_eq!(m.headers.len(), 1);
    }

    /// The MTA folds with `\n`, a message file (`eval`) with `\r\n`: the same field weighs the
    /// same against `max_header_bytes` either way (as stored: CRLF).
    #[test]
    fn byte_limit_counts_folds_as_crlf_whatever_the_mta_sent() {
        let r = HeaderRules {
            max_bytes: 20,
            ..rules()
        };
        // `Subject: a` CRLF `\tb` CRLF `\tc` CRLF: 7 + 3 (`:` and the final CRLF) + 10 = 20
        for (value, over) in [
            (&b" a\n\tb\n\tc"[..], false),
            (b" a\r\n\tb\r\n\tc", false),
            (b" a\n\tb\n\tcd", true),
            (b" a\r\n\tb\r\n\tcd", true),
        ] {
            let mut m = MessageState::without_envelope();
            m.add_header(b"Subject", value, &r);
            assert_eq!(m.oversize.is_some(), over, "{value:?}");
            assert_eq!(m.headers.byte_len(), if over { 0 } else { 20 }, "{value:?}");
        }
    }
}
