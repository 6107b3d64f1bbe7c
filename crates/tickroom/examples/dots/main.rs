//! A server hosting dots (`cargo run -p tickroom --example dots`), with every
//! flag the `tickroom` binary has: `--bind`, `--redis`, `--record-dir`...

mod game;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut games = tickroom::Games::new();
    if let Err(e) = games.register::<game::Dots>() {
        eprintln!("dots: {e}");
        return ExitCode::FAILURE;
    }
    tickroom::serve(games)
}
