// Tests of the client's netcode (assets/netcode.js) without a browser: the
// reconciliation bookkeeping, a simulated round trip against a fake 20 Hz
// server with latency (built from the same sim.js rules the Rust fixture
// checks, and speaking protocol v4: quantized canonical frames sent as a full
// snapshot, then deltas against the newest frame sent, which the client's
// Replica rebuilds, velocities derived from moves unless a velocity fix says
// otherwise; frames may be dropped), the error smoothing, interpolation and
// the server clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { DERIVED_VEL_TOLERANCE, Interpolator, Predictor, RateMeter, SNAP_DISTANCE, ServerClock, velTolerance } from '../netcode.js';
import { kinematics, step } from '../sim.js';
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
} from '../protocol.js';

const ARENA = { width: 1600, height: 1000, player_radius: 18, pellet_radius: 6, accel: 1400, max_speed: 320, friction: 0.05 };
const KIN = kinematics(ARENA, 20);

test('reconcile keeps the acknowledged input, drops older ones and replays up to the present', () => {
  const p = new Predictor(KIN);
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
  const q = new Predictor(KIN);
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
    const p = new Predictor(KIN);
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
  const p = new Predictor(KIN);
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
 * A fake room: server ticks every 50 ms applying the newest input that arrived
 * before the tick (held steer), builds the wire frame (quantized like
 * quant.rs, canonical like settle_velocities) and sends a full snapshot
 * first, then the delta against the newest frame it sent (as the Rust server
 * does; `fullEvery` forces periodic full snapshots, `dropTick(tick)` drops
 * frames as a slow reader's mailbox does, so the next delta is against an
 * older frame); a client decoding them into a Replica, sending inputs at 30
 * Hz and rendering frames at 60 Hz with its own phase; both directions
 * delayed by `oneWayMs`. `bumpAt(t)` may return a velocity the server's
 * player gets at the end of the tick at `t` (a bump the client does not
 * predict). Returns correction sizes by phase, how many own-player states had
 * a derived velocity, the ticks of frames that carried a velocity fix for it
 * and the base ages of the deltas. `tolerance`: 'flag' passes velTolerance()
 * of the Replica's player (as main.js does), 'delta' the tolerance for every
 * delta frame not listing the player in `changed` (ignoring velocity fixes),
 * 'none' never.
 */
function simulateRoundTrip({ oneWayMs, framePhaseMs, steerAt, durationMs, fullEvery = Infinity, dropTick = () => false, tolerance = 'flag', bumpAt = () => null }) {
  const server = { state: { x: 800, y: 500, vx: 0, vy: 0 }, steer: [0, 0], ack: 0, inbox: [], prev: null, sent: null };
  const client = new Predictor(KIN);
  const replica = new Replica(20);
  const toClient = [];
  let derived = 0;
  const fixes = [];
  const ages = [];
  let seq = 0;
  let serverTick = 0;
  let joined = false;
  const corrections = [];
  const leads = [];
  for (let t = 0; t <= durationMs; t++) {
    // Client sends an input every 1000/30 ms.
    if (joined && Math.floor((t * 30) / 1000) !== Math.floor(((t - 1) * 30) / 1000)) {
      seq++;
      const wire = steerToWire(...steerAt(t));
      const [sx, sy] = steerFromWire(wire);
      client.hold(seq, sx, sy, t);
      server.inbox.push({ at: t + oneWayMs, seq, sx, sy });
    }
    // Server tick.
    if (t % 50 === 0) {
      serverTick++;
      const arrived = server.inbox.filter((m) => m.at <= t);
      server.inbox = server.inbox.filter((m) => m.at > t);
      if (arrived.length) {
        const last = arrived[arrived.length - 1];
        server.steer = [last.sx, last.sy];
        server.ack = last.seq;
      }
      server.state = step(KIN, server.state, ...server.steer);
      const bump = bumpAt(t);
      if (bump) server.state = { ...server.state, vx: bump[0], vy: bump[1] };
      const s = server.state;
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
      const tol = { flag: velTolerance(p), delta: msg.type === 'Delta' && !inChanged ? DERIVED_VEL_TOLERANCE : 0, none: 0 }[tolerance];
      client.reconcile(snap.state, snap.tick, snap.ack, t, tol);
      if (tol === 0) assert.deepEqual([client.history.get(snap.tick).vx, client.history.get(snap.tick).vy], [snap.state.vx, snap.state.vy], 'an exact velocity is used as is');
      corrections.push({ t, size: Math.hypot(before.x - client.state.x, before.y - client.state.y) });
      leads.push({ t, predictedX: client.state.x, serverX: snap.state.x });
    }
  }
  return { corrections, leads, derived, fixes, ages };
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
  const p = new Predictor(KIN);
  p.reset({ x: 100, y: 100, vx: 0, vy: 0 }, 10, 0);
  p.hold(1, 1, 0, 0);
  p.advance(60); // tick 11 predicted with full steer to the right
  const predicted = p.history.get(11);
  assert.ok(predicted.vx > 40);
  // The server's derived velocity is 8 units/s off: the prediction is within the tolerance.
  p.reconcile({ x: predicted.x, y: predicted.y, vx: predicted.vx + 8, vy: 0 }, 11, 1, 60, DERIVED_VEL_TOLERANCE);
  assert.equal(p.history.get(11).vx, predicted.vx);
  // 30 units/s off: clamped to the edge of what the server allows.
  const q = new Predictor(KIN);
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
