//! Turning configured reply texts (`550 5.7.1 text`) into validated milter replies.

use milter_proto::SmtpReply;

/// Builds an SMTP reply from `"ddd x.y.z text"` (the enhanced code is optional). Long texts
/// are split over several lines; `%` is escaped by the encoder. `None` when the text is not a
/// usable 4xx/5xx reply (the caller then sends a plain reject/tempfail).
pub fn smtp_reply(text: &str) -> Option<SmtpReply> {
    let text = text.trim();
    let code: u16 = text.get(..3)?.parse().ok()?;
    let rest = text.get(3..)?.trim_start();
    let (enhanced, message) = match rest.split_once(' ') {
        Some((first, tail)) if is_enhanced(first) => (Some(first), tail),
        None if is_enhanced(rest) => (Some(rest), ""),
        _ => (None, rest),
    };
    // Replace control characters: a reply line must not contain CR, LF or NUL.
    let clean: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let lines = split_lines(&clean, 900);
    SmtpReply::multiline(code, enhanced, lines)
        .or_else(|_| SmtpReply::multiline(code, None::<&str>, split_lines(&clean, 900)))
        .ok()
}

fn is_enhanced(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Splits text into lines of at most `max` bytes at spaces (or hard, at char boundaries).
fn split_lines(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        if !current.is_empty() && current.len() + 1 + word.len() > max {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        for c in word.chars() {
            if current.len() + c.len_utf8() > max {
                lines.push(std::mem::take(&mut current));
            }
            current.push(c);
        }
    }
    lines.push(current);
    lines.truncate(milter_proto::MAX_REPLY_LINES);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_replies() {
        let r = smtp_reply("550 5.7.1 DMARC policy of example.com says reject").unwrap();
        assert_eq!(r.code(), 550);
        assert_eq!(
            r.to_wire(),
            b"550 5.7.1 DMARC policy of example.com says reject".to_vec()
        );
        let r = smtp_reply("451 try later").unwrap();
        assert_eq!(r.to_wire(), b"451 try later".to_vec());
        let r = smtp_reply("550 5.7.1 100% sure").unwrap();
        assert_eq!(r.to_wire(), b"550 5.7.1 100%% sure".to_vec());
    }

    #[test]
    fn refuses_bad_replies_and_splits_long_ones() {
        assert!(smtp_reply("250 ok").is_none());
        assert!(smtp_reply("").is_none());
        assert!(smtp_reply("5").is_none());
        // class mismatch: the enhanced code is dropped rather than sending a malformed reply
        let r = smtp_reply("550 4.7.1 text").unwrap();
        assert_eq!(r.to_wire(), b"550 text".to_vec());
        let long = format!("550 5.7.1 {}", "word ".repeat(400));
        let r = smtp_reply(&long).unwrap();
        assert!(r.lines().len() > 1);
        assert!(smtp_reply("550 5.7.1 a\r\nb").is_some());
    }
}
