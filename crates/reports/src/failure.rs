//! DMARC failure reports (RFC 9991) in the Abuse Reporting Format (RFC 5965, RFC 6591):
//! which reports `fo` asks for, and the `multipart/report; report-type=feedback-report`
//! message for one failed message.

use serde::{Deserialize, Serialize};

use crate::error::ReportsError;
use crate::message::{
    boundary, checked_address, header, header_safe, iso_utc, rfc5322_date, short_hash,
};
use crate::observation::{DkimFailure, Envelope, Observation};
use crate::redact::RedactionKey;
use crate::vocabulary::{
    Disposition, DkimResult, DmarcResult, FailureOption, Mode, Psd, SpfResult, SpfScope,
};

/// The failure reports due for one message (RFC 9989 §4.7 `fo`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailureTriggers {
    /// A DMARC failure report (`fo=0` or `fo=1`).
    pub dmarc: bool,
    /// An SPF failure report (`fo=s`).
    pub spf: bool,
    /// DKIM failure reports for these signatures (indexes into `Observation::dkim`, `fo=d`).
    pub dkim: Vec<usize>,
}

impl FailureTriggers {
    /// Whether any report is due.
    pub fn any(&self) -> bool {
        self.dmarc || self.spf || !self.dkim.is_empty()
    }

    /// The reports as [`FailureKind`]s, DMARC first.
    pub fn kinds(&self) -> Vec<FailureKind> {
        let mut out = Vec::new();
        if self.dmarc {
            out.push(FailureKind::Dmarc);
        }
        if self.spf {
            out.push(FailureKind::Spf);
        }
        out.extend(self.dkim.iter().map(|&i| FailureKind::Dkim(i)));
        out
    }
}

/// A DKIM result that counts as a failed evaluation for `fo=d`: `fail`, `neutral` (could not
/// be processed) and `permerror`; not `temperror`, `policy`, `none`.
fn dkim_failed(r: DkimResult) -> bool {
    matches!(
        r,
        DkimResult::Fail | DkimResult::Neutral | DkimResult::PermError
    )
}

/// An SPF result that counts as failed for `fo=s`: `fail`, `softfail`, `permerror`.
fn spf_failed(r: SpfResult) -> bool {
    matches!(
        r,
        SpfResult::Fail | SpfResult::SoftFail | SpfResult::PermError
    )
}

/// Which reports the `fo` options ask for, given the results (RFC 9989 §4.7), ignoring
/// whether there is a `ruf`:
/// - `0`: a DMARC report when no mechanism produced an aligned pass (DMARC `fail`);
/// - `1`: a DMARC report when SPF or DKIM did not produce an aligned pass (DMARC evaluated to
///   `pass` or `fail`: no report for `none`, `temperror`, `permerror`);
/// - `d`: a DKIM report for every signature whose evaluation failed, aligned or not;
/// - `s`: an SPF report when SPF failed, aligned or not.
pub fn triggers_for(fo: &[FailureOption], obs: &Observation) -> FailureTriggers {
    let evaluated = matches!(obs.result, DmarcResult::Pass | DmarcResult::Fail);
    let mut t = FailureTriggers::default();
    for option in fo {
        match option {
            FailureOption::All => t.dmarc |= obs.result == DmarcResult::Fail,
            FailureOption::Any => {
                t.dmarc |= evaluated && !(obs.spf_aligned_pass() && obs.dkim_aligned_pass());
            }
            FailureOption::Dkim => {
                t.dkim = obs
                    .dkim
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| dkim_failed(d.result))
                    .map(|(i, _)| i)
                    .collect();
            }
            FailureOption::Spf => t.spf |= obs.spf.as_ref().is_some_and(|s| spf_failed(s.result)),
        }
    }
    t
}

/// The failure reports due for `obs`: none without a `ruf` (`fo` is then ignored, RFC 9989
/// §4.7) or for a `psd=y` record (RFC 9991 §2), else [`triggers_for`] the record's `fo`.
pub fn failure_reports_requested(obs: &Observation) -> FailureTriggers {
    match &obs.published {
        Some(p) if !p.ruf.is_empty() && p.psd != Psd::Yes => triggers_for(&p.fo, obs),
        _ => FailureTriggers::default(),
    }
}

/// Whether the message with header block `header` is itself an ARF report (RFC 5965 §2:
/// `multipart/report; report-type=feedback-report`). No failure report is made about one:
/// two receivers whose failure reports fail DMARC at each other would otherwise trade reports
/// for as long as both fail (RFC 9991 §5.1).
pub fn is_feedback_report(header: &[u8]) -> bool {
    let mut head = header.to_vec();
    head.extend_from_slice(b"\r\n");
    is_feedback_entity(&crate::mime::Entity::parse(&head))
}

/// [`is_feedback_report`] for a parsed message (RFC 5965 §2).
pub(crate) fn is_feedback_entity(entity: &crate::mime::Entity<'_>) -> bool {
    let (kind, params) = entity.content_type();
    kind == "multipart/report"
        && crate::mime::param_value(&params, "report-type")
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("feedback-report"))
}

/// Which failure a report is about (RFC 6591 §3.3 `Auth-Failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// `Auth-Failure: dmarc` (RFC 9991 §4).
    Dmarc,
    /// `Auth-Failure: spf`.
    Spf,
    /// `Auth-Failure: signature` for the DKIM signature at this index of `Observation::dkim`.
    Dkim(usize),
}

/// How much of the failed message to include (RFC 6591 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OriginalContent {
    /// The header only, as `text/rfc822-headers` (the default; RFC 9991 §7 minimization).
    #[default]
    Headers,
    /// The whole message as `message/rfc822` (not with redaction, see [`FailureOptions`]).
    FullMessage,
}

/// How failure reports are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureOptions {
    /// The `From:` address of reports (DMARC-aligned with the signature, RFC 9991 §5.1).
    pub from: String,
    /// Our authserv-id, for the `Authentication-Results` field (RFC 8601 §2.2).
    pub authserv_id: String,
    /// `User-Agent` (RFC 5965 §3.1), e.g. `authmilter/0.1.0`.
    pub user_agent: String,
    /// The reporting MTA's host name (`Reporting-MTA: dns; …`), if wanted.
    pub reporting_mta: Option<String>,
    /// Header only (default) or the whole message.
    pub original: OriginalContent,
    /// Hash local parts (RFC 6590). With a key, the body is never included.
    pub redaction: Option<RedactionKey>,
}

/// The failed message as received.
#[derive(Debug, Clone, Copy)]
pub struct FailedMessage<'a> {
    /// The header block as received (fields with their CRLFs, without the empty line).
    pub header: &'a [u8],
    /// The body, if it may be included.
    pub body: Option<&'a [u8]>,
    /// The SMTP envelope.
    pub envelope: &'a Envelope,
    /// The SPF records used, `(domain, record text)` in the order read, the domain's own
    /// first: one `SPF-DNS` field each (RFC 6591 §3.2.6).
    pub spf_records: &'a [(&'a str, &'a str)],
}

/// A domain name as compared: lowercase, without a final dot.
fn bare_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The `include:` and `redirect=` targets an SPF record writes out (RFC 7208 §5.2, §6.1), as
/// [`bare_name`]s.
fn spf_targets(record: &str) -> impl Iterator<Item = String> + '_ {
    record.split_ascii_whitespace().filter_map(|term| {
        let term = term.to_ascii_lowercase();
        let term = term.trim_start_matches(['+', '-', '~', '?']);
        term.strip_prefix("include:")
            .or_else(|| term.strip_prefix("redirect="))
            .map(bare_name)
    })
}

/// A value for `Authentication-Results` (RFC 8601 §2.2 `value`): a token, else a quoted
/// string; ASCII only (the report part is 7bit, RFC 5965 §7.3), other characters become `?`.
fn ar_value(s: &str) -> String {
    let s: String = header_safe(s)
        .chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect();
    let token = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b));
    if token {
        s
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// A domain name (or DKIM selector) in ASCII: its A-labels (RFC 5890; RFC 8616 §5 has EAI
/// signatures use U-labels), lowercase, at most 253 octets.
fn ascii_name(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_suffix('.').unwrap_or(s);
    let a = idna::domain_to_ascii(s).ok()?;
    let ok = !a.is_empty()
        && a.len() <= 253
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    ok.then_some(a)
}

/// Text for a field of the 7bit report part (RFC 5965 §7.3: "7bit" MUST be used): ASCII as
/// is, any other character as RFC 6533 §3 `EmbeddedUnicodeChar` (`ü` → `\x{FC}`).
fn ascii_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\x{{{:02X}}}", u32::from(c)));
        }
    }
    out
}

/// An envelope address for `Original-Mail-From` / `Original-Rcpt-To` (RFC 5965 §3.5) in
/// ASCII: an SMTPUTF8 address (RFC 6531) gets its domain as A-labels and the rest as
/// [`ascii_text`]; an ASCII address is unchanged.
fn ascii_address(a: &str) -> String {
    match a.rsplit_once('@') {
        Some((local, domain)) if !domain.is_ascii() => format!(
            "{}@{}",
            ascii_text(local),
            ascii_name(domain).unwrap_or_else(|| ascii_text(domain))
        ),
        _ => ascii_text(a),
    }
}

/// A domain for a report field: [`ascii_name`]; else (no domain name at all) its letters,
/// digits, `.`, `-`, `_`, at most 253; `unknown` when none is left.
fn domain_token(s: &str) -> String {
    if let Some(a) = ascii_name(s) {
        return a;
    }
    let d: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(253)
        .collect();
    if d.is_empty() { "unknown".into() } else { d }
}

/// A DKIM selector for a report field: [`ascii_name`]; else (no selector at all) the text as
/// an [`ar_value`], at most 253 characters.
fn selector_value(s: &str) -> String {
    ascii_name(s).unwrap_or_else(|| ar_value(&s.chars().take(253).collect::<String>()))
}

/// The `Identity-Alignment` value: RFC 9991 §4 lists the mechanisms that failed to
/// authenticate an aligned identity; RFC 7489 §7.3.1 those that produced an aligned one.
fn identity_alignment(obs: &Observation) -> String {
    let (dkim, spf) = match obs.mode {
        Mode::Rfc9989 => (
            obs.dkim
                .iter()
                .any(|d| d.aligned && d.result != DkimResult::Pass),
            obs.spf
                .as_ref()
                .is_some_and(|s| s.aligned && s.result != SpfResult::Pass),
        ),
        Mode::Rfc7489 => (obs.dkim_aligned_pass(), obs.spf_aligned_pass()),
    };
    match (dkim, spf) {
        (true, true) => "dkim, spf".into(),
        (true, false) => "dkim".into(),
        (false, true) => "spf".into(),
        (false, false) => "none".into(),
    }
}

/// The complete failure report about `obs` for `kind`, to `to` (RFC 9991 §4, RFC 6591,
/// RFC 5965 §2), as bytes with CRLF line ends. `date` is the `Date:` of the report.
pub fn failure_report_message(
    obs: &Observation,
    kind: FailureKind,
    failed: &FailedMessage<'_>,
    to: &str,
    date: u64,
    opts: &FailureOptions,
) -> Result<Vec<u8>, ReportsError> {
    let to = checked_address(to, "recipient address")?;
    let from = checked_address(&opts.from, "From address")?;
    let redact = opts.redaction.as_ref();
    let addr = |a: &str| -> String {
        let a = header_safe(a);
        ascii_address(&match redact {
            Some(k) => k.redact_address(&a),
            None => a,
        })
    };
    let authserv = domain_token(&opts.authserv_id);
    let header_from = domain_token(&obs.header_from);
    let (auth_failure, auth_results, what) = match kind {
        FailureKind::Dmarc => {
            let policy = obs.requested_policy.unwrap_or(Disposition::None);
            (
                "dmarc".to_string(),
                format!(
                    "{authserv}; dmarc={} (p={policy} dis={}) header.from={header_from}",
                    obs.result, obs.disposition
                ),
                format!("DMARC {} for {header_from}", obs.result),
            )
        }
        FailureKind::Spf => {
            let spf = obs.spf.as_ref().ok_or(ReportsError::InvalidInput {
                what: "SPF failure report without an SPF result",
                value: String::new(),
            })?;
            let property = match spf.scope {
                SpfScope::MailFrom => "smtp.mailfrom",
                SpfScope::Helo => "smtp.helo",
            };
            (
                "spf".to_string(),
                format!(
                    "{authserv}; spf={} {property}={}",
                    spf.result,
                    ar_value(&ascii_name(&spf.domain).unwrap_or_else(|| spf.domain.clone()))
                ),
                format!("SPF {} for {}", spf.result, domain_token(&spf.domain)),
            )
        }
        FailureKind::Dkim(i) => {
            let sig = obs.dkim.get(i).ok_or(ReportsError::InvalidInput {
                what: "DKIM signature index",
                value: i.to_string(),
            })?;
            // RFC 6591 §3.3: a body hash mismatch and a revoked key are types of their own
            let failure = sig.failure.map_or("signature", DkimFailure::auth_failure);
            let comment = match sig.failure {
                Some(f) => format!(" ({})", f.auth_failure()),
                None => String::new(),
            };
            (
                failure.to_string(),
                format!(
                    "{authserv}; dkim={}{comment} header.d={} header.s={}",
                    sig.result,
                    ar_value(&domain_token(&sig.domain)),
                    selector_value(&sig.selector)
                ),
                format!(
                    "DKIM {} for d={} s={}",
                    sig.result,
                    domain_token(&sig.domain),
                    selector_value(&sig.selector)
                ),
            )
        }
    };

    // the machine-readable part (RFC 5965 §3, RFC 6591 §3, RFC 9991 §4)
    let mut report = String::new();
    report.push_str("Feedback-Type: auth-failure\r\nVersion: 1\r\n");
    report.push_str(&field("User-Agent", &opts.user_agent));
    report.push_str(&field("Auth-Failure", &auth_failure));
    report.push_str(&field("Authentication-Results", &auth_results));
    if kind == FailureKind::Dmarc {
        report.push_str(&field("Identity-Alignment", &identity_alignment(obs)));
    }
    let dkim_sig = match kind {
        FailureKind::Dkim(i) => obs.dkim.get(i),
        // RFC 9991 §4: required for a DKIM failure of an aligned identifier
        FailureKind::Dmarc => obs
            .dkim
            .iter()
            .find(|d| d.aligned && d.result != DkimResult::Pass),
        FailureKind::Spf => None,
    };
    if let Some(sig) = dkim_sig {
        report.push_str(&field("DKIM-Domain", &domain_token(&sig.domain)));
        report.push_str(&field(
            "DKIM-Identity",
            &format!("@{}", domain_token(&sig.domain)),
        ));
        report.push_str(&field("DKIM-Selector", &selector_value(&sig.selector)));
    }
    let spf_dns_due = match kind {
        FailureKind::Spf => true,
        FailureKind::Dmarc => obs
            .spf
            .as_ref()
            .is_some_and(|s| s.aligned && s.result != SpfResult::Pass),
        FailureKind::Dkim(_) => false,
    };
    if spf_dns_due {
        // redacted (RFC 6590), a record is named only where its name is the SPF domain's own
        // or an include or redirect target written out in a record already named: a name
        // made of `%{l}` or `%{s}` holds the local part in clear (`bob.u.example`)
        let own = obs.spf.as_ref().map(|s| bare_name(&s.domain));
        let mut named: Vec<&str> = Vec::new();
        for (domain, record) in failed.spf_records {
            let name = bare_name(domain);
            let known = own.as_deref() == Some(name.as_str())
                || named
                    .iter()
                    .any(|text| spf_targets(text).any(|t| t == name));
            if redact.is_some() && !known {
                continue;
            }
            named.push(record);
            report.push_str(&field(
                "SPF-DNS",
                &format!("txt : {} : {}", domain_token(domain), ar_value(record)),
            ));
        }
    }
    let env = failed.envelope;
    if let Some(id) = env.envelope_id.as_deref().filter(|s| !s.is_empty()) {
        report.push_str(&field("Original-Envelope-Id", &ascii_text(id)));
    }
    report.push_str(&field(
        "Original-Mail-From",
        &format!("<{}>", addr(&env.mail_from)),
    ));
    for rcpt in &env.rcpt_to {
        report.push_str(&field("Original-Rcpt-To", &format!("<{}>", addr(rcpt))));
    }
    report.push_str(&field("Arrival-Date", &rfc5322_date(obs.time)));
    if let Some(mta) = &opts.reporting_mta {
        report.push_str(&field(
            "Reporting-MTA",
            &format!("dns; {}", domain_token(mta)),
        ));
    }
    report.push_str(&field("Source-IP", &obs.source_ip.to_string()));
    report.push_str(&field("Reported-Domain", &header_from));
    let delivery = match obs.disposition {
        Disposition::None => "delivered",
        Disposition::Quarantine => "spam",
        Disposition::Reject => "reject",
    };
    report.push_str(&field("Delivery-Result", delivery));

    // the original (RFC 6591 §3.1: the whole header block at least)
    let mut head = failed.header.to_vec();
    if let Some(k) = redact {
        head = k.redact(&head);
    }
    while head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") {
        head.pop();
    }
    if !head.ends_with(b"\n") {
        head.extend_from_slice(b"\r\n");
    }
    // message/rfc822 allows only 7bit/8bit: lines of at most 998 octets, no NUL (RFC 2046
    // §5.2.1, RFC 5322 §2.1.1); otherwise the header alone goes, base64 unless it is ASCII
    // (so that a relay without 8BITMIME can take it, RFC 6152 §3)
    let body = match (opts.original, redact, failed.body) {
        (OriginalContent::FullMessage, None, Some(b)) if lines_fit(b) && lines_fit(&head) => {
            Some(b)
        }
        _ => None,
    };
    let (original_type, cte, original) = match body {
        Some(b) => {
            let mut whole = head;
            whole.extend_from_slice(b"\r\n");
            whole.extend_from_slice(b);
            let cte = if whole.is_ascii() { "7bit" } else { "8bit" };
            ("message/rfc822", cte, whole)
        }
        None if !lines_fit(&head) || !head.is_ascii() => (
            "text/rfc822-headers",
            "base64",
            crate::message::base64_body(&head).into_bytes(),
        ),
        None => ("text/rfc822-headers", "7bit", head),
    };

    let text = format!(
        "This is an authentication failure report (RFC 9991) for a message received from\r\n\
         IP {} on {}.\r\nResult: {what}.\r\n{}",
        obs.source_ip,
        iso_utc(obs.time),
        if redact.is_some() {
            "Local parts of addresses are redacted (RFC 6590).\r\n"
        } else {
            ""
        }
    );
    // the report's own identity: one message can give several (fo=d: one per signature; one
    // per author domain)
    let which = match kind {
        FailureKind::Dmarc => "dmarc".to_string(),
        FailureKind::Spf => "spf".to_string(),
        FailureKind::Dkim(i) => format!("dkim{i}"),
    } + &obs.header_from;
    let seed = format!(
        "{}{}{auth_failure}{which}{}",
        obs.time,
        obs.source_ip,
        short_hash(failed.header, 8)
    );
    let b = boundary(
        seed.as_bytes(),
        &[text.as_bytes(), report.as_bytes(), &original],
    );
    // the machine-readable part names the recipients and the queue id: two copies of one
    // message (split per recipient, sent twice) give two reports, each its own Message-ID
    let message_id = format!(
        "<{}.{}@{}>",
        obs.time,
        short_hash(format!("{seed}{to}{report}").as_bytes(), 8),
        domain_token(&opts.authserv_id)
    );

    let mut m = Vec::with_capacity(original.len() + report.len() + 2048);
    let mut put = |s: &str| m.extend_from_slice(s.as_bytes());
    put(&header("From", &from));
    put(&header("To", &to));
    put(&header("Date", &rfc5322_date(date)));
    put(&header(
        "Subject",
        &format!("DMARC failure report: {what} from {}", obs.source_ip),
    ));
    put(&header("Message-ID", &message_id));
    // RFC 3834 §5: automatic mail, so auto-responders (and careful receivers) answer it not
    put("Auto-Submitted: auto-generated\r\n");
    put("MIME-Version: 1.0\r\n");
    put(&format!(
        "Content-Type: multipart/report; report-type=feedback-report;\r\n boundary=\"{b}\"\r\n\r\n"
    ));
    put("This is a MIME-formatted message.\r\n\r\n");
    put(&format!(
        "--{b}\r\nContent-Type: text/plain; charset=us-ascii\r\n"
    ));
    put("Content-Disposition: inline\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
    put(&text);
    put(&format!(
        "\r\n--{b}\r\nContent-Type: message/feedback-report\r\n"
    ));
    put("Content-Transfer-Encoding: 7bit\r\n\r\n");
    put(&report);
    put(&format!("\r\n--{b}\r\nContent-Type: {original_type}\r\n"));
    put(&format!("Content-Transfer-Encoding: {cte}\r\n\r\n"));
    m.extend_from_slice(&original);
    if !original.ends_with(b"\n") {
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    Ok(m)
}

/// One field of the report part, on one line when that fits RFC 5322 §2.1.1's 998 octets
/// (folded as [`header`] folds only past that): OpenDMARC and the reporters in parsedmarc's
/// samples write them unfolded, and parsedmarc reads the part line by line without
/// unfolding (RFC 5965 §3.5 allows folding, but a folded `Authentication-Results` lost its
/// `header.from` there).
fn field(name: &str, value: &str) -> String {
    let value = header_safe(value);
    let words: Vec<&str> = value.split(' ').filter(|w| !w.is_empty()).collect();
    let line = format!("{name}: {}\r\n", words.join(" "));
    if line.len() <= 1000 {
        line
    } else {
        header(name, &value)
    }
}

/// A body that `message/rfc822` can carry in 7bit/8bit: lines of at most 998 octets, no NUL,
/// CR only before LF (RFC 5322 §2.1.1, RFC 2045 §2.8; RFC 5321 §2.3.8: relays such as
/// Sendmail 8.18 refuse a bare CR); else only the header is sent.
fn lines_fit(body: &[u8]) -> bool {
    let bare_cr = body
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\r' && body.get(i + 1) != Some(&b'\n'));
    !bare_cr && !body.contains(&0) && body.split(|&b| b == b'\n').all(|l| l.len() <= 999)
}
