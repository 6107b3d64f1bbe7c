//! skirmish, the second bundled game (each player is sent only what its
//! ship sees), end to end on a real server: its rooms are created through
//! the room API with a config (`--room-config`), hunters swarm them and
//! fight, no bot sees a decode error or a checksum mismatch of its own
//! view, interest management is at work (views share coded entities), and
//! every room's recording replays bit for bit.

use std::time::Duration;

use serde_json::json;
use tickroom_bots::{Placement, SwarmConfig};
use tickroom_server::{Config, Server};

use crate::util::{TempDir, games, metric, replay_all_clean, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_play_skirmish_and_its_recordings_replay_bit_for_bit() {
    let dir = TempDir::new("skirmish");
    let mut hosted = games();
    hosted
        .register::<tickroom_skirmish::Skirmish>()
        .expect("skirmish registers");
    let server = Server::start(
        Config {
            record_dir: Some(dir.0.clone()),
            ..test_config()
        },
        hosted.clone(),
    )
    .await
    .expect("starts");
    let addr = server.local_addr();

    // A small map, so the hunters meet; a view smaller than it, so each
    // sees only part of it.
    let report = tickroom_bots::run(
        SwarmConfig {
            url: format!("http://{addr}"),
            game: "skirmish".into(),
            placement: Placement::Rooms {
                rooms: 2,
                per_room: 12,
            },
            room_config: Some(json!({"size": 1600, "view_radius": 450})),
            duration: Some(Duration::from_secs(5)),
            connect_timeout: Duration::from_secs(30),
            seed: 5,
            ..SwarmConfig::default()
        },
        std::future::pending::<()>(),
    )
    .await
    .expect("the swarm runs");
    let all = &report.all.counts;
    assert_eq!(
        all.connect_errors, 0,
        "{:?}",
        report.all.connect_error_reasons
    );
    assert_eq!(
        (all.decode_errors, all.checksum_mismatches),
        (0, 0),
        "{all:?}"
    );
    assert!(all.snapshots > 0 && all.inputs_acked > 0, "{all:?}");
    let refused = metric(addr, "tickroom_inputs_dropped_total{reason=\"refused\"}").await;
    assert_eq!(refused, 0.0, "the hunters' inputs fit the game's input");
    let pieces = metric(addr, "tickroom_view_pieces_total").await;
    let reused = metric(addr, "tickroom_view_pieces_reused_total").await;
    assert!(
        pieces > 0.0 && reused > 0.0,
        "views are coded from shared pieces: {pieces} coded, {reused} reused"
    );
    // Hunters fire (every press is an input; the game's cooldown limits the
    // shots), and bullets that hit send events.
    let events = metric(addr, "tickroom_events_total").await;
    assert!(events > 0.0, "two rooms of hunters for 5 s sent no event");

    server.shutdown().await;
    // Each room's recording replays bit for bit (every frame's checksum).
    let recorded = replay_all_clean(&dir.0, &hosted);
    assert_eq!(recorded, ["skirmish", "skirmish"], "one recording per room");
}
