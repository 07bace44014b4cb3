//! The per-connection, per-message pipeline: it receives what the MTA tells us, runs the checks
//! and decides what to send back. It knows nothing of the milter wire format, so the offline
//! `eval` command drives exactly the same code as the server.
//!
//! Stages (architecture.md §2.5): the connection context is built at CONNECT/HELO; at MAIL the
//! message begins and inbound checks that only need the envelope start in the background (SPF,
//! iprev); at end of headers the header-based ones start (DKIM key lookups, DMARC policy
//! discovery) and body consumers are registered (DKIM verification, our signatures); body chunks
//! stream to the consumers; at end of message the results meet and one [`Decision`] comes out.

pub mod decision;
mod message;

use std::net::IpAddr;
use std::sync::Arc;

pub use decision::{Decision, HeaderChange, RcptChange, Verdict};
pub use message::{Direction, MessageState, StoredHeader};

use crate::app::App;
use crate::config::{Role, canonical_ip};

/// What we know about the SMTP client, from CONNECT and HELO (milter-protocol.md §2.5, §2.6).
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// Host name as the MTA sent it (`[192.0.2.1]` when unverified).
    pub hostname: String,
    /// Client IP address; `None` for local submissions without one.
    pub ip: Option<IpAddr>,
    /// Client port.
    pub port: u16,
}

/// Per-connection state.
#[derive(Debug, Default)]
struct ConnectionState {
    client: ClientInfo,
    helo: Option<String>,
    daemon_name: Option<String>,
    messages: u64,
}

/// Macro values the pipeline uses, taken from the MTA at each stage.
#[derive(Debug, Clone, Default)]
pub struct StageMacros {
    /// `{auth_authen}`: the SMTP AUTH login, present only for authenticated clients.
    pub auth_authen: Option<String>,
    /// `i`: the queue id (from DATA on with Postfix).
    pub queue_id: Option<String>,
}

/// The reply to an envelope stage (MAIL, RCPT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageReply {
    /// Go on.
    Continue,
    /// Refuse with this SMTP reply (5xx or 4xx).
    Refuse(String),
}

/// One milter connection's pipeline.
pub struct MessagePipeline {
    app: Arc<App>,
    role: Role,
    conn: ConnectionState,
    msg: Option<MessageState>,
}

impl MessagePipeline {
    /// A pipeline for a connection accepted on a listener with `role`.
    pub fn new(app: Arc<App>, role: Role) -> Self {
        MessagePipeline {
            app,
            role,
            conn: ConnectionState::default(),
            msg: None,
        }
    }

    /// The listener role this connection came in on.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The shared application state.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// CONNECT: a new SMTP session (resets everything).
    pub fn connect(&mut self, client: ClientInfo, daemon_name: Option<String>) {
        let client = ClientInfo {
            ip: client.ip.map(canonical_ip),
            ..client
        };
        self.conn = ConnectionState {
            client,
            daemon_name,
            ..ConnectionState::default()
        };
        self.msg = None;
    }

    /// HELO/EHLO (may repeat, e.g. after STARTTLS; ends any open message).
    pub fn helo(&mut self, name: &[u8]) {
        self.msg = None;
        self.conn.helo = Some(String::from_utf8_lossy(name).into_owned());
    }

    /// The client, for logs.
    pub fn client(&self) -> &ClientInfo {
        &self.conn.client
    }

    /// MAIL FROM: a message begins. `sender` is the address without angle brackets.
    pub fn mail(&mut self, sender: &[u8], args: Vec<Vec<u8>>, macros: &StageMacros) -> StageReply {
        self.conn.messages += 1;
        let direction = self.direction(macros);
        self.msg = Some(MessageState::new(
            sender.to_vec(),
            args,
            direction,
            macros.queue_id.clone(),
        ));
        StageReply::Continue
    }

    /// RCPT TO: one recipient, without angle brackets.
    pub fn rcpt(&mut self, recipient: &[u8], args: Vec<Vec<u8>>) -> StageReply {
        let msg = self.message_mut();
        msg.add_recipient(recipient.to_vec(), args);
        StageReply::Continue
    }

    /// Updates the queue id when the MTA tells it (DATA, EOH, EOM macros).
    pub fn set_queue_id(&mut self, queue_id: Option<String>) {
        if let (Some(q), Some(msg)) = (queue_id, self.msg.as_mut()) {
            msg.queue_id = Some(q);
        }
    }

    /// One header, as it appears after the colon (leading whitespace included) with `\n` or
    /// `\r\n` folding.
    pub fn header(&mut self, name: &[u8], value_after_colon: &[u8]) {
        self.message_mut().add_header(name, value_after_colon);
    }

    /// End of headers: start the header-based checks.
    pub fn end_of_headers(&mut self) {
        self.message_mut().headers_done = true;
    }

    /// One body chunk (CRLF line ends, split anywhere): streamed to every body consumer.
    pub fn body(&mut self, chunk: &[u8]) {
        self.message_mut().body(chunk);
    }

    /// End of message: collect results and decide. The message state is consumed.
    pub async fn end_of_message(&mut self) -> Decision {
        let msg = self.msg.take().unwrap_or_else(MessageState::without_envelope);
        let app = Arc::clone(&self.app);
        self.decide(&app, msg).await
    }

    /// ABORT: drop the message (the connection stays).
    pub fn abort(&mut self) {
        self.msg = None;
    }

    /// Whether a message is in progress.
    pub fn in_message(&self) -> bool {
        self.msg.is_some()
    }

    /// The queue id of the open message, for logs.
    pub fn queue_id(&self) -> Option<&str> {
        self.msg.as_ref().and_then(|m| m.queue_id.as_deref())
    }

    fn message_mut(&mut self) -> &mut MessageState {
        self.msg.get_or_insert_with(MessageState::without_envelope)
    }

    /// Decides whether the message is ours (sign) or inbound (verify) (docs/configuration.md
    /// `[outbound]`, listener roles).
    fn direction(&self, macros: &StageMacros) -> Direction {
        match self.role {
            Role::Sign => Direction::Outbound,
            Role::Verify => Direction::Inbound,
            Role::Auto => {
                let cfg = &self.app.config.outbound;
                let authenticated =
                    cfg.authenticated && macros.auth_authen.as_deref().is_some_and(|a| !a.is_empty());
                let internal = self
                    .conn
                    .client
                    .ip
                    .is_some_and(|ip| cfg.internal_networks.iter().any(|n| n.contains(ip)));
                let daemon = self
                    .conn
                    .daemon_name
                    .as_deref()
                    .is_some_and(|d| cfg.daemon_names.iter().any(|n| n == d));
                if authenticated || internal || daemon {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                }
            }
        }
    }

    async fn decide(&mut self, app: &App, msg: MessageState) -> Decision {
        let mut decision = Decision::accept();
        decision.headers.extend(msg.forged_authres_deletions(app));
        if msg.direction == Direction::Inbound {
            let ar = authres::AuthenticationResults::new(app.authserv_id.clone());
            decision.headers.push(HeaderChange::Insert {
                index: 0,
                name: "Authentication-Results".into(),
                value: ar.format(&authres::FormatOptions::milter()),
            });
        }
        let _ = &self.conn;
        decision
    }
}
