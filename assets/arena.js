// The arena's browser side of its rules: its movement rules 1–3 (sanitize
// steer, movement, bounds) ported from crates/sim (lib.rs docs,
// kinematics.rs), so the demo page predicts its own orb; its input (the
// `steer` of crates/sim/src/game.rs, each axis an i8 where ±127 is full
// deflection); and `arenaModel`, the prediction model the page plugs into
// tickroom-client's RoomClient. It is the arena's, not the client
// package's: the package knows no game. Bumps and pellets (rules 4–5) are
// not predicted: the server's frames correct them. Every operation is
// rounded to f32 with Math.fround, in the same order as the Rust code, so the
// port computes the server's numbers bit for bit at any step rate;
// clients/js/test/arena.test.mjs replays a fixture written by the Rust sim
// (clients/js/test/sim_vectors.json, at 20, 30, 40 and 60 steps a second,
// and the per-step constants at every rate up to 240) and checks exact
// agreement.
//
// One step lasts 1 / step rate: the Welcome's `sim_rate_hz` (a whole
// multiple of `tick_rate_hz`, equal to it unless the server runs with
// --sim-rate). The rules' constants come from the room's config (the
// Welcome's `config`: width, height, player_radius, accel, max_speed,
// friction).

const f = Math.fround;

/**
 * Per-room constants of rules 2 and 3 for one simulation step (Rust's
 * `Kinematics::from_config`), from the room's config and step rate
 * (`sim_rate_hz`).
 */
export function kinematics(config, stepRateHz) {
  return { ...kinematicsForStep(config, 1 / stepRateHz), dtMs: 1000 / stepRateHz };
}

/** kinematics() for a step of `dt` seconds (1 / the step rate). */
function kinematicsForStep(config, dt) {
  const dt32 = f(dt);
  const r = f(config.player_radius);
  return {
    dt: dt32,
    dtMs: 1000 * dt, // the exact step period, for clocks (dt is rounded to f32)
    accel: f(config.accel),
    maxSpeed: f(config.max_speed),
    frictionFactor: f(Math.pow(f(config.friction), dt32)),
    minX: r,
    minY: r,
    maxX: f(f(config.width) - r),
    maxY: f(f(config.height) - r),
  };
}

const lengthSq = (x, y) => f(f(x * x) + f(y * y));

/**
 * Rule 1: each non-finite component becomes 0, then a vector longer than 1 is
 * scaled to length 1 (shorter vectors are kept). Returns [x, y].
 */
export function sanitizeSteer(rx, ry) {
  const x = Number.isFinite(rx) ? f(rx) : 0;
  const y = Number.isFinite(ry) ? f(ry) : 0;
  const lenSq = lengthSq(x, y);
  if (!(lenSq > 1)) return [x, y];
  if (Number.isFinite(lenSq)) {
    const len = f(Math.sqrt(lenSq));
    return [f(x / len), f(y / len)];
  }
  // |v|² overflowed: divide by the largest magnitude first.
  const m = Math.max(Math.abs(x), Math.abs(y));
  const ux = f(x / m);
  const uy = f(y / m);
  const len = f(Math.sqrt(lengthSq(ux, uy)));
  return [f(ux / len), f(uy / len)];
}

function confineAxis(p, v, lo, hi) {
  if (p < lo) return [lo, Math.max(v, 0)];
  if (p > hi) return [hi, Math.min(v, 0)];
  return [p, v];
}

/**
 * Rules 2 and 3 for one player alone: Rust's `Kinematics::step` /
 * `tickroom_sim::movement_step`. `state` is { x, y, vx, vy }; returns a new one.
 */
export function step(kin, state, steerX, steerY) {
  const [sx, sy] = sanitizeSteer(steerX, steerY);
  const a = f(kin.accel * kin.dt);
  let vx = f(f(state.vx + f(sx * a)) * kin.frictionFactor);
  let vy = f(f(state.vy + f(sy * a)) * kin.frictionFactor);
  const speedSq = lengthSq(vx, vy);
  if (speedSq > f(kin.maxSpeed * kin.maxSpeed)) {
    const s = f(kin.maxSpeed / f(Math.sqrt(speedSq)));
    vx = f(vx * s);
    vy = f(vy * s);
  }
  const [x, cvx] = confineAxis(f(state.x + f(vx * kin.dt)), vx, kin.minX, kin.maxX);
  const [y, cvy] = confineAxis(f(state.y + f(vy * kin.dt)), vy, kin.minY, kin.maxY);
  return { x, y, vx: cvx, vy: cvy };
}

/** f32 rounding, half away from zero like Rust's `f32::round`. */
const roundHalfAway = (v) => Math.sign(v) * Math.round(Math.abs(v));

/**
 * The arena's input for steering direction (x, y): `{ x, y }`, each axis an
 * i8 where ±127 is full deflection; a direction longer than 1 is scaled to
 * length 1, a non-finite axis is 0 (`SteerInput::from_direction`).
 */
export function steerInput(x, y) {
  x = f(Number(x) || 0);
  y = f(Number(y) || 0);
  const len = f(Math.sqrt(f(f(x * x) + f(y * y))));
  if (len > 1) {
    x = f(x / len);
    y = f(y / len);
  }
  const q = (c) => (Number.isNaN(c) ? 0 : Math.min(127, Math.max(-127, roundHalfAway(f(c * 127)))));
  return { x: q(x) + 0, y: q(y) + 0 }; // `+ 0` turns -0 into 0
}

/** An input's steering direction as the server reads it (`SteerInput::direction`, -128 counting as -127); [0, 0] for none. */
export function steerDirection(input) {
  if (!input) return [0, 0];
  return [f(Math.max(input.x, -127) / 127), f(Math.max(input.y, -127) / 127)];
}

// Step constants per room config and step length, computed once.
const kinCache = new WeakMap();

function kinFor(config, dt) {
  let byDt = kinCache.get(config);
  if (!byDt) {
    byDt = new Map();
    kinCache.set(config, byDt);
  }
  let kin = byDt.get(dt);
  if (!kin) {
    kin = kinematicsForStep(config, dt);
    byDt.set(dt, kin);
  }
  return kin;
}

/**
 * How far (units/s) the velocity derived from the server's positions may be
 * from the predicted one before it replaces it: past the position
 * quantization (a quarter unit a frame is 5 units/s at 20 Hz) and the
 * averaging over sub-steps, so only a bump or a wall the prediction missed.
 */
export const VEL_TRUST = 40;

/**
 * The arena's prediction model for tickroom-client (RoomClient's `model`):
 * one step of rules 1–3 on the own orb's components (`pos`, `vel`) under
 * its held steering (none: coasting), for the room's config. The arena
 * replicates positions, not velocities (a velocity changes nearly every
 * frame and would cost more than the position itself), so `settle` gives
 * the server's state the velocity its clients derive: the predicted one,
 * unless the move since the previous server frame says otherwise (a bump).
 */
export const arenaModel = {
  settle(server, { previous, previousTick, tick, predicted, frameDt }) {
    if (server.vel || !server.pos) return server;
    let vel = predicted?.vel ?? { x: 0, y: 0 };
    if (previous?.pos && tick > previousTick && frameDt > 0) {
      const age = (tick - previousTick) * frameDt;
      const dx = (server.pos.x - previous.pos.x) / age;
      const dy = (server.pos.y - previous.pos.y) / age;
      if (!predicted?.vel || Math.hypot(dx - vel.x, dy - vel.y) > VEL_TRUST) vel = { x: dx, y: dy };
    }
    return { ...server, vel };
  },

  step(state, input, dt, config) {
    const kin = kinFor(config, dt);
    const [sx, sy] = steerDirection(input);
    const pos = state.pos ?? { x: 0, y: 0 };
    const vel = state.vel ?? { x: 0, y: 0 };
    const s = step(kin, { x: pos.x, y: pos.y, vx: vel.x, vy: vel.y }, sx, sy);
    return { ...state, pos: { x: s.x, y: s.y }, vel: { x: s.vx, y: s.vy } };
  },
};
