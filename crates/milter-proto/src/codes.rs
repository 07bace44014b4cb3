//! The one-byte codes of the protocol as typed values: commands, responses, macro stages,
//! SETSYMLIST stages, address families (docs/design/milter-protocol.md §2, §3, Appendix A).

use crate::flags::ProtocolFlags;

/// A command code (MTA → milter), §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CommandCode {
    /// `'O'` SMFIC_OPTNEG.
    OptNeg = b'O',
    /// `'D'` SMFIC_MACRO.
    Macro = b'D',
    /// `'C'` SMFIC_CONNECT.
    Connect = b'C',
    /// `'H'` SMFIC_HELO.
    Helo = b'H',
    /// `'M'` SMFIC_MAIL.
    Mail = b'M',
    /// `'R'` SMFIC_RCPT.
    Rcpt = b'R',
    /// `'T'` SMFIC_DATA.
    Data = b'T',
    /// `'L'` SMFIC_HEADER.
    Header = b'L',
    /// `'N'` SMFIC_EOH.
    Eoh = b'N',
    /// `'B'` SMFIC_BODY.
    Body = b'B',
    /// `'E'` SMFIC_BODYEOB.
    BodyEob = b'E',
    /// `'A'` SMFIC_ABORT.
    Abort = b'A',
    /// `'Q'` SMFIC_QUIT.
    Quit = b'Q',
    /// `'K'` SMFIC_QUIT_NC.
    QuitNc = b'K',
    /// `'U'` SMFIC_UNKNOWN.
    Unknown = b'U',
}

impl CommandCode {
    /// The code for a wire byte, if it is a command (§2).
    pub const fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            b'O' => Self::OptNeg,
            b'D' => Self::Macro,
            b'C' => Self::Connect,
            b'H' => Self::Helo,
            b'M' => Self::Mail,
            b'R' => Self::Rcpt,
            b'T' => Self::Data,
            b'L' => Self::Header,
            b'N' => Self::Eoh,
            b'B' => Self::Body,
            b'E' => Self::BodyEob,
            b'A' => Self::Abort,
            b'Q' => Self::Quit,
            b'K' => Self::QuitNc,
            b'U' => Self::Unknown,
            _ => return None,
        })
    }

    /// The wire byte.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The libmilter name (`"SMFIC_CONNECT"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::OptNeg => "SMFIC_OPTNEG",
            Self::Macro => "SMFIC_MACRO",
            Self::Connect => "SMFIC_CONNECT",
            Self::Helo => "SMFIC_HELO",
            Self::Mail => "SMFIC_MAIL",
            Self::Rcpt => "SMFIC_RCPT",
            Self::Data => "SMFIC_DATA",
            Self::Header => "SMFIC_HEADER",
            Self::Eoh => "SMFIC_EOH",
            Self::Body => "SMFIC_BODY",
            Self::BodyEob => "SMFIC_BODYEOB",
            Self::Abort => "SMFIC_ABORT",
            Self::Quit => "SMFIC_QUIT",
            Self::QuitNc => "SMFIC_QUIT_NC",
            Self::Unknown => "SMFIC_UNKNOWN",
        }
    }

    /// The `NR_*` bit that suppresses the reply to this command, if one exists (§2.3).
    pub const fn no_reply_flag(self) -> Option<ProtocolFlags> {
        match self {
            Self::Connect => Some(ProtocolFlags::NR_CONN),
            Self::Helo => Some(ProtocolFlags::NR_HELO),
            Self::Mail => Some(ProtocolFlags::NR_MAIL),
            Self::Rcpt => Some(ProtocolFlags::NR_RCPT),
            Self::Data => Some(ProtocolFlags::NR_DATA),
            Self::Header => Some(ProtocolFlags::NR_HDR),
            Self::Eoh => Some(ProtocolFlags::NR_EOH),
            Self::Body => Some(ProtocolFlags::NR_BODY),
            Self::Unknown => Some(ProtocolFlags::NR_UNKN),
            _ => None,
        }
    }

    /// The `NO*` bit that stops the MTA from sending this command, if one exists (§2.3).
    pub const fn disable_flag(self) -> Option<ProtocolFlags> {
        match self {
            Self::Connect => Some(ProtocolFlags::NOCONNECT),
            Self::Helo => Some(ProtocolFlags::NOHELO),
            Self::Mail => Some(ProtocolFlags::NOMAIL),
            Self::Rcpt => Some(ProtocolFlags::NORCPT),
            Self::Data => Some(ProtocolFlags::NODATA),
            Self::Header => Some(ProtocolFlags::NOHDRS),
            Self::Eoh => Some(ProtocolFlags::NOEOH),
            Self::Body => Some(ProtocolFlags::NOBODY),
            Self::Unknown => Some(ProtocolFlags::NOUNKNOWN),
            _ => None,
        }
    }

    /// True for MACRO, ABORT, QUIT and QUIT_NC, which never get a reply (§0 rule 2).
    pub const fn never_replied(self) -> bool {
        matches!(self, Self::Macro | Self::Abort | Self::Quit | Self::QuitNc)
    }
}

/// A response code (milter → MTA), §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ResponseCode {
    /// `'O'` SMFIC_OPTNEG reply.
    OptNeg = b'O',
    /// `'c'` SMFIR_CONTINUE.
    Continue = b'c',
    /// `'a'` SMFIR_ACCEPT.
    Accept = b'a',
    /// `'r'` SMFIR_REJECT.
    Reject = b'r',
    /// `'t'` SMFIR_TEMPFAIL.
    Tempfail = b't',
    /// `'d'` SMFIR_DISCARD.
    Discard = b'd',
    /// `'y'` SMFIR_REPLYCODE.
    ReplyCode = b'y',
    /// `'s'` SMFIR_SKIP.
    Skip = b's',
    /// `'p'` SMFIR_PROGRESS.
    Progress = b'p',
    /// `'h'` SMFIR_ADDHEADER.
    AddHeader = b'h',
    /// `'i'` SMFIR_INSHEADER.
    InsHeader = b'i',
    /// `'m'` SMFIR_CHGHEADER.
    ChgHeader = b'm',
    /// `'+'` SMFIR_ADDRCPT.
    AddRcpt = b'+',
    /// `'2'` SMFIR_ADDRCPT_PAR.
    AddRcptPar = b'2',
    /// `'-'` SMFIR_DELRCPT.
    DelRcpt = b'-',
    /// `'e'` SMFIR_CHGFROM.
    ChgFrom = b'e',
    /// `'b'` SMFIR_REPLBODY.
    ReplBody = b'b',
    /// `'q'` SMFIR_QUARANTINE.
    Quarantine = b'q',
    /// `'f'` SMFIR_CONN_FAIL: never sent (§3).
    ConnFail = b'f',
    /// `'4'` SMFIR_SHUTDOWN: never sent (§3).
    Shutdown = b'4',
    /// `'l'` SMFIR_SETSYMLIST: never its own packet (§3.9).
    SetSymList = b'l',
}

impl ResponseCode {
    /// The code for a wire byte, if it is a response (§3).
    pub const fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            b'O' => Self::OptNeg,
            b'c' => Self::Continue,
            b'a' => Self::Accept,
            b'r' => Self::Reject,
            b't' => Self::Tempfail,
            b'd' => Self::Discard,
            b'y' => Self::ReplyCode,
            b's' => Self::Skip,
            b'p' => Self::Progress,
            b'h' => Self::AddHeader,
            b'i' => Self::InsHeader,
            b'm' => Self::ChgHeader,
            b'+' => Self::AddRcpt,
            b'2' => Self::AddRcptPar,
            b'-' => Self::DelRcpt,
            b'e' => Self::ChgFrom,
            b'b' => Self::ReplBody,
            b'q' => Self::Quarantine,
            b'f' => Self::ConnFail,
            b'4' => Self::Shutdown,
            b'l' => Self::SetSymList,
            _ => return None,
        })
    }

    /// The wire byte.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The libmilter name (`"SMFIR_CONTINUE"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::OptNeg => "SMFIC_OPTNEG reply",
            Self::Continue => "SMFIR_CONTINUE",
            Self::Accept => "SMFIR_ACCEPT",
            Self::Reject => "SMFIR_REJECT",
            Self::Tempfail => "SMFIR_TEMPFAIL",
            Self::Discard => "SMFIR_DISCARD",
            Self::ReplyCode => "SMFIR_REPLYCODE",
            Self::Skip => "SMFIR_SKIP",
            Self::Progress => "SMFIR_PROGRESS",
            Self::AddHeader => "SMFIR_ADDHEADER",
            Self::InsHeader => "SMFIR_INSHEADER",
            Self::ChgHeader => "SMFIR_CHGHEADER",
            Self::AddRcpt => "SMFIR_ADDRCPT",
            Self::AddRcptPar => "SMFIR_ADDRCPT_PAR",
            Self::DelRcpt => "SMFIR_DELRCPT",
            Self::ChgFrom => "SMFIR_CHGFROM",
            Self::ReplBody => "SMFIR_REPLBODY",
            Self::Quarantine => "SMFIR_QUARANTINE",
            Self::ConnFail => "SMFIR_CONN_FAIL",
            Self::Shutdown => "SMFIR_SHUTDOWN",
            Self::SetSymList => "SMFIR_SETSYMLIST",
        }
    }

    /// True for the replies that end a command's turn (`c a r t d y s`), §2.8.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Self::Continue
                | Self::Accept
                | Self::Reject
                | Self::Tempfail
                | Self::Discard
                | Self::ReplyCode
                | Self::Skip
        )
    }

    /// True for the modification packets legal only after BODYEOB (§0 rule 3).
    pub const fn is_modification(self) -> bool {
        matches!(
            self,
            Self::AddHeader
                | Self::InsHeader
                | Self::ChgHeader
                | Self::AddRcpt
                | Self::AddRcptPar
                | Self::DelRcpt
                | Self::ChgFrom
                | Self::ReplBody
                | Self::Quarantine
        )
    }
}

/// The stage letter of a MACRO packet: the command the macros belong to (§2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacroStage {
    /// `'C'` connect macros.
    Connect,
    /// `'H'` HELO macros.
    Helo,
    /// `'M'` MAIL macros.
    Mail,
    /// `'R'` RCPT macros.
    Rcpt,
    /// `'T'` DATA macros.
    Data,
    /// `'L'` (Postfix) before every header: the end-of-header macros.
    Header,
    /// `'N'` end-of-header macros.
    Eoh,
    /// `'B'` (Postfix) before every body chunk: the end-of-data macros.
    Body,
    /// `'E'` end-of-message macros.
    Eom,
    /// `'U'` (Postfix) before UNKNOWN; never stored (§2.9).
    Unknown,
    /// Any other byte; accepted and ignored.
    Other(u8),
}

impl MacroStage {
    /// From the wire byte (every byte is accepted).
    pub const fn from_u8(b: u8) -> Self {
        match b {
            b'C' => Self::Connect,
            b'H' => Self::Helo,
            b'M' => Self::Mail,
            b'R' => Self::Rcpt,
            b'T' => Self::Data,
            b'L' => Self::Header,
            b'N' => Self::Eoh,
            b'B' => Self::Body,
            b'E' => Self::Eom,
            b'U' => Self::Unknown,
            other => Self::Other(other),
        }
    }

    /// The wire byte.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Connect => b'C',
            Self::Helo => b'H',
            Self::Mail => b'M',
            Self::Rcpt => b'R',
            Self::Data => b'T',
            Self::Header => b'L',
            Self::Eoh => b'N',
            Self::Body => b'B',
            Self::Eom => b'E',
            Self::Unknown => b'U',
            Self::Other(b) => b,
        }
    }
}

/// A SETSYMLIST stage number (`SMFIM_*`, §3.9); note EOM = 5 < EOH = 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymStage(pub u32);

impl SymStage {
    /// `SMFIM_CONNECT` 0.
    pub const CONNECT: Self = Self(0);
    /// `SMFIM_HELO` 1.
    pub const HELO: Self = Self(1);
    /// `SMFIM_ENVFROM` 2.
    pub const ENVFROM: Self = Self(2);
    /// `SMFIM_ENVRCPT` 3.
    pub const ENVRCPT: Self = Self(3);
    /// `SMFIM_DATA` 4.
    pub const DATA: Self = Self(4);
    /// `SMFIM_EOM` 5.
    pub const EOM: Self = Self(5);
    /// `SMFIM_EOH` 6.
    pub const EOH: Self = Self(6);
}

/// The address family byte of CONNECT (§2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `'U'`: unknown (Sendmail stdin/`-bs`); no port or address follow.
    Unknown,
    /// `'L'`: a local (unix) socket; the address is a path.
    Unix,
    /// `'4'`: IPv4.
    Inet,
    /// `'6'`: IPv6.
    Inet6,
}

impl Family {
    /// From the wire byte.
    pub const fn from_u8(b: u8) -> Option<Self> {
        match b {
            b'U' => Some(Self::Unknown),
            b'L' => Some(Self::Unix),
            b'4' => Some(Self::Inet),
            b'6' => Some(Self::Inet6),
            _ => None,
        }
    }

    /// The wire byte.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Unknown => b'U',
            Self::Unix => b'L',
            Self::Inet => b'4',
            Self::Inet6 => b'6',
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for b in 0..=255u8 {
            if let Some(c) = CommandCode::from_u8(b) {
                assert_eq!(c.as_u8(), b);
            }
            if let Some(c) = ResponseCode::from_u8(b) {
                assert_eq!(c.as_u8(), b);
            }
            assert_eq!(MacroStage::from_u8(b).as_u8(), b);
        }
    }
}
