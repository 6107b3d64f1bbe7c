// Hand-written TypeScript declarations of arena.js (the built-in arena game's
// movement rules 1–3, for prediction). arena.js is the source of truth: keep
// this file in step with it whenever it changes.

import type { Arena } from './protocol.js';
import type { PredictionModel } from './netcode.js';

/** Per-room constants of one simulation step (f32 values, except `dtMs`). */
export interface Kinematics {
  /** One step, seconds (f32). */
  dt: number;
  /** One step, ms (exact: 1000 / step rate). */
  dtMs: number;
  accel: number;
  maxSpeed: number;
  /** The friction applied per step: friction^dt. */
  frictionFactor: number;
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/** One player's state in the arena game: position (world units) and velocity (units/s). */
export interface ArenaState {
  x: number;
  y: number;
  vx: number;
  vy: number;
}

/** The arena fields kinematics() reads (a Welcome's `arena` has them all). */
export type ArenaRules = Pick<Arena, 'width' | 'height' | 'player_radius' | 'accel' | 'max_speed' | 'friction'>;

/** The arena's prediction model, with the constants it steps with. */
export interface ArenaModel extends PredictionModel<ArenaState> {
  readonly kinematics: Kinematics;
}

/** Per-room step constants from the Welcome's `arena` at `stepRateHz` steps a second (its `sim_rate_hz`). */
export function kinematics(arena: ArenaRules, stepRateHz: number): Kinematics;

/** Rule 1: non-finite components become 0, a vector longer than 1 is scaled to length 1 (f32). */
export function sanitizeSteer(rx: number, ry: number): [number, number];

/** Rules 2 and 3 for one player alone: the state one step later (a new object; only x, y, vx, vy). */
export function step(kin: Kinematics, state: Readonly<ArenaState>, steerX: number, steerY: number): ArenaState;

/** The arena game's prediction model for a Predictor: rules 1–3 at `stepRateHz` steps a second. */
export function arenaModel(arena: ArenaRules, stepRateHz: number): ArenaModel;
