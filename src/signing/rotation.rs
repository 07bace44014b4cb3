//! What DNS says about each signing key, and safe key rotation.
//!
//! Every `dkim.key_check_interval` (and at once at start and after a reload) each key's record
//! is fetched and compared with the key ([`dkim::test_key`]). A key whose record is missing,
//! holds another key, is revoked, or restricts the key so that our signatures would fail
//! (`h=`, `s=`) does not sign until a later check finds it fixed. A key with
//! `state = "next"` signs only once DNS has served exactly its public key, check after check
//! without a break, for `dkim.publish_wait`; it is then *promoted*, and every active key of the
//! same domain and key type (and one an earlier rotation promoted) is *retired by rotation*: it
//! gives way to the newest usable key of its chain of successors (also in signing rules that
//! name it), and signs again only if none of them is usable.
//! Promotions and retirements are written to `dkim.state_file`, so a restart does not restart
//! the wait; everything else is learned again from DNS at start.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use dkim::TestKeyOutcome;
use dns::Resolver;
use serde::{Deserialize, Serialize};

use super::{LoadedKey, SigningKeys, describe};
use crate::config::KeyState;

/// Seconds since the Unix epoch (the key checker's clock; tests pass their own).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A key's identity across reloads and restarts: its name, DNS name and public key. A key
/// file replaced behind the same name is a new key (checked and waited for afresh).
pub fn fingerprint(id: &str, selector: &str, domain: &str, key: &dyn crypto::SigningKey) -> String {
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key_dns());
    format!("{id} {} {public}", dkim::key_name(selector, domain))
}

/// What the last checks said about a key's DNS record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DnsStatus {
    /// Not checked yet (or only temporary DNS failures so far).
    #[default]
    Unchecked,
    /// Exactly this key, usable for our signatures, at every check since `since`.
    Published {
        /// Unix time of the first check of this unbroken run, moved forward by the time DNS
        /// did not answer (that time does not count towards `publish_wait`).
        since: u64,
    },
    /// The record is missing, different, revoked, restricted or invalid.
    Problem {
        /// What is wrong, in words.
        what: String,
    },
}

/// What is known about one key.
#[derive(Debug, Clone, Default)]
struct KeyStatus {
    dns: DnsStatus,
    /// A `next` key that signs now: when it was promoted.
    promoted_at: Option<u64>,
    /// An active key retired by rotation: its successor's fingerprint.
    retired_by: Option<String>,
    /// While published: the first check since the last answered one that DNS did not answer.
    /// The time from then to the next answered check does not count towards `publish_wait`.
    unanswered_since: Option<u64>,
    /// Messages this key should have signed but did not because of a DNS problem.
    refused: u64,
}

/// One key as [`SigningKeys::report`] shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyReport {
    /// The key's name.
    pub id: String,
    /// `selector._domainkey.domain`.
    pub record: String,
    /// The configured state (`active`, `next`, `retired`).
    pub state: KeyState,
    /// Whether it signs now (for the domains its rules give it).
    pub signing: bool,
    /// `unchecked`, `published` or the problem.
    pub dns: String,
    /// Messages it did not sign because of a DNS problem.
    pub refused: u64,
}

/// The shared, lock-protected record of every key's status.
#[derive(Debug, Default)]
pub struct Board {
    keys: Mutex<HashMap<String, KeyStatus>>,
    state_file: Mutex<Option<PathBuf>>,
    /// The state file is read but never written (`authmilter eval`: it belongs to serve).
    read_only: std::sync::atomic::AtomicBool,
}

/// `dkim.state_file`: promotions and retirements, by fingerprint.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    version: u32,
    keys: HashMap<String, SavedKey>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SavedKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    promoted_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired_by: Option<String>,
}

impl Board {
    /// An empty board that remembers promotions in `state_file`.
    pub fn new(state_file: Option<PathBuf>) -> Self {
        Board {
            keys: Mutex::new(HashMap::new()),
            state_file: Mutex::new(state_file),
            read_only: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// From now on promotions and retirements are kept in memory only: the state file is
    /// serve's, and an offline evaluation must not change what the milter does next.
    pub fn never_save(&self) {
        self.read_only
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, KeyStatus>> {
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads remembered promotions and retirements of `keys` from the state file. A missing
    /// file is normal; an unreadable or broken one is a warning.
    pub fn restore(&self, keys: &[LoadedKey]) {
        let Some(path) = self.state_file.lock().ok().and_then(|p| p.clone()) else {
            return;
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(file = %path.display(), "cannot read the DKIM key state: {e}");
                return;
            }
        };
        let saved: Saved = match serde_json::from_str(&text) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(file = %path.display(), "ignoring a broken DKIM key state file: {e}");
                return;
            }
        };
        let mut map = self.lock();
        for k in keys {
            if let Some(s) = saved.keys.get(&k.fingerprint) {
                let status = map.entry(k.fingerprint.clone()).or_default();
                status.promoted_at = s.promoted_at.filter(|_| k.state == KeyState::Next);
                status.retired_by = s
                    .retired_by
                    .clone()
                    .filter(|succ| keys.iter().any(|o| &o.fingerprint == succ));
            }
        }
    }

    /// Takes over `old`'s knowledge of the keys in `fingerprints` (a reload).
    pub fn adopt(&self, old: &Board, fingerprints: &[&str]) {
        let old_map = old.lock().clone();
        let mut map = self.lock();
        for fp in fingerprints {
            if let Some(s) = old_map.get(*fp) {
                let mut s = s.clone();
                if s.retired_by
                    .as_ref()
                    .is_some_and(|succ| !fingerprints.contains(&succ.as_str()))
                {
                    s.retired_by = None;
                }
                map.insert((*fp).to_string(), s);
            }
        }
    }

    /// May `k` sign now (apart from retirement by rotation)?
    fn usable(k: &LoadedKey, map: &HashMap<String, KeyStatus>) -> bool {
        let status = map.get(&k.fingerprint);
        let dns = status.map(|s| &s.dns);
        match k.state {
            KeyState::Retired => false,
            KeyState::Active => !matches!(dns, Some(DnsStatus::Problem { .. })),
            KeyState::Next => {
                status.is_some_and(|s| s.promoted_at.is_some())
                    && matches!(dns, Some(DnsStatus::Published { .. }))
            }
        }
    }

    /// `key` and the keys that retired it by rotation, oldest first: each successor's own
    /// successor is followed (two rotations before milter.toml was edited), at most once per
    /// key so that a cycle in a hand-edited state file ends.
    fn chain<'a>(
        keys: &'a SigningKeys,
        key: &'a LoadedKey,
        map: &HashMap<String, KeyStatus>,
    ) -> Vec<&'a LoadedKey> {
        let mut chain = vec![key];
        let mut current = key;
        while chain.len() <= keys.keys.len() {
            let Some(successor) = map
                .get(&current.fingerprint)
                .and_then(|s| s.retired_by.as_deref())
                .and_then(|fp| keys.by_fingerprint(fp))
            else {
                break;
            };
            if chain.iter().any(|c| c.fingerprint == successor.fingerprint) {
                break;
            }
            chain.push(successor);
            current = successor;
        }
        chain
    }

    /// The keys among `candidates` that sign now, the newest usable successor standing in for
    /// each key rotation retired; counts keys passed over because of a DNS problem.
    pub fn select<'a>(
        &self,
        keys: &'a SigningKeys,
        candidates: Vec<&'a LoadedKey>,
    ) -> Vec<&'a LoadedKey> {
        let mut map = self.lock();
        let mut chosen: Vec<&LoadedKey> = Vec::new();
        for k in candidates {
            let pick = Self::chain(keys, k, &map)
                .into_iter()
                .rev()
                .find(|c| Self::usable(c, &map));
            if pick.is_none()
                && let Some(s) = map.get_mut(&k.fingerprint)
                && matches!(s.dns, DnsStatus::Problem { .. })
            {
                s.refused = s.refused.saturating_add(1);
            }
            if let Some(p) = pick
                && !chosen.iter().any(|c| c.fingerprint == p.fingerprint)
            {
                chosen.push(p);
            }
        }
        chosen
    }

    /// Every key's status.
    pub fn report(&self, keys: &SigningKeys) -> Vec<KeyReport> {
        let map = self.lock();
        keys.keys
            .iter()
            .map(|k| {
                let s = map.get(&k.fingerprint).cloned().unwrap_or_default();
                let retired_for = Self::chain(keys, k, &map)
                    .iter()
                    .skip(1)
                    .any(|succ| Self::usable(succ, &map));
                KeyReport {
                    id: k.id.clone(),
                    record: dkim::key_name(&k.selector, &k.domain),
                    state: k.state,
                    signing: Self::usable(k, &map) && !retired_for,
                    dns: match &s.dns {
                        DnsStatus::Unchecked => "unchecked".into(),
                        DnsStatus::Published { .. } => "published".into(),
                        DnsStatus::Problem { what } => what.clone(),
                    },
                    refused: s.refused,
                }
            })
            .collect()
    }

    /// Writes promotions and retirements to the state file (atomically; errors are warnings).
    fn save(&self) {
        if self.read_only.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let Some(path) = self.state_file.lock().ok().and_then(|p| p.clone()) else {
            return;
        };
        let saved = Saved {
            version: 1,
            keys: self
                .lock()
                .iter()
                .filter(|(_, s)| s.promoted_at.is_some() || s.retired_by.is_some())
                .map(|(fp, s)| {
                    (
                        fp.clone(),
                        SavedKey {
                            promoted_at: s.promoted_at,
                            retired_by: s.retired_by.clone(),
                        },
                    )
                })
                .collect(),
        };
        let write = || -> std::io::Result<()> {
            let text = serde_json::to_string_pretty(&saved).map_err(std::io::Error::other)?;
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            tracing::warn!(file = %path.display(), "cannot save the DKIM key state (promotions will be redone after a restart): {e}");
        }
    }
}

/// How soon a key check DNS did not answer is tried again.
const DNS_RETRY: Duration = Duration::from_secs(60);

/// Checks every key that is not retired against DNS at time `now`, records the outcome,
/// promotes `next` keys whose wait is over and retires the keys they replace. Returns how
/// long until the next promotion is due, if a wait is running.
pub async fn check_published(
    keys: &SigningKeys,
    resolver: &dyn Resolver,
    now: u64,
) -> Option<Duration> {
    let mut outcomes = Vec::new();
    for k in keys.keys.iter().filter(|k| k.state != KeyState::Retired) {
        let outcome = dkim::test_key(resolver, &k.selector, &k.domain, k.signer.key()).await;
        outcomes.push((k, outcome));
    }
    let board = &keys.board;
    let mut changed = false;
    let mut due: Option<Duration> = None;
    {
        let mut map = board.lock();
        for (k, outcome) in &outcomes {
            let name = dkim::key_name(&k.selector, &k.domain);
            let status = map.entry(k.fingerprint.clone()).or_default();
            match outcome {
                TestKeyOutcome::Match { testing } => {
                    let unanswered = status.unanswered_since.take();
                    if let DnsStatus::Published { since } = &mut status.dns {
                        // docs/dkim.md: a DNS timeout neither counts nor breaks the wait
                        if let Some(failed_at) = unanswered {
                            *since = since.saturating_add(now.saturating_sub(failed_at));
                        }
                    } else {
                        tracing::info!(key = %name, testing, "DKIM key is published in DNS");
                        status.dns = DnsStatus::Published { since: now };
                    }
                }
                // RFC 6376 §3.6.2.2: verifiers may pick another record, or (libopendkim)
                // refuse them all. An active key keeps signing (verifiers that pick ours
                // verify); a next key does not count this as publication
                TestKeyOutcome::SeveralRecords {
                    holds_key: true, ..
                } if k.state == KeyState::Active => {
                    tracing::warn!(key = %name, problem = %describe(outcome), "DKIM key record is ambiguous");
                    if !matches!(status.dns, DnsStatus::Published { .. }) {
                        status.dns = DnsStatus::Published { since: now };
                    }
                }
                // a record one major verifier refuses (dkimpy: `k=RSA`; OpenDKIM: a bare
                // PKCS#1 `p=`) while the others verify: an active key keeps signing, loudly
                // (withdrawn, its mail would be unsigned everywhere); a next key is not promoted
                TestKeyOutcome::Unusable { testing, reason }
                    if k.state == KeyState::Active
                        && matches!(
                            reason,
                            dkim::Reason::KeyTypeCase(_)
                                | dkim::Reason::ServiceListRefused(_)
                                | dkim::Reason::EmptyTagSpec
                                | dkim::Reason::RsaKeyNotSpki
                        ) =>
                {
                    tracing::warn!(key = %name, problem = %reason, "DKIM key record is refused by a major verifier (the others verify it): the key keeps signing; fix the record");
                    if !matches!(status.dns, DnsStatus::Published { .. }) {
                        tracing::info!(key = %name, testing, "DKIM key is published in DNS");
                        status.dns = DnsStatus::Published { since: now };
                    }
                    status.unanswered_since = None;
                }
                TestKeyOutcome::DnsError(e) => {
                    tracing::warn!(key = %name, "could not check the DKIM key in DNS (status unchanged; the time until DNS answers again does not count towards dkim.publish_wait): {e}");
                    if matches!(status.dns, DnsStatus::Published { .. }) {
                        status.unanswered_since.get_or_insert(now);
                    }
                }
                other => {
                    let what = describe(other);
                    tracing::error!(
                        key = %name,
                        problem = %what,
                        "DKIM key in DNS cannot verify our signatures: this key does not sign until the record is fixed"
                    );
                    status.dns = DnsStatus::Problem { what };
                    status.unanswered_since = None;
                    if status.promoted_at.take().is_some() {
                        changed = true;
                    }
                }
            }
        }
        // a check DNS did not answer is tried again soon (at boot the resolver may not be up
        // yet), not at the next key_check_interval
        if outcomes
            .iter()
            .any(|(_, o)| matches!(o, TestKeyOutcome::DnsError(_)))
        {
            due = Some(due.map_or(DNS_RETRY, |d| d.min(DNS_RETRY)));
        }
        // promotions
        let wait = keys.publish_wait.as_secs();
        for k in keys.keys.iter().filter(|k| k.state == KeyState::Next) {
            let Some(status) = map.get_mut(&k.fingerprint) else {
                continue;
            };
            let DnsStatus::Published { since } = status.dns else {
                continue;
            };
            if status.promoted_at.is_some() {
                continue;
            }
            // promote only on a check that saw the record: a DNS failure is not publication
            let seen_now = outcomes.iter().any(|(o, outcome)| {
                o.fingerprint == k.fingerprint && matches!(outcome, TestKeyOutcome::Match { .. })
            });
            // while DNS does not answer the wait stands still (the time is added once it answers)
            let paused = status
                .unanswered_since
                .map_or(0, |failed_at| now.saturating_sub(failed_at));
            let ready_at = since.saturating_add(wait).saturating_add(paused);
            if now < ready_at {
                let left = Duration::from_secs(ready_at - now);
                due = Some(due.map_or(left, |d| d.min(left)));
                tracing::info!(
                    key = %dkim::key_name(&k.selector, &k.domain),
                    remaining_s = ready_at - now,
                    "next DKIM key is published; it signs once DNS has served it for dkim.publish_wait"
                );
                continue;
            }
            if !seen_now {
                continue;
            }
            status.promoted_at = Some(now);
            changed = true;
            let kt = k.signer.key().key_type();
            let mut retired = Vec::new();
            // the keys it replaces: the active ones, and one an earlier rotation promoted that
            // milter.toml still calls next (two rotations before the file was edited)
            let replaced: Vec<&LoadedKey> = keys
                .keys
                .iter()
                .filter(|o| {
                    let promoted = map
                        .get(&o.fingerprint)
                        .is_some_and(|s| s.promoted_at.is_some());
                    // the keys `replaces` names (a key retired at once among them), else
                    // every active one of the domain and type: two purposes, or two next
                    // keys, need `replaces` to stay apart
                    let named = k.replaces.iter().any(|r| r == &o.id);
                    let by_default = k.replaces.is_empty()
                        && (o.state == KeyState::Active || (o.state == KeyState::Next && promoted));
                    (named || by_default)
                        && o.domain == k.domain
                        && o.signer.key().key_type() == kt
                        && o.fingerprint != k.fingerprint
                })
                .collect();
            for old in &replaced {
                let status = map.entry(old.fingerprint.clone()).or_default();
                // a key an earlier rotation retired keeps its successor, which is retired now
                // in turn: the chain old → new → this one gives the next newest key back if
                // this one stops being usable
                let successor_retired_now = status
                    .retired_by
                    .as_ref()
                    .is_some_and(|succ| replaced.iter().any(|r| &r.fingerprint == succ));
                if !successor_retired_now {
                    status.retired_by = Some(k.fingerprint.clone());
                }
                retired.push(old.id.clone());
            }
            tracing::info!(
                key = %k.id,
                domain = %k.domain,
                retired = ?retired,
                "rotated DKIM key now signs; the keys it replaces are retired (set their state to \"retired\", and this key's to \"active\", in milter.toml)"
            );
        }
    }
    if changed {
        board.save();
    }
    due
}

#[cfg(test)]
mod tests;
