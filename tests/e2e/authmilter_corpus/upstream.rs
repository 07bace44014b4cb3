//! The authentication_milter configuration of a case, and its authmilter equivalent.

use super::*;

/// The parts of an authentication_milter configuration that matter here.
#[derive(Debug)]
pub(super) struct Upstream {
    pub(super) dryrun: bool,
    pub(super) authserv_id: String,
    pub(super) tempfail_on_error: bool,
    /// Enabled handlers (`"!Name"` entries are disabled).
    pub(super) handlers: BTreeSet<String>,
    /// Handlers with `hide_none` (upstream leaves `none` results out of the header).
    pub(super) hide_none: BTreeSet<String>,
    pub(super) hard_reject: bool,
    pub(super) dmarc_whitelist: Vec<String>,
    pub(super) trusted_ips: Vec<String>,
    pub(super) hosts_to_remove: Vec<String>,
}

impl Upstream {
    pub(super) fn load(dir: &Path, name: &str) -> Upstream {
        let text = read_text(&dir.join(format!("{name}.authentication_milter.json")));
        let json: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let v: serde_json::Value = serde_json::from_str(&json).expect("config JSON");
        let flag = |v: &serde_json::Value| v.as_i64().unwrap_or(0) != 0;
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let handlers_json = v["handlers"].as_object().expect("handlers");
        let handlers: BTreeSet<String> = handlers_json
            .keys()
            .filter(|k| !k.starts_with('!'))
            .cloned()
            .collect();
        let hide_none = handlers_json
            .iter()
            .filter(|(k, h)| !k.starts_with('!') && flag(&h["hide_none"]))
            .map(|(k, _)| k.clone())
            .collect();
        Upstream {
            dryrun: flag(&v["dryrun"]),
            authserv_id: v["authserv_id"]
                .as_str()
                .unwrap_or("test.module")
                .to_string(),
            tempfail_on_error: flag(&v["tempfail_on_error"]),
            hide_none,
            hard_reject: flag(
                &handlers_json.get("DMARC").cloned().unwrap_or_default()["hard_reject"],
            ),
            dmarc_whitelist: strings(
                &handlers_json.get("DMARC").cloned().unwrap_or_default()["whitelisted"],
            ),
            trusted_ips: strings(
                &handlers_json.get("TrustedIP").cloned().unwrap_or_default()["trusted_ip_list"],
            ),
            hosts_to_remove: strings(
                &handlers_json.get("Sanitize").cloned().unwrap_or_default()["hosts_to_remove"],
            ),
            handlers,
        }
    }

    /// Whether the handler for `method` runs (the TestTimeout configuration is emulated with
    /// the normal checks; see [`Upstream::toml`]).
    pub(super) fn checks(&self, method: &str) -> bool {
        let handler = match method {
            "spf" | "received-spf" => "SPF",
            "dkim" => "DKIM",
            "dmarc" => "DMARC",
            "iprev" => "IPRev",
            _ => return false,
        };
        self.handlers.contains(handler) || self.handlers.contains("TestTimeout")
    }

    pub(super) fn hides_none(&self, method: &str) -> bool {
        let handler = match method {
            "spf" | "received-spf" => "SPF",
            "dkim" => "DKIM",
            "dmarc" => "DMARC",
            "iprev" => "IPRev",
            _ => return false,
        };
        self.hide_none.contains(handler)
    }

    /// The authmilter configuration equivalent to this one, as far as there are equivalents:
    ///
    /// - one `verify` listener (every message is inbound); authserv-id as configured, else
    ///   `test.module` (the test harness's host name);
    /// - SPF, DKIM, DMARC and IPRev handlers switch `[spf]`, `[dkim] verify`, `[dmarc]` and
    ///   `[iprev]`; the SPF handler adds Received-SPF, so `received_spf_header = true`;
    /// - DMARC `hard_reject` is `[dmarc] enforce = true` (without it upstream quarantines
    ///   p=reject failures, which authmilter cannot express: `enforce = false`);
    /// - DMARC `whitelisted` networks, TrustedIP's list and LocalIP's local address ranges go to
    ///   `[policy] allow_networks` (never refused); `dkim:<domain>` entries go to
    ///   `[policy] allow_domains` (never refused when that domain authenticated the message);
    /// - Sanitize `hosts_to_remove` go to `[authres] remove_ids`;
    /// - `tempfail_on_error` is `[policy] on_error = "tempfail"`, except under
    ///   `dryrun`, which turns every answer into continue: `on_error = "accept"`;
    /// - TestTimeout (every callback sleeps past the 1 s timeouts) is emulated by DNS answers
    ///   slower than a short `eom_timeout`;
    /// - `[dmarc] mode = "rfc7489"` (upstream implements RFC 7489) except in the RFC 9989 run.
    pub(super) fn toml(&self, variant: Variant, enforce: bool) -> String {
        let timeout = self.handlers.contains("TestTimeout");
        let on = |h: &str| self.handlers.contains(h) || timeout;
        let mut allow: Vec<String> = self
            .dmarc_whitelist
            .iter()
            .filter(|w| w.parse::<ipnet::IpNet>().is_ok() || w.parse::<IpAddr>().is_ok())
            .cloned()
            .collect();
        allow.extend(self.trusted_ips.iter().cloned());
        if self.handlers.contains("LocalIP") {
            // IANA special-purpose ranges LocalIP treats as local (Net::IP iptype)
            for n in [
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "100.64.0.0/10",
                "127.0.0.0/8",
                "169.254.0.0/16",
                "240.0.0.0/4",
                "::1/128",
                "fc00::/7",
                "fe80::/10",
            ] {
                allow.push(n.to_string());
            }
        }
        let remove_ids: Vec<String> = self
            .hosts_to_remove
            .iter()
            .filter(|h| !h.eq_ignore_ascii_case(&self.authserv_id))
            .cloned()
            .collect();
        let on_error = if self.tempfail_on_error && (!self.dryrun || variant == Variant::NoDryrun) {
            "tempfail"
        } else {
            "accept"
        };
        let list = |v: &[String]| {
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut t = String::new();
        t.push_str("[server]\n");
        if timeout {
            t.push_str("eom_timeout = \"300ms\"\n");
        }
        t.push_str("[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"verify\"\n");
        let _ = write!(
            t,
            "[authres]\nauthserv_id = {:?}\nremove_forged = true\nremove_ids = [{}]\n",
            self.authserv_id,
            list(&remove_ids)
        );
        let _ = write!(
            t,
            "[spf]\nenabled = {}\nreceived_spf_header = true\n",
            on("SPF")
        );
        let _ = write!(
            t,
            "[dkim]\nverify = {}\nrsa_sha1 = {:?}\n",
            on("DKIM"),
            if variant == Variant::Sha1Verify {
                "verify"
            } else {
                "reject"
            }
        );
        let _ = write!(
            t,
            "[dmarc]\nenabled = {}\nmode = {:?}\nenforce = {}\n",
            on("DMARC"),
            if variant == Variant::Rfc9989 {
                "rfc9989"
            } else {
                "rfc7489"
            },
            self.hard_reject && enforce
        );
        let _ = write!(t, "[iprev]\nenabled = {}\n", on("IPRev"));
        // dkim:<domain> entries: no DMARC action when that domain's signature verifies
        let allow_domains: Vec<String> = self
            .dmarc_whitelist
            .iter()
            .filter_map(|w| w.strip_prefix("dkim:"))
            .map(str::to_string)
            .collect();
        let _ = write!(
            t,
            "[policy]\non_error = {on_error:?}\nallow_networks = [{}]\nallow_domains = [{}]\n",
            list(&allow),
            list(&allow_domains)
        );
        t
    }
}
