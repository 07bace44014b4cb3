//! Commands (MTA → milter): parsing for the server, encoding for the client (milter-protocol.md §2).

use std::net::IpAddr;

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::{Reader, check_cstr, put_cstr, put_frame};
use crate::error::ProtocolError;
use crate::macros::Macros;
use crate::negotiate::OptNeg;
use crate::{CommandCode, Family, MacroStage};

/// Most strings a MAIL or RCPT payload holds: the address and its ESMTP parameters (§2.5;
/// RFC 5321 §4.5.3.1.4 keeps a command line within 512 octets, extensions add a few
/// parameters, never dozens).
pub const MAX_ENVELOPE_STRINGS: usize = 64;

/// One command from the MTA (§2). Text fields are raw bytes: there is no charset (§1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `'O'` option negotiation: the MTA's offer (§2.1).
    OptNeg(OptNeg),
    /// `'D'` macro definitions for the command that follows (§2.4).
    Macro(Macros),
    /// `'C'` client connection information (§2.5).
    Connect(ConnectInfo),
    /// `'H'` the HELO/EHLO argument (§2.6).
    Helo(Bytes),
    /// `'M'` MAIL FROM (§2.7).
    Mail(Envelope),
    /// `'R'` RCPT TO (§2.7).
    Rcpt(Envelope),
    /// `'T'` DATA (§2.8).
    Data,
    /// `'L'` one header (§2.8).
    Header(Header),
    /// `'N'` end of headers (§2.8).
    Eoh,
    /// `'B'` one body chunk, CRLF line ends, split anywhere (§2.8).
    Body(Bytes),
    /// `'E'` end of message; the data (normally empty) is a last body chunk (§2.8).
    BodyEob(Bytes),
    /// `'A'` abort the current message (§2.10).
    Abort,
    /// `'Q'` quit: close the connection (§2.10).
    Quit,
    /// `'K'` quit, but a new session follows on this connection (§2.10).
    QuitNc,
    /// `'U'` an SMTP command the MTA did not recognise (§2.9).
    Unknown(Bytes),
}

/// The payload of CONNECT (§2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectInfo {
    /// Client host name as sent: verified name, `[addr]` if unknown, `localhost`...
    pub hostname: Bytes,
    /// Address family.
    pub family: Family,
    /// Client port (0 for [`Family::Unknown`] and [`Family::Unix`]).
    pub port: u16,
    /// Address as sent (may carry Sendmail's `IPv6:` tag); empty for [`Family::Unknown`].
    pub address: Bytes,
}

/// The payload of MAIL or RCPT (§2.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Element 0 exactly as sent: `<a@b>`, `<>`, a bare address or `""` (Postfix non-smtpd).
    pub address: Bytes,
    /// ESMTP parameters, one per element (`SIZE=1234`, `BODY=8BITMIME`).
    pub args: Vec<Bytes>,
}

/// The payload of HEADER (§2.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header field name.
    pub name: Bytes,
    /// Value exactly as sent: folded with bare `\n`; leading space kept only with `HDR_LEADSPC`.
    pub value: Bytes,
}

impl Command {
    /// The command's code.
    pub fn code(&self) -> CommandCode {
        match self {
            Self::OptNeg(_) => CommandCode::OptNeg,
            Self::Macro(_) => CommandCode::Macro,
            Self::Connect(_) => CommandCode::Connect,
            Self::Helo(_) => CommandCode::Helo,
            Self::Mail(_) => CommandCode::Mail,
            Self::Rcpt(_) => CommandCode::Rcpt,
            Self::Data => CommandCode::Data,
            Self::Header(_) => CommandCode::Header,
            Self::Eoh => CommandCode::Eoh,
            Self::Body(_) => CommandCode::Body,
            Self::BodyEob(_) => CommandCode::BodyEob,
            Self::Abort => CommandCode::Abort,
            Self::Quit => CommandCode::Quit,
            Self::QuitNc => CommandCode::QuitNc,
            Self::Unknown(_) => CommandCode::Unknown,
        }
    }

    /// Parses one frame's code and payload (§2). Lenient where the MTAs differ, strict on framing.
    pub fn parse(code: u8, payload: Bytes) -> Result<Self, ProtocolError> {
        let Some(cc) = CommandCode::from_u8(code) else {
            return Err(ProtocolError::UnknownCommand(code));
        };
        let mut r = Reader::new(payload, cc.name());
        Ok(match cc {
            CommandCode::OptNeg => {
                if r.remaining() < 12 {
                    return Err(r.err("shorter than 12 bytes (version, actions, protocol)"));
                }
                Self::OptNeg(OptNeg::from_reader(&mut r)?)
            }
            CommandCode::Macro => {
                let stage = MacroStage::from_u8(r.u8("empty payload: no stage byte")?);
                Self::Macro(Macros::from_list(stage, r.rest()))
            }
            CommandCode::Connect => {
                let hostname = r.cstr("host name is not NUL-terminated")?;
                let family = r.u8("missing address family")?;
                let Some(family) = Family::from_u8(family) else {
                    return Err(r.err("bad address family (expected U, L, 4 or 6)"));
                };
                let (port, address) = if family == Family::Unknown {
                    (0, Bytes::new())
                } else {
                    let port = r.u16("missing port")?;
                    (port, r.cstr("address is not NUL-terminated")?)
                };
                Self::Connect(ConnectInfo {
                    hostname,
                    family,
                    port,
                    address,
                })
            }
            CommandCode::Helo => Self::Helo(r.cstr("HELO name is not NUL-terminated")?),
            CommandCode::Mail | CommandCode::Rcpt => {
                let mut strings = r.cstrs(false, MAX_ENVELOPE_STRINGS)?.into_iter();
                let Some(address) = strings.next() else {
                    return Err(r.err("missing address"));
                };
                let env = Envelope {
                    address,
                    args: strings.collect(),
                };
                if cc == CommandCode::Mail {
                    Self::Mail(env)
                } else {
                    Self::Rcpt(env)
                }
            }
            CommandCode::Header => {
                let name = r.cstr("header name is not NUL-terminated")?;
                // `value NUL`; a NUL inside the value stays in it (a client that puts one there
                // must not get the part before it evaluated alone)
                let mut value = r.rest();
                if value.last() != Some(&0) {
                    return Err(r.err("header value is not NUL-terminated"));
                }
                value.truncate(value.len().saturating_sub(1));
                Self::Header(Header { name, value })
            }
            CommandCode::Body => Self::Body(r.rest()),
            CommandCode::BodyEob => Self::BodyEob(r.rest()),
            CommandCode::Unknown => Self::Unknown(r.cstr("command line is not NUL-terminated")?),
            // Payloads of the empty commands are ignored (lenient).
            CommandCode::Data => Self::Data,
            CommandCode::Eoh => Self::Eoh,
            CommandCode::Abort => Self::Abort,
            CommandCode::Quit => Self::Quit,
            CommandCode::QuitNc => Self::QuitNc,
        })
    }

    /// Appends this command as one frame (client side, §2). Body chunks are not split here.
    ///
    /// Fails, writing nothing, if a C-string field contains NUL.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), ProtocolError> {
        self.validate()?;
        let code = self.code().as_u8();
        put_frame(out, code, |o| match self {
            Self::OptNeg(n) => n.put(o),
            Self::Macro(m) => {
                o.put_u8(m.stage.as_u8());
                o.put_slice(m.wire_list());
            }
            Self::Connect(c) => {
                put_cstr(o, &c.hostname);
                o.put_u8(c.family.as_u8());
                if c.family != Family::Unknown {
                    o.put_u16(c.port);
                    put_cstr(o, &c.address);
                }
            }
            Self::Helo(s) | Self::Unknown(s) => put_cstr(o, s),
            Self::Mail(e) | Self::Rcpt(e) => {
                put_cstr(o, &e.address);
                for a in &e.args {
                    put_cstr(o, a);
                }
            }
            Self::Header(h) => {
                put_cstr(o, &h.name);
                put_cstr(o, &h.value);
            }
            Self::Body(b) | Self::BodyEob(b) => o.put_slice(b),
            Self::Data | Self::Eoh | Self::Abort | Self::Quit | Self::QuitNc => {}
        })
    }

    fn validate(&self) -> Result<(), ProtocolError> {
        match self {
            Self::Connect(c) => {
                check_cstr("host name", &c.hostname)?;
                check_cstr("address", &c.address)?;
            }
            Self::Helo(s) => check_cstr("HELO name", s)?,
            Self::Unknown(s) => check_cstr("unknown command", s)?,
            Self::Mail(e) | Self::Rcpt(e) => {
                check_cstr("address", &e.address)?;
                for a in &e.args {
                    check_cstr("ESMTP argument", a)?;
                }
            }
            Self::Header(h) => {
                check_cstr("header name", &h.name)?;
                check_cstr("header value", &h.value)?;
            }
            _ => {}
        }
        Ok(())
    }
}

impl ConnectInfo {
    /// The client IP, if the family is inet/inet6 and the address parses (§2.5).
    ///
    /// Strips Sendmail's `IPv6:` tag (any case) and `[...]`; IPv4-mapped IPv6 becomes IPv4.
    pub fn ip(&self) -> Option<IpAddr> {
        if !matches!(self.family, Family::Inet | Family::Inet6) {
            return None;
        }
        let mut a: &[u8] = strip_brackets(&self.address);
        if a.len() >= 5 && a.get(..5).is_some_and(|p| p.eq_ignore_ascii_case(b"IPv6:")) {
            a = a.get(5..).unwrap_or_default();
        }
        let s = std::str::from_utf8(a).ok()?;
        let ip: IpAddr = s.parse().ok()?;
        Some(match ip {
            IpAddr::V6(v6) => IpAddr::V6(v6).to_canonical(),
            v4 => v4,
        })
    }

    /// The host name without `[...]` around it (§2.5).
    pub fn hostname_unbracketed(&self) -> &[u8] {
        strip_brackets(&self.hostname)
    }

    /// True if the MTA could not verify a name and sent `[addr]` instead (§2.5).
    pub fn hostname_is_address_literal(&self) -> bool {
        self.hostname.first() == Some(&b'[') && self.hostname.last() == Some(&b']')
    }
}

impl Envelope {
    /// A new envelope from an address and ESMTP args (client side convenience).
    pub fn new(address: impl Into<Bytes>, args: Vec<Bytes>) -> Self {
        Self {
            address: address.into(),
            args,
        }
    }

    /// The mailbox without `<>`, a source route (`@a,@b:`) or the `""` null-sender spelling (§2.7).
    pub fn mailbox(&self) -> &[u8] {
        let a = trim_ascii(&self.address);
        if a == b"\"\"" {
            return &[];
        }
        let inner = match (a.first(), a.last()) {
            (Some(b'<'), Some(b'>')) if a.len() >= 2 => a.get(1..a.len() - 1).unwrap_or_default(),
            _ => a,
        };
        let inner = trim_ascii(inner);
        // RFC 5321 §4.1.2 source route: "@a,@b:user@d" -> "user@d".
        if inner.first() == Some(&b'@')
            && let Some(colon) = inner.iter().position(|&b| b == b':')
        {
            return inner.get(colon + 1..).unwrap_or_default();
        }
        inner
    }

    /// True for the null reverse-path: `<>`, `""` or an empty string (§2.7).
    pub fn is_null(&self) -> bool {
        self.mailbox().is_empty()
    }

    /// The value of an ESMTP parameter (`SIZE`, `BODY`...) by case-insensitive keyword.
    pub fn arg(&self, keyword: &str) -> Option<&[u8]> {
        self.args.iter().find_map(|a| {
            let (k, v) = match a.iter().position(|&b| b == b'=') {
                Some(eq) => (a.get(..eq)?, a.get(eq + 1..)?),
                None => (&a[..], &[][..]),
            };
            k.eq_ignore_ascii_case(keyword.as_bytes()).then_some(v)
        })
    }
}

fn strip_brackets(s: &[u8]) -> &[u8] {
    match (s.first(), s.last()) {
        (Some(b'['), Some(b']')) if s.len() >= 2 => s.get(1..s.len() - 1).unwrap_or_default(),
        _ => s,
    }
}

fn trim_ascii(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}
