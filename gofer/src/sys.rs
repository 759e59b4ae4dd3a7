//! Every `unsafe` the gofer needs, and the part the sentry shares with it: thin, safe wrappers over host calls that
//! nix does not offer (openat2, the mount API, capabilities, the `*at` calls on a parent directory fd), each taking
//! borrowed fds and Rust buffers and returning `Errno`. The sentry re-exports these from its own `sys` module, so
//! there is one copy of each wrapper.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// Takes ownership of the fd a raw syscall returned.
pub fn owned(rc: libc::c_long) -> Result<OwnedFd, Errno> {
    let fd = RawFd::try_from(Errno::result(rc)?).map_err(|_| Errno::EBADF)?;
    // SAFETY: the kernel just returned `fd` as a new descriptor of this process, owned by nobody else yet.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The kernel's `struct open_how`.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2(2).
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &CStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    let how = OpenHow {
        flags: u64::from(flags.cast_unsigned()),
        mode: u64::from(mode),
        resolve,
    };
    // SAFETY: `dir` is live for the call; `path` is NUL-terminated; `how` is a valid open_how of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &raw const how,
            size_of::<OpenHow>(),
        )
    };
    owned(rc)
}

/// fstatat(2) into the kernel's `struct stat`.
pub fn fstatat(dir: Option<BorrowedFd<'_>>, path: &CStr, flags: i32) -> Result<libc::stat, Errno> {
    // SAFETY: `struct stat` is plain integers; all-zero is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let dfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: `dfd` is AT_FDCWD or a live borrowed fd; `path` is NUL-terminated; `st` is writable and outlives the call.
    let rc = unsafe { libc::fstatat(dfd, path.as_ptr(), &raw mut st, flags) };
    Errno::result(rc).map(|_| st)
}

/// fstatfs(2).
pub fn fstatfs(fd: BorrowedFd<'_>) -> Result<libc::statfs, Errno> {
    // SAFETY: `struct statfs` is plain integers; all-zero is valid.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is live; `st` is writable for the call.
    let rc = unsafe { libc::fstatfs(fd.as_raw_fd(), &raw mut st) };
    Errno::result(rc).map(|_| st)
}

// ---- the new mount API (used while building the sandbox's view) ----

pub const OPEN_TREE_CLONE: u32 = 1;
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
pub const MOUNT_ATTR_RDONLY: u64 = 0x01;
pub const MOUNT_ATTR_NOSUID: u64 = 0x02;
pub const MOUNT_ATTR_NODEV: u64 = 0x04;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x08;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;

/// The kernel's `struct mount_attr`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// fsopen + fsconfig(key=value...) + CREATE + fsmount: a new, detached filesystem instance.
pub fn new_fs(fstype: &CStr, options: &[(&CStr, &CStr)]) -> Result<OwnedFd, Errno> {
    // SAFETY: NUL-terminated fs type name; FSOPEN_CLOEXEC.
    let fsfd = owned(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), 1) })?;
    for (k, v) in options {
        // SAFETY: live fd; NUL-terminated key and value; aux must be 0 for SET_STRING.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fsfd.as_raw_fd(),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        };
        Errno::result(rc)?;
    }
    // SAFETY: live fd; CMD_CREATE takes no key or value.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fsfd.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0,
        )
    };
    Errno::result(rc)?;
    // SAFETY: live fd; FSMOUNT_CLOEXEC, no mount attributes.
    owned(unsafe { libc::syscall(libc::SYS_fsmount, fsfd.as_raw_fd(), 1, 0) })
}

/// open_tree(dir, path, OPEN_TREE_CLONE | AT_RECURSIVE | AT_EMPTY_PATH | CLOEXEC): a detached copy of a mount tree.
pub fn clone_tree(dir: BorrowedFd<'_>, path: &CStr) -> Result<OwnedFd, Errno> {
    let flags = OPEN_TREE_CLONE
        | u32::try_from(libc::O_CLOEXEC | libc::AT_RECURSIVE | libc::AT_EMPTY_PATH)
            .map_err(|_| Errno::EINVAL)?;
    // SAFETY: live fd, NUL-terminated path.
    owned(unsafe { libc::syscall(libc::SYS_open_tree, dir.as_raw_fd(), path.as_ptr(), flags) })
}

/// mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE]) setting `set` and clearing `clr`.
pub fn mount_setattr(fd: BorrowedFd<'_>, set: u64, clr: u64, recursive: bool) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: live fd; empty NUL-terminated path; `attr` is a valid mount_attr of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &raw const attr,
            size_of::<MountAttr>(),
        )
    };
    Errno::result(rc).map(drop)
}

/// move_mount(fd, "", AT_FDCWD, to, F_EMPTY_PATH): attach a detached tree at `to`.
pub fn attach(fd: BorrowedFd<'_>, to: &CStr) -> Result<(), Errno> {
    // SAFETY: live fd; NUL-terminated paths.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    Errno::result(rc).map(drop)
}

/// move_mount(fd, "", target, "", F_EMPTY_PATH | T_EMPTY_PATH): attach a detached tree onto the mountpoint `target`
/// (an O_PATH fd), so no path is resolved at the moment of mounting.
pub fn attach_at(fd: BorrowedFd<'_>, target: BorrowedFd<'_>) -> Result<(), Errno> {
    const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
    // SAFETY: live fds; empty NUL-terminated paths.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    Errno::result(rc).map(drop)
}

/// Makes `name` in `dir`: a directory (0755) or an empty file (0644, never through a symlink), as a mountpoint. One
/// that exists already is fine.
pub fn make_mountpoint(dir: BorrowedFd<'_>, name: &CStr, is_dir: bool) -> Result<(), Errno> {
    let r = if is_dir {
        nix::sys::stat::mkdirat(
            Some(dir.as_raw_fd()),
            name,
            nix::sys::stat::Mode::from_bits_truncate(0o755),
        )
    } else {
        nix::fcntl::openat(
            Some(dir.as_raw_fd()),
            name,
            nix::fcntl::OFlag::O_CREAT
                | nix::fcntl::OFlag::O_EXCL
                | nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_NOFOLLOW
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .and_then(own_fd)
        .map(drop)
    };
    match r {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// mount(2) for propagation and remount changes.
pub fn mount_flags(target: &CStr, flags: libc::c_ulong) -> Result<(), Errno> {
    // SAFETY: NUL-terminated target; null source, fstype and data are allowed for propagation/remount changes.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            target.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        )
    };
    Errno::result(rc).map(drop)
}

/// Drops every capability: bounding set, ambient set, then effective/permitted/inheritable.
pub fn drop_all_caps() -> Result<(), Errno> {
    drop_caps_except(&[])
}

/// Drops every capability but `keep` (numbers, below 32) from the bounding, effective and permitted sets; clears
/// the ambient and inheritable sets. Without CAP_SETPCAP the bounding set stays as it is (it only limits what an
/// exec could gain, and no_new_privs already forbids gaining anything).
pub fn drop_caps_except(keep: &[u32]) -> Result<(), Errno> {
    for cap in 0..64 {
        if keep.contains(&cap) {
            continue;
        }
        // SAFETY: integer arguments only; EINVAL past the last capability the kernel knows is expected.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
        if rc != 0 && Errno::last() == Errno::EINVAL {
            break;
        }
    }
    // SAFETY: integer arguments only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    Errno::result(rc)?;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let hdr = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let bits = keep
        .iter()
        .filter(|c| **c < 32)
        .fold(0u32, |b, c| b | (1 << c));
    let data = [
        Data {
            effective: bits,
            permitted: bits,
            inheritable: 0,
        },
        Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
    ];
    // SAFETY: header and two data structs of the _LINUX_CAPABILITY_VERSION_3 layout, alive for the call.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &raw const hdr, data.as_ptr()) };
    Errno::result(rc).map(drop)
}

/// prctl with integer arguments only (PDEATHSIG, DUMPABLE, ...).
pub fn prctl(option: libc::c_int, arg: libc::c_ulong) -> Result<(), Errno> {
    // SAFETY: every option this wrapper is used with takes integer arguments only.
    let rc = unsafe { libc::prctl(option, arg, 0, 0, 0) };
    Errno::result(rc).map(drop)
}

/// close_range(first, ~0, 0): closes every fd from `first` up.
pub fn close_from(first: u32) {
    // SAFETY: integer arguments only; closing fds this process no longer needs (called right before exec).
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
}

/// _exit(2): leave a forked child without running the parent's destructors or atexit handlers.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is always safe to call; it never returns.
    unsafe { libc::_exit(code) }
}

/// Takes ownership of an fd a nix call returned.
pub fn own_fd(fd: RawFd) -> Result<OwnedFd, Errno> {
    if fd < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: the caller passes a descriptor a successful open just returned, which nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// open(2) of an absolute path (or a /proc/self/fd path), always O_CLOEXEC.
pub fn open_abs(path: &CStr, flags: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: NUL-terminated path; the mode argument is unused without O_CREAT.
    let rc = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0) };
    owned(libc::c_long::from(rc))
}

/// Closes every fd from `first` up except `keep`.
pub fn close_from_except(first: u32, keep: RawFd) {
    let keep = u32::try_from(keep).unwrap_or(u32::MAX);
    if keep >= first && keep != u32::MAX {
        // SAFETY: integer arguments only; the fds closed are not used by this process afterwards.
        unsafe { libc::syscall(libc::SYS_close_range, first, keep - 1, 0) };
        // SAFETY: as above.
        unsafe { libc::syscall(libc::SYS_close_range, keep + 1, u32::MAX, 0) };
    } else {
        close_from(first);
    }
}

/// statx(2).
pub fn statx(
    dir: Option<BorrowedFd<'_>>,
    path: &CStr,
    flags: i32,
    mask: u32,
) -> Result<libc::statx, Errno> {
    // SAFETY: `struct statx` is plain integers; all-zero is valid.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    let dfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: as for fstatat: live fd or AT_FDCWD, NUL-terminated path, writable output.
    let rc = unsafe { libc::statx(dfd, path.as_ptr(), flags, mask, &raw mut st) };
    Errno::result(rc).map(|_| st)
}

/// The bytes of a C struct, as the agent's memory expects them.
pub trait CBytes: Sized {
    fn c_bytes(&self) -> Vec<u8>;
}

macro_rules! c_bytes {
    ($($t:ty),*) => {$(
        impl CBytes for $t {
            fn c_bytes(&self) -> Vec<u8> {
                // SAFETY: `$t` is a repr(C) struct of integers (padding included, which the kernel also zero-fills
                // because we built it from zeroed memory); reading size_of bytes from a valid reference is sound.
                unsafe { std::slice::from_raw_parts((self as *const $t).cast::<u8>(), size_of::<$t>()) }.to_vec()
            }
        }
    )*};
}
c_bytes!(libc::stat, libc::statx, libc::statfs);

/// renameat2(2).
pub fn renameat2(
    d1: BorrowedFd<'_>,
    n1: &CStr,
    d2: BorrowedFd<'_>,
    n2: &CStr,
    flags: u32,
) -> Result<(), Errno> {
    // SAFETY: live fds and NUL-terminated names; integer flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            d1.as_raw_fd(),
            n1.as_ptr(),
            d2.as_raw_fd(),
            n2.as_ptr(),
            flags,
        )
    };
    Errno::result(rc).map(drop)
}

/// fchmodat2(2) (Linux 6.6+), which honours AT_SYMLINK_NOFOLLOW (a symlink: EOPNOTSUPP, as Linux).
pub fn fchmodat2(dir: BorrowedFd<'_>, name: &CStr, mode: u32, flags: i32) -> Result<(), Errno> {
    const SYS_FCHMODAT2: libc::c_long = 452;
    // SAFETY: live fd, NUL-terminated name, integer mode and flags.
    let rc = unsafe { libc::syscall(SYS_FCHMODAT2, dir.as_raw_fd(), name.as_ptr(), mode, flags) };
    Errno::result(rc).map(drop)
}

/// utimensat(2) relative to a directory fd; None sets both times to now.
pub fn utimensat(
    dir: BorrowedFd<'_>,
    name: &CStr,
    times: Option<&[libc::timespec; 2]>,
    flags: i32,
) -> Result<(), Errno> {
    let ptr = times.map_or(std::ptr::null(), |t| t.as_ptr());
    // SAFETY: live fd; NUL-terminated name; `ptr` is null or two timespecs alive for the call.
    let rc = unsafe { libc::utimensat(dir.as_raw_fd(), name.as_ptr(), ptr, flags) };
    Errno::result(rc).map(drop)
}

/// fgetxattr(2); an empty `buf` asks for the size.
pub fn fgetxattr(fd: BorrowedFd<'_>, name: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: live fd; NUL-terminated name; `buf` writable for its length.
    let rc = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    usize::try_from(Errno::result(rc)?).map_err(|_| Errno::EIO)
}

/// fsetxattr(2).
pub fn fsetxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8], flags: i32) -> Result<(), Errno> {
    // SAFETY: live fd; NUL-terminated name; `value` readable for its length.
    let rc = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    };
    Errno::result(rc).map(drop)
}

/// flistxattr(2); an empty `buf` asks for the size.
pub fn flistxattr(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: live fd; `buf` writable for its length.
    let rc = unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(Errno::result(rc)?).map_err(|_| Errno::EIO)
}

/// fremovexattr(2).
pub fn fremovexattr(fd: BorrowedFd<'_>, name: &CStr) -> Result<(), Errno> {
    // SAFETY: live fd; NUL-terminated name.
    let rc = unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) };
    Errno::result(rc).map(drop)
}

/// pivot_root(".", "."), then detach the old root: the current directory becomes `/` and nothing else is left.
pub fn pivot_here() -> Result<(), Errno> {
    nix::unistd::pivot_root(".", ".")?;
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)?;
    nix::unistd::chdir("/")
}

/// clone(2) with namespace flags and no new stack: fork semantics. Returns 0 in the child.
///
/// Call only while the process is single-threaded: the child then owns a consistent copy of every lock.
pub fn fork_into_namespaces(flags: libc::c_int) -> Result<libc::pid_t, Errno> {
    let flags = libc::c_ulong::try_from(flags | libc::SIGCHLD).map_err(|_| Errno::EINVAL)?;
    // SAFETY: with a null stack clone behaves like fork; the caller guarantees single-threadedness (documented), so
    // the child's copy of the heap and of every lock is consistent.
    let rc = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    libc::pid_t::try_from(Errno::result(rc)?).map_err(|_| Errno::EINVAL)
}

/// pidfd_open(2).
pub fn pidfd_open(pid: libc::pid_t) -> Result<OwnedFd, Errno> {
    // SAFETY: integer arguments only.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    owned(rc)
}

/// pidfd_send_signal(pidfd, SIGKILL): kills exactly the process the pidfd names (never a recycled pid).
pub fn pidfd_kill(pidfd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: live pidfd; SIGKILL; a null siginfo and no flags are allowed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}
