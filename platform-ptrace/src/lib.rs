//! The ptrace platform: mechanism only, no policy.
//!
//! The agent runs the same BPF program as on the seccomp platform, compiled with `SECCOMP_RET_TRACE` in place of
//! user-notify (see `platform_seccomp::bpf::Trap::Trace`): native syscalls never stop, the others stop the task in
//! a seccomp stop of its tracer. One thread, the tracer, owns every tracee (the kernel lets only the tracer thread
//! ptrace them). It waits for their stops, turns each seccomp stop into a [`Notification`] shaped exactly like the
//! seccomp platform's (so the sentry's dispatch does not know the difference), queues it for the sentry's workers, and
//! applies their answers:
//! - a value or an errno: the syscall is skipped (`orig_rax = -1`) and `rax` set;
//! - continue: the task runs the syscall itself;
//! - an fd: injected with a `recvmsg` on a socket reserved for the purpose ([`inject`]), registers restored exactly.
//!
//! Everything else the tracer sees is passed on as natively: signals are re-injected at their delivery stops, group
//! stops are held with `PTRACE_LISTEN` (so job control and SIGCONT behave as without a tracer), new tasks are traced
//! from their first instruction (`TRACEFORK|TRACEVFORK|TRACECLONE`), exec and exit are followed. `EXITKILL` ties
//! every tracee's life to the tracer thread: if the sentry dies, so does the sandbox.
//!
//! The process using this crate must keep SIGCHLD blocked in every thread (the tracer waits for it on a signalfd);
//! [`Tracer::spawn`] blocks it in the calling thread, which new threads inherit.

pub mod inject;
mod sys;

use std::collections::{HashMap, HashSet, VecDeque};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};

use nix::errno::Errno;
pub use platform_seccomp::{Notification, TaskMem};

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;

/// The options every tracee gets.
pub const OPTIONS: i32 = libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_EXITKILL;

/// How a trapped syscall ends.
#[derive(Debug)]
pub enum Reply {
    /// Skip the syscall; it returns this value.
    Val(i64),
    /// Skip the syscall; it fails with this errno.
    Err(Errno),
    /// Let the task run the syscall.
    Continue,
    /// Install the fd in the task (lowest free number, as an open would) and return its number.
    Fd { fd: OwnedFd, cloexec: bool },
}

enum Cmd {
    Seize(i32, mpsc::Sender<Result<(), Errno>>),
    Answer {
        id: u64,
        tid: i32,
        reply: Reply,
        back: Option<mpsc::Sender<Result<i64, Errno>>>,
    },
    InstallAt {
        id: u64,
        tid: i32,
        fd: OwnedFd,
        at: i32,
        cloexec: bool,
        back: mpsc::Sender<Result<(), Errno>>,
    },
}

#[derive(Default)]
struct Traps {
    queue: VecDeque<Notification>,
    /// Every tracee is gone: the sandbox is over.
    done: bool,
}

struct Shared {
    cmds: Mutex<VecDeque<Cmd>>,
    wake: OwnedFd,
    traps: Mutex<Traps>,
    cv: Condvar,
    /// Traps whose task is still waiting in its seccomp stop.
    pending: Mutex<HashSet<u64>>,
}

/// The handle the sentry holds: the tracer thread runs behind it.
pub struct Tracer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tracer")
    }
}

impl Tracer {
    /// Starts the tracer thread. Blocks SIGCHLD in the calling thread first (threads started later inherit it).
    pub fn spawn() -> Result<Self, Errno> {
        sys::block_sigchld()?;
        let wake = nix::sys::eventfd::EventFd::from_flags(
            nix::sys::eventfd::EfdFlags::EFD_CLOEXEC | nix::sys::eventfd::EfdFlags::EFD_NONBLOCK,
        )?;
        let shared = Arc::new(Shared {
            cmds: Mutex::default(),
            wake: OwnedFd::from(wake),
            traps: Mutex::default(),
            cv: Condvar::new(),
            pending: Mutex::default(),
        });
        let s = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("sentry-tracer".into())
            .spawn(move || State::new(s).run())
            .map_err(|_| Errno::EAGAIN)?;
        Ok(Self { shared })
    }

    fn send(&self, c: Cmd) {
        if let Ok(mut q) = self.shared.cmds.lock() {
            q.push_back(c);
        }
        let _ = nix::unistd::write(self.shared.wake.as_fd(), &1u64.to_ne_bytes());
    }

    /// Seizes `pid` (with [`OPTIONS`]); from here on its seccomp stops become notifications.
    pub fn seize(&self, pid: i32) -> Result<(), Errno> {
        let (tx, rx) = mpsc::channel();
        self.send(Cmd::Seize(pid, tx));
        rx.recv().map_err(|_| Errno::ESRCH)?
    }

    /// Blocks for the next trapped syscall; `None` once every tracee is gone.
    pub fn next(&self) -> Option<Notification> {
        let Ok(mut t) = self.shared.traps.lock() else {
            return None;
        };
        loop {
            if let Some(n) = t.queue.pop_front() {
                return Some(n);
            }
            if t.done {
                return None;
            }
            t = self.shared.cv.wait(t).ok()?;
        }
    }

    /// Answers a notification. A value, an errno or continue are applied by the tracer without waiting (the result
    /// is known); an fd waits for the injection and returns the number the task got.
    pub fn answer(&self, n: &Notification, reply: Reply) -> Result<i64, Errno> {
        let known = match &reply {
            Reply::Val(v) => Some(Ok(*v)),
            Reply::Err(e) => Some(Err(*e)),
            Reply::Continue => Some(Ok(0)),
            Reply::Fd { .. } => None,
        };
        if let Some(r) = known {
            if !self.valid(n.id) {
                return Err(Errno::ENOENT);
            }
            self.send(Cmd::Answer {
                id: n.id,
                tid: n.pid,
                reply,
                back: None,
            });
            return r;
        }
        let (tx, rx) = mpsc::channel();
        self.send(Cmd::Answer {
            id: n.id,
            tid: n.pid,
            reply,
            back: Some(tx),
        });
        rx.recv().map_err(|_| Errno::ESRCH)?
    }

    /// Installs `fd` in the trapped task at exactly the number `at` (replacing what is there), leaving the trap pending
    /// for its answer. Injected like an fd answer, then `dup3` onto `at` and `close` of the number it arrived at.
    pub fn install_at(
        &self,
        n: &Notification,
        fd: OwnedFd,
        at: i32,
        cloexec: bool,
    ) -> Result<(), Errno> {
        let (tx, rx) = mpsc::channel();
        self.send(Cmd::InstallAt {
            id: n.id,
            tid: n.pid,
            fd,
            at,
            cloexec,
            back: tx,
        });
        rx.recv().map_err(|_| Errno::ESRCH)?
    }

    /// Is the task still waiting in the seccomp stop of this notification?
    pub fn valid(&self, id: u64) -> bool {
        self.shared.pending.lock().is_ok_and(|p| p.contains(&id))
    }
}

/// Where a tracee is, as far as the tracer knows.
#[derive(Default)]
struct Task {
    /// Stopped at a trapped syscall awaiting the answer to this notification: its registers at the seccomp stop, and
    /// where it is now (still at that stop, or at the exit of a syscall injected meanwhile by `install_at`).
    trap: Option<(u64, inject::Injection)>,
    /// Signals that arrived during an injection, delivered when the task resumes.
    deferred: Vec<i32>,
    tgid: Option<i32>,
}

/// The tracer thread's state. Only this thread calls ptrace.
struct State {
    shared: Arc<Shared>,
    tasks: HashMap<i32, Task>,
    chans: HashMap<i32, inject::Channel>,
    seized: bool,
    next_id: u64,
    me: i32,
}

fn is_stop_signal(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    )
}

impl State {
    fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            tasks: HashMap::new(),
            chans: HashMap::new(),
            seized: false,
            next_id: 1,
            me: std::process::id().cast_signed(),
        }
    }

    fn run(mut self) {
        // SIGCHLD is blocked (inherited): every tracee stop queues one, read here.
        let _ = sys::block_sigchld();
        let mut mask = nix::sys::signal::SigSet::empty();
        mask.add(nix::sys::signal::Signal::SIGCHLD);
        let Ok(sfd) = nix::sys::signalfd::SignalFd::with_flags(
            &mask,
            nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
        ) else {
            self.finish();
            return;
        };
        loop {
            {
                use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
                let mut fds = [
                    PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.shared.wake.as_fd(), PollFlags::POLLIN),
                ];
                // A safety net, not the mechanism: if a SIGCHLD were taken by another thread that has it unblocked
                // (the process must block it everywhere), the tracer still looks again within 100 ms.
                match poll(&mut fds, PollTimeout::from(100u8)) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(_) => break,
                }
            }
            while let Ok(Some(_)) = sfd.read_signal() {}
            let mut b = [0u8; 8];
            let _ = nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&self.shared.wake), &mut b);
            self.commands();
            self.reap();
            if self.seized && self.tasks.is_empty() {
                break;
            }
        }
        self.finish();
    }

    fn finish(&self) {
        if let Ok(mut t) = self.shared.traps.lock() {
            t.done = true;
        }
        self.shared.cv.notify_all();
    }

    fn commands(&mut self) {
        loop {
            let c = match self.shared.cmds.lock() {
                Ok(mut q) => q.pop_front(),
                Err(_) => None,
            };
            let Some(c) = c else { return };
            match c {
                Cmd::Seize(pid, back) => {
                    let r = sys::seize(pid, OPTIONS);
                    if r.is_ok() {
                        self.seized = true;
                        self.tasks.entry(pid).or_default();
                    }
                    let _ = back.send(r);
                }
                Cmd::Answer {
                    id,
                    tid,
                    reply,
                    back,
                } => {
                    let r = self.answer(id, tid, reply);
                    if let Some(b) = back {
                        let _ = b.send(r);
                    }
                }
                Cmd::InstallAt {
                    id,
                    tid,
                    fd,
                    at,
                    cloexec,
                    back,
                } => {
                    let r = self.install_at(id, tid, fd, at, cloexec);
                    let _ = back.send(r);
                }
            }
        }
    }

    /// Every stop and exit reported so far, without blocking.
    fn reap(&mut self) {
        loop {
            match sys::wait(-1, libc::__WNOTHREAD | libc::WNOHANG) {
                Ok(Some((pid, status))) => self.event(pid, status),
                Err(Errno::EINTR) => {}
                Ok(None) | Err(_) => return,
            }
        }
    }

    fn gone(&mut self, pid: i32) {
        if let Some(t) = self.tasks.remove(&pid) {
            if let Some((id, _)) = t.trap {
                if let Ok(mut p) = self.shared.pending.lock() {
                    p.remove(&id);
                }
            }
        }
        self.chans.remove(&pid);
    }

    /// Resumes a task, delivering `sig`, or a signal held back during an injection.
    fn resume(&mut self, pid: i32, sig: i32) {
        let mut sig = sig;
        if let Some(t) = self.tasks.get_mut(&pid) {
            if !t.deferred.is_empty() {
                let extra: Vec<i32> = t.deferred.drain(..).collect();
                let tgid = t.tgid;
                for (i, s) in extra.into_iter().enumerate() {
                    if i == 0 && sig == 0 {
                        sig = s;
                    } else {
                        // More than one: the rest are raised again (their siginfo is lost; rare).
                        let _ = sys::tgkill(tgid.unwrap_or(pid), pid, s);
                    }
                }
            }
        }
        let _ = sys::cont(pid, sig);
    }

    fn event(&mut self, pid: i32, status: i32) {
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            self.gone(pid);
            return;
        }
        if !libc::WIFSTOPPED(status) {
            return;
        }
        self.tasks.entry(pid).or_default();
        let sig = libc::WSTOPSIG(status);
        let ev = (status >> 16) & 0xff;
        match ev {
            0 if sig == (libc::SIGTRAP | 0x80) => self.resume(pid, 0),
            // A signal-delivery stop: deliver it, as natively.
            0 => self.resume(pid, sig),
            libc::PTRACE_EVENT_SECCOMP => self.trap(pid),
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                // The new task is already traced and starts in a stop of its own, reported separately.
                if let Ok(child) = sys::geteventmsg(pid) {
                    if let Ok(c) = i32::try_from(child) {
                        self.tasks.entry(c).or_default();
                    }
                }
                self.resume(pid, 0);
            }
            libc::PTRACE_EVENT_EXEC => {
                // A non-leader thread that execs takes the leader's id; the former id vanishes without an exit report.
                if let Ok(former) = sys::geteventmsg(pid) {
                    if let Ok(f) = i32::try_from(former) {
                        if f != pid {
                            self.gone(f);
                        }
                    }
                }
                // The old image's state (a trap of the killed leader, the reserved socket, closed on exec) is stale.
                let stale = self.tasks.get_mut(&pid).and_then(|t| t.trap.take());
                if let Some((id, _)) = stale {
                    if let Ok(mut p) = self.shared.pending.lock() {
                        p.remove(&id);
                    }
                }
                self.chans.remove(&pid);
                self.resume(pid, 0);
            }
            libc::PTRACE_EVENT_STOP if is_stop_signal(sig) => {
                // A group stop: stay stopped until SIGCONT, as natively, while still reporting events.
                if sys::listen(pid).is_err() {
                    self.resume(pid, 0);
                }
            }
            _ => self.resume(pid, 0),
        }
    }

    fn trap(&mut self, pid: i32) {
        let Ok(regs) = sys::getregs(pid) else {
            // Killed while stopping: its exit is reported next.
            return;
        };
        let id = self.next_id;
        self.next_id += 1;
        if let Some(t) = self.tasks.get_mut(&pid) {
            t.trap = Some((id, inject::Injection::at_stop(pid, regs)));
        }
        if let Ok(mut p) = self.shared.pending.lock() {
            p.insert(id);
        }
        let n = Notification {
            id,
            pid,
            nr: regs.orig_rax.cast_signed(),
            arch: AUDIT_ARCH_X86_64,
            ip: regs.rip,
            args: [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9],
        };
        if let Ok(mut t) = self.shared.traps.lock() {
            t.queue.push_back(n);
        }
        self.shared.cv.notify_one();
    }

    /// The pending trap `id` of `tid`, taken out of its task (put back by `install_at`).
    fn take_trap(&mut self, id: u64, tid: i32) -> Result<inject::Injection, Errno> {
        let task = self.tasks.get_mut(&tid).ok_or(Errno::ESRCH)?;
        match task.trap.take() {
            Some((i, inj)) if i == id => Ok(inj),
            other => {
                task.trap = other;
                Err(Errno::ESRCH)
            }
        }
    }

    fn answer(&mut self, id: u64, tid: i32, reply: Reply) -> Result<i64, Errno> {
        let mut inj = self.take_trap(id, tid)?;
        if let Ok(mut p) = self.shared.pending.lock() {
            p.remove(&id);
        }
        match reply {
            // Skipped: the syscall returns the value without running.
            Reply::Val(v) => self.restore(&inj, v).map(|()| v),
            Reply::Err(e) => self.restore(&inj, -(e as i64)).and(Err(e)),
            Reply::Continue if inj.at_entry => {
                self.resume(tid, 0);
                Ok(0)
            }
            Reply::Continue => {
                // Something was injected at this stop already: the task's own call runs as one more injection.
                let r = self.inject_original(&mut inj);
                match r {
                    Ok(ret) => self.restore(&inj, ret).map(|()| 0),
                    Err(Errno::ESRCH) => Err(Errno::ESRCH),
                    Err(e) => self.restore(&inj, -(e as i64)).and(Err(e)),
                }
            }
            Reply::Fd { fd, cloexec } => self.install(inj, fd, cloexec),
        }
    }

    fn tgid(&mut self, tid: i32) -> i32 {
        if let Some(g) = self.tasks.get(&tid).and_then(|t| t.tgid) {
            return g;
        }
        let g = std::fs::read_to_string(format!("/proc/{tid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Tgid:"))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(tid);
        if let Some(t) = self.tasks.get_mut(&tid) {
            t.tgid = Some(g);
        }
        g
    }
}
