// Hand-written declarations of replica.js: the room's newest frame and the
// game's data by name. replica.js is the source of truth: keep this file in
// step with it.
//
// A game can type its own data: its components as an interface of
// `{ component: { field: value } }`, its input and events likewise, and pass
// them as the type parameters (they are not checked against the schema the
// server sends: that is what the schema is for at run time).

import type { BinaryData, State } from './protocol.js';
import type { GameSchema, SchemaShape, StateEntity, StateFrame, StateValue } from './state.js';

/**
 * A named value: bool → boolean; integers → number (u64, i64 → bigint);
 * fixed-point → number (÷ scale); f32 → number; text → string; entity → its
 * network id (number); array → an array of its items.
 */
export type FieldValue = number | bigint | boolean | string | FieldValue[];

/** A shape's (a component's, the input's, an event's) values by field name. */
export type Fields = { [field: string]: FieldValue };

/** An entity's components by name, the default (untyped) form. */
export type Components = { [component: string]: Fields };

/** An entity with named components; an entity has only some of a game's components. */
export interface EntityView<C extends object = Components> {
  /** The network id. */
  id: number;
  components: Partial<C>;
}

/** A frame with named components. */
export interface FrameView<C extends object = Components> {
  tick: number;
  /** By ascending network id; read-only (shared between frames where unchanged). */
  entities: EntityView<C>[];
}

/** One of a State's events, by name. */
export interface GameEvent<F extends object = Fields> {
  name: string;
  /** Its place in the schema's events. */
  id: number;
  fields: F;
}

/** What applying one State found. */
export interface Applied {
  tick: number;
  /** A whole frame (not a delta). */
  full: boolean;
  /** Whether the rebuilt frame's checksum is the server's (a mismatch is a bug; the frame is kept). */
  checksumOk: boolean;
}

/** A shape's slot values as `{ field: value }`. */
export function namedFields<F extends object = Fields>(shape: SchemaShape, values: readonly StateValue[]): F;

/**
 * A shape's slot values from `{ field: value }`: missing fields are zero,
 * unknown ones a TypeError, values a type cannot hold a RangeError
 * (fixed-point rounds and clamps, texts are cut, as the engine writes them).
 */
export function slotValues(shape: SchemaShape, fields: object): StateValue[];

/** The id of the component called `name`, or -1. */
export function componentId(schema: GameSchema, name: string): number;

/** An entity of a state.js frame with named components (cached per entity object). */
export function entityView<C extends object = Components>(schema: GameSchema, entity: StateEntity): EntityView<C>;

/** A state.js frame with named components. */
export function frameView<C extends object = Components>(schema: GameSchema, frame: StateFrame): FrameView<C>;

/** The game's input as the bytes an Input carries (RangeError / TypeError when it does not fit the schema). */
export function encodeInput<I extends object = Fields>(schema: GameSchema, fields: Partial<I>): Uint8Array<ArrayBuffer>;

/** An Input's bytes back as the game's input (ProtocolError on bad bytes). */
export function decodeInput<I extends object = Fields>(schema: GameSchema, data: BinaryData): I;

/** One of a State's events by name (ProtocolError on an unknown event or bad values). */
export function decodeEvent<F extends object = Fields>(schema: GameSchema, data: BinaryData): GameEvent<F>;

/** Event `name` with `fields` as the bytes a State carries (the server's side: tests and tools). */
export function encodeEvent(schema: GameSchema, name: string, fields?: object): Uint8Array<ArrayBuffer>;

/** One client's copy of its room's newest frame (mirrors the Rust Replica). */
export class Replica {
  /** An empty replica of a game with `schema` (decoded, or the Welcome's bytes). */
  constructor(schema: GameSchema | Uint8Array | ArrayBuffer);
  /** An empty replica for the schema a Welcome carries (ProtocolError on a bad schema). */
  static fromWelcome(welcome: { schema: Uint8Array }): Replica;
  readonly schema: GameSchema;
  /** The newest frame (state.js form); null before the first. */
  frame: StateFrame | null;
  /**
   * Applies a State: a whole frame, or a delta from the frame held. Throws
   * ProtocolError (the frame held is kept) for a delta from another frame
   * or bytes that do not decode.
   */
  apply(state: Pick<State, 'frame' | 'checksum'>): Applied;
  /** The newest frame with named components; null before the first. */
  view<C extends object = Components>(): FrameView<C> | null;
}
