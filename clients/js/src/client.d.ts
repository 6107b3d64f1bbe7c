// Hand-written declarations of client.js: keep them in step with it
// (test/types/ checks them against a typed example).
//
// A game can type its data: `C` its components (`{ pos: { x: number; y:
// number }; ... }`), `I` its input, `Cfg` its room config. They describe
// what the game's schema says; nothing checks them against the schema the
// server sends.

import type { Interpolator, PredictionModel, Predictor, RateMeter, ServerClock, SmoothSpec } from './netcode.js';
import type { ErrorMsg, State, Welcome } from './protocol.js';
import type { Components, EntityView, Fields, FrameView, GameEvent } from './replica.js';
import type { CloseInfo, FetchLike, FrameInfo, ResumeTokenStore, Session, SessionState, SessionTimers, WebSocketConstructor } from './session.js';
import type { GameSchema } from './state.js';
import type { Ticket } from './matchmaker.js';

/** The Welcome's simulation steps per second (`sim_rate_hz`, or the frame rate). */
export function stepRate(welcome: Pick<Welcome, 'tick_rate_hz'> & { sim_rate_hz?: number }): number;

/** The room's config from a Welcome (its JSON), or {} when it does not parse. */
export function welcomeConfig(welcome: Pick<Welcome, 'config'>): { [key: string]: unknown };

/** What onEvent is told besides the event. */
export interface EventInfo {
  /** The newest frame tick when the event arrived (its State's). */
  tick: number;
  nowMs: number;
  msg: State;
}

/** Options of a RoomClient. */
export interface RoomClientOptions<C extends object = Components, I extends object = Fields, Cfg = any> {
  /** The http(s) URL of any tickroom node: the entry for reconnects and cluster lookups. */
  server: string;
  /** A Ticket from `matchmake()` / `joinTicket()`; or give `room`. */
  ticket?: Ticket | null;
  /** A room id to join without a ticket (servers with `--auth optional`). */
  room?: string;
  /**
   * With `room`: the game the room runs (`/ws?room=<id>&game=<name>`). A room the join starts runs it;
   * one that runs another game closes the session ('closed', OTHER_GAME_REASON). Not with a ticket.
   */
  game?: string | null;
  /** The player's name (truncated to 24 bytes). */
  name?: string;
  /** The game's input now (its schema's input as `{ field: value }`), polled at 30 Hz while connected; null sends nothing. */
  input?: (() => Partial<I> | null | undefined) | null;
  /** The game's prediction rules for its own entity; null (the default): drawn from the frames like everything else. */
  model?: PredictionModel<Partial<C>, I, Cfg> | null;
  /** The components (or `{ component: [fields] }`) smoothed and interpolated; default `['pos']`. */
  smooth?: SmoothSpec;
  /** Components whose entities are drawn as in the newest frame, not delayed (things that never move). */
  latest?: readonly string[];
  onWelcome?: (welcome: Welcome, info: { continued: boolean; attempted: boolean }) => void;
  /** Every frame (named, complete), after the client took it in. */
  onFrame?: (frame: FrameView<C>, nowMs: number, info: FrameInfo) => void;
  /** Every event of the game, by name, in order. */
  onEvent?: (event: GameEvent, info: EventInfo) => void;
  onState?: (client: RoomClient<C, I, Cfg>) => void;
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
export interface GameState<C extends object = Components, I extends object = Fields, Cfg = any> {
  room: string;
  /** The own player's id. */
  ownId: number;
  /** The own entity's network id (its `player` component has `ownId`); null while it is not in the newest frame. */
  ownEntity: number | null;
  /** The game's name. */
  name: string;
  schema: GameSchema;
  /** The room's config (the Welcome's, parsed). */
  config: Cfg;
  /** Frames per second. */
  tickRate: number;
  /** Simulation steps per second the own entity is predicted at. */
  simRate: number;
  /** One frame, ms. */
  dtMs: number;
  /** Null without a model. */
  predictor: Predictor<Partial<C>, I, Cfg> | null;
  interp: Interpolator<Partial<C>>;
  clock: ServerClock;
  rate: RateMeter;
  /** The newest frame, named (null before the first). */
  frame: FrameView<C> | null;
  tick: number;
  /** Frames taken in. */
  frames: number;
  /** The newest State's ack_seq. */
  ackSeq: number;
}

/** One entity to draw. */
export interface ViewEntity<C extends object = Components> extends EntityView<C> {
  /** The own entity (predicted with a model); the others are interpolated ~100 ms in the past. */
  own: boolean;
}

/** What to draw at one moment. */
export interface View<C extends object = Components> {
  tick: number;
  /** By ascending network id. */
  entities: ViewEntity<C>[];
  /** The own entity's, when it is drawn. */
  own: ViewEntity<C> | null;
}

/** A player in one room: session, replica, prediction and interpolation. */
export class RoomClient<C extends object = Components, I extends object = Fields, Cfg = any> {
  constructor(options: RoomClientOptions<C, I, Cfg>);
  /** The underlying session (counters, resume state, rtt, input→ack latency). */
  readonly session: Session;
  /** Per-player game state; null before the first Welcome. */
  game: GameState<C, I, Cfg> | null;
  /** Every player id seen in a frame since this client started. */
  readonly playersSeen: Set<number>;
  /** Events that did not decode. */
  readonly badEvents: number;
  /** Opens the connection. */
  start(): this;
  /** Leaves the room for good (no resume). */
  leave(): void;
  /** Skips the wait before the next reconnect attempt. */
  retryNow(): void;
  /** Sends the game's input now: its seq, or null when not connected. Throws when it does not fit the schema. */
  send(input: Partial<I>): number | null;
  readonly state: SessionState;
  readonly closeInfo: CloseInfo | null;
  readonly room: string;
  readonly playerId: number | null;
  readonly welcome: Welcome | null;
  /** The newest frame, named; null before the first. */
  readonly frame: FrameView<C> | null;
  /**
   * Steps the prediction to `nowMs` and decays its correction over the time
   * since the previous call (at most 1 s), or `elapsedMs`: once per rendered frame.
   */
  advance(nowMs: number, elapsedMs?: number): void;
  /** What to draw at `nowMs`; null before the first Welcome. */
  view(nowMs: number): View<C> | null;
}
