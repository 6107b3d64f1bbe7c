//! Keeps the tick ahead of the I/O on a busy machine: the tokio I/O threads
//! run at a higher nice value (lower priority) than the tick workers, so when
//! a tick comes due while the core is busy with socket work, the kernel
//! switches to the tick worker promptly instead of letting it start late.
//! Raising a nice value needs no privilege (lowering it would).

/// Adds `nice` to the calling thread's nice value (Linux: per thread), up to
/// the maximum of 19, so a server started under `nice -n 10` keeps its I/O
/// below its tick workers instead of being set back to an absolute value
/// (which would even need privilege). `0` leaves it alone.
pub fn set_current_thread_nice(nice: i32) -> std::io::Result<()> {
    if nice == 0 {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        let tid = Some(rustix::thread::gettid());
        let current = rustix::process::getpriority_process(tid)?;
        rustix::process::setpriority_process(tid, (current + nice).min(19))
            .map_err(std::io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn raises_only_the_calling_threads_nice_value() {
        let before = rustix::process::getpriority_process(None).expect("getpriority");
        let raised = std::thread::spawn(|| {
            set_current_thread_nice(3).expect("raising a nice value needs no privilege");
            rustix::process::getpriority_process(Some(rustix::thread::gettid()))
                .expect("getpriority")
        })
        .join()
        .expect("thread");
        assert_eq!(raised, (before + 3).min(19));
        assert_eq!(
            rustix::process::getpriority_process(None).expect("getpriority"),
            before
        );
    }
}
