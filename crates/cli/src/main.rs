//! The `tickroom` binary: the server with the bundled games (the arena
//! demo and skirmish), exactly as a studio's binary would run its own.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut games = tickroom::Games::new();
    if let Err(e) = games.register::<tickroom_sim::Arena>() {
        eprintln!("tickroom: the bundled arena does not register: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = games.register::<tickroom_skirmish::Skirmish>() {
        eprintln!("tickroom: the bundled skirmish does not register: {e}");
        return ExitCode::FAILURE;
    }
    tickroom::serve(games)
}
