//! Parsing aggregate reports others send: RFC 9990 (Appendix A) and RFC 7489 (Appendix C)
//! XML, with or without a namespace or prefix.
//!
//! A streaming reader (quick-xml) feeds a recursive-descent parser that builds the model
//! directly, so memory stays proportional to the report, within [`Limits`]. A `DOCTYPE` is
//! refused (no DTD, so no entity expansion: no billion laughs); only the five predefined
//! entities and character references are understood. The input is UTF-8, UTF-16 with a BOM,
//! or windows-1252 under an ISO-8859-1 or windows-1252 label (`xml_encoding`). Element order,
//! unknown elements, extensions, whitespace around values and the case of enumerated values are not held against a report;
//! missing required elements, duplicates of single elements and invalid values are, with an
//! error naming the element.

use std::net::IpAddr;

use crate::error::ReportsError;
use crate::feedback::{
    AuthResults, DateRange, DkimAuthResult, Feedback, Identifiers, PolicyEvaluated,
    PolicyPublished, Record, ReportMetadata, Row, SpfAuthResult,
};
use crate::limits::Limits;
use crate::observation::OverrideReason;
use crate::vocabulary::{
    ActionDisposition, AlignedResult, AlignmentMode, DiscoveryMethod, Disposition, DkimResult,
    OverrideType, SpfResult, SpfScope,
};
use crate::xml_reader::{Child, Cursor};

/// Parses one aggregate report with the default [`Limits`] (RFC 9990 §3.1.1, RFC 7489 §7.2).
pub fn parse_report(xml: &[u8]) -> Result<Feedback, ReportsError> {
    parse_report_with(xml, &Limits::default())
}

/// Parses one aggregate report within `limits`.
pub fn parse_report_with(xml: &[u8], limits: &Limits) -> Result<Feedback, ReportsError> {
    if xml.len() > limits.max_xml_bytes {
        return Err(ReportsError::TooLarge {
            what: "XML document",
            limit: limits.max_xml_bytes as u64,
        });
    }
    let text = crate::xml_encoding::decode(xml, limits.max_xml_bytes)?;
    let mut c = Cursor::new(&text, limits);
    let root = c.root()?;
    if root.name != "feedback" {
        return Err(ReportsError::NotAReport(format!(
            "the root element is <{}>, not <feedback>",
            root.name
        )));
    }
    let feedback = parse_feedback(&mut c, &root)?;
    c.finish()?;
    Ok(feedback)
}

/// Stores a single-valued child, refusing a second one.
fn once<T>(
    slot: &mut Option<T>,
    value: T,
    element: &str,
    parent: &str,
) -> Result<(), ReportsError> {
    if slot.is_some() {
        return Err(ReportsError::DuplicateElement {
            element: element.to_string(),
            parent: parent.to_string(),
        });
    }
    *slot = Some(value);
    Ok(())
}

fn required<T>(slot: Option<T>, element: &str, parent: &str) -> Result<T, ReportsError> {
    slot.ok_or_else(|| ReportsError::MissingElement {
        element: element.to_string(),
        parent: parent.to_string(),
    })
}

fn invalid(element: &str, value: &str) -> ReportsError {
    ReportsError::InvalidValue {
        element: element.to_string(),
        value: value.chars().take(64).collect(),
    }
}

fn push_bounded<T>(
    list: &mut Vec<T>,
    value: T,
    what: &'static str,
    limit: usize,
) -> Result<(), ReportsError> {
    if list.len() >= limit {
        return Err(ReportsError::TooMany { what, limit });
    }
    list.push(value);
    Ok(())
}

/// A token of one of the vocabularies.
fn token<T>(value: &str, element: &str, parse: fn(&str) -> Option<T>) -> Result<T, ReportsError> {
    parse(value).ok_or_else(|| invalid(element, value))
}

/// The digits of a non-negative XML Schema integer (XML Schema Part 2 §3.3.13, §3.3.20): an
/// optional `+`, or `-` before a zero (`-0`); `None` for any other sign.
fn unsigned_digits(value: &str) -> Option<&str> {
    match value.as_bytes().first() {
        Some(b'+') => value.get(1..),
        Some(b'-') => value
            .get(1..)
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b == b'0')),
        _ => Some(value),
    }
}

/// Seconds since the epoch (RFC 9990 Appendix A: xs:integer, so `+` may lead); a fractional
/// part (`1337270400.0`, seen in the wild) is dropped.
fn timestamp(value: &str, element: &str) -> Result<u64, ReportsError> {
    let digits_only = unsigned_digits(value).ok_or_else(|| invalid(element, value))?;
    let (int, frac) = digits_only.split_once('.').unwrap_or((digits_only, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) {
        return Err(invalid(element, value));
    }
    int.parse().map_err(|_| invalid(element, value))
}

/// The largest `count` of one row believed (RFC 9990 §3.1.1.8): over four billion messages
/// from one source in one report is no real report, and the store sums counts as 64-bit
/// integers, which a few records near that limit would overflow (RFC 9990 §8.1).
pub const MAX_ROW_COUNT: u64 = u32::MAX as u64;

/// The longest `org_name` and `report_id` taken, bytes: together the unique key of a stored
/// report, which PostgreSQL indexes in at most 2704 bytes (RFC 9990 §8.1; real ones are
/// under 100).
pub const MAX_KEY_LEN: usize = 1024;
/// The longest DKIM `domain` and `selector` taken, bytes: the key of the selector rollup
/// (a selector and a domain are DNS names of at most 253 octets, RFC 6376 §3.1, §3.6.2.1).
pub const MAX_DKIM_NAME_LEN: usize = 512;

/// `value` unless it is longer than `limit` bytes.
fn key_text(value: String, element: &str, limit: usize) -> Result<String, ReportsError> {
    if value.len() > limit {
        return Err(ReportsError::FieldTooLong {
            element: element.to_string(),
            limit,
        });
    }
    Ok(value)
}

/// A non-negative integer (`count` xs:integer, `pct` xs:unsignedByte; RFC 9990 Appendix A),
/// in any of its schema lexical forms: `+3`, `003`, `-0`.
fn count(value: &str, element: &str) -> Result<u64, ReportsError> {
    let digits = unsigned_digits(value).ok_or_else(|| invalid(element, value))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(element, value));
    }
    digits.parse().map_err(|_| invalid(element, value))
}

fn parse_feedback(c: &mut Cursor<'_, '_>, root: &Child) -> Result<Feedback, ReportsError> {
    let p = "feedback";
    let (mut version, mut metadata, mut policy) = (None, None, None);
    let mut records = Vec::new();
    while let Some(el) = c.next_child(root)? {
        match el.name.as_str() {
            "version" => once(&mut version, c.text(&el)?, "version", p)?,
            "report_metadata" => once(&mut metadata, parse_metadata(c, &el)?, &el.name, p)?,
            "policy_published" => once(&mut policy, parse_policy(c, &el)?, &el.name, p)?,
            "record" => {
                let record = parse_record(c, &el)?;
                push_bounded(&mut records, record, "records", c.limits.max_records)?;
            }
            _ => c.skip(&el)?,
        }
    }
    if records.is_empty() {
        return Err(ReportsError::MissingElement {
            element: "record".into(),
            parent: p.into(),
        });
    }
    Ok(Feedback {
        version,
        metadata: required(metadata, "report_metadata", p)?,
        policy: required(policy, "policy_published", p)?,
        records,
    })
}

fn parse_metadata(c: &mut Cursor<'_, '_>, el: &Child) -> Result<ReportMetadata, ReportsError> {
    let p = "report_metadata";
    let (mut org_name, mut email, mut extra, mut report_id) = (None, None, None, None);
    let (mut range, mut generator) = (None, None);
    let mut errors = Vec::new();
    while let Some(ch) = c.next_child(el)? {
        match ch.name.as_str() {
            "org_name" => {
                let v = key_text(c.text(&ch)?, "org_name", MAX_KEY_LEN)?;
                once(&mut org_name, v, "org_name", p)?;
            }
            "email" => once(&mut email, c.text(&ch)?, "email", p)?,
            "extra_contact_info" => once(&mut extra, c.text(&ch)?, "extra_contact_info", p)?,
            "report_id" => {
                let v = key_text(c.text(&ch)?, "report_id", MAX_KEY_LEN)?;
                once(&mut report_id, v, "report_id", p)?;
            }
            "generator" => once(&mut generator, c.text(&ch)?, "generator", p)?,
            "date_range" => once(&mut range, parse_range(c, &ch)?, "date_range", p)?,
            "error" => {
                let text = c.text(&ch)?;
                push_bounded(&mut errors, text, "errors", c.limits.max_list_len)?;
            }
            _ => c.skip(&ch)?,
        }
    }
    Ok(ReportMetadata {
        org_name: required(org_name, "org_name", p)?,
        email: required(email, "email", p)?,
        extra_contact_info: extra,
        report_id: required(report_id, "report_id", p)?,
        date_range: required(range, "date_range", p)?,
        errors,
        generator,
    })
}

fn parse_range(c: &mut Cursor<'_, '_>, el: &Child) -> Result<DateRange, ReportsError> {
    let p = "date_range";
    let (mut begin, mut end) = (None, None);
    while let Some(ch) = c.next_child(el)? {
        match ch.name.as_str() {
            "begin" => once(&mut begin, timestamp(&c.text(&ch)?, "begin")?, "begin", p)?,
            "end" => once(&mut end, timestamp(&c.text(&ch)?, "end")?, "end", p)?,
            _ => c.skip(&ch)?,
        }
    }
    Ok(DateRange {
        begin: required(begin, "begin", p)?,
        end: required(end, "end", p)?,
    })
}

fn parse_policy(c: &mut Cursor<'_, '_>, el: &Child) -> Result<PolicyPublished, ReportsError> {
    let pp = "policy_published";
    let (mut domain, mut method, mut p, mut sp, mut np) = (None, None, None, None, None);
    let (mut adkim, mut aspf, mut pct, mut fo, mut testing) = (None, None, None, None, None);
    while let Some(ch) = c.next_child(el)? {
        let name = ch.name.clone();
        let n = name.as_str();
        // an optional element written empty (`<sp></sp>`: Yahoo) is one not written
        let optional =
            |c: &mut Cursor<'_, '_>| c.text(&ch).map(|t| Some(t).filter(|t| !t.is_empty()));
        match n {
            "domain" => once(&mut domain, c.text(&ch)?, n, pp)?,
            "discovery_method" => {
                let Some(text) = optional(c)? else { continue };
                let v = token(&text, n, DiscoveryMethod::from_token)?;
                once(&mut method, v, n, pp)?;
            }
            "p" | "sp" | "np" => {
                let text = match n {
                    "p" => c.text(&ch)?,
                    _ => match optional(c)? {
                        Some(text) => text,
                        None => continue,
                    },
                };
                let v = token(&text, n, Disposition::from_token)?;
                let slot = match n {
                    "p" => &mut p,
                    "sp" => &mut sp,
                    _ => &mut np,
                };
                once(slot, v, n, pp)?;
            }
            "adkim" | "aspf" => {
                let Some(text) = optional(c)? else { continue };
                let v = token(&text, n, AlignmentMode::from_token)?;
                once(if n == "adkim" { &mut adkim } else { &mut aspf }, v, n, pp)?;
            }
            "pct" => {
                let Some(text) = optional(c)? else { continue };
                let v = count(&text, n)
                    .ok()
                    .and_then(|v| u8::try_from(v).ok())
                    .filter(|&v| v <= 100)
                    .ok_or_else(|| invalid(n, &text))?;
                once(&mut pct, v, n, pp)?;
            }
            "fo" => once(&mut fo, c.text(&ch)?, n, pp)?,
            "testing" | "t" => {
                let Some(text) = optional(c)? else { continue };
                let v = match text.to_ascii_lowercase().as_str() {
                    "y" => true,
                    "n" => false,
                    _ => return Err(invalid(n, &text)),
                };
                once(&mut testing, v, "testing", pp)?;
            }
            _ => c.skip(&ch)?,
        }
    }
    let domain = required(domain, "domain", pp)?;
    // RFC 9990 §3.1.1.9: the domain whose record was used; the store and the dashboard key
    // everything by it ([`PolicyPublished::domain_key`]), so a string that is no domain name
    // makes the report malformed. It is kept as written: the store identifies a report by a
    // digest of what was parsed, which must not change between versions
    if PolicyPublished::key_of(&domain).is_none() {
        return Err(invalid("domain", &domain));
    }
    Ok(PolicyPublished {
        domain,
        discovery_method: method,
        p: required(p, "p", pp)?,
        sp,
        np,
        adkim,
        aspf,
        pct,
        fo,
        testing,
    })
}

fn parse_record(c: &mut Cursor<'_, '_>, el: &Child) -> Result<Record, ReportsError> {
    let p = "record";
    let (mut row, mut identifiers, mut auth) = (None, None, None);
    while let Some(ch) = c.next_child(el)? {
        match ch.name.as_str() {
            "row" => once(&mut row, parse_row(c, &ch)?, "row", p)?,
            // `identities`: the name in early DMARC drafts, still sent by some reporters
            "identifiers" | "identities" => once(
                &mut identifiers,
                parse_identifiers(c, &ch)?,
                "identifiers",
                p,
            )?,
            "auth_results" => once(&mut auth, parse_auth_results(c, &ch)?, "auth_results", p)?,
            _ => c.skip(&ch)?,
        }
    }
    Ok(Record {
        row: required(row, "row", p)?,
        identifiers: required(identifiers, "identifiers", p)?,
        auth_results: required(auth, "auth_results", p)?,
    })
}

fn parse_row(c: &mut Cursor<'_, '_>, el: &Child) -> Result<Row, ReportsError> {
    let p = "row";
    let (mut ip, mut n, mut evaluated) = (None, None, None);
    while let Some(ch) = c.next_child(el)? {
        match ch.name.as_str() {
            "source_ip" => {
                let text = c.text(&ch)?;
                let addr: IpAddr = text.parse().map_err(|_| invalid("source_ip", &text))?;
                once(&mut ip, addr, "source_ip", p)?;
            }
            "count" => {
                let text = c.text(&ch)?;
                let v = count(&text, "count")?;
                if v > MAX_ROW_COUNT {
                    return Err(invalid("count", &text));
                }
                once(&mut n, v, "count", p)?;
            }
            "policy_evaluated" => {
                once(
                    &mut evaluated,
                    parse_evaluated(c, &ch)?,
                    "policy_evaluated",
                    p,
                )?;
            }
            _ => c.skip(&ch)?,
        }
    }
    Ok(Row {
        source_ip: required(ip, "source_ip", p)?,
        count: required(n, "count", p)?,
        policy_evaluated: required(evaluated, "policy_evaluated", p)?,
    })
}

fn parse_evaluated(c: &mut Cursor<'_, '_>, el: &Child) -> Result<PolicyEvaluated, ReportsError> {
    let p = "policy_evaluated";
    let (mut disposition, mut dkim, mut spf) = (None, None, None);
    let mut reasons = Vec::new();
    while let Some(ch) = c.next_child(el)? {
        let name = ch.name.clone();
        let n = name.as_str();
        match n {
            "disposition" => {
                let v = token(&c.text(&ch)?, n, ActionDisposition::from_token)?;
                once(&mut disposition, v, n, p)?;
            }
            "dkim" | "spf" => {
                let v = token(&c.text(&ch)?, n, AlignedResult::from_token)?;
                once(if n == "dkim" { &mut dkim } else { &mut spf }, v, n, p)?;
            }
            "reason" => {
                if let Some(r) = parse_reason(c, &ch)? {
                    push_bounded(&mut reasons, r, "reasons", c.limits.max_list_len)?;
                }
            }
            _ => c.skip(&ch)?,
        }
    }
    Ok(PolicyEvaluated {
        disposition: required(disposition, "disposition", p)?,
        dkim: required(dkim, "dkim", p)?,
        spf: required(spf, "spf", p)?,
        reasons,
    })
}

/// One `reason` (RFC 9990 §3.1.1.14), or `None` for one whose `type` and `comment` are both
/// empty or absent (`<reason><type></type><comment></comment></reason>`, as some reporters
/// write for "no reason"): it says nothing, and refusing the whole report over it would lose
/// the report. An empty or absent `type` beside a comment is `other` ("see the comment"); a
/// reason that is text alone (`<reason>sampled_out</reason>`, rspamd before 1.9) has that
/// text as its type.
fn parse_reason(
    c: &mut Cursor<'_, '_>,
    el: &Child,
) -> Result<Option<OverrideReason>, ReportsError> {
    let p = "reason";
    let (mut kind, mut comment) = (None::<String>, None::<String>);
    let mut text = Some(String::new());
    while let Some(ch) = c.next_child_or_text(el, &mut text)? {
        match ch.name.as_str() {
            "type" => once(&mut kind, c.text(&ch)?, "type", p)?,
            "comment" => once(&mut comment, c.text(&ch)?, "comment", p)?,
            _ => c.skip(&ch)?,
        }
    }
    let blank = |v: &Option<String>| v.as_deref().is_none_or(str::is_empty);
    // rspamd before 1.9: `<reason>sampled_out</reason>`, the type as the reason's text
    let text = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    if blank(&kind) && blank(&comment) && text.is_some() {
        kind = text;
    }
    if blank(&kind) && blank(&comment) {
        return Ok(None);
    }
    let kind = match kind.filter(|k| !k.is_empty()) {
        Some(k) => token(&k, "type", OverrideType::from_token)?,
        None => OverrideType::Other,
    };
    Ok(Some(OverrideReason { kind, comment }))
}

fn parse_identifiers(c: &mut Cursor<'_, '_>, el: &Child) -> Result<Identifiers, ReportsError> {
    let p = "identifiers";
    let (mut header_from, mut envelope_from, mut envelope_to) = (None, None, None);
    while let Some(ch) = c.next_child(el)? {
        match ch.name.as_str() {
            "header_from" => once(&mut header_from, c.text(&ch)?, "header_from", p)?,
            "envelope_from" => once(&mut envelope_from, c.text(&ch)?, "envelope_from", p)?,
            "envelope_to" => once(&mut envelope_to, c.text(&ch)?, "envelope_to", p)?,
            _ => c.skip(&ch)?,
        }
    }
    Ok(Identifiers {
        header_from: required(header_from, "header_from", p)?,
        envelope_from,
        envelope_to,
    })
}

fn parse_auth_results(c: &mut Cursor<'_, '_>, el: &Child) -> Result<AuthResults, ReportsError> {
    let mut out = AuthResults::default();
    let limit = c.limits.max_list_len;
    while let Some(ch) = c.next_child(el)? {
        if out.dkim.len() + out.spf.len() >= limit {
            return Err(ReportsError::TooMany {
                what: "authentication results",
                limit,
            });
        }
        match ch.name.as_str() {
            "dkim" => {
                let d = parse_dkim(c, &ch)?;
                out.dkim.push(d);
            }
            "spf" => {
                let s = parse_spf(c, &ch)?;
                out.spf.push(s);
            }
            _ => c.skip(&ch)?,
        }
    }
    Ok(out)
}

fn parse_dkim(c: &mut Cursor<'_, '_>, el: &Child) -> Result<DkimAuthResult, ReportsError> {
    let p = "dkim";
    let (mut domain, mut selector, mut result, mut human) = (None, None, None, None);
    while let Some(ch) = c.next_child(el)? {
        match ch.name.as_str() {
            "domain" => {
                let v = key_text(c.text(&ch)?, "domain", MAX_DKIM_NAME_LEN)?;
                once(&mut domain, v, "domain", p)?;
            }
            "selector" => {
                let v = key_text(c.text(&ch)?, "selector", MAX_DKIM_NAME_LEN)?;
                once(&mut selector, v, "selector", p)?;
            }
            "result" => {
                let v = token(&c.text(&ch)?, "result", DkimResult::from_token)?;
                once(&mut result, v, "result", p)?;
            }
            "human_result" => once(&mut human, c.text(&ch)?, "human_result", p)?,
            _ => c.skip(&ch)?,
        }
    }
    Ok(DkimAuthResult {
        domain: required(domain, "domain", p)?,
        selector,
        result: required(result, "result", p)?,
        human_result: human,
    })
}

fn parse_spf(c: &mut Cursor<'_, '_>, el: &Child) -> Result<SpfAuthResult, ReportsError> {
    let p = "spf";
    let (mut domain, mut scope, mut result, mut human) = (None, None, None, None);
    while let Some(ch) = c.next_child(el)? {
        match ch.name.as_str() {
            "domain" => once(&mut domain, c.text(&ch)?, "domain", p)?,
            "scope" => {
                let v = token(&c.text(&ch)?, "scope", SpfScope::from_token)?;
                once(&mut scope, v, "scope", p)?;
            }
            "result" => {
                let v = token(&c.text(&ch)?, "result", SpfResult::from_token)?;
                once(&mut result, v, "result", p)?;
            }
            "human_result" => once(&mut human, c.text(&ch)?, "human_result", p)?,
            _ => c.skip(&ch)?,
        }
    }
    Ok(SpfAuthResult {
        // zoho.com leaves it out of `helo` results; the result still counts (empty domain)
        domain: domain.unwrap_or_default(),
        scope,
        result: required(result, "result", p)?,
        human_result: human,
    })
}
