// The arena demo's entry point: wires the join menu, keyboard and pointer
// steering, a RoomClient from the tickroom-client package (clients/js: the
// session, the replica decoded from the game's schema, prediction and
// interpolation, imported exactly as any game would) with the arena's own
// rules (arena.js: its input and prediction model) and the renderer
// (render.js) together, runs the requestAnimationFrame loop, and keeps the
// HUD, scoreboard and connection banner up to date. The view the client
// gives is entities with named components: players are the entities with
// `player` and `pos`, pellets those with `pellet` and `pos`. Exposes
// `window.__tickroom` (a read-only summary of the game state) for the
// browser test in tests/browser/demo.mjs.
//
// The menu also chooses the game: the arena is played here; skirmish, the
// other bundled game, has its own page (skirmish/), which the menu opens
// with the room and name typed.
//
// `/?replay=<file>` is the recordings viewer instead (replay.js): no menu,
// no WebSocket, the same renderer.
//
// Resume: after a dropped connection the client's session reconnects with the room's resume
// token; a Welcome that takes back the same player keeps the game as it was
// (prediction, interpolation, scores: the player sees the orb coast and the
// others freeze for a moment), any other Welcome starts over. A reload of the
// page resumes too: the token is in sessionStorage, and the page rejoins the
// URL's room at once instead of showing the menu.

import { RoomClient, resumeTokens, truncateName, validRoomId } from 'tickroom-client';
import { arenaModel, steerInput } from './arena.js';
import { Renderer, decorativePellets, playerColor } from './render.js';
import { replayState, startReplay } from './replay.js';

const QUICK_ROOM = 'lobby';
/** The games the menu offers: each one's tagline and its Quick play room; the arena is played on this page. */
const GAMES = {
  arena: { tagline: 'Steer your orb, bump the others, collect the glowing pellets.', quickRoom: QUICK_ROOM },
  skirmish: { tagline: 'A top-down shooter on a big map: you see what is near your ship.', quickRoom: 'skirmish' },
};
/** How long the HUD says "resumed" after a resume, ms. */
const RESUMED_NOTICE_MS = 4000;
const $ = (id) => document.getElementById(id);
const ui = {
  canvas: $('arena'),
  menu: $('menu'),
  form: $('join-form'),
  tagline: $('tagline'),
  name: $('name'),
  room: $('room'),
  menuError: $('menu-error'),
  quick: $('quick'),
  hud: $('hud'),
  conn: $('conn'),
  connText: $('conn-text'),
  hudRoom: $('hud-room'),
  hudPing: $('hud-ping'),
  hudTick: $('hud-tick'),
  hudSim: $('hud-sim'),
  hudRate: $('hud-rate'),
  hudRefused: $('hud-refused'),
  hudPlayers: $('hud-players'),
  leave: $('leave'),
  scoreboard: $('scoreboard'),
  scores: $('scores'),
  banner: $('banner'),
  bannerText: $('banner-text'),
  bannerRetry: $('banner-retry'),
  bannerMenu: $('banner-menu'),
  help: $('help'),
};

const renderer = new Renderer(ui.canvas);
const menuPellets = decorativePellets(1600, 1000);
let client = null; // the RoomClient (tickroom-client) of the room being played
let session = null; // its Session: connection state, counters, resume
let game = null; // its per-player game state (client.game), from the Welcome on
let arena = null; // the room's arena: its config (size, radii), from the Welcome
let pellets = new Map(); // the newest frame's pellets by entity id: { id (slot), x, y }
let names = new Map(); // player id -> name, from the newest frame
let scores = new Map(); // player id -> score, from the newest frame

// ---- input: keyboard and pointer ----

const keys = new Set();
const KEY_DIRS = {
  KeyW: [0, -1], ArrowUp: [0, -1],
  KeyS: [0, 1], ArrowDown: [0, 1],
  KeyA: [-1, 0], ArrowLeft: [-1, 0],
  KeyD: [1, 0], ArrowRight: [1, 0],
};
const pointer = { active: false, id: null, clientX: 0, clientY: 0 };

function typingInForm(ev) {
  return ev.target instanceof HTMLInputElement;
}

addEventListener('keydown', (ev) => {
  if (ev.code in KEY_DIRS && !typingInForm(ev)) {
    keys.add(ev.code);
    ev.preventDefault();
  } else if (ev.code === 'Escape' && session && !ui.menu.classList.contains('shown')) {
    leaveToMenu();
  }
});
addEventListener('keyup', (ev) => keys.delete(ev.code));
addEventListener('blur', () => {
  keys.clear();
  pointer.active = false;
});

ui.canvas.addEventListener('pointerdown', (ev) => {
  pointer.active = true;
  pointer.id = ev.pointerId;
  pointer.clientX = ev.clientX;
  pointer.clientY = ev.clientY;
  ui.canvas.setPointerCapture(ev.pointerId);
  ev.preventDefault();
});
ui.canvas.addEventListener('pointermove', (ev) => {
  if (ev.pointerId !== pointer.id) return;
  pointer.clientX = ev.clientX;
  pointer.clientY = ev.clientY;
});
for (const type of ['pointerup', 'pointercancel', 'lostpointercapture']) {
  ui.canvas.addEventListener(type, (ev) => {
    if (ev.pointerId === pointer.id) pointer.active = false;
  });
}
ui.canvas.addEventListener('contextmenu', (ev) => ev.preventDefault());

/** The steering direction right now, [x, y] in -1..1 (the client quantizes it). */
function currentSteer() {
  let x = 0;
  let y = 0;
  for (const code of keys) {
    const d = KEY_DIRS[code];
    x += d[0];
    y += d[1];
  }
  if (x !== 0 || y !== 0) return [Math.sign(x), Math.sign(y)];
  const own = game?.predictor?.render(performance.now())?.pos ?? game?.predictor?.state?.pos;
  if (pointer.active && own) {
    const target = renderer.toWorld(pointer.clientX, pointer.clientY);
    const dx = target.x - own.x;
    const dy = target.y - own.y;
    const dist = Math.hypot(dx, dy);
    if (dist < 4) return [0, 0];
    // Full deflection beyond ~3 radii, gentler when the pointer is close.
    const strength = Math.min(1, dist / (arena.player_radius * 3));
    return [(dx / dist) * strength, (dy / dist) * strength];
  }
  return [0, 0];
}

// ---- the menu ----

function showMenu(error = '') {
  ui.menu.classList.add('shown');
  ui.menuError.textContent = error;
  ui.hud.hidden = true;
  ui.scoreboard.hidden = true;
  ui.help.hidden = true;
  ui.banner.hidden = true;
  (ui.name.value ? ui.room : ui.name).focus();
}

function hideMenu() {
  ui.menu.classList.remove('shown');
  ui.hud.hidden = false;
  ui.scoreboard.hidden = false;
  ui.help.hidden = false;
  ui.canvas.focus();
}

const params = new URLSearchParams(location.search);
ui.name.value = params.get('name') ?? localStorage.getItem('tickroom.name') ?? '';
ui.room.value = params.get('room') ?? '';

/** The game chosen in the menu: a key of GAMES. */
function chosenGame() {
  return ui.form.elements.game.value;
}

function showChosenGame() {
  const game = GAMES[chosenGame()];
  ui.tagline.textContent = game.tagline;
  ui.room.placeholder = game.quickRoom;
}

ui.form.elements.game.value = GAMES[localStorage.getItem('tickroom.game')] ? localStorage.getItem('tickroom.game') : 'arena';
showChosenGame();
ui.form.addEventListener('change', (ev) => {
  if (ev.target.name !== 'game') return;
  localStorage.setItem('tickroom.game', chosenGame());
  showChosenGame();
});

ui.form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const room = ui.room.value.trim() || GAMES[chosenGame()].quickRoom;
  if (!validRoomId(room)) {
    ui.menuError.textContent = 'Room ids are 1–64 letters, digits, "-", "_" or ".".';
    return;
  }
  play(room);
});
ui.quick.addEventListener('click', () => play(GAMES[chosenGame()].quickRoom));

/** Plays the chosen game in `room`: the arena here, skirmish on its page. */
function play(room) {
  if (chosenGame() === 'arena') {
    join(room);
    return;
  }
  const name = truncateName(ui.name.value.trim());
  localStorage.setItem('tickroom.name', name);
  const url = new URL('skirmish/', location.href);
  url.searchParams.set('room', room);
  url.searchParams.set('name', name);
  location.assign(url);
}
ui.leave.addEventListener('click', () => leaveToMenu());
ui.bannerRetry.addEventListener('click', () => session?.retryNow());
ui.bannerMenu.addEventListener('click', () => leaveToMenu());

/**
 * Joins `room` as a new player; with `resume`, takes back the player of the
 * room's stored resume token (after a reload). A join from the menu never
 * uses a stored token: a duplicated tab (sessionStorage is copied with it)
 * would otherwise take the player away from the original tab.
 */
function join(room, { resume = false } = {}) {
  const name = truncateName(ui.name.value.trim());
  ui.name.value = name;
  localStorage.setItem('tickroom.name', name);
  if (session) session.leave();
  if (!resume) resumeTokens.delete(room);
  const url = new URL(location.href);
  url.searchParams.set('room', room);
  history.replaceState(null, '', url);
  game = null;
  hideMenu();
  ui.hudRoom.textContent = room;
  // The page's own server is the entry (and the matchmaker); the arena's
  // rules (arena.js) predict the own orb, its steering is polled at 30 Hz,
  // and pellets (which never move) are drawn as in the newest frame.
  client = new RoomClient({
    server: location.origin,
    room,
    name,
    input: () => steerInput(...currentSteer()),
    model: arenaModel,
    smooth: ['pos'],
    latest: ['pellet'],
    onState: onSessionState,
    onWelcome,
    onFrame,
    onServerError: (m) => console.warn(`tickroom: server error ${m.code}: ${m.message}`),
  });
  session = client.session;
  client.start();
}

function leaveToMenu(error = '') {
  client?.leave();
  client = null;
  session = null;
  game = null;
  showMenu(error);
}

// ---- network events ----

/**
 * A Welcome, after the client took it in: a new player (first join, or a
 * resume that came back fresh) starts over, the same player taken back keeps
 * everything (the client kept its prediction, interpolation and scores).
 */
function onWelcome(msg, { continued = false } = {}) {
  game = client.game;
  if (game.name !== 'arena') console.warn(`tickroom: this page plays the arena, the room runs ${game.name}`);
  arena = { ...DEFAULT_ARENA, ...game.config };
  if (continued) return;
  pellets = new Map();
  names = new Map();
  scores = new Map();
  renderer.setArena(arena.width, arena.height);
}

/** Until a Welcome names the room's arena: tickroom_sim's defaults. */
const DEFAULT_ARENA = { width: 1600, height: 1000, player_radius: 18, pellet_radius: 6 };

/**
 * A frame (named components), after the client fed its predictor and
 * interpolator: the demo keeps the players' names and scores, and the
 * pellets (and pops the eaten ones).
 */
function onFrame(frame) {
  const next = new Map();
  const nextNames = new Map();
  const nextScores = new Map();
  for (const { id, components: c } of frame.entities) {
    if (c.player) {
      nextNames.set(c.player.id, c.player.name);
      nextScores.set(c.player.id, c.score?.points ?? 0);
    } else if (c.pellet && c.pos) {
      const old = pellets.get(id);
      next.set(id, old && old.x === c.pos.x && old.y === c.pos.y ? old : { id: c.pellet.slot, x: c.pos.x, y: c.pos.y });
    }
  }
  const t = performance.now();
  for (const [id, old] of pellets) {
    const now2 = next.get(id);
    if (!now2 || now2.x !== old.x || now2.y !== old.y) renderer.pop(old.x, old.y, t);
  }
  pellets = next;
  names = nextNames;
  scores = nextScores;
}

function onSessionState(c) {
  if (c.state === 'closed' && c.closeInfo?.roomFull) {
    const room = c.room;
    client = null;
    session = null;
    game = null;
    showMenu(`Room "${room}" is full (1013) — pick another room or Quick play.`);
    ui.room.value = room === QUICK_ROOM ? '' : room;
    ui.room.select();
  }
  updateBanner(performance.now());
  updateHud(performance.now(), true);
}

// ---- HUD, scoreboard, banner ----

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

let lastHud = 0;
function updateHud(now, force = false) {
  if (!force && now - lastHud < 200) return;
  lastHud = now;
  if (!session) return;
  ui.conn.dataset.state = session.reconnecting ? 'reconnecting' : session.state;
  setText(ui.connText, connText(session, now));
  setText(ui.hudPing, session.rtt === null ? '–' : `${Math.round(session.rtt)} ms`);
  setText(ui.hudTick, game ? String(game.tick) : '–');
  setText(ui.hudSim, game ? rateText(game) : '–');
  // Frames applied per second, full snapshots and deltas alike; then the
  // deltas that did not apply, refused and checksum mismatches (both should
  // stay 0).
  setText(ui.hudRate, game ? `${Math.round(game.rate.rate(now))}/s` : '–');
  setText(ui.hudRefused, `refused ${session.frames.refused} · mismatches ${session.frames.mismatches}`);
  setText(ui.hudPlayers, game ? String(scores.size) : '–');
  updateScoreboard();
}

/** "20 Hz", or "20 Hz · 60 Hz steps" with sub-steps. */
function rateText(g) {
  return g.simRate === g.tickRate ? `${g.tickRate} Hz` : `${g.tickRate} Hz · ${g.simRate} Hz steps`;
}

function connText(s, now) {
  if (s.reconnecting) return 'reconnecting…';
  if (s.state === 'connected' && s.lastResumed && s.resumedAt !== null && now - s.resumedAt < RESUMED_NOTICE_MS) return 'resumed';
  return STATE_TEXT[s.state] ?? s.state;
}

function updateScoreboard() {
  if (!game) {
    ui.scores.replaceChildren();
    return;
  }
  const rows = [...scores].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const top = rows.slice(0, 10);
  if (!top.some(([id]) => id === game.ownId)) {
    const own = rows.find(([id]) => id === game.ownId);
    if (own) top.push(own);
  }
  const key = top.map(([id, score]) => `${id}:${score}:${names.get(id) ?? ''}`).join('|');
  if (ui.scores.dataset.key === key) return;
  ui.scores.dataset.key = key;
  ui.scores.replaceChildren(
    ...top.map(([id, score]) => {
      const li = document.createElement('li');
      if (id === game.ownId) li.className = 'own';
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = playerColor(id);
      const nm = document.createElement('span');
      nm.className = 'who';
      nm.textContent = names.get(id) || `player-${id}`;
      const sc = document.createElement('span');
      sc.className = 'score';
      sc.textContent = String(score);
      li.append(sw, nm, sc);
      return li;
    }),
  );
}

function updateBanner(now) {
  const s = session;
  if (!s || (s.state !== 'reconnecting' && s.state !== 'closed')) {
    ui.banner.hidden = true;
    return;
  }
  ui.banner.hidden = false;
  ui.banner.dataset.state = s.state;
  const info = s.closeInfo;
  if (s.state === 'reconnecting') {
    const wait = Math.max(0, (s.retryAt ?? now) - now) / 1000;
    const what = s.canResume() ? 'resuming' : 'reconnecting';
    setText(ui.bannerText, `${info?.message ?? 'Connection lost'} — ${what} in ${wait.toFixed(1)} s (attempt ${s.attempt})`);
    setText(ui.bannerRetry, 'Retry now');
  } else {
    setText(ui.bannerText, `${info?.message ?? 'Disconnected'} (code ${info?.code ?? '?'})`);
    setText(ui.bannerRetry, 'Rejoin');
  }
}

// ---- the frame loop ----

let lastFrame = performance.now();

function frame() {
  const now = performance.now();
  const elapsed = Math.min(now - lastFrame, 1000);
  lastFrame = now;
  const menuShown = ui.menu.classList.contains('shown');
  const offline = session && session.state !== 'connected';
  const view = {
    now,
    pellets: menuShown && !game ? menuPellets : [],
    pelletRadius: 6,
    playerRadius: 18,
    players: [],
    dim: menuShown ? 0.55 : offline ? 0.3 : 0,
  };
  let own = null;
  if (game) {
    client.advance(now, elapsed);
    view.pelletRadius = arena.pellet_radius;
    view.playerRadius = arena.player_radius;
    const drawn = client.view(now);
    view.pellets = [];
    for (const { components: c } of drawn.entities) {
      if (c.player && c.pos) continue;
      if (c.pellet && c.pos) view.pellets.push({ id: c.pellet.slot, x: c.pos.x, y: c.pos.y });
    }
    view.players = drawn.entities
      .filter((e) => e.components.player && e.components.pos)
      .map(({ components: c, own: mine }) => ({ id: c.player.id, x: c.pos.x, y: c.pos.y, name: c.player.name, score: c.score?.points ?? 0, own: mine }));
    own = drawn.own?.components.pos ?? null;
  }
  renderer.draw(view);
  clearPanels(own);
  updateHud(now);
  if (session?.state === 'reconnecting') updateBanner(now);
  requestAnimationFrame(frame);
}

/** Panels faded this frame because the own orb is under them. */
let panelsCleared = [];

/**
 * The panels over the arena must never hide the player's own orb (it may
 * spawn under the HUD): a panel the orb (with its name label) overlaps fades
 * until the orb moves away.
 */
function clearPanels(own) {
  const cleared = [];
  const c = own ? ui.canvas.getBoundingClientRect() : null;
  for (const [name, el] of [['hud', ui.hud], ['scoreboard', ui.scoreboard]]) {
    let over = false;
    if (own && c && !el.hidden) {
      const k = c.width / arena.width; // CSS pixels per world unit
      const x = c.left + own.x * k;
      const y = c.top + own.y * k;
      const r = arena.player_radius * k + 16; // the orb, its glow and name label
      const p = el.getBoundingClientRect();
      over = x + r > p.left && x - r < p.right && y + r > p.top && y - r < p.bottom;
    }
    el.classList.toggle('clear-of-orb', over);
    if (over) cleared.push(name);
  }
  panelsCleared = cleared;
}

addEventListener('resize', () => renderer.resize());
matchMedia(`(resolution: ${devicePixelRatio}dppx)`).addEventListener?.('change', () => renderer.resize());

// ---- state for tests and the curious ----

Object.defineProperty(window, '__tickroom', {
  get() {
    const pred = game?.predictor;
    const round = (s) => (s?.pos ? { x: s.pos.x, y: s.pos.y } : null);
    return {
      state: session?.state ?? 'menu',
      room: session?.room ?? null,
      ownId: game?.ownId ?? null,
      tick: game?.tick ?? null,
      tickRate: game?.tickRate ?? null, // frames per second (the Welcome's tick_rate_hz)
      simRate: game?.simRate ?? null, // simulation steps per second the own player is predicted at (sim_rate_hz)
      stepsPerFrame: pred?.stepsPerFrame ?? null,
      game: game?.name ?? null, // the room's game (the Welcome's)
      snapshots: game?.frames ?? 0, // frames applied in this game: whole frames and deltas
      snapshotRate: game ? game.rate.rate(performance.now()) : 0,
      fullSnapshots: session?.frames.full ?? 0, // whole frames, since the page joined, across reconnects
      deltas: session?.frames.delta ?? 0,
      refusedDeltas: session?.frames.refused ?? 0, // frames refused (not applied), checksum mismatches aside
      checksumMismatches: session?.frames.mismatches ?? 0, // frames that did not hash to their checksum
      rtt: session?.rtt ?? null,
      ackLatency: session?.ackLatency ?? null, // ms from an input to the State that acknowledged it
      predicted: round(pred?.state),
      server: round(pred?.server),
      correction: pred ? { x: pred.error.pos?.x ?? 0, y: pred.error.pos?.y ?? 0 } : null,
      corrections: pred?.corrections ?? 0, // smoothed corrections over half a unit
      worstCorrection: pred?.worstCorrection ?? 0, // the largest smoothed one, units
      snaps: pred?.snaps ?? 0,
      panelsCleared: [...panelsCleared], // panels faded because the own orb is under them
      arena: game ? { width: arena.width, height: arena.height } : null,
      playersSeen: client ? [...client.playersSeen] : [],
      players: game ? [...scores.keys()] : [], // player ids in the newest frame
      names: game ? Object.fromEntries(names) : {},
      pellets: game ? pellets.size : 0,
      pelletSpots: game ? [...pellets.values()].map(({ x, y }) => ({ x, y })) : [],
      seq: session?.seq ?? 0,
      reconnects: session?.reconnects ?? 0,
      resumed: session?.lastResumed ?? null, // whether the newest join took back the earlier player (null: no join yet)
      resumes: session?.resumes ?? 0, // joins that took back the player, since the page joined
      resumeAttempts: session?.resumeAttempts ?? 0, // joins that carried a resume token
      canResume: session ? session.canResume() : false, // a resume token is held (the token itself is a credential)
      score: game ? (scores.get(game.ownId) ?? null) : null,
      scores: game ? Object.fromEntries(scores) : {},
      close: session?.closeInfo ?? null,
      menuShown: ui.menu.classList.contains('shown'),
      menuError: ui.menuError.textContent,
      canvas: { width: ui.canvas.width, height: ui.canvas.height, cssWidth: ui.canvas.clientWidth, cssHeight: ui.canvas.clientHeight, dpr: devicePixelRatio },
      replay: replayState(), // the recordings viewer's state (null unless /?replay=<file>)
    };
  },
});

// `/?replay=<file>`: the recordings viewer (replay.js runs its own loop on
// this renderer). Otherwise a reload of a page that was in a game resumes it
// (the token survives in sessionStorage), else the menu.
const replayFile = params.get('replay');
const navigation = performance.getEntriesByType?.('navigation')?.[0];
const urlRoom = params.get('room');
if (replayFile !== null) {
  startReplay(replayFile, renderer);
} else if (navigation?.type === 'reload' && urlRoom && validRoomId(urlRoom) && resumeTokens.get(urlRoom)) {
  join(urlRoom, { resume: true });
} else {
  showMenu();
}
if (replayFile === null) requestAnimationFrame(frame);
