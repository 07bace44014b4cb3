//! libmilter wire protocol (v2-v6): sans-IO codec, option negotiation, session state machine, both sides.

#![warn(missing_docs)]
