//! A tiny SMTP client (RFC 5321): EHLO, MAIL, RCPT, DATA, QUIT, returning every reply so that
//! a test can assert on codes and texts (e.g. the 550 our milter makes Postfix send).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The EHLO name our client uses (the zone gives it A and SPF records).
pub const CLIENT_HELO: &str = "client.example";

/// One SMTP reply, possibly multi-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text of each line (after `ddd-` / `ddd `).
    pub lines: Vec<String>,
}

impl Reply {
    /// All lines joined with spaces.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text())
    }
}

/// What happened to one message submission.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Reply to MAIL FROM.
    pub mail: Reply,
    /// Replies to each RCPT TO.
    pub rcpts: Vec<Reply>,
    /// Reply to DATA (354 when the server wants the message), if DATA was sent.
    pub data: Option<Reply>,
    /// Reply after the final dot: the message's fate. `None` if DATA was refused or not sent.
    pub end: Option<Reply>,
}

impl Submission {
    /// True when the server accepted the message at end of DATA.
    pub fn accepted(&self) -> bool {
        self.end.as_ref().is_some_and(Reply::is_positive)
    }

    /// The final reply of the transaction (end of DATA, or the first refusal).
    pub fn final_reply(&self) -> &Reply {
        if let Some(r) = &self.end {
            return r;
        }
        if let Some(r) = &self.data {
            return r;
        }
        if !self.mail.is_positive() {
            return &self.mail;
        }
        self.rcpts.last().unwrap_or(&self.mail)
    }
}

/// An open SMTP session.
pub struct SmtpClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// The greeting.
    pub greeting: Reply,
}

impl SmtpClient {
    /// Connects and reads the greeting. Every read and write is bounded by `limit`.
    pub fn connect(addr: SocketAddr, limit: Duration) -> std::io::Result<SmtpClient> {
        let stream = TcpStream::connect_timeout(&addr, limit)?;
        stream.set_read_timeout(Some(limit))?;
        stream.set_write_timeout(Some(limit))?;
        let writer = stream.try_clone()?;
        let mut client = SmtpClient {
            reader: BufReader::new(stream),
            writer,
            greeting: Reply {
                code: 0,
                lines: Vec::new(),
            },
        };
        client.greeting = client.read_reply()?;
        Ok(client)
    }

    /// Sends one command line and reads the reply.
    pub fn command(&mut self, line: &str) -> std::io::Result<Reply> {
        self.writer.write_all(line.as_bytes())?;
        self.writer.write_all(b"\r\n")?;
        self.read_reply()
    }

    /// EHLO.
    pub fn ehlo(&mut self, name: &str) -> std::io::Result<Reply> {
        self.command(&format!("EHLO {name}"))
    }

    /// One transaction: MAIL, RCPT for each recipient, and DATA when one was accepted.
    /// `message` must use CRLF line ends; it is dot-stuffed here.
    pub fn send(
        &mut self,
        from: &str,
        rcpts: &[&str],
        message: &[u8],
    ) -> std::io::Result<Submission> {
        let mail = self.command(&format!("MAIL FROM:<{from}>"))?;
        let mut sub = Submission {
            mail,
            rcpts: Vec::new(),
            data: None,
            end: None,
        };
        if !sub.mail.is_positive() {
            return Ok(sub);
        }
        for r in rcpts {
            let reply = self.command(&format!("RCPT TO:<{r}>"))?;
            sub.rcpts.push(reply);
        }
        if !sub.rcpts.iter().any(Reply::is_positive) {
            self.command("RSET")?;
            return Ok(sub);
        }
        let data = self.command("DATA")?;
        let go = data.code == 354;
        sub.data = Some(data);
        if !go {
            return Ok(sub);
        }
        self.writer.write_all(&dot_stuff(message))?;
        sub.end = Some(self.read_reply()?);
        Ok(sub)
    }

    /// QUIT (the reply is ignored: some servers just close).
    pub fn quit(mut self) {
        let _ = self.command("QUIT");
    }

    fn read_reply(&mut self) -> std::io::Result<Reply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("connection closed; reply so far: {lines:?}"),
                ));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("not an SMTP reply line: {line:?}"),
                )
            })?;
            lines.push(line.get(4..).unwrap_or_default().to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply { code, lines });
            }
        }
    }
}

/// Connects, says EHLO, sends one message, says QUIT.
pub fn submit(
    addr: SocketAddr,
    from: &str,
    rcpts: &[&str],
    message: &[u8],
) -> std::io::Result<Submission> {
    let mut c = SmtpClient::connect(addr, Duration::from_secs(120))?;
    if c.greeting.code != 220 {
        return Err(std::io::Error::other(format!("greeting: {}", c.greeting)));
    }
    let ehlo = c.ehlo(CLIENT_HELO)?;
    if !ehlo.is_positive() {
        return Err(std::io::Error::other(format!("EHLO: {ehlo}")));
    }
    let sub = c.send(from, rcpts, message)?;
    c.quit();
    Ok(sub)
}

/// Dot-stuffs a CRLF message and appends the terminating `.` line (RFC 5321 §4.5.2).
fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}
