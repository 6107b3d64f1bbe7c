// Hand-written declarations of index.js (the package's main entry): every
// module's public API, re-exported. Keep them in step with index.js.

export * from './protocol.js';
export * from './state.js';
export * from './replica.js';
export * from './netcode.js';
export * from './session.js';
export * from './matchmaker.js';
export * from './client.js';
