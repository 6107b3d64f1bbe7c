// Cross-language check of the browser's Replica (assets/protocol.js) against
// Rust's (crates/protocol/src/replica.rs): vectors.json's `replica` sequences
// are written by crates/protocol/tests/vectors.rs, which ran every message
// through the Rust `Replica` and recorded the frame it held afterwards, or the
// error it refused a delta with. Here each message is decoded from its bytes,
// applied to a JS Replica, and every field of the frame is compared. The JS
// `diff` (the server's side, used by the netcode tests' fake server) is
// checked against the deltas Rust's `diff` made.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { Replica, ReplicaError, decodeServer, diff, encodeServer, VEL_TOLERANCE } from '../protocol.js';

const vectors = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'));
const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));

test('the replica vectors cover snapshots, deltas and every refusal', () => {
  const steps = vectors.replica.flatMap((seq) => seq.steps);
  const kinds = new Set(steps.filter((s) => s.error).map((s) => s.error.kind));
  assert.deepEqual([...kinds].sort(), ['NoBase', 'Shape', 'UnknownPlayer', 'WrongBase']);
  const deltas = steps.filter((s) => s.msg.type === 'Delta' && !s.error).map((s) => s.msg);
  assert.ok(steps.some((s) => s.msg.type === 'Snapshot'), 'a full snapshot');
  assert.ok(deltas.some((d) => d.changed.length > 0), 'a delta with changed players');
  assert.ok(deltas.some((d) => d.pellets_removed.length > 0 && d.pellets_added.length > 0), 'pellets removed and added');
  assert.ok(deltas.some((d) => d.moves.some(([x, y]) => x === -128 || y === -128)), 'the smallest move');
  assert.ok(deltas.some((d) => d.moves.some(([x, y]) => x === 127 || y === 127)), 'the largest move');
  assert.ok(deltas.some((d) => d.acks.includes(255)), 'the largest ack');
  assert.ok(steps.some((s) => s.diff_of !== null), 'deltas made by diff');
  assert.ok(vectors.replica.some((seq) => seq.tick_rate_hz === 20), 'the default tick rate');
});

for (const seq of vectors.replica) {
  test(`replica sequence ${seq.name}: the JS Replica holds exactly Rust's frame after every step`, () => {
    const replica = new Replica(seq.tick_rate_hz);
    const seen = []; // every frame returned, with its JSON at the time
    for (const step of seq.steps) {
      const msg = decodeServer(fromHex(step.hex));
      assert.deepStrictEqual(msg, step.msg, `${step.name}: decodes to its fields`);
      if (step.error) {
        const before = replica.frame;
        assert.throws(
          () => replica.apply(msg),
          (e) => e instanceof ReplicaError && assert.deepStrictEqual(e.detail, step.error) === undefined && e.kind === step.error.kind,
          `${step.name}: refused with ${JSON.stringify(step.error)}`,
        );
        assert.equal(replica.frame, before, `${step.name}: the replica is unchanged`);
      } else {
        const frame = replica.apply(msg);
        assert.equal(frame, replica.frame);
        seen.push([frame, JSON.stringify(frame)]);
      }
      assert.deepStrictEqual(replica.frame, step.frame, `${step.name}: every field of the frame`);
    }
    // Frames handed out earlier are never modified by later steps.
    for (const [frame, json] of seen) assert.equal(JSON.stringify(frame), json);
  });

  test(`replica sequence ${seq.name}: the JS diff makes Rust's deltas`, () => {
    const byTick = new Map(seq.server_frames.map((f) => [f.tick, f]));
    let checked = 0;
    for (const step of seq.steps) {
      if (!step.diff_of) continue;
      const [base, cur] = step.diff_of.map((t) => byTick.get(t));
      const d = diff(base, cur, seq.tick_rate_hz);
      assert.deepStrictEqual(d, step.msg, step.name);
      assert.equal(Buffer.from(encodeServer(d)).toString('hex'), step.hex);
      checked++;
    }
    assert.ok(checked > 0 || seq.steps.every((s) => !s.diff_of));
  });
}

test('deltas share what they do not change with the previous frame', () => {
  const seq = vectors.replica.find((s) => s.tick_rate_hz === 20);
  const replica = new Replica(seq.tick_rate_hz);
  let prev = null;
  for (const step of seq.steps) {
    if (step.error) continue;
    const msg = decodeServer(fromHex(step.hex));
    const frame = replica.apply(msg);
    if (prev && msg.type === 'Delta') {
      assert.equal(frame.roster, prev.roster, `${step.name}: the roster is shared`);
      const pelletsTouched = msg.pellets_removed.length + msg.pellets_added.length > 0;
      assert.equal(frame.pellets === prev.pellets, !pelletsTouched, `${step.name}: pellets shared iff untouched`);
    }
    prev = frame;
  }
});

test('a refused delta is refused again until a full snapshot arrives', () => {
  const seq = vectors.replica.find((s) => s.tick_rate_hz === 20);
  const msgs = seq.steps.map((s) => decodeServer(fromHex(s.hex)));
  const replica = new Replica(20);
  const full = msgs.find((m) => m.type === 'Snapshot');
  replica.apply(full);
  // Skip one delta: every later one is based on a tick the replica does not hold.
  const deltas = msgs.filter((m) => m.type === 'Delta' && m.base_tick >= full.tick);
  const chain = deltas.filter((d, i) => i === 0 || d.base_tick === deltas[i - 1].tick).slice(1, 3);
  for (const d of chain) assert.throws(() => replica.apply(d), (e) => e.kind === 'WrongBase');
  assert.equal(replica.frame.tick, full.tick);
  assert.equal(replica.apply({ ...full, tick: 500 }).tick, 500, 'a full snapshot recovers');
});

/** A seeded PRNG (mulberry32): deterministic property tests. */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

test('applying the diff of two frames reproduces the second (velocities within the tolerance)', () => {
  const rnd = rng(42);
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pellets = () => {
    const ids = [...new Set(Array.from({ length: int(0, 30) }, () => int(0, 40)))].sort((a, b) => a - b);
    return ids.map((id) => ({ id, pos: [int(0, 65535), int(0, 65535)] }));
  };
  for (let round = 0; round < 300; round++) {
    const ids = [...new Set(Array.from({ length: int(0, 40) }, () => int(1, 1000)))].sort((a, b) => a - b);
    const a = {
      tick: 100,
      players: ids.map((id) => ({ id, pos: [int(0, 65535), int(0, 65535)], vel: [int(-32768, 32767), int(-32768, 32767)], score: int(0, 5), last_input_seq: int(0, 2 ** 32 - 1) })),
      pellets: pellets(),
      roster: ids.map((id) => ({ id, name: `p${id}` })),
    };
    const b = {
      ...a,
      tick: 101,
      players: a.players.map((p) => {
        const jump = rnd() < 0.05 ? 10 : 1;
        const pos = p.pos.map((v) => Math.min(65535, Math.max(0, v + int(-70, 70) * jump)));
        const verr = int(-3, 3) * 30;
        const vel = pos.map((v, k) => Math.min(32767, Math.max(-32768, (v - p.pos[k]) * 20 + verr)));
        return { id: p.id, pos, vel, score: p.score + int(0, 2), last_input_seq: (p.last_input_seq + int(0, 300)) >>> 0 };
      }),
      pellets: pellets(),
    };
    const d = diff(a, b, 20);
    assert.deepStrictEqual(decodeServer(encodeServer(d)), d, 'round-trips through the codec');
    const r = new Replica(20);
    r.applySnapshot({ type: 'Snapshot', ...a });
    const got = r.applyDelta(d);
    assert.equal(got.tick, 101);
    assert.deepStrictEqual(got.pellets, b.pellets);
    got.players.forEach((g, i) => {
      const want = b.players[i];
      assert.deepStrictEqual([g.id, g.pos, g.score, g.last_input_seq], [want.id, want.pos, want.score, want.last_input_seq]);
      for (const k of [0, 1]) assert.ok(Math.abs(g.vel[k] - want.vel[k]) <= VEL_TOLERANCE, `velocity ${g.vel[k]} vs ${want.vel[k]}`);
    });
  }
  assert.equal(diff({ tick: 1, players: [{ id: 1 }], pellets: [] }, { tick: 2, players: [{ id: 2 }], pellets: [] }, 20), null, 'other players: a full snapshot is needed');
});
