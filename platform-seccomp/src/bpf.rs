//! Compiles the syscall dispositions into seccomp BPF programs.
//!
//! seccompiler builds one program per action (it has one match action a filter). The kernel runs every installed
//! filter and keeps the answer of highest precedence (KILL > ERRNO > USER_NOTIF > TRACE > ALLOW), so a stack of
//! small filters expresses the three dispositions exactly:
//! - the prelude: kill on a foreign architecture, ENOSYS for x32 numbers (bit 30) and out-of-range numbers;
//! - one errno filter per errno value, for denied syscalls and for guarded ones whose arguments match a guard;
//! - the trap filter: ALLOW for native numbers, the trap (user-notify or ptrace) for everything else — emulated
//!   syscalls and numbers the table does not know, which the sentry answers with ENOSYS and an audit event.
//!
//! Native syscalls take no argument-dependent branch in any filter, so the kernel's seccomp action cache lets them
//! through without running BPF at all.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// How a trapped syscall reaches the sentry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// SECCOMP_RET_USER_NOTIF, served through the listener fd.
    Notify,
    /// SECCOMP_RET_TRACE, served by a ptrace tracer.
    Trace,
}

/// One comparison on a syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `(arg & mask) != 0` — any of the bits is set.
    AnyBit(u64),
    /// The low 32 bits equal the value (ioctl requests, personality).
    Eq32(u32),
    /// The low 32 bits differ from the value.
    Ne32(u32),
    /// The low 32 bits, masked, equal the value (a socket type without its SOCK_NONBLOCK/SOCK_CLOEXEC bits).
    Masked32 { mask: u32, value: u32 },
}

/// A condition on argument `arg` (0..6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond {
    pub arg: u8,
    pub cmp: Cmp,
}

/// A syscall that is native unless one of `any_of` matches; each entry is a conjunction of conditions.
#[derive(Clone, Debug)]
pub struct Guarded {
    pub nr: i64,
    pub errno: i32,
    pub any_of: Vec<Vec<Cond>>,
}

/// What the filter must do with each number. Anything not named here is trapped.
#[derive(Clone, Debug, Default)]
pub struct Spec {
    /// Always run by the host kernel.
    pub native: Vec<i64>,
    /// Always refused in BPF with the errno.
    pub denied: Vec<(i64, i32)>,
    /// Native, but refused in BPF when a guard matches.
    pub guarded: Vec<Guarded>,
}

#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    #[error("seccompiler rejected the filter: {0}")]
    Compile(#[from] seccompiler::BackendError),
    #[error("syscall {0} is named twice in the filter spec")]
    Duplicate(i64),
}

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;

fn stmt(code: u16, k: u32) -> seccompiler::sock_filter {
    seccompiler::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
fn jump(code: u16, k: u32, jt: u8, jf: u8) -> seccompiler::sock_filter {
    seccompiler::sock_filter { code, jt, jf, k }
}

/// The prelude: the architecture check first, then the x32 bit.
pub fn prelude() -> BpfProgram {
    vec![
        stmt(BPF_LD_W_ABS, 4), // seccomp_data.arch
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, 0), // seccomp_data.nr
        jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, SECCOMP_RET_ERRNO | errno_data(libc::ENOSYS)),
        stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
    ]
}

fn errno_data(e: i32) -> u32 {
    u32::try_from(e).unwrap_or(1) & 0xffff
}

fn condition(c: Cond) -> Result<SeccompCondition, BpfError> {
    let (len, op, value) = match c.cmp {
        Cmp::AnyBit(mask) => (SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(mask), 0),
        Cmp::Eq32(v) => (SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, u64::from(v)),
        Cmp::Ne32(v) => (SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, u64::from(v)),
        Cmp::Masked32 { mask, value } => (
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(u64::from(mask)),
            u64::from(value),
        ),
    };
    Ok(SeccompCondition::new(c.arg, len, op, value)?)
}

/// "any bit set" is "masked value != 0": seccompiler only has MaskedEq, so a guard with AnyBit is expressed as one
/// rule per bit of the mask (MaskedEq(bit) == bit), OR-ed by the filter.
fn rules_for(any_of: &[Vec<Cond>]) -> Result<Vec<SeccompRule>, BpfError> {
    let mut out = Vec::new();
    for conj in any_of {
        // Expand each AnyBit condition into its bits; the conjunction is the cartesian product.
        let mut alternatives: Vec<Vec<SeccompCondition>> = vec![Vec::new()];
        for c in conj {
            let options: Vec<SeccompCondition> = match c.cmp {
                Cmp::AnyBit(mask) => (0..64)
                    .map(|b| 1u64 << b)
                    .filter(|bit| mask & bit != 0)
                    .map(|bit| {
                        SeccompCondition::new(
                            c.arg,
                            SeccompCmpArgLen::Qword,
                            SeccompCmpOp::MaskedEq(bit),
                            bit,
                        )
                    })
                    .collect::<Result<_, _>>()?,
                _ => vec![condition(*c)?],
            };
            alternatives = alternatives
                .into_iter()
                .flat_map(|prefix| {
                    options.iter().map(move |o| {
                        let mut v = prefix.clone();
                        v.push(o.clone());
                        v
                    })
                })
                .collect();
        }
        for conds in alternatives {
            out.push(SeccompRule::new(conds)?);
        }
    }
    Ok(out)
}

/// Compiles the spec into the programs to install, in order. The last one is the trap filter (the one that must be
/// installed with `SECCOMP_FILTER_FLAG_NEW_LISTENER` on the notify platform).
pub fn compile(spec: &Spec, trap: Trap) -> Result<Vec<BpfProgram>, BpfError> {
    let mut seen = std::collections::BTreeSet::new();
    let all = spec
        .native
        .iter()
        .copied()
        .chain(spec.denied.iter().map(|d| d.0))
        .chain(spec.guarded.iter().map(|g| g.nr));
    for nr in all {
        if !seen.insert(nr) {
            return Err(BpfError::Duplicate(nr));
        }
    }

    let mut programs = vec![prelude()];

    // One errno filter per errno value.
    let mut by_errno: BTreeMap<i32, BTreeMap<i64, Vec<SeccompRule>>> = BTreeMap::new();
    for (nr, e) in &spec.denied {
        by_errno.entry(*e).or_default().insert(*nr, Vec::new());
    }
    for g in &spec.guarded {
        by_errno
            .entry(g.errno)
            .or_default()
            .insert(g.nr, rules_for(&g.any_of)?);
    }
    for (e, rules) in by_errno {
        let f = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(errno_data(e)),
            TargetArch::x86_64,
        )?;
        programs.push(BpfProgram::try_from(f)?);
    }

    // The trap filter: native and guarded numbers are allowed here (guards are decided by the errno filters).
    let mut allowed: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in spec.native.iter().chain(spec.guarded.iter().map(|g| &g.nr)) {
        allowed.insert(*nr, Vec::new());
    }
    // Denied numbers are allowed here too: the errno filter answers them first, and leaving them out of this
    // filter would only make the kernel's action cache miss.
    for (nr, _) in &spec.denied {
        allowed.insert(*nr, Vec::new());
    }
    let f = SeccompFilter::new(
        allowed,
        SeccompAction::Trap,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )?;
    let mut prog = BpfProgram::try_from(f)?;
    patch_trap(&mut prog, trap);
    programs.push(prog);
    Ok(programs)
}

/// The one step seccompiler cannot express: turn its placeholder `RET TRAP` into the platform's trap action.
pub fn patch_trap(prog: &mut [seccompiler::sock_filter], trap: Trap) {
    let to = match trap {
        Trap::Notify => SECCOMP_RET_USER_NOTIF,
        Trap::Trace => SECCOMP_RET_TRACE,
    };
    for insn in prog.iter_mut() {
        if insn.code == BPF_RET_K && insn.k == SECCOMP_RET_TRAP {
            insn.k = to;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            native: vec![libc::SYS_getpid, libc::SYS_read],
            denied: vec![
                (libc::SYS_ptrace, libc::EPERM),
                (libc::SYS_clone3, libc::ENOSYS),
            ],
            guarded: vec![Guarded {
                nr: libc::SYS_ioctl,
                errno: libc::EPERM,
                any_of: vec![vec![Cond {
                    arg: 1,
                    cmp: Cmp::Eq32(0x5412),
                }]],
            }],
        }
    }

    #[test]
    fn patch_trap_notify_rewrites_only_trap_returns() {
        let mut p = vec![
            stmt(BPF_RET_K, SECCOMP_RET_TRAP),
            stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
            stmt(BPF_LD_W_ABS, SECCOMP_RET_TRAP),
        ];
        patch_trap(&mut p, Trap::Notify);
        assert_eq!(p[0].k, SECCOMP_RET_USER_NOTIF);
        assert_eq!(p[1].k, SECCOMP_RET_ALLOW);
        assert_eq!(p[2].k, SECCOMP_RET_TRAP, "a load is not a return");
    }

    #[test]
    fn compile_spec_has_prelude_errno_filters_and_trap_last() {
        let progs = compile(&spec(), Trap::Notify).expect("compiles");
        assert_eq!(progs.len(), 4, "prelude + EPERM + ENOSYS + trap");
        assert_eq!(progs[0], prelude());
        let last = progs.last().expect("trap filter");
        assert!(last
            .iter()
            .any(|i| i.code == BPF_RET_K && i.k == SECCOMP_RET_USER_NOTIF));
        assert!(!last
            .iter()
            .any(|i| i.code == BPF_RET_K && i.k == SECCOMP_RET_TRAP));
    }

    #[test]
    fn compile_trace_uses_ret_trace() {
        let progs = compile(&spec(), Trap::Trace).expect("compiles");
        let last = progs.last().expect("trap filter");
        assert!(last
            .iter()
            .any(|i| i.code == BPF_RET_K && i.k == SECCOMP_RET_TRACE));
    }

    #[test]
    fn compile_duplicate_number_is_rejected() {
        let mut s = spec();
        s.native.push(libc::SYS_ptrace);
        assert!(
            matches!(compile(&s, Trap::Notify), Err(BpfError::Duplicate(n)) if n == libc::SYS_ptrace)
        );
    }

    #[test]
    fn rules_for_anybit_expands_per_bit() {
        let r = rules_for(&[vec![Cond {
            arg: 0,
            cmp: Cmp::AnyBit(0b101),
        }]])
        .expect("rules");
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn prelude_kills_foreign_arch_first() {
        let p = prelude();
        assert_eq!(p[0].k, 4, "loads arch before anything else");
        assert_eq!(p[2].k, SECCOMP_RET_KILL_PROCESS);
    }
}
