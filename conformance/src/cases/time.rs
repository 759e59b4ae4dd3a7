//! Time and clocks: clock_gettime/getres on every clock, monotonicity, gettimeofday/time agreement, sleeps,
//! POSIX timers, interval timers, alarm, CPU-time clocks, setting the clock without privilege.
#![forbid(unsafe_code)]

use nix::errno::Errno;

use super::helper::need;
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, ns, sigbit};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new(
        "time.clock_gettime_all",
        &["clock_gettime"],
        clock_gettime_all,
    ),
    Case::new("time.clock_getres_all", &["clock_getres"], clock_getres_all),
    Case::new(
        "time.clock_errors",
        &["clock_gettime", "clock_getres"],
        clock_errors,
    ),
    Case::new(
        "time.monotonic_nondecreasing",
        &["clock_gettime"],
        monotonic_nondecreasing,
    ),
    Case::new(
        "time.realtime_agreement",
        &["clock_gettime", "gettimeofday", "time"],
        realtime_agreement,
    ),
    Case::new("time.nanosleep", &["nanosleep"], nanosleep),
    Case::new(
        "time.clock_nanosleep",
        &["clock_nanosleep"],
        clock_nanosleep,
    ),
    Case::new(
        "time.posix_timer",
        &[
            "timer_create",
            "timer_settime",
            "timer_gettime",
            "timer_getoverrun",
            "timer_delete",
            "rt_sigtimedwait",
        ],
        posix_timer,
    ),
    Case::new(
        "time.itimer_real",
        &["setitimer", "getitimer", "rt_sigtimedwait"],
        itimer_real,
    ),
    Case::new("time.alarm", &["alarm"], alarm),
    Case::new(
        "time.cputime_advances",
        &["clock_gettime", "times", "getrusage"],
        cputime_advances,
    ),
    Case::new(
        "time.set_clock_without_privilege",
        &["clock_settime", "settimeofday"],
        set_clock_without_privilege,
    ),
];

const CLOCKS: &[(&str, i32)] = &[
    ("realtime", libc::CLOCK_REALTIME),
    ("monotonic", libc::CLOCK_MONOTONIC),
    ("process_cputime", libc::CLOCK_PROCESS_CPUTIME_ID),
    ("thread_cputime", libc::CLOCK_THREAD_CPUTIME_ID),
    ("monotonic_raw", libc::CLOCK_MONOTONIC_RAW),
    ("realtime_coarse", libc::CLOCK_REALTIME_COARSE),
    ("monotonic_coarse", libc::CLOCK_MONOTONIC_COARSE),
    ("boottime", libc::CLOCK_BOOTTIME),
    ("realtime_alarm", libc::CLOCK_REALTIME_ALARM),
    ("boottime_alarm", libc::CLOCK_BOOTTIME_ALARM),
    ("tai", libc::CLOCK_TAI),
];

fn clock_gettime_all(c: &mut Ctx) -> Outcome {
    for (name, id) in CLOCKS {
        let r = sys::clock_gettime(*id);
        c.st(name, r).ok();
        if let Ok(t) = r {
            c.check(
                &format!("{name} nsec in range"),
                (0..1_000_000_000).contains(&t.tv_nsec),
            );
        }
    }
    Ok(())
}

fn clock_getres_all(c: &mut Ctx) -> Outcome {
    for (name, id) in CLOCKS {
        match sys::clock_getres(*id) {
            Ok(t) => c.rec(name, i64::try_from(ns(&t)).unwrap_or(-1)),
            Err(e) => c.rec(name, crate::case::ename(e)),
        }
    }
    Ok(())
}

fn clock_errors(c: &mut Ctx) -> Outcome {
    c.errno("gettime_bad_clock", sys::clock_gettime(99), Errno::EINVAL);
    c.errno("getres_bad_clock", sys::clock_getres(99), Errno::EINVAL);
    // A process CPU-time clock id is ((~pid) << 3) | CPUCLOCK_SCHED (2).
    let cpu_clock = |pid: i32| ((!pid) << 3) | 2;
    c.errno(
        "missing_pid_cpu_clock",
        sys::clock_gettime(cpu_clock(4_000_000)),
        Errno::EINVAL,
    );
    let me = i32::try_from(sc!(libc::SYS_getpid).unwrap_or(0)).unwrap_or(0);
    c.st("own_pid_cpu_clock", sys::clock_gettime(cpu_clock(me)))
        .ok();
    Ok(())
}

fn monotonic_nondecreasing(c: &mut Ctx) -> Outcome {
    let mut prev = 0i128;
    let mut ok = true;
    for _ in 0..2000 {
        let now = ns(&need(
            "clock_gettime",
            sys::clock_gettime(libc::CLOCK_MONOTONIC),
        )?);
        ok &= now >= prev;
        prev = now;
    }
    c.eq("nondecreasing", ok, true);
    let b = ns(&need("boottime", sys::clock_gettime(libc::CLOCK_BOOTTIME))?);
    c.eq("boottime_ge_monotonic", b >= prev, true);
    Ok(())
}

fn realtime_agreement(c: &mut Ctx) -> Outcome {
    let rt = need("clock_gettime", sys::clock_gettime(libc::CLOCK_REALTIME))?;
    let tv = c.must("gettimeofday", sys::gettimeofday())?;
    let (r, t) = c.must("time", sys::time())?;
    c.eq("time_ret_equals_arg", r == t, true);
    c.eq(
        "gettimeofday_close",
        (tv.tv_sec - rt.tv_sec).abs() <= 1,
        true,
    );
    c.eq("time_close", (t - rt.tv_sec).abs() <= 1, true);
    c.eq("after_2020", rt.tv_sec > 1_577_836_800, true);
    Ok(())
}

fn nanosleep(c: &mut Ctx) -> Outcome {
    let t0 = sys::mono_ns();
    let rem = c.must("sleep_20ms", sys::nanosleep(0, 20_000_000))?;
    c.eq("slept_enough", sys::mono_ns() - t0 >= 20_000_000, true);
    c.eq("no_remainder", rem.tv_sec == 0 && rem.tv_nsec == 0, true);
    c.errno("bad_nsec", sys::nanosleep(0, 1_000_000_000), Errno::EINVAL);
    c.errno("negative_sec", sys::nanosleep(-1, 0), Errno::EINVAL);
    c.st("zero", sys::nanosleep(0, 0)).ok();
    Ok(())
}

fn clock_nanosleep(c: &mut Ctx) -> Outcome {
    let now = need("clock_gettime", sys::clock_gettime(libc::CLOCK_MONOTONIC))?;
    let target_ns = ns(&now) + 20_000_000;
    let target = libc::timespec {
        tv_sec: i64::try_from(target_ns / 1_000_000_000).unwrap_or(0),
        tv_nsec: i64::try_from(target_ns % 1_000_000_000).unwrap_or(0),
    };
    c.ret(
        "abstime",
        sys::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &target),
    )
    .ok();
    c.eq("reached_target", sys::mono_ns() >= target_ns, true);
    c.ret(
        "abstime_past",
        sys::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &now),
    )
    .ok();
    c.ret(
        "relative",
        sys::clock_nanosleep(libc::CLOCK_REALTIME, 0, &sys::ts_ms(5)),
    )
    .ok();
    c.errno(
        "bad_clock",
        sys::clock_nanosleep(99, 0, &sys::ts_ms(1)),
        Errno::EINVAL,
    );
    c.errno(
        "thread_cputime_clock",
        sys::clock_nanosleep(libc::CLOCK_THREAD_CPUTIME_ID, 0, &sys::ts_ms(1)),
        Errno::EOPNOTSUPP,
    );
    Ok(())
}

fn posix_timer(c: &mut Ctx) -> Outcome {
    let set = sigbit(libc::SIGUSR1);
    need("block", sys::sigprocmask(libc::SIG_BLOCK, Some(set)))?;
    let id = c.must(
        "timer_create",
        sys::timer_create(libc::CLOCK_MONOTONIC, libc::SIGUSR1, 77),
    )?;
    let old = c.must(
        "timer_settime",
        sys::timer_settime(id, 0, &sys::itimerspec(0, 20)),
    )?;
    c.eq(
        "old_disarmed",
        old.it_value.tv_sec == 0 && old.it_value.tv_nsec == 0,
        true,
    );
    let cur = c.must("timer_gettime", sys::timer_gettime(id))?;
    c.eq("armed", ns(&cur.it_value) > 0, true);
    let (s, info) = c.must("sigtimedwait", sys::sigtimedwait(set, Some(5000)))?;
    c.rec("signo", s);
    c.rec("si_code", info[2]);
    c.eq("si_value", info[6], 77);
    c.ret("getoverrun", sc!(libc::SYS_timer_getoverrun, id))
        .ok();
    c.ret("timer_delete", sc!(libc::SYS_timer_delete, id)).ok();
    c.errno(
        "delete_again",
        sc!(libc::SYS_timer_delete, id),
        Errno::EINVAL,
    );
    c.errno(
        "create_bad_clock",
        sys::timer_create(99, libc::SIGUSR1, 0),
        Errno::EINVAL,
    );
    Ok(())
}

fn itimer_real(c: &mut Ctx) -> Outcome {
    let set = sigbit(libc::SIGALRM);
    need("block", sys::sigprocmask(libc::SIG_BLOCK, Some(set)))?;
    let old = c.must("setitimer", sys::setitimer(libc::ITIMER_REAL, 0, 30))?;
    c.eq(
        "old_disarmed",
        old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0,
        true,
    );
    let cur = c.must("getitimer", sys::getitimer(libc::ITIMER_REAL))?;
    c.eq(
        "armed",
        cur.it_value.tv_usec > 0 || cur.it_value.tv_sec > 0,
        true,
    );
    let (s, _) = c.must("sigtimedwait", sys::sigtimedwait(set, Some(5000)))?;
    c.rec("signo", s);
    let cur = c.must("getitimer_after", sys::getitimer(libc::ITIMER_REAL))?;
    c.eq(
        "disarmed_after",
        cur.it_value.tv_usec == 0 && cur.it_value.tv_sec == 0,
        true,
    );
    c.st("itimer_virtual", sys::getitimer(libc::ITIMER_VIRTUAL))
        .ok();
    c.errno("bad_which", sys::getitimer(99), Errno::EINVAL);
    Ok(())
}

fn alarm(c: &mut Ctx) -> Outcome {
    c.ret("alarm_set", sc!(libc::SYS_alarm, 100)).ok();
    c.ret("alarm_replace", sc!(libc::SYS_alarm, 50)).ok();
    c.ret("alarm_cancel", sc!(libc::SYS_alarm, 0)).ok();
    c.ret("alarm_none", sc!(libc::SYS_alarm, 0)).ok();
    Ok(())
}

fn cputime_advances(c: &mut Ctx) -> Outcome {
    let a = ns(&need(
        "cputime",
        sys::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID),
    )?);
    let t0 = sys::mono_ns();
    let mut x = 0u64;
    while sys::mono_ns() - t0 < 30_000_000 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    }
    let b = ns(&need(
        "cputime2",
        sys::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID),
    )?);
    c.eq("process_cputime_advanced", b > a, true);
    let t = ns(&need(
        "thread_cputime",
        sys::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID),
    )?);
    c.eq("thread_cputime_positive", t > 0, true);
    let ru = need("getrusage", sys::getrusage(libc::RUSAGE_SELF))?;
    c.eq(
        "rusage_user_or_sys_time",
        ru.ru_utime.tv_sec + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec > 0,
        true,
    );
    c.check("busy loop ran", x != 1);
    Ok(())
}

fn set_clock_without_privilege(c: &mut Ctx) -> Outcome {
    let now = need("clock_gettime", sys::clock_gettime(libc::CLOCK_REALTIME))?;
    c.errno(
        "clock_settime",
        sys::call(
            libc::SYS_clock_settime,
            &[sys::Arg::i(libc::CLOCK_REALTIME), sys::Arg::r(&now)],
        ),
        Errno::EPERM,
    );
    let tv = libc::timeval {
        tv_sec: now.tv_sec,
        tv_usec: 0,
    };
    c.errno(
        "settimeofday",
        sys::call(libc::SYS_settimeofday, &[sys::Arg::r(&tv), sys::Arg::I(0)]),
        Errno::EPERM,
    );
    Ok(())
}
