// The client's connection to a room, for any game: opens the WebSocket,
// joins, sends the game's inputs (polled at 30 Hz, or one at a time) and
// pings every second, decodes server messages, keeps the room's state with
// a Replica (replica.js: whole frames and deltas, built from the schema the
// Welcome carries), measures how long an input takes to be acknowledged
// (State.ack_seq), and decides what to do when the socket closes (reconnect
// with backoff, at once, or stop and tell the player why). The WebSocket
// class, timers, clock, random source and resume-token store are injected so
// test/session.test.mjs can drive it without a browser.
//
// Session resume (protocol v3): every Welcome brings a new single-use resume
// token, kept per room in a ResumeStore (memory, and sessionStorage so a page
// reload can resume). When the connection drops — any close but the player's
// own Leave and the codes that stop — the server keeps the player for a grace
// period (RESUME_GRACE_MS by default), and the reconnect's Join carries the
// token: a Welcome with `resumed: true` is the same player (id, position,
// score); `resumed: false` (grace over, token used) is a new one. While a
// resume is possible, retries come at most ~1 s apart so several fit the
// grace. A token the server refuses (1008 "invalid resume token", "resume
// token for another room") is dropped and the session joins fresh at once.
//
// Cluster: the page's own server is the entry. A close 4001 "node=<id>" says
// the room lives on node <id>: the session fetches the entry's /cluster,
// finds that member's WebSocket base URL and connects there at once, with
// the same query (4001 with another reason reconnects through the entry at
// once). A close 1001 "draining..." rejoins through the entry at once. At
// most MAX_FOLLOWS of those in a row without a Welcome, then the backoff.
// Any other drop reconnects through the entry too (a lost node may be dead;
// its rooms are placed again), except a resync, which stays. The resume
// token goes along: the owner may still hold the player.

import { MAX_TOKEN_BYTES, PROTOCOL_VERSION, ProtocolError, decodeServer, encodeClient, truncateName } from './protocol.js';
import { Replica } from './replica.js';

/** Inputs per second sent to the server. */
export const INPUT_HZ = 30;
/** Milliseconds between pings (RTT measurement). */
export const PING_INTERVAL_MS = 1000;
/** The close code and reason this client sends when it resyncs after a checksum mismatch. */
export const RESYNC_CODE = 4000;
export const RESYNC_REASON = 'resync';
/** Sent inputs whose send time is kept for the input→ack latency (4 s at 30 Hz). */
export const MAX_TIMED_INPUTS = 120;

/** First reconnect delay, ms; doubles per failed attempt. */
export const BACKOFF_BASE_MS = 250;
/** Longest reconnect delay, ms. */
export const BACKOFF_MAX_MS = 30_000;
/** Relative jitter applied to every reconnect delay (±25%). */
export const BACKOFF_JITTER = 0.25;
/**
 * How long the server keeps a dropped player for a resume, ms (the server's
 * default). The client cannot know the server's setting; it only uses this to
 * keep retries frequent while a resume may still succeed.
 */
export const RESUME_GRACE_MS = 10_000;
/**
 * While a resume is possible (a token, less than RESUME_GRACE_MS since the
 * drop) the backoff stops growing at this attempt: 250 ms · 2² = 1 s ± 25%.
 * The first retry comes after ~250 ms, and ~10 fit the grace period.
 */
export const RESUME_MAX_STEP = 2;
/** Reasons of the 1008 closes that refuse a resume token: drop it and join fresh. */
export const RESUME_REFUSED_REASONS = ['invalid resume token', 'resume token for another room'];
/** Reason of the 1000 close sent to a connection whose player was resumed on another one. */
export const RESUMED_ELSEWHERE_REASON = 'resumed on another connection';
/** Reason of the 1008 close of a join whose `&game=` is not the room's game: another room is needed. */
export const OTHER_GAME_REASON = 'the room runs another game';
/** Close code of "the room lives on another node" (reason `node=<id>` names it). */
export const ELSEWHERE_CODE = 4001;
/** Reason of the 1013 close of a node that cannot reach its cluster: retry with backoff. */
export const CLUSTER_UNAVAILABLE_REASON = 'cluster unavailable';
/**
 * Immediate cluster reconnects (4001 follows and rejoins, drain rejoins)
 * allowed in a row without a Welcome; the next one waits for the backoff.
 */
export const MAX_FOLLOWS = 4;

/** The node id of a 4001 reason `node=<id>` (1-64 of A-Z a-z 0-9 - _ .), or null. */
export function redirectNode(reason) {
  const m = /^node=([A-Za-z0-9._-]{1,64})$/.exec(typeof reason === 'string' ? reason : '');
  return m ? m[1] : null;
}

/** The http(s) URL of `/cluster` on the server the WebSocket URL `wsUrl` points at. */
export function clusterUrlOf(wsUrl) {
  const u = new URL(wsUrl);
  const scheme = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:';
  return `${scheme}//${u.host}/cluster`;
}

/**
 * The WebSocket URL of member `node` of a `/cluster` answer (`members[].url`
 * is its ws:// or wss:// base) with `query` (`?room=..`, the page's own URL's
 * query) appended after `/ws`; null when the member is not listed or its URL
 * is not a WebSocket base.
 */
export function memberWsUrl(cluster, node, query) {
  const members = Array.isArray(cluster?.members) ? cluster.members : [];
  const member = members.find((m) => m && m.id === node);
  const base = typeof member?.url === 'string' ? member.url.replace(/\/+$/, '') : '';
  if (!/^wss?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(base)) return null;
  return `${base}/ws${query}`;
}

/**
 * The newest resume token per room: in memory, and in `storage` (the page's
 * sessionStorage: per tab, survives a reload) when there is one. Tokens are
 * credentials: never logged.
 */
export class ResumeStore {
  constructor(storage = null) {
    this.storage = storage;
    this.memory = new Map();
  }

  static key(room) {
    return `tickroom.resume.${room}`;
  }

  /** The token for `room`, or '' (none, or not something the server would accept). */
  get(room) {
    let token = this.memory.get(room);
    if (token === undefined) {
      try {
        token = this.storage?.getItem(ResumeStore.key(room)) ?? '';
      } catch {
        token = ''; // storage disabled
      }
    }
    return typeof token === 'string' && token.length <= MAX_TOKEN_BYTES && /^[\x21-\x7e]*$/.test(token) ? token : '';
  }

  /** Keeps `token` for `room` ('' forgets it). */
  set(room, token) {
    if (!token) {
      this.delete(room);
      return;
    }
    this.memory.set(room, token);
    try {
      this.storage?.setItem(ResumeStore.key(room), token);
    } catch {
      // storage full or disabled: memory only
    }
  }

  delete(room) {
    this.memory.set(room, '');
    try {
      this.storage?.removeItem(ResumeStore.key(room));
    } catch {
      // storage disabled
    }
  }
}

function pageSessionStorage() {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null; // access denied (e.g. storage blocked)
  }
}

/** The page's resume tokens (the default store of every Session). */
export const resumeTokens = new ResumeStore(pageSessionStorage());

/**
 * The delay before reconnect attempt `attempt` (0-based): 250 ms doubling per
 * attempt, ±25% jitter, never above 30 s. `random` returns [0, 1).
 */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 30));
  const jittered = base * (1 + (random() * 2 - 1) * BACKOFF_JITTER);
  return Math.min(BACKOFF_MAX_MS, Math.max(0, jittered));
}

/**
 * What to do after the socket closed with `code` (RFC 6455 close codes, as the
 * server uses them; see README "Playing over the wire").
 * Returns { action: 'reconnect' | 'now' | 'fresh' | 'follow' | 'stop', message,
 * roomFull?, dropToken?, node?, hop?, stay? }: 'fresh' reconnects at once
 * without a resume token; 'follow' connects at once to cluster member `node`;
 * `dropToken` says the room's resume token is no good any more; `hop` marks
 * the cluster's immediate reconnects (capped at MAX_FOLLOWS in a row); `stay`
 * reconnects to the same server (every other reconnect goes through the
 * page's own server, the entry).
 */
export function closePolicy(code, reason = '') {
  const why = reason ? `: ${reason}` : '';
  switch (code) {
    case RESYNC_CODE:
      return { action: 'now', message: 'Resynchronising', stay: true };
    case ELSEWHERE_CODE: {
      const node = redirectNode(reason);
      if (node) return { action: 'follow', node, hop: true, message: `This room is on server ${node} — moving there` };
      return { action: 'now', hop: true, message: `The room moved${why} — reconnecting` };
    }
    case 1000:
      if (reason === RESUMED_ELSEWHERE_REASON) {
        return { action: 'stop', message: 'This player was taken over by another connection (another tab?)', dropToken: true };
      }
      break;
    case 1001:
      if (typeof reason === 'string' && reason.startsWith('draining')) {
        return { action: 'now', hop: true, message: 'Server draining — rejoining' };
      }
      return { action: 'now', message: 'Server restarting — reconnecting' };
    case 1002:
      return { action: 'stop', message: `Protocol mismatch${why} — reload the page to get the current client` };
    case 1003:
    case 1007:
      return { action: 'stop', message: `The server rejected our data${why} (client bug)` };
    case 1008:
      if (RESUME_REFUSED_REASONS.includes(reason)) {
        return { action: 'fresh', message: `Could not resume${why} — joining as a new player`, dropToken: true };
      }
      // A ticket refused (expired, used, invalid, or required after a failed
      // resume): retrying the same URL cannot help, a new ticket might.
      if (/ticket/.test(reason)) return { action: 'stop', message: `Disconnected by the server${why}` };
      // The join named a game (`&game=`) the room does not run.
      if (reason === OTHER_GAME_REASON) return { action: 'stop', message: 'This room runs another game — pick another room' };
      // Too slow, rate limit, ...: the server may keep the player for a resume.
      return { action: 'reconnect', message: `Disconnected by the server${why}` };
    case 1009:
      return { action: 'stop', message: `Message too large${why} (client bug)` };
    case 1013:
      if (reason === CLUSTER_UNAVAILABLE_REASON) return { action: 'reconnect', message: `Server unavailable${why} — retrying` };
      return { action: 'stop', message: 'This room is full — pick another room', roomFull: true };
  }
  return { action: 'reconnect', message: `Connection lost${code === 1006 ? '' : ` (${code}${why})`}` };
}

/**
 * One player's session in one room, across reconnects.
 *
 * `state` is one of: 'connecting' (socket opening), 'joining' (Join sent,
 * waiting for Welcome), 'connected', 'reconnecting' (waiting `retryAt`),
 * 'closed' (stopped; see `closeInfo`), 'left' (the player left).
 *
 * Resume: `lastResumed` is null before the first Welcome, then whether the
 * newest Welcome took back the earlier player; `resumes` counts those,
 * `resumeAttempts` the Joins that carried a token (`joinResume`: this
 * socket's). `droppedAt` is when the connection last dropped (null once
 * joined again); `resumedAt` when the newest resume happened.
 *
 * Every `State` goes through `replica` (one per Welcome, from its schema);
 * the frame it yields (state.js form, always complete) is handed to onFrame.
 * The server sends a whole frame after a join or a resume and otherwise a
 * delta from the newest frame it sent this client, so every delta applies;
 * one that does not should not happen and is logged once per run of
 * refusals and ignored (counted in `frames.refused`, the replica's frame
 * kept as it was). A frame whose checksum is not the server's (the copies
 * diverged: a bug) is counted in `frames.mismatches` and resyncs: the page
 * closes the socket (4000 "resync") and resumes at once, which starts again
 * from a whole frame (the server cannot know the copy diverged). A State's
 * events go to onEvents whether or not its frame applied: each is sent once.
 *
 * Inputs: `input()` is polled at INPUT_HZ while connected and answers the
 * bytes of the game's input to send (null: nothing this time), and
 * sendInput(bytes) sends one at once; either way the session numbers it
 * (`seq`) and says which frame it had (`ack_tick`). Every State says which
 * input the room applied last for this player (`ackSeq`); `ackLatency` is
 * the time from sending that input to the State that acknowledged it (ms).
 *
 * Callbacks (all optional): onState(session), onWelcome(msg, { attempted,
 * continued }) with `attempted` whether this Join carried a resume token (so
 * `attempted && !msg.resumed` is a new player after a failed resume) and
 * `continued` whether this is the player of this session's previous Welcome
 * taken back (keep its state: id, prediction, scores),
 * onFrame(frame, nowMs, { tick, full, checksumOk, ackSeq, msg }) for every
 * frame applied (checksum mismatches resync instead), onEvents(events,
 * nowMs, msg) with a State's events (bytes, for replica.js decodeEvent),
 * onRefused(error, { mismatch }), onPong(msg, rttMs), onServerError(msg),
 * onInput(seq, data, nowMs) for every input sent. RoomClient encodes the
 * game's input objects with the schema and decodes frames and events.
 *
 * Cluster: `url` is the page's own server (the entry); `target` is the
 * member a 4001 "node=<id>" sent the session to (null: the entry), found in
 * the entry's /cluster (`clusterUrl`, fetched with `fetchImpl`); `redirects`
 * counts the follows, `follows` the immediate cluster reconnects since the
 * last Welcome. A session may start at a member (`target`: the `ws_url` of a
 * matchmaker Ticket, which names the node that runs the room); a close that
 * does not say to stay sends it back through the entry like a redirect does.
 *
 * Tickets: `ticket` (the credential of a Ticket) is added to the URL of every
 * attempt until a Welcome spends it; from then on reconnects rely on the
 * resume token alone. A refused ticket stops the session (a new one is needed).
 */
export class Session {
  constructor({
    url,
    name,
    room,
    WebSocketImpl = globalThis.WebSocket,
    timers = globalThis,
    now = () => performance.now(),
    random = Math.random,
    input = () => null,
    onState = () => {},
    onWelcome = () => {},
    onFrame = () => {},
    onEvents = () => {},
    onRefused = () => {},
    onPong = () => {},
    onInput = () => {},
    onServerError = () => {},
    resumeStore = resumeTokens,
    fetchImpl = globalThis.fetch?.bind(globalThis),
    clusterUrl = null,
    target = null,
    ticket = '',
  }) {
    Object.assign(this, { url, room, WebSocketImpl, timers, now, random, input, resumeStore, fetchImpl });
    this.clusterUrl = clusterUrl ?? clusterUrlOf(url);
    this.target = target; // the cluster member a ticket or a redirect sent us to (null: the entry, `url`)
    this.ticket = ticket; // a join ticket, sent with every attempt until a Welcome (then spent)
    this.follows = 0; // immediate cluster reconnects since the last Welcome
    this.redirects = 0; // redirects followed, across reconnects
    this.following = null; // the /cluster lookup in flight (a token)
    this.name = truncateName(name ?? '');
    this.handlers = { onState, onWelcome, onFrame, onEvents, onRefused, onPong, onInput, onServerError };
    this.state = 'connecting';
    this.ws = null;
    this.attempt = 0; // failed attempts since the last Welcome
    this.backoffStep = 0; // the backoff's exponent (held at RESUME_MAX_STEP while a resume is possible)
    this.reconnects = 0;
    this.joinResume = ''; // the resume token this socket's Join carried
    this.lastResumed = null;
    this.playerId = null; // the own player's id, from the newest Welcome (kept across reconnects)
    this.resumes = 0;
    this.resumeAttempts = 0;
    this.droppedAt = null;
    this.resumedAt = null;
    this.retryAt = null;
    this.retryTimer = null;
    this.closeInfo = null; // { code, reason, message, roomFull }
    this.welcome = null;
    this.replica = null; // the room's state, from the Welcome on
    this.frames = { full: 0, delta: 0, refused: 0, mismatches: 0 }; // whole frames and deltas applied, frames refused, checksum mismatches; across reconnects
    this.refusing = false; // the last frame message was refused (log only the first of a run)
    this.seq = 0;
    // After a resume: continue the input numbering from what the room last
    // applied (a reloaded page starts again from 0; the room keeps the
    // player's newest seq, and would take every lower one as old).
    this.continueSeq = false;
    this.lastTick = 0;
    this.ackSeq = 0; // the newest State's ack_seq
    this.ackLatency = null; // ms from sending the input ackSeq names to the State that acknowledged it
    this.sentAt = new Map(); // seq -> local send time, for the latency
    this.nonce = 0;
    this.pings = new Map();
    this.rtt = null;
    this.inputTimer = null;
    this.pingTimer = null;
  }

  start() {
    this.open();
    return this;
  }

  setState(state) {
    this.state = state;
    this.handlers.onState(this);
  }

  open() {
    this.retryTimer = null;
    this.retryAt = null;
    this.welcome = null;
    this.joinResume = '';
    this.replica = null;
    this.following = null;
    let ws;
    try {
      ws = new this.WebSocketImpl(this.attemptUrl());
    } catch (e) {
      this.onClose(ws, 1006, String(e));
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.setState('connecting');
    ws.onopen = () => {
      if (this.ws !== ws) return;
      const resume = this.resumeStore.get(this.room);
      this.joinResume = resume;
      if (resume) this.resumeAttempts++;
      this.send({ type: 'Join', version: PROTOCOL_VERSION, name: this.name, resume });
      this.setState('joining');
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.onMessage(ev.data);
    };
    ws.onclose = (ev) => this.onClose(ws, ev.code, ev.reason);
    ws.onerror = () => {}; // a close event always follows
  }

  /** The URL of the next attempt: the target (else the entry), with the ticket while it is unspent. */
  attemptUrl() {
    const url = this.target ?? this.url;
    if (!this.ticket) return url;
    const u = new URL(url);
    u.searchParams.set('ticket', this.ticket);
    return u.toString();
  }

  send(msg) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(encodeClient(msg));
    return true;
  }

  onMessage(data) {
    let msg;
    try {
      msg = decodeServer(data);
    } catch (e) {
      console.warn('tickroom: undecodable server message', e);
      return;
    }
    const t = this.now();
    switch (msg.type) {
      case 'Welcome': {
        const attempted = this.joinResume !== '';
        let replica;
        try {
          replica = Replica.fromWelcome(msg);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
          this.refuseSchema(e);
          return;
        }
        this.welcome = msg;
        this.ticket = ''; // spent: reconnects resume with the token alone
        this.replica = replica;
        this.refusing = false;
        this.lastTick = msg.tick;
        this.attempt = 0;
        this.backoffStep = 0;
        this.follows = 0;
        this.closeInfo = null;
        this.droppedAt = null;
        this.lastResumed = msg.resumed === true;
        this.continueSeq = this.lastResumed;
        // The same player as before the drop: the caller keeps its state.
        const continued = this.lastResumed && this.playerId === msg.player_id;
        this.playerId = msg.player_id;
        if (this.lastResumed) {
          this.resumes++;
          this.resumedAt = t;
        }
        // Single use: the token just sent is spent either way; keep the new one.
        this.resumeStore.set(this.room, msg.resume_token);
        this.startTimers();
        this.handlers.onWelcome(msg, { attempted, continued });
        this.setState('connected');
        break;
      }
      case 'State':
        this.onStateMessage(msg, t);
        break;
      case 'Pong': {
        const sent = this.pings.get(msg.nonce);
        if (sent !== undefined) {
          this.pings.delete(msg.nonce);
          this.rtt = t - sent;
          this.handlers.onPong(msg, this.rtt);
        }
        break;
      }
      case 'Error':
        this.handlers.onServerError(msg);
        break;
    }
  }

  onStateMessage(msg, t) {
    if (!this.replica) return; // before the Welcome: nothing to apply it to
    let applied;
    try {
      applied = this.replica.apply(msg);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.frames.refused++;
      if (!this.refusing) console.warn(`tickroom: ignoring frames that do not apply: ${e.message}`);
      this.refusing = true;
      this.handlers.onRefused(e, { mismatch: false });
      this.deliverEvents(msg, t);
      return;
    }
    this.refusing = false;
    this.acknowledge(msg.ack_seq >>> 0, t);
    if (applied.full) this.frames.full++;
    else this.frames.delta++;
    this.lastTick = applied.tick;
    if (!applied.checksumOk) {
      // Always logged: the copies diverged, a bug on one side. Only a whole
      // frame mends it, and a resumed connection starts with one.
      this.frames.mismatches++;
      const e = new ProtocolError(`frame ${applied.tick}: checksum mismatch, resuming to get a whole frame`);
      console.warn(`tickroom: ${e.message}`);
      this.handlers.onRefused(e, { mismatch: true });
      this.deliverEvents(msg, t);
      this.resync();
      return;
    }
    this.handlers.onFrame(this.replica.frame, t, { ...applied, ackSeq: this.ackSeq, msg });
    this.deliverEvents(msg, t);
  }

  deliverEvents(msg, t) {
    if (msg.events.length > 0) this.handlers.onEvents(msg.events, t, msg);
  }

  /** A State acknowledged input `ack`: the latency of its input, and after a resume the numbering to continue from. */
  acknowledge(ack, t) {
    if (this.continueSeq) {
      this.continueSeq = false;
      if (ack > this.seq) this.seq = ack;
    }
    if (ack !== this.ackSeq) {
      const sent = this.sentAt.get(ack);
      if (sent !== undefined) this.ackLatency = t - sent;
      for (const seq of this.sentAt.keys()) if (seq <= ack) this.sentAt.delete(seq);
    }
    this.ackSeq = ack;
  }

  /** The Welcome's schema does not decode: nothing of this game can be read, so stop and say why. */
  refuseSchema(e) {
    console.warn(`tickroom: the server's game schema does not decode: ${e.message}`);
    const ws = this.ws;
    this.ws = null;
    this.stopTimers();
    this.closeInfo = { code: 1002, reason: 'schema', message: `The server's game could not be read (${e.message}) — reload the page to get the current client`, roomFull: false };
    this.setState('closed');
    try {
      ws?.close(1000, 'schema');
    } catch {
      // already closing
    }
  }

  startTimers() {
    this.stopTimers();
    this.inputTimer = this.timers.setInterval(() => this.pollInput(), 1000 / INPUT_HZ);
    this.pingTimer = this.timers.setInterval(() => this.sendPing(), PING_INTERVAL_MS);
    this.sendPing();
  }

  stopTimers() {
    if (this.inputTimer !== null) this.timers.clearInterval(this.inputTimer);
    if (this.pingTimer !== null) this.timers.clearInterval(this.pingTimer);
    this.inputTimer = null;
    this.pingTimer = null;
    this.pings.clear();
  }

  /** Sends the polled input, if any (called at INPUT_HZ). */
  pollInput() {
    if (this.state !== 'connected') return;
    const data = this.input();
    if (data) this.sendInput(data);
  }

  /**
   * Sends `data` (the game's input, encoded) as the next input while
   * connected: returns its sequence number, or null when not sent.
   */
  sendInput(data) {
    if (this.state !== 'connected') return null;
    const seq = (this.seq + 1) >>> 0;
    if (!this.send({ type: 'Input', seq, ack_tick: this.lastTick >>> 0, data })) return null;
    this.seq = seq;
    const t = this.now();
    this.sentAt.set(seq, t);
    if (this.sentAt.size > MAX_TIMED_INPUTS) this.sentAt.delete(this.sentAt.keys().next().value);
    this.handlers.onInput(seq, data, t);
    return seq;
  }

  sendPing() {
    const nonce = (this.nonce = (this.nonce + 1) >>> 0);
    const t = this.now();
    for (const [n, sent] of this.pings) if (t - sent > 10_000) this.pings.delete(n);
    if (this.send({ type: 'Ping', nonce })) this.pings.set(nonce, t);
  }

  /** Between a lost connection and the next Welcome (not stopped, not left). */
  get reconnecting() {
    return this.attempt > 0 && (this.state === 'reconnecting' || this.state === 'connecting' || this.state === 'joining');
  }

  /** Whether the next Join may still take back the player: a token, and (as far as we know) within the grace. */
  canResume() {
    if (!this.resumeStore.get(this.room)) return false;
    return this.droppedAt === null || this.now() - this.droppedAt < RESUME_GRACE_MS;
  }

  onClose(ws, code, reason) {
    if (ws && this.ws !== ws) return; // an old socket
    const joined = this.welcome !== null;
    this.ws = null;
    this.stopTimers();
    if (this.state === 'left' || this.state === 'closed') return;
    const policy = closePolicy(code, reason);
    if (policy.dropToken) this.resumeStore.delete(this.room);
    // The grace period starts when a joined connection drops (or, after a
    // page reload, when the first attempt with a stored token fails).
    if (this.droppedAt === null && (joined || this.joinResume)) this.droppedAt = this.now();
    this.closeInfo = { code, reason, message: policy.message, roomFull: !!policy.roomFull };
    if (policy.action === 'stop') {
      this.setState('closed');
      return;
    }
    // Back through the entry: a lost or drained node may be gone for good.
    if (!policy.stay) this.target = null;
    let action = policy.action;
    if (policy.hop) {
      if (this.follows >= MAX_FOLLOWS) {
        this.follows = 0; // sent around without being let in: wait, then start over
        action = 'reconnect';
      } else {
        this.follows++;
      }
    }
    this.attempt++;
    this.reconnects++;
    if (action === 'follow') {
      this.retryAt = this.now();
      this.setState('reconnecting');
      this.follow(policy.node);
      return;
    }
    this.scheduleRetry(action === 'now' || action === 'fresh');
  }

  /** Opens a new socket after the backoff (or at once). */
  scheduleRetry(atOnce) {
    const step = this.canResume() ? Math.min(this.backoffStep, RESUME_MAX_STEP) : this.backoffStep;
    const delay = atOnce ? 0 : backoffDelay(step, this.random);
    this.backoffStep = step + 1;
    this.retryAt = this.now() + delay;
    this.retryTimer = this.timers.setTimeout(() => this.open(), delay);
    this.setState('reconnecting');
  }

  /** The query of the page's own WebSocket URL (`?room=..`), for a cluster member's URL. */
  query() {
    try {
      return new URL(this.url).search;
    } catch {
      return '';
    }
  }

  /**
   * Resolves cluster member `node` with the entry's /cluster and connects to
   * it at once; an unknown member (or a failed lookup) goes back to the
   * entry after the backoff. Ignored when the session moved on meanwhile
   * (left, retried).
   */
  async follow(node) {
    const token = {};
    this.following = token;
    let url = null;
    try {
      const res = await this.fetchImpl(this.clusterUrl, { cache: 'no-store' });
      if (res.ok) url = memberWsUrl(await res.json(), node, this.query());
    } catch {
      url = null; // network error, not JSON, no fetch
    }
    if (this.following !== token || this.state !== 'reconnecting') return;
    this.following = null;
    if (url) {
      this.target = url;
      this.redirects++;
      this.open();
      return;
    }
    this.closeInfo = { ...this.closeInfo, message: `Could not find server ${node} — retrying` };
    this.scheduleRetry(false);
  }

  /** Drops the connection and resumes at once (after a checksum mismatch). */
  resync() {
    const ws = this.ws;
    if (!ws) return;
    try {
      ws.close(RESYNC_CODE, RESYNC_REASON);
    } catch {
      // already closing
    }
    this.onClose(ws, RESYNC_CODE, RESYNC_REASON);
  }

  /** Skips the backoff wait (the player pressed "retry now", or asked to rejoin after a stop); nothing after leave(). */
  retryNow() {
    if (this.state === 'connected' || this.state === 'joining' || this.state === 'connecting' || this.state === 'left') return;
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.state = 'reconnecting';
    this.open();
  }

  /** Leaves the room for good: sends Leave (the server drops the player: no resume) and closes. */
  leave() {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.resumeStore.delete(this.room);
    this.send({ type: 'Leave' });
    const ws = this.ws;
    this.ws = null;
    this.stopTimers();
    this.setState('left');
    if (ws) {
      try {
        ws.close(1000, 'leaving');
      } catch {
        // already closed
      }
    }
  }
}

/**
 * The WebSocket URL of `/ws?room=<room>` on the http(s) or ws(s) server
 * `server` (its path kept: a server behind a path prefix), e.g. the entry of
 * a page's own server: `roomWsUrl(location.origin, room)`. With `game`,
 * `/ws?room=<room>&game=<game>`: a room the join starts runs that game, and
 * a room that runs another one refuses the join (1008).
 */
export function roomWsUrl(server, room, game = null) {
  const u = new URL(server);
  const scheme = u.protocol === 'https:' || u.protocol === 'wss:' ? 'wss:' : 'ws:';
  const base = `${scheme}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  const url = `${base}/ws?room=${encodeURIComponent(room)}`;
  return game === null ? url : `${url}&game=${encodeURIComponent(game)}`;
}
