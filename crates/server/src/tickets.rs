//! Join tickets: short-lived, single-use credentials for one room, handed out
//! by the room API (`POST /matchmake`, `POST /rooms/{id}/join`) and presented
//! at the WebSocket upgrade (`/ws?room=<id>&ticket=<t>`).
//!
//! A ticket is `Signer::sign("ticket", payload)` where the payload is
//! `[version = 1][expiry: unix ms, u64 BE][nonce: u64 BE][room id bytes]`.
//! Any node with the same secret checks the signature, the room and the
//! expiry without shared state; **single use** is enforced per node by the
//! [`TicketBook`], which remembers redeemed nonces until their tickets expire
//! (a ticket cannot be presented after that anyway, so the book stays small:
//! at most the tickets redeemed within one TTL).
//!
//! Tickets are credentials: never log them ([`TicketToken`]'s `Debug` hides it).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::signing::Signer;

/// The signing domain of tickets (a ticket never verifies as anything else).
pub const DOMAIN: &str = "ticket";

const VERSION: u8 = 1;
const HEADER_BYTES: usize = 1 + 8 + 8;

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What a valid ticket says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The one room it admits to.
    pub room: String,
    /// When it stops being valid, in Unix milliseconds.
    pub expires_ms: u64,
    /// Random; identifies the ticket for single use and for its seat reservation.
    pub nonce: u64,
}

/// Why a ticket was refused; every case closes the WebSocket with 1008.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// Malformed, forged, or signed with another secret.
    #[error("invalid ticket")]
    Invalid,
    /// Valid, but for another room.
    #[error("ticket is for another room")]
    WrongRoom,
    /// Past its expiry.
    #[error("ticket expired")]
    Expired,
    /// Already redeemed on this node.
    #[error("ticket already used")]
    Used,
}

impl TicketError {
    /// The close reason sent to the client (fits a close frame's 123 bytes).
    pub fn close_reason(self) -> &'static str {
        match self {
            TicketError::Invalid => "invalid ticket",
            TicketError::WrongRoom => "ticket is for another room",
            TicketError::Expired => "ticket expired",
            TicketError::Used => "ticket already used",
        }
    }
}

impl Ticket {
    fn payload(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(HEADER_BYTES + self.room.len());
        p.push(VERSION);
        p.extend_from_slice(&self.expires_ms.to_be_bytes());
        p.extend_from_slice(&self.nonce.to_be_bytes());
        p.extend_from_slice(self.room.as_bytes());
        p
    }

    fn from_payload(p: &[u8]) -> Option<Ticket> {
        if p.len() <= HEADER_BYTES || p[0] != VERSION {
            return None;
        }
        let expires_ms = u64::from_be_bytes(p[1..9].try_into().ok()?);
        let nonce = u64::from_be_bytes(p[9..17].try_into().ok()?);
        let room = std::str::from_utf8(&p[HEADER_BYTES..]).ok()?.to_owned();
        Some(Ticket {
            room,
            expires_ms,
            nonce,
        })
    }

    /// The signed token for this ticket.
    pub fn sign(&self, signer: &Signer) -> String {
        signer.sign(DOMAIN, &self.payload())
    }

    /// Checks `token`'s signature, that it admits to `room` and that it has
    /// not expired at `now_ms`. Single use is the [`TicketBook`]'s job.
    pub fn verify(
        signer: &Signer,
        token: &str,
        room: &str,
        now_ms: u64,
    ) -> Result<Ticket, TicketError> {
        let payload = signer.verify(DOMAIN, token).ok_or(TicketError::Invalid)?;
        let ticket = Ticket::from_payload(&payload).ok_or(TicketError::Invalid)?;
        if ticket.room != room {
            return Err(TicketError::WrongRoom);
        }
        if now_ms >= ticket.expires_ms {
            return Err(TicketError::Expired);
        }
        Ok(ticket)
    }
}

/// A ticket string from a URL; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct TicketToken(pub String);

impl std::fmt::Debug for TicketToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketToken(<redacted>)")
    }
}

/// The nonces of tickets redeemed on this node, each kept until its ticket expires.
#[derive(Debug, Default)]
pub struct TicketBook {
    inner: Mutex<Book>,
}

#[derive(Debug, Default)]
struct Book {
    /// nonce → expiry (Unix ms).
    used: HashMap<u64, u64>,
    /// Prune when the book reaches this size (doubles with what survives a prune).
    prune_at: usize,
}

/// The book is pruned no more often than every this many redemptions.
const MIN_PRUNE_AT: usize = 64;

impl TicketBook {
    /// An empty book.
    pub fn new() -> TicketBook {
        TicketBook::default()
    }

    /// Marks `ticket` as used; [`TicketError::Used`] if it already was.
    pub fn redeem(&self, ticket: &Ticket, now_ms: u64) -> Result<(), TicketError> {
        // A poisoned lock still holds a consistent map (every section is one map operation).
        let mut book = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if book.used.len() >= book.prune_at.max(MIN_PRUNE_AT) {
            book.used.retain(|_, expires| *expires > now_ms);
            book.prune_at = book.used.len() * 2;
        }
        if book.used.contains_key(&ticket.nonce) {
            return Err(TicketError::Used);
        }
        book.used.insert(ticket.nonce, ticket.expires_ms);
        Ok(())
    }

    /// Nonces remembered now (for tests and debugging).
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .used
            .len()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new(b"0123456789abcdef-test").expect("long enough")
    }

    fn ticket(room: &str, expires_ms: u64, nonce: u64) -> Ticket {
        Ticket {
            room: room.into(),
            expires_ms,
            nonce,
        }
    }

    #[test]
    fn a_ticket_verifies_for_its_room_until_it_expires() {
        let s = signer();
        let t = ticket("r-abc", 10_000, 42);
        let token = t.sign(&s);
        assert_eq!(Ticket::verify(&s, &token, "r-abc", 9_999), Ok(t));
        assert_eq!(
            Ticket::verify(&s, &token, "r-abc", 10_000),
            Err(TicketError::Expired)
        );
        assert_eq!(
            Ticket::verify(&s, &token, "lobby", 0),
            Err(TicketError::WrongRoom)
        );
    }

    #[test]
    fn forged_or_foreign_tickets_are_invalid() {
        let s = signer();
        let token = ticket("lobby", u64::MAX, 7).sign(&s);
        let other = Signer::new(b"another secret, 20 b").expect("long enough");
        assert_eq!(
            Ticket::verify(&other, &token, "lobby", 0),
            Err(TicketError::Invalid)
        );
        // Flip one character of the payload.
        let mut bytes = token.into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).expect("ascii");
        assert_eq!(
            Ticket::verify(&s, &flipped, "lobby", 0),
            Err(TicketError::Invalid)
        );
        // A resume token (another domain) is not a ticket, even with a ticket's payload.
        let resume = s.sign("resume", &ticket("lobby", u64::MAX, 7).payload());
        assert_eq!(
            Ticket::verify(&s, &resume, "lobby", 0),
            Err(TicketError::Invalid)
        );
        for bad in [
            "",
            "x",
            "a.b",
            &s.sign(DOMAIN, b""),
            &s.sign(DOMAIN, &[2; 20]),
        ] {
            assert_eq!(
                Ticket::verify(&s, bad, "lobby", 0),
                Err(TicketError::Invalid),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_book_admits_a_ticket_once_and_forgets_expired_ones() {
        let book = TicketBook::new();
        let t = ticket("lobby", 1_000, 1);
        assert_eq!(book.redeem(&t, 0), Ok(()));
        assert_eq!(book.redeem(&t, 1), Err(TicketError::Used));
        for nonce in 2..=200 {
            book.redeem(&ticket("lobby", 1_000, nonce), 0)
                .expect("fresh nonce");
        }
        // Once they have expired, later redemptions prune them (amortized).
        for nonce in 1_000..1_100 {
            book.redeem(&ticket("lobby", 5_000, nonce), 2_000)
                .expect("fresh nonce");
        }
        assert_eq!(book.len(), 100, "only the unexpired nonces are kept");
        assert_eq!(
            book.redeem(&ticket("lobby", 5_000, 1_050), 2_001),
            Err(TicketError::Used)
        );
    }

    #[test]
    fn close_reasons_fit_a_close_frame_and_debug_hides_tokens() {
        for e in [
            TicketError::Invalid,
            TicketError::WrongRoom,
            TicketError::Expired,
            TicketError::Used,
        ] {
            assert!(e.close_reason().len() <= 123);
        }
        let token = TicketToken("secret-token".into());
        assert!(!format!("{token:?}").contains("secret"));
    }
}
