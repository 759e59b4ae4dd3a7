//! The mechanism on its own, without the sentry: a forked child is seized, installs a filter that traces four
//! syscalls, and the test answers each the four ways (a value, an errno, an fd, continue). The child checks what it
//! got and reports through a pipe (its exit status goes to the tracer). `harness = false`: the test runs on the main
//! thread, the only other thread being the tracer, so SIGCHLD is blocked in every thread as the crate requires.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use platform_ptrace::{Reply, Tracer};
use platform_seccomp::sock_filter;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL: u32 = 0x8000_0000;
const TRAPPED: [i64; 6] = [
    libc::SYS_getppid,
    libc::SYS_getpgrp,
    libc::SYS_gettid,
    libc::SYS_getuid,
    libc::SYS_getsid,
    libc::SYS_getpgid,
];

fn filter() -> Vec<sock_filter> {
    let s = |code: u16, k: u32| sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let j = |k: u32, jt: u8, jf: u8| sock_filter {
        code: 0x15,
        jt,
        jf,
        k,
    };
    let mut p = vec![
        s(0x20, 4),
        j(AUDIT_ARCH_X86_64, 1, 0),
        s(0x06, RET_KILL),
        s(0x20, 0),
    ];
    for nr in TRAPPED {
        p.push(j(u32::try_from(nr).expect("small"), 0, 1));
        p.push(s(0x06, RET_TRACE));
    }
    p.push(s(0x06, RET_ALLOW));
    p
}

fn raw(nr: i64) -> i64 {
    // SAFETY: every syscall used here reads at most its first argument, an integer (0).
    unsafe { libc::syscall(nr, 0) }
}

/// The child, between fork and _exit: raw syscalls only. Returns 0 when everything matched, else the failing step.
fn child(go: &OwnedFd, progs: &[Vec<sock_filter>]) -> u8 {
    let mut b = [0u8; 1];
    if nix::unistd::read(go.as_raw_fd(), &mut b) != Ok(1) {
        return 1;
    }
    let uid = raw(libc::SYS_getuid);
    let pgid = raw(libc::SYS_getpgid);
    if platform_seccomp::install(progs, false).is_err() {
        return 2;
    }
    if raw(libc::SYS_getppid) != 4242 {
        return 3;
    }
    if raw(libc::SYS_getpgrp) != -1 || Errno::last() != Errno::EACCES {
        return 4;
    }
    // Twice: the second install reuses the reserved socket.
    for step in [5u8, 7] {
        let fd = raw(libc::SYS_gettid);
        let Ok(fd) = i32::try_from(fd) else {
            return step;
        };
        let mut buf = [0u8; 5];
        if fd < 3 || nix::unistd::read(fd, &mut buf) != Ok(5) || &buf != b"hello" {
            return step;
        }
        // The lowest free number, as an open would give.
        if fd > 10 {
            return step + 1;
        }
        let _ = nix::unistd::close(fd);
    }
    if raw(libc::SYS_getuid) != uid {
        return 9;
    }
    // install_at, then a value: the fd is at exactly 40 and the call returns 7.
    if raw(libc::SYS_getsid) != 7 {
        return 10;
    }
    let mut buf = [0u8; 5];
    if nix::unistd::read(40, &mut buf) != Ok(5) || &buf != b"world" {
        return 11;
    }
    // install_at, then continue: the task's own call runs after the injections, with its own result.
    if raw(libc::SYS_getpgid) != pgid {
        return 12;
    }
    if nix::unistd::read(41, &mut buf) != Ok(5) || &buf != b"again" {
        return 13;
    }
    0
}

fn main() {
    let tracer = Tracer::spawn().expect("tracer");
    let progs = vec![filter()];
    let (go_r, go_w) = nix::unistd::pipe().expect("pipe");
    let (res_r, res_w) = nix::unistd::pipe().expect("pipe");
    // SAFETY: the child runs only raw syscalls (no allocation, no locks) and leaves with _exit.
    let pid = match unsafe { nix::unistd::fork() }.expect("fork") {
        nix::unistd::ForkResult::Child => {
            let r = child(&go_r, &progs);
            let _ = nix::unistd::write(&res_w, &[r]);
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    drop(res_w);
    tracer.seize(pid.as_raw()).expect("seize");
    nix::unistd::write(&go_w, b"g").expect("go");
    let mut seen = Vec::new();
    while let Some(n) = tracer.next() {
        assert_eq!(n.pid, pid.as_raw(), "only the child traps");
        seen.push(n.nr);
        let reply = match n.nr {
            x if x == libc::SYS_getppid => Reply::Val(4242),
            x if x == libc::SYS_getpgrp => Reply::Err(Errno::EACCES),
            x if x == libc::SYS_gettid => {
                let (r, w) = nix::unistd::pipe().expect("pipe");
                nix::unistd::write(&w, b"hello").expect("fill");
                Reply::Fd {
                    fd: r,
                    cloexec: true,
                }
            }
            x if x == libc::SYS_getsid || x == libc::SYS_getpgid => {
                let (r, w) = nix::unistd::pipe().expect("pipe");
                let (at, text, reply) = if x == libc::SYS_getsid {
                    (40, b"world", Reply::Val(7))
                } else {
                    (41, b"again", Reply::Continue)
                };
                nix::unistd::write(&w, text).expect("fill");
                tracer.install_at(&n, r, at, false).expect("install_at");
                reply
            }
            _ => Reply::Continue,
        };
        let fd_reply = matches!(reply, Reply::Fd { .. });
        let got = tracer.answer(&n, reply);
        if fd_reply {
            assert!(matches!(got, Ok(3..=10)), "fd install: {got:?}");
        }
    }
    let mut r = [9u8; 1];
    let n = nix::unistd::read(res_r.as_raw_fd(), &mut r).expect("result");
    assert_eq!(n, 1, "the child reported");
    assert_eq!(r[0], 0, "child failed at step {}", r[0]);
    assert_eq!(
        seen,
        vec![
            libc::SYS_getppid,
            libc::SYS_getpgrp,
            libc::SYS_gettid,
            libc::SYS_gettid,
            libc::SYS_getuid,
            libc::SYS_getsid,
            libc::SYS_getpgid
        ]
    );
    println!("ptrace mechanism: value, errno, fd (twice), continue, install_at + value, install_at + continue: ok");
}
