//! The gofer's confinement, entered right after the sentry forks it into new user, mount, pid, network, ipc and uts
//! namespaces (and has written its id maps: the invoking user's own ids, so the gofer acts as the invoking user):
//!
//! 1. every fd but its socket closed; killed with the sentry (PDEATHSIG);
//! 2. each grant root cloned (`open_tree`) with `nosuid,nodev,noexec`, read-only unless the grant is writable, and
//!    attached at its own path on a small tmpfs; then `pivot_root` into that tmpfs and the old root detached: the gofer's
//!    mount namespace holds the grant roots and nothing else, and its root is then made read-only;
//! 3. no network (a network namespace with no interface up), no capabilities (every set and the bounding set
//!    cleared), `no_new_privs`;
//! 4. a seccomp allowlist of the syscalls it needs (anything else kills it: the sandbox then fails closed).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use nix::errno::Errno;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::server::{Root, State};
use crate::{sys, wire};

/// One grant root, as the gofer serves it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub path: PathBuf,
    pub writable: bool,
    /// Programs and libraries here may be executed and mapped executable (the gofer itself never executes
    /// anything: execve is not on its allowlist).
    pub exec: bool,
}

/// The first packet the gofer sends: ready, or why not.
pub const READY: &[u8] = b"READY";

fn ctx<T>(r: Result<T, Errno>, what: impl FnOnce() -> String) -> Result<T, String> {
    r.map_err(|e| format!("{}: {}", what(), e.desc()))
}

fn cs(b: &[u8]) -> Result<CString, String> {
    CString::new(b).map_err(|_| "NUL in a path".to_string())
}

/// Creates `rel` (and its parents) under `base` as a directory, or as an empty file when `dir` is false.
fn mountpoint(base: &OwnedFd, rel: &[u8], dir: bool) -> Result<(), String> {
    let mut cur: Vec<u8> = Vec::new();
    let parts: Vec<&[u8]> = rel
        .split(|&c| c == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_empty() {
            cur.push(b'/');
        }
        cur.extend_from_slice(part);
        let c = cs(&cur)?;
        let last = i + 1 == parts.len();
        sys::make_mountpoint(base.as_fd(), c.as_c_str(), dir || !last)
            .map_err(|e| format!("mountpoint {}: {}", String::from_utf8_lossy(&cur), e.desc()))?;
    }
    Ok(())
}

/// Builds the gofer's mount namespace and returns its roots, in the order of `grants`.
///
/// Each root sits at its own host path inside the gofer's (otherwise empty) root, so the path the kernel reports for
/// an fd the gofer opened (`/proc/<pid>/fd/N`, seen by the agent) is the path the agent knows it by.
fn build_roots(grants: &[Grant]) -> Result<Vec<Root>, String> {
    ctx(
        sys::mount_flags(c"/", libc::MS_REC | libc::MS_PRIVATE),
        || "make / private".into(),
    )?;
    let base = ctx(
        sys::new_fs(c"tmpfs", &[(c"mode", c"0755"), (c"size", c"1m")]),
        || "tmpfs for the gofer's root".into(),
    )?;
    let host_root = ctx(
        sys::open_abs(c"/", libc::O_PATH | libc::O_DIRECTORY),
        || "open the host's root".into(),
    )?;
    let mut trees = Vec::new();
    for g in grants {
        // No symlink anywhere on the way: grant paths are canonical, so one found now was swapped in (by an agent
        // racing a delegated child's start, say) and must not redirect the root.
        let rel = g.path.as_os_str().as_bytes();
        let rel = cs(rel.strip_prefix(b"/").unwrap_or(rel))?;
        let src = ctx(
            sys::openat2(
                host_root.as_fd(),
                if rel.as_bytes().is_empty() {
                    c"."
                } else {
                    rel.as_c_str()
                },
                libc::O_PATH | libc::O_CLOEXEC,
                0,
                sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS | sys::RESOLVE_BENEATH,
            ),
            || format!("open grant {}", g.path.display()),
        )?;
        let is_dir = nix::sys::stat::fstat(src.as_raw_fd())
            .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
            .unwrap_or(false);
        let tree = ctx(sys::clone_tree(src.as_fd(), c""), || {
            format!("clone grant {}", g.path.display())
        })?;
        let mut attrs = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
        if !g.exec {
            attrs |= sys::MOUNT_ATTR_NOEXEC;
        }
        if !g.writable {
            attrs |= sys::MOUNT_ATTR_RDONLY;
        }
        ctx(sys::mount_setattr(tree.as_fd(), attrs, 0, true), || {
            format!("restrict grant {}", g.path.display())
        })?;
        let rel = g.path.as_os_str().as_bytes();
        let rel = rel.strip_prefix(b"/").unwrap_or(rel).to_vec();
        if !rel.is_empty() {
            mountpoint(&base, &rel, is_dir)?;
        }
        trees.push((tree, rel, is_dir, g.writable));
    }
    // Attach the tmpfs over /tmp of this private namespace, then the roots inside it, outer before inner (a grant
    // inside another is attached on top of it), and make it the root.
    ctx(sys::attach(base.as_fd(), c"/tmp"), || {
        "attach the gofer's root".into()
    })?;
    let mut order: Vec<usize> = (0..trees.len()).collect();
    order.sort_by_key(|&i| {
        trees[i].1.iter().filter(|&&c| c == b'/').count() + usize::from(!trees[i].1.is_empty())
    });
    for i in order {
        let (tree, rel, _, _) = &trees[i];
        let mut to = b"/tmp/".to_vec();
        to.extend_from_slice(rel);
        ctx(sys::attach(tree.as_fd(), &cs(&to)?), || {
            format!("attach grant /{}", String::from_utf8_lossy(rel))
        })?;
    }
    ctx(nix::unistd::chdir("/tmp"), || "chdir".into())?;
    ctx(sys::pivot_here(), || "pivot_root".into())?;
    let mut roots = Vec::new();
    for (_, rel, is_dir, writable) in trees {
        let mut p = b"/".to_vec();
        p.extend_from_slice(&rel);
        let open_dir = |path: &[u8]| {
            ctx(
                sys::open_abs(&cs(path)?, libc::O_PATH | libc::O_DIRECTORY),
                || format!("open root {}", String::from_utf8_lossy(path)),
            )
        };
        roots.push(if is_dir {
            Root {
                dir: open_dir(&p)?,
                file: None,
                writable,
            }
        } else {
            // A file grant: its directory here (which holds nothing else of the host's) and its name.
            let cut = p.iter().rposition(|&c| c == b'/').unwrap_or(0);
            let parent = if cut == 0 {
                b"/".to_vec()
            } else {
                p[..cut].to_vec()
            };
            Root {
                dir: open_dir(&parent)?,
                file: Some(cs(&p[cut + 1..])?),
                writable,
            }
        });
    }
    // Its own root read-only: the gofer cannot create anything outside the grants.
    let top = ctx(
        sys::open_abs(c"/", libc::O_PATH | libc::O_DIRECTORY),
        || "open the gofer's root".into(),
    )?;
    ctx(
        sys::mount_setattr(
            top.as_fd(),
            sys::MOUNT_ATTR_RDONLY
                | sys::MOUNT_ATTR_NOSUID
                | sys::MOUNT_ATTR_NODEV
                | sys::MOUNT_ATTR_NOEXEC,
            0,
            false,
        ),
        || "read-only root".into(),
    )?;
    Ok(roots)
}

/// The syscalls the gofer may make once serving; anything else kills it.
fn allowlist() -> Vec<i64> {
    vec![
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_close,
        libc::SYS_recvmsg,
        libc::SYS_sendmsg,
        libc::SYS_openat2,
        libc::SYS_newfstatat,
        libc::SYS_fstat,
        libc::SYS_statx,
        libc::SYS_fstatfs,
        libc::SYS_readlinkat,
        libc::SYS_mkdirat,
        libc::SYS_unlinkat,
        libc::SYS_renameat2,
        libc::SYS_linkat,
        libc::SYS_symlinkat,
        452, // fchmodat2
        libc::SYS_fchownat,
        libc::SYS_utimensat,
        libc::SYS_ftruncate,
        libc::SYS_mknodat,
        libc::SYS_fsetxattr,
        libc::SYS_fgetxattr,
        libc::SYS_flistxattr,
        libc::SYS_fremovexattr,
        // Memory, threads (one per connection) and exit.
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_mprotect,
        libc::SYS_madvise,
        libc::SYS_brk,
        libc::SYS_futex,
        libc::SYS_clone3,
        libc::SYS_set_robust_list,
        libc::SYS_rseq,
        libc::SYS_sigaltstack,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigreturn,
        libc::SYS_sched_yield,
        libc::SYS_sched_getaffinity,
        libc::SYS_fcntl,
        libc::SYS_lseek,
        libc::SYS_getuid,
        libc::SYS_geteuid,
        libc::SYS_getgid,
        libc::SYS_getegid,
        libc::SYS_getrandom,
        libc::SYS_gettid,
        libc::SYS_getpid,
        libc::SYS_prctl,
        libc::SYS_exit,
        libc::SYS_exit_group,
        libc::SYS_clock_gettime,
        libc::SYS_nanosleep,
        libc::SYS_clock_nanosleep,
    ]
}

/// The gofer's filters: the allowlist (kill otherwise; clone only for threads), and clone3 answered ENOSYS (its
/// flags live in memory BPF cannot read) so that thread creation falls back to clone.
pub fn filters() -> Result<Vec<BpfProgram>, String> {
    let arch = TargetArch::x86_64;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        allowlist().into_iter().map(|n| (n, Vec::new())).collect();
    let thread = u64::try_from(libc::CLONE_THREAD).map_err(|e| e.to_string())?;
    let cond = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(thread),
        thread,
    )
    .map_err(|e| e.to_string())?;
    rules.insert(
        libc::SYS_clone,
        vec![SeccompRule::new(vec![cond]).map_err(|e| e.to_string())?],
    );
    let allow = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| e.to_string())?;
    let no_clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, Vec::new())].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(u32::try_from(libc::ENOSYS).map_err(|e| e.to_string())?),
        arch,
    )
    .map_err(|e| e.to_string())?;
    // The allowlist last: installing a filter is not on it.
    Ok(vec![
        no_clone3
            .try_into()
            .map_err(|e: seccompiler::BackendError| e.to_string())?,
        allow
            .try_into()
            .map_err(|e: seccompiler::BackendError| e.to_string())?,
    ])
}

fn confine(grants: &[Grant]) -> Result<Vec<Root>, String> {
    let roots = build_roots(grants)?;
    ctx(sys::drop_all_caps(), || "drop capabilities".into())?;
    ctx(sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1), || {
        "no_new_privs".into()
    })?;
    for f in filters()? {
        seccompiler::apply_filter(&f).map_err(|e| format!("seccomp: {e}"))?;
    }
    Ok(roots)
}

/// The gofer process's life, called in the child the sentry forked into the gofer's namespaces: wait for the
/// sentry's go (its id maps are written), confine, report ready (or why not), serve. Never returns.
pub fn child_main(sock: OwnedFd, grants: &[Grant]) -> ! {
    let _ = sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
    let _ = nix::sys::prctl::set_name(c"capvisor-gofer");
    sys::close_from_except(3, sock.as_raw_fd());
    // Nothing of the caller's terminal: stderr stays for a last word on a fatal error.
    if let Ok(null) = sys::open_abs(c"/dev/null", libc::O_RDWR) {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 0);
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
    match wire::recv(sock.as_fd()) {
        Ok(Some((b, None))) if b == b"GO" => {}
        _ => sys::exit_now(1),
    }
    let roots = match confine(grants) {
        Ok(r) => r,
        Err(m) => {
            let _ = wire::send(sock.as_fd(), format!("ERR {m}").as_bytes(), None);
            sys::exit_now(1);
        }
    };
    if wire::send(sock.as_fd(), READY, None).is_err() {
        sys::exit_now(1);
    }
    let state = Arc::new(State::new(roots));
    let ended = crate::server::serve(&state, sock);
    match ended {
        crate::server::Ended::Closed => sys::exit_now(0),
        e => {
            eprintln!("capvisor gofer: {e}");
            sys::exit_now(2)
        }
    }
}
