//! Memory: anonymous and file mappings (shared and private), protections and the faults they cause (in children),
//! mremap, madvise, mincore, mlock, msync, brk, memfd sealing with mappings, sharing across fork.
#![forbid(unsafe_code)]

use libc::{
    MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_RDONLY, O_RDWR, O_WRONLY, PROT_EXEC, PROT_NONE,
    PROT_READ, PROT_WRITE,
};
use nix::errno::Errno;

use super::helper::{mkfile, need, open, text};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, int, page};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new("mm.anon_rw", &["mmap", "munmap"], anon_rw),
    Case::new("mm.mmap_errors", &["mmap"], mmap_errors),
    Case::new("mm.file_shared", &["mmap", "msync", "pread64"], file_shared),
    Case::new("mm.file_private", &["mmap", "pread64"], file_private),
    Case::new("mm.mprotect", &["mmap", "mprotect"], mprotect),
    Case::new(
        "mm.fault_statuses",
        &["mmap", "mprotect", "munmap", "fork", "wait4"],
        fault_statuses,
    ),
    Case::new(
        "mm.sigbus_past_eof",
        &["mmap", "fork", "wait4"],
        sigbus_past_eof,
    ),
    Case::new("mm.mremap", &["mremap"], mremap),
    Case::new("mm.madvise", &["madvise"], madvise),
    Case::new("mm.fixed_noreplace", &["mmap"], fixed_noreplace),
    Case::new(
        "mm.shared_across_fork",
        &["mmap", "fork", "wait4"],
        shared_across_fork,
    ),
    Case::new(
        "mm.private_across_fork",
        &["mmap", "fork", "wait4"],
        private_across_fork,
    ),
    Case::new(
        "mm.mincore_mlock",
        &["mincore", "mlock", "munlock"],
        mincore_mlock,
    ),
    Case::new("mm.msync_errors", &["msync", "munmap"], msync_errors),
    Case::new("mm.brk", &["brk"], brk),
    Case::new(
        "mm.memfd_seals_and_maps",
        &["memfd_create", "mmap", "fcntl", "ftruncate"],
        memfd_seals_and_maps,
    ),
    Case::new(
        "mm.exec_mapping_of_file",
        &["mmap", "open"],
        exec_mapping_of_file,
    ),
    Case::new(
        "mm.process_vm_readv_self",
        &["process_vm_readv"],
        process_vm_readv_self,
    ),
    Case::new(
        "mm.proc_self_maps",
        &["mmap", "openat", "read"],
        proc_self_maps,
    ),
    Case::new(
        "mm.mseal",
        &["mseal", "mprotect", "munmap", "madvise"],
        mseal,
    ),
    Case::new(
        "mm.pkeys",
        &["pkey_alloc", "pkey_mprotect", "pkey_free"],
        pkeys,
    ),
    Case::new(
        "mm.mlock2_munlockall",
        &["mlock2", "munlockall", "mincore"],
        mlock2_munlockall,
    ),
    Case::new(
        "mm.process_madvise",
        &["process_madvise", "pidfd_open"],
        process_madvise,
    ),
    Case::new("mm.cachestat", &["cachestat"], cachestat),
];

fn anon_rw(c: &mut Ctx) -> Outcome {
    let m = c.must(
        "mmap",
        sys::mmap(
            2 * page(),
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        ),
    )?;
    c.eq("zero_filled", m.read(0, 16), vec![0u8; 16]);
    m.write(page() + 10, b"anon");
    c.eq("read_back", text(&m.read(page() + 10, 4)), "anon".into());
    c.eq("page_aligned", m.addr() % page() == 0, true);
    c.ret("munmap", m.unmap()).ok();
    Ok(())
}

fn mmap_errors(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", &[1u8; 4096], 0o644)?;
    let ro = open("f", O_RDONLY, 0)?;
    let wo = open("f", O_WRONLY, 0)?;
    c.errno(
        "len_zero",
        sys::mmap_expect_fail(0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
        Errno::EINVAL,
    );
    c.errno(
        "no_share_type",
        sys::mmap_expect_fail(4096, PROT_READ, MAP_ANONYMOUS, -1, 0),
        Errno::EINVAL,
    );
    c.errno(
        "bad_fd",
        sys::mmap_expect_fail(4096, PROT_READ, MAP_PRIVATE, 9999, 0),
        Errno::EBADF,
    );
    c.errno(
        "wronly_fd_read",
        sys::mmap_expect_fail(4096, PROT_READ, MAP_SHARED, wo, 0),
        Errno::EACCES,
    );
    c.errno(
        "rdonly_fd_shared_write",
        sys::mmap_expect_fail(4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0),
        Errno::EACCES,
    );
    c.ret(
        "rdonly_fd_private_write_ok",
        sys::mmap_expect_fail(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0),
    )
    .ok();
    c.errno(
        "unaligned_offset",
        sys::mmap_expect_fail(4096, PROT_READ, MAP_PRIVATE, ro, 100),
        Errno::EINVAL,
    );
    let (r, _w) = need("pipe", sys::pipe())?;
    c.errno(
        "pipe_fd",
        sys::mmap_expect_fail(4096, PROT_READ, MAP_PRIVATE, r, 0),
        Errno::ENODEV,
    );
    c.errno(
        "munmap_unaligned",
        sys::munmap_invalid(1, 4096),
        Errno::EINVAL,
    );
    c.errno(
        "munmap_zero_len",
        sys::munmap_invalid(4096 * 3 + 1, 0),
        Errno::EINVAL,
    );
    Ok(())
}

fn file_shared(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", &[b'.'; 4096], 0o644)?;
    let f = open("f", O_RDWR, 0)?;
    let m = c.must(
        "mmap_shared",
        sys::mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0),
    )?;
    c.eq("initial", text(&m.read(0, 3)), "...".into());
    m.write(0, b"hello");
    c.ret("msync", m.msync(libc::MS_SYNC)).ok();
    let d = c.must("pread", sys::pread(f, 5, 0))?;
    c.eq("file_sees_write", text(&d), "hello".into());
    need(
        "pwrite",
        sys::call(
            libc::SYS_pwrite64,
            &[
                sys::Arg::i(f),
                sys::Arg::b(b"XY"),
                sys::Arg::n(2),
                sys::Arg::I(10),
            ],
        ),
    )?;
    c.eq("mapping_sees_pwrite", text(&m.read(10, 2)), "XY".into());
    drop(m);
    sys::close(f);
    Ok(())
}

fn file_private(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", &[b'.'; 4096], 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    let m = c.must(
        "mmap_private",
        sys::mmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0),
    )?;
    m.write(0, b"mine");
    c.eq("mapping", text(&m.read(0, 4)), "mine".into());
    let d = c.must("pread", sys::pread(f, 4, 0))?;
    c.eq("file_unchanged", text(&d), "....".into());
    sys::close(f);
    Ok(())
}

fn mprotect(c: &mut Ctx) -> Outcome {
    let m = c.must(
        "mmap_none",
        sys::mmap(2 * page(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
    )?;
    c.ret("mprotect_rw", m.mprotect(0, page(), PROT_READ | PROT_WRITE))
        .ok();
    m.write(0, b"ok");
    c.eq("written", text(&m.read(0, 2)), "ok".into());
    c.ret("mprotect_ro", m.mprotect(0, page(), PROT_READ)).ok();
    c.eq("still_readable", text(&m.read(0, 2)), "ok".into());
    c.errno(
        "mprotect_unaligned",
        m.mprotect(1, page() - 1, PROT_READ),
        Errno::EINVAL,
    );
    c.errno(
        "mprotect_bad_prot",
        m.mprotect(0, page(), 0x1000),
        Errno::EINVAL,
    );
    Ok(())
}

fn fault_statuses(c: &mut Ctx) -> Outcome {
    let m = need(
        "mmap",
        sys::mmap(
            3 * page(),
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        ),
    )?;
    need("mprotect none", m.mprotect(0, page(), PROT_NONE))?;
    need("mprotect ro", m.mprotect(page(), page(), PROT_READ))?;
    need("munmap part", m.munmap_part(2 * page(), page()))?;
    let mut out = Vec::new();
    for (what, off, write) in [
        ("read_prot_none", 0, false),
        ("write_read_only", page(), true),
        ("read_unmapped", 2 * page(), false),
    ] {
        let pid = need(
            "fork",
            sys::fork_run(|| {
                let _ = sys::setrlimit(libc::RLIMIT_CORE, 0, 0);
                if write {
                    m.write(off, b"x");
                } else {
                    let _ = m.read(off, 1);
                }
                0
            }),
        )?;
        out.push(format!("{what}: {}", sys::reap(pid)));
    }
    c.rec("children", out);
    Ok(())
}

fn sigbus_past_eof(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", &[b'a'; 100], 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    let m = c.must(
        "mmap_beyond_eof",
        sys::mmap(2 * page(), PROT_READ, MAP_SHARED, f, 0),
    )?;
    c.eq("within_file", text(&m.read(0, 2)), "aa".into());
    c.eq("tail_of_first_page_zero", m.read(200, 2), vec![0, 0]);
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let _ = sys::setrlimit(libc::RLIMIT_CORE, 0, 0);
            let _ = m.read(page() + 1, 1);
            0
        }),
    )?;
    c.rec("child_past_eof", sys::reap(pid));
    sys::close(f);
    Ok(())
}

fn mremap(c: &mut Ctx) -> Outcome {
    let mut m = c.must(
        "mmap",
        sys::mmap(
            page(),
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        ),
    )?;
    m.write(0, b"keep");
    c.ret("grow_maymove", m.mremap(4 * page(), libc::MREMAP_MAYMOVE))
        .ok();
    c.eq("data_kept", text(&m.read(0, 4)), "keep".into());
    m.write(3 * page(), b"tail");
    c.eq("new_pages", text(&m.read(3 * page(), 4)), "tail".into());
    c.ret("shrink", m.mremap(2 * page(), 0)).ok();
    c.eq("len", m.len(), 2 * page());
    c.errno("bad_flags", m.mremap(2 * page(), 0x80), Errno::EINVAL);
    Ok(())
}

fn madvise(c: &mut Ctx) -> Outcome {
    let m = c.must(
        "mmap",
        sys::mmap(
            2 * page(),
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        ),
    )?;
    m.write(0, &[0xab; 16]);
    c.ret("dontneed", m.madvise(0, page(), libc::MADV_DONTNEED))
        .ok();
    c.eq("zeroed", m.read(0, 4), vec![0u8; 4]);
    c.ret("willneed", m.madvise(0, page(), libc::MADV_WILLNEED))
        .ok();
    c.ret(
        "sequential",
        m.madvise(0, 2 * page(), libc::MADV_SEQUENTIAL),
    )
    .ok();
    c.ret("dontfork", m.madvise(0, page(), libc::MADV_DONTFORK))
        .ok();
    c.errno("bad_advice", m.madvise(0, page(), 9999), Errno::EINVAL);
    c.errno(
        "unaligned",
        m.madvise(1, page() - 1, libc::MADV_NORMAL),
        Errno::EINVAL,
    );
    Ok(())
}

fn fixed_noreplace(c: &mut Ctx) -> Outcome {
    let m = c.must(
        "mmap",
        sys::mmap(page(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
    )?;
    c.errno(
        "noreplace_over_existing",
        m.remap_fixed_noreplace(PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS),
        Errno::EEXIST,
    );
    Ok(())
}

fn shared_across_fork(c: &mut Ctx) -> Outcome {
    let m = c.must(
        "mmap_shared_anon",
        sys::mmap(
            page(),
            PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_ANONYMOUS,
            -1,
            0,
        ),
    )?;
    let pid = need(
        "fork",
        sys::fork_run(|| {
            m.write(0, b"from child");
            0
        }),
    )?;
    c.rec("child", sys::reap(pid));
    c.eq("parent_sees", text(&m.read(0, 10)), "from child".into());
    Ok(())
}

fn private_across_fork(c: &mut Ctx) -> Outcome {
    let m = c.must(
        "mmap_private_anon",
        sys::mmap(
            page(),
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        ),
    )?;
    m.write(0, b"parent");
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let saw = m.read(0, 6) == b"parent";
            m.write(0, b"child!");
            i32::from(saw)
        }),
    )?;
    c.rec("child_saw_parent_data", sys::reap(pid));
    c.eq("parent_unchanged", text(&m.read(0, 6)), "parent".into());
    Ok(())
}

fn mincore_mlock(c: &mut Ctx) -> Outcome {
    let m = c.must(
        "mmap",
        sys::mmap(
            4 * page(),
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        ),
    )?;
    m.write(0, b"x");
    m.write(2 * page(), b"x");
    let v = c.must("mincore", m.mincore())?;
    c.rec("touched_pages_resident", vec![v[0] & 1, v[2] & 1]);
    c.ret("mlock", m.mlock(true)).ok();
    let v = c.must("mincore_locked", m.mincore())?;
    c.rec("all_resident_after_mlock", v.iter().all(|b| b & 1 == 1));
    c.ret("munlock", m.mlock(false)).ok();
    Ok(())
}

fn msync_errors(c: &mut Ctx) -> Outcome {
    let m = c.must(
        "mmap",
        sys::mmap(
            page(),
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        ),
    )?;
    c.ret("msync_async", m.msync(libc::MS_ASYNC)).ok();
    c.errno(
        "sync_and_async",
        m.msync(libc::MS_SYNC | libc::MS_ASYNC),
        Errno::EINVAL,
    );
    c.errno("bad_flag", m.msync(0x100), Errno::EINVAL);
    Ok(())
}

fn brk(c: &mut Ctx) -> Outcome {
    let cur = c.must("brk_query", sys::brk_query())?;
    c.eq("positive", cur > 0, true);
    let want = usize::try_from(cur).unwrap_or(0) + 16 * page();
    let got = c.must("brk_grow", sys::brk_grow(want))?;
    c.eq("grew", got == i64::try_from(want).unwrap_or(-1), true);
    Ok(())
}

fn memfd_seals_and_maps(c: &mut Ctx) -> Outcome {
    let f = int(c.mustn(
        "memfd_create",
        sc!(libc::SYS_memfd_create, "m", libc::MFD_ALLOW_SEALING),
    )?);
    c.ret("ftruncate", sc!(libc::SYS_ftruncate, f, 4096)).ok();
    let m = c.must(
        "mmap_shared",
        sys::mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0),
    )?;
    m.write(0, b"memfd");
    let d = c.must("pread", sys::pread(f, 5, 0))?;
    c.eq("file_sees_mapping", text(&d), "memfd".into());
    c.errno(
        "seal_write_while_mapped",
        sys::fcntl(f, libc::F_ADD_SEALS, i64::from(libc::F_SEAL_WRITE)),
        Errno::EBUSY,
    );
    c.ret("munmap", m.unmap()).ok();
    c.ret(
        "seal_write",
        sys::fcntl(f, libc::F_ADD_SEALS, i64::from(libc::F_SEAL_WRITE)),
    )
    .ok();
    c.errno(
        "mmap_shared_write_sealed",
        sys::mmap_expect_fail(4096, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0),
        Errno::EPERM,
    );
    c.ret(
        "seal_shrink_grow",
        sys::fcntl(
            f,
            libc::F_ADD_SEALS,
            i64::from(libc::F_SEAL_SHRINK | libc::F_SEAL_GROW),
        ),
    )
    .ok();
    c.errno(
        "ftruncate_sealed",
        sc!(libc::SYS_ftruncate, f, 8192),
        Errno::EPERM,
    );
    c.ret(
        "seal_seal",
        sys::fcntl(f, libc::F_ADD_SEALS, i64::from(libc::F_SEAL_SEAL)),
    )
    .ok();
    c.errno(
        "add_after_seal_seal",
        sys::fcntl(f, libc::F_ADD_SEALS, i64::from(libc::F_SEAL_WRITE)),
        Errno::EPERM,
    );
    sys::close(f);
    Ok(())
}

fn exec_mapping_of_file(c: &mut Ctx) -> Outcome {
    let exe = c.exe().to_owned();
    let f = open(&exe, O_RDONLY, 0)?;
    let m = c.must(
        "mmap_exec",
        sys::mmap(4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, f, 0),
    )?;
    c.eq("elf_magic", m.read(0, 4), b"\x7fELF".to_vec());
    sys::close(f);
    mkfile(c, "data", &[0u8; 4096], 0o644)?;
    let d = open("data", O_RDONLY, 0)?;
    c.ret(
        "mmap_exec_cwd_file",
        sys::mmap_expect_fail(4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, d, 0),
    )
    .ok();
    sys::close(d);
    Ok(())
}

fn process_vm_readv_self(c: &mut Ctx) -> Outcome {
    let src = b"read me through the kernel".to_vec();
    let me = i32::try_from(sc!(libc::SYS_getpid).unwrap_or(0)).unwrap_or(0);
    let got = c.must(
        "process_vm_readv",
        sys::process_vm_readv(me, src.as_ptr() as usize, src.len()),
    )?;
    c.eq("same_bytes", got == src, true);
    c.errno(
        "bad_remote_address",
        sys::process_vm_readv(me, 8, 16),
        Errno::EFAULT,
    );
    c.errno(
        "missing_pid",
        sys::process_vm_readv(4_000_000, src.as_ptr() as usize, 4),
        Errno::ESRCH,
    );
    Ok(())
}

fn proc_self_maps(c: &mut Ctx) -> Outcome {
    mkfile(c, "mapped", &[7u8; 4096], 0o644)?;
    let f = open("mapped", O_RDONLY, 0)?;
    let m = c.must("mmap", sys::mmap(4096, PROT_READ, MAP_PRIVATE, f, 0))?;
    sys::close(f);
    let maps = c.must("read_maps", sys::read_file("/proc/self/maps"))?;
    let maps = text(&maps);
    let start = format!("{:x}-", m.addr());
    let line = maps
        .lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or("")
        .to_owned();
    let fields: Vec<&str> = line.split_whitespace().collect();
    c.rec("perms", fields.get(1).copied().unwrap_or(""));
    c.rec("path", c.path(fields.last().copied().unwrap_or("")));
    c.rec("has_stack", maps.lines().any(|l| l.ends_with("[stack]")));
    c.rec("has_vdso", maps.lines().any(|l| l.ends_with("[vdso]")));
    c.rec("has_probe", maps.lines().any(|l| l.ends_with("/probe")));
    Ok(())
}

fn mseal(c: &mut Ctx) -> Outcome {
    let m = c.must(
        "mmap",
        sys::mmap(
            2 * page(),
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        ),
    )?;
    m.write(0, b"sealed");
    let r = m.mseal();
    if r == Err(Errno::ENOSYS) {
        return Err(crate::case::Stop::Skip("mseal not in this kernel".into()));
    }
    c.ret("mseal", r).ok();
    c.errno(
        "mprotect_sealed",
        m.mprotect(0, page(), PROT_READ),
        Errno::EPERM,
    );
    c.errno("munmap_sealed", m.munmap_part(0, page()), Errno::EPERM);
    c.eq("still_readable", text(&m.read(0, 6)), "sealed".into());
    c.ret("mseal_again", m.mseal()).ok();
    m.leak();
    Ok(())
}

fn pkeys(c: &mut Ctx) -> Outcome {
    let k = sc!(libc::SYS_pkey_alloc, 0, 0);
    match k {
        Err(Errno::ENOSPC) | Err(Errno::EINVAL) | Err(Errno::ENOSYS) => {
            c.rec(
                "pkey_alloc",
                crate::case::ename(k.err().unwrap_or(Errno::EINVAL)),
            );
            c.errno(
                "pkey_free_unallocated",
                sc!(libc::SYS_pkey_free, 5),
                Errno::EINVAL,
            );
            return Ok(());
        }
        _ => {}
    }
    let key = int(c.mustn("pkey_alloc", k)?);
    let m = c.must(
        "mmap",
        sys::mmap(
            page(),
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        ),
    )?;
    c.ret(
        "pkey_mprotect",
        m.pkey_mprotect(PROT_READ | PROT_WRITE, key),
    )
    .ok();
    c.errno(
        "pkey_mprotect_bad_key",
        m.pkey_mprotect(PROT_READ, 15),
        Errno::EINVAL,
    );
    c.ret("pkey_free", sc!(libc::SYS_pkey_free, key)).ok();
    c.errno(
        "pkey_alloc_bad_flags",
        sc!(libc::SYS_pkey_alloc, 1, 0),
        Errno::EINVAL,
    );
    Ok(())
}

fn mlock2_munlockall(c: &mut Ctx) -> Outcome {
    let m = c.must(
        "mmap",
        sys::mmap(
            2 * page(),
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        ),
    )?;
    c.ret(
        "mlock2_onfault",
        m.mlock2(i32::try_from(libc::MLOCK_ONFAULT).unwrap_or(1)),
    )
    .ok();
    let v = c.must("mincore_untouched", m.mincore())?;
    c.rec(
        "resident_before_touch",
        v.iter().map(|b| b & 1).collect::<Vec<_>>(),
    );
    c.errno("mlock2_bad_flags", m.mlock2(0x10), Errno::EINVAL);
    c.ret("munlockall", sc!(libc::SYS_munlockall)).ok();
    Ok(())
}

fn process_madvise(c: &mut Ctx) -> Outcome {
    let m = c.must(
        "mmap",
        sys::mmap(
            4 * page(),
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        ),
    )?;
    m.write(0, b"cold");
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    let p = int(need("pidfd_open", sc!(libc::SYS_pidfd_open, me, 0))?);
    let r = m.process_madvise(p, libc::MADV_COLD);
    if r == Err(Errno::ENOSYS) {
        return Err(crate::case::Stop::Skip(
            "process_madvise not in this kernel".into(),
        ));
    }
    c.ret("madv_cold_self", r).ok();
    c.eq("contents_kept", text(&m.read(0, 4)), "cold".into());
    c.errno("bad_advice", m.process_madvise(p, 9999), Errno::EINVAL);
    sys::close(p);
    Ok(())
}

fn cachestat(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", &[b'c'; 8192], 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    let r = sys::cachestat(f);
    if r == Err(Errno::ENOSYS) {
        return Err(crate::case::Stop::Skip(
            "cachestat not in this kernel".into(),
        ));
    }
    let (cache, _dirty) = c.must("cachestat", r)?;
    c.eq("cached_pages_positive", cache > 0, true);
    c.errno("cachestat_bad_fd", sys::cachestat(9999), Errno::EBADF);
    sys::close(f);
    Ok(())
}
