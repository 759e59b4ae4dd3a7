//! The raw syscall entry and the helpers every wrapper shares.
//!
//! The probe issues syscalls by number (`libc::syscall`) so that each case exercises exactly the syscall it names —
//! `open`, not whatever glibc's `open()` maps to today. Every wrapper in `sys` is safe: it takes references or owned
//! buffers whose lengths it passes itself, so the kernel never reads or writes outside memory the wrapper owns.

use std::ffi::{CStr, CString};
use std::marker::PhantomData;

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

/// One argument of `call`: an integer, or the address of memory the kernel will only read.
#[derive(Clone, Copy)]
pub enum Arg<'a> {
    /// A plain integer (fds, flags, modes; also a deliberately bad address for EFAULT checks).
    I(i64),
    /// The address of memory that outlives the call and that the syscall only reads.
    In(u64, PhantomData<&'a ()>),
}

impl<'a> Arg<'a> {
    /// A C string (a path or a name).
    pub fn s(c: &'a CStr) -> Self {
        Self::In(c.as_ptr() as u64, PhantomData)
    }
    /// Any value the syscall reads (a sockaddr, a timespec pair, an epoll_event).
    pub fn r<T>(v: &'a T) -> Self {
        Self::In(std::ptr::from_ref(v) as u64, PhantomData)
    }
    /// A byte buffer the syscall reads (pass its length as another argument).
    pub fn b(v: &'a [u8]) -> Self {
        Self::In(v.as_ptr() as u64, PhantomData)
    }
    /// An int argument.
    pub fn i(v: i32) -> Self {
        Self::I(i64::from(v))
    }
    /// An unsigned argument.
    pub fn u(v: u32) -> Self {
        Self::I(i64::from(v))
    }
    /// A length.
    pub fn n(v: usize) -> Self {
        Self::I(i64::try_from(v).unwrap_or(i64::MAX))
    }
    fn reg(self) -> u64 {
        match self {
            Self::I(v) => a(v),
            Self::In(p, _) => p,
        }
    }
}

/// Syscalls that never write into the caller's memory and never change its memory map, signal handlers, thread
/// pointer or robust lists: for these, any argument values are memory-safe (a bad pointer is at most read, which
/// the kernel turns into EFAULT).
const IN_ONLY: &[i64] = &[
    // identity, processes, signals by number
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
    libc::SYS_rt_sigqueueinfo,
    libc::SYS_rt_tgsigqueueinfo,
    libc::SYS_pidfd_open,
    libc::SYS_pidfd_send_signal,
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
    libc::SYS_ioprio_get,
    libc::SYS_ioprio_set,
    libc::SYS_setgroups,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_sched_setaffinity,
    // fds
    libc::SYS_close,
    libc::SYS_dup,
    libc::SYS_dup2,
    libc::SYS_dup3,
    libc::SYS_close_range,
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
    libc::SYS_write,
    libc::SYS_pwrite64,
    libc::SYS_writev,
    libc::SYS_pwritev,
    libc::SYS_vmsplice,
    libc::SYS_tee,
    libc::SYS_fadvise64,
    libc::SYS_readahead,
    libc::SYS_eventfd,
    libc::SYS_eventfd2,
    libc::SYS_epoll_create1,
    libc::SYS_epoll_create,
    libc::SYS_epoll_ctl,
    libc::SYS_timerfd_create,
    libc::SYS_inotify_init,
    libc::SYS_inotify_init1,
    libc::SYS_inotify_add_watch,
    libc::SYS_inotify_rm_watch,
    libc::SYS_memfd_create,
    libc::SYS_signalfd4,
    libc::SYS_timer_delete,
    libc::SYS_timer_getoverrun,
    libc::SYS_fsetxattr,
    libc::SYS_fremovexattr,
    libc::SYS_fchmodat2,
    // sockets (inputs only)
    libc::SYS_socket,
    libc::SYS_bind,
    libc::SYS_connect,
    libc::SYS_listen,
    libc::SYS_shutdown,
    libc::SYS_sendto,
    libc::SYS_sendmsg,
    libc::SYS_setsockopt,
    // paths
    libc::SYS_open,
    libc::SYS_creat,
    libc::SYS_access,
    libc::SYS_mkdir,
    libc::SYS_rmdir,
    libc::SYS_unlink,
    libc::SYS_chdir,
    libc::SYS_chmod,
    libc::SYS_chown,
    libc::SYS_lchown,
    libc::SYS_truncate,
    libc::SYS_mknod,
    libc::SYS_symlink,
    libc::SYS_link,
    libc::SYS_rename,
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_mkdirat,
    libc::SYS_unlinkat,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_fchmodat,
    libc::SYS_fchownat,
    libc::SYS_mknodat,
    libc::SYS_symlinkat,
    libc::SYS_linkat,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_setxattr,
    libc::SYS_lsetxattr,
    libc::SYS_removexattr,
    libc::SYS_lremovexattr,
    libc::SYS_utime,
    libc::SYS_utimes,
    libc::SYS_futimesat,
    libc::SYS_utimensat,
    libc::SYS_chroot,
    libc::SYS_acct,
    // System V IPC and POSIX message queues (inputs only)
    libc::SYS_shmget,
    libc::SYS_semget,
    libc::SYS_semop,
    libc::SYS_semtimedop,
    libc::SYS_msgget,
    libc::SYS_msgsnd,
    libc::SYS_mq_open,
    libc::SYS_mq_unlink,
    libc::SYS_mq_timedsend,
    // miscellaneous integer-only or read-only calls
    libc::SYS_kcmp,
    libc::SYS_membarrier,
    libc::SYS_sched_get_priority_max,
    libc::SYS_sched_get_priority_min,
    libc::SYS_sync_file_range,
    libc::SYS_signalfd,
    libc::SYS_futex_waitv,
    libc::SYS_pkey_alloc,
    libc::SYS_pkey_free,
    libc::SYS_munlockall,
    libc::SYS_landlock_create_ruleset,
    libc::SYS_pwritev2,
    // time (inputs only)
    libc::SYS_clock_settime,
    libc::SYS_settimeofday,
];

/// Issues a syscall from `IN_ONLY` with up to six arguments. Any other number returns ENOSYS without entering the
/// kernel, so this stays memory-safe whatever the arguments.
pub fn call(nr: i64, args: &[Arg<'_>]) -> R {
    if !IN_ONLY.contains(&nr) || args.len() > 6 {
        return Err(Errno::ENOSYS);
    }
    let mut r = [0u64; 6];
    for (slot, v) in r.iter_mut().zip(args) {
        *slot = v.reg();
    }
    // SAFETY: `nr` is in IN_ONLY, so the kernel at most reads through pointer arguments (faulting reads become
    // EFAULT) and changes no mapping or handler; every `Arg::In` borrows memory that outlives this call.
    unsafe { sc6(nr, r) }
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

/// The errno number of a failed call, 0 on success (a forked child's exit code).
pub fn errno_of(r: R) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e as i32,
    }
}

/// Issues a syscall the sandbox denies, with fixed arguments. Every argument must be below 65536 (the lowest
/// address Linux maps, `vm.mmap_min_addr`) or in the top half of the address space (negative ints, kernel
/// addresses), so none can point into this process's memory; otherwise EINVAL without entering the kernel.
pub fn denied_call(nr: i64, args: [u64; 6]) -> R {
    if args
        .iter()
        .any(|&v| (65536..0x8000_0000_0000_0000).contains(&v))
    {
        return Err(Errno::EINVAL);
    }
    // SAFETY: no argument can address memory of this process (checked above), so whatever the syscall does with
    // pointer arguments, it faults (EFAULT) instead of writing our memory; the memory-map syscalls are not in the
    // denied set this is used for (see cases::denied).
    unsafe { sc6(nr, args) }
}
