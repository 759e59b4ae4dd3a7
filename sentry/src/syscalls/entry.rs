//! The shape of one syscall table entry. The table itself is `table.rs`; dispatch is `mod.rs`.

use nix::errno::Errno;
use platform_seccomp::bpf::Cond;

use super::{SysResult, SyscallArgs};
use crate::kernel::task::Task;

/// One handler per emulated syscall: `sys_<linux name>`.
pub type Handler = fn(&mut Task<'_>, &SyscallArgs) -> SysResult;

/// How a syscall is served.
#[derive(Clone, Copy)]
pub enum Support {
    /// Runs in the host kernel untouched; never stops.
    Native,
    /// Trapped to the sentry and served by the handler.
    Emulated(Handler),
    /// Refused in BPF with the errno; never reaches the host kernel or the sentry.
    Denied(Errno),
    /// Native, but refused in BPF with the errno when any conjunction of conditions matches.
    Guarded(Errno, &'static [&'static [Cond]]),
}

/// One row of THE table.
#[derive(Clone, Copy)]
pub struct Entry {
    pub name: &'static str,
    pub support: Support,
    /// One line: why this disposition.
    pub note: &'static str,
}

impl Entry {
    pub const fn native(name: &'static str, note: &'static str) -> Self {
        Self {
            name,
            support: Support::Native,
            note,
        }
    }
    pub const fn emulated(name: &'static str, handler: Handler, note: &'static str) -> Self {
        Self {
            name,
            support: Support::Emulated(handler),
            note,
        }
    }
    pub const fn denied(name: &'static str, errno: Errno, note: &'static str) -> Self {
        Self {
            name,
            support: Support::Denied(errno),
            note,
        }
    }
    pub const fn guarded(
        name: &'static str,
        errno: Errno,
        when: &'static [&'static [Cond]],
        note: &'static str,
    ) -> Self {
        Self {
            name,
            support: Support::Guarded(errno, when),
            note,
        }
    }

    /// "native", "emulated", "denied(EPERM)", "guarded(EPERM)".
    pub fn disposition(&self) -> String {
        match self.support {
            Support::Native => "native".to_string(),
            Support::Emulated(_) => "emulated".to_string(),
            Support::Denied(e) => format!("denied({e})"),
            Support::Guarded(e, _) => format!("guarded({e})"),
        }
    }
}
