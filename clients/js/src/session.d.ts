// Hand-written TypeScript declarations of session.js (one player's WebSocket
// session with resume, backoff and cluster redirects). session.js is the
// source of truth: keep this file in step with it whenever it changes.
//
// Only the part of Session a game uses is declared; its other methods and
// fields (open, onMessage, onClose, follow, timers, ...) are internal.

import type { ClientMessageInit, ErrorMsg, Pong, ProtocolError, State, Welcome } from './protocol.js';
import type { Applied, Replica } from './replica.js';
import type { StateFrame } from './state.js';

/** Inputs per second sent to the server. */
export const INPUT_HZ = 30;
/** Milliseconds between pings (RTT measurement). */
export const PING_INTERVAL_MS = 1000;
/** The close code this client sends when it resyncs after a checksum mismatch. */
export const RESYNC_CODE = 4000;
/** The close reason this client sends when it resyncs. */
export const RESYNC_REASON = 'resync';
/** Sent inputs whose send time is kept for the input→ack latency. */
export const MAX_TIMED_INPUTS = 120;
/** First reconnect delay, ms; doubles per failed attempt. */
export const BACKOFF_BASE_MS = 250;
/** Longest reconnect delay, ms. */
export const BACKOFF_MAX_MS = 30000;
/** Relative jitter applied to every reconnect delay (±25%). */
export const BACKOFF_JITTER = 0.25;
/** How long the server keeps a dropped player for a resume by default, ms. */
export const RESUME_GRACE_MS = 10000;
/** While a resume is possible the backoff stops growing at this attempt (~1 s). */
export const RESUME_MAX_STEP = 2;
/** Reasons of the 1008 closes that refuse a resume token: drop it and join fresh. */
export const RESUME_REFUSED_REASONS: readonly ['invalid resume token', 'resume token for another room'];
/** Reason of the 1000 close sent to a connection whose player was resumed on another one. */
export const RESUMED_ELSEWHERE_REASON = 'resumed on another connection';
/** Reason of the 1008 close of a join whose `&game=` is not the room's game (the session stops). */
export const OTHER_GAME_REASON = 'the room runs another game';
/** Close code of "the room lives on another node" (reason `node=<id>` names it). */
export const ELSEWHERE_CODE = 4001;
/** Reason of the 1013 close of a node that cannot reach its cluster: retry with backoff. */
export const CLUSTER_UNAVAILABLE_REASON = 'cluster unavailable';
/** Immediate cluster reconnects allowed in a row without a Welcome. */
export const MAX_FOLLOWS = 4;

/** The node id of a 4001 reason `node=<id>`, or null (anything else, a non-string included). */
export function redirectNode(reason: unknown): string | null;

/** The http(s) URL of `/cluster` on the server the WebSocket URL `wsUrl` points at. Throws on an invalid URL. */
export function clusterUrlOf(wsUrl: string): string;

/**
 * The WebSocket URL of member `node` of a `/cluster` answer (any JSON; its
 * `members[].url` is a ws(s):// base) with `query` appended after `/ws`, or
 * null when the member is not listed or its URL is not a WebSocket base.
 */
export function memberWsUrl(cluster: unknown, node: string, query: string): string | null;

/** What ResumeStore keeps tokens in besides memory: the page's sessionStorage, or alike. */
export interface ResumeStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The newest resume token per room, in memory and in `storage` when given. Tokens are credentials. */
export class ResumeStore {
  constructor(storage?: ResumeStorage | null);
  storage: ResumeStorage | null;
  /** room -> token ('' once deleted, so storage is not consulted again). */
  memory: Map<string, string>;
  /** The storage key of `room`'s token. */
  static key(room: string): string;
  /** The token for `room`, or '' (none, or not one the server would accept). */
  get(room: string): string;
  /** Keeps `token` for `room` ('' forgets it). */
  set(room: string, token: string): void;
  /** Forgets `room`'s token. */
  delete(room: string): void;
}

/** The page's resume tokens (in sessionStorage when there is one): every Session's default store. */
export const resumeTokens: ResumeStore;

/** The delay (ms) before reconnect attempt `attempt` (0-based): 250 ms doubling, ±25% jitter, at most 30 s. */
export function backoffDelay(attempt: number, random?: () => number): number;

/** What closePolicy() says to do after a close. */
export type CloseAction = 'reconnect' | 'now' | 'fresh' | 'follow' | 'stop';

/** Flags closePolicy() may set (only ever to true). */
export interface ClosePolicyFlags {
  /** A message for the player. */
  message: string;
  /** 1013: the room is full. */
  roomFull?: true;
  /** The room's resume token is no good any more. */
  dropToken?: true;
  /** One of the cluster's immediate reconnects (capped at MAX_FOLLOWS in a row). */
  hop?: true;
  /** Reconnect to the same server (every other reconnect goes through the entry). */
  stay?: true;
}

/**
 * What to do after the socket closed: 'reconnect' after the backoff, 'now'
 * at once, 'fresh' at once without a resume token, 'follow' at once to
 * cluster member `node`, 'stop' for good.
 */
export type ClosePolicy =
  | (ClosePolicyFlags & { action: 'follow'; node: string; hop: true })
  | (ClosePolicyFlags & { action: Exclude<CloseAction, 'follow'>; node?: undefined });

/** The policy for a close with `code` and `reason` (RFC 6455 codes, as the server uses them). */
export function closePolicy(code: number, reason?: string): ClosePolicy;

/** A Session's connection state. */
export type SessionState = 'connecting' | 'joining' | 'connected' | 'reconnecting' | 'closed' | 'left';

/** Why the connection last closed. */
export interface CloseInfo {
  code: number;
  reason: string;
  /** A message for the player. */
  message: string;
  /** The room is full (a 1013 close). */
  roomFull: boolean;
}

/** An event handler property of WebSocketLike (checked bivariantly, so the DOM's WebSocket fits). */
export type SocketHandler<E> = { bivarianceHack(ev: E): unknown }['bivarianceHack'] | null;

/** What a Session needs of a WebSocket: the browser's, or a test's fake. */
export interface WebSocketLike {
  /** The session sets it to 'arraybuffer'. */
  binaryType: string;
  /** 1 is OPEN: messages are sent only then. */
  readonly readyState: number;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  onopen: SocketHandler<unknown>;
  /** `data` is the ArrayBuffer of a binary message. */
  onmessage: SocketHandler<{ data: unknown }>;
  onclose: SocketHandler<{ code: number; reason: string }>;
  onerror: SocketHandler<unknown>;
}

/** A WebSocket class: `new WebSocketImpl(url)`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The timer functions a Session uses (`globalThis` by default). */
export interface SessionTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
}

/** The part of fetch a Session uses to look up `/cluster`. */
export type FetchLike = (url: string, init: { cache: 'no-store' }) => Promise<{ ok: boolean; json(): Promise<unknown> }>;

/** The store a Session keeps resume tokens in (a ResumeStore, or alike). */
export type ResumeTokenStore = Pick<ResumeStore, 'get' | 'set' | 'delete'>;

/** What onWelcome is told besides the Welcome. */
export interface WelcomeInfo {
  /** This Join carried a resume token (`attempted && !msg.resumed`: a new player after a failed resume). */
  attempted: boolean;
  /** The player of this session's previous Welcome taken back: keep its state. */
  continued: boolean;
}

/** Options of `new Session(...)`; all but `url` and `room` optional. */
export interface SessionOptions {
  /** The WebSocket URL of the room on the page's own server (the entry), e.g. roomWsUrl(location.origin, room). */
  url: string;
  /** The room's id (resume tokens are kept per room). */
  room: string;
  /** The player's name (truncated to MAX_NAME_BYTES). */
  name?: string;
  /** Default `globalThis.WebSocket`. */
  WebSocketImpl?: WebSocketConstructor;
  /** Default `globalThis`. */
  timers?: SessionTimers;
  /** Local clock, ms. Default `performance.now()`. */
  now?: () => number;
  /** Random source in [0, 1) for the backoff's jitter. Default Math.random. */
  random?: () => number;
  /** The game's input to send (encoded bytes), polled at INPUT_HZ while connected; null sends nothing. */
  input?: () => Uint8Array | null;
  /** Every state change. */
  onState?: (session: Session) => void;
  /** Every Welcome. */
  onWelcome?: (msg: Welcome, info: WelcomeInfo) => void;
  /** Every frame the replica built (checksum mismatches resync instead), with the local time. */
  onFrame?: (frame: StateFrame, nowMs: number, info: FrameInfo) => void;
  /** A State's events (bytes: replica.js decodeEvent), whether or not its frame applied. */
  onEvents?: (events: Uint8Array[], nowMs: number, msg: State) => void;
  /** Every State whose frame was refused, or whose checksum did not match (`mismatch`: it also resyncs). */
  onRefused?: (error: ProtocolError, info: { mismatch: boolean }) => void;
  /** Every Pong answering one of this session's pings. */
  onPong?: (msg: Pong, rttMs: number) => void;
  /** Every Input sent: its sequence number, data and local send time. */
  onInput?: (seq: number, data: Uint8Array, nowMs: number) => void;
  /** Every server Error message. */
  onServerError?: (msg: ErrorMsg) => void;
  /** Default `resumeTokens`. */
  resumeStore?: ResumeTokenStore;
  /** For `/cluster` lookups. Default `globalThis.fetch`. */
  fetchImpl?: FetchLike;
  /** The entry's `/cluster` URL. Default clusterUrlOf(url). */
  clusterUrl?: string | null;
  /** A cluster member's WebSocket URL to start at (a Ticket's `ws_url`); null: `url`. */
  target?: string | null;
  /** A join ticket's credential, added to every attempt's URL until a Welcome spends it. */
  ticket?: string;
}

/** What onFrame is told besides the frame. */
export interface FrameInfo extends Applied {
  /** The State's ack_seq: the newest input the room applied for this player. */
  ackSeq: number;
  /** The State itself. */
  msg: State;
}

/** Frames taken in and refused, across reconnects. */
export interface FrameCounters {
  /** Whole frames applied. */
  full: number;
  /** Deltas applied. */
  delta: number;
  /** Frames refused (other than checksum mismatches). */
  refused: number;
  /** Checksum mismatches (each one resyncs). */
  mismatches: number;
}

/** One player's session in one room, across reconnects, resumes and cluster redirects. */
export class Session {
  constructor(options: SessionOptions);

  /** The entry's WebSocket URL. */
  readonly url: string;
  readonly room: string;
  /** The name sent in Join (truncated). */
  readonly name: string;
  readonly resumeStore: ResumeTokenStore;
  readonly clusterUrl: string;
  /** The cluster member the session connects to (a ticket's or a redirect's), or null: the entry. */
  readonly target: string | null;
  /** The unspent ticket credential ('' once a Welcome spent it). */
  readonly ticket: string;
  /** Immediate cluster reconnects since the last Welcome. */
  readonly follows: number;
  /** Redirects followed, across reconnects. */
  readonly redirects: number;

  readonly state: SessionState;
  /** Why the connection last closed; null after a Welcome. */
  readonly closeInfo: CloseInfo | null;
  /** The newest Welcome of the current connection; null while not joined. */
  readonly welcome: Welcome | null;
  /** The room's state, from the Welcome on (a new one per Welcome, from its schema). */
  readonly replica: Replica | null;
  readonly frames: Readonly<FrameCounters>;

  /** Failed attempts since the last Welcome. */
  readonly attempt: number;
  /** Reconnects, in all. */
  readonly reconnects: number;
  /** The own player's id, from the newest Welcome (kept across reconnects); null before the first. */
  readonly playerId: number | null;
  /** Null before the first Welcome, then whether the newest one took back the earlier player. */
  readonly lastResumed: boolean | null;
  /** Welcomes that resumed a player. */
  readonly resumes: number;
  /** Joins that carried a resume token. */
  readonly resumeAttempts: number;
  /** The resume token this socket's Join carried ('' none). */
  readonly joinResume: string;
  /** Local time the connection last dropped; null once joined again. */
  readonly droppedAt: number | null;
  /** Local time of the newest resume; null before one. */
  readonly resumedAt: number | null;
  /** Local time of the next attempt while reconnecting; else null. */
  readonly retryAt: number | null;

  /** The newest input sequence number sent. */
  readonly seq: number;
  /** The newest frame tick (or the Welcome's). */
  readonly lastTick: number;
  /** The newest State's ack_seq. */
  readonly ackSeq: number;
  /** Ms from sending the input `ackSeq` names to the State that acknowledged it; null before one. */
  readonly ackLatency: number | null;
  /** The newest round-trip time, ms; null before the first Pong. */
  readonly rtt: number | null;

  /** Between a lost connection and the next Welcome (not stopped, not left). */
  readonly reconnecting: boolean;

  /** Opens the connection; returns this. */
  start(): this;
  /** The URL of the next attempt: the target (else the entry), with the unspent ticket. */
  attemptUrl(): string;
  /** Encodes and sends `msg` when the socket is open; whether it was sent. Throws RangeError on bad fields. */
  send(msg: ClientMessageInit): boolean;
  /** Sends the game's input (encoded) as the next input while connected: its seq, or null when not sent. */
  sendInput(data: Uint8Array): number | null;
  /** Whether the next Join may still take back the player: a token, and within the grace period. */
  canResume(): boolean;
  /** Drops the connection and resumes at once (done after a checksum mismatch). */
  resync(): void;
  /** Skips the backoff wait (also rejoins after a stop); ignored while connecting, joining or connected, and after leave(). */
  retryNow(): void;
  /** Leaves the room for good: sends Leave (no resume), forgets the token and closes. */
  leave(): void;
}

/**
 * The WebSocket URL of `/ws?room=<room>` on the http(s) or ws(s) server `server` (its path kept);
 * with `game`, `/ws?room=<room>&game=<game>` (a room the join starts runs that game).
 */
export function roomWsUrl(server: string, room: string, game?: string | null): string;
