//! Dev only: a fake MTA milter client and message helpers for tests and benchmarks.
//!
//! [`MtaClient`] speaks the MTA side of the milter protocol the way Postfix, Sendmail or a
//! legacy v2 MTA do ([`Profile`]), honours the negotiated `NR_*`/`NO*` bits, times out instead
//! of hanging, and checks that the milter never sends a reply that was not due.
//!
//! ```no_run
//! # async fn demo() -> Result<(), testkit::TestkitError> {
//! use testkit::{MtaClient, Profile};
//! let mut mta = MtaClient::connect_tcp("127.0.0.1:8891", Profile::postfix()).await?;
//! mta.negotiate().await?;
//! mta.connect("mail.example.org", "192.0.2.10".parse().unwrap(), 50000, &[]).await?;
//! mta.helo("mail.example.org", &[]).await?;
//! mta.mail("<alice@example.org>", &["SIZE=1234"], &[("{auth_authen}", "alice")]).await?;
//! mta.rcpt("<bob@example.net>", &[], &[]).await?;
//! let outcome = mta.send_message(b"From: a@example.org\r\nSubject: hi\r\n\r\nHello\r\n").await?;
//! assert!(outcome.is_accept());
//! mta.quit().await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod client;
mod eml;
mod error;
mod outcome;
pub mod postgres;
mod profile;

pub use client::{Io, MtaClient};
pub use eml::{Eml, EmlHeader};
pub use error::TestkitError;
pub use outcome::{BodySplit, EomOutcome, Reply, chunk_body};
pub use profile::{AbortStyle, Flavor, Profile};
