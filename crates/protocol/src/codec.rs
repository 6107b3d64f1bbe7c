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

use bincode::config::{self, Configuration, Limit, LittleEndian, Varint};

use crate::{
    ClientMsg, Error, MAX_CLIENT_MESSAGE_BYTES, MAX_NAME_BYTES, MAX_SERVER_MESSAGE_BYTES,
    MAX_TOKEN_BYTES, Result, ServerMsg,
};

/// Largest payload one recording block may have (a keyframe of a
/// 1,000-player room is about 20 KiB); [`crate::record`] re-exports it.
pub const MAX_RECORD_BLOCK_BYTES: usize = 1 << 20;

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
    if let ClientMsg::Join(join) = &msg {
        if join.name.len() > MAX_NAME_BYTES {
            return Err(Error::Invalid("name longer than 24 bytes"));
        }
        if join.resume.len() > MAX_TOKEN_BYTES {
            return Err(Error::Invalid("resume token too long"));
        }
    }
    Ok(msg)
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
            (any::<u32>(), any::<u32>(), any::<[i8; 2]>()).prop_map(|(seq, ack_tick, steer)| {
                ClientMsg::Input(Input {
                    seq,
                    ack_tick,
                    steer,
                })
            }),
            any::<u32>().prop_map(|nonce| ClientMsg::Ping(Ping { nonce })),
            Just(ClientMsg::Leave),
        ]
    }

    fn arb_player() -> impl Strategy<Value = PlayerState> {
        (
            any::<u32>(),
            any::<[u16; 2]>(),
            any::<[i16; 2]>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(|(id, pos, vel, score, last_input_seq)| PlayerState {
                id,
                pos,
                vel,
                score,
                last_input_seq,
            })
    }

    fn arb_server() -> impl Strategy<Value = ServerMsg> {
        let snapshot = (
            any::<u32>(),
            prop::collection::vec(arb_player(), 0..60),
            prop::collection::vec(
                (any::<u16>(), any::<[u16; 2]>()).prop_map(|(id, pos)| Pellet { id, pos }),
                0..120,
            ),
            prop::collection::vec(
                (any::<u32>(), "[a-z]{0,24}").prop_map(|(id, name)| PlayerInfo { id, name }),
                0..60,
            ),
        )
            .prop_map(|(tick, players, pellets, roster)| {
                ServerMsg::Snapshot(Snapshot {
                    tick,
                    players,
                    pellets,
                    roster,
                })
            });
        let welcome = (
            any::<u32>(),
            "[a-z0-9-]{1,16}",
            any::<u32>(),
            0.0f32..5000.0,
        )
            .prop_map(|(player_id, room, tick, f)| {
                ServerMsg::Welcome(Welcome {
                    version: PROTOCOL_VERSION,
                    player_id,
                    room,
                    tick_rate_hz: 20,
                    sim_rate_hz: 20,
                    tick,
                    arena: Arena {
                        width: f,
                        height: f / 2.0,
                        player_radius: 18.0,
                        pellet_radius: 6.0,
                        accel: 900.0,
                        max_speed: 300.0,
                        friction: 0.05,
                    },
                    resume_token: format!("tok.{tick}"),
                    resumed: tick % 2 == 0,
                })
            });
        let delta = (
            (any::<u32>(), any::<u8>(), any::<u32>()),
            prop::collection::vec(any::<[i8; 2]>(), 0..60),
            prop::collection::vec(any::<u8>(), 0..60),
            prop::collection::vec(arb_player(), 0..5),
            prop::collection::vec(any::<u16>(), 0..5),
            prop::collection::vec((arb_player(), "[a-z]{0,24}"), 0..3),
        )
            .prop_map(
                |((tick, base_age, sum), moves, acks, changed, removed, added)| {
                    ServerMsg::Delta(Delta {
                        tick,
                        base_age,
                        checksum: Checksum(sum),
                        removed: changed.iter().map(|p| p.id ^ 1).collect(),
                        added: added
                            .into_iter()
                            .map(|(state, name)| NewPlayer { state, name })
                            .collect(),
                        moves,
                        acks,
                        velocities: changed
                            .iter()
                            .map(|p| VelocityFix {
                                id: p.id,
                                vel: p.vel,
                            })
                            .collect(),
                        scores: changed
                            .iter()
                            .map(|p| ScoreFix {
                                id: p.id,
                                score: p.score,
                            })
                            .collect(),
                        changed,
                        pellets_added: removed
                            .iter()
                            .map(|&id| Pellet { id, pos: [id, id] })
                            .collect(),
                        pellets_removed: removed,
                    })
                },
            );
        prop_oneof![
            snapshot,
            delta,
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
        ];
        for (what, bytes, ok) in cases {
            let err = decode_client(&bytes).expect_err(what);
            assert!(ok(&err), "{what}: unexpected {err:?}");
        }
        assert!(decode_client(&join(&"x".repeat(MAX_NAME_BYTES))).is_ok());
    }

    #[test]
    fn layout_matches_the_documented_encoding() {
        // These bytes are what clients/js/src/protocol.js decodes; see the doc comment above.
        let input = ClientMsg::Input(Input {
            seq: 300,
            ack_tick: 7,
            steer: [-1, 127],
        });
        assert_eq!(
            encode_client(&input),
            vec![1, 251, 0x2C, 0x01, 7, 0xFF, 0x7F]
        );
        let pong = ServerMsg::Pong(Pong { nonce: 1, tick: 2 });
        assert_eq!(encode_server(&pong), vec![2, 1, 2]);
        // The checksum is four raw bytes, not a varint.
        let delta = ServerMsg::Delta(Delta {
            tick: 300,
            base_age: 1,
            checksum: Checksum(0xA1B2_C3D4),
            removed: vec![],
            moves: vec![[1, -1]],
            acks: vec![2],
            velocities: vec![],
            scores: vec![],
            changed: vec![],
            added: vec![],
            pellets_removed: vec![],
            pellets_added: vec![],
        });
        assert_eq!(
            encode_server(&delta),
            vec![
                4, 251, 0x2C, 0x01, 1, 0xD4, 0xC3, 0xB2, 0xA1, 0, 1, 1, 0xFF, 1, 2, 0, 0, 0, 0, 0,
                0
            ]
        );
    }
}
