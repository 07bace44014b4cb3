//! The line of a key in the file's text, for errors found after parsing (files a key names,
//! users, sockets): they start with the dotted key, and get its line as parse errors do.

/// `err` with ` (line N)` after the dotted key it starts with (`dkim.key[0].path: ...`,
/// `server.user: ...`), when the key (or its section) is written in `text`; otherwise
/// unchanged.
pub fn with_line(err: anyhow::Error, text: &str) -> anyhow::Error {
    let message = format!("{err:#}");
    let Some((key, rest)) = message.split_once(": ") else {
        return err;
    };
    let is_key = key.contains('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._[]".contains(&b));
    match line_of_key(text, key).filter(|_| is_key) {
        Some(line) => anyhow::anyhow!("{key} (line {line}): {rest}"),
        None => err,
    }
}

/// The 1-based line of `key` (`section.key`, `section.sub.key`, `section[i].key` for the i-th
/// `[[section]]`, or `section[i]` for that block's header) in `text`: the key's own line, or
/// its block's header when the key is not written (its default applies).
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let (path, index, field) = split_key(key)?;
    let lines: Vec<&str> = text.lines().collect();
    // the header: [path], or the index-th [[path]]
    let header = match index {
        Some(i) => {
            let wanted = format!("[[{path}]]");
            lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.trim() == wanted)
                .nth(i)?
                .0
        }
        None => {
            let wanted = format!("[{path}]");
            lines.iter().position(|l| l.trim() == wanted)?
        }
    };
    let Some(field) = field else {
        return Some(header + 1);
    };
    let own = lines
        .iter()
        .enumerate()
        .skip(header + 1)
        .take_while(|(_, l)| !l.trim_start().starts_with('['))
        .find(|(_, l)| {
            l.trim_start()
                .strip_prefix(field)
                .is_some_and(|after| after.trim_start().starts_with('='))
        })
        .map(|(n, _)| n);
    Some(own.unwrap_or(header) + 1)
}

/// `a.b[2].c` → (`a.b`, Some(2), Some(`c`)); `a.b[2]` → (`a.b`, Some(2), None); `a.b.c`
/// → (`a.b`, None, Some(`c`)).
fn split_key(key: &str) -> Option<(&str, Option<usize>, Option<&str>)> {
    if let Some(open) = key.find('[') {
        let close = open + key.get(open..)?.find(']')?;
        let index = key.get(open + 1..close)?.parse().ok()?;
        let field = key.get(close + 1..)?.strip_prefix('.');
        return Some((key.get(..open)?, Some(index), field));
    }
    let (path, field) = key.rsplit_once('.')?;
    Some((path, None, Some(field)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[server]\nuser = \"x\"\n[[server.listen]]\nsocket = \"a\"\n\
                        [[server.listen]]\nrole = \"sign\"\nsocket = \"b\"\n\
                        [reports.failure]\nredaction_key = \"k\"\n[srs]\nenabled = true\n";

    #[test]
    fn keys_are_found_in_their_block() {
        assert_eq!(line_of_key(TEXT, "server.user"), Some(2));
        assert_eq!(line_of_key(TEXT, "server.listen[0].socket"), Some(4));
        assert_eq!(line_of_key(TEXT, "server.listen[1].socket"), Some(7));
        assert_eq!(line_of_key(TEXT, "server.listen[1]"), Some(5));
        assert_eq!(line_of_key(TEXT, "reports.failure.redaction_key"), Some(9));
        // not written: its section's header; no section: nothing
        assert_eq!(line_of_key(TEXT, "srs.domain"), Some(10));
        assert_eq!(line_of_key(TEXT, "dkim.key[0].path"), None);
        assert_eq!(line_of_key(TEXT, "server.listen[2].socket"), None);
    }

    #[test]
    fn errors_get_the_line_of_their_key() {
        let e = with_line(anyhow::anyhow!("server.listen[1].socket: no"), TEXT);
        assert_eq!(e.to_string(), "server.listen[1].socket (line 7): no");
        let e = with_line(anyhow::anyhow!("cannot read x: y"), TEXT);
        assert_eq!(e.to_string(), "cannot read x: y");
    }
}
