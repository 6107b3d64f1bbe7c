// Tests of the client's session logic (assets/net.js) with a fake WebSocket
// and fake timers: joining, 30 Hz inputs, pings, and what happens on every
// kind of close (backoff with jitter and cap, immediate reconnect on 1001,
// stopping with a reason on protocol violations, "room full" on 1013).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { BACKOFF_MAX_MS, Session, backoffDelay, closePolicy } from '../net.js';
import { decodeClient, encodeServer } from '../protocol.js';

/** Timers that run only when the test advances the fake clock. */
class FakeTime {
  constructor() {
    this.t = 0;
    this.next = 1;
    this.jobs = new Map(); // id -> { at, fn, every }
  }
  setTimeout(fn, ms) {
    const id = this.next++;
    this.jobs.set(id, { at: this.t + ms, fn, every: null });
    return id;
  }
  setInterval(fn, ms) {
    const id = this.next++;
    this.jobs.set(id, { at: this.t + ms, fn, every: ms });
    return id;
  }
  clearTimeout(id) { this.jobs.delete(id); }
  clearInterval(id) { this.jobs.delete(id); }
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let id = null;
      let job = null;
      for (const [i, j] of this.jobs) if (j.at <= end && (!job || j.at < job.at)) [id, job] = [i, j];
      if (!job) break;
      this.t = job.at;
      if (job.every === null) this.jobs.delete(id);
      else job.at += job.every;
      job.fn();
    }
    this.t = end;
  }
}

/** Records every socket the session opens; the test plays the server. */
function fakeSockets() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedWith = null;
      sockets.push(this);
    }
    send(bytes) { this.sent.push(decodeClient(bytes)); }
    close(code, reason) { this.closedWith = { code, reason }; this.readyState = 3; }
    // Server side:
    open() { this.readyState = 1; this.onopen?.(); }
    deliver(msg) { this.onmessage?.({ data: encodeServer(msg).buffer }); }
    serverClose(code, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
  }
  return { sockets, FakeWebSocket };
}

const ARENA = { width: 1600, height: 1000, player_radius: 18, pellet_radius: 6, accel: 1400, max_speed: 320, friction: 0.05 };
const welcome = (id = 5) => ({ type: 'Welcome', version: 1, player_id: id, room: 'r1', tick_rate_hz: 20, tick: 40, arena: ARENA });
const snapshot = (tick) => ({ type: 'Snapshot', tick, players: [], pellets: null, roster: null });

function setup(overrides = {}) {
  const time = new FakeTime();
  const { sockets, FakeWebSocket } = fakeSockets();
  const states = [];
  let steer = [0, 0];
  const session = new Session({
    url: 'ws://test/ws?room=r1',
    name: 'tester',
    room: 'r1',
    WebSocketImpl: FakeWebSocket,
    timers: time,
    now: () => time.t,
    random: () => 0.5, // no jitter unless a test says otherwise
    steer: () => steer,
    onState: (s) => states.push(s.state),
    ...overrides,
  }).start();
  return { time, sockets, session, states, setSteer: (s) => (steer = s) };
}

function connect(t) {
  const ws = t.sockets[t.sockets.length - 1];
  ws.open();
  ws.deliver(welcome());
  return ws;
}

test('joins, then sends inputs at 30 Hz with increasing seq and the newest tick, and pings every second', () => {
  const t = setup();
  const ws = t.sockets[0];
  assert.equal(ws.url, 'ws://test/ws?room=r1');
  assert.equal(t.session.state, 'connecting');
  ws.open();
  assert.deepEqual(ws.sent, [{ type: 'Join', version: 1, name: 'tester' }]);
  assert.equal(t.session.state, 'joining');
  ws.deliver(welcome());
  assert.equal(t.session.state, 'connected');
  ws.deliver(snapshot(41));
  t.setSteer([127, -3]);
  t.time.advance(1000);
  const inputs = ws.sent.filter((m) => m.type === 'Input');
  assert.ok(inputs.length >= 29 && inputs.length <= 30, `${inputs.length} inputs in a second`);
  inputs.forEach((m, i) => {
    assert.equal(m.seq, i + 1);
    assert.equal(m.ack_tick, 41);
    assert.deepEqual(m.steer, [127, -3]);
  });
  const pings = ws.sent.filter((m) => m.type === 'Ping');
  assert.equal(pings.length, 2, 'one at once, one a second later');
  t.time.advance(20);
  ws.deliver({ type: 'Pong', nonce: pings[1].nonce, tick: 60 });
  assert.equal(t.session.rtt, 20);
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

for (const code of [1002, 1003, 1007, 1008, 1009]) {
  test(`close ${code} stops and tells the player why`, () => {
    const t = setup();
    connect(t);
    t.sockets[0].serverClose(code, 'rate limit exceeded');
    assert.equal(t.session.state, 'closed');
    assert.equal(t.session.closeInfo.code, code);
    assert.ok(t.session.closeInfo.message.length > 10);
    if (code === 1008) assert.match(t.session.closeInfo.message, /rate limit exceeded/);
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
