//! Wrappers for process, signal, identity and time syscalls that write into the caller's memory or change its
//! signal handlers. Signal sets are the kernel's 64-bit masks (`1 << (sig - 1)`), passed with size 8.

use std::ffi::CString;
use std::sync::atomic::AtomicU32;

use nix::errno::Errno;

use super::raw::{a, ai, cs, pc, pm, reti, sc6, ulen, R};
use super::time::ts_ms;

/// The kernel sigset bit of `sig`.
pub fn sigbit(sig: i32) -> u64 {
    u32::try_from(sig - 1)
        .ok()
        .and_then(|s| 1u64.checked_shl(s))
        .unwrap_or(0)
}

/// The signals set in a kernel sigset, ascending.
pub fn sigs_of(set: u64) -> Vec<i32> {
    (1..=64).filter(|&s| set & sigbit(s) != 0).collect()
}

/// rt_sigprocmask(2); returns the old mask.
pub fn sigprocmask(how: i32, set: Option<u64>) -> Result<u64, Errno> {
    let mut old = 0u64;
    let s = set.unwrap_or(0);
    let ps = if set.is_some() {
        std::ptr::from_ref(&s) as u64
    } else {
        0
    };
    // SAFETY: `ps` is NULL or points at a readable u64 sigset; `old` is a writable u64; the size passed is 8.
    unsafe {
        sc6(
            libc::SYS_rt_sigprocmask,
            [ai(how), ps, pm(&mut old), 8, 0, 0],
        )
    }?;
    Ok(old)
}

/// rt_sigpending(2).
pub fn sigpending() -> Result<u64, Errno> {
    let mut set = 0u64;
    // SAFETY: `set` is a writable u64 sigset, size 8.
    unsafe { sc6(libc::SYS_rt_sigpending, [pm(&mut set), 8, 0, 0, 0, 0]) }?;
    Ok(set)
}

/// rt_sigsuspend(2) with `mask`; always returns an error (EINTR once a handler ran).
pub fn sigsuspend(mask: u64) -> R {
    // SAFETY: `mask` is a readable u64 sigset, size 8.
    unsafe {
        sc6(
            libc::SYS_rt_sigsuspend,
            [std::ptr::from_ref(&mask) as u64, 8, 0, 0, 0, 0],
        )
    }
}

/// A siginfo as ints: [0] si_signo, [1] si_errno, [2] si_code, [4] si_pid, [5] si_uid, [6] si_value (low int),
/// [6] si_status for SIGCHLD.
pub type SigInfo = [i32; 32];

/// rt_sigtimedwait(2) for the signals in `set`, waiting at most `timeout_ms` (None: forever).
pub fn sigtimedwait(set: u64, timeout_ms: Option<i64>) -> Result<(i64, SigInfo), Errno> {
    let mut info: SigInfo = [0; 32];
    let ts = timeout_ms.map(ts_ms);
    let pt = ts.as_ref().map_or(0, |t| std::ptr::from_ref(t) as u64);
    // SAFETY: `set` is a readable sigset of size 8; `info` is a writable 128-byte siginfo; `pt` is NULL or a
    // readable timespec.
    let r = unsafe {
        sc6(
            libc::SYS_rt_sigtimedwait,
            [std::ptr::from_ref(&set) as u64, pm(&mut info), pt, 8, 0, 0],
        )
    }?;
    Ok((r, info))
}

/// A siginfo for rt_sigqueueinfo: SI_QUEUE with an int value.
pub fn siginfo_queue(sig: i32, value: i32) -> SigInfo {
    let mut i: SigInfo = [0; 32];
    i[0] = sig;
    i[2] = libc::SI_QUEUE;
    i[6] = value;
    i
}

/// A signal disposition to install.
#[derive(Clone, Copy)]
pub enum Handler {
    /// SIG_DFL.
    Default,
    /// SIG_IGN.
    Ignore,
    /// A handler taking the signal number.
    Fn(extern "C" fn(i32)),
    /// An SA_SIGINFO handler.
    Info(extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void)),
}

/// What sigaction reports of the previous disposition.
pub fn handler_kind(h: usize) -> &'static str {
    match h {
        libc::SIG_DFL => "default",
        libc::SIG_IGN => "ignore",
        _ => "handler",
    }
}

/// sigaction via libc (it supplies the SA_RESTORER trampoline); returns the old (handler kind, flags without
/// SA_RESTORER, mask).
pub fn sigaction(
    sig: i32,
    h: Handler,
    flags: i32,
    mask: u64,
) -> Result<(&'static str, i32, u64), Errno> {
    // SAFETY: libc::sigaction is a plain C struct; all-zero is a valid (SIG_DFL) value.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    let (addr, extra) = match h {
        Handler::Default => (libc::SIG_DFL, 0),
        Handler::Ignore => (libc::SIG_IGN, 0),
        Handler::Fn(f) => (f as usize, 0),
        Handler::Info(f) => (f as usize, libc::SA_SIGINFO),
    };
    sa.sa_sigaction = addr;
    sa.sa_flags = flags | extra;
    for s in sigs_of(mask) {
        // SAFETY: sa.sa_mask is a valid sigset_t owned by `sa`.
        unsafe { libc::sigaddset(&raw mut sa.sa_mask, s) };
    }
    // SAFETY: `sa` is a fully initialised sigaction whose handler is SIG_DFL, SIG_IGN or an extern "C" fn with the
    // signature its flags announce; `old` is writable.
    reti(unsafe { libc::sigaction(sig, &raw const sa, &raw mut old) })?;
    let mut omask = 0u64;
    for s in 1..=64 {
        // SAFETY: old.sa_mask is a valid sigset_t the kernel filled.
        if unsafe { libc::sigismember(&raw const old.sa_mask, s) } == 1 {
            omask |= sigbit(s);
        }
    }
    Ok((
        handler_kind(old.sa_sigaction),
        old.sa_flags & !0x0400_0000,
        omask,
    ))
}

/// Queries a signal's disposition without changing it.
pub fn sigaction_query(sig: i32) -> Result<(&'static str, i32), Errno> {
    // SAFETY: libc::sigaction is a plain C struct; all-zero is a valid value.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a NULL new action only queries; `old` is writable.
    reti(unsafe { libc::sigaction(sig, std::ptr::null(), &raw mut old) })?;
    Ok((handler_kind(old.sa_sigaction), old.sa_flags & !0x0400_0000))
}

/// What `sigaltstack` returns: the old (flags, size) and the new stack's address range.
pub type AltStack = ((i32, usize), (usize, usize));

/// sigaltstack(2): installs a fresh leaked stack of `size` bytes (or disables with SS_DISABLE when `size` is 0) and
/// returns the old (flags, size) and the new stack's address range.
pub fn sigaltstack(size: usize) -> Result<AltStack, Errno> {
    // SAFETY: libc::stack_t is a plain C struct; all-zero is a valid value.
    let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut new: libc::stack_t = unsafe { std::mem::zeroed() };
    let mut range = (0, 0);
    if size == 0 {
        new.ss_flags = libc::SS_DISABLE;
    } else {
        let mem: &'static mut [u8] = Box::leak(vec![0u8; size].into_boxed_slice());
        range = (mem.as_ptr() as usize, mem.as_ptr() as usize + size);
        new.ss_sp = mem.as_mut_ptr().cast();
        new.ss_size = size;
    }
    // SAFETY: `new` describes leaked memory that lives for the rest of the process (or disables the stack); `old`
    // is writable.
    unsafe {
        sc6(
            libc::SYS_sigaltstack,
            [std::ptr::from_ref(&new) as u64, pm(&mut old), 0, 0, 0, 0],
        )
    }?;
    Ok(((old.ss_flags, old.ss_size), range))
}

/// Queries the alternate stack: (flags, size).
pub fn sigaltstack_query() -> Result<(i32, usize), Errno> {
    // SAFETY: libc::stack_t is a plain C struct; all-zero is a valid value.
    let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: a NULL new stack only queries; `old` is writable.
    unsafe { sc6(libc::SYS_sigaltstack, [0, pm(&mut old), 0, 0, 0, 0]) }?;
    Ok((old.ss_flags, old.ss_size))
}

/// wait4(2) without rusage: (pid, status).
pub fn wait4(pid: i32, options: i32) -> Result<(i64, i32), Errno> {
    let mut status = 0i32;
    // SAFETY: `status` is a writable int; rusage is NULL.
    let r = unsafe {
        sc6(
            libc::SYS_wait4,
            [ai(pid), pm(&mut status), ai(options), 0, 0, 0],
        )
    }?;
    Ok((r, status))
}

/// wait4(2) with rusage.
pub fn wait4_rusage(pid: i32, options: i32) -> Result<(i64, i32, libc::rusage), Errno> {
    let mut status = 0i32;
    // SAFETY: libc::rusage is a plain C struct of integers; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `status` is a writable int, `ru` a writable struct rusage.
    let r = unsafe {
        sc6(
            libc::SYS_wait4,
            [ai(pid), pm(&mut status), ai(options), pm(&mut ru), 0, 0],
        )
    }?;
    Ok((r, status, ru))
}

/// waitid(2): the siginfo it fills.
pub fn waitid(idtype: u32, id: i32, options: i32) -> Result<SigInfo, Errno> {
    let mut info: SigInfo = [0; 32];
    // SAFETY: `info` is a writable 128-byte siginfo; rusage is NULL.
    unsafe {
        sc6(
            libc::SYS_waitid,
            [u64::from(idtype), ai(id), pm(&mut info), ai(options), 0, 0],
        )
    }?;
    Ok(info)
}

/// A wait status as text: `exit N`, `signal N`, `stopped N`, `continued`.
pub fn wstatus(s: i32) -> String {
    if libc::WIFEXITED(s) {
        format!("exit {}", libc::WEXITSTATUS(s))
    } else if libc::WIFSIGNALED(s) {
        format!("signal {}", libc::WTERMSIG(s))
    } else if libc::WIFSTOPPED(s) {
        format!("stopped {}", libc::WSTOPSIG(s))
    } else if libc::WIFCONTINUED(s) {
        "continued".to_owned()
    } else {
        format!("raw {s:#x}")
    }
}

/// Waits for `pid` and returns its status text (fixture helper).
pub fn reap(pid: i64) -> String {
    match wait4(super::raw::int(pid), 0) {
        Ok((_, s)) => wstatus(s),
        Err(e) => format!("{e:?}"),
    }
}

fn cstrings(v: &[&str]) -> Vec<CString> {
    v.iter().map(|s| cs(s)).collect()
}

fn ptrs(v: &[CString]) -> Vec<*const libc::c_char> {
    let mut p: Vec<*const libc::c_char> = v.iter().map(|c| c.as_ptr()).collect();
    p.push(std::ptr::null());
    p
}

/// execve(2); returns only on failure.
pub fn execve(path: &str, argv: &[&str], envp: &[&str]) -> R {
    let c = cs(path);
    let av = cstrings(argv);
    let ev = cstrings(envp);
    let (pa, pe) = (ptrs(&av), ptrs(&ev));
    // SAFETY: `c` is NUL-terminated; `pa` and `pe` are NULL-terminated arrays of pointers into `av` and `ev`, all
    // alive across the call; the kernel only reads them.
    unsafe {
        sc6(
            libc::SYS_execve,
            [pc(&c), pa.as_ptr() as u64, pe.as_ptr() as u64, 0, 0, 0],
        )
    }
}

/// execveat(2); returns only on failure.
pub fn execveat(dfd: i32, path: &str, argv: &[&str], envp: &[&str], flags: i32) -> R {
    let c = cs(path);
    let av = cstrings(argv);
    let ev = cstrings(envp);
    let (pa, pe) = (ptrs(&av), ptrs(&ev));
    // SAFETY: as for execve; `dfd` is an integer the kernel validates.
    unsafe {
        sc6(
            libc::SYS_execveat,
            [
                ai(dfd),
                pc(&c),
                pa.as_ptr() as u64,
                pe.as_ptr() as u64,
                ai(flags),
                0,
            ],
        )
    }
}

/// clone(2) with no new stack and no pointer arguments, so the child runs on a copy of the parent's memory like
/// fork. Flags that need pointers or share memory (CLONE_VM, CLONE_SETTLS, CLONE_*TID, CLONE_PIDFD) are refused
/// with EINVAL here. The child runs `f` and exits.
pub fn clone_fork(flags: u64, f: impl FnOnce() -> i32) -> R {
    let bad = u64::try_from(
        libc::CLONE_VM
            | libc::CLONE_SETTLS
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_SETTID
            | libc::CLONE_CHILD_CLEARTID
            | libc::CLONE_PIDFD
            | libc::CLONE_THREAD
            | libc::CLONE_SIGHAND,
    )
    .unwrap_or(u64::MAX);
    if flags & bad != 0 {
        return Err(Errno::EINVAL);
    }
    // SAFETY: without CLONE_VM and with a NULL stack the child gets a private copy of this single-threaded
    // process's memory, exactly as after fork; no pointer argument is passed.
    let pid = unsafe { sc6(libc::SYS_clone, [flags, 0, 0, 0, 0, 0]) }?;
    if pid == 0 {
        super::raw::exit_now(f());
    }
    Ok(pid)
}

/// vfork(2): the child `_exit`s with `code` at once, as vfork requires. Call it only from a sacrificial forked
/// process: Rust cannot mark vfork as returning twice (rust-lang/libc#1596), so the parent's stack is not trusted
/// afterwards beyond reading the result.
#[allow(deprecated)]
pub fn vfork_exit(code: i32) -> R {
    // SAFETY: the child does nothing but call _exit, the one thing a vfork child may do; the parent resumes after
    // the child has exited, and the caller runs in a throwaway process (see above).
    let pid = unsafe { libc::vfork() };
    if pid == 0 {
        super::raw::exit_now(code);
    }
    reti(pid)
}

/// prctl(2) with integer arguments, for the options listed (the others take pointers).
pub fn prctl(option: i32, arg2: u64) -> R {
    const OK: &[i32] = &[
        libc::PR_SET_PDEATHSIG,
        libc::PR_SET_DUMPABLE,
        libc::PR_GET_DUMPABLE,
        libc::PR_SET_NO_NEW_PRIVS,
        libc::PR_GET_NO_NEW_PRIVS,
        libc::PR_SET_CHILD_SUBREAPER,
        libc::PR_CAPBSET_READ,
        libc::PR_CAPBSET_DROP,
        libc::PR_GET_KEEPCAPS,
        libc::PR_SET_KEEPCAPS,
        libc::PR_GET_TIMERSLACK,
        libc::PR_SET_TIMERSLACK,
        libc::PR_GET_SECUREBITS,
        libc::PR_SET_PTRACER,
        libc::PR_GET_THP_DISABLE,
        libc::PR_SET_THP_DISABLE,
    ];
    if !OK.contains(&option) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: the options in OK take integer arguments only; unused arguments are zero.
    unsafe { sc6(libc::SYS_prctl, [ai(option), arg2, 0, 0, 0, 0]) }
}

/// prctl(2) for the options that store an int through arg2 (PR_GET_PDEATHSIG, PR_GET_CHILD_SUBREAPER).
pub fn prctl_get_int(option: i32) -> Result<i32, Errno> {
    if option != libc::PR_GET_PDEATHSIG && option != libc::PR_GET_CHILD_SUBREAPER {
        return Err(Errno::EINVAL);
    }
    let mut v = 0i32;
    // SAFETY: these options write one int through arg2, which points at `v`.
    unsafe { sc6(libc::SYS_prctl, [ai(option), pm(&mut v), 0, 0, 0, 0]) }?;
    Ok(v)
}

/// PR_SET_NAME.
pub fn set_name(name: &str) -> R {
    let c = cs(name);
    // SAFETY: PR_SET_NAME reads up to 16 bytes of a NUL-terminated string; `c` is one.
    unsafe { sc6(libc::SYS_prctl, [ai(libc::PR_SET_NAME), pc(&c), 0, 0, 0, 0]) }
}

/// PR_GET_NAME.
pub fn get_name() -> Result<String, Errno> {
    let mut b = [0u8; 16];
    // SAFETY: PR_GET_NAME writes exactly 16 bytes; `b` is 16 writable bytes.
    unsafe {
        sc6(
            libc::SYS_prctl,
            [ai(libc::PR_GET_NAME), b.as_mut_ptr() as u64, 0, 0, 0, 0],
        )
    }?;
    let end = b.iter().position(|&x| x == 0).unwrap_or(16);
    Ok(String::from_utf8_lossy(&b[..end]).into_owned())
}

/// prlimit64(0, res, new, old): returns the old (soft, hard).
pub fn prlimit(res: u32, new: Option<(u64, u64)>) -> Result<(u64, u64), Errno> {
    let n = new.map(|(c, m)| libc::rlimit64 {
        rlim_cur: c,
        rlim_max: m,
    });
    let pn = n.as_ref().map_or(0, |r| std::ptr::from_ref(r) as u64);
    let mut old = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `pn` is NULL or a readable rlimit64; `old` is a writable rlimit64.
    unsafe {
        sc6(
            libc::SYS_prlimit64,
            [0, u64::from(res), pn, pm(&mut old), 0, 0],
        )
    }?;
    Ok((old.rlim_cur, old.rlim_max))
}

/// getrlimit(2).
pub fn getrlimit(res: u32) -> Result<(u64, u64), Errno> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a writable struct rlimit.
    unsafe {
        sc6(
            libc::SYS_getrlimit,
            [u64::from(res), pm(&mut r), 0, 0, 0, 0],
        )
    }?;
    Ok((r.rlim_cur, r.rlim_max))
}

/// setrlimit(2).
pub fn setrlimit(res: u32, soft: u64, hard: u64) -> R {
    let r = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `r` is a readable struct rlimit.
    unsafe {
        sc6(
            libc::SYS_setrlimit,
            [u64::from(res), std::ptr::from_ref(&r) as u64, 0, 0, 0, 0],
        )
    }
}

/// getrusage(2).
pub fn getrusage(who: i32) -> Result<libc::rusage, Errno> {
    // SAFETY: libc::rusage is a plain C struct of integers; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a writable struct rusage.
    unsafe { sc6(libc::SYS_getrusage, [ai(who), pm(&mut ru), 0, 0, 0, 0]) }?;
    Ok(ru)
}

/// times(2): the returned clock ticks and the struct tms.
pub fn times() -> Result<(i64, libc::tms), Errno> {
    let mut t = libc::tms {
        tms_utime: 0,
        tms_stime: 0,
        tms_cutime: 0,
        tms_cstime: 0,
    };
    // SAFETY: `t` is a writable struct tms.
    let r = unsafe { sc6(libc::SYS_times, [pm(&mut t), 0, 0, 0, 0, 0]) }?;
    Ok((r, t))
}

/// uname(2): sysname, nodename, release, version, machine, domainname.
pub fn uname() -> Result<[String; 6], Errno> {
    // SAFETY: libc::utsname is a plain C struct of char arrays; all-zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a writable struct utsname.
    unsafe { sc6(libc::SYS_uname, [pm(&mut u), 0, 0, 0, 0, 0]) }?;
    let f = |x: &[libc::c_char]| {
        let b: Vec<u8> = x
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c.to_ne_bytes()[0])
            .collect();
        String::from_utf8_lossy(&b).into_owned()
    };
    Ok([
        f(&u.sysname),
        f(&u.nodename),
        f(&u.release),
        f(&u.version),
        f(&u.machine),
        f(&u.domainname),
    ])
}

/// getresuid(2) or getresgid(2).
pub fn getres(gid: bool) -> Result<(u32, u32, u32), Errno> {
    let (mut r, mut e, mut s) = (0u32, 0u32, 0u32);
    let nr = if gid {
        libc::SYS_getresgid
    } else {
        libc::SYS_getresuid
    };
    // SAFETY: the three pointers are writable u32s.
    unsafe { sc6(nr, [pm(&mut r), pm(&mut e), pm(&mut s), 0, 0, 0]) }?;
    Ok((r, e, s))
}

/// getgroups(2) with room for `size` groups (0: ask for the count).
pub fn getgroups(size: usize) -> Result<(i64, Vec<u32>), Errno> {
    let mut g = vec![0u32; size.max(1)];
    // SAFETY: `g` has room for `size` gid_t values (at least one), and `size` is passed.
    let n = unsafe {
        sc6(
            libc::SYS_getgroups,
            [ulen(size), g.as_mut_ptr() as u64, 0, 0, 0, 0],
        )
    }?;
    g.truncate(if size == 0 {
        0
    } else {
        usize::try_from(n).unwrap_or(0)
    });
    Ok((n, g))
}

/// capget(2) for the calling thread: (effective, permitted, inheritable) as 64-bit masks.
pub fn capget() -> Result<(u64, u64, u64), Errno> {
    let mut hdr = [0x2008_0522u32, 0];
    let mut data = [0u32; 6];
    // SAFETY: `hdr` is a cap_user_header (version 3, pid 0); `data` is two writable cap_user_data structs.
    unsafe { sc6(libc::SYS_capget, [pm(&mut hdr), pm(&mut data), 0, 0, 0, 0]) }?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok((
        join(data[0], data[3]),
        join(data[1], data[4]),
        join(data[2], data[5]),
    ))
}

/// capset(2) for the calling thread.
pub fn capset(eff: u64, perm: u64, inh: u64) -> R {
    let mut hdr = [0x2008_0522u32, 0];
    let lo = |v: u64| u32::try_from(v & 0xffff_ffff).unwrap_or(0);
    let hi = |v: u64| u32::try_from(v >> 32).unwrap_or(0);
    let data = [lo(eff), lo(perm), lo(inh), hi(eff), hi(perm), hi(inh)];
    // SAFETY: `hdr` is a cap_user_header (version 3, pid 0; the kernel may write the preferred version into it);
    // `data` is two readable cap_user_data structs.
    unsafe {
        sc6(
            libc::SYS_capset,
            [pm(&mut hdr), std::ptr::from_ref(&data) as u64, 0, 0, 0, 0],
        )
    }
}

/// sched_getaffinity(2) with a mask of `size` bytes: the byte count the kernel copied, and the CPU count set.
pub fn sched_getaffinity(size: usize) -> Result<(i64, u32), Errno> {
    let mut m = vec![0u8; size];
    // SAFETY: `m` is writable for `size` bytes, the length passed.
    let n = unsafe {
        sc6(
            libc::SYS_sched_getaffinity,
            [0, ulen(size), m.as_mut_ptr() as u64, 0, 0, 0],
        )
    }?;
    Ok((n, m.iter().map(|b| b.count_ones()).sum()))
}

/// sched_getparam(2): the static priority.
pub fn sched_getparam() -> Result<i32, Errno> {
    let mut p = 0i32;
    // SAFETY: struct sched_param is one int; `p` is writable.
    unsafe { sc6(libc::SYS_sched_getparam, [0, pm(&mut p), 0, 0, 0, 0]) }?;
    Ok(p)
}

/// getrandom(2) of `n` bytes.
pub fn getrandom(n: usize, flags: u32) -> Result<Vec<u8>, Errno> {
    let mut b = vec![0u8; n];
    // SAFETY: `b` is writable for `n` bytes, the length passed.
    let got = unsafe {
        sc6(
            libc::SYS_getrandom,
            [b.as_mut_ptr() as u64, ulen(n), u64::from(flags), 0, 0, 0],
        )
    }?;
    b.truncate(usize::try_from(got).unwrap_or(0));
    Ok(b)
}

/// arch_prctl(ARCH_GET_FS or ARCH_GET_GS).
pub fn arch_prctl_get(code: i32) -> Result<u64, Errno> {
    const ARCH_GET_GS: i32 = 0x1004;
    const ARCH_GET_FS: i32 = 0x1003;
    if code != ARCH_GET_FS && code != ARCH_GET_GS {
        return Err(Errno::EINVAL);
    }
    let mut v = 0u64;
    // SAFETY: the GET codes write one unsigned long through arg2, which points at `v`.
    unsafe { sc6(libc::SYS_arch_prctl, [ai(code), pm(&mut v), 0, 0, 0, 0]) }?;
    Ok(v)
}

/// futex(2) on `word` with a relative timeout in milliseconds.
pub fn futex(word: &AtomicU32, op: i32, val: u32, timeout_ms: Option<i64>) -> R {
    let ts = timeout_ms.map(ts_ms);
    let pt = ts.as_ref().map_or(0, |t| std::ptr::from_ref(t) as u64);
    const OK: &[i32] = &[
        libc::FUTEX_WAIT,
        libc::FUTEX_WAKE,
        libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
        libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
    ];
    if !OK.contains(&op) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: WAIT and WAKE only read the futex word, an AtomicU32 that outlives the call; `pt` is NULL or a
    // readable timespec.
    unsafe {
        sc6(
            libc::SYS_futex,
            [word.as_ptr() as u64, ai(op), u64::from(val), pt, 0, 0],
        )
    }
}

/// get_robust_list(2) for the calling thread: whether a list head is registered, and its length.
pub fn get_robust_list() -> Result<(bool, usize), Errno> {
    let mut head = 0usize;
    let mut len = 0usize;
    // SAFETY: both pointers are writable machine words.
    unsafe {
        sc6(
            libc::SYS_get_robust_list,
            [0, pm(&mut head), pm(&mut len), 0, 0, 0],
        )
    }?;
    Ok((head != 0, len))
}

/// process_vm_readv(2) from `pid` at `addr` into a fresh buffer of `n` bytes.
pub fn process_vm_readv(pid: i32, addr: usize, n: usize) -> Result<Vec<u8>, Errno> {
    let mut b = vec![0u8; n];
    let local = libc::iovec {
        iov_base: b.as_mut_ptr().cast(),
        iov_len: n,
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: n,
    };
    // SAFETY: the local iovec describes `b`, writable for `n` bytes; the remote one is only read (in `pid`).
    let got = unsafe {
        sc6(
            libc::SYS_process_vm_readv,
            [
                ai(pid),
                std::ptr::from_ref(&local) as u64,
                1,
                std::ptr::from_ref(&remote) as u64,
                1,
                0,
            ],
        )
    }?;
    b.truncate(usize::try_from(got).unwrap_or(0));
    Ok(b)
}

/// A register value for a signed argument (re-exported for cases building raw calls).
pub fn arg(v: i64) -> u64 {
    a(v)
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags) with a one-instruction program that allows every syscall. Adding such a
/// filter changes nothing but the filter count (and, with SECCOMP_FILTER_FLAG_NEW_LISTENER, returns a listener fd).
pub fn seccomp_allow_all(flags: u32) -> R {
    let filter = [libc::sock_filter {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: 0x7fff_0000,
    }];
    let prog = libc::sock_fprog {
        len: 1,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `filter`, one valid BPF instruction, both alive across the call; the kernel only
    // reads them.
    unsafe {
        sc6(
            libc::SYS_seccomp,
            [
                1,
                u64::from(flags),
                std::ptr::from_ref(&prog) as u64,
                0,
                0,
                0,
            ],
        )
    }
}
