//! The sans-IO MTA session: encodes each step as the profile's MTA would and checks replies.

use std::net::IpAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::outcome::{EomOutcome, Reply};
use super::profile::{Flavor, Profile};
use crate::{
    Command, CommandCode, ConnectInfo, Envelope, Family, Header, MacroStage, OptNeg, ProtocolError,
    ProtocolFlags, Response, ResponseCode, SymList,
};
use macros::{merge, pair};

mod macros;

type Result<T> = std::result::Result<T, ProtocolError>;

/// What the caller must do after writing the encoded step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaiting {
    /// Nothing was encoded: the milter disabled this event (`NO*` bit) or the version lacks it.
    NotSent,
    /// Encoded; the negotiated `NR_*` bit (or the command) means no reply comes.
    NoReply,
    /// Encoded; read responses for `command` until [`ReplyStep::Done`], within `timeout`.
    Reply {
        /// The command being answered.
        command: CommandCode,
        /// The MTA's deadline for each reply packet.
        timeout: Duration,
    },
}

/// What a response to a command means (§0 rule 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyStep {
    /// PROGRESS: keep waiting (Postfix accepts it before any reply).
    Wait,
    /// The final reply.
    Done(Reply),
}

/// The MTA side of one milter connection.
#[derive(Debug, Clone)]
pub struct ClientSession {
    profile: Profile,
    agreed: Option<OptNeg>,
    symlists: Vec<SymList>,
    /// Macro values the MTA has beyond its default lists, sent only when a SETSYMLIST list
    /// asks for them (client, sender and recipient details, as Postfix has them).
    requestable: Vec<(Bytes, Bytes)>,
    messages_finished: u64,
    rcpts_in_message: u32,
}

impl ClientSession {
    /// A session speaking as `profile`.
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            agreed: None,
            symlists: Vec::new(),
            requestable: Vec::new(),
            messages_finished: 0,
            rcpts_in_message: 0,
        }
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The options the milter chose, after [`accept_negotiation`](Self::accept_negotiation).
    pub fn negotiated(&self) -> Option<&OptNeg> {
        self.agreed.as_ref()
    }

    /// The macro lists the milter requested in its OPTNEG reply.
    pub fn symlists(&self) -> &[SymList] {
        &self.symlists
    }

    /// Messages finished (final reply at or before BODYEOB) on this connection.
    pub fn messages_finished(&self) -> u64 {
        self.messages_finished
    }

    /// True if the milter negotiated `SMFIP_HDR_LEADSPC` (§2.8).
    pub fn leadspc(&self) -> bool {
        self.protocol().contains(ProtocolFlags::HDR_LEADSPC)
    }

    /// The profile's OPTNEG offer (§2.1); its reply goes to
    /// [`accept_negotiation`](Self::accept_negotiation).
    pub fn negotiate(&mut self, out: &mut BytesMut) -> Result<Awaiting> {
        Command::OptNeg(self.profile.offer).encode(out)?;
        Ok(Awaiting::Reply {
            command: CommandCode::OptNeg,
            timeout: self.profile.command_timeout,
        })
    }

    /// Checks the OPTNEG reply as the profile's MTA would, §2.1: a version above the offer
    /// and actions not offered are refused by all; Postfix (`milter8.c`) takes any lower
    /// version and only logs protocol bits it did not offer (they are dropped here), while
    /// Sendmail and older MTAs also refuse a version below 2 and protocol bits not offered. An
    /// empty macro list is refused.
    pub fn accept_negotiation(&mut self, resp: Response) -> Result<OptNeg> {
        let offer = self.profile.offer;
        let Response::OptNeg {
            mut options,
            symlists,
        } = resp
        else {
            return Err(unexpected(
                CommandCode::OptNeg,
                resp,
                "expected an OPTNEG reply",
            ));
        };
        let postfix = self.profile.is_postfix();
        if options.version > offer.version || (options.version < 2 && !postfix) {
            return Err(ProtocolError::NegotiationRefused(
                "version outside 2..=offered",
            ));
        }
        if !offer.actions.contains(options.actions) {
            return Err(ProtocolError::NegotiationRefused("actions not offered"));
        }
        if !offer.protocol.contains(options.protocol) {
            if !postfix {
                return Err(ProtocolError::NegotiationRefused(
                    "protocol bits not offered",
                ));
            }
            options.protocol &= offer.protocol;
        }
        if symlists.iter().any(|l| l.macros.is_empty()) {
            return Err(ProtocolError::NegotiationRefused("empty SETSYMLIST list"));
        }
        self.agreed = Some(options);
        self.symlists = symlists;
        Ok(options)
    }

    /// CONNECT from `ip:port` with host name `hostname` (§2.5); the profile's default connect
    /// macros are sent, overridden or extended by `macros`.
    pub fn connect(
        &mut self,
        hostname: &str,
        ip: IpAddr,
        port: u16,
        macros: &[(&str, &str)],
        out: &mut BytesMut,
    ) -> Result<Awaiting> {
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
        self.requestable = vec![
            pair("{client_addr}", &ip.to_string()),
            pair("{client_name}", hostname),
            pair("{client_ptr}", hostname),
            pair("{client_port}", &port.to_string()),
            pair("{client_resolve}", "OK"),
        ];
        self.connect_info(info, defaults, macros, out)
    }

    /// CONNECT with family `'U'` (Sendmail `-bs`/stdin: no address), §2.5.
    pub fn connect_unknown(
        &mut self,
        hostname: &str,
        macros: &[(&str, &str)],
        out: &mut BytesMut,
    ) -> Result<Awaiting> {
        let info = ConnectInfo {
            hostname: Bytes::copy_from_slice(hostname.as_bytes()),
            family: Family::Unknown,
            port: 0,
            address: Bytes::new(),
        };
        let defaults = self.profile.connect_macros.clone();
        self.connect_info(info, defaults, macros, out)
    }

    /// HELO/EHLO (§2.6).
    pub fn helo(
        &mut self,
        name: &str,
        macros: &[(&str, &str)],
        out: &mut BytesMut,
    ) -> Result<Awaiting> {
        let m = merge(Vec::new(), macros);
        let cmd = Command::Helo(Bytes::copy_from_slice(name.as_bytes()));
        self.rcpts_in_message = 0;
        self.command(Some(MacroStage::Helo), m, cmd, out)
    }

    /// MAIL FROM (§2.7). `from` may be given with or without `<>`; the profile decides the
    /// wire form (`<a@b>`, or bare and `""` for non_smtpd). After a non-continue reply the
    /// caller sends [`reset_after_reject`](Self::reset_after_reject) (Postfix: ABORT).
    pub fn mail(
        &mut self,
        from: &str,
        args: &[&str],
        macros: &[(&str, &str)],
        out: &mut BytesMut,
    ) -> Result<Awaiting> {
        self.rcpts_in_message = 0;
        self.forget_requestable(&[
            "{mail_addr}",
            "{mail_host}",
            "{mail_mailer}",
            "{rcpt_addr}",
            "{rcpt_host}",
            "{rcpt_mailer}",
        ]);
        let from_addr = unbracket(from);
        self.requestable.extend([
            pair("{mail_addr}", from_addr),
            pair(
                "{mail_host}",
                from_addr.rsplit_once('@').map_or("", |(_, d)| d),
            ),
            pair("{mail_mailer}", "smtp"),
        ]);
        let mut defaults = Vec::new();
        if self.profile.is_postfix() {
            defaults.push(pair("{mail_addr}", unbracket(from)));
        }
        if self.profile.flavor == Flavor::Sendmail {
            defaults.push(pair("i", &self.profile.queue_id));
        }
        let m = merge(defaults, macros);
        let cmd = Command::Mail(self.envelope(from, args));
        self.command(Some(MacroStage::Mail), m, cmd, out)
    }

    /// RCPT TO (§2.7). Postfix has `i` from the second recipient on.
    pub fn rcpt(
        &mut self,
        to: &str,
        args: &[&str],
        macros: &[(&str, &str)],
        out: &mut BytesMut,
    ) -> Result<Awaiting> {
        self.forget_requestable(&["{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}"]);
        let to_addr = unbracket(to);
        self.requestable.extend([
            pair("{rcpt_addr}", to_addr),
            pair(
                "{rcpt_host}",
                to_addr.rsplit_once('@').map_or("", |(_, d)| d),
            ),
            pair("{rcpt_mailer}", "smtp"),
        ]);
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
        self.command(Some(MacroStage::Rcpt), m, cmd, out)
    }

    /// DATA (v4+; not sent to older milters or with NODATA), §2.8.
    pub fn data(&mut self, macros: &[(&str, &str)], out: &mut BytesMut) -> Result<Awaiting> {
        let m = merge(self.postfix_queue_id(), macros);
        self.command(Some(MacroStage::Data), m, Command::Data, out)
    }

    /// One header. `value` is what follows the colon in the message (`" Alice <a@b>"`); the
    /// leading space is removed as the MTAs do unless LEADSPC was negotiated (§2.8).
    pub fn header(&mut self, name: &[u8], value: &[u8], out: &mut BytesMut) -> Result<Awaiting> {
        let value = if self.leadspc() {
            value
        } else {
            value.strip_prefix(b" ").unwrap_or(value)
        };
        let cmd = Command::Header(Header {
            name: Bytes::copy_from_slice(name),
            value: Bytes::copy_from_slice(value),
        });
        let stage = self
            .profile
            .per_item_macro_letters
            .then_some(MacroStage::Header);
        let m = self.postfix_queue_id();
        self.command(stage, m, cmd, out)
    }

    /// End of headers (§2.8).
    pub fn eoh(&mut self, out: &mut BytesMut) -> Result<Awaiting> {
        let m = self.postfix_queue_id();
        self.command(Some(MacroStage::Eoh), m, Command::Eoh, out)
    }

    /// One BODY chunk of at most 65535 bytes (§2.8).
    pub fn body_chunk(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<Awaiting> {
        self.body_chunk_shared(Bytes::copy_from_slice(chunk), out)
    }

    /// [`body_chunk`](Self::body_chunk) for a chunk already shared (a slice of a kept body:
    /// written into `out` without a copy of its own first, §2.8).
    pub fn body_chunk_shared(&mut self, chunk: Bytes, out: &mut BytesMut) -> Result<Awaiting> {
        let stage = self
            .profile
            .per_item_macro_letters
            .then_some(MacroStage::Body);
        let m = self.postfix_queue_id();
        self.command(stage, m, Command::Body(chunk), out)
    }

    /// End of message (§2.8): feed every response to [`on_eom_reply`](Self::on_eom_reply)
    /// until it says the final reply came, then call [`finish_message`](Self::finish_message).
    pub fn eom(&mut self, out: &mut BytesMut) -> Result<Awaiting> {
        // Every MTA flavour sends the queue id with the end-of-message macros.
        let m = vec![(
            Bytes::from_static(b"i"),
            Bytes::from(self.profile.queue_id.clone()),
        )];
        self.send_macros(MacroStage::Eom, m, out)?;
        Command::BodyEob(Bytes::new()).encode(out)?;
        Ok(Awaiting::Reply {
            command: CommandCode::BodyEob,
            timeout: self.profile.content_timeout,
        })
    }

    /// A fresh outcome to collect the end-of-message responses into.
    pub fn new_eom_outcome() -> EomOutcome {
        EomOutcome {
            modifications: Vec::new(),
            progress: 0,
            final_response: Response::Continue,
            decided_at: CommandCode::BodyEob,
        }
    }

    /// Adds one response after BODYEOB to `outcome`; `Ok(true)` once the final reply came.
    /// Modifications whose action was not negotiated are errors, as for the MTAs.
    pub fn on_eom_reply(&self, outcome: &mut EomOutcome, resp: Response) -> Result<bool> {
        let code = resp.code();
        if code == ResponseCode::Progress {
            outcome.progress += 1;
            Ok(false)
        } else if code.is_modification() {
            if let Some(action) = resp.required_action()
                && !self.agreed.is_some_and(|a| a.actions.contains(action))
            {
                return Err(unexpected(
                    CommandCode::BodyEob,
                    resp,
                    "action was not negotiated",
                ));
            }
            outcome.modifications.push(resp);
            Ok(false)
        } else if code.is_final() && code != ResponseCode::Skip {
            outcome.final_response = resp;
            Ok(true)
        } else {
            Err(unexpected(
                CommandCode::BodyEob,
                resp,
                "not valid at end of message",
            ))
        }
    }

    /// After the final reply to BODYEOB: the profile's ABORTs (Postfix: one, sometimes two).
    pub fn finish_message(&mut self, out: &mut BytesMut) -> Result<()> {
        let n = self.profile.aborts_after(self.messages_finished);
        self.messages_finished += 1;
        self.rcpts_in_message = 0;
        for _ in 0..n {
            self.abort(out)?;
        }
        Ok(())
    }

    /// A content command was answered with a final non-continue reply: the message ends here
    /// (counted as finished; Postfix sends ABORT).
    pub fn end_message_early(&mut self, out: &mut BytesMut) -> Result<()> {
        self.messages_finished += 1;
        self.reset_after_reject(out)
    }

    /// After a rejected MAIL or when every RCPT was refused: Postfix resets with ABORT.
    pub fn reset_after_reject(&mut self, out: &mut BytesMut) -> Result<()> {
        if self.profile.abort_on_reset {
            self.abort(out)?;
        }
        Ok(())
    }

    /// ABORT (no reply), §2.10.
    pub fn abort(&mut self, out: &mut BytesMut) -> Result<()> {
        self.rcpts_in_message = 0;
        Command::Abort.encode(out)
    }

    /// QUIT (Postfix sends an ABORT first), §2.10; then close the write side.
    pub fn quit(&mut self, out: &mut BytesMut) -> Result<()> {
        self.reset_after_reject(out)?;
        Command::Quit.encode(out)
    }

    /// QUIT_NC: keep the socket; a new CONNECT follows (§2.10).
    pub fn quit_nc(&mut self, out: &mut BytesMut) -> Result<()> {
        Command::QuitNc.encode(out)
    }

    /// UNKNOWN SMTP command (v3+, unless NOUNKNOWN), §2.9.
    pub fn unknown(&mut self, line: &str, out: &mut BytesMut) -> Result<Awaiting> {
        let stage = self.profile.is_postfix().then_some(MacroStage::Unknown);
        let cmd = Command::Unknown(Bytes::copy_from_slice(line.as_bytes()));
        self.command(stage, Vec::new(), cmd, out)
    }

    /// Judges one response to `command` as the MTA would (§0 rule 2): PROGRESS means wait
    /// (where the profile allows it), SKIP only answers BODY when negotiated, modifications
    /// only come after BODYEOB.
    pub fn on_reply(&self, command: CommandCode, resp: Response) -> Result<ReplyStep> {
        match resp.code() {
            ResponseCode::Progress if self.profile.progress_anywhere => Ok(ReplyStep::Wait),
            ResponseCode::Skip => {
                if command != CommandCode::Body || !self.protocol().contains(ProtocolFlags::SKIP) {
                    return Err(unexpected(
                        command,
                        resp,
                        "SKIP only answers BODY when negotiated",
                    ));
                }
                Ok(ReplyStep::Done(Reply::Response(resp)))
            }
            c if c.is_final() => Ok(ReplyStep::Done(Reply::Response(resp))),
            c if c.is_modification() => Err(unexpected(
                command,
                resp,
                "modification outside end of message",
            )),
            _ => Err(unexpected(command, resp, "not a valid reply here")),
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

    fn connect_info(
        &mut self,
        info: ConnectInfo,
        defaults: Vec<(String, String)>,
        macros: &[(&str, &str)],
        out: &mut BytesMut,
    ) -> Result<Awaiting> {
        self.rcpts_in_message = 0;
        let defaults = defaults
            .into_iter()
            .map(|(k, v)| (Bytes::from(k), Bytes::from(v)))
            .collect();
        let m = merge(defaults, macros);
        self.command(Some(MacroStage::Connect), m, Command::Connect(info), out)
    }

    /// Macros (if any), then the command, and whether its reply is due.
    fn command(
        &mut self,
        stage: Option<MacroStage>,
        macros: Vec<(Bytes, Bytes)>,
        cmd: Command,
        out: &mut BytesMut,
    ) -> Result<Awaiting> {
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
            self.send_macros(stage, macros, out)?;
        }
        if disabled {
            return Ok(Awaiting::NotSent);
        }
        cmd.encode(out)?;
        if !self.expects_reply(code) {
            return Ok(Awaiting::NoReply);
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
        let timeout = if envelope {
            self.profile.command_timeout
        } else {
            self.profile.content_timeout
        };
        Ok(Awaiting::Reply {
            command: code,
            timeout,
        })
    }
}

fn unexpected(command: CommandCode, resp: Response, reason: &'static str) -> ProtocolError {
    ProtocolError::UnexpectedResponse {
        command: command.name(),
        response: Box::new(resp),
        reason,
    }
}

/// An address without its angle brackets; `""` (the non_smtpd null sender) is empty.
fn unbracket(a: &str) -> &str {
    let a = a.trim();
    if a == "\"\"" {
        return "";
    }
    a.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(a)
}
