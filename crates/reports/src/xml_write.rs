//! Writing aggregate reports as XML: the RFC 9990 schema (Appendix A, default) or the older
//! RFC 7489 schema (Appendix C).
//!
//! Text is written so that the output is well-formed XML whatever the input: characters XML 1.0
//! does not allow (C0 controls other than TAB and LF, CR, DEL, U+FFFE, U+FFFF) are replaced
//! by U+FFFD, surrounding whitespace is trimmed (the parser trims too), and `&`, `<`, `>`,
//! quotes are escaped by quick-xml.
//!
//! Where the two schemas differ, values are mapped to the chosen one:
//! - RFC 9990: one `error` element (several are joined with `"; "`), one `spf` result (the
//!   first), `scope` only when it is `mfrom`; override types `forwarded` and `sampled_out`
//!   become `other` with the type in front of the comment.
//! - RFC 7489: no namespace (as real RFC 7489 reports are written), `version` 1.0, IPv6
//!   addresses in full 8-group form (the XSD pattern has no `::`), `disposition` `pass` is
//!   written `none`, `policy_test_mode` becomes `other`, SPF `policy` becomes `neutral`,
//!   `sp`, `pct` and `fo` always present, an `spf` element always present (`none` for the
//!   envelope domain when no SPF check was made), no `generator`, `np`, `testing`,
//!   `discovery_method` or SPF `human_result`.

use std::borrow::Cow;
use std::net::IpAddr;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::{Deserialize, Serialize};

use crate::error::ReportsError;
use crate::feedback::{Feedback, PolicyPublished, Record, ReportMetadata};
use crate::observation::OverrideReason;
use crate::vocabulary::{ActionDisposition, OverrideType, SpfResult, SpfScope};

/// The RFC 9990 XML namespace (RFC 9990 §6.1).
pub const NAMESPACE_RFC9990: &str = "urn:ietf:params:xml:ns:dmarc-2.0";
/// The RFC 7489 XSD's target namespace (RFC 7489 Appendix C); real reports rarely use it.
pub const NAMESPACE_RFC7489: &str = "http://dmarc.org/dmarc-xml/0.1";

/// Which schema to write (RFC 9990 Appendix A or RFC 7489 Appendix C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// RFC 9990, namespace `urn:ietf:params:xml:ns:dmarc-2.0`.
    #[default]
    Rfc9990,
    /// RFC 7489 Appendix C, for consumers that only read the old format.
    Rfc7489,
}

/// Makes `s` safe as XML 1.0 character data (before escaping): characters outside the XML
/// `Char` production, CR and DEL become U+FFFD; leading and trailing whitespace is removed.
pub fn sanitize_text(s: &str) -> Cow<'_, str> {
    let bad = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{B}'..='\u{1F}' | '\u{7F}' | '\u{FFFE}' | '\u{FFFF}');
    let trimmed = s.trim();
    if trimmed.chars().any(bad) {
        Cow::Owned(
            trimmed
                .chars()
                .map(|c| if bad(c) { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(trimmed)
    }
}

/// Writes `feedback` as an XML document in `format` (RFC 9990 Appendix A / RFC 7489
/// Appendix C). Errors with [`ReportsError::NoRecords`] when there is no record.
pub fn write_feedback(feedback: &Feedback, format: ReportFormat) -> Result<Vec<u8>, ReportsError> {
    if feedback.records.is_empty() {
        return Err(ReportsError::NoRecords);
    }
    let mut x = Xml {
        w: Writer::new_with_indent(Vec::new(), b' ', 2),
    };
    x.w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(io_error)?;
    let mut root = BytesStart::new("feedback");
    if format == ReportFormat::Rfc9990 {
        root.push_attribute(("xmlns", NAMESPACE_RFC9990));
    }
    x.start(root)?;
    x.leaf("version", "1.0")?;
    write_metadata(&mut x, &feedback.metadata, format)?;
    write_policy(&mut x, &feedback.policy, format)?;
    for record in &feedback.records {
        write_record(&mut x, record, format)?;
    }
    x.end("feedback")?;
    let mut out = x.w.into_inner();
    out.push(b'\n');
    Ok(out)
}

fn io_error(e: std::io::Error) -> ReportsError {
    ReportsError::Write(e.to_string())
}

struct Xml {
    w: Writer<Vec<u8>>,
}

impl Xml {
    fn start(&mut self, tag: BytesStart<'_>) -> Result<(), ReportsError> {
        self.w.write_event(Event::Start(tag)).map_err(io_error)
    }

    fn open(&mut self, name: &str) -> Result<(), ReportsError> {
        self.start(BytesStart::new(name))
    }

    fn end(&mut self, name: &str) -> Result<(), ReportsError> {
        self.w
            .write_event(Event::End(BytesEnd::new(name)))
            .map_err(io_error)
    }

    /// `<name>text</name>` (`<name></name>` for empty text).
    fn leaf(&mut self, name: &str, text: &str) -> Result<(), ReportsError> {
        let clean = sanitize_text(text);
        self.w
            .create_element(name)
            .write_text_content(BytesText::new(&clean))
            .map(|_| ())
            .map_err(io_error)
    }

    fn opt_leaf(&mut self, name: &str, text: Option<&str>) -> Result<(), ReportsError> {
        match text {
            Some(t) => self.leaf(name, t),
            None => Ok(()),
        }
    }
}

fn write_metadata(
    x: &mut Xml,
    m: &ReportMetadata,
    format: ReportFormat,
) -> Result<(), ReportsError> {
    x.open("report_metadata")?;
    x.leaf("org_name", &m.org_name)?;
    x.leaf("email", &m.email)?;
    x.opt_leaf("extra_contact_info", m.extra_contact_info.as_deref())?;
    x.leaf("report_id", &m.report_id)?;
    x.open("date_range")?;
    x.leaf("begin", &m.date_range.begin.to_string())?;
    x.leaf("end", &m.date_range.end.to_string())?;
    x.end("date_range")?;
    match format {
        ReportFormat::Rfc9990 => {
            let errors: Vec<String> = m
                .errors
                .iter()
                .map(|e| sanitize_text(e).into_owned())
                .filter(|e| !e.is_empty())
                .collect();
            if !errors.is_empty() {
                x.leaf("error", &errors.join("; "))?;
            }
            x.opt_leaf("generator", m.generator.as_deref())?;
        }
        ReportFormat::Rfc7489 => {
            for e in &m.errors {
                x.leaf("error", e)?;
            }
        }
    }
    x.end("report_metadata")
}

fn write_policy(
    x: &mut Xml,
    p: &PolicyPublished,
    format: ReportFormat,
) -> Result<(), ReportsError> {
    x.open("policy_published")?;
    x.leaf("domain", &p.domain)?;
    match format {
        ReportFormat::Rfc9990 => {
            x.opt_leaf("discovery_method", p.discovery_method.map(|d| d.as_str()))?;
            x.leaf("p", p.p.as_str())?;
            x.opt_leaf("sp", p.sp.map(|d| d.as_str()))?;
            x.opt_leaf("np", p.np.map(|d| d.as_str()))?;
            x.opt_leaf("fo", p.fo.as_deref())?;
            x.opt_leaf("adkim", p.adkim.map(|a| a.as_str()))?;
            x.opt_leaf("aspf", p.aspf.map(|a| a.as_str()))?;
            x.opt_leaf("testing", p.testing.map(|t| if t { "y" } else { "n" }))?;
        }
        ReportFormat::Rfc7489 => {
            x.opt_leaf("adkim", p.adkim.map(|a| a.as_str()))?;
            x.opt_leaf("aspf", p.aspf.map(|a| a.as_str()))?;
            x.leaf("p", p.p.as_str())?;
            x.leaf("sp", p.sp.unwrap_or(p.p).as_str())?;
            x.leaf("pct", &p.pct.unwrap_or(100).to_string())?;
            x.leaf("fo", p.fo.as_deref().unwrap_or("0"))?;
        }
    }
    x.end("policy_published")
}

/// The address as text: RFC 5952 form, or all eight groups for the RFC 7489 XSD pattern.
fn ip_text(ip: IpAddr, format: ReportFormat) -> String {
    match (ip, format) {
        (IpAddr::V6(v6), ReportFormat::Rfc7489) => v6
            .segments()
            .iter()
            .map(|s| format!("{s:x}"))
            .collect::<Vec<_>>()
            .join(":"),
        _ => ip.to_string(),
    }
}

/// The reason as the chosen schema allows it: types it lacks become `other`, keeping the
/// original type at the front of the comment.
fn reason_for(reason: &OverrideReason, format: ReportFormat) -> OverrideReason {
    let supported = match format {
        ReportFormat::Rfc9990 => reason.kind.in_rfc9990(),
        ReportFormat::Rfc7489 => reason.kind.in_rfc7489(),
    };
    if supported {
        return reason.clone();
    }
    let comment = match reason.comment.as_deref().map(sanitize_text) {
        Some(c) if !c.is_empty() => format!("{}: {c}", reason.kind.as_str()),
        _ => reason.kind.as_str().to_string(),
    };
    OverrideReason {
        kind: OverrideType::Other,
        comment: Some(comment),
    }
}

fn write_record(x: &mut Xml, r: &Record, format: ReportFormat) -> Result<(), ReportsError> {
    x.open("record")?;
    x.open("row")?;
    x.leaf("source_ip", &ip_text(r.row.source_ip, format))?;
    x.leaf("count", &r.row.count.to_string())?;
    let pe = &r.row.policy_evaluated;
    x.open("policy_evaluated")?;
    let disposition = match (pe.disposition, format) {
        (ActionDisposition::Pass, ReportFormat::Rfc7489) => ActionDisposition::None,
        (d, _) => d,
    };
    x.leaf("disposition", disposition.as_str())?;
    x.leaf("dkim", pe.dkim.as_str())?;
    x.leaf("spf", pe.spf.as_str())?;
    for reason in &pe.reasons {
        let reason = reason_for(reason, format);
        x.open("reason")?;
        x.leaf("type", reason.kind.as_str())?;
        x.opt_leaf("comment", reason.comment.as_deref())?;
        x.end("reason")?;
    }
    x.end("policy_evaluated")?;
    x.end("row")?;

    let id = &r.identifiers;
    x.open("identifiers")?;
    match format {
        ReportFormat::Rfc9990 => {
            x.leaf("header_from", &id.header_from)?;
            x.opt_leaf("envelope_from", id.envelope_from.as_deref())?;
            x.opt_leaf("envelope_to", id.envelope_to.as_deref())?;
        }
        ReportFormat::Rfc7489 => {
            x.opt_leaf("envelope_to", id.envelope_to.as_deref())?;
            x.leaf("envelope_from", id.envelope_from.as_deref().unwrap_or(""))?;
            x.leaf("header_from", &id.header_from)?;
        }
    }
    x.end("identifiers")?;

    x.open("auth_results")?;
    for d in &r.auth_results.dkim {
        x.open("dkim")?;
        x.leaf("domain", &d.domain)?;
        match format {
            ReportFormat::Rfc9990 => x.leaf("selector", d.selector.as_deref().unwrap_or(""))?,
            ReportFormat::Rfc7489 => x.opt_leaf("selector", d.selector.as_deref())?,
        }
        x.leaf("result", d.result.as_str())?;
        x.opt_leaf("human_result", d.human_result.as_deref())?;
        x.end("dkim")?;
    }
    match format {
        ReportFormat::Rfc9990 => {
            if let Some(s) = r.auth_results.spf.first() {
                x.open("spf")?;
                x.leaf("domain", &s.domain)?;
                if s.scope == Some(SpfScope::MailFrom) {
                    x.leaf("scope", SpfScope::MailFrom.as_str())?;
                }
                x.leaf("result", s.result.as_str())?;
                x.opt_leaf("human_result", s.human_result.as_deref())?;
                x.end("spf")?;
            }
        }
        ReportFormat::Rfc7489 => {
            if r.auth_results.spf.is_empty() {
                x.open("spf")?;
                x.leaf("domain", id.envelope_from.as_deref().unwrap_or(""))?;
                x.leaf("scope", SpfScope::MailFrom.as_str())?;
                x.leaf("result", SpfResult::None.as_str())?;
                x.end("spf")?;
            }
            for s in &r.auth_results.spf {
                let result = match s.result {
                    SpfResult::Policy => SpfResult::Neutral,
                    other => other,
                };
                x.open("spf")?;
                x.leaf("domain", &s.domain)?;
                x.leaf("scope", s.scope.unwrap_or(SpfScope::MailFrom).as_str())?;
                x.leaf("result", result.as_str())?;
                x.end("spf")?;
            }
        }
    }
    x.end("auth_results")?;
    x.end("record")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_control_characters() {
        assert_eq!(
            sanitize_text("  a\u{0}b\r\nc\u{7f} "),
            "a\u{FFFD}b\u{FFFD}\nc\u{FFFD}"
        );
        assert!(matches!(sanitize_text("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn ipv6_forms() {
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(ip_text(ip, ReportFormat::Rfc9990), "2001:db8::1");
        assert_eq!(ip_text(ip, ReportFormat::Rfc7489), "2001:db8:0:0:0:0:0:1");
    }
}
