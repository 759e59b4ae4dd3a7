//! Tests of the runner itself: a case that hangs, one that crashes, one that leaves a process behind, one that
//! fails its own check. They are never part of a normal run; `conformance run --filter 'selftest.*'` selects them,
//! and the runner's integration tests check how each is reported.
#![forbid(unsafe_code)]

use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, Handler};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::selftest("selftest.ok", ok),
    Case::selftest("selftest.hang", hang),
    Case::selftest("selftest.crash", crash),
    Case::selftest("selftest.leak", leak),
    Case::selftest("selftest.fail", fail),
];

fn ok(c: &mut Ctx) -> Outcome {
    c.rec("fine", true);
    Ok(())
}

fn hang(c: &mut Ctx) -> Outcome {
    c.rec("about_to_hang", true);
    loop {
        let _ = sys::nanosleep(3600, 0);
    }
}

fn crash(_c: &mut Ctx) -> Outcome {
    let _ = sys::setrlimit(libc::RLIMIT_CORE, 0, 0);
    let _ = sys::sigaction(libc::SIGSEGV, Handler::Default, 0, 0);
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    let _ = sc!(libc::SYS_kill, me, libc::SIGSEGV);
    Ok(())
}

fn leak(c: &mut Ctx) -> Outcome {
    // A grandchild in its own session, so it leaves the probe's process group too; only the cwd scan finds it.
    let r = sys::fork_run(|| {
        let _ = sc!(libc::SYS_setsid);
        let _ = sys::fork_run(|| {
            let _ = sys::nanosleep(300, 0);
            0
        });
        0
    });
    if let Ok(pid) = r {
        sys::reap(pid);
    }
    let r = sys::fork_run(|| {
        let _ = sys::nanosleep(300, 0);
        0
    });
    c.st("forked", r).ok();
    Ok(())
}

fn fail(c: &mut Ctx) -> Outcome {
    c.eq("one", 1, 2);
    Ok(())
}
