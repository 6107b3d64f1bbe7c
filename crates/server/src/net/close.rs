//! Every way the server ends a WebSocket: an RFC 6455 close code and a short
//! reason, in one table. A leaf module: the room core, the mailbox and the
//! connection all name these, and it names nothing of theirs.
//!
//! | what | code |
//! |---|---|
//! | text frame | 1003 |
//! | undecodable binary / invalid UTF-8 | 1007 |
//! | message over the size limit | 1009 |
//! | unknown protocol version, broken framing | 1002 |
//! | too frequent, no Join in time, message out of order, no write progress, bad ticket or resume token | 1008 |
//! | nothing received (no message, ping or pong) for the idle timeout: "idle timeout" | 1008 |
//! | room full | 1013 |
//! | the join would start a room on a node running `--max-rooms` rooms | 1013 |
//! | the join would start a room and its address started too many this minute | 1008 |
//! | server draining | 1001 |
//! | room vanished under the player (a bug) | 1011 |
//! | resumed on another connection, Leave | 1000 |
//! | node draining in a cluster (rejoin through the matchmaker at once) | 1001 |
//! | cluster state unreachable (Redis down) and the room is not here | 1013 |
//! | room lives on another node: reason `node=<id>` | 4001 |
//! | room claimed by another node (this copy closes) | 4001 |
//!
//! Our own codes (4000–4999, RFC 6455's private range): **4001** "room lives
//! elsewhere". With the reason `node=<id>` it names the owner: resolve the id
//! with `GET /cluster` on the node you asked and connect to that member's
//! `url` + `/ws?…` at once. With any other reason, reconnect through the URL
//! you entered by (it names the owner then). 4000 is the client's own
//! "resync" close (the demo sends it after a checksum mismatch).

/// A close code and reason to send on the WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseRequest {
    /// RFC 6455 close code.
    pub code: u16,
    /// Short reason text (at most 123 bytes).
    pub reason: &'static str,
}

/// A close request, usable in `const`s.
pub const fn close(code: u16, reason: &'static str) -> CloseRequest {
    CloseRequest { code, reason }
}

/// A text frame.
pub const TEXT_FRAME: CloseRequest =
    close(1003, "text frames are not supported; send binary messages");
/// A binary message that does not decode.
pub const MALFORMED: CloseRequest = close(1007, "malformed message");
/// A text payload that is not UTF-8.
pub const INVALID_UTF8: CloseRequest = close(1007, "invalid UTF-8");
/// A message over the size limit.
pub const TOO_LARGE: CloseRequest = close(1009, "message too large");
/// A Join of another protocol version.
pub const BAD_VERSION: CloseRequest = close(1002, "unsupported protocol version");
/// Broken WebSocket framing.
pub const PROTOCOL_ERROR: CloseRequest = close(1002, "WebSocket protocol error");
/// Over the message rate.
pub const RATE_LIMIT: CloseRequest = close(1008, "rate limit exceeded");
/// Input or Ping before Join.
pub const JOIN_FIRST: CloseRequest = close(1008, "send Join first");
/// A second Join.
pub const ALREADY_JOINED: CloseRequest = close(1008, "already joined");
/// No Join within the join timeout.
pub const JOIN_TIMEOUT: CloseRequest = close(1008, "no Join in time");
/// No write progress for the slow-client timeout.
pub const TOO_SLOW: CloseRequest = close(1008, "too slow");
/// Nothing received from a joined client (no message, ping or pong) for
/// `--idle-timeout`, a ping included: its player enters the resume grace.
pub const IDLE_TIMEOUT: CloseRequest = close(1008, "idle timeout");
/// An input that is not the room's game's input type.
pub const BAD_INPUT: CloseRequest = close(1007, "input does not fit the game's input");
/// The room exists and runs another game than the join's `&game=`.
pub const OTHER_GAME: CloseRequest = close(1008, "the room runs another game");
/// The game refused the player (the close reason says why, after "refused: ").
pub const JOIN_REFUSED_CODE: u16 = 4003;

/// The room is at capacity.
pub const ROOM_FULL: CloseRequest = close(1013, "room full");
/// The join would start a room, and the node runs `--max-rooms` rooms.
pub const TOO_MANY_ROOMS: CloseRequest = close(1013, "too many rooms");
/// The join would start a room, and its address is over `--room-creations-per-ip`.
pub const TOO_MANY_NEW_ROOMS: CloseRequest = close(1008, "too many new rooms");
/// The server is draining.
pub const GOING_AWAY: CloseRequest = close(1001, "going away");
/// The room vanished under the player (a bug, not bad input).
pub const ROOM_GONE: CloseRequest = close(1011, "room unavailable");
/// The client left (Leave or its own close).
pub const BYE: CloseRequest = close(1000, "bye");
/// A resume token that does not verify.
pub const BAD_RESUME: CloseRequest = close(1008, "invalid resume token");
/// No ticket under `--auth required`.
pub const TICKET_REQUIRED: CloseRequest = close(1008, "ticket required");
/// A resume token for another room.
pub const RESUME_OTHER_ROOM: CloseRequest = close(1008, "resume token for another room");
/// Sent to a connection whose player was taken back by a resume elsewhere.
pub const RESUMED_ELSEWHERE: CloseRequest = close(1000, "resumed on another connection");
/// The code recorded for a connection that vanished without a close frame
/// (never sent: RFC 6455 reserves it).
pub const ABNORMAL: u16 = 1006;
/// What a vanished connection's mailbox is closed with.
pub const VANISHED: CloseRequest = close(ABNORMAL, "");
/// The close request the server sends when it drains.
pub const DRAIN: CloseRequest = GOING_AWAY;

/// A cluster node drains: its players should rejoin through the matchmaker
/// (or their entry URL) at once, which places their room on another node.
pub const DRAIN_REJOIN: CloseRequest = close(1001, "draining: rejoin through the matchmaker");
/// The node cannot reach the cluster's state (Redis) and does not run the room.
pub const CLUSTER_UNAVAILABLE: CloseRequest = close(1013, "cluster unavailable");
/// Our code for "the room lives on another node".
pub const ELSEWHERE_CODE: u16 = 4001;
/// Prefix of the 4001 reason that names the owner (`node=<id>`).
pub const ELSEWHERE_PREFIX: &str = "node=";
/// This node lost its claim on the room to another node (fencing): the copy
/// here closes, and its players rejoin through their entry URL.
pub const FENCED: CloseRequest = close(ELSEWHERE_CODE, "room lives elsewhere");

/// Every request above that goes on the wire (for tests and docs).
pub const ALL: [CloseRequest; 26] = [
    TEXT_FRAME,
    BAD_INPUT,
    OTHER_GAME,
    MALFORMED,
    INVALID_UTF8,
    TOO_LARGE,
    BAD_VERSION,
    PROTOCOL_ERROR,
    RATE_LIMIT,
    JOIN_FIRST,
    ALREADY_JOINED,
    JOIN_TIMEOUT,
    TOO_SLOW,
    IDLE_TIMEOUT,
    ROOM_FULL,
    GOING_AWAY,
    ROOM_GONE,
    BYE,
    BAD_RESUME,
    TICKET_REQUIRED,
    RESUME_OTHER_ROOM,
    DRAIN_REJOIN,
    CLUSTER_UNAVAILABLE,
    FENCED,
    TOO_MANY_ROOMS,
    TOO_MANY_NEW_ROOMS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_close_reason_fits_a_close_frame() {
        for req in ALL.into_iter().chain([RESUMED_ELSEWHERE]) {
            assert!(req.reason.len() <= 123, "{req:?}");
            assert!(
                ((1000..=1015).contains(&req.code) && req.code != ABNORMAL)
                    || (4000..=4999).contains(&req.code),
                "{req:?}"
            );
        }
    }
}
