//! The JavaScript client as a user gets it (issue 16): `npm pack` of
//! `clients/js`, installed from the tarball into a scratch project, then
//!
//! - imported by node by its name and every exported subpath (and not by an
//!   unexported deep path), its protocol version the package's;
//! - its declarations checked by `tsc --noEmit` (TypeScript from the
//!   package's devDependencies, `npm ci --prefix clients/js`) against the
//!   package's typed example, resolved through the installed package;
//! - the README's twenty-line example, copied verbatim into the scratch
//!   project's `index.html`, played in headless Chromium against a real
//!   server serving that project (`--assets-dir`): it matchmakes, joins with
//!   the ticket, moves its player with the arrow keys, draws a second page's
//!   player, and resumes the same player after its socket is closed under it
//!   (`tests/browser/client_example.mjs`);
//! - the same page against a two-node Redis cluster (real `tickroom`
//!   processes, a real `redis-server`), served by node `a` while the
//!   matchmaker puts the room on node `b` (weight 1 against 10⁶: `a` wins
//!   one placement in a million): the ticket takes it to `b`; closed under
//!   it, the client reconnects through `a`, follows its 4001 to `b` and
//!   resumes the same player ("room moved").
//!
//! Missing node/npm/TypeScript/Chromium/redis-server skip loudly, or fail
//! under CI=true.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use serde_json::Value;

use crate::browser::{CHROMIUM_TURN, chromium_or_skip, target_dir, workspace_root};
use crate::support::{
    client::{lists_members, until},
    node::{Node, NodeArgs},
    redis::{self, RedisServer},
};
use crate::util::{TempDir, required_program, run_ok, run_with_limit, runs, start, test_config};

/// npm and tsc take a few seconds; only a hang trips this.
const STEP_LIMIT: Duration = Duration::from_secs(120);

/// The README heading whose first ```html block is the example.
const EXAMPLE_HEADING: &str = "## A complete game in twenty lines";

fn package_dir() -> PathBuf {
    workspace_root().join("clients/js")
}

fn npm() -> String {
    std::env::var("NPM").unwrap_or_else(|_| "npm".to_owned())
}

/// The package, packed and installed into a fresh scratch project.
struct Installed {
    dir: TempDir,
    /// The scratch project (its node_modules holds the package).
    project: PathBuf,
    /// `npm pack --json`'s report of the tarball.
    pack: Value,
}

/// Packs `clients/js` and installs the tarball into a new project, as a
/// user would (`npm install ./tickroom-client-<v>.tgz`; no registry needed:
/// the package has no dependencies).
fn pack_and_install(tag: &str) -> Installed {
    let dir = TempDir::new(tag);
    let mut pack = Command::new(npm());
    pack.args(["pack", "--json", "--pack-destination"])
        .arg(&dir.0)
        .current_dir(package_dir());
    let out = run_ok("npm pack", pack, STEP_LIMIT);
    let report: Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("npm pack --json printed no JSON ({e}):\n{out}"));
    let pack = report[0].clone();
    let tarball = dir
        .0
        .join(pack["filename"].as_str().expect("a tarball name"));
    assert!(tarball.is_file(), "{} written", tarball.display());

    let project = dir.0.join("game");
    std::fs::create_dir_all(&project).expect("project dir");
    std::fs::write(
        project.join("package.json"),
        r#"{ "name": "scratch-game", "private": true, "type": "module" }"#,
    )
    .expect("package.json");
    let mut install = Command::new(npm());
    install
        .args(["install", "--no-audit", "--no-fund", "--offline"])
        .arg(&tarball)
        .current_dir(&project);
    run_ok("npm install <tarball>", install, STEP_LIMIT);
    Installed { dir, project, pack }
}

fn prerequisites(test: &str) -> bool {
    let node = crate::js::node();
    required_program(
        test,
        "node and npm",
        runs(&node) && runs(&npm()),
        "run scripts/test (installs nodejs and npm)",
    ) && required_program(
        test,
        "TypeScript (clients/js/node_modules/typescript)",
        tsc().is_file(),
        "run scripts/test, or npm ci --prefix clients/js",
    )
}

fn tsc() -> PathBuf {
    package_dir().join("node_modules/typescript/bin/tsc")
}

#[test]
fn the_packed_client_installs_imports_and_typechecks_like_a_users() {
    let test = "the_packed_client_installs_imports_and_typechecks_like_a_users";
    if !prerequisites(test) {
        return;
    }
    let installed = pack_and_install("client-pack");
    let pkg: Value = serde_json::from_str(
        &std::fs::read_to_string(package_dir().join("package.json")).expect("package.json"),
    )
    .expect("package.json is JSON");

    // What the tarball holds: the modules, a declaration for each, the docs.
    let mut files: Vec<String> = installed.pack["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path").to_owned())
        .collect();
    files.sort();
    let modules: Vec<String> = std::fs::read_dir(package_dir().join("src"))
        .expect("src/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".js"))
        .collect();
    let mut expected = vec![
        "CHANGELOG.md".to_owned(),
        "README.md".to_owned(),
        "package.json".to_owned(),
    ];
    for m in &modules {
        expected.push(format!("src/{m}"));
        expected.push(format!("src/{}.d.ts", m.trim_end_matches(".js")));
    }
    expected.sort();
    assert_eq!(
        files, expected,
        "the tarball holds every module with its declarations and the docs, nothing else"
    );
    assert_eq!(installed.pack["name"], "tickroom-client");
    assert_eq!(installed.pack["version"], pkg["version"]);
    for m in &modules {
        let subpath = match m.trim_end_matches(".js") {
            "index" => ".".to_owned(),
            name => format!("./{name}"),
        };
        assert!(
            pkg["exports"][&subpath].is_object(),
            "package.json exports {subpath} (for src/{m})"
        );
    }

    // Node imports it by name, every subpath, and nothing unexported.
    let check = r#"
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
const pkg = createRequire(import.meta.url)('tickroom-client/package.json');
const main = await import('tickroom-client');
for (const sub of Object.keys(pkg.exports).filter((k) => k !== '.' && k !== './package.json')) {
  const m = await import(`tickroom-client/${sub.slice(2)}`);
  for (const [name, value] of Object.entries(m)) assert.equal(main[name], value, `${sub} ${name} is the main entry's`);
}
assert.equal(typeof main.RoomClient, 'function');
assert.equal(typeof main.matchmake, 'function');
assert.equal(main.PROTOCOL_VERSION, pkg.tickroom.protocol, 'package.json names the protocol the code speaks');
assert.equal(Number(pkg.version.split('.')[1]), main.PROTOCOL_VERSION, 'version 0.P.x speaks protocol P');
await assert.rejects(import('tickroom-client/src/session.js'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
console.log(JSON.stringify({ version: pkg.version, exports: Object.keys(main).length }));
"#;
    std::fs::write(installed.project.join("check.mjs"), check).expect("check.mjs");
    let mut node = Command::new(crate::js::node());
    node.arg("check.mjs").current_dir(&installed.project);
    let out = run_ok("importing the installed package", node, STEP_LIMIT);
    println!("installed package: {}", out.trim());

    // tsc against the installed declarations: the package's typed example,
    // resolved through node_modules (its @ts-expect-error lines must fail).
    let types = package_dir().join("test/types");
    std::fs::copy(
        types.join("example.ts"),
        installed.project.join("example.ts"),
    )
    .expect("copy example.ts");
    std::fs::copy(
        types.join("tsconfig.json"),
        installed.project.join("tsconfig.json"),
    )
    .expect("copy tsconfig.json");
    let mut tsc_cmd = Command::new(crate::js::node());
    tsc_cmd
        .arg(tsc())
        .args(["-p", "tsconfig.json"])
        .current_dir(&installed.project);
    run_ok("tsc --noEmit of the typed example", tsc_cmd, STEP_LIMIT);
    drop(installed.dir);
}

/// The README's example: the first ```html block after [`EXAMPLE_HEADING`].
fn readme_example() -> String {
    let readme = std::fs::read_to_string(package_dir().join("README.md")).expect("README.md");
    let after = readme
        .split_once(EXAMPLE_HEADING)
        .unwrap_or_else(|| panic!("clients/js/README.md has no {EXAMPLE_HEADING:?}"))
        .1;
    let block = after
        .split_once("```html\n")
        .expect("an ```html block after the heading")
        .1;
    block
        .split_once("\n```")
        .expect("the block ends")
        .0
        .to_owned()
        + "\n"
}

/// The scratch project with the README's example as its `index.html`.
fn example_project(tag: &str) -> Installed {
    let installed = pack_and_install(tag);
    let example = readme_example();
    assert!(
        example.contains("./node_modules/tickroom-client/"),
        "the example imports the installed package"
    );
    std::fs::write(installed.project.join("index.html"), &example).expect("index.html");
    installed
}

/// Runs `tests/browser/client_example.mjs` against the page at `base`
/// (`owner`: the node the room should land on, for the cluster checks).
async fn run_example_script(
    chromium: &Path,
    installed: &Installed,
    base: &str,
    screenshot: &str,
    owner: Option<String>,
) -> (Option<i32>, String, String, bool) {
    let screenshot = target_dir().join("browser").join(screenshot);
    let protocol = installed
        .project
        .join("node_modules/tickroom-client/src/protocol.js");
    let mut cmd = Command::new(crate::js::node());
    cmd.arg("tests/browser/client_example.mjs")
        .arg(base)
        .arg(&protocol)
        .arg(&screenshot)
        .env("CHROMIUM", chromium)
        .current_dir(workspace_root());
    if let Some(owner) = owner {
        cmd.arg(owner);
    }
    let result = tokio::task::spawn_blocking(move || run_with_limit(cmd, Duration::from_secs(90)))
        .await
        .expect("runner thread");
    if result.0 == Some(0) {
        assert!(screenshot.exists(), "screenshot written");
    }
    result
}

fn assert_script_passed(
    what: &str,
    (code, stdout, stderr, timed_out): &(Option<i32>, String, String, bool),
) {
    println!("{stdout}");
    assert!(
        *code == Some(0) && !timed_out,
        "tests/browser/client_example.mjs ({what}) failed (exit {code:?}{}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        if *timed_out {
            ", killed after 90 s"
        } else {
            ""
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_example_plays_against_a_real_server_in_chromium() {
    let test = "the_readme_example_plays_against_a_real_server_in_chromium";
    let root = workspace_root();
    if !prerequisites(test) {
        return;
    }
    let Some(chromium) = chromium_or_skip(test, &root) else {
        return;
    };
    let installed = example_project("client-example");
    let _turn = CHROMIUM_TURN.lock().await;
    let server = start(tickroom_server::Config {
        assets_dir: Some(installed.project.clone()),
        ..test_config()
    })
    .await;
    let base = format!("http://{}/", server.local_addr());
    let result = run_example_script(&chromium, &installed, &base, "client-example.png", None).await;
    server.shutdown().await;
    assert_script_passed("one server", &result);
    drop(installed.dir);
}

/// How long the nodes have to see each other in Redis.
const MEMBERSHIP: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_example_follows_its_room_to_another_node() {
    let test = "the_readme_example_follows_its_room_to_another_node";
    let root = workspace_root();
    if !prerequisites(test) || !redis::required_by(test) {
        return;
    }
    let Some(chromium) = chromium_or_skip(test, &root) else {
        return;
    };
    let installed = example_project("client-example-cluster");
    let redis = tokio::task::block_in_place(RedisServer::start);
    let prefix = format!("tickroom-client-example-{}", std::process::id());
    let node = |id: &str, weight: &str| NodeArgs {
        id: id.to_owned(),
        redis_url: redis.url(),
        prefix: prefix.clone(),
        lease: "3s".to_owned(),
        extra: vec![
            "--node-weight".to_owned(),
            weight.to_owned(),
            "--assets-dir".to_owned(),
            installed.project.to_string_lossy().into_owned(),
        ],
        port: 0,
    };
    let a = Node::start(&node("a", "1")).await;
    let b = Node::start(&node("b", "1000000")).await;
    for n in [&a, &b] {
        until(
            format!("{}'s /cluster to list a and b", n.id),
            MEMBERSHIP,
            || lists_members(n.addr, &["a", "b"]),
        )
        .await;
    }
    let _turn = CHROMIUM_TURN.lock().await;
    let base = format!("http://{}/", a.addr);
    let owner = b.addr.to_string();
    let result = run_example_script(
        &chromium,
        &installed,
        &base,
        "client-example-cluster.png",
        Some(owner),
    )
    .await;
    drop((a, b));
    assert_script_passed("two nodes", &result);
    drop(redis);
    drop(installed.dir);
}
