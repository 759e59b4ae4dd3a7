//! Every `unsafe` of the sentry: thin, safe wrappers over host calls that nix does not offer (openat2, statx, the
//! mount API, xattrs, clone, capabilities), each taking borrowed fds and Rust buffers and returning `Errno`.
//! Everything else in the crate is `#![forbid(unsafe_code)]`-clean and calls these.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;

use gofer::sys::owned;
pub use gofer::sys::{
    attach, attach_at, clone_tree, close_from, close_from_except, drop_all_caps, drop_caps_except,
    exit_now, fork_into_namespaces, fstatat, fstatfs, make_mountpoint, mount_flags, mount_setattr,
    new_fs, open_abs, openat2, own_fd, pidfd_open, prctl, statx, CBytes, MOUNT_ATTR_NODEV,
    MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, MOVE_MOUNT_F_EMPTY_PATH,
    OPEN_TREE_CLONE, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
    RESOLVE_NO_XDEV,
};

/// getxattr/lgetxattr(2) on a path; `buf` empty asks for the size.
pub fn getxattr(path: &CStr, name: &CStr, buf: &mut [u8], follow: bool) -> Result<usize, Errno> {
    let f = if follow {
        libc::getxattr
    } else {
        libc::lgetxattr
    };
    // SAFETY: path and name are NUL-terminated; `buf` is writable for its length (a null pointer with length 0 asks
    // for the size, which the kernel accepts).
    let rc = unsafe {
        f(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    usize::try_from(Errno::result(rc)?).map_err(|_| Errno::EIO)
}

/// listxattr/llistxattr(2) on a path.
pub fn listxattr(path: &CStr, buf: &mut [u8], follow: bool) -> Result<usize, Errno> {
    let f = if follow {
        libc::listxattr
    } else {
        libc::llistxattr
    };
    // SAFETY: NUL-terminated path; `buf` writable for its length.
    let rc = unsafe { f(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(Errno::result(rc)?).map_err(|_| Errno::EIO)
}

/// inotify_add_watch(2) on an inotify fd (the agent's, duplicated into the sentry).
pub fn inotify_add_watch(ifd: BorrowedFd<'_>, path: &CStr, mask: u32) -> Result<i32, Errno> {
    // SAFETY: live fd, NUL-terminated path.
    let rc = unsafe { libc::inotify_add_watch(ifd.as_raw_fd(), path.as_ptr(), mask) };
    Errno::result(rc)
}

/// pidfd_getfd(2): a duplicate of another process's fd (the sentry is privileged over the sandbox).
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, fd: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: `pidfd` is live; the other arguments are integers.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    owned(rc)
}

// ---- process set-up ----

/// Every signal back to its default disposition and an empty mask: what a freshly exec'd program expects
/// (Rust ignores SIGPIPE at start-up, which `yes | head` would notice).
pub fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition; errors for unsupported numbers are ignored on purpose.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable sigset_t.
    unsafe { libc::sigemptyset(&raw mut set) };
    // SAFETY: `set` is initialised; the old mask is not wanted.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &raw const set, std::ptr::null_mut()) };
}

/// The fields of /proc/PID/stat after the command (which may hold spaces and parentheses): field N of proc(5)
/// is `[N - 3]` (state is field 3, ppid 4, utime 14, starttime 22, rss 24).
pub fn proc_stat(pid: i32) -> Option<Vec<String>> {
    if pid <= 0 {
        return None;
    }
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = s.rsplit_once(')')?;
    Some(rest.split_whitespace().map(String::from).collect())
}

/// Field `n` (numbered as in proc(5)) of `proc_stat`'s fields.
pub fn stat_field<T: std::str::FromStr>(fields: &[String], n: usize) -> Option<T> {
    fields.get(n.checked_sub(3)?)?.parse().ok()
}

/// The children of a process (its main thread's), from /proc/PID/task/PID/children.
pub fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect()
}

/// SIG_IGN for `sig`.
pub fn ignore_signal(sig: libc::c_int) -> Result<(), Errno> {
    // SAFETY: SIG_IGN is a valid disposition for every catchable signal.
    let rc = unsafe { libc::signal(sig, libc::SIG_IGN) };
    if rc == libc::SIG_ERR {
        return Err(Errno::last());
    }
    Ok(())
}

/// pidfd_send_signal(pidfd, sig): signals exactly the process the pidfd names.
pub fn pidfd_signal(pidfd: BorrowedFd<'_>, sig: libc::c_int) -> Result<(), Errno> {
    // SAFETY: live pidfd; a null siginfo and no flags are allowed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

/// waitpid(pid, 0): blocks until `pid` ends; its raw wait status.
pub fn wait_pid(pid: libc::pid_t) -> Result<i32, Errno> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a writable int for the call.
        let rc = unsafe { libc::waitpid(pid, &raw mut status, 0) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            r => return r.map(|_| status),
        }
    }
}

/// ioctl(fd, TIOCSCTTY, 0): make `fd` the controlling terminal of this (new) session.
pub fn set_controlling_tty(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: live fd; TIOCSCTTY takes an integer argument.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    Errno::result(rc).map(drop)
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a new, empty, anonymous session keyring for this process (and what it
/// starts), so that nothing the invoking session holds is reachable. Returns the new keyring's serial.
pub fn join_session_keyring() -> Result<i64, Errno> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: a null name asks for an anonymous keyring; no memory is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    Errno::result(rc)
}

/// keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0): this process's session keyring, without creating one.
pub fn session_keyring_id() -> Result<i64, Errno> {
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    // SAFETY: integer arguments only.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_SESSION_KEYRING,
            0,
        )
    };
    Errno::result(rc)
}

/// Brings the loopback interface of the current network namespace up.
pub fn loopback_up() -> Result<(), Errno> {
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain data; all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *d = libc::c_char::from_ne_bytes([*s]);
    }
    ifr.ifr_ifru.ifru_flags =
        i16::try_from(libc::IFF_UP | libc::IFF_RUNNING).map_err(|_| Errno::EINVAL)?;
    // SAFETY: live socket; `ifr` is a valid ifreq naming "lo" with the flags to set.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &raw mut ifr) };
    Errno::result(rc).map(drop)
}

/// TIOCGWINSZ on `from`, TIOCSWINSZ on `to`.
pub fn copy_winsize(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: winsize is plain data.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: live fd; `ws` writable.
    Errno::result(unsafe { libc::ioctl(from.as_raw_fd(), libc::TIOCGWINSZ, &raw mut ws) })?;
    // SAFETY: live fd; `ws` initialised by the call above.
    Errno::result(unsafe { libc::ioctl(to.as_raw_fd(), libc::TIOCSWINSZ, &raw const ws) }).map(drop)
}

/// TIOCSWINSZ: a terminal's size.
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<(), Errno> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: live fd; `ws` is an initialised winsize alive for the call.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &raw const ws) }).map(drop)
}

/// execve(2) that returns only on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> Errno {
    match nix::unistd::execve(path, argv, envp) {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

/// pidfd_open(tid, PIDFD_THREAD) (Linux 6.9+), falling back to the thread group's pidfd.
pub fn pidfd_open_thread(tid: i32) -> Result<OwnedFd, Errno> {
    const PIDFD_THREAD: libc::c_int = libc::O_EXCL;
    // SAFETY: integer arguments only.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, PIDFD_THREAD) };
    match owned(rc) {
        Err(Errno::EINVAL) => pidfd_open(tid),
        r => r,
    }
}

/// Opens an absolute path that must contain no symlink at all (grant paths are canonical): a component swapped for a
/// symlink since the policy was resolved (a delegated child's grant, raced by its parent's agent) fails with ELOOP
/// instead of being followed.
pub fn open_abs_nosymlinks(path: &CStr, flags: i32) -> Result<OwnedFd, Errno> {
    let root = open_abs(c"/", libc::O_PATH | libc::O_DIRECTORY)?;
    let rel = path
        .to_bytes()
        .strip_prefix(b"/")
        .unwrap_or(path.to_bytes());
    let rel = if rel.is_empty() { &b"."[..] } else { rel };
    let rel = CString::new(rel).map_err(|_| Errno::EINVAL)?;
    openat2(
        root.as_fd(),
        &rel,
        flags | libc::O_CLOEXEC,
        0,
        RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )
}

/// utimensat(AT_FDCWD, "/proc/self/fd/N", times, 0): set the times of the object an O_PATH fd names.
pub fn utimensat_fd(fd: BorrowedFd<'_>, times: Option<&[libc::timespec; 2]>) -> Result<(), Errno> {
    let p = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(|_| Errno::EINVAL)?;
    let ptr = times.map_or(std::ptr::null(), |t| t.as_ptr());
    // SAFETY: NUL-terminated path; `ptr` is null or points at two timespecs alive for the call.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, p.as_ptr(), ptr, 0) };
    Errno::result(rc).map(drop)
}

/// fork(2). Call only while single-threaded (the sandbox init is).
pub fn fork() -> Result<libc::pid_t, Errno> {
    // SAFETY: the only caller is the sandbox init, which is single-threaded, so the child's memory is consistent.
    let rc = unsafe { libc::fork() };
    Errno::result(rc)
}

/// waitpid(-1): any child; returns (pid, raw wait status).
pub fn wait_any() -> Result<(libc::pid_t, i32), Errno> {
    let mut status = 0;
    // SAFETY: `status` is a writable int for the call.
    let rc = unsafe { libc::waitpid(-1, &raw mut status, 0) };
    Errno::result(rc).map(|pid| (pid, status))
}

/// waitpid(pid, WNOHANG): Some(raw status) once it has exited.
pub fn try_wait(pid: libc::pid_t) -> Result<Option<i32>, Errno> {
    let mut status = 0;
    // SAFETY: `status` is a writable int for the call.
    let rc = unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
    Errno::result(rc).map(|r| (r == pid).then_some(status))
}

/// Clears the effective capability set of the calling thread only (raw capset is per-thread), keeping the permitted
/// set: a worker then opens files with the same discretionary access checks as the agent.
pub fn drop_effective_caps_this_thread() -> Result<(), Errno> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut hdr = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and two data structs of the v3 layout, writable for the call.
    Errno::result(unsafe { libc::syscall(libc::SYS_capget, &raw mut hdr, data.as_mut_ptr()) })?;
    for d in &mut data {
        d.effective = 0;
        d.permitted = 0;
        d.inheritable = 0;
    }
    let hdr = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    // SAFETY: as above, read-only for capset.
    Errno::result(unsafe { libc::syscall(libc::SYS_capset, &raw const hdr, data.as_ptr()) })
        .map(drop)
}

/// fd 0 for the life of the process.
pub fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 0 is opened before main and the sentry never closes it; it is only borrowed for poll/read/ioctl.
    unsafe { BorrowedFd::borrow_raw(0) }
}

/// Unlocks a pty master and opens its slave (TIOCSPTLCK, TIOCGPTN, TIOCGPTPEER). Returns the slave and its number.
pub fn pty_peer(master: BorrowedFd<'_>) -> Result<(OwnedFd, u32), Errno> {
    let unlock: libc::c_int = 0;
    // SAFETY: live fd; TIOCSPTLCK reads one int, alive for the call.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &raw const unlock) })?;
    let mut n: libc::c_uint = 0;
    // SAFETY: live fd; TIOCGPTN writes one unsigned int, alive for the call.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &raw mut n) })?;
    // SAFETY: live fd; TIOCGPTPEER takes the open flags by value and returns a new fd.
    let rc = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    Ok((owned(libc::c_long::from(rc))?, n))
}

/// connect(2) with a raw socket address copied from the task.
pub fn connect_raw(sock: BorrowedFd<'_>, addr: &[u8]) -> Result<(), Errno> {
    let len = libc::socklen_t::try_from(addr.len()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: live fd; `addr` is readable for `len` bytes; the kernel validates the address's contents.
    let rc = unsafe { libc::connect(sock.as_raw_fd(), addr.as_ptr().cast(), len) };
    Errno::result(rc).map(drop)
}

/// sendto(2) with a raw socket address.
pub fn sendto_raw(
    sock: BorrowedFd<'_>,
    data: &[u8],
    flags: i32,
    addr: &[u8],
) -> Result<usize, Errno> {
    let len = libc::socklen_t::try_from(addr.len()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: live fd; `data` and `addr` are readable for their lengths for the call.
    let rc = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            flags,
            addr.as_ptr().cast(),
            len,
        )
    };
    usize::try_from(Errno::result(rc)?).map_err(|_| Errno::EIO)
}

/// sendmsg(2) of one buffer, an optional raw address, and SCM_RIGHTS for `fds`.
pub fn sendmsg_raw(
    sock: BorrowedFd<'_>,
    data: &[u8],
    addr: Option<&[u8]>,
    fds: &[OwnedFd],
    flags: i32,
) -> Result<usize, Errno> {
    use std::io::IoSlice;
    let iov = [IoSlice::new(data)];
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let cmsg: Vec<nix::sys::socket::ControlMessage<'_>> = if raw.is_empty() {
        vec![]
    } else {
        vec![nix::sys::socket::ControlMessage::ScmRights(&raw)]
    };
    let storage = match addr {
        Some(a) => {
            let len = libc::socklen_t::try_from(a.len()).map_err(|_| Errno::EINVAL)?;
            // SAFETY: `a` is a copied sockaddr of `len` bytes (at most sockaddr_storage); from_raw copies what it needs.
            Some(
                unsafe {
                    <nix::sys::socket::SockaddrStorage as nix::sys::socket::SockaddrLike>::from_raw(
                        a.as_ptr().cast(),
                        Some(len),
                    )
                }
                .ok_or(Errno::EINVAL)?,
            )
        }
        None => None,
    };
    nix::sys::socket::sendmsg(
        sock.as_raw_fd(),
        &iov,
        &cmsg,
        nix::sys::socket::MsgFlags::from_bits_retain(flags),
        storage.as_ref(),
    )
}

/// getsockopt for an int option.
pub fn getsockopt_int(sock: BorrowedFd<'_>, level: i32, name: i32) -> Result<i32, Errno> {
    let mut v: libc::c_int = 0;
    let mut len = libc::socklen_t::try_from(size_of::<libc::c_int>()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: live fd; `v` and `len` are writable for the call and describe an int.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&raw mut v).cast(),
            &raw mut len,
        )
    };
    Errno::result(rc).map(|_| v)
}

/// socket(2) with raw domain, type (flags included) and protocol, as copied from a task's socket.
pub fn socket_raw(domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: socket(2) takes three integers and returns a new descriptor or -1; no memory is passed.
    let rc = unsafe { libc::socket(domain, ty, protocol) };
    owned(libc::c_long::from(rc))
}

/// setsockopt for an int option.
pub fn setsockopt_int(sock: BorrowedFd<'_>, level: i32, name: i32, v: i32) -> Result<(), Errno> {
    let len = libc::socklen_t::try_from(size_of::<libc::c_int>()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: live fd; `v` is a readable int of `len` bytes for the call.
    let rc = unsafe { libc::setsockopt(sock.as_raw_fd(), level, name, (&raw const v).cast(), len) };
    Errno::result(rc).map(drop)
}

/// bind(2) with a raw socket address copied from the task.
pub fn bind_raw(sock: BorrowedFd<'_>, addr: &[u8]) -> Result<(), Errno> {
    let len = libc::socklen_t::try_from(addr.len()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: live fd; `addr` is readable for `len` bytes; the kernel validates the address's contents.
    let rc = unsafe { libc::bind(sock.as_raw_fd(), addr.as_ptr().cast(), len) };
    Errno::result(rc).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_session_keyring_in_child_gives_fresh_keyring() {
        // In a forked child: the test process keeps its own session keyring.
        let (r, w) = nix::unistd::pipe().expect("pipe");
        match fork().expect("fork") {
            0 => {
                let before = session_keyring_id().unwrap_or(-1);
                let joined = join_session_keyring().unwrap_or(-2);
                let after = session_keyring_id().unwrap_or(-3);
                let ok = joined == after && after != before && joined > 0;
                let _ = nix::unistd::write(&w, if ok { b"1" } else { b"0" });
                exit_now(0);
            }
            pid => {
                drop(w);
                let mut b = [0u8; 1];
                let n = nix::unistd::read(r.as_raw_fd(), &mut b).expect("read");
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                assert_eq!(
                    (n, b[0]),
                    (1, b'1'),
                    "the child did not get a fresh session keyring"
                );
            }
        }
    }
}
