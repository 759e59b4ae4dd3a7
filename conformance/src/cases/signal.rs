//! Signals: handlers, masks and pending sets, SIG_IGN, default actions on children, SIGCHLD, sigaltstack,
//! EINTR vs SA_RESTART, queued values, sigsuspend, sigtimedwait, stop/continue, inheritance across fork and exec.
#![forbid(unsafe_code)]

use libc::{SIGCHLD, SIGCONT, SIGKILL, SIGSTOP, SIGTERM, SIGUSR1, SIGUSR2};
use nix::errno::Errno;

use super::helper::{need, run_helper};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, sig, sigbit, Handler};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new(
        "signal.initial_state",
        &["rt_sigprocmask", "rt_sigpending", "rt_sigaction"],
        initial_state,
    ),
    Case::new(
        "signal.handler_runs",
        &["rt_sigaction", "kill"],
        handler_runs,
    ),
    Case::new(
        "signal.mask_pending",
        &["rt_sigprocmask", "rt_sigpending", "kill"],
        mask_pending,
    ),
    Case::new(
        "signal.ignore",
        &["rt_sigaction", "kill", "rt_sigpending"],
        ignore,
    ),
    Case::new(
        "signal.default_term_child",
        &["fork", "kill", "wait4"],
        default_term_child,
    ),
    Case::new(
        "signal.sigchld",
        &["rt_sigaction", "fork", "rt_sigsuspend", "wait4"],
        sigchld,
    ),
    Case::new(
        "signal.sigaltstack",
        &["sigaltstack", "rt_sigaction", "kill"],
        sigaltstack,
    ),
    Case::new(
        "signal.eintr_vs_restart",
        &["setitimer", "read", "rt_sigaction", "fork"],
        eintr_vs_restart,
    ),
    Case::new(
        "signal.sigqueueinfo",
        &["rt_sigqueueinfo", "rt_sigaction"],
        sigqueueinfo,
    ),
    Case::new(
        "signal.sigsuspend",
        &["rt_sigsuspend", "rt_sigprocmask", "kill"],
        sigsuspend,
    ),
    Case::new(
        "signal.sigtimedwait",
        &["rt_sigtimedwait", "rt_sigprocmask", "kill"],
        sigtimedwait,
    ),
    Case::new(
        "signal.kill_errors",
        &["kill", "tgkill", "tkill"],
        kill_errors,
    ),
    Case::new("signal.uncatchable", &["rt_sigaction"], uncatchable),
    Case::new(
        "signal.stop_continue",
        &["kill", "wait4", "waitid"],
        stop_continue,
    ),
    Case::new(
        "signal.child_crash_status",
        &["fork", "kill", "wait4", "setrlimit"],
        child_crash_status,
    ),
    Case::new(
        "signal.fork_inheritance",
        &["fork", "rt_sigprocmask", "rt_sigpending"],
        fork_inheritance,
    ),
    Case::new(
        "signal.exec_inheritance",
        &["execve", "rt_sigprocmask", "rt_sigaction"],
        exec_inheritance,
    ),
    Case::new(
        "signal.resethand_nodefer",
        &["rt_sigaction", "kill"],
        resethand_nodefer,
    ),
    Case::new(
        "signal.kill_process_group",
        &["kill", "getpgrp", "fork"],
        kill_process_group,
    ),
    Case::new(
        "signal.realtime_queueing",
        &["rt_sigqueueinfo", "rt_sigprocmask", "rt_sigtimedwait"],
        realtime_queueing,
    ),
];

fn me() -> i64 {
    sc!(libc::SYS_getpid).unwrap_or(0)
}

fn initial_state(c: &mut Ctx) -> Outcome {
    let blocked = c.must("sigprocmask", sys::sigprocmask(libc::SIG_BLOCK, None))?;
    c.rec("blocked", sys::sigs_of(blocked));
    let pending = c.must("sigpending", sys::sigpending())?;
    c.rec("pending", sys::sigs_of(pending));
    let mut ignored = Vec::new();
    let mut handled = Vec::new();
    for s in 1..=64 {
        if s == SIGKILL || s == SIGSTOP || (32..=33).contains(&s) {
            continue;
        }
        match sys::sigaction_query(s) {
            Ok(("ignore", _)) => ignored.push(s),
            Ok(("handler", _)) => handled.push(s),
            _ => {}
        }
    }
    c.rec("ignored", ignored);
    c.rec("handled", handled);
    let alt = c.must("sigaltstack", sys::sigaltstack_query())?;
    c.rec("altstack_flags", alt.0);
    Ok(())
}

fn handler_runs(c: &mut Ctx) -> Outcome {
    sig::reset();
    let old = c.must(
        "sigaction",
        sys::sigaction(SIGUSR1, Handler::Fn(sig::count), 0, 0),
    )?;
    c.rec("old", old.0);
    c.ret("kill", sc!(libc::SYS_kill, me(), SIGUSR1)).ok();
    c.eq("hits", sig::hits(SIGUSR1), 1);
    c.eq("ran_on_main_thread", sig::last_tid() == me(), true);
    let q = c.must("query", sys::sigaction_query(SIGUSR1))?;
    c.rec("now", q.0);
    Ok(())
}

fn mask_pending(c: &mut Ctx) -> Outcome {
    sig::reset();
    need(
        "sigaction",
        sys::sigaction(SIGUSR1, Handler::Fn(sig::count), 0, 0),
    )?;
    let old = c.must(
        "block",
        sys::sigprocmask(libc::SIG_BLOCK, Some(sigbit(SIGUSR1))),
    )?;
    c.rec("old_mask", sys::sigs_of(old));
    c.ret("kill", sc!(libc::SYS_kill, me(), SIGUSR1)).ok();
    c.ret("kill_again", sc!(libc::SYS_kill, me(), SIGUSR1)).ok();
    c.eq("hits_blocked", sig::hits(SIGUSR1), 0);
    let p = c.must("sigpending", sys::sigpending())?;
    c.rec("pending", sys::sigs_of(p));
    c.ret(
        "unblock",
        sys::sigprocmask(libc::SIG_UNBLOCK, Some(sigbit(SIGUSR1))).map(|_| 0),
    )
    .ok();
    c.eq("hits_after_unblock_merged", sig::hits(SIGUSR1), 1);
    let p = c.must("sigpending2", sys::sigpending())?;
    c.rec("pending_after", sys::sigs_of(p));
    let now = c.must(
        "setmask_kill_stop",
        sys::sigprocmask(libc::SIG_SETMASK, Some(sigbit(SIGKILL) | sigbit(SIGSTOP))),
    )?;
    let _ = now;
    let m = c.must("query", sys::sigprocmask(libc::SIG_BLOCK, None))?;
    c.rec("kill_stop_not_blockable", sys::sigs_of(m));
    c.errno("bad_how", sys::sigprocmask(99, Some(0)), Errno::EINVAL);
    Ok(())
}

fn ignore(c: &mut Ctx) -> Outcome {
    c.ret(
        "sigaction_ign",
        sys::sigaction(SIGUSR1, Handler::Ignore, 0, 0).map(|_| 0),
    )
    .ok();
    c.ret("kill", sc!(libc::SYS_kill, me(), SIGUSR1)).ok();
    need(
        "block",
        sys::sigprocmask(libc::SIG_BLOCK, Some(sigbit(SIGUSR1))),
    )?;
    c.ret("kill_blocked_ignored", sc!(libc::SYS_kill, me(), SIGUSR1))
        .ok();
    let p = c.must("sigpending", sys::sigpending())?;
    c.rec("pending", sys::sigs_of(p));
    c.rec("survived", true);
    Ok(())
}

fn default_term_child(c: &mut Ctx) -> Outcome {
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let _ = sys::sigaction(SIGTERM, Handler::Default, 0, 0);
            let _ = sc!(libc::SYS_pause);
            1
        }),
    )?;
    let _ = sys::nanosleep(0, 10_000_000);
    c.ret("kill", sc!(libc::SYS_kill, pid, SIGTERM)).ok();
    c.rec("status", sys::reap(pid));
    Ok(())
}

fn sigchld(c: &mut Ctx) -> Outcome {
    sig::reset();
    need(
        "sigaction",
        sys::sigaction(SIGCHLD, Handler::Info(sig::info), 0, 0),
    )?;
    need(
        "block",
        sys::sigprocmask(libc::SIG_BLOCK, Some(sigbit(SIGCHLD))),
    )?;
    let pid = need("fork", sys::fork_run(|| 3))?;
    c.errno("sigsuspend", sys::sigsuspend(0), Errno::EINTR);
    c.eq("sigchld_hits", sig::hits(SIGCHLD), 1);
    let i = sig::last_info();
    c.rec("si_code", i[2]);
    c.eq("si_pid_is_child", i64::from(i[4]) == pid, true);
    c.rec("si_status", i[6]);
    c.rec("status", sys::reap(pid));
    Ok(())
}

fn sigaltstack(c: &mut Ctx) -> Outcome {
    sig::reset();
    let before = c.must("query", sys::sigaltstack_query())?;
    c.rec("initial_flags", before.0);
    let ((of, _), range) = c.must("install", sys::sigaltstack(1 << 16))?;
    c.rec("old_flags", of);
    sig::expect_altstack(range);
    let now = c.must("query2", sys::sigaltstack_query())?;
    c.rec("installed", format!("{} {}", now.0, now.1));
    need(
        "sigaction",
        sys::sigaction(SIGUSR1, Handler::Fn(sig::count), libc::SA_ONSTACK, 0),
    )?;
    c.ret("kill", sc!(libc::SYS_kill, me(), SIGUSR1)).ok();
    c.eq("ran_on_altstack", sig::ran_on_altstack(), true);
    need(
        "sigaction2",
        sys::sigaction(SIGUSR2, Handler::Fn(sig::count), 0, 0),
    )?;
    c.ret("kill_no_onstack", sc!(libc::SYS_kill, me(), SIGUSR2))
        .ok();
    c.eq(
        "not_on_altstack_without_flag",
        sig::ran_on_altstack(),
        false,
    );
    c.errno("too_small", sys::sigaltstack(1024), Errno::ENOMEM);
    let ((_, _), _) = c.must("disable", sys::sigaltstack(0))?;
    let now = c.must("query3", sys::sigaltstack_query())?;
    c.rec("disabled_flags", now.0);
    Ok(())
}

fn eintr_vs_restart(c: &mut Ctx) -> Outcome {
    sig::reset();
    let (r, _w) = need("pipe", sys::pipe())?;
    need(
        "sigaction",
        sys::sigaction(libc::SIGALRM, Handler::Fn(sig::count), 0, 0),
    )?;
    need("setitimer", sys::setitimer(libc::ITIMER_REAL, 0, 20))?;
    c.errno("read_interrupted", sys::read(r, 1), Errno::EINTR);
    c.eq("alarm_hits", sig::hits(libc::SIGALRM), 1);
    let (r2, w2) = need("pipe", sys::pipe())?;
    need(
        "sigaction_restart",
        sys::sigaction(libc::SIGALRM, Handler::Fn(sig::count), libc::SA_RESTART, 0),
    )?;
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let _ = sys::nanosleep(0, 80_000_000);
            i32::from(sys::write(w2, b"late").is_err())
        }),
    )?;
    sys::close(w2);
    need("setitimer2", sys::setitimer(libc::ITIMER_REAL, 0, 20))?;
    let got = c.must("read_restarted", sys::read(r2, 10))?;
    c.eq("data", super::helper::text(&got), "late".into());
    c.eq("alarm_hits_total", sig::hits(libc::SIGALRM), 2);
    c.rec("child", sys::reap(pid));
    Ok(())
}

fn sigqueueinfo(c: &mut Ctx) -> Outcome {
    sig::reset();
    need(
        "sigaction",
        sys::sigaction(SIGUSR2, Handler::Info(sig::info), 0, 0),
    )?;
    let si = sys::siginfo_queue(SIGUSR2, 42);
    let r = sys::call(
        libc::SYS_rt_sigqueueinfo,
        &[sys::Arg::I(me()), sys::Arg::i(SIGUSR2), sys::Arg::r(&si)],
    );
    c.ret("rt_sigqueueinfo", r).ok();
    let i = sig::last_info();
    c.rec("signo", i[0]);
    c.rec("code", i[2]);
    c.rec("value", i[6]);
    let bad = sys::siginfo_queue(SIGUSR2, 1);
    let mut spoof = bad;
    spoof[2] = libc::SI_USER;
    let r = sys::call(
        libc::SYS_rt_sigqueueinfo,
        &[sys::Arg::I(1), sys::Arg::i(SIGUSR2), sys::Arg::r(&spoof)],
    );
    c.errno("spoof_si_user_to_other", r, Errno::EPERM);
    Ok(())
}

fn sigsuspend(c: &mut Ctx) -> Outcome {
    sig::reset();
    need(
        "sigaction",
        sys::sigaction(SIGUSR1, Handler::Fn(sig::count), 0, 0),
    )?;
    need(
        "block",
        sys::sigprocmask(libc::SIG_BLOCK, Some(sigbit(SIGUSR1))),
    )?;
    c.ret("kill", sc!(libc::SYS_kill, me(), SIGUSR1)).ok();
    c.eq("hits_before", sig::hits(SIGUSR1), 0);
    c.errno("sigsuspend", sys::sigsuspend(0), Errno::EINTR);
    c.eq("hits_after", sig::hits(SIGUSR1), 1);
    let m = c.must("mask_restored", sys::sigprocmask(libc::SIG_BLOCK, None))?;
    c.eq("still_blocked", m & sigbit(SIGUSR1) != 0, true);
    Ok(())
}

fn sigtimedwait(c: &mut Ctx) -> Outcome {
    let set = sigbit(SIGUSR1);
    need("block", sys::sigprocmask(libc::SIG_BLOCK, Some(set)))?;
    c.errno("timeout", sys::sigtimedwait(set, Some(10)), Errno::EAGAIN);
    c.ret("kill", sc!(libc::SYS_kill, me(), SIGUSR1)).ok();
    let (s, info) = c.must("wait", sys::sigtimedwait(set, Some(1000)))?;
    c.rec("signo", s);
    c.rec("si_code", info[2]);
    c.eq("si_pid_is_self", i64::from(info[4]) == me(), true);
    let p = c.must("pending_after", sys::sigpending())?;
    c.rec("pending", sys::sigs_of(p));
    Ok(())
}

fn kill_errors(c: &mut Ctx) -> Outcome {
    c.ret("sig0_self", sc!(libc::SYS_kill, me(), 0)).ok();
    c.errno(
        "missing_pid",
        sc!(libc::SYS_kill, 4_000_000, 0),
        Errno::ESRCH,
    );
    c.errno("bad_signal", sc!(libc::SYS_kill, me(), 99), Errno::EINVAL);
    let tid = sc!(libc::SYS_gettid).unwrap_or(0);
    c.ret("tgkill_self", sc!(libc::SYS_tgkill, me(), tid, 0))
        .ok();
    c.errno(
        "tgkill_wrong_tgid",
        sc!(libc::SYS_tgkill, 4_000_000, tid, 0),
        Errno::ESRCH,
    );
    c.errno(
        "tgkill_bad_tid",
        sc!(libc::SYS_tgkill, me(), -1, 0),
        Errno::EINVAL,
    );
    c.ret("tkill_self", sc!(libc::SYS_tkill, tid, 0)).ok();
    Ok(())
}

fn uncatchable(c: &mut Ctx) -> Outcome {
    c.errno(
        "sigkill_handler",
        sys::sigaction(SIGKILL, Handler::Fn(sig::count), 0, 0),
        Errno::EINVAL,
    );
    c.errno(
        "sigstop_ignore",
        sys::sigaction(SIGSTOP, Handler::Ignore, 0, 0),
        Errno::EINVAL,
    );
    c.errno(
        "signal_zero",
        sys::sigaction(0, Handler::Ignore, 0, 0),
        Errno::EINVAL,
    );
    c.errno(
        "signal_65",
        sys::sigaction(65, Handler::Ignore, 0, 0),
        Errno::EINVAL,
    );
    let q = c.must("query_sigkill", sys::sigaction_query(SIGKILL))?;
    c.rec("sigkill", q.0);
    Ok(())
}

fn stop_continue(c: &mut Ctx) -> Outcome {
    let pid = need(
        "fork",
        sys::fork_run(|| {
            for _ in 0..500 {
                let _ = sys::nanosleep(0, 10_000_000);
            }
            1
        }),
    )?;
    c.ret("sigstop", sc!(libc::SYS_kill, pid, SIGSTOP)).ok();
    let (_, s) = c.must("wait_untraced", sys::wait4(sys::int(pid), libc::WUNTRACED))?;
    c.rec("stopped", sys::wstatus(s));
    c.ret("sigcont", sc!(libc::SYS_kill, pid, SIGCONT)).ok();
    let (_, s) = c.must(
        "wait_continued",
        sys::wait4(sys::int(pid), libc::WCONTINUED),
    )?;
    c.rec("continued", sys::wstatus(s));
    c.ret("sigstop2", sc!(libc::SYS_kill, pid, SIGSTOP)).ok();
    let info = c.must(
        "waitid_stopped",
        sys::waitid(libc::P_PID, sys::int(pid), libc::WSTOPPED),
    )?;
    c.rec("waitid_code", info[2]);
    c.rec("waitid_status", info[6]);
    c.ret("sigkill", sc!(libc::SYS_kill, pid, SIGKILL)).ok();
    c.rec("final", sys::reap(pid));
    Ok(())
}

fn child_crash_status(c: &mut Ctx) -> Outcome {
    let mut out = Vec::new();
    for s in [
        libc::SIGSEGV,
        libc::SIGABRT,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
    ] {
        let pid = need(
            "fork",
            sys::fork_run(move || {
                let _ = sys::setrlimit(libc::RLIMIT_CORE, 0, 0);
                let _ = sys::sigaction(s, Handler::Default, 0, 0);
                let me = sc!(libc::SYS_getpid).unwrap_or(0);
                let _ = sc!(libc::SYS_kill, me, s);
                0
            }),
        )?;
        let (_, st) = need("wait4", sys::wait4(sys::int(pid), 0))?;
        out.push(format!("{} core={}", sys::wstatus(st), libc::WCOREDUMP(st)));
    }
    c.rec("statuses", out);
    Ok(())
}

fn fork_inheritance(c: &mut Ctx) -> Outcome {
    need(
        "ignore usr2",
        sys::sigaction(SIGUSR2, Handler::Ignore, 0, 0),
    )?;
    need(
        "block",
        sys::sigprocmask(libc::SIG_BLOCK, Some(sigbit(SIGUSR1))),
    )?;
    c.ret("kill_pending", sc!(libc::SYS_kill, me(), SIGUSR1))
        .ok();
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let m = sys::sigprocmask(libc::SIG_BLOCK, None).unwrap_or(0);
            let p = sys::sigpending().unwrap_or(u64::MAX);
            let ign = sys::sigaction_query(SIGUSR2)
                .map(|q| q.0 == "ignore")
                .unwrap_or(false);
            i32::from(m & sigbit(SIGUSR1) != 0) * 4 + i32::from(p == 0) * 2 + i32::from(ign)
        }),
    )?;
    let s = sys::reap(pid);
    c.rec("child_mask_pending_ignore_bits", s);
    Ok(())
}

fn exec_inheritance(c: &mut Ctx) -> Outcome {
    need(
        "ignore usr2",
        sys::sigaction(SIGUSR2, Handler::Ignore, 0, 0),
    )?;
    need(
        "handle term",
        sys::sigaction(SIGTERM, Handler::Fn(sig::count), 0, 0),
    )?;
    need(
        "block",
        sys::sigprocmask(libc::SIG_BLOCK, Some(sigbit(SIGUSR1))),
    )?;
    let (status, out) = run_helper(c, &["sigstate"], &[])?;
    c.rec("status", status);
    c.rec("child_state", out.trim().to_owned());
    Ok(())
}

fn resethand_nodefer(c: &mut Ctx) -> Outcome {
    sig::reset();
    need(
        "sigaction",
        sys::sigaction(SIGUSR1, Handler::Fn(sig::count), libc::SA_RESETHAND, 0),
    )?;
    c.ret("kill", sc!(libc::SYS_kill, me(), SIGUSR1)).ok();
    c.eq("hits", sig::hits(SIGUSR1), 1);
    let q = c.must("query_after", sys::sigaction_query(SIGUSR1))?;
    c.rec("disposition_after", q.0);
    let (_, flags, mask) = c.must(
        "set_mask",
        sys::sigaction(
            SIGUSR2,
            Handler::Fn(sig::count),
            libc::SA_NODEFER,
            sigbit(SIGTERM),
        ),
    )?;
    let _ = (flags, mask);
    let (_, flags, mask) = c.must("read_back", sys::sigaction(SIGUSR2, Handler::Default, 0, 0))?;
    c.rec("flags_nodefer", flags & libc::SA_NODEFER != 0);
    c.rec("mask", sys::sigs_of(mask));
    Ok(())
}

fn kill_process_group(c: &mut Ctx) -> Outcome {
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let _ = sys::sigaction(SIGUSR1, Handler::Default, 0, 0);
            let _ = sc!(libc::SYS_pause);
            1
        }),
    )?;
    c.ret("setpgid_child", sc!(libc::SYS_setpgid, pid, pid))
        .ok();
    let _ = sys::nanosleep(0, 10_000_000);
    c.ret("kill_group", sc!(libc::SYS_kill, -pid, SIGUSR1)).ok();
    c.rec("child", sys::reap(pid));
    c.errno(
        "kill_missing_group",
        sc!(libc::SYS_kill, -4_000_000, SIGUSR1),
        Errno::ESRCH,
    );
    Ok(())
}

fn realtime_queueing(c: &mut Ctx) -> Outcome {
    let rt = libc::SIGRTMIN() + 1;
    let set = sigbit(rt) | sigbit(SIGUSR1);
    need("block", sys::sigprocmask(libc::SIG_BLOCK, Some(set)))?;
    for v in [1, 2, 3] {
        let si = sys::siginfo_queue(rt, v);
        c.ret(
            &format!("queue_rt_{v}"),
            sys::call(
                libc::SYS_rt_sigqueueinfo,
                &[sys::Arg::I(me()), sys::Arg::i(rt), sys::Arg::r(&si)],
            ),
        )
        .ok();
    }
    for _ in 0..3 {
        sc!(libc::SYS_kill, me(), SIGUSR1).ok();
    }
    let mut got = Vec::new();
    while let Ok((s, info)) = sys::sigtimedwait(set, Some(0)) {
        got.push(if s == i64::from(rt) {
            format!("rt value={}", info[6])
        } else {
            format!("sig {s}")
        });
        if got.len() > 10 {
            break;
        }
    }
    c.rec("delivered", got);
    Ok(())
}
