//! Runs the client package's node tests (`node --test clients/js/test/`) as
//! part of `cargo test`: the JS codec against the Rust test vectors, the JS
//! movement rules against the Rust sim fixture, and the client's netcode and
//! reconnect logic. Node's output is printed when they fail.

use std::{path::PathBuf, process::Command, time::Duration};

use crate::util::run_ok;

/// Far more than the node tests need (a few seconds); only a hang trips it.
/// (`$NODE` overrides the node binary.)
const LIMIT: Duration = Duration::from_secs(120);

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The node binary: `$NODE`, else `node` on the PATH.
pub fn node() -> String {
    std::env::var("NODE").unwrap_or_else(|_| "node".to_owned())
}

#[test]
fn node_tests_of_the_browser_client_pass() {
    let root = workspace_root();
    let mut cmd = Command::new(node());
    cmd.args(["--test", "clients/js/test/"]).current_dir(&root);
    let stdout = run_ok("`node --test clients/js/test/`", cmd, LIMIT);
    // A vacuous pass (no test files found) would also exit 0.
    let passed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0);
    assert!(
        passed >= 50,
        "expected the node tests to run, got:\n{stdout}"
    );
}
