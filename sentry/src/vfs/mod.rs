//! The sandbox's filesystem as the sentry serves it.
//!
//! Two sides, one namespace:
//! - the **view**: the agent's own mount namespace (grant-shaped, read-only binds, /proc of the sandbox, a minimal
//!   /dev), reached through `view_root` (the sandbox init's root). Path resolution walks it, and every read-only
//!   open and every directory is opened through it, so a directory fd the agent holds always lies in its view
//!   (fchdir and the natively-continued execve/chdir then resolve inside the grants).
//! - the **gofer mounts** ([`mount::Mount`], served by [`mount::GoferMount`]): one per grant and one each for the
//!   private tmpfs's /tmp and /dev/shm. The sentry never touches a host file itself: every write, creation, removal,
//!   rename, link and metadata change is performed by the gofer beneath its own copy of the root, on the canonical
//!   path the resolver produced and the policy checked. Read-only opens and lookups are served in the view (the
//!   agent's own read-only, grant-shaped mount namespace), where the kernel bounds them (DESIGN.md, layer 1).

#![forbid(unsafe_code)]

pub mod mount;
pub mod path;

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

pub use mount::{GoferMount, Mount};
pub use path::{Kind, Node, Start};

/// The sandbox's filesystem.
#[derive(Debug)]
pub struct Vfs {
    view_root: OwnedFd,
    /// Longest path first, so the first match is the innermost mount.
    mounts: Vec<Box<dyn Mount>>,
    /// The host path of the agent's terminal (a pty slave), served as /dev/tty.
    pub tty: Option<PathBuf>,
    /// Trees the view itself serves (/proc, /dev, an OCI sysfs): never a gofer mount's, even below one at `/`
    /// (an OCI rootfs), unless a mount lies inside them (/dev/shm).
    view_owned: Vec<PathBuf>,
}

/// `/a/b` → `a/b`, `/` → `.`: a path relative to the view root.
pub fn view_rel(path: &Path) -> Result<CString, Errno> {
    let b = path.as_os_str().as_bytes();
    let trimmed = b.strip_prefix(b"/").unwrap_or(b);
    let rel = if trimmed.is_empty() {
        &b"."[..]
    } else {
        trimmed
    };
    CString::new(rel).map_err(|_| Errno::EINVAL)
}

/// The path of an fd of this process, for calls that only take paths (chmod, xattrs, reopen).
pub fn fd_path(fd: BorrowedFd<'_>) -> CString {
    use std::os::fd::AsRawFd;
    // A decimal number never contains NUL.
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default()
}

impl Vfs {
    pub fn new(view_root: OwnedFd, mut mounts: Vec<Box<dyn Mount>>, tty: Option<PathBuf>) -> Self {
        mounts.sort_by_key(|m| std::cmp::Reverse(m.path().as_os_str().len()));
        Self {
            view_root,
            mounts,
            tty,
            view_owned: vec![PathBuf::from("/proc"), PathBuf::from("/dev")],
        }
    }

    /// More trees the view serves (see `view_owned`).
    pub fn with_view_owned(mut self, more: impl IntoIterator<Item = PathBuf>) -> Self {
        self.view_owned.extend(more);
        self
    }

    pub fn view_root(&self) -> BorrowedFd<'_> {
        self.view_root.as_fd()
    }

    /// The innermost mount containing `path`, and the path relative to it.
    pub fn mount_for<'p>(&self, path: &'p Path) -> Option<(&dyn Mount, &'p Path)> {
        let (m, rel) = self.mounts.iter().find_map(|m| {
            path.strip_prefix(m.path())
                .ok()
                .map(|rel| (m.as_ref(), rel))
        })?;
        let shadowed = self
            .view_owned
            .iter()
            .any(|v| path.starts_with(v) && v.as_os_str().len() > m.path().as_os_str().len());
        (!shadowed).then_some((m, rel))
    }

    /// The innermost mount containing `path` when the agent may write there (None: the path is read-only).
    pub fn writable_for<'p>(&self, path: &'p Path) -> Option<(&dyn Mount, &'p Path)> {
        self.mount_for(path).filter(|(m, _)| m.writable())
    }

    /// Opens `path` (canonical) for reading, following no symlink: a file under a mount is opened by the gofer; a
    /// directory, and anything outside the mounts (/proc, /dev), in the view, so that a directory fd the agent holds
    /// always lies in its own read-only mount view.
    pub fn open_read(&self, path: &Path, flags: i32) -> Result<OwnedFd, Errno> {
        if flags & libc::O_DIRECTORY == 0 {
            if let Some((m, rel)) = self.mount_for(path) {
                let fd = m.open(rel, flags | libc::O_NOFOLLOW, 0)?;
                let dir = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd))
                    .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
                if !dir {
                    return Ok(fd);
                }
            }
        }
        self.open_view(path, flags, 0)
    }

    /// Opens `path` (canonical) in the view with `flags`, following no symlink.
    pub fn open_view(&self, path: &Path, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
        let rel = view_rel(path)?;
        crate::sys::openat2(
            self.view_root.as_fd(),
            &rel,
            flags | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            mode,
            crate::sys::RESOLVE_IN_ROOT
                | crate::sys::RESOLVE_NO_SYMLINKS
                | crate::sys::RESOLVE_NO_MAGICLINKS,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_rel_root_is_dot() {
        assert_eq!(view_rel(Path::new("/")).expect("ok").as_bytes(), b".");
        assert_eq!(
            view_rel(Path::new("/usr/lib")).expect("ok").as_bytes(),
            b"usr/lib"
        );
    }
}
