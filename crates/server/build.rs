//! Rebuilds the server when anything under `assets/` or the client package's
//! `clients/js/src/` changes, so the copies embedded by rust-embed never go
//! stale (rust-embed tracks the files it saw, not files added later).
//!
//! In the workspace this crate reaches both folders through its symlinks
//! `assets` and `client-js` (see `src/assets.rs`); they are watched by their
//! real paths, as cargo may not look through a symlinked directory. In a
//! packaged copy (`cargo package`) the two are plain folders.

fn main() {
    for dir in ["assets", "client-js"] {
        let watched = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.into());
        println!("cargo:rerun-if-changed={}", watched.display());
    }
}
