//! Durations from the environment, through the real binary (a test cannot set
//! its own environment safely): `TICKROOM_RESUME_GRACE=10s`, the old
//! `TICKROOM_RESUME_GRACE_SECS=10`, and which wins when both are given.
//!
//! Each case either sets an invalid grace (below 5 s) on the side that should
//! win, so the binary refuses to start and names the flag, or a valid one, so
//! it starts listening (then it is killed). Every wait is bounded.

mod common;

use std::{
    io::{BufRead, BufReader},
    sync::mpsc,
    time::Duration,
};

/// Bound for one start-up; only a hang trips it.
const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug, PartialEq)]
enum Outcome {
    /// It logged its listening line.
    Listening,
    /// It exited first; its stderr.
    Refused(String),
}

fn start(env: &[(&str, &str)], args: &[&str]) -> Outcome {
    // Only what the case sets: the caller's TICKROOM_* must not leak in.
    let mut child = common::tickroom(true)
        .args(args)
        .envs(env.iter().copied())
        .spawn()
        .expect("start tickroom");
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("tickroom listening") {
                let _ = tx.send(Outcome::Listening);
                return;
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let _ = tx.send(Outcome::Refused(seen));
    });
    let outcome = rx.recv_timeout(PATIENCE);
    let _ = child.kill();
    let _ = child.wait();
    outcome.unwrap_or_else(|_| {
        panic!("tickroom neither listened nor exited within {PATIENCE:?} ({env:?} {args:?})")
    })
}

#[track_caller]
fn assert_refused(env: &[(&str, &str)], args: &[&str]) {
    match start(env, args) {
        Outcome::Refused(stderr) => assert!(
            stderr.contains("--resume-grace must be between 5s and 1h"),
            "{env:?} {args:?}: {stderr}"
        ),
        Outcome::Listening => panic!("{env:?} {args:?}: started with a grace below 5 s"),
    }
}

#[test]
fn durations_come_from_the_new_and_the_old_variables() {
    // Each spelling is read.
    assert_refused(&[("TICKROOM_RESUME_GRACE", "1s")], &[]);
    assert_refused(&[("TICKROOM_RESUME_GRACE_SECS", "1")], &[]);
    // Both variables: the new one wins, whichever is valid.
    assert_refused(
        &[
            ("TICKROOM_RESUME_GRACE", "1s"),
            ("TICKROOM_RESUME_GRACE_SECS", "10"),
        ],
        &[],
    );
    assert_eq!(
        start(
            &[
                ("TICKROOM_RESUME_GRACE", "10s"),
                ("TICKROOM_RESUME_GRACE_SECS", "1"),
            ],
            &[]
        ),
        Outcome::Listening
    );
    // A flag beats a variable, whatever their spelling.
    assert_refused(
        &[("TICKROOM_RESUME_GRACE", "10s")],
        &["--resume-grace-secs", "1"],
    );
    assert_eq!(
        start(
            &[("TICKROOM_RESUME_GRACE_SECS", "1")],
            &["--resume-grace", "10s"]
        ),
        Outcome::Listening
    );
}
