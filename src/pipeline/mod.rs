//! The per-connection, per-message pipeline: it receives what the MTA tells us, runs the checks
//! and decides what to send back. It knows nothing of the milter wire format, so the offline
//! `eval` command drives exactly the same code as the server.
//!
//! Stages (architecture.md §2.5): the connection context is built at CONNECT/HELO; at MAIL the
//! message begins and inbound checks that only need the envelope start in the background (SPF,
//! iprev); at end of headers the header-based ones start (DKIM key lookups, DMARC policy
//! discovery) and body consumers are registered (DKIM verification, our signatures); body chunks
//! stream to the consumers; at end of message the results meet and one [`Decision`] comes out.

mod checks;
pub mod decision;
mod message;
pub mod policy;
pub mod results;
mod task;

use std::net::IpAddr;
use std::sync::Arc;

pub use decision::{Decision, HeaderChange, RcptChange, Verdict};
pub use message::{Direction, MessageState, StoredHeader};
pub use results::{Results, ResultsReport};

use crate::app::App;
use crate::config::{Role, canonical_ip};
use checks::{ConnectionChecks, InboundChecks, Signing};

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
    Refuse(String),
}

/// The message in progress with its checks.
struct Current {
    state: MessageState,
    inbound: InboundChecks,
    signing: Signing,
    /// For `[srs] rewrite = "when-spf-fails"`: does the sender's SPF pass from our addresses?
    srs_spf: Option<task::Task<bool>>,
}

impl Current {
    fn new(state: MessageState) -> Self {
        Current {
            state,
            inbound: InboundChecks::default(),
            signing: Signing::default(),
            srs_spf: None,
        }
    }
}

/// One milter connection's pipeline.
pub struct MessagePipeline {
    app: Arc<App>,
    role: Role,
    conn: ConnectionState,
    msg: Option<Current>,
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
        let name = String::from_utf8_lossy(name).into_owned();
        if self.conn.helo.as_deref() != Some(name.as_str()) {
            self.conn.checks.helo_spf = checks::Cached::NotStarted;
        }
        self.conn.helo = Some(name);
    }

    /// The client, for logs.
    pub fn client(&self) -> &ClientInfo {
        &self.conn.client
    }

    /// MAIL FROM: a message begins. `sender` is the address without angle brackets.
    /// Inbound checks that need only the envelope (SPF, iprev) start now, in the background.
    pub fn mail(&mut self, sender: &[u8], args: Vec<Vec<u8>>, macros: &StageMacros) -> StageReply {
        let direction = self.direction(macros);
        let mut current = Current::new(MessageState::new(
            sender.to_vec(),
            args,
            direction,
            macros.queue_id.clone(),
        ));
        current.srs_spf = srs_spf_task(&self.app, sender);
        if direction == Direction::Inbound {
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

    /// RCPT TO: one recipient, without angle brackets.
    pub fn rcpt(&mut self, recipient: &[u8], args: Vec<Vec<u8>>) -> StageReply {
        if let Some(srs) = self
            .app
            .srs
            .as_ref()
            .filter(|_| self.app.config.srs.enabled)
            && srs.reverse
        {
            let rcpt = String::from_utf8_lossy(recipient);
            if let srs::milter::RecipientAction::Reject(reply) =
                srs.with_milter(|m| m.check_recipient(&rcpt))
            {
                return StageReply::Refuse(reply.to_string());
            }
        }
        self.current().state.add_recipient(recipient.to_vec(), args);
        StageReply::Continue
    }

    /// Updates the queue id when the MTA tells it (DATA, EOH, EOM macros).
    pub fn set_queue_id(&mut self, queue_id: Option<String>) {
        if let (Some(q), Some(msg)) = (queue_id, self.msg.as_mut()) {
            msg.state.queue_id = Some(q);
        }
    }

    /// One header, as it appears after the colon (leading whitespace included) with `\n` or
    /// `\r\n` folding.
    pub fn header(&mut self, name: &[u8], value_after_colon: &[u8]) {
        self.current().state.add_header(name, value_after_colon);
    }

    /// End of headers: start the header-based checks (DKIM key lookups, DMARC discovery)
    /// and register the body consumers (DKIM hashers, our signatures).
    pub fn end_of_headers(&mut self) {
        let app = Arc::clone(&self.app);
        let current = self.current();
        current.state.headers_done = true;
        match current.state.direction {
            Direction::Inbound => current.inbound.start_headers(&app, &current.state.headers),
            Direction::Outbound => current.signing = Signing::start(&app, &current.state.headers),
        }
    }

    /// One body chunk (CRLF line ends, split anywhere): streamed to every body consumer.
    pub fn body(&mut self, chunk: &[u8]) {
        let current = self.current();
        current.state.body(chunk);
        current.inbound.body(chunk);
        current.signing.body(chunk);
    }

    /// End of message: collect results and decide. The message state is consumed.
    pub async fn end_of_message(&mut self) -> Decision {
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
        self.msg
            .get_or_insert_with(|| Current::new(MessageState::without_envelope()))
    }

    /// Decides whether the message is ours (sign) or inbound (verify) (docs/configuration.md
    /// `[outbound]`, listener roles).
    fn direction(&self, macros: &StageMacros) -> Direction {
        match self.role {
            Role::Sign => Direction::Outbound,
            Role::Verify => Direction::Inbound,
            Role::Auto => {
                let cfg = &self.app.config.outbound;
                let authenticated = cfg.authenticated
                    && macros.auth_authen.as_deref().is_some_and(|a| !a.is_empty());
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

    async fn decide(&mut self, current: Current) -> Decision {
        let app = Arc::clone(&self.app);
        let Current {
            state,
            inbound,
            signing,
            srs_spf,
        } = current;
        let mut decision = Decision::accept();
        decision
            .headers
            .extend(state.forged_authres_deletions(&app));
        match state.direction {
            Direction::Inbound => {
                let results = inbound
                    .finish(
                        &app,
                        &mut self.conn.checks,
                        &state.headers,
                        state.mail_from.is_empty(),
                    )
                    .await;
                // inserts at index 0 stack: Received-SPF first, so A-R ends up on top
                if app.config.spf.received_spf_header
                    && let (Some(o), Some(ip)) = (&results.spf_mail, self.conn.client.ip)
                {
                    let helo = self.conn.helo.clone().unwrap_or_default();
                    let value = spf::ReceivedSpf::new(o, spf::Identity::MailFrom, ip)
                        .envelope_from(&state.mail_from)
                        .helo(helo.as_bytes())
                        .receiver(&app.authserv_id)
                        .folded_value("\n\t");
                    decision.headers.push(HeaderChange::Insert {
                        index: 0,
                        name: "Received-SPF".into(),
                        value,
                    });
                }
                let ar = results.authentication_results(&app.authserv_id);
                decision.headers.push(HeaderChange::Insert {
                    index: 0,
                    name: "Authentication-Results".into(),
                    value: ar.format(&authres::FormatOptions::milter()),
                });
                policy::apply(
                    &app,
                    &policy::PolicyInput {
                        client_ip: self.conn.client.ip,
                    },
                    &results,
                    &mut decision,
                );
                decision.summary =
                    format!("inbound size={} {}", state.body_bytes, results.summary());
                decision.results = Some(results);
            }
            Direction::Outbound => {
                let (signatures, log) = signing.finish(&state.headers);
                // inserts at index 0 stack: send the bottom-most first
                for value in signatures.into_iter().rev() {
                    decision.headers.push(HeaderChange::Insert {
                        index: 0,
                        name: "DKIM-Signature".into(),
                        value,
                    });
                }
                decision.summary = if log.is_empty() {
                    format!("outbound size={} unsigned", state.body_bytes)
                } else {
                    format!("outbound size={} {}", state.body_bytes, log.join(" "))
                };
            }
        }
        if decision.verdict == Verdict::Accept {
            apply_srs(&app, &state, srs_spf, &mut decision).await;
        }
        decision
    }
}

/// For `rewrite = "when-spf-fails"`: checks whether the sender domain's SPF passes for every
/// one of our outbound addresses, in the background from MAIL on.
fn srs_spf_task(app: &Arc<App>, sender: &[u8]) -> Option<task::Task<bool>> {
    let cfg = &app.config.srs;
    if !cfg.enabled
        || cfg.rewrite != crate::config::SrsRewrite::WhenSpfFails
        || cfg.outbound_addresses.is_empty()
        || sender.is_empty()
    {
        return None;
    }
    let (a, sender) = (Arc::clone(app), sender.to_vec());
    Some(task::Task::spawn(async move {
        for ip in &a.config.srs.outbound_addresses {
            let out = a
                .spf
                .check_mail_from(&*a.resolver, *ip, &sender, a.authserv_id.as_bytes())
                .await;
            if out.result != spf::SpfResult::Pass {
                return false;
            }
        }
        true
    }))
}

/// SRS at end of message: rewrite the sender of forwarded mail, restore SRS recipients.
async fn apply_srs(
    app: &App,
    state: &MessageState,
    srs_spf: Option<task::Task<bool>>,
    decision: &mut Decision,
) {
    let Some(srs) = app.srs.as_ref().filter(|_| app.config.srs.enabled) else {
        return;
    };
    let spf_ok = match srs_spf {
        Some(t) => t.join().await,
        None => None,
    };
    let sender = String::from_utf8_lossy(&state.mail_from).into_owned();
    let rcpts: Vec<String> = state
        .recipients
        .iter()
        .map(|(r, _)| String::from_utf8_lossy(r).into_owned())
        .collect();
    match srs.with_milter(|m| m.decide(&sender, &rcpts, spf_ok)) {
        srs::milter::MilterDecision::Accept(changes) => {
            if let Some(new) = changes.new_sender {
                decision.summary.push_str(" srs=forward");
                decision.new_sender = Some(new);
                decision.new_sender_args = dsn_args(&state.mail_args);
            }
            if srs.reverse {
                for c in changes.recipients {
                    decision.summary.push_str(" srs=reverse");
                    decision.recipients.push(RcptChange::Delete(c.old));
                    decision.recipients.push(RcptChange::Add(c.new));
                }
            }
        }
        srs::milter::MilterDecision::Reject(reply) => {
            if srs.reverse {
                decision.verdict = Verdict::Reject(reply.to_string());
            }
        }
    }
}

/// The MAIL FROM parameters that travel with a changed sender: the DSN ones (RFC 3461 RET=
/// and ENVID=). Postfix keeps only these from CHGFROM and Sendmail validates them, while SIZE
/// and BODY describe the message, not the sender, and stay as they are.
fn dsn_args(args: &[Vec<u8>]) -> Option<String> {
    let kept: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .filter(|a| {
            let upper = a.to_ascii_uppercase();
            upper.starts_with("RET=") || upper.starts_with("ENVID=")
        })
        .filter(|a| !a.contains(char::is_whitespace) && !a.contains('\0'))
        .collect();
    (!kept.is_empty()).then(|| kept.join(" "))
}
