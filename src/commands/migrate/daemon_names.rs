//! OpenDKIM's `MacroList` and `MTA` as `[outbound] daemon_names`: both name the MTA daemons
//! (Postfix milter_macro_daemon_name, Sendmail DaemonPortOptions Name=) whose mail is signed
//! (opendkim.conf(5) MacroList, MTA; opendkim(8) `macro=value1|value2`).

use super::Files;
use super::conf::{DataSet, Setting, dataset};
use super::output::Plan;

/// The daemon names gathered from `MacroList` and `MTA`, and the settings they came from.
#[derive(Debug, Default)]
pub struct DaemonNames {
    names: Vec<String>,
    from: Vec<String>,
}

/// A value `[outbound] daemon_names` accepts: one word (config check's rule).
fn is_daemon_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl DaemonNames {
    /// `MacroList`: the values of `daemon_name` (`daemon_name=A|B`, also `daemon_name|A|B`);
    /// other macros and a `daemon_name` without values are listed as unmapped.
    pub fn macro_list(&mut self, s: &Setting, files: &Files, plan: &mut Plan) {
        let shown = format!("{} {}", s.name, s.value);
        let Ok(DataSet::Entries { entries, .. }) = dataset(&s.value, files) else {
            plan.unmapped(
                &shown,
                "macro list not readable; set [outbound] daemon_names yourself",
            );
            return;
        };
        let mut names = Vec::new();
        let mut others = Vec::new();
        for entry in &entries {
            let entry = entry.trim();
            let (macro_name, values) = entry
                .split_once('=')
                .or_else(|| entry.split_once(char::is_whitespace))
                .or_else(|| entry.split_once('|'))
                .unwrap_or((entry, ""));
            if macro_name.trim().trim_matches(['{', '}']) != "daemon_name" {
                others.push(entry.to_string());
                continue;
            }
            for v in values.split('|').map(str::trim).filter(|v| !v.is_empty()) {
                if is_daemon_name(v) {
                    names.push(v.to_string());
                } else {
                    others.push(format!("{macro_name}={v}"));
                }
            }
        }
        if !others.is_empty() {
            plan.unmapped(
                &format!("MacroList entries {}", others.join(", ")),
                "only {daemon_name} with one-word values maps ([outbound] daemon_names)",
            );
        }
        if names.is_empty() {
            if others.is_empty() {
                plan.unmapped(
                    &shown,
                    "a daemon_name without values (any daemon) has no equivalent: list the names in [outbound] daemon_names",
                );
            }
            return;
        }
        self.add(names, &shown);
    }

    /// `MTA`: a list of daemon names.
    pub fn mta(&mut self, s: &Setting, files: &Files, plan: &mut Plan) {
        let shown = format!("{} {}", s.name, s.value);
        let Ok(DataSet::Entries { entries, .. }) = dataset(&s.value, files) else {
            plan.unmapped(
                &shown,
                "name list not readable; set [outbound] daemon_names yourself",
            );
            return;
        };
        let (names, bad): (Vec<String>, Vec<String>) =
            entries.into_iter().partition(|n| is_daemon_name(n));
        if !bad.is_empty() {
            plan.unmapped(
                &format!("MTA entries {}", bad.join(", ")),
                "a daemon name is one word",
            );
        }
        if !names.is_empty() {
            self.add(names, &shown);
        }
    }

    fn add(&mut self, names: Vec<String>, shown: &str) {
        for n in names {
            if !self.names.contains(&n) {
                self.names.push(n);
            }
        }
        self.from.push(format!("OpenDKIM {shown}"));
    }

    /// Writes `[outbound] daemon_names` if any name was found.
    pub fn write(self, plan: &mut Plan) {
        if !self.names.is_empty() {
            plan.set_list(
                "outbound",
                "daemon_names",
                &self.names,
                &self.from.join("; "),
            );
        }
    }
}
