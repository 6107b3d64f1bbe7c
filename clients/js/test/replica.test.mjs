// Tests of the game's data by name (src/replica.js) against the Rust codec's
// vectors (vectors.json, written by crates/protocol/tests/vectors.rs): the
// Replica rebuilds the arena frames of the vectors' States with their
// checksums, views name every component and field (fixed-point divided by
// its scale, bools as booleans, 64-bit as BigInt), inputs encode from
// `{ field: value }` to Rust's bytes and events decode by name; plus the
// rules of named values (missing fields, unknown fields, rounding, limits).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { ProtocolError, decodeServer } from '../src/protocol.js';
import {
  Replica,
  componentId,
  decodeEvent,
  decodeInput,
  encodeEvent,
  encodeInput,
  entityView,
  frameView,
  namedFields,
  slotValues,
} from '../src/replica.js';
import { decodeSchema, encodeStateDelta, stateChecksum } from '../src/state.js';

const vectors = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'));
const hex = (h) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const server = (name) => decodeServer(hex(vectors.server.find((v) => v.name === name).hex));
const client = (name) => vectors.client.find((v) => v.name === name).msg;

test("a Replica rebuilds the arena States' frames, checksums and all, and names every field", () => {
  const welcome = server('welcome_arena');
  const replica = Replica.fromWelcome(welcome);
  assert.equal(replica.schema.game, 'arena');
  assert.deepEqual(replica.schema.components.map((c) => c.name), ['pellet', 'player', 'pos', 'score', 'vel']);
  assert.equal(replica.view(), null, 'no frame before the first State');
  assert.deepEqual(replica.apply(server('state_full_frame')), { tick: 100, full: true, checksumOk: true });
  const first = replica.view();
  assert.deepStrictEqual(first, {
    tick: 100,
    entities: [
      { id: 1, components: { pellet: { slot: 0 }, pos: { x: 24, y: 24 } } },
      { id: 2, components: { pellet: { slot: 1 }, pos: { x: 1500, y: 750 } } },
      {
        id: 7,
        components: {
          player: { id: 3, name: 'Zoë', connected: true },
          pos: { x: 800, y: 500 },
          score: { points: 0 },
          vel: { x: -320, y: 0 },
        },
      },
    ],
  });
  assert.deepEqual(replica.apply(server('state_delta')), { tick: 101, full: false, checksumOk: true });
  const second = replica.view();
  assert.deepEqual(second.entities[2].components.pos, { x: 784, y: 500 });
  assert.deepEqual(second.entities[2].components.score, { points: 1 });
  // Entities the delta did not touch keep their views (the same objects).
  assert.equal(second.entities[0], first.entities[0]);
  assert.equal(second.entities[1], first.entities[1]);
  assert.notEqual(second.entities[2], first.entities[2]);
  assert.equal(entityView(replica.schema, replica.frame.entities[2]), second.entities[2]);
  assert.deepEqual(frameView(replica.schema, replica.frame), second);
  assert.equal(componentId(replica.schema, 'pos'), 2);
  assert.equal(componentId(replica.schema, 'nope'), -1);
});

test('a Replica refuses a delta it has no base for, keeps its frame, and reports a checksum mismatch', () => {
  const replica = Replica.fromWelcome(server('welcome_arena'));
  const delta = server('state_delta');
  assert.throws(() => replica.apply(delta), ProtocolError, 'a delta before any whole frame');
  assert.equal(replica.frame, null);
  const full = server('state_full_frame');
  replica.apply(full);
  const held = replica.frame;
  assert.throws(() => replica.apply({ ...delta, frame: delta.frame.subarray(0, 3) }), ProtocolError);
  assert.equal(replica.frame, held, 'kept');
  // A whole frame again (a resync) is always taken; a wrong checksum is reported, the frame kept.
  assert.deepEqual(replica.apply({ ...full, checksum: (full.checksum + 1) >>> 0 }), { tick: 100, full: true, checksumOk: false });
  assert.equal(replica.frame.tick, 100);
  assert.deepEqual(replica.apply(delta), { tick: 101, full: false, checksumOk: true });
  // From the schema's bytes too.
  assert.equal(new Replica(server('welcome_arena').schema).schema.hash, replica.schema.hash);
  assert.throws(() => Replica.fromWelcome({ schema: new Uint8Array([1]) }), ProtocolError);
});

test('the arena input encodes from { x, y } to the bytes Rust sends, and back', () => {
  const schema = decodeSchema(server('welcome_arena').schema);
  assert.equal(toHex(encodeInput(schema, { x: -127, y: 127 })), client('input_arena_steer').data);
  assert.equal(toHex(encodeInput(schema, { x: 0, y: 0 })), client('input_arena_steer_zero').data);
  assert.equal(toHex(encodeInput(schema, {})), client('input_arena_steer_zero').data, 'missing fields are zero');
  assert.deepEqual(decodeInput(schema, hex(client('input_arena_steer').data)), { x: -127, y: 127 });
  assert.throws(() => encodeInput(schema, { x: 128, y: 0 }), RangeError);
  assert.throws(() => encodeInput(schema, { x: 0.5, y: 0 }), RangeError);
  assert.throws(() => encodeInput(schema, { z: 1 }), /steer has no field "z"/);
  assert.throws(() => decodeInput(schema, new Uint8Array([0])), ProtocolError);
});

const messageSchema = () => decodeSchema(hex(vectors.messages.schema.hex));

test('inputs with every field type encode from their named values to the Rust bytes', () => {
  const schema = messageSchema();
  const highs = vectors.messages.inputs.find((c) => c.name === 'highs');
  const named = decodeInput(schema, hex(highs.hex));
  assert.deepStrictEqual(named, {
    flag: true,
    small: 127,
    byte: 255,
    short: 32767,
    count: 4294967295,
    big: 18446744073709551615n,
    signed: 9223372036854775807n,
    angle: 3.4028234663852886e38,
    aim: 327.67,
    target: 4294967295,
    say: '12345678',
    cells: [255, 255, 255],
  });
  for (const c of vectors.messages.inputs) {
    const back = decodeInput(schema, hex(c.hex));
    assert.equal(toHex(encodeInput(schema, back)), c.hex, `${c.name} round-trips through its named form`);
  }
  const lows = decodeInput(schema, hex(vectors.messages.inputs.find((c) => c.name === 'lows').hex));
  assert.equal(lows.signed, -9223372036854775808n);
  assert.equal(lows.aim, -327.68);
  assert.equal(lows.flag, false);
});

test('events decode by name, with their fields', () => {
  const schema = messageSchema();
  for (const c of vectors.messages.events) {
    const e = decodeEvent(schema, hex(c.hex));
    assert.equal(e.name, c.name);
    assert.equal(e.id, c.id);
    assert.equal(toHex(encodeEvent(schema, e.name, e.fields)), c.hex);
  }
  const chat = vectors.messages.events.filter((c) => c.name === 'chat');
  assert.deepEqual(decodeEvent(schema, hex(chat[1].hex)).fields, { from: 4294967295, text: '🎮'.repeat(16) });
  assert.deepEqual(decodeEvent(schema, hex(vectors.messages.events[0].hex)), { name: 'ping', id: 2, fields: {} });
  // The events the vectors' State carries.
  const state = server('state_with_events');
  assert.deepEqual(state.events.map((e) => decodeEvent(schema, e).name), ['ping', 'chat', 'dealt']);
  assert.deepEqual(decodeEvent(schema, state.events[1]).fields, { from: 70000, text: 'gg — 日本' });
  const dealt = decodeEvent(schema, state.events[2]).fields;
  assert.equal(dealt.big, 18446744073709551615n);
  assert.equal(dealt.angle, -1.5);
  assert.equal(dealt.aim, -3.14);
  assert.deepEqual(dealt.cells, [0, 251, 255]);
  for (const c of vectors.messages.refused_events) assert.throws(() => decodeEvent(schema, hex(c.hex)), ProtocolError, c.why);
  assert.throws(() => encodeEvent(schema, 'nope'), TypeError);
});

test('named values: zeros for missing fields, rounding and clamping for fixed-point, cut texts, refusals', () => {
  const schema = messageSchema();
  const shape = schema.input;
  const zero = namedFields(shape, slotValues(shape, {}));
  assert.deepStrictEqual(zero, {
    flag: false, small: 0, byte: 0, short: 0, count: 0, big: 0n, signed: 0n, angle: 0, aim: 0, target: 0, say: '', cells: [0, 0, 0],
  });
  const v = (fields) => namedFields(shape, slotValues(shape, fields));
  assert.equal(v({ aim: 1.125 }).aim, 1.13, 'half away from zero, like Rust');
  assert.equal(v({ aim: -1.125 }).aim, -1.13, 'half away from zero on the negative side too');
  assert.equal(v({ aim: 1.005 }).aim, 1, 'the f64 product 100.49999… rounds down, as in Rust');
  assert.equal(v({ aim: 1e9 }).aim, 327.67, 'clamped to the i16 range');
  assert.equal(v({ aim: -1e9 }).aim, -327.68);
  assert.equal(v({ aim: NaN }).aim, 0);
  assert.equal(v({ angle: 0.1 }).angle, Math.fround(0.1));
  assert.equal(v({ say: 'héllo wörld' }).say, 'héllo w', 'cut to 8 bytes at a character boundary');
  assert.equal(v({ say: '日本語' }).say, '日本', 'never inside a character');
  assert.equal(v({ flag: 1 }).flag, true);
  assert.equal(v({ big: 2 ** 53 }).big, 2n ** 53n);
  assert.deepEqual(v({ cells: [7] }).cells, [7, 0, 0]);
  for (const bad of [{ flag: 'yes' }, { small: 128 }, { byte: -1 }, { count: 2 ** 32 }, { big: -1n }, { big: 2n ** 64n }, { signed: 2n ** 63n },
    { target: -1 }, { cells: [1, 2, 3, 4] }, { cells: [256] }, { say: 5 }, { aim: '1' }]) {
    assert.throws(() => slotValues(shape, bad), RangeError, JSON.stringify(bad, (_, x) => (typeof x === 'bigint' ? `${x}n` : x)));
  }
  assert.throws(() => slotValues(shape, { flags: true }), TypeError);
  assert.throws(() => slotValues(shape, null), TypeError);
});

test('a frame built by the JS encoder reads back through a Replica', () => {
  const schema = decodeSchema(server('welcome_arena').schema);
  const id = (n) => componentId(schema, n);
  const comp = (name, fields) => ({ id: id(name), values: slotValues(schema.components[id(name)], fields) });
  const frame = {
    tick: 5,
    entities: [
      { id: 3, components: [comp('player', { id: 9, name: 'ada', connected: true }), comp('pos', { x: 10.25, y: 20.5 })].sort((a, b) => a.id - b.id) },
    ],
  };
  const replica = new Replica(schema);
  const r = replica.apply({ checksum: stateChecksum(frame), frame: encodeStateDelta(schema, null, frame) });
  assert.deepEqual(r, { tick: 5, full: true, checksumOk: true });
  assert.deepStrictEqual(replica.view().entities[0].components, { player: { id: 9, name: 'ada', connected: true }, pos: { x: 10.25, y: 20.5 } });
});
