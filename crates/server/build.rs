//! Rebuilds the server when anything under `assets/` or the client package's
//! `clients/js/src/` changes, so the copies embedded by rust-embed never go
//! stale (rust-embed tracks the files it saw, not files added later).

fn main() {
    println!("cargo:rerun-if-changed=../../assets");
    println!("cargo:rerun-if-changed=../../clients/js/src");
}
