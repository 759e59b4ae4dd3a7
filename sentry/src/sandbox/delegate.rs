//! Delegation: a sandbox asks its sentry for a child sandbox, which gets at most what the caller has.
//!
//! The endpoint is a SOCK_SEQPACKET socket bound to the abstract name `capvisor` in the sandbox's own network
//! namespace (abstract names are per namespace, so every sandbox has its own and none reaches the host's), made by
//! the sandbox init and handed to the sentry, which serves it. The agent finds it in `SENTRY_SOCKET=@capvisor`.
//! `sentry exec` run inside a sandbox uses it instead of making namespaces itself.
//!
//! Protocol (one message each way per step, JSON): the caller sends
//! `{"type":"exec","argv":[..],"env":[["K","V"],..],"cwd":"/w","grants":[{"path":"/w","read":true,"write":true,"exec":true}],
//! "deny":["**/.env"],"limits":{"tasks":"64","memory":"256M"}}` with its stdin, stdout and stderr attached
//! (SCM_RIGHTS); the sentry answers `{"type":"started","child":"sb-…","given":{..}}` (or `{"type":"error","error":".."}`)
//! and, when the child ends, `{"type":"exited","code":N}`. If the caller goes away, the child is stopped.
//!
//! What the child gets: each asked grant, canonicalised on the host, intersected with the caller's grants (the
//! modes of the most specific grant of the caller that contains it, and the caller's grants inside it with the modes
//! of both); every deny rule of the caller plus those asked; budgets that are the minimum of the asked ones and the
//! caller's (wall: what is left of it), with the child's cgroups made inside the caller's, so the kernel charges the
//! child's tasks and memory to the caller's budgets too; approval mode `deny`. The lineage (parent, child, asked,
//! given) is an audit record of the parent, and the child's own records go to the same log with `"parent"` set.
//! The child runs as its own sandbox (a new `sentry exec` process of this binary, with `--within` naming the
//! caller's grants, which the child checks again after resolving its policy).

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kernel::Kernel;
use crate::policy::limits::{parse_value, Limits, NAMES};
use crate::policy::{Grant, Policy};

/// The abstract socket name, and how `SENTRY_SOCKET` shows it.
pub const ENDPOINT_NAME: &[u8] = b"capvisor";
pub const ENDPOINT_SHOWN: &str = "@capvisor";
/// Largest request accepted (argv and environment included).
const MAX_REQUEST: usize = 256 * 1024;
/// Connections served at once per sandbox (each is a thread, and may be a child sentry on the host): the agent
/// cannot use delegation to multiply host processes beyond this.
const MAX_ACTIVE: usize = 16;

/// A grant as asked for and as given.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireGrant {
    pub path: String,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

/// The request.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    #[serde(rename = "type")]
    pub kind: String,
    pub argv: Vec<String>,
    #[serde(default)]
    pub env: Vec<(String, String)>,
    pub cwd: String,
    #[serde(default)]
    pub grants: Vec<WireGrant>,
    #[serde(default)]
    pub deny: Vec<String>,
    #[serde(default)]
    pub limits: BTreeMap<String, String>,
}

/// In the sandbox init, before the agent exists: the endpoint, bound and listening.
pub fn bind_endpoint() -> Result<OwnedFd, Errno> {
    let s = nix::sys::socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let addr = UnixAddr::new_abstract(ENDPOINT_NAME)?;
    nix::sys::socket::bind(s.as_raw_fd(), &addr)?;
    nix::sys::socket::listen(&s, nix::sys::socket::Backlog::new(16)?)?;
    Ok(s)
}

/// Starts serving the endpoint.
pub fn serve(k: Arc<Kernel>, listener: OwnedFd, started: Instant) {
    let _ = std::thread::Builder::new()
        .name("sentry-delegate".into())
        .spawn(move || loop {
            let Ok(fd) = nix::sys::socket::accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC)
            else {
                continue;
            };
            let Ok(conn) = crate::sys::own_fd(fd) else {
                continue;
            };
            if ACTIVE.fetch_add(1, Ordering::SeqCst) >= MAX_ACTIVE {
                ACTIVE.fetch_sub(1, Ordering::SeqCst);
                reply(
                    &conn,
                    &json!({"type": "error", "error": format!("too many child sandboxes at once (at most {MAX_ACTIVE})")}),
                );
                continue;
            }
            let k2 = Arc::clone(&k);
            let spawned = std::thread::Builder::new()
                .name("sentry-delegate-conn".into())
                .spawn(move || {
                    handle(&k2, &conn, started);
                    ACTIVE.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                ACTIVE.fetch_sub(1, Ordering::SeqCst);
            }
        });
}

fn reply(conn: &OwnedFd, v: &serde_json::Value) {
    let data = v.to_string();
    let iov = [IoSlice::new(data.as_bytes())];
    let _ = sendmsg::<()>(conn.as_raw_fd(), &iov, &[], MsgFlags::MSG_NOSIGNAL, None);
}

/// Receives one message with up to three fds.
fn recv_request(conn: &OwnedFd) -> Result<(Vec<u8>, Vec<OwnedFd>), Errno> {
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 3]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(|_| Errno::EPROTO)? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            for f in raw {
                fds.push(crate::sys::own_fd(f)?);
            }
        }
    }
    if msg.flags.contains(MsgFlags::MSG_TRUNC) || msg.flags.contains(MsgFlags::MSG_CTRUNC) {
        return Err(Errno::EMSGSIZE);
    }
    let n = msg.bytes;
    buf.truncate(n);
    Ok((buf, fds))
}

static SEQ: AtomicU64 = AtomicU64::new(1);
static ACTIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Child sentries still running: stopped when this sandbox ends (nothing outlives the sentry).
static CHILDREN: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// The sandbox is over: SIGTERM every child sentry (each stops its agent and removes its cgroups), then SIGKILL
/// what is left after two seconds.
pub fn shutdown() {
    let pids: Vec<u32> = CHILDREN.lock().map(|c| c.clone()).unwrap_or_default();
    if pids.is_empty() {
        return;
    }
    let pid = |p: u32| nix::unistd::Pid::from_raw(i32::try_from(p).unwrap_or(0));
    for p in &pids {
        let _ = nix::sys::signal::kill(pid(*p), nix::sys::signal::Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && CHILDREN.lock().map(|c| !c.is_empty()).unwrap_or(false) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for p in CHILDREN.lock().map(|c| c.clone()).unwrap_or_default() {
        let _ = nix::sys::signal::kill(pid(p), nix::sys::signal::Signal::SIGKILL);
    }
}

fn handle(k: &Kernel, conn: &OwnedFd, started: Instant) {
    // A caller that connects and says nothing does not hold a slot for long.
    let _ = nix::sys::socket::setsockopt(
        conn,
        nix::sys::socket::sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(10, 0),
    );
    let (bytes, fds) = match recv_request(conn) {
        Ok(x) => x,
        Err(e) => {
            reply(
                conn,
                &json!({"type": "error", "error": format!("bad request: {}", e.desc())}),
            );
            return;
        }
    };
    let req: Request = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            reply(
                conn,
                &json!({"type": "error", "error": format!("bad request: {e}")}),
            );
            return;
        }
    };
    if req.kind != "exec" || req.argv.is_empty() {
        reply(
            conn,
            &json!({"type": "error", "error": "expected {\"type\":\"exec\",\"argv\":[...]}"}),
        );
        return;
    }
    let parent = &k.policy;
    let given = intersect(&parent.grants, &req.grants);
    let asked_limits = match parse_limits(&req.limits) {
        Ok(l) => l,
        Err(e) => {
            reply(conn, &json!({"type": "error", "error": e}));
            return;
        }
    };
    let limits = carve(&parent.controls.limits, &asked_limits, started.elapsed());
    let child_id = format!(
        "{}.{}",
        k.audit.sandbox,
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let mut deny: Vec<(String, &'static str, &'static str)> = parent
        .deny
        .iter()
        .map(|d| {
            (
                d.pattern.clone(),
                errno_name(d.errno),
                match d.scope {
                    crate::policy::DenyScope::All => "all",
                    crate::policy::DenyScope::Write => "write",
                },
            )
        })
        .collect();
    for d in &req.deny {
        if d.starts_with('/') || d.starts_with("**") {
            deny.push((d.clone(), "EACCES", "all"));
        }
    }
    k.audit.lifecycle(
        "delegation",
        json!({
            "parent": k.audit.sandbox,
            "child": child_id,
            "argv": req.argv,
            "asked": { "grants": req.grants, "deny": req.deny, "limits": req.limits },
            "given": {
                "grants": given,
                "deny": deny.iter().map(|(p, _, _)| p).collect::<Vec<_>>(),
                "limits": NAMES.iter().map(|n| (n.to_string(), limits.show(n))).collect::<BTreeMap<_, _>>(),
            },
        }),
    );
    let policy_file = match write_policy(&child_id, &given, &deny, &limits, parent.tmp_size) {
        Ok(p) => p,
        Err(e) => {
            reply(
                conn,
                &json!({"type": "error", "error": format!("child policy: {e}")}),
            );
            return;
        }
    };
    let _cleanup = RemoveOnDrop(policy_file.clone());
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg("exec")
        .arg("--no-default")
        .arg("--policy")
        .arg(&policy_file)
        .arg("--workdir")
        .arg(&req.cwd)
        .arg("--sandbox-id")
        .arg(&child_id)
        .arg("--parent")
        .arg(&k.audit.sandbox)
        // A child runs on its parent's platform.
        .arg("--platform")
        .arg(k.platform.name());
    if let Some(a) = &k.audit.log_path {
        cmd.arg("--audit").arg(a);
    }
    for d in &parent.controls.cgroup_dirs {
        cmd.arg("--cgroup-parent").arg(d);
    }
    for g in &parent.grants {
        cmd.arg("--within")
            .arg(format!("{}:{}", g.mode(), g.path.display()));
    }
    cmd.env_clear();
    for (name, value) in &req.env {
        if name.is_empty() || name.contains('=') || name == "SENTRY_SOCKET" {
            continue;
        }
        cmd.env(name, value);
        cmd.arg("--env").arg(name);
    }
    cmd.arg("--").args(&req.argv);
    let mut fds = fds.into_iter();
    let stdio =
        |f: Option<OwnedFd>| f.map_or_else(std::process::Stdio::null, std::process::Stdio::from);
    cmd.stdin(stdio(fds.next()))
        .stdout(stdio(fds.next()))
        .stderr(stdio(fds.next()));
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            reply(
                conn,
                &json!({"type": "error", "error": format!("start the child sandbox: {e}")}),
            );
            return;
        }
    };
    let child_pid = child.id();
    if let Ok(mut c) = CHILDREN.lock() {
        c.push(child_pid);
    }
    let _registered = Unregister(child_pid);
    reply(
        conn,
        &json!({"type": "started", "child": child_id, "given": { "grants": given,
            "limits": NAMES.iter().map(|n| (n.to_string(), limits.show(n))).collect::<BTreeMap<_, _>>() }}),
    );
    // Wait for the child, stopping it if the caller goes away.
    let code = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(9)),
            Ok(None) => {}
            Err(_) => break 125,
        }
        let mut pfd = [nix::poll::PollFd::new(
            conn.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if let Ok(n) = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(50u16)) {
            let gone = n > 0
                && pfd[0].revents().is_some_and(|r| {
                    r.intersects(nix::poll::PollFlags::POLLHUP | nix::poll::PollFlags::POLLERR)
                        || r.contains(nix::poll::PollFlags::POLLIN)
                });
            if gone {
                // The caller sends nothing more: readable means it hung up.
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
        }
    };
    reply(conn, &json!({"type": "exited", "code": code}));
}

struct Unregister(u32);
impl Drop for Unregister {
    fn drop(&mut self) {
        if let Ok(mut c) = CHILDREN.lock() {
            c.retain(|p| *p != self.0);
        }
    }
}

struct RemoveOnDrop(PathBuf);
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn errno_name(e: Errno) -> &'static str {
    match e {
        Errno::EPERM => "EPERM",
        Errno::ENOENT => "ENOENT",
        Errno::EROFS => "EROFS",
        _ => "EACCES",
    }
}

fn parse_limits(m: &BTreeMap<String, String>) -> Result<Limits, String> {
    let mut l = Limits::default();
    for (k, v) in m {
        let val = parse_value(k, v).map_err(|e| format!("limit {k}: {e}"))?;
        l.set(k, val)?;
    }
    Ok(l)
}

/// The child's budgets: never more than the parent's (an unset asked budget takes the parent's); wall time is what
/// is left of the parent's.
pub fn carve(parent: &Limits, asked: &Limits, elapsed: Duration) -> Limits {
    let mut p = parent.clone();
    if let Some(w) = p.wall {
        p.wall = Some(w.saturating_sub(elapsed.as_secs()).max(1));
    }
    asked.intersect(&p)
}

/// The grants a child gets: see the module doc. Asked paths are canonicalised on the host first, so a symlink the
/// caller planted cannot point the child's grant outside the caller's.
pub fn intersect(parent: &[Grant], asked: &[WireGrant]) -> Vec<WireGrant> {
    let mut out: Vec<WireGrant> = Vec::new();
    let mut add = |path: &Path, r: bool, w: bool, x: bool| {
        if !r {
            return;
        }
        let p = path.to_string_lossy().into_owned();
        if let Some(e) = out.iter_mut().find(|e| e.path == p) {
            e.write |= w;
            e.exec |= x;
        } else {
            out.push(WireGrant {
                path: p,
                read: r,
                write: w,
                exec: x,
            });
        }
    };
    for a in asked {
        // Symlinks resolved except a last one, which the child's view recreates as a link (never a bind), as the
        // caller's does: /bin stays the /bin link, while a planted link cannot become a bind of its target.
        let asked_path = Path::new(&a.path);
        if !asked_path.is_absolute() || std::fs::symlink_metadata(asked_path).is_err() {
            continue;
        }
        let real = crate::policy::load::canonical_prefix(
            &crate::policy::load::normalize(asked_path),
            true,
        );
        // The caller's most specific grant containing it decides its modes.
        if let Some(g) = parent
            .iter()
            .filter(|g| real.starts_with(&g.path))
            .max_by_key(|g| g.path.as_os_str().len())
        {
            add(
                &real,
                a.read && g.read,
                a.write && g.write,
                a.exec && g.exec,
            );
        }
        // The caller's grants inside it, each with the modes of both.
        for g in parent
            .iter()
            .filter(|g| g.path.starts_with(&real) && g.path != real)
        {
            add(
                &g.path,
                a.read && g.read,
                a.write && g.write,
                a.exec && g.exec,
            );
        }
    }
    out
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The child's policy, as a file of the ordinary format (mode 0600, removed when the child ends).
fn write_policy(
    id: &str,
    grants: &[WireGrant],
    deny: &[(String, &'static str, &'static str)],
    limits: &Limits,
    tmp_size: u64,
) -> std::io::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let (mut read, mut write, mut exec) = (vec![], vec![], vec![]);
    for g in grants {
        // The format's "write" is rwx; rw- is given as read only (narrower, never wider).
        if g.write && g.exec {
            write.push(q(&g.path));
        } else if g.exec {
            exec.push(q(&g.path));
        } else {
            read.push(q(&g.path));
        }
    }
    let deny: Vec<String> = deny
        .iter()
        .map(|(p, e, a)| format!("{{ path = {}, errno = \"{e}\", access = \"{a}\" }}", q(p)))
        .collect();
    let mut text = format!(
        "# child sandbox {id}: generated by its parent's sentry\n[filesystem]\nread = [{}]\nwrite = [{}]\nexec = [{}]\ndeny = [{}]\ntmp_size = \"{tmp_size}\"\n[limits]\n",
        read.join(", "),
        write.join(", "),
        exec.join(", "),
        deny.join(", "),
    );
    for n in NAMES {
        let v = limits.get(n).map_or("none".to_string(), |v| v.to_string());
        text.push_str(&format!("{n} = \"{v}\"\n"));
    }
    let path = std::env::temp_dir().join(format!("capvisor-delegate-{id}.toml"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(text.as_bytes())?;
    Ok(path)
}

/// Inside a sandbox (`SENTRY_SOCKET` set): asks the parent's sentry to run `argv` as a child sandbox with this policy,
/// passing our stdio, and returns the child's exit code.
pub fn delegate_exec(policy: &Policy, argv: &[String], cwd: &Path) -> Result<i32, String> {
    let s = nix::sys::socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| format!("socket: {}", e.desc()))?;
    let addr = UnixAddr::new_abstract(ENDPOINT_NAME).map_err(|e| e.desc().to_string())?;
    nix::sys::socket::connect(s.as_raw_fd(), &addr).map_err(|e| {
        format!(
            "connect to the parent sentry ({ENDPOINT_SHOWN}): {}",
            e.desc()
        )
    })?;
    let req = Request {
        kind: "exec".into(),
        argv: argv.to_vec(),
        env: std::env::vars()
            .filter(|(k, _)| k != "SENTRY_SOCKET")
            .collect(),
        cwd: cwd.to_string_lossy().into_owned(),
        grants: policy
            .grants
            .iter()
            .map(|g| WireGrant {
                path: g.path.to_string_lossy().into_owned(),
                read: g.read,
                write: g.write,
                exec: g.exec,
            })
            .collect(),
        deny: policy.deny.iter().map(|d| d.pattern.clone()).collect(),
        limits: NAMES
            .iter()
            .filter_map(|n| {
                policy
                    .controls
                    .limits
                    .get(n)
                    .map(|v| (n.to_string(), v.to_string()))
            })
            // Seconds and bytes are sent as plain numbers, which parse_value reads in its base unit.
            .collect(),
    };
    let data = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
    let stdio = [0, 1, 2];
    let iov = [IoSlice::new(&data)];
    sendmsg::<()>(
        s.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&stdio)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("send the request: {}", e.desc()))?;
    loop {
        let mut buf = vec![0u8; 64 * 1024];
        let n = nix::unistd::read(s.as_raw_fd(), &mut buf).map_err(|e| e.desc().to_string())?;
        if n == 0 {
            return Err("the parent sentry closed the connection".into());
        }
        let v: serde_json::Value =
            serde_json::from_slice(&buf[..n]).map_err(|e| format!("bad reply: {e}"))?;
        match v["type"].as_str() {
            Some("exited") => {
                return Ok(v["code"]
                    .as_i64()
                    .and_then(|c| i32::try_from(c).ok())
                    .unwrap_or(125))
            }
            Some("error") => return Err(v["error"].as_str().unwrap_or("refused").to_string()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(path: &str, w: bool, x: bool) -> Grant {
        Grant {
            source: None,
            path: path.into(),
            read: true,
            write: w,
            exec: x,
            origin: "t".into(),
        }
    }

    fn wg(path: &str, w: bool, x: bool) -> WireGrant {
        WireGrant {
            path: path.into(),
            read: true,
            write: w,
            exec: x,
        }
    }

    #[test]
    fn intersect_never_widens() {
        let parent = vec![g("/usr", false, true), g("/etc", false, false)];
        // /usr/share exists on any Debian; /var is not granted to the parent at all.
        let got = intersect(
            &parent,
            &[wg("/usr/share", true, true), wg("/var", true, true)],
        );
        assert_eq!(got, vec![wg("/usr/share", false, true)]);
    }

    #[test]
    fn intersect_asked_parent_of_grants_gets_those_grants() {
        let parent = vec![g("/usr", false, true), g("/etc", false, false)];
        let got = intersect(&parent, &[wg("/", true, true)]);
        assert_eq!(got, vec![wg("/usr", false, true), wg("/etc", false, false)]);
    }

    #[test]
    fn carve_takes_minimum_and_remaining_wall() {
        let parent = Limits {
            tasks: Some(64),
            wall: Some(100),
            ..Limits::default()
        };
        let asked = Limits {
            tasks: Some(1000),
            memory: Some(1 << 30),
            ..Limits::default()
        };
        let c = carve(&parent, &asked, Duration::from_secs(30));
        assert_eq!(c.tasks, Some(64));
        assert_eq!(c.memory, Some(1 << 30));
        assert_eq!(c.wall, Some(70));
    }
}
