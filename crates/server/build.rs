//! Rebuilds the server when anything under `assets/` changes, so the copy of
//! the demo client embedded by rust-embed never goes stale (rust-embed tracks
//! the files it saw, not files added later).

fn main() {
    println!("cargo:rerun-if-changed=../../assets");
}
