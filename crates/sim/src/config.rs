//! Arena and rule parameters ([`SimConfig`]) and their validation.
//!
//! Kept apart from the systems so the server can parse, validate and log a
//! configuration without touching the ECS, and so the defaults are written down
//! in exactly one place.

use thiserror::Error;

/// Largest accepted `tick_rate_hz`.
pub const MAX_TICK_RATE_HZ: u32 = 240;

/// Largest accepted `pellet_count`: pellet ids are `u16` slots `0..pellet_count`.
pub const MAX_PELLETS: usize = u16::MAX as usize + 1;

/// Arena and rule parameters. All lengths are in arena units, the arena spans
/// `[0, width] x [0, height]` with `y` growing downwards (the sim does not care,
/// renderers do).
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Arena width. Default `1600.0`.
    pub width: f32,
    /// Arena height. Default `1000.0`.
    pub height: f32,
    /// Radius of every player's circle. Default `18.0`.
    pub player_radius: f32,
    /// Radius of every pellet's circle. Default `6.0`.
    pub pellet_radius: f32,
    /// Acceleration at full steer (`|steer| == 1`), units/s². Default `1400.0`.
    pub accel: f32,
    /// Speed cap, units/s. Default `320.0`.
    pub max_speed: f32,
    /// Fraction of velocity kept after 1 s of coasting, in `(0, 1]`. Default `0.05`.
    /// Per tick the velocity is multiplied by `friction.powf(dt)`.
    pub friction: f32,
    /// Number of pellet slots (ids `0..pellet_count`). Default `100`.
    pub pellet_count: usize,
    /// Steps a pellet stays dead after being eaten. Default `40` (2 s at 20 Hz).
    /// `0` behaves like `1`.
    pub pellet_respawn_ticks: u32,
    /// Simulation rate; `dt = 1 / tick_rate_hz`. Default `20`.
    pub tick_rate_hz: u32,
    /// Seed of the room's random number generator. Default `0x7157_2004`.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
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
            seed: 0x7157_2004,
        }
    }
}

/// Why a [`SimConfig`] was rejected by [`SimConfig::validate`].
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// A length, speed or acceleration is zero, negative, NaN or infinite.
    #[error("`{field}` must be finite and > 0, got {value}")]
    NotPositive {
        /// Name of the offending field.
        field: &'static str,
        /// Its value.
        value: f32,
    },
    /// `tick_rate_hz` outside `1..=240`.
    #[error("`tick_rate_hz` must be in 1..={MAX_TICK_RATE_HZ}, got {0}")]
    TickRate(u32),
    /// `friction` outside `(0, 1]`.
    #[error("`friction` must be in (0, 1], got {0}")]
    Friction(f32),
    /// A circle of this radius does not fit in the arena.
    #[error("`{field}` = {radius} does not fit in a {width} x {height} arena")]
    RadiusTooLarge {
        /// Name of the offending field.
        field: &'static str,
        /// Its value.
        radius: f32,
        /// Arena width.
        width: f32,
        /// Arena height.
        height: f32,
    },
    /// More pellets than `u16` ids.
    #[error("`pellet_count` must be at most {MAX_PELLETS}, got {0}")]
    PelletCount(usize),
}

impl SimConfig {
    /// Checks that every parameter is usable: positive finite sizes, speeds and
    /// acceleration, `tick_rate_hz` in `1..=240`, `friction` in `(0, 1]`, both
    /// radii fit in the arena (`2 * r <= width` and `<= height`) and
    /// `pellet_count <= 65536`.
    ///
    /// [`crate::Room::new`] never panics, but on an invalid config its behaviour
    /// is meaningless; validate first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("width", self.width),
            ("height", self.height),
            ("player_radius", self.player_radius),
            ("pellet_radius", self.pellet_radius),
            ("accel", self.accel),
            ("max_speed", self.max_speed),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(ConfigError::NotPositive { field, value });
            }
        }
        if !(1..=MAX_TICK_RATE_HZ).contains(&self.tick_rate_hz) {
            return Err(ConfigError::TickRate(self.tick_rate_hz));
        }
        if !(self.friction > 0.0 && self.friction <= 1.0) {
            return Err(ConfigError::Friction(self.friction));
        }
        for (field, radius) in [
            ("player_radius", self.player_radius),
            ("pellet_radius", self.pellet_radius),
        ] {
            if 2.0 * radius > self.width || 2.0 * radius > self.height {
                return Err(ConfigError::RadiusTooLarge {
                    field,
                    radius,
                    width: self.width,
                    height: self.height,
                });
            }
        }
        if self.pellet_count > MAX_PELLETS {
            return Err(ConfigError::PelletCount(self.pellet_count));
        }
        Ok(())
    }

    /// Seconds per step: `1 / tick_rate_hz` (infinite if the rate is 0, which
    /// [`SimConfig::validate`] rejects).
    pub fn dt(&self) -> f32 {
        1.0 / self.tick_rate_hz as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_dt_is_a_twentieth() {
        let c = SimConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.dt(), 0.05);
    }

    #[test]
    fn validate_rejects_bad_configs() {
        let bad: Vec<(&str, SimConfig)> = vec![
            (
                "zero width",
                SimConfig {
                    width: 0.0,
                    ..Default::default()
                },
            ),
            (
                "negative height",
                SimConfig {
                    height: -5.0,
                    ..Default::default()
                },
            ),
            (
                "nan radius",
                SimConfig {
                    player_radius: f32::NAN,
                    ..Default::default()
                },
            ),
            (
                "inf accel",
                SimConfig {
                    accel: f32::INFINITY,
                    ..Default::default()
                },
            ),
            (
                "zero max speed",
                SimConfig {
                    max_speed: 0.0,
                    ..Default::default()
                },
            ),
            (
                "zero pellet radius",
                SimConfig {
                    pellet_radius: 0.0,
                    ..Default::default()
                },
            ),
            (
                "tick rate 0",
                SimConfig {
                    tick_rate_hz: 0,
                    ..Default::default()
                },
            ),
            (
                "tick rate 241",
                SimConfig {
                    tick_rate_hz: 241,
                    ..Default::default()
                },
            ),
            (
                "friction 0",
                SimConfig {
                    friction: 0.0,
                    ..Default::default()
                },
            ),
            (
                "friction > 1",
                SimConfig {
                    friction: 1.5,
                    ..Default::default()
                },
            ),
            (
                "friction nan",
                SimConfig {
                    friction: f32::NAN,
                    ..Default::default()
                },
            ),
            (
                "player too big",
                SimConfig {
                    width: 30.0,
                    height: 1000.0,
                    ..Default::default()
                },
            ),
            (
                "pellet too big",
                SimConfig {
                    pellet_radius: 600.0,
                    player_radius: 1.0,
                    ..Default::default()
                },
            ),
            (
                "too many pellets",
                SimConfig {
                    pellet_count: 70_000,
                    ..Default::default()
                },
            ),
        ];
        for (what, config) in bad {
            assert!(config.validate().is_err(), "{what} should be rejected");
        }
    }

    #[test]
    fn validate_accepts_edge_values() {
        let ok = [
            SimConfig {
                friction: 1.0,
                ..Default::default()
            },
            SimConfig {
                tick_rate_hz: 1,
                ..Default::default()
            },
            SimConfig {
                tick_rate_hz: 240,
                ..Default::default()
            },
            SimConfig {
                width: 36.0,
                height: 36.0,
                ..Default::default()
            },
            SimConfig {
                pellet_count: 0,
                ..Default::default()
            },
            SimConfig {
                pellet_count: MAX_PELLETS,
                ..Default::default()
            },
        ];
        for config in ok {
            assert_eq!(config.validate(), Ok(()), "{config:?}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let err = SimConfig {
            width: -1.0,
            ..Default::default()
        }
        .validate();
        let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("width"), "{msg}");
    }
}
