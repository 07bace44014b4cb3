//! SRS in the binary: loading secrets and settings, the milter-side decisions, and the Postfix
//! socketmap server (`sender_canonical_maps` / `recipient_canonical_maps`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use srs::milter::{MilterOptions, RewriteMode, SrsMilter};
use srs::socketmap::{Decoder, HandlerOptions, Reply, handle_request};
use srs::{DomainSet, HashEncoding, Separator, Srs};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use crate::config::{SrsConfig, SrsHashEncoding, SrsRewrite, SrsSeparator};

/// SRS settings built once from `[srs]`.
pub struct SrsState {
    /// The rewriter.
    pub srs: Srs,
    /// Our local domains.
    pub local: DomainSet,
    /// Sender domains never rewritten.
    pub excluded: DomainSet,
    /// When to rewrite.
    pub mode: RewriteMode,
    /// Undo SRS for bounces.
    pub reverse: bool,
}

impl SrsState {
    /// Loads the secrets file and settings.
    pub fn load(cfg: &SrsConfig) -> anyhow::Result<SrsState> {
        let srs = load_srs(cfg)?;
        let mut local = DomainSet::new();
        for d in &cfg.local_domains {
            local.insert(d);
        }
        let mut excluded = DomainSet::new();
        for d in &cfg.exclude_domains {
            excluded.insert(d);
        }
        Ok(SrsState {
            srs,
            local,
            excluded,
            mode: match cfg.rewrite {
                SrsRewrite::Always => RewriteMode::Always,
                SrsRewrite::WhenSpfFails => RewriteMode::WhenSpfFails,
            },
            reverse: cfg.reverse,
        })
    }

    /// Runs `f` with the milter decision maker.
    pub fn with_milter<R>(&self, f: impl FnOnce(&SrsMilter<'_>) -> R) -> R {
        let is_local = |d: &str| self.local.contains(d);
        let is_excluded = |d: &str| self.excluded.contains(d);
        let m = SrsMilter {
            srs: &self.srs,
            is_local: &is_local,
            is_excluded: &is_excluded,
            options: MilterOptions {
                mode: self.mode,
                ..MilterOptions::default()
            },
        };
        f(&m)
    }
}

/// At most this many socketmap connections are served at once (Postfix opens one per process
/// that uses the map, bounded by its `default_process_limit` of 100); more are closed at once,
/// so local clients cannot take every file descriptor the milter listeners need.
pub const SOCKETMAP_MAX_CONNECTIONS: usize = 256;

/// A socketmap connection with no request for this long is closed (Postfix reopens it).
const SOCKETMAP_IDLE: Duration = Duration::from_secs(300);

/// A reply the client does not read within this long closes its connection.
const SOCKETMAP_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves one socketmap connection (netstring requests `forward ADDR` / `reverse ADDR`) with
/// the SRS state `current` holds when each request arrives, so a reload's secrets apply to
/// connections Postfix keeps open too. The connection ends `idle` after its last answer (or its
/// start) without another complete request, or
/// when a reply cannot be written within `write_timeout`.
pub async fn serve_socketmap<S: AsyncRead + AsyncWrite + Unpin>(
    current: &ArcSwap<SrsState>,
    mut stream: S,
    idle: Duration,
    write_timeout: Duration,
) -> std::io::Result<()> {
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; 4096];
    let options = HandlerOptions::default();
    // `idle` counts from the last answered request, not the last byte: a client trickling a
    // byte at a time cannot hold a connection slot for good
    let mut deadline = tokio::time::Instant::now() + idle;
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Ok(()),
            Ok(r) => r?,
        };
        if n == 0 {
            return Ok(());
        }
        decoder.feed(buf.get(..n).unwrap_or_default());
        let state = current.load();
        // as the milter and `srs forward` decide: neither our domains nor excluded ones
        let is_local = |d: &str| state.local.contains(d) || state.excluded.contains(d);
        let mut out = Vec::new();
        loop {
            match decoder.decode() {
                Ok(Some(request)) => {
                    let reply = handle_request(&state.srs, &is_local, &options, &request);
                    out.extend(reply.encode());
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(
                        "socketmap: bad request, closing: {:?}",
                        crate::logging::Escaped::str(&e.to_string())
                    );
                    out.extend(Reply::invalid_query().encode());
                    return write_replies(&mut stream, &out, write_timeout).await;
                }
            }
        }
        if !out.is_empty() {
            write_replies(&mut stream, &out, write_timeout).await?;
            deadline = tokio::time::Instant::now() + idle;
        }
    }
}

/// Writes `out` to a socketmap client, failing when it is not taken within `timeout`.
async fn write_replies<S: AsyncWrite + Unpin>(
    stream: &mut S,
    out: &[u8],
    timeout: Duration,
) -> std::io::Result<()> {
    match tokio::time::timeout(timeout, stream.write_all(out)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client did not read its replies",
        )),
    }
}

/// Warns when group or others may read or write the secrets file: whoever reads it can make
/// valid SRS addresses, and so relay bounces through us (docs/srs.md: chmod 600). Called
/// where the milter loads its state (start, `config check`, reload), not by the CLI tools.
pub fn warn_if_shared(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o066 != 0 {
            tracing::warn!(
                file = %path.display(),
                mode = format!("{mode:04o}"),
                "srs.secrets can be read or written by group or others: chmod 600 it (and chown it to the milter's user)"
            );
        }
    }
}

/// The shortest signing secret accepted, in bytes: each SRS address we send carries an HMAC
/// of the secret, so a short one can be found by trying candidates offline (postsrsd's own
/// generator makes 24 characters, `authmilter srs secret` 43).
const MIN_SIGNING_SECRET: usize = 16;

/// Builds the rewriter from `[srs]`: reads the secrets file (never logged).
pub fn load_srs(cfg: &SrsConfig) -> anyhow::Result<Srs> {
    if cfg.domain.trim().is_empty() {
        anyhow::bail!("srs.domain is not set in the configuration");
    }
    // bytes, as postsrsd reads it: a secret is any 8-bit line, not necessarily UTF-8
    let mut bytes = std::fs::read(&cfg.secrets)
        .with_context(|| format!("srs.secrets: cannot read {}", cfg.secrets.display()))?;
    let secrets = srs::Secrets::parse(&bytes);
    bytes.fill(0);
    std::hint::black_box(&bytes);
    let secrets =
        secrets.map_err(|e| anyhow::anyhow!("srs.secrets: {}: {e}", cfg.secrets.display()))?;
    let signing = secrets.signing_len();
    if signing < MIN_SIGNING_SECRET {
        anyhow::bail!(
            "srs.secrets: {}: the first secret (the one that signs) has {signing} bytes; one shorter than {MIN_SIGNING_SECRET} can be found from the SRS addresses we send, and with it anyone can make addresses that relay mail through us. Make one with `authmilter srs secret` and put it on the first line (keep the old one below it until max_age_days have passed)",
            cfg.secrets.display()
        );
    }
    let mut sc = srs::SrsConfig::new(secrets, cfg.domain.trim().to_ascii_lowercase());
    sc.hash_length = cfg.hash_length;
    sc.hash_minimum = cfg.effective_hash_minimum();
    sc.max_age_days = cfg.max_age_days;
    sc.separator = match cfg.separator {
        SrsSeparator::Equals => Separator::Equals,
        SrsSeparator::Plus => Separator::Plus,
        SrsSeparator::Minus => Separator::Minus,
    };
    sc.hash_encoding = match cfg.hash_encoding {
        SrsHashEncoding::Base64url => HashEncoding::Base64Url,
        SrsHashEncoding::Base64 => HashEncoding::Base64,
    };
    Srs::new(sc).map_err(|e| {
        // the error names the key whose value the library refused
        let key = match e {
            srs::SrsError::InvalidHashLength { .. }
                if cfg.hash_length == 0 || cfg.hash_length > 27 =>
            {
                "srs.hash_length"
            }
            srs::SrsError::InvalidHashLength { .. } => "srs.hash_minimum",
            srs::SrsError::InvalidMaxAge(_) => "srs.max_age_days",
            srs::SrsError::InvalidSeparator(_) => "srs.separator",
            srs::SrsError::InvalidSrsDomain(_) => "srs.domain",
            srs::SrsError::NoSecrets => "srs.secrets",
            _ => "[srs]",
        };
        anyhow::anyhow!("{key}: {e}")
    })
}

/// Runs the socketmap listener (opened with [`crate::server::sockets::listen`]) until `stop`
/// fires, answering with the SRS state `state` holds (a SIGHUP stores the reloaded one); a
/// Unix socket file we created is removed then.
pub async fn run_socketmap(
    listening: crate::server::sockets::Listening,
    state: Arc<ArcSwap<SrsState>>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    use crate::server::sockets::Listening;
    match listening {
        Listening::Tcp(l) => {
            let accept = || async {
                let (s, _) = l.accept().await?;
                let _ = s.set_nodelay(true);
                Ok(s)
            };
            accept_loop(accept, state, stop).await;
        }
        Listening::Unix {
            listener, created, ..
        } => {
            let accept = || async { listener.accept().await.map(|(s, _)| s) };
            accept_loop(accept, state, stop).await;
            if let Some(created) = created {
                created.remove();
            }
        }
    }
    Ok(())
}

/// Accepts socketmap clients with `accept` and serves each on its own task until `stop`
/// fires (Postfix `socketmap_table(5)`); a failed accept is logged and retried, and a client
/// over [`SOCKETMAP_MAX_CONNECTIONS`] is closed at once (warned at most once a minute).
async fn accept_loop<S, F, Fut>(
    mut accept: F,
    state: Arc<ArcSwap<SrsState>>,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<S>>,
{
    let open = Arc::new(tokio::sync::Semaphore::new(SOCKETMAP_MAX_CONNECTIONS));
    let mut last_warning: Option<tokio::time::Instant> = None;
    let mut refused: u64 = 0;
    let mut accept_errors = crate::server::accept_errors::AcceptErrors::default();
    loop {
        let accepted = tokio::select! {
            a = accept() => a,
            _ = stop.changed() => return,
        };
        let s = match accepted {
            Ok(s) => {
                accept_errors.succeeded(&"socketmap");
                s
            }
            Err(e) => {
                // e.g. EMFILE or ECONNABORTED: back off briefly and keep serving, as the
                // milter listeners do; returning would leave Postfix without its maps
                accept_errors.failed(&"socketmap", &e).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            drop(s);
            refused = refused.saturating_add(1);
            if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                last_warning = Some(tokio::time::Instant::now());
                tracing::warn!(
                    limit = SOCKETMAP_MAX_CONNECTIONS,
                    refused,
                    "socketmap: connection limit reached, extra connections are closed at once"
                );
                refused = 0;
            }
            continue;
        };
        let st = Arc::clone(&state);
        tokio::spawn(async move {
            if let Err(e) = serve_socketmap(&st, s, SOCKETMAP_IDLE, SOCKETMAP_WRITE_TIMEOUT).await {
                tracing::debug!("socketmap connection: {e}");
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    fn state() -> Arc<ArcSwap<SrsState>> {
        state_excluding(&[])
    }

    fn state_excluding(excluded: &[&str]) -> Arc<ArcSwap<SrsState>> {
        let secrets = srs::load_secrets("tops3cr3t").expect("secret");
        let mut sc = srs::SrsConfig::new(secrets, "example.com");
        sc.clock = srs::Clock::fixed_unix(1_577_836_860);
        Arc::new(ArcSwap::from_pointee(SrsState {
            srs: Srs::new(sc).expect("srs"),
            local: ["example.com"].into_iter().collect(),
            excluded: excluded.iter().copied().collect(),
            mode: RewriteMode::Always,
            reverse: true,
        }))
    }

    /// postsrsd reads its secrets file as bytes (any 8-bit secret, one a line): such a file,
    /// moved over as docs/srs.md says, must load and sign as postsrsd did, not be refused
    /// as "not UTF-8"
    #[test]
    fn a_secrets_file_that_is_not_utf8_loads_as_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("srs.secrets");
        let bytes = b"\xa7\xfe8-bit \x01secret\xff\nold\n";
        std::fs::write(&path, bytes).expect("write");
        let cfg = SrsConfig {
            domain: "fwd.example".into(),
            secrets: path,
            ..SrsConfig::default()
        };
        let loaded = load_srs(&cfg).expect("8-bit secrets load");
        let mut sc =
            srs::SrsConfig::new(srs::Secrets::parse(bytes).expect("secrets"), "fwd.example");
        sc.clock = loaded.config().clock;
        let expected = Srs::new(sc).expect("srs");
        assert_eq!(
            loaded.forward("u@origin.example", "fwd.example"),
            expected.forward("u@origin.example", "fwd.example")
        );
    }

    /// postsrsd `hash-minimum`: with `hash_minimum = hash_length = 8`, an address whose hash
    /// was cut to 4 characters (a quarter of a forger's guesses at 8) is refused; unset, the
    /// minimum stays 4 as before; more than `hash_length` is a configuration error.
    #[test]
    fn hash_minimum_sets_the_shortest_hash_reversed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("srs.secrets");
        std::fs::write(&path, "0123456789abcdefGHIJ\n").expect("write");
        let cfg = |minimum: Option<usize>| SrsConfig {
            domain: "fwd.example".into(),
            secrets: path.clone(),
            hash_length: 8,
            hash_minimum: minimum,
            ..SrsConfig::default()
        };
        let srs = load_srs(&cfg(None)).expect("srs");
        let Ok(srs::Forwarded::Rewritten(addr)) = srs.forward("u@origin.example", "fwd.example")
        else {
            panic!("not rewritten");
        };
        // SRS0=HHHHHHHH=TT=origin.example=u@fwd.example: keep 4 of the 8 hash characters
        let cut = format!(
            "{}{}",
            addr.get(..9).unwrap_or_default(),
            addr.get(13..).unwrap_or_default()
        );
        assert_eq!(srs.reverse(&addr).as_deref(), Ok("u@origin.example"));
        assert_eq!(
            srs.reverse(&cut).as_deref(),
            Ok("u@origin.example"),
            "{cut}"
        );
        let strict = load_srs(&cfg(Some(8))).expect("srs");
        assert_eq!(strict.reverse(&addr).as_deref(), Ok("u@origin.example"));
        assert!(strict.reverse(&cut).is_err(), "{cut} was reversed");
        let text = "[srs]\nhash_length = 4\nhash_minimum = 5\n";
        let err = crate::config::Config::parse(text)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("srs.hash_minimum"), "{err}");
    }

    /// A signing secret short enough to be found offline from the SRS addresses we send
    /// (each carries an HMAC of it) lets anyone make addresses that relay through us
    #[test]
    fn a_short_signing_secret_is_refused_and_an_old_one_below_it_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("srs.secrets");
        let cfg = SrsConfig {
            domain: "fwd.example".into(),
            secrets: path.clone(),
            ..SrsConfig::default()
        };
        std::fs::write(&path, "changeme\n").expect("write");
        let err = format!("{:#}", load_srs(&cfg).expect_err("refused"));
        assert!(
            err.contains("8 bytes") && err.contains("authmilter srs secret"),
            "{err}"
        );
        // rotation away from it: a strong first secret, the old short one still verifying
        std::fs::write(&path, "0123456789abcdefGHIJ\nchangeme\n").expect("write");
        assert!(load_srs(&cfg).is_ok());
    }

    /// socketmap_table(5): a failed accept (EMFILE when every descriptor is taken by idle
    /// clients, ECONNABORTED) must not end the service; the next client is still answered.
    #[tokio::test]
    async fn socketmap_survives_a_failed_accept() {
        let (client, server) = duplex(4096);
        let mut pending = vec![
            Ok(server),
            Err(std::io::Error::from_raw_os_error(24)), // EMFILE
        ];
        let accept = move || {
            let next = pending.pop();
            async move {
                match next {
                    Some(r) => r,
                    None => std::future::pending().await,
                }
            }
        };
        let (_tx, rx) = watch::channel(false);
        let serving = tokio::spawn(accept_loop(accept, state(), rx));
        let mut client = client;
        client
            .write_all(b"28:forward test@otherdomain.com,")
            .await
            .expect("write");
        let mut reply = vec![0u8; 52];
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            client.read_exact(&mut reply),
        )
        .await
        .expect("answered in time")
        .expect("read");
        assert_eq!(
            reply,
            b"48:OK SRS0=vmyz=2W=otherdomain.com=test@example.com,"
        );
        assert!(!serving.is_finished());
        serving.abort();
    }

    /// A client that sends requests but never reads the replies loses its connection after
    /// the write timeout instead of holding its task and buffers for good.
    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_reads_is_dropped_after_the_write_timeout() {
        let (mut client, server) = duplex(16);
        let writer = tokio::spawn(async move {
            let _ = client.write_all(b"28:forward test@otherdomain.com,").await;
            std::future::pending::<()>().await;
            drop(client);
        });
        let served = tokio::time::timeout(
            Duration::from_secs(3600),
            serve_socketmap(&state(), server, SOCKETMAP_IDLE, SOCKETMAP_WRITE_TIMEOUT),
        )
        .await
        .expect("ended by the write timeout, not by the test's hour");
        let err = served.expect_err("a timed-out write is an error");
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        writer.abort();
    }

    /// The socketmap's `forward` leaves senders of `exclude_domains` alone, as the milter and
    /// `srs forward` do (postsrsd's `SRS_EXCLUDE_DOMAINS`).
    #[tokio::test]
    async fn socketmap_forward_leaves_excluded_domains_alone() {
        let st = state_excluding(&["excluded.example"]);
        let (mut client, server) = duplex(4096);
        let served = tokio::spawn(async move {
            serve_socketmap(&st, server, SOCKETMAP_IDLE, SOCKETMAP_WRITE_TIMEOUT).await
        });
        client
            .write_all(b"26:forward u@excluded.example,23:forward u@other.example,")
            .await
            .expect("write");
        let mut got = vec![0u8; 4096];
        let mut len = 0;
        while !String::from_utf8_lossy(&got[..len]).contains("OK SRS0=") {
            let n = client.read(&mut got[len..]).await.expect("read");
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got[..len]));
            len += n;
        }
        let text = String::from_utf8_lossy(&got[..len]).into_owned();
        assert!(
            text.starts_with("39:NOTFOUND Need not rewrite local domain.,"),
            "{text}"
        );
        drop(client);
        let _ = served.await;
    }

    /// The idle limit counts from the last answered request: a request trickled a byte at a
    /// time is cut off once `idle` has passed, however often a byte comes.
    #[tokio::test(start_paused = true)]
    async fn a_trickled_request_is_cut_off_after_the_idle_limit() {
        let (mut client, server) = duplex(4096);
        let idle = Duration::from_secs(300);
        let served = tokio::spawn(async move {
            serve_socketmap(&state(), server, idle, SOCKETMAP_WRITE_TIMEOUT).await
        });
        let request = b"23:forward u@other.example,";
        let mut sent = 0;
        for b in request.iter() {
            if client.write_all(&[*b]).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_secs(60)).await;
            if served.is_finished() {
                break;
            }
        }
        assert!(
            served.is_finished(),
            "still served after {sent} bytes a minute apart"
        );
        assert!(sent <= 6, "{sent} bytes");
        let mut rest = Vec::new();
        let _ = client.read_to_end(&mut rest).await;
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    }

    /// Local clients cannot open connections without bound: past
    /// [`SOCKETMAP_MAX_CONNECTIONS`] a new one is closed at once, and once one closes the next
    /// is served again.
    #[tokio::test]
    async fn socketmap_connections_are_capped() {
        let (streams_tx, streams_rx) = tokio::sync::mpsc::unbounded_channel();
        let streams_rx = Arc::new(tokio::sync::Mutex::new(streams_rx));
        let accept = move || {
            let rx = Arc::clone(&streams_rx);
            async move {
                match rx.lock().await.recv().await {
                    Some(s) => Ok(s),
                    None => std::future::pending().await,
                }
            }
        };
        let (_tx, rx) = watch::channel(false);
        let serving = tokio::spawn(accept_loop(accept, state(), rx));
        let mut held = Vec::new();
        for _ in 0..SOCKETMAP_MAX_CONNECTIONS {
            let (client, server) = duplex(4096);
            streams_tx.send(server).expect("accepting");
            held.push(client);
        }
        // every held connection is served (and so holds its place)
        let last = held.last_mut().expect("connections");
        last.write_all(b"28:forward test@otherdomain.com,")
            .await
            .expect("write");
        let mut reply = vec![0u8; 52];
        last.read_exact(&mut reply)
            .await
            .expect("the last one within the cap is served");
        let (mut extra, server) = duplex(4096);
        streams_tx.send(server).expect("accepting");
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), extra.read(&mut byte))
            .await
            .expect("closed at once")
            .expect("read");
        assert_eq!(n, 0, "the connection over the cap is closed");
        drop(held.pop());
        let (mut next, server) = duplex(4096);
        // the closed connection's place is given back once its task has seen the close
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        streams_tx.send(server).expect("accepting");
        next.write_all(b"28:forward test@otherdomain.com,")
            .await
            .expect("write");
        tokio::time::timeout(Duration::from_secs(5), next.read_exact(&mut reply))
            .await
            .expect("a place freed by a closed connection is used again")
            .expect("read");
        serving.abort();
    }
}
