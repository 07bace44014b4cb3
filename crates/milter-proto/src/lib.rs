//! libmilter wire protocol (v2-v6): sans-IO codec, option negotiation, session state machine, both sides.
//!
//! The spec this crate implements is `docs/milter-protocol.md` (project notes) and the design
//! document it summarises, `docs/design/milter-protocol.md` (libmilter, Postfix and Sendmail
//! behaviour with their public sources); section numbers in the docs (`§2.4`, "§0 rule 10")
//! refer to that document.
//!
//! The MTA side (a sans-IO client session, used by the test kit and `authmilter bench`) is in
//! [`client`].
//!
//! Server side (the milter):
//!
//! ```
//! use bytes::BytesMut;
//! use milter_proto::{FrameDecoder, ReplyOwed, Response, Session, Event};
//!
//! let mut decoder = FrameDecoder::new();
//! let mut session = Session::default();
//! let mut input = BytesMut::from(&b"\0\0\0\x0dO\0\0\0\x06\0\0\x01\xff\0\x1f\xff\xff"[..]);
//! let mut output = BytesMut::new();
//! while let Some(cmd) = decoder.decode(&mut input)? {
//!     let step = session.handle(cmd)?;
//!     let reply = match (&step.event, step.reply) {
//!         (_, ReplyOwed::None) => continue,
//!         (Event::Negotiate { negotiated, .. }, _) => negotiated.reply(),
//!         _ => Response::Continue,
//!     };
//!     session.send(&reply, &mut output)?;
//! }
//! assert_eq!(&output[..], b"\0\0\0\x0dO\0\0\0\x06\0\0\0\xfd\0\x1c\x01\x80");
//! # Ok::<(), milter_proto::ProtocolError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
mod codec;
mod codes;
mod command;
mod error;
mod flags;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod macros;
mod message;
mod negotiate;
mod reply;
mod response;
mod session;

pub use codes::{CommandCode, Family, MacroStage, ResponseCode, SymStage};
pub use command::{Command, ConnectInfo, Envelope, Header};
pub use error::ProtocolError;
pub use flags::{Actions, MAX_VERSION, MILTER_CHUNK_SIZE, MIN_VERSION, ProtocolFlags};
pub use frame::{Decoded, Frame, FrameDecoder};
pub use macros::{MacroPairs, MacroStore, Macros, names_match};
pub use message::{HeaderField, Message};
pub use negotiate::{Negotiated, OptNeg, SymList, Wants, negotiate};
pub use reply::{EnhancedCode, MAX_REPLY_LINE, MAX_REPLY_LINES, SmtpReply};
pub use response::{Response, normalize_header_value, validate_header_name};
pub use session::{Event, ReplyOwed, Session, Step, Warning};
