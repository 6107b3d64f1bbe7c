//! Node ids and weights: the two facts about a process that placement hashes
//! and scales by.
//!
//! A node id is chosen by the operator (`--node-id`, or the left side of an
//! `id=ws-url` peer entry) and must be the same string on every process that
//! refers to that node: it is hashed, byte for byte, into every placement.
//! Ids follow the room-id alphabet (`A-Z a-z 0-9 - _ .`, 1 to 64 bytes), so
//! they never contain the hash layout's 0xFF separator, `=`, `,` or
//! whitespace. This module never normalises an id (no case folding, no
//! trimming inside [`NodeId::new`]): two spellings are two nodes.

use std::{fmt, num::NonZeroU32, str::FromStr, sync::Arc};

use crate::{Error, Result};

/// Longest node id, in bytes.
pub const MAX_NODE_ID_BYTES: usize = 64;

/// A validated node id; cheap to clone (shared string). Ordered by its
/// bytes, which is the tie-break order of placement.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// `id` if it is 1 to [`MAX_NODE_ID_BYTES`] bytes of `A-Z a-z 0-9 - _ .`.
    pub fn new(id: &str) -> Result<Self> {
        let valid = !id.is_empty()
            && id.len() <= MAX_NODE_ID_BYTES
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(Self(Arc::from(id)))
        } else {
            Err(Error::InvalidNodeId { id: id.to_owned() })
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id's bytes, as [`crate::hash::hash`] feeds them to xxh3.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl FromStr for NodeId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A node's relative share of new rooms: a node of weight 2 gets about twice
/// the rooms of a node of weight 1 (see [`crate::hash::score`]). At least 1;
/// the default is 1. Integer, so every process compares weights exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Weight(NonZeroU32);

impl Weight {
    /// Weight 1, the default.
    pub const ONE: Self = Self(NonZeroU32::MIN);

    /// `weight` if it is at least 1.
    pub fn new(weight: u32) -> Result<Self> {
        NonZeroU32::new(weight).map(Self).ok_or(Error::ZeroWeight)
    }

    /// The weight as a number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl Default for Weight {
    fn default() -> Self {
        Self::ONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids() {
        let long = "n".repeat(MAX_NODE_ID_BYTES);
        let too_long = "n".repeat(MAX_NODE_ID_BYTES + 1);
        for (id, ok) in [
            ("a", true),
            ("node-1", true),
            ("eu-west.a_2", true),
            (long.as_str(), true),
            ("", false),
            (too_long.as_str(), false),
            ("a b", false),
            (" a", false),
            ("a=b", false),
            ("a,b", false),
            ("a/b", false),
            ("nœud", false),
        ] {
            assert_eq!(NodeId::new(id).is_ok(), ok, "{id:?}");
        }
        assert_eq!(
            NodeId::new("a b").unwrap_err().to_string(),
            "invalid node id `a b`: node ids are 1 to 64 characters of A-Z a-z 0-9 - _ ."
        );
        assert_eq!("x".parse::<NodeId>().unwrap().as_str(), "x");
    }

    #[test]
    fn weights() {
        assert_eq!(Weight::new(0), Err(Error::ZeroWeight));
        assert_eq!(Weight::new(3).unwrap().get(), 3);
        assert_eq!(Weight::default(), Weight::ONE);
        assert_eq!(Weight::ONE.get(), 1);
    }
}
