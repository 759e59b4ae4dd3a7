//! Helpers shared by the integration tests: the binaries under test, a sentry if one is built, temp dirs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `conformance` binary.
pub fn conformance() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_conformance"))
}

/// The `probe` binary.
pub fn probe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_probe"))
}

/// A sentry built in this workspace's target directory (debug or release), if any. Tests that need it fall back
/// to native-only checks without it, and say so.
pub fn sentry() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SENTRY") {
        return Some(PathBuf::from(p));
    }
    let bin_dir = conformance().parent().map(Path::to_path_buf)?;
    let candidates = [
        bin_dir.join("sentry"),
        bin_dir.join("../release/sentry"),
        bin_dir.join("../debug/sentry"),
    ];
    candidates.into_iter().find(|p| p.is_file())
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "capvisor-conf-test-{tag}-{}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command with stdin on /dev/null and a clean PATH, killing it after `limit`.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("PATH", "/usr/local/bin:/usr/bin:/bin");
    let mut child = cmd.spawn().expect("spawn");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("command exceeded {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}
