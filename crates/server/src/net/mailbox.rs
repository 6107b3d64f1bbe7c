//! The single-slot "newest frame" mailbox between a room's tick and one
//! connection's task.
//!
//! The tick never waits on a socket. Each tick the room first calls
//! [`Mailbox::begin_frame`], which drops a frame the writer never took (a
//! stale drop, counted by the caller) and tells the room the **baseline**: the
//! tick of the newest frame the writer took. Only taken frames become
//! baselines, so every delta the room encodes applies to what the client will
//! hold when it arrives (the writer sends what it takes, in order). Then the
//! room [`Mailbox::put`]s the new frame and wakes the writer, once.
//!
//! A frame is the part of a `State` every client with the same baseline
//! shares, plus this player's acknowledgement; the room's events for the
//! player wait beside it in a bounded queue and ride the next frame the
//! writer takes (at most [`MAX_EVENTS_PER_STATE`] a frame), so a reader that
//! loses stale frames still gets every event, once, in order.
//!
//! A second slot holds the newest direct reply (a pong) from the connection's
//! reader, and a third a close request so the room, the reader or a draining
//! server can end the connection with a code. The writer's waker lives inside
//! the slot's lock: a put wakes it only if it is waiting, and a writer with
//! nothing to do costs nothing.

use std::{
    collections::VecDeque,
    sync::Mutex,
    task::{Context, Poll, Waker},
};

use bytes::Bytes;
use tickroom_protocol::{MAX_EVENTS_PER_STATE, encode_state};

/// Most events that may wait for one connection's writer; past it the
/// connection is too slow to follow its game and is closed.
pub const MAX_PENDING_EVENTS: usize = 1024;

pub use crate::net::close::CloseRequest;

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

/// What [`Mailbox::begin_frame`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    /// The tick of the newest frame the writer took, if any.
    pub taken: Option<u32>,
    /// A frame was waiting unsent and has been dropped.
    pub stale: bool,
}

#[derive(Debug, Default)]
struct Slot {
    /// Tick, acknowledgement, the state's shared tail.
    frame: Option<(u32, u32, Bytes)>,
    events: VecDeque<Bytes>,
    taken: Option<u32>,
    reply: Option<Bytes>,
    close: Option<crate::net::close::CloseRequest>,
    waker: Option<Waker>,
}

/// One connection's outbound slot; shared by the room (producer) and the
/// connection's task (consumer).
#[derive(Debug, Default)]
pub struct Mailbox {
    slot: Mutex<Slot>,
}

impl Mailbox {
    /// An empty mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a tick's delivery: drops an unsent frame and returns the baseline.
    pub fn begin_frame(&self) -> Baseline {
        let mut slot = self.lock();
        Baseline {
            stale: slot.frame.take().is_some(),
            taken: slot.taken,
        }
    }

    /// Puts the frame of `tick` (its player's newest applied input `ack`
    /// and the state's shared `tail`), replacing any unsent one (returns
    /// `true` if it did: a stale drop). Never blocks on I/O.
    pub fn put(&self, tick: u32, ack: u32, tail: Bytes) -> bool {
        let (replaced, waker) = {
            let mut slot = self.lock();
            if slot.close.is_some() {
                return false;
            }
            (
                slot.frame.replace((tick, ack, tail)).is_some(),
                slot.waker.take(),
            )
        };
        if let Some(w) = waker {
            w.wake();
        }
        replaced
    }

    /// Queues an event for the next frame; `false` (and nothing queued) when
    /// [`MAX_PENDING_EVENTS`] already wait: the caller closes the connection.
    pub fn push_event(&self, event: Bytes) -> bool {
        let mut slot = self.lock();
        if slot.close.is_some() {
            return true;
        }
        if slot.events.len() >= MAX_PENDING_EVENTS {
            return false;
        }
        slot.events.push_back(event);
        true
    }

    /// Puts a direct reply, replacing an unsent older one (only the newest
    /// pong matters to a client measuring its round trip).
    pub fn put_reply(&self, reply: Bytes) {
        let waker = {
            let mut slot = self.lock();
            if slot.close.is_some() {
                return;
            }
            slot.reply = Some(reply);
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Asks the writer to close; the first request wins. A pending frame is discarded.
    pub fn close(&self, req: CloseRequest) {
        let waker = {
            let mut slot = self.lock();
            if slot.close.is_none() {
                slot.close = Some(req);
            }
            slot.frame = None;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The close request the room (or the reader) made, if any; it stays
    /// for the writer to take.
    pub fn close_request(&self) -> Option<CloseRequest> {
        self.lock().close
    }

    /// Takes what is there without waiting: a close request first, then a
    /// reply, then a frame (whose tick becomes the baseline).
    pub fn try_take(&self) -> Option<Next> {
        Self::take(&mut self.lock())
    }

    /// Like [`Mailbox::try_take`], but when there is nothing, registers the
    /// task to be woken by the next put or close.
    pub fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Next> {
        let mut slot = self.lock();
        match Self::take(&mut slot) {
            Some(next) => Poll::Ready(next),
            None => {
                if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    slot.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// Waits until there is something and takes it.
    pub async fn next(&self) -> Next {
        std::future::poll_fn(|cx| self.poll_take(cx)).await
    }

    fn take(slot: &mut Slot) -> Option<Next> {
        if let Some(req) = slot.close {
            return Some(Next::Close(req));
        }
        if let Some(reply) = slot.reply.take() {
            return Some(Next::Reply(reply));
        }
        let (tick, ack, tail) = slot.frame.take()?;
        slot.taken = Some(tick);
        let n = slot.events.len().min(MAX_EVENTS_PER_STATE);
        let events_len: usize = slot.events.iter().take(n).map(|e| e.len() + 3).sum();
        let mut out = Vec::with_capacity(16 + events_len + tail.len());
        encode_state(
            ack,
            slot.events
                .drain(..n)
                .collect::<Vec<_>>()
                .iter()
                .map(|e| &e[..]),
            &tail,
            &mut out,
        );
        Some(Next::Frame(Bytes::from(out)))
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

    /// The State a writer sends for a frame with ack 0, no events and tail `frame(n)`.
    fn sent(n: u8) -> Bytes {
        Bytes::from(vec![1, 0, 0, n])
    }

    #[test]
    fn only_taken_frames_become_baselines_and_unsent_ones_are_stale() {
        let m = Mailbox::new();
        assert_eq!(
            m.begin_frame(),
            Baseline {
                taken: None,
                stale: false
            }
        );
        assert!(!m.put(1, 0, frame(1)));
        assert_eq!(
            m.begin_frame(),
            Baseline {
                taken: None,
                stale: true
            },
            "never sent"
        );
        m.put(2, 0, frame(2));
        assert_eq!(m.try_take(), Some(Next::Frame(sent(2))));
        assert_eq!(
            m.begin_frame(),
            Baseline {
                taken: Some(2),
                stale: false
            }
        );
        m.put(3, 0, frame(3));
        assert!(
            m.put(4, 0, frame(4)),
            "overwriting an unsent frame is a stale drop"
        );
        assert_eq!(
            m.begin_frame(),
            Baseline {
                taken: Some(2),
                stale: true
            }
        );
        assert_eq!(m.try_take(), None, "the stale frame is gone");
    }

    #[test]
    fn close_wins_over_frames_and_sticks() {
        let m = Mailbox::new();
        m.put(1, 0, frame(1));
        let going_away = CloseRequest {
            code: 1001,
            reason: "going away",
        };
        m.close(going_away);
        m.close(CloseRequest {
            code: 1011,
            reason: "later",
        });
        assert!(!m.put(2, 0, frame(2)), "frames after close are ignored");
        assert_eq!(m.close_request(), Some(going_away), "the reader sees it");
        assert_eq!(m.try_take(), Some(Next::Close(going_away)));
        assert_eq!(m.try_take(), Some(Next::Close(going_away)));
        assert_eq!(m.close_request(), Some(going_away), "taking leaves it");
        assert_eq!(Mailbox::new().close_request(), None);
    }

    #[test]
    fn replies_go_first_and_only_the_newest_is_kept() {
        let m = Mailbox::new();
        m.put(1, 0, frame(1));
        m.put_reply(frame(10));
        m.put_reply(frame(11));
        assert_eq!(m.try_take(), Some(Next::Reply(frame(11))));
        assert_eq!(m.try_take(), Some(Next::Frame(sent(1))));
        assert_eq!(m.try_take(), None);
    }

    #[test]
    fn events_ride_the_next_frame_taken_in_order_and_survive_stale_drops() {
        let m = Mailbox::new();
        assert!(m.push_event(Bytes::from_static(&[7])));
        m.put(1, 5, frame(1));
        m.begin_frame();
        assert!(m.push_event(Bytes::from_static(&[8, 9])));
        m.put(2, 6, frame(2));
        // [State][ack 6][2 events: len 1 [7], len 2 [8 9]][tail]
        assert_eq!(
            m.try_take(),
            Some(Next::Frame(Bytes::from(vec![1, 6, 2, 1, 7, 2, 8, 9, 2])))
        );
        m.put(3, 6, frame(3));
        assert_eq!(
            m.try_take(),
            Some(Next::Frame(Bytes::from(vec![1, 6, 0, 3])))
        );
    }

    #[test]
    fn a_full_event_queue_refuses_and_a_frame_takes_at_most_its_share() {
        let m = Mailbox::new();
        for i in 0..MAX_PENDING_EVENTS {
            assert!(m.push_event(Bytes::from(vec![i as u8])));
        }
        assert!(!m.push_event(Bytes::from_static(&[0])), "the bound holds");
        m.put(1, 0, frame(1));
        let Some(Next::Frame(b)) = m.try_take() else {
            panic!("a frame")
        };
        // [State][ack 0][count 256 as a varint: 251 0x00 0x01]...
        assert_eq!(&b[..5], &[1, 0, 251, 0x00, 0x01]);
        assert!(m.push_event(Bytes::from_static(&[0])), "room again");
    }

    #[tokio::test]
    async fn next_wakes_on_put_from_another_thread() {
        let m = Arc::new(Mailbox::new());
        let producer = {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                m.put(7, 0, frame(7));
            })
        };
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), m.next())
            .await
            .expect("woken by the put within 10 s");
        assert_eq!(next, Next::Frame(sent(7)));
        producer.join().expect("producer thread");
    }

    #[tokio::test]
    async fn a_put_before_waiting_is_not_lost() {
        let m = Mailbox::new();
        m.put(9, 0, frame(9));
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), m.next())
            .await
            .expect("a frame already there is taken at once");
        assert_eq!(next, Next::Frame(sent(9)));
    }
}
