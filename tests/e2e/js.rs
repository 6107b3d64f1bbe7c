//! Runs the browser client's node tests (`node --test assets/test/`) as part
//! of `cargo test`: the JS codec against the Rust test vectors, the JS
//! movement rules against the Rust sim fixture, and the client's netcode and
//! reconnect logic. Node's output is printed when they fail.

use std::{path::PathBuf, process::Command};

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
    let out = Command::new(node())
        .args(["--test", "assets/test/"])
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| {
            panic!("could not run `node --test assets/test/` (is node installed? `$NODE` overrides the binary): {e}")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "`node --test assets/test/` failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
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
