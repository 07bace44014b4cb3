//! MACRO packets and the macro store with libmilter lifetime semantics (milter-protocol.md
//! §2.4).

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::check_cstr;
use crate::error::ProtocolError;
use crate::{CommandCode, MacroStage};

/// The payload of a MACRO packet (§2.4): its stage and its name/value list, kept as the
/// NUL-terminated strings it arrived as and read when asked. Postfix sends one before every
/// header and body chunk; keeping the list whole costs no allocation per packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macros {
    /// The command these macros belong to (any byte is accepted).
    pub stage: MacroStage,
    /// `name NUL value NUL …`, every string NUL-terminated.
    list: Bytes,
}

impl Macros {
    /// A packet for `stage` with these name/value pairs (names as sent: `i` or `{i}`); fails
    /// if a name or value contains NUL, which the wire cannot carry (§1.3).
    pub fn new<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        stage: MacroStage,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ProtocolError> {
        let mut list = BytesMut::new();
        for (k, v) in pairs {
            let (k, v) = (k.as_ref(), v.as_ref());
            check_cstr("macro name", k)?;
            check_cstr("macro value", v)?;
            list.put_slice(k);
            list.put_u8(0);
            list.put_slice(v);
            list.put_u8(0);
        }
        Ok(Macros {
            stage,
            list: list.freeze(),
        })
    }

    /// A packet for `stage` that defines nothing (Postfix sends these, §2.4).
    pub fn empty(stage: MacroStage) -> Self {
        Macros {
            stage,
            list: Bytes::new(),
        }
    }

    /// The payload after the stage byte: NUL-terminated strings taken two by two; as in
    /// libmilter a trailing NUL does not start an empty string, and an unterminated last
    /// string is kept (§2.4).
    pub(crate) fn from_list(stage: MacroStage, list: Bytes) -> Self {
        let list = match list.last() {
            // An empty slice of the read buffer would still hold the whole buffer: the store
            // keeps a packet until the next one of its stage (Postfix sends empty ones).
            None => Bytes::new(),
            Some(0) => list,
            Some(_) => {
                let mut terminated = BytesMut::with_capacity(list.len() + 1);
                terminated.put_slice(&list);
                terminated.put_u8(0);
                terminated.freeze()
            }
        };
        Macros { stage, list }
    }

    /// The strings as they go on the wire, each NUL-terminated.
    pub(crate) fn wire_list(&self) -> &[u8] {
        &self.list
    }

    /// The name/value pairs in order; an odd trailing name has the value `""` (§2.4).
    pub fn pairs(&self) -> MacroPairs<'_> {
        MacroPairs { rest: &self.list }
    }

    /// How many pairs the packet defines.
    pub fn len(&self) -> usize {
        self.list.iter().filter(|&&b| b == 0).count().div_ceil(2)
    }

    /// True if the packet defines nothing.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The value of a macro in this packet; `x` and `{x}` match each other (§2.4).
    pub fn get(&self, name: &[u8]) -> Option<Bytes> {
        find(self.pairs(), name).map(|v| self.list.slice_ref(v))
    }
}

/// The name/value pairs of a [`Macros`] packet (§2.4).
#[derive(Debug, Clone)]
pub struct MacroPairs<'a> {
    rest: &'a [u8],
}

impl<'a> MacroPairs<'a> {
    fn string(&mut self) -> &'a [u8] {
        let rest = self.rest;
        match rest.iter().position(|&b| b == 0) {
            Some(nul) => {
                self.rest = rest.get(nul + 1..).unwrap_or_default();
                rest.get(..nul).unwrap_or_default()
            }
            None => {
                self.rest = &[];
                rest
            }
        }
    }
}

impl<'a> Iterator for MacroPairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let name = self.string();
        let value = self.string();
        Some((name, value))
    }
}

/// The value of the first pair named `name` (`x` ≡ `{x}`).
fn find<'a>(mut pairs: MacroPairs<'a>, name: &[u8]) -> Option<&'a [u8]> {
    pairs.find(|(k, _)| names_match(k, name)).map(|(_, v)| v)
}

/// Number of stored stages: CONNECT, HELO, MAIL, RCPT, DATA, EOH, EOM (libmilter order).
const SLOTS: usize = 7;

/// Macros per stage; a lookup walks from the latest stage back to the earliest (§2.4).
///
/// * A MACRO packet replaces the macros of its stage. Postfix's `L` (before each header) is
///   stored as EOH and `B` (before each body chunk) as EOM, the lists they carry; `U` and
///   unknown letters are not stored.
/// * CONNECT, HELO, MAIL and RCPT clear all later stages when they arrive, and their own
///   stage too unless its MACRO packet came right before them: an MTA sends no packet when
///   no requested macro has a value (Sendmail), and the previous message's MAIL macros
///   (`{auth_authen}`, `i`) must not be read as this message's.
/// * QUIT and QUIT_NC clear everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MacroStore {
    /// Each stage's MACRO packet as it came (its NUL-terminated list).
    stages: [Bytes; SLOTS],
    /// The stage whose MACRO packet came since the last command, if any.
    fresh: Option<usize>,
}

impl MacroStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores one MACRO packet, replacing its stage's previous macros; past 64 pairs or
    /// 16 KiB the rest is not kept (every lookup reads the stored pairs, and CONNECT's and
    /// HELO's stay for the connection).
    /// Returns false if the stage is not stored (`U`, unknown letters).
    pub fn define(&mut self, macros: Macros) -> bool {
        match stage_slot(macros.stage).and_then(|i| self.stages.get_mut(i)) {
            Some(slot) => {
                *slot = kept_prefix(macros.list);
                self.fresh = stage_slot(macros.stage);
                true
            }
            None => false,
        }
    }

    /// Called when a command arrives: CONNECT/HELO/MAIL/RCPT clear the later stages, and
    /// their own unless its MACRO packet came right before (§2.4, type docs).
    pub fn command_arrived(&mut self, code: CommandCode) {
        if code == CommandCode::Macro {
            return;
        }
        let fresh = self.fresh.take();
        let own = match code {
            CommandCode::Connect => 0,
            CommandCode::Helo => 1,
            CommandCode::Mail => 2,
            CommandCode::Rcpt => 3,
            _ => return,
        };
        let from = if fresh == Some(own) { own + 1 } else { own };
        for slot in self.stages.iter_mut().skip(from) {
            *slot = Bytes::new();
        }
    }

    /// Forgets everything (QUIT, QUIT_NC).
    pub fn clear(&mut self) {
        for slot in &mut self.stages {
            *slot = Bytes::new();
        }
        self.fresh = None;
    }

    /// The value of a macro, latest stage first; `x` and `{x}` are the same name (§2.4).
    pub fn get(&self, name: &[u8]) -> Option<Bytes> {
        self.stages
            .iter()
            .rev()
            .find_map(|slot| find(MacroPairs { rest: slot }, name).map(|v| slot.slice_ref(v)))
    }

    /// The value as UTF-8 text, if it is valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.stages
            .iter()
            .rev()
            .find_map(|slot| find(MacroPairs { rest: slot }, name.as_bytes()))
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every stored pair, earliest stage first (for logging).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.stages
            .iter()
            .flat_map(|slot| MacroPairs { rest: slot })
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.stages.iter().all(Bytes::is_empty)
    }
}

/// Most macro pairs one stage keeps: an MTA sends a handful (Postfix's `milter_*_macros`
/// lists hold 2 to 9 a stage).
pub const MAX_STORED_PAIRS: usize = 64;

/// Most bytes one stage keeps.
pub const MAX_STORED_BYTES: usize = 16 * 1024;

/// The leading whole pairs of `list` within [`MAX_STORED_PAIRS`] and [`MAX_STORED_BYTES`].
fn kept_prefix(list: Bytes) -> Bytes {
    // the usual packet, a few short pairs: one vectorized count, no walk
    if list.len() <= MAX_STORED_BYTES
        && list.iter().filter(|&&b| b == 0).count() <= 2 * MAX_STORED_PAIRS
    {
        return list;
    }
    let mut nuls = 0;
    let mut end = 0;
    for (i, &b) in list.iter().enumerate().take(MAX_STORED_BYTES) {
        if b == 0 {
            nuls += 1;
            if nuls % 2 == 0 {
                end = i + 1;
                if nuls / 2 == MAX_STORED_PAIRS {
                    break;
                }
            }
        }
    }
    if end == list.len() || (list.len() <= MAX_STORED_BYTES && nuls / 2 < MAX_STORED_PAIRS) {
        // everything fits (an odd trailing name included)
        return list;
    }
    // a copy: a view would keep the whole packet (up to max_packet_size) alive
    Bytes::copy_from_slice(list.get(..end).unwrap_or_default())
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

    fn packet(stage: MacroStage, pairs: &[(&str, &str)]) -> Macros {
        Macros::new(stage, pairs.iter().copied()).unwrap()
    }

    fn listed(list: &'static [u8]) -> Vec<(String, String)> {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Macros::from_list(MacroStage::Mail, Bytes::from_static(list))
            .pairs()
            .map(|(k, v)| (text(k), text(v)))
            .collect()
    }

    /// The list reads as libmilter reads it: pairs in order, a trailing NUL starts no empty
    /// string, an unterminated last string is kept, an odd last name gets `""`.
    #[test]
    fn lists_read_as_libmilter_reads_them() {
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            listed(b"i\0Q1\0{j}\0mx\0"),
            [pair("i", "Q1"), pair("{j}", "mx")]
        );
        assert_eq!(listed(b"i\0Q1"), [pair("i", "Q1")]);
        assert_eq!(listed(b"i\0Q1\0odd\0"), [pair("i", "Q1"), pair("odd", "")]);
        assert_eq!(listed(b"i\0Q1\0odd"), [pair("i", "Q1"), pair("odd", "")]);
        assert_eq!(listed(b"\0"), [pair("", "")]);
        assert_eq!(listed(b"a\0\0"), [pair("a", "")]);
        assert!(listed(b"").is_empty());
        let m = Macros::from_list(MacroStage::Mail, Bytes::from_static(b"i\0Q1\0odd"));
        assert_eq!(m.len(), 2);
        assert_eq!(m.wire_list(), b"i\0Q1\0odd\0");
        assert_eq!(m.get(b"{i}").unwrap(), "Q1");
        assert_eq!(m.get(b"odd").unwrap(), "");
        assert!(m.get(b"j").is_none());
        // the same pairs as a packet that sends the odd name's empty value
        assert!(
            m.pairs()
                .eq(packet(MacroStage::Mail, &[("i", "Q1"), ("odd", "")]).pairs())
        );
        assert!(Macros::new(MacroStage::Mail, [("a\0b", "v")]).is_err());
        assert!(Macros::new(MacroStage::Mail, [("a", "v\0")]).is_err());
        assert!(Macros::empty(MacroStage::Eoh).is_empty());
    }

    #[test]
    fn braces_are_optional_both_ways() {
        let mut m = MacroStore::new();
        m.define(packet(MacroStage::Data, &[("i", "Q1")]));
        m.define(packet(MacroStage::Connect, &[("{j}", "mx")]));
        assert_eq!(m.get(b"{i}").unwrap(), "Q1");
        assert_eq!(m.get(b"i").unwrap(), "Q1");
        assert_eq!(m.get(b"j").unwrap(), "mx");
        assert_eq!(m.get_str("{j}"), Some("mx"));
        assert!(m.get(b"{}").is_none());
    }

    #[test]
    fn lifetimes_follow_libmilter() {
        let mut m = MacroStore::new();
        m.define(packet(
            MacroStage::Connect,
            &[("{daemon_name}", "ORIGINATING")],
        ));
        m.command_arrived(CommandCode::Connect);
        m.define(packet(
            MacroStage::Mail,
            &[("{auth_authen}", "alice"), ("i", "old")],
        ));
        m.command_arrived(CommandCode::Mail);
        m.define(packet(MacroStage::Rcpt, &[("{rcpt_addr}", "a@x")]));
        m.command_arrived(CommandCode::Rcpt);
        m.define(packet(MacroStage::Rcpt, &[("{rcpt_addr}", "b@x")]));
        m.command_arrived(CommandCode::Rcpt);
        m.define(packet(MacroStage::Eom, &[("i", "new")]));
        // at EOM: connect and mail macros still visible, last recipient wins, latest stage first
        assert_eq!(m.get(b"{daemon_name}").unwrap(), "ORIGINATING");
        assert_eq!(m.get(b"{auth_authen}").unwrap(), "alice");
        assert_eq!(m.get(b"{rcpt_addr}").unwrap(), "b@x");
        assert_eq!(m.get(b"i").unwrap(), "new");
        // a new MAIL (its MACRO comes first) clears RCPT..EOM
        m.define(packet(MacroStage::Mail, &[]));
        m.command_arrived(CommandCode::Mail);
        assert!(m.get(b"{rcpt_addr}").is_none());
        assert!(m.get(b"{auth_authen}").is_none());
        assert!(m.get(b"i").is_none());
        assert_eq!(m.get(b"{daemon_name}").unwrap(), "ORIGINATING");
        // HELO clears MAIL and later, keeps CONNECT
        m.define(packet(MacroStage::Mail, &[("x", "1")]));
        m.command_arrived(CommandCode::Helo);
        assert!(m.get(b"x").is_none());
        m.clear();
        assert!(m.is_empty());
    }

    /// An MTA that sends no MACRO packet before a command (Sendmail sends none when no
    /// requested macro has a value) gives that command no macros of its stage: the previous
    /// message's `{auth_authen}` (ours) and `i` do not carry over to the next MAIL, nor a
    /// recipient's macros to the next RCPT.
    #[test]
    fn a_command_without_its_macro_packet_has_none_of_its_stage() {
        let mut m = MacroStore::new();
        m.define(packet(MacroStage::Connect, &[("{daemon_name}", "MTA")]));
        m.command_arrived(CommandCode::Connect);
        m.define(packet(
            MacroStage::Mail,
            &[("{auth_authen}", "alice"), ("i", "Q1")],
        ));
        m.command_arrived(CommandCode::Mail);
        assert_eq!(m.get(b"{auth_authen}").unwrap(), "alice");
        m.define(packet(MacroStage::Rcpt, &[("{rcpt_addr}", "a@x")]));
        m.command_arrived(CommandCode::Rcpt);
        m.command_arrived(CommandCode::Rcpt);
        assert!(m.get(b"{rcpt_addr}").is_none());
        m.command_arrived(CommandCode::BodyEob);
        // the next message: MAIL without a MACRO packet
        m.command_arrived(CommandCode::Mail);
        assert!(m.get(b"{auth_authen}").is_none());
        assert!(m.get(b"i").is_none());
        assert_eq!(m.get(b"{daemon_name}").unwrap(), "MTA");
        // a MACRO packet of another stage in between does not count as this command's
        m.define(packet(MacroStage::Mail, &[("{auth_authen}", "bob")]));
        m.command_arrived(CommandCode::Mail);
        m.define(packet(MacroStage::Connect, &[("{daemon_name}", "MTA")]));
        m.command_arrived(CommandCode::Mail);
        assert!(m.get(b"{auth_authen}").is_none());
    }

    #[test]
    fn postfix_letters_l_b_u() {
        let mut m = MacroStore::new();
        assert!(m.define(packet(MacroStage::Header, &[("i", "Q")])));
        assert_eq!(m.get(b"i").unwrap(), "Q");
        assert!(m.define(packet(MacroStage::Body, &[("i", "R")])));
        assert_eq!(m.get(b"i").unwrap(), "R");
        assert!(!m.define(packet(MacroStage::Unknown, &[("u", "1")])));
        assert!(!m.define(packet(MacroStage::Other(b'Z'), &[("z", "1")])));
        assert!(m.get(b"u").is_none());
    }

    /// A stage keeps at most 64 pairs and 16 KiB: a packet of a hundred thousand pairs is
    /// not read again by every lookup of the connection.
    #[test]
    fn a_stage_keeps_a_bounded_prefix() {
        let many: Vec<(String, String)> = (0..100_000)
            .map(|i| (format!("n{i}"), "v".into()))
            .collect();
        let mut store = MacroStore::new();
        store.define(Macros::new(MacroStage::Connect, many).unwrap());
        assert_eq!(store.iter().count(), MAX_STORED_PAIRS);
        assert_eq!(store.get(b"n63").as_deref(), Some(&b"v"[..]));
        assert_eq!(store.get(b"n64"), None);
        let big = [("j", "x".repeat(20_000)), ("i", "Q1".into())];
        store.define(Macros::new(MacroStage::Helo, big).unwrap());
        assert_eq!(store.get(b"j"), None, "past 16 KiB");
        let few = [("i", "Q2"), ("{auth_authen}", "bob")];
        store.define(Macros::new(MacroStage::Mail, few).unwrap());
        assert_eq!(store.get(b"{i}").as_deref(), Some(&b"Q2"[..]));
        assert_eq!(store.get(b"auth_authen").as_deref(), Some(&b"bob"[..]));
    }

    /// The kept prefix of a large packet is a copy: a view into the packet kept the whole
    /// packet (up to `max_packet_size`, 1 MiB) alive for the connection, seven stages of it.
    #[test]
    fn a_cut_stage_does_not_keep_its_packet_alive() {
        let pairs = [("j", "x".repeat(8 * 1024)), ("k", "y".repeat(1 << 20))];
        let macros = Macros::new(MacroStage::Helo, pairs).unwrap();
        let packet = macros.list.clone();
        let mut store = MacroStore::new();
        store.define(macros);
        let kept = &store.stages[1];
        assert!(kept.len() <= MAX_STORED_BYTES);
        let range = packet.as_ptr_range();
        assert!(
            !range.contains(&kept.as_ptr()),
            "the kept prefix shares the packet's buffer"
        );
        assert_eq!(store.get(b"j").map(|v| v.len()), Some(8 * 1024));
    }
}
