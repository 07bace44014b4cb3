//! Forward and reverse rewriting (SRS paper §2.7, §3; libsrs2 "Guarded" scheme as in
//! postsrsd 2.x `srs2.c`).

use crate::hash;
use crate::{MAX_HASH_LENGTH, Malformed, SrsConfig, SrsError, TIMESTAMP_SLOTS};

/// Separator between the fields inside an SRS local part (always `=`, libsrs2 `SRSSEP`).
const FIELD_SEP: u8 = b'=';

/// An SRS rewriter: one configuration (secrets, hash length, maximum age, separator, SRS
/// domain, clock). Cheap to share (`Arc<Srs>`); all methods take `&self`.
#[derive(Debug, Clone)]
pub struct Srs {
    config: SrsConfig,
}

/// What [`Srs::forward`] did with a sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarded<T = String> {
    /// The sender, rewritten into our SRS domain.
    Rewritten(T),
    /// The sender needs no rewriting (it is returned unchanged by the caller).
    NotRewritten(NotRewritten),
}

/// Why a sender was left alone. `Display` gives postsrsd's socketmap reason text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotRewritten {
    /// The null reverse-path `<>` (bounces): there is nobody to route back to.
    NullSender,
    /// The address has no `@domain`.
    NoDomain,
    /// The address is already in our SRS domain (and `always_rewrite` is off).
    OwnDomain,
}

impl std::fmt::Display for NotRewritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotRewritten::NullSender | NotRewritten::NoDomain => "No domain.",
            NotRewritten::OwnDomain => "Need not rewrite local domain.",
        })
    }
}

/// True if `address` starts with `SRS0` or `SRS1` (any case) and a separator `=`, `+`, `-`
/// (libsrs2 `SRS_IS_SRS_ADDRESS`).
pub fn is_srs_address(address: &[u8]) -> bool {
    srs_tag(address).is_some()
}

impl Srs {
    /// A rewriter for `config`, after checking it (secrets present, 1 ≤ hash minimum ≤ hash
    /// length ≤ 27, maximum age below 1024 days, plain ASCII SRS domain).
    pub fn new(mut config: SrsConfig) -> Result<Self, SrsError> {
        if config.secrets.is_empty() {
            return Err(SrsError::NoSecrets);
        }
        let (length, minimum) = (config.hash_length, config.hash_minimum);
        if length == 0 || length > MAX_HASH_LENGTH || minimum == 0 || minimum > length {
            return Err(SrsError::InvalidHashLength { length, minimum });
        }
        if u64::from(config.max_age_days) >= TIMESTAMP_SLOTS {
            return Err(SrsError::InvalidMaxAge(config.max_age_days));
        }
        config.srs_domain = normalize_domain(&config.srs_domain)?;
        Ok(Srs { config })
    }

    /// The configuration in use (its `Debug` redacts the secrets).
    pub fn config(&self) -> &SrsConfig {
        &self.config
    }

    /// Our SRS domain (without a leading `@` or `.`).
    pub fn srs_domain(&self) -> &str {
        &self.config.srs_domain
    }

    /// `domain` is our SRS domain: in any case, with or without a trailing dot (RFC 5321
    /// §2.3.5, RFC 1034 §3.1); the milter, the socketmap and the CLI decide alike.
    pub fn is_srs_domain(&self, domain: &(impl AsRef<[u8]> + ?Sized)) -> bool {
        let domain = domain.as_ref();
        let domain = domain.strip_suffix(b".").unwrap_or(domain);
        domain.eq_ignore_ascii_case(self.srs_domain().as_bytes())
    }

    /// At most how many bytes forwarding adds to an address (RFC 5321 §4.5.3.1.3 aside):
    /// `SRS0=`, the hash, the time stamp, the separators, `@` and our SRS domain, with room
    /// for the quotes of a local part that needs them. An address this much longer than a
    /// key bound may be one we made from a key within it.
    pub fn wrapping_len(&self) -> usize {
        self.config.hash_length + 32 + self.srs_domain().len()
    }

    /// Today's day number from the configured clock.
    pub fn today(&self) -> u64 {
        self.config.clock.today()
    }

    /// Rewrites an envelope sender for forwarding through `srs_domain` (libsrs2
    /// `srs_forward`): `user@host` → `SRS0=HHHH=TT=host=user@srs_domain`; a foreign
    /// `SRS0=opaque@host2` → `SRS1=HHHH=host2==opaque@srs_domain`; a foreign
    /// `SRS1=X=host1==opaque@host2` → `SRS1=HHHH=host1==opaque@srs_domain`.
    ///
    /// `srs_domain` may be given as `user@domain`; everything up to the last `@` is dropped.
    /// Errors only for a malformed foreign SRS1 sender.
    pub fn forward(&self, sender: &str, srs_domain: &str) -> Result<Forwarded, SrsError> {
        Ok(
            match self.forward_bytes(sender.as_bytes(), srs_domain.as_bytes())? {
                Forwarded::Rewritten(bytes) => Forwarded::Rewritten(into_string(bytes)),
                Forwarded::NotRewritten(why) => Forwarded::NotRewritten(why),
            },
        )
    }

    /// [`Srs::forward`] on raw bytes (8-bit local parts are kept as they are).
    pub fn forward_bytes(
        &self,
        sender: &[u8],
        srs_domain: &[u8],
    ) -> Result<Forwarded<Vec<u8>>, SrsError> {
        if sender.is_empty() {
            return Ok(Forwarded::NotRewritten(NotRewritten::NullSender));
        }
        let alias = after_last_at(srs_domain);
        let Some((user, host)) = split_at_last_at(sender) else {
            return Ok(Forwarded::NotRewritten(NotRewritten::NoDomain));
        };
        if !self.config.always_rewrite && host.eq_ignore_ascii_case(alias) {
            return Ok(Forwarded::NotRewritten(NotRewritten::OwnDomain));
        }
        let out = match srs_tag(user) {
            Some((SrsKind::Srs1, rest)) => self.srs1_from_srs1(rest, alias)?,
            Some((SrsKind::Srs0, _)) => {
                // Keep the foreign SRS0 opaque part including its separator ("=opaque").
                let opaque = user.get(4..).unwrap_or_default();
                self.compile_srs1(host, opaque, alias)
            }
            None => self.compile_srs0(host, user, alias),
        };
        Ok(Forwarded::Rewritten(out))
    }

    /// Recovers the original address from an SRS address (libsrs2 `srs_reverse`):
    /// `SRS0=HHHH=TT=host=user@any` → `user@host` after checking timestamp, then hash;
    /// `SRS1=HHHH=host==opaque@any` → `SRS0=opaque@host` after checking the hash.
    ///
    /// The domain after the last `@` is not looked at (as in postsrsd): callers that only
    /// accept addresses of their own domain check it themselves.
    pub fn reverse(&self, address: &str) -> Result<String, SrsError> {
        self.reverse_bytes(address.as_bytes()).map(into_string)
    }

    /// [`Srs::reverse`] on raw bytes.
    pub fn reverse_bytes(&self, address: &[u8]) -> Result<Vec<u8>, SrsError> {
        let user = split_at_last_at(address).map_or(address, |(user, _)| user);
        let (kind, rest) = srs_tag(user).ok_or(SrsError::NotSrs)?;
        let out = match kind {
            SrsKind::Srs0 => self.parse_srs0(rest)?,
            SrsKind::Srs1 => self.parse_srs1(rest)?,
        };
        // postsrsd's database mode writes `SRS0=HHHH=TT=1=KEY`: the "host" is the literal 1.
        if split_at_last_at(&out).is_some_and(|(_, host)| host == b"1") {
            return Err(SrsError::DatabaseAlias);
        }
        Ok(out)
    }

    /// `SRS0<sep>HHHH=TT=host=user@alias` for an ordinary sender.
    fn compile_srs0(&self, host: &[u8], user: &[u8], alias: &[u8]) -> Vec<u8> {
        let stamp = hash::timestamp(self.today());
        let hash = self.create_hash(&[&stamp, host, user]);
        let mut out = self.start(
            b"SRS0",
            &hash,
            capacity(&[host.len(), user.len(), alias.len(), 8]),
        );
        out.extend_from_slice(&stamp);
        for part in [host, user] {
            out.push(FIELD_SEP);
            out.extend_from_slice(part);
        }
        out.push(b'@');
        out.extend_from_slice(alias);
        out
    }

    /// `SRS1<sep>HHHH=host=opaque@alias`, with `opaque` starting with the SRS0 separator.
    fn compile_srs1(&self, host: &[u8], opaque: &[u8], alias: &[u8]) -> Vec<u8> {
        let hash = self.create_hash(&[host, opaque]);
        let mut out = self.start(
            b"SRS1",
            &hash,
            capacity(&[host.len(), opaque.len(), alias.len(), 2]),
        );
        out.extend_from_slice(host);
        out.push(FIELD_SEP);
        out.extend_from_slice(opaque);
        out.push(b'@');
        out.extend_from_slice(alias);
        out
    }

    /// Re-forwards a foreign SRS1 local part (`rest` = after `SRS1<sep>`): keeps the first
    /// forwarder's host and opaque part, re-hashes with our secret.
    fn srs1_from_srs1(&self, rest: &[u8], alias: &[u8]) -> Result<Vec<u8>, SrsError> {
        let (_hash, host, opaque) = split_srs1(rest)?;
        Ok(self.compile_srs1(host, opaque, alias))
    }

    /// Checks and unpacks an SRS0 local part (`rest` = after `SRS0<sep>`) into `user@host`.
    fn parse_srs0(&self, rest: &[u8]) -> Result<Vec<u8>, SrsError> {
        if rest.is_empty() {
            return Err(SrsError::Malformed(Malformed::NoSrs0Hash));
        }
        let (hash, rest) = split_field(rest).ok_or(Malformed::NoSrs0Timestamp)?;
        let (stamp, rest) = split_field(rest).ok_or(Malformed::NoSrs0Host)?;
        let (host, user) = split_field(rest).ok_or(Malformed::NoSrs0User)?;
        hash::check_timestamp(stamp, self.today(), self.config.max_age_days)?;
        self.check_hash(hash, &[stamp, host, user])?;
        let mut out = Vec::with_capacity(capacity(&[user.len(), host.len(), 1]));
        out.extend_from_slice(user);
        out.push(b'@');
        out.extend_from_slice(host);
        Ok(out)
    }

    /// Checks and unpacks an SRS1 local part (`rest` = after `SRS1<sep>`) into
    /// `SRS0<opaque>@host`.
    fn parse_srs1(&self, rest: &[u8]) -> Result<Vec<u8>, SrsError> {
        let (hash, host, opaque) = split_srs1(rest)?;
        self.check_hash(hash, &[host, opaque])?;
        let mut out = Vec::with_capacity(capacity(&[opaque.len(), host.len(), 5]));
        out.extend_from_slice(b"SRS0");
        out.extend_from_slice(opaque);
        out.push(b'@');
        out.extend_from_slice(host);
        Ok(out)
    }

    /// The beginning of a new address: tag, separator, hash, `=`.
    fn start(&self, tag: &[u8], hash: &str, more: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity(&[tag.len(), hash.len(), 2, more]));
        out.extend_from_slice(tag);
        out.push(self.config.separator.as_byte());
        out.extend_from_slice(hash.as_bytes());
        out.push(FIELD_SEP);
        out
    }

    /// A new hash over `fields` with the signing secret.
    fn create_hash(&self, fields: &[&[u8]]) -> String {
        let c = &self.config;
        hash::create(&c.secrets, fields, c.hash_length, c.hash_encoding)
    }

    /// Checks a given hash over `fields` against all secrets.
    fn check_hash(&self, given: &[u8], fields: &[&[u8]]) -> Result<(), SrsError> {
        let c = &self.config;
        hash::check(&c.secrets, given, fields, c.hash_length, c.hash_minimum)
    }
}

impl From<Malformed> for SrsError {
    fn from(m: Malformed) -> Self {
        SrsError::Malformed(m)
    }
}

/// SRS0 or SRS1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SrsKind {
    /// `SRS0`: original host and user (or a foreign opaque part).
    Srs0,
    /// `SRS1`: first forwarder's host and its SRS0 opaque part.
    Srs1,
}

/// Recognizes `SRS0`/`SRS1` (any case) plus one separator; returns the kind and the rest.
fn srs_tag(local: &[u8]) -> Option<(SrsKind, &[u8])> {
    let (head, rest) = local.split_at_checked(5)?;
    let [s, r, s2, digit, sep] = head else {
        return None;
    };
    if !s.eq_ignore_ascii_case(&b'S')
        || !r.eq_ignore_ascii_case(&b'R')
        || !s2.eq_ignore_ascii_case(&b'S')
    {
        return None;
    }
    if !matches!(sep, b'=' | b'+' | b'-') {
        return None;
    }
    match digit {
        b'0' => Some((SrsKind::Srs0, rest)),
        b'1' => Some((SrsKind::Srs1, rest)),
        _ => None,
    }
}

/// The hash, host and opaque part of an SRS1 local part.
type Srs1Fields<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Splits an SRS1 body (after `SRS1<sep>`) into hash, host and opaque part.
fn split_srs1(rest: &[u8]) -> Result<Srs1Fields<'_>, SrsError> {
    if rest.is_empty() {
        return Err(Malformed::NoSrs1Hash.into());
    }
    let (hash, rest) = split_field(rest).ok_or(Malformed::NoSrs1Host)?;
    let (host, opaque) = split_field(rest).ok_or(Malformed::NoSrs1User)?;
    Ok((hash, host, opaque))
}

/// A buffer size: the saturating sum of `parts`.
fn capacity(parts: &[usize]) -> usize {
    parts.iter().fold(0, |acc, &n| acc.saturating_add(n))
}

/// Splits at the first `=`: the field before it and everything after it.
fn split_field(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let pos = s.iter().position(|&b| b == FIELD_SEP)?;
    Some((s.get(..pos)?, s.get(pos + 1..)?))
}

/// Splits an address at its last `@` into local part and domain.
fn split_at_last_at(address: &[u8]) -> Option<(&[u8], &[u8])> {
    let pos = address.iter().rposition(|&b| b == b'@')?;
    Some((address.get(..pos)?, address.get(pos + 1..)?))
}

/// The part after the last `@`, or all of `s` if it has none.
fn after_last_at(s: &[u8]) -> &[u8] {
    split_at_last_at(s).map_or(s, |(_, domain)| domain)
}

/// Checks and normalizes the configured SRS domain: drop up to the last `@` and a leading
/// `.`, then require a plain ASCII host name (letters, digits, `-`, `.`).
fn normalize_domain(domain: &str) -> Result<String, SrsError> {
    let d = domain.rsplit('@').next().unwrap_or(domain);
    let d = d.strip_prefix('.').unwrap_or(d);
    let ok = !d.is_empty()
        && !d.starts_with('.')
        && !d.ends_with('.')
        && !d.contains("..")
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(d.to_owned())
    } else {
        Err(SrsError::InvalidSrsDomain(domain.to_owned()))
    }
}

/// Bytes built from UTF-8 pieces split on ASCII bytes are UTF-8; lossy conversion never
/// changes them (and cannot panic).
fn into_string(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}
