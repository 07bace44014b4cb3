//! Our Authentication-Results header (RFC 8601): one field, methods in the order iprev,
//! spf, dkim, arc, dmarc, with the reasons a postmaster needs; and the fields we write when the
//! checks could not run.

use authres::{AuthenticationResults, MethodResult, Property};
use dmarc::DmarcOutcome;
use spf::{Identity, SpfOutput};

use super::results::Results;

/// The Authentication-Results field for `results` (RFC 8601 §2.2), methods in the order
/// iprev, spf, dkim, arc, dmarc. At most `max_dkim` DKIM results are listed; the rest are
/// counted in one more entry, so that thousands of junk signatures cannot make a header of
/// hundreds of kilobytes. `remote_ip` is the client, for `arc=` (RFC 8617 §10.1).
pub fn authentication_results(
    results: &Results,
    authserv_id: &str,
    max_dkim: usize,
    remote_ip: Option<std::net::IpAddr>,
) -> AuthenticationResults {
    let mut ar = AuthenticationResults::new(authserv_id);
    if let Some(i) = &results.iprev {
        let mut prop = Property::new("policy", "iprev", i.ip.to_string());
        if let Some(name) = &i.name {
            prop = prop.with_comment(name.clone());
        }
        let mut m = MethodResult::new("iprev", i.result).with(prop);
        if i.result != iprev::IprevResult::Pass {
            m = m.with_reason(i.reason.to_string());
        }
        ar.push(m);
    }
    if let Some(o) = &results.spf_mail {
        let mut m = spf_method(o, Identity::MailFrom);
        if let Some(up) = &results.spf_from_upstream {
            m = m.with_comment(format!("from {up}"));
        }
        ar.push(m);
    }
    if let Some(o) = &results.spf_helo {
        ar.push(spf_method(o, Identity::Helo));
    }
    if results.dkim_checked {
        if results.dkim.is_empty() {
            ar.push(MethodResult::new("dkim", "none"));
        }
        // evaluated signatures first (they carry results), then the ones over the budget;
        // when not all fit, passes and verified results go before permanent errors, so junk
        // signatures ahead of a real one cannot push its result out of the header
        let max = max_dkim.max(1);
        let header_b = header_b_budget(results.dkim.len().min(max));
        // the signatures DMARC weighed for the author domain go first among their kind: a
        // pass DMARC used is never pushed out by other domains' valid signatures
        let aligned: Vec<(&str, &str)> = results
            .dmarc
            .iter()
            .flat_map(|d| d.evaluations.iter())
            .flat_map(|e| e.dkim.iter().filter(|k| k.aligned))
            .map(|k| (k.auth.domain.as_str(), k.auth.selector.as_str()))
            .collect();
        let mut methods: Vec<(u8, MethodResult)> = results
            .dkim
            .iter()
            .map(|r| (listing_rank(r, &aligned), dkim_method(r, header_b)))
            .collect();
        let fits = methods.len() <= max
            && methods.iter().map(|(_, m)| written_size(m)).sum::<usize>() <= DKIM_LISTING_BYTES;
        if fits {
            methods.sort_by_key(|(rank, _)| *rank >= OVER_THE_BUDGET);
        } else {
            methods.sort_by_key(|(rank, _)| *rank);
        }
        let mut listed = 0usize;
        let mut bytes = 0usize;
        for (_, m) in methods.into_iter().take(max) {
            bytes += written_size(&m);
            if listed > 0 && bytes > DKIM_LISTING_BYTES {
                break;
            }
            ar.push(m);
            listed += 1;
        }
        let rest = results.dkim.len().saturating_sub(listed);
        if rest > 0 {
            ar.push(
                MethodResult::new("dkim", "permerror")
                    .with_reason(format!("{rest} more signatures not listed")),
            );
        }
    }
    if let Some(a) = &results.arc {
        ar.push(a.method_result(remote_ip));
    }
    if let Some(d) = &results.dmarc {
        let mut m = dmarc_method(d);
        if let Some(o) = &results.arc_override {
            // the result stays fail (RFC 8617 §7.2.1 overrides the policy, not the result);
            // the reason names the sealer and what it recorded (docs/arc.md)
            m.reason = Some(o.to_string());
            m = m.with_property("policy", "override", "trusted_forwarder");
        }
        ar.push(m);
    }
    ar
}

/// How the comment of a field written by [`not_checked`] starts (read back by the signing
/// guard of re-submitted mail).
pub const NOT_CHECKED: &str = "not checked";

/// The field when the checks did not run to the end (`authserv-id; none` with a comment that
/// says why, RFC 8601 §2.2 no-result): written on timeouts and internal errors when the
/// message is accepted anyway, so that no forged header speaks for us.
pub fn not_checked(authserv_id: &str, why: &str) -> AuthenticationResults {
    let mut ar = AuthenticationResults::new(authserv_id);
    ar.set_comment(format!("{NOT_CHECKED}: {why}"));
    ar
}

/// The field for a message accepted unchecked because its header block is over the limits:
/// `dmarc=permerror` with the reason.
pub fn oversize(authserv_id: &str, why: &str) -> AuthenticationResults {
    let mut ar = AuthenticationResults::new(authserv_id);
    ar.push(MethodResult::new("dmarc", "permerror").with_reason(format!("{why}; not checked")));
    ar
}

/// The longest `header.d`, `header.s`, `header.i`, `smtp.mailfrom` or `smtp.helo` we write: a valid `i=` is at most a
/// 64-octet local-part, `@` and a 253-octet domain (RFC 5321 §4.5.3.1, RFC 6376 §3.5); a
/// signature that does not parse keeps its tags as written, up to the header size limit.
const MAX_IDENTIFIER: usize = 320;

/// The longest `reason=` of a DKIM result we write (the dkim crate's are shorter: a quoted
/// value is cut at 64 characters).
const MAX_REASON: usize = 512;

/// The longest `header.b` prefix we write: the dkim crate's bound (RFC 6008 §4 wants it
/// unique among the results, and two hostile signatures may share all but their last
/// characters). Cut without a mark, so it stays a prefix of the signature.
const MAX_HEADER_B: usize = dkim::verify::MAX_HEADER_B;

/// The `header.b` characters of one field, all listed signatures together: many hostile
/// near-copies of a signature (`[dkim] max_signatures` up to 50) must not make our field
/// longer than an MTA takes in one milter reply (Sendmail's default is 64 KiB).
const HEADER_B_TOTAL: usize = 8 * 1024;

/// The bytes of one field's DKIM results, all listed signatures together: the rest are
/// counted in one `dkim=permerror` entry, so that fifty hostile signatures with every value
/// at its longest still give a field an MTA takes in one milter reply (Sendmail reads at most
/// 64 KiB by default).
const DKIM_LISTING_BYTES: usize = 24 * 1024;

/// About how many bytes `m` takes in the field (its values and their separators).
fn written_size(m: &MethodResult) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() + 10);
    m.method.len()
        + m.result.len()
        + text(&m.result_comment)
        + text(&m.reason)
        + m.properties
            .iter()
            .map(|p| p.ptype.len() + p.name.len() + p.value.len() + text(&p.comment) + 6)
            .sum::<usize>()
        + 4
}

/// How long each of `listed` signatures' `header.b` may be: its share of [`HEADER_B_TOTAL`],
/// at least 128 characters (no two real signatures share so long a prefix) and at most
/// [`MAX_HEADER_B`].
fn header_b_budget(listed: usize) -> usize {
    (HEADER_B_TOTAL / listed.max(1)).clamp(128, MAX_HEADER_B)
}

/// `value`, or its first `max` characters and `...`.
fn bounded(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", value.get(..cut).unwrap_or_default()),
        None => value.to_string(),
    }
}

/// Which DKIM results a header too small for all of them lists first: passes, then other
/// verified results, then permanent errors, then signatures over the budget, and within each
/// the ones DMARC weighed (`aligned`: `d=` and `s=` of signatures aligned with the author
/// domain) first (RFC 8601 §2.7.1 gives the order no meaning; readers look for the pass).
fn listing_rank(r: &dkim::SignatureResult, aligned: &[(&str, &str)]) -> u8 {
    use dkim::DkimResult as R;
    if r.reason == Some(dkim::Reason::TooManySignatures) {
        return OVER_THE_BUDGET;
    }
    let kind = match r.result {
        R::Pass => 0,
        R::Fail | R::Policy | R::Neutral | R::TempError => 2,
        R::PermError | R::None => 4,
    };
    let domain = r.domain.trim_end_matches('.');
    let weighed = aligned
        .iter()
        .any(|(d, s)| d.eq_ignore_ascii_case(domain) && s.eq_ignore_ascii_case(&r.selector));
    kind + u8::from(!weighed)
}

/// The [`listing_rank`] of signatures over `[dkim] max_signatures`, never evaluated.
const OVER_THE_BUDGET: u8 = 6;

/// The first `max` characters of `value`.
fn prefix(value: &str, max: usize) -> &str {
    match value.char_indices().nth(max) {
        Some((cut, _)) => value.get(..cut).unwrap_or(value),
        None => value,
    }
}

fn dkim_method(r: &dkim::SignatureResult, max_header_b: usize) -> MethodResult {
    let mut m = MethodResult::new("dkim", r.result);
    if let Some(reason) = &r.reason
        && r.result != dkim::DkimResult::Pass
    {
        m = m.with_reason(bounded(&reason.to_string(), MAX_REASON));
    }
    if let Some(bits) = r.key_bits
        && r.result == dkim::DkimResult::Pass
    {
        m = m.with_comment(format!("{bits}-bit key"));
    }
    // U-labels of d=, s= and i= (RFC 8616 §5) are written as their A-labels, the names
    // queried: the field is US-ASCII. A non-ASCII value of a signature refused as a syntax
    // error is left out: converted, it could name a domain the signature never named
    // (`d=victim．example` is no `victim.example`)
    let refused = matches!(r.reason, Some(dkim::Reason::SignatureSyntax(_)));
    let shown = |v: &str| !refused || v.is_ascii();
    if !r.domain.is_empty() && shown(&r.domain) {
        let domain = a_labels(&r.domain);
        m = m.with_property("header", "d", bounded(&domain, MAX_IDENTIFIER));
    }
    if let Some(i) = r.identity.as_deref().filter(|i| shown(i)) {
        m = m.with_property("header", "i", bounded(&ascii_identity(i), MAX_IDENTIFIER));
    }
    if !r.selector.is_empty() && shown(&r.selector) {
        let selector = a_labels(&r.selector);
        m = m.with_property("header", "s", bounded(&selector, MAX_IDENTIFIER));
    }
    if let Some(a) = r.algorithm {
        m = m.with_property("header", "a", a.as_str().to_string());
    }
    if !r.header_b.is_empty() {
        // the dkim crate gives the shortest unique prefix of b=, 8 characters or more
        // (RFC 6008 §4)
        m = m.with_property("header", "b", prefix(&r.header_b, max_header_b).to_string());
    }
    m
}

/// A domain or selector as A-labels (RFC 5890 §2.3.2.1); as written when IDNA refuses it
/// (then cleaned to US-ASCII like any value).
fn a_labels(name: &str) -> std::borrow::Cow<'_, str> {
    if name.is_ascii() {
        return std::borrow::Cow::Borrowed(name);
    }
    dns::name::to_ascii(name.as_bytes()).map_or(std::borrow::Cow::Borrowed(name), Into::into)
}

/// An `i=` (or an address) in US-ASCII: its domain as A-labels, a non-ASCII local-part left
/// out (`@domain`, RFC 6376 §3.5 makes the local-part optional; RFC 6532 local-parts have no
/// ASCII form).
fn ascii_identity(identity: &str) -> String {
    match identity.rsplit_once('@') {
        Some((local, domain)) if local.is_ascii() => format!("{local}@{}", a_labels(domain)),
        Some((_, domain)) => format!("@{}", a_labels(domain)),
        None => a_labels(identity).into_owned(),
    }
}

fn spf_method(o: &SpfOutput, identity: Identity) -> MethodResult {
    let prop = spf::authres_property(o, identity);
    // the client's HELO name and MAIL FROM as given, up to an SMTP line: a valid domain or
    // address is never cut, and no line of ours passes 998 octets (RFC 5322 §2.1.1)
    let value = match prop.value.rsplit_once('@') {
        _ if prop.value.is_ascii() => prop.value.clone(),
        // an RFC 6531 local-part has no ASCII form: the domain alone
        Some((local, domain)) if !local.is_ascii() => a_labels(domain).into_owned(),
        _ => ascii_identity(&prop.value),
    };
    let value = bounded(&value, MAX_IDENTIFIER);
    let mut m = MethodResult::new("spf", o.result).with_property(prop.ptype, prop.property, value);
    // the reason quotes the sender's own record: a term of it is cut as an identifier is, so
    // that no unbreakable run passes a line's 998 octets (RFC 5322 §2.1.1)
    if let Some(p) = &o.problem {
        m = m.with_reason(bounded(&p.to_string(), MAX_IDENTIFIER));
    } else if let Some(mech) = &o.mechanism
        && matches!(o.result, spf::SpfResult::Fail | spf::SpfResult::SoftFail)
    {
        m = m.with_reason(format!(
            "mechanism {} matched",
            bounded(mech, MAX_IDENTIFIER)
        ));
    }
    m
}

fn dmarc_method(d: &DmarcOutcome) -> MethodResult {
    let mut m = MethodResult::new("dmarc", d.result);
    if let Some(e) = d.primary() {
        let mut comment = Vec::new();
        if let Some(p) = e.policy {
            comment.push(format!("p={p}"));
        }
        if e.record.is_some() {
            comment.push(format!("dis={}", e.disposition));
        }
        if !comment.is_empty() {
            m = m.with_comment(comment.join(" "));
        }
    }
    if matches!(
        d.result,
        dmarc::DmarcResult::Fail | dmarc::DmarcResult::TempError | dmarc::DmarcResult::PermError
    ) {
        let why = d.reason_text();
        if !why.is_empty() {
            m = m.with_reason(why);
        }
    }
    if let Some(from) = d.header_from() {
        m = m.with_property("header", "from", from.to_string());
    }
    if let Some(p) = d.evaluated_policy() {
        m = m.with_property("policy", "dmarc", p.to_string());
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two signatures whose `b=` share all but their last characters (an attacker's near
    /// copy of a real one) keep the unique prefixes the dkim crate gives them: a reader can
    /// tell which one passed (RFC 6008 §4: "long enough to be unique").
    #[test]
    fn near_copies_of_a_signature_keep_unique_header_b() {
        let shared = "ozZVzNPk".repeat(42);
        let result = |r: dkim::DkimResult, end: &str| dkim::SignatureResult {
            result: r,
            reason: None,
            domain: "example.com".into(),
            selector: "s".into(),
            algorithm: None,
            identity: None,
            header_b: format!("{shared}{end}"),
            testing: false,
            key_bits: None,
            body_length: None,
            index: 0,
        };
        let results = Results {
            dkim: vec![
                result(dkim::DkimResult::Fail, "oA2M"),
                result(dkim::DkimResult::Pass, "oA2N"),
            ],
            dkim_checked: true,
            ..Results::default()
        };
        let ar = authentication_results(&results, "mx.example", 8, None);
        let b: Vec<_> = ar
            .by_method("dkim")
            .filter_map(|m| m.property("header", "b").map(str::to_string))
            .collect();
        assert_eq!(b.len(), 2, "{b:?}");
        assert_ne!(b[0], b[1], "two results, one header.b");
        assert!(b.iter().all(|b| b.len() == shared.len() + 4), "{b:?}");
    }

    /// Fifty hostile signatures (`[dkim] max_signatures` at its largest), each with every
    /// value at its longest: our field still fits in one milter reply an MTA takes (Sendmail
    /// reads at most 64 KiB by default).
    #[test]
    fn fifty_hostile_signatures_fit_one_milter_reply() {
        let long = |c: &str| c.repeat(100_000);
        let hostile = |n: usize| dkim::SignatureResult {
            result: dkim::DkimResult::PermError,
            reason: Some(dkim::Reason::SignatureSyntax(long("r"))),
            domain: long("d"),
            selector: long("s"),
            algorithm: None,
            identity: Some(long("i")),
            header_b: format!("{}{n}", "b".repeat(1400)),
            testing: false,
            key_bits: None,
            body_length: None,
            index: n,
        };
        let mut dkim: Vec<_> = (0..60).map(hostile).collect();
        let mut real = hostile(60);
        real.result = dkim::DkimResult::Pass;
        real.reason = None;
        real.domain = "real.example".into();
        real.identity = None;
        dkim.push(real);
        let results = Results {
            dkim,
            dkim_checked: true,
            ..Results::default()
        };
        let ar = authentication_results(&results, "mx.example", 50, None);
        let text = ar.format(&authres::FormatOptions::single_line());
        assert!(text.len() < 40_000, "{} bytes", text.len());
        // the pass is listed, and what is not listed is counted
        assert!(text.contains("dkim=pass"), "{text}");
        assert!(text.contains("more signatures not listed"), "{text}");
    }

    /// Forty-five valid signatures of an attacker's long domains above the author domain's
    /// own (`[dkim] max_signatures` = 50): more than the field's DKIM budget, and the pass
    /// DMARC used is listed first, not pushed out by passes that weigh nothing.
    #[test]
    fn the_pass_dmarc_used_is_never_pushed_out() {
        use std::sync::Arc;
        let zone = "_dmarc.bank.example TXT \"v=DMARC1; p=reject\"\n";
        let dns: Arc<dyn dns::Resolver> =
            Arc::new(dns::memory::MemoryResolver::from_zone(zone).unwrap());
        let app = crate::app::App::new(
            crate::config::Config::parse("[authres]\nauthserv_id = \"mx.example\"\n").unwrap(),
            dns,
        )
        .unwrap();
        let pass = |domain: String, selector: &str| dkim::SignatureResult {
            result: dkim::DkimResult::Pass,
            reason: None,
            domain,
            selector: selector.into(),
            algorithm: None,
            identity: Some(format!("@{}", "i".repeat(300))),
            header_b: String::new(),
            testing: false,
            key_bits: Some(2048),
            body_length: None,
            index: 0,
        };
        let mut sigs: Vec<_> = (0..45)
            .map(|n| pass(format!("{}{n}.atk.example", "a".repeat(200)), "s"))
            .collect();
        sigs.push(pass("bank.example".into(), "sel"));
        let auths: Vec<dmarc::DkimAuth> = sigs
            .iter()
            .map(|r| {
                dmarc::DkimAuth::new(
                    dmarc::DkimOutcome::Pass,
                    r.domain.clone(),
                    r.selector.clone(),
                )
            })
            .collect();
        let from: [&[u8]; 1] = [b" ceo@bank.example"];
        let outcome =
            test_support::block_on(app.dmarc.evaluate(&*app.resolver, &from, None, &auths));
        assert_eq!(outcome.result, dmarc::DmarcResult::Pass);
        let results = Results {
            dkim: sigs,
            dkim_checked: true,
            dmarc: Some(outcome),
            ..Results::default()
        };
        let text = authentication_results(&results, "mx.example", 50, None)
            .format(&authres::FormatOptions::single_line());
        assert!(
            text.contains("more signatures not listed"),
            "{} bytes",
            text.len()
        );
        assert!(
            text.contains("header.d=bank.example"),
            "{} bytes",
            text.len()
        );
    }

    /// Ten junk signatures before a real one, `max_signatures` = 3: the pass is listed.
    #[test]
    fn a_pass_is_listed_before_junk_when_not_all_fit() {
        let result = |r: dkim::DkimResult, d: &str| dkim::SignatureResult {
            result: r,
            reason: None,
            domain: d.into(),
            selector: "s".into(),
            algorithm: None,
            identity: None,
            header_b: String::new(),
            testing: false,
            key_bits: None,
            body_length: None,
            index: 0,
        };
        let mut dkim = vec![result(dkim::DkimResult::PermError, "junk.example"); 10];
        dkim.push(result(dkim::DkimResult::Pass, "real.example"));
        let results = Results {
            dkim,
            dkim_checked: true,
            ..Results::default()
        };
        let ar = authentication_results(&results, "mx.example", 3, None);
        let listed: Vec<_> = ar
            .by_method("dkim")
            .map(|m| {
                (
                    m.result.clone(),
                    m.property("header", "d").map(str::to_string),
                )
            })
            .collect();
        assert_eq!(listed.len(), 4, "{listed:?}");
        assert_eq!(listed[0].1.as_deref(), Some("real.example"), "{listed:?}");
    }

    /// A DKIM-Signature that does not parse keeps its `d=`, `s=` and `i=` as written: a
    /// header block of 512 KiB must not come back as an Authentication-Results field as long.
    #[test]
    fn values_from_a_broken_signature_are_bounded() {
        let long = |c: &str| c.repeat(100_000);
        let broken = dkim::SignatureResult {
            result: dkim::DkimResult::PermError,
            reason: Some(dkim::Reason::SignatureSyntax("bad d= value".into())),
            domain: long("d"),
            selector: long("s"),
            algorithm: None,
            identity: Some(long("i")),
            header_b: long("b"),
            testing: false,
            key_bits: None,
            body_length: None,
            index: 0,
        };
        let results = Results {
            dkim: vec![broken],
            dkim_checked: true,
            ..Results::default()
        };
        let ar = authentication_results(&results, "mx.example", 10, None)
            .format(&authres::FormatOptions::single_line());
        assert!(ar.len() < 3_000, "{} bytes", ar.len());
        // what was cut says so
        assert!(ar.contains("header.d=ddd"), "{ar}");
        assert!(ar.contains("..."), "{ar}");
        // header.b stays a prefix of the signature, cut without a mark
        let parsed = authres::parse(ar.as_bytes()).expect("our header parses");
        let b = parsed
            .by_method("dkim")
            .next()
            .and_then(|m| m.property("header", "b"));
        assert_eq!(b, Some("b".repeat(MAX_HEADER_B).as_str()), "{ar}");
        // valid values are whole
        let valid = dkim::SignatureResult {
            result: dkim::DkimResult::Pass,
            reason: None,
            domain: format!("{}.example", "a".repeat(63)),
            selector: "sel".into(),
            algorithm: None,
            identity: Some(format!("{}@{}.example", "l".repeat(64), "a".repeat(63))),
            header_b: "abcdefgh".into(),
            testing: false,
            key_bits: None,
            body_length: None,
            index: 0,
        };
        // the header.<name> property our field writes for one signature result
        let written = |r: &dkim::SignatureResult, name: &str| {
            let results = Results {
                dkim: vec![r.clone()],
                dkim_checked: true,
                ..Results::default()
            };
            let ar = authentication_results(&results, "mx.example", 10, None);
            ar.by_method("dkim")
                .next()
                .expect("a dkim result")
                .property("header", name)
                .map(str::to_string)
        };
        assert_eq!(written(&valid, "d").as_deref(), Some(valid.domain.as_str()));
        assert_eq!(written(&valid, "i"), valid.identity);
        // a U-label d= is written as its A-labels (the field is US-ASCII)
        let idn = dkim::SignatureResult {
            domain: "bücher.example".into(),
            ..valid.clone()
        };
        assert_eq!(written(&idn, "d").as_deref(), Some("xn--bcher-kva.example"));
        // so are the selector (the name queried) and the domain of i=; a non-ASCII local-part
        // of i= cannot be written in US-ASCII and is left out (`@domain`, RFC 6376 §3.5)
        let idn = dkim::SignatureResult {
            domain: "bücher.example".into(),
            identity: Some("jürgen@bücher.example".into()),
            selector: "sél".into(),
            ..valid.clone()
        };
        assert_eq!(
            written(&idn, "i").as_deref(),
            Some("@xn--bcher-kva.example")
        );
        assert_eq!(written(&idn, "s").as_deref(), Some("xn--sl-bja"));
        let ascii_local = dkim::SignatureResult {
            identity: Some("joe@bücher.example".into()),
            ..valid.clone()
        };
        assert_eq!(
            written(&ascii_local, "i").as_deref(),
            Some("joe@xn--bcher-kva.example")
        );
        // a d= refused as a syntax error is not converted into a domain it never named
        let refused = dkim::SignatureResult {
            domain: "victim\u{ff0e}example".into(),
            result: dkim::DkimResult::PermError,
            reason: Some(dkim::Reason::SignatureSyntax("bad d= domain".into())),
            ..valid.clone()
        };
        assert_eq!(written(&refused, "d"), None);
    }

    /// The sender publishes the SPF record: a 1,500-character term in it, as the reason of a
    /// permerror or as the mechanism that matched, makes no line of our field longer than 998
    /// octets (RFC 5322 §2.1.1); a line that long is broken by the next MTA with CRLF SP.
    #[test]
    fn spf_reasons_from_the_senders_record_keep_lines_short() {
        let term = format!("exists:{}", "x".repeat(1500));
        let output = |problem, mechanism| SpfOutput {
            result: spf::SpfResult::Fail,
            domain: "evil.example".into(),
            sender: "a@evil.example".into(),
            mechanism,
            explanation: None,
            dns_terms: 0,
            void_lookups: 0,
            problem,
            used_local_part: false,
            records: Vec::new(),
        };
        for o in [
            output(
                Some(spf::SpfError::Syntax {
                    term: term.clone(),
                    reason: "bad",
                }),
                None,
            ),
            output(None, Some(format!("-{term}"))),
        ] {
            let results = Results {
                spf_mail: Some(o),
                ..Results::default()
            };
            let ar = authentication_results(&results, "mx.example", 10, None)
                .format(&authres::FormatOptions::milter());
            for line in ar.split('\n') {
                let room = 998 - "Authentication-Results: ".len();
                assert!(line.len() <= room, "{} octets: {line}", line.len());
            }
            assert!(ar.contains("xxx..."), "{ar}");
        }
    }

    /// `smtp.mailfrom` is US-ASCII too: the domain as A-labels, and a non-ASCII local-part
    /// (RFC 6531) left out, leaving the domain, as when the policy did not use it.
    #[test]
    fn an_internationalized_mail_from_is_written_in_ascii() {
        let o = SpfOutput {
            result: spf::SpfResult::Pass,
            domain: "bücher.example".into(),
            sender: "jürgen@bücher.example".into(),
            mechanism: None,
            explanation: None,
            dns_terms: 0,
            void_lookups: 0,
            problem: None,
            used_local_part: true,
            records: Vec::new(),
        };
        let results = Results {
            spf_mail: Some(o),
            ..Results::default()
        };
        let ar = authentication_results(&results, "mx.example", 10, None);
        let m = ar.by_method("spf").next().unwrap();
        assert_eq!(
            m.property("smtp", "mailfrom"),
            Some("xn--bcher-kva.example")
        );
    }
}
