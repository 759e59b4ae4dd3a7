//! File descriptors: dup family, fcntl (flags, dupfd, locks), close/close_range, O_CLOEXEC across exec, limits,
//! shared offsets, memfd.
#![forbid(unsafe_code)]

use libc::{O_CREAT, O_RDONLY, O_RDWR, O_WRONLY};
use nix::errno::Errno;
use serde_json::json;

use super::helper::{mkfile, need, open, open_fds, run_helper, text};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, int};

/// fcntl F_SETSIG / F_GETSIG (not in libc).
const F_SETSIG: i32 = 10;
const F_GETSIG: i32 = 11;

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new("fd.initial_fds", &["fcntl"], initial_fds),
    Case::new("fd.dup_lowest", &["dup", "close"], dup_lowest),
    Case::new("fd.dup2_semantics", &["dup2"], dup2_semantics),
    Case::new("fd.dup3_flags", &["dup3", "fcntl"], dup3_flags),
    Case::new("fd.fcntl_fd_flags", &["fcntl"], fcntl_fd_flags),
    Case::new(
        "fd.fcntl_status_flags",
        &["fcntl", "open"],
        fcntl_status_flags,
    ),
    Case::new("fd.fcntl_dupfd", &["fcntl"], fcntl_dupfd),
    Case::new("fd.fcntl_errors", &["fcntl"], fcntl_errors),
    Case::new("fd.close_errors", &["close"], close_errors),
    Case::new(
        "fd.close_range",
        &["close_range", "dup2", "fcntl"],
        close_range,
    ),
    Case::new(
        "fd.cloexec_across_exec",
        &["open", "fcntl", "execve"],
        cloexec_across_exec,
    ),
    Case::new(
        "fd.access_mode_errors",
        &["read", "write"],
        access_mode_errors,
    ),
    Case::new("fd.posix_locks", &["fcntl", "fork", "wait4"], posix_locks),
    Case::new("fd.ofd_locks", &["fcntl"], ofd_locks),
    Case::new(
        "fd.rlimit_nofile",
        &["setrlimit", "open", "dup2"],
        rlimit_nofile,
    ),
    Case::new(
        "fd.ioctl_fionread_fioclex",
        &["ioctl", "fcntl"],
        ioctl_fionread_fioclex,
    ),
    Case::new(
        "fd.shared_offset",
        &["dup", "open", "lseek", "write"],
        shared_offset,
    ),
    Case::new(
        "fd.fork_shares_offset",
        &["fork", "write", "lseek"],
        fork_shares_offset,
    ),
    Case::new(
        "fd.memfd",
        &["memfd_create", "write", "fstat", "fcntl", "readlink"],
        memfd,
    ),
    Case::new(
        "fd.open_cloexec_flag",
        &["open", "openat", "fcntl"],
        open_cloexec_flag,
    ),
    Case::new("fd.fcntl_owner", &["fcntl"], fcntl_owner),
];

fn initial_fds(c: &mut Ctx) -> Outcome {
    let fds: Vec<serde_json::Value> = open_fds()
        .into_iter()
        .map(|(fd, cx)| json!([fd, cx]))
        .collect();
    c.rec("open_fds", fds);
    let fl0 = sys::fcntl(0, libc::F_GETFL, 0).map(|f| f & i64::from(libc::O_ACCMODE));
    c.ret("stdin_accmode", fl0).ok();
    let st = c.must("fstat_stdin", sys::fstat(0))?;
    c.rec("stdin_type", super::helper::ftype(st.st_mode));
    Ok(())
}

fn dup_lowest(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    c.ret("dup", sc!(libc::SYS_dup, f)).ok();
    c.ret("dup2nd", sc!(libc::SYS_dup, f)).ok();
    c.ret("close_first", sc!(libc::SYS_close, f)).ok();
    c.ret("dup_reuses_lowest", sc!(libc::SYS_dup, f + 1)).ok();
    c.errno("dup_ebadf", sc!(libc::SYS_dup, 9999), Errno::EBADF);
    Ok(())
}

fn dup2_semantics(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    c.ret("dup2_to_10", sc!(libc::SYS_dup2, f, 10)).ok();
    c.ret("dup2_same", sc!(libc::SYS_dup2, f, f)).ok();
    c.errno(
        "dup2_same_bad",
        sc!(libc::SYS_dup2, 9999, 9999),
        Errno::EBADF,
    );
    c.errno("dup2_bad_old", sc!(libc::SYS_dup2, 9999, 10), Errno::EBADF);
    c.errno(
        "dup2_negative_new",
        sc!(libc::SYS_dup2, f, -1),
        Errno::EBADF,
    );
    c.errno(
        "dup2_huge_new",
        sc!(libc::SYS_dup2, f, 1 << 24),
        Errno::EBADF,
    );
    let cx = c.must("getfd_10", sys::fcntl(10, libc::F_GETFD, 0))?;
    c.eq("dup2_clears_cloexec", cx, 0);
    Ok(())
}

fn dup3_flags(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    c.ret("dup3_cloexec", sc!(libc::SYS_dup3, f, 11, libc::O_CLOEXEC))
        .ok();
    let cx = c.must("getfd", sys::fcntl(11, libc::F_GETFD, 0))?;
    c.eq("cloexec", cx, i64::from(libc::FD_CLOEXEC));
    c.errno("dup3_same", sc!(libc::SYS_dup3, f, f, 0), Errno::EINVAL);
    c.errno(
        "dup3_bad_flags",
        sc!(libc::SYS_dup3, f, 12, libc::O_NONBLOCK),
        Errno::EINVAL,
    );
    c.ret("dup3_plain", sc!(libc::SYS_dup3, f, 12, 0)).ok();
    Ok(())
}

fn fcntl_fd_flags(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    c.ret("getfd", sys::fcntl(f, libc::F_GETFD, 0)).ok();
    c.ret(
        "setfd",
        sys::fcntl(f, libc::F_SETFD, i64::from(libc::FD_CLOEXEC)),
    )
    .ok();
    c.ret("getfd2", sys::fcntl(f, libc::F_GETFD, 0)).ok();
    c.ret("setfd_other_bits", sys::fcntl(f, libc::F_SETFD, 0xfe))
        .ok();
    c.ret("getfd3", sys::fcntl(f, libc::F_GETFD, 0)).ok();
    Ok(())
}

fn fcntl_status_flags(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDWR | libc::O_APPEND, 0)?;
    let show = |v: i64| v & i64::from(libc::O_ACCMODE | libc::O_APPEND | libc::O_NONBLOCK);
    let fl = c.must("getfl", sys::fcntl(f, libc::F_GETFL, 0))?;
    c.rec("flags", show(fl));
    c.ret(
        "setfl_nonblock",
        sys::fcntl(f, libc::F_SETFL, i64::from(libc::O_NONBLOCK)),
    )
    .ok();
    let fl = c.must("getfl2", sys::fcntl(f, libc::F_GETFL, 0))?;
    c.rec("flags2", show(fl));
    c.ret(
        "setfl_cannot_change_accmode",
        sys::fcntl(f, libc::F_SETFL, i64::from(O_WRONLY)),
    )
    .ok();
    let fl = c.must("getfl3", sys::fcntl(f, libc::F_GETFL, 0))?;
    c.rec("flags3", show(fl));
    let fl = c.must("largefile_set", sys::fcntl(f, libc::F_GETFL, 0))?;
    c.rec("largefile", fl & i64::from(libc::O_LARGEFILE) != 0);
    sys::close(f);
    Ok(())
}

fn fcntl_dupfd(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    c.ret("dupfd_20", sys::fcntl(f, libc::F_DUPFD, 20)).ok();
    c.ret("dupfd_cloexec_20", sys::fcntl(f, libc::F_DUPFD_CLOEXEC, 20))
        .ok();
    c.ret("getfd_21", sys::fcntl(21, libc::F_GETFD, 0)).ok();
    c.errno(
        "dupfd_negative",
        sys::fcntl(f, libc::F_DUPFD, -1),
        Errno::EINVAL,
    );
    c.errno(
        "dupfd_huge",
        sys::fcntl(f, libc::F_DUPFD, 1 << 24),
        Errno::EINVAL,
    );
    Ok(())
}

fn fcntl_errors(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    c.errno("bad_cmd", sys::fcntl(f, 9999, 0), Errno::EINVAL);
    c.errno("ebadf", sys::fcntl(9999, libc::F_GETFD, 0), Errno::EBADF);
    c.errno(
        "setpipe_sz_on_file",
        sys::fcntl(f, libc::F_SETPIPE_SZ, 4096),
        Errno::EBADF,
    );
    sys::close(f);
    Ok(())
}

fn close_errors(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    c.ret("close", sc!(libc::SYS_close, f)).ok();
    c.errno("close_again", sc!(libc::SYS_close, f), Errno::EBADF);
    c.errno("close_negative", sc!(libc::SYS_close, -1), Errno::EBADF);
    c.errno("read_closed", sys::read(f, 1), Errno::EBADF);
    Ok(())
}

fn close_range(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    for t in 10..15 {
        need("dup2", sc!(libc::SYS_dup2, f, t))?;
    }
    c.ret(
        "close_range_11_13",
        sc!(libc::SYS_close_range, 11u32, 13u32, 0),
    )
    .ok();
    let left: Vec<i32> = open_fds()
        .into_iter()
        .map(|(fd, _)| fd)
        .filter(|&fd| fd >= 10)
        .collect();
    c.rec("left", left);
    c.ret(
        "close_range_cloexec",
        sc!(
            libc::SYS_close_range,
            10u32,
            14u32,
            libc::CLOSE_RANGE_CLOEXEC
        ),
    )
    .ok();
    let cx: Vec<serde_json::Value> = open_fds()
        .into_iter()
        .filter(|&(fd, _)| fd >= 10)
        .map(|(fd, x)| json!([fd, x]))
        .collect();
    c.rec("cloexec_after", cx);
    c.errno(
        "first_gt_last",
        sc!(libc::SYS_close_range, 14u32, 10u32, 0),
        Errno::EINVAL,
    );
    c.errno(
        "bad_flags",
        sc!(libc::SYS_close_range, 10u32, 14u32, 0x40),
        Errno::EINVAL,
    );
    c.ret(
        "close_range_to_max",
        sc!(libc::SYS_close_range, 10u32, u32::MAX, 0),
    )
    .ok();
    let left: Vec<i32> = open_fds()
        .into_iter()
        .map(|(fd, _)| fd)
        .filter(|&fd| fd >= 10)
        .collect();
    c.rec("left_after_all", left);
    Ok(())
}

fn cloexec_across_exec(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    need("dup2_10", sc!(libc::SYS_dup2, f, 10))?;
    need("dup3_11", sc!(libc::SYS_dup3, f, 11, libc::O_CLOEXEC))?;
    sys::close(f);
    let (status, out) = run_helper(c, &["fds"], &[])?;
    c.rec("status", status);
    c.rec("child_fds", out.trim().to_owned());
    Ok(())
}

fn access_mode_errors(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"abc", 0o644)?;
    let w = open("f", O_WRONLY, 0)?;
    let r = open("f", O_RDONLY, 0)?;
    c.errno("read_wronly", sys::read(w, 1), Errno::EBADF);
    c.errno("write_rdonly", sys::write(r, b"x"), Errno::EBADF);
    c.errno("pread_wronly", sys::pread(w, 1, 0), Errno::EBADF);
    sys::close(w);
    sys::close(r);
    Ok(())
}

fn posix_locks(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"0123456789", 0o644)?;
    let f = open("f", O_RDWR, 0)?;
    let mut fl = sys::flock_of(libc::F_WRLCK, 0, 5);
    c.ret("setlk_write", sys::fcntl_lock(f, libc::F_SETLK, &mut fl))
        .ok();
    let parent = sc!(libc::SYS_getpid).unwrap_or(0);
    let (rp, wp) = need("pipe", sys::pipe())?;
    let child = need(
        "fork",
        sys::fork_run(|| {
            let g = sys::int(sys::open_at_cwd("f", O_RDWR, 0).unwrap_or(-1));
            let mut q = sys::flock_of(libc::F_WRLCK, 0, 10);
            let got = sys::fcntl_lock(g, libc::F_GETLK, &mut q);
            let seen = i32::from(
                got.is_ok() && i32::from(q.l_type) == libc::F_WRLCK && i64::from(q.l_pid) == parent,
            );
            let mut w = sys::flock_of(libc::F_WRLCK, 0, 5);
            let blocked =
                i32::from(sys::fcntl_lock(g, libc::F_SETLK, &mut w) == Err(Errno::EAGAIN));
            let mut w2 = sys::flock_of(libc::F_WRLCK, 5, 5);
            let other_range = i32::from(sys::fcntl_lock(g, libc::F_SETLK, &mut w2).is_ok());
            let _ = sys::write(
                wp,
                &[u8::try_from(seen * 4 + blocked * 2 + other_range).unwrap_or(0)],
            );
            0
        }),
    )?;
    sys::close(wp);
    let b = need("read", sys::read(rp, 1))?;
    c.rec("child_status", sys::reap(child));
    let v = b.first().copied().unwrap_or(0);
    c.eq("child_sees_parent_lock", v & 4 != 0, true);
    c.eq("child_blocked", v & 2 != 0, true);
    c.eq("child_other_range_ok", v & 1 != 0, true);
    let mut un = sys::flock_of(libc::F_UNLCK, 0, 0);
    c.ret("unlock", sys::fcntl_lock(f, libc::F_SETLK, &mut un))
        .ok();
    let mut bad = sys::flock_of(99, 0, 0);
    c.errno(
        "bad_type",
        sys::fcntl_lock(f, libc::F_SETLK, &mut bad),
        Errno::EINVAL,
    );
    sys::close(rp);
    sys::close(f);
    Ok(())
}

fn ofd_locks(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"0123456789", 0o644)?;
    let a = open("f", O_RDWR, 0)?;
    let b = open("f", O_RDWR, 0)?;
    let mut fl = sys::flock_of(libc::F_WRLCK, 0, 0);
    c.ret(
        "ofd_setlk_a",
        sys::fcntl_lock(a, libc::F_OFD_SETLK, &mut fl),
    )
    .ok();
    let mut fl2 = sys::flock_of(libc::F_WRLCK, 0, 0);
    c.errno(
        "ofd_setlk_b",
        sys::fcntl_lock(b, libc::F_OFD_SETLK, &mut fl2),
        Errno::EAGAIN,
    );
    let mut q = sys::flock_of(libc::F_WRLCK, 0, 0);
    c.ret("ofd_getlk_b", sys::fcntl_lock(b, libc::F_OFD_GETLK, &mut q))
        .ok();
    c.eq("holder_type", i32::from(q.l_type), libc::F_WRLCK);
    c.eq("holder_pid", q.l_pid, -1);
    sys::close(a);
    let mut fl3 = sys::flock_of(libc::F_WRLCK, 0, 0);
    c.ret(
        "ofd_setlk_b_after_close",
        sys::fcntl_lock(b, libc::F_OFD_SETLK, &mut fl3),
    )
    .ok();
    sys::close(b);
    Ok(())
}

fn rlimit_nofile(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let (_, hard) = need("getrlimit", sys::getrlimit(libc::RLIMIT_NOFILE))?;
    c.ret(
        "setrlimit_16",
        sys::setrlimit(libc::RLIMIT_NOFILE, 16, hard),
    )
    .ok();
    let mut opened = 0;
    let err = loop {
        match sys::open_at_cwd("f", O_RDONLY, 0) {
            Ok(_) => opened += 1,
            Err(e) => break e,
        }
        if opened > 100 {
            break Errno::UnknownErrno;
        }
    };
    c.rec("opened_until_limit", opened);
    c.rec("error", crate::case::ename(err));
    c.errno("dup2_at_limit", sc!(libc::SYS_dup2, 0, 16), Errno::EBADF);
    c.errno(
        "fcntl_dupfd_at_limit",
        sys::fcntl(0, libc::F_DUPFD, 16),
        Errno::EINVAL,
    );
    c.errno("pipe_when_full", sys::pipe(), Errno::EMFILE);
    Ok(())
}

fn ioctl_fionread_fioclex(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe", sys::pipe())?;
    need("write", sys::write(w, b"hello"))?;
    let mut n = 0;
    c.ret("fionread", sys::ioctl_int(r, libc::FIONREAD, &mut n))
        .ok();
    c.eq("pending", n, 5);
    c.ret("fioclex", sys::ioctl_noarg(r, libc::FIOCLEX)).ok();
    c.ret("getfd_after_fioclex", sys::fcntl(r, libc::F_GETFD, 0))
        .ok();
    c.ret("fionclex", sys::ioctl_noarg(r, libc::FIONCLEX)).ok();
    c.ret("getfd_after_fionclex", sys::fcntl(r, libc::F_GETFD, 0))
        .ok();
    let mut one = 1;
    c.ret("fionbio", sys::ioctl_int(r, libc::FIONBIO, &mut one))
        .ok();
    let fl = c.must("getfl", sys::fcntl(r, libc::F_GETFL, 0))?;
    c.eq("nonblock_set", fl & i64::from(libc::O_NONBLOCK) != 0, true);
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    let mut x = 0;
    c.errno(
        "tiocgpgrp_on_file",
        sys::ioctl_int(f, libc::TIOCGPGRP, &mut x),
        Errno::ENOTTY,
    );
    sys::close(f);
    Ok(())
}

fn shared_offset(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let a = open("f", O_RDWR, 0)?;
    let b = int(c.mustn("dup", sc!(libc::SYS_dup, a))?);
    let other = open("f", O_RDWR, 0)?;
    c.ret("write_a", sys::write(a, b"12345")).ok();
    c.ret("offset_b", sc!(libc::SYS_lseek, b, 0, libc::SEEK_CUR))
        .ok();
    c.ret(
        "offset_other",
        sc!(libc::SYS_lseek, other, 0, libc::SEEK_CUR),
    )
    .ok();
    c.ret("write_other", sys::write(other, b"ab")).ok();
    sys::close(a);
    sys::close(b);
    sys::close(other);
    let data = need("read", sys::read_file("f"))?;
    c.eq("content", text(&data), "ab345".into());
    Ok(())
}

fn fork_shares_offset(c: &mut Ctx) -> Outcome {
    let f = open("f", O_RDWR | O_CREAT, 0o644)?;
    let pid = need(
        "fork",
        sys::fork_run(|| i32::from(sys::write(f, b"child").is_err())),
    )?;
    c.rec("child", sys::reap(pid));
    c.ret("parent_offset", sc!(libc::SYS_lseek, f, 0, libc::SEEK_CUR))
        .ok();
    c.ret("parent_write", sys::write(f, b"+parent")).ok();
    sys::close(f);
    let data = need("read", sys::read_file("f"))?;
    c.eq("content", text(&data), "child+parent".into());
    Ok(())
}

fn memfd(c: &mut Ctx) -> Outcome {
    let f = int(c.mustn(
        "memfd_create",
        sc!(
            libc::SYS_memfd_create,
            "conf",
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING
        ),
    )?);
    c.ret("write", sys::write(f, b"sealed")).ok();
    let st = c.must("fstat", sys::fstat(f))?;
    c.eq("size", st.st_size, 6);
    c.rec("mode", super::helper::tmode(st.st_mode));
    c.ret("get_seals", sys::fcntl(f, libc::F_GET_SEALS, 0)).ok();
    c.ret(
        "add_seal_write",
        sys::fcntl(f, libc::F_ADD_SEALS, i64::from(libc::F_SEAL_WRITE)),
    )
    .ok();
    c.errno("write_sealed", sys::write(f, b"x"), Errno::EPERM);
    c.ret("get_seals2", sys::fcntl(f, libc::F_GET_SEALS, 0))
        .ok();
    let link = c.must(
        "readlink_fd",
        sys::readlink(&format!("/proc/self/fd/{f}"), 256),
    )?;
    c.rec("link", link.1);
    c.errno(
        "memfd_bad_flags",
        sc!(libc::SYS_memfd_create, "x", 0x1000u32),
        Errno::EINVAL,
    );
    let g = int(c.mustn("memfd_no_sealing", sc!(libc::SYS_memfd_create, "plain", 0))?);
    c.ret("get_seals_plain", sys::fcntl(g, libc::F_GET_SEALS, 0))
        .ok();
    sys::close(g);
    sys::close(f);
    Ok(())
}

fn open_cloexec_flag(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let a = int(c.mustn(
        "open_cloexec",
        sc!(libc::SYS_open, "f", O_RDONLY | libc::O_CLOEXEC),
    )?);
    c.ret("getfd_a", sys::fcntl(a, libc::F_GETFD, 0)).ok();
    let b = int(c.mustn(
        "openat_plain",
        sc!(libc::SYS_openat, libc::AT_FDCWD, "f", O_RDONLY),
    )?);
    c.ret("getfd_b", sys::fcntl(b, libc::F_GETFD, 0)).ok();
    let fl = c.must("getfl_a", sys::fcntl(a, libc::F_GETFL, 0))?;
    c.eq(
        "cloexec_not_in_status_flags",
        fl & i64::from(libc::O_CLOEXEC),
        0,
    );
    sys::close(a);
    sys::close(b);
    Ok(())
}

fn fcntl_owner(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe", sys::pipe())?;
    c.ret("getown", sys::fcntl(r, libc::F_GETOWN, 0)).ok();
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    c.ret("setown_self", sys::fcntl(r, libc::F_SETOWN, me)).ok();
    let got = c.must("getown2", sys::fcntl(r, libc::F_GETOWN, 0))?;
    c.eq("owner_is_self", got == me, true);
    c.ret("getsig", sys::fcntl(r, F_GETSIG, 0)).ok();
    c.ret("setsig", sys::fcntl(r, F_SETSIG, i64::from(libc::SIGUSR1)))
        .ok();
    c.ret("getsig2", sys::fcntl(r, F_GETSIG, 0)).ok();
    c.errno("setsig_bad", sys::fcntl(r, F_SETSIG, 999), Errno::EINVAL);
    c.ret("getlease_pipe", sys::fcntl(r, libc::F_GETLEASE, 0))
        .ok();
    sys::close(r);
    sys::close(w);
    Ok(())
}
