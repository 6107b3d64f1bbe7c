//! The live one-line progress display on stderr, once per second: how many
//! bots are connected and what they are seeing right now. On a terminal the
//! line rewrites itself; otherwise (`--progress` into a log) one line per
//! second is appended.

use std::{
    fmt,
    io::{IsTerminal, Write},
    time::Duration,
};

/// The figures of one progress line (rates over the last interval).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProgressLine {
    pub elapsed: Duration,
    pub connected: usize,
    pub bots: usize,
    pub snapshots_per_s: f64,
    pub inputs_per_s: f64,
    /// p50 and p99 input-to-ack latency of normal bots, in ms.
    pub latency_ms: Option<(f64, f64)>,
    pub missed_ticks: u64,
    /// Connect errors plus disconnects so far.
    pub errors: u64,
}

impl fmt::Display for ProgressLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:>5.0}s] bots {}/{} | snapshots {:.0}/s | inputs {:.0}/s | ack ",
            self.elapsed.as_secs_f64(),
            self.connected,
            self.bots,
            self.snapshots_per_s,
            self.inputs_per_s
        )?;
        match self.latency_ms {
            Some((p50, p99)) => write!(f, "p50 {p50:.1}ms p99 {p99:.1}ms")?,
            None => f.write_str("p50 - p99 -")?,
        }
        write!(
            f,
            " | missed {} | errors {}",
            self.missed_ticks, self.errors
        )
    }
}

/// Writes progress lines to stderr.
#[derive(Debug)]
pub(crate) struct ProgressWriter {
    tty: bool,
    wrote: bool,
}

impl ProgressWriter {
    pub(crate) fn new() -> Self {
        ProgressWriter {
            tty: std::io::stderr().is_terminal(),
            wrote: false,
        }
    }

    pub(crate) fn show(&mut self, line: &ProgressLine) {
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r{line}\x1b[K")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
        self.wrote = true;
    }

    /// Ends the rewritten line so later output starts on a fresh one.
    pub(crate) fn finish(&mut self) {
        if self.tty && self.wrote {
            let _ = writeln!(std::io::stderr());
            self.wrote = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_one_line() {
        let mut line = ProgressLine {
            elapsed: Duration::from_secs(12),
            connected: 990,
            bots: 1000,
            snapshots_per_s: 19800.4,
            inputs_per_s: 29700.0,
            latency_ms: Some((3.04, 9.87)),
            missed_ticks: 2,
            errors: 1,
        };
        assert_eq!(
            line.to_string(),
            "[   12s] bots 990/1000 | snapshots 19800/s | inputs 29700/s | ack p50 3.0ms p99 9.9ms | missed 2 | errors 1"
        );
        line.latency_ms = None;
        assert!(line.to_string().contains("ack p50 - p99 -"));
    }
}
