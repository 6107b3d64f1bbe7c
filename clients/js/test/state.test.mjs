// Cross-language check of the game-agnostic state decoder (src/state.js)
// against the Rust codec: state_vectors.json is written by
// crates/protocol/tests/state_vectors.rs. The schema must decode with the
// server's hash; every step (a full frame or a delta from the previous
// frame or an older one) must rebuild exactly the Rust frame with the same
// checksum; every refused case must throw ProtocolError. The JS encoders
// (the server side, for tests and tools) must write exactly the Rust bytes,
// and one input or event's values (vectors.json's `messages`, written by
// crates/protocol/tests/vectors.rs) must read and write as Rust's do.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { ProtocolError } from '../src/protocol.js';
import {
  applyStateDelta,
  decodeEventValues,
  decodeSchema,
  decodeValues,
  encodeEventValues,
  encodeSchema,
  encodeStateDelta,
  encodeValues,
  readStateHeader,
  stateChecksum,
} from '../src/state.js';

const vectors = JSON.parse(readFileSync(new URL('./state_vectors.json', import.meta.url), 'utf8'));
const hex = (h) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));

/** A JS frame in the fixture's JSON form (integers as decimal strings). */
function asJson(frame) {
  return {
    tick: frame.tick,
    entities: frame.entities.map((e) => ({
      id: e.id,
      components: e.components.map((c) => ({
        id: c.id,
        values: c.values.map((v) => (typeof v === 'string' ? { text: v } : String(v))),
      })),
    })),
  };
}

test('the schema decodes with the server hash, components in id order', () => {
  const schema = decodeSchema(hex(vectors.schema.hex));
  assert.equal(schema.hash.toString(), vectors.schema.hash);
  assert.equal(schema.game, vectors.schema.game);
  assert.equal(schema.version, vectors.schema.version);
  assert.deepEqual(
    schema.components.map((c) => ({ name: c.name, slots: c.slots.length })),
    vectors.schema.components,
  );
  const bytes = hex(vectors.schema.hex);
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.throws(() => decodeSchema(bytes.subarray(0, cut)), ProtocolError, `cut at ${cut}`);
  }
});

test('every step rebuilds the Rust frame exactly, with its checksum', () => {
  const schema = decodeSchema(hex(vectors.schema.hex));
  const frames = new Map();
  assert.ok(vectors.steps.length >= 10);
  for (const step of vectors.steps) {
    const bytes = hex(step.hex);
    const h = readStateHeader(bytes);
    assert.equal(h.baseTick, step.base);
    const base = step.base === null ? null : frames.get(step.base);
    const frame = applyStateDelta(schema, base, bytes);
    assert.deepEqual(asJson(frame), step.frame, `step to tick ${step.frame.tick} from ${step.base}`);
    assert.equal(stateChecksum(frame), step.checksum);
    frames.set(frame.tick, frame);
  }
});

test('every refused case throws ProtocolError', () => {
  const schema = decodeSchema(hex(vectors.schema.hex));
  const frames = new Map();
  for (const step of vectors.steps) {
    const base = step.base === null ? null : frames.get(step.base);
    const f = applyStateDelta(schema, base, hex(step.hex));
    frames.set(f.tick, f);
  }
  assert.ok(vectors.refused.length >= 7);
  for (const c of vectors.refused) {
    const base = c.base === null ? null : frames.get(c.base);
    assert.throws(() => applyStateDelta(schema, base, hex(c.hex)), ProtocolError, `${c.why} (Rust: ${c.rust})`);
  }
});

const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

test('the JS encoders write exactly the Rust bytes: the schema, and every step from its base', () => {
  const schema = decodeSchema(hex(vectors.schema.hex));
  assert.equal(toHex(encodeSchema(schema)), vectors.schema.hex);
  // Components given in any order: the encoder sorts them by name.
  assert.equal(toHex(encodeSchema({ ...schema, components: [...schema.components].reverse() })), vectors.schema.hex);
  const frames = new Map();
  for (const step of vectors.steps) {
    const base = step.base === null ? null : frames.get(step.base);
    const frame = applyStateDelta(schema, base, hex(step.hex));
    frames.set(frame.tick, frame);
    assert.equal(toHex(encodeStateDelta(schema, base, frame)), step.hex, `tick ${frame.tick} from ${step.base}`);
  }
});

test('encodeStateDelta refuses values that do not fit their slots', () => {
  const schema = decodeSchema(hex(vectors.schema.hex));
  const ship = schema.components.findIndex((c) => c.name === 'ship');
  const frame = (hp) => ({ tick: 1, entities: [{ id: 1, components: [{ id: ship, values: [hp, 0, '', 0, 0n, 0] }] }] });
  assert.doesNotThrow(() => encodeStateDelta(schema, null, frame(255)));
  assert.throws(() => encodeStateDelta(schema, null, frame(256)), RangeError);
  assert.throws(() => encodeStateDelta(schema, null, frame(1.5)), RangeError);
});

const messages = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8')).messages;
/** Fixture values (decimal strings, `{ text }`) as the slots hold them. */
const slotsOf = (slots, values) => values.map((v, k) => (typeof v === 'object' ? v.text : slots[k].big ? BigInt(v) : Number(v)));

test('inputs and events decode to the Rust values and encode to the Rust bytes', () => {
  const schema = decodeSchema(hex(messages.schema.hex));
  assert.equal(schema.hash.toString(), messages.schema.hash);
  assert.ok(messages.inputs.length >= 4 && messages.events.length >= 5);
  for (const c of messages.inputs) {
    const want = slotsOf(schema.input.slots, c.values);
    assert.deepStrictEqual(decodeValues(schema.input.slots, hex(c.hex)), want, c.name);
    assert.equal(toHex(encodeValues(schema.input.slots, want)), c.hex, c.name);
  }
  for (const c of messages.events) {
    const want = slotsOf(schema.events[c.id].slots, c.values);
    assert.deepStrictEqual(decodeEventValues(schema, hex(c.hex)), { id: c.id, values: want }, c.name);
    assert.equal(toHex(encodeEventValues(schema, c.id, want)), c.hex, c.name);
    assert.equal(schema.events[c.id].name, c.name);
  }
});

test('every input and event the Rust decoder refuses throws ProtocolError', () => {
  const schema = decodeSchema(hex(messages.schema.hex));
  assert.ok(messages.refused_inputs.length >= 8 && messages.refused_events.length >= 4);
  for (const c of messages.refused_inputs) {
    assert.throws(() => decodeValues(schema.input.slots, hex(c.hex)), ProtocolError, `${c.why} (Rust: ${c.rust})`);
  }
  for (const c of messages.refused_events) {
    assert.throws(() => decodeEventValues(schema, hex(c.hex)), ProtocolError, `${c.why} (Rust: ${c.rust})`);
  }
  // And encoding refuses what does not fit.
  const zeros = schema.input.slots.map((s) => (s.kind === 'text' ? '' : s.big ? 0n : 0));
  const with_ = (k, v) => zeros.map((z, i) => (i === k ? v : z));
  assert.throws(() => encodeValues(schema.input.slots, with_(0, 2)), RangeError, 'a bool of 2');
  assert.throws(() => encodeValues(schema.input.slots, with_(1, 128)), RangeError, 'an i8 of 128');
  assert.throws(() => encodeValues(schema.input.slots, with_(5, 1)), RangeError, 'a u64 as a number');
  assert.throws(() => encodeValues(schema.input.slots, with_(10, '123456789')), RangeError, 'a text too long');
  assert.throws(() => encodeValues(schema.input.slots, zeros.slice(1)), RangeError, 'a value missing');
  assert.throws(() => encodeEventValues(schema, 9, []), RangeError, 'no such event');
});
