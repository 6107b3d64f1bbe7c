// Tests of the client's session logic (src/session.js) with a fake WebSocket
// and fake timers: joining, 30 Hz inputs and inputs sent at once, pings,
// what happens on every kind of close (backoff with jitter and cap,
// immediate reconnect on 1001, stopping with a reason on protocol
// violations, "room full" on 1013), the room state kept from whole frames
// and deltas of the game's schema (from older frames; refusals and checksum
// mismatches counted apart), events, the input→ack latency, session resume
// (the token kept per room, sent after a drop, dropped on Leave and when
// refused), and following a cluster (4001 "node=<id>" resolved through
// /cluster, drain rejoins, the cap on immediate hops).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  BACKOFF_MAX_MS,
  MAX_FOLLOWS,
  RESUME_GRACE_MS,
  ResumeStore,
  Session,
  backoffDelay,
  closePolicy,
  clusterUrlOf,
  memberWsUrl,
  redirectNode,
} from '../src/session.js';
import { MAX_TOKEN_BYTES, PROTOCOL_VERSION } from '../src/protocol.js';
import { encodeEvent } from '../src/replica.js';
import { ARENA_SCHEMA, FakeFrames, FakeStorage, FakeTime, arenaFrame, arenaWelcome, fakeSockets, orb } from './fakes.mjs';

const welcome = arenaWelcome;
/** A whole frame of tick `tick` with `orbs`, acknowledging input `ack`. */
const snapshot = (tick, orbs = [orb(5, 100)], ack = 0) => new FakeFrames().state(arenaFrame(tick, orbs), { ack });

function setup(overrides = {}) {
  const time = new FakeTime();
  const { sockets, FakeWebSocket } = fakeSockets();
  const states = [];
  const welcomes = [];
  let input = null;
  const storage = overrides.storage ?? new FakeStorage();
  const store = overrides.resumeStore ?? new ResumeStore(storage);
  const session = new Session({
    url: 'ws://test/ws?room=r1',
    name: 'tester',
    room: 'r1',
    WebSocketImpl: FakeWebSocket,
    timers: time,
    now: () => time.t,
    random: () => 0.5, // no jitter unless a test says otherwise
    input: () => input,
    onState: (s) => states.push(s.state),
    onWelcome: (msg, info) => welcomes.push({ msg, info }),
    resumeStore: store,
    ...overrides,
  }).start();
  return { time, sockets, session, states, welcomes, storage, store, setInput: (bytes) => (input = bytes) };
}

function connect(t) {
  const ws = t.sockets[t.sockets.length - 1];
  ws.open();
  ws.deliver(welcome());
  return ws;
}

test('joins, then sends the polled input at 30 Hz with increasing seq and the newest tick, and pings every second', () => {
  const t = setup();
  const ws = t.sockets[0];
  assert.equal(ws.url, 'ws://test/ws?room=r1');
  assert.equal(t.session.state, 'connecting');
  ws.open();
  assert.deepEqual(ws.sent, [{ type: 'Join', version: PROTOCOL_VERSION, name: 'tester', resume: '' }]);
  assert.equal(PROTOCOL_VERSION, 6);
  assert.equal(t.session.state, 'joining');
  ws.deliver(welcome());
  assert.equal(t.session.state, 'connected');
  assert.equal(t.session.replica.schema.game, 'arena', 'the replica decodes the Welcome\'s schema');
  ws.deliver(snapshot(41));
  t.time.advance(500);
  assert.equal(ws.sent.filter((m) => m.type === 'Input').length, 0, 'no input to send: nothing sent');
  t.setInput(new Uint8Array([0xfd, 5]));
  t.time.advance(1000);
  const inputs = ws.sent.filter((m) => m.type === 'Input');
  assert.ok(inputs.length >= 29 && inputs.length <= 30, `${inputs.length} inputs in a second`);
  inputs.forEach((m, i) => {
    assert.equal(m.seq, i + 1);
    assert.equal(m.ack_tick, 41);
    assert.deepEqual([...m.data], [0xfd, 5]);
  });
  const pings = ws.sent.filter((m) => m.type === 'Ping');
  assert.equal(pings.length, 2, 'one at once, one a second later');
  t.time.advance(20);
  ws.deliver({ type: 'Pong', nonce: pings[1].nonce, tick: 60 });
  assert.equal(t.session.rtt, t.time.t - 1000, 'from the ping sent at 1 s');
});

test('sendInput sends one at once, numbered after the polled ones; nothing while not connected', () => {
  const sent = [];
  const t = setup({ onInput: (seq, data, now) => sent.push([seq, [...data], now]) });
  assert.equal(t.session.sendInput(new Uint8Array([1])), null, 'not connected yet');
  const ws = connect(t);
  t.time.advance(10);
  assert.equal(t.session.sendInput(new Uint8Array([7, 7])), 1);
  assert.equal(t.session.sendInput(new Uint8Array([8])), 2);
  assert.deepEqual(sent, [[1, [7, 7], 10], [2, [8], 10]]);
  assert.deepEqual(ws.sent.filter((m) => m.type === 'Input').map((m) => m.seq), [1, 2]);
  assert.throws(() => t.session.sendInput(new Uint8Array(201)), RangeError, 'longer than the server takes');
});

test('every State\'s ack_seq is the input latency\'s end: from sending an input to the State that acknowledged it', () => {
  const t = setup();
  const ws = connect(t);
  const frames = new FakeFrames();
  ws.deliver(frames.state(arenaFrame(41, [orb(5, 100)])));
  assert.equal(t.session.ackLatency, null);
  t.session.sendInput(new Uint8Array([1])); // seq 1 at 0 ms
  t.time.advance(30);
  t.session.sendInput(new Uint8Array([2])); // seq 2 at 30 ms
  t.time.advance(45);
  ws.deliver(frames.state(arenaFrame(42, [orb(5, 101)]), { ack: 1 }));
  assert.equal(t.session.ackSeq, 1);
  assert.equal(t.session.ackLatency, 75);
  t.time.advance(50);
  ws.deliver(frames.state(arenaFrame(43, [orb(5, 102)]), { ack: 2 }));
  assert.equal(t.session.ackLatency, 95);
  t.time.advance(50);
  ws.deliver(frames.state(arenaFrame(44, [orb(5, 103)]), { ack: 2 }));
  assert.equal(t.session.ackLatency, 95, 'the same ack again: the same latency');
});

test('an unexpected close reconnects with exponential backoff, jitter and a cap', () => {
  const randoms = [0, 0.999999];
  for (const r of randoms) {
    const t = setup({ random: () => r });
    connect(t);
    const delays = [];
    for (let attempt = 0; attempt < 12; attempt++) {
      t.sockets[t.sockets.length - 1].serverClose(1006);
      assert.equal(t.session.state, 'reconnecting');
      delays.push(t.session.retryAt - t.time.t);
      const before = t.sockets.length;
      t.time.advance(delays[delays.length - 1]);
      assert.equal(t.sockets.length, before + 1, 'a new socket after the delay');
    }
    const factor = 1 + (r * 2 - 1) * 0.25;
    assert.ok(Math.abs(delays[0] - 250 * factor) < 1e-6, `first delay ${delays[0]}`);
    assert.ok(Math.abs(delays[1] - 500 * factor) < 1e-6);
    assert.ok(Math.abs(delays[2] - 1000 * factor) < 1e-6);
    assert.ok(delays.every((d) => d <= BACKOFF_MAX_MS), 'never above 30 s');
    assert.ok(delays[11] >= 30_000 * 0.75 - 1e-6, 'grows to the cap');
    // A successful join resets the backoff.
    connect(t);
    t.sockets[t.sockets.length - 1].serverClose(1011, 'room unavailable');
    assert.ok(Math.abs(t.session.retryAt - t.time.t - 250 * factor) < 1e-6);
  }
});

test('backoffDelay stays within ±25% of 250 ms · 2^attempt and under 30 s', () => {
  for (let attempt = 0; attempt < 40; attempt++) {
    const base = Math.min(30_000, 250 * 2 ** attempt);
    for (const r of [0, 0.25, 0.5, 0.75, 0.9999]) {
      const d = backoffDelay(attempt, () => r);
      assert.ok(d >= base * 0.75 - 1e-9 && d <= Math.min(30_000, base * 1.25) + 1e-9, `${attempt}: ${d}`);
    }
  }
});

test('close 1001 (server draining) reconnects at once', () => {
  const t = setup();
  connect(t);
  t.sockets[0].serverClose(1001, 'going away');
  assert.equal(t.session.state, 'reconnecting');
  assert.equal(t.session.retryAt, t.time.t);
  t.time.advance(0);
  assert.equal(t.sockets.length, 2);
});

for (const [code, reason] of [[1002, 'unsupported protocol version'], [1003, ''], [1007, 'malformed message'], [1009, ''], [1008, 'ticket required']]) {
  test(`close ${code} ${reason} stops and tells the player why`, () => {
    const t = setup();
    connect(t);
    t.sockets[0].serverClose(code, reason);
    assert.equal(t.session.state, 'closed');
    assert.equal(t.session.closeInfo.code, code);
    assert.ok(t.session.closeInfo.message.length > 10);
    if (reason) assert.ok(t.session.closeInfo.message.includes(reason));
    t.time.advance(120_000);
    assert.equal(t.sockets.length, 1, 'no reconnect');
    // The player may still ask to rejoin.
    t.session.retryNow();
    assert.equal(t.sockets.length, 2);
  });
}

test('close 1013 (room full) stops and flags the room as full', () => {
  const t = setup();
  t.sockets[0].open();
  t.sockets[0].serverClose(1013, 'room full');
  assert.equal(t.session.state, 'closed');
  assert.equal(t.session.closeInfo.roomFull, true);
  assert.match(closePolicy(1013).message, /full/);
});

test('leaving sends Leave, closes, and never reconnects', () => {
  const t = setup();
  const ws = connect(t);
  t.session.leave();
  assert.deepEqual(ws.sent[ws.sent.length - 1], { type: 'Leave' });
  assert.equal(ws.closedWith.code, 1000);
  assert.equal(t.session.state, 'left');
  ws.serverClose(1000, 'bye');
  t.time.advance(60_000);
  assert.equal(t.sockets.length, 1);
  assert.deepEqual(t.states.slice(-1), ['left']);
});

test('"retry now" skips the backoff wait', () => {
  const t = setup();
  connect(t);
  t.sockets[0].serverClose(1006);
  t.session.retryNow();
  assert.equal(t.sockets.length, 2);
  t.time.advance(10_000);
  assert.equal(t.sockets.length, 2, 'the cancelled timer does not open another socket');
});

test('undecodable server messages are ignored, not fatal', () => {
  const t = setup();
  const ws = connect(t);
  const warn = console.warn;
  console.warn = () => {};
  try {
    ws.onmessage({ data: new Uint8Array([9, 9, 9]).buffer });
  } finally {
    console.warn = warn;
  }
  assert.equal(t.session.state, 'connected');
});

test('whole frames and deltas become complete frames; inputs acknowledge the newest frame', () => {
  const frames = [];
  const t = setup({ onFrame: (frame, now, info) => frames.push({ frame, now, info }) });
  const ws = connect(t);
  const server = new FakeFrames();
  const pellets = [{ entity: 7, slot: 0, x: 24, y: 24 }];
  ws.deliver(server.state(arenaFrame(41, [orb(5, 100), orb(9, 300)], pellets)));
  t.time.advance(50);
  ws.deliver(server.state(arenaFrame(42, [orb(5, 101), orb(9, 299.5, 400.25)], pellets), { ack: 1 }));
  t.time.advance(50);
  // A pellet eaten, a score, a new player: all in a delta.
  ws.deliver(server.state(arenaFrame(43, [orb(5, 102, 400, { score: 1 }), orb(9, 299), orb(12, 50, 60, { name: 'newbie' })]), { ack: 2 }));
  // Tick 44 was dropped for this client: 45 comes from 43, player 9 leaving.
  server.state(arenaFrame(44, [orb(5, 103)]));
  server.sent = frames.at(-1).frame;
  t.time.advance(100);
  ws.deliver(server.state(arenaFrame(45, [orb(5, 104, 400, { score: 1 }), orb(12, 50, 60, { name: 'newbie' })]), { ack: 4 }));
  assert.deepEqual(frames.map((f) => [f.frame.tick, f.info.full, f.info.ackSeq, f.now]), [[41, true, 0, 0], [42, false, 1, 50], [43, false, 2, 100], [45, false, 4, 200]]);
  assert.ok(frames.every((f) => f.info.checksumOk && f.info.msg.type === 'State'));
  const view = t.session.replica.view();
  assert.deepEqual(view.entities.map((e) => e.id), [1005, 1012]);
  assert.deepEqual(view.entities[0].components, { player: { id: 5, name: 'p5', connected: true }, pos: { x: 104, y: 400 }, score: { points: 1 }, vel: { x: 0, y: 0 } });
  assert.equal(view.entities[1].components.player.name, 'newbie');
  assert.deepEqual(t.session.frames, { full: 1, delta: 3, refused: 0, mismatches: 0 });
  assert.equal(t.session.ackSeq, 4);
  t.time.advance(40);
  t.session.sendInput(new Uint8Array([0, 0]));
  const inputs = ws.sent.filter((m) => m.type === 'Input');
  assert.equal(inputs.at(-1).ack_tick, 45);
});

test('a delta that does not apply is counted and ignored; the replica keeps its frame', () => {
  const frames = [];
  const refused = [];
  const warnings = [];
  const warn = console.warn;
  console.warn = (...args) => warnings.push(args.join(' '));
  try {
    const t = setup({ onFrame: (frame) => frames.push(frame.tick), onRefused: (e, info) => refused.push([e.name, info.mismatch]) });
    const ws = connect(t);
    const server = new FakeFrames();
    server.state(arenaFrame(40, [orb(5, 99)]));
    ws.deliver(server.state(arenaFrame(41, [orb(5, 100)]))); // a delta before any whole frame
    const whole = new FakeFrames();
    ws.deliver(whole.state(arenaFrame(41, [orb(5, 100)])));
    const other = new FakeFrames();
    other.state(arenaFrame(42, [orb(5, 100)]));
    ws.deliver(other.state(arenaFrame(43, [orb(5, 101)]))); // from tick 42, which this client never got
    const cut = whole.state(arenaFrame(42, [orb(5, 102)]));
    ws.deliver({ ...cut, frame: cut.frame.subarray(0, cut.frame.length - 1) }); // bytes that do not decode
    assert.deepEqual(refused, [['ProtocolError', false], ['ProtocolError', false], ['ProtocolError', false]]);
    assert.equal(warnings.length, 2, 'one warning per run of refusals');
    assert.match(warnings[1], /ignoring frames that do not apply/);
    t.time.advance(40);
    t.session.sendInput(new Uint8Array([0, 0]));
    const inputs = ws.sent.filter((m) => m.type === 'Input');
    assert.equal(inputs.at(-1).ack_tick, 41, 'the newest frame actually held');
    // A delta from the frame held applies, however old.
    const again = new FakeFrames();
    again.sent = arenaFrame(41, [orb(5, 100)]);
    ws.deliver(again.state(arenaFrame(44, [orb(5, 105)])));
    ws.deliver(again.state(arenaFrame(46, [orb(5, 106)]), { full: true }));
    ws.deliver(again.state(arenaFrame(47, [orb(5, 107)])));
    assert.deepEqual(frames, [41, 44, 46, 47]);
    assert.deepEqual(t.session.frames, { full: 2, delta: 2, refused: 3, mismatches: 0 });
    assert.equal(t.session.state, 'connected');
  } finally {
    console.warn = warn;
  }
});

test('after a reconnect the replica starts over from the new whole frame', () => {
  const frames = [];
  const t = setup({ onFrame: (frame) => frames.push(frame.tick) });
  const server = new FakeFrames();
  connect(t).deliver(server.state(arenaFrame(41, [orb(5, 100)])));
  t.sockets[0].serverClose(1001);
  t.time.advance(0);
  assert.equal(t.session.replica, null, 'no state while reconnecting');
  const ws = connect(t);
  const warn = console.warn;
  console.warn = () => {};
  try {
    ws.deliver(server.state(arenaFrame(42, [orb(5, 101)]))); // from the old connection's frame
  } finally {
    console.warn = warn;
  }
  assert.equal(t.session.frames.refused, 1);
  server.reset();
  ws.deliver(server.state(arenaFrame(42, [orb(5, 101)])));
  assert.deepEqual(frames, [41, 42]);
});

test("a State's events reach onEvents, in order, whether or not its frame applied", () => {
  const events = [];
  const t = setup({ onEvents: (list, now, msg) => events.push([list.length, now, msg.ack_seq]) });
  const ws = connect(t);
  const server = new FakeFrames();
  const ate = encodeEvent(ARENA_SCHEMA, 'ate', { player: 5, slot: 3 });
  const hello = encodeEvent(ARENA_SCHEMA, 'hello', { text: 'hi' });
  ws.deliver(server.state(arenaFrame(41, [orb(5, 100)]), { events: [ate, hello], ack: 1 }));
  ws.deliver(server.state(arenaFrame(42, [orb(5, 100)]), { ack: 2 }));
  const warn = console.warn;
  console.warn = () => {};
  try {
    const bad = server.state(arenaFrame(43, [orb(5, 100)]), { events: [hello], ack: 3 });
    ws.deliver({ ...bad, frame: new Uint8Array([0]) });
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(events, [[2, 0, 1], [1, 0, 3]]);
});

test('a Welcome whose schema does not decode stops the session and says why', () => {
  const t = setup();
  const ws = t.sockets[0];
  ws.open();
  const warn = console.warn;
  console.warn = () => {};
  try {
    ws.deliver(welcome(5, { schema: new Uint8Array([1, 2, 3]) }));
  } finally {
    console.warn = warn;
  }
  assert.equal(t.session.state, 'closed');
  assert.match(t.session.closeInfo.message, /could not be read/);
  assert.equal(t.session.welcome, null);
  t.time.advance(60_000);
  assert.equal(t.sockets.length, 1, 'no retry');
});

// ---- session resume (protocol v3) ----

const TOKEN_A = 'BWxvYmJ5BQAAAA.tagA';
const TOKEN_B = 'BWxvYmJ5BQAAAA.tagB';
const TOKEN_C = 'BWxvYmJ5BQAAAA.tagC';

/** Opens the newest socket and answers its Join with `msg` (a Welcome). */
function answer(t, msg) {
  const ws = t.sockets[t.sockets.length - 1];
  ws.open();
  ws.deliver(msg);
  return ws;
}

const joinOf = (ws) => ws.sent.find((m) => m.type === 'Join');

test('a checksum mismatch is counted apart and resyncs: the page drops the socket and resumes at once', () => {
  const frames = [];
  const refused = [];
  const warnings = [];
  const warn = console.warn;
  console.warn = (...args) => warnings.push(args.join(' '));
  try {
    const t = setup({ onFrame: (frame) => frames.push(frame.tick), onRefused: (e, info) => refused.push(info.mismatch) });
    const ws = answer(t, welcome(5, { resume_token: TOKEN_A }));
    const server = new FakeFrames();
    ws.deliver(server.state(arenaFrame(41, [orb(5, 100)])));
    ws.deliver(server.state(arenaFrame(42, [orb(5, 101)])));
    const good = server.state(arenaFrame(43, [orb(5, 103)]));
    ws.deliver({ ...good, checksum: (good.checksum ^ 1) >>> 0 }); // the copies diverged
    assert.deepEqual(refused, [true]);
    assert.deepEqual(t.session.frames, { full: 1, delta: 2, refused: 0, mismatches: 1 });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /checksum mismatch/);
    assert.deepEqual(ws.closedWith, { code: 4000, reason: 'resync' });
    ws.serverClose(4000, 'resync'); // the old socket's close event changes nothing more
    assert.equal(t.session.state, 'reconnecting');
    t.time.advance(0);
    assert.equal(t.sockets.length, 2, 'reconnected at once');
    const again = answer(t, welcome(5, { resume_token: TOKEN_B, resumed: true }));
    assert.equal(joinOf(again).resume, TOKEN_A, 'as the same player');
    server.reset();
    again.deliver(server.state(arenaFrame(44, [orb(5, 104)])));
    again.deliver(server.state(arenaFrame(45, [orb(5, 105)])));
    assert.deepEqual(frames, [41, 42, 44, 45]);
    assert.equal(t.session.state, 'connected');
  } finally {
    console.warn = warn;
  }
});

for (const [code, reason] of [[1006, ''], [1000, 'bye'], [1011, 'room unavailable'], [1008, 'too slow'], [1008, 'rate limit exceeded']]) {
  test(`after a drop (${code} ${reason}) the reconnect sends the stored token, and a resumed Welcome keeps the player`, () => {
    const t = setup();
    const first = answer(t, welcome(5, { resume_token: TOKEN_A }));
    assert.equal(joinOf(first).resume, '', 'the first join is fresh');
    assert.equal(t.session.lastResumed, false);
    assert.equal(t.store.get('r1'), TOKEN_A);
    assert.equal(t.storage.getItem('tickroom.resume.r1'), TOKEN_A, 'kept in sessionStorage for a reload');
    first.deliver(snapshot(41));
    first.serverClose(code, reason);
    assert.equal(t.session.state, 'reconnecting');
    assert.ok(t.session.reconnecting);
    assert.equal(t.session.droppedAt, t.time.t);
    assert.ok(t.session.retryAt - t.time.t <= 250 * 1.25, 'the first retry comes fast');
    t.time.advance(t.session.retryAt - t.time.t);
    const second = answer(t, welcome(5, { resume_token: TOKEN_B, resumed: true, tick: 80 }));
    assert.deepEqual(joinOf(second), { type: 'Join', version: PROTOCOL_VERSION, name: 'tester', resume: TOKEN_A });
    assert.equal(t.session.state, 'connected');
    assert.equal(t.session.reconnecting, false);
    assert.equal(t.session.lastResumed, true);
    assert.equal(t.session.resumes, 1);
    assert.equal(t.session.resumeAttempts, 1);
    assert.equal(t.session.playerId, 5, 'the same player id');
    assert.equal(t.session.droppedAt, null);
    assert.equal(t.session.resumedAt, t.time.t);
    assert.deepEqual(t.welcomes.map((w) => w.info), [{ attempted: false, continued: false }, { attempted: true, continued: true }]);
    assert.equal(t.store.get('r1'), TOKEN_B, 'every Welcome brings the token to use next');
    assert.equal(t.storage.getItem('tickroom.resume.r1'), TOKEN_B);
    // The first frame after the resume is a whole frame: the replica starts over.
    second.deliver(snapshot(81));
    assert.equal(t.session.lastTick, 81);
    // Inputs go on with increasing sequence numbers.
    t.setInput(new Uint8Array([0, 0]));
    t.time.advance(100);
    const seqs = [first, second].flatMap((ws) => ws.sent.filter((m) => m.type === 'Input').map((m) => m.seq));
    assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), 'seq keeps increasing across the resume');
  });
}

test('a resume that comes back as a new player (resumed: false) is reported as such', () => {
  const t = setup();
  answer(t, welcome(5, { resume_token: TOKEN_A })).serverClose(1006);
  t.time.advance(1000);
  const ws = answer(t, welcome(9, { resume_token: TOKEN_B, resumed: false }));
  assert.equal(joinOf(ws).resume, TOKEN_A);
  assert.equal(t.session.lastResumed, false);
  assert.equal(t.session.resumes, 0);
  assert.equal(t.session.resumeAttempts, 1);
  assert.equal(t.session.playerId, 9);
  assert.deepEqual(t.welcomes[1].info, { attempted: true, continued: false });
  assert.equal(t.store.get('r1'), TOKEN_B);
});

test('while a resume is possible retries stay ~1 s apart, then the backoff grows again', () => {
  for (const r of [0, 0.5, 0.999999]) {
    const t = setup({ random: () => r });
    answer(t, welcome(5, { resume_token: TOKEN_A })).serverClose(1006);
    const dropped = t.time.t;
    const attempts = [];
    for (let i = 0; i < 22; i++) {
      const delay = t.session.retryAt - t.time.t;
      t.time.advance(delay);
      attempts.push({ at: t.time.t - dropped, delay });
      const ws = t.sockets[t.sockets.length - 1];
      ws.open();
      assert.equal(joinOf(ws).resume, TOKEN_A, 'every attempt carries the token');
      ws.serverClose(1006);
    }
    const inGrace = attempts.filter((a) => a.at < RESUME_GRACE_MS);
    assert.ok(inGrace[0].delay <= 250 * 1.25 + 1e-6, `first retry after ${inGrace[0].delay} ms`);
    assert.ok(inGrace.every((a) => a.delay <= 1250 + 1e-6), `retries in the grace period at most 1.25 s apart: ${inGrace.map((a) => Math.round(a.delay))}`);
    assert.ok(inGrace.length >= 7, `${inGrace.length} attempts within the grace period`);
    const after = attempts.filter((a) => a.at - a.delay >= RESUME_GRACE_MS); // decided after the grace
    assert.ok(after.length >= 2 && after.every((a, i) => i === 0 || a.delay > after[i - 1].delay || a.delay >= BACKOFF_MAX_MS * 0.75), 'growing again after the grace period');
    assert.ok(after[after.length - 1].delay > 5000, 'then it backs off for real');
  }
});

test('without a token the backoff is the plain one (no grace cap)', () => {
  const t = setup();
  answer(t, welcome(5)); // no token
  assert.equal(t.store.get('r1'), '');
  const delays = [];
  for (let i = 0; i < 5; i++) {
    t.sockets[t.sockets.length - 1].serverClose(1006);
    delays.push(t.session.retryAt - t.time.t);
    t.time.advance(delays[i]);
    t.sockets[t.sockets.length - 1].open();
    assert.equal(joinOf(t.sockets[t.sockets.length - 1]).resume, '');
  }
  assert.deepEqual(delays, [250, 500, 1000, 2000, 4000]);
});

test('leaving clears the token (memory and sessionStorage): no resume afterwards', () => {
  const t = setup();
  const ws = answer(t, welcome(5, { resume_token: TOKEN_A }));
  assert.equal(t.storage.getItem('tickroom.resume.r1'), TOKEN_A);
  t.session.leave();
  assert.deepEqual(ws.sent[ws.sent.length - 1], { type: 'Leave' });
  assert.equal(t.store.get('r1'), '');
  assert.equal(t.storage.getItem('tickroom.resume.r1'), null);
  ws.serverClose(1000, 'bye');
  t.time.advance(60_000);
  assert.equal(t.sockets.length, 1, 'no reconnect');
  // A later session in the same room (the player joins again from the menu) is fresh.
  const again = setup({ storage: t.storage });
  again.sockets[0].open();
  assert.equal(joinOf(again.sockets[0]).resume, '');
});

for (const reason of ['invalid resume token', 'resume token for another room']) {
  test(`close 1008 "${reason}" drops the token and joins fresh at once`, () => {
    const t = setup();
    answer(t, welcome(5, { resume_token: TOKEN_A })).serverClose(1006);
    t.time.advance(t.session.retryAt - t.time.t);
    const refused = t.sockets[1];
    refused.open();
    assert.equal(joinOf(refused).resume, TOKEN_A);
    refused.serverClose(1008, reason);
    assert.equal(t.store.get('r1'), '', 'the token is gone');
    assert.equal(t.storage.getItem('tickroom.resume.r1'), null);
    assert.equal(t.session.state, 'reconnecting');
    assert.equal(t.session.retryAt, t.time.t, 'at once');
    t.time.advance(0);
    const fresh = answer(t, welcome(11, { resume_token: TOKEN_C }));
    assert.equal(joinOf(fresh).resume, '', 'a fresh join');
    assert.equal(t.session.state, 'connected');
    assert.equal(t.session.lastResumed, false);
    assert.deepEqual(t.welcomes[1].info, { attempted: false, continued: false });
    assert.equal(t.store.get('r1'), TOKEN_C);
  });
}

test('close 1000 "resumed on another connection" stops and drops the token', () => {
  const t = setup();
  answer(t, welcome(5, { resume_token: TOKEN_A })).serverClose(1000, 'resumed on another connection');
  assert.equal(t.session.state, 'closed');
  assert.match(t.session.closeInfo.message, /another/);
  assert.equal(t.store.get('r1'), '');
  t.time.advance(60_000);
  assert.equal(t.sockets.length, 1);
});

test('a page reload resumes with the token kept in sessionStorage', () => {
  const storage = new FakeStorage();
  const before = setup({ storage });
  answer(before, welcome(5, { resume_token: TOKEN_A }));
  // The page goes away without Leave; the new page has a new store over the same storage.
  const after = setup({ storage });
  const ws = after.sockets[0];
  ws.open();
  assert.equal(joinOf(ws).resume, TOKEN_A);
  ws.deliver(welcome(5, { resume_token: TOKEN_B, resumed: true }));
  assert.equal(after.session.lastResumed, true);
  assert.equal(after.session.resumes, 1);
  assert.deepEqual(after.welcomes[0].info, { attempted: true, continued: false }, 'a new page has no state to continue');
  assert.equal(storage.getItem('tickroom.resume.r1'), TOKEN_B);
  // A failed first attempt after the reload starts the grace clock: fast retries.
  const other = setup({ storage });
  other.sockets[0].open();
  other.sockets[0].serverClose(1006);
  assert.equal(other.session.droppedAt, other.time.t);
  assert.ok(other.session.canResume());
});

test('after a resume the input numbering continues from what the room last applied', () => {
  // A reloaded page starts from seq 0; the resumed player's frame says 500.
  const t = setup();
  const ws = t.sockets[0];
  ws.open();
  ws.deliver(welcome(5, { resumed: true }));
  ws.deliver(snapshot(41, [orb(5, 100)], 500));
  t.setInput(new Uint8Array([0, 0]));
  t.time.advance(40);
  const inputs = ws.sent.filter((m) => m.type === 'Input');
  assert.ok(inputs.length > 0, 'inputs are sent');
  assert.ok(inputs.at(-1).seq > 500, `continues above 500, sent ${inputs.map((i) => i.seq)}`);
  // A fresh join (not resumed) keeps its own numbering.
  const u = setup();
  const ws2 = u.sockets[0];
  ws2.open();
  ws2.deliver(welcome(5));
  ws2.deliver(snapshot(41, [orb(5, 100)], 500));
  u.setInput(new Uint8Array([0, 0]));
  u.time.advance(40);
  assert.ok(ws2.sent.filter((m) => m.type === 'Input').every((i) => i.seq < 500));
});

test('tokens are kept per room, and junk in storage is ignored', () => {
  const storage = new FakeStorage();
  const store = new ResumeStore(storage);
  store.set('a', TOKEN_A);
  store.set('b', TOKEN_B);
  assert.equal(store.get('a'), TOKEN_A);
  assert.equal(store.get('b'), TOKEN_B);
  store.delete('a');
  assert.equal(store.get('a'), '');
  assert.equal(store.get('b'), TOKEN_B);
  storage.setItem('tickroom.resume.long', 't'.repeat(MAX_TOKEN_BYTES + 1));
  storage.setItem('tickroom.resume.odd', 'tök en');
  storage.setItem('tickroom.resume.max', 't'.repeat(MAX_TOKEN_BYTES));
  const fresh = new ResumeStore(storage);
  assert.equal(fresh.get('long'), '');
  assert.equal(fresh.get('odd'), '');
  assert.equal(fresh.get('max'), 't'.repeat(MAX_TOKEN_BYTES));
  assert.equal(fresh.get('b'), TOKEN_B, 'read back from storage');
  // Blocked storage: memory only, no exceptions.
  const blocked = new ResumeStore(new FakeStorage({ broken: true }));
  assert.equal(blocked.get('a'), '');
  blocked.set('a', TOKEN_A);
  assert.equal(blocked.get('a'), TOKEN_A);
  blocked.delete('a');
  assert.equal(blocked.get('a'), '');
  const none = new ResumeStore(null);
  none.set('a', TOKEN_A);
  assert.equal(none.get('a'), TOKEN_A);
});

test('closePolicy: which closes resume, which join fresh, which stop', () => {
  assert.equal(closePolicy(1006).action, 'reconnect');
  assert.equal(closePolicy(1000, 'bye').action, 'reconnect');
  assert.equal(closePolicy(1008, 'too slow').action, 'reconnect');
  assert.equal(closePolicy(1008, 'invalid resume token').action, 'fresh');
  assert.equal(closePolicy(1008, 'invalid resume token').dropToken, true);
  assert.equal(closePolicy(1008, 'resume token for another room').action, 'fresh');
  assert.equal(closePolicy(1008, 'invalid ticket').action, 'stop');
  assert.equal(closePolicy(1000, 'resumed on another connection').action, 'stop');
  for (const code of [1002, 1003, 1007, 1009, 1013]) assert.equal(closePolicy(code).action, 'stop', `${code}`);
  assert.equal(closePolicy(1001).action, 'now');
});

// --- Cluster ----------------------------------------------------------------

const CLUSTER = {
  node: 'a',
  mode: 'static',
  members: [
    { id: 'a', url: 'ws://a.test:8080', state: 'up', rooms: 1 },
    { id: 'b', url: 'ws://b.test:8081', state: 'up', rooms: 2 },
  ],
};

/** A fetch stand-in answering `answer()` (an object for JSON, an Error to throw), recording the URLs asked. */
function fakeFetch(answer = () => CLUSTER) {
  const calls = [];
  const fetchImpl = async (url) => {
    calls.push(url);
    const a = answer();
    if (a instanceof Error) throw a;
    if (typeof a === 'number') return { ok: false, status: a, json: async () => ({}) };
    return { ok: true, status: 200, json: async () => a };
  };
  return { calls, fetchImpl };
}

/** Lets pending promises (the fake fetch) settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test('redirectNode reads node=<id> with a valid id only', () => {
  assert.equal(redirectNode('node=b'), 'b');
  assert.equal(redirectNode('node=eu-1_a.z'), 'eu-1_a.z');
  assert.equal(redirectNode(`node=${'x'.repeat(64)}`), 'x'.repeat(64));
  for (const bad of ['', 'node=', 'node', 'room lives elsewhere', ' node=b', 'node=b c', 'node=b/c', 'node=é', `node=${'x'.repeat(65)}`, undefined, null]) {
    assert.equal(redirectNode(bad), null, String(bad));
  }
});

test('clusterUrlOf and memberWsUrl build the URLs of a follow', () => {
  assert.equal(clusterUrlOf('ws://game.test:8080/ws?room=r1'), 'http://game.test:8080/cluster');
  assert.equal(clusterUrlOf('wss://game.test/ws?room=r1'), 'https://game.test/cluster');
  assert.equal(memberWsUrl(CLUSTER, 'b', '?room=r%201'), 'ws://b.test:8081/ws?room=r%201');
  assert.equal(memberWsUrl({ members: [{ id: 'c', url: 'wss://c.test/base/' }] }, 'c', '?room=x'), 'wss://c.test/base/ws?room=x');
  assert.equal(memberWsUrl(CLUSTER, 'z', '?room=x'), null, 'not a member');
  for (const cluster of [null, {}, { members: {} }, { members: [null, { id: 'b' }] }, { members: [{ id: 'b', url: 'http://b.test' }] }, { members: [{ id: 'b', url: 'ws://b.test/?x=1' }] }, { members: [{ id: 'b', url: 42 }] }]) {
    assert.equal(memberWsUrl(cluster, 'b', '?room=x'), null, JSON.stringify(cluster));
  }
});

test('closePolicy: the cluster closes', () => {
  assert.deepEqual(
    [closePolicy(4001, 'node=b').action, closePolicy(4001, 'node=b').node, closePolicy(4001, 'node=b').hop],
    ['follow', 'b', true],
  );
  assert.equal(closePolicy(4001, 'room lives elsewhere').action, 'now');
  assert.equal(closePolicy(4001, 'room lives elsewhere').hop, true);
  assert.equal(closePolicy(4001, 'node=').action, 'now');
  assert.equal(closePolicy(1001, 'draining: rejoin through the matchmaker').action, 'now');
  assert.equal(closePolicy(1001, 'draining: rejoin through the matchmaker').hop, true);
  assert.equal(closePolicy(1001, 'going away').hop, undefined, 'a plain 1001 is not capped');
  assert.equal(closePolicy(1013, 'cluster unavailable').action, 'reconnect');
  assert.equal(closePolicy(1013, 'room full').action, 'stop');
  assert.equal(closePolicy(4000, 'resync').stay, true);
  assert.equal(closePolicy(1006).stay, undefined);
});

test('4001 node=<id> fetches the entry\'s /cluster and connects to that member at once, keeping the token', async () => {
  const f = fakeFetch();
  const t = setup({ url: 'ws://a.test:8080/ws?room=r1', fetchImpl: f.fetchImpl });
  const first = connect(t);
  t.store.set('r1', 'TOKEN1');
  first.serverClose(1006);
  t.time.advance(t.session.retryAt - t.time.t);
  const atEntry = t.sockets[1];
  assert.equal(atEntry.url, 'ws://a.test:8080/ws?room=r1');
  atEntry.open();
  atEntry.serverClose(4001, 'node=b');
  assert.equal(t.session.state, 'reconnecting');
  assert.equal(t.session.closeInfo.message, 'This room is on server b — moving there');
  await settle();
  assert.deepEqual(f.calls, ['http://a.test:8080/cluster']);
  assert.equal(t.sockets.length, 3, 'at once, no timer');
  const atOwner = t.sockets[2];
  assert.equal(atOwner.url, 'ws://b.test:8081/ws?room=r1');
  atOwner.open();
  assert.equal(atOwner.sent[0].resume, 'TOKEN1', 'the token went along');
  atOwner.deliver(welcome(5, { resumed: true, resume_token: 'TOKEN2' }));
  assert.equal(t.session.state, 'connected');
  assert.equal(t.session.redirects, 1);
  assert.equal(t.session.follows, 0);
  // A resync stays on the owner; a lost owner goes back through the entry.
  t.session.resync();
  t.time.advance(0);
  assert.equal(t.sockets[3].url, 'ws://b.test:8081/ws?room=r1');
  connect(t);
  t.sockets[3].serverClose(1006);
  assert.ok(t.session.retryAt > t.time.t, 'with the backoff');
  t.time.advance(t.session.retryAt - t.time.t);
  assert.equal(t.sockets[4].url, 'ws://a.test:8080/ws?room=r1');
});

test('1001 draining on a member rejoins through the page\'s own server at once', async () => {
  const f = fakeFetch();
  const t = setup({ url: 'ws://a.test:8080/ws?room=r1', fetchImpl: f.fetchImpl });
  t.sockets[0].open();
  t.sockets[0].serverClose(4001, 'node=b');
  await settle();
  connect(t);
  assert.equal(t.sockets[1].url, 'ws://b.test:8081/ws?room=r1');
  t.sockets[1].serverClose(1001, 'draining: rejoin through the matchmaker');
  assert.equal(t.session.state, 'reconnecting');
  assert.equal(t.session.retryAt, t.time.t);
  t.time.advance(0);
  assert.equal(t.sockets.length, 3);
  assert.equal(t.sockets[2].url, 'ws://a.test:8080/ws?room=r1');
});

test('another 4001 reconnects through the entry at once', async () => {
  const f = fakeFetch();
  const t = setup({ url: 'ws://a.test:8080/ws?room=r1', fetchImpl: f.fetchImpl });
  t.sockets[0].open();
  t.sockets[0].serverClose(4001, 'node=b');
  await settle();
  connect(t);
  t.sockets[1].serverClose(4001, 'room lives elsewhere');
  assert.equal(t.session.retryAt, t.time.t);
  t.time.advance(0);
  assert.equal(t.sockets[2].url, 'ws://a.test:8080/ws?room=r1');
  assert.equal(f.calls.length, 1, 'no lookup');
});

test(`at most ${MAX_FOLLOWS} follows in a row without a Welcome, then the backoff through the entry`, async () => {
  const f = fakeFetch();
  const t = setup({ url: 'ws://a.test:8080/ws?room=r1', fetchImpl: f.fetchImpl });
  for (let i = 0; i < MAX_FOLLOWS; i++) {
    const ws = t.sockets[t.sockets.length - 1];
    ws.open();
    ws.serverClose(4001, 'node=b');
    await settle();
    assert.equal(t.sockets.length, i + 2, `follow ${i + 1} at once`);
  }
  t.sockets[t.sockets.length - 1].open();
  t.sockets[t.sockets.length - 1].serverClose(4001, 'node=b');
  await settle();
  assert.equal(f.calls.length, MAX_FOLLOWS, 'no lookup past the cap');
  assert.equal(t.sockets.length, MAX_FOLLOWS + 1, 'waiting');
  assert.ok(t.session.retryAt > t.time.t, 'backoff');
  t.time.advance(t.session.retryAt - t.time.t);
  assert.equal(t.sockets[MAX_FOLLOWS + 1].url, 'ws://a.test:8080/ws?room=r1', 'through the entry');
  // The count starts over: the next redirect is followed again.
  t.sockets[MAX_FOLLOWS + 1].open();
  t.sockets[MAX_FOLLOWS + 1].serverClose(4001, 'node=b');
  await settle();
  assert.equal(t.sockets[MAX_FOLLOWS + 2].url, 'ws://b.test:8081/ws?room=r1');
  assert.equal(t.session.redirects, MAX_FOLLOWS + 1);
});

test('a draining entry rejoins at once, but not forever', () => {
  const t = setup();
  connect(t);
  const delays = [];
  for (let i = 0; i <= MAX_FOLLOWS; i++) {
    t.sockets[t.sockets.length - 1].serverClose(1001, 'draining: rejoin through the matchmaker');
    delays.push(t.session.retryAt - t.time.t);
    t.time.advance(delays[i]);
  }
  assert.deepEqual(delays.slice(0, MAX_FOLLOWS), Array(MAX_FOLLOWS).fill(0));
  assert.ok(delays[MAX_FOLLOWS] > 0);
});

for (const [what, answer] of [['an unknown member', () => CLUSTER], ['a failed lookup', () => new Error('offline')], ['an error status', () => 503], ['no JSON', () => ({ nope: true })]]) {
  test(`4001 naming a node that cannot be found (${what}) goes back to the entry after the backoff`, async () => {
    const f = fakeFetch(answer);
    const t = setup({ url: 'ws://a.test:8080/ws?room=r1', fetchImpl: f.fetchImpl });
    t.sockets[0].open();
    t.sockets[0].serverClose(4001, 'node=zz');
    await settle();
    assert.equal(f.calls.length, 1);
    assert.equal(t.sockets.length, 1);
    assert.equal(t.session.state, 'reconnecting');
    assert.ok(t.session.retryAt > t.time.t);
    assert.match(t.session.closeInfo.message, /zz/);
    t.time.advance(t.session.retryAt - t.time.t);
    assert.equal(t.sockets[1].url, 'ws://a.test:8080/ws?room=r1');
    assert.equal(t.session.redirects, 0);
  });
}

test('a follow answered after the player left (or retried) is ignored', async () => {
  const f = fakeFetch();
  const t = setup({ fetchImpl: f.fetchImpl });
  t.sockets[0].open();
  t.sockets[0].serverClose(4001, 'node=b');
  t.session.leave();
  await settle();
  assert.equal(t.sockets.length, 1);
  assert.equal(t.session.state, 'left');

  const u = setup({ fetchImpl: f.fetchImpl });
  u.sockets[0].open();
  u.sockets[0].serverClose(4001, 'node=b');
  u.session.retryNow();
  await settle();
  assert.equal(u.sockets.length, 2, 'only the retry');
  assert.equal(u.sockets[1].url, 'ws://test/ws?room=r1');
});

test('retryNow after leave() opens nothing: the player left for good', () => {
  const time = new FakeTime();
  const { sockets, FakeWebSocket } = fakeSockets();
  const session = new Session({ url: 'ws://h/ws?room=r1', room: 'r1', WebSocketImpl: FakeWebSocket, timers: time, now: () => time.t, resumeStore: new ResumeStore(null) }).start();
  sockets[0].open();
  session.leave();
  assert.equal(session.state, 'left');
  session.retryNow();
  time.advance(60_000);
  assert.equal(sockets.length, 1);
  assert.equal(session.state, 'left');
});
