// The client's connection to a room: opens the WebSocket, joins, sends inputs
// at 30 Hz and pings every second, decodes server messages, keeps the room's
// state with a Replica (full snapshots and deltas, protocol v2), and decides
// what to do when the socket closes (reconnect with backoff, at once, or stop
// and tell the player why). The WebSocket class, timers, clock and random
// source are injected so assets/test/net.test.mjs can drive it without a
// browser.

import { PROTOCOL_VERSION, Replica, ReplicaError, decodeServer, encodeClient, truncateName } from './protocol.js';

/** Inputs per second sent to the server. */
export const INPUT_HZ = 30;
/** Milliseconds between pings (RTT measurement). */
export const PING_INTERVAL_MS = 1000;
/** First reconnect delay, ms; doubles per failed attempt. */
export const BACKOFF_BASE_MS = 250;
/** Longest reconnect delay, ms. */
export const BACKOFF_MAX_MS = 30_000;
/** Relative jitter applied to every reconnect delay (±25%). */
export const BACKOFF_JITTER = 0.25;

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
 * Returns { action: 'reconnect' | 'now' | 'stop', message, roomFull? }.
 */
export function closePolicy(code, reason = '') {
  const why = reason ? `: ${reason}` : '';
  switch (code) {
    case 1001:
      return { action: 'now', message: 'Server restarting — reconnecting' };
    case 1002:
      return { action: 'stop', message: `Protocol mismatch${why} — reload the page to get the current client` };
    case 1003:
    case 1007:
      return { action: 'stop', message: `The server rejected our data${why} (client bug)` };
    case 1008:
      return { action: 'stop', message: `Disconnected by the server${why}` };
    case 1009:
      return { action: 'stop', message: `Message too large${why} (client bug)` };
    case 1013:
      return { action: 'stop', message: 'This room is full — pick another room', roomFull: true };
    default:
      return { action: 'reconnect', message: `Connection lost${code === 1006 ? '' : ` (${code}${why})`}` };
  }
}

/**
 * One player's session in one room, across reconnects.
 *
 * `state` is one of: 'connecting' (socket opening), 'joining' (Join sent,
 * waiting for Welcome), 'connected', 'reconnecting' (waiting `retryAt`),
 * 'closed' (stopped; see `closeInfo`), 'left' (the player left).
 *
 * Every `Snapshot` and `Delta` goes through `replica` (one per Welcome); the
 * frame it yields — { tick, players, pellets, roster }, wire values, always
 * complete — is handed to onFrame. A delta that does not apply (it should not
 * happen: the server sends a full snapshot whenever a client might lack the
 * base) is counted in `frames.refused`, logged once per run of refusals, and
 * ignored; the replica keeps its frame until the next full snapshot.
 *
 * Callbacks (all optional): onState(session), onWelcome(msg),
 * onFrame(frame, nowMs, type, msg) with type 'Snapshot' or 'Delta' and the
 * decoded message,
 * onRefused(replicaError), onPong(msg, rttMs), onServerError(msg).
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
    steer = () => [0, 0],
    onState = () => {},
    onWelcome = () => {},
    onFrame = () => {},
    onRefused = () => {},
    onPong = () => {},
    onInput = () => {},
    onServerError = () => {},
  }) {
    Object.assign(this, { url, room, WebSocketImpl, timers, now, random, steer });
    this.name = truncateName(name ?? '');
    this.handlers = { onState, onWelcome, onFrame, onRefused, onPong, onInput, onServerError };
    this.state = 'connecting';
    this.ws = null;
    this.attempt = 0; // failed attempts since the last Welcome
    this.reconnects = 0;
    this.retryAt = null;
    this.retryTimer = null;
    this.closeInfo = null; // { code, reason, message, roomFull }
    this.welcome = null;
    this.replica = null; // the room's state, from the Welcome on
    this.frames = { full: 0, delta: 0, refused: 0 }; // frames applied and deltas refused, across reconnects
    this.refusing = false; // the last frame message was refused (log only the first of a run)
    this.seq = 0;
    this.lastTick = 0;
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
    this.replica = null;
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (e) {
      this.onClose(ws, 1006, String(e));
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.setState('connecting');
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.send({ type: 'Join', version: PROTOCOL_VERSION, name: this.name });
      this.setState('joining');
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.onMessage(ev.data);
    };
    ws.onclose = (ev) => this.onClose(ws, ev.code, ev.reason);
    ws.onerror = () => {}; // a close event always follows
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
      case 'Welcome':
        this.welcome = msg;
        this.replica = new Replica(msg.tick_rate_hz);
        this.refusing = false;
        this.lastTick = msg.tick;
        this.attempt = 0;
        this.closeInfo = null;
        this.startTimers();
        this.handlers.onWelcome(msg);
        this.setState('connected');
        break;
      case 'Snapshot':
      case 'Delta':
        this.onFrameMessage(msg, t);
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

  onFrameMessage(msg, t) {
    if (!this.replica) return; // before the Welcome: nothing to apply it to
    let frame;
    try {
      frame = this.replica.apply(msg);
    } catch (e) {
      if (!(e instanceof ReplicaError)) throw e;
      this.frames.refused++;
      if (!this.refusing) console.warn(`tickroom: ignoring deltas until the next full snapshot: ${e.message}`);
      this.refusing = true;
      this.handlers.onRefused(e);
      return;
    }
    this.refusing = false;
    if (msg.type === 'Snapshot') this.frames.full++;
    else this.frames.delta++;
    this.lastTick = frame.tick;
    this.handlers.onFrame(frame, t, msg.type, msg);
  }

  startTimers() {
    this.stopTimers();
    this.inputTimer = this.timers.setInterval(() => this.sendInput(), 1000 / INPUT_HZ);
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

  /** Sends the current steer as the next input (called at INPUT_HZ). */
  sendInput() {
    if (this.state !== 'connected') return;
    const steer = this.steer();
    const seq = (this.seq + 1) >>> 0;
    if (this.send({ type: 'Input', seq, ack_tick: this.lastTick >>> 0, steer })) {
      this.seq = seq;
      this.handlers.onInput(seq, steer);
    }
  }

  sendPing() {
    const nonce = (this.nonce = (this.nonce + 1) >>> 0);
    const t = this.now();
    for (const [n, sent] of this.pings) if (t - sent > 10_000) this.pings.delete(n);
    if (this.send({ type: 'Ping', nonce })) this.pings.set(nonce, t);
  }

  onClose(ws, code, reason) {
    if (ws && this.ws !== ws) return; // an old socket
    this.ws = null;
    this.stopTimers();
    if (this.state === 'left' || this.state === 'closed') return;
    const policy = closePolicy(code, reason);
    this.closeInfo = { code, reason, message: policy.message, roomFull: !!policy.roomFull };
    if (policy.action === 'stop') {
      this.setState('closed');
      return;
    }
    const delay = policy.action === 'now' ? 0 : backoffDelay(this.attempt, this.random);
    this.attempt++;
    this.reconnects++;
    this.retryAt = this.now() + delay;
    this.retryTimer = this.timers.setTimeout(() => this.open(), delay);
    this.setState('reconnecting');
  }

  /** Skips the backoff wait (the player pressed "retry now", or asked to rejoin after a stop). */
  retryNow() {
    if (this.state === 'connected' || this.state === 'joining' || this.state === 'connecting') return;
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.state = 'reconnecting';
    this.open();
  }

  /** Leaves the room for good: sends Leave and closes. */
  leave() {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
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

/** The WebSocket URL for `room` on the page's own server. */
export function wsUrl(location, room) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws?room=${encodeURIComponent(room)}`;
}
