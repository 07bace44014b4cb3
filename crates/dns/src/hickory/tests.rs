//! Unit tests of the hickory resolver's answer handling.
use super::*;

#[tokio::test]
async fn invalid_names_never_reach_the_network() {
    let r = HickoryResolver::new(&HickoryConfig {
        nameservers: vec!["127.0.0.1:9".parse().unwrap()],
        timeout: Duration::from_millis(50),
        attempts: 1,
        ..HickoryConfig::default()
    })
    .unwrap();
    assert!(matches!(r.txt("a..b").await, Err(DnsError::InvalidName(_))));
    assert!(matches!(
        r.a(&"x".repeat(64)).await,
        Err(DnsError::InvalidName(_))
    ));
}

/// The cache's byte bound holds for the memory really held: record data as allocated
/// (capacities, not lengths: collecting a TXT's strings grows its buffer to twice its
/// length) and the map, order-queue and stale order-queue slots of the entry.
#[test]
fn entry_size_covers_the_heap_bytes_held() {
    use hickory_resolver::proto::rr::rdata::TXT;
    let name = Name::from_ascii("sel._domainkey.example.com.").unwrap();
    let strings = vec!["k".repeat(255), "k".repeat(255), "k".repeat(10)];
    let records: Vec<Record> = (0..5)
        .map(|_| Record::from_rdata(name.clone(), 300, RData::TXT(TXT::new(strings.clone()))))
        .collect();
    let refs: Vec<&Record> = records.iter().collect();
    let answer = Answer::extract(Kind::Txt, &refs);
    let Answer::Txt(txt) = &answer else {
        panic!("not TXT")
    };
    assert_eq!(txt[0].len(), 520);
    let heap: usize = txt.iter().map(Vec::capacity).sum::<usize>()
        + txt.capacity() * std::mem::size_of::<Vec<u8>>();
    let key = "sel._domainkey.example.com";
    // the key twice (map and order queue), one stale order entry of the longest name,
    // and the map slot and order slot themselves
    let slots = 2 * std::mem::size_of::<(Kind, String)>()
        + std::mem::size_of::<Result<Answer, DnsError>>()
        + 40;
    let held = heap + 2 * key.len() + 253 + slots;
    let size = entry_size(key, &Ok(answer));
    assert!(size >= held, "charged {size} for {held} bytes held");
}

#[test]
fn entry_size_counts_record_data() {
    let big = Ok(Answer::Txt(vec![vec![b'x'; 60_000]; 2]));
    assert!(entry_size("example.com", &big) > 120_000);
    let small = Ok(Answer::A(vec![Ipv4Addr::LOCALHOST]));
    // the fixed part: map and order-queue slots and one stale order entry (under 1 KiB)
    assert!(entry_size("example.com", &small) < 600);
    assert_eq!(HickoryConfig::default().cache_bytes, 64 << 20);
}

/// NODATA is NOERROR with an empty answer and NXDOMAIN is RCODE 3 (RFC 2308 §2.1, §2.2);
/// hickory also reports an empty answer under an RCODE it does not know (11–15) as "no
/// records found", which is no "does not exist" answer: a temporary failure.
#[test]
fn no_records_under_other_rcodes_are_temporary() {
    use hickory_resolver::net::NoRecords;
    use hickory_resolver::proto::op::Query;
    let no_records = |code| {
        NetError::Dns(HDns::NoRecordsFound(NoRecords::new(
            Query::query(Name::root(), RecordType::TXT),
            code,
        )))
    };
    assert_eq!(
        classify(no_records(ResponseCode::NXDomain)),
        DnsError::NxDomain
    );
    assert_eq!(
        classify(no_records(ResponseCode::NoError)),
        DnsError::NoData
    );
    assert!(classify(no_records(ResponseCode::Unknown(12))).is_temporary());
}

#[test]
fn classifies_errors() {
    assert_eq!(classify(NetError::Timeout), DnsError::Timeout);
    assert!(matches!(
        classify(NetError::Message("x")),
        DnsError::Other(_)
    ));
    assert_eq!(
        classify(NetError::Dns(
            hickory_resolver::net::DnsError::ResponseCode(ResponseCode::ServFail)
        )),
        DnsError::ServFail
    );
}
