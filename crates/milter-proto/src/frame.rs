//! Framing: `u32 len` + `u8 code` + payload (milter-protocol.md §1.2), and the C-string helpers (§1.3).

use bytes::{Buf, Bytes, BytesMut};

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
/// Feed it the connection's read buffer; [`decode`](Self::decode) consumes whole frames only,
/// so partial frames, 1-byte reads and pipelined frames all work;
/// [`decode_streaming`](Self::decode_streaming) also hands out the payload of a BODY or
/// BODYEOB frame as it arrives, so that a body frame is never held whole. The payload cap is
/// checked on the 4-byte length before anything is reserved. After an `Err`, close the
/// connection: the stream cannot be resynchronised.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_payload: usize,
    /// The body frame whose payload [`decode_streaming`](Self::decode_streaming) is handing
    /// out: its code and the payload bytes still to come.
    body: Option<BodyFrame>,
    /// The free end of the block the payloads the session keeps are copied into.
    kept: BytesMut,
}

#[derive(Debug, Clone, Copy)]
struct BodyFrame {
    code: u8,
    left: usize,
}

/// One step of [`FrameDecoder::decode_streaming`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A whole command. A streamed BODY or BODYEOB ends with its command, carrying the
    /// frame's last payload bytes.
    Command(Command),
    /// Leading payload bytes of a BODY or BODYEOB frame that has not fully arrived (CRLF line
    /// ends, split anywhere, §2.8); the frame's command follows with the rest.
    BodyPart(Bytes),
}

/// Commands whose fields the session keeps beyond the command (macros, CONNECT, HELO and the
/// envelope): their payload is copied out of the read buffer (see [`FrameDecoder::detach`]).
/// A MACRO packet with only its stage byte (Postfix's before every header) keeps nothing.
fn kept_by_session(code: u8, payload: &[u8]) -> bool {
    match code {
        b'C' | b'H' | b'M' | b'R' => true,
        b'D' => payload.len() > 1,
        _ => false,
    }
}

/// The size of the blocks kept payloads are copied into.
const KEPT_BLOCK: usize = 1024;

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
        Self {
            max_payload,
            body: None,
            kept: BytesMut::new(),
        }
    }

    /// The payload cap in bytes.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Takes one whole frame off the front of `buf`, or `None` if more bytes are needed (§1.2).
    pub fn decode_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let Some(payload_len) = self.payload_len(buf)? else {
            return Ok(None);
        };
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

    /// The checked payload length of the frame at the front of `buf`, once its 4 length bytes
    /// are there (§1.2).
    fn payload_len(&self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
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
        Ok(Some(payload_len))
    }

    /// Decodes the next command (server side), or `None` if more bytes are needed (§2).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, ProtocolError> {
        let Some(frame) = self.decode_frame(buf)? else {
            return Ok(None);
        };
        let payload = if kept_by_session(frame.code, &frame.payload) {
            self.detach(&frame.payload)
        } else {
            frame.payload
        };
        Command::parse(frame.code, payload).map(Some)
    }

    /// A copy of `payload` that does not share the read buffer, so that a small value kept for
    /// the whole message or connection does not pin a whole read buffer. Copies go into
    /// [`KEPT_BLOCK`]-sized blocks, one allocation for many commands; a block lives as long as
    /// a value in it.
    fn detach(&mut self, payload: &[u8]) -> Bytes {
        if self.kept.capacity() < payload.len() {
            self.kept = BytesMut::with_capacity(payload.len().max(KEPT_BLOCK));
        }
        self.kept.extend_from_slice(payload);
        self.kept.split().freeze()
    }

    /// Like [`decode`](Self::decode), but a BODY or BODYEOB frame that has not fully arrived
    /// is handed out as it arrives: [`Decoded::BodyPart`] for what `buf` holds of it, then its
    /// command with the last bytes (§2.8). `buf` then never needs room for a whole body frame,
    /// and the same commands result, with the same data, in the same order.
    ///
    /// Do not mix with [`decode`](Self::decode) or [`decode_frame`](Self::decode_frame) on
    /// the same stream while a body frame is being handed out.
    pub fn decode_streaming(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Decoded>, ProtocolError> {
        let mut frame = match self.body {
            Some(frame) => frame,
            None => {
                let Some(payload_len) = self.payload_len(buf)? else {
                    return Ok(None);
                };
                let Some(&code) = buf.get(4) else {
                    return Ok(None);
                };
                let whole = buf.len() >= payload_len.saturating_add(5);
                if whole || !matches!(code, b'B' | b'E') {
                    return Ok(self.decode(buf)?.map(Decoded::Command));
                }
                buf.advance(5);
                BodyFrame {
                    code,
                    left: payload_len,
                }
            }
        };
        let n = buf.len().min(frame.left);
        if n == 0 {
            self.body = Some(frame);
            return Ok(None);
        }
        let piece = buf.split_to(n).freeze();
        frame.left = frame.left.saturating_sub(n);
        if frame.left > 0 {
            self.body = Some(frame);
            return Ok(Some(Decoded::BodyPart(piece)));
        }
        self.body = None;
        Command::parse(frame.code, piece).map(|c| Some(Decoded::Command(c)))
    }

    /// True while [`decode_streaming`](Self::decode_streaming) is inside a body frame.
    pub fn in_body_frame(&self) -> bool {
        self.body.is_some()
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
        if buf.is_empty() && self.body.is_none() {
            Ok(())
        } else {
            Err(ProtocolError::Truncated {
                buffered: buf.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Reader, put_cstr, put_frame};
    use bytes::BufMut;

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
    fn a_body_frame_streams_through_a_small_buffer() {
        let payload: Vec<u8> = (0..65535u32).map(|i| (i % 251) as u8).collect();
        let mut wire = BytesMut::new();
        Command::Body(Bytes::from(payload.clone()))
            .encode(&mut wire)
            .unwrap();
        Command::BodyEob(Bytes::from_static(b"end\r\n"))
            .encode(&mut wire)
            .unwrap();
        let mut dec = FrameDecoder::new();
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let (mut parts, mut body, mut eob) = (0, Vec::new(), None);
        while !wire.is_empty() {
            // as a socket read: at most the free room of the buffer
            let room = (buf.capacity() - buf.len()).max(64);
            buf.extend_from_slice(&wire.split_to(room.min(wire.len())));
            while let Some(d) = dec.decode_streaming(&mut buf).unwrap() {
                match d {
                    Decoded::BodyPart(p) => {
                        parts += 1;
                        body.extend_from_slice(&p);
                        assert!(dec.in_body_frame());
                    }
                    Decoded::Command(Command::Body(last)) => body.extend_from_slice(&last),
                    Decoded::Command(Command::BodyEob(d)) => eob = Some(d),
                    Decoded::Command(c) => panic!("unexpected {c:?}"),
                }
            }
            assert!(buf.capacity() <= 16 * 1024, "grew to {}", buf.capacity());
        }
        assert!(parts >= 3);
        assert_eq!(body, payload);
        assert_eq!(eob.as_deref(), Some(&b"end\r\n"[..]));
        dec.finish(&buf).unwrap();
    }

    #[test]
    fn eof_inside_a_streamed_body_is_truncated() {
        let mut dec = FrameDecoder::new();
        let mut buf = BytesMut::from(&[0u8, 0, 0, 11, b'B', b'a', b'b'][..]);
        assert_eq!(
            dec.decode_streaming(&mut buf),
            Ok(Some(Decoded::BodyPart(Bytes::from_static(b"ab"))))
        );
        assert!(buf.is_empty());
        assert_eq!(
            dec.finish(&buf),
            Err(ProtocolError::Truncated { buffered: 0 })
        );
        // the cap still applies to body frames
        let mut buf = BytesMut::from(&[0u8, 0, 1, 0, b'B', b'a'][..]);
        assert_eq!(
            FrameDecoder::with_max_payload(100).decode_streaming(&mut buf),
            Err(ProtocolError::FrameTooLarge { len: 255, max: 100 })
        );
    }

    #[test]
    fn kept_payloads_do_not_share_the_read_buffer() {
        let mut buf = BytesMut::new();
        Command::Helo(Bytes::from_static(b"mx.example"))
            .encode(&mut buf)
            .unwrap();
        let range = buf.as_ptr_range();
        let Some(Command::Helo(name)) = FrameDecoder::new().decode(&mut buf).unwrap() else {
            panic!("not HELO");
        };
        assert_eq!(&name[..], b"mx.example");
        assert!(!range.contains(&name.as_ptr()));
    }

    #[test]
    fn cstrs_trailing_nul_and_lenient_tail() {
        let mut r = Reader::new(Bytes::from_static(b"a\0\0b\0"), "t");
        assert_eq!(r.cstrs(false, 8).unwrap(), vec!["a", "", "b"]);
        let mut r = Reader::new(Bytes::from_static(b"a\0b"), "t");
        assert!(r.cstrs(false, 8).is_err());
        let mut r = Reader::new(Bytes::from_static(b"a\0b"), "t");
        assert_eq!(r.cstrs(true, 8).unwrap(), vec!["a", "b"]);
        let mut r = Reader::new(Bytes::from_static(b"a\0\0\0"), "t");
        assert!(r.cstrs(false, 2).is_err(), "more than the most strings");
    }

    /// A RCPT of an address and a million empty parameters is refused, not held as a
    /// million strings (~60 MB for a 1 MiB frame).
    #[test]
    fn an_envelope_command_has_a_bounded_number_of_strings() {
        let mut payload = b"<r@example.com>\0".to_vec();
        payload.extend(std::iter::repeat_n(0u8, 1 << 20));
        assert!(Command::parse(b'R', Bytes::from(payload)).is_err());
        let mut ok = b"<r@example.com>\0".to_vec();
        for _ in 1..crate::command::MAX_ENVELOPE_STRINGS {
            ok.extend_from_slice(b"X=1\0");
        }
        assert!(
            matches!(Command::parse(b'R', Bytes::from(ok)), Ok(Command::Rcpt(e)) if e.args.len() == 63)
        );
    }
}
