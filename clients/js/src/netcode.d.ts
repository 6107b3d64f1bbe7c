// Hand-written TypeScript declarations of netcode.js (prediction with
// reconciliation, interpolation, clocks). netcode.js is the source of truth:
// keep this file in step with it whenever it changes.

/** Render other players this far in the past, ms. */
export const INTERP_DELAY_MS = 100;
/** Corrections larger than this (units) snap instead of being smoothed. */
export const SNAP_DISTANCE = 120;
/** Time constant of the decay of a smoothed correction, ms. */
export const CORRECTION_TAU_MS = 90;
/** Most frame ticks predicted ahead of the newest snapshot. */
export const MAX_PREDICT_TICKS = 40;
/** Unacknowledged inputs kept at most. */
export const MAX_PENDING_INPUTS = 120;
/** How far (units/s) a velocity derived from a player's move may be from the sim's: (VEL_TOLERANCE + 0.5) / QUANT_SCALE. */
export const DERIVED_VEL_TOLERANCE: number;

/**
 * The `velTolerance` to pass to Predictor.reconcile for a player of a Replica
 * frame: DERIVED_VEL_TOLERANCE when `velDerived` is true, else 0.
 */
export function velTolerance(player: { readonly velDerived?: boolean }): number;

/**
 * The least a predicted state holds: a position in world units (smoothing and
 * snapping use it) and, for reconcile()'s velocity tolerance, a velocity in
 * units per second.
 */
export interface PredictedState {
  x: number;
  y: number;
  vx?: number;
  vy?: number;
}

/** A game's prediction rules for the own player. */
export interface PredictionModel<S extends PredictedState = PredictedState> {
  /** One simulation step, ms (1000 / the Welcome's `sim_rate_hz`); must be > 0. */
  readonly stepMs: number;
  /** The state one step later under steer (steerX, steerY), as the server computes it: a new object. */
  readonly step: (state: S, steerX: number, steerY: number) => S;
}

/** An input the Predictor holds: its sequence number, local send time and (dequantized) steer. */
export interface HeldInput {
  seq: number;
  at: number;
  sx: number;
  sy: number;
}

/**
 * Client-side prediction of the own player with server reconciliation, for
 * any game's rules (`model`). Times are local milliseconds.
 */
export class Predictor<S extends PredictedState = PredictedState> {
  /**
   * `stepsPerFrame`: simulation steps per frame tick (`sim_rate_hz /
   * tick_rate_hz`, rounded, at least 1). Throws TypeError unless `model` has
   * a `step` function and a positive `stepMs`.
   */
  constructor(model: PredictionModel<S>, stepsPerFrame?: number);

  readonly model: PredictionModel<S>;
  /** One step, ms (the model's stepMs). */
  readonly dtMs: number;
  readonly stepsPerFrame: number;
  /** Most steps predicted ahead. */
  readonly maxSteps: number;
  /** The newest acknowledged input, then the unacknowledged ones. */
  readonly inputs: readonly HeldInput[];
  /** The input boundary of step n is at n · dtMs + offset (local ms); null before the first frame. */
  readonly offset: number | null;
  /** The newest frame's tick. */
  readonly baseTick: number;
  /** The newest frame's last step. */
  readonly baseStep: number;
  /** The newest frame's own state (also `server`). */
  readonly base: S | null;
  /** The step `state` is at. */
  readonly simStep: number;
  /** The predicted state at `simStep`; null before the first frame. */
  readonly state: S | null;
  /** The predicted state at `simStep - 1`. */
  readonly prev: S | null;
  /** The newest acknowledged input sequence number. */
  readonly ackSeq: number;
  /** The visual correction offset, decaying to 0. */
  readonly error: { readonly x: number; readonly y: number };
  /** Step -> predicted state, for recent steps. */
  readonly history: ReadonlyMap<number, S>;
  /** Smoothed corrections over half a unit. */
  readonly corrections: number;
  /** The largest smoothed correction, units. */
  readonly worstCorrection: number;
  /** Corrections that snapped. */
  readonly snaps: number;
  /** Whether the step boundary has been estimated from an acknowledged input. */
  readonly calibrated: boolean;

  /** The newest authoritative state of the own player. */
  readonly server: S | null;
  /** The frame tick the prediction is in. */
  readonly tick: number;

  /** The state predicted at the end of frame tick `tick`, if still kept. */
  predictedAt(tick: number): S | undefined;
  /** Starts from a frame's state. */
  reset(server: S, serverTick: number, now: number): void;
  /** Records input `seq`, sent at `now` with steer (sx, sy) as the server will see it (dequantized). */
  hold(seq: number, sx: number, sy: number, now: number): void;
  /** Forgets every input sent so far (after a drop: the server holds no steer). */
  dropInputs(): void;
  /** The input boundary of step `n`, local ms. */
  boundary(n: number): number;
  /** The steer the server holds in step `n`. */
  steerFor(n: number): [number, number];
  /** Steps the prediction through every step boundary local time `now` has passed. */
  advance(now: number): void;
  /**
   * Takes in a frame of tick `serverTick` whose own state `server` includes
   * every input up to `ackSeq`, received at `now`: rebases and replays.
   * `velTolerance` (units/s, default 0): see velTolerance().
   */
  reconcile(server: S, serverTick: number, ackSeq: number, now: number, velTolerance?: number): void;
  /** Lets the visual correction decay over `elapsedMs`. */
  decay(elapsedMs: number): void;
  /** Where to draw the own player at `now`, or null before the first frame. */
  renderPos(now: number): { x: number; y: number } | null;
}

/** Maps server ticks onto the local clock: localTime(tick) = offset + tick · dtMs. */
export class ServerClock {
  /** `dtMs`: ms per frame tick. */
  constructor(dtMs: number);
  readonly dtMs: number;
  /** Null before the first observe(). */
  readonly offset: number | null;
  /** Takes in the arrival of tick `tick` at local time `nowMs`. */
  observe(tick: number, nowMs: number): void;
  /** The fractional tick to render other players at (0 before the first observe()). */
  renderTick(nowMs: number, delayMs?: number): number;
}

/** One player's state in an Interpolator frame: world units, units/s. */
export interface InterpolatedState {
  x: number;
  y: number;
  vx: number;
  vy: number;
}

/** A buffer of recent frames' player positions, sampled between the two that bracket a render tick. */
export class Interpolator {
  /** Keeps at most `capacity` frames (default 32). */
  constructor(capacity?: number);
  readonly capacity: number;
  /** Ascending ticks. */
  readonly frames: readonly { readonly tick: number; readonly players: ReadonlyMap<number, InterpolatedState> }[];
  /** Adds the players (id -> state) of tick `tick`; ignored unless newer than the newest frame. */
  push(tick: number, players: ReadonlyMap<number, InterpolatedState>): void;
  /** Forgets every frame. */
  clear(): void;
  /** Positions (id -> { x, y }) at `renderTick`; beyond the newest frame, extrapolated for at most `maxExtrapolateTicks` (default 2). */
  sample(renderTick: number, maxExtrapolateTicks?: number): Map<number, { x: number; y: number }>;
  /** Seconds per tick, for extrapolation (default 0.05); set it from the Welcome's tick rate. */
  get dtSec(): number;
  set dtSec(v: number);
}

/** Counts events in a sliding window (frames per second). */
export class RateMeter {
  /** `windowMs`: the window, default 1000. */
  constructor(windowMs?: number);
  readonly windowMs: number;
  /** The events' times within the window. */
  readonly times: readonly number[];
  /** Records an event at `nowMs`. */
  mark(nowMs: number): void;
  /** Events per second in the window ending at `nowMs`. */
  rate(nowMs: number): number;
  /** Forgets events out of the window ending at `nowMs`. */
  trim(nowMs: number): void;
}
