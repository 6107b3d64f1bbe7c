//! What `tickroom-bench` was asked to sweep and how ([`BenchConfig`]): the
//! one value the harness, the server processes it starts and the rolling
//! restart all read, in a module of its own below them.

use std::{path::PathBuf, time::Duration};

use tickroom_bots::Mix;

/// What to sweep and how.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Rooms per level, in order.
    pub levels: Vec<usize>,
    /// Players per room.
    pub per_room: usize,
    /// Inputs per second per bot.
    pub input_hz: u32,
    /// The game the bots play.
    pub game: String,
    /// Behaviour mix of the bots.
    pub mix: Mix,
    /// Each room is created with this game config first (`--room-config`).
    pub room_config: Option<serde_json::Value>,
    /// Connections per second while ramping.
    pub ramp_per_sec: f64,
    /// Time after the ramp before measuring.
    pub warmup: Duration,
    /// Length of the measured window.
    pub window: Duration,
    /// The `tickroom` binary to start.
    pub server_bin: PathBuf,
    /// Extra flags for the server.
    pub server_args: Vec<String>,
    /// `taskset -c` list for the server (None: not pinned).
    pub server_cpus: Option<String>,
    /// `taskset -c` list for the bots (None: not pinned).
    pub bot_cpus: Option<String>,
    /// How long to measure the machine's ceiling per distinct player count
    /// (None: skip it, and efficiency).
    pub ceiling: Option<Duration>,
    /// Tick workers for the server.
    pub server_workers: usize,
    /// Where JSON, SVG and server logs go.
    pub out_dir: PathBuf,
    /// Measure every level even after one fails.
    pub keep_going: bool,
    /// Server processes per level (1: a single node, no Redis).
    pub nodes: usize,
    /// The `redis-server` binary the fleet shares when `nodes > 1`.
    pub redis_bin: PathBuf,
    /// Restart every node in turn during each level's window (`nodes > 1`
    /// only; see `rolling.rs`).
    pub rolling_restart: bool,
    /// The pause after each restart before the next node drains.
    pub rolling_settle: Duration,
}
