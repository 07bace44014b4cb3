//! Netstrings (`<decimal length>:<bytes>,`), the framing of Postfix's socketmap protocol.

use crate::SrsError;

/// Postfix's socketmap size limit (`socketmap_max_reply_size`, 100000 bytes).
pub const POSTFIX_MAX_NETSTRING: usize = 100_000;

/// More length digits than this is an error even with leading zeros.
const MAX_LENGTH_DIGITS: usize = 20;

/// Encodes `payload` as one netstring.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len().saturating_add(8));
    encode_into(payload, &mut out);
    out
}

/// Appends `payload` as one netstring to `out`.
pub fn encode_into(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(payload);
    out.push(b',');
}

/// An incremental netstring decoder: feed it whatever a read returned (partial netstrings,
/// several at once) and take complete payloads out.
///
/// After an error the decoder stays failed and returns the same error; the connection
/// should be answered with [`super::Reply::invalid_query`] and closed.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// Bytes received and not yet consumed.
    buf: Vec<u8>,
    /// Largest accepted payload.
    max_len: usize,
    /// The first error, if any.
    failed: Option<SrsError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with Postfix's limit of 100000 bytes per netstring.
    pub fn new() -> Self {
        Decoder::with_max_len(POSTFIX_MAX_NETSTRING)
    }

    /// A decoder that rejects payloads longer than `max_len` bytes.
    pub fn with_max_len(max_len: usize) -> Self {
        Decoder {
            buf: Vec::new(),
            max_len,
            failed: None,
        }
    }

    /// Appends received bytes (dropped once the decoder has failed).
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The next complete payload, `Ok(None)` if more bytes are needed, or the framing error.
    pub fn decode(&mut self) -> Result<Option<Vec<u8>>, SrsError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match parse(&self.buf, self.max_len) {
            Ok(Some((start, len))) => {
                let end = start.saturating_add(len);
                let payload = self
                    .buf
                    .get(start..end)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default();
                self.buf.drain(..end.saturating_add(1).min(self.buf.len()));
                Ok(Some(payload))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.buf.clear();
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Bytes buffered but not yet returned (a partial netstring at end of input).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// Looks for one netstring at the start of `buf`: `(payload start, payload length)` when it
/// is complete, `None` when more bytes are needed.
fn parse(buf: &[u8], max_len: usize) -> Result<Option<(usize, usize)>, SrsError> {
    let mut len: usize = 0;
    let mut digits = 0usize;
    for &b in buf {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                len = len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add(usize::from(b - b'0')))
                    .unwrap_or(usize::MAX);
                if len > max_len {
                    return Err(SrsError::NetstringTooLarge {
                        length: len,
                        max: max_len,
                    });
                }
                if digits > MAX_LENGTH_DIGITS {
                    return Err(SrsError::NetstringLength);
                }
            }
            b':' if digits > 0 => {
                let start = digits + 1;
                let Some(&end_byte) = buf.get(start.saturating_add(len)) else {
                    return Ok(None);
                };
                return if end_byte == b',' {
                    Ok(Some((start, len)))
                } else {
                    Err(SrsError::NetstringComma { found: end_byte })
                };
            }
            _ if digits == 0 => return Err(SrsError::NetstringLength),
            other => return Err(SrsError::NetstringColon { found: other }),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_examples() {
        assert_eq!(encode(b"hello world!"), b"12:hello world!,");
        assert_eq!(encode(b""), b"0:,");
    }

    #[test]
    fn decode_in_pieces_and_batches() {
        let mut d = Decoder::new();
        d.feed(b"3:ab");
        assert_eq!(d.decode(), Ok(None));
        d.feed(b"c,0:,");
        assert_eq!(d.decode(), Ok(Some(b"abc".to_vec())));
        assert_eq!(d.decode(), Ok(Some(Vec::new())));
        assert_eq!(d.decode(), Ok(None));
        d.feed(b"1");
        assert_eq!(d.decode(), Ok(None));
        d.feed(b"0:0123456789,2:x");
        assert_eq!(d.decode(), Ok(Some(b"0123456789".to_vec())));
        assert_eq!(d.decode(), Ok(None));
        assert_eq!(d.buffered(), 3);
    }

    #[test]
    fn byte_at_a_time() {
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for b in b"5:hello,5:world," {
            d.feed(&[*b]);
            while let Some(p) = d.decode().unwrap() {
                got.push(p);
            }
        }
        assert_eq!(got, vec![b"hello".to_vec(), b"world".to_vec()]);
    }

    #[test]
    fn framing_errors() {
        let err = |input: &[u8]| {
            let mut d = Decoder::with_max_len(10);
            d.feed(input);
            d.decode()
        };
        assert_eq!(err(b":,"), Err(SrsError::NetstringLength));
        assert_eq!(err(b"x"), Err(SrsError::NetstringLength));
        assert_eq!(err(b"3x"), Err(SrsError::NetstringColon { found: b'x' }));
        assert_eq!(
            err(b"3:abc;"),
            Err(SrsError::NetstringComma { found: b';' })
        );
        assert_eq!(
            err(b"11:"),
            Err(SrsError::NetstringTooLarge {
                length: 11,
                max: 10
            })
        );
        assert_eq!(
            err(b"99999999999999999999999"),
            Err(SrsError::NetstringTooLarge {
                length: 99,
                max: 10
            })
        );
        assert_eq!(err(&[b'0'; 30]), Err(SrsError::NetstringLength));
        assert_eq!(err(b"-1:"), Err(SrsError::NetstringLength));
    }

    #[test]
    fn failed_decoder_stays_failed() {
        let mut d = Decoder::new();
        d.feed(b"x1:a,");
        assert!(d.decode().is_err());
        d.feed(b"1:a,");
        assert_eq!(d.decode(), Err(SrsError::NetstringLength));
        assert_eq!(d.buffered(), 0);
    }
}
