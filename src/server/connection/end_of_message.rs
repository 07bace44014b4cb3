//! End of message (milter protocol §3.4 SMFIC_BODYEOB): the pipeline's work under the
//! `eom_timeout` budget with PROGRESS while it runs, the message's log line and metrics, then
//! the modifications and exactly one final reply.

use std::sync::Arc;
use std::time::Duration;

use milter_proto::{Actions, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::logging::Escaped;
use crate::metrics::MessageTiming;
use crate::quiet_socket::ReadArrived;

use super::timer::deadline_after;
use super::{ConnError, Connection, out_of_time, write_all};
use crate::server::responses::{Hold, decision_responses};

impl<S> Connection<S>
where
    S: AsyncRead + AsyncWrite + ReadArrived + Unpin + Send,
{
    /// End of message: run the pipeline under the EOM budget, sending PROGRESS while waiting,
    /// then the modifications and exactly one final reply. What the answer for a blown budget
    /// needs from the message (the forged Authentication-Results to remove) is taken first.
    pub(super) async fn end_of_message(&mut self) -> Result<(), ConnError> {
        let q = self.macro_string(b"i");
        self.pipeline.set_queue_id(q);
        let queue_id = self.pipeline.queue_id().unwrap_or("-").to_string();
        let cfg = &self.app.config.server;
        let budget = cfg.eom_timeout.get();
        let every = cfg.progress_interval.get().max(Duration::from_millis(100));
        // the answer for a blown budget is built only then, but it still removes the
        // forged Authentication-Results, which the work consumes with the message
        let fallback_deletions = self.pipeline.fallback_deletions();
        let started = Instant::now();
        let Connection {
            stream,
            session,
            pipeline,
            wbuf,
            write_timeout,
            timer,
            out_of_time: shutdown_deadline,
            ..
        } = self;
        let mut shutting_down = false;
        let decision = {
            // on the heap: the checks' state (DNS lookups in flight) is most of a connection
            // future's size, and a small task future is cheap to spawn and to finish (tokio
            // moves it whole), and costs an idle connection nothing
            let mut work = Box::pin(pipeline.end_of_message());
            let budget_end = deadline_after(budget);
            let mut next_progress = deadline_after(every);
            loop {
                // the work is polled first: when it needs no waiting (the usual case, its
                // DNS answers cached) the timer is never looked at
                let wake = budget_end.min(next_progress);
                let step = tokio::select! {
                    biased;
                    r = timer.within(wake, work.as_mut()) => r,
                    () = out_of_time(shutdown_deadline) => {
                        shutting_down = true;
                        None
                    }
                };
                match step {
                    Some(d) => break Some(d),
                    None if shutting_down || wake >= budget_end => break None,
                    None => {
                        session.send(&Response::Progress, wbuf)?;
                        write_all(stream, timer, wbuf, *write_timeout).await?;
                        next_progress = deadline_after(every);
                    }
                }
            }
        };
        let decision = match decision {
            Some(d) => d,
            None => {
                self.pipeline.after_timeout();
                let why = if shutting_down {
                    format!(
                        "checks did not finish before the shutdown's server.shutdown_timeout ({})",
                        self.app.config.server.shutdown_timeout
                    )
                } else {
                    format!(
                        "checks did not finish within {}",
                        self.app.config.server.eom_timeout
                    )
                };
                tracing::warn!(
                    queue_id = %crate::logging::Field(Escaped::str(&queue_id)),
                    "end-of-message {why}; answering per policy.on_error"
                );
                Arc::new(self.pipeline.fallback_decision(fallback_deletions, &why))
            }
        };
        let timing = MessageTiming {
            since_start: self.message_start.take().map(|t| t.elapsed()),
            end_of_message: started.elapsed(),
        };
        // header deletions are the forged Authentication-Results: when the MTA did not allow
        // them (no SMFIF_CHGHDRS), our header or no delivery (RFC 8601 §5)
        let hold = Hold::negotiated(
            self.session.options(),
            &self.app.config.dmarc.quarantine_header,
        );
        // a quarantine the MTA lets us neither hold nor mark is not delivered as if nothing
        // failed: tempfailed, as forged Authentication-Results we cannot remove are
        let options = self.session.options();
        let unmarkable = decision.quarantine.is_some()
            && !options.allows(Actions::QUARANTINE)
            && !options.allows(Actions::ADDHDRS);
        if unmarkable {
            tracing::error!(
                queue_id = %crate::logging::Field(Escaped::str(&queue_id)),
                "the MTA allows neither quarantine (SMFIF_QUARANTINE) nor adding dmarc.quarantine_header (SMFIF_ADDHDRS): message tempfailed"
            );
        } else if decision.quarantine.is_some() && matches!(hold, Hold::Header(_)) {
            tracing::warn!(
                queue_id = %crate::logging::Field(Escaped::str(&queue_id)),
                "the MTA does not allow quarantine (SMFIF_QUARANTINE): dmarc.quarantine_header added instead"
            );
        }
        let responses = decision_responses(&decision, hold);
        // recipient changes go all or none: a deletion sent without its addition (SRS
        // restoring a bounce recipient, when the MTA allows only one of them) loses a recipient
        let is_rcpt_change =
            |r: &Response| matches!(r, Response::AddRcpt(_) | Response::DelRcpt(_));
        let drop_rcpt_changes = responses
            .iter()
            .filter(|r| is_rcpt_change(r))
            .any(|r| self.session.check(r).and_then(|()| r.validate()).is_err());
        if drop_rcpt_changes {
            tracing::warn!(
                queue_id = %crate::logging::Field(Escaped::str(&queue_id)),
                "recipient changes not sent: the MTA does not allow all of them (SMFIF_ADDRCPT, SMFIF_DELRCPT)"
            );
        }
        // forged Authentication-Results the MTA will not let us delete (no SMFIF_CHGHDRS)
        let mut forged_kept = responses
            .iter()
            .any(|r| matches!(r, Response::ChgHeader { .. }) && self.session.check(r).is_err());
        // what the MTA is told: the decision, or a tempfail when it would not let it be
        // carried out (logged and counted as sent, not as decided)
        let final_accepts = responses
            .iter()
            .any(|r| r.code().is_final() && matches!(r, Response::Continue | Response::Accept));
        let tempfailed = final_accepts && (unmarkable || forged_kept);
        let action = if tempfailed {
            "tempfail"
        } else {
            decision.action()
        };
        // signatures and seals are headers: without SMFIF_ADDHDRS none reaches the message,
        // nor when the message is tempfailed instead of delivered, and the log line and the
        // metrics do not count them as made
        let headers_sent = options.allows(Actions::ADDHDRS) && !tempfailed;
        // the fields are built only when the line is written (not at `log.level = "warn"`)
        if tracing::enabled!(tracing::Level::INFO) {
            let client = self.client_label();
            let fields = decision.results.as_deref().map(|r| r.log_fields());
            let fields = fields.unwrap_or_default();
            let summary = if headers_sent {
                std::borrow::Cow::Borrowed(decision.summary.as_str())
            } else {
                std::borrow::Cow::Owned(headers_not_sent(&decision.summary))
            };
            tracing::info!(
                queue_id = %crate::logging::Field(Escaped::str(&queue_id)),
                client = %crate::logging::Field(Escaped::str(&client)),
                results = %crate::logging::Field(Escaped::summary(&summary)),
                spf = fields.spf,
                dkim = %fields.dkim,
                dmarc = fields.dmarc,
                from_domain = %crate::logging::Field(Escaped::str(&fields.from_domain)),
                iprev = fields.iprev,
                action,
                reply = %crate::logging::Field(Escaped::str(&if tempfailed {
                    String::new()
                } else {
                    decision.verdict.reply_text().unwrap_or_default()
                })),
                elapsed_ms = timing.end_of_message.as_millis() as u64,
                "message"
            );
        }
        self.pipeline.services().metrics.record_message(
            self.pipeline.role(),
            &decision,
            action,
            &self.app.signing,
            timing,
            headers_sent,
        );
        for r in responses {
            if drop_rcpt_changes && is_rcpt_change(&r) {
                continue;
            }
            let is_final = r.code().is_final();
            let r = if is_final && unmarkable && matches!(r, Response::Continue | Response::Accept)
            {
                Response::Tempfail
            } else if is_final && forged_kept && matches!(r, Response::Continue | Response::Accept)
            {
                tracing::error!(
                    queue_id = %crate::logging::Field(Escaped::str(&queue_id)),
                    "forged Authentication-Results could not be removed (the MTA does not allow header changes): message tempfailed"
                );
                Response::Tempfail
            } else {
                r
            };
            if let Err(e) = self.session.send(&r, &mut self.wbuf) {
                if is_final {
                    return Err(e.into());
                }
                forged_kept |= matches!(r, Response::ChgHeader { .. });
                tracing::warn!(
                    queue_id = %crate::logging::Field(Escaped::str(&queue_id)),
                    "modification not sent: {e}"
                );
            }
        }
        // the message counts as received (recorded for reports) once the MTA was sent the
        // decision's own answer: not when a tempfail took its place, nor when the answer
        // could not be written (the MTA then applies its own default). A TCP peer that
        // closed first (its own timeout ran out) still takes the write: its end of stream,
        // there before the answer is written, says it never read it. Looked for before the
        // write, as a peer that reads the answer may close at once (a non-blocking read,
        // nothing waits; what did arrive is kept for the loop, as the next commands).
        let gone = self.closed_already()?;
        self.flush().await?;
        let replaced = final_accepts && (unmarkable || forged_kept);
        self.pipeline.answered(!replaced && !gone);
        Ok(())
    }
}

impl<S> Connection<S>
where
    S: AsyncRead + AsyncWrite + ReadArrived + Unpin + Send,
{
    /// Whether the MTA's end of stream is already here, past what it sent before closing (an
    /// ABORT, a QUIT): what arrived is kept for the loop, as the next commands. Bounded: a few
    /// reads of what is there, never a wait; an MTA still sending is not gone.
    fn closed_already(&mut self) -> Result<bool, ConnError> {
        for _ in 0..4 {
            match self.stream.read_arrived(&mut self.rbuf)? {
                Some(0) => return Ok(true),
                Some(_) => {}
                None => return Ok(false),
            }
        }
        Ok(false)
    }
}

/// The log's results summary of a message whose added headers the MTA did not allow (no
/// SMFIF_ADDHDRS) or that was tempfailed instead: each signature or seal made (`signed=KEY`,
/// `sealed=KEY:i=N`) is marked `:not-sent`, since none reached the message.
fn headers_not_sent(summary: &str) -> String {
    summary
        .split(' ')
        .map(|word| {
            let made = (word.starts_with("signed=") && !word.contains(':'))
                || (word.starts_with("sealed=") && word.contains(":i="));
            if made {
                format!("{word}:not-sent")
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    /// Without SMFIF_ADDHDRS the log line marks each signature and seal made as not sent;
    /// the withheld, failed or refused ones say so already.
    #[test]
    fn unsent_signatures_and_seals_are_marked() {
        assert_eq!(
            super::headers_not_sent(
                "outbound size=4 signed=example.org/s1 signed=example.org/e1:error \
                 signed=b.example/s:withheld sealed=example.org/a1:i=2 sealed=x/y:refused"
            ),
            "outbound size=4 signed=example.org/s1:not-sent signed=example.org/e1:error \
             signed=b.example/s:withheld sealed=example.org/a1:i=2:not-sent sealed=x/y:refused"
        );
    }
}
