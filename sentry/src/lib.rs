//! capvisor's sentry: the application kernel that serves an agent's syscalls.
//!
//! Layout (see docs/architecture.md): `sandbox` starts and ends sandboxes, `syscalls` is THE table and the handlers,
//! `vfs` resolves paths and serves files, `policy` is the one decision point, `audit` the one audit path, `kernel` the
//! per-call context. `sys` holds every `unsafe` of the crate.

pub mod audit;
pub mod cli;
pub mod kernel;
pub mod net;
pub mod oci;
pub mod platform;
pub mod policy;
pub mod sandbox;
pub mod sys;
pub mod syscalls;
pub mod vfs;
