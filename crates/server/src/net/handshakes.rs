//! The handshake slots: TCP connections accepted whose first request head
//! (and, with built-in TLS, whose TLS handshake) has not arrived yet.
//!
//! A node holds at most `--max-handshakes` of them, and one client address
//! (an IPv6 /64; the TCP peer, since nothing else is known before the head)
//! at most `--max-handshakes-per-ip` (loopback and `--trusted-proxies`
//! peers exempt, as with the other per-address caps, unless
//! `--limit-loopback`). When every slot is taken, a newcomer whose address
//! holds fewer pending sockets than the heaviest address (by two or more)
//! takes the place of that address's **oldest** pending socket, which is
//! closed: one address opening sockets by the thousand and sending nothing
//! can hold back only itself, never a player, a room API call or a health
//! probe from another address. Otherwise the newcomer is closed at accept,
//! as before.
//!
//! [`HandshakeTable`] is the rule, sans-IO and unit-tested; [`HandshakeSlots`]
//! is the shell the accept loop uses: each admitted socket gets an
//! [`Admitted`]: a [`Pending`] whose drop gives the slot back, and a
//! [`Shed`] that resolves when a newcomer took its place.

use std::{
    collections::{BTreeMap, HashMap},
    net::IpAddr,
    sync::{Arc, Mutex},
};

use tokio::sync::oneshot;

use crate::net::limits::ip_key;

/// Why a socket was refused a handshake slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every slot is taken and no address holds more than the newcomer's.
    Busy,
    /// The newcomer's address already holds `--max-handshakes-per-ip`.
    PerAddress,
}

/// What [`HandshakeTable::admit`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit<V> {
    /// Admitted as entry `id`; `shed` is the entry it displaced (its value),
    /// to be closed by the caller.
    Admitted {
        /// The new entry's id (for [`HandshakeTable::release`]).
        id: u64,
        /// The displaced entry's value, when the slots were full.
        shed: Option<V>,
    },
    /// Not admitted.
    Refused(Refused),
}

/// The pending sockets, per address in arrival order, each with a value `V`
/// (the shell's shed signal). No clock and no I/O: arrival order is the id.
#[derive(Debug)]
pub struct HandshakeTable<V> {
    capacity: usize,
    per_address: usize,
    next_id: u64,
    total: usize,
    by_address: HashMap<IpAddr, BTreeMap<u64, V>>,
}

impl<V> HandshakeTable<V> {
    /// A table of `capacity` slots, at most `per_address` for one capped address.
    pub fn new(capacity: usize, per_address: usize) -> HandshakeTable<V> {
        HandshakeTable {
            capacity,
            per_address,
            next_id: 0,
            total: 0,
            by_address: HashMap::new(),
        }
    }

    /// Admits a socket from `key` (already reduced by `ip_key`); `capped`
    /// says whether the per-address cap applies to it.
    pub fn admit(&mut self, key: IpAddr, capped: bool, value: V) -> Admit<V> {
        let mine = self.by_address.get(&key).map_or(0, BTreeMap::len);
        if capped && mine >= self.per_address {
            return Admit::Refused(Refused::PerAddress);
        }
        let mut shed = None;
        if self.total >= self.capacity {
            // The heaviest address other than the newcomer's; ties go to the
            // address whose oldest socket is oldest (it has waited longest).
            let heaviest = self
                .by_address
                .iter()
                .filter(|(k, _)| **k != key)
                .max_by(|(_, a), (_, b)| {
                    a.len()
                        .cmp(&b.len())
                        .then_with(|| b.keys().next().cmp(&a.keys().next()))
                })
                .map(|(k, pending)| (*k, pending.len()));
            match heaviest {
                Some((victim, n)) if mine + 1 < n => {
                    let pending = self.by_address.get_mut(&victim).expect("present");
                    shed = pending.pop_first().map(|(_, v)| v);
                    if pending.is_empty() {
                        self.by_address.remove(&victim);
                    }
                    self.total -= 1;
                }
                _ => return Admit::Refused(Refused::Busy),
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.by_address.entry(key).or_default().insert(id, value);
        self.total += 1;
        Admit::Admitted { id, shed }
    }

    /// Gives entry `id` of `key` back (its head arrived, or it closed); its
    /// value, or `None` when it was shed already.
    pub fn release(&mut self, key: IpAddr, id: u64) -> Option<V> {
        let pending = self.by_address.get_mut(&key)?;
        let value = pending.remove(&id)?;
        if pending.is_empty() {
            self.by_address.remove(&key);
        }
        self.total -= 1;
        Some(value)
    }

    /// Slots taken.
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether no slot is taken.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Slots `key` holds.
    pub fn held_by(&self, key: IpAddr) -> usize {
        self.by_address.get(&key).map_or(0, BTreeMap::len)
    }
}

/// The accept loop's handshake slots (a [`HandshakeTable`] behind a mutex,
/// with a oneshot per entry to tell a shed socket to close).
#[derive(Debug)]
pub struct HandshakeSlots {
    table: Mutex<HandshakeTable<oneshot::Sender<()>>>,
}

/// One socket's handshake slot: given back on drop, or by [`Pending::release`]
/// when its first request head arrives.
#[derive(Debug)]
pub struct Pending {
    slots: Arc<HandshakeSlots>,
    key: IpAddr,
    id: u64,
    released: bool,
}

/// Resolves when the slot's socket was shed (a newcomer took its place).
#[derive(Debug)]
pub struct Shed(oneshot::Receiver<()>);

impl Shed {
    /// Waits until shed; never resolves once the slot was given back.
    pub async fn wait(&mut self) {
        if (&mut self.0).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// What [`HandshakeSlots::admit`] gives an admitted socket.
#[derive(Debug)]
pub struct Admitted {
    /// The slot itself.
    pub pending: Pending,
    /// Its shed signal.
    pub shed: Shed,
    /// Whether another socket was shed to make room.
    pub displaced: bool,
}

impl HandshakeSlots {
    /// `capacity` slots, `per_address` for one capped address.
    pub fn new(capacity: usize, per_address: usize) -> Arc<HandshakeSlots> {
        Arc::new(HandshakeSlots {
            table: Mutex::new(HandshakeTable::new(capacity, per_address)),
        })
    }

    /// Admits a socket from `peer`; `capped` says whether the per-address
    /// cap applies to it. A displaced socket is told to close.
    pub fn admit(self: &Arc<Self>, peer: IpAddr, capped: bool) -> Result<Admitted, Refused> {
        let key = ip_key(peer);
        let (tx, rx) = oneshot::channel();
        let decided = self.lock().admit(key, capped, tx);
        match decided {
            Admit::Admitted { id, shed } => {
                let displaced = shed.is_some();
                if let Some(victim) = shed {
                    let _ = victim.send(());
                }
                Ok(Admitted {
                    pending: Pending {
                        slots: Arc::clone(self),
                        key,
                        id,
                        released: false,
                    },
                    shed: Shed(rx),
                    displaced,
                })
            }
            Admit::Refused(why) => Err(why),
        }
    }

    /// Slots taken.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no slot is taken.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HandshakeTable<oneshot::Sender<()>>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Pending {
    /// Gives the slot back now (the first request head arrived).
    pub fn release(&mut self) {
        if !self.released {
            self.released = true;
            // Dropping the sender ends the socket's `Shed` wait for good.
            drop(self.slots.lock().release(self.key, self.id));
        }
    }

    /// Whether the slot is still held.
    pub fn is_held(&self) -> bool {
        !self.released
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn admitted<V: std::fmt::Debug>(a: Admit<V>) -> (u64, Option<V>) {
        match a {
            Admit::Admitted { id, shed } => (id, shed),
            Admit::Refused(why) => panic!("refused: {why:?}"),
        }
    }

    #[test]
    fn a_capped_address_holds_at_most_its_share() {
        let mut t = HandshakeTable::new(10, 3);
        let a = ip("10.0.0.1");
        for i in 0..3 {
            admitted(t.admit(a, true, i));
        }
        assert_eq!(t.admit(a, true, 3), Admit::Refused(Refused::PerAddress));
        // An uncapped address (loopback without --limit-loopback) is not.
        let lo = ip("127.0.0.1");
        for i in 0..5 {
            admitted(t.admit(lo, false, i));
        }
        assert_eq!((t.len(), t.held_by(a), t.held_by(lo)), (8, 3, 5));
    }

    #[test]
    fn when_full_a_light_newcomer_displaces_the_heaviest_addresss_oldest() {
        let mut t = HandshakeTable::new(4, 100);
        let flood = ip("10.0.0.1");
        let ids: Vec<u64> = (0..4)
            .map(|i| admitted(t.admit(flood, true, i)).0)
            .collect();
        // A newcomer from elsewhere takes the place of the flood's oldest (value 0).
        let (_, shed) = admitted(t.admit(ip("10.0.0.2"), true, 10));
        assert_eq!(shed, Some(0));
        assert_eq!((t.len(), t.held_by(flood)), (4, 3));
        // The shed entry is gone: releasing it later is a no-op.
        assert_eq!(t.release(flood, ids[0]), None);
        assert_eq!(t.len(), 4);
        // The next newcomer displaces the next oldest (value 1).
        let (_, shed) = admitted(t.admit(ip("10.0.0.3"), true, 11));
        assert_eq!(shed, Some(1));
        // The flood itself never displaces anyone: it is the heaviest.
        assert_eq!(t.admit(flood, true, 5), Admit::Refused(Refused::Busy));
    }

    #[test]
    fn when_full_and_balanced_the_newcomer_is_refused() {
        let mut t = HandshakeTable::new(4, 100);
        for (i, a) in ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
            .iter()
            .enumerate()
        {
            admitted(t.admit(ip(a), true, i));
        }
        // Every address holds 1: a newcomer would hold 1 too; nobody is heavier.
        assert_eq!(
            t.admit(ip("10.0.0.5"), true, 9),
            Admit::Refused(Refused::Busy)
        );
        // An address holding 2 against a newcomer's 0 is displaced.
        let mut t = HandshakeTable::new(3, 100);
        admitted(t.admit(ip("10.0.0.1"), true, 0));
        admitted(t.admit(ip("10.0.0.1"), true, 1));
        admitted(t.admit(ip("10.0.0.2"), true, 2));
        // 10.0.0.2 would go to 2 against 10.0.0.1's 2: refused.
        assert_eq!(
            t.admit(ip("10.0.0.2"), true, 3),
            Admit::Refused(Refused::Busy)
        );
        let (_, shed) = admitted(t.admit(ip("10.0.0.3"), true, 4));
        assert_eq!(shed, Some(0));
    }

    #[test]
    fn ties_shed_the_address_that_has_waited_longest() {
        let mut t = HandshakeTable::new(4, 100);
        admitted(t.admit(ip("10.0.0.2"), true, 20));
        admitted(t.admit(ip("10.0.0.1"), true, 10));
        admitted(t.admit(ip("10.0.0.1"), true, 11));
        admitted(t.admit(ip("10.0.0.2"), true, 21));
        let (_, shed) = admitted(t.admit(ip("10.0.0.9"), true, 90));
        assert_eq!(shed, Some(20), "10.0.0.2's first socket is the oldest");
    }

    #[test]
    fn release_frees_the_slot_and_the_address() {
        let mut t = HandshakeTable::new(2, 1);
        let a = ip("2001:db8::1");
        let (id, _) = admitted(t.admit(ip_key(a), true, ()));
        // The same /64 counts as one address.
        assert_eq!(
            t.admit(ip_key(ip("2001:db8::2")), true, ()),
            Admit::Refused(Refused::PerAddress)
        );
        assert_eq!(t.release(ip_key(a), id), Some(()));
        assert!(t.is_empty());
        admitted(t.admit(ip_key(ip("2001:db8::3")), true, ()));
    }

    #[tokio::test]
    async fn a_shed_socket_hears_it_and_a_released_one_never_does() {
        let slots = HandshakeSlots::new(2, 10);
        let lo = ip("127.0.0.1");
        let mut first = slots.admit(lo, false).expect("admitted");
        let mut second = slots.admit(lo, false).expect("admitted");
        assert!(!first.displaced && !second.displaced);
        second.pending.release();
        assert!(!second.pending.is_held());
        assert_eq!(slots.len(), 1);
        let third = slots.admit(lo, false).expect("admitted");
        let newcomer = slots.admit(ip("127.0.0.3"), false).expect("admitted");
        assert!(newcomer.displaced);
        // `first` was the flood's oldest: it is told to close.
        tokio::time::timeout(std::time::Duration::from_secs(5), first.shed.wait())
            .await
            .expect("the oldest socket is shed");
        // `second` released its slot: its wait never ends.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), second.shed.wait())
                .await
                .is_err()
        );
        drop((first, third, newcomer));
        assert!(slots.is_empty());
    }
}
