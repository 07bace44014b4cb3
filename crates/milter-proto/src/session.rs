//! The server-side session state machine (milter-protocol.md §4.2, §0 rules 2–4, §2.10).

use bytes::{Bytes, BytesMut};

use crate::command::{Command, ConnectInfo, Envelope};
use crate::error::ProtocolError;
use crate::macros::MacroStore;
use crate::message::{HeaderField, Message};
use crate::negotiate::{Negotiated, OptNeg, Wants, negotiate};
use crate::response::Response;
use crate::{Actions, CommandCode, MacroStage, ProtocolFlags};

/// One milter connection's protocol state (§4.2): negotiated options, macros, connection and
/// message state, and which reply the MTA is waiting for.
///
/// Drive it with every decoded [`Command`] ([`handle`](Self::handle)) and write every response
/// through [`send`](Self::send), which refuses what the protocol forbids at that point.
#[derive(Debug, Clone)]
pub struct Session {
    wants: Wants,
    negotiated: Option<Negotiated>,
    fallback: Negotiated,
    macros: MacroStore,
    connect: Option<ConnectInfo>,
    helo: Option<Bytes>,
    message: Option<Message>,
    owed: Owed,
    closed: bool,
    messages_completed: u64,
}

/// What the session produced for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The event for the policy layer.
    pub event: Event,
    /// Whether (and which kind of) reply the MTA now waits for.
    pub reply: ReplyOwed,
    /// Out-of-order or unusual input that was handled best-effort (log these).
    pub warnings: Vec<Warning>,
}

/// The reply the MTA waits for after a command (§0 rule 2, §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyOwed {
    /// Nothing: MACRO, ABORT, QUIT, QUIT_NC, or an `NR_*` flag covers this command. Send nothing.
    None,
    /// The OPTNEG reply: send `negotiated.reply()` from [`Event::Negotiate`].
    Negotiation,
    /// Exactly one final reply (`c a r t d y`, or `s` to BODY when SKIP was negotiated).
    Final,
    /// End of message: modifications and `p` in any number, then exactly one final reply.
    EndOfMessage,
}

/// What happened, for the policy layer (§2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// OPTNEG: the MTA's offer and what was agreed; reply with `negotiated.reply()`.
    Negotiate {
        /// The MTA's offer as received.
        offer: OptNeg,
        /// The agreed options.
        negotiated: Negotiated,
    },
    /// MACRO: stored already; look values up with [`Session::macro_value`].
    Macros {
        /// The stage letter.
        stage: MacroStage,
        /// How many (name, value) pairs it defined (the values stay in the session's store,
        /// not copied into the event).
        pairs: usize,
    },
    /// CONNECT (connection state was reset first).
    Connect(ConnectInfo),
    /// HELO/EHLO (any open message was ended first).
    Helo(Bytes),
    /// MAIL: a new message begins (any open one was implicitly aborted).
    Mail(Envelope),
    /// RCPT: one recipient.
    Rcpt(Envelope),
    /// DATA.
    Data,
    /// One header, with its 0-based position among all headers.
    Header(HeaderField),
    /// End of headers.
    EndOfHeaders,
    /// One body chunk (CRLF line ends, split anywhere; hash as a stream).
    Body(Bytes),
    /// End of message. **Feed `last_chunk` to the body hashers first** if it is `Some`
    /// (libmilter accepts data in BODYEOB; Postfix never sends any).
    EndOfMessage {
        /// Data carried by BODYEOB, if any.
        last_chunk: Option<Bytes>,
    },
    /// ABORT: the message state was dropped. Run the abort hook only if `had_message`.
    Abort {
        /// A message was open (ABORT is idempotent; Postfix sends it after every message).
        had_message: bool,
    },
    /// QUIT: everything was cleared; close the connection.
    Quit,
    /// QUIT_NC: connection state and macros were cleared, negotiated options kept; a new
    /// CONNECT follows on this socket.
    QuitNewConnection,
    /// UNKNOWN SMTP command line (no state change, §2.9).
    Unknown(Bytes),
}

/// Input that was unusual or out of order and was handled best-effort (§4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// A command other than MACRO arrived before OPTNEG; every command is answered (v2 rules).
    BeforeNegotiation,
    /// A second OPTNEG: the session was reset and renegotiated.
    Renegotiation,
    /// CONNECT on a connection that already had one (without QUIT_NC): state was reset.
    ConnectWhileConnected,
    /// MAIL while a message was open: implicit abort, then a new message.
    MailInsideMessage,
    /// HELO while a message was open: the message was ended.
    HeloInsideMessage,
    /// This message command arrived without MAIL: a message without envelope was started.
    NoMessage(CommandCode),
    /// A HEADER with an empty name (kept, for DKIM).
    EmptyHeaderName,
    /// The previous command's reply was never sent; the MTA may be stuck or out of sync.
    ReplyNotSent(CommandCode),
    /// A command after QUIT.
    AfterQuit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    Nothing,
    Negotiation,
    Reply(CommandCode),
    Eom(ReplBodyState),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplBodyState {
    NotStarted,
    Open,
    Closed,
}

impl Default for Session {
    fn default() -> Self {
        Self::new(Wants::default())
    }
}

impl Session {
    /// A fresh session that will ask for `wants` at OPTNEG (§2.1).
    pub fn new(wants: Wants) -> Self {
        Self {
            wants,
            negotiated: None,
            fallback: Negotiated::unnegotiated(),
            macros: MacroStore::new(),
            connect: None,
            helo: None,
            message: None,
            owed: Owed::Nothing,
            closed: false,
            messages_completed: 0,
        }
    }

    /// Processes one command (§4.2). `Err` only for a refused negotiation (version < 2): close.
    pub fn handle(&mut self, cmd: Command) -> Result<Step, ProtocolError> {
        let code = cmd.code();
        let mut warnings = Vec::new();
        if let Some(pending) = self.pending_reply() {
            warnings.push(Warning::ReplyNotSent(pending));
        }
        self.owed = Owed::Nothing;
        if self.closed && code != CommandCode::Macro {
            warnings.push(Warning::AfterQuit);
            self.closed = false;
        }
        if self.negotiated.is_none() && !matches!(code, CommandCode::OptNeg | CommandCode::Macro) {
            warnings.push(Warning::BeforeNegotiation);
        }
        self.macros.command_arrived(code);
        let event = self.apply(cmd, &mut warnings)?;
        let reply = match code {
            CommandCode::OptNeg => ReplyOwed::Negotiation,
            CommandCode::BodyEob => ReplyOwed::EndOfMessage,
            c if self.options().expects_reply(c) => ReplyOwed::Final,
            _ => ReplyOwed::None,
        };
        self.owed = match reply {
            ReplyOwed::None => Owed::Nothing,
            ReplyOwed::Negotiation => Owed::Negotiation,
            ReplyOwed::Final => Owed::Reply(code),
            ReplyOwed::EndOfMessage => Owed::Eom(ReplBodyState::NotStarted),
        };
        Ok(Step {
            event,
            reply,
            warnings,
        })
    }

    /// Counts leading bytes of a BODY or BODYEOB frame still arriving
    /// ([`Decoded::BodyPart`](crate::Decoded::BodyPart)); the frame's command, handled with
    /// [`handle`](Self::handle), follows with the rest (§2.8). Opens a message if none is open,
    /// as that command would have.
    pub fn body_part(&mut self, part: &[u8]) -> Vec<Warning> {
        let mut warnings = Vec::new();
        let m = self.message_for(CommandCode::Body, &mut warnings);
        m.body_bytes = m.body_bytes.saturating_add(part.len() as u64);
        warnings
    }

    /// Checks `resp` against the session state and, if legal, appends its frame(s) to `out`
    /// (§0 rules 2–4, §2.2, §3). On `Err` nothing is written and the state is unchanged.
    pub fn send(&mut self, resp: &Response, out: &mut BytesMut) -> Result<(), ProtocolError> {
        self.check(resp)?;
        resp.encode(self.options().leadspc(), out)?;
        self.after_send(resp);
        Ok(())
    }

    /// Whether [`send`](Self::send) would accept `resp` now (without encoding it).
    pub fn check(&self, resp: &Response) -> Result<(), ProtocolError> {
        let response = resp.code().name();
        let illegal =
            |reason: &'static str| Err(ProtocolError::IllegalResponse { response, reason });
        if let Response::OptNeg { .. } = resp {
            if self.owed != Owed::Negotiation {
                return illegal("only as the answer to SMFIC_OPTNEG");
            }
            if self.negotiated.as_ref().map(Negotiated::reply).as_ref() != Some(resp) {
                return illegal("differs from the options the session negotiated");
            }
            return Ok(());
        }
        let replbody = match self.owed {
            Owed::Nothing => {
                return illegal(
                    "no reply is owed (MACRO/ABORT/QUIT/QUIT_NC, an NR_* command, or already answered)",
                );
            }
            Owed::Negotiation => return illegal("the MTA is waiting for the OPTNEG reply"),
            Owed::Reply(_) => None,
            Owed::Eom(state) => Some(state),
        };
        match resp {
            Response::Skip => {
                if self.owed != Owed::Reply(CommandCode::Body) {
                    return illegal("only as the reply to SMFIC_BODY");
                }
                if !self.options().protocol.contains(ProtocolFlags::SKIP) {
                    return Err(ProtocolError::NotNegotiated {
                        response,
                        action: "SMFIP_SKIP",
                    });
                }
            }
            Response::Progress if replbody.is_none() => {
                return illegal("only after SMFIC_BODYEOB (Sendmail rule)");
            }
            Response::Discard => {
                if let Owed::Reply(c) = self.owed
                    && !is_message_stage(c)
                {
                    return illegal("only from MAIL to end of message");
                }
            }
            r if r.code().is_modification() => {
                let Some(state) = replbody else {
                    return illegal(
                        "modifications only after SMFIC_BODYEOB, before the final reply",
                    );
                };
                if let Some(action) = r.required_action()
                    && !self.options().allows(action)
                {
                    return Err(ProtocolError::NotNegotiated {
                        response,
                        action: action_name(action),
                    });
                }
                if matches!(r, Response::ReplBody(_)) && state == ReplBodyState::Closed {
                    return illegal("REPLBODY packets must be consecutive (Postfix)");
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The reply the MTA is waiting for right now.
    pub fn reply_owed(&self) -> ReplyOwed {
        match self.owed {
            Owed::Nothing => ReplyOwed::None,
            Owed::Negotiation => ReplyOwed::Negotiation,
            Owed::Reply(_) => ReplyOwed::Final,
            Owed::Eom(_) => ReplyOwed::EndOfMessage,
        }
    }

    /// The negotiated options, once OPTNEG was handled.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The options in force: the negotiated ones, or v2 rules with no actions before OPTNEG.
    pub fn options(&self) -> &Negotiated {
        self.negotiated.as_ref().unwrap_or(&self.fallback)
    }

    /// True if `SMFIP_HDR_LEADSPC` is in force (§2.8, §3.2).
    pub fn leadspc(&self) -> bool {
        self.options().leadspc()
    }

    /// The macro store (§2.4).
    pub fn macros(&self) -> &MacroStore {
        &self.macros
    }

    /// A macro's current value; `x` ≡ `{x}`, latest stage first (§2.4).
    pub fn macro_value(&self, name: &[u8]) -> Option<Bytes> {
        self.macros.get(name)
    }

    /// The CONNECT information of the current SMTP session.
    pub fn connect_info(&self) -> Option<&ConnectInfo> {
        self.connect.as_ref()
    }

    /// The latest HELO/EHLO argument.
    pub fn helo(&self) -> Option<&Bytes> {
        self.helo.as_ref()
    }

    /// The open message, until ABORT, a new MAIL/HELO, QUIT, or the final reply to BODYEOB.
    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    /// Messages whose end-of-message got a final reply on this connection.
    pub fn messages_completed(&self) -> u64 {
        self.messages_completed
    }

    /// True after QUIT: close the connection.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn pending_reply(&self) -> Option<CommandCode> {
        match self.owed {
            Owed::Nothing => None,
            Owed::Negotiation => Some(CommandCode::OptNeg),
            Owed::Reply(c) => Some(c),
            Owed::Eom(_) => Some(CommandCode::BodyEob),
        }
    }

    fn reset_connection(&mut self) {
        self.macros.clear();
        self.connect = None;
        self.helo = None;
        self.message = None;
    }

    fn message_for(&mut self, code: CommandCode, warnings: &mut Vec<Warning>) -> &mut Message {
        if self.message.is_none() {
            warnings.push(Warning::NoMessage(code));
        }
        self.message.get_or_insert_with(Message::default)
    }

    fn apply(&mut self, cmd: Command, warnings: &mut Vec<Warning>) -> Result<Event, ProtocolError> {
        Ok(match cmd {
            Command::OptNeg(offer) => {
                let negotiated = negotiate(&offer, &self.wants)?;
                if self.negotiated.is_some() {
                    warnings.push(Warning::Renegotiation);
                    self.reset_connection();
                }
                self.negotiated = Some(negotiated.clone());
                Event::Negotiate { offer, negotiated }
            }
            Command::Macro(m) => {
                let (stage, pairs) = (m.stage, m.len());
                self.macros.define(m);
                Event::Macros { stage, pairs }
            }
            Command::Connect(info) => {
                if self.connect.is_some() || self.helo.is_some() || self.message.is_some() {
                    warnings.push(Warning::ConnectWhileConnected);
                }
                self.helo = None;
                self.message = None;
                self.connect = Some(info.clone());
                Event::Connect(info)
            }
            Command::Helo(name) => {
                if self.message.as_ref().is_some_and(|m| !m.finished) {
                    warnings.push(Warning::HeloInsideMessage);
                }
                self.message = None;
                self.helo = Some(name.clone());
                Event::Helo(name)
            }
            Command::Mail(env) => {
                if self.message.as_ref().is_some_and(|m| !m.finished) {
                    warnings.push(Warning::MailInsideMessage);
                }
                self.message = Some(Message {
                    sender: Some(env.clone()),
                    ..Message::default()
                });
                Event::Mail(env)
            }
            Command::Rcpt(env) => {
                let message = self.message_for(CommandCode::Rcpt, warnings);
                message.recipient_count = message.recipient_count.saturating_add(1);
                Event::Rcpt(env)
            }
            Command::Data => {
                self.message_for(CommandCode::Data, warnings).data_seen = true;
                Event::Data
            }
            Command::Header(h) => {
                if h.name.is_empty() {
                    warnings.push(Warning::EmptyHeaderName);
                }
                let leadspc = self.leadspc();
                let field = self
                    .message_for(CommandCode::Header, warnings)
                    .push_header(h.name, h.value, leadspc);
                Event::Header(field)
            }
            Command::Eoh => {
                self.message_for(CommandCode::Eoh, warnings).eoh_seen = true;
                Event::EndOfHeaders
            }
            Command::Body(chunk) => {
                let m = self.message_for(CommandCode::Body, warnings);
                m.body_bytes = m.body_bytes.saturating_add(chunk.len() as u64);
                m.body_chunks = m.body_chunks.saturating_add(1);
                Event::Body(chunk)
            }
            Command::BodyEob(data) => {
                let m = self.message_for(CommandCode::BodyEob, warnings);
                let last_chunk = if data.is_empty() {
                    None
                } else {
                    m.body_bytes = m.body_bytes.saturating_add(data.len() as u64);
                    m.body_chunks = m.body_chunks.saturating_add(1);
                    Some(data)
                };
                Event::EndOfMessage { last_chunk }
            }
            Command::Abort => Event::Abort {
                had_message: self.message.take().is_some(),
            },
            Command::Quit => {
                self.reset_connection();
                self.closed = true;
                Event::Quit
            }
            Command::QuitNc => {
                self.reset_connection();
                Event::QuitNewConnection
            }
            Command::Unknown(line) => Event::Unknown(line),
        })
    }

    fn after_send(&mut self, resp: &Response) {
        let code = resp.code();
        if code == crate::ResponseCode::OptNeg {
            self.owed = Owed::Nothing;
            return;
        }
        if code.is_modification() {
            if let Owed::Eom(state) = self.owed {
                let next = match (resp, state) {
                    (_, ReplBodyState::Closed) => ReplBodyState::Closed,
                    (Response::ReplBody(_), _) => ReplBodyState::Open,
                    (_, ReplBodyState::Open) => ReplBodyState::Closed,
                    (_, ReplBodyState::NotStarted) => ReplBodyState::NotStarted,
                };
                self.owed = Owed::Eom(next);
            }
            return;
        }
        if !code.is_final() {
            return; // PROGRESS
        }
        match self.owed {
            Owed::Eom(_) => {
                self.message = None;
                self.messages_completed = self.messages_completed.saturating_add(1);
            }
            Owed::Reply(c) if is_message_stage(c) => {
                let drops_message = match resp {
                    Response::Continue | Response::Skip => false,
                    Response::Accept | Response::Discard => true,
                    _ => c != CommandCode::Rcpt,
                };
                if drops_message && let Some(m) = self.message.as_mut() {
                    m.finished = true;
                }
            }
            _ => {}
        }
        self.owed = Owed::Nothing;
    }
}

fn is_message_stage(c: CommandCode) -> bool {
    matches!(
        c,
        CommandCode::Mail
            | CommandCode::Rcpt
            | CommandCode::Data
            | CommandCode::Header
            | CommandCode::Eoh
            | CommandCode::Body
    )
}

fn action_name(a: Actions) -> &'static str {
    match a {
        Actions::ADDHDRS => "SMFIF_ADDHDRS",
        Actions::CHGBODY => "SMFIF_CHGBODY",
        Actions::ADDRCPT => "SMFIF_ADDRCPT",
        Actions::DELRCPT => "SMFIF_DELRCPT",
        Actions::CHGHDRS => "SMFIF_CHGHDRS",
        Actions::QUARANTINE => "SMFIF_QUARANTINE",
        Actions::CHGFROM => "SMFIF_CHGFROM",
        Actions::ADDRCPT_PAR => "SMFIF_ADDRCPT_PAR",
        _ => "SMFIF_SETSYMLIST",
    }
}
