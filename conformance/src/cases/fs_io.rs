//! File I/O and metadata: truncate, lseek (incl. SEEK_DATA/HOLE), positional and vectored I/O, timestamps,
//! statfs, xattrs, fallocate, sync, copy_file_range/sendfile, flock, large offsets. (Family `fs`.)
#![forbid(unsafe_code)]

use libc::{O_CREAT, O_RDONLY, O_RDWR, O_TRUNC};
use nix::errno::Errno;

use super::helper::{mkdir, mkfile, need, open, text};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self};

/// The cases of this file (family `fs`).
pub static CASES: &[Case] = &[
    Case::new("fs.truncate", &["truncate", "ftruncate", "stat"], truncate),
    Case::new(
        "fs.lseek_whence",
        &["lseek", "write", "fstat"],
        lseek_whence,
    ),
    Case::new(
        "fs.lseek_data_hole",
        &["lseek", "ftruncate", "pwrite64"],
        lseek_data_hole,
    ),
    Case::new(
        "fs.pread_pwrite",
        &["pread64", "pwrite64", "lseek"],
        pread_pwrite,
    ),
    Case::new(
        "fs.readv_writev",
        &["readv", "writev", "pwritev"],
        readv_writev,
    ),
    Case::new(
        "fs.utimensat_times",
        &["utimensat", "stat"],
        utimensat_times,
    ),
    Case::new(
        "fs.utimes_legacy",
        &["utimes", "utime", "futimesat", "stat"],
        utimes_legacy,
    ),
    Case::new("fs.statfs_basic", &["statfs", "fstatfs"], statfs_basic),
    Case::new(
        "fs.xattr_user",
        &["setxattr", "getxattr", "listxattr", "removexattr"],
        xattr_user,
    ),
    Case::new(
        "fs.xattr_fd",
        &[
            "fsetxattr",
            "fgetxattr",
            "flistxattr",
            "fremovexattr",
            "lgetxattr",
        ],
        xattr_fd,
    ),
    Case::new("fs.fallocate", &["fallocate", "fstat"], fallocate),
    Case::new(
        "fs.sync_calls",
        &["fsync", "fdatasync", "sync", "syncfs"],
        sync_calls,
    ),
    Case::new(
        "fs.copy_file_range_sendfile",
        &["copy_file_range", "sendfile"],
        copy_file_range_sendfile,
    ),
    Case::new("fs.flock", &["flock"], flock),
    Case::new("fs.large_offset", &["pwrite64", "fstat"], large_offset),
    Case::new(
        "fs.preadv_pwritev2",
        &["preadv", "pwritev2"],
        preadv_pwritev2,
    ),
    Case::new(
        "fs.advice_calls",
        &["readahead", "fadvise64", "sync_file_range"],
        advice_calls,
    ),
    Case::new(
        "fs.xattr_on_symlink",
        &["lsetxattr", "llistxattr", "lremovexattr", "lgetxattr"],
        xattr_on_symlink,
    ),
];

fn truncate(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"abc", 0o644)?;
    mkdir("d", 0o755)?;
    c.ret("extend", sc!(libc::SYS_truncate, "f", 6)).ok();
    let data = need("read", sys::read_file("f"))?;
    c.eq("extended", data, b"abc\0\0\0".to_vec());
    c.ret("shrink", sc!(libc::SYS_truncate, "f", 2)).ok();
    let st = c.must("stat", sys::stat("f"))?;
    c.eq("size", st.st_size, 2);
    c.errno("dir", sc!(libc::SYS_truncate, "d", 0), Errno::EISDIR);
    c.errno("negative", sc!(libc::SYS_truncate, "f", -1), Errno::EINVAL);
    c.errno(
        "missing",
        sc!(libc::SYS_truncate, "missing", 0),
        Errno::ENOENT,
    );
    let f = open("f", O_RDWR, 0)?;
    c.ret("ftruncate", sc!(libc::SYS_ftruncate, f, 0)).ok();
    sys::close(f);
    let f = open("f", O_RDONLY, 0)?;
    c.errno(
        "ftruncate_rdonly",
        sc!(libc::SYS_ftruncate, f, 0),
        Errno::EINVAL,
    );
    sys::close(f);
    Ok(())
}

fn lseek_whence(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"0123456789", 0o644)?;
    let f = open("f", O_RDWR, 0)?;
    c.ret("set", sc!(libc::SYS_lseek, f, 3, libc::SEEK_SET))
        .ok();
    c.ret("cur", sc!(libc::SYS_lseek, f, 2, libc::SEEK_CUR))
        .ok();
    c.ret("end", sc!(libc::SYS_lseek, f, -1, libc::SEEK_END))
        .ok();
    c.errno(
        "negative",
        sc!(libc::SYS_lseek, f, -1, libc::SEEK_SET),
        Errno::EINVAL,
    );
    c.errno("bad_whence", sc!(libc::SYS_lseek, f, 0, 99), Errno::EINVAL);
    c.ret("past_end", sc!(libc::SYS_lseek, f, 10, libc::SEEK_END))
        .ok();
    c.ret("write_hole", sys::write(f, b"x")).ok();
    let st = c.must("fstat", sys::fstat(f))?;
    c.eq("size", st.st_size, 21);
    sys::close(f);
    c.errno(
        "ebadf",
        sc!(libc::SYS_lseek, 9999, 0, libc::SEEK_SET),
        Errno::EBADF,
    );
    Ok(())
}

fn lseek_data_hole(c: &mut Ctx) -> Outcome {
    let f = open("f", O_RDWR | O_CREAT, 0o644)?;
    c.ret("ftruncate", sc!(libc::SYS_ftruncate, f, 1 << 20))
        .ok();
    let cp = [7u8; 4096];
    c.ret(
        "pwrite",
        sys::call(
            libc::SYS_pwrite64,
            &[
                sys::Arg::i(f),
                sys::Arg::b(&cp),
                sys::Arg::n(4096),
                sys::Arg::I(1 << 19),
            ],
        ),
    )
    .ok();
    c.ret("seek_data", sc!(libc::SYS_lseek, f, 0, libc::SEEK_DATA))
        .ok();
    c.ret(
        "seek_hole",
        sc!(libc::SYS_lseek, f, 1 << 19, libc::SEEK_HOLE),
    )
    .ok();
    c.errno(
        "seek_data_past_end",
        sc!(libc::SYS_lseek, f, 2 << 20, libc::SEEK_DATA),
        Errno::ENXIO,
    );
    sys::close(f);
    Ok(())
}

fn pread_pwrite(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"0123456789", 0o644)?;
    let f = open("f", O_RDWR, 0)?;
    let w = b"ab";
    c.ret(
        "pwrite",
        sys::call(
            libc::SYS_pwrite64,
            &[
                sys::Arg::i(f),
                sys::Arg::b(w),
                sys::Arg::n(2),
                sys::Arg::I(5),
            ],
        ),
    )
    .ok();
    c.ret(
        "offset_unchanged",
        sc!(libc::SYS_lseek, f, 0, libc::SEEK_CUR),
    )
    .ok();
    let data = c.must("pread", sys::pread(f, 4, 4))?;
    c.eq("data", text(&data), "4ab7".into());
    let data = c.must("pread_past_end", sys::pread(f, 4, 100))?;
    c.eq("eof", data.len(), 0);
    c.errno("pread_negative", sys::pread(f, 4, -1), Errno::EINVAL);
    sys::close(f);
    Ok(())
}

fn readv_writev(c: &mut Ctx) -> Outcome {
    let f = open("f", O_RDWR | O_CREAT, 0o644)?;
    let bufs: [&[u8]; 2] = [b"ab", b"cde"];
    let iov = sys::iovecs(&bufs);
    c.ret(
        "writev",
        sys::call(
            libc::SYS_writev,
            &[sys::Arg::i(f), sys::Arg::r(&iov[0]), sys::Arg::n(iov.len())],
        ),
    )
    .ok();
    c.ret("lseek", sc!(libc::SYS_lseek, f, 0, libc::SEEK_SET))
        .ok();
    let (n, got) = c.must("readv", sys::readv(f, &[2, 2, 4]))?;
    c.eq("readv_n", n, 5);
    let parts: Vec<String> = got.iter().map(|b| text(b)).collect();
    c.rec("parts", parts);
    let more: [&[u8]; 1] = [b"Z"];
    let iov2 = sys::iovecs(&more);
    c.ret(
        "pwritev",
        sys::call(
            libc::SYS_pwritev,
            &[
                sys::Arg::i(f),
                sys::Arg::r(&iov2[0]),
                sys::Arg::n(1),
                sys::Arg::I(0),
                sys::Arg::I(0),
            ],
        ),
    )
    .ok();
    sys::close(f);
    let data = need("read", sys::read_file("f"))?;
    c.eq("content", text(&data), "Zbcde".into());
    let e = sys::call(
        libc::SYS_writev,
        &[sys::Arg::i(1), sys::Arg::r(&iov[0]), sys::Arg::I(-1)],
    );
    c.errno("writev_bad_count", e, Errno::EINVAL);
    Ok(())
}

fn ts(sec: i64, nsec: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }
}

fn utimensat(dfd: i32, p: &str, t: Option<&[libc::timespec; 2]>, flags: i32) -> sys::R {
    let cp = sys::cs(p);
    let tp = t.map_or(sys::Arg::I(0), sys::Arg::r);
    sys::call(
        libc::SYS_utimensat,
        &[sys::Arg::i(dfd), sys::Arg::s(&cp), tp, sys::Arg::i(flags)],
    )
}

fn utimensat_times(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let t = [ts(1_000_000_000, 5), ts(1_200_000_000, 7)];
    c.ret("set", utimensat(libc::AT_FDCWD, "f", Some(&t), 0))
        .ok();
    let st = c.must("stat", sys::stat("f"))?;
    c.eq(
        "atime",
        format!("{}.{}", st.st_atime, st.st_atime_nsec),
        "1000000000.5".into(),
    );
    c.eq(
        "mtime",
        format!("{}.{}", st.st_mtime, st.st_mtime_nsec),
        "1200000000.7".into(),
    );
    let omit = [ts(0, libc::UTIME_OMIT), ts(1_300_000_000, 0)];
    c.ret("omit_atime", utimensat(libc::AT_FDCWD, "f", Some(&omit), 0))
        .ok();
    let st = c.must("stat2", sys::stat("f"))?;
    c.eq("atime_kept", st.st_atime, 1_000_000_000);
    c.eq("mtime2", st.st_mtime, 1_300_000_000);
    let bad = [ts(0, 1_000_000_000), ts(0, 0)];
    c.errno(
        "bad_nsec",
        utimensat(libc::AT_FDCWD, "f", Some(&bad), 0),
        Errno::EINVAL,
    );
    c.errno(
        "missing",
        utimensat(libc::AT_FDCWD, "missing", Some(&t), 0),
        Errno::ENOENT,
    );
    let f = open("f", O_RDONLY, 0)?;
    c.ret(
        "null_path_fd",
        sys::call(
            libc::SYS_utimensat,
            &[
                sys::Arg::i(f),
                sys::Arg::I(0),
                sys::Arg::r(&t),
                sys::Arg::i(0),
            ],
        ),
    )
    .ok();
    sys::close(f);
    Ok(())
}

fn utimes_legacy(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let tv = [
        libc::timeval {
            tv_sec: 1_000_000_000,
            tv_usec: 0,
        },
        libc::timeval {
            tv_sec: 1_100_000_000,
            tv_usec: 500_000,
        },
    ];
    let cp = sys::cs("f");
    c.ret(
        "utimes",
        sys::call(libc::SYS_utimes, &[sys::Arg::s(&cp), sys::Arg::r(&tv)]),
    )
    .ok();
    let st = c.must("stat", sys::stat("f"))?;
    c.eq(
        "mtime",
        format!("{}.{}", st.st_mtime, st.st_mtime_nsec),
        "1100000000.500000000".into(),
    );
    let ub = [900_000_000i64, 950_000_000i64];
    c.ret(
        "utime",
        sys::call(libc::SYS_utime, &[sys::Arg::s(&cp), sys::Arg::r(&ub)]),
    )
    .ok();
    let st = c.must("stat2", sys::stat("f"))?;
    c.eq(
        "times_utime",
        format!("{} {}", st.st_atime, st.st_mtime),
        "900000000 950000000".into(),
    );
    c.ret(
        "futimesat",
        sys::call(
            libc::SYS_futimesat,
            &[
                sys::Arg::i(libc::AT_FDCWD),
                sys::Arg::s(&cp),
                sys::Arg::r(&tv),
            ],
        ),
    )
    .ok();
    let st = c.must("stat3", sys::stat("f"))?;
    c.eq("mtime_futimesat", st.st_mtime, 1_100_000_000);
    let bad = [
        libc::timeval {
            tv_sec: 0,
            tv_usec: 2_000_000,
        },
        libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
    ];
    c.errno(
        "utimes_bad_usec",
        sys::call(libc::SYS_utimes, &[sys::Arg::s(&cp), sys::Arg::r(&bad)]),
        Errno::EINVAL,
    );
    Ok(())
}

fn statfs_basic(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let a = c.must("statfs", sys::statfs("."))?;
    let f = open("f", O_RDONLY, 0)?;
    let b = c.must("fstatfs", sys::fstatfs(f))?;
    sys::close(f);
    c.eq("same_type", a.ty == b.ty, true);
    c.eq("namelen", a.namelen, 255);
    c.eq("bsize_positive", a.bsize > 0, true);
    let ro = i64::try_from(libc::ST_RDONLY).unwrap_or(1);
    c.eq("statfs_rdonly", a.flags & ro != 0, false);
    c.eq("fstatfs_rdonly", b.flags & ro != 0, false);
    c.errno("statfs_missing", sys::statfs("missing"), Errno::ENOENT);
    Ok(())
}

fn xattr_user(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let set = |name: &str, v: &[u8], flags: i32| {
        let (p, n) = (sys::cs("f"), sys::cs(name));
        sys::call(
            libc::SYS_setxattr,
            &[
                sys::Arg::s(&p),
                sys::Arg::s(&n),
                sys::Arg::b(v),
                sys::Arg::n(v.len()),
                sys::Arg::i(flags),
            ],
        )
    };
    let r = set("user.t", b"val", 0);
    if r == Err(Errno::EOPNOTSUPP) {
        return Err(crate::case::Stop::Skip(
            "user xattrs not supported by this filesystem".into(),
        ));
    }
    c.ret("setxattr", r).ok();
    let size = c.must(
        "getxattr_size",
        sys::getxattr(sys::XTarget::Path("f"), "user.t", 0),
    )?;
    c.eq("size", size.len(), 3);
    let v = c.must(
        "getxattr",
        sys::getxattr(sys::XTarget::Path("f"), "user.t", 16),
    )?;
    c.eq("value", text(&v), "val".into());
    c.errno(
        "getxattr_small",
        sys::getxattr(sys::XTarget::Path("f"), "user.t", 1),
        Errno::ERANGE,
    );
    c.errno(
        "create_exists",
        set("user.t", b"x", libc::XATTR_CREATE),
        Errno::EEXIST,
    );
    c.errno(
        "replace_missing",
        set("user.u", b"x", libc::XATTR_REPLACE),
        Errno::ENODATA,
    );
    let names = c.must("listxattr", sys::listxattr(sys::XTarget::Path("f")))?;
    c.rec(
        "names",
        names
            .into_iter()
            .filter(|n| n.starts_with("user."))
            .collect::<Vec<_>>(),
    );
    c.ret("removexattr", sc!(libc::SYS_removexattr, "f", "user.t"))
        .ok();
    c.errno(
        "getxattr_removed",
        sys::getxattr(sys::XTarget::Path("f"), "user.t", 16),
        Errno::ENODATA,
    );
    c.errno("bad_namespace", set("bogus.t", b"x", 0), Errno::EOPNOTSUPP);
    Ok(())
}

fn xattr_fd(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "f", "l").ok();
    let f = open("f", O_RDWR, 0)?;
    let n = sys::cs("user.fd");
    let v = b"1234";
    let r = sys::call(
        libc::SYS_fsetxattr,
        &[
            sys::Arg::i(f),
            sys::Arg::s(&n),
            sys::Arg::b(v),
            sys::Arg::n(4),
            sys::Arg::i(0),
        ],
    );
    if r == Err(Errno::EOPNOTSUPP) {
        return Err(crate::case::Stop::Skip(
            "user xattrs not supported by this filesystem".into(),
        ));
    }
    c.ret("fsetxattr", r).ok();
    let got = c.must(
        "fgetxattr",
        sys::getxattr(sys::XTarget::Fd(f), "user.fd", 16),
    )?;
    c.eq("value", text(&got), "1234".into());
    let via_link = c.must(
        "getxattr_via_symlink",
        sys::getxattr(sys::XTarget::Path("l"), "user.fd", 16),
    )?;
    c.eq("value_via_symlink", text(&via_link), "1234".into());
    c.errno(
        "lgetxattr_symlink",
        sys::getxattr(sys::XTarget::LPath("l"), "user.fd", 16),
        Errno::ENODATA,
    );
    let names = c.must("flistxattr", sys::listxattr(sys::XTarget::Fd(f)))?;
    c.rec(
        "names",
        names
            .into_iter()
            .filter(|n| n.starts_with("user."))
            .collect::<Vec<_>>(),
    );
    c.ret(
        "fremovexattr",
        sys::call(libc::SYS_fremovexattr, &[sys::Arg::i(f), sys::Arg::s(&n)]),
    )
    .ok();
    sys::close(f);
    Ok(())
}

fn fallocate(c: &mut Ctx) -> Outcome {
    let f = open("f", O_RDWR | O_CREAT, 0o644)?;
    let r = sc!(libc::SYS_fallocate, f, 0, 0, 8192);
    if r == Err(Errno::EOPNOTSUPP) {
        return Err(crate::case::Stop::Skip(
            "fallocate not supported by this filesystem".into(),
        ));
    }
    c.ret("fallocate", r).ok();
    let st = c.must("fstat", sys::fstat(f))?;
    c.eq("size", st.st_size, 8192);
    c.ret(
        "keep_size",
        sc!(libc::SYS_fallocate, f, libc::FALLOC_FL_KEEP_SIZE, 0, 16384),
    )
    .ok();
    let st = c.must("fstat2", sys::fstat(f))?;
    c.eq("size_kept", st.st_size, 8192);
    c.errno(
        "bad_len",
        sc!(libc::SYS_fallocate, f, 0, 0, 0),
        Errno::EINVAL,
    );
    sys::close(f);
    let f = open("f", O_RDONLY, 0)?;
    c.errno(
        "rdonly",
        sc!(libc::SYS_fallocate, f, 0, 0, 4096),
        Errno::EBADF,
    );
    sys::close(f);
    Ok(())
}

fn sync_calls(c: &mut Ctx) -> Outcome {
    let f = open("f", O_RDWR | O_CREAT, 0o644)?;
    c.ret("write", sys::write(f, b"data")).ok();
    c.ret("fsync", sc!(libc::SYS_fsync, f)).ok();
    c.ret("fdatasync", sc!(libc::SYS_fdatasync, f)).ok();
    c.ret("syncfs", sc!(libc::SYS_syncfs, f)).ok();
    c.ret("sync", sc!(libc::SYS_sync)).ok();
    c.errno("fsync_ebadf", sc!(libc::SYS_fsync, 9999), Errno::EBADF);
    sys::close(f);
    Ok(())
}

fn copy_file_range_sendfile(c: &mut Ctx) -> Outcome {
    mkfile(c, "src", b"hello world", 0o644)?;
    let s = open("src", O_RDONLY, 0)?;
    let d = open("dst", O_RDWR | O_CREAT | O_TRUNC, 0o644)?;
    c.ret("copy_file_range", sys::copy_file_range(s, d, 5)).ok();
    let mut off = 6i64;
    c.ret("sendfile", sys::sendfile(d, s, Some(&mut off), 5))
        .ok();
    c.eq("sendfile_offset", off, 11);
    c.ret("src_pos", sc!(libc::SYS_lseek, s, 0, libc::SEEK_CUR))
        .ok();
    sys::close(s);
    sys::close(d);
    let data = need("read", sys::read_file("dst"))?;
    c.eq("dst", text(&data), "helloworld".into());
    c.errno("copy_ebadf", sys::copy_file_range(9999, 1, 5), Errno::EBADF);
    Ok(())
}

fn flock(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let a = open("f", O_RDONLY, 0)?;
    let b = open("f", O_RDONLY, 0)?;
    c.ret("lock_ex", sc!(libc::SYS_flock, a, libc::LOCK_EX))
        .ok();
    c.errno(
        "second_ex_nb",
        sc!(libc::SYS_flock, b, libc::LOCK_EX | libc::LOCK_NB),
        Errno::EWOULDBLOCK,
    );
    c.errno(
        "second_sh_nb",
        sc!(libc::SYS_flock, b, libc::LOCK_SH | libc::LOCK_NB),
        Errno::EWOULDBLOCK,
    );
    c.ret("unlock", sc!(libc::SYS_flock, a, libc::LOCK_UN)).ok();
    c.ret(
        "second_ex_after",
        sc!(libc::SYS_flock, b, libc::LOCK_EX | libc::LOCK_NB),
    )
    .ok();
    c.errno("bad_op", sc!(libc::SYS_flock, a, 0), Errno::EINVAL);
    c.errno(
        "ebadf",
        sc!(libc::SYS_flock, 9999, libc::LOCK_EX),
        Errno::EBADF,
    );
    sys::close(a);
    sys::close(b);
    Ok(())
}

fn large_offset(c: &mut Ctx) -> Outcome {
    let f = open("f", O_RDWR | O_CREAT, 0o644)?;
    let off: i64 = 5 << 30;
    let b = b"z";
    c.ret(
        "pwrite_5g",
        sys::call(
            libc::SYS_pwrite64,
            &[
                sys::Arg::i(f),
                sys::Arg::b(b),
                sys::Arg::n(1),
                sys::Arg::I(off),
            ],
        ),
    )
    .ok();
    let st = c.must("fstat", sys::fstat(f))?;
    c.eq("size", st.st_size, off + 1);
    let got = c.must("pread", sys::pread(f, 1, off))?;
    c.eq("byte", text(&got), "z".into());
    c.ret("ftruncate_back", sc!(libc::SYS_ftruncate, f, 0)).ok();
    sys::close(f);
    Ok(())
}

fn preadv_pwritev2(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"0123456789", 0o644)?;
    let f = open("f", O_RDWR, 0)?;
    let (n, parts) = c.must("preadv", sys::preadv(f, &[3, 4], 2))?;
    c.eq("preadv_n", n, 7);
    c.rec("parts", parts.iter().map(|p| text(p)).collect::<Vec<_>>());
    c.ret(
        "offset_unchanged",
        sc!(libc::SYS_lseek, f, 0, libc::SEEK_CUR),
    )
    .ok();
    let bufs: [&[u8]; 2] = [b"AB", b"C"];
    let iov = sys::iovecs(&bufs);
    let w = |off: i64, flags: i32| {
        sys::call(
            libc::SYS_pwritev2,
            &[
                sys::Arg::i(f),
                sys::Arg::r(&iov[0]),
                sys::Arg::n(2),
                sys::Arg::I(off),
                sys::Arg::I(0),
                sys::Arg::i(flags),
            ],
        )
    };
    c.ret("pwritev2_at_1", w(1, 0)).ok();
    c.ret("pwritev2_current_offset", w(-1, 0)).ok();
    c.ret(
        "offset_advanced",
        sc!(libc::SYS_lseek, f, 0, libc::SEEK_CUR),
    )
    .ok();
    c.ret("pwritev2_append_flag", w(0, 0x10)).ok();
    c.errno("pwritev2_bad_flag", w(0, 0x4000), Errno::EOPNOTSUPP);
    sys::close(f);
    let data = need("read", sys::read_file("f"))?;
    c.eq("content", text(&data), "ABCC456789ABC".into());
    Ok(())
}

fn advice_calls(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", &[b'x'; 8192], 0o644)?;
    let f = open("f", O_RDWR, 0)?;
    c.ret("readahead", sc!(libc::SYS_readahead, f, 0, 8192))
        .ok();
    c.ret(
        "fadvise_willneed",
        sc!(libc::SYS_fadvise64, f, 0, 0, libc::POSIX_FADV_WILLNEED),
    )
    .ok();
    c.ret(
        "fadvise_dontneed",
        sc!(libc::SYS_fadvise64, f, 0, 0, libc::POSIX_FADV_DONTNEED),
    )
    .ok();
    c.errno(
        "fadvise_bad_advice",
        sc!(libc::SYS_fadvise64, f, 0, 0, 99),
        Errno::EINVAL,
    );
    c.ret(
        "sync_file_range",
        sc!(
            libc::SYS_sync_file_range,
            f,
            0,
            0,
            libc::SYNC_FILE_RANGE_WRITE
        ),
    )
    .ok();
    c.errno(
        "sync_file_range_bad_flags",
        sc!(libc::SYS_sync_file_range, f, 0, 0, 0x100),
        Errno::EINVAL,
    );
    let (r, _w) = need("pipe", sys::pipe())?;
    c.errno(
        "readahead_pipe",
        sc!(libc::SYS_readahead, r, 0, 10),
        Errno::EINVAL,
    );
    c.errno(
        "fadvise_pipe",
        sc!(libc::SYS_fadvise64, r, 0, 0, libc::POSIX_FADV_NORMAL),
        Errno::ESPIPE,
    );
    sys::close(f);
    Ok(())
}

fn xattr_on_symlink(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    sc!(libc::SYS_symlink, "f", "l").ok();
    let v = b"v";
    let (lp, nm) = (sys::cs("l"), sys::cs("user.x"));
    let r = sys::call(
        libc::SYS_lsetxattr,
        &[
            sys::Arg::s(&lp),
            sys::Arg::s(&nm),
            sys::Arg::b(v),
            sys::Arg::n(1),
            sys::Arg::i(0),
        ],
    );
    c.errno("lsetxattr_user_on_symlink", r, Errno::EPERM);
    let fp = sys::cs("f");
    let r = sys::call(
        libc::SYS_lsetxattr,
        &[
            sys::Arg::s(&fp),
            sys::Arg::s(&nm),
            sys::Arg::b(v),
            sys::Arg::n(1),
            sys::Arg::i(0),
        ],
    );
    if r == Err(Errno::EOPNOTSUPP) {
        return Err(crate::case::Stop::Skip(
            "user xattrs not supported by this filesystem".into(),
        ));
    }
    c.ret("lsetxattr_on_file", r).ok();
    let names = c.must(
        "llistxattr_symlink",
        sys::listxattr(sys::XTarget::LPath("l")),
    )?;
    c.rec(
        "symlink_user_names",
        names
            .into_iter()
            .filter(|n| n.starts_with("user."))
            .collect::<Vec<_>>(),
    );
    let got = c.must(
        "lgetxattr_file",
        sys::getxattr(sys::XTarget::LPath("f"), "user.x", 8),
    )?;
    c.eq("value", text(&got), "v".into());
    c.errno(
        "lremovexattr_symlink",
        sc!(libc::SYS_lremovexattr, "l", "user.x"),
        Errno::EPERM,
    );
    c.ret(
        "lremovexattr_file",
        sc!(libc::SYS_lremovexattr, "f", "user.x"),
    )
    .ok();
    Ok(())
}
