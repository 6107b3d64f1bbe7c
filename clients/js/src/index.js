// tickroom-client: the browser (and any ES-module host's) client of a
// tickroom server. This entry point re-exports the public API of every
// module, so a game imports from 'tickroom-client' alone; the subpaths
// ('tickroom-client/protocol', '/state', '/session', '/netcode', '/arena',
// '/matchmaker', '/client') hold the same names, module by module.
//
// Layers, each importing only the ones above it: protocol.js (wire codec,
// replica; no I/O), state.js (replication for any game: schema, frames,
// deltas, checksum; no I/O), arena.js (the built-in arena game's prediction rules),
// netcode.js (prediction, interpolation, clocks; no I/O), session.js (one
// WebSocket session with resume, backoff and cluster redirects; I/O
// injected), matchmaker.js (the room API's ticket calls; fetch injected),
// client.js (RoomClient: all of it for one player).

export * from './protocol.js';
export * from './state.js';
export * from './arena.js';
export * from './netcode.js';
export * from './session.js';
export * from './matchmaker.js';
export * from './client.js';
