//! The fake MTA: a milter client speaking like Postfix, Sendmail or a legacy MTA (design doc §11).

use std::future::Future;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use milter_proto::{
    Command, CommandCode, ConnectInfo, Envelope, Family, FrameDecoder, Header, MacroStage, Macros,
    OptNeg, ProtocolFlags, Response, ResponseCode, SymList, names_match,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs, UnixStream};

use crate::eml::Eml;
use crate::error::TestkitError;
use crate::outcome::{BodySplit, EomOutcome, Reply, chunk_body, decided};
use crate::profile::{Flavor, Profile};

type Result<T> = std::result::Result<T, TestkitError>;

/// Any byte stream the client can talk over (TCP, Unix socket, in-memory duplex).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A fake MTA connected to a milter.
pub struct MtaClient {
    io: Box<dyn Io>,
    rbuf: BytesMut,
    decoder: FrameDecoder,
    profile: Profile,
    agreed: Option<OptNeg>,
    symlists: Vec<SymList>,
    messages_finished: u64,
    rcpts_in_message: u32,
    strict: bool,
    eof: bool,
}

impl std::fmt::Debug for MtaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtaClient")
            .field("flavor", &self.profile.flavor)
            .field("agreed", &self.agreed)
            .field("messages_finished", &self.messages_finished)
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
            decoder: FrameDecoder::new(),
            profile,
            agreed: None,
            symlists: Vec::new(),
            messages_finished: 0,
            rcpts_in_message: 0,
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
        &self.profile
    }

    /// The options the milter chose, after [`negotiate`](Self::negotiate).
    pub fn negotiated(&self) -> Option<&OptNeg> {
        self.agreed.as_ref()
    }

    /// The macro lists the milter requested in its OPTNEG reply.
    pub fn symlists(&self) -> &[SymList] {
        &self.symlists
    }

    /// Messages finished (final reply to BODYEOB) on this connection.
    pub fn messages_finished(&self) -> u64 {
        self.messages_finished
    }

    /// True if the milter negotiated `SMFIP_HDR_LEADSPC`.
    pub fn leadspc(&self) -> bool {
        self.protocol().contains(ProtocolFlags::HDR_LEADSPC)
    }

    /// Sends the profile's OPTNEG offer and checks the reply as Postfix and Sendmail would
    /// (version ≤ offer, actions and protocol ⊆ offer), §2.1.
    pub async fn negotiate(&mut self) -> Result<OptNeg> {
        let offer = self.profile.offer;
        self.write_cmd(&Command::OptNeg(offer)).await?;
        let t = self.profile.command_timeout;
        let resp = self.read_response("SMFIC_OPTNEG", t).await?;
        let Response::OptNeg { options, symlists } = resp else {
            return Err(TestkitError::Unexpected {
                command: "SMFIC_OPTNEG",
                response: Box::new(resp),
                reason: "expected an OPTNEG reply",
            });
        };
        if options.version < 2 || options.version > offer.version {
            return Err(TestkitError::Negotiation("version outside 2..=offered"));
        }
        if !offer.actions.contains(options.actions) {
            return Err(TestkitError::Negotiation("actions not offered"));
        }
        if !offer.protocol.contains(options.protocol) {
            return Err(TestkitError::Negotiation("protocol bits not offered"));
        }
        if symlists.iter().any(|l| l.macros.is_empty()) {
            return Err(TestkitError::Negotiation("empty SETSYMLIST list"));
        }
        self.agreed = Some(options);
        self.symlists = symlists;
        Ok(options)
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
        let (family, address) = match ip {
            IpAddr::V4(v4) => (Family::Inet, v4.to_string()),
            IpAddr::V6(v6) if self.profile.ipv6_tag => (Family::Inet6, format!("IPv6:{v6}")),
            IpAddr::V6(v6) => (Family::Inet6, v6.to_string()),
        };
        let info = ConnectInfo {
            hostname: Bytes::copy_from_slice(hostname.as_bytes()),
            family,
            port,
            address: Bytes::from(address),
        };
        let mut defaults = self.profile.connect_macros.clone();
        defaults.push(("_".into(), format!("{hostname} [{ip}]")));
        self.connect_info(info, defaults, macros).await
    }

    /// CONNECT with family `'U'` (Sendmail `-bs`/stdin: no address), §2.5.
    pub async fn connect_unknown(
        &mut self,
        hostname: &str,
        macros: &[(&str, &str)],
    ) -> Result<Reply> {
        let info = ConnectInfo {
            hostname: Bytes::copy_from_slice(hostname.as_bytes()),
            family: Family::Unknown,
            port: 0,
            address: Bytes::new(),
        };
        let defaults = self.profile.connect_macros.clone();
        self.connect_info(info, defaults, macros).await
    }

    /// HELO/EHLO (§2.6).
    pub async fn helo(&mut self, name: &str, macros: &[(&str, &str)]) -> Result<Reply> {
        let m = merge(Vec::new(), macros);
        let cmd = Command::Helo(Bytes::copy_from_slice(name.as_bytes()));
        self.rcpts_in_message = 0;
        self.command(Some(MacroStage::Helo), m, cmd).await
    }

    /// MAIL FROM (§2.7). `from` may be given with or without `<>`; the profile decides the
    /// wire form (`<a@b>`, or bare and `""` for non_smtpd). Postfix sends ABORT after a reject.
    pub async fn mail(
        &mut self,
        from: &str,
        args: &[&str],
        macros: &[(&str, &str)],
    ) -> Result<Reply> {
        self.rcpts_in_message = 0;
        let mut defaults = Vec::new();
        if self.profile.is_postfix() {
            defaults.push(pair("{mail_addr}", unbracket(from)));
        }
        if self.profile.flavor == Flavor::Sendmail {
            defaults.push(pair("i", &self.profile.queue_id));
        }
        let m = merge(defaults, macros);
        let cmd = Command::Mail(self.envelope(from, args));
        let reply = self.command(Some(MacroStage::Mail), m, cmd).await?;
        if self.profile.abort_on_reset && !reply.is_continue() {
            self.abort().await?;
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
        let mut defaults = Vec::new();
        if self.profile.is_postfix() {
            if self.rcpts_in_message > 0 {
                defaults.push(pair("i", &self.profile.queue_id));
            }
            defaults.push(pair("{rcpt_addr}", unbracket(to)));
        }
        let m = merge(defaults, macros);
        let cmd = Command::Rcpt(self.envelope(to, args));
        self.rcpts_in_message = self.rcpts_in_message.saturating_add(1);
        self.command(Some(MacroStage::Rcpt), m, cmd).await
    }

    /// DATA (v4+; not sent to older milters or with NODATA), §2.8.
    pub async fn data(&mut self, macros: &[(&str, &str)]) -> Result<Reply> {
        let m = merge(
            self.queue_id_macro(&[Flavor::Postfix, Flavor::PostfixNonSmtpd]),
            macros,
        );
        self.command(Some(MacroStage::Data), m, Command::Data).await
    }

    /// One header. `value` is what follows the colon in the message (`" Alice <a@b>"`); the
    /// leading space is removed as the MTAs do unless LEADSPC was negotiated (§2.8).
    pub async fn header(
        &mut self,
        name: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Reply> {
        let value = value.as_ref();
        let value = if self.leadspc() {
            value
        } else {
            value.strip_prefix(b" ").unwrap_or(value)
        };
        let cmd = Command::Header(Header {
            name: Bytes::copy_from_slice(name.as_ref()),
            value: Bytes::copy_from_slice(value),
        });
        let stage = self
            .profile
            .per_item_macro_letters
            .then_some(MacroStage::Header);
        let m = self.queue_id_macro(&[Flavor::Postfix, Flavor::PostfixNonSmtpd]);
        self.command(stage, m, cmd).await
    }

    /// End of headers (§2.8).
    pub async fn eoh(&mut self) -> Result<Reply> {
        let m = self.queue_id_macro(&[Flavor::Postfix, Flavor::PostfixNonSmtpd]);
        self.command(Some(MacroStage::Eoh), m, Command::Eoh).await
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
            let stage = self
                .profile
                .per_item_macro_letters
                .then_some(MacroStage::Body);
            let m = self.queue_id_macro(&[Flavor::Postfix, Flavor::PostfixNonSmtpd]);
            let cmd = Command::Body(Bytes::copy_from_slice(chunk));
            last = self.command(stage, m, cmd).await?;
            if !last.is_continue() {
                break;
            }
        }
        Ok(last)
    }

    /// End of message: collects modifications and PROGRESS until the final reply (§2.8), then
    /// sends the profile's ABORTs (Postfix: one, sometimes two).
    pub async fn eom(&mut self) -> Result<EomOutcome> {
        let m = merge(
            self.queue_id_macro(&[
                Flavor::Postfix,
                Flavor::PostfixNonSmtpd,
                Flavor::Sendmail,
                Flavor::Legacy,
            ]),
            &[],
        );
        self.send_macros(MacroStage::Eom, m).await?;
        self.write_cmd(&Command::BodyEob(Bytes::new())).await?;
        let t = self.profile.content_timeout;
        let mut outcome = EomOutcome {
            modifications: Vec::new(),
            progress: 0,
            final_response: Response::Continue,
            decided_at: CommandCode::BodyEob,
        };
        loop {
            let resp = self.read_response("SMFIC_BODYEOB", t).await?;
            let code = resp.code();
            if code == ResponseCode::Progress {
                outcome.progress += 1;
            } else if code.is_modification() {
                if let Some(action) = resp.required_action()
                    && !self.agreed.is_some_and(|a| a.actions.contains(action))
                {
                    return Err(unexpected(
                        "SMFIC_BODYEOB",
                        resp,
                        "action was not negotiated",
                    ));
                }
                outcome.modifications.push(resp);
            } else if code.is_final() && code != ResponseCode::Skip {
                outcome.final_response = resp;
                break;
            } else {
                return Err(unexpected(
                    "SMFIC_BODYEOB",
                    resp,
                    "not valid at end of message",
                ));
            }
        }
        self.finish_message().await?;
        Ok(outcome)
    }

    /// ABORT (no reply), §2.10.
    pub async fn abort(&mut self) -> Result<()> {
        self.rcpts_in_message = 0;
        self.write_cmd(&Command::Abort).await
    }

    /// QUIT (Postfix sends an ABORT first), then closes our write side (§2.10).
    pub async fn quit(&mut self) -> Result<()> {
        if self.profile.abort_on_reset {
            self.abort().await?;
        }
        self.write_cmd(&Command::Quit).await?;
        self.io.shutdown().await?;
        Ok(())
    }

    /// QUIT_NC: keep the socket; a new CONNECT follows (§2.10).
    pub async fn quit_nc(&mut self) -> Result<()> {
        self.write_cmd(&Command::QuitNc).await
    }

    /// UNKNOWN SMTP command (v3+, unless NOUNKNOWN), §2.9.
    pub async fn unknown(&mut self, line: &str) -> Result<Reply> {
        let stage = self.profile.is_postfix().then_some(MacroStage::Unknown);
        let cmd = Command::Unknown(Bytes::copy_from_slice(line.as_bytes()));
        self.command(stage, Vec::new(), cmd).await
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
            if self.profile.abort_on_reset {
                self.abort().await?;
            }
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

    // ---- helpers -------------------------------------------------------------------------

    fn protocol(&self) -> ProtocolFlags {
        self.agreed.map(|a| a.protocol).unwrap_or_default()
    }

    fn version(&self) -> u32 {
        self.agreed
            .map_or(self.profile.offer.version, |a| a.version)
    }

    fn disabled(&self, code: CommandCode) -> bool {
        if code
            .disable_flag()
            .is_some_and(|f| self.protocol().contains(f))
        {
            return true;
        }
        match code {
            CommandCode::Unknown => self.version() < 3,
            CommandCode::Data => self.version() < 4,
            _ => false,
        }
    }

    fn expects_reply(&self, code: CommandCode) -> bool {
        !code.never_replied()
            && !code
                .no_reply_flag()
                .is_some_and(|f| self.protocol().contains(f))
    }

    fn queue_id_macro(&self, flavors: &[Flavor]) -> Vec<(Bytes, Bytes)> {
        if flavors.contains(&self.profile.flavor) {
            vec![(
                Bytes::from_static(b"i"),
                Bytes::from(self.profile.queue_id.clone()),
            )]
        } else {
            Vec::new()
        }
    }

    fn envelope(&self, addr: &str, args: &[&str]) -> Envelope {
        let inner = unbracket(addr);
        let wire = if self.profile.bare_addresses {
            inner.to_string()
        } else {
            format!("<{inner}>")
        };
        let args = if self.profile.bare_addresses {
            Vec::new()
        } else {
            args.iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect()
        };
        Envelope::new(Bytes::from(wire), args)
    }

    async fn connect_info(
        &mut self,
        info: ConnectInfo,
        defaults: Vec<(String, String)>,
        macros: &[(&str, &str)],
    ) -> Result<Reply> {
        self.rcpts_in_message = 0;
        let defaults = defaults
            .into_iter()
            .map(|(k, v)| (Bytes::from(k), Bytes::from(v)))
            .collect();
        let m = merge(defaults, macros);
        self.command(Some(MacroStage::Connect), m, Command::Connect(info))
            .await
    }

    /// Macros (if any), then the command, then its reply unless none is due.
    async fn command(
        &mut self,
        stage: Option<MacroStage>,
        macros: Vec<(Bytes, Bytes)>,
        cmd: Command,
    ) -> Result<Reply> {
        let code = cmd.code();
        let disabled = self.disabled(code);
        // Postfix: envelope macros are sent even for disabled events, content macros are not.
        let content = matches!(
            code,
            CommandCode::Header | CommandCode::Eoh | CommandCode::Body
        );
        if let Some(stage) = stage
            && !(disabled && content)
        {
            self.send_macros(stage, macros).await?;
        }
        if disabled {
            return Ok(Reply::NotSent);
        }
        self.write_cmd(&cmd).await?;
        if !self.expects_reply(code) {
            return Ok(Reply::NoReply);
        }
        let envelope = matches!(
            code,
            CommandCode::Connect
                | CommandCode::Helo
                | CommandCode::Mail
                | CommandCode::Rcpt
                | CommandCode::Data
                | CommandCode::Unknown
        );
        let t = if envelope {
            self.profile.command_timeout
        } else {
            self.profile.content_timeout
        };
        loop {
            let resp = self.read_response(code.name(), t).await?;
            match resp.code() {
                ResponseCode::Progress if self.profile.progress_anywhere => continue,
                ResponseCode::Skip => {
                    if code != CommandCode::Body || !self.protocol().contains(ProtocolFlags::SKIP) {
                        return Err(unexpected(
                            code.name(),
                            resp,
                            "SKIP only answers BODY when negotiated",
                        ));
                    }
                    return Ok(Reply::Response(resp));
                }
                c if c.is_final() => return Ok(Reply::Response(resp)),
                c if c.is_modification() => {
                    return Err(unexpected(
                        code.name(),
                        resp,
                        "modification outside end of message",
                    ));
                }
                _ => return Err(unexpected(code.name(), resp, "not a valid reply here")),
            }
        }
    }

    async fn send_macros(&mut self, stage: MacroStage, pairs: Vec<(Bytes, Bytes)>) -> Result<()> {
        if pairs.is_empty() && !self.profile.empty_macro_packets {
            return Ok(());
        }
        self.write_cmd(&Command::Macro(Macros { stage, pairs }))
            .await
    }

    async fn finish_message(&mut self) -> Result<()> {
        let n = self.profile.aborts_after(self.messages_finished);
        self.messages_finished += 1;
        self.rcpts_in_message = 0;
        for _ in 0..n {
            self.abort().await?;
        }
        Ok(())
    }

    async fn early(&mut self, r: Reply, at: CommandCode) -> Result<Option<EomOutcome>> {
        match r {
            Reply::Response(resp) if resp != Response::Continue => {
                self.messages_finished += 1;
                if self.profile.abort_on_reset {
                    self.abort().await?;
                }
                Ok(Some(decided(resp, at)))
            }
            _ => Ok(None),
        }
    }

    async fn write_cmd(&mut self, cmd: &Command) -> Result<()> {
        self.check_stray(cmd.code().name()).await?;
        let mut out = BytesMut::new();
        cmd.encode(&mut out)?;
        self.io.write_all(&out).await?;
        self.io.flush().await?;
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

fn unexpected(command: &'static str, resp: Response, reason: &'static str) -> TestkitError {
    TestkitError::Unexpected {
        command,
        response: Box::new(resp),
        reason,
    }
}

fn unbracket(a: &str) -> &str {
    let a = a.trim();
    if a == "\"\"" {
        return "";
    }
    a.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(a)
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted
    )
}

fn pair(k: &str, v: &str) -> (Bytes, Bytes) {
    (
        Bytes::copy_from_slice(k.as_bytes()),
        Bytes::copy_from_slice(v.as_bytes()),
    )
}

/// Profile defaults overridden or extended by the caller's macros.
fn merge(mut defaults: Vec<(Bytes, Bytes)>, user: &[(&str, &str)]) -> Vec<(Bytes, Bytes)> {
    for (k, v) in user {
        let (k, v) = (
            Bytes::copy_from_slice(k.as_bytes()),
            Bytes::copy_from_slice(v.as_bytes()),
        );
        match defaults.iter_mut().find(|(dk, _)| names_match(dk, &k)) {
            Some(slot) => *slot = (k, v),
            None => defaults.push((k, v)),
        }
    }
    defaults
}
