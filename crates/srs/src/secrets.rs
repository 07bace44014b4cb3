//! SRS secrets: parsing a secrets file, generating a new secret, redacted Debug.

use std::fmt;

use base64::Engine as _;

use crate::SrsError;

/// Random bytes behind a [`generate_secret`] secret (192 bits or more is plenty for HMAC-SHA1).
const GENERATED_SECRET_BYTES: usize = 32;

/// The HMAC-SHA1 keys of an [`crate::Srs`]: the first signs, all verify.
///
/// Never empty. `Debug` prints only the count, never a key; the bytes are overwritten with
/// zeros when the value is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    keys: Vec<Vec<u8>>,
}

/// The most bytes postsrsd reads of a secrets file's line at once (`fgets` into 1024 bytes).
const POSTSRSD_LINE_BYTES: usize = 1023;

impl Secrets {
    /// Secrets from a list of keys, first one signing; `SrsError::NoSecrets` if there is none
    /// or one is empty.
    pub fn new<I, K>(keys: I) -> Result<Self, SrsError>
    where
        I: IntoIterator<Item = K>,
        K: Into<Vec<u8>>,
    {
        let keys: Vec<Vec<u8>> = keys.into_iter().map(Into::into).collect();
        if keys.is_empty() || keys.iter().any(Vec::is_empty) {
            return Err(SrsError::NoSecrets);
        }
        Ok(Secrets { keys })
    }

    /// Parses a secrets file given as bytes: one secret per line, surrounding ASCII
    /// whitespace trimmed, blank lines and lines starting with `#` ignored. A line ends at LF
    /// or CR: postsrsd cuts a secret at the first of either, so a CR inside a line must not
    /// become part of the key (or neither side verifies the other's addresses). postsrsd reads
    /// a line in pieces of at most 1023 bytes (`fgets` into 1024): a longer line signs with its
    /// first 1023 bytes, and the rest is read as the next secrets.
    pub fn parse(text: &[u8]) -> Result<Self, SrsError> {
        let keys = text
            .split(|&b| b == b'\n')
            .flat_map(|line| line.chunks(POSTSRSD_LINE_BYTES))
            .flat_map(|piece| piece.split(|&b| b == b'\r'))
            .map(<[u8]>::trim_ascii)
            .filter(|line| !line.is_empty() && !line.starts_with(b"#"))
            .map(<[u8]>::to_vec);
        Secrets::new(keys)
    }

    /// The number of secrets.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The length in bytes of the signing (first) secret, for strength checks (SRS paper
    /// §4.2: the hash is only as strong as the secret).
    pub fn signing_len(&self) -> usize {
        self.signing().len()
    }

    /// Always false: a `Secrets` holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The signing key (the first one).
    pub(crate) fn signing(&self) -> &[u8] {
        self.keys.first().map(Vec::as_slice).unwrap_or_default()
    }

    /// All keys, signing key first.
    pub(crate) fn all(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.iter().map(Vec::as_slice)
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets([REDACTED; {}])", self.keys.len())
    }
}

impl Drop for Secrets {
    fn drop(&mut self) {
        for key in &mut self.keys {
            key.fill(0);
            std::hint::black_box(&key);
        }
    }
}

/// Parses the text of a secrets file (see [`Secrets::parse`]); an empty file is an error.
pub fn load_secrets(text: &str) -> Result<Secrets, SrsError> {
    Secrets::parse(text.as_bytes())
}

/// A new random secret: base64 (no padding) of 32 bytes from the system RNG, one line for
/// a secrets file.
pub fn generate_secret() -> Result<String, SrsError> {
    let mut raw = [0u8; GENERATED_SECRET_BYTES];
    crypto::default_provider()
        .fill_random(&mut raw)
        .map_err(|_| SrsError::Random)?;
    let secret = base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw);
    raw.fill(0);
    std::hint::black_box(&raw);
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_skips_comments_blanks_and_trims() {
        let s =
            load_secrets("# rotated 2026-11\n\n  new-secret \r\n#old\nold-secret\n\t\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.signing(), b"new-secret");
        let all: Vec<&[u8]> = s.all().collect();
        assert_eq!(all, vec![&b"new-secret"[..], &b"old-secret"[..]]);
    }

    /// postsrsd ends a secret at the first CR as well as LF (1.x `strtok(line, "\r\n")`,
    /// 2.x `strpbrk(line, "\r\n")`): a CR inside a line, or a file with CR line ends, must
    /// give the same signing key, or none of the other's addresses verify after a switch.
    #[test]
    fn a_carriage_return_ends_a_secret_as_in_postsrsd() {
        let s = load_secrets("new-secret\rold-secret\n").unwrap();
        let all: Vec<&[u8]> = s.all().collect();
        assert_eq!(all, vec![&b"new-secret"[..], &b"old-secret"[..]]);
        let s = load_secrets("new-secret\rold-secret\r").unwrap();
        let all: Vec<&[u8]> = s.all().collect();
        assert_eq!(all, vec![&b"new-secret"[..], &b"old-secret"[..]]);
        let s = load_secrets("\r\r\nonly\r\r\n").unwrap();
        assert_eq!(s.all().collect::<Vec<_>>(), vec![&b"only"[..]]);
    }

    /// postsrsd reads a secrets line with `fgets` into 1024 bytes: a line of 1100 bytes signs
    /// with its first 1023 and the rest is the next secret. Read whole, its addresses differed
    /// from postsrsd's and postsrsd's bounces failed after a switch.
    #[test]
    fn a_long_line_is_read_in_pieces_as_postsrsd_reads_it() {
        let line = "K".repeat(1100);
        let s = load_secrets(&format!("{line}\nold\n")).unwrap();
        let all: Vec<&[u8]> = s.all().collect();
        assert_eq!(
            all,
            vec![&line.as_bytes()[..1023], &line.as_bytes()[1023..], b"old"]
        );
        // a line of exactly 1023 bytes is one secret
        let exact = "k".repeat(1023);
        let s = load_secrets(&format!("{exact}\n")).unwrap();
        assert_eq!(s.all().collect::<Vec<_>>(), vec![exact.as_bytes()]);
    }

    #[test]
    fn empty_file_is_an_error() {
        assert_eq!(load_secrets(""), Err(SrsError::NoSecrets));
        assert_eq!(
            load_secrets("# only a comment\n\n  \n"),
            Err(SrsError::NoSecrets)
        );
        assert_eq!(
            Secrets::new(Vec::<Vec<u8>>::new()),
            Err(SrsError::NoSecrets)
        );
        assert_eq!(Secrets::new(vec![""]), Err(SrsError::NoSecrets));
    }

    #[test]
    fn debug_never_prints_secrets() {
        let s = load_secrets("tops3cr3t\nanother-one\n").unwrap();
        let dbg = format!("{s:?} {s:#?}");
        assert!(!dbg.contains("tops3cr3t"), "{dbg}");
        assert!(!dbg.contains("another"), "{dbg}");
        assert!(dbg.contains("REDACTED; 2"), "{dbg}");
    }

    #[test]
    fn generated_secrets_are_random_and_parse_back() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(!a.starts_with('#') && !a.contains(char::is_whitespace));
        let s = load_secrets(&format!("{a}\n{b}\n")).unwrap();
        assert_eq!(s.signing(), a.as_bytes());
    }
}
