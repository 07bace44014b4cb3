use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dns::stats::QueryStats;

use super::*;
use crate::pipeline::decision::NewHeader;
use crate::pipeline::{AppliedPolicy, Decision, PolicyOverride, Results, Verdict};
use crate::signing::SigningKeys;

/// Every sample of a Prometheus text exposition: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("sample line");
            (series.to_string(), value.to_string())
        })
        .collect()
}

fn signature(result: dkim::DkimResult) -> dkim::SignatureResult {
    dkim::SignatureResult {
        result,
        reason: None,
        domain: "example.org".into(),
        selector: "s".into(),
        algorithm: None,
        identity: None,
        header_b: String::new(),
        testing: false,
        key_bits: None,
        body_length: None,
        index: 0,
    }
}

#[test]
fn a_fresh_registry_shows_every_known_series_at_zero() {
    let m = Metrics::unexported();
    let text = m.encode_prometheus().unwrap();
    let s = samples(&text);
    // 4 roles x 5 actions, 26 result words, 4 override kinds, before any message
    assert_eq!(
        s.keys()
            .filter(|k| k.starts_with("authmilter_messages_total{"))
            .count(),
        20
    );
    assert_eq!(
        s.keys()
            .filter(|k| k.starts_with("authmilter_results_total{"))
            .count(),
        26
    );
    assert_eq!(
        s.keys()
            .filter(|k| k.starts_with("authmilter_dmarc_overrides_total{"))
            .count(),
        4
    );
    assert!(
        s.iter()
            .filter(|(k, _)| !k.starts_with("authmilter_build_info"))
            .all(|(_, v)| v.parse::<f64>() == Ok(0.0)),
        "{text}"
    );
    assert_eq!(
        s.get(&format!(
            "authmilter_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        ))
        .map(String::as_str),
        Some("1")
    );
    // the text format, as Prometheus reads it
    assert!(text.contains(
        "# HELP authmilter_messages_total Messages answered at end of message, by listener role and action.\n\
         # TYPE authmilter_messages_total counter\n\
         authmilter_messages_total{role=\""
    ), "{text}");
    assert!(text.contains("\nauthmilter_messages_total{role=\"auto\",action=\"accept\"} 0\n"));
    assert!(
        text.contains("# TYPE authmilter_connections_open gauge\nauthmilter_connections_open 0\n")
    );
    assert!(text.contains("# TYPE authmilter_eom_duration_seconds histogram\n"));
    assert!(text.contains("authmilter_eom_duration_seconds_bucket{le=\"0.005\"} 0\n"));
    assert!(text.contains("authmilter_eom_duration_seconds_bucket{le=\"+Inf\"} 0\n"));
    assert!(
        text.contains(
            "# TYPE authmilter_dns_queries_total counter\nauthmilter_dns_queries_total 0\n"
        )
    );
    assert!(!text.contains("# EOF"));
    // OpenMetrics for scrapers that ask for it
    assert!(m.encode_openmetrics().unwrap().ends_with("# EOF\n"));
}

#[test]
fn one_message_counts_everywhere_it_should() {
    let (sink, _rx) = ResultsSink::bounded(1);
    let dns = Arc::new(QueryStats::default());
    let m = Metrics::new(Arc::clone(&sink), Arc::clone(&dns));

    // a forwarded message: two DKIM signatures, DMARC override by a trusted sealer, signed
    // by us and ARC-sealed
    let mut d = Decision::accept();
    d.results = Some(Arc::new(Results {
        dkim: vec![
            signature(dkim::DkimResult::Fail),
            signature(dkim::DkimResult::Pass),
        ],
        dkim_checked: true,
        ..Results::default()
    }));
    d.applied = Some(AppliedPolicy {
        disposition: dmarc::Disposition::None,
        overrides: vec![PolicyOverride {
            kind: OverrideKind::TrustedForwarder,
            comment: String::new(),
        }],
    });
    d.signed = vec!["example.net/sel".into()];
    d.prepend = vec![
        NewHeader::new("DKIM-Signature", "v=1"),
        NewHeader::new("ARC-Seal", "i=2"),
        NewHeader::new("ARC-Message-Signature", "i=2"),
    ];
    let keys = SigningKeys::default();
    m.record_message(
        Role::Forward,
        &d,
        d.action(),
        &keys,
        MessageTiming {
            since_start: Some(Duration::from_millis(30)),
            end_of_message: Duration::from_millis(7),
        },
        true,
    );
    // an unsigned inbound message, rejected; its start was not seen
    let mut r = Decision::accept();
    r.verdict = Verdict::Reject(milter_proto::SmtpReply::new(550, None, "no").unwrap());
    r.results = Some(Arc::new(Results {
        dkim_checked: true,
        ..Results::default()
    }));
    m.record_message(
        Role::Verify,
        &r,
        r.action(),
        &keys,
        MessageTiming {
            since_start: None,
            end_of_message: Duration::from_secs(3),
        },
        true,
    );
    let open = m.connection_opened();
    let _second = m.connection_opened();
    drop(open);
    m.connection_refused();
    dns.count_query();
    dns.count_cache_hit();
    dns.count_outcome::<()>(&Err(dns::DnsError::ServFail));
    for _ in 0..3 {
        sink.publish(crate::pipeline::FinishedMessage {
            time: 0,
            queue_id: None,
            direction: crate::pipeline::Direction::Inbound,
            client_ip: None,
            helo: None,
            mail_from: Vec::new(),
            recipients: Vec::new(),
            observations: Vec::new(),
            envelope: None,
            decision: Some(std::sync::Arc::new(Decision::accept())),
            headers: None,
            body: None,
            spf_records: Vec::new(),
        });
    }

    let s = samples(&m.encode_prometheus().unwrap());
    let nonzero: BTreeMap<&str, &str> = s
        .iter()
        .filter(|(k, v)| v.parse::<f64>() != Ok(0.0) && !k.starts_with("authmilter_build_info"))
        .filter(|(k, _)| !k.contains("duration_seconds"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        nonzero,
        BTreeMap::from([
            (
                "authmilter_messages_total{role=\"forward\",action=\"accept\"}",
                "1"
            ),
            (
                "authmilter_messages_total{role=\"verify\",action=\"reject\"}",
                "1"
            ),
            (
                "authmilter_results_total{method=\"dkim\",result=\"fail\"}",
                "1"
            ),
            (
                "authmilter_results_total{method=\"dkim\",result=\"pass\"}",
                "1"
            ),
            (
                "authmilter_results_total{method=\"dkim\",result=\"none\"}",
                "1"
            ),
            (
                "authmilter_dmarc_overrides_total{kind=\"trusted_forwarder\"}",
                "1"
            ),
            (
                "authmilter_dkim_signatures_total{key=\"example.net/sel\"}",
                "1"
            ),
            ("authmilter_arc_seals_total", "1"),
            ("authmilter_connections_open", "1"),
            ("authmilter_connections_refused_total", "1"),
            ("authmilter_dns_queries_total", "1"),
            ("authmilter_dns_cache_hits_total", "1"),
            ("authmilter_dns_servfails_total", "1"),
            ("authmilter_results_sink_dropped_total", "2"),
        ])
    );
    // CONNECT→EOM once (30 ms), the EOM work twice (7 ms and 3 s)
    assert_eq!(s["authmilter_message_duration_seconds_count"], "1");
    assert_eq!(
        s["authmilter_message_duration_seconds_bucket{le=\"0.025\"}"],
        "0"
    );
    assert_eq!(
        s["authmilter_message_duration_seconds_bucket{le=\"0.05\"}"],
        "1"
    );
    assert_eq!(s["authmilter_eom_duration_seconds_count"], "2");
    assert_eq!(
        s["authmilter_eom_duration_seconds_bucket{le=\"0.01\"}"],
        "1"
    );
    assert_eq!(s["authmilter_eom_duration_seconds_bucket{le=\"2.5\"}"], "1");
    assert_eq!(s["authmilter_eom_duration_seconds_bucket{le=\"5\"}"], "2");
}

/// Signatures and seals are headers: when the MTA did not allow adding them (no
/// SMFIF_ADDHDRS) none reached the message, and none is counted as made.
#[test]
fn signatures_the_mta_did_not_take_are_not_counted() {
    let (sink, _rx) = ResultsSink::bounded(1);
    let m = Metrics::new(sink, Arc::new(QueryStats::default()));
    let mut d = Decision::accept();
    d.signed = vec!["example.net/sel".into()];
    d.prepend = vec![
        NewHeader::new("DKIM-Signature", "v=1"),
        NewHeader::new("ARC-Seal", "i=2"),
    ];
    let timing = || MessageTiming {
        since_start: None,
        end_of_message: Duration::from_millis(1),
    };
    let keys = SigningKeys::default();
    m.record_message(Role::Sign, &d, d.action(), &keys, timing(), false);
    let s = samples(&m.encode_prometheus().unwrap());
    assert_eq!(
        s["authmilter_messages_total{role=\"sign\",action=\"accept\"}"],
        "1"
    );
    assert!(
        !s.contains_key("authmilter_dkim_signatures_total{key=\"example.net/sel\"}"),
        "{s:?}"
    );
    assert_eq!(s["authmilter_arc_seals_total"], "0");
    m.record_message(Role::Sign, &d, d.action(), &keys, timing(), true);
    let s = samples(&m.encode_prometheus().unwrap());
    assert_eq!(
        s["authmilter_dkim_signatures_total{key=\"example.net/sel\"}"],
        "1"
    );
    assert_eq!(s["authmilter_arc_seals_total"], "1");
}
