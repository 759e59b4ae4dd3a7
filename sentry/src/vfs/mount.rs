//! Writable mounts: a directory fd on the writable side of a grant (the host directory) or of the private tmpfs.
//!
//! Every operation resolves beneath the mount's root with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS`: the canonical path the VFS computed contains no symlink, so one swapped in by a race makes
//! the operation fail (ELOOP) instead of following it anywhere.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::sys;

const STRICT: u64 = sys::RESOLVE_BENEATH | sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS;

/// One writable mount.
#[derive(Debug)]
pub struct WMount {
    /// Sandbox path of the mount's root.
    pub path: PathBuf,
    root: OwnedFd,
}

fn cpath(p: &Path) -> Result<CString, Errno> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

impl WMount {
    pub fn new(path: PathBuf, root: OwnedFd) -> Self {
        Self { path, root }
    }

    /// Opens `rel` beneath the root with the caller's flags.
    pub fn open(&self, rel: &Path, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
        if rel.as_os_str().is_empty() {
            // The root itself (a file grant): reopen it through its fd.
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

    /// An O_PATH fd on `rel` itself (a final symlink is not followed).
    pub fn target(&self, rel: &Path) -> Result<OwnedFd, Errno> {
        self.open(rel, libc::O_PATH | libc::O_NOFOLLOW, 0)
    }

    /// The parent directory of `rel` (O_PATH) and the last component: for calls of the `*at(dirfd, name)` shape, which
    /// never follow a final symlink.
    pub fn parent(&self, rel: &Path) -> Result<(OwnedFd, CString), Errno> {
        let name = rel.file_name().ok_or(Errno::EBUSY)?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        let dir = if parent.as_os_str().is_empty() {
            self.open(Path::new(""), libc::O_PATH | libc::O_DIRECTORY, 0)?
        } else {
            self.open(parent, libc::O_PATH | libc::O_DIRECTORY, 0)?
        };
        Ok((
            dir,
            CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)?,
        ))
    }
}

/// A name as a C string.
pub fn cname(n: &OsStr) -> Result<CString, Errno> {
    CString::new(n.as_bytes()).map_err(|_| Errno::EINVAL)
}
