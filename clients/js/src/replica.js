// A client's copy of its room's state, for any game, and the game's data by
// name: a Replica rebuilds the newest frame from the State messages a client
// receives (a whole frame, or a delta from the frame it holds) and checks
// each against its checksum, like the Rust `tickroom_protocol::state::Replica`;
// the view functions turn a frame's value slots into entities with named
// components, `{ id, components: { pos: { x, y }, player: { id, name,
// connected } } }`, and a game's input and events into and out of their
// bytes, all from the schema the Welcome carries (state.js decodes it).
// Pure: no I/O, no clock.
//
// Named values, by field type: bool → true/false; integers → numbers (u64
// and i64 → BigInt); fixed-point → the number the server meant (the integer
// ÷ scale); f32 → the float; text → a string; entity → the network id (a
// number); array → an array of its items.
//
// The views of entities a delta did not touch are the previous frame's own
// objects (state.js shares unchanged entities between frames, and the
// views are cached per entity): treat them as read-only.

import { MAX_INPUT_BYTES } from './protocol.js';
import {
  applyStateDelta,
  decodeEventValues,
  decodeSchema,
  decodeValues,
  encodeEventValues,
  encodeValues,
  readStateHeader,
  stateChecksum,
} from './state.js';

const utf8Encoder = new TextEncoder();
const f32View = new DataView(new ArrayBuffer(4));

/** The float whose IEEE-754 single bits are `bits`. */
function f32FromBits(bits) {
  f32View.setUint32(0, bits >>> 0);
  return f32View.getFloat32(0);
}

/** The IEEE-754 single bits of `x` (rounded to f32). */
function f32Bits(x) {
  f32View.setFloat32(0, x);
  return f32View.getUint32(0);
}

const BIG = new Set(['u64', 'i64']);

/** A field's named value from `values` at `k`; returns [value, next k]. */
function readField(type, values, k) {
  switch (type.kind) {
    case 'scalar': {
      const v = values[k];
      if (type.scalar === 'bool') return [v === 1, k + 1];
      if (type.scalar === 'f32') return [f32FromBits(v), k + 1];
      if (type.scalar === 'u64') return [BigInt.asUintN(64, v), k + 1];
      return [v, k + 1];
    }
    case 'fixed': {
      const v = values[k];
      const n = type.scalar === 'u64' ? Number(BigInt.asUintN(64, v)) : Number(v);
      return [n / type.scale, k + 1];
    }
    case 'text':
    case 'entity':
      return [values[k], k + 1];
    case 'array': {
      const out = new Array(type.len);
      for (let i = 0; i < type.len; i++) [out[i], k] = readField(type.item, values, k);
      return [out, k];
    }
    default:
      return [undefined, k + 1];
  }
}

/** A shape's (a component's, the input's, an event's) slot values as `{ field: value }`. */
export function namedFields(shape, values) {
  const out = {};
  let k = 0;
  for (const f of shape.fields) [out[f.name], k] = readField(f.type, values, k);
  return out;
}

const INT_RANGE = {
  u8: [0, 0xff], u16: [0, 0xffff], u32: [0, 0xffffffff],
  i8: [-128, 127], i16: [-32768, 32767], i32: [-(2 ** 31), 2 ** 31 - 1],
};

/** Rust's `f64::round`: half away from zero. */
const roundHalfAway = (v) => Math.sign(v) * Math.round(Math.abs(v));

/** `s` cut to at most `max` bytes of UTF-8 at a character boundary (the engine's write_text). */
function cutText(s, max) {
  if (utf8Encoder.encode(s).length <= max) return s;
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = utf8Encoder.encode(ch).length;
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** The slot values of one field from its named value (`undefined`: zero); pushes onto `out`. */
function writeField(type, v, out, at) {
  const bad = (why) => new RangeError(`${at}: ${why} (got ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)})`);
  switch (type.kind) {
    case 'scalar': {
      const s = type.scalar;
      if (s === 'bool') {
        if (v === undefined || v === false || v === 0) out.push(0);
        else if (v === true || v === 1) out.push(1);
        else throw bad('a bool expected');
        return;
      }
      if (s === 'f32') {
        if (v !== undefined && typeof v !== 'number') throw bad('a number expected');
        out.push(f32Bits(v ?? 0));
        return;
      }
      if (BIG.has(s)) {
        let n;
        if (v === undefined) n = 0n;
        else if (typeof v === 'bigint') n = v;
        else if (Number.isInteger(v)) n = BigInt(v);
        else throw bad('an integer expected');
        const ok = s === 'u64' ? n >= 0n && n < 1n << 64n : n >= -(1n << 63n) && n < 1n << 63n;
        if (!ok) throw bad(`out of the ${s} range`);
        out.push(BigInt.asIntN(64, n));
        return;
      }
      const n = v === undefined ? 0 : typeof v === 'bigint' ? Number(v) : v;
      const [min, max] = INT_RANGE[s];
      if (!Number.isInteger(n) || n < min || n > max) throw bad(`an integer in ${min}..=${max} expected`);
      out.push(n);
      return;
    }
    case 'fixed': {
      if (v !== undefined && typeof v !== 'number') throw bad('a number expected');
      const x = roundHalfAway((v ?? 0) * type.scale);
      if (BIG.has(type.scalar)) {
        const [min, max] = type.scalar === 'u64' ? [0, 2 ** 64] : [-(2 ** 63), 2 ** 63];
        const n = Number.isNaN(x) ? 0n : x <= min ? BigInt(min) : x >= max ? BigInt(max) - 1n : BigInt(x);
        out.push(BigInt.asIntN(64, n));
        return;
      }
      const [min, max] = INT_RANGE[type.scalar];
      out.push(Number.isNaN(x) ? 0 : Math.min(max, Math.max(min, x)) + 0);
      return;
    }
    case 'text':
      if (v !== undefined && typeof v !== 'string') throw bad('a string expected');
      out.push(cutText(v ?? '', type.maxBytes));
      return;
    case 'entity': {
      const n = v ?? 0;
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw bad('an entity id (u32) expected');
      out.push(n);
      return;
    }
    case 'array': {
      if (v !== undefined && !Array.isArray(v)) throw bad('an array expected');
      if (v && v.length > type.len) throw bad(`at most ${type.len} items expected`);
      for (let i = 0; i < type.len; i++) writeField(type.item, v?.[i], out, `${at}[${i}]`);
      return;
    }
    default:
      throw bad('unknown field type');
  }
}

/**
 * A shape's slot values from `{ field: value }`: a missing field is zero
 * (false, 0, '', an array of zeros); a field the shape lacks is a
 * TypeError; a value its type cannot hold is a RangeError, except that
 * fixed-point numbers round (half away from zero) and clamp into their
 * type, and texts are cut at a character boundary, as the engine writes them.
 */
export function slotValues(shape, fields) {
  if (fields === null || typeof fields !== 'object') throw new TypeError(`${shape.name}: an object of fields expected`);
  const known = new Set(shape.fields.map((f) => f.name));
  for (const key of Object.keys(fields)) {
    if (!known.has(key)) throw new TypeError(`${shape.name} has no field ${JSON.stringify(key)} (it has ${[...known].join(', ') || 'none'})`);
  }
  const out = [];
  for (const f of shape.fields) writeField(f.type, fields[f.name], out, `${shape.name}.${f.name}`);
  return out;
}

/** The id of the component called `name` in `schema`, or -1. */
export function componentId(schema, name) {
  return schema.components.findIndex((c) => c.name === name);
}

// Views of raw entities, by the entity object (frames share unchanged ones).
const views = new WeakMap();

/**
 * An entity of a state.js frame with named components: `{ id, components:
 * { name: { field: value } } }` (cached: the same object for the same raw
 * entity; read-only).
 */
export function entityView(schema, entity) {
  const cached = views.get(entity);
  if (cached && cached.schema === schema) return cached.view;
  const components = {};
  for (const c of entity.components) {
    const shape = schema.components[c.id];
    components[shape.name] = namedFields(shape, c.values);
  }
  const view = { id: entity.id, components };
  views.set(entity, { schema, view });
  return view;
}

/** A state.js frame with named components: `{ tick, entities }`, entities by ascending network id. */
export function frameView(schema, frame) {
  return { tick: frame.tick, entities: frame.entities.map((e) => entityView(schema, e)) };
}

/**
 * The game's input `fields` (`{ field: value }`, see slotValues) as the
 * bytes an Input carries. Throws RangeError when it does not fit (or
 * encodes longer than MAX_INPUT_BYTES), TypeError on an unknown field.
 */
export function encodeInput(schema, fields) {
  const bytes = encodeValues(schema.input.slots, slotValues(schema.input, fields));
  if (bytes.length > MAX_INPUT_BYTES) throw new RangeError(`input of ${bytes.length} bytes; the most is ${MAX_INPUT_BYTES}`);
  return bytes;
}

/** An Input's bytes back as the game's input `{ field: value }` (what the server's game sees). Throws ProtocolError. */
export function decodeInput(schema, data) {
  return namedFields(schema.input, decodeValues(schema.input.slots, data));
}

/** One of a State's events: `{ name, id, fields }`. Throws ProtocolError on an unknown event or bad values. */
export function decodeEvent(schema, data) {
  const { id, values } = decodeEventValues(schema, data);
  const shape = schema.events[id];
  return { name: shape.name, id, fields: namedFields(shape, values) };
}

/** Event `name` with `fields` as the bytes a State carries (the server's side: tests and tools). */
export function encodeEvent(schema, name, fields = {}) {
  const id = schema.events.findIndex((e) => e.name === name);
  if (id < 0) throw new TypeError(`the game has no event ${JSON.stringify(name)}`);
  return encodeEventValues(schema, id, slotValues(schema.events[id], fields));
}

/**
 * One client's copy of its room's newest frame (mirrors the Rust Replica):
 * built from the Welcome's schema, fed every State in order.
 */
export class Replica {
  /** An empty replica of a game with `schema` (decoded, or the Welcome's bytes). */
  constructor(schema) {
    this.schema = schema instanceof Uint8Array || schema instanceof ArrayBuffer ? decodeSchema(schema) : schema;
    /** The newest frame (state.js form), null before the first. */
    this.frame = null;
  }

  /** An empty replica for the schema a Welcome carries. Throws ProtocolError on a bad schema. */
  static fromWelcome(welcome) {
    return new Replica(decodeSchema(welcome.schema));
  }

  /**
   * Applies a State (its `frame` and `checksum`): a whole frame, or a delta
   * from the frame held. Returns `{ tick, full, checksumOk }`. Throws
   * ProtocolError, keeping the frame held, for a delta from another frame
   * and for bytes that do not decode. A checksum mismatch is a bug
   * somewhere; the frame is kept so play goes on, and the caller counts it
   * (and may resync).
   */
  apply(state) {
    const header = readStateHeader(state.frame);
    const base = header.baseTick === null ? null : this.frame;
    const frame = applyStateDelta(this.schema, base, state.frame);
    const checksumOk = stateChecksum(frame) === state.checksum;
    this.frame = frame;
    return { tick: frame.tick, full: header.baseTick === null, checksumOk };
  }

  /** The newest frame with named components (null before the first). */
  view() {
    return this.frame ? frameView(this.schema, this.frame) : null;
  }
}

