//! The action and protocol bit sets of option negotiation (SMFIF_*, SMFIP_*), and the
//! protocol's size and version constants (docs/design/milter-protocol.md §2.1, Appendix A).

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
}
