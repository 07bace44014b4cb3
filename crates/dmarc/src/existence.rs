//! Whether the author domain exists, for the `np` policy (RFC 9989 §3.2.13, RFC 8020).

use dns::{DnsError, Resolver, join_all};

/// One existence query.
type ExistsFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), DnsError>> + Send + 'a>>;

/// Whether `domain` exists (RFC 9989 §3.2.13, RFC 8020): NXDOMAIN on A, AAAA or MX means it
/// does not; any answer or NODATA means it does. `Err` when every query failed temporarily.
pub(crate) async fn author_exists<R: Resolver + ?Sized>(
    resolver: &R,
    domain: &str,
) -> Result<bool, ()> {
    let queries: Vec<ExistsFuture<'_>> = vec![
        Box::pin(async { resolver.a(domain).await.map(|_| ()) }),
        Box::pin(async { resolver.aaaa(domain).await.map(|_| ()) }),
        Box::pin(async { resolver.mx(domain).await.map(|_| ()) }),
    ];
    let answers = join_all(queries).await;
    let mut nxdomain = false;
    for a in &answers {
        match a {
            Ok(()) | Err(DnsError::NoData) => return Ok(true),
            Err(DnsError::NxDomain) => nxdomain = true,
            Err(_) => {}
        }
    }
    if nxdomain { Ok(false) } else { Err(()) }
}
