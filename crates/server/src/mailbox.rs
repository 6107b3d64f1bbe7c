//! The single-slot "newest frame" mailbox between a room's tick and one
//! connection's writer task.
//!
//! The tick never waits on a socket: it overwrites the slot and wakes the
//! writer. A frame that is overwritten before the writer took it is stale and
//! dropped (the caller counts it). A second slot holds the newest direct reply
//! (a pong) from the connection's reader, and a third a close request so the
//! room, the reader or a draining server can end the connection with a code.

use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

/// A close code and reason to send on the WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseRequest {
    /// RFC 6455 close code.
    pub code: u16,
    /// Short reason text.
    pub reason: &'static str,
}

/// What the writer should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send this frame.
    Frame(Bytes),
    /// Send this direct reply (it goes before a waiting frame).
    Reply(Bytes),
    /// Send a close frame and stop.
    Close(CloseRequest),
}

#[derive(Debug, Default)]
struct Slot {
    frame: Option<Bytes>,
    reply: Option<Bytes>,
    close: Option<CloseRequest>,
}

/// One connection's outbound slot; shared by the room (producer) and the
/// connection's writer task (consumer).
#[derive(Debug, Default)]
pub struct Mailbox {
    slot: Mutex<Slot>,
    notify: Notify,
}

impl Mailbox {
    /// An empty mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts the newest frame, replacing any unsent one. Returns `true` if a
    /// frame was replaced (a stale drop). Never blocks on I/O.
    pub fn put(&self, frame: Bytes) -> bool {
        let replaced = {
            let mut slot = self.lock();
            if slot.close.is_some() {
                return false;
            }
            slot.frame.replace(frame).is_some()
        };
        self.notify.notify_one();
        replaced
    }

    /// Puts a direct reply, replacing an unsent older one (only the newest
    /// pong matters to a client measuring its round trip).
    pub fn put_reply(&self, reply: Bytes) {
        {
            let mut slot = self.lock();
            if slot.close.is_some() {
                return;
            }
            slot.reply = Some(reply);
        }
        self.notify.notify_one();
    }

    /// Asks the writer to close; the first request wins. A pending frame is discarded.
    pub fn close(&self, req: CloseRequest) {
        {
            let mut slot = self.lock();
            if slot.close.is_none() {
                slot.close = Some(req);
            }
            slot.frame = None;
        }
        self.notify.notify_one();
    }

    /// Whether a frame is waiting to be sent (the writer has not taken the last one).
    pub fn has_pending(&self) -> bool {
        self.lock().frame.is_some()
    }

    /// Takes what is there without waiting: a close request first, then a
    /// reply, then a frame.
    pub fn try_take(&self) -> Option<Next> {
        let mut slot = self.lock();
        if let Some(req) = slot.close {
            return Some(Next::Close(req));
        }
        if let Some(reply) = slot.reply.take() {
            return Some(Next::Reply(reply));
        }
        slot.frame.take().map(Next::Frame)
    }

    /// Waits until there is a frame or a close request and takes it.
    pub async fn next(&self) -> Next {
        loop {
            let notified = self.notify.notified();
            if let Some(next) = self.try_take() {
                return next;
            }
            notified.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        // A panic while holding this lock cannot leave the slot inconsistent
        // (every critical section is a plain assignment), so poisoning is ignored.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![n])
    }

    #[test]
    fn only_the_newest_frame_is_kept_and_drops_are_reported() {
        let m = Mailbox::new();
        assert!(!m.put(frame(1)));
        assert!(
            m.put(frame(2)),
            "overwriting an unsent frame is a stale drop"
        );
        assert!(m.put(frame(3)));
        assert!(m.has_pending());
        assert_eq!(m.try_take(), Some(Next::Frame(frame(3))));
        assert!(!m.has_pending());
        assert_eq!(m.try_take(), None);
        assert!(!m.put(frame(4)), "a taken frame is not a drop");
    }

    #[test]
    fn close_wins_over_frames_and_sticks() {
        let m = Mailbox::new();
        m.put(frame(1));
        let going_away = CloseRequest {
            code: 1001,
            reason: "going away",
        };
        m.close(going_away);
        m.close(CloseRequest {
            code: 1011,
            reason: "later",
        });
        assert!(!m.put(frame(2)), "frames after close are ignored");
        assert_eq!(m.try_take(), Some(Next::Close(going_away)));
        assert_eq!(m.try_take(), Some(Next::Close(going_away)));
    }

    #[test]
    fn replies_go_first_and_only_the_newest_is_kept() {
        let m = Mailbox::new();
        m.put(frame(1));
        m.put_reply(frame(10));
        m.put_reply(frame(11));
        assert_eq!(m.try_take(), Some(Next::Reply(frame(11))));
        assert_eq!(m.try_take(), Some(Next::Frame(frame(1))));
        assert_eq!(m.try_take(), None);
    }

    #[tokio::test]
    async fn next_wakes_on_put_from_another_thread() {
        let m = Arc::new(Mailbox::new());
        let producer = {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                m.put(frame(7));
            })
        };
        assert_eq!(m.next().await, Next::Frame(frame(7)));
        producer.join().expect("producer thread");
    }

    #[tokio::test]
    async fn a_put_before_waiting_is_not_lost() {
        let m = Mailbox::new();
        m.put(frame(9));
        assert_eq!(m.next().await, Next::Frame(frame(9)));
    }
}
