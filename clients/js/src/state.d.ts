// Hand-written declarations of state.js: replication for any game (the
// slot level: replica.js names the values). Keep them in step with state.js.

/** One value slot: a number, a BigInt (64-bit slots; a u64 held as its signed bits) or a string. */
export type StateValue = number | bigint | string;

export interface StateComponent {
  /** The component's id: its index in the schema's `components`. */
  id: number;
  values: StateValue[];
}

export interface StateEntity {
  /** The network id. */
  id: number;
  /** By ascending id. */
  components: StateComponent[];
}

export interface StateFrame {
  tick: number;
  /** By ascending network id. */
  entities: StateEntity[];
}

export type FieldType =
  | { kind: 'scalar'; scalar: 'bool' | 'u8' | 'u16' | 'u32' | 'u64' | 'i8' | 'i16' | 'i32' | 'i64' | 'f32' }
  | { kind: 'fixed'; scalar: 'u8' | 'u16' | 'u32' | 'u64' | 'i8' | 'i16' | 'i32' | 'i64'; scale: number }
  | { kind: 'text'; maxBytes: number }
  | { kind: 'array'; len: number; item: FieldType }
  | { kind: 'entity' };

export interface StateSlot {
  kind: 'int' | 'bool' | 'f32' | 'text';
  min?: bigint;
  max?: bigint;
  /** Held as a BigInt (u64/i64). */
  big?: boolean;
  maxBytes?: number;
}

export interface SchemaShape {
  name: string;
  fields: { name: string; type: FieldType }[];
  /** The value slots in order (arrays expanded). */
  slots: StateSlot[];
}

export interface GameSchema {
  game: string;
  version: number;
  /** FNV-1a 64 of the schema's bytes. */
  hash: bigint;
  /** At the index that is each one's id. */
  components: SchemaShape[];
  input: SchemaShape;
  events: SchemaShape[];
}

export declare const MAX_STATE_ENTITIES: number;
export declare const MAX_STATE_SLOTS: number;

export declare function fnv1a64(bytes: Uint8Array): bigint;
export declare function decodeSchema(data: Uint8Array | ArrayBuffer | ArrayBufferView): GameSchema;
export declare function readStateHeader(data: Uint8Array | ArrayBuffer | ArrayBufferView): {
  tick: number;
  baseTick: number | null;
};
export declare function applyStateDelta(
  schema: GameSchema,
  base: StateFrame | null,
  data: Uint8Array | ArrayBuffer | ArrayBufferView,
): StateFrame;
export declare function stateChecksum(frame: StateFrame): number;

/** Decodes exactly one input or event body of `slots` (ProtocolError on anything the server would refuse). */
export declare function decodeValues(slots: readonly StateSlot[], data: Uint8Array | ArrayBuffer | ArrayBufferView): StateValue[];
/** Decodes one event of `schema`: its id (its place in `schema.events`) and values. */
export declare function decodeEventValues(
  schema: GameSchema,
  data: Uint8Array | ArrayBuffer | ArrayBufferView,
): { id: number; values: StateValue[] };
/** Encodes one input or event body (RangeError on a value that does not fit its slot). */
export declare function encodeValues(slots: readonly StateSlot[], values: readonly StateValue[]): Uint8Array<ArrayBuffer>;
/** Encodes event `id` of `schema` with `values` (its id, then the values). */
export declare function encodeEventValues(schema: GameSchema, id: number, values: readonly StateValue[]): Uint8Array<ArrayBuffer>;

/** A shape as encodeSchema takes it (decodeSchema's shapes fit too). */
export interface SchemaShapeDef {
  name: string;
  fields: readonly { name: string; type: FieldType }[];
}

/** A schema as encodeSchema takes it (a decoded GameSchema fits too). */
export interface SchemaDef {
  game: string;
  version: number;
  components?: readonly SchemaShapeDef[];
  input?: SchemaShapeDef;
  events?: readonly SchemaShapeDef[];
}

/** The canonical bytes of a schema, components and events sorted by name (the server's side: tests and tools). */
export declare function encodeSchema(def: SchemaDef): Uint8Array<ArrayBuffer>;
/**
 * The delta from `base` (null: a whole frame) to `frame`: the bytes the Rust
 * encoder writes (the server's side: tests and tools). RangeError on a value
 * that does not fit its slot.
 */
export declare function encodeStateDelta(schema: GameSchema, base: StateFrame | null, frame: StateFrame): Uint8Array<ArrayBuffer>;
