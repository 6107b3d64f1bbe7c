// The dots example's page script: it exists so the docs' minimal game
// (../game.rs) is played in a browser on the public tickroom-client package
// alone, as a studio's page would be, with nothing of the arena demo's
// (assets/) code. It joins the URL's room (?room=, default "lobby") under
// ?name=, polls the held arrow/WASD keys as the game's input `Step { dx, dy,
// wave }` (30 Hz, only while a key is held: an idle page sends nothing),
// sends a one-off `{ wave: true }` (dx and dy 0) at each Space press (the
// game applies every input, so no press is lost), flashes "waved by <name>"
// on the `waved` event, draws every dot (the own one ringed, names beside),
// and keeps a status line. Every dot, the own one too, is drawn interpolated
// about 100 ms in the past: dots has no prediction model (each input moves
// a dot once, whatever the simulation steps, so a model would be a guess).
// `window.__dots` is a read-only summary for tests/browser/dots.mjs.

import { RoomClient } from 'tickroom-client';

const params = new URLSearchParams(location.search);
const ROOM = params.get('room') || 'lobby';
const NAME = params.get('name') ?? '';
/** dots' defaults (DotsConfig), until the Welcome says the room's. */
const DEFAULT_CONFIG = { size: 100, speed: 0.5 };
/** How long the "waved by" flash stays, ms. */
const FLASH_MS = 1500;

const $ = (id) => document.getElementById(id);
const canvas = $('board');
const ctx = canvas.getContext('2d');
const statusLine = $('status');
const flashEl = $('flash');

// ---- input: held keys are the polled Step, Space a one-off wave ----

const KEY_DIRS = {
  ArrowLeft: [-1, 0], KeyA: [-1, 0],
  ArrowRight: [1, 0], KeyD: [1, 0],
  ArrowUp: [0, -1], KeyW: [0, -1],
  ArrowDown: [0, 1], KeyS: [0, 1],
};
const held = new Set();
let wavesSent = 0;

addEventListener('keydown', (ev) => {
  if (ev.code in KEY_DIRS) {
    held.add(ev.code);
    ev.preventDefault();
  } else if (ev.code === 'Space') {
    ev.preventDefault();
    // One wave per press, not per auto-repeat.
    if (!ev.repeat && client.send({ wave: true }) !== null) wavesSent++;
  }
});
addEventListener('keyup', (ev) => held.delete(ev.code));
addEventListener('blur', () => held.clear());

/** The game's input now: a step toward the held keys, or null (nothing to send). */
function step() {
  let dx = 0;
  let dy = 0;
  for (const code of held) {
    dx += KEY_DIRS[code][0];
    dy += KEY_DIRS[code][1];
  }
  if (dx === 0 && dy === 0) return null;
  return { dx: Math.sign(dx), dy: Math.sign(dy), wave: false };
}

// ---- the client ----

let wavesReceived = 0;
let lastWaveBy = null;
let flashUntil = 0;

const client = new RoomClient({
  server: location.origin,
  room: ROOM,
  name: NAME,
  input: step,
  smooth: ['dot'],
  onWelcome: () => {
    if (client.game.name !== 'dots') console.warn(`dots: this page plays dots, room ${ROOM} runs ${client.game.name}`);
  },
  onEvent: (event) => {
    if (event.name !== 'waved') return;
    wavesReceived++;
    lastWaveBy = event.fields.by;
    flashEl.textContent = `waved by ${nameOf(lastWaveBy)}`;
    flashEl.classList.add('shown');
    flashUntil = performance.now() + FLASH_MS;
  },
  onState: () => updateStatus(),
  onServerError: (m) => console.warn(`dots: server error ${m.code}: ${m.message}`),
});

/** The board's config: the room's (from its Welcome) over dots' defaults. */
function config() {
  return { ...DEFAULT_CONFIG, ...client.game?.config };
}

/** Every dot of the newest frame: `{ entity, player, name, x, y }`, by entity id. */
function frameDots() {
  const dots = [];
  for (const { id, components: c } of client.frame?.entities ?? []) {
    if (c.player && c.dot) dots.push({ entity: id, player: c.player.id, name: c.player.name, x: c.dot.x, y: c.dot.y });
  }
  return dots;
}

function nameOf(playerId) {
  const dot = frameDots().find((d) => d.player === playerId);
  return dot?.name || `player ${playerId}`;
}

// ---- status line ----

const STATE_TEXT = {
  connecting: 'connecting…',
  joining: 'joining…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  closed: 'disconnected',
  left: 'left',
};

function updateStatus() {
  const state = client.state;
  const parts = [STATE_TEXT[state] ?? state];
  parts.push(`room ${client.room}`);
  if (client.playerId !== null) parts.push(`player ${client.playerId}`);
  if (client.frame) parts.push(`${client.frame.entities.length} entities`);
  if (client.game && client.game.name !== 'dots') parts.push(`this room runs ${client.game.name}, not dots`);
  if (state === 'closed' && client.closeInfo) parts.push(`${client.closeInfo.message} (${client.closeInfo.code})`);
  const text = parts.join(' · ');
  if (statusLine.textContent !== text) statusLine.textContent = text;
  statusLine.dataset.state = state;
}

// ---- drawing ----

/** A colour of its own for each player. */
function colorOf(playerId) {
  return `hsl(${(playerId * 137.508) % 360} 70% 60%)`;
}

function draw(now) {
  client.advance(now);
  const dpr = devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);

  // The board: a square as large as fits, with a margin for names.
  const { size } = config();
  const side = Math.max(10, Math.min(w, h) - 40);
  const left = (w - side) / 2;
  const top = (h - side) / 2;
  const k = side / size;
  ctx.fillStyle = '#121a33';
  ctx.fillRect(left, top, side, side);
  ctx.strokeStyle = '#2c3a66';
  ctx.lineWidth = 1;
  ctx.strokeRect(left + 0.5, top + 0.5, side - 1, side - 1);

  const view = client.view(now);
  ctx.font = '12px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  for (const { components: { player, dot }, own } of view?.entities ?? []) {
    if (!player || !dot) continue;
    const x = left + dot.x * k;
    const y = top + dot.y * k;
    const r = own ? 9 : 7;
    ctx.globalAlpha = player.connected ? 1 : 0.4; // away: its resume grace is running
    ctx.fillStyle = colorOf(player.id);
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fill();
    if (own) {
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(x, y, r + 4, 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.fillStyle = own ? '#ffffff' : '#aab4d0';
    ctx.fillText(`${player.name || `player ${player.id}`}${own ? ' (you)' : ''}`, x + r + 6, y);
    ctx.globalAlpha = 1;
  }

  if (flashUntil !== 0 && now > flashUntil) {
    flashEl.classList.remove('shown');
    flashUntil = 0;
  }
  updateStatus();
  requestAnimationFrame(draw);
}

// ---- state for tests and the curious (read-only) ----

Object.defineProperty(window, '__dots', {
  get() {
    const dots = frameDots();
    const own = dots.find((d) => d.player === client.playerId) ?? null;
    const frames = client.session.frames;
    return {
      state: client.state,
      connected: client.state === 'connected',
      room: client.room,
      game: client.game?.name ?? null,
      playerId: client.playerId,
      size: config().size,
      entities: client.frame?.entities.length ?? 0, // in the newest frame
      own: own ? { x: own.x, y: own.y } : null, // the own dot in the newest frame (the server's)
      dots: dots.map(({ player, name, x, y }) => ({ player, name, x, y })),
      inputs: client.session.seq, // inputs sent (the session's numbering): steps and waves
      acked: client.game?.ackSeq ?? 0, // the newest input the room applied (the newest frame shows it)
      wavesSent, // Space presses sent while connected
      wavesReceived, // `waved` events (from everyone else)
      lastWaveBy,
      flash: flashEl.classList.contains('shown') ? flashEl.textContent : '',
      frames: { ...frames }, // { full, delta, refused, mismatches }: the last two stay 0
      badEvents: client.badEvents,
    };
  },
});

// ---- go (last: the client's callbacks use everything above) ----

client.start();
requestAnimationFrame(draw);
canvas.focus();
