//! Option negotiation for protocol versions 2..6 (milter-protocol.md §2.1–§2.3, §3.9).

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::Reader;
use crate::error::ProtocolError;
use crate::response::Response;
use crate::{Actions, CommandCode, MAX_VERSION, MIN_VERSION, ProtocolFlags, SymStage};

/// The fixed 12-byte OPTNEG body: the MTA's offer, or the milter's answer (§2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OptNeg {
    /// Protocol version.
    pub version: u32,
    /// `SMFIF_*` action bits.
    pub actions: Actions,
    /// `SMFIP_*` protocol bits.
    pub protocol: ProtocolFlags,
}

/// One SETSYMLIST entry inside the OPTNEG reply (§3.9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SymList {
    /// The stage the list applies to.
    pub stage: SymStage,
    /// Macro names separated by spaces, e.g. `"{auth_authen} {auth_type} i"`.
    pub macros: Bytes,
}

/// What the milter asks for; intersected with the MTA's offer by [`negotiate`] (§2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wants {
    /// Actions we want to be allowed to perform.
    pub actions: Actions,
    /// Protocol bits we want (NR, NO, LEADSPC, SKIP...).
    pub protocol: ProtocolFlags,
    /// Macro lists to request; sent only if the MTA offers SETSYMLIST, and only non-empty ones.
    pub symlists: Vec<SymList>,
}

impl Default for Wants {
    /// authmilter's defaults (§2.3): `NR_HDR|NR_EOH|NR_BODY|HDR_LEADSPC|NOUNKNOWN` and
    /// `ADDHDRS|CHGHDRS|QUARANTINE|CHGFROM|ADDRCPT|DELRCPT|ADDRCPT_PAR`, no symlists.
    fn default() -> Self {
        Self {
            actions: Actions::ADDHDRS
                | Actions::CHGHDRS
                | Actions::QUARANTINE
                | Actions::CHGFROM
                | Actions::ADDRCPT
                | Actions::DELRCPT
                | Actions::ADDRCPT_PAR,
            protocol: ProtocolFlags::NR_HDR
                | ProtocolFlags::NR_EOH
                | ProtocolFlags::NR_BODY
                | ProtocolFlags::HDR_LEADSPC
                | ProtocolFlags::NOUNKNOWN,
            symlists: Vec::new(),
        }
    }
}

/// The outcome of negotiation: what both sides agreed on (§2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Agreed version: `min(mta, 6)`.
    pub version: u32,
    /// Agreed actions (subset of the offer; includes SETSYMLIST only if lists are sent).
    pub actions: Actions,
    /// Agreed protocol bits (subset of the offer, bits 21–31 never set).
    pub protocol: ProtocolFlags,
    /// The MTA's offer, after libmilter's v1 defaults for zero fields.
    pub offered: OptNeg,
    /// The macro lists sent in the reply.
    pub symlists: Vec<SymList>,
}

/// Computes our OPTNEG answer to the MTA's offer (§2.1). Refuses versions below 2.
pub fn negotiate(offer: &OptNeg, wants: &Wants) -> Result<Negotiated, ProtocolError> {
    if offer.version < MIN_VERSION {
        return Err(ProtocolError::UnsupportedVersion(offer.version));
    }
    let version = offer.version.min(MAX_VERSION);
    let offered_actions = if offer.actions.is_empty() {
        Actions::V1
    } else {
        offer.actions
    };
    let offered_protocol = if offer.protocol.is_empty() {
        ProtocolFlags::V1
    } else {
        offer.protocol
    };
    let mut actions = wants.actions & offered_actions & Actions::ALL;
    let protocol = wants.protocol & offered_protocol & ProtocolFlags::ALL;
    let symlists: Vec<SymList> = if offered_actions.contains(Actions::SETSYMLIST) {
        wants
            .symlists
            .iter()
            .filter(|l| !l.macros.is_empty())
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    if symlists.is_empty() {
        actions = actions.difference(Actions::SETSYMLIST);
    } else {
        actions |= Actions::SETSYMLIST;
    }
    Ok(Negotiated {
        version,
        actions,
        protocol,
        offered: OptNeg {
            version: offer.version,
            actions: offered_actions,
            protocol: offered_protocol,
        },
        symlists,
    })
}

impl OptNeg {
    /// What Postfix offers at `milter_protocol = 6` (§2.1): 6 / 0x1FF / 0x1FFFFF.
    pub const POSTFIX_V6: Self = Self {
        version: 6,
        actions: Actions::ALL,
        protocol: ProtocolFlags::ALL,
    };

    pub(crate) fn from_reader(r: &mut Reader) -> Result<Self, ProtocolError> {
        Ok(Self {
            version: r.u32("missing version")?,
            actions: Actions::from_bits(r.u32("missing actions")?),
            protocol: ProtocolFlags::from_bits(r.u32("missing protocol")?),
        })
    }

    pub(crate) fn put(&self, out: &mut BytesMut) {
        out.put_u32(self.version);
        out.put_u32(self.actions.bits());
        out.put_u32(self.protocol.bits());
    }
}

impl Negotiated {
    /// What a session assumes before any OPTNEG: version 2, no actions, no protocol bits,
    /// so every command except MACRO/ABORT/QUIT/QUIT_NC is answered (§4.2).
    pub fn unnegotiated() -> Self {
        let offered = OptNeg {
            version: MIN_VERSION,
            actions: Actions::empty(),
            protocol: ProtocolFlags::empty(),
        };
        Self {
            version: MIN_VERSION,
            actions: Actions::empty(),
            protocol: ProtocolFlags::empty(),
            offered,
            symlists: Vec::new(),
        }
    }

    /// The OPTNEG reply to send (§2.1, §3.9).
    pub fn reply(&self) -> Response {
        Response::OptNeg {
            options: OptNeg {
                version: self.version,
                actions: self.actions,
                protocol: self.protocol,
            },
            symlists: self.symlists.clone(),
        }
    }

    /// True if `SMFIP_HDR_LEADSPC` is in force (§2.8, §3.2).
    pub fn leadspc(&self) -> bool {
        self.protocol.contains(ProtocolFlags::HDR_LEADSPC)
    }

    /// True if this action was agreed (§2.2).
    pub fn allows(&self, action: Actions) -> bool {
        self.actions.contains(action)
    }

    /// True if the MTA expects a reply to `code` (§0 rule 2, §2.3). BODYEOB and OPTNEG always do.
    pub fn expects_reply(&self, code: CommandCode) -> bool {
        if code.never_replied() {
            return false;
        }
        match code.no_reply_flag() {
            Some(flag) => !self.protocol.contains(flag),
            None => true,
        }
    }

    /// True if the MTA will send `code` at all, judging by the NO* bits and the version (§2.3).
    pub fn mta_sends(&self, code: CommandCode) -> bool {
        if let Some(flag) = code.disable_flag()
            && self.protocol.contains(flag)
        {
            return false;
        }
        match code {
            CommandCode::Unknown => self.version >= 3,
            CommandCode::Data => self.version >= 4,
            CommandCode::QuitNc => self.version >= 6,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_v6_gets_the_recommended_reply() {
        let n = negotiate(&OptNeg::POSTFIX_V6, &Wants::default()).unwrap();
        assert_eq!(n.version, 6);
        assert_eq!(n.protocol.bits(), 0x001C_0180);
        assert_eq!(n.actions.bits(), 0x0FD);
        assert!(n.leadspc());
        assert!(!n.expects_reply(CommandCode::Header));
        assert!(n.expects_reply(CommandCode::Mail));
        assert!(n.expects_reply(CommandCode::BodyEob));
    }

    #[test]
    fn version_is_min_and_below_2_is_refused() {
        let mut offer = OptNeg::POSTFIX_V6;
        offer.version = 9;
        assert_eq!(negotiate(&offer, &Wants::default()).unwrap().version, 6);
        offer.version = 5;
        assert_eq!(negotiate(&offer, &Wants::default()).unwrap().version, 5);
        offer.version = 1;
        assert_eq!(
            negotiate(&offer, &Wants::default()),
            Err(ProtocolError::UnsupportedVersion(1))
        );
    }

    #[test]
    fn legacy_v2_degrades_to_replies_everywhere() {
        let offer = OptNeg {
            version: 2,
            actions: Actions::ALL,
            protocol: ProtocolFlags::V2,
        };
        let n = negotiate(&offer, &Wants::default()).unwrap();
        assert_eq!(n.version, 2);
        assert!(n.protocol.is_empty(), "{:?}", n.protocol);
        assert!(!n.leadspc());
        for c in [CommandCode::Header, CommandCode::Eoh, CommandCode::Body] {
            assert!(n.expects_reply(c));
        }
        assert!(!n.mta_sends(CommandCode::Data));
        assert!(!n.mta_sends(CommandCode::Unknown));
    }

    #[test]
    fn zero_offers_mean_v1_defaults_and_high_bits_are_never_echoed() {
        let offer = OptNeg {
            version: 6,
            actions: Actions::empty(),
            protocol: ProtocolFlags::empty(),
        };
        let n = negotiate(&offer, &Wants::default()).unwrap();
        assert_eq!(
            n.actions,
            Actions::ADDHDRS | Actions::ADDRCPT | Actions::DELRCPT
        );
        assert!(n.protocol.is_empty());
        let wants = Wants {
            protocol: ProtocolFlags::from_bits(0xFFFF_FFFF),
            ..Wants::default()
        };
        let offer = OptNeg {
            protocol: ProtocolFlags::from_bits(0x301F_FFFF),
            ..OptNeg::POSTFIX_V6
        };
        let n = negotiate(&offer, &wants).unwrap();
        assert_eq!(n.protocol.bits(), 0x001F_FFFF);
    }

    #[test]
    fn symlists_only_when_offered_and_non_empty() {
        let wants = Wants {
            symlists: vec![
                SymList {
                    stage: SymStage::ENVFROM,
                    macros: Bytes::from_static(b"{auth_authen} i"),
                },
                SymList {
                    stage: SymStage::HELO,
                    macros: Bytes::new(),
                },
            ],
            ..Wants::default()
        };
        let n = negotiate(&OptNeg::POSTFIX_V6, &wants).unwrap();
        assert_eq!(n.symlists.len(), 1);
        assert!(n.allows(Actions::SETSYMLIST));
        let offer = OptNeg {
            actions: Actions::from_bits(0xFF),
            ..OptNeg::POSTFIX_V6
        };
        let n = negotiate(&offer, &wants).unwrap();
        assert!(n.symlists.is_empty());
        assert!(!n.allows(Actions::SETSYMLIST));
    }
}
