// Tests of the client's netcode (src/netcode.js) without a browser: the
// reconciliation bookkeeping, a simulated round trip against a fake 20 Hz
// server (or one stepping 2 or 3 times per 20 Hz frame, as with --sim-rate 40
// or 60, and a wire-free 60 Hz room whose every frame the prediction must
// match bit for bit) with latency (built from the same arena.js rules the Rust
// fixture checks, and speaking protocol v4: quantized canonical frames sent as a full
// snapshot, then deltas against the newest frame sent, which the client's
// Replica rebuilds, velocities derived from moves unless a velocity fix says
// otherwise; frames may be dropped), the error smoothing, interpolation and
// the server clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { DERIVED_VEL_TOLERANCE, Interpolator, Predictor, RateMeter, SNAP_DISTANCE, ServerClock, velTolerance } from '../src/netcode.js';
import { arenaModel, kinematics, step } from '../src/arena.js';
import {
  Replica,
  checksum,
  decodeServer,
  diff,
  encodeServer,
  posFromWire,
  posToWire,
  settleVelocities,
  steerFromWire,
  steerToWire,
  velFromWire,
  velToWire,
} from '../src/protocol.js';

const ARENA = { width: 1600, height: 1000, player_radius: 18, pellet_radius: 6, accel: 1400, max_speed: 320, friction: 0.05 };
const KIN = kinematics(ARENA, 20);

test('reconcile keeps the acknowledged input, drops older ones and replays up to the present', () => {
  const p = new Predictor(arenaModel(ARENA, 20));
  p.reset({ x: 800, y: 500, vx: 0, vy: 0 }, 100, 0); // tick 100's boundary at local 0 ms
  const steers = [[1, 0], [1, 0], [0, 1], [0, 1], [-1, 0]];
  steers.forEach(([x, y], i) => p.hold(i + 1, x, y, 10 + i * 33));
  p.advance(160); // boundaries at 50, 100, 150: ticks 101..103
  assert.equal(p.tick, 103);
  // Input 3 (sent at 76) is the newest the server applied by tick 102, input 4 (109) came later.
  const server = { x: 810, y: 505, vx: 50, vy: 10 };
  p.reconcile(server, 102, 3, 170);
  assert.deepEqual(p.inputs.map((i) => i.seq), [3, 4, 5]);
  const mid = (76 + 109) / 2 - 102 * 50; // the tick boundary estimate: middle of the window
  assert.equal(p.offset, mid);
  assert.equal(p.tick, Math.floor((170 - mid) / 50));
  let expect = server;
  let expectPrev = server;
  for (let k = 103; k <= p.tick; k++) {
    expectPrev = expect;
    expect = step(KIN, expect, ...p.steerFor(k));
  }
  assert.deepEqual(p.state, expect);
  assert.deepEqual(p.prev, expectPrev);
  // Everything acknowledged and no time passed beyond the snapshot's tick: the server state itself.
  const q = new Predictor(arenaModel(ARENA, 20));
  q.reset(server, 7, 1000);
  q.reconcile({ ...server, x: 811 }, 8, 0, 1000);
  assert.deepEqual(q.state, { ...server, x: 811 });
});

test('after a dropped connection the prediction coasts like the server\'s player, so a resume needs no snap', () => {
  // The server applies steer right for ticks 101..104, then the connection
  // drops: it holds no steer (the player coasts) until the resume's full
  // snapshot of tick 120.
  const start = { x: 400, y: 500, vx: 300, vy: 0 };
  let truth = start;
  const server = new Map([[100, start]]);
  for (let k = 101; k <= 121; k++) {
    truth = step(KIN, truth, k <= 104 ? 1 : 0, 0);
    server.set(k, truth);
  }
  const run = (drop) => {
    const p = new Predictor(arenaModel(ARENA, 20));
    p.reset(start, 100, 0); // tick k's boundary at (k - 100) * 50 ms
    for (let i = 0; i < 6; i++) p.hold(i + 1, 1, 0, 10 + 33 * i);
    p.advance(200);
    assert.equal(p.tick, 104);
    if (drop) p.dropInputs(); // the connection dropped at 200 ms
    p.advance(1000); // the player keeps seeing its orb while reconnecting
    p.reconcile(server.get(120), 120, 6, 1050);
    return p;
  };
  const resumed = run(true);
  assert.equal(resumed.tick, 121);
  assert.deepEqual(resumed.state, server.get(121));
  assert.ok(Math.hypot(resumed.error.x, resumed.error.y) < 1e-6, 'no correction at all');
  assert.equal(resumed.snaps, 0);
  assert.equal(resumed.ackSeq, 6, 'the acknowledged sequence number stays');
  // Holding the last steer through the drop would have run far ahead.
  const held = run(false);
  assert.ok(held.snaps + held.corrections > 0 && Math.hypot(held.error.x, held.error.y) + held.snaps * SNAP_DISTANCE > 50, `a large correction (${held.error.x})`);
});

test('corrections are smoothed, large ones snap', () => {
  const p = new Predictor(arenaModel(ARENA, 20));
  p.reset({ x: 100, y: 100, vx: 0, vy: 0 }, 10, 0);
  p.reconcile({ x: 104, y: 100, vx: 0, vy: 0 }, 10, 0, 0);
  assert.deepEqual(p.renderPos(0), { x: 100, y: 100 }, 'the rendered position does not jump');
  p.decay(1000);
  assert.deepEqual(p.renderPos(0), { x: 104, y: 100 }, 'and converges to the new state');
  p.reconcile({ x: 104 + SNAP_DISTANCE + 1, y: 100, vx: 0, vy: 0 }, 10, 0, 0);
  assert.equal(p.snaps, 1);
  assert.deepEqual(p.renderPos(0), { x: 104 + SNAP_DISTANCE + 1, y: 100 });
});

/**
 * A fake room: the server steps every 1000 / `simHz` ms (50 ms by default;
 * 16.7 ms at 60 Hz, on the whole milliseconds, so the steps jitter by up to
 * 2/3 ms), each step applying the newest input that arrived before it (held
 * steer), and every k-th step (k = simHz / 20) ends a 20 Hz frame: it builds
 * the wire frame (quantized like quant.rs, canonical like settle_velocities,
 * last_input_seq the newest input applied so far) and sends a full snapshot
 * first, then the delta against the newest frame it sent (as the Rust server
 * does; `fullEvery` forces periodic full snapshots, `dropTick(tick)` drops
 * frames as a slow reader's mailbox does, so the next delta is against an
 * older frame); a client decoding them into a Replica, sending inputs at 30
 * Hz and rendering frames at 60 Hz with its own phase; both directions
 * delayed by `oneWayMs` (inputs `inputJitterMs()` more, in order). `bumpAt(t)` may return a velocity the server's
 * player gets at the end of the step at `t` (a bump the client does not
 * predict). `predictor` makes the client's Predictor (by default one step of
 * `simHz`, k steps per frame). Returns correction sizes by phase, how many
 * own-player states had a derived velocity, the ticks of frames that carried
 * a velocity fix for it, the base ages of the deltas, and for every frame
 * the state the client had predicted for its tick next to the server's
 * (unquantized). `tolerance`: 'flag' passes velTolerance() of the Replica's
 * player (as main.js does), 'delta' the tolerance for every delta frame not
 * listing the player in `changed` (ignoring velocity fixes), 'none' never.
 */
function simulateRoundTrip({
  oneWayMs,
  framePhaseMs,
  steerAt,
  durationMs,
  fullEvery = Infinity,
  dropTick = () => false,
  tolerance = 'flag',
  bumpAt = () => null,
  simHz = 20,
  inputJitterMs = () => 0,
  predictor = () => new Predictor(arenaModel(ARENA, simHz), simHz / 20),
}) {
  const kin = kinematics(ARENA, simHz);
  const k = simHz / 20;
  const server = { state: { x: 800, y: 500, vx: 0, vy: 0 }, steer: [0, 0], ack: 0, inbox: [], prev: null, sent: null, truth: new Map() };
  const client = predictor();
  const replica = new Replica(20);
  const toClient = [];
  let derived = 0;
  const fixes = [];
  const ages = [];
  let seq = 0;
  let serverStep = 0;
  let joined = false;
  const corrections = [];
  const leads = [];
  const predictions = [];
  for (let t = 0; t <= durationMs; t++) {
    // Client sends an input every 1000/30 ms.
    if (joined && Math.floor((t * 30) / 1000) !== Math.floor(((t - 1) * 30) / 1000)) {
      seq++;
      const wire = steerToWire(...steerAt(t));
      const [sx, sy] = steerFromWire(wire);
      client.hold(seq, sx, sy, t);
      // In order, as over TCP, each up to `inputJitterMs()` late.
      const at = Math.max(server.inbox.at(-1)?.at ?? 0, t + oneWayMs + inputJitterMs());
      server.inbox.push({ at, seq, sx, sy });
    }
    // Server step (the first at t = 0).
    if (Math.floor((t * simHz) / 1000) !== Math.floor(((t - 1) * simHz) / 1000)) {
      serverStep++;
      const arrived = server.inbox.filter((m) => m.at <= t);
      server.inbox = server.inbox.filter((m) => m.at > t);
      if (arrived.length) {
        const last = arrived[arrived.length - 1];
        server.steer = [last.sx, last.sy];
        server.ack = last.seq;
      }
      server.state = step(kin, server.state, ...server.steer);
      const bump = bumpAt(t);
      if (bump) server.state = { ...server.state, vx: bump[0], vy: bump[1] };
    }
    if (Math.floor((t * simHz) / 1000) !== Math.floor(((t - 1) * simHz) / 1000) && serverStep % k === 0) {
      const serverTick = serverStep / k;
      const s = server.state;
      server.truth.set(serverTick, s);
      const raw = {
        tick: serverTick,
        players: [{ id: 1, pos: [posToWire(s.x), posToWire(s.y)], vel: [velToWire(s.vx), velToWire(s.vy)], score: 0, last_input_seq: server.ack }],
        pellets: [],
        roster: [{ id: 1, name: 'me' }],
      };
      const frame = server.prev ? settleVelocities(server.prev, raw, 20) : raw;
      server.prev = frame;
      if (!server.sent || !dropTick(serverTick)) {
        const msg = server.sent && serverTick % fullEvery !== 0 ? diff(server.sent, frame, checksum(frame), 20) : { type: 'Snapshot', ...frame };
        server.sent = frame;
        toClient.push({ at: t + oneWayMs, bytes: encodeServer(msg) });
      }
    }
    // Client frames (60 Hz, with their own phase).
    if (joined && Math.floor((t - framePhaseMs) / 16.667) !== Math.floor((t - 1 - framePhaseMs) / 16.667)) client.advance(t);
    // Snapshots arriving.
    while (toClient.length && toClient[0].at <= t) {
      const msg = decodeServer(toClient.shift().bytes);
      const frame = replica.apply(msg);
      const p = frame.players[0];
      const fixed = msg.type === 'Delta' && msg.velocities.some((v) => v.id === 1);
      if (fixed) fixes.push(frame.tick);
      if (msg.type === 'Delta') ages.push(msg.base_age);
      const inChanged = msg.type === 'Delta' && msg.changed.some((c) => c.id === 1);
      // Known to be the sim's: a velocity other than the derived one, after a
      // delta against the previous tick's frame (the only kind the server
      // would have settled against).
      const known = msg.type === 'Delta' && msg.base_age === 1 && (fixed || inChanged);
      assert.equal(p.velDerived, !known, 'the Replica flags velocities that may be derived');
      if (p.velDerived) derived++;
      const snap = {
        tick: frame.tick,
        state: { x: posFromWire(p.pos[0]), y: posFromWire(p.pos[1]), vx: velFromWire(p.vel[0]), vy: velFromWire(p.vel[1]) },
        ack: p.last_input_seq,
      };
      if (!joined) {
        client.reset(snap.state, snap.tick, t);
        joined = true;
        continue;
      }
      client.advance(t);
      const before = client.state;
      predictions.push({ t, tick: snap.tick, predicted: client.predictedAt(snap.tick), truth: server.truth.get(snap.tick) });
      const tol = { flag: velTolerance(p), delta: msg.type === 'Delta' && !inChanged ? DERIVED_VEL_TOLERANCE : 0, none: 0 }[tolerance];
      client.reconcile(snap.state, snap.tick, snap.ack, t, tol);
      if (tol === 0) assert.deepEqual([client.predictedAt(snap.tick).vx, client.predictedAt(snap.tick).vy], [snap.state.vx, snap.state.vy], 'an exact velocity is used as is');
      corrections.push({ t, size: Math.hypot(before.x - client.state.x, before.y - client.state.y) });
      leads.push({ t, predictedX: client.state.x, serverX: snap.state.x });
    }
  }
  return { corrections, leads, derived, fixes, ages, predictions, client };
}

for (const [oneWayMs, fullEvery] of [[0, Infinity], [35, Infinity], [80, Infinity], [35, 1]]) {
  const what = fullEvery === 1 ? 'full snapshots only' : 'deltas';
  test(`prediction with ${oneWayMs} ms each way (${what}): tiny corrections while the steer is held`, () => {
    // Idle while the tick boundary is calibrated (as after joining), then steer around.
    const steerAt = (t) => (t < 500 ? [0, 0] : t < 1500 ? [1, 0] : t < 3000 ? [0, -1] : t < 4500 ? [0, 0] : [-0.7, 0.7]);
    const { corrections, leads, derived } = simulateRoundTrip({ oneWayMs, framePhaseMs: 7, steerAt, durationMs: 6000, fullEvery });
    if (fullEvery === Infinity) assert.ok(derived > 60, `most frames carry a derived velocity (${derived})`);
    // Away from the moments the steer changes (one round trip + two ticks),
    // the prediction agrees with the server up to quantization.
    const settle = 2 * oneWayMs + 150;
    const changes = [500, 1500, 3000, 4500];
    const steady = corrections.filter((c) => changes.every((ch) => c.t < ch || c.t > ch + settle));
    assert.ok(steady.length > 40, `enough steady snapshots (${steady.length})`);
    const worstSteady = Math.max(...steady.map((c) => c.size));
    assert.ok(worstSteady < 0.5, `steady-state corrections stay below half a unit, worst ${worstSteady}`);
    // Around a steer change the server applies the change up to a tick earlier
    // or later than the client guessed: a correction of a few units at most.
    const worst = Math.max(...corrections.map((c) => c.size));
    assert.ok(worst < 12, `corrections at steer changes are small, worst ${worst}`);
    // Moving right with latency, the prediction runs ahead of the last server state.
    if (oneWayMs > 0) {
      const moving = leads.filter((l) => l.t > 600 && l.t < 1400);
      assert.ok(moving.every((l) => l.predictedX > l.serverX), 'the prediction leads the server');
    }
  });
}

test('prediction with dropped frames: deltas against older frames keep corrections as small', () => {
  // A slow reader's mailbox drops frames now and then, up to three in a row:
  // the next delta is against the newest frame sent, two to four ticks old.
  const steerAt = (t) => (t < 500 ? [0, 0] : t < 1500 ? [1, 0] : t < 3000 ? [0, -1] : t < 4500 ? [0, 0] : [-0.7, 0.7]);
  const dropTick = (tick) => [2, 5, 6, 12, 13, 14].includes(tick % 20);
  const oneWayMs = 35;
  const { corrections, ages } = simulateRoundTrip({ oneWayMs, framePhaseMs: 7, steerAt, durationMs: 6000, dropTick });
  assert.ok([1, 2, 3, 4].every((a) => ages.includes(a)), `deltas against frames 1 to 4 ticks old (${[...new Set(ages)]})`);
  const settle = 2 * oneWayMs + 250;
  const steady = corrections.filter((c) => [500, 1500, 3000, 4500].every((ch) => c.t < ch || c.t > ch + settle));
  assert.ok(steady.length > 25, `enough steady frames (${steady.length})`);
  const worstSteady = Math.max(...steady.map((c) => c.size));
  assert.ok(worstSteady < 0.5, `steady-state corrections stay below half a unit, worst ${worstSteady}`);
  const worst = Math.max(...corrections.map((c) => c.size));
  assert.ok(worst < 12, `corrections at steer changes are small, worst ${worst}`);
});

test('with deltas, the velocity predicted for the frame\'s tick keeps corrections as small as with full snapshots', () => {
  const steerAt = (t) => (t < 500 ? [0, 0] : t < 1500 ? [1, 0] : t < 3000 ? [0, -1] : t < 4500 ? [0, 0] : [-0.7, 0.7]);
  const steadyWorst = (opts) => {
    const { corrections } = simulateRoundTrip({ oneWayMs: 80, framePhaseMs: 7, steerAt, durationMs: 6000, ...opts });
    const steady = corrections.filter((c) => [500, 1500, 3000, 4500].every((ch) => c.t < ch || c.t > ch + 2 * 80 + 150));
    return Math.max(...steady.map((c) => c.size));
  };
  const full = steadyWorst({ fullEvery: 1 });
  const deltas = steadyWorst({});
  const derivedAsIs = steadyWorst({ tolerance: 'none' });
  assert.ok(deltas <= full + 0.05, `deltas ${deltas} vs full snapshots ${full}`);
  // Replaying from the derived velocity itself (up to 10 units/s off) drifts
  // about half a unit per predicted tick: visibly worse at 80 ms each way.
  assert.ok(derivedAsIs > deltas + 0.25, `derived velocity as is: ${derivedAsIs}`);
});

test('a velocity fix (an unpredicted bump) is taken as exact, not as a derived velocity', () => {
  // Full steer to the right; at 2000 ms the server's player is bounced back
  // at -150 units/s, which the client does not predict: that delta carries a
  // velocity fix (the move says +16 units, the velocity is -150).
  const bumpTick = 2000;
  const run = (tolerance) =>
    simulateRoundTrip({ oneWayMs: 80, framePhaseMs: 7, steerAt: () => [1, 0], durationMs: 3000, tolerance, bumpAt: (t) => (t === bumpTick ? [-150, 0] : null) });
  const exact = run('flag');
  assert.ok(exact.fixes.includes(bumpTick / 50 + 1), `the bump frame carries a velocity fix (${exact.fixes})`);
  assert.ok(exact.derived > 40, 'the other frames carry derived velocities');
  // The bump frame's own correction is unavoidable; the next frames' are
  // tiny when the replay starts from the exact velocity...
  const bumpArrives = bumpTick + 80;
  const after = (r) => r.corrections.filter((c) => c.t > bumpArrives && c.t < bumpArrives + 300);
  assert.ok(exact.corrections.some((c) => c.t === bumpArrives && c.size > 20), 'the bump itself is a correction');
  const worstExact = Math.max(...after(exact).map((c) => c.size));
  assert.ok(after(exact).length >= 5 && worstExact < 0.25, `after the bump: worst correction ${worstExact}`);
  // ...while replaying from the edge of the derived-velocity tolerance (10
  // units/s off) drifts by the next frame.
  const asDerived = after(run('delta'));
  assert.ok(after(exact)[0].size < 0.1 && asDerived[0].size > 0.3, `the frame after the bump: ${after(exact)[0].size} exact, ${asDerived[0].size} as derived`);
});

test('velTolerance: the derived-velocity tolerance unless the Replica knows the velocity is the sim\'s', () => {
  const r = new Replica(20);
  const wire = (id) => ({ id, pos: [4000, 2000], vel: [0, 0], score: 0, last_input_seq: 0 });
  /** `d` sealed with the checksum of the frame it makes, as the server would send it. */
  const apply = (d) => {
    const scratch = new Replica(20);
    scratch.frame = r.frame;
    let sum = 0;
    try {
      scratch.applyDelta({ ...d, checksum: 0 });
    } catch (e) {
      if (e.kind !== 'ChecksumMismatch') throw e;
      sum = e.got;
    }
    return r.applyDelta({ ...d, checksum: sum });
  };
  const delta = (tick, baseAge, moves, extra = {}) => ({
    type: 'Delta', tick, base_age: baseAge, checksum: 0, removed: [], moves, acks: moves.map(() => 0),
    velocities: [], scores: [], changed: [], added: [], pellets_removed: [], pellets_added: [], ...extra,
  });
  const snap = r.applySnapshot({ type: 'Snapshot', tick: 1, players: [wire(1), wire(2), wire(3)], pellets: [], roster: [] });
  const T = DERIVED_VEL_TOLERANCE;
  assert.deepEqual(snap.players.map(velTolerance), [T, T, T], 'a full snapshot carries canonical velocities: maybe derived');
  const frame = apply(
    delta(2, 1, [[4, 0], [4, 0], [4, 0]], {
      velocities: [{ id: 2, vel: [-300, 0] }],
      scores: [{ id: 1, score: 1 }],
      changed: [{ ...wire(3), pos: [4100, 2000] }],
      added: [{ state: wire(4), name: '' }],
    }),
  );
  assert.deepEqual(frame.players.map(velTolerance), [T, 0, 0, 0], 'derived; a velocity fix, a jump and a newcomer against the previous tick: the sim\'s');
  const later = apply(delta(4, 2, [[8, 0], [0, 0], [0, 0], [0, 0]], { velocities: [{ id: 1, vel: [-300, 0] }], added: [{ state: wire(5), name: '' }] }));
  assert.deepEqual(later.players.map(velTolerance), [T, T, T, T, T], 'against an older frame nothing is known');
  assert.equal(velTolerance({ id: 1, vel: [0, 0] }), 0, 'a player without the flag counts as exact');
});

test('a derived velocity is replaced by the predicted one only within the tolerance', () => {
  const p = new Predictor(arenaModel(ARENA, 20));
  p.reset({ x: 100, y: 100, vx: 0, vy: 0 }, 10, 0);
  p.hold(1, 1, 0, 0);
  p.advance(60); // tick 11 predicted with full steer to the right
  const predicted = p.history.get(11);
  assert.ok(predicted.vx > 40);
  // The server's derived velocity is 8 units/s off: the prediction is within the tolerance.
  p.reconcile({ x: predicted.x, y: predicted.y, vx: predicted.vx + 8, vy: 0 }, 11, 1, 60, DERIVED_VEL_TOLERANCE);
  assert.equal(p.history.get(11).vx, predicted.vx);
  // 30 units/s off: clamped to the edge of what the server allows.
  const q = new Predictor(arenaModel(ARENA, 20));
  q.reset({ x: 100, y: 100, vx: 0, vy: 0 }, 10, 0);
  q.hold(1, 1, 0, 0);
  q.advance(60);
  const guess = q.history.get(11);
  q.reconcile({ x: guess.x, y: guess.y, vx: guess.vx + 30, vy: 0 }, 11, 1, 60, DERIVED_VEL_TOLERANCE);
  assert.equal(q.history.get(11).vx, guess.vx + 30 - DERIVED_VEL_TOLERANCE);
  // Without a tolerance (full snapshots, velocity fixes, `changed` entries) the server's velocity is taken as is.
  q.reconcile({ x: guess.x, y: guess.y, vx: 7, vy: 0 }, 11, 1, 60);
  assert.equal(q.history.get(11).vx, 7);
});

// ---- sub-steps: a server stepping k = 3 times per 20 Hz frame (--sim-rate 60) ----

const KIN60 = kinematics(ARENA, 60);

test('with 3 steps per frame the predictor counts steps: frame tick T ends at step 3T', () => {
  const p = new Predictor(arenaModel(ARENA, 60), 3);
  assert.equal(p.dtMs, 1000 / 60);
  p.reset({ x: 800, y: 500, vx: 0, vy: 0 }, 100, 0); // tick 100 = step 300, its boundary at local 0 ms
  assert.equal(p.simStep, 300);
  assert.equal(p.tick, 100);
  // Inputs at 10 and 43 ms: the first applies at step 301 (boundary 16.7 ms), the second at 303 (50 ms).
  p.hold(1, 1, 0, 10);
  p.hold(2, 0, 1, 43);
  p.advance(60);
  assert.equal(p.simStep, 303);
  assert.equal(p.tick, 101, 'step 303 ends tick 101');
  assert.deepEqual([301, 302, 303].map((n) => p.steerFor(n)), [[1, 0], [1, 0], [0, 1]]);
  let expect = { x: 800, y: 500, vx: 0, vy: 0 };
  for (const [sx, sy] of [[1, 0], [1, 0], [0, 1]]) expect = step(KIN60, expect, sx, sy);
  assert.deepEqual(p.state, expect, 'one 1/60 s step per step boundary');
  assert.deepEqual(p.predictedAt(101), expect, 'the prediction for tick 101 is the state after step 303');
  // The frame of tick 101 acknowledges input 1 only: input 2 arrived after step 303 began.
  const server = { x: 801, y: 500, vx: 40, vy: 0 };
  p.advance(70); // step 304 (boundary 66.7 ms)
  p.reconcile(server, 101, 1, 70);
  assert.equal(p.baseStep, 303);
  const mid = (10 + 43) / 2 - 303 * (1000 / 60);
  assert.ok(Math.abs(p.offset - mid) < 1e-9, `boundary of step 303 in the middle of the window (${p.offset} vs ${mid})`);
  // By the new estimate local time has passed step 305's boundary: within a
  // step of where advance() got, so step 304 stands, and the next advance()
  // takes step 305.
  assert.equal(Math.floor((70 - p.offset) / p.dtMs), 305);
  assert.equal(p.simStep, 304);
  expect = step(KIN60, server, ...p.steerFor(304));
  assert.deepEqual(p.state, expect, 'replayed one step at a time from the frame\'s state');
  assert.deepEqual(p.steerFor(304), [0, 1], 'input 2 (43 ms) is held from the step after the boundary estimate');
  assert.equal(p.predictedAt(101), server);
  p.advance(71);
  assert.equal(p.simStep, 305);
  // A re-estimate that moves the present by more than a step moves the replay's end with it.
  const q = new Predictor(arenaModel(ARENA, 60), 3);
  q.reset({ x: 800, y: 500, vx: 0, vy: 0 }, 100, 0);
  q.hold(1, 1, 0, 10);
  q.hold(2, 1, 0, 43);
  q.advance(50);
  assert.equal(q.simStep, 303);
  q.reconcile({ x: 801, y: 500, vx: 40, vy: 0 }, 101, 1, 50 + 30); // the first calibration: a lead of about 30 ms
  assert.equal(q.simStep, Math.floor((80 - q.offset) / q.dtMs));
  assert.ok(q.simStep >= 306, `predicted ahead to step ${q.simStep}`);
});

/**
 * A 60 Hz server without a wire (states as they are, no quantization) and a
 * client at a constant one-way latency, on a 1/4 ms clock: steps every 50/3
 * ms with `serverPhaseMs`, a frame every third step, inputs every 100/3 ms
 * with `inputPhaseMs` (so they reach the room between steps), the client's
 * animation frames every 16.67 ms. Returns, for every frame, the state the
 * client had predicted for its tick next to the server's.
 */
function exactRoom60({ oneWayMs, serverPhaseMs, inputPhaseMs, steerAt, durationMs }) {
  const client = new Predictor(arenaModel(ARENA, 60), 3);
  const server = { state: { x: 800, y: 500, vx: 0, vy: 0 }, steer: [0, 0], ack: 0, steps: 0 };
  const toServer = [];
  const toClient = [];
  const out = [];
  let seq = 0;
  let joined = false;
  const crosses = (t, period, phase) => Math.floor((t - phase) / period) !== Math.floor((t - 0.25 - phase) / period);
  for (let t = 0; t <= durationMs; t += 0.25) {
    if (joined && crosses(t, 100 / 3, inputPhaseMs)) {
      seq++;
      const [sx, sy] = steerFromWire(steerToWire(...steerAt(t)));
      client.hold(seq, sx, sy, t);
      toServer.push({ at: t + oneWayMs, seq, sx, sy });
    }
    if (crosses(t, 50 / 3, serverPhaseMs)) {
      while (toServer.length && toServer[0].at <= t) {
        const m = toServer.shift();
        server.steer = [m.sx, m.sy];
        server.ack = m.seq;
      }
      server.state = step(KIN60, server.state, ...server.steer);
      server.steps++;
      if (server.steps % 3 === 0) toClient.push({ at: t + oneWayMs, tick: server.steps / 3, state: server.state, ack: server.ack });
    }
    if (joined && crosses(t, 1000 / 60, 5)) client.advance(t);
    while (toClient.length && toClient[0].at <= t) {
      const f = toClient.shift();
      if (!joined) {
        client.reset(f.state, f.tick, t);
        joined = true;
        continue;
      }
      client.advance(t);
      const before = client.state;
      out.push({ t, tick: f.tick, predicted: client.predictedAt(f.tick), truth: f.state });
      const corrections = client.corrections;
      client.reconcile(f.state, f.tick, f.ack, t);
      out.at(-1).corrected = client.corrections > corrections;
      out.at(-1).size = Math.hypot(before.x - client.state.x, before.y - client.state.y);
    }
  }
  return out;
}

for (const [oneWayMs, serverPhaseMs, inputPhaseMs] of [[0.5, 3, 11], [8, 0, 4.5], [35, 7.25, 2], [80, 12, 16]]) {
  test(`at 60 Hz steps (k = 3), ${oneWayMs} ms each way, inputs reaching the room between steps: the prediction for every frame is the server's state`, () => {
    const steerAt = (t) => (t < 500 ? [0, 0] : t < 1200 ? [1, 0] : t < 2000 ? [0, -1] : t < 2600 ? [0, 0] : [-0.7, 0.7]);
    const frames = exactRoom60({ oneWayMs, serverPhaseMs, inputPhaseMs, steerAt, durationMs: 3500 });
    // Once the boundary is calibrated (the first frames acknowledging an input), bit for bit, steer changes included.
    const calibrated = frames.filter((f) => f.t > 400);
    assert.ok(calibrated.length > 50, `enough frames (${calibrated.length})`);
    for (const f of calibrated) {
      assert.ok(f.predicted, `tick ${f.tick} was predicted`);
      assert.deepEqual(f.predicted, f.truth, `tick ${f.tick} (at ${f.t} ms) predicted as the server stepped it`);
      assert.ok(!f.corrected && f.size === 0, `no correction at tick ${f.tick}`);
    }
  });
}

for (const [oneWayMs, fullEvery] of [[1, Infinity], [8, Infinity], [35, Infinity], [80, Infinity], [35, 1]]) {
  const what = fullEvery === 1 ? 'full snapshots only' : 'deltas';
  test(`at 60 Hz steps (k = 3) over the wire, ${oneWayMs} ms each way (${what}): no corrections, as at 20 Hz`, () => {
    const steerAt = (t) => (t < 500 ? [0, 0] : t < 1500 ? [1, 0] : t < 3000 ? [0, -1] : t < 4500 ? [0, 0] : [-0.7, 0.7]);
    const { corrections, leads, predictions } = simulateRoundTrip({ oneWayMs, framePhaseMs: 7, steerAt, durationMs: 6000, fullEvery, simHz: 60 });
    assert.ok(corrections.length > 100, `frames arrive at 20 Hz (${corrections.length})`);
    // Replays start from quantized states (1/8 unit off at most): no
    // correction reaches the 0.5 units the client counts, steer changes included.
    const worst = Math.max(...corrections.map((c) => c.size));
    assert.ok(worst < 0.5, `worst correction ${worst}`);
    const off = Math.max(...predictions.filter((p) => p.t > 700).map((p) => Math.hypot(p.predicted.x - p.truth.x, p.predicted.y - p.truth.y)));
    assert.ok(off < 0.5, `every frame's tick was predicted within quantization of the server's state (worst ${off})`);
    // Moving right, the prediction runs ahead of the newest server state (by
    // a round trip: less than a step at 1 and 8 ms each way).
    const moving = leads.filter((l) => l.t > 600 && l.t < 1400);
    assert.ok(moving.every((l) => (oneWayMs >= 20 ? l.predictedX > l.serverX : l.predictedX >= l.serverX - 0.5)), 'the prediction leads the server');
  });
}

test('at 60 Hz steps, frames dropped for a slow reader keep corrections as small', () => {
  const steerAt = (t) => (t < 500 ? [0, 0] : t < 1500 ? [1, 0] : t < 3000 ? [0, -1] : t < 4500 ? [0, 0] : [-0.7, 0.7]);
  const dropTick = (tick) => [2, 5, 6, 12, 13, 14].includes(tick % 20);
  const { corrections, ages } = simulateRoundTrip({ oneWayMs: 35, framePhaseMs: 7, steerAt, durationMs: 6000, dropTick, simHz: 60 });
  assert.ok([1, 2, 3, 4].every((a) => ages.includes(a)), `deltas against frames 1 to 4 ticks old (${[...new Set(ages)]})`);
  const worst = Math.max(...corrections.map((c) => c.size));
  assert.ok(worst < 0.5, `worst correction ${worst}`);
});

test('at 40 Hz steps (k = 2) the prediction holds too', () => {
  const steerAt = (t) => (t < 500 ? [0, 0] : t < 1500 ? [1, 0] : t < 3000 ? [0, -1] : t < 4500 ? [0, 0] : [-0.7, 0.7]);
  for (const oneWayMs of [8, 35]) {
    const { corrections } = simulateRoundTrip({ oneWayMs, framePhaseMs: 7, steerAt, durationMs: 6000, simHz: 40 });
    const worst = Math.max(...corrections.map((c) => c.size));
    assert.ok(worst < 0.5, `${oneWayMs} ms: worst correction ${worst}`);
  }
});

test('with jittery input arrivals at 60 Hz steps, a steer change is at worst a step early or late: small corrections', () => {
  const steerAt = (t) => (t < 500 ? [0, 0] : t < 1500 ? [1, 0] : t < 3000 ? [0, -1] : t < 4500 ? [0, 0] : [-0.7, 0.7]);
  let seed = 11;
  const jitter = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 6;
  const { corrections } = simulateRoundTrip({ oneWayMs: 35, framePhaseMs: 7, steerAt, durationMs: 6000, simHz: 60, inputJitterMs: jitter });
  const steady = corrections.filter((c) => [500, 1500, 3000, 4500].every((ch) => c.t < ch || c.t > ch + 2 * 35 + 150));
  const worstSteady = Math.max(...steady.map((c) => c.size));
  assert.ok(worstSteady < 0.5, `steady-state corrections stay below half a unit, worst ${worstSteady}`);
  const worst = Math.max(...corrections.map((c) => c.size));
  assert.ok(worst < 6, `corrections at steer changes are small, worst ${worst}`);
});

test('predicting one 50 ms step per frame against a 60 Hz server (the old wiring) corrects all the time', () => {
  const steerAt = (t) => (t < 500 ? [0, 0] : t < 1500 ? [1, 0] : t < 3000 ? [0, -1] : t < 4500 ? [0, 0] : [-0.7, 0.7]);
  const run = (predictor) => simulateRoundTrip({ oneWayMs: 8, framePhaseMs: 7, steerAt, durationMs: 6000, simHz: 60, predictor }).corrections.filter((c) => c.size > 0.5).length;
  const perTick = run(() => new Predictor(arenaModel(ARENA, 20)));
  const perStep = run(() => new Predictor(arenaModel(ARENA, 60), 3));
  assert.ok(perTick >= 8 && perStep === 0, `corrections over 0.5 units: ${perTick} stepping per tick, ${perStep} per step`);
});

test('the interpolator blends between the two snapshots around the render tick', () => {
  const it = new Interpolator();
  it.dtSec = 0.05;
  const frame = (entries) => new Map(entries.map(([id, x, vx = 0]) => [id, { x, y: 0, vx, vy: 0 }]));
  it.push(10, frame([[1, 0], [2, 100]]));
  it.push(12, frame([[1, 20, 200], [3, 50]]));
  it.push(11, frame([[1, 999]])); // out of order: ignored
  let s = it.sample(10.5);
  assert.equal(s.get(1).x, 5);
  assert.equal(s.get(2).x, 100, 'a player gone in the next frame stays until halfway');
  assert.equal(s.has(3), false, 'a player new in the next frame appears from halfway');
  s = it.sample(11.75);
  assert.equal(s.get(1).x, 17.5);
  assert.equal(s.has(2), false);
  assert.equal(s.get(3).x, 50);
  assert.equal(it.sample(9).get(1).x, 0, 'before the oldest frame: hold it');
  assert.equal(it.sample(13).get(1).x, 30, 'past the newest frame: extrapolate with the velocity');
  assert.equal(it.sample(50).get(1).x, 40, 'but at most two ticks');
});

test('the server clock maps ticks to local time and absorbs jitter', () => {
  const clock = new ServerClock(50);
  let seed = 7;
  const jitter = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 30;
  for (let tick = 100; tick < 300; tick++) clock.observe(tick, 5000 + (tick - 100) * 50 + 40 + jitter());
  // Arriving at 5000 + (tick - 100) * 50 + 40..70 ms; the clock tracks the early edge.
  const now = 5000 + 200 * 50 + 40;
  const rt = clock.renderTick(now, 100);
  assert.ok(rt > 297 && rt < 298.5, `render tick ${rt} is about two ticks behind the newest (300)`);
  clock.observe(10_000, 900_000); // a long gap: resync at once
  assert.ok(Math.abs(clock.renderTick(900_000, 0) - 10_000) < 1e-9);
});

test('the rate meter counts the last second', () => {
  const m = new RateMeter();
  for (let i = 0; i < 40; i++) m.mark(i * 50);
  assert.equal(m.rate(1999), 20);
  assert.equal(m.rate(5000), 0);
});
