// Cross-language check of the browser's Replica (src/protocol.js) against
// Rust's (crates/protocol/src/replica.rs): vectors.json's `replica` sequences
// are written by crates/protocol/tests/vectors.rs, which ran every message
// through the Rust `Replica` and recorded the frame it held afterwards (none
// after a checksum mismatch), or the error it refused a delta with. Here each
// message is decoded from its bytes, applied to a JS Replica, and every field
// of the frame is compared (and the JS-only `velDerived` flag of every player
// checked). The JS `diff` and `settleVelocities` (the server's side, used by
// the netcode tests' fake server) are checked against Rust's, byte for byte.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { MAX_BASE_AGE, Replica, ReplicaError, checksum, decodeServer, diff, encodeServer, settleVelocities } from '../src/protocol.js';

const vectors = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'));
const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));

/** A JS frame as Rust holds it: without the client-side `velDerived` flags. */
const wireFrame = (f) => f && { ...f, players: f.players.map(({ velDerived, ...p }) => p) };

/** `d` with the checksum of the frame it makes from `frame`, as the server would send it. */
function seal(frame, d, rate = 20) {
  const scratch = new Replica(rate);
  scratch.frame = frame;
  try {
    scratch.applyDelta({ ...d, checksum: 0 });
    return { ...d, checksum: 0 };
  } catch (e) {
    if (e.kind !== 'ChecksumMismatch') throw e;
    return { ...d, checksum: e.got };
  }
}

/**
 * Checks every player's `velDerived` after `msg` applied to `base` (the
 * frame before): true after a full snapshot and after a delta against an
 * older frame; after a delta against the previous tick's frame, false
 * exactly for the players who joined in it and those whose velocity is not
 * the one derived from their one-tick move (the server cannot have settled
 * those).
 */
function assertVelFlags(frame, msg, base, rate, what) {
  for (const p of frame.players) {
    assert.equal(typeof p.velDerived, 'boolean', `${what}: player ${p.id} has the flag`);
    let want = true;
    if (msg.type === 'Delta' && msg.base_age === 1) {
      const b = base.players.find((q) => q.id === p.id);
      const derived = (axis) => Math.max(-32768, Math.min(32767, (p.pos[axis] - b.pos[axis]) * rate));
      want = b !== undefined && p.vel[0] === derived(0) && p.vel[1] === derived(1);
    }
    assert.equal(p.velDerived, want, `${what}: player ${p.id}'s velDerived`);
  }
}

const allSteps = vectors.replica.flatMap((seq) => seq.steps);

test('the replica vectors cover snapshots, every kind of delta and every refusal', () => {
  const kinds = new Set(allSteps.filter((s) => s.error).map((s) => s.error.kind));
  assert.deepEqual([...kinds].sort(), ['ChecksumMismatch', 'DuplicatePlayer', 'NoBase', 'Shape', 'UnknownPlayer', 'WrongBase']);
  // An unknown id refused in each list that names players (the first one, in
  // removed, velocities, scores, changed order, is reported).
  const unknown = allSteps.filter((s) => s.error?.kind === 'UnknownPlayer');
  for (const list of ['velocities', 'scores', 'changed']) {
    assert.ok(unknown.some((s) => s.msg[list].some((p) => p.id === s.error.id)), `an unknown id refused in ${list}`);
  }
  assert.ok(unknown.some((s) => s.msg.removed.includes(s.error.id)), 'an unknown id refused in removed');
  assert.ok(unknown.some((s) => s.msg.removed.length > 1 && s.msg.removed.some((id, i) => i > 0 && id <= s.msg.removed[i - 1])), 'removed ids out of order');
  assert.ok(unknown.some((s) => s.msg.removed.length > 0 && s.msg.scores.some((sc) => s.msg.removed.includes(sc.id))), 'a fix for a removed player');
  assert.ok(unknown.some((s) => s.msg.velocities.length + s.msg.scores.length + s.msg.changed.length > 1), 'a refusal with other entries');
  const duplicate = allSteps.filter((s) => s.error?.kind === 'DuplicatePlayer');
  assert.ok(duplicate.some((s) => s.msg.added.some((a, i) => i > 0 && a.state.id < s.msg.added[i - 1].state.id)), 'added ids out of order');
  assert.ok(duplicate.some((s) => s.msg.added.some((a, i) => i > 0 && a.state.id === s.msg.added[i - 1].state.id)), 'an id added twice');
  assert.ok(allSteps.some((s) => s.error?.kind === 'WrongBase' && s.msg.base_age === 0), 'a base age of 0');
  assert.ok(allSteps.some((s) => s.error?.kind === 'Shape' && s.msg.removed.length > 0), 'a shape error from the removed players');
  assert.ok(allSteps.some((s) => s.error?.kind === 'Shape' && s.msg.moves.length !== s.msg.acks.length), 'moves and acks of different lengths');
  // A mismatch drops the frame; deltas are refused until a full snapshot.
  const seq = vectors.replica.find((q) => q.steps.some((s) => s.error?.kind === 'ChecksumMismatch'));
  const at = seq.steps.findIndex((s) => s.error?.kind === 'ChecksumMismatch');
  assert.equal(seq.steps[at].frame, null, 'no frame after a mismatch');
  assert.equal(seq.steps[at + 1].error?.kind, 'NoBase', 'the next delta is refused');
  assert.equal(seq.steps[at + 2].msg.type, 'Snapshot', 'then a full snapshot');
  assert.equal(seq.steps[at + 3].error, null, 'after which deltas apply again');
  // What applies.
  const deltas = allSteps.filter((s) => s.msg.type === 'Delta' && !s.error).map((s) => s.msg);
  assert.ok(allSteps.some((s) => s.msg.type === 'Snapshot'), 'a full snapshot');
  const diffed = allSteps.filter((s) => s.diff_of && !s.error).map((s) => s.msg);
  assert.ok(diffed.some((d) => d.velocities.length > 0 && d.base_age === 1), 'a diff-made delta with a velocity fix');
  assert.ok(diffed.some((d) => d.velocities.length > 0 && d.base_age > 1), 'a velocity fix for a move over several ticks');
  assert.ok(diffed.some((d) => d.scores.length > 0), 'a diff-made delta with a score fix');
  assert.ok(diffed.some((d) => d.changed.length > 0 && d.base_age > 1), 'a several-tick move too long for an i8');
  assert.ok(diffed.some((d) => d.removed.length > 0 && d.added.length === 0), 'a leave');
  assert.ok(diffed.some((d) => d.added.length > 0 && d.removed.length === 0 && d.base_age === 1), 'a join');
  assert.ok(diffed.some((d) => d.added.length > 0 && d.removed.length > 0 && d.base_age > 1), 'a leave and a join against an older frame');
  assert.ok(diffed.some((d) => d.base_age === MAX_BASE_AGE), 'the oldest base');
  assert.ok(diffed.some((d) => d.tick < d.base_age), 'a base tick before the wrap');
  assert.ok(deltas.some((d) => d.removed.some((id) => d.added.some((a) => a.state.id === id))), 'an id removed and added in one delta');
  assert.ok(deltas.some((d) => d.base_age > 1 && d.moves.some(([x, y]) => ((x * 300) / d.base_age) % 1 !== 0 || ((y * 300) / d.base_age) % 1 !== 0)), 'a derived velocity that truncates');
  const repeats = (list) => new Set(list.map((x) => x.id)).size < list.length;
  assert.ok(deltas.some((d) => repeats(d.velocities) && repeats(d.scores)), 'repeated fixes for one player');
  assert.ok(deltas.some((d) => d.changed.some((c) => d.scores.some((sc) => sc.id === c.id) && d.velocities.some((v) => v.id === c.id))), 'fixes overridden by changed');
  assert.ok(deltas.some((d) => d.pellets_removed.length > 0 && d.pellets_added.length > 0), 'pellets removed and added');
  assert.ok(deltas.some((d) => d.moves.some(([x, y]) => x === -128 || y === -128)), 'the smallest move');
  assert.ok(deltas.some((d) => d.moves.some(([x, y]) => x === 127 || y === 127)), 'the largest move');
  assert.ok(deltas.some((d) => d.acks.includes(255)), 'the largest ack');
  assert.ok(vectors.replica.some((q) => q.tick_rate_hz === 20), 'the default tick rate');
});

for (const seq of vectors.replica) {
  test(`replica sequence ${seq.name}: the JS Replica holds exactly Rust's frame after every step`, () => {
    const replica = new Replica(seq.tick_rate_hz);
    const seen = []; // every frame returned, with its JSON at the time
    for (const step of seq.steps) {
      const msg = decodeServer(fromHex(step.hex));
      assert.deepStrictEqual(msg, step.msg, `${step.name}: decodes to its fields`);
      const before = replica.frame;
      if (step.error) {
        assert.throws(
          () => replica.apply(msg),
          (e) => e instanceof ReplicaError && assert.deepStrictEqual(e.detail, step.error) === undefined && e.kind === step.error.kind,
          `${step.name}: refused with ${JSON.stringify(step.error)}`,
        );
        if (step.error.kind === 'ChecksumMismatch') assert.equal(replica.frame, null, `${step.name}: the frame is dropped`);
        else assert.equal(replica.frame, before, `${step.name}: the replica is unchanged`);
      } else {
        const frame = replica.apply(msg);
        assert.equal(frame, replica.frame);
        assertVelFlags(frame, msg, before, seq.tick_rate_hz, step.name);
        if (msg.type === 'Delta') assert.equal(checksum(frame), msg.checksum, `${step.name}: hashes to its checksum`);
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
      const d = diff(base, cur, checksum(cur), seq.tick_rate_hz);
      assert.deepStrictEqual(d, step.msg, step.name);
      assert.equal(Buffer.from(encodeServer(d)).toString('hex'), step.hex);
      checked++;
    }
    assert.ok(checked > 0 || seq.steps.every((s) => !s.diff_of));
  });
}

test("the JS settleVelocities makes Rust's canonical frames", () => {
  assert.ok(vectors.settle.length >= 3);
  for (const c of vectors.settle) {
    const raw = JSON.stringify(c.raw);
    assert.deepStrictEqual(settleVelocities(c.prev, c.raw, c.tick_rate_hz), c.settled, c.name);
    assert.equal(JSON.stringify(c.raw), raw, `${c.name}: the input is not modified`);
  }
  // The diff-made deltas of the sequences are between canonical frames.
  for (const seq of vectors.replica) {
    const byTick = new Map(seq.server_frames.map((f) => [f.tick, f]));
    for (const f of seq.server_frames) {
      const prev = byTick.get((f.tick - 1) >>> 0);
      if (prev) assert.deepStrictEqual(settleVelocities(prev, f, seq.tick_rate_hz), f, `${seq.name}: frame ${f.tick} is canonical`);
    }
  }
});

test('fixes apply after the moves, velocities then scores, and changed replaces them', () => {
  const r = new Replica(20);
  const wire = (id, x, score = 0) => ({ id, pos: [x, 100], vel: [0, 0], score, last_input_seq: 5 });
  const first = r.applySnapshot({ type: 'Snapshot', tick: 1, players: [wire(1, 10), wire(2, 20), wire(3, 30)], pellets: [], roster: [] });
  const d = seal(first, {
    type: 'Delta',
    tick: 2,
    base_age: 1,
    removed: [],
    moves: [[1, 0], [2, 0], [3, 0]],
    acks: [1, 0, 2],
    velocities: [{ id: 1, vel: [7, 7] }, { id: 3, vel: [9, 9] }, { id: 1, vel: [-8, 8] }],
    scores: [{ id: 2, score: 4 }, { id: 3, score: 6 }, { id: 2, score: 5 }],
    changed: [{ ...wire(3, 300, 1), vel: [1, -1] }],
    added: [],
    pellets_removed: [],
    pellets_added: [],
  });
  const frame = r.applyDelta(decodeServer(encodeServer(d)));
  assert.deepStrictEqual(frame.players, [
    { id: 1, pos: [11, 100], vel: [-8, 8], score: 0, last_input_seq: 6, velDerived: false },
    { id: 2, pos: [22, 100], vel: [40, 0], score: 5, last_input_seq: 5, velDerived: true },
    { id: 3, pos: [300, 100], vel: [1, -1], score: 1, last_input_seq: 5, velDerived: false },
  ]);
  assert.ok(first.players.every((p) => p.velDerived === true && p.vel[0] === 0), 'the snapshot frame is untouched');
  // Refusals leave everything as it was, whichever list names the stranger.
  for (const [list, entry] of [['velocities', { id: 4, vel: [1, 1] }], ['scores', { id: 4, score: 1 }], ['changed', wire(4, 0)], ['removed', 4]]) {
    const before = r.frame;
    const json = JSON.stringify(before);
    const bad = { ...d, tick: 3, [list]: [...d[list], entry] };
    assert.throws(() => r.applyDelta(bad), (e) => e instanceof ReplicaError && e.kind === 'UnknownPlayer' && e.id === 4, list);
    assert.equal(r.frame, before);
    assert.equal(JSON.stringify(r.frame), json);
  }
  const everywhere = { ...d, tick: 3, removed: [10], velocities: [{ id: 9, vel: [0, 0] }], scores: [{ id: 8, score: 0 }], changed: [wire(7, 0)] };
  assert.throws(() => r.applyDelta(everywhere), (e) => e.id === 10, 'the first unknown id, removed first');
  assert.throws(() => r.applyDelta({ ...everywhere, removed: [] }), (e) => e.id === 9, 'then velocities');
  assert.throws(() => r.applyDelta({ ...everywhere, removed: [], velocities: [] }), (e) => e.id === 8, 'then scores');
});

test('leaves go first, moves apply to the players that remain, joins come last with their names', () => {
  const r = new Replica(20);
  const wire = (id, x) => ({ id, pos: [x, 100], vel: [0, 0], score: 0, last_input_seq: 0 });
  const first = r.applySnapshot({
    type: 'Snapshot',
    tick: 10,
    players: [wire(1, 10), wire(2, 20), wire(3, 30)],
    pellets: [],
    roster: [{ id: 1, name: 'a' }, { id: 2, name: 'b' }, { id: 3, name: 'c' }],
  });
  const newcomer = { id: 2, pos: [500, 500], vel: [3, 3], score: 0, last_input_seq: 0 };
  const d = seal(first, {
    type: 'Delta',
    tick: 12,
    base_age: 2,
    removed: [2],
    moves: [[4, 0], [-3, 0]], // players 1 and 3
    acks: [0, 0],
    velocities: [],
    scores: [],
    changed: [],
    added: [{ state: { ...newcomer, id: 0 }, name: 'zero' }, { state: newcomer, name: 'b again' }, { state: { ...newcomer, id: 9 }, name: '' }],
    pellets_removed: [],
    pellets_added: [],
  });
  const frame = r.applyDelta(d);
  assert.deepEqual(frame.players.map((p) => [p.id, p.pos[0], p.vel[0]]), [[0, 500, 3], [1, 14, 40], [2, 500, 3], [3, 27, -30], [9, 500, 3]], 'velocities derived over two ticks');
  assert.deepEqual(frame.roster, [{ id: 0, name: 'zero' }, { id: 1, name: 'a' }, { id: 2, name: 'b again' }, { id: 3, name: 'c' }, { id: 9, name: '' }]);
  assert.ok(frame.players.every((p) => p.velDerived), 'against an older frame no velocity is known to be exact');
  assert.equal(first.roster.length, 3, 'the previous roster is untouched');
  // A present id cannot join; a removed one can.
  const again = { ...d, tick: 13, base_age: 1, removed: [], moves: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]], acks: [0, 0, 0, 0, 0], added: [{ state: { ...newcomer, id: 3 }, name: '' }] };
  assert.throws(() => r.applyDelta(again), (e) => e.kind === 'DuplicatePlayer' && e.id === 3);
  assert.equal(r.frame, frame);
});

test('deltas share what they do not change with the previous frame', () => {
  const replica = new Replica(20);
  let prev = null;
  let sharedRoster = 0;
  for (const step of vectors.replica.find((s) => s.tick_rate_hz === 20).steps) {
    if (step.error) continue;
    const msg = decodeServer(fromHex(step.hex));
    const frame = replica.apply(msg);
    if (prev && msg.type === 'Delta') {
      const rosterTouched = msg.removed.length + msg.added.length > 0;
      assert.equal(frame.roster === prev.roster, !rosterTouched, `${step.name}: the roster shared iff nobody joined or left`);
      const pelletsTouched = msg.pellets_removed.length + msg.pellets_added.length > 0;
      assert.equal(frame.pellets === prev.pellets, !pelletsTouched, `${step.name}: pellets shared iff untouched`);
      if (!rosterTouched) sharedRoster++;
    }
    prev = frame;
  }
  assert.ok(sharedRoster > 2);
});

test('a refused delta is refused again until a full snapshot arrives', () => {
  const seq = vectors.replica.find((s) => s.tick_rate_hz === 20);
  const msgs = seq.steps.filter((s) => !s.error).map((s) => decodeServer(fromHex(s.hex)));
  const full = msgs.find((m) => m.type === 'Snapshot');
  const replica = new Replica(20);
  replica.apply(full);
  // Skip the first delta: the next ones are based on a frame the replica does not hold.
  const chain = msgs.filter((m) => m.type === 'Delta' && m.tick > full.tick);
  for (const d of chain.slice(1, 3)) assert.throws(() => replica.apply(d), (e) => e.kind === 'WrongBase');
  assert.equal(replica.frame.tick, full.tick);
  // A checksum mismatch drops the frame: NoBase until a full snapshot.
  const first = chain[0];
  assert.throws(() => replica.apply({ ...first, checksum: (first.checksum ^ 0x80000000) >>> 0 }), (e) => e.kind === 'ChecksumMismatch' && e.want !== e.got);
  assert.equal(replica.frame, null);
  assert.throws(() => replica.apply(first), (e) => e.kind === 'NoBase');
  assert.equal(replica.apply(full).tick, full.tick, 'a full snapshot recovers');
  assert.equal(replica.apply(first).tick, first.tick);
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

test('what a client was sent reproduces every canonical frame exactly, whatever was dropped and whoever came and went', () => {
  const rnd = rng(42);
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pellets = () => {
    const ids = [...new Set(Array.from({ length: int(0, 30) }, () => int(0, 40)))].sort((a, b) => a - b);
    return ids.map((id) => ({ id, pos: [int(0, 65535), int(0, 65535)] }));
  };
  const totals = { velocities: 0, scores: 0, changed: 0, removed: 0, added: 0, older: 0, exact: 0 };
  for (let round = 0; round < 200; round++) {
    let nextId = 1;
    const players = Array.from({ length: int(0, 12) }, () => ({ id: nextId++, pos: [30000, 30000], vel: [0, 0], score: 0, last_input_seq: 0 }));
    const named = (f) => ({ ...f, roster: f.players.map((p) => ({ id: p.id, name: `p${p.id}` })) });
    let cur = named({ tick: (int(0, 2 ** 32 - 1) - 0) >>> 0, players, pellets: pellets() });
    const replica = new Replica(20);
    replica.applySnapshot({ type: 'Snapshot', ...cur });
    let sent = cur;
    for (let step = 0; step < 40; step++) {
      // One tick: moves (now and then far), bumps, scores, acks, a leave, a join.
      const prev = cur;
      let next = prev.players.map((p) => {
        const jump = rnd() < 0.05 ? 20 : 1;
        const pos = p.pos.map((v) => Math.min(65535, Math.max(0, v + int(-30, 30) * jump)));
        const bump = int(-4, 3) * 25;
        const vel = pos.map((v, k) => Math.min(32767, Math.max(-32768, (v - p.pos[k]) * 20 + bump)));
        return { id: p.id, pos, vel, score: p.score + int(0, 1), last_input_seq: (p.last_input_seq + int(0, 3)) >>> 0 };
      });
      if (next.length && rnd() < 0.2) next.splice(int(0, next.length - 1), 1);
      if (rnd() < 0.2) next.push({ id: nextId++, pos: [int(0, 65535), int(0, 65535)], vel: [int(-32768, 32767), int(-32768, 32767)], score: 0, last_input_seq: 0 });
      const raw = named({ tick: (prev.tick + 1) >>> 0, players: next, pellets: rnd() < 0.2 ? pellets() : prev.pellets });
      cur = settleVelocities(prev, raw, 20);
      if (rnd() < 0.4) continue; // dropped from the mailbox: never a baseline
      const d = diff(sent, cur, checksum(cur), 20);
      assert.deepStrictEqual(decodeServer(encodeServer(d)), d, 'round-trips through the codec');
      const got = replica.applyDelta(d);
      assert.deepStrictEqual(wireFrame(got), cur, `round ${round}, tick ${cur.tick}`);
      // A velocity the Replica calls exact is the simulated one, not a settled one.
      for (const p of got.players) {
        if (p.velDerived) continue;
        assert.equal(d.base_age, 1);
        assert.deepStrictEqual(p.vel, raw.players.find((q) => q.id === p.id).vel, 'an exact velocity');
        totals.exact++;
      }
      for (const list of ['velocities', 'scores', 'changed', 'removed', 'added']) totals[list] += d[list].length;
      if (d.base_age > 1) totals.older++;
      sent = cur;
    }
  }
  for (const [what, n] of Object.entries(totals)) assert.ok(n > 50, `the rounds exercise ${what} (${n})`);
  const a = { tick: 1, players: [], pellets: [], roster: [] };
  assert.equal(diff(a, { ...a, tick: 1 + MAX_BASE_AGE + 1 }, 0, 20), null, 'beyond the oldest base: a full snapshot is needed');
  assert.equal(diff(a, a, 0, 20), null, 'the same tick: nothing to diff');
  assert.equal(diff(a, { ...a, tick: 1 + MAX_BASE_AGE }, 0, 20).base_age, MAX_BASE_AGE);
});
