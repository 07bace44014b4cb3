//! One connection slot of `authmilter bench`: connects as Postfix does, sends messages from
//! the corpus until the run ends, and counts latencies, answers and errors. An async loop over
//! `milter_proto::client::ClientSession`, with its buffers reused for the whole run. Like
//! Postfix, it waits for the milter's replies only, not for write space ([`QuietSocket`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use milter_proto::client::{
    Awaiting, ClientSession, EomOutcome, Profile, Reply, ReplyStep, decided,
};
use milter_proto::{CommandCode, FrameDecoder, MILTER_CHUNK_SIZE, ProtocolError, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Plan;
use super::corpus::CorpusMessage;
use super::stats::{ErrorKind, Tally};
use crate::quiet_socket::QuietSocket;

/// Where the milter listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `inet:HOST:PORT`.
    Inet(String),
    /// `unix:PATH`.
    Unix(PathBuf),
}

impl Target {
    /// Parses Postfix's notation: `inet:HOST:PORT`, `inet:[IPv6]:PORT`, `unix:PATH`.
    pub fn parse(s: &str) -> anyhow::Result<Target> {
        if let Some(path) = s.strip_prefix("unix:") {
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        let Some(rest) = s.strip_prefix("inet:") else {
            anyhow::bail!("target must be inet:HOST:PORT or unix:PATH, not {s:?}");
        };
        let Some((host, port)) = rest.rsplit_once(':') else {
            anyhow::bail!("target {s:?} has no port");
        };
        let port: u16 = port
            .parse()
            .map_err(|_| anyhow::anyhow!("bad port in {s:?}"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        Ok(Target::Inet(format!("{host}:{port}")))
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Why a connection ended early.
struct Failure(ErrorKind);

impl From<ProtocolError> for Failure {
    fn from(e: ProtocolError) -> Self {
        Failure(match e {
            ProtocolError::NegotiationRefused(_) => ErrorKind::NegotiationRefused,
            ProtocolError::Truncated { .. } => ErrorKind::ClosedEarly,
            _ => ErrorKind::GarbageReply,
        })
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure(match e.kind() {
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::UnexpectedEof => ErrorKind::ClosedEarly,
            _ => ErrorKind::Io,
        })
    }
}

/// One milter connection and its reusable buffers.
struct Conn {
    io: Box<dyn Io>,
    rbuf: BytesMut,
    wbuf: BytesMut,
    decoder: FrameDecoder,
    session: ClientSession,
    /// `--timeout`: the longest wait for one write.
    write_timeout: Duration,
    /// The run's hard end (`--duration` plus `--timeout`): no read or write waits past it, so
    /// a milter that sends PROGRESS forever or stops reading cannot hold the run.
    hard_end: tokio::time::Instant,
}

/// Runs one connection slot until the plan says stop.
pub async fn run_slot(plan: Arc<Plan>, corpus: Arc<Vec<CorpusMessage>>) -> Tally {
    let mut tally = Tally::default();
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut wbuf = BytesMut::with_capacity(MILTER_CHUNK_SIZE + 1024);
    // A connection is opened only for a message already taken from the budget, so a run
    // never opens connections it does not use; a failed connection uses up that message, so a
    // dead target still ends the run at --count.
    while let Some(first) = plan.claim() {
        let start = Instant::now();
        let mut conn = match open(&plan, rbuf, wbuf).await {
            Ok((conn, Some(outcome))) => {
                // decided at CONNECT or HELO: that is the message's answer; Postfix would
                // send the session's mail no further, so the connection ends here
                tally.connections += 1;
                tally
                    .latency
                    .record(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
                tally.answers.record(&outcome);
                plan.done(1);
                (rbuf, wbuf) = close(conn, true).await;
                continue;
            }
            Ok((c, None)) => c,
            Err((Failure(kind), r, w)) => {
                (rbuf, wbuf) = (r, w);
                tally.errors.record(kind);
                plan.done(1);
                // back off a little so a dead target is not a busy loop
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        tally.connections += 1;
        let mut healthy = true;
        let mut next = Some(first);
        let mut sent = 0u64;
        while let Some(n) = next.take() {
            let index = (n as usize) % corpus.len().max(1);
            let Some(msg) = corpus.get(index) else {
                break;
            };
            let start = Instant::now();
            match transaction(&mut conn, &plan, msg).await {
                Ok(outcome) => {
                    let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                    tally.latency.record(us);
                    tally.answers.record(&outcome);
                    if !plan.answers.check(index, &outcome) {
                        tally.answers.mismatched += 1;
                    }
                    plan.done(1);
                }
                Err(Failure(kind)) => {
                    tally.errors.record(kind);
                    plan.done(1);
                    healthy = false;
                    break;
                }
            }
            sent += 1;
            if sent < plan.per_connection {
                next = plan.claim();
            }
        }
        (rbuf, wbuf) = close(conn, healthy).await;
    }
    tally
}

/// Ends a connection (QUIT first when it is still in step) and hands back its buffers.
async fn close(mut conn: Conn, quit: bool) -> (BytesMut, BytesMut) {
    if quit {
        let _ = conn.session.quit(&mut conn.wbuf);
        let _ = flush(&mut conn).await;
        let _ = conn.io.shutdown().await;
    }
    conn.rbuf.clear();
    conn.wbuf.clear();
    (conn.rbuf, conn.wbuf)
}

type OpenError = (Failure, BytesMut, BytesMut);

/// Connects, negotiates, and sends CONNECT and HELO.
async fn open(
    plan: &Plan,
    rbuf: BytesMut,
    wbuf: BytesMut,
) -> Result<(Conn, Option<EomOutcome>), OpenError> {
    let io: Box<dyn Io> = match connect(plan).await {
        Ok(io) => io,
        Err(f) => return Err((f, rbuf, wbuf)),
    };
    let profile = Profile::postfix().with_timeout(plan.timeout);
    let mut conn = Conn {
        io,
        rbuf,
        wbuf,
        decoder: FrameDecoder::new(),
        session: ClientSession::new(profile),
        write_timeout: plan.timeout,
        hard_end: tokio::time::Instant::from_std(plan.hard_end()),
    };
    match greet(&mut conn, plan).await {
        Ok(decided) => Ok((conn, decided)),
        Err(f) => Err((f, conn.rbuf, conn.wbuf)),
    }
}

async fn connect(plan: &Plan) -> Result<Box<dyn Io>, Failure> {
    let connecting = async {
        match &plan.target {
            Target::Inet(addr) => {
                let s = tokio::net::TcpStream::connect(addr.as_str()).await?;
                s.set_nodelay(true)?;
                Ok::<Box<dyn Io>, std::io::Error>(Box::new(QuietSocket::from_tokio_tcp(s)?))
            }
            Target::Unix(path) => {
                let s = tokio::net::UnixStream::connect(path).await?;
                Ok::<Box<dyn Io>, std::io::Error>(Box::new(QuietSocket::from_tokio_unix(s)?))
            }
        }
    };
    match tokio::time::timeout(plan.timeout, connecting).await {
        Err(_) => Err(Failure(ErrorKind::ConnectFailed)),
        Ok(Ok(io)) => Ok(io),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(Failure(ErrorKind::ConnectRefused))
        }
        Ok(Err(_)) => Err(Failure(ErrorKind::ConnectFailed)),
    }
}

/// Negotiates, then CONNECT and HELO. A reply other than continue to either decides every
/// message of the connection, as in Postfix (`milter8.c`: a reject, tempfail or accept at
/// CONNECT ends the milter's part of the session): returned as that message's answer.
async fn greet(conn: &mut Conn, plan: &Plan) -> Result<Option<EomOutcome>, Failure> {
    let aw = conn.session.negotiate(&mut conn.wbuf)?;
    flush(conn).await?;
    if let Awaiting::Reply { command, timeout } = aw {
        let resp = read_response(conn, timeout, command).await?;
        conn.session.accept_negotiation(resp)?;
    }
    let aw = conn.session.connect(
        &plan.helo,
        plan.client_ip,
        plan.client_port,
        &[],
        &mut conn.wbuf,
    )?;
    if let Reply::Response(resp) = exchange(conn, aw).await?
        && resp != Response::Continue
    {
        return Ok(Some(decided(resp, CommandCode::Connect)));
    }
    let aw = conn.session.helo(&plan.helo, &[], &mut conn.wbuf)?;
    if let Reply::Response(resp) = exchange(conn, aw).await?
        && resp != Response::Continue
    {
        return Ok(Some(decided(resp, CommandCode::Helo)));
    }
    Ok(None)
}

/// MAIL, RCPTs, DATA, headers, EOH, body, EOM: one message as Postfix sends it.
async fn transaction(
    conn: &mut Conn,
    plan: &Plan,
    msg: &CorpusMessage,
) -> Result<EomOutcome, Failure> {
    let sender = plan.mail_from.as_deref().unwrap_or(&msg.sender);
    let auth: Vec<(&str, &str)> = match &plan.auth {
        Some(user) => vec![("{auth_authen}", user.as_str()), ("{auth_type}", "PLAIN")],
        None => Vec::new(),
    };
    let aw = conn.session.mail(sender, &[], &auth, &mut conn.wbuf)?;
    if let Some(o) = early_reply(conn, aw, CommandCode::Mail, false).await? {
        return Ok(o);
    }
    let mut accepted = 0usize;
    let mut last = Response::Continue;
    for rcpt in &plan.rcpts {
        let aw = conn.session.rcpt(rcpt, &[], &[], &mut conn.wbuf)?;
        match exchange(conn, aw).await? {
            Reply::Response(Response::Continue) | Reply::NoReply | Reply::NotSent => accepted += 1,
            Reply::Response(other) => last = other,
        }
    }
    if accepted == 0 {
        conn.session.reset_after_reject(&mut conn.wbuf)?;
        return Ok(decided(last, CommandCode::Rcpt));
    }
    let aw = conn.session.data(&[], &mut conn.wbuf)?;
    if let Some(o) = early_reply(conn, aw, CommandCode::Data, true).await? {
        return Ok(o);
    }
    for h in &msg.eml.headers {
        let aw = conn.session.header(&h.name, &h.value, &mut conn.wbuf)?;
        if let Some(o) = early_reply(conn, aw, CommandCode::Header, true).await? {
            return Ok(o);
        }
    }
    let aw = conn.session.eoh(&mut conn.wbuf)?;
    if let Some(o) = early_reply(conn, aw, CommandCode::Eoh, true).await? {
        return Ok(o);
    }
    for start in (0..msg.body.len()).step_by(MILTER_CHUNK_SIZE) {
        let end = msg.body.len().min(start.saturating_add(MILTER_CHUNK_SIZE));
        let chunk = msg.body.slice(start..end);
        let aw = conn.session.body_chunk_shared(chunk, &mut conn.wbuf)?;
        let reply = exchange(conn, aw).await?;
        if reply == Reply::Response(Response::Skip) {
            break;
        }
        if let Some(o) = early(conn, reply, CommandCode::Body, true)? {
            return Ok(o);
        }
    }
    let aw = conn.session.eom(&mut conn.wbuf)?;
    flush(conn).await?;
    let Awaiting::Reply { command, timeout } = aw else {
        return Err(Failure(ErrorKind::GarbageReply));
    };
    let mut outcome = ClientSession::new_eom_outcome();
    loop {
        let resp = read_response(conn, timeout, command).await?;
        if conn.session.on_eom_reply(&mut outcome, resp)? {
            break;
        }
    }
    if !conn.rbuf.is_empty() {
        // more after the final reply: the answers are out of step with the commands
        return Err(Failure(ErrorKind::GarbageReply));
    }
    // The ABORTs after the message go out with the next command (no reply is due).
    conn.session.finish_message(&mut conn.wbuf)?;
    Ok(outcome)
}

/// Sends a step and reads its reply; a non-continue reply before end of message decides the
/// message.
async fn early_reply(
    conn: &mut Conn,
    aw: Awaiting,
    at: CommandCode,
    in_content: bool,
) -> Result<Option<EomOutcome>, Failure> {
    let reply = exchange(conn, aw).await?;
    early(conn, reply, at, in_content)
}

/// A non-continue reply before end of message decides it (Postfix then sends ABORT).
fn early(
    conn: &mut Conn,
    reply: Reply,
    at: CommandCode,
    in_content: bool,
) -> Result<Option<EomOutcome>, Failure> {
    match reply {
        Reply::Response(resp) if resp != Response::Continue => {
            if in_content {
                conn.session.end_message_early(&mut conn.wbuf)?;
            } else {
                conn.session.reset_after_reject(&mut conn.wbuf)?;
            }
            Ok(Some(decided(resp, at)))
        }
        _ => Ok(None),
    }
}

/// Writes what is pending when a reply is due (commands without a reply ride along with the
/// next one, as on a pipelined stream), then reads that reply.
async fn exchange(conn: &mut Conn, awaiting: Awaiting) -> Result<Reply, Failure> {
    let Awaiting::Reply { command, timeout } = awaiting else {
        return Ok(match awaiting {
            Awaiting::NotSent => Reply::NotSent,
            _ => Reply::NoReply,
        });
    };
    if !conn.rbuf.is_empty() {
        // bytes before a reply is due: the milter answered something nobody asked for (an
        // ABORT, a no-reply command), and every later answer would be read one step off
        return Err(Failure(ErrorKind::GarbageReply));
    }
    flush(conn).await?;
    loop {
        let resp = read_response(conn, timeout, command).await?;
        if let ReplyStep::Done(reply) = conn.session.on_reply(command, resp)? {
            return Ok(reply);
        }
    }
}

async fn flush(conn: &mut Conn) -> Result<(), Failure> {
    if conn.wbuf.is_empty() {
        return Ok(());
    }
    let deadline = (tokio::time::Instant::now() + conn.write_timeout).min(conn.hard_end);
    match tokio::time::timeout_at(deadline, conn.io.write_all(&conn.wbuf)).await {
        Err(_) => return Err(Failure(ErrorKind::Timeout)),
        Ok(written) => written?,
    }
    conn.wbuf.clear();
    Ok(())
}

async fn read_response(
    conn: &mut Conn,
    timeout: Duration,
    _command: CommandCode,
) -> Result<Response, Failure> {
    let leadspc = conn.session.leadspc();
    let deadline = (tokio::time::Instant::now() + timeout).min(conn.hard_end);
    loop {
        if let Some(resp) = conn.decoder.decode_response(&mut conn.rbuf, leadspc)? {
            return Ok(resp);
        }
        match tokio::time::timeout_at(deadline, conn.io.read_buf(&mut conn.rbuf)).await {
            Err(_) => return Err(Failure(ErrorKind::Timeout)),
            Ok(Ok(0)) => return Err(Failure(ErrorKind::ClosedEarly)),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.into()),
        }
    }
}
