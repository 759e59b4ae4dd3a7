//! The runner survives cases that hang, crash, leave processes behind or fail, and reports each as such; the
//! closing line has the fixed format. With a built sentry, a small real subset runs under it too.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{conformance, probe, run_bounded, sentry, TempDir};
use serde_json::Value;

fn cell<'a>(report: &'a Value, case: &str, platform: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == case))
        .map(|c| &c["cells"][platform])
        .unwrap_or(&Value::Null)
}

#[test]
fn run_selftests_native_reports_hang_crash_leak_fail_and_continues() {
    let tmp = TempDir::new("selftest");
    let json = tmp.0.join("r.json");
    let out = run_bounded(
        Command::new(conformance())
            .args([
                "run",
                "--platform",
                "native",
                "--filter",
                "selftest.*",
                "--timeout",
                "3",
                "--json",
            ])
            .arg(&json)
            .arg("--probe")
            .arg(probe()),
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    assert_eq!(last, "1 passed, 0 failed, 4 skipped", "stdout:\n{stdout}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).expect("json written"))
        .expect("valid json");
    assert_eq!(cell(&r, "selftest.ok", "native")["verdict"], "ok");
    assert_eq!(
        cell(&r, "selftest.hang", "native")["reason"],
        "fails natively: timed out"
    );
    assert_eq!(
        cell(&r, "selftest.crash", "native")["reason"],
        "fails natively: crashed (signal 11)"
    );
    let leak = cell(&r, "selftest.leak", "native")["reason"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        leak.starts_with("fails natively: left ") && leak.ends_with(" process(es) behind"),
        "{leak}"
    );
    let fail = cell(&r, "selftest.fail", "native")["reason"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(fail.starts_with("fails natively: "), "{fail}");
}

#[test]
fn probe_refuses_sandbox_only_case_without_flag() {
    let tmp = TempDir::new("refuse");
    let out = run_bounded(
        Command::new(probe())
            .arg("denied.reboot")
            .current_dir(&tmp.0),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sandbox-only"));
}

#[test]
fn probe_case_output_is_one_json_line() {
    let tmp = TempDir::new("probe");
    let out = run_bounded(
        Command::new(probe())
            .arg("fs.open_creat_rw")
            .current_dir(&tmp.0),
        Duration::from_secs(10),
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1);
    let v: Value = serde_json::from_str(text.trim()).expect("json");
    assert_eq!(v["status"], "ok");
    assert_eq!(v["steps"]["data"], "hello");
}

#[test]
fn run_under_sentry_subset_and_selftests() {
    let Some(s) = sentry() else {
        eprintln!("no sentry built in this target directory: skipping the sandboxed part (cargo build -p sentry)");
        return;
    };
    let tmp = TempDir::new("sandboxed");
    let json = tmp.0.join("r.json");
    let out = run_bounded(
        Command::new(conformance())
            .args([
                "run",
                "--platform",
                "all",
                "--filter",
                "{selftest.*,time.*,denied.reboot}",
                "--timeout",
                "5",
                "--json",
            ])
            .arg(&json)
            .arg("--sentry")
            .arg(&s)
            .arg("--probe")
            .arg(probe()),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        last.ends_with(" skipped") && last.contains(" passed, ") && last.contains(" failed, "),
        "{stdout}"
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).expect("json written"))
        .expect("valid json");
    assert_eq!(
        cell(&r, "selftest.ok", "seccomp")["verdict"],
        "pass",
        "{stdout}"
    );
    // The ptrace platform runs the same cases (issue 6).
    assert_eq!(
        cell(&r, "selftest.ok", "ptrace")["verdict"],
        "pass",
        "{stdout}"
    );
    assert_eq!(
        cell(&r, "denied.reboot", "ptrace")["verdict"],
        "pass",
        "{stdout}"
    );
    assert_eq!(cell(&r, "denied.reboot", "native")["verdict"], "na");
    assert_eq!(
        cell(&r, "denied.reboot", "seccomp")["verdict"],
        "pass",
        "{stdout}"
    );
    assert_eq!(
        cell(&r, "time.nanosleep", "seccomp")["verdict"],
        "pass",
        "{stdout}"
    );
}

#[test]
fn denied_cases_cover_every_denied_and_guarded_syscall() {
    let Some(s) = sentry() else {
        eprintln!("no sentry built: skipping the table coverage check");
        return;
    };
    let out = run_bounded(
        Command::new(&s).args(["syscalls", "--json"]),
        Duration::from_secs(10),
    );
    let table =
        conformance::table::parse(&String::from_utf8_lossy(&out.stdout)).expect("table parses");
    let all = conformance::registry::all();
    for e in table
        .iter()
        .filter(|e| e.kind() == "denied" || e.kind() == "guarded")
    {
        let covered = all
            .iter()
            .any(|c| c.name.starts_with("denied.") && c.syscalls.first() == Some(&e.name.as_str()));
        assert!(
            covered,
            "no sandbox-only case for {} ({})",
            e.name, e.disposition
        );
    }
    for c in all.iter().filter(|c| c.name.starts_with("denied.")) {
        let sys = c.syscalls.first().copied().unwrap_or("");
        let entry = table.iter().find(|e| e.name == sys);
        assert!(
            entry.is_some_and(|e| e.errno().is_some()),
            "{} names {sys}, which the table does not deny",
            c.name
        );
        if let conformance::case::Body::Raw { nr, .. } = c.body {
            assert_eq!(entry.map(|e| e.nr), Some(nr), "{}: syscall number", c.name);
        }
    }
}
