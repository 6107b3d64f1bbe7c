// The built-in arena game's movement rules 1–3 (sanitize steer, movement,
// bounds) ported from crates/sim (lib.rs docs, kinematics.rs), so a client of
// a server running that game can predict its own player: `arenaModel()` is
// the prediction model the RoomClient uses by default. A game with other
// rules passes its own model instead (see netcode.js's Predictor). Bumps and
// pellets (rules 4–5) are not predicted: the server's snapshots correct
// them. Every operation is rounded to f32 with Math.fround, in the same order
// as the Rust code, so the port computes the server's numbers bit for bit at
// any step rate; test/arena.test.mjs replays a fixture written by the Rust
// sim (test/sim_vectors.json, at 20, 30, 40 and 60 steps a second, and the
// per-step constants at every rate up to 240) and checks exact agreement.
//
// One step lasts 1 / step rate: the Welcome's `sim_rate_hz` (a whole multiple
// of `tick_rate_hz`, equal to it unless the server runs with --sim-rate).

const f = Math.fround;

/**
 * Per-room constants of rules 2 and 3 for one simulation step (Rust's
 * `Kinematics::from_config`), from the Welcome message's `arena` and step
 * rate (`sim_rate_hz`; `tick_rate_hz` from a server without sub-steps).
 */
export function kinematics(arena, stepRateHz) {
  const dt = f(1 / stepRateHz);
  const r = f(arena.player_radius);
  return {
    dt,
    dtMs: 1000 / stepRateHz, // the exact step period, for clocks (dt is rounded to f32)
    accel: f(arena.accel),
    maxSpeed: f(arena.max_speed),
    frictionFactor: f(Math.pow(f(arena.friction), dt)),
    minX: r,
    minY: r,
    maxX: f(f(arena.width) - r),
    maxY: f(f(arena.height) - r),
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

/**
 * The arena game's prediction model for netcode.js's Predictor (and the
 * game client): one step of rules 1–3 at `stepRateHz` steps a second (the
 * Welcome's `sim_rate_hz`), for the room described by the Welcome's `arena`.
 */
export function arenaModel(arena, stepRateHz) {
  const kin = kinematics(arena, stepRateHz);
  return {
    stepMs: kin.dtMs,
    kinematics: kin,
    step: (state, steerX, steerY) => step(kin, state, steerX, steerY),
  };
}
