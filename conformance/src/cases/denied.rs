//! Denied and guarded syscalls: each must fail inside the sandbox with the errno THE table documents
//! (`sentry syscalls --json`). These cases are sandbox-only: natively, as root, several would act on the host
//! (reboot, mount, acct, swapoff, settimeofday), so the runner never runs them natively and the probe refuses them
//! without `--sandbox-only`. Raw cases pass all-zero arguments (NULL pointers, zero flags), so even a call the
//! filter let through by mistake could not touch this process's memory. The list of raw cases was generated from
//! the table; `tests::denied_cases_cover_table` (in the runner's tests) keeps it complete.
#![forbid(unsafe_code)]

use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys;

const Z: [u64; 6] = [0; 6];

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::raw("denied.ptrace", &["ptrace"], 101, Z),
    Case::raw("denied.syslog", &["syslog"], 103, Z),
    Case::raw("denied.uselib", &["uselib"], 134, Z),
    Case::raw("denied.ustat", &["ustat"], 136, Z),
    Case::raw("denied.vhangup", &["vhangup"], 153, Z),
    Case::raw("denied.modify_ldt", &["modify_ldt"], 154, Z),
    Case::raw("denied.pivot_root", &["pivot_root"], 155, Z),
    Case::raw("denied._sysctl", &["_sysctl"], 156, Z),
    Case::raw("denied.adjtimex", &["adjtimex"], 159, Z),
    Case::raw("denied.chroot", &["chroot"], 161, Z),
    Case::raw("denied.acct", &["acct"], 163, Z),
    Case::raw("denied.settimeofday", &["settimeofday"], 164, Z),
    Case::raw("denied.mount", &["mount"], 165, Z),
    Case::raw("denied.umount2", &["umount2"], 166, Z),
    Case::raw("denied.swapon", &["swapon"], 167, Z),
    Case::raw("denied.swapoff", &["swapoff"], 168, Z),
    Case::raw("denied.reboot", &["reboot"], 169, Z),
    Case::raw("denied.iopl", &["iopl"], 172, Z),
    Case::raw("denied.ioperm", &["ioperm"], 173, Z),
    Case::raw("denied.create_module", &["create_module"], 174, Z),
    Case::raw("denied.init_module", &["init_module"], 175, Z),
    Case::raw("denied.delete_module", &["delete_module"], 176, Z),
    Case::raw("denied.get_kernel_syms", &["get_kernel_syms"], 177, Z),
    Case::raw("denied.query_module", &["query_module"], 178, Z),
    Case::raw("denied.quotactl", &["quotactl"], 179, Z),
    Case::raw("denied.nfsservctl", &["nfsservctl"], 180, Z),
    Case::raw("denied.getpmsg", &["getpmsg"], 181, Z),
    Case::raw("denied.putpmsg", &["putpmsg"], 182, Z),
    Case::raw("denied.afs_syscall", &["afs_syscall"], 183, Z),
    Case::raw("denied.tuxcall", &["tuxcall"], 184, Z),
    Case::raw("denied.security", &["security"], 185, Z),
    Case::raw("denied.set_thread_area", &["set_thread_area"], 205, Z),
    Case::raw("denied.get_thread_area", &["get_thread_area"], 211, Z),
    Case::raw("denied.lookup_dcookie", &["lookup_dcookie"], 212, Z),
    Case::raw("denied.epoll_ctl_old", &["epoll_ctl_old"], 214, Z),
    Case::raw("denied.epoll_wait_old", &["epoll_wait_old"], 215, Z),
    Case::raw("denied.clock_settime", &["clock_settime"], 227, Z),
    Case::raw("denied.vserver", &["vserver"], 236, Z),
    Case::raw("denied.kexec_load", &["kexec_load"], 246, Z),
    Case::raw("denied.add_key", &["add_key"], 248, Z),
    Case::raw("denied.request_key", &["request_key"], 249, Z),
    Case::raw("denied.keyctl", &["keyctl"], 250, Z),
    Case::raw("denied.migrate_pages", &["migrate_pages"], 256, Z),
    Case::raw("denied.move_pages", &["move_pages"], 279, Z),
    Case::raw("denied.perf_event_open", &["perf_event_open"], 298, Z),
    Case::raw("denied.fanotify_init", &["fanotify_init"], 300, Z),
    Case::raw("denied.fanotify_mark", &["fanotify_mark"], 301, Z),
    Case::raw("denied.name_to_handle_at", &["name_to_handle_at"], 303, Z),
    Case::raw("denied.open_by_handle_at", &["open_by_handle_at"], 304, Z),
    Case::raw("denied.clock_adjtime", &["clock_adjtime"], 305, Z),
    Case::raw("denied.setns", &["setns"], 308, Z),
    Case::raw("denied.process_vm_writev", &["process_vm_writev"], 311, Z),
    Case::raw("denied.finit_module", &["finit_module"], 313, Z),
    Case::raw("denied.kexec_file_load", &["kexec_file_load"], 320, Z),
    Case::raw("denied.bpf", &["bpf"], 321, Z),
    Case::raw("denied.userfaultfd", &["userfaultfd"], 323, Z),
    Case::raw("denied.io_uring_setup", &["io_uring_setup"], 425, Z),
    Case::raw("denied.io_uring_enter", &["io_uring_enter"], 426, Z),
    Case::raw("denied.io_uring_register", &["io_uring_register"], 427, Z),
    Case::raw("denied.open_tree", &["open_tree"], 428, Z),
    Case::raw("denied.move_mount", &["move_mount"], 429, Z),
    Case::raw("denied.fsopen", &["fsopen"], 430, Z),
    Case::raw("denied.fsconfig", &["fsconfig"], 431, Z),
    Case::raw("denied.fsmount", &["fsmount"], 432, Z),
    Case::raw("denied.fspick", &["fspick"], 433, Z),
    Case::raw("denied.clone3", &["clone3"], 435, Z),
    Case::raw("denied.pidfd_getfd", &["pidfd_getfd"], 438, Z),
    Case::raw("denied.mount_setattr", &["mount_setattr"], 442, Z),
    Case::raw("denied.quotactl_fd", &["quotactl_fd"], 443, Z),
    Case::raw("denied.memfd_secret", &["memfd_secret"], 447, Z),
    Case::raw("denied.statmount", &["statmount"], 457, Z),
    Case::raw("denied.listmount", &["listmount"], 458, Z),
    Case::raw("denied.lsm_set_self_attr", &["lsm_set_self_attr"], 460, Z),
    Case::sandbox("denied.clone_newuser", &["clone"], clone_newuser),
    Case::sandbox("denied.clone_newns", &["clone"], clone_newns),
    Case::sandbox("denied.clone_newnet", &["clone"], clone_newnet),
    Case::sandbox("denied.clone_newpid", &["clone"], clone_newpid),
    Case::sandbox("denied.unshare_newuser", &["unshare"], unshare_newuser),
    Case::sandbox("denied.unshare_newns", &["unshare"], unshare_newns),
    Case::sandbox("denied.unshare_newnet", &["unshare"], unshare_newnet),
    Case::sandbox("denied.socket_packet", &["socket"], socket_packet),
    Case::sandbox("denied.socket_raw", &["socket"], socket_raw),
    Case::sandbox("denied.ioctl_tiocsti", &["ioctl"], ioctl_tiocsti),
    Case::sandbox("denied.ioctl_tioclinux", &["ioctl"], ioctl_tioclinux),
    Case::sandbox(
        "denied.personality_addr_no_randomize",
        &["personality"],
        personality_flag,
    ),
    Case::sandbox(
        "denied.seccomp_second_listener",
        &["seccomp"],
        seccomp_second_listener,
    ),
    Case::sandbox("denied.fchmod_setid", &["fchmod"], fchmod_setid),
    Case::sandbox(
        "denied.socket_netlink_audit",
        &["socket"],
        socket_netlink_audit,
    ),
    Case::sandbox("denied.socket_vsock", &["socket"], socket_vsock),
];

/// socket(domain, type, protocol); a socket that does get created (a sandbox bug) is closed at once.
fn socket_of(c: &mut Ctx, domain: i32, ty: i32, protocol: i32) -> Outcome {
    let r = sc!(libc::SYS_socket, domain, ty | libc::SOCK_CLOEXEC, protocol);
    if let Ok(fd) = r {
        sys::close(i32::try_from(fd).unwrap_or(-1));
    }
    c.ret("ret", r).ok();
    Ok(())
}

fn socket_netlink_audit(c: &mut Ctx) -> Outcome {
    socket_of(c, libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_AUDIT)
}

fn socket_vsock(c: &mut Ctx) -> Outcome {
    socket_of(c, libc::AF_VSOCK, libc::SOCK_STREAM, 0)
}

/// clone with a namespace flag; a child that does get created (a sandbox bug) exits at once.
fn clone_ns(c: &mut Ctx, flag: i32) -> Outcome {
    let flags = u64::try_from(flag | libc::SIGCHLD).unwrap_or(0);
    let r = sys::clone_fork(flags, || 0);
    if let Ok(pid) = r {
        sys::reap(pid);
    }
    c.ret("ret", r).ok();
    Ok(())
}

fn socket_packet(c: &mut Ctx) -> Outcome {
    let r = sc!(libc::SYS_socket, libc::AF_PACKET, libc::SOCK_RAW, 0);
    c.ret("ret", r).ok();
    Ok(())
}

fn socket_raw(c: &mut Ctx) -> Outcome {
    let r = sc!(
        libc::SYS_socket,
        libc::AF_INET,
        libc::SOCK_RAW,
        libc::IPPROTO_ICMP
    );
    c.ret("ret", r).ok();
    Ok(())
}

fn clone_newuser(c: &mut Ctx) -> Outcome {
    clone_ns(c, libc::CLONE_NEWUSER)
}

fn clone_newns(c: &mut Ctx) -> Outcome {
    clone_ns(c, libc::CLONE_NEWNS)
}

fn clone_newnet(c: &mut Ctx) -> Outcome {
    clone_ns(c, libc::CLONE_NEWNET)
}

fn clone_newpid(c: &mut Ctx) -> Outcome {
    clone_ns(c, libc::CLONE_NEWPID)
}

fn unshare_newuser(c: &mut Ctx) -> Outcome {
    c.ret("ret", sc!(libc::SYS_unshare, libc::CLONE_NEWUSER))
        .ok();
    Ok(())
}

fn unshare_newns(c: &mut Ctx) -> Outcome {
    c.ret("ret", sc!(libc::SYS_unshare, libc::CLONE_NEWNS)).ok();
    Ok(())
}

fn unshare_newnet(c: &mut Ctx) -> Outcome {
    c.ret("ret", sc!(libc::SYS_unshare, libc::CLONE_NEWNET))
        .ok();
    Ok(())
}

fn ioctl_tiocsti(c: &mut Ctx) -> Outcome {
    let b = b'x';
    c.ret("ret", sys::ioctl_byte_in(0, libc::TIOCSTI, &b)).ok();
    Ok(())
}

fn ioctl_tioclinux(c: &mut Ctx) -> Outcome {
    let b = 0u8;
    c.ret("ret", sys::ioctl_byte_in(0, libc::TIOCLINUX, &b))
        .ok();
    Ok(())
}

fn personality_flag(c: &mut Ctx) -> Outcome {
    // PER_LINUX | ADDR_NO_RANDOMIZE
    c.ret("ret", sc!(libc::SYS_personality, 0x0040000u32)).ok();
    Ok(())
}

/// fchmod with set-user-ID on a file of the task's own: refused in BPF (EPERM), plain modes still work.
fn fchmod_setid(c: &mut Ctx) -> Outcome {
    let fd = sys::open_at_cwd(
        "setid-probe",
        libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
        0o644,
    )
    .map_err(|e| crate::case::Stop::Fail(format!("create the probe file: {e}")))?;
    let fd = i32::try_from(fd).unwrap_or(-1);
    c.ret("ret", sc!(libc::SYS_fchmod, fd, 0o4755u32)).ok();
    sys::close(fd);
    Ok(())
}

fn seccomp_second_listener(c: &mut Ctx) -> Outcome {
    c.ret(
        "ret",
        sys::seccomp_allow_all(u32::try_from(libc::SECCOMP_FILTER_FLAG_NEW_LISTENER).unwrap_or(8)),
    )
    .ok();
    Ok(())
}
