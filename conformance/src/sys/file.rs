//! Wrappers for file syscalls that write results into the caller's memory. Each one owns the buffer it hands to the
//! kernel and passes that buffer's real length.

use nix::errno::Errno;

use super::raw::{a, ai, cs, pbm, pc, pm, reti, sc6, ulen, R};

/// Reads up to `n` bytes.
pub fn read(fd: i32, n: usize) -> Result<Vec<u8>, Errno> {
    let mut b = vec![0u8; n];
    // SAFETY: `b` is a writable buffer of exactly `n` bytes, which is the length passed.
    let got = unsafe { sc6(libc::SYS_read, [ai(fd), pbm(&mut b), ulen(n), 0, 0, 0]) }?;
    b.truncate(usize::try_from(got).unwrap_or(0));
    Ok(b)
}

/// Reads up to `n` bytes at `off`.
pub fn pread(fd: i32, n: usize, off: i64) -> Result<Vec<u8>, Errno> {
    let mut b = vec![0u8; n];
    // SAFETY: `b` is a writable buffer of exactly `n` bytes, which is the length passed.
    let got = unsafe {
        sc6(
            libc::SYS_pread64,
            [ai(fd), pbm(&mut b), ulen(n), a(off), 0, 0],
        )
    }?;
    b.truncate(usize::try_from(got).unwrap_or(0));
    Ok(b)
}

/// readv into buffers of the given sizes; returns the total and the buffers.
pub fn readv(fd: i32, sizes: &[usize]) -> Result<(i64, Vec<Vec<u8>>), Errno> {
    let mut bufs: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0u8; n]).collect();
    let iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: each iovec describes one of `bufs`, writable for its own length, and `iov` has `iov.len()` entries.
    let n = unsafe {
        sc6(
            libc::SYS_readv,
            [ai(fd), iov.as_ptr() as u64, ulen(iov.len()), 0, 0, 0],
        )
    }?;
    Ok((n, bufs))
}

/// The iovecs describing `bufs` (for writev/pwritev/vmsplice through `call`).
pub fn iovecs(bufs: &[&[u8]]) -> Vec<libc::iovec> {
    bufs.iter()
        .map(|b| libc::iovec {
            iov_base: b.as_ptr().cast_mut().cast(),
            iov_len: b.len(),
        })
        .collect()
}

fn zeroed_stat() -> libc::stat {
    // SAFETY: libc::stat is a plain C struct of integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// stat(2) (the legacy syscall, not glibc's newfstatat).
pub fn stat(p: &str) -> Result<libc::stat, Errno> {
    let c = cs(p);
    let mut st = zeroed_stat();
    // SAFETY: `c` is a NUL-terminated string; `st` is a writable struct stat the kernel fills.
    unsafe { sc6(libc::SYS_stat, [pc(&c), pm(&mut st), 0, 0, 0, 0]) }?;
    Ok(st)
}

/// lstat(2).
pub fn lstat(p: &str) -> Result<libc::stat, Errno> {
    let c = cs(p);
    let mut st = zeroed_stat();
    // SAFETY: `c` is a NUL-terminated string; `st` is a writable struct stat the kernel fills.
    unsafe { sc6(libc::SYS_lstat, [pc(&c), pm(&mut st), 0, 0, 0, 0]) }?;
    Ok(st)
}

/// fstat(2).
pub fn fstat(fd: i32) -> Result<libc::stat, Errno> {
    let mut st = zeroed_stat();
    // SAFETY: `st` is a writable struct stat the kernel fills.
    unsafe { sc6(libc::SYS_fstat, [ai(fd), pm(&mut st), 0, 0, 0, 0]) }?;
    Ok(st)
}

/// newfstatat(2).
pub fn fstatat(dfd: i32, p: &str, flags: i32) -> Result<libc::stat, Errno> {
    let c = cs(p);
    let mut st = zeroed_stat();
    // SAFETY: `c` is a NUL-terminated string; `st` is a writable struct stat the kernel fills.
    unsafe {
        sc6(
            libc::SYS_newfstatat,
            [ai(dfd), pc(&c), pm(&mut st), ai(flags), 0, 0],
        )
    }?;
    Ok(st)
}

/// statx(2).
pub fn statx(dfd: i32, p: &str, flags: i32, mask: u32) -> Result<libc::statx, Errno> {
    let c = cs(p);
    // SAFETY: libc::statx is a plain C struct of integers; all-zero is a valid value.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated string; `st` is a writable struct statx the kernel fills.
    unsafe {
        sc6(
            libc::SYS_statx,
            [ai(dfd), pc(&c), ai(flags), u64::from(mask), pm(&mut st), 0],
        )
    }?;
    Ok(st)
}

/// The fields of struct statfs the cases look at.
#[derive(Debug, Clone, Copy)]
pub struct StatFs {
    /// f_type (the filesystem magic).
    pub ty: i64,
    /// f_bsize.
    pub bsize: i64,
    /// f_namelen.
    pub namelen: i64,
    /// f_flags (ST_RDONLY, ST_NOSUID, ...).
    pub flags: i64,
}

fn statfs_of(w: &[i64; 16]) -> StatFs {
    // x86_64 struct statfs: type, bsize, blocks, bfree, bavail, files, ffree, fsid, namelen, frsize, flags, spare[4].
    StatFs {
        ty: w[0],
        bsize: w[1],
        namelen: w[8],
        flags: w[10],
    }
}

/// statfs(2).
pub fn statfs(p: &str) -> Result<StatFs, Errno> {
    let c = cs(p);
    let mut w = [0i64; 16];
    // SAFETY: `c` is a NUL-terminated string; `w` is 128 writable bytes, larger than struct statfs (120).
    unsafe { sc6(libc::SYS_statfs, [pc(&c), pm(&mut w), 0, 0, 0, 0]) }?;
    Ok(statfs_of(&w))
}

/// fstatfs(2).
pub fn fstatfs(fd: i32) -> Result<StatFs, Errno> {
    let mut w = [0i64; 16];
    // SAFETY: `w` is 128 writable bytes, larger than struct statfs (120).
    unsafe { sc6(libc::SYS_fstatfs, [ai(fd), pm(&mut w), 0, 0, 0, 0]) }?;
    Ok(statfs_of(&w))
}

/// struct open_how for openat2 (libc's is non-exhaustive).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OpenHow {
    /// O_* flags.
    pub flags: u64,
    /// Creation mode.
    pub mode: u64,
    /// RESOLVE_* flags.
    pub resolve: u64,
}

/// The entries of a directory fd (getdents64 until it returns 0), as (name, d_type), sorted by name.
pub fn getdents(fd: i32) -> Result<Vec<(String, u8)>, Errno> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: `buf` is writable for its full length, which is the length passed.
        let n = unsafe {
            sc6(
                libc::SYS_getdents64,
                [ai(fd), pbm(&mut buf), ulen(buf.len()), 0, 0, 0],
            )
        }?;
        let n = usize::try_from(n).unwrap_or(0);
        if n == 0 {
            break;
        }
        let mut off = 0;
        // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
        while off + 19 <= n {
            let reclen = usize::from(u16::from_ne_bytes([buf[off + 16], buf[off + 17]]));
            let dtype = buf[off + 18];
            let name_bytes = &buf[off + 19..(off + reclen).min(n)];
            let end = name_bytes
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(name_bytes.len());
            out.push((
                String::from_utf8_lossy(&name_bytes[..end]).into_owned(),
                dtype,
            ));
            if reclen == 0 {
                break;
            }
            off += reclen;
        }
    }
    out.sort();
    Ok(out)
}

/// The bytes a link-reading syscall wrote, as (returned length, text).
fn link_text(n: i64, b: &[u8]) -> (i64, String) {
    let len = usize::try_from(n).unwrap_or(0).min(b.len());
    (n, String::from_utf8_lossy(&b[..len]).into_owned())
}

/// readlink(2) into a buffer of `size` bytes.
pub fn readlink(p: &str, size: usize) -> Result<(i64, String), Errno> {
    let c = cs(p);
    let mut b = vec![0u8; size];
    // SAFETY: `c` is NUL-terminated; `b` is writable for `size` bytes, the length passed.
    let n = unsafe {
        sc6(
            libc::SYS_readlink,
            [pc(&c), pbm(&mut b), ulen(size), 0, 0, 0],
        )
    }?;
    Ok(link_text(n, &b))
}

/// readlinkat(2) into a buffer of `size` bytes.
pub fn readlinkat(dfd: i32, p: &str, size: usize) -> Result<(i64, String), Errno> {
    let c = cs(p);
    let mut b = vec![0u8; size];
    // SAFETY: `c` is NUL-terminated; `b` is writable for `size` bytes, the length passed.
    let n = unsafe {
        sc6(
            libc::SYS_readlinkat,
            [ai(dfd), pc(&c), pbm(&mut b), ulen(size), 0, 0],
        )
    }?;
    Ok(link_text(n, &b))
}

/// getcwd(2) into a buffer of `size` bytes; the text without its NUL.
pub fn getcwd(size: usize) -> Result<String, Errno> {
    let mut b = vec![0u8; size];
    // SAFETY: `b` is writable for `size` bytes, the length passed.
    let n = unsafe { sc6(libc::SYS_getcwd, [pbm(&mut b), ulen(size), 0, 0, 0, 0]) }?;
    let n = usize::try_from(n).unwrap_or(0).min(size);
    let text = &b[..n];
    let end = text.iter().position(|&x| x == 0).unwrap_or(n);
    Ok(String::from_utf8_lossy(&text[..end]).into_owned())
}

/// Which of the getxattr/listxattr syscalls to use.
#[derive(Clone, Copy)]
pub enum XTarget<'a> {
    /// By path, following symlinks.
    Path(&'a str),
    /// By path, not following a final symlink.
    LPath(&'a str),
    /// By fd.
    Fd(i32),
}

/// getxattr/lgetxattr/fgetxattr into a buffer of `size` bytes (0: ask for the size).
pub fn getxattr(t: XTarget<'_>, name: &str, size: usize) -> Result<Vec<u8>, Errno> {
    let n = cs(name);
    let mut b = vec![0u8; size];
    let (nr, first, _keep) = match t {
        XTarget::Path(p) => (libc::SYS_getxattr, 0, Some(cs(p))),
        XTarget::LPath(p) => (libc::SYS_lgetxattr, 0, Some(cs(p))),
        XTarget::Fd(fd) => (libc::SYS_fgetxattr, ai(fd), None),
    };
    let first = _keep.as_ref().map_or(first, |c| pc(c));
    // SAFETY: `first` is an fd or a NUL-terminated path kept alive by `_keep`; `n` is NUL-terminated; `b` is
    // writable for `size` bytes, the length passed.
    let got = unsafe { sc6(nr, [first, pc(&n), pbm(&mut b), ulen(size), 0, 0]) }?;
    if size == 0 {
        return Ok(vec![0u8; usize::try_from(got).unwrap_or(0)]);
    }
    b.truncate(usize::try_from(got).unwrap_or(0));
    Ok(b)
}

/// listxattr/llistxattr/flistxattr: the names, sorted.
pub fn listxattr(t: XTarget<'_>) -> Result<Vec<String>, Errno> {
    let mut b = vec![0u8; 4096];
    let (nr, first, _keep) = match t {
        XTarget::Path(p) => (libc::SYS_listxattr, 0, Some(cs(p))),
        XTarget::LPath(p) => (libc::SYS_llistxattr, 0, Some(cs(p))),
        XTarget::Fd(fd) => (libc::SYS_flistxattr, ai(fd), None),
    };
    let first = _keep.as_ref().map_or(first, |c| pc(c));
    // SAFETY: `first` is an fd or a NUL-terminated path kept alive by `_keep`; `b` is writable for its length.
    let got = unsafe { sc6(nr, [first, pbm(&mut b), ulen(b.len()), 0, 0, 0]) }?;
    b.truncate(usize::try_from(got).unwrap_or(0));
    let mut names: Vec<String> = b
        .split(|&x| x == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// pipe(2).
pub fn pipe() -> Result<(i32, i32), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a writable int[2], what pipe fills.
    unsafe { sc6(libc::SYS_pipe, [pm(&mut fds), 0, 0, 0, 0, 0]) }?;
    Ok((fds[0], fds[1]))
}

/// pipe2(2).
pub fn pipe2(flags: i32) -> Result<(i32, i32), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a writable int[2], what pipe2 fills.
    unsafe { sc6(libc::SYS_pipe2, [pm(&mut fds), ai(flags), 0, 0, 0, 0]) }?;
    Ok((fds[0], fds[1]))
}

/// fcntl(2) with an integer argument. Commands that take a pointer are refused with EINVAL here.
pub fn fcntl(fd: i32, cmd: i32, arg: i64) -> R {
    const PTR_CMDS: &[i32] = &[
        libc::F_GETLK,
        libc::F_SETLK,
        libc::F_SETLKW,
        libc::F_OFD_GETLK,
        libc::F_OFD_SETLK,
        libc::F_OFD_SETLKW,
        16, // F_GETOWN_EX
        15, // F_SETOWN_EX
    ];
    if PTR_CMDS.contains(&cmd) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: the remaining fcntl commands take an integer (or nothing), never a pointer.
    unsafe { sc6(libc::SYS_fcntl, [ai(fd), ai(cmd), a(arg), 0, 0, 0]) }
}

/// fcntl(2) with a struct flock (F_GETLK/F_SETLK/F_OFD_*).
pub fn fcntl_lock(fd: i32, cmd: i32, fl: &mut libc::flock) -> R {
    // SAFETY: `fl` is a writable struct flock, what the lock commands read and (for GETLK) fill.
    unsafe { sc6(libc::SYS_fcntl, [ai(fd), ai(cmd), pm(fl), 0, 0, 0]) }
}

/// A struct flock for a whole-file or ranged lock.
pub fn flock_of(ltype: i32, start: i64, len: i64) -> libc::flock {
    // SAFETY: libc::flock is a plain C struct of integers; all-zero is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = i16::try_from(ltype).unwrap_or(0);
    fl.l_whence = 0;
    fl.l_start = start;
    fl.l_len = len;
    fl
}

/// ioctl(2) whose argument is a pointer to an int the kernel reads or fills (FIONREAD, FIONBIO, TIOCOUTQ).
pub fn ioctl_int(fd: i32, req: u64, v: &mut i32) -> R {
    const OK: &[u64] = &[
        libc::FIONREAD,
        libc::FIONBIO,
        libc::TIOCOUTQ,
        libc::FIOASYNC,
        libc::TIOCGPGRP,
    ];
    if !OK.contains(&req) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: the requests in OK take a pointer to one int; `v` is a writable int.
    unsafe { sc6(libc::SYS_ioctl, [ai(fd), req, pm(v), 0, 0, 0]) }
}

/// ioctl(2) that takes no argument (FIOCLEX, FIONCLEX) or an integer (TIOCSTI is refused here: it takes a pointer).
pub fn ioctl_noarg(fd: i32, req: u64) -> R {
    const OK: &[u64] = &[libc::FIOCLEX, libc::FIONCLEX];
    if !OK.contains(&req) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: FIOCLEX and FIONCLEX take no argument.
    unsafe { sc6(libc::SYS_ioctl, [ai(fd), req, 0, 0, 0, 0]) }
}

/// ioctl(2) with a pointer to one byte the kernel reads: TIOCSTI (the byte to inject) and TIOCLINUX (the subcode).
/// Other requests are refused with EINVAL here, since they could write more than one byte.
pub fn ioctl_byte_in(fd: i32, req: u64, b: &u8) -> R {
    if req != libc::TIOCSTI && req != libc::TIOCLINUX {
        return Err(Errno::EINVAL);
    }
    // SAFETY: both requests read the byte the pointer designates (TIOCLINUX subcodes with a zero code read only
    // it) before acting, and it points at `b`; on /dev/null or another non-tty fd the kernel refuses with ENOTTY.
    unsafe {
        sc6(
            libc::SYS_ioctl,
            [ai(fd), req, std::ptr::from_ref(b) as u64, 0, 0, 0],
        )
    }
}

/// copy_file_range(2) with null offsets (uses and advances the fds' own offsets).
pub fn copy_file_range(fd_in: i32, fd_out: i32, len: usize) -> R {
    // SAFETY: both offset pointers are NULL, so the kernel writes no memory of ours.
    unsafe {
        sc6(
            libc::SYS_copy_file_range,
            [ai(fd_in), 0, ai(fd_out), 0, ulen(len), 0],
        )
    }
}

/// sendfile(2), with an optional offset the kernel reads and updates.
pub fn sendfile(out: i32, inp: i32, off: Option<&mut i64>, count: usize) -> R {
    let po = off.map_or(0, pm);
    // SAFETY: `po` is NULL or points at a writable i64 borrowed for this call.
    unsafe {
        sc6(
            libc::SYS_sendfile,
            [ai(out), ai(inp), po, ulen(count), 0, 0],
        )
    }
}

/// splice(2), with optional offsets the kernel reads and updates.
pub fn splice(
    fd_in: i32,
    off_in: Option<&mut i64>,
    fd_out: i32,
    off_out: Option<&mut i64>,
    len: usize,
    flags: u32,
) -> R {
    let pi = off_in.map_or(0, pm);
    let po = off_out.map_or(0, pm);
    // SAFETY: `pi` and `po` are NULL or point at writable i64s borrowed for this call.
    unsafe {
        sc6(
            libc::SYS_splice,
            [ai(fd_in), pi, ai(fd_out), po, ulen(len), u64::from(flags)],
        )
    }
}

/// Opens `p` (openat relative to AT_FDCWD, as the fixture helpers do); for cases use `call` with the syscall
/// under test instead.
pub fn open_at_cwd(p: &str, flags: i32, mode: u32) -> R {
    let c = cs(p);
    // SAFETY: `c` is NUL-terminated and only read.
    unsafe {
        sc6(
            libc::SYS_openat,
            [ai(libc::AT_FDCWD), pc(&c), ai(flags), u64::from(mode), 0, 0],
        )
    }
}

/// Reads a whole file by path (fixture helper: openat + read + close).
pub fn read_file(p: &str) -> Result<Vec<u8>, Errno> {
    let fd = super::raw::int(open_at_cwd(p, libc::O_RDONLY | libc::O_CLOEXEC, 0)?);
    let mut out = Vec::new();
    loop {
        match read(fd, 65536) {
            Ok(b) if b.is_empty() => break,
            Ok(b) => out.extend_from_slice(&b),
            Err(e) => {
                close(fd);
                return Err(e);
            }
        }
    }
    close(fd);
    Ok(out)
}

/// Writes a whole file by path, creating or truncating it (fixture helper).
pub fn write_file(p: &str, data: &[u8], mode: u32) -> R {
    let fd = super::raw::int(open_at_cwd(
        p,
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
        mode,
    )?);
    let r = write(fd, data);
    close(fd);
    r
}

/// write(2).
pub fn write(fd: i32, data: &[u8]) -> R {
    super::raw::call(
        libc::SYS_write,
        &[
            super::raw::Arg::i(fd),
            super::raw::Arg::b(data),
            super::raw::Arg::n(data.len()),
        ],
    )
}

/// close(2), ignoring the result (fixture helper; cases that test close record it themselves).
pub fn close(fd: i32) {
    let _ = super::raw::call(libc::SYS_close, &[super::raw::Arg::i(fd)]);
}

/// The errno-checked int result of a libc function (for the few wrappers that go through libc).
pub fn libc_int(r: i32) -> R {
    reti(r)
}

/// The names in directory `p`, sorted, without `.`, `..` and the probe binary itself (fixture helper).
pub fn read_dir_names(p: &str) -> Result<Vec<String>, Errno> {
    let fd = super::raw::int(open_at_cwd(
        p,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )?);
    let r = getdents(fd);
    close(fd);
    Ok(r?
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n != "." && n != ".." && n != "probe")
        .collect())
}
