//! The key records one message's signatures need (RFC 6376 §3.6.2.1): each distinct
//! `<s>._domainkey.<d>` name once, with its answer once it came. DKIM verification and ARC
//! validation (RFC 8617 §5.2) both collect them at end of headers and look them up together.

use dns::{DnsError, Resolver};

/// The answer to one key lookup: TXT records (strings joined) or the DNS error.
pub type KeyAnswer = Result<Vec<Vec<u8>>, DnsError>;

/// Key record names in first-use order, each with its answer when it arrived (§3.6.2.1).
#[derive(Debug, Default)]
pub struct KeyLookups {
    slots: Vec<(String, Option<KeyAnswer>)>,
}

impl KeyLookups {
    /// The slot of `name` (a lowercase key record name), added if new (RFC 6376 §3.6.2.1).
    pub fn slot_for(&mut self, name: String) -> usize {
        if let Some(i) = self.slots.iter().position(|(n, _)| *n == name) {
            return i;
        }
        self.slots.push((name, None));
        self.slots.len() - 1
    }

    /// The distinct names to look up, in first-use order (RFC 6376 §3.6.2.1).
    pub fn names(&self) -> Vec<String> {
        self.slots.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Records the TXT answer for `name`, matched without regard to case (RFC 4343); a
    /// name that was never asked for is ignored.
    pub fn set_answer(&mut self, name: &str, answer: KeyAnswer) {
        if let Some((_, slot)) = self
            .slots
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            *slot = Some(answer);
        }
    }

    /// Looks every name up through `resolver`, concurrently, and records the answers
    /// (RFC 6376 §6.1.2).
    pub async fn lookup_all<R: Resolver + ?Sized>(&mut self, resolver: &R) {
        let names = self.names();
        let answers = dns::join_all(names.iter().map(|n| resolver.txt(n)).collect()).await;
        for (name, answer) in names.iter().zip(answers) {
            self.set_answer(name, answer);
        }
    }

    /// The answer in `slot`, if it arrived.
    pub fn answer(&self, slot: usize) -> Option<&KeyAnswer> {
        self.slots.get(slot).and_then(|(_, a)| a.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name gets one slot however often it is used; answers match without regard to case
    /// and an answer for a name never asked for is dropped.
    #[test]
    fn one_slot_per_name_and_case_blind_answers() {
        let mut keys = KeyLookups::default();
        let a = keys.slot_for("s1._domainkey.example.com".into());
        let b = keys.slot_for("s2._domainkey.example.com".into());
        assert_eq!(keys.slot_for("s1._domainkey.example.com".into()), a);
        assert_ne!(a, b);
        assert_eq!(keys.names().len(), 2);
        keys.set_answer(
            "S1._DomainKey.Example.COM",
            Ok(vec![b"v=DKIM1; p=".to_vec()]),
        );
        keys.set_answer("other._domainkey.example.com", Err(DnsError::NxDomain));
        assert!(matches!(keys.answer(a), Some(Ok(records)) if records.len() == 1));
        assert!(keys.answer(b).is_none());
        assert!(keys.answer(7).is_none());
    }
}
