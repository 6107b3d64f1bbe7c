//! Fuzzing the protocol's decoders and the client replica, as long-running
//! property tests.
//!
//! Why: the server decodes every byte a client sends ([`decode_client`]) and a
//! client decodes, then applies, every byte a server sends ([`decode_server`],
//! [`Replica::apply_delta`]). None of them may panic, allocate more than the
//! message limit allows, or accept something they cannot faithfully re-encode,
//! whatever the bytes. `cargo fuzz` needs a nightly toolchain this project does
//! not use, so the same search runs here as proptest properties on stable:
//!
//! - arbitrary byte vectors (0..=2048 bytes, biased to short ones and to the
//!   bytes that matter in this format: small variant indices, varint markers);
//! - structured mutations of valid encodings: bit flips, truncation, extension,
//!   a varint (a length prefix, often) overwritten with a huge value, a chunk
//!   duplicated, bytes inserted or deleted;
//! - random and mutated [`Delta`]s applied to a replica holding a valid frame,
//!   checked against a naive model of the documented application rules.
//!
//! Every decode runs under a counting allocator (this test binary's global
//! allocator, per thread): no single allocation and no peak of live bytes
//! during one decode may exceed the direction's message limit (plus a little
//! for the error's text).
//!
//! The case count per property comes from `FUZZ_CASES` (default 4,000, which
//! keeps the file at a few seconds in debug). A long run, in release:
//!
//! ```text
//! FUZZ_CASES=1000000 cargo test --release -p tickroom-protocol --test fuzz -- --nocapture
//! ```
//!
//! Each property prints how many inputs it ran and how long it took
//! (`--nocapture` shows it); `docs/hardening.md` records the last long run.
//! A failure prints the shrunk input; turn it into a named regression test.

use std::collections::BTreeMap;
use std::time::Instant;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tickroom_protocol::replica::{ApplyError, Frame, Replica, checksum, diff};
use tickroom_protocol::*;

// ---------------------------------------------------------------------------
// A counting allocator: the largest single allocation and the peak of live
// bytes on this thread while a closure runs.

#[allow(unsafe_code)] // a GlobalAlloc is unsafe to implement; it only forwards to System
mod probe {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Forwards to [`System`], counting on the calling thread.
    pub struct Probe;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
        static LARGEST: Cell<usize> = const { Cell::new(0) };
    }

    fn note_alloc(size: usize) {
        let _ = LIVE.try_with(|live| {
            let now = live.get() + size as isize;
            live.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
        });
        let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
    }

    fn note_free(size: usize) {
        let _ = LIVE.try_with(|live| live.set(live.get() - size as isize));
    }

    // SAFETY: every method forwards its arguments unchanged to `System`.
    unsafe impl GlobalAlloc for Probe {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note_alloc(layout.size());
            // SAFETY: the caller's contract is System's.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            note_alloc(layout.size());
            // SAFETY: as above.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            note_free(layout.size());
            // SAFETY: as above.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // Counted as a new block while the old one is still live.
            note_alloc(new_size);
            note_free(layout.size());
            // SAFETY: as above.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    /// Memory `f` asked for on this thread: (largest single allocation, peak
    /// of live bytes above what was live before).
    pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
        let start = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(start));
        LARGEST.with(|l| l.set(0));
        let r = f();
        let peak = PEAK.with(Cell::get) - start;
        (r, LARGEST.with(Cell::get), peak.max(0) as usize)
    }
}

#[global_allocator]
static GLOBAL: probe::Probe = probe::Probe;

/// Room over the message limit for the error's text (`Error::Malformed`
/// holds bincode's message, formatted into a growing `String`).
const ERROR_TEXT_SLACK: usize = 512;

/// What items a container has already decoded may hold beyond the limit.
///
/// bincode claims a container's whole `len * size_of::<T>()` against the
/// limit up front, then releases it item by item as each item decodes
/// (`Decoder::unclaim_bytes_read`), so the items already decoded (and the
/// lists decoded before) hold memory the limit no longer counts: a
/// 741-byte snapshot whose roster ends in a string claiming 64,383 bytes
/// peaked 1,666 bytes over the limit, in the player list and roster entries
/// already decoded. Each such item took at least its smallest encoding from
/// the input, so they hold at most `input bytes * (in-memory size / smallest
/// encoding)`, at the widest ratio among the server messages' list items.
fn decoded_items_bound(input_len: usize) -> usize {
    // (in-memory size, smallest encoding: one byte per varint, per u8/i8)
    let items = [
        (size_of::<PlayerState>(), 7),
        (size_of::<Pellet>(), 3),
        (size_of::<PlayerInfo>(), 2),
        (size_of::<NewPlayer>(), 8),
        (size_of::<VelocityFix>(), 3),
        (size_of::<ScoreFix>(), 2),
        (size_of::<u32>(), 1),
        (size_of::<u16>(), 1),
        (size_of::<[i8; 2]>(), 2),
    ];
    let widest = items
        .iter()
        .map(|&(size, smallest)| size.div_ceil(smallest))
        .max()
        .unwrap_or(0);
    input_len * widest
}

// ---------------------------------------------------------------------------
// Running a property with a case count from FUZZ_CASES, reporting it.

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(4_000)
}

fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let n = cases();
    let config = Config {
        cases: n,
        // Shrinking a failure of a million-case run can take a while; keep it bounded.
        max_shrink_iters: 20_000,
        failure_persistence: None,
        ..Config::default()
    };
    let started = Instant::now();
    let result = TestRunner::new(config).run(&strategy, test);
    let took = started.elapsed();
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    eprintln!(
        "fuzz {name}: {n} inputs in {:.1} s ({:.0}/s)",
        took.as_secs_f64(),
        f64::from(n) / took.as_secs_f64().max(1e-9)
    );
}

// ---------------------------------------------------------------------------
// Strategies for valid messages (wider than the codec's unit tests: any
// unicode, any float bits, unsorted lists, big varints).

fn arb_u32() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..300, 60_000u32..70_000, any::<u32>()]
}

fn arb_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(&format!("[a-z0-9]{{0,{max}}}")).expect("regex"),
        prop::collection::vec(any::<char>(), 0..=max / 4).prop_map(|c| c.into_iter().collect()),
    ]
}

fn arb_client() -> impl Strategy<Value = ClientMsg> {
    prop_oneof![
        (
            any::<u16>(),
            arb_text(MAX_NAME_BYTES),
            arb_text(MAX_TOKEN_BYTES)
        )
            .prop_map(|(version, name, resume)| ClientMsg::Join(Join {
                version,
                name,
                resume
            })),
        (arb_u32(), arb_u32(), any::<[i8; 2]>()).prop_map(|(seq, ack_tick, steer)| {
            ClientMsg::Input(Input {
                seq,
                ack_tick,
                steer,
            })
        }),
        arb_u32().prop_map(|nonce| ClientMsg::Ping(Ping { nonce })),
        Just(ClientMsg::Leave),
    ]
}

fn arb_player() -> impl Strategy<Value = PlayerState> {
    (
        arb_u32(),
        any::<[u16; 2]>(),
        any::<[i16; 2]>(),
        arb_u32(),
        arb_u32(),
    )
        .prop_map(|(id, pos, vel, score, last_input_seq)| PlayerState {
            id,
            pos,
            vel,
            score,
            last_input_seq,
        })
}

fn arb_pellet() -> impl Strategy<Value = Pellet> {
    (any::<u16>(), any::<[u16; 2]>()).prop_map(|(id, pos)| Pellet { id, pos })
}

fn arb_delta_msg() -> impl Strategy<Value = Delta> {
    (
        (arb_u32(), any::<u8>(), any::<u32>()),
        prop::collection::vec(arb_u32(), 0..8),
        prop::collection::vec(any::<[i8; 2]>(), 0..40),
        prop::collection::vec(any::<u8>(), 0..40),
        prop::collection::vec(
            (arb_u32(), any::<[i16; 2]>()).prop_map(|(id, vel)| VelocityFix { id, vel }),
            0..8,
        ),
        prop::collection::vec(
            (arb_u32(), arb_u32()).prop_map(|(id, score)| ScoreFix { id, score }),
            0..8,
        ),
        prop::collection::vec(arb_player(), 0..6),
        prop::collection::vec(
            (arb_player(), arb_text(MAX_NAME_BYTES))
                .prop_map(|(state, name)| NewPlayer { state, name }),
            0..4,
        ),
        prop::collection::vec(any::<u16>(), 0..8),
        prop::collection::vec(arb_pellet(), 0..8),
    )
        .prop_map(
            |(
                (tick, base_age, sum),
                removed,
                moves,
                acks,
                velocities,
                scores,
                changed,
                added,
                pellets_removed,
                pellets_added,
            )| Delta {
                tick,
                base_age,
                checksum: Checksum(sum),
                removed,
                moves,
                acks,
                velocities,
                scores,
                changed,
                added,
                pellets_removed,
                pellets_added,
            },
        )
}

fn arb_f32() -> impl Strategy<Value = f32> {
    prop_oneof![0.0f32..5000.0, any::<u32>().prop_map(f32::from_bits)]
}

fn arb_server() -> impl Strategy<Value = ServerMsg> {
    let snapshot = (
        arb_u32(),
        prop::collection::vec(arb_player(), 0..40),
        prop::collection::vec(arb_pellet(), 0..60),
        prop::collection::vec(
            (arb_u32(), arb_text(MAX_NAME_BYTES)).prop_map(|(id, name)| PlayerInfo { id, name }),
            0..40,
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
        (
            any::<u16>(),
            arb_u32(),
            arb_text(32),
            any::<u16>(),
            arb_u32(),
        ),
        prop::array::uniform7(arb_f32()),
        arb_text(MAX_TOKEN_BYTES),
        any::<bool>(),
    )
        .prop_map(
            |((version, player_id, room, tick_rate_hz, tick), f, resume_token, resumed)| {
                ServerMsg::Welcome(Welcome {
                    version,
                    player_id,
                    room,
                    tick_rate_hz,
                    sim_rate_hz: tick_rate_hz,
                    tick,
                    arena: Arena {
                        width: f[0],
                        height: f[1],
                        player_radius: f[2],
                        pellet_radius: f[3],
                        accel: f[4],
                        max_speed: f[5],
                        friction: f[6],
                    },
                    resume_token,
                    resumed,
                })
            },
        );
    prop_oneof![
        3 => snapshot,
        3 => arb_delta_msg().prop_map(ServerMsg::Delta),
        1 => welcome,
        1 => (arb_u32(), arb_u32()).prop_map(|(nonce, tick)| ServerMsg::Pong(Pong { nonce, tick })),
        1 => (any::<u16>(), arb_text(64))
            .prop_map(|(code, message)| ServerMsg::Error(ErrorMsg { code, message })),
    ]
}

// ---------------------------------------------------------------------------
// Byte-level inputs and mutations.

/// Bytes that matter in this format over-represented: small variant indices
/// and lengths, 0/1 (bools, options), varint markers 251..=255.
fn arb_byte() -> impl Strategy<Value = u8> {
    prop_oneof![4 => any::<u8>(), 2 => 0u8..6, 1 => 250u8..=255]
}

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(arb_byte(), 0..16),
        3 => prop::collection::vec(arb_byte(), 0..128),
        1 => prop::collection::vec(arb_byte(), 0..=2048),
    ]
}

/// Values a length prefix could claim that a decoder must survive.
fn arb_huge() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(1u64 << 60),
        Just(u64::MAX),
        Just(u64::from(u32::MAX)),
        Just(1u64 << 32),
        Just(MAX_SERVER_MESSAGE_BYTES as u64 + 1),
        Just(MAX_CLIENT_MESSAGE_BYTES as u64 + 1),
        // Just under the limits: allowed by the claim check, then out of input.
        (MAX_CLIENT_MESSAGE_BYTES as u64 / 44)..=(MAX_CLIENT_MESSAGE_BYTES as u64),
        (MAX_SERVER_MESSAGE_BYTES as u64 / 44)..=(MAX_SERVER_MESSAGE_BYTES as u64),
        any::<u64>(),
    ]
}

/// bincode's varint for `v` (values below 251 in one byte, else a marker
/// and a little-endian u16/u32/u64).
fn varint(v: u64) -> Vec<u8> {
    match v {
        0..=250 => vec![v as u8],
        251..=0xFFFF => [&[251u8][..], &(v as u16).to_le_bytes()].concat(),
        0x1_0000..=0xFFFF_FFFF => [&[252u8][..], &(v as u32).to_le_bytes()].concat(),
        _ => [&[253u8][..], &v.to_le_bytes()].concat(),
    }
}

/// Length of the varint starting with `b` (1 for a plain byte or a bad marker).
fn varint_len(b: u8) -> usize {
    match b {
        251 => 3,
        252 => 5,
        253 => 9,
        254 => 17,
        _ => 1,
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    Overwrite(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Truncate(Index),
    Extend(Vec<u8>),
    /// The varint at this position (often a length prefix) claims `u64`.
    HugeVarint(Index, u64),
    /// A marker byte (251..=255) written over a position.
    Marker(Index, u8),
    /// A chunk (start, length) copied right after itself.
    Duplicate(Index, Index),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        1 => (any::<Index>(), arb_byte()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        1 => (any::<Index>(), arb_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<Index>().prop_map(Mutation::Delete),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        1 => prop::collection::vec(arb_byte(), 1..32).prop_map(Mutation::Extend),
        3 => (any::<Index>(), arb_huge()).prop_map(|(i, v)| Mutation::HugeVarint(i, v)),
        1 => (any::<Index>(), 251u8..=255).prop_map(|(i, b)| Mutation::Marker(i, b)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        if let Mutation::Extend(more) = m {
            bytes.extend_from_slice(more);
        }
        return;
    }
    let len = bytes.len();
    match m {
        Mutation::FlipBit(i, bit) => bytes[i.index(len)] ^= 1 << bit,
        Mutation::Overwrite(i, b) | Mutation::Marker(i, b) => bytes[i.index(len)] = *b,
        Mutation::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
        Mutation::Delete(i) => {
            bytes.remove(i.index(len));
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(len)),
        Mutation::Extend(more) => bytes.extend_from_slice(more),
        Mutation::HugeVarint(i, v) => {
            let at = i.index(len);
            let end = (at + varint_len(bytes[at])).min(len);
            bytes.splice(at..end, varint(*v));
        }
        Mutation::Duplicate(i, n) => {
            let at = i.index(len);
            let n = 1 + n.index(len - at);
            let chunk = bytes[at..at + n].to_vec();
            bytes.splice(at + n..at + n, chunk);
        }
    }
}

// ---------------------------------------------------------------------------
// What must hold for any bytes.

fn check_client(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (res, largest, peak) = probe::measure(|| decode_client(bytes));
    let bound = MAX_CLIENT_MESSAGE_BYTES + ERROR_TEXT_SLACK;
    prop_assert!(
        largest <= bound && peak <= bound,
        "decode_client of {} bytes allocated {largest} at once, {peak} at peak ({res:?})",
        bytes.len()
    );
    if bytes.len() > MAX_CLIENT_MESSAGE_BYTES {
        prop_assert!(matches!(res, Err(Error::TooLarge { .. })), "{res:?}");
    }
    if let Ok(msg) = res {
        let again = encode_client(&msg);
        prop_assert!(
            again.len() <= bytes.len(),
            "canonical form is longer than the input"
        );
        prop_assert_eq!(decode_client(&again), Ok(msg));
    }
    Ok(())
}

fn check_server(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (res, largest, peak) = probe::measure(|| decode_server(bytes));
    let bound = MAX_SERVER_MESSAGE_BYTES + ERROR_TEXT_SLACK;
    prop_assert!(
        largest <= bound && peak <= bound + decoded_items_bound(bytes.len()),
        "decode_server of {} bytes allocated {largest} at once, {peak} at peak",
        bytes.len()
    );
    if bytes.len() > MAX_SERVER_MESSAGE_BYTES {
        prop_assert!(matches!(res, Err(Error::TooLarge { .. })), "{res:?}");
    }
    if let Ok(msg) = res {
        let again = encode_server(&msg);
        prop_assert!(
            again.len() <= bytes.len(),
            "canonical form is longer than the input"
        );
        // Floats may be NaN (not equal to themselves): compare the canonical
        // bytes and the Debug text, which prints every field.
        let back = decode_server(&again);
        prop_assert!(back.is_ok(), "the canonical form does not decode: {back:?}");
        let back = back.unwrap_or_else(|_| unreachable!());
        prop_assert_eq!(encode_server(&back), again);
        prop_assert_eq!(format!("{back:?}"), format!("{msg:?}"));
    }
    Ok(())
}

#[test]
fn arbitrary_bytes_never_panic_nor_overallocate() {
    fuzz("arbitrary bytes", arb_bytes(), |bytes| {
        check_client(&bytes)?;
        check_server(&bytes)
    });
}

#[test]
fn mutated_client_messages_never_panic_nor_overallocate() {
    fuzz(
        "mutated client messages",
        (arb_client(), prop::collection::vec(arb_mutation(), 1..5)),
        |(msg, mutations)| {
            let mut bytes = encode_client(&msg);
            for m in &mutations {
                mutate(&mut bytes, m);
            }
            check_client(&bytes)?;
            check_server(&bytes)
        },
    );
}

#[test]
fn mutated_server_messages_never_panic_nor_overallocate() {
    fuzz(
        "mutated server messages",
        (arb_server(), prop::collection::vec(arb_mutation(), 1..5)),
        |(msg, mutations)| {
            let mut bytes = encode_server(&msg);
            for m in &mutations {
                mutate(&mut bytes, m);
            }
            check_server(&bytes)?;
            check_client(&bytes)
        },
    );
}

#[test]
fn valid_messages_that_fit_the_limit_decode_to_themselves() {
    fuzz(
        "valid messages",
        (arb_client(), arb_server()),
        |(client, server)| {
            let bytes = encode_client(&client);
            let rules_ok = match &client {
                ClientMsg::Join(j) => {
                    j.name.len() <= MAX_NAME_BYTES && j.resume.len() <= MAX_TOKEN_BYTES
                }
                _ => true,
            };
            if rules_ok {
                prop_assert_eq!(decode_client(&bytes), Ok(client));
            } else {
                prop_assert!(decode_client(&bytes).is_err());
            }
            let bytes = encode_server(&server);
            prop_assert!(bytes.len() <= MAX_SERVER_MESSAGE_BYTES);
            let back = decode_server(&bytes);
            prop_assert!(back.is_ok(), "{back:?}");
            prop_assert_eq!(
                format!("{:?}", back.unwrap_or_else(|_| unreachable!())),
                format!("{server:?}")
            );
            Ok(())
        },
    );
}

/// Every container length of these messages (they are written with empty
/// containers and no other zero byte, so each 0 byte is one) replaced by a
/// huge claim: refused by the limit, without allocating for it.
#[test]
fn huge_length_prefixes_are_refused_without_allocating() {
    let delta = ServerMsg::Delta(Delta {
        tick: 7,
        base_age: 1,
        checksum: Checksum(0x0101_0101),
        removed: vec![],
        moves: vec![],
        acks: vec![],
        velocities: vec![],
        scores: vec![],
        changed: vec![],
        added: vec![],
        pellets_removed: vec![],
        pellets_added: vec![],
    });
    let snapshot = ServerMsg::Snapshot(Snapshot {
        tick: 7,
        players: vec![],
        pellets: vec![],
        roster: vec![],
    });
    let error = ServerMsg::Error(ErrorMsg {
        code: 9,
        message: String::new(),
    });
    let join = ClientMsg::Join(Join {
        version: PROTOCOL_VERSION,
        name: String::new(),
        resume: String::new(),
    });
    let server: Vec<Vec<u8>> = [delta, snapshot, error].iter().map(encode_server).collect();
    let client = [encode_client(&join)];
    let huge = [
        1u64 << 60,
        u64::MAX,
        1 << 32,
        u64::from(u32::MAX),
        MAX_SERVER_MESSAGE_BYTES as u64 + 1,
    ];
    let mut tried = 0;
    for (bytes, is_server) in server
        .iter()
        .map(|b| (b, true))
        .chain(client.iter().map(|b| (b, false)))
    {
        for at in (1..bytes.len()).filter(|&i| bytes[i] == 0) {
            for &v in &huge {
                let mut evil = bytes.clone();
                evil.splice(at..=at, varint(v));
                let (res, largest, _) = probe::measure(|| {
                    if is_server {
                        decode_server(&evil).map(|_| ())
                    } else {
                        decode_client(&evil).map(|_| ())
                    }
                });
                assert!(
                    matches!(&res, Err(Error::Malformed(m)) if m.contains("LimitExceeded")),
                    "{evil:?}: {res:?}"
                );
                assert!(largest <= ERROR_TEXT_SLACK, "{evil:?}: allocated {largest}");
                tried += 1;
            }
        }
    }
    assert_eq!(tried, (9 + 3 + 1 + 2) * huge.len(), "every length found");
}

/// The shape CI's fuzzing found: a snapshot with players and roster entries
/// decoded, then a last name claiming nearly the whole limit. The claim fits
/// (the roster's claim was released entry by entry), so the name's buffer is
/// allocated before the short input runs out: no single allocation over the
/// limit, and the peak over it no more than what the decoded items hold.
#[test]
fn a_late_claim_after_decoded_items_stays_within_the_items_bound() {
    let players: Vec<PlayerState> = (0..100)
        .map(|id| PlayerState {
            id,
            pos: [251, 251],
            vel: [126, 126],
            score: 0,
            last_input_seq: 0,
        })
        .collect();
    let roster: Vec<PlayerInfo> = (0..200)
        .map(|id| PlayerInfo {
            id,
            name: "ab".into(),
        })
        .collect();
    let mut bytes = encode_server(&ServerMsg::Snapshot(Snapshot {
        tick: 0,
        players,
        pellets: vec![],
        roster,
    }));
    // The last name ("ab", length byte 2) is the message's last 3 bytes:
    // make it claim the most the limit lets through.
    let at = bytes.len() - 3;
    assert_eq!(&bytes[at..], &[2, b'a', b'b']);
    bytes.truncate(at);
    let with_claim = |claim: usize| [&bytes[..], &varint(claim as u64), b"ab"].concat();
    let refused = |claim: usize| {
        matches!(decode_server(&with_claim(claim)),
            Err(Error::Malformed(m)) if m.contains("LimitExceeded"))
    };
    let (mut lo, mut hi) = (2, MAX_SERVER_MESSAGE_BYTES);
    assert!(!refused(lo) && refused(hi), "the limit is not where it was");
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if refused(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let (claim, bytes) = (lo, with_claim(lo));
    let (res, largest, peak) = probe::measure(|| decode_server(&bytes));
    assert!(
        matches!(&res, Err(Error::Malformed(m)) if m.contains("UnexpectedEnd")),
        "{res:?}"
    );
    assert!(largest >= claim, "the claim was not allocated: {largest}");
    let bound = MAX_SERVER_MESSAGE_BYTES + ERROR_TEXT_SLACK;
    assert!(largest <= bound, "allocated {largest} at once");
    assert!(
        peak > bound,
        "the case no longer goes past the limit: {peak}"
    );
    assert!(
        peak <= bound + decoded_items_bound(bytes.len()),
        "{} bytes peaked at {peak}",
        bytes.len()
    );
}

// ---------------------------------------------------------------------------
// The replica: a valid frame, then arbitrary or mutated deltas.

/// Ids from a small range, so deltas' ids often hit the frame's.
const IDS: u32 = 48;

fn arb_state(id: u32) -> impl Strategy<Value = PlayerState> {
    let coord = prop_oneof![Just(0u16), Just(u16::MAX), any::<u16>(), 0u16..200];
    let seq = prop_oneof![any::<u32>(), (u32::MAX - 300)..=u32::MAX, 0u32..300];
    ([coord.clone(), coord], any::<[i16; 2]>(), any::<u32>(), seq).prop_map(
        move |(pos, vel, score, last_input_seq)| PlayerState {
            id,
            pos,
            vel,
            score,
            last_input_seq,
        },
    )
}

/// A valid frame: players, roster and pellets sorted by id and unique, the
/// roster naming exactly the players.
fn arb_frame() -> impl Strategy<Value = Frame> {
    (
        any::<u32>(),
        prop::collection::btree_set(0..IDS, 0..12),
        prop::collection::btree_map(0u16..IDS as u16, any::<[u16; 2]>(), 0..16),
    )
        .prop_flat_map(|(tick, ids, pellets)| {
            let players: Vec<_> = ids
                .into_iter()
                .map(|id| (arb_state(id), "[a-z]{0,6}"))
                .collect();
            (Just(tick), players, Just(pellets))
        })
        .prop_map(|(tick, players, pellets)| Frame {
            tick,
            roster: players
                .iter()
                .map(|(p, name)| PlayerInfo {
                    id: p.id,
                    name: name.clone(),
                })
                .collect(),
            players: players.into_iter().map(|(p, _)| p).collect(),
            pellets: pellets
                .into_iter()
                .map(|(id, pos)| Pellet { id, pos })
                .collect(),
        })
}

/// A random delta for `f`: random pieces, each made consistent with `f` with
/// some probability (the right base, a valid removal list, the right
/// number of moves, sorted additions, the right checksum...).
fn arb_delta_for(f: Frame) -> impl Strategy<Value = (Frame, Delta)> {
    let id = || 0..IDS;
    (
        (
            prop_oneof![3 => Just(1u8), 3 => any::<u8>(), 1 => Just(0u8)],
            prop::bool::weighted(0.85),
            any::<u32>(),
            any::<u32>(),
        ),
        (
            prop::collection::vec(id(), 0..4),
            prop::bool::weighted(0.7),
            prop::collection::vec(any::<[i8; 2]>(), 0..14),
            prop::collection::vec(any::<u8>(), 0..14),
            prop::bool::weighted(0.8),
        ),
        (
            prop::collection::vec(
                (id(), any::<[i16; 2]>()).prop_map(|(id, vel)| VelocityFix { id, vel }),
                0..3,
            ),
            prop::collection::vec(
                (id(), any::<u32>()).prop_map(|(id, score)| ScoreFix { id, score }),
                0..3,
            ),
            prop::collection::vec(id().prop_flat_map(arb_state), 0..3),
            prop::collection::vec(
                (id().prop_flat_map(arb_state), "[a-z]{0,4}")
                    .prop_map(|(state, name)| NewPlayer { state, name }),
                0..3,
            ),
            prop::bool::weighted(0.7),
        ),
        (
            prop::collection::vec(0u16..IDS as u16, 0..4),
            prop::collection::vec(
                (0u16..IDS as u16, any::<[u16; 2]>()).prop_map(|(id, pos)| Pellet { id, pos }),
                0..4,
            ),
        ),
    )
        .prop_map(
            move |(
                (base_age, right_tick, tick, sum),
                (mut removed, fix_removed, mut moves, mut acks, fix_shape),
                (mut velocities, mut scores, mut changed, mut added, fix_ids),
                (pellets_removed, pellets_added),
            )| {
                let present: Vec<u32> = f.players.iter().map(|p| p.id).collect();
                if fix_removed {
                    removed.retain(|id| present.contains(id));
                    removed.sort_unstable();
                    removed.dedup();
                }
                let remaining: Vec<u32> = present
                    .iter()
                    .copied()
                    .filter(|id| !removed.contains(id))
                    .collect();
                if fix_shape {
                    moves.resize(remaining.len(), [0, 0]);
                    acks.resize(remaining.len(), 0);
                }
                if fix_ids && !remaining.is_empty() {
                    let pick = |id: u32| remaining[id as usize % remaining.len()];
                    velocities.iter_mut().for_each(|v| v.id = pick(v.id));
                    scores.iter_mut().for_each(|s| s.id = pick(s.id));
                    changed.iter_mut().for_each(|c| c.id = pick(c.id));
                }
                if fix_ids {
                    added.retain(|a| !remaining.contains(&a.state.id));
                    added.sort_by_key(|a| a.state.id);
                    added.dedup_by_key(|a| a.state.id);
                }
                let tick = if right_tick {
                    f.tick.wrapping_add(u32::from(base_age))
                } else {
                    tick
                };
                let d = Delta {
                    tick,
                    base_age,
                    checksum: Checksum(sum),
                    removed,
                    moves,
                    acks,
                    velocities,
                    scores,
                    changed,
                    added,
                    pellets_removed,
                    pellets_added,
                };
                (f.clone(), d)
            },
        )
}

/// A frame `b` reachable from `f` (players moved a little or a lot, joined,
/// left; pellets changed), up to 255 ticks later.
fn arb_next(f: Frame) -> impl Strategy<Value = (Frame, Frame)> {
    let n = f.players.len();
    (
        1u32..=255,
        prop::collection::vec(
            (
                prop::bool::weighted(0.15),
                [-140i32..140, -140i32..140],
                prop::bool::weighted(0.3),
                any::<[i16; 2]>(),
                prop::option::weighted(0.2, any::<u32>()),
                prop_oneof![0u32..300, any::<u32>()],
            ),
            n,
        ),
        prop::collection::btree_map(0..IDS, (arb_state(0), "[a-z]{0,4}"), 0..3),
        prop::option::weighted(
            0.4,
            prop::collection::btree_map(0u16..IDS as u16, any::<[u16; 2]>(), 0..16),
        ),
    )
        .prop_map(move |(age, changes, joins, pellets)| {
            let mut players = BTreeMap::new();
            let mut names = BTreeMap::new();
            for ((p, info), (leaves, step, new_vel, vel, score, ack)) in
                f.players.iter().zip(&f.roster).zip(changes)
            {
                if leaves {
                    continue;
                }
                let mv = |axis: usize| {
                    (i32::from(p.pos[axis]) + step[axis]).clamp(0, i32::from(u16::MAX)) as u16
                };
                let q = PlayerState {
                    id: p.id,
                    pos: [mv(0), mv(1)],
                    vel: if new_vel { vel } else { p.vel },
                    score: score.unwrap_or(p.score),
                    last_input_seq: p.last_input_seq.wrapping_add(ack),
                };
                players.insert(p.id, q);
                names.insert(p.id, info.name.clone());
            }
            for (id, (mut state, name)) in joins {
                // A player who left may come back under the same id.
                if players.contains_key(&id) {
                    continue;
                }
                state.id = id;
                players.insert(id, state);
                names.insert(id, name);
            }
            let b = Frame {
                tick: f.tick.wrapping_add(age),
                players: players.into_values().collect(),
                roster: names
                    .into_iter()
                    .map(|(id, name)| PlayerInfo { id, name })
                    .collect(),
                pellets: pellets.map_or_else(
                    || f.pellets.clone(),
                    |m| m.into_iter().map(|(id, pos)| Pellet { id, pos }).collect(),
                ),
            };
            (f.clone(), b)
        })
}

#[derive(Debug, Clone)]
enum DeltaMutation {
    BaseAge(u8),
    Tick(u32),
    Checksum(u32),
    PushRemoved(u32),
    DropRemoved(Index),
    SwapRemoved(Index, Index),
    PopMove,
    PushMove([i8; 2]),
    SetMove(Index, [i8; 2]),
    PopAck,
    PushAck(u8),
    SetAck(Index, u8),
    PushVelocity(u32, [i16; 2]),
    PushScore(u32, u32),
    PushChanged(PlayerState),
    PushAdded(PlayerState),
    DuplicateAdded(Index),
    SwapAdded(Index, Index),
    PushPelletRemoved(u16),
    PushPelletAdded(Pellet),
}

fn arb_delta_mutation() -> impl Strategy<Value = DeltaMutation> {
    use DeltaMutation as M;
    let id = || prop_oneof![3 => 0..IDS, 1 => any::<u32>()];
    prop_oneof![
        any::<u8>().prop_map(M::BaseAge),
        any::<u32>().prop_map(M::Tick),
        any::<u32>().prop_map(M::Checksum),
        id().prop_map(M::PushRemoved),
        any::<Index>().prop_map(M::DropRemoved),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| M::SwapRemoved(a, b)),
        Just(M::PopMove),
        any::<[i8; 2]>().prop_map(M::PushMove),
        (any::<Index>(), any::<[i8; 2]>()).prop_map(|(i, m)| M::SetMove(i, m)),
        Just(M::PopAck),
        any::<u8>().prop_map(M::PushAck),
        (any::<Index>(), any::<u8>()).prop_map(|(i, a)| M::SetAck(i, a)),
        (id(), any::<[i16; 2]>()).prop_map(|(id, v)| M::PushVelocity(id, v)),
        (id(), any::<u32>()).prop_map(|(id, s)| M::PushScore(id, s)),
        id().prop_flat_map(arb_state).prop_map(M::PushChanged),
        id().prop_flat_map(arb_state).prop_map(M::PushAdded),
        any::<Index>().prop_map(M::DuplicateAdded),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| M::SwapAdded(a, b)),
        (0u16..IDS as u16).prop_map(M::PushPelletRemoved),
        arb_pellet().prop_map(|mut p| {
            p.id %= IDS as u16;
            M::PushPelletAdded(p)
        }),
    ]
}

fn mutate_delta(d: &mut Delta, m: &DeltaMutation) {
    use DeltaMutation as M;
    fn swap<T>(v: &mut [T], a: &Index, b: &Index) {
        if !v.is_empty() {
            let (a, b) = (a.index(v.len()), b.index(v.len()));
            v.swap(a, b);
        }
    }
    match m {
        M::BaseAge(a) => d.base_age = *a,
        M::Tick(t) => d.tick = *t,
        M::Checksum(c) => d.checksum = Checksum(*c),
        M::PushRemoved(id) => d.removed.push(*id),
        M::DropRemoved(i) => {
            if !d.removed.is_empty() {
                d.removed.remove(i.index(d.removed.len()));
            }
        }
        M::SwapRemoved(a, b) => swap(&mut d.removed, a, b),
        M::PopMove => {
            d.moves.pop();
        }
        M::PushMove(mv) => d.moves.push(*mv),
        M::SetMove(i, mv) => {
            if !d.moves.is_empty() {
                let i = i.index(d.moves.len());
                d.moves[i] = *mv;
            }
        }
        M::PopAck => {
            d.acks.pop();
        }
        M::PushAck(a) => d.acks.push(*a),
        M::SetAck(i, a) => {
            if !d.acks.is_empty() {
                let i = i.index(d.acks.len());
                d.acks[i] = *a;
            }
        }
        M::PushVelocity(id, vel) => d.velocities.push(VelocityFix { id: *id, vel: *vel }),
        M::PushScore(id, score) => d.scores.push(ScoreFix {
            id: *id,
            score: *score,
        }),
        M::PushChanged(p) => d.changed.push(*p),
        M::PushAdded(p) => d.added.push(NewPlayer {
            state: *p,
            name: "x".into(),
        }),
        M::DuplicateAdded(i) => {
            if !d.added.is_empty() {
                let a = d.added[i.index(d.added.len())].clone();
                d.added.push(a);
            }
        }
        M::SwapAdded(a, b) => swap(&mut d.added, a, b),
        M::PushPelletRemoved(id) => d.pellets_removed.push(*id),
        M::PushPelletAdded(p) => d.pellets_added.push(*p),
    }
}

fn strictly_sorted<T: Ord>(v: impl IntoIterator<Item = T>) -> bool {
    let v: Vec<T> = v.into_iter().collect();
    v.windows(2).all(|w| w[0] < w[1])
}

/// The frame `d` makes of `f`, straight from the rules on [`Delta`]'s doc,
/// with maps instead of sorted vectors; `None` when `d` does not fit `f`.
fn model_apply(f: &Frame, d: &Delta, rate: u16) -> Option<Frame> {
    let age = u32::from(d.base_age);
    if age == 0 || d.tick.wrapping_sub(age) != f.tick {
        return None;
    }
    let mut players: BTreeMap<u32, PlayerState> = f.players.iter().map(|p| (p.id, *p)).collect();
    let mut names: BTreeMap<u32, String> =
        f.roster.iter().map(|r| (r.id, r.name.clone())).collect();
    if !strictly_sorted(&d.removed) {
        return None;
    }
    for id in &d.removed {
        players.remove(id)?;
        names.remove(id);
    }
    if d.moves.len() != players.len() || d.acks.len() != players.len() {
        return None;
    }
    let fixed = d.velocities.iter().map(|v| v.id);
    let fixed = fixed.chain(d.scores.iter().map(|s| s.id));
    if fixed
        .chain(d.changed.iter().map(|c| c.id))
        .any(|id| !players.contains_key(&id))
    {
        return None;
    }
    if !strictly_sorted(d.added.iter().map(|a| a.state.id))
        || d.added.iter().any(|a| players.contains_key(&a.state.id))
    {
        return None;
    }
    let rate = i64::from(rate.max(1));
    for ((p, mv), ack) in players.values_mut().zip(&d.moves).zip(&d.acks) {
        for (axis, &step) in mv.iter().enumerate() {
            let step = i64::from(step);
            p.pos[axis] = (i64::from(p.pos[axis]) + step).clamp(0, 65535) as u16;
            // trunc(move × rate / age), clamped to i16
            p.vel[axis] = (step * rate / i64::from(age)).clamp(-32768, 32767) as i16;
        }
        p.last_input_seq = p.last_input_seq.wrapping_add(u32::from(*ack));
    }
    for v in &d.velocities {
        players.get_mut(&v.id)?.vel = v.vel;
    }
    for s in &d.scores {
        players.get_mut(&s.id)?.score = s.score;
    }
    for c in &d.changed {
        players.insert(c.id, *c);
    }
    for a in &d.added {
        players.insert(a.state.id, a.state);
        names.insert(a.state.id, a.name.clone());
    }
    let mut pellets: BTreeMap<u16, Pellet> = f.pellets.iter().map(|p| (p.id, *p)).collect();
    for id in &d.pellets_removed {
        pellets.remove(id);
    }
    for p in &d.pellets_added {
        pellets.insert(p.id, *p);
    }
    Some(Frame {
        tick: d.tick,
        players: players.into_values().collect(),
        roster: names
            .into_iter()
            .map(|(id, name)| PlayerInfo { id, name })
            .collect(),
        pellets: pellets.into_values().collect(),
    })
}

/// The contract of [`Replica::apply_delta`], for a replica holding the valid
/// frame `f`:
/// - a delta that does not fit `f` is refused with a shape error and the
///   replica keeps `f`;
/// - one that fits produces the model's frame: accepted when it hashes to
///   the delta's checksum, else refused with `ChecksumMismatch` (carrying
///   both sums) and the replica holds nothing until the next full snapshot;
/// - an accepted frame is valid again (sorted, unique, roster = players).
fn check_apply(f: &Frame, d: &Delta, rate: u16) -> Result<(), TestCaseError> {
    let mut r = Replica::new(rate);
    r.apply_snapshot(f.to_snapshot());
    let expected = model_apply(f, d, rate);
    let got = r.apply_delta(d).cloned();
    match (&expected, got) {
        (None, Ok(frame)) => {
            return Err(TestCaseError::fail(format!(
                "accepted a delta that does not fit: {frame:?}"
            )));
        }
        (None, Err(e)) => {
            prop_assert!(
                !matches!(
                    e,
                    ApplyError::ChecksumMismatch { .. } | ApplyError::NoBase(_)
                ),
                "{e:?}"
            );
            prop_assert_eq!(r.frame(), Some(f), "a refused delta changed the replica");
        }
        (Some(want), Ok(frame)) => {
            prop_assert_eq!(&frame, want);
            prop_assert_eq!(checksum(&frame), d.checksum);
        }
        (Some(want), Err(e)) => {
            let sum = checksum(want);
            prop_assert_eq!(
                e,
                ApplyError::ChecksumMismatch {
                    tick: d.tick,
                    want: d.checksum.0,
                    got: sum.0,
                }
            );
            prop_assert!(sum != d.checksum);
            prop_assert_eq!(r.frame(), None);
            prop_assert_eq!(r.apply_delta(d), Err(ApplyError::NoBase(d.tick)));
            // The same delta with the right checksum applies, to a valid frame.
            let mut r = Replica::new(rate);
            r.apply_snapshot(f.to_snapshot());
            let fixed = Delta {
                checksum: sum,
                ..d.clone()
            };
            prop_assert_eq!(r.apply_delta(&fixed).cloned(), Ok(want.clone()));
        }
    }
    if let Some(want) = expected {
        prop_assert!(strictly_sorted(want.players.iter().map(|p| p.id)));
        prop_assert!(strictly_sorted(want.pellets.iter().map(|p| p.id)));
        prop_assert!(
            want.players
                .iter()
                .map(|p| p.id)
                .eq(want.roster.iter().map(|r| r.id))
        );
    }
    // Whatever the delta, the wire carries it faithfully.
    let msg = ServerMsg::Delta(d.clone());
    prop_assert_eq!(decode_server(&encode_server(&msg)), Ok(msg));
    Ok(())
}

fn arb_rate() -> impl Strategy<Value = u16> {
    prop_oneof![4 => Just(20u16), 1 => any::<u16>()]
}

#[test]
fn arbitrary_deltas_follow_the_replica_contract() {
    fuzz(
        "arbitrary deltas",
        (arb_frame().prop_flat_map(arb_delta_for), arb_rate()),
        |((f, d), rate)| check_apply(&f, &d, rate),
    );
}

#[test]
fn mutated_deltas_follow_the_replica_contract() {
    fuzz(
        "mutated deltas",
        (
            arb_frame().prop_flat_map(arb_next),
            arb_rate(),
            prop::collection::vec(arb_delta_mutation(), 0..4),
        ),
        |((a, b), rate, mutations)| {
            let mut d = diff(&a, &b, checksum(&b), rate).expect("1 to 255 ticks apart");
            if mutations.is_empty() {
                // Unmutated: the server's delta rebuilds its frame exactly.
                let mut r = Replica::new(rate);
                r.apply_snapshot(a.to_snapshot());
                prop_assert_eq!(r.apply_delta(&d), Ok(&b));
            }
            for m in &mutations {
                mutate_delta(&mut d, m);
            }
            check_apply(&a, &d, rate)
        },
    );
}

/// A replica fed a snapshot that breaks the rules (unsorted, duplicate ids,
/// a roster naming others: nothing checks a snapshot) must still not panic
/// on any delta.
#[test]
fn deltas_on_a_malformed_snapshot_never_panic() {
    let arb_bad_frame = (
        any::<u32>(),
        prop::collection::vec((0..8u32).prop_flat_map(arb_state), 0..8),
        prop::collection::vec(
            (0u16..8, any::<[u16; 2]>()).prop_map(|(id, pos)| Pellet { id, pos }),
            0..8,
        ),
        prop::collection::vec(
            (0..8u32).prop_map(|id| PlayerInfo {
                id,
                name: String::new(),
            }),
            0..8,
        ),
    )
        .prop_map(|(tick, players, pellets, roster)| Frame {
            tick,
            players,
            pellets,
            roster,
        });
    fuzz(
        "deltas on malformed snapshots",
        (arb_bad_frame.prop_flat_map(arb_delta_for), arb_rate()),
        |((f, d), rate)| {
            let mut r = Replica::new(rate);
            r.apply_snapshot(f.to_snapshot());
            let _ = r.apply_delta(&d);
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// Room recordings (`record`): the reader of `tickroom replay` and of the
// recordings endpoints. Files come from disk, possibly damaged or hostile:
// reading one never panics, and no block costs more than its limit.

use tickroom_protocol::record::{
    self as rec, AppliedInput, Block, EndReason, EndRecord, MAX_RECORD_BLOCK_BYTES, RecordHeader,
    RecordReader, RoomEvent, RoomRules, TickRecord,
};

fn arb_event() -> impl Strategy<Value = RoomEvent> {
    prop_oneof![
        (arb_u32(), arb_text(24)).prop_map(|(player, name)| RoomEvent::Joined { player, name }),
        arb_u32().prop_map(|player| RoomEvent::Resumed { player }),
        arb_u32().prop_map(|player| RoomEvent::Disconnected { player }),
        arb_u32().prop_map(|player| RoomEvent::Left { player }),
        arb_u32().prop_map(|player| RoomEvent::Expired { player }),
    ]
}

fn arb_tick(tick: u32) -> impl Strategy<Value = Block> {
    (
        prop::collection::vec(arb_event(), 0..4),
        prop::collection::vec(
            (arb_u32(), arb_u32(), any::<[i8; 2]>()).prop_map(|(player, seq_advance, steer)| {
                AppliedInput {
                    player,
                    seq_advance,
                    steer,
                }
            }),
            0..12,
        ),
        any::<Option<u32>>(),
    )
        .prop_map(move |(events, inputs, sum)| {
            Block::Tick(TickRecord {
                tick,
                events,
                inputs,
                checksum: sum.map(Checksum),
            })
        })
}

fn header_block() -> Block {
    Block::Header(RecordHeader {
        protocol_version: PROTOCOL_VERSION,
        sim_version: 1,
        server_version: "fuzz".into(),
        room: "fuzz".into(),
        node: "n".into(),
        started_unix_ms: 1,
        rules: RoomRules {
            width: 1600.0,
            height: 1000.0,
            player_radius: 18.0,
            pellet_radius: 6.0,
            accel: 1400.0,
            max_speed: 320.0,
            friction: 0.05,
            pellet_count: 100,
            pellet_respawn_ticks: 40,
            tick_rate_hz: 20,
            seed: 7,
        },
        capacity: 50,
        keyframe_every: 3,
        steps_per_frame: 1,
    })
}

/// A valid recording: header, 1..12 ticks (keyframes every third), End.
fn arb_recording() -> impl Strategy<Value = Vec<Block>> {
    (1u32..12)
        .prop_flat_map(|n| {
            (
                (1..=n).map(arb_tick).collect::<Vec<_>>(),
                prop::collection::vec(arb_player(), 0..4),
            )
        })
        .prop_map(|(ticks, players)| {
            let mut blocks = vec![header_block()];
            let last = ticks.len() as u32;
            for (i, t) in ticks.into_iter().enumerate() {
                blocks.push(t);
                let tick = i as u32 + 1;
                if tick.is_multiple_of(3) {
                    blocks.push(Block::Keyframe(Snapshot {
                        tick,
                        players: players.clone(),
                        pellets: vec![],
                        roster: vec![],
                    }));
                }
            }
            blocks.push(Block::End(EndRecord {
                last_tick: last,
                reason: EndReason::RoomClosed,
            }));
            blocks
        })
}

fn file_of(blocks: &[Block]) -> Vec<u8> {
    let mut out = rec::preamble().to_vec();
    for b in blocks {
        rec::append_block(b, &mut out);
    }
    out
}

/// Reads every block of `bytes` under the allocation probe: never a panic,
/// never more than a block's limit at once (the read buffer plus the
/// decoded block at peak).
fn check_recording(bytes: &[u8]) -> Result<usize, TestCaseError> {
    let (res, largest, peak) = probe::measure(|| {
        let mut reader = RecordReader::new(bytes)?;
        let mut n = 0;
        while reader.next_block()?.is_some() {
            n += 1;
        }
        Ok::<_, rec::RecordError>(n)
    });
    let bound = MAX_RECORD_BLOCK_BYTES + ERROR_TEXT_SLACK;
    prop_assert!(
        largest <= bound && peak <= 2 * bound,
        "reading {} bytes allocated {largest} at once, {peak} at peak ({res:?})",
        bytes.len()
    );
    Ok(res.unwrap_or(0))
}

#[test]
fn mutated_recordings_never_panic_nor_overallocate() {
    fuzz(
        "mutated recordings",
        (arb_recording(), prop::collection::vec(arb_mutation(), 1..5)),
        |(blocks, mutations)| {
            let mut bytes = file_of(&blocks);
            prop_assert_eq!(check_recording(&bytes)?, blocks.len());
            for m in &mutations {
                mutate(&mut bytes, m);
            }
            check_recording(&bytes)?;
            Ok(())
        },
    );
}

#[test]
fn mutated_blocks_behind_a_valid_crc_never_panic_nor_overallocate() {
    // The CRC stops almost every random change before the decoder; here the
    // payload is mutated and its CRC recomputed, so bincode sees it.
    fuzz(
        "mutated record blocks with a valid CRC",
        (
            arb_recording(),
            any::<Index>(),
            prop::collection::vec(arb_mutation(), 1..5),
        ),
        |(blocks, which, mutations)| {
            let which = which.index(blocks.len());
            let mut bytes = rec::preamble().to_vec();
            for (i, b) in blocks.iter().enumerate() {
                if i != which {
                    rec::append_block(b, &mut bytes);
                    continue;
                }
                let mut payload = Vec::new();
                codec::encode_record_block_into(b, &mut payload);
                for m in &mutations {
                    mutate(&mut payload, m);
                }
                payload.truncate(MAX_RECORD_BLOCK_BYTES);
                bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
                bytes.extend_from_slice(&crc32(&payload).to_le_bytes());
                bytes.extend_from_slice(&payload);
                let (res, largest, _) =
                    probe::measure(|| codec::decode_record_block::<Block>(&payload));
                prop_assert!(largest <= MAX_RECORD_BLOCK_BYTES + ERROR_TEXT_SLACK);
                if let Ok(block) = res {
                    // What decodes re-encodes to something that decodes the same.
                    let mut again = Vec::new();
                    codec::encode_record_block_into(&block, &mut again);
                    let back = codec::decode_record_block::<Block>(&again);
                    prop_assert!(back.is_ok(), "{back:?}");
                    prop_assert_eq!(
                        format!("{:?}", back.unwrap_or_else(|_| unreachable!())),
                        format!("{block:?}")
                    );
                }
            }
            check_recording(&bytes)?;
            Ok(())
        },
    );
}

/// CRC-32 (IEEE), bit by bit: an independent check of the one the format uses.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn the_block_crc_is_the_standard_crc32() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    let mut one = Vec::new();
    rec::append_block(&header_block(), &mut one);
    let payload = &one[8..];
    assert_eq!(&one[4..8], &crc32(payload).to_le_bytes());
}

// ---------------------------------------------------------------------------
// The game-agnostic state codec: schemas, full frames and deltas.

#[path = "support/state_gen.rs"]
mod state_gen;

use tickroom_protocol::state::{self, Encoder as StateEncoder, Frame as StateFrame};

/// What one input byte may make the state decoder hold at most: a spawn
/// takes 2 bytes and, in the test schema (3 components, 9 slots), holds an
/// id, a component range, 3 component entries and 9 values.
const STATE_BYTES_PER_INPUT_BYTE: usize = (8 + 3 * 8 + 9 * size_of::<state::Value>()) / 2 + 32;

/// What a frame's flat storage holds: per entity an id and a component
/// range, per component an id and a value range, and the values.
fn frame_bytes(f: &StateFrame) -> usize {
    f.entities().map(|e| 8 + e.len() * 8).sum::<usize>() + f.slots() * size_of::<state::Value>()
}

/// Decodes `bytes` as a delta from `base` under the allocation probe: never
/// a panic; at peak no more than a few copies (the rebuilt frame, the
/// spawned, their merge, each grown by doubling) of the base and of what the
/// input bytes may spawn; what decodes re-encodes to exactly these bytes.
fn check_state(
    schema: &state::Schema,
    base: Option<&StateFrame>,
    bytes: &[u8],
) -> Result<(), TestCaseError> {
    let base_cost = base.map_or(0, frame_bytes);
    let (res, _, peak) = probe::measure(|| state::apply(schema, base, bytes));
    let bound = 6 * (base_cost + bytes.len() * STATE_BYTES_PER_INPUT_BYTE) + ERROR_TEXT_SLACK;
    prop_assert!(
        peak <= bound,
        "{} bytes peaked at {peak} (bound {bound}): {res:?}",
        bytes.len()
    );
    if let Ok(frame) = res {
        let mut again = Vec::new();
        StateEncoder::default().encode(schema, base, &frame, &mut again);
        prop_assert_eq!(
            &again,
            &bytes,
            "not the canonical encoding of what it decoded to"
        );
    }
    Ok(())
}

/// Decodes `bytes` as a schema under the allocation probe: never a panic,
/// no allocation past 64 bytes per input byte, and what decodes re-encodes
/// to exactly these bytes.
fn check_schema(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (res, largest, _) = probe::measure(|| state::Schema::decode(bytes));
    prop_assert!(
        largest <= bytes.len() * 64 + ERROR_TEXT_SLACK,
        "schema decode allocated {largest}"
    );
    if let Ok(s) = res {
        prop_assert_eq!(s.encode(), bytes);
    }
    Ok(())
}

#[test]
fn mutated_state_deltas_never_panic_overallocate_or_decode_two_ways() {
    let schema = state_gen::schema();
    fuzz(
        "mutated state deltas",
        (
            prop::collection::vec(state_gen::spec(), 0..30),
            prop::collection::vec(state_gen::spec(), 0..30),
            any::<bool>(),
            prop::collection::vec(arb_mutation(), 1..5),
        ),
        |(old, new, from_nothing, mutations)| {
            let base = state_gen::frame(&schema, 5, &old);
            let new = &state_gen::frame(&schema, 6, &new);
            let base = (!from_nothing).then_some(&base);
            let mut bytes = Vec::new();
            StateEncoder::default().encode(&schema, base, new, &mut bytes);
            for m in &mutations {
                mutate(&mut bytes, m);
            }
            check_state(&schema, base, &bytes)
        },
    );
}

#[test]
fn arbitrary_bytes_never_panic_the_state_decoders() {
    let schema = state_gen::schema();
    let base = state_gen::frame(
        &schema,
        3,
        &(0..20)
            .map(|id| state_gen::Spec {
                id,
                mask: (id % 8) as u8,
                raw: [1, 2, 3, 4, 5, 6],
                text: "ab".into(),
            })
            .collect::<Vec<_>>(),
    );
    fuzz("arbitrary state bytes", arb_bytes(), |bytes| {
        check_state(&schema, None, &bytes)?;
        check_state(&schema, Some(&base), &bytes)?;
        check_schema(&bytes)
    });
}

#[test]
fn mutated_schemas_never_panic_and_decode_only_canonically() {
    let bytes = state_gen::schema().encode();
    fuzz(
        "mutated schemas",
        prop::collection::vec(arb_mutation(), 1..5),
        |mutations| {
            let mut b = bytes.clone();
            for m in &mutations {
                mutate(&mut b, m);
            }
            check_schema(&b)
        },
    );
}
