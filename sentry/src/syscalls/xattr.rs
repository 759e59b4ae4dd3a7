//! Extended attributes by path. Reads go to the object in the view; changes are made by the gofer.

use std::ffi::CString;
use std::os::fd::AsFd;

use nix::errno::Errno;

use super::{Reply, SysResult, SyscallArgs};
use crate::kernel::task::Task;
use crate::policy::Access;
use crate::sys;
use crate::vfs::{fd_path, Kind, Node, Start};

const XATTR_NAME_MAX: usize = 255;
const XATTR_SIZE_MAX: usize = 65536;

fn read_name(t: &Task<'_>, ptr: u64) -> Result<CString, Errno> {
    let n = t.mem().read_cstr(ptr, XATTR_NAME_MAX).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::ERANGE
        } else {
            e
        }
    })?;
    if n.is_empty() {
        return Err(Errno::ERANGE);
    }
    CString::new(n).map_err(|_| Errno::EINVAL)
}

/// Resolves the object (checked for reading, or for writing).
fn resolve(t: &mut Task<'_>, ptr: u64, follow: bool, write: bool) -> Result<Node, Errno> {
    let path = t.read_path(ptr)?;
    let node = t.resolve(Start::Cwd, &path, follow)?;
    let node = t.k.vfs.deref_fd_link(t, node)?;
    if matches!(node.kind, Kind::Missing) {
        t.check(Access::Lookup, &node)?;
        return Err(Errno::ENOENT);
    }
    t.check(if write { Access::Write } else { Access::Read }, &node)?;
    Ok(node)
}

/// An O_PATH fd on the object in the view, for reading its attributes.
fn object(t: &mut Task<'_>, ptr: u64, follow: bool) -> Result<std::os::fd::OwnedFd, Errno> {
    let node = resolve(t, ptr, follow, false)?;
    t.k.vfs.open_view(&node.path, libc::O_PATH, 0)
}

fn get(t: &mut Task<'_>, a: &SyscallArgs, follow: bool) -> SysResult {
    let name = read_name(t, a.ptr(1))?;
    let size = usize::try_from(a.u64(3))
        .map_err(|_| Errno::EINVAL)?
        .min(XATTR_SIZE_MAX);
    let fd = object(t, a.ptr(0), follow)?;
    let mut buf = vec![0u8; size];
    let n = sys::getxattr(&fd_path(fd.as_fd()), &name, &mut buf, true)?;
    if size > 0 {
        t.write_out(a.ptr(2), &buf[..n.min(size)])?;
    }
    Ok(Reply::Val(i64::try_from(n).map_err(|_| Errno::E2BIG)?))
}

fn set(t: &mut Task<'_>, a: &SyscallArgs, follow: bool) -> SysResult {
    let name = read_name(t, a.ptr(1))?;
    let size = usize::try_from(a.u64(3)).map_err(|_| Errno::E2BIG)?;
    if size > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let value = if size == 0 {
        Vec::new()
    } else {
        t.read_bytes(a.ptr(2), size)?
    };
    let flags = a.i32(4);
    if flags & !(libc::XATTR_CREATE | libc::XATTR_REPLACE) != 0 {
        return Err(Errno::EINVAL);
    }
    let node = resolve(t, a.ptr(0), follow, true)?;
    let (m, rel) = t.k.vfs.writable_for(&node.path).ok_or(Errno::EROFS)?;
    m.setxattr(rel, name.as_bytes(), &value, flags)?;
    Ok(Reply::Val(0))
}

fn list(t: &mut Task<'_>, a: &SyscallArgs, follow: bool) -> SysResult {
    let size = usize::try_from(a.u64(2))
        .map_err(|_| Errno::EINVAL)?
        .min(XATTR_SIZE_MAX);
    let fd = object(t, a.ptr(0), follow)?;
    let mut buf = vec![0u8; size];
    let n = sys::listxattr(&fd_path(fd.as_fd()), &mut buf, true)?;
    if size > 0 {
        t.write_out(a.ptr(1), &buf[..n.min(size)])?;
    }
    Ok(Reply::Val(i64::try_from(n).map_err(|_| Errno::E2BIG)?))
}

fn remove(t: &mut Task<'_>, a: &SyscallArgs, follow: bool) -> SysResult {
    let name = read_name(t, a.ptr(1))?;
    let node = resolve(t, a.ptr(0), follow, true)?;
    let (m, rel) = t.k.vfs.writable_for(&node.path).ok_or(Errno::EROFS)?;
    m.removexattr(rel, name.as_bytes())?;
    Ok(Reply::Val(0))
}

/// getxattr(2).
pub fn sys_getxattr(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    get(t, a, true)
}
/// lgetxattr(2). The object is opened without following a final symlink.
pub fn sys_lgetxattr(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    get(t, a, false)
}
/// setxattr(2).
pub fn sys_setxattr(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    set(t, a, true)
}
/// lsetxattr(2).
pub fn sys_lsetxattr(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    set(t, a, false)
}
/// listxattr(2).
pub fn sys_listxattr(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    list(t, a, true)
}
/// llistxattr(2).
pub fn sys_llistxattr(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    list(t, a, false)
}
/// removexattr(2).
pub fn sys_removexattr(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    remove(t, a, true)
}
/// lremovexattr(2).
pub fn sys_lremovexattr(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    remove(t, a, false)
}
