//! A nameserver on a loopback UDP port with answers the test chooses, so the production
//! resolver (hickory, its cache and counters) can be pointed at known answers without starting
//! a program.
//!
//! Replies follow RFC 1035 §4.1: the question copied, answer records owned by the question's
//! name (a compression pointer) with TTL 300 s. NXDOMAIN (RCODE 3) and NODATA carry an SOA in
//! the authority section whose minimum is 60 s (RFC 2308 §3), so negative answers are cached
//! like real ones. [`Answer::Silent`] sends nothing (the query times out), [`Answer::ServFail`]
//! RCODE 2. The same port serves TCP (RFC 7766: a two-octet length before each message) with
//! the same answers, except [`Answer::TruncatedThen`], which sends UDP an empty truncated reply
//! and TCP its inner answer. Every question received is recorded
//! ([`UdpNameserver::questions`]).
//!
//! [`Zone`] is a small record table that answers the way an authoritative server does (NODATA
//! for a name that exists, or has descendants, without records of the asked type).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Question types (RFC 1035 §3.2.2, RFC 3596 §2.1).
pub mod qtype {
    /// A.
    pub const A: u16 = 1;
    /// CNAME.
    pub const CNAME: u16 = 5;
    /// SOA.
    pub const SOA: u16 = 6;
    /// PTR.
    pub const PTR: u16 = 12;
    /// MX.
    pub const MX: u16 = 15;
    /// TXT.
    pub const TXT: u16 = 16;
    /// AAAA.
    pub const AAAA: u16 = 28;
}

/// The reply to one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Records of the asked type: their RDATA (see [`txt_rdata`], [`name_rdata`]).
    Records(Vec<Vec<u8>>),
    /// The name does not exist (RCODE 3).
    NxDomain,
    /// The name exists without records of this type.
    NoData,
    /// RCODE 2.
    ServFail,
    /// No reply at all.
    Silent,
    /// An alias: one CNAME record to this target (RFC 1034 §3.6.2), whatever the type asked,
    /// without the target's records (a chain or a loop is followed one question at a time).
    Cname(String),
    /// NODATA without the SOA (RFC 2308 §2.2.1, "type 2"): not to be cached.
    NoDataWithoutSoa,
    /// Records of the asked type with this TTL (RFC 1035 §3.2.1; RFC 2181 §8 for values with
    /// the top bit set).
    RecordsWithTtl(u32, Vec<Vec<u8>>),
    /// An empty answer with the TC bit set (RFC 1035 §4.1.1): the client must retry over TCP,
    /// which this server does not serve.
    Truncated,
    /// Records of the asked type under this RCODE (RFC 1035 §4.1.1): data beside NXDOMAIN or
    /// an unassigned code, as a broken or hostile server sends it.
    RecordsWithRcode(u16, Vec<Vec<u8>>),
    /// NOERROR with these answer records as they are: (owner, type, RDATA), owners and types
    /// the question did not ask for included (a broken or hostile server).
    Raw(Vec<(String, u16, Vec<u8>)>),
    /// Over UDP an empty reply with the TC bit set, over TCP the inner answer (RFC 7766 §5).
    TruncatedThen(Box<Answer>),
    /// The inner answer under another question section, this name and type (a reply to another
    /// query: a mixed-up or forged one, RFC 5452 §9.1).
    ForQuestion(String, u16, Box<Answer>),
    /// The inner answer after this long (a slow server; the server answers nothing else
    /// meanwhile).
    After(Duration, Box<Answer>),
}

type Questions = Arc<Mutex<Vec<(u16, String)>>>;

/// A running UDP nameserver on `127.0.0.1` (see the module docs); stopped on drop.
#[derive(Debug)]
pub struct UdpNameserver {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    questions: Questions,
    thread: Option<JoinHandle<()>>,
}

impl UdpNameserver {
    /// Binds a fresh loopback port and answers each question with `answer(type, name)` (the
    /// name lowercase, without the trailing dot) on a thread.
    pub fn start(
        answer: impl Fn(u16, &str) -> Answer + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let answer = Arc::new(answer);
        let (socket, listener) = bind_udp_and_tcp()?;
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .map_err(|e| e.to_string())?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let questions: Questions = Arc::new(Mutex::new(Vec::new()));
        let (stop2, log) = (Arc::clone(&stop), Arc::clone(&questions));
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stop2.load(Ordering::Relaxed) {
                if let Ok((stream, _)) = listener.accept() {
                    let (answer, log, stop) =
                        (Arc::clone(&answer), Arc::clone(&log), Arc::clone(&stop2));
                    std::thread::spawn(move || serve_tcp(stream, &*answer, &log, &stop));
                }
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Some(query) = buf.get(..n) else { continue };
                if let Some(reply) = respond(query, &*answer, &log, false) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        Ok(UdpNameserver {
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

    /// Every question received so far: (type, name lowercase).
    pub fn questions(&self) -> Vec<(u16, String)> {
        self.questions.lock().map(|q| q.clone()).unwrap_or_default()
    }
}

impl Drop for UdpNameserver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A UDP socket and a TCP listener on one fresh loopback port (a few tries: the port the
/// first gets may be taken for the other).
fn bind_udp_and_tcp() -> Result<(UdpSocket, TcpListener), String> {
    let mut last = String::new();
    for _ in 0..20 {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind udp: {e}"))?;
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        match TcpListener::bind(addr) {
            Ok(listener) => return Ok((socket, listener)),
            Err(e) => last = format!("bind tcp {addr}: {e}"),
        }
    }
    Err(last)
}

/// Answers the queries of one TCP connection (RFC 7766 §8: a two-octet length before each
/// message), at most 64, until the client closes it or the server stops.
fn serve_tcp(
    mut stream: TcpStream,
    answer: &dyn Fn(u16, &str) -> Answer,
    log: &Mutex<Vec<(u16, String)>>,
    stop: &AtomicBool,
) {
    if stream.set_nonblocking(false).is_err()
        || stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .is_err()
    {
        return;
    }
    for _ in 0..64 {
        let mut len = [0u8; 2];
        // wait for the next query (the client keeps the connection for more, RFC 7766 §6.2.1)
        loop {
            match stream.peek(&mut len) {
                Ok(0) => return,
                Ok(_) => break,
                Err(_) if !stop.load(Ordering::Relaxed) => continue,
                Err(_) => return,
            }
        }
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream.read_exact(&mut len).is_err() {
            return;
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut query).is_err() {
            return;
        }
        let Some(reply) = respond(&query, answer, log, true) else {
            continue;
        };
        let Ok(n) = u16::try_from(reply.len()) else {
            return;
        };
        if stream.write_all(&n.to_be_bytes()).is_err() || stream.write_all(&reply).is_err() {
            return;
        }
        let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    }
}

/// A question section: `name` uncompressed, `qtype`, class IN.
fn question_section(name: &str, qtype: u16) -> Option<Vec<u8>> {
    let mut q = name_rdata(name)?;
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Some(q)
}

/// The reply message for one query (over TCP when `tcp`), or `None` to stay silent.
fn respond(
    query: &[u8],
    answer: &dyn Fn(u16, &str) -> Answer,
    log: &Mutex<Vec<(u16, String)>>,
    tcp: bool,
) -> Option<Vec<u8>> {
    let id = query.get(..2)?;
    let flags = u16::from_be_bytes([*query.get(2)?, *query.get(3)?]);
    let qdcount = u16::from_be_bytes([*query.get(4)?, *query.get(5)?]);
    if flags & 0x8000 != 0 || qdcount != 1 {
        return None;
    }
    let (name, end) = read_name(query, 12)?;
    let qtype = u16::from_be_bytes([*query.get(end)?, *query.get(end.checked_add(1)?)?]);
    let mut question = query.get(12..end.checked_add(4)?)?.to_vec();
    if let Ok(mut l) = log.lock() {
        l.push((qtype, name.clone()));
    }
    let mut rtype = qtype;
    let mut ttl = 300;
    let mut reply = answer(qtype, &name);
    loop {
        match reply {
            Answer::TruncatedThen(inner) if tcp => reply = *inner,
            Answer::TruncatedThen(_) => reply = Answer::Truncated,
            Answer::ForQuestion(other, other_type, inner) => {
                question = question_section(&other, other_type)?;
                reply = *inner;
            }
            Answer::After(wait, inner) => {
                std::thread::sleep(wait);
                reply = *inner;
            }
            _ => break,
        }
    }
    let question = question.as_slice();
    if let Answer::Raw(records) = &reply {
        return raw_reply(id, flags, question, records);
    }
    let truncated = matches!(reply, Answer::Truncated);
    let (rcode, records, negative): (u16, Vec<Vec<u8>>, bool) = match reply {
        Answer::Silent => return None,
        Answer::Cname(target) => {
            rtype = qtype::CNAME;
            (0, vec![name_rdata(&target)?], false)
        }
        Answer::NoDataWithoutSoa
        | Answer::Raw(_)
        | Answer::Truncated
        | Answer::TruncatedThen(_)
        | Answer::ForQuestion(..)
        | Answer::After(..) => (0, Vec::new(), false),
        Answer::RecordsWithTtl(t, r) => {
            ttl = t;
            (0, r, false)
        }
        Answer::RecordsWithRcode(code, r) => (code & 0x000f, r, false),
        Answer::ServFail => (2, Vec::new(), false),
        Answer::NxDomain => (3, Vec::new(), true),
        Answer::NoData => (0, Vec::new(), true),
        Answer::Records(r) if r.is_empty() => (0, Vec::new(), true),
        Answer::Records(r) => (0, r, false),
    };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(id);
    // QR, the query's opcode and RD, AA, RA, the RCODE (RFC 1035 §4.1.1)
    let tc = if truncated { 0x0200 } else { 0 };
    let reply_flags = 0x8000 | (flags & 0x7800) | 0x0400 | tc | (flags & 0x0100) | 0x0080 | rcode;
    for v in [
        reply_flags,
        1,
        u16::try_from(records.len()).ok()?,
        u16::from(negative),
        0,
    ] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(question);
    for rdata in records {
        // owned by the question's name: a compression pointer to offset 12
        out.extend_from_slice(&[0xC0, 0x0C]);
        push_record_tail(&mut out, rtype, ttl, &rdata)?;
    }
    if negative {
        let mut soa = name_rdata("ns.invalid")?;
        soa.extend(name_rdata("hostmaster.invalid")?);
        for v in [1u32, 3600, 900, 604_800, 60] {
            soa.extend_from_slice(&v.to_be_bytes());
        }
        out.push(0); // owned by the root: an ancestor of every name
        push_record_tail(&mut out, qtype::SOA, 60, &soa)?;
    }
    Some(out)
}

/// A NOERROR reply with `records` (owner, type, RDATA) in the answer section, uncompressed.
fn raw_reply(
    id: &[u8],
    flags: u16,
    question: &[u8],
    records: &[(String, u16, Vec<u8>)],
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(id);
    let reply_flags = 0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080;
    for v in [reply_flags, 1, u16::try_from(records.len()).ok()?, 0, 0] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(question);
    for (owner, rtype, rdata) in records {
        out.extend(name_rdata(owner)?);
        push_record_tail(&mut out, *rtype, 300, rdata)?;
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

/// Reads an uncompressed name at `start`: (lowercase, no trailing dot; offset after it).
fn read_name(msg: &[u8], start: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    let mut i = start;
    loop {
        let len = usize::from(*msg.get(i)?);
        i = i.checked_add(1)?;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let end = i.checked_add(len)?;
        labels.push(String::from_utf8_lossy(msg.get(i..end)?).to_ascii_lowercase());
        i = end;
    }
    Some((labels.join("."), i))
}

/// A TXT RDATA: `text` in character-strings of at most 255 octets (RFC 1035 §3.3.14).
pub fn txt_rdata(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 255 + 1);
    if text.is_empty() {
        out.push(0);
    }
    for chunk in text.chunks(255) {
        out.push(u8::try_from(chunk.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(chunk);
    }
    out
}

/// A domain name in wire format (RFC 1035 §3.1), uncompressed: the RDATA of PTR, the tail of
/// MX. `None` for a label over 63 octets.
pub fn name_rdata(name: &str) -> Option<Vec<u8>> {
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

/// Records by (type, name), and names that fail; answers like an authoritative server.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    records: BTreeMap<(u16, String), Vec<Vec<u8>>>,
    failures: BTreeMap<String, Answer>,
}

impl Zone {
    /// An empty zone: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a record of `rtype` with `rdata` at `name`.
    pub fn record(mut self, name: &str, rtype: u16, rdata: Vec<u8>) -> Self {
        self.records
            .entry((rtype, normalize(name)))
            .or_default()
            .push(rdata);
        self
    }

    /// Adds a TXT record.
    pub fn txt(self, name: &str, text: &str) -> Self {
        self.record(name, qtype::TXT, txt_rdata(text.as_bytes()))
    }

    /// Adds an A record.
    pub fn a(self, name: &str, ip: Ipv4Addr) -> Self {
        self.record(name, qtype::A, ip.octets().to_vec())
    }

    /// Adds a PTR record for `ip` (at its in-addr.arpa name, RFC 1035 §3.5).
    pub fn ptr(self, ip: Ipv4Addr, target: &str) -> Self {
        let [a, b, c, d] = ip.octets();
        let owner = format!("{d}.{c}.{b}.{a}.in-addr.arpa");
        let rdata = name_rdata(target).unwrap_or_else(|| vec![0]);
        self.record(&owner, qtype::PTR, rdata)
    }

    /// `name` is an alias of `target` (a CNAME, for every type asked).
    pub fn cname(self, name: &str, target: &str) -> Self {
        self.fail(name, Answer::Cname(normalize(target)))
    }

    /// Every question for `name` gets `answer` (e.g. [`Answer::ServFail`], [`Answer::Silent`]).
    pub fn fail(mut self, name: &str, answer: Answer) -> Self {
        self.failures.insert(normalize(name), answer);
        self
    }

    /// The answer to a question.
    pub fn answer(&self, rtype: u16, name: &str) -> Answer {
        let name = normalize(name);
        if let Some(a) = self.failures.get(&name) {
            return a.clone();
        }
        if let Some(r) = self.records.get(&(rtype, name.clone())) {
            return Answer::Records(r.clone());
        }
        let below = format!(".{name}");
        let exists = self
            .records
            .keys()
            .any(|(_, owner)| *owner == name || owner.ends_with(&below));
        if exists {
            Answer::NoData
        } else {
            Answer::NxDomain
        }
    }

    /// Serves this zone on a fresh loopback port.
    pub fn serve(self) -> Result<UdpNameserver, String> {
        UdpNameserver::start(move |t, n| self.answer(t, n))
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, rtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        q.extend(name_rdata(name).unwrap());
        q.extend_from_slice(&rtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q
    }

    #[test]
    fn answers_like_an_authoritative_server() {
        let zone = Zone::new()
            .txt("ok.example", "v=spf1 -all")
            .txt("sel._domainkey.keys.example", "v=DKIM1")
            .fail("slow.example", Answer::Silent)
            .fail("bad.example", Answer::ServFail);
        let log = Mutex::new(Vec::new());
        let ask =
            |name: &str, t: u16| respond(&query(name, t), &|t, n| zone.answer(t, n), &log, false);
        let ok = ask("OK.example", qtype::TXT).unwrap();
        assert_eq!(&ok[..2], &[0x12, 0x34]);
        assert_eq!((ok[3] & 0x0f, ok[7]), (0, 1), "NOERROR, one answer");
        assert!(ok.ends_with(&txt_rdata(b"v=spf1 -all")));
        let nx = ask("nope.example", qtype::TXT).unwrap();
        assert_eq!((nx[3] & 0x0f, nx[9]), (3, 1), "NXDOMAIN with an SOA");
        let nodata = ask("ok.example", qtype::MX).unwrap();
        assert_eq!((nodata[3] & 0x0f, nodata[7], nodata[9]), (0, 0, 1));
        let ent = ask("keys.example", qtype::TXT).unwrap();
        assert_eq!(ent[3] & 0x0f, 0, "an empty non-terminal is NODATA");
        assert!(ask("slow.example", qtype::TXT).is_none());
        assert_eq!(ask("bad.example", qtype::TXT).unwrap()[3] & 0x0f, 2);
        assert_eq!(log.lock().unwrap().len(), 6);
        assert_eq!(
            Zone::new()
                .ptr(Ipv4Addr::new(192, 0, 2, 10), "mail.example")
                .answer(qtype::PTR, "10.2.0.192.in-addr.arpa"),
            Answer::Records(vec![name_rdata("mail.example").unwrap()])
        );
    }
}
