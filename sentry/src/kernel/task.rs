//! One trapped syscall's view of its task: identity, memory (hostile: copied once, re-validated), cwd and fds.

use std::cell::Cell;
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::errno::Errno;
use platform_seccomp::{Notification, TaskMem};

use super::Kernel;
use crate::audit::Args;
use crate::policy::{Access, Granted, Subject};
use crate::vfs::path::{link_to_path, Caller};
use crate::vfs::Node;

/// Linux's PATH_MAX, NUL included.
pub const PATH_MAX: usize = 4096;

/// The task behind one notification.
pub struct Task<'k> {
    pub k: &'k Kernel,
    pub trap: Notification,
    pub id: u64,
    /// Thread id in the sentry's pid namespace.
    pub tid: i32,
    pub subject: Subject,
    /// Decoded arguments for the audit record.
    pub args: Args,
    ns: Cell<Option<(u32, u32)>>,
}

impl<'k> Task<'k> {
    pub fn new(k: &'k Kernel, n: &Notification) -> Self {
        Self {
            k,
            trap: *n,
            id: n.id,
            tid: n.pid,
            subject: Subject {
                tid: n.pid,
                ..Subject::default()
            },
            args: Args::default(),
            ns: Cell::new(None),
        }
    }

    pub fn mem(&self) -> TaskMem {
        self.k.platform.mem(&self.trap)
    }

    /// Copies a path argument once (EFAULT / ENAMETOOLONG), records it, and re-checks that the notification is still
    /// live, so the bytes came from this task and not from a recycled pid.
    pub fn read_path(&mut self, ptr: u64) -> Result<Vec<u8>, Errno> {
        let p = self.mem().read_cstr(ptr, PATH_MAX - 1)?;
        self.still_valid()?;
        let shown = String::from_utf8_lossy(&p).into_owned();
        if self.args.path.is_none() {
            self.args.path = Some(shown);
        } else {
            self.args.path2 = Some(shown);
        }
        Ok(p)
    }

    /// Copies a fixed-size argument struct.
    pub fn read_bytes(&self, ptr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; len];
        self.mem().read_exact(ptr, &mut buf)?;
        self.still_valid()?;
        Ok(buf)
    }

    /// Writes a result back into the task's memory.
    pub fn write_out(&self, ptr: u64, bytes: &[u8]) -> Result<(), Errno> {
        // Only into the task that is still waiting: a dead task's pid could belong to someone else by now.
        self.still_valid()?;
        self.mem().write_all(ptr, bytes)
    }

    /// ESRCH once the task stopped waiting (killed, or interrupted by a signal).
    pub fn still_valid(&self) -> Result<(), Errno> {
        if self.k.platform.still_valid(&self.trap) {
            Ok(())
        } else {
            Err(Errno::ESRCH)
        }
    }

    /// THE policy call for a resolved path.
    pub fn check(&self, access: Access, node: &Node) -> Result<Granted, Errno> {
        self.k
            .policy
            .check(&self.subject, access, &node.policy_path)
    }

    /// THE way handlers resolve a path: the VFS's resolution, and when it fails (the path, or a directory on the way,
    /// does not exist in the view), the policy's verdict on the lexical path, so that a request outside the grants is
    /// recorded as the denial it is ("not granted"), not as a bare ENOENT.
    pub fn resolve(
        &self,
        start: crate::vfs::Start,
        path: &[u8],
        follow: bool,
    ) -> Result<Node, Errno> {
        match self.k.vfs.resolve(self, start, path, follow) {
            Ok(n) => Ok(n),
            Err(e @ (Errno::ENOENT | Errno::ENOTDIR)) => {
                if let Ok(p) = self.lexical_path(start, path) {
                    let node = Node {
                        policy_path: p.clone(),
                        path: p,
                        kind: crate::vfs::Kind::Missing,
                    };
                    self.check(Access::Lookup, &node)?;
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// The absolute, lexically normalised form of a path argument (for the record only; never for a decision that
    /// allows anything).
    fn lexical_path(&self, start: crate::vfs::Start, path: &[u8]) -> Result<PathBuf, Errno> {
        use std::os::unix::ffi::OsStrExt;
        let rel = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
        let base = if path.first() == Some(&b'/') {
            PathBuf::from("/")
        } else {
            match start {
                crate::vfs::Start::Cwd => self.cwd()?,
                crate::vfs::Start::Fd(fd) => self.dir_fd_path(fd)?,
            }
        };
        Ok(crate::policy::load::normalize(&base.join(rel)))
    }

    /// The task's umask (for creations, which the sentry performs with its own umask at 0).
    pub fn umask(&self) -> Result<u32, Errno> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.tid))
            .map_err(|_| Errno::ESRCH)?;
        s.lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            .ok_or(Errno::EIO)
    }

    /// `/proc/<tid>/fd/<n>` on the host's procfs: the task's fd as a path the sentry can open, stat or chmod.
    pub fn host_fd_path(&self, fd: i32) -> Result<CString, Errno> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        CString::new(format!("/proc/{}/fd/{fd}", self.tid)).map_err(|_| Errno::EINVAL)
    }

    /// The host path of what a dirfd argument names for an empty-path call: the task's cwd or one of its fds.
    pub fn start_path(&self, start: crate::vfs::Start) -> Result<CString, Errno> {
        match start {
            crate::vfs::Start::Cwd => {
                CString::new(format!("/proc/{}/cwd", self.tid)).map_err(|_| Errno::EINVAL)
            }
            crate::vfs::Start::Fd(fd) => self.host_fd_path(fd),
        }
    }

    /// A duplicate of one of the task's fds.
    pub fn dup_fd(&self, fd: i32) -> Result<OwnedFd, Errno> {
        let pidfd = crate::sys::pidfd_open_thread(self.tid)?;
        crate::sys::pidfd_getfd(std::os::fd::AsFd::as_fd(&pidfd), fd)
    }
}

impl Caller for Task<'_> {
    fn cwd(&self) -> Result<PathBuf, Errno> {
        let t = std::fs::read_link(format!("/proc/{}/cwd", self.tid)).map_err(|_| Errno::ESRCH)?;
        link_to_path(t.into_os_string()).ok_or(Errno::ENOENT)
    }

    fn dir_fd_path(&self, fd: i32) -> Result<PathBuf, Errno> {
        let p = self.host_fd_path(fd)?;
        let st = crate::sys::fstatat(None, &p, 0).map_err(|_| Errno::EBADF)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let t = nix::fcntl::readlink(p.as_c_str()).map_err(|_| Errno::EBADF)?;
        link_to_path(t).ok_or(Errno::ENOENT)
    }

    fn ns_ids(&self) -> Result<(u32, u32), Errno> {
        if let Some(ids) = self.ns.get() {
            return Ok(ids);
        }
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.tid))
            .map_err(|_| Errno::ESRCH)?;
        let last = |key: &str| -> Option<u32> {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().last())
                .and_then(|v| v.parse().ok())
        };
        let ids = (
            last("NStgid:").ok_or(Errno::EIO)?,
            last("NSpid:").ok_or(Errno::EIO)?,
        );
        self.ns.set(Some(ids));
        Ok(ids)
    }
}
