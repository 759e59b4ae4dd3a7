//! Process information and scheduling: sysinfo, getcpu, scheduler policies and attributes, kcmp, membarrier,
//! and the Landlock ABI query. (Family `process`.)
#![forbid(unsafe_code)]

use nix::errno::Errno;

use super::helper::need;
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys;

/// The cases of this file (family `process`).
pub static CASES: &[Case] = &[
    Case::new("process.sysinfo", &["sysinfo"], sysinfo),
    Case::new("process.getcpu", &["getcpu", "sched_getaffinity"], getcpu),
    Case::new(
        "process.sched_policies",
        &[
            "sched_get_priority_max",
            "sched_get_priority_min",
            "sched_setscheduler",
            "sched_setparam",
            "sched_rr_get_interval",
        ],
        sched_policies,
    ),
    Case::new(
        "process.sched_attr",
        &["sched_getattr", "sched_setattr"],
        sched_attr,
    ),
    Case::new("process.kcmp", &["kcmp", "dup", "fork"], kcmp),
    Case::new("process.membarrier", &["membarrier"], membarrier),
    Case::new(
        "process.landlock_abi",
        &["landlock_create_ruleset"],
        landlock_abi,
    ),
];

fn sysinfo(c: &mut Ctx) -> Outcome {
    let (uptime, totalram, unit, procs) = c.must("sysinfo", sys::sysinfo())?;
    c.eq("uptime_positive", uptime > 0, true);
    c.eq("totalram_positive", totalram > 0, true);
    c.eq("mem_unit_positive", unit > 0, true);
    c.eq("procs_positive", procs > 0, true);
    Ok(())
}

fn getcpu(c: &mut Ctx) -> Outcome {
    let (cpu, node) = c.must("getcpu", sys::getcpu())?;
    let (_, ncpus) = need("affinity", sys::sched_getaffinity(128))?;
    c.eq("cpu_in_range", cpu < 1024 && ncpus > 0, true);
    c.eq("node_small", node < 64, true);
    Ok(())
}

fn sched_policies(c: &mut Ctx) -> Outcome {
    for (name, pol) in [
        ("other", libc::SCHED_OTHER),
        ("fifo", libc::SCHED_FIFO),
        ("rr", libc::SCHED_RR),
        ("batch", libc::SCHED_BATCH),
        ("idle", libc::SCHED_IDLE),
    ] {
        let max = sc!(libc::SYS_sched_get_priority_max, pol);
        let min = sc!(libc::SYS_sched_get_priority_min, pol);
        c.rec(name, format!("{:?} {:?}", max, min));
    }
    c.errno(
        "max_bad_policy",
        sc!(libc::SYS_sched_get_priority_max, 99),
        Errno::EINVAL,
    );
    c.errno(
        "setscheduler_fifo_no_cap",
        sys::sched_set(Some(libc::SCHED_FIFO), 10),
        Errno::EPERM,
    );
    c.errno(
        "setscheduler_bad_prio",
        sys::sched_set(Some(libc::SCHED_OTHER), 5),
        Errno::EINVAL,
    );
    c.ret(
        "setscheduler_batch",
        sys::sched_set(Some(libc::SCHED_BATCH), 0),
    )
    .ok();
    c.ret("getscheduler_now", sc!(libc::SYS_sched_getscheduler, 0))
        .ok();
    c.ret("setparam_zero", sys::sched_set(None, 0)).ok();
    c.ret(
        "setscheduler_other",
        sys::sched_set(Some(libc::SCHED_OTHER), 0),
    )
    .ok();
    let t = c.must("rr_get_interval", sys::sched_rr_get_interval())?;
    c.eq(
        "rr_interval_nonnegative",
        t.tv_sec >= 0 && t.tv_nsec >= 0,
        true,
    );
    Ok(())
}

fn sched_attr(c: &mut Ctx) -> Outcome {
    let (size, policy, nice) = c.must("getattr", sys::sched_getattr())?;
    c.rec("size", size);
    c.rec("policy", policy);
    c.rec("nice", nice);
    c.ret("setattr_nicer", sys::sched_setattr(0, nice + 1, 0))
        .ok();
    let (_, _, after) = c.must("getattr2", sys::sched_getattr())?;
    c.eq("nice_increased", after, nice + 1);
    c.errno(
        "setattr_less_nice",
        sys::sched_setattr(0, -10, 0),
        Errno::EPERM,
    );
    c.errno(
        "setattr_fifo",
        sys::sched_setattr(u32::try_from(libc::SCHED_FIFO).unwrap_or(1), 0, 10),
        Errno::EPERM,
    );
    Ok(())
}

fn kcmp(c: &mut Ctx) -> Outcome {
    const KCMP_FILE: i32 = 0;
    const KCMP_VM: i32 = 1;
    let (r, w) = need("pipe", sys::pipe())?;
    let d = sys::int(need("dup", sc!(libc::SYS_dup, r))?);
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    let k = |t: i32, a: i32, b: i32| sc!(libc::SYS_kcmp, me, me, t, a, b);
    let same = k(KCMP_FILE, r, d);
    if same == Err(Errno::ENOSYS) {
        return Err(crate::case::Stop::Skip("kcmp not in this kernel".into()));
    }
    c.ret("dup_same_file", same).ok();
    c.st(
        "different_files_ordered",
        k(KCMP_FILE, r, w).map(|v| v == 1 || v == 2),
    )
    .ok();
    c.ret("same_vm", k(KCMP_VM, 0, 0)).ok();
    c.errno("bad_fd", k(KCMP_FILE, r, 9999), Errno::EBADF);
    c.errno("bad_type", k(99, 0, 0), Errno::EINVAL);
    Ok(())
}

fn membarrier(c: &mut Ctx) -> Outcome {
    const QUERY: i32 = 0;
    const PRIVATE_EXPEDITED: i32 = 1 << 3;
    const REGISTER_PRIVATE_EXPEDITED: i32 = 1 << 4;
    let q = c.must("query", sc!(libc::SYS_membarrier, QUERY, 0, 0))?;
    c.rec("supported_mask", q);
    c.errno(
        "private_expedited_unregistered",
        sc!(libc::SYS_membarrier, PRIVATE_EXPEDITED, 0, 0),
        Errno::EPERM,
    );
    c.ret(
        "register",
        sc!(libc::SYS_membarrier, REGISTER_PRIVATE_EXPEDITED, 0, 0),
    )
    .ok();
    c.ret(
        "private_expedited",
        sc!(libc::SYS_membarrier, PRIVATE_EXPEDITED, 0, 0),
    )
    .ok();
    c.errno(
        "bad_cmd",
        sc!(libc::SYS_membarrier, 1 << 30, 0, 0),
        Errno::EINVAL,
    );
    Ok(())
}

fn landlock_abi(c: &mut Ctx) -> Outcome {
    const VERSION: u32 = 1;
    let r = sc!(libc::SYS_landlock_create_ruleset, 0i64, 0i64, VERSION);
    match r {
        Err(Errno::ENOSYS) | Err(Errno::EOPNOTSUPP) => {
            return Err(crate::case::Stop::Skip(
                "Landlock not enabled on this host".into(),
            ))
        }
        _ => {}
    }
    c.ret("abi_version", r).ok();
    c.errno(
        "bad_flags",
        sc!(libc::SYS_landlock_create_ruleset, 0i64, 0i64, 1u32 << 20),
        Errno::EINVAL,
    );
    Ok(())
}
