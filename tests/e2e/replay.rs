//! Recording and replay end to end: a server with `--record-dir` hosts two
//! test players (one drops and resumes, one leaves) and a bot swarm with
//! churners; once the rooms close, the real `tickroom replay` binary replays
//! every file: exit 0, the End block read, the players the clients and bots
//! were, and, for the test players' room, every frame they received matches
//! the replay's export at the same tick. The recordings endpoints list the
//! files behind the operator token, summarize them and serve replayed frames.
//! Damaged files (truncated, a flipped byte, not a recording) exit 1 with a
//! clear message and never panic.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use tickroom_bots::{Placement, SwarmConfig};
use tickroom_protocol::{
    ClientMsg, ServerMsg, decode_server,
    state::{Replica, Schema},
};
use tickroom_server::Config;

use crate::{
    support::node::tickroom_bin,
    util::{Client, request, run_with_limit, send, start, temp_dir, test_config},
};

const TOKEN: &str = "replay-e2e-operator-token";
/// One replay of a few hundred ticks takes milliseconds; a hang trips this.
const REPLAY_LIMIT: Duration = Duration::from_secs(60);

/// Runs `tickroom replay` with `args`; returns exit code, stdout, stderr.
async fn replay(args: Vec<String>) -> (i32, String, String) {
    let (code, out, err, killed) = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(tickroom_bin());
        cmd.arg("replay").args(&args);
        run_with_limit(cmd, REPLAY_LIMIT)
    })
    .await
    .expect("replay runs");
    assert!(
        !killed,
        "tickroom replay hung for {REPLAY_LIMIT:?}:\n{out}\n{err}"
    );
    let code = code.expect("tickroom replay exits with a code (not a signal)");
    assert_ne!(code, 101, "tickroom replay panicked:\n{out}\n{err}");
    (code, out, err)
}

fn summary_json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("summary JSON ({e}):\n{out}"))
}

fn recordings(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the record dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "tickrec"))
        .collect();
    files.sort();
    files
}

/// Every frame of a `--export jsonl` file, one JSON value a line.
fn exported_frames(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("export written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Tick → checksum of every frame in a `--export jsonl` file.
fn exported_checksums(path: &Path) -> BTreeMap<u32, u32> {
    exported_frames(path)
        .iter()
        .map(|v| {
            (
                v["tick"].as_u64().expect("tick") as u32,
                v["checksum"].as_u64().expect("checksum") as u32,
            )
        })
        .collect()
}

/// The tick and checksum of the frame `c` holds (read after
/// [`Client::snapshot`], which checked it against the server's).
fn holds(c: &Client) -> (u32, u32) {
    let frame = c.replica.frame().expect("a frame");
    (frame.tick, frame.checksum(&mut Vec::new()))
}

fn auth() -> String {
    format!("Authorization: Bearer {TOKEN}\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_rooms_replay_to_exactly_the_frames_their_players_saw() {
    let dir = temp_dir("record");
    let server = start(Config {
        record_dir: Some(dir.clone()),
        api_token: Some(TOKEN.parse().expect("token")),
        // Keyframes every 2 s (40 ticks): checked field by field on replay.
        record_keyframe_every: Duration::from_secs(2),
        ..test_config()
    })
    .await;
    let addr = server.local_addr();

    // Two test players: every frame they get is (tick, checksum) on record.
    let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
    let mut note = |(tick, sum): (u32, u32)| {
        if let Some(old) = seen.insert(tick, sum) {
            assert_eq!(old, sum, "two players saw different frames at tick {tick}");
        }
    };
    let mut ada = Client::join(addr, "rec", "ada").await;
    let mut bob = Client::join(addr, "rec", "bob").await;
    for i in 0..40 {
        ada.input([100, (i * 7 % 200 - 100) as i8]).await;
        bob.input([-90, 60]).await;
        ada.snapshot().await;
        note(holds(&ada));
        bob.snapshot().await;
        note(holds(&bob));
    }
    // Ada drops and comes back with her resume token; Bob leaves on purpose.
    let token = ada.welcome.resume_token.clone();
    drop(ada);
    send(&mut bob.ws, &ClientMsg::Leave).await;
    drop(bob);
    let mut ada = Client::join_resuming(addr, "rec", "ada", &token).await;
    assert!(ada.welcome.resumed, "ada resumes within the grace");
    for _ in 0..30 {
        ada.input([-127, -127]).await;
        ada.snapshot().await;
        note(holds(&ada));
    }
    drop(ada);

    // A swarm in two more rooms, churners included.
    let bots = SwarmConfig {
        url: format!("http://{addr}"),
        placement: Placement::Rooms {
            rooms: 2,
            per_room: 8,
        },
        mix: "wander=6,churn=2".parse().expect("mix"),
        ramp_per_sec: 500.0,
        duration: Some(Duration::from_secs(3)),
        connect_timeout: Duration::from_secs(30),
        seed: 11,
        ..SwarmConfig::default()
    };
    let report = tickroom_bots::run(bots, std::future::pending())
        .await
        .expect("the swarm runs");
    assert_eq!(report.all.counts.connect_errors, 0, "{report}");

    // Shutting down closes every room: the writer ends and flushes each file.
    server.shutdown().await;
    let ended = recordings(&dir);
    assert_eq!(ended.len(), 3, "one recording per room: {ended:?}");

    // A new server on the same directory lists them (behind the token),
    // summarizes them and serves their replayed frames.
    let server = start(Config {
        record_dir: Some(dir.clone()),
        api_token: Some(TOKEN.parse().expect("token")),
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    // The endpoints: behind the token, listing, frames.
    let (status, _, _) = request(addr, "GET", "/recordings", "", "").await;
    assert_eq!(status, 401, "no token, no recordings");
    let (status, _, body) = request(addr, "GET", "/recordings", &auth(), "").await;
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_slice(&body).expect("list JSON");
    let listed: BTreeSet<String> = list["recordings"]
        .as_array()
        .expect("recordings")
        .iter()
        .map(|r| r["file"].as_str().expect("file").to_owned())
        .collect();
    let on_disk: BTreeSet<String> = ended
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, on_disk);
    let (status, _, _) = request(addr, "GET", "/recordings/..%2Fetc%2Fpasswd", &auth(), "").await;
    assert_eq!(status, 400, "a path is not a recording name");

    let rec = ended
        .iter()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("rec@"))
        })
        .expect("the test players' room was recorded")
        .clone();
    let rec_name = rec
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let (status, _, body) =
        request(addr, "GET", &format!("/recordings/{rec_name}"), &auth(), "").await;
    assert_eq!(status, 200);
    let summary: serde_json::Value = serde_json::from_slice(&body).expect("summary JSON");
    assert_eq!(summary["room"], "rec");
    assert!(
        summary["divergence"].is_null() && summary["read_error"].is_null(),
        "{summary}"
    );
    // The recording names its game, version and config, and carries the
    // schema a viewer decodes its frames with.
    assert_eq!(summary["game"], "arena", "{summary}");
    assert_eq!(
        summary["game_version"].as_u64(),
        Some(u64::from(tickroom_sim::SIM_VERSION)),
        "{summary}"
    );
    assert_eq!(summary["config"]["pellet_count"], 100, "{summary}");
    let schema: Vec<u8> = serde_json::from_value(summary["schema"].clone()).expect("schema bytes");
    let mut replica = Replica::new(Schema::decode(&schema).expect("the summary's schema decodes"));
    let first_seen = *seen.keys().next().expect("frames seen");
    let (status, headers, body) = request(
        addr,
        "GET",
        &format!("/recordings/{rec_name}/frames?from={first_seen}&count=5"),
        &auth(),
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "x-tickroom-frames" && v == "5"),
        "{headers:?}"
    );
    let mut at = 0;
    let mut ticks = Vec::new();
    while at < body.len() {
        let len = u32::from_le_bytes(body[at..at + 4].try_into().expect("length")) as usize;
        let ServerMsg::State(s) = decode_server(&body[at + 4..at + 4 + len]).expect("a State")
        else {
            panic!("frames are States");
        };
        let applied = replica.apply(&s).expect("a served frame decodes");
        assert!(
            applied.full && applied.checksum_ok,
            "tick {}: {applied:?}",
            applied.tick
        );
        if let Some(sum) = seen.get(&applied.tick) {
            assert_eq!(
                s.checksum.0, *sum,
                "tick {}: the served frame is the one the players saw",
                applied.tick
            );
        }
        ticks.push(applied.tick);
        at += 4 + len;
    }
    assert_eq!(ticks, (first_seen..first_seen + 5).collect::<Vec<_>>());
    server.shutdown().await;

    // `tickroom replay` on every file.
    for file in &ended {
        let (code, out, err) = replay(vec![file.display().to_string(), "--json".into()]).await;
        assert_eq!(code, 0, "replay of {}:\n{out}\n{err}", file.display());
        let s = summary_json(&out);
        assert!(s["divergence"].is_null(), "{out}");
        assert_eq!(s["end"]["reason"], "room closed", "{out}");
        assert_eq!(
            s["ticks"], s["end"]["last_tick"],
            "every tick replayed: {out}"
        );
        let names: BTreeSet<&str> = s["players"]
            .as_array()
            .expect("players")
            .iter()
            .map(|p| p["name"].as_str().expect("name"))
            .collect();
        if *file == rec {
            assert_eq!(names, BTreeSet::from(["ada", "bob"]), "{out}");
            assert_eq!(
                s["players"].as_array().map(Vec::len),
                Some(2),
                "one join each: {out}"
            );
            assert_eq!(s["resumes"], 1, "{out}");
            assert_eq!(s["leaves"], 1, "{out}");
            assert!(s["keyframes"].as_u64() >= Some(1), "{out}");
        } else {
            // A room of the swarm: its eight bots, churners coming back as themselves.
            assert_eq!(names.len(), 8, "{out}");
            assert!(names.iter().all(|n| n.starts_with("bot-")), "{out}");
        }
    }

    // The test players' frames, tick by tick, in the export.
    let export = dir.join("rec.jsonl");
    let (code, out, err) = replay(vec![
        rec.display().to_string(),
        "--export".into(),
        "jsonl".into(),
        "--out".into(),
        export.display().to_string(),
    ])
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("every tick replayed matched"), "{out}");
    // Each line is a generic frame: entities with components by name.
    let frames = exported_frames(&export);
    let names_at = |f: &serde_json::Value| -> BTreeSet<String> {
        f["entities"]
            .as_array()
            .expect("entities")
            .iter()
            .filter_map(|e| e["components"]["player"]["name"].as_str())
            .map(str::to_owned)
            .collect()
    };
    assert!(
        frames
            .iter()
            .any(|f| names_at(f) == BTreeSet::from(["ada".to_owned(), "bob".to_owned()])),
        "no exported frame has ada and bob as players"
    );
    let pellets: Vec<&serde_json::Value> = frames[0]["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .filter(|e| e["components"]["pellet"].is_object())
        .collect();
    assert!(
        (1..=100).contains(&pellets.len()),
        "{} live pellets of 100",
        pellets.len()
    );
    for p in pellets {
        let x = p["components"]["pos"]["x"].as_f64();
        assert!(
            x.is_some_and(|x| (0.0..=1600.0).contains(&x)),
            "a pellet's pos, in arena units: {p}"
        );
    }
    let replayed = exported_checksums(&export);
    assert!(seen.len() >= 60, "the players saw {} frames", seen.len());
    for (tick, sum) in &seen {
        assert_eq!(
            replayed.get(tick),
            Some(sum),
            "tick {tick}: the replay's frame differs from what the players received"
        );
    }
    let (code, out, _) = replay(vec![
        rec.display().to_string(),
        "--until".into(),
        "10".into(),
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ticks 1..=10"), "{out}");

    // Damaged files: exit 1, a clear message, no panic.
    let bytes = std::fs::read(&rec).expect("read the recording");
    let cut = dir.join("cut.tickrec");
    // Cut in the middle: inside a block ("truncated"), or by chance on a
    // block's boundary (then only the End block is missing).
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let (code, out, err) = replay(vec![cut.display().to_string()]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("truncated at byte") || out.contains("without its End block"),
        "{out}"
    );
    // One byte short: always inside the End block.
    std::fs::write(&cut, &bytes[..bytes.len() - 1]).expect("write");
    let (code, out, err) = replay(vec![cut.display().to_string()]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("truncated at byte"), "{out}");
    let flipped = dir.join("flipped.tickrec");
    let mut bad = bytes.clone();
    // Inside the End block's payload (the last few bytes): its CRC catches it.
    bad[bytes.len() - 2] ^= 0x20;
    std::fs::write(&flipped, &bad).expect("write");
    let (code, out, err) = replay(vec![flipped.display().to_string()]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("CRC mismatch"), "{out}");
    let junk = dir.join("junk.tickrec");
    std::fs::write(&junk, b"<html>not a recording</html>").expect("write");
    let (code, out, err) = replay(vec![junk.display().to_string()]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("not a tickroom recording"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recordings_endpoints_need_the_record_dir_and_the_token() {
    let server = start(Config {
        api_token: Some(TOKEN.parse().expect("token")),
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let (status, _, body) = request(addr, "GET", "/recordings", &auth(), "").await;
    assert_eq!(status, 404);
    let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON error");
    assert_eq!(v["code"], "recording_disabled");
    server.shutdown().await;

    let dir = temp_dir("record-auth");
    let server = start(Config {
        record_dir: Some(dir.clone()),
        ..test_config()
    })
    .await;
    let (status, _, body) = request(server.local_addr(), "GET", "/recordings", "", "").await;
    assert_eq!(status, 403, "no --api-token: operator endpoints are off");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON error");
    assert_eq!(v["code"], "admin_disabled");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_with_sub_steps_replays_step_by_step() {
    let dir = temp_dir("record-substeps");
    let server = start(Config {
        record_dir: Some(dir.clone()),
        sim_rate: Some(60),
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
    let mut c = Client::join(addr, "steps", "ada").await;
    assert_eq!(
        (c.welcome.tick_rate_hz, c.welcome.sim_rate_hz),
        (20, 60),
        "the Welcome names both rates"
    );
    for i in 0..40 {
        c.input([(i * 6 % 254 - 127) as i8, 90]).await;
        c.snapshot().await;
        let (tick, sum) = holds(&c);
        seen.insert(tick, sum);
    }
    drop(c);
    server.shutdown().await;
    let files = recordings(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let export = dir.join("steps.jsonl");
    let (code, _, err) = replay(vec![
        files[0].display().to_string(),
        "--json".into(),
        "--export".into(),
        "jsonl".into(),
        "--out".into(),
        export.display().to_string(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let replayed = exported_checksums(&export);
    for (tick, sum) in &seen {
        assert_eq!(replayed.get(tick), Some(sum), "tick {tick}");
    }
    let (code, json, err) = replay(vec![files[0].display().to_string(), "--json".into()]).await;
    assert_eq!(code, 0, "{err}");
    let s = summary_json(&json);
    assert_eq!(
        (s["tick_rate_hz"].as_u64(), s["sim_rate_hz"].as_u64()),
        (Some(20), Some(60)),
        "{json}"
    );
    // Three steps a frame; the room may have ended between two frames.
    let (steps, ticks) = (
        s["steps"].as_u64().expect("steps"),
        s["ticks"].as_u64().expect("ticks"),
    );
    assert!(
        (3 * ticks..3 * ticks + 3).contains(&steps),
        "{steps} steps for {ticks} frames: {json}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
