//! Failed messages that get no failure report: automatic reports and bounces (RFC 9991 §5.1
//! loops, RFC 3834 §2). A failure report about the bounce of a failure report to a dead `ruf`
//! mailbox brings another bounce, and so on for as long as the mailbox is dead.

use crate::mime::{Entity, param_value};

/// Why a failed message is automatic mail that gets no failure report (RFC 9991 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AutomaticMessage {
    /// A `multipart/report` (RFC 6522 §3) of this report type: an ARF report (RFC 5965), a
    /// delivery status notification (RFC 3464), a disposition notification (RFC 8098), …
    Report(ReportType),
    /// The null reverse-path (RFC 5321 §4.5.5): a bounce or an auto-reply (RFC 3834 §3.2).
    NullSender,
}

/// The `report-type` of a `multipart/report` (RFC 6522 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportType {
    /// `feedback-report` (RFC 5965 §2), such as our own failure reports.
    Feedback,
    /// `delivery-status` (RFC 3464 §2), a bounce.
    DeliveryStatus,
    /// Any other or none (`disposition-notification`, RFC 8098 §3, among them).
    Other,
}

/// Whether a failed message (its header block, and the MAIL FROM address without angle
/// brackets, empty for the null reverse-path) is automatic mail that gets no failure report
/// (RFC 9991 §5.1, RFC 3834 §2): any `multipart/report`, or a null reverse-path.
pub fn automatic_message(header: &[u8], mail_from: &str) -> Option<AutomaticMessage> {
    let mut head = header.to_vec();
    head.extend_from_slice(b"\r\n");
    let entity = Entity::parse(&head);
    let (kind, params) = entity.content_type();
    if kind == "multipart/report" {
        let report_type = param_value(&params, "report-type");
        let t = report_type.as_deref().map(str::trim).unwrap_or_default();
        return Some(AutomaticMessage::Report(
            if t.eq_ignore_ascii_case("feedback-report") {
                ReportType::Feedback
            } else if t.eq_ignore_ascii_case("delivery-status") {
                ReportType::DeliveryStatus
            } else {
                ReportType::Other
            },
        ));
    }
    let mail_from = mail_from.trim();
    (mail_from.is_empty() || mail_from == "<>").then_some(AutomaticMessage::NullSender)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bounce of one of our failure reports (a DSN from MAILER-DAEMON, null sender), an
    /// MDN, an ARF report: none gets a failure report; ordinary mail does.
    #[test]
    fn reports_and_bounces_are_automatic() {
        let dsn = b"From: MAILER-DAEMON@a.example\r\n\
            Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n";
        assert_eq!(
            automatic_message(dsn, "user@a.example"),
            Some(AutomaticMessage::Report(ReportType::DeliveryStatus))
        );
        let arf = b"Content-Type: Multipart/Report; boundary=\"b1\";\r\n\tReport-Type=\"Feedback-Report\"\r\n";
        assert_eq!(
            automatic_message(arf, "user@a.example"),
            Some(AutomaticMessage::Report(ReportType::Feedback))
        );
        let mdn =
            b"Content-Type: multipart/report; report-type=disposition-notification; boundary=x\r\n";
        assert_eq!(
            automatic_message(mdn, "user@a.example"),
            Some(AutomaticMessage::Report(ReportType::Other))
        );
        let plain = b"From: user@a.example\r\nContent-Type: text/plain\r\n";
        assert_eq!(automatic_message(plain, "user@a.example"), None);
        assert_eq!(
            automatic_message(plain, ""),
            Some(AutomaticMessage::NullSender)
        );
        assert_eq!(
            automatic_message(plain, "<>"),
            Some(AutomaticMessage::NullSender)
        );
    }
}
