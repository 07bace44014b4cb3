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
mod error;
pub mod extract;
pub mod feedback;
pub mod limits;
mod mime;
pub mod observation;
pub mod vocabulary;
pub mod xml_parse;
pub mod xml_write;

pub use aggregate::{ReporterInfo, build_feedback, report_id};
pub use error::ReportsError;
pub use extract::{ExtractedReport, extract_reports};
pub use feedback::{
    AuthResults, DateRange, DkimAuthResult, Feedback, Identifiers, PolicyEvaluated,
    PolicyPublished, Record, ReportMetadata, Row, SpfAuthResult,
};
pub use limits::Limits;
pub use observation::{
    AppliedPolicy, DkimObservation, Envelope, Observation, OverrideReason, PublishedPolicy,
    ReportAddress, SpfObservation,
};
pub use xml_parse::{parse_report, parse_report_with};
pub use xml_write::{ReportFormat, write_feedback};
