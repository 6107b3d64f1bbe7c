// The one object a game needs: a RoomClient joins a room (with a ticket from
// the matchmaker, or by room id), keeps the connection through drops,
// resumes and "room moved" redirects (session.js), keeps the room's state
// from the schema the server sends (replica.js), predicts the own entity
// with the game's rules and interpolates everything else (netcode.js),
// hands the game its events, and gives it a view to draw at any moment:
// `view(now)`, every entity with named components. It exists so a game gets
// all of that from twenty lines of its own, and so the demo in assets/ is
// built on exactly what a game gets. Nothing here names a game.
//
// What a game plugs in:
// - `input()`: its input now, as `{ field: value }` of its schema's input
//   (polled at 30 Hz; null sends nothing), and/or `send(input)` at once;
// - `model`: its prediction rules, `{ step(state, input, dt, config) }` on
//   its own entity's components (see netcode.js), or null (the default) to
//   draw its own entity from the frames like everything else;
// - `smooth`: the components (or `{ component: [fields] }`) whose numeric
//   fields are interpolated for the others and smoothed for the own entity
//   (default `['pos']`);
// - `latest`: components whose entities are drawn as in the newest frame,
//   not on the interpolation's delayed timeline (things that never move:
//   pickups, walls);
// - `onEvent(event)` for its events, `onFrame(frame)` for every frame;
// - `game`: with a room id, the game's name, so a room the join starts runs
//   it (a server may host several games).
//
// The own entity is the one whose engine `player` component has the
// Welcome's `player_id`. State kept per player (a "game", from one Welcome
// on): a Welcome that takes back the same player after a drop (a resume)
// keeps it all; any other Welcome starts a new one.

import { Interpolator, Predictor, RateMeter, ServerClock } from './netcode.js';
import { decodeEvent, decodeInput, encodeInput, frameView } from './replica.js';
import { Session, roomWsUrl } from './session.js';
import { ticketUrls } from './matchmaker.js';

/**
 * The Welcome's simulation steps per second: `sim_rate_hz` when it is a whole
 * multiple of the frame rate (the server guarantees it), else the frame rate
 * (one step per frame).
 */
export function stepRate(welcome) {
  const sim = welcome.sim_rate_hz;
  return Number.isInteger(sim) && sim > 0 && sim % welcome.tick_rate_hz === 0 ? sim : welcome.tick_rate_hz;
}

/** The room's config from a Welcome (its JSON), or {} when it does not parse. */
export function welcomeConfig(welcome) {
  try {
    const config = JSON.parse(welcome.config);
    return config !== null && typeof config === 'object' ? config : {};
  } catch {
    return {};
  }
}

/**
 * A player in one room. Options (all but `server` and `room`/`ticket`
 * optional):
 * - `server`: the http(s) URL of any tickroom node (the entry: reconnects and
 *   cluster lookups go through it); in a page, usually `location.origin`.
 * - `ticket`: a Ticket from `matchmake()` / `joinTicket()` (its room, its
 *   `ws_url` naming the node that runs the room, its single-use credential),
 *   or `room`: a room id to join without one (servers with `--auth optional`).
 * - `game`: with `room`, the game the room runs (`/ws?room=<id>&game=<name>`):
 *   a room the join starts runs it, one that runs another game stops the
 *   session (closed, "the room runs another game"). Null: the server's
 *   default game for a new room, whatever game for an existing one.
 * - `name`: the player's name (truncated to the protocol's 24 bytes).
 * - `input()`, `model`, `smooth`, `latest`: the game's (see above).
 * - callbacks: `onWelcome(welcome, { continued, attempted })`,
 *   `onFrame(frame, now, info)` (the room's newest frame, named, after this
 *   client took it in), `onEvent(event, info)` (`{ name, id, fields }`),
 *   `onState(client)` on every connection state change, `onServerError(msg)`.
 * - for tests and non-browser hosts: `WebSocketImpl`, `fetchImpl`, `timers`,
 *   `now`, `random`, `resumeStore` (see Session).
 */
export class RoomClient {
  constructor({
    server,
    room,
    ticket = null,
    game = null,
    name = '',
    input = null,
    model = null,
    smooth = ['pos'],
    latest = [],
    onWelcome = () => {},
    onFrame = () => {},
    onEvent = () => {},
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
    if (game !== null && (ticket || typeof game !== 'string' || game === '')) {
      throw new TypeError('RoomClient: `game` is a game name, given with a `room` id (a ticket\'s room already runs its game)');
    }
    if (model !== null && typeof model?.step !== 'function') {
      throw new TypeError('RoomClient: `model` is { step(state, input, dt, config) }, or null');
    }
    if (input !== null && typeof input !== 'function') throw new TypeError('RoomClient: `input` is a function () => the input now (or null)');
    this.model = model;
    this.smooth = smooth;
    this.latest = new Set(latest);
    this.handlers = { onWelcome, onFrame, onEvent, onState };
    /** Per-Welcome state (null before the first Welcome): see newGame(). */
    this.game = null;
    /** Every player id seen in a frame since this client started. */
    this.playersSeen = new Set();
    /** Events that did not decode (a bug on one side). */
    this.badEvents = 0;
    /** The local time of the previous advance() (null: none yet). */
    this.lastAdvance = null;
    this.pollFailed = false;
    this.session = new Session({
      ...host,
      url: roomWsUrl(server, room, game),
      target,
      ticket: credential,
      name,
      room,
      input: () => this.pollInput(input),
      onState: () => this.onSessionState(),
      onWelcome: (msg, info) => this.onWelcome(msg, info),
      onFrame: (frame, t, info) => this.onFrame(frame, t, info),
      onEvents: (events, t, msg) => this.onEvents(events, t, msg),
      onServerError,
      onInput: (seq, data, t) => {
        const g = this.game;
        if (g?.predictor) g.predictor.hold(seq, decodeInput(g.schema, data), t);
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

  /**
   * Sends the game's input `{ field: value }` now (encoded with the room's
   * schema; numbered and acknowledged by the session). Returns its sequence
   * number, or null when not connected. Throws RangeError or TypeError when
   * the input does not fit the schema.
   */
  send(input) {
    const g = this.game;
    if (!g || this.session.state !== 'connected') return null;
    return this.session.sendInput(encodeInput(g.schema, input));
  }

  pollInput(input) {
    const g = this.game;
    if (!input || !g) return null;
    const now = input();
    if (now === null || now === undefined) return null;
    try {
      return encodeInput(g.schema, now);
    } catch (e) {
      if (!this.pollFailed) console.error(`tickroom: input() answered what the game's input cannot hold: ${e.message}`);
      this.pollFailed = true;
      return null;
    }
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

  /** The newest frame with named components (null before the first). */
  get frame() {
    return this.game?.frame ?? null;
  }

  onWelcome(msg, { continued = false, attempted = false } = {}) {
    const simRate = stepRate(msg);
    const schema = this.session.replica.schema;
    const g = this.game;
    if (
      continued && g && g.ownId === msg.player_id && g.room === msg.room && g.tickRate === msg.tick_rate_hz &&
      g.simRate === simRate && g.schema.hash === schema.hash
    ) {
      // The same player, taken back: keep everything. The server held no
      // input while we were away, and the next frame is a whole one.
      g.predictor?.dropInputs();
      g.tick = msg.tick;
      g.schema = schema;
    } else {
      this.game = this.newGame(msg, schema, simRate);
    }
    this.handlers.onWelcome(msg, { continued: this.game === g, attempted });
  }

  /**
   * The state of one player's game: the own player id and entity, the
   * game's name, schema and config, the rates, the predictor (null without
   * a model), the interpolator, the server clock, the frame-rate meter, the
   * newest frame (named) and tick, frames taken in.
   */
  newGame(msg, schema, simRate) {
    const dtMs = 1000 / msg.tick_rate_hz;
    const config = welcomeConfig(msg);
    const stepsPerFrame = simRate / msg.tick_rate_hz;
    return {
      room: msg.room,
      ownId: msg.player_id,
      ownEntity: null,
      name: msg.game,
      schema,
      config,
      tickRate: msg.tick_rate_hz,
      simRate,
      dtMs,
      predictor: this.model ? new Predictor(this.model, { stepRateHz: simRate, stepsPerFrame, config, smooth: this.smooth }) : null,
      interp: new Interpolator({ smooth: this.smooth }),
      clock: new ServerClock(dtMs),
      rate: new RateMeter(),
      frame: null,
      tick: msg.tick,
      frames: 0,
      ackSeq: 0,
    };
  }

  /**
   * A frame from the session's Replica: name it, find the own entity, feed
   * the predictor and the interpolator, then the game's onFrame.
   */
  onFrame(raw, now, info) {
    const g = this.game;
    if (!g) return;
    const frame = frameView(g.schema, raw);
    g.frames++;
    g.tick = frame.tick;
    g.frame = frame;
    g.ackSeq = info.ackSeq;
    g.rate.mark(now);
    g.clock.observe(frame.tick, now);
    const entities = new Map();
    let own = null;
    const latest = this.latest.size > 0;
    for (const e of frame.entities) {
      // Entities drawn as in the newest frame need no interpolation.
      if (!latest || !Object.keys(e.components).some((c) => this.latest.has(c))) entities.set(e.id, e.components);
      const player = e.components.player;
      if (player) {
        this.playersSeen.add(player.id);
        if (player.id === g.ownId) own = e;
      }
    }
    g.ownEntity = own ? own.id : null;
    if (own && g.predictor) g.predictor.reconcile(own.components, frame.tick, info.ackSeq, now);
    g.interp.push(frame.tick, entities);
    this.handlers.onFrame(frame, now, info);
  }

  onEvents(events, now, msg) {
    const g = this.game;
    if (!g) return;
    for (const bytes of events) {
      let event;
      try {
        event = decodeEvent(g.schema, bytes);
      } catch (e) {
        this.badEvents++;
        console.warn(`tickroom: an event that does not decode: ${e.message}`);
        continue;
      }
      this.handlers.onEvent(event, { tick: this.session.lastTick, nowMs: now, msg });
    }
  }

  onSessionState() {
    // Disconnected: the server holds no input for our player any more (the
    // game carries on without it while waiting for a resume), so neither
    // does the prediction.
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

  /**
   * What to draw at local time `now`: `{ tick, entities, own }`, every
   * entity `{ id, components, own }` by ascending id: the own entity
   * predicted (with a model) and present while it is in the newest frame,
   * the others interpolated ~100 ms in the past (those with a `latest`
   * component as in the newest frame); `own` is the own entity's, or null.
   * Null before the first Welcome. Call advance() first in a render loop.
   */
  view(now) {
    const g = this.game;
    if (!g) return null;
    const entities = [];
    const latest = this.latest.size > 0;
    const hasLatest = (components) => Object.keys(components).some((c) => this.latest.has(c));
    const sampled = g.interp.sample(g.clock.renderTick(now));
    for (const [id, components] of sampled) {
      if (id === g.ownEntity || (latest && hasLatest(components))) continue;
      entities.push({ id, components, own: false });
    }
    if (latest && g.frame) {
      for (const e of g.frame.entities) {
        if (e.id !== g.ownEntity && hasLatest(e.components)) entities.push({ id: e.id, components: e.components, own: false });
      }
    }
    let own = null;
    if (g.ownEntity !== null) {
      const components = g.predictor
        ? g.predictor.render(now)
        : (sampled.get(g.ownEntity) ?? g.frame?.entities.find((e) => e.id === g.ownEntity)?.components);
      if (components) {
        own = { id: g.ownEntity, components, own: true };
        entities.push(own);
      }
    }
    entities.sort((a, b) => a.id - b.id);
    return { tick: g.tick, entities, own };
  }
}
