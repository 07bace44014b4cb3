//! Hostile or broken answers: records for names the question did not ask about, or of another
//! type, never reach the checks (an A record for another name in the answer would otherwise
//! let an SPF `a:` mechanism match an address the domain never published).

use std::net::Ipv4Addr;
use std::time::Duration;

use dns::hickory::{HickoryConfig, HickoryResolver};
use dns::{DnsError, Resolver};
use test_support::dns_server::{Answer, UdpNameserver, name_rdata, qtype, txt_rdata};

fn resolver(addr: std::net::SocketAddr) -> HickoryResolver {
    HickoryResolver::new(&HickoryConfig {
        nameservers: vec![addr],
        timeout: Duration::from_secs(2),
        attempts: 1,
        ..HickoryConfig::default()
    })
    .unwrap()
}

fn rec(owner: &str, rtype: u16, rdata: Vec<u8>) -> (String, u16, Vec<u8>) {
    (owner.to_string(), rtype, rdata)
}

#[tokio::test]
async fn records_for_other_names_or_types_are_dropped() {
    let server = UdpNameserver::start(|t, name| match (t, name) {
        (qtype::A, "mail.example") => Answer::Raw(vec![
            rec("mail.example", qtype::A, vec![192, 0, 2, 1]),
            rec("evil.example", qtype::A, vec![203, 0, 113, 66]),
        ]),
        (qtype::TXT, "spf.example") => Answer::Raw(vec![
            rec("other.example", qtype::TXT, txt_rdata(b"v=spf1 +all")),
            rec("spf.example", qtype::TXT, txt_rdata(b"v=spf1 -all")),
        ]),
        (qtype::TXT, "typed.example") => Answer::Raw(vec![
            rec("typed.example", qtype::TXT, txt_rdata(b"v=spf1 -all")),
            rec("typed.example", qtype::A, vec![203, 0, 113, 66]),
        ]),
        (qtype::TXT, "alias.example") => Answer::Raw(vec![
            rec(
                "alias.example",
                qtype::CNAME,
                name_rdata("target.example").unwrap(),
            ),
            rec("target.example", qtype::TXT, txt_rdata(b"v=DKIM1; p=")),
            rec(
                "bystander.example",
                qtype::TXT,
                txt_rdata(b"v=DKIM1; p=evil"),
            ),
        ]),
        // owners in another case, a chain listed end first: still the question's records
        (qtype::TXT, "case.example") => Answer::Raw(vec![
            rec("Target.CASE.example", qtype::TXT, txt_rdata(b"v=spf1 -all")),
            rec(
                "CASE.Example",
                qtype::CNAME,
                name_rdata("TARGET.case.example").unwrap(),
            ),
        ]),
        _ => Answer::NxDomain,
    })
    .unwrap();
    let r = resolver(server.addr());
    assert_eq!(
        r.txt("Case.Example").await.unwrap(),
        [b"v=spf1 -all".to_vec()]
    );
    assert_eq!(
        r.a("mail.example").await.unwrap(),
        [Ipv4Addr::new(192, 0, 2, 1)]
    );
    assert_eq!(
        r.txt("spf.example").await.unwrap(),
        [b"v=spf1 -all".to_vec()]
    );
    assert_eq!(
        r.txt("typed.example").await.unwrap(),
        [b"v=spf1 -all".to_vec()]
    );
    assert_eq!(
        r.txt("alias.example").await.unwrap(),
        [b"v=DKIM1; p=".to_vec()]
    );
    assert_eq!(r.txt("nothing.example").await, Err(DnsError::NxDomain));
}

/// RFC 2181 §8: a TTL with the top bit set is read as 0 (not kept); 2^31 - 1 is kept (clamped
/// to the configured maximum); 0 is not kept.
#[tokio::test]
async fn ttls_with_the_top_bit_set_are_zero() {
    let server = UdpNameserver::start(|t, name| match (t, name) {
        (qtype::A, "huge.example") => Answer::RecordsWithTtl(0x8000_0000, vec![vec![192, 0, 2, 1]]),
        (qtype::A, "max.example") => Answer::RecordsWithTtl(0x7fff_ffff, vec![vec![192, 0, 2, 2]]),
        (qtype::A, "zero.example") => Answer::RecordsWithTtl(0, vec![vec![192, 0, 2, 3]]),
        (qtype::A, "all-ones.example") => {
            Answer::RecordsWithTtl(u32::MAX, vec![vec![192, 0, 2, 4]])
        }
        _ => Answer::NxDomain,
    })
    .unwrap();
    let r = resolver(server.addr());
    let asked = |name: &str| server.questions().iter().filter(|(_, n)| n == name).count();
    for name in [
        "huge.example",
        "max.example",
        "zero.example",
        "all-ones.example",
    ] {
        assert_eq!(r.a(name).await.unwrap().len(), 1);
        assert_eq!(r.a(name).await.unwrap().len(), 1);
    }
    assert_eq!(asked("huge.example"), 2, "top bit set: TTL 0, not cached");
    assert_eq!(asked("max.example"), 1, "cached");
    assert_eq!(asked("zero.example"), 2, "TTL 0: not cached");
    assert_eq!(asked("all-ones.example"), 2, "2^32 - 1: top bit set");
}

/// A truncated UDP answer whose TCP retry fails is a temporary failure, never "no data".
#[tokio::test]
async fn truncation_without_tcp_is_temporary() {
    let server = UdpNameserver::start(|_, _| Answer::Truncated).unwrap();
    let r = resolver(server.addr());
    let got = r.txt("big.example").await;
    assert!(got.as_ref().is_err_and(DnsError::is_temporary), "{got:?}");
}

/// An RRset holds no two identical records (RFC 2181 §5): a server that repeats one is read
/// as having sent it once, so a repeated SPF or DMARC record is one record, not the "several
/// records" that make SPF `permerror` (RFC 7208 §4.5) and DMARC skip the policy (RFC 7489
/// §6.6.3).
#[tokio::test]
async fn repeated_records_count_once() {
    let server = UdpNameserver::start(|t, name| match (t, name) {
        (qtype::TXT, "_dmarc.twice.example") => Answer::Raw(vec![
            rec(
                "_dmarc.twice.example",
                qtype::TXT,
                txt_rdata(b"v=DMARC1; p=reject"),
            ),
            rec(
                "_dmarc.twice.example",
                qtype::TXT,
                txt_rdata(b"v=DMARC1; p=reject"),
            ),
        ]),
        (qtype::A, "twice.example") => Answer::Raw(vec![
            rec("twice.example", qtype::A, vec![192, 0, 2, 1]),
            rec("twice.example", qtype::A, vec![192, 0, 2, 2]),
            rec("twice.example", qtype::A, vec![192, 0, 2, 1]),
        ]),
        _ => Answer::NxDomain,
    })
    .unwrap();
    let r = resolver(server.addr());
    assert_eq!(
        r.txt("_dmarc.twice.example").await.unwrap(),
        [b"v=DMARC1; p=reject".to_vec()]
    );
    assert_eq!(
        r.a("twice.example").await.unwrap(),
        [Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)]
    );
}

/// Records under RCODE 3 (NXDOMAIN: the name does not exist, RFC 1035 §4.1.1, RFC 8020) or an
/// unassigned RCODE contradict themselves: never used as data (an `+all` under them gave an
/// SPF pass), and never cached: a temporary failure. The same records under NOERROR are read.
#[tokio::test]
async fn records_under_a_failure_rcode_are_not_data() {
    let server = UdpNameserver::start(|t, name| match (t, name.split('.').next()) {
        (qtype::TXT, Some(code)) => match code.strip_prefix("rcode") {
            Some(n) => {
                Answer::RecordsWithRcode(n.parse().unwrap_or(0), vec![txt_rdata(b"v=spf1 +all")])
            }
            None => Answer::NxDomain,
        },
        (qtype::A, Some("rcode3")) => Answer::RecordsWithRcode(3, vec![vec![192, 0, 2, 19]]),
        _ => Answer::NxDomain,
    })
    .unwrap();
    let r = resolver(server.addr());
    assert_eq!(
        r.txt("rcode0.example").await.unwrap(),
        [b"v=spf1 +all".to_vec()]
    );
    for code in [3, 11, 12, 15] {
        let name = format!("rcode{code}.example");
        match r.txt(&name).await {
            Err(e) => assert!(e.is_temporary(), "{name}: {e:?}"),
            Ok(v) => panic!("{name}: read as data: {v:?}"),
        }
    }
    assert!(r.a("rcode3.example").await.unwrap_err().is_temporary());
}

/// An MX or PTR name whose label holds a dot (or a byte that is not printable ASCII) cannot be
/// asked for again by name: hickory's text form escapes it (`mail\.relay.m.example`), and that
/// text read back as labels named another host (label `mail\`), whose A records anyone could
/// publish (RFC 7208 §5.4, §5.5; RFC 8601 §3). Such a name is left out; the others stay.
#[tokio::test]
async fn names_that_need_escaping_are_left_out_of_mx_and_ptr_answers() {
    let odd_name = |first: &[u8]| {
        let mut n = vec![u8::try_from(first.len()).unwrap()];
        n.extend_from_slice(first);
        n.extend(name_rdata("m.example").unwrap());
        n
    };
    let mx = |preference: u16, name: Vec<u8>| {
        let mut rdata = preference.to_be_bytes().to_vec();
        rdata.extend(name);
        rdata
    };
    let server = UdpNameserver::start(move |t, name| match (t, name) {
        (qtype::MX, "m.example") => Answer::Raw(vec![
            rec("m.example", qtype::MX, mx(10, odd_name(b"mail.relay"))),
            rec("m.example", qtype::MX, mx(20, odd_name(b"caf\xc3\xa9"))),
            rec(
                "m.example",
                qtype::MX,
                mx(30, name_rdata("Good.M.example").unwrap()),
            ),
        ]),
        (qtype::PTR, "9.2.0.192.in-addr.arpa") => Answer::Raw(vec![
            rec(
                "9.2.0.192.in-addr.arpa",
                qtype::PTR,
                odd_name(b"mail.relay"),
            ),
            rec(
                "9.2.0.192.in-addr.arpa",
                qtype::PTR,
                name_rdata("host.m.example").unwrap(),
            ),
        ]),
        (qtype::MX, "only.example") => Answer::Raw(vec![rec(
            "only.example",
            qtype::MX,
            mx(10, odd_name(b"mail.relay")),
        )]),
        // a broken reply: NXDOMAIN beside an MX record (only an unusable name)
        (qtype::MX, "nx.example") => {
            Answer::RecordsWithRcode(3, vec![mx(10, odd_name(b"mail.relay"))])
        }
        (qtype::PTR, "10.2.0.192.in-addr.arpa") => Answer::Raw(vec![rec(
            "10.2.0.192.in-addr.arpa",
            qtype::PTR,
            odd_name(b"mail.relay"),
        )]),
        _ => Answer::NxDomain,
    })
    .unwrap();
    let r = resolver(server.addr());
    let mx = r.mx("m.example").await.unwrap();
    let names: Vec<&str> = mx.iter().map(|m| m.exchange.as_str()).collect();
    assert_eq!(names, ["good.m.example"]);
    let ptr = r.ptr("192.0.2.9".parse().unwrap()).await.unwrap();
    assert_eq!(ptr, ["host.m.example"]);
    // with every name left out the answer is empty, not NODATA: records were there, so SPF
    // does not count a void lookup (RFC 7208 §4.6.4: an answer with no records)
    assert!(r.mx("only.example").await.unwrap().is_empty());
    assert!(
        r.ptr("192.0.2.10".parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    // records beside NXDOMAIN are a broken reply whatever names they hold: a temporary
    // failure, never an (empty) answer
    for _ in 0..2 {
        match r.mx("nx.example").await {
            Err(e) => assert!(e.is_temporary(), "{e:?}"),
            Ok(v) => panic!("read as data: {v:?}"),
        }
    }
}

/// RFC 5452 §9.1, RFC 1035 §7.3: a reply answers the question that was asked. hickory checks
/// the question of a UDP reply only; one over TCP for another name or type is a temporary
/// failure: never its records (an SPF `+all` for the asked name), never a negative answer.
#[tokio::test]
async fn a_tcp_reply_to_another_question_is_not_believed() {
    let forged = |name: &str, t: u16, inner: Answer| {
        Answer::TruncatedThen(Box::new(Answer::ForQuestion(
            name.to_string(),
            t,
            Box::new(inner),
        )))
    };
    let plus_all =
        |owner: &str| Answer::Raw(vec![rec(owner, qtype::TXT, txt_rdata(b"v=spf1 +all"))]);
    let server = UdpNameserver::start(move |t, name| match (t, name) {
        (qtype::TXT, "named.example") => {
            forged("evil.example", qtype::TXT, plus_all("named.example"))
        }
        (qtype::TXT, "typed.example") => {
            forged("typed.example", qtype::A, plus_all("typed.example"))
        }
        (qtype::TXT, "gone.example") => forged("evil.example", qtype::TXT, Answer::NxDomain),
        (qtype::TXT, "empty.example") => forged("evil.example", qtype::TXT, Answer::NoData),
        (qtype::TXT, "wrongtype.example") => {
            forged("wrongtype.example", qtype::MX, Answer::NxDomain)
        }
        // records only for the other question's name: not a NODATA for the name asked
        (qtype::TXT, "elsewhere.example") => {
            forged("other.example", qtype::TXT, plus_all("other.example"))
        }
        // controls: TCP answers to the question asked, an alias and its target in one reply
        (qtype::TXT, "fine.example") => Answer::TruncatedThen(Box::new(Answer::Raw(vec![rec(
            "fine.example",
            qtype::TXT,
            txt_rdata(b"v=spf1 -all"),
        )]))),
        (qtype::TXT, "alias.example") => Answer::TruncatedThen(Box::new(Answer::Raw(vec![
            rec(
                "alias.example",
                qtype::CNAME,
                name_rdata("target.example").unwrap(),
            ),
            rec("target.example", qtype::TXT, txt_rdata(b"v=spf1 -all")),
        ]))),
        (qtype::TXT, "nx.example") => Answer::TruncatedThen(Box::new(Answer::NxDomain)),
        _ => Answer::NxDomain,
    })
    .unwrap();
    let r = resolver(server.addr());
    assert_eq!(
        r.txt("fine.example").await.unwrap(),
        [b"v=spf1 -all".to_vec()]
    );
    assert_eq!(
        r.txt("alias.example").await.unwrap(),
        [b"v=spf1 -all".to_vec()]
    );
    assert_eq!(r.txt("nx.example").await, Err(DnsError::NxDomain));
    for name in [
        "named.example",
        "typed.example",
        "gone.example",
        "empty.example",
        "wrongtype.example",
        "elsewhere.example",
    ] {
        for _ in 0..2 {
            let got = r.txt(name).await;
            assert!(
                got.as_ref().is_err_and(DnsError::is_temporary),
                "{name}: {got:?}"
            );
        }
    }
}
