//! The platform: how trapped syscalls reach the sentry and how they are answered. The syscall table, the VFS and the
//! policy never know which platform they run on.
//!
//! The trait is shaped for both mechanisms. On seccomp user-notify any worker may receive and answer (the listener fd
//! is shared). On ptrace, only the tracer thread may touch a tracee: its adapter queues traps to the workers and
//! carries each `answer` back to the tracer, which skips the syscall and sets the return value, or injects an fd with
//! a `recvmsg` on a reserved socket. Agent memory is read with process_vm_readv on both.

#![forbid(unsafe_code)]

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use platform_seccomp::{Notification, Notifier, TaskMem};

/// One trapped syscall.
pub type Trap = Notification;

/// How a trapped syscall ends.
#[derive(Debug)]
pub enum Answer {
    /// Return this value.
    Val(i64),
    /// Fail with this errno.
    Err(Errno),
    /// Install the fd in the task (lowest free number) and return its number.
    Fd { fd: OwnedFd, cloexec: bool },
    /// Let the task run the syscall itself (only where the mount view bounds the worst case).
    Continue,
}

pub trait Platform: Send + Sync + std::fmt::Debug {
    /// "seccomp" or "ptrace", for the audit log and --strace.
    fn name(&self) -> &'static str;
    /// Blocks for the next trapped syscall. `Ok(None)`: no task is left, the sandbox is over. One thread at a time
    /// calls this (the pool's leader), so the kernel's synchronous wake-up runs it on the trapping task's CPU.
    fn next_trap(&self) -> Result<Option<Trap>, Errno>;
    /// Answers a trap. Returns what the task sees as the syscall's result (for the audit record).
    fn answer(&self, trap: &Trap, answer: Answer) -> Result<i64, Errno>;
    /// Installs `fd` in the trapped task at exactly the number `at`, replacing the file there, before the trap is
    /// answered (the network's mediated connect puts its host-side socket in place of the agent's).
    fn install_at(
        &self,
        trap: &Trap,
        fd: BorrowedFd<'_>,
        at: i32,
        cloexec: bool,
    ) -> Result<(), Errno>;
    /// Is the task still waiting on this trap? Checked after reading its memory, before acting on it.
    fn still_valid(&self, trap: &Trap) -> bool;
    /// The trapped task's memory.
    fn mem(&self, trap: &Trap) -> TaskMem {
        TaskMem { pid: trap.pid }
    }
}

fn counts_references(fd: &OwnedFd) -> bool {
    nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(fd))
        .is_ok_and(|st| matches!(st.st_mode & libc::S_IFMT, libc::S_IFIFO | libc::S_IFSOCK))
}

/// seccomp user-notify.
#[derive(Debug)]
pub struct Seccomp {
    n: Notifier,
}

impl Seccomp {
    pub fn new(listener: OwnedFd) -> Self {
        let n = Notifier::new(listener);
        // Best effort: Linux 6.6+ wakes the sentry on the trapping task's CPU.
        let _ = n.set_sync_wakeup();
        Self { n }
    }
}

impl Platform for Seccomp {
    fn name(&self) -> &'static str {
        "seccomp"
    }

    fn next_trap(&self) -> Result<Option<Trap>, Errno> {
        loop {
            match self.n.recv() {
                Ok(t) => return Ok(Some(t)),
                Err(Errno::EINTR) => {}
                // The task died between the wake-up and the read, or no task uses the filter any more.
                Err(Errno::ENOENT) if self.n.alive() => {}
                Err(Errno::ENOENT) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    fn answer(&self, trap: &Trap, answer: Answer) -> Result<i64, Errno> {
        match answer {
            Answer::Val(v) => self.n.reply(trap.id, Ok(v)).map(|()| v),
            Answer::Err(e) => self.n.reply(trap.id, Err(e)).and(Err(e)),
            Answer::Continue => self.n.reply_continue(trap.id).map(|()| 0),
            // A FIFO or a socket counts its open references (a reader sees end-of-file only when no writer is left):
            // install it, close the sentry's copy, and only then let the task resume.
            Answer::Fd { fd, cloexec } if counts_references(&fd) => {
                match self.n.add_fd(trap.id, fd.as_fd(), cloexec) {
                    Ok(newfd) => {
                        drop(fd);
                        self.n
                            .reply(trap.id, Ok(i64::from(newfd)))
                            .map(|()| i64::from(newfd))
                    }
                    Err(e @ (Errno::EMFILE | Errno::ENFILE)) => {
                        self.n.reply(trap.id, Err(e)).and(Err(e))
                    }
                    Err(e @ Errno::ENOENT) => Err(e),
                    Err(e) => self.n.reply(trap.id, Err(Errno::EIO)).and(Err(e)),
                }
            }
            Answer::Fd { fd, cloexec } => match self.n.reply_fd(trap.id, fd.as_fd(), cloexec, None)
            {
                Ok(newfd) => Ok(i64::from(newfd)),
                // The task's fd table is full: that is its errno, as natively.
                Err(e @ (Errno::EMFILE | Errno::ENFILE)) => {
                    self.n.reply(trap.id, Err(e)).and(Err(e))
                }
                Err(e) => Err(e),
            },
        }
    }

    fn install_at(
        &self,
        trap: &Trap,
        fd: BorrowedFd<'_>,
        at: i32,
        cloexec: bool,
    ) -> Result<(), Errno> {
        let at = u32::try_from(at).map_err(|_| Errno::EBADF)?;
        self.n.add_fd_at(trap.id, fd, at, cloexec)
    }

    fn still_valid(&self, trap: &Trap) -> bool {
        self.n.id_valid(trap.id)
    }
}

/// ptrace: a tracer thread owns the tracees; traps and answers cross to it (see `platform_ptrace`).
#[derive(Debug)]
pub struct Ptrace {
    t: platform_ptrace::Tracer,
}

impl Ptrace {
    /// Starts the tracer thread. SIGCHLD is blocked in the calling thread from here on.
    pub fn new() -> Result<Self, Errno> {
        Ok(Self {
            t: platform_ptrace::Tracer::spawn()?,
        })
    }

    /// Traces `pid` from now on (it must not have installed its filter yet: a trace stop without a tracer is ENOSYS).
    pub fn seize(&self, pid: i32) -> Result<(), Errno> {
        self.t.seize(pid)
    }
}

impl Platform for Ptrace {
    fn name(&self) -> &'static str {
        "ptrace"
    }

    fn next_trap(&self) -> Result<Option<Trap>, Errno> {
        Ok(self.t.next())
    }

    fn answer(&self, trap: &Trap, answer: Answer) -> Result<i64, Errno> {
        use platform_ptrace::Reply;
        self.t.answer(
            trap,
            match answer {
                Answer::Val(v) => Reply::Val(v),
                Answer::Err(e) => Reply::Err(e),
                Answer::Continue => Reply::Continue,
                Answer::Fd { fd, cloexec } => Reply::Fd { fd, cloexec },
            },
        )
    }

    fn install_at(
        &self,
        trap: &Trap,
        fd: BorrowedFd<'_>,
        at: i32,
        cloexec: bool,
    ) -> Result<(), Errno> {
        self.t.install_at(
            trap,
            fd.try_clone_to_owned().map_err(|_| Errno::EMFILE)?,
            at,
            cloexec,
        )
    }

    fn still_valid(&self, trap: &Trap) -> bool {
        self.t.valid(trap.id)
    }
}

/// Which platform `--platform` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Choice {
    /// seccomp user-notify where the kernel offers it with ADDFD (Linux 5.14+), else ptrace.
    #[default]
    Auto,
    Seccomp,
    Ptrace,
}

/// What `auto` picks on this host: seccomp when `user_notif` is among the kernel's seccomp actions and the kernel
/// has ADDFD with SEND (5.14+); ptrace otherwise.
pub fn resolve(c: Choice) -> Choice {
    match c {
        Choice::Auto => {
            let actions = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail")
                .unwrap_or_default();
            let release = nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default();
            if actions.split_whitespace().any(|a| a == "user_notif")
                && kernel_at_least(&release, 5, 14)
            {
                Choice::Seccomp
            } else {
                Choice::Ptrace
            }
        }
        c => c,
    }
}

fn kernel_at_least(release: &str, major: u32, minor: u32) -> bool {
    let mut it = release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().unwrap_or(0));
    let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_compare() {
        assert!(kernel_at_least("6.18.0-1-amd64", 5, 14));
        assert!(kernel_at_least("5.14.0", 5, 14));
        assert!(!kernel_at_least("5.10.209-1", 5, 14));
        assert!(!kernel_at_least("4.19.0", 5, 14));
        assert!(!kernel_at_least("garbage", 5, 14));
    }

    #[test]
    fn explicit_choices_are_kept() {
        assert_eq!(resolve(Choice::Ptrace), Choice::Ptrace);
        assert_eq!(resolve(Choice::Seccomp), Choice::Seccomp);
        assert_ne!(resolve(Choice::Auto), Choice::Auto);
    }
}
