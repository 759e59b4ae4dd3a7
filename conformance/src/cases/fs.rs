//! Files: open/creat/openat/openat2 flags and errors, O_TMPFILE, name limits, the stat family, access checks,
//! umask, O_PATH, unlinked-but-open files.
#![forbid(unsafe_code)]

use libc::{O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use nix::errno::Errno;

use super::helper::{ftype, mkdir, mkfile, need, open, text, tmode};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, int};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new(
        "fs.open_creat_rw",
        &["umask", "open", "write", "lseek", "read", "fstat", "close"],
        open_creat_rw,
    ),
    Case::new("fs.open_excl_exists", &["open"], open_excl_exists),
    Case::new("fs.open_enoent", &["open"], open_enoent),
    Case::new("fs.open_enotdir", &["open"], open_enotdir),
    Case::new("fs.open_eisdir", &["open"], open_eisdir),
    Case::new("fs.open_trunc", &["open", "fstat"], open_trunc),
    Case::new("fs.open_append", &["open", "write", "lseek"], open_append),
    Case::new("fs.creat_legacy", &["creat", "fcntl", "stat"], creat_legacy),
    Case::new(
        "fs.open_tmpfile",
        &["openat", "write", "fstat", "linkat", "stat"],
        open_tmpfile,
    ),
    Case::new("fs.open_name_limits", &["open"], open_name_limits),
    Case::new("fs.open_empty_and_efault", &["open"], open_empty_and_efault),
    Case::new("fs.openat_dirfd", &["openat", "stat"], openat_dirfd),
    Case::new("fs.openat_bad_dirfd", &["openat"], openat_bad_dirfd),
    Case::new("fs.openat_dotdot", &["openat", "read"], openat_dotdot),
    Case::new("fs.openat2_beneath", &["openat2"], openat2_beneath),
    Case::new("fs.openat2_einval", &["openat2"], openat2_einval),
    Case::new("fs.stat_file", &["stat", "geteuid"], stat_file),
    Case::new("fs.stat_dir_nlink", &["stat", "mkdir"], stat_dir_nlink),
    Case::new("fs.newfstatat_flags", &["newfstatat"], newfstatat_flags),
    Case::new("fs.statx_basic", &["statx"], statx_basic),
    Case::new("fs.access_modes", &["access"], access_modes),
    Case::new(
        "fs.faccessat_variants",
        &["faccessat", "faccessat2", "symlink"],
        faccessat_variants,
    ),
    Case::new(
        "fs.unlink_open_file",
        &["unlink", "fstat", "read"],
        unlink_open_file,
    ),
    Case::new(
        "fs.umask_creation",
        &["umask", "open", "mkdir"],
        umask_creation,
    ),
    Case::new("fs.o_path", &["open", "read", "fstat", "fcntl"], o_path),
    Case::new("fs.o_creat_directory", &["open"], o_creat_directory),
];

fn fd(c: &mut Ctx, key: &str, r: sys::R) -> Result<i32, crate::case::Stop> {
    c.mustn(key, r).map(int)
}

fn open_creat_rw(c: &mut Ctx) -> Outcome {
    sc!(libc::SYS_umask, 0o022).ok();
    let f = fd(c, "open", sc!(libc::SYS_open, "f", O_CREAT | O_RDWR, 0o666))?;
    c.ret("write", sys::write(f, b"hello")).ok();
    c.ret("lseek", sc!(libc::SYS_lseek, f, 0, libc::SEEK_SET))
        .ok();
    let data = c.must("read", sys::read(f, 10))?;
    c.eq("data", text(&data), "hello".into());
    let st = c.must("fstat", sys::fstat(f))?;
    c.eq("size", st.st_size, 5);
    c.eq("mode", tmode(st.st_mode), "file 0644".into());
    c.eq("nlink", st.st_nlink, 1);
    c.ret("close", sc!(libc::SYS_close, f)).ok();
    Ok(())
}

fn open_excl_exists(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"x", 0o644)?;
    c.errno(
        "excl",
        sc!(libc::SYS_open, "f", O_CREAT | O_EXCL | O_WRONLY, 0o644),
        Errno::EEXIST,
    );
    let r = fd(
        c,
        "excl_new",
        sc!(libc::SYS_open, "g", O_CREAT | O_EXCL | O_WRONLY, 0o644),
    )?;
    sys::close(r);
    Ok(())
}

fn open_enoent(c: &mut Ctx) -> Outcome {
    c.errno(
        "missing",
        sc!(libc::SYS_open, "missing", O_RDONLY),
        Errno::ENOENT,
    );
    c.errno(
        "missing_dir",
        sc!(libc::SYS_open, "missing/x", O_CREAT | O_WRONLY, 0o644),
        Errno::ENOENT,
    );
    c.errno(
        "abs_missing",
        sc!(libc::SYS_open, &format!("{}/nope", c.cwd()), O_RDONLY),
        Errno::ENOENT,
    );
    Ok(())
}

fn open_enotdir(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"x", 0o644)?;
    c.errno(
        "under_file",
        sc!(libc::SYS_open, "f/x", O_RDONLY),
        Errno::ENOTDIR,
    );
    c.errno(
        "o_directory",
        sc!(libc::SYS_open, "f", O_RDONLY | O_DIRECTORY),
        Errno::ENOTDIR,
    );
    c.errno(
        "trailing_slash",
        sc!(libc::SYS_open, "f/", O_RDONLY),
        Errno::ENOTDIR,
    );
    Ok(())
}

fn open_eisdir(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    c.errno("wronly", sc!(libc::SYS_open, "d", O_WRONLY), Errno::EISDIR);
    c.errno("rdwr", sc!(libc::SYS_open, "d", O_RDWR), Errno::EISDIR);
    c.errno(
        "creat_existing_dir",
        sc!(libc::SYS_open, "d", O_CREAT | O_WRONLY, 0o644),
        Errno::EISDIR,
    );
    let d = fd(c, "rdonly", sc!(libc::SYS_open, "d", O_RDONLY))?;
    sys::close(d);
    Ok(())
}

fn open_trunc(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"hello", 0o644)?;
    let f = fd(c, "open", sc!(libc::SYS_open, "f", O_WRONLY | O_TRUNC))?;
    let st = c.must("fstat", sys::fstat(f))?;
    c.eq("size", st.st_size, 0);
    sys::close(f);
    let f = fd(c, "open_rdonly_trunc", sc!(libc::SYS_open, "f", O_RDONLY))?;
    sys::close(f);
    Ok(())
}

fn open_append(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"ab", 0o644)?;
    let f = fd(
        c,
        "open",
        sc!(libc::SYS_open, "f", O_WRONLY | libc::O_APPEND),
    )?;
    c.ret("lseek_start", sc!(libc::SYS_lseek, f, 0, libc::SEEK_SET))
        .ok();
    c.ret("write", sys::write(f, b"cd")).ok();
    c.ret("pos", sc!(libc::SYS_lseek, f, 0, libc::SEEK_CUR))
        .ok();
    sys::close(f);
    let data = need("read back", sys::read_file("f"))?;
    c.eq("content", text(&data), "abcd".into());
    Ok(())
}

fn creat_legacy(c: &mut Ctx) -> Outcome {
    sc!(libc::SYS_umask, 0o022).ok();
    let f = fd(c, "creat", sc!(libc::SYS_creat, "c", 0o640))?;
    let fl = c.must("getfl", sys::fcntl(f, libc::F_GETFL, 0))?;
    c.eq(
        "accmode_wronly",
        fl & i64::from(libc::O_ACCMODE) == i64::from(O_WRONLY),
        true,
    );
    c.ret("write", sys::write(f, b"xyz")).ok();
    sys::close(f);
    let st = c.must("stat", sys::stat("c"))?;
    c.eq("mode", tmode(st.st_mode), "file 0640".into());
    c.eq("size", st.st_size, 3);
    let f = fd(c, "creat_truncates", sc!(libc::SYS_creat, "c", 0o600))?;
    sys::close(f);
    let st = c.must("stat2", sys::stat("c"))?;
    c.eq("size_after", st.st_size, 0);
    c.eq("mode_kept", tmode(st.st_mode), "file 0640".into());
    Ok(())
}

fn open_tmpfile(c: &mut Ctx) -> Outcome {
    let r = sc!(
        libc::SYS_openat,
        libc::AT_FDCWD,
        ".",
        libc::O_TMPFILE | O_RDWR,
        0o600
    );
    if r == Err(Errno::EOPNOTSUPP) {
        return Err(crate::case::Stop::Skip(
            "O_TMPFILE not supported by this filesystem".into(),
        ));
    }
    let f = fd(c, "openat_tmpfile", r)?;
    c.ret("write", sys::write(f, b"tmp")).ok();
    let st = c.must("fstat", sys::fstat(f))?;
    c.eq("nlink", st.st_nlink, 0);
    let names = need("getdents", sys::read_dir_names("."))?;
    c.rec("dir_before", names);
    let link = format!("/proc/self/fd/{f}");
    c.ret(
        "linkat",
        sc!(
            libc::SYS_linkat,
            libc::AT_FDCWD,
            &link,
            libc::AT_FDCWD,
            "named",
            libc::AT_SYMLINK_FOLLOW
        ),
    )
    .ok();
    let st = c.must("stat_named", sys::stat("named"))?;
    c.eq("size", st.st_size, 3);
    c.eq("nlink_after", st.st_nlink, 1);
    sys::close(f);
    Ok(())
}

fn open_name_limits(c: &mut Ctx) -> Outcome {
    let n255 = "a".repeat(255);
    let n256 = "a".repeat(256);
    let f = fd(
        c,
        "name_255",
        sc!(libc::SYS_open, &n255, O_CREAT | O_WRONLY, 0o644),
    )?;
    sys::close(f);
    c.errno(
        "name_256",
        sc!(libc::SYS_open, &n256, O_CREAT | O_WRONLY, 0o644),
        Errno::ENAMETOOLONG,
    );
    let long = "d/".repeat(2100);
    c.errno(
        "path_4200",
        sc!(libc::SYS_open, &long, O_RDONLY),
        Errno::ENAMETOOLONG,
    );
    Ok(())
}

fn open_empty_and_efault(c: &mut Ctx) -> Outcome {
    c.errno("empty", sc!(libc::SYS_open, "", O_RDONLY), Errno::ENOENT);
    c.errno("efault", sc!(libc::SYS_open, 1i64, O_RDONLY), Errno::EFAULT);
    c.errno(
        "efault_null",
        sc!(libc::SYS_open, 0i64, O_RDONLY),
        Errno::EFAULT,
    );
    Ok(())
}

fn openat_dirfd(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    let d = fd(
        c,
        "open_dir",
        sc!(libc::SYS_open, "d", O_RDONLY | O_DIRECTORY),
    )?;
    let f = fd(
        c,
        "openat_creat",
        sc!(libc::SYS_openat, d, "x", O_CREAT | O_WRONLY, 0o644),
    )?;
    c.ret("write", sys::write(f, b"1")).ok();
    sys::close(f);
    let st = c.must("stat_d_x", sys::stat("d/x"))?;
    c.eq("size", st.st_size, 1);
    let f = fd(
        c,
        "openat_fdcwd",
        sc!(libc::SYS_openat, libc::AT_FDCWD, "d/x", O_RDONLY),
    )?;
    sys::close(f);
    let abs = format!("{}/d/x", c.cwd());
    let f = fd(
        c,
        "openat_abs_ignores_dirfd",
        sc!(libc::SYS_openat, 9999, &abs, O_RDONLY),
    )?;
    sys::close(f);
    sys::close(d);
    Ok(())
}

fn openat_bad_dirfd(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"x", 0o644)?;
    c.errno(
        "ebadf",
        sc!(libc::SYS_openat, 9999, "f", O_RDONLY),
        Errno::EBADF,
    );
    let f = open("f", O_RDONLY, 0)?;
    c.errno(
        "file_as_dirfd",
        sc!(libc::SYS_openat, f, "x", O_RDONLY),
        Errno::ENOTDIR,
    );
    c.errno(
        "negative_dirfd",
        sc!(libc::SYS_openat, -5, "f", O_RDONLY),
        Errno::EBADF,
    );
    sys::close(f);
    Ok(())
}

fn openat_dotdot(c: &mut Ctx) -> Outcome {
    mkdir("a", 0o755)?;
    mkdir("a/b", 0o755)?;
    mkfile(c, "a/f", b"up", 0o644)?;
    let d = open("a/b", O_RDONLY | O_DIRECTORY, 0)?;
    let f = fd(
        c,
        "openat_dotdot",
        sc!(libc::SYS_openat, d, "../f", O_RDONLY),
    )?;
    let data = c.must("read", sys::read(f, 10))?;
    c.eq("data", text(&data), "up".into());
    sys::close(f);
    let f = fd(c, "openat_dot", sc!(libc::SYS_openat, d, ".", O_RDONLY))?;
    let st = c.must("fstat_dot", sys::fstat(f))?;
    c.eq("dot_type", ftype(st.st_mode), "dir");
    sys::close(f);
    sys::close(d);
    Ok(())
}

fn how(flags: i32, mode: u64, resolve: u64) -> sys::OpenHow {
    sys::OpenHow {
        flags: u64::try_from(flags).unwrap_or(0),
        mode,
        resolve,
    }
}

fn openat2(dfd: i32, p: &str, h: &sys::OpenHow, size: usize) -> sys::R {
    let cp = sys::cs(p);
    sys::call(
        libc::SYS_openat2,
        &[
            sys::Arg::i(dfd),
            sys::Arg::s(&cp),
            sys::Arg::r(h),
            sys::Arg::n(size),
        ],
    )
}

fn openat2_beneath(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "d/x", b"x", 0o644)?;
    mkfile(c, "f", b"f", 0o644)?;
    let d = open("d", O_RDONLY | O_DIRECTORY, 0)?;
    let size = std::mem::size_of::<sys::OpenHow>();
    let h = how(O_RDONLY, 0, libc::RESOLVE_BENEATH);
    let r = openat2(d, "x", &h, size);
    if r == Err(Errno::ENOSYS) {
        return Err(crate::case::Stop::Skip("openat2 not available".into()));
    }
    let f = fd(c, "beneath_ok", r)?;
    sys::close(f);
    c.errno("beneath_dotdot", openat2(d, "../f", &h, size), Errno::EXDEV);
    let abs = format!("{}/f", c.cwd());
    c.errno("beneath_absolute", openat2(d, &abs, &h, size), Errno::EXDEV);
    let hp = how(O_RDONLY, 0, 0);
    let f = fd(c, "plain_dotdot", openat2(d, "../f", &hp, size))?;
    sys::close(f);
    let hc = how(O_RDONLY, 0, libc::RESOLVE_CACHED);
    let r = openat2(d, "x", &hc, size);
    c.check(
        "RESOLVE_CACHED gives a fd or EAGAIN",
        r.is_ok() || r == Err(Errno::EAGAIN),
    );
    if let Ok(f) = r {
        sys::close(int(f));
    }
    sys::close(d);
    Ok(())
}

fn openat2_einval(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"x", 0o644)?;
    let size = std::mem::size_of::<sys::OpenHow>();
    let r = openat2(libc::AT_FDCWD, "f", &how(O_RDONLY, 0, 0), size);
    if r == Err(Errno::ENOSYS) {
        return Err(crate::case::Stop::Skip("openat2 not available".into()));
    }
    if let Ok(f) = r {
        sys::close(int(f));
    }
    c.errno(
        "unknown_resolve",
        openat2(libc::AT_FDCWD, "f", &how(O_RDONLY, 0, 1 << 40), size),
        Errno::EINVAL,
    );
    c.errno(
        "mode_without_creat",
        openat2(libc::AT_FDCWD, "f", &how(O_RDONLY, 0o644, 0), size),
        Errno::EINVAL,
    );
    c.errno(
        "size_small",
        openat2(libc::AT_FDCWD, "f", &how(O_RDONLY, 0, 0), 8),
        Errno::EINVAL,
    );
    c.errno(
        "unknown_flag",
        openat2(libc::AT_FDCWD, "f", &how(1 << 30, 0, 0), size),
        Errno::EINVAL,
    );
    let big = [how(O_RDONLY, 0, 0), how(1, 0, 0)];
    let cp = sys::cs("f");
    let r = sys::call(
        libc::SYS_openat2,
        &[
            sys::Arg::i(libc::AT_FDCWD),
            sys::Arg::s(&cp),
            sys::Arg::r(&big),
            sys::Arg::n(size + 8),
        ],
    );
    c.errno("size_big_nonzero_tail", r, Errno::E2BIG);
    Ok(())
}

fn stat_file(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"0123456789", 0o640)?;
    let st = c.must("stat", sys::stat("f"))?;
    c.eq("mode", tmode(st.st_mode), "file 0640".into());
    c.eq("size", st.st_size, 10);
    c.eq("nlink", st.st_nlink, 1);
    let euid = sc!(libc::SYS_geteuid).unwrap_or(-1);
    c.eq("owner_is_euid", i64::from(st.st_uid) == euid, true);
    c.errno("stat_missing", sys::stat("missing"), Errno::ENOENT);
    c.errno("stat_notdir", sys::stat("f/x"), Errno::ENOTDIR);
    Ok(())
}

fn stat_dir_nlink(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    let st = c.must("stat", sys::stat("d"))?;
    c.eq("mode", tmode(st.st_mode), "dir 0755".into());
    c.eq("nlink_empty", st.st_nlink, 2);
    mkdir("d/sub", 0o700)?;
    let st = c.must("stat2", sys::stat("d"))?;
    c.eq("nlink_one_sub", st.st_nlink, 3);
    let a = c.must("stat_dotdot", sys::stat("d/sub/.."))?;
    c.eq(
        "dotdot_is_parent",
        a.st_ino == st.st_ino && a.st_dev == st.st_dev,
        true,
    );
    Ok(())
}

fn newfstatat_flags(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"abc", 0o644)?;
    let st = c.must("fdcwd", sys::fstatat(libc::AT_FDCWD, "f", 0))?;
    c.eq("size", st.st_size, 3);
    let f = open("f", O_RDONLY, 0)?;
    let st = c.must("empty_path", sys::fstatat(f, "", libc::AT_EMPTY_PATH))?;
    c.eq("size_empty_path", st.st_size, 3);
    c.errno("empty_without_flag", sys::fstatat(f, "", 0), Errno::ENOENT);
    c.errno(
        "bad_flags",
        sys::fstatat(libc::AT_FDCWD, "f", 0x0040_0000),
        Errno::EINVAL,
    );
    c.errno("file_as_dirfd", sys::fstatat(f, "x", 0), Errno::ENOTDIR);
    sys::close(f);
    Ok(())
}

fn statx_basic(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"abcd", 0o600)?;
    let st = c.must(
        "statx",
        sys::statx(libc::AT_FDCWD, "f", 0, libc::STATX_BASIC_STATS),
    )?;
    c.eq(
        "basic_mask",
        st.stx_mask & libc::STATX_BASIC_STATS,
        libc::STATX_BASIC_STATS,
    );
    c.eq("size", st.stx_size, 4);
    c.eq("mode", tmode(u32::from(st.stx_mode)), "file 0600".into());
    c.eq("nlink", st.stx_nlink, 1);
    let f = open("f", O_RDONLY, 0)?;
    let st = c.must(
        "statx_empty_path",
        sys::statx(f, "", libc::AT_EMPTY_PATH, libc::STATX_SIZE),
    )?;
    c.eq("size_fd", st.stx_size, 4);
    c.errno(
        "statx_missing",
        sys::statx(libc::AT_FDCWD, "nope", 0, libc::STATX_BASIC_STATS),
        Errno::ENOENT,
    );
    c.errno(
        "statx_reserved_mask",
        sys::statx(libc::AT_FDCWD, "f", 0, 0x8000_0000),
        Errno::EINVAL,
    );
    sys::close(f);
    Ok(())
}

fn access_modes(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    mkfile(c, "x", b"", 0o755)?;
    c.ret("f_ok", sc!(libc::SYS_access, "f", libc::F_OK)).ok();
    c.ret("r_ok", sc!(libc::SYS_access, "f", libc::R_OK)).ok();
    c.ret("w_ok", sc!(libc::SYS_access, "f", libc::W_OK)).ok();
    c.errno(
        "x_ok",
        sc!(libc::SYS_access, "f", libc::X_OK),
        Errno::EACCES,
    );
    c.ret("x_ok_exec", sc!(libc::SYS_access, "x", libc::X_OK))
        .ok();
    c.errno(
        "missing",
        sc!(libc::SYS_access, "missing", libc::F_OK),
        Errno::ENOENT,
    );
    c.errno("bad_mode", sc!(libc::SYS_access, "f", 0o10), Errno::EINVAL);
    Ok(())
}

fn faccessat_variants(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "d/f", b"", 0o600)?;
    sc!(libc::SYS_symlink, "nowhere", "dangling").ok();
    let d = open("d", O_RDONLY | O_DIRECTORY, 0)?;
    c.ret(
        "faccessat_dirfd",
        sc!(libc::SYS_faccessat, d, "f", libc::R_OK),
    )
    .ok();
    c.ret(
        "faccessat2_eaccess",
        sc!(
            libc::SYS_faccessat2,
            libc::AT_FDCWD,
            "d/f",
            libc::W_OK,
            libc::AT_EACCESS
        ),
    )
    .ok();
    c.errno(
        "faccessat2_bad_flags",
        sc!(libc::SYS_faccessat2, libc::AT_FDCWD, "d/f", libc::R_OK, 0x1),
        Errno::EINVAL,
    );
    c.errno(
        "dangling_follow",
        sc!(
            libc::SYS_faccessat2,
            libc::AT_FDCWD,
            "dangling",
            libc::F_OK,
            0
        ),
        Errno::ENOENT,
    );
    c.ret(
        "dangling_nofollow",
        sc!(
            libc::SYS_faccessat2,
            libc::AT_FDCWD,
            "dangling",
            libc::F_OK,
            libc::AT_SYMLINK_NOFOLLOW
        ),
    )
    .ok();
    c.ret(
        "faccessat2_empty_path",
        sc!(libc::SYS_faccessat2, d, "", libc::R_OK, libc::AT_EMPTY_PATH),
    )
    .ok();
    sys::close(d);
    Ok(())
}

fn unlink_open_file(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"still here", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    c.ret("unlink", sc!(libc::SYS_unlink, "f")).ok();
    let st = c.must("fstat", sys::fstat(f))?;
    c.eq("nlink", st.st_nlink, 0);
    let data = c.must("read", sys::read(f, 64))?;
    c.eq("data", text(&data), "still here".into());
    c.errno("stat", sys::stat("f"), Errno::ENOENT);
    sys::close(f);
    Ok(())
}

fn umask_creation(c: &mut Ctx) -> Outcome {
    let old = sc!(libc::SYS_umask, 0o027).unwrap_or(-1);
    let prev = sc!(libc::SYS_umask, 0o027).unwrap_or(-1);
    c.eq("umask_returns_previous", prev, 0o027);
    let f = int(c.mustn("open", sc!(libc::SYS_open, "f", O_CREAT | O_WRONLY, 0o777))?);
    sys::close(f);
    let st = c.must("stat_f", sys::stat("f"))?;
    c.eq("file_mode", tmode(st.st_mode), "file 0750".into());
    c.ret("mkdir", sc!(libc::SYS_mkdir, "d", 0o777)).ok();
    let st = c.must("stat_d", sys::stat("d"))?;
    c.eq("dir_mode", tmode(st.st_mode), "dir 0750".into());
    c.ret("umask_masks_to_0777", sc!(libc::SYS_umask, 0o7777))
        .ok();
    let now = sc!(libc::SYS_umask, old).unwrap_or(-1);
    c.eq("umask_kept_0777", now, 0o777);
    Ok(())
}

fn o_path(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"secret", 0o644)?;
    let f = int(c.mustn("open_path", sc!(libc::SYS_open, "f", libc::O_PATH))?);
    c.errno("read", sys::read(f, 10), Errno::EBADF);
    c.errno("write", sys::write(f, b"x"), Errno::EBADF);
    let st = c.must("fstat", sys::fstat(f))?;
    c.eq("type", ftype(st.st_mode), "file");
    let fl = c.must("getfl", sys::fcntl(f, libc::F_GETFL, 0))?;
    c.eq("has_o_path", fl & i64::from(libc::O_PATH) != 0, true);
    c.errno("fchmod", sc!(libc::SYS_fchmod, f, 0o600), Errno::EBADF);
    sys::close(f);
    Ok(())
}

fn o_creat_directory(c: &mut Ctx) -> Outcome {
    c.errno(
        "creat_directory",
        sc!(
            libc::SYS_open,
            "newdir",
            O_CREAT | O_DIRECTORY | O_RDONLY,
            0o755
        ),
        Errno::EINVAL,
    );
    c.errno("nothing_created", sys::stat("newdir"), Errno::ENOENT);
    c.errno(
        "excl_without_creat_missing",
        sc!(libc::SYS_open, "nope", O_EXCL | O_RDONLY),
        Errno::ENOENT,
    );
    Ok(())
}
