//! Loopback ports for tests.

use std::net::{SocketAddr, TcpListener, UdpSocket};

/// A loopback TCP port that was free a moment ago (bound to port 0, read, released). Callers
/// that can lose the race retry their start-up with a fresh port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// A loopback port free for both UDP and TCP right now (for a nameserver), 1024 or above.
pub fn free_udp_tcp_port() -> Result<u16, String> {
    for _ in 0..20 {
        let tcp = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        let port = tcp.local_addr().map_err(|e| e.to_string())?.port();
        if port >= 1024 && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free loopback port".into())
}

/// A loopback port with a UDP socket and a TCP listener bound that never answer: queries sent
/// there time out. Released on drop.
#[derive(Debug)]
pub struct BlackHole {
    _udp: UdpSocket,
    _tcp: Option<TcpListener>,
    addr: SocketAddr,
}

impl BlackHole {
    /// Binds a fresh loopback port.
    pub fn bind() -> Result<Self, String> {
        let udp = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind udp: {e}"))?;
        let addr = udp.local_addr().map_err(|e| e.to_string())?;
        // TCP connections are accepted by the kernel into the backlog and never served.
        let tcp = TcpListener::bind(addr).ok();
        Ok(Self {
            _udp: udp,
            _tcp: tcp,
            addr,
        })
    }

    /// The silent address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
