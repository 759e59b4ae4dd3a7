//! Processes: fork, vfork, clone, exec (argv/env, scripts, errors, execveat), wait variants and exit codes,
//! sessions and groups, prctl basics, rlimits, priorities and scheduling, personality, getrandom, seccomp filters.
#![forbid(unsafe_code)]

use libc::{O_RDONLY, SIGCHLD};
use nix::errno::Errno;

use super::helper::{mkfile, need, open, run_helper, spawn_capture};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, int, Handler};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new(
        "process.fork_wait_exit",
        &["fork", "wait4", "exit_group"],
        fork_wait_exit,
    ),
    Case::new(
        "process.exit_codes",
        &["fork", "exit_group", "wait4"],
        exit_codes,
    ),
    Case::new("process.vfork", &["vfork", "wait4"], vfork),
    Case::new("process.clone_flags", &["clone", "wait4"], clone_flags),
    Case::new(
        "process.execve_exit_code",
        &["execve", "wait4"],
        execve_exit_code,
    ),
    Case::new("process.execve_argv_env", &["execve"], execve_argv_env),
    Case::new("process.execve_errors", &["execve"], execve_errors),
    Case::new("process.execve_script", &["execve"], execve_script),
    Case::new("process.execveat", &["execveat", "open"], execveat),
    Case::new("process.wait_variants", &["wait4", "waitid"], wait_variants),
    Case::new("process.wait_rusage", &["wait4", "getrusage"], wait_rusage),
    Case::new(
        "process.getppid_child",
        &["fork", "getppid", "getpid"],
        getppid_child,
    ),
    Case::new(
        "process.session_group",
        &["setsid", "getsid", "setpgid", "getpgid", "getpgrp"],
        session_group,
    ),
    Case::new("process.prctl_name", &["prctl"], prctl_name),
    Case::new("process.prctl_flags", &["prctl"], prctl_flags),
    Case::new(
        "process.subreaper",
        &["prctl", "fork", "getppid", "wait4"],
        subreaper,
    ),
    Case::new(
        "process.rlimits",
        &["getrlimit", "setrlimit", "prlimit64"],
        rlimits,
    ),
    Case::new(
        "process.priority",
        &["getpriority", "setpriority"],
        priority,
    ),
    Case::new(
        "process.scheduler",
        &[
            "sched_getscheduler",
            "sched_getparam",
            "sched_yield",
            "sched_getaffinity",
        ],
        scheduler,
    ),
    Case::new(
        "process.getrusage_times",
        &["getrusage", "times"],
        getrusage_times,
    ),
    Case::new(
        "process.umask_inherited",
        &["umask", "execve"],
        umask_inherited,
    ),
    Case::new(
        "process.personality_query",
        &["personality"],
        personality_query,
    ),
    Case::new("process.arch_prctl", &["arch_prctl"], arch_prctl),
    Case::new("process.getrandom", &["getrandom"], getrandom),
    Case::new(
        "process.sigchld_ignored_reaps",
        &["rt_sigaction", "fork", "wait4"],
        sigchld_ignored_reaps,
    ),
    Case::new(
        "process.pidfd_send_signal",
        &["pidfd_open", "pidfd_send_signal", "wait4"],
        pidfd_send_signal,
    ),
    Case::new(
        "process.seccomp_allow_filter",
        &["seccomp", "prctl"],
        seccomp_allow_filter,
    ),
    Case::new("process.unshare_allowed", &["unshare"], unshare_allowed),
    Case::new(
        "process.exec_resets_handlers",
        &["execve", "rt_sigaction"],
        exec_resets_handlers,
    ),
];

fn fork_wait_exit(c: &mut Ctx) -> Outcome {
    let pid = c.must("fork", sys::fork_run(|| 42))?;
    let (got, s) = c.must("wait4", sys::wait4(int(pid), 0))?;
    c.eq("waited_pid_is_child", got == pid, true);
    c.rec("status", sys::wstatus(s));
    c.errno("wait_again", sys::wait4(int(pid), 0), Errno::ECHILD);
    Ok(())
}

fn exit_codes(c: &mut Ctx) -> Outcome {
    let mut out = Vec::new();
    for code in [0, 1, 255, 256 + 7, -1] {
        let pid = need("fork", sys::fork_run(move || code))?;
        out.push(sys::reap(pid));
    }
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let _ = sc!(libc::SYS_exit_group, 9);
            1
        }),
    )?;
    out.push(sys::reap(pid));
    c.rec("statuses", out);
    Ok(())
}

fn vfork(c: &mut Ctx) -> Outcome {
    // The vfork runs in a throwaway child (see sys::vfork_exit); it reports the status of its own vfork child.
    let pid = need(
        "fork",
        sys::fork_run(|| match sys::vfork_exit(5) {
            Ok(v) => match sys::wait4(int(v), 0) {
                Ok((_, s)) if libc::WIFEXITED(s) => libc::WEXITSTATUS(s) + 10,
                _ => 2,
            },
            Err(_) => 3,
        }),
    )?;
    c.rec("status", sys::reap(pid));
    Ok(())
}

fn clone_flags(c: &mut Ctx) -> Outcome {
    let sigchld = u64::try_from(SIGCHLD).unwrap_or(17);
    let pid = c.must("clone_sigchld", sys::clone_fork(sigchld, || 9))?;
    c.rec("status", sys::reap(pid));
    let vf = u64::try_from(libc::CLONE_VFORK).unwrap_or(0);
    let pid = c.must("clone_vfork", sys::clone_fork(sigchld | vf, || 8))?;
    c.rec("vfork_status", sys::reap(pid));
    let pid = c.must("clone_no_exit_signal", sys::clone_fork(0, || 7))?;
    c.errno(
        "wait_without_wclone",
        sys::wait4(int(pid), libc::WNOHANG),
        Errno::ECHILD,
    );
    let (_, s) = c.must("wait_wall", sys::wait4(int(pid), libc::__WALL))?;
    c.rec("wall_status", sys::wstatus(s));
    let files = u64::try_from(libc::CLONE_FILES).unwrap_or(0);
    let pid = c.must(
        "clone_files",
        sys::clone_fork(sigchld | files, || i32::from(sys::pipe().is_err())),
    )?;
    c.rec("files_status", sys::reap(pid));
    Ok(())
}

fn execve_exit_code(c: &mut Ctx) -> Outcome {
    let (s, _) = run_helper(c, &["exit", "7"], &[])?;
    c.rec("status", s);
    let (s, _) = run_helper(c, &["raise", "15"], &[])?;
    c.rec("killed_status", s);
    Ok(())
}

fn execve_argv_env(c: &mut Ctx) -> Outcome {
    let (s, out) = run_helper(c, &["echo", "a b", "", "ü"], &["X=1", "Y=two words"])?;
    c.rec("status", s);
    c.rec("output", out.trim().to_owned());
    let (s, out) = run_helper(c, &["echo"], &[])?;
    c.rec("status_empty_env", s);
    c.rec("output_empty_env", out.trim().to_owned());
    Ok(())
}

fn execve_errors(c: &mut Ctx) -> Outcome {
    mkfile(c, "noexec", b"\x7fELF", 0o644)?;
    mkfile(c, "garbage", b"not an executable at all\n", 0o755)?;
    mkfile(c, "badinterp", b"#!/nonexistent/interp\n", 0o755)?;
    super::helper::mkdir("d", 0o755)?;
    c.errno(
        "missing",
        sys::execve("./missing", &["x"], &[]),
        Errno::ENOENT,
    );
    c.errno(
        "no_exec_bit",
        sys::execve("./noexec", &["x"], &[]),
        Errno::EACCES,
    );
    c.errno("directory", sys::execve("./d", &["x"], &[]), Errno::EACCES);
    c.errno("empty_path", sys::execve("", &["x"], &[]), Errno::ENOENT);
    c.errno(
        "garbage",
        sys::execve("./garbage", &["x"], &[]),
        Errno::ENOEXEC,
    );
    c.errno(
        "bad_interpreter",
        sys::execve("./badinterp", &["x"], &[]),
        Errno::ENOENT,
    );
    c.errno(
        "notdir_component",
        sys::execve("./noexec/x", &["x"], &[]),
        Errno::ENOTDIR,
    );
    Ok(())
}

fn execve_script(c: &mut Ctx) -> Outcome {
    mkfile(c, "s.sh", b"#!/bin/sh\necho \"$0|$1|$X\"\nexit 3\n", 0o755)?;
    let (s, out) = spawn_capture(
        "./s.sh",
        &["./s.sh", "arg1"],
        &["X=env", "PATH=/usr/bin:/bin"],
        None,
    )?;
    c.rec("status", s);
    c.rec("output", out.trim().to_owned());
    mkfile(
        c,
        "t.sh",
        b"#! /bin/sh -e\nfalse\necho unreachable\n",
        0o755,
    )?;
    let (s, out) = spawn_capture("./t.sh", &["./t.sh"], &["PATH=/usr/bin:/bin"], None)?;
    c.rec("status_interp_arg", s);
    c.rec("output_interp_arg", out.trim().to_owned());
    Ok(())
}

fn execveat(c: &mut Ctx) -> Outcome {
    let exe = c.exe().to_owned();
    let f = open(&exe, O_RDONLY | libc::O_CLOEXEC, 0)?;
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let r = sys::execveat(
                f,
                "",
                &["probe", "--helper", "exit", "4"],
                &[],
                libc::AT_EMPTY_PATH,
            );
            100 + sys::errno_of(r)
        }),
    )?;
    c.rec("empty_path_status", sys::reap(pid));
    let d = open(c.cwd(), O_RDONLY | libc::O_DIRECTORY, 0)?;
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let r = sys::execveat(d, "probe", &["probe", "--helper", "exit", "6"], &[], 0);
            100 + sys::errno_of(r)
        }),
    )?;
    c.rec("dirfd_status", sys::reap(pid));
    c.errno(
        "bad_flags",
        sys::execveat(d, "probe", &["x"], &[], 0x1),
        Errno::EINVAL,
    );
    c.errno(
        "ebadf",
        sys::execveat(9999, "probe", &["x"], &[], 0),
        Errno::EBADF,
    );
    Ok(())
}

fn wait_variants(c: &mut Ctx) -> Outcome {
    c.errno("no_children", sys::wait4(-1, 0), Errno::ECHILD);
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let _ = sys::nanosleep(0, 50_000_000);
            4
        }),
    )?;
    let (n, _) = c.must("wnohang_running", sys::wait4(-1, libc::WNOHANG))?;
    c.eq("wnohang_returns_zero", n, 0);
    let info = c.must(
        "waitid_nowait",
        sys::waitid(libc::P_PID, int(pid), libc::WEXITED | libc::WNOWAIT),
    )?;
    c.rec("nowait", format!("code={} status={}", info[2], info[6]));
    let info = c.must("waitid_all", sys::waitid(libc::P_ALL, 0, libc::WEXITED))?;
    c.rec(
        "waitid",
        format!(
            "signo={} code={} status={} pid_ok={}",
            info[0],
            info[2],
            info[6],
            i64::from(info[4]) == pid
        ),
    );
    c.errno(
        "waitid_bad_options",
        sys::waitid(libc::P_ALL, 0, 0),
        Errno::EINVAL,
    );
    c.errno(
        "wait4_bad_options",
        sys::wait4(-1, 0x0010_0000),
        Errno::EINVAL,
    );
    Ok(())
}

fn wait_rusage(c: &mut Ctx) -> Outcome {
    let pid = need("fork", sys::fork_run(|| 0))?;
    let (got, s, ru) = c.must("wait4_rusage", sys::wait4_rusage(int(pid), 0))?;
    c.eq("pid", got == pid, true);
    c.rec("status", sys::wstatus(s));
    c.eq("maxrss_positive", ru.ru_maxrss > 0, true);
    let ch = c.must("getrusage_children", sys::getrusage(libc::RUSAGE_CHILDREN))?;
    c.eq("children_maxrss_positive", ch.ru_maxrss > 0, true);
    Ok(())
}

fn getppid_child(c: &mut Ctx) -> Outcome {
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    let pid = need(
        "fork",
        sys::fork_run(move || i32::from(sc!(libc::SYS_getppid).unwrap_or(-1) == me)),
    )?;
    c.rec("child_sees_parent", sys::reap(pid));
    let pid2 = need(
        "fork",
        sys::fork_run(move || i32::from(sc!(libc::SYS_getpid).unwrap_or(0) != me)),
    )?;
    c.rec("child_has_new_pid", sys::reap(pid2));
    c.eq("pid_positive", me > 0, true);
    c.eq(
        "tid_equals_pid",
        sc!(libc::SYS_gettid).unwrap_or(-1) == me,
        true,
    );
    Ok(())
}

fn session_group(c: &mut Ctx) -> Outcome {
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    c.eq(
        "pgrp_is_pgid",
        sc!(libc::SYS_getpgrp).ok() == sc!(libc::SYS_getpgid, 0).ok(),
        true,
    );
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let me = sc!(libc::SYS_getpid).unwrap_or(0);
            let sid = sc!(libc::SYS_setsid).unwrap_or(-1);
            let ok1 = sid == me && sc!(libc::SYS_getsid, 0).unwrap_or(-1) == me;
            let ok2 = sc!(libc::SYS_getpgid, 0).unwrap_or(-1) == me;
            let again = sc!(libc::SYS_setsid) == Err(Errno::EPERM);
            i32::from(ok1) * 4 + i32::from(ok2) * 2 + i32::from(again)
        }),
    )?;
    c.rec("child_setsid_bits", sys::reap(pid));
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let _ = sys::nanosleep(0, 50_000_000);
            0
        }),
    )?;
    c.ret("setpgid_child", sc!(libc::SYS_setpgid, pid, 0)).ok();
    c.eq(
        "child_pgid",
        sc!(libc::SYS_getpgid, pid).ok() == Some(pid),
        true,
    );
    c.errno(
        "setpgid_missing",
        sc!(libc::SYS_setpgid, 4_000_000, 0),
        Errno::ESRCH,
    );
    c.errno(
        "setpgid_negative",
        sc!(libc::SYS_setpgid, 0, -1),
        Errno::EINVAL,
    );
    c.errno(
        "getsid_missing",
        sc!(libc::SYS_getsid, 4_000_000),
        Errno::ESRCH,
    );
    sys::reap(pid);
    c.eq("me_positive", me > 0, true);
    Ok(())
}

fn prctl_name(c: &mut Ctx) -> Outcome {
    let n = c.must("get_name", sys::get_name())?;
    c.rec("initial", n);
    c.ret("set_name", sys::set_name("conf-name")).ok();
    let n = c.must("get_name2", sys::get_name())?;
    c.rec("after", n);
    c.ret("set_long_name", sys::set_name("a-name-longer-than-fifteen"))
        .ok();
    let n = c.must("get_name3", sys::get_name())?;
    c.rec("truncated", n);
    let comm = c.must("proc_comm", sys::read_file("/proc/self/comm"))?;
    c.rec("proc_comm", super::helper::text(&comm).trim().to_owned());
    Ok(())
}

fn prctl_flags(c: &mut Ctx) -> Outcome {
    c.ret("set_pdeathsig", sys::prctl(libc::PR_SET_PDEATHSIG, 9))
        .ok();
    c.ret(
        "get_pdeathsig",
        sys::prctl_get_int(libc::PR_GET_PDEATHSIG).map(i64::from),
    )
    .ok();
    c.errno(
        "set_pdeathsig_bad",
        sys::prctl(libc::PR_SET_PDEATHSIG, 99),
        Errno::EINVAL,
    );
    c.ret("set_dumpable_0", sys::prctl(libc::PR_SET_DUMPABLE, 0))
        .ok();
    c.ret("get_dumpable", sys::prctl(libc::PR_GET_DUMPABLE, 0))
        .ok();
    c.ret("set_dumpable_1", sys::prctl(libc::PR_SET_DUMPABLE, 1))
        .ok();
    c.errno(
        "set_dumpable_2",
        sys::prctl(libc::PR_SET_DUMPABLE, 2),
        Errno::EINVAL,
    );
    c.ret("set_no_new_privs", sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1))
        .ok();
    c.ret("get_no_new_privs", sys::prctl(libc::PR_GET_NO_NEW_PRIVS, 0))
        .ok();
    c.ret("get_keepcaps", sys::prctl(libc::PR_GET_KEEPCAPS, 0))
        .ok();
    c.ret(
        "set_timerslack",
        sys::prctl(libc::PR_SET_TIMERSLACK, 100_000),
    )
    .ok();
    c.ret("get_timerslack", sys::prctl(libc::PR_GET_TIMERSLACK, 0))
        .ok();
    Ok(())
}

fn subreaper(c: &mut Ctx) -> Outcome {
    c.ret(
        "set_child_subreaper",
        sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1),
    )
    .ok();
    c.ret(
        "get_child_subreaper",
        sys::prctl_get_int(libc::PR_GET_CHILD_SUBREAPER).map(i64::from),
    )
    .ok();
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    let (r, w) = need("pipe", sys::pipe())?;
    let pid = need(
        "fork",
        sys::fork_run(move || {
            let g = sys::fork_run(move || {
                let _ = sys::nanosleep(0, 50_000_000);
                let ok = sc!(libc::SYS_getppid).unwrap_or(-1) == me;
                let _ = sys::write(w, if ok { b"y" } else { b"n" });
                5
            });
            i32::from(g.is_err())
        }),
    )?;
    c.rec("middle", sys::reap(pid));
    sys::close(w);
    let b = c.must("read", sys::read(r, 1))?;
    c.rec("orphan_reparented_to_us", super::helper::text(&b));
    let (_, s) = c.must("reap_orphan", sys::wait4(-1, 0))?;
    c.rec("orphan_status", sys::wstatus(s));
    Ok(())
}

fn rlimits(c: &mut Ctx) -> Outcome {
    let (soft, hard) = c.must("getrlimit_nofile", sys::getrlimit(libc::RLIMIT_NOFILE))?;
    c.ret("lower_soft", sys::setrlimit(libc::RLIMIT_NOFILE, 64, hard))
        .ok();
    let (s2, h2) = c.must("prlimit_read", sys::prlimit(libc::RLIMIT_NOFILE, None))?;
    c.eq("soft_now", s2, 64);
    c.eq("hard_kept", h2 == hard, true);
    c.errno(
        "raise_hard",
        sys::setrlimit(libc::RLIMIT_NOFILE, 64, hard.saturating_add(1)),
        Errno::EPERM,
    );
    c.errno(
        "soft_above_hard",
        sys::setrlimit(libc::RLIMIT_NOFILE, hard.saturating_add(1), hard),
        Errno::EINVAL,
    );
    c.ret(
        "restore",
        sys::setrlimit(libc::RLIMIT_NOFILE, soft.min(hard), hard),
    )
    .ok();
    c.ret(
        "prlimit_set",
        sys::prlimit(libc::RLIMIT_CORE, Some((0, 0))).map(|_| 0),
    )
    .ok();
    let core = c.must("getrlimit_core", sys::getrlimit(libc::RLIMIT_CORE))?;
    c.rec("core", format!("{} {}", core.0, core.1));
    c.errno("bad_resource", sys::getrlimit(99), Errno::EINVAL);
    Ok(())
}

fn priority(c: &mut Ctx) -> Outcome {
    let cur = c.must(
        "getpriority",
        sc!(libc::SYS_getpriority, libc::PRIO_PROCESS, 0),
    )?;
    c.rec("raw_initial", cur);
    c.ret(
        "setpriority_nicer",
        sc!(libc::SYS_setpriority, libc::PRIO_PROCESS, 0, 25 - cur),
    )
    .ok();
    c.ret(
        "getpriority_after",
        sc!(libc::SYS_getpriority, libc::PRIO_PROCESS, 0),
    )
    .ok();
    c.errno(
        "setpriority_less_nice",
        sc!(libc::SYS_setpriority, libc::PRIO_PROCESS, 0, -5),
        Errno::EACCES,
    );
    c.errno(
        "bad_which",
        sc!(libc::SYS_getpriority, 99, 0),
        Errno::EINVAL,
    );
    c.errno(
        "missing_pid",
        sc!(libc::SYS_getpriority, libc::PRIO_PROCESS, 4_000_000),
        Errno::ESRCH,
    );
    Ok(())
}

fn scheduler(c: &mut Ctx) -> Outcome {
    c.ret("sched_getscheduler", sc!(libc::SYS_sched_getscheduler, 0))
        .ok();
    c.ret("sched_getparam", sys::sched_getparam().map(i64::from))
        .ok();
    c.ret("sched_yield", sc!(libc::SYS_sched_yield)).ok();
    let (n, cpus) = c.must("sched_getaffinity", sys::sched_getaffinity(128))?;
    c.eq("copied_bytes_positive", n > 0, true);
    c.eq("cpus_positive", cpus > 0, true);
    c.errno(
        "affinity_small_buffer",
        sys::sched_getaffinity(1),
        Errno::EINVAL,
    );
    c.errno(
        "getscheduler_missing",
        sc!(libc::SYS_sched_getscheduler, 4_000_000),
        Errno::ESRCH,
    );
    Ok(())
}

fn getrusage_times(c: &mut Ctx) -> Outcome {
    let ru = c.must("getrusage_self", sys::getrusage(libc::RUSAGE_SELF))?;
    c.eq("maxrss_positive", ru.ru_maxrss > 0, true);
    c.st("getrusage_thread", sys::getrusage(libc::RUSAGE_THREAD))
        .ok();
    c.errno("bad_who", sys::getrusage(99), Errno::EINVAL);
    let (t, _) = c.must("times", sys::times())?;
    c.eq("ticks_positive", t > 0, true);
    Ok(())
}

fn umask_inherited(c: &mut Ctx) -> Outcome {
    let initial = sc!(libc::SYS_umask, 0o027).unwrap_or(-1);
    c.rec("initial", format!("{initial:04o}"));
    let (s, out) = run_helper(c, &["umask"], &[])?;
    c.rec("status", s);
    c.rec("child_umask", out.trim().to_owned());
    Ok(())
}

fn personality_query(c: &mut Ctx) -> Outcome {
    c.ret("query", sc!(libc::SYS_personality, 0xffff_ffffu32))
        .ok();
    c.ret("set_linux", sc!(libc::SYS_personality, 0)).ok();
    c.ret("query_again", sc!(libc::SYS_personality, 0xffff_ffffu32))
        .ok();
    Ok(())
}

fn arch_prctl(c: &mut Ctx) -> Outcome {
    let fs = c.must("get_fs", sys::arch_prctl_get(0x1003))?;
    c.eq("fs_nonzero", fs != 0, true);
    c.st("get_gs", sys::arch_prctl_get(0x1004)).ok();
    Ok(())
}

fn getrandom(c: &mut Ctx) -> Outcome {
    let b = c.must("getrandom_32", sys::getrandom(32, 0))?;
    c.eq("len", b.len(), 32);
    let b = c.must(
        "getrandom_nonblock",
        sys::getrandom(16, libc::GRND_NONBLOCK),
    )?;
    c.eq("len_nonblock", b.len(), 16);
    let b = c.must(
        "getrandom_insecure",
        sys::getrandom(16, libc::GRND_INSECURE),
    )?;
    c.eq("len_insecure", b.len(), 16);
    c.errno("bad_flags", sys::getrandom(16, 0x80), Errno::EINVAL);
    c.errno(
        "random_and_insecure",
        sys::getrandom(16, libc::GRND_RANDOM | libc::GRND_INSECURE),
        Errno::EINVAL,
    );
    Ok(())
}

fn sigchld_ignored_reaps(c: &mut Ctx) -> Outcome {
    need(
        "ignore sigchld",
        sys::sigaction(SIGCHLD, Handler::Ignore, 0, 0),
    )?;
    let pid = need("fork", sys::fork_run(|| 0))?;
    c.errno("wait_autoreaped", sys::wait4(int(pid), 0), Errno::ECHILD);
    need(
        "default sigchld",
        sys::sigaction(SIGCHLD, Handler::Default, 0, 0),
    )?;
    Ok(())
}

fn pidfd_send_signal(c: &mut Ctx) -> Outcome {
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let _ = sc!(libc::SYS_pause);
            1
        }),
    )?;
    let pfd = int(c.must("pidfd_open", sc!(libc::SYS_pidfd_open, pid, 0))?);
    c.ret(
        "pidfd_send_signal",
        sc!(libc::SYS_pidfd_send_signal, pfd, libc::SIGKILL, 0i64, 0),
    )
    .ok();
    c.rec("status", sys::reap(pid));
    c.errno(
        "send_after_exit",
        sc!(libc::SYS_pidfd_send_signal, pfd, libc::SIGKILL, 0i64, 0),
        Errno::ESRCH,
    );
    c.errno(
        "bad_flags",
        sc!(libc::SYS_pidfd_send_signal, pfd, 0, 0i64, 0x100),
        Errno::EINVAL,
    );
    Ok(())
}

fn seccomp_allow_filter(c: &mut Ctx) -> Outcome {
    let pid = need(
        "fork",
        sys::fork_run(|| {
            if sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1).is_err() {
                return 2;
            }
            match sys::seccomp_allow_all(0) {
                Ok(_) => 0,
                Err(e) => 100 + e as i32,
            }
        }),
    )?;
    c.rec("install_allow_all_in_child", sys::reap(pid));
    c.errno("bad_flags", sys::seccomp_allow_all(1 << 30), Errno::EINVAL);
    Ok(())
}

fn unshare_allowed(c: &mut Ctx) -> Outcome {
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let a = sc!(libc::SYS_unshare, libc::CLONE_FILES).is_ok();
            let b = sc!(libc::SYS_unshare, libc::CLONE_FS).is_ok();
            let e = sc!(libc::SYS_unshare, 0).is_ok();
            i32::from(a) * 4 + i32::from(b) * 2 + i32::from(e)
        }),
    )?;
    c.rec("files_fs_none_bits", sys::reap(pid));
    c.errno(
        "unshare_bad_flag",
        sc!(libc::SYS_unshare, 0x1),
        Errno::EINVAL,
    );
    Ok(())
}

fn exec_resets_handlers(c: &mut Ctx) -> Outcome {
    need(
        "handler",
        sys::sigaction(libc::SIGUSR1, Handler::Fn(sys::sig::count), 0, 0),
    )?;
    need(
        "ignore",
        sys::sigaction(libc::SIGUSR2, Handler::Ignore, 0, 0),
    )?;
    let (s, out) = run_helper(c, &["sigstate"], &[])?;
    c.rec("status", s);
    c.rec("child", out.trim().to_owned());
    Ok(())
}
