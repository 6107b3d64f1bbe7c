// Tests of the package's top layer without a browser or a server: RoomClient
// (joining with a ticket or a room id, reconnecting through the entry with
// the resume token alone, inputs from the game's input object, prediction
// with the game's model (the arena's, another game's, or none),
// interpolation of everything else, events by name, what view() draws) on
// the fake WebSocket and manual clock of fakes.mjs, and the matchmaker calls
// on a fake fetch. The real thing — the packed package against a real
// server in a real browser — is tests/e2e/client_package.rs.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RoomClient, stepRate, welcomeConfig } from '../src/client.js';
import { RoomApiError, joinTicket, matchmake, ticketUrls } from '../src/matchmaker.js';
import { PROTOCOL_VERSION } from '../src/protocol.js';
import { decodeInput, encodeEvent } from '../src/replica.js';
import { ResumeStore, roomWsUrl } from '../src/session.js';
import { decodeSchema, encodeSchema } from '../src/state.js';
import { ARENA, ARENA_SCHEMA, FakeFrames, FakeTime, arenaFrame, arenaWelcome, fakeSockets, orb } from './fakes.mjs';
import { arenaModel, steerInput } from '../../../assets/arena.js';

const welcome = (id, extra = {}) => arenaWelcome(id, { room: 'r-1', tick: 100, resume_token: `token-${id}`, ...extra });
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
  const seen = { frames: [], welcomes: [], states: [], events: [] };
  const client = new RoomClient({
    server: 'https://play.example.com',
    ticket: TICKET,
    name: 'ada',
    input: () => steerInput(...steer),
    model: arenaModel,
    WebSocketImpl: FakeWebSocket,
    timers: time,
    now: () => time.t,
    random: () => 0.5,
    resumeStore: new ResumeStore(null),
    fetchImpl: async () => ({ ok: false, json: async () => ({}) }),
    onFrame: (frame, now, info) => seen.frames.push({ frame, info, own: client.view(time.t)?.own ?? null }),
    onWelcome: (msg, info) => seen.welcomes.push({ msg, info }),
    onState: (c) => seen.states.push(c.state),
    onEvent: (event, info) => seen.events.push({ event, tick: info.tick }),
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
  assert.equal(h.client.game.name, 'arena');
  assert.deepEqual(h.client.game.config, ARENA, 'the room\'s config, parsed');
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

test('frames feed the prediction of the own entity and the interpolation of the others; inputs go out encoded', () => {
  const h = harness();
  h.client.start();
  h.sockets[0].open();
  h.sockets[0].deliver(welcome(7));
  assert.deepEqual(h.client.view(h.time.t), { tick: 100, entities: [], own: null }, 'nothing to draw before a frame');
  h.setSteer([1, 0]);
  const server = new FakeFrames();
  for (let i = 0; i <= 12; i++) {
    const tick = 100 + i;
    // The server moves the own orb right from tick 102 on, the other one down.
    const ownX = 400 + Math.max(0, i - 2) * 10;
    const frame = arenaFrame(tick, [orb(7, ownX, 300, { score: i, name: 'ada' }), orb(9, 800, 200 + i * 5, { name: 'bob' })], [{ entity: 3, slot: 0, x: 50, y: 60 }]);
    h.sockets[0].deliver(server.state(frame, { ack: Math.max(0, i - 1) }));
    h.time.advance(50);
  }
  const sentInputs = h.sockets[0].sent.filter((m) => m.type === 'Input');
  assert.ok(sentInputs.length >= 15, `inputs at 30 Hz, got ${sentInputs.length}`);
  assert.deepEqual(decodeInput(ARENA_SCHEMA, sentInputs.at(-1).data), { x: 127, y: 0 }, 'the steer object, encoded by the schema');
  const g = h.client.game;
  assert.equal(g.frames, 13);
  assert.equal(g.tick, 112);
  assert.equal(g.ownEntity, 1007, 'the entity whose player is ours');
  assert.equal(g.ackSeq, 11);
  assert.deepEqual([...h.client.playersSeen].sort(), [7, 9]);
  assert.equal(h.client.frame.tick, 112);
  const view = h.client.view(h.time.t);
  assert.equal(view.tick, 112);
  assert.deepEqual(view.entities.map((e) => [e.id, e.own]), [[3, false], [1007, true], [1009, false]], 'by ascending id');
  const own = view.own;
  assert.equal(own, view.entities[1]);
  assert.equal(own.components.player.name, 'ada');
  assert.equal(own.components.score.points, 12);
  // Predicted: ahead of the newest frame (x 500) in the steering direction,
  // drawn where the predictor says (with its decaying correction).
  const pred = g.predictor;
  assert.ok(pred.state.pos.x > 500, `own orb predicted ahead of the frames, at ${pred.state.pos.x}`);
  assert.equal(pred.state.pos.y, 300, 'steering right keeps y');
  assert.deepEqual(own.components, pred.render(h.time.t));
  // Interpolated: drawn ~100 ms behind the newest frame, between two frames.
  const other = view.entities[2].components;
  assert.equal(other.player.name, 'bob');
  assert.equal(other.pos.x, 800);
  assert.ok(other.pos.y < 200 + 12 * 5 && other.pos.y > 200 + 8 * 5, `bob between recent frames, at ${other.pos.y}`);
  // onFrame ran after the client took the frame in.
  assert.equal(h.seen.frames.length, 13);
  assert.equal(h.seen.frames.at(-1).frame.tick, 112);
  assert.equal(h.seen.frames.at(-1).own.id, 1007);
  assert.equal(h.seen.frames.at(-1).info.ackSeq, 11);
});

test('`latest` entities are drawn as in the newest frame, the others on the delayed timeline', () => {
  const h = harness({ latest: ['pellet'] });
  h.client.start();
  h.sockets[0].open();
  h.sockets[0].deliver(welcome(7));
  const server = new FakeFrames();
  h.sockets[0].deliver(server.state(arenaFrame(100, [orb(9, 800, 200)], [{ entity: 3, slot: 0, x: 50, y: 60 }])));
  h.time.advance(50);
  h.sockets[0].deliver(server.state(arenaFrame(101, [orb(9, 800, 210)], [{ entity: 4, slot: 0, x: 70, y: 80 }])));
  const ids = h.client.view(h.time.t).entities.map((e) => e.id);
  assert.deepEqual(ids, [4, 1009], 'the pellet respawned (a new entity) shows at once; bob is drawn 100 ms back');
  assert.equal(h.client.view(h.time.t).entities[1].components.pos.y, 200);
  const plain = harness();
  plain.client.start();
  plain.sockets[0].open();
  plain.sockets[0].deliver(welcome(7));
  const again = new FakeFrames();
  plain.sockets[0].deliver(again.state(arenaFrame(100, [orb(9, 800, 200)], [{ entity: 3, slot: 0, x: 50, y: 60 }])));
  plain.time.advance(50);
  plain.sockets[0].deliver(again.state(arenaFrame(101, [orb(9, 800, 210)], [{ entity: 4, slot: 0, x: 70, y: 80 }])));
  assert.deepEqual(plain.client.view(plain.time.t).entities.map((e) => e.id), [3, 1009], 'without: the old pellet, delayed like everything');
});

test('send(input) goes out at once, and events arrive by name', () => {
  const h = harness({ input: null });
  h.client.start();
  assert.equal(h.client.send({ x: 1, y: 0 }), null, 'not joined yet');
  h.sockets[0].open();
  h.sockets[0].deliver(welcome(7));
  assert.equal(h.client.send({ x: -127, y: 5 }), 1);
  const sent = h.sockets[0].sent.filter((m) => m.type === 'Input');
  assert.deepEqual(decodeInput(ARENA_SCHEMA, sent[0].data), { x: -127, y: 5 });
  assert.throws(() => h.client.send({ x: 200 }), RangeError);
  assert.throws(() => h.client.send({ fire: true }), TypeError);
  h.time.advance(1000);
  assert.equal(h.sockets[0].sent.filter((m) => m.type === 'Input').length, 1, 'no polling without input()');
  const server = new FakeFrames();
  const events = [encodeEvent(ARENA_SCHEMA, 'ate', { player: 7, slot: 3 }), encodeEvent(ARENA_SCHEMA, 'hello', { text: 'welcome' })];
  h.sockets[0].deliver(server.state(arenaFrame(101, [orb(7, 100)]), { events }));
  assert.deepEqual(h.seen.events, [
    { event: { name: 'ate', id: 0, fields: { player: 7, slot: 3 } }, tick: 101 },
    { event: { name: 'hello', id: 1, fields: { text: 'welcome' } }, tick: 101 },
  ]);
  const warn = console.warn;
  console.warn = () => {};
  try {
    h.sockets[0].deliver(server.state(arenaFrame(102, [orb(7, 100)]), { events: [new Uint8Array([9])] }));
  } finally {
    console.warn = warn;
  }
  assert.equal(h.client.badEvents, 1);
  assert.equal(h.seen.events.length, 2);
});

test('a resume keeps the game, a fresh Welcome starts a new one', () => {
  const h = harness();
  h.client.start();
  h.sockets[0].open();
  h.sockets[0].deliver(welcome(7));
  h.sockets[0].deliver(new FakeFrames().state(arenaFrame(100, [orb(7, 400, 300)])));
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

test("another game's model predicts with its own rules and input, and no model draws the own entity from the frames", () => {
  // A grid game: a `cell` component { col, row } (i16), an input { dx, dy }
  // (i8), one cell per step along the input.
  const schemaBytes = encodeSchema({
    game: 'grid',
    version: 1,
    components: [
      { name: 'cell', fields: [{ name: 'col', type: { kind: 'scalar', scalar: 'i16' } }, { name: 'row', type: { kind: 'scalar', scalar: 'i16' } }] },
      { name: 'player', fields: [{ name: 'id', type: { kind: 'scalar', scalar: 'u32' } }, { name: 'name', type: { kind: 'text', maxBytes: 32 } }, { name: 'connected', type: { kind: 'scalar', scalar: 'bool' } }] },
    ],
    input: { name: 'move', fields: [{ name: 'dx', type: { kind: 'scalar', scalar: 'i8' } }, { name: 'dy', type: { kind: 'scalar', scalar: 'i8' } }] },
    events: [],
  });
  const schema = decodeSchema(schemaBytes);
  const steps = [];
  const grid = {
    step: (s, input, dt, config) => {
      steps.push([dt, config.size]);
      return { ...s, cell: { col: s.cell.col + (input?.dx ?? 0), row: s.cell.row + (input?.dy ?? 0) } };
    },
  };
  const frame = (tick, col, row) => ({
    tick,
    entities: [{ id: 1, components: [{ id: 0, values: [col, row] }, { id: 1, values: [7, 'ada', 1] }] }],
  });
  const h = harness({ model: grid, smooth: ['cell'], input: () => ({ dx: 0, dy: 1 }) });
  h.client.start();
  h.sockets[0].open();
  h.sockets[0].deliver(welcome(7, { game: 'grid', schema: schemaBytes, sim_rate_hz: 60, config: '{"size":8}' }));
  assert.equal(h.client.game.predictor.stepsPerFrame, 3);
  const server = new FakeFrames(schema);
  h.sockets[0].deliver(server.state(frame(100, 4, 3)));
  h.time.advance(100); // three inputs sent, six 60 Hz steps passed
  h.sockets[0].deliver(server.state(frame(101, 4, 3), { ack: 1 }));
  h.client.advance(h.time.t);
  assert.deepEqual(steps[0], [1 / 60, 8], 'the model gets the step length and the room\'s config');
  const own = h.client.view(h.time.t).own.components.cell;
  assert.equal(own.col, 4);
  assert.ok(own.row >= 4, `predicted down the grid from row 3, at ${own.row}`);

  const none = harness({ model: null });
  none.client.start();
  none.sockets[0].open();
  none.sockets[0].deliver(welcome(7));
  assert.equal(none.client.game.predictor, null);
  const frames = new FakeFrames();
  for (let i = 0; i < 6; i++) {
    none.sockets[0].deliver(frames.state(arenaFrame(100 + i, [orb(7, 400 + 10 * i, 300)])));
    none.time.advance(50);
  }
  const drawn = none.client.view(none.time.t).own.components.pos;
  assert.ok(drawn.x > 400 && drawn.x < 450, `interpolated like everything else, at ${drawn.x}`);
});

test('constructor errors name what is missing', () => {
  assert.throws(() => new RoomClient({ room: 'x' }), /`server`/);
  assert.throws(() => new RoomClient({ server: 'http://h' }), /`ticket` or a `room`/);
  assert.throws(() => new RoomClient({ server: 'http://h', room: 'x', model: {} }), /`model` is \{ step/);
  assert.throws(() => new RoomClient({ server: 'http://h', room: 'x', model: () => arenaModel }), /`model` is \{ step/, 'a model, not a factory');
  assert.throws(() => new RoomClient({ server: 'http://h', room: 'x', input: [0, 0] }), /`input` is a function/);
  assert.throws(() => new RoomClient({ server: 'http://h', ticket: { room: 'x' } }), /not a Ticket/);
  assert.throws(() => new RoomClient({ server: 'http://h', ticket: TICKET, game: 'dots' }), /`game` is a game name, given with a `room`/);
  assert.throws(() => new RoomClient({ server: 'http://h', room: 'x', game: '' }), /`game` is a game name/);
});

test('a room id without a ticket joins through the entry', () => {
  const h = harness({ ticket: null, room: 'lobby', server: 'http://localhost:8080/' });
  h.client.start();
  assert.equal(h.sockets[0].url, 'ws://localhost:8080/ws?room=lobby');
});

test('a room id with a game joins with &game=, and stops when the room runs another game', () => {
  const h = harness({ ticket: null, room: 'r 1', game: 'dots', server: 'http://localhost:8080/' });
  h.client.start();
  assert.equal(h.sockets[0].url, 'ws://localhost:8080/ws?room=r%201&game=dots');
  h.sockets[0].open();
  h.sockets[0].serverClose(1008, 'the room runs another game');
  assert.equal(h.client.state, 'closed');
  assert.match(h.client.closeInfo.message, /runs another game/);
  h.time.advance(60_000);
  assert.equal(h.sockets.length, 1, 'no retry: the same URL would be refused again');
});

test('helpers: step rate, entry URLs, ticket URLs', () => {
  assert.equal(stepRate({ tick_rate_hz: 20, sim_rate_hz: 60 }), 60);
  assert.equal(stepRate({ tick_rate_hz: 20, sim_rate_hz: 50 }), 20, 'not a multiple: one step per frame');
  assert.equal(stepRate({ tick_rate_hz: 20 }), 20, 'a server without sub-steps');
  assert.deepEqual(welcomeConfig(welcome(1)), ARENA);
  assert.deepEqual(welcomeConfig({ config: 'not json' }), {});
  assert.deepEqual(welcomeConfig({ config: '7' }), {});
  assert.equal(roomWsUrl('https://h.example/game/', 'a b'), 'wss://h.example/game/ws?room=a%20b');
  assert.equal(roomWsUrl('http://h:81', 'r'), 'ws://h:81/ws?room=r');
  assert.equal(roomWsUrl('http://h:81', 'r', 'skirmish'), 'ws://h:81/ws?room=r&game=skirmish');
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
