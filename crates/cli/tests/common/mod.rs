//! What the tests that run the real `tickroom` binary share: the command
//! that starts it on `127.0.0.1:0` with one tick worker, logging plain text
//! at info (the "tickroom listening addr=…" line) to a piped stderr.

use std::process::{Command, Stdio};

/// The `tickroom` command; with `clean_env` the caller's environment (its
/// `TICKROOM_*` above all) does not leak in.
pub fn tickroom(clean_env: bool) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickroom"));
    cmd.args(["--bind", "127.0.0.1:0", "--workers", "1"]);
    if clean_env {
        cmd.env_clear();
    }
    cmd.env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}
