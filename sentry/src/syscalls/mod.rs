//! Syscall dispatch: the only caller of handlers, and the one place where the answer is sent and the audit record
//! written.

#![forbid(unsafe_code)]

pub mod entry;
pub mod fs;
pub mod net;
pub mod process;
pub mod table;
pub mod xattr;

use std::os::fd::OwnedFd;
use std::sync::OnceLock;
use std::time::Instant;

use nix::errno::Errno;
use platform_seccomp::Notification;

use crate::audit::Event;
use crate::kernel::task::Task;
use crate::kernel::Kernel;
use crate::platform::Answer;
use crate::vfs::Start;
pub use entry::{Entry, Support};

/// What a handler answers.
#[derive(Debug)]
pub enum Reply {
    /// The syscall's return value.
    Val(i64),
    /// Install this fd in the task (lowest free number) and return its number.
    Fd { fd: OwnedFd, cloexec: bool },
    /// Let the task run the syscall itself: only where the mount view bounds the worst case (execve, chdir).
    Continue,
}

pub type SysResult = Result<Reply, Errno>;

/// The raw arguments, with typed accessors (the only place argument words are narrowed).
#[derive(Clone, Copy, Debug)]
pub struct SyscallArgs {
    pub nr: i64,
    raw: [u64; 6],
}

#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
impl SyscallArgs {
    pub fn new(nr: i64, raw: [u64; 6]) -> Self {
        Self { nr, raw }
    }
    pub fn u64(&self, i: usize) -> u64 {
        self.raw[i]
    }
    /// A pointer argument (validated when it is read).
    pub fn ptr(&self, i: usize) -> u64 {
        self.raw[i]
    }
    /// An `int` argument: the kernel reads the low 32 bits.
    pub fn i32(&self, i: usize) -> i32 {
        self.raw[i] as u32 as i32
    }
    /// An `unsigned int` / mode argument.
    pub fn u32(&self, i: usize) -> u32 {
        self.raw[i] as u32
    }
    pub fn i64(&self, i: usize) -> i64 {
        self.raw[i] as i64
    }
    /// A dirfd argument.
    pub fn start(&self, i: usize) -> Start {
        match self.i32(i) {
            libc::AT_FDCWD => Start::Cwd,
            fd => Start::Fd(fd),
        }
    }
}

fn index() -> &'static [Option<&'static Entry>] {
    static INDEX: OnceLock<Vec<Option<&'static Entry>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut v: Vec<Option<&'static Entry>> = vec![None; 512];
        for (nr, e) in table::TABLE {
            if let Some(slot) = usize::try_from(*nr).ok().and_then(|i| v.get_mut(i)) {
                *slot = Some(e);
            }
        }
        v
    })
}

/// The table entry for a number.
pub fn lookup(nr: i64) -> Option<&'static Entry> {
    usize::try_from(nr)
        .ok()
        .and_then(|i| index().get(i).copied().flatten())
}

/// Serves one notification: handler, answer, audit.
pub fn serve(k: &Kernel, n: &Notification) {
    let started = Instant::now();
    let args = SyscallArgs::new(n.nr, n.args);
    let mut t = Task::new(k, n);
    let mut continued = false;
    let (name, result) = match lookup(n.nr) {
        Some(Entry {
            name,
            support: Support::Emulated(h),
            ..
        }) => (*name, h(&mut t, &args)),
        // A native or denied number never reaches the sentry unless the filter and the table disagree: refuse.
        Some(e) => (e.name, Err(Errno::ENOSYS)),
        None => ("unimplemented", Err(Errno::ENOSYS)),
    };
    if result.as_ref().err() == Some(&Errno::ESRCH) && !k.platform.still_valid(n) {
        // The task went away (killed, or a signal interrupted the call, which the kernel restarts): nobody to answer.
        return;
    }
    let answered: Result<i64, Errno> = k.platform.answer(
        n,
        match result {
            Ok(Reply::Val(v)) => Answer::Val(v),
            Ok(Reply::Fd { fd, cloexec }) => Answer::Fd { fd, cloexec },
            Ok(Reply::Continue) => {
                continued = true;
                Answer::Continue
            }
            Err(e) => Answer::Err(e),
        },
    );
    let decisions = t.subject.decisions.borrow();
    for d in decisions.iter().filter(|d| d.net) {
        k.audit.count_dest(&d.path, d.allow);
    }
    let denied = decisions.iter().any(|d| !d.allow);
    k.audit.count(name, denied, answered.is_err());
    if denied {
        // Programs probe many paths that are not there; a lookup outside the grants is not worth a hint.
        let probe = |d: &&crate::policy::Decided| {
            d.rule == "not granted" && d.access == crate::policy::Access::Lookup
        };
        if let Some(d) = decisions.iter().find(|d| !d.allow && !probe(d)) {
            k.audit
                .note_denial(|| format!("{name} {}: {}", d.path, d.rule));
        }
    }
    if !k.audit.wants_records() {
        return;
    }
    let deciding = decisions
        .iter()
        .find(|d| !d.allow)
        .or_else(|| decisions.last());
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", n.pid))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default();
    let unimplemented = lookup(n.nr).is_none();
    let ev = Event {
        time: crate::audit::now(),
        kind: if unimplemented {
            "unimplemented"
        } else {
            "syscall"
        },
        sandbox: &k.audit.sandbox,
        pid: n.pid,
        comm,
        syscall: if unimplemented { "unknown" } else { name },
        args: &t.args,
        decision: match (deciding, &answered) {
            (Some(d), _) if !d.allow => "deny",
            (Some(_), _) => "allow",
            (None, _) if unimplemented => "deny",
            (None, _) => "none",
        },
        rule: deciding.map(|d| d.rule.as_str()),
        checks: decisions.iter().collect(),
        errno: answered.as_ref().err().map(|e| e.desc_name()),
        ret: if continued {
            None
        } else {
            answered.as_ref().ok().copied()
        },
        continued,
        nr: n.nr,
        latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    };
    k.audit.record(&ev);
}

/// Errno names for records.
pub trait ErrnoName {
    fn desc_name(&self) -> &'static str;
}

impl ErrnoName for Errno {
    fn desc_name(&self) -> &'static str {
        // nix's Debug is the symbolic name ("ENOENT"); leak-free via a small cache of static strings.
        static NAMES: OnceLock<std::sync::Mutex<std::collections::HashMap<i32, &'static str>>> =
            OnceLock::new();
        let m = NAMES.get_or_init(Default::default);
        let Ok(mut m) = m.lock() else { return "E?" };
        m.entry(*self as i32)
            .or_insert_with(|| Box::leak(format!("{self:?}").into_boxed_str()))
    }
}
