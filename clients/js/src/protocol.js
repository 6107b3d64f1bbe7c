// tickroom's wire protocol in JavaScript: the browser client's mirror of
// crates/protocol (messages.rs, codec.rs, quant.rs, replica.rs). It exists so
// the demo client needs no build step; it is kept honest by cross-language
// test vectors (clients/js/test/vectors.json, written by
// crates/protocol/tests/vectors.rs and checked by test/protocol.test.mjs
// and test/replica.test.mjs).
//
// Encoding: bincode 2 "standard" configuration — little-endian; integers other
// than u8/i8 as varints (below 251: one byte; else a marker 251/252/253 then a
// u16/u32/u64); signed integers zig-zag encoded first; u8/i8 as one raw byte;
// enums as a varint variant index; Vec/String as a varint length then the
// items (UTF-8 bytes for strings); fixed arrays and structs as their fields in
// order; f32 as 4 little-endian bytes; bool as one byte 0 or 1 (anything else
// is malformed); a Delta's `checksum` as 4 raw little-endian bytes (not a
// varint). (No message has an Option field.)
//
// Messages are plain objects with the Rust field names, e.g.
// { type: 'Input', seq, ack_tick, steer: [x, y] }.
//
// Protocol version 3 adds session resume: `Join` carries a `resume` token (or
// ''), every `Welcome` brings a new single-use `resume_token` and says whether
// the join `resumed` an earlier player (see session.js).
//
// Protocol version 4: the server sends a full `Snapshot` after a join or a
// resume, and when the newest frame it sent a client is older than the
// room's frame history; otherwise a `Delta` against that frame, the frame of
// tick `tick - base_age` (usually the previous tick's; further back when
// frames were dropped for a slow reader). Applying one, in this order:
// players in `removed` leave (with their names); every remaining player of
// the base frame, in id order, moves by its `moves[i]` and its acknowledged
// input sequence advances by `acks[i]`, its velocity becoming the derived
// `trunc(move × tick_rate_hz / base_age)` per axis; then exact `velocities`
// where the derived one differs, new `scores`, and whole players in
// `changed` for moves or acks too large for the compact form; then the
// players in `added` join with their names; then pellets; the result must
// hash to `checksum` (`checksum()` below): the client's copy is the
// server's frame exactly. Frames are canonical: the server folds a velocity
// within VEL_TOLERANCE of the one derived from the last one-tick move into
// that derived one (`settleVelocities`), so a steady mover costs no velocity
// bytes. On the wire a Delta is, in this order: tick (varint), base_age (one
// byte), checksum (4 bytes), removed, moves, acks, velocities, scores,
// changed, added ({ state, name }), pellets_removed, pellets_added. `Replica`
// (below, mirroring replica.rs) rebuilds the room's frame from both kinds of
// message.

/** Version of the wire format; sent in Join (the server closes with 1002 on a mismatch). */
export const PROTOCOL_VERSION = 5;
/** Longest player name, in bytes of UTF-8. */
export const MAX_NAME_BYTES = 24;
/** Longest resume token (Join `resume`), in bytes. */
export const MAX_TOKEN_BYTES = 160;
/** Longest encoded client message the server accepts. */
export const MAX_CLIENT_MESSAGE_BYTES = 256;
/** Longest encoded server message a client accepts. */
export const MAX_SERVER_MESSAGE_BYTES = 64 * 1024;
/** Quantization steps per world unit for positions and velocities (quant.rs `SCALE`: 1/4 unit). */
export const QUANT_SCALE = 4;
/**
 * Largest velocity error (quantized units, per axis) the server folds into
 * the velocity derived from a player's one-tick move when it publishes a
 * frame (replica.rs `VEL_TOLERANCE`, `settle_velocities`).
 */
export const VEL_TOLERANCE = 40;
/** Largest `base_age` of a Delta (messages.rs `MAX_BASE_AGE`). */
export const MAX_BASE_AGE = 255;

const CLIENT_VARIANTS = ['Join', 'Input', 'Ping', 'Leave'];
const SERVER_VARIANTS = ['Welcome', 'Snapshot', 'Pong', 'Error', 'Delta'];

/** Thrown for bytes that are not a valid message (the Rust codec's Error). */
export class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Reads bincode values from a byte array; every read is bounds-checked. */
class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  need(n) {
    if (this.pos + n > this.bytes.length) {
      throw new ProtocolError(`unexpected end of message at byte ${this.pos}`);
    }
  }

  u8() {
    this.need(1);
    return this.bytes[this.pos++];
  }

  i8() {
    this.need(1);
    return this.view.getInt8(this.pos++);
  }

  bool() {
    const b = this.u8();
    if (b > 1) throw new ProtocolError(`invalid bool ${b}`);
    return b === 1;
  }

  f32() {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** Four raw little-endian bytes as a u32 (a Delta's checksum). */
  u32le() {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  // A varint of at most `bits` (16, 32 or 64). Values that fit a JS number
  // exactly are returned as numbers; larger u64 values would lose precision and
  // are refused (no field of this protocol needs them).
  varuint(bits) {
    const first = this.u8();
    if (first < 251) return first;
    let v;
    if (first === 251) {
      this.need(2);
      v = this.view.getUint16(this.pos, true);
      this.pos += 2;
    } else if (first === 252 && bits >= 32) {
      this.need(4);
      v = this.view.getUint32(this.pos, true);
      this.pos += 4;
    } else if (first === 253 && bits >= 64) {
      this.need(8);
      const big = this.view.getBigUint64(this.pos, true);
      this.pos += 8;
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('integer too large');
      v = Number(big);
    } else {
      throw new ProtocolError(`invalid varint marker ${first} for a u${bits}`);
    }
    return v;
  }

  u16() { return this.varuint(16); }
  u32() { return this.varuint(32); }

  i16() {
    const z = this.varuint(16);
    return (z >>> 1) ^ -(z & 1);
  }

  len() {
    const n = this.varuint(64);
    // Every item takes at least one byte, so a length beyond the remaining
    // bytes is malformed: refuse it before allocating anything.
    if (n > this.bytes.length - this.pos) throw new ProtocolError(`length ${n} exceeds the message`);
    return n;
  }

  string() {
    const n = this.len();
    const slice = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8Decoder.decode(slice);
    } catch {
      throw new ProtocolError('invalid UTF-8');
    }
  }

  vec(item) {
    const n = this.len();
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = item(this);
    return out;
  }

  variant(names) {
    const index = this.u32();
    if (index >= names.length) throw new ProtocolError(`unknown variant ${index}`);
    return names[index];
  }

  finish(msg) {
    if (this.pos !== this.bytes.length) {
      throw new ProtocolError(`${this.bytes.length - this.pos} trailing bytes after the message`);
    }
    return msg;
  }
}

/** Writes bincode values into a growable byte array. */
class Writer {
  constructor() {
    this.bytes = new Uint8Array(64);
    this.view = new DataView(this.bytes.buffer);
    this.pos = 0;
  }

  reserve(n) {
    if (this.pos + n <= this.bytes.length) return;
    const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.pos + n));
    bigger.set(this.bytes);
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }

  u8(v) {
    checkInt(v, 0, 0xff, 'u8');
    this.reserve(1);
    this.bytes[this.pos++] = v;
  }

  i8(v) {
    checkInt(v, -128, 127, 'i8');
    this.reserve(1);
    this.view.setInt8(this.pos++, v);
  }

  bool(v) {
    if (typeof v !== 'boolean') throw new RangeError(`bool expected: ${v}`);
    this.u8(v ? 1 : 0);
  }

  f32(v) {
    this.reserve(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  u32le(v) {
    checkInt(v, 0, 0xffffffff, 'checksum');
    this.reserve(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  varuint(v, max, what) {
    checkInt(v, 0, max, what);
    if (v < 251) {
      this.u8(v);
    } else if (v <= 0xffff) {
      this.reserve(3);
      this.bytes[this.pos++] = 251;
      this.view.setUint16(this.pos, v, true);
      this.pos += 2;
    } else if (v <= 0xffffffff) {
      this.reserve(5);
      this.bytes[this.pos++] = 252;
      this.view.setUint32(this.pos, v, true);
      this.pos += 4;
    } else {
      this.reserve(9);
      this.bytes[this.pos++] = 253;
      this.view.setBigUint64(this.pos, BigInt(v), true);
      this.pos += 8;
    }
  }

  u16(v) { this.varuint(v, 0xffff, 'u16'); }
  u32(v) { this.varuint(v, 0xffffffff, 'u32'); }

  i16(v) {
    checkInt(v, -32768, 32767, 'i16');
    this.varuint(v >= 0 ? v * 2 : -v * 2 - 1, 0xffff, 'i16');
  }

  len(n) { this.varuint(n, Number.MAX_SAFE_INTEGER, 'length'); }

  string(s) {
    const b = utf8Encoder.encode(s);
    this.len(b.length);
    this.reserve(b.length);
    this.bytes.set(b, this.pos);
    this.pos += b.length;
  }

  vec(items, item) {
    this.len(items.length);
    for (const x of items) item(this, x);
  }

  variant(names, name) {
    const index = names.indexOf(name);
    if (index < 0) throw new RangeError(`unknown message type ${name}`);
    this.u32(index);
  }

  finish() {
    return this.bytes.slice(0, this.pos);
  }
}

function checkInt(v, min, max, what) {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${what} out of range: ${v}`);
  }
}

function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('expected an ArrayBuffer or a typed array');
}

// ---- field codecs, in the order of the Rust structs ----

const readPair16 = (r) => [r.u16(), r.u16()];
const readPairI16 = (r) => [r.i16(), r.i16()];

const readArena = (r) => ({
  width: r.f32(),
  height: r.f32(),
  player_radius: r.f32(),
  pellet_radius: r.f32(),
  accel: r.f32(),
  max_speed: r.f32(),
  friction: r.f32(),
});

const readPlayer = (r) => ({
  id: r.u32(),
  pos: readPair16(r),
  vel: readPairI16(r),
  score: r.u32(),
  last_input_seq: r.u32(),
});

const readVelocityFix = (r) => ({ id: r.u32(), vel: readPairI16(r) });
const readScoreFix = (r) => ({ id: r.u32(), score: r.u32() });
const readPellet = (r) => ({ id: r.u16(), pos: readPair16(r) });
const readMove = (r) => [r.i8(), r.i8()];
const readInfo = (r) => ({ id: r.u32(), name: r.string() });
const readNewPlayer = (r) => ({ state: readPlayer(r), name: r.string() });

function writeArena(w, a) {
  for (const k of ['width', 'height', 'player_radius', 'pellet_radius', 'accel', 'max_speed', 'friction']) {
    w.f32(a[k]);
  }
}

function writePlayer(w, p) {
  w.u32(p.id);
  w.u16(p.pos[0]);
  w.u16(p.pos[1]);
  w.i16(p.vel[0]);
  w.i16(p.vel[1]);
  w.u32(p.score);
  w.u32(p.last_input_seq);
}

function writeVelocityFix(w, v) {
  w.u32(v.id);
  w.i16(v.vel[0]);
  w.i16(v.vel[1]);
}

function writeScoreFix(w, sc) {
  w.u32(sc.id);
  w.u32(sc.score);
}

function writePellet(w, p) {
  w.u16(p.id);
  w.u16(p.pos[0]);
  w.u16(p.pos[1]);
}

function writeInfo(w, p) {
  w.u32(p.id);
  w.string(p.name);
}

function writeNewPlayer(w, a) {
  writePlayer(w, a.state);
  w.string(a.name);
}

// ---- server messages ----

/** Decodes one server message from a whole WebSocket binary payload. Throws ProtocolError. */
export function decodeServer(data) {
  const bytes = toBytes(data);
  if (bytes.length > MAX_SERVER_MESSAGE_BYTES) throw new ProtocolError('message too large');
  const r = new Reader(bytes);
  const type = r.variant(SERVER_VARIANTS);
  let msg;
  switch (type) {
    case 'Welcome':
      msg = {
        type,
        version: r.u16(),
        player_id: r.u32(),
        room: r.string(),
        tick_rate_hz: r.u16(),
        sim_rate_hz: r.u16(),
        tick: r.u32(),
        arena: readArena(r),
        resume_token: r.string(),
        resumed: r.bool(),
      };
      break;
    case 'Snapshot':
      msg = {
        type,
        tick: r.u32(),
        players: r.vec(readPlayer),
        pellets: r.vec(readPellet),
        roster: r.vec(readInfo),
      };
      break;
    case 'Delta':
      msg = {
        type,
        tick: r.u32(),
        base_age: r.u8(),
        checksum: r.u32le(),
        removed: r.vec((r) => r.u32()),
        moves: r.vec(readMove),
        acks: r.vec((r) => r.u8()),
        velocities: r.vec(readVelocityFix),
        scores: r.vec(readScoreFix),
        changed: r.vec(readPlayer),
        added: r.vec(readNewPlayer),
        pellets_removed: r.vec((r) => r.u16()),
        pellets_added: r.vec(readPellet),
      };
      break;
    case 'Pong':
      msg = { type, nonce: r.u32(), tick: r.u32() };
      break;
    case 'Error':
      msg = { type, code: r.u16(), message: r.string() };
      break;
  }
  return r.finish(msg);
}

/** Encodes a server message (the server's side; used by tests and tools). */
export function encodeServer(msg) {
  const w = new Writer();
  w.variant(SERVER_VARIANTS, msg.type);
  switch (msg.type) {
    case 'Welcome':
      w.u16(msg.version);
      w.u32(msg.player_id);
      w.string(msg.room);
      w.u16(msg.tick_rate_hz);
      w.u16(msg.sim_rate_hz);
      w.u32(msg.tick);
      writeArena(w, msg.arena);
      w.string(msg.resume_token);
      w.bool(msg.resumed);
      break;
    case 'Snapshot':
      w.u32(msg.tick);
      w.vec(msg.players, writePlayer);
      w.vec(msg.pellets, writePellet);
      w.vec(msg.roster, writeInfo);
      break;
    case 'Delta':
      w.u32(msg.tick);
      w.u8(msg.base_age);
      w.u32le(msg.checksum);
      w.vec(msg.removed, (w, id) => w.u32(id));
      w.vec(msg.moves, (w, m) => {
        w.i8(m[0]);
        w.i8(m[1]);
      });
      w.vec(msg.acks, (w, a) => w.u8(a));
      w.vec(msg.velocities, writeVelocityFix);
      w.vec(msg.scores, writeScoreFix);
      w.vec(msg.changed, writePlayer);
      w.vec(msg.added, writeNewPlayer);
      w.vec(msg.pellets_removed, (w, id) => w.u16(id));
      w.vec(msg.pellets_added, writePellet);
      break;
    case 'Pong':
      w.u32(msg.nonce);
      w.u32(msg.tick);
      break;
    case 'Error':
      w.u16(msg.code);
      w.string(msg.message);
      break;
  }
  return w.finish();
}

// ---- client messages ----

/**
 * Encodes a client message into a Uint8Array ready for WebSocket.send. Throws
 * RangeError on out-of-range fields (a Join `resume` token longer than
 * MAX_TOKEN_BYTES, which the server would refuse, included). A Join without
 * `resume` is a fresh join ('').
 */
export function encodeClient(msg) {
  const w = new Writer();
  w.variant(CLIENT_VARIANTS, msg.type);
  switch (msg.type) {
    case 'Join': {
      const resume = msg.resume ?? '';
      if (utf8Encoder.encode(resume).length > MAX_TOKEN_BYTES) {
        throw new RangeError(`resume token longer than ${MAX_TOKEN_BYTES} bytes`);
      }
      w.u16(msg.version);
      w.string(msg.name);
      w.string(resume);
      break;
    }
    case 'Input':
      w.u32(msg.seq);
      w.u32(msg.ack_tick);
      w.i8(msg.steer[0]);
      w.i8(msg.steer[1]);
      break;
    case 'Ping':
      w.u32(msg.nonce);
      break;
    case 'Leave':
      break;
  }
  return w.finish();
}

/**
 * Decodes a client message (the server's side; used by tests and tools), with
 * the checks of codec.rs `decode_client`: size limit, name and resume token
 * lengths. Throws ProtocolError.
 */
export function decodeClient(data) {
  const bytes = toBytes(data);
  if (bytes.length > MAX_CLIENT_MESSAGE_BYTES) throw new ProtocolError('message too large');
  const r = new Reader(bytes);
  const type = r.variant(CLIENT_VARIANTS);
  let msg;
  switch (type) {
    case 'Join':
      msg = { type, version: r.u16(), name: r.string(), resume: r.string() };
      break;
    case 'Input':
      msg = { type, seq: r.u32(), ack_tick: r.u32(), steer: [r.i8(), r.i8()] };
      break;
    case 'Ping':
      msg = { type, nonce: r.u32() };
      break;
    case 'Leave':
      msg = { type };
      break;
  }
  r.finish(msg);
  if (type === 'Join') {
    if (utf8Encoder.encode(msg.name).length > MAX_NAME_BYTES) throw new ProtocolError('name longer than 24 bytes');
    if (utf8Encoder.encode(msg.resume).length > MAX_TOKEN_BYTES) throw new ProtocolError('resume token too long');
  }
  return msg;
}

// ---- quantization (quant.rs) ----

/** f32 rounding, half away from zero like Rust's `f32::round`. */
function roundHalfAway(v) {
  return Math.sign(v) * Math.round(Math.abs(v));
}

/** Wire position (u16) to world units. */
export const posFromWire = (v) => v / QUANT_SCALE;
/** Wire velocity (i16) to world units per second. */
export const velFromWire = (v) => v / QUANT_SCALE;

/** World-unit coordinate (an f32) to its wire value: rounded, clamped to 0..=65535, NaN to 0 (quant::pos_to_wire). */
export function posToWire(v) {
  if (Number.isNaN(v)) return 0;
  return Math.min(0xffff, Math.max(0, roundHalfAway(Math.fround(Math.fround(v) * QUANT_SCALE)))) + 0;
}

/** World-unit velocity component (an f32) to its wire value: rounded, clamped to the i16 range (quant::vel_to_wire). */
export function velToWire(v) {
  if (Number.isNaN(v)) return 0;
  return Math.min(32767, Math.max(-32768, roundHalfAway(Math.fround(Math.fround(v) * QUANT_SCALE)))) + 0;
}

/**
 * A steering direction (any length; longer than 1 is scaled to 1) to the
 * wire's [i8, i8], where 127 is full deflection. Mirrors quant::steer_to_wire.
 */
export function steerToWire(x, y) {
  const f = Math.fround;
  x = f(x);
  y = f(y);
  const len = f(Math.sqrt(f(f(x * x) + f(y * y))));
  if (len > 1) {
    x = f(x / len);
    y = f(y / len);
  }
  const q = (c) => (Number.isNaN(c) ? 0 : Math.min(127, Math.max(-127, roundHalfAway(f(c * 127)))));
  return [q(x) + 0, q(y) + 0]; // `+ 0` turns -0 into 0
}

/** The wire's steering back to components in -1..=1 (-128 counts as -127), as f32 values. */
export function steerFromWire(s) {
  return [Math.fround(Math.max(s[0], -127) / 127), Math.fround(Math.max(s[1], -127) / 127)];
}

// ---- the client's copy of the room state (replica.rs) ----

/**
 * The frame checksum a Delta carries (replica.rs `checksum`): MurmurHash3
 * (x86, 32-bit, seed 0) of these u32 words: `tick`, the number of players,
 * then per player `id`, `pos[0] | pos[1] << 16`, `vel[0] as u16 | vel[1] as
 * u16 << 16`, `score`, `last_input_seq`; then the number of pellets, and per
 * pellet `id | pos[0] << 16`, `pos[1]`. Names are not covered. Returns a u32.
 */
export function checksum(frame) {
  let h = 0;
  let words = 0;
  const word = (w) => {
    let k = Math.imul(w, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    words++;
  };
  word(frame.tick);
  word(frame.players.length);
  for (const p of frame.players) {
    word(p.id);
    word(p.pos[0] | (p.pos[1] << 16));
    word((p.vel[0] & 0xffff) | (p.vel[1] << 16));
    word(p.score);
    word(p.last_input_seq);
  }
  word(frame.pellets.length);
  for (const q of frame.pellets) {
    word(q.id | (q.pos[0] << 16));
    word(q.pos[1]);
  }
  h ^= Math.imul(words, 4); // the length in bytes, wrapping like a u32
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Why a delta could not be applied (replica.rs `ApplyError`). `kind` is
 * 'NoBase' (with `tick`), 'WrongBase' (`have`, `need`), 'Shape' (`moves`,
 * `acks`, `players`), 'UnknownPlayer' (`id`), 'DuplicatePlayer' (`id`) or
 * 'ChecksumMismatch' (`tick`, `want`, `got`: the replica then holds no frame
 * until the next full snapshot); `detail` holds the kind and its fields as
 * one plain object.
 */
export class ReplicaError extends Error {
  constructor(kind, fields, message) {
    super(message);
    this.name = 'ReplicaError';
    this.kind = kind;
    this.detail = { kind, ...fields };
    Object.assign(this, fields);
  }
}

/** Index of the entry with `id` in `list` sorted by id, or -(insertion point) - 1 (Rust's binary_search_by_key). */
function searchId(list, id) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = list[mid].id;
    if (v === id) return mid;
    if (v < id) lo = mid + 1;
    else hi = mid;
  }
  return -lo - 1;
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/**
 * The velocity derived from a move of `step` quantized units over `age`
 * ticks (replica.rs `derived_vel`): trunc(step × rate / age), clamped to i16.
 * `| 0` truncates toward zero like Rust's integer division (and never yields -0).
 */
const derivedVel = (step, rate, age) => clamp(((step * rate) / Math.max(1, age)) | 0, -32768, 32767);

/** A frame's own copy of a wire player, with the client-side `velDerived` flag. */
const framePlayer = (p, velDerived) => ({
  id: p.id,
  pos: [p.pos[0], p.pos[1]],
  vel: [p.vel[0], p.vel[1]],
  score: p.score,
  last_input_seq: p.last_input_seq,
  velDerived,
});

/**
 * A client's copy of the room state, rebuilt from full snapshots and deltas
 * exactly as replica.rs `Replica` does; test/replica.test.mjs replays
 * Rust's replica vectors through it.
 *
 * Frames are plain objects { tick, players, pellets, roster } with the wire's
 * (quantized) values, players, pellets and roster sorted by id, and are never
 * modified once returned: each delta builds a new frame, and lists a delta
 * does not touch are shared with the previous frame (so `frame.pellets ===
 * previous.pellets` means the pellets did not change, and `frame.roster ===
 * previous.roster` that nobody joined or left).
 *
 * Each player is { id, pos, vel, score, last_input_seq } as on the wire (the
 * server's canonical frame exactly) plus one client-side flag, `velDerived`:
 * false when the velocity is known to be the server's simulated one, true
 * when it may be the velocity derived from the player's last one-tick move
 * that the server published instead (settle_velocities: within VEL_TOLERANCE
 * of the simulated one). Only a delta against the previous tick's frame
 * (`base_age` 1) tells them apart: a velocity that differs from the one
 * derived from the player's move since that frame was not settled, and a
 * player who joined in that tick was not either. After a full snapshot or a
 * delta against an older frame every velocity counts as derived.
 */
export class Replica {
  /** An empty replica for a room ticking at `tickRateHz` (the Welcome's `tick_rate_hz`). */
  constructor(tickRateHz) {
    this.tickRate = Math.max(1, tickRateHz | 0);
    this.frame = null;
  }

  /** Replaces the state with a full snapshot (a decoded `Snapshot` message); returns the new frame. */
  applySnapshot(s) {
    this.frame = { tick: s.tick, players: s.players.map((p) => framePlayer(p, true)), pellets: s.pellets, roster: s.roster };
    return this.frame;
  }

  /**
   * Applies a decoded `Delta` to the held frame and returns the new frame.
   * Throws a ReplicaError when the delta does not apply, checked in this
   * order and leaving the replica unchanged: no frame yet (NoBase), another
   * base tick or a base_age of 0 (WrongBase), a `removed` id not in the frame
   * or not in increasing order (UnknownPlayer), list lengths other than the
   * remaining players (Shape), a `velocities`, `scores` or `changed` entry
   * (in that order of lists) for a player not in the frame or removed
   * (UnknownPlayer), an `added` id still in the frame or not in increasing
   * order (DuplicatePlayer). A result that does not hash to the delta's
   * checksum throws ChecksumMismatch and drops the frame: the copies
   * diverged, only a full snapshot helps.
   */
  applyDelta(d) {
    const f = this.frame;
    if (!f) throw new ReplicaError('NoBase', { tick: d.tick }, `delta for tick ${d.tick} before any full snapshot`);
    const age = d.base_age;
    const need = (d.tick - age) >>> 0;
    if (age === 0 || f.tick !== need) {
      throw new ReplicaError('WrongBase', { have: f.tick, need }, `delta based on tick ${need}, but the replica holds tick ${f.tick}`);
    }
    const unknown = (id) => new ReplicaError('UnknownPlayer', { id }, `delta names unknown player ${id}`);
    const present = (id) => searchId(f.players, id) >= 0;
    let last = -1;
    for (const id of d.removed) {
      if (!present(id) || id <= last) throw unknown(id);
      last = id;
    }
    const gone = new Set(d.removed);
    const n = f.players.length - d.removed.length;
    if (d.moves.length !== n || d.acks.length !== n) {
      throw new ReplicaError(
        'Shape',
        { moves: d.moves.length, acks: d.acks.length, players: n },
        `delta lists ${d.moves.length} moves and ${d.acks.length} acks for ${n} players`,
      );
    }
    for (const list of [d.velocities, d.scores, d.changed]) {
      for (const { id } of list) if (!present(id) || gone.has(id)) throw unknown(id);
    }
    last = -1;
    for (const { state: { id } } of d.added) {
      if ((present(id) && !gone.has(id)) || id <= last) {
        throw new ReplicaError('DuplicatePlayer', { id }, `delta adds player ${id}, who is already there`);
      }
      last = id;
    }

    const rate = this.tickRate;
    // The remaining players move by their steps; velocities derive from them.
    const players = [];
    for (const p of f.players) {
      if (gone.has(p.id)) continue;
      const i = players.length;
      const [mx, my] = d.moves[i];
      players.push({
        id: p.id,
        pos: [clamp(p.pos[0] + mx, 0, 0xffff), clamp(p.pos[1] + my, 0, 0xffff)],
        vel: [derivedVel(mx, rate, age), derivedVel(my, rate, age)],
        score: p.score,
        last_input_seq: (p.last_input_seq + d.acks[i]) >>> 0,
        velDerived: true,
      });
    }
    // Then exact velocities, new scores and whole players, in this order (the
    // player objects are this frame's own, not yet handed out).
    for (const v of d.velocities) players[searchId(players, v.id)].vel = [v.vel[0], v.vel[1]];
    for (const sc of d.scores) players[searchId(players, sc.id)].score = sc.score;
    for (const c of d.changed) players[searchId(players, c.id)] = framePlayer(c, true);
    // Which velocities the server cannot have settled (see the class comment).
    if (age === 1) {
      for (const p of players) {
        const b = f.players[searchId(f.players, p.id)];
        p.velDerived = p.vel[0] === derivedVel(p.pos[0] - b.pos[0], rate, 1) && p.vel[1] === derivedVel(p.pos[1] - b.pos[1], rate, 1);
      }
    }
    // Then the newcomers, with their names.
    let roster = f.roster;
    if (d.removed.length > 0) roster = roster.filter((r) => !gone.has(r.id));
    if (d.added.length > 0) {
      if (roster === f.roster) roster = roster.slice();
      for (const a of d.added) {
        players.splice(-searchId(players, a.state.id) - 1, 0, framePlayer(a.state, age !== 1));
        const info = { id: a.state.id, name: a.name };
        const i = searchId(roster, info.id);
        if (i >= 0) roster[i] = info;
        else roster.splice(-i - 1, 0, info);
      }
    }
    let pellets = f.pellets;
    if (d.pellets_removed.length > 0) {
      const eaten = new Set(d.pellets_removed);
      pellets = pellets.filter((p) => !eaten.has(p.id));
    }
    if (d.pellets_added.length > 0) {
      if (pellets === f.pellets) pellets = pellets.slice();
      for (const a of d.pellets_added) {
        const added = { id: a.id, pos: [a.pos[0], a.pos[1]] };
        const i = searchId(pellets, a.id);
        if (i >= 0) pellets[i] = added;
        else pellets.splice(-i - 1, 0, added);
      }
    }
    const frame = { tick: d.tick, players, pellets, roster };
    const got = checksum(frame);
    if (got !== d.checksum) {
      this.frame = null;
      const hex = (v) => v.toString(16).padStart(8, '0');
      throw new ReplicaError('ChecksumMismatch', { tick: d.tick, want: d.checksum, got }, `frame ${d.tick} hashes to ${hex(got)}, the delta says ${hex(d.checksum)}`);
    }
    this.frame = frame;
    return frame;
  }

  /** Applies a decoded `Snapshot` or `Delta` message; returns the new frame or throws a ReplicaError. */
  apply(msg) {
    if (msg.type === 'Snapshot') return this.applySnapshot(msg);
    if (msg.type === 'Delta') return this.applyDelta(msg);
    throw new TypeError(`not a frame message: ${msg.type}`);
  }
}

/**
 * The canonical form of frame `cur` as the server publishes it (replica.rs
 * `settle_velocities`; the server's side, for tests and tools): when `prev`
 * is the frame of the tick before, every player of both whose velocity is
 * within VEL_TOLERANCE (per axis) of the one derived from its move since
 * `prev` gets exactly that derived velocity. Returns a new frame (`cur` is
 * not modified); `cur` itself when `prev` is not the previous tick's.
 */
export function settleVelocities(prev, cur, tickRateHz) {
  if (cur.tick !== ((prev.tick + 1) >>> 0)) return cur;
  const rate = Math.max(1, tickRateHz | 0);
  const players = cur.players.map((p) => {
    const i = searchId(prev.players, p.id);
    if (i < 0) return p;
    const a = prev.players[i];
    const derived = [derivedVel(p.pos[0] - a.pos[0], rate, 1), derivedVel(p.pos[1] - a.pos[1], rate, 1)];
    const near = Math.abs(p.vel[0] - derived[0]) <= VEL_TOLERANCE && Math.abs(p.vel[1] - derived[1]) <= VEL_TOLERANCE;
    return near ? { ...p, vel: derived } : p;
  });
  return { ...cur, players };
}

/**
 * The delta from frame `base` to frame `cur` (replica.rs `diff`: the server's
 * side, for tests and tools), as a `Delta` message carrying `checksum` (that
 * of `cur`), or null when `cur` is not 1 to MAX_BASE_AGE ticks after `base`
 * (then only a full snapshot will do). Players only in `base` are `removed`,
 * players only in `cur` `added` (with their names from `cur.roster`); a
 * player whose move or ack does not fit the compact form goes whole in
 * `changed`; otherwise a velocity other than the derived one gets a
 * `velocities` entry and a new score a `scores` entry.
 */
export function diff(base, cur, checksum, tickRateHz) {
  const age = (cur.tick - base.tick) >>> 0;
  if (age === 0 || age > MAX_BASE_AGE) return null;
  const rate = Math.max(1, tickRateHz | 0);
  const d = {
    type: 'Delta',
    tick: cur.tick,
    base_age: age,
    checksum,
    removed: [],
    moves: [],
    acks: [],
    velocities: [],
    scores: [],
    changed: [],
    added: [],
    pellets_removed: [],
    pellets_added: [],
  };
  const wire = (p) => ({ id: p.id, pos: [p.pos[0], p.pos[1]], vel: [p.vel[0], p.vel[1]], score: p.score, last_input_seq: p.last_input_seq });
  const fitsI8 = (v) => v >= -128 && v <= 127;
  // Merge the two sorted player lists.
  let i = 0;
  let j = 0;
  while (i < base.players.length || j < cur.players.length) {
    const a = base.players[i];
    const b = cur.players[j];
    if (a && b && a.id === b.id) {
      const dx = b.pos[0] - a.pos[0];
      const dy = b.pos[1] - a.pos[1];
      const ack = (b.last_input_seq - a.last_input_seq) >>> 0;
      if (!(fitsI8(dx) && fitsI8(dy) && ack <= 255)) {
        d.moves.push([0, 0]);
        d.acks.push(0);
        d.changed.push(wire(b));
      } else {
        d.moves.push([dx, dy]);
        d.acks.push(ack);
        if (derivedVel(dx, rate, age) !== b.vel[0] || derivedVel(dy, rate, age) !== b.vel[1]) {
          d.velocities.push({ id: b.id, vel: [b.vel[0], b.vel[1]] });
        }
        if (a.score !== b.score) d.scores.push({ id: b.id, score: b.score });
      }
      i++;
      j++;
    } else if (a && (!b || a.id < b.id)) {
      d.removed.push(a.id);
      i++;
    } else {
      const k = searchId(cur.roster, b.id);
      d.added.push({ state: wire(b), name: k >= 0 ? cur.roster[k].name : '' });
      j++;
    }
  }
  d.pellets_removed = base.pellets.filter((p) => searchId(cur.pellets, p.id) < 0).map((p) => p.id);
  d.pellets_added = cur.pellets
    .filter((p) => {
      const k = searchId(base.pellets, p.id);
      return k < 0 || base.pellets[k].pos[0] !== p.pos[0] || base.pellets[k].pos[1] !== p.pos[1];
    })
    .map((p) => ({ id: p.id, pos: [p.pos[0], p.pos[1]] }));
  return d;
}

/** Truncates a display name to at most MAX_NAME_BYTES of UTF-8 without splitting a character. */
export function truncateName(name) {
  let out = '';
  let bytes = 0;
  for (const ch of name) {
    const n = utf8Encoder.encode(ch).length;
    if (bytes + n > MAX_NAME_BYTES) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** Room ids the server accepts: 1–64 of A-Z a-z 0-9 - _ . */
export function validRoomId(room) {
  return /^[A-Za-z0-9._-]{1,64}$/.test(room);
}
