//! THE path resolver: the only place a path the agent gave becomes a canonical sandbox path.
//!
//! Resolution follows Linux: relative to the cwd or a dirfd, `..` at the root stays at the root, symlinks are followed
//! in the sandbox's view (an absolute target is resolved from the sandbox root, never the host's), at most 40 links
//! (ELOOP), ENOTDIR for a non-directory in the middle, and the `/proc/self`, `/proc/<pid>/{cwd,root,exe,fd/N}`
//! magic links are translated to what they mean for the calling task.
//!
//! Fast path: a path without `..` and outside /proc is opened in the view in one `openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_SYMLINKS)`; if it meets a symlink (ELOOP), the component walk takes over. Either way the caller acts on
//! the canonical path with `RESOLVE_NO_SYMLINKS` again, so what the policy checked is what is touched: a symlink
//! swapped in by a race makes the action fail, it cannot redirect it.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::{view_rel, Vfs};
use crate::sys;

/// Linux's limit on symlinks followed in one resolution.
const MAX_LINKS: usize = 40;

/// Where a relative path starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Cwd,
    Fd(i32),
}

/// What the VFS needs to know about the calling task.
pub trait Caller {
    /// The task's working directory, as a sandbox path.
    fn cwd(&self) -> Result<PathBuf, Errno>;
    /// The sandbox path of a directory fd of the task (ENOTDIR if it is not a directory, EBADF if not open).
    fn dir_fd_path(&self, fd: i32) -> Result<PathBuf, Errno>;
    /// (tgid, tid) of the task in the sandbox's pid namespace.
    fn ns_ids(&self) -> Result<(u32, u32), Errno>;
}

/// The object a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// It exists; its lstat (or stat, when the last link was followed).
    Exists(Box<libc::stat>),
    /// The last component does not exist; its parent is a directory.
    Missing,
    /// `/proc/<pid>/fd/<n>` (or `task/<tid>/fd/<n>`): reopens the open file itself.
    ProcFd { rel: PathBuf },
    /// A /proc magic link that was not followed (lstat/readlink of `/proc/self/cwd`), with its target.
    ProcLink(PathBuf),
}

/// A resolved path.
#[derive(Clone, Debug)]
pub struct Node {
    /// Canonical path in the sandbox's view.
    pub path: PathBuf,
    /// The path the policy decides on: the caller's own process under /proc is `/proc/self`.
    pub policy_path: PathBuf,
    pub kind: Kind,
}

impl Node {
    pub fn stat(&self) -> Option<&libc::stat> {
        match &self.kind {
            Kind::Exists(st) => Some(st),
            _ => None,
        }
    }
    pub fn is_dir(&self) -> bool {
        self.stat()
            .is_some_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
    }
    pub fn is_symlink(&self) -> bool {
        self.stat()
            .is_some_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFLNK)
    }
}

fn components(p: &[u8]) -> impl Iterator<Item = &[u8]> {
    p.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
}

fn join(comps: &[OsString]) -> PathBuf {
    let mut p = PathBuf::from("/");
    for c in comps {
        p.push(c);
    }
    p
}

fn is_num(c: &OsStr) -> bool {
    !c.is_empty() && c.as_bytes().iter().all(u8::is_ascii_digit)
}

enum Magic {
    /// A link whose target is a sandbox path.
    Path(PathBuf),
    /// An fd link: reopen through procfs.
    Fd,
}

impl Vfs {
    /// The lexical absolute path, when it can stand for the canonical one if no symlink lies on it: no `..`, not under
    /// /proc (magic links), not /dev/tty (served specially). None otherwise.
    pub fn lexical(
        &self,
        who: &dyn Caller,
        start: Start,
        path: &[u8],
    ) -> Result<Option<PathBuf>, Errno> {
        if path.is_empty() || path.ends_with(b"/") || components(path).any(|c| c == b"..") {
            return Ok(None);
        }
        let mut p = if path[0] == b'/' {
            PathBuf::from("/")
        } else {
            match start {
                Start::Cwd => who.cwd()?,
                Start::Fd(fd) => who.dir_fd_path(fd)?,
            }
        };
        for c in components(path) {
            p.push(OsStr::from_bytes(c));
        }
        if p.starts_with("/proc") || p == Path::new("/dev/tty") {
            return Ok(None);
        }
        Ok(Some(p))
    }

    /// Resolves `path` for `who`. `follow`: follow a final symlink. A trailing slash requires a directory.
    pub fn resolve(
        &self,
        who: &dyn Caller,
        start: Start,
        path: &[u8],
        follow: bool,
    ) -> Result<Node, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let trailing_slash = path.ends_with(b"/");
        let follow = follow || trailing_slash;
        let mut base: Vec<OsString> = Vec::new();
        if path[0] != b'/' {
            let b = match start {
                Start::Cwd => who.cwd()?,
                Start::Fd(fd) => who.dir_fd_path(fd)?,
            };
            base = components(b.as_os_str().as_bytes())
                .map(|c| OsStr::from_bytes(c).to_os_string())
                .collect();
        }
        let todo: Vec<&[u8]> = components(path).collect();

        // Fast path.
        let under_proc = base.first().map(|c| c.as_bytes()) == Some(b"proc")
            || (base.is_empty() && todo.first() == Some(&&b"proc"[..]));
        if !under_proc && !todo.contains(&&b".."[..]) {
            let mut full = base.clone();
            full.extend(todo.iter().map(|c| OsStr::from_bytes(c).to_os_string()));
            let p = join(&full);
            match self.open_view(&p, libc::O_PATH, 0) {
                Ok(fd) => {
                    let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd))?;
                    let is_link = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
                    if !(is_link && follow) {
                        if trailing_slash && st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                            return Err(Errno::ENOTDIR);
                        }
                        return Ok(Node {
                            policy_path: p.clone(),
                            path: p,
                            kind: Kind::Exists(Box::new(st)),
                        });
                    }
                }
                Err(Errno::ENOENT) => {
                    let parent = p.parent().unwrap_or(Path::new("/"));
                    match self.open_view(parent, libc::O_PATH | libc::O_DIRECTORY, 0) {
                        Ok(_) => {
                            return Ok(Node {
                                policy_path: p.clone(),
                                path: p,
                                kind: Kind::Missing,
                            })
                        }
                        Err(Errno::ELOOP) => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(Errno::ELOOP | Errno::EXDEV) => {}
                Err(e) => return Err(e),
            }
        }
        self.walk(who, base, &todo, follow, trailing_slash)
    }

    /// For operations on the object itself (chmod, utimes, truncate, xattrs, exec): a `/proc/<pid>/fd/N` link names
    /// the open file, so continue with that file's own sandbox path (checked by the policy like any other path).
    /// Links that are not paths (pipes, sockets) stay as they are.
    pub fn deref_fd_link(&self, who: &dyn Caller, node: Node) -> Result<Node, Errno> {
        let Kind::ProcFd { rel } = &node.kind else {
            return Ok(node);
        };
        let target = nix::fcntl::readlinkat(
            Some(std::os::fd::AsRawFd::as_raw_fd(&self.view_root())),
            view_rel(rel)?.as_c_str(),
        )?;
        match link_to_path(target) {
            Some(p) => self.resolve(who, Start::Cwd, p.as_os_str().as_bytes(), false),
            None => Ok(node),
        }
    }

    /// The component walk (symlinks, `..`, /proc).
    fn walk(
        &self,
        who: &dyn Caller,
        base: Vec<OsString>,
        todo: &[&[u8]],
        follow: bool,
        trailing_slash: bool,
    ) -> Result<Node, Errno> {
        let mut done = base;
        let mut todo: VecDeque<OsString> = todo
            .iter()
            .map(|c| OsStr::from_bytes(c).to_os_string())
            .collect();
        let mut links = 0usize;
        let mut splice = |done: &mut Vec<OsString>,
                          todo: &mut VecDeque<OsString>,
                          target: &[u8]|
         -> Result<(), Errno> {
            links += 1;
            if links > MAX_LINKS {
                return Err(Errno::ELOOP);
            }
            if target.first() == Some(&b'/') {
                done.clear();
            }
            for c in components(target).collect::<Vec<_>>().into_iter().rev() {
                todo.push_front(OsStr::from_bytes(c).to_os_string());
            }
            Ok(())
        };
        while let Some(c) = todo.pop_front() {
            if c.as_bytes() == b".." {
                done.pop();
                continue;
            }
            let last = todo.is_empty();
            done.push(c);
            if done.first().map(|c| c.as_bytes()) == Some(b"proc") {
                match self.proc_magic(who, &done)? {
                    Some(Magic::Path(target)) => {
                        if last && !follow {
                            return self.node(who, &done, Kind::ProcLink(target));
                        }
                        done.pop();
                        splice(&mut done, &mut todo, target.as_os_str().as_bytes())?;
                        continue;
                    }
                    Some(Magic::Fd) => {
                        let rel = join(&done);
                        if last && follow {
                            return self.node(who, &done, Kind::ProcFd { rel });
                        }
                        let target = nix::fcntl::readlinkat(
                            Some(std::os::fd::AsRawFd::as_raw_fd(&self.view_root())),
                            view_rel(&rel)?.as_c_str(),
                        )?;
                        if last {
                            return self.node(who, &done, Kind::ProcLink(PathBuf::from(target)));
                        }
                        if target.as_bytes().first() != Some(&b'/') {
                            return Err(Errno::ENOTDIR);
                        }
                        done.pop();
                        splice(&mut done, &mut todo, target.as_bytes())?;
                        continue;
                    }
                    None => {}
                }
            }
            let p = join(&done);
            // Components before this one were checked to be directories, not symlinks; a race that swaps one can
            // only mislead this lookup, and the final action re-resolves with RESOLVE_NO_SYMLINKS and fails.
            let st = match sys::fstatat(
                Some(self.view_root()),
                &view_rel(&p)?,
                libc::AT_SYMLINK_NOFOLLOW,
            ) {
                Ok(st) => st,
                Err(Errno::ENOENT) if last => return self.node(who, &done, Kind::Missing),
                Err(e) => return Err(e),
            };
            let fmt = st.st_mode & libc::S_IFMT;
            if fmt == libc::S_IFLNK && (!last || follow) {
                let target = nix::fcntl::readlinkat(
                    Some(std::os::fd::AsRawFd::as_raw_fd(&self.view_root())),
                    view_rel(&p)?.as_c_str(),
                )?;
                done.pop();
                splice(&mut done, &mut todo, target.as_bytes())?;
                if todo.is_empty() {
                    // The link pointed at "/" (or only at `..`s): the target is the directory reached.
                    let p = join(&done);
                    let st = sys::fstatat(
                        Some(self.view_root()),
                        &view_rel(&p)?,
                        libc::AT_SYMLINK_NOFOLLOW,
                    )?;
                    return self.node(who, &done, Kind::Exists(Box::new(st)));
                }
                continue;
            }
            if !last && fmt != libc::S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            if last {
                if trailing_slash && fmt != libc::S_IFDIR {
                    return Err(Errno::ENOTDIR);
                }
                return self.node(who, &done, Kind::Exists(Box::new(st)));
            }
        }
        // Everything was consumed by `..` or `.`: the directory reached.
        let p = join(&done);
        let st = sys::fstatat(
            Some(self.view_root()),
            &view_rel(&p)?,
            libc::AT_SYMLINK_NOFOLLOW,
        )?;
        self.node(who, &done, Kind::Exists(Box::new(st)))
    }

    fn node(&self, who: &dyn Caller, done: &[OsString], kind: Kind) -> Result<Node, Errno> {
        let path = join(done);
        let policy_path = if done.first().map(|c| c.as_bytes()) == Some(b"proc")
            && done.len() >= 2
            && is_num(&done[1])
        {
            let (tgid, _) = who.ns_ids()?;
            if done[1].as_bytes() == tgid.to_string().as_bytes() {
                let mut p = PathBuf::from("/proc/self");
                for c in &done[2..] {
                    p.push(c);
                }
                p
            } else {
                path.clone()
            }
        } else {
            path.clone()
        };
        Ok(Node {
            path,
            policy_path,
            kind,
        })
    }

    /// Is `done` (starting with "proc") one of procfs's magic links?
    fn proc_magic(&self, who: &dyn Caller, done: &[OsString]) -> Result<Option<Magic>, Errno> {
        let c: Vec<&[u8]> = done.iter().map(|c| c.as_bytes()).collect();
        match c.as_slice() {
            [b"proc", b"self"] => {
                let (tgid, _) = who.ns_ids()?;
                Ok(Some(Magic::Path(PathBuf::from(format!("/proc/{tgid}")))))
            }
            [b"proc", b"thread-self"] => {
                let (tgid, tid) = who.ns_ids()?;
                Ok(Some(Magic::Path(PathBuf::from(format!(
                    "/proc/{tgid}/task/{tid}"
                )))))
            }
            [b"proc", pid, rest @ ..] if is_num(OsStr::from_bytes(pid)) => {
                let rest = match rest {
                    [b"task", tid, r @ ..] if is_num(OsStr::from_bytes(tid)) => r,
                    r => r,
                };
                match rest {
                    [b"root"] => Ok(Some(Magic::Path(PathBuf::from("/")))),
                    [b"cwd" | b"exe"] => {
                        let rel = view_rel(&join(done))?;
                        let t = nix::fcntl::readlinkat(
                            Some(std::os::fd::AsRawFd::as_raw_fd(&self.view_root().as_fd())),
                            rel.as_c_str(),
                        )?;
                        Ok(Some(Magic::Path(PathBuf::from(t))))
                    }
                    [b"fd", n] if is_num(OsStr::from_bytes(n)) => Ok(Some(Magic::Fd)),
                    _ => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }
}

/// The sandbox path of a link read from the host's /proc (cwd, fd): None when it is not a path (a pipe, a socket,
/// a deleted directory).
pub fn link_to_path(target: OsString) -> Option<PathBuf> {
    let b = target.into_vec();
    if b.first() != Some(&b'/') || b.ends_with(b" (deleted)") {
        return None;
    }
    Some(PathBuf::from(OsString::from_vec(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_skip_dot_and_empty() {
        let c: Vec<&[u8]> = components(b"/a//./b/../c/").collect();
        assert_eq!(c, vec![&b"a"[..], b"b", b"..", b"c"]);
    }

    #[test]
    fn link_to_path_rejects_pipes_and_deleted() {
        assert_eq!(link_to_path("pipe:[12]".into()), None);
        assert_eq!(link_to_path("/x (deleted)".into()), None);
        assert_eq!(
            link_to_path("/work/p".into()),
            Some(PathBuf::from("/work/p"))
        );
    }
}
