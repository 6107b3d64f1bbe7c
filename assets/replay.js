// The recordings viewer, `/?replay=<file>`: plays a room recording in the
// game's own renderer, with no player of its own: it never opens
// a WebSocket and never shows the join menu. It exists so an operator can
// watch what happened in a room (a bug report, a dispute, a divergence) the
// way the players saw it, from the server's replay of the file
// (crates/server/src/http/recordings_http.rs), without a separate tool.
//
// Data: the summary (`GET /recordings/{file}`: the game, its schema and
// config, ticks, players, how the file ended, any divergence) first, then
// frames in pages of PAGE_TICKS ticks (`GET
// /recordings/{file}/frames?from=T&count=N`: per frame a u32 LE length, then
// a protocol State exactly as the WebSocket carries it, its frame whole,
// decoded with tickroom-client's Replica from the summary's schema into
// entities with named components; a JSON body of such entities, `{ frames:
// [{ tick, entities: [{ id, components: { name: { field: value } } }] }] }`,
// is read too). The page under the playhead is fetched first, then the next
// one, so playback reaches it already loaded; a seek fetches the page around
// its target. Pages far from the playhead are dropped. Each request re-runs
// the replay on the server up to its page, so at most two are in flight.
//
// Drawing: the viewer knows no game. The summary's game name picks a replay
// renderer from REPLAY_RENDERERS (the arena's, replay-arena.js; skirmish's,
// skirmish/skirmish-replay.js), made on main.js's arena Renderer (its canvas,
// sized to the window); until the summary is in, the arena's draws the empty
// backdrop. A game without one shows "no viewer for game X" and plays
// nothing. A replay renderer has:
// - `configure(summary)`: the recorded room's config, rates and players;
// - `prepare(frame)`: a decoded frame (entities with named components) as
//   it draws it, with its `tick`;
// - `draw(scene)`: `{ now, frame, next, at, shown, live, jumped, speed, dim
//   }`: `frame` the prepared frame at or before the playhead (null: none
//   yet), `next` the one after it if loaded, `at` the fractional tick to
//   draw, `shown` the frame drawn last, `live` whether `frame` is the
//   playhead's (not the last one shown while a page loads), `jumped` a seek
//   since the last frame drawn, `dim` 0..1 to fade the picture;
// - `scoreboard(frame)`: `{ title, rows: [{ id, name, score, color }] }`;
// - `describe(frame)`: what `window.__tickroom.replay` adds of it (at least
//   `players`, their ids, and `names`).
//
// Playback: the playhead is a fractional tick advanced by elapsed time ×
// tick rate × speed; each animation frame draws the two recorded frames
// around it interpolated, so 20 Hz frames look smooth at 60 fps. Where
// the next page is not loaded yet, playback waits ("buffering…").
//
// The endpoints are behind the operator token (`--api-token`), sent as
// `Authorization: Bearer` on every request. It comes from the URL fragment
// (`#token=…`, never sent to a server nor logged; removed from the address
// bar once read), else from this tab's sessionStorage, else a prompt; a
// refused or missing token shows a form to enter another.
//
// `?page=N` (20–600) sets the ticks per request.
// `replayState()` is main.js's `window.__tickroom.replay`, for the browser
// tests in tests/browser/replay.mjs and replay_skirmish.mjs.

import { Replica, decodeSchema, decodeServer, frameView } from 'tickroom-client';
import { ArenaReplay } from './replay-arena.js';
import { SkirmishReplay } from './skirmish/skirmish-replay.js';

/** Ticks fetched per request (10 s at 20 Hz); the server allows at most 600. */
export const PAGE_TICKS = 200;
/** Playback speeds offered. */
export const SPEEDS = [0.25, 0.5, 1, 2, 4];
/** Pages kept in memory (the playhead's, the next, the rest by distance). */
const MAX_PAGES = 8;
/** Frame requests in flight at most (the server runs two replays at once). */
const MAX_IN_FLIGHT = 2;
/** A failed page is asked for again after this long, ms. */
const PAGE_RETRY_MS = 1500;
/** Longest playback step of one animation frame, ms (a hidden tab pauses time). */
const MAX_STEP_MS = 250;
/** The replay renderer of each game the viewer can draw, by game name, made on main.js's Renderer. */
const REPLAY_RENDERERS = {
  arena: (renderer) => new ArenaReplay(renderer),
  skirmish: (renderer) => new SkirmishReplay(renderer),
};
const TOKEN_KEY = 'tickroom.operatorToken';

const $ = (id) => document.getElementById(id);

let viewer = null;

/** The viewer's state for `window.__tickroom.replay` (null when not replaying). */
export function replayState() {
  return viewer?.state() ?? null;
}

/**
 * Starts the viewer of recording `file` on `renderer` (main.js's). Replaces
 * the game's page: hides the menu, shows the replay panel and controls, and
 * runs its own animation loop.
 */
export function startReplay(file, renderer) {
  viewer = new Viewer(file, renderer);
  viewer.start();
  return viewer;
}

/** An API answer other than 2xx, or a request that could not be made. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function sessionStore() {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null; // storage blocked
  }
}

/** Whether `token` can go in a header (visible ASCII). */
const sendableToken = (token) => /^[\x21-\x7e]+$/.test(token);

/** `m:ss.s` for a number of seconds. */
function clock(secs) {
  const s = Math.max(0, secs);
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, '0')}`;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** The schema a summary carries (`schema`: its bytes as an array, or hex), decoded; null without one. */
export function summarySchema(summary) {
  const raw = summary?.schema;
  if (Array.isArray(raw)) return decodeSchema(Uint8Array.from(raw));
  if (typeof raw === 'string' && /^([0-9a-f]{2})*$/i.test(raw)) return decodeSchema(Uint8Array.from(raw.match(/../g) ?? [], (b) => parseInt(b, 16)));
  return null;
}

/**
 * The frames of one `frames` answer body: length-prefixed State messages
 * decoded with `schema` (each page starts from a whole frame), or JSON
 * (`{ frames }` or a list) of frames with named components; each made ready
 * to draw by `prepare` (the game's replay renderer's) and marked with its
 * page and index there.
 */
export function decodeFrames(body, page, schema, prepare) {
  let named;
  if (typeof body === 'string' || (body !== null && typeof body === 'object' && !(body instanceof ArrayBuffer) && !ArrayBuffer.isView(body))) {
    const json = typeof body === 'string' ? JSON.parse(body) : body;
    named = Array.isArray(json) ? json : json?.frames;
    if (!Array.isArray(named)) throw new Error('a JSON body without frames');
  } else {
    if (!schema) throw new Error("the summary has no schema to decode the frames with");
    const bytes = body instanceof Uint8Array ? body : new Uint8Array(body);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const replica = new Replica(schema);
    named = [];
    let off = 0;
    while (off < bytes.length) {
      if (off + 4 > bytes.length) throw new Error(`frame ${named.length}: truncated length`);
      const len = view.getUint32(off, true);
      off += 4;
      if (off + len > bytes.length) throw new Error(`frame ${named.length}: ${len} bytes announced, ${bytes.length - off} left`);
      const msg = decodeServer(bytes.subarray(off, off + len));
      off += len;
      if (msg.type !== 'State') throw new Error(`frame ${named.length}: a ${msg.type}, not a State`);
      const applied = replica.apply(msg);
      if (!applied.checksumOk) throw new Error(`frame ${named.length}: tick ${applied.tick} does not match its checksum`);
      named.push(frameView(schema, replica.frame));
    }
  }
  const frames = [];
  for (const f of named) {
    if (!Number.isInteger(f?.tick) || !Array.isArray(f.entities)) throw new Error(`frame ${frames.length}: not a frame`);
    if (frames.length && f.tick <= frames[frames.length - 1].tick) throw new Error(`frame ${frames.length}: tick ${f.tick} out of order`);
    frames.push({ ...prepare(f), page, index: frames.length });
  }
  return frames;
}

class Viewer {
  constructor(file, renderer) {
    this.file = file;
    this.renderer = renderer;
    this.base = `/recordings/${encodeURIComponent(file)}`;
    const page = Number(new URLSearchParams(location.search).get('page'));
    this.pageTicks = Number.isInteger(page) && page >= 20 && page <= 600 ? page : PAGE_TICKS;
    this.token = null;
    this.summary = null;
    this.firstTick = null;
    this.lastTick = null;
    this.rate = 20;
    this.game = null; // the replay renderer: the arena's until the summary names the game
    this.schema = null; // the recorded game's schema, from the summary
    this.pages = new Map(); // index -> { frames: [...] (null while loading), failedAt }
    this.inFlight = 0;
    this.fetches = 0;
    this.pos = 0; // the playhead, a fractional tick
    this.playing = false;
    this.speed = 1;
    this.ended = false;
    this.buffering = false;
    this.loadingSummary = false;
    this.error = null; // { kind, status, code, message }
    this.playingBeforeError = false;
    this.shown = null; // the frame drawn last
    this.tick = null; // its tick
    this.framesDrawn = 0;
    this.scrubbing = false;
    this.jumped = false; // seeked since the last frame drawn (no bursts nor streaks for the jump)
    this.lastNow = performance.now();
    this.lastUi = 0;
    this.uiKey = '';
    this.generation = 0; // bumped on a new token: answers to older requests are dropped
    this.ui = {
      panel: $('replay'),
      menu: $('menu'),
      scoreboard: $('scoreboard'),
      scores: $('scores'),
      scoresTitle: $('scoreboard').querySelector('h2'),
      room: $('replay-room'),
      game: $('replay-game'),
      node: $('replay-node'),
      started: $('replay-started'),
      length: $('replay-length'),
      players: $('replay-players'),
      end: $('replay-end'),
      warning: $('replay-warning'),
      play: $('replay-play'),
      seek: $('replay-seek'),
      time: $('replay-time'),
      speed: $('replay-speed'),
      status: $('replay-status'),
      errorBox: $('replay-error'),
      errorForm: $('replay-error-form'),
      errorTitle: $('replay-error-title'),
      errorText: $('replay-error-text'),
      tokenRow: $('replay-token-row'),
      tokenInput: $('replay-token'),
      tokenUse: $('replay-token-use'),
      retry: $('replay-retry'),
    };
  }

  start() {
    const ui = this.ui;
    ui.menu.classList.remove('shown');
    ui.panel.hidden = false;
    document.body.classList.add('replaying');
    document.title = `replay · tickroom`;
    setText(ui.room, this.file);
    this.game = REPLAY_RENDERERS.arena(this.renderer);
    ui.speed.value = String(this.speed);

    ui.play.addEventListener('click', () => this.togglePlay());
    ui.speed.addEventListener('change', () => this.setSpeed(Number(ui.speed.value)));
    ui.seek.addEventListener('pointerdown', () => (this.scrubbing = true));
    for (const type of ['pointerup', 'pointercancel', 'blur']) ui.seek.addEventListener(type, () => (this.scrubbing = false));
    ui.seek.addEventListener('input', () => this.seek(Number(ui.seek.value)));
    ui.seek.addEventListener('change', () => {
      this.scrubbing = false;
      this.seek(Number(ui.seek.value));
    });
    ui.errorForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = ui.tokenInput.value.trim();
      if (!t) return;
      ui.tokenInput.value = '';
      this.useToken(t);
    });
    ui.retry.addEventListener('click', () => {
      this.clearError();
      this.load();
    });
    addEventListener('keydown', (ev) => this.onKey(ev));

    const fromUrl = this.takeFragmentToken();
    this.token = fromUrl ?? sessionStore()?.getItem(TOKEN_KEY) ?? null;
    requestAnimationFrame(() => this.loop());
    if (this.token) this.load();
    // After the first paint, so the page is there behind the dialog.
    else setTimeout(() => this.askToken(), 50);
  }

  /** The token of a `#token=…` fragment, kept for the tab and taken out of the address bar. */
  takeFragmentToken() {
    // By hand, not URLSearchParams: that would read a `+` (base64) as a space.
    const parts = location.hash.replace(/^#/, '').split('&');
    const at = parts.findIndex((part) => part.startsWith('token='));
    if (at < 0) return null;
    let token;
    try {
      token = decodeURIComponent(parts[at].slice('token='.length)).trim();
    } catch {
      token = parts[at].slice('token='.length).trim(); // not %-encoding: as is
    }
    parts.splice(at, 1);
    const rest = parts.filter(Boolean).join('&');
    history.replaceState(null, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
    if (!token) return null;
    try {
      sessionStore()?.setItem(TOKEN_KEY, token);
    } catch {
      // storage full or blocked: kept in memory only
    }
    return token;
  }

  askToken() {
    const t = window.prompt("Operator token for this server's recordings (its --api-token):")?.trim();
    if (t) this.useToken(t);
    else this.fail({ kind: 'token-needed', status: null, code: null, message: 'The recordings are behind the operator token.' });
  }

  useToken(token) {
    this.token = token;
    try {
      sessionStore()?.setItem(TOKEN_KEY, token);
    } catch {
      // kept in memory only
    }
    // Answers to requests made with the old token are dropped: ask again.
    this.generation++;
    for (const [p, page] of this.pages) if (!page.frames) this.pages.delete(p);
    this.clearError();
    this.load();
  }

  /** GET `path` with the token; the Response, or an ApiError. */
  async api(path) {
    if (!this.token) throw new ApiError(401, 'unauthorized', 'no operator token given');
    if (!sendableToken(this.token)) throw new ApiError(403, 'forbidden', 'the token has characters an HTTP header cannot carry');
    let resp;
    try {
      resp = await fetch(path, { headers: { Authorization: `Bearer ${this.token}` }, cache: 'no-store' });
    } catch (e) {
      throw new ApiError(null, 'network', `the server could not be reached (${e.message})`);
    }
    if (resp.ok) return resp;
    let body = null;
    try {
      body = await resp.json();
    } catch {
      // not the JSON error shape
    }
    throw new ApiError(resp.status, body?.code ?? null, body?.message ?? `${resp.status} ${resp.statusText}`);
  }

  /** Fetches the summary (once), then playback starts. */
  async load() {
    if (this.summary || this.loadingSummary || !this.token) return;
    this.loadingSummary = true;
    const gen = this.generation;
    try {
      const resp = await this.api(this.base);
      const summary = await resp.json();
      if (gen !== this.generation) return;
      this.setSummary(summary);
    } catch (e) {
      if (gen === this.generation) this.failWith(e);
    } finally {
      this.loadingSummary = false;
    }
  }

  setSummary(s) {
    const ui = this.ui;
    this.summary = s;
    this.rate = s.tick_rate_hz > 0 ? s.tick_rate_hz : 20;
    let config = s.config ?? s.arena;
    if (typeof config === 'string') {
      try {
        config = JSON.parse(config);
      } catch {
        config = null;
      }
    }
    try {
      this.schema = summarySchema(s);
    } catch (e) {
      this.fail({ kind: 'unreadable', status: 200, code: null, message: `the recording's game schema does not decode (${e.message})` });
      return;
    }
    document.title = `replay: ${s.room} · tickroom`;
    setText(ui.room, s.room);
    setText(ui.game, s.game ? `${s.game} v${s.game_version}` : '–');
    setText(ui.node, s.node || '–');
    setText(ui.started, s.started_unix_ms ? new Date(s.started_unix_ms).toLocaleString() : '–');
    setText(ui.length, `${clock(s.duration_secs)} · ${s.ticks} ticks at ${this.rate} Hz`);
    setText(ui.players, `${s.players?.length ?? 0} joined · ${s.peak_players} at most`);
    setText(ui.end, s.end ? `${s.end.reason} at tick ${s.end.last_tick}` : '–');
    const warnings = [];
    if (s.divergence) {
      const d = s.divergence;
      const detail = (d.detail ?? []).slice(0, 3).join('; ');
      warnings.push(`⚠ The replay diverged from the recording at tick ${d.tick}: from there on this may differ from what the players saw.${detail ? ` ${detail}` : ''}`);
    }
    if (s.read_error) warnings.push(`⚠ The recording ends early (${s.read_error}).`);
    else if (!s.end) warnings.push('The recording has no end yet: the room may still be running, or its server stopped abruptly.');
    ui.warning.hidden = warnings.length === 0;
    ui.warning.dataset.level = s.divergence || s.read_error ? 'warn' : 'info';
    setText(ui.warning, warnings.join(' '));
    const makeRenderer = Object.hasOwn(REPLAY_RENDERERS, s.game) ? REPLAY_RENDERERS[s.game] : null;
    if (!makeRenderer) {
      const message = `no viewer for game "${s.game}": the recording can still be checked with \`tickroom replay ${this.file}\``;
      this.fail({ kind: 'no-viewer', status: 200, code: null, message });
      return;
    }
    this.game = makeRenderer(this.renderer);
    this.game.configure({ ...s, config });
    if (!Number.isInteger(s.first_tick) || !Number.isInteger(s.last_tick)) {
      this.fail({ kind: 'empty', status: 200, code: null, message: 'The recording has no ticks to play.' });
      return;
    }
    this.firstTick = s.first_tick;
    this.lastTick = s.last_tick;
    this.pos = this.firstTick;
    ui.seek.min = String(this.firstTick);
    ui.seek.max = String(this.lastTick);
    ui.seek.value = String(this.firstTick);
    ui.seek.disabled = false;
    ui.play.disabled = false;
    this.playing = true;
  }

  // ---- errors ----

  failWith(e) {
    const status = e instanceof ApiError ? e.status : null;
    const code = e instanceof ApiError ? e.code : null;
    const message = e.message ?? String(e);
    let kind;
    if (status === 401) kind = 'token-needed';
    else if (status === 403 && code === 'admin_disabled') kind = 'disabled';
    else if (status === 403) kind = 'token-refused';
    else if (status === 404 && code === 'recording_disabled') kind = 'disabled';
    else if (status === 404 || status === 400) kind = 'not-found';
    else if (status === 422) kind = 'unreadable';
    else if (status === null && code === 'network') kind = 'network';
    else kind = 'failed';
    this.fail({ kind, status, code, message });
  }

  fail(error) {
    const ui = this.ui;
    if (!this.error) this.playingBeforeError = this.playing;
    this.error = error;
    this.playing = false;
    const token = error.kind === 'token-needed' || error.kind === 'token-refused';
    const titles = {
      'token-needed': 'Operator token needed',
      'token-refused': 'Operator token refused',
      disabled: 'Recordings are not available',
      'not-found': 'No such recording',
      unreadable: 'Unreadable recording',
      empty: 'Nothing to play',
      'no-viewer': 'No viewer for this game',
      network: 'Server unreachable',
      failed: 'The replay failed',
    };
    const texts = {
      'token-needed': "The recordings are behind this server's operator token (its --api-token). Enter it to watch.",
      'token-refused': `The server refused the token (${error.message}). Enter the right one.`,
    };
    const msg = error.message ?? '';
    const said = msg && `${msg[0].toUpperCase()}${msg.slice(1)}${/[.!?]$/.test(msg) ? '' : '.'}`;
    setText(ui.errorTitle, titles[error.kind] ?? titles.failed);
    setText(ui.errorText, texts[error.kind] ?? said);
    ui.tokenRow.hidden = !token;
    ui.tokenUse.hidden = !token;
    ui.retry.hidden = !(error.kind === 'network' || error.kind === 'failed');
    ui.errorBox.hidden = false;
    if (token) ui.tokenInput.focus();
  }

  clearError() {
    if (this.error && this.summary && this.playingBeforeError) this.playing = true;
    this.error = null;
    this.ui.errorBox.hidden = true;
    for (const [p, page] of this.pages) if (page.failedAt !== null && page.frames === null) this.pages.delete(p);
  }

  // ---- controls ----

  togglePlay() {
    if (!this.summary || this.error || this.firstTick === null) return;
    if (this.playing) {
      this.playing = false;
    } else {
      if (this.ended || this.pos >= this.lastTick) this.seek(this.firstTick);
      this.ended = false;
      this.playing = true;
    }
    this.updateUi(performance.now(), true);
  }

  setSpeed(speed) {
    if (!SPEEDS.includes(speed)) return;
    this.speed = speed;
    this.ui.speed.value = String(speed);
  }

  seek(tick) {
    if (this.firstTick === null || !Number.isFinite(tick)) return;
    this.pos = Math.min(this.lastTick, Math.max(this.firstTick, Math.round(tick)));
    this.ended = false;
    this.jumped = true;
    this.updateUi(performance.now(), true);
  }

  onKey(ev) {
    const t = ev.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLButtonElement || t instanceof HTMLTextAreaElement) return;
    if (ev.code === 'Space') {
      this.togglePlay();
      ev.preventDefault();
    } else if (ev.code === 'ArrowLeft' || ev.code === 'ArrowRight') {
      if (this.firstTick === null) return;
      this.seek(this.pos + (ev.code === 'ArrowLeft' ? -this.rate : this.rate));
      ev.preventDefault();
    }
  }

  // ---- pages of frames ----

  pageOf(tick) {
    const last = Math.floor((this.lastTick - this.firstTick) / this.pageTicks);
    return Math.min(last, Math.max(0, Math.floor((tick - this.firstTick) / this.pageTicks)));
  }

  lastPage() {
    return this.pageOf(this.lastTick);
  }

  ready(p) {
    return this.pages.get(p)?.frames != null;
  }

  request(p, now) {
    const have = this.pages.get(p);
    if (have && (have.frames || have.failedAt === null || now - have.failedAt < PAGE_RETRY_MS)) return;
    if (this.inFlight >= MAX_IN_FLIGHT) return;
    const page = { frames: null, failedAt: null };
    this.pages.set(p, page);
    this.inFlight++;
    this.fetches++;
    const gen = this.generation;
    const from = this.firstTick + p * this.pageTicks;
    (async () => {
      try {
        const resp = await this.api(`${this.base}/frames?from=${from}&count=${this.pageTicks}`);
        const json = /json/.test(resp.headers.get('content-type') ?? '');
        const body = json ? await resp.json() : await resp.arrayBuffer();
        const frames = decodeFrames(body, p, this.schema, (f) => this.game.prepare(f));
        const announced = Number(resp.headers.get('x-tickroom-frames'));
        if (resp.headers.has('x-tickroom-frames') && announced !== frames.length) {
          throw new Error(`the server announced ${announced} frames and sent ${frames.length}`);
        }
        if (gen !== this.generation || this.pages.get(p) !== page) return;
        page.frames = frames;
      } catch (e) {
        if (gen !== this.generation || this.pages.get(p) !== page) return;
        page.failedAt = performance.now();
        if (e instanceof ApiError && e.code !== 'network') this.failWith(e);
        else if (!(e instanceof ApiError)) {
          console.error(`tickroom replay: frames from tick ${from}: ${e.message}`);
          this.fail({ kind: 'failed', status: null, code: 'bad_frames', message: `frames from tick ${from} did not decode: ${e.message}` });
        }
        // A network error: asked for again after PAGE_RETRY_MS.
      } finally {
        this.inFlight--;
      }
    })();
  }

  /** The playhead's page, then the next one once it is in; old pages go. */
  fetchAround(now) {
    const p = this.pageOf(Math.floor(this.pos));
    this.request(p, now);
    if (this.ready(p) && p < this.lastPage()) this.request(p + 1, now);
    if (this.pages.size > MAX_PAGES) {
      const far = [...this.pages.entries()]
        .filter(([q, page]) => q !== p && q !== p + 1 && page.frames)
        .sort((x, y) => Math.abs(y[0] - p) - Math.abs(x[0] - p));
      for (const [q] of far.slice(0, this.pages.size - MAX_PAGES)) this.pages.delete(q);
    }
  }

  /** The furthest tick playback may reach from `tick` with the pages loaded. */
  bufferedUntil(tick) {
    let p = this.pageOf(tick);
    if (!this.ready(p)) return tick;
    const last = this.lastPage();
    while (p <= last && this.ready(p)) p++;
    return p > last ? this.lastTick : this.firstTick + p * this.pageTicks - 1;
  }

  /** The newest frame at or before tick `t`, if its page is loaded. */
  frameAt(t) {
    const tick = Math.floor(t);
    const p = this.pageOf(tick);
    const frames = this.pages.get(p)?.frames;
    if (!frames) return null;
    let lo = 0;
    let hi = frames.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (frames[mid].tick <= tick) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found >= 0) return frames[found];
    const prev = this.pages.get(p - 1)?.frames;
    return prev?.length ? prev[prev.length - 1] : (frames[0] ?? null);
  }

  /** The frame after `f`, if loaded. */
  frameAfter(f) {
    const frames = this.pages.get(f.page)?.frames;
    if (frames && f.index + 1 < frames.length) return frames[f.index + 1];
    const next = this.pages.get(f.page + 1)?.frames;
    return next?.[0] ?? null;
  }

  // ---- the loop ----

  loop() {
    const now = performance.now();
    const elapsed = Math.min(Math.max(now - this.lastNow, 0), MAX_STEP_MS);
    this.lastNow = now;
    if (this.summary && this.firstTick !== null && !this.error) {
      this.advance(elapsed);
      this.fetchAround(now);
    }
    this.draw(now);
    // Text follows at most every 100 ms, but a change of state at once.
    const key = `${this.playing}|${this.ended}|${this.buffering}|${this.error?.kind}|${this.summary !== null}`;
    this.updateUi(now, key !== this.uiKey);
    this.uiKey = key;
    requestAnimationFrame(() => this.loop());
  }

  advance(elapsedMs) {
    if (!this.playing) {
      this.buffering = false;
      return;
    }
    const limit = this.bufferedUntil(Math.floor(this.pos));
    const next = this.pos + (elapsedMs / 1000) * this.rate * this.speed;
    if (next >= this.lastTick && limit >= this.lastTick) {
      this.pos = this.lastTick;
      this.playing = false;
      this.ended = true;
      this.buffering = false;
    } else if (next > limit) {
      this.pos = Math.max(this.pos, limit);
      this.buffering = true;
    } else {
      this.pos = next;
      this.buffering = false;
    }
  }

  draw(now) {
    const a = this.summary ? this.frameAt(this.pos) : null;
    const frame = a ?? this.shown;
    this.game.draw({
      now,
      frame,
      next: a ? this.frameAfter(a) : null,
      at: a ? this.pos : (frame?.tick ?? 0),
      shown: this.shown,
      live: a !== null,
      jumped: this.jumped,
      speed: this.speed,
      dim: this.error ? 0.55 : a ? 0 : 0.3,
    });
    if (a) {
      this.framesDrawn++;
      this.shown = a;
      this.tick = a.tick;
      this.jumped = false;
      this.updateScoreboard(a);
    }
  }

  updateScoreboard(f) {
    const { title, rows } = this.game.scoreboard(f);
    const key = `${title}|${rows.map(({ id, name, score }) => `${id}:${score}:${name}`).join('|')}`;
    const list = this.ui.scores;
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    setText(this.ui.scoresTitle, title);
    list.replaceChildren(
      ...rows.map(({ name, score, color }) => {
        const li = document.createElement('li');
        const sw = document.createElement('span');
        sw.className = 'swatch';
        sw.style.background = color;
        const nm = document.createElement('span');
        nm.className = 'who';
        nm.textContent = name;
        const sc = document.createElement('span');
        sc.className = 'score';
        sc.textContent = score;
        li.append(sw, nm, sc);
        return li;
      }),
    );
    this.ui.scoreboard.hidden = false;
  }

  updateUi(now, force = false) {
    const ui = this.ui;
    if (this.firstTick !== null && !this.scrubbing) {
      const v = String(Math.floor(this.pos));
      if (ui.seek.value !== v) ui.seek.value = v;
    }
    if (!force && now - this.lastUi < 100) return;
    this.lastUi = now;
    const playing = this.playing;
    setText(ui.play, playing ? '❚❚' : this.ended ? '↻' : '▶');
    const label = playing ? 'Pause' : this.ended ? 'Play again from the start' : 'Play';
    if (ui.play.getAttribute('aria-label') !== label) ui.play.setAttribute('aria-label', label);
    ui.play.dataset.state = playing ? 'playing' : this.ended ? 'ended' : 'paused';
    if (this.firstTick === null) {
      setText(ui.time, '–');
    } else {
      const tick = Math.floor(this.pos);
      const at = clock((tick - this.firstTick) / this.rate);
      const total = clock((this.lastTick - this.firstTick) / this.rate);
      setText(ui.time, `${at} / ${total} · tick ${tick}`);
      ui.seek.setAttribute('aria-valuetext', `tick ${tick}, ${at} of ${total}`);
    }
    let status = '';
    if (this.error) status = '';
    else if (!this.summary) status = this.token ? 'loading…' : '';
    else if (this.buffering || (this.firstTick !== null && !this.ready(this.pageOf(Math.floor(this.pos))))) status = 'loading frames…';
    else if (this.ended) status = 'ended';
    setText(ui.status, status);
  }

  state() {
    return {
      file: this.file,
      room: this.summary?.room ?? null,
      game: this.summary?.game ?? null,
      tick: this.tick, // the tick of the frame drawn last (null before the first)
      position: this.firstTick === null ? null : this.pos, // the playhead, a fractional tick
      playing: this.playing,
      speed: this.speed,
      ended: this.ended,
      buffering: this.buffering,
      framesDrawn: this.framesDrawn, // canvas draws that showed a recorded frame
      firstTick: this.firstTick,
      lastTick: this.lastTick,
      tickRate: this.rate,
      pageTicks: this.pageTicks,
      pagesLoaded: [...this.pages.entries()].filter(([, p]) => p.frames).map(([q]) => q),
      fetches: this.fetches, // frame requests made
      // The frame drawn last: its player ids and names, and what its game adds (skirmish: ships, …).
      ...(this.shown ? this.game.describe(this.shown) : { players: [], names: {} }),
      divergence: this.summary?.divergence ?? null,
      warning: this.ui.warning.hidden ? null : this.ui.warning.textContent,
      hasToken: this.token !== null,
      error: this.error ? { ...this.error } : null,
      errorShown: !this.ui.errorBox.hidden,
    };
  }
}
