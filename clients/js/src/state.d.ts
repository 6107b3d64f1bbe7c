// Hand-written declarations of state.js: replication for any game.

/** One value slot: a number, a BigInt (64-bit slots) or a string. */
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
