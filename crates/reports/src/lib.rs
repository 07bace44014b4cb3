//! DMARC reporting, sans-IO except DNS (through [`dns::Resolver`]).
//!
//! - [`Observation`]: the record of one inbound DMARC evaluation, kept by the store.
//! - [`build_feedback`] / [`write_feedback`]: RFC 9990 aggregate reports (or RFC 7489 format).
//! - [`parse_report`], [`extract_reports`]: aggregate reports others send (XML, gzip, zip,
//!   mail, mbox), within [`Limits`].

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod aggregate;
mod decompress;
pub mod destination;
mod error;
pub mod extract;
pub mod failure;
pub mod feedback;
pub mod limits;
pub mod mail;
pub mod message;
mod mime;
pub mod observation;
pub mod redact;
pub mod vocabulary;
pub mod xml_parse;
pub mod xml_write;

pub use aggregate::{ReporterInfo, build_feedback, report_id};
pub use destination::{
    MxStatus, ReportKind, Verification, destination_host, mailto_address, mx_exists,
    verify_destination,
};
pub use error::ReportsError;
pub use extract::{ExtractedReport, extract_reports};
pub use failure::{
    FailedMessage, FailureKind, FailureOptions, FailureTriggers, OriginalContent,
    failure_report_message, failure_reports_requested, triggers_for,
};
pub use feedback::{
    AuthResults, DateRange, DkimAuthResult, Feedback, Identifiers, PolicyEvaluated,
    PolicyPublished, Record, ReportMetadata, Row, SpfAuthResult,
};
pub use limits::Limits;
pub use mail::{
    Delivery, MailOptions, aggregate_report_deliveries, aggregate_report_message, report_filename,
    report_subject,
};
pub use observation::{
    AppliedPolicy, DkimObservation, Envelope, Observation, OverrideReason, PublishedPolicy,
    ReportAddress, SpfObservation,
};
pub use redact::RedactionKey;
pub use xml_parse::{parse_report, parse_report_with};
pub use xml_write::{ReportFormat, write_feedback};
