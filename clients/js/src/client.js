// The one object a game needs: a RoomClient joins a room (with a ticket from
// the matchmaker, or by room id), keeps the connection through drops,
// resumes and "room moved" redirects (session.js), keeps the room's state
// (the Replica in protocol.js), predicts the own player with the game's
// rules and interpolates everyone else (netcode.js), and hands the game a
// view to draw at any moment: `view(now)`. It exists so a game gets all of
// that from twenty lines of its own, and so the demo in assets/ is built on
// exactly what a game gets.
//
// Pluggable game logic: `model` is the game's prediction step, given the
// Welcome (arena, step rate). The default, arena.js's `arenaModel`, is the
// rules of tickroom's built-in arena game; a game whose server runs other
// rules passes its own `{ stepMs, step(state, steerX, steerY) }`, or `null`
// to draw its own player from the frames like everyone else (no prediction).
//
// State kept per player (a "game", from one Welcome on): a Welcome that takes
// back the same player after a drop (a resume) keeps it all; any other
// Welcome starts a new one.

import { arenaModel } from './arena.js';
import { Interpolator, Predictor, RateMeter, ServerClock, velTolerance } from './netcode.js';
import { posFromWire, steerFromWire, steerToWire, velFromWire } from './protocol.js';
import { Session, roomWsUrl } from './session.js';
import { ticketUrls } from './matchmaker.js';

/**
 * The Welcome's simulation steps per second: `sim_rate_hz` when it is a whole
 * multiple of the frame rate (the server guarantees it), else the frame rate
 * (one step per frame, as from a server before sub-steps).
 */
export function stepRate(welcome) {
  const sim = welcome.sim_rate_hz;
  return Number.isInteger(sim) && sim > 0 && sim % welcome.tick_rate_hz === 0 ? sim : welcome.tick_rate_hz;
}

/** The built-in arena game's model for a Welcome (the default `model`). */
export const arenaPrediction = (welcome, rateHz) => arenaModel(welcome.arena, rateHz);

/**
 * A player in one room. Options (all but `server` and `room`/`ticket`
 * optional):
 * - `server`: the http(s) URL of any tickroom node (the entry: reconnects and
 *   cluster lookups go through it); in a page, usually `location.origin`.
 * - `ticket`: a Ticket from `matchmake()` / `joinTicket()` (its room, its
 *   `ws_url` naming the node that runs the room, its single-use credential),
 *   or `room`: a room id to join without one (servers with `--auth optional`).
 * - `name`: the player's name (truncated to the protocol's 24 bytes).
 * - `steer()`: the steering direction now, `[x, y]` each in -1..1, polled at
 *   INPUT_HZ (30 Hz) while connected.
 * - `model(welcome, stepRateHz)`: the game's prediction model (see above);
 *   default the arena's; `null`: no prediction.
 * - callbacks: `onWelcome(welcome, { continued })`, `onFrame(frame, now)`
 *   (the room's complete frame, wire values, after this client took it in),
 *   `onState(client)` on every connection state change, `onServerError(msg)`.
 * - for tests and non-browser hosts: `WebSocketImpl`, `fetchImpl`, `timers`,
 *   `now`, `random`, `resumeStore` (see Session).
 */
export class RoomClient {
  constructor({
    server,
    room,
    ticket = null,
    name = '',
    steer = () => [0, 0],
    model = arenaPrediction,
    onWelcome = () => {},
    onFrame = () => {},
    onState = () => {},
    onServerError = () => {},
    // WebSocketImpl, fetchImpl, timers, now, random, resumeStore: Session's,
    // with Session's defaults.
    ...host
  } = {}) {
    if (typeof server !== 'string' || server === '') throw new TypeError('RoomClient: `server` (an http(s) URL) is required');
    let target = null;
    let credential = '';
    if (ticket) {
      const t = ticketUrls(ticket, server);
      room = t.room;
      target = t.target;
      credential = t.ticket;
    }
    if (typeof room !== 'string' || room === '') throw new TypeError('RoomClient: give a `ticket` or a `room` id');
    if (model !== null && typeof model !== 'function') throw new TypeError('RoomClient: `model` is a function (welcome, stepRateHz) => model, or null');
    this.model = model;
    this.handlers = { onWelcome, onFrame, onState };
    /** Per-Welcome state (null before the first Welcome): see newGame(). */
    this.game = null;
    /** Every player id seen in a frame since this client started. */
    this.playersSeen = new Set();
    /** The local time of the previous advance() (null: none yet). */
    this.lastAdvance = null;
    this.session = new Session({
      ...host,
      url: roomWsUrl(server, room),
      target,
      ticket: credential,
      name,
      room,
      steer: () => {
        const [x, y] = steer() ?? [0, 0];
        return steerToWire(Number(x) || 0, Number(y) || 0);
      },
      onState: () => this.onSessionState(),
      onWelcome: (msg, info) => this.onWelcome(msg, info),
      onFrame: (frame, t) => this.onFrame(frame, t),
      onServerError,
      onInput: (seq, wire) => {
        const [sx, sy] = steerFromWire(wire);
        this.game?.predictor?.hold(seq, sx, sy, this.session.now());
      },
    });
  }

  /** Opens the connection; returns this. */
  start() {
    this.session.start();
    return this;
  }

  /** Leaves the room for good (no resume). */
  leave() {
    this.session.leave();
  }

  /** Skips the wait before the next reconnect attempt. */
  retryNow() {
    this.session.retryNow();
  }

  /** 'connecting' | 'joining' | 'connected' | 'reconnecting' | 'closed' | 'left' (see Session). */
  get state() {
    return this.session.state;
  }

  /** Why the connection last closed ({ code, reason, message, roomFull }), or null. */
  get closeInfo() {
    return this.session.closeInfo;
  }

  /** The room's id. */
  get room() {
    return this.session.room;
  }

  /** The own player's id (null before the first Welcome). */
  get playerId() {
    return this.game?.ownId ?? null;
  }

  /** The newest Welcome (null while not joined). */
  get welcome() {
    return this.session.welcome;
  }

  onWelcome(msg, { continued = false, attempted = false } = {}) {
    const simRate = stepRate(msg);
    const g = this.game;
    if (continued && g && g.ownId === msg.player_id && g.room === msg.room && g.tickRate === msg.tick_rate_hz && g.simRate === simRate) {
      // The same player, taken back: keep everything. The server held no
      // steer while we were away, and the next frame is a full snapshot.
      g.predictor?.dropInputs();
      g.tick = msg.tick;
    } else {
      this.game = this.newGame(msg, simRate);
    }
    this.handlers.onWelcome(msg, { continued: this.game === g, attempted });
  }

  /**
   * The state of one player's game: the own id, the room's arena and rates,
   * the predictor (null without a model), the interpolator of the others, the
   * server clock, the frame-rate meter, the roster's names and the scores,
   * the newest frame and tick, frames taken in.
   */
  newGame(msg, simRate) {
    const dtMs = 1000 / msg.tick_rate_hz;
    const model = this.model ? this.model(msg, simRate) : null;
    const interp = new Interpolator();
    interp.dtSec = 1 / msg.tick_rate_hz;
    return {
      room: msg.room,
      ownId: msg.player_id,
      arena: msg.arena,
      tickRate: msg.tick_rate_hz,
      simRate,
      dtMs,
      predictor: model ? new Predictor(model, simRate / msg.tick_rate_hz) : null,
      interp,
      clock: new ServerClock(dtMs),
      rate: new RateMeter(),
      names: this.game?.names ?? new Map(),
      scores: new Map(),
      rosterList: null, // the frame's roster `names` was built from
      frame: null,
      tick: msg.tick,
      frames: 0,
    };
  }

  /**
   * A complete frame from the session's Replica: feed the predictor, the
   * interpolator, names and scores, then the game's onFrame. The own
   * player's velocity may be the one the server derived from its last move
   * (see netcode.js); the Replica flags it and velTolerance() allows for it.
   */
  onFrame(frame, now) {
    const g = this.game;
    if (!g) return;
    g.frames++;
    g.tick = frame.tick;
    g.frame = frame;
    g.rate.mark(now);
    g.clock.observe(frame.tick, now);
    const players = new Map();
    g.scores.clear();
    for (const p of frame.players) {
      const state = { x: posFromWire(p.pos[0]), y: posFromWire(p.pos[1]), vx: velFromWire(p.vel[0]), vy: velFromWire(p.vel[1]) };
      players.set(p.id, state);
      g.scores.set(p.id, p.score);
      this.playersSeen.add(p.id);
      if (p.id === g.ownId && g.predictor) g.predictor.reconcile(state, frame.tick, p.last_input_seq, now, velTolerance(p));
    }
    g.interp.push(frame.tick, players);
    // Frames share an unchanged roster with the previous one: rebuild only on change.
    if (frame.roster !== g.rosterList) {
      g.names = new Map(frame.roster.map((p) => [p.id, p.name]));
      g.rosterList = frame.roster;
    }
    this.handlers.onFrame(frame, now);
  }

  onSessionState() {
    // Disconnected: the server holds no steer for our player any more (it
    // coasts while waiting for a resume), so neither does the prediction.
    if (this.session.state !== 'connected') this.game?.predictor?.dropInputs();
    this.handlers.onState(this);
  }

  /**
   * Steps the prediction to local time `now` and lets its correction decay
   * over the time since the previous call (at most a second: a tab in the
   * background), or over `elapsedMs` when given. Call once per rendered
   * frame, before view().
   */
  advance(now, elapsedMs = undefined) {
    const elapsed = elapsedMs ?? (this.lastAdvance === null ? 0 : Math.min(Math.max(0, now - this.lastAdvance), 1000));
    this.lastAdvance = now;
    const pred = this.game?.predictor;
    if (!pred) return;
    pred.advance(now);
    if (elapsed > 0) pred.decay(elapsed);
  }

  /** Where to draw the own player at `now` ({ x, y }), or null while it is not in the newest frame. */
  ownPosition(now) {
    const g = this.game;
    if (!g || !g.scores.has(g.ownId)) return null;
    if (g.predictor) return g.predictor.renderPos(now);
    const p = g.interp.sample(g.clock.renderTick(now)).get(g.ownId);
    return p ? { x: p.x, y: p.y } : null;
  }

  /**
   * What to draw at local time `now`: `{ tick, arena, players }` with every
   * player `{ id, x, y, name, score, own }` (others interpolated ~100 ms in
   * the past, the own player predicted), or null before the first Welcome.
   * Call advance() first in a render loop.
   */
  view(now) {
    const g = this.game;
    if (!g) return null;
    const players = [];
    for (const [id, p] of g.interp.sample(g.clock.renderTick(now))) {
      if (id === g.ownId) continue;
      players.push({ id, x: p.x, y: p.y, name: g.names.get(id) ?? '', score: g.scores.get(id) ?? 0, own: false });
    }
    const own = this.ownPosition(now);
    if (own) players.push({ id: g.ownId, x: own.x, y: own.y, name: g.names.get(g.ownId) ?? '', score: g.scores.get(g.ownId) ?? 0, own: true });
    return { tick: g.tick, arena: g.arena, players };
  }
}
