//! The spawner: how `sentry exec` starts a process inside a running container.
//!
//! A process joins a sandbox only by being born in it: it must carry the sandbox's seccomp filter (there is one
//! listener per sandbox, and a filter cannot be attached to a process from outside), live in its namespaces and see
//! its view. So the container's agent, after installing its filter and before exec, forks the spawner with
//! CLONE_PARENT (a child of the sandbox init, not of the container's process). The spawner waits on a socket whose
//! other end the sentry holds. For each `sentry exec`, the sentry passes it the exec client's connection, the
//! process's stdio (or its pty slave) and the process spec; the spawner forks a small waiter, the waiter forks the
//! process, and the waiter reports the process's pid and then its wait status on the client's connection, and
//! forwards the signals the client sends. Every syscall of all three is the sandbox's: decided by the sentry like
//! the agent's own (the execve included).
//!
//! Nothing here is trusted by the sentry: the spawner is agent-side code, and what it says to the exec client (a pid,
//! an exit status) is only reported, never acted on.

#![forbid(unsafe_code)]

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

use crate::sys;

/// One process to start, as the sentry sends it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Request {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// fd 0 is a pty slave to make the controlling terminal of a new session (and 1 and 2 are the same).
    pub tty: bool,
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub groups: Vec<u32>,
}

/// Becomes `uid`/`gid` with `groups`, then drops the last capabilities (CAP_SETUID and CAP_SETGID, kept until here
/// by the container's agent and by the spawner). The sentry's workers read the task's memory for every trapped call,
/// which a change of uid would forbid (it clears the dumpable flag): set back; ptrace stays refused inside.
pub fn become_user(uid: u32, gid: u32, groups: &[u32]) -> Result<(), String> {
    let gs: Vec<nix::unistd::Gid> = groups
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    nix::unistd::setgroups(&gs)
        .map_err(|e| format!("additional groups {groups:?}: {}", e.desc()))?;
    let g = nix::unistd::Gid::from_raw(gid);
    nix::unistd::setresgid(g, g, g).map_err(|e| format!("gid {gid}: {}", e.desc()))?;
    let u = nix::unistd::Uid::from_raw(uid);
    nix::unistd::setresuid(u, u, u).map_err(|e| format!("uid {uid}: {}", e.desc()))?;
    sys::drop_all_caps().map_err(|e| format!("drop capabilities: {}", e.desc()))?;
    sys::prctl(libc::PR_SET_DUMPABLE, 1).map_err(|e| format!("dumpable: {}", e.desc()))
}

/// What the waiter says on the client's connection (one JSON object per packet).
#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Report {
    /// The process runs: its pid in the sandbox.
    Pid(i32),
    /// It could not start.
    Error(String),
    /// Its raw wait status.
    Exit(i32),
}

/// Sends a request (sentry side): `fds` = [the client's connection, stdin, stdout, stderr] or [connection, slave].
pub fn send(sock: BorrowedFd<'_>, req: &Request, fds: &[BorrowedFd<'_>]) -> Result<(), Errno> {
    let data = serde_json::to_vec(req).map_err(|_| Errno::EINVAL)?;
    super::proto::send_fds(sock, &data, fds)
}

fn recv(sock: BorrowedFd<'_>) -> Result<(Request, Vec<OwnedFd>), Errno> {
    let (data, fds) = super::proto::recv_fds(sock, 256 * 1024)?;
    let req = serde_json::from_slice(&data).map_err(|_| Errno::EPROTO)?;
    Ok((req, fds))
}

/// The spawner's loop. Never returns; ends when the sentry closes its end.
pub fn main(sock: OwnedFd) -> ! {
    // SIGCHLD ignored: the kernel reaps the waiters, which never become zombies of the spawner.
    let _ = sys::ignore_signal(libc::SIGCHLD);
    // Its own session and process group: `kill(0, …)` by the container's process, or a ^C on the console, must not
    // reach it; and it ignores what a terminal or a job-control shell sends (the waiters reset every signal).
    let _ = nix::unistd::setsid();
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGPIPE,
    ] {
        let _ = sys::ignore_signal(sig);
    }
    loop {
        match recv(sock.as_fd()) {
            Ok((req, fds)) => {
                if fds.is_empty() {
                    continue;
                }
                match sys::fork() {
                    Ok(0) => {
                        drop(sock);
                        waiter(&req, fds)
                    }
                    Ok(_) => drop(fds),
                    Err(_) => {
                        let _ = report(fds[0].as_fd(), &Report::Error("fork failed".into()));
                    }
                }
            }
            Err(Errno::ECONNRESET) => sys::exit_now(0),
            Err(_) => {}
        }
    }
}

fn report(conn: BorrowedFd<'_>, r: &Report) -> Result<(), Errno> {
    let data = serde_json::to_vec(r).map_err(|_| Errno::EINVAL)?;
    // Plain write(2): sendmsg is the sentry's to mediate.
    nix::unistd::write(conn, &data).map(drop)
}

/// Forks the process, reports its pid, forwards signals from the connection, reports its wait status.
fn waiter(req: &Request, mut fds: Vec<OwnedFd>) -> ! {
    sys::reset_signals();
    let conn = fds.remove(0);
    let cs = |v: &[String]| -> Result<Vec<CString>, String> {
        v.iter()
            .map(|a| CString::new(a.as_bytes()).map_err(|_| format!("NUL in {a:?}")))
            .collect()
    };
    let prepared = cs(&req.args)
        .and_then(|a| Ok((a, cs(&req.env)?)))
        .and_then(|(a, e)| {
            if a.is_empty() {
                return Err("no command".into());
            }
            let cwd = CString::new(req.cwd.as_bytes()).map_err(|_| "NUL in cwd".to_string())?;
            Ok((a, e, cwd))
        });
    let (argv, envp, cwd) = match prepared {
        Ok(p) => p,
        Err(m) => {
            let _ = report(conn.as_fd(), &Report::Error(m));
            sys::exit_now(1)
        }
    };
    // The child says why exec failed on this pipe; end of file means it exec'd.
    let (rd, wr) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => {
            let _ = report(conn.as_fd(), &Report::Error(format!("pipe: {}", e.desc())));
            sys::exit_now(1)
        }
    };
    let child = match sys::fork() {
        Ok(0) => {
            drop(rd);
            let why = start(req, &fds, &cwd, &argv, &envp, wr.as_raw_fd());
            let _ = nix::unistd::write(&wr, why.as_bytes());
            sys::exit_now(if why.contains("No such file") {
                127
            } else {
                126
            })
        }
        Ok(pid) => pid,
        Err(e) => {
            let _ = report(conn.as_fd(), &Report::Error(format!("fork: {}", e.desc())));
            sys::exit_now(1)
        }
    };
    drop(wr);
    drop(fds);
    let mut why = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok(n) = nix::unistd::read(rd.as_raw_fd(), &mut buf) {
        if n == 0 {
            break;
        }
        why.extend_from_slice(&buf[..n]);
    }
    drop(rd);
    if !why.is_empty() {
        let _ = sys::wait_pid(child);
        let _ = report(
            conn.as_fd(),
            &Report::Error(String::from_utf8_lossy(&why).into_owned()),
        );
        sys::exit_now(1);
    }
    let _ = report(conn.as_fd(), &Report::Pid(child));
    let mut client = true;
    loop {
        if let Ok(Some(status)) = sys::try_wait(child) {
            let _ = report(conn.as_fd(), &Report::Exit(status));
            sys::exit_now(0);
        }
        if !client {
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        }
        let mut pfd = [nix::poll::PollFd::new(
            conn.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if matches!(
            nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(50u16)),
            Ok(n) if n > 0
        ) {
            let mut b = [0u8; 64];
            match nix::unistd::read(conn.as_raw_fd(), &mut b) {
                Ok(n) if n > 0 => {
                    if let Some(sig) = std::str::from_utf8(&b[..n])
                        .ok()
                        .and_then(|s| s.strip_prefix("signal "))
                        .and_then(|s| s.trim().parse::<i32>().ok())
                        .and_then(|s| nix::sys::signal::Signal::try_from(s).ok())
                    {
                        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child), sig);
                    }
                }
                _ => {
                    // The exec client is gone (killed): the process it stood for goes too, as the shim expects
                    // when it kills the pid it was given.
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(child),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    client = false;
                }
            }
        }
    }
}

/// In the process, before exec: its session, terminal, stdio and directory. Returns why it could not exec.
fn start(
    req: &Request,
    fds: &[OwnedFd],
    cwd: &CStr,
    argv: &[CString],
    envp: &[CString],
    keep: i32,
) -> String {
    if let Err(e) = nix::unistd::setsid() {
        return format!("setsid: {}", e.desc());
    }
    if req.tty {
        let Some(slave) = fds.first() else {
            return "no terminal".into();
        };
        if let Err(e) = sys::set_controlling_tty(slave.as_fd()) {
            return format!("controlling terminal: {}", e.desc());
        }
    }
    for n in 0..3 {
        let Some(f) = fds.get(if req.tty { 0 } else { n }) else {
            return "missing stdio".into();
        };
        if let Err(e) = nix::unistd::dup2(f.as_raw_fd(), i32::try_from(n).unwrap_or(0)) {
            return format!("stdio {n}: {}", e.desc());
        }
    }
    if let Err(e) = become_user(req.uid, req.gid, &req.groups) {
        return e;
    }
    if let Err(e) = nix::unistd::chdir(cwd) {
        return format!("cwd {}: {}", cwd.to_string_lossy(), e.desc());
    }
    // Everything else goes; the error pipe (close-on-exec) stays to say why an exec failed.
    sys::close_from_except(3, keep);
    let Some(program) = argv.first() else {
        return "no command".into();
    };
    let e = execvpe(program, argv, envp);
    format!(
        "exec {:?}: {}",
        program.to_string_lossy(),
        if e == Errno::ENOENT {
            "No such file or directory (not found in $PATH)".to_string()
        } else {
            e.desc().to_string()
        }
    )
}

/// execve, searching the PATH of `envp` (not the caller's) for a name without a slash, as runc does. Returns the
/// error of the last attempt that mattered (EACCES over ENOENT, as execvp reports).
pub fn execvpe(program: &CStr, argv: &[CString], envp: &[CString]) -> Errno {
    let name = program.to_bytes();
    if name.is_empty() {
        return Errno::ENOENT;
    }
    if name.contains(&b'/') {
        return sys::execve(program, argv, envp);
    }
    let path = envp
        .iter()
        .find_map(|e| e.to_bytes().strip_prefix(b"PATH="))
        .unwrap_or(b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let mut err = Errno::ENOENT;
    for dir in path.split(|b| *b == b':') {
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let mut full = dir.to_vec();
        full.push(b'/');
        full.extend_from_slice(name);
        let Ok(c) = CString::new(full) else { continue };
        match sys::execve(&c, argv, envp) {
            Errno::EACCES => err = Errno::EACCES,
            Errno::ENOENT | Errno::ENOTDIR => {}
            e => return e,
        }
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_over_a_socket_with_its_fds() {
        let (a, b) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::SeqPacket,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .expect("socketpair");
        let req = Request {
            args: vec!["echo".into(), "hi".into()],
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            tty: false,
            uid: 0,
            gid: 0,
            groups: vec![],
        };
        let null = std::fs::File::open("/dev/null").expect("null");
        send(a.as_fd(), &req, &[null.as_fd(), null.as_fd()]).expect("send");
        let (got, fds) = recv(b.as_fd()).expect("recv");
        assert_eq!(got.args, req.args);
        assert_eq!(fds.len(), 2);
    }

    #[test]
    fn reports_are_one_json_object_each() {
        let r = serde_json::to_string(&Report::Exit(256)).expect("json");
        assert_eq!(r, r#"{"exit":256}"#);
        let back: Report = serde_json::from_str(r#"{"pid":7}"#).expect("parse");
        assert_eq!(back, Report::Pid(7));
    }
}
