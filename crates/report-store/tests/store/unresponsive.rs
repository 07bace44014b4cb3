//! A PostgreSQL server that takes the connection and never speaks (a frozen postmaster, a
//! proxy with no backend): opening the store is an error within the connect timeout, not a
//! wait for ever (tokio-postgres' own `connect_timeout` covers only the TCP connect).

use report_store::{Store, StoreLocation};

#[tokio::test]
async fn a_server_that_never_answers_is_an_error_in_time() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // accepted by the kernel's backlog; nothing is ever read or written
    let loc: StoreLocation =
        format!("postgres://authmilter@127.0.0.1:{port}/reports?sslmode=disable&connect_timeout=2")
            .parse()
            .unwrap();
    let opened = tokio::time::timeout(std::time::Duration::from_secs(30), Store::open(&loc, 0))
        .await
        .expect("Store::open gave up by itself");
    let err = opened.unwrap_err().to_string();
    assert!(err.contains("did not complete the connection"), "{err}");
    drop(listener);
}
