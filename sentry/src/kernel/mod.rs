//! The sandbox's kernel state shared by every worker: the listener, the policy, the VFS and the audit log.

#![forbid(unsafe_code)]

pub mod pool;
pub mod task;

use crate::audit::Audit;
use crate::platform::Platform;
use crate::policy::Policy;
use crate::vfs::Vfs;

/// Everything a syscall handler may reach, shared read-only by the workers.
#[derive(Debug)]
pub struct Kernel {
    pub platform: Box<dyn Platform>,
    pub policy: Policy,
    pub vfs: Vfs,
    pub audit: Audit,
    pub pool: pool::Pool,
}
