//! The seccomp user-notify platform: mechanism only.
//!
//! This crate compiles a list of syscall dispositions into BPF ([`bpf`]), installs it in the calling process (the
//! agent, just before exec), and gives the supervisor a [`Notifier`] over the listener fd: receive a trapped syscall,
//! read and write the trapped task's memory, answer with a value, an errno or CONTINUE, install an fd with
//! `ADDFD`+`SEND`, and re-check that a notification is still valid. It knows nothing about policy.

pub mod bpf;
mod sys;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

pub use nix::errno::Errno;
pub use seccompiler::sock_filter;

/// A trapped syscall as the kernel reports it.
#[derive(Clone, Copy, Debug)]
pub struct Notification {
    /// Cookie for every answer and validity check.
    pub id: u64,
    /// Thread id of the caller, in the supervisor's pid namespace.
    pub pid: i32,
    pub nr: i64,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

/// Installs the filters in the calling thread (all must be installed before exec). The last program must be the trap
/// filter; with `listener` set, it is installed first, with `SECCOMP_FILTER_FLAG_NEW_LISTENER`, and the listener fd
/// returned — first, because the other programs may refuse a later listener (the table guards seccomp(2) that way).
/// The order does not change the result: the kernel keeps the action of highest precedence across all filters.
/// `no_new_privs` is set before anything.
pub fn install(programs: &[Vec<sock_filter>], listener: bool) -> Result<Option<OwnedFd>, Errno> {
    sys::set_no_new_privs()?;
    let Some((trap, rest)) = programs.split_last() else {
        return Ok(None);
    };
    let flags = if listener {
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
    } else {
        0
    };
    let out = sys::install_filter(trap, flags)?;
    for p in rest {
        sys::install_filter(p, 0)?;
    }
    Ok(out)
}

/// The supervisor's side of a listener.
#[derive(Debug)]
pub struct Notifier {
    fd: OwnedFd,
}

/// `SECCOMP_USER_NOTIF_FLAG_CONTINUE` as the flags of an answer.
pub const CONTINUE: u32 = 1;

impl Notifier {
    pub fn new(fd: OwnedFd) -> Self {
        Self { fd }
    }

    /// Asks the kernel to wake the supervisor on the trapping task's CPU (Linux 6.6+). Best effort: an older kernel
    /// returns EINVAL and the caller carries on.
    pub fn set_sync_wakeup(&self) -> Result<(), Errno> {
        sys::notif_set_sync_wakeup(self.fd.as_fd())
    }

    /// Blocks until the next trapped syscall. ENOENT means the task died between the wake-up and the read: try again.
    pub fn recv(&self) -> Result<Notification, Errno> {
        let n = sys::notif_recv(self.fd.as_fd())?;
        Ok(Notification {
            id: n.id,
            pid: i32::try_from(n.pid).map_err(|_| Errno::ESRCH)?,
            nr: i64::from(n.data.nr),
            arch: n.data.arch,
            ip: n.data.instruction_pointer,
            args: n.data.args,
        })
    }

    /// Answers with a return value (`Ok`) or an errno (`Err`).
    pub fn reply(&self, id: u64, result: Result<i64, Errno>) -> Result<(), Errno> {
        match result {
            Ok(v) => sys::notif_send(self.fd.as_fd(), id, v, 0, 0),
            Err(e) => sys::notif_send(self.fd.as_fd(), id, 0, -(e as i32), 0),
        }
    }

    /// Lets the task run the syscall itself. Only for calls whose worst case the mount view already bounds.
    pub fn reply_continue(&self, id: u64) -> Result<(), Errno> {
        sys::notif_send(self.fd.as_fd(), id, 0, 0, CONTINUE)
    }

    /// Installs `fd` in the task (lowest free number, or exactly `at`) and answers the syscall with its number.
    pub fn reply_fd(
        &self,
        id: u64,
        fd: BorrowedFd<'_>,
        cloexec: bool,
        at: Option<u32>,
    ) -> Result<i32, Errno> {
        let mut flags = u32::try_from(libc::SECCOMP_ADDFD_FLAG_SEND).map_err(|_| Errno::EINVAL)?;
        if at.is_some() {
            flags |= u32::try_from(libc::SECCOMP_ADDFD_FLAG_SETFD).map_err(|_| Errno::EINVAL)?;
        }
        let newfd_flags = if cloexec {
            u32::try_from(libc::O_CLOEXEC).map_err(|_| Errno::EINVAL)?
        } else {
            0
        };
        sys::notif_addfd(self.fd.as_fd(), id, fd, flags, at.unwrap_or(0), newfd_flags)
    }

    /// Installs `fd` in the task without answering (ADDFD without SEND); the caller answers with the returned number
    /// afterwards. Slower than [`Notifier::reply_fd`], but the caller can close its own copy before the task resumes.
    pub fn add_fd(&self, id: u64, fd: BorrowedFd<'_>, cloexec: bool) -> Result<i32, Errno> {
        let newfd_flags = if cloexec {
            u32::try_from(libc::O_CLOEXEC).map_err(|_| Errno::EINVAL)?
        } else {
            0
        };
        sys::notif_addfd(self.fd.as_fd(), id, fd, 0, 0, newfd_flags)
    }

    /// Installs `fd` in the task at exactly the number `at`, replacing what was there (ADDFD with SETFD, without
    /// SEND): the caller answers the syscall afterwards with its own result (a connect's 0 or EINPROGRESS).
    pub fn add_fd_at(
        &self,
        id: u64,
        fd: BorrowedFd<'_>,
        at: u32,
        cloexec: bool,
    ) -> Result<(), Errno> {
        let newfd_flags = if cloexec {
            u32::try_from(libc::O_CLOEXEC).map_err(|_| Errno::EINVAL)?
        } else {
            0
        };
        let flags = u32::try_from(libc::SECCOMP_ADDFD_FLAG_SETFD).map_err(|_| Errno::EINVAL)?;
        sys::notif_addfd(self.fd.as_fd(), id, fd, flags, at, newfd_flags).map(drop)
    }

    /// Is the task still waiting on `id`? Call after reading its memory and before acting on what was read.
    pub fn id_valid(&self, id: u64) -> bool {
        sys::notif_id_valid(self.fd.as_fd(), id).is_ok()
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// False once no task uses the filter any more (the listener polls POLLHUP): the sandbox is gone.
    pub fn alive(&self) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(_) => !fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLHUP)),
            Err(_) => true,
        }
    }
}

/// The memory of a trapped task, by thread id. Reads are bounded by the caller's buffer; a fault is EFAULT.
#[derive(Clone, Copy, Debug)]
pub struct TaskMem {
    pub pid: i32,
}

const PAGE: u64 = 4096;

impl TaskMem {
    /// Reads exactly `buf.len()` bytes at `addr`, or EFAULT.
    pub fn read_exact(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        if addr == 0 && !buf.is_empty() {
            return Err(Errno::EFAULT);
        }
        let n = sys::vm_read(self.pid, addr, buf).map_err(map_mem_err)?;
        if n == buf.len() {
            Ok(())
        } else {
            Err(Errno::EFAULT)
        }
    }

    /// Reads a NUL-terminated string of at most `max` bytes (NUL excluded): EFAULT if unreadable, ENAMETOOLONG if no
    /// NUL within `max`. Reads page by page so a string ending just before an unmapped page is still read.
    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        if addr == 0 {
            return Err(Errno::EFAULT);
        }
        let mut out = Vec::with_capacity(256);
        let mut cur = addr;
        let mut chunk = [0u8; 4096];
        loop {
            let room = PAGE - (cur % PAGE);
            let want = usize::try_from(room)
                .unwrap_or(chunk.len())
                .min(chunk.len());
            let n = sys::vm_read(self.pid, cur, &mut chunk[..want]).map_err(map_mem_err)?;
            if n == 0 {
                return Err(Errno::EFAULT);
            }
            if let Some(z) = chunk[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..z]);
                if out.len() > max {
                    return Err(Errno::ENAMETOOLONG);
                }
                return Ok(out);
            }
            out.extend_from_slice(&chunk[..n]);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            cur = cur
                .checked_add(u64::try_from(n).map_err(|_| Errno::EFAULT)?)
                .ok_or(Errno::EFAULT)?;
        }
    }

    /// Writes all of `buf` at `addr`, or EFAULT.
    pub fn write_all(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        if addr == 0 && !buf.is_empty() {
            return Err(Errno::EFAULT);
        }
        let n = sys::vm_write(self.pid, addr, buf).map_err(map_mem_err)?;
        if n == buf.len() {
            Ok(())
        } else {
            Err(Errno::EFAULT)
        }
    }
}

/// A task that vanished (ESRCH) is reported as such; every other failure to touch its memory is EFAULT.
fn map_mem_err(e: Errno) -> Errno {
    match e {
        Errno::ESRCH => Errno::ESRCH,
        _ => Errno::EFAULT,
    }
}
