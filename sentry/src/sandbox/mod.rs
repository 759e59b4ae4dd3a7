//! Sandbox lifecycle on the sentry's side: prepare, clone into new namespaces, map ids, hold the view, serve
//! notifications with a worker pool, relay the terminal, forward signals, and report the agent's exit status.
//!
//! Nothing outlives the sentry: the sandbox init has PDEATHSIG=SIGKILL, and when init exits the kernel kills every
//! process of the pid namespace; the mount, network, ipc, uts and cgroup namespaces go with their last process. No
//! cgroup or file is created on the host.

#![forbid(unsafe_code)]

pub mod budget;
pub mod cgroup;
pub mod delegate;
pub mod filter;
pub mod init;
mod landlock;
pub mod proto;
pub mod spawner;
pub mod tty;

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use platform_seccomp::bpf::Trap;

use crate::audit::Audit;
use crate::kernel::Kernel;
use crate::platform::Platform;
use crate::policy::net_rules::Mode;
use crate::policy::Policy;
use crate::sys;
use crate::vfs::{GoferMount, Mount, Vfs};
use init::{Bind, Plan};
use proto::Msg;

/// Why a sandbox could not run. The CLI maps these to exit codes.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{0}")]
    Setup(String),
    #[error("{what}: {source}")]
    Host { what: String, source: Errno },
}

fn host(what: impl Into<String>) -> impl FnOnce(Errno) -> SandboxError {
    let what = what.into();
    move |source| SandboxError::Host { what, source }
}

/// What to run and how.
#[derive(Debug)]
pub struct Spec {
    pub policy: Policy,
    pub program: CString,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    pub workdir: PathBuf,
    pub audit: Audit,
    /// seccomp user-notify or ptrace (already resolved: never `Auto`).
    pub platform: crate::platform::Choice,
    /// An OCI container's additions (`sentry create`); None for `sentry exec`.
    pub container: Option<Container>,
}

/// What an OCI container adds to a sandbox (built by `crate::oci`).
pub struct Container {
    pub plan: init::ContainerPlan,
    /// maskedPaths: hidden behind empty read-only mounts wherever they lie.
    pub hidden: Vec<PathBuf>,
    /// The destination of a sysfs mount.
    pub sysfs: Option<PathBuf>,
    /// A network namespace to join (how containerd and CNI give a pod its network) instead of a new one.
    pub netns: Option<PathBuf>,
    /// IPC and UTS namespaces to join (a pod's, as CRI asks for every app container) instead of new ones.
    pub ipc: Option<PathBuf>,
    pub uts: Option<PathBuf>,
    /// A connected console socket (`--console-socket`): the pty master goes there, the slave is the process's stdio.
    pub console: Option<OwnedFd>,
    /// `process.terminal` in the foreground (`sentry run` without a console socket): relay the caller's terminal.
    pub relay_tty: bool,
    /// process.consoleSize: (rows, columns) of the console pty.
    pub console_size: Option<(u16, u16)>,
    /// linux.cgroupsPath in every hierarchy (`cgroup::container_dirs`): the sandbox joins each one its budget
    /// cgroups do not already lie in.
    pub cgroups: Vec<PathBuf>,
    /// The supervisor's callbacks.
    pub events: Box<dyn Supervisor>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container")
            .field("plan", &self.plan)
            .field("netns", &self.netns)
            .finish_non_exhaustive()
    }
}

/// A created container, held before its first instruction: the means to start it and to exec into it.
#[derive(Debug)]
pub struct Held {
    /// The control socket to the sandbox: `Msg::Start` releases the agent.
    pub ctl: OwnedFd,
    /// The spawner's socket (seccomp platform), for `sentry exec`.
    pub spawner: Option<OwnedFd>,
    /// The view's root, for ptys of the sandbox's devpts.
    pub view_root: OwnedFd,
    /// Host pids of the sandbox init and of the container's process.
    pub init: libc::pid_t,
    pub agent: libc::pid_t,
}

/// What the OCI runtime does at the steps of a container's life.
pub trait Supervisor: Send {
    /// The sandbox is up and the process held; return an error to tear it down.
    fn created(&mut self, held: Held) -> Result<(), String>;
    /// The container's process ended with this exit code.
    fn exited(&mut self, code: i32);
}

const NS_FLAGS: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP;

/// Checks the host offers what the sandbox needs, with a message saying what is missing.
pub fn preflight(ptrace: bool) -> Result<(), SandboxError> {
    let max = std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap_or_default();
    if max.trim() == "0" {
        return Err(SandboxError::Setup(
            "user namespaces are disabled on this host (user.max_user_namespaces = 0); capvisor needs them".into(),
        ));
    }
    if let Ok(v) = std::fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone") {
        if v.trim() == "0" && !nix::unistd::geteuid().is_root() {
            return Err(SandboxError::Setup(
                "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0): run as root or enable them".into(),
            ));
        }
    }
    let actions =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    if ptrace && !actions.split_whitespace().any(|a| a == "trace") {
        return Err(SandboxError::Setup(
            "this kernel has no SECCOMP_RET_TRACE: the ptrace platform cannot run".into(),
        ));
    }
    if !ptrace && !actions.contains("user_notif") {
        return Err(SandboxError::Setup(
            "this kernel has no seccomp user notification (Linux 5.9+ with ADDFD needed)".into(),
        ));
    }
    Ok(())
}

/// The child's plan, the gofer's roots (host paths) and where the sandbox sees each root.
#[allow(clippy::type_complexity)]
fn plan(spec: &Spec) -> Result<(Plan, Vec<gofer::Grant>, Vec<PathBuf>), SandboxError> {
    let mut binds = Vec::new();
    let mut roots = Vec::new();
    let mut sandbox_paths = Vec::new();
    for g in &spec.policy.grants {
        let meta = std::fs::symlink_metadata(g.host())
            .map_err(|e| SandboxError::Setup(format!("grant {}: {e}", g.host().display())))?;
        let c = CString::new(g.host().as_os_str().as_bytes())
            .map_err(|_| SandboxError::Setup("NUL in path".into()))?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(g.host())
                .map_err(|e| SandboxError::Setup(format!("{}: {e}", g.host().display())))?;
            binds.push(Bind {
                path: g.path.clone(),
                host: g.host().to_path_buf(),
                exec: g.exec,
                symlink: Some(target),
                is_dir: false,
            });
            continue;
        }
        drop(c);
        sandbox_paths.push(g.path.clone());
        roots.push(gofer::Grant {
            path: g.host().to_path_buf(),
            writable: g.write,
            exec: g.exec,
        });
        binds.push(Bind {
            path: g.path.clone(),
            host: g.host().to_path_buf(),
            exec: g.exec,
            symlink: None,
            is_dir: meta.is_dir(),
        });
    }
    // A literal deny inside a grant that exists on the host (under the grant's host path) is masked in the view.
    let masks = spec
        .policy
        .literal_denies()
        .filter_map(|p| {
            let g = spec
                .policy
                .grants
                .iter()
                .filter(|g| p.starts_with(&g.path) && p != g.path)
                .max_by_key(|g| g.path.as_os_str().len())?;
            let host = g.host().join(p.strip_prefix(&g.path).ok()?);
            std::fs::symlink_metadata(host)
                .is_ok()
                .then(|| p.to_path_buf())
        })
        .collect();
    let ptrace = spec.platform == crate::platform::Choice::Ptrace;
    let filters = filter::programs(if ptrace { Trap::Trace } else { Trap::Notify })
        .map_err(|e| SandboxError::Setup(format!("seccomp filter: {e}")))?;
    Ok((
        Plan {
            binds,
            masks,
            tmp_size: spec.policy.tmp_size,
            workdir: spec.workdir.clone(),
            program: spec.program.clone(),
            argv: spec.argv.clone(),
            env: spec.env.clone(),
            filters,
            ptrace,
            rlimits: vec![],
            own_netns: spec.policy.net.mode != Mode::Host,
            resolver: spec.policy.net.mode == Mode::Sandbox,
            overlays: if spec.policy.net.mode == Mode::Sandbox {
                vec![(
                    PathBuf::from("/etc/resolv.conf"),
                    crate::net::dns::RESOLV_CONF.as_bytes().to_vec(),
                )]
            } else {
                vec![]
            },
            scratch: spec.policy.scratch.clone(),
            hidden: spec
                .container
                .as_ref()
                .map(|c| c.hidden.clone())
                .unwrap_or_default(),
            sysfs: spec.container.as_ref().and_then(|c| c.sysfs.clone()),
            container: None,
        },
        roots,
        sandbox_paths,
    ))
}

fn write_id_maps(pid: libc::pid_t) -> Result<(), SandboxError> {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    // Root maps the whole id range onto itself (files keep their owners); a user maps only itself.
    let (umap, gmap) = if uid == 0 {
        (
            "0 0 4294967295\n".to_string(),
            "0 0 4294967295\n".to_string(),
        )
    } else {
        (format!("{uid} {uid} 1\n"), format!("{gid} {gid} 1\n"))
    };
    let w = |file: &str, v: &str| {
        std::fs::write(format!("/proc/{pid}/{file}"), v)
            .map_err(|e| SandboxError::Setup(format!("write {file}: {e}")))
    };
    w("uid_map", &umap)?;
    if uid != 0 {
        w("setgroups", "deny")?;
    }
    w("gid_map", &gmap)
}

/// Runs the sandbox to completion and returns the exit code to report (the agent's, or 128+N when killed by N).
pub fn run(mut spec: Spec) -> Result<i32, SandboxError> {
    let ptrace = spec.platform == crate::platform::Choice::Ptrace;
    preflight(ptrace)?;
    let container = spec.container.is_some();
    // A container's terminal is the console socket's business, or the caller's only when it runs in the foreground.
    let interactive =
        spec.container.as_ref().is_none_or(|c| c.relay_tty) && tty::Terminal::wanted();
    spec.policy.ptys = true;
    if let Some(d) = spec.policy.controls.limits.disk {
        // The disk budget bounds the private tmpfs too.
        spec.policy.tmp_size = spec.policy.tmp_size.min(d);
    }
    let mut budget = budget::Budget::prepare_with(
        &spec.policy.controls.limits,
        &spec.policy.controls.cgroup_parents,
        spec.policy.controls.cgroup_always,
    );
    spec.policy.controls.cgroup_dirs = budget.cgroup_dirs();
    // Announce the delegation endpoint (see `delegate`); there is none in the host's network namespace.
    spec.env
        .retain(|v| container || !v.as_bytes().starts_with(b"SENTRY_SOCKET="));
    if spec.policy.net.mode != Mode::Host && !container {
        if let Ok(e) = CString::new(format!("SENTRY_SOCKET={}", delegate::ENDPOINT_SHOWN)) {
            spec.env.push(e);
        }
    }
    let (mut plan, roots, sandbox_paths) = plan(&spec)?;
    plan.rlimits.clone_from(&budget.rlimits);
    plan.container = spec.container.as_mut().map(|c| std::mem::take(&mut c.plan));
    if let Some(c) = plan.container.as_mut() {
        c.spawner = true;
    }
    // A pod's network namespace (made by containerd and CNI): joined while the sentry is still single-threaded and
    // before the sandbox's user namespace exists, so the sandbox lives in it and the sentry's mediated connects leave
    // from it.
    let mut joined = 0;
    if let Some(c) = spec.container.as_ref() {
        for (ns, flag, what) in [
            (&c.netns, libc::CLONE_NEWNET, "network"),
            (&c.ipc, libc::CLONE_NEWIPC, "ipc"),
            (&c.uts, libc::CLONE_NEWUTS, "uts"),
        ] {
            let Some(ns) = ns else { continue };
            let f = std::fs::File::open(ns).map_err(|e| {
                SandboxError::Setup(format!("{what} namespace {}: {e}", ns.display()))
            })?;
            nix::sched::setns(f, nix::sched::CloneFlags::from_bits_retain(flag)).map_err(|e| {
                SandboxError::Setup(format!(
                    "join {what} namespace {}: {}",
                    ns.display(),
                    e.desc()
                ))
            })?;
            joined |= flag;
        }
    }
    // A hostname in a joined UTS namespace: only the one it already has (the pod's), which needs no change.
    if joined & libc::CLONE_NEWUTS != 0 {
        if let Some(c) = plan.container.as_mut() {
            if let Some(h) = c.hostname.take() {
                let now = nix::unistd::gethostname()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if now != h {
                    return Err(SandboxError::Setup(format!(
                        "hostname {h:?} cannot be set in a joined UTS namespace (its hostname is {now:?})"
                    )));
                }
            }
        }
    }
    // The gofer first, while the sentry is still single-threaded: it holds the grant roots, and nothing here touches
    // a host file of the sandbox's after this.
    let gofer = Arc::new(
        gofer::spawn(&roots, |pid| write_id_maps(pid).map_err(|e| e.to_string()))
            .map_err(SandboxError::Setup)?,
    );
    let (ours, theirs) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::SeqPacket,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(host("socketpair"))?;

    // The sentry is single-threaded up to here, which makes the fork in the clone safe.
    let ns_flags = if spec.policy.net.mode == Mode::Host {
        // `--net host`: the host's network namespace; every connect is decided and performed by the sentry.
        NS_FLAGS & !libc::CLONE_NEWNET
    } else {
        NS_FLAGS
    } & !joined;
    let child = sys::fork_into_namespaces(ns_flags).map_err(|e| match e {
        Errno::EPERM | Errno::ENOSPC | Errno::EUSERS => SandboxError::Setup(format!(
            "cannot create the sandbox's namespaces ({}): user namespaces may be restricted on this host",
            e.desc()
        )),
        e => SandboxError::Host { what: "clone".into(), source: e },
    })?;
    if child == 0 {
        drop(ours);
        init::child_main(theirs, plan);
    }
    drop(theirs);
    drop(plan);
    // Creations done for the agent get the agent's umask applied explicitly.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());

    let fail = |e: SandboxError| {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child), Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
        e
    };
    write_id_maps(child).map_err(fail)?;
    // Into the sandbox's cgroups before the init starts anything.
    budget.attach(child);
    if let Some(c) = &spec.container {
        for note in cgroup::join_container(&c.cgroups, &budget.cgroup_dirs(), child) {
            spec.audit.lifecycle(
                "integrity",
                serde_json::json!({ "event": "cgroup", "note": note }),
            );
        }
    }
    proto::send(ours.as_fd(), &Msg::Go, None).map_err(|e| fail(host("start sandbox")(e)))?;
    let mut resolver = Vec::new();
    let mut first = proto::recv(ours.as_fd());
    while let Ok((Msg::Resolver, Some(fd))) = first {
        resolver.push(fd);
        first = proto::recv(ours.as_fd());
    }
    let tmp = match first {
        Ok((Msg::Mounted, Some(fd))) => fd,
        Ok((Msg::Error(m), _)) => return Err(fail(SandboxError::Setup(m))),
        Ok(_) | Err(_) => {
            return Err(fail(SandboxError::Setup(
                "sandbox init died during set-up".into(),
            )))
        }
    };
    let endpoint = match proto::recv(ours.as_fd()) {
        Ok((Msg::Delegate, fd)) => fd,
        _ => {
            return Err(fail(SandboxError::Setup(
                "sandbox init died during set-up".into(),
            )))
        }
    };
    let root_path = CString::new(format!("/proc/{child}/root"))
        .map_err(|_| SandboxError::Setup("path".into()))?;
    let view_root = sys::open_abs(&root_path, libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| fail(host("open the view")(e)))?;
    // The agent's terminal: a pty of the sandbox's own devpts, relayed to ours.
    let term = if interactive {
        Some(tty::Terminal::open(view_root.as_fd()).map_err(|e| fail(host("terminal")(e)))?)
    } else {
        None
    };
    let mut slave = term
        .as_ref()
        .map(tty::Terminal::slave)
        .transpose()
        .map_err(|e| fail(host("terminal")(e)))?;
    // A container with `terminal: true`: a pty of the sandbox's devpts, its master sent to the console socket.
    let mut console_path = None;
    if let Some(sock) = spec.container.as_ref().and_then(|c| c.console.as_ref()) {
        let (master, s, path) =
            tty::pty_pair(view_root.as_fd()).map_err(|e| fail(host("console pty")(e)))?;
        if let Some((rows, cols)) = spec.container.as_ref().and_then(|c| c.console_size) {
            let _ = sys::set_winsize(master.as_fd(), rows, cols);
        }
        tty::send_console(sock.as_fd(), &path, master.as_fd())
            .map_err(|e| fail(host("send the pty to the console socket")(e)))?;
        slave = Some(s);
        console_path = Some(path);
    }
    proto::send(ours.as_fd(), &Msg::Viewed, slave.as_ref().map(AsFd::as_fd))
        .map_err(|e| fail(host("start sandbox")(e)))?;
    drop(slave);
    // ptrace: the agent asks to be seized before it installs its filter, then says the filter is in place.
    // A container's spawner socket comes first (before the filter, on both platforms).
    let mut spawner = None;
    let mut next = proto::recv(ours.as_fd());
    if let Ok((Msg::Spawner, Some(fd))) = next {
        spawner = Some(fd);
        next = proto::recv(ours.as_fd());
    }
    let tracer = if ptrace {
        let t = crate::platform::Ptrace::new().map_err(|e| fail(host("start the tracer")(e)))?;
        match next {
            Ok((Msg::Seize, _)) => {
                agent_pid(child)
                    .ok_or(Errno::ESRCH)
                    .and_then(|a| t.seize(a))
                    .map_err(|e| fail(host("ptrace the agent")(e)))?;
                proto::send(ours.as_fd(), &Msg::Ack, None)
                    .map_err(|e| fail(host("start sandbox")(e)))?;
            }
            Ok((Msg::Error(m), _)) => return Err(fail(SandboxError::Setup(m))),
            Ok((Msg::Exited(s), _)) => return Ok(exit_code(s)),
            Ok(_) | Err(_) => {
                return Err(fail(SandboxError::Setup(
                    "the agent died before exec".into(),
                )))
            }
        }
        next = proto::recv(ours.as_fd());
        Some(t)
    } else {
        None
    };
    let listener = match next {
        Ok((Msg::Filtered, _)) if tracer.is_some() => {
            proto::send(ours.as_fd(), &Msg::Ack, None)
                .map_err(|e| fail(host("start sandbox")(e)))?;
            None
        }
        Ok((Msg::ListenerAt(n), _)) => {
            let fetched = agent_pid(child)
                .ok_or(Errno::ESRCH)
                .and_then(sys::pidfd_open)
                .and_then(|p| {
                    sys::pidfd_getfd(p.as_fd(), i32::try_from(n).map_err(|_| Errno::EBADF)?)
                });
            let fd = fetched.map_err(|e| fail(host("take the seccomp listener")(e)))?;
            proto::send(ours.as_fd(), &Msg::Ack, None)
                .map_err(|e| fail(host("start sandbox")(e)))?;
            Some(fd)
        }
        Ok((Msg::Error(m), _)) => return Err(fail(SandboxError::Setup(m))),
        Ok((Msg::Exited(s), _)) => return Ok(exit_code(s)),
        Ok(_) | Err(_) => {
            return Err(fail(SandboxError::Setup(
                "the agent died before exec".into(),
            )))
        }
    };
    // The gofer's roots are host paths; the sentry's mounts are where the sandbox sees them (the same path, except
    // for a grant with a source: an OCI rootfs at `/`, a bind mount at its destination).
    let mut mounts: Vec<Box<dyn Mount>> = roots
        .iter()
        .zip(&sandbox_paths)
        .zip(0..)
        .map(|((g, at), id)| {
            Box::new(GoferMount::new(
                at.clone(),
                id,
                g.writable,
                Arc::clone(&gofer),
            )) as Box<dyn Mount>
        })
        .collect();
    let tmp_root = |sub: &str| -> Result<OwnedFd, SandboxError> {
        let c = CString::new(sub).map_err(|_| SandboxError::Setup("path".into()))?;
        sys::openat2(
            tmp.as_fd(),
            &c,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
            sys::RESOLVE_BENEATH,
        )
        .map_err(host("private tmpfs"))
    };
    for path in &spec.policy.scratch {
        let sub = path.strip_prefix("/").unwrap_or(path).to_string_lossy();
        let dir = tmp_root(&sub).map_err(&fail)?;
        let id = gofer
            .add_root(dir.as_fd())
            .map_err(|e| fail(host("hand the private tmpfs to the gofer")(e)))?;
        mounts.push(Box::new(GoferMount::new(
            path.clone(),
            id,
            true,
            Arc::clone(&gofer),
        )));
    }
    budget.watch_tmp(tmp.try_clone().ok());
    drop(tmp);
    gofer
        .seal()
        .map_err(|e| fail(host("seal the gofer's roots")(e)))?;
    // The approval controller (and the control socket): after the clone, before any worker can ask.
    let c = &spec.policy.controls;
    if c.approval.mode == crate::policy::limits::OnDeny::Ask || c.control.is_some() {
        let asker = crate::policy::approval::Asker::start(
            c.approval.mode == crate::policy::limits::OnDeny::Ask,
            c.approval.timeout,
            c.control.as_deref(),
            spec.audit.share(),
            interactive,
        )
        .map_err(|e| fail(SandboxError::Setup(e)))?;
        spec.policy.controls.asker = Some(asker);
    }

    let budget_start = std::time::Instant::now();
    let platform: Box<dyn Platform> = match (tracer, listener) {
        (Some(t), _) => Box::new(t),
        (None, Some(l)) => Box::new(crate::platform::Seccomp::new(l)),
        (None, None) => return Err(fail(SandboxError::Setup("no platform".into()))),
    };
    spec.audit
        .strace_note(&format!("sentry: platform {}", platform.name()));
    let tty_path = term
        .as_ref()
        .map(|t| t.slave_path().to_path_buf())
        .or(console_path);
    spec.audit.lifecycle(
        "sandbox_start",
        serde_json::json!({
            "platform": platform.name(),
            "gofer_pid": gofer.pid(),
            "program": String::from_utf8_lossy(spec.program.as_bytes()),
            "argv": spec.argv.iter().map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned()).collect::<Vec<_>>(),
            "workdir": spec.workdir,
            "grants": spec.policy.grants.iter().map(|g| format!("{} {}", g.mode(), g.path.display())).collect::<Vec<_>>(),
            "budgets": budget.describe(),
            "parent": spec.policy.controls.parent.as_ref().map(|(p, _)| p),
        }),
    );
    if !resolver.is_empty() {
        crate::net::dns::start(
            resolver,
            spec.policy.net.clone(),
            Arc::clone(&spec.policy.resolved),
        )
        .map_err(|e| {
            fail(SandboxError::Setup(format!(
                "start the sandbox's resolver: {e}"
            )))
        })?;
    }
    resolve_rule_names(&spec.policy);
    let view_ro = spec.policy.view_ro.clone();
    let kernel = Arc::new(Kernel {
        platform,
        policy: spec.policy,
        vfs: Vfs::new(view_root, mounts, tty_path).with_view_owned(view_ro),
        audit: spec.audit,
        pool: Default::default(),
    });

    // Signals are taken by the main loop; workers inherit the blocked mask.
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGWINCH,
        Signal::SIGCHLD,
    ] {
        mask.add(s);
    }
    mask.thread_block().map_err(host("block signals"))?;
    // On ptrace, SIGCHLD stays blocked but is read by the tracer thread alone: every tracee stop raises one.
    let mut wanted = mask;
    if ptrace {
        wanted.remove(Signal::SIGCHLD);
    }
    let sigfd = SignalFd::with_flags(
        &wanted,
        nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
    )
    .map_err(host("signalfd"))?;

    crate::kernel::pool::Pool::start(&kernel);
    if let Some(ep) = endpoint {
        delegate::serve(Arc::clone(&kernel), ep, budget_start);
    }
    let agent = agent_pid(child);
    let mut events = spec.container.take().map(|c| c.events);
    if let Some(ev) = events.as_mut() {
        let held = ours
            .try_clone()
            .map_err(|_| Errno::EMFILE)
            .and_then(|ctl| {
                Ok(Held {
                    ctl,
                    spawner: spawner.take(),
                    view_root: kernel
                        .vfs
                        .view_root()
                        .try_clone_to_owned()
                        .map_err(|_| Errno::EMFILE)?,
                    init: child,
                    agent: agent.ok_or(Errno::ESRCH)?,
                })
            })
            .map_err(|e| fail(host("hold the container")(e)))?;
        ev.created(held).map_err(|e| fail(SandboxError::Setup(e)))?;
    }
    let monitor = budget.start(Arc::clone(&kernel), child, agent);
    let status = main_loop(&kernel, child, agent, &ours, &sigfd, term.as_ref(), &gofer);
    // Delegated children end with their parent, before its cgroups (which hold theirs) are removed.
    delegate::shutdown();
    monitor.finish(status);
    if let Some(a) = &kernel.policy.controls.asker {
        a.shutdown();
    }
    drop(term);
    if let Some(why) = gofer_lost(&gofer) {
        // Fail closed: the sandbox is already stopped (main_loop killed it when the gofer went away).
        kernel.audit.lifecycle(
            "integrity",
            serde_json::json!({ "event": "gofer failed; sandbox stopped", "reason": why }),
        );
        kernel.audit.lifecycle(
            "sandbox_exit",
            serde_json::json!({ "exit_code": GOFER_FAILED, "wait_status": status }),
        );
        gofer.stop();
        eprintln!(
            "sentry: the gofer (the host file server) failed: {why}; the sandbox was stopped"
        );
        if let Some(ev) = events.as_mut() {
            ev.exited(GOFER_FAILED);
        }
        return Ok(GOFER_FAILED);
    }
    match gofer.stats() {
        Ok(text) => {
            let served: serde_json::Map<String, serde_json::Value> = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .filter_map(|(k, v)| {
                    Some((
                        k.to_string(),
                        serde_json::Value::from(v.parse::<u64>().ok()?),
                    ))
                })
                .collect();
            kernel.audit.lifecycle(
                "gofer",
                serde_json::json!({ "pid": gofer.pid(), "served": served }),
            );
        }
        Err(e) => {
            kernel.audit.lifecycle(
                "integrity",
                serde_json::json!({ "event": "gofer did not answer at exit", "errno": e as i32 }),
            );
        }
    }
    gofer.stop();
    let code = exit_code(status);
    if let Some(ev) = events.as_mut() {
        ev.exited(code);
    }
    kernel.audit.lifecycle(
        "sandbox_exit",
        serde_json::json!({ "exit_code": code, "wait_status": status }),
    );
    if let Some(s) = kernel.audit.summary_text() {
        eprintln!("{s}");
    }
    // A container's stderr is its own (the logs an orchestrator keeps): the audit log says what was denied.
    if code != 0 && kernel.audit.denied_total() > 0 && !container {
        if let Some(first) = kernel.audit.first_denial() {
            eprintln!(
                "sentry: note: {} request(s) were denied by policy (first: {first}); --strace or --audit FILE shows them all",
                kernel.audit.denied_total()
            );
        }
    }
    Ok(code)
}

/// The exit code when the gofer dies or misbehaves: the sandbox was stopped, its result is not the agent's.
pub const GOFER_FAILED: i32 = 125;

/// Why the gofer is unusable, if it is: it exited, or the client gave up on it.
fn gofer_lost(g: &gofer::Client) -> Option<String> {
    if let Some(why) = g.failure() {
        return Some(why);
    }
    match sys::try_wait(g.pid()) {
        Ok(Some(st)) => Some(if libc::WIFSIGNALED(st) {
            format!("it was killed by signal {}", libc::WTERMSIG(st))
        } else {
            format!("it exited with status {}", libc::WEXITSTATUS(st))
        }),
        _ => None,
    }
}

/// In `--net host` the agent uses the host's resolver, which the sentry cannot see: the exact names of the rules are
/// looked up once here, so that connects to their addresses match them. (`*.domain` rules match only names the
/// sandbox's resolver handed out, so in host mode they match nothing; the README says so.)
fn resolve_rule_names(policy: &Policy) {
    use std::net::ToSocketAddrs;
    if policy.net.mode != Mode::Host {
        return;
    }
    for r in &policy.net.rules {
        if let Some(name) = r.exact_name() {
            if let Ok(addrs) = (name, 0u16).to_socket_addrs() {
                for a in addrs {
                    policy.resolved.remember(name, a.ip());
                }
            }
        }
    }
}

/// The agent's pid (in the sentry's namespace): the sandbox init's only child.
fn agent_pid(init: libc::pid_t) -> Option<libc::pid_t> {
    sys::children(init).first().copied()
}

/// Waits for the sandbox to end, forwarding signals and relaying the terminal. Returns the agent's wait status.
fn main_loop(
    k: &Kernel,
    init: libc::pid_t,
    agent: Option<libc::pid_t>,
    ctl: &OwnedFd,
    sigfd: &SignalFd,
    term: Option<&tty::Terminal>,
    gofer: &gofer::Client,
) -> i32 {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut status: Option<i32> = None;
    let mut relay = term.map(tty::Relay::new);
    loop {
        let mut fds = vec![
            PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(ctl.as_fd(), PollFlags::POLLIN),
            PollFd::new(gofer.pidfd(), PollFlags::POLLIN),
        ];
        if let Some(r) = &relay {
            fds.extend(r.poll_fds());
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            while let Ok(Some(info)) = sigfd.read_signal() {
                let sig = i32::try_from(info.ssi_signo).unwrap_or(0);
                match Signal::try_from(sig) {
                    Ok(Signal::SIGCHLD) => {}
                    Ok(Signal::SIGWINCH) => {
                        if let Some(r) = &relay {
                            r.resize();
                        }
                    }
                    Ok(s) => {
                        if let Some(a) = agent {
                            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(a), s);
                        }
                    }
                    Err(_) => {}
                }
            }
        }
        if ready[1] {
            match proto::recv(ctl.as_fd()) {
                Ok((Msg::Exited(s), _)) => status = Some(s),
                Ok(_) => {}
                Err(_) => {
                    // The init is gone: collect it below.
                }
            }
        }
        if ready[2] {
            // The gofer is gone (died, or killed by the client for misbehaving): stop the sandbox now. In-flight calls
            // already got EIO; nothing the agent does from here reaches the host.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(init), Signal::SIGKILL);
            let why = gofer_lost(gofer).unwrap_or_else(|| "it exited".into());
            gofer.fail(&why);
            if let Ok(s) = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(init), None) {
                let raw = match s {
                    nix::sys::wait::WaitStatus::Signaled(_, sig, _) => sig as i32,
                    nix::sys::wait::WaitStatus::Exited(_, c) => c << 8,
                    _ => libc::SIGKILL,
                };
                status = status.or(Some(raw));
            }
            break;
        }
        if let Some(r) = &mut relay {
            r.pump(&ready[3..]);
        }
        if let Ok(Some(s)) = sys::try_wait(init) {
            if status.is_none() {
                // init died without reporting: killed from outside, or set-up failed late.
                k.audit.lifecycle(
                    "integrity",
                    serde_json::json!({ "event": "sandbox init exited unexpectedly", "status": s }),
                );
                status = Some(s);
            }
            break;
        }
    }
    if let Some(r) = &mut relay {
        r.drain();
    }
    status.unwrap_or(libc::SIGKILL)
}

/// A raw wait status as a shell reports it: the exit code, or 128+N when killed by signal N.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        125
    }
}

/// Is `p` inside some grant of the policy (for the CLI's early program check)?
pub fn in_view(policy: &Policy, p: &Path) -> bool {
    policy.grants.iter().any(|g| p.starts_with(&g.path))
}
