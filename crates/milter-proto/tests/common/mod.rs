// Shared helpers for the milter-proto integration tests (included with `mod common;`).
#![allow(dead_code)]

pub mod mta;

use bytes::{Bytes, BytesMut};
use milter_proto::{Command, FrameDecoder, ProtocolError, Response};

/// One frame: `u32 len` + code + payload.
pub fn frame(code: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
    v.push(code);
    v.extend_from_slice(payload);
    v
}

/// Decodes exactly one command from `wire` and checks nothing is left.
pub fn decode_one(wire: &[u8]) -> Result<Command, ProtocolError> {
    let mut buf = BytesMut::from(wire);
    let cmd = FrameDecoder::new()
        .decode(&mut buf)?
        .expect("a whole frame");
    assert!(buf.is_empty(), "left over: {buf:?}");
    Ok(cmd)
}

/// Encodes a command.
pub fn encode_cmd(cmd: &Command) -> Vec<u8> {
    let mut out = BytesMut::new();
    cmd.encode(&mut out).unwrap();
    out.to_vec()
}

/// Encodes a response.
pub fn encode_resp(resp: &Response, leadspc: bool) -> Vec<u8> {
    let mut out = BytesMut::new();
    resp.encode(leadspc, &mut out).unwrap();
    out.to_vec()
}

/// Decodes every response frame in `wire`.
pub fn decode_responses(wire: &[u8], leadspc: bool) -> Vec<Response> {
    let mut buf = BytesMut::from(wire);
    let mut dec = FrameDecoder::new();
    let mut out = Vec::new();
    while let Some(r) = dec.decode_response(&mut buf, leadspc).unwrap() {
        out.push(r);
    }
    assert!(buf.is_empty());
    out
}

/// `Bytes` from a static string.
pub fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}
