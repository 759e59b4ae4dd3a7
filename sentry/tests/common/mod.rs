//! Shared helpers for the integration tests: the `sentry` binary, fresh temporary workspaces that remove themselves,
//! bounded runs of a program natively and under the sentry, and the native-versus-sandboxed comparison.
//!
//! Every run gets the same small, fixed environment (`PATH=/usr/local/bin:/usr/bin:/bin`, `HOME` = the workspace,
//! `LC_ALL=C`), stdin from /dev/null (no pty) and a time limit after which its whole process group is killed, so a
//! hung sandbox fails one test instead of hanging CI.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The only PATH tests run with: Debian's /usr/bin/python3, never a pyenv shim under /root (outside the grants).
pub const TEST_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Longest any single run may take before it is killed.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The `sentry` binary cargo built for these tests.
pub fn sentry_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sentry"))
}

/// A directory of our own with a unique name, removed (with everything in it) on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A fresh directory under /tmp.
    pub fn new(label: &str) -> Self {
        Self::new_in(Path::new("/tmp"), label)
    }

    /// A fresh directory under `base` (which must exist), e.g. /var/tmp for a host path the sandbox's private /tmp
    /// does not shadow.
    pub fn new_in(base: &Path, label: &str) -> Self {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!(
            "capvisor-test-{label}-{}-{seq}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir(&path)
            .unwrap_or_else(|e| panic!("create temp dir {}: {e}", path.display()));
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self.path()/rel`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// The path as a `&str` (our names are ASCII).
    pub fn str(&self) -> &str {
        self.path.to_str().expect("temp dir paths are ASCII")
    }

    /// Writes `text` to `rel`, creating parent directories.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
        }
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::fs::remove_dir_all(&self.path).is_ok() || !self.path.exists() {
            return;
        }
        // A test may have left read-only directories behind: make everything writable and try once more.
        make_writable(&self.path);
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            eprintln!("warning: could not remove {}: {e}", self.path.display());
        }
    }
}

fn make_writable(p: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return;
    };
    if meta.file_type().is_symlink() {
        return;
    }
    let mode = meta.permissions().mode() | 0o700;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
    if meta.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                make_writable(&e.path());
            }
        }
    }
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The exit code as a shell reports it: the program's, or 128+N when killed by signal N.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// stdout and stderr together, for "never appears anywhere" checks.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The exit code a shell would report for `st`.
pub fn shell_code(st: ExitStatus) -> i32 {
    match (st.code(), st.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => -1,
    }
}

/// A command with the tests' fixed environment, cwd, stdin from /dev/null and its own process group.
pub fn command(program: impl AsRef<OsStr>, cwd: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(cwd)
        .env_clear()
        .env("PATH", TEST_PATH)
        .env("HOME", cwd)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    c
}

fn drain(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Kills the whole process group of `child` (it was started with `process_group(0)`).
pub fn kill_group(child: &Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Runs `c` to completion, killing its process group after `timeout`. Panics on timeout, with what it printed.
pub fn run_command(mut c: Command, timeout: Duration) -> Output {
    let what = format!("{c:?}");
    let mut child = c.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let out_rx = drain(child.stdout.take().expect("stdout is piped"));
    let err_rx = drain(child.stderr.take().expect("stderr is piped"));
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                kill_group(&child);
                break child.wait().expect("wait after kill");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("wait {what}: {e}"),
        }
    };
    // A grandchild that escaped the group could hold the pipes open: wait a bounded time for them.
    let grace = Duration::from_secs(10);
    let text = |rx: mpsc::Receiver<Vec<u8>>| {
        rx.recv_timeout(grace)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|_| "<pipe still held open by a leftover process>".into())
    };
    let out = Output {
        code: shell_code(status),
        stdout: text(out_rx),
        stderr: text(err_rx),
    };
    assert!(
        !timed_out,
        "{what} did not finish within {timeout:?}; killed\n{out}"
    );
    out
}

/// Runs `cmd` natively in `cwd`.
pub fn run_native(cmd: &[&str], cwd: &Path) -> Output {
    let (prog, args) = cmd.split_first().expect("a command");
    let mut c = command(prog, cwd);
    c.args(args);
    run_command(c, RUN_TIMEOUT)
}

/// The platform every `sentry exec` of the tests runs on: `SENTRY_TEST_PLATFORM` (seccomp, ptrace or auto), else
/// the sentry's default. `make test` runs the integration tests once per platform.
pub fn test_platform() -> Option<String> {
    std::env::var("SENTRY_TEST_PLATFORM")
        .ok()
        .filter(|p| !p.is_empty())
}

/// `exec` and, under `SENTRY_TEST_PLATFORM`, `--platform P`: the start of every `sentry exec` command line.
pub fn exec_args() -> Vec<String> {
    let mut v = vec!["exec".to_string()];
    if let Some(p) = test_platform() {
        v.push("--platform".into());
        v.push(p);
    }
    v
}

/// The command line for `sentry exec ARGS -- CMD`.
pub fn sandbox_command(args: &[&str], cmd: &[&str], cwd: &Path) -> Command {
    let mut c = command(sentry_bin(), cwd);
    c.args(exec_args()).args(args).arg("--").args(cmd);
    c
}

/// Runs `sentry exec ARGS -- CMD` in `cwd`. Asserts the sentry itself never panicked.
pub fn run_sandboxed(args: &[&str], cmd: &[&str], cwd: &Path) -> Output {
    let out = run_command(sandbox_command(args, cmd, cwd), RUN_TIMEOUT);
    assert_no_panic(&out, &format!("sentry exec {args:?} -- {cmd:?}"));
    out
}

/// Runs the sentry binary with raw arguments (CLI tests). Asserts it never panicked.
pub fn run_sentry(args: &[&str], cwd: &Path) -> Output {
    let mut c = command(sentry_bin(), cwd);
    match args.split_first() {
        Some((&"exec", rest)) => c.args(exec_args()).args(rest),
        _ => c.args(args),
    };
    let out = run_command(c, RUN_TIMEOUT);
    assert_no_panic(&out, &format!("sentry {args:?}"));
    out
}

/// No output of the sentry may show a Rust panic.
pub fn assert_no_panic(out: &Output, what: &str) {
    for bad in ["panicked", "RUST_BACKTRACE"] {
        assert!(
            !out.all().contains(bad),
            "{what}: output contains {bad:?}\n{out}"
        );
    }
}

/// Replaces every occurrence of the workspace path with `$WS`, so native and sandboxed runs in different workspaces
/// compare equal.
pub fn normalize(s: &str, ws: &Path) -> String {
    s.replace(ws.to_str().expect("temp dir paths are ASCII"), "$WS")
}

/// Runs `cmd` natively and under the default policy, each in its own fresh workspace prepared by `setup`, and asserts
/// that the exit code and stdout (with the workspace path normalised) match. Returns (native, sandboxed) with
/// normalised stdout, and the two workspaces (still alive) for further checks.
pub fn assert_same_as_native(
    label: &str,
    cmd: &[&str],
    setup: impl Fn(&TempDir),
) -> (Output, Output, TempDir, TempDir) {
    let native_ws = TempDir::new(&format!("{label}-native"));
    let sandbox_ws = TempDir::new(&format!("{label}-sandbox"));
    setup(&native_ws);
    setup(&sandbox_ws);
    let mut native = run_native(cmd, native_ws.path());
    let mut sandboxed = run_sandboxed(&[], cmd, sandbox_ws.path());
    native.stdout = normalize(&native.stdout, native_ws.path());
    sandboxed.stdout = normalize(&sandboxed.stdout, sandbox_ws.path());
    assert_eq!(
        (native.code, &native.stdout),
        (sandboxed.code, &sandboxed.stdout),
        "{cmd:?}: sandboxed run differs from native\n=== native ===\n{native}\n=== sandboxed ===\n{sandboxed}"
    );
    (native, sandboxed, native_ws, sandbox_ws)
}

/// Whether `prog` is an executable file on `TEST_PATH`.
pub fn have(prog: &str) -> bool {
    TEST_PATH.split(':').any(|d| {
        std::fs::metadata(Path::new(d).join(prog))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Compiles `src` (C) with gcc into `ws/name`, natively (the test's own tool, not the thing under test).
pub fn compile_c(ws: &TempDir, name: &str, src: &str, extra: &[&str]) -> PathBuf {
    let c_file = ws.write(&format!("{name}.c"), src);
    let exe = ws.join(name);
    let mut c = command("gcc", ws.path());
    c.args(["-O2", "-Wall", "-o"])
        .arg(&exe)
        .arg(&c_file)
        .args(extra);
    let out = run_command(c, RUN_TIMEOUT);
    assert_eq!(out.code, 0, "gcc {name}.c failed\n{out}");
    exe
}

/// Polls `cond` every 20 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pids of host processes with an argument equal to `token` (`exact`) or containing it, from the host's /proc.
pub fn pids_with_arg(token: &str, exact: bool) -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let hit = |a: &[u8]| {
            if exact {
                a == token.as_bytes()
            } else {
                a.windows(token.len()).any(|w| w == token.as_bytes())
            }
        };
        if cmdline.split(|&b| b == 0).any(hit) {
            pids.push(pid);
        }
    }
    pids
}
