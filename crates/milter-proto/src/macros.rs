//! The macro store with libmilter lifetime semantics (milter-protocol.md §2.4).

use bytes::Bytes;

use crate::{CommandCode, MacroStage};

/// Number of stored stages: CONNECT, HELO, MAIL, RCPT, DATA, EOH, EOM (libmilter order).
const SLOTS: usize = 7;

/// Macros per stage; a lookup walks from the latest stage back to the earliest (§2.4).
///
/// * A MACRO packet replaces the macros of its stage. Postfix's `L` (before each header) is
///   stored as EOH and `B` (before each body chunk) as EOM, the lists they carry; `U` and
///   unknown letters are not stored.
/// * CONNECT, HELO, MAIL and RCPT clear all later stages when they arrive.
/// * QUIT and QUIT_NC clear everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MacroStore {
    stages: [Vec<(Bytes, Bytes)>; SLOTS],
}

impl MacroStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores one MACRO packet's pairs, replacing that stage's previous macros. Returns false
    /// if the stage is not stored (`U`, unknown letters).
    pub fn define(&mut self, stage: MacroStage, pairs: Vec<(Bytes, Bytes)>) -> bool {
        match stage_slot(stage).and_then(|i| self.stages.get_mut(i)) {
            Some(slot) => {
                *slot = pairs;
                true
            }
            None => false,
        }
    }

    /// Called when a command arrives: CONNECT/HELO/MAIL/RCPT clear the later stages (§2.4).
    pub fn command_arrived(&mut self, code: CommandCode) {
        let from = match code {
            CommandCode::Connect => 1,
            CommandCode::Helo => 2,
            CommandCode::Mail => 3,
            CommandCode::Rcpt => 4,
            _ => return,
        };
        for slot in self.stages.iter_mut().skip(from) {
            slot.clear();
        }
    }

    /// Forgets everything (QUIT, QUIT_NC).
    pub fn clear(&mut self) {
        for slot in &mut self.stages {
            slot.clear();
        }
    }

    /// The value of a macro, latest stage first; `x` and `{x}` are the same name (§2.4).
    pub fn get(&self, name: &[u8]) -> Option<&Bytes> {
        self.stages.iter().rev().find_map(|slot| {
            slot.iter()
                .find(|(k, _)| names_match(k, name))
                .map(|(_, v)| v)
        })
    }

    /// The value as UTF-8 text, if it is valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name.as_bytes())
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every stored pair, earliest stage first (for logging).
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.stages.iter().flatten().map(|(k, v)| (k, v))
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.stages.iter().all(Vec::is_empty)
    }
}

/// True if two macro names are equal, treating `x` and `{x}` as the same name (§2.4).
pub fn names_match(a: &[u8], b: &[u8]) -> bool {
    a == b || unbrace(a) == unbrace(b)
}

fn unbrace(n: &[u8]) -> &[u8] {
    match n {
        [b'{', inner @ .., b'}'] => inner,
        other => other,
    }
}

fn stage_slot(stage: MacroStage) -> Option<usize> {
    Some(match stage {
        MacroStage::Connect => 0,
        MacroStage::Helo => 1,
        MacroStage::Mail => 2,
        MacroStage::Rcpt => 3,
        MacroStage::Data => 4,
        MacroStage::Header | MacroStage::Eoh => 5,
        MacroStage::Body | MacroStage::Eom => 6,
        MacroStage::Unknown | MacroStage::Other(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(k: &'static str, v: &'static str) -> (Bytes, Bytes) {
        (
            Bytes::from_static(k.as_bytes()),
            Bytes::from_static(v.as_bytes()),
        )
    }

    #[test]
    fn braces_are_optional_both_ways() {
        let mut m = MacroStore::new();
        m.define(MacroStage::Data, vec![p("i", "Q1")]);
        m.define(MacroStage::Connect, vec![p("{j}", "mx")]);
        assert_eq!(m.get(b"{i}").unwrap(), "Q1");
        assert_eq!(m.get(b"i").unwrap(), "Q1");
        assert_eq!(m.get(b"j").unwrap(), "mx");
        assert_eq!(m.get_str("{j}"), Some("mx"));
        assert!(m.get(b"{}").is_none());
    }

    #[test]
    fn lifetimes_follow_libmilter() {
        let mut m = MacroStore::new();
        m.define(MacroStage::Connect, vec![p("{daemon_name}", "ORIGINATING")]);
        m.command_arrived(CommandCode::Connect);
        m.define(
            MacroStage::Mail,
            vec![p("{auth_authen}", "alice"), p("i", "old")],
        );
        m.command_arrived(CommandCode::Mail);
        m.define(MacroStage::Rcpt, vec![p("{rcpt_addr}", "a@x")]);
        m.command_arrived(CommandCode::Rcpt);
        m.define(MacroStage::Rcpt, vec![p("{rcpt_addr}", "b@x")]);
        m.command_arrived(CommandCode::Rcpt);
        m.define(MacroStage::Eom, vec![p("i", "new")]);
        // at EOM: connect and mail macros still visible, last recipient wins, latest stage first
        assert_eq!(m.get(b"{daemon_name}").unwrap(), "ORIGINATING");
        assert_eq!(m.get(b"{auth_authen}").unwrap(), "alice");
        assert_eq!(m.get(b"{rcpt_addr}").unwrap(), "b@x");
        assert_eq!(m.get(b"i").unwrap(), "new");
        // a new MAIL (its MACRO comes first) clears RCPT..EOM
        m.define(MacroStage::Mail, vec![]);
        m.command_arrived(CommandCode::Mail);
        assert!(m.get(b"{rcpt_addr}").is_none());
        assert!(m.get(b"{auth_authen}").is_none());
        assert!(m.get(b"i").is_none());
        assert_eq!(m.get(b"{daemon_name}").unwrap(), "ORIGINATING");
        // HELO clears MAIL and later, keeps CONNECT
        m.define(MacroStage::Mail, vec![p("x", "1")]);
        m.command_arrived(CommandCode::Helo);
        assert!(m.get(b"x").is_none());
        m.clear();
        assert!(m.is_empty());
    }

    #[test]
    fn postfix_letters_l_b_u() {
        let mut m = MacroStore::new();
        assert!(m.define(MacroStage::Header, vec![p("i", "Q")]));
        assert_eq!(m.get(b"i").unwrap(), "Q");
        assert!(m.define(MacroStage::Body, vec![p("i", "R")]));
        assert_eq!(m.get(b"i").unwrap(), "R");
        assert!(!m.define(MacroStage::Unknown, vec![p("u", "1")]));
        assert!(!m.define(MacroStage::Other(b'Z'), vec![p("z", "1")]));
        assert!(m.get(b"u").is_none());
    }
}
