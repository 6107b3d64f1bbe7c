// Cross-language check of the browser's codec (src/protocol.js) against
// the Rust one: vectors.json is written by crates/protocol/tests/vectors.rs
// from the real bincode codec. Every server vector must decode to exactly its
// fields and every client vector must encode to exactly its bytes (and both
// directions round-trip), and the JS frame checksum must give every pinned
// frame's value. The replica vectors in the same file are replayed by
// replica.test.mjs. Run with `npm test` (or `node --test test/`) in clients/js.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  MAX_BASE_AGE,
  MAX_CLIENT_MESSAGE_BYTES,
  MAX_TOKEN_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  QUANT_SCALE,
  checksum,
  decodeClient,
  decodeServer,
  encodeClient,
  encodeServer,
  posFromWire,
  posToWire,
  steerFromWire,
  steerToWire,
  truncateName,
  validRoomId,
  velFromWire,
  velToWire,
} from '../src/protocol.js';

const vectors = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'));

const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** The expected decoded message: JSON numbers for f32 fields are rounded to f32, like the wire. */
function expectedServer(msg) {
  if (msg.type !== 'Welcome') return msg;
  const arena = Object.fromEntries(Object.entries(msg.arena).map(([k, v]) => [k, Math.fround(v)]));
  return { ...msg, arena };
}

test('the vectors are for this protocol version', () => {
  assert.equal(vectors.protocol_version, PROTOCOL_VERSION);
  assert.equal(PROTOCOL_VERSION, 5);
  assert.equal(MAX_BASE_AGE, 255);
  assert.equal(MAX_TOKEN_BYTES, 160);
  assert.equal(MAX_CLIENT_MESSAGE_BYTES, 256);
});

test('the vectors cover resume tokens in Join and Welcome (protocol v3)', () => {
  const joins = vectors.client.filter((v) => v.msg.type === 'Join').map((v) => v.msg);
  assert.ok(joins.every((j) => typeof j.resume === 'string'), 'every Join has a resume field');
  assert.ok(joins.some((j) => j.resume === ''), 'a fresh join');
  assert.ok(joins.some((j) => j.resume.length > 0 && j.resume.length < MAX_TOKEN_BYTES), 'a join with a token');
  assert.ok(joins.some((j) => j.resume.length === MAX_TOKEN_BYTES), 'a join with the longest token');
  const welcomes = vectors.server.filter((v) => v.msg.type === 'Welcome').map((v) => v.msg);
  assert.ok(welcomes.some((w) => w.resumed === true) && welcomes.some((w) => w.resumed === false), 'resumed true and false');
  assert.ok(welcomes.some((w) => w.resume_token.length > 0) && welcomes.some((w) => w.resume_token === ''), 'tokens empty and not');
  assert.ok(vectors.client_refused.length >= 3, 'messages the server refuses');
});

for (const v of vectors.client_refused) {
  test(`client vector ${v.name} is refused like Rust refuses it (${v.error})`, () => {
    assert.throws(() => decodeClient(fromHex(v.hex)), ProtocolError);
  });
}

test('a resume token longer than the server accepts is refused when encoding', () => {
  const join = (resume) => ({ type: 'Join', version: PROTOCOL_VERSION, name: 'a', resume });
  assert.equal(encodeClient(join('t'.repeat(MAX_TOKEN_BYTES))).length, 1 + 1 + 2 + 1 + MAX_TOKEN_BYTES); // variant, version, name, token length, token
  assert.throws(() => encodeClient(join('t'.repeat(MAX_TOKEN_BYTES + 1))), RangeError);
  // A Join without `resume` is a fresh join.
  assert.deepEqual([...encodeClient({ type: 'Join', version: 4, name: 'a' })], [0, 4, 1, 97, 0]);
});

test('a Welcome whose resumed byte is neither 0 nor 1 is malformed', () => {
  const v = vectors.server.find((x) => x.name === 'welcome_resumed');
  const bytes = fromHex(v.hex);
  assert.equal(bytes[bytes.length - 1], 1);
  bytes[bytes.length - 1] = 2;
  assert.throws(() => decodeServer(bytes), /invalid bool/);
});

test('the vectors cover every message variant', () => {
  const server = new Set(vectors.server.map((v) => v.msg.type));
  const client = new Set(vectors.client.map((v) => v.msg.type));
  assert.deepEqual([...server].sort(), ['Delta', 'Error', 'Pong', 'Snapshot', 'Welcome']);
  assert.deepEqual([...client].sort(), ['Input', 'Join', 'Leave', 'Ping']);
  const snaps = vectors.server.filter((v) => v.msg.type === 'Snapshot').map((v) => v.msg);
  for (const list of ['players', 'pellets', 'roster']) {
    assert.ok(snaps.some((s) => s[list].length === 0) && snaps.some((s) => s[list].length > 0), `${list} empty and not`);
  }
  assert.ok(snaps.some((s) => s.pellets.length > 250), 'a list length needing a varint marker');
  const deltas = vectors.server.filter((v) => v.msg.type === 'Delta').map((v) => v.msg);
  const moves = deltas.flatMap((d) => d.moves.flat());
  const acks = deltas.flatMap((d) => d.acks);
  const lists = ['removed', 'moves', 'acks', 'velocities', 'scores', 'changed', 'added', 'pellets_removed', 'pellets_added'];
  assert.ok(deltas.some((d) => lists.every((l) => d[l].length === 0)), 'an empty delta');
  assert.ok([-128, -1, 0, 127].every((m) => moves.includes(m)), 'moves at the i8 limits, negative and zero');
  assert.ok([0, 250, 251, 255].every((a) => acks.includes(a)), 'acks around the varint marker (raw u8)');
  assert.ok(deltas.some((d) => d.changed.length > 0), 'changed players');
  const velocities = deltas.flatMap((d) => d.velocities);
  const scores = deltas.flatMap((d) => d.scores);
  assert.ok([-32768, -1, 0, 32767].every((v) => velocities.some((f) => f.vel.includes(v))), 'velocity fixes at the i16 limits, -1 and 0');
  assert.ok([250, 251, 4294967295].every((id) => velocities.some((f) => f.id === id)), 'velocity fix ids around the varint markers');
  assert.ok([0, 250, 251, 65535, 4294967295].every((v) => scores.some((f) => f.score === v)), 'scores around the varint markers');
  assert.ok(scores.some((f) => f.id === 65536), 'a score fix id needing a u32');
  assert.ok(deltas.some((d) => lists.every((l) => d[l].length > 0)), 'a delta with every list');
  assert.ok(deltas.some((d) => d.pellets_removed.length > 0 && d.pellets_added.length > 0), 'pellets removed and added');
  // Protocol v4: the base age, the checksum, roster operations.
  const ages = deltas.map((d) => d.base_age);
  assert.ok([1, 2, 3, 255].every((a) => ages.includes(a)), 'base ages 1, a few and the largest');
  const sums = deltas.map((d) => d.checksum);
  assert.ok([0, 251, 0x80000000, 0xffffffff].every((c) => sums.includes(c)), 'checksums with bytes that would be varint markers, and the top bit');
  const removed = deltas.flatMap((d) => d.removed);
  assert.ok([1, 250, 251, 65536, 4294967295].every((id) => removed.includes(id)), 'removed ids around the varint markers');
  assert.ok(deltas.some((d) => d.removed.length > 0 && lists.every((l) => l === 'removed' || l === 'moves' || l === 'acks' || d[l].length === 0)), 'a delta that only removes');
  const added = deltas.flatMap((d) => d.added);
  assert.ok(added.some((a) => a.name === '') && added.some((a) => /[^\x00-\x7f]/.test(a.name)), 'added players with an empty and a UTF-8 name');
  assert.ok(added.some((a) => new TextEncoder().encode(a.name).length === 24), 'an added player with the longest name');
  assert.ok(added.some((a) => a.state.id === 4294967295) && added.some((a) => a.state.vel.includes(-32768) && a.state.score === 4294967295), 'added players at the limits');
  assert.ok(deltas.some((d) => d.removed.length > 0 && d.added.length > 0 && d.base_age > 1), 'leaves and joins in one delta against an older frame');
});

for (const v of vectors.server) {
  test(`server vector ${v.name} decodes to every field`, () => {
    const bytes = fromHex(v.hex);
    const decoded = decodeServer(bytes);
    assert.deepStrictEqual(decoded, expectedServer(v.msg));
    // Also from an ArrayBuffer, as WebSocket messages arrive.
    assert.deepStrictEqual(decodeServer(bytes.slice().buffer), decoded);
    // And the JS encoder produces the same bytes.
    assert.equal(toHex(encodeServer(decoded)), v.hex);
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
    assert.equal(toHex(encodeClient(v.msg)), v.hex);
    assert.deepStrictEqual(decodeClient(fromHex(v.hex)), v.msg);
  });
}

test('the documented layout example from codec.rs', () => {
  const input = { type: 'Input', seq: 300, ack_tick: 7, steer: [-1, 127] };
  assert.deepEqual([...encodeClient(input)], [1, 251, 0x2c, 0x01, 7, 0xff, 0x7f]);
  assert.deepEqual(decodeServer(new Uint8Array([2, 1, 2])), { type: 'Pong', nonce: 1, tick: 2 });
  // A Delta: tick (varint), base_age (one byte), the checksum as four raw
  // little-endian bytes, then the lists in order.
  const delta = [4, 251, 0x2c, 0x01, 1, 0xd4, 0xc3, 0xb2, 0xa1, 0, 1, 1, 0xff, 1, 2, 0, 0, 0, 0, 0, 0];
  const msg = decodeServer(new Uint8Array(delta));
  assert.equal(msg.checksum, 0xa1b2c3d4);
  assert.deepEqual(msg, vectors.server.find((v) => v.name === 'delta_checksum_bytes').msg);
  assert.deepEqual([...encodeServer(msg)], delta);
});

test('the JS checksum gives every pinned frame its value', () => {
  assert.ok(vectors.checksums.length >= 5);
  for (const c of vectors.checksums) {
    assert.equal(checksum(c.frame), c.checksum, c.name);
  }
  // The two values replica.rs pins against an independent MurmurHash3.
  const byName = Object.fromEntries(vectors.checksums.map((c) => [c.name, c]));
  assert.equal(checksum(byName.empty_frame.frame), 0xd941144b);
  assert.equal(checksum(byName.one_player_one_pellet.frame), 0x17cb4a7c);
  // Names are not covered; every other field is.
  const f = byName.one_player_one_pellet.frame;
  assert.equal(checksum({ ...f, roster: [] }), 0x17cb4a7c);
  const changed = [
    { ...f, tick: f.tick + 1 },
    { ...f, players: [{ ...f.players[0], vel: [f.players[0].vel[0], 5] }] },
    { ...f, players: [{ ...f.players[0], last_input_seq: 7 }] },
    { ...f, pellets: [] },
  ];
  for (const g of changed) assert.notEqual(checksum(g), 0x17cb4a7c);
});

test('malformed server messages are refused, never misread', () => {
  const bad = {
    empty: [],
    'unknown variant': [9],
    'u16 with a u32 marker': [0, 252, 1, 0, 0, 0],
    'snapshot pellets beyond the message': [1, 0, 0, 2],
    // Delta: tick 1, base_age 1, checksum 0, then the lists.
    'delta base_age missing': [4, 1],
    'delta checksum cut short': [4, 1, 1, 0, 0, 0],
    'delta removed beyond the message': [4, 1, 1, 0, 0, 0, 0, 2, 5],
    'delta removed id with a u64 marker': [4, 1, 1, 0, 0, 0, 0, 1, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    'delta moves beyond the message': [4, 1, 1, 0, 0, 0, 0, 0, 2, 5],
    'delta acks cut short': [4, 1, 1, 0, 0, 0, 0, 0, 1, 5, 5, 3, 1],
    'delta velocities beyond the message': [4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0],
    'delta velocity fix cut short': [4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2],
    'delta scores missing': [4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    'delta score fix cut short': [4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 7],
    'delta velocity fix with a u32 marker for an i16': [4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 252, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    'delta added player cut short': [4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0],
    'delta added name beyond the message': [4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 5, 97, 0, 0],
    'delta added name invalid UTF-8': [4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xfe, 0, 0],
    'delta pellets missing after added': [4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0],
    'invalid UTF-8': [3, 1, 2, 0xff, 0xfe],
    'length beyond the message': [3, 1, 0xfc, 0xff, 0xff, 0xff, 0x7f],
  };
  for (const [what, bytes] of Object.entries(bad)) {
    assert.throws(() => decodeServer(new Uint8Array(bytes)), ProtocolError, what);
  }
  assert.throws(() => decodeServer(new Uint8Array(64 * 1024 + 1)), /too large/);
});

test('out-of-range fields are refused when encoding', () => {
  assert.throws(() => encodeClient({ type: 'Input', seq: -1, ack_tick: 0, steer: [0, 0] }), RangeError);
  assert.throws(() => encodeClient({ type: 'Input', seq: 2 ** 32, ack_tick: 0, steer: [0, 0] }), RangeError);
  assert.throws(() => encodeClient({ type: 'Input', seq: 1, ack_tick: 0, steer: [128, 0] }), RangeError);
  assert.throws(() => encodeClient({ type: 'Input', seq: 1.5, ack_tick: 0, steer: [0, 0] }), RangeError);
  assert.throws(() => encodeClient({ type: 'Nope' }), RangeError);
  const delta = vectors.server.find((v) => v.name === 'delta_empty').msg;
  for (const bad of [{ checksum: -1 }, { checksum: 2 ** 32 }, { checksum: 0.5 }, { base_age: 256 }, { base_age: -1 }]) {
    assert.throws(() => encodeServer({ ...delta, ...bad }), RangeError, JSON.stringify(bad));
  }
});

test('position and velocity quantization mirrors quant.rs (1/4 unit)', () => {
  assert.equal(QUANT_SCALE, 4);
  assert.equal(posToWire(0), 0);
  assert.equal(posToWire(1), 4);
  assert.equal(posToWire(1.125), 5); // 4.5 rounds half away from zero
  assert.equal(posToWire(1.12), 4);
  assert.equal(posToWire(-5), 0);
  assert.equal(posToWire(1e9), 65535);
  assert.equal(posToWire(NaN), 0);
  assert.equal(posToWire(Infinity), 65535);
  assert.equal(velToWire(-1.125), -5);
  assert.equal(velToWire(-0.1), 0);
  assert.ok(Object.is(velToWire(-0.1), 0), 'no negative zero');
  assert.equal(velToWire(1e9), 32767);
  assert.equal(velToWire(-1e9), -32768);
  assert.equal(velToWire(NaN), 0);
  for (const v of [0, 0.06, 1, 123.456, 1599.9, 65535 / 4]) {
    assert.ok(Math.abs(posFromWire(posToWire(v)) - v) <= 0.125 + 1e-6, `${v}`);
  }
  assert.equal(posFromWire(6401), 1600.25);
  assert.equal(velFromWire(-1280), -320);
});

test('steering quantization mirrors quant.rs', () => {
  assert.deepEqual(steerToWire(1, 0), [127, 0]);
  assert.deepEqual(steerToWire(-3, 0), [-127, 0]);
  assert.deepEqual(steerToWire(0, 0), [0, 0]);
  assert.deepEqual(steerToWire(NaN, 0.5), [0, 64]); // 63.5 rounds half away from zero
  assert.deepEqual(steerToWire(-0.5, 0.5), [-64, 64]); // ±63.5: Rust rounds half away from zero
  const [x, y] = steerToWire(1, 1);
  assert.equal(x, y);
  assert.ok(Math.abs(x - 127 / Math.SQRT2) <= 1);
  assert.deepEqual(steerFromWire([-128, 127]), [-1, 1]);
  assert.deepEqual(steerFromWire([0, 0]), [0, 0]);
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
