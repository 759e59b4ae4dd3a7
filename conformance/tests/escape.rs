//! `conformance escape` against the sentry built in this workspace: every attack runs to the end, and every one is
//! blocked, judged from outside the sandbox.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[test]
fn escape_suite_every_attack_blocked() {
    let sentry =
        sentry().expect("the sentry binary is built with the workspace (cargo test --workspace)");
    let mut c = Command::new(conformance());
    c.arg("escape").arg("--sentry").arg(&sentry);
    // The platform under test (`make test` runs the suite once per platform).
    if let Some(p) = std::env::var("SENTRY_TEST_PLATFORM")
        .ok()
        .filter(|p| !p.is_empty())
    {
        c.arg("--platform").arg(p);
    }
    let out = run_bounded(&mut c, Duration::from_secs(600));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l == "7 blocked, 0 escaped"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{stdout}");
}
