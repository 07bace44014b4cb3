//! Writing RFC 5322 / MIME messages (RFC 5322 §2.1–§3.6, RFC 2045–2046): dates, folded
//! header fields, base64 bodies, boundaries that cannot collide with the content, and header
//! values that cannot inject fields. Shared by the aggregate and failure report mails.

use base64::Engine;

use crate::error::ReportsError;

/// The RFC 5322 §3.3 date-time of a Unix time, in UTC: `Tue, 14 Nov 2023 22:13:20 +0000`.
pub fn rfc5322_date(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        .get((days % 7) as usize)
        .copied()
        .unwrap_or("Thu");
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .get(m.saturating_sub(1) as usize)
    .copied()
    .unwrap_or("Jan");
    format!(
        "{weekday}, {d:02} {month} {y:04} {:02}:{:02}:{:02} +0000",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `YYYY-MM-DD HH:MM:SS UTC`, for human-readable text.
pub fn iso_utc(unix: u64) -> String {
    let (y, m, d) = civil_from_days(unix / 86_400);
    let secs = unix % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// A header value from data we do not control: CR, LF and other control characters become
/// spaces, so that it stays one field (no header injection).
pub fn header_safe(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// The longest piece of a word on one folded line: with the folding space, a line stays
/// within RFC 5322 §2.1.1's 998 octets.
const MAX_WORD: usize = 900;

/// `value`'s words, a word longer than [`MAX_WORD`] octets cut into pieces (at characters).
fn words(value: &str) -> impl Iterator<Item = &str> {
    value.split(' ').filter(|w| !w.is_empty()).flat_map(|w| {
        let mut rest = w;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let mut end = rest.len().min(MAX_WORD);
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            let (piece, tail) = rest.split_at(end);
            rest = tail;
            Some(piece)
        })
    })
}

/// `Name: value` folded at spaces so lines stay under 78 characters where possible
/// (RFC 5322 §2.1.1, §2.2.3), ending in CRLF. A word too long for a line (the line MUST stay
/// within 998 octets) is cut and folded: unfolded, it reads with a space there.
pub fn header(name: &str, value: &str) -> String {
    let value = header_safe(value);
    let mut out = format!("{name}:");
    let mut line_len = out.len();
    for (i, word) in words(&value).enumerate() {
        if i > 0 && line_len + 1 + word.len() > 78 {
            out.push_str("\r\n");
            line_len = 0;
        }
        out.push(' ');
        out.push_str(word);
        line_len += 1 + word.len();
    }
    out.push_str("\r\n");
    out
}

/// Base64 in lines of 76 characters, each ending in CRLF (RFC 2045 §6.8).
pub fn base64_body(data: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(text.len() + text.len() / 76 * 2 + 2);
    for chunk in text.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push_str("\r\n");
    }
    out
}

/// A MIME boundary derived from `seed`, checked not to occur in any of `parts`
/// (RFC 2046 §5.1.1: it must not appear in the encapsulated content).
pub fn boundary(seed: &[u8], parts: &[&[u8]]) -> String {
    let mut counter: u32 = 0;
    loop {
        let mut input = seed.to_vec();
        input.extend(counter.to_be_bytes());
        let digest = crypto::sha256(&input);
        let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        let candidate = format!("=_dmarc_{hex}");
        let needle = candidate.as_bytes();
        let collides = parts
            .iter()
            .any(|p| p.windows(needle.len()).any(|w| w == needle));
        if !collides {
            return candidate;
        }
        counter = counter.wrapping_add(1);
    }
}

/// Checks an address for a header or `mailto`: `local@domain`, printable ASCII, no space,
/// no angle brackets, no quotes. One final dot of the domain (the root) is dropped, as Postfix
/// drops it when it resolves the address: `d@example.com.` is `d@example.com`, one mailbox.
pub fn checked_address(address: &str, what: &'static str) -> Result<String, ReportsError> {
    let trimmed = address.trim();
    let a = trimmed
        .strip_suffix('.')
        .filter(|rest| !rest.ends_with(['.', '@']))
        .unwrap_or(trimmed);
    let ok = a.len() <= 254
        && a.bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>\"(),;:\\[]".contains(&b))
        // exactly one `@`: an unquoted local part has none (RFC 5321 §4.1.2 Dot-string)
        && a.split_once('@')
            .is_some_and(|(l, d)| {
                !l.is_empty() && !d.trim_end_matches('.').is_empty() && !d.contains('@')
            });
    if ok {
        Ok(a.to_string())
    } else {
        Err(ReportsError::InvalidInput {
            what,
            value: address.chars().take(100).collect(),
        })
    }
}

/// The lowercase hex of the first `n` bytes of SHA-256(`data`).
pub fn short_hash(data: &[u8], n: usize) -> String {
    crypto::sha256(data)
        .iter()
        .take(n)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One mailbox is one address: the root's final dot is dropped (a report listed twice,
    /// `d@td.example` and `d@td.example.`, went out twice).
    #[test]
    fn a_final_dot_of_the_domain_is_dropped() {
        assert_eq!(
            checked_address("d@td.example.", "x").unwrap(),
            "d@td.example"
        );
        assert_eq!(
            checked_address("d@td.example", "x").unwrap(),
            "d@td.example"
        );
        assert!(checked_address("d@.", "x").is_err());
        // only the root's one dot goes: a second is kept as written
        assert_eq!(
            checked_address("d@td.example..", "x").unwrap(),
            "d@td.example.."
        );
    }

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_700_000_000),
            "Tue, 14 Nov 2023 22:13:20 +0000"
        );
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(iso_utc(4_102_444_799), "2099-12-31 23:59:59 UTC");
    }

    #[test]
    fn folding_and_injection() {
        let h = header("Subject", "Report Domain: example.com\r\nBcc: x@y");
        assert_eq!(
            h,
            "Subject: Report Domain: example.com  Bcc: x@y\r\n".replace("  ", " ")
        );
        let long = header("Subject", &"word ".repeat(40));
        assert!(long.split("\r\n").all(|l| l.len() <= 78), "{long}");
        assert!(long.ends_with("\r\n") && long.contains("\r\n word"));
        // one 3000-octet word: cut into lines within 998 octets, nothing lost
        let word = "é".repeat(1500);
        let h = header("X", &word);
        assert!(h.split("\r\n").all(|l| l.len() <= 998), "{h}");
        assert_eq!(h.replace("\r\n ", "").replace("X:", "").trim(), word);
    }

    #[test]
    fn boundaries_avoid_content() {
        let b = boundary(b"seed", &[]);
        let content = format!("xx{b}yy");
        let other = boundary(b"seed", &[content.as_bytes()]);
        assert_ne!(b, other);
        assert!(checked_address("a@b.example", "to").is_ok());
        assert!(checked_address("a b@c", "to").is_err());
        assert!(checked_address("a@b\r\nBcc: c@d", "to").is_err());
    }
}
