//! `sentry` as an OCI runtime: runc's commands and flags, so containerd's runc shim (`io.containerd.runc.v2` with
//! `BinaryName` = sentry) and anything else that drives runc can drive capvisor.
//!
//! One container is one sandbox. `create` forks a **supervisor** (the sentry of that sandbox) which sets it up (gofer,
//! view, filter) and holds the container's process before its first instruction; `create` returns once it is held
//! and writes the supervisor's pid to `--pid-file`. The supervisor is what the shim waits on: it exits with the
//! container process's exit status (128+N when killed by signal N). `start` tells it (over its control socket in the
//! state directory) to release the process; `exec` asks it to start another process inside (see
//! `sandbox::spawner`); `kill`, `state`, `ps` read the state directory and /proc; `delete` removes what is left.
//!
//! State lives under `--root` (default /run/capvisor), one 0700 directory per container: `state.json` (written by
//! `create` and the supervisor) and `ctl.sock`. It survives the calling process and is removed by `delete`.
//!
//! Errors are runc's: a message on stderr and, with `--log`, a line in the log (JSON with `--log-format json`, which
//! containerd reads back), exit code 1, and nothing half-created left behind.

#![forbid(unsafe_code)]

pub mod config;
mod control;
mod state;

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

pub use state::State;

/// runc's global flags (accepted everywhere, before or after the command).
#[derive(Args, Debug, Clone)]
pub struct Globals {
    /// Where container state lives (default /run/capvisor, or $XDG_RUNTIME_DIR/capvisor when not root).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Where errors and notices are logged (besides stderr).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// text or json.
    #[arg(long = "log-format", global = true, default_value = "text")]
    pub log_format: String,
    /// Accepted for runc compatibility: capvisor makes its own cgroups (see docs/kubernetes.md).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for runc compatibility (true, false or auto).
    #[arg(long, global = true, value_name = "VALUE")]
    pub rootless: Option<String>,
}

#[derive(Parser, Debug)]
#[command(
    name = "sentry",
    version,
    about = "capvisor as an OCI runtime: runc's commands, each container a capvisor sandbox"
)]
struct OciCli {
    #[command(flatten)]
    globals: Globals,
    #[command(subcommand)]
    cmd: OciCmd,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// The bundle directory (config.json and the rootfs).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the supervisor's pid here (the process to wait on).
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to send the pty master to, for `process.terminal: true`.
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Accepted for runc compatibility.
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc compatibility (every sandbox gets a fresh session keyring).
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Not supported: more fds than stdio cannot be passed in (an error when not 0).
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Subcommand, Debug)]
enum OciCmd {
    /// Create a container: set up its sandbox and hold its process before its first instruction.
    Create(CreateArgs),
    /// Start a created container's process.
    Start { id: String },
    /// Print a container's state (OCI state JSON).
    State { id: String },
    /// Send a signal to the container's process (or, with --all, to every process in it).
    Kill {
        #[arg(short, long)]
        all: bool,
        id: String,
        /// A name (TERM, SIGTERM) or number; default SIGTERM.
        signal: Option<String>,
    },
    /// Delete a stopped container (with --force, stop it first).
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Create and start a container; without --detach, wait for it and exit with its status.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's state after it exits.
        #[arg(long)]
        keep: bool,
    },
    /// Run another process in a running container.
    Exec(control::ExecArgs),
    /// The container's processes.
    Ps {
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        /// Accepted for runc compatibility (ps options).
        #[arg(trailing_var_arg = true)]
        ps_args: Vec<String>,
    },
    /// The containers under --root.
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// What this runtime supports (OCI features JSON).
    Features,
    /// Write a default config.json into the bundle.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Not supported: a sandbox cannot be frozen from outside yet.
    Pause { id: String },
    /// Not supported (see pause).
    Resume { id: String },
    /// Not supported: resources are fixed at create.
    Update {
        #[arg(short, long)]
        resources: Option<String>,
        id: String,
    },
}

/// The commands that make `sentry` an OCI runtime (besides `exec`, which is ambiguous: see `wants`).
const COMMANDS: &[&str] = &[
    "create", "start", "state", "kill", "delete", "run", "ps", "list", "features", "spec", "pause",
    "resume", "update",
];
const GLOBAL_FLAGS: &[&str] = &[
    "--root",
    "--log",
    "--log-format",
    "--systemd-cgroup",
    "--debug",
    "--rootless",
];

/// Is this command line a runc-style one? A runc command, or a runc global flag before the command; `exec` is the
/// OCI one when it names a container (`--process`, or a first argument that is a container under the root) and
/// `sentry exec -- CMD` (a sandbox of its own) otherwise.
pub fn wants(args: &[OsString]) -> bool {
    let strs: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let Some(first) = strs.first() else {
        return false;
    };
    if GLOBAL_FLAGS
        .iter()
        .any(|f| first == f || first.starts_with(&format!("{f}=")))
    {
        return true;
    }
    if COMMANDS.contains(&first.as_str()) {
        return true;
    }
    if first != "exec" {
        return false;
    }
    let rest = &strs[1..];
    if rest
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--process" || a == "-p" || a.starts_with("--process="))
    {
        return true;
    }
    // The first positional argument names an existing container.
    let positional = rest.iter().find(|a| !a.starts_with('-'));
    positional.is_some_and(|id| {
        valid_id(id).is_ok() && default_root().join(id).join("state.json").exists()
    })
}

/// runc's default root, ours.
pub fn default_root() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        PathBuf::from("/run/capvisor")
    } else {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(|d| PathBuf::from(d).join("capvisor"))
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("capvisor-{}", nix::unistd::geteuid()))
            })
    }
}

/// runc's rule for container IDs.
pub fn valid_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid container id format: {id}"))
    }
}

/// Where errors go: stderr, and the --log file in its format.
#[derive(Debug, Clone)]
pub struct Log {
    file: Option<PathBuf>,
    json: bool,
}

impl Log {
    fn new(g: &Globals) -> Self {
        Self {
            file: g.log.clone(),
            json: g.log_format == "json",
        }
    }

    pub fn write(&self, level: &str, msg: &str) {
        if let Some(f) = &self.file {
            let line = if self.json {
                serde_json::json!({
                    "level": level,
                    "msg": msg,
                    "time": state::rfc3339(std::time::SystemTime::now()),
                })
                .to_string()
            } else {
                format!(
                    "{} {level}: {msg}",
                    state::rfc3339(std::time::SystemTime::now())
                )
            };
            if let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
            {
                let _ = writeln!(file, "{line}");
            }
        }
    }

    /// An error: logged, on stderr, exit code 1.
    pub fn error(&self, msg: &str) -> i32 {
        self.write("error", msg);
        eprintln!("sentry: {msg}");
        1
    }
}

/// The runc-compatible entry point.
pub fn main(args: Vec<OsString>) -> i32 {
    let cli = match OciCli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            let _ = e.print();
            return crate::cli::EXIT_USAGE;
        }
    };
    let log = Log::new(&cli.globals);
    let root = cli.globals.root.clone().unwrap_or_else(default_root);
    let systemd = cli.globals.systemd_cgroup;
    let r = match cli.cmd {
        OciCmd::Create(a) => create(&root, &log, &a, false, systemd).map(|_| 0),
        OciCmd::Start { id } => with_id(&id).and_then(|()| control::start(&root, &id)).map(|()| 0),
        OciCmd::State { id } => with_id(&id).and_then(|()| print_state(&root, &id)).map(|()| 0),
        OciCmd::Kill { all, id, signal } => with_id(&id)
            .and_then(|()| kill(&root, &id, signal.as_deref().unwrap_or("SIGTERM"), all))
            .map(|()| 0),
        OciCmd::Delete { force, id } => with_id(&id).and_then(|()| delete(&root, &log, &id, force)).map(|()| 0),
        OciCmd::Run {
            create: a,
            detach,
            keep,
        } => run(&root, &log, &a, detach, keep, systemd),
        OciCmd::Exec(a) => with_id(&a.id).and_then(|()| control::exec(&root, &a)),
        OciCmd::Ps { format, id, .. } => with_id(&id).and_then(|()| ps(&root, &id, &format)).map(|()| 0),
        OciCmd::List { format, quiet } => list(&root, &format, quiet).map(|()| 0),
        OciCmd::Features => {
            println!("{}", features());
            Ok(0)
        }
        OciCmd::Spec { bundle } => spec(
            &bundle,
            cli.globals.rootless.as_deref() == Some("true"),
        )
        .map(|()| 0),
        OciCmd::Pause { .. } | OciCmd::Resume { .. } => {
            Err("pause and resume are not supported by capvisor".into())
        }
        OciCmd::Update { id, .. } => with_id(&id).and_then(|()| {
            Err("update is not supported by capvisor: a container's resources are fixed when it is created".into())
        }),
    };
    match r {
        Ok(code) => code,
        Err(msg) => log.error(&msg),
    }
}

fn with_id(id: &str) -> Result<(), String> {
    valid_id(id)
}

/// `create` (and the first half of `run`). Returns the supervisor's pid.
fn create(
    root: &Path,
    log: &Log,
    a: &CreateArgs,
    foreground: bool,
    systemd_cgroup: bool,
) -> Result<libc::pid_t, String> {
    valid_id(&a.id)?;
    if a.preserve_fds != 0 {
        return Err("--preserve-fds is not supported by capvisor".into());
    }
    let prepared = config::load(&a.bundle, systemd_cgroup)?;
    if prepared.terminal && a.console_socket.is_none() && !foreground {
        return Err(
            "cannot allocate tty if runc will detach without setting console socket".into(),
        );
    }
    if !prepared.terminal && a.console_socket.is_some() {
        return Err("cannot use console socket if runc will not detach or allocate tty".into());
    }
    let dir = state::make_dir(root, &a.id)?;
    // From here, any failure removes the directory.
    let cleanup = |e: String| -> String {
        let _ = std::fs::remove_dir_all(&dir);
        e
    };
    let console = match &a.console_socket {
        Some(p) => Some(control::connect_console(p).map_err(cleanup)?),
        None => None,
    };
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| cleanup(format!("pipe: {}", e.desc())))?;
    // The CLI is single-threaded here: the supervisor starts from a consistent copy.
    let pid = if foreground {
        0
    } else {
        crate::sys::fork().map_err(|e| cleanup(format!("fork: {}", e.desc())))?
    };
    if pid == 0 {
        drop(rd);
        if !foreground {
            let _ = nix::unistd::setsid();
            if console.is_some() {
                // The process's stdio is the pty; the caller's pipes must not be held open by the supervisor.
                null_stdio();
            }
        }
        let code = supervise(&dir, &a.id, prepared, console, wr, log.clone(), foreground);
        if foreground {
            return Ok(code);
        }
        crate::sys::exit_now(code);
    }
    drop(wr);
    drop(console);
    // The supervisor says "ok" once the process is held, or "error WHY"; end of file means it died.
    let answer = control::read_line(rd.as_fd());
    if answer != "ok" {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        let msg = answer
            .strip_prefix("error ")
            .map(String::from)
            .unwrap_or_else(|| "the sandbox's supervisor died during set-up".into());
        return Err(cleanup(msg));
    }
    if let Some(p) = &a.pid_file {
        write_pid_file(p, pid).map_err(cleanup)?;
    }
    Ok(pid)
}

/// Points fds 0, 1 and 2 at /dev/null (a daemon's stdio).
pub fn null_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for n in 0..3 {
            let _ = nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), n);
        }
    }
}

/// Writes a pid file atomically (runc's way: a temporary file renamed over it).
pub fn write_pid_file(p: &Path, pid: libc::pid_t) -> Result<(), String> {
    let tmp = p.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, pid.to_string())
        .and_then(|()| std::fs::rename(&tmp, p))
        .map_err(|e| format!("pid file {}: {e}", p.display()))
}

/// The supervisor: runs the sandbox; its exit code is the container's.
fn supervise(
    dir: &Path,
    id: &str,
    p: config::Prepared,
    console: Option<OwnedFd>,
    ready: OwnedFd,
    log: Log,
    foreground: bool,
) -> i32 {
    let _ = std::env::set_current_dir("/");
    let say = |fd: &OwnedFd, text: &str| {
        let _ = nix::unistd::write(fd.as_fd(), text.as_bytes());
    };
    let audit = match open_audit(dir, id, p.audit_all) {
        Ok(a) => a,
        Err(e) => {
            say(&ready, &format!("error {e}\n"));
            if foreground {
                return log.error(&e);
            }
            return 1;
        }
    };
    let mut plan = p.plan;
    plan.hold = !foreground;
    let mut st = State::new(
        id,
        dir,
        &p.bundle,
        &p.rootfs,
        &p.annotations,
        &p.oci_version,
    );
    let mut policy = p.policy;
    // linux.cgroupsPath: the sandbox's cgroups go below it (see `cgroup::container_dirs`).
    let mut made = Vec::new();
    let mut leaves = Vec::new();
    if let Some(rel) = &p.cgroup_path {
        let (dirs, created) = crate::sandbox::cgroup::container_dirs(rel);
        policy.controls.cgroup_parents.clone_from(&dirs);
        st.cgroup_leaves.clone_from(&dirs);
        if let Some(cpu) = &p.cpu {
            for note in crate::sandbox::cgroup::apply_cpu(&dirs, cpu) {
                log.write("warning", &note);
            }
        }
        leaves = dirs;
        policy.controls.cgroup_always = true;
        st.cgroups.clone_from(&created);
        made = created;
    }
    let Ok(ready_copy) = ready.try_clone() else {
        say(&ready, "error out of file descriptors\n");
        return 1;
    };
    let events = control::Supervisor::new(st, p.hooks.clone(), ready_copy, log.clone(), foreground)
        .with_oom_score_adj(p.oom_score_adj);
    let spec = crate::sandbox::Spec {
        policy,
        program: p.program,
        argv: p.argv,
        env: p.env,
        workdir: p.cwd,
        audit,
        platform: p.platform,
        container: Some(crate::sandbox::Container {
            plan,
            hidden: p.hidden,
            sysfs: p.sysfs,
            netns: p.netns,
            ipc: p.join_ipc,
            uts: p.join_uts,
            console,
            relay_tty: foreground && p.terminal,
            console_size: p.console_size,
            cgroups: leaves,
            events: Box::new(events),
        }),
    };
    let result = crate::sandbox::run(spec);
    crate::sandbox::cgroup::remove_dirs(&made);
    match result {
        Ok(code) => code,
        Err(e) => {
            // `create` is still waiting for its line: this is it (after "ok" it reads no more).
            say(&ready, &format!("error {e}\n"));
            if foreground {
                return log.error(&e.to_string());
            }
            log.write("error", &e.to_string());
            1
        }
    }
}

/// The audit log limit per container.
const AUDIT_CAP: u64 = 64 << 20;

/// The node's audit directory: `$CAPVISOR_AUDIT_DIR` (containerd's environment reaches its shims and so the runtime;
/// set it in containerd's service unit), else /var/log/capvisor. Node configuration only: a pod never names a host
/// path.
pub fn audit_dir() -> PathBuf {
    std::env::var_os("CAPVISOR_AUDIT_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/log/capvisor"))
}

/// Opens the container's audit log, `<audit dir>/<root's name>_<id>.jsonl` (the root names containerd's namespace),
/// created 0600 beneath the directory with no symlink followed: only refusals unless `all`, at most `AUDIT_CAP`.
fn open_audit(state_dir: &Path, id: &str, all: bool) -> Result<crate::audit::Audit, String> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = audit_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("audit directory {}: {e}", dir.display()))?;
    let ns = state_dir
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = format!("{ns}_{id}.jsonl");
    let d =
        std::fs::File::open(&dir).map_err(|e| format!("audit directory {}: {e}", dir.display()))?;
    let c = std::ffi::CString::new(name.clone()).map_err(|_| "audit file name".to_string())?;
    let f = crate::sys::openat2(
        d.as_fd(),
        &c,
        libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        0o600,
        crate::sys::RESOLVE_BENEATH | crate::sys::RESOLVE_NO_SYMLINKS,
    )
    .map_err(|e| format!("audit log {}/{name}: {}", dir.display(), e.desc()))?;
    let path = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&f)
    ));
    // Audit opens by path: through the fd just made, so it is the same file whatever happens to the name.
    let a = crate::audit::Audit::new(format!("oci-{id}"), Some(&path), false, false)
        .map_err(|e| format!("audit log {}/{name}: {e}", dir.display()))?;
    drop(f);
    Ok(a.bounded(!all, AUDIT_CAP))
}

/// `run`: create and start; in the foreground the supervisor is this process.
fn run(
    root: &Path,
    log: &Log,
    a: &CreateArgs,
    detach: bool,
    keep: bool,
    systemd: bool,
) -> Result<i32, String> {
    if detach {
        create(root, log, a, false, systemd)?;
        control::start(root, &a.id)?;
        return Ok(0);
    }
    let code = create(root, log, a, true, systemd)?;
    if !keep {
        let hooks = State::load(root, &a.id)
            .map(|s| (s.poststop_hooks(), s.oci_json_with_status("stopped")));
        let _ = std::fs::remove_dir_all(root.join(&a.id));
        if let Ok((hooks, st)) = hooks {
            control::run_poststop(&hooks, &st, log);
        }
    }
    Ok(code)
}

fn print_state(root: &Path, id: &str) -> Result<(), String> {
    let st = State::load(root, id)?;
    let v = st.oci_json();
    println!(
        "{}",
        serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// A signal by name (TERM, SIGTERM) or number.
pub fn parse_signal(s: &str) -> Result<nix::sys::signal::Signal, String> {
    use std::str::FromStr;
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n).map_err(|_| format!("invalid signal: {s}"));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    nix::sys::signal::Signal::from_str(&name).map_err(|_| format!("invalid signal: {s}"))
}

fn kill(root: &Path, id: &str, signal: &str, all: bool) -> Result<(), String> {
    let sig = parse_signal(signal)?;
    let st = State::load(root, id)?;
    let status = st.status();
    if status == "stopped" {
        return Err("container not running".into());
    }
    if !st.signal(sig, all) {
        return Err("container not running".into());
    }
    Ok(())
}

fn delete(root: &Path, log: &Log, id: &str, force: bool) -> Result<(), String> {
    let st = match State::load(root, id) {
        Ok(s) => s,
        Err(_) if force => {
            // Nothing to delete is fine with --force (as runc).
            let _ = std::fs::remove_dir_all(root.join(id));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let status = st.status();
    if status == "running" && !force {
        return Err(format!(
            "cannot delete container {id} that is not stopped: {status}"
        ));
    }
    st.stop_everything();
    // Normally the supervisor removed them; after it was killed, what it left: the cgroupsPath directories this
    // container made, with everything below them, and in one that existed before only the sandbox's own cgroups.
    for leaf in &st.cgroup_leaves {
        if st.cgroups.contains(leaf) {
            crate::sandbox::cgroup::remove_tree(leaf);
        } else if let Ok(rd) = std::fs::read_dir(leaf) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with("capvisor-") {
                    crate::sandbox::cgroup::remove_tree(&e.path());
                }
            }
        }
    }
    crate::sandbox::cgroup::remove_dirs(&st.cgroups);
    let hooks = st.poststop_hooks();
    let state_json = st.oci_json_with_status("stopped");
    std::fs::remove_dir_all(root.join(id)).map_err(|e| format!("remove state: {e}"))?;
    control::run_poststop(&hooks, &state_json, log);
    Ok(())
}

fn ps(root: &Path, id: &str, format: &str) -> Result<(), String> {
    let st = State::load(root, id)?;
    let pids = st.container_pids();
    match format {
        "json" => println!(
            "{}",
            serde_json::to_string(&pids).map_err(|e| e.to_string())?
        ),
        "table" => {
            println!("PID   CMD");
            for p in pids {
                let cmd = std::fs::read(format!("/proc/{p}/cmdline"))
                    .map(|c| {
                        String::from_utf8_lossy(&c)
                            .split('\0')
                            .filter(|s| !s.is_empty())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                println!("{p:<5} {cmd}");
            }
        }
        f => return Err(format!("invalid format option: {f}")),
    }
    Ok(())
}

fn list(root: &Path, format: &str, quiet: bool) -> Result<(), String> {
    let mut states = Vec::new();
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if let Ok(s) = State::load(root, &id) {
                states.push(s);
            }
        }
    }
    states.sort_by(|a, b| a.id().cmp(b.id()));
    if quiet {
        for s in &states {
            println!("{}", s.id());
        }
        return Ok(());
    }
    match format {
        "json" => {
            let v: Vec<serde_json::Value> = states.iter().map(State::list_json).collect();
            println!("{}", serde_json::to_string(&v).map_err(|e| e.to_string())?);
        }
        "table" => {
            println!("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER");
            for s in &states {
                let v = s.list_json();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    v["id"].as_str().unwrap_or(""),
                    v["pid"],
                    v["status"].as_str().unwrap_or(""),
                    v["bundle"].as_str().unwrap_or(""),
                    v["created"].as_str().unwrap_or(""),
                    v["owner"].as_str().unwrap_or("")
                );
            }
        }
        f => return Err(format!("invalid format option: {f}")),
    }
    Ok(())
}

/// `features`: the runtime-spec's features document.
pub fn features() -> String {
    let v = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["bind", "rbind", "ro", "rw", "noexec", "exec", "nosuid", "nodev", "size", "mode"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": [],
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false },
            "seccomp": { "enabled": false },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } }
        },
        "annotations": config::ANNOTATIONS.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect::<serde_json::Map<_, _>>(),
        "potentiallyUnsafeConfigAnnotations": [],
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// `spec`: runc's default config.json (rootfs at `rootfs`, `sh` on a terminal).
fn spec(bundle: &Path, rootless: bool) -> Result<(), String> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(format!("File {} exists. Remove it first", path.display()));
    }
    let s = if rootless {
        oci_spec::runtime::Spec::rootless(
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    } else {
        oci_spec::runtime::Spec::default()
    };
    let text = serde_json::to_string_pretty(&s).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}
