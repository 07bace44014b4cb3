//! A decision as milter responses (milter-protocol.md "Header changes" and "End of message"):
//! deletions of incoming headers first (highest index first per name, so earlier indexes stay
//! valid), then the headers we prepend (sent bottom-most first at index 0, so that they end up
//! in the decision's top-down order above everything, the MTA's own Received included), then
//! appended headers, envelope changes, quarantine, and exactly one final reply.

use bytes::Bytes;
use milter_proto::{Actions, Negotiated, Response};

use crate::config::HeaderLine;
use crate::pipeline::{Decision, RcptChange, Verdict};

/// How a message the policy holds (`[dmarc] quarantine = "hold"`) is carried out on this
/// connection (milter-protocol.md "End of message").
#[derive(Debug, Clone, Copy)]
pub enum Hold<'a> {
    /// SMFIR_QUARANTINE: the MTA holds the message (Postfix's hold queue).
    Quarantine,
    /// The MTA did not allow SMFIF_QUARANTINE: `dmarc.quarantine_header` is added instead, so
    /// the message is still filed as junk rather than delivered as if nothing failed.
    Header(&'a HeaderLine),
}

impl<'a> Hold<'a> {
    /// SMFIR_QUARANTINE when the negotiation allowed it, else the quarantine header.
    pub fn negotiated(options: &Negotiated, header: &'a HeaderLine) -> Self {
        if options.allows(Actions::QUARANTINE) {
            Self::Quarantine
        } else {
            Self::Header(header)
        }
    }
}

/// The milter responses for a decision, in sending order (module docs).
pub fn decision_responses(d: &Decision, hold: Hold<'_>) -> Vec<Response> {
    let mut out = Vec::new();
    if d.verdict == Verdict::Accept {
        let mut names: Vec<&str> = d.delete.iter().map(|h| h.name.as_str()).collect();
        names.sort_unstable_by_key(|n| n.to_ascii_lowercase());
        names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        for name in names {
            let indexes = d
                .delete
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.index);
            out.extend(Response::delete_headers(name.as_bytes(), indexes));
        }
        for h in d.prepend.iter().rev() {
            out.push(Response::InsHeader {
                index: 0,
                name: Bytes::from(h.name.clone()),
                value: Bytes::from(h.value.clone()),
            });
        }
        for h in &d.append {
            out.push(Response::AddHeader {
                name: Bytes::from(h.name.clone()),
                value: Bytes::from(h.value.clone()),
            });
        }
        if let Some(sender) = &d.new_sender {
            out.push(Response::ChgFrom {
                from: Bytes::from(format!("<{sender}>")),
                args: d.new_sender_args.clone().map(Bytes::from),
            });
        }
        for r in &d.recipients {
            out.push(match r {
                RcptChange::Delete(a) => Response::DelRcpt(Bytes::from(format!("<{a}>"))),
                RcptChange::Add(a) => Response::AddRcpt(Bytes::from(format!("<{a}>"))),
            });
        }
        if let Some(reason) = &d.quarantine {
            let reason: String = reason
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let reason = if reason.trim().is_empty() {
                "quarantined by authmilter".to_string()
            } else {
                reason
            };
            out.push(match hold {
                Hold::Quarantine => Response::Quarantine(Bytes::from(reason)),
                Hold::Header(h) => Response::AddHeader {
                    name: Bytes::from(h.name.clone()),
                    value: Bytes::from(h.value.clone()),
                },
            });
        }
    }
    out.push(match &d.verdict {
        Verdict::Accept => Response::Continue,
        Verdict::Discard => Response::Discard,
        Verdict::Reject(r) | Verdict::TempFail(r) => Response::ReplyCode(r.clone()),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{HeaderDeletion, NewHeader};

    #[test]
    fn order_of_changes() {
        let mut d = Decision::accept();
        d.delete = vec![
            HeaderDeletion {
                name: "Authentication-Results".into(),
                index: 1,
            },
            HeaderDeletion {
                name: "Authentication-Results".into(),
                index: 3,
            },
        ];
        d.prepend = vec![
            NewHeader::new("DKIM-Signature", "v=1"),
            NewHeader::new("Authentication-Results", "mx; none"),
        ];
        let r = decision_responses(&d, Hold::Quarantine);
        let names: Vec<String> = r
            .iter()
            .map(|r| match r {
                Response::ChgHeader { index, .. } => format!("del{index}"),
                Response::InsHeader { name, .. } => String::from_utf8_lossy(name).into_owned(),
                Response::Continue => "continue".into(),
                other => format!("{other:?}"),
            })
            .collect();
        // deletions highest first; the bottom-most new header is inserted first at index 0
        assert_eq!(
            names,
            [
                "del3",
                "del1",
                "Authentication-Results",
                "DKIM-Signature",
                "continue"
            ]
        );
    }
}
