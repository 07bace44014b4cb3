//! The field codec every packet shares (docs/design/milter-protocol.md §1.2, §1.3): framing a
//! payload with its length and code, C strings, and a cursor that reads fixed-size and C-string
//! fields. The frame decoder, the commands and the responses sit on top of it, none of them
//! below another (model: rustls `msgs/codec.rs`).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::ProtocolError;

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
    /// With `lenient`, an unterminated last element is kept; otherwise it is an error. More
    /// than `max` elements is an error (a frame of empty strings would be ~32 bytes of
    /// bookkeeping per payload byte).
    pub(crate) fn cstrs(&mut self, lenient: bool, max: usize) -> Result<Vec<Bytes>, ProtocolError> {
        let mut out = Vec::new();
        while !self.buf.is_empty() {
            if out.len() >= max {
                return Err(self.err("more strings than an SMTP command has"));
            }
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

    /// Everything that is left.
    pub(crate) fn rest(&mut self) -> Bytes {
        self.buf.split_to(self.buf.len())
    }
}
