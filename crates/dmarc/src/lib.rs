//! DMARC policy evaluation, RFC 9989 (DMARCbis) and RFC 7489.
//!
//! The crate is sans-IO except for DNS, which goes through [`dns::Resolver`]. The caller hands
//! in the raw `From:` header value(s) and the results of SPF and DKIM as plain types
//! ([`SpfAuth`], [`DkimAuth`]); the crate parses the author domain(s), discovers the DMARC
//! policy (RFC 9989 §4.10 DNS tree walk by default, or RFC 7489 §6.6.3 with the public suffix
//! list), checks identifier alignment and returns a [`DmarcOutcome`].
//!
//! ```no_run
//! # async fn demo(resolver: &dns::memory::MemoryResolver) {
//! use dmarc::{Config, Dmarc, DkimAuth, DkimOutcome, SpfAuth, SpfOutcome, SpfScope};
//! let dmarc = Dmarc::new(Config::default());
//! let spf = SpfAuth::new(SpfOutcome::Pass, "bounces.example.com", SpfScope::MailFrom);
//! let dkim = [DkimAuth::new(DkimOutcome::Pass, "example.com", "sel")];
//! let from: [&[u8]; 1] = [b" Alice <alice@example.com>"];
//! let outcome = dmarc.evaluate(resolver, &from, Some(&spf), &dkim).await;
//! println!("dmarc={} header.from={:?}", outcome.result, outcome.header_from());
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod domain;
mod error;
mod evaluate;
mod existence;
mod from;
#[doc(hidden)]
pub mod fuzzing;
mod input;
mod orgdomain;
mod outcome;
mod record;
mod sampler;

pub use config::{Config, Mode, MultiFrom};
pub use error::DmarcError;
pub use evaluate::{Discovery, Dmarc};
pub use from::{FromAddress, author_domains, control_character, parse_from};
pub use input::{DkimAuth, DkimOutcome, SpfAuth, SpfOutcome, SpfScope};
pub use orgdomain::{
    psl_organizational_domain, relaxed_aligned_psl, tree_walk_organizational_domains,
};
pub use outcome::{
    DiscoveryMethod, Disposition, DkimCheck, DmarcOutcome, DmarcResult, Evaluation, FromProblem,
    PolicySource, Reason, RecordSource, SpfCheck,
};
pub use record::{
    AlignmentMode, FailureOption, Policy, PresentTags, Psd, Record, ReportUri, TagProblem,
    parse_record,
};
pub use sampler::{FixedSampler, RandomSampler, Sampler};
