// Cross-language check of the game-agnostic state decoder (src/state.js)
// against the Rust codec: state_vectors.json is written by
// crates/protocol/tests/state_vectors.rs. The schema must decode with the
// server's hash; every step (a full frame or a delta from the previous
// frame or an older one) must rebuild exactly the Rust frame with the same
// checksum; every refused case must throw ProtocolError.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { ProtocolError } from '../src/protocol.js';
import { applyStateDelta, decodeSchema, readStateHeader, stateChecksum } from '../src/state.js';

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
