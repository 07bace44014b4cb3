//! A stream socket that waits for the peer's data only: it is registered with the event loop
//! for read readiness, never for write readiness while it can write.
//!
//! tokio registers every `UnixStream`/`TcpStream` for both directions, edge-triggered, for its
//! whole life. On a Unix socket the kernel signals "writable" to every registered waiter each
//! time the peer reads (`unix_write_space`), so a milter asleep waiting for the next command is
//! woken, for nothing, each time the MTA reads one of its replies, and a client waiting for a
//! reply is woken each time the milter reads a command (a thread wake-up, and on a virtual
//! machine an interrupt to a sleeping vCPU, every time). Postfix and Sendmail wait with
//! `poll`/`select` for the one direction they need and never see these. [`QuietSocket`] does
//! the same: writes go straight to the socket and only a write that would block registers a
//! second descriptor of the socket for write readiness, dropped again once the write is done.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// What [`QuietSocket`] wraps: a nonblocking stream socket of the standard library, which owns
/// its descriptor (sealed: implemented for `UnixStream` and `TcpStream` only).
pub trait StreamSocket: AsRawFd + Sized + Unpin + sealed::Owned {
    /// A second descriptor of the same socket (`dup`), to wait on for write readiness.
    fn duplicate(&self) -> io::Result<Self>;
    /// Reads from the socket (never blocks: the socket is nonblocking).
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes to the socket (never blocks).
    fn write_some(&self, buf: &[u8]) -> io::Result<usize>;
    /// Shuts the sending direction down.
    fn shutdown_write(&self) -> io::Result<()>;
}

mod sealed {
    /// Types that own their descriptor: `AsyncFd` deregisters it before the type closes it.
    pub trait Owned {}
    impl Owned for std::os::unix::net::UnixStream {}
    impl Owned for std::net::TcpStream {}
}

/// Registers `socket` with the runtime for `interest`. `AsyncFd::with_interest` is deprecated
/// because a type that merely borrows a descriptor could close it while it is registered
/// (tokio#8587); a [`StreamSocket`] owns its descriptor and `AsyncFd` deregisters it before
/// dropping the socket, so that cannot happen here (the replacement is an `unsafe fn`, and this
/// crate forbids `unsafe`).
#[allow(deprecated)]
fn register<S: StreamSocket>(socket: S, interest: Interest) -> io::Result<AsyncFd<S>> {
    AsyncFd::with_interest(socket, interest)
}

/// The same four calls on both socket types.
macro_rules! stream_socket {
    ($t:ty) => {
        impl StreamSocket for $t {
            fn duplicate(&self) -> io::Result<Self> {
                self.try_clone()
            }
            fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
                (&*self).read(buf)
            }
            fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
                (&*self).write(buf)
            }
            fn shutdown_write(&self) -> io::Result<()> {
                self.shutdown(std::net::Shutdown::Write)
            }
        }
    };
}
stream_socket!(std::os::unix::net::UnixStream);
stream_socket!(std::net::TcpStream);

/// A stream socket registered for read readiness only (see the module documentation).
pub struct QuietSocket<S: StreamSocket> {
    read: AsyncFd<S>,
    /// A duplicate descriptor registered for write readiness while a write would block.
    write_wait: Option<AsyncFd<S>>,
}

impl<S: StreamSocket> QuietSocket<S> {
    /// Registers a nonblocking socket with the current tokio runtime for read readiness.
    pub fn new(socket: S) -> io::Result<Self> {
        Ok(QuietSocket {
            read: register(socket, Interest::READABLE)?,
            write_wait: None,
        })
    }

    /// The socket.
    pub fn get_ref(&self) -> &S {
        self.read.get_ref()
    }
}

impl QuietSocket<std::os::unix::net::UnixStream> {
    /// Takes a socket over from tokio (which drops its registration).
    pub fn from_tokio_unix(stream: tokio::net::UnixStream) -> io::Result<Self> {
        Self::new(stream.into_std()?)
    }
}

impl QuietSocket<std::net::TcpStream> {
    /// Takes a socket over from tokio (which drops its registration).
    pub fn from_tokio_tcp(stream: tokio::net::TcpStream) -> io::Result<Self> {
        Self::new(stream.into_std()?)
    }
}

/// Most bytes one read takes through [`SCRATCH`] (the connections' read buffers hold 16 KiB).
const SCRATCH_LEN: usize = 16 * 1024;

thread_local! {
    /// Where a read into uninitialized memory lands first. Reading straight into a
    /// `BytesMut`'s spare room would need it zeroed first (`ReadBuf::initialize_unfilled`,
    /// 16 KiB of `memset` for every read, however few bytes arrive; this crate forbids the
    /// `unsafe` that skips it); copying what arrived costs only what arrived.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; SCRATCH_LEN]);
}

/// One read from `socket` into `buf`: straight into `buf` where its room is initialized
/// already, else through [`SCRATCH`].
fn read_into<S: StreamSocket>(socket: &S, buf: &mut ReadBuf<'_>) -> io::Result<()> {
    if buf.initialized().len() > buf.filled().len() {
        let room = buf.initialized().len() - buf.filled().len();
        let n = socket.read_some(buf.initialize_unfilled_to(room))?;
        buf.advance(n);
        return Ok(());
    }
    read_through_scratch(socket, buf.remaining(), |arrived| buf.put_slice(arrived))?;
    Ok(())
}

/// One read of at most `max` bytes from `socket` into [`SCRATCH`], handed to `put`; the
/// number of bytes read.
fn read_through_scratch<S: StreamSocket>(
    socket: &S,
    max: usize,
    put: impl FnOnce(&[u8]),
) -> io::Result<usize> {
    SCRATCH.with_borrow_mut(|scratch| {
        let part = scratch.get_mut(..max.min(SCRATCH_LEN)).unwrap_or_default();
        let n = socket.read_some(part)?;
        put(part.get(..n).unwrap_or_default());
        Ok(n)
    })
}

/// Reading what has already arrived, without waiting for the event loop to report it.
pub trait ReadArrived {
    /// Appends the bytes already in the socket to `buf`: `Ok(None)` when there are none now,
    /// `Ok(Some(0))` when the peer has closed.
    fn read_arrived(&mut self, buf: &mut bytes::BytesMut) -> io::Result<Option<usize>>;
}

impl<S: StreamSocket> ReadArrived for QuietSocket<S> {
    fn read_arrived(&mut self, buf: &mut bytes::BytesMut) -> io::Result<Option<usize>> {
        let read = read_through_scratch(self.read.get_ref(), SCRATCH_LEN, |arrived| {
            buf.extend_from_slice(arrived)
        });
        match read {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl<S: StreamSocket> AsyncRead for QuietSocket<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.read.poll_read_ready(cx))?;
            // A short read does not clear the readiness (tokio's own streams do): the MTA
            // may still be writing the rest of the message, and asking again is cheaper than
            // sleeping until the next edge (measured, docs/PERFORMANCE.md).
            match guard.try_io(|fd| read_into(fd.get_ref(), buf)) {
                Ok(Ok(())) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                // WouldBlock: readiness cleared, wait for the next edge
                Err(_) => continue,
            }
        }
    }
}

impl<S: StreamSocket> AsyncWrite for QuietSocket<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.read.get_ref().write_some(buf) {
                Ok(n) => {
                    // the wait is over: the peer's reads no longer wake us
                    self.write_wait = None;
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            if self.write_wait.is_none() {
                let dup = self.read.get_ref().duplicate()?;
                self.write_wait = Some(register(dup, Interest::WRITABLE)?);
            }
            let Some(wait) = self.write_wait.as_ref() else {
                continue;
            };
            let mut guard = ready!(wait.poll_write_ready(cx))?;
            // readiness is re-armed by the next WouldBlock, if any
            guard.clear_ready();
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.write_wait = None;
        Poll::Ready(self.read.get_ref().shutdown_write())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A write larger than the socket buffer completes (it waits for write readiness through
    /// the duplicate descriptor) and the reader gets every byte in order.
    #[tokio::test]
    async fn a_write_that_would_block_waits_and_completes() {
        let (a, b) = std::os::unix::net::UnixStream::pair().expect("pair");
        a.set_nonblocking(true).expect("nonblocking");
        b.set_nonblocking(true).expect("nonblocking");
        let mut writer = QuietSocket::new(a).expect("register");
        let mut reader = QuietSocket::new(b).expect("register");
        let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        let send = tokio::spawn(async move {
            writer.write_all(&data).await.expect("write");
            writer.shutdown().await.expect("shutdown");
        });
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await.expect("read");
        send.await.expect("writer task");
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "bytes differ");
    }

    /// Reading returns what is there and then waits for more; EOF reads as 0.
    #[tokio::test]
    async fn reads_wait_for_data_and_see_eof() {
        let (a, b) = tokio::net::UnixStream::pair().expect("pair");
        let mut reader = QuietSocket::from_tokio_unix(b).expect("register");
        let mut writer = QuietSocket::from_tokio_unix(a).expect("register");
        let read = tokio::spawn(async move {
            let mut buf = [0u8; 16];
            let n = reader.read(&mut buf).await.expect("read");
            let tail = reader.read(&mut buf[n..]).await.expect("read eof");
            (buf, n, tail)
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        writer.write_all(b"hello").await.expect("write");
        writer.shutdown().await.expect("shutdown");
        let (buf, n, tail) = read.await.expect("reader task");
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(tail, 0);
    }
}
