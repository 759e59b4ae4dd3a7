//! The supervisor's side of a container's life (state, hooks, the control socket) and the clients of that socket
//! (`start`, `exec`).
//!
//! The control socket (`<state dir>/ctl.sock`, SOCK_SEQPACKET, in a 0700 directory, and each peer's uid checked) takes
//! one request per connection: `{"op":"start"}` or `{"op":"exec","process":{...}}` with the process's stdio fds.
//! For an exec the supervisor hands the connection itself, with the fds, to the sandbox's spawner, whose waiter then
//! reports the process's pid and exit status on it (see `sandbox::spawner`).

#![forbid(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use nix::errno::Errno;
use nix::sys::socket::{
    accept4, bind, connect, getsockopt, listen, socket, sockopt, AddressFamily, Backlog, SockFlag,
    SockType, UnixAddr,
};

use super::config::{Hook, Hooks};
use super::state::{start_time, HookRecord, State};
use super::Log;
use crate::sandbox::proto::{self, Msg};
use crate::sandbox::spawner::{self, Report, Request};
use crate::sandbox::Held;

/// Reads one line (without its newline) from a pipe: the supervisor's readiness answer.
pub fn read_line(fd: BorrowedFd<'_>) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut b) {
            Ok(1) if b[0] != b'\n' => out.push(b[0]),
            Err(Errno::EINTR) => continue,
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A unix socket path can be longer than sun_path: reach it through its directory's fd.
fn short_path(dir: &OwnedFd, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}/{name}", dir.as_raw_fd()))
}

fn open_dir(p: &Path) -> Result<OwnedFd, String> {
    std::fs::File::open(p)
        .map(OwnedFd::from)
        .map_err(|e| format!("{}: {e}", p.display()))
}

/// Connects to a console socket (`--console-socket`).
pub fn connect_console(p: &Path) -> Result<OwnedFd, String> {
    let dir = open_dir(p.parent().unwrap_or(Path::new("/")))?;
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let s = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| format!("console socket: {}", e.desc()))?;
    let addr = UnixAddr::new(&short_path(&dir, &name))
        .map_err(|e| format!("console socket {}: {}", p.display(), e.desc()))?;
    connect(s.as_raw_fd(), &addr)
        .map_err(|e| format!("console socket {}: {}", p.display(), e.desc()))?;
    Ok(s)
}

/// A new SOCK_SEQPACKET socket and the address of `<dir>/ctl.sock`, which names the directory through the returned
/// fd (keep it open while the address is used).
fn ctl_socket(dir: &Path) -> Result<(OwnedFd, UnixAddr, OwnedFd), String> {
    let d = open_dir(dir)?;
    let s = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| format!("control socket: {}", e.desc()))?;
    let addr = UnixAddr::new(&short_path(&d, "ctl.sock")).map_err(|e| e.desc().to_string())?;
    Ok((s, addr, d))
}

fn connect_ctl(dir: &Path) -> Result<OwnedFd, String> {
    let (s, addr, _dir) = ctl_socket(dir)?;
    connect(s.as_raw_fd(), &addr).map_err(|e| {
        format!(
            "the container's supervisor does not answer ({}): is it still running?",
            e.desc()
        )
    })?;
    Ok(s)
}

fn send_json(
    s: BorrowedFd<'_>,
    v: &serde_json::Value,
    fds: &[BorrowedFd<'_>],
) -> Result<(), Errno> {
    proto::send_fds(s, v.to_string().as_bytes(), fds)
}

fn recv_json(s: BorrowedFd<'_>) -> Result<(serde_json::Value, Vec<OwnedFd>), Errno> {
    let (data, fds) = proto::recv_fds(s, 256 * 1024)?;
    let v = serde_json::from_slice(&data).map_err(|_| Errno::EPROTO)?;
    Ok((v, fds))
}

/// Runs one hook with the state on its stdin, bounded by its timeout (default 30 s).
pub fn run_hook(h: &Hook, state: &serde_json::Value) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(&h.path);
    if let Some((first, rest)) = h.args.split_first() {
        cmd.arg0(first).args(rest);
    }
    cmd.env_clear();
    for e in &h.env {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{}: {e}", h.path.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state.to_string().as_bytes());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(h.timeout.unwrap_or(30));
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return Err(format!("{st}: {}", err.trim()));
            }
            Ok(None) if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("timed out".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// poststop hooks: failures are logged, never fatal (the spec's rule).
pub fn run_poststop(hooks: &[Hook], state: &serde_json::Value, log: &Log) {
    for h in hooks {
        if let Err(e) = run_hook(h, state) {
            log.write(
                "warning",
                &format!("poststop hook {}: {e}", h.path.display()),
            );
        }
    }
}

fn run_hooks(hooks: &[Hook], state: &serde_json::Value, what: &str) -> Result<(), String> {
    for h in hooks {
        run_hook(h, state).map_err(|e| format!("{what} hook {}: {e}", h.path.display()))?;
    }
    Ok(())
}

/// What the server thread shares with the supervisor's callbacks.
struct Shared {
    state: State,
    held: Option<Held>,
}

/// The sandbox's callbacks for a container (see `sandbox::Supervisor`).
pub struct Supervisor {
    shared: Arc<Mutex<Shared>>,
    hooks: Hooks,
    ready: Option<OwnedFd>,
    log: Log,
    foreground: bool,
    oom_score_adj: Option<i32>,
}

impl Supervisor {
    pub fn new(state: State, hooks: Hooks, ready: OwnedFd, log: Log, foreground: bool) -> Self {
        Self {
            shared: Arc::new(Mutex::new(Shared { state, held: None })),
            hooks,
            ready: Some(ready),
            log,
            foreground,
            oom_score_adj: None,
        }
    }

    /// process.oomScoreAdj, applied to the container's process when it is created.
    pub fn with_oom_score_adj(mut self, adj: Option<i32>) -> Self {
        self.oom_score_adj = adj;
        self
    }
}

/// The spawner (the init's child that is not the container's process), once the agent has forked it.
fn find_spawner(init: i32, agent: i32) -> i32 {
    for _ in 0..200 {
        if let Some(p) = crate::sys::children(init).into_iter().find(|p| *p != agent) {
            return p;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    0
}

impl crate::sandbox::Supervisor for Supervisor {
    fn created(&mut self, held: Held) -> Result<(), String> {
        if let Some(adj) = self.oom_score_adj {
            // Raising needs no privilege; lowering below the shim's value needs CAP_SYS_RESOURCE, which the
            // supervisor does not keep: then a warning in --log, and the process runs with the score it inherited.
            if let Err(e) = std::fs::write(
                format!("/proc/{}/oom_score_adj", held.agent),
                adj.to_string(),
            ) {
                self.log.write(
                    "warning",
                    &format!("process.oomScoreAdj {adj} not applied: {e}"),
                );
            }
        }
        let mut sh = self.shared.lock().map_err(|_| "state lock".to_string())?;
        sh.state.init = held.init;
        sh.state.init_start = start_time(held.init).unwrap_or(0);
        sh.state.agent = held.agent;
        sh.state.agent_start = start_time(held.agent).unwrap_or(0);
        if held.spawner.is_some() {
            sh.state.spawner = find_spawner(held.init, held.agent);
        }
        sh.state.poststop = self.hooks.poststop.iter().map(HookRecord::from).collect();
        sh.state.save()?;
        let st = sh.state.oci_json_with_status("created");
        // prestart (deprecated) and createRuntime, then createContainer: all in the runtime's namespaces (capvisor
        // runs no host binary inside the sandbox's mount namespace; see docs/kubernetes.md).
        run_hooks(&self.hooks.prestart, &st, "prestart")?;
        run_hooks(&self.hooks.create_runtime, &st, "createRuntime")?;
        run_hooks(&self.hooks.create_container, &st, "createContainer")?;
        let dir = sh.state.dir().to_path_buf();
        sh.held = Some(held);
        drop(sh);
        let listener = bind_ctl(&dir)?;
        let shared = Arc::clone(&self.shared);
        let hooks = self.hooks.clone();
        let log = self.log.clone();
        std::thread::Builder::new()
            .name("oci-control".into())
            .spawn(move || serve(&listener, &shared, &hooks, &log))
            .map_err(|e| format!("control thread: {e}"))?;
        if self.foreground {
            // Not held (`sentry run`): it is already on its way to exec.
            start_held(&self.shared, &self.hooks, false)?;
        }
        if let Some(r) = self.ready.take() {
            let _ = nix::unistd::write(r.as_fd(), b"ok\n");
        }
        Ok(())
    }

    fn exited(&mut self, code: i32) {
        if let Ok(mut sh) = self.shared.lock() {
            sh.state.exit = Some(code);
            let _ = sh.state.save();
            let _ = std::fs::remove_file(sh.state.dir().join("ctl.sock"));
            sh.held = None;
        }
    }
}

fn bind_ctl(dir: &Path) -> Result<OwnedFd, String> {
    let (s, addr, _dir) = ctl_socket(dir)?;
    bind(s.as_raw_fd(), &addr).map_err(|e| format!("bind control socket: {}", e.desc()))?;
    listen(&s, Backlog::new(16).map_err(|e| e.desc().to_string())?)
        .map_err(|e| format!("listen: {}", e.desc()))?;
    Ok(s)
}

/// Releases the held process: startContainer hooks, Start, poststart hooks.
fn start_held(shared: &Arc<Mutex<Shared>>, hooks: &Hooks, release: bool) -> Result<(), String> {
    let mut sh = shared.lock().map_err(|_| "state lock".to_string())?;
    if sh.state.started {
        return Err("cannot start an already running container".into());
    }
    let st = sh.state.oci_json_with_status("created");
    run_hooks(&hooks.start_container, &st, "startContainer")?;
    let held = sh.held.as_ref().ok_or("container not running")?;
    if release {
        proto::send(held.ctl.as_fd(), &Msg::Start, None)
            .map_err(|e| format!("start the container's process: {}", e.desc()))?;
    }
    sh.state.started = true;
    sh.state.save()?;
    let st = sh.state.oci_json_with_status("running");
    drop(sh);
    // poststart failures are logged, not fatal (the spec's rule).
    if let Err(e) = run_hooks(&hooks.poststart, &st, "poststart") {
        eprintln!("sentry: {e}");
    }
    Ok(())
}

fn serve(listener: &OwnedFd, shared: &Arc<Mutex<Shared>>, hooks: &Hooks, log: &Log) {
    let me = nix::unistd::geteuid().as_raw();
    loop {
        let conn = match accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            Ok(fd) => match crate::sys::own_fd(fd) {
                Ok(c) => c,
                Err(_) => continue,
            },
            Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
            Err(_) => return,
        };
        // Only the runtime's own user (or root) may drive the container, and only from the host's user namespace: a
        // sandbox's root is uid 0 too (its ids map onto the host's), so the uid alone cannot tell it from the host's.
        let own_ns = std::fs::read_link("/proc/self/ns/user").ok();
        let ok = getsockopt(&conn, sockopt::PeerCredentials).is_ok_and(|c| {
            (c.uid() == me || c.uid() == 0)
                && own_ns.is_some()
                && std::fs::read_link(format!("/proc/{}/ns/user", c.pid())).ok() == own_ns
        });
        if !ok {
            continue;
        }
        let Ok((req, fds)) = recv_json(conn.as_fd()) else {
            continue;
        };
        let reply = |v: serde_json::Value| {
            let _ = send_json(conn.as_fd(), &v, &[]);
        };
        match req["op"].as_str() {
            Some("start") => match start_held(shared, hooks, true) {
                Ok(()) => reply(serde_json::json!({"ok": true})),
                Err(e) => reply(serde_json::json!({"error": e})),
            },
            Some("exec") => {
                if let Err(e) = exec_in(shared, &conn, &req, fds) {
                    log.write("error", &e);
                    reply(serde_json::json!({"error": e}));
                }
            }
            _ => reply(serde_json::json!({"error": "unknown request"})),
        }
    }
}

/// Hands an exec to the spawner: the client's connection and the process's stdio (or a new pty's slave).
fn exec_in(
    shared: &Arc<Mutex<Shared>>,
    conn: &OwnedFd,
    req: &serde_json::Value,
    fds: Vec<OwnedFd>,
) -> Result<(), String> {
    let process: Request =
        serde_json::from_value(req["process"].clone()).map_err(|e| format!("exec request: {e}"))?;
    let sh = shared.lock().map_err(|_| "state lock".to_string())?;
    if !sh.state.started {
        return Err("cannot exec in a container that has not been started".into());
    }
    let held = sh.held.as_ref().ok_or("container not running")?;
    let sp = held
        .spawner
        .as_ref()
        .ok_or("this container has no spawner: exec into it is not possible")?;
    if process.tty {
        let (master, slave, path) = crate::sandbox::tty::pty_pair(held.view_root.as_fd())
            .map_err(|e| format!("pty: {}", e.desc()))?;
        send_json(
            conn.as_fd(),
            &serde_json::json!({"pty": path}),
            &[master.as_fd()],
        )
        .map_err(|e| format!("reply: {}", e.desc()))?;
        spawner::send(sp.as_fd(), &process, &[conn.as_fd(), slave.as_fd()])
    } else {
        if fds.len() != 3 {
            return Err("exec request: want stdin, stdout and stderr".into());
        }
        let mut all: Vec<BorrowedFd<'_>> = vec![conn.as_fd()];
        all.extend(fds.iter().map(AsFd::as_fd));
        spawner::send(sp.as_fd(), &process, &all)
    }
    .map_err(|e| format!("the container's spawner is gone ({})", e.desc()))
}

/// `sentry start ID`.
pub fn start(root: &Path, id: &str) -> Result<(), String> {
    let st = State::load(root, id)?;
    match st.status() {
        "created" => {}
        "running" => return Err("cannot start an already running container".into()),
        "stopped" => return Err("cannot start a container that has stopped".into()),
        s => return Err(format!("cannot start a container in the {s} state")),
    }
    let c = connect_ctl(st.dir())?;
    send_json(c.as_fd(), &serde_json::json!({"op": "start"}), &[])
        .map_err(|e| e.desc().to_string())?;
    let (v, _) = recv_json(c.as_fd()).map_err(|e| format!("start: {}", e.desc()))?;
    match v["error"].as_str() {
        Some(e) => Err(e.to_string()),
        None => Ok(()),
    }
}

#[derive(Args, Debug, Clone)]
pub struct ExecArgs {
    /// A JSON file with the process (OCI process object); else the command after the ID.
    #[arg(short, long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    #[arg(short, long)]
    pub tty: bool,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    #[arg(long)]
    pub cwd: Option<String>,
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Only the container's own user is supported.
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(long)]
    pub no_new_privs: bool,
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `sentry exec ID`: returns the process's exit code (or 0 with --detach once it runs).
pub fn exec(root: &Path, a: &ExecArgs) -> Result<i32, String> {
    let st = State::load(root, &a.id)?;
    if st.status() != "running" {
        return Err(format!("cannot exec in a {} container", st.status()));
    }
    if a.preserve_fds != 0 {
        return Err("--preserve-fds is not supported by capvisor".into());
    }
    let config: serde_json::Value = std::fs::read(st.bundle().join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok())
        .unwrap_or_default();
    let base = &config["process"];
    let p: serde_json::Value = match &a.process {
        Some(f) => {
            let t = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
            serde_json::from_slice(&t).map_err(|e| format!("{}: {e}", f.display()))?
        }
        None => serde_json::json!({}),
    };
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let args = if a.command.is_empty() {
        strings(&p["args"])
    } else {
        a.command.clone()
    };
    if args.is_empty() {
        return Err("exec: no command given".into());
    }
    let mut env = if p.get("env").is_some() {
        strings(&p["env"])
    } else {
        strings(&base["env"])
    };
    env.extend(a.env.iter().cloned());
    let cwd = a
        .cwd
        .clone()
        .or_else(|| p["cwd"].as_str().map(String::from))
        .or_else(|| base["cwd"].as_str().map(String::from))
        .unwrap_or_else(|| "/".into());
    // The user: the process file's, else --user UID[:GID], else the container's own.
    let user = |v: &serde_json::Value, key: &str| {
        v["user"][key].as_u64().and_then(|n| u32::try_from(n).ok())
    };
    let flag = a.user.as_deref().map(|u| {
        let (uid, gid) = u.split_once(':').unwrap_or((u, ""));
        (uid.parse::<u32>(), gid.parse::<u32>().ok())
    });
    let (uid, gid) = match flag {
        Some((Ok(u), g)) => (u, g.unwrap_or(u)),
        Some((Err(_), _)) => {
            return Err(format!(
                "--user {:?}: give a numeric uid[:gid] (names are not looked up)",
                a.user.as_deref().unwrap_or("")
            ))
        }
        None => (
            user(&p, "uid").or_else(|| user(base, "uid")).unwrap_or(0),
            user(&p, "gid").or_else(|| user(base, "gid")).unwrap_or(0),
        ),
    };
    let groups: Vec<u32> = p["user"]["additionalGids"]
        .as_array()
        .or_else(|| base["user"]["additionalGids"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|g| g.as_u64().and_then(|n| u32::try_from(n).ok()))
                .collect()
        })
        .unwrap_or_default();
    let tty = a.tty || p["terminal"].as_bool().unwrap_or(false);
    if tty && a.console_socket.is_none() {
        return Err("exec --tty needs --console-socket with capvisor".into());
    }
    let req = Request {
        args,
        env,
        cwd,
        tty,
        uid,
        gid,
        groups,
    };
    let c = connect_ctl(st.dir())?;
    let (i, o, e) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let stdio: Vec<BorrowedFd<'_>> = if tty {
        vec![]
    } else {
        vec![i.as_fd(), o.as_fd(), e.as_fd()]
    };
    // The stdio fds are borrowed from this process for the duration of the send; they stay open here.
    send_json(
        c.as_fd(),
        &serde_json::json!({"op": "exec", "process": req}),
        &stdio,
    )
    .map_err(|e| format!("exec: {}", e.desc()))?;
    if tty {
        let (v, fds) = recv_json(c.as_fd()).map_err(|e| format!("exec: {}", e.desc()))?;
        if let Some(e) = v["error"].as_str() {
            return Err(e.to_string());
        }
        let master = fds
            .into_iter()
            .next()
            .ok_or("exec: no pty from the supervisor")?;
        if let Some(sock) = &a.console_socket {
            let s = connect_console(sock)?;
            crate::sandbox::tty::send_console(
                s.as_fd(),
                Path::new(v["pty"].as_str().unwrap_or("/dev/pts/0")),
                master.as_fd(),
            )
            .map_err(|e| format!("console socket: {}", e.desc()))?;
        }
    }
    // The waiter's first word: the pid, or why it could not start.
    let (v, _) = recv_json(c.as_fd()).map_err(|e| format!("exec: {}", e.desc()))?;
    if let Some(e) = v["error"].as_str() {
        return Err(format!("exec failed: {e}"));
    }
    let report: Report = serde_json::from_value(v).map_err(|_| "exec: bad report".to_string())?;
    if !matches!(report, Report::Pid(_)) {
        return Err("exec: unexpected report".into());
    }
    if a.detach {
        // The process that stands for the exec'd one (what the shim waits on and signals).
        let pid = crate::sys::fork().map_err(|e| format!("fork: {}", e.desc()))?;
        if pid == 0 {
            let _ = nix::unistd::setsid();
            super::null_stdio();
            let code = wait_exec(&c);
            crate::sys::exit_now(code);
        }
        if let Some(f) = &a.pid_file {
            super::write_pid_file(f, pid)?;
        }
        return Ok(0);
    }
    if let Some(f) = &a.pid_file {
        super::write_pid_file(f, i32::try_from(std::process::id()).unwrap_or(0))?;
    }
    Ok(wait_exec(&c))
}

/// Forwards signals to the exec'd process until it ends; its exit code (128+N when killed by N).
fn wait_exec(c: &OwnedFd) -> i32 {
    use nix::sys::signal::{SigSet, Signal};
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
        Signal::SIGCONT,
    ] {
        mask.add(s);
    }
    let _ = mask.thread_block();
    let Ok(sigfd) = nix::sys::signalfd::SignalFd::with_flags(
        &mask,
        nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
    ) else {
        return 255;
    };
    loop {
        let mut fds = [
            nix::poll::PollFd::new(c.as_fd(), nix::poll::PollFlags::POLLIN),
            nix::poll::PollFd::new(sigfd.as_fd(), nix::poll::PollFlags::POLLIN),
        ];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE).is_err() {
            continue;
        }
        let conn_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        let sig_ready = fds[1].revents().is_some_and(|r| !r.is_empty());
        if sig_ready {
            while let Ok(Some(info)) = sigfd.read_signal() {
                let msg = format!("signal {}", info.ssi_signo);
                let _ = nix::unistd::write(c.as_fd(), msg.as_bytes());
            }
        }
        if conn_ready {
            match recv_json(c.as_fd()) {
                Ok((v, _)) => {
                    if let Ok(Report::Exit(status)) = serde_json::from_value::<Report>(v) {
                        return crate::sandbox::exit_code(status);
                    }
                }
                // The sandbox ended under it (the container stopped): killed.
                Err(_) => return 137,
            }
        }
    }
}
