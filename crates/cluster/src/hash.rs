//! The one placement hash, and the weighted score built on it.
//!
//! **Layout.** The hash of node `n` and room `r` is xxh3-64 (seed 0, the
//! default secret; `xxhash_rust::xxh3::xxh3_64`) of the bytes
//!
//! ```text
//! n's UTF-8 bytes ‖ 0xFF ‖ r's UTF-8 bytes
//! ```
//!
//! 0xFF never occurs in UTF-8, so no two (node, room) pairs share an input.
//! Every process of a cluster, whatever its build or platform, must compute
//! the same value: changing the layout, the seed or the hash moves rooms
//! between running processes, so the golden vectors below (computed with the
//! C reference library, libxxhash 0.8.1) fail on any such change. This module
//! must never use std's `RandomState` or `DefaultHasher`, which are seeded per
//! process.
//!
//! **Score.** Weighted rendezvous hashing (the logarithmic method): the hash
//! becomes a uniform number `u` in (0, 1) from its top 52 bits,
//! `u = ((h >> 12) + 0.5) / 2^52` (exact in an `f64`: 53 significant bits),
//! and a node of weight `w` scores
//! `w / -ln(u)`. `-ln(u)` is exponentially distributed with rate 1, so
//! `-ln(u) / w` is exponential with rate `w`, and the node with the highest
//! score (the smallest of those exponentials) is node `i` with probability
//! `w_i / Σw`. With equal weights the score is increasing in `h`, so
//! placement compares the hashes themselves (exact integers, see
//! [`crate::hrw`]); only unequal weights involve `ln`.

use xxhash_rust::xxh3::xxh3_64;

use crate::node::{NodeId, Weight};

/// The byte between the node id and the room id in the hashed input.
pub const SEPARATOR: u8 = 0xFF;

/// Inputs up to this length are assembled on the stack (a 64-byte node id,
/// the separator and a 64-byte room id fit); longer ones in a `Vec`.
const STACK_BYTES: usize = 192;

/// xxh3-64 of `node ‖ 0xFF ‖ room` (see the module doc).
pub fn hash(node: &NodeId, room: &str) -> u64 {
    RoomHasher::new(room).hash(node)
}

/// [`hash`] of one room against many nodes: placement's loop. Holds the
/// input buffer, so it is zeroed once per room rather than once per node.
#[derive(Debug, Clone)]
pub struct RoomHasher<'r> {
    room: &'r [u8],
    buf: [u8; STACK_BYTES],
}

impl<'r> RoomHasher<'r> {
    /// A hasher for `room`.
    pub fn new(room: &'r str) -> Self {
        Self {
            room: room.as_bytes(),
            buf: [0; STACK_BYTES],
        }
    }

    /// [`hash`]`(node, room)`.
    pub fn hash(&mut self, node: &NodeId) -> u64 {
        let (node, room) = (node.as_bytes(), self.room);
        let len = node.len() + 1 + room.len();
        if len <= STACK_BYTES {
            let buf = &mut self.buf;
            buf[..node.len()].copy_from_slice(node);
            buf[node.len()] = SEPARATOR;
            buf[node.len() + 1..len].copy_from_slice(room);
            xxh3_64(&buf[..len])
        } else {
            let mut buf = Vec::with_capacity(len);
            buf.extend_from_slice(node);
            buf.push(SEPARATOR);
            buf.extend_from_slice(room);
            xxh3_64(&buf)
        }
    }
}

/// `h` as a number in (0, 1): its top 52 bits, centred,
/// `((h >> 12) + 0.5) / 2^52`, computed exactly (52 bits and the half fit an
/// `f64`'s 53-bit significand; with 53 bits the largest would round to 1).
/// Never 0 or 1, so `ln` of it is finite and negative.
pub fn unit(h: u64) -> f64 {
    ((h >> 12) as f64 + 0.5) * (1.0 / (1u64 << 52) as f64)
}

/// The weighted rendezvous score of a node of weight `weight` whose hash for
/// a room is `h`: `weight / -ln(unit(h))`, positive and finite. The highest
/// score wins.
pub fn score(h: u64, weight: Weight) -> f64 {
    f64::from(weight.get()) / -unit(h).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    /// Golden vectors: XXH3_64bits of the layout, from the C reference library
    /// (libxxhash 0.8.1 through Python's ctypes), one per xxh3 length class
    /// (1–3, 4–8, 9–16, 17–128, 129–240, over 240 bytes) so every code path of
    /// the hash and both buffers of [`hash`] are pinned.
    #[test]
    fn golden_vectors() {
        let n64 = "n".repeat(64);
        let r64 = "r".repeat(64);
        let r200 = "r".repeat(200);
        for (node, room, expected) in [
            ("a", "", 0x13ac_ce35_37d6_b799_u64),
            ("a", "lobby", 0xe279_a954_329f_1cbe),
            ("b", "lobby", 0x9e97_476d_3129_b5b1),
            ("node-1", "arena-7", 0x97af_a7db_c232_f555),
            ("eu-west.a_2", "r-abcdefghij", 0x117f_13a4_056c_f75a),
            (n64.as_str(), r64.as_str(), 0x965e_f770_3cd3_8533),
            (n64.as_str(), r200.as_str(), 0xa712_f26e_d75c_b306),
        ] {
            assert_eq!(
                hash(&id(node), room),
                expected,
                "hash({node:?}, {room:?}): the placement hash changed; every running cluster would move rooms"
            );
        }
    }

    #[test]
    fn layout_is_node_separator_room() {
        let mut bytes = b"node-1".to_vec();
        bytes.push(0xFF);
        bytes.extend_from_slice(b"arena-7");
        assert_eq!(hash(&id("node-1"), "arena-7"), xxh3_64(&bytes));
        // The separator keeps the split unambiguous.
        assert_ne!(hash(&id("ab"), "c"), hash(&id("a"), "bc"));
    }

    /// Reusing a hasher across nodes of different lengths (and past the
    /// stack buffer) gives what fresh ones give.
    #[test]
    fn room_hasher_reuse() {
        let long = "n".repeat(64);
        let room = "r".repeat(130);
        for room in ["lobby", room.as_str()] {
            let mut h = RoomHasher::new(room);
            for node in [long.as_str(), "a", "node-1", long.as_str(), "b"] {
                let mut fresh = vec![];
                fresh.extend_from_slice(node.as_bytes());
                fresh.push(SEPARATOR);
                fresh.extend_from_slice(room.as_bytes());
                assert_eq!(h.hash(&id(node)), xxh3_64(&fresh), "{node} {room}");
            }
        }
    }

    #[test]
    fn unit_and_score() {
        let ulp = 1.0 / (1u64 << 52) as f64;
        assert_eq!(unit(0), 0.5 * ulp);
        assert_eq!(unit(u64::MAX), 1.0 - 0.5 * ulp);
        assert_eq!(unit(1 << 63), 0.5 + 0.5 * ulp);
        for h in [0, 1, 1 << 63, u64::MAX] {
            let s = score(h, Weight::ONE);
            assert!(s.is_finite() && s > 0.0, "score({h}) = {s}");
            assert_eq!(score(h, Weight::new(2).unwrap()), 2.0 * s);
        }
        // -1 / ln(1/2) = 1 / ln 2.
        let half = score(1 << 63, Weight::ONE);
        assert!((half - std::f64::consts::LOG2_E).abs() < 1e-12, "{half}");
        assert!(score(1 << 62, Weight::ONE) < half && half < score(3 << 62, Weight::ONE));
    }
}
