//! Clock, sleep and timer wrappers (they write timespecs and timer ids into the caller's memory).

use nix::errno::Errno;

use super::raw::{ai, pm, sc6, R};

/// A timespec of `ms` milliseconds.
pub fn ts_ms(ms: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: ms / 1000,
        tv_nsec: (ms % 1000) * 1_000_000,
    }
}

/// clock_gettime(2).
pub fn clock_gettime(clk: i32) -> Result<libc::timespec, Errno> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a writable timespec.
    unsafe { sc6(libc::SYS_clock_gettime, [ai(clk), pm(&mut t), 0, 0, 0, 0]) }?;
    Ok(t)
}

/// clock_getres(2).
pub fn clock_getres(clk: i32) -> Result<libc::timespec, Errno> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a writable timespec.
    unsafe { sc6(libc::SYS_clock_getres, [ai(clk), pm(&mut t), 0, 0, 0, 0]) }?;
    Ok(t)
}

/// Nanoseconds of a timespec.
pub fn ns(t: &libc::timespec) -> i128 {
    i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec)
}

/// CLOCK_MONOTONIC now, in nanoseconds (fixture helper).
pub fn mono_ns() -> i128 {
    clock_gettime(libc::CLOCK_MONOTONIC)
        .map(|t| ns(&t))
        .unwrap_or(0)
}

/// gettimeofday(2).
pub fn gettimeofday() -> Result<libc::timeval, Errno> {
    let mut t = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: `t` is a writable timeval; the timezone pointer is NULL.
    unsafe { sc6(libc::SYS_gettimeofday, [pm(&mut t), 0, 0, 0, 0, 0]) }?;
    Ok(t)
}

/// time(2) with a result pointer.
pub fn time() -> Result<(i64, i64), Errno> {
    let mut t = 0i64;
    // SAFETY: `t` is a writable time_t.
    let r = unsafe { sc6(libc::SYS_time, [pm(&mut t), 0, 0, 0, 0, 0]) }?;
    Ok((r, t))
}

/// nanosleep(2) with raw fields (to test EINVAL); returns the remaining time.
pub fn nanosleep(sec: i64, nsec: i64) -> Result<libc::timespec, Errno> {
    let req = libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    };
    let mut rem = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `req` is a readable timespec, `rem` a writable one.
    unsafe {
        sc6(
            libc::SYS_nanosleep,
            [std::ptr::from_ref(&req) as u64, pm(&mut rem), 0, 0, 0, 0],
        )
    }?;
    Ok(rem)
}

/// clock_nanosleep(2).
pub fn clock_nanosleep(clk: i32, flags: i32, t: &libc::timespec) -> R {
    // SAFETY: `t` is a readable timespec; the remaining-time pointer is NULL.
    unsafe {
        sc6(
            libc::SYS_clock_nanosleep,
            [ai(clk), ai(flags), std::ptr::from_ref(t) as u64, 0, 0, 0],
        )
    }
}

/// An itimerspec.
pub fn itimerspec(interval_ms: i64, value_ms: i64) -> libc::itimerspec {
    libc::itimerspec {
        it_interval: ts_ms(interval_ms),
        it_value: ts_ms(value_ms),
    }
}

fn zero_its() -> libc::itimerspec {
    itimerspec(0, 0)
}

/// timer_create(2) delivering `signo` (SIGEV_SIGNAL) with value `val`.
pub fn timer_create(clk: i32, signo: i32, val: i32) -> Result<i32, Errno> {
    // SAFETY: libc::sigevent is a plain C struct; all-zero is a valid value.
    let mut ev: libc::sigevent = unsafe { std::mem::zeroed() };
    ev.sigev_notify = libc::SIGEV_SIGNAL;
    ev.sigev_signo = signo;
    ev.sigev_value = libc::sigval {
        sival_ptr: usize::try_from(val).unwrap_or(0) as *mut libc::c_void,
    };
    let mut id = 0i32;
    // SAFETY: `ev` is a readable sigevent; `id` is a writable kernel timer_t (int).
    unsafe {
        sc6(
            libc::SYS_timer_create,
            [
                ai(clk),
                std::ptr::from_ref(&ev) as u64,
                pm(&mut id),
                0,
                0,
                0,
            ],
        )
    }?;
    Ok(id)
}

/// timer_settime(2); returns the old value.
pub fn timer_settime(id: i32, flags: i32, v: &libc::itimerspec) -> Result<libc::itimerspec, Errno> {
    let mut old = zero_its();
    // SAFETY: `v` is a readable itimerspec, `old` a writable one.
    unsafe {
        sc6(
            libc::SYS_timer_settime,
            [
                ai(id),
                ai(flags),
                std::ptr::from_ref(v) as u64,
                pm(&mut old),
                0,
                0,
            ],
        )
    }?;
    Ok(old)
}

/// timer_gettime(2).
pub fn timer_gettime(id: i32) -> Result<libc::itimerspec, Errno> {
    let mut cur = zero_its();
    // SAFETY: `cur` is a writable itimerspec.
    unsafe { sc6(libc::SYS_timer_gettime, [ai(id), pm(&mut cur), 0, 0, 0, 0]) }?;
    Ok(cur)
}

/// timerfd_settime(2); returns the old value.
pub fn timerfd_settime(
    fd: i32,
    flags: i32,
    v: &libc::itimerspec,
) -> Result<libc::itimerspec, Errno> {
    let mut old = zero_its();
    // SAFETY: `v` is a readable itimerspec, `old` a writable one.
    unsafe {
        sc6(
            libc::SYS_timerfd_settime,
            [
                ai(fd),
                ai(flags),
                std::ptr::from_ref(v) as u64,
                pm(&mut old),
                0,
                0,
            ],
        )
    }?;
    Ok(old)
}

/// timerfd_gettime(2).
pub fn timerfd_gettime(fd: i32) -> Result<libc::itimerspec, Errno> {
    let mut cur = zero_its();
    // SAFETY: `cur` is a writable itimerspec.
    unsafe {
        sc6(
            libc::SYS_timerfd_gettime,
            [ai(fd), pm(&mut cur), 0, 0, 0, 0],
        )
    }?;
    Ok(cur)
}

/// setitimer(2) in milliseconds; returns the old value.
pub fn setitimer(which: i32, interval_ms: i64, value_ms: i64) -> Result<libc::itimerval, Errno> {
    let tv = |ms: i64| libc::timeval {
        tv_sec: ms / 1000,
        tv_usec: (ms % 1000) * 1000,
    };
    let new = libc::itimerval {
        it_interval: tv(interval_ms),
        it_value: tv(value_ms),
    };
    let mut old = libc::itimerval {
        it_interval: tv(0),
        it_value: tv(0),
    };
    // SAFETY: `new` is a readable itimerval, `old` a writable one.
    unsafe {
        sc6(
            libc::SYS_setitimer,
            [
                ai(which),
                std::ptr::from_ref(&new) as u64,
                pm(&mut old),
                0,
                0,
                0,
            ],
        )
    }?;
    Ok(old)
}

/// getitimer(2).
pub fn getitimer(which: i32) -> Result<libc::itimerval, Errno> {
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut cur = libc::itimerval {
        it_interval: tv,
        it_value: tv,
    };
    // SAFETY: `cur` is a writable itimerval.
    unsafe { sc6(libc::SYS_getitimer, [ai(which), pm(&mut cur), 0, 0, 0, 0]) }?;
    Ok(cur)
}
