// Replication for any game, as the server's `tickroom_protocol::state`
// writes it: decode a game's schema (sent in the welcome), rebuild each
// frame from a delta against a frame the client holds (or from nothing),
// compute a frame's checksum, and read or write one input's or event's
// values. No generated code: the schema says what every value slot is. Pure
// functions, no I/O.
//
// A frame is { tick, entities: [{ id, components: [{ id, values }] }] },
// entities by ascending network id, components by ascending id. A value is
// a number (integers, bools as 0/1, fixed-point as the integer the server
// sent, entity ids, a float's bits), a BigInt for 64-bit slots (a u64 held
// bit for bit as a signed i64, as the server holds it), or a string. Every
// rule the Rust decoder checks is checked here: bytes either decode to
// exactly the server's frame or throw ProtocolError. (replica.js turns
// these slot values into named fields.)
//
// The encoders (encodeSchema, encodeStateDelta, encodeValues) are the
// server's side, for tests and tools (a fake server, a recording viewer);
// they write exactly the Rust encoder's bytes (test/state.test.mjs checks
// them against the Rust vectors).

import { ProtocolError } from './protocol.js';

const SCALARS = ['bool', 'u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64', 'f32'];
const RANGE = {
  bool: [0n, 1n], u8: [0n, 0xffn], u16: [0n, 0xffffn], u32: [0n, 0xffffffffn],
  f32: [0n, 0xffffffffn], u64: [-(1n << 63n), (1n << 63n) - 1n], i64: [-(1n << 63n), (1n << 63n) - 1n],
  i8: [-128n, 127n], i16: [-32768n, 32767n], i32: [-(1n << 31n), (1n << 31n) - 1n],
};
const MAX_NAME_BYTES = 64;
/** Most entities a frame may hold (as the server's MAX_ENTITIES). */
export const MAX_STATE_ENTITIES = 1 << 16;
/** Most value slots a frame may hold (as the server's MAX_FRAME_SLOTS). */
export const MAX_STATE_SLOTS = 1 << 18;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Reads the state encoding: bincode varints, refusing non-canonical ones. */
class StateReader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  need(n) {
    if (this.pos + n > this.bytes.length) throw new ProtocolError(`truncated at byte ${this.pos}`);
  }

  u8() {
    this.need(1);
    return this.bytes[this.pos++];
  }

  take(n) {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A varint as a BigInt. */
  big() {
    const at = this.pos;
    const first = this.u8();
    if (first < 251) return BigInt(first);
    let v;
    let min;
    if (first === 251) {
      this.need(2); v = BigInt(this.view.getUint16(this.pos, true)); this.pos += 2; min = 251n;
    } else if (first === 252) {
      this.need(4); v = BigInt(this.view.getUint32(this.pos, true)); this.pos += 4; min = 1n << 16n;
    } else if (first === 253) {
      this.need(8); v = this.view.getBigUint64(this.pos, true); this.pos += 8; min = 1n << 32n;
    } else {
      throw new ProtocolError(`malformed at byte ${at}: varint marker`);
    }
    if (v < min) throw new ProtocolError(`malformed at byte ${at}: non-canonical varint`);
    return v;
  }

  /** A varint that must fit a u32, as a number. */
  u32() {
    const at = this.pos;
    const v = this.big();
    if (v > 0xffffffffn) throw new ProtocolError(`malformed at byte ${at}: u32 out of range`);
    return Number(v);
  }

  /** A count of items that each take at least `minBytes` of what is left. */
  count(minBytes) {
    const at = this.pos;
    const n = this.big();
    if (n * BigInt(Math.max(minBytes, 1)) > BigInt(this.bytes.length - this.pos)) {
      throw new ProtocolError(`malformed at byte ${at}: count larger than the message`);
    }
    return Number(n);
  }

  str(max) {
    const at = this.pos;
    const n = this.count(1);
    if (n > max) throw new ProtocolError(`malformed at byte ${at}: string longer than its limit`);
    try {
      return utf8.decode(this.take(n));
    } catch (e) {
      if (e instanceof ProtocolError) throw e;
      throw new ProtocolError(`malformed at byte ${at}: invalid UTF-8`);
    }
  }

  finish() {
    const left = this.bytes.length - this.pos;
    if (left !== 0) throw new ProtocolError(`${left} trailing bytes`);
  }
}

function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('expected bytes (Uint8Array, ArrayBuffer or a view)');
}

function readType(r, depth) {
  const at = r.pos;
  const scalar = () => {
    const i = r.u8();
    if (i >= SCALARS.length) throw new ProtocolError(`malformed at byte ${r.pos - 1}: scalar type`);
    return SCALARS[i];
  };
  switch (r.u8()) {
    case 0: return { kind: 'scalar', scalar: scalar() };
    case 1: return { kind: 'fixed', scalar: scalar(), scale: r.u32() };
    case 2: {
      const max = r.u32();
      if (max > 0xffff) throw new ProtocolError(`malformed at byte ${at}: text limit`);
      return { kind: 'text', maxBytes: max };
    }
    case 3: {
      if (depth !== 0) break; // arrays do not nest
      const len = r.u8();
      return { kind: 'array', len, item: readType(r, 1) };
    }
    case 4: return { kind: 'entity' };
    default: break;
  }
  throw new ProtocolError(`malformed at byte ${at}: field type`);
}

function pushSlots(type, out) {
  switch (type.kind) {
    case 'scalar':
    case 'fixed': {
      const [min, max] = RANGE[type.scalar];
      const kind = type.scalar === 'f32' && type.kind === 'scalar' ? 'f32' : type.scalar === 'bool' ? 'bool' : 'int';
      out.push({ kind, min, max, big: type.scalar === 'u64' || type.scalar === 'i64' });
      break;
    }
    case 'entity': out.push({ kind: 'int', min: 0n, max: 0xffffffffn, big: false }); break;
    case 'text': out.push({ kind: 'text', maxBytes: type.maxBytes }); break;
    case 'array': for (let i = 0; i < type.len; i++) pushSlots(type.item, out); break;
    default: break;
  }
}

function readShape(r) {
  const name = r.str(MAX_NAME_BYTES);
  const n = r.count(3);
  const fields = [];
  for (let i = 0; i < n; i++) {
    const fname = r.str(MAX_NAME_BYTES);
    fields.push({ name: fname, type: readType(r, 0) });
  }
  const slots = [];
  for (const f of fields) pushSlots(f.type, slots);
  return { name, fields, slots };
}

/** FNV-1a 64 of `bytes`, as a BigInt (the schema hash the server sends). */
export function fnv1a64(bytes) {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

/**
 * Decodes a game's schema: { game, version, hash, components, input, events },
 * each component { name, fields, slots } at the index that is its id. Throws
 * ProtocolError on bytes that are not a canonical schema.
 */
export function decodeSchema(data) {
  const bytes = toBytes(data);
  const r = new StateReader(bytes);
  const game = r.str(MAX_NAME_BYTES);
  const version = r.u32();
  const lists = [[], []];
  for (const list of lists) {
    const n = r.count(2);
    for (let i = 0; i < n; i++) list.push(readShape(r));
    for (let i = 1; i < list.length; i++) {
      if (!(list[i - 1].name < list[i].name)) throw new ProtocolError('schema not in canonical order');
    }
  }
  const input = readShape(r);
  r.finish();
  const [components, events] = lists;
  if (components.length > 64) throw new ProtocolError('more than 64 components');
  for (const c of components) {
    if (c.slots.length > 64) throw new ProtocolError(`component ${c.name} has more than 64 slots`);
  }
  return { game, version, hash: fnv1a64(bytes), components, input, events };
}

/** Reads a delta's header: { tick, baseTick } (baseTick null: a full frame). */
export function readStateHeader(data) {
  return header(new StateReader(toBytes(data)));
}

function header(r) {
  const tick = r.u32();
  const at = r.pos;
  const age = r.u32();
  if (age > tick) throw new ProtocolError(`malformed at byte ${at}: base older than tick 0`);
  return { tick, baseTick: age === 0 ? null : tick - age };
}

const unzigzag = (u) => (u >> 1n) ^ -(u & 1n);
const zigzag = (v) => (v < 0n ? ((-v) << 1n) - 1n : v << 1n);
const bitsOf = (mask) => {
  const out = [];
  for (let k = 0n; k < 64n; k++) if (mask & (1n << k)) out.push(Number(k));
  return out;
};
const zero = (slot) => (slot.kind === 'text' ? '' : slot.big ? 0n : 0);
const isZero = (v) => v === 0 || v === 0n || v === '';

/**
 * Rebuilds the frame a delta describes from `base` (null for a full frame);
 * the header's base tick must be `base`'s (read it with readStateHeader).
 */
export function applyStateDelta(schema, base, data) {
  const r = new StateReader(toBytes(data));
  const h = header(r);
  if (h.baseTick !== (base ? base.tick : null)) {
    throw new ProtocolError(`delta from base ${h.baseTick}, given base ${base ? base.tick : null}`);
  }
  const be = base ? base.entities : [];
  const nComps = schema.components.length;

  // Despawned ids, gap-coded ascending.
  const despawned = readIds(r);
  // Shapes.
  const nShapes = r.count(2);
  const shapes = [];
  for (let s = 0; s < nShapes; s++) {
    const at = r.pos;
    const removed = r.big();
    const changed = r.big();
    if (removed & changed) throw new ProtocolError(`malformed at byte ${at}: a component both removed and changed`);
    if (nComps < 64 && (removed | changed) >> BigInt(nComps)) {
      throw new ProtocolError(`malformed at byte ${at}: unknown component in a shape`);
    }
    const fields = [];
    for (const c of bitsOf(changed)) {
      const fat = r.pos;
      const mask = r.big();
      const n = schema.components[c].slots.length;
      if (n < 64 && mask >> BigInt(n)) throw new ProtocolError(`malformed at byte ${fat}: slot mask past the component's slots`);
      fields.push(mask);
    }
    const key = `${removed}/${changed}/${fields.join(',')}`;
    if (shapes.some((x) => x.key === key)) throw new ProtocolError(`malformed at byte ${at}: shape listed twice`);
    shapes.push({ removed, changed, fields, key });
  }
  const bitmap = r.take(Math.ceil(be.length / 8));
  const state = { used: 0, slots: 0 };

  const out = [];
  let g = 0;
  for (let i = 0; i < be.length; i++) {
    const e = be[i];
    const isChanged = (bitmap[i >> 3] & (1 << (i & 7))) !== 0;
    if (g < despawned.length && despawned[g] === e.id) {
      g++;
      if (isChanged) throw new ProtocolError(`malformed at byte ${r.pos}: a despawned entity marked changed`);
      continue;
    }
    if (isChanged) {
      const at = r.pos;
      const shape = pickShape(r, shapes, state);
      if (shape.removed === 0n && shape.changed === 0n) {
        throw new ProtocolError(`malformed at byte ${at}: a changed entity with nothing changed`);
      }
      out.push(readEntity(r, schema, e, e.id, shape, state));
    } else {
      out.push(e);
      state.slots += e.components.reduce((n, c) => n + c.values.length, 0);
    }
    if (state.slots > MAX_STATE_SLOTS) throw new ProtocolError(`more value slots in a frame than ${MAX_STATE_SLOTS}`);
  }
  if (g < despawned.length) throw new ProtocolError(`malformed at byte ${r.pos}: despawn of an unknown entity`);
  if (be.length % 8 !== 0 && bitmap.length > 0 && bitmap[bitmap.length - 1] >> (be.length % 8)) {
    throw new ProtocolError(`malformed at byte ${r.pos}: bits past the last entity`);
  }
  const nSpawned = r.count(2);
  if (out.length + nSpawned > MAX_STATE_ENTITIES) throw new ProtocolError(`more entities in a frame than ${MAX_STATE_ENTITIES}`);
  const baseIds = new Set(be.map((e) => e.id));
  const spawned = [];
  let prev = null;
  for (let s = 0; s < nSpawned; s++) {
    const at = r.pos;
    const id = nextId(r, prev);
    prev = id;
    if (baseIds.has(id)) throw new ProtocolError(`malformed at byte ${at}: a spawn of an entity the base has`);
    const shape = pickShape(r, shapes, state);
    if (shape.removed !== 0n) throw new ProtocolError(`malformed at byte ${at}: a spawn removes a component`);
    spawned.push(readEntity(r, schema, null, id, shape, state));
    if (state.slots > MAX_STATE_SLOTS) throw new ProtocolError(`more value slots in a frame than ${MAX_STATE_SLOTS}`);
  }
  if (state.used !== shapes.length) throw new ProtocolError(`malformed at byte ${r.pos}: a shape no entity uses`);
  r.finish();
  const entities = spawned.length === 0 ? out : out.concat(spawned).sort((a, b) => a.id - b.id);
  return { tick: h.tick, entities };
}

function readIds(r) {
  const n = r.count(1);
  const ids = new Array(n);
  let prev = null;
  for (let i = 0; i < n; i++) {
    ids[i] = nextId(r, prev);
    prev = ids[i];
  }
  return ids;
}

/** The next id of an ascending, gap-coded list (the first id is whole). */
function nextId(r, prev) {
  const at = r.pos;
  const gap = r.u32();
  const id = prev === null ? gap : prev + gap + 1;
  if (id > 0xffffffff) throw new ProtocolError(`malformed at byte ${at}: entity id past u32`);
  return id;
}

function pickShape(r, shapes, state) {
  const at = r.pos;
  const k = r.big();
  if (k > BigInt(state.used) || k >= BigInt(shapes.length)) throw new ProtocolError(`malformed at byte ${at}: shape index`);
  if (Number(k) === state.used) state.used++;
  return shapes[Number(k)];
}

function readEntity(r, schema, base, id, shape, state) {
  const at = r.pos;
  const had = new Map((base ? base.components : []).map((c) => [c.id, c.values]));
  for (const c of bitsOf(shape.removed)) {
    if (!had.has(c)) throw new ProtocolError(`malformed at byte ${at}: removes a component the entity lacks`);
  }
  const keep = new Set([...had.keys(), ...bitsOf(shape.changed)]);
  for (const c of bitsOf(shape.removed)) keep.delete(c);
  const changed = bitsOf(shape.changed);
  const components = [];
  for (const c of [...keep].sort((a, b) => a - b)) {
    const old = had.get(c);
    const ci = changed.indexOf(c);
    if (ci < 0) {
      components.push({ id: c, values: old });
      state.slots += old.length;
      continue;
    }
    const mask = shape.fields[ci];
    if (old && mask === 0n) throw new ProtocolError(`malformed at byte ${r.pos}: a changed component with no changed slot`);
    const layout = schema.components[c].slots;
    const values = old ? old.slice() : layout.map(zero);
    for (const k of bitsOf(mask)) {
      const vat = r.pos;
      const slot = layout[k];
      const o = values[k];
      if (slot.kind === 'bool') {
        values[k] = 1 - o;
      } else if (slot.kind === 'int') {
        const d = unzigzag(r.big());
        const n = BigInt.asIntN(64, BigInt(o) + d);
        if (d === 0n || n < slot.min || n > slot.max) {
          throw new ProtocolError(`malformed at byte ${vat}: integer delta out of its type's range`);
        }
        values[k] = slot.big ? n : Number(n);
      } else if (slot.kind === 'f32') {
        const n = new DataView(r.take(4).slice().buffer).getUint32(0, true);
        if (n === o) throw new ProtocolError(`malformed at byte ${vat}: an unchanged float sent`);
        values[k] = n;
      } else {
        const t = r.str(slot.maxBytes);
        if (t === o) throw new ProtocolError(`malformed at byte ${vat}: an unchanged text sent`);
        values[k] = t;
      }
    }
    components.push({ id: c, values });
    state.slots += values.length;
  }
  return { id, components };
}

// CRC-32 (IEEE), table-driven.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32Update(crc, byte) {
  return CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
}

/**
 * The frame checksum the server sends: CRC-32 over the tick, the entity
 * count, per entity its id and component count, per component its id and
 * value count, per value an integer's zig-zag varint or a text's length and
 * UTF-8 bytes (varints as everywhere else).
 */
export function stateChecksum(frame) {
  let crc = 0xffffffff;
  const byte = (b) => { crc = crc32Update(crc, b); };
  const varint = (v) => {
    v = BigInt(v);
    if (v < 251n) { byte(Number(v)); return; }
    let n; let marker;
    if (v <= 0xffffn) { marker = 251; n = 2; } else if (v <= 0xffffffffn) { marker = 252; n = 4; } else { marker = 253; n = 8; }
    byte(marker);
    for (let i = 0; i < n; i++) byte(Number((v >> BigInt(8 * i)) & 0xffn));
  };
  varint(frame.tick);
  varint(frame.entities.length);
  for (const e of frame.entities) {
    varint(e.id);
    varint(e.components.length);
    for (const c of e.components) {
      byte(c.id);
      varint(c.values.length);
      for (const v of c.values) {
        if (typeof v === 'string') {
          const b = utf8Encoder.encode(v);
          varint(b.length);
          for (const x of b) byte(x);
        } else {
          varint(zigzag(BigInt(v)));
        }
      }
    }
  }
  return (crc ^ 0xffffffff) >>> 0;
}

// ---- one input or event: a shape's values, each slot in order ----

/**
 * Decodes exactly one message of `slots` (a schema shape's `slots`: the
 * input's, or an event's) from `data`: bools as 0/1, integers as numbers
 * (BigInt for 64-bit slots), a float's bits, texts as strings. Refuses, as
 * message.rs does, a value out of its slot's range, a bool other than 0 or
 * 1, a non-canonical varint, invalid UTF-8, an over-long text and trailing
 * bytes (ProtocolError).
 */
export function decodeValues(slots, data) {
  const r = new StateReader(toBytes(data));
  const out = readValues(r, slots);
  r.finish();
  return out;
}

function readValues(r, slots) {
  const out = new Array(slots.length);
  for (let k = 0; k < slots.length; k++) {
    const slot = slots[k];
    const at = r.pos;
    if (slot.kind === 'bool') {
      const b = r.u8();
      if (b > 1) throw new ProtocolError(`malformed at byte ${at}: a bool other than 0 or 1`);
      out[k] = b;
    } else if (slot.kind === 'int') {
      const n = unzigzag(r.big());
      if (n < slot.min || n > slot.max) throw new ProtocolError(`malformed at byte ${at}: integer out of its type's range`);
      out[k] = slot.big ? n : Number(n);
    } else if (slot.kind === 'f32') {
      const b = r.take(4);
      out[k] = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
    } else {
      out[k] = r.str(slot.maxBytes);
    }
  }
  return out;
}

/**
 * Decodes one event of `schema` (a State's `events` item): its id as a
 * varint, then its values. Returns { id, values }; throws ProtocolError on an
 * unknown id or bad values.
 */
export function decodeEventValues(schema, data) {
  const r = new StateReader(toBytes(data));
  const id = r.big();
  if (id >= BigInt(schema.events.length)) throw new ProtocolError('malformed at byte 0: unknown event id');
  const values = readValues(r, schema.events[Number(id)].slots);
  r.finish();
  return { id: Number(id), values };
}

/** A growable byte buffer with the state encoding's varints. */
class ByteWriter {
  constructor() {
    this.bytes = [];
  }

  u8(b) {
    this.bytes.push(b);
  }

  varint(v) {
    v = BigInt(v);
    if (v < 251n) {
      this.bytes.push(Number(v));
      return;
    }
    let n;
    if (v <= 0xffffn) {
      this.bytes.push(251);
      n = 2;
    } else if (v <= 0xffffffffn) {
      this.bytes.push(252);
      n = 4;
    } else {
      this.bytes.push(253);
      n = 8;
    }
    for (let i = 0; i < n; i++) this.bytes.push(Number((v >> BigInt(8 * i)) & 0xffn));
  }

  str(s) {
    const b = utf8Encoder.encode(s);
    this.varint(b.length);
    for (const x of b) this.bytes.push(x);
  }

  u32le(n) {
    for (let i = 0; i < 4; i++) this.bytes.push((n >>> (8 * i)) & 0xff);
  }

  finish() {
    return Uint8Array.from(this.bytes);
  }
}

/** Whether `v` fits `slot` (the check every encoder makes before writing). */
function fits(slot, v) {
  if (slot.kind === 'text') return typeof v === 'string' && utf8Encoder.encode(v).length <= slot.maxBytes;
  if (slot.kind === 'f32') return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
  if (slot.big ? typeof v !== 'bigint' : !Number.isInteger(v)) return false;
  const n = BigInt(v);
  return n >= slot.min && n <= slot.max;
}

/**
 * Encodes `values` (one per slot of `slots`, as decodeValues returns them)
 * as one input or event body: the bytes message.rs `encode_values` writes.
 * Throws RangeError on a value that does not fit its slot.
 */
export function encodeValues(slots, values) {
  const w = new ByteWriter();
  writeValues(w, slots, values);
  return w.finish();
}

function writeValues(w, slots, values) {
  if (!Array.isArray(values) || values.length !== slots.length) {
    throw new RangeError(`${slots.length} values expected, got ${Array.isArray(values) ? values.length : typeof values}`);
  }
  slots.forEach((slot, k) => {
    const v = values[k];
    if (!fits(slot, v)) throw new RangeError(`value ${String(v)} does not fit slot ${k} (${slot.kind})`);
    if (slot.kind === 'bool') w.u8(v);
    else if (slot.kind === 'int') w.varint(zigzag(BigInt(v)));
    else if (slot.kind === 'f32') w.u32le(v);
    else w.str(v);
  });
}

/** Encodes event `id` of `schema` with `values`: the id as a varint, then the values (message.rs `encode_event`). */
export function encodeEventValues(schema, id, values) {
  const shape = schema.events[id];
  if (!shape) throw new RangeError(`no event with id ${id}`);
  const w = new ByteWriter();
  w.varint(id);
  writeValues(w, shape.slots, values);
  return w.finish();
}

// ---- the server's side: schemas and deltas, for tests and tools ----

const TYPE_TAGS = { scalar: 0, fixed: 1, text: 2, array: 3, entity: 4 };

function writeType(w, type) {
  w.u8(TYPE_TAGS[type.kind]);
  switch (type.kind) {
    case 'scalar':
      w.u8(SCALARS.indexOf(type.scalar));
      break;
    case 'fixed':
      w.u8(SCALARS.indexOf(type.scalar));
      w.varint(type.scale);
      break;
    case 'text':
      w.varint(type.maxBytes);
      break;
    case 'array':
      w.u8(type.len);
      writeType(w, type.item);
      break;
    default:
      break;
  }
}

function checkType(type, depth) {
  const ok = (() => {
    switch (type?.kind) {
      case 'scalar': return SCALARS.includes(type.scalar);
      case 'fixed': return SCALARS.includes(type.scalar) && !['bool', 'f32'].includes(type.scalar) && Number.isInteger(type.scale) && type.scale >= 1;
      case 'text': return Number.isInteger(type.maxBytes) && type.maxBytes >= 1 && type.maxBytes <= 1024;
      case 'array': return depth === 0 && Number.isInteger(type.len) && type.len >= 1 && type.len <= 32 && type.item?.kind !== 'text' && checkType(type.item, 1);
      case 'entity': return true;
      default: return false;
    }
  })();
  return ok;
}

function writeShape(w, shape) {
  w.str(shape.name);
  w.varint(shape.fields.length);
  for (const f of shape.fields) {
    if (!checkType(f.type, 0)) throw new RangeError(`${shape.name}.${f.name}: not a valid field type`);
    w.str(f.name);
    writeType(w, f.type);
  }
}

const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The canonical bytes of a schema (Schema::encode): `def` is
 * { game, version, components, input, events }, each shape { name, fields:
 * [{ name, type }] } with types as decodeSchema returns them. Components and
 * events are sorted by name (their ids are their places). Checks the field
 * types, not every rule of Schema::new (names, duplicates, limits): a
 * schema the server would refuse may encode.
 */
export function encodeSchema(def) {
  const w = new ByteWriter();
  w.str(def.game);
  w.varint(def.version);
  for (const list of [def.components ?? [], def.events ?? []]) {
    const sorted = [...list].sort(byName);
    w.varint(sorted.length);
    for (const s of sorted) writeShape(w, s);
  }
  writeShape(w, def.input ?? { name: 'input', fields: [] });
  return w.finish();
}

/** Which slots of `b` differ from `a` (or from zeros when `a` is null), as a BigInt mask. */
function slotMask(a, b) {
  let mask = 0n;
  for (let k = 0; k < b.length; k++) {
    if (a ? a[k] !== b[k] : !isZero(b[k])) mask |= 1n << BigInt(k);
  }
  return mask;
}

/** The shape key of entity `e` against `base` (null: a spawn), or null when nothing changed. */
function shapeOf(base, e) {
  let removed = 0n;
  let changed = 0n;
  const masks = [];
  const bc = base ? base.components : [];
  let i = 0;
  let j = 0;
  while (i < bc.length || j < e.components.length) {
    const x = bc[i];
    const y = e.components[j];
    if (x && y && x.id === y.id) {
      const mask = slotMask(x.values, y.values);
      if (mask !== 0n) {
        changed |= 1n << BigInt(y.id);
        masks.push(mask);
      }
      i++;
      j++;
    } else if (x && (!y || x.id < y.id)) {
      removed |= 1n << BigInt(x.id);
      i++;
    } else {
      changed |= 1n << BigInt(y.id);
      masks.push(slotMask(null, y.values));
      j++;
    }
  }
  if (base && removed === 0n && changed === 0n) return null;
  return [removed, changed, ...masks];
}

function writeEntityValues(w, schema, base, e) {
  const old = new Map((base ? base.components : []).map((c) => [c.id, c.values]));
  for (const c of e.components) {
    const layout = schema.components[c.id].slots;
    const was = old.get(c.id);
    c.values.forEach((v, k) => {
      const o = was ? was[k] : zero(layout[k]);
      if (was ? o === v : isZero(v)) return;
      const slot = layout[k];
      if (!fits(slot, v)) throw new RangeError(`entity ${e.id}: value ${String(v)} does not fit slot ${k} of ${schema.components[c.id].name}`);
      if (slot.kind === 'bool') return; // it flipped
      if (slot.kind === 'int') w.varint(zigzag(BigInt.asIntN(64, BigInt(v) - BigInt(o))));
      else if (slot.kind === 'f32') w.u32le(v);
      else w.str(v);
    });
  }
}

/**
 * The delta from frame `base` (null: from nothing, a whole frame) to frame
 * `frame` of `schema`: exactly the bytes the Rust `Encoder::encode` writes
 * (delta.rs documents the layout). Both frames as applyStateDelta returns
 * them (entities by ascending id, components by ascending id, values
 * fitting their slots); `base`'s tick below `frame`'s.
 */
export function encodeStateDelta(schema, base, frame) {
  const w = new ByteWriter();
  const be = base ? base.entities : [];
  const ne = frame.entities;
  const shapes = [];
  const shapeIndex = new Map();
  const intern = (key) => {
    const k = key.join(',');
    let idx = shapeIndex.get(k);
    if (idx === undefined) {
      idx = shapes.length;
      shapes.push(key);
      shapeIndex.set(k, idx);
    }
    return idx;
  };
  const despawned = [];
  const changed = []; // [entity, its base, shape index]
  const spawned = [];
  const bitmap = new Uint8Array(Math.ceil(be.length / 8));
  let i = 0;
  let j = 0;
  while (i < be.length || j < ne.length) {
    const x = be[i];
    const y = ne[j];
    if (x && y && x.id === y.id) {
      const key = shapeOf(x, y);
      if (key) {
        bitmap[i >> 3] |= 1 << (i & 7);
        changed.push([y, x, intern(key)]);
      }
      i++;
      j++;
    } else if (x && (!y || x.id < y.id)) {
      despawned.push(x.id);
      i++;
    } else {
      spawned.push(y);
      j++;
    }
  }
  const spawnShapes = spawned.map((y) => intern(shapeOf(null, y)));

  w.varint(frame.tick);
  w.varint(base ? (frame.tick - base.tick) >>> 0 : 0);
  writeIds(w, despawned);
  w.varint(shapes.length);
  for (const key of shapes) for (const m of key) w.varint(m);
  for (const b of bitmap) w.u8(b);
  for (const [y, x, shape] of changed) {
    w.varint(shape);
    writeEntityValues(w, schema, x, y);
  }
  w.varint(spawned.length);
  let prev = null;
  spawned.forEach((y, k) => {
    w.varint(prev === null ? y.id : y.id - prev - 1);
    prev = y.id;
    w.varint(spawnShapes[k]);
    writeEntityValues(w, schema, null, y);
  });
  return w.finish();
}

function writeIds(w, ids) {
  w.varint(ids.length);
  let prev = null;
  for (const id of ids) {
    w.varint(prev === null ? id : id - prev - 1);
    prev = id;
  }
}
