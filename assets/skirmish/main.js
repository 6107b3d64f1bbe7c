// The skirmish page's entry point: it exists so the bundled shooter
// (crates/skirmish) is played in a browser on the public tickroom-client
// package alone, as a studio's own page would be. It joins the URL's room
// (`?room=`, default "skirmish") as a skirmish room (`/ws?room=…&game=skirmish`)
// under `?name=`, and:
// - sends the held controls (WASD/arrows, the mouse's aim) at the client's
//   input rate, and each fire press (click or Space) as an input of its own
//   with `fire: true`;
// - predicts the own ship with the game's movement rule (skirmish.js). The
//   ship is an entity of its own, not the player's entity RoomClient
//   predicts, so the page runs the package's Predictor itself: every input
//   it sends is held there, every frame reconciles it with the own ship;
// - draws the other ships interpolated ~100 ms back, bullets from their
//   constant start and velocity at the current tick, health packs and walls
//   as in the newest frame, and a minimap of exactly the newest frame;
// - keeps a scoreboard (`score` of the player entities), a kill feed
//   (`kill` events), the respawn countdown (`respawn` events), the own
//   health, and a status line.
// `window.skirmish` is a small read-only view of it for tests (see the end).

import { INPUT_HZ, Predictor, RoomClient, decodeInput, encodeInput, truncateName, validRoomId } from 'tickroom-client';
import { DEFAULT_CONFIG, bulletAt, shipModel, skirmishInput, worldOf } from './skirmish.js';
import { BOOM_MS, SkirmishRenderer, playerColor } from './skirmish-render.js';

const GAME = 'skirmish';
const params = new URLSearchParams(location.search);
const ROOM = params.get('room') || 'skirmish';
const NAME = truncateName((params.get('name') ?? localStorage.getItem('tickroom.name') ?? '').trim());
/** Kills the feed shows at once (killFeed() keeps them all). */
const FEED_SHOWN = 5;
/** How long the screen flashes red when the own ship is hit, ms. */
const HURT_MS = 250;

const $ = (id) => document.getElementById(id);
const ui = {
  field: $('field'),
  minimap: $('minimap'),
  status: $('status'),
  scores: $('scores'),
  feed: $('killfeed'),
  respawn: $('respawn'),
  health: $('health'),
  healthBar: $('health-bar'),
  healthText: $('health-text'),
  hurt: $('hurt'),
  back: $('back'),
};
const renderer = new SkirmishRenderer(ui.field, ui.minimap);

// ---- what the page knows of the room ----

let world = worldOf(null); // the newest frame, by kind (skirmish.js worldOf)
let ownShip = null; // the own ship's `ship` component in the newest frame (the server's)
let predictor = null; // the own ship's prediction, from the first Welcome on
let predictedFrames = 0; // frames that reconciled the prediction
const booms = []; // { x, y, at }: recent hits, drawn as bursts
const kills = []; // { killer, victim, killerName, victimName, at }: every `kill` event
let respawnSeconds = null; // the newest `respawn` countdown, while the own ship is destroyed
let hurtAt = -Infinity;
const seenShips = new Set(); // owners of every ship any frame had
const seenBullets = new Set(); // entity ids of every bullet any frame had

/** The room's config: its Welcome's over skirmish's defaults. */
function config() {
  return { ...DEFAULT_CONFIG, ...client.game?.config };
}

function nameOf(playerId) {
  return world.players.get(playerId)?.name || `player ${playerId}`;
}

// ---- input: held keys and the mouse's aim, fire presses ----

const KEY_DIRS = {
  ArrowLeft: [-1, 0], KeyA: [-1, 0],
  ArrowRight: [1, 0], KeyD: [1, 0],
  ArrowUp: [0, -1], KeyW: [0, -1],
  ArrowDown: [0, 1], KeyS: [0, 1],
};
const held = new Set();
let pointer = null; // the mouse's client position over the field
let aimTarget = null; // a map point to aim at (window.skirmish.aimAt), until the mouse moves
let aim = 0; // the aim sent last, radians

addEventListener('keydown', (ev) => {
  if (ev.code in KEY_DIRS) {
    held.add(ev.code);
    ev.preventDefault();
  } else if (ev.code === 'Space') {
    ev.preventDefault();
    if (!ev.repeat) fire(); // one shot a press, not one per auto-repeat
  }
});
addEventListener('keyup', (ev) => held.delete(ev.code));
addEventListener('blur', () => held.clear());
ui.field.addEventListener('pointermove', (ev) => {
  pointer = { x: ev.clientX, y: ev.clientY };
  aimTarget = null;
});
ui.field.addEventListener('pointerdown', (ev) => {
  if (ev.button !== 0) return;
  pointer = { x: ev.clientX, y: ev.clientY };
  aimTarget = null;
  ui.field.focus();
  fire();
});
ui.field.addEventListener('contextmenu', (ev) => ev.preventDefault());

/** The own ship as drawn now (predicted), or null. */
function ownDrawn(now) {
  return predictor?.render(now)?.ship ?? null;
}

/** The aim now: toward aimAt()'s point, else the mouse, else as it was. */
function currentAim(now) {
  const own = ownDrawn(now);
  const target = aimTarget ?? (pointer && renderer.toWorld(pointer.x, pointer.y));
  if (own && target && (target.x !== own.x || target.y !== own.y)) aim = Math.atan2(target.y - own.y, target.x - own.x);
  return aim;
}

/** The game's input now: the held direction and aim, firing or not. */
function currentInput(firing) {
  let dx = 0;
  let dy = 0;
  for (const code of held) {
    dx += KEY_DIRS[code][0];
    dy += KEY_DIRS[code][1];
  }
  return skirmishInput(Math.sign(dx), Math.sign(dy), currentAim(performance.now()), firing);
}

/**
 * Sends `input` now and hands it (as the server decodes it) to the
 * prediction, which replays it at the step the server will apply it.
 */
function send(input) {
  const seq = client.send(input);
  if (seq !== null && predictor) {
    const schema = client.game.schema;
    predictor.hold(seq, decodeInput(schema, encodeInput(schema, input)), performance.now());
  }
  return seq;
}

function fire() {
  send(currentInput(true));
}

// ---- the client ----

const client = new RoomClient({
  server: location.origin,
  room: ROOM,
  game: GAME,
  name: NAME,
  smooth: { ship: ['x', 'y'] },
  latest: ['bullet', 'pickup', 'wall'],
  onWelcome: (msg, { continued }) => {
    if (continued) {
      // The same player taken back: the server holds none of our inputs.
      predictor?.dropInputs();
      return;
    }
    const g = client.game;
    predictor = new Predictor(shipModel(() => world.walls), {
      stepRateHz: g.simRate,
      stepsPerFrame: g.simRate / g.tickRate,
      config: config(),
      smooth: { ship: ['x', 'y'] },
    });
    predictedFrames = 0;
    kills.length = 0;
    respawnSeconds = null;
  },
  onFrame: (frame, now, info) => {
    world = worldOf(frame);
    ownShip = null;
    for (const ship of world.ships.values()) {
      seenShips.add(ship.owner);
      if (ship.owner === client.playerId) ownShip = ship;
    }
    for (const id of world.bullets.keys()) seenBullets.add(id);
    if (ownShip && predictor) {
      predictor.reconcile({ ship: ownShip }, frame.tick, info.ackSeq, now);
      predictedFrames++;
    }
    if (ownShip?.alive) respawnSeconds = null;
    updateScoreboard();
    updateHealth();
  },
  onEvent: ({ name, fields }) => {
    const now = performance.now();
    if (name === 'kill') {
      kills.push({ ...fields, killerName: nameOf(fields.killer), victimName: nameOf(fields.victim), at: now });
      updateFeed();
    } else if (name === 'respawn') {
      respawnSeconds = fields.seconds;
    } else if (name === 'hit') {
      if (fields.victim === client.playerId) hurtAt = now;
    } else if (name === 'boom') {
      booms.push({ x: fields.x, y: fields.y, at: now });
    }
  },
  onState: (c) => {
    // Disconnected: the server holds no input of ours any more.
    if (c.state !== 'connected') predictor?.dropInputs();
    updateStatus();
  },
  onServerError: (m) => console.warn(`skirmish: server error ${m.code}: ${m.message}`),
});

// ---- panels: status, scoreboard, kill feed, health, respawn ----

const STATE_TEXT = {
  connecting: 'connecting…',
  joining: 'joining…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  closed: 'disconnected',
  left: 'left',
};

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function updateStatus() {
  if (!validRoomId(ROOM)) {
    setText(ui.status, `"${ROOM}" is not a room id: 1–64 letters, digits, "-", "_" or "."`);
    ui.status.dataset.state = 'closed';
    return;
  }
  const parts = [STATE_TEXT[client.state] ?? client.state, `room ${client.room}`];
  if (client.frame) parts.push(`${client.frame.entities.length} entities`);
  const mismatches = client.session.frames.mismatches;
  if (mismatches > 0) parts.push(`${mismatches} checksum mismatches`);
  if ((client.state === 'closed' || client.state === 'reconnecting') && client.closeInfo) parts.push(client.closeInfo.message);
  setText(ui.status, parts.join(' · '));
  ui.status.dataset.state = client.state;
}

function updateScoreboard() {
  const rows = [...world.players].sort(([ia, a], [ib, b]) => b.kills - a.kills || a.deaths - b.deaths || ia - ib);
  const key = rows.map(([id, p]) => `${id}:${p.name}:${p.kills}:${p.deaths}`).join('|');
  if (ui.scores.dataset.key === key) return;
  ui.scores.dataset.key = key;
  ui.scores.replaceChildren(
    ...rows.map(([id, p]) => {
      const li = document.createElement('li');
      if (id === client.playerId) li.className = 'own';
      const who = document.createElement('span');
      who.className = 'who';
      who.style.color = playerColor(id);
      who.textContent = p.name || `player ${id}`;
      const score = document.createElement('span');
      score.className = 'score';
      score.textContent = `${p.kills} / ${p.deaths}`;
      li.append(who, score);
      return li;
    }),
  );
}

function updateFeed() {
  ui.feed.replaceChildren(
    ...kills.slice(-FEED_SHOWN).map((k) => {
      const li = document.createElement('li');
      const killer = document.createElement('span');
      killer.style.color = playerColor(k.killer);
      killer.textContent = k.killerName;
      const victim = document.createElement('span');
      victim.style.color = playerColor(k.victim);
      victim.textContent = k.victimName;
      li.append(killer, ' ✕ ', victim);
      return li;
    }),
  );
}

function updateHealth() {
  ui.health.hidden = ownShip === null;
  if (!ownShip) return;
  ui.healthBar.style.width = `${ownShip.health}%`;
  ui.healthBar.dataset.level = ownShip.health > 50 ? 'ok' : ownShip.health > 25 ? 'low' : 'bad';
  setText(ui.healthText, ownShip.alive ? `${ownShip.health}` : 'destroyed');
}

// ---- the frame loop ----

let lastDraw = performance.now();

function draw(now) {
  const elapsed = Math.min(Math.max(0, now - lastDraw), 1000);
  lastDraw = now;
  const cfg = config();
  const g = client.game;
  const ships = [];
  const bullets = [];
  let own = null;
  if (g) {
    if (predictor) {
      predictor.advance(now);
      predictor.decay(elapsed);
    }
    for (const { components: c } of client.view(now).entities) {
      if (c.ship && c.ship.owner !== client.playerId) ships.push({ ...c.ship, name: nameOf(c.ship.owner), own: false });
    }
    const drawn = ownDrawn(now);
    if (drawn && ownShip) {
      // Its aim is the one this page sends, without waiting for the server.
      own = { ...drawn, aim: currentAim(now), health: ownShip.health, alive: ownShip.alive, name: nameOf(client.playerId), own: true };
      ships.push(own);
    }
    // Bullets at the current tick: the newest frame's plus the time since.
    const step = g.clock.renderTick(now, 0) * (g.simRate / g.tickRate);
    for (const b of world.bullets.values()) bullets.push({ ...bulletAt(b, step, g.simRate, cfg.bullet_range), vx: b.vx, vy: b.vy, owner: b.owner });
  }
  while (booms.length > 0 && now - booms[0].at > BOOM_MS) booms.shift();
  const camera = own ? { x: own.x, y: own.y } : { x: cfg.size / 2, y: cfg.size / 2 };
  const pickups = [...world.pickups.values()];
  renderer.draw({
    now,
    config: cfg,
    camera,
    eye: own,
    walls: world.walls,
    pickups,
    bullets,
    ships,
    booms,
    dim: client.state === 'connected' ? 0 : 0.35,
  });
  renderer.drawMinimap({
    config: cfg,
    walls: world.walls,
    pickups,
    bullets,
    ships: [...world.ships.values()].map((s) => (s.owner === client.playerId && own ? { ...s, x: own.x, y: own.y, own: true } : { ...s, own: false })),
    eye: own,
  });
  ui.respawn.hidden = respawnSeconds === null;
  if (respawnSeconds !== null) setText(ui.respawn, `Respawning in ${respawnSeconds}`);
  ui.hurt.classList.toggle('shown', now - hurtAt < HURT_MS);
  updateStatus();
  requestAnimationFrame(draw);
}

// ---- for tests and the curious: window.skirmish (read-only but aimAt) ----

/**
 * - `status()`: `{ state, room, game, playerId }`;
 * - `entityCount()`: entities in the newest frame (everything the server sent this player);
 * - `players()`: the scoreboard, `[{ id, name, kills, deaths }]`;
 * - `ships()`: `[{ owner, name, x, y, health, alive }]`, `bullets()`: `[{ owner, x0, y0, vx, vy, born }]`,
 *   `pickups()`: `[{ x, y, heal }]`, `walls()`: `[{ x, y, w, h }]`, all of the newest frame;
 * - `me()`: the own ship `{ owner, name, x, y, health, alive }` (the newest frame's), with `predicted`
 *   (`{ x, y }` as drawn) and `respawnIn` (the countdown's seconds while destroyed, else null), or null;
 * - `health()`: the own ship's health, or null;
 * - `killFeed()`: every kill `[{ killer, victim, killerName, victimName }]`;
 * - `seen()`: `{ ships: owners of every ship any frame had, bullets: how many bullets any frame had }`;
 * - `prediction()`: `{ frames, corrections, worstCorrection, snaps }` of the own ship's prediction;
 * - `checksumMismatches()`: frames whose checksum was not the server's (should stay 0);
 * - `aimAt(x, y)`: aim at map point (x, y) until the mouse moves.
 */
const shipSummary = (s) => ({ owner: s.owner, name: nameOf(s.owner), x: s.x, y: s.y, health: s.health, alive: s.alive });
window.skirmish = Object.freeze({
  status: () => ({ state: client.state, room: client.room, game: client.game?.name ?? null, playerId: client.playerId }),
  entityCount: () => client.frame?.entities.length ?? 0,
  players: () => [...world.players].map(([id, { name, kills, deaths }]) => ({ id, name, kills, deaths })),
  ships: () => [...world.ships.values()].map(shipSummary),
  bullets: () => [...world.bullets.values()].map((b) => ({ ...b })),
  pickups: () => [...world.pickups.values()].map((p) => ({ ...p })),
  walls: () => world.walls.map((w) => ({ ...w })),
  me: () => {
    if (!ownShip) return null;
    const drawn = ownDrawn(performance.now());
    return { ...shipSummary(ownShip), predicted: drawn && { x: drawn.x, y: drawn.y }, respawnIn: respawnSeconds };
  },
  health: () => ownShip?.health ?? null,
  killFeed: () => kills.map(({ killer, victim, killerName, victimName }) => ({ killer, victim, killerName, victimName })),
  seen: () => ({ ships: [...seenShips], bullets: seenBullets.size }),
  prediction: () => ({
    frames: predictedFrames,
    corrections: predictor?.corrections ?? 0,
    worstCorrection: predictor?.worstCorrection ?? 0,
    snaps: predictor?.snaps ?? 0,
  }),
  checksumMismatches: () => client.session.frames.mismatches,
  aimAt: (x, y) => {
    aimTarget = { x, y };
  },
});

// ---- go ----

ui.back.addEventListener('click', () => client.leave());
if (validRoomId(ROOM)) {
  client.start();
  setInterval(() => send(currentInput(false)), 1000 / INPUT_HZ);
}
updateStatus();
requestAnimationFrame(draw);
ui.field.focus();
