// A small typed game against the package's declarations, imported the way a
// user imports them (by the package's name, through its exports map). `tsc`
// must accept it with zero errors; each `@ts-expect-error` line is a misuse
// the declarations must refuse (tsc fails if one is accepted).

import { RoomClient, RoomApiError, decodeServer, matchmake, PROTOCOL_VERSION } from 'tickroom-client';
import type { FrameView, GameEvent, PredictionModel, Ticket, View, Welcome } from 'tickroom-client';
import { Replica, encodeInput } from 'tickroom-client/replica';
import { decodeSchema } from 'tickroom-client/state';
import { Predictor } from 'tickroom-client/netcode';

const server: string = 'http://localhost:8080';
const version: number = PROTOCOL_VERSION;

// A game's own types: its components, input and config, as its schema says.
interface Orbs {
  player: { id: number; name: string; connected: boolean };
  pos: { x: number; y: number };
  vel: { x: number; y: number };
  score: { points: number };
}
interface Steer {
  x: number;
  y: number;
}
interface OrbConfig {
  width: number;
  height: number;
  speed: number;
}

const glide: PredictionModel<Partial<Orbs>, Steer, OrbConfig> = {
  step: (s, input, dt, config) => ({
    ...s,
    pos: { x: (s.pos?.x ?? 0) + ((input?.x ?? 0) / 127) * config.speed * dt, y: (s.pos?.y ?? 0) + ((input?.y ?? 0) / 127) * config.speed * dt },
  }),
};

async function quickPlay(): Promise<RoomClient<Orbs, Steer, OrbConfig>> {
  let ticket: Ticket;
  try {
    ticket = await matchmake(server, { metadata: { mode: 'duel' } });
  } catch (e) {
    if (e instanceof RoomApiError) console.log(e.status, e.code, e.serverMessage);
    throw e;
  }
  const client = new RoomClient<Orbs, Steer, OrbConfig>({
    server,
    ticket,
    name: 'ada',
    input: () => ({ x: 127, y: 0 }),
    model: glide,
    smooth: ['pos'],
    latest: ['pellet'],
    onWelcome: (w: Welcome, { continued }) => console.log(w.player_id, w.game, w.tick_rate_hz, continued),
    onFrame: (frame: FrameView<Orbs>, _now, info) => console.log(frame.tick, frame.entities.length, info.ackSeq, info.full),
    onEvent: (e: GameEvent, info) => console.log(e.name, e.fields, info.tick),
    onState: (c) => console.log(c.state, c.closeInfo?.message),
  }).start();
  const view: View<Orbs> | null = client.view(performance.now());
  for (const e of view?.entities ?? []) {
    const pos = e.components.pos;
    if (pos) console.log(e.id, pos.x.toFixed(1), pos.y, e.components.player?.name, e.own);
  }
  const seq: number | null = client.send({ x: -127 });
  const width: number | undefined = client.game?.config.width;
  console.log(seq, width, client.playerId, client.room, client.session.rtt, client.session.ackLatency, client.game?.predictor?.corrections);
  return client;
}

// A game without types and without prediction.
new RoomClient({ server, room: 'no-prediction', model: null, onEvent: (e) => console.log(e.name) });

// The lower layers stay usable on their own.
const predictor = new Predictor(glide, { stepRateHz: 60, stepsPerFrame: 3, config: { width: 1, height: 1, speed: 100 } });
predictor.reset({ pos: { x: 1, y: 2 } }, 0, 0);
predictor.hold(1, { x: 1, y: 0 }, 0);
const drawn = predictor.render(0)?.pos?.x;
const msg = decodeServer(new Uint8Array([0]));
if (msg.type === 'Welcome') {
  const replica = Replica.fromWelcome(msg);
  const bytes: Uint8Array = encodeInput<Steer>(decodeSchema(msg.schema), { x: 1 });
  console.log(replica.view<Orbs>()?.entities[0]?.components.score?.points, bytes.length, msg.resume_token, msg.sim_rate_hz, msg.config);
}
if (msg.type === 'State') console.log(msg.ack_seq, msg.events.length, msg.checksum, msg.frame.length);

// Misuse the declarations refuse:
// @ts-expect-error: a model needs a step
new Predictor({ stepMs: 50 });
// @ts-expect-error: input() answers the game's input object
new RoomClient<Orbs, Steer>({ server, room: 'x', input: () => 'left' });
// @ts-expect-error: a RoomClient needs a server
new RoomClient({ room: 'x' });
// @ts-expect-error: not a Ticket
new RoomClient({ server, ticket: { room: 'x' } });
// @ts-expect-error: the input's fields are the game's
new RoomClient<Orbs, Steer>({ server, room: 'x' }).send({ fire: true });

void quickPlay;
void version;
void drawn;

// A host without browser globals passes its own socket, timers and clock.
class NodeSocket {
  binaryType = 'arraybuffer';
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: ArrayBuffer }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {}
  send(_bytes: Uint8Array): void {}
  close(_code?: number, _reason?: string): void {}
}
new RoomClient({ server, room: 'headless', WebSocketImpl: NodeSocket, timers: globalThis, now: () => Date.now(), onServerError: (e) => console.log(e.code, e.message) });
