//! Below the WebSocket library: a plain TCP stream does the HTTP upgrade by
//! hand, joins with a proper masked frame, then sends frames built byte by
//! byte that break RFC 6455. Each kind must get a close frame with its code
//! (1002 protocol error, 1007 invalid UTF-8 or an input that is not the
//! game's, 1009 too big), then the end of
//! the TCP stream, a count under that code in
//! `tickroom_connections_closed_total`, and no harm to another player in the
//! same room, who keeps getting frames with increasing ticks and its inputs
//! applied.

use std::{io, net::SocketAddr, time::Duration};

use tickroom_protocol::{self as proto, ServerMsg};
use tickroom_server::{Config, Server};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::util::{Client, join_msg, metric, start, test_config, wait_metric, within};

/// RFC 6455 section 1.3's sample key and the accept value it must produce.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The mask every hand-built client frame uses (RFC 6455 section 5.7's sample).
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

const OP_CONTINUE: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;

const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const RSV2: u8 = 0x20;
const RSV3: u8 = 0x10;

fn closed(code: u16) -> String {
    format!("tickroom_connections_closed_total{{code=\"{code}\"}}")
}

/// A frame header: `first` is FIN, RSV and opcode; `len` is written in the
/// shortest form unless `force64`; a mask key follows when `mask` is set.
fn header(first: u8, len: u64, mask: Option<[u8; 4]>, force64: bool) -> Vec<u8> {
    let m = if mask.is_some() { 0x80 } else { 0 };
    let mut out = vec![first];
    if force64 || len > 0xFFFF {
        out.push(m | 127);
        out.extend_from_slice(&len.to_be_bytes());
    } else if len > 125 {
        out.push(m | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m | len as u8);
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    out
}

/// A whole frame: header, then the payload (masked with `mask` if set).
fn frame(first: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = header(first, payload.len() as u64, mask, false);
    match mask {
        Some(key) => out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4])),
        None => out.extend_from_slice(payload),
    }
    out
}

/// A properly masked client frame.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    frame(first, Some(MASK), payload)
}

/// A close frame's payload: the code, then the reason bytes.
fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// One frame from the server.
#[derive(Debug)]
struct ServerFrame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// A WebSocket spoken by hand over TCP.
struct RawWs {
    tcp: TcpStream,
    /// Bytes read and not yet parsed.
    buf: Vec<u8>,
}

impl RawWs {
    /// Connects to `/ws?{query}` and upgrades by hand: checks 101, the
    /// Upgrade header and `Sec-WebSocket-Accept`.
    async fn upgrade(addr: SocketAddr, query: &str) -> RawWs {
        within("the hand-made WebSocket upgrade", async {
            let mut tcp = TcpStream::connect(addr).await.expect("connect");
            tcp.set_nodelay(true).expect("nodelay");
            let req = format!(
                "GET /ws?{query} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n"
            );
            tcp.write_all(req.as_bytes())
                .await
                .expect("send the upgrade");
            let mut buf = Vec::new();
            let end = loop {
                if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
                let mut chunk = [0u8; 1024];
                let n = tcp.read(&mut chunk).await.expect("read the response");
                assert!(n > 0, "the server closed during the upgrade");
                buf.extend_from_slice(&chunk[..n]);
            };
            let head = String::from_utf8(buf[..end].to_vec()).expect("an ASCII response head");
            let mut lines = head.split("\r\n");
            let status = lines.next().expect("status line");
            assert!(
                status.starts_with("HTTP/1.1 101"),
                "upgrade answered with {head}"
            );
            let header = |name: &str| {
                head.split("\r\n").skip(1).find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_owned())
                })
            };
            assert_eq!(
                header("sec-websocket-accept").as_deref(),
                Some(ACCEPT),
                "{head}"
            );
            assert!(
                header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")),
                "{head}"
            );
            RawWs {
                tcp,
                buf: buf[end..].to_vec(),
            }
        })
        .await
    }

    /// Upgrades into `room`, sends a masked Join and reads the Welcome.
    async fn join(addr: SocketAddr, room: &str) -> RawWs {
        let mut ws = RawWs::upgrade(addr, &format!("room={room}&name=raw")).await;
        let join = proto::encode_client(&join_msg("raw"));
        ws.send(&masked(FIN | OP_BINARY, &join)).await;
        let welcome = within(
            "the Welcome on the raw connection",
            ws.next_message("the Welcome"),
        )
        .await;
        assert!(
            matches!(welcome, ServerMsg::Welcome(_)),
            "expected Welcome, got {welcome:?}"
        );
        ws
    }

    async fn send(&mut self, bytes: &[u8]) {
        within("the server to take raw bytes", self.tcp.write_all(bytes))
            .await
            .expect("raw write");
    }

    /// The next server frame, `None` at the end of the stream. Not bounded:
    /// callers wrap it.
    async fn next_frame(&mut self) -> io::Result<Option<ServerFrame>> {
        loop {
            if let Some((frame, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Ok(Some(frame));
            }
            let mut chunk = [0u8; 4096];
            let n = self.tcp.read(&mut chunk).await?;
            if n == 0 {
                assert!(
                    self.buf.is_empty(),
                    "the stream ended inside a frame: {:?}",
                    self.buf
                );
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads (skipping data frames) until the TCP stream ends (a read
    /// returns 0); returns the close frame's code and reason if one came.
    /// Nothing may follow a close frame, and a reset is a failure.
    async fn close_then_eof(&mut self, what: &str) -> Option<(u16, String)> {
        within(format!("{what}: the end of the TCP stream"), async {
            let mut close = None;
            loop {
                match self.next_frame().await {
                    Ok(Some(f)) if close.is_some() => {
                        panic!("{what}: a frame after the close frame: {f:?}")
                    }
                    Ok(Some(f)) if f.opcode == OP_CLOSE => {
                        assert!(f.fin, "{what}: a fragmented close frame");
                        assert!(
                            f.payload.len() >= 2,
                            "{what}: a close frame without a code: {f:?}"
                        );
                        let code = u16::from_be_bytes([f.payload[0], f.payload[1]]);
                        let reason = String::from_utf8(f.payload[2..].to_vec())
                            .expect("the close reason is UTF-8");
                        close = Some((code, reason));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return close,
                    Err(e) => panic!("{what}: the connection was reset, not closed: {e}"),
                }
            }
        })
        .await
    }

    /// The next whole server message (its fragments joined); fails on a
    /// close, a frame that is not data, or the end of the stream. Not
    /// bounded: callers wrap it.
    async fn next_message(&mut self, what: &str) -> ServerMsg {
        let mut message = Vec::new();
        loop {
            let f = self
                .next_frame()
                .await
                .unwrap_or_else(|e| panic!("{what}: the connection failed: {e}"))
                .unwrap_or_else(|| panic!("{what}: the stream ended"));
            assert!(
                matches!(f.opcode, OP_BINARY | OP_CONTINUE),
                "{what}: expected a data frame, got opcode {:#x}: {f:?}",
                f.opcode
            );
            message.extend_from_slice(&f.payload);
            if f.fin {
                return proto::decode_server(&message)
                    .unwrap_or_else(|e| panic!("{what}: the message does not decode: {e}"));
            }
        }
    }

    /// Reads messages until a state acknowledges input `seq`; fails as
    /// [`Self::next_message`] does, or on an acknowledgement past `seq`.
    async fn await_ack(&mut self, seq: u32, what: &str) {
        within(format!("{what}: input {seq} acknowledged"), async {
            loop {
                if let ServerMsg::State(state) = self.next_message(what).await {
                    assert!(
                        state.ack_seq <= seq,
                        "{what}: acknowledged {}",
                        state.ack_seq
                    );
                    if state.ack_seq == seq {
                        return;
                    }
                }
            }
        })
        .await
    }

    /// A close frame from the server, then the end of the TCP stream.
    async fn expect_close_then_eof(&mut self, what: &str) -> (u16, String) {
        self.close_then_eof(what)
            .await
            .unwrap_or_else(|| panic!("{what}: the stream ended without a close frame"))
    }
}

/// Parses one server frame from the front of `buf`; `None` if incomplete.
fn parse(buf: &[u8]) -> Option<(ServerFrame, usize)> {
    let (&b0, rest) = buf.split_first()?;
    let (&b1, _) = rest.split_first()?;
    let mut at = 2;
    let len = match b1 & 0x7F {
        126 => {
            let l = u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize;
            at = 4;
            l
        }
        127 => {
            let l = u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?);
            at = 10;
            usize::try_from(l).expect("a server frame length fits")
        }
        l => usize::from(l),
    };
    assert_eq!(b1 & 0x80, 0, "a masked frame from the server");
    assert_eq!(b0 & 0x70, 0, "RSV bits from the server");
    let payload = buf.get(at..at + len)?.to_vec();
    Some((
        ServerFrame {
            fin: b0 & 0x80 != 0,
            opcode: b0 & 0x0F,
            payload,
        },
        at + len,
    ))
}

/// A server with a bystander in `room`, reading frames.
async fn room_with_bystander(config: Config, room: &str) -> (Server, Client) {
    let server = start(config).await;
    let mut bystander = Client::join(server.local_addr(), room, "calm").await;
    bystander.snapshot().await;
    (server, bystander)
}

/// The bystander keeps playing: frames with increasing ticks keep coming, and
/// an input it sends now is applied.
async fn still_playing(bystander: &mut Client, since: u32, what: &str) {
    let a = bystander.snapshot().await.tick;
    let b = bystander.snapshot().await.tick;
    assert!(
        since < a && a < b,
        "{what}: ticks {since}, {a}, {b} increase"
    );
    let seq = bystander.input([1, 0]).await;
    let s = bystander.wait_acked(seq).await;
    assert!(s.tick > b, "{what}: the room kept ticking");
}

/// Joins a raw connection to `room`, sends `bad` and returns the close code
/// and reason the server answered with, after the TCP stream ended; checks
/// the bystander kept playing.
async fn reject(
    addr: SocketAddr,
    bystander: &mut Client,
    room: &str,
    bad: &[u8],
    what: &str,
) -> (u16, String) {
    let mut raw = RawWs::join(addr, room).await;
    let since = bystander.snapshot().await.tick;
    raw.send(bad).await;
    let (code, reason) = raw.expect_close_then_eof(what).await;
    still_playing(bystander, since, what).await;
    (code, reason)
}

/// One malformed frame on a fresh server: closed with `want` (and a reason),
/// counted under `want` exactly once, the bystander unharmed.
async fn assert_rejected(config: Config, bad: Vec<u8>, want: u16, what: &str) {
    let room = "raw-room";
    let (server, mut bystander) = room_with_bystander(config, room).await;
    let addr = server.local_addr();
    let (code, reason) = reject(addr, &mut bystander, room, &bad, what).await;
    assert_eq!(code, want, "{what}: closed with {code} ({reason})");
    assert!(!reason.is_empty(), "{what}: the close frame has a reason");
    wait_metric(addr, &closed(want), 1.0).await;
    assert_eq!(
        metric(addr, &closed(want)).await,
        1.0,
        "{what}: counted once"
    );
    let s = bystander.snapshot().await;
    assert_eq!(s.players.len(), 1, "{what}: the bad player was removed");
    server.shutdown().await;
}

/// An encoded Input message `seq` carrying `data` as the game's input.
fn input_msg(seq: u32, data: Vec<u8>) -> Vec<u8> {
    proto::encode_client(&proto::ClientMsg::Input(proto::Input {
        seq,
        ack_tick: 0,
        data,
    }))
}

/// The arena input `seq` steering right, as a client message.
fn steer_input(seq: u32) -> Vec<u8> {
    let mut data = Vec::new();
    tickroom_sim::catalogue().encode_input(&tickroom_sim::SteerInput { x: 1, y: 0 }, &mut data);
    input_msg(seq, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmasked_client_frame_is_a_protocol_error() {
    let mut steer = Vec::new();
    tickroom_sim::catalogue().encode_input(&tickroom_sim::SteerInput { x: 1, y: 1 }, &mut steer);
    let bad = frame(FIN | OP_BINARY, None, &input_msg(1, steer));
    assert_rejected(test_config(), bad, 1002, "unmasked binary frame").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_that_is_not_the_games_input_is_1007() {
    // A well-formed Input message whose data does not decode as the
    // arena's input (two bytes).
    let bad = masked(FIN | OP_BINARY, &input_msg(1, vec![0xFF; 5]));
    assert_rejected(test_config(), bad, 1007, "input data not the game's").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserved_data_opcode_is_a_protocol_error() {
    let bad = masked(FIN | 0x3, b"abc");
    assert_rejected(test_config(), bad, 1002, "opcode 0x3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserved_control_opcode_is_a_protocol_error() {
    let bad = masked(FIN | 0xB, b"abc");
    assert_rejected(test_config(), bad, 1002, "opcode 0xB").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_reserved_bit_is_a_protocol_error() {
    for (rsv, what) in [(RSV1, "RSV1"), (RSV2, "RSV2"), (RSV3, "RSV3")] {
        let msg = proto::encode_client(&proto::ClientMsg::Ping(proto::Ping { nonce: 7 }));
        let bad = masked(FIN | rsv | OP_BINARY, &msg);
        assert_rejected(test_config(), bad, 1002, what).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_frame_over_125_bytes_is_a_protocol_error() {
    let bad = masked(FIN | OP_PING, &[b'p'; 126]);
    assert_rejected(test_config(), bad, 1002, "126-byte ping").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragmented_control_frame_is_a_protocol_error() {
    let bad = masked(OP_PING, b"half a ping");
    assert_rejected(test_config(), bad, 1002, "ping with FIN=0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_without_a_message_is_a_protocol_error() {
    let bad = masked(FIN | OP_CONTINUE, b"orphan");
    assert_rejected(test_config(), bad, 1002, "lone continuation").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_length_of_2_pow_62_is_too_big() {
    // Only the header: the server must refuse on the length, not wait for
    // (or allocate) 4 EiB.
    let bad = header(FIN | OP_BINARY, 1 << 62, Some(MASK), true);
    assert_rejected(test_config(), bad, 1009, "length 2^62").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_length_with_the_high_bit_set_is_refused() {
    // RFC 6455 5.2: the most significant bit of a 64-bit length MUST be 0.
    // tungstenite compares the length with the frame limit first, so this is
    // answered as too big (1009), not as a protocol error (1002).
    let bad = header(FIN | OP_BINARY, (1 << 63) | 16, Some(MASK), true);
    assert_rejected(test_config(), bad, 1009, "length with the high bit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_a_text_frame_is_1007() {
    let bad = masked(FIN | OP_TEXT, &[b'o', b'k', 0xC3, 0x28]);
    assert_rejected(test_config(), bad, 1007, "text frame with invalid UTF-8").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_frame_with_a_one_byte_payload_is_a_protocol_error() {
    let bad = masked(FIN | OP_CLOSE, &[0x03]);
    assert_rejected(test_config(), bad, 1002, "1-byte close payload").await;
}

/// Below 1000, the three codes RFC 6455 forbids on the wire (1005, 1006,
/// 1015), unassigned 1016..2999 and beyond 4999.
const INVALID_CLOSE_CODES: [u16; 9] = [0, 999, 1005, 1006, 1015, 1016, 2999, 5000, 65535];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_frame_with_an_invalid_code_ends_only_its_connection_as_1002() {
    let room = "raw-room";
    let (server, mut bystander) = room_with_bystander(test_config(), room).await;
    let addr = server.local_addr();
    for (n, bad_code) in INVALID_CLOSE_CODES.into_iter().enumerate() {
        let what = format!("close code {bad_code}");
        let mut raw = RawWs::join(addr, room).await;
        let since = bystander.snapshot().await.tick;
        raw.send(&masked(FIN | OP_CLOSE, &close_payload(bad_code, b"bye")))
            .await;
        // Today the server answers with no close frame at all (see
        // `..._is_answered_with_1002`); the stream must end either way.
        if let Some((code, reason)) = raw.close_then_eof(&what).await {
            assert_eq!(code, 1002, "{what}: answered with {code} ({reason})");
        }
        still_playing(&mut bystander, since, &what).await;
        wait_metric(addr, &closed(1002), n as f64 + 1.0).await;
    }
    assert_eq!(
        metric(addr, &closed(1002)).await,
        INVALID_CLOSE_CODES.len() as f64
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_frame_with_an_invalid_code_is_answered_with_1002() {
    let room = "raw-room";
    let (server, mut bystander) = room_with_bystander(test_config(), room).await;
    let addr = server.local_addr();
    for (n, bad_code) in INVALID_CLOSE_CODES.into_iter().enumerate() {
        let what = format!("close code {bad_code}");
        let bad = masked(FIN | OP_CLOSE, &close_payload(bad_code, b"bye"));
        let (code, reason) = reject(addr, &mut bystander, room, &bad, &what).await;
        assert_eq!(code, 1002, "{what}: answered with {code} ({reason})");
        wait_metric(addr, &closed(1002), n as f64 + 1.0).await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_close_is_echoed() {
    // RFC 6455 5.5.1: an endpoint that receives a Close frame MUST send one
    // in response. Both a joined and a not-yet-joined connection.
    let room = "raw-room";
    let (server, mut bystander) = room_with_bystander(test_config(), room).await;
    let addr = server.local_addr();
    let bye = masked(FIN | OP_CLOSE, &close_payload(1000, b"bye"));
    let (code, reason) = reject(addr, &mut bystander, room, &bye, "joined close").await;
    assert_eq!((code, reason.as_str()), (1000, "bye"));
    let mut raw = RawWs::upgrade(addr, &format!("room={room}")).await;
    raw.send(&bye).await;
    let (code, _) = raw.expect_close_then_eof("close before Join").await;
    assert_eq!(code, 1000);
    wait_metric(addr, &closed(1000), 2.0).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_frame_with_an_invalid_utf8_reason_is_1007() {
    let bad = masked(FIN | OP_CLOSE, &close_payload(1000, &[b'b', 0xFF, b'e']));
    assert_rejected(test_config(), bad, 1007, "close reason with invalid UTF-8").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_in_small_fragments_is_too_big() {
    // Every fragment is far below the limit, and the message never ends: the
    // server must count the fragments as they come. The last fragment sent
    // is the one that crosses the limit, so nothing is left unread.
    const LIMIT: usize = 100;
    const PIECE: usize = 10;
    let config = Config {
        max_message_bytes: LIMIT,
        ..test_config()
    };
    let mut bad = masked(OP_BINARY, &[1; PIECE]);
    for _ in 1..=LIMIT / PIECE {
        bad.extend(masked(OP_CONTINUE, &[2; PIECE]));
    }
    assert_rejected(config, bad, 1009, "fragments over --max-message-bytes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_inputs_longer_than_the_read_buffer_is_read_whole() {
    // A client catching up after a stall sends its inputs back to back: here
    // in one write, longer than the default read buffer, so frames straddle
    // the server's reads. Every input is read and the newest applied, and
    // the connection stays open.
    const INPUTS: u32 = 30;
    let config = test_config();
    let server = start(config.clone()).await;
    let mut raw = RawWs::join(server.local_addr(), "burst").await;
    let mut burst = Vec::new();
    for seq in 1..=INPUTS {
        burst.extend(masked(FIN | OP_BINARY, &steer_input(seq)));
    }
    assert!(
        burst.len() > config.ws_read_buffer,
        "the burst ({} bytes) takes more than one read of {}",
        burst.len(),
        config.ws_read_buffer
    );
    raw.send(&burst).await;
    raw.await_ack(INPUTS, "the burst's newest input").await;
    // Still open and reading: one more input is applied.
    raw.send(&masked(FIN | OP_BINARY, &steer_input(INPUTS + 1)))
        .await;
    raw.await_ack(INPUTS + 1, "an input after the burst").await;
}

/// A frame header promising 100 bytes, and 10 of them.
fn half_a_frame() -> Vec<u8> {
    let mut half = header(FIN | OP_BINARY, 100, Some(MASK), false);
    half.extend_from_slice(&[0; 10]);
    half
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_frame_before_join_is_closed_by_the_join_timeout() {
    let room = "raw-room";
    let config = Config {
        join_timeout: Duration::from_millis(300),
        slow_client: Duration::from_millis(300),
        ..test_config()
    };
    let (server, mut bystander) = room_with_bystander(config, room).await;
    let addr = server.local_addr();
    let mut raw = RawWs::upgrade(addr, &format!("room={room}")).await;
    let since = bystander.snapshot().await.tick;
    raw.send(&half_a_frame()).await;
    still_playing(&mut bystander, since, "half a frame before Join").await;
    let (code, reason) = raw.expect_close_then_eof("half a frame before Join").await;
    assert_eq!((code, reason.as_str()), (1008, "no Join in time"));
    wait_metric(addr, &closed(1008), 1.0).await;
    assert_eq!(metric(addr, &closed(1008)).await, 1.0);
    still_playing(&mut bystander, since, "after the half-frame close").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_frame_after_join_stalls_neither_the_room_nor_new_players() {
    let room = "raw-room";
    let (server, mut bystander) = room_with_bystander(test_config(), room).await;
    let addr = server.local_addr();
    let mut raw = RawWs::join(addr, room).await;
    bystander.wait_players(2).await;
    let since = bystander.snapshot().await.tick;
    raw.send(&half_a_frame()).await;
    still_playing(&mut bystander, since, "half a frame after Join").await;
    // The server still accepts and serves players, in this room too.
    let mut late = Client::join(addr, room, "late").await;
    late.wait_players(3).await;
    let since = bystander.snapshot().await.tick;
    still_playing(&mut bystander, since, "with a third player").await;
    // The stuck connection is still served frames meanwhile.
    within("a frame on the stuck connection", async {
        loop {
            let f = raw.next_frame().await.expect("no error").expect("open");
            if f.opcode == OP_BINARY {
                return;
            }
        }
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_frame_after_join_is_eventually_closed() {
    let room = "raw-room";
    // Half a frame is no frame: nothing counts as received, so the idle rule closes it.
    let config = Config {
        idle_timeout: Duration::from_secs(1),
        ..test_config()
    };
    let (server, mut bystander) = room_with_bystander(config, room).await;
    let addr = server.local_addr();
    let mut raw = RawWs::join(addr, room).await;
    let since = bystander.snapshot().await.tick;
    raw.send(&half_a_frame()).await;
    still_playing(&mut bystander, since, "half a frame after Join").await;
    // The raw client reads everything it is sent (it is no slow reader); only
    // the rest of its frame never comes. Bounded by util::PATIENCE.
    let (code, _) = raw
        .expect_close_then_eof("half a frame after Join, silent")
        .await;
    assert_eq!(code, 1008, "an idle client is a policy close");
    still_playing(&mut bystander, since, "after the close").await;
    server.shutdown().await;
}
