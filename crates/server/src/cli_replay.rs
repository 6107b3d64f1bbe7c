//! `tickroom replay FILE...`: re-runs a room recording offline as fast as it
//! can, checks every tick's checksum, prints a summary, and optionally
//! exports every frame as JSON lines. Given several files, each after the
//! first must continue the one before it (a room handed to another node, or
//! restored there from a dead node's snapshot): the earlier one is replayed
//! to the step the later one starts from, where the two must hold the same
//! state byte for byte, and the later one goes on from there. Exit status: 0
//! when every tick matched to the End block and every hand-off point
//! matched, 2 on a divergence (a tick, or a hand-off point), 1 when a file
//! cannot be read (corrupt, truncated, another game version, a game this
//! build lacks).

use std::{
    ffi::OsString,
    fs::File,
    io::{BufReader, BufWriter, Write},
    path::PathBuf,
    time::Instant,
};

use clap::{Parser, ValueEnum};
use serde::Serialize;
use tickroom_game::Games;

use crate::recording::replay::{
    ContinuationCheck, ExportFrame, Replay, ReplayOptions, Summary, check_continuation,
};

/// Exit status on a divergence.
const DIVERGED: i32 = 2;

/// Exit status when the recording cannot be read.
const UNREADABLE: i32 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "tickroom replay",
    about = "Replay a room recording (--record-dir) and check it tick by tick",
    after_help = "A room handed to another node (a drain) or restored on another node from its snapshot (--room-snapshots) goes on in a new recording there that names the one it continues; give the files in order (tickroom replay A B C) to check each hand-off point.\n\nExit status: 0 every tick and every hand-off point matched up to the last End block, 2 the replay diverged, 1 a file cannot be read (corrupt, truncated, another simulation version)."
)]
struct ReplayCli {
    /// The recording (`<room>@<start>-<n>.tickrec`), then the recordings
    /// that continue it, in order.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Write every replayed frame: `jsonl`, one JSON object per line.
    #[arg(long, value_enum)]
    export: Option<Export>,
    /// Where `--export` writes (default: standard output, the summary then going to
    /// standard error).
    #[arg(long, requires = "export")]
    out: Option<PathBuf>,
    /// Stop after this tick (of the last file).
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

/// One file's part of a chain's JSON summary.
#[derive(Debug, Serialize)]
struct FileSummary {
    file: String,
    #[serde(flatten)]
    summary: Summary,
    /// How this file meets the one before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    continues_check: Option<ContinuationCheck>,
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
            eprintln!("tickroom replay: {e}");
            UNREADABLE
        }
    }
}

fn open(path: &PathBuf, games: &Games) -> Result<Replay<BufReader<File>>, String> {
    let file = File::open(path)
        .map_err(|e| format!("{}: cannot open the recording: {e}", path.display()))?;
    Replay::open(BufReader::new(file), games).map_err(|e| format!("{}: {e}", path.display()))
}

fn base_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn run(cli: &ReplayCli, games: &Games) -> Result<i32, String> {
    let mut export: Option<Box<dyn Write>> = match (cli.export, &cli.out) {
        (None, _) => None,
        (Some(Export::Jsonl), Some(path)) => Some(Box::new(BufWriter::new(
            File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        ))),
        (Some(Export::Jsonl), None) => Some(Box::new(BufWriter::new(std::io::stdout().lock()))),
    };
    let mut export_error = None;
    let started = Instant::now();
    let mut done: Vec<FileSummary> = Vec::new();
    let mut current = open(&cli.files[0], games)?;
    let mut check = None;
    for (i, path) in cli.files.iter().enumerate() {
        let next = match cli.files.get(i + 1) {
            Some(p) => Some(open(p, games)?),
            None => None,
        };
        let options = ReplayOptions {
            until: if next.is_none() { cli.until } else { None },
            until_step: next.as_ref().and_then(|n| n.continuation()).map(|c| c.step),
        };
        while current.next_frame(options).is_some() {
            if let (Some(w), None, Some(frame)) = (&mut export, &export_error, current.frame()) {
                let line = serde_json::to_string(&ExportFrame::of(current.schema(), frame))
                    .unwrap_or_default();
                if let Err(e) = writeln!(w, "{line}") {
                    export_error = Some(e);
                }
            }
        }
        let next_check = next.as_ref().map(|n| {
            let mut c = check_continuation(&mut current, n);
            let named = n
                .continuation()
                .and_then(|c| c.from.as_ref())
                .map(|f| f.file.clone());
            if c.detail.is_empty() && named.as_deref() != Some(base_name(path).as_str()) {
                // The states match, but the file names another recording.
                c.matched = false;
                c.detail.push(format!(
                    "{} continues {}, not {}",
                    base_name(&cli.files[i + 1]),
                    named.unwrap_or_else(|| "an unrecorded room".into()),
                    base_name(path)
                ));
            }
            c
        });
        done.push(FileSummary {
            file: path.display().to_string(),
            summary: current.into_summary(),
            continues_check: check.take(),
        });
        match next {
            Some(n) => {
                current = n;
                check = next_check;
            }
            None => break,
        }
    }
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
    let last = done.len() - 1;
    let text = if cli.json {
        if done.len() == 1 {
            serde_json::to_string_pretty(&done[0].summary).map_err(|e| e.to_string())? + "\n"
        } else {
            serde_json::to_string_pretty(&done).map_err(|e| e.to_string())? + "\n"
        }
    } else {
        let ticks: u64 = done.iter().map(|d| d.summary.ticks).sum();
        let rate = ticks as f64 / elapsed.as_secs_f64().max(1e-9);
        let mut text = String::new();
        for (i, d) in done.iter().enumerate() {
            if let Some(c) = &d.continues_check {
                text += &hand_off_line(c);
            }
            text += &format!("recording   {}\n{}", d.file, d.summary);
            if i < last {
                text += "\n";
            }
        }
        text + &format!(
            "replayed in {:.3} s ({rate:.0} ticks/s)\n",
            elapsed.as_secs_f64()
        )
    };
    if cli.export.is_some() && cli.out.is_none() {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    let diverged = done.iter().any(|d| {
        d.summary.divergence.is_some()
            || d.continues_check
                .as_ref()
                .is_some_and(|c| !c.matched && !c.unchecked)
    });
    // A file a later one continues may end without its End block (its node
    // died after the snapshot the next one starts from), unless it ends
    // before that snapshot's step.
    let unreadable = done.iter().enumerate().any(|(i, d)| {
        (d.summary.read_error.is_some() && !(i < last && d.summary.cut_short))
            || d.continues_check.as_ref().is_some_and(|c| c.unchecked)
    });
    Ok(if diverged {
        DIVERGED
    } else if unreadable {
        UNREADABLE
    } else {
        0
    })
}

fn hand_off_line(c: &ContinuationCheck) -> String {
    if c.matched {
        format!(
            "\nhand-off    at step {} ({}): the state matches ({} bytes)\n\n",
            c.step, c.cause, c.state_bytes
        )
    } else {
        let what = if c.unchecked {
            "NOT CHECKED"
        } else {
            "MISMATCH"
        };
        let mut s = format!("\nhand-off    at step {} ({}): {what}\n", c.step, c.cause);
        for line in &c.detail {
            s += &format!("            {line}\n");
        }
        s + "\n"
    }
}
