//! A transparent TCP relay between an MTA and the milter that records what the MTA sends:
//! per transaction the envelope sender, every header field as (name, value) bytes exactly as
//! they crossed the wire (`SMFIC_HEADER`), and the body. Tests use it to state what a real MTA
//! passes to a milter for odd header blocks; the bytes are forwarded unchanged both ways.
//!
//! Milter frames: a 4-byte big-endian length, then that many bytes, the first of which is the
//! command (`M` MAIL, `L` header, `B` body chunk, `E` end of message; milter-protocol.md).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Frames longer than this are relayed but not parsed (a broken stream, not a message).
const MAX_FRAME: usize = 64 << 20;

/// One message as the MTA showed it to the milter.
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    /// The MAIL FROM argument (with angle brackets, as the MTA sends it).
    pub mail_from: Vec<u8>,
    /// Header fields in order: (name, value) bytes as sent.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The body chunks, concatenated.
    pub body: Vec<u8>,
    /// True once the end of the message was sent.
    pub ended: bool,
}

impl Transaction {
    /// True when `marker` is in a header value or the body.
    pub fn contains(&self, marker: &str) -> bool {
        let m = marker.as_bytes();
        let has = |v: &[u8]| v.windows(m.len().max(1)).any(|w| w == m);
        self.headers.iter().any(|(_, v)| has(v)) || has(&self.body)
    }

    /// The headers, one per line, escaped (`\r`, `\n`, `\t` and other bytes shown), for
    /// failure messages and docs.
    pub fn headers_escaped(&self) -> Vec<String> {
        self.headers
            .iter()
            .map(|(n, v)| format!("{:?} = {:?}", escape(n), escape(v)))
            .collect()
    }
}

/// Escapes bytes like Rust's `escape_ascii` (printable ASCII as is).
pub fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

type Shared = Arc<Mutex<Vec<Transaction>>>;

/// A running recorder. Stopped (listener closed, accept thread joined) on drop.
pub struct MilterRecorder {
    addr: SocketAddr,
    shared: Shared,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MilterRecorder {
    /// Listens on a fresh loopback port and relays every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> MilterRecorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("recorder: bind");
        let addr = listener.local_addr().expect("recorder: local_addr");
        let shared: Shared = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let shared = Arc::clone(&shared);
                    std::thread::spawn(move || relay(conn, upstream, &shared));
                }
            })
        };
        MilterRecorder {
            addr,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    /// Where the MTA connects (Sendmail: `inet:PORT@127.0.0.1`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every transaction so far.
    pub fn transactions(&self) -> Vec<Transaction> {
        self.shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The transaction whose headers or body contain `marker`.
    pub fn find(&self, marker: &str) -> Option<Transaction> {
        self.transactions().into_iter().find(|t| t.contains(marker))
    }
}

impl Drop for MilterRecorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Relays one connection; returns when either side is done.
fn relay(mta: TcpStream, upstream: SocketAddr, shared: &Shared) {
    let Ok(milter) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) else {
        return;
    };
    // Bounded: a stuck peer ends the relay after this long without a byte.
    for s in [&mta, &milter] {
        let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
    }
    let (Ok(mut mta_out), Ok(mut milter_in)) = (mta.try_clone(), milter.try_clone()) else {
        return;
    };
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut milter_in, &mut mta_out);
        let _ = mta_out.shutdown(Shutdown::Write);
    });
    let mut mta_in = mta;
    let mut milter_out = milter;
    let mut current: Option<usize> = None;
    loop {
        let mut len = [0u8; 4];
        if mta_in.read_exact(&mut len).is_err() {
            break;
        }
        let n = u32::from_be_bytes(len) as usize;
        if n == 0 || n > MAX_FRAME {
            // not a frame we understand: pass the rest through untouched
            let _ = milter_out.write_all(&len);
            let _ = std::io::copy(&mut mta_in, &mut milter_out);
            break;
        }
        let mut frame = vec![0u8; n];
        if mta_in.read_exact(&mut frame).is_err() {
            break;
        }
        record(shared, &mut current, &frame);
        if milter_out.write_all(&len).is_err() || milter_out.write_all(&frame).is_err() {
            break;
        }
    }
    let _ = milter_out.shutdown(Shutdown::Write);
    let _ = back.join();
}

fn record(shared: &Shared, current: &mut Option<usize>, frame: &[u8]) {
    let Some((&cmd, data)) = frame.split_first() else {
        return;
    };
    let mut all = shared.lock().unwrap_or_else(|e| e.into_inner());
    let mut this = |all: &mut Vec<Transaction>| -> usize {
        match *current {
            Some(i) if i < all.len() => i,
            _ => {
                all.push(Transaction::default());
                let i = all.len() - 1;
                *current = Some(i);
                i
            }
        }
    };
    match cmd {
        b'M' => {
            all.push(Transaction {
                mail_from: data.split(|&b| b == 0).next().unwrap_or_default().to_vec(),
                ..Transaction::default()
            });
            *current = Some(all.len() - 1);
        }
        b'L' => {
            let mut parts = data.splitn(3, |&b| b == 0);
            let name = parts.next().unwrap_or_default().to_vec();
            let value = parts.next().unwrap_or_default().to_vec();
            let i = this(&mut all);
            all[i].headers.push((name, value));
        }
        b'B' => {
            let i = this(&mut all);
            all[i].body.extend_from_slice(data);
        }
        b'E' => {
            let i = this(&mut all);
            all[i].body.extend_from_slice(data);
            all[i].ended = true;
            *current = None;
        }
        // abort: the next MAIL starts a new transaction
        b'A' => *current = None,
        _ => {}
    }
}
