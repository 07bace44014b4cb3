//! SPF (RFC 7208): one record, its syntax, the include tree with the DNS lookups each level
//! costs against the limit of 10 and the void lookups against 2 (§4.6.4), `+all`, `?all`,
//! `ptr`, and a full evaluation for addresses nobody authorizes (IPv4 and IPv6).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;

use dns::DnsError;
use spf::record::{Mechanism, Qualifier};

use super::Section;
use crate::app::App;

/// Deepest include/redirect nesting followed (loops are cut by the visited list too).
const MAX_DEPTH: usize = 10;

/// What walking the include tree found.
#[derive(Default)]
struct Walk {
    lookups: usize,
    voids: usize,
    lines: Vec<String>,
    /// The records from the top to the one being walked (a name on it again is a loop).
    path: Vec<String>,
    /// Records walked in all (a shared include is walked, and counted, each time).
    records: usize,
    /// Records with terms after `all`, which are never evaluated (RFC 7208 §5.1).
    after_all: Vec<String>,
    unchecked: Option<(String, DnsError)>,
    plus_all: Vec<String>,
    neutral_all: Vec<String>,
    /// Records reached through redirects only with neither `all` nor a redirect of their
    /// own: the domain's result for hosts not listed is neutral.
    no_all: Vec<String>,
    /// Records whose redirect is never used, beside an `all` (RFC 7208 §6.1).
    unused_redirect: Vec<String>,
    ptr: Vec<String>,
    broken: Vec<String>,
}

/// Checks the domain's SPF record.
pub async fn check(app: &App, domain: &str) -> Section {
    let mut s = Section::new(format!("SPF {domain}"));
    let limit = app.config.spf.dns_lookup_limit;
    let void_limit = app.config.spf.void_lookup_limit;
    let txts = match app.resolver.txt(domain).await {
        Ok(t) => t,
        Err(e) if e.is_not_found() => {
            missing(&mut s, domain);
            return s;
        }
        Err(e) => {
            s.could_not_check("the SPF record", &e);
            return s;
        }
    };
    let raw = match spf::record::select_record(domain, &txts) {
        Ok(Some(r)) => r.to_vec(),
        Ok(None) => {
            missing(&mut s, domain);
            return s;
        }
        Err(e) => {
            s.error(
                format!("{e}: receivers give permerror for every message"),
                "merge them into one v=spf1 record",
            );
            return s;
        }
    };
    s.record = Some(String::from_utf8_lossy(&raw).into_owned());
    let record = match spf::Record::parse(&raw) {
        Ok(r) => r,
        Err(e) => {
            s.error(
                format!("syntax error: {e}: receivers give permerror"),
                "fix the record's syntax (RFC 7208 §12)",
            );
            return s;
        }
    };
    if !record.has_all() && record.redirect.is_none() {
        s.warn(
            "no `all` and no redirect: hosts not listed get neutral",
            "end the record with -all (or ~all while testing)",
        );
    }
    let mut walk = Walk::default();
    walk_record(app, domain.to_string(), record, 0, true, &mut walk).await;
    s.details = std::mem::take(&mut walk.lines);
    if let Some((what, e)) = &walk.unchecked {
        s.could_not_check(what, e);
    }
    for d in &walk.plus_all {
        s.error(
            format!("+all in {d} authorizes every host on the Internet"),
            "use -all (or ~all), and list your senders with ip4:/ip6:/include:",
        );
    }
    for d in &walk.neutral_all {
        s.warn(
            format!("?all in {d}: unlisted hosts get neutral, as if there were no record"),
            "use -all (or ~all while testing)",
        );
    }
    for d in &walk.no_all {
        s.warn(
            format!("{d}, reached through a redirect, has no `all`: hosts not listed get neutral"),
            format!("end the record at {d} with -all (or ~all while testing)"),
        );
    }
    for d in &walk.unused_redirect {
        s.warn(
            format!("the redirect in {d} is never used: the record has an `all` (RFC 7208 §6.1)"),
            "remove the redirect, or the `all` if the redirect is meant",
        );
    }
    for d in &walk.after_all {
        s.warn(
            format!("terms after `all` in {d} are never evaluated (RFC 7208 §5.1)"),
            "move them before `all`, or remove them",
        );
    }
    for d in &walk.ptr {
        s.warn(
            format!("ptr in {d} is slow and unreliable; RFC 7208 §5.5 says do not use it"),
            "replace ptr with ip4:/ip6: or a: terms",
        );
    }
    for b in &walk.broken {
        s.error(b.clone(), "fix or remove that include or redirect");
    }
    if walk.lookups > limit {
        s.error(
            format!(
                "{} DNS lookups, over the limit of {limit}: receivers give permerror",
                walk.lookups
            ),
            "flatten includes into ip4:/ip6: terms, or drop includes you no longer send through",
        );
    } else if walk.unchecked.is_none() {
        let text = format!(
            "{} of {limit} DNS lookups, {} void",
            walk.lookups, walk.voids
        );
        if walk.lookups + 1 >= limit {
            s.warn(
                format!("{text}: one more include breaks it"),
                "flatten includes into ip4:/ip6: terms",
            );
        } else {
            s.ok(text);
        }
    }
    if walk.voids > void_limit {
        s.error(
            format!("{} void lookups (names that do not exist or have no records), over the limit of {void_limit}: permerror", walk.voids),
            "remove terms that point at names without records",
        );
    }
    evaluate(app, domain, &mut s, &walk, limit).await;
    s
}

/// Addresses no sender has, one in each range a too-wide term could cover: IPv4 in every
/// quarter of the space (a `/2` or wider names one), 0.0.0.1 ("this network", RFC 1122
/// §3.2.1.3), 100.64.0.1 (shared address space, RFC 6598) and 127.255.255.254 (loopback,
/// RFC 1122 §3.2.1.3), 169.254.0.1 (link-local, RFC 3927), 198.18.0.1 (benchmarking, RFC
/// 2544) and 240.0.0.1 (reserved 240/4, RFC 1112 §4); the IPv6 discard prefix 100::/64 (RFC
/// 6666) and the IPv6 benchmarking prefix 2001:2::/48 (RFC 5180), inside global unicast
/// 2000::/3.
const PROBES: [IpAddr; 8] = [
    IpAddr::V4(Ipv4Addr::new(0, 0, 0, 1)),
    SHARED_SPACE_PROBE,
    LOOPBACK_PROBE,
    IpAddr::V4(Ipv4Addr::new(169, 254, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(240, 0, 0, 1)),
    IpAddr::V6(Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 1)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1)),
];

/// The only special-purpose ranges of 64.0.0.0/2, both of which records list for relays that
/// are no Internet host (CGNAT or Tailscale's 100.64.0.0/10, a loopback /8): a pass for one
/// of them alone is no finding, for both a warning (a term of 64.0.0.0/2 or wider, or both
/// ranges listed).
const PAIRED: [IpAddr; 2] = [SHARED_SPACE_PROBE, LOOPBACK_PROBE];

/// The probe in 100.64.0.0/10 (shared address space, RFC 6598).
const SHARED_SPACE_PROBE: IpAddr = IpAddr::V4(Ipv4Addr::new(100, 64, 0, 1));

/// The probe in 127.0.0.0/8 (loopback, RFC 1122 §3.2.1.3).
const LOOPBACK_PROBE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 255, 255, 254));

/// Evaluates the record (RFC 7208 §4) for each of [`PROBES`], which walks every include: a
/// pass authorizes far too much; a permerror or temperror is said once.
async fn evaluate(app: &App, domain: &str, s: &mut Section, walk: &Walk, limit: usize) {
    let mut outcomes = Vec::new();
    for probe in PROBES {
        let out = app
            .spf
            .check_host(
                &*app.resolver,
                probe,
                domain,
                format!("postmaster@{domain}").as_bytes(),
                b"",
            )
            .await;
        outcomes.push((probe, out));
    }
    let problem = |o: &spf::SpfOutput| {
        o.problem
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default()
    };
    let passed = |probe: &IpAddr| {
        outcomes
            .iter()
            .any(|(p, o)| p == probe && o.result == spf::SpfResult::Pass)
    };
    let passes: Vec<(IpAddr, String)> = outcomes
        .iter()
        .filter(|(probe, o)| o.result == spf::SpfResult::Pass && !PAIRED.contains(probe))
        .map(|(probe, o)| (*probe, o.mechanism.clone().unwrap_or_default()))
        .collect();
    let text = match passes.as_slice() {
        [] => None,
        [(probe, via)] => Some(format!(
            "a reserved address ({probe}) gets pass (via {via})"
        )),
        several => {
            let each: Vec<String> = several
                .iter()
                .map(|(probe, via)| format!("{probe} via {via}"))
                .collect();
            Some(format!("reserved addresses get pass ({})", each.join(", ")))
        }
    };
    if let Some(text) = text {
        s.error(
            format!("{text}: the record authorizes far too much"),
            "remove the term that matches every address",
        );
        return;
    }
    if PAIRED.iter().all(passed) {
        s.warn(
            format!(
                "{} and {} get pass: a term may cover 64.0.0.0/2, a quarter of all IPv4 \
                 addresses (or the record lists both shared-space and loopback relays)",
                PAIRED[0], PAIRED[1]
            ),
            "check the prefix lengths of the ip4 terms",
        );
    }
    let first = |r: spf::SpfResult| outcomes.iter().find(|(_, o)| o.result == r);
    if let Some((_, o)) = first(spf::SpfResult::PermError) {
        if walk.lookups <= limit && walk.broken.is_empty() {
            s.error(
                format!("evaluation gives permerror: {}", problem(o)),
                "fix the record so that check_host() completes",
            );
        }
        return;
    }
    if let Some((_, o)) = first(spf::SpfResult::TempError) {
        if walk.unchecked.is_none() {
            s.could_not_check("the whole evaluation", &DnsError::Other(problem(o)));
        }
        return;
    }
    let results: Vec<spf::SpfResult> = outcomes.iter().map(|(_, o)| o.result).collect();
    if results.windows(2).all(|w| w.first() == w.last()) {
        if let Some(r) = results.first() {
            s.ok(format!("an unlisted host gets {r}"));
        }
    } else {
        let each: Vec<String> = outcomes
            .iter()
            .map(|(probe, o)| format!("{} ({probe})", o.result))
            .collect();
        s.ok(format!("an unlisted host gets {}", each.join(", ")));
    }
}

fn missing(s: &mut Section, domain: &str) {
    s.warn(
        "no SPF record: receivers get spf=none",
        format!(
            "publish `{domain}. IN TXT \"v=spf1 mx -all\"` (listing the hosts that send your mail)"
        ),
    );
}

/// Most records one walk reads (a tree of shared includes is walked again for each
/// inclusion, as receivers evaluate it; past the lookup limit the count is already an error).
const MAX_RECORDS: usize = 64;

/// Walks one record and (recursively) its includes and redirect. `own_result`: the record's
/// `all` is the domain's own result (the top record, or one reached through redirects only).
fn walk_record<'a>(
    app: &'a App,
    domain: String,
    record: spf::Record,
    depth: usize,
    own_result: bool,
    walk: &'a mut Walk,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        walk.path.push(domain.clone());
        walk.records += 1;
        walk_terms(app, &domain, &record, depth, own_result, walk).await;
        walk.path.pop();
    })
}

/// The terms of one record (see [`walk_record`]): counted, checked and followed up to and
/// including `all` (RFC 7208 §5.1: the rest are never evaluated).
async fn walk_terms(
    app: &App,
    domain: &str,
    record: &spf::Record,
    depth: usize,
    own_result: bool,
    walk: &mut Walk,
) {
    let domain = domain.to_string();
    let live = record
        .directives
        .iter()
        .position(|d| matches!(d.mechanism, Mechanism::All))
        .map_or(record.directives.len(), |i| i + 1);
    if live < record.directives.len() {
        walk.after_all.push(domain.clone());
    }
    let directives = record.directives.get(..live).unwrap_or_default();
    let line_index = walk.lines.len();
    walk.lines.push(String::new());
    let mut own = 0usize;
    let mut terms = Vec::new();
    for d in directives {
        if d.mechanism.queries_dns() {
            own += 1;
            terms.push(d.text.clone());
        }
        match &d.mechanism {
            Mechanism::All if d.qualifier == Qualifier::Pass => walk.plus_all.push(domain.clone()),
            Mechanism::All if d.qualifier == Qualifier::Neutral && own_result => {
                walk.neutral_all.push(domain.clone())
            }
            Mechanism::Ptr(_) => walk.ptr.push(domain.clone()),
            _ => {}
        }
    }
    // RFC 7208 §6.1: a redirect in a record with an `all` mechanism is never used, so it
    // is neither counted nor followed (the evaluation would not query it either)
    let has_all = record
        .directives
        .iter()
        .any(|d| matches!(d.mechanism, Mechanism::All));
    if has_all && record.redirect.is_some() {
        walk.unused_redirect.push(domain.clone());
    }
    // the top record's missing `all` is said by `check`; one a redirect leads to is as much
    // the domain's own result
    if depth > 0 && own_result && !has_all && record.redirect.is_none() {
        walk.no_all.push(domain.clone());
    }
    let redirect = record.redirect.as_ref().filter(|_| !has_all);
    if redirect.is_some() {
        own += 1;
        terms.push("redirect".into());
    }
    walk.lookups += own;
    let indent = "  ".repeat(depth);
    if let Some(line) = walk.lines.get_mut(line_index) {
        *line = format!("{indent}{domain}: {own} lookup(s){}", list(&terms));
    }
    if depth >= MAX_DEPTH || walk.records >= MAX_RECORDS {
        return;
    }
    for d in directives {
        match &d.mechanism {
            Mechanism::Include(target) => {
                follow(app, &domain, target, depth, false, walk, "include").await;
            }
            Mechanism::A { domain: target, .. } => {
                let name = literal(target.as_ref(), &domain);
                if let Some(name) = name {
                    void_check_a(app, &name, walk).await;
                }
            }
            Mechanism::Mx { domain: target, .. } => {
                if let Some(name) = literal(target.as_ref(), &domain) {
                    match app.resolver.mx(&name).await {
                        Err(e) if e.is_not_found() => walk.voids += 1,
                        Err(e) => note_unchecked(walk, &name, e),
                        Ok(_) => {}
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(target) = redirect {
        follow(app, &domain, target, depth, own_result, walk, "redirect").await;
    }
}

/// Follows an include or redirect target (a literal domain; macros cannot be followed).
async fn follow(
    app: &App,
    from: &str,
    target: &spf::MacroString,
    depth: usize,
    own_result: bool,
    walk: &mut Walk,
    how: &str,
) {
    let Some(name) = literal(Some(target), from) else {
        let indent = "  ".repeat(depth + 1);
        walk.lines.push(format!(
            "{indent}{}: uses macros, resolved per message (not followed)",
            String::from_utf8_lossy(target.as_bytes())
        ));
        return;
    };
    if walk.path.contains(&name) {
        walk.broken.push(format!(
            "{how}:{name} in {from} loops back to a record that includes it"
        ));
        return;
    }
    let txts = match app.resolver.txt(&name).await {
        Ok(t) => t,
        Err(e) if e.is_not_found() => {
            walk.voids += 1;
            walk.broken.push(format!(
                "{how}:{name} in {from}: {name} has no SPF record, which is permerror for {}",
                reached(how)
            ));
            return;
        }
        Err(e) => {
            note_unchecked(walk, &name, e);
            return;
        }
    };
    let parsed = match spf::record::select_record(&name, &txts) {
        Ok(Some(raw)) => spf::Record::parse(raw).map_err(|e| e.to_string()),
        Ok(None) => Err("no SPF record".to_string()),
        Err(e) => Err(e.to_string()),
    };
    match parsed {
        Ok(record) => walk_record(app, name, record, depth + 1, own_result, walk).await,
        Err(e) => walk.broken.push(format!(
            "{how}:{name} in {from}: {e}, which is permerror for {}",
            reached(how)
        )),
    }
}

async fn void_check_a(app: &App, name: &str, walk: &mut Walk) {
    let a = app.resolver.a(name).await;
    let aaaa = app.resolver.aaaa(name).await;
    // a temporary failure of either is "could not check", whatever the other says
    let temporary = |e: Option<&DnsError>| e.filter(|e| !e.is_not_found()).cloned();
    let failed = temporary(a.as_ref().err()).or_else(|| temporary(aaaa.as_ref().err()));
    match (a, aaaa) {
        _ if failed.is_some() => {
            if let Some(e) = failed {
                note_unchecked(walk, name, e);
            }
        }
        (Err(_), Err(_)) => walk.voids += 1,
        _ => {}
    }
}

fn note_unchecked(walk: &mut Walk, name: &str, e: DnsError) {
    if walk.unchecked.is_none() {
        walk.unchecked = Some((format!("part of the include tree ({name})"), e));
    }
}

/// A domain-spec without macros, as a name (`None`: the current domain for `a`/`mx`).
fn literal(target: Option<&spf::MacroString>, current: &str) -> Option<String> {
    let Some(t) = target else {
        return Some(current.to_string());
    };
    if t.tokens()
        .iter()
        .any(|tok| matches!(tok, spf::macros::Token::Macro(_)))
    {
        return None;
    }
    Some(
        String::from_utf8_lossy(t.as_bytes())
            .trim_end_matches('.')
            .to_ascii_lowercase(),
    )
}

fn list(terms: &[String]) -> String {
    if terms.is_empty() {
        String::new()
    } else {
        format!(" ({})", terms.join(" "))
    }
}

/// The senders an `include` or `redirect` target is evaluated for: an include where it stands
/// (RFC 7208 §5.2), a redirect only when no mechanism of the record matched (§6.1).
fn reached(how: &str) -> &'static str {
    if how == "redirect" {
        "every sender no mechanism of the record matches (RFC 7208 §6.1)"
    } else {
        "every sender the terms before it do not match (RFC 7208 §5.2)"
    }
}
