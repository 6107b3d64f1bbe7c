// Cross-language check of the browser's message codec (src/protocol.js)
// against the Rust one: vectors.json is written by
// crates/protocol/tests/vectors.rs from the real bincode codec. Every server
// vector must decode to exactly its fields and every client vector must
// encode to exactly its bytes (and both directions round-trip), and every
// client message the server refuses must be refused here too. The game
// data inside the messages (schemas, frames, events, inputs) is checked by
// replica.test.mjs against the same file and by state.test.mjs. Run with
// `npm test` (or `node --test test/`) in clients/js.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  MAX_CLIENT_MESSAGE_BYTES,
  MAX_EVENTS_PER_STATE,
  MAX_INPUT_BYTES,
  MAX_NAME_BYTES,
  MAX_SERVER_MESSAGE_BYTES,
  MAX_TOKEN_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeClient,
  decodeServer,
  encodeClient,
  encodeServer,
  truncateName,
  validRoomId,
} from '../src/protocol.js';

const vectors = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'));

const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** A decoded message in the fixture's JSON form (byte strings as hex). */
function asJson(msg) {
  const out = { ...msg };
  for (const k of ['data', 'schema', 'frame']) if (out[k] instanceof Uint8Array) out[k] = toHex(out[k]);
  if (Array.isArray(out.events)) out.events = out.events.map(toHex);
  return out;
}

/** A fixture message with its byte strings as Uint8Array, for the encoders. */
function fromJson(msg) {
  const out = { ...msg };
  for (const k of ['data', 'schema', 'frame']) if (typeof out[k] === 'string') out[k] = fromHex(out[k]);
  if (Array.isArray(out.events)) out.events = out.events.map(fromHex);
  return out;
}

test('the vectors are for this protocol version and its limits', () => {
  assert.equal(vectors.protocol_version, PROTOCOL_VERSION);
  assert.equal(PROTOCOL_VERSION, 6);
  assert.deepEqual(vectors.limits, {
    max_name_bytes: MAX_NAME_BYTES,
    max_token_bytes: MAX_TOKEN_BYTES,
    max_client_message_bytes: MAX_CLIENT_MESSAGE_BYTES,
    max_input_bytes: MAX_INPUT_BYTES,
    max_events_per_state: MAX_EVENTS_PER_STATE,
    max_server_message_bytes: MAX_SERVER_MESSAGE_BYTES,
  });
});

test('the vectors cover every message variant and the cases that matter', () => {
  const server = new Set(vectors.server.map((v) => v.msg.type));
  const client = new Set(vectors.client.map((v) => v.msg.type));
  assert.deepEqual([...server].sort(), ['Error', 'Pong', 'State', 'Welcome']);
  assert.deepEqual([...client].sort(), ['Input', 'Join', 'Leave', 'Ping']);
  const joins = vectors.client.filter((v) => v.msg.type === 'Join').map((v) => v.msg);
  assert.ok(joins.some((j) => j.resume === '') && joins.some((j) => j.resume.length === MAX_TOKEN_BYTES), 'fresh joins and the longest token');
  const inputs = vectors.client.filter((v) => v.msg.type === 'Input').map((v) => v.msg.data.length / 2);
  assert.ok([0, 1, MAX_INPUT_BYTES].every((n) => inputs.includes(n)), `input data of 0, 1 and ${MAX_INPUT_BYTES} bytes`);
  const welcomes = vectors.server.filter((v) => v.msg.type === 'Welcome').map((v) => v.msg);
  assert.ok(welcomes.some((w) => w.resumed) && welcomes.some((w) => !w.resumed), 'resumed true and false');
  assert.ok(welcomes.some((w) => w.game === 'arena') && welcomes.some((w) => w.game !== 'arena'), 'two games');
  const states = vectors.server.filter((v) => v.msg.type === 'State').map((v) => v.msg);
  assert.ok(states.some((s) => s.events.length === 0) && states.some((s) => s.events.length > 250), 'no events, and a count past the varint marker');
  assert.ok([0xfbfc00, 0xffffffff, 0xa1b2c3d4].every((c) => states.some((s) => s.checksum === c)), 'checksums with the top bit and marker bytes');
  assert.ok(vectors.client_refused.length >= 5, 'messages the server refuses');
});

for (const v of vectors.server) {
  test(`server vector ${v.name} decodes to every field`, () => {
    const bytes = fromHex(v.hex);
    const decoded = decodeServer(bytes);
    assert.deepStrictEqual(asJson(decoded), v.msg);
    // Also from an ArrayBuffer, as WebSocket messages arrive.
    assert.deepStrictEqual(asJson(decodeServer(bytes.slice().buffer)), v.msg);
    // And the JS encoder produces the same bytes.
    assert.equal(toHex(encodeServer(decoded)), v.hex);
    assert.equal(toHex(encodeServer(fromJson(v.msg))), v.hex);
  });

  test(`server vector ${v.name} truncated or extended is an error`, () => {
    const bytes = fromHex(v.hex);
    for (let cut = 1; cut <= Math.min(4, bytes.length); cut++) {
      assert.throws(() => decodeServer(bytes.subarray(0, bytes.length - cut)), ProtocolError);
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    assert.throws(() => decodeServer(longer), /trailing/);
  });
}

for (const v of vectors.client) {
  test(`client vector ${v.name} encodes to Rust's bytes`, () => {
    assert.equal(toHex(encodeClient(fromJson(v.msg))), v.hex);
    assert.deepStrictEqual(asJson(decodeClient(fromHex(v.hex))), v.msg);
  });
}

for (const v of vectors.client_refused) {
  test(`client vector ${v.name} is refused like Rust refuses it (${v.error})`, () => {
    assert.throws(() => decodeClient(fromHex(v.hex)), ProtocolError);
  });
}

test('the documented layout example from codec.rs', () => {
  const input = { type: 'Input', seq: 300, ack_tick: 7, data: new Uint8Array([0xff, 0x7f]) };
  assert.deepEqual([...encodeClient(input)], [1, 251, 0x2c, 0x01, 7, 2, 0xff, 0x7f]);
  assert.deepEqual(decodeServer(new Uint8Array([2, 1, 2])), { type: 'Pong', nonce: 1, tick: 2 });
  // A State: ack_seq (varint), the events, the checksum as four raw
  // little-endian bytes, then the frame's bytes.
  const state = [1, 251, 0x2c, 0x01, 1, 2, 1, 2, 0xd4, 0xc3, 0xb2, 0xa1, 2, 9, 0];
  const msg = decodeServer(new Uint8Array(state));
  assert.equal(msg.checksum, 0xa1b2c3d4);
  assert.deepEqual(asJson(msg), vectors.server.find((v) => v.name === 'state_documented_layout').msg);
  assert.deepEqual([...encodeServer(msg)], state);
});

test('a resume token longer than the server accepts, or input data too long, is refused when encoding', () => {
  const join = (resume) => ({ type: 'Join', version: PROTOCOL_VERSION, name: 'a', resume });
  assert.equal(encodeClient(join('t'.repeat(MAX_TOKEN_BYTES))).length, 1 + 1 + 2 + 1 + MAX_TOKEN_BYTES); // variant, version, name, token length, token
  assert.throws(() => encodeClient(join('t'.repeat(MAX_TOKEN_BYTES + 1))), RangeError);
  // A Join without `resume` is a fresh join.
  assert.deepEqual([...encodeClient({ type: 'Join', version: 6, name: 'a' })], [0, 6, 1, 97, 0]);
  const input = (data) => ({ type: 'Input', seq: 1, ack_tick: 0, data });
  assert.equal(encodeClient(input(new Uint8Array(MAX_INPUT_BYTES))).length, 1 + 1 + 1 + 1 + MAX_INPUT_BYTES);
  assert.throws(() => encodeClient(input(new Uint8Array(MAX_INPUT_BYTES + 1))), RangeError);
  // An array of byte values is taken too.
  assert.deepEqual([...encodeClient(input([1, 2]))], [1, 1, 0, 2, 1, 2]);
});

test('a Welcome whose resumed byte is neither 0 nor 1 is malformed', () => {
  const v = vectors.server.find((x) => x.name === 'welcome_resumed');
  const bytes = fromHex(v.hex);
  assert.equal(bytes[bytes.length - 1], 1);
  bytes[bytes.length - 1] = 2;
  assert.throws(() => decodeServer(bytes), /invalid bool/);
});

test('malformed server messages are refused, never misread', () => {
  const bad = {
    empty: [],
    'unknown variant': [9],
    'the old Snapshot variant past the end': [4],
    'u16 with a u32 marker': [0, 252, 1, 0, 0, 0],
    'welcome cut short': [0, 6, 7],
    'state events beyond the message': [1, 0, 2, 1],
    'state event bytes beyond the message': [1, 0, 1, 5, 1],
    'state checksum cut short': [1, 0, 0, 1, 2, 3],
    'state frame missing': [1, 0, 0, 1, 2, 3, 4],
    'state frame beyond the message': [1, 0, 0, 1, 2, 3, 4, 3, 0],
    'state ack with a u64 marker': [1, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0],
    'invalid UTF-8': [3, 1, 2, 0xff, 0xfe],
    'length beyond the message': [3, 1, 0xfc, 0xff, 0xff, 0xff, 0x7f],
  };
  for (const [what, bytes] of Object.entries(bad)) {
    assert.throws(() => decodeServer(new Uint8Array(bytes)), ProtocolError, what);
  }
  assert.throws(() => decodeServer(new Uint8Array(MAX_SERVER_MESSAGE_BYTES + 1)), /too large/);
});

test('out-of-range fields are refused when encoding', () => {
  const input = (extra) => ({ type: 'Input', seq: 1, ack_tick: 0, data: new Uint8Array(0), ...extra });
  assert.throws(() => encodeClient(input({ seq: -1 })), RangeError);
  assert.throws(() => encodeClient(input({ seq: 2 ** 32 })), RangeError);
  assert.throws(() => encodeClient(input({ seq: 1.5 })), RangeError);
  assert.throws(() => encodeClient(input({ data: [256] })), RangeError);
  assert.throws(() => encodeClient(input({ data: 'ab' })), RangeError);
  assert.throws(() => encodeClient({ type: 'Nope' }), RangeError);
  const state = fromJson(vectors.server.find((v) => v.name === 'state_documented_layout').msg);
  for (const bad of [{ checksum: -1 }, { checksum: 2 ** 32 }, { checksum: 0.5 }, { ack_seq: -1 }, { events: null }, { frame: null }]) {
    assert.throws(() => encodeServer({ ...state, ...bad }), RangeError, JSON.stringify(bad));
  }
});

test('names are truncated to 24 bytes of UTF-8 on character boundaries', () => {
  assert.equal(truncateName('alice'), 'alice');
  assert.equal(truncateName('x'.repeat(30)), 'x'.repeat(24));
  assert.equal(truncateName('日本語日本語日本語'), '日本語日本語日本'); // 8 × 3 bytes
  assert.equal(truncateName('🎮'.repeat(7)), '🎮'.repeat(6)); // 6 × 4 bytes
});

test('room ids follow the server rules', () => {
  assert.ok(validRoomId('lobby'));
  assert.ok(validRoomId('a.B-c_9'));
  assert.ok(validRoomId('x'.repeat(64)));
  assert.ok(!validRoomId(''));
  assert.ok(!validRoomId('x'.repeat(65)));
  assert.ok(!validRoomId('no spaces'));
  assert.ok(!validRoomId('é'));
});
