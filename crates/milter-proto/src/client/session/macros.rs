//! The macros the MTA sends before each command: the profile's defaults, the caller's, and
//! what the milter asked for with SETSYMLIST (docs/design/milter-protocol.md §3.9).

use bytes::{Bytes, BytesMut};

use super::{ClientSession, Result};
use crate::{Command, MacroStage, Macros, SymStage, names_match};

impl ClientSession {
    /// Postfix makes the queue id `i` available from DATA on.
    pub(super) fn postfix_queue_id(&self) -> Vec<(Bytes, Bytes)> {
        if self.profile.is_postfix() {
            vec![(
                Bytes::from_static(b"i"),
                Bytes::from(self.profile.queue_id.clone()),
            )]
        } else {
            Vec::new()
        }
    }

    /// Encodes the MACRO packet of `stage`: the pairs, or those the milter's SETSYMLIST asked for.
    pub(super) fn send_macros(
        &mut self,
        stage: MacroStage,
        pairs: Vec<(Bytes, Bytes)>,
        out: &mut BytesMut,
    ) -> Result<()> {
        let pairs = match self.requested(stage) {
            None => pairs,
            // Postfix: a SETSYMLIST list replaces milter_*_macros for its stage; a macro it
            // has no value for is left out (milter8.c, "override lists of macro names")
            Some(list) => list
                .split(|&b| b == b' ')
                .filter(|n| !n.is_empty())
                .filter_map(|name| {
                    pairs
                        .iter()
                        .chain(&self.requestable)
                        .find(|(k, _)| names_match(k, name))
                        .cloned()
                })
                .collect(),
        };
        if pairs.is_empty() && !self.profile.empty_macro_packets {
            return Ok(());
        }
        Command::Macro(Macros::new(stage, pairs)?).encode(out)
    }

    /// The macro names the milter asked for at `stage` with SETSYMLIST, if it did (§3.9).
    /// Postfix sends the end-of-header list before each header and the end-of-message list
    /// before each body chunk.
    fn requested(&self, stage: MacroStage) -> Option<Bytes> {
        let sym = match stage {
            MacroStage::Connect => SymStage::CONNECT,
            MacroStage::Helo => SymStage::HELO,
            MacroStage::Mail => SymStage::ENVFROM,
            MacroStage::Rcpt => SymStage::ENVRCPT,
            MacroStage::Data => SymStage::DATA,
            MacroStage::Header | MacroStage::Eoh => SymStage::EOH,
            MacroStage::Body | MacroStage::Eom => SymStage::EOM,
            MacroStage::Unknown | MacroStage::Other(_) => return None,
        };
        self.symlists
            .iter()
            .find(|l| l.stage == sym)
            .map(|l| l.macros.clone())
    }

    /// Drops requestable values a new envelope step replaces (the last MAIL or RCPT's details).
    pub(super) fn forget_requestable(&mut self, names: &[&str]) {
        self.requestable
            .retain(|(k, _)| !names.iter().any(|n| names_match(k, n.as_bytes())));
    }
}

pub(super) fn pair(k: &str, v: &str) -> (Bytes, Bytes) {
    (
        Bytes::copy_from_slice(k.as_bytes()),
        Bytes::copy_from_slice(v.as_bytes()),
    )
}

/// Profile defaults overridden or extended by the caller's macros.
pub(super) fn merge(
    mut defaults: Vec<(Bytes, Bytes)>,
    user: &[(&str, &str)],
) -> Vec<(Bytes, Bytes)> {
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
