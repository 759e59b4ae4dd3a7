//! Permissions and ownership, checked without capabilities (the probe drops them natively, and the sandbox never
//! has them): chmod family, DAC checks on files and directories, chown rules, set-id bit clearing, capabilities.
#![forbid(unsafe_code)]

use libc::{AT_FDCWD, O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use nix::errno::Errno;

use super::helper::{mkdir, mkfile, need, open, perms, spawn_capture, tmode};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, int};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new("perm.chmod_modes", &["chmod", "stat"], chmod_modes),
    Case::new(
        "perm.fchmod_variants",
        &["fchmod", "fchmodat", "fchmodat2"],
        fchmod_variants,
    ),
    Case::new(
        "perm.fchmod_rdonly_fd",
        &["fchmod", "fchown", "open"],
        fchmod_rdonly_fd,
    ),
    Case::new("perm.open_no_read", &["open", "stat"], open_no_read),
    Case::new("perm.open_no_write", &["open", "truncate"], open_no_write),
    Case::new(
        "perm.dir_no_search",
        &["stat", "open", "getdents64"],
        dir_no_search,
    ),
    Case::new(
        "perm.dir_no_write",
        &["open", "unlink", "rename", "mkdir"],
        dir_no_write,
    ),
    Case::new("perm.dir_no_read", &["open", "stat"], dir_no_read),
    Case::new(
        "perm.access_no_caps",
        &["access", "faccessat2"],
        access_no_caps,
    ),
    Case::new(
        "perm.chown_rules",
        &["chown", "fchown", "lchown", "fchownat"],
        chown_rules,
    ),
    Case::new(
        "perm.setid_cleared_on_write",
        &["chmod", "write", "stat"],
        setid_cleared_on_write,
    ),
    Case::new(
        "perm.setid_cleared_on_chown",
        &["chmod", "chown", "stat"],
        setid_cleared_on_chown,
    ),
    Case::new(
        "perm.setgid_dir",
        &["chmod", "mkdir", "open", "stat"],
        setgid_dir,
    ),
    Case::new("perm.sticky_dir", &["chmod", "unlink", "stat"], sticky_dir),
    Case::new("perm.execve_modes", &["execve"], execve_modes),
    Case::new(
        "perm.capabilities_dropped",
        &["capget", "capset"],
        capabilities_dropped,
    ),
    Case::new(
        "perm.chmod_follows_symlink",
        &["chmod", "symlink", "lstat"],
        chmod_follows_symlink,
    ),
    Case::new(
        "perm.utimes_permissions",
        &["utimensat"],
        utimes_permissions,
    ),
    Case::new(
        "perm.creat_mode_ignores_perms_on_open",
        &["open", "write"],
        creat_mode_ignores_perms_on_open,
    ),
];

fn mode_of(c: &mut Ctx, key: &str, p: &str) -> Result<String, crate::case::Stop> {
    let st = c.must(key, sys::stat(p))?;
    Ok(tmode(st.st_mode))
}

fn chmod_modes(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    for m in [0o000u32, 0o777, 0o4755, 0o2755, 0o1755, 0o7777] {
        c.ret(&format!("chmod_{m:04o}"), sc!(libc::SYS_chmod, "f", m))
            .ok();
        let got = mode_of(c, &format!("stat_{m:04o}"), "f")?;
        c.rec(&format!("mode_{m:04o}"), got);
    }
    c.ret(
        "chmod_high_bits_ignored",
        sc!(libc::SYS_chmod, "f", 0o170_644u32),
    )
    .ok();
    let got = mode_of(c, "stat_high", "f")?;
    c.rec("mode_high", got);
    c.errno(
        "missing",
        sc!(libc::SYS_chmod, "missing", 0o644),
        Errno::ENOENT,
    );
    Ok(())
}

fn fchmod_variants(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "f", "l").ok();
    let f = open("f", O_RDWR, 0)?;
    c.ret("fchmod", sc!(libc::SYS_fchmod, f, 0o600)).ok();
    let m = mode_of(c, "stat1", "f")?;
    c.rec("after_fchmod", m);
    c.ret("fchmodat", sc!(libc::SYS_fchmodat, AT_FDCWD, "f", 0o640))
        .ok();
    let m = mode_of(c, "stat2", "f")?;
    c.rec("after_fchmodat", m);
    let r = sc!(
        libc::SYS_fchmodat2,
        AT_FDCWD,
        "l",
        0o600,
        libc::AT_SYMLINK_NOFOLLOW
    );
    if r != Err(Errno::ENOSYS) {
        c.errno("fchmodat2_nofollow_symlink", r, Errno::EOPNOTSUPP);
        c.ret(
            "fchmodat2_follow",
            sc!(libc::SYS_fchmodat2, AT_FDCWD, "l", 0o604, 0),
        )
        .ok();
        c.ret(
            "fchmodat2_empty_path",
            sc!(libc::SYS_fchmodat2, f, "", 0o606, libc::AT_EMPTY_PATH),
        )
        .ok();
        let m = mode_of(c, "stat3", "f")?;
        c.rec("after_fchmodat2", m);
        c.errno(
            "fchmodat2_bad_flags",
            sc!(libc::SYS_fchmodat2, AT_FDCWD, "f", 0o600, 0x1),
            Errno::EINVAL,
        );
    }
    c.errno(
        "fchmod_ebadf",
        sc!(libc::SYS_fchmod, 9999, 0o600),
        Errno::EBADF,
    );
    sys::close(f);
    Ok(())
}

fn fchmod_rdonly_fd(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    c.ret("fchmod_on_rdonly_fd", sc!(libc::SYS_fchmod, f, 0o600))
        .ok();
    let m = mode_of(c, "stat", "f")?;
    c.rec("mode", m);
    let uid = sc!(libc::SYS_geteuid).unwrap_or(0);
    c.ret("fchown_on_rdonly_fd", sc!(libc::SYS_fchown, f, uid, -1))
        .ok();
    sys::close(f);
    mkdir("d", 0o755)?;
    let d = open("d", O_RDONLY | O_DIRECTORY, 0)?;
    c.ret("fchmod_on_dir_fd", sc!(libc::SYS_fchmod, d, 0o700))
        .ok();
    let m = mode_of(c, "stat_d", "d")?;
    c.rec("dir_mode", m);
    sys::close(d);
    Ok(())
}

fn open_no_read(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"secret", 0o000)?;
    c.errno("rdonly", sc!(libc::SYS_open, "f", O_RDONLY), Errno::EACCES);
    c.errno("wronly", sc!(libc::SYS_open, "f", O_WRONLY), Errno::EACCES);
    c.errno("rdwr", sc!(libc::SYS_open, "f", O_RDWR), Errno::EACCES);
    let m = mode_of(c, "stat_still_works", "f")?;
    c.rec("mode", m);
    let p = int(c.mustn("o_path_ok", sc!(libc::SYS_open, "f", libc::O_PATH))?);
    sys::close(p);
    Ok(())
}

fn open_no_write(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"keep", 0o444)?;
    c.errno("wronly", sc!(libc::SYS_open, "f", O_WRONLY), Errno::EACCES);
    c.errno(
        "trunc",
        sc!(libc::SYS_open, "f", O_RDONLY | O_TRUNC),
        Errno::EACCES,
    );
    c.errno("truncate", sc!(libc::SYS_truncate, "f", 0), Errno::EACCES);
    c.errno(
        "creat_existing",
        sc!(libc::SYS_creat, "f", 0o644),
        Errno::EACCES,
    );
    let f = int(c.mustn("rdonly", sc!(libc::SYS_open, "f", O_RDONLY))?);
    sys::close(f);
    let data = need("read", sys::read_file("f"))?;
    c.eq("content_kept", super::helper::text(&data), "keep".into());
    Ok(())
}

fn dir_no_search(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "d/f", b"", 0o644)?;
    need("chmod", sc!(libc::SYS_chmod, "d", 0o600))?;
    c.errno("stat_child", sys::stat("d/f"), Errno::EACCES);
    c.errno(
        "open_child",
        sc!(libc::SYS_open, "d/f", O_RDONLY),
        Errno::EACCES,
    );
    c.errno(
        "create_child",
        sc!(libc::SYS_open, "d/g", O_CREAT | O_WRONLY, 0o644),
        Errno::EACCES,
    );
    c.errno("chdir", sc!(libc::SYS_chdir, "d"), Errno::EACCES);
    let d = int(c.mustn("open_dir", sc!(libc::SYS_open, "d", O_RDONLY | O_DIRECTORY))?);
    let ents = c.must("getdents", sys::getdents(d))?;
    c.rec(
        "names",
        ents.into_iter().map(|(n, _)| n).collect::<Vec<_>>(),
    );
    sys::close(d);
    sc!(libc::SYS_chmod, "d", 0o755).ok();
    Ok(())
}

fn dir_no_write(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "d/f", b"", 0o644)?;
    need("chmod", sc!(libc::SYS_chmod, "d", 0o555))?;
    c.errno(
        "create",
        sc!(libc::SYS_open, "d/new", O_CREAT | O_WRONLY, 0o644),
        Errno::EACCES,
    );
    c.errno("unlink", sc!(libc::SYS_unlink, "d/f"), Errno::EACCES);
    c.errno(
        "rename_out",
        sc!(libc::SYS_rename, "d/f", "g"),
        Errno::EACCES,
    );
    c.errno("mkdir", sc!(libc::SYS_mkdir, "d/x", 0o755), Errno::EACCES);
    c.errno("symlink", sc!(libc::SYS_symlink, "f", "d/l"), Errno::EACCES);
    c.errno("link", sc!(libc::SYS_link, "d/f", "d/h"), Errno::EACCES);
    let f = int(c.mustn("write_existing_file", sc!(libc::SYS_open, "d/f", O_WRONLY))?);
    sys::close(f);
    sc!(libc::SYS_chmod, "d", 0o755).ok();
    Ok(())
}

fn dir_no_read(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "d/f", b"", 0o644)?;
    need("chmod", sc!(libc::SYS_chmod, "d", 0o311))?;
    c.errno(
        "open_dir",
        sc!(libc::SYS_open, "d", O_RDONLY | O_DIRECTORY),
        Errno::EACCES,
    );
    c.st("stat_child", sys::stat("d/f")).ok();
    let f = int(c.mustn(
        "create_child",
        sc!(libc::SYS_open, "d/g", O_CREAT | O_WRONLY, 0o644),
    )?);
    sys::close(f);
    let p = int(c.mustn(
        "o_path_dir",
        sc!(libc::SYS_open, "d", libc::O_PATH | O_DIRECTORY),
    )?);
    sys::close(p);
    sc!(libc::SYS_chmod, "d", 0o755).ok();
    Ok(())
}

fn access_no_caps(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o000)?;
    mkdir("d", 0o000)?;
    c.errno(
        "r_ok",
        sc!(libc::SYS_access, "f", libc::R_OK),
        Errno::EACCES,
    );
    c.errno(
        "w_ok",
        sc!(libc::SYS_access, "f", libc::W_OK),
        Errno::EACCES,
    );
    c.ret("f_ok", sc!(libc::SYS_access, "f", libc::F_OK)).ok();
    c.errno(
        "dir_x_ok",
        sc!(libc::SYS_access, "d", libc::X_OK),
        Errno::EACCES,
    );
    c.errno(
        "faccessat2_eaccess",
        sc!(
            libc::SYS_faccessat2,
            AT_FDCWD,
            "f",
            libc::R_OK,
            libc::AT_EACCESS
        ),
        Errno::EACCES,
    );
    sc!(libc::SYS_chmod, "d", 0o755).ok();
    Ok(())
}

fn chown_rules(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "f", "l").ok();
    let uid = sc!(libc::SYS_geteuid).unwrap_or(0);
    let gid = sc!(libc::SYS_getegid).unwrap_or(0);
    c.ret("chown_self", sc!(libc::SYS_chown, "f", uid, gid))
        .ok();
    c.ret("chown_noop", sc!(libc::SYS_chown, "f", -1, -1)).ok();
    c.errno(
        "chown_other_uid",
        sc!(libc::SYS_chown, "f", uid + 4242, -1),
        Errno::EPERM,
    );
    c.errno(
        "chown_other_gid",
        sc!(libc::SYS_chown, "f", -1, gid + 4242),
        Errno::EPERM,
    );
    let f = open("f", O_RDWR, 0)?;
    c.ret("fchown_self", sc!(libc::SYS_fchown, f, uid, gid))
        .ok();
    c.errno(
        "fchown_other",
        sc!(libc::SYS_fchown, f, uid + 4242, -1),
        Errno::EPERM,
    );
    sys::close(f);
    c.ret("lchown_self", sc!(libc::SYS_lchown, "l", uid, gid))
        .ok();
    c.ret(
        "fchownat",
        sc!(libc::SYS_fchownat, AT_FDCWD, "f", uid, gid, 0),
    )
    .ok();
    c.errno(
        "fchownat_bad_flags",
        sc!(libc::SYS_fchownat, AT_FDCWD, "f", uid, gid, 0x1),
        Errno::EINVAL,
    );
    c.errno(
        "chown_missing",
        sc!(libc::SYS_chown, "missing", uid, gid),
        Errno::ENOENT,
    );
    Ok(())
}

fn setid_cleared_on_write(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    need("chmod", sc!(libc::SYS_chmod, "f", 0o6755))?;
    let m = mode_of(c, "before", "f")?;
    c.rec("mode_before", m);
    let f = open("f", O_WRONLY, 0)?;
    c.ret("write", sys::write(f, b"x")).ok();
    sys::close(f);
    let m = mode_of(c, "after", "f")?;
    c.rec("mode_after_write", m);
    need("chmod2", sc!(libc::SYS_chmod, "f", 0o6755))?;
    c.ret("truncate", sc!(libc::SYS_truncate, "f", 0)).ok();
    let m = mode_of(c, "after_truncate", "f")?;
    c.rec("mode_after_truncate", m);
    Ok(())
}

fn setid_cleared_on_chown(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    need("chmod", sc!(libc::SYS_chmod, "f", 0o6755))?;
    let uid = sc!(libc::SYS_geteuid).unwrap_or(0);
    c.ret("chown_self", sc!(libc::SYS_chown, "f", uid, -1)).ok();
    let m = mode_of(c, "after", "f")?;
    c.rec("mode_after_chown", m);
    Ok(())
}

fn setgid_dir(c: &mut Ctx) -> Outcome {
    sc!(libc::SYS_umask, 0o022).ok();
    mkdir("d", 0o755)?;
    need("chmod", sc!(libc::SYS_chmod, "d", 0o2775))?;
    c.ret("mkdir_sub", sc!(libc::SYS_mkdir, "d/sub", 0o755))
        .ok();
    let m = mode_of(c, "stat_sub", "d/sub")?;
    c.rec("sub_mode", m);
    let f = int(c.mustn(
        "create",
        sc!(libc::SYS_open, "d/f", O_CREAT | O_WRONLY, 0o644),
    )?);
    sys::close(f);
    let d = c.must("stat_d", sys::stat("d"))?;
    let st = c.must("stat_f", sys::stat("d/f"))?;
    c.eq("file_gid_from_dir", st.st_gid == d.st_gid, true);
    c.rec("file_mode", tmode(st.st_mode));
    Ok(())
}

fn sticky_dir(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    need("chmod", sc!(libc::SYS_chmod, "d", 0o1777))?;
    let m = mode_of(c, "stat", "d")?;
    c.rec("mode", m);
    mkfile(c, "d/own", b"", 0o644)?;
    c.ret("unlink_own", sc!(libc::SYS_unlink, "d/own")).ok();
    Ok(())
}

fn execve_modes(c: &mut Ctx) -> Outcome {
    mkfile(c, "noexec", b"#!/bin/sh\nexit 0\n", 0o644)?;
    mkfile(c, "script", b"#!/bin/sh\nexit 7\n", 0o755)?;
    mkdir("d", 0o755)?;
    let run = |p: &str| spawn_capture(p, &[p], &[], None);
    let (s, _) = run("./noexec")?;
    c.rec("noexec", s);
    let (s, _) = run("./script")?;
    c.rec("script", s);
    let (s, _) = run("./d")?;
    c.rec("dir", s);
    let (s, _) = run("./missing")?;
    c.rec("missing", s);
    Ok(())
}

fn capabilities_dropped(c: &mut Ctx) -> Outcome {
    let (e, p, i) = c.must("capget", sys::capget())?;
    c.eq("effective", e, 0);
    c.eq("permitted", p, 0);
    c.eq("inheritable", i, 0);
    c.errno("capset_raise", sys::capset(1, 1, 0), Errno::EPERM);
    c.ret("capset_same", sys::capset(0, 0, 0)).ok();
    Ok(())
}

fn chmod_follows_symlink(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "f", "l").ok();
    c.ret("chmod_via_link", sc!(libc::SYS_chmod, "l", 0o600))
        .ok();
    let m = mode_of(c, "stat_target", "f")?;
    c.rec("target_mode", m);
    let st = c.must("lstat_link", sys::lstat("l"))?;
    c.rec("link_perms", perms(st.st_mode));
    Ok(())
}

fn utimes_permissions(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o444)?;
    let cp = sys::cs("f");
    let r = sys::call(
        libc::SYS_utimensat,
        &[
            sys::Arg::i(AT_FDCWD),
            sys::Arg::s(&cp),
            sys::Arg::I(0),
            sys::Arg::i(0),
        ],
    );
    c.ret("now_on_own_readonly_file", r).ok();
    let t = [
        libc::timespec {
            tv_sec: 5,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: 5,
            tv_nsec: 0,
        },
    ];
    let r = sys::call(
        libc::SYS_utimensat,
        &[
            sys::Arg::i(AT_FDCWD),
            sys::Arg::s(&cp),
            sys::Arg::r(&t),
            sys::Arg::i(0),
        ],
    );
    c.ret("explicit_on_own_file", r).ok();
    let st = c.must("stat", sys::stat("f"))?;
    c.eq("mtime", st.st_mtime, 5);
    Ok(())
}

fn creat_mode_ignores_perms_on_open(c: &mut Ctx) -> Outcome {
    sc!(libc::SYS_umask, 0o022).ok();
    let f = int(c.mustn(
        "creat_0444_rdwr",
        sc!(libc::SYS_open, "f", O_CREAT | O_RDWR, 0o444),
    )?);
    c.ret("write_through_new_fd", sys::write(f, b"ok")).ok();
    sys::close(f);
    let m = mode_of(c, "stat", "f")?;
    c.rec("mode", m);
    c.errno(
        "reopen_for_write",
        sc!(libc::SYS_open, "f", O_WRONLY),
        Errno::EACCES,
    );
    Ok(())
}
