//! The sink: a minimal SMTP server on loopback, run in-process, that plays "the rest of the
//! Internet". The MTA under test relays every message to it; it accepts everything and records
//! each message with its envelope, so a test can look at exactly what left the MTA.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::message::Message;

/// Our greeting name; it must differ from the MTA's `myhostname`, or Postfix would think the
/// mail loops back to itself.
const SINK_NAME: &str = "sink.test.invalid";

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// MAIL FROM, without angle brackets (empty for the null sender).
    pub mail_from: String,
    /// RCPT TO addresses, without angle brackets.
    pub rcpts: Vec<String>,
    /// The message as transferred (CRLF line ends, dot-unstuffed).
    pub data: Vec<u8>,
}

impl Delivered {
    /// The message parsed into headers and body.
    pub fn message(&self) -> Message {
        Message::parse(&self.data)
    }

    /// True when the raw message contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        self.data
            .windows(needle.len().max(1))
            .any(|w| w == needle.as_bytes())
    }
}

#[derive(Default)]
struct State {
    messages: Vec<Delivered>,
    transcript: Vec<String>,
    /// Record messages but do not answer the end of DATA while set (a relay that stalls).
    hold: bool,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// A running sink. Stopped (listener closed, accept thread joined) on drop.
pub struct Sink {
    addr: SocketAddr,
    shared: Shared,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    /// Listens on a fresh loopback port.
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("sink: bind");
        let addr = listener.local_addr().expect("sink: local_addr");
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
                    // Connection threads end when the client closes or after the read timeout.
                    std::thread::spawn(move || {
                        let _ = serve(conn, &shared);
                    });
                }
            })
        };
        Sink {
            addr,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    /// Where the sink listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Everything received so far.
    pub fn messages(&self) -> Vec<Delivered> {
        lock(&self.shared).messages.clone()
    }

    /// Waits (at most `limit`) for a message for which `pred` holds, and returns it.
    pub fn wait_for(
        &self,
        limit: Duration,
        pred: impl Fn(&Delivered) -> bool,
    ) -> Option<Delivered> {
        let deadline = Instant::now() + limit;
        let (mutex, cond) = &*self.shared;
        let mut state = mutex.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(m) = state.messages.iter().find(|m| pred(m)) {
                return Some(m.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            state = cond
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits for the message whose raw text contains `marker` (e.g. its Message-ID).
    pub fn wait_for_marker(&self, limit: Duration, marker: &str) -> Option<Delivered> {
        self.wait_for(limit, |m| m.contains(marker))
    }

    /// While on, messages are recorded but the end of DATA gets no answer (until it is
    /// turned off): the client is left not knowing whether its message was accepted.
    pub fn hold_replies(&self, on: bool) {
        lock(&self.shared).hold = on;
        self.shared.1.notify_all();
    }

    /// The SMTP dialogue so far (commands and replies), for failure messages.
    pub fn transcript(&self) -> String {
        lock(&self.shared).transcript.join("\n")
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // wake the blocking accept()
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.0.lock().unwrap_or_else(|e| e.into_inner())
}

fn note(shared: &Shared, line: String) {
    lock(shared).transcript.push(line);
}

/// Serves one SMTP session: every command gets an answer, every message is recorded.
fn serve(conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    conn.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut out = conn.try_clone()?;
    let mut input = BufReader::new(conn);
    let reply = |out: &mut TcpStream, text: &str| -> std::io::Result<()> {
        note(shared, format!("S: {text}"));
        out.write_all(text.as_bytes())?;
        out.write_all(b"\r\n")
    };
    reply(&mut out, &format!("220 {SINK_NAME} ESMTP sink"))?;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    loop {
        let mut line = Vec::new();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        note(shared, format!("C: {line}"));
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            reply(&mut out, &format!("250-{SINK_NAME}"))?;
            reply(&mut out, "250-8BITMIME")?;
            reply(&mut out, "250 SIZE 52428800")?;
        } else if upper.starts_with("HELO") {
            reply(&mut out, &format!("250 {SINK_NAME}"))?;
        } else if upper.starts_with("MAIL FROM:") {
            from = Some(angle_addr(line.get(10..).unwrap_or_default()));
            rcpts.clear();
            reply(&mut out, "250 2.1.0 Ok")?;
        } else if upper.starts_with("RCPT TO:") {
            if from.is_none() {
                reply(&mut out, "503 5.5.1 MAIL first")?;
                continue;
            }
            rcpts.push(angle_addr(line.get(8..).unwrap_or_default()));
            reply(&mut out, "250 2.1.5 Ok")?;
        } else if upper == "DATA" {
            if rcpts.is_empty() {
                reply(&mut out, "503 5.5.1 RCPT first")?;
                continue;
            }
            reply(&mut out, "354 End data with <CR><LF>.<CR><LF>")?;
            let data = read_data(&mut input)?;
            let delivered = Delivered {
                mail_from: from.take().unwrap_or_default(),
                rcpts: std::mem::take(&mut rcpts),
                data,
            };
            note(
                shared,
                format!(
                    "(message from <{}> to {:?}, {} bytes)",
                    delivered.mail_from,
                    delivered.rcpts,
                    delivered.data.len()
                ),
            );
            {
                let mut state = lock(shared);
                state.messages.push(delivered);
            }
            shared.1.notify_all();
            let mut state = lock(shared);
            while state.hold {
                state = shared
                    .1
                    .wait_timeout(state, Duration::from_millis(100))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            drop(state);
            reply(&mut out, "250 2.0.0 Ok: queued by sink")?;
        } else if upper == "RSET" {
            from = None;
            rcpts.clear();
            reply(&mut out, "250 2.0.0 Ok")?;
        } else if upper == "NOOP" {
            reply(&mut out, "250 2.0.0 Ok")?;
        } else if upper == "QUIT" {
            reply(&mut out, "221 2.0.0 Bye")?;
            return Ok(());
        } else {
            reply(&mut out, "502 5.5.2 Command not recognized")?;
        }
    }
}

/// Reads DATA up to the lone dot, undoing dot-stuffing (RFC 5321 §4.5.2).
fn read_data(input: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        let mut line = Vec::new();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed inside DATA",
            ));
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(line);
    }
}

/// `<a@b> SIZE=12` -> `a@b`.
fn angle_addr(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg.get(a + 1..b).unwrap_or_default().to_string(),
        _ => arg
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}
