//! What a `tickroom` server binary does, for any set of games: parse the
//! flags (clap + env), set up logging, build the I/O runtime (its threads
//! niced below the tick workers) and serve until a signal; or, as
//! `<binary> replay FILE`, replay a room recording. A studio's `main.rs`
//! registers its games and calls [`main`]:
//!
//! ```no_run
//! # use tickroom_server::Games;
//! fn main() -> std::process::ExitCode {
//!     let games = Games::new();
//!     // games.register::<MyGame>().expect("my game's declarations are valid");
//!     tickroom_server::cli::main(games)
//! }
//! ```

use std::io::IsTerminal;
use std::process::ExitCode;

use tickroom_game::Games;
use tracing_subscriber::EnvFilter;

/// Runs the server (or `replay`) with `games` from the process's arguments
/// and environment; returns the exit status.
pub fn main(games: Games) -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "replay") {
        let status = crate::cli_replay::main(std::env::args_os().skip(1), &games);
        return ExitCode::from(u8::try_from(status).unwrap_or(1));
    }
    let config = crate::Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        // Logs go to stderr (the default writer is stdout), coloured only on
        // a terminal: a log file or a pipe gets plain text.
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let nice = config.io_nice;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tickroom-io")
        .on_thread_start(move || {
            if let Err(e) = crate::priority::set_current_thread_nice(nice) {
                tracing::warn!(error = %e, nice, "could not lower the I/O thread's priority");
            }
        })
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tickroom: cannot start the I/O runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(crate::run(config, games)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tickroom: {e}");
            ExitCode::FAILURE
        }
    }
}
