//! Dev only: a fake MTA milter client and message helpers for tests and benchmarks.
//!
//! [`MtaClient`] is a thin async wrapper over `milter_proto::client::ClientSession`: it speaks
//! the MTA side of the milter protocol the way Postfix, Sendmail or a
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

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod error;

pub use client::{Io, MtaClient};
pub use error::TestkitError;
// The protocol side lives in milter-proto (shared with `authmilter bench`); re-exported here
// so tests keep one import path.
pub use milter_proto::client::{
    AbortStyle, BodySplit, Eml, EmlHeader, EomOutcome, Flavor, Profile, Reply, chunk_body,
};
