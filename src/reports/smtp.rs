//! A small SMTP client (RFC 5321) for submitting reports to the local relay: EHLO, MAIL,
//! RCPT, DATA, QUIT, one message per connection, every step under a timeout, replies read
//! within bounds.
//!
//! Written here rather than taken from lettre because the sender needs to know exactly where
//! a failure happened: before the end of DATA nothing was delivered (retry), a reply to the
//! end of DATA is definite (sent, or refused), and only a broken connection or a timeout
//! after the final dot leaves the outcome unknown — the one window of the exactly-once design
//! (docs/reports.md).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::config::SocketSpec;

/// How a submission ended, when it did not end with the message accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// The relay could not be reached (the connection was refused or timed out, or it did
    /// not greet): certainly not delivered, and nothing else will be until it is back.
    Unreachable(String),
    /// Certainly not delivered, may succeed later (4xx, a break before the end of DATA).
    NotSent(String),
    /// Refused for good (a 5xx reply).
    Refused(String),
    /// The connection broke or timed out after the end of DATA: nobody knows.
    Uncertain(String),
}

impl std::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubmitError::Unreachable(e) => write!(f, "not sent, relay unreachable: {e}"),
            SubmitError::NotSent(e) => write!(f, "not sent: {e}"),
            SubmitError::Refused(e) => write!(f, "refused: {e}"),
            SubmitError::Uncertain(e) => write!(f, "outcome unknown: {e}"),
        }
    }
}

/// Where and how to submit.
#[derive(Debug, Clone)]
pub struct Relay {
    /// The relay.
    pub target: SocketSpec,
    /// Our EHLO name.
    pub helo: String,
    /// Timeout of each step.
    pub timeout: Duration,
}

trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// One reply: the code and its text lines joined.
struct Reply {
    code: u16,
    text: String,
}

impl Reply {
    fn line(&self) -> String {
        format!("{} {}", self.code, self.text)
    }
}

/// Longest reply line we read, and most lines per reply (RFC 5321 §4.5.3.1.5: 512 octets).
const MAX_LINE: usize = 2048;
const MAX_LINES: usize = 100;

impl Relay {
    /// Submits `message` (CRLF line ends) from `mail_from` (empty: the null sender) to `rcpt`.
    /// Returns the relay's reply to the end of DATA.
    pub async fn submit(
        &self,
        mail_from: &str,
        rcpt: &str,
        message: &[u8],
    ) -> Result<String, SubmitError> {
        let unreachable = |e: String| SubmitError::Unreachable(e);
        let stream: Box<dyn Conn> = match &self.target {
            SocketSpec::Inet { host, port } => Box::new(
                self.timed(tokio::net::TcpStream::connect((host.as_str(), *port)))
                    .await
                    .map_err(|e| unreachable(format!("connect to {}: {e}", self.target)))?,
            ),
            SocketSpec::Unix(path) => Box::new(
                self.timed(tokio::net::UnixStream::connect(path))
                    .await
                    .map_err(|e| unreachable(format!("connect to {}: {e}", self.target)))?,
            ),
        };
        let mut s = BufReader::new(stream);
        // a relay that accepts the connection but does not greet (its process limit reached,
        // a listen queue nobody serves, a 421) takes no other report now either: unreachable,
        // so the pass stops instead of waiting `timeout` once per report
        self.expect(&mut s, 220, "greeting")
            .await
            .map_err(|e| match e {
                SubmitError::Unreachable(m)
                | SubmitError::NotSent(m)
                | SubmitError::Refused(m)
                | SubmitError::Uncertain(m) => SubmitError::Unreachable(m),
            })?;
        let ehlo = self.command(&mut s, &format!("EHLO {}", self.helo)).await?;
        let eight_bit_ok = if ehlo.code == 250 {
            ehlo.text
                .lines()
                .any(|l| l.trim().eq_ignore_ascii_case("8BITMIME"))
        } else {
            self.check(
                self.command(&mut s, &format!("HELO {}", self.helo)).await?,
                250,
                "HELO",
            )?;
            false
        };
        let eight_bit = message.iter().any(|b| *b >= 0x80);
        if eight_bit && !eight_bit_ok {
            // RFC 6152 §3: no 8-bit octets to a server that did not offer 8BITMIME (only a
            // whole original with an 8-bit body, `original = "full"`, is 8-bit)
            return Err(SubmitError::Refused(
                "the message holds 8-bit data and the relay does not offer 8BITMIME".into(),
            ));
        }
        let body = if eight_bit { " BODY=8BITMIME" } else { "" };
        let r = self
            .command(&mut s, &format!("MAIL FROM:<{mail_from}>{body}"))
            .await?;
        self.check(r, 250, "MAIL")?;
        let r = self.command(&mut s, &format!("RCPT TO:<{rcpt}>")).await?;
        if r.code != 250 && r.code != 251 {
            return Err(classify(&r, "RCPT"));
        }
        let r = self.command(&mut s, "DATA").await?;
        self.check(r, 354, "DATA")?;
        let data = dot_stuff(message);
        self.timed(s.get_mut().write_all(&data))
            .await
            .map_err(|e| SubmitError::NotSent(format!("writing the message: {e}")))?;
        // from here on a missing answer leaves the outcome unknown
        self.timed(s.get_mut().write_all(b".\r\n"))
            .await
            .map_err(|e| SubmitError::Uncertain(format!("writing the end of DATA: {e}")))?;
        let _ = self.timed(s.get_mut().flush()).await;
        let r = match self.read_reply(&mut s).await {
            Ok(r) => r,
            Err(e) => {
                return Err(SubmitError::Uncertain(format!(
                    "no reply to the end of DATA: {e}"
                )));
            }
        };
        if r.code != 250 {
            return Err(classify(&r, "end of DATA"));
        }
        let _ = self.command(&mut s, "QUIT").await;
        Ok(r.line())
    }

    async fn timed<T, E: std::fmt::Display>(
        &self,
        f: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("timed out after {:?}", self.timeout)),
        }
    }

    async fn command(
        &self,
        s: &mut BufReader<Box<dyn Conn>>,
        line: &str,
    ) -> Result<Reply, SubmitError> {
        let mut bytes = line.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.timed(s.get_mut().write_all(&bytes))
            .await
            .map_err(|e| SubmitError::NotSent(format!("sending {}: {e}", verb(line))))?;
        self.read_reply(s)
            .await
            .map_err(|e| SubmitError::NotSent(format!("reply to {}: {e}", verb(line))))
    }

    async fn expect(
        &self,
        s: &mut BufReader<Box<dyn Conn>>,
        code: u16,
        what: &str,
    ) -> Result<Reply, SubmitError> {
        let r = self
            .read_reply(s)
            .await
            .map_err(|e| SubmitError::NotSent(format!("{what}: {e}")))?;
        self.check(r, code, what)
    }

    fn check(&self, r: Reply, code: u16, what: &str) -> Result<Reply, SubmitError> {
        if r.code == code {
            Ok(r)
        } else {
            Err(classify(&r, what))
        }
    }

    /// Reads one reply, all its lines within one `timeout`: a relay that trickles a
    /// continuation line just inside the timeout, line after line, holds a step for one
    /// timeout, not one per line.
    async fn read_reply(&self, s: &mut BufReader<Box<dyn Conn>>) -> Result<Reply, String> {
        match tokio::time::timeout(self.timeout, read_reply_lines(s)).await {
            Ok(reply) => reply,
            Err(_) => Err(format!("timed out after {:?}", self.timeout)),
        }
    }
}

/// The lines of one reply (RFC 5321 §4.2.1), at most [`MAX_LINES`] of at most [`MAX_LINE`]
/// bytes.
async fn read_reply_lines(s: &mut BufReader<Box<dyn Conn>>) -> Result<Reply, String> {
    let mut text = Vec::new();
    for _ in 0..MAX_LINES {
        let mut line = Vec::new();
        let n = read_line(s, &mut line).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        let code: u16 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .filter(|c| (200..600).contains(c))
            .ok_or_else(|| format!("not an SMTP reply: {:?}", trunc(&line)))?;
        let more = line.as_bytes().get(3) == Some(&b'-');
        text.push(line.get(4..).unwrap_or_default().to_string());
        if !more {
            return Ok(Reply {
                code,
                text: text.join("\n"),
            });
        }
    }
    Err(format!("reply longer than {MAX_LINES} lines"))
}

/// Reads one line (up to LF) of at most [`MAX_LINE`] bytes.
async fn read_line(
    s: &mut BufReader<Box<dyn Conn>>,
    out: &mut Vec<u8>,
) -> Result<usize, std::io::Error> {
    loop {
        let buf = s.fill_buf().await?;
        if buf.is_empty() {
            return Ok(out.len());
        }
        let (take, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        out.extend_from_slice(buf.get(..take).unwrap_or_default());
        s.consume(take);
        if done {
            return Ok(out.len());
        }
        if out.len() > MAX_LINE {
            return Err(std::io::Error::other("reply line too long"));
        }
    }
}

fn classify(r: &Reply, what: &str) -> SubmitError {
    let msg = format!("{what}: {}", trunc(&r.line()));
    if r.code >= 500 {
        SubmitError::Refused(msg)
    } else {
        SubmitError::NotSent(msg)
    }
}

fn verb(line: &str) -> &str {
    line.split([' ', ':']).next().unwrap_or(line)
}

fn trunc(s: &str) -> String {
    s.chars().take(300).collect()
}

/// The message as DATA (RFC 5321 §4.5.2): lines starting with `.` get another `.`, a bare LF
/// or a bare CR becomes CRLF (RFC 5321 §2.3.8: CR and LF only together; relays such as
/// Sendmail 8.18 refuse a bare CR), and it ends with CRLF.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 50 + 8);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in message {
        if prev == b'\r' && b != b'\n' {
            out.push(b'\n');
            at_line_start = true;
        }
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if prev == b'\r' {
        out.push(b'\n');
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relay that trickles an endless multi-line reply, each line well inside the step
    /// timeout, gets one timeout for the whole reply, not one per line (a hundred lines:
    /// a hundred timeouts, 100 minutes at the default 60 s).
    #[tokio::test]
    async fn a_trickled_reply_gets_one_timeout_in_all() {
        use std::time::Duration;
        use tokio::io::AsyncWriteExt;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            conn.write_all(b"220 relay.rx.example\r\n").await.unwrap();
            for _ in 0..400 {
                if conn
                    .write_all(b"250-still answering EHLO\r\n")
                    .await
                    .is_err()
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let relay = Relay {
            target: SocketSpec::Inet {
                host: "127.0.0.1".into(),
                port,
            },
            helo: "rx.example".into(),
            timeout: Duration::from_millis(500),
        };
        let err = relay
            .submit("dmarc@rx.example", "rua@a.example", b"x\r\n")
            .await
            .unwrap_err();
        server.abort();
        assert!(
            matches!(&err, SubmitError::NotSent(e) if e.contains("timed out")),
            "{err}"
        );
    }

    /// RFC 6152 §3: 8-bit octets only to a server that offered 8BITMIME. A relay that did
    /// not was sent them anyway (without BODY=); the message is refused before MAIL now.
    #[tokio::test]
    async fn no_8bit_data_to_a_relay_without_8bitmime() {
        use std::time::Duration;
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let (read, mut write) = conn.into_split();
            let mut lines = tokio::io::BufReader::new(read).lines();
            write.write_all(b"220 relay.rx.example\r\n").await.unwrap();
            let mut seen = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                seen.push(line.clone());
                let reply: &[u8] = if line.starts_with("EHLO") {
                    b"250 relay.rx.example\r\n"
                } else if line == "QUIT" {
                    b"221 bye\r\n"
                } else {
                    b"250 ok\r\n"
                };
                if write.write_all(reply).await.is_err() {
                    break;
                }
            }
            seen
        });
        let relay = Relay {
            target: SocketSpec::Inet {
                host: "127.0.0.1".into(),
                port,
            },
            helo: "rx.example".into(),
            timeout: Duration::from_secs(5),
        };
        let err = relay
            .submit(
                "dmarc@rx.example",
                "ruf@a.example",
                "Subject: caf\u{e9}\r\n\r\nx\r\n".as_bytes(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SubmitError::Refused(e) if e.contains("8BITMIME")),
            "{err}"
        );
        let seen = tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
        assert!(!seen.iter().any(|l| l.starts_with("MAIL")), "{seen:?}");
    }

    #[test]
    fn data_is_dot_stuffed_with_crlf() {
        assert_eq!(
            dot_stuff(b"a\r\n.b\r\n..c\nd"),
            b"a\r\n..b\r\n...c\r\nd\r\n".to_vec()
        );
        assert_eq!(dot_stuff(b".\r\n"), b"..\r\n".to_vec());
        // a bare CR never reaches the relay (RFC 5321 §2.3.8), nor a `.` line after one
        assert_eq!(
            dot_stuff(b"a\rb\r\n.c\r.d\r"),
            b"a\r\nb\r\n..c\r\n..d\r\n".to_vec()
        );
    }
}
