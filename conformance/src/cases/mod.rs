//! The probe corpus, one file per family. Each file exports `CASES`.

pub mod denied;
pub mod fd;
pub mod fs;
pub mod fs_dir;
pub mod fs_io;
pub mod helper;
pub mod ident;
pub mod ipc;
pub mod links;
pub mod mm;
pub mod perm;
pub mod pipe;
pub mod poll;
pub mod process;
pub mod process_sched;
pub mod procfs;
pub mod selftest;
pub mod signal;
pub mod socket;
pub mod thread;
pub mod time;
