//! The probe's syscall layer: raw syscalls by number behind safe wrappers. All of the probe's `unsafe` lives here.

pub mod file;
pub mod ipc;
pub mod mem;
pub mod misc;
pub mod net;
pub mod proc;
pub mod raw;
pub mod sig;
pub mod time;

pub use file::*;
pub use ipc::*;
pub use mem::*;
pub use misc::*;
pub use net::*;
pub use proc::*;
pub use raw::*;
pub use time::*;
