//! The corpus zone file, translated to `MemoryResolver` zone text.

use super::*;

/// Translates the corpus zone file (BIND-like: `name [ttl] [IN] TYPE rdata`, TXT data as one or
/// more quoted or unquoted character-strings, possibly inside parentheses; `;ERROR,<name>,<type>,
/// <error>` forces an error, an IP address as name meaning its reverse name) into
/// `MemoryResolver` zone text. NS records are dropped (authmilter never asks for them).
pub(super) fn translate_zone(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix(";ERROR,") {
            let parts: Vec<&str> = rest.split(',').map(str::trim).collect();
            let [name, rtype, error] = parts[..] else {
                panic!("bad error line {line:?}")
            };
            let owner = match name.parse::<IpAddr>() {
                Ok(ip) => dns::reverse_name(ip),
                Err(_) => name.to_string(),
            };
            let _ = writeln!(out, "{owner} {rtype} {error}");
            continue;
        }
        if line.starts_with(';') {
            continue;
        }
        let tokens = zone_tokens(line);
        let mut it = tokens.iter().peekable();
        let name = &it.next().expect("owner").0;
        if it
            .peek()
            .is_some_and(|(t, q)| !q && t.chars().all(|c| c.is_ascii_digit()))
        {
            it.next();
        }
        if it
            .peek()
            .is_some_and(|(t, q)| !q && t.eq_ignore_ascii_case("IN"))
        {
            it.next();
        }
        let rtype = it.next().expect("type").0.to_ascii_uppercase();
        let rdata: Vec<&String> = it.map(|(t, _)| t).collect();
        match rtype.as_str() {
            "TXT" => {
                let joined: String = rdata.iter().map(|s| s.as_str()).collect();
                let escaped = joined.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(out, "{name} TXT \"{escaped}\"");
            }
            "A" | "AAAA" | "PTR" | "CNAME" => {
                let _ = writeln!(out, "{name} {rtype} {}", rdata[0]);
            }
            "MX" => {
                let _ = writeln!(out, "{name} MX {} {}", rdata[0], rdata[1]);
            }
            "NS" => {}
            other => panic!("record type {other} in the zone file"),
        }
    }
    out
}

/// Splits a zone line into (token, was quoted); parentheses outside quotes are dropped.
pub(super) fn zone_tokens(line: &str) -> Vec<(String, bool)> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() || c == '(' || c == ')' => {
                chars.next();
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => s.extend(chars.next()),
                        c => s.push(c),
                    }
                }
                tokens.push((s, true));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                tokens.push((s, false));
            }
        }
    }
    tokens
}
