// A small typed game against the package's declarations, imported the way a
// user imports them (by the package's name, through its exports map). `tsc`
// must accept it with zero errors; each `@ts-expect-error` line is a misuse
// the declarations must refuse (tsc fails if one is accepted).

import { RoomClient, RoomApiError, decodeServer, matchmake, PROTOCOL_VERSION } from 'tickroom-client';
import type { Arena, Frame, PredictionModel, Ticket, View, Welcome } from 'tickroom-client';
import { arenaModel } from 'tickroom-client/arena';
import { Replica } from 'tickroom-client/protocol';
import { Predictor } from 'tickroom-client/netcode';

const server: string = 'http://localhost:8080';
const version: number = PROTOCOL_VERSION;

async function quickPlay(): Promise<RoomClient> {
  let ticket: Ticket;
  try {
    ticket = await matchmake(server, { metadata: { mode: 'duel' } });
  } catch (e) {
    if (e instanceof RoomApiError) console.log(e.status, e.code, e.serverMessage);
    throw e;
  }
  const client = new RoomClient({
    server,
    ticket,
    name: 'ada',
    steer: () => [1, 0],
    onWelcome: (w: Welcome, { continued }) => console.log(w.player_id, w.arena.width, w.tick_rate_hz, continued),
    onFrame: (frame: Frame) => console.log(frame.tick, frame.players.length, frame.roster[0]?.name),
    onState: (c) => console.log(c.state, c.closeInfo?.message),
  }).start();
  const view: View | null = client.view(performance.now());
  for (const p of view?.players ?? []) console.log(p.id, p.x.toFixed(1), p.y, p.name, p.score, p.own);
  const own: { x: number; y: number } | null = client.ownPosition(0);
  console.log(own, client.playerId, client.room, client.session.rtt, client.game?.predictor?.corrections);
  return client;
}

// Another game: a state with its own fields, a model of its own rules.
interface Tank {
  x: number;
  y: number;
  heading: number;
}
const tankModel = (w: Welcome, rate: number): PredictionModel<Tank> => ({
  stepMs: 1000 / rate,
  step: (s, sx, sy) => ({ x: s.x + Math.cos(s.heading) * sy, y: s.y + Math.sin(s.heading) * sy, heading: s.heading + sx * 0.1 }),
});
const tanks = new RoomClient<Tank>({ server, room: 'tanks', model: tankModel });
const heading: number | undefined = tanks.game?.predictor?.state?.heading;
new RoomClient({ server, room: 'no-prediction', model: null });

// The lower layers stay usable on their own.
const arena: Arena = { width: 1600, height: 1000, player_radius: 18, pellet_radius: 6, accel: 1400, max_speed: 320, friction: 0.05 };
const predictor = new Predictor(arenaModel(arena, 20));
predictor.reset({ x: 1, y: 2, vx: 0, vy: 0 }, 0, 0);
const msg = decodeServer(new Uint8Array([0]));
if (msg.type === 'Welcome') console.log(msg.resume_token, msg.sim_rate_hz);
if (msg.type === 'Snapshot') new Replica(20).apply(msg);

// Misuse the declarations refuse:
// @ts-expect-error: a model needs stepMs
new Predictor({ step: (s: Tank) => s });
// @ts-expect-error: steer answers two numbers
new RoomClient({ server, room: 'x', steer: () => 'left' });
// @ts-expect-error: a RoomClient needs a server
new RoomClient({ room: 'x' });
// @ts-expect-error: not a Ticket
new RoomClient({ server, ticket: { room: 'x' } });

void quickPlay;
void version;
void heading;

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
