//! One milter connection: bytes in, frames decoded, the session state machine driven, the
//! pipeline called, replies written. Many messages per connection; ABORT resets the message.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use milter_proto::{
    Command, Decoded, Event, FrameDecoder, ProtocolError, ReplyOwed, Response, Session, Wants,
    Warning,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::app::App;
use crate::config::Role;
use crate::logging::Escaped;
use crate::pipeline::{ClientInfo, MessagePipeline, StageMacros, StageReply, reply_text};
use crate::quiet_socket::ReadArrived;
use crate::services::Services;

use header_value::mta_header_value;
use timer::{ConnectionTimer, deadline_after};

mod end_of_message;
mod header_value;
mod timer;

/// The read buffer's size. Body frames (64 KiB from Postfix) are handed to the body hashes as
/// they arrive, so only a frame the session keeps whole (a header, macros: at most
/// `server.max_packet_size`) makes it grow; it returns to this size once such a frame has
/// been handled (see [`shrink_read_buffer`]).
const READ_BUFFER: usize = 16 * 1024;

/// During a shutdown, how long a connection that has just answered end-of-message waits for
/// the MTA's ABORT before closing (Postfix sends it at once; Sendmail sends none).
const ABORT_GRACE: Duration = Duration::from_secs(1);

/// Most recipients one message may have: past it the connection is closed (the MTA applies
/// its default action), so that a flood of RCPT (no reply owed with NR_RCPT) cannot grow the
/// envelope without bound. Postfix allows 1000 by default (`smtpd_recipient_limit`), Exim
/// 50000 (`recipients_max`).
const MAX_RECIPIENTS: usize = 50_000;

/// Most bytes of MAIL and RCPT payloads (addresses and ESMTP parameters) one message may
/// have: past it the connection is closed like past [`MAX_RECIPIENTS`], so that recipients
/// of a megabyte each (no SMTP command line is longer than a few hundred octets, RFC 5321
/// §4.5.3.1.4) cannot grow the envelope without bound. 50,000 ordinary recipients are ~2 MB
/// of payload, which the pipeline's one copy holds in ~10 MB (an allocation per address;
/// measured: 20 connections of 10,000 recipients took 37 MB, 99 MB with the second copy).
const MAX_ENVELOPE_BYTES: usize = 4 << 20;

/// The server's shutdown as a connection sees it.
#[derive(Debug, Clone)]
pub struct Shutdown {
    /// True once the server stops: finish the message under way, then close.
    pub stop: watch::Receiver<bool>,
    /// True once `shutdown_timeout` has passed: answer the message being checked now (per
    /// `policy.on_error`, as when its checks overrun `eom_timeout`) and close.
    pub out_of_time: watch::Receiver<bool>,
}

/// Waits until `out_of_time` is true; forever when its sender is gone without saying so.
async fn out_of_time(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|t| *t).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Serves one accepted connection until QUIT, EOF, an error, a timeout or shutdown.
pub async fn serve_connection<S>(
    stream: S,
    app: Arc<App>,
    services: Arc<Services>,
    role: Role,
    shutdown: Shutdown,
) where
    S: AsyncRead + AsyncWrite + ReadArrived + Unpin + Send,
{
    let cfg = &app.config.server;
    let mut conn = Connection {
        decoder: FrameDecoder::with_max_payload(cfg.max_packet_size),
        session: Session::new(wants(&app)),
        pipeline: MessagePipeline::new(Arc::clone(&app), services, role),
        rbuf: BytesMut::with_capacity(READ_BUFFER),
        rbuf_grown: false,
        wbuf: BytesMut::with_capacity(1024),
        idle_timeout: cfg.idle_timeout.get(),
        write_timeout: cfg.write_timeout.get(),
        timer: ConnectionTimer::new(cfg.idle_timeout.get()),
        stream,
        app: Arc::clone(&app),
        header_buf: Vec::with_capacity(256),
        message_start: None,
        answered_eom: false,
        envelope_bytes: 0,
        negotiated: false,
        out_of_time: shutdown.out_of_time,
    };
    match conn.run(shutdown.stop).await {
        Ok(()) => tracing::debug!("milter connection closed"),
        Err(ConnError::Protocol(e)) => {
            tracing::warn!(
                client = %crate::logging::Field(Escaped::str(&conn.client_label())),
                "closing milter connection: {e}"
            )
        }
        Err(ConnError::Io(e)) => {
            tracing::debug!(
                client = %crate::logging::Field(Escaped::str(&conn.client_label())),
                "milter connection I/O error: {e}"
            )
        }
        Err(ConnError::Timeout(what)) => {
            tracing::info!(
                client = %crate::logging::Field(Escaped::str(&conn.client_label())),
                "closing milter connection: {what} timed out"
            )
        }
        Err(ConnError::Limit(what)) => {
            tracing::warn!(
                client = %crate::logging::Field(Escaped::str(&conn.client_label())),
                "closing milter connection: {what}"
            )
        }
    }
}

enum ConnError {
    Protocol(ProtocolError),
    Io(std::io::Error),
    Timeout(&'static str),
    /// A per-message limit was exceeded.
    Limit(String),
}

impl From<ProtocolError> for ConnError {
    fn from(e: ProtocolError) -> Self {
        ConnError::Protocol(e)
    }
}

impl From<std::io::Error> for ConnError {
    fn from(e: std::io::Error) -> Self {
        ConnError::Io(e)
    }
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

struct Connection<S> {
    stream: S,
    decoder: FrameDecoder,
    session: Session,
    pipeline: MessagePipeline,
    rbuf: BytesMut,
    /// `rbuf` grew for a large frame: replaced once empty ([`shrink_read_buffer`]).
    rbuf_grown: bool,
    wbuf: BytesMut,
    idle_timeout: Duration,
    write_timeout: Duration,
    /// Every wait's time limit (see [`ConnectionTimer`]).
    timer: ConnectionTimer,
    app: Arc<App>,
    /// Reused for header values that need their leading space back.
    header_buf: Vec<u8>,
    /// When the message being received began: CONNECT for the first message of the
    /// connection, MAIL FROM for later ones (the latency metric).
    message_start: Option<Instant>,
    /// The last command was end-of-message, answered: during a shutdown the MTA's ABORT
    /// (Postfix sends one after every message) is waited for up to [`ABORT_GRACE`].
    answered_eom: bool,
    /// Bytes of the MAIL and RCPT payloads of the message under way (see
    /// [`MAX_ENVELOPE_BYTES`]).
    envelope_bytes: usize,
    /// OPTNEG was answered once: another one starts a new SMTP session (§2.1).
    negotiated: bool,
    /// The server's shutdown ran out of time (see [`Shutdown::out_of_time`]).
    out_of_time: watch::Receiver<bool>,
}

impl<S> Connection<S>
where
    S: AsyncRead + AsyncWrite + ReadArrived + Unpin + Send,
{
    async fn run(&mut self, mut stop: watch::Receiver<bool>) -> Result<(), ConnError> {
        let mut stopping = *stop.borrow();
        let mut handled: u32 = 0;
        loop {
            while let Some(decoded) = self.decoder.decode_streaming(&mut self.rbuf)? {
                let cmd = match decoded {
                    Decoded::Command(cmd) => cmd,
                    Decoded::BodyPart(part) => {
                        self.body_part(&part);
                        continue;
                    }
                };
                if self.handle(cmd).await? == Flow::Close {
                    self.flush().await?;
                    return Ok(());
                }
                if self.answered_eom {
                    // the answer goes out now, not after whatever the MTA pipelined behind it
                    self.flush().await?;
                }
                // many commands in one read are handled without waiting for I/O: give the
                // other connections their turn now and then (every 16 commands spend one unit
                // of tokio's cooperative budget, which yields once it is used up)
                handled = handled.wrapping_add(1);
                if handled.is_multiple_of(16) {
                    tokio::task::coop::consume_budget().await;
                }
            }
            note_growth(&self.rbuf, &mut self.rbuf_grown);
            self.flush().await?;
            shrink_read_buffer(&mut self.rbuf, &mut self.rbuf_grown);
            if stopping
                && !self.pipeline.in_message()
                && self.rbuf.is_empty()
                && !self.decoder.in_body_frame()
            {
                // idle only if the MTA has not sent more already: it does not wait for a
                // reply to CONNECT, HELO, MAIL or DATA (no-reply flags), so a message may be
                // under way in the socket while the event loop has not reported it yet
                match self.stream.read_arrived(&mut self.rbuf)? {
                    Some(0) => return Ok(()),
                    Some(_) => continue,
                    // Postfix ends every message with ABORT, sent as soon as it has our
                    // answer: wait for it (briefly, below) rather than have it hit a closed
                    // socket
                    None if self.answered_eom => {}
                    None => {
                        tracing::debug!("closing idle milter connection for shutdown");
                        return Ok(());
                    }
                }
            }
            // a shutdown is seen here even while the MTA keeps the socket readable (the read
            // below comes first, so the `stop` branch is only polled when it would wait)
            if !stopping && stop.has_changed().unwrap_or(true) {
                stopping = *stop.borrow_and_update() || stop.has_changed().is_err();
                continue;
            }
            let wait = if stopping && self.answered_eom {
                ABORT_GRACE.min(self.idle_timeout)
            } else {
                self.idle_timeout
            };
            let deadline = deadline_after(wait);
            let read = tokio::select! {
                biased;
                r = self.timer.within(deadline, self.stream.read_buf(&mut self.rbuf)) => r,
                changed = stop.changed(), if !stopping => {
                    stopping = changed.is_err() || *stop.borrow();
                    continue;
                }
            };
            match read {
                None if stopping && self.answered_eom => {
                    tracing::debug!(
                        "closing milter connection for shutdown after its last message"
                    );
                    return Ok(());
                }
                None => return Err(ConnError::Timeout("waiting for the MTA")),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(0)) => {
                    // EOF without QUIT is normal (milter-protocol.md §0 rule 10).
                    if let Err(e) = self.decoder.finish(&self.rbuf) {
                        tracing::debug!("EOF inside a frame: {e}");
                    }
                    return Ok(());
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Leading bytes of a body frame still arriving: hashed now, so that no body frame is
    /// ever held whole; the frame's command follows with the rest.
    fn body_part(&mut self, part: &[u8]) {
        for w in self.session.body_part(part) {
            self.protocol_warning(&w);
        }
        self.pipeline.body(part);
    }

    /// Logs what the session noticed about the MTA's commands: a message cut short or begun
    /// without MAIL at warning level (its checks see part of it, and its answer may say so,
    /// e.g. "no From header field"), the rest at debug.
    fn protocol_warning(&self, w: &Warning) {
        match w {
            Warning::HeloInsideMessage | Warning::MailInsideMessage | Warning::NoMessage(_) => {
                tracing::warn!(
                    client = %crate::logging::Field(Escaped::str(&self.client_label())),
                    "MTA out of step, the message under way is checked as it stands: {w:?}"
                );
            }
            _ => {
                tracing::debug!(client = %crate::logging::Field(Escaped::str(&self.client_label())), "protocol: {w:?}")
            }
        }
    }

    async fn handle(&mut self, cmd: Command) -> Result<Flow, ConnError> {
        if matches!(cmd, Command::Rcpt(_))
            && let Some(m) = self.session.message()
            && m.recipient_count >= MAX_RECIPIENTS
        {
            return Err(ConnError::Limit(format!(
                "more than {MAX_RECIPIENTS} recipients in one message"
            )));
        }
        if let Command::Mail(e) | Command::Rcpt(e) = &cmd {
            let size = e
                .args
                .iter()
                .fold(e.address.len(), |n, a| n.saturating_add(a.len() + 1));
            self.envelope_bytes = match cmd {
                Command::Mail(_) => size,
                _ => self.envelope_bytes.saturating_add(size),
            };
            if self.envelope_bytes > MAX_ENVELOPE_BYTES {
                return Err(ConnError::Limit(format!(
                    "more than {MAX_ENVELOPE_BYTES} bytes of MAIL and RCPT in one message"
                )));
            }
        }
        // a new message starts (RFC 5321 §4.1.4: the envelope ends with the message, a
        // RSET, a HELO): the bound on its MAIL and RCPT bytes starts again even for an MTA
        // that sends RCPT without MAIL
        if matches!(
            cmd,
            Command::BodyEob(_) | Command::Abort | Command::Connect(_) | Command::Helo(_)
        ) {
            self.envelope_bytes = 0;
        }
        let step = self.session.handle(cmd)?;
        self.answered_eom = false;
        for w in &step.warnings {
            self.protocol_warning(w);
        }
        let owed = step.reply;
        let reply = match step.event {
            Event::Negotiate { negotiated, offer } => {
                // a second OPTNEG renegotiates for a new SMTP session: nothing of the last
                // one (its client, HELO, message) may carry over (as after QUIT_NC)
                if std::mem::replace(&mut self.negotiated, true) {
                    self.new_smtp_session();
                }
                tracing::debug!(
                    version = negotiated.version,
                    offered_version = offer.version,
                    "negotiated"
                );
                Some(negotiated.reply())
            }
            Event::Macros { .. } => None,
            Event::Connect(info) => {
                // no address in CONNECT (family 'U'): fall back to the {client_addr} macro
                let ip = info.ip().or_else(|| {
                    self.macro_string(b"{client_addr}")
                        .and_then(|a| a.trim_start_matches("IPv6:").parse().ok())
                });
                let client = ClientInfo {
                    hostname: String::from_utf8_lossy(&info.hostname).into_owned(),
                    ip,
                    port: info.port,
                };
                let daemon = self.macro_string(b"{daemon_name}");
                self.pipeline.connect(client, daemon);
                self.message_start = Some(Instant::now());
                Some(Response::Continue)
            }
            Event::Helo(name) => {
                self.pipeline.helo(&name);
                Some(Response::Continue)
            }
            Event::Mail(env) => {
                self.message_start.get_or_insert_with(Instant::now);
                let macros = StageMacros {
                    auth_authen: self.macro_string(b"{auth_authen}"),
                    queue_id: self.macro_string(b"i"),
                };
                let args = env.args.iter().map(|a| a.to_vec()).collect();
                let r = self.pipeline.mail(env.mailbox(), args, &macros);
                Some(self.stage_response(r))
            }
            Event::Rcpt(env) => {
                let args = env.args.iter().map(|a| a.to_vec()).collect();
                let r = self.pipeline.rcpt(env.mailbox(), args);
                Some(self.stage_response(r))
            }
            Event::Data => {
                let q = self.macro_string(b"i");
                self.pipeline.set_queue_id(q);
                Some(Response::Continue)
            }
            Event::Header(field) => {
                mta_header_value(&field.value, field.leadspc, &mut self.header_buf);
                self.pipeline.header(&field.name, &self.header_buf);
                // a long field's room is not kept for the connection's life (the pipeline
                // copied the value): an idle connection stays small
                if self.header_buf.capacity() > READ_BUFFER {
                    self.header_buf = Vec::with_capacity(256);
                }
                Some(Response::Continue)
            }
            Event::EndOfHeaders => {
                let q = self.macro_string(b"i");
                self.pipeline.set_queue_id(q);
                self.pipeline.end_of_headers();
                Some(Response::Continue)
            }
            Event::Body(chunk) => {
                self.pipeline.body(&chunk);
                Some(Response::Continue)
            }
            Event::EndOfMessage { last_chunk } => {
                if let Some(chunk) = last_chunk {
                    self.pipeline.body(&chunk);
                }
                self.end_of_message().await?;
                self.answered_eom = true;
                return Ok(Flow::Continue);
            }
            Event::Abort { .. } => {
                self.pipeline.abort();
                self.message_start = None;
                None
            }
            Event::Quit => return Ok(Flow::Close),
            Event::QuitNewConnection => {
                self.new_smtp_session();
                None
            }
            Event::Unknown(_) => Some(Response::Continue),
        };
        if owed != ReplyOwed::None
            && let Some(r) = reply
        {
            self.session.send(&r, &mut self.wbuf)?;
        }
        Ok(Flow::Continue)
    }

    fn stage_response(&self, reply: StageReply) -> Response {
        match reply {
            StageReply::Continue => Response::Continue,
            StageReply::Refuse(r) => {
                tracing::info!(
                    client = %crate::logging::Field(Escaped::str(&self.client_label())),
                    reply = %crate::logging::Field(Escaped::str(&reply_text(&r))),
                    "envelope refused"
                );
                Response::ReplyCode(r)
            }
        }
    }

    fn pipeline_role(&self) -> Role {
        self.pipeline.role()
    }

    /// A new SMTP session on this connection (QUIT_NC, or a second OPTNEG): a fresh pipeline
    /// for the listener's role, nothing of the last client, HELO or message kept.
    fn new_smtp_session(&mut self) {
        let role = self.pipeline_role();
        let services = Arc::clone(self.pipeline.services());
        self.pipeline = MessagePipeline::new(Arc::clone(&self.app), services, role);
        self.message_start = None;
        self.envelope_bytes = 0;
    }

    fn macro_string(&self, name: &[u8]) -> Option<String> {
        self.session
            .macro_value(name)
            .filter(|v| !v.is_empty())
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    /// `host[ip]` for logs, the host name as the MTA sent it (from the network): log it as
    /// `client = %Field(Escaped::str(&label))`.
    fn client_label(&self) -> String {
        let c = self.pipeline.client();
        match c.ip {
            Some(ip) => format!("{}[{ip}]", c.hostname),
            None => c.hostname.clone(),
        }
    }

    async fn flush(&mut self) -> Result<(), ConnError> {
        write_all(
            &mut self.stream,
            &mut self.timer,
            &mut self.wbuf,
            self.write_timeout,
        )
        .await
    }
}

/// Notes that the read buffer grew past [`READ_BUFFER`] for a frame still arriving (the
/// decoder reserved room for it): only then does its capacity show it, since once the frame is
/// split off the capacity is small while the allocation stays behind it.
fn note_growth(rbuf: &BytesMut, grown: &mut bool) {
    *grown |= rbuf.capacity() > 2 * READ_BUFFER;
}

/// After a frame larger than [`READ_BUFFER`] (a long header, many macros) was handled, goes
/// back to a fresh read buffer of the usual size, letting go of the grown allocation (the
/// frame's parts still in use keep it until they are dropped). Only when it is empty: a frame
/// still arriving would make it grow again.
fn shrink_read_buffer(rbuf: &mut BytesMut, grown: &mut bool) {
    if *grown && rbuf.is_empty() {
        *rbuf = BytesMut::with_capacity(READ_BUFFER);
        *grown = false;
    }
}

async fn write_all<S: AsyncWrite + Unpin>(
    stream: &mut S,
    timer: &mut ConnectionTimer,
    buf: &mut BytesMut,
    limit: Duration,
) -> Result<(), ConnError> {
    if buf.is_empty() {
        return Ok(());
    }
    match timer
        .within(deadline_after(limit), stream.write_all(buf))
        .await
    {
        None => Err(ConnError::Timeout("writing to the MTA")),
        Some(Err(e)) => Err(e.into()),
        Some(Ok(())) => {
            buf.clear();
            Ok(())
        }
    }
}

/// What we ask for at negotiation: the default actions and protocol bits, no reply to the
/// commands we never refuse (CONNECT, HELO, MAIL, DATA; RCPT unless SRS may refuse a
/// recipient): the MTA then does not wait for us there, and each saves a read, a write and a
/// wake-up per message (§2.3). When `server.request_macros` is on, the macros the pipeline
/// reads (SETSYMLIST, §3.9; sent only if the MTA offers it, and only non-empty lists).
fn wants(app: &App) -> Wants {
    use milter_proto::{ProtocolFlags, SymList, SymStage};
    let mut w = Wants::default();
    w.protocol |= ProtocolFlags::NR_CONN
        | ProtocolFlags::NR_HELO
        | ProtocolFlags::NR_MAIL
        | ProtocolFlags::NR_DATA;
    if !crate::pipeline::may_refuse_recipients(app) {
        w.protocol |= ProtocolFlags::NR_RCPT;
    }
    if app.config.server.request_macros {
        let list = |stage, names: &'static str| SymList {
            stage,
            macros: Bytes::from_static(names.as_bytes()),
        };
        w.symlists = vec![
            list(SymStage::CONNECT, "{daemon_name} {client_addr}"),
            list(SymStage::ENVFROM, "i {auth_authen}"),
            list(SymStage::DATA, "i"),
            list(SymStage::EOH, "i"),
            list(SymStage::EOM, "i"),
        ];
    }
    w
}

#[cfg(test)]
mod tests;
