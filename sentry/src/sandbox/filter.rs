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

    /// The ptrace platform's program is THE table's program with one parameter changed: every instruction is the
    /// same except the trap action (USER_NOTIF becomes TRACE), and nothing else returns TRACE.
    #[test]
    fn ptrace_program_differs_only_in_the_trap_action() {
        const RET_K: u16 = 0x06;
        const USER_NOTIF: u32 = 0x7fc0_0000;
        const TRACE: u32 = 0x7ff0_0000;
        let n = programs(Trap::Notify).expect("notify compiles");
        let t = programs(Trap::Trace).expect("trace compiles");
        assert_eq!(n.len(), t.len());
        let mut changed = 0;
        for (pn, pt) in n.iter().zip(&t) {
            assert_eq!(pn.len(), pt.len());
            for (a, b) in pn.iter().zip(pt) {
                assert_eq!((a.code, a.jt, a.jf), (b.code, b.jt, b.jf));
                if a.k != b.k {
                    assert_eq!((a.code, a.k, b.k), (RET_K, USER_NOTIF, TRACE));
                    changed += 1;
                } else {
                    assert!(!(a.code == RET_K && a.k == TRACE));
                }
            }
        }
        assert!(changed >= 1, "the trap action must appear");
    }

    #[test]
    fn spec_has_no_emulated_numbers() {
        let s = spec();
        let open = libc::SYS_openat;
        assert!(!s.native.contains(&open));
        assert!(!s.denied.iter().any(|d| d.0 == open));
    }
}
