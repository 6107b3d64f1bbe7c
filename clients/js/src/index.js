// tickroom-client: the browser (and any ES-module host's) client of a
// tickroom server, for any game: the server sends its game's schema and the
// client decodes that game's state, events and inputs from it. This entry
// point re-exports the public API of every module, so a game imports from
// 'tickroom-client' alone; the subpaths ('tickroom-client/protocol',
// '/state', '/replica', '/session', '/netcode', '/matchmaker', '/client')
// hold the same names, module by module.
//
// Layers, each importing only the ones above it: protocol.js (the message
// codec; no I/O), state.js (replication for any game: schema, frames,
// deltas, checksum, input and event values; no I/O), replica.js (the room's
// newest frame and the game's data by name), netcode.js (prediction,
// interpolation, clocks; no I/O), session.js (one WebSocket session with
// resume, backoff and cluster redirects; I/O injected), matchmaker.js (the
// room API's ticket calls; fetch injected), client.js (RoomClient: all of it
// for one player). A game brings its own rules (a prediction model) and its
// drawing; the demo game's are in the server's assets/ folder.

export * from './protocol.js';
export * from './state.js';
export * from './replica.js';
export * from './netcode.js';
export * from './session.js';
export * from './matchmaker.js';
export * from './client.js';
