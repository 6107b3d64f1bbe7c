//! The one place that knows how messages become bytes: bincode 2 with a single
//! explicit configuration.
//!
//! Layout (what `clients/js/src/protocol.js` mirrors): little-endian, variable-length
//! integers (bincode "varint": values below 251 take one byte, else a marker
//! byte 251/252/253 followed by a u16/u32/u64; signed values are zig-zag
//! encoded first), enums as a varint variant index, `Vec`/`String` as a varint
//! length then the items, `Option` as a 0/1 byte then the value, arrays and
//! structs as their fields in order, `f32` as 4 little-endian bytes.
//!
//! Decoding never panics on any input and no single allocation exceeds the
//! message limit: bincode's `with_limit` bounds what a length prefix can
//! claim. bincode releases a list's claim item by item as the items decode,
//! so at peak the items already decoded (at most a few dozen bytes each per
//! input byte) come on top of that limit.
//!
//! A room's saved state (a game's serde types, see `tickroom_game::persist`)
//! goes through the same configuration ([`encode_serde`], [`decode_serde`]),
//! bounded by [`MAX_ROOM_STATE_BYTES`].

use bincode::config::{self, Configuration, Limit, LittleEndian, Varint};

use crate::state::put_varint;
use crate::{
    Checksum, ClientMsg, Error, MAX_CLIENT_MESSAGE_BYTES, MAX_EVENTS_PER_STATE, MAX_INPUT_BYTES,
    MAX_NAME_BYTES, MAX_SERVER_MESSAGE_BYTES, MAX_TOKEN_BYTES, Result, ServerMsg,
};

/// Largest payload one recording block may have (a keyframe of a
/// 1,000-player room is about 20 KiB); [`crate::record`] re-exports it.
pub const MAX_RECORD_BLOCK_BYTES: usize = 1 << 20;

/// Largest saved room state ([`encode_serde`] refuses to write more,
/// [`decode_serde`] to read more): a skirmish room of 100 players with its
/// bullets in flight takes a few tens of KiB.
pub const MAX_ROOM_STATE_BYTES: usize = 16 << 20;

type ClientConfig = Configuration<LittleEndian, Varint, Limit<MAX_CLIENT_MESSAGE_BYTES>>;
type ServerConfig = Configuration<LittleEndian, Varint, Limit<MAX_SERVER_MESSAGE_BYTES>>;

const CLIENT: ClientConfig = config::standard()
    .with_little_endian()
    .with_variable_int_encoding()
    .with_limit::<MAX_CLIENT_MESSAGE_BYTES>();

const SERVER: ServerConfig = config::standard()
    .with_little_endian()
    .with_variable_int_encoding()
    .with_limit::<MAX_SERVER_MESSAGE_BYTES>();

type RecordConfig = Configuration<LittleEndian, Varint, Limit<MAX_RECORD_BLOCK_BYTES>>;

/// Recording blocks ([`crate::record`]): the same layout, a larger limit.
const RECORD: RecordConfig = config::standard()
    .with_little_endian()
    .with_variable_int_encoding()
    .with_limit::<MAX_RECORD_BLOCK_BYTES>();

/// Encodes a client message.
pub fn encode_client(msg: &ClientMsg) -> Vec<u8> {
    // Encoding into a Vec cannot fail: the limit only applies to decoding.
    bincode::encode_to_vec(msg, CLIENT).unwrap_or_default()
}

/// Encodes a server message.
pub fn encode_server(msg: &ServerMsg) -> Vec<u8> {
    bincode::encode_to_vec(msg, SERVER).unwrap_or_default()
}

/// Appends an encoded server message to `buf` (reusing its allocation).
pub fn encode_server_into(msg: &ServerMsg, buf: &mut Vec<u8>) {
    let start = buf.len();
    if bincode::encode_into_std_write(msg, buf, SERVER).is_err() {
        buf.truncate(start);
    }
}

/// Decodes one client message from a whole WebSocket binary payload, checking
/// the size limit, that no bytes trail the message and the protocol's rules
/// (name length).
pub fn decode_client(bytes: &[u8]) -> Result<ClientMsg> {
    if bytes.len() > MAX_CLIENT_MESSAGE_BYTES {
        return Err(Error::TooLarge {
            len: bytes.len(),
            max: MAX_CLIENT_MESSAGE_BYTES,
        });
    }
    let msg: ClientMsg = decode_whole(bytes, CLIENT)?;
    match &msg {
        ClientMsg::Join(join) => {
            if join.name.len() > MAX_NAME_BYTES {
                return Err(Error::Invalid("name longer than 24 bytes"));
            }
            if join.resume.len() > MAX_TOKEN_BYTES {
                return Err(Error::Invalid("resume token too long"));
            }
        }
        ClientMsg::Input(input) if input.data.len() > MAX_INPUT_BYTES => {
            return Err(Error::Invalid("input data longer than 200 bytes"));
        }
        _ => {}
    }
    Ok(msg)
}

/// The part of a [`ServerMsg::State`] shared by every client sent the same
/// frame from the same base: the checksum and the delta-coded frame. Encode
/// it once per base and tick; [`encode_state`] puts each client's own part
/// in front.
pub fn encode_state_tail(checksum: Checksum, frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 5 + frame.len());
    out.extend_from_slice(&checksum.0.to_le_bytes());
    put_varint(&mut out, frame.len() as u64);
    out.extend_from_slice(frame);
    out
}

/// Appends one client's whole [`ServerMsg::State`]: its `ack_seq`, its
/// `events` (at most [`MAX_EVENTS_PER_STATE`]; the caller keeps the rest
/// for the next state) and a shared `tail` from [`encode_state_tail`].
/// The bytes are exactly `encode_server(&ServerMsg::State(..))`'s.
pub fn encode_state<'a>(
    ack_seq: u32,
    events: impl ExactSizeIterator<Item = &'a [u8]>,
    tail: &[u8],
    out: &mut Vec<u8>,
) {
    debug_assert!(events.len() <= MAX_EVENTS_PER_STATE);
    // The variant index of `ServerMsg::State`.
    put_varint(out, 1);
    put_varint(out, ack_seq.into());
    put_varint(out, events.len() as u64);
    for e in events {
        put_varint(out, e.len() as u64);
        out.extend_from_slice(e);
    }
    out.extend_from_slice(tail);
}

/// Decodes one server message from a whole WebSocket binary payload.
pub fn decode_server(bytes: &[u8]) -> Result<ServerMsg> {
    if bytes.len() > MAX_SERVER_MESSAGE_BYTES {
        return Err(Error::TooLarge {
            len: bytes.len(),
            max: MAX_SERVER_MESSAGE_BYTES,
        });
    }
    decode_whole(bytes, SERVER)
}

/// Appends one encoded recording block's payload to `buf` (the framing is
/// [`crate::record::append_block`]'s). Generic over the block type so this
/// module, the one that speaks bincode, needs nothing from the record module
/// above it.
pub fn encode_record_block_into<B: bincode::Encode>(block: &B, buf: &mut Vec<u8>) {
    let start = buf.len();
    if bincode::encode_into_std_write(block, buf, RECORD).is_err() {
        buf.truncate(start);
    }
}

/// Decodes one recording block's whole payload (a [`crate::record::Block`]).
pub fn decode_record_block<B: bincode::Decode<()>>(bytes: &[u8]) -> Result<B> {
    if bytes.len() > MAX_RECORD_BLOCK_BYTES {
        return Err(Error::TooLarge {
            len: bytes.len(),
            max: MAX_RECORD_BLOCK_BYTES,
        });
    }
    decode_whole(bytes, RECORD)
}

type StateConfig = Configuration<LittleEndian, Varint, Limit<MAX_ROOM_STATE_BYTES>>;

/// Saved room states: the same layout, their own limit.
const STATE: StateConfig = config::standard()
    .with_little_endian()
    .with_variable_int_encoding()
    .with_limit::<MAX_ROOM_STATE_BYTES>();

/// Appends `value` (any serde type: a game's persisted state) in the
/// codec's layout. Fails, appending nothing, if its `Serialize` does
/// ([`Error::Malformed`]: a sequence of unknown length, a custom error) or
/// it takes more than [`MAX_ROOM_STATE_BYTES`] ([`Error::TooLarge`]).
pub fn encode_serde<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    if let Err(e) = bincode::serde::encode_into_std_write(value, out, STATE) {
        out.truncate(start);
        return Err(Error::Malformed(e.to_string()));
    }
    let len = out.len() - start;
    if len > MAX_ROOM_STATE_BYTES {
        out.truncate(start);
        return Err(Error::TooLarge {
            len,
            max: MAX_ROOM_STATE_BYTES,
        });
    }
    Ok(())
}

/// Decodes exactly one `T` from the whole of `bytes` (what
/// [`encode_serde`] wrote): refuses more than [`MAX_ROOM_STATE_BYTES`],
/// a malformed or truncated encoding and trailing bytes. Never panics.
pub fn decode_serde<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    if bytes.len() > MAX_ROOM_STATE_BYTES {
        return Err(Error::TooLarge {
            len: bytes.len(),
            max: MAX_ROOM_STATE_BYTES,
        });
    }
    let (value, used) = bincode::serde::decode_from_slice::<T, _>(bytes, STATE)
        .map_err(|e| Error::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(Error::TrailingBytes(bytes.len() - used));
    }
    Ok(value)
}

fn decode_whole<T, C>(bytes: &[u8], config: C) -> Result<T>
where
    T: bincode::Decode<()>,
    C: bincode::config::Config,
{
    let (msg, used) = bincode::decode_from_slice::<T, C>(bytes, config)
        .map_err(|e| Error::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(Error::TrailingBytes(bytes.len() - used));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;
    use proptest::prelude::*;

    fn arb_client() -> impl Strategy<Value = ClientMsg> {
        prop_oneof![
            (any::<u16>(), "[a-zA-Z0-9 é]{0,8}", "[A-Za-z0-9_.-]{0,150}").prop_map(
                |(version, name, resume)| ClientMsg::Join(Join {
                    version,
                    name,
                    resume
                })
            ),
            (
                any::<u32>(),
                any::<u32>(),
                prop::collection::vec(any::<u8>(), 0..=MAX_INPUT_BYTES)
            )
                .prop_map(|(seq, ack_tick, data)| {
                    ClientMsg::Input(Input {
                        seq,
                        ack_tick,
                        data,
                    })
                }),
            any::<u32>().prop_map(|nonce| ClientMsg::Ping(Ping { nonce })),
            Just(ClientMsg::Leave),
        ]
    }

    fn arb_state() -> impl Strategy<Value = State> {
        (
            any::<u32>(),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20),
            any::<u32>(),
            prop::collection::vec(any::<u8>(), 0..2000),
        )
            .prop_map(|(ack_seq, events, sum, frame)| State {
                ack_seq,
                events,
                checksum: Checksum(sum),
                frame,
            })
    }

    fn arb_server() -> impl Strategy<Value = ServerMsg> {
        let welcome = (
            any::<u32>(),
            "[a-z0-9-]{1,16}",
            any::<u32>(),
            prop::collection::vec(any::<u8>(), 0..500),
        )
            .prop_map(|(player_id, room, tick, schema)| {
                ServerMsg::Welcome(Welcome {
                    version: PROTOCOL_VERSION,
                    player_id,
                    room,
                    game: "arena".into(),
                    tick_rate_hz: 20,
                    sim_rate_hz: 20,
                    tick,
                    schema,
                    config: format!("{{\"width\":{tick}}}"),
                    resume_token: format!("tok.{tick}"),
                    resumed: tick % 2 == 0,
                })
            });
        prop_oneof![
            arb_state().prop_map(ServerMsg::State),
            welcome,
            (any::<u32>(), any::<u32>())
                .prop_map(|(nonce, tick)| ServerMsg::Pong(Pong { nonce, tick })),
            (any::<u16>(), "[ -~]{0,40}")
                .prop_map(|(code, message)| ServerMsg::Error(ErrorMsg { code, message })),
        ]
    }

    proptest! {
        #[test]
        fn client_messages_round_trip(msg in arb_client()) {
            let bytes = encode_client(&msg);
            prop_assert!(bytes.len() <= MAX_CLIENT_MESSAGE_BYTES);
            prop_assert_eq!(decode_client(&bytes), Ok(msg));
        }

        #[test]
        fn server_messages_round_trip(msg in arb_server()) {
            let bytes = encode_server(&msg);
            let mut appended = vec![0xAA];
            encode_server_into(&msg, &mut appended);
            prop_assert_eq!(&appended[1..], &bytes[..]);
            prop_assert_eq!(decode_server(&bytes), Ok(msg));
        }

        #[test]
        fn a_state_from_its_shared_tail_is_the_state_encoded_whole(state in arb_state()) {
            let tail = encode_state_tail(state.checksum, &state.frame);
            let mut out = vec![0xAA];
            encode_state(
                state.ack_seq,
                state.events.iter().map(Vec::as_slice),
                &tail,
                &mut out,
            );
            prop_assert_eq!(&out[1..], &encode_server(&ServerMsg::State(state))[..]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_client(&bytes);
            let _ = decode_server(&bytes);
        }

        #[test]
        fn truncated_messages_are_errors(msg in arb_client(), cut in 1usize..8) {
            let bytes = encode_client(&msg);
            let keep = bytes.len().saturating_sub(cut);
            prop_assert!(decode_client(&bytes[..keep]).is_err());
        }
    }

    #[test]
    fn bad_inputs_get_the_right_error() {
        let join = |name: &str| {
            encode_client(&ClientMsg::Join(Join {
                version: PROTOCOL_VERSION,
                name: name.into(),
                resume: String::new(),
            }))
        };
        let mut trailing = encode_client(&ClientMsg::Leave);
        trailing.push(0);
        let huge_len = [0u8, 1, 0xFC, 0xFF, 0xFF, 0xFF, 0x7F]; // Join, version 1, name of 2^31 bytes
        type Case = (&'static str, Vec<u8>, fn(&Error) -> bool);
        let cases: Vec<Case> = vec![
            ("empty", vec![], |e| matches!(e, Error::Malformed(_))),
            ("unknown variant", vec![9], |e| {
                matches!(e, Error::Malformed(_))
            }),
            ("trailing byte", trailing, |e| {
                matches!(e, Error::TrailingBytes(1))
            }),
            ("too large", vec![3; MAX_CLIENT_MESSAGE_BYTES + 1], |e| {
                matches!(e, Error::TooLarge { .. })
            }),
            (
                "name too long",
                join(&"x".repeat(MAX_NAME_BYTES + 1)),
                |e| matches!(e, Error::Invalid(_)),
            ),
            ("invalid utf-8", vec![0, 1, 2, 0xFF, 0xFE], |e| {
                matches!(e, Error::Malformed(_))
            }),
            ("length prefix beyond limit", huge_len.to_vec(), |e| {
                matches!(e, Error::Malformed(_))
            }),
            (
                "input data too long",
                encode_client(&ClientMsg::Input(Input {
                    seq: 1,
                    ack_tick: 0,
                    data: vec![0; MAX_INPUT_BYTES + 1],
                })),
                |e| matches!(e, Error::Invalid(_)),
            ),
        ];
        for (what, bytes, ok) in cases {
            let err = decode_client(&bytes).expect_err(what);
            assert!(ok(&err), "{what}: unexpected {err:?}");
        }
        assert!(decode_client(&join(&"x".repeat(MAX_NAME_BYTES))).is_ok());
    }

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Saved {
        step: u64,
        name: String,
        at: Option<(f32, f32)>,
        list: Vec<(u16, Vec<u8>)>,
        kind: Kind,
    }

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    enum Kind {
        Live,
        Dead { respawn_in: u32 },
    }

    fn arb_saved() -> impl Strategy<Value = Saved> {
        (
            any::<u64>(),
            "[a-zA-Z0-9 é]{0,12}",
            any::<Option<(f32, f32)>>(),
            prop::collection::vec(
                (any::<u16>(), prop::collection::vec(any::<u8>(), 0..20)),
                0..10,
            ),
            prop::option::of(any::<u32>()),
        )
            .prop_map(|(step, name, at, list, dead)| Saved {
                step,
                name,
                at,
                list,
                kind: dead.map_or(Kind::Live, |respawn_in| Kind::Dead { respawn_in }),
            })
    }

    /// Equal, with floats compared bit for bit (a NaN is kept exactly).
    fn same(a: &Saved, b: &Saved) -> bool {
        let bits = |s: &Saved| s.at.map(|(x, y)| (x.to_bits(), y.to_bits()));
        bits(a) == bits(b)
            && Saved {
                at: None,
                ..a.clone()
            } == Saved {
                at: None,
                ..b.clone()
            }
    }

    proptest! {
        #[test]
        fn serde_values_round_trip_and_append(value in arb_saved()) {
            let mut bytes = vec![0xAA];
            encode_serde(&value, &mut bytes).unwrap();
            prop_assert_eq!(bytes[0], 0xAA);
            let back: Saved = decode_serde(&bytes[1..]).unwrap();
            prop_assert!(same(&back, &value), "{back:?} != {value:?}");
        }

        #[test]
        fn serde_decoding_refuses_cut_and_trailing_bytes(value in arb_saved(), cut in 1usize..6) {
            let mut bytes = Vec::new();
            encode_serde(&value, &mut bytes).unwrap();
            let keep = bytes.len().saturating_sub(cut);
            prop_assert!(decode_serde::<Saved>(&bytes[..keep]).is_err());
            bytes.push(0);
            prop_assert_eq!(decode_serde::<Saved>(&bytes), Err(Error::TrailingBytes(1)));
        }

        #[test]
        fn serde_decoding_arbitrary_bytes_never_panics(
            bytes in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            let _ = decode_serde::<Saved>(&bytes);
            let _ = decode_serde::<Vec<String>>(&bytes);
            let _ = decode_serde::<(u64, Vec<Kind>)>(&bytes);
        }
    }

    #[test]
    fn serde_values_take_the_documented_layout() {
        let mut out = Vec::new();
        encode_serde(
            &(300u32, -1i16, "é", Kind::Dead { respawn_in: 7 }),
            &mut out,
        )
        .unwrap();
        // varint 300, zig-zag -1, length-prefixed UTF-8, variant index then field.
        assert_eq!(out, vec![251, 0x2C, 0x01, 1, 2, 0xC3, 0xA9, 1, 7]);
    }

    #[test]
    fn serde_decoding_refuses_claims_past_the_limit() {
        // A `Vec<u8>` claiming 2^31 - 1 bytes in 5 bytes of input.
        let claim = [0xFCu8, 0xFF, 0xFF, 0xFF, 0x7F];
        assert!(matches!(
            decode_serde::<Vec<u8>>(&claim),
            Err(Error::Malformed(_))
        ));
        let huge = vec![0u8; MAX_ROOM_STATE_BYTES + 1];
        assert!(matches!(
            decode_serde::<Vec<u8>>(&huge),
            Err(Error::TooLarge { .. })
        ));
        // Writing more than the limit appends nothing.
        let mut out = vec![1, 2];
        let big = vec![7u8; MAX_ROOM_STATE_BYTES];
        assert!(matches!(
            encode_serde(&big, &mut out),
            Err(Error::TooLarge { .. })
        ));
        assert_eq!(out, vec![1, 2]);
    }

    #[test]
    fn layout_matches_the_documented_encoding() {
        // These bytes are what clients/js/src/protocol.js decodes; see the doc comment above.
        let input = ClientMsg::Input(Input {
            seq: 300,
            ack_tick: 7,
            data: vec![0xFF, 0x7F],
        });
        assert_eq!(
            encode_client(&input),
            vec![1, 251, 0x2C, 0x01, 7, 2, 0xFF, 0x7F]
        );
        let pong = ServerMsg::Pong(Pong { nonce: 1, tick: 2 });
        assert_eq!(encode_server(&pong), vec![2, 1, 2]);
        // The checksum is four raw bytes, not a varint.
        let state = ServerMsg::State(State {
            ack_seq: 300,
            events: vec![vec![1, 2]],
            checksum: Checksum(0xA1B2_C3D4),
            frame: vec![9, 0],
        });
        assert_eq!(
            encode_server(&state),
            vec![
                1, 251, 0x2C, 0x01, 1, 2, 1, 2, 0xD4, 0xC3, 0xB2, 0xA1, 2, 9, 0
            ]
        );
    }
}
