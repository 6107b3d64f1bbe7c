//! The room recording format: what `--record-dir` writes and `tickroom replay`
//! reads. A recording is a room's event log, enough to re-run the room
//! offline bit for bit: its game, game version, config and seed, then per
//! step the joins, leaves and resumes and the inputs (the game's encoded
//! bytes) that step applied, each frame step with the checksum of the frame
//! it produced.
//!
//! # File layout
//!
//! ```text
//! magic    8 bytes   "TICKREC\n"
//! format   u16 LE    RECORD_FORMAT_VERSION
//! blocks   ...       each: len u32 LE | crc32 u32 LE (IEEE, of the payload) | payload
//! ```
//!
//! Every payload is one [`Block`] encoded by [`crate::codec`] (bincode 2,
//! little-endian varints, as on the wire). The first block is a
//! [`Block::Header`]; a recording that continues another (the room was
//! handed to this node by a draining one, or restored here from a dead
//! node's snapshot) has a [`Block::Continues`] second, with the game's whole
//! state at the step it starts from; then come [`Block::Tick`]s, one per simulation step in
//! strictly increasing step order (with `steps_per_frame` > 1, every
//! `steps_per_frame`-th step builds a frame and carries its checksum), a
//! [`Block::Keyframe`] (the whole frame) after every `keyframe_every`-th
//! frame, and finally one [`Block::End`]. A file without
//! its `End` block was cut short (the server died, or the room is still
//! being recorded).
//!
//! # Versions
//!
//! - `format` (the u16 after the magic) changes when this layout or these
//!   types change; readers refuse other formats with
//!   [`RecordError::UnsupportedFormat`] before decoding anything. Format 3
//!   added [`Block::Continues`] and [`EndReason::HandedOff`] (new variants
//!   at the end), so this build also reads format 2 files, which have
//!   neither.
//! - [`RecordHeader::game`] and [`RecordHeader::game_version`] name the
//!   game's rules; a replay refuses a recording of another game version
//!   instead of diverging silently.
//! - [`RecordHeader::protocol_version`] is informational (the frames a
//!   replay rebuilds are this build's).
//!
//! Reading never panics on any input and never allocates more than
//! [`MAX_RECORD_BLOCK_BYTES`] for one block.

use std::io::{self, Read};

use bincode::{Decode, Encode};

use crate::{Checksum, codec};

/// The first 8 bytes of every recording.
pub const RECORD_MAGIC: [u8; 8] = *b"TICKREC\n";

/// The version of this layout and these types.
pub const RECORD_FORMAT_VERSION: u16 = 3;

/// The oldest format this build reads (format 2 is format 3 without its
/// new variants).
pub const OLDEST_READ_FORMAT: u16 = 2;

/// Largest payload one block may have (a keyframe of a 1,000-player room is
/// about 20 KiB); the codec's decode limit.
pub use crate::codec::MAX_RECORD_BLOCK_BYTES;

/// Bytes before the first block: magic and format.
pub const PREAMBLE_BYTES: usize = RECORD_MAGIC.len() + 2;

/// Bytes of a block's length and checksum.
pub const BLOCK_HEAD_BYTES: usize = 8;

/// One block of a recording.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub enum Block {
    /// The room's rules and identity; always the first block.
    Header(RecordHeader),
    /// One tick: what happened before it and what it produced.
    Tick(TickRecord),
    /// The whole frame of the tick just recorded (for reporting which entity
    /// diverged, and as a check point): the frame delta-coded from nothing
    /// ([`crate::state::delta`]), decoded with the game's schema.
    Keyframe(Vec<u8>),
    /// The recording ended cleanly.
    End(EndRecord),
    /// This recording continues a room from a saved state (format 3); only
    /// ever the second block.
    Continues(Continuation),
}

/// Where a continued recording starts: the room's game state at a step,
/// and the recording of the room up to there.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Continuation {
    /// How the room came to this node.
    pub cause: ContinueCause,
    /// The recording this one continues, if the room was being recorded
    /// where it was before.
    pub from: Option<PreviousRecording>,
    /// The simulation step the state is at: this file's first tick is the
    /// next step.
    pub step: u32,
    /// What the room applied after `step` and before it was saved (joins,
    /// leaves and resumes between two ticks, in order): the state includes
    /// them, the recording it continues has them in no tick.
    pub pending: Vec<RoomEvent>,
    /// The game's whole state at `step` (the game API's `Room::save`), so
    /// this file replays on its own.
    pub state: Vec<u8>,
}

/// How a room came to the node that continues its recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum ContinueCause {
    /// A draining node handed it over between two ticks: nothing was played
    /// after `step` on the old node.
    HandOff,
    /// It was restored from the periodic snapshot of a node that died: the
    /// old node may have played on past `step`; that play is lost.
    Restored,
}

impl std::fmt::Display for ContinueCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ContinueCause::HandOff => "handed off",
            ContinueCause::Restored => "restored from a snapshot",
        })
    }
}

/// The recording a continued one follows.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, serde::Serialize, serde::Deserialize)]
pub struct PreviousRecording {
    /// The node that recorded it.
    pub node: String,
    /// Its file name in that node's recording directory.
    pub file: String,
}

/// Who and what a recording is of.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct RecordHeader {
    /// [`crate::PROTOCOL_VERSION`] of the recording server.
    pub protocol_version: u16,
    /// The room's game.
    pub game: String,
    /// The game's version (`Game::VERSION`).
    pub game_version: u32,
    /// The hash of the game's schema ([`crate::state::Schema::hash`]).
    pub schema_hash: u64,
    /// The room's config, as JSON.
    pub config: String,
    /// The room's random seed.
    pub seed: u64,
    /// Simulation steps per second (`--sim-rate`).
    pub step_rate_hz: u32,
    /// The recording server's version (`CARGO_PKG_VERSION`).
    pub server_version: String,
    /// The room's id.
    pub room: String,
    /// The recording node's id.
    pub node: String,
    /// When the room started, Unix milliseconds.
    pub started_unix_ms: u64,
    /// The room's capacity.
    pub capacity: u32,
    /// A keyframe follows every this many frames (0: none).
    pub keyframe_every: u32,
    /// Simulation steps per frame (frames are built every this many steps).
    pub steps_per_frame: u32,
}

/// What one simulation step applied, in application order, and the
/// checksum of the frame it produced (on every `steps_per_frame`-th step).
#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct TickRecord {
    /// The step (the simulation's step count after it; equal to the frame
    /// tick when there is one step per frame).
    pub tick: u32,
    /// Joins, leaves and resumes since the previous tick, in order.
    pub events: Vec<RoomEvent>,
    /// The inputs this step applied, in the order the game got them.
    pub inputs: Vec<AppliedInput>,
    /// [`crate::state::Frame::checksum`] of the frame this step built;
    /// `None` on the steps between frames.
    pub checksum: Option<Checksum>,
}

/// A change to who is in the room.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, serde::Serialize, serde::Deserialize)]
pub enum RoomEvent {
    /// A new player entered (the simulation spawned its entity).
    Joined {
        /// Its id.
        player: u32,
        /// Its display name.
        name: String,
    },
    /// A disconnected player's client took it back.
    Resumed {
        /// Its id.
        player: u32,
    },
    /// A player's connection dropped; its entity waits the resume grace.
    Disconnected {
        /// Its id.
        player: u32,
    },
    /// A player left (on purpose or thrown out): its entity is gone.
    Left {
        /// Its id.
        player: u32,
    },
    /// A disconnected player's grace ran out: its entity is gone.
    Expired {
        /// Its id.
        player: u32,
    },
}

impl RoomEvent {
    /// The player the event is about.
    pub fn player(&self) -> u32 {
        match *self {
            RoomEvent::Joined { player, .. }
            | RoomEvent::Resumed { player }
            | RoomEvent::Disconnected { player }
            | RoomEvent::Left { player }
            | RoomEvent::Expired { player } => player,
        }
    }
}

/// One input a step applied.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AppliedInput {
    /// The player.
    pub player: u32,
    /// How far its newest input sequence number moved since its previous
    /// applied input.
    pub seq_advance: u32,
    /// The game's input, as on the wire ([`crate::Input::data`]).
    pub data: Vec<u8>,
}

/// How a recording ended.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct EndRecord {
    /// The last step recorded (the last tick, at one step per frame).
    pub last_tick: u32,
    /// Why it ended.
    pub reason: EndReason,
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum EndReason {
    /// The room closed (idle, shut down, drained).
    RoomClosed,
    /// The file reached its size cap; the room went on unrecorded.
    SizeCap,
    /// The recorder fell behind (its queue was full) and stopped recording
    /// the room; ticks after `last_tick` are missing.
    QueueFull,
    /// The room ended without a final record reaching the writer (its queue
    /// was full at the end); every tick up to `last_tick` is present.
    Abandoned,
    /// The recording directory reached its cap with nothing older left to
    /// remove; the room went on unrecorded.
    DirectoryCap,
    /// The room was handed to another node (format 3), whose recording
    /// continues this one.
    HandedOff,
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EndReason::RoomClosed => "room closed",
            EndReason::SizeCap => "file size cap reached",
            EndReason::QueueFull => "recorder queue full: recording stopped",
            EndReason::Abandoned => "room ended while the recorder queue was full",
            EndReason::DirectoryCap => "recording directory cap reached",
            EndReason::HandedOff => "handed off to another node (its recording continues this one)",
        })
    }
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file does not start with [`RECORD_MAGIC`].
    #[error("not a tickroom recording (bad magic bytes)")]
    BadMagic,
    /// The file is of another format version.
    #[error(
        "recording format {found} is not supported by this build (it reads formats {OLDEST_READ_FORMAT} to {supported})"
    )]
    UnsupportedFormat {
        /// The file's format.
        found: u16,
        /// The format this build reads.
        supported: u16,
    },
    /// The file ends inside a block (or inside the preamble).
    #[error("truncated at byte {offset}: a block needs {needed} more bytes, only {available} left")]
    Truncated {
        /// Where the incomplete part starts.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// Bytes there are.
        available: u64,
    },
    /// A block claims a length beyond [`MAX_RECORD_BLOCK_BYTES`].
    #[error(
        "corrupt block at byte {offset}: it claims {len} bytes (limit {MAX_RECORD_BLOCK_BYTES})"
    )]
    BlockTooLarge {
        /// Where the block starts.
        offset: u64,
        /// Its claimed length.
        len: u64,
    },
    /// A block's bytes do not match its CRC.
    #[error("corrupt block at byte {offset}: CRC mismatch")]
    BadCrc {
        /// Where the block starts.
        offset: u64,
    },
    /// A block's bytes are not a valid [`Block`].
    #[error("corrupt block at byte {offset}: {message}")]
    Malformed {
        /// Where the block starts.
        offset: u64,
        /// What the decoder said.
        message: String,
    },
    /// The blocks are not in the documented order.
    #[error("bad recording at byte {offset}: {message}")]
    OutOfOrder {
        /// Where the offending block starts.
        offset: u64,
        /// What is wrong.
        message: &'static str,
    },
    /// Reading failed.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
}

/// The bytes a recording starts with.
pub fn preamble() -> [u8; PREAMBLE_BYTES] {
    let mut out = [0u8; PREAMBLE_BYTES];
    out[..8].copy_from_slice(&RECORD_MAGIC);
    out[8..].copy_from_slice(&RECORD_FORMAT_VERSION.to_le_bytes());
    out
}

/// Appends `block`, framed (length, CRC, payload), to `out`.
pub fn append_block(block: &Block, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; BLOCK_HEAD_BYTES]);
    codec::encode_record_block_into(block, out);
    let payload = &out[start + BLOCK_HEAD_BYTES..];
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Reads a recording block by block, checking its framing.
#[derive(Debug)]
pub struct RecordReader<R> {
    inner: R,
    offset: u64,
    blocks: u64,
    buf: Vec<u8>,
    last_tick: Option<u32>,
    ended: bool,
}

impl<R: Read> RecordReader<R> {
    /// Checks the preamble and returns a reader positioned at the first block.
    pub fn new(mut inner: R) -> Result<Self, RecordError> {
        let mut pre = [0u8; PREAMBLE_BYTES];
        let got = read_full(&mut inner, &mut pre)?;
        if got < RECORD_MAGIC.len() || pre[..8] != RECORD_MAGIC {
            if got < RECORD_MAGIC.len() && RECORD_MAGIC.starts_with(&pre[..got]) {
                return Err(RecordError::Truncated {
                    offset: 0,
                    needed: PREAMBLE_BYTES as u64,
                    available: got as u64,
                });
            }
            return Err(RecordError::BadMagic);
        }
        if got < PREAMBLE_BYTES {
            return Err(RecordError::Truncated {
                offset: 0,
                needed: PREAMBLE_BYTES as u64,
                available: got as u64,
            });
        }
        let found = u16::from_le_bytes([pre[8], pre[9]]);
        if !(OLDEST_READ_FORMAT..=RECORD_FORMAT_VERSION).contains(&found) {
            return Err(RecordError::UnsupportedFormat {
                found,
                supported: RECORD_FORMAT_VERSION,
            });
        }
        Ok(RecordReader {
            inner,
            offset: PREAMBLE_BYTES as u64,
            blocks: 0,
            buf: Vec::new(),
            last_tick: None,
            ended: false,
        })
    }

    /// Byte offset of the next block.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the [`Block::End`] was read.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The next block, `None` at the end of the file. Checks the order the
    /// module docs give (header first, ticks increasing, nothing after End).
    pub fn next_block(&mut self) -> Result<Option<Block>, RecordError> {
        let start = self.offset;
        let mut head = [0u8; BLOCK_HEAD_BYTES];
        let got = read_full(&mut self.inner, &mut head)?;
        if got == 0 {
            if self.blocks == 0 {
                return Err(RecordError::Truncated {
                    offset: start,
                    needed: BLOCK_HEAD_BYTES as u64,
                    available: 0,
                });
            }
            return Ok(None);
        }
        if got < BLOCK_HEAD_BYTES {
            return Err(RecordError::Truncated {
                offset: start,
                needed: BLOCK_HEAD_BYTES as u64,
                available: got as u64,
            });
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len > MAX_RECORD_BLOCK_BYTES {
            return Err(RecordError::BlockTooLarge {
                offset: start,
                len: len as u64,
            });
        }
        self.buf.clear();
        self.buf.resize(len, 0);
        let got = read_full(&mut self.inner, &mut self.buf)?;
        if got < len {
            return Err(RecordError::Truncated {
                offset: start,
                needed: (BLOCK_HEAD_BYTES + len) as u64,
                available: (BLOCK_HEAD_BYTES + got) as u64,
            });
        }
        if crc32fast::hash(&self.buf) != crc {
            return Err(RecordError::BadCrc { offset: start });
        }
        let block =
            codec::decode_record_block::<Block>(&self.buf).map_err(|e| RecordError::Malformed {
                offset: start,
                message: e.to_string(),
            })?;
        let misplaced = |message| {
            Err(RecordError::OutOfOrder {
                offset: start,
                message,
            })
        };
        if self.ended {
            return misplaced("a block after the End block");
        }
        match (&block, self.blocks) {
            (Block::Header(_), 0) => {}
            (Block::Header(_), _) => return misplaced("a second header"),
            (_, 0) => return misplaced("the first block is not the header"),
            (Block::Continues(c), 1) => self.last_tick = Some(c.step),
            (Block::Continues(_), _) => {
                return misplaced("a continuation that is not the second block");
            }
            (Block::Tick(t), _) => {
                if self.last_tick.is_some_and(|last| t.tick <= last) {
                    return misplaced("ticks out of order");
                }
                self.last_tick = Some(t.tick);
            }
            (Block::Keyframe(_), _) => {
                if self.last_tick.is_none() {
                    return misplaced("a keyframe before any tick");
                }
            }
            (Block::End(_), _) => self.ended = true,
        }
        self.blocks += 1;
        self.offset += (BLOCK_HEAD_BYTES + len) as u64;
        Ok(Some(block))
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> RecordHeader {
        RecordHeader {
            protocol_version: crate::PROTOCOL_VERSION,
            game: "arena".into(),
            game_version: 1,
            schema_hash: 0x0123_4567_89ab_cdef,
            config: r#"{"width":1600.0}"#.into(),
            seed: 7,
            step_rate_hz: 20,
            server_version: "0.1.0".into(),
            room: "lobby".into(),
            node: "n1".into(),
            started_unix_ms: 1_764_633_600_000,
            capacity: 50,
            keyframe_every: 2,
            steps_per_frame: 1,
        }
    }

    fn sample() -> Vec<Block> {
        let tick = |tick, events, inputs| {
            Block::Tick(TickRecord {
                tick,
                events,
                inputs,
                checksum: Some(Checksum(tick * 31)),
            })
        };
        vec![
            Block::Header(header()),
            tick(
                1,
                vec![RoomEvent::Joined {
                    player: 1,
                    name: "ada".into(),
                }],
                vec![],
            ),
            tick(
                2,
                vec![],
                vec![AppliedInput {
                    player: 1,
                    seq_advance: 2,
                    data: vec![127, 0x81],
                }],
            ),
            Block::Keyframe(vec![2, 0, 0, 1, 1]),
            tick(3, vec![RoomEvent::Left { player: 1 }], vec![]),
            Block::End(EndRecord {
                last_tick: 3,
                reason: EndReason::RoomClosed,
            }),
        ]
    }

    fn file(blocks: &[Block]) -> Vec<u8> {
        let mut out = preamble().to_vec();
        for b in blocks {
            append_block(b, &mut out);
        }
        out
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Block>, RecordError> {
        let mut r = RecordReader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(b) = r.next_block()? {
            out.push(b);
        }
        Ok(out)
    }

    #[test]
    fn blocks_round_trip_in_order() {
        let blocks = sample();
        let bytes = file(&blocks);
        assert_eq!(&bytes[..8], b"TICKREC\n");
        assert_eq!(read_all(&bytes).unwrap(), blocks);
    }

    #[test]
    fn every_truncation_is_a_clear_error_or_a_block_boundary() {
        let blocks = sample();
        let bytes = file(&blocks);
        let mut boundaries = vec![PREAMBLE_BYTES];
        let mut r = RecordReader::new(&bytes[..]).unwrap();
        while r.next_block().unwrap().is_some() {
            boundaries.push(r.offset() as usize);
        }
        for cut in 0..bytes.len() {
            match read_all(&bytes[..cut]) {
                Ok(got) => {
                    assert!(boundaries[1..].contains(&cut), "cut {cut} read as whole");
                    assert!(got.len() < blocks.len());
                }
                Err(RecordError::Truncated { .. }) => {
                    assert!(!boundaries[1..].contains(&cut), "cut {cut}");
                }
                Err(e) => panic!("cut {cut}: {e}"),
            }
        }
    }

    #[test]
    fn a_flipped_bit_is_caught_by_the_crc() {
        let bytes = file(&sample());
        let mut seen_crc = 0;
        for i in PREAMBLE_BYTES..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            match read_all(&bad) {
                Err(RecordError::BadCrc { .. }) => seen_crc += 1,
                Err(
                    RecordError::BlockTooLarge { .. }
                    | RecordError::Truncated { .. }
                    | RecordError::OutOfOrder { .. },
                ) => {}
                other => panic!("byte {i}: {other:?}"),
            }
        }
        assert!(seen_crc > 0);
    }

    #[test]
    fn bad_magic_and_other_formats_are_refused() {
        assert!(matches!(
            read_all(b"GIF89a.........."),
            Err(RecordError::BadMagic)
        ));
        let mut other = file(&sample());
        other[8] = 9;
        let err = read_all(&other).unwrap_err();
        assert!(matches!(
            err,
            RecordError::UnsupportedFormat {
                found: 9,
                supported: RECORD_FORMAT_VERSION
            }
        ));
        assert!(err.to_string().contains("format 9"), "{err}");
    }

    #[test]
    fn misordered_blocks_are_refused() {
        let s = sample();
        let no_header = file(&s[1..]);
        assert!(matches!(
            read_all(&no_header),
            Err(RecordError::OutOfOrder { .. })
        ));
        let swapped = file(&[s[0].clone(), s[2].clone(), s[1].clone()]);
        assert!(matches!(
            read_all(&swapped),
            Err(RecordError::OutOfOrder { .. })
        ));
        let after_end = file(&[s[0].clone(), s[5].clone(), s[4].clone()]);
        assert!(matches!(
            read_all(&after_end),
            Err(RecordError::OutOfOrder { .. })
        ));
    }

    fn continued() -> Vec<Block> {
        vec![
            Block::Header(header()),
            Block::Continues(Continuation {
                cause: ContinueCause::HandOff,
                from: Some(PreviousRecording {
                    node: "n1".into(),
                    file: "lobby@1-1.tickrec".into(),
                }),
                step: 40,
                pending: vec![RoomEvent::Joined {
                    player: 2,
                    name: "bo".into(),
                }],
                state: vec![1, 2, 3],
            }),
            Block::Tick(TickRecord {
                tick: 41,
                events: vec![RoomEvent::Disconnected { player: 1 }],
                inputs: vec![],
                checksum: Some(Checksum(9)),
            }),
            Block::End(EndRecord {
                last_tick: 41,
                reason: EndReason::HandedOff,
            }),
        ]
    }

    #[test]
    fn a_continued_recording_round_trips() {
        let blocks = continued();
        assert_eq!(read_all(&file(&blocks)).unwrap(), blocks);
    }

    #[test]
    fn a_continuation_comes_second_and_ticks_follow_its_step() {
        let c = continued();
        let late = file(&[c[0].clone(), c[2].clone(), c[1].clone()]);
        let err = read_all(&late).unwrap_err();
        assert!(err.to_string().contains("continuation"), "{err}");
        let mut early_tick = c.clone();
        if let Block::Tick(t) = &mut early_tick[2] {
            t.tick = 40;
        }
        assert!(matches!(
            read_all(&file(&early_tick)),
            Err(RecordError::OutOfOrder {
                message: "ticks out of order",
                ..
            })
        ));
    }

    #[test]
    fn format_2_files_still_read() {
        let blocks = sample();
        let mut bytes = file(&blocks);
        bytes[8..10].copy_from_slice(&2u16.to_le_bytes());
        assert_eq!(read_all(&bytes).unwrap(), blocks);
        bytes[8..10].copy_from_slice(&1u16.to_le_bytes());
        let err = read_all(&bytes).unwrap_err();
        assert!(err.to_string().contains("formats 2 to 3"), "{err}");
    }

    #[test]
    fn a_huge_length_claim_allocates_nothing() {
        let mut bytes = preamble().to_vec();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        assert!(matches!(
            read_all(&bytes),
            Err(RecordError::BlockTooLarge { .. })
        ));
    }
}
