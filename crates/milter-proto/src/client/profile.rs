//! MTA profiles: how Postfix, Sendmail and a legacy v2 MTA speak to a milter (docs/design/milter-protocol.md §5, §11.2).

use std::time::Duration;

use crate::{Actions, OptNeg, ProtocolFlags};

/// Which MTA behaviour to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Postfix `smtpd_milters`.
    Postfix,
    /// Postfix `non_smtpd_milters` (cleanup emulates the session; bare addresses).
    PostfixNonSmtpd,
    /// Sendmail 8.14+ `INPUT_MAIL_FILTER`.
    Sendmail,
    /// An old MTA speaking protocol version 2.
    Legacy,
}

/// How many ABORTs follow a finished message (docs/design/milter-protocol.md §2.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortStyle {
    /// None (Sendmail).
    Never,
    /// One after every message.
    Once,
    /// Two after every message.
    Twice,
    /// One after even-numbered and two after odd-numbered messages ("sometimes twice", Postfix).
    Alternate,
}

/// Everything that distinguishes one MTA from another on the milter socket.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Which MTA this imitates.
    pub flavor: Flavor,
    /// The OPTNEG offer (§2.1).
    pub offer: OptNeg,
    /// Send a MACRO packet for every stage, with only the stage byte when no macro has a value.
    pub empty_macro_packets: bool,
    /// Send Postfix's `L` macros before every header and `B` macros before every body chunk.
    pub per_item_macro_letters: bool,
    /// ABORTs after a finished message.
    pub aborts_after_message: AbortStyle,
    /// Send ABORT after a rejected MAIL and before QUIT (Postfix `mail_reset`/`helo_reset`).
    pub abort_on_reset: bool,
    /// Tag IPv6 CONNECT addresses with `IPv6:` (Sendmail).
    pub ipv6_tag: bool,
    /// Send MAIL/RCPT addresses without `<>`, the null sender as `""`, no ESMTP args (non_smtpd).
    pub bare_addresses: bool,
    /// Accept `'p'` before any reply (Postfix); otherwise only after BODYEOB (Sendmail).
    pub progress_anywhere: bool,
    /// Deadline for the reply to a connect/envelope command.
    pub command_timeout: Duration,
    /// Deadline for each reply to a content command and each packet after BODYEOB.
    pub content_timeout: Duration,
    /// Macros sent with CONNECT by default (the caller's own override same-named ones).
    pub connect_macros: Vec<(String, String)>,
    /// The queue id, sent as `i` where this MTA makes it available.
    pub queue_id: String,
}

impl Profile {
    /// Postfix 3.x `smtpd_milters`, `milter_protocol = 6`: offer 6/0x1FF/0x1FFFFF, empty MACRO
    /// packets, `L`/`B` letters, `'A'` after every message (sometimes twice), 30 s/300 s timeouts.
    pub fn postfix() -> Self {
        Self {
            flavor: Flavor::Postfix,
            offer: OptNeg::POSTFIX_V6,
            empty_macro_packets: true,
            per_item_macro_letters: true,
            aborts_after_message: AbortStyle::Alternate,
            abort_on_reset: true,
            ipv6_tag: false,
            bare_addresses: false,
            progress_anywhere: true,
            command_timeout: Duration::from_secs(30),
            content_timeout: Duration::from_secs(300),
            connect_macros: pairs(&[
                ("j", "mx.example.net"),
                ("{daemon_name}", "mx.example.net"),
                ("{daemon_addr}", "198.51.100.1"),
                ("v", "Postfix 3.7.11"),
            ]),
            queue_id: "F2A1C3B0D9".into(),
        }
    }

    /// Postfix `non_smtpd_milters` (sendmail -t / pickup): like [`postfix`](Self::postfix) but
    /// bare addresses, `""` null sender, no ESMTP args; use a new connection per message.
    pub fn postfix_non_smtpd() -> Self {
        Self {
            flavor: Flavor::PostfixNonSmtpd,
            bare_addresses: true,
            ..Self::postfix()
        }
    }

    /// Sendmail 8.14+: offer 6/0x1FF/0x1FFFFF, `IPv6:` tags, only `C H M R T N E` letters, no
    /// ABORT after a finished message, PROGRESS only after BODYEOB, 10 s per reply (`T=R:10s`).
    pub fn sendmail() -> Self {
        Self {
            flavor: Flavor::Sendmail,
            offer: OptNeg::POSTFIX_V6,
            empty_macro_packets: false,
            per_item_macro_letters: false,
            aborts_after_message: AbortStyle::Never,
            abort_on_reset: false,
            ipv6_tag: true,
            bare_addresses: false,
            progress_anywhere: false,
            command_timeout: Duration::from_secs(10),
            content_timeout: Duration::from_secs(10),
            connect_macros: pairs(&[
                ("j", "mx.example.net"),
                ("{daemon_name}", "MTA"),
                ("{if_addr}", "198.51.100.1"),
            ]),
            queue_id: "4AB1cD2e012345".into(),
        }
    }

    /// A legacy MTA: version 2, actions 0x3F, protocol 0x7F (no NR, no LEADSPC, no DATA/UNKNOWN).
    pub fn legacy_v2() -> Self {
        Self {
            flavor: Flavor::Legacy,
            offer: OptNeg {
                version: 2,
                actions: Actions::V2,
                protocol: ProtocolFlags::V2,
            },
            empty_macro_packets: false,
            per_item_macro_letters: false,
            aborts_after_message: AbortStyle::Never,
            abort_on_reset: false,
            ipv6_tag: false,
            bare_addresses: false,
            progress_anywhere: false,
            command_timeout: Duration::from_secs(10),
            content_timeout: Duration::from_secs(10),
            connect_macros: pairs(&[("j", "mx.example.net")]),
            queue_id: "LEGACY01".into(),
        }
    }

    /// The same profile with every deadline set to `t` (tests: fail fast instead of hanging).
    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.command_timeout = t;
        self.content_timeout = t;
        self
    }

    /// The same profile with another OPTNEG offer.
    pub fn with_offer(mut self, offer: OptNeg) -> Self {
        self.offer = offer;
        self
    }

    /// Number of ABORTs to send after the `n`-th (0-based) finished message.
    pub fn aborts_after(&self, n: u64) -> usize {
        match self.aborts_after_message {
            AbortStyle::Never => 0,
            AbortStyle::Once => 1,
            AbortStyle::Twice => 2,
            AbortStyle::Alternate => 1 + (n % 2) as usize,
        }
    }

    /// True for the Postfix flavours.
    pub fn is_postfix(&self) -> bool {
        matches!(self.flavor, Flavor::Postfix | Flavor::PostfixNonSmtpd)
    }
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
