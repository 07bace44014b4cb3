//! Comparing our behaviour with upstream's, per method.

use super::*;

// ---------------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------------

/// One compared value.
#[derive(Debug)]
pub(super) struct Item {
    pub(super) case: String,
    pub(super) variant: &'static str,
    pub(super) key: String,
    pub(super) expected: String,
    pub(super) ours: String,
    pub(super) matched: bool,
}

impl Item {
    pub(super) fn is_method(&self) -> bool {
        ["spf", "dkim", "dmarc", "iprev"]
            .iter()
            .any(|m| self.key == *m || self.key.starts_with(&format!("{m} ")))
    }
}

pub(super) const ABSENT: &str = "(absent)";

pub(super) fn compare(
    case: &Case,
    variant: Variant,
    cfg: &Upstream,
    expected: &Observed,
    ours: &Observed,
) -> Vec<Item> {
    let name = case.expected_name();
    let mut items = Vec::new();
    let mut push = |key: String, exp: String, our: String, matched: bool| {
        items.push(Item {
            case: name.clone(),
            variant: variant.label(),
            key,
            expected: exp,
            ours: our,
            matched,
        });
    };
    push(
        "outcome".into(),
        expected.outcome.clone(),
        ours.outcome.clone(),
        expected.outcome == ours.outcome,
    );
    if expected.outcome == "reject" {
        // upstream's expected file is only the rejection
        return items;
    }
    let yes_no = |b: bool| if b { "added" } else { "none" }.to_string();
    push(
        "authentication-results".into(),
        yes_no(expected.ar.is_some()),
        yes_no(ours.ar.is_some()),
        expected.ar.is_some() == ours.ar.is_some(),
    );
    if expected.had_incoming_ar && (expected.ar.is_some() || ours.ar.is_some()) {
        let e = expected.removed_ar.join(" ");
        let o = ours.removed_ar.join(" ");
        push("removed A-R".into(), e.clone(), o.clone(), e == o);
    }
    let (Some(exp_ar), Some(our_ar)) = (&expected.ar, &ours.ar) else {
        return items;
    };

    // Received-SPF
    if cfg.checks("received-spf") {
        let e = expected.received_spf.clone();
        let o = ours.received_spf.clone().unwrap_or_else(|| ABSENT.into());
        match e {
            Some(e) => push("received-spf".into(), e.clone(), o.clone(), e == o),
            None if cfg.hides_none("received-spf") => push(
                "received-spf".into(),
                "none (hidden)".into(),
                o.clone(),
                o == "none",
            ),
            None => push("received-spf".into(), ABSENT.into(), o.clone(), o == ABSENT),
        }
    }

    // SPF of MAIL FROM
    let spf_of = |ar: &AuthenticationResults| {
        ar.by_method("spf")
            .find(|m| m.property("smtp", "mailfrom").is_some())
            .map(|m| {
                let from = m.property("smtp", "mailfrom").unwrap_or_default();
                let domain = from.rsplit('@').next().unwrap_or("").to_ascii_lowercase();
                (m.result.clone(), format!("{} {}", m.result, shown(&domain)))
            })
    };
    if cfg.checks("spf") {
        let o = spf_of(our_ar);
        let o_text = o.as_ref().map(|x| x.1.clone()).unwrap_or(ABSENT.into());
        match spf_of(exp_ar) {
            Some((_, e)) => push("spf".into(), e.clone(), o_text.clone(), e == o_text),
            None if cfg.hides_none("spf") => push(
                "spf".into(),
                "none (hidden)".into(),
                o_text,
                o.is_some_and(|x| x.0 == "none"),
            ),
            None => push("spf".into(), ABSENT.into(), o_text.clone(), o.is_none()),
        }
    }

    // DKIM, per signature
    if cfg.checks("dkim") {
        let sigs = |ar: &AuthenticationResults| -> Vec<(String, String)> {
            ar.by_method("dkim")
                .map(|m| {
                    let key = match (m.property("header", "d"), m.property("header", "b")) {
                        (Some(d), b) => format!(
                            "dkim header.d={} header.b={}",
                            d.to_ascii_lowercase(),
                            b.unwrap_or("").chars().take(8).collect::<String>()
                        ),
                        (None, _) => "dkim".to_string(),
                    };
                    (key, m.result.clone())
                })
                .collect()
        };
        let exp = sigs(exp_ar);
        let mut our = sigs(our_ar);
        if exp.is_empty() {
            let o = our
                .iter()
                .map(|(k, r)| format!("{r} ({k})"))
                .collect::<Vec<_>>()
                .join(", ");
            let o = if o.is_empty() { ABSENT.to_string() } else { o };
            let none = our.len() == 1 && our[0].1 == "none";
            if cfg.hides_none("dkim") {
                push("dkim".into(), "none (hidden)".into(), o, none);
            } else {
                push("dkim".into(), ABSENT.into(), o.clone(), o == ABSENT);
            }
        }
        if !exp.is_empty() {
            for (key, result) in exp {
                let found = our.iter().position(|(k, _)| *k == key);
                let o = found
                    .map(|i| our.remove(i).1)
                    .unwrap_or_else(|| ABSENT.into());
                push(key, result.clone(), o.clone(), result == o);
            }
            for (key, result) in our {
                push(key, ABSENT.into(), result, false);
            }
        }
    }

    // DMARC, per author domain
    if cfg.checks("dmarc") {
        let results = |ar: &AuthenticationResults, policy_prop: (&str, &str)| {
            ar.by_method("dmarc")
                .map(|m| {
                    let key = match m.property("header", "from") {
                        Some(f) => format!("dmarc header.from={}", f.to_ascii_lowercase()),
                        None => "dmarc".into(),
                    };
                    let value = match (m.result.as_str(), m.property(policy_prop.0, policy_prop.1))
                    {
                        ("none" | "permerror" | "temperror", _) => m.result.clone(),
                        (r, Some(p)) => format!("{r} p={p}"),
                        (r, None) => format!("{r} p=-"),
                    };
                    (key, value)
                })
                .collect::<Vec<_>>()
        };
        let exp = results(exp_ar, ("policy", "published-domain-policy"));
        let mut our = results(our_ar, ("policy", "dmarc"));
        if exp.is_empty() {
            let o = our
                .iter()
                .map(|(k, r)| format!("{r} ({k})"))
                .collect::<Vec<_>>()
                .join(", ");
            let o = if o.is_empty() { ABSENT.to_string() } else { o };
            if cfg.hides_none("dmarc") {
                let none = our.len() == 1 && our[0].1 == "none";
                push("dmarc".into(), "none (hidden)".into(), o, none);
            } else {
                push("dmarc".into(), ABSENT.into(), o.clone(), o == ABSENT);
            }
        }
        if !exp.is_empty() {
            for (key, value) in exp {
                let found = our.iter().position(|(k, _)| *k == key);
                let o = found
                    .map(|i| our.remove(i).1)
                    .unwrap_or_else(|| ABSENT.into());
                push(key, value.clone(), o.clone(), value == o);
            }
            for (key, value) in our {
                push(key, ABSENT.into(), value, false);
            }
        }
    }

    // iprev
    if cfg.checks("iprev") {
        let iprev = |ar: &AuthenticationResults, prop: (&str, &str)| {
            ar.by_method("iprev")
                .next()
                .map(|m| format!("{} {}", m.result, m.property(prop.0, prop.1).unwrap_or("")))
        };
        let e = iprev(exp_ar, ("smtp", "remote-ip"));
        let o = iprev(our_ar, ("policy", "iprev")).unwrap_or_else(|| ABSENT.into());
        match e {
            Some(e) => push("iprev".into(), e.clone(), o.clone(), e == o),
            None => push("iprev".into(), ABSENT.into(), o.clone(), o == ABSENT),
        }
    }
    items
}

/// A value as is, or quoted when it is empty or has spaces.
pub(super) fn shown(s: &str) -> String {
    if s.is_empty() || s.contains(char::is_whitespace) {
        format!("{s:?}")
    } else {
        s.to_string()
    }
}

/// RFC 9989 (default) against RFC 7489 mode: the same DMARC results and the same outcome.
pub(super) fn compare_modes(case: &Case, rfc7489: &Observed, rfc9989: &Observed) -> Vec<Item> {
    let dmarc = |o: &Observed| -> String {
        match &o.ar {
            Some(ar) => ar
                .by_method("dmarc")
                .map(|m| {
                    format!(
                        "{} {} {}",
                        m.result,
                        m.property("header", "from").unwrap_or("-"),
                        m.property("policy", "dmarc").unwrap_or("-")
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            None => ABSENT.into(),
        }
    };
    let name = case.expected_name();
    let mut items = Vec::new();
    for (key, a, b) in [
        (
            "outcome (rfc9989 vs rfc7489)",
            rfc7489.outcome.clone(),
            rfc9989.outcome.clone(),
        ),
        ("dmarc (rfc9989 vs rfc7489)", dmarc(rfc7489), dmarc(rfc9989)),
    ] {
        items.push(Item {
            case: name.clone(),
            variant: Variant::Rfc9989.label(),
            key: key.into(),
            matched: a == b,
            expected: a,
            ours: b,
        });
    }
    items
}
