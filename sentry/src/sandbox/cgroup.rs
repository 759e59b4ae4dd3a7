//! A cgroup per sandbox, for the task and memory budgets and for CPU accounting.
//!
//! cgroup v2 first: a child `capvisor-<sentry pid>-<n>` of the sentry's own cgroup, used when the pids and memory
//! controllers are (or can be) enabled for it. Otherwise cgroup v1: one such child in each of the pids, memory and
//! cpuacct hierarchies that is mounted and writable. Nested under the sentry's own cgroup in every hierarchy, so a
//! limit someone put on the sentry still applies to its sandboxes. Whatever cannot be created is reported (the CLI
//! and the audit log say which mechanism enforces each budget); nothing fails silently.
//!
//! The directories are removed when the sandbox is over (`Drop`), and ones left behind by a sentry that was killed
//! are removed by the next sentry that starts (their owner pid is in the name).

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Which kernel interface a controller goes through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    V2(PathBuf),
    V1(PathBuf),
}

impl Via {
    fn dir(&self) -> &Path {
        match self {
            Via::V2(p) | Via::V1(p) => p,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            Via::V2(_) => "cgroup v2",
            Via::V1(_) => "cgroup v1",
        }
    }
}

/// The sandbox's cgroups.
#[derive(Debug, Default)]
pub struct Cgroup {
    pub pids: Option<Via>,
    pub memory: Option<Via>,
    pub cpu: Option<Via>,
    /// Why a controller is missing, for the record.
    pub notes: Vec<String>,
    created: Vec<PathBuf>,
}

/// One line of /proc/self/mountinfo that mounts a cgroup hierarchy.
#[derive(Debug, PartialEq, Eq)]
struct CgMount {
    root: String,
    at: PathBuf,
    v2: bool,
    controllers: Vec<String>,
}

fn mounts(mountinfo: &str) -> Vec<CgMount> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split_whitespace().collect();
        let post: Vec<&str> = post.split_whitespace().collect();
        let (Some(root), Some(at), Some(fstype)) = (pre.get(3), pre.get(4), post.first()) else {
            continue;
        };
        let v2 = *fstype == "cgroup2";
        if !v2 && *fstype != "cgroup" {
            continue;
        }
        let controllers = post
            .get(2)
            .map(|o| o.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        out.push(CgMount {
            root: (*root).to_string(),
            at: PathBuf::from(unescape(at)),
            v2,
            controllers,
        });
    }
    out
}

/// An OCI container's `linux.cgroupsPath` (relative to each hierarchy's root): made in every hierarchy that
/// accounts tasks, memory or CPU (and the cgroup v2 one), so that what a node watches there (kubelet's pod cgroups,
/// `ctr task metrics`) sees the sandbox, whose own cgroups are made below it. Returns (the directory in each
/// hierarchy, the directories this call created, deepest first, for `remove_dirs`).
pub fn container_dirs(rel: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut dirs = Vec::new();
    let mut created = Vec::new();
    // Every hierarchy, as runc joins them: the node's CPU quota, cpuset, blkio and freezer of the pod apply too.
    for m in mounts(&mountinfo) {
        if m.root != "/" {
            continue;
        }
        let dir = m.at.join(rel);
        if dirs.contains(&dir) {
            continue;
        }
        // Each missing level, outermost first; recorded so that exactly those are removed again.
        let mut missing = Vec::new();
        let mut cur = dir.clone();
        while !cur.exists() && cur.starts_with(&m.at) && cur != m.at {
            missing.push(cur.clone());
            if !cur.pop() {
                break;
            }
        }
        let cpuset = !m.v2 && m.controllers.iter().any(|c| c == "cpuset");
        let made = missing.iter().rev().all(|d| {
            let ok = std::fs::create_dir(d).is_ok() || d.is_dir();
            // A new v1 cpuset cgroup starts with no CPUs and no memory nodes: nothing could join it.
            if ok && cpuset {
                for f in ["cpuset.cpus", "cpuset.mems"] {
                    if let Some(v) = d
                        .parent()
                        .and_then(|p| std::fs::read_to_string(p.join(f)).ok())
                    {
                        let _ = write(&d.join(f), v.trim());
                    }
                }
            }
            ok
        });
        created.extend(missing);
        if made {
            dirs.push(dir);
        }
    }
    (dirs, created)
}

/// linux.resources.cpu at the container's cgroup in each CPU hierarchy: v1 `cpu.shares`, `cpu.cfs_period_us`,
/// `cpu.cfs_quota_us` and `cpuset.cpus`/`cpuset.mems`; v2 `cpu.weight`, `cpu.max`, `cpuset.cpus`/`cpuset.mems` where
/// those files exist (the controller is enabled). Returns what could not be written.
pub fn apply_cpu(dirs: &[PathBuf], cpu: &crate::oci::config::CpuLimits) -> Vec<String> {
    let mut notes = Vec::new();
    let mut put = |d: &Path, file: &str, v: String| {
        let f = d.join(file);
        if f.exists() {
            if let Err(e) = write(&f, &v) {
                notes.push(format!("{}: {e}", f.display()));
            }
        }
    };
    for d in dirs {
        if d.join("cpu.cfs_quota_us").exists() || d.join("cpu.shares").exists() {
            if let Some(s) = cpu.shares {
                put(d, "cpu.shares", s.to_string());
            }
            if let Some(p) = cpu.period {
                put(d, "cpu.cfs_period_us", p.to_string());
            }
            if let Some(q) = cpu.quota {
                put(d, "cpu.cfs_quota_us", q.to_string());
            }
        }
        if d.join("cpu.max").exists() {
            if let Some(s) = cpu.shares {
                // runc's conversion of shares [2, 262144] to weight [1, 10000].
                let w = 1 + (s.clamp(2, 262_144) - 2) * 9999 / 262_142;
                put(d, "cpu.weight", w.to_string());
            }
            if cpu.quota.is_some() || cpu.period.is_some() {
                let q = cpu
                    .quota
                    .filter(|q| *q > 0)
                    .map_or("max".to_string(), |q| q.to_string());
                put(
                    d,
                    "cpu.max",
                    format!("{q} {}", cpu.period.unwrap_or(100_000)),
                );
            }
        }
        let v1_mem = d.join("memory.limit_in_bytes").exists();
        for (v1, v2, v) in [
            ("memory.limit_in_bytes", "memory.max", cpu.memory),
            ("memory.soft_limit_in_bytes", "memory.low", cpu.reservation),
            ("pids.max", "pids.max", cpu.pids),
        ] {
            if let Some(v) = v {
                put(d, if v1_mem { v1 } else { v2 }, v.to_string());
            }
        }
        for (file, v) in [("cpuset.cpus", &cpu.cpus), ("cpuset.mems", &cpu.mems)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                put(d, file, v.to_string());
            }
        }
    }
    notes
}

/// Moves `pid` into each of `dirs` that no directory of `own` (the sandbox's budget cgroups, made below some of them)
/// lies in. Returns what could not be done.
pub fn join_container(dirs: &[PathBuf], own: &[PathBuf], pid: i32) -> Vec<String> {
    dirs.iter()
        .filter(|d| !own.iter().any(|o| o.starts_with(d)))
        .filter_map(|d| {
            write(&d.join("cgroup.procs"), &pid.to_string())
                .err()
                .map(|e| format!("join {}: {e}", d.display()))
        })
        .collect()
}

/// Empties and removes the cgroups below `dir` (deepest first; their processes are killed) and then `dir` itself:
/// what a supervisor that was killed could not remove.
pub fn remove_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    for _ in 0..50 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        let pids: Vec<i32> = procs
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if pids.is_empty() {
            break;
        }
        for p in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir(dir);
}

/// Removes directories `container_dirs` created (deepest first); a directory still in use stays.
pub fn remove_dirs(created: &[PathBuf]) {
    for d in created {
        let _ = std::fs::remove_dir(d);
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = |c: &u8| (b'0'..=b'7').contains(c);
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(octal) {
            let d = |k: usize| u32::from(b[i + k] - b'0');
            out.push(u8::try_from(d(1) * 64 + d(2) * 8 + d(3)).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// (hierarchy id, controllers, path) from /proc/self/cgroup.
fn own_cgroups(text: &str) -> Vec<(String, Vec<String>, String)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let id = it.next()?.to_string();
            let ctrl = it.next()?;
            let path = it.next()?.to_string();
            let ctrl = if ctrl.is_empty() {
                vec![]
            } else {
                ctrl.split(',').map(str::to_string).collect()
            };
            Some((id, ctrl, path))
        })
        .collect()
}

/// The directory of our own cgroup in hierarchy `m`.
fn own_dir(m: &CgMount, own: &[(String, Vec<String>, String)]) -> Option<PathBuf> {
    let path = own.iter().find_map(|(id, ctrl, path)| {
        let hit = if m.v2 {
            id == "0" && ctrl.is_empty()
        } else {
            ctrl.iter().any(|c| m.controllers.contains(c))
        };
        hit.then_some(path)
    })?;
    // A hierarchy mounted from a sub-cgroup (in a container) shows paths relative to its mount root.
    let rel = path.strip_prefix(m.root.as_str()).unwrap_or(path);
    Some(m.at.join(rel.trim_start_matches('/')))
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn write(p: &Path, v: &str) -> std::io::Result<()> {
    std::fs::write(p, v)
}

/// Removes `dir` once the kernel has freed its last task (it refuses with EBUSY until then), and first any
/// `capvisor-*` cgroup left inside it (a delegated child's, whose sentry was killed).
fn rmdir_patiently(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with("capvisor-") && e.path().is_dir() {
                rmdir_patiently(&e.path());
            }
        }
    }
    for _ in 0..100 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    tracing::warn!("could not remove cgroup {}", dir.display());
}

/// Removes `capvisor-<pid>-*` siblings whose sentry is gone and that hold no task.
fn sweep_stale(parent: &Path) {
    let Ok(rd) = std::fs::read_dir(parent) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("capvisor-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let procs = std::fs::read_to_string(e.path().join("cgroup.procs")).unwrap_or_default();
        if procs.trim().is_empty() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

impl Cgroup {
    /// Creates the sandbox's cgroups and sets the task and memory limits. Never fails: what could not be done is in
    /// `notes`, and the missing controller is `None`.
    pub fn create(tasks: Option<u64>, memory: Option<u64>) -> Self {
        Self::create_under(tasks, memory, &[])
    }

    /// `create`, but below `parents` where one lies in the same hierarchy (a delegated child inside its parent
    /// sandbox's cgroups, so that hierarchical limits charge it to the parent too).
    pub fn create_under(tasks: Option<u64>, memory: Option<u64>, parents: &[PathBuf]) -> Self {
        let mut cg = Cgroup::default();
        let pick = |m: &CgMount, own: Option<PathBuf>| -> Option<PathBuf> {
            parents
                .iter()
                .find(|p| p.starts_with(&m.at) && p.is_dir())
                .cloned()
                .or(own)
        };
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = own_cgroups(&std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default());
        let all = mounts(&mountinfo);
        let name = format!(
            "capvisor-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        if let Some(m) = all.iter().find(|m| m.v2) {
            if let Some(parent) = pick(m, own_dir(m, &own)) {
                cg.try_v2(&parent, &name, tasks, memory);
            }
        } else {
            cg.notes.push("no cgroup v2 mounted".into());
        }
        // What v2 could not do is only worth a note if v1 cannot do it either.
        let v2_notes = std::mem::take(&mut cg.notes);
        if cg.pids.is_none() || cg.memory.is_none() || cg.cpu.is_none() {
            for ctrl in ["pids", "memory", "cpuacct"] {
                let have = match ctrl {
                    "pids" => cg.pids.is_some(),
                    "memory" => cg.memory.is_some(),
                    _ => cg.cpu.is_some(),
                };
                if have {
                    continue;
                }
                let Some(m) = all
                    .iter()
                    .find(|m| !m.v2 && m.controllers.iter().any(|c| c == ctrl))
                else {
                    cg.notes.push(format!("no cgroup v1 {ctrl} hierarchy"));
                    continue;
                };
                let Some(parent) = pick(m, own_dir(m, &own)) else {
                    continue;
                };
                cg.try_v1(ctrl, &parent, &name, tasks, memory);
            }
        }
        if cg.pids.is_none() || cg.memory.is_none() {
            cg.notes.extend(v2_notes);
        }
        cg
    }

    fn try_v2(&mut self, parent: &Path, name: &str, tasks: Option<u64>, memory: Option<u64>) {
        sweep_stale(parent);
        let dir = parent.join(name);
        if let Err(e) = std::fs::create_dir(&dir) {
            self.notes.push(format!("cgroup v2 {}: {e}", dir.display()));
            return;
        }
        self.created.push(dir.clone());
        let avail =
            |d: &Path| std::fs::read_to_string(d.join("cgroup.controllers")).unwrap_or_default();
        let has = |s: &str, c: &str| s.split_whitespace().any(|x| x == c);
        let mut a = avail(&dir);
        if !(has(&a, "pids") && has(&a, "memory")) {
            // Ask the parent to enable them for its children: allowed when the parent holds no task itself (or is the
            // root). Only the controllers the parent has.
            let p = avail(parent);
            for c in ["pids", "memory", "cpu"] {
                if has(&p, c) {
                    let _ = write(&parent.join("cgroup.subtree_control"), &format!("+{c}"));
                }
            }
            a = avail(&dir);
        }
        // cpu.stat's usage is there with or without the cpu controller.
        if dir.join("cpu.stat").exists() {
            self.cpu = Some(Via::V2(dir.clone()));
        }
        if has(&a, "pids") {
            let v = tasks.map_or("max".to_string(), |n| n.to_string());
            match write(&dir.join("pids.max"), &v) {
                Ok(()) => self.pids = Some(Via::V2(dir.clone())),
                Err(e) => self.notes.push(format!("cgroup v2 pids.max: {e}")),
            }
        } else {
            self.notes.push(
                "cgroup v2: the pids controller is not enabled for the sentry's cgroup".into(),
            );
        }
        if has(&a, "memory") {
            let v = memory.map_or("max".to_string(), |n| n.to_string());
            match write(&dir.join("memory.max"), &v) {
                Ok(()) => {
                    // No swapping around the budget.
                    let _ = write(&dir.join("memory.swap.max"), "0");
                    self.memory = Some(Via::V2(dir.clone()));
                }
                Err(e) => self.notes.push(format!("cgroup v2 memory.max: {e}")),
            }
        } else {
            self.notes.push(
                "cgroup v2: the memory controller is not enabled for the sentry's cgroup".into(),
            );
        }
        if self.pids.is_none() && self.memory.is_none() {
            // Accounting alone is not worth a v2 cgroup when v1's cpuacct may be there.
            self.cpu = None;
            rmdir_patiently(&dir);
            self.created.retain(|d| d != &dir);
        }
    }

    fn try_v1(
        &mut self,
        ctrl: &str,
        parent: &Path,
        name: &str,
        tasks: Option<u64>,
        memory: Option<u64>,
    ) {
        sweep_stale(parent);
        let dir = parent.join(name);
        if let Err(e) = std::fs::create_dir(&dir) {
            self.notes
                .push(format!("cgroup v1 {ctrl} {}: {e}", dir.display()));
            return;
        }
        self.created.push(dir.clone());
        let ok = match ctrl {
            "pids" => {
                let v = tasks.map_or("max".to_string(), |n| n.to_string());
                write(&dir.join("pids.max"), &v).map(|()| self.pids = Some(Via::V1(dir.clone())))
            }
            "memory" => {
                let r = match memory {
                    Some(n) => {
                        write(&dir.join("memory.limit_in_bytes"), &n.to_string()).map(|()| {
                            // Memory plus swap at the same figure (when the kernel accounts swap): no swapping around
                            // the budget.
                            let _ = write(&dir.join("memory.memsw.limit_in_bytes"), &n.to_string());
                            let _ = write(&dir.join("memory.swappiness"), "0");
                        })
                    }
                    None => Ok(()),
                };
                r.map(|()| self.memory = Some(Via::V1(dir.clone())))
            }
            _ => {
                self.cpu = Some(Via::V1(dir.clone()));
                Ok(())
            }
        };
        if let Err(e) = ok {
            self.notes.push(format!("cgroup v1 {ctrl}: {e}"));
            rmdir_patiently(&dir);
            self.created.retain(|d| d != &dir);
        }
    }

    /// Moves `pid` (the sandbox init, before it starts anything) into every cgroup of the sandbox.
    pub fn attach(&mut self, pid: i32) {
        let dirs: Vec<PathBuf> = self.created.clone();
        for d in dirs {
            if let Err(e) = write(&d.join("cgroup.procs"), &pid.to_string()) {
                self.notes
                    .push(format!("move the sandbox into {}: {e}", d.display()));
                for slot in [&mut self.pids, &mut self.memory, &mut self.cpu] {
                    if slot.as_ref().is_some_and(|v| v.dir() == d) {
                        *slot = None;
                    }
                }
            }
        }
    }

    fn read(v: &Via, file: &str) -> Option<String> {
        std::fs::read_to_string(v.dir().join(file)).ok()
    }

    fn field(text: &str, key: &str) -> Option<u64> {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
    }

    /// Tasks now.
    pub fn tasks_current(&self) -> Option<u64> {
        let v = self.pids.as_ref()?;
        Self::read(v, "pids.current")?.trim().parse().ok()
    }

    /// How many forks the task budget refused so far.
    pub fn tasks_refused(&self) -> Option<u64> {
        let v = self.pids.as_ref()?;
        Self::field(&Self::read(v, "pids.events")?, "max")
    }

    /// Bytes in use now, and the peak.
    pub fn memory_usage(&self) -> Option<(u64, u64)> {
        let v = self.memory.as_ref()?;
        let num = |f: &str| Self::read(v, f).and_then(|s| s.trim().parse::<u64>().ok());
        match v {
            Via::V2(_) => {
                let cur = num("memory.current")?;
                Some((cur, num("memory.peak").unwrap_or(cur)))
            }
            Via::V1(_) => {
                let cur = num("memory.usage_in_bytes")?;
                Some((cur, num("memory.max_usage_in_bytes").unwrap_or(cur)))
            }
        }
    }

    /// Tasks the kernel's OOM killer killed in the sandbox so far.
    pub fn oom_kills(&self) -> Option<u64> {
        let v = self.memory.as_ref()?;
        match v {
            Via::V2(_) => Self::field(&Self::read(v, "memory.events")?, "oom_kill"),
            Via::V1(_) => Self::field(&Self::read(v, "memory.oom_control")?, "oom_kill"),
        }
    }

    /// CPU time used by the whole sandbox, in nanoseconds.
    pub fn cpu_ns(&self) -> Option<u64> {
        let v = self.cpu.as_ref()?;
        match v {
            Via::V2(_) => Self::field(&Self::read(v, "cpu.stat")?, "usage_usec").map(|u| u * 1000),
            Via::V1(_) => Self::read(v, "cpuacct.usage")?.trim().parse().ok(),
        }
    }

    /// The directories made for this sandbox (for tests and the record).
    pub fn dirs(&self) -> &[PathBuf] {
        &self.created
    }

    /// Removes the cgroups (they must be empty: call after the sandbox's last task is gone).
    pub fn remove(&mut self) {
        for d in self.created.drain(..) {
            rmdir_patiently(&d);
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 /sub /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn mounts_finds_v1_and_v2() {
        let m = mounts(MOUNTINFO);
        assert_eq!(m.len(), 4);
        assert!(m
            .iter()
            .any(|x| x.v2 && x.at == Path::new("/sys/fs/cgroup/unified")));
        assert!(m
            .iter()
            .any(|x| !x.v2 && x.controllers.iter().any(|c| c == "memory")));
    }

    #[test]
    fn own_dir_joins_relative_to_mount_root() {
        let m = mounts(MOUNTINFO);
        let own = own_cgroups("8:pids:/sub/a\n4:memory:/process_api/x\n0::/user.slice\n");
        let pids = m
            .iter()
            .find(|x| x.controllers.iter().any(|c| c == "pids"))
            .expect("pids");
        assert_eq!(
            own_dir(pids, &own),
            Some(PathBuf::from("/sys/fs/cgroup/pids/a"))
        );
        let mem = m
            .iter()
            .find(|x| x.controllers.iter().any(|c| c == "memory"))
            .expect("mem");
        assert_eq!(
            own_dir(mem, &own),
            Some(PathBuf::from("/sys/fs/cgroup/memory/process_api/x"))
        );
        let v2 = m.iter().find(|x| x.v2).expect("v2");
        assert_eq!(
            own_dir(v2, &own),
            Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice"))
        );
    }

    #[test]
    fn field_reads_key_value_files() {
        assert_eq!(
            Cgroup::field("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"),
            Some(3)
        );
        assert_eq!(Cgroup::field("max 12\n", "max"), Some(12));
    }

    #[test]
    fn unescape_octal() {
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}
