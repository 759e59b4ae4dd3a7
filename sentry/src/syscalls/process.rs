//! execve and execveat: checked here, then CONTINUEd.
//!
//! Only the task can replace its own image, so the sentry cannot perform exec for it (the ptrace platform could
//! rewrite the path argument; the seccomp platform cannot). The kernel re-reads the path after the check, but it
//! resolves it in the task's own mount view: grants only, read-only, `noexec` wherever the grant lacks exec. A raced
//! path can therefore only land on something the policy already lets the task execute. The ELF interpreter and a
//! script's `#!` interpreter are resolved by the kernel in the same view.

use nix::errno::Errno;

use super::fs::resolve_existing;
use super::{Reply, SysResult, SyscallArgs};
use crate::kernel::task::Task;
use crate::policy::Access;
use crate::vfs::path::link_to_path;
use crate::vfs::{Kind, Node, Start};

fn exec_check(t: &mut Task<'_>, node: &Node) -> SysResult {
    t.check(Access::Exec, node)?;
    match &node.kind {
        Kind::Exists(st) if st.st_mode & libc::S_IFMT == libc::S_IFREG => Ok(Reply::Continue),
        Kind::Exists(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => Err(Errno::EACCES),
        Kind::ProcFd { .. } => Ok(Reply::Continue),
        _ => Err(Errno::EACCES),
    }
}

/// execve(2).
pub fn sys_execve(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let path = t.read_path(a.ptr(0))?;
    let node = resolve_existing(t, Start::Cwd, &path, true)?;
    exec_check(t, &node)
}

/// execveat(2). With AT_EMPTY_PATH and an empty path, the fd itself is executed: its path is checked.
pub fn sys_execveat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let flags = a.i32(4);
    if flags & !(libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    t.args.dirfd = Some(a.i32(0));
    let path = t.read_path(a.ptr(1))?;
    if path.is_empty() {
        if flags & libc::AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        let Start::Fd(fd) = a.start(0) else {
            return Err(Errno::EBADF);
        };
        let link =
            nix::fcntl::readlink(t.host_fd_path(fd)?.as_c_str()).map_err(|_| Errno::EBADF)?;
        // An fd with no path (a memfd, a deleted file) can only hold what the task wrote itself.
        let Some(p) = link_to_path(link) else {
            return Ok(Reply::Continue);
        };
        let st = crate::sys::fstatat(None, &t.host_fd_path(fd)?, 0)?;
        let node = Node {
            policy_path: p.clone(),
            path: p,
            kind: Kind::Exists(Box::new(st)),
        };
        return exec_check(t, &node);
    }
    let node = resolve_existing(t, a.start(0), &path, flags & libc::AT_SYMLINK_NOFOLLOW == 0)?;
    if node.is_symlink() {
        return Err(Errno::ELOOP);
    }
    exec_check(t, &node)
}
