//! Framing: `u32 len` + `u8 code` + payload (milter-protocol.md §1.2), and the C-string helpers (§1.3).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::command::Command;
use crate::error::ProtocolError;
use crate::response::Response;

/// One raw frame: the code byte and its payload (§1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The command or response code.
    pub code: u8,
    /// Everything after the code byte (`len - 1` bytes).
    pub payload: Bytes,
}

/// Splits a byte stream into frames and parses them (§1.2).
///
/// Feed it the connection's read buffer; it consumes whole frames only, so partial frames,
/// 1-byte reads and pipelined frames all work. The payload cap is checked on the 4-byte length
/// before anything is reserved. After an `Err`, close the connection: the stream cannot be
/// resynchronised.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_payload: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// The default payload cap: 1 MiB (must exceed Postfix's 102400-byte header limit, §1.2).
    pub const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;

    /// A decoder with the default cap.
    pub fn new() -> Self {
        Self::with_max_payload(Self::DEFAULT_MAX_PAYLOAD)
    }

    /// A decoder with a custom payload cap in bytes (§1.2).
    pub fn with_max_payload(max_payload: usize) -> Self {
        Self { max_payload }
    }

    /// The payload cap in bytes.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Takes one whole frame off the front of `buf`, or `None` if more bytes are needed (§1.2).
    pub fn decode_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let Some(header) = buf.get(..4) else {
            return Ok(None);
        };
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(header);
        let len = u32::from_be_bytes(len_bytes);
        if len == 0 {
            return Err(ProtocolError::ZeroLength);
        }
        // len >= 1 here, so this cannot underflow.
        let payload_len = u64::from(len) - 1;
        let too_large = ProtocolError::FrameTooLarge {
            len: payload_len,
            max: self.max_payload,
        };
        let payload_len = usize::try_from(payload_len).map_err(|_| too_large.clone())?;
        if payload_len > self.max_payload {
            return Err(too_large);
        }
        // 5 + payload_len cannot overflow: payload_len <= max_payload and < u32::MAX.
        let total = payload_len.saturating_add(5);
        if buf.len() < total {
            buf.reserve(total.saturating_sub(buf.len()));
            return Ok(None);
        }
        buf.advance(4);
        let code = buf.get_u8();
        let payload = buf.split_to(payload_len).freeze();
        Ok(Some(Frame { code, payload }))
    }

    /// Decodes the next command (server side), or `None` if more bytes are needed (§2).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, ProtocolError> {
        match self.decode_frame(buf)? {
            Some(frame) => Command::parse(frame.code, frame.payload).map(Some),
            None => Ok(None),
        }
    }

    /// Decodes the next response (client side), or `None` if more bytes are needed (§3).
    ///
    /// `leadspc` is whether `SMFIP_HDR_LEADSPC` was negotiated; see [`Response::parse`].
    pub fn decode_response(
        &mut self,
        buf: &mut BytesMut,
        leadspc: bool,
    ) -> Result<Option<Response>, ProtocolError> {
        match self.decode_frame(buf)? {
            Some(frame) => Response::parse(frame.code, frame.payload, leadspc).map(Some),
            None => Ok(None),
        }
    }

    /// Call at end of stream: `Ok` if no partial frame is left, else [`ProtocolError::Truncated`] (§0 rule 10).
    pub fn finish(&self, buf: &BytesMut) -> Result<(), ProtocolError> {
        if buf.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::Truncated {
                buffered: buf.len(),
            })
        }
    }
}

/// Appends one frame with the given code; `payload` writes the payload (§1.2).
///
/// Fails (and writes nothing) if the payload does not fit a `u32` length.
pub(crate) fn put_frame(
    out: &mut BytesMut,
    code: u8,
    payload: impl FnOnce(&mut BytesMut),
) -> Result<(), ProtocolError> {
    let start = out.len();
    out.put_u32(0);
    out.put_u8(code);
    payload(out);
    let len = out.len().saturating_sub(start).saturating_sub(4);
    let Ok(len) = u32::try_from(len) else {
        out.truncate(start);
        return Err(ProtocolError::InvalidField {
            field: "payload",
            reason: "longer than a u32 frame length can describe",
        });
    };
    if let Some(slot) = out.get_mut(start..start.saturating_add(4)) {
        slot.copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// Appends `s` and a NUL (§1.3).
pub(crate) fn put_cstr(out: &mut BytesMut, s: &[u8]) {
    out.put_slice(s);
    out.put_u8(0);
}

/// Rejects a NUL inside something that will be written as a C string (§1.3).
pub(crate) fn check_cstr(field: &'static str, s: &[u8]) -> Result<(), ProtocolError> {
    if s.contains(&0) {
        Err(ProtocolError::InvalidField {
            field,
            reason: "contains a NUL byte",
        })
    } else {
        Ok(())
    }
}

/// A cursor over a payload that reads the fixed-size and C-string fields (§1.3).
pub(crate) struct Reader {
    buf: Bytes,
    packet: &'static str,
}

impl Reader {
    pub(crate) fn new(buf: Bytes, packet: &'static str) -> Self {
        Self { buf, packet }
    }

    pub(crate) fn err(&self, reason: &'static str) -> ProtocolError {
        ProtocolError::Malformed {
            packet: self.packet,
            reason,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn u8(&mut self, missing: &'static str) -> Result<u8, ProtocolError> {
        if self.buf.is_empty() {
            return Err(self.err(missing));
        }
        Ok(self.buf.get_u8())
    }

    pub(crate) fn u16(&mut self, missing: &'static str) -> Result<u16, ProtocolError> {
        if self.buf.len() < 2 {
            return Err(self.err(missing));
        }
        Ok(self.buf.get_u16())
    }

    pub(crate) fn u32(&mut self, missing: &'static str) -> Result<u32, ProtocolError> {
        if self.buf.len() < 4 {
            return Err(self.err(missing));
        }
        Ok(self.buf.get_u32())
    }

    /// One NUL-terminated string; the NUL is required.
    pub(crate) fn cstr(&mut self, missing: &'static str) -> Result<Bytes, ProtocolError> {
        let Some(nul) = self.buf.iter().position(|&b| b == 0) else {
            return Err(self.err(missing));
        };
        let s = self.buf.split_to(nul);
        self.buf.advance(1);
        Ok(s)
    }

    /// `cstr*` to the end; a trailing NUL does not start an empty element (libmilter `dec_argv`).
    /// With `lenient`, an unterminated last element is kept; otherwise it is an error.
    pub(crate) fn cstrs(&mut self, lenient: bool) -> Result<Vec<Bytes>, ProtocolError> {
        let mut out = Vec::new();
        while !self.buf.is_empty() {
            match self.buf.iter().position(|&b| b == 0) {
                Some(nul) => {
                    out.push(self.buf.split_to(nul));
                    self.buf.advance(1);
                }
                None if lenient => out.push(self.buf.split_to(self.buf.len())),
                None => return Err(self.err("string list does not end with NUL")),
            }
        }
        Ok(out)
    }

    /// NUL-terminated strings taken two by two as (name, value) pairs, a missing last value
    /// empty (MACRO payloads, §2.4). One allocation, sized by counting the NULs first.
    pub(crate) fn cstr_pairs(
        &mut self,
        lenient: bool,
    ) -> Result<Vec<(Bytes, Bytes)>, ProtocolError> {
        let strings = self.buf.iter().filter(|&&b| b == 0).count() + 1;
        let mut out = Vec::with_capacity(strings / 2 + 1);
        let mut name: Option<Bytes> = None;
        while !self.buf.is_empty() {
            let s = match self.buf.iter().position(|&b| b == 0) {
                Some(nul) => {
                    let s = self.buf.split_to(nul);
                    self.buf.advance(1);
                    s
                }
                None if lenient => self.buf.split_to(self.buf.len()),
                None => return Err(self.err("string list does not end with NUL")),
            };
            match name.take() {
                None => name = Some(s),
                Some(n) => out.push((n, s)),
            }
        }
        if let Some(n) = name {
            out.push((n, Bytes::new()));
        }
        Ok(out)
    }

    /// Everything that is left.
    pub(crate) fn rest(&mut self) -> Bytes {
        self.buf.split_to(self.buf.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_frames_and_one_byte_reads() {
        let wire = [0, 0, 0, 3, b'H', b'x', 0, 0, 0, 0, 1, b'A'];
        let mut dec = FrameDecoder::new();
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for b in wire {
            buf.put_u8(b);
            while let Some(f) = dec.decode_frame(&mut buf).unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].code, b'H');
        assert_eq!(&frames[0].payload[..], b"x\0");
        assert_eq!(frames[1].code, b'A');
        assert!(frames[1].payload.is_empty());
        dec.finish(&buf).unwrap();
    }

    #[test]
    fn zero_length_is_an_error() {
        let mut buf = BytesMut::from(&[0u8, 0, 0, 0, b'A'][..]);
        assert_eq!(
            FrameDecoder::new().decode_frame(&mut buf),
            Err(ProtocolError::ZeroLength)
        );
    }

    #[test]
    fn cap_is_checked_before_reserving() {
        let mut buf = BytesMut::from(&[0xFFu8, 0xFF, 0xFF, 0xFF, b'B'][..]);
        let cap_before = buf.capacity();
        let err = FrameDecoder::with_max_payload(100).decode_frame(&mut buf);
        assert_eq!(
            err,
            Err(ProtocolError::FrameTooLarge {
                len: 0xFFFF_FFFE,
                max: 100
            })
        );
        assert_eq!(buf.capacity(), cap_before);
        // exactly at the cap is fine
        let mut buf = BytesMut::from(&[0u8, 0, 0, 101, b'B'][..]);
        buf.extend_from_slice(&[b'x'; 100]);
        let f = FrameDecoder::with_max_payload(100)
            .decode_frame(&mut buf)
            .unwrap()
            .unwrap();
        assert_eq!(f.payload.len(), 100);
    }

    #[test]
    fn eof_mid_frame_is_truncated() {
        let mut dec = FrameDecoder::new();
        let mut buf = BytesMut::from(&[0u8, 0, 0, 5, b'O', 0, 0][..]);
        assert_eq!(dec.decode_frame(&mut buf), Ok(None));
        assert_eq!(
            dec.finish(&buf),
            Err(ProtocolError::Truncated { buffered: 7 })
        );
        let buf = BytesMut::from(&[0u8, 0][..]);
        assert_eq!(
            dec.finish(&buf),
            Err(ProtocolError::Truncated { buffered: 2 })
        );
    }

    #[test]
    fn put_frame_patches_length() {
        let mut out = BytesMut::new();
        put_frame(&mut out, b'y', |o| put_cstr(o, b"550 5.7.1 no")).unwrap();
        assert_eq!(&out[..], b"\0\0\0\x0ey550 5.7.1 no\0");
    }

    #[test]
    fn cstrs_trailing_nul_and_lenient_tail() {
        let mut r = Reader::new(Bytes::from_static(b"a\0\0b\0"), "t");
        assert_eq!(r.cstrs(false).unwrap(), vec!["a", "", "b"]);
        let mut r = Reader::new(Bytes::from_static(b"a\0b"), "t");
        assert!(r.cstrs(false).is_err());
        let mut r = Reader::new(Bytes::from_static(b"a\0b"), "t");
        assert_eq!(r.cstrs(true).unwrap(), vec!["a", "b"]);
    }
}
