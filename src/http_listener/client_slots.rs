//! How many connections a built-in HTTP listener serves at once, in all and from one client
//! network: a client that opens connections and never finishes a request (slowloris) holds
//! its slots until the exchange's deadline, and without a share per network one address
//! could hold them all, again and again, before any token is checked.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

/// The slots of one listener: `total` connections at once, at most `per_network` of them from
/// one client network (an IPv4 address, or an IPv6 /64: one subscriber's addresses).
#[derive(Debug, Clone)]
pub struct ClientSlots {
    total: usize,
    per_network: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's slot, given back when dropped.
#[derive(Debug)]
pub struct ClientSlot {
    network: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl ClientSlots {
    /// Slots for `total` connections at once, `per_network` from one client network.
    pub fn new(total: usize, per_network: usize) -> ClientSlots {
        ClientSlots {
            total,
            per_network,
            open: Arc::default(),
        }
    }

    /// A slot for a connection from `peer`, or `None` when every slot, or its network's
    /// share, is taken (the connection is then closed unanswered).
    pub fn try_take(&self, peer: IpAddr) -> Option<ClientSlot> {
        let network = client_network(peer);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let in_all: usize = open.values().sum();
        let ours = open.get(&network).copied().unwrap_or(0);
        if in_all >= self.total || ours >= self.per_network {
            return None;
        }
        open.insert(network, ours + 1);
        Some(ClientSlot {
            network,
            open: Arc::clone(&self.open),
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.network) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.network);
            }
        }
    }
}

/// The network a client's connections are counted under: an IPv4 address (an IPv4-mapped
/// IPv6 one too), or the /64 of an IPv6 address (RFC 4291 §2.5.4: one link's subnet, which a
/// single host can take every address of).
fn client_network(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn one_network_cannot_take_every_slot() {
        let slots = ClientSlots::new(6, 4);
        let mine: Vec<_> = (0..4)
            .map(|_| slots.try_take(ip("192.0.2.7")).expect("a slot"))
            .collect();
        assert!(slots.try_take(ip("192.0.2.7")).is_none());
        // the same network over IPv4-mapped IPv6 counts as the same client
        assert!(slots.try_take(ip("::ffff:192.0.2.7")).is_none());
        // others still get in, up to the total
        let a = slots.try_take(ip("192.0.2.8")).expect("a slot");
        let b = slots.try_take(ip("198.51.100.1")).expect("a slot");
        assert!(slots.try_take(ip("203.0.113.1")).is_none(), "total reached");
        drop((a, b));
        drop(mine);
        assert!(slots.open.lock().expect("lock").is_empty());
        assert!(slots.try_take(ip("192.0.2.7")).is_some());
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let slots = ClientSlots::new(16, 2);
        let _a = slots.try_take(ip("2001:db8:1:2::1")).expect("a slot");
        let _b = slots.try_take(ip("2001:db8:1:2:ffff::9")).expect("a slot");
        assert!(slots.try_take(ip("2001:db8:1:2:abcd::1")).is_none());
        assert!(slots.try_take(ip("2001:db8:1:3::1")).is_some());
    }
}
