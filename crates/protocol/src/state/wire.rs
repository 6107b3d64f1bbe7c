//! The byte-level primitives of the state encoding: bincode's varint layout
//! (so the browser's reader for ordinary messages reads these too), zig-zag
//! for signed deltas, and a bounds-checked reader that refuses non-canonical
//! varints, so every value has exactly one encoding (checksums and the
//! "decode then encode gives the same bytes" rule depend on it).

use super::DecodeError;

/// Appends `v` as a varint: below 251 one byte, else a marker (251/252/253)
/// and a little-endian u16/u32/u64.
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, v: u64) {
    if v < 251 {
        out.push(v as u8);
    } else if v <= u64::from(u16::MAX) {
        out.push(251);
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v <= u64::from(u32::MAX) {
        out.push(252);
        out.extend_from_slice(&(v as u32).to_le_bytes());
    } else {
        out.push(253);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends a length-prefixed UTF-8 string.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Zig-zag: small magnitudes of either sign become small unsigned numbers.
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Reads from a byte slice; every read checks the bounds.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Where the reader is, for error messages.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated { at: self.pos });
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let at = self.pos;
        let (v, min) = match self.u8()? {
            b @ 0..=250 => return Ok(u64::from(b)),
            251 => (u64::from(u16::from_le_bytes(self.array()?)), 251),
            252 => (u64::from(u32::from_le_bytes(self.array()?)), 1 << 16),
            253 => (u64::from_le_bytes(self.array()?), 1 << 32),
            _ => {
                return Err(DecodeError::Malformed {
                    at,
                    what: "varint marker",
                });
            }
        };
        if v < min {
            return Err(DecodeError::Malformed {
                at,
                what: "non-canonical varint",
            });
        }
        Ok(v)
    }

    /// A varint that must fit in a u32.
    pub(crate) fn varint_u32(&mut self) -> Result<u32, DecodeError> {
        let at = self.pos;
        u32::try_from(self.varint()?).map_err(|_| DecodeError::Malformed {
            at,
            what: "u32 out of range",
        })
    }

    /// A count of items that each take at least `min_bytes` of what is left:
    /// a count the input cannot hold is refused before anything is allocated.
    pub(crate) fn count(&mut self, min_bytes: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.varint()?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min_bytes.max(1)) <= self.remaining() => Ok(n),
            _ => Err(DecodeError::Malformed {
                at,
                what: "count larger than the message",
            }),
        }
    }

    pub(crate) fn str(&mut self, max: usize) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let len = self.count(1)?;
        if len > max {
            return Err(DecodeError::Malformed {
                at,
                what: "string longer than its limit",
            });
        }
        std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError::Malformed {
            at,
            what: "invalid UTF-8",
        })
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Succeeds only when every byte was read.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_marker_boundary() {
        for v in [
            0,
            1,
            250,
            251,
            252,
            65_535,
            65_536,
            u64::from(u32::MAX),
            1 << 32,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut r = Reader::new(&out);
            assert_eq!(r.varint(), Ok(v), "{v}");
            assert_eq!(r.finish(), Ok(()));
        }
    }

    #[test]
    fn non_canonical_varints_and_bad_markers_are_refused() {
        for bytes in [
            &[251, 5, 0][..],
            &[252, 0xFF, 0xFF, 0, 0],
            &[253, 1, 0, 0, 0, 0, 0, 0, 0],
            &[254],
            &[255],
        ] {
            assert!(
                matches!(
                    Reader::new(bytes).varint(),
                    Err(DecodeError::Malformed { at: 0, .. })
                ),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn zigzag_maps_small_magnitudes_to_small_numbers_and_back() {
        assert_eq!([0, -1, 1, -2, 2].map(zigzag), [0, 1, 2, 3, 4]);
        for v in [0, 1, -1, i64::MAX, i64::MIN, 12_345, -98_765] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn a_count_the_input_cannot_hold_is_refused() {
        let mut out = Vec::new();
        put_varint(&mut out, 1_000_000);
        out.extend_from_slice(&[0; 10]);
        assert!(Reader::new(&out).count(1).is_err());
        let mut out = Vec::new();
        put_varint(&mut out, 5);
        out.extend_from_slice(&[0; 10]);
        assert_eq!(Reader::new(&out).count(2), Ok(5));
        assert!(Reader::new(&out).count(3).is_err());
    }
}
