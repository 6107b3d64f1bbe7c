// Tests of the package's top layer without a browser or a server: RoomClient
// (joining with a ticket or a room id, reconnecting through the entry with
// the resume token alone, prediction with the arena's rules, with another
// game's model or none, interpolation of the others, what view() draws) on
// the fake WebSocket and manual clock of fakes.mjs, and the matchmaker calls
// on a fake fetch. The real thing — the packed package against a real
// server in a real browser — is tests/e2e/client_package.rs.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RoomClient, arenaPrediction, stepRate } from '../src/client.js';
import { RoomApiError, joinTicket, matchmake, ticketUrls } from '../src/matchmaker.js';
import { PROTOCOL_VERSION, QUANT_SCALE } from '../src/protocol.js';
import { ResumeStore, roomWsUrl } from '../src/session.js';
import { FakeTime, fakeSockets } from './fakes.mjs';

const ARENA = { width: 1600, height: 1000, player_radius: 18, pellet_radius: 6, accel: 1400, max_speed: 320, friction: 0.05 };
const welcome = (id, extra = {}) => ({
  type: 'Welcome',
  version: PROTOCOL_VERSION,
  player_id: id,
  room: 'r-1',
  tick_rate_hz: 20,
  sim_rate_hz: 20,
  tick: 100,
  arena: ARENA,
  resume_token: `token-${id}`,
  resumed: false,
  ...extra,
});
const q = (v) => Math.round(v * QUANT_SCALE);
const player = (id, x, y, seq = 0, score = 0) => ({ id, pos: [q(x), q(y)], vel: [0, 0], score, last_input_seq: seq });
const snapshot = (tick, players, names = {}) => ({
  type: 'Snapshot',
  tick,
  players,
  pellets: [],
  roster: players.map((p) => ({ id: p.id, name: names[p.id] ?? `p${p.id}` })),
});
const TICKET = {
  room: 'r-1',
  ws_url: 'wss://play.example.com/n/b/ws?room=r-1&ticket=T0K3N',
  ticket: 'T0K3N',
  expires_in: 30,
};

function harness(opts = {}) {
  const time = new FakeTime();
  const { sockets, FakeWebSocket } = fakeSockets();
  let steer = [0, 0];
  const seen = { frames: [], welcomes: [], states: [] };
  const client = new RoomClient({
    server: 'https://play.example.com',
    ticket: TICKET,
    name: 'ada',
    steer: () => steer,
    WebSocketImpl: FakeWebSocket,
    timers: time,
    now: () => time.t,
    random: () => 0.5,
    resumeStore: new ResumeStore(null),
    fetchImpl: async () => ({ ok: false, json: async () => ({}) }),
    onFrame: (frame) => seen.frames.push({ frame, own: client.view(time.t)?.players.find((p) => p.own) ?? null }),
    onWelcome: (msg, info) => seen.welcomes.push({ msg, info }),
    onState: (c) => seen.states.push(c.state),
    ...opts,
  });
  return { time, sockets, client, seen, setSteer: (s) => (steer = s) };
}

test('a ticket connects to the node it names, with the credential, until a Welcome spends it', () => {
  const h = harness();
  h.client.start();
  assert.equal(h.sockets.length, 1);
  const first = new URL(h.sockets[0].url);
  assert.equal(`${first.origin}${first.pathname}`, 'wss://play.example.com/n/b/ws', 'the owner named by ws_url');
  assert.equal(first.searchParams.get('room'), 'r-1');
  assert.equal(first.searchParams.get('ticket'), 'T0K3N');
  h.sockets[0].open();
  assert.deepEqual(h.sockets[0].sent[0], { type: 'Join', version: PROTOCOL_VERSION, name: 'ada', resume: '' });
  h.sockets[0].deliver(welcome(7));
  assert.equal(h.client.state, 'connected');
  assert.equal(h.client.playerId, 7);
  assert.equal(h.client.room, 'r-1');
  // The connection drops: back through the entry, resume token, no ticket.
  h.sockets[0].serverClose(1006);
  assert.equal(h.client.state, 'reconnecting');
  h.time.advance(2_000);
  assert.equal(h.sockets.length, 2);
  assert.equal(h.sockets[1].url, 'wss://play.example.com/ws?room=r-1', 'the entry, without the spent ticket');
  h.sockets[1].open();
  assert.deepEqual(h.sockets[1].sent[0], { type: 'Join', version: PROTOCOL_VERSION, name: 'ada', resume: 'token-7' });
});

test('an unspent ticket goes along on a retry, a refused one stops the client', () => {
  const h = harness();
  h.client.start();
  h.sockets[0].serverClose(1006); // never reached the server
  h.time.advance(2_000);
  assert.equal(new URL(h.sockets[1].url).searchParams.get('ticket'), 'T0K3N');
  h.sockets[1].serverClose(1008, 'ticket expired');
  assert.equal(h.client.state, 'closed');
  assert.match(h.client.closeInfo.message, /ticket expired/);
  h.time.advance(60_000);
  assert.equal(h.sockets.length, 2, 'no retry with a refused ticket');
});

test('frames feed the prediction of the own player and the interpolation of the others', () => {
  const h = harness();
  h.client.start();
  h.sockets[0].open();
  h.sockets[0].deliver(welcome(7));
  assert.equal(h.client.view(h.time.t).players.length, 0, 'nothing to draw before a frame');
  h.setSteer([1, 0]);
  for (let i = 0; i <= 12; i++) {
    const tick = 100 + i;
    // The server moves the own player right from tick 102 on, the other one down.
    const ownX = 400 + Math.max(0, i - 2) * 10;
    h.sockets[0].deliver(snapshot(tick, [player(7, ownX, 300, Math.max(0, i - 1), i), player(9, 800, 200 + i * 5)], { 7: 'ada', 9: 'bob' }));
    h.time.advance(50);
  }
  const sentInputs = h.sockets[0].sent.filter((m) => m.type === 'Input');
  assert.ok(sentInputs.length >= 15, `inputs at 30 Hz, got ${sentInputs.length}`);
  assert.deepEqual(sentInputs.at(-1).steer, [127, 0], 'steer [1, 0] quantized to the wire');
  const g = h.client.game;
  assert.equal(g.frames, 13);
  assert.equal(g.tick, 112);
  assert.equal(g.names.get(9), 'bob');
  assert.equal(g.scores.get(7), 12);
  const view = h.client.view(h.time.t);
  assert.equal(view.tick, 112);
  assert.equal(view.arena.width, 1600, 'the arena of the Welcome');
  const own = view.players.find((p) => p.own);
  const other = view.players.find((p) => !p.own);
  assert.equal(view.players.length, 2);
  assert.equal(own.id, 7);
  assert.equal(own.name, 'ada');
  assert.equal(own.score, 12);
  // Predicted: ahead of the newest frame (x 500) in the steering direction,
  // drawn where the predictor says (with its decaying correction).
  const pred = g.predictor;
  assert.ok(pred.state.x > 500, `own player predicted ahead of the frames, at ${pred.state.x}`);
  assert.equal(pred.state.y, 300, 'steering right keeps y');
  assert.deepEqual({ x: own.x, y: own.y }, pred.renderPos(h.time.t));
  // Interpolated: drawn ~100 ms behind the newest frame, between two frames.
  assert.equal(other.id, 9);
  assert.equal(other.name, 'bob');
  assert.equal(other.x, 800);
  assert.ok(other.y < 200 + 12 * 5 && other.y > 200 + 8 * 5, `bob between recent frames, at ${other.y}`);
  // onFrame ran after the client took the frame in.
  assert.equal(h.seen.frames.length, 13);
  assert.equal(h.seen.frames.at(-1).frame.tick, 112);
  assert.equal(h.seen.frames.at(-1).own.id, 7);
});

test('a resume keeps the game, a fresh Welcome starts a new one', () => {
  const h = harness();
  h.client.start();
  h.sockets[0].open();
  h.sockets[0].deliver(welcome(7));
  h.sockets[0].deliver(snapshot(100, [player(7, 400, 300)]));
  const before = h.client.game;
  h.sockets[0].serverClose(1006);
  h.time.advance(2_000);
  h.sockets[1].open();
  h.sockets[1].deliver(welcome(7, { resumed: true, tick: 140 }));
  assert.equal(h.client.game, before, 'the same player: the same game');
  assert.equal(before.tick, 140);
  assert.deepEqual(h.seen.welcomes.map((w) => w.info.continued), [false, true]);
  h.sockets[1].serverClose(1006);
  h.time.advance(2_000);
  h.sockets[2].open();
  h.sockets[2].deliver(welcome(8, { resumed: false, tick: 400 }));
  assert.notEqual(h.client.game, before, 'another player: a new game');
  assert.equal(h.client.playerId, 8);
  assert.equal(h.client.game.frames, 0);
  assert.equal(h.seen.welcomes.at(-1).info.continued, false);
});

test("another game's model predicts with its own rules, and no model draws the own player from the frames", () => {
  // A game whose server moves a player 2 units a step along the steer, no velocity.
  const calls = [];
  const gridModel = (w, rate) => {
    calls.push([w.room, rate]);
    return { stepMs: 1000 / rate, step: (s, sx, sy) => ({ ...s, x: s.x + 2 * Math.sign(sx), y: s.y + 2 * Math.sign(sy) }) };
  };
  const h = harness({ model: gridModel });
  h.client.start();
  h.sockets[0].open();
  h.sockets[0].deliver(welcome(7, { sim_rate_hz: 60 }));
  assert.deepEqual(calls, [['r-1', 60]], 'the model gets the Welcome and its step rate');
  assert.equal(h.client.game.predictor.stepsPerFrame, 3);
  h.setSteer([0, 1]);
  h.sockets[0].deliver(snapshot(100, [player(7, 400, 300)]));
  h.time.advance(100); // three inputs sent, six 60 Hz steps passed
  h.sockets[0].deliver(snapshot(101, [player(7, 400, 300, 1)]));
  h.client.advance(h.time.t);
  const own = h.client.view(h.time.t).players.find((p) => p.own);
  assert.equal(own.x, 400);
  assert.ok(own.y >= 302, `predicted down the grid from 300, at ${own.y}`);
  assert.equal((own.y - 300) % 2, 0, `whole grid steps plus no correction, at ${own.y}`);

  const none = harness({ model: null });
  none.client.start();
  none.sockets[0].open();
  none.sockets[0].deliver(welcome(7));
  assert.equal(none.client.game.predictor, null);
  for (let i = 0; i < 6; i++) {
    none.sockets[0].deliver(snapshot(100 + i, [player(7, 400 + 10 * i, 300)]));
    none.time.advance(50);
  }
  const drawn = none.client.view(none.time.t).players.find((p) => p.own);
  assert.ok(drawn.x > 400 && drawn.x < 450, `interpolated like everyone else, at ${drawn.x}`);
});

test('constructor errors name what is missing', () => {
  assert.throws(() => new RoomClient({ room: 'x' }), /`server`/);
  assert.throws(() => new RoomClient({ server: 'http://h' }), /`ticket` or a `room`/);
  assert.throws(() => new RoomClient({ server: 'http://h', room: 'x', model: {} }), /`model` is a function/);
  assert.throws(() => new RoomClient({ server: 'http://h', ticket: { room: 'x' } }), /not a Ticket/);
});

test('a room id without a ticket joins through the entry', () => {
  const h = harness({ ticket: null, room: 'lobby', server: 'http://localhost:8080/' });
  h.client.start();
  assert.equal(h.sockets[0].url, 'ws://localhost:8080/ws?room=lobby');
});

test('helpers: step rate, entry URLs, ticket URLs', () => {
  assert.equal(stepRate({ tick_rate_hz: 20, sim_rate_hz: 60 }), 60);
  assert.equal(stepRate({ tick_rate_hz: 20, sim_rate_hz: 50 }), 20, 'not a multiple: one step per frame');
  assert.equal(stepRate({ tick_rate_hz: 20 }), 20, 'a server without sub-steps');
  assert.equal(arenaPrediction(welcome(1), 20).stepMs, 50);
  assert.equal(roomWsUrl('https://h.example/game/', 'a b'), 'wss://h.example/game/ws?room=a%20b');
  assert.equal(roomWsUrl('http://h:81', 'r'), 'ws://h:81/ws?room=r');
  assert.deepEqual(ticketUrls(TICKET, 'https://play.example.com'), {
    room: 'r-1',
    ticket: 'T0K3N',
    target: 'wss://play.example.com/n/b/ws?room=r-1',
  });
  // A server without a usable Host header answers a relative ws_url.
  assert.deepEqual(ticketUrls({ room: 'r', ws_url: '/ws?room=r&ticket=X', ticket: 'X' }, 'https://h.example'), {
    room: 'r',
    ticket: 'X',
    target: 'wss://h.example/ws?room=r',
  });
});

/** A fetch that records its calls and answers `status` with `body`. */
function fakeFetch(status, body) {
  const calls = [];
  const impl = async (url, init) => {
    calls.push({ url, init });
    return { ok: status >= 200 && status < 300, status, json: async () => (typeof body === 'string' ? JSON.parse(body) : body) };
  };
  return { calls, impl };
}

test('matchmake and joinTicket post to the room API and answer its Ticket', async () => {
  const f = fakeFetch(200, TICKET);
  const t = await matchmake('https://play.example.com/', { metadata: { mode: 'duel' }, token: 's3cret', fetchImpl: f.impl });
  assert.deepEqual(t, TICKET);
  assert.equal(f.calls[0].url, 'https://play.example.com/matchmake');
  assert.equal(f.calls[0].init.method, 'POST');
  assert.equal(f.calls[0].init.headers.authorization, 'Bearer s3cret');
  assert.deepEqual(JSON.parse(f.calls[0].init.body), { metadata: { mode: 'duel' } });
  await joinTicket('http://h:8080/base', 'arena 7', { fetchImpl: f.impl });
  assert.equal(f.calls[1].url, 'http://h:8080/base/rooms/arena%207/join');
  assert.equal(f.calls[1].init.headers.authorization, undefined, 'no token, no header');
  assert.deepEqual(JSON.parse(f.calls[1].init.body), {});
});

test("the room API's errors come back as RoomApiError with its code", async () => {
  const refused = fakeFetch(503, { code: 'too_many_rooms', message: 'this node runs its maximum of rooms' });
  await assert.rejects(matchmake('http://h', { fetchImpl: refused.impl }), (e) => {
    assert.ok(e instanceof RoomApiError);
    assert.equal(e.status, 503);
    assert.equal(e.code, 'too_many_rooms');
    assert.equal(e.serverMessage, 'this node runs its maximum of rooms');
    return true;
  });
  const notJson = { impl: async () => ({ ok: false, status: 502, json: async () => { throw new SyntaxError('x'); } }) };
  await assert.rejects(matchmake('http://h', { fetchImpl: notJson.impl }), { code: 'http_error', status: 502 });
  const down = { impl: async () => { throw new TypeError('fetch failed'); } };
  await assert.rejects(matchmake('http://h', { fetchImpl: down.impl }), { code: 'unreachable', status: 0 });
  const odd = fakeFetch(200, { hello: 1 });
  await assert.rejects(matchmake('http://h', { fetchImpl: odd.impl }), { code: 'bad_response' });
  await assert.rejects(matchmake('ws://h', { fetchImpl: odd.impl }), TypeError);
});
