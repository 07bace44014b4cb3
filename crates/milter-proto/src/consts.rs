//! Protocol constants as typed values (milter-protocol.md Appendix A).

use std::fmt;
use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Not};

/// Body chunk size both MTAs use and the largest payload libmilter-era MTAs accept (§1.2).
pub const MILTER_CHUNK_SIZE: usize = 65535;
/// Highest protocol version this crate speaks (§2.1).
pub const MAX_VERSION: u32 = 6;
/// Lowest protocol version this crate accepts (§2.1).
pub const MIN_VERSION: u32 = 2;

macro_rules! flag_type {
    ($(#[$meta:meta])* $name:ident { $( $(#[$fmeta:meta])* $flag:ident = $value:expr; )* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(u32);

        impl $name {
            $( $(#[$fmeta])* pub const $flag: Self = Self($value); )*
            const NAMES: &'static [(&'static str, u32)] = &[ $( (stringify!($flag), $value), )* ];

            /// No bit set.
            pub const fn empty() -> Self {
                Self(0)
            }
            /// From raw bits, keeping bits this crate has no name for.
            pub const fn from_bits(bits: u32) -> Self {
                Self(bits)
            }
            /// The raw bits as they go on the wire.
            pub const fn bits(self) -> u32 {
                self.0
            }
            /// True if every bit of `other` is set in `self`.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }
            /// True if any bit of `other` is set in `self`.
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }
            /// True if no bit is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
            /// Bits set in both.
            pub const fn intersection(self, other: Self) -> Self {
                Self(self.0 & other.0)
            }
            /// Bits set in either.
            pub const fn union(self, other: Self) -> Self {
                Self(self.0 | other.0)
            }
            /// Bits of `self` that are not in `other`.
            pub const fn difference(self, other: Self) -> Self {
                Self(self.0 & !other.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(", stringify!($name))?;
                let mut rest = self.0;
                let mut first = true;
                for (name, bit) in Self::NAMES {
                    if *bit != 0 && rest & bit == *bit {
                        if !first {
                            f.write_str(" | ")?;
                        }
                        f.write_str(name)?;
                        first = false;
                        rest &= !bit;
                    }
                }
                if rest != 0 || first {
                    if !first {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{rest:#x}")?;
                }
                f.write_str(")")
            }
        }

        impl BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                Self(self.0 | rhs.0)
            }
        }
        impl BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: Self) {
                self.0 |= rhs.0;
            }
        }
        impl BitAnd for $name {
            type Output = Self;
            fn bitand(self, rhs: Self) -> Self {
                Self(self.0 & rhs.0)
            }
        }
        impl BitAndAssign for $name {
            fn bitand_assign(&mut self, rhs: Self) {
                self.0 &= rhs.0;
            }
        }
        impl Not for $name {
            type Output = Self;
            fn not(self) -> Self {
                Self(!self.0)
            }
        }
    };
}

flag_type! {
    /// `SMFIF_*` action bits: what the milter may do at end of message (§2.2).
    Actions {
        /// 0x001: `'h'` ADDHEADER and `'i'` INSHEADER.
        ADDHDRS = 0x001;
        /// 0x002: `'b'` REPLBODY.
        CHGBODY = 0x002;
        /// 0x004: `'+'` ADDRCPT.
        ADDRCPT = 0x004;
        /// 0x008: `'-'` DELRCPT.
        DELRCPT = 0x008;
        /// 0x010: `'m'` CHGHEADER (change or delete).
        CHGHDRS = 0x010;
        /// 0x020: `'q'` QUARANTINE.
        QUARANTINE = 0x020;
        /// 0x040: `'e'` CHGFROM (v6).
        CHGFROM = 0x040;
        /// 0x080: `'2'` ADDRCPT_PAR (v6).
        ADDRCPT_PAR = 0x080;
        /// 0x100: SETSYMLIST lists inside the OPTNEG reply (v6).
        SETSYMLIST = 0x100;
    }
}

impl Actions {
    /// libmilter's v1 default, assumed when the MTA offers 0 (§2.1).
    pub const V1: Self = Self(0x0F);
    /// v2 action set (§2.2).
    pub const V2: Self = Self(0x3F);
    /// Every action defined by v6 (`SMFI_CURR_ACTS`, what Postfix and Sendmail offer).
    pub const ALL: Self = Self(0x1FF);
}

flag_type! {
    /// `SMFIP_*` protocol bits: events the MTA skips and replies the milter omits (§2.3).
    ProtocolFlags {
        /// 0x1: don't send CONNECT.
        NOCONNECT = 0x0000_0001;
        /// 0x2: don't send HELO.
        NOHELO = 0x0000_0002;
        /// 0x4: don't send MAIL.
        NOMAIL = 0x0000_0004;
        /// 0x8: don't send RCPT.
        NORCPT = 0x0000_0008;
        /// 0x10: don't send BODY.
        NOBODY = 0x0000_0010;
        /// 0x20: don't send HEADER.
        NOHDRS = 0x0000_0020;
        /// 0x40: don't send EOH.
        NOEOH = 0x0000_0040;
        /// 0x80: no reply to HEADER (a.k.a. NOHREPL).
        NR_HDR = 0x0000_0080;
        /// 0x100: don't send UNKNOWN.
        NOUNKNOWN = 0x0000_0100;
        /// 0x200: don't send DATA.
        NODATA = 0x0000_0200;
        /// 0x400: the MTA understands `'s'` SKIP.
        SKIP = 0x0000_0400;
        /// 0x800: also send recipients the MTA rejected.
        RCPT_REJ = 0x0000_0800;
        /// 0x1000: no reply to CONNECT.
        NR_CONN = 0x0000_1000;
        /// 0x2000: no reply to HELO.
        NR_HELO = 0x0000_2000;
        /// 0x4000: no reply to MAIL.
        NR_MAIL = 0x0000_4000;
        /// 0x8000: no reply to RCPT.
        NR_RCPT = 0x0000_8000;
        /// 0x10000: no reply to DATA.
        NR_DATA = 0x0001_0000;
        /// 0x20000: no reply to UNKNOWN.
        NR_UNKN = 0x0002_0000;
        /// 0x40000: no reply to EOH.
        NR_EOH = 0x0004_0000;
        /// 0x80000: no reply to BODY.
        NR_BODY = 0x0008_0000;
        /// 0x100000: header values keep their leading whitespace, both directions.
        HDR_LEADSPC = 0x0010_0000;
        /// 0x10000000: (Sendmail internal) max data size 256 KiB − 1.
        MDS_256K = 0x1000_0000;
        /// 0x20000000: (Sendmail internal) max data size 1 MiB − 1.
        MDS_1M = 0x2000_0000;
    }
}

impl ProtocolFlags {
    /// libmilter's v1 default, assumed when the MTA offers 0 (§2.1).
    pub const V1: Self = Self(0x3F);
    /// What Postfix offers at `milter_protocol = 2` (§2.1).
    pub const V2: Self = Self(0x7F);
    /// Every bit defined by v6 (`SMFI_CURR_PROT`, what Postfix and Sendmail offer).
    pub const ALL: Self = Self(0x001F_FFFF);
    /// Every `NR_*` bit.
    pub const ALL_NR: Self =
        Self(0x0008_0000 | 0x0004_0000 | 0x0002_0000 | 0x0001_0000 | 0xF000 | 0x80);
}

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
    fn debug_lists_names_and_unknown_bits() {
        let a = Actions::ADDHDRS | Actions::CHGHDRS;
        assert_eq!(format!("{a:?}"), "Actions(ADDHDRS | CHGHDRS)");
        assert_eq!(
            format!("{:?}", Actions::from_bits(0x1001)),
            "Actions(ADDHDRS | 0x1000)"
        );
        assert_eq!(format!("{:?}", Actions::empty()), "Actions(0x0)");
    }

    #[test]
    fn recommended_protocol_value() {
        let p = ProtocolFlags::HDR_LEADSPC
            | ProtocolFlags::NR_HDR
            | ProtocolFlags::NR_EOH
            | ProtocolFlags::NR_BODY
            | ProtocolFlags::NOUNKNOWN;
        assert_eq!(p.bits(), 0x001C_0180);
        assert_eq!(ProtocolFlags::ALL_NR.bits(), 0x000F_F080);
    }

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
