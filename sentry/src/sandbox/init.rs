//! The sandbox's side of start-up, run in the child of `clone(CLONE_NEW*)`: the sandbox init (pid 1 of the new pid
//! namespace) builds the agent's mount view, forks the agent, and reaps. The agent drops everything, installs the
//! filter, hands the listener to the sentry and execs.
//!
//! This runs in a fork of the single-threaded sentry, so ordinary Rust (allocation included) is safe here. Errors
//! are sent to the sentry as text and end the child: the sentry reports them.

#![forbid(unsafe_code)]

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::proto::{self, Msg};
use crate::sys;

/// One bind of the view.
#[derive(Debug)]
pub struct Bind {
    pub path: PathBuf,
    /// The host path bound there (the same as `path` unless the grant maps another).
    pub host: PathBuf,
    pub exec: bool,
    /// The host path is a symlink: recreate it instead of binding.
    pub symlink: Option<PathBuf>,
    pub is_dir: bool,
}

/// Everything the child needs, prepared by the sentry before the clone.
#[derive(Debug)]
pub struct Plan {
    pub binds: Vec<Bind>,
    /// Literal deny paths that exist: masked with empty read-only mounts (a file or a directory, as the view has it).
    pub masks: Vec<PathBuf>,
    pub tmp_size: u64,
    pub workdir: PathBuf,
    pub program: CString,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    pub filters: Vec<Vec<platform_seccomp::sock_filter>>,
    /// The ptrace platform: be traced before installing the filter (compiled with SECCOMP_RET_TRACE), no listener.
    pub ptrace: bool,
    /// Budgets the kernel enforces per process: (resource, soft, hard), set on the agent before exec.
    pub rlimits: Vec<(nix::sys::resource::Resource, u64, u64)>,
    /// The sandbox has its own network namespace (every mode but `--net host`): bring its loopback up.
    pub own_netns: bool,
    /// Bind the sandbox resolver's socket (`--net sandbox`) and hand it to the sentry.
    pub resolver: bool,
    /// Files whose content the view replaces (read-only): /etc/resolv.conf in `--net sandbox`.
    pub overlays: Vec<(PathBuf, Vec<u8>)>,
    /// Sandbox paths served by the private tmpfs (see `Policy::scratch`).
    pub scratch: Vec<PathBuf>,
    /// Paths of the view hidden behind an empty read-only file or directory whatever mount they lie on (an OCI
    /// config's maskedPaths: /proc/kcore, /sys/firmware, ...).
    pub hidden: Vec<PathBuf>,
    /// Where a read-only sysfs goes (an OCI config's sysfs mount).
    pub sysfs: Option<PathBuf>,
    /// An OCI container's process settings.
    pub container: Option<ContainerPlan>,
}

/// What an OCI container adds to the agent's start.
#[derive(Debug, Default)]
pub struct ContainerPlan {
    pub hostname: Option<String>,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
    /// Hold the agent before exec until the sentry says `Start` (`sentry create` / `sentry start`).
    pub hold: bool,
    /// Fork the spawner (see `spawner`) for `sentry exec` into the running container.
    pub spawner: bool,
    /// Search PATH (of the process's own environment) for a program without a slash, as runc does.
    pub search_path: bool,
    /// process.rlimits: (resource, soft, hard), set before the budgets' (which may only lower them).
    pub rlimits: Vec<(nix::sys::resource::Resource, u64, u64)>,
}

const BASE: &str = "/tmp";

fn cs(p: &Path) -> Result<CString, Errno> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

fn under_base(p: &Path) -> PathBuf {
    let mut b = PathBuf::from(BASE);
    for c in p.components().skip(1) {
        b.push(c);
    }
    b
}

fn ctx<T>(r: Result<T, Errno>, what: impl FnOnce() -> String) -> Result<T, String> {
    r.map_err(|e| format!("{}: {}", what(), e.desc()))
}

/// A sandbox path under the private tmpfs, as a path relative to the tmpfs root (its layout mirrors the sandbox's).
fn in_private_tmp(scratch: &[PathBuf], p: &Path) -> Option<PathBuf> {
    if scratch.iter().any(|t| p.starts_with(t)) {
        p.strip_prefix("/").ok().map(Path::to_path_buf)
    } else {
        None
    }
}

/// mkdir -p (and the final file or symlink) beneath a directory fd.
fn mountpoint_at(
    dir: BorrowedFd<'_>,
    rel: &Path,
    is_dir: bool,
    link: Option<&Path>,
) -> Result<(), String> {
    let mut cur = PathBuf::new();
    let comps: Vec<_> = rel.components().collect();
    for (i, c) in comps.iter().enumerate() {
        cur.push(c);
        let last = i + 1 == comps.len();
        let cp = cs(&cur).map_err(|e| e.to_string())?;
        if let (true, Some(link)) = (last, link) {
            let l = cs(link).map_err(|e| e.to_string())?;
            match nix::unistd::symlinkat(l.as_c_str(), Some(dir.as_raw_fd()), cp.as_c_str()) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(format!("symlink {}: {}", cur.display(), e.desc())),
            }
        } else {
            sys::make_mountpoint(dir, cp.as_c_str(), is_dir || !last)
                .map_err(|e| format!("mountpoint {}: {}", cur.display(), e.desc()))?;
        }
    }
    Ok(())
}

/// One mount of the view, applied parents first.
enum Layer<'p> {
    Bind(&'p Bind, Option<&'p OwnedFd>),
    Scratch(&'p Path),
    Dev,
    Proc,
    Sys(&'p Path),
}

impl Layer<'_> {
    fn path(&self) -> &Path {
        match self {
            Layer::Bind(b, _) => &b.path,
            Layer::Scratch(p) | Layer::Sys(p) => p,
            Layer::Dev => Path::new("/dev"),
            Layer::Proc => Path::new("/proc"),
        }
    }
}

/// The O_PATH fd of a mountpoint in the view under construction, made if missing (directories on the way, and the
/// final directory or file). Every step resolves beneath the view's root (RESOLVE_IN_ROOT): a symlink in an OCI
/// rootfs (`/etc/resolv.conf -> /run/...`) resolves inside the rootfs, never onto the host, so a hostile image cannot
/// make the runtime create or mount anything outside it.
fn mountpoint(base: BorrowedFd<'_>, path: &Path, is_dir: bool) -> Result<OwnedFd, String> {
    mountpoint_at_depth(base, path, is_dir, 0)
}

/// `mountpoint`, `depth` symlinks deep. A dangling symlink on the way (an image's `/etc/resolv.conf ->
/// ../run/systemd/resolve/stub-resolv.conf`, which the kubelet binds over) has its target made, inside the view's root
/// (absolute targets are the root's, `..` stops at it), as runc does.
fn mountpoint_at_depth(
    base: BorrowedFd<'_>,
    path: &Path,
    is_dir: bool,
    depth: u32,
) -> Result<OwnedFd, String> {
    let open = |rel: &Path, flags: i32| -> Result<OwnedFd, Errno> {
        sys::openat2(
            base,
            &cs(rel)?,
            flags | libc::O_CLOEXEC,
            0,
            sys::RESOLVE_IN_ROOT,
        )
    };
    let comps: Vec<_> = path.components().skip(1).collect();
    let mut cur = PathBuf::new();
    for (i, c) in comps.iter().enumerate() {
        cur.push(c);
        let last = i + 1 == comps.len();
        if open(&cur, libc::O_PATH).is_ok() {
            continue;
        }
        let parent = match cur.parent() {
            Some(p) if !p.as_os_str().is_empty() => {
                ctx(open(p, libc::O_PATH | libc::O_DIRECTORY), || {
                    format!("mountpoint {}", path.display())
                })?
            }
            _ => ctx(
                sys::openat2(
                    base,
                    c".",
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                    0,
                    0,
                ),
                || "view root".into(),
            )?,
        };
        let name = cs(Path::new(c.as_os_str())).map_err(|e| e.to_string())?;
        if let Ok(link) = nix::fcntl::readlinkat(Some(parent.as_raw_fd()), name.as_c_str()) {
            if depth >= 8 {
                return Err(format!("mountpoint {}: too many symlinks", path.display()));
            }
            let link = PathBuf::from(link);
            let at = Path::new("/").join(cur.parent().unwrap_or(Path::new("")));
            let target = crate::policy::load::lexical(&at.join(link));
            drop(mountpoint_at_depth(
                base,
                &target,
                is_dir || !last,
                depth + 1,
            )?);
            continue;
        }
        sys::make_mountpoint(parent.as_fd(), name.as_c_str(), is_dir || !last)
            .map_err(|e| format!("mountpoint {}: {}", cur.display(), e.desc()))?;
    }
    let rel = if comps.is_empty() {
        PathBuf::from(".")
    } else {
        cur
    };
    ctx(open(&rel, libc::O_PATH), || {
        format!("mountpoint {}", path.display())
    })
}

/// The view's root as it stands (the top mount at BASE).
fn base_fd() -> Result<OwnedFd, String> {
    ctx(
        sys::open_abs(
            &CString::new(BASE).map_err(|e| e.to_string())?,
            libc::O_PATH | libc::O_DIRECTORY,
        ),
        || "open the view".into(),
    )
}

/// Builds the view under BASE and pivots into it. Returns the writable private tmpfs.
///
/// Mounts go on parents first (the root bind of an OCI rootfs, then by depth), each onto a mountpoint made beneath
/// the view's root; read-only flags go on at the end, once every mountpoint exists, and the sentry's own writable
/// mounts (devpts, /proc) are then cleared of what a read-only bind above them spread onto them.
fn build_view(plan: &Plan) -> Result<OwnedFd, String> {
    ctx(
        sys::mount_flags(c"/", libc::MS_REC | libc::MS_PRIVATE),
        || "make / private".into(),
    )?;
    // Every source is opened first, in the sandbox's copy of the mount namespace (open_tree clones only mounts of
    // the caller's own namespace) and before the view hides anything; the agent does not exist yet, so nothing can
    // race these opens.
    let mut sources = Vec::with_capacity(plan.binds.len());
    for b in &plan.binds {
        if b.symlink.is_some() {
            sources.push(None);
            continue;
        }
        // No symlink anywhere on the way: grant paths are canonical, and one that became a symlink since is refused.
        let src = ctx(
            sys::open_abs_nosymlinks(&cs(&b.host).map_err(|e| e.to_string())?, libc::O_PATH),
            || format!("open {}", b.host.display()),
        )?;
        sources.push(Some(src));
    }
    let host_dev = ctx(
        sys::open_abs(c"/dev", libc::O_PATH | libc::O_DIRECTORY),
        || "open host /dev".into(),
    )?;
    let root = ctx(
        sys::new_fs(c"tmpfs", &[(c"mode", c"0755"), (c"size", c"16m")]),
        || "root tmpfs".into(),
    )?;
    ctx(
        sys::attach(
            root.as_fd(),
            &CString::new(BASE).map_err(|e| e.to_string())?,
        ),
        || "attach root".into(),
    )?;

    let ro = sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
    // The private tmpfs: /tmp and /dev/shm (or an OCI config's tmpfs mounts). Its layout mirrors the sandbox paths,
    // so the paths the kernel reports for files the sentry opens on it (which /proc/self/fd shows) are the sandbox's.
    let size = CString::new(plan.tmp_size.to_string()).map_err(|e| e.to_string())?;
    let tmp = ctx(
        sys::new_fs(c"tmpfs", &[(c"mode", c"0755"), (c"size", size.as_c_str())]),
        || "private tmpfs".into(),
    )?;
    for s in &plan.scratch {
        let rel = s.strip_prefix("/").unwrap_or(s);
        mountpoint_at(tmp.as_fd(), rel, true, None)?;
        ctx(
            nix::sys::stat::fchmodat(
                Some(tmp.as_raw_fd()),
                cs(rel).map_err(|e| e.to_string())?.as_c_str(),
                nix::sys::stat::Mode::from_bits_truncate(0o1777),
                nix::sys::stat::FchmodatFlags::NoFollowSymlink,
            ),
            || "tmpfs mode".into(),
        )?;
    }

    let mut layers: Vec<Layer<'_>> = plan
        .binds
        .iter()
        .zip(&sources)
        .map(|(b, s)| Layer::Bind(b, s.as_ref()))
        .collect();
    layers.extend(plan.scratch.iter().map(|p| Layer::Scratch(p)));
    layers.push(Layer::Dev);
    layers.push(Layer::Proc);
    if let Some(p) = &plan.sysfs {
        layers.push(Layer::Sys(p));
    }
    // Parents first: `/` (an OCI rootfs), then by depth; equal depths keep the plan's order.
    layers.sort_by_key(|l| l.path().components().count());

    // Read-only flags applied once every mountpoint exists: (tree, set, recursive).
    let mut flags_later: Vec<(OwnedFd, u64, bool)> = Vec::new();
    // The sentry's own mounts that must stay writable or executable whatever a bind above them spreads: (tree, clear).
    let mut keep: Vec<(OwnedFd, u64)> = Vec::new();
    for layer in &layers {
        match layer {
            Layer::Bind(b, src) => {
                if let Some(rel) = in_private_tmp(&plan.scratch, &b.path) {
                    // The view's scratch mount is a read-only clone of the private tmpfs: make the mountpoint on its
                    // writable side.
                    mountpoint_at(
                        tmp.as_fd(),
                        &rel,
                        b.is_dir || b.symlink.is_some(),
                        b.symlink.as_deref(),
                    )?;
                    if b.symlink.is_some() {
                        continue;
                    }
                }
                if let Some(link) = &b.symlink {
                    let target = under_base(&b.path);
                    if let Some(parent) = b.path.parent() {
                        drop(mountpoint(base_fd()?.as_fd(), parent, true)?);
                    }
                    if std::fs::symlink_metadata(&target).is_err() {
                        std::os::unix::fs::symlink(link, &target)
                            .map_err(|e| format!("symlink {}: {e}", target.display()))?;
                    }
                    continue;
                }
                let Some(src) = src else { continue };
                let tree = ctx(sys::clone_tree(src.as_fd(), c""), || {
                    format!("clone {}", b.host.display())
                })?;
                let at = mountpoint(base_fd()?.as_fd(), &b.path, b.is_dir)?;
                ctx(sys::attach_at(tree.as_fd(), at.as_fd()), || {
                    format!("bind {}", b.path.display())
                })?;
                let attrs = if b.exec {
                    ro
                } else {
                    ro | sys::MOUNT_ATTR_NOEXEC
                };
                flags_later.push((tree, attrs, true));
            }
            Layer::Scratch(p) => {
                let rel = p.strip_prefix("/").unwrap_or(p);
                let t = ctx(
                    sys::clone_tree(tmp.as_fd(), &cs(rel).map_err(|e| e.to_string())?),
                    || format!("clone {}", p.display()),
                )?;
                ctx(sys::mount_setattr(t.as_fd(), ro, 0, true), || {
                    format!("read-only {}", p.display())
                })?;
                let at = match in_private_tmp(&plan.scratch, p).filter(|r| r != rel) {
                    // A scratch mount inside another one (/tmp/x in /tmp): its mountpoint is on the writable side.
                    Some(r) => {
                        mountpoint_at(tmp.as_fd(), &r, true, None)?;
                        mountpoint(base_fd()?.as_fd(), p, true)?
                    }
                    None => mountpoint(base_fd()?.as_fd(), p, true)?,
                };
                ctx(sys::attach_at(t.as_fd(), at.as_fd()), || {
                    format!("attach {}", p.display())
                })?;
                keep.push((t, sys::MOUNT_ATTR_NOEXEC));
            }
            Layer::Dev => {
                let at = mountpoint(base_fd()?.as_fd(), Path::new("/dev"), true)?;
                let (dev, pts, nodes) = build_dev(host_dev.as_fd(), plan)?;
                ctx(sys::attach_at(dev.as_fd(), at.as_fd()), || {
                    "attach /dev".into()
                })?;
                flags_later.push((
                    dev,
                    sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC,
                    false,
                ));
                // Device nodes stay usable whatever `nodev` a bind above spreads (an OCI rootfs at `/`).
                keep.push((pts, sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NODEV));
                keep.extend(nodes.into_iter().map(|n| (n, sys::MOUNT_ATTR_NODEV)));
            }
            Layer::Proc => {
                let at = mountpoint(base_fd()?.as_fd(), Path::new("/proc"), true)?;
                let proc_fs = ctx(sys::new_fs(c"proc", &[]), || "procfs".into())?;
                ctx(
                    sys::mount_setattr(
                        proc_fs.as_fd(),
                        sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC,
                        0,
                        false,
                    ),
                    || "procfs flags".into(),
                )?;
                ctx(sys::attach_at(proc_fs.as_fd(), at.as_fd()), || {
                    "attach /proc".into()
                })?;
                keep.push((proc_fs, sys::MOUNT_ATTR_RDONLY));
            }
            Layer::Sys(p) => {
                let at = mountpoint(base_fd()?.as_fd(), p, true)?;
                // A sysfs of the sandbox's own network namespace; where the kernel refuses one (a joined network
                // namespace the sandbox's user namespace does not own), an empty read-only directory.
                let fs = sys::new_fs(c"sysfs", &[])
                    .or_else(|_| sys::new_fs(c"tmpfs", &[(c"mode", c"0555"), (c"size", c"4k")]));
                let fs = ctx(fs, || "sysfs".into())?;
                ctx(
                    sys::mount_setattr(fs.as_fd(), ro | sys::MOUNT_ATTR_NOEXEC, 0, false),
                    || "sysfs flags".into(),
                )?;
                ctx(sys::attach_at(fs.as_fd(), at.as_fd()), || {
                    format!("attach {}", p.display())
                })?;
            }
        }
    }
    for (tree, set, recursive) in &flags_later {
        ctx(
            sys::mount_setattr(tree.as_fd(), *set, 0, *recursive),
            || "read-only view".into(),
        )?;
    }
    for (tree, clr) in &keep {
        ctx(sys::mount_setattr(tree.as_fd(), 0, *clr, false), || {
            "view flags".into()
        })?;
    }

    // Deny holes: an empty read-only directory or file over each, mode 000 (reads fail as the rule says). Hidden
    // paths (an OCI config's maskedPaths): the same, readable and empty, as runc's /dev/null over them.
    cover(&plan.masks, ro, false)?;
    cover(&plan.hidden, ro, true)?;

    // Files replaced in the view: a small read-only tmpfs file over each (a path that is not a regular file in the
    // view, such as a symlink out of it, is left alone).
    for (path, content) in &plan.overlays {
        let Some(at) = view_at(path)? else {
            continue;
        };
        if !nix::sys::stat::fstat(at.as_raw_fd())
            .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG)
        {
            continue;
        }
        let fs = ctx(
            sys::new_fs(c"tmpfs", &[(c"mode", c"0755"), (c"size", c"64k")]),
            || "overlay tmpfs".into(),
        )?;
        let f = ctx(
            nix::fcntl::openat(
                Some(fs.as_raw_fd()),
                c"f",
                nix::fcntl::OFlag::O_CREAT
                    | nix::fcntl::OFlag::O_WRONLY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::from_bits_truncate(0o644),
            ),
            || "overlay file".into(),
        )?;
        let f = ctx(sys::own_fd(f), || "overlay file".into())?;
        ctx(nix::unistd::write(&f, content), || "overlay write".into())?;
        drop(f);
        let tree = ctx(sys::clone_tree(fs.as_fd(), c"f"), || "overlay clone".into())?;
        ctx(
            sys::mount_setattr(tree.as_fd(), ro | sys::MOUNT_ATTR_NOEXEC, 0, true),
            || "overlay ro".into(),
        )?;
        ctx(sys::attach_at(tree.as_fd(), at.as_fd()), || {
            format!("overlay {}", path.display())
        })?;
    }

    // Into the view: pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves the view.
    ctx(nix::unistd::chdir(BASE), || "chdir view".into())?;
    ctx(nix::unistd::pivot_root(".", "."), || "pivot_root".into())?;
    ctx(
        nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH),
        || "detach old root".into(),
    )?;
    ctx(nix::unistd::chdir("/"), || "chdir /".into())?;
    // With an OCI rootfs bound at `/` the skeleton tmpfs lies under it, out of reach (and left writable: nothing
    // can name it); otherwise it is the view's root and goes read-only.
    if !plan.binds.iter().any(|b| b.path == Path::new("/")) {
        ctx(
            sys::mount_setattr(
                root.as_fd(),
                sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
                0,
                false,
            ),
            || "read-only root".into(),
        )?;
    }
    Ok(tmp)
}

/// Mounts an empty read-only file or directory (matching what is there) over each path that exists in the view.
fn cover(paths: &[PathBuf], ro: u64, readable: bool) -> Result<(), String> {
    if paths.is_empty() {
        return Ok(());
    }
    let (dmode, fmode) = if readable { (0o555, 0o444) } else { (0, 0) };
    let empty = ctx(
        sys::new_fs(c"tmpfs", &[(c"mode", c"0755"), (c"size", c"4k")]),
        || "mask tmpfs".into(),
    )?;
    let f = ctx(
        nix::fcntl::openat(
            Some(empty.as_raw_fd()),
            c"f",
            nix::fcntl::OFlag::O_CREAT | nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::from_bits_truncate(fmode),
        ),
        || "mask file".into(),
    )?;
    drop(sys::own_fd(f));
    ctx(
        nix::sys::stat::mkdirat(
            Some(empty.as_raw_fd()),
            c"d",
            nix::sys::stat::Mode::from_bits_truncate(dmode),
        ),
        || "mask dir".into(),
    )?;
    for path in paths {
        let Some(at) = view_at(path)? else {
            continue;
        };
        let Ok(st) = nix::sys::stat::fstat(at.as_raw_fd()) else {
            continue;
        };
        let kind = st.st_mode & libc::S_IFMT;
        if kind == libc::S_IFLNK {
            continue;
        }
        let tree = ctx(
            sys::clone_tree(
                empty.as_fd(),
                if kind == libc::S_IFDIR { c"d" } else { c"f" },
            ),
            || "mask clone".into(),
        )?;
        ctx(
            sys::mount_setattr(tree.as_fd(), ro | sys::MOUNT_ATTR_NOEXEC, 0, true),
            || "mask ro".into(),
        )?;
        ctx(sys::attach_at(tree.as_fd(), at.as_fd()), || {
            format!("mask {}", path.display())
        })?;
    }
    Ok(())
}

/// An O_PATH fd of `path` in the view under construction, if it exists. Resolved inside the view only: a symlink on
/// the way stays in it, a final symlink is not followed.
fn view_at(path: &Path) -> Result<Option<OwnedFd>, String> {
    let base = base_fd()?;
    Ok(sys::openat2(
        base.as_fd(),
        &view_rel(path)?,
        libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        0,
        sys::RESOLVE_IN_ROOT,
    )
    .ok())
}

/// `/a/b` → `a/b` (`.` for `/`), as an error string on NUL.
fn view_rel(p: &Path) -> Result<CString, String> {
    crate::vfs::view_rel(p).map_err(|e| e.to_string())
}

/// The sandbox's /dev (detached): a few host devices bound in, the usual links, its own devpts, a mountpoint for
/// /dev/shm. Returns (the /dev tmpfs, the devpts mount, the device nodes' binds).
fn build_dev(
    host_dev: BorrowedFd<'_>,
    plan: &Plan,
) -> Result<(OwnedFd, OwnedFd, Vec<OwnedFd>), String> {
    let dev = ctx(
        sys::new_fs(c"tmpfs", &[(c"mode", c"0755"), (c"size", c"64k")]),
        || "dev tmpfs".into(),
    )?;
    let make = |name: &CStr, dir: bool| -> Result<(), String> {
        ctx(sys::make_mountpoint(dev.as_fd(), name, dir), || {
            format!("/dev/{}", name.to_string_lossy())
        })
    };
    let at = |name: &CStr| -> Result<OwnedFd, String> {
        ctx(
            sys::openat2(
                dev.as_fd(),
                name,
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0,
                sys::RESOLVE_BENEATH,
            ),
            || format!("/dev/{}", name.to_string_lossy()),
        )
    };
    let mut nodes = Vec::new();
    for name in [c"null", c"zero", c"full", c"random", c"urandom", c"tty"] {
        make(name, false)?;
        let tree = ctx(sys::clone_tree(host_dev, name), || {
            format!("clone /dev/{}", name.to_string_lossy())
        })?;
        ctx(
            sys::mount_setattr(
                tree.as_fd(),
                sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC,
                sys::MOUNT_ATTR_NODEV,
                true,
            ),
            || format!("/dev/{} flags", name.to_string_lossy()),
        )?;
        ctx(sys::attach_at(tree.as_fd(), at(name)?.as_fd()), || {
            format!("bind /dev/{}", name.to_string_lossy())
        })?;
        nodes.push(tree);
    }
    for (link, to) in [
        (c"fd", c"/proc/self/fd"),
        (c"stdin", c"/proc/self/fd/0"),
        (c"stdout", c"/proc/self/fd/1"),
        (c"stderr", c"/proc/self/fd/2"),
        (c"ptmx", c"pts/ptmx"),
    ] {
        ctx(
            nix::unistd::symlinkat(to, Some(dev.as_raw_fd()), link),
            || format!("/dev/{}", link.to_string_lossy()),
        )?;
    }
    // The sandbox's own devpts instance: ptys the agent opens (and its terminal, which the sentry creates here)
    // never touch the host's.
    make(c"pts", true)?;
    let pts = ctx(
        sys::new_fs(c"devpts", &[(c"ptmxmode", c"0666"), (c"mode", c"0620")]),
        || "devpts".into(),
    )?;
    ctx(
        sys::mount_setattr(
            pts.as_fd(),
            sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC,
            0,
            false,
        ),
        || "devpts flags".into(),
    )?;
    ctx(sys::attach_at(pts.as_fd(), at(c"pts")?.as_fd()), || {
        "attach /dev/pts".into()
    })?;
    // Mountpoints for the scratch mounts under /dev (/dev/shm).
    for s in &plan.scratch {
        if let Ok(rel) = s.strip_prefix("/dev") {
            if !rel.as_os_str().is_empty() {
                mountpoint_at(dev.as_fd(), rel, true, None)?;
            }
        }
    }
    Ok((dev, pts, nodes))
}

/// Entry point of the cloned child. Never returns.
pub fn child_main(ctl: OwnedFd, plan: Plan) -> ! {
    // Die with the sentry: the sandbox never outlives it.
    if sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL.cast_unsigned().into()).is_err() {
        sys::exit_now(125);
    }
    match proto::recv(ctl.as_fd()) {
        Ok((Msg::Go, _)) => {}
        _ => sys::exit_now(125),
    }
    let fail = |msg: String| -> ! {
        let _ = proto::send(ctl.as_fd(), &Msg::Error(msg), None);
        sys::exit_now(125)
    };
    if plan.own_netns {
        if let Err(e) = sys::loopback_up() {
            fail(format!("bring up loopback: {}", e.desc()));
        }
    }
    if plan.resolver {
        // Bound here, in the sandbox's namespace with the capabilities to take port 53; served by the sentry. At
        // 127.0.0.53 (what the masked /etc/resolv.conf names) and at 127.0.0.1 (glibc's default when the view has no
        // /etc/resolv.conf, or only a symlink out of the view).
        for ip in [
            crate::net::dns::RESOLVER_ADDR,
            std::net::Ipv4Addr::LOCALHOST,
        ] {
            let addr = std::net::SocketAddr::from((ip, 53));
            let socks = std::net::UdpSocket::bind(addr)
                .map(OwnedFd::from)
                .and_then(|u| Ok((u, OwnedFd::from(std::net::TcpListener::bind(addr)?))));
            match socks {
                Ok((udp, tcp)) => {
                    for fd in [udp, tcp] {
                        if proto::send(ctl.as_fd(), &Msg::Resolver, Some(fd.as_fd())).is_err() {
                            sys::exit_now(125);
                        }
                    }
                }
                Err(e) => fail(format!("bind the sandbox's resolver at {addr}: {e}")),
            }
        }
    }
    if let Some(h) = plan.container.as_ref().and_then(|c| c.hostname.as_deref()) {
        if let Err(e) = nix::unistd::sethostname(h) {
            fail(format!("hostname {h:?}: {}", e.desc()));
        }
    }
    let tmp = match build_view(&plan) {
        Ok(t) => t,
        Err(e) => fail(e),
    };
    if proto::send(ctl.as_fd(), &Msg::Mounted, Some(tmp.as_fd())).is_err() {
        sys::exit_now(125);
    }
    drop(tmp);
    // The delegation endpoint, bound in the sandbox's network namespace (abstract names are per namespace), handed
    // to the sentry, which serves it. Without one the sandbox simply cannot delegate. Never in the host's network
    // namespace (`--net host`): an abstract name there is reachable by every host process.
    let endpoint = if plan.own_netns {
        super::delegate::bind_endpoint().ok()
    } else {
        None
    };
    if proto::send(
        ctl.as_fd(),
        &Msg::Delegate,
        endpoint.as_ref().map(AsFd::as_fd),
    )
    .is_err()
    {
        sys::exit_now(125);
    }
    drop(endpoint);
    // The answer carries the agent's terminal (a pty slave of the sandbox's devpts), when it gets one.
    let tty = match proto::recv(ctl.as_fd()) {
        Ok((Msg::Viewed, tty)) => tty,
        _ => sys::exit_now(125),
    };
    let agent = match sys::fork() {
        Ok(0) => agent_main(ctl.as_fd(), &plan, tty.as_ref()),
        Ok(pid) => pid,
        Err(e) => fail(format!("fork agent: {}", e.desc())),
    };
    drop(plan);
    drop(tty);
    init_main(ctl, agent)
}

/// pid 1: no capabilities, not dumpable, reaps everything; reports the agent's status and exits, which makes the
/// kernel kill whatever is left in the namespace.
fn init_main(ctl: OwnedFd, agent: libc::pid_t) -> ! {
    sys::close_from_except(3, ctl.as_raw_fd());
    let _ = sys::prctl(libc::PR_SET_DUMPABLE, 0);
    let _ = sys::drop_all_caps();
    loop {
        match sys::wait_any() {
            Ok((pid, status)) if pid == agent => {
                let _ = proto::send(ctl.as_fd(), &Msg::Exited(status), None);
                sys::exit_now(0);
            }
            Ok(_) => {}
            Err(Errno::EINTR) => {}
            Err(_) => sys::exit_now(0),
        }
    }
}

/// The agent, between fork and exec.
fn agent_main(ctl: BorrowedFd<'_>, plan: &Plan, tty: Option<&OwnedFd>) -> ! {
    let fail = |msg: String| -> ! {
        let _ = proto::send(ctl, &Msg::Error(msg), None);
        sys::exit_now(125)
    };
    if let Err(e) = nix::unistd::setsid() {
        fail(format!("setsid: {}", e.desc()));
    }
    // A fresh session keyring: nothing the invoking session holds (credentials cached by keyutils, krb5, ...) is
    // reachable, even before the filter refuses keyctl itself.
    if let Err(e) = sys::join_session_keyring() {
        fail(format!("session keyring: {}", e.desc()));
    }
    if let Some(tty) = tty {
        if let Err(e) = sys::set_controlling_tty(tty.as_fd()) {
            fail(format!("controlling terminal: {}", e.desc()));
        }
        for n in 0..3 {
            if let Err(e) = nix::unistd::dup2(tty.as_raw_fd(), n) {
                fail(format!("terminal fd {n}: {}", e.desc()));
            }
        }
    }
    // A directory inherited as stdin/stdout/stderr would let a native fchdir leave the view: /dev/null instead.
    for n in 0..3 {
        let is_dir =
            nix::sys::stat::fstat(n).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
        if is_dir {
            match sys::open_abs(c"/dev/null", libc::O_RDWR) {
                Ok(null) => {
                    if nix::unistd::dup2(null.as_raw_fd(), n).is_err() {
                        fail(format!("replace directory fd {n}"));
                    }
                }
                Err(e) => fail(format!("/dev/null: {}", e.desc())),
            }
        }
    }
    if let Err(e) = nix::unistd::chdir(plan.workdir.as_os_str()) {
        fail(format!(
            "working directory {}: {} (is it granted?)",
            plan.workdir.display(),
            e.desc()
        ));
    }
    sys::reset_signals();
    if let Some(c) = &plan.container {
        if let Some(m) = c.umask {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(m));
        }
    }
    let own = plan
        .container
        .as_ref()
        .map(|c| c.rlimits.as_slice())
        .unwrap_or_default();
    for (r, soft, hard) in own.iter().chain(&plan.rlimits) {
        if let Err(e) = nix::sys::resource::setrlimit(*r, *soft, *hard) {
            fail(format!("budget {r:?}: {}", e.desc()));
        }
    }
    // A container keeps CAP_SETUID and CAP_SETGID until its spawner is forked (which needs them to start processes
    // as another user); the agent then becomes the container's user and drops them before exec (`hold_then_exec`).
    let keep: &[u32] = if plan.container.is_some() {
        // CAP_SETGID (6) and CAP_SETUID (7).
        &[6, 7]
    } else {
        &[]
    };
    if let Err(e) = sys::drop_caps_except(keep) {
        fail(format!("drop capabilities: {}", e.desc()));
    }
    if let Err(e) = super::landlock::restrict(plan) {
        fail(e);
    }
    // The spawner's socket, handed to the sentry while sendmsg still runs natively.
    let spawner = match plan.container.as_ref().filter(|c| c.spawner) {
        Some(_) => match nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::SeqPacket,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        ) {
            Ok((ours, theirs)) => {
                if proto::send(ctl, &Msg::Spawner, Some(theirs.as_fd())).is_err() {
                    sys::exit_now(125);
                }
                Some(ours)
            }
            Err(e) => fail(format!("spawner socket: {}", e.desc())),
        },
        None => None,
    };
    if plan.ptrace {
        traced_exec(ctl, plan, spawner)
    }
    let listener = match platform_seccomp::install(&plan.filters, true) {
        Ok(Some(l)) => l,
        Ok(None) => fail("seccomp: no listener".into()),
        Err(e) => fail(format!("install seccomp filter: {}", e.desc())),
    };
    let at = u32::try_from(listener.as_raw_fd()).unwrap_or(u32::MAX);
    if proto::send_plain(ctl, &Msg::ListenerAt(at)).is_err() {
        sys::exit_now(125);
    }
    // Wait until the sentry holds its own copy before closing ours.
    if proto::recv_plain(ctl) != Ok(Msg::Ack) {
        sys::exit_now(125);
    }
    drop(listener);
    hold_then_exec(ctl, plan, spawner)
}

/// A container's agent: fork the spawner (it shares the agent's filter), then wait for `Start` before exec.
fn hold_then_exec(ctl: BorrowedFd<'_>, plan: &Plan, spawner: Option<OwnedFd>) -> ! {
    if let Some(sock) = spawner {
        // CLONE_PARENT: the spawner is the sandbox init's child, not the agent's, so the container's process never
        // sees a child it did not make.
        match sys::fork_into_namespaces(libc::CLONE_PARENT) {
            Ok(0) => super::spawner::main(sock),
            Ok(_) => drop(sock),
            Err(e) => {
                let _ =
                    proto::send_plain(ctl, &Msg::Error(format!("fork the spawner: {}", e.desc())));
                sys::exit_now(125);
            }
        }
    }
    if let Some(c) = &plan.container {
        if let Err(e) = super::spawner::become_user(c.uid, c.gid, &c.groups) {
            let _ = proto::send_plain(ctl, &Msg::Error(e));
            sys::exit_now(125);
        }
    }
    if plan.container.as_ref().is_some_and(|c| c.hold) {
        // `sentry create` ends here; `sentry start` sends Start. Anything else (the sentry gone) ends the agent.
        if proto::recv_plain(ctl) != Ok(Msg::Start) {
            sys::exit_now(125);
        }
    }
    sys::close_from(3);
    exec_agent(plan)
}

/// The ptrace platform's end of start-up: traced first, then filtered, then exec.
fn traced_exec(ctl: BorrowedFd<'_>, plan: &Plan, spawner: Option<OwnedFd>) -> ! {
    if proto::send(ctl, &Msg::Seize, None).is_err() {
        sys::exit_now(125);
    }
    // The sentry's tracer has seized us when it answers.
    if !matches!(proto::recv(ctl), Ok((Msg::Ack, None))) {
        sys::exit_now(125);
    }
    if let Err(e) = platform_seccomp::install(&plan.filters, false) {
        let _ = proto::send_plain(
            ctl,
            &Msg::Error(format!("install seccomp filter: {}", e.desc())),
        );
        sys::exit_now(125);
    }
    if proto::send_plain(ctl, &Msg::Filtered).is_err() {
        sys::exit_now(125);
    }
    if proto::recv_plain(ctl) != Ok(Msg::Ack) {
        sys::exit_now(125);
    }
    hold_then_exec(ctl, plan, spawner)
}

fn exec_agent(plan: &Plan) -> ! {
    // From here every syscall is filtered; execve itself is checked by the sentry.
    let e = if plan.container.as_ref().is_some_and(|c| c.search_path) {
        super::spawner::execvpe(&plan.program, &plan.argv, &plan.env)
    } else {
        sys::execve(&plan.program, &plan.argv, &plan.env)
    };
    let name = OsStr::from_bytes(plan.program.as_bytes())
        .to_string_lossy()
        .into_owned();
    let msg = format!("sentry: {name}: {}\n", e.desc());
    let _ = nix::unistd::write(std::io::stderr(), msg.as_bytes());
    sys::exit_now(if e == Errno::ENOENT { 127 } else { 126 })
}
