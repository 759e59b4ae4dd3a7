//! Hard links and symbolic links: link/linkat, symlink/symlinkat, readlink/readlinkat, following rules (O_NOFOLLOW,
//! AT_SYMLINK_NOFOLLOW, RESOLVE_NO_SYMLINKS), loops and the 40-link limit.
#![forbid(unsafe_code)]

use libc::{AT_FDCWD, O_CREAT, O_DIRECTORY, O_RDONLY, O_WRONLY};
use nix::errno::Errno;

use super::helper::{ftype, mkdir, mkfile, need, open, text};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, int};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new("links.link_basic", &["link", "stat", "unlink"], link_basic),
    Case::new("links.link_errors", &["link"], link_errors),
    Case::new(
        "links.linkat_follow",
        &["linkat", "symlink", "lstat"],
        linkat_follow,
    ),
    Case::new("links.linkat_dirfd", &["linkat", "open"], linkat_dirfd),
    Case::new(
        "links.symlink_readlink",
        &["symlink", "readlink", "lstat"],
        symlink_readlink,
    ),
    Case::new("links.readlink_errors", &["readlink"], readlink_errors),
    Case::new(
        "links.readlinkat_variants",
        &["readlinkat", "symlinkat", "open"],
        readlinkat_variants,
    ),
    Case::new(
        "links.dangling",
        &["symlink", "stat", "lstat", "open"],
        dangling,
    ),
    Case::new("links.loop", &["symlink", "stat", "open"], symlink_loop),
    Case::new("links.chain_limit", &["symlink", "stat"], chain_limit),
    Case::new("links.o_nofollow", &["open", "fstat"], o_nofollow),
    Case::new(
        "links.dir_symlink",
        &["symlink", "stat", "chdir", "getcwd"],
        dir_symlink,
    ),
    Case::new(
        "links.relative_dotdot",
        &["symlink", "open", "read"],
        relative_dotdot,
    ),
    Case::new(
        "links.absolute_target",
        &["symlink", "open", "readlink"],
        absolute_target,
    ),
    Case::new(
        "links.unlink_rename_symlink",
        &["unlink", "rename", "readlink"],
        unlink_rename_symlink,
    ),
    Case::new(
        "links.symlink_errors",
        &["symlink", "mkdir"],
        symlink_errors,
    ),
    Case::new(
        "links.nofollow_metadata",
        &["lchown", "fchownat", "utimensat", "lstat"],
        nofollow_metadata,
    ),
    Case::new(
        "links.openat2_no_symlinks",
        &["openat2"],
        openat2_no_symlinks,
    ),
    Case::new(
        "links.trailing_slash",
        &["stat", "lstat", "unlink", "rmdir"],
        trailing_slash,
    ),
    Case::new(
        "links.hardlink_shares_inode",
        &["link", "write", "read", "fstat"],
        hardlink_shares_inode,
    ),
];

fn link_basic(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"data", 0o644)?;
    c.ret("link", sc!(libc::SYS_link, "f", "g")).ok();
    let a = c.must("stat_f", sys::stat("f"))?;
    let b = c.must("stat_g", sys::stat("g"))?;
    c.eq("nlink", a.st_nlink, 2);
    c.eq("same_inode", a.st_ino == b.st_ino, true);
    c.ret("unlink_f", sc!(libc::SYS_unlink, "f")).ok();
    let b = c.must("stat_g2", sys::stat("g"))?;
    c.eq("nlink_after", b.st_nlink, 1);
    let data = need("read", sys::read_file("g"))?;
    c.eq("content", text(&data), "data".into());
    Ok(())
}

fn link_errors(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    mkfile(c, "g", b"", 0o644)?;
    mkdir("d", 0o755)?;
    c.errno("exists", sc!(libc::SYS_link, "f", "g"), Errno::EEXIST);
    c.errno("dir", sc!(libc::SYS_link, "d", "d2"), Errno::EPERM);
    c.errno(
        "missing",
        sc!(libc::SYS_link, "missing", "x"),
        Errno::ENOENT,
    );
    c.errno(
        "missing_target_dir",
        sc!(libc::SYS_link, "f", "nodir/x"),
        Errno::ENOENT,
    );
    c.errno("empty", sc!(libc::SYS_link, "", "x"), Errno::ENOENT);
    Ok(())
}

fn linkat_follow(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "f", "s").ok();
    c.ret(
        "linkat_nofollow",
        sc!(libc::SYS_linkat, AT_FDCWD, "s", AT_FDCWD, "h", 0),
    )
    .ok();
    let st = c.must("lstat_h", sys::lstat("h"))?;
    c.eq("h_type", ftype(st.st_mode), "symlink");
    c.ret(
        "linkat_follow",
        sc!(
            libc::SYS_linkat,
            AT_FDCWD,
            "s",
            AT_FDCWD,
            "i",
            libc::AT_SYMLINK_FOLLOW
        ),
    )
    .ok();
    let st = c.must("lstat_i", sys::lstat("i"))?;
    c.eq("i_type", ftype(st.st_mode), "file");
    c.errno(
        "bad_flags",
        sc!(libc::SYS_linkat, AT_FDCWD, "f", AT_FDCWD, "j", 0x1),
        Errno::EINVAL,
    );
    Ok(())
}

fn linkat_dirfd(c: &mut Ctx) -> Outcome {
    mkdir("a", 0o755)?;
    mkdir("b", 0o755)?;
    mkfile(c, "a/f", b"x", 0o644)?;
    let a = open("a", O_RDONLY | O_DIRECTORY, 0)?;
    let b = open("b", O_RDONLY | O_DIRECTORY, 0)?;
    c.ret("linkat", sc!(libc::SYS_linkat, a, "f", b, "g")).ok();
    let st = c.must("stat", sys::stat("b/g"))?;
    c.eq("nlink", st.st_nlink, 2);
    c.errno(
        "ebadf",
        sc!(libc::SYS_linkat, 9999, "f", b, "h"),
        Errno::EBADF,
    );
    let f = open("a/f", O_RDONLY, 0)?;
    let r = sc!(libc::SYS_linkat, f, "", AT_FDCWD, "e", libc::AT_EMPTY_PATH);
    c.st("linkat_empty_path", r).ok();
    sys::close(f);
    sys::close(a);
    sys::close(b);
    Ok(())
}

fn symlink_readlink(c: &mut Ctx) -> Outcome {
    c.ret("symlink", sc!(libc::SYS_symlink, "target", "l")).ok();
    let r = c.must("readlink", sys::readlink("l", 64))?;
    c.rec("link", format!("{} {}", r.0, r.1));
    let st = c.must("lstat", sys::lstat("l"))?;
    c.eq("type", ftype(st.st_mode), "symlink");
    c.eq("size", st.st_size, 6);
    c.eq("perms", st.st_mode & 0o777, 0o777);
    let r = c.must("readlink_small", sys::readlink("l", 3))?;
    c.rec("truncated", format!("{} {}", r.0, r.1));
    Ok(())
}

fn readlink_errors(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "f", "l").ok();
    c.errno("regular", sys::readlink("f", 64), Errno::EINVAL);
    c.errno("missing", sys::readlink("missing", 64), Errno::ENOENT);
    c.errno("bufsiz_zero", sys::readlink("l", 0), Errno::EINVAL);
    c.errno("dir", sys::readlink(".", 64), Errno::EINVAL);
    Ok(())
}

fn readlinkat_variants(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    let d = open("d", O_RDONLY | O_DIRECTORY, 0)?;
    c.ret("symlinkat", sc!(libc::SYS_symlinkat, "../x", d, "l"))
        .ok();
    let r = c.must("readlinkat_dirfd", sys::readlinkat(d, "l", 64))?;
    c.rec("via_dirfd", r.1);
    let r = c.must("readlinkat_fdcwd", sys::readlinkat(AT_FDCWD, "d/l", 64))?;
    c.rec("via_cwd", r.1);
    let lfd = int(c.mustn(
        "open_path_nofollow",
        sc!(libc::SYS_open, "d/l", libc::O_PATH | libc::O_NOFOLLOW),
    )?);
    let r = c.must("readlinkat_empty", sys::readlinkat(lfd, "", 64))?;
    c.rec("via_empty_path", r.1);
    c.errno(
        "readlinkat_ebadf",
        sys::readlinkat(9999, "l", 64),
        Errno::EBADF,
    );
    sys::close(lfd);
    sys::close(d);
    Ok(())
}

fn dangling(c: &mut Ctx) -> Outcome {
    sc!(libc::SYS_symlink, "nowhere", "dang").ok();
    c.errno("stat", sys::stat("dang"), Errno::ENOENT);
    let st = c.must("lstat", sys::lstat("dang"))?;
    c.eq("type", ftype(st.st_mode), "symlink");
    c.errno("open", sc!(libc::SYS_open, "dang", O_RDONLY), Errno::ENOENT);
    let f = int(c.mustn(
        "open_creat_through",
        sc!(libc::SYS_open, "dang", O_CREAT | O_WRONLY, 0o644),
    )?);
    sys::close(f);
    let st = c.must("target_created", sys::stat("nowhere"))?;
    c.eq("target_type", ftype(st.st_mode), "file");
    sc!(libc::SYS_symlink, "nowhere2", "dang2").ok();
    c.errno(
        "creat_excl_through",
        sc!(
            libc::SYS_open,
            "dang2",
            O_CREAT | libc::O_EXCL | O_WRONLY,
            0o644
        ),
        Errno::EEXIST,
    );
    Ok(())
}

fn symlink_loop(c: &mut Ctx) -> Outcome {
    sc!(libc::SYS_symlink, "b", "a").ok();
    sc!(libc::SYS_symlink, "a", "b").ok();
    c.errno("stat", sys::stat("a"), Errno::ELOOP);
    c.errno("open", sc!(libc::SYS_open, "a", O_RDONLY), Errno::ELOOP);
    c.errno("stat_through", sys::stat("a/x"), Errno::ELOOP);
    sc!(libc::SYS_symlink, "self", "self").ok();
    c.errno("self_loop", sys::stat("self"), Errno::ELOOP);
    c.st("lstat_ok", sys::lstat("a")).ok();
    Ok(())
}

fn chain_limit(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let mut prev = "f".to_owned();
    for i in 1..=41 {
        let name = format!("l{i}");
        need("symlink", sc!(libc::SYS_symlink, &prev, &name))?;
        prev = name;
    }
    c.st("follow_40", sys::stat("l40")).ok();
    c.errno("follow_41", sys::stat("l41"), Errno::ELOOP);
    Ok(())
}

fn o_nofollow(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "f", "l").ok();
    c.errno(
        "nofollow",
        sc!(libc::SYS_open, "l", O_RDONLY | libc::O_NOFOLLOW),
        Errno::ELOOP,
    );
    let p = int(c.mustn(
        "nofollow_path",
        sc!(libc::SYS_open, "l", libc::O_PATH | libc::O_NOFOLLOW),
    )?);
    let st = c.must("fstat", sys::fstat(p))?;
    c.eq("type", ftype(st.st_mode), "symlink");
    sys::close(p);
    let f = int(c.mustn(
        "nofollow_regular",
        sc!(libc::SYS_open, "f", O_RDONLY | libc::O_NOFOLLOW),
    )?);
    sys::close(f);
    mkdir("d", 0o755)?;
    sc!(libc::SYS_symlink, "d", "dl").ok();
    let f = int(c.mustn(
        "nofollow_intermediate",
        sc!(libc::SYS_open, "dl/.", O_RDONLY | libc::O_NOFOLLOW),
    )?);
    sys::close(f);
    Ok(())
}

fn dir_symlink(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "d/f", b"x", 0o644)?;
    sc!(libc::SYS_symlink, "d", "dl").ok();
    let st = c.must("stat_through", sys::stat("dl/f"))?;
    c.eq("size", st.st_size, 1);
    c.ret("chdir", sc!(libc::SYS_chdir, "dl")).ok();
    let cwd = c.must("getcwd", sys::getcwd(4096))?;
    c.rec("cwd", c.path(&cwd));
    let names = need("list", sys::read_dir_names("."))?;
    c.rec("entries", names);
    Ok(())
}

fn relative_dotdot(c: &mut Ctx) -> Outcome {
    mkdir("a", 0o755)?;
    mkdir("a/b", 0o755)?;
    mkfile(c, "a/f", b"parent", 0o644)?;
    sc!(libc::SYS_symlink, "../f", "a/b/l").ok();
    let data = c.must("read", sys::read_file("a/b/l"))?;
    c.eq("content", text(&data), "parent".into());
    sc!(libc::SYS_symlink, "a/b", "ab").ok();
    let data = c.must("read_via_dir_link", sys::read_file("ab/../f"))?;
    c.eq(
        "dotdot_after_symlink_is_physical",
        text(&data),
        "parent".into(),
    );
    Ok(())
}

fn absolute_target(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"abs", 0o644)?;
    let target = format!("{}/f", c.cwd());
    sc!(libc::SYS_symlink, &target, "l").ok();
    let data = c.must("read", sys::read_file("l"))?;
    c.eq("content", text(&data), "abs".into());
    let r = c.must("readlink", sys::readlink("l", 4096))?;
    c.rec("target", c.path(&r.1));
    Ok(())
}

fn unlink_rename_symlink(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "f", "l").ok();
    c.ret("rename", sc!(libc::SYS_rename, "l", "m")).ok();
    let r = c.must("readlink", sys::readlink("m", 64))?;
    c.rec("target", r.1);
    c.ret("unlink", sc!(libc::SYS_unlink, "m")).ok();
    c.st("target_kept", sys::stat("f")).ok();
    c.errno("link_gone", sys::lstat("m"), Errno::ENOENT);
    Ok(())
}

fn symlink_errors(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "nowhere", "dang").ok();
    c.errno("exists", sc!(libc::SYS_symlink, "x", "f"), Errno::EEXIST);
    c.errno(
        "empty_target",
        sc!(libc::SYS_symlink, "", "e"),
        Errno::ENOENT,
    );
    c.errno(
        "missing_dir",
        sc!(libc::SYS_symlink, "x", "nodir/l"),
        Errno::ENOENT,
    );
    c.errno(
        "mkdir_over_dangling",
        sc!(libc::SYS_mkdir, "dang", 0o755),
        Errno::EEXIST,
    );
    c.errno(
        "symlinkat_ebadf",
        sc!(libc::SYS_symlinkat, "x", 9999, "l"),
        Errno::EBADF,
    );
    Ok(())
}

fn nofollow_metadata(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "f", "l").ok();
    let uid = sc!(libc::SYS_geteuid).unwrap_or(0);
    let gid = sc!(libc::SYS_getegid).unwrap_or(0);
    c.ret("lchown_noop", sc!(libc::SYS_lchown, "l", -1, -1))
        .ok();
    c.ret("lchown_self", sc!(libc::SYS_lchown, "l", uid, gid))
        .ok();
    c.ret(
        "fchownat_nofollow",
        sc!(
            libc::SYS_fchownat,
            AT_FDCWD,
            "l",
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW
        ),
    )
    .ok();
    let t = [
        libc::timespec {
            tv_sec: 1_000_000_000,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: 1_000_000_000,
            tv_nsec: 0,
        },
    ];
    let cp = sys::cs("l");
    let r = sys::call(
        libc::SYS_utimensat,
        &[
            sys::Arg::i(AT_FDCWD),
            sys::Arg::s(&cp),
            sys::Arg::r(&t),
            sys::Arg::i(libc::AT_SYMLINK_NOFOLLOW),
        ],
    );
    c.ret("utimensat_nofollow", r).ok();
    let l = c.must("lstat", sys::lstat("l"))?;
    let f = c.must("stat", sys::stat("f"))?;
    c.eq("link_mtime_set", l.st_mtime, 1_000_000_000);
    c.eq("target_mtime_untouched", f.st_mtime != 1_000_000_000, true);
    Ok(())
}

fn openat2_no_symlinks(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "f", "l").ok();
    let size = std::mem::size_of::<sys::OpenHow>();
    let h = sys::OpenHow {
        flags: 0,
        mode: 0,
        resolve: libc::RESOLVE_NO_SYMLINKS,
    };
    let cp = sys::cs("l");
    let r = sys::call(
        libc::SYS_openat2,
        &[
            sys::Arg::i(AT_FDCWD),
            sys::Arg::s(&cp),
            sys::Arg::r(&h),
            sys::Arg::n(size),
        ],
    );
    if r == Err(Errno::ENOSYS) {
        return Err(crate::case::Stop::Skip("openat2 not available".into()));
    }
    c.errno("no_symlinks", r, Errno::ELOOP);
    let fd = open("f", O_RDONLY, 0)?;
    let magic = sys::cs(&format!("/proc/self/fd/{fd}"));
    let hm = sys::OpenHow {
        flags: 0,
        mode: 0,
        resolve: libc::RESOLVE_NO_MAGICLINKS,
    };
    let r = sys::call(
        libc::SYS_openat2,
        &[
            sys::Arg::i(AT_FDCWD),
            sys::Arg::s(&magic),
            sys::Arg::r(&hm),
            sys::Arg::n(size),
        ],
    );
    c.errno("no_magiclinks", r, Errno::ELOOP);
    let hp = sys::OpenHow {
        flags: 0,
        mode: 0,
        resolve: 0,
    };
    let r = sys::call(
        libc::SYS_openat2,
        &[
            sys::Arg::i(AT_FDCWD),
            sys::Arg::s(&magic),
            sys::Arg::r(&hp),
            sys::Arg::n(size),
        ],
    );
    if let Ok(g) = c.st("magiclink_plain", r) {
        sys::close(int(g));
    }
    sys::close(fd);
    Ok(())
}

fn trailing_slash(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "d", "dl").ok();
    sc!(libc::SYS_symlink, "f", "fl").ok();
    let st = c.must("lstat_dl_slash", sys::lstat("dl/"))?;
    c.eq("dl_slash_type", ftype(st.st_mode), "dir");
    c.errno("stat_fl_slash", sys::stat("fl/"), Errno::ENOTDIR);
    c.errno("rmdir_symlink", sc!(libc::SYS_rmdir, "dl"), Errno::ENOTDIR);
    c.st("unlink_dl_slash", sc!(libc::SYS_unlink, "dl/")).ok();
    c.ret("unlink_dl", sc!(libc::SYS_unlink, "dl")).ok();
    c.st("dir_kept", sys::stat("d")).ok();
    Ok(())
}

fn hardlink_shares_inode(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    need("link", sc!(libc::SYS_link, "f", "g"))?;
    let a = open("f", O_WRONLY, 0)?;
    c.ret("write_via_f", sys::write(a, b"shared")).ok();
    sys::close(a);
    let data = c.must("read_via_g", sys::read_file("g"))?;
    c.eq("content", text(&data), "shared".into());
    c.ret("chmod_via_g", sc!(libc::SYS_chmod, "g", 0o600)).ok();
    let st = c.must("stat_f", sys::stat("f"))?;
    c.eq("mode_via_f", st.st_mode & 0o7777, 0o600);
    Ok(())
}
