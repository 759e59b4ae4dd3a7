//! `conformance external` on test programs this crate builds itself (external-demo/*.c, compiled with gcc here):
//! LTP exit codes and gtest summary lines are understood, a native failure is skipped, a hang is killed, and a
//! difference under the sentry is reported. These test the runner, not the kernel.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{conformance, run_bounded, sentry, TempDir};
use serde_json::Value;

fn compile(src: &str, out: &Path) -> bool {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("external-demo")
        .join(src);
    let r = run_bounded(
        Command::new("gcc")
            .args(["-O1", "-Wall", "-o"])
            .arg(out)
            .arg(&src),
        Duration::from_secs(60),
    );
    r.status.success()
}

fn verdict<'a>(r: &'a Value, name_suffix: &str, platform: &str) -> &'a Value {
    r["tests"]
        .as_array()
        .and_then(|t| {
            t.iter()
                .find(|x| x["name"].as_str().is_some_and(|n| n.ends_with(name_suffix)))
        })
        .map(|x| &x["cells"][platform])
        .unwrap_or(&Value::Null)
}

fn external(format: &str, list: &Path, json: &Path, sentry: Option<&PathBuf>) -> (String, Value) {
    let mut cmd = Command::new(conformance());
    cmd.args(["external", "--format", format, "--timeout", "3", "--list"])
        .arg(list)
        .arg("--json")
        .arg(json);
    match sentry {
        Some(s) => cmd.args(["--platform", "seccomp", "--sentry"]).arg(s),
        None => cmd.args(["--platform", "native"]),
    };
    let out = run_bounded(&mut cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(json).expect("json written")).expect("json");
    (stdout, v)
}

#[test]
fn external_ltp_and_gtest_demos_native_and_sandboxed() {
    let tmp = TempDir::new("external");
    let ltp = tmp.0.join("ltp_demo");
    let gt = tmp.0.join("gtest_demo");
    assert!(compile("ltp_demo.c", &ltp), "gcc ltp_demo.c");
    assert!(compile("gtest_demo.c", &gt), "gcc gtest_demo.c");
    let s = sentry();
    if s.is_none() {
        eprintln!("no sentry built: checking the native side only (cargo build -p sentry for the sandboxed part)");
    }
    let sb = if s.is_some() { "seccomp" } else { "native" };

    let list = tmp.0.join("ltp.list");
    std::fs::write(&list, "# LTP-style demo\n./ltp_demo files\n./ltp_demo conf\n./ltp_demo fail\n./ltp_demo userns\n./ltp_demo hang\n")
        .expect("write list");
    let (stdout, r) = external("ltp", &list, &tmp.0.join("ltp.json"), s.as_ref());
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        last.contains(" passed, ") && last.ends_with(" skipped"),
        "{stdout}"
    );
    assert_eq!(verdict(&r, "files", "native")["verdict"], "ok", "{stdout}");
    assert_eq!(
        verdict(&r, "conf", "native")["reason"],
        "fails natively: exit 32 (TCONF)"
    );
    assert_eq!(
        verdict(&r, "fail", "native")["reason"],
        "fails natively: exit 1 (TFAIL)"
    );
    assert_eq!(
        verdict(&r, "hang", "native")["reason"],
        "fails natively: timed out"
    );
    if s.is_some() {
        assert_eq!(verdict(&r, "files", sb)["verdict"], "pass", "{stdout}");
        assert_eq!(verdict(&r, "conf", sb)["verdict"], "skip");
        assert_eq!(verdict(&r, "userns", "native")["verdict"], "ok");
        assert_eq!(verdict(&r, "userns", sb)["verdict"], "fail", "{stdout}");
        assert!(
            last.starts_with("1 passed, 1 failed, 3 skipped"),
            "{stdout}"
        );
    }

    let glist = tmp.0.join("gtest.list");
    std::fs::write(&glist, "./gtest_demo\n./gtest_demo --portable\n").expect("write list");
    let (stdout, r) = external("gtest", &glist, &tmp.0.join("gtest.json"), s.as_ref());
    assert_eq!(
        verdict(&r, "gtest_demo", "native")["reason"],
        "3 passed, 0 failed",
        "{stdout}"
    );
    assert_eq!(
        verdict(&r, "--portable", "native")["reason"],
        "2 passed, 0 failed",
        "{stdout}"
    );
    if s.is_some() {
        let full = verdict(&r, "gtest_demo", sb);
        assert_eq!(full["verdict"], "fail", "{stdout}");
        assert!(
            full["reason"]
                .as_str()
                .unwrap_or("")
                .contains("not passing: Ns.UnshareUser"),
            "{stdout}"
        );
        assert_eq!(verdict(&r, "--portable", sb)["verdict"], "pass", "{stdout}");
        assert_eq!(
            stdout.lines().last().unwrap_or(""),
            "1 passed, 1 failed, 0 skipped"
        );
    }
}
