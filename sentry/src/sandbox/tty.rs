//! The agent's terminal: when the sentry's stdin and stdout are terminals, the agent gets a fresh pty (its own
//! session, its controlling terminal) and the sentry relays bytes between it and the real terminal, which it puts in
//! raw mode for the duration. The agent never touches the invoking terminal, so it cannot push input into it.

#![forbid(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags};
use nix::sys::termios::{self, SetArg, Termios};

pub struct Terminal {
    master: OwnedFd,
    slave: OwnedFd,
    /// The slave's path inside the sandbox (/dev/pts/N of its own devpts).
    slave_path: PathBuf,
    saved: Option<Termios>,
}

impl Terminal {
    /// Whether the agent gets a terminal: stdin and stdout are both terminals.
    pub fn wanted() -> bool {
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        nix::unistd::isatty(stdin.as_raw_fd()).unwrap_or(false)
            && nix::unistd::isatty(stdout.as_raw_fd()).unwrap_or(false)
    }

    /// Creates the agent's pty on the sandbox's devpts (reached through the view's root), copies the user's terminal
    /// settings and size onto it, and puts the real terminal in raw mode.
    pub fn open(view_root: BorrowedFd<'_>) -> Result<Self, Errno> {
        let (master, slave, slave_path) = pty_pair(view_root)?;
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(s) = &saved {
            // The pty starts with the user's settings; the real terminal becomes a raw pipe.
            let _ = termios::tcsetattr(slave.as_fd(), SetArg::TCSANOW, s);
            let mut raw = s.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
        }
        let t = Terminal {
            master,
            slave,
            slave_path,
            saved,
        };
        let _ = crate::sys::copy_winsize(crate::sys::stdin_fd(), t.master.as_fd());
        Ok(t)
    }

    pub fn slave(&self) -> Result<OwnedFd, Errno> {
        self.slave.try_clone().map_err(|_| Errno::EMFILE)
    }

    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Some(s) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSADRAIN, s);
        }
    }
}

/// A pty of the sandbox's devpts (reached through the view's root): (master, slave, the slave's sandbox path).
pub fn pty_pair(view_root: BorrowedFd<'_>) -> Result<(OwnedFd, OwnedFd, PathBuf), Errno> {
    let master = crate::sys::openat2(
        view_root,
        c"dev/pts/ptmx",
        libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        0,
        crate::sys::RESOLVE_IN_ROOT | crate::sys::RESOLVE_NO_SYMLINKS,
    )?;
    let (slave, n) = crate::sys::pty_peer(master.as_fd())?;
    Ok((master, slave, PathBuf::from(format!("/dev/pts/{n}"))))
}

/// Sends a pty master over a console socket, as runc does for `--console-socket`: one message whose data is the
/// terminal's name and whose one SCM_RIGHTS fd is the master.
pub fn send_console(
    sock: BorrowedFd<'_>,
    name: &Path,
    master: BorrowedFd<'_>,
) -> Result<(), Errno> {
    use std::os::unix::ffi::OsStrExt;
    super::proto::send_fds(sock, name.as_os_str().as_bytes(), &[master])
}

/// Copies stdin → master and master → stdout.
pub struct Relay<'t> {
    t: &'t Terminal,
    stdin_open: bool,
}

impl<'t> Relay<'t> {
    pub fn new(t: &'t Terminal) -> Self {
        Relay {
            t,
            stdin_open: true,
        }
    }

    pub fn poll_fds(&self) -> Vec<PollFd<'t>> {
        let mut v = vec![PollFd::new(self.t.master.as_fd(), PollFlags::POLLIN)];
        if self.stdin_open {
            v.push(PollFd::new(stdin_fd(), PollFlags::POLLIN));
        }
        v
    }

    pub fn resize(&self) {
        let _ = crate::sys::copy_winsize(stdin_fd(), self.t.master.as_fd());
    }

    pub fn pump(&mut self, ready: &[bool]) {
        let mut buf = [0u8; 16384];
        if ready.first() == Some(&true) {
            if let Ok(n) = nix::unistd::read(self.t.master.as_raw_fd(), &mut buf) {
                if n > 0 {
                    write_all(std::io::stdout().as_fd(), &buf[..n]);
                }
            }
        }
        if self.stdin_open && ready.get(1) == Some(&true) {
            match nix::unistd::read(stdin_fd().as_raw_fd(), &mut buf) {
                Ok(0) | Err(_) => self.stdin_open = false,
                // While an approval question waits on this terminal, what the user types answers it.
                Ok(n) if crate::policy::approval::terminal_input(&buf[..n]) => {}
                Ok(n) => write_all(self.t.master.as_fd(), &buf[..n]),
            }
        }
    }

    /// After the agent exits: whatever it wrote last.
    pub fn drain(&mut self) {
        let _ = nix::fcntl::fcntl(
            self.t.master.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        let mut buf = [0u8; 16384];
        while let Ok(n) = nix::unistd::read(self.t.master.as_raw_fd(), &mut buf) {
            if n == 0 {
                break;
            }
            write_all(std::io::stdout().as_fd(), &buf[..n]);
        }
    }
}

fn stdin_fd() -> BorrowedFd<'static> {
    crate::sys::stdin_fd()
}

fn write_all(fd: BorrowedFd<'_>, mut b: &[u8]) {
    while !b.is_empty() {
        match nix::unistd::write(fd, b) {
            Ok(n) if n > 0 => b = &b[n..],
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            _ => return,
        }
    }
}
