//! `tickroom replay FILE`: re-runs a room recording offline as fast as it
//! can, checks every tick's checksum, prints a summary, and optionally
//! exports every frame as JSON lines. Exit status: 0 when every tick matched
//! to the End block, 2 on a divergence, 1 when the file cannot be read
//! (corrupt, truncated, another game version, a game this build lacks).

use std::{
    ffi::OsString,
    fs::File,
    io::{BufReader, BufWriter, Write},
    path::PathBuf,
    time::Instant,
};

use clap::{Parser, ValueEnum};
use tickroom_game::Games;

use crate::recording::replay::{ExportFrame, Replay, ReplayOptions};

/// Exit status on a divergence.
const DIVERGED: i32 = 2;

/// Exit status when the recording cannot be read.
const UNREADABLE: i32 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "tickroom replay",
    about = "Replay a room recording (--record-dir) and check it tick by tick",
    after_help = "Exit status: 0 every tick matched up to the End block, 2 the replay diverged, 1 the file cannot be read (corrupt, truncated, another simulation version)."
)]
struct ReplayCli {
    /// The recording (`<room>@<start>-<n>.tickrec`).
    file: PathBuf,
    /// Write every replayed frame: `jsonl`, one JSON object per line.
    #[arg(long, value_enum)]
    export: Option<Export>,
    /// Where `--export` writes (default: standard output, the summary then going to
    /// standard error).
    #[arg(long, requires = "export")]
    out: Option<PathBuf>,
    /// Stop after this tick.
    #[arg(long)]
    until: Option<u32>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Export {
    /// One JSON object per frame and line.
    Jsonl,
}

/// Runs the command on `args` (starting with `replay`) with the games this
/// build hosts; returns the exit status.
pub fn main(args: impl IntoIterator<Item = OsString>, games: &Games) -> i32 {
    let cli = match ReplayCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run(&cli, games) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("tickroom replay: {}: {e}", cli.file.display());
            UNREADABLE
        }
    }
}

fn run(cli: &ReplayCli, games: &Games) -> Result<i32, String> {
    let file = File::open(&cli.file).map_err(|e| format!("cannot open the recording: {e}"))?;
    let replay = Replay::open(BufReader::new(file), games).map_err(|e| e.to_string())?;
    let mut export: Option<Box<dyn Write>> = match (cli.export, &cli.out) {
        (None, _) => None,
        (Some(Export::Jsonl), Some(path)) => Some(Box::new(BufWriter::new(
            File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        ))),
        (Some(Export::Jsonl), None) => Some(Box::new(BufWriter::new(std::io::stdout().lock()))),
    };
    let mut export_error = None;
    let started = Instant::now();
    let summary = replay.run(ReplayOptions { until: cli.until }, |schema, frame| {
        if let (Some(w), None) = (&mut export, &export_error) {
            let line = serde_json::to_string(&ExportFrame::of(schema, frame)).unwrap_or_default();
            if let Err(e) = writeln!(w, "{line}") {
                export_error = Some(e);
            }
        }
    });
    if let Some(w) = &mut export
        && export_error.is_none()
        && let Err(e) = w.flush()
    {
        export_error = Some(e);
    }
    drop(export);
    if let Some(e) = export_error {
        return Err(format!("export failed: {e}"));
    }
    let elapsed = started.elapsed();
    let text = if cli.json {
        serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())? + "\n"
    } else {
        let rate = summary.ticks as f64 / elapsed.as_secs_f64().max(1e-9);
        format!(
            "recording   {}\n{summary}replayed in {:.3} s ({rate:.0} ticks/s)\n",
            cli.file.display(),
            elapsed.as_secs_f64()
        )
    };
    if cli.export.is_some() && cli.out.is_none() {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    Ok(if summary.divergence.is_some() {
        DIVERGED
    } else if summary.read_error.is_some() {
        UNREADABLE
    } else {
        0
    })
}
