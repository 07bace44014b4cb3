//! The migrated configuration being built, and its rendering as commented TOML.

use std::collections::BTreeMap;

/// One key to write: value (TOML text) and where it came from.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    key: String,
    value: toml::Value,
    from: String,
}

/// What the migration produced.
#[derive(Debug, Default)]
pub struct Plan {
    /// `[section]` → keys in order.
    sections: BTreeMap<&'static str, Vec<Entry>>,
    /// `[[server.listen]]` entries: (socket, role, from).
    pub listeners: Vec<(String, &'static str, String)>,
    /// `[[dkim.key]]` entries: (name, domain, selector, path).
    pub keys: Vec<(String, String, String, String)>,
    /// `[[dkim.signing]]` rules: (from pattern, key names).
    pub rules: Vec<(String, Vec<String>)>,
    /// Settings without an equivalent: (setting as written, why).
    unmapped: Vec<(String, String)>,
    /// Remarks on settings that were mapped with a difference worth knowing.
    notes: Vec<String>,
}

/// What a plan held at one point (its values, and how many comments).
#[derive(Debug)]
pub struct Snapshot {
    sections: BTreeMap<&'static str, Vec<Entry>>,
    listeners: Vec<(String, &'static str, String)>,
    keys: Vec<(String, String, String, String)>,
    rules: Vec<(String, Vec<String>)>,
    unmapped: usize,
    notes: usize,
}

/// The order sections are written in (milter.toml's).
const ORDER: &[&str] = &[
    "server", "log", "dns", "outbound", "authres", "spf", "dkim", "dmarc", "iprev", "policy",
];

impl Plan {
    /// Sets `[section] key = value`, noting the setting it came from.
    pub fn set(&mut self, section: &'static str, key: &str, value: toml::Value, from: &str) {
        let list = self.sections.entry(section).or_default();
        list.retain(|e| e.key != key);
        list.push(Entry {
            key: key.to_string(),
            value,
            from: from.to_string(),
        });
    }

    /// A string value.
    pub fn set_str(&mut self, section: &'static str, key: &str, value: &str, from: &str) {
        self.set(section, key, toml::Value::String(value.to_string()), from);
    }

    /// A list of strings.
    pub fn set_list(&mut self, section: &'static str, key: &str, values: &[String], from: &str) {
        let arr = values
            .iter()
            .map(|v| toml::Value::String(v.clone()))
            .collect();
        self.set(section, key, toml::Value::Array(arr), from);
    }

    /// A setting that has no equivalent, and why.
    pub fn unmapped(&mut self, setting: &str, why: impl Into<String>) {
        self.unmapped.push((setting.to_string(), why.into()));
    }

    /// What the plan holds now, to go back to with [`Plan::undo_if_refused`].
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            sections: self.sections.clone(),
            listeners: self.listeners.clone(),
            keys: self.keys.clone(),
            rules: self.rules.clone(),
            unmapped: self.unmapped.len(),
            notes: self.notes.len(),
        }
    }

    /// Goes back to `before` when config check would refuse the output, and lists `setting`
    /// as unmapped with config check's reason: the output always loads, whatever value the
    /// old configuration held.
    pub fn undo_if_refused(&mut self, before: Snapshot, setting: &str) {
        let unchanged = self.sections == before.sections
            && self.listeners == before.listeners
            && self.keys == before.keys
            && self.rules == before.rules;
        if unchanged {
            return; // only comments were added
        }
        let Err(e) = crate::config::Config::parse(&self.render_values()) else {
            return;
        };
        self.sections = before.sections;
        self.listeners = before.listeners;
        self.keys = before.keys;
        self.rules = before.rules;
        self.unmapped.truncate(before.unmapped);
        self.notes.truncate(before.notes);
        self.unmapped(
            setting,
            format!(
                "config check would refuse the mapped value ({}); not carried over",
                without_line_numbers(&format!("{e:#}"))
            ),
        );
    }

    /// A remark on a mapped setting.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// The commented milter.toml.
    pub fn render(&self, program: &str, file: &str) -> String {
        let mut out = self.render_comments(program, file);
        out.push_str(&self.render_values());
        out
    }

    /// The head comment: the settings not carried over and the differences.
    fn render_comments(&self, program: &str, file: &str) -> String {
        let mut out = format!(
            "# milter.toml migrated from {program}'s {file} by `authmilter migrate`.\n\
             # Check it with `authmilter config check -c FILE`; every key not set here has its\n\
             # default (see milter.toml and docs/configuration.md).\n"
        );
        if !self.unmapped.is_empty() {
            out.push_str(&format!(
                "#\n# {program} settings with no equivalent here:\n"
            ));
            for (setting, why) in &self.unmapped {
                out.push_str(&format!(
                    "#   {}\n#       -> {}\n",
                    comment(setting),
                    comment(why)
                ));
            }
        }
        if !self.notes.is_empty() {
            out.push_str("#\n# Differences to know about:\n");
            for n in &self.notes {
                out.push_str(&format!("#   - {}\n", comment(n)));
            }
        }
        out
    }

    /// The sections, each key with the setting it came from.
    fn render_values(&self) -> String {
        let mut out = String::new();
        for section in ORDER {
            let entries = self.sections.get(section);
            let listeners = *section == "server" && !self.listeners.is_empty();
            let keys = *section == "dkim" && (!self.keys.is_empty() || !self.rules.is_empty());
            if entries.is_none() && !listeners && !keys {
                continue;
            }
            out.push_str(&format!("\n[{section}]\n"));
            for e in entries.into_iter().flatten() {
                out.push_str(&format!(
                    "# {}\n{} = {}\n",
                    comment(&e.from),
                    e.key,
                    e.value
                ));
            }
            if listeners {
                for (socket, role, from) in &self.listeners {
                    out.push_str(&format!(
                        "\n# {}\n[[server.listen]]\nsocket = {}\nrole = \"{role}\"\n",
                        comment(from),
                        toml::Value::String(socket.clone())
                    ));
                }
            }
            if keys {
                for (name, domain, selector, path) in &self.keys {
                    let s = |v: &str| toml::Value::String(v.to_string());
                    out.push_str(&format!(
                        "\n[[dkim.key]]\nname = {}\ndomain = {}\nselector = {}\npath = {}\n",
                        s(name),
                        s(domain),
                        s(selector),
                        s(path)
                    ));
                }
                for (from, names) in &self.rules {
                    let list: Vec<String> = names
                        .iter()
                        .map(|n| toml::Value::String(n.clone()).to_string())
                        .collect();
                    out.push_str(&format!(
                        "\n[[dkim.signing]]\nfrom = {}\nkeys = [{}]\n",
                        toml::Value::String(from.clone()),
                        list.join(", ")
                    ));
                }
            }
        }
        out
    }
}

/// `text` as a TOML comment may hold it: no control characters but tab (TOML 1.0,
/// "Comment"); the old file's bytes are shown escaped instead.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `text` without its ` (line N)` parts: they count lines of a rendering nobody sees.
fn without_line_numbers(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(" (line ") {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        let after = tail.get(" (line ".len()..).unwrap_or_default();
        match after.find(')') {
            Some(close)
                if after
                    .get(..close)
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())) =>
            {
                rest = after.get(close + 1..).unwrap_or_default();
            }
            _ => {
                out.push_str(" (line ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The listener of a file whose `Socket` gave none (none in the file: it came from the
/// command line, `-p`; or one not understood): authmilter's default socket with the role the
/// old daemon's mode asks for, and a note to set the socket. Left out, the default listener
/// would be role "auto", which treats clients as ours (signed, never checked) that the old
/// daemon verified.
pub fn default_listener(plan: &mut Plan, role: &'static str, program: &str, why: &str) {
    if !plan.listeners.is_empty() {
        return;
    }
    let socket = crate::config::Listener::default().socket.to_string();
    plan.listeners.push((
        socket.clone(),
        role,
        format!("no Socket {program} listened on could be carried over ({why}): authmilter's default socket"),
    ));
    plan.note(format!(
        "no Socket could be carried over (none in the file, e.g. it came from the command line's -p, or one not understood): the listener is {socket} with role = \"{role}\"; set its socket to what Postfix's smtpd_milters (or Sendmail's INPUT_MAIL_FILTER) names"
    ));
}
