//! Test support (feature `testing`): a nameserver on a loopback UDP port that answers from a
//! [`MemoryResolver`], so a test can point the production resolver (hickory, with its cache
//! and counters) at known answers without starting a program.
//!
//! Answers follow RFC 1035 §4.1: one question per query, the answer records with the question's
//! name, TTL 300 s. NXDOMAIN (RCODE 3) and NODATA carry an SOA in the authority section whose
//! minimum is 60 s (RFC 2308 §3), so negative answers are cached like real ones. A name the
//! zone marks `TIMEOUT` gets no answer at all; `SERVFAIL` (and any other error) gets RCODE 2.
//! There is no TCP: answers must fit one datagram (tests use short records). Every question
//! received is recorded ([`TestingServer::questions`]). The zone must not use
//! [`MemoryResolver::set_latency`] (answers are taken without a runtime).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::memory::MemoryResolver;
use crate::{DnsError, LookupFuture, Resolver};

/// TXT, A, AAAA, MX and PTR question types (RFC 1035 §3.2.2, RFC 3596 §2.1).
const TXT: u16 = 16;
const A: u16 = 1;
const AAAA: u16 = 28;
const MX: u16 = 15;
const PTR: u16 = 12;
const SOA: u16 = 6;

/// A running UDP nameserver on `127.0.0.1` (see the module docs); stopped on drop.
#[derive(Debug)]
pub struct TestingServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    questions: Arc<Mutex<Vec<(u16, String)>>>,
    thread: Option<JoinHandle<()>>,
}

impl TestingServer {
    /// Binds a fresh loopback port and answers from `zone` on a thread.
    pub fn start(zone: Arc<MemoryResolver>) -> Result<Self, String> {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind udp: {e}"))?;
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let questions = Arc::new(Mutex::new(Vec::new()));
        let (stop2, log) = (Arc::clone(&stop), Arc::clone(&questions));
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Some(query) = buf.get(..n) else { continue };
                if let Some(reply) = respond(query, &zone, &log) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        Ok(TestingServer {
            addr,
            stop,
            questions,
            thread: Some(thread),
        })
    }

    /// The address to send queries to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every question received so far: (type code, name as asked, lowercased).
    pub fn questions(&self) -> Vec<(u16, String)> {
        self.questions.lock().map(|q| q.clone()).unwrap_or_default()
    }
}

impl Drop for TestingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the zone says for one question.
enum Outcome {
    /// Answer records (type, RDATA each).
    Records(u16, Vec<Vec<u8>>),
    /// NXDOMAIN (`true`) or NODATA (`false`), with the SOA for negative caching.
    Negative(bool),
    /// RCODE 2.
    ServFail,
    /// No answer.
    Silent,
}

/// The reply to one query datagram, or `None` to stay silent (a timeout, or not a query).
fn respond(
    query: &[u8],
    zone: &MemoryResolver,
    log: &Mutex<Vec<(u16, String)>>,
) -> Option<Vec<u8>> {
    let id = query.get(..2)?;
    let flags = u16::from_be_bytes([*query.get(2)?, *query.get(3)?]);
    let qdcount = u16::from_be_bytes([*query.get(4)?, *query.get(5)?]);
    if flags & 0x8000 != 0 || qdcount != 1 {
        return None;
    }
    let (name, end) = read_name(query, 12)?;
    let qtype = u16::from_be_bytes([*query.get(end)?, *query.get(end + 1)?]);
    let question = query.get(12..end + 4)?;
    if let Ok(mut l) = log.lock() {
        l.push((qtype, name.clone()));
    }
    let outcome = lookup(zone, &name, qtype);
    let rcode: u16 = match outcome {
        Outcome::Silent => return None,
        Outcome::ServFail => 2,
        Outcome::Negative(true) => 3,
        Outcome::Negative(false) | Outcome::Records(..) => 0,
    };
    let (answers, negative) = match outcome {
        Outcome::Records(t, rdatas) => (rdatas.into_iter().map(|r| (t, r)).collect(), false),
        Outcome::Negative(_) => (Vec::new(), true),
        _ => (Vec::new(), false),
    };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(id);
    // QR, the query's opcode and RD, AA, RA, the RCODE (RFC 1035 §4.1.1)
    let reply_flags = 0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode;
    out.extend_from_slice(&reply_flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&u16::try_from(answers.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&u16::from(negative).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(question);
    for (rtype, rdata) in answers {
        // the question's name, by a compression pointer to offset 12
        out.extend_from_slice(&[0xC0, 0x0C]);
        push_record_tail(&mut out, rtype, 300, &rdata)?;
    }
    if negative {
        let mut soa = encode_name("ns.invalid")?;
        soa.extend(encode_name("hostmaster.invalid")?);
        for v in [1u32, 3600, 900, 604_800, 60] {
            soa.extend_from_slice(&v.to_be_bytes());
        }
        out.push(0); // the root owns the SOA: an ancestor of every name
        push_record_tail(&mut out, SOA, 60, &soa)?;
    }
    Some(out)
}

/// TYPE, CLASS IN, TTL, RDLENGTH and RDATA after an owner name.
fn push_record_tail(out: &mut Vec<u8>, rtype: u16, ttl: u32, rdata: &[u8]) -> Option<()> {
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&u16::try_from(rdata.len()).ok()?.to_be_bytes());
    out.extend_from_slice(rdata);
    Some(())
}

/// Asks the zone (its futures are ready at once without latency).
fn lookup(zone: &MemoryResolver, name: &str, qtype: u16) -> Outcome {
    let records = match qtype {
        TXT => now(zone.txt(name)).map(|r| r.map(|v| v.iter().map(|t| txt_rdata(t)).collect())),
        A => {
            now(zone.a(name)).map(|r| r.map(|v| v.iter().map(|ip| ip.octets().to_vec()).collect()))
        }
        AAAA => now(zone.aaaa(name))
            .map(|r| r.map(|v| v.iter().map(|ip| ip.octets().to_vec()).collect())),
        MX => now(zone.mx(name)).map(|r| {
            r.map(|v| {
                v.iter()
                    .filter_map(|mx| {
                        let mut d = mx.preference.to_be_bytes().to_vec();
                        d.extend(encode_name(&mx.exchange)?);
                        Some(d)
                    })
                    .collect()
            })
        }),
        PTR => match reverse_ip(name) {
            Some(ip) => now(zone.ptr(ip))
                .map(|r| r.map(|v| v.iter().filter_map(|n| encode_name(n)).collect())),
            None => Some(Err(DnsError::NxDomain)),
        },
        _ => Some(Err(DnsError::NoData)),
    };
    match records {
        None | Some(Err(DnsError::Timeout)) => Outcome::Silent,
        Some(Ok(r)) => Outcome::Records(qtype, r),
        Some(Err(DnsError::NxDomain)) => Outcome::Negative(true),
        Some(Err(DnsError::NoData)) => Outcome::Negative(false),
        Some(Err(_)) => Outcome::ServFail,
    }
}

/// Polls a lookup once: the in-memory resolver answers at once.
fn now<T>(mut fut: LookupFuture<'_, T>) -> Option<Result<T, DnsError>> {
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(r) => Some(r),
        Poll::Pending => None,
    }
}

/// A TXT RDATA: the text in character-strings of at most 255 octets (RFC 1035 §3.3.14).
fn txt_rdata(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 255 + 1);
    if text.is_empty() {
        out.push(0);
    }
    for chunk in text.chunks(255) {
        out.push(u8::try_from(chunk.len()).unwrap_or(255));
        out.extend_from_slice(chunk);
    }
    out
}

/// A name in wire format (RFC 1035 §3.1), without compression.
fn encode_name(name: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(u8::try_from(label.len()).ok().filter(|n| *n <= 63)?);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Some(out)
}

/// Reads an uncompressed name at `start`; returns it (lowercase, no trailing dot) and the
/// offset after it.
fn read_name(msg: &[u8], start: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    let mut i = start;
    loop {
        let len = usize::from(*msg.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(msg.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    Some((labels.join("."), i))
}

/// The address an `in-addr.arpa` / `ip6.arpa` name stands for (RFC 1035 §3.5, RFC 3596 §2.5).
fn reverse_ip(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let octets: Vec<u8> = rest
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let [d, c, b, a] = octets.as_slice() else {
            return None;
        };
        return Some(IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *d)));
    }
    let rest = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = rest
        .split('.')
        .map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() == 1))
        .collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut octets = [0u8; 16];
    for (i, pair) in nibbles.rchunks(2).enumerate() {
        if let (Some(slot), [low, high]) = (octets.get_mut(i), pair) {
            *slot = (high << 4) | low;
        }
    }
    Some(IpAddr::V6(Ipv6Addr::from(octets)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names_round_trip() {
        for ip in ["192.0.2.10", "2001:db8::1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(reverse_ip(&crate::reverse_name(ip)), Some(ip));
        }
        assert_eq!(reverse_ip("1.2.3.in-addr.arpa"), None);
    }

    #[test]
    fn answers_nxdomain_with_an_soa_and_stays_silent_on_timeouts() {
        let zone =
            MemoryResolver::from_zone("slow.example TIMEOUT\nbad.example SERVFAIL\n").unwrap();
        let log = Mutex::new(Vec::new());
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        q.extend(encode_name("nope.example").unwrap());
        q.extend_from_slice(&[0, 16, 0, 1]);
        let r = respond(&q, &zone, &log).unwrap();
        assert_eq!(&r[..2], &[0x12, 0x34]);
        assert_eq!(r[3] & 0x0f, 3, "NXDOMAIN");
        assert_eq!(&r[8..10], &[0, 1], "one SOA in the authority section");
        let slow = |n: &str| {
            let mut q = vec![0, 1, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
            q.extend(encode_name(n).unwrap());
            q.extend_from_slice(&[0, 16, 0, 1]);
            q
        };
        assert!(respond(&slow("slow.example"), &zone, &log).is_none());
        assert_eq!(
            respond(&slow("bad.example"), &zone, &log).unwrap()[3] & 0x0f,
            2
        );
        assert_eq!(log.lock().unwrap().len(), 3);
    }
}
