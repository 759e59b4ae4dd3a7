//! Directories: mkdir/rmdir/unlink, rename family, getdents, chdir/getcwd, mknod, inotify on a directory.
//! (Family `fs`.)
#![forbid(unsafe_code)]

use libc::{O_DIRECTORY, O_RDONLY};
use nix::errno::Errno;

use super::helper::{ftype, mkdir, mkfile, need, open, text, tmode};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, int};

/// The cases of this file (family `fs`).
pub static CASES: &[Case] = &[
    Case::new("fs.mkdir_rmdir", &["mkdir", "stat", "rmdir"], mkdir_rmdir),
    Case::new("fs.mkdir_errors", &["mkdir", "mkdirat"], mkdir_errors),
    Case::new("fs.rmdir_errors", &["rmdir"], rmdir_errors),
    Case::new("fs.unlink_errors", &["unlink", "unlinkat"], unlink_errors),
    Case::new("fs.rename_file", &["rename", "stat", "read"], rename_file),
    Case::new("fs.rename_errors", &["rename"], rename_errors),
    Case::new("fs.renameat2_flags", &["renameat2"], renameat2_flags),
    Case::new("fs.renameat_dirfd", &["renameat"], renameat_dirfd),
    Case::new(
        "fs.getdents_list",
        &["getdents64", "mkdir", "symlink"],
        getdents_list,
    ),
    Case::new("fs.getdents_notdir", &["getdents64"], getdents_notdir),
    Case::new(
        "fs.chdir_getcwd",
        &["chdir", "fchdir", "getcwd"],
        chdir_getcwd,
    ),
    Case::new("fs.mknod_types", &["mknod", "mknodat", "stat"], mknod_types),
    Case::new(
        "fs.inotify_events",
        &[
            "inotify_init1",
            "inotify_add_watch",
            "inotify_rm_watch",
            "read",
        ],
        inotify_events,
    ),
    Case::new("fs.dir_fd_io", &["open", "read", "write"], dir_fd_io),
    Case::new("fs.getdents_legacy", &["getdents"], getdents_legacy),
    Case::new(
        "fs.inotify_init_legacy",
        &["inotify_init", "inotify_add_watch", "read"],
        inotify_init_legacy,
    ),
];

fn mkdir_rmdir(c: &mut Ctx) -> Outcome {
    sc!(libc::SYS_umask, 0o022).ok();
    c.ret("mkdir", sc!(libc::SYS_mkdir, "d", 0o777)).ok();
    let st = c.must("stat", sys::stat("d"))?;
    c.eq("mode", tmode(st.st_mode), "dir 0755".into());
    c.ret("rmdir", sc!(libc::SYS_rmdir, "d")).ok();
    c.errno("stat_after", sys::stat("d"), Errno::ENOENT);
    c.ret("mkdir_trailing_slash", sc!(libc::SYS_mkdir, "e/", 0o700))
        .ok();
    let st = c.must("stat_e", sys::stat("e"))?;
    c.eq("mode_e", tmode(st.st_mode), "dir 0700".into());
    Ok(())
}

fn mkdir_errors(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "f", b"", 0o644)?;
    c.errno("exists", sc!(libc::SYS_mkdir, "d", 0o755), Errno::EEXIST);
    c.errno(
        "exists_file",
        sc!(libc::SYS_mkdir, "f", 0o755),
        Errno::EEXIST,
    );
    c.errno(
        "missing_parent",
        sc!(libc::SYS_mkdir, "a/b", 0o755),
        Errno::ENOENT,
    );
    c.errno(
        "under_file",
        sc!(libc::SYS_mkdir, "f/x", 0o755),
        Errno::ENOTDIR,
    );
    c.errno("empty", sc!(libc::SYS_mkdir, "", 0o755), Errno::ENOENT);
    c.errno(
        "mkdirat_ebadf",
        sc!(libc::SYS_mkdirat, 9999, "x", 0o755),
        Errno::EBADF,
    );
    let d = open("d", O_RDONLY | O_DIRECTORY, 0)?;
    c.ret("mkdirat_dirfd", sc!(libc::SYS_mkdirat, d, "sub", 0o755))
        .ok();
    sys::close(d);
    let st = c.must("stat_sub", sys::stat("d/sub"))?;
    c.eq("sub_type", ftype(st.st_mode), "dir");
    Ok(())
}

fn rmdir_errors(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "d/f", b"", 0o644)?;
    mkfile(c, "f", b"", 0o644)?;
    c.errno("not_empty", sc!(libc::SYS_rmdir, "d"), Errno::ENOTEMPTY);
    c.errno("dot", sc!(libc::SYS_rmdir, "d/."), Errno::EINVAL);
    c.errno("dotdot", sc!(libc::SYS_rmdir, "d/.."), Errno::ENOTEMPTY);
    c.errno("file", sc!(libc::SYS_rmdir, "f"), Errno::ENOTDIR);
    c.errno("missing", sc!(libc::SYS_rmdir, "missing"), Errno::ENOENT);
    Ok(())
}

fn unlink_errors(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "f", b"", 0o644)?;
    mkfile(c, "g", b"", 0o644)?;
    c.errno("dir", sc!(libc::SYS_unlink, "d"), Errno::EISDIR);
    c.errno("missing", sc!(libc::SYS_unlink, "missing"), Errno::ENOENT);
    c.errno(
        "removedir_on_file",
        sc!(libc::SYS_unlinkat, libc::AT_FDCWD, "f", libc::AT_REMOVEDIR),
        Errno::ENOTDIR,
    );
    c.errno(
        "bad_flags",
        sc!(libc::SYS_unlinkat, libc::AT_FDCWD, "f", 0x1),
        Errno::EINVAL,
    );
    c.ret(
        "unlinkat_file",
        sc!(libc::SYS_unlinkat, libc::AT_FDCWD, "f", 0),
    )
    .ok();
    c.ret(
        "unlinkat_removedir",
        sc!(libc::SYS_unlinkat, libc::AT_FDCWD, "d", libc::AT_REMOVEDIR),
    )
    .ok();
    c.ret("unlink", sc!(libc::SYS_unlink, "g")).ok();
    let names = need("list", sys::read_dir_names("."))?;
    c.rec("left", names);
    Ok(())
}

fn rename_file(c: &mut Ctx) -> Outcome {
    mkfile(c, "a", b"A", 0o644)?;
    mkfile(c, "b", b"B", 0o644)?;
    c.ret("rename_new", sc!(libc::SYS_rename, "a", "c")).ok();
    c.errno("old_gone", sys::stat("a"), Errno::ENOENT);
    c.ret("rename_replace", sc!(libc::SYS_rename, "c", "b"))
        .ok();
    let data = need("read", sys::read_file("b"))?;
    c.eq("b_content", text(&data), "A".into());
    c.ret("rename_same", sc!(libc::SYS_rename, "b", "b")).ok();
    mkdir("d", 0o755)?;
    c.ret("rename_into_dir", sc!(libc::SYS_rename, "b", "d/b"))
        .ok();
    c.ret("rename_dir", sc!(libc::SYS_rename, "d", "e")).ok();
    let names = need("list", sys::read_dir_names("e"))?;
    c.rec("e_entries", names);
    Ok(())
}

fn rename_errors(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkdir("d/sub", 0o755)?;
    mkdir("full", 0o755)?;
    mkfile(c, "full/x", b"", 0o644)?;
    mkdir("empty", 0o755)?;
    mkfile(c, "f", b"", 0o644)?;
    c.errno(
        "into_own_subdir",
        sc!(libc::SYS_rename, "d", "d/sub/d"),
        Errno::EINVAL,
    );
    c.errno(
        "file_over_dir",
        sc!(libc::SYS_rename, "f", "empty"),
        Errno::EISDIR,
    );
    c.errno(
        "dir_over_file",
        sc!(libc::SYS_rename, "empty", "f"),
        Errno::ENOTDIR,
    );
    c.errno(
        "dir_over_nonempty",
        sc!(libc::SYS_rename, "empty", "full"),
        Errno::ENOTEMPTY,
    );
    c.errno(
        "missing",
        sc!(libc::SYS_rename, "missing", "x"),
        Errno::ENOENT,
    );
    c.errno(
        "target_parent_missing",
        sc!(libc::SYS_rename, "f", "no/x"),
        Errno::ENOENT,
    );
    c.ret("dir_over_empty_dir", sc!(libc::SYS_rename, "d", "empty"))
        .ok();
    c.errno("dot", sc!(libc::SYS_rename, "empty/.", "z"), Errno::EBUSY);
    Ok(())
}

fn renameat2_flags(c: &mut Ctx) -> Outcome {
    mkfile(c, "a", b"A", 0o644)?;
    mkfile(c, "b", b"B", 0o644)?;
    let fdc = libc::AT_FDCWD;
    c.errno(
        "noreplace_exists",
        sc!(
            libc::SYS_renameat2,
            fdc,
            "a",
            fdc,
            "b",
            libc::RENAME_NOREPLACE
        ),
        Errno::EEXIST,
    );
    c.ret(
        "exchange",
        sc!(
            libc::SYS_renameat2,
            fdc,
            "a",
            fdc,
            "b",
            libc::RENAME_EXCHANGE
        ),
    )
    .ok();
    let a = need("read a", sys::read_file("a"))?;
    let b = need("read b", sys::read_file("b"))?;
    c.eq("a_after_exchange", text(&a), "B".into());
    c.eq("b_after_exchange", text(&b), "A".into());
    c.errno(
        "exchange_missing",
        sc!(
            libc::SYS_renameat2,
            fdc,
            "a",
            fdc,
            "zz",
            libc::RENAME_EXCHANGE
        ),
        Errno::ENOENT,
    );
    let both = libc::RENAME_EXCHANGE | libc::RENAME_NOREPLACE;
    c.errno(
        "both_flags",
        sc!(libc::SYS_renameat2, fdc, "a", fdc, "b", both),
        Errno::EINVAL,
    );
    c.errno(
        "unknown_flag",
        sc!(libc::SYS_renameat2, fdc, "a", fdc, "c", 1u32 << 20),
        Errno::EINVAL,
    );
    c.ret(
        "noreplace_new",
        sc!(
            libc::SYS_renameat2,
            fdc,
            "a",
            fdc,
            "c",
            libc::RENAME_NOREPLACE
        ),
    )
    .ok();
    Ok(())
}

fn renameat_dirfd(c: &mut Ctx) -> Outcome {
    mkdir("d1", 0o755)?;
    mkdir("d2", 0o755)?;
    mkfile(c, "d1/x", b"x", 0o644)?;
    let a = open("d1", O_RDONLY | O_DIRECTORY, 0)?;
    let b = open("d2", O_RDONLY | O_DIRECTORY, 0)?;
    c.ret("renameat", sc!(libc::SYS_renameat, a, "x", b, "y"))
        .ok();
    c.errno("old", sys::stat("d1/x"), Errno::ENOENT);
    c.st("new", sys::stat("d2/y")).ok();
    c.errno(
        "ebadf",
        sc!(libc::SYS_renameat, 9999, "x", b, "z"),
        Errno::EBADF,
    );
    sys::close(a);
    sys::close(b);
    Ok(())
}

fn getdents_list(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "d/a", b"", 0o644)?;
    mkdir("d/b", 0o755)?;
    sc!(libc::SYS_symlink, "a", "d/c").ok();
    sc!(libc::SYS_mknod, "d/p", libc::S_IFIFO | 0o644, 0).ok();
    let d = open("d", O_RDONLY | O_DIRECTORY, 0)?;
    let ents = c.must("getdents64", sys::getdents(d))?;
    let v: Vec<String> = ents.iter().map(|(n, t)| format!("{n}:{t}")).collect();
    c.rec("entries", v);
    c.ret("lseek_rewind", sc!(libc::SYS_lseek, d, 0, libc::SEEK_SET))
        .ok();
    let again = c.must("getdents64_again", sys::getdents(d))?;
    c.eq("same_after_rewind", again.len(), ents.len());
    sys::close(d);
    Ok(())
}

fn getdents_notdir(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    c.errno("getdents_file", sys::getdents(f), Errno::ENOTDIR);
    sys::close(f);
    c.errno("getdents_ebadf", sys::getdents(9999), Errno::EBADF);
    Ok(())
}

fn chdir_getcwd(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "f", b"", 0o644)?;
    let dfd = open("d", O_RDONLY | O_DIRECTORY, 0)?;
    c.ret("chdir", sc!(libc::SYS_chdir, "d")).ok();
    let cwd = c.must("getcwd", sys::getcwd(4096))?;
    c.rec("cwd", c.path(&cwd));
    c.ret("chdir_dotdot", sc!(libc::SYS_chdir, "..")).ok();
    let cwd = c.must("getcwd2", sys::getcwd(4096))?;
    c.rec("cwd2", c.path(&cwd));
    c.ret("fchdir", sc!(libc::SYS_fchdir, dfd)).ok();
    let cwd = c.must("getcwd3", sys::getcwd(4096))?;
    c.rec("cwd3", c.path(&cwd));
    c.errno("getcwd_small", sys::getcwd(2), Errno::ERANGE);
    c.errno(
        "chdir_missing",
        sc!(libc::SYS_chdir, "missing"),
        Errno::ENOENT,
    );
    c.errno("chdir_file", sc!(libc::SYS_chdir, "../f"), Errno::ENOTDIR);
    let f = open("../f", O_RDONLY, 0)?;
    c.errno("fchdir_file", sc!(libc::SYS_fchdir, f), Errno::ENOTDIR);
    c.errno("fchdir_ebadf", sc!(libc::SYS_fchdir, 9999), Errno::EBADF);
    sys::close(f);
    sys::close(dfd);
    let abs = c.cwd().to_owned();
    c.ret("chdir_abs", sc!(libc::SYS_chdir, &abs)).ok();
    Ok(())
}

fn mknod_types(c: &mut Ctx) -> Outcome {
    sc!(libc::SYS_umask, 0o022).ok();
    c.ret(
        "mknod_fifo",
        sc!(libc::SYS_mknod, "p", libc::S_IFIFO | 0o644, 0),
    )
    .ok();
    let st = c.must("stat_fifo", sys::stat("p"))?;
    c.eq("fifo", tmode(st.st_mode), "fifo 0644".into());
    c.ret(
        "mknodat_reg",
        sc!(
            libc::SYS_mknodat,
            libc::AT_FDCWD,
            "r",
            libc::S_IFREG | 0o600,
            0
        ),
    )
    .ok();
    let st = c.must("stat_reg", sys::stat("r"))?;
    c.eq("reg", tmode(st.st_mode), "file 0600".into());
    c.ret("mknod_zero_type", sc!(libc::SYS_mknod, "z", 0o644, 0))
        .ok();
    let st = c.must("stat_zero_type", sys::stat("z"))?;
    c.eq("zero_type_is_file", ftype(st.st_mode), "file");
    c.errno(
        "mknod_chr_no_cap",
        sc!(libc::SYS_mknod, "c", libc::S_IFCHR | 0o644, 0x0103),
        Errno::EPERM,
    );
    c.errno(
        "mknod_exists",
        sc!(libc::SYS_mknod, "p", libc::S_IFIFO | 0o644, 0),
        Errno::EEXIST,
    );
    c.errno(
        "mknod_bad_type",
        sc!(libc::SYS_mknod, "b", 0o170_644u32, 0),
        Errno::EINVAL,
    );
    c.ret(
        "mknod_sock",
        sc!(libc::SYS_mknod, "s", libc::S_IFSOCK | 0o644, 0),
    )
    .ok();
    let st = c.must("stat_sock", sys::stat("s"))?;
    c.eq("sock", ftype(st.st_mode), "sock");
    Ok(())
}

fn inotify_events(c: &mut Ctx) -> Outcome {
    let ifd = int(c.mustn(
        "inotify_init1",
        sc!(
            libc::SYS_inotify_init1,
            libc::IN_NONBLOCK | libc::IN_CLOEXEC
        ),
    )?);
    let wd = c
        .ret(
            "add_watch",
            sc!(
                libc::SYS_inotify_add_watch,
                ifd,
                ".",
                libc::IN_CREATE | libc::IN_DELETE
            ),
        )
        .unwrap_or(-1);
    c.errno("read_empty", sys::read(ifd, 4096), Errno::EAGAIN);
    mkfile(c, "x", b"", 0o644)?;
    sc!(libc::SYS_unlink, "x").ok();
    let buf = c.must("read_events", sys::read(ifd, 4096))?;
    c.rec("events", parse_inotify(&buf));
    c.ret("rm_watch", sc!(libc::SYS_inotify_rm_watch, ifd, wd))
        .ok();
    let buf = c.must("read_ignored", sys::read(ifd, 4096))?;
    c.rec("after_rm", parse_inotify(&buf));
    c.errno(
        "add_watch_missing",
        sc!(libc::SYS_inotify_add_watch, ifd, "missing", libc::IN_CREATE),
        Errno::ENOENT,
    );
    sys::close(ifd);
    Ok(())
}

/// inotify events as "MASK name" strings (wd and cookie left out).
fn parse_inotify(b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= b.len() {
        let mask = u32::from_ne_bytes([b[off + 4], b[off + 5], b[off + 6], b[off + 7]]);
        let len = usize::try_from(u32::from_ne_bytes([
            b[off + 12],
            b[off + 13],
            b[off + 14],
            b[off + 15],
        ]))
        .unwrap_or(0);
        let name_b = &b[(off + 16).min(b.len())..(off + 16 + len).min(b.len())];
        let end = name_b.iter().position(|&x| x == 0).unwrap_or(name_b.len());
        out.push(format!("{mask:#x} {}", text(&name_b[..end])));
        off += 16 + len;
    }
    out
}

fn dir_fd_io(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    let d = open("d", O_RDONLY | O_DIRECTORY, 0)?;
    c.errno("read", sys::read(d, 10), Errno::EISDIR);
    c.errno("write", sys::write(d, b"x"), Errno::EBADF);
    c.errno("ftruncate", sc!(libc::SYS_ftruncate, d, 0), Errno::EINVAL);
    sys::close(d);
    Ok(())
}

fn getdents_legacy(c: &mut Ctx) -> Outcome {
    mkdir("d", 0o755)?;
    mkfile(c, "d/x", b"", 0o644)?;
    mkdir("d/y", 0o755)?;
    let d = open("d", O_RDONLY | O_DIRECTORY, 0)?;
    let names = c.must("getdents", sys::getdents_legacy(d))?;
    c.rec("names", names);
    sys::close(d);
    let f = open("d/x", O_RDONLY, 0)?;
    c.errno("on_file", sys::getdents_legacy(f), Errno::ENOTDIR);
    sys::close(f);
    Ok(())
}

fn inotify_init_legacy(c: &mut Ctx) -> Outcome {
    let i = sys::int(c.mustn("inotify_init", sc!(libc::SYS_inotify_init))?);
    c.ret("getfd", sys::fcntl(i, libc::F_GETFD, 0)).ok();
    mkfile(c, "f", b"", 0o644)?;
    c.ret(
        "add_watch_file",
        sc!(
            libc::SYS_inotify_add_watch,
            i,
            "f",
            libc::IN_MODIFY | libc::IN_ATTRIB
        ),
    )
    .ok();
    c.ret("chmod", sc!(libc::SYS_chmod, "f", 0o600)).ok();
    let b = c.must("read", sys::read(i, 4096))?;
    c.rec("events", parse_inotify(&b));
    c.errno(
        "add_watch_bad_mask",
        sc!(libc::SYS_inotify_add_watch, i, "f", 0),
        Errno::EINVAL,
    );
    sys::close(i);
    Ok(())
}
