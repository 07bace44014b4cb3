//! `authmilter srs forward|reverse|secret`.
//!
//! `forward` and `reverse` make the same decisions as the milter and the socketmap: senders
//! in `[srs] local_domains` (and our SRS domain) or `exclude_domains` are not rewritten, and
//! only addresses of our own domains are reversed.

use std::process::ExitCode;

use anyhow::Context;
use milter_proto::Envelope;

use crate::cli::SrsCommand;
use crate::forwarding::SrsState;

use super::common::{shown, tool_config};

/// Runs an `srs` subcommand.
pub fn run(cmd: SrsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SrsCommand::Secret => {
            let secret = srs::generate_secret().context("cannot generate a secret")?;
            outln!("{secret}")?;
            Ok(ExitCode::SUCCESS)
        }
        SrsCommand::Forward(a) => {
            let config = tool_config(&a.config)?;
            let state = SrsState::load(&config.srs)?;
            let address = typed_address(&a.address)?;
            match forward(&state, &address) {
                Ok(rewritten) => outln!("{}", srs::address::quote(&rewritten))?,
                Err(why) => {
                    outln!("{}", a.address.trim())?;
                    eprintln!("not rewritten: {why}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SrsCommand::Reverse(a) => {
            let config = tool_config(&a.config)?;
            let state = SrsState::load(&config.srs)?;
            match reverse(&state, &typed_address(&a.address)?) {
                Ok(addr) => {
                    outln!("{}", srs::address::quote(&addr))?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    eprintln!("authmilter: {why}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// An address as it is typed or copied from a log or an SMTP session: the mailbox the
/// milter reads from MAIL FROM (milter_proto [`Envelope::mailbox`]: angle brackets and blanks
/// inside them, a source route, RFC 5321 §4.1.2 `Path`), then a quoted local part unquoted,
/// giving the form SRS works on (the output is quoted again where SMTP needs it). A control
/// character (RFC 5321 §4.1.2 allows none, quoted or not) or an empty local part or domain
/// is refused.
fn typed_address(arg: &str) -> anyhow::Result<String> {
    let refuse = |why: &str| anyhow::anyhow!("{} is not an address: {why}", shown(arg));
    if arg.chars().any(char::is_control) {
        return Err(refuse("it holds a control character"));
    }
    let envelope = Envelope::new(arg.as_bytes().to_vec(), Vec::new());
    // a &str in gives UTF-8 out: the mailbox is a slice cut at ASCII bytes
    let a = std::str::from_utf8(envelope.mailbox()).unwrap_or(arg);
    let address = srs::address::unquote(a).into_owned();
    if let Some((local, domain)) = address.rsplit_once('@') {
        if local.is_empty() {
            return Err(refuse("the local part before @ is empty"));
        }
        if domain.is_empty() {
            return Err(refuse("the domain after @ is empty"));
        }
    }
    Ok(address)
}

/// The SRS address for `sender`, or why it stays as it is.
fn forward(state: &SrsState, sender: &str) -> Result<String, String> {
    let srs_domain = state.srs.srs_domain();
    if let Some((_, domain)) = sender.rsplit_once('@') {
        let always = state.srs.config().always_rewrite;
        if !always && state.srs.is_srs_domain(domain) {
            return Err(format!(
                "{domain} is our SRS domain ([srs] domain); its senders are not rewritten"
            ));
        }
        if !always && state.local.contains(domain) {
            return Err(format!(
                "{domain} is one of [srs] local_domains; its senders are not rewritten"
            ));
        }
        if state.excluded.contains(domain) {
            return Err(format!(
                "{domain} is one of [srs] exclude_domains; its senders are not rewritten"
            ));
        }
    }
    match state.srs.forward(sender, srs_domain) {
        Ok(srs::Forwarded::Rewritten(addr)) => Ok(addr),
        Ok(srs::Forwarded::NotRewritten(why)) => Err(not_rewritten_text(why).to_string()),
        // only a broken SRS1 address of another forwarder: the milter and the socketmap
        // leave such a sender as it is (NOTFOUND), and so does this command
        Err(e) => Err(format!(
            "it looks like another forwarder's SRS1 address but is broken: {e}"
        )),
    }
}

/// Words for the reasons the `srs` crate gives.
fn not_rewritten_text(why: srs::NotRewritten) -> &'static str {
    match why {
        srs::NotRewritten::NullSender => "the null sender <> (a bounce) is never rewritten",
        srs::NotRewritten::NoDomain => "the address has no @domain",
        srs::NotRewritten::OwnDomain => "the address is already in our SRS domain",
        _ => "the address needs no rewriting",
    }
}

/// The original address behind an SRS address of one of our domains.
fn reverse(state: &SrsState, address: &str) -> Result<String, String> {
    let srs_domain = state.srs.srs_domain();
    let Some((_, domain)) = address.rsplit_once('@') else {
        return Err(format!(
            "{address:?} has no @domain; SRS addresses end in @{srs_domain}"
        ));
    };
    if !state.srs.is_srs_domain(domain) && !state.local.contains(domain) {
        return Err(format!(
            "{address} is not an address of our SRS domain {srs_domain} (nor of [srs] local_domains)"
        ));
    }
    state.srs.reverse(address).map_err(|e| e.to_string())
}
