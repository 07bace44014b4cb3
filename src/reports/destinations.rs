//! Where a report may go: the checks before a report is sent to a `rua` or `ruf` URI
//! (RFC 9990 §4, RFC 9991 §5) — `mailto:` only, the `reports.deny` list, external destination
//! verification, and the MX check when `require_mx` is on.

use std::collections::HashSet;

use reports::vocabulary::Mode;
use reports::{MxStatus, ReportAddress, ReportKind, Verification};

use crate::app::App;

/// One address a report goes to, with the `!size` limit of the URI it came from (RFC 7489
/// §6.2; the destination's override URI when it gave one, RFC 9990 §4 step 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The `mailto:` address.
    pub address: String,
    /// The URI's size limit in bytes.
    pub max_size: Option<u64>,
}

/// Where one `rua`/`ruf` URI leads after the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Send to these addresses.
    Send(Vec<Destination>),
    /// Not sent (recorded as skipped with the reason).
    Skip {
        /// The address, or the URI when it has none.
        destination: String,
        /// Why.
        why: String,
    },
    /// A temporary DNS error: try again later.
    TempError(String),
}

/// The destination organizations (organizational domains by the public suffix list) whose
/// DNS failed temporarily during one aggregate pass or one failed message: their other
/// destinations are deferred without asking, so a domain owner's slow servers cost one
/// timeout, not one per URI of each of their policy domains (RFC 9990 §4: no authorization
/// either way until they answer).
#[derive(Debug, Default, Clone)]
pub struct DnsTrouble {
    orgs: HashSet<String>,
}

impl DnsTrouble {
    fn org(host: &str) -> String {
        dmarc::psl_organizational_domain(host)
    }

    /// The organization of `host` if its DNS already failed.
    fn failed(&self, host: &str) -> Option<String> {
        let org = Self::org(host);
        self.orgs.contains(&org).then_some(org)
    }

    fn note(&mut self, host: &str) {
        self.orgs.insert(Self::org(host));
    }
}

fn denied(app: &App, address: &str) -> Option<String> {
    let address = address.to_ascii_lowercase();
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    app.config.reports.deny.iter().find_map(|d| {
        // a domain entry as its A-labels, as destinations are written (`bücher.example`)
        let d = crate::config::allowed_domain(d).unwrap_or_else(|| d.trim().to_ascii_lowercase());
        let hit = if d.contains('@') {
            d == address
        } else {
            domain == d || domain.ends_with(&format!(".{d}"))
        };
        hit.then(|| format!("denied by reports.deny ({d})"))
    })
}

/// The checks before a report goes to `uri` (RFC 9990 §4, RFC 9991 §5): `mailto:` only, the
/// deny list, external destination verification (organizations as `mode` finds them), and
/// the MX check when `require_mx` is on.
pub async fn resolve_destination(
    app: &App,
    policy_domain: &str,
    uri: &ReportAddress,
    kind: ReportKind,
    mode: Mode,
    trouble: &mut DnsTrouble,
) -> Resolved {
    let Some(address) = reports::mailto_address(&uri.uri) else {
        return Resolved::Skip {
            destination: uri.uri.clone(),
            why: "not a usable mailto: URI (only mailto: is supported)".into(),
        };
    };
    let skip = |why: String| Resolved::Skip {
        destination: address.to_ascii_lowercase(),
        why,
    };
    if let Some(why) = denied(app, &address) {
        return skip(why);
    }
    let host = reports::destination_host(&uri.uri).unwrap_or_default();
    if let Some(org) = trouble.failed(&host) {
        return Resolved::TempError(format!(
            "verifying {}: the DNS of {org} failed earlier in this pass",
            uri.uri
        ));
    }
    let uris =
        match reports::verify_destination(&*app.resolver, policy_domain, uri, kind, mode).await {
            Verification::TempError(e) => {
                trouble.note(&host);
                return Resolved::TempError(format!("verifying {}: {e}", uri.uri));
            }
            // the policy domain's DNS failed: only this report waits
            Verification::PolicyTempError(e) => {
                return Resolved::TempError(format!("verifying {}: {e}", uri.uri));
            }
            Verification::NotAuthorized(why) => {
                return skip(format!("external destination not authorized: {why}"));
            }
            v => v.destinations(uri),
        };
    let mut out = Vec::new();
    for u in uris {
        let Some(a) = reports::mailto_address(&u.uri) else {
            continue;
        };
        if let Some(why) = denied(app, &a) {
            return skip(why);
        }
        if app.config.reports.require_mx {
            let host = a.rsplit_once('@').map_or("", |(_, d)| d);
            if let Some(org) = trouble.failed(host) {
                return Resolved::TempError(format!(
                    "MX lookup of {host}: the DNS of {org} failed earlier in this pass"
                ));
            }
            match reports::mx_exists(&*app.resolver, host).await {
                MxStatus::Exists => {}
                MxStatus::Missing => return skip(format!("{host} has no MX or address")),
                MxStatus::TempError => {
                    trouble.note(host);
                    return Resolved::TempError(format!("MX lookup of {host} failed"));
                }
            }
        }
        out.push(Destination {
            address: a,
            // the `!size` suffix is RFC 7489's (§6.2); RFC 9989 §4.8 made it obsolete:
            // "reporters should ignore" it, so a report goes to every listed address
            max_size: if mode == Mode::Rfc7489 {
                u.max_size
            } else {
                None
            },
        });
    }
    if out.is_empty() {
        return skip("no usable address".into());
    }
    Resolved::Send(out)
}

/// The items of `lists` taken in turns, each list's first before any list's second, each
/// with its list's tag: how a report's addresses are bounded without one URI's list taking
/// every slot (RFC 9990 §3.5).
pub fn in_turns<T: Copy, U>(lists: Vec<(T, Vec<U>)>) -> Vec<(T, U)> {
    let mut iters: Vec<(T, std::vec::IntoIter<U>)> = lists
        .into_iter()
        .map(|(tag, list)| (tag, list.into_iter()))
        .collect();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        for (tag, items) in &mut iters {
            if let Some(item) = items.next() {
                out.push((*tag, item));
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// How many destinations a pass skips before sending (not authorized, over the address
/// bound): each counted once, however many URIs led to it, and none that another URI sends to.
pub fn skipped_destinations(new_sends: &[report_store::NewSend]) -> u64 {
    let mut skipped: Vec<&str> = new_sends
        .iter()
        .filter(|s| s.state == report_store::SendState::Skipped)
        .filter(|s| {
            !new_sends.iter().any(|p| {
                p.state == report_store::SendState::Pending && p.destination == s.destination
            })
        })
        .map(|s| s.destination.as_str())
        .collect();
    skipped.sort_unstable();
    skipped.dedup();
    skipped.len() as u64
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dns::Resolver;
    use dns::memory::MemoryResolver;

    use super::*;
    use crate::config::Config;

    /// The destination's own override (RFC 9990 §4 step 9) replaces the URI, `!size` and all
    /// (RFC 7489 §7.1): the Report Consumer's limit is the one that counts, in RFC 7489 mode.
    /// RFC 9989 §4.8 made `!size` obsolete ("reporters should ignore" it): no limit there (a
    /// `!0` kept every report from that address).
    #[tokio::test]
    async fn an_override_keeps_its_own_size_limit() {
        let zone = "rx.example MX 10 mx.rx.example\n\
             a.example._report._dmarc.rx.example TXT \"v=DMARC1; rua=mailto:big@rx.example!1k\"\n";
        let dns: Arc<dyn Resolver> = Arc::new(MemoryResolver::from_zone(zone).unwrap());
        let toml = "[reports]\nenabled = true\nstore = \"sqlite:/nonexistent/r.db\"\n\
                    email = \"dmarc@rx.example\"\n";
        let app = App::new(Config::parse(toml).unwrap(), dns).unwrap();
        let uri = ReportAddress {
            uri: "mailto:d@rx.example".into(),
            max_size: Some(10 << 20),
        };
        for (mode, max_size) in [(Mode::Rfc7489, Some(1024)), (Mode::Rfc9989, None)] {
            let r = resolve_destination(
                &app,
                "a.example",
                &uri,
                ReportKind::Aggregate,
                mode,
                &mut DnsTrouble::default(),
            )
            .await;
            assert_eq!(
                r,
                Resolved::Send(vec![Destination {
                    address: "big@rx.example".into(),
                    max_size,
                }]),
                "{mode}"
            );
        }
    }

    /// `[reports] deny`: a domain covers itself and its subdomains (written in any case, with a
    /// final dot, or with U-labels), an address only itself.
    #[test]
    fn the_deny_list_matches_domains_subdomains_and_addresses() {
        let dns: Arc<dyn Resolver> = Arc::new(MemoryResolver::from_zone("").unwrap());
        let toml =
            "[reports]\ndeny = [\"Bad.Example.\", \"one@ok.example\", \"b\u{fc}cher.example\"]\n";
        let app = App::new(Config::parse(toml).unwrap(), dns).unwrap();
        for hit in [
            "d@bad.example",
            "d@mx.BAD.example",
            "one@ok.example",
            "d@xn--bcher-kva.example",
        ] {
            assert!(denied(&app, hit).is_some(), "{hit}");
        }
        for miss in ["d@notbad.example", "two@ok.example", "d@ok.example"] {
            assert!(denied(&app, miss).is_none(), "{miss}");
        }
    }
}
