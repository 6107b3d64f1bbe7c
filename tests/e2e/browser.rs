//! The browser demo client against a real server: the HTTP side (every asset
//! with its Content-Type, caching, nothing outside `assets/`), and a real
//! headless Chromium playing the game (`tests/browser/demo.mjs`, driven by
//! playwright-core): joining from the menu, a key press moving the own player,
//! two pages seeing each other, pointer steering, "room full", leaving, with
//! a bound on prediction snaps and corrections; once against a default server
//! and once against one stepping at 60 Hz (`--sim-rate 60`, 3 steps per
//! frame), where the page predicts per step and must play as smoothly. The
//! script writes a screenshot to `target/browser/demo.png` (`demo-60hz.png`)
//! for a person to look at. A second script (`tests/browser/cluster.mjs`) has the page,
//! served by one node of a two-node cluster, join a room that lives on the
//! other: it must follow the 4001 close to the owner. A third
//! (`tests/browser/replay.mjs`) watches a room's recording in the viewer
//! (`/?replay=<file>`): two test players play, the server shuts down (ending
//! the file), a second server on the same directory serves it; the page
//! plays, pauses, seeks and speeds up, and says so without the operator
//! token, with a wrong one, and for a missing or an unreadable file. A
//! fourth (`tests/browser/dots.mjs`) plays a game that is not the arena: the
//! dots example's own page (`crates/tickroom/examples/dots/www/`, served
//! with `assets_dir` as `--assets-dir` would), two pages moving and waving in
//! one room (screenshot `target/browser/dots.png`). A fifth
//! (`tests/browser/skirmish.mjs`) plays skirmish, the second bundled game, on
//! its page (`assets/skirmish/`): three players in a room made through the
//! room API with fixed spawn points, one shooting another down while the
//! third, far away, must be sent nothing of it (screenshot
//! `target/browser/skirmish.png`). A sixth
//! (`tests/browser/replay_skirmish.mjs`) watches a skirmish room's recording
//! in the viewer, drawn with skirmish's own renderer (screenshot
//! `target/browser/replay-skirmish.png`).
//!
//! Needs Debian's `/usr/bin/chromium` (or `$CHROMIUM`) and
//! `tests/browser/node_modules` (`npm ci --prefix tests/browser`);
//! `scripts/test` installs both. Without them the Chromium test is skipped
//! with a loud message, except under `CI=true`, where it fails.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use crate::util::{Client, request, run_with_limit, start, test_config};

pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The cargo target directory this test binary runs from (`target/debug/deps/e2e-…`).
pub(crate) fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_client_is_served_with_the_right_content_types() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let root = workspace_root();
    for (path, file, ty) in [
        ("/", "assets/index.html", "text/html; charset=utf-8"),
        (
            "/index.html",
            "assets/index.html",
            "text/html; charset=utf-8",
        ),
        (
            "/main.js",
            "assets/main.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/replay.js",
            "assets/replay.js",
            "text/javascript; charset=utf-8",
        ),
        ("/style.css", "assets/style.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "assets/favicon.svg", "image/svg+xml"),
        // The client package the demo imports (its import map says so).
        (
            "/client/index.js",
            "clients/js/src/index.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/client/protocol.js",
            "clients/js/src/protocol.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/client/client.js",
            "clients/js/src/client.js",
            "text/javascript; charset=utf-8",
        ),
    ] {
        let (status, headers, body) = request(addr, "GET", path, "", "").await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&headers, "content-type"), Some(ty), "{path}");
        assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
        let on_disk = std::fs::read(root.join(file)).expect("asset on disk");
        assert!(body == on_disk, "{path} serves {file}");
        // Revalidation with the ETag answers 304 without a body.
        let etag = header(&headers, "etag").expect("embedded assets have an ETag");
        let (status, _, body) =
            request(addr, "GET", path, &format!("If-None-Match: {etag}\r\n"), "").await;
        assert_eq!((status, body.len()), (304, 0), "{path} revalidates");
    }
    let (status, headers, body) = request(addr, "HEAD", "/main.js", "", "").await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    for path in [
        "/nope.js",
        "/test/vectors.json",
        "/protocol.js",
        "/client/",
        "/client/index.d.ts",
        "/client/package.json",
        "/client/test/vectors.json",
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/.gitignore",
    ] {
        let (status, headers, _) = request(addr, "GET", path, "", "").await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(header(&headers, "content-type"), Some("application/json"));
    }
    // A folder named without its slash goes to its page, the query kept.
    let (status, headers, _) = request(addr, "GET", "/skirmish?room=r1", "", "").await;
    assert_eq!(status, 308);
    assert_eq!(header(&headers, "location"), Some("/skirmish/?room=r1"));
    let (status, headers, _) = request(addr, "POST", "/", "Content-Length: 0\r\n", "").await;
    assert_eq!(status, 405);
    assert_eq!(header(&headers, "allow"), Some("GET, HEAD"));
    // The other routes are unchanged.
    let (status, _, body) = request(addr, "GET", "/healthz", "", "").await;
    assert_eq!((status, body.as_slice()), (200, &b"ok\n"[..]));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_serves_assets_from_a_directory() {
    let dir = std::env::temp_dir().join(format!("tickroom-assets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("index.html"), "<!doctype html>edited").expect("write");
    let server = start(tickroom_server::Config {
        assets_dir: Some(dir.clone()),
        ..test_config()
    })
    .await;
    let (status, headers, body) = request(server.local_addr(), "GET", "/", "", "").await;
    assert_eq!(status, 200);
    assert_eq!(body, b"<!doctype html>edited");
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert_eq!(header(&headers, "etag"), None);
    let (status, _, _) = request(server.local_addr(), "GET", "/main.js", "", "").await;
    assert_eq!(status, 404, "only the directory's files");
    // The client package is the embedded one unless the directory has its own.
    let embedded =
        std::fs::read(workspace_root().join("clients/js/src/index.js")).expect("index.js");
    let (status, _, body) = request(server.local_addr(), "GET", "/client/index.js", "", "").await;
    assert_eq!(
        (status, body == embedded),
        (200, true),
        "embedded client/index.js"
    );
    std::fs::create_dir_all(dir.join("client")).expect("client dir");
    std::fs::write(dir.join("client/index.js"), "export const edited = 1;\n").expect("write");
    let (status, _, body) = request(server.local_addr(), "GET", "/client/index.js", "", "").await;
    assert_eq!(status, 200);
    assert_eq!(
        body, b"export const edited = 1;\n",
        "the directory's client/ first"
    );
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// One headless Chromium at a time: the demo script's bounds (frames a
/// second, prediction corrections) are about the page, not about several
/// browsers sharing the machine's cores. Each Chromium test holds it while
/// its browser runs.
pub(crate) static CHROMIUM_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Why the Chromium test cannot run here, if it cannot.
fn missing_prerequisite(chromium: &Path, root: &Path) -> Option<String> {
    if !chromium.exists() {
        return Some(format!("chromium not installed ({})", chromium.display()));
    }
    if !root
        .join("tests/browser/node_modules/playwright-core")
        .exists()
    {
        return Some("tests/browser/node_modules missing (npm ci --prefix tests/browser)".into());
    }
    if Command::new(crate::js::node())
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("node not installed".into());
    }
    None
}

/// The Chromium to drive, or `None` (after a loud SKIPPED message) when it or
/// the script's node modules are missing; under `CI=true` that fails `test`.
pub(crate) fn chromium_or_skip(test: &str, root: &Path) -> Option<PathBuf> {
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned()));
    let Some(why) = missing_prerequisite(&chromium, root) else {
        return Some(chromium);
    };
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !in_ci,
        "the browser test cannot run under CI: {why}; scripts/test installs what it needs"
    );
    // Straight to the stderr handle: libtest captures `eprintln!` of passing tests.
    let bar = "!".repeat(78);
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\nSKIPPED: {test}: {why} — run scripts/test\n{bar}\n"
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_plays_the_demo() {
    play_the_demo("headless_chromium_plays_the_demo", None, "demo.png").await;
}

/// The same script against a server stepping 3 times per 20 Hz frame
/// (`--sim-rate 60`): the page predicts its own player per step and must play
/// as smoothly as at 20 Hz (the script's bounds on snaps and corrections are
/// the same for both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_plays_the_demo_at_60_hz_steps() {
    play_the_demo(
        "headless_chromium_plays_the_demo_at_60_hz_steps",
        Some(60),
        "demo-60hz.png",
    )
    .await;
}

/// Runs `tests/browser/demo.mjs` against a fresh server with `sim_rate`
/// (`--sim-rate`; `None`: one step per frame), writing its screenshot to
/// `target/browser/{screenshot}`.
async fn play_the_demo(test: &str, sim_rate: Option<u32>, screenshot: &str) {
    let root = workspace_root();
    let Some(chromium) = chromium_or_skip(test, &root) else {
        return;
    };
    let _turn = CHROMIUM_TURN.lock().await;

    // Capacity 2, so the script's third page finds the room full.
    let config = tickroom_server::Config {
        room_capacity: 2,
        sim_rate,
        ..test_config()
    };
    config.validate().expect("a valid --sim-rate");
    assert_eq!(config.tick_rate, 20, "demo.mjs expects 20 frames a second");
    let server = start(config).await;
    let base = format!("http://{}/", server.local_addr());
    let screenshot = target_dir().join("browser").join(screenshot);
    let mut cmd = Command::new(crate::js::node());
    cmd.arg("tests/browser/demo.mjs")
        .arg(&base)
        .arg(&screenshot)
        .env("CHROMIUM", &chromium)
        .current_dir(&root);
    if let Some(rate) = sim_rate {
        cmd.arg(rate.to_string());
    }
    let (code, stdout, stderr, timed_out) =
        tokio::task::spawn_blocking(move || run_with_limit(cmd, Duration::from_secs(90)))
            .await
            .expect("runner thread");
    server.shutdown().await;
    println!("{stdout}");
    assert!(
        code == Some(0) && !timed_out,
        "tests/browser/demo.mjs (sim rate {sim_rate:?}) failed (exit {code:?}{}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        if timed_out { ", killed after 90 s" } else { "" }
    );
    assert!(
        screenshot.exists(),
        "screenshot {} written",
        screenshot.display()
    );
    eprintln!("browser screenshot: {}", screenshot.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_follows_the_room_to_its_node() {
    let root = workspace_root();
    let Some(chromium) = chromium_or_skip("headless_chromium_follows_the_room_to_its_node", &root)
    else {
        return;
    };
    let _turn = CHROMIUM_TURN.lock().await;
    // A static pair: the page comes from a, the room lives on b.
    let (la, lb) = (
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
    );
    let (a, b) = (
        la.local_addr().expect("addr"),
        lb.local_addr().expect("addr"),
    );
    let peers = format!("a=ws://{a},b=ws://{b}");
    let pair = tickroom_cluster::StaticCluster::parse(
        tickroom_cluster::NodeId::new("b").expect("id"),
        &peers,
    )
    .expect("peers");
    let room = (0..)
        .map(|i| format!("roam-{i}"))
        .find(|r| pair.place(r).is_local())
        .expect("a room id that lives on b");
    let node = |id: &str, listener| {
        let config = tickroom_server::Config {
            node_id: Some(id.into()),
            peers: Some(peers.clone()),
            // A cluster node's drain lets rooms run on until empty: not for long here.
            drain: Duration::from_secs(1),
            ..test_config()
        };
        tickroom_server::Server::start_on(config, listener, crate::util::games())
    };
    let node_a = node("a", la).await.expect("node a starts");
    let node_b = node("b", lb).await.expect("node b starts");

    let mut cmd = Command::new(crate::js::node());
    cmd.arg("tests/browser/cluster.mjs")
        .arg(format!("http://{a}/"))
        .arg(&room)
        .env("CHROMIUM", &chromium)
        .current_dir(&root);
    let (code, stdout, stderr, timed_out) =
        tokio::task::spawn_blocking(move || run_with_limit(cmd, Duration::from_secs(60)))
            .await
            .expect("runner thread");
    println!("{stdout}");
    assert!(
        code == Some(0) && !timed_out,
        "tests/browser/cluster.mjs failed (exit {code:?}{}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        if timed_out { ", killed after 60 s" } else { "" }
    );
    assert!(
        stdout.contains(&format!("JOINED_AT {b}")),
        "the page played on b ({b}): {stdout}"
    );
    // b runs the room with the page's player in it (within its resume grace now).
    let (status, _, body) = request(a, "GET", &format!("/rooms/{room}"), "", "").await;
    let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["node"].as_str(), body["players"].as_u64()),
        (Some("b"), Some(1)),
        "{body}"
    );
    assert!(crate::util::metric(a, "tickroom_cluster_misrouted_joins_total").await >= 1.0);
    node_a.shutdown().await;
    node_b.shutdown().await;
}

/// With `+`, `/` and `=`, as a base64 token has: the viewer reads it from
/// the URL fragment as is.
const REPLAY_TOKEN: &str = "browser+replay/operator-token==";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_plays_a_recording() {
    let root = workspace_root();
    let Some(chromium) = chromium_or_skip("headless_chromium_plays_a_recording", &root) else {
        return;
    };
    let _turn = CHROMIUM_TURN.lock().await;
    let temp = crate::util::TempDir::new("browser-replay");
    let dir = temp.0.clone();
    let recording_server = || tickroom_server::Config {
        record_dir: Some(dir.clone()),
        api_token: Some(REPLAY_TOKEN.parse().expect("token")),
        ..test_config()
    };

    // Two players steer around for ~80 ticks, each on its own curve.
    let server = start(recording_server()).await;
    let addr = server.local_addr();
    let mut ada = Client::join(addr, "replayed", "ada").await;
    let mut bob = Client::join(addr, "replayed", "bob").await;
    ada.wait_players(2).await;
    for i in 0..80i32 {
        let turn = f64::from(i) / 12.0;
        let steer = |phase: f64| {
            [
                (100.0 * (turn + phase).cos()) as i8,
                (100.0 * (turn + phase).sin()) as i8,
            ]
        };
        ada.input(steer(0.0)).await;
        bob.input(steer(2.0)).await;
        ada.snapshot().await;
        bob.snapshot().await;
    }
    drop((ada, bob));
    // Shutting down closes the room: its recording gets its End block.
    server.shutdown().await;
    let file = std::fs::read_dir(&dir)
        .expect("read the record dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with("replayed@") && name.ends_with(".tickrec"))
        .expect("the room was recorded");
    // Not a recording, for the viewer's "unreadable" state.
    let junk = "junk@1-1.tickrec";
    std::fs::write(dir.join(junk), b"not a recording at all").expect("write junk");

    // A second server on the same directory serves the recordings.
    let server = start(recording_server()).await;
    let addr = server.local_addr();
    let auth = format!("Authorization: Bearer {REPLAY_TOKEN}\r\n");
    let (status, _, body) = request(addr, "GET", &format!("/recordings/{file}"), &auth, "").await;
    let summary: serde_json::Value = serde_json::from_slice(&body).expect("summary JSON");
    assert_eq!(status, 200, "{summary}");
    assert!(
        summary["ticks"].as_u64().is_some_and(|t| t >= 80) && summary["divergence"].is_null(),
        "the recording has the ticks played, replayed cleanly: {summary}"
    );

    let screenshot = target_dir().join("browser/replay.png");
    let mut cmd = Command::new(crate::js::node());
    cmd.arg("tests/browser/replay.mjs")
        .arg(format!("http://{addr}/"))
        .arg(&file)
        .arg(REPLAY_TOKEN)
        .arg(junk)
        .arg(&screenshot)
        .env("CHROMIUM", &chromium)
        .current_dir(&root);
    let (code, stdout, stderr, timed_out) =
        tokio::task::spawn_blocking(move || run_with_limit(cmd, Duration::from_secs(90)))
            .await
            .expect("runner thread");
    server.shutdown().await;
    drop(temp);
    println!("{stdout}");
    assert!(
        code == Some(0) && !timed_out,
        "tests/browser/replay.mjs failed (exit {code:?}{}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        if timed_out { ", killed after 90 s" } else { "" }
    );
    eprintln!("replay screenshot: {}", screenshot.display());
}

/// The dots example's page (`crates/tickroom/examples/dots/www/`), as the
/// example binary serves it with `--assets-dir`.
fn dots_www() -> PathBuf {
    workspace_root().join("crates/tickroom/examples/dots/www")
}

/// A server hosting the arena and dots, dots the game of `/ws` rooms, serving
/// the dots page from its folder (`--assets-dir`, `--default-game dots`).
async fn start_dots_server() -> tickroom_server::Server {
    let mut games = crate::util::games();
    games
        .register::<crate::dots::Dots>()
        .expect("dots registers");
    let config = tickroom_server::Config {
        assets_dir: Some(dots_www()),
        default_game: Some("dots".into()),
        ..test_config()
    };
    config.validate().expect("a valid config");
    tickroom_server::Server::start(config, games)
        .await
        .expect("the dots server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dots_page_is_served_from_its_folder_with_the_embedded_client() {
    let server = start_dots_server().await;
    let addr = server.local_addr();
    let root = workspace_root();
    for (path, file, ty) in [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/dots.js", "dots.js", "text/javascript; charset=utf-8"),
    ] {
        let (status, headers, body) = request(addr, "GET", path, "", "").await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&headers, "content-type"), Some(ty), "{path}");
        let on_disk = std::fs::read(dots_www().join(file)).expect("the page's file");
        assert!(body == on_disk, "{path} serves www/{file}");
    }
    // The folder has no client/: the package is the embedded one.
    let (status, _, body) = request(addr, "GET", "/client/index.js", "", "").await;
    let embedded = std::fs::read(root.join("clients/js/src/index.js")).expect("index.js");
    assert_eq!((status, body == embedded), (200, true), "/client/index.js");
    // Nothing of the arena demo's.
    let (status, _, _) = request(addr, "GET", "/main.js", "", "").await;
    assert_eq!(status, 404, "/main.js");
    server.shutdown().await;
}

/// The "done when": a game that is not the arena, played in the
/// browser. `tests/browser/dots.mjs` opens the dots example's page twice in
/// one room of a server whose `/ws` rooms are dots: a held arrow key moves
/// the own dot (seen by the other page too), each Space press reaches the
/// other page as exactly one `waved` event, and neither page's copy of the
/// room ever fails its checksum. Screenshot: `target/browser/dots.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_plays_a_game_that_is_not_the_arena() {
    let test = "headless_chromium_plays_a_game_that_is_not_the_arena";
    let root = workspace_root();
    let Some(chromium) = chromium_or_skip(test, &root) else {
        return;
    };
    let _turn = CHROMIUM_TURN.lock().await;
    let server = start_dots_server().await;
    let addr = server.local_addr();
    let screenshot = target_dir().join("browser/dots.png");
    let mut cmd = Command::new(crate::js::node());
    cmd.arg("tests/browser/dots.mjs")
        .arg(format!("http://{addr}/"))
        .arg(&screenshot)
        .env("CHROMIUM", &chromium)
        .current_dir(&root);
    let (code, stdout, stderr, timed_out) =
        tokio::task::spawn_blocking(move || run_with_limit(cmd, Duration::from_secs(90)))
            .await
            .expect("runner thread");
    println!("{stdout}");
    assert!(
        code == Some(0) && !timed_out,
        "tests/browser/dots.mjs failed (exit {code:?}{}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        if timed_out { ", killed after 90 s" } else { "" }
    );
    // The room the pages played is a dots room (`/ws?room=` without `&game=`).
    let (status, _, body) = request(addr, "GET", "/rooms/dots-browser", "", "").await;
    let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(
        (status, body["game"].as_str()),
        (200, Some("dots")),
        "{body}"
    );
    server.shutdown().await;
    assert!(
        screenshot.exists(),
        "screenshot {} written",
        screenshot.display()
    );
    eprintln!("dots screenshot: {}", screenshot.display());
}

/// skirmish on its page (`assets/skirmish/`, embedded like the rest of the
/// demo). `tests/browser/skirmish.mjs` makes a room with `POST /rooms`
/// (spawn points: two players 100 units apart at the map's centre, a third
/// in a corner), joins two pages from the page's URL and the third through
/// the games menu at `/`; one shoots the other until his page shows his
/// health dropping and then his ship destroyed, and both kill feeds show
/// the kill; no page's copy of the room fails its checksum; and the far
/// player's client never had either ship nor any bullet (interest
/// management). Screenshot: `target/browser/skirmish.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_plays_skirmish_and_a_far_player_is_sent_nothing_of_the_fight() {
    let test = "headless_chromium_plays_skirmish_and_a_far_player_is_sent_nothing_of_the_fight";
    let root = workspace_root();
    let Some(chromium) = chromium_or_skip(test, &root) else {
        return;
    };
    let _turn = CHROMIUM_TURN.lock().await;
    let mut games = crate::util::games();
    games
        .register::<tickroom_skirmish::Skirmish>()
        .expect("skirmish registers");
    let server = tickroom_server::Server::start(test_config(), games)
        .await
        .expect("the server starts");
    let addr = server.local_addr();
    let screenshot = target_dir().join("browser/skirmish.png");
    let mut cmd = Command::new(crate::js::node());
    cmd.arg("tests/browser/skirmish.mjs")
        .arg(format!("http://{addr}/"))
        .arg(&screenshot)
        .env("CHROMIUM", &chromium)
        .current_dir(&root);
    let (code, stdout, stderr, timed_out) =
        tokio::task::spawn_blocking(move || run_with_limit(cmd, Duration::from_secs(100)))
            .await
            .expect("runner thread");
    println!("{stdout}");
    assert!(
        code == Some(0) && !timed_out,
        "tests/browser/skirmish.mjs failed (exit {code:?}{}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        if timed_out {
            ", killed after 100 s"
        } else {
            ""
        }
    );
    let (status, _, body) = request(addr, "GET", "/rooms/skirmish-browser", "", "").await;
    let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(
        (status, body["game"].as_str()),
        (200, Some("skirmish")),
        "{body}"
    );
    server.shutdown().await;
    assert!(
        screenshot.exists(),
        "screenshot {} written",
        screenshot.display()
    );
    eprintln!("skirmish screenshot: {}", screenshot.display());
}

/// A skirmish recording in the viewer (`/?replay=<file>`, drawn with
/// skirmish's own renderer through `assets/skirmish/skirmish-replay.js`):
/// three hunter bots fight in a room on a small map, the server shuts down
/// (ending the file), a second server on the same directory serves it, and
/// `tests/browser/replay_skirmish.mjs` plays it: the summary, the game named,
/// the three ships of the recording, play, pause, seek, the scoreboard, and a
/// game the viewer cannot draw said so. Screenshot:
/// `target/browser/replay-skirmish.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_plays_a_skirmish_recording() {
    const ROOM_PREFIX: &str = "fight";
    const SHIPS: usize = 3;
    let test = "headless_chromium_plays_a_skirmish_recording";
    let root = workspace_root();
    let Some(chromium) = chromium_or_skip(test, &root) else {
        return;
    };
    let _turn = CHROMIUM_TURN.lock().await;
    let temp = crate::util::TempDir::new("browser-replay-skirmish");
    let dir = temp.0.clone();
    let mut games = crate::util::games();
    games
        .register::<tickroom_skirmish::Skirmish>()
        .expect("skirmish registers");
    let recording_server = || tickroom_server::Config {
        record_dir: Some(dir.clone()),
        api_token: Some(REPLAY_TOKEN.parse().expect("token")),
        ..test_config()
    };
    let auth = format!("Authorization: Bearer {REPLAY_TOKEN}\r\n");

    // The room, on a small map so the hunters meet; then they fight for 4 s.
    let server = tickroom_server::Server::start(recording_server(), games.clone())
        .await
        .expect("the server starts");
    let addr = server.local_addr();
    let room = format!("{ROOM_PREFIX}-0");
    let body = serde_json::json!({
        "id": room,
        "game": "skirmish",
        "config": {"size": 1600, "view_radius": 450},
    });
    let (status, _, answer) = request(
        addr,
        "POST",
        "/rooms",
        &format!("{auth}Content-Type: application/json\r\n"),
        &body.to_string(),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
    let report = tickroom_bots::run(
        tickroom_bots::SwarmConfig {
            url: format!("http://{addr}"),
            game: "skirmish".into(),
            placement: tickroom_bots::Placement::Rooms {
                rooms: 1,
                per_room: SHIPS,
            },
            room_prefix: ROOM_PREFIX.into(),
            duration: Some(Duration::from_secs(4)),
            connect_timeout: Duration::from_secs(30),
            seed: 11,
            ..tickroom_bots::SwarmConfig::default()
        },
        std::future::pending::<()>(),
    )
    .await
    .expect("the swarm runs");
    let counts = &report.all.counts;
    assert_eq!(
        counts.connect_errors, 0,
        "{:?}",
        report.all.connect_error_reasons
    );
    // Shutting down closes the room: its recording gets its End block.
    server.shutdown().await;
    let file = std::fs::read_dir(&dir)
        .expect("read the record dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with(&format!("{room}@")) && name.ends_with(".tickrec"))
        .expect("the room was recorded");

    // A second server on the same directory serves the recording.
    let server = tickroom_server::Server::start(recording_server(), games)
        .await
        .expect("the server starts");
    let addr = server.local_addr();
    let (status, _, body) = request(addr, "GET", &format!("/recordings/{file}"), &auth, "").await;
    let summary: serde_json::Value = serde_json::from_slice(&body).expect("summary JSON");
    assert_eq!(status, 200, "{summary}");
    assert!(
        summary["game"] == "skirmish"
            && summary["ticks"].as_u64().is_some_and(|t| t >= 40)
            && summary["players"].as_array().map(Vec::len) == Some(SHIPS)
            && summary["divergence"].is_null(),
        "a skirmish recording of {SHIPS} players, replayed cleanly: {summary}"
    );

    let screenshot = target_dir().join("browser/replay-skirmish.png");
    let mut cmd = Command::new(crate::js::node());
    cmd.arg("tests/browser/replay_skirmish.mjs")
        .arg(format!("http://{addr}/"))
        .arg(&file)
        .arg(REPLAY_TOKEN)
        .arg(SHIPS.to_string())
        .arg(&screenshot)
        .env("CHROMIUM", &chromium)
        .current_dir(&root);
    let (code, stdout, stderr, timed_out) =
        tokio::task::spawn_blocking(move || run_with_limit(cmd, Duration::from_secs(90)))
            .await
            .expect("runner thread");
    server.shutdown().await;
    drop(temp);
    println!("{stdout}");
    assert!(
        code == Some(0) && !timed_out,
        "tests/browser/replay_skirmish.mjs failed (exit {code:?}{}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        if timed_out { ", killed after 90 s" } else { "" }
    );
    eprintln!("skirmish replay screenshot: {}", screenshot.display());
}
