// The client's netcode, free of DOM and sockets so node tests can drive it:
// client-side prediction with server reconciliation for the own player,
// entity interpolation for everyone else, and the clock that maps server ticks
// onto local time.
//
// Prediction model. The server steps its room every `dt` (50 ms at 20 Hz);
// tick T applies, per player, the newest input that reached the room before
// the tick started, and steering is *held* until the next input. The client
// keeps every input it sent (seq, send time, steer) until it is acknowledged,
// and an estimate of the *input boundary* of each server tick: the local time
// B(T) = T·dt + offset such that tick T applied the inputs sent before B(T).
// Each snapshot bounds it: the acknowledged input (seq ≤ last_input_seq) was
// sent before B(T), the next one after, so offset is smoothed towards the
// middle of that window. The predicted player is at tick K = the last boundary
// that local time has passed; tick k is stepped with the steer of the newest
// input sent before B(k) — what the server will hold in that tick.
//
// On each frame (tick T, own state, last_input_seq A) — a full snapshot or a
// delta rebuilt by the Replica (protocol.js), the same to this code, and not
// necessarily the tick after the previous frame (frames dropped for a slow
// reader leave gaps; nothing here assumes consecutive ticks): inputs
// with seq < A are dropped (A itself stays: it is the steer the server holds),
// the state is reset to the server's and ticks T+1..K are replayed, one fixed
// 50 ms step per tick with the steer held at that tick's boundary. The
// difference from the state predicted before is added to a visual offset that
// decays in ~100 ms, so corrections glide instead of snapping.
//
// Approximations (all corrected by the next frame, and smoothed):
// - The boundary offset assumes a steady one-way latency; jitter moves an
//   input across a tick boundary now and then, so a steer change may be
//   predicted one tick early or late (a correction of a few units).
// - Inputs go out at 30 Hz but the server applies one per tick: the replay,
//   like the server, skips inputs superseded within a tick.
// - Server positions and velocities arrive quantized to 1/4 unit (quant.rs
//   SCALE = 4), so the replay starts up to 1/8 unit (and 1/8 unit/s) off.
// - Frames are canonical (protocol v4): where the sim's velocity is within
//   VEL_TOLERANCE (40 wire units = 10 units/s, per axis) of the one derived
//   from the player's last one-tick move (move × tick rate), the server
//   publishes the derived one, in full snapshots and deltas alike, so a delta
//   usually carries only the move (the Replica derives the velocity from it,
//   over `base_age` ticks for a delta against an older frame, and the server
//   sends the velocity wherever that differs). The sim moves a player by its
//   end-of-tick velocity × dt, so the derived velocity is the true one up to
//   the rounding of two positions (up to 5 units/s off; walls and bumps make
//   it worse, and then the server keeps the sim's). The Replica marks each
//   player of a frame with `velDerived`: false only when it knows the
//   velocity is the sim's (after a delta against the previous tick's frame:
//   not the derived one, or a player who just joined), true otherwise.
//   Replaying from a velocity even 5 units/s off drifts 0.25 unit per tick
//   predicted, so for an own player flagged `velDerived` the caller passes
//   that tolerance to reconcile() (velTolerance() below), which takes the
//   velocity this predictor had for tick T, clamped into the server's ±
//   tolerance: the exact value when the prediction was right, the nearest
//   value the server allows otherwise. A velocity known to be the sim's is
//   taken as is. Other players' velocities only matter for the short
//   extrapolation past the newest frame.
// - Bumps with other players and pellets are not predicted (rules 4–5); a bump
//   shows up one round trip late as a correction.

import { QUANT_SCALE, VEL_TOLERANCE } from './protocol.js';
import { step } from './sim.js';

/** Render other players this far in the past, so two snapshots bracket the render time. */
export const INTERP_DELAY_MS = 100;
/** Corrections larger than this (units) snap instead of being smoothed (a respawn or teleport). */
export const SNAP_DISTANCE = 120;
/** Time constant of the exponential decay of a smoothed correction, ms. */
export const CORRECTION_TAU_MS = 90;
/** Most ticks predicted ahead of the newest snapshot (2 s at 20 Hz). */
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
 * States are { x, y, vx, vy } in world units; times are local milliseconds.
 */
export class Predictor {
  constructor(kin) {
    this.kin = kin;
    this.dtMs = kin.dtMs;
    this.inputs = []; // [{ seq, at, sx, sy }]: the newest acknowledged input, then the unacknowledged ones
    this.offset = null; // input boundary of server tick k is at k * dtMs + offset (local ms)
    this.baseTick = 0; // the newest snapshot's tick
    this.base = null; // the newest snapshot's own state (dequantized)
    this.tick = 0; // the tick `state` is at
    this.state = null; // predicted state at `tick`
    this.prev = null; // predicted state at `tick - 1`, for rendering between ticks
    this.ackSeq = 0;
    this.error = { x: 0, y: 0 }; // visual offset that decays to 0
    this.history = new Map(); // tick -> predicted state, for frames whose velocity may be the derived one
    this.corrections = 0;
    this.snaps = 0;
    this.calibrated = false;
  }

  /** The newest authoritative state of the own player. */
  get server() {
    return this.base;
  }

  /** Starts from a snapshot's state (the first one after joining). */
  reset(server, serverTick, now) {
    this.base = server;
    this.baseTick = serverTick;
    this.tick = serverTick;
    this.state = server;
    this.prev = server;
    this.inputs = [];
    this.offset = now - serverTick * this.dtMs; // until inputs are acknowledged: no lead
    this.calibrated = false;
    this.error = { x: 0, y: 0 };
    this.history = new Map([[serverTick, server]]);
  }

  remember(tick, state) {
    this.history.set(tick, state);
    if (this.history.size > 2 * MAX_PREDICT_TICKS) this.history.delete(this.history.keys().next().value);
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
   * The acknowledged sequence number and the tick boundary estimate stay.
   */
  dropInputs() {
    this.inputs = [];
  }

  boundary(tick) {
    return tick * this.dtMs + this.offset;
  }

  /** The steer the server holds in tick `k`: the newest input sent before the tick's boundary. */
  steerFor(k) {
    const b = this.boundary(k);
    let sx = 0;
    let sy = 0;
    for (let n = 0; n < this.inputs.length; n++) {
      const i = this.inputs[n];
      // The acknowledged input is held by the server whatever the estimate says.
      if (i.at >= b && !(n === 0 && i.seq <= this.ackSeq)) break;
      sx = i.sx;
      sy = i.sy;
    }
    return [sx, sy];
  }

  /** Steps the prediction through every tick boundary local time has passed. */
  advance(now) {
    if (!this.state) return;
    let steps = 0;
    while (this.boundary(this.tick + 1) <= now && this.tick - this.baseTick < MAX_PREDICT_TICKS) {
      this.tick++;
      this.prev = this.state;
      this.state = step(this.kin, this.state, ...this.steerFor(this.tick));
      this.remember(this.tick, this.state);
      if (++steps > MAX_PREDICT_TICKS) break;
    }
  }

  /**
   * A frame of tick `serverTick` (any tick after the previous frame's)
   * whose own-player state `server` includes every input up to `ackSeq`,
   * received at local time `now`: re-estimate the tick boundary, rebase on
   * the server state and replay up to the present. `velTolerance` (units/s,
   * 0 = exact): how far the server's velocity may be from the sim's, as for
   * one derived from the player's move; the velocity predicted for that tick
   * is used when it lies within it.
   */
  reconcile(server, serverTick, ackSeq, now, velTolerance = 0) {
    if (!this.state) {
      this.reset(server, serverTick, now);
      return;
    }
    this.advance(now);
    const guess = velTolerance > 0 ? this.history.get(serverTick) : undefined;
    if (guess) {
      const near = (v, c) => Math.min(c + velTolerance, Math.max(c - velTolerance, v));
      server = { ...server, vx: near(guess.vx, server.vx), vy: near(guess.vy, server.vy) };
    }
    const before = this.state;
    this.ackSeq = Math.max(this.ackSeq, ackSeq);
    // Keep the acknowledged input (the steer the server holds) and newer ones.
    let drop = 0;
    while (drop + 1 < this.inputs.length && this.inputs[drop + 1].seq <= this.ackSeq) drop++;
    if (drop > 0) this.inputs.splice(0, drop);
    this.estimateBoundary(serverTick, now);

    this.base = server;
    this.baseTick = serverTick;
    const target = Math.min(
      Math.max(serverTick, Math.floor((now - this.offset) / this.dtMs)),
      serverTick + MAX_PREDICT_TICKS,
    );
    let s = server;
    let prev = server;
    for (const k of this.history.keys()) if (k < serverTick) this.history.delete(k);
    this.remember(serverTick, server);
    for (let k = serverTick + 1; k <= target; k++) {
      prev = s;
      s = step(this.kin, s, ...this.steerFor(k));
      this.remember(k, s);
    }
    this.tick = target;
    this.prev = prev;
    this.state = s;

    const ex = this.error.x + (before.x - s.x);
    const ey = this.error.y + (before.y - s.y);
    if (Math.hypot(ex, ey) > SNAP_DISTANCE) {
      this.error = { x: 0, y: 0 };
      this.snaps++;
    } else {
      this.error = { x: ex, y: ey };
      if (Math.hypot(before.x - s.x, before.y - s.y) > 0.5) this.corrections++;
    }
  }

  // The acknowledged input was sent before tick `serverTick`'s boundary and
  // the next input after it (or it has not been sent yet): move the offset
  // towards the middle of that window.
  estimateBoundary(serverTick, now) {
    const acked = this.inputs[0];
    if (!acked || acked.seq !== this.ackSeq) return;
    const next = this.inputs[1];
    const lo = acked.at - serverTick * this.dtMs;
    const hi = (next ? next.at : now) - serverTick * this.dtMs;
    const mid = (lo + hi) / 2;
    if (!this.calibrated || Math.abs(mid - this.offset) > 4 * this.dtMs) {
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
   * the current predicted tick (one tick of smoothing), plus the decaying
   * correction offset.
   */
  renderPos(now) {
    if (!this.state) return null;
    const p = this.prev ?? this.state;
    const alpha = this.offset === null ? 1 : Math.min(1, Math.max(0, (now - this.boundary(this.tick)) / this.dtMs));
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
