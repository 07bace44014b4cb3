//! How many connections a built-in HTTP listener serves at once, in all and from one client
//! network: a client that opens connections and never finishes a request (slowloris) holds
//! its slots until the exchange's deadline, and without a share per network one address
//! could hold them all, again and again, before any token is checked. A slot whose request
//! has not arrived is given to a newcomer when no other is free (the oldest first): on a
//! loopback listener every local process is one client address, and four idle connections of
//! another user must not keep the scraper out.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// The slots of one listener: `total` connections at once, at most `per_network` of them from
/// one client network (an IPv4 address, or an IPv6 /64: one subscriber's addresses).
#[derive(Debug, Clone)]
pub struct ClientSlots {
    total: usize,
    per_network: usize,
    open: Arc<Mutex<OpenSlots>>,
}

/// The slots taken, by network, oldest first.
#[derive(Debug, Default)]
struct OpenSlots {
    by_network: HashMap<IpAddr, Vec<OpenSlot>>,
    next_id: u64,
}

#[derive(Debug)]
struct OpenSlot {
    id: u64,
    /// Its request arrived: the slot is no longer given away.
    serving: bool,
    taken_over: Arc<Notify>,
}

/// One connection's slot, given back when dropped.
#[derive(Debug)]
pub struct ClientSlot {
    network: IpAddr,
    id: u64,
    taken_over: Arc<Notify>,
    open: Arc<Mutex<OpenSlots>>,
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

    /// A slot for a connection from `peer`: a free one, else the oldest of its network's (or,
    /// when every slot is taken, of all) whose request has not arrived, taken over (its
    /// connection is closed); `None` when every slot that could be is serving a request (the
    /// connection is then closed unanswered).
    pub fn try_take(&self, peer: IpAddr) -> Option<ClientSlot> {
        let network = client_network(peer);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let in_all: usize = open.by_network.values().map(Vec::len).sum();
        let ours = open.by_network.get(&network).map_or(0, Vec::len);
        if ours >= self.per_network {
            open.take_over_idle(Some(network))?;
        } else if in_all >= self.total {
            open.take_over_idle(None)?;
        }
        let id = open.next_id;
        open.next_id += 1;
        let taken_over = Arc::new(Notify::new());
        open.by_network.entry(network).or_default().push(OpenSlot {
            id,
            serving: false,
            taken_over: Arc::clone(&taken_over),
        });
        Some(ClientSlot {
            network,
            id,
            taken_over,
            open: Arc::clone(&self.open),
        })
    }
}

impl OpenSlots {
    /// Frees the oldest slot whose request has not arrived, of `network` or of any, and tells
    /// its connection; `None` when there is none.
    fn take_over_idle(&mut self, network: Option<IpAddr>) -> Option<()> {
        let (net, index) = self
            .by_network
            .iter()
            .filter(|(n, _)| network.is_none_or(|want| **n == want))
            .filter_map(|(n, slots)| {
                let i = slots.iter().position(|s| !s.serving)?;
                Some((*n, i, slots.get(i)?.id))
            })
            .min_by_key(|(_, _, id)| *id)
            .map(|(n, i, _)| (n, i))?;
        let slots = self.by_network.get_mut(&net)?;
        let idle = slots.remove(index);
        if slots.is_empty() {
            self.by_network.remove(&net);
        }
        idle.taken_over.notify_one();
        Some(())
    }
}

impl ClientSlot {
    /// The connection's request arrived: from now on the slot is not given away.
    pub fn serving(&self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = open
            .by_network
            .get_mut(&self.network)
            .and_then(|slots| slots.iter_mut().find(|s| s.id == self.id))
        {
            s.serving = true;
        }
    }

    /// Resolves when a newcomer took the slot over before the request arrived.
    pub async fn taken_over(&self) {
        self.taken_over.notified().await;
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slots) = open.by_network.get_mut(&self.network) {
            slots.retain(|s| s.id != self.id);
            if slots.is_empty() {
                open.by_network.remove(&self.network);
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

    fn serving(slot: ClientSlot) -> ClientSlot {
        slot.serving();
        slot
    }

    #[test]
    fn one_network_cannot_take_every_slot() {
        let slots = ClientSlots::new(6, 4);
        let mine: Vec<_> = (0..4)
            .map(|_| serving(slots.try_take(ip("192.0.2.7")).expect("a slot")))
            .collect();
        assert!(slots.try_take(ip("192.0.2.7")).is_none());
        // the same network over IPv4-mapped IPv6 counts as the same client
        assert!(slots.try_take(ip("::ffff:192.0.2.7")).is_none());
        // others still get in, up to the total
        let a = serving(slots.try_take(ip("192.0.2.8")).expect("a slot"));
        let b = serving(slots.try_take(ip("198.51.100.1")).expect("a slot"));
        assert!(slots.try_take(ip("203.0.113.1")).is_none(), "total reached");
        drop((a, b));
        drop(mine);
        assert!(slots.open.lock().expect("lock").by_network.is_empty());
        assert!(slots.try_take(ip("192.0.2.7")).is_some());
    }

    /// Four idle connections of another local user do not keep the scraper out: the oldest
    /// slot whose request has not arrived goes to the newcomer, and its connection is told.
    #[tokio::test]
    async fn idle_slots_go_to_newcomers_oldest_first() {
        let slots = ClientSlots::new(6, 4);
        let idle: Vec<_> = (0..4)
            .map(|_| slots.try_take(ip("127.0.0.1")).expect("a slot"))
            .collect();
        let scraper = slots
            .try_take(ip("127.0.0.1"))
            .expect("the oldest idle slot");
        tokio::time::timeout(std::time::Duration::from_secs(5), idle[0].taken_over())
            .await
            .expect("the oldest was told");
        scraper.serving();
        // a serving slot is never taken: the next newcomers take the other idle ones
        for _ in 0..3 {
            assert!(slots.try_take(ip("127.0.0.1")).is_some());
        }
        let busy: Vec<_> = (0..3)
            .map(|_| serving(slots.try_take(ip("127.0.0.1")).expect("a slot")))
            .collect();
        assert!(
            slots.try_take(ip("127.0.0.1")).is_none(),
            "all four serving"
        );
        // when every slot is taken, the oldest idle one of any network goes
        let other = slots.try_take(ip("192.0.2.1")).expect("a free slot");
        let full = serving(slots.try_take(ip("192.0.2.2")).expect("the last free slot"));
        let another = slots
            .try_take(ip("192.0.2.3"))
            .expect("the idle one of 192.0.2.1");
        tokio::time::timeout(std::time::Duration::from_secs(5), other.taken_over())
            .await
            .expect("told");
        assert!(slots.try_take(ip("192.0.2.4")).is_some(), "another's, idle");
        drop((busy, full, another, idle));
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let slots = ClientSlots::new(16, 2);
        let _a = serving(slots.try_take(ip("2001:db8:1:2::1")).expect("a slot"));
        let _b = serving(slots.try_take(ip("2001:db8:1:2:ffff::9")).expect("a slot"));
        assert!(slots.try_take(ip("2001:db8:1:2:abcd::1")).is_none());
        assert!(slots.try_take(ip("2001:db8:1:3::1")).is_some());
    }
}
