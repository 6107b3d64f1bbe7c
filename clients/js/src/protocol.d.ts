// Hand-written TypeScript declarations of protocol.js (the wire codec and the
// Replica). protocol.js is the source of truth: keep this file in step with
// it (and with crates/protocol's messages.rs) whenever either changes.
//
// Messages are the plain objects the codec reads and writes, with the Rust
// field names; every integer is a JS number (u8/u16/u32/i8/i16 alike), fixed
// Rust arrays `[T; 2]` are `[number, number]`, `Vec`s are arrays, `String`s
// strings, `bool`s booleans, `f32`s numbers.

/** Version of the wire format; sent in Join (the server closes with 1002 on a mismatch). */
export const PROTOCOL_VERSION = 5;
/** Longest player name, in bytes of UTF-8. */
export const MAX_NAME_BYTES = 24;
/** Longest resume token (Join `resume`), in bytes. */
export const MAX_TOKEN_BYTES = 160;
/** Longest encoded client message the server accepts. */
export const MAX_CLIENT_MESSAGE_BYTES = 256;
/** Longest encoded server message a client accepts (64 KiB). */
export const MAX_SERVER_MESSAGE_BYTES = 65536;
/** Quantization steps per world unit for positions and velocities (1/4 unit). */
export const QUANT_SCALE = 4;
/** Largest velocity error (quantized units, per axis) the server folds into the derived velocity. */
export const VEL_TOLERANCE = 40;
/** Largest `base_age` of a Delta. */
export const MAX_BASE_AGE = 255;

/** Thrown for bytes that are not a valid message (the Rust codec's Error). */
export class ProtocolError extends Error {
  constructor(message: string);
  name: 'ProtocolError';
}

/** Bytes a decoder accepts: an ArrayBuffer (a WebSocket's binary `data`) or any view of one. */
export type BinaryData = ArrayBuffer | ArrayBufferView;

// ---- parts of messages ----

/** The room's geometry and movement constants (f32 values), from the Welcome. */
export interface Arena {
  width: number;
  height: number;
  player_radius: number;
  pellet_radius: number;
  accel: number;
  max_speed: number;
  friction: number;
}

/** One player as on the wire: quantized position (u16 pair) and velocity (i16 pair). */
export interface PlayerState {
  /** u32 */
  id: number;
  /** u16 per axis: world units × QUANT_SCALE (see posFromWire). */
  pos: [number, number];
  /** i16 per axis: units per second × QUANT_SCALE (see velFromWire). */
  vel: [number, number];
  /** u32 */
  score: number;
  /** u32: the newest input sequence number the room applied for this player. */
  last_input_seq: number;
}

/** A pellet: u16 id, u16 quantized position. */
export interface Pellet {
  id: number;
  pos: [number, number];
}

/** A roster entry: a player's u32 id and name. */
export interface PlayerInfo {
  id: number;
  name: string;
}

/** An exact velocity in a Delta, where the derived one differs. */
export interface VelocityFix {
  id: number;
  /** i16 per axis. */
  vel: [number, number];
}

/** A new score in a Delta. */
export interface ScoreFix {
  id: number;
  score: number;
}

/** A player joining in a Delta, with its name. */
export interface NewPlayer {
  state: PlayerState;
  name: string;
}

// ---- server messages ----

/** The server's answer to a Join. */
export interface Welcome {
  type: 'Welcome';
  /** u16: the server's PROTOCOL_VERSION. */
  version: number;
  /** u32: the own player's id. */
  player_id: number;
  room: string;
  /** u16: frames per second. */
  tick_rate_hz: number;
  /** u16: simulation steps per second (a whole multiple of tick_rate_hz). */
  sim_rate_hz: number;
  /** u32: the room's tick at the join. */
  tick: number;
  arena: Arena;
  /** A new single-use token for the next resume (a credential: never log it). */
  resume_token: string;
  /** Whether the join took back an earlier player. */
  resumed: boolean;
}

/** A full frame of the room. */
export interface Snapshot {
  type: 'Snapshot';
  /** u32 */
  tick: number;
  players: PlayerState[];
  pellets: Pellet[];
  roster: PlayerInfo[];
}

/** A frame as a difference against the frame of tick `tick - base_age`. */
export interface Delta {
  type: 'Delta';
  /** u32 */
  tick: number;
  /** u8, 1..=MAX_BASE_AGE for a delta that applies. */
  base_age: number;
  /** u32: checksum() of the resulting frame. */
  checksum: number;
  /** u32 ids, increasing. */
  removed: number[];
  /** i8 pair per remaining player of the base frame, in id order. */
  moves: [number, number][];
  /** u8 per remaining player: how far last_input_seq advances. */
  acks: number[];
  velocities: VelocityFix[];
  scores: ScoreFix[];
  changed: PlayerState[];
  added: NewPlayer[];
  /** u16 pellet ids. */
  pellets_removed: number[];
  pellets_added: Pellet[];
}

/** The answer to a Ping. */
export interface Pong {
  type: 'Pong';
  /** u32: the Ping's nonce. */
  nonce: number;
  /** u32: the room's tick. */
  tick: number;
}

/** An error the server reports before it closes (Rust `ErrorMsg`). */
export interface ErrorMsg {
  type: 'Error';
  /** u16 */
  code: number;
  message: string;
}

/** Every server message, discriminated on `type`. */
export type ServerMessage = Welcome | Snapshot | Delta | Pong | ErrorMsg;

// ---- client messages ----

/** Joins a room; `resume` is a resume token or '' for a fresh join. */
export interface Join {
  type: 'Join';
  /** u16: PROTOCOL_VERSION. */
  version: number;
  /** At most MAX_NAME_BYTES of UTF-8. */
  name: string;
  /** At most MAX_TOKEN_BYTES; '' joins fresh. */
  resume: string;
}

/** One steering input. */
export interface Input {
  type: 'Input';
  /** u32 sequence number. */
  seq: number;
  /** u32: the newest tick the client has. */
  ack_tick: number;
  /** i8 per axis, 127 full deflection (see steerToWire). */
  steer: [number, number];
}

/** An RTT probe, answered by a Pong with the same nonce. */
export interface Ping {
  type: 'Ping';
  /** u32 */
  nonce: number;
}

/** Leaves the room for good (no resume). */
export interface Leave {
  type: 'Leave';
}

/** Every client message, discriminated on `type` (as decodeClient returns them). */
export type ClientMessage = Join | Input | Ping | Leave;

/** A client message as encodeClient accepts it: a Join's `resume` may be left out (a fresh join). */
export type ClientMessageInit = Input | Ping | Leave | (Omit<Join, 'resume'> & { resume?: string | null });

// ---- codec ----

/** Decodes one server message from a whole WebSocket binary payload. Throws ProtocolError. */
export function decodeServer(data: BinaryData): ServerMessage;

/** Encodes a server message (the server's side; for tests and tools). Throws RangeError on out-of-range fields. */
export function encodeServer(msg: ServerMessage): Uint8Array<ArrayBuffer>;

/**
 * Encodes a client message, ready for WebSocket.send. Throws RangeError on
 * out-of-range fields (a resume token longer than MAX_TOKEN_BYTES included).
 */
export function encodeClient(msg: ClientMessageInit): Uint8Array<ArrayBuffer>;

/**
 * Decodes a client message (the server's side; for tests and tools), with the
 * size, name and token length checks of the server. Throws ProtocolError.
 */
export function decodeClient(data: BinaryData): ClientMessage;

// ---- quantization ----

/** Wire position (u16) to world units. */
export function posFromWire(v: number): number;
/** Wire velocity (i16) to world units per second. */
export function velFromWire(v: number): number;
/** World-unit coordinate to its wire value: rounded, clamped to 0..=65535, NaN to 0. */
export function posToWire(v: number): number;
/** World-unit velocity component to its wire value: rounded, clamped to the i16 range, NaN to 0. */
export function velToWire(v: number): number;
/** A steering direction (longer than 1 is scaled to 1) to the wire's i8 pair, 127 full deflection. */
export function steerToWire(x: number, y: number): [number, number];
/** The wire's steering back to components in -1..=1 (-128 counts as -127), as f32 values. */
export function steerFromWire(s: readonly [number, number]): [number, number];

// ---- the client's copy of the room state ----

/**
 * A player of a Replica frame: the wire's values plus `velDerived`. Read-only:
 * the Replica builds the next frame from this one.
 */
export interface FramePlayer {
  readonly id: number;
  /** u16 per axis, quantized (see posFromWire). */
  readonly pos: readonly [number, number];
  /** i16 per axis, quantized (see velFromWire). */
  readonly vel: readonly [number, number];
  readonly score: number;
  readonly last_input_seq: number;
  /**
   * False when the velocity is known to be the server's simulated one; true
   * when it may be the one derived from the player's last move (see
   * netcode.js velTolerance()).
   */
  readonly velDerived: boolean;
}

/** A pellet of a Replica frame (read-only). */
export interface FramePellet {
  readonly id: number;
  readonly pos: readonly [number, number];
}

/** A roster entry of a Replica frame (read-only). */
export interface FrameRosterEntry {
  readonly id: number;
  readonly name: string;
}

/**
 * The room's complete state at one tick, as a Replica yields it. Players,
 * pellets and roster are sorted by id. Never modified once returned: lists a
 * delta does not touch are shared with the previous frame (`===` means
 * unchanged).
 */
export interface Frame {
  readonly tick: number;
  readonly players: readonly FramePlayer[];
  readonly pellets: readonly FramePellet[];
  readonly roster: readonly FrameRosterEntry[];
}

/** A player as checksum(), diff() and settleVelocities() read it (a wire player or a frame's). */
export interface PlayerLike {
  readonly id: number;
  readonly pos: readonly [number, number];
  readonly vel: readonly [number, number];
  readonly score: number;
  readonly last_input_seq: number;
}

/** A frame as checksum(), diff() and settleVelocities() read it: a Replica Frame, a Snapshot, or the server's. */
export interface FrameLike<P extends PlayerLike = PlayerLike> {
  readonly tick: number;
  readonly players: readonly P[];
  readonly pellets: readonly FramePellet[];
  readonly roster: readonly FrameRosterEntry[];
}

/** The u32 MurmurHash3 of a frame that a Delta carries (names are not covered). */
export function checksum(frame: Pick<FrameLike, 'tick' | 'players' | 'pellets'>): number;

/** Fields of each ReplicaError kind (also `detail`, and copied onto the error itself). */
export type ReplicaErrorDetail =
  | { kind: 'NoBase'; tick: number }
  | { kind: 'WrongBase'; have: number; need: number }
  | { kind: 'Shape'; moves: number; acks: number; players: number }
  | { kind: 'UnknownPlayer'; id: number }
  | { kind: 'DuplicatePlayer'; id: number }
  | { kind: 'ChecksumMismatch'; tick: number; want: number; got: number };

/** Why a delta could not be applied. */
export type ReplicaErrorKind = ReplicaErrorDetail['kind'];

/** The constructor's arguments for each kind: the kind, its fields, the message. */
export type ReplicaErrorArgs = {
  [K in ReplicaErrorKind]: [kind: K, fields: Omit<Extract<ReplicaErrorDetail, { kind: K }>, 'kind'>, message: string];
}[ReplicaErrorKind];

/**
 * Why a delta could not be applied (replica.rs `ApplyError`). Narrow on
 * `detail.kind` for the fields; they are also set on the error itself.
 */
export class ReplicaError extends Error {
  constructor(...args: ReplicaErrorArgs);
  name: 'ReplicaError';
  kind: ReplicaErrorKind;
  /** The kind and its fields as one plain object. */
  detail: ReplicaErrorDetail;
  /** NoBase, ChecksumMismatch: the delta's tick. */
  tick?: number;
  /** WrongBase: the tick the replica holds. */
  have?: number;
  /** WrongBase: the tick the delta is based on. */
  need?: number;
  /** Shape: the delta's number of moves. */
  moves?: number;
  /** Shape: the delta's number of acks. */
  acks?: number;
  /** Shape: the players remaining after `removed`. */
  players?: number;
  /** UnknownPlayer, DuplicatePlayer: the player's id. */
  id?: number;
  /** ChecksumMismatch: the delta's checksum. */
  want?: number;
  /** ChecksumMismatch: the checksum of the frame built. */
  got?: number;
}

/** A client's copy of the room state, rebuilt from full snapshots and deltas exactly as the server's. */
export class Replica {
  /** An empty replica for a room ticking at `tickRateHz` (the Welcome's `tick_rate_hz`). */
  constructor(tickRateHz: number);
  /** The frame rate velocities are derived with (at least 1). */
  tickRate: number;
  /** The newest frame; null before a full snapshot, and after a checksum mismatch. */
  frame: Frame | null;
  /** Replaces the state with a full snapshot; returns the new frame. */
  applySnapshot(s: Snapshot): Frame;
  /** Applies a delta to the held frame; returns the new frame. Throws ReplicaError. */
  applyDelta(d: Delta): Frame;
  /** Applies a Snapshot or a Delta; returns the new frame. Throws ReplicaError (TypeError for another type). */
  apply(msg: Snapshot | Delta): Frame;
}

/**
 * The canonical form of frame `cur` as the server publishes it (the server's
 * side, for tests and tools): velocities within VEL_TOLERANCE of the derived
 * ones become them. Returns a new frame, or `cur` itself when `prev` is not
 * the previous tick's frame.
 */
export function settleVelocities<F extends Pick<FrameLike, 'tick' | 'players'>>(
  prev: Pick<FrameLike, 'tick' | 'players'>,
  cur: F,
  tickRateHz: number,
): F;

/**
 * The Delta from frame `base` to frame `cur`, carrying `checksum` (the
 * server's side, for tests and tools), or null when `cur` is not 1 to
 * MAX_BASE_AGE ticks after `base`.
 */
export function diff(
  base: Pick<FrameLike, 'tick' | 'players' | 'pellets'>,
  cur: FrameLike,
  checksum: number,
  tickRateHz: number,
): Delta | null;

/** Truncates a display name to at most MAX_NAME_BYTES of UTF-8 without splitting a character. */
export function truncateName(name: string): string;

/** Whether the server accepts `room` as a room id: 1–64 of A-Z a-z 0-9 - _ . */
export function validRoomId(room: string): boolean;
