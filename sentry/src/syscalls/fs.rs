//! Path-bearing filesystem syscalls. Each copies its path once, resolves it with the VFS (the one resolver), asks the
//! policy (the one decision point) about the canonical path, and performs the operation itself: reads and
//! directories through the sandbox's view, writes beneath a writable mount. Nothing here answers CONTINUE except
//! chdir, which only the task can perform (see `sys_chdir`).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::{Reply, SysResult, SyscallArgs};
use crate::kernel::task::Task;
use crate::policy::{Access, Granted};
use crate::sys::{self, CBytes};
use crate::vfs::{fd_path, view_rel, Kind, Mount, Node, Start};

const O_TMPFILE_BITS: i32 = libc::O_TMPFILE;

/// The permission bits the sentry applies for the task: set-user-ID and set-group-ID are dropped (a sandbox never
/// plants a setuid file on the host, whoever runs the sentry); sticky and rwx bits are kept.
fn mode_bits(mode: u32) -> u32 {
    mode & 0o1777
}

fn flags_text(flags: i32) -> String {
    let mut parts = vec![match flags & libc::O_ACCMODE {
        libc::O_RDONLY => "O_RDONLY",
        libc::O_WRONLY => "O_WRONLY",
        _ => "O_RDWR",
    }
    .to_string()];
    for (bit, name) in [
        (libc::O_CREAT, "O_CREAT"),
        (libc::O_EXCL, "O_EXCL"),
        (libc::O_TRUNC, "O_TRUNC"),
        (libc::O_APPEND, "O_APPEND"),
        (libc::O_DIRECTORY, "O_DIRECTORY"),
        (libc::O_NOFOLLOW, "O_NOFOLLOW"),
        (libc::O_CLOEXEC, "O_CLOEXEC"),
        (libc::O_PATH, "O_PATH"),
        (libc::O_NONBLOCK, "O_NONBLOCK"),
    ] {
        if flags & bit == bit {
            parts.push(name.to_string());
        }
    }
    if flags & O_TMPFILE_BITS == O_TMPFILE_BITS {
        parts.push("O_TMPFILE".into());
    }
    parts.join("|")
}

/// The writable mount for a checked path, or EROFS: the view itself is read-only.
fn writable<'a>(
    t: &'a Task<'_>,
    _g: &Granted,
    path: &'a Path,
) -> Result<(&'a dyn Mount, &'a Path), Errno> {
    t.k.vfs.writable_for(path).ok_or(Errno::EROFS)
}

/// Both paths of a rename or link on one writable mount (EXDEV otherwise, as across filesystems).
fn same_mount<'a>(
    t: &'a Task<'_>,
    (g1, p1): (&Granted, &'a Path),
    (g2, p2): (&Granted, &'a Path),
) -> Result<(&'a dyn Mount, &'a Path, &'a Path), Errno> {
    let (m1, rel1) = writable(t, g1, p1)?;
    let (m2, rel2) = writable(t, g2, p2)?;
    if m1.path() != m2.path() {
        return Err(Errno::EXDEV);
    }
    Ok((m1, rel1, rel2))
}

fn is_under_proc(p: &Path) -> bool {
    p.starts_with("/proc")
}

/// The sandbox path of the file behind `/proc/<pid>/fd/<n>`, when it is an ordinary file (not a pipe, socket, /proc or
/// /dev object).
fn proc_fd_file(t: &Task<'_>, rel: &Path) -> Option<PathBuf> {
    let rel = view_rel(rel).ok()?;
    let target =
        nix::fcntl::readlinkat(Some(t.k.vfs.view_root().as_raw_fd()), rel.as_c_str()).ok()?;
    crate::vfs::path::link_to_path(target)
        .filter(|p| !p.starts_with("/proc") && !p.starts_with("/dev"))
}

/// The open flags of `/proc/<pid>/fd/<n>` (from its fdinfo), for reopen decisions.
fn proc_fd_flags(t: &Task<'_>, rel: &Path) -> Result<i32, Errno> {
    let mut info = rel.to_path_buf();
    let n = info
        .file_name()
        .map(|n| n.to_os_string())
        .ok_or(Errno::EBADF)?;
    info.pop();
    info.pop();
    info.push("fdinfo");
    info.push(n);
    let fd = t.k.vfs.open_view(&info, libc::O_RDONLY, 0)?;
    let text = std::fs::read_to_string(fd_path(fd.as_fd()).to_string_lossy().as_ref())
        .map_err(|_| Errno::EBADF)?;
    text.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|v| i32::from_str_radix(v.trim(), 8).ok())
        .ok_or(Errno::EBADF)
}

fn is_fifo(fd: &OwnedFd) -> bool {
    nix::sys::stat::fstat(fd.as_raw_fd()).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFIFO)
}

/// Read-only lookups and opens, checked then CONTINUEd where the view is exact (`Policy::view_is_exact`): the policy
/// decides on the lexical path (and the decision is recorded), then the kernel performs the call in the task's own
/// read-only, grant-shaped view with the task's own credentials and Landlock rules. A racing thread can only swap in
/// another path of that view, and everything in it is readable under this policy, so the worst case is bounded by
/// layer 1 (DESIGN.md, layer 3). Returns None (emulate) for /proc (whose entries the policy judges finer than the
/// kernel), for paths with `..`, and whenever the lexical path is not allowed (the emulated path then records the
/// decision on the canonical path).
fn continue_read_only(
    t: &mut Task<'_>,
    start: Start,
    path: &[u8],
    access: Access,
) -> Result<Option<Reply>, Errno> {
    if !t.k.policy.view_is_exact() || path.is_empty() {
        return Ok(None);
    }
    let Some(lex) = t.k.vfs.lexical(t, start, path)? else {
        return Ok(None);
    };
    if t.k.policy.decide(access, &lex).0.is_err() {
        return Ok(None);
    }
    let node = Node {
        policy_path: lex.clone(),
        path: lex,
        kind: Kind::Missing,
    };
    t.check(access, &node)?;
    Ok(Some(Reply::Continue))
}

/// The shared core of open, openat, openat2 and creat.
fn open_common(t: &mut Task<'_>, start: Start, ptr: u64, flags: i32, mode: u32) -> SysResult {
    let path = t.read_path(ptr)?;
    open_path_bytes(t, start, &path, flags, mode)
}

fn open_path_bytes(
    t: &mut Task<'_>,
    start: Start,
    path: &[u8],
    flags: i32,
    mode: u32,
) -> SysResult {
    let path = path.to_vec();
    t.args.flags = Some(flags_text(flags));
    let acc = flags & libc::O_ACCMODE;
    let opath = flags & libc::O_PATH != 0;
    let creat = flags & libc::O_CREAT != 0 && !opath;
    let excl = flags & libc::O_EXCL != 0;
    let tmpfile = flags & O_TMPFILE_BITS == O_TMPFILE_BITS;
    let cloexec = flags & libc::O_CLOEXEC != 0;
    if creat || tmpfile {
        t.args.mode = Some(mode);
    }
    let follow = flags & libc::O_NOFOLLOW == 0 && !(creat && excl);
    // Flags for reopening what was resolved: creation is done, and the canonical path has no symlink to refuse.
    let reopen = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC);
    // Fast path: a plain read-only open. Decide on the lexical path, then open it once with no symlink allowed; that
    // open succeeds only when the lexical path is the canonical one, so the decision held. Anything else (a symlink on
    // the way, `..`, /proc, a denial that the canonical path might not share) takes the full walk below.
    if acc == libc::O_RDONLY
        && flags & (libc::O_CREAT | O_TMPFILE_BITS | libc::O_PATH | libc::O_TRUNC) == 0
    {
        if let Some(r) = continue_read_only(t, start, &path, Access::Read)? {
            return Ok(r);
        }
        if let Some(lex) = t.k.vfs.lexical(t, start, &path)? {
            if t.k.policy.decide(Access::Read, &lex).0.is_ok() {
                // O_NONBLOCK so that a FIFO cannot stall the pool's leader here: a FIFO takes the slow path, which hands
                // leadership off before it blocks. For anything else the flag is cleared again.
                match t.k.vfs.open_read(&lex, reopen | libc::O_NONBLOCK) {
                    Ok(fd) if flags & libc::O_NONBLOCK == 0 && is_fifo(&fd) => drop(fd),
                    Ok(fd) => {
                        if flags & libc::O_NONBLOCK == 0 {
                            nix::fcntl::fcntl(
                                fd.as_raw_fd(),
                                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::from_bits_retain(
                                    reopen,
                                )),
                            )?;
                        }
                        let node = Node {
                            policy_path: lex.clone(),
                            path: lex,
                            kind: Kind::Missing,
                        };
                        t.check(Access::Read, &node)?;
                        t.still_valid()?;
                        return Ok(Reply::Fd { fd, cloexec });
                    }
                    Err(Errno::ELOOP | Errno::EXDEV) => {}
                    Err(e) => {
                        let node = Node {
                            policy_path: lex.clone(),
                            path: lex,
                            kind: Kind::Missing,
                        };
                        t.check(Access::Read, &node)?;
                        return Err(e);
                    }
                }
            }
        }
    }
    let node = t.resolve(start, &path, follow)?;
    if opath {
        return open_path(t, &node, flags, cloexec);
    }
    let fd: OwnedFd = match &node.kind {
        Kind::Missing => {
            if !creat && !tmpfile {
                return Err(Errno::ENOENT);
            }
            if tmpfile || path.ends_with(b"/") {
                return Err(if tmpfile {
                    Errno::ENOENT
                } else {
                    Errno::EISDIR
                });
            }
            let g = t.check(Access::Write, &node)?;
            let (m, rel) = writable(t, &g, &node.path)?;
            let umask = t.umask()?;
            m.open(
                rel,
                (flags | libc::O_NOFOLLOW) & !libc::O_CLOEXEC,
                mode_bits(mode) & !umask,
            )?
        }
        Kind::ProcLink(_) => {
            if !opath {
                return Err(Errno::ELOOP);
            }
            t.check(Access::Lookup, &node)?;
            t.k.vfs.open_view(&node.path, libc::O_PATH, 0)?
        }
        Kind::ProcFd { rel } if !opath && proc_fd_file(t, rel).is_some() => {
            // A file with a path: reopening it is opening that path (checked, and served on the right side).
            let target = proc_fd_file(t, rel).unwrap_or_default();
            return open_path_bytes(t, Start::Cwd, target.as_os_str().as_bytes(), flags, mode);
        }
        Kind::ProcFd { rel } => {
            let writes = acc != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
            let access = if writes { Access::Write } else { Access::Read };
            t.check(Access::Lookup, &node)?;
            // Never more than the open file already gives: a reopen for writing needs a writable original.
            let original = proc_fd_flags(t, rel)?;
            let orig_acc = original & libc::O_ACCMODE;
            let may_read = orig_acc == libc::O_RDONLY || orig_acc == libc::O_RDWR;
            let may_write = orig_acc == libc::O_WRONLY || orig_acc == libc::O_RDWR;
            if (writes && !may_write) || (acc != libc::O_WRONLY && !may_read) {
                t.check(access, &node)?;
                return Err(Errno::EACCES);
            }
            // The open file's own path, if it has one, must allow a write too.
            let target = nix::fcntl::readlinkat(
                Some(t.k.vfs.view_root().as_raw_fd()),
                view_rel(rel)?.as_c_str(),
            )?;
            if let Some(p) = crate::vfs::path::link_to_path(target) {
                if writes {
                    let inner = Node {
                        policy_path: p.clone(),
                        path: p,
                        kind: Kind::Missing,
                    };
                    t.check(access, &inner)?;
                }
            }
            if flags & libc::O_NONBLOCK == 0
                && sys::fstatat(Some(t.k.vfs.view_root()), &view_rel(rel)?, 0)
                    .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFIFO)
            {
                crate::kernel::pool::handoff(t.k);
            }
            // Reopening through the magic link is what Linux does for /proc/self/fd/N.
            let c = view_rel(rel)?;
            let raw = nix::fcntl::openat(
                Some(t.k.vfs.view_root().as_raw_fd()),
                c.as_c_str(),
                nix::fcntl::OFlag::from_bits_retain(reopen | libc::O_CLOEXEC),
                nix::sys::stat::Mode::empty(),
            )?;
            sys::own_fd(raw)?
        }
        Kind::Exists(st) => {
            let fmt = st.st_mode & libc::S_IFMT;
            if creat && excl {
                return Err(Errno::EEXIST);
            }
            if fmt == libc::S_IFIFO && flags & libc::O_NONBLOCK == 0 {
                // Opening a FIFO waits for its other end: let another worker lead meanwhile.
                crate::kernel::pool::handoff(t.k);
            }
            if fmt == libc::S_IFLNK {
                if !opath {
                    return Err(Errno::ELOOP);
                }
                t.check(Access::Lookup, &node)?;
                t.k.vfs.open_view(&node.path, libc::O_PATH, 0)?
            } else if flags & libc::O_DIRECTORY != 0 && fmt != libc::S_IFDIR && !tmpfile {
                return Err(Errno::ENOTDIR);
            } else if tmpfile {
                if fmt != libc::S_IFDIR {
                    return Err(Errno::ENOTDIR);
                }
                let g = t.check(Access::Write, &node)?;
                let (m, rel) = writable(t, &g, &node.path)?;
                let umask = t.umask()?;
                m.open(rel, flags & !libc::O_CLOEXEC, mode_bits(mode) & !umask)?
            } else if opath {
                t.check(Access::Lookup, &node)?;
                t.k.vfs
                    .open_view(&node.path, reopen & (libc::O_PATH | libc::O_DIRECTORY), 0)?
            } else if node.path == Path::new("/dev/tty") {
                t.check(
                    if acc == libc::O_RDONLY {
                        Access::Read
                    } else {
                        Access::Write
                    },
                    &node,
                )?;
                // /dev/tty is the caller's controlling terminal: the agent's pty, which lives in the view.
                let tty = t.k.vfs.tty.as_ref().ok_or(Errno::ENXIO)?;
                t.k.vfs
                    .open_view(tty, (reopen | libc::O_NOCTTY) & !libc::O_TRUNC, 0)?
            } else {
                let writes = acc != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
                if fmt == libc::S_IFDIR {
                    if writes {
                        return Err(Errno::EISDIR);
                    }
                    t.check(Access::Read, &node)?;
                    t.k.vfs.open_view(&node.path, reopen, 0)?
                } else if writes {
                    let g = t.check(Access::Write, &node)?;
                    if fmt == libc::S_IFREG && !is_under_proc(&node.path) {
                        let (m, rel) = writable(t, &g, &node.path)?;
                        m.open(rel, reopen, 0)?
                    } else {
                        // Devices, FIFOs, sockets and procfs files: opened in the view (a read-only mount refuses
                        // writes to regular files only).
                        t.k.vfs.open_view(&node.path, reopen, 0)?
                    }
                } else {
                    t.check(Access::Read, &node)?;
                    t.k.vfs.open_read(&node.path, reopen)?
                }
            }
        }
    };
    t.still_valid()?;
    Ok(Reply::Fd { fd, cloexec })
}

/// O_PATH opens. ADDFD cannot install an O_PATH file (the kernel's fget() refuses them), so an O_PATH open is checked
/// and then CONTINUEd when every deny rule is masked in the view: the kernel re-resolves the path in the task's
/// read-only, grant-shaped view, so a racing thread can only land on something the task may look up, and an O_PATH fd
/// carries no read or write access. With a `**` deny rule (no mask), a directory gets a read-only directory fd from
/// the view, a readable regular file a read-only fd (never more than the policy allows), anything else EACCES.
fn open_path(t: &mut Task<'_>, node: &Node, flags: i32, cloexec: bool) -> SysResult {
    if matches!(node.kind, Kind::Missing) {
        t.check(Access::Lookup, node)?;
        return Err(Errno::ENOENT);
    }
    if flags & libc::O_DIRECTORY != 0 && !node.is_dir() && !matches!(node.kind, Kind::ProcFd { .. })
    {
        t.check(Access::Lookup, node)?;
        return Err(Errno::ENOTDIR);
    }
    t.check(Access::Lookup, node)?;
    if !t.k.policy.has_unmasked_deny() {
        // Every deny rule is masked in the view: the kernel's own O_PATH open there is bounded (see above).
        t.still_valid()?;
        return Ok(Reply::Continue);
    }
    if let Kind::Exists(st) = &node.kind {
        let fmt = st.st_mode & libc::S_IFMT;
        if fmt == libc::S_IFDIR {
            let fd =
                t.k.vfs
                    .open_view(&node.path, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
            return Ok(Reply::Fd { fd, cloexec });
        }
        if fmt == libc::S_IFREG && t.k.policy.decide(Access::Read, &node.policy_path).0.is_ok() {
            if let Ok(fd) =
                t.k.vfs
                    .open_read(&node.path, libc::O_RDONLY | libc::O_NONBLOCK)
            {
                return Ok(Reply::Fd { fd, cloexec });
            }
        }
    }
    // A `**` deny rule has no mask: a natively continued open could be raced onto a file it denies.
    Err(Errno::EACCES)
}

/// open(2).
pub fn sys_open(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    open_common(t, Start::Cwd, a.ptr(0), a.i32(1), a.u32(2))
}

/// openat(2).
pub fn sys_openat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    t.args.dirfd = Some(a.i32(0));
    open_common(t, a.start(0), a.ptr(1), a.i32(2), a.u32(3))
}

/// creat(2): open with O_CREAT|O_WRONLY|O_TRUNC.
pub fn sys_creat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    open_common(
        t,
        Start::Cwd,
        a.ptr(0),
        libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
        a.u32(1),
    )
}

const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_IN_ROOT: u64 = 0x10;
const RESOLVE_CACHED: u64 = 0x20;

/// openat2(2). The RESOLVE_* restrictions are enforced on the sentry's resolution: BENEATH and IN_ROOT refuse any
/// path that leaves the dirfd (EXDEV; IN_ROOT does not re-root absolute paths), NO_SYMLINKS refuses any symlink
/// (ELOOP), NO_MAGICLINKS refuses /proc magic links, CACHED is answered EAGAIN (callers retry without it).
pub fn sys_openat2(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let size = usize::try_from(a.u64(3)).map_err(|_| Errno::E2BIG)?;
    if size < 24 {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let raw = t.read_bytes(a.ptr(2), size)?;
    if raw[24..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let word = |i: usize| -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(b)
    };
    let (flags, mode, resolve) = (word(0), word(1), word(2));
    let known = RESOLVE_NO_XDEV
        | RESOLVE_NO_MAGICLINKS
        | RESOLVE_NO_SYMLINKS
        | RESOLVE_BENEATH
        | RESOLVE_IN_ROOT
        | RESOLVE_CACHED;
    if resolve & !known != 0 || (resolve & RESOLVE_BENEATH != 0 && resolve & RESOLVE_IN_ROOT != 0) {
        return Err(Errno::EINVAL);
    }
    let flags = i32::try_from(flags).map_err(|_| Errno::EINVAL)?;
    let mode = u32::try_from(mode).map_err(|_| Errno::EINVAL)?;
    if mode != 0 && flags & (libc::O_CREAT | O_TMPFILE_BITS) == 0 {
        return Err(Errno::EINVAL);
    }
    if resolve & RESOLVE_CACHED != 0 {
        return Err(Errno::EAGAIN);
    }
    t.args.dirfd = Some(a.i32(0));
    if resolve == 0 {
        return open_common(t, a.start(0), a.ptr(1), flags, mode);
    }
    let path = t.read_path(a.ptr(1))?;
    let canonical = resolve_restricted(t, a.start(0), &path, flags, resolve)?;
    open_path_bytes(
        t,
        Start::Cwd,
        canonical.as_os_str().as_bytes(),
        flags | libc::O_NOFOLLOW,
        mode,
    )
}

/// openat2's RESOLVE_* restrictions, enforced by the kernel itself on the task's one copy of the path, inside the
/// view: BENEATH and IN_ROOT resolve from the dirfd's directory in the view; the others resolve the absolute path
/// from the view's root with RESOLVE_IN_ROOT added, so an absolute symlink can never reach the host. Returns the
/// canonical path (the kernel's own report of what it found), which the ordinary open then checks and opens.
/// Paths under /proc, whose magic links the sentry translates itself, are refused with EXDEV when restrictions are
/// asked for.
fn resolve_restricted(
    t: &mut Task<'_>,
    start: Start,
    path: &[u8],
    flags: i32,
    resolve: u64,
) -> Result<PathBuf, Errno> {
    use crate::vfs::path::Caller;
    let absolute = path.first() == Some(&b'/');
    if absolute && resolve & RESOLVE_BENEATH != 0 {
        return Err(Errno::EXDEV);
    }
    let base = match start {
        Start::Cwd => t.cwd()?,
        Start::Fd(fd) if !absolute || resolve & RESOLVE_IN_ROOT != 0 => t.dir_fd_path(fd)?,
        Start::Fd(_) => PathBuf::from("/"),
    };
    // With NO_XDEV a relative path may start at the dirfd too: an absolute symlink would change mounts (EXDEV).
    let anchored = resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) != 0
        || (!absolute && resolve & RESOLVE_NO_XDEV != 0);
    let (dir, rel, extra) = if anchored {
        let rel = if absolute { &path[1..] } else { path };
        (base.clone(), rel.to_vec(), 0)
    } else {
        let mut joined = if absolute {
            PathBuf::from("/")
        } else {
            base.clone()
        };
        joined.push(std::ffi::OsStr::from_bytes(path));
        (
            PathBuf::from("/"),
            joined.as_os_str().as_bytes().to_vec(),
            sys::RESOLVE_IN_ROOT,
        )
    };
    let lexical = crate::policy::load::normalize(&dir.join(std::ffi::OsStr::from_bytes(&rel)));
    if lexical.starts_with("/proc") || dir.starts_with("/proc") {
        // /proc's magic links are the sentry's to translate: refused under restrictions, as ELOOP where the task
        // asked not to follow them.
        return Err(
            if resolve & (RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS) != 0 {
                Errno::ELOOP
            } else {
                Errno::EXDEV
            },
        );
    }
    let dirfd =
        t.k.vfs
            .open_view(&dir, libc::O_PATH | libc::O_DIRECTORY, 0)?;
    let rel = rel.strip_prefix(b"/").unwrap_or(&rel).to_vec();
    let rel = if rel.is_empty() { b".".to_vec() } else { rel };
    let want = libc::O_PATH | libc::O_CLOEXEC | (flags & (libc::O_NOFOLLOW | libc::O_DIRECTORY));
    let how = (resolve & !RESOLVE_CACHED) | extra;
    let crel = CString::new(rel.clone()).map_err(|_| Errno::EINVAL)?;
    let found = match sys::openat2(dirfd.as_fd(), &crel, want, 0, how) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) if flags & libc::O_CREAT != 0 => {
            // Creating: the parent must resolve under the same restrictions; the last name is appended.
            let p = Path::new(std::ffi::OsStr::from_bytes(&rel));
            let name = p.file_name().ok_or(Errno::ENOENT)?.to_os_string();
            let parent = p
                .parent()
                .filter(|x| !x.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let cparent = CString::new(parent.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
            let pfd = sys::openat2(
                dirfd.as_fd(),
                &cparent,
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                0,
                how,
            )?;
            let dirpath = proc_self_path(&pfd)?;
            return Ok(dirpath.join(name));
        }
        Err(e) => return Err(e),
    };
    proc_self_path(&found)
}

/// The sandbox path of an fd the sentry opened in the view (the kernel reports it inside the view's namespace).
fn proc_self_path(fd: &OwnedFd) -> Result<PathBuf, Errno> {
    let link = nix::fcntl::readlink(fd_path(fd.as_fd()).as_c_str())?;
    crate::vfs::path::link_to_path(link).ok_or(Errno::ENOENT)
}

fn stat_node(
    t: &mut Task<'_>,
    start: Start,
    ptr: u64,
    follow: bool,
    empty_ok: bool,
) -> Result<Option<libc::stat>, Errno> {
    let path = t.read_path(ptr)?;
    if path.is_empty() && empty_ok && t.k.policy.view_is_exact() {
        // fstat of the task's own fd (glibc's fstat): nothing is resolved but an fd the task holds anyway.
        return Ok(None);
    }
    if continue_read_only(t, start, &path, Access::Lookup)?.is_some() {
        return Ok(None);
    }
    stat_path(t, start, &path, follow, empty_ok).map(Some)
}

/// The emulated stat: None from `stat_node` means CONTINUE.
fn stat_path(
    t: &mut Task<'_>,
    start: Start,
    path: &[u8],
    follow: bool,
    empty_ok: bool,
) -> Result<libc::stat, Errno> {
    let path = path.to_vec();
    if path.is_empty() {
        if !empty_ok {
            return Err(Errno::ENOENT);
        }
        // fstat of the task's own fd: stat it through the task's fd table.
        let p = t.start_path(start)?;
        return sys::fstatat(None, &p, 0).map_err(|e| {
            if e == Errno::ENOENT {
                Errno::EBADF
            } else {
                e
            }
        });
    }
    let node = t.resolve(start, &path, follow)?;
    t.check(Access::Lookup, &node)?;
    match &node.kind {
        Kind::Exists(st) => Ok(**st),
        Kind::Missing => Err(Errno::ENOENT),
        Kind::ProcFd { rel } => sys::fstatat(Some(t.k.vfs.view_root()), &view_rel(rel)?, 0),
        Kind::ProcLink(_) => sys::fstatat(
            Some(t.k.vfs.view_root()),
            &view_rel(&node.path)?,
            libc::AT_SYMLINK_NOFOLLOW,
        ),
    }
}

/// stat(2).
pub fn sys_stat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let Some(st) = stat_node(t, Start::Cwd, a.ptr(0), true, false)? else {
        return Ok(Reply::Continue);
    };
    t.write_out(a.ptr(1), &st.c_bytes())?;
    Ok(Reply::Val(0))
}

/// lstat(2).
pub fn sys_lstat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let Some(st) = stat_node(t, Start::Cwd, a.ptr(0), false, false)? else {
        return Ok(Reply::Continue);
    };
    t.write_out(a.ptr(1), &st.c_bytes())?;
    Ok(Reply::Val(0))
}

/// newfstatat(2), which glibc's fstat also uses (empty path with AT_EMPTY_PATH).
pub fn sys_newfstatat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let flags = a.i32(3);
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    t.args.dirfd = Some(a.i32(0));
    let Some(st) = stat_node(
        t,
        a.start(0),
        a.ptr(1),
        flags & libc::AT_SYMLINK_NOFOLLOW == 0,
        flags & libc::AT_EMPTY_PATH != 0,
    )?
    else {
        return Ok(Reply::Continue);
    };
    t.write_out(a.ptr(2), &st.c_bytes())?;
    Ok(Reply::Val(0))
}

/// statx(2).
pub fn sys_statx(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let flags = a.i32(2);
    let mask = a.u32(3);
    let sync = libc::AT_STATX_SYNC_TYPE;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT | sync)
        != 0
        || flags & sync == sync
    {
        return Err(Errno::EINVAL);
    }
    t.args.dirfd = Some(a.i32(0));
    let path = t.read_path(a.ptr(1))?;
    let stx = if path.is_empty() {
        if flags & libc::AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        let p = t.start_path(a.start(0))?;
        sys::statx(None, &p, flags & sync, mask).map_err(|e| {
            if e == Errno::ENOENT {
                Errno::EBADF
            } else {
                e
            }
        })?
    } else {
        let node =
            t.k.vfs
                .resolve(t, a.start(0), &path, flags & libc::AT_SYMLINK_NOFOLLOW == 0)?;
        t.check(Access::Lookup, &node)?;
        match &node.kind {
            Kind::Missing => return Err(Errno::ENOENT),
            Kind::ProcFd { rel } => sys::statx(
                Some(t.k.vfs.view_root()),
                &view_rel(rel)?,
                flags & sync,
                mask,
            )?,
            Kind::ProcLink(_) => sys::statx(
                Some(t.k.vfs.view_root()),
                &view_rel(&node.path)?,
                libc::AT_SYMLINK_NOFOLLOW | (flags & sync),
                mask,
            )?,
            Kind::Exists(_) => {
                let fd = t.k.vfs.open_view(&node.path, libc::O_PATH, 0)?;
                sys::statx(
                    Some(fd.as_fd()),
                    c"",
                    libc::AT_EMPTY_PATH | (flags & sync),
                    mask,
                )?
            }
        }
    };
    t.write_out(a.ptr(4), &stx.c_bytes())?;
    Ok(Reply::Val(0))
}

fn access_common(t: &mut Task<'_>, start: Start, ptr: u64, mode: i32, flags: i32) -> SysResult {
    if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & !(libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(ptr)?;
    if path.is_empty() && flags & libc::AT_EMPTY_PATH == 0 {
        return Err(Errno::ENOENT);
    }
    if path.is_empty() {
        // The fd itself: nothing to resolve.
        return Ok(Reply::Continue);
    }
    if mode & libc::W_OK == 0 {
        // A read, execute or existence check: the kernel's own answer in the view, where that is exact.
        let access = if mode & libc::R_OK != 0 {
            Access::Read
        } else {
            Access::Lookup
        };
        if let Some(r) = continue_read_only(t, start, &path, access)? {
            return Ok(r);
        }
    }
    let node =
        t.k.vfs
            .resolve(t, start, &path, flags & libc::AT_SYMLINK_NOFOLLOW == 0)?;
    let node = existing(t, node)?;
    let dir = node.is_dir();
    t.check(Access::Lookup, &node)?;
    if mode & libc::R_OK != 0 {
        t.check(Access::Read, &node)?;
    }
    if mode & libc::X_OK != 0 && !dir {
        t.check(Access::Exec, &node)?;
    }
    // The kernel's own permission bits, on the side the access would use.
    let check_mode = mode & (libc::R_OK | libc::X_OK);
    if let Kind::Exists(_) = node.kind {
        let fd = t.k.vfs.open_view(&node.path, libc::O_PATH, 0)?;
        if check_mode != 0 {
            nix::unistd::faccessat(
                Some(fd.as_raw_fd()),
                c"",
                nix::unistd::AccessFlags::from_bits_truncate(check_mode),
                nix::fcntl::AtFlags::AT_EMPTY_PATH,
            )?;
        }
    }
    if mode & libc::W_OK != 0 {
        let g = t.check(Access::Write, &node)?;
        if !is_under_proc(&node.path) && !node.path.starts_with("/dev") {
            let (m, rel) = writable(t, &g, &node.path)?;
            let fd = m.target(rel)?;
            nix::unistd::faccessat(
                Some(fd.as_raw_fd()),
                c"",
                nix::unistd::AccessFlags::W_OK,
                nix::fcntl::AtFlags::AT_EMPTY_PATH,
            )?;
        }
    }
    Ok(Reply::Val(0))
}

/// access(2).
pub fn sys_access(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    access_common(t, Start::Cwd, a.ptr(0), a.i32(1), 0)
}

/// faccessat(2) (no flags argument in the original syscall).
pub fn sys_faccessat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    t.args.dirfd = Some(a.i32(0));
    access_common(t, a.start(0), a.ptr(1), a.i32(2), 0)
}

/// faccessat2(2).
pub fn sys_faccessat2(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    t.args.dirfd = Some(a.i32(0));
    access_common(t, a.start(0), a.ptr(1), a.i32(2), a.i32(3))
}

fn readlink_common(t: &mut Task<'_>, start: Start, ptr: u64, buf: u64, size: i32) -> SysResult {
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(ptr)?;
    if path.is_empty() && start != Start::Cwd {
        // readlinkat(fd, ""): the link the fd itself is (an O_PATH|O_NOFOLLOW fd); nothing to resolve.
        return Ok(Reply::Continue);
    }
    let node = t.resolve(start, &path, false)?;
    t.check(Access::Lookup, &node)?;
    let target: Vec<u8> = match &node.kind {
        // /proc/self and /proc/thread-self read as "<pid>" and "<pid>/task/<tid>", relative, as natively.
        Kind::ProcLink(p)
            if matches!(
                node.path.as_os_str().as_bytes(),
                b"/proc/self" | b"/proc/thread-self"
            ) =>
        {
            p.strip_prefix("/proc")
                .unwrap_or(p)
                .as_os_str()
                .as_bytes()
                .to_vec()
        }
        Kind::ProcLink(p) => p.as_os_str().as_bytes().to_vec(),
        Kind::Exists(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => nix::fcntl::readlinkat(
            Some(t.k.vfs.view_root().as_raw_fd()),
            view_rel(&node.path)?.as_c_str(),
        )?
        .as_bytes()
        .to_vec(),
        Kind::Missing => return Err(Errno::ENOENT),
        _ => return Err(Errno::EINVAL),
    };
    let n = target
        .len()
        .min(usize::try_from(size).map_err(|_| Errno::EINVAL)?);
    t.write_out(buf, &target[..n])?;
    Ok(Reply::Val(i64::try_from(n).map_err(|_| Errno::EINVAL)?))
}

/// readlink(2).
pub fn sys_readlink(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    readlink_common(t, Start::Cwd, a.ptr(0), a.ptr(1), a.i32(2))
}

/// readlinkat(2).
pub fn sys_readlinkat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    t.args.dirfd = Some(a.i32(0));
    readlink_common(t, a.start(0), a.ptr(1), a.ptr(2), a.i32(3))
}

/// A resolved object that must exist: a missing one is ENOENT, with the lookup recorded (so a path outside the grants
/// is audited as the denial it is).
fn existing(t: &Task<'_>, node: Node) -> Result<Node, Errno> {
    if matches!(node.kind, Kind::Missing) {
        t.check(Access::Lookup, &node)?;
        return Err(Errno::ENOENT);
    }
    Ok(node)
}

/// The prologue of mkdir and mknod: the new name must not exist, its place must be writable; returns the mount that
/// serves it, the path relative to that mount, and the task's umask.
fn new_entry<'k>(
    t: &mut Task<'k>,
    start: Start,
    path: &[u8],
) -> Result<(&'k dyn Mount, PathBuf, u32), Errno> {
    let node = creating(t, start, path)?;
    t.check(Access::Write, &node)?;
    let (m, rel) = t.k.vfs.writable_for(&node.path).ok_or(Errno::EROFS)?;
    let umask = t.umask()?;
    Ok((m, rel.to_path_buf(), umask))
}

/// Resolves the path of a creating call (mkdir, mknod, symlink, link target): it must not exist yet.
fn creating(t: &mut Task<'_>, start: Start, path: &[u8]) -> Result<Node, Errno> {
    let node = t.resolve(start, path, false)?;
    match node.kind {
        Kind::Missing => Ok(node),
        _ => {
            // EEXIST only for what the task may see; otherwise the policy's answer.
            t.check(Access::Lookup, &node)?;
            Err(Errno::EEXIST)
        }
    }
}

fn last_component(path: &[u8]) -> &[u8] {
    let trimmed = {
        let mut p = path;
        while p.len() > 1 && p.ends_with(b"/") {
            p = &p[..p.len() - 1];
        }
        p
    };
    trimmed.rsplit(|&b| b == b'/').next().unwrap_or(trimmed)
}

fn mkdir_common(t: &mut Task<'_>, start: Start, ptr: u64, mode: u32) -> SysResult {
    let path = t.read_path(ptr)?;
    t.args.mode = Some(mode);
    let (m, rel, umask) = new_entry(t, start, &path)?;
    m.mkdir(&rel, mode_bits(mode) & !umask)?;
    Ok(Reply::Val(0))
}

/// mkdir(2).
pub fn sys_mkdir(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    mkdir_common(t, Start::Cwd, a.ptr(0), a.u32(1))
}

/// mkdirat(2).
pub fn sys_mkdirat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    t.args.dirfd = Some(a.i32(0));
    mkdir_common(t, a.start(0), a.ptr(1), a.u32(2))
}

fn unlink_common(t: &mut Task<'_>, start: Start, ptr: u64, flags: i32) -> SysResult {
    if flags & !libc::AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(ptr)?;
    let rmdir = flags & libc::AT_REMOVEDIR != 0;
    match last_component(&path) {
        b"." if rmdir => return Err(Errno::EINVAL),
        b".." if rmdir => return Err(Errno::ENOTEMPTY),
        _ => {}
    }
    if !rmdir && path.len() > 1 && path.ends_with(b"/") {
        // unlink("x/"): Linux looks at x itself (not following a symlink): a directory is EISDIR, anything else
        // ENOTDIR, and nothing is removed either way.
        let trimmed = &path[..path.len() - 1];
        let node = t.resolve(start, trimmed, false)?;
        t.check(Access::Lookup, &node)?;
        return Err(match node.kind {
            Kind::Missing => Errno::ENOENT,
            _ if node.is_dir() => Errno::EISDIR,
            _ => Errno::ENOTDIR,
        });
    }
    let node = t.resolve(start, &path, false)?;
    let node = existing(t, node)?;
    if rmdir && !node.is_dir() {
        t.check(Access::Lookup, &node)?;
        return Err(Errno::ENOTDIR);
    }
    if !rmdir && node.is_dir() {
        t.check(Access::Lookup, &node)?;
        return Err(Errno::EISDIR);
    }
    let g = t.check(Access::Write, &node)?;
    let (m, rel) = writable(t, &g, &node.path)?;
    m.unlink(rel, rmdir)?;
    Ok(Reply::Val(0))
}

/// rmdir(2).
pub fn sys_rmdir(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    unlink_common(t, Start::Cwd, a.ptr(0), libc::AT_REMOVEDIR)
}

/// unlink(2).
pub fn sys_unlink(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    unlink_common(t, Start::Cwd, a.ptr(0), 0)
}

/// unlinkat(2).
pub fn sys_unlinkat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    t.args.dirfd = Some(a.i32(0));
    unlink_common(t, a.start(0), a.ptr(1), a.i32(2))
}

fn rename_common(
    t: &mut Task<'_>,
    old_start: Start,
    old: u64,
    new_start: Start,
    new: u64,
    flags: u32,
) -> SysResult {
    let known = libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE | libc::RENAME_WHITEOUT;
    if flags & !known != 0
        || (flags & libc::RENAME_EXCHANGE != 0 && flags & libc::RENAME_NOREPLACE != 0)
    {
        return Err(Errno::EINVAL);
    }
    if flags & libc::RENAME_WHITEOUT != 0 {
        return Err(Errno::EPERM);
    }
    let old_path = t.read_path(old)?;
    let new_path = t.read_path(new)?;
    for p in [&old_path, &new_path] {
        if matches!(last_component(p), b"." | b"..") {
            return Err(Errno::EBUSY);
        }
    }
    let from = t.resolve(old_start, &old_path, false)?;
    if matches!(from.kind, Kind::Missing) {
        t.check(Access::Lookup, &from)?;
        return Err(Errno::ENOENT);
    }
    let to = t.resolve(new_start, &new_path, false)?;
    let g1 = t.check(Access::Write, &from)?;
    let g2 = t.check(Access::Write, &to)?;
    let (m, rel1, rel2) = same_mount(t, (&g1, &from.path), (&g2, &to.path))?;
    // A directory carries its subtree's path rules along when it moves: refuse when the policy pins that subtree
    // (a grant, a deny rule or a glob below it). EXDEV makes mv copy file by file, each copy decided on its own path.
    let exchanged_dir = flags & libc::RENAME_EXCHANGE != 0 && to.is_dir();
    if (from.is_dir() && (t.k.policy.pins_subtree(&from.path) || t.k.policy.pins_subtree(&to.path)))
        || (exchanged_dir && t.k.policy.pins_subtree(&to.path))
    {
        return Err(Errno::EXDEV);
    }
    m.rename(rel1, rel2, flags)?;
    Ok(Reply::Val(0))
}

/// rename(2).
pub fn sys_rename(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    rename_common(t, Start::Cwd, a.ptr(0), Start::Cwd, a.ptr(1), 0)
}

/// renameat(2).
pub fn sys_renameat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    rename_common(t, a.start(0), a.ptr(1), a.start(2), a.ptr(3), 0)
}

/// renameat2(2). RENAME_WHITEOUT needs CAP_MKNOD and is refused with EPERM.
pub fn sys_renameat2(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    rename_common(t, a.start(0), a.ptr(1), a.start(2), a.ptr(3), a.u32(4))
}

fn link_common(
    t: &mut Task<'_>,
    old_start: Start,
    old: u64,
    new_start: Start,
    new: u64,
    flags: i32,
) -> SysResult {
    if flags & !(libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let old_path = t.read_path(old)?;
    let new_path = t.read_path(new)?;
    // Linking an open file (AT_EMPTY_PATH on an fd, or /proc/self/fd/N followed): an O_TMPFILE made visible.
    let open_file = if old_path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        match old_start {
            Start::Fd(fd) => Some(t.host_fd_path(fd)?),
            Start::Cwd => return Err(Errno::ENOENT),
        }
    } else {
        None
    };
    let from = match &open_file {
        Some(_) => None,
        None => Some(t.resolve(old_start, &old_path, flags & libc::AT_SYMLINK_FOLLOW != 0)?),
    };
    let proc_fd = match &from {
        Some(Node {
            kind: Kind::ProcFd { rel },
            ..
        }) => {
            let n = rel
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or(Errno::EBADF)?;
            let pid = rel
                .iter()
                .nth(2)
                .map(|p| p.to_string_lossy().into_owned())
                .ok_or(Errno::EBADF)?;
            let (tgid, _) = crate::vfs::path::Caller::ns_ids(t)?;
            if pid != tgid.to_string() {
                return Err(Errno::EPERM);
            }
            Some(t.host_fd_path(n.parse::<i32>().map_err(|_| Errno::EBADF)?)?)
        }
        _ => None,
    };
    let src = open_file.or(proc_fd);
    // An open file that still has a path is linked by that path, decided like any link; only an unnamed one (an
    // O_TMPFILE) is linked through the task's fd.
    let named = src
        .as_ref()
        .and_then(|p| nix::fcntl::readlink(p.as_c_str()).ok())
        .and_then(crate::vfs::path::link_to_path)
        .filter(|p| !p.starts_with("/proc") && !p.starts_with("/dev"));
    let (src, from) = match named {
        Some(p) => (
            None,
            Some(t.resolve(Start::Cwd, p.as_os_str().as_bytes(), false)?),
        ),
        None => (src, from),
    };
    if let Some(src) = src {
        let to = creating(t, new_start, &new_path)?;
        let g = t.check(Access::Write, &to)?;
        let (m, rel) = writable(t, &g, &to.path)?;
        let (d, n) = m.parent(rel)?;
        nix::unistd::linkat(
            None,
            src.as_c_str(),
            Some(d.as_raw_fd()),
            n.as_c_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_FOLLOW,
        )?;
        return Ok(Reply::Val(0));
    }
    let Some(from) = from else {
        return Err(Errno::ENOENT);
    };
    if matches!(from.kind, Kind::Missing) {
        t.check(Access::Lookup, &from)?;
        return Err(Errno::ENOENT);
    }
    if from.is_dir() {
        t.check(Access::Lookup, &from)?;
        return Err(Errno::EPERM);
    }
    let to = creating(t, new_start, &new_path)?;
    // A new name for a file is a way to write it: the source needs the write grant too, or a write-denied file
    // could be linked to an allowed name.
    let g1 = t.check(Access::Write, &from)?;
    let g2 = t.check(Access::Write, &to)?;
    let (m, rel1, rel2) = same_mount(t, (&g1, &from.path), (&g2, &to.path))?;
    m.link(rel1, rel2)?;
    Ok(Reply::Val(0))
}

/// link(2).
pub fn sys_link(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    link_common(t, Start::Cwd, a.ptr(0), Start::Cwd, a.ptr(1), 0)
}

/// linkat(2).
pub fn sys_linkat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    link_common(t, a.start(0), a.ptr(1), a.start(2), a.ptr(3), a.i32(4))
}

fn symlink_common(t: &mut Task<'_>, target: u64, start: Start, ptr: u64) -> SysResult {
    // The target is stored as data; it is resolved (in the sandbox's view) only when the link is used.
    let target = t.read_path(target)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let path = t.read_path(ptr)?;
    let node = creating(t, start, &path)?;
    let g = t.check(Access::Write, &node)?;
    let (m, rel) = writable(t, &g, &node.path)?;
    if target.contains(&0) {
        return Err(Errno::EINVAL);
    }
    m.symlink(&target, rel)?;
    Ok(Reply::Val(0))
}

/// symlink(2).
pub fn sys_symlink(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    symlink_common(t, a.ptr(0), Start::Cwd, a.ptr(1))
}

/// symlinkat(2).
pub fn sys_symlinkat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    symlink_common(t, a.ptr(0), a.start(1), a.ptr(2))
}

/// The object of a metadata change: on a gofer mount (the usual case), or an fd the change is made through (the task's
/// own fd named by AT_EMPTY_PATH, which stays as read-only as the task opened it; a /proc or /dev object in the view).
enum Target<'k> {
    Mount(&'k dyn Mount, PathBuf),
    Fd(OwnedFd),
}

/// Resolves an existing object for a metadata change.
fn writable_target<'k>(
    t: &mut Task<'k>,
    start: Start,
    ptr: u64,
    follow: bool,
    empty_ok: bool,
) -> Result<Target<'k>, Errno> {
    let path = t.read_path(ptr)?;
    if path.is_empty() {
        if !empty_ok {
            return Err(Errno::ENOENT);
        }
        // The task's own fd: operate on it as the task would (a read-only fd from the view stays read-only).
        let p = t.start_path(start)?;
        return sys::open_abs(&p, libc::O_PATH)
            .map(Target::Fd)
            .map_err(|_| Errno::EBADF);
    }
    let node = t.resolve(start, &path, follow)?;
    let node = t.k.vfs.deref_fd_link(t, node)?;
    let node = existing(t, node)?;
    t.check(Access::Write, &node)?;
    if is_under_proc(&node.path) || node.path.starts_with("/dev") {
        return t
            .k
            .vfs
            .open_view(&node.path, libc::O_PATH, 0)
            .map(Target::Fd);
    }
    let (m, rel) = t.k.vfs.writable_for(&node.path).ok_or(Errno::EROFS)?;
    Ok(Target::Mount(m, rel.to_path_buf()))
}

fn chmod_common(t: &mut Task<'_>, start: Start, ptr: u64, mode: u32, flags: i32) -> SysResult {
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    t.args.mode = Some(mode);
    let target = writable_target(
        t,
        start,
        ptr,
        flags & libc::AT_SYMLINK_NOFOLLOW == 0,
        flags & libc::AT_EMPTY_PATH != 0,
    )?;
    match target {
        Target::Mount(m, rel) => m.chmod(&rel, mode_bits(mode))?,
        Target::Fd(fd) => {
            let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
            if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                return Err(Errno::EOPNOTSUPP);
            }
            nix::sys::stat::fchmodat(
                None,
                fd_path(fd.as_fd()).as_c_str(),
                nix::sys::stat::Mode::from_bits_truncate(mode_bits(mode)),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )?;
        }
    }
    Ok(Reply::Val(0))
}

/// chmod(2).
pub fn sys_chmod(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    chmod_common(t, Start::Cwd, a.ptr(0), a.u32(1), 0)
}

/// fchmodat(2) (no flags in the original syscall).
pub fn sys_fchmodat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    chmod_common(t, a.start(0), a.ptr(1), a.u32(2), 0)
}

/// fchmodat2(2).
pub fn sys_fchmodat2(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    chmod_common(t, a.start(0), a.ptr(1), a.u32(2), a.i32(3))
}

fn chown_common(
    t: &mut Task<'_>,
    start: Start,
    ptr: u64,
    uid: u32,
    gid: u32,
    flags: i32,
) -> SysResult {
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let target = writable_target(
        t,
        start,
        ptr,
        flags & libc::AT_SYMLINK_NOFOLLOW == 0,
        flags & libc::AT_EMPTY_PATH != 0,
    )?;
    let owner = (uid != u32::MAX).then_some(uid);
    let group = (gid != u32::MAX).then_some(gid);
    match target {
        Target::Mount(m, rel) => m.chown(&rel, owner, group)?,
        Target::Fd(fd) => nix::unistd::fchownat(
            Some(fd.as_raw_fd()),
            c"",
            owner.map(nix::unistd::Uid::from_raw),
            group.map(nix::unistd::Gid::from_raw),
            nix::fcntl::AtFlags::AT_EMPTY_PATH,
        )?,
    }
    Ok(Reply::Val(0))
}

/// chown(2).
pub fn sys_chown(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    chown_common(t, Start::Cwd, a.ptr(0), a.u32(1), a.u32(2), 0)
}

/// lchown(2).
pub fn sys_lchown(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    chown_common(
        t,
        Start::Cwd,
        a.ptr(0),
        a.u32(1),
        a.u32(2),
        libc::AT_SYMLINK_NOFOLLOW,
    )
}

/// fchownat(2).
pub fn sys_fchownat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    chown_common(t, a.start(0), a.ptr(1), a.u32(2), a.u32(3), a.i32(4))
}

fn read_timespecs(t: &Task<'_>, ptr: u64) -> Result<Option<[libc::timespec; 2]>, Errno> {
    if ptr == 0 {
        return Ok(None);
    }
    let b = t.read_bytes(ptr, 32)?;
    let w = |i: usize| -> i64 {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[i * 8..i * 8 + 8]);
        i64::from_ne_bytes(x)
    };
    Ok(Some([
        libc::timespec {
            tv_sec: w(0),
            tv_nsec: w(1),
        },
        libc::timespec {
            tv_sec: w(2),
            tv_nsec: w(3),
        },
    ]))
}

fn read_timevals(t: &Task<'_>, ptr: u64) -> Result<Option<[libc::timespec; 2]>, Errno> {
    let Some([a, b]) = read_timespecs(t, ptr)? else {
        return Ok(None);
    };
    let conv = |tv: libc::timespec| -> Result<libc::timespec, Errno> {
        if !(0..1_000_000).contains(&tv.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        Ok(libc::timespec {
            tv_sec: tv.tv_sec,
            tv_nsec: tv.tv_nsec * 1000,
        })
    };
    Ok(Some([conv(a)?, conv(b)?]))
}

fn utimens_common(
    t: &mut Task<'_>,
    start: Start,
    ptr: u64,
    times: Option<[libc::timespec; 2]>,
    flags: i32,
) -> SysResult {
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let target = if ptr == 0 {
        // utimensat(fd, NULL, ...): the fd itself.
        let p = match start {
            Start::Cwd => return Err(Errno::EFAULT),
            Start::Fd(fd) => t.host_fd_path(fd)?,
        };
        // A file with a path is changed on its writable side, as a path would be (an fd from the read-only view would
        // say EROFS); anything else through the fd itself.
        if let Some(sp) = nix::fcntl::readlink(p.as_c_str())
            .ok()
            .and_then(crate::vfs::path::link_to_path)
        {
            let node = t.resolve(Start::Cwd, sp.as_os_str().as_bytes(), false)?;
            if t.k.vfs.writable_for(&node.path).is_some() {
                let g = t.check(Access::Write, &node)?;
                let (m, rel) = writable(t, &g, &node.path)?;
                m.utimens(rel, times)?;
                return Ok(Reply::Val(0));
            }
        }
        Target::Fd(sys::open_abs(&p, libc::O_PATH).map_err(|_| Errno::EBADF)?)
    } else {
        writable_target(
            t,
            start,
            ptr,
            flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            flags & libc::AT_EMPTY_PATH != 0,
        )?
    };
    match target {
        Target::Mount(m, rel) => m.utimens(&rel, times)?,
        Target::Fd(fd) => sys::utimensat_fd(fd.as_fd(), times.as_ref())?,
    }
    Ok(Reply::Val(0))
}

/// utime(2).
pub fn sys_utime(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let times = if a.ptr(1) == 0 {
        None
    } else {
        let b = t.read_bytes(a.ptr(1), 16)?;
        let w = |i: usize| -> i64 {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i * 8..i * 8 + 8]);
            i64::from_ne_bytes(x)
        };
        Some([
            libc::timespec {
                tv_sec: w(0),
                tv_nsec: 0,
            },
            libc::timespec {
                tv_sec: w(1),
                tv_nsec: 0,
            },
        ])
    };
    utimens_common(t, Start::Cwd, a.ptr(0), times, 0)
}

/// utimes(2).
pub fn sys_utimes(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let times = read_timevals(t, a.ptr(1))?;
    utimens_common(t, Start::Cwd, a.ptr(0), times, 0)
}

/// futimesat(2).
pub fn sys_futimesat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let times = read_timevals(t, a.ptr(2))?;
    utimens_common(t, a.start(0), a.ptr(1), times, 0)
}

/// utimensat(2).
pub fn sys_utimensat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let times = read_timespecs(t, a.ptr(2))?;
    if let Some(ts) = &times {
        for x in ts {
            let special = x.tv_nsec == libc::UTIME_NOW || x.tv_nsec == libc::UTIME_OMIT;
            if !special && !(0..1_000_000_000).contains(&x.tv_nsec) {
                return Err(Errno::EINVAL);
            }
        }
    }
    t.args.dirfd = Some(a.i32(0));
    utimens_common(t, a.start(0), a.ptr(1), times, a.i32(3))
}

/// truncate(2).
pub fn sys_truncate(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let len = a.i64(1);
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(a.ptr(0))?;
    let node = t.resolve(Start::Cwd, &path, true)?;
    let node = t.k.vfs.deref_fd_link(t, node)?;
    let node = existing(t, node)?;
    if node.is_dir() {
        t.check(Access::Lookup, &node)?;
        return Err(Errno::EISDIR);
    }
    let g = t.check(Access::Write, &node)?;
    let (m, rel) = writable(t, &g, &node.path)?;
    m.truncate(rel, len.cast_unsigned())?;
    Ok(Reply::Val(0))
}

fn mknod_common(t: &mut Task<'_>, start: Start, ptr: u64, mode: u32, dev: u64) -> SysResult {
    let kind = mode & libc::S_IFMT;
    t.args.mode = Some(mode);
    let kind = if kind == 0 { libc::S_IFREG } else { kind };
    if kind == libc::S_IFCHR || kind == libc::S_IFBLK {
        // Devices need CAP_MKNOD in the initial namespace: never in a sandbox.
        let path = t.read_path(ptr)?;
        let node = t.resolve(start, &path, false)?;
        t.check(Access::Write, &node)?;
        return Err(Errno::EPERM);
    }
    if ![libc::S_IFREG, libc::S_IFIFO, libc::S_IFSOCK].contains(&kind) {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(ptr)?;
    let (m, rel, umask) = new_entry(t, start, &path)?;
    let perm = mode_bits(mode) & !umask;
    if kind == libc::S_IFREG {
        // mknod of a regular file is an exclusive create.
        drop(m.open(
            &rel,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
            perm,
        )?);
    } else {
        m.mknod(&rel, kind | perm)?;
    }
    let _ = dev;
    Ok(Reply::Val(0))
}

/// mknod(2): regular files, FIFOs and sockets; device nodes are refused (EPERM).
pub fn sys_mknod(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    mknod_common(t, Start::Cwd, a.ptr(0), a.u32(1), a.u64(2))
}

/// mknodat(2).
pub fn sys_mknodat(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    mknod_common(t, a.start(0), a.ptr(1), a.u32(2), a.u64(3))
}

/// statfs(2).
pub fn sys_statfs(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let path = t.read_path(a.ptr(0))?;
    let node = t.resolve(Start::Cwd, &path, true)?;
    t.check(Access::Lookup, &node)?;
    if matches!(node.kind, Kind::Missing) {
        return Err(Errno::ENOENT);
    }
    let fd = t.k.vfs.open_view(&node.path, libc::O_PATH, 0)?;
    let st = sys::fstatfs(fd.as_fd())?;
    let mut bytes = st.c_bytes();
    if t.k.vfs.writable_for(&node.path).is_some() {
        // The view is mounted read-only, but writes here are served: report the filesystem as the task uses it.
        // f_flags is the eleventh 8-byte word of the kernel's struct statfs (libc exposes it as spare space).
        const F_FLAGS: usize = 80;
        if let Some(w) = bytes.get_mut(F_FLAGS..F_FLAGS + 8) {
            let mut v = [0u8; 8];
            v.copy_from_slice(w);
            let flags = u64::from_ne_bytes(v) & !libc::ST_RDONLY;
            w.copy_from_slice(&flags.to_ne_bytes());
        }
    }
    t.write_out(a.ptr(1), &bytes)?;
    Ok(Reply::Val(0))
}

/// inotify_add_watch(2): the watch is added to the task's own inotify instance, on the object in the view.
pub fn sys_inotify_add_watch(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let ifd = a.i32(0);
    let mask = a.u32(2);
    let path = t.read_path(a.ptr(1))?;
    let node =
        t.k.vfs
            .resolve(t, Start::Cwd, &path, mask & libc::IN_DONT_FOLLOW == 0)?;
    let node = existing(t, node)?;
    t.check(Access::Read, &node)?;
    let inotify = t.dup_fd(ifd).map_err(|_| Errno::EBADF)?;
    let target = t.k.vfs.open_view(&node.path, libc::O_PATH, 0)?;
    let wd = sys::inotify_add_watch(
        inotify.as_fd(),
        &fd_path(target.as_fd()),
        mask & !libc::IN_DONT_FOLLOW,
    )?;
    Ok(Reply::Val(i64::from(wd)))
}

/// chdir(2). Checked here, then CONTINUEd: the cwd is per-task state only the task itself can change. The kernel
/// re-reads the path, but it resolves it in the task's own mount view, which holds only the grants (read-only), so a
/// raced path can only land on a granted directory.
pub fn sys_chdir(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let path = t.read_path(a.ptr(0))?;
    let node = t.resolve(Start::Cwd, &path, true)?;
    t.check(Access::Lookup, &node)?;
    match node.kind {
        Kind::Missing => Err(Errno::ENOENT),
        _ if !node.is_dir() && !matches!(node.kind, Kind::ProcFd { .. }) => Err(Errno::ENOTDIR),
        _ => Ok(Reply::Continue),
    }
}

/// The canonical path of an fd-relative target, for callers outside this module (exec).
pub fn resolve_existing(
    t: &mut Task<'_>,
    start: Start,
    path: &[u8],
    follow: bool,
) -> Result<Node, Errno> {
    let node = t.resolve(start, path, follow)?;
    // /proc/self/fd/N names the open file: exec and the like are decided on that file's own path.
    let node = t.k.vfs.deref_fd_link(t, node)?;
    existing(t, node)
}
