// Cross-language check of the browser's Replica (assets/protocol.js) against
// Rust's (crates/protocol/src/replica.rs): vectors.json's `replica` sequences
// are written by crates/protocol/tests/vectors.rs, which ran every message
// through the Rust `Replica` and recorded the frame it held afterwards, or the
// error it refused a delta with. Here each message is decoded from its bytes,
// applied to a JS Replica, and every field of the frame is compared (and the
// JS-only `velDerived` flag of every player checked against the message). The
// JS `diff` (the server's side, used by the netcode tests' fake server) is
// checked against the deltas Rust's `diff` made, byte for byte.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { Replica, ReplicaError, decodeServer, diff, encodeServer, VEL_TOLERANCE } from '../protocol.js';

const vectors = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'));
const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));

/** A JS frame as Rust holds it: without the client-side `velDerived` flags. */
const wireFrame = (f) => f && { ...f, players: f.players.map(({ velDerived, ...p }) => p) };

/**
 * Checks every player's `velDerived` after `msg` applied: false after a full
 * snapshot, and after a delta false exactly for the players it sent an exact
 * velocity for (`velocities` or `changed`).
 */
function assertVelFlags(frame, msg, what) {
  const exact = msg.type === 'Snapshot' ? null : new Set([...msg.velocities, ...msg.changed].map((p) => p.id));
  for (const p of frame.players) {
    assert.equal(typeof p.velDerived, 'boolean', `${what}: player ${p.id} has the flag`);
    assert.equal(p.velDerived, exact !== null && !exact.has(p.id), `${what}: player ${p.id}'s velDerived`);
  }
}

test('the replica vectors cover snapshots, deltas and every refusal', () => {
  const steps = vectors.replica.flatMap((seq) => seq.steps);
  const kinds = new Set(steps.filter((s) => s.error).map((s) => s.error.kind));
  assert.deepEqual([...kinds].sort(), ['NoBase', 'Shape', 'UnknownPlayer', 'WrongBase']);
  // An unknown id refused in each of the three lists (the first one listed in
  // velocities, scores, changed order is reported).
  const unknown = steps.filter((s) => s.error?.kind === 'UnknownPlayer');
  for (const list of ['velocities', 'scores', 'changed']) {
    assert.ok(unknown.some((s) => s.msg[list].some((p) => p.id === s.error.id)), `an unknown id refused in ${list}`);
  }
  assert.ok(unknown.some((s) => s.msg.velocities.length + s.msg.scores.length + s.msg.changed.length > 1), 'a refusal with other entries');
  const deltas = steps.filter((s) => s.msg.type === 'Delta' && !s.error).map((s) => s.msg);
  assert.ok(steps.some((s) => s.msg.type === 'Snapshot'), 'a full snapshot');
  assert.ok(deltas.some((d) => d.changed.length > 0), 'a delta with changed players');
  const diffed = steps.filter((s) => s.diff_of && !s.error).map((s) => s.msg);
  assert.ok(diffed.some((d) => d.velocities.length > 0), 'a diff-made delta with a velocity fix');
  assert.ok(diffed.some((d) => d.scores.length > 0), 'a diff-made delta with a score fix');
  assert.ok(diffed.some((d) => d.changed.length > 0), 'a diff-made delta with a changed player');
  assert.ok(diffed.some((d) => d.velocities.some((v) => d.scores.some((sc) => sc.id === v.id))), 'a velocity and a score fix for one player');
  const repeats = (list) => new Set(list.map((x) => x.id)).size < list.length;
  assert.ok(deltas.some((d) => repeats(d.velocities) && repeats(d.scores)), 'repeated fixes for one player');
  assert.ok(deltas.some((d) => d.changed.some((c) => d.scores.some((sc) => sc.id === c.id) && d.velocities.some((v) => v.id === c.id))), 'fixes overridden by changed');
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
        assertVelFlags(frame, msg, step.name);
        seen.push([frame, JSON.stringify(frame)]);
      }
      assert.deepStrictEqual(wireFrame(replica.frame), step.frame, `${step.name}: every field of the frame`);
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

test('fixes apply after the moves, velocities then scores, and changed replaces them', () => {
  const r = new Replica(20);
  const wire = (id, x, score = 0) => ({ id, pos: [x, 100], vel: [0, 0], score, last_input_seq: 5 });
  const first = r.applySnapshot({ type: 'Snapshot', tick: 1, players: [wire(1, 10), wire(2, 20), wire(3, 30)], pellets: [], roster: [] });
  const d = {
    type: 'Delta',
    tick: 2,
    moves: [[1, 0], [2, 0], [3, 0]],
    acks: [1, 0, 2],
    velocities: [{ id: 1, vel: [7, 7] }, { id: 3, vel: [9, 9] }, { id: 1, vel: [-8, 8] }],
    scores: [{ id: 2, score: 4 }, { id: 3, score: 6 }, { id: 2, score: 5 }],
    changed: [{ ...wire(3, 300, 1), vel: [1, -1] }],
    pellets_removed: [],
    pellets_added: [],
  };
  const frame = r.applyDelta(decodeServer(encodeServer(d)));
  assert.deepStrictEqual(frame.players, [
    { id: 1, pos: [11, 100], vel: [-8, 8], score: 0, last_input_seq: 6, velDerived: false },
    { id: 2, pos: [22, 100], vel: [40, 0], score: 5, last_input_seq: 5, velDerived: true },
    { id: 3, pos: [300, 100], vel: [1, -1], score: 1, last_input_seq: 5, velDerived: false },
  ]);
  assert.ok(first.players.every((p) => p.velDerived === false && p.vel[0] === 0), 'the snapshot frame is untouched');
  // Refusals leave everything as it was, whichever list names the stranger.
  for (const [list, entry] of [['velocities', { id: 4, vel: [1, 1] }], ['scores', { id: 4, score: 1 }], ['changed', wire(4, 0)]]) {
    const before = r.frame;
    const json = JSON.stringify(before);
    const bad = { ...d, tick: 3, [list]: [...d[list], entry] };
    assert.throws(() => r.applyDelta(bad), (e) => e instanceof ReplicaError && e.kind === 'UnknownPlayer' && e.id === 4, list);
    assert.equal(r.frame, before);
    assert.equal(JSON.stringify(r.frame), json);
  }
  const everywhere = { ...d, tick: 3, velocities: [{ id: 9, vel: [0, 0] }], scores: [{ id: 8, score: 0 }], changed: [wire(7, 0)] };
  assert.throws(() => r.applyDelta(everywhere), (e) => e.id === 9, 'the first unknown id, velocities first');
  assert.throws(() => r.applyDelta({ ...everywhere, velocities: [] }), (e) => e.id === 8, 'then scores');
});

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
  const deltas = msgs.filter((m) => m.type === 'Delta' && m.tick - 1 >= full.tick);
  const chain = deltas.filter((d, i) => i === 0 || d.tick - 1 === deltas[i - 1].tick).slice(1, 3);
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
  const totals = { velocities: 0, scores: 0, changed: 0 };
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
    assertVelFlags(got, d, `round ${round}`);
    got.players.forEach((g, i) => {
      const want = b.players[i];
      assert.deepStrictEqual([g.id, g.pos, g.score, g.last_input_seq], [want.id, want.pos, want.score, want.last_input_seq]);
      if (g.velDerived) {
        for (const k of [0, 1]) assert.ok(Math.abs(g.vel[k] - want.vel[k]) <= VEL_TOLERANCE, `velocity ${g.vel[k]} vs ${want.vel[k]}`);
      } else {
        assert.deepStrictEqual(g.vel, want.vel, 'an exact velocity');
      }
    });
    // `changed` only for what the compact form cannot carry; fixes only for the others.
    const inChanged = new Set(d.changed.map((c) => c.id));
    a.players.forEach((p, i) => {
      const q = b.players[i];
      const fitsI8 = (v) => v >= -128 && v <= 127;
      const fits = fitsI8(q.pos[0] - p.pos[0]) && fitsI8(q.pos[1] - p.pos[1]) && ((q.last_input_seq - p.last_input_seq) >>> 0) <= 255;
      assert.equal(inChanged.has(p.id), !fits, `player ${p.id} in changed iff its move or ack does not fit`);
      assert.equal(d.scores.some((sc) => sc.id === p.id), fits && q.score !== p.score, `player ${p.id}'s score fix`);
    });
    for (const v of d.velocities) assert.ok(!inChanged.has(v.id), 'no velocity fix for a changed player');
    totals.velocities += d.velocities.length;
    totals.scores += d.scores.length;
    totals.changed += d.changed.length;
  }
  for (const [list, n] of Object.entries(totals)) assert.ok(n > 100, `the rounds exercise ${list} (${n})`);
  assert.equal(diff({ tick: 1, players: [{ id: 1 }], pellets: [] }, { tick: 2, players: [{ id: 2 }], pellets: [] }, 20), null, 'other players: a full snapshot is needed');
});
