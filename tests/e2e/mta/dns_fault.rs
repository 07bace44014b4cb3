//! A DNS fault injector for the real-MTA tests: a UDP proxy in front of NSD that answers
//! SERVFAIL (RCODE 2, RFC 1035 §4.1.1) for chosen names and relays every other query to NSD
//! unchanged. NSD itself cannot fail on purpose; resolvers see a real SERVFAIL on the wire.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The running proxy; stopped on drop.
pub struct DnsFault {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DnsFault {
    /// Listens on a free loopback port; queries for any of `servfail` (lowercase, no trailing
    /// dot) get SERVFAIL, everything else goes to `upstream`.
    pub fn start(upstream: SocketAddr, servfail: &[&str]) -> DnsFault {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind the DNS proxy");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let addr = sock.local_addr().expect("proxy address");
        let names: Vec<String> = servfail.iter().map(|n| n.to_ascii_lowercase()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || serve(&sock, upstream, &names, &flag));
        DnsFault {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Where resolvers should send queries.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DnsFault {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(sock: &UdpSocket, upstream: SocketAddr, names: &[String], stop: &AtomicBool) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, client)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let query = &buf[..n];
        let reply = match qname(query) {
            Some(name) if names.contains(&name) => servfail(query),
            _ => forward(query, upstream),
        };
        if let Some(r) = reply {
            let _ = sock.send_to(&r, client);
        }
    }
}

/// The first question's name, lowercase, dotted (RFC 1035 §4.1.2).
fn qname(msg: &[u8]) -> Option<String> {
    let mut i = 12usize;
    let mut labels = Vec::new();
    loop {
        let len = *msg.get(i)? as usize;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = msg.get(i + 1..i + 1 + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        i += 1 + len;
    }
    Some(labels.join("."))
}

/// The query turned into a SERVFAIL response: QR=1, RA=1, RCODE=2, the question kept, no
/// records (and no EDNS OPT record).
fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    // header + the first question (name, type, class)
    let mut end = 12usize;
    loop {
        let len = *query.get(end)? as usize;
        end += 1;
        if len == 0 {
            break;
        }
        end += len;
    }
    end += 4;
    let mut r = query.get(..end)?.to_vec();
    r[2] = 0x80 | (r[2] & 0x79); // QR, keep opcode and RD
    r[3] = 0x80 | 0x02; // RA, RCODE=SERVFAIL
    r[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    Some(r)
}

fn forward(query: &[u8], upstream: SocketAddr) -> Option<Vec<u8>> {
    let up = UdpSocket::bind("127.0.0.1:0").ok()?;
    up.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    up.send_to(query, upstream).ok()?;
    let mut buf = [0u8; 4096];
    let (n, _) = up.recv_from(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}
