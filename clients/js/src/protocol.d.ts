// Hand-written TypeScript declarations of protocol.js (the message codec).
// protocol.js is the source of truth: keep this file in step with it (and
// with crates/protocol's messages.rs) whenever either changes.
//
// Messages are the plain objects the codec reads and writes, with the Rust
// field names; every integer is a JS number, byte strings (`Vec<u8>`) are
// Uint8Array, `String`s strings, `bool`s booleans. A game's own data inside
// them (the schema, a frame, events, an input) is read with state.js and
// replica.js.

/** Version of the wire format; sent in Join (the server closes with 1002 on a mismatch). */
export const PROTOCOL_VERSION = 6;
/** Longest player name, in bytes of UTF-8. */
export const MAX_NAME_BYTES = 24;
/** Longest resume token (Join `resume`), in bytes. */
export const MAX_TOKEN_BYTES = 160;
/** Longest encoded client message the server accepts. */
export const MAX_CLIENT_MESSAGE_BYTES = 256;
/** Longest game input (Input `data`), in bytes. */
export const MAX_INPUT_BYTES = 200;
/** Most events one State carries. */
export const MAX_EVENTS_PER_STATE = 256;
/** Longest encoded server message a client accepts (64 KiB). */
export const MAX_SERVER_MESSAGE_BYTES = 65536;

/** Thrown for bytes that are not a valid message (the Rust codec's Error), here and in state.js. */
export class ProtocolError extends Error {
  constructor(message: string);
  name: 'ProtocolError';
}

/** Bytes a decoder accepts: an ArrayBuffer (a WebSocket's binary `data`) or any view of one. */
export type BinaryData = ArrayBuffer | ArrayBufferView;

// ---- server messages ----

/** The server's answer to a Join: who you are, which game, how it runs. */
export interface Welcome {
  type: 'Welcome';
  /** u16: the server's PROTOCOL_VERSION. */
  version: number;
  /** u32: the own player's id (its entity carries it in the `player` component). */
  player_id: number;
  room: string;
  /** The room's game. */
  game: string;
  /** u16: frames per second. */
  tick_rate_hz: number;
  /** u16: simulation steps per second (a whole multiple of tick_rate_hz). */
  sim_rate_hz: number;
  /** u32: the room's tick at the join. */
  tick: number;
  /** The game's schema (state.js decodeSchema). */
  schema: Uint8Array;
  /** The room's config, as JSON (every field, defaults filled in). */
  config: string;
  /** A new single-use token for the next resume (a credential: never log it). */
  resume_token: string;
  /** Whether the join took back an earlier player. */
  resumed: boolean;
}

/** The room's state after one tick, for this client. */
export interface State {
  type: 'State';
  /** u32: the newest Input seq the room applied for this client's player (0: none yet). */
  ack_seq: number;
  /** Events for this player since the last State, in order (replica.js decodeEvent). */
  events: Uint8Array[];
  /** u32: the checksum of the frame this State produces (state.js stateChecksum). */
  checksum: number;
  /** The frame: a delta from the newest frame this client was sent, or a whole frame (state.js). */
  frame: Uint8Array;
}

/** The answer to a Ping. */
export interface Pong {
  type: 'Pong';
  /** u32: the ping's nonce. */
  nonce: number;
  /** u32: the room's newest tick. */
  tick: number;
}

/** A non-fatal error report (fatal ones close the WebSocket). */
export interface ErrorMsg {
  type: 'Error';
  /** u16: a stable machine-readable code. */
  code: number;
  message: string;
}

export type ServerMessage = Welcome | State | Pong | ErrorMsg;

// ---- client messages ----

/** Opens a session in the room named by the WebSocket URL. */
export interface Join {
  type: 'Join';
  /** u16: PROTOCOL_VERSION. */
  version: number;
  /** At most MAX_NAME_BYTES; '' lets the server pick. */
  name: string;
  /** A resume token from an earlier Welcome, or '' for a fresh join. */
  resume: string;
}

/** One game input. */
export interface Input {
  type: 'Input';
  /** u32: increasing by one per input. */
  seq: number;
  /** u32: the newest frame tick the client had. */
  ack_tick: number;
  /** The game's input, encoded by its schema (replica.js encodeInput); at most MAX_INPUT_BYTES. */
  data: Uint8Array;
}

/** Round-trip probe. */
export interface Ping {
  type: 'Ping';
  /** u32: echoed in the Pong. */
  nonce: number;
}

/** The player leaves the room (no resume). */
export interface Leave {
  type: 'Leave';
}

export type ClientMessage = Join | Input | Ping | Leave;

/** What encodeClient takes: a Join's `resume` may be left out (a fresh join), Input `data` may be an array of byte values. */
export type ClientMessageInit =
  | (Omit<Input, 'data'> & { data: Uint8Array | readonly number[] })
  | Ping
  | Leave
  | (Omit<Join, 'resume'> & { resume?: string | null });

/** Decodes one server message from a whole WebSocket binary payload. Throws ProtocolError. */
export function decodeServer(data: BinaryData): ServerMessage;

/** Encodes a server message (the server's side: tests and tools). Throws RangeError on bad fields. */
export function encodeServer(msg: ServerMessage): Uint8Array<ArrayBuffer>;

/**
 * Encodes a client message for WebSocket.send. Throws RangeError on
 * out-of-range fields, a resume token over MAX_TOKEN_BYTES and input data
 * over MAX_INPUT_BYTES included.
 */
export function encodeClient(msg: ClientMessageInit): Uint8Array<ArrayBuffer>;

/**
 * Decodes a client message (the server's side: tests and tools), with the
 * server's checks (size, name, token and input data lengths). Throws
 * ProtocolError.
 */
export function decodeClient(data: BinaryData): ClientMessage;

/** Truncates a display name to at most MAX_NAME_BYTES of UTF-8 without splitting a character. */
export function truncateName(name: string): string;

/** Room ids the server accepts: 1–64 of A-Z a-z 0-9 - _ . */
export function validRoomId(room: string): boolean;
