//! Installing an fd in a tracee: the kernel gives a tracer no ADDFD, so the tracee receives the fd itself, with a
//! `recvmsg` the tracer injects at the trapped syscall, on a socket reserved for the purpose.
//!
//! The reserved socket ("channel") is one end of a SOCK_SEQPACKET pair made in the tracee by an injected
//! `socketpair`, once per fd table (re-made when the cached one no longer checks out with kcmp: after an exec, a
//! close, a dup2 over it). The tracer takes its own copies of both ends (pidfd_getfd), moves the tracee's end to a
//! high number with `F_DUPFD_CLOEXEC` and closes both original numbers in the tracee, so the tracee keeps one fd.
//! Then both directions are shut for the agent: our end is shut for reading (what the agent sends is refused with
//! EPIPE) and the agent's end is shut for writing. The tracer queues exactly one message (the fd) right before each
//! injected `recvmsg` and drains anything left after a failed one, so nothing is ever waiting on the channel outside
//! an injection. What the agent can do with it: receive nothing (it is empty), send nothing (EPIPE), and close or
//! replace it, which only makes the next install re-create it.
//!
//! Injection: at the seccomp stop the syscall slot is free, so the first injected call just replaces the trapped
//! syscall's number and arguments and runs to its exit stop (`PTRACE_SYSCALL`). Further calls rewind `rip` to the
//! `syscall` instruction (checked to be one) and run again. Finally the registers saved at the seccomp stop are
//! restored exactly, with `rax` the trapped syscall's result. Scratch memory (the msghdr, the iovec, the control
//! buffer) is taken below the red zone under the task's stack pointer, which the ABI leaves free.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;

use crate::sys::{self, Regs};
use crate::{State, TaskMem};

/// The tracer's copies of a tracee's reserved socket pair.
#[derive(Debug)]
pub struct Channel {
    /// The reserved fd number in the tracee.
    pub at: i32,
    /// Our copy of the tracee's end (for kcmp and draining).
    theirs: OwnedFd,
    /// Our end: we send on it, and it is shut for reading.
    ours: OwnedFd,
}

/// The red zone (128 bytes) plus room for the scratch below it.
const SCRATCH_BELOW_SP: u64 = 128 + 256;
const SYSCALL_INSN: [u8; 2] = [0x0f, 0x05];

/// A task stopped at a trapped syscall, and how far the tracer has used that stop.
pub(crate) struct Injection {
    tid: i32,
    saved: Regs,
    /// Still at the seccomp stop (the trapped syscall's slot is unused).
    pub(crate) at_entry: bool,
    checked_insn: bool,
}

impl Injection {
    pub(crate) fn at_stop(tid: i32, saved: Regs) -> Self {
        Self {
            tid,
            saved,
            at_entry: true,
            checked_insn: false,
        }
    }
}

fn scratch(rsp: u64) -> Result<u64, Errno> {
    rsp.checked_sub(SCRATCH_BELOW_SP)
        .map(|a| a & !15)
        .ok_or(Errno::EFAULT)
}

fn errno_of(ret: i64) -> Errno {
    i32::try_from(-ret).map_or(Errno::EIO, Errno::from_raw)
}

impl State {
    /// Answers a trap with an fd: injects its delivery, then restores the task. Returns the fd number it got.
    pub(crate) fn install(
        &mut self,
        mut inj: Injection,
        fd: OwnedFd,
        cloexec: bool,
    ) -> Result<i64, Errno> {
        let got = self.receive(&mut inj, &fd, cloexec);
        // The task holds its copy now (or failed to): ours goes before it runs, so a FIFO's reader sees EOF exactly
        // when the task closes its end.
        drop(fd);
        match got {
            Err(Errno::ESRCH) => Err(Errno::ESRCH),
            Ok(n) => {
                self.restore(&inj, i64::from(n))?;
                Ok(i64::from(n))
            }
            Err(e) => {
                self.restore(&inj, -(e as i64))?;
                Err(e)
            }
        }
    }

    /// `install_at`: the fd at exactly `at`, the trap left pending (its registers are restored by the answer).
    pub(crate) fn install_at(
        &mut self,
        id: u64,
        tid: i32,
        fd: OwnedFd,
        at: i32,
        cloexec: bool,
    ) -> Result<(), Errno> {
        let mut inj = self.take_trap(id, tid)?;
        let r = self.receive(&mut inj, &fd, cloexec).and_then(|n| {
            if n == at {
                return Ok(());
            }
            let flags = if cloexec { libc::O_CLOEXEC } else { 0 };
            let d = self.inject(
                &mut inj,
                libc::SYS_dup3,
                [
                    n.cast_unsigned().into(),
                    at.cast_unsigned().into(),
                    flags.cast_unsigned().into(),
                    0,
                    0,
                    0,
                ],
            );
            let _ = self.inject(
                &mut inj,
                libc::SYS_close,
                [n.cast_unsigned().into(), 0, 0, 0, 0, 0],
            );
            match d? {
                r if r < 0 => Err(errno_of(r)),
                _ => Ok(()),
            }
        });
        drop(fd);
        if r != Err(Errno::ESRCH) {
            if let Some(t) = self.tasks.get_mut(&tid) {
                t.trap = Some((id, inj));
            }
        }
        r
    }

    /// Runs the trapped syscall itself (its number and arguments as saved at the stop) as an injection.
    pub(crate) fn inject_original(&mut self, inj: &mut Injection) -> Result<i64, Errno> {
        let s = inj.saved;
        self.inject(
            inj,
            s.orig_rax.cast_signed(),
            [s.rdi, s.rsi, s.rdx, s.r10, s.r8, s.r9],
        )
    }

    /// Delivers `fd` into the task (making the channel if needed, retrying once on a fresh one). The number it got.
    fn receive(&mut self, inj: &mut Injection, fd: &OwnedFd, cloexec: bool) -> Result<i32, Errno> {
        let tid = inj.tid;
        let mut last = Errno::EIO;
        for _ in 0..2 {
            let r = self
                .channel(inj)
                .and_then(|tgid| self.deliver(inj, tgid, fd, cloexec));
            match r {
                Ok(n) => return Ok(n),
                Err(e @ (Errno::ESRCH | Errno::EMFILE | Errno::ENFILE | Errno::EFAULT)) => {
                    return Err(e)
                }
                Err(e) => {
                    // The channel was broken (closed, replaced, drained by another thread): make a new one, once.
                    last = e;
                    let g = self.tgid(tid);
                    self.chans.remove(&g);
                }
            }
        }
        Err(last)
    }

    /// The task's registers as at the stop, with `ret` as the trapped syscall's result, and on its way. At the
    /// seccomp stop the syscall is skipped (`orig_rax = -1`); after an injection its slot is already used.
    pub(crate) fn restore(&mut self, inj: &Injection, ret: i64) -> Result<(), Errno> {
        let mut r = inj.saved;
        if inj.at_entry {
            r.orig_rax = u64::MAX;
        }
        r.rax = ret.cast_unsigned();
        sys::setregs(inj.tid, &r)?;
        self.resume(inj.tid, 0);
        Ok(())
    }

    /// Runs one syscall in the tracee and returns its raw result (negative: -errno).
    fn inject(&mut self, inj: &mut Injection, nr: i64, args: [u64; 6]) -> Result<i64, Errno> {
        let mut r = inj.saved;
        r.rdi = args[0];
        r.rsi = args[1];
        r.rdx = args[2];
        r.r10 = args[3];
        r.r8 = args[4];
        r.r9 = args[5];
        r.orig_rax = nr.cast_unsigned();
        r.rax = nr.cast_unsigned();
        if inj.at_entry {
            sys::setregs(inj.tid, &r)?;
            sys::syscall(inj.tid, 0)?;
            self.wait_syscall_stop(inj.tid)?;
            inj.at_entry = false;
        } else {
            let at = inj.saved.rip.checked_sub(2).ok_or(Errno::EFAULT)?;
            if !inj.checked_insn {
                let mut insn = [0u8; 2];
                TaskMem { pid: inj.tid }.read_exact(at, &mut insn)?;
                if insn != SYSCALL_INSN {
                    return Err(Errno::ENOSYS);
                }
                inj.checked_insn = true;
            }
            r.rip = at;
            sys::setregs(inj.tid, &r)?;
            sys::syscall(inj.tid, 0)?;
            self.wait_syscall_stop(inj.tid)?;
            sys::syscall(inj.tid, 0)?;
            self.wait_syscall_stop(inj.tid)?;
        }
        Ok(sys::getregs(inj.tid)?.rax.cast_signed())
    }

    /// Waits for the tracee's next syscall stop. Signals arriving meanwhile are held back and delivered when it
    /// resumes for good; other stops are passed through.
    fn wait_syscall_stop(&mut self, tid: i32) -> Result<(), Errno> {
        loop {
            let (pid, status) = match sys::wait(tid, 0) {
                Ok(Some(x)) => x,
                Ok(None) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            };
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                self.gone(pid);
                return Err(Errno::ESRCH);
            }
            if !libc::WIFSTOPPED(status) {
                continue;
            }
            let sig = libc::WSTOPSIG(status);
            let ev = (status >> 16) & 0xff;
            if ev == 0 && sig == (libc::SIGTRAP | 0x80) {
                return Ok(());
            }
            if ev == 0 {
                if let Some(t) = self.tasks.get_mut(&tid) {
                    t.deferred.push(sig);
                }
            }
            sys::syscall(tid, 0)?;
        }
    }

    /// The tracee's channel, made if it has none that checks out. Returns the key (its tgid).
    fn channel(&mut self, inj: &mut Injection) -> Result<i32, Errno> {
        let tgid = self.tgid(inj.tid);
        if let Some(c) = self.chans.get(&tgid) {
            if sys::same_file(self.me, inj.tid, c.theirs.as_raw_fd(), c.at) == Ok(true) {
                return Ok(tgid);
            }
            self.chans.remove(&tgid);
        }
        let s = scratch(inj.saved.rsp)?;
        let mem = TaskMem { pid: inj.tid };
        let ty = libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC;
        let r = self.inject(
            inj,
            libc::SYS_socketpair,
            [
                libc::AF_UNIX.cast_unsigned().into(),
                ty.cast_unsigned().into(),
                0,
                s,
                0,
                0,
            ],
        )?;
        if r < 0 {
            return Err(errno_of(r));
        }
        let mut b = [0u8; 8];
        mem.read_exact(s, &mut b)?;
        let sv0 = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        let sv1 = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
        let made = self.adopt(inj, tgid, sv0, sv1);
        // The original numbers are closed whatever happened: the task keeps at most the moved copy.
        for fd in [sv0, sv1] {
            let _ = self.inject(
                inj,
                libc::SYS_close,
                [fd.cast_unsigned().into(), 0, 0, 0, 0, 0],
            );
        }
        let c = made?;
        nix::sys::socket::shutdown(c.theirs.as_raw_fd(), nix::sys::socket::Shutdown::Write)?;
        nix::sys::socket::shutdown(c.ours.as_raw_fd(), nix::sys::socket::Shutdown::Read)?;
        self.chans.insert(tgid, c);
        Ok(tgid)
    }

    fn adopt(
        &mut self,
        inj: &mut Injection,
        tgid: i32,
        sv0: i32,
        sv1: i32,
    ) -> Result<Channel, Errno> {
        let pidfd = sys::pidfd_open_thread(inj.tid, tgid)?;
        let theirs = sys::pidfd_getfd(pidfd.as_fd(), sv0)?;
        let ours = sys::pidfd_getfd(pidfd.as_fd(), sv1)?;
        // High, out of the way of the numbers programs expect (lowest free, shells' 10..), below the fd limit.
        let soft = sys::nofile_soft(inj.tid).unwrap_or(1024).min(1024);
        let base = soft.saturating_sub(16).max(3);
        let at = self.inject(
            inj,
            libc::SYS_fcntl,
            [
                sv0.cast_unsigned().into(),
                libc::F_DUPFD_CLOEXEC.cast_unsigned().into(),
                base,
                0,
                0,
                0,
            ],
        )?;
        if at < 0 {
            return Err(errno_of(at));
        }
        Ok(Channel {
            at: i32::try_from(at).map_err(|_| Errno::EBADF)?,
            theirs,
            ours,
        })
    }

    /// Sends `fd` on the channel and injects the `recvmsg` that takes it. Returns the number the task got.
    fn deliver(
        &mut self,
        inj: &mut Injection,
        tgid: i32,
        fd: &OwnedFd,
        cloexec: bool,
    ) -> Result<i32, Errno> {
        let s = scratch(inj.saved.rsp)?;
        let (at, theirs_raw) = {
            let c = self.chans.get(&tgid).ok_or(Errno::EBADF)?;
            drain(&c.theirs);
            let raw = [fd.as_raw_fd()];
            let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&raw)];
            let iov = [std::io::IoSlice::new(b"F")];
            nix::sys::socket::sendmsg::<()>(
                c.ours.as_raw_fd(),
                &iov,
                &cmsg,
                nix::sys::socket::MsgFlags::MSG_DONTWAIT | nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
                None,
            )?;
            (c.at, c.theirs.as_raw_fd())
        };
        // msghdr at s, iovec at s+64, one data byte at s+88, the control buffer (CMSG_SPACE(4) = 24) at s+96.
        let mut m = [0u8; 120];
        let put =
            |m: &mut [u8], off: usize, v: u64| m[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        put(&mut m, 16, s + 64); // msg_iov
        put(&mut m, 24, 1); // msg_iovlen
        put(&mut m, 32, s + 96); // msg_control
        put(&mut m, 40, 24); // msg_controllen
        put(&mut m, 64, s + 88); // iov_base
        put(&mut m, 72, 8); // iov_len
        let mem = TaskMem { pid: inj.tid };
        let fail = |e: Errno, theirs: i32| {
            drain_raw(theirs);
            e
        };
        mem.write_all(s, &m).map_err(|e| fail(e, theirs_raw))?;
        let flags = libc::MSG_DONTWAIT | if cloexec { libc::MSG_CMSG_CLOEXEC } else { 0 };
        let r = self
            .inject(
                inj,
                libc::SYS_recvmsg,
                [
                    at.cast_unsigned().into(),
                    s,
                    flags.cast_unsigned().into(),
                    0,
                    0,
                    0,
                ],
            )
            .map_err(|e| fail(e, theirs_raw))?;
        if r < 0 {
            return Err(fail(errno_of(r), theirs_raw));
        }
        mem.read_exact(s, &mut m).map_err(|e| fail(e, theirs_raw))?;
        let word = |off: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&m[off..off + 8]);
            u64::from_ne_bytes(b)
        };
        let msg_flags = word(48) & 0xffff_ffff;
        let cmsg_len = word(96);
        let level = u32::try_from(word(104) & 0xffff_ffff).unwrap_or(0);
        let ty = u32::try_from(word(104) >> 32).unwrap_or(0);
        let got = i32::from_ne_bytes([m[112], m[113], m[114], m[115]]);
        let rights = level == libc::SOL_SOCKET.cast_unsigned()
            && ty == libc::SCM_RIGHTS.cast_unsigned()
            && cmsg_len >= 20;
        if !rights {
            // The fd did not fit in the task's table (MSG_CTRUNC): as an open would, EMFILE.
            return Err(
                if msg_flags & u64::from(libc::MSG_CTRUNC.cast_unsigned()) != 0 {
                    Errno::EMFILE
                } else {
                    Errno::EIO
                },
            );
        }
        Ok(got)
    }
}

fn drain(sock: &OwnedFd) {
    drain_raw(sock.as_raw_fd());
}

/// Discards whatever is queued for the tracee's end (fds included, which close).
fn drain_raw(sock: i32) {
    loop {
        let mut buf = [0u8; 16];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 4]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        match nix::sys::socket::recvmsg::<()>(
            sock,
            &mut iov,
            Some(&mut space),
            nix::sys::socket::MsgFlags::MSG_DONTWAIT | nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) if msg.bytes > 0 => {
                if let Ok(cmsgs) = msg.cmsgs() {
                    for c in cmsgs {
                        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
                            for f in fds {
                                let _ = nix::unistd::close(f);
                            }
                        }
                    }
                }
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_is_below_the_red_zone_and_aligned() {
        let s = scratch(0x7fff_0000_1008).expect("room");
        assert_eq!(s % 16, 0);
        assert!(s + 120 <= 0x7fff_0000_1008 - 128);
        assert_eq!(scratch(100), Err(Errno::EFAULT));
    }

    #[test]
    fn negative_results_are_errnos() {
        assert_eq!(errno_of(-9), Errno::EBADF);
        assert_eq!(errno_of(-24), Errno::EMFILE);
    }
}
