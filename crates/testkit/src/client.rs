//! The fake MTA: an async loop over `milter_proto::client::ClientSession`, which speaks like
//! Postfix, Sendmail or a legacy MTA (docs/design/milter-protocol.md §11). This file only moves bytes and keeps
//! deadlines; the protocol decisions are the session's.

use std::future::Future;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use bytes::BytesMut;
use milter_proto::client::{
    Awaiting, BodySplit, ClientSession, Eml, EomOutcome, Profile, Reply, ReplyStep, chunk_body,
    decided,
};
use milter_proto::{Command, CommandCode, FrameDecoder, OptNeg, Response, SymList};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs, UnixStream};

use crate::error::TestkitError;

type Result<T> = std::result::Result<T, TestkitError>;

/// Any byte stream the client can talk over (TCP, Unix socket, in-memory duplex).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A fake MTA connected to a milter.
pub struct MtaClient {
    io: Box<dyn Io>,
    rbuf: BytesMut,
    wbuf: BytesMut,
    decoder: FrameDecoder,
    session: ClientSession,
    strict: bool,
    eof: bool,
}

impl std::fmt::Debug for MtaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtaClient")
            .field("flavor", &self.session.profile().flavor)
            .field("agreed", &self.session.negotiated())
            .field("messages_finished", &self.session.messages_finished())
            .finish_non_exhaustive()
    }
}

impl MtaClient {
    /// Connects over TCP (`127.0.0.1:port`), within the profile's command timeout.
    pub async fn connect_tcp(addr: impl ToSocketAddrs, profile: Profile) -> Result<Self> {
        let t = profile.command_timeout;
        let stream = tokio::time::timeout(t, TcpStream::connect(addr))
            .await
            .map_err(|_| TestkitError::Timeout {
                waiting_for: "TCP connect",
                after: t,
            })??;
        stream.set_nodelay(true)?;
        Ok(Self::from_stream(stream, profile))
    }

    /// Connects over a Unix socket, within the profile's command timeout.
    pub async fn connect_unix(path: impl AsRef<Path>, profile: Profile) -> Result<Self> {
        let t = profile.command_timeout;
        let stream = tokio::time::timeout(t, UnixStream::connect(path))
            .await
            .map_err(|_| TestkitError::Timeout {
                waiting_for: "unix connect",
                after: t,
            })??;
        Ok(Self::from_stream(stream, profile))
    }

    /// Wraps an existing stream (e.g. `tokio::io::duplex`).
    pub fn from_stream(io: impl Io + 'static, profile: Profile) -> Self {
        Self {
            io: Box::new(io),
            rbuf: BytesMut::with_capacity(8192),
            wbuf: BytesMut::with_capacity(8192),
            decoder: FrameDecoder::new(),
            session: ClientSession::new(profile),
            strict: true,
            eof: false,
        }
    }

    /// Turns the check for unsolicited bytes before every command on or off (default on).
    pub fn set_strict(&mut self, strict: bool) {
        self.strict = strict;
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        self.session.profile()
    }

    /// The options the milter chose, after [`negotiate`](Self::negotiate).
    pub fn negotiated(&self) -> Option<&OptNeg> {
        self.session.negotiated()
    }

    /// The macro lists the milter requested in its OPTNEG reply.
    pub fn symlists(&self) -> &[SymList] {
        self.session.symlists()
    }

    /// Messages finished (final reply to BODYEOB) on this connection.
    pub fn messages_finished(&self) -> u64 {
        self.session.messages_finished()
    }

    /// True if the milter negotiated `SMFIP_HDR_LEADSPC`.
    pub fn leadspc(&self) -> bool {
        self.session.leadspc()
    }

    /// Sends the profile's OPTNEG offer and checks the reply as Postfix and Sendmail would
    /// (version ≤ offer, actions and protocol ⊆ offer), §2.1.
    pub async fn negotiate(&mut self) -> Result<OptNeg> {
        let awaiting = self.session.negotiate(&mut self.wbuf)?;
        self.flush("SMFIC_OPTNEG").await?;
        let Awaiting::Reply { timeout, .. } = awaiting else {
            return Err(TestkitError::Usage("OPTNEG always has a reply"));
        };
        let resp = self.read_response("SMFIC_OPTNEG", timeout).await?;
        Ok(self.session.accept_negotiation(resp)?)
    }

    /// CONNECT from `ip:port` with host name `hostname` (§2.5); the profile's default connect
    /// macros are sent, overridden or extended by `macros`.
    pub async fn connect(
        &mut self,
        hostname: &str,
        ip: IpAddr,
        port: u16,
        macros: &[(&str, &str)],
    ) -> Result<Reply> {
        let aw = self
            .session
            .connect(hostname, ip, port, macros, &mut self.wbuf)?;
        self.exchange(aw).await
    }

    /// CONNECT with family `'U'` (Sendmail `-bs`/stdin: no address), §2.5.
    pub async fn connect_unknown(
        &mut self,
        hostname: &str,
        macros: &[(&str, &str)],
    ) -> Result<Reply> {
        let aw = self
            .session
            .connect_unknown(hostname, macros, &mut self.wbuf)?;
        self.exchange(aw).await
    }

    /// HELO/EHLO (§2.6).
    pub async fn helo(&mut self, name: &str, macros: &[(&str, &str)]) -> Result<Reply> {
        let aw = self.session.helo(name, macros, &mut self.wbuf)?;
        self.exchange(aw).await
    }

    /// MAIL FROM (§2.7). `from` may be given with or without `<>`; the profile decides the
    /// wire form (`<a@b>`, or bare and `""` for non_smtpd). Postfix sends ABORT after a reject.
    pub async fn mail(
        &mut self,
        from: &str,
        args: &[&str],
        macros: &[(&str, &str)],
    ) -> Result<Reply> {
        let aw = self.session.mail(from, args, macros, &mut self.wbuf)?;
        let reply = self.exchange(aw).await?;
        if !reply.is_continue() {
            self.session.reset_after_reject(&mut self.wbuf)?;
            self.flush("SMFIC_ABORT").await?;
        }
        Ok(reply)
    }

    /// RCPT TO (§2.7). Postfix has `i` from the second recipient on.
    pub async fn rcpt(
        &mut self,
        to: &str,
        args: &[&str],
        macros: &[(&str, &str)],
    ) -> Result<Reply> {
        let aw = self.session.rcpt(to, args, macros, &mut self.wbuf)?;
        self.exchange(aw).await
    }

    /// DATA (v4+; not sent to older milters or with NODATA), §2.8.
    pub async fn data(&mut self, macros: &[(&str, &str)]) -> Result<Reply> {
        let aw = self.session.data(macros, &mut self.wbuf)?;
        self.exchange(aw).await
    }

    /// One header. `value` is what follows the colon in the message (`" Alice <a@b>"`); the
    /// leading space is removed as the MTAs do unless LEADSPC was negotiated (§2.8).
    pub async fn header(
        &mut self,
        name: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Reply> {
        let aw = self
            .session
            .header(name.as_ref(), value.as_ref(), &mut self.wbuf)?;
        self.exchange(aw).await
    }

    /// End of headers (§2.8).
    pub async fn eoh(&mut self) -> Result<Reply> {
        let aw = self.session.eoh(&mut self.wbuf)?;
        self.exchange(aw).await
    }

    /// The body in 65535-byte chunks (§2.8). Stops early on a non-continue reply or SKIP and
    /// returns it; an empty body sends nothing.
    pub async fn body(&mut self, body: &[u8]) -> Result<Reply> {
        self.body_with(body, &BodySplit::Standard).await
    }

    /// The body cut as `split` says (chunks never exceed 65535 bytes).
    pub async fn body_with(&mut self, body: &[u8], split: &BodySplit) -> Result<Reply> {
        let mut last = Reply::NotSent;
        for chunk in chunk_body(body, split) {
            let aw = self.session.body_chunk(chunk, &mut self.wbuf)?;
            last = self.exchange(aw).await?;
            if !last.is_continue() {
                break;
            }
        }
        Ok(last)
    }

    /// End of message: collects modifications and PROGRESS until the final reply (§2.8), then
    /// sends the profile's ABORTs (Postfix: one, sometimes two).
    pub async fn eom(&mut self) -> Result<EomOutcome> {
        let aw = self.session.eom(&mut self.wbuf)?;
        self.flush("SMFIC_BODYEOB").await?;
        let Awaiting::Reply { timeout, .. } = aw else {
            return Err(TestkitError::Usage("BODYEOB always has a reply"));
        };
        let mut outcome = ClientSession::new_eom_outcome();
        loop {
            let resp = self.read_response("SMFIC_BODYEOB", timeout).await?;
            if self.session.on_eom_reply(&mut outcome, resp)? {
                break;
            }
        }
        self.session.finish_message(&mut self.wbuf)?;
        self.flush("SMFIC_ABORT").await?;
        Ok(outcome)
    }

    /// ABORT (no reply), §2.10.
    pub async fn abort(&mut self) -> Result<()> {
        self.session.abort(&mut self.wbuf)?;
        self.flush("SMFIC_ABORT").await
    }

    /// QUIT (Postfix sends an ABORT first), then closes our write side (§2.10).
    pub async fn quit(&mut self) -> Result<()> {
        self.session.quit(&mut self.wbuf)?;
        self.flush("SMFIC_QUIT").await?;
        self.io.shutdown().await?;
        Ok(())
    }

    /// QUIT_NC: keep the socket; a new CONNECT follows (§2.10).
    pub async fn quit_nc(&mut self) -> Result<()> {
        self.session.quit_nc(&mut self.wbuf)?;
        self.flush("SMFIC_QUIT_NC").await
    }

    /// UNKNOWN SMTP command (v3+, unless NOUNKNOWN), §2.9.
    pub async fn unknown(&mut self, line: &str) -> Result<Reply> {
        let aw = self.session.unknown(line, &mut self.wbuf)?;
        self.exchange(aw).await
    }

    /// DATA, headers, EOH, body and EOM for a raw message (`.eml` bytes), split the way
    /// Postfix does (§2.8). Returns early if a content command gets a non-continue reply.
    pub async fn send_message(&mut self, raw: &[u8]) -> Result<EomOutcome> {
        self.send_message_with(raw, &BodySplit::Standard).await
    }

    /// [`send_message`](Self::send_message) with a custom body split.
    pub async fn send_message_with(&mut self, raw: &[u8], split: &BodySplit) -> Result<EomOutcome> {
        let eml = Eml::parse(raw);
        let r = self.data(&[]).await?;
        if let Some(o) = self.early(r, CommandCode::Data).await? {
            return Ok(o);
        }
        for h in &eml.headers {
            let r = self.header(&h.name, &h.value).await?;
            if let Some(o) = self.early(r, CommandCode::Header).await? {
                return Ok(o);
            }
        }
        let r = self.eoh().await?;
        if let Some(o) = self.early(r, CommandCode::Eoh).await? {
            return Ok(o);
        }
        let r = self.body_with(&eml.body, split).await?;
        if r != Reply::Response(Response::Skip)
            && let Some(o) = self.early(r, CommandCode::Body).await?
        {
            return Ok(o);
        }
        self.eom().await
    }

    /// MAIL, each RCPT, then [`send_message`](Self::send_message). A non-continue reply at MAIL
    /// or at every RCPT ends the transaction early (reported with `decided_at`).
    pub async fn send_transaction(
        &mut self,
        from: &str,
        rcpts: &[&str],
        raw: &[u8],
    ) -> Result<EomOutcome> {
        let r = self.mail(from, &[], &[]).await?;
        if let Reply::Response(resp) = r
            && resp != Response::Continue
        {
            return Ok(decided(resp, CommandCode::Mail));
        }
        let mut accepted = 0usize;
        let mut last = Response::Continue;
        for rcpt in rcpts {
            match self.rcpt(rcpt, &[], &[]).await? {
                Reply::Response(Response::Continue) | Reply::NoReply | Reply::NotSent => {
                    accepted += 1
                }
                Reply::Response(other) => last = other,
            }
        }
        if accepted == 0 && !rcpts.is_empty() {
            self.session.reset_after_reject(&mut self.wbuf)?;
            self.flush("SMFIC_ABORT").await?;
            return Ok(decided(last, CommandCode::Rcpt));
        }
        self.send_message(raw).await
    }

    /// Raw mode: writes arbitrary bytes (malformed frames, partial frames...).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// Raw mode: encodes and writes one command without macros, checks or waiting.
    pub async fn send_command(&mut self, cmd: &Command) -> Result<()> {
        let mut out = BytesMut::new();
        cmd.encode(&mut out)?;
        self.send_raw(&out).await
    }

    /// Raw mode: reads the next response within `timeout`.
    pub async fn read_reply(&mut self, timeout: Duration) -> Result<Response> {
        self.read_response("a raw command", timeout).await
    }

    /// Closes our write side (the milter sees EOF), keeping the read side open.
    pub async fn shutdown_write(&mut self) -> Result<()> {
        self.io.shutdown().await?;
        Ok(())
    }

    /// Waits until the milter closes the connection; `Ok(true)` on EOF, `Ok(false)` on timeout.
    /// Bytes that arrive meanwhile are an error ([`TestkitError::StrayReply`]).
    pub async fn expect_eof(&mut self, timeout: Duration) -> Result<bool> {
        if self.eof {
            return Ok(true);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if !self.rbuf.is_empty() {
                return Err(TestkitError::StrayReply {
                    bytes: self.rbuf.len(),
                    before: "EOF",
                });
            }
            match tokio::time::timeout_at(deadline, self.io.read_buf(&mut self.rbuf)).await {
                Err(_) => return Ok(false),
                Ok(Ok(0)) => {
                    self.eof = true;
                    return Ok(true);
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) if is_reset(&e) => return Ok(true),
                Ok(Err(e)) => return Err(e.into()),
            }
        }
    }

    // ---- moving bytes ---------------------------------------------------------------------

    /// Writes what the session encoded, then reads the reply if one is due.
    async fn exchange(&mut self, awaiting: Awaiting) -> Result<Reply> {
        let Awaiting::Reply { command, timeout } = awaiting else {
            self.flush("a command").await?;
            return Ok(match awaiting {
                Awaiting::NotSent => Reply::NotSent,
                _ => Reply::NoReply,
            });
        };
        self.flush(command.name()).await?;
        loop {
            let resp = self.read_response(command.name(), timeout).await?;
            if let ReplyStep::Done(reply) = self.session.on_reply(command, resp)? {
                return Ok(reply);
            }
        }
    }

    async fn early(&mut self, r: Reply, at: CommandCode) -> Result<Option<EomOutcome>> {
        match r {
            Reply::Response(resp) if resp != Response::Continue => {
                self.session.end_message_early(&mut self.wbuf)?;
                self.flush("SMFIC_ABORT").await?;
                Ok(Some(decided(resp, at)))
            }
            _ => Ok(None),
        }
    }

    /// Writes the encoded bytes (if any) after checking that nothing unsolicited arrived.
    async fn flush(&mut self, before: &'static str) -> Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        self.check_stray(before).await?;
        self.io.write_all(&self.wbuf).await?;
        self.io.flush().await?;
        self.wbuf.clear();
        Ok(())
    }

    /// Fails if the milter has sent anything we did not ask for (§0 rule 2).
    async fn check_stray(&mut self, before: &'static str) -> Result<()> {
        if !self.strict {
            return Ok(());
        }
        if self.rbuf.is_empty() && !self.eof {
            // Poll the read exactly once: a non-blocking peek at the socket. (A zero
            // `tokio::time::timeout` would wait for the next timer tick, about 1 ms, on every
            // command, which caps the load generator far below the milter's speed.)
            let polled = {
                let mut read = std::pin::pin!(self.io.read_buf(&mut self.rbuf));
                std::future::poll_fn(|cx| match read.as_mut().poll(cx) {
                    std::task::Poll::Ready(r) => std::task::Poll::Ready(Some(r)),
                    std::task::Poll::Pending => std::task::Poll::Ready(None),
                })
                .await
            };
            match polled {
                Some(Ok(0)) => self.eof = true,
                Some(Ok(_)) | None => {}
                Some(Err(e)) if is_reset(&e) => self.eof = true,
                Some(Err(e)) => return Err(e.into()),
            }
        }
        if !self.rbuf.is_empty() {
            return Err(TestkitError::StrayReply {
                bytes: self.rbuf.len(),
                before,
            });
        }
        Ok(())
    }

    async fn read_response(&mut self, waiting_for: &'static str, t: Duration) -> Result<Response> {
        let leadspc = self.leadspc();
        let deadline = tokio::time::Instant::now() + t;
        loop {
            if let Some(resp) = self.decoder.decode_response(&mut self.rbuf, leadspc)? {
                return Ok(resp);
            }
            if self.eof {
                return Err(TestkitError::Closed { waiting_for });
            }
            match tokio::time::timeout_at(deadline, self.io.read_buf(&mut self.rbuf)).await {
                Err(_) => {
                    return Err(TestkitError::Timeout {
                        waiting_for,
                        after: t,
                    });
                }
                Ok(Ok(0)) => {
                    self.eof = true;
                    return Err(TestkitError::Closed { waiting_for });
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) if is_reset(&e) => {
                    self.eof = true;
                    return Err(TestkitError::Closed { waiting_for });
                }
                Ok(Err(e)) => return Err(e.into()),
            }
        }
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted
    )
}
