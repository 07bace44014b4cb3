//! Value types of `milter.toml` that describe mail: signature canonicalization, a header line,
//! the SRS separator and an optional socket. Each parses during deserialization, so
//! `authmilter config check` reports a bad value with its key and line even while the feature
//! that uses it is off.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::values::SocketSpec;

/// DKIM canonicalization `header/body` (RFC 6376 §3.4, §3.5 `c=`): `relaxed/relaxed`,
/// `relaxed/simple`, …; a lone word applies to the header, the body stays simple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CanonPair {
    /// Header canonicalization.
    pub header: dkim::Canonicalization,
    /// Body canonicalization.
    pub body: dkim::Canonicalization,
}

impl CanonPair {
    /// `relaxed/relaxed`.
    pub const RELAXED: CanonPair = CanonPair {
        header: dkim::Canonicalization::Relaxed,
        body: dkim::Canonicalization::Relaxed,
    };
}

impl std::str::FromStr for CanonPair {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let one = |w: &str| match w.trim() {
            "simple" => Ok(dkim::Canonicalization::Simple),
            "relaxed" => Ok(dkim::Canonicalization::Relaxed),
            other => Err(format!(
                "unknown canonicalization {other:?} in {s:?}: use simple or relaxed, as \"header/body\""
            )),
        };
        match s.trim().split_once('/') {
            Some((h, b)) => Ok(CanonPair {
                header: one(h)?,
                body: one(b)?,
            }),
            None => Ok(CanonPair {
                header: one(s)?,
                body: dkim::Canonicalization::Simple,
            }),
        }
    }
}

impl TryFrom<String> for CanonPair {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl fmt::Display for CanonPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.header.as_str(), self.body.as_str())
    }
}

impl From<CanonPair> for String {
    fn from(c: CanonPair) -> String {
        c.to_string()
    }
}

/// A header line `Name: value` we add (RFC 5322 §2.2): a valid field name, a value without
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HeaderLine {
    /// The field name.
    pub name: String,
    /// The value (no leading space).
    pub value: String,
}

impl TryFrom<String> for HeaderLine {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (name, value) = s
            .split_once(':')
            .ok_or_else(|| format!("bad header {s:?}: expected \"Name: value\""))?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(format!(
                "bad header name {name:?}: printable ASCII without spaces or colons"
            ));
        }
        if value.contains(|c: char| c.is_control()) {
            return Err(format!(
                "bad header value in {s:?}: one line without control characters"
            ));
        }
        Ok(HeaderLine {
            name: name.to_string(),
            value: value.trim().to_string(),
        })
    }
}

impl From<HeaderLine> for String {
    fn from(h: HeaderLine) -> String {
        format!("{}: {}", h.name, h.value)
    }
}

/// The separator after `SRS0`/`SRS1` (postsrsd `separator`): `=`, `+` or `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SrsSeparator {
    /// `=` (the default).
    Equals,
    /// `+`.
    Plus,
    /// `-`.
    Minus,
}

impl SrsSeparator {
    /// The character.
    pub fn as_char(self) -> char {
        match self {
            SrsSeparator::Equals => '=',
            SrsSeparator::Plus => '+',
            SrsSeparator::Minus => '-',
        }
    }
}

impl TryFrom<String> for SrsSeparator {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "=" => Ok(SrsSeparator::Equals),
            "+" => Ok(SrsSeparator::Plus),
            "-" => Ok(SrsSeparator::Minus),
            other => Err(format!(
                "bad SRS separator {other:?}: use \"=\", \"+\" or \"-\""
            )),
        }
    }
}

impl From<SrsSeparator> for String {
    fn from(s: SrsSeparator) -> String {
        s.as_char().to_string()
    }
}

/// A socket that may be switched off with an empty string (`srs.socketmap = ""`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OptionalSocket(pub Option<SocketSpec>);

impl TryFrom<String> for OptionalSocket {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.trim().is_empty() {
            Ok(OptionalSocket(None))
        } else {
            s.parse().map(|spec| OptionalSocket(Some(spec)))
        }
    }
}

impl From<OptionalSocket> for String {
    fn from(s: OptionalSocket) -> String {
        s.0.map(|spec| spec.to_string()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalizations() {
        assert_eq!(
            "relaxed/relaxed".parse::<CanonPair>(),
            Ok(CanonPair::RELAXED)
        );
        assert_eq!(
            "simple".parse::<CanonPair>().unwrap().to_string(),
            "simple/simple"
        );
        assert!("relaxed/strict".parse::<CanonPair>().is_err());
        assert!("loose".parse::<CanonPair>().is_err());
    }

    #[test]
    fn header_lines() {
        let h = HeaderLine::try_from("X-Spam-Flag: YES".to_string()).unwrap();
        assert_eq!((h.name.as_str(), h.value.as_str()), ("X-Spam-Flag", "YES"));
        assert!(HeaderLine::try_from("no colon".to_string()).is_err());
        assert!(HeaderLine::try_from("X Y: z".to_string()).is_err());
        assert!(HeaderLine::try_from("X: a\r\nBcc: b".to_string()).is_err());
    }

    #[test]
    fn separators_and_sockets() {
        assert_eq!(
            SrsSeparator::try_from("+".to_string()),
            Ok(SrsSeparator::Plus)
        );
        assert!(SrsSeparator::try_from("#".to_string()).is_err());
        assert_eq!(
            OptionalSocket::try_from(String::new()),
            Ok(OptionalSocket(None))
        );
        assert!(OptionalSocket::try_from("inet:x".to_string()).is_err());
        assert!(
            OptionalSocket::try_from("inet:127.0.0.1:10003".to_string())
                .unwrap()
                .0
                .is_some()
        );
    }
}
