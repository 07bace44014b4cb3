//! The configuration file: the documented reference file and docs against the defaults; the
//! values refused at load, the limits and the sockets in the modules it declares.

use super::*;

// Settings refused at load (unknown keys, bad values, cross-key rules), with key and line.
mod load_errors;
// Limits past what serve can hold, and zero limits and timeouts.
mod limits;
// Listeners, and the sockets of the socketmap, the metrics and the dashboard.
mod sockets;

/// The documented reference file at the repository root.
const SAMPLE: &str = include_str!("../../milter.toml");

#[test]
fn empty_file_is_the_default_config() {
    assert_eq!(Config::parse("").unwrap(), Config::default());
}

#[test]
fn reference_file_matches_the_defaults() {
    assert_eq!(Config::parse(SAMPLE).unwrap(), Config::default());
}

#[test]
fn reference_file_documents_every_key() {
    // Every key of the effective config appears in the reference file: plain keys as
    // `key =`, arrays of tables as `[[section.key]]` (possibly as a commented example).
    let effective = Config::default().to_toml().unwrap();
    let root: toml::Value = toml::from_str(&effective).unwrap();
    let mut missing = Vec::new();
    let toml::Value::Table(sections) = root else {
        panic!("config is not a table")
    };
    // nested tables ([reports.failure]) are sections of their own
    let mut flat: Vec<(String, toml::Table)> = Vec::new();
    for (section, body) in sections {
        let toml::Value::Table(keys) = body else {
            continue;
        };
        for (key, value) in &keys {
            if let toml::Value::Table(sub) = value {
                flat.push((format!("{section}.{key}"), sub.clone()));
            }
        }
        flat.push((section, keys));
    }
    for (section, keys) in flat {
        for (key, value) in keys {
            if matches!(value, toml::Value::Table(_)) {
                assert!(
                    SAMPLE.contains(&format!("[{section}.{key}]")),
                    "{section}.{key}"
                );
                continue;
            }
            let documented = match value {
                toml::Value::Array(items)
                    if items.is_empty() && !SAMPLE.contains(&format!("{key} = []")) =>
                {
                    SAMPLE.contains(&format!("[[{section}.{key}]]"))
                }
                toml::Value::Array(items)
                    if matches!(items.first(), Some(toml::Value::Table(_))) =>
                {
                    SAMPLE.contains(&format!("[[{section}.{key}]]"))
                }
                _ => SAMPLE.contains(&format!("\n{key} = ")),
            };
            if !documented {
                missing.push(format!("{section}.{key}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keys missing from milter.toml: {missing:?}"
    );
}

#[test]
fn example_configs_parse() {
    let two = include_str!("../../examples/milter-two-listeners.toml");
    let c = Config::parse(two).unwrap();
    assert_eq!(c.server.listen.len(), 2);
    assert_eq!(c.dkim.signing.len(), 2);
}

#[test]
fn reference_doc_describes_every_key() {
    let doc = include_str!("../../docs/configuration.md");
    let effective = Config::default().to_toml().unwrap();
    let root: toml::Value = toml::from_str(&effective).unwrap();
    let toml::Value::Table(sections) = root else {
        panic!("not a table")
    };
    let mut missing = Vec::new();
    let mut flat: Vec<(String, toml::Value)> = Vec::new();
    for (section, body) in sections {
        if let toml::Value::Table(keys) = &body {
            for (key, value) in keys {
                if value.is_table() {
                    flat.push((format!("{section}.{key}"), value.clone()));
                }
            }
        }
        flat.push((section, body));
    }
    for (section, body) in flat {
        if !doc.contains(&format!("[{section}]")) {
            missing.push(section.clone());
        }
        if let toml::Value::Table(keys) = body {
            for key in keys.iter().filter(|(_, v)| !v.is_table()).map(|(k, _)| k) {
                let documented = doc.contains(&format!("| `{key}` |"))
                    || doc.contains(&format!("[[{section}.{key}]]"));
                if !documented {
                    missing.push(format!("{section}.{key}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
}

/// `config check` prints every key with its default (docs/cli.md); `[srs] hash_minimum`'s
/// default follows `hash_length`, so unset it is shown as a comment with that value.
#[test]
fn an_unset_hash_minimum_is_printed_with_the_value_it_takes() {
    let unset = Config::default().to_toml().unwrap();
    assert!(
        unset.contains("\n[srs]\n# hash_minimum unset: 4 (the smaller of hash_length and 4)\n"),
        "{unset}"
    );
    let set = Config::parse("[srs]\nhash_minimum = 3\n").unwrap();
    let text = set.to_toml().unwrap();
    assert!(
        text.contains("hash_minimum = 3") && !text.contains("# hash_minimum"),
        "{text}"
    );
    assert_eq!(Config::parse(&unset).unwrap(), Config::default());
}
