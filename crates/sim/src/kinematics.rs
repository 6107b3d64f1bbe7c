//! Pure, ECS-free rule functions: steering sanitisation, one player's movement
//! (rules 2 and 3), the pairwise bump (rule 4) and the pellet reach test.
//!
//! The systems call exactly these functions, so a port (the JS client's
//! prediction) or a bench can be checked against them without building a
//! [`crate::Room`].

use glam::Vec2;

use crate::SimConfig;

/// Centre distances at or below this are treated as coincident by [`bump`].
pub const COINCIDENT_EPSILON: f32 = 1e-6;

/// Makes a raw steering input usable: each non-finite component becomes `0`,
/// then a vector longer than `1` is scaled to length `1` (shorter ones are kept,
/// so analogue sticks can steer gently).
pub fn sanitize_steer(raw: Vec2) -> Vec2 {
    let finite = |c: f32| if c.is_finite() { c } else { 0.0 };
    let v = Vec2::new(finite(raw.x), finite(raw.y));
    let len_sq = v.length_squared();
    if len_sq > 1.0 {
        if len_sq.is_finite() {
            v / len_sq.sqrt()
        } else {
            // |v|² overflowed (a component above ~1.8e19): divide by the largest
            // magnitude first, which leaves the direction and makes it finite.
            let u = v / v.abs().max_element();
            u / u.length()
        }
    } else {
        v
    }
}

/// Per-room constants of rules 2 and 3, precomputed once from a [`SimConfig`]
/// (notably `friction_factor = friction.powf(dt)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kinematics {
    /// Seconds per step.
    pub dt: f32,
    /// Acceleration at full steer, units/s².
    pub accel: f32,
    /// Speed cap, units/s.
    pub max_speed: f32,
    /// Velocity multiplier per step: `friction.powf(dt)`.
    pub friction_factor: f32,
    /// Smallest allowed centre: `(player_radius, player_radius)`.
    pub min: Vec2,
    /// Largest allowed centre: `(width - player_radius, height - player_radius)`.
    pub max: Vec2,
}

impl Kinematics {
    /// Precomputes the constants for `config`.
    pub fn from_config(config: &SimConfig) -> Self {
        let dt = config.dt();
        let r = config.player_radius;
        Self {
            dt,
            accel: config.accel,
            max_speed: config.max_speed,
            friction_factor: config.friction.powf(dt),
            min: Vec2::splat(r),
            max: Vec2::new(config.width - r, config.height - r),
        }
    }

    /// Rules 2 and 3 for one player alone; returns the new `(pos, vel)`.
    ///
    /// ```text
    /// steer = sanitize_steer(steer)
    /// vel  += steer * accel * dt
    /// vel  *= friction_factor
    /// if |vel| > max_speed { vel *= max_speed / |vel| }
    /// pos  += vel * dt
    /// (pos, vel) = confine(pos, vel)
    /// ```
    pub fn step(&self, pos: Vec2, vel: Vec2, steer: Vec2) -> (Vec2, Vec2) {
        let steer = sanitize_steer(steer);
        let mut vel = (vel + steer * (self.accel * self.dt)) * self.friction_factor;
        let speed_sq = vel.length_squared();
        if speed_sq > self.max_speed * self.max_speed {
            vel *= self.max_speed / speed_sq.sqrt();
        }
        self.confine(pos + vel * self.dt, vel)
    }

    /// Rule 3: per axis, a centre below `min` is set to `min` and a negative
    /// velocity component on that axis becomes `0`; a centre above `max` is set
    /// to `max` and a positive velocity component becomes `0`. Never panics,
    /// even when `min > max` (invalid config).
    pub fn confine(&self, pos: Vec2, vel: Vec2) -> (Vec2, Vec2) {
        let (px, vx) = confine_axis(pos.x, vel.x, self.min.x, self.max.x);
        let (py, vy) = confine_axis(pos.y, vel.y, self.min.y, self.max.y);
        (Vec2::new(px, py), Vec2::new(vx, vy))
    }
}

fn confine_axis(p: f32, v: f32, lo: f32, hi: f32) -> (f32, f32) {
    if p < lo {
        (lo, v.max(0.0))
    } else if p > hi {
        (hi, v.min(0.0))
    } else {
        (p, v)
    }
}

/// Rules 2 and 3 for one player alone with `config`'s constants:
/// `Kinematics::from_config(config).step(pos, vel, steer)`. Returns the new
/// `(pos, vel)`. Prefer building a [`Kinematics`] once when stepping often.
pub fn movement_step(pos: Vec2, vel: Vec2, steer: Vec2, config: &SimConfig) -> (Vec2, Vec2) {
    Kinematics::from_config(config).step(pos, vel, steer)
}

/// One body in the pairwise bump: a player's centre and velocity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Body {
    /// Centre.
    pub pos: Vec2,
    /// Velocity, units/s.
    pub vel: Vec2,
}

/// Rule 4 for one pair; `a` must be the player with the lower id. Returns
/// whether they overlapped.
///
/// ```text
/// d = b.pos - a.pos ; min_dist = 2 * player_radius
/// if |d|² >= min_dist²: nothing (not overlapping)
/// n = d / |d|, or (-1, 0) if |d| <= 1e-6 (so the lower id is pushed towards +x)
/// overlap = min_dist - |d|
/// a.pos -= n * overlap / 2 ; b.pos += n * overlap / 2
/// if (b.vel - a.vel) · n < 0:          (approaching)
///     an = a.vel · n ; bn = b.vel · n
///     a.vel += (bn - an) * n ; b.vel += (an - bn) * n
/// ```
pub fn bump(a: &mut Body, b: &mut Body, player_radius: f32) -> bool {
    let min_dist = 2.0 * player_radius;
    let d = b.pos - a.pos;
    let dist_sq = d.length_squared();
    if dist_sq >= min_dist * min_dist {
        return false;
    }
    let dist = dist_sq.sqrt();
    let n = if dist > COINCIDENT_EPSILON {
        d / dist
    } else {
        Vec2::new(-1.0, 0.0)
    };
    let half = n * ((min_dist - dist) * 0.5);
    a.pos -= half;
    b.pos += half;
    if (b.vel - a.vel).dot(n) < 0.0 {
        let an = a.vel.dot(n);
        let bn = b.vel.dot(n);
        a.vel += n * (bn - an);
        b.vel += n * (an - bn);
    }
    true
}

/// Rule 4 for a whole room: `bodies` must be sorted by player id. Every pair
/// `(i, j)` with `i < j` is bumped in lexicographic order, each bump seeing the
/// results of the previous ones; afterwards every body is confined again
/// (rule 3).
pub fn resolve_bumps(bodies: &mut [Body], player_radius: f32, kinematics: &Kinematics) {
    let n = bodies.len();
    for i in 0..n {
        for j in (i + 1)..n {
            let (left, right) = bodies.split_at_mut(j);
            if let (Some(a), Some(b)) = (left.get_mut(i), right.first_mut()) {
                bump(a, b, player_radius);
            }
        }
    }
    for body in bodies.iter_mut() {
        (body.pos, body.vel) = kinematics.confine(body.pos, body.vel);
    }
}

/// Rule 5's overlap test: a player at `player` reaches a pellet at `pellet`
/// iff `|player - pellet|² < (player_radius + pellet_radius)²`.
pub fn reaches(player: Vec2, pellet: Vec2, player_radius: f32, pellet_radius: f32) -> bool {
    let reach = player_radius + pellet_radius;
    (player - pellet).length_squared() < reach * reach
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kin() -> Kinematics {
        Kinematics::from_config(&SimConfig::default())
    }

    #[test]
    fn sanitize_clamps_length_and_zeroes_non_finite() {
        assert_eq!(sanitize_steer(Vec2::new(0.3, -0.4)), Vec2::new(0.3, -0.4));
        let v = sanitize_steer(Vec2::new(30.0, 40.0));
        assert!((v - Vec2::new(0.6, 0.8)).length() < 1e-6);
        assert_eq!(
            sanitize_steer(Vec2::new(f32::NAN, 0.5)),
            Vec2::new(0.0, 0.5)
        );
        assert_eq!(
            sanitize_steer(Vec2::new(f32::INFINITY, f32::NEG_INFINITY)),
            Vec2::ZERO
        );
        for raw in [
            Vec2::new(f32::MAX, f32::MAX),
            Vec2::new(1e20, -1e20),
            Vec2::new(0.0, 3e30),
        ] {
            let v = sanitize_steer(raw);
            assert!((v.length() - 1.0).abs() < 1e-6, "{raw:?} -> {v:?}");
            assert_eq!(v.x.signum(), raw.x.signum());
            assert_eq!(v.y.signum(), raw.y.signum());
        }
    }

    #[test]
    fn step_from_rest_matches_the_documented_formula() {
        let k = kin();
        let pos = Vec2::new(800.0, 500.0);
        let (p, v) = k.step(pos, Vec2::ZERO, Vec2::X);
        let expect_v = 1400.0 * 0.05 * 0.05f32.powf(0.05);
        assert!((v.x - expect_v).abs() < 1e-3, "{v:?}");
        assert_eq!(v.y, 0.0);
        assert!((p.x - (800.0 + expect_v * 0.05)).abs() < 1e-3);
        assert_eq!(
            movement_step(pos, Vec2::ZERO, Vec2::X, &SimConfig::default()),
            (p, v)
        );
    }

    #[test]
    fn confine_zeroes_only_outward_components() {
        let k = kin();
        let (p, v) = k.confine(Vec2::new(-5.0, 2000.0), Vec2::new(-10.0, 7.0));
        assert_eq!(p, Vec2::new(18.0, 982.0));
        assert_eq!(v, Vec2::ZERO);
        // Clamped on x but moving inwards: velocity kept.
        let (p, v) = k.confine(Vec2::new(1700.0, 500.0), Vec2::new(-3.0, 4.0));
        assert_eq!(p, Vec2::new(1582.0, 500.0));
        assert_eq!(v, Vec2::new(-3.0, 4.0));
    }

    #[test]
    fn bump_coincident_pushes_lower_id_towards_plus_x() {
        let mut a = Body {
            pos: Vec2::new(100.0, 100.0),
            vel: Vec2::ZERO,
        };
        let mut b = a;
        assert!(bump(&mut a, &mut b, 18.0));
        assert_eq!(a.pos, Vec2::new(118.0, 100.0));
        assert_eq!(b.pos, Vec2::new(82.0, 100.0));
    }

    #[test]
    fn bump_ignores_touching_and_separating_velocities() {
        let mut a = Body {
            pos: Vec2::new(100.0, 100.0),
            vel: Vec2::ZERO,
        };
        let mut b = Body {
            pos: Vec2::new(136.0, 100.0),
            vel: Vec2::ZERO,
        };
        assert!(!bump(&mut a, &mut b, 18.0));
        // Overlapping but already moving apart: pushed, velocities untouched.
        let mut a = Body {
            pos: Vec2::new(100.0, 100.0),
            vel: Vec2::new(-5.0, 0.0),
        };
        let mut b = Body {
            pos: Vec2::new(130.0, 100.0),
            vel: Vec2::new(5.0, 1.0),
        };
        assert!(bump(&mut a, &mut b, 18.0));
        assert_eq!(a.vel, Vec2::new(-5.0, 0.0));
        assert_eq!(b.vel, Vec2::new(5.0, 1.0));
        assert!(((b.pos - a.pos).length() - 36.0).abs() < 1e-4);
    }
}
