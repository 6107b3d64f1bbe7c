// Test doubles shared by the session and client tests: timers on a manual
// clock, a WebSocket class whose sockets the test plays the server of (it
// encodes and decodes with the real codec), a sessionStorage stand-in, and
// a game on the wire (the arena's schema, its frames, a fake server's
// States built with the JS encoder, which writes the Rust encoder's bytes).

import { PROTOCOL_VERSION, decodeClient, encodeServer } from '../src/protocol.js';
import { componentId, slotValues } from '../src/replica.js';
import { decodeSchema, encodeSchema, encodeStateDelta, stateChecksum } from '../src/state.js';

/** Timers that run only when the test advances the fake clock. */
export class FakeTime {
  constructor() {
    this.t = 0;
    this.next = 1;
    this.jobs = new Map(); // id -> { at, fn, every }
  }
  setTimeout(fn, ms) {
    const id = this.next++;
    this.jobs.set(id, { at: this.t + ms, fn, every: null });
    return id;
  }
  setInterval(fn, ms) {
    const id = this.next++;
    this.jobs.set(id, { at: this.t + ms, fn, every: ms });
    return id;
  }
  clearTimeout(id) { this.jobs.delete(id); }
  clearInterval(id) { this.jobs.delete(id); }
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let id = null;
      let job = null;
      for (const [i, j] of this.jobs) if (j.at <= end && (!job || j.at < job.at)) [id, job] = [i, j];
      if (!job) break;
      this.t = job.at;
      if (job.every === null) this.jobs.delete(id);
      else job.at += job.every;
      job.fn();
    }
    this.t = end;
  }
}

/** Records every socket the session opens; the test plays the server. */
export function fakeSockets() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedWith = null;
      sockets.push(this);
    }
    send(bytes) { this.sent.push(decodeClient(bytes)); }
    close(code, reason) { this.closedWith = { code, reason }; this.readyState = 3; }
    // Server side:
    open() { this.readyState = 1; this.onopen?.(); }
    deliver(msg) { this.onmessage?.({ data: encodeServer(msg).buffer }); }
    serverClose(code, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
  }
  return { sockets, FakeWebSocket };
}

/** A sessionStorage stand-in (getItem/setItem/removeItem), optionally failing like a blocked one. */
export class FakeStorage {
  constructor({ broken = false } = {}) {
    this.items = new Map();
    this.broken = broken;
  }
  getItem(k) {
    if (this.broken) throw new Error('SecurityError');
    return this.items.has(k) ? this.items.get(k) : null;
  }
  setItem(k, v) {
    if (this.broken) throw new Error('QuotaExceededError');
    this.items.set(k, String(v));
  }
  removeItem(k) {
    if (this.broken) throw new Error('SecurityError');
    this.items.delete(k);
  }
}

// ---- a game on the wire: the arena's schema and a fake server's frames ----

/** The arena's default config (crates/sim). */
export const ARENA = { width: 1600, height: 1000, player_radius: 18, pellet_radius: 6, accel: 1400, max_speed: 320, friction: 0.05, pellet_count: 100, pellet_respawn_ticks: 40 };

const xy = (scalar) => [
  { name: 'x', type: { kind: 'fixed', scalar, scale: 4 } },
  { name: 'y', type: { kind: 'fixed', scalar, scale: 4 } },
];

/** The arena's schema's bytes (as crates/sim declares it, with the engine's `player`). */
export const ARENA_SCHEMA_BYTES = encodeSchema({
  game: 'arena',
  version: 1,
  components: [
    { name: 'pos', fields: xy('u16') },
    { name: 'vel', fields: xy('i16') },
    { name: 'score', fields: [{ name: 'points', type: { kind: 'scalar', scalar: 'u32' } }] },
    { name: 'pellet', fields: [{ name: 'slot', type: { kind: 'scalar', scalar: 'u16' } }] },
    {
      name: 'player',
      fields: [
        { name: 'id', type: { kind: 'scalar', scalar: 'u32' } },
        { name: 'name', type: { kind: 'text', maxBytes: 32 } },
        { name: 'connected', type: { kind: 'scalar', scalar: 'bool' } },
      ],
    },
  ],
  input: { name: 'steer', fields: [{ name: 'x', type: { kind: 'scalar', scalar: 'i8' } }, { name: 'y', type: { kind: 'scalar', scalar: 'i8' } }] },
  events: [
    { name: 'ate', fields: [{ name: 'player', type: { kind: 'scalar', scalar: 'u32' } }, { name: 'slot', type: { kind: 'scalar', scalar: 'u16' } }] },
    { name: 'hello', fields: [{ name: 'text', type: { kind: 'text', maxBytes: 32 } }] },
  ],
});
export const ARENA_SCHEMA = decodeSchema(ARENA_SCHEMA_BYTES);

/** A Welcome of the arena for player `id` in room r1 at tick 40, 20 Hz. */
export const arenaWelcome = (id = 5, extra = {}) => ({
  type: 'Welcome',
  version: PROTOCOL_VERSION,
  player_id: id,
  room: 'r1',
  game: 'arena',
  tick_rate_hz: 20,
  sim_rate_hz: 20,
  tick: 40,
  schema: ARENA_SCHEMA_BYTES,
  config: JSON.stringify(ARENA),
  resume_token: '',
  resumed: false,
  ...extra,
});

/** Player `id`'s orb (entity `1000 + id`) at (x, y). */
export const orb = (id, x, y = 400, { score = 0, vx = 0, vy = 0, name = `p${id}`, connected = true } = {}) => ({ entity: 1000 + id, id, x, y, score, vx, vy, name, connected });

/** An arena frame of `orbs` (see orb()) and `pellets` ([{ entity, slot, x, y }]). */
export function arenaFrame(tick, orbs = [], pellets = []) {
  const s = ARENA_SCHEMA;
  const comp = (name, fields) => {
    const id = componentId(s, name);
    return { id, values: slotValues(s.components[id], fields) };
  };
  const entities = [
    ...orbs.map((o) => ({
      id: o.entity,
      components: [
        comp('player', { id: o.id, name: o.name, connected: o.connected }),
        comp('pos', { x: o.x, y: o.y }),
        comp('score', { points: o.score }),
        comp('vel', { x: o.vx, y: o.vy }),
      ],
    })),
    ...pellets.map((p) => ({ id: p.entity, components: [comp('pellet', { slot: p.slot }), comp('pos', { x: p.x, y: p.y })] })),
  ];
  for (const e of entities) e.components.sort((a, b) => a.id - b.id);
  return { tick, entities: entities.sort((a, b) => a.id - b.id) };
}

/**
 * The server's side of one client's frames: `state(frame)` is the State a
 * Rust server sends, a delta from the newest frame sent to this client (or a
 * whole frame: the first, after `reset()`, or with `full`), with its
 * checksum, `ack` as ack_seq and `events` (bytes).
 */
export class FakeFrames {
  constructor(schema = ARENA_SCHEMA) {
    this.schema = schema;
    this.sent = null;
  }

  reset() {
    this.sent = null;
  }

  state(frame, { ack = 0, full = false, events = [], checksum = null } = {}) {
    const base = full ? null : this.sent;
    this.sent = frame;
    return { type: 'State', ack_seq: ack, events, checksum: checksum ?? stateChecksum(frame), frame: encodeStateDelta(this.schema, base, frame) };
  }
}
