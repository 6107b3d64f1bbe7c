//! One player's WebSocket connection, from the first message to the close.
//!
//! A connection is **one tokio task that owns its stream** (no split halves,
//! no lock between them). After the join, `Play` polls, each time the task
//! wakes: (1) every message the socket has, decoded and validated, inputs
//! pushed into the room's crossbeam queue (never waiting: a full queue drops
//! the input, counted); (2) the player's [`Mailbox`] (newest pong, newest
//! frame, close request), feeding what it holds and flushing once. A tick
//! wakes the task once (the mailbox keeps its waker); a task with nothing new
//! does no work; a flush that cannot finish arms the slow-client timer, and
//! only then.
//!
//! Liveness: a joined connection that receives nothing (no message, ping or
//! pong) for half of `--idle-timeout` is sent one WebSocket ping, and is
//! closed with 1008 "idle timeout" at the full timeout, its player handed to
//! the room for the resume grace at once. A message only records the instant
//! the rate limit already read; the one idle timer is re-armed when it fires
//! (about once per half timeout), never per message.
//!
//! Every way a client can misbehave ends only its own connection, with a
//! close code and reason from [`crate::net::close`].

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, atomic::Ordering},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tickroom_protocol::{self as proto, ClientMsg, ServerMsg, state::check_values};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::oneshot,
    time::Sleep,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Error as WsError, Message,
        error::{CapacityError, ProtocolError},
        protocol::{
            CloseFrame, Role,
            frame::{
                Frame as WsFrame,
                coding::{CloseCode, Data, OpCode},
            },
        },
    },
};

use crate::{
    net::{
        close::{
            ABNORMAL, ALREADY_JOINED, BAD_INPUT, BAD_RESUME, BAD_VERSION, BYE, CloseRequest,
            DRAIN_REJOIN, ELSEWHERE_CODE, ELSEWHERE_PREFIX, GOING_AWAY, IDLE_TIMEOUT, INVALID_UTF8,
            JOIN_FIRST, JOIN_REFUSED_CODE, JOIN_TIMEOUT, MALFORMED, OTHER_GAME, PROTOCOL_ERROR,
            RATE_LIMIT, RESUME_OTHER_ROOM, ROOM_FULL, ROOM_GONE, TEXT_FRAME, TICKET_REQUIRED,
            TOO_LARGE, TOO_MANY_NEW_ROOMS, TOO_MANY_ROOMS, TOO_SLOW, VANISHED,
        },
        mailbox::{Mailbox, Next},
        ratelimit::TokenBucket,
    },
    room::{
        ConnId, InputData, InputMsg, JoinRefused, Joined, ResumeClaim, RoomCmd, RoomGame,
        RoomHandle, Stamp, registry::RegistryError,
    },
    signing::Signer,
    state::Shared,
};

/// Largest WebSocket frame the writer sends; longer messages are fragmented
/// (deltas and pongs stay whole, full snapshots are split).
const MAX_FRAGMENT: usize = 512;

/// The most bytes the future of one connection's task ([`accept`]) may
/// take: it lives as long as its player (checked by a unit test). It was
/// 1,920 before the upgrade's and the handshake's state moved into boxes
/// freed at the first frame (896 since; docs/perf/memory.md).
pub const CONNECTION_FUTURE_BUDGET: usize = 1024;

/// How long a closing connection waits for each step of the close handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// How the reading side ended.
enum ReadEnd {
    /// The client broke a rule: close with this.
    Violation(CloseRequest),
    /// The client closed (close frame with this code).
    ClientClosed(u16),
    /// The client sent Leave: its player goes now (no resume).
    Left,
    /// The socket ended without a close handshake.
    Gone,
}

/// How the writing side ended.
enum WriteEnd {
    /// The room, a resume or the drain asked to close with this.
    Close(CloseRequest),
    /// No write progress for the slow-client timeout.
    TooSlow,
    /// The socket failed.
    Failed,
}

/// How a playing connection ended.
enum End {
    Read(ReadEnd),
    Write(WriteEnd),
    /// Nothing received for the idle timeout, a ping included.
    Idle,
}

/// What the idle timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdleStep {
    /// Fire again at this instant.
    Wait(Instant),
    /// Send one ping, then fire again at this instant.
    Ping(Instant),
    /// Close with 1008 "idle timeout".
    Close,
}

/// The idle rule at `now`, for a connection last heard from at `heard` and
/// already pinged for that silence (`pinged`): ping once after half of
/// `timeout`, close after all of it.
fn idle_step(heard: Instant, pinged: bool, now: Instant, timeout: Duration) -> IdleStep {
    let silent = now.saturating_duration_since(heard);
    if silent >= timeout {
        IdleStep::Close
    } else if silent >= timeout / 2 {
        if pinged {
            IdleStep::Wait(heard + timeout)
        } else {
            IdleStep::Ping(heard + timeout)
        }
    } else {
        IdleStep::Wait(heard + timeout / 2)
    }
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Refused at the upgrade (a bad ticket, a draining node, no cluster
    /// state): close with this request.
    Close(CloseRequest),
    /// The room lives on node `.0`: close with 4001 `node=<id>`.
    Elsewhere(String),
}

/// What a connection was upgraded with: everything its start needs and its
/// play does not. Boxed, so a connection's task holds one pointer for it,
/// not its fields, for the player's whole life.
struct Opening<S> {
    io: S,
    room: String,
    game: Option<RoomGame>,
    url_name: Option<String>,
    admission: Admission,
}

/// Serves one upgraded connection as a WebSocket until it closes. `room` is
/// validated; `url_name` is the optional `name` query parameter.
pub async fn serve<S>(
    io: S,
    room: String,
    game: Option<RoomGame>,
    url_name: Option<String>,
    admission: Admission,
    shared: Arc<Shared>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let opening = Box::new(Opening {
        io,
        room,
        game,
        url_name,
        admission,
    });
    serve_opening(opening, &shared).await;
}

async fn serve_opening<S>(opening: Box<Opening<S>>, shared: &Shared)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let m = &shared.metrics;
    m.connections.increment(1.0);
    m.connections_opened.increment(1);
    shared.live_connections.fetch_add(1, Ordering::AcqRel);
    let code = run(opening, shared).await;
    m.connection_closed(code);
    m.connections.decrement(1.0);
    shared.live_connections.fetch_sub(1, Ordering::AcqRel);
}

/// Completes a WebSocket upgrade and serves the connection: the whole of a
/// connection's task. `slot` (its places in the connection caps) is held
/// until the connection ends. The task's future keeps only the upgrade, the
/// slot and boxes for the rest: its size is a player's for as long as it
/// plays (see [`task_bytes`]).
pub fn accept(
    on_upgrade: hyper::upgrade::OnUpgrade,
    room: String,
    game: Option<RoomGame>,
    url_name: Option<String>,
    admission: Admission,
    shared: Arc<Shared>,
    slot: crate::net::limits::Slot,
) -> impl Future<Output = ()> + Send + 'static {
    let start = Box::new((room, game, url_name, admission));
    async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket upgrade failed");
                return;
            }
        };
        // Moved out of and freed here: a box only moved out of would be
        // freed with the task, its bytes held for the player's whole life.
        let (room, game, url_name, admission) = {
            let start = start;
            *start
        };
        let opening = Box::new(Opening {
            io: hyper_util::rt::TokioIo::new(upgraded),
            room,
            game,
            url_name,
            admission,
        });
        serve_opening(opening, &shared).await;
        // Held until here (and dropped with the task on any early return).
        drop(slot);
    }
}

/// What a joined connection plays with.
struct Session {
    conn: ConnId,
    mailbox: Arc<Mailbox>,
    handle: RoomHandle,
    bucket: TokenBucket,
}

/// A connection that joined its room: its WebSocket and its session.
struct Playing<S> {
    ws: WebSocketStream<S>,
    session: Session,
}

async fn run<S>(opening: Box<Opening<S>>, shared: &Shared) -> u16
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The upgrade's and the handshake's state (the opening, timers, the
    // join round trip) live in a box freed once the player plays, and the
    // close's in another: a playing connection's task holds only what play
    // needs (see docs/perf).
    // Used in place, never destructured: a moved-out copy would take its
    // own bytes in the task's state beside the original.
    let mut joined = match Box::pin(open(opening, shared)).await {
        Ok(joined) => joined,
        Err(code) => return code,
    };
    let conn = joined.session.conn;
    let idle_timeout = shared.config.idle_timeout;
    let heard = Instant::now();
    // Inline in this task's state: no allocation per connection.
    let idle = tokio::time::sleep_until((heard + idle_timeout / 2).into());
    tokio::pin!(idle);
    let Playing { ws, session } = &mut joined;
    let mut play = Play {
        ws,
        mailbox: &session.mailbox,
        bucket: &mut session.bucket,
        room: &session.handle,
        conn,
        shared,
        slow: shared.config.slow_client,
        stall: None,
        flushing: false,
        idle_timeout,
        idle: idle.as_mut(),
        idle_polled: false,
        heard,
        pinged: None,
        ping_due: false,
    };
    let end = std::future::poll_fn(|cx| play.poll(cx)).await;
    let Playing { ws, session } = &mut joined;
    Box::pin(finish(
        ws,
        end,
        conn,
        &session.mailbox,
        &session.handle,
        shared,
    ))
    .await
}

/// The WebSocket over the upgraded stream, then the handshake.
async fn open<S>(opening: Box<Opening<S>>, shared: &Shared) -> Result<Playing<S>, u16>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Opening {
        io,
        room,
        game,
        url_name,
        admission,
    } = *opening;
    let mut ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(shared.ws_config)).await;
    let session = handshake(&mut ws, &room, game, url_name, admission, shared).await?;
    Ok(Playing { ws, session })
}

/// Join, resume, room and Welcome: from the upgrade to a playing connection.
/// `Err` carries the close code the connection ended with.
async fn handshake<S>(
    ws: &mut WebSocketStream<S>,
    room: &str,
    game: Option<RoomGame>,
    url_name: Option<String>,
    admission: Admission,
    shared: &Shared,
) -> Result<Session, u16>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match &admission {
        Admission::Close(req) => return Err(finish_unjoined(ws, ReadEnd::Violation(*req)).await),
        Admission::Elsewhere(node) => {
            let reason = format!("{ELSEWHERE_PREFIX}{node}");
            let code = send_close_reason(ws, ELSEWHERE_CODE, reason).await;
            let _ = tokio::time::timeout(CLOSE_WAIT, SinkExt::close(ws)).await;
            return Err(code);
        }
        _ => {}
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
            read_join(ws, &mut bucket, shared),
        ) => r.unwrap_or(Err(ReadEnd::Violation(JOIN_TIMEOUT))),
        _ = drain.wait_for(|d| *d) => Err(ReadEnd::Violation(going_away(shared))),
    };
    let join = match first {
        Ok(join) => join,
        Err(end) => return Err(finish_unjoined(ws, end).await),
    };
    let name = pick_name(&join.name, url_name.as_deref());
    let resume = if join.resume.is_empty() {
        if admission == Admission::ResumeOnly {
            return Err(finish_unjoined(ws, ReadEnd::Violation(TICKET_REQUIRED)).await);
        }
        None
    } else {
        match resume_claim(&shared.signer, room, &join.resume) {
            Ok(claim) => Some(claim),
            Err(req) => return Err(finish_unjoined(ws, ReadEnd::Violation(req)).await),
        }
    };

    // 2. Join the room (created on first join), or take back a player.
    let conn = shared.conn_id();
    let mailbox = Arc::new(Mailbox::new());
    let (handle, joined) =
        match join_room(shared, room, game.as_ref(), conn, name, resume, &mailbox).await {
            Ok(ok) => ok,
            Err(JoinError::Close(req)) => {
                return Err(finish_unjoined(ws, ReadEnd::Violation(req)).await);
            }
            Err(JoinError::Refused(reason)) => {
                let code = send_close_reason(ws, JOIN_REFUSED_CODE, refusal_reason(&reason)).await;
                let _ = tokio::time::timeout(CLOSE_WAIT, SinkExt::close(ws)).await;
                return Err(code);
            }
        };
    drop(seat);
    let welcome = proto::encode_server(&ServerMsg::Welcome(proto::Welcome {
        version: proto::PROTOCOL_VERSION,
        player_id: joined.player_id,
        room: room.to_owned(),
        tick_rate_hz: config.tick_rate as u16,
        sim_rate_hz: config.sim_rate() as u16,
        tick: joined.tick,
        game: handle.game.name().to_owned(),
        schema: joined.catalogue.schema_bytes().to_vec(),
        config: handle.game.config.to_string(),
        resume_token: resume_token(&shared.signer, room, joined.player_id, joined.session),
        resumed: joined.resumed,
    }));
    shared.metrics.bytes_sent.increment(welcome.len() as u64);
    let slow = config.slow_client;
    let sent = tokio::time::timeout(slow, ws.send(Message::Binary(Bytes::from(welcome)))).await;
    if !matches!(sent, Ok(Ok(()))) {
        let _ = handle.control.send(RoomCmd::Leave {
            conn,
            explicit: false,
        });
        return Err(ABNORMAL);
    }
    Ok(Session {
        conn,
        mailbox,
        handle,
        bucket,
    })
}

/// Ends a playing connection: tells the room, sends the close frame, waits
/// (bounded) for the client's answer. Returns the close code.
async fn finish<S>(
    ws: &mut WebSocketStream<S>,
    end: End,
    conn: ConnId,
    mailbox: &Mailbox,
    handle: &RoomHandle,
    shared: &Shared,
) -> u16
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let leave = |explicit: bool| {
        let _ = handle.control.send(RoomCmd::Leave { conn, explicit });
    };
    let code = match end {
        End::Read(end) => {
            // Leave and bad input remove the player now; a dropped or closed
            // connection keeps it for the resume grace period.
            leave(matches!(end, ReadEnd::Left | ReadEnd::Violation(_)));
            mailbox.close(VANISHED);
            match end {
                ReadEnd::Violation(req) => send_close(ws, req).await,
                ReadEnd::Left => send_close(ws, BYE).await,
                ReadEnd::ClientClosed(code) => code,
                ReadEnd::Gone => ABNORMAL,
            }
        }
        End::Write(end) => {
            // Too slow, drained, replaced by a resume, or the socket failed:
            // the player may come back.
            leave(false);
            let code = match end {
                WriteEnd::Close(req) => send_close(ws, req).await,
                WriteEnd::TooSlow => {
                    shared.metrics.frames_dropped_closed.increment(1);
                    send_close(ws, TOO_SLOW).await
                }
                WriteEnd::Failed => ABNORMAL,
            };
            if code != ABNORMAL {
                // Give the client a moment to answer the close handshake.
                let _ = tokio::time::timeout(CLOSE_WAIT, async {
                    while let Some(Ok(_)) = ws.next().await {}
                })
                .await;
            }
            code
        }
        End::Idle => {
            // Likely a dead peer: the player enters the resume grace now,
            // and the close frame gets CLOSE_WAIT, not an answer's wait.
            leave(false);
            shared.metrics.connections_idle_closed.increment(1);
            send_close(ws, IDLE_TIMEOUT).await
        }
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, SinkExt::close(ws)).await;
    code
}

/// A joined connection, polled as one future (see the module docs).
struct Play<'a, S> {
    ws: &'a mut WebSocketStream<S>,
    mailbox: &'a Mailbox,
    bucket: &'a mut TokenBucket,
    room: &'a RoomHandle,
    conn: ConnId,
    shared: &'a Shared,
    slow: Duration,
    /// Made when a write cannot finish (healthy connections never have
    /// one); fires after `slow` without progress.
    stall: Option<Pin<Box<Sleep>>>,
    /// Frames were fed and the flush has not finished.
    flushing: bool,
    /// `--idle-timeout`.
    idle_timeout: Duration,
    /// The idle timer: re-armed only when it fires (see [`idle_step`]).
    idle: Pin<&'a mut Sleep>,
    /// `idle` was polled since it was last set (so it will wake the task).
    idle_polled: bool,
    /// When the client was last heard from (any frame it sent).
    heard: Instant,
    /// The `heard` of the silence a ping was sent for.
    pinged: Option<Instant>,
    /// A ping waits to be written.
    ping_due: bool,
}

impl<S> Play<'_, S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<End> {
        // 1. Everything the client sent.
        loop {
            match Pin::new(&mut *self.ws).poll_next(cx) {
                Poll::Pending => break,
                Poll::Ready(None) => return Poll::Ready(End::Read(ReadEnd::Gone)),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(End::Read(read_error(e))),
                Poll::Ready(Some(Ok(msg))) => {
                    if let Some(end) = self.on_message(msg) {
                        return Poll::Ready(End::Read(end));
                    }
                }
            }
        }
        // 2. The idle rule, when its timer fires (after the reads above,
        // so a task woken late first takes what the client sent).
        // Polling the timer registers the task's waker again; once is enough
        // after each reset (a tokio task's waker is the same at every poll),
        // and then a look at its state tells whether it fired.
        while !self.idle_polled || self.idle.is_elapsed() {
            self.idle_polled = true;
            if self.idle.as_mut().poll(cx).is_pending() {
                break;
            }
            let pinged = self.pinged == Some(self.heard);
            let next = match idle_step(self.heard, pinged, Instant::now(), self.idle_timeout) {
                IdleStep::Close => return Poll::Ready(End::Idle),
                IdleStep::Ping(next) => {
                    self.ping_due = true;
                    self.pinged = Some(self.heard);
                    next
                }
                IdleStep::Wait(next) => next,
            };
            self.idle.as_mut().reset(next.into());
            self.idle_polled = false;
        }
        // 3. Everything the room and the reader put in the mailbox.
        loop {
            if self.flushing {
                match Pin::new(&mut *self.ws).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        self.flushing = false;
                        self.stall = None;
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(End::Write(WriteEnd::Failed)),
                    Poll::Pending => return self.stalled(cx),
                }
            }
            match Pin::new(&mut *self.ws).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(End::Write(WriteEnd::Failed)),
                Poll::Pending => return self.stalled(cx),
            }
            if self.ping_due {
                self.ping_due = false;
                if Pin::new(&mut *self.ws)
                    .start_send(Message::Ping(Bytes::new()))
                    .is_err()
                {
                    return Poll::Ready(End::Write(WriteEnd::Failed));
                }
                self.shared.metrics.idle_pings_sent.increment(1);
                self.flushing = true;
                continue;
            }
            let first = match self.mailbox.poll_take(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(next) => next,
            };
            let mut next = Some(first);
            while let Some(item) = next.take() {
                let (frame, is_frame) = match item {
                    Next::Frame(frame) => (frame, true),
                    Next::Reply(reply) => (reply, false),
                    // Whatever was fed goes out with the close frame.
                    Next::Close(req) => return Poll::Ready(End::Write(WriteEnd::Close(req))),
                };
                if self.feed(frame, is_frame).is_err() {
                    return Poll::Ready(End::Write(WriteEnd::Failed));
                }
                next = self.mailbox.try_take();
            }
            self.flushing = true;
        }
    }

    /// A write could not finish: arm the slow-client timer (once per stall).
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<End> {
        let slow = self.slow;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(slow)));
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(End::Write(WriteEnd::TooSlow)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Queues one message: whole, or as 512-byte fragments when larger (the
    /// connection's write buffer keeps the capacity of the largest frame it
    /// ever wrote, so capping frames caps that memory).
    fn feed(&mut self, frame: Bytes, is_frame: bool) -> Result<(), WsError> {
        let m = &self.shared.metrics;
        m.bytes_sent.increment(frame.len() as u64);
        if is_frame {
            m.snapshots_sent.increment(1);
        }
        let mut ws = Pin::new(&mut *self.ws);
        if frame.len() <= MAX_FRAGMENT {
            return ws.as_mut().start_send(Message::Binary(frame));
        }
        let mut rest = frame;
        let mut opcode = OpCode::Data(Data::Binary);
        while !rest.is_empty() {
            let chunk = rest.split_to(rest.len().min(MAX_FRAGMENT));
            let last = rest.is_empty();
            ws.as_mut()
                .start_send(Message::Frame(WsFrame::message(chunk, opcode, last)))?;
            opcode = OpCode::Data(Data::Continue);
        }
        Ok(())
    }

    fn on_message(&mut self, msg: Message) -> Option<ReadEnd> {
        // The one clock read a message costs (the rate limit needs it too).
        let now = Instant::now();
        self.heard = now;
        let msg = match check_message(msg, now, self.bucket, self.shared) {
            Ok(Some(msg)) => msg,
            Ok(None) => return None,
            Err(end) => return Some(end),
        };
        match msg {
            ClientMsg::Input(input) => {
                // Only inputs of the room's game's input type reach the room.
                let catalogue = self.room.game.entry.catalogue();
                if check_values(catalogue.input_slots(), &input.data).is_err() {
                    return Some(ReadEnd::Violation(BAD_INPUT));
                }
                let msg = InputMsg {
                    conn: self.conn,
                    seq: input.seq,
                    ack_tick: input.ack_tick,
                    data: InputData::new(&input.data),
                    received: Stamp::at(now),
                };
                let m = &self.shared.metrics;
                match self.room.inputs.try_send(msg) {
                    Ok(()) => {
                        m.inputs_received.increment(1);
                        // Receipt → queued: decode, validate, rate limit, channel.
                        m.input_queue_delay.record(now.elapsed().as_secs_f64());
                    }
                    Err(crossbeam_channel::TrySendError::Full(_)) => {
                        m.inputs_dropped_queue_full.increment(1);
                    }
                    Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
                        // The room ended. It closed this connection first (a
                        // hand-off's 4001 `node=`, a drain's 1001): that close
                        // goes out, not a guess made here.
                        let req = self.mailbox.close_request().unwrap_or_else(|| {
                            if self.shared.registry.is_draining() {
                                going_away(self.shared)
                            } else {
                                ROOM_GONE
                            }
                        });
                        return Some(ReadEnd::Violation(req));
                    }
                }
                None
            }
            ClientMsg::Ping(ping) => {
                let pong = ServerMsg::Pong(proto::Pong {
                    nonce: ping.nonce,
                    tick: self.room.shared.tick.load(Ordering::Relaxed),
                });
                // Only the newest unsent pong is kept: a client pinging faster than we write loses older ones.
                self.mailbox
                    .put_reply(Bytes::from(proto::encode_server(&pong)));
                None
            }
            ClientMsg::Join(_) => Some(ReadEnd::Violation(ALREADY_JOINED)),
            ClientMsg::Leave => Some(ReadEnd::Left),
        }
    }
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

/// What a draining server closes with: a cluster node sends its players
/// back to the matchmaker.
fn going_away(shared: &Shared) -> CloseRequest {
    if shared.cluster.is_clustered() {
        DRAIN_REJOIN
    } else {
        GOING_AWAY
    }
}

/// Why a join did not happen.
enum JoinError {
    /// Close with this.
    Close(CloseRequest),
    /// The game refused the player, with this reason.
    Refused(String),
}

impl From<CloseRequest> for JoinError {
    fn from(req: CloseRequest) -> Self {
        JoinError::Close(req)
    }
}

/// A game's refusal as a close reason: "refused: ..." within the 123 bytes
/// a close frame's reason may have.
fn refusal_reason(reason: &str) -> String {
    let mut out = format!("refused: {reason}");
    let mut end = out.len().min(123);
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    out
}

async fn join_room(
    shared: &Shared,
    room: &str,
    game: Option<&RoomGame>,
    conn: ConnId,
    name: String,
    resume: Option<ResumeClaim>,
    mailbox: &Arc<Mailbox>,
) -> Result<(RoomHandle, Joined), JoinError> {
    // A dead node's room comes back from its snapshot (--room-snapshots).
    crate::handoff::restore_from_snapshot(shared, room).await;
    // A room may close between lookup and join; then a fresh one is created.
    for _ in 0..3 {
        let handle = match shared.registry.get_or_create(room, game) {
            Ok(h) => h,
            Err(RegistryError::Draining) => return Err(going_away(shared).into()),
            Err(RegistryError::NoWorker) => return Err(ROOM_GONE.into()),
            Err(RegistryError::TooManyRooms) => return Err(TOO_MANY_ROOMS.into()),
            Err(RegistryError::TooManyCreations) => return Err(TOO_MANY_NEW_ROOMS.into()),
            Err(RegistryError::OtherGame(_)) => return Err(OTHER_GAME.into()),
        };
        let (reply_tx, reply_rx) = oneshot::channel();
        let cmd = RoomCmd::Join {
            conn,
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
            Ok(Err(JoinRefused::Full)) => return Err(ROOM_FULL.into()),
            Ok(Err(JoinRefused::DuplicateConnection)) => return Err(ROOM_GONE.into()),
            Ok(Err(JoinRefused::Game(reason))) => return Err(JoinError::Refused(reason)),
            Ok(Err(JoinRefused::Closing)) | Err(_) => {
                if shared.registry.is_draining() {
                    return Err(going_away(shared).into());
                }
            }
        }
    }
    Err(ROOM_GONE.into())
}

/// Reads until the first protocol message, which must be a Join of our version.
async fn read_join<S>(
    ws: &mut WebSocketStream<S>,
    bucket: &mut TokenBucket,
    shared: &Shared,
) -> Result<proto::Join, ReadEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let msg = match ws.next().await {
            None => return Err(ReadEnd::Gone),
            Some(Ok(msg)) => msg,
            Some(Err(e)) => return Err(read_error(e)),
        };
        match check_message(msg, Instant::now(), bucket, shared)? {
            None => {}
            Some(ClientMsg::Join(join)) if join.version == proto::PROTOCOL_VERSION => {
                return Ok(join);
            }
            Some(ClientMsg::Join(_)) => return Err(ReadEnd::Violation(BAD_VERSION)),
            Some(ClientMsg::Leave) => return Err(ReadEnd::Left),
            Some(ClientMsg::Input(_) | ClientMsg::Ping(_)) => {
                return Err(ReadEnd::Violation(JOIN_FIRST));
            }
        }
    }
}

/// One WebSocket message against the rules: the rate limit, and every kind
/// of bad input mapped onto its close code. `Ok(None)` for control frames.
/// `now` is when it was read.
fn check_message(
    msg: Message,
    now: Instant,
    bucket: &mut TokenBucket,
    shared: &Shared,
) -> Result<Option<ClientMsg>, ReadEnd> {
    match msg {
        Message::Binary(bytes) => {
            shared.metrics.bytes_received.increment(bytes.len() as u64);
            if !bucket.try_take(now) {
                return Err(ReadEnd::Violation(RATE_LIMIT));
            }
            proto::decode_client(&bytes).map(Some).map_err(|e| {
                ReadEnd::Violation(match e {
                    proto::Error::TooLarge { .. } => TOO_LARGE,
                    _ => MALFORMED,
                })
            })
        }
        Message::Text(_) => Err(ReadEnd::Violation(TEXT_FRAME)),
        Message::Ping(_) => {
            // tungstenite answers pings itself; they still count against the rate.
            if bucket.try_take(now) {
                Ok(None)
            } else {
                Err(ReadEnd::Violation(RATE_LIMIT))
            }
        }
        Message::Pong(_) | Message::Frame(_) => Ok(None),
        Message::Close(frame) => Err(ReadEnd::ClientClosed(
            frame.map_or(1005, |f| u16::from(f.code)),
        )),
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

/// Sends a close frame (flushing what was fed before it), bounded in time.
/// Returns the code sent, or 1006 for none.
async fn send_close<S>(ws: &mut WebSocketStream<S>, req: CloseRequest) -> u16
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if req.code == ABNORMAL {
        return ABNORMAL;
    }
    send_close_reason(ws, req.code, req.reason.into()).await
}

/// Sends a close frame with `code` and `reason` (at most 123 bytes), bounded
/// in time. Returns `code`.
async fn send_close_reason<S>(ws: &mut WebSocketStream<S>, code: u16, reason: String) -> u16
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    // Best effort: a client too slow to read frames may not read this either.
    let _ = tokio::time::timeout(CLOSE_WAIT, ws.send(Message::Close(Some(frame)))).await;
    code
}

/// Closes a connection that never joined a room.
async fn finish_unjoined<S>(ws: &mut WebSocketStream<S>, end: ReadEnd) -> u16
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let code = match end {
        ReadEnd::Violation(req) => send_close(ws, req).await,
        ReadEnd::ClientClosed(code) => code,
        ReadEnd::Left => send_close(ws, BYE).await,
        ReadEnd::Gone => ABNORMAL,
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, SinkExt::close(ws)).await;
    code
}

/// The size of the future an async fn of seven arguments returns.
fn future_size<A, B, C, D, E, G, H, F>(_: impl Fn(A, B, C, D, E, G, H) -> F) -> usize {
    std::mem::size_of::<F>()
}

/// Bytes of one connection task's future ([`accept`]), which lives as long
/// as its player; exported as `tickroom_connection_task_bytes`.
pub fn task_bytes() -> usize {
    future_size(accept)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The connection's task holds this future for the player's whole life:
    /// every byte is a KiB per 1,000 players (issue 22 found it had grown).
    /// The handshake's and the close's state are boxed and freed when done,
    /// so only play's state stays. `/metrics` exports it and `tickroom-bench`
    /// reports it.
    #[test]
    fn a_connections_task_fits_its_byte_budget() {
        let size = task_bytes();
        println!("connection task future: {size} bytes");
        assert!(size <= CONNECTION_FUTURE_BUDGET, "{size} bytes");
    }

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
    fn the_idle_rule_pings_once_at_half_and_closes_at_the_timeout() {
        let t = Duration::from_secs(10);
        let heard = Instant::now();
        let at = |secs: f64| heard + Duration::from_secs_f64(secs);
        // Heard from recently: look again half a timeout after that.
        assert_eq!(idle_step(heard, false, at(0.0), t), IdleStep::Wait(at(5.0)));
        assert_eq!(idle_step(heard, false, at(4.9), t), IdleStep::Wait(at(5.0)));
        // Silent for half: one ping, then look again at the full timeout.
        assert_eq!(
            idle_step(heard, false, at(5.0), t),
            IdleStep::Ping(at(10.0))
        );
        assert_eq!(idle_step(heard, true, at(5.0), t), IdleStep::Wait(at(10.0)));
        assert_eq!(idle_step(heard, true, at(9.9), t), IdleStep::Wait(at(10.0)));
        // Silent for all of it, pinged or not (a task woken late): close.
        assert_eq!(idle_step(heard, true, at(10.0), t), IdleStep::Close);
        assert_eq!(idle_step(heard, false, at(60.0), t), IdleStep::Close);
        // A clock read before `heard` (another thread's instant) is no silence.
        assert_eq!(idle_step(at(1.0), false, heard, t), IdleStep::Wait(at(6.0)));
    }
}
