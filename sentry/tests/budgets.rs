//! Budgets, judged from outside: each bomb runs under the real sentry with a low budget, and the test checks what the
//! program saw (EAGAIN, the OOM kill, ENOSPC/EDQUOT, SIGXCPU, the stop), the typed `budget_exceeded` audit record, that
//! the sandbox's cgroups are gone afterwards, and, from the host, that a trivial command still completes while the
//! bomb runs (the time is printed, not asserted: this machine is shared and noisy).
//!
//! Every bomb is bounded on its own as well (a fixed number of iterations or seconds), so a budget that failed to
//! apply still cannot harm the machine; every run has the common time limit.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{run_command, run_sentry, sandbox_command, Output, TempDir, RUN_TIMEOUT};
use serde_json::Value;

fn records(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad audit line {l:?}: {e}")))
        .collect()
}

fn exceeded<'a>(recs: &'a [Value], resource: &str) -> Vec<&'a Value> {
    recs.iter()
        .filter(|r| r["kind"] == "budget_exceeded" && r["resource"] == resource)
        .collect()
}

/// The cgroup directories the sandbox record says were made: each must be gone once the sentry has exited.
fn assert_cgroups_removed(recs: &[Value]) -> Vec<PathBuf> {
    let start = recs
        .iter()
        .find(|r| r["kind"] == "sandbox_start")
        .expect("a sandbox_start record");
    let dirs: Vec<PathBuf> = start["budgets"]["cgroups"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default();
    for d in &dirs {
        assert!(!d.exists(), "cgroup {} left behind", d.display());
    }
    dirs
}

/// Host-side responsiveness: runs `/bin/true` over and over until told to stop; returns (runs, slowest).
struct Probe {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u32, Duration)>,
}

impl Probe {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut n, mut worst) = (0u32, Duration::ZERO);
            // Give the bomb a moment to get going.
            std::thread::sleep(Duration::from_millis(100));
            while !s2.load(Ordering::Relaxed) && n < 400 {
                let t = Instant::now();
                let st = std::process::Command::new("/bin/true")
                    .status()
                    .expect("run /bin/true on the host");
                assert!(st.success(), "/bin/true failed on the host");
                worst = worst.max(t.elapsed());
                n += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            (n, worst)
        });
        Self { stop, thread }
    }

    fn finish(self, what: &str) {
        self.stop.store(true, Ordering::Relaxed);
        let (n, worst) = self.thread.join().expect("probe thread");
        println!("host probe during {what}: /bin/true ran {n} times, slowest {worst:?}");
        assert!(n > 0, "the host probe never completed a run during {what}");
    }
}

/// Runs `sentry exec ARGS --audit FILE -- CMD` with the host probe running alongside.
fn bomb(label: &str, args: &[&str], cmd: &[&str]) -> (Output, Vec<Value>, TempDir) {
    let ws = TempDir::new(label);
    let audit = ws.join("audit.jsonl");
    let audit_s = audit.to_str().expect("ascii").to_string();
    let mut all: Vec<&str> = vec!["--audit", &audit_s];
    all.extend_from_slice(args);
    let probe = Probe::start();
    let out = run_command(sandbox_command(&all, cmd, ws.path()), RUN_TIMEOUT);
    probe.finish(label);
    common::assert_no_panic(&out, label);
    let recs = records(&audit);
    (out, recs, ws)
}

const FORK_BOMB: &str = r#"
import os, time, errno
kids, refused, first = 0, 0, None
end = time.time() + 3
while time.time() < end and kids < 2000:
    try:
        pid = os.fork()
    except OSError as e:
        refused += 1
        first = first or errno.errorcode[e.errno]
        time.sleep(0.01)
        continue
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    kids += 1
print(f"kids={kids} refused={refused} errno={first}", flush=True)
"#;

#[test]
fn budgets_fork_bomb_stops_at_task_budget() {
    let (out, recs, _ws) = bomb(
        "forkbomb",
        &["--limit", "tasks=32"],
        &["/usr/bin/python3", "-c", FORK_BOMB],
    );
    assert_eq!(out.code, 0, "{out}");
    let kids: u32 = out
        .stdout
        .split_whitespace()
        .find_map(|w| w.strip_prefix("kids="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no kids= in\n{out}"));
    // The agent itself is one of the 32 tasks.
    assert!(
        kids <= 31,
        "{kids} children under a budget of 32 tasks\n{out}"
    );
    assert!(
        out.stdout.contains("errno=EAGAIN"),
        "fork was not refused with EAGAIN\n{out}"
    );
    let ev = exceeded(&recs, "tasks");
    assert_eq!(ev.len(), 1, "one budget_exceeded tasks record: {recs:#?}");
    assert_eq!(ev[0]["limit"], "32");
    assert!(ev[0]["used"].is_string());
    assert!(out.stderr.contains("budget exceeded: tasks"), "{out}");
    assert_cgroups_removed(&recs);
}

const MEMORY_BOMB: &str = r#"
import time
chunks = []
for i in range(256):          # at most 1 GiB, whatever happens; 4 MiB every 10 ms
    chunks.append(bytearray(4 * 1024 * 1024))
    time.sleep(0.01)
print("survived", flush=True)
"#;

#[test]
fn budgets_memory_bomb_stopped_at_memory_budget() {
    let (out, recs, _ws) = bomb(
        "membomb",
        &["--limit", "memory=128M"],
        &["/usr/bin/python3", "-c", MEMORY_BOMB],
    );
    assert!(
        !out.stdout.contains("survived"),
        "allocated 1 GiB under a 128M budget\n{out}"
    );
    // The OOM killer's SIGKILL (or, if the allocator saw the refusal first, Python's MemoryError).
    assert!(
        out.code == 137 || out.stderr.contains("MemoryError"),
        "neither OOM-killed nor MemoryError\n{out}"
    );
    let ev = exceeded(&recs, "memory");
    assert_eq!(ev.len(), 1, "one budget_exceeded memory record: {recs:#?}");
    assert_eq!(ev[0]["limit"], "128M");
    assert_cgroups_removed(&recs);
}

#[test]
fn budgets_disk_fill_gets_enospc_then_edquot() {
    let ws_probe = TempDir::new("disk-host");
    let host_file = ws_probe.join("after-budget");
    let script = format!(
        "dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1; echo dd=$?; sleep 0.5; \
         echo data > {}; echo write=$?",
        host_file.display()
    );
    let (out, recs, _ws) = bomb(
        "diskfill",
        &["--limit", "disk=16M", "--rw", ws_probe.str()],
        &["/bin/sh", "-c", &script],
    );
    assert!(out.stdout.contains("No space left on device"), "{out}");
    assert!(out.stdout.contains("dd=1"), "{out}");
    // Once spent, a new file in a writable grant is refused: nothing appears on the host.
    assert!(out.stderr.contains("Disk quota exceeded"), "{out}");
    assert!(
        !host_file.exists(),
        "a file was created after the disk budget was spent"
    );
    let ev = exceeded(&recs, "disk");
    assert_eq!(ev.len(), 1, "one budget_exceeded disk record: {recs:#?}");
    assert_eq!(ev[0]["limit"], "16M");
    // The refusal itself is audited with the budget as its rule.
    assert!(
        recs.iter().any(|r| r["kind"] == "syscall"
            && r["errno"] == "EDQUOT"
            && r["rule"] == "budget disk exhausted"),
        "no EDQUOT syscall record"
    );
}

#[test]
fn budgets_cpu_spinner_stopped_at_cpu_budget() {
    let (out, recs, _ws) = bomb(
        "cpuspin",
        &["--limit", "cpu=2"],
        // At most 60 s of spinning, whatever happens.
        &[
            "/usr/bin/python3",
            "-c",
            "import time\nend=time.time()+60\nwhile time.time()<end: pass\nprint('survived')",
        ],
    );
    assert!(!out.stdout.contains("survived"), "{out}");
    assert_eq!(
        out.code,
        128 + libc::SIGXCPU,
        "not killed by SIGXCPU\n{out}"
    );
    let ev = exceeded(&recs, "cpu");
    assert!(!ev.is_empty(), "no budget_exceeded cpu record: {recs:#?}");
    assert_eq!(ev[0]["limit"], "2s");
    assert_cgroups_removed(&recs);
}

#[test]
fn budgets_cpu_spread_over_processes_stops_sandbox() {
    // Three spinners, each under its own RLIMIT_CPU: only the sandbox-wide total catches them.
    let (out, recs, _ws) = bomb(
        "cpuspread",
        &["--limit", "cpu=2"],
        &[
            "/bin/sh",
            "-c",
            "for i in 1 2 3; do timeout 60 /bin/sh -c 'while :; do :; done' & done; wait; echo survived",
        ],
    );
    assert!(!out.stdout.contains("survived"), "{out}");
    assert_eq!(out.code, 137, "{out}");
    let ev = exceeded(&recs, "cpu");
    assert!(
        ev.iter().any(|e| e["action"] == "sandbox stopped"),
        "no stop record: {recs:#?}"
    );
}

#[test]
fn budgets_wall_time_stops_sandbox() {
    let t = Instant::now();
    let (out, recs, _ws) = bomb("wall", &["--limit", "wall=2"], &["/bin/sleep", "60"]);
    println!("stopped after {:?}", t.elapsed());
    assert_eq!(out.code, 137, "{out}");
    let ev = exceeded(&recs, "wall");
    assert_eq!(ev.len(), 1, "{recs:#?}");
    assert_eq!(ev[0]["action"], "sandbox stopped");
}

#[test]
fn budgets_malformed_limit_names_file_line_key() {
    let ws = TempDir::new("badlimit");
    ws.write("p.toml", "[limits]\ntasks = 10\nmemory = \"lots\"\n");
    let out = run_sentry(&["policy", "explain", "--policy", "p.toml"], ws.path());
    assert_eq!(out.code, 3, "{out}");
    for want in ["p.toml", "line 3", "memory"] {
        assert!(out.stderr.contains(want), "missing {want:?}\n{out}");
    }
    let out = run_sentry(&["policy", "explain", "--limit", "bogus=1"], ws.path());
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("bogus"), "{out}");
    ws.write("q.toml", "[limits]\ntaks = 10\n");
    let out = run_sentry(&["policy", "explain", "--policy", "q.toml"], ws.path());
    assert_eq!(out.code, 3, "{out}");
    assert!(
        out.stderr.contains("line 2") && out.stderr.contains("taks"),
        "{out}"
    );
}

#[test]
fn budgets_files_limit_is_rlimit_nofile() {
    let ws = TempDir::new("nofile");
    let out = common::run_sandboxed(
        &["--limit", "files=64"],
        &["/bin/sh", "-c", "ulimit -n; ulimit -Hn"],
        ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "64\n64\n", "{out}");
}

#[test]
fn budgets_unprivileged_degrades_to_rlimits_and_says_so() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: needs root to run the sentry as an unprivileged user");
        return;
    }
    // A workspace and a copy of the binary that the unprivileged user can reach.
    let ws = TempDir::new("unpriv");
    let nobody = 65534;
    nix::unistd::chown(ws.path(), Some(nobody.into()), Some(nobody.into())).expect("chown");
    let bin = ws.join("sentry");
    std::fs::copy(common::sentry_bin(), &bin).expect("copy sentry");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let audit = ws.join("audit.jsonl");
    let mut c = common::command(&bin, ws.path());
    c.uid(nobody).gid(nobody);
    c.args(common::exec_args());
    c.args([
        "--audit",
        audit.to_str().expect("ascii"),
        "--limit",
        "tasks=16",
        "--",
    ])
    .args(["/usr/bin/python3", "-c", FORK_BOMB]);
    let out = run_command(c, RUN_TIMEOUT);
    if out.stderr.contains("user namespaces") {
        println!("skipped: unprivileged user namespaces are not available here\n{out}");
        return;
    }
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("errno=EAGAIN"), "{out}");
    let recs = records(&audit);
    let start = recs
        .iter()
        .find(|r| r["kind"] == "sandbox_start")
        .expect("sandbox_start");
    let b = &start["budgets"];
    // Either a delegated cgroup was writable, or the record says what enforces the budget instead.
    if b["cgroups"].as_array().is_some_and(Vec::is_empty) {
        assert!(
            b["enforcement"]["tasks"]
                .as_str()
                .is_some_and(|s| s.contains("RLIMIT_NPROC")),
            "{b:#}"
        );
        assert!(
            !b["degraded"].as_array().is_some_and(Vec::is_empty),
            "{b:#}"
        );
    }
    assert_eq!(exceeded(&recs, "tasks").len(), 1, "{recs:#?}");

    // Memory without a cgroup: the sentry's own accounting stops the sandbox (it may overshoot by one tick).
    let audit2 = ws.join("audit2.jsonl");
    let mut c = common::command(&bin, ws.path());
    c.uid(nobody).gid(nobody);
    c.args(common::exec_args());
    c.args([
        "--audit",
        audit2.to_str().expect("ascii"),
        "--limit",
        "memory=128M",
        "--",
    ])
    .args(["/usr/bin/python3", "-c", MEMORY_BOMB]);
    let out = run_command(c, RUN_TIMEOUT);
    assert!(!out.stdout.contains("survived"), "{out}");
    let recs = records(&audit2);
    let start = recs
        .iter()
        .find(|r| r["kind"] == "sandbox_start")
        .expect("sandbox_start");
    if start["budgets"]["cgroups"]
        .as_array()
        .is_some_and(Vec::is_empty)
    {
        assert_eq!(out.code, 137, "{out}");
        let ev = exceeded(&recs, "memory");
        assert_eq!(ev.len(), 1, "{recs:#?}");
        assert_eq!(ev[0]["action"], "sandbox stopped");
    }
}

#[test]
fn budgets_policy_explain_lists_budgets_and_approval_mode() {
    let ws = TempDir::new("explain");
    ws.write(
        "p.toml",
        "[limits]\nmemory = \"256M\"\n[approval]\nmode = \"ask\"\ntimeout = \"5s\"\n",
    );
    let out = run_sentry(
        &[
            "policy", "explain", "--policy", "p.toml", "--limit", "tasks=77",
        ],
        ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    let text = &out.stdout;
    assert!(text.contains("Budgets"), "{out}");
    assert!(
        text.contains("tasks   77") && text.contains("(--limit)"),
        "{out}"
    );
    assert!(
        text.contains("memory  256M") && text.contains("p.toml"),
        "{out}"
    );
    assert!(
        text.contains("On a request the policy does not grant: ask"),
        "{out}"
    );
    assert!(text.contains("within 5s"), "{out}");
    // Grants are still there, beside them.
    assert!(text.contains("Grants"), "{out}");
}
