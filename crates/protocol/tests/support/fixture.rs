//! The committed cross-language fixtures (`clients/js/test/*.json`): compared
//! with what the Rust codec generates, or rewritten with `UPDATE_VECTORS=1`.

use std::path::PathBuf;

/// Asserts that `clients/js/test/<name>` holds `fresh`; with
/// `UPDATE_VECTORS=1` writes it instead. `test` names the cargo test target
/// that regenerates it.
pub fn check_committed(name: &str, fresh: &str, test: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../clients/js/test")
        .join(name);
    if std::env::var_os("UPDATE_VECTORS").is_some_and(|v| v == "1") {
        std::fs::write(&path, fresh).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "clients/js/test/{name} is out of date with the Rust codec; regenerate it with \
         `UPDATE_VECTORS=1 cargo test -p tickroom-protocol --test {test}` and check the JS \
         side (`node --test clients/js/test/`)"
    );
}
