//! The `tickroom` binary: the server with the bundled games (the arena
//! demo), run by [`tickroom_server::cli::main`] like any studio's binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut games = tickroom_server::Games::new();
    if let Err(e) = games.register::<tickroom_sim::Arena>() {
        eprintln!("tickroom: the bundled arena does not register: {e}");
        return ExitCode::FAILURE;
    }
    tickroom_server::cli::main(games)
}
