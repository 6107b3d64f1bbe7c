//! The arena's input: a player's steering, as it travels (two `i8`s) and as
//! the rules read it (a vector). Its own file because the systems read it
//! and the game declares it.

use glam::Vec2;

/// What a player sends: its steering, each axis in -127..=127 (±1).
#[derive(tickroom::Wire, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[wire(name = "steer")]
pub struct SteerInput {
    /// Right is positive.
    pub x: i8,
    /// Down is positive.
    pub y: i8,
}

impl SteerInput {
    /// The input for steering `(x, y)`: its length clamped to 1, each axis
    /// rounded to 1/127 (non-finite axes are 0).
    pub fn from_direction(x: f32, y: f32) -> Self {
        let len = (x * x + y * y).sqrt();
        let (x, y) = if len > 1.0 {
            (x / len, y / len)
        } else {
            (x, y)
        };
        let q = |c: f32| {
            if c.is_nan() {
                0
            } else {
                (c * 127.0).round().clamp(-127.0, 127.0) as i8
            }
        };
        Self { x: q(x), y: q(y) }
    }

    /// The steering vector (unsanitized: rule 1 clamps its length).
    pub fn direction(self) -> Vec2 {
        let f = |c: i8| c.max(-127) as f32 / 127.0;
        Vec2::new(f(self.x), f(self.y))
    }
}
