//! The sentry's side: start a gofer, and call it.
//!
//! A [`Client`] holds the first connection (control: hello, roots, seal, new connections, counters) and a pool of
//! further connections, one per concurrent caller, so that a call blocked in the gofer (a FIFO waiting for its other
//! end) never holds up another. Any sign that the gofer is gone or misbehaving — end of file, a malformed reply, an fd
//! where none belongs — marks the client failed: the call and every later one get EIO, and the gofer is killed, which
//! the sentry sees on its pidfd and answers by stopping the sandbox (fail closed).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::confine::{Grant, READY};
use crate::proto::{Reply, Req, RootId, VERSION};
use crate::{sys, wire};

const NS: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS;

/// How long a caller polls for the gofer's answer before sleeping on it (see `wire::recv_spin`).
const SPIN: std::time::Duration = std::time::Duration::from_micros(200);

/// A running gofer and the connections to it.
#[derive(Debug)]
pub struct Client {
    ctl: Mutex<OwnedFd>,
    idle: Mutex<Vec<OwnedFd>>,
    pidfd: OwnedFd,
    pid: libc::pid_t,
    failed: AtomicBool,
    why: Mutex<Option<String>>,
    calls: AtomicU64,
}

/// Starts a gofer serving `grants` (root ids are their indexes). `write_maps` writes the child's uid and gid maps
/// (the sentry knows how); it runs before the gofer does anything. Call only while the process is single-threaded.
pub fn spawn(
    grants: &[Grant],
    write_maps: impl FnOnce(libc::pid_t) -> Result<(), String>,
) -> Result<Client, String> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("gofer socket: {}", e.desc()))?;
    let pid = sys::fork_into_namespaces(NS).map_err(|e| {
        format!(
            "cannot create the gofer's namespaces ({}): user namespaces may be restricted on this host",
            e.desc()
        )
    })?;
    if pid == 0 {
        drop(ours);
        crate::confine::child_main(theirs, grants);
    }
    drop(theirs);
    let pidfd = sys::pidfd_open(pid).map_err(|e| format!("gofer pidfd: {}", e.desc()))?;
    let kill = |m: String| {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        m
    };
    write_maps(pid).map_err(kill)?;
    wire::send(ours.as_fd(), b"GO", None)
        .map_err(|e| kill(format!("start the gofer: {}", e.desc())))?;
    match wire::recv(ours.as_fd()) {
        Ok(Some((b, None))) if b == READY => {}
        Ok(Some((b, None))) if b.starts_with(b"ERR ") => {
            return Err(kill(format!(
                "the gofer could not confine itself: {}",
                String::from_utf8_lossy(&b[4..])
            )))
        }
        _ => return Err(kill("the gofer died during set-up".into())),
    }
    let c = Client {
        ctl: Mutex::new(ours),
        idle: Mutex::new(Vec::new()),
        pidfd,
        pid,
        failed: AtomicBool::new(false),
        why: Mutex::new(None),
        calls: AtomicU64::new(0),
    };
    match c.control(&Req::Hello { version: VERSION }, None) {
        Ok((v, _)) if v == i64::from(VERSION) => Ok(c),
        Ok(_) | Err(_) => Err(kill("the gofer speaks another protocol version".into())),
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Client {
    /// The gofer's pid (in the caller's namespace).
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Readable once the gofer has exited.
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Why the client gave up on the gofer, if it has.
    pub fn failure(&self) -> Option<String> {
        self.why.lock().ok().and_then(|w| w.clone())
    }

    /// Calls made (requests answered), counted on this side.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Ends the gofer (at the end of the sandbox): killed and reaped, so nothing of the sandbox outlives `stop`.
    pub fn stop(&self) {
        self.failed.store(true, Ordering::SeqCst);
        self.kill();
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.pid), None);
    }

    fn kill(&self) {
        let _ = sys::pidfd_kill(self.pidfd.as_fd());
    }

    /// Gives up on the gofer: every call from now on is EIO, and the gofer is killed.
    pub fn fail(&self, why: &str) {
        if !self.failed.swap(true, Ordering::SeqCst) {
            if let Ok(mut w) = self.why.lock() {
                *w = Some(why.to_string());
            }
        }
        self.kill();
    }

    fn exchange(
        &self,
        sock: BorrowedFd<'_>,
        req: &Req,
        fd: Option<BorrowedFd<'_>>,
    ) -> Result<(Reply, Option<OwnedFd>), Errno> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(Errno::EIO);
        }
        if let Err(e) = wire::send(sock, &req.encode(), fd) {
            self.fail(&format!("sending to the gofer failed: {}", e.desc()));
            return Err(Errno::EIO);
        }
        let (bytes, got) = match wire::recv_spin(sock, SPIN) {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.fail("the gofer closed its connection");
                return Err(Errno::EIO);
            }
            Err(e) => {
                self.fail(&format!("receiving from the gofer failed: {}", e.desc()));
                return Err(Errno::EIO);
            }
        };
        let reply = match Reply::decode(&bytes) {
            Ok(r) => r,
            Err(m) => {
                self.fail(&format!("the gofer sent a {m}"));
                return Err(Errno::EIO);
            }
        };
        let fd_expected = matches!(req, Req::Open { .. }) && matches!(reply, Reply::Ok { .. });
        if fd_expected != got.is_some() {
            self.fail("the gofer's reply carried an fd where none belongs, or none where one does");
            return Err(Errno::EIO);
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok((reply, got))
    }

    fn control(&self, req: &Req, fd: Option<BorrowedFd<'_>>) -> Result<(i64, Vec<u8>), Errno> {
        let ctl = self.ctl.lock().map_err(|_| Errno::EIO)?;
        let (r, _) = self.exchange(ctl.as_fd(), req, fd)?;
        r.into_result()
    }

    /// A connection of the pool, or a new one.
    fn take(&self) -> Result<OwnedFd, Errno> {
        if let Some(c) = self.idle.lock().map_err(|_| Errno::EIO)?.pop() {
            return Ok(c);
        }
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        self.control(&Req::Connect, Some(theirs.as_fd()))?;
        Ok(ours)
    }

    /// One request on a pooled connection: the value, the data, and the fd (for `Open`).
    pub fn call(&self, req: &Req) -> Result<(i64, Vec<u8>, Option<OwnedFd>), Errno> {
        let conn = self.take()?;
        let (reply, fd) = self.exchange(conn.as_fd(), req, None)?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        let (v, d) = reply.into_result()?;
        Ok((v, d, fd))
    }

    /// Adds a writable root served from `dir` (before `seal`). Returns its id.
    pub fn add_root(&self, dir: BorrowedFd<'_>) -> Result<RootId, Errno> {
        let (v, _) = self.control(&Req::AddRoot, Some(dir))?;
        RootId::try_from(v).map_err(|_| Errno::EIO)
    }

    /// No more roots.
    pub fn seal(&self) -> Result<(), Errno> {
        self.control(&Req::Seal, None).map(drop)
    }

    /// The gofer's counters, `op=count` per line.
    pub fn stats(&self) -> Result<String, Errno> {
        let (_, d) = self.control(&Req::Stats, None)?;
        Ok(String::from_utf8_lossy(&d).into_owned())
    }

    /// open(2) beneath a root.
    pub fn open(&self, root: RootId, path: &[u8], flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
        let (_, _, fd) = self.call(&Req::Open {
            root,
            path: path.to_vec(),
            flags,
            mode,
        })?;
        fd.ok_or(Errno::EIO)
    }

    /// A call whose reply is only success or an errno.
    pub fn unit(&self, req: &Req) -> Result<(), Errno> {
        self.call(req).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client whose "gofer" is a `sleep` process and whose server is `serve_one` on the other end of the socket:
    /// what the client does with a misbehaving gofer.
    fn fake(serve_one: impl FnOnce(OwnedFd) + Send + 'static) -> (Client, std::process::Child) {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .expect("socketpair");
        let child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("spawn sleep");
        let pid = libc::pid_t::try_from(child.id()).expect("pid");
        std::thread::spawn(move || serve_one(theirs));
        let c = Client {
            ctl: Mutex::new(ours),
            idle: Mutex::new(Vec::new()),
            pidfd: sys::pidfd_open(pid).expect("pidfd"),
            pid,
            failed: AtomicBool::new(false),
            why: Mutex::new(None),
            calls: AtomicU64::new(0),
        };
        (c, child)
    }

    fn assert_gave_up(c: &Client, mut child: std::process::Child, what: &str) {
        assert_eq!(c.stats(), Err(Errno::EIO), "{what}: later calls");
        assert!(c.failure().is_some(), "{what}: no reason recorded");
        // The gofer was killed (and is reaped here, as the sentry reaps it).
        let st = child.wait().expect("wait");
        assert!(!st.success(), "{what}: the gofer was not killed");
    }

    #[test]
    fn a_malformed_reply_is_eio_and_the_gofer_is_killed() {
        let (c, child) = fake(|s| {
            let _ = wire::recv(s.as_fd());
            let _ = wire::send(s.as_fd(), b"CVG1\x64garbage", None);
            std::thread::sleep(std::time::Duration::from_secs(2));
        });
        assert_eq!(c.control(&Req::Stats, None), Err(Errno::EIO));
        assert!(c.failure().unwrap_or_default().contains("malformed"));
        assert_gave_up(&c, child, "malformed reply");
    }

    #[test]
    fn an_unexpected_fd_is_eio_and_the_gofer_is_killed() {
        let (c, child) = fake(|s| {
            let _ = wire::recv(s.as_fd());
            let f = sys::open_abs(c"/dev/null", libc::O_RDONLY).expect("open");
            let _ = wire::send(s.as_fd(), &Reply::ok(0).encode(), Some(f.as_fd()));
            std::thread::sleep(std::time::Duration::from_secs(2));
        });
        assert_eq!(c.control(&Req::Seal, None), Err(Errno::EIO));
        assert_gave_up(&c, child, "stray fd");
    }

    #[test]
    fn end_of_file_is_eio_and_an_out_of_range_errno_is_refused() {
        let (c, child) = fake(drop);
        assert_eq!(c.control(&Req::Stats, None), Err(Errno::EIO));
        assert_gave_up(&c, child, "end of file");
        let (c, child) = fake(|s| {
            let _ = wire::recv(s.as_fd());
            let _ = wire::send(s.as_fd(), &Reply::Err(99_999).encode(), None);
            std::thread::sleep(std::time::Duration::from_secs(2));
        });
        assert_eq!(c.control(&Req::Stats, None), Err(Errno::EIO));
        assert_gave_up(&c, child, "errno out of range");
    }
}
