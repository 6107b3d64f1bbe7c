//! The bot process's own cost, read from `/proc/self`: CPU time and resident
//! memory. A load generator that saturates its own CPU measures itself, not
//! the server, so every report says how busy the bots were. Also the reading
//! of a `tickroom` child's "listening" log line, for whoever starts one on
//! port 0 (the bench harness, the signal test).
//!
//! Linux only; elsewhere the figures are absent (`None`).

use std::{fs, net::SocketAddr};

/// The address in the server's startup log line,
/// `… INFO tickroom_server::server: tickroom listening addr=127.0.0.1:41234 workers=1 …`
/// (so a child told `--bind 127.0.0.1:0` can be found without racing for a port).
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    let (_, fields) = line.split_once("tickroom listening")?;
    fields
        .split_whitespace()
        .find_map(|f| f.strip_prefix("addr="))?
        .parse()
        .ok()
}

/// Clock ticks per second of `/proc/<pid>/stat` times: `sysconf(_SC_CLK_TCK)`,
/// which rustix reads from the auxiliary vector the kernel hands every
/// process (no `libc`, no `unsafe`). 100 on mainstream Linux, but not assumed.
fn clock_ticks_per_second() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}

/// User and system CPU seconds used by this process so far.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CpuTimes {
    /// Seconds in user mode.
    pub user_s: f64,
    /// Seconds in the kernel on the process's behalf.
    pub sys_s: f64,
}

/// Resident memory of this process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// Current resident set (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set since the process started (`VmHWM`).
    pub peak_kib: u64,
}

/// Current CPU times, from `/proc/self/stat`.
pub fn cpu_times() -> Option<CpuTimes> {
    parse_stat(&fs::read_to_string("/proc/self/stat").ok()?)
}

/// Current and peak RSS, from `/proc/self/status`.
pub fn memory() -> Option<Memory> {
    parse_status(&fs::read_to_string("/proc/self/status").ok()?)
}

/// CPU times of another process (e.g. the server under test).
pub fn cpu_times_of(pid: u32) -> Option<CpuTimes> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Resident memory of another process.
pub fn memory_of(pid: u32) -> Option<Memory> {
    parse_status(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// Parses utime and stime (fields 14 and 15) out of a `stat` line, in this
/// system's clock ticks.
pub fn parse_stat(stat: &str) -> Option<CpuTimes> {
    parse_stat_ticks(stat, clock_ticks_per_second())
}

/// [`parse_stat`] with `ticks_per_second` given. The command name (field 2)
/// may contain spaces and parentheses, so fields are counted from the last `)`.
pub fn parse_stat_ticks(stat: &str, ticks_per_second: f64) -> Option<CpuTimes> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    // After the name: state is field 3, so utime (14) is the 12th from here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(CpuTimes {
        user_s: utime as f64 / ticks_per_second,
        sys_s: stime as f64 / ticks_per_second,
    })
}

/// Parses `VmRSS` and `VmHWM` (in kB) out of a `status` file.
pub fn parse_status(status: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_even_with_odd_command_names() {
        let line = "4242 (tick room) bots) S 1 4242 4242 0 -1 4194560 1234 0 0 0 \
                    250 75 0 0 20 0 3 0 100 1000000 500 18446744073709551615";
        let cpu = parse_stat_ticks(line, 100.0).unwrap();
        assert_eq!(cpu.user_s, 2.5);
        assert_eq!(cpu.sys_s, 0.75);
        let cpu = parse_stat_ticks(line, 250.0).unwrap();
        assert_eq!((cpu.user_s, cpu.sys_s), (1.0, 0.3));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn clock_ticks_come_from_the_os() {
        let hz = clock_ticks_per_second();
        assert!(hz >= 1.0, "{hz}");
        if cfg!(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )) {
            // The kernel's USER_HZ there.
            assert_eq!(hz, 100.0);
        }
    }

    #[test]
    fn parses_status() {
        let status = "Name:\tbots\nVmPeak:\t  100 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(
            parse_status(status),
            Some(Memory {
                rss_kib: 10240,
                peak_kib: 20480
            })
        );
        assert_eq!(parse_status("Name: x\n"), None);
    }

    #[test]
    fn reads_this_process_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(cpu_times().is_some());
            let m = memory().unwrap();
            assert!(m.rss_kib > 0 && m.peak_kib >= m.rss_kib);
        }
    }
}
