//! The sandbox's side of start-up, run in the child of `clone(CLONE_NEW*)`: the sandbox init (pid 1 of the new pid
//! namespace) builds the agent's mount view, forks the agent, and reaps. The agent drops everything, installs the
//! filter, hands the listener to the sentry and execs.
//!
//! This runs in a fork of the single-threaded sentry, so ordinary Rust (allocation included) is safe here. Errors
//! are sent to the sentry as text and end the child: the sentry reports them.

#![forbid(unsafe_code)]

use std::ffi::{CString, OsStr};
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
    pub exec: bool,
    /// The host path is a symlink: recreate it instead of binding.
    pub symlink: Option<PathBuf>,
    pub is_dir: bool,
}

/// Everything the child needs, prepared by the sentry before the clone.
#[derive(Debug)]
pub struct Plan {
    pub binds: Vec<Bind>,
    /// Literal deny paths that exist: masked with empty read-only mounts. (path, is_dir)
    pub masks: Vec<(PathBuf, bool)>,
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

fn mkdir_p(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("mkdir {}: {e}", p.display()))
}

/// A sandbox path under the private tmpfs, as a path relative to the tmpfs root (its layout mirrors /tmp, /dev/shm).
fn in_private_tmp(p: &Path) -> Option<PathBuf> {
    if p.starts_with("/tmp") || p.starts_with("/dev/shm") {
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
        if last && !is_dir {
            let fd = nix::fcntl::openat(
                Some(dir.as_raw_fd()),
                cp.as_c_str(),
                nix::fcntl::OFlag::O_CREAT
                    | nix::fcntl::OFlag::O_WRONLY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::from_bits_truncate(0o644),
            )
            .map_err(|e| format!("mountpoint {}: {}", cur.display(), e.desc()))?;
            drop(sys::own_fd(fd));
        } else if last && link.is_some() {
            let l = cs(link.unwrap_or(Path::new(""))).map_err(|e| e.to_string())?;
            match nix::unistd::symlinkat(l.as_c_str(), Some(dir.as_raw_fd()), cp.as_c_str()) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(format!("symlink {}: {}", cur.display(), e.desc())),
            }
        } else {
            match nix::sys::stat::mkdirat(
                Some(dir.as_raw_fd()),
                cp.as_c_str(),
                nix::sys::stat::Mode::from_bits_truncate(0o755),
            ) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(format!("mountpoint {}: {}", cur.display(), e.desc())),
            }
        }
    }
    Ok(())
}

/// Builds the view under BASE and pivots into it. Returns the writable private tmpfs.
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
            sys::open_abs_nosymlinks(&cs(&b.path).map_err(|e| e.to_string())?, libc::O_PATH),
            || format!("open {}", b.path.display()),
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
    // The private tmpfs: /tmp and /dev/shm. Its layout mirrors the sandbox paths, so the paths the kernel reports
    // for files the sentry opens on it (which /proc/self/fd shows) are the sandbox's.
    let size = CString::new(plan.tmp_size.to_string()).map_err(|e| e.to_string())?;
    let tmp = ctx(
        sys::new_fs(c"tmpfs", &[(c"mode", c"0755"), (c"size", size.as_c_str())]),
        || "private tmpfs".into(),
    )?;
    for d in [c"tmp", c"dev", c"dev/shm"] {
        ctx(
            nix::sys::stat::mkdirat(
                Some(tmp.as_raw_fd()),
                d,
                nix::sys::stat::Mode::from_bits_truncate(0o755),
            ),
            || "tmpfs dirs".into(),
        )?;
    }
    for d in [c"tmp", c"dev/shm"] {
        ctx(
            nix::sys::stat::fchmodat(
                Some(tmp.as_raw_fd()),
                d,
                nix::sys::stat::Mode::from_bits_truncate(0o1777),
                nix::sys::stat::FchmodatFlags::NoFollowSymlink,
            ),
            || "tmpfs mode".into(),
        )?;
    }
    mkdir_p(&under_base(Path::new("/tmp")))?;
    let t = ctx(sys::clone_tree(tmp.as_fd(), c"tmp"), || "clone /tmp".into())?;
    ctx(sys::mount_setattr(t.as_fd(), ro, 0, true), || {
        "read-only /tmp".into()
    })?;
    ctx(sys::attach(t.as_fd(), c"/tmp/tmp"), || "attach /tmp".into())?;

    // /dev: a few host devices bound in, the usual links, /dev/shm.
    mkdir_p(&under_base(Path::new("/dev")))?;
    let dev = ctx(
        sys::new_fs(c"tmpfs", &[(c"mode", c"0755"), (c"size", c"64k")]),
        || "dev tmpfs".into(),
    )?;
    ctx(sys::attach(dev.as_fd(), c"/tmp/dev"), || {
        "attach /dev".into()
    })?;
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        let target = PathBuf::from("/tmp/dev").join(name);
        std::fs::File::create(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        let n = CString::new(name).map_err(|e| e.to_string())?;
        let tree = ctx(sys::clone_tree(host_dev.as_fd(), &n), || {
            format!("clone /dev/{name}")
        })?;
        ctx(
            sys::mount_setattr(
                tree.as_fd(),
                sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC,
                sys::MOUNT_ATTR_NODEV,
                true,
            ),
            || format!("/dev/{name} flags"),
        )?;
        ctx(
            sys::attach(tree.as_fd(), &cs(&target).map_err(|e| e.to_string())?),
            || format!("bind /dev/{name}"),
        )?;
    }
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(to, PathBuf::from("/tmp/dev").join(link))
            .map_err(|e| format!("/dev/{link}: {e}"))?;
    }
    // The sandbox's own devpts instance: ptys the agent opens (and its terminal, which the sentry creates here)
    // never touch the host's.
    mkdir_p(Path::new("/tmp/dev/pts"))?;
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
    ctx(sys::attach(pts.as_fd(), c"/tmp/dev/pts"), || {
        "attach /dev/pts".into()
    })?;
    std::os::unix::fs::symlink("pts/ptmx", "/tmp/dev/ptmx")
        .map_err(|e| format!("/dev/ptmx: {e}"))?;
    mkdir_p(Path::new("/tmp/dev/shm"))?;
    let shm = ctx(sys::clone_tree(tmp.as_fd(), c"dev/shm"), || {
        "clone /dev/shm".into()
    })?;
    ctx(sys::mount_setattr(shm.as_fd(), ro, 0, true), || {
        "read-only /dev/shm".into()
    })?;
    ctx(sys::attach(shm.as_fd(), c"/tmp/dev/shm"), || {
        "attach /dev/shm".into()
    })?;
    ctx(
        sys::mount_setattr(
            dev.as_fd(),
            sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC,
            0,
            false,
        ),
        || "read-only /dev".into(),
    )?;

    for (b, src) in plan.binds.iter().zip(&sources) {
        let target = under_base(&b.path);
        if let Some(rel) = in_private_tmp(&b.path) {
            // The view's /tmp is a read-only clone of the private tmpfs: make the mountpoint on its writable side.
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
            if let Some(parent) = target.parent() {
                mkdir_p(parent)?;
            }
            if std::fs::symlink_metadata(&target).is_err() {
                std::os::unix::fs::symlink(link, &target)
                    .map_err(|e| format!("symlink {}: {e}", target.display()))?;
            }
            continue;
        }
        if b.is_dir {
            if !target.exists() {
                mkdir_p(&target)?;
            }
        } else if !target.exists() {
            if let Some(parent) = target.parent() {
                mkdir_p(parent)?;
            }
            std::fs::File::create(&target)
                .map_err(|e| format!("mountpoint {}: {e}", target.display()))?;
        }
        let Some(src) = src else { continue };
        let tree = ctx(sys::clone_tree(src.as_fd(), c""), || {
            format!("clone {}", b.path.display())
        })?;
        let attrs = if b.exec {
            ro
        } else {
            ro | sys::MOUNT_ATTR_NOEXEC
        };
        ctx(sys::mount_setattr(tree.as_fd(), attrs, 0, true), || {
            format!("read-only {}", b.path.display())
        })?;
        ctx(
            sys::attach(tree.as_fd(), &cs(&target).map_err(|e| e.to_string())?),
            || format!("bind {}", b.path.display()),
        )?;
    }

    // Deny holes: an empty read-only directory or file over each.
    if !plan.masks.is_empty() {
        let empty = ctx(
            sys::new_fs(c"tmpfs", &[(c"mode", c"0000"), (c"size", c"4k")]),
            || "mask tmpfs".into(),
        )?;
        let f = ctx(
            nix::fcntl::openat(
                Some(empty.as_raw_fd()),
                c"f",
                nix::fcntl::OFlag::O_CREAT
                    | nix::fcntl::OFlag::O_WRONLY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            ),
            || "mask file".into(),
        )?;
        drop(sys::own_fd(f));
        ctx(
            nix::sys::stat::mkdirat(Some(empty.as_raw_fd()), c"d", nix::sys::stat::Mode::empty()),
            || "mask dir".into(),
        )?;
        for (path, is_dir) in &plan.masks {
            let target = under_base(path);
            if std::fs::symlink_metadata(&target).is_err() {
                continue;
            }
            let tree = ctx(
                sys::clone_tree(empty.as_fd(), if *is_dir { c"d" } else { c"f" }),
                || "mask clone".into(),
            )?;
            ctx(
                sys::mount_setattr(tree.as_fd(), ro | sys::MOUNT_ATTR_NOEXEC, 0, true),
                || "mask ro".into(),
            )?;
            ctx(
                sys::attach(tree.as_fd(), &cs(&target).map_err(|e| e.to_string())?),
                || format!("mask {}", path.display()),
            )?;
        }
    }

    // Files replaced in the view: a small read-only tmpfs file over each (a path that is not a regular file in the
    // view, such as a symlink out of it, is left alone).
    for (path, content) in &plan.overlays {
        let target = under_base(path);
        if !std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_file()) {
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
        ctx(
            sys::attach(tree.as_fd(), &cs(&target).map_err(|e| e.to_string())?),
            || format!("overlay {}", path.display()),
        )?;
    }

    // /proc of the sandbox's pid namespace.
    mkdir_p(Path::new("/tmp/proc"))?;
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
    ctx(sys::attach(proc_fs.as_fd(), c"/tmp/proc"), || {
        "attach /proc".into()
    })?;

    // Into the view: pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves the view.
    ctx(nix::unistd::chdir(BASE), || "chdir view".into())?;
    ctx(nix::unistd::pivot_root(".", "."), || "pivot_root".into())?;
    ctx(
        nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH),
        || "detach old root".into(),
    )?;
    ctx(nix::unistd::chdir("/"), || "chdir /".into())?;
    ctx(
        sys::mount_setattr(
            root.as_fd(),
            sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
            0,
            false,
        ),
        || "read-only root".into(),
    )?;
    Ok(tmp)
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
    for (r, soft, hard) in &plan.rlimits {
        if let Err(e) = nix::sys::resource::setrlimit(*r, *soft, *hard) {
            fail(format!("budget {r:?}: {}", e.desc()));
        }
    }
    if let Err(e) = sys::drop_all_caps() {
        fail(format!("drop capabilities: {}", e.desc()));
    }
    if let Err(e) = super::landlock::restrict(plan) {
        fail(e);
    }
    if plan.ptrace {
        traced_exec(ctl, plan)
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
    sys::close_from(3);
    exec_agent(plan)
}

/// The ptrace platform's end of start-up: traced first, then filtered, then exec.
fn traced_exec(ctl: BorrowedFd<'_>, plan: &Plan) -> ! {
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
    sys::close_from(3);
    exec_agent(plan)
}

fn exec_agent(plan: &Plan) -> ! {
    // From here every syscall is filtered; execve itself is checked by the sentry.
    let e = sys::execve(&plan.program, &plan.argv, &plan.env);
    let name = OsStr::from_bytes(plan.program.as_bytes())
        .to_string_lossy()
        .into_owned();
    let msg = format!("sentry: {name}: {}\n", e.desc());
    let _ = nix::unistd::write(std::io::stderr(), msg.as_bytes());
    sys::exit_now(if e == Errno::ENOENT { 127 } else { 126 })
}
