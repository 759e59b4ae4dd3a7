//! Budgets, enforced: the kernel where it can (cgroup pids and memory limits, rlimits, the tmpfs size), the sentry's
//! own accounting where it cannot (wall time, CPU summed over the sandbox, bytes written to writable grants, and any
//! budget whose cgroup could not be made), and one typed `budget_exceeded` audit event per budget that runs out.
//!
//! What the agent sees is what Linux gives: fork/clone fail with EAGAIN at the task budget (pids cgroup); the OOM
//! killer kills inside the sandbox at the memory budget (memory cgroup); writes fail with ENOSPC when the private
//! tmpfs is full and new writes with EDQUOT once the disk budget is spent (the decision point refuses them); a process
//! gets SIGXCPU (then SIGKILL) at the CPU budget (RLIMIT_CPU), and the sentry stops the whole sandbox when the sum over
//! all its processes passes it; the sentry stops the sandbox at the wall-time budget.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::resource::Resource;
use nix::sys::signal::Signal;

use super::cgroup::Cgroup;
use crate::kernel::Kernel;
use crate::policy::limits::{show_bytes, Limits};

/// How often the sentry measures what the kernel does not enforce itself.
const TICK: Duration = Duration::from_millis(100);
/// CPU seconds past the budget before the sentry stops the sandbox: a single process gets the kernel's SIGXCPU
/// (RLIMIT_CPU) first, as on Linux.
const CPU_GRACE_S: u64 = 1;
/// Every how many ticks bytes written to writable grants are measured.
const DISK_EVERY: u64 = 5;

/// A sandbox's budgets, from before the clone to after the last task is gone.
#[derive(Debug)]
pub struct Budget {
    pub limits: Limits,
    cg: Cgroup,
    /// (resource, soft, hard) set on the agent before exec.
    pub rlimits: Vec<(Resource, u64, u64)>,
    /// Budget name → what enforces it.
    enforcement: BTreeMap<&'static str, String>,
    tmp: Option<OwnedFd>,
    root: bool,
    /// The child already has its rlimits: a late re-plan cannot add any.
    late: bool,
}

impl Budget {
    /// Before the clone: makes the cgroups and works out the rlimits.
    pub fn prepare(limits: &Limits) -> Self {
        Self::prepare_under(limits, &[])
    }

    /// `prepare`, with the cgroups made below `parents` (a delegated child's, below its parent sandbox's).
    pub fn prepare_under(limits: &Limits, parents: &[std::path::PathBuf]) -> Self {
        Self::prepare_with(limits, parents, false)
    }

    /// `prepare_under`; `always`: make the cgroups even when no budget needs them.
    pub fn prepare_with(limits: &Limits, parents: &[std::path::PathBuf], always: bool) -> Self {
        let root = nix::unistd::geteuid().is_root();
        let wants_cg =
            always || limits.tasks.is_some() || limits.memory.is_some() || limits.cpu.is_some();
        let cg = if wants_cg {
            // pids.max counts the sandbox init too: one more than the agent's budget.
            Cgroup::create_under(
                limits.tasks.map(|t| t.saturating_add(1)),
                limits.memory,
                parents,
            )
        } else {
            Cgroup::default()
        };
        let mut b = Self {
            limits: limits.clone(),
            cg,
            rlimits: vec![],
            enforcement: BTreeMap::new(),
            tmp: None,
            root,
            late: false,
        };
        b.plan();
        b
    }

    fn plan(&mut self) {
        let l = self.limits.clone();
        let mut e = BTreeMap::new();
        if let Some(t) = l.tasks {
            match &self.cg.pids {
                Some(v) => {
                    e.insert("tasks", format!("{} pids.max (EAGAIN)", v.name()));
                }
                None if !self.root && !self.late => {
                    // Per sandbox: the count is kept per user namespace, and the sandbox has its own.
                    self.rlimits.push((Resource::RLIMIT_NPROC, t, t));
                    e.insert(
                        "tasks",
                        "RLIMIT_NPROC in the sandbox's user namespace (EAGAIN); no cgroup".into(),
                    );
                }
                None => {
                    e.insert(
                        "tasks",
                        "sentry accounting: the sandbox is stopped above it (no pids cgroup; RLIMIT_NPROC does not bind root)".into(),
                    );
                }
            }
        }
        if l.memory.is_some() {
            e.insert(
                "memory",
                match &self.cg.memory {
                    Some(v) => format!("{} memory limit (OOM kill in the sandbox)", v.name()),
                    None => "sentry accounting of resident memory: the sandbox is stopped above it (no memory cgroup)".into(),
                },
            );
        }
        if let Some(c) = l.cpu {
            self.rlimits
                .push((Resource::RLIMIT_CPU, c, c.saturating_add(2)));
            e.insert(
                "cpu",
                format!(
                    "RLIMIT_CPU per process (SIGXCPU, then SIGKILL); the sandbox's total via {}, stopped {CPU_GRACE_S}s past it",
                    self.cg.cpu.as_ref().map_or("/proc accounting", |v| v.name())
                ),
            );
        }
        if l.wall.is_some() {
            e.insert("wall", "the sentry stops the sandbox".into());
        }
        if l.disk.is_some() {
            e.insert(
                "disk",
                "private tmpfs size (ENOSPC); bytes written to writable grants measured (/proc io): new writes refused with EDQUOT once spent, sandbox stopped at 125%".into(),
            );
        }
        if let Some(f) = l.files {
            self.rlimits.push((Resource::RLIMIT_NOFILE, f, f));
            e.insert("files", "RLIMIT_NOFILE per process (EMFILE)".into());
        }
        if l.egress.is_some() {
            e.insert(
                "egress",
                "recorded only: the sandbox has no network path out yet, so nothing can be sent"
                    .into(),
            );
        }
        self.enforcement = e;
    }

    /// The cgroup directories made for this sandbox.
    pub fn cgroup_dirs(&self) -> Vec<std::path::PathBuf> {
        self.cg.dirs().to_vec()
    }

    /// After the clone, before the sandbox starts anything: moves the sandbox init into the cgroups.
    pub fn attach(&mut self, init: i32) {
        if self.cg.dirs().is_empty() {
            return;
        }
        let had = (self.cg.pids.is_some(), self.cg.memory.is_some());
        self.cg.attach(init);
        if had != (self.cg.pids.is_some(), self.cg.memory.is_some()) {
            // A controller was lost on the way: say how the budget is enforced now (the child has its rlimits).
            let sent = std::mem::take(&mut self.rlimits);
            self.late = true;
            self.plan();
            self.rlimits = sent;
        }
    }

    /// The private tmpfs, to measure how much of it is used.
    pub fn watch_tmp(&mut self, fd: Option<OwnedFd>) {
        self.tmp = fd;
    }

    /// For the audit log's sandbox record and `policy explain`.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "limits": crate::policy::limits::NAMES.iter().map(|n| (n.to_string(), self.limits.show(n))).collect::<BTreeMap<_, _>>(),
            "enforcement": self.enforcement,
            "cgroups": self.cg.dirs(),
            "degraded": self.cg.notes,
        })
    }

    /// Starts measuring. `agent` is stopped (SIGKILL, which ends the sandbox) when a budget says so.
    pub fn start(self, k: Arc<Kernel>, init: i32, agent: Option<i32>) -> Monitor {
        let shared = Arc::new(State {
            budget: self,
            k,
            init,
            agent,
            started: Instant::now(),
            done: AtomicBool::new(false),
            ticks: std::sync::atomic::AtomicU64::new(0),
            last_write_bytes: std::sync::atomic::AtomicU64::new(0),
            exceeded: Mutex::new(BTreeMap::new()),
        });
        let s2 = Arc::clone(&shared);
        let needs_tick = {
            let l = &shared.budget.limits;
            l.tasks.is_some()
                || l.memory.is_some()
                || l.cpu.is_some()
                || l.wall.is_some()
                || l.disk.is_some()
        };
        let thread = if needs_tick {
            std::thread::Builder::new()
                .name("sentry-budget".into())
                .spawn(move || {
                    while !s2.done.load(Ordering::Relaxed) {
                        // Woken early by `finish`: the sandbox's end never waits for a tick.
                        std::thread::park_timeout(TICK);
                        if s2.done.load(Ordering::Relaxed) {
                            break;
                        }
                        s2.tick();
                    }
                })
                .ok()
        } else {
            None
        };
        Monitor { shared, thread }
    }
}

/// The running measurement.
#[derive(Debug)]
pub struct Monitor {
    shared: Arc<State>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct State {
    budget: Budget,
    k: Arc<Kernel>,
    init: i32,
    agent: Option<i32>,
    started: Instant,
    done: AtomicBool,
    /// Ticks so far (the /proc walk for bytes written runs every `DISK_EVERY` ticks).
    ticks: std::sync::atomic::AtomicU64,
    last_write_bytes: std::sync::atomic::AtomicU64,
    /// Budgets already reported, with what was done.
    exceeded: Mutex<BTreeMap<&'static str, &'static str>>,
}

/// Usage summed over the sandbox's processes, from /proc.
#[derive(Debug, Default)]
struct ProcUsage {
    tasks: u64,
    rss: u64,
    cpu_ticks: u64,
    write_bytes: u64,
}

/// Every process of the sandbox (host pids): the init and its descendants.
fn sandbox_pids(init: i32) -> Vec<i32> {
    let mut out = vec![init];
    let mut i = 0;
    while i < out.len() && out.len() < 1 << 16 {
        let pid = out[i];
        i += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            out.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
    }
    out
}

fn proc_usage(init: i32) -> ProcUsage {
    let mut u = ProcUsage::default();
    let page = 4096u64;
    for pid in sandbox_pids(init) {
        if let Some(f) = crate::sys::proc_stat(pid) {
            // utime..cstime are fields 14..17, num_threads 20, rss 24.
            let at = |n: usize| crate::sys::stat_field::<u64>(&f, n).unwrap_or(0);
            u.cpu_ticks += at(14) + at(15) + at(16) + at(17);
            u.tasks += at(20);
            u.rss += at(24) * page;
        }
        if let Ok(io) = std::fs::read_to_string(format!("/proc/{pid}/io")) {
            u.write_bytes += io_field(&io, "write_bytes:").unwrap_or(0);
        }
    }
    u
}

fn io_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok()))
}

impl State {
    /// Records a budget that ran out (once), and stops the sandbox when `stop`.
    fn exceeded(&self, resource: &'static str, limit: String, used: String, stop: bool) {
        let action = if stop {
            "sandbox stopped"
        } else {
            match resource {
                "tasks" => "refused (EAGAIN)",
                "memory" => "OOM kill in the sandbox",
                "disk" => "refused (ENOSPC, EDQUOT)",
                "cpu" => "spent (SIGXCPU to each process at its own limit; the sandbox is stopped 1s past it)",
                _ => "refused",
            }
        };
        let first = self
            .exceeded
            .lock()
            .map(|mut m| {
                let first = !m.contains_key(resource);
                let escalated = stop && m.get(resource) != Some(&"sandbox stopped");
                if first || escalated {
                    m.insert(resource, action);
                }
                first || escalated
            })
            .unwrap_or(true);
        if first {
            self.k
                .audit
                .budget_exceeded(resource, &limit, &used, action);
        }
        if stop {
            let target = self.agent.unwrap_or(self.init);
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(target), Signal::SIGKILL);
        }
    }

    fn tick(&self) {
        let l = &self.budget.limits;
        let cg = &self.budget.cg;
        if let Some(w) = l.wall {
            let used = self.started.elapsed().as_secs();
            if used >= w {
                self.exceeded("wall", format!("{w}s"), format!("{used}s"), true);
            }
        }
        let n = self.ticks.fetch_add(1, Ordering::Relaxed);
        // Bytes written to grants only need the walk every few ticks (it costs two reads per process); the
        // fallbacks for missing cgroups need it every tick.
        let need_proc = (l.tasks.is_some() && cg.pids.is_none())
            || (l.memory.is_some() && cg.memory.is_none())
            || (l.cpu.is_some() && cg.cpu.is_none())
            || (l.disk.is_some() && n.is_multiple_of(DISK_EVERY));
        let pu = if need_proc {
            proc_usage(self.init)
        } else {
            ProcUsage::default()
        };
        if let Some(t) = l.tasks {
            if cg.pids.is_some() {
                if cg.tasks_refused().unwrap_or(0) > 0 {
                    let used = cg.tasks_current().unwrap_or(t).saturating_sub(1);
                    self.exceeded("tasks", t.to_string(), used.to_string(), false);
                }
            } else {
                // No cgroup: RLIMIT_NPROC refuses for a user (the count reaches the budget and stays there);
                // otherwise only stopping bounds it.
                let nproc = self
                    .budget
                    .rlimits
                    .iter()
                    .any(|(r, _, _)| *r == Resource::RLIMIT_NPROC);
                if (nproc && pu.tasks >= t) || pu.tasks > t {
                    self.exceeded("tasks", t.to_string(), pu.tasks.to_string(), !nproc);
                }
            }
        }
        if let Some(m) = l.memory {
            if cg.memory.is_some() {
                if cg.oom_kills().unwrap_or(0) > 0 {
                    let peak = cg.memory_usage().map_or(m, |(_, p)| p);
                    self.exceeded("memory", show_bytes(m), show_bytes(peak), false);
                }
            } else if pu.rss > m {
                self.exceeded("memory", show_bytes(m), show_bytes(pu.rss), true);
            }
        }
        if let Some(c) = l.cpu {
            let ns = cg
                .cpu_ns()
                .unwrap_or_else(|| pu.cpu_ticks.saturating_mul(1_000_000_000) / ticks_per_sec());
            let secs = ns / 1_000_000_000;
            if secs >= c {
                let stop = secs >= c + CPU_GRACE_S;
                self.exceeded(
                    "cpu",
                    format!("{c}s"),
                    format!("{:.2}s", ns as f64 / 1e9),
                    stop,
                );
            }
        }
        if let Some(d) = l.disk {
            let (tmp_used, tmp_full) = self
                .budget
                .tmp
                .as_ref()
                .and_then(|fd| nix::sys::statvfs::fstatvfs(fd.as_fd()).ok())
                .map(|s| {
                    let used = (s.blocks() - s.blocks_free()) * s.fragment_size();
                    (used, s.blocks_available() == 0)
                })
                .unwrap_or((0, false));
            // Between walks, the last measurement of the grants stands.
            let grants = if need_proc {
                self.last_write_bytes
                    .store(pu.write_bytes, Ordering::Relaxed);
                pu.write_bytes
            } else {
                self.last_write_bytes.load(Ordering::Relaxed)
            };
            let used = tmp_used + grants;
            if used >= d || tmp_full {
                self.k.policy.controls.usage.set_disk_exhausted();
                let hard = used >= d + d / 4 + (1 << 20);
                self.exceeded("disk", show_bytes(d), show_bytes(used), hard);
            }
        }
    }
}

fn ticks_per_sec() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0)
        .unwrap_or(100)
}

impl Monitor {
    /// The sandbox is over (`status` is the agent's wait status): last measurement, the CPU signal check, and the
    /// cgroups removed.
    pub fn finish(mut self, status: i32) {
        self.shared.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        let s = &self.shared;
        // Counters that moved since the last tick (an OOM kill just before the end).
        let cg = &s.budget.cg;
        let l = &s.budget.limits;
        if let (Some(m), Some(_)) = (l.memory, &cg.memory) {
            if cg.oom_kills().unwrap_or(0) > 0 {
                let peak = cg.memory_usage().map_or(m, |(_, p)| p);
                s.exceeded("memory", show_bytes(m), show_bytes(peak), false);
            }
        }
        if let (Some(t), Some(_)) = (l.tasks, &cg.pids) {
            if cg.tasks_refused().unwrap_or(0) > 0 {
                s.exceeded("tasks", t.to_string(), t.to_string(), false);
            }
        }
        if let Some(c) = l.cpu {
            if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGXCPU {
                // The kernel's own count (RLIMIT_CPU) said so; the cgroup's may lag behind it.
                let ns = cg
                    .cpu_ns()
                    .unwrap_or(0)
                    .max(c.saturating_mul(1_000_000_000));
                s.exceeded(
                    "cpu",
                    format!("{c}s"),
                    format!("{:.2}s", ns as f64 / 1e9),
                    false,
                );
            }
        }
        drop(self);
    }
}
