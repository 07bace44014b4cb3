//! The in-memory resolver's query log stays bounded (`serve --zone` runs as long as a server).

use dns::Resolver;
use dns::memory::{MemoryResolver, QUERY_LOG_MAX};
use test_support::block_on;

/// `serve --zone` answers from a MemoryResolver for as long as it runs: the query log must
/// not grow with every query it is ever asked (the count still does).
#[test]
fn query_log_is_bounded() {
    let r = MemoryResolver::from_zone("example.com A 192.0.2.1\n").unwrap();
    block_on(async {
        for _ in 0..QUERY_LOG_MAX + 10 {
            let _ = r.a("example.com").await;
        }
    });
    assert_eq!(r.query_count(), QUERY_LOG_MAX + 10);
    assert_eq!(r.queries().len(), QUERY_LOG_MAX);
}
