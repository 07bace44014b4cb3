//! `[dashboard]`: the web pages over the report store (docs/dashboard.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[dashboard]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardConfig {
    /// `IP:PORT` the dashboard listens on (e.g. `127.0.0.1:9852`); empty: no dashboard.
    pub listen: DashboardAddress,
    /// A file holding the access token: sent as `Authorization: Bearer <token>` or as the
    /// password of HTTP basic authentication. Required when `listen` is not a loopback
    /// address; when set, every request needs it.
    pub token_file: PathBuf,
}

/// Where the dashboard listens: `IP:PORT` (`[V6]:PORT` for IPv6), or empty for off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DashboardAddress(pub Option<SocketAddr>);

impl TryFrom<String> for DashboardAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() {
            return Ok(DashboardAddress(None));
        }
        t.parse().map(|a| DashboardAddress(Some(a))).map_err(|_| {
            format!(
                "bad address {s:?}: expected IP:PORT, e.g. \"127.0.0.1:9852\" or \"[::1]:9852\", or \"\" for off"
            )
        })
    }
}

impl From<DashboardAddress> for String {
    fn from(a: DashboardAddress) -> String {
        a.0.map(|a| a.to_string()).unwrap_or_default()
    }
}

impl DashboardConfig {
    /// Checks the values serde cannot check alone: a token is required off loopback.
    pub(super) fn validate(&self, line_of: &dyn Fn(&str) -> String) -> anyhow::Result<()> {
        if let Some(addr) = self.listen.0
            && !addr.ip().is_loopback()
            && self.token_file.as_os_str().is_empty()
        {
            anyhow::bail!(
                "dashboard.listen{}: {addr} is reachable from the network; set dashboard.token_file (a file with the access token) or listen on 127.0.0.1",
                line_of("listen")
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    #[test]
    fn a_token_is_required_off_loopback() {
        assert_eq!(Config::parse("").unwrap().dashboard.listen.0, None);
        for ok in [
            "listen = \"127.0.0.1:9852\"",
            "listen = \"[::1]:9852\"",
            "listen = \"0.0.0.0:9852\"\ntoken_file = \"/etc/authmilter/dashboard.token\"",
        ] {
            assert!(
                Config::parse(&format!("[dashboard]\n{ok}\n")).is_ok(),
                "{ok}"
            );
        }
        for bad in ["0.0.0.0:9852", "192.0.2.2:9852", "[::]:9852"] {
            let err = Config::parse(&format!("[dashboard]\nlisten = \"{bad}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("token_file") && err.contains("line 2"),
                "{err}"
            );
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(
            DashboardAddress::try_from(" ".to_string()),
            Ok(DashboardAddress(None))
        );
        let a = DashboardAddress::try_from("127.0.0.1:9852".to_string()).unwrap();
        assert_eq!(String::from(a), "127.0.0.1:9852");
        assert!(DashboardAddress::try_from("[::1]:9852".to_string()).is_ok());
        for bad in ["localhost:9852", "127.0.0.1", "9852"] {
            assert!(
                DashboardAddress::try_from(bad.to_string()).is_err(),
                "{bad}"
            );
        }
    }
}
