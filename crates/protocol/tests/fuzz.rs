//! Fuzzing the protocol's decoders, as long-running property tests.
//!
//! Why: the server decodes every byte a client sends ([`decode_client`]), a
//! client decodes every byte a server sends ([`decode_server`]) and then
//! its game's state inside ([`state::apply`], [`state::Schema::decode`]),
//! and `tickroom replay` reads recordings from disk ([`RecordReader`]).
//! None of them may panic, allocate more than the limit allows, or accept
//! something they cannot faithfully re-encode, whatever the bytes. `cargo
//! fuzz` needs a nightly toolchain this project does not use, so the same
//! search runs here as proptest properties on stable:
//!
//! - arbitrary byte vectors (0..=2048 bytes, biased to short ones and to the
//!   bytes that matter in this format: small variant indices, varint markers);
//! - structured mutations of valid encodings: bit flips, truncation, extension,
//!   a varint (a length prefix, often) overwritten with a huge value, a chunk
//!   duplicated, bytes inserted or deleted;
//! - valid messages, recordings, schemas and frame deltas, which must decode
//!   to themselves.
//!
//! Every decode runs under a counting allocator (this test binary's global
//! allocator, per thread): no single allocation and no peak of live bytes
//! during one decode may exceed the limit (plus a little for the error's
//! text, plus what [`decoded_items_bound`] explains).
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

use std::time::Instant;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
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

/// What the items a list has already decoded may hold beyond the limit,
/// for `input_len` input bytes and list items of `(in-memory size, smallest
/// encoding)`.
///
/// bincode (2.0.1, `impl Decode for Vec<T>`) claims a list's whole
/// `len * size_of::<T>()` against the limit up front and allocates that
/// capacity at once, then releases the claim item by item as each item
/// decodes (`Decoder::unclaim_bytes_read`) while the capacity stays
/// allocated. So the items already decoded hold memory the limit no longer
/// counts, and what decodes after them may claim it again: in a v6 `State`,
/// 1,000 empty events (one byte each) leave 24,000 bytes of `Vec` headers
/// unclaimed, and the frame after them may then claim the whole limit
/// (`a_late_claim_after_decoded_items_stays_within_the_items_bound`). Each
/// such item took at least its smallest encoding from the input, so they
/// hold at most `input bytes * (in-memory size / smallest encoding)`. (An
/// upper bound: bincode also claims every integer's in-memory size as it
/// decodes it, and keeps that claimed, so an empty event's length keeps 8
/// of its 24 bytes counted and the excess reached is 16 bytes per event.)
/// (A `Vec<u8>` or `String` is read in one piece and its claim is never
/// released: it is within the limit, whatever its length.)
fn items_bound(input_len: usize, items: &[(usize, usize)]) -> usize {
    let widest = items
        .iter()
        .map(|&(size, smallest)| size.div_ceil(smallest))
        .max()
        .unwrap_or(0);
    input_len * widest
}

/// [`items_bound`] for the messages (client and server): their one list of
/// items that are not bytes is `State::events`, a `Vec<Vec<u8>>`, whose
/// items are 24-byte `Vec` headers encoded in as little as 1 byte (an empty
/// event: its length, 0). So at most 24 bytes per input byte: 64 KiB of
/// input could leave 1.5 MiB past the 64 KiB limit, the widest ratio the
/// v6 messages have (v5's was a `PlayerState`'s 20 bytes per 7).
fn decoded_items_bound(input_len: usize) -> usize {
    items_bound(input_len, &[(size_of::<Vec<u8>>(), 1)])
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
// unicode, big varints, long and empty byte strings).

fn arb_u32() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..300, 60_000u32..70_000, any::<u32>()]
}

fn arb_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(&format!("[a-z0-9]{{0,{max}}}")).expect("regex"),
        prop::collection::vec(any::<char>(), 0..=max / 4).prop_map(|c| c.into_iter().collect()),
    ]
}

/// Opaque bytes of at most `max` (a game's input, an event, a frame, a
/// schema: the envelope does not look inside).
fn arb_blob(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..=max.min(16)),
        1 => prop::collection::vec(any::<u8>(), 0..=max),
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
        // Sometimes past MAX_INPUT_BYTES: decode_client must refuse those.
        (arb_u32(), arb_u32(), arb_blob(MAX_INPUT_BYTES + 8)).prop_map(|(seq, ack_tick, data)| {
            ClientMsg::Input(Input {
                seq,
                ack_tick,
                data,
            })
        }),
        arb_u32().prop_map(|nonce| ClientMsg::Ping(Ping { nonce })),
        Just(ClientMsg::Leave),
    ]
}

fn arb_state() -> impl Strategy<Value = State> {
    (
        arb_u32(),
        prop_oneof![
            3 => prop::collection::vec(arb_blob(24), 0..8),
            1 => prop::collection::vec(arb_blob(200), 0..=MAX_EVENTS_PER_STATE),
        ],
        any::<u32>(),
        arb_blob(4000),
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
        (
            any::<u16>(),
            arb_u32(),
            arb_text(32),
            arb_text(16),
            any::<u16>(),
            any::<u16>(),
            arb_u32(),
        ),
        prop_oneof![
            Just(state_gen::schema().encode()),
            arb_blob(state::schema::MAX_SCHEMA_BYTES.min(2000)),
        ],
        arb_text(200),
        arb_text(MAX_TOKEN_BYTES),
        any::<bool>(),
    )
        .prop_map(
            |(
                (version, player_id, room, game, tick_rate_hz, sim_rate_hz, tick),
                schema,
                config,
                resume_token,
                resumed,
            )| {
                ServerMsg::Welcome(Welcome {
                    version,
                    player_id,
                    room,
                    game,
                    tick_rate_hz,
                    sim_rate_hz,
                    tick,
                    schema,
                    config,
                    resume_token,
                    resumed,
                })
            },
        );
    prop_oneof![
        5 => arb_state().prop_map(ServerMsg::State),
        2 => welcome,
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
    // Client messages hold no list of items but bytes: nothing past the limit.
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
        match &msg {
            ClientMsg::Join(j) => prop_assert!(
                j.name.len() <= MAX_NAME_BYTES && j.resume.len() <= MAX_TOKEN_BYTES,
                "a join past the protocol's rules: {j:?}"
            ),
            ClientMsg::Input(i) => prop_assert!(i.data.len() <= MAX_INPUT_BYTES),
            ClientMsg::Ping(_) | ClientMsg::Leave => {}
        }
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
        prop_assert_eq!(decode_server(&again), Ok(msg));
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
                ClientMsg::Input(i) => i.data.len() <= MAX_INPUT_BYTES,
                ClientMsg::Ping(_) | ClientMsg::Leave => true,
            };
            prop_assert!(bytes.len() <= MAX_CLIENT_MESSAGE_BYTES);
            if rules_ok {
                prop_assert_eq!(decode_client(&bytes), Ok(client));
            } else {
                prop_assert!(matches!(decode_client(&bytes), Err(Error::Invalid(_))));
            }
            let bytes = encode_server(&server);
            prop_assert!(bytes.len() <= MAX_SERVER_MESSAGE_BYTES);
            if let ServerMsg::State(s) = &server {
                // The server's path: a shared tail per base, each client's
                // part in front; the same bytes.
                let tail = encode_state_tail(s.checksum, &s.frame);
                let mut out = Vec::new();
                encode_state(
                    s.ack_seq,
                    s.events.iter().map(Vec::as_slice),
                    &tail,
                    &mut out,
                );
                prop_assert_eq!(&out, &bytes);
            }
            prop_assert_eq!(decode_server(&bytes), Ok(server));
            Ok(())
        },
    );
}

/// Every container length of these messages (they are written with empty
/// containers and no other zero byte past the variant index, so each 0 byte
/// is one) replaced by a huge claim: refused by the limit, without
/// allocating for it.
#[test]
fn huge_length_prefixes_are_refused_without_allocating() {
    let state = |events: Vec<Vec<u8>>| {
        ServerMsg::State(State {
            ack_seq: 7,
            events,
            checksum: Checksum(0x0101_0101),
            frame: vec![],
        })
    };
    let welcome = ServerMsg::Welcome(Welcome {
        version: PROTOCOL_VERSION,
        player_id: 7,
        room: String::new(),
        game: String::new(),
        tick_rate_hz: 20,
        sim_rate_hz: 20,
        tick: 7,
        schema: vec![],
        config: String::new(),
        resume_token: String::new(),
        resumed: true,
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
    let input = ClientMsg::Input(Input {
        seq: 1,
        ack_tick: 1,
        data: vec![],
    });
    // Lengths: events and frame; one event's and frame; room, game, schema,
    // config and token; message; name and resume; data.
    let server: Vec<Vec<u8>> = [state(vec![]), state(vec![vec![]]), welcome, error]
        .iter()
        .map(encode_server)
        .collect();
    let client: Vec<Vec<u8>> = [join, input].iter().map(encode_client).collect();
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
    assert_eq!(
        tried,
        (2 + 2 + 5 + 1 + 2 + 1) * huge.len(),
        "every length found"
    );
}

/// The widest case of [`decoded_items_bound`]: a state whose events (empty:
/// one byte each) decoded, then a frame claiming the most the limit lets
/// through. The events' claim was released event by event, so the frame
/// may claim the whole limit, and its buffer is allocated before the short
/// input runs out, while the events' `Vec` headers are still allocated: no
/// single allocation over the limit, and the peak over it no more than what
/// the decoded events hold.
#[test]
fn a_late_claim_after_decoded_items_stays_within_the_items_bound() {
    let mut bytes = encode_server(&ServerMsg::State(State {
        ack_seq: 1,
        events: vec![Vec::new(); 1000],
        checksum: Checksum(0x0101_0101),
        frame: b"ab".to_vec(),
    }));
    // The frame ("ab", length byte 2) is the message's last 3 bytes: make
    // it claim the most the limit lets through.
    let at = bytes.len() - 3;
    assert_eq!(&bytes[at..], &[2, b'a', b'b']);
    bytes.truncate(at);
    let with_claim = |claim: usize| [&bytes[..], &varint(claim as u64), b"ab"].concat();
    let refused = |claim: usize| {
        matches!(decode_server(&with_claim(claim)),
            Err(Error::Malformed(m)) if m.contains("LimitExceeded"))
    };
    let (mut lo, mut hi) = (2, MAX_SERVER_MESSAGE_BYTES + 1);
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
    // The events' 24,000-byte claim was released: the frame gets all but what
    // the integers decoded so far claimed (bincode claims an integer's
    // in-memory size: 8 bytes per event's length).
    assert!(
        claim > MAX_SERVER_MESSAGE_BYTES - 1000 * size_of::<Vec<u8>>(),
        "the events' claim was not released: {claim}"
    );
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
    eprintln!(
        "late claim: {} bytes claimed {claim}, peaked at {peak} (limit {MAX_SERVER_MESSAGE_BYTES}, bound {})",
        bytes.len(),
        bound + decoded_items_bound(bytes.len())
    );
}

// ---------------------------------------------------------------------------
// Room recordings (`record`): the reader of `tickroom replay` and of the
// recordings endpoints. Files come from disk, possibly damaged or hostile:
// reading one never panics, and no block costs more than its limit.

use tickroom_protocol::record::{
    self as rec, AppliedInput, Block, EndReason, EndRecord, MAX_RECORD_BLOCK_BYTES, RecordHeader,
    RecordReader, RoomEvent, TickRecord,
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
            (arb_u32(), arb_u32(), arb_blob(12)).prop_map(|(player, seq_advance, data)| {
                AppliedInput {
                    player,
                    seq_advance,
                    data,
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
    let schema = state_gen::schema();
    Block::Header(RecordHeader {
        protocol_version: PROTOCOL_VERSION,
        game: schema.game().into(),
        game_version: schema.version(),
        schema_hash: schema.hash(),
        config: r#"{"size":7}"#.into(),
        seed: 7,
        step_rate_hz: 20,
        server_version: "fuzz".into(),
        room: "fuzz".into(),
        node: "n".into(),
        started_unix_ms: 1,
        capacity: 50,
        keyframe_every: 3,
        steps_per_frame: 1,
    })
}

/// A valid recording: header, 1..12 ticks (keyframes, whole frames of the
/// test schema, every third), End.
fn arb_recording() -> impl Strategy<Value = Vec<Block>> {
    (1u32..12)
        .prop_flat_map(|n| {
            (
                (1..=n).map(arb_tick).collect::<Vec<_>>(),
                prop::collection::vec(state_gen::spec(), 0..4),
            )
        })
        .prop_map(|(ticks, specs)| {
            let schema = state_gen::schema();
            let mut blocks = vec![header_block()];
            let last = ticks.len() as u32;
            for (i, t) in ticks.into_iter().enumerate() {
                blocks.push(t);
                let tick = i as u32 + 1;
                if tick.is_multiple_of(3) {
                    let frame = state_gen::frame(&schema, tick, &specs);
                    let mut bytes = Vec::new();
                    StateEncoder::default().encode(&schema, None, &frame, &mut bytes);
                    blocks.push(Block::Keyframe(bytes));
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

/// [`items_bound`] for recording blocks: their lists of items that are not
/// bytes are a tick's `events` (a `RoomEvent`, 2 bytes at least: variant
/// and player) and `inputs` (an `AppliedInput`, 3 bytes at least: player,
/// sequence advance, empty data).
fn record_items_bound(input_len: usize) -> usize {
    items_bound(
        input_len,
        &[(size_of::<RoomEvent>(), 2), (size_of::<AppliedInput>(), 3)],
    )
}

/// Reads every block of `bytes` under the allocation probe: never a panic,
/// never more than a block's limit at once, and at peak no more than the
/// read buffer and the decoded block (each within the limit) plus what the
/// block's decoded items hold past it.
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
        largest <= bound && peak <= 2 * bound + record_items_bound(bytes.len()),
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
                let (res, largest, peak) =
                    probe::measure(|| codec::decode_record_block::<Block>(&payload));
                let bound = MAX_RECORD_BLOCK_BYTES + ERROR_TEXT_SLACK;
                prop_assert!(
                    largest <= bound && peak <= bound + record_items_bound(payload.len()),
                    "a block of {} bytes allocated {largest} at once, {peak} at peak",
                    payload.len()
                );
                if let Ok(block) = res {
                    // What decodes re-encodes to something that decodes the same.
                    let mut again = Vec::new();
                    codec::encode_record_block_into(&block, &mut again);
                    prop_assert!(again.len() <= payload.len());
                    prop_assert_eq!(codec::decode_record_block::<Block>(&again), Ok(block));
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
