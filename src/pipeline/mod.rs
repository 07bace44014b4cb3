//! The per-connection, per-message pipeline: it receives what the MTA tells us, runs the checks
//! and decides what to send back. It knows nothing of the milter wire format, so the offline
//! `eval` command drives exactly the same code as the server.
//!
//! Stages (docs/architecture.md, "The path of one message"): the connection context is built
//! at CONNECT/HELO; at MAIL the message begins and inbound checks that only need the envelope
//! start in the background (SPF, iprev); header fields are kept once ([`MessageState`]); at end
//! of headers the header-based checks start (DKIM key lookups, DMARC discovery) and the body
//! hashes every consumer needs are requested once (DKIM verification, our signatures); body
//! chunks are hashed as they arrive; at end of message the `steps` module runs the ordered steps and
//! one [`Decision`] comes out, which is also published to the results sink.

mod authres_header;
pub mod decision;
#[cfg(test)]
#[path = "tests/end_of_headers.rs"]
mod end_of_headers_tests;
mod inbound;
mod message;
mod outbound;
pub mod policy;
#[cfg(test)]
#[path = "tests/policy.rs"]
mod policy_tests;
pub mod report;
pub mod results;
pub mod sink;
mod srs_envelope;
#[cfg(test)]
#[path = "tests/srs.rs"]
mod srs_tests;
mod steps;
mod task;

use std::net::IpAddr;
use std::sync::Arc;

use dkim::BodyHashes;

pub use decision::{Decision, HeaderDeletion, NewHeader, RcptChange, Verdict, reply_text};
pub use message::{Direction, Envelope, HeaderRules, MessageState, Oversize};
pub use policy::{AppliedPolicy, OverrideKind, PolicyOverride};
pub use report::ResultsReport;
pub use results::Results;
pub use sink::{FinishedMessage, ResultsSink, SinkReceiver};
pub use srs_envelope::may_refuse_recipients;

use crate::app::App;
use crate::config::Role;
use crate::services::Services;
use inbound::{Cached, ConnectionChecks, InboundChecks};
pub use inbound::{a_label_address, a_label_domain, could_align_with_from};
use outbound::Signing;

/// What we know about the SMTP client, from CONNECT and HELO (milter-protocol.md "CONNECT").
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
    /// The HELO/EHLO name as the MTA sent it (bytes: 8-bit names exist).
    helo: Option<Vec<u8>>,
    daemon_name: Option<String>,
    checks: ConnectionChecks,
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
    Refuse(milter_proto::SmtpReply),
}

/// The message in progress with its checks.
struct Current {
    state: MessageState,
    /// Every canonical body hash the message needs, computed once.
    body_hashes: BodyHashes,
    inbound: InboundChecks,
    signing: Signing,
    /// Our ARC seal in progress (forward listeners with `[arc] seal`): key label and session.
    sealing: Option<(String, arc::SealingSession)>,
    /// For `[srs] rewrite = "when-spf-fails"`: does the sender's SPF pass from our addresses?
    srs_spf: Option<task::Task<bool>>,
    /// The copy of a message to a report address (`[reports.inbox]`), from RCPT on.
    capture: Option<crate::reports::inbox::Capture>,
}

impl Current {
    fn new(state: MessageState) -> Self {
        Current {
            state,
            body_hashes: BodyHashes::default(),
            inbound: InboundChecks::default(),
            signing: Signing::default(),
            sealing: None,
            srs_spf: None,
            capture: None,
        }
    }

    /// The open message, or one opened without an envelope (out-of-order input: a header or
    /// body before MAIL), treated as inbound.
    fn of(msg: &mut Option<Current>) -> &mut Current {
        msg.get_or_insert_with(|| Current::new(MessageState::without_envelope()))
    }
}

/// One milter connection's pipeline.
pub struct MessagePipeline {
    app: Arc<App>,
    services: Arc<Services>,
    role: Role,
    rules: HeaderRules,
    conn: ConnectionState,
    msg: Option<Current>,
    /// The last message's record for the results sink, held until the MTA was sent the
    /// decision's answer ([`Self::answered`]).
    record: Option<FinishedMessage>,
}

impl MessagePipeline {
    /// A pipeline for a connection accepted on a listener with `role`.
    pub fn new(app: Arc<App>, services: Arc<Services>, role: Role) -> Self {
        let rules = header_rules(&app);
        MessagePipeline {
            app,
            services,
            role,
            rules,
            conn: ConnectionState::default(),
            msg: None,
            record: None,
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

    /// The long-lived services.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// CONNECT: a new SMTP session (resets everything).
    pub fn connect(&mut self, client: ClientInfo, daemon_name: Option<String>) {
        let client = ClientInfo {
            ip: client.ip.map(|ip| ip.to_canonical()),
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
        if self.conn.helo.as_deref() != Some(name) {
            self.conn.checks.helo_spf = Cached::NotStarted;
        }
        self.conn.helo = Some(name.to_vec());
    }

    /// The client, for logs.
    pub fn client(&self) -> &ClientInfo {
        &self.conn.client
    }

    /// MAIL FROM: a message begins. `sender` is the address without angle brackets.
    /// Inbound checks that need only the envelope (SPF, iprev) start now, in the background.
    pub fn mail(&mut self, sender: &[u8], args: Vec<Vec<u8>>, macros: &StageMacros) -> StageReply {
        let direction = self.direction(macros);
        let envelope = Envelope {
            mail_from: sender.to_vec(),
            mail_args: args,
            recipients: Vec::new(),
        };
        let mut state = MessageState::new(envelope, direction, macros.queue_id.clone());
        state.client_is_ours = self.client_is_ours(macros);
        state.auth_login = macros.auth_authen.clone().filter(|a| !a.is_empty());
        let reports = &self.app.config.reports;
        if direction.verifies()
            && reports.enabled
            && reports.failure.enabled
            && reports.failure.original == crate::config::OriginalSetting::Full
        {
            state.keep_body(crate::reports::failure::MAX_ORIGINAL_BYTES);
        }
        let mut current = Current::new(state);
        current.srs_spf = srs_envelope::srs_spf_task(&self.app, sender);
        if direction.verifies() {
            current.inbound.start_envelope(
                &self.app,
                &mut self.conn.checks,
                self.conn.client.ip,
                self.conn.helo.as_deref(),
                sender,
            );
        }
        self.msg = Some(current);
        StageReply::Continue
    }

    /// What the message under way is to us (decided at MAIL FROM), if one is.
    pub fn message_direction(&self) -> Option<Direction> {
        self.msg.as_ref().map(|m| m.state.direction)
    }

    /// RCPT TO: one recipient, without angle brackets.
    pub fn rcpt(&mut self, recipient: &[u8], args: Vec<Vec<u8>>) -> StageReply {
        if let Some(refusal) = srs_envelope::srs_recipient_check(&self.app, recipient) {
            return StageReply::Refuse(refusal);
        }
        let inbox = self.services.inbox.clone();
        let app = Arc::clone(&self.app);
        let cfg = &app.config.reports.inbox;
        let current = self.current();
        current.state.add_recipient(recipient.to_vec(), args);
        if let Some(inbox) = inbox.filter(|_| current.capture.is_none() && cfg.matches(recipient)) {
            current.capture = Some(crate::reports::inbox::Capture::start(&inbox, cfg));
        }
        StageReply::Continue
    }

    /// Updates the queue id when the MTA tells it (DATA, EOH, EOM macros).
    pub fn set_queue_id(&mut self, queue_id: Option<String>) {
        if let (Some(q), Some(msg)) = (queue_id, self.msg.as_mut()) {
            msg.state.queue_id = Some(q);
        }
    }

    /// One header field: its name and what follows the colon (leading whitespace included)
    /// with `\n` or `\r\n` folds. Kept once; past `[server] max_headers` / `max_header_bytes`
    /// only counted.
    pub fn header(&mut self, name: &[u8], value_after_colon: &[u8]) {
        // borrows `msg` alone, so the header rules need no copy
        let current = Current::of(&mut self.msg);
        if current.state.headers_done {
            // kept (its forged Authentication-Results are removed all the same), but the
            // checks began at end of headers without it
            current.state.late_header = true;
        }
        current
            .state
            .add_header(name, value_after_colon, &self.rules);
        if let Some(c) = &mut current.capture {
            c.header(name, value_after_colon);
        }
    }

    /// End of headers: start the header-based checks (DKIM key lookups, DMARC discovery)
    /// and request the body hashes (DKIM verification, our signatures). Nothing starts for a
    /// header block over the limits.
    pub fn end_of_headers(&mut self) {
        let app = Arc::clone(&self.app);
        let current = self.current();
        current.state.headers_done = true;
        if let Some(c) = &mut current.capture {
            c.end_of_headers();
        }
        if current.state.oversize.is_some() {
            return;
        }
        let direction = current.state.direction;
        if direction.verifies() {
            current
                .inbound
                .start_headers(&app, &current.state.headers, &mut current.body_hashes);
        }
        if direction.signs() {
            let signing = Signing::start(&app, &current.state.headers, &mut current.body_hashes);
            let rule = app.config.outbound.authenticated_from;
            current.signing = match &current.state.auth_login {
                Some(login) if !signing.is_empty() && !rule.allows(login, signing.author()) => {
                    tracing::warn!(
                        queue_id = current.state.queue_id.as_deref().unwrap_or("-"),
                        login = %crate::logging::Field(crate::logging::Escaped::str(login)),
                        "not signed: outbound.authenticated_from = \"login-domain\" and the From domain {} is not the login's domain",
                        signing.author()
                    );
                    Signing::default()
                }
                _ => signing,
            };
        }
        if direction == Direction::Forward && app.config.arc.seal {
            current.sealing =
                outbound::start_sealing(&app, &current.state.headers, &mut current.body_hashes);
        }
    }

    /// One body chunk (CRLF line ends, split anywhere): hashed once for every consumer.
    pub fn body(&mut self, chunk: &[u8]) {
        if !self.current().state.headers_done {
            // no EOH before the body (NOEOH or out-of-order input): the header checks start
            // now, so that every body hash they ask for sees the whole body
            self.end_of_headers();
        }
        let current = self.current();
        current.state.body(chunk);
        current.body_hashes.update(chunk);
        if let Some(c) = &mut current.capture {
            c.body(chunk);
        }
    }

    /// What the answer for unfinished end-of-message work needs from the message, taken
    /// before the work consumes it: the forged Authentication-Results to remove (usually none,
    /// no allocation). [`MessagePipeline::fallback_decision`] builds the answer from it only
    /// when the budget runs out.
    pub fn fallback_deletions(&self) -> Vec<HeaderDeletion> {
        self.msg
            .as_ref()
            .map(|m| m.state.forged_deletions())
            .unwrap_or_default()
    }

    /// The answer if end-of-message work cannot finish (`[policy] on_error`), removing the
    /// forged Authentication-Results noted by [`MessagePipeline::fallback_deletions`].
    pub fn fallback_decision(&self, delete: Vec<HeaderDeletion>, why: &str) -> Decision {
        let mut d = Decision::accept();
        d.delete = delete;
        policy::on_error(&self.app, why, &mut d);
        d.summary = format!("error={why}");
        d
    }

    /// End of message: collect results and decide. The message state is consumed.
    pub async fn end_of_message(&mut self) -> Arc<Decision> {
        let mut current = self
            .msg
            .take()
            .unwrap_or_else(|| Current::new(MessageState::without_envelope()));
        if !current.state.headers_done {
            // no EOH was seen (NOEOH or out-of-order input): start header checks now
            self.msg = Some(current);
            self.end_of_headers();
            current = match self.msg.take() {
                Some(c) => c,
                None => Current::new(MessageState::without_envelope()),
            };
        }
        self.decide(current).await
    }

    /// After the end-of-message budget ran out: forget per-connection checks still running
    /// (they are aborted and started afresh for the next message).
    pub fn after_timeout(&mut self) {
        self.conn.checks.reset_unfinished();
    }

    /// ABORT: drop the message (the connection stays).
    pub fn abort(&mut self) {
        self.msg = None;
        self.record = None;
    }

    /// The MTA was sent the end-of-message answer (milter protocol §3.4): with `as_decided`
    /// the decision's own, and the message is published to the results sink (recorded for
    /// DMARC reports, RFC 9990 §3.1.1.8: the messages the policy was applied to); otherwise
    /// a tempfail in its place (the MTA would not let the decision be carried out), and the
    /// message, which was not received and whose every retry would count again, is not.
    /// A message whose answer was never written is never published either.
    pub fn answered(&mut self, as_decided: bool) {
        if let Some(record) = self.record.take()
            && as_decided
        {
            self.services.sink.publish(record);
        }
    }

    /// Whether a message is in progress.
    pub fn in_message(&self) -> bool {
        self.msg.is_some()
    }

    /// The queue id of the open message, for logs.
    pub fn queue_id(&self) -> Option<&str> {
        self.msg.as_ref().and_then(|m| m.state.queue_id.as_deref())
    }

    fn current(&mut self) -> &mut Current {
        Current::of(&mut self.msg)
    }

    /// Decides what a message is to us from the listener role and `[outbound]`
    /// (docs/configuration.md, listener roles).
    fn direction(&self, macros: &StageMacros) -> Direction {
        match self.role {
            Role::Sign => Direction::Outbound,
            Role::Verify => Direction::Inbound,
            Role::Forward => Direction::Forward,
            Role::Auto if self.client_is_ours(macros) => Direction::Outbound,
            Role::Auto => Direction::Inbound,
        }
    }

    /// Whether `[outbound]` counts the client as ours: authenticated, on an internal network,
    /// or behind one of our daemon names.
    fn client_is_ours(&self, macros: &StageMacros) -> bool {
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
        authenticated || internal || daemon
    }
}

/// The header limits and forged-A-R ids from the configuration.
fn header_rules(app: &App) -> HeaderRules {
    HeaderRules {
        max_fields: app.config.server.max_headers,
        max_bytes: app.config.server.max_header_bytes,
        remove_forged: app.config.authres.remove_forged,
        forged_ids: std::iter::once(app.authserv_id.clone())
            .chain(app.config.authres.remove_ids.iter().cloned())
            .collect(),
    }
}
