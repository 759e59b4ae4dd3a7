//! Every `unsafe` of this crate: ptrace(2), waitpid(2) with `__WALL`, kcmp(2), pidfds, and SCM_RIGHTS sends.
//!
//! Each function is safe to call: integer arguments or Rust-owned buffers in, `Errno` out.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

pub use libc::user_regs_struct as Regs;

fn ptrace(req: libc::c_uint, pid: i32, addr: usize, data: usize) -> Result<libc::c_long, Errno> {
    Errno::clear();
    // SAFETY: every request used by this module passes integers, or in `data` the address of a Rust value of the
    // type the request expects (see the callers); the kernel validates the tracee.
    let rc = unsafe { libc::ptrace(req, pid, addr, data) };
    if rc == -1 && Errno::last_raw() != 0 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

/// PTRACE_SEIZE with options.
pub fn seize(pid: i32, options: i32) -> Result<(), Errno> {
    let opts = usize::try_from(options).map_err(|_| Errno::EINVAL)?;
    ptrace(libc::PTRACE_SEIZE, pid, 0, opts).map(drop)
}

fn sig_data(sig: i32) -> usize {
    usize::try_from(sig).unwrap_or(0)
}

/// PTRACE_CONT, delivering `sig` (0: none).
pub fn cont(pid: i32, sig: i32) -> Result<(), Errno> {
    ptrace(libc::PTRACE_CONT, pid, 0, sig_data(sig)).map(drop)
}

/// PTRACE_SYSCALL: run to the next syscall entry or exit stop.
pub fn syscall(pid: i32, sig: i32) -> Result<(), Errno> {
    ptrace(libc::PTRACE_SYSCALL, pid, 0, sig_data(sig)).map(drop)
}

/// PTRACE_LISTEN: leave a SEIZE'd tracee in its group-stop, reporting the next change.
pub fn listen(pid: i32) -> Result<(), Errno> {
    ptrace(libc::PTRACE_LISTEN, pid, 0, 0).map(drop)
}

/// PTRACE_GETREGS.
pub fn getregs(pid: i32) -> Result<Regs, Errno> {
    // SAFETY: user_regs_struct is plain integers; all-zero is a valid value.
    let mut r: Regs = unsafe { std::mem::zeroed() };
    ptrace(libc::PTRACE_GETREGS, pid, 0, (&raw mut r) as usize)?;
    Ok(r)
}

/// PTRACE_SETREGS.
pub fn setregs(pid: i32, r: &Regs) -> Result<(), Errno> {
    ptrace(libc::PTRACE_SETREGS, pid, 0, std::ptr::from_ref(r) as usize).map(drop)
}

/// PTRACE_GETEVENTMSG: the new task's id at a fork/clone event, the former thread id at an exec event.
pub fn geteventmsg(pid: i32) -> Result<u64, Errno> {
    let mut v: libc::c_ulong = 0;
    ptrace(libc::PTRACE_GETEVENTMSG, pid, 0, (&raw mut v) as usize)?;
    Ok(v)
}

/// waitpid(pid, __WALL | extra). `Ok(None)`: WNOHANG and nothing to report.
pub fn wait(pid: i32, extra: i32) -> Result<Option<(i32, i32)>, Errno> {
    let mut status: libc::c_int = 0;
    // SAFETY: `status` is a live c_int the kernel writes.
    let rc = unsafe { libc::waitpid(pid, &raw mut status, libc::__WALL | extra) };
    match Errno::result(rc)? {
        0 => Ok(None),
        p => Ok(Some((p, status))),
    }
}

/// kcmp(KCMP_FILE): does fd `a` of process `pa` refer to the same open file as fd `b` of `pb`?
pub fn same_file(pa: i32, pb: i32, a: i32, b: i32) -> Result<bool, Errno> {
    const KCMP_FILE: libc::c_long = 0;
    // SAFETY: integer arguments only.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            libc::c_long::from(pa),
            libc::c_long::from(pb),
            KCMP_FILE,
            libc::c_long::from(a),
            libc::c_long::from(b),
        )
    };
    Errno::result(rc).map(|r| r == 0)
}

fn owned(rc: libc::c_long) -> Result<OwnedFd, Errno> {
    let fd = i32::try_from(Errno::result(rc)?).map_err(|_| Errno::EBADF)?;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// pidfd_open(tid, PIDFD_THREAD) (Linux 6.9+), falling back to the thread group's pidfd (`tgid`): the threads of a
/// process share its fd table.
pub fn pidfd_open_thread(tid: i32, tgid: i32) -> Result<OwnedFd, Errno> {
    const PIDFD_THREAD: libc::c_long = libc::O_EXCL as libc::c_long;
    // SAFETY: integer arguments only.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::c_long::from(tid), PIDFD_THREAD) };
    match owned(rc) {
        Err(Errno::EINVAL) => {
            // SAFETY: integer arguments only.
            let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::c_long::from(tgid), 0) };
            owned(rc)
        }
        r => r,
    }
}

/// pidfd_getfd(2): our own duplicate of a tracee's fd.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, fd: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: `pidfd` is live for the call; the other arguments are integers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_getfd,
            libc::c_long::from(pidfd.as_raw_fd()),
            libc::c_long::from(fd),
            0,
        )
    };
    owned(rc)
}

/// The soft RLIMIT_NOFILE of another process.
pub fn nofile_soft(pid: i32) -> Result<u64, Errno> {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: no new limit is passed; `old` is a live rlimit the kernel writes.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &raw mut old) };
    Errno::result(rc).map(|_| old.rlim_cur)
}

/// tgkill(2): re-raise a signal the tracer held back during an injection.
pub fn tgkill(tgid: i32, tid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            libc::c_long::from(tgid),
            libc::c_long::from(tid),
            libc::c_long::from(sig),
        )
    };
    Errno::result(rc).map(drop)
}

/// Blocks SIGCHLD in the calling thread (the tracer waits for it on a signalfd).
pub fn block_sigchld() -> Result<(), Errno> {
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGCHLD);
    set.thread_block()
}
