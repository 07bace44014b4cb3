//! DMARC reporting, sans-IO except DNS (through [`dns::Resolver`]); see `docs/reports.md`.
//!
//! Sending (issue "DMARC reports out"):
//! - [`Observation::from_evaluation`]: the record of one inbound DMARC evaluation, for the
//!   store (RFC 9990 §3.1.1.7 data).
//! - [`build_feedback`] → [`Feedback`] → [`write_feedback`]: the RFC 9990 aggregate report of
//!   one Policy Domain and period, as RFC 9990 or RFC 7489 XML.
//! - [`verify_destination`], [`mx_exists`]: external destination verification (RFC 9990 §4).
//! - [`aggregate_report_deliveries`] / [`aggregate_report_message`]: the report mail
//!   (RFC 9990 §3.5.2), honouring `!size`.
//! - [`failure_reports_requested`] and [`failure_report_message`]: RFC 9991 failure reports
//!   in ARF (RFC 5965, RFC 6591), optionally redacted (RFC 6590); none about reports and
//!   bounces ([`automatic_message`], RFC 9991 §5.1).
//!
//! Receiving (issue "DMARC reports in"):
//! - [`extract_reports`]: every report in an XML, gzip, zip, mail or mbox input, within
//!   [`Limits`]; [`parse_report`] for one XML document.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod aggregate;
mod decompress;
pub mod destination;
mod error;
pub mod extract;
pub mod failure;
pub mod feedback;
pub mod fuzzing;
pub mod limits;
pub mod loop_guard;
pub mod mail;
pub mod message;
mod mime;
pub mod observation;
pub mod redact;
pub mod vocabulary;
mod xml_encoding;
pub mod xml_parse;
mod xml_reader;
pub mod xml_write;

pub use aggregate::{ReporterInfo, build_feedback, build_feedback_counted, report_id};
pub use destination::{
    MxStatus, ReportKind, Verification, destination_host, mailto_address, mx_exists,
    verify_destination,
};
pub use error::ReportsError;
pub use extract::{ExtractedReport, OtherPart, extract_reports, extract_reports_each};
pub use failure::{
    FailedMessage, FailureKind, FailureOptions, FailureTriggers, OriginalContent,
    failure_report_message, failure_reports_requested, is_feedback_report, triggers_for,
};
pub use feedback::{
    AuthResults, DateRange, DkimAuthResult, Feedback, Identifiers, PolicyEvaluated,
    PolicyPublished, Record, ReportMetadata, Row, SpfAuthResult,
};
pub use limits::Limits;
pub use loop_guard::{AutomaticMessage, ReportType, automatic_message};
pub use mail::{
    Delivery, LeftOut, MAX_REPORT_FILE_BYTES, MailOptions, aggregate_report_deliveries,
    aggregate_report_message, fit_report_file, report_filename, report_subject,
};
pub use observation::{
    AppliedPolicy, DkimFailure, DkimObservation, Envelope, Observation, OverrideReason,
    PublishedPolicy, ReportAddress, SpfObservation,
};
pub use redact::RedactionKey;
pub use xml_parse::{parse_report, parse_report_with};
pub use xml_write::{ReportFormat, write_feedback};
