// The client's netcode, free of DOM and sockets so node tests can drive it:
// client-side prediction with server reconciliation for the own player,
// entity interpolation for everyone else, and the clock that maps server ticks
// onto local time.
//
// Prediction model. The server steps its room every `dt`: one simulation step
// per frame by default (50 ms at 20 Hz), or k = sim_rate / tick_rate steps per
// frame with --sim-rate (16.7 ms steps at 60 Hz, k = 3). Step n applies, per
// player, the newest input that reached the room before the step started, and
// steering is *held* until the next input; every k-th step ends a frame (tick
// T is the state after step T·k, and its last_input_seq the newest input
// applied in any step up to it). The client keeps every input it sent (seq,
// send time, steer) until it is acknowledged, and an estimate of the *input
// boundary* of each step: the local time B(n) = n·dt + offset such that step
// n applied the inputs sent before B(n). Each frame bounds it at its last
// step: the acknowledged input (seq ≤ last_input_seq) was sent before
// B(T·k), the next one after, so offset is smoothed towards the middle of that
// window. The predicted player is at step K = the last boundary that local
// time has passed; step n is simulated with the steer of the newest input
// sent before B(n) — what the server will hold in that step. With k = 1 steps
// and ticks are the same thing.
//
// On each frame (tick T, own state, last_input_seq A) — a full snapshot or a
// delta rebuilt by the Replica (protocol.js), the same to this code, and not
// necessarily the tick after the previous frame (frames dropped for a slow
// reader leave gaps; nothing here assumes consecutive ticks): inputs
// with seq < A are dropped (A itself stays: it is the steer the server holds),
// the state is reset to the server's and steps T·k+1..K are replayed, one
// fixed step each with the steer held at that step's boundary. The
// difference from the state predicted before is added to a visual offset that
// decays in ~100 ms, so corrections glide instead of snapping.
//
// Approximations (all corrected by the next frame, and smoothed):
// - The boundary offset assumes a steady one-way latency; jitter moves an
//   input across a step boundary now and then, so a steer change may be
//   predicted one step early or late (a correction of a few units, less at
//   shorter steps).
// - Inputs go out at 30 Hz: at a 20 Hz step rate the server applies one per
//   step and the replay, like the server, skips inputs superseded within a
//   step; at 60 Hz a held steer spans two steps.
// - Server positions and velocities arrive quantized to 1/4 unit (quant.rs
//   SCALE = 4), so the replay starts up to 1/8 unit (and 1/8 unit/s) off.
// - Frames are canonical (protocol v4): where the sim's velocity is within
//   VEL_TOLERANCE (40 wire units = 10 units/s, per axis) of the one derived
//   from the player's last one-frame move (move × frame rate), the server
//   publishes the derived one, in full snapshots and deltas alike, so a delta
//   usually carries only the move (the Replica derives the velocity from it,
//   over `base_age` ticks for a delta against an older frame, and the server
//   sends the velocity wherever that differs). The sim moves a player by its
//   end-of-step velocity × dt, so with one step per frame the derived
//   velocity is the true one up to the rounding of two positions (up to 5
//   units/s off; walls and bumps make it worse, and then the server keeps the
//   sim's); with k steps per frame it is the frame's mean velocity, the same
//   while the velocity holds (at rest, at full speed), else more than the
//   tolerance off and the server sends the sim's. The Replica marks each
//   player of a frame with `velDerived`: false only when it knows the
//   velocity is the sim's (after a delta against the previous tick's frame:
//   not the derived one, or a player who just joined), true otherwise.
//   Replaying from a velocity even 5 units/s off drifts 0.25 unit per 50 ms
//   predicted, so for an own player flagged `velDerived` the caller passes
//   that tolerance to reconcile() (velTolerance() below), which takes the
//   velocity this predictor had for tick T (its step T·k), clamped into the server's ±
//   tolerance: the exact value when the prediction was right, the nearest
//   value the server allows otherwise. A velocity known to be the sim's is
//   taken as is. Other players' velocities only matter for the short
//   extrapolation past the newest frame.
// - Bumps with other players and pellets are not predicted (rules 4–5); a bump
//   shows up one round trip late as a correction.

import { QUANT_SCALE, VEL_TOLERANCE } from './protocol.js';

/** Render other players this far in the past, so two snapshots bracket the render time. */
export const INTERP_DELAY_MS = 100;
/** Corrections larger than this (units) snap instead of being smoothed (a respawn or teleport). */
export const SNAP_DISTANCE = 120;
/** Time constant of the exponential decay of a smoothed correction, ms. */
export const CORRECTION_TAU_MS = 90;
/** Most frame ticks predicted ahead of the newest snapshot (2 s at 20 Hz; k times as many steps). */
export const MAX_PREDICT_TICKS = 40;
/** Unacknowledged inputs kept at most (4 s at 30 Hz). */
export const MAX_PENDING_INPUTS = 120;
/**
 * How far (units/s) a velocity the server may have derived from a player's
 * move (a canonical frame's, flagged `velDerived` by the Replica) is from the
 * sim's: VEL_TOLERANCE steps plus half a step of quantization. Pass it to
 * Predictor.reconcile for such frames.
 */
export const DERIVED_VEL_TOLERANCE = (VEL_TOLERANCE + 0.5) / QUANT_SCALE;

/**
 * The `velTolerance` to pass to Predictor.reconcile for a player of a Replica
 * frame (protocol.js): DERIVED_VEL_TOLERANCE when its velocity may be the one
 * derived from its move (`velDerived`), 0 when the Replica knows it is the
 * sim's (see the notes above).
 */
export function velTolerance(player) {
  return player.velDerived === true ? DERIVED_VEL_TOLERANCE : 0;
}

/**
 * Client-side prediction of the own player, with reconciliation.
 *
 * The game's rules come in as `model`, so another game reuses this code with
 * its own step: `{ stepMs, step(state, steerX, steerY) }`, where `stepMs` is
 * one simulation step's length in milliseconds (1000 / the Welcome's
 * `sim_rate_hz`) and `step` returns the own player's state one step later
 * under that steer, exactly as the server's simulation would (a new object;
 * `state` is not changed). States are objects with at least `x` and `y` in
 * world units (smoothing and snapping use them) and, for the velocity
 * tolerance of reconcile(), `vx` and `vy` in units per second (used only
 * when both the prediction and the server's state have both); the predictor
 * hands states to the model's `step` as they are, so whatever else a game
 * keeps in them lasts as far as its `step` keeps it. arena.js's `arenaModel()` is
 * the built-in arena game's model. Times are local milliseconds.
 * `stepsPerFrame` is the steps per frame tick (`sim_rate_hz / tick_rate_hz`,
 * 1 without --sim-rate). Step numbers count from the room's start like the
 * server's: tick T ends at step T · stepsPerFrame.
 */
export class Predictor {
  constructor(model, stepsPerFrame = 1) {
    if (!model || typeof model.step !== 'function' || !(model.stepMs > 0)) {
      throw new TypeError('Predictor: model must be { stepMs > 0, step(state, steerX, steerY) }');
    }
    this.model = model;
    this.dtMs = model.stepMs; // one step
    this.stepsPerFrame = Math.max(1, Math.round(stepsPerFrame));
    this.maxSteps = MAX_PREDICT_TICKS * this.stepsPerFrame; // most steps predicted ahead
    this.inputs = []; // [{ seq, at, sx, sy }]: the newest acknowledged input, then the unacknowledged ones
    this.offset = null; // input boundary of step n is at n * dtMs + offset (local ms)
    this.baseTick = 0; // the newest snapshot's tick
    this.baseStep = 0; // ...and its last step (baseTick * stepsPerFrame)
    this.base = null; // the newest snapshot's own state (dequantized)
    this.simStep = 0; // the step `state` is at
    this.state = null; // predicted state at `simStep`
    this.prev = null; // predicted state at `simStep - 1`, for rendering between steps
    this.ackSeq = 0;
    this.error = { x: 0, y: 0 }; // visual offset that decays to 0
    this.history = new Map(); // step -> predicted state, for frames whose velocity may be the derived one
    this.corrections = 0; // smoothed corrections over half a unit
    this.worstCorrection = 0; // the largest smoothed correction, units
    this.snaps = 0;
    this.calibrated = false;
  }

  /** The newest authoritative state of the own player. */
  get server() {
    return this.base;
  }

  /** The frame tick the prediction is in (the last one whose final step it has passed). */
  get tick() {
    return Math.floor(this.simStep / this.stepsPerFrame);
  }

  /** The state predicted at the end of frame tick `tick` (its last step), if still kept. */
  predictedAt(tick) {
    return this.history.get(tick * this.stepsPerFrame);
  }

  /** Starts from a snapshot's state (the first one after joining). */
  reset(server, serverTick, now) {
    const n = serverTick * this.stepsPerFrame;
    this.base = server;
    this.baseTick = serverTick;
    this.baseStep = n;
    this.simStep = n;
    this.state = server;
    this.prev = server;
    this.inputs = [];
    this.offset = now - n * this.dtMs; // until inputs are acknowledged: no lead
    this.calibrated = false;
    this.error = { x: 0, y: 0 };
    this.history = new Map([[n, server]]);
  }

  remember(n, state) {
    this.history.set(n, state);
    if (this.history.size > 2 * this.maxSteps) this.history.delete(this.history.keys().next().value);
  }

  /** Records input `seq`, sent at local time `now` with steer (sx, sy) as the server will see it (dequantized). */
  hold(seq, sx, sy, now) {
    this.inputs.push({ seq, at: now, sx, sy });
    if (this.inputs.length > MAX_PENDING_INPUTS) this.inputs.shift();
  }

  /**
   * Forgets every input sent so far: after the connection dropped, the server
   * holds no steer for this player (it coasts to a stop while waiting for a
   * resume), so the prediction coasts the same way until new inputs go out.
   * The acknowledged sequence number and the step boundary estimate stay.
   */
  dropInputs() {
    this.inputs = [];
  }

  /** The input boundary of step `n` (local ms). */
  boundary(n) {
    return n * this.dtMs + this.offset;
  }

  /** The steer the server holds in step `n`: the newest input sent before the step's boundary. */
  steerFor(n) {
    const b = this.boundary(n);
    let sx = 0;
    let sy = 0;
    for (let i = 0; i < this.inputs.length; i++) {
      const input = this.inputs[i];
      // The acknowledged input is held by the server whatever the estimate says.
      if (input.at >= b && !(i === 0 && input.seq <= this.ackSeq)) break;
      sx = input.sx;
      sy = input.sy;
    }
    return [sx, sy];
  }

  /** Steps the prediction through every step boundary local time has passed. */
  advance(now) {
    if (!this.state) return;
    let steps = 0;
    while (this.boundary(this.simStep + 1) <= now && this.simStep - this.baseStep < this.maxSteps) {
      this.simStep++;
      this.prev = this.state;
      this.state = this.model.step(this.state, ...this.steerFor(this.simStep));
      this.remember(this.simStep, this.state);
      if (++steps > this.maxSteps) break;
    }
  }

  /**
   * A frame of tick `serverTick` (any tick after the previous frame's)
   * whose own-player state `server` (after the tick's last step) includes
   * every input up to `ackSeq`, received at local time `now`: re-estimate the
   * step boundary, rebase on the server state and replay up to the present.
   * `velTolerance` (units/s, 0 = exact): how far the server's velocity may be
   * from the sim's, as for one derived from the player's move; the velocity
   * predicted for that step is used when it lies within it.
   */
  reconcile(server, serverTick, ackSeq, now, velTolerance = 0) {
    if (!this.state) {
      this.reset(server, serverTick, now);
      return;
    }
    this.advance(now);
    const n0 = serverTick * this.stepsPerFrame;
    const guess = velTolerance > 0 ? this.history.get(n0) : undefined;
    if (guess && [guess.vx, guess.vy, server.vx, server.vy].every(Number.isFinite)) {
      const near = (v, c) => Math.min(c + velTolerance, Math.max(c - velTolerance, v));
      server = { ...server, vx: near(guess.vx, server.vx), vy: near(guess.vy, server.vy) };
    }
    const before = this.state;
    this.ackSeq = Math.max(this.ackSeq, ackSeq);
    // Keep the acknowledged input (the steer the server holds) and newer ones.
    let drop = 0;
    while (drop + 1 < this.inputs.length && this.inputs[drop + 1].seq <= this.ackSeq) drop++;
    if (drop > 0) this.inputs.splice(0, drop);
    this.estimateBoundary(n0, now);

    this.base = server;
    this.baseTick = serverTick;
    this.baseStep = n0;
    // The present: the last step boundary local time has passed, by the new
    // estimate. A frame's re-estimate moves the offset by a fraction of a
    // millisecond (frames sample the input windows at alternating phases),
    // which with one step per frame rarely moves the horizon; with sub-steps
    // (16.7 ms at 60 Hz) it would move it back and forth by a step on every
    // frame that arrives near a step boundary, each time a step's travel of
    // correction. So with sub-steps the step advance() reached stands unless
    // the estimate moved it by more than one step (the next advance() steps
    // on from there: a step early or late by the new estimate, not a jump).
    let target = Math.floor((now - this.offset) / this.dtMs);
    if (this.stepsPerFrame > 1 && Math.abs(target - this.simStep) <= 1) target = this.simStep;
    target = Math.min(Math.max(n0, target), n0 + this.maxSteps);
    let s = server;
    let prev = server;
    for (const n of this.history.keys()) if (n < n0) this.history.delete(n);
    this.remember(n0, server);
    for (let n = n0 + 1; n <= target; n++) {
      prev = s;
      s = this.model.step(s, ...this.steerFor(n));
      this.remember(n, s);
    }
    this.simStep = target;
    this.prev = prev;
    this.state = s;

    const ex = this.error.x + (before.x - s.x);
    const ey = this.error.y + (before.y - s.y);
    if (Math.hypot(ex, ey) > SNAP_DISTANCE) {
      this.error = { x: 0, y: 0 };
      this.snaps++;
    } else {
      this.error = { x: ex, y: ey };
      const size = Math.hypot(before.x - s.x, before.y - s.y);
      if (size > 0.5) this.corrections++;
      this.worstCorrection = Math.max(this.worstCorrection, size);
    }
  }

  // The acknowledged input was sent before the boundary of step `n` (the
  // frame's last) and the next input after it (or it has not been sent yet):
  // move the offset towards the middle of that window.
  estimateBoundary(n, now) {
    const acked = this.inputs[0];
    if (!acked || acked.seq !== this.ackSeq) return;
    const next = this.inputs[1];
    const lo = acked.at - n * this.dtMs;
    const hi = (next ? next.at : now) - n * this.dtMs;
    const mid = (lo + hi) / 2;
    if (!this.calibrated || Math.abs(mid - this.offset) > 4 * this.dtMs * this.stepsPerFrame) {
      this.offset = mid;
      this.calibrated = true;
    } else {
      this.offset += (mid - this.offset) * 0.1;
    }
  }

  /** Lets the visual error decay over `elapsedMs`. */
  decay(elapsedMs) {
    const k = Math.exp(-elapsedMs / CORRECTION_TAU_MS);
    this.error.x *= k;
    this.error.y *= k;
    if (Math.abs(this.error.x) < 1e-3) this.error.x = 0;
    if (Math.abs(this.error.y) < 1e-3) this.error.y = 0;
  }

  /**
   * Where to draw the player at local time `now`: between the previous and
   * the current predicted step (one step of smoothing), plus the decaying
   * correction offset.
   */
  renderPos(now) {
    if (!this.state) return null;
    const p = this.prev ?? this.state;
    const alpha = this.offset === null ? 1 : Math.min(1, Math.max(0, (now - this.boundary(this.simStep)) / this.dtMs));
    return {
      x: p.x + (this.state.x - p.x) * alpha + this.error.x,
      y: p.y + (this.state.y - p.y) * alpha + this.error.y,
    };
  }
}

/**
 * Maps server ticks onto the local clock (performance.now() milliseconds):
 * `localTime(tick) = offset + tick * dtMs`. The offset follows the earliest
 * arrivals quickly and later ones slowly, so network jitter does not shake the
 * interpolation, and it resets after a long gap (a backgrounded tab).
 */
export class ServerClock {
  constructor(dtMs) {
    this.dtMs = dtMs;
    this.offset = null;
  }

  observe(tick, nowMs) {
    const sample = nowMs - tick * this.dtMs;
    if (this.offset === null || Math.abs(sample - this.offset) > 1000) {
      this.offset = sample;
    } else if (sample < this.offset) {
      this.offset += (sample - this.offset) * 0.3;
    } else {
      this.offset += (sample - this.offset) * 0.03;
    }
  }

  /** The (fractional) server tick to render other players at. */
  renderTick(nowMs, delayMs = INTERP_DELAY_MS) {
    if (this.offset === null) return 0;
    return (nowMs - delayMs - this.offset) / this.dtMs;
  }
}

/**
 * A short buffer of snapshots for entity interpolation: positions of every
 * player by tick, sampled between the two snapshots that bracket a render tick.
 */
export class Interpolator {
  constructor(capacity = 32) {
    this.capacity = capacity;
    this.frames = []; // [{ tick, players: Map(id -> { x, y, vx, vy }) }], ascending ticks
  }

  push(tick, players) {
    const last = this.frames[this.frames.length - 1];
    if (last && tick <= last.tick) return; // stale or duplicate
    this.frames.push({ tick, players });
    if (this.frames.length > this.capacity) this.frames.shift();
  }

  clear() {
    this.frames = [];
  }

  /**
   * Positions at `renderTick` for every player of the newest frame at or
   * before it (players appear and leave on the same delayed timeline as
   * movement). Beyond the newest frame, positions are extrapolated with the
   * velocity for at most `maxExtrapolateTicks`.
   */
  sample(renderTick, maxExtrapolateTicks = 2) {
    const out = new Map();
    const frames = this.frames;
    if (frames.length === 0) return out;
    let i = frames.length - 1;
    while (i > 0 && frames[i].tick > renderTick) i--;
    const a = frames[i];
    const b = frames[i + 1];
    if (!b || renderTick < a.tick) {
      // Before the oldest frame: hold it; after the newest: extrapolate a little.
      const dtTicks = Math.min(Math.max(renderTick - a.tick, 0), maxExtrapolateTicks);
      const dtSec = dtTicks * this.dtSec;
      for (const [id, p] of a.players) {
        out.set(id, { x: p.x + p.vx * dtSec, y: p.y + p.vy * dtSec });
      }
      return out;
    }
    const t = (renderTick - a.tick) / (b.tick - a.tick);
    for (const [id, pb] of b.players) {
      const pa = a.players.get(id);
      if (!pa) {
        if (t >= 0.5) out.set(id, { x: pb.x, y: pb.y });
        continue;
      }
      out.set(id, { x: pa.x + (pb.x - pa.x) * t, y: pa.y + (pb.y - pa.y) * t });
    }
    // Players who left in `b` vanish halfway between the two frames.
    if (t < 0.5) {
      for (const [id, pa] of a.players) if (!b.players.has(id)) out.set(id, { x: pa.x, y: pa.y });
    }
    return out;
  }

  /** Seconds per tick, for extrapolation; set from the Welcome's tick rate. */
  get dtSec() {
    return this._dtSec ?? 0.05;
  }

  set dtSec(v) {
    this._dtSec = v;
  }
}

/** Counts events in a sliding one-second window (snapshots per second). */
export class RateMeter {
  constructor(windowMs = 1000) {
    this.windowMs = windowMs;
    this.times = [];
  }

  mark(nowMs) {
    this.times.push(nowMs);
    this.trim(nowMs);
  }

  rate(nowMs) {
    this.trim(nowMs);
    return (this.times.length * 1000) / this.windowMs;
  }

  trim(nowMs) {
    while (this.times.length && this.times[0] <= nowMs - this.windowMs) this.times.shift();
  }
}
