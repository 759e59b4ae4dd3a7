//! The sandbox's kernel state shared by every worker: the listener, the policy, the VFS and the audit log.

#![forbid(unsafe_code)]

pub mod task;

use platform_seccomp::Notifier;

use crate::audit::Audit;
use crate::policy::Policy;
use crate::vfs::Vfs;

/// Everything a syscall handler may reach, shared read-only by the workers.
#[derive(Debug)]
pub struct Kernel {
    pub notifier: Notifier,
    pub policy: Policy,
    pub vfs: Vfs,
    pub audit: Audit,
}
