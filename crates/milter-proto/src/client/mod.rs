//! The MTA side of the protocol, sans-IO: what Postfix, Sendmail or a legacy v2 MTA send to a
//! milter and how they judge its replies (docs/design/milter-protocol.md §2, §5, §11). The fake MTA of the tests
//! (`testkit`) and the `authmilter bench` load generator are thin async loops over it.
//!
//! A [`ClientSession`] method encodes one step (its MACRO packet and the command) into an
//! output buffer and returns what to wait for ([`Awaiting`]); the caller writes the buffer and,
//! when a reply is due, decodes responses with [`FrameDecoder::decode_response`](crate::FrameDecoder::decode_response)
//! and hands each to [`ClientSession::on_reply`] or [`ClientSession::on_eom_reply`].

mod eml;
mod outcome;
mod profile;
mod session;

pub use eml::{Eml, EmlHeader};
pub use outcome::{BodySplit, EomOutcome, Reply, chunk_body, decided};
pub use profile::{AbortStyle, Flavor, Profile};
pub use session::{Awaiting, ClientSession, ReplyStep};
