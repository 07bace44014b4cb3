//! The dashboard under a client that opens connections and never finishes a request
//! (slowloris): one client address holds at most its share of the connection slots, so
//! other clients are still served (the token is read only with a request's head, so a client
//! without it could otherwise keep the pages unavailable), and a slot whose request has not
//! arrived goes to a newcomer from that address (on loopback every local process is one
//! address: another user's idle connections must not keep the postmaster out).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::dashboard::get;
use crate::support::ServeProcess;
use test_support::free_port;

/// An HTTP GET of `/` from `source` (a loopback address of this host) to `addr`: its status.
async fn get_from(source: [u8; 4], addr: SocketAddr) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("bind the source address");
    let mut s = socket.connect(addr).await.expect("connect");
    let req = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn one_client_address_cannot_hold_every_dashboard_slot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (milter, http) = (free_port(), free_port());
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{milter}\"\n\
         [authres]\nauthserv_id = \"mx.rx.example\"\n\
         [reports]\nstore = \"sqlite:{}\"\n\
         [dashboard]\nlisten = \"127.0.0.1:{http}\"\n",
        dir.path().join("reports.db").display()
    );
    let serve = ServeProcess::start(&toml, milter, &[]);
    let addr = SocketAddr::from(([127, 0, 0, 1], http));
    let up = test_support::process::poll(Duration::from_secs(20), || {
        (get(addr, "/", None).0 == 200).then_some(())
    });
    assert!(up.is_some(), "{}", serve.log_tail(30));

    // a client that opens its share of connections and never sends a request
    let mut idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    // the server takes connections in order: the next one from that address gets the
    // oldest idle slot, and that connection is closed
    let mut fifth = TcpStream::connect(addr).expect("connect");
    fifth
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let _ = fifth.write_all(
        format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut answer = Vec::new();
    let _ = fifth.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let oldest = &mut idle[0];
    oldest
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut rest = Vec::new();
    assert_eq!(oldest.read_to_end(&mut rest).ok(), Some(0), "closed");
    // another loopback address is served (127.0.0.0/8 is all this host's)
    assert_eq!(
        test_support::block_on(get_from([127, 0, 0, 2], addr)),
        200,
        "{}",
        serve.log_tail(30)
    );
    // once the idle client goes, its address is served again
    drop(idle);
    let again = test_support::process::poll(Duration::from_secs(10), || {
        (get(addr, "/", None).0 == 200).then_some(())
    });
    assert!(again.is_some(), "{}", serve.log_tail(30));
}
