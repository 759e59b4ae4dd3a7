//! Delegation, judged from outside: a child sandbox asked for from inside a sandbox gets only the intersection of
//! what it asks with what its parent has, cannot raise its budgets, appears in the audit log with its lineage, and
//! `sentry exec` run inside a sandbox delegates by itself and is narrower than its parent.

mod common;

use std::path::Path;

use common::{run_sandboxed, TempDir};
use serde_json::Value;

fn records(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad audit line {l:?}: {e}")))
        .collect()
}

/// The directory of the sentry binary: granted read+exec so the agent can run `sentry exec` inside.
fn bin_dir() -> String {
    common::sentry_bin()
        .parent()
        .expect("binary directory")
        .to_str()
        .expect("ascii")
        .to_string()
}

/// A raw client of the delegation endpoint (what `sentry exec` does inside a sandbox), asking for grants of its own
/// choosing: argv[1] = JSON list of grants, argv[2] = JSON of limits, rest = the command.
const RAW_CLIENT: &str = r#"
import socket, json, os, sys, array
grants = json.loads(sys.argv[1]); limits = json.loads(sys.argv[2]); argv = sys.argv[3:]
assert os.environ["SENTRY_SOCKET"] == "@capvisor"
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect("\0capvisor")
req = {"type": "exec", "argv": argv, "env": [["PATH", "/usr/bin:/bin"]], "cwd": os.getcwd(),
       "grants": grants, "deny": [], "limits": limits}
s.sendmsg([json.dumps(req).encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
while True:
    m = json.loads(s.recv(65536))
    print("reply", json.dumps(m), file=sys.stderr, flush=True)
    if m["type"] in ("exited", "error"):
        sys.exit(m.get("code", 99))
"#;

fn grant(path: &str, w: bool, x: bool) -> Value {
    serde_json::json!({"path": path, "read": true, "write": w, "exec": x})
}

#[test]
fn delegation_child_gets_only_intersection_of_grants() {
    let ws = TempDir::new("deleg-ws");
    // A host directory the parent is NOT granted, with a file in it.
    let outside = TempDir::new_in(Path::new("/var/tmp"), "deleg-outside");
    outside.write("secret.txt", "outside-the-parent\n");
    let audit = ws.join("audit.jsonl");
    let system = ["/usr", "/bin", "/lib", "/lib64"];
    let mut asked: Vec<Value> = system.iter().map(|p| grant(p, false, true)).collect();
    asked.push(grant(outside.str(), true, true)); // the parent lacks it entirely
    asked.push(grant("/etc", true, true)); // the parent has it read-only
    asked.push(grant(ws.str(), true, true));
    let script = format!(
        "cat {}/secret.txt; echo cat=$?; touch /etc/capvisor-deleg-probe; echo touch=$?; echo ok > {}/child-wrote; echo write=$?",
        outside.str(),
        ws.str()
    );
    let asked_s = Value::Array(asked).to_string();
    let out = run_sandboxed(
        &["--audit", audit.to_str().expect("ascii")],
        &[
            "/usr/bin/python3",
            "-c",
            RAW_CLIENT,
            &asked_s,
            "{}",
            "/bin/sh",
            "-c",
            &script,
        ],
        ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(
        !out.all().contains("outside-the-parent"),
        "the child read a file its parent cannot\n{out}"
    );
    assert!(out.stdout.contains("cat=1"), "{out}");
    assert!(!out.stdout.contains("touch=0"), "{out}");
    assert!(!Path::new("/etc/capvisor-deleg-probe").exists());
    // What both have (the workspace, rw) works.
    assert!(out.stdout.contains("write=0"), "{out}");
    assert!(ws.join("child-wrote").exists());

    let recs = records(&audit);
    let d = recs
        .iter()
        .find(|r| r["kind"] == "delegation")
        .unwrap_or_else(|| panic!("no delegation record: {recs:#?}"));
    let given = d["given"]["grants"].as_array().expect("given grants");
    assert!(
        !given.iter().any(|g| g["path"] == outside.str()),
        "given a grant the parent lacks: {given:#?}"
    );
    let etc = given
        .iter()
        .find(|g| g["path"] == "/etc")
        .expect("/etc given");
    assert_eq!(
        (etc["write"].as_bool(), etc["exec"].as_bool()),
        (Some(false), Some(false))
    );
    assert!(d["asked"]["grants"]
        .as_array()
        .is_some_and(|a| a.iter().any(|g| g["path"] == outside.str())));
    // The child ran as its own sandbox, and says whose child it is.
    let parent_id = d["parent"].as_str().expect("parent id");
    let child_id = d["child"].as_str().expect("child id");
    assert!(recs.iter().any(|r| r["kind"] == "sandbox_start"
        && r["sandbox"] == child_id
        && r["parent"] == parent_id));
}

#[test]
fn delegation_nested_sentry_exec_is_narrower_and_cannot_raise_budgets() {
    let ws = TempDir::new("deleg-nested");
    ws.write("top.txt", "top\n");
    ws.write("sub/inner.txt", "inner\n");
    let audit = ws.join("audit.jsonl");
    let bin = common::sentry_bin();
    // Inside: a nested `sentry exec` from ws/sub (its default policy grants "." = ws/sub), asking for 1000 tasks.
    // The fork loop is bounded (60 tries) whatever happens.
    let script = format!(
        "cd sub && {} exec --limit tasks=1000 -- /usr/bin/python3 -c '{}'; echo nested=$?",
        bin.display(),
        "import os,time\nprint(open(\"inner.txt\").read().strip())\ntry:\n    open(\"../top.txt\")\nexcept OSError as e:\n    print(\"top\", e.strerror)\nn=0\ntry:\n    while n < 60:\n        if os.fork() == 0:\n            time.sleep(5); os._exit(0)\n        n += 1\nexcept OSError as e:\n    print(\"forks\", n, e.strerror)\n"
    );
    let bd = bin_dir();
    let out = run_sandboxed(
        &[
            "--audit",
            audit.to_str().expect("ascii"),
            "--ro",
            &bd,
            "--limit",
            "tasks=24",
        ],
        &["/bin/sh", "-c", &script],
        ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("inner"), "{out}");
    assert!(
        out.stdout.contains("top No such file or directory"),
        "the nested sandbox saw its parent's files\n{out}"
    );
    assert!(out.stdout.contains("nested=0"), "{out}");
    // The child's forks stop within the parent's budget of 24 (it asked for 1000; its cgroup is inside the parent's).
    let forks: u32 = out
        .stdout
        .split("forks ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the child's fork loop was never refused\n{out}"));
    assert!(
        forks < 24,
        "{forks} forks in a child of a parent with 24 tasks\n{out}"
    );

    let recs = records(&audit);
    let d = recs
        .iter()
        .find(|r| r["kind"] == "delegation")
        .unwrap_or_else(|| panic!("no delegation record: {recs:#?}"));
    assert_eq!(d["asked"]["limits"]["tasks"], "1000");
    assert_eq!(d["given"]["limits"]["tasks"], "24");
    let child_id = d["child"].as_str().expect("child");
    let child_start = recs
        .iter()
        .find(|r| r["kind"] == "sandbox_start" && r["sandbox"] == child_id)
        .expect("the child's sandbox_start");
    assert_eq!(child_start["budgets"]["limits"]["tasks"], "24");
    // Narrower: the child's writable grant is the subdirectory, not the parent's workspace.
    let grants: Vec<&str> = child_start["grants"]
        .as_array()
        .expect("grants")
        .iter()
        .filter_map(|g| g.as_str())
        .collect();
    assert!(
        grants
            .iter()
            .any(|g| g.starts_with("rwx") && g.ends_with("/sub")),
        "{grants:?}"
    );
    assert!(
        !grants.iter().any(|g| g == &format!("rwx {}", ws.str())),
        "{grants:?}"
    );
    // The child's cgroups sat inside the parent's and are gone.
    for c in child_start["budgets"]["cgroups"]
        .as_array()
        .expect("cgroups")
    {
        let p = Path::new(c.as_str().expect("path"));
        assert!(p.parent().is_some_and(|pp| pp
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("capvisor-"))));
        assert!(!p.exists(), "{} left behind", p.display());
    }
}

#[test]
fn delegation_policy_within_check_refuses_wider_child() {
    // What a parent's sentry passes to a child, checked again by the child after its policy is resolved.
    let ws = TempDir::new("deleg-within");
    let out = common::run_sentry(
        &[
            "exec",
            "--parent",
            "sb-test",
            "--within",
            &format!("r--:{}", ws.str()),
            "--no-default",
            "--rw",
            ws.str(),
            "--",
            "/bin/true",
        ],
        ws.path(),
    );
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("wider than the parent"), "{out}");
}

#[test]
fn delegation_child_ends_with_its_parent() {
    let ws = TempDir::new("deleg-end");
    let audit = ws.join("audit.jsonl");
    let marker = "31.4159";
    // The agent starts a child sandbox in the background and exits at once: the child must not outlive it.
    let script = format!(
        "{} exec -- /bin/sleep {marker} & sleep 1; exit 0",
        common::sentry_bin().display()
    );
    let bd = bin_dir();
    let t = std::time::Instant::now();
    let out = run_sandboxed(
        &["--audit", audit.to_str().expect("ascii"), "--ro", &bd],
        &["/bin/sh", "-c", &script],
        ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    println!("parent and child gone after {:?}", t.elapsed());
    let alive = || {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .any(|c| String::from_utf8_lossy(&c).contains(marker))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!alive(), "the child sandbox outlived its parent");
    let recs = records(&audit);
    let d = recs
        .iter()
        .find(|r| r["kind"] == "delegation")
        .unwrap_or_else(|| panic!("no delegation: {recs:#?}"));
    let child = d["child"].as_str().expect("child");
    let start = recs
        .iter()
        .find(|r| r["kind"] == "sandbox_start" && r["sandbox"] == child)
        .expect("child start");
    for c in start["budgets"]["cgroups"].as_array().expect("cgroups") {
        let p = Path::new(c.as_str().expect("path"));
        assert!(!p.exists(), "{} left behind", p.display());
    }
}

#[test]
fn delegation_no_endpoint_in_host_network_namespace() {
    // With --net host the sandbox shares the host's abstract socket namespace: no endpoint is bound or announced
    // there (any host process could reach it). Watched from the host while the sandbox runs.
    let ws = TempDir::new("deleg-hostnet");
    let mut c = common::sandbox_command(
        &["--net", "host"],
        &[
            "/bin/sh",
            "-c",
            "echo socket=${SENTRY_SOCKET:-none}; sleep 2",
        ],
        ws.path(),
    );
    c.stdout(std::process::Stdio::piped());
    let child = c.spawn().expect("spawn");
    let bound = || {
        std::fs::read_to_string("/proc/net/unix")
            .unwrap_or_default()
            .lines()
            .any(|l| l.ends_with(" @capvisor"))
    };
    let mut seen = false;
    for _ in 0..30 {
        seen |= bound();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("socket=none"), "{stdout}");
    assert!(
        !seen,
        "an endpoint was bound in the host's network namespace"
    );
}
