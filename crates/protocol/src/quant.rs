//! Fixed-point quantization of positions and velocities for the wire.
//!
//! The simulation works in `f32` world units; the wire carries plain integers
//! so snapshots stay small and every client decodes exactly the same values.
//! Positions are unsigned (the arena starts at 0,0), velocities signed; both
//! keep [`SCALE`] steps per world unit.

/// Quantization steps per world unit (1/4 unit precision: a player moving at
/// full speed for one 20 Hz tick moves at most 64 steps, which fits a delta's `i8`).
pub const SCALE: f32 = 4.0;

/// Largest world coordinate a position can carry (`u16::MAX / SCALE`).
pub const MAX_COORD: f32 = u16::MAX as f32 / SCALE;

/// World-unit coordinate to its wire value, rounded and clamped to `0..=u16::MAX`.
pub fn pos_to_wire(v: f32) -> u16 {
    if v.is_nan() {
        return 0;
    }
    (v * SCALE).round().clamp(0.0, u16::MAX as f32) as u16
}

/// Wire value back to world units.
pub fn pos_from_wire(v: u16) -> f32 {
    v as f32 / SCALE
}

/// World-unit velocity component to its wire value, rounded and clamped to the `i16` range.
pub fn vel_to_wire(v: f32) -> i16 {
    if v.is_nan() {
        return 0;
    }
    (v * SCALE).round().clamp(i16::MIN as f32, i16::MAX as f32) as i16
}

/// Wire velocity back to world units per second.
pub fn vel_from_wire(v: i16) -> f32 {
    v as f32 / SCALE
}

/// A steering direction (any length; longer than 1 is clamped) to the wire's
/// `[i8; 2]`, where 127 means full deflection.
pub fn steer_to_wire(x: f32, y: f32) -> [i8; 2] {
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
    [q(x), q(y)]
}

/// The wire's steering back to a direction with components in `-1.0..=1.0`
/// (`-128` is treated as `-127`).
pub fn steer_from_wire(s: [i8; 2]) -> (f32, f32) {
    let f = |c: i8| (c.max(-127)) as f32 / 127.0;
    (f(s[0]), f(s[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_within_half_a_step() {
        for v in [0.0, 0.06, 1.0, 123.456, 1599.9, MAX_COORD] {
            let back = pos_from_wire(pos_to_wire(v));
            assert!(
                (back - v).abs() <= 0.5 / SCALE + f32::EPSILON,
                "{v} -> {back}"
            );
        }
    }

    #[test]
    fn out_of_range_values_clamp_instead_of_wrapping() {
        assert_eq!(pos_to_wire(-5.0), 0);
        assert_eq!(pos_to_wire(1e9), u16::MAX);
        assert_eq!(pos_to_wire(f32::NAN), 0);
        assert_eq!(vel_to_wire(1e9), i16::MAX);
        assert_eq!(vel_to_wire(-1e9), i16::MIN);
    }

    #[test]
    fn steering_is_normalised_and_symmetric() {
        assert_eq!(steer_to_wire(1.0, 0.0), [127, 0]);
        assert_eq!(steer_to_wire(-3.0, 0.0), [-127, 0]);
        let [x, y] = steer_to_wire(1.0, 1.0);
        assert_eq!(x, y);
        assert!((x as f32 - 127.0 / 2f32.sqrt()).abs() <= 1.0);
        assert_eq!(steer_from_wire([-128, 127]), (-1.0, 1.0));
    }
}
