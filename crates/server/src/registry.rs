//! The directory of live rooms: room id → handle, creating a room on its
//! first join and placing it on the least-loaded tick worker.
//!
//! Room ids are opaque strings from the URL (validated by [`valid_room_id`]);
//! keeping the directory behind this one type is what lets a consistent-hash
//! ring sit in front of it later (a node answers only for the ids it owns).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Instant,
};

use crossbeam_channel::{Receiver, Sender};

use crate::{
    mailbox::CloseRequest,
    metrics::Metrics,
    room::{RoomCmd, RoomHandle, RoomHost, RoomSettings},
    worker::WorkerMsg,
};

/// Longest room id, in bytes.
pub const MAX_ROOM_ID_BYTES: usize = 64;

/// Whether `id` is a usable room id: 1 to 64 of `A-Z a-z 0-9 - _ .`.
pub fn valid_room_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ROOM_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A tick worker as the registry sees it.
#[derive(Debug)]
pub struct WorkerSlot {
    /// Where to send new rooms.
    pub tx: Sender<WorkerMsg>,
    /// Rooms it runs now.
    pub rooms: Arc<AtomicUsize>,
}

/// Why the registry could not give a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryError {
    /// The server is draining; no new joins.
    Draining,
    /// No tick worker is running.
    NoWorker,
}

/// All live rooms of this process.
#[derive(Debug)]
pub struct Registry {
    rooms: Mutex<HashMap<Arc<str>, RoomHandle>>,
    workers: Vec<WorkerSlot>,
    settings: RoomSettings,
    metrics: Metrics,
    draining: AtomicBool,
    next_serial: AtomicU64,
}

impl Registry {
    /// A registry placing rooms on these workers.
    pub fn new(workers: Vec<WorkerSlot>, settings: RoomSettings, metrics: Metrics) -> Self {
        Registry {
            rooms: Mutex::new(HashMap::new()),
            workers,
            settings,
            metrics,
            draining: AtomicBool::new(false),
            next_serial: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, RoomHandle>> {
        // Critical sections are single map operations: a poisoned lock holds a consistent map.
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The handle of room `id`, creating the room if it does not exist.
    pub fn get_or_create(self: &Arc<Self>, id: &str) -> Result<RoomHandle, RegistryError> {
        if self.draining.load(Ordering::Acquire) {
            return Err(RegistryError::Draining);
        }
        let mut rooms = self.lock();
        if let Some(handle) = rooms.get(id) {
            return Ok(handle.clone());
        }
        let worker = self
            .workers
            .iter()
            .min_by_key(|w| w.rooms.load(Ordering::Relaxed))
            .ok_or(RegistryError::NoWorker)?;
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        let id: Arc<str> = Arc::from(id);
        let (host, handle) = RoomHost::new(
            Arc::clone(&id),
            serial,
            self.settings.clone(),
            Arc::clone(self),
            self.metrics.clone(),
            Instant::now(),
        );
        worker
            .tx
            .send(WorkerMsg::AddRoom(Box::new(host)))
            .map_err(|_| RegistryError::NoWorker)?;
        worker.rooms.fetch_add(1, Ordering::Relaxed);
        self.metrics.rooms.increment(1.0);
        rooms.insert(id, handle.clone());
        Ok(handle)
    }

    /// Forgets room `id` if it is still the room with `serial`.
    pub fn remove(&self, id: &str, serial: u64) {
        let mut rooms = self.lock();
        if rooms.get(id).is_some_and(|h| h.serial == serial) {
            rooms.remove(id);
            self.metrics.rooms.decrement(1.0);
        }
    }

    /// Forgets an idle room only if no command is waiting for it, so a join
    /// racing with the close is never lost (it either lands before the check
    /// or finds no room and creates a new one).
    pub fn remove_if_idle(&self, id: &str, serial: u64, control: &Receiver<RoomCmd>) -> bool {
        let mut rooms = self.lock();
        if !control.is_empty() {
            return false;
        }
        if rooms.get(id).is_some_and(|h| h.serial == serial) {
            rooms.remove(id);
            self.metrics.rooms.decrement(1.0);
        }
        true
    }

    /// Called by a worker when it dropped a room.
    pub fn room_dropped(&self, worker: usize) {
        if let Some(w) = self.workers.get(worker) {
            w.rooms.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Number of live rooms.
    pub fn room_count(&self) -> usize {
        self.lock().len()
    }

    /// Stops new joins and asks every room to close its players with `req`.
    pub fn drain(&self, req: CloseRequest) {
        self.draining.store(true, Ordering::Release);
        for handle in self.lock().values() {
            let _ = handle.control.send(RoomCmd::Shutdown(req));
        }
    }

    /// Whether [`Registry::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Tells every worker to stop once its rooms are gone.
    pub fn stop_workers(&self) {
        for w in &self.workers {
            let _ = w.tx.send(WorkerMsg::Shutdown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_are_checked() {
        for ok in ["lobby", "a", "bots-0", "Room_1.x", &"r".repeat(64)] {
            assert!(valid_room_id(ok), "{ok}");
        }
        for bad in ["", "with space", "ünï", "a/b", "x?y", &"r".repeat(65)] {
            assert!(!valid_room_id(bad), "{bad}");
        }
    }
}
