//! Readiness and event fds: poll/ppoll, select/pselect6, epoll (levels, edges, oneshot, errors), eventfd,
//! timerfd, signalfd, pidfd.
#![forbid(unsafe_code)]

use libc::{
    EPOLLET, EPOLLIN, EPOLLONESHOT, EPOLLOUT, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, POLLIN,
    POLLOUT,
};
use nix::errno::Errno;

use super::helper::{mkfile, need, open};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, int};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new("poll.poll_pipe", &["poll", "pipe", "write"], poll_pipe),
    Case::new("poll.poll_nval_hup", &["poll", "close"], poll_nval_hup),
    Case::new("poll.ppoll_timeout", &["ppoll"], ppoll_timeout),
    Case::new("poll.select_pipe", &["select", "pipe"], select_pipe),
    Case::new("poll.pselect6", &["pselect6"], pselect6),
    Case::new(
        "poll.epoll_level",
        &["epoll_create1", "epoll_ctl", "epoll_wait"],
        epoll_level,
    ),
    Case::new(
        "poll.epoll_errors",
        &["epoll_create", "epoll_create1", "epoll_ctl"],
        epoll_errors,
    ),
    Case::new("poll.epoll_edge", &["epoll_ctl", "epoll_wait"], epoll_edge),
    Case::new(
        "poll.epoll_oneshot",
        &["epoll_ctl", "epoll_wait"],
        epoll_oneshot,
    ),
    Case::new(
        "poll.epoll_pwait_nested",
        &["epoll_pwait", "epoll_ctl"],
        epoll_pwait_nested,
    ),
    Case::new(
        "poll.eventfd_counter",
        &["eventfd2", "read", "write"],
        eventfd_counter,
    ),
    Case::new(
        "poll.eventfd_semaphore",
        &["eventfd2", "read", "write"],
        eventfd_semaphore,
    ),
    Case::new(
        "poll.timerfd_relative",
        &[
            "timerfd_create",
            "timerfd_settime",
            "timerfd_gettime",
            "read",
            "poll",
        ],
        timerfd_relative,
    ),
    Case::new(
        "poll.timerfd_abstime",
        &["timerfd_create", "timerfd_settime", "clock_gettime", "read"],
        timerfd_abstime,
    ),
    Case::new(
        "poll.signalfd",
        &["signalfd4", "rt_sigprocmask", "kill", "read", "poll"],
        signalfd,
    ),
    Case::new("poll.pidfd", &["pidfd_open", "poll", "waitid"], pidfd),
    Case::new(
        "poll.legacy_eventfd_signalfd",
        &["eventfd", "signalfd", "rt_sigprocmask"],
        legacy_eventfd_signalfd,
    ),
    Case::new(
        "poll.epoll_pwait2",
        &["epoll_pwait2", "epoll_ctl"],
        epoll_pwait2,
    ),
];

fn poll_pipe(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe", sys::pipe())?;
    let (n, rev) = c.must("poll_empty", sys::poll(&[(r, POLLIN), (w, POLLOUT)], 0))?;
    c.rec("empty", format!("{n} {:?}", rev));
    need("write", sys::write(w, b"x"))?;
    let (n, rev) = c.must("poll_data", sys::poll(&[(r, POLLIN), (w, POLLOUT)], 0))?;
    c.rec("with_data", format!("{n} {:?}", rev));
    let (n, rev) = c.must(
        "poll_ignored_negative",
        sys::poll(&[(-1, POLLIN), (r, POLLIN)], 0),
    )?;
    c.rec("negative_fd", format!("{n} {:?}", rev));
    Ok(())
}

fn poll_nval_hup(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe", sys::pipe())?;
    let (x, y) = need("pipe", sys::pipe())?;
    sys::close(x);
    let (n, rev) = c.must("poll_closed_fd", sys::poll(&[(x, POLLIN)], 0))?;
    c.rec("nval", format!("{n} {:?}", rev));
    sys::close(w);
    let (n, rev) = c.must("poll_hup", sys::poll(&[(r, POLLIN)], 0))?;
    c.rec("hup", format!("{n} {:?}", rev));
    sys::close(r);
    let (n, rev) = c.must("poll_err_writer", sys::poll(&[(y, POLLOUT)], 0))?;
    c.rec("writer_no_reader", format!("{n} {:?}", rev));
    c.errno(
        "poll_too_many",
        sys::poll(&vec![(0, POLLIN); 1 << 20], 0),
        Errno::EINVAL,
    );
    Ok(())
}

fn ppoll_timeout(c: &mut Ctx) -> Outcome {
    let (r, _w) = need("pipe", sys::pipe())?;
    let t0 = sys::mono_ns();
    let (n, _) = c.must("ppoll_20ms", sys::ppoll(&[(r, POLLIN)], Some(20), None))?;
    let dt = sys::mono_ns() - t0;
    c.eq("timed_out", n, 0);
    c.eq("waited_at_least_20ms", dt >= 20_000_000, true);
    let (n, _) = c.must("ppoll_zero", sys::ppoll(&[(r, POLLIN)], Some(0), Some(0)))?;
    c.eq("zero_timeout", n, 0);
    Ok(())
}

fn select_pipe(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe", sys::pipe())?;
    let (n, rs, ws) = c.must("select_empty", sys::select(w + 1, &[r], &[w], Some(0)))?;
    c.rec(
        "empty",
        format!("{n} r={} w={}", sys::fdisset(&rs, r), sys::fdisset(&ws, w)),
    );
    need("write", sys::write(w, b"x"))?;
    let (n, rs, _) = c.must("select_data", sys::select(w + 1, &[r], &[], Some(0)))?;
    c.rec("with_data", format!("{n} r={}", sys::fdisset(&rs, r)));
    // A closed fd below nfds (an fd at or above the fd table's size would be silently ignored by the kernel, and
    // that size depends on what the process inherited).
    let (x, y) = need("pipe", sys::pipe())?;
    sys::close(x);
    c.errno(
        "select_closed_fd",
        sys::select(y + 1, &[x], &[], Some(0)),
        Errno::EBADF,
    );
    c.errno(
        "select_negative_nfds",
        sys::select(-1, &[], &[], Some(0)),
        Errno::EINVAL,
    );
    let t0 = sys::mono_ns();
    let (n, _, _) = c.must("select_timeout", sys::select(0, &[], &[], Some(20)))?;
    c.eq("timeout_count", n, 0);
    c.eq("slept", sys::mono_ns() - t0 >= 20_000_000, true);
    Ok(())
}

fn pselect6(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe", sys::pipe())?;
    need("write", sys::write(w, b"x"))?;
    let (n, rs) = c.must("pselect", sys::pselect(r + 1, &[r], Some(0), Some(0)))?;
    c.rec("ready", format!("{n} {}", sys::fdisset(&rs, r)));
    let (x, _y) = need("pipe", sys::pipe())?;
    let (n, _) = c.must("pselect_timeout", sys::pselect(x + 1, &[x], Some(10), None))?;
    c.eq("timeout", n, 0);
    Ok(())
}

fn epoll_level(c: &mut Ctx) -> Outcome {
    let ep = int(c.mustn(
        "epoll_create1",
        sc!(libc::SYS_epoll_create1, libc::EPOLL_CLOEXEC),
    )?);
    let (r, w) = need("pipe", sys::pipe())?;
    let ev = |e: i32, d: u64| Some(sys::epoll_event(u32::from_ne_bytes(e.to_ne_bytes()), d));
    c.ret(
        "ctl_add",
        sys::epoll_ctl(ep, EPOLL_CTL_ADD, r, ev(EPOLLIN, 7)),
    )
    .ok();
    let got = c.must("wait_empty", sys::epoll_wait(ep, 8, 0, None))?;
    c.rec("empty", format!("{got:?}"));
    need("write", sys::write(w, b"x"))?;
    let got = c.must("wait_data", sys::epoll_wait(ep, 8, 0, None))?;
    c.rec("data", format!("{got:?}"));
    let got = c.must("wait_again_level", sys::epoll_wait(ep, 8, 0, None))?;
    c.rec("still_ready", format!("{got:?}"));
    c.ret(
        "ctl_add_w",
        sys::epoll_ctl(ep, EPOLL_CTL_ADD, w, ev(EPOLLOUT, 9)),
    )
    .ok();
    let mut got = c.must("wait_both", sys::epoll_wait(ep, 8, 0, None))?;
    got.sort_by_key(|e| e.1);
    c.rec("both", format!("{got:?}"));
    c.ret(
        "ctl_mod",
        sys::epoll_ctl(ep, EPOLL_CTL_MOD, r, ev(EPOLLOUT, 8)),
    )
    .ok();
    c.ret("ctl_del", sys::epoll_ctl(ep, EPOLL_CTL_DEL, w, None))
        .ok();
    let got = c.must("wait_after_mod_del", sys::epoll_wait(ep, 8, 0, None))?;
    c.rec("after", format!("{got:?}"));
    c.ret("getfd", sys::fcntl(ep, libc::F_GETFD, 0)).ok();
    Ok(())
}

fn epoll_errors(c: &mut Ctx) -> Outcome {
    c.errno("create_zero", sc!(libc::SYS_epoll_create, 0), Errno::EINVAL);
    c.errno(
        "create1_bad_flags",
        sc!(libc::SYS_epoll_create1, 1),
        Errno::EINVAL,
    );
    let ep = int(c.mustn("epoll_create", sc!(libc::SYS_epoll_create, 1))?);
    let (r, _w) = need("pipe", sys::pipe())?;
    let e = Some(sys::epoll_event(1, 0));
    need("add", sys::epoll_ctl(ep, EPOLL_CTL_ADD, r, e))?;
    c.errno(
        "add_twice",
        sys::epoll_ctl(ep, EPOLL_CTL_ADD, r, e),
        Errno::EEXIST,
    );
    let (x, _y) = need("pipe", sys::pipe())?;
    c.errno(
        "del_missing",
        sys::epoll_ctl(ep, EPOLL_CTL_DEL, x, None),
        Errno::ENOENT,
    );
    c.errno(
        "mod_missing",
        sys::epoll_ctl(ep, EPOLL_CTL_MOD, x, e),
        Errno::ENOENT,
    );
    c.errno(
        "add_self",
        sys::epoll_ctl(ep, EPOLL_CTL_ADD, ep, e),
        Errno::EINVAL,
    );
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", libc::O_RDONLY, 0)?;
    c.errno(
        "add_regular_file",
        sys::epoll_ctl(ep, EPOLL_CTL_ADD, f, e),
        Errno::EPERM,
    );
    c.errno(
        "bad_epfd",
        sys::epoll_ctl(9999, EPOLL_CTL_ADD, r, e),
        Errno::EBADF,
    );
    c.errno(
        "epfd_not_epoll",
        sys::epoll_ctl(r, EPOLL_CTL_ADD, x, e),
        Errno::EINVAL,
    );
    c.errno("bad_op", sys::epoll_ctl(ep, 99, x, e), Errno::EINVAL);
    c.errno(
        "wait_maxevents_zero",
        sys::epoll_wait(ep, 0, 0, None),
        Errno::EINVAL,
    );
    Ok(())
}

fn epoll_edge(c: &mut Ctx) -> Outcome {
    let ep = int(need("epoll_create1", sc!(libc::SYS_epoll_create1, 0))?);
    let (r, w) = need("pipe", sys::pipe())?;
    let events = u32::from_ne_bytes((EPOLLIN | EPOLLET).to_ne_bytes());
    c.ret(
        "ctl_add_et",
        sys::epoll_ctl(ep, EPOLL_CTL_ADD, r, Some(sys::epoll_event(events, 1))),
    )
    .ok();
    need("write", sys::write(w, b"a"))?;
    let a = c.must("wait1", sys::epoll_wait(ep, 4, 0, None))?;
    let b = c.must("wait2_no_new_edge", sys::epoll_wait(ep, 4, 0, None))?;
    need("write", sys::write(w, b"b"))?;
    let d = c.must("wait3_new_edge", sys::epoll_wait(ep, 4, 0, None))?;
    c.rec("counts", vec![a.len(), b.len(), d.len()]);
    Ok(())
}

fn epoll_oneshot(c: &mut Ctx) -> Outcome {
    let ep = int(need("epoll_create1", sc!(libc::SYS_epoll_create1, 0))?);
    let (r, w) = need("pipe", sys::pipe())?;
    let events = u32::from_ne_bytes((EPOLLIN | EPOLLONESHOT).to_ne_bytes());
    c.ret(
        "ctl_add_oneshot",
        sys::epoll_ctl(ep, EPOLL_CTL_ADD, r, Some(sys::epoll_event(events, 1))),
    )
    .ok();
    need("write", sys::write(w, b"a"))?;
    let a = c.must("wait1", sys::epoll_wait(ep, 4, 0, None))?;
    let b = c.must("wait2_disarmed", sys::epoll_wait(ep, 4, 0, None))?;
    c.ret(
        "rearm",
        sys::epoll_ctl(ep, EPOLL_CTL_MOD, r, Some(sys::epoll_event(events, 2))),
    )
    .ok();
    let d = c.must("wait3_rearmed", sys::epoll_wait(ep, 4, 0, None))?;
    c.rec("results", format!("{a:?} {b:?} {d:?}"));
    Ok(())
}

fn epoll_pwait_nested(c: &mut Ctx) -> Outcome {
    let inner = int(need("epoll_create1", sc!(libc::SYS_epoll_create1, 0))?);
    let outer = int(need("epoll_create1", sc!(libc::SYS_epoll_create1, 0))?);
    let (r, w) = need("pipe", sys::pipe())?;
    let inn = u32::from_ne_bytes(EPOLLIN.to_ne_bytes());
    need(
        "add inner",
        sys::epoll_ctl(inner, EPOLL_CTL_ADD, r, Some(sys::epoll_event(inn, 1))),
    )?;
    c.ret(
        "add_epoll_in_epoll",
        sys::epoll_ctl(outer, EPOLL_CTL_ADD, inner, Some(sys::epoll_event(inn, 2))),
    )
    .ok();
    let a = c.must("pwait_empty", sys::epoll_wait(outer, 4, 0, Some(0)))?;
    need("write", sys::write(w, b"x"))?;
    let b = c.must("pwait_ready", sys::epoll_wait(outer, 4, 0, Some(0)))?;
    c.rec("results", format!("{a:?} {b:?}"));
    c.errno(
        "loop",
        sys::epoll_ctl(inner, EPOLL_CTL_ADD, outer, Some(sys::epoll_event(inn, 3))),
        Errno::ELOOP,
    );
    Ok(())
}

fn read_u64(fd: i32) -> Result<u64, Errno> {
    let b = sys::read(fd, 8)?;
    Ok(u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
}

fn eventfd_counter(c: &mut Ctx) -> Outcome {
    let e = int(c.mustn("eventfd2", sc!(libc::SYS_eventfd2, 3, libc::EFD_NONBLOCK))?);
    c.ret(
        "read_initial",
        read_u64(e).map(|v| i64::try_from(v).unwrap_or(-1)),
    )
    .ok();
    c.errno("read_empty", read_u64(e), Errno::EAGAIN);
    c.ret("write5", sys::write(e, &5u64.to_ne_bytes())).ok();
    c.ret("write5b", sys::write(e, &5u64.to_ne_bytes())).ok();
    c.ret(
        "read_sum",
        read_u64(e).map(|v| i64::try_from(v).unwrap_or(-1)),
    )
    .ok();
    c.errno(
        "write_max",
        sys::write(e, &u64::MAX.to_ne_bytes()),
        Errno::EINVAL,
    );
    c.errno("read_small_buf", sys::read(e, 4), Errno::EINVAL);
    c.errno("bad_flags", sc!(libc::SYS_eventfd2, 0, 0x2), Errno::EINVAL);
    c.ret(
        "write_near_max",
        sys::write(e, &(u64::MAX - 1).to_ne_bytes()),
    )
    .ok();
    c.errno(
        "write_overflow_nonblock",
        sys::write(e, &1u64.to_ne_bytes()),
        Errno::EAGAIN,
    );
    Ok(())
}

fn eventfd_semaphore(c: &mut Ctx) -> Outcome {
    let e = int(c.mustn(
        "eventfd2",
        sc!(
            libc::SYS_eventfd2,
            0,
            libc::EFD_SEMAPHORE | libc::EFD_NONBLOCK
        ),
    )?);
    c.ret("write3", sys::write(e, &3u64.to_ne_bytes())).ok();
    let mut vals = Vec::new();
    for _ in 0..3 {
        vals.push(need("read", read_u64(e))?);
    }
    c.rec("reads", vals);
    c.errno("read_exhausted", read_u64(e), Errno::EAGAIN);
    Ok(())
}

fn timerfd_relative(c: &mut Ctx) -> Outcome {
    let t = int(c.mustn(
        "timerfd_create",
        sc!(
            libc::SYS_timerfd_create,
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK
        ),
    )?);
    let old = c.must(
        "settime",
        sys::timerfd_settime(t, 0, &sys::itimerspec(0, 30)),
    )?;
    c.eq(
        "old_disarmed",
        old.it_value.tv_sec == 0 && old.it_value.tv_nsec == 0,
        true,
    );
    let cur = c.must("gettime", sys::timerfd_gettime(t))?;
    c.eq(
        "armed",
        cur.it_value.tv_nsec > 0 || cur.it_value.tv_sec > 0,
        true,
    );
    c.errno("read_early", read_u64(t), Errno::EAGAIN);
    let (n, _) = c.must("poll_wait", sys::poll(&[(t, POLLIN)], 5000))?;
    c.eq("poll_ready", n, 1);
    c.ret(
        "expirations",
        read_u64(t).map(|v| i64::try_from(v).unwrap_or(-1)),
    )
    .ok();
    c.errno(
        "create_bad_clock",
        sc!(libc::SYS_timerfd_create, 99, 0),
        Errno::EINVAL,
    );
    c.errno(
        "settime_bad_flags",
        sys::timerfd_settime(t, 0x40, &sys::itimerspec(0, 10)),
        Errno::EINVAL,
    );
    let bad = libc::itimerspec {
        it_interval: sys::ts_ms(0),
        it_value: libc::timespec {
            tv_sec: 0,
            tv_nsec: 2_000_000_000,
        },
    };
    c.errno(
        "settime_bad_nsec",
        sys::timerfd_settime(t, 0, &bad),
        Errno::EINVAL,
    );
    Ok(())
}

fn timerfd_abstime(c: &mut Ctx) -> Outcome {
    let t = int(need(
        "timerfd_create",
        sc!(
            libc::SYS_timerfd_create,
            libc::CLOCK_REALTIME,
            libc::TFD_NONBLOCK
        ),
    )?);
    let now = need("clock_gettime", sys::clock_gettime(libc::CLOCK_REALTIME))?;
    let past = libc::itimerspec {
        it_interval: sys::ts_ms(0),
        it_value: libc::timespec {
            tv_sec: now.tv_sec - 10,
            tv_nsec: 0,
        },
    };
    c.ret(
        "settime_abs_past",
        sys::timerfd_settime(t, libc::TFD_TIMER_ABSTIME, &past).map(|_| 0),
    )
    .ok();
    c.ret(
        "expired_at_once",
        read_u64(t).map(|v| i64::try_from(v).unwrap_or(-1)),
    )
    .ok();
    let cur = c.must("gettime_disarmed", sys::timerfd_gettime(t))?;
    c.eq(
        "disarmed",
        cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0,
        true,
    );
    Ok(())
}

fn signalfd(c: &mut Ctx) -> Outcome {
    let mask = sys::sigbit(libc::SIGUSR1);
    need("block", sys::sigprocmask(libc::SIG_BLOCK, Some(mask)))?;
    let s = sys::call(
        libc::SYS_signalfd4,
        &[
            sys::Arg::i(-1),
            sys::Arg::r(&mask),
            sys::Arg::n(8),
            sys::Arg::i(libc::SFD_NONBLOCK | libc::SFD_CLOEXEC),
        ],
    );
    let s = int(c.mustn("signalfd4", s)?);
    c.errno("read_empty", sys::read(s, 128), Errno::EAGAIN);
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    c.ret("kill_self", sc!(libc::SYS_kill, me, libc::SIGUSR1))
        .ok();
    let (n, _) = c.must("poll", sys::poll(&[(s, POLLIN)], 1000))?;
    c.eq("readable", n, 1);
    let b = c.must("read", sys::read(s, 128))?;
    c.eq("size", b.len(), 128);
    let word = |i: usize| {
        i32::from_ne_bytes(
            b.get(i..i + 4)
                .and_then(|x| x.try_into().ok())
                .unwrap_or([0; 4]),
        )
    };
    c.eq("ssi_signo", word(0), libc::SIGUSR1);
    c.eq("ssi_code_si_user", word(8), libc::SI_USER);
    c.eq("ssi_pid_is_self", i64::from(word(12)) == me, true);
    c.errno("read_small", sys::read(s, 16), Errno::EINVAL);
    Ok(())
}

fn pidfd(c: &mut Ctx) -> Outcome {
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let _ = sys::nanosleep(0, 50_000_000);
            3
        }),
    )?;
    let p = match sc!(libc::SYS_pidfd_open, pid, 0) {
        Ok(p) => int(p),
        Err(Errno::ENOSYS) => {
            sys::reap(pid);
            return Err(crate::case::Stop::Skip("pidfd_open not available".into()));
        }
        Err(e) => {
            sys::reap(pid);
            return Err(crate::case::Stop::Fail(format!("pidfd_open: {e:?}")));
        }
    };
    c.rec("pidfd_open", "ok");
    let (n, _) = c.must("poll_not_yet", sys::poll(&[(p, POLLIN)], 0))?;
    c.eq("running", n, 0);
    let (n, _) = c.must("poll_exit", sys::poll(&[(p, POLLIN)], 5000))?;
    c.eq("exited", n, 1);
    let info = c.must("waitid_pidfd", sys::waitid(3, p, libc::WEXITED))?;
    c.rec("si_code", info[2]);
    c.rec("si_status", info[6]);
    c.errno(
        "pidfd_open_bad_flags",
        sc!(libc::SYS_pidfd_open, 1, 0x1),
        Errno::EINVAL,
    );
    c.errno(
        "pidfd_open_missing",
        sc!(libc::SYS_pidfd_open, 4_000_000, 0),
        Errno::ESRCH,
    );
    Ok(())
}

fn legacy_eventfd_signalfd(c: &mut Ctx) -> Outcome {
    let e = int(c.mustn("eventfd", sc!(libc::SYS_eventfd, 7))?);
    c.ret("read", read_u64(e).map(|v| i64::try_from(v).unwrap_or(-1)))
        .ok();
    c.ret("getfd", sys::fcntl(e, libc::F_GETFD, 0)).ok();
    let mask = sys::sigbit(libc::SIGUSR2);
    need("block", sys::sigprocmask(libc::SIG_BLOCK, Some(mask)))?;
    let s = sys::call(
        libc::SYS_signalfd,
        &[sys::Arg::i(-1), sys::Arg::r(&mask), sys::Arg::n(8)],
    );
    let s = int(c.mustn("signalfd", s)?);
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    need("kill", sc!(libc::SYS_kill, me, libc::SIGUSR2))?;
    let b = c.must("read_siginfo", sys::read(s, 128))?;
    c.eq(
        "signo",
        i32::from_ne_bytes(b.get(..4).and_then(|x| x.try_into().ok()).unwrap_or([0; 4])),
        libc::SIGUSR2,
    );
    let bad = sys::call(
        libc::SYS_signalfd,
        &[sys::Arg::i(-1), sys::Arg::r(&mask), sys::Arg::n(4)],
    );
    c.errno("bad_mask_size", bad, Errno::EINVAL);
    Ok(())
}

fn epoll_pwait2(c: &mut Ctx) -> Outcome {
    let ep = int(need("epoll_create1", sc!(libc::SYS_epoll_create1, 0))?);
    let (r, w) = need("pipe", sys::pipe())?;
    let inn = u32::from_ne_bytes(EPOLLIN.to_ne_bytes());
    need(
        "add",
        sys::epoll_ctl(ep, EPOLL_CTL_ADD, r, Some(sys::epoll_event(inn, 5))),
    )?;
    let t0 = sys::mono_ns();
    let got = match sys::epoll_pwait2(ep, 4, Some(20)) {
        Err(Errno::ENOSYS) => {
            return Err(crate::case::Stop::Skip(
                "epoll_pwait2 not in this kernel".into(),
            ))
        }
        other => c.must("pwait2_timeout", other)?,
    };
    c.eq("empty", got.len(), 0);
    c.eq("waited", sys::mono_ns() - t0 >= 20_000_000, true);
    need("write", sys::write(w, b"x"))?;
    let got = c.must("pwait2_ready", sys::epoll_pwait2(ep, 4, Some(0)))?;
    c.rec("ready", format!("{got:?}"));
    Ok(())
}
