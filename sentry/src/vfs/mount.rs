//! Mounts served by the gofer, behind one trait.
//!
//! A [`Mount`] is one root of the sandbox's filesystem whose host side the sentry does not touch itself: a grant, or
//! the private tmpfs. Every operation names a canonical, symlink-free path relative to the mount (the VFS resolved it
//! in the sandbox's view and the policy decided on it); the mount performs it. [`GoferMount`], the one implementation,
//! asks the gofer, which opens beneath its own copy of the root with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS` (a symlink swapped in by a race fails the call with ELOOP instead of being followed), checks
//! the grant's mode itself, and hands fds back over SCM_RIGHTS. Later mount kinds (an overlay for the transactional
//! workspace) implement the same trait.

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gofer::{Client, Req, RootId, Time};
use nix::errno::Errno;

/// One gofer-served mount of the sandbox.
pub trait Mount: Send + Sync + std::fmt::Debug {
    /// Sandbox path of the mount's root.
    fn path(&self) -> &Path;
    /// May the agent write here (a writable grant, the private tmpfs)?
    fn writable(&self) -> bool;
    /// Opens `rel` (empty: the root itself) with the caller's flags, following no symlink.
    fn open(&self, rel: &Path, flags: i32, mode: u32) -> Result<OwnedFd, Errno>;
    fn mkdir(&self, rel: &Path, mode: u32) -> Result<(), Errno>;
    fn unlink(&self, rel: &Path, dir: bool) -> Result<(), Errno>;
    fn rename(&self, from: &Path, to: &Path, flags: u32) -> Result<(), Errno>;
    fn link(&self, from: &Path, to: &Path) -> Result<(), Errno>;
    fn symlink(&self, target: &[u8], rel: &Path) -> Result<(), Errno>;
    fn chmod(&self, rel: &Path, mode: u32) -> Result<(), Errno>;
    /// `None` leaves an id unchanged.
    fn chown(&self, rel: &Path, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno>;
    /// `None` sets both times to now.
    fn utimens(&self, rel: &Path, times: Option<[libc::timespec; 2]>) -> Result<(), Errno>;
    fn truncate(&self, rel: &Path, len: u64) -> Result<(), Errno>;
    /// A FIFO or a socket.
    fn mknod(&self, rel: &Path, mode: u32) -> Result<(), Errno>;
    fn setxattr(&self, rel: &Path, name: &[u8], value: &[u8], flags: i32) -> Result<(), Errno>;
    fn removexattr(&self, rel: &Path, name: &[u8]) -> Result<(), Errno>;

    /// An O_PATH fd on `rel` itself (a final symlink is not followed).
    fn target(&self, rel: &Path) -> Result<OwnedFd, Errno> {
        self.open(rel, libc::O_PATH | libc::O_NOFOLLOW, 0)
    }

    /// The parent directory of `rel` (O_PATH) and the last component, for the two calls the sentry makes through an
    /// fd the mount handed out, because only the sentry holds what they need: linking an unnamed O_TMPFILE (only the
    /// task's own fd reaches it) and binding a unix socket at a path (bind(2) takes a path, which the sentry forms as
    /// `/proc/self/fd/<dir>/<name>`; the gofer has no /proc). The gofer's copy of a read-only grant is a read-only
    /// mount, so such an fd cannot write there whatever is done with it.
    fn parent(&self, rel: &Path) -> Result<(OwnedFd, CString), Errno> {
        let name = rel.file_name().ok_or(Errno::EBUSY)?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        let dir = self.open(parent, libc::O_PATH | libc::O_DIRECTORY, 0)?;
        Ok((dir, cname(name)?))
    }
}

/// A mount whose host side is one root of the gofer.
#[derive(Debug)]
pub struct GoferMount {
    path: PathBuf,
    root: RootId,
    writable: bool,
    gofer: Arc<Client>,
}

impl GoferMount {
    pub fn new(path: PathBuf, root: RootId, writable: bool, gofer: Arc<Client>) -> Self {
        Self {
            path,
            root,
            writable,
            gofer,
        }
    }
}

fn b(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}

fn time(t: libc::timespec) -> Time {
    Time {
        sec: t.tv_sec,
        nsec: t.tv_nsec,
    }
}

impl Mount for GoferMount {
    fn path(&self) -> &Path {
        &self.path
    }

    fn writable(&self) -> bool {
        self.writable
    }

    fn open(&self, rel: &Path, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
        self.gofer.open(self.root, &b(rel), flags, mode)
    }

    fn mkdir(&self, rel: &Path, mode: u32) -> Result<(), Errno> {
        self.gofer.unit(&Req::Mkdir {
            root: self.root,
            path: b(rel),
            mode,
        })
    }

    fn unlink(&self, rel: &Path, dir: bool) -> Result<(), Errno> {
        self.gofer.unit(&Req::Unlink {
            root: self.root,
            path: b(rel),
            dir,
        })
    }

    fn rename(&self, from: &Path, to: &Path, flags: u32) -> Result<(), Errno> {
        self.gofer.unit(&Req::Rename {
            root: self.root,
            from: b(from),
            to: b(to),
            flags,
        })
    }

    fn link(&self, from: &Path, to: &Path) -> Result<(), Errno> {
        self.gofer.unit(&Req::Link {
            root: self.root,
            from: b(from),
            to: b(to),
        })
    }

    fn symlink(&self, target: &[u8], rel: &Path) -> Result<(), Errno> {
        self.gofer.unit(&Req::Symlink {
            root: self.root,
            target: target.to_vec(),
            path: b(rel),
        })
    }

    fn chmod(&self, rel: &Path, mode: u32) -> Result<(), Errno> {
        self.gofer.unit(&Req::Chmod {
            root: self.root,
            path: b(rel),
            mode,
        })
    }

    fn chown(&self, rel: &Path, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
        self.gofer.unit(&Req::Chown {
            root: self.root,
            path: b(rel),
            uid: uid.unwrap_or(u32::MAX),
            gid: gid.unwrap_or(u32::MAX),
        })
    }

    fn utimens(&self, rel: &Path, times: Option<[libc::timespec; 2]>) -> Result<(), Errno> {
        self.gofer.unit(&Req::Utimens {
            root: self.root,
            path: b(rel),
            times: times.map(|[a, m]| [time(a), time(m)]),
        })
    }

    fn truncate(&self, rel: &Path, len: u64) -> Result<(), Errno> {
        self.gofer.unit(&Req::Truncate {
            root: self.root,
            path: b(rel),
            len,
        })
    }

    fn mknod(&self, rel: &Path, mode: u32) -> Result<(), Errno> {
        self.gofer.unit(&Req::Mknod {
            root: self.root,
            path: b(rel),
            mode,
        })
    }

    fn setxattr(&self, rel: &Path, name: &[u8], value: &[u8], flags: i32) -> Result<(), Errno> {
        self.gofer.unit(&Req::SetXattr {
            root: self.root,
            path: b(rel),
            name: name.to_vec(),
            value: value.to_vec(),
            flags,
        })
    }

    fn removexattr(&self, rel: &Path, name: &[u8]) -> Result<(), Errno> {
        self.gofer.unit(&Req::RemoveXattr {
            root: self.root,
            path: b(rel),
            name: name.to_vec(),
        })
    }
}

/// A name as a C string.
pub fn cname(n: &std::ffi::OsStr) -> Result<CString, Errno> {
    CString::new(n.as_bytes()).map_err(|_| Errno::EINVAL)
}
