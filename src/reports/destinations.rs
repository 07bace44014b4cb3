//! Where a report may go: the checks before a report is sent to a `rua` or `ruf` URI
//! (RFC 9990 §4, RFC 9991 §5) — `mailto:` only, the `reports.deny` list, external destination
//! verification, and the MX check when `require_mx` is on.

use reports::{MxStatus, ReportAddress, ReportKind, Verification};

use crate::app::App;

/// Where one `rua`/`ruf` URI leads after the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Send to these addresses.
    Send(Vec<String>),
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

fn denied(app: &App, address: &str) -> Option<String> {
    let address = address.to_ascii_lowercase();
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    app.config.reports.deny.iter().find_map(|d| {
        let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
        let hit = if d.contains('@') {
            d == address
        } else {
            domain == d || domain.ends_with(&format!(".{d}"))
        };
        hit.then(|| format!("denied by reports.deny ({d})"))
    })
}

/// The checks before a report goes to `uri` (RFC 9990 §4, RFC 9991 §5): `mailto:` only, the
/// deny list, external destination verification, and the MX check when `require_mx` is on.
pub async fn resolve_destination(
    app: &App,
    policy_domain: &str,
    uri: &ReportAddress,
    kind: ReportKind,
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
    let uris = match reports::verify_destination(&*app.resolver, policy_domain, uri, kind).await {
        Verification::TempError(e) => {
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
            match reports::mx_exists(&*app.resolver, host).await {
                MxStatus::Exists => {}
                MxStatus::Missing => return skip(format!("{host} has no MX or address")),
                MxStatus::TempError => {
                    return Resolved::TempError(format!("MX lookup of {host} failed"));
                }
            }
        }
        out.push(a);
    }
    if out.is_empty() {
        return skip("no usable address".into());
    }
    Resolved::Send(out)
}
