// The client's netcode, for any game, free of DOM and sockets so node tests
// can drive it: client-side prediction with server reconciliation for the
// own entity, entity interpolation for everything else, and the clock that
// maps server ticks onto local time. States are an entity's named
// components (replica.js), e.g. `{ pos: { x, y }, vel: { x, y }, score:
// { points } }`; the game says which components hold what is smoothed and
// interpolated (`smooth`, default `['pos']`: every numeric field of `pos`).
//
// Prediction model. The server steps its room every `dt`: one simulation
// step per frame by default (50 ms at 20 Hz), or k = sim_rate / tick_rate
// steps per frame with --sim-rate (16.7 ms steps at 60 Hz, k = 3). Step n
// applies the newest input that reached the room before the step started
// (a game that holds its input, a held direction say, keeps it until the
// next one); every k-th step ends a frame (tick T is the state
// after step T·k, and the State's ack_seq the newest input applied in any
// step up to it). The client keeps every input it sent (seq, send time, the
// input as the server decodes it) until it is acknowledged, and an estimate
// of the *input boundary* of each step: the local time B(n) = n·dt + offset
// such that step n applied the inputs sent before B(n). Each frame bounds it
// at its last step: the acknowledged input (seq ≤ ack_seq) was sent before
// B(T·k), the next one after, so offset is smoothed towards the middle of
// that window. The predicted entity is at step K = the last boundary that
// local time has passed; step n is simulated with the newest input sent
// before B(n) — what the server will hold in that step. With k = 1 steps
// and ticks are the same thing.
//
// The game's rules come in as a model: `{ step(state, input, dt, config) }`
// returns the own entity's components one step later (a new object; `state`
// is not changed) under `input` (the game's input object, or null when none
// was sent or after a drop), `dt` seconds a step, `config` the room's config
// (the Welcome's, parsed). The demo game's model is in the server's assets/
// folder, next to its page.
//
// On each frame (tick T, own components, ack_seq A) — a whole frame or a
// delta rebuilt by the Replica, the same to this code, and not necessarily
// the tick after the previous frame (frames dropped for a slow reader leave
// gaps; nothing here assumes consecutive ticks): inputs with seq < A are
// dropped (A itself stays: it is the input the server holds), the state is
// reset to the server's and steps T·k+1..K are replayed, one fixed step each
// with the input held at that step's boundary. The difference from the
// state predicted before (in the smoothed fields) is added to a visual
// offset that decays in ~100 ms, so corrections glide instead of snapping.
//
// Approximations (all corrected by the next frame, and smoothed):
// - The boundary offset assumes a steady one-way latency; jitter moves an
//   input across a step boundary now and then, so an input change may be
//   predicted one step early or late (a correction of a few units, less at
//   shorter steps).
// - Inputs go out at 30 Hz: at a 20 Hz step rate the server applies one per
//   step and the replay, like the server, skips inputs superseded within a
//   step; at 60 Hz a held input spans two steps.
// - The server's state arrives as the schema quantizes it (fixed-point
//   fields in steps of 1 / scale), so the replay starts up to half a
//   step off.
// - Whatever the model does not predict (collisions with others, pickups)
//   shows up one round trip late as a correction.

/** Render other entities this far in the past, so two frames bracket the render time. */
export const INTERP_DELAY_MS = 100;
/** Corrections larger than this (units of the smoothed fields) snap instead of being smoothed (a respawn or teleport). */
export const SNAP_DISTANCE = 120;
/** Time constant of the exponential decay of a smoothed correction, ms. */
export const CORRECTION_TAU_MS = 90;
/** Most frame ticks predicted ahead of the newest frame (2 s at 20 Hz; k times as many steps). */
export const MAX_PREDICT_TICKS = 40;
/** Unacknowledged inputs kept at most (4 s at 30 Hz). */
export const MAX_PENDING_INPUTS = 120;

/**
 * The smoothed (and interpolated) fields as `[[component, fields | null]]`
 * (null: every numeric field), from `['pos']` (components) or
 * `{ pos: ['x', 'y'] }` (components and their fields).
 */
export function smoothSpec(spec = ['pos']) {
  if (Array.isArray(spec)) return spec.map((c) => [String(c), null]);
  if (spec && typeof spec === 'object') {
    return Object.entries(spec).map(([c, fields]) => [c, fields === null || fields === true ? null : [...fields].map(String)]);
  }
  throw new TypeError('smooth: a list of component names or { component: [fields] }');
}

/** The numeric paths [component, field, item (-1: the field itself)] of `state` under `spec`. */
function numericPaths(state, spec) {
  const out = [];
  for (const [c, fields] of spec) {
    const comp = state?.[c];
    if (!comp || typeof comp !== 'object') continue;
    for (const f of fields ?? Object.keys(comp)) {
      const v = comp[f];
      if (typeof v === 'number') out.push([c, f, -1]);
      else if (Array.isArray(v)) v.forEach((x, i) => typeof x === 'number' && out.push([c, f, i]));
    }
  }
  return out;
}

const at = (state, [c, f, i]) => {
  const v = state?.[c]?.[f];
  return i < 0 ? v : v?.[i];
};

/**
 * `state` with `fn(value, path)` applied to each numeric path of `paths`:
 * new objects for the components (and arrays) touched, the rest shared.
 */
function mapPaths(state, paths, fn) {
  if (paths.length === 0) return state;
  const out = { ...state };
  const copied = new Set();
  for (const p of paths) {
    const [c, f, i] = p;
    if (!copied.has(c)) {
      out[c] = { ...out[c] };
      copied.add(c);
    }
    if (i < 0) {
      out[c][f] = fn(out[c][f], p);
    } else {
      const key = `${c}.${f}`;
      if (!copied.has(key)) {
        out[c][f] = [...out[c][f]];
        copied.add(key);
      }
      out[c][f][i] = fn(out[c][f][i], p);
    }
  }
  return out;
}

/** `b` with its smoothed fields between `a`'s and `b`'s at `t` (0: a, 1: b); fields `a` lacks are `b`'s. */
export function blend(a, b, t, spec) {
  return mix(b, a, b, t, spec);
}

/** `onto` with the smoothed fields both `a` and `b` have between theirs at `t`. */
function mix(onto, a, b, t, spec) {
  const paths = numericPaths(onto, spec).filter((p) => {
    const va = at(a, p);
    const vb = at(b, p);
    return typeof va === 'number' && typeof vb === 'number' && (va !== vb || at(onto, p) !== va);
  });
  return mapPaths(onto, paths, (_, p) => {
    const va = at(a, p);
    return va + (at(b, p) - va) * t;
  });
}

const pathKey = ([c, f, i]) => (i < 0 ? `${c}.${f}` : `${c}.${f}.${i}`);

/**
 * Client-side prediction of the own entity, with reconciliation, for any
 * game's `model` (see the notes above). Options: `stepRateHz` (the
 * Welcome's `sim_rate_hz`: one step is 1 / stepRateHz seconds),
 * `stepsPerFrame` (`sim_rate_hz / tick_rate_hz`, 1 without --sim-rate),
 * `config` (the room's config, handed to every step), `smooth` (see
 * smoothSpec). Step numbers count from the room's start like the server's:
 * tick T ends at step T · stepsPerFrame. Times are local milliseconds.
 */
export class Predictor {
  constructor(model, { stepRateHz = 20, stepsPerFrame = 1, config = {}, smooth = ['pos'] } = {}) {
    if (!model || typeof model.step !== 'function') {
      throw new TypeError('Predictor: model must be { step(state, input, dt, config) }');
    }
    if (!(stepRateHz > 0)) throw new TypeError('Predictor: stepRateHz must be > 0');
    this.model = model;
    this.config = config;
    this.dt = 1 / stepRateHz; // one step, seconds
    this.dtMs = 1000 / stepRateHz; // one step, ms
    this.spec = smoothSpec(smooth);
    this.stepsPerFrame = Math.max(1, Math.round(stepsPerFrame));
    this.maxSteps = MAX_PREDICT_TICKS * this.stepsPerFrame; // most steps predicted ahead
    this.inputs = []; // [{ seq, at, input }]: the newest acknowledged input, then the unacknowledged ones
    this.offset = null; // input boundary of step n is at n * dtMs + offset (local ms)
    this.baseTick = 0; // the newest frame's tick
    this.baseStep = 0; // ...and its last step (baseTick * stepsPerFrame)
    this.base = null; // the newest frame's own state
    this.simStep = 0; // the step `state` is at
    this.state = null; // predicted state at `simStep`
    this.prev = null; // predicted state at `simStep - 1`, for rendering between steps
    this.ackSeq = 0;
    this.errors = new Map(); // smoothed path -> visual offset that decays to 0
    this.history = new Map(); // step -> predicted state
    this.corrections = 0; // smoothed corrections over half a unit
    this.worstCorrection = 0; // the largest smoothed correction, units
    this.snaps = 0;
    this.calibrated = false;
  }

  /** The newest authoritative state of the own entity. */
  get server() {
    return this.base;
  }

  /** The frame tick the prediction is in (the last one whose final step it has passed). */
  get tick() {
    return Math.floor(this.simStep / this.stepsPerFrame);
  }

  /** The visual correction offset of the smoothed fields, as `{ component: { field: offset } }`. */
  get error() {
    const out = {};
    for (const [c] of this.spec) out[c] = {};
    for (const [key, v] of this.errors) {
      const [c, f, i] = key.split('.');
      out[c] ??= {};
      if (i === undefined) out[c][f] = v;
      else (out[c][f] ??= [])[Number(i)] = v;
    }
    return out;
  }

  /** The state predicted at the end of frame tick `tick` (its last step), if still kept. */
  predictedAt(tick) {
    return this.history.get(tick * this.stepsPerFrame);
  }

  /**
   * The server's own state completed by the model's `settle`, when it has
   * one: a game may replicate less than its model steps (the arena sends
   * positions, not velocities, which its clients derive), and `settle(server,
   * { previous, previousTick, tick, predicted, frameDt, config })` fills in
   * the rest from the previous server state and the state predicted for the
   * same step.
   */
  settle(server, serverTick, predicted) {
    if (typeof this.model.settle !== 'function') return server;
    return this.model.settle(server, {
      previous: this.base,
      previousTick: this.baseTick,
      tick: serverTick,
      predicted,
      frameDt: this.dt * this.stepsPerFrame,
      config: this.config,
    });
  }

  /** Starts from a frame's own state (the first one after joining). */
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
    this.errors = new Map();
    this.history = new Map([[n, server]]);
  }

  remember(n, state) {
    this.history.set(n, state);
    if (this.history.size > 2 * this.maxSteps) this.history.delete(this.history.keys().next().value);
  }

  /** Records input `seq`, sent at local time `now`: the game's input as the server will decode it. */
  hold(seq, input, now) {
    this.inputs.push({ seq, at: now, input });
    if (this.inputs.length > MAX_PENDING_INPUTS) this.inputs.shift();
  }

  /**
   * Forgets every input sent so far: after the connection dropped, the server
   * holds no input for this player (the game carries on without one while
   * it waits for a resume), so the prediction steps with none until new
   * inputs go out. The acknowledged sequence number and the step boundary
   * estimate stay.
   */
  dropInputs() {
    this.inputs = [];
  }

  /** The input boundary of step `n` (local ms). */
  boundary(n) {
    return n * this.dtMs + this.offset;
  }

  /** The input the server holds in step `n`: the newest one sent before the step's boundary, or null. */
  inputFor(n) {
    const b = this.boundary(n);
    let input = null;
    for (let i = 0; i < this.inputs.length; i++) {
      const held = this.inputs[i];
      // The acknowledged input is held by the server whatever the estimate says.
      if (held.at >= b && !(i === 0 && held.seq <= this.ackSeq)) break;
      input = held.input;
    }
    return input;
  }

  step(state, n) {
    return this.model.step(state, this.inputFor(n), this.dt, this.config);
  }

  /** Steps the prediction through every step boundary local time has passed. */
  advance(now) {
    if (!this.state) return;
    let steps = 0;
    while (this.boundary(this.simStep + 1) <= now && this.simStep - this.baseStep < this.maxSteps) {
      this.simStep++;
      this.prev = this.state;
      this.state = this.step(this.state, this.simStep);
      this.remember(this.simStep, this.state);
      if (++steps > this.maxSteps) break;
    }
  }

  /**
   * A frame of tick `serverTick` (any tick after the previous frame's)
   * whose own state `server` (after the tick's last step) includes every
   * input up to `ackSeq` (the State's ack_seq), received at local time
   * `now`: re-estimate the step boundary, rebase on the server state and
   * replay up to the present.
   */
  reconcile(server, serverTick, ackSeq, now) {
    if (!this.state) {
      this.reset(this.settle(server, serverTick, undefined), serverTick, now);
      return;
    }
    this.advance(now);
    const n0 = serverTick * this.stepsPerFrame;
    server = this.settle(server, serverTick, this.history.get(n0));
    const before = this.state;
    this.ackSeq = Math.max(this.ackSeq, ackSeq);
    // Keep the acknowledged input (the one the server holds) and newer ones.
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
      s = this.step(s, n);
      this.remember(n, s);
    }
    this.simStep = target;
    this.prev = prev;
    this.state = s;

    // The correction, in the smoothed fields both states have.
    const paths = numericPaths(s, this.spec).filter((p) => typeof at(before, p) === 'number');
    let size = 0;
    let total = 0;
    const next = new Map();
    for (const p of paths) {
      const d = at(before, p) - at(s, p);
      const e = (this.errors.get(pathKey(p)) ?? 0) + d;
      if (e !== 0) next.set(pathKey(p), e);
      size += d * d;
      total += e * e;
    }
    size = Math.sqrt(size);
    if (Math.sqrt(total) > SNAP_DISTANCE) {
      this.errors = new Map();
      this.snaps++;
    } else {
      this.errors = next;
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
    for (const [key, v] of this.errors) {
      const e = v * k;
      if (Math.abs(e) < 1e-3) this.errors.delete(key);
      else this.errors.set(key, e);
    }
  }

  /**
   * What to draw of the own entity at local time `now`: the predicted state
   * with its smoothed fields between the previous and the current step (one
   * step of smoothing), plus the decaying correction offset; null before
   * the first frame.
   */
  render(now) {
    if (!this.state) return null;
    const p = this.prev ?? this.state;
    const alpha = this.offset === null ? 1 : Math.min(1, Math.max(0, (now - this.boundary(this.simStep)) / this.dtMs));
    const drawn = blend(p, this.state, alpha, this.spec);
    if (this.errors.size === 0) return drawn;
    const paths = numericPaths(drawn, this.spec).filter((q) => this.errors.has(pathKey(q)));
    return mapPaths(drawn, paths, (v, q) => v + this.errors.get(pathKey(q)));
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

  /** The (fractional) server tick to render other entities at. */
  renderTick(nowMs, delayMs = INTERP_DELAY_MS) {
    if (this.offset === null) return 0;
    return (nowMs - delayMs - this.offset) / this.dtMs;
  }
}

/**
 * A short buffer of frames for entity interpolation: every entity's
 * components by tick (Map id -> components), sampled between the two
 * frames that bracket a render tick. Only the smoothed fields (`smooth`,
 * see smoothSpec) are interpolated; every other field is the nearer frame's.
 */
export class Interpolator {
  constructor({ capacity = 32, smooth = ['pos'] } = {}) {
    this.capacity = capacity;
    this.spec = smoothSpec(smooth);
    this.frames = []; // [{ tick, entities: Map(id -> components) }], ascending ticks
  }

  push(tick, entities) {
    const last = this.frames[this.frames.length - 1];
    if (last && tick <= last.tick) return; // stale or duplicate
    this.frames.push({ tick, entities });
    if (this.frames.length > this.capacity) this.frames.shift();
  }

  clear() {
    this.frames = [];
  }

  /**
   * The components at `renderTick` of every entity of the newest frame at or
   * before it (entities appear and leave on the same delayed timeline as
   * movement, halfway between two frames). Beyond the newest frame the
   * smoothed fields are extrapolated along their change over the two newest
   * frames, for at most `maxExtrapolateTicks`.
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
      const ahead = Math.min(Math.max(renderTick - a.tick, 0), maxExtrapolateTicks);
      const before = i > 0 && !b ? frames[i - 1] : null;
      for (const [id, cur] of a.entities) {
        const old = ahead > 0 ? before?.entities.get(id) : undefined;
        out.set(id, old ? blend(old, cur, 1 + ahead / (a.tick - before.tick), this.spec) : cur);
      }
      return out;
    }
    const t = (renderTick - a.tick) / (b.tick - a.tick);
    for (const [id, cb] of b.entities) {
      const ca = a.entities.get(id);
      if (!ca) {
        if (t >= 0.5) out.set(id, cb);
        continue;
      }
      out.set(id, mix(t >= 0.5 ? cb : ca, ca, cb, t, this.spec));
    }
    // Entities that left in `b` vanish halfway between the two frames.
    if (t < 0.5) {
      for (const [id, ca] of a.entities) if (!b.entities.has(id)) out.set(id, ca);
    }
    return out;
  }
}

/** Counts events in a sliding one-second window (frames per second). */
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
