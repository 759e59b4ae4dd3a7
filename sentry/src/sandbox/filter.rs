//! The seccomp program, compiled from THE table. The trapped set is static: configuration never changes it.

#![forbid(unsafe_code)]

use platform_seccomp::bpf::{self, Guarded, Spec, Trap};
use seccompiler_compat::Program;

use crate::syscalls::{table::TABLE, Support};

mod seccompiler_compat {
    pub type Program = Vec<platform_seccomp::sock_filter>;
}

/// The table as the filter sees it.
pub fn spec() -> Spec {
    let mut s = Spec::default();
    for (nr, e) in TABLE {
        match e.support {
            Support::Native => s.native.push(*nr),
            Support::Emulated(_) => {}
            Support::Denied(errno) => s.denied.push((*nr, errno as i32)),
            Support::Guarded(errno, when) => s.guarded.push(Guarded {
                nr: *nr,
                errno: errno as i32,
                any_of: when.iter().map(|c| c.to_vec()).collect(),
            }),
        }
    }
    s
}

/// The programs to install, trap filter last.
pub fn programs(trap: Trap) -> Result<Vec<Program>, bpf::BpfError> {
    bpf::compile(&spec(), trap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_table_compiles_for_both_platforms() {
        assert!(programs(Trap::Notify).is_ok());
        assert!(programs(Trap::Trace).is_ok());
    }

    #[test]
    fn spec_has_no_emulated_numbers() {
        let s = spec();
        let open = libc::SYS_openat;
        assert!(!s.native.contains(&open));
        assert!(!s.denied.iter().any(|d| d.0 == open));
    }
}
