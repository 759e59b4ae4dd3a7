//! Writable mounts, behind one trait.
//!
//! A [`Mount`] serves the writable side of a grant or of the private tmpfs. Its one required operation is `open`:
//! open a path beneath the mount's root, following no symlink, with the caller's flags. Everything else the handlers
//! do is built on fds it returns (an O_PATH fd on the object for chmod/chown/utimes/xattrs, the parent directory for
//! the `*at(dirfd, name)` calls, which never follow a final symlink). [`HostMount`] does it with a directory fd of its
//! own; the gofer issue adds a mount that asks the gofer, which opens beneath its grant roots and hands the fd back
//! over SCM_RIGHTS, and no handler changes.
//!
//! Every open resolves beneath the root with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: the
//! canonical path the VFS computed contains no symlink, so one swapped in by a race makes the operation fail (ELOOP)
//! instead of following it anywhere.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::sys;

const STRICT: u64 = sys::RESOLVE_BENEATH | sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS;

/// The writable side of one mount of the sandbox.
pub trait Mount: Send + Sync + std::fmt::Debug {
    /// Sandbox path of the mount's root.
    fn path(&self) -> &Path;

    /// Opens `rel` (canonical, symlink-free, relative to the root; empty for the root itself) with the caller's flags,
    /// following no symlink.
    fn open(&self, rel: &Path, flags: i32, mode: u32) -> Result<OwnedFd, Errno>;

    /// An O_PATH fd on `rel` itself (a final symlink is not followed).
    fn target(&self, rel: &Path) -> Result<OwnedFd, Errno> {
        self.open(rel, libc::O_PATH | libc::O_NOFOLLOW, 0)
    }

    /// The parent directory of `rel` (O_PATH) and the last component: for calls of the `*at(dirfd, name)` shape, which
    /// never follow a final symlink.
    fn parent(&self, rel: &Path) -> Result<(OwnedFd, CString), Errno> {
        let name = rel.file_name().ok_or(Errno::EBUSY)?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        let dir = self.open(parent, libc::O_PATH | libc::O_DIRECTORY, 0)?;
        Ok((
            dir,
            CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)?,
        ))
    }
}

/// A mount served from a directory fd the sentry holds.
#[derive(Debug)]
pub struct HostMount {
    path: PathBuf,
    root: OwnedFd,
}

fn cpath(p: &Path) -> Result<CString, Errno> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

impl HostMount {
    pub fn new(path: PathBuf, root: OwnedFd) -> Self {
        Self { path, root }
    }
}

impl Mount for HostMount {
    fn path(&self) -> &Path {
        &self.path
    }

    fn open(&self, rel: &Path, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
        if rel.as_os_str().is_empty() {
            // The root itself (a file grant, or the parent of a top-level name): reopen it through its fd.
            let p = crate::vfs::fd_path(self.root.as_fd());
            return sys::openat2(self.root.as_fd(), &p, flags | libc::O_CLOEXEC, mode, 0);
        }
        sys::openat2(
            self.root.as_fd(),
            &cpath(rel)?,
            flags | libc::O_CLOEXEC,
            mode,
            STRICT,
        )
    }
}

/// A name as a C string.
pub fn cname(n: &OsStr) -> Result<CString, Errno> {
    CString::new(n.as_bytes()).map_err(|_| Errno::EINVAL)
}
