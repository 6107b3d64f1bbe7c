//! The `tickroom` binary: parse flags, set up logging, build the I/O runtime
//! (its threads niced below the tick workers), serve until a signal; or, as
//! `tickroom replay FILE`, replay a room recording ([`replay_cmd`]).

mod replay_cmd;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    if std::env::args_os().nth(1).is_some_and(|a| a == "replay") {
        std::process::exit(replay_cmd::main(std::env::args_os().skip(1)));
    }
    let config = tickroom_server::Config::parse();
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tickroom-io")
        .on_thread_start(move || {
            if let Err(e) = tickroom_server::priority::set_current_thread_nice(nice) {
                tracing::warn!(error = %e, nice, "could not lower the I/O thread's priority");
            }
        })
        .build()?;
    runtime.block_on(tickroom_server::run(config))?;
    Ok(())
}
