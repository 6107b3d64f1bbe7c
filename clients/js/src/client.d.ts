// Hand-written declarations of client.js: keep them in step with it
// (test/types/ checks them against a typed example).

import type { ArenaState } from './arena.js';
import type { Interpolator, PredictedState, PredictionModel, Predictor, RateMeter, ServerClock } from './netcode.js';
import type { Arena, ErrorMsg, Frame, Welcome } from './protocol.js';
import type { CloseInfo, FetchLike, ResumeTokenStore, Session, SessionState, SessionTimers, WebSocketConstructor } from './session.js';
import type { Ticket } from './matchmaker.js';

/** The game's prediction: a model for this Welcome at `stepRateHz` steps a second. */
export type ModelFactory<S extends PredictedState = PredictedState> = (welcome: Welcome, stepRateHz: number) => PredictionModel<S>;

/** The Welcome's simulation steps per second (`sim_rate_hz`, or the frame rate). */
export function stepRate(welcome: Pick<Welcome, 'tick_rate_hz'> & { sim_rate_hz?: number }): number;

/** The built-in arena game's model for a Welcome: RoomClient's default. */
export const arenaPrediction: ModelFactory<ArenaState>;

/** Options of a RoomClient. */
export interface RoomClientOptions<S extends PredictedState = ArenaState> {
  /** The http(s) URL of any tickroom node: the entry for reconnects and cluster lookups. */
  server: string;
  /** A Ticket from `matchmake()` / `joinTicket()`; or give `room`. */
  ticket?: Ticket | null;
  /** A room id to join without a ticket (servers with `--auth optional`). */
  room?: string;
  /** The player's name (truncated to 24 bytes). */
  name?: string;
  /** The steering direction now, each component in -1..1; polled at 30 Hz while connected. */
  steer?: () => readonly [number, number];
  /** The game's prediction (default: the arena's); `null`: no prediction. */
  model?: ModelFactory<S> | null;
  onWelcome?: (welcome: Welcome, info: { continued: boolean; attempted: boolean }) => void;
  /** Every frame (complete, wire values), after the client took it in. */
  onFrame?: (frame: Frame, nowMs: number) => void;
  onState?: (client: RoomClient<S>) => void;
  onServerError?: (msg: ErrorMsg) => void;
  /** For tests and non-browser hosts (see Session): */
  WebSocketImpl?: WebSocketConstructor;
  fetchImpl?: FetchLike;
  timers?: SessionTimers;
  now?: () => number;
  random?: () => number;
  resumeStore?: ResumeTokenStore;
}

/** The state of one player's game (from one Welcome on; kept across a resume). */
export interface GameState<S extends PredictedState = ArenaState> {
  room: string;
  ownId: number;
  arena: Arena;
  /** Frames per second. */
  tickRate: number;
  /** Simulation steps per second the own player is predicted at. */
  simRate: number;
  /** One frame, ms. */
  dtMs: number;
  /** Null without a model. */
  predictor: Predictor<S> | null;
  interp: Interpolator;
  clock: ServerClock;
  rate: RateMeter;
  /** Player id → name, from the newest frame's roster. */
  names: Map<number, string>;
  /** Player id → score, from the newest frame. */
  scores: Map<number, number>;
  /** The newest frame (null before the first). */
  frame: Frame | null;
  tick: number;
  /** Frames taken in. */
  frames: number;
}

/** One player to draw. */
export interface ViewPlayer {
  id: number;
  x: number;
  y: number;
  name: string;
  score: number;
  /** The own player (predicted); the others are interpolated ~100 ms in the past. */
  own: boolean;
}

/** What to draw at one moment. */
export interface View {
  tick: number;
  arena: Arena;
  players: ViewPlayer[];
}

/** A player in one room: session, replica, prediction and interpolation. */
export class RoomClient<S extends PredictedState = ArenaState> {
  constructor(options: RoomClientOptions<S>);
  /** The underlying session (counters, resume state, rtt). */
  readonly session: Session;
  /** Per-player game state; null before the first Welcome. */
  game: GameState<S> | null;
  /** Every player id seen in a frame since this client started. */
  readonly playersSeen: Set<number>;
  /** Opens the connection. */
  start(): this;
  /** Leaves the room for good (no resume). */
  leave(): void;
  /** Skips the wait before the next reconnect attempt. */
  retryNow(): void;
  readonly state: SessionState;
  readonly closeInfo: CloseInfo | null;
  readonly room: string;
  readonly playerId: number | null;
  readonly welcome: Welcome | null;
  /**
   * Steps the prediction to `nowMs` and decays its correction over the time
   * since the previous call (at most 1 s), or `elapsedMs`: once per rendered frame.
   */
  advance(nowMs: number, elapsedMs?: number): void;
  /** Where to draw the own player, or null while it is not in the newest frame. */
  ownPosition(nowMs: number): { x: number; y: number } | null;
  /** What to draw at `nowMs`; null before the first Welcome. */
  view(nowMs: number): View | null;
}
