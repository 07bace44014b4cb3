//! OpenDKIM's `SignHeaders` as `[dkim] sign_headers` (opendkim.conf(5) SignHeaders and
//! OmitHeaders: a list holding "*" is a delta to the default list, "+name" adds, "-name"
//! removes; any other list replaces the default).

use dkim::sign::DEFAULT_SIGNED_HEADERS;

/// The `sign_headers` for an OpenDKIM header list (RFC 6376 §5.4): `Ok(None)` when it is
/// authmilter's default list (RFC 6376 §5.4.1), `Err` naming an entry that is not a field name.
pub fn sign_headers(entries: &[String]) -> Result<Option<Vec<String>>, String> {
    let delta = entries.iter().any(|e| e.trim() == "*");
    let mut list: Vec<String> = if delta {
        DEFAULT_SIGNED_HEADERS
            .iter()
            .map(|h| h.to_string())
            .collect()
    } else {
        Vec::new()
    };
    for entry in entries.iter().map(|e| e.trim()).filter(|e| *e != "*") {
        // outside a delta list "+name" and "-name" are no field names: refused below
        let (remove, name) = match entry.split_at_checked(1) {
            Some(("-", name)) if delta => (true, name.trim()),
            Some(("+", name)) if delta => (false, name.trim()),
            _ => (false, entry),
        };
        if let Some(why) = crate::config::header_field_name_problem(name) {
            return Err(format!("{entry:?} is {why}"));
        }
        if remove {
            list.retain(|h| !h.eq_ignore_ascii_case(name));
        } else if !list.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            list.push(name.to_string());
        }
    }
    let default = list.len() == DEFAULT_SIGNED_HEADERS.len()
        && list
            .iter()
            .zip(DEFAULT_SIGNED_HEADERS)
            .all(|(a, b)| a.eq_ignore_ascii_case(b));
    Ok((!default).then_some(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &str) -> Vec<String> {
        v.split(',').map(|s| s.to_string()).collect()
    }

    /// "*,+List-Unsubscribe" became ["*", "+List-Unsubscribe"], which signed only From:
    /// the delta is applied to the default list, and a result equal to it stays the default.
    #[test]
    fn a_delta_list_changes_the_default_list() {
        assert_eq!(sign_headers(&list("*,+List-Unsubscribe")), Ok(None));
        assert_eq!(sign_headers(&list("*, -Bcc")), Ok(None));
        assert_eq!(sign_headers(&list("*")), Ok(None));
        let plus = sign_headers(&list("*,+X-Mailer")).unwrap().unwrap();
        assert_eq!(plus.len(), DEFAULT_SIGNED_HEADERS.len() + 1);
        assert_eq!(plus.last().map(String::as_str), Some("X-Mailer"));
        let minus = sign_headers(&list("*,-date,-List-Id")).unwrap().unwrap();
        assert_eq!(minus.len(), DEFAULT_SIGNED_HEADERS.len() - 2);
        assert!(!minus.iter().any(|h| h == "Date" || h == "List-Id"));
        // a list without "*" replaces the default
        assert_eq!(
            sign_headers(&list("From,To,Subject")),
            Ok(Some(list("From,To,Subject")))
        );
        for bad in ["From,+To", "*,+To:", "*,-", "From,Sub ject", "*,Bad;Name"] {
            assert!(sign_headers(&list(bad)).is_err(), "{bad}");
        }
    }
}
