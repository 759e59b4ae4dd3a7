//! Every `unsafe` of this crate: the seccomp(2) call, the notify ioctls, and cross-process memory.
//!
//! Each function is safe to call: it takes borrowed fds and Rust buffers, and returns `Errno`.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use seccompiler::sock_filter;

/// The kernel's `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const sock_filter,
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog). Returns the listener fd when `flags` asks for one.
pub fn install_filter(
    prog: &[sock_filter],
    flags: libc::c_ulong,
) -> Result<Option<OwnedFd>, Errno> {
    let len = libc::c_ushort::try_from(prog.len()).map_err(|_| Errno::E2BIG)?;
    let fprog = SockFprog {
        len,
        filter: prog.as_ptr(),
    };
    // SAFETY: `fprog` points at `prog`, a live slice of `len` sock_filter structs (repr(C), the kernel's layout);
    // the kernel copies the program during the call and keeps no pointer to it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &raw const fprog,
        )
    };
    let rc = Errno::result(rc)?;
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        let fd = i32::try_from(rc).map_err(|_| Errno::EBADF)?;
        // SAFETY: with NEW_LISTENER the kernel returns a fresh fd that nothing else owns.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
    } else {
        Ok(None)
    }
}

/// prctl(PR_SET_NO_NEW_PRIVS, 1): required before an unprivileged filter install.
pub fn set_no_new_privs() -> Result<(), Errno> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only and touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    Errno::result(rc).map(drop)
}

/// SECCOMP_IOCTL_NOTIF_RECV: blocks until a trapped syscall arrives.
pub fn notif_recv(listener: BorrowedFd<'_>) -> Result<libc::seccomp_notif, Errno> {
    // SAFETY: seccomp_notif is a C struct of integers, so all-zero is a valid value (and the kernel requires it zeroed).
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: `listener` is a live fd borrowed for this call; `req` is an aligned, writable seccomp_notif that outlives it.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &raw mut req,
        )
    };
    Errno::result(rc).map(|_| req)
}

/// SECCOMP_IOCTL_NOTIF_SEND: answer a notification with a return value, an errno, or CONTINUE.
pub fn notif_send(
    listener: BorrowedFd<'_>,
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
) -> Result<(), Errno> {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val,
        error,
        flags,
    };
    // SAFETY: `listener` is live for the call; `resp` is an initialised seccomp_notif_resp the kernel only reads.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &raw mut resp,
        )
    };
    Errno::result(rc).map(drop)
}

/// SECCOMP_IOCTL_NOTIF_ID_VALID: is the trapped task still waiting on this notification?
pub fn notif_id_valid(listener: BorrowedFd<'_>, id: u64) -> Result<(), Errno> {
    let mut id = id;
    // SAFETY: `listener` is live; `id` is a u64 the kernel reads during the call.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &raw mut id,
        )
    };
    Errno::result(rc).map(drop)
}

/// SECCOMP_IOCTL_NOTIF_ADDFD: install `src` in the trapped task. With `SECCOMP_ADDFD_FLAG_SEND` the syscall
/// is answered in the same step with the new fd number.
pub fn notif_addfd(
    listener: BorrowedFd<'_>,
    id: u64,
    src: BorrowedFd<'_>,
    flags: u32,
    newfd: u32,
    newfd_flags: u32,
) -> Result<i32, Errno> {
    let srcfd = u32::try_from(src.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    let mut addfd = libc::seccomp_notif_addfd {
        id,
        flags,
        srcfd,
        newfd,
        newfd_flags,
    };
    // SAFETY: `listener` and `src` are live fds borrowed for the call; `addfd` is an initialised struct the kernel reads.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ADDFD,
            &raw mut addfd,
        )
    };
    Errno::result(rc)
}

/// SECCOMP_IOCTL_NOTIF_SET_FLAGS with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6+).
pub fn notif_set_sync_wakeup(listener: BorrowedFd<'_>) -> Result<(), Errno> {
    const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;
    // SAFETY: `listener` is live; the flags argument is passed by value.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
        )
    };
    Errno::result(rc).map(drop)
}

/// process_vm_readv of one remote range into `buf`. Returns how many bytes were copied (short at an unmapped page).
pub fn vm_read(pid: libc::pid_t, remote: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    if buf.is_empty() {
        return Ok(0);
    }
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: remote as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, writable for its whole length for the duration of the call; the remote iovec
    // is only interpreted by the kernel in the other process's address space (faults there give EFAULT, not UB here).
    let rc = unsafe { libc::process_vm_readv(pid, &raw const local, 1, &raw const remote, 1, 0) };
    usize::try_from(Errno::result(rc)?).map_err(|_| Errno::EFAULT)
}

/// process_vm_writev of `buf` to one remote range. Returns how many bytes were copied.
pub fn vm_write(pid: libc::pid_t, remote: u64, buf: &[u8]) -> Result<usize, Errno> {
    if buf.is_empty() {
        return Ok(0);
    }
    let local = libc::iovec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: remote as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, readable for its whole length; the kernel only reads it. The remote range is
    // the other process's memory, checked by the kernel (EFAULT on an unmapped or read-only page).
    let rc = unsafe { libc::process_vm_writev(pid, &raw const local, 1, &raw const remote, 1, 0) };
    usize::try_from(Errno::result(rc)?).map_err(|_| Errno::EFAULT)
}
