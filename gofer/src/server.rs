//! The gofer's side: the roots it holds, every operation performed beneath them, and the loop serving a connection.
//!
//! Every operation starts from a root's directory fd and walks the client's canonical relative path with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`: the path cannot leave the root, and a
//! symlink anywhere in it (planted by a race, say) fails the call with ELOOP instead of being followed; symlinks are
//! the sentry's to resolve, in the sandbox's view. Calls of the `*at(dirfd, name)` shape then act on the last
//! component relative to that parent, never following it. The grant's mode is checked here too: a write under a
//! read-only root is EROFS whatever the client asks, and the root's mount is read-only besides.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use crate::proto::{Malformed, Reply, Req, RootId, Time, VERSION};
use crate::sys::CBytes;
use crate::{sys, wire};

const STRICT: u64 = sys::RESOLVE_BENEATH | sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS;

/// One root: a directory (or, for a file grant, the directory holding it and its name there).
#[derive(Debug)]
pub struct Root {
    pub dir: OwnedFd,
    pub file: Option<CString>,
    pub writable: bool,
}

/// Everything a running gofer holds.
#[derive(Debug, Default)]
pub struct State {
    roots: Mutex<Vec<Arc<Root>>>,
    sealed: AtomicBool,
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl State {
    pub fn new(roots: Vec<Root>) -> Self {
        Self {
            roots: Mutex::new(roots.into_iter().map(Arc::new).collect()),
            ..Self::default()
        }
    }

    fn root(&self, id: RootId) -> Result<Arc<Root>, Errno> {
        let roots = self.roots.lock().map_err(|_| Errno::EIO)?;
        let i = usize::try_from(id).map_err(|_| Errno::EINVAL)?;
        roots.get(i).cloned().ok_or(Errno::EINVAL)
    }

    fn count(&self, op: &'static str) {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(op).or_default() += 1;
        }
    }
}

fn cstr(b: &[u8]) -> Result<CString, Errno> {
    CString::new(b).map_err(|_| Errno::EINVAL)
}

/// The directory holding `path` and the last component, for `*at` calls; the root itself has no parent here (EBUSY
/// for calls that would create, remove or rename it).
enum Place<'r> {
    Root(&'r Root),
    At(OwnedFd, CString),
    AtRootDir(&'r Root, CString),
}

impl Place<'_> {
    /// (dirfd, name) for calls on the object itself: the root directory is "." in itself.
    fn at(&self) -> (BorrowedFd<'_>, &CStr) {
        match self {
            Self::Root(r) => match &r.file {
                Some(name) => (r.dir.as_fd(), name.as_c_str()),
                None => (r.dir.as_fd(), c"."),
            },
            Self::At(d, n) => (d.as_fd(), n.as_c_str()),
            Self::AtRootDir(r, n) => (r.dir.as_fd(), n.as_c_str()),
        }
    }

    /// (dirfd, name) for calls that create, remove or rename an entry.
    fn entry(&self) -> Result<(BorrowedFd<'_>, &CStr), Errno> {
        match self {
            Self::Root(_) => Err(Errno::EBUSY),
            _ => Ok(self.at()),
        }
    }
}

fn place<'r>(root: &'r Root, path: &[u8]) -> Result<Place<'r>, Errno> {
    if path.is_empty() {
        return Ok(Place::Root(root));
    }
    if root.file.is_some() {
        // A file grant has nothing beneath it.
        return Err(Errno::ENOTDIR);
    }
    match path.iter().rposition(|&c| c == b'/') {
        None => Ok(Place::AtRootDir(root, cstr(path)?)),
        Some(i) => {
            let dir = sys::openat2(
                root.dir.as_fd(),
                &cstr(&path[..i])?,
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                0,
                STRICT,
            )?;
            Ok(Place::At(dir, cstr(&path[i + 1..])?))
        }
    }
}

fn writable(root: &Root) -> Result<(), Errno> {
    if root.writable {
        Ok(())
    } else {
        Err(Errno::EROFS)
    }
}

/// Does an open with these flags modify anything?
pub fn open_writes(flags: i32) -> bool {
    flags & libc::O_ACCMODE != libc::O_RDONLY
        || flags & (libc::O_CREAT | libc::O_TRUNC | libc::O_TMPFILE) != 0
}

/// Opens `path` beneath `root`.
pub fn open(root: &Root, path: &[u8], flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
    if open_writes(flags) && flags & libc::O_PATH == 0 {
        writable(root)?;
    }
    // Never a set-id bit on a new file; never a controlling terminal for the gofer.
    let mode = mode & 0o1777;
    let flags = if flags & libc::O_PATH != 0 {
        // openat2 refuses any flag O_PATH ignores.
        flags & (libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW) | libc::O_CLOEXEC
    } else {
        flags | libc::O_CLOEXEC | libc::O_NOCTTY
    };
    let p = place(root, path)?;
    match &p {
        Place::Root(r) => {
            let (dir, name) = p.at();
            let resolve = if r.file.is_some() {
                STRICT
            } else {
                sys::RESOLVE_BENEATH
            };
            sys::openat2(dir, name, flags, mode, resolve)
        }
        _ => sys::openat2(root.dir.as_fd(), &cstr(path)?, flags, mode, STRICT),
    }
}

/// An fd on the object for the f*xattr calls (which refuse O_PATH fds). A symlink has no user xattrs.
fn xattr_fd(root: &Root, path: &[u8], write: bool) -> Result<OwnedFd, Errno> {
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    match open(root, path, flags, 0) {
        Err(Errno::ELOOP) => Err(if write { Errno::EPERM } else { Errno::ENODATA }),
        r => {
            if write {
                writable(root)?;
            }
            r
        }
    }
}

/// Performs one request (not the connection-level ones). Returns the reply and maybe an fd to attach.
pub fn perform(state: &State, req: &Req) -> Result<(Reply, Option<OwnedFd>), Errno> {
    match req {
        Req::Open {
            root,
            path,
            flags,
            mode,
        } => {
            let r = state.root(*root)?;
            let fd = open(&r, path, *flags, *mode)?;
            Ok((Reply::ok(0), Some(fd)))
        }
        Req::Stat { root, path } => {
            let r = state.root(*root)?;
            let p = place(&r, path)?;
            let (d, n) = p.at();
            let st = sys::fstatat(Some(d), n, libc::AT_SYMLINK_NOFOLLOW)?;
            Ok((
                Reply::Ok {
                    val: 0,
                    data: st.c_bytes(),
                },
                None,
            ))
        }
        Req::Statx { root, path, mask } => {
            let r = state.root(*root)?;
            let p = place(&r, path)?;
            let (d, n) = p.at();
            let st = sys::statx(Some(d), n, libc::AT_SYMLINK_NOFOLLOW, *mask)?;
            Ok((
                Reply::Ok {
                    val: 0,
                    data: st.c_bytes(),
                },
                None,
            ))
        }
        Req::Readlink { root, path } => {
            let r = state.root(*root)?;
            let p = place(&r, path)?;
            let (d, n) = p.at();
            let t = nix::fcntl::readlinkat(Some(d.as_raw_fd()), n)?;
            Ok((
                Reply::Ok {
                    val: 0,
                    data: std::os::unix::ffi::OsStrExt::as_bytes(t.as_os_str()).to_vec(),
                },
                None,
            ))
        }
        Req::Mkdir { root, path, mode } => {
            let r = state.root(*root)?;
            writable(&r)?;
            let p = place(&r, path)?;
            let (d, n) = p.entry()?;
            nix::sys::stat::mkdirat(
                Some(d.as_raw_fd()),
                n,
                nix::sys::stat::Mode::from_bits_truncate(mode & 0o1777),
            )?;
            Ok((Reply::ok(0), None))
        }
        Req::Unlink { root, path, dir } => {
            let r = state.root(*root)?;
            writable(&r)?;
            let p = place(&r, path)?;
            let (d, n) = p.entry()?;
            nix::unistd::unlinkat(
                Some(d.as_raw_fd()),
                n,
                if *dir {
                    nix::unistd::UnlinkatFlags::RemoveDir
                } else {
                    nix::unistd::UnlinkatFlags::NoRemoveDir
                },
            )?;
            Ok((Reply::ok(0), None))
        }
        Req::Rename {
            root,
            from,
            to,
            flags,
        } => {
            let r = state.root(*root)?;
            writable(&r)?;
            if flags & !(libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) != 0 {
                return Err(Errno::EINVAL);
            }
            let a = place(&r, from)?;
            let b = place(&r, to)?;
            let (d1, n1) = a.entry()?;
            let (d2, n2) = b.entry()?;
            sys::renameat2(d1, n1, d2, n2, *flags)?;
            Ok((Reply::ok(0), None))
        }
        Req::Link { root, from, to } => {
            let r = state.root(*root)?;
            writable(&r)?;
            let a = place(&r, from)?;
            let b = place(&r, to)?;
            let (d1, n1) = a.entry()?;
            let (d2, n2) = b.entry()?;
            nix::unistd::linkat(
                Some(d1.as_raw_fd()),
                n1,
                Some(d2.as_raw_fd()),
                n2,
                nix::fcntl::AtFlags::empty(),
            )?;
            Ok((Reply::ok(0), None))
        }
        Req::Symlink { root, target, path } => {
            let r = state.root(*root)?;
            writable(&r)?;
            let p = place(&r, path)?;
            let (d, n) = p.entry()?;
            nix::unistd::symlinkat(cstr(target)?.as_c_str(), Some(d.as_raw_fd()), n)?;
            Ok((Reply::ok(0), None))
        }
        Req::Chmod { root, path, mode } => {
            let r = state.root(*root)?;
            writable(&r)?;
            let p = place(&r, path)?;
            let (d, n) = p.at();
            let st = sys::fstatat(Some(d), n, libc::AT_SYMLINK_NOFOLLOW)?;
            let dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            // No set-user-id file, and no set-group-id file, is ever made by the gofer (a directory's setgid bit
            // only steers group inheritance).
            if mode & libc::S_ISUID != 0 || (mode & libc::S_ISGID != 0 && !dir) {
                return Err(Errno::EPERM);
            }
            sys::fchmodat2(d, n, mode & 0o7777, libc::AT_SYMLINK_NOFOLLOW)?;
            Ok((Reply::ok(0), None))
        }
        Req::Chown {
            root,
            path,
            uid,
            gid,
        } => {
            let r = state.root(*root)?;
            writable(&r)?;
            let p = place(&r, path)?;
            let (d, n) = p.at();
            let id = |v: u32| (v != u32::MAX).then_some(v);
            nix::unistd::fchownat(
                Some(d.as_raw_fd()),
                n,
                id(*uid).map(nix::unistd::Uid::from_raw),
                id(*gid).map(nix::unistd::Gid::from_raw),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )?;
            Ok((Reply::ok(0), None))
        }
        Req::Utimens { root, path, times } => {
            let r = state.root(*root)?;
            writable(&r)?;
            let p = place(&r, path)?;
            let (d, n) = p.at();
            let ts = times.map(|[a, m]| [timespec(a), timespec(m)]);
            sys::utimensat(d, n, ts.as_ref(), libc::AT_SYMLINK_NOFOLLOW)?;
            Ok((Reply::ok(0), None))
        }
        Req::Truncate { root, path, len } => {
            let r = state.root(*root)?;
            writable(&r)?;
            let fd = open(
                &r,
                path,
                libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
                0,
            )?;
            let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
            if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                return Err(Errno::EINVAL);
            }
            let len = libc::off_t::try_from(*len).map_err(|_| Errno::EINVAL)?;
            nix::unistd::ftruncate(&fd, len)?;
            Ok((Reply::ok(0), None))
        }
        Req::Mknod { root, path, mode } => {
            let r = state.root(*root)?;
            writable(&r)?;
            let kind = mode & libc::S_IFMT;
            if kind != libc::S_IFIFO && kind != libc::S_IFSOCK {
                return Err(Errno::EPERM);
            }
            let p = place(&r, path)?;
            let (d, n) = p.entry()?;
            nix::sys::stat::mknodat(
                Some(d.as_raw_fd()),
                n,
                nix::sys::stat::SFlag::from_bits_truncate(kind),
                nix::sys::stat::Mode::from_bits_truncate(mode & 0o1777),
                0,
            )?;
            Ok((Reply::ok(0), None))
        }
        Req::SetXattr {
            root,
            path,
            name,
            value,
            flags,
        } => {
            let r = state.root(*root)?;
            let fd = xattr_fd(&r, path, true)?;
            sys::fsetxattr(fd.as_fd(), &cstr(name)?, value, *flags)?;
            Ok((Reply::ok(0), None))
        }
        Req::GetXattr {
            root,
            path,
            name,
            size,
        } => {
            let r = state.root(*root)?;
            let fd = xattr_fd(&r, path, false)?;
            sized(*size, |buf| sys::fgetxattr(fd.as_fd(), &cstr(name)?, buf))
        }
        Req::ListXattr { root, path, size } => {
            let r = state.root(*root)?;
            let fd = match xattr_fd(&r, path, false) {
                Err(Errno::ENODATA) => return Ok((Reply::ok(0), None)),
                r => r?,
            };
            sized(*size, |buf| sys::flistxattr(fd.as_fd(), buf))
        }
        Req::RemoveXattr { root, path, name } => {
            let r = state.root(*root)?;
            let fd = xattr_fd(&r, path, true)?;
            sys::fremovexattr(fd.as_fd(), &cstr(name)?)?;
            Ok((Reply::ok(0), None))
        }
        Req::Statfs { root, path } => {
            let r = state.root(*root)?;
            let fd = open(&r, path, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
            let st = sys::fstatfs(fd.as_fd())?;
            Ok((
                Reply::Ok {
                    val: 0,
                    data: st.c_bytes(),
                },
                None,
            ))
        }
        Req::Stats => {
            let c = state.counts.lock().map_err(|_| Errno::EIO)?;
            let text: String = c.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            Ok((
                Reply::Ok {
                    val: 0,
                    data: text.into_bytes(),
                },
                None,
            ))
        }
        Req::Hello { .. } | Req::AddRoot | Req::Seal | Req::Connect => Err(Errno::EINVAL),
    }
}

/// A reply for the calls that fill a caller-sized buffer (size 0 asks for the length only).
fn sized(
    size: u32,
    fill: impl FnOnce(&mut [u8]) -> Result<usize, Errno>,
) -> Result<(Reply, Option<OwnedFd>), Errno> {
    let cap = usize::try_from(size)
        .map_err(|_| Errno::EINVAL)?
        .min(crate::proto::MAX_XATTR);
    let mut buf = vec![0u8; cap];
    let n = fill(&mut buf)?;
    buf.truncate(if size == 0 { 0 } else { n.min(cap) });
    Ok((
        Reply::Ok {
            val: i64::try_from(n).map_err(|_| Errno::EIO)?,
            data: buf,
        },
        None,
    ))
}

fn timespec(t: Time) -> libc::timespec {
    libc::timespec {
        tv_sec: t.sec,
        tv_nsec: t.nsec,
    }
}

/// How long a connection's thread polls for the next request before sleeping on it: a burst of file operations
/// (an import, a build step) then costs no wake-ups; an idle connection sleeps after this.
const SPIN: std::time::Duration = std::time::Duration::from_micros(200);

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum Ended {
    #[error("the client closed the connection")]
    Closed,
    #[error("{0}")]
    Malformed(#[from] Malformed),
    #[error("socket: {0}")]
    Io(Errno),
}

/// Serves one connection until the client closes it or sends something malformed (which ends the connection: a
/// client that does that is not trusted with another answer).
pub fn serve(state: &Arc<State>, sock: OwnedFd) -> Ended {
    loop {
        let (bytes, fd) = match wire::recv_spin(sock.as_fd(), SPIN) {
            Ok(Some(m)) => m,
            Ok(None) => return Ended::Closed,
            Err(Errno::EPROTO) => return Ended::Malformed(Malformed("bad packet or control data")),
            Err(e) => return Ended::Io(e),
        };
        let req = match Req::decode(&bytes) {
            Ok(r) => r,
            Err(m) => return Ended::Malformed(m),
        };
        let wants_fd = matches!(req, Req::AddRoot | Req::Connect);
        if wants_fd != fd.is_some() {
            return Ended::Malformed(Malformed("fd where none belongs, or none where one does"));
        }
        state.count(req.op());
        let (reply, out) = match (req, fd) {
            (Req::Hello { version }, _) => (
                if version == VERSION {
                    Reply::ok(i64::from(VERSION))
                } else {
                    Reply::Err(libc::EPROTONOSUPPORT)
                },
                None,
            ),
            (Req::AddRoot, Some(dir)) => {
                if state.sealed.load(Ordering::SeqCst) {
                    (Reply::Err(libc::EPERM), None)
                } else {
                    match state.roots.lock() {
                        Ok(mut roots) => {
                            roots.push(Arc::new(Root {
                                dir,
                                file: None,
                                writable: true,
                            }));
                            (
                                Reply::ok(i64::try_from(roots.len() - 1).unwrap_or(-1)),
                                None,
                            )
                        }
                        Err(_) => (Reply::Err(libc::EIO), None),
                    }
                }
            }
            (Req::Seal, _) => {
                state.sealed.store(true, Ordering::SeqCst);
                (Reply::ok(0), None)
            }
            (Req::Connect, Some(s)) => {
                let st = Arc::clone(state);
                match std::thread::Builder::new()
                    .name("gofer-conn".into())
                    .spawn(move || serve(&st, s))
                {
                    Ok(_) => (Reply::ok(0), None),
                    Err(_) => (Reply::Err(libc::EAGAIN), None),
                }
            }
            (req, _) => match perform(state, &req) {
                Ok(r) => r,
                Err(e) => (Reply::Err(e as i32), None),
            },
        };
        if let Err(e) = wire::send(sock.as_fd(), &reply.encode(), out.as_ref().map(AsFd::as_fd)) {
            return Ended::Io(e);
        }
    }
}
