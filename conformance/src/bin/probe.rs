//! `probe`: runs ONE conformance case in the current directory and prints its JSON result on stdout.
//!
//! ```text
//! probe CASE                   a compared case (exit 0: ok or skip, 1: the case failed, 2: usage)
//! probe --sandbox-only CASE    a sandbox-only case (denied/guarded syscalls); refused without the flag
//! probe --list                 every case: name, kind, syscalls (tab-separated)
//! probe --helper NAME ARGS...  helper modes for cases that exec a child (see conformance::cases::helper)
//! ```
//!
//! Before a case runs, the probe drops every capability (bounding set, then effective/permitted/inheritable): the
//! sandboxed agent never holds one, so native runs as root must not either, or permission checks would differ by
//! construction rather than by a sentry bug.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use conformance::case::{Body, Ctx, Kind};
use conformance::cases::helper;
use conformance::registry;
use conformance::sys;

fn usage() -> ExitCode {
    eprintln!("usage: probe CASE | probe --sandbox-only CASE | probe --list | probe --helper NAME ARGS...");
    ExitCode::from(2)
}

/// Drops all capabilities, including the bounding set (so an exec'd helper regains none), ignoring errors: inside
/// the sandbox there are none to drop and PR_CAPBSET_DROP fails with EPERM.
fn drop_caps() {
    for cap in 0..64u64 {
        if sys::prctl(libc::PR_CAPBSET_READ, cap).is_err() {
            break;
        }
        let _ = sys::prctl(libc::PR_CAPBSET_DROP, cap);
    }
    let _ = sys::capset(0, 0, 0);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(first) = args.get(1) else {
        return usage();
    };
    match first.as_str() {
        "--list" => {
            let mut out = std::io::stdout().lock();
            for c in registry::all() {
                let _ = writeln!(out, "{}\t{:?}\t{}", c.name, c.kind, c.syscalls.join(","));
            }
            ExitCode::SUCCESS
        }
        "--helper" => ExitCode::from(helper::main(&args[2..])),
        "--sandbox-only" => match args.get(2) {
            Some(name) => run(&args[0], name, true),
            None => usage(),
        },
        name if !name.starts_with('-') => run(&args[0], name, false),
        _ => usage(),
    }
}

fn run(argv0: &str, name: &str, sandbox_ok: bool) -> ExitCode {
    let Some(case) = registry::find(name) else {
        eprintln!("probe: no case named {name}");
        return ExitCode::from(2);
    };
    if case.kind == Kind::SandboxOnly && !sandbox_ok {
        eprintln!("probe: {name} is sandbox-only (it would act on the host natively); pass --sandbox-only");
        return ExitCode::from(2);
    }
    let cwd = sys::getcwd(4096).unwrap_or_default();
    let exe = if argv0.starts_with('/') {
        argv0.to_owned()
    } else {
        format!("{cwd}/probe")
    };
    if case.kind != Kind::SandboxOnly {
        drop_caps();
    }
    let mut ctx = Ctx::new(cwd, exe);
    let outcome = match case.body {
        Body::Fn(f) => f(&mut ctx),
        Body::Raw { nr, args } => {
            // Every sandbox-only raw case passes zero or invalid arguments; see cases::denied.
            let r = sys::denied_call(nr, args);
            ctx.ret("ret", r).map(|_| ()).or(Ok(()))
        }
    };
    let (json, ok) = ctx.finish(case.name, outcome);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{json}");
    let _ = out.flush();
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
