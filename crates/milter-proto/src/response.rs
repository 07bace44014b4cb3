//! Responses (milter → MTA): encoding for the server, parsing for the client (milter-protocol.md §3).

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::{Reader, check_cstr, put_cstr, put_frame};
use crate::error::ProtocolError;
use crate::negotiate::{OptNeg, SymList};
use crate::reply::SmtpReply;
use crate::{Actions, MILTER_CHUNK_SIZE, ResponseCode, SymStage};

/// One response to the MTA (§3).
///
/// Header values are given **without** the leading space after the colon and folded with bare
/// `\n` + whitespace; the encoder adds `' '` only when `HDR_LEADSPC` is active (§3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `'O'` the negotiation reply, with optional SETSYMLIST lists (§2.1, §3.9).
    OptNeg {
        /// Version, actions and protocol bits.
        options: OptNeg,
        /// Macro lists per stage (only non-empty ones are ever sent).
        symlists: Vec<SymList>,
    },
    /// `'c'` continue (at EOM: accept).
    Continue,
    /// `'a'` accept (at CONNECT/HELO: the whole connection).
    Accept,
    /// `'r'` reject with the MTA's default text.
    Reject,
    /// `'t'` temporary failure with the MTA's default text.
    Tempfail,
    /// `'d'` accept and silently drop the message.
    Discard,
    /// `'y'` reject or tempfail with our SMTP reply (§3.1).
    ReplyCode(SmtpReply),
    /// `'h'` append a header (§3.2).
    AddHeader {
        /// Header name.
        name: Bytes,
        /// Header value (no leading space, `\n` folding).
        value: Bytes,
    },
    /// `'i'` insert a header at a 0-based position over all headers (§3.3).
    InsHeader {
        /// 0 = top (above the MTA's own Received:).
        index: u32,
        /// Header name.
        name: Bytes,
        /// Header value (no leading space, `\n` folding).
        value: Bytes,
    },
    /// `'m'` change or (empty value) delete the `index`-th header of that name, 1-based (§3.3).
    ChgHeader {
        /// 1-based, per name, case-insensitive.
        index: u32,
        /// Header name.
        name: Bytes,
        /// New value; empty deletes.
        value: Bytes,
    },
    /// `'e'` change the envelope sender (§3.5).
    ChgFrom {
        /// New sender, preferably `<addr>`; `<>` for the null sender.
        from: Bytes,
        /// ESMTP args as **one** space-separated string.
        args: Option<Bytes>,
    },
    /// `'+'` add a recipient (§3.4).
    AddRcpt(Bytes),
    /// `'2'` add a recipient with ESMTP args (§3.4).
    AddRcptPar {
        /// The recipient.
        rcpt: Bytes,
        /// ESMTP args as **one** space-separated string.
        args: Option<Bytes>,
    },
    /// `'-'` delete a recipient (§3.4).
    DelRcpt(Bytes),
    /// `'b'` replace the body; split into 65535-byte packets by the encoder (§3.7).
    ReplBody(Bytes),
    /// `'q'` quarantine (Postfix: hold) with a non-empty one-line reason (§3.6).
    Quarantine(Bytes),
    /// `'p'` still working; restarts the MTA's timer (§0 rule 4).
    Progress,
    /// `'s'` skip the rest of the body (reply to BODY only, §3.8).
    Skip,
}

impl Response {
    /// The response's code.
    pub fn code(&self) -> ResponseCode {
        match self {
            Self::OptNeg { .. } => ResponseCode::OptNeg,
            Self::Continue => ResponseCode::Continue,
            Self::Accept => ResponseCode::Accept,
            Self::Reject => ResponseCode::Reject,
            Self::Tempfail => ResponseCode::Tempfail,
            Self::Discard => ResponseCode::Discard,
            Self::ReplyCode(_) => ResponseCode::ReplyCode,
            Self::AddHeader { .. } => ResponseCode::AddHeader,
            Self::InsHeader { .. } => ResponseCode::InsHeader,
            Self::ChgHeader { .. } => ResponseCode::ChgHeader,
            Self::ChgFrom { .. } => ResponseCode::ChgFrom,
            Self::AddRcpt(_) => ResponseCode::AddRcpt,
            Self::AddRcptPar { .. } => ResponseCode::AddRcptPar,
            Self::DelRcpt(_) => ResponseCode::DelRcpt,
            Self::ReplBody(_) => ResponseCode::ReplBody,
            Self::Quarantine(_) => ResponseCode::Quarantine,
            Self::Progress => ResponseCode::Progress,
            Self::Skip => ResponseCode::Skip,
        }
    }

    /// The action bit a modification needs, if any (§2.2).
    pub fn required_action(&self) -> Option<Actions> {
        Some(match self {
            Self::AddHeader { .. } | Self::InsHeader { .. } => Actions::ADDHDRS,
            Self::ChgHeader { .. } => Actions::CHGHDRS,
            Self::ChgFrom { .. } => Actions::CHGFROM,
            Self::AddRcpt(_) => Actions::ADDRCPT,
            Self::AddRcptPar { .. } => Actions::ADDRCPT_PAR,
            Self::DelRcpt(_) => Actions::DELRCPT,
            Self::ReplBody(_) => Actions::CHGBODY,
            Self::Quarantine(_) => Actions::QUARANTINE,
            _ => return None,
        })
    }

    /// `'m'` deletes of the given 1-based indexes of `name`, highest first (§3.3: Postfix shifts
    /// later instances down on delete).
    pub fn delete_headers(name: &[u8], indexes: impl IntoIterator<Item = u32>) -> Vec<Response> {
        let mut idx: Vec<u32> = indexes.into_iter().collect();
        idx.sort_unstable_by(|a, b| b.cmp(a));
        idx.dedup();
        let name = Bytes::copy_from_slice(name);
        idx.into_iter()
            .map(|index| Self::ChgHeader {
                index,
                name: name.clone(),
                value: Bytes::new(),
            })
            .collect()
    }

    /// Checks the fields without writing anything (§3.1–§3.7).
    pub fn validate(&self) -> Result<(), ProtocolError> {
        match self {
            Self::OptNeg { symlists, .. } => {
                for l in symlists {
                    check_cstr("macro list", &l.macros)?;
                }
            }
            Self::AddHeader { name, value }
            | Self::InsHeader { name, value, .. }
            | Self::ChgHeader { name, value, .. } => {
                validate_header_name(name)?;
                normalize_header_value(value)?;
            }
            Self::ChgFrom { from: a, args } | Self::AddRcptPar { rcpt: a, args } => {
                check_address(a)?;
                if let Some(args) = args {
                    check_cstr("ESMTP arguments", args)?;
                }
            }
            Self::AddRcpt(a) | Self::DelRcpt(a) => check_address(a)?,
            Self::Quarantine(reason) => {
                if reason.is_empty() {
                    return Err(ProtocolError::InvalidField {
                        field: "quarantine reason",
                        reason: "must not be empty",
                    });
                }
                if reason.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')) {
                    return Err(ProtocolError::InvalidField {
                        field: "quarantine reason",
                        reason: "must be one line without NUL",
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Appends the frame(s) for this response (§3). Validates first; on error nothing is written.
    ///
    /// `leadspc`: `SMFIP_HDR_LEADSPC` is active, so a space is prepended to non-empty header
    /// values. REPLBODY is split into packets of at most 65535 bytes.
    pub fn encode(&self, leadspc: bool, out: &mut BytesMut) -> Result<(), ProtocolError> {
        self.validate()?;
        let code = self.code().as_u8();
        match self {
            Self::OptNeg { options, symlists } => put_frame(out, code, |o| {
                options.put(o);
                for l in symlists {
                    o.put_u32(l.stage.0);
                    put_cstr(o, &l.macros);
                }
            }),
            Self::Continue
            | Self::Accept
            | Self::Reject
            | Self::Tempfail
            | Self::Discard
            | Self::Progress
            | Self::Skip => put_frame(out, code, |_| {}),
            Self::ReplyCode(r) => put_frame(out, code, |o| put_cstr(o, &r.to_wire())),
            Self::AddHeader { name, value } => {
                let value = header_wire_value(value, leadspc)?;
                put_frame(out, code, |o| {
                    put_cstr(o, name);
                    put_cstr(o, &value);
                })
            }
            Self::InsHeader { index, name, value } | Self::ChgHeader { index, name, value } => {
                let value = header_wire_value(value, leadspc)?;
                put_frame(out, code, |o| {
                    o.put_u32(*index);
                    put_cstr(o, name);
                    put_cstr(o, &value);
                })
            }
            Self::ChgFrom { from: a, args } | Self::AddRcptPar { rcpt: a, args } => {
                put_frame(out, code, |o| {
                    put_cstr(o, a);
                    if let Some(args) = args {
                        put_cstr(o, args);
                    }
                })
            }
            Self::AddRcpt(s) | Self::DelRcpt(s) | Self::Quarantine(s) => {
                put_frame(out, code, |o| put_cstr(o, s))
            }
            Self::ReplBody(body) => {
                if body.is_empty() {
                    return put_frame(out, code, |_| {});
                }
                for chunk in body.chunks(MILTER_CHUNK_SIZE) {
                    put_frame(out, code, |o| o.put_slice(chunk))?;
                }
                Ok(())
            }
        }
    }

    /// Parses one response frame (client side, §3).
    ///
    /// With `leadspc`, one leading space is removed from header values, the inverse of
    /// [`encode`](Self::encode). A REPLBODY packet parses as one `ReplBody` chunk.
    pub fn parse(code: u8, payload: Bytes, leadspc: bool) -> Result<Self, ProtocolError> {
        let rc = match ResponseCode::from_u8(code) {
            Some(ResponseCode::ConnFail | ResponseCode::Shutdown | ResponseCode::SetSymList)
            | None => return Err(ProtocolError::UnknownResponse(code)),
            Some(rc) => rc,
        };
        let mut r = Reader::new(payload, rc.name());
        let header_value = |v: Bytes| -> Bytes {
            if leadspc && v.first() == Some(&b' ') {
                v.slice(1..)
            } else {
                v
            }
        };
        let resp = match rc {
            ResponseCode::OptNeg => {
                if r.remaining() < 12 {
                    return Err(r.err("shorter than 12 bytes (version, actions, protocol)"));
                }
                let options = OptNeg::from_reader(&mut r)?;
                let mut symlists = Vec::new();
                while !r.is_empty() {
                    let stage = SymStage(r.u32("truncated SETSYMLIST stage")?);
                    let macros = r.cstr("SETSYMLIST list is not NUL-terminated")?;
                    symlists.push(SymList { stage, macros });
                }
                Self::OptNeg { options, symlists }
            }
            ResponseCode::Continue
            | ResponseCode::Accept
            | ResponseCode::Reject
            | ResponseCode::Tempfail
            | ResponseCode::Discard
            | ResponseCode::Progress
            | ResponseCode::Skip => {
                if !r.is_empty() {
                    return Err(r.err("must have no payload (len == 1)"));
                }
                match rc {
                    ResponseCode::Continue => Self::Continue,
                    ResponseCode::Accept => Self::Accept,
                    ResponseCode::Reject => Self::Reject,
                    ResponseCode::Tempfail => Self::Tempfail,
                    ResponseCode::Discard => Self::Discard,
                    ResponseCode::Progress => Self::Progress,
                    _ => Self::Skip,
                }
            }
            ResponseCode::ReplyCode => {
                let text = r.cstr("reply is not NUL-terminated")?;
                if !r.is_empty() {
                    return Err(r.err("data after the reply's NUL"));
                }
                Self::ReplyCode(SmtpReply::parse(&text)?)
            }
            ResponseCode::AddHeader => {
                let name = r.cstr("header name is not NUL-terminated")?;
                let value = r.cstr("header value is not NUL-terminated")?;
                Self::AddHeader {
                    name,
                    value: header_value(value),
                }
            }
            ResponseCode::InsHeader | ResponseCode::ChgHeader => {
                let index = r.u32("missing index")?;
                let name = r.cstr("header name is not NUL-terminated")?;
                let value = header_value(r.cstr("header value is not NUL-terminated")?);
                if rc == ResponseCode::InsHeader {
                    Self::InsHeader { index, name, value }
                } else {
                    Self::ChgHeader { index, name, value }
                }
            }
            ResponseCode::ChgFrom | ResponseCode::AddRcptPar => {
                let a = r.cstr("address is not NUL-terminated")?;
                let args = if r.is_empty() {
                    None
                } else {
                    Some(r.cstr("ESMTP arguments are not NUL-terminated")?)
                };
                if !r.is_empty() {
                    return Err(r.err("more than two strings"));
                }
                if rc == ResponseCode::ChgFrom {
                    Self::ChgFrom { from: a, args }
                } else {
                    Self::AddRcptPar { rcpt: a, args }
                }
            }
            ResponseCode::AddRcpt => Self::AddRcpt(r.cstr("recipient is not NUL-terminated")?),
            ResponseCode::DelRcpt => Self::DelRcpt(r.cstr("recipient is not NUL-terminated")?),
            ResponseCode::Quarantine => Self::Quarantine(r.cstr("reason is not NUL-terminated")?),
            ResponseCode::ReplBody => Self::ReplBody(r.rest()),
            ResponseCode::ConnFail | ResponseCode::Shutdown | ResponseCode::SetSymList => {
                return Err(ProtocolError::UnknownResponse(code));
            }
        };
        Ok(resp)
    }
}

/// Checks a header name we send: non-empty printable ASCII without space or colon (§3.2).
pub fn validate_header_name(name: &[u8]) -> Result<(), ProtocolError> {
    if name.is_empty() {
        return Err(ProtocolError::InvalidHeaderName("empty"));
    }
    if !name.iter().all(|&b| b.is_ascii_graphic() && b != b':') {
        return Err(ProtocolError::InvalidHeaderName(
            "must be printable ASCII without space or colon",
        ));
    }
    Ok(())
}

/// Checks a header value we send and folds CRLF to bare LF (§3.2, §0 rule 5).
///
/// Refused: NUL, a CR not followed by LF, a line break not followed by SP/HTAB (that would start
/// a new header), and a trailing line break.
///
/// Every search is `memchr`'s (SIMD), not a byte loop: each header we add (the A-R, a
/// DKIM-Signature of ~500 bytes) passes here once per message.
pub fn normalize_header_value(value: &[u8]) -> Result<Cow<'_, [u8]>, ProtocolError> {
    if memchr::memchr(0, value).is_some() {
        return Err(ProtocolError::InvalidHeaderValue("contains NUL"));
    }
    let folded: Cow<'_, [u8]> = if memchr::memchr(b'\r', value).is_some() {
        // copied in runs between the CRs, each of which must start a CRLF
        let mut out = Vec::with_capacity(value.len());
        let mut rest = value;
        while let Some(cr) = memchr::memchr(b'\r', rest) {
            let (run, after) = rest.split_at_checked(cr).unwrap_or((rest, &[]));
            if after.get(1) != Some(&b'\n') {
                return Err(ProtocolError::InvalidHeaderValue("bare CR"));
            }
            out.extend_from_slice(run);
            rest = after.get(1..).unwrap_or_default();
        }
        out.extend_from_slice(rest);
        Cow::Owned(out)
    } else {
        Cow::Borrowed(value)
    };
    let mut rest: &[u8] = &folded;
    while let Some(lf) = memchr::memchr(b'\n', rest) {
        rest = rest.get(lf + 1..).unwrap_or_default();
        match rest.first() {
            Some(b' ' | b'\t') => {}
            Some(_) => {
                return Err(ProtocolError::InvalidHeaderValue(
                    "a line break must be followed by a space or tab (folding)",
                ));
            }
            None => return Err(ProtocolError::InvalidHeaderValue("ends with a line break")),
        }
    }
    Ok(folded)
}

fn header_wire_value(value: &[u8], leadspc: bool) -> Result<Vec<u8>, ProtocolError> {
    let folded = normalize_header_value(value)?;
    let mut out = Vec::with_capacity(folded.len().saturating_add(1));
    if leadspc && !folded.is_empty() {
        out.push(b' ');
    }
    out.extend_from_slice(&folded);
    Ok(out)
}

fn check_address(a: &[u8]) -> Result<(), ProtocolError> {
    if a.is_empty() {
        return Err(ProtocolError::InvalidField {
            field: "address",
            reason: "must not be empty (use <> for the null sender)",
        });
    }
    check_cstr("address", a)
}
