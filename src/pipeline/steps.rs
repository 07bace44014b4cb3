//! End of message as an ordered list of steps (docs/architecture.md, "The steps at end of
//! message"):
//!
//! 1. forged Authentication-Results are marked for deletion, whatever else happens;
//! 2. a header block over the limits is answered per `[server] on_oversize`, unchecked;
//! 3. the inbound checks finish (SPF, DKIM, iprev, DMARC), when the message is verified;
//! 4. the policy turns the results into an answer;
//! 5. our Authentication-Results (and Received-SPF) are built;
//! 6. our DKIM signatures are made over the header fields as they will be delivered;
//! 7. a forwarder with `[arc] seal` seals the message (RFC 8617 §5.1) over the fields as they
//!    leave, our DKIM signatures included (every change comes before the seal, §5.1 step 1),
//!    with this hop's results;
//! 8. SRS rewrites the envelope of accepted forwarded mail;
//! 9. a message to a report address goes to the report inbox, and is discarded once its
//!    reports are stored when `[reports.inbox] action = "discard"`;
//! 10. the decision is published to the results sink.
//!
//! Headers to add are collected top-down in [`Decision::prepend`]: our ARC set (ARC-Seal,
//! ARC-Message-Signature, ARC-Authentication-Results), then our DKIM signatures, then our
//! Authentication-Results and Received-SPF, all above the MTA's own Received header.

use std::sync::Arc;

use crate::app::App;

use super::decision::{Decision, NewHeader, Verdict};
use super::message::{Direction, MessageState};
use super::policy::{self, PolicyInput};
use super::sink::FinishedMessage;
use super::{Current, MessagePipeline};

impl MessagePipeline {
    /// Runs the steps (module docs) for the finished message.
    pub(super) async fn decide(&mut self, current: Current) -> Arc<Decision> {
        let app = Arc::clone(&self.app);
        let Current {
            state,
            body_hashes,
            inbound,
            mut signing,
            sealing,
            srs_spf,
            capture,
        } = current;
        let hashes = body_hashes.finish();
        let direction = state.direction;
        let mut d = Decision::accept();
        d.body_hashes = hashes.len();

        let mut signing_log = String::new();

        // 1. forged Authentication-Results go, whatever else happens
        d.delete = state.forged_deletions();

        // 2. a header block over the limits is not checked; nor one the MTA went on with
        //    after end of headers: the checks began without those fields, and a verdict on
        //    part of the block could be a pass for a From the reader sees second
        // (built only for the log line of a message that is not checked)
        let queue_id =
            || crate::logging::Escaped::str(state.queue_id.as_deref().unwrap_or("-")).to_string();
        let unchecked = if let Some(over) = state.oversize {
            tracing::warn!(
                queue_id = queue_id().as_str(),
                "message header over the limits ({over}): not checked, answered per server.on_oversize"
            );
            policy::oversize(&app, &over.to_string(), state.forged_left(), &mut d);
            if capture.is_some() {
                tracing::warn!("reports inbox: message not read (header over the limits)");
            }
            Some(over.to_string())
        } else if state.late_header {
            tracing::warn!(
                queue_id = queue_id().as_str(),
                "MTA out of step: a header field came after end of headers; message tempfailed, not judged in part"
            );
            policy::late_header(&mut d);
            Some("late header".to_string())
        } else {
            None
        };
        if let Some(why) = unchecked {
            d.summary = format!(
                "{} size={} unchecked=({why})",
                direction.as_str(),
                state.body_bytes
            );
            let d = Arc::new(d);
            self.publish(state, &d);
            return d;
        }

        // 3. the inbound checks
        let results = if direction.verifies() {
            Some(Arc::new(
                inbound
                    .finish(
                        &app,
                        &mut self.conn.checks,
                        &state,
                        &hashes,
                        self.conn.client.ip,
                    )
                    .await,
            ))
        } else {
            None
        };

        // 4. the policy
        if let Some(r) = &results {
            policy::apply(
                &app,
                &PolicyInput {
                    client_ip: self.conn.client.ip,
                },
                r,
                &mut d,
            );
        }

        // the quarantine mark is ours alone: a sender's own copies of the field (an
        // `X-Spam-Flag: NO` above ours, which Sieve's spamtest reads first) are removed
        let mark = &app.config.dmarc.quarantine_header.name;
        if d.quarantine.is_some() || d.append.iter().any(|h| h.name.eq_ignore_ascii_case(mark)) {
            d.delete.extend(
                state
                    .headers
                    .named(mark)
                    .map(|(_, index)| super::HeaderDeletion {
                        name: mark.clone(),
                        index,
                    }),
            );
        }

        // 5. our Authentication-Results and Received-SPF
        let mut trace = Vec::new();
        let mut our_ar = None;
        if let Some(r) = &results {
            let ar = super::authres_header::authentication_results(
                r,
                &app.authserv_id,
                app.config.dkim.max_signatures,
                self.conn.client.ip,
            );
            trace.push(NewHeader::new(
                "Authentication-Results",
                ar.format(&authres::FormatOptions::milter()),
            ));
            our_ar = Some(ar);
            // Received-SPF records our own check of the client (RFC 7208 §9.1): none for a
            // trusted upstream's result, which was about a client we did not see
            if app.config.spf.received_spf_header
                && r.spf_from_upstream.is_none()
                && let (Some(o), Some(ip)) = (&r.spf_mail, self.conn.client.ip)
            {
                let value = spf::ReceivedSpf::new(o, spf::Identity::MailFrom, ip)
                    .envelope_from(&state.envelope.mail_from)
                    .helo(self.conn.helo.as_deref().unwrap_or_default())
                    .receiver(&app.authserv_id)
                    .folded_value("\n\t");
                trace.push(NewHeader::new("Received-SPF", value));
            }
        }

        // 6. our DKIM signatures, over the header fields as they will be delivered; made
        // before the seal, which must follow every change to the message (RFC 8617 §5.1 step 1)
        let mut signatures = Vec::new();
        if direction == Direction::Forward
            && !state.client_is_ours
            && !signing.is_empty()
            && !author_authenticated(results.as_deref(), signing.author())
        {
            // a stranger's message whose From domain nothing authenticated: a signature
            // aligned with it would make a forgery pass DMARC downstream (RFC 9989 §4.4)
            for label in signing.withhold_aligned() {
                tracing::warn!(key = %label, "not signed: mail from a client that is not ours, with no aligned SPF or DKIM pass for its From domain");
                signing_log.push_str(&format!(" signed={label}:withheld"));
            }
        }
        let author = [signing.author().to_string()];
        if direction.signs()
            && !signing.is_empty()
            && state.our_verdict_leaves_unauthenticated(
                &our_ids(&app),
                &trusted_ids(&app),
                signing.author(),
                |d| super::inbound::could_align(d, &author),
            )
        {
            // a stranger's forgery of our domain that we judged (dmarc=fail, or nothing
            // aligned passed), delivered, and now see again from our own side (a redirect
            // re-submits it): signing it would make it pass DMARC wherever it goes next
            for label in signing.withhold_aligned() {
                tracing::warn!(key = %label, "not signed: the message carries our own verdict that did not authenticate its From domain (an inbound message re-submitted)");
                signing_log.push_str(&format!(" signed={label}:withheld"));
            }
        }
        let mut signed_domains = Vec::new();
        if direction.signs() && d.verdict == Verdict::Accept && !signing.is_empty() {
            let signed = signing.finish(&hashes, &state.delivered_headers(), dkim::unix_now());
            signatures = signed.headers;
            signed_domains = signed.domains;
            for l in &signed.labels {
                signing_log.push_str(&format!(" signed={l}"));
            }
            for l in &signed.failed {
                signing_log.push_str(&format!(" signed={l}:error"));
            }
            d.signed = signed.labels;
        }

        // 7. our ARC seal (forward listeners with [arc] seal), over the header fields as they
        // leave, our DKIM-Signature included (RFC 8617 §5.1 step 1, §4.1.2), with this hop's
        // results (RFC 8617 §5.1)
        let mut seal = Vec::new();
        if let (Some((label, session)), Some(r), Some(ar)) = (sealing, &results, &our_ar)
            && d.verdict == Verdict::Accept
            && let Some(chain) = &r.arc
        {
            let mut out: Vec<::message::HeaderField> = signatures
                .iter()
                .chain(&trace)
                .map(|h| {
                    let value = format!(" {}", h.value.replace("\n", "\r\n"));
                    ::message::HeaderField::new(h.name.clone(), value)
                })
                .collect();
            out.extend(state.delivered_headers());
            // a chain that failed only for a DNS failure (RFC 8617 §5.2.1 makes it `fail`) or
            // our own `max_sets` below the RFC's 50 is not sealed: cv=fail would end it for
            // every later hop (§5.1 step 2), which may validate it
            let unvalidated = chain
                .reason
                .as_ref()
                .filter(|r| chain.result == arc::ChainStatus::Fail && r.left_unvalidated());
            if let Some(reason) = unvalidated {
                let (why, tag) = if reason.is_temporary() {
                    ("for a DNS failure", "dns-failure")
                } else {
                    ("past [arc] max_sets", "set-limit")
                };
                tracing::warn!(
                    key = %label,
                    "ARC not sealed: the chain could not be validated {why} ({reason}), and cv=fail would end it for every later hop"
                );
                signing_log.push_str(&format!(" sealed={label}:{tag}"));
            } else {
                match session.seal(&hashes, &out, chain, ar, dkim::unix_now()) {
                    Ok(set) => {
                        signing_log
                            .push_str(&format!(" sealed={label}:i={}", chain.highest_instance + 1));
                        seal = set
                            .top_down()
                            .iter()
                            .map(|f| NewHeader::new(f.name(), f.value("\n")))
                            .collect();
                    }
                    Err(e) => {
                        tracing::warn!(key = %label, "ARC sealing refused: {e}");
                        signing_log.push_str(&format!(" sealed={label}:refused"));
                    }
                }
            }
        }

        d.prepend = seal.into_iter().chain(signatures).chain(trace).collect();

        d.summary = format!("{} size={}", direction.as_str(), state.body_bytes);
        if let Some(r) = &results {
            d.summary.push(' ');
            r.write_summary(&mut d.summary);
        }
        if direction.signs() {
            d.summary.push_str(if signing_log.is_empty() {
                " unsigned"
            } else {
                &signing_log
            });
        }
        d.results = results;

        // 8. SRS for accepted mail
        if d.verdict == Verdict::Accept {
            super::srs_envelope::apply_srs(&app, &state, srs_spf, &signed_domains, &mut d).await;
        }

        // 9. the report inbox
        if let Some(c) = capture {
            crate::reports::inbox::finish(c, &app, &state, &mut d).await;
        }

        // 10. publish
        let d = Arc::new(d);
        self.publish(state, &d);
        d
    }

    /// Makes the finished message's record for the results sink, if anyone listens, published
    /// once the MTA was sent the decision's answer ([`MessagePipeline::answered`]). The
    /// decision is shared, not copied, and the envelope moves: a few small allocations.
    fn publish(&mut self, mut state: MessageState, d: &Arc<Decision>) {
        let sink = &self.services.sink;
        if !sink.is_enabled() {
            return;
        }
        let headers = self.failure_report_headers(&state, d);
        // the body for `original = "full"`: only with the headers, and only if the whole
        // original stays within the failure report's bound
        let body = headers.as_ref().and_then(|h| {
            let body = state.take_body()?;
            let whole = crate::reports::failure::header_bytes(h).saturating_add(body.len());
            (whole <= crate::reports::failure::MAX_ORIGINAL_BYTES).then(|| Arc::new(body))
        });
        let spf_records = headers
            .as_ref()
            .and_then(|_| d.results.as_ref()?.spf_mail.as_ref())
            .map(|o| o.records.clone())
            .unwrap_or_default();
        let time = dkim::unix_now();
        let recipients: Vec<Vec<u8>> = state
            .envelope
            .recipients
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        let (observations, envelope) = if d.results.as_ref().is_some_and(|r| r.dmarc.is_some()) {
            let envelope = crate::reports::observe::envelope(
                self.conn.client.ip,
                self.conn.helo.as_deref(),
                &state.envelope.mail_from,
                &recipients,
                state.queue_id.as_deref(),
            );
            let observations = crate::reports::observe::observations(d, &envelope, time);
            (observations, Some(envelope))
        } else {
            (Vec::new(), None)
        };
        self.record = Some(FinishedMessage {
            time,
            queue_id: state.queue_id,
            direction: state.direction,
            client_ip: self.conn.client.ip,
            helo: self.conn.helo.clone(),
            mail_from: state.envelope.mail_from,
            recipients,
            observations,
            envelope,
            decision: sink.keeps_decisions().then(|| Arc::clone(d)),
            headers,
            body,
            spf_records,
        });
    }

    /// The header fields for a failure report (RFC 9991), copied only when one may be due:
    /// failure reports are on, a DMARC record of the message has `ruf=`, and the block is
    /// within `reports::failure::MAX_HEADER_BYTES`.
    fn failure_report_headers(
        &self,
        state: &MessageState,
        d: &Decision,
    ) -> Option<Arc<Vec<message::HeaderField>>> {
        let reports = &self.app.config.reports;
        if !(reports.enabled && reports.failure.enabled) {
            return None;
        }
        let dmarc = d.results.as_ref()?.dmarc.as_ref()?;
        let fields = state.headers.fields();
        (dmarc
            .evaluations
            .iter()
            .any(|e| e.record.as_ref().is_some_and(|r| !r.ruf.is_empty()))
            && crate::reports::failure::header_bytes(fields)
                <= crate::reports::failure::MAX_HEADER_BYTES)
            .then(|| Arc::new(fields.to_vec()))
    }
}

/// Whether the checks authenticated the From domain `author`: an SPF or DKIM pass aligned
/// with it (RFC 9989 §4.4, computed with or without a DMARC record). Without DMARC results
/// (`[dmarc] enabled = false`) the SPF and DKIM passes are aligned here, relaxed, by the
/// public suffix list: turning DMARC evaluation off must not make our keys sign a stranger's
/// forgery of our domain. No results at all: nothing authenticated it.
pub(super) fn author_authenticated(results: Option<&super::Results>, author: &str) -> bool {
    let Some(r) = results else {
        return false;
    };
    if let Some(dmarc) = &r.dmarc {
        return dmarc
            .primary()
            .is_some_and(|e| e.spf_aligned() || e.dkim_aligned());
    }
    let authors = [author.to_string()];
    let spf = r.spf_mail.as_ref().is_some_and(|o| {
        o.result == spf::SpfResult::Pass && super::inbound::could_align(&o.domain, &authors)
    });
    spf || r.dkim.iter().any(|s| {
        s.result == dkim::DkimResult::Pass && super::inbound::could_align(&s.domain, &authors)
    })
}

/// The authserv-ids of our hosts whose verdicts a re-submitted message may carry: ours and
/// the other hosts of ours (`remove_ids`), RFC 8601 §5.
fn our_ids(app: &App) -> Vec<&str> {
    std::iter::once(app.authserv_id.as_str())
        .chain(app.config.authres.remove_ids.iter().map(String::as_str))
        .collect()
}

/// The upstreams we trust (`trusted_ids`): their `dmarc=fail` withholds our keys, their
/// passes never unlock them (a sender that reached us directly may have written the field).
fn trusted_ids(app: &App) -> Vec<&str> {
    app.config
        .authres
        .trusted_ids
        .iter()
        .map(String::as_str)
        .collect()
}
