//! DMARC reporting, sans-IO except DNS (through [`dns::Resolver`]).
//!
//! - [`Observation`]: the record of one inbound DMARC evaluation, kept by the store.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod error;
pub mod observation;
pub mod vocabulary;

pub use error::ReportsError;
pub use observation::{
    AppliedPolicy, DkimObservation, Envelope, Observation, OverrideReason, PublishedPolicy,
    ReportAddress, SpfObservation,
};
