//! The client side of replication: a [`Replica`] is one client's copy of its
//! room's newest frame, rebuilt from the [`State`] messages it receives and
//! checked against each one's checksum. The bots, the e2e tests' clients and
//! tools use it; the browser's `state.js` mirrors it.

use super::{DecodeError, Frame, Schema, apply_into, read_header};
use crate::{Checksum, State};

/// What applying one [`State`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The frame's tick.
    pub tick: u32,
    /// Whether it was a whole frame (not a delta).
    pub full: bool,
    /// Whether the rebuilt frame's checksum is the server's. A mismatch is a
    /// bug somewhere; the frame is kept so play goes on, and callers count it.
    pub checksum_ok: bool,
}

/// One client's copy of its room's frame (see the module docs).
#[derive(Debug, Clone)]
pub struct Replica {
    schema: Schema,
    frame: Option<Frame>,
    /// The frame before, reused for the next one.
    spare: Frame,
    scratch: Vec<u8>,
}

impl Replica {
    /// An empty replica of a game with `schema`.
    pub fn new(schema: Schema) -> Self {
        Self {
            schema,
            frame: None,
            spare: Frame::default(),
            scratch: Vec::new(),
        }
    }

    /// An empty replica for the schema a [`crate::Welcome`] carries.
    pub fn from_welcome(welcome: &crate::Welcome) -> Result<Self, DecodeError> {
        Schema::decode(&welcome.schema).map(Self::new)
    }

    /// The game's schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The newest frame, once one arrived.
    pub fn frame(&self) -> Option<&Frame> {
        self.frame.as_ref()
    }

    /// Applies a state: a whole frame, or a delta from the frame held.
    /// Refuses (keeping the frame held) a delta from another frame and
    /// bytes that do not decode.
    pub fn apply(&mut self, state: &State) -> Result<Applied, DecodeError> {
        let header = read_header(&state.frame)?;
        let base = match header.base_tick {
            None => None,
            Some(_) => self.frame.as_ref(),
        };
        apply_into(&self.schema, base, &state.frame, &mut self.spare)?;
        let frame = &self.spare;
        let checksum_ok = Checksum(frame.checksum(&mut self.scratch)) == state.checksum;
        let applied = Applied {
            tick: frame.tick,
            full: header.base_tick.is_none(),
            checksum_ok,
        };
        let old = self.frame.replace(std::mem::take(&mut self.spare));
        self.spare = old.unwrap_or_default();
        Ok(applied)
    }
}
