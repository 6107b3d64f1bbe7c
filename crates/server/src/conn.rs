//! One player's WebSocket connection, from the first message to the close.
//!
//! A connection is one tokio task running two halves side by side: the
//! **reader** decodes and validates client messages and pushes inputs into the
//! room's crossbeam channel (never waiting: a full queue drops the input), and
//! the **writer** waits on the player's [`Mailbox`] (newest frame, newest
//! pong, close request), feeds everything available and flushes once per batch.
//!
//! Every way a client can misbehave ends only its own connection, with an
//! RFC 6455 close code and a short reason:
//!
//! | what | code |
//! |---|---|
//! | text frame | 1003 |
//! | undecodable binary / invalid UTF-8 | 1007 |
//! | message over the size limit | 1009 |
//! | unknown protocol version, broken framing | 1002 |
//! | too frequent, no Join in time, message out of order, no write progress | 1008 |
//! | room full | 1013 |
//! | server draining | 1001 |
//! | room vanished under the player (a bug) | 1011 |

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt, stream::SplitSink, stream::SplitStream};
use tickroom_protocol::{self as proto, ClientMsg, ServerMsg};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::oneshot,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Error as WsError, Message,
        error::{CapacityError, ProtocolError},
        protocol::{
            CloseFrame,
            frame::{
                Frame as WsFrame,
                coding::{CloseCode, Data, OpCode},
            },
        },
    },
};

use crate::{
    mailbox::{CloseRequest, Mailbox, Next},
    ratelimit::TokenBucket,
    registry::RegistryError,
    room::{InputMsg, JoinRefused, Joined, ResumeClaim, RoomCmd, RoomHandle},
    server::Shared,
    signing::Signer,
};

const fn close(code: u16, reason: &'static str) -> CloseRequest {
    CloseRequest { code, reason }
}

const TEXT_FRAME: CloseRequest = close(1003, "text frames are not supported; send binary messages");
const MALFORMED: CloseRequest = close(1007, "malformed message");
const INVALID_UTF8: CloseRequest = close(1007, "invalid UTF-8");
const TOO_LARGE: CloseRequest = close(1009, "message too large");
const BAD_VERSION: CloseRequest = close(1002, "unsupported protocol version");
const PROTOCOL_ERROR: CloseRequest = close(1002, "WebSocket protocol error");
const RATE_LIMIT: CloseRequest = close(1008, "rate limit exceeded");
const JOIN_FIRST: CloseRequest = close(1008, "send Join first");
const ALREADY_JOINED: CloseRequest = close(1008, "already joined");
const JOIN_TIMEOUT: CloseRequest = close(1008, "no Join in time");
const TOO_SLOW: CloseRequest = close(1008, "too slow");
const ROOM_FULL: CloseRequest = close(1013, "room full");
const GOING_AWAY: CloseRequest = close(1001, "going away");
const ROOM_GONE: CloseRequest = close(1011, "room unavailable");
const BYE: CloseRequest = close(1000, "bye");
const BAD_RESUME: CloseRequest = close(1008, "invalid resume token");
const TICKET_REQUIRED: CloseRequest = close(1008, "ticket required");
const RESUME_OTHER_ROOM: CloseRequest = close(1008, "resume token for another room");

/// Largest WebSocket frame the writer sends; longer messages are fragmented
/// (deltas and pongs stay whole, full snapshots are split).
const MAX_FRAGMENT: usize = 512;

/// The close code recorded for a connection that vanished without a close frame.
const ABNORMAL: u16 = 1006;

/// The close request the server sends when it drains.
pub const DRAIN: CloseRequest = GOING_AWAY;

type Sink<S> = SplitSink<WebSocketStream<S>, Message>;
type Stream<S> = SplitStream<WebSocketStream<S>>;

/// One item for the writer.
enum Out {
    /// A snapshot from the mailbox.
    Snapshot(Bytes),
    /// A direct reply (pong).
    Direct(Bytes),
    /// Close with this.
    Close(CloseRequest),
}

impl From<Next> for Out {
    fn from(next: Next) -> Out {
        match next {
            Next::Frame(frame) => Out::Snapshot(frame),
            Next::Reply(reply) => Out::Direct(reply),
            Next::Close(req) => Out::Close(req),
        }
    }
}

/// How the reader half ended.
enum ReadEnd {
    /// The client broke a rule: close with this.
    Violation(CloseRequest),
    /// The client closed (close frame with this code) or left.
    ClientClosed(u16),
    /// The client sent Leave: its player goes now (no resume).
    Left,
    /// The socket ended without a close handshake.
    Gone,
}

/// Releases a ticket's reserved seat when dropped (after the room answered
/// the join, or when the connection ended before).
struct Seat<'a> {
    shared: &'a Shared,
    room: &'a str,
    nonce: Option<u64>,
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        if let Some(nonce) = self.nonce {
            self.shared.registry.release_reservation(self.room, nonce);
        }
    }
}

/// How a connection was let in at the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// With a redeemed ticket; its seat is released once the room answers.
    Ticket {
        /// The ticket's nonce (its reservation).
        nonce: u64,
    },
    /// Without a ticket under `--auth optional`.
    Anonymous,
    /// Without a ticket under `--auth required`: only a resume may join.
    ResumeOnly,
    /// The ticket was refused at the upgrade: close with 1008 and this reason.
    Refused(&'static str),
}

/// Serves one upgraded WebSocket until it closes. `room` is validated; `url_name`
/// is the optional `name` query parameter.
pub async fn serve<S>(
    ws: WebSocketStream<S>,
    room: String,
    url_name: Option<String>,
    admission: Admission,
    shared: Arc<Shared>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let m = &shared.metrics;
    m.connections.increment(1.0);
    m.connections_opened.increment(1);
    shared.live_connections.fetch_add(1, Ordering::AcqRel);
    let code = run(ws, &room, url_name, admission, &shared).await;
    m.connection_closed(code);
    m.connections.decrement(1.0);
    shared.live_connections.fetch_sub(1, Ordering::AcqRel);
}

async fn run<S>(
    ws: WebSocketStream<S>,
    room: &str,
    url_name: Option<String>,
    admission: Admission,
    shared: &Shared,
) -> u16
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    if let Admission::Refused(reason) = admission {
        return finish_unjoined(&mut sink, ReadEnd::Violation(close(1008, reason))).await;
    }
    let config = &shared.config;
    // A ticket's seat stays reserved until the room has answered the join.
    let seat = Seat {
        shared,
        room,
        nonce: match admission {
            Admission::Ticket { nonce } => Some(nonce),
            _ => None,
        },
    };
    let mut bucket = TokenBucket::new(config.max_msgs_per_sec, config.msg_burst, Instant::now());

    // 1. The first message must be a Join of our protocol version.
    let mut drain = shared.drain.clone();
    let first = tokio::select! {
        r = tokio::time::timeout(
            config.join_timeout,
            read_join(&mut stream, &mut bucket, shared),
        ) => r.unwrap_or(Err(ReadEnd::Violation(JOIN_TIMEOUT))),
        _ = drain.wait_for(|d| *d) => Err(ReadEnd::Violation(GOING_AWAY)),
    };
    let join = match first {
        Ok(join) => join,
        Err(end) => return finish_unjoined(&mut sink, end).await,
    };
    let name = pick_name(&join.name, url_name.as_deref());
    let resume = if join.resume.is_empty() {
        if admission == Admission::ResumeOnly {
            return finish_unjoined(&mut sink, ReadEnd::Violation(TICKET_REQUIRED)).await;
        }
        None
    } else {
        match resume_claim(&shared.signer, room, &join.resume) {
            Ok(claim) => Some(claim),
            Err(req) => return finish_unjoined(&mut sink, ReadEnd::Violation(req)).await,
        }
    };

    // 2. Join the room (created on first join), or take back a player.
    let mailbox = Arc::new(Mailbox::new());
    let (handle, joined) = match join_room(shared, room, name, resume, &mailbox).await {
        Ok(ok) => ok,
        Err(req) => return finish_unjoined(&mut sink, ReadEnd::Violation(req)).await,
    };
    drop(seat);
    let player = joined.player_id;
    let session = joined.session;
    let leave = |explicit: bool| {
        let _ = handle.control.send(RoomCmd::Leave {
            player,
            session,
            explicit,
        });
    };
    let welcome = proto::encode_server(&ServerMsg::Welcome(proto::Welcome {
        version: proto::PROTOCOL_VERSION,
        player_id: player,
        room: room.to_owned(),
        tick_rate_hz: config.tick_rate as u16,
        tick: joined.tick,
        arena: joined.arena,
        resume_token: resume_token(&shared.signer, room, player, session),
        resumed: joined.resumed,
    }));
    shared.metrics.bytes_sent.increment(welcome.len() as u64);
    let slow = config.slow_client;
    let sent = tokio::time::timeout(slow, sink.send(Message::Binary(Bytes::from(welcome)))).await;
    if !matches!(sent, Ok(Ok(()))) {
        leave(false);
        return ABNORMAL;
    }

    // 3. Play: reader and writer side by side until one ends.
    let code = {
        let reader = read_loop(&mut stream, &mut bucket, &handle, player, &mailbox, shared);
        let writer = write_loop(&mut sink, &mailbox, slow, shared);
        tokio::pin!(reader, writer);
        tokio::select! {
            end = &mut reader => {
                // Leave and bad input remove the player now; a dropped or closed
                // connection keeps it for the resume grace period.
                leave(matches!(end, ReadEnd::Left | ReadEnd::Violation(_)));
                match end {
                    ReadEnd::Violation(req) => mailbox.close(req),
                    ReadEnd::ClientClosed(_) | ReadEnd::Left => mailbox.close(BYE),
                    ReadEnd::Gone => mailbox.close(close(ABNORMAL, "")),
                }
                let sent = tokio::time::timeout(Duration::from_secs(1) + slow, &mut writer).await.unwrap_or(ABNORMAL);
                match end {
                    ReadEnd::ClientClosed(code) => code,
                    ReadEnd::Left => BYE.code,
                    ReadEnd::Gone => ABNORMAL,
                    ReadEnd::Violation(_) => sent,
                }
            }
            sent = &mut writer => {
                // Too slow, drained, replaced by a resume, or the socket failed:
                // the player may come back.
                leave(false);
                // We sent a close (drain, too slow) or the socket failed: give the
                // client a moment to answer the close handshake, then drop.
                let _ = tokio::time::timeout(Duration::from_secs(1), &mut reader).await;
                sent
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    code
}

/// Token domain for resume tokens (see [`crate::signing`]).
const RESUME_DOMAIN: &str = "resume";

/// The resume token for `player`'s session `session` in `room`:
/// payload = room id length (u8), room id, player (u32 LE), session (u64 LE).
fn resume_token(signer: &Signer, room: &str, player: u32, session: u64) -> String {
    let mut payload = Vec::with_capacity(1 + room.len() + 12);
    payload.push(room.len() as u8);
    payload.extend_from_slice(room.as_bytes());
    payload.extend_from_slice(&player.to_le_bytes());
    payload.extend_from_slice(&session.to_le_bytes());
    signer.sign(RESUME_DOMAIN, &payload)
}

/// Checks a resume token's signature and room; the room checks the session.
fn resume_claim(signer: &Signer, room: &str, token: &str) -> Result<ResumeClaim, CloseRequest> {
    let payload = signer.verify(RESUME_DOMAIN, token).ok_or(BAD_RESUME)?;
    let (&len, rest) = payload.split_first().ok_or(BAD_RESUME)?;
    let len = usize::from(len);
    if rest.len() != len + 12 {
        return Err(BAD_RESUME);
    }
    if &rest[..len] != room.as_bytes() {
        return Err(RESUME_OTHER_ROOM);
    }
    let player = u32::from_le_bytes(rest[len..len + 4].try_into().map_err(|_| BAD_RESUME)?);
    let session = u64::from_le_bytes(rest[len + 4..].try_into().map_err(|_| BAD_RESUME)?);
    Ok(ResumeClaim { player, session })
}

fn pick_name(join_name: &str, url_name: Option<&str>) -> String {
    let raw = if join_name.is_empty() {
        url_name.unwrap_or("")
    } else {
        join_name
    };
    let mut name: String = raw.chars().filter(|c| !c.is_control()).collect();
    name.truncate(name.trim_end().len());
    while name.len() > proto::MAX_NAME_BYTES {
        name.pop();
    }
    name
}

async fn join_room(
    shared: &Shared,
    room: &str,
    name: String,
    resume: Option<ResumeClaim>,
    mailbox: &Arc<Mailbox>,
) -> Result<(RoomHandle, Joined), CloseRequest> {
    // A room may close between lookup and join; then a fresh one is created.
    for _ in 0..3 {
        let handle = match shared.registry.get_or_create(room) {
            Ok(h) => h,
            Err(RegistryError::Draining) => return Err(GOING_AWAY),
            Err(RegistryError::NoWorker) => return Err(ROOM_GONE),
        };
        let (reply_tx, reply_rx) = oneshot::channel();
        let cmd = RoomCmd::Join {
            name: name.clone(),
            mailbox: Arc::clone(mailbox),
            resume,
            reply: reply_tx,
        };
        if handle.control.send(cmd).is_err() {
            continue;
        }
        match reply_rx.await {
            Ok(Ok(joined)) => return Ok((handle, joined)),
            Ok(Err(JoinRefused::Full)) => return Err(ROOM_FULL),
            Ok(Err(JoinRefused::Closing)) | Err(_) => {
                if shared.registry.is_draining() {
                    return Err(GOING_AWAY);
                }
            }
        }
    }
    Err(ROOM_GONE)
}

/// Reads until the first protocol message, which must be a Join of our version.
async fn read_join<S>(
    stream: &mut Stream<S>,
    bucket: &mut TokenBucket,
    shared: &Shared,
) -> Result<proto::Join, ReadEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match next_message(stream, bucket, shared).await? {
        ClientMsg::Join(join) if join.version == proto::PROTOCOL_VERSION => Ok(join),
        ClientMsg::Join(_) => Err(ReadEnd::Violation(BAD_VERSION)),
        ClientMsg::Leave => Err(ReadEnd::Left),
        ClientMsg::Input(_) | ClientMsg::Ping(_) => Err(ReadEnd::Violation(JOIN_FIRST)),
    }
}

/// The reader half after the join.
async fn read_loop<S>(
    stream: &mut Stream<S>,
    bucket: &mut TokenBucket,
    room: &RoomHandle,
    player: u32,
    mailbox: &Mailbox,
    shared: &Shared,
) -> ReadEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let msg = match next_message(stream, bucket, shared).await {
            Ok(msg) => msg,
            Err(end) => return end,
        };
        match msg {
            ClientMsg::Input(input) => {
                let msg = InputMsg {
                    player,
                    seq: input.seq,
                    steer: input.steer,
                };
                match room.inputs.try_send(msg) {
                    Ok(()) => shared.metrics.inputs_received.increment(1),
                    Err(crossbeam_channel::TrySendError::Full(_)) => {
                        shared.metrics.inputs_dropped_queue_full.increment(1);
                    }
                    Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
                        return ReadEnd::Violation(if shared.registry.is_draining() {
                            GOING_AWAY
                        } else {
                            ROOM_GONE
                        });
                    }
                }
            }
            ClientMsg::Ping(ping) => {
                let pong = ServerMsg::Pong(proto::Pong {
                    nonce: ping.nonce,
                    tick: room.tick.load(Ordering::Relaxed),
                });
                // Only the newest unsent pong is kept: a client pinging faster than we write loses older ones.
                mailbox.put_reply(Bytes::from(proto::encode_server(&pong)));
            }
            ClientMsg::Join(_) => return ReadEnd::Violation(ALREADY_JOINED),
            ClientMsg::Leave => return ReadEnd::Left,
        }
    }
}

/// Reads the next protocol message, enforcing the rate limit and mapping every
/// kind of bad input onto its close code.
async fn next_message<S>(
    stream: &mut Stream<S>,
    bucket: &mut TokenBucket,
    shared: &Shared,
) -> Result<ClientMsg, ReadEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let msg = match stream.next().await {
            None => return Err(ReadEnd::Gone),
            Some(Ok(msg)) => msg,
            Some(Err(e)) => return Err(read_error(e)),
        };
        match msg {
            Message::Binary(bytes) => {
                shared.metrics.bytes_received.increment(bytes.len() as u64);
                if !bucket.try_take(Instant::now()) {
                    return Err(ReadEnd::Violation(RATE_LIMIT));
                }
                return proto::decode_client(&bytes).map_err(|e| {
                    ReadEnd::Violation(match e {
                        proto::Error::TooLarge { .. } => TOO_LARGE,
                        _ => MALFORMED,
                    })
                });
            }
            Message::Text(_) => return Err(ReadEnd::Violation(TEXT_FRAME)),
            Message::Ping(_) => {
                // tungstenite answers pings itself; they still count against the rate.
                if !bucket.try_take(Instant::now()) {
                    return Err(ReadEnd::Violation(RATE_LIMIT));
                }
            }
            Message::Pong(_) | Message::Frame(_) => {}
            Message::Close(frame) => {
                return Err(ReadEnd::ClientClosed(
                    frame.map_or(1005, |f| u16::from(f.code)),
                ));
            }
        }
    }
}

fn read_error(e: WsError) -> ReadEnd {
    match e {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => ReadEnd::Violation(TOO_LARGE),
        WsError::Capacity(_) => ReadEnd::Violation(TOO_LARGE),
        WsError::Utf8(_) => ReadEnd::Violation(INVALID_UTF8),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => ReadEnd::Gone,
        WsError::Protocol(_) | WsError::AttackAttempt => ReadEnd::Violation(PROTOCOL_ERROR),
        _ => ReadEnd::Gone,
    }
}

/// The writer half: sends the newest pong and frame, one flush per batch,
/// until the mailbox asks to close or the client stops making progress.
/// Returns the close code sent (or 1006 if the socket failed).
async fn write_loop<S>(
    sink: &mut Sink<S>,
    mailbox: &Mailbox,
    slow: Duration,
    shared: &Shared,
) -> u16
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let m = &shared.metrics;
    loop {
        let first = Out::from(mailbox.next().await);
        let batch = async {
            let mut next = Some(first);
            while let Some(item) = next.take() {
                let (frame, is_snapshot) = match item {
                    Out::Snapshot(frame) => (frame, true),
                    Out::Direct(frame) => (frame, false),
                    Out::Close(req) => return Ok(Some(req)),
                };
                let len = frame.len() as u64;
                if frame.len() <= MAX_FRAGMENT {
                    sink.feed(Message::Binary(frame)).await?;
                } else {
                    // Large (full) snapshots go as a fragmented message: the
                    // connection's write buffer keeps the capacity of the largest
                    // frame it ever wrote, so capping frames caps that memory.
                    let mut rest = frame;
                    let mut opcode = OpCode::Data(Data::Binary);
                    while !rest.is_empty() {
                        let chunk = rest.split_to(rest.len().min(MAX_FRAGMENT));
                        let last = rest.is_empty();
                        sink.feed(Message::Frame(WsFrame::message(chunk, opcode, last)))
                            .await?;
                        opcode = OpCode::Data(Data::Continue);
                    }
                }
                m.bytes_sent.increment(len);
                if is_snapshot {
                    m.snapshots_sent.increment(1);
                }
                next = mailbox.try_take().map(Out::from);
            }
            sink.flush().await?;
            Ok::<_, WsError>(None)
        };
        match tokio::time::timeout(slow, batch).await {
            Ok(Ok(None)) => {}
            Ok(Ok(Some(req))) => return send_close(sink, req).await,
            Ok(Err(_)) => {
                // The socket failed; whatever the room puts next is never sent.
                mailbox.close(close(ABNORMAL, ""));
                return ABNORMAL;
            }
            Err(_) => {
                mailbox.close(TOO_SLOW);
                m.frames_dropped_closed.increment(1);
                return send_close(sink, TOO_SLOW).await;
            }
        }
    }
}

async fn send_close<S>(sink: &mut Sink<S>, req: CloseRequest) -> u16
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if req.code == ABNORMAL {
        return ABNORMAL;
    }
    let frame = CloseFrame {
        code: CloseCode::from(req.code),
        reason: req.reason.into(),
    };
    // Best effort: a client too slow to read frames may not read this either.
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        sink.send(Message::Close(Some(frame))),
    )
    .await;
    req.code
}

/// Closes a connection that never joined a room.
async fn finish_unjoined<S>(sink: &mut Sink<S>, end: ReadEnd) -> u16
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let code = match end {
        ReadEnd::Violation(req) => send_close(sink, req).await,
        ReadEnd::ClientClosed(code) => code,
        ReadEnd::Left => BYE.code,
        ReadEnd::Gone => ABNORMAL,
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_tokens_round_trip_and_are_bound_to_their_room() {
        let signer = Signer::new(b"a test secret of enough bytes").expect("secret");
        let token = resume_token(&signer, "lobby", 7, 0xDEAD_BEEF_1234);
        assert_eq!(
            resume_claim(&signer, "lobby", &token),
            Ok(ResumeClaim {
                player: 7,
                session: 0xDEAD_BEEF_1234
            })
        );
        assert_eq!(
            resume_claim(&signer, "other", &token),
            Err(RESUME_OTHER_ROOM)
        );
        let forged = token.replacen('A', "B", 1).replacen('a', "b", 1);
        assert_eq!(resume_claim(&signer, "lobby", &forged), Err(BAD_RESUME));
        let other = Signer::new(b"another secret, also long").expect("secret");
        assert_eq!(resume_claim(&other, "lobby", &token), Err(BAD_RESUME));
        assert!(
            token.len() <= proto::MAX_TOKEN_BYTES,
            "{} bytes",
            token.len()
        );
        let longest = resume_token(&signer, &"r".repeat(64), u32::MAX, u64::MAX);
        assert!(
            longest.len() <= proto::MAX_TOKEN_BYTES,
            "{} bytes",
            longest.len()
        );
    }

    #[test]
    fn names_come_from_join_then_url_and_are_cleaned() {
        assert_eq!(pick_name("ann", Some("bob")), "ann");
        assert_eq!(pick_name("", Some("bob")), "bob");
        assert_eq!(pick_name("", None), "");
        assert_eq!(pick_name("a\u{7}b\n ", None), "ab");
        let long = "é".repeat(20);
        let picked = pick_name("", Some(&long));
        assert!(picked.len() <= proto::MAX_NAME_BYTES && picked.chars().all(|c| c == 'é'));
    }

    #[test]
    fn every_close_reason_fits_a_close_frame() {
        for req in [
            TEXT_FRAME,
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
            ROOM_FULL,
            GOING_AWAY,
            ROOM_GONE,
            BYE,
        ] {
            assert!(req.reason.len() <= 123, "{req:?}");
            assert!((1000..=1015).contains(&req.code), "{req:?}");
        }
    }
}
