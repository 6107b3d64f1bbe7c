// Tests of the client's netcode (src/netcode.js) without a browser: the
// reconciliation bookkeeping, a simulated round trip against a fake 20 Hz
// server (or one stepping 2 or 3 times per 20 Hz frame, as with --sim-rate 40
// or 60, and a wire-free 60 Hz room whose every frame the prediction must
// match bit for bit) with latency, the arena as the game (its model is
// assets/arena.js, checked bit for bit against the Rust sim by
// arena.test.mjs) and protocol v6 on the wire: the arena's schema, frames
// quantized by it and sent as a whole frame, then deltas from the newest
// frame sent (state.js's encoder, the Rust encoder's bytes), which the
// client's Replica rebuilds and names; frames may be dropped. Then the error
// smoothing, interpolation of any game's fields and the server clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Interpolator, Predictor, RateMeter, SNAP_DISTANCE, ServerClock, blend, smoothSpec } from '../src/netcode.js';
import { Replica, componentId, frameView, slotValues } from '../src/replica.js';
import { decodeSchema, encodeSchema, encodeStateDelta, stateChecksum } from '../src/state.js';
import { arenaModel, kinematics, steerDirection, steerInput, step } from '../../../assets/arena.js';
import { ARENA } from './fakes.mjs';

const KIN = kinematics(ARENA, 20);

/** The arena's schema (crates/sim/src/game.rs, with the engine's `player`). */
const xy = (scalar) => [
  { name: 'x', type: { kind: 'fixed', scalar, scale: 4 } },
  { name: 'y', type: { kind: 'fixed', scalar, scale: 4 } },
];
const SCHEMA = decodeSchema(
  encodeSchema({
    game: 'arena',
    version: 1,
    components: [
      { name: 'pos', fields: xy('u16') },
      { name: 'vel', fields: xy('i16') },
      { name: 'score', fields: [{ name: 'points', type: { kind: 'scalar', scalar: 'u32' } }] },
      { name: 'pellet', fields: [{ name: 'slot', type: { kind: 'scalar', scalar: 'u16' } }] },
      {
        name: 'player',
        fields: [
          { name: 'id', type: { kind: 'scalar', scalar: 'u32' } },
          { name: 'name', type: { kind: 'text', maxBytes: 32 } },
          { name: 'connected', type: { kind: 'scalar', scalar: 'bool' } },
        ],
      },
    ],
    input: { name: 'steer', fields: [{ name: 'x', type: { kind: 'scalar', scalar: 'i8' } }, { name: 'y', type: { kind: 'scalar', scalar: 'i8' } }] },
    events: [],
  }),
);

/** The arena's predictor at `rate` steps a second (k = rate / 20 per frame). */
const predictor = (rate = 20, k = rate / 20) => new Predictor(arenaModel, { stepRateHz: rate, stepsPerFrame: k, config: ARENA });
/** An orb's components from { x, y, vx, vy }. */
const orb = (s) => ({ pos: { x: s.x, y: s.y }, vel: { x: s.vx, y: s.vy } });
/** { x, y, vx, vy } of an orb's components. */
const flat = (c) => ({ x: c.pos.x, y: c.pos.y, vx: c.vel.x, vy: c.vel.y });
/** The arena's input for steering (x, y), as sent. */
const steerOf = (x, y) => steerInput(x, y);

/** A frame of the arena with player 1's orb (entity 5) in state `s`, quantized by the schema. */
function arenaFrame(tick, s) {
  const comp = (name, fields) => ({ id: componentId(SCHEMA, name), values: slotValues(SCHEMA.components[componentId(SCHEMA, name)], fields) });
  const components = [
    comp('player', { id: 1, name: 'me', connected: true }),
    comp('pos', { x: s.x, y: s.y }),
    comp('score', { points: 0 }),
    comp('vel', { x: s.vx, y: s.vy }),
  ].sort((a, b) => a.id - b.id);
  return { tick, entities: [{ id: 5, components }] };
}

test('reconcile keeps the acknowledged input, drops older ones and replays up to the present', () => {
  const p = predictor();
  p.reset(orb({ x: 800, y: 500, vx: 0, vy: 0 }), 100, 0); // tick 100's boundary at local 0 ms
  const steers = [[1, 0], [1, 0], [0, 1], [0, 1], [-1, 0]];
  steers.forEach(([x, y], i) => p.hold(i + 1, steerOf(x, y), 10 + i * 33));
  p.advance(160); // boundaries at 50, 100, 150: ticks 101..103
  assert.equal(p.tick, 103);
  // Input 3 (sent at 76) is the newest the server applied by tick 102, input 4 (109) came later.
  const server = orb({ x: 810, y: 505, vx: 50, vy: 10 });
  p.reconcile(server, 102, 3, 170);
  assert.deepEqual(p.inputs.map((i) => i.seq), [3, 4, 5]);
  const mid = (76 + 109) / 2 - 102 * 50; // the tick boundary estimate: middle of the window
  assert.equal(p.offset, mid);
  assert.equal(p.tick, Math.floor((170 - mid) / 50));
  let expect = flat(server);
  let expectPrev = expect;
  for (let k = 103; k <= p.tick; k++) {
    expectPrev = expect;
    expect = step(KIN, expect, ...steerDirection(p.inputFor(k)));
  }
  assert.deepEqual(flat(p.state), expect);
  assert.deepEqual(flat(p.prev), expectPrev);
  // Everything acknowledged and no time passed beyond the frame's tick: the server state itself.
  const q = predictor();
  q.reset(server, 7, 1000);
  q.reconcile({ ...server, pos: { x: 811, y: 505 } }, 8, 0, 1000);
  assert.deepEqual(q.state, { ...server, pos: { x: 811, y: 505 } });
});

test('components the model does not step come from the newest frame', () => {
  const p = predictor();
  const server = { ...orb({ x: 800, y: 500, vx: 0, vy: 0 }), score: { points: 1 }, player: { id: 1, name: 'ada', connected: true } };
  p.reset(server, 100, 0);
  p.hold(1, steerOf(1, 0), 10);
  p.advance(120);
  assert.equal(p.state.score.points, 1);
  p.reconcile({ ...server, score: { points: 2 } }, 101, 1, 130);
  assert.equal(p.state.score.points, 2, 'a new score: the replay starts from it');
  assert.equal(p.render(130).player.name, 'ada');
});

test('after a dropped connection the prediction coasts like the server\'s orb, so a resume needs no snap', () => {
  // The server applies steer right for ticks 101..104, then the connection
  // drops: it holds no steer (the orb coasts) until the resume's whole
  // frame of tick 120.
  const start = { x: 400, y: 500, vx: 300, vy: 0 };
  let truth = start;
  const server = new Map([[100, start]]);
  for (let k = 101; k <= 121; k++) {
    truth = step(KIN, truth, k <= 104 ? 1 : 0, 0);
    server.set(k, truth);
  }
  const run = (drop) => {
    const p = predictor();
    p.reset(orb(start), 100, 0); // tick k's boundary at (k - 100) * 50 ms
    for (let i = 0; i < 6; i++) p.hold(i + 1, steerOf(1, 0), 10 + 33 * i);
    p.advance(200);
    assert.equal(p.tick, 104);
    if (drop) p.dropInputs(); // the connection dropped at 200 ms
    p.advance(1000); // the player keeps seeing its orb while reconnecting
    p.reconcile(orb(server.get(120)), 120, 6, 1050);
    return p;
  };
  const resumed = run(true);
  assert.equal(resumed.tick, 121);
  assert.deepEqual(flat(resumed.state), server.get(121));
  assert.deepEqual(resumed.error, { pos: {} }, 'no correction at all');
  assert.equal(resumed.snaps, 0);
  assert.equal(resumed.ackSeq, 6, 'the acknowledged sequence number stays');
  // Holding the last steer through the drop would have run far ahead.
  const held = run(false);
  const e = held.error.pos;
  assert.ok(held.snaps + held.corrections > 0 && Math.hypot(e.x ?? 0, e.y ?? 0) + held.snaps * SNAP_DISTANCE > 50, `a large correction (${e.x})`);
});

test('corrections are smoothed, large ones snap', () => {
  const p = predictor();
  p.reset(orb({ x: 100, y: 100, vx: 0, vy: 0 }), 10, 0);
  p.reconcile(orb({ x: 104, y: 100, vx: 0, vy: 0 }), 10, 0, 0);
  assert.deepEqual(p.render(0).pos, { x: 100, y: 100 }, 'the rendered position does not jump');
  assert.deepEqual(p.error.pos, { x: -4 }, 'per smoothed field (none in y)');
  p.decay(1000);
  assert.deepEqual(p.render(0).pos, { x: 104, y: 100 }, 'and converges to the new state');
  assert.equal(p.render(0).vel.x, 0, 'only the smoothed fields move');
  p.reconcile(orb({ x: 104 + SNAP_DISTANCE + 1, y: 100, vx: 0, vy: 0 }), 10, 0, 0);
  assert.equal(p.snaps, 1);
  assert.deepEqual(p.render(0).pos, { x: 104 + SNAP_DISTANCE + 1, y: 100 });
});

test('another game\'s model: its own state, its own input, its own smoothed fields', () => {
  // A game whose server moves a tank 2 units a step along its heading when
  // `go` is set, and turns it by `turn` tenths of a radian.
  const tank = {
    step: (s, input, dt, config) => {
      const heading = s.body.heading + (input?.turn ?? 0) * 0.1;
      const d = input?.go ? config.speed * dt : 0;
      return { ...s, body: { heading, at: [s.body.at[0] + Math.cos(heading) * d, s.body.at[1] + Math.sin(heading) * d] } };
    },
  };
  const p = new Predictor(tank, { stepRateHz: 10, config: { speed: 20 }, smooth: { body: ['at'] } });
  assert.equal(p.dtMs, 100);
  p.reset({ body: { heading: 0, at: [0, 0] } }, 0, 0);
  p.hold(1, { go: true, turn: 0 }, 5);
  p.advance(250);
  assert.equal(p.simStep, 2);
  assert.deepEqual(p.state.body.at, [4, 0]);
  // The server saw the input late: the tank is 1 unit behind; the array's items are smoothed.
  p.reconcile({ body: { heading: 0, at: [1, 0] } }, 1, 1, 250);
  assert.deepEqual(p.state.body.at, [3, 0]);
  assert.equal(p.error.body.at[0], 1);
  assert.equal(p.error.body.at[1], undefined);
  assert.deepEqual(p.render(400).body.at, [4, 0], 'drawn where it was, the correction to glide away');
  assert.equal(p.render(400).body.heading, 0);
  assert.throws(() => new Predictor({}, {}), TypeError);
  assert.throws(() => new Predictor(tank, { stepRateHz: 0 }), TypeError);
});

/**
 * A fake room of the arena: the server steps every 1000 / `simHz` ms (50 ms
 * by default; 16.7 ms at 60 Hz, on the whole milliseconds, so the steps
 * jitter by up to 2/3 ms), each step applying the newest input that arrived
 * before it (held steer), and every k-th step (k = simHz / 20) ends a 20 Hz
 * frame: it builds the arena's frame (quantized by the schema, as the Rust
 * server's) and sends a whole frame first, then the delta from the newest
 * frame it sent, with the newest input applied so far as ack_seq
 * (`fullEvery` forces periodic whole frames, `dropTick(tick)` drops frames
 * as a slow reader's mailbox does, so the next delta is from an older
 * frame); a client decoding them into a Replica, sending inputs at 30 Hz and
 * rendering frames at 60 Hz with its own phase; both directions delayed by
 * `oneWayMs` (inputs `inputJitterMs()` more, in order). `bumpAt(t)` may
 * return a velocity the server's orb gets at the end of the step at `t` (a
 * bump the client does not predict). `makePredictor` makes the client's
 * Predictor (by default one step of `simHz`, k steps per frame). Returns
 * correction sizes, the prediction's lead, the base ages of the deltas, and
 * for every frame the state the client had predicted for its tick next to
 * the server's (unquantized).
 */
function simulateRoundTrip({
  oneWayMs,
  framePhaseMs,
  steerAt,
  durationMs,
  fullEvery = Infinity,
  dropTick = () => false,
  bumpAt = () => null,
  simHz = 20,
  inputJitterMs = () => 0,
  makePredictor = () => predictor(simHz),
}) {
  const kin = kinematics(ARENA, simHz);
  const k = simHz / 20;
  const server = { state: { x: 800, y: 500, vx: 0, vy: 0 }, input: null, ack: 0, inbox: [], sent: null, truth: new Map() };
  const client = makePredictor();
  const replica = new Replica(SCHEMA);
  const toClient = [];
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
      const input = steerOf(...steerAt(t));
      client.hold(seq, input, t);
      // In order, as over TCP, each up to `inputJitterMs()` late.
      const at = Math.max(server.inbox.at(-1)?.at ?? 0, t + oneWayMs + inputJitterMs());
      server.inbox.push({ at, seq, input });
    }
    // Server step (the first at t = 0).
    if (Math.floor((t * simHz) / 1000) !== Math.floor(((t - 1) * simHz) / 1000)) {
      serverStep++;
      const arrived = server.inbox.filter((m) => m.at <= t);
      server.inbox = server.inbox.filter((m) => m.at > t);
      if (arrived.length) {
        const last = arrived[arrived.length - 1];
        server.input = last.input;
        server.ack = last.seq;
      }
      server.state = step(kin, server.state, ...steerDirection(server.input));
      const bump = bumpAt(t);
      if (bump) server.state = { ...server.state, vx: bump[0], vy: bump[1] };
    }
    if (Math.floor((t * simHz) / 1000) !== Math.floor(((t - 1) * simHz) / 1000) && serverStep % k === 0) {
      const serverTick = serverStep / k;
      server.truth.set(serverTick, server.state);
      const frame = arenaFrame(serverTick, server.state);
      if (!server.sent || !dropTick(serverTick)) {
        const base = server.sent && serverTick % fullEvery !== 0 ? server.sent : null;
        const state = { ack_seq: server.ack, checksum: stateChecksum(frame), frame: encodeStateDelta(SCHEMA, base, frame), age: base ? serverTick - base.tick : 0 };
        server.sent = frame;
        toClient.push({ at: t + oneWayMs, state });
      }
    }
    // Client frames (60 Hz, with their own phase).
    if (joined && Math.floor((t - framePhaseMs) / 16.667) !== Math.floor((t - 1 - framePhaseMs) / 16.667)) client.advance(t);
    // Frames arriving.
    while (toClient.length && toClient[0].at <= t) {
      const { state } = toClient.shift();
      const applied = replica.apply(state);
      assert.ok(applied.checksumOk, 'the checksum holds');
      if (!applied.full) ages.push(state.age);
      const view = frameView(SCHEMA, replica.frame);
      const own = view.entities.find((e) => e.components.player?.id === 1).components;
      if (!joined) {
        client.reset(own, applied.tick, t);
        joined = true;
        continue;
      }
      client.advance(t);
      const before = client.state;
      predictions.push({ t, tick: applied.tick, predicted: client.predictedAt(applied.tick), truth: server.truth.get(applied.tick) });
      client.reconcile(own, applied.tick, state.ack_seq, t);
      corrections.push({ t, size: Math.hypot(before.pos.x - client.state.pos.x, before.pos.y - client.state.pos.y) });
      leads.push({ t, predictedX: client.state.pos.x, serverX: own.pos.x });
    }
  }
  return { corrections, leads, ages, predictions, client };
}

for (const [oneWayMs, fullEvery] of [[0, Infinity], [35, Infinity], [80, Infinity], [35, 1]]) {
  const what = fullEvery === 1 ? 'whole frames only' : 'deltas';
  test(`prediction with ${oneWayMs} ms each way (${what}): tiny corrections while the steer is held`, () => {
    // Idle while the tick boundary is calibrated (as after joining), then steer around.
    const steerAt = (t) => (t < 500 ? [0, 0] : t < 1500 ? [1, 0] : t < 3000 ? [0, -1] : t < 4500 ? [0, 0] : [-0.7, 0.7]);
    const { corrections, leads } = simulateRoundTrip({ oneWayMs, framePhaseMs: 7, steerAt, durationMs: 6000, fullEvery });
    // Away from the moments the steer changes (one round trip + two ticks),
    // the prediction agrees with the server up to quantization.
    const settle = 2 * oneWayMs + 150;
    const changes = [500, 1500, 3000, 4500];
    const steady = corrections.filter((c) => changes.every((ch) => c.t < ch || c.t > ch + settle));
    assert.ok(steady.length > 40, `enough steady frames (${steady.length})`);
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

test('prediction with dropped frames: deltas from older frames keep corrections as small', () => {
  // A slow reader's mailbox drops frames now and then, up to three in a row:
  // the next delta is from the newest frame sent, two to four ticks old.
  const steerAt = (t) => (t < 500 ? [0, 0] : t < 1500 ? [1, 0] : t < 3000 ? [0, -1] : t < 4500 ? [0, 0] : [-0.7, 0.7]);
  const dropTick = (tick) => [2, 5, 6, 12, 13, 14].includes(tick % 20);
  const oneWayMs = 35;
  const { corrections, ages } = simulateRoundTrip({ oneWayMs, framePhaseMs: 7, steerAt, durationMs: 6000, dropTick });
  assert.ok([1, 2, 3, 4].every((a) => ages.includes(a)), `deltas from frames 1 to 4 ticks old (${[...new Set(ages)]})`);
  const settle = 2 * oneWayMs + 250;
  const steady = corrections.filter((c) => [500, 1500, 3000, 4500].every((ch) => c.t < ch || c.t > ch + settle));
  assert.ok(steady.length > 25, `enough steady frames (${steady.length})`);
  const worstSteady = Math.max(...steady.map((c) => c.size));
  assert.ok(worstSteady < 0.5, `steady-state corrections stay below half a unit, worst ${worstSteady}`);
  const worst = Math.max(...corrections.map((c) => c.size));
  assert.ok(worst < 12, `corrections at steer changes are small, worst ${worst}`);
});

test('an unpredicted bump is one correction; the replay from the frame\'s velocity needs no more', () => {
  // Full steer to the right; at 2000 ms the server's orb is bounced back at
  // -150 units/s, which the client does not predict.
  const bumpTick = 2000;
  const run = simulateRoundTrip({ oneWayMs: 80, framePhaseMs: 7, steerAt: () => [1, 0], durationMs: 3000, bumpAt: (t) => (t === bumpTick ? [-150, 0] : null) });
  const bumpArrives = bumpTick + 80;
  assert.ok(run.corrections.some((c) => c.t === bumpArrives && c.size > 20), 'the bump itself is a correction');
  const after = run.corrections.filter((c) => c.t > bumpArrives && c.t < bumpArrives + 300);
  const worst = Math.max(...after.map((c) => c.size));
  assert.ok(after.length >= 5 && worst < 0.25, `after the bump: worst correction ${worst}`);
});

// ---- sub-steps: a server stepping k = 3 times per 20 Hz frame (--sim-rate 60) ----

const KIN60 = kinematics(ARENA, 60);

test('with 3 steps per frame the predictor counts steps: frame tick T ends at step 3T', () => {
  const p = predictor(60, 3);
  assert.equal(p.dtMs, 1000 / 60);
  p.reset(orb({ x: 800, y: 500, vx: 0, vy: 0 }), 100, 0); // tick 100 = step 300, its boundary at local 0 ms
  assert.equal(p.simStep, 300);
  assert.equal(p.tick, 100);
  // Inputs at 10 and 43 ms: the first applies at step 301 (boundary 16.7 ms), the second at 303 (50 ms).
  p.hold(1, steerOf(1, 0), 10);
  p.hold(2, steerOf(0, 1), 43);
  p.advance(60);
  assert.equal(p.simStep, 303);
  assert.equal(p.tick, 101, 'step 303 ends tick 101');
  assert.deepEqual([301, 302, 303].map((n) => steerDirection(p.inputFor(n))), [[1, 0], [1, 0], [0, 1]]);
  let expect = { x: 800, y: 500, vx: 0, vy: 0 };
  for (const [sx, sy] of [[1, 0], [1, 0], [0, 1]]) expect = step(KIN60, expect, sx, sy);
  assert.deepEqual(flat(p.state), expect, 'one 1/60 s step per step boundary');
  assert.deepEqual(flat(p.predictedAt(101)), expect, 'the prediction for tick 101 is the state after step 303');
  // The frame of tick 101 acknowledges input 1 only: input 2 arrived after step 303 began.
  const server = orb({ x: 801, y: 500, vx: 40, vy: 0 });
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
  expect = step(KIN60, flat(server), ...steerDirection(p.inputFor(304)));
  assert.deepEqual(flat(p.state), expect, 'replayed one step at a time from the frame\'s state');
  assert.deepEqual(p.inputFor(304), { x: 0, y: 127 }, 'input 2 (43 ms) is held from the step after the boundary estimate');
  assert.equal(p.predictedAt(101), server);
  p.advance(71);
  assert.equal(p.simStep, 305);
  // A re-estimate that moves the present by more than a step moves the replay's end with it.
  const q = predictor(60, 3);
  q.reset(orb({ x: 800, y: 500, vx: 0, vy: 0 }), 100, 0);
  q.hold(1, steerOf(1, 0), 10);
  q.hold(2, steerOf(1, 0), 43);
  q.advance(50);
  assert.equal(q.simStep, 303);
  q.reconcile(orb({ x: 801, y: 500, vx: 40, vy: 0 }), 101, 1, 50 + 30); // the first calibration: a lead of about 30 ms
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
  const client = predictor(60, 3);
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
      const input = steerOf(...steerAt(t));
      const [sx, sy] = steerDirection(input);
      client.hold(seq, input, t);
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
        client.reset(orb(f.state), f.tick, t);
        joined = true;
        continue;
      }
      client.advance(t);
      const before = client.state;
      const predicted = client.predictedAt(f.tick);
      out.push({ t, tick: f.tick, predicted: predicted && flat(predicted), truth: f.state });
      const corrections = client.corrections;
      client.reconcile(orb(f.state), f.tick, f.ack, t);
      out.at(-1).corrected = client.corrections > corrections;
      out.at(-1).size = Math.hypot(before.pos.x - client.state.pos.x, before.pos.y - client.state.pos.y);
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
  const what = fullEvery === 1 ? 'whole frames only' : 'deltas';
  test(`at 60 Hz steps (k = 3) over the wire, ${oneWayMs} ms each way (${what}): no corrections, as at 20 Hz`, () => {
    const steerAt = (t) => (t < 500 ? [0, 0] : t < 1500 ? [1, 0] : t < 3000 ? [0, -1] : t < 4500 ? [0, 0] : [-0.7, 0.7]);
    const { corrections, leads, predictions } = simulateRoundTrip({ oneWayMs, framePhaseMs: 7, steerAt, durationMs: 6000, fullEvery, simHz: 60 });
    assert.ok(corrections.length > 100, `frames arrive at 20 Hz (${corrections.length})`);
    // Replays start from quantized states (1/8 unit off at most): no
    // correction reaches the 0.5 units the client counts, steer changes included.
    const worst = Math.max(...corrections.map((c) => c.size));
    assert.ok(worst < 0.5, `worst correction ${worst}`);
    const off = Math.max(...predictions.filter((p) => p.t > 700).map((p) => Math.hypot(p.predicted.pos.x - p.truth.x, p.predicted.pos.y - p.truth.y)));
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
  const run = (makePredictor) => simulateRoundTrip({ oneWayMs: 8, framePhaseMs: 7, steerAt, durationMs: 6000, simHz: 60, makePredictor }).corrections.filter((c) => c.size > 0.5).length;
  const perTick = run(() => predictor(20, 1));
  const perStep = run(() => predictor(60, 3));
  assert.ok(perTick >= 8 && perStep === 0, `corrections over 0.5 units: ${perTick} stepping per tick, ${perStep} per step`);
});

test('the interpolator blends the smoothed fields between the two frames around the render tick', () => {
  const it = new Interpolator();
  const frame = (entries) => new Map(entries.map(([id, x, score = 0]) => [id, { pos: { x, y: 0 }, score: { points: score }, player: { name: `p${id}` } }]));
  it.push(10, frame([[1, 0, 1], [2, 100]]));
  it.push(12, frame([[1, 20, 2], [3, 50]]));
  it.push(11, frame([[1, 999]])); // out of order: ignored
  let s = it.sample(10.5);
  assert.deepEqual(s.get(1).pos, { x: 5, y: 0 });
  assert.equal(s.get(1).score.points, 1, 'other fields: the nearer frame\'s');
  assert.equal(s.get(2).pos.x, 100, 'an entity gone in the next frame stays until halfway');
  assert.equal(s.has(3), false, 'an entity new in the next frame appears from halfway');
  s = it.sample(11.75);
  assert.equal(s.get(1).pos.x, 17.5);
  assert.equal(s.get(1).score.points, 2);
  assert.equal(s.get(1).player.name, 'p1');
  assert.equal(s.has(2), false);
  assert.equal(s.get(3).pos.x, 50);
  assert.equal(it.sample(9).get(1).pos.x, 0, 'before the oldest frame: hold it');
  assert.equal(it.sample(13).get(1).pos.x, 30, 'past the newest frame: extrapolate along the last change');
  assert.equal(it.sample(50).get(1).pos.x, 40, 'but at most two ticks');
  assert.equal(it.sample(50).get(3).pos.x, 50, 'an entity new in the newest frame: held');
  // Only the fields the game names.
  const named = new Interpolator({ smooth: { pos: ['x'] } });
  named.push(0, new Map([[1, { pos: { x: 0, y: 0 } }]]));
  named.push(2, new Map([[1, { pos: { x: 10, y: 10 } }]]));
  assert.deepEqual(named.sample(1).get(1).pos, { x: 5, y: 10 });
  assert.deepEqual(named.sample(0.5).get(1).pos, { x: 2.5, y: 0 });
});

test('smoothSpec and blend: components, named fields, array items; other fields kept', () => {
  assert.deepEqual(smoothSpec(), [['pos', null]]);
  assert.deepEqual(smoothSpec({ body: ['at'], pos: null }), [['body', ['at']], ['pos', null]]);
  assert.throws(() => smoothSpec(7), TypeError);
  const a = { pos: { x: 0, y: 10, label: 'a' }, body: { at: [0, 0], heading: 1 } };
  const b = { pos: { x: 10, y: 20, label: 'b' }, body: { at: [4, 8], heading: 3 } };
  assert.deepEqual(blend(a, b, 0.25, smoothSpec(['pos', 'body'])), { pos: { x: 2.5, y: 12.5, label: 'b' }, body: { at: [1, 2], heading: 1.5 } });
  assert.deepEqual(blend(a, b, 0.5, smoothSpec({ body: ['at'] })), { pos: b.pos, body: { at: [2, 4], heading: 3 } });
  assert.deepEqual(blend({}, b, 0.5, smoothSpec()), b, 'nothing to blend from: b');
  assert.deepEqual(b.pos, { x: 10, y: 20, label: 'b' }, 'b is not changed');
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
