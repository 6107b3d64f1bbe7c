// tickroom's wire protocol in JavaScript: the browser client's mirror of
// crates/protocol (messages.rs, codec.rs): the envelope every game shares.
// A game's own data travels inside it as bytes its schema describes
// (state.js decodes them): the input a client sends, the events and the
// frame a State carries, the schema itself in the Welcome. Nothing here
// names a game. It is kept honest by cross-language test vectors
// (clients/js/test/vectors.json, written by
// crates/protocol/tests/vectors.rs and checked by test/protocol.test.mjs).
//
// Encoding: bincode 2 "standard" configuration — little-endian; integers
// other than u8 as varints (below 251: one byte; else a marker 251/252/253
// then a u16/u32/u64); enums as a varint variant index; Vec/String as a
// varint length then the items (raw bytes for a Vec<u8>, UTF-8 for a
// String); structs as their fields in order; bool as one byte 0 or 1
// (anything else is malformed); a State's `checksum` as 4 raw little-endian
// bytes (not a varint).
//
// Messages are plain objects with the Rust field names, byte strings as
// Uint8Array:
//   client: { type: 'Join', version, name, resume }, { type: 'Input', seq,
//           ack_tick, data }, { type: 'Ping', nonce }, { type: 'Leave' }
//   server: { type: 'Welcome', version, player_id, room, game, tick_rate_hz,
//           sim_rate_hz, tick, schema, config, resume_token, resumed },
//           { type: 'State', ack_seq, events: [Uint8Array], checksum, frame },
//           { type: 'Pong', nonce, tick }, { type: 'Error', code, message }
//
// Protocol version 6 (tickroom-client 0.6.x): any game. The Welcome names
// the room's game and carries its schema (state.js `decodeSchema`) and its
// config (JSON); an Input carries the game's input encoded by that schema;
// a State carries the newest input sequence number the room applied for
// this client (`ack_seq`), the events for this player since the last State,
// the frame's checksum and the frame itself, a delta from the newest frame
// this client was sent or a whole frame (replica.js rebuilds it).

/** Version of the wire format; sent in Join (the server closes with 1002 on a mismatch). */
export const PROTOCOL_VERSION = 6;
/** Longest player name, in bytes of UTF-8. */
export const MAX_NAME_BYTES = 24;
/** Longest resume token (Join `resume`), in bytes. */
export const MAX_TOKEN_BYTES = 160;
/** Longest encoded client message the server accepts. */
export const MAX_CLIENT_MESSAGE_BYTES = 256;
/** Longest game input (Input `data`), in bytes. */
export const MAX_INPUT_BYTES = 200;
/** Most events one State carries. */
export const MAX_EVENTS_PER_STATE = 256;
/** Longest encoded server message a client accepts. */
export const MAX_SERVER_MESSAGE_BYTES = 64 * 1024;

const CLIENT_VARIANTS = ['Join', 'Input', 'Ping', 'Leave'];
const SERVER_VARIANTS = ['Welcome', 'State', 'Pong', 'Error'];

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

  bool() {
    const b = this.u8();
    if (b > 1) throw new ProtocolError(`invalid bool ${b}`);
    return b === 1;
  }

  /** Four raw little-endian bytes as a u32 (a State's checksum). */
  u32le() {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  // A varint of at most `bits` (16, 32 or 64). Values that fit a JS number
  // exactly are returned as numbers; larger u64 values would lose precision
  // and are refused (no field of this protocol needs them).
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

  len() {
    const n = this.varuint(64);
    // Every item takes at least one byte, so a length beyond the remaining
    // bytes is malformed: refuse it before allocating anything.
    if (n > this.bytes.length - this.pos) throw new ProtocolError(`length ${n} exceeds the message`);
    return n;
  }

  /** A Vec<u8>: its length, then the bytes (a copy). */
  bytesField() {
    const n = this.len();
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
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

  bool(v) {
    if (typeof v !== 'boolean') throw new RangeError(`bool expected: ${v}`);
    this.u8(v ? 1 : 0);
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
  len(n) { this.varuint(n, Number.MAX_SAFE_INTEGER, 'length'); }

  raw(b) {
    this.reserve(b.length);
    this.bytes.set(b, this.pos);
    this.pos += b.length;
  }

  /** A Vec<u8> (a Uint8Array or an array of byte values). */
  bytesField(b, what) {
    const bytes = asBytes(b, what);
    this.len(bytes.length);
    this.raw(bytes);
  }

  string(s) {
    if (typeof s !== 'string') throw new RangeError(`string expected: ${s}`);
    const b = utf8Encoder.encode(s);
    this.len(b.length);
    this.raw(b);
  }

  vec(items, item) {
    if (!Array.isArray(items)) throw new RangeError(`array expected: ${items}`);
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

/** `b` as a Uint8Array: a Uint8Array as is, an array of byte values copied (RangeError otherwise). */
function asBytes(b, what) {
  if (b instanceof Uint8Array) return b;
  if (Array.isArray(b)) {
    for (const x of b) checkInt(x, 0, 0xff, what);
    return Uint8Array.from(b);
  }
  throw new RangeError(`${what}: bytes expected (a Uint8Array)`);
}

function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('expected an ArrayBuffer or a typed array');
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
        game: r.string(),
        tick_rate_hz: r.u16(),
        sim_rate_hz: r.u16(),
        tick: r.u32(),
        schema: r.bytesField(),
        config: r.string(),
        resume_token: r.string(),
        resumed: r.bool(),
      };
      break;
    case 'State':
      msg = {
        type,
        ack_seq: r.u32(),
        events: r.vec((r) => r.bytesField()),
        checksum: r.u32le(),
        frame: r.bytesField(),
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

/** Encodes a server message (the server's side; used by tests and tools). Throws RangeError on bad fields. */
export function encodeServer(msg) {
  const w = new Writer();
  w.variant(SERVER_VARIANTS, msg.type);
  switch (msg.type) {
    case 'Welcome':
      w.u16(msg.version);
      w.u32(msg.player_id);
      w.string(msg.room);
      w.string(msg.game);
      w.u16(msg.tick_rate_hz);
      w.u16(msg.sim_rate_hz);
      w.u32(msg.tick);
      w.bytesField(msg.schema, 'schema');
      w.string(msg.config);
      w.string(msg.resume_token);
      w.bool(msg.resumed);
      break;
    case 'State':
      w.u32(msg.ack_seq);
      w.vec(msg.events, (w, e) => w.bytesField(e, 'event'));
      w.u32le(msg.checksum);
      w.bytesField(msg.frame, 'frame');
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
 * Encodes a client message into a Uint8Array ready for WebSocket.send.
 * Throws RangeError on out-of-range fields, including what the server would
 * refuse: a Join `resume` token longer than MAX_TOKEN_BYTES, Input `data`
 * longer than MAX_INPUT_BYTES. A Join without `resume` is a fresh join ('').
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
    case 'Input': {
      const data = asBytes(msg.data, 'input data');
      if (data.length > MAX_INPUT_BYTES) throw new RangeError(`input data longer than ${MAX_INPUT_BYTES} bytes`);
      w.u32(msg.seq);
      w.u32(msg.ack_tick);
      w.bytesField(data, 'input data');
      break;
    }
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
 * the checks of codec.rs `decode_client`: size limit, name, resume token and
 * input data lengths. Throws ProtocolError.
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
      msg = { type, seq: r.u32(), ack_tick: r.u32(), data: r.bytesField() };
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
  if (type === 'Input' && msg.data.length > MAX_INPUT_BYTES) throw new ProtocolError('input data longer than 200 bytes');
  return msg;
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
