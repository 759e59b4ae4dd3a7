//! The raw syscall entry and the helpers every wrapper shares.
//!
//! The probe issues syscalls by number (`libc::syscall`) so that each case exercises exactly the syscall it names —
//! `open`, not whatever glibc's `open()` maps to today. Every wrapper in `sys` is safe: it takes references or owned
//! buffers whose lengths it passes itself, so the kernel never reads or writes outside memory the wrapper owns.

use std::ffi::CString;

use nix::errno::Errno;

/// A syscall's result: the returned value, or the errno.
pub type R = Result<i64, Errno>;

/// Converts a raw `syscall()` return value.
pub fn ret(r: libc::c_long) -> R {
    if r == -1 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// Converts a libc function's int return value.
pub fn reti(r: libc::c_int) -> R {
    ret(libc::c_long::from(r))
}

/// A C string from a Rust string literal used as a path or name.
pub fn cs(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

/// Narrows a returned fd (or another small number) to an int; values from the kernel always fit.
pub fn int(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(-1)
}

/// A usize length as the kernel's long.
pub fn ulen(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Issues one syscall with six integer arguments.
///
/// # Safety
/// Every argument the syscall interprets as a pointer must be valid for the access that syscall performs, for the
/// length the other arguments give, and the call must not unmap or remap memory Rust still uses.
pub unsafe fn sc6(nr: i64, a: [u64; 6]) -> R {
    // SAFETY: the caller guarantees the pointer arguments (see this function's contract).
    ret(unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) })
}

/// Issues a syscall whose arguments are all plain integers the kernel validates, and which cannot change the memory
/// map or any state Rust relies on. Only the syscall numbers listed here are accepted; any other returns ENOSYS
/// without entering the kernel.
pub fn scalar(nr: i64, a: [u64; 6]) -> R {
    const OK: &[i64] = &[
        libc::SYS_getpid,
        libc::SYS_getppid,
        libc::SYS_gettid,
        libc::SYS_getuid,
        libc::SYS_geteuid,
        libc::SYS_getgid,
        libc::SYS_getegid,
        libc::SYS_setuid,
        libc::SYS_setgid,
        libc::SYS_setreuid,
        libc::SYS_setregid,
        libc::SYS_setresuid,
        libc::SYS_setresgid,
        libc::SYS_setfsuid,
        libc::SYS_setfsgid,
        libc::SYS_getpgid,
        libc::SYS_setpgid,
        libc::SYS_getpgrp,
        libc::SYS_getsid,
        libc::SYS_setsid,
        libc::SYS_kill,
        libc::SYS_tkill,
        libc::SYS_tgkill,
        libc::SYS_close,
        libc::SYS_dup,
        libc::SYS_dup2,
        libc::SYS_dup3,
        libc::SYS_close_range,
        libc::SYS_fcntl,
        libc::SYS_fsync,
        libc::SYS_fdatasync,
        libc::SYS_sync,
        libc::SYS_syncfs,
        libc::SYS_ftruncate,
        libc::SYS_fallocate,
        libc::SYS_fchmod,
        libc::SYS_fchown,
        libc::SYS_fchdir,
        libc::SYS_flock,
        libc::SYS_lseek,
        libc::SYS_umask,
        libc::SYS_listen,
        libc::SYS_shutdown,
        libc::SYS_socket,
        libc::SYS_eventfd2,
        libc::SYS_epoll_create1,
        libc::SYS_epoll_create,
        libc::SYS_timerfd_create,
        libc::SYS_inotify_init1,
        libc::SYS_inotify_rm_watch,
        libc::SYS_alarm,
        libc::SYS_pause,
        libc::SYS_sched_yield,
        libc::SYS_sched_getscheduler,
        libc::SYS_getpriority,
        libc::SYS_setpriority,
        libc::SYS_personality,
        libc::SYS_unshare,
        libc::SYS_exit,
        libc::SYS_exit_group,
        libc::SYS_pidfd_open,
        libc::SYS_pidfd_send_signal,
        libc::SYS_timer_delete,
        libc::SYS_timer_getoverrun,
        libc::SYS_ioprio_get,
        libc::SYS_ioprio_set,
        libc::SYS_tee,
        libc::SYS_splice,
        libc::SYS_vhangup,
        libc::SYS_getpgrp,
    ];
    if !OK.contains(&nr) {
        return Err(Errno::ENOSYS);
    }
    // SAFETY: every syscall in OK takes only integer arguments (or, for splice, null offset pointers when the
    // arguments are zero), so no argument is dereferenced as memory of this process, and none of them maps,
    // unmaps or protects memory.
    unsafe { sc6(nr, a) }
}

/// Converts an int argument (possibly negative, like AT_FDCWD) to a register value.
pub fn a(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

/// Converts an i32 argument to a register value, sign-extended as the kernel expects for int arguments.
pub fn ai(v: i32) -> u64 {
    a(i64::from(v))
}

/// The address of a value as a register argument.
pub fn p<T>(r: &T) -> u64 {
    std::ptr::from_ref(r) as u64
}

/// The address of a mutable value as a register argument.
pub fn pm<T>(r: &mut T) -> u64 {
    std::ptr::from_mut(r) as u64
}

/// The address of a byte slice.
pub fn pb(b: &[u8]) -> u64 {
    b.as_ptr() as u64
}

/// The address of a mutable byte slice.
pub fn pbm(b: &mut [u8]) -> u64 {
    b.as_mut_ptr() as u64
}

/// The address of a C string.
pub fn pc(c: &std::ffi::CStr) -> u64 {
    c.as_ptr() as u64
}

/// Exits the current process at once (no atexit handlers, no stdio flush): for forked children.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Forks; the child runs `f` and `_exit`s with its return value, the parent gets the child's pid.
///
/// The probe forks only while it is single-threaded (thread cases join their threads before forking), so the child
/// has a consistent copy of the allocator's and stdio's locks.
pub fn fork_run(f: impl FnOnce() -> i32) -> R {
    // SAFETY: fork has no memory-safety preconditions; see the single-threaded note above for the child's state.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = f();
        exit_now(code);
    }
    reti(pid)
}

/// The calling thread's errno-preserving, async-signal-safe raw write to fd 2 (for debugging children).
pub fn errno_of(r: R) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e as i32,
    }
}
