// Hand-written TypeScript declarations of netcode.js (prediction with
// reconciliation, interpolation, clocks, for any game). netcode.js is the
// source of truth: keep this file in step with it whenever it changes.

import type { Components } from './replica.js';

/** Render other entities this far in the past, ms. */
export const INTERP_DELAY_MS = 100;
/** Corrections larger than this (units of the smoothed fields) snap instead of being smoothed. */
export const SNAP_DISTANCE = 120;
/** Time constant of the decay of a smoothed correction, ms. */
export const CORRECTION_TAU_MS = 90;
/** Most frame ticks predicted ahead of the newest frame. */
export const MAX_PREDICT_TICKS = 40;
/** Unacknowledged inputs kept at most. */
export const MAX_PENDING_INPUTS = 120;

/**
 * The fields smoothed for the own entity and interpolated for the others:
 * component names (every numeric field, array items included) or
 * `{ component: [fields] }` (null: every numeric field). Default `['pos']`.
 */
export type SmoothSpec = readonly string[] | { readonly [component: string]: readonly string[] | null };

/** A SmoothSpec as `[[component, fields | null]]`. */
export function smoothSpec(spec?: SmoothSpec): [string, string[] | null][];

/** `b` with its smoothed fields between `a`'s and `b`'s at `t` (0: a, 1: b). */
export function blend<S extends object>(a: object, b: S, t: number, spec: [string, string[] | null][]): S;

/**
 * A game's prediction rules for its own entity: one simulation step, as the
 * server computes it.
 */
export interface PredictionModel<S extends object = Components, I = any, C = any> {
  /**
   * The own entity's components one step later (a new object; `state` is not
   * changed) under `input` (the game's input as the server decodes it, or
   * null when none is held), `dt` seconds a step, `config` the room's config.
   */
  step(state: S, input: I | null, dt: number, config: C): S;
}

/** Options of a Predictor. */
export interface PredictorOptions<C = any> {
  /** Simulation steps per second (the Welcome's `sim_rate_hz`); default 20. */
  stepRateHz?: number;
  /** Steps per frame tick (`sim_rate_hz / tick_rate_hz`); default 1. */
  stepsPerFrame?: number;
  /** The room's config, handed to every step. */
  config?: C;
  /** The smoothed fields (default `['pos']`). */
  smooth?: SmoothSpec;
}

/** An input the Predictor holds: its sequence number, local send time and the input itself. */
export interface HeldInput<I = any> {
  seq: number;
  at: number;
  input: I;
}

/**
 * Client-side prediction of the own entity with server reconciliation, for
 * any game's rules (`model`). Times are local milliseconds.
 */
export class Predictor<S extends object = Components, I = any, C = any> {
  /** Throws TypeError unless `model` has a `step` function and the step rate is positive. */
  constructor(model: PredictionModel<S, I, C>, options?: PredictorOptions<C>);

  readonly model: PredictionModel<S, I, C>;
  readonly config: C;
  /** One step, seconds. */
  readonly dt: number;
  /** One step, ms. */
  readonly dtMs: number;
  readonly stepsPerFrame: number;
  /** Most steps predicted ahead. */
  readonly maxSteps: number;
  /** The newest acknowledged input, then the unacknowledged ones. */
  readonly inputs: readonly HeldInput<I>[];
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
  /** The visual correction offset of the smoothed fields, `{ component: { field: offset } }`, decaying to 0. */
  readonly error: { [component: string]: { [field: string]: number | number[] } };
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

  /** The newest authoritative state of the own entity. */
  readonly server: S | null;
  /** The frame tick the prediction is in. */
  readonly tick: number;

  /** The state predicted at the end of frame tick `tick`, if still kept. */
  predictedAt(tick: number): S | undefined;
  /** Starts from a frame's own state. */
  reset(server: S, serverTick: number, now: number): void;
  /** Records input `seq`, sent at `now`: the game's input as the server will decode it. */
  hold(seq: number, input: I, now: number): void;
  /** Forgets every input sent so far (after a drop: the server holds none). */
  dropInputs(): void;
  /** The input boundary of step `n`, local ms. */
  boundary(n: number): number;
  /** The input the server holds in step `n`, or null. */
  inputFor(n: number): I | null;
  /** Steps the prediction through every step boundary local time `now` has passed. */
  advance(now: number): void;
  /**
   * Takes in a frame of tick `serverTick` whose own state `server` includes
   * every input up to `ackSeq` (the State's ack_seq), received at `now`:
   * rebases and replays.
   */
  reconcile(server: S, serverTick: number, ackSeq: number, now: number): void;
  /** Lets the visual correction decay over `elapsedMs`. */
  decay(elapsedMs: number): void;
  /** What to draw of the own entity at `now` (smoothed fields blended and corrected), or null before the first frame. */
  render(now: number): S | null;
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
  /** The fractional tick to render other entities at (0 before the first observe()). */
  renderTick(nowMs: number, delayMs?: number): number;
}

/** Options of an Interpolator. */
export interface InterpolatorOptions {
  /** Frames kept at most (default 32). */
  capacity?: number;
  /** The interpolated fields (default `['pos']`). */
  smooth?: SmoothSpec;
}

/** A buffer of recent frames' entities, sampled between the two that bracket a render tick. */
export class Interpolator<S extends object = Components> {
  constructor(options?: InterpolatorOptions);
  readonly capacity: number;
  /** Ascending ticks. */
  readonly frames: readonly { readonly tick: number; readonly entities: ReadonlyMap<number, S> }[];
  /** Adds the entities (id -> components) of tick `tick`; ignored unless newer than the newest frame. */
  push(tick: number, entities: ReadonlyMap<number, S>): void;
  /** Forgets every frame. */
  clear(): void;
  /**
   * The components (id -> components) at `renderTick`, the smoothed fields
   * interpolated; beyond the newest frame extrapolated along their last
   * change for at most `maxExtrapolateTicks` (default 2).
   */
  sample(renderTick: number, maxExtrapolateTicks?: number): Map<number, S>;
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
