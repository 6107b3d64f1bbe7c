//! End-to-end tests: real servers on ephemeral loopback ports, real
//! tokio-tungstenite clients, no mocks. One binary, a module per area.
//! Tests assert counts and order, never wall-clock figures.

/// Shared helpers: start a server, connect clients, read metrics.
mod util;

/// Joining, frames, inputs moving players, room isolation, pings.
mod gameplay;

/// Every kind of bad input closes only the offending connection, with its code.
mod bad_input;

/// Slow readers lose stale frames without slowing anyone else.
mod slow_client;

/// Room capacity, draining, metrics and HTTP endpoints.
mod lifecycle;

/// The bot swarm against a real server.
mod bots;

/// The browser client's node tests (codec vectors, movement port, netcode).
mod js;

/// The demo client over HTTP, and headless Chromium playing it.
mod browser;

/// Session resume: tokens, grace period, take-over.
mod resume;

/// The room API (`/rooms`, `/matchmake`) and join tickets at the upgrade.
mod api;

/// A static cluster (`--peers`) of three in-process servers: placement, 4001, forwarding.
mod static_cluster;

/// docs/deploy/nginx.conf run by a real nginx in front of two nodes (path routing).
mod nginx;

/// Helpers for the multi-process cluster test: Redis, nodes, cluster clients.
mod support;

/// A Redis-backed cluster of real `tickroom` processes: placement, moves on
/// node death and drain, a node joining, Redis going away and coming back.
mod cluster;

/// Deploys that end no match: a rolling restart hands every room on, and a
/// killed node's rooms come back from their Redis snapshots.
mod handoff;

/// Hand-built WebSocket frames over plain TCP: every RFC 6455 violation gets its close code.
mod raw_ws;

/// Room limits (`--max-rooms`, `--room-creations-per-ip`) and the API token.
mod hardening_rooms;

/// The HTTP layer's limits: head timeouts and size, handshake slots, Origin, connection caps.
mod hardening_http;

/// A joined client that sends nothing is pinged, then closed with 1008 "idle
/// timeout" into the resume grace; one that answers pings stays.
mod liveness;

/// Built-in TLS: wss:// clients, the bots over https://, plain clients refused, bad files.
mod tls;

/// Rooms recorded with `--record-dir`, replayed by `tickroom replay` to the frames their players saw.
mod replay;

/// The server's input-latency histograms: receipt → queued, receipt → applied.
mod input_latency;

/// The bots' own Prometheus metrics (`--metrics-addr`), equal to their report.
mod bots_metrics;

/// docs/grafana/tickroom.json and docs/prometheus/tickroom-rules.yml queried
/// through a real Prometheus scraping a real server and the bots' exporter.
mod prometheus;

/// The JavaScript client packed with `npm pack`, installed into a scratch
/// project, imported, type-checked, and its README example played in Chromium.
mod client_package;

// A game that is not the arena, on the public API, end to end.
mod second_game;

// skirmish, the second bundled game (interest management), end to end.
mod skirmish;

/// The docs' example game, `dots` (`crates/tickroom/examples/dots/game.rs`),
/// compiled in for the tests that host a game that is not the arena.
#[path = "../../crates/tickroom/examples/dots/game.rs"]
mod dots;
