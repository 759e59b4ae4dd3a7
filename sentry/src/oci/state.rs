//! A container's state directory: `<root>/<id>/state.json`, written by `create` and the supervisor, read by every
//! other command. Liveness is never taken from the file alone: each pid is checked against the start time recorded
//! with it (a recycled pid is not the container's).

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::config::Hook;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct State {
    oci_version: String,
    id: String,
    bundle: PathBuf,
    rootfs: PathBuf,
    created: String,
    annotations: BTreeMap<String, String>,
    /// The supervisor (what `--pid-file` names) and its start time.
    pub pid: i32,
    pub pid_start: u64,
    /// The sandbox init, the container's process, the spawner (host pids) and their start times.
    pub init: i32,
    pub init_start: u64,
    pub agent: i32,
    pub agent_start: u64,
    pub spawner: i32,
    pub started: bool,
    pub exit: Option<i32>,
    #[serde(default)]
    pub poststop: Vec<HookRecord>,
    /// Cgroup directories made for linux.cgroupsPath, deepest first (removed by the supervisor, or by `delete`).
    #[serde(default)]
    pub cgroups: Vec<PathBuf>,
    /// linux.cgroupsPath in each hierarchy.
    #[serde(default)]
    pub cgroup_leaves: Vec<PathBuf>,
    #[serde(skip)]
    dir: PathBuf,
}

/// A poststop hook, kept for `delete`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HookRecord {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<u64>,
}

impl From<&Hook> for HookRecord {
    fn from(h: &Hook) -> Self {
        Self {
            path: h.path.clone(),
            args: h.args.clone(),
            env: h.env.clone(),
            timeout: h.timeout,
        }
    }
}

impl From<&HookRecord> for Hook {
    fn from(h: &HookRecord) -> Self {
        Self {
            path: h.path.clone(),
            args: h.args.clone(),
            env: h.env.clone(),
            timeout: h.timeout,
        }
    }
}

/// The start time of a process (clock ticks since boot): field 22 of /proc/PID/stat.
pub fn start_time(pid: i32) -> Option<u64> {
    crate::sys::stat_field(&crate::sys::proc_stat(pid)?, 22)
}

/// Signals `pid` only if it is still the process that started at `start`: the check is made on a pidfd, which keeps
/// naming that process, so a pid recycled in between is never signalled.
pub fn signal_checked(pid: i32, start: u64, sig: nix::sys::signal::Signal) -> bool {
    let Ok(fd) = crate::sys::pidfd_open(pid) else {
        return false;
    };
    if start_time(pid) != Some(start) {
        return false;
    }
    crate::sys::pidfd_signal(std::os::fd::AsFd::as_fd(&fd), sig as i32).is_ok()
}

fn alive(pid: i32, start: u64) -> bool {
    pid > 0 && start_time(pid) == Some(start) && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    crate::sys::proc_stat(pid)
        .and_then(|f| f.first().map(|st| st == "Z" || st == "X"))
        .unwrap_or(true)
}

/// Makes `<root>/<id>` (0700), refusing an existing one.
pub fn make_dir(root: &Path, id: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(root)
        .map_err(|e| format!("state root {}: {e}", root.display()))?;
    let dir = root.join(id);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(format!("container with id exists: {id}"))
        }
        Err(e) => return Err(format!("state directory {}: {e}", dir.display())),
    }
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    Ok(dir)
}

/// RFC 3339 in UTC with nanoseconds, as runc writes `created`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// The pid-namespace inode of a process.
fn pid_ns(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

fn ppid(pid: i32) -> Option<i32> {
    crate::sys::stat_field(&crate::sys::proc_stat(pid)?, 4)
}

impl State {
    pub fn new(
        id: &str,
        dir: &Path,
        bundle: &Path,
        rootfs: &Path,
        annotations: &BTreeMap<String, String>,
        oci_version: &str,
    ) -> Self {
        let pid = i32::try_from(std::process::id()).unwrap_or(0);
        Self {
            oci_version: oci_version.to_string(),
            id: id.to_string(),
            bundle: bundle.to_path_buf(),
            rootfs: rootfs.to_path_buf(),
            created: rfc3339(SystemTime::now()),
            annotations: annotations.clone(),
            pid,
            pid_start: start_time(pid).unwrap_or(0),
            init: 0,
            init_start: 0,
            agent: 0,
            agent_start: 0,
            spawner: 0,
            started: false,
            exit: None,
            poststop: vec![],
            cgroups: vec![],
            cgroup_leaves: vec![],
            dir: dir.to_path_buf(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn bundle(&self) -> &Path {
        &self.bundle
    }

    /// Written to a temporary file and renamed: a reader sees the old state or the new one.
    pub fn save(&self) -> Result<(), String> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        let tmp = self.dir.join("state.json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, self.dir.join("state.json")))
            .map_err(|e| format!("write state: {e}"))
    }

    pub fn load(root: &Path, id: &str) -> Result<Self, String> {
        let dir = root.join(id);
        let text = match std::fs::read(dir.join("state.json")) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("container {id} does not exist"))
            }
            Err(e) => return Err(format!("container {id}: {e}")),
        };
        let mut s: State = serde_json::from_slice(&text)
            .map_err(|e| format!("container {id}: state.json: {e}"))?;
        s.dir = dir;
        Ok(s)
    }

    /// created, running or stopped.
    pub fn status(&self) -> &'static str {
        if self.exit.is_some() || !alive(self.pid, self.pid_start) {
            return "stopped";
        }
        if self.agent == 0 {
            // The supervisor is still setting up.
            return "creating";
        }
        if !alive(self.agent, self.agent_start) {
            return "stopped";
        }
        if self.started {
            "running"
        } else {
            "created"
        }
    }

    /// Signals the container's process, or with `all` every process of its pid namespace. False when none was left.
    pub fn signal(&self, sig: nix::sys::signal::Signal, all: bool) -> bool {
        let targets: Vec<(i32, u64)> = if all {
            self.all_pids()
                .into_iter()
                .filter_map(|p| start_time(p).map(|s| (p, s)))
                .collect()
        } else {
            vec![(self.agent, self.agent_start)]
        };
        targets
            .into_iter()
            .filter(|(p, s)| signal_checked(*p, *s, sig))
            .count()
            > 0
    }

    /// Every process of the container's pid namespace (the sandbox init's), init included.
    pub fn all_pids(&self) -> Vec<i32> {
        if !alive(self.init, self.init_start) {
            return vec![];
        }
        let Some(ns) = pid_ns(self.init) else {
            return vec![];
        };
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
                    if pid_ns(pid).as_ref() == Some(&ns) {
                        out.push(pid);
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// The container's own processes: all but capvisor's (the init, the spawner and its waiters).
    pub fn container_pids(&self) -> Vec<i32> {
        self.all_pids()
            .into_iter()
            .filter(|p| *p != self.init && *p != self.spawner)
            .filter(|p| self.spawner == 0 || ppid(*p) != Some(self.spawner))
            .collect()
    }

    /// Stops whatever is left (the sandbox init takes its pid namespace down with it) and waits, up to ten
    /// seconds, for the supervisor to finish (it removes the sandbox's cgroups and reaps the gofer).
    pub fn stop_everything(&self) {
        signal_checked(
            self.init,
            self.init_start,
            nix::sys::signal::Signal::SIGKILL,
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while alive(self.pid, self.pid_start) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        signal_checked(self.pid, self.pid_start, nix::sys::signal::Signal::SIGKILL);
    }

    pub fn poststop_hooks(&self) -> Vec<Hook> {
        self.poststop.iter().map(Hook::from).collect()
    }

    /// The OCI state document.
    pub fn oci_json(&self) -> serde_json::Value {
        self.oci_json_with_status(self.status())
    }

    pub fn oci_json_with_status(&self, status: &str) -> serde_json::Value {
        let status = if status == "creating" {
            "creating"
        } else {
            status
        };
        let mut v = serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "status": status,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": "",
            "annotations": self.annotations,
        });
        v["pid"] = serde_json::Value::from(if status == "stopped" {
            0
        } else {
            self.shown_pid()
        });
        v
    }

    /// The pid `state` and hooks are given: the container's process (its namespaces are the container's, for hooks
    /// that enter them), or the supervisor while the process does not exist yet. The pid file names the supervisor,
    /// the process the shim waits on.
    fn shown_pid(&self) -> i32 {
        if self.agent > 0 {
            self.agent
        } else {
            self.pid
        }
    }

    /// One row of `list`.
    pub fn list_json(&self) -> serde_json::Value {
        let status = self.status();
        serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "pid": if status == "stopped" { 0 } else { self.shown_pid() },
            "status": status,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": "root",
            "annotations": self.annotations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40.000000000Z");
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000000Z"
        );
    }

    #[test]
    fn own_start_time_is_readable_and_stable() {
        let me = i32::try_from(std::process::id()).expect("pid");
        let a = start_time(me).expect("start time");
        assert_eq!(start_time(me), Some(a));
        assert!(alive(me, a));
        assert!(!alive(me, a + 1));
    }

    #[test]
    fn a_second_create_of_one_id_is_refused() {
        let root = std::env::temp_dir().join(format!("capvisor-state-test-{}", std::process::id()));
        make_dir(&root, "x").expect("first");
        let e = make_dir(&root, "x").expect_err("second");
        assert_eq!(e, "container with id exists: x");
        let _ = std::fs::remove_dir_all(&root);
    }
}
