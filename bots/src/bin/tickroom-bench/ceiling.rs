//! The machine's own ceiling, measured in the same run as the sweep: how
//! many small `write()`s one core manages per second to `N` connected
//! loopback TCP sockets (`TCP_NODELAY`, round-robin, ~200-byte messages like
//! a delta frame), while a reader on another core drains them. A server's
//! core goes mostly to such writes (frames) and reads (inputs), so its work
//! per core-second over this ceiling is a figure that survives the 2x swings
//! of absolute figures on shared VMs between days.
//!
//! Plain std threads and `rustix` (affinity, epoll); it runs before a level's
//! server starts, never beside it.

use std::{
    io::{self, Read, Write},
    net::{TcpListener, TcpStream},
    os::fd::AsFd,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use rustix::{
    buffer::spare_capacity,
    event::{Timespec, epoll},
    thread::{CpuSet, sched_setaffinity},
};
use serde::{Deserialize, Serialize};
use tickroom_bots::process;

/// Size of one message: about one delta frame of a 50-player room.
pub const MESSAGE_BYTES: usize = 200;
/// Writing before the measured part starts (caches, socket buffers).
const WARMUP: Duration = Duration::from_millis(300);

/// How to measure.
#[derive(Debug, Clone)]
pub struct CeilingConfig {
    /// Connected sockets to write to (the level's players).
    pub sockets: usize,
    /// Length of the measured part.
    pub duration: Duration,
    /// CPU of the writer (the server's core); `None`: not pinned.
    pub writer_cpu: Option<usize>,
    /// CPU of the reader (the bots' core); `None`: not pinned.
    pub reader_cpu: Option<usize>,
}

/// One measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ceiling {
    /// Sockets written to, round-robin.
    pub sockets: usize,
    /// Bytes per `write()`.
    pub message_bytes: usize,
    /// Measured seconds (wall clock).
    pub seconds: f64,
    /// Successful `write()`s in the measured part.
    pub writes: u64,
    /// `write()`s refused with `EAGAIN` (the reader fell behind); near 0.
    pub would_block: u64,
    /// Writes per wall-clock second.
    pub writes_per_s: f64,
    /// Share of one core the writer thread got (1.0 = all of it), from
    /// `/proc/thread-self/stat`; below ~0.95 the core was shared.
    pub writer_core_share: Option<f64>,
    /// Writes per second of the writer's CPU time: **the ceiling**, what
    /// efficiency divides by (equal to `writes_per_s` when the writer had
    /// its core to itself).
    pub writes_per_core_s: f64,
    /// CPU the writer was pinned to.
    pub writer_cpu: Option<usize>,
    /// CPU the reader was pinned to.
    pub reader_cpu: Option<usize>,
}

/// Connects `sockets` loopback pairs and measures (blocking, about
/// `duration` plus a fraction of a second).
pub fn measure(config: &CeilingConfig) -> io::Result<Ceiling> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut writers = Vec::with_capacity(config.sockets);
    let mut readers = Vec::with_capacity(config.sockets);
    for _ in 0..config.sockets.max(1) {
        let w = TcpStream::connect(addr)?;
        let (r, _) = listener.accept()?;
        w.set_nodelay(true)?;
        w.set_nonblocking(true)?;
        r.set_nonblocking(true)?;
        writers.push(w);
        readers.push(r);
    }
    drop(listener);
    let stop = AtomicBool::new(false);
    // Both sides on threads of their own, so no caller's thread stays pinned.
    let (written, drained) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| drain(&readers, config.reader_cpu, &stop));
        let writer = scope.spawn(|| {
            let written = write_round_robin(&mut writers, config);
            stop.store(true, Ordering::Relaxed);
            written
        });
        (writer.join(), reader.join())
    });
    let written = written.map_err(|_| io::Error::other("ceiling writer thread panicked"))??;
    drained.map_err(|_| io::Error::other("ceiling reader thread panicked"))??;
    let seconds = written.seconds;
    let writes_per_s = written.writes as f64 / seconds;
    Ok(Ceiling {
        sockets: config.sockets,
        message_bytes: MESSAGE_BYTES,
        seconds,
        writes: written.writes,
        would_block: written.would_block,
        writes_per_s,
        writer_core_share: written.cpu_s.map(|c| c / seconds),
        writes_per_core_s: written
            .cpu_s
            .filter(|&c| c > 0.0)
            .map_or(writes_per_s, |c| written.writes as f64 / c),
        writer_cpu: config.writer_cpu,
        reader_cpu: config.reader_cpu,
    })
}

/// What the writer did in the measured part.
#[derive(Debug, Default)]
struct Written {
    writes: u64,
    would_block: u64,
    seconds: f64,
    /// The writer thread's CPU seconds meanwhile.
    cpu_s: Option<f64>,
}

impl Written {
    /// One `write()` to every socket, in order.
    fn round(&mut self, sockets: &mut [TcpStream], message: &[u8]) -> io::Result<()> {
        for s in sockets {
            match s.write(message) {
                Ok(_) => self.writes += 1,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.would_block += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The writer: pinned, round-robin over all sockets, a warm-up then the
/// measured part.
fn write_round_robin(sockets: &mut [TcpStream], config: &CeilingConfig) -> io::Result<Written> {
    if let Some(cpu) = config.writer_cpu {
        pin_to(cpu)?;
    }
    let message = [0x5a_u8; MESSAGE_BYTES];
    let warm_until = Instant::now() + WARMUP;
    while Instant::now() < warm_until {
        Written::default().round(sockets, &message)?;
    }
    let mut w = Written::default();
    let cpu0 = thread_cpu_s();
    let started = Instant::now();
    let end = started + config.duration;
    while Instant::now() < end {
        w.round(sockets, &message)?;
    }
    w.seconds = started.elapsed().as_secs_f64();
    w.cpu_s = thread_cpu_s().zip(cpu0).map(|(b, a)| b - a);
    Ok(w)
}

/// The reader: pinned, epoll over every socket, each ready one read until
/// it would block, until `stop`.
fn drain(sockets: &[TcpStream], cpu: Option<usize>, stop: &AtomicBool) -> io::Result<()> {
    if let Some(cpu) = cpu {
        pin_to(cpu)?;
    }
    let poller = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    for (i, s) in sockets.iter().enumerate() {
        epoll::add(
            &poller,
            s.as_fd(),
            epoll::EventData::new_u64(i as u64),
            epoll::EventFlags::IN,
        )?;
    }
    let mut events = Vec::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    };
    while !stop.load(Ordering::Relaxed) {
        events.clear();
        epoll::wait(&poller, spare_capacity(&mut events), Some(&timeout))?;
        for event in &events {
            let mut s = &sockets[event.data.u64() as usize];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) if n < buf.len() => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

fn pin_to(cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu);
    sched_setaffinity(None, &set).map_err(io::Error::from)
}

/// CPU seconds (user + system) of the calling thread.
fn thread_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    process::parse_stat(&stat).map(|t| t.user_s + t.sys_s)
}

/// The first CPU of a `taskset -c` list (`0`, `2-3`, `1,5`).
pub fn first_cpu(list: &str) -> Option<usize> {
    list.split([',', '-']).next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_cpu_of_a_list() {
        assert_eq!(first_cpu("0"), Some(0));
        assert_eq!(first_cpu("2-3"), Some(2));
        assert_eq!(first_cpu("1,5"), Some(1));
        assert_eq!(first_cpu(""), None);
    }

    #[test]
    fn measures_writes_to_a_few_sockets() {
        let c = measure(&CeilingConfig {
            sockets: 4,
            duration: Duration::from_millis(200),
            writer_cpu: None,
            reader_cpu: None,
        })
        .unwrap();
        assert_eq!((c.sockets, c.message_bytes), (4, MESSAGE_BYTES));
        assert!(c.writes > 100, "{c:?}");
        assert!(c.writes_per_s > 0.0 && c.writes_per_core_s > 0.0, "{c:?}");
        assert!(c.seconds >= 0.2, "{c:?}");
    }
}
