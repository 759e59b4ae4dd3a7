//! Running one child under a deadline, in its own process group, and cleaning up whatever it leaves behind.
//!
//! A case may hang, crash, or leave processes running; none of that may stop or disturb the run. Each child starts
//! as the leader of a new process group with a clean environment and stdin on /dev/null. When it exits (or its
//! deadline passes and the group is killed), every process still in that group, and every process whose cwd lies in
//! the case's temporary directory (which catches children that left the group with setsid), is killed and counted.
#![forbid(unsafe_code)]

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::sys::{self, Arg};

/// The PATH every child gets (this machine's default python3 is a pyenv shim outside the sandbox's grants).
pub const CHILD_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Status {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal (a crash, unless the runner killed it at the deadline).
    Signaled(i32),
    /// Still running at the deadline; its group was killed.
    TimedOut,
    /// It could not be started.
    SpawnFailed(String),
}

/// What one child did.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// How it ended.
    pub status: Status,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr (tail).
    pub stderr: String,
    /// Processes still alive after it ended (killed by the runner).
    pub leftovers: usize,
    /// Wall time.
    pub elapsed_ms: u128,
}

impl Run {
    /// A one-line description of an abnormal end, or None for a normal exit without leftovers.
    pub fn trouble(&self) -> Option<String> {
        match &self.status {
            Status::TimedOut => Some("timed out".to_owned()),
            Status::Signaled(s) => Some(format!("crashed (signal {s})")),
            Status::SpawnFailed(e) => Some(format!("could not start: {e}")),
            Status::Exited(_) if self.leftovers > 0 => {
                Some(format!("left {} process(es) behind", self.leftovers))
            }
            Status::Exited(_) => None,
        }
    }
}

/// Marks every inherited fd above 2 close-on-exec, so children see exactly stdin, stdout and stderr.
pub fn cloexec_inherited_fds() {
    let _ = sys::call(
        libc::SYS_close_range,
        &[
            Arg::u(3),
            Arg::u(u32::MAX),
            Arg::u(libc::CLOSE_RANGE_CLOEXEC),
        ],
    );
}

fn reader(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

fn kill(pid: i64, sig: i32) {
    let _ = sys::call(libc::SYS_kill, &[Arg::I(pid), Arg::i(sig)]);
}

/// Pids (other than ours) in process group `pgid` or whose cwd lies under `dir`.
pub fn stragglers(pgid: i64, dir: &Path) -> Vec<i64> {
    let me = i64::from(std::process::id());
    let dir_s = dir.to_string_lossy().into_owned();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i64>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let in_group = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let rest = s.get(s.rfind(')')? + 2..)?.to_owned();
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let state = fields.first().copied()?;
                let pgrp = fields.get(2)?.parse::<i64>().ok()?;
                Some(pgrp == pgid && state != "Z")
            });
        let in_dir = std::fs::read_link(format!("/proc/{pid}/cwd"))
            .map(|p| !dir_s.is_empty() && p.to_string_lossy().contains(&dir_s))
            .unwrap_or(false);
        if in_group == Some(true) || in_dir {
            out.push(pid);
        }
    }
    out
}

/// Kills stragglers until none are left (a few rounds, since they may fork); returns how many there were.
pub fn reap_stragglers(pgid: i64, dir: &Path) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let now = stragglers(pgid, dir);
        if now.is_empty() {
            break;
        }
        for p in now {
            seen.insert(p);
            kill(p, libc::SIGKILL);
        }
        kill(-pgid, libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(20));
    }
    seen.len()
}

/// Runs `argv` in `dir` with `env` (after clearing the environment), stdin on /dev/null, in a new process group,
/// for at most `timeout`.
pub fn run(argv: &[String], dir: &Path, env: &[(String, String)], timeout: Duration) -> Run {
    let start = Instant::now();
    let Some((prog, args)) = argv.split_first() else {
        return Run {
            status: Status::SpawnFailed("empty command".into()),
            stdout: String::new(),
            stderr: String::new(),
            leftovers: 0,
            elapsed_ms: 0,
        };
    };
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Run {
                status: Status::SpawnFailed(e.to_string()),
                stdout: String::new(),
                stderr: String::new(),
                leftovers: 0,
                elapsed_ms: start.elapsed().as_millis(),
            }
        }
    };
    let pgid = i64::from(child.id());
    let out_rx = child.stdout.take().map(reader);
    let err_rx = child.stderr.take().map(reader);
    let deadline = start + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => {
                break match (st.code(), st.signal()) {
                    (Some(c), _) => Status::Exited(c),
                    (None, Some(s)) => Status::Signaled(s),
                    (None, None) => Status::Exited(-1),
                }
            }
            Ok(None) if Instant::now() >= deadline => {
                kill(-pgid, libc::SIGKILL);
                let _ = child.kill();
                let _ = child.wait();
                break Status::TimedOut;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => break Status::SpawnFailed(format!("wait: {e}")),
        }
    };
    let leftovers = reap_stragglers(pgid, dir);
    let collect = |rx: Option<mpsc::Receiver<Vec<u8>>>| {
        rx.and_then(|r| r.recv_timeout(Duration::from_secs(3)).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let stdout = collect(out_rx);
    let mut stderr = collect(err_rx);
    if stderr.len() > 4000 {
        let cut = stderr.len() - 4000;
        let cut = (cut..stderr.len())
            .find(|&i| stderr.is_char_boundary(i))
            .unwrap_or(cut);
        stderr = format!("...{}", &stderr[cut..]);
    }
    Run {
        status,
        stdout,
        stderr,
        leftovers,
        elapsed_ms: start.elapsed().as_millis(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("capvisor-spawn-test-{tag}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&d);
        d
    }

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn run_exit_code_and_output_captured() {
        let d = tmp("exit");
        let r = run(
            &sh("echo out; echo err >&2; exit 3"),
            &d,
            &[],
            Duration::from_secs(10),
        );
        assert_eq!(r.status, Status::Exited(3));
        assert_eq!(r.stdout, "out\n");
        assert_eq!(r.stderr, "err\n");
        assert_eq!(r.leftovers, 0);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn run_hang_times_out() {
        let d = tmp("hang");
        let r = run(&sh("sleep 30"), &d, &[], Duration::from_millis(300));
        assert_eq!(r.status, Status::TimedOut);
        assert!(r.elapsed_ms < 10_000);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn run_leftover_in_new_session_is_killed_and_counted() {
        let d = tmp("leak");
        let r = run(
            &sh("setsid sleep 30 & sleep 0.2; exit 0"),
            &d,
            &[],
            Duration::from_secs(10),
        );
        assert_eq!(r.status, Status::Exited(0));
        assert!(r.leftovers >= 1, "leftovers: {}", r.leftovers);
        assert!(stragglers(i64::MIN, &d).is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }
}
