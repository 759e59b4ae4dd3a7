//! THE syscall table: every x86_64 syscall, its disposition and why.
//!
//! One row for each number the x86_64 kernel assigns below the x32 range: 0..=336 and 424..=462 (x32 numbers have
//! bit 30 set and are refused by the filter prelude). The seccomp filter is compiled from this table alone, and the
//! compatibility doc is generated from it; config never adds or removes rows. A number missing here is trapped, and
//! the sentry answers it with ENOSYS and an `Unimplemented` audit event.
//!
//! - native: carries no path and no authority beyond the fds and memory the agent already holds, or its reach is
//!   already bounded by the sandbox's own namespaces (layer 1);
//! - emulated: carries a path, so the sentry copies it once, resolves it in the sandbox's view and asks the policy;
//! - denied: bypasses mediation or attacks the kernel, so BPF refuses it with the errno;
//! - guarded: native unless an argument matches a guard, which BPF refuses with the errno.
//!
//! This is the only file in the project where syscall numbers appear. Numbers that libc does not name for x86_64
//! glibc are the local consts below, checked against arch/x86/entry/syscalls/syscall_64.tbl.

use libc::c_long;
use nix::errno::Errno;
use platform_seccomp::bpf::{Cmp, Cond};

use super::entry::Entry;
use super::{fs, net, process, xattr};

// Numbers libc 0.2.191 lacks for x86_64 glibc (syscall_64.tbl).
const SYS_CREATE_MODULE: c_long = 174;
const SYS_GET_KERNEL_SYMS: c_long = 177;
const SYS_QUERY_MODULE: c_long = 178;
const SYS_IO_PGETEVENTS: c_long = 333;
const SYS_URETPROBE: c_long = 335;
const SYS_UPROBE: c_long = 336;
const SYS_CACHESTAT: c_long = 451;
const SYS_MAP_SHADOW_STACK: c_long = 453;
const SYS_FUTEX_WAKE: c_long = 454;
const SYS_FUTEX_WAIT: c_long = 455;
const SYS_FUTEX_REQUEUE: c_long = 456;
const SYS_STATMOUNT: c_long = 457;
const SYS_LISTMOUNT: c_long = 458;
const SYS_LSM_GET_SELF_ATTR: c_long = 459;
const SYS_LSM_SET_SELF_ATTR: c_long = 460;
const SYS_LSM_LIST_MODULES: c_long = 461;

/// Every CLONE_NEW* bit. A nested user namespace hands capabilities back and opens kernel attack surface; the other
/// namespaces would escape the sandbox's own. CLONE_NEWTIME (0x80) only means a namespace to unshare(2); in clone(2)'s
/// arg0 the same bit belongs to the exit signal, which no valid signal sets, so refusing it there costs nothing.
const CLONE_NEW_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWTIME) as u64;

/// clone(2) and unshare(2): refused when arg0 (the flags) has any CLONE_NEW* bit.
const CLONE_NS_GUARD: &[&[Cond]] = &[&[Cond {
    arg: 0,
    cmp: Cmp::AnyBit(CLONE_NEW_FLAGS),
}]];

/// TIOCSTI: pushes bytes into a terminal's input queue, to be read by whatever reads it after the sandbox.
const IOCTL_TIOCSTI: u32 = 0x5412;
/// TIOCLINUX: virtual-console subcommands, among them pasting the selection into the console's input.
const IOCTL_TIOCLINUX: u32 = 0x541C;

/// ioctl(2): refused when the request (arg1, low 32 bits as the kernel compares it) is TIOCSTI or TIOCLINUX.
const IOCTL_GUARD: &[&[Cond]] = &[
    &[Cond {
        arg: 1,
        cmp: Cmp::Eq32(IOCTL_TIOCSTI),
    }],
    &[Cond {
        arg: 1,
        cmp: Cmp::Eq32(IOCTL_TIOCLINUX),
    }],
];

/// The socket type without its SOCK_NONBLOCK / SOCK_CLOEXEC flags (a type with any other bit is EINVAL natively, so
/// it is left to the kernel).
const SOCK_TYPE_BITS: u32 = !(0o4000 | 0o2_000_000);

const fn family_is(f: u32) -> Cond {
    Cond {
        arg: 0,
        cmp: Cmp::Eq32(f),
    }
}

const fn type_is(t: u32) -> Cond {
    Cond {
        arg: 1,
        cmp: Cmp::Masked32 {
            mask: SOCK_TYPE_BITS,
            value: t,
        },
    }
}

/// socket(2): refused for any family but AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK (AF_PACKET, AF_VSOCK to a
/// hypervisor, AF_ALG and the rest are outside the sandbox's namespace or kernel attack surface); for raw (3) and
/// packet (10) inet sockets; for SCTP (see PROTO_SCTP); and for netlink other than NETLINK_ROUTE (which, without capabilities, can only read
/// routes and addresses; netlink sockets are SOCK_RAW by nature, so the raw conditions name the inet families).
const SOCKET_GUARD: &[&[Cond]] = &[
    &[
        Cond {
            arg: 0,
            cmp: Cmp::Ne32(1),
        },
        Cond {
            arg: 0,
            cmp: Cmp::Ne32(2),
        },
        Cond {
            arg: 0,
            cmp: Cmp::Ne32(10),
        },
        Cond {
            arg: 0,
            cmp: Cmp::Ne32(16),
        },
    ],
    &[family_is(2), type_is(3)],
    &[family_is(10), type_is(3)],
    &[family_is(2), type_is(10)],
    &[family_is(10), type_is(10)],
    &[
        family_is(16),
        Cond {
            arg: 2,
            cmp: Cmp::Ne32(0),
        },
    ],
    &[family_is(2), PROTO_SCTP],
    &[family_is(10), PROTO_SCTP],
];

/// IPPROTO_SCTP: SCTP connects through setsockopt(SCTP_SOCKOPT_CONNECTX), which carries addresses the sentry would
/// never see.
const PROTO_SCTP: Cond = Cond {
    arg: 2,
    cmp: Cmp::Eq32(132),
};

/// PER_LINUX: the default personality.
const PER_LINUX: u32 = 0;
/// 0xffffffff asks for the current personality and changes nothing.
const PERSONALITY_QUERY: u32 = 0xffff_ffff;

/// personality(2): refused unless arg0 (low 32 bits) is PER_LINUX or the query.
/// fchmod with S_ISUID or S_ISGID: a sandbox never makes a set-id file on the host (with the sentry run as root, the
/// agent's files are root's). chmod and fchmodat are emulated and drop the bits the same way.
const FCHMOD_SETID_GUARD: &[&[Cond]] = &[&[Cond {
    arg: 1,
    cmp: Cmp::AnyBit(0o6000),
}]];

/// seccomp(SECCOMP_SET_MODE_FILTER, flags with SECCOMP_FILTER_FLAG_NEW_LISTENER): an agent's own supervisor would
/// outrank the ptrace platform's trace stops. The notify platform's kernel refuses it with EBUSY anyway.
const SECCOMP_LISTENER_GUARD: &[&[Cond]] = &[&[
    Cond {
        arg: 0,
        cmp: Cmp::Eq32(1),
    },
    Cond {
        arg: 1,
        cmp: Cmp::AnyBit(8),
    },
]];

const PERSONALITY_GUARD: &[&[Cond]] = &[&[
    Cond {
        arg: 0,
        cmp: Cmp::Ne32(PER_LINUX),
    },
    Cond {
        arg: 0,
        cmp: Cmp::Ne32(PERSONALITY_QUERY),
    },
]];

/// Every x86_64 syscall below 512, in number order.
pub static TABLE: &[(c_long, Entry)] = &[
    (libc::SYS_read, Entry::native("read", "I/O on an fd the agent already holds")),
    (libc::SYS_write, Entry::native("write", "I/O on an fd the agent already holds")),
    (
        libc::SYS_open,
        Entry::emulated("open", fs::sys_open, "path resolved and policy-checked by the sentry; fd injected"),
    ),
    (libc::SYS_close, Entry::native("close", "closes an fd the agent holds")),
    (
        libc::SYS_stat,
        Entry::emulated("stat", fs::sys_stat, "path resolved and policy-checked by the sentry; metadata from its view"),
    ),
    (libc::SYS_fstat, Entry::native("fstat", "metadata of an fd the agent already holds")),
    (
        libc::SYS_lstat,
        Entry::emulated(
            "lstat",
            fs::sys_lstat,
            "path resolved and policy-checked by the sentry; metadata from its view",
        ),
    ),
    (libc::SYS_poll, Entry::native("poll", "waits on fds the agent already holds")),
    (libc::SYS_lseek, Entry::native("lseek", "offset of an fd the agent already holds")),
    (libc::SYS_mmap, Entry::native("mmap", "maps anonymous memory or an fd the agent already holds")),
    (libc::SYS_mprotect, Entry::native("mprotect", "protection of the agent's own mappings")),
    (libc::SYS_munmap, Entry::native("munmap", "unmaps the agent's own memory")),
    (libc::SYS_brk, Entry::native("brk", "the agent's own heap; bounded by RLIMIT_DATA and the cgroup")),
    (libc::SYS_rt_sigaction, Entry::native("rt_sigaction", "the agent's own signal handlers")),
    (libc::SYS_rt_sigprocmask, Entry::native("rt_sigprocmask", "the agent's own signal mask")),
    (libc::SYS_rt_sigreturn, Entry::native("rt_sigreturn", "returns from the agent's own signal handler")),
    (
        libc::SYS_ioctl,
        Entry::guarded(
            "ioctl",
            Errno::EPERM,
            IOCTL_GUARD,
            "native on held fds; TIOCSTI/TIOCLINUX refused: they inject input into the terminal",
        ),
    ),
    (libc::SYS_pread64, Entry::native("pread64", "I/O on an fd the agent already holds")),
    (libc::SYS_pwrite64, Entry::native("pwrite64", "I/O on an fd the agent already holds")),
    (libc::SYS_readv, Entry::native("readv", "I/O on an fd the agent already holds")),
    (libc::SYS_writev, Entry::native("writev", "I/O on an fd the agent already holds")),
    (
        libc::SYS_access,
        Entry::emulated(
            "access",
            fs::sys_access,
            "path resolved and policy-checked by the sentry; answers from its view",
        ),
    ),
    (libc::SYS_pipe, Entry::native("pipe", "an anonymous pipe inside the agent")),
    (libc::SYS_select, Entry::native("select", "waits on fds the agent already holds")),
    (libc::SYS_sched_yield, Entry::native("sched_yield", "gives up the agent's own CPU slice")),
    (libc::SYS_mremap, Entry::native("mremap", "resizes the agent's own mappings")),
    (libc::SYS_msync, Entry::native("msync", "flushes the agent's own mappings")),
    (libc::SYS_mincore, Entry::native("mincore", "residency of the agent's own mappings")),
    (libc::SYS_madvise, Entry::native("madvise", "advice on the agent's own mappings")),
    (libc::SYS_shmget, Entry::native("shmget", "SysV shared memory; the IPC namespace is the sandbox's own")),
    (libc::SYS_shmat, Entry::native("shmat", "SysV shared memory; the IPC namespace is the sandbox's own")),
    (libc::SYS_shmctl, Entry::native("shmctl", "SysV shared memory; the IPC namespace is the sandbox's own")),
    (libc::SYS_dup, Entry::native("dup", "duplicates an fd the agent already holds")),
    (libc::SYS_dup2, Entry::native("dup2", "duplicates an fd the agent already holds")),
    (libc::SYS_pause, Entry::native("pause", "waits for a signal")),
    (libc::SYS_nanosleep, Entry::native("nanosleep", "sleeps; no authority")),
    (libc::SYS_getitimer, Entry::native("getitimer", "the agent's own interval timers")),
    (libc::SYS_alarm, Entry::native("alarm", "the agent's own alarm timer")),
    (libc::SYS_setitimer, Entry::native("setitimer", "the agent's own interval timers")),
    (libc::SYS_getpid, Entry::native("getpid", "identity within the sandbox's pid namespace")),
    (libc::SYS_sendfile, Entry::native("sendfile", "copies between fds the agent already holds")),
    (
        libc::SYS_socket,
        Entry::guarded("socket", Errno::EPERM, SOCKET_GUARD, "unix, inet and route netlink only; no raw or packet sockets"),
    ),
    (
        libc::SYS_connect,
        Entry::emulated("connect", net::sys_connect, "address copied once and decided; the sentry connects (outside: its own host-side socket, installed at the fd)"),
    ),
    (libc::SYS_accept, Entry::native("accept", "on a socket the agent holds; network namespace bounds it")),
    (
        libc::SYS_sendto,
        Entry::emulated("sendto", net::sys_sendto, "no address: continued; with one: checked and sent by the sentry"),
    ),
    (libc::SYS_recvfrom, Entry::native("recvfrom", "receives on a socket the agent already holds")),
    (
        libc::SYS_sendmsg,
        Entry::emulated("sendmsg", net::sys_sendmsg, "unix, host-side or outside-bound: copied, decided, sent by the sentry; else continued (namespace-bound)"),
    ),
    (libc::SYS_recvmsg, Entry::native("recvmsg", "receives on a socket the agent already holds")),
    (libc::SYS_shutdown, Entry::native("shutdown", "on a socket the agent already holds")),
    (
        libc::SYS_bind,
        Entry::emulated("bind", net::sys_bind, "inet: privileged ports refused, bound by the sentry; unix paths continue"),
    ),
    (libc::SYS_listen, Entry::native("listen", "on a socket the agent holds; network namespace bounds it")),
    (libc::SYS_getsockname, Entry::native("getsockname", "address of a socket the agent already holds")),
    (libc::SYS_getpeername, Entry::native("getpeername", "peer of a socket the agent already holds")),
    (libc::SYS_socketpair, Entry::native("socketpair", "a connected pair inside the agent; no address")),
    (libc::SYS_setsockopt, Entry::native("setsockopt", "options of a held socket; network namespace bounds them")),
    (libc::SYS_getsockopt, Entry::native("getsockopt", "options of a socket the agent already holds")),
    (
        libc::SYS_clone,
        Entry::guarded(
            "clone",
            Errno::EPERM,
            CLONE_NS_GUARD,
            "threads and fork native; CLONE_NEW* refused: new namespaces would escape the sandbox's",
        ),
    ),
    (libc::SYS_fork, Entry::native("fork", "a child in the same sandbox; the pids cgroup limits it")),
    (libc::SYS_vfork, Entry::native("vfork", "a child in the same sandbox; the pids cgroup limits it")),
    (
        libc::SYS_execve,
        Entry::emulated(
            "execve",
            process::sys_execve,
            "checked by the sentry, then continued in the agent; the read-only view bounds a raced path",
        ),
    ),
    (libc::SYS_exit, Entry::native("exit", "ends the calling thread")),
    (libc::SYS_wait4, Entry::native("wait4", "reaps the agent's own children")),
    (libc::SYS_kill, Entry::native("kill", "the pid namespace bounds the targets to the sandbox")),
    (libc::SYS_uname, Entry::native("uname", "the UTS namespace is the sandbox's own")),
    (libc::SYS_semget, Entry::native("semget", "SysV semaphores; the IPC namespace is the sandbox's own")),
    (libc::SYS_semop, Entry::native("semop", "SysV semaphores; the IPC namespace is the sandbox's own")),
    (libc::SYS_semctl, Entry::native("semctl", "SysV semaphores; the IPC namespace is the sandbox's own")),
    (libc::SYS_shmdt, Entry::native("shmdt", "SysV shared memory; the IPC namespace is the sandbox's own")),
    (libc::SYS_msgget, Entry::native("msgget", "SysV message queues; the IPC namespace is the sandbox's own")),
    (libc::SYS_msgsnd, Entry::native("msgsnd", "SysV message queues; the IPC namespace is the sandbox's own")),
    (libc::SYS_msgrcv, Entry::native("msgrcv", "SysV message queues; the IPC namespace is the sandbox's own")),
    (libc::SYS_msgctl, Entry::native("msgctl", "SysV message queues; the IPC namespace is the sandbox's own")),
    (libc::SYS_fcntl, Entry::native("fcntl", "flags, locks and leases of an fd the agent already holds")),
    (libc::SYS_flock, Entry::native("flock", "advisory lock on an fd the agent already holds")),
    (libc::SYS_fsync, Entry::native("fsync", "flushes an fd the agent already holds")),
    (libc::SYS_fdatasync, Entry::native("fdatasync", "flushes an fd the agent already holds")),
    (
        libc::SYS_truncate,
        Entry::emulated("truncate", fs::sys_truncate, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_ftruncate,
        Entry::native("ftruncate", "needs an fd open for writing, handed out only for writable grants"),
    ),
    (libc::SYS_getdents, Entry::native("getdents", "lists a directory fd the agent already holds")),
    (
        libc::SYS_getcwd,
        Entry::native("getcwd", "the cwd in the agent's own view, set only by a checked chdir or a held fd"),
    ),
    (
        libc::SYS_chdir,
        Entry::emulated(
            "chdir",
            fs::sys_chdir,
            "checked by the sentry, then continued in the agent; the read-only view bounds a raced path",
        ),
    ),
    (libc::SYS_fchdir, Entry::native("fchdir", "moves to a directory fd the agent already holds")),
    (
        libc::SYS_rename,
        Entry::emulated("rename", fs::sys_rename, "both paths resolved and policy-checked by the sentry"),
    ),
    (
        libc::SYS_mkdir,
        Entry::emulated("mkdir", fs::sys_mkdir, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_rmdir,
        Entry::emulated("rmdir", fs::sys_rmdir, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_creat,
        Entry::emulated("creat", fs::sys_creat, "path resolved and policy-checked (write) by the sentry; fd injected"),
    ),
    (libc::SYS_link, Entry::emulated("link", fs::sys_link, "both paths resolved and policy-checked by the sentry")),
    (
        libc::SYS_unlink,
        Entry::emulated("unlink", fs::sys_unlink, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_symlink,
        Entry::emulated("symlink", fs::sys_symlink, "link path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_readlink,
        Entry::emulated(
            "readlink",
            fs::sys_readlink,
            "path resolved and policy-checked; target from the sentry's view",
        ),
    ),
    (
        libc::SYS_chmod,
        Entry::emulated("chmod", fs::sys_chmod, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_fchmod,
        Entry::guarded(
            "fchmod",
            Errno::EPERM,
            FCHMOD_SETID_GUARD,
            "owner only, on a held fd (read-only fds come from the read-only view); set-id bits refused",
        ),
    ),
    (
        libc::SYS_chown,
        Entry::emulated("chown", fs::sys_chown, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_fchown,
        Entry::native("fchown", "no CAP_CHOWN inside; fds of read-only grants come from the read-only view"),
    ),
    (
        libc::SYS_lchown,
        Entry::emulated("lchown", fs::sys_lchown, "path resolved and policy-checked (write) by the sentry"),
    ),
    (libc::SYS_umask, Entry::native("umask", "the agent's own file-creation mask")),
    (libc::SYS_gettimeofday, Entry::native("gettimeofday", "reads the clock")),
    (libc::SYS_getrlimit, Entry::native("getrlimit", "reads the agent's own limits")),
    (libc::SYS_getrusage, Entry::native("getrusage", "the agent's own resource usage")),
    (libc::SYS_sysinfo, Entry::native("sysinfo", "host uptime, load and memory totals; read-only, no authority")),
    (libc::SYS_times, Entry::native("times", "the agent's own CPU times")),
    (
        libc::SYS_ptrace,
        Entry::denied("ptrace", Errno::EPERM, "a tracer could rewrite a sibling's syscalls after the sentry's check"),
    ),
    (libc::SYS_getuid, Entry::native("getuid", "reads the task's own credentials")),
    (libc::SYS_syslog, Entry::denied("syslog", Errno::EPERM, "the host kernel's log; leaks addresses and host events")),
    (libc::SYS_getgid, Entry::native("getgid", "reads the task's own credentials")),
    (libc::SYS_setuid, Entry::native("setuid", "no capabilities inside, so the kernel refuses what matters")),
    (libc::SYS_setgid, Entry::native("setgid", "no capabilities inside, so the kernel refuses what matters")),
    (libc::SYS_geteuid, Entry::native("geteuid", "reads the task's own credentials")),
    (libc::SYS_getegid, Entry::native("getegid", "reads the task's own credentials")),
    (libc::SYS_setpgid, Entry::native("setpgid", "process groups within the sandbox's pid namespace")),
    (libc::SYS_getppid, Entry::native("getppid", "identity within the sandbox's pid namespace")),
    (libc::SYS_getpgrp, Entry::native("getpgrp", "identity within the sandbox's pid namespace")),
    (libc::SYS_setsid, Entry::native("setsid", "a new session within the sandbox's pid namespace")),
    (libc::SYS_setreuid, Entry::native("setreuid", "no capabilities inside, so the kernel refuses what matters")),
    (libc::SYS_setregid, Entry::native("setregid", "no capabilities inside, so the kernel refuses what matters")),
    (libc::SYS_getgroups, Entry::native("getgroups", "reads the task's own credentials")),
    (libc::SYS_setgroups, Entry::native("setgroups", "no capabilities inside, so the kernel refuses it")),
    (libc::SYS_setresuid, Entry::native("setresuid", "no capabilities inside, so the kernel refuses what matters")),
    (libc::SYS_getresuid, Entry::native("getresuid", "reads the task's own credentials")),
    (libc::SYS_setresgid, Entry::native("setresgid", "no capabilities inside, so the kernel refuses what matters")),
    (libc::SYS_getresgid, Entry::native("getresgid", "reads the task's own credentials")),
    (libc::SYS_getpgid, Entry::native("getpgid", "identity within the sandbox's pid namespace")),
    (libc::SYS_setfsuid, Entry::native("setfsuid", "no capabilities inside, so the kernel refuses what matters")),
    (libc::SYS_setfsgid, Entry::native("setfsgid", "no capabilities inside, so the kernel refuses what matters")),
    (libc::SYS_getsid, Entry::native("getsid", "identity within the sandbox's pid namespace")),
    (libc::SYS_capget, Entry::native("capget", "reads capability sets, which are empty inside")),
    (libc::SYS_capset, Entry::native("capset", "can only drop capabilities, and the task has none")),
    (libc::SYS_rt_sigpending, Entry::native("rt_sigpending", "the agent's own pending signals")),
    (libc::SYS_rt_sigtimedwait, Entry::native("rt_sigtimedwait", "waits for the agent's own signals")),
    (
        libc::SYS_rt_sigqueueinfo,
        Entry::native("rt_sigqueueinfo", "the pid namespace bounds the targets to the sandbox"),
    ),
    (libc::SYS_rt_sigsuspend, Entry::native("rt_sigsuspend", "waits for a signal")),
    (libc::SYS_sigaltstack, Entry::native("sigaltstack", "the agent's own signal stack")),
    (
        libc::SYS_utime,
        Entry::emulated("utime", fs::sys_utime, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_mknod,
        Entry::emulated("mknod", fs::sys_mknod, "path resolved and policy-checked (write) by the sentry"),
    ),
    (libc::SYS_uselib, Entry::denied("uselib", Errno::ENOSYS, "removed from Linux; it loaded a library by path")),
    (
        libc::SYS_personality,
        Entry::guarded(
            "personality",
            Errno::EPERM,
            PERSONALITY_GUARD,
            "PER_LINUX and queries only; flags like MMAP_PAGE_ZERO aid kernel exploits",
        ),
    ),
    (
        libc::SYS_ustat,
        Entry::denied("ustat", Errno::ENOSYS, "obsolete; names a host device outside the sandbox's view"),
    ),
    (
        libc::SYS_statfs,
        Entry::emulated(
            "statfs",
            fs::sys_statfs,
            "path resolved and policy-checked by the sentry; answers from its view",
        ),
    ),
    (libc::SYS_fstatfs, Entry::native("fstatfs", "filesystem of an fd the agent already holds")),
    (libc::SYS_sysfs, Entry::native("sysfs", "lists the filesystem types the kernel knows; no path, no authority")),
    (libc::SYS_getpriority, Entry::native("getpriority", "the pid namespace bounds the targets to the sandbox")),
    (
        libc::SYS_setpriority,
        Entry::native("setpriority", "pid namespace bounds the targets; raising priority needs CAP_SYS_NICE"),
    ),
    (libc::SYS_sched_setparam, Entry::native("sched_setparam", "pid namespace bounds targets; RT needs CAP_SYS_NICE")),
    (libc::SYS_sched_getparam, Entry::native("sched_getparam", "the pid namespace bounds the targets to the sandbox")),
    (
        libc::SYS_sched_setscheduler,
        Entry::native("sched_setscheduler", "pid namespace bounds targets; RT needs CAP_SYS_NICE"),
    ),
    (
        libc::SYS_sched_getscheduler,
        Entry::native("sched_getscheduler", "the pid namespace bounds the targets to the sandbox"),
    ),
    (libc::SYS_sched_get_priority_max, Entry::native("sched_get_priority_max", "a constant of the scheduler")),
    (libc::SYS_sched_get_priority_min, Entry::native("sched_get_priority_min", "a constant of the scheduler")),
    (
        libc::SYS_sched_rr_get_interval,
        Entry::native("sched_rr_get_interval", "the pid namespace bounds the targets to the sandbox"),
    ),
    (libc::SYS_mlock, Entry::native("mlock", "the agent's own memory; bounded by RLIMIT_MEMLOCK")),
    (libc::SYS_munlock, Entry::native("munlock", "the agent's own memory")),
    (libc::SYS_mlockall, Entry::native("mlockall", "the agent's own memory; bounded by RLIMIT_MEMLOCK")),
    (libc::SYS_munlockall, Entry::native("munlockall", "the agent's own memory")),
    (
        libc::SYS_vhangup,
        Entry::denied("vhangup", Errno::EPERM, "hangs up the controlling terminal for every user of it"),
    ),
    (
        libc::SYS_modify_ldt,
        Entry::denied("modify_ldt", Errno::EPERM, "LDT segments: old kernel attack surface, unused by 64-bit programs"),
    ),
    (
        libc::SYS_pivot_root,
        Entry::denied("pivot_root", Errno::EPERM, "no mounts inside the sandbox; its view is fixed"),
    ),
    (libc::SYS__sysctl, Entry::denied("_sysctl", Errno::ENOSYS, "removed from Linux; sysctls live in /proc/sys")),
    (libc::SYS_prctl, Entry::native("prctl", "per-task settings; the privileged options need capabilities it lacks")),
    (libc::SYS_arch_prctl, Entry::native("arch_prctl", "the task's own FS/GS base and CPUID settings")),
    (libc::SYS_adjtimex, Entry::denied("adjtimex", Errno::EPERM, "tunes the host clock")),
    (libc::SYS_setrlimit, Entry::native("setrlimit", "can only lower hard limits without CAP_SYS_RESOURCE")),
    (libc::SYS_chroot, Entry::denied("chroot", Errno::EPERM, "path-bearing; the sandbox's root is fixed by layer 1")),
    (libc::SYS_sync, Entry::native("sync", "flushes dirty data; no authority")),
    (libc::SYS_acct, Entry::denied("acct", Errno::EPERM, "process accounting writes to a host path")),
    (libc::SYS_settimeofday, Entry::denied("settimeofday", Errno::EPERM, "the clock is the host's")),
    (libc::SYS_mount, Entry::denied("mount", Errno::EPERM, "no mounts inside the sandbox; its view is fixed")),
    (libc::SYS_umount2, Entry::denied("umount2", Errno::EPERM, "unmounting would uncover masked paths")),
    (libc::SYS_swapon, Entry::denied("swapon", Errno::EPERM, "path-bearing; swap is the host's")),
    (libc::SYS_swapoff, Entry::denied("swapoff", Errno::EPERM, "path-bearing; swap is the host's")),
    (libc::SYS_reboot, Entry::denied("reboot", Errno::EPERM, "the host's power state")),
    (libc::SYS_sethostname, Entry::native("sethostname", "the UTS namespace is the sandbox's own")),
    (libc::SYS_setdomainname, Entry::native("setdomainname", "the UTS namespace is the sandbox's own")),
    (libc::SYS_iopl, Entry::denied("iopl", Errno::EPERM, "raw I/O port access")),
    (libc::SYS_ioperm, Entry::denied("ioperm", Errno::EPERM, "raw I/O port access")),
    (SYS_CREATE_MODULE, Entry::denied("create_module", Errno::ENOSYS, "removed from Linux; no kernel modules")),
    (libc::SYS_init_module, Entry::denied("init_module", Errno::EPERM, "no kernel modules")),
    (libc::SYS_delete_module, Entry::denied("delete_module", Errno::EPERM, "no kernel modules")),
    (SYS_GET_KERNEL_SYMS, Entry::denied("get_kernel_syms", Errno::ENOSYS, "removed from Linux")),
    (SYS_QUERY_MODULE, Entry::denied("query_module", Errno::ENOSYS, "removed from Linux")),
    (libc::SYS_quotactl, Entry::denied("quotactl", Errno::EPERM, "path-bearing quota control of host filesystems")),
    (libc::SYS_nfsservctl, Entry::denied("nfsservctl", Errno::ENOSYS, "removed from Linux")),
    (libc::SYS_getpmsg, Entry::denied("getpmsg", Errno::ENOSYS, "never implemented in Linux")),
    (libc::SYS_putpmsg, Entry::denied("putpmsg", Errno::ENOSYS, "never implemented in Linux")),
    (libc::SYS_afs_syscall, Entry::denied("afs_syscall", Errno::ENOSYS, "never implemented in Linux")),
    (libc::SYS_tuxcall, Entry::denied("tuxcall", Errno::ENOSYS, "never implemented in Linux")),
    (libc::SYS_security, Entry::denied("security", Errno::ENOSYS, "never implemented in Linux")),
    (libc::SYS_gettid, Entry::native("gettid", "identity within the sandbox's pid namespace")),
    (libc::SYS_readahead, Entry::native("readahead", "prefetches an fd the agent already holds")),
    (
        libc::SYS_setxattr,
        Entry::emulated("setxattr", xattr::sys_setxattr, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_lsetxattr,
        Entry::emulated("lsetxattr", xattr::sys_lsetxattr, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_fsetxattr,
        Entry::native(
            "fsetxattr",
            "fds for writing are only handed out for writable grants; read-only fds come from the read-only view",
        ),
    ),
    (
        libc::SYS_getxattr,
        Entry::emulated("getxattr", xattr::sys_getxattr, "path resolved and policy-checked by the sentry"),
    ),
    (
        libc::SYS_lgetxattr,
        Entry::emulated("lgetxattr", xattr::sys_lgetxattr, "path resolved and policy-checked by the sentry"),
    ),
    (libc::SYS_fgetxattr, Entry::native("fgetxattr", "reads attributes of an fd the agent already holds")),
    (
        libc::SYS_listxattr,
        Entry::emulated("listxattr", xattr::sys_listxattr, "path resolved and policy-checked by the sentry"),
    ),
    (
        libc::SYS_llistxattr,
        Entry::emulated("llistxattr", xattr::sys_llistxattr, "path resolved and policy-checked by the sentry"),
    ),
    (libc::SYS_flistxattr, Entry::native("flistxattr", "lists attributes of an fd the agent already holds")),
    (
        libc::SYS_removexattr,
        Entry::emulated(
            "removexattr",
            xattr::sys_removexattr,
            "path resolved and policy-checked (write) by the sentry",
        ),
    ),
    (
        libc::SYS_lremovexattr,
        Entry::emulated(
            "lremovexattr",
            xattr::sys_lremovexattr,
            "path resolved and policy-checked (write) by the sentry",
        ),
    ),
    (
        libc::SYS_fremovexattr,
        Entry::native(
            "fremovexattr",
            "fds for writing are only handed out for writable grants; read-only fds come from the read-only view",
        ),
    ),
    (libc::SYS_tkill, Entry::native("tkill", "the pid namespace bounds the targets to the sandbox")),
    (libc::SYS_time, Entry::native("time", "reads the clock")),
    (libc::SYS_futex, Entry::native("futex", "waits and wakes on the agent's own memory")),
    (
        libc::SYS_sched_setaffinity,
        Entry::native("sched_setaffinity", "pid namespace bounds the targets; the cpuset cgroup bounds the CPUs"),
    ),
    (
        libc::SYS_sched_getaffinity,
        Entry::native("sched_getaffinity", "the pid namespace bounds the targets to the sandbox"),
    ),
    (
        libc::SYS_set_thread_area,
        Entry::denied("set_thread_area", Errno::ENOSYS, "not implemented for 64-bit tasks; arch_prctl sets TLS"),
    ),
    (libc::SYS_io_setup, Entry::native("io_setup", "a Linux AIO context; bounded by fs.aio-max-nr")),
    (libc::SYS_io_destroy, Entry::native("io_destroy", "the agent's own AIO context")),
    (libc::SYS_io_getevents, Entry::native("io_getevents", "the agent's own AIO context")),
    (libc::SYS_io_submit, Entry::native("io_submit", "AIO reads and writes on fds the agent already holds")),
    (libc::SYS_io_cancel, Entry::native("io_cancel", "the agent's own AIO context")),
    (
        libc::SYS_get_thread_area,
        Entry::denied("get_thread_area", Errno::ENOSYS, "not implemented for 64-bit tasks; arch_prctl reads TLS"),
    ),
    (
        libc::SYS_lookup_dcookie,
        Entry::denied("lookup_dcookie", Errno::ENOSYS, "removed from Linux; it turned a dcookie into a host path"),
    ),
    (libc::SYS_epoll_create, Entry::native("epoll_create", "an epoll instance inside the agent")),
    (libc::SYS_epoll_ctl_old, Entry::denied("epoll_ctl_old", Errno::ENOSYS, "never implemented in Linux")),
    (libc::SYS_epoll_wait_old, Entry::denied("epoll_wait_old", Errno::ENOSYS, "never implemented in Linux")),
    (libc::SYS_remap_file_pages, Entry::native("remap_file_pages", "rearranges the agent's own shared mappings")),
    (libc::SYS_getdents64, Entry::native("getdents64", "lists a directory fd the agent already holds")),
    (libc::SYS_set_tid_address, Entry::native("set_tid_address", "the agent's own clear-child-tid pointer")),
    (libc::SYS_restart_syscall, Entry::native("restart_syscall", "resumes an interrupted native call")),
    (libc::SYS_semtimedop, Entry::native("semtimedop", "SysV semaphores; the IPC namespace is the sandbox's own")),
    (libc::SYS_fadvise64, Entry::native("fadvise64", "advice on an fd the agent already holds")),
    (libc::SYS_timer_create, Entry::native("timer_create", "the agent's own POSIX timers")),
    (libc::SYS_timer_settime, Entry::native("timer_settime", "the agent's own POSIX timers")),
    (libc::SYS_timer_gettime, Entry::native("timer_gettime", "the agent's own POSIX timers")),
    (libc::SYS_timer_getoverrun, Entry::native("timer_getoverrun", "the agent's own POSIX timers")),
    (libc::SYS_timer_delete, Entry::native("timer_delete", "the agent's own POSIX timers")),
    (libc::SYS_clock_settime, Entry::denied("clock_settime", Errno::EPERM, "the clock is the host's")),
    (libc::SYS_clock_gettime, Entry::native("clock_gettime", "reads a clock")),
    (libc::SYS_clock_getres, Entry::native("clock_getres", "reads a clock's resolution")),
    (libc::SYS_clock_nanosleep, Entry::native("clock_nanosleep", "sleeps; no authority")),
    (libc::SYS_exit_group, Entry::native("exit_group", "ends the calling process")),
    (libc::SYS_epoll_wait, Entry::native("epoll_wait", "waits on fds the agent already holds")),
    (libc::SYS_epoll_ctl, Entry::native("epoll_ctl", "registers fds the agent already holds")),
    (libc::SYS_tgkill, Entry::native("tgkill", "the pid namespace bounds the targets to the sandbox")),
    (
        libc::SYS_utimes,
        Entry::emulated("utimes", fs::sys_utimes, "path resolved and policy-checked (write) by the sentry"),
    ),
    (libc::SYS_vserver, Entry::denied("vserver", Errno::ENOSYS, "never implemented in Linux")),
    (libc::SYS_mbind, Entry::native("mbind", "NUMA policy of the agent's own memory")),
    (libc::SYS_set_mempolicy, Entry::native("set_mempolicy", "NUMA policy of the calling thread")),
    (libc::SYS_get_mempolicy, Entry::native("get_mempolicy", "NUMA policy of the calling thread")),
    (libc::SYS_mq_open, Entry::native("mq_open", "POSIX queue names live in the sandbox's IPC namespace, not paths")),
    (libc::SYS_mq_unlink, Entry::native("mq_unlink", "POSIX queue names live in the sandbox's IPC namespace")),
    (libc::SYS_mq_timedsend, Entry::native("mq_timedsend", "on a queue fd the agent already holds")),
    (libc::SYS_mq_timedreceive, Entry::native("mq_timedreceive", "on a queue fd the agent already holds")),
    (libc::SYS_mq_notify, Entry::native("mq_notify", "on a queue fd the agent already holds")),
    (libc::SYS_mq_getsetattr, Entry::native("mq_getsetattr", "on a queue fd the agent already holds")),
    (libc::SYS_kexec_load, Entry::denied("kexec_load", Errno::EPERM, "would replace the host kernel")),
    (libc::SYS_waitid, Entry::native("waitid", "reaps the agent's own children")),
    (
        libc::SYS_add_key,
        Entry::denied("add_key", Errno::EPERM, "kernel keyrings: not namespaced, frequent attack surface"),
    ),
    (
        libc::SYS_request_key,
        Entry::denied("request_key", Errno::EPERM, "kernel keyrings: not namespaced; can run the host's upcall helper"),
    ),
    (
        libc::SYS_keyctl,
        Entry::denied("keyctl", Errno::EPERM, "kernel keyrings: not namespaced, frequent attack surface"),
    ),
    (
        libc::SYS_ioprio_set,
        Entry::native("ioprio_set", "pid namespace bounds the targets; the RT class needs CAP_SYS_ADMIN"),
    ),
    (libc::SYS_ioprio_get, Entry::native("ioprio_get", "the pid namespace bounds the targets to the sandbox")),
    (libc::SYS_inotify_init, Entry::native("inotify_init", "an empty inotify fd; watches are added via the sentry")),
    (
        libc::SYS_inotify_add_watch,
        Entry::emulated(
            "inotify_add_watch",
            fs::sys_inotify_add_watch,
            "path resolved and policy-checked by the sentry before any watch",
        ),
    ),
    (libc::SYS_inotify_rm_watch, Entry::native("inotify_rm_watch", "removes a watch from an fd the agent holds")),
    (
        libc::SYS_migrate_pages,
        Entry::denied("migrate_pages", Errno::EPERM, "moves pages between NUMA nodes, another process's too"),
    ),
    (
        libc::SYS_openat,
        Entry::emulated("openat", fs::sys_openat, "path resolved and policy-checked by the sentry; fd injected"),
    ),
    (
        libc::SYS_mkdirat,
        Entry::emulated("mkdirat", fs::sys_mkdirat, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_mknodat,
        Entry::emulated("mknodat", fs::sys_mknodat, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_fchownat,
        Entry::emulated("fchownat", fs::sys_fchownat, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_futimesat,
        Entry::emulated("futimesat", fs::sys_futimesat, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_newfstatat,
        Entry::emulated(
            "newfstatat",
            fs::sys_newfstatat,
            "path resolved and policy-checked by the sentry; metadata from its view",
        ),
    ),
    (
        libc::SYS_unlinkat,
        Entry::emulated("unlinkat", fs::sys_unlinkat, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_renameat,
        Entry::emulated("renameat", fs::sys_renameat, "both paths resolved and policy-checked by the sentry"),
    ),
    (
        libc::SYS_linkat,
        Entry::emulated("linkat", fs::sys_linkat, "both paths resolved and policy-checked by the sentry"),
    ),
    (
        libc::SYS_symlinkat,
        Entry::emulated("symlinkat", fs::sys_symlinkat, "link path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_readlinkat,
        Entry::emulated(
            "readlinkat",
            fs::sys_readlinkat,
            "path resolved and policy-checked; target from the sentry's view",
        ),
    ),
    (
        libc::SYS_fchmodat,
        Entry::emulated("fchmodat", fs::sys_fchmodat, "path resolved and policy-checked (write) by the sentry"),
    ),
    (
        libc::SYS_faccessat,
        Entry::emulated(
            "faccessat",
            fs::sys_faccessat,
            "path resolved and policy-checked by the sentry; answers from its view",
        ),
    ),
    (libc::SYS_pselect6, Entry::native("pselect6", "waits on fds the agent already holds")),
    (libc::SYS_ppoll, Entry::native("ppoll", "waits on fds the agent already holds")),
    (
        libc::SYS_unshare,
        Entry::guarded(
            "unshare",
            Errno::EPERM,
            CLONE_NS_GUARD,
            "fd table and fs sharing native; CLONE_NEW* refused: would escape the sandbox's namespaces",
        ),
    ),
    (libc::SYS_set_robust_list, Entry::native("set_robust_list", "the agent's own robust futex list")),
    (
        libc::SYS_get_robust_list,
        Entry::native("get_robust_list", "pid namespace bounds the targets; needs ptrace access to them"),
    ),
    (libc::SYS_splice, Entry::native("splice", "moves data between fds the agent already holds")),
    (libc::SYS_tee, Entry::native("tee", "copies between pipes the agent already holds")),
    (libc::SYS_sync_file_range, Entry::native("sync_file_range", "flushes an fd the agent already holds")),
    (libc::SYS_vmsplice, Entry::native("vmsplice", "the agent's own memory into a pipe it holds")),
    (
        libc::SYS_move_pages,
        Entry::denied("move_pages", Errno::EPERM, "moves pages between NUMA nodes, another process's too"),
    ),
    (
        libc::SYS_utimensat,
        Entry::emulated("utimensat", fs::sys_utimensat, "path resolved and policy-checked (write) by the sentry"),
    ),
    (libc::SYS_epoll_pwait, Entry::native("epoll_pwait", "waits on fds the agent already holds")),
    (libc::SYS_signalfd, Entry::native("signalfd", "an fd for the agent's own signals")),
    (libc::SYS_timerfd_create, Entry::native("timerfd_create", "a timer fd inside the agent")),
    (libc::SYS_eventfd, Entry::native("eventfd", "an event counter fd inside the agent")),
    (
        libc::SYS_fallocate,
        Entry::native("fallocate", "needs an fd open for writing, handed out only for writable grants"),
    ),
    (libc::SYS_timerfd_settime, Entry::native("timerfd_settime", "a timer fd the agent already holds")),
    (libc::SYS_timerfd_gettime, Entry::native("timerfd_gettime", "a timer fd the agent already holds")),
    (libc::SYS_accept4, Entry::native("accept4", "on a socket the agent holds; network namespace bounds it")),
    (libc::SYS_signalfd4, Entry::native("signalfd4", "an fd for the agent's own signals")),
    (libc::SYS_eventfd2, Entry::native("eventfd2", "an event counter fd inside the agent")),
    (libc::SYS_epoll_create1, Entry::native("epoll_create1", "an epoll instance inside the agent")),
    (libc::SYS_dup3, Entry::native("dup3", "duplicates an fd the agent already holds")),
    (libc::SYS_pipe2, Entry::native("pipe2", "an anonymous pipe inside the agent")),
    (libc::SYS_inotify_init1, Entry::native("inotify_init1", "an empty inotify fd; watches are added via the sentry")),
    (libc::SYS_preadv, Entry::native("preadv", "I/O on an fd the agent already holds")),
    (libc::SYS_pwritev, Entry::native("pwritev", "I/O on an fd the agent already holds")),
    (
        libc::SYS_rt_tgsigqueueinfo,
        Entry::native("rt_tgsigqueueinfo", "the pid namespace bounds the targets to the sandbox"),
    ),
    (
        libc::SYS_perf_event_open,
        Entry::denied("perf_event_open", Errno::EPERM, "kernel attack surface and side channels on the host"),
    ),
    (libc::SYS_recvmmsg, Entry::native("recvmmsg", "receives on a socket the agent already holds")),
    (
        libc::SYS_fanotify_init,
        Entry::denied("fanotify_init", Errno::EPERM, "filesystem-wide monitoring outside the sentry's view"),
    ),
    (
        libc::SYS_fanotify_mark,
        Entry::denied("fanotify_mark", Errno::EPERM, "path-bearing; marks whole host mounts and filesystems"),
    ),
    (
        libc::SYS_prlimit64,
        Entry::native("prlimit64", "pid namespace bounds the targets; raising hard limits needs CAP_SYS_RESOURCE"),
    ),
    (
        libc::SYS_name_to_handle_at,
        Entry::denied("name_to_handle_at", Errno::EPERM, "path-bearing; handles name host inodes"),
    ),
    (
        libc::SYS_open_by_handle_at,
        Entry::denied("open_by_handle_at", Errno::EPERM, "opens by inode handle, bypassing path resolution and grants"),
    ),
    (libc::SYS_clock_adjtime, Entry::denied("clock_adjtime", Errno::EPERM, "tunes the host clock")),
    (libc::SYS_syncfs, Entry::native("syncfs", "flushes the filesystem of an fd the agent holds; no authority")),
    (
        libc::SYS_sendmmsg,
        Entry::emulated("sendmmsg", net::sys_sendmmsg, "as sendmsg, message by message"),
    ),
    (libc::SYS_setns, Entry::denied("setns", Errno::EPERM, "joining another namespace would leave the sandbox's")),
    (libc::SYS_getcpu, Entry::native("getcpu", "which CPU and node the caller runs on")),
    (
        libc::SYS_process_vm_readv,
        Entry::native("process_vm_readv", "pid namespace bounds the targets; the sandbox init is non-dumpable"),
    ),
    (
        libc::SYS_process_vm_writev,
        Entry::denied("process_vm_writev", Errno::EPERM, "no writes into another process's memory"),
    ),
    (
        libc::SYS_kcmp,
        Entry::native("kcmp", "compares kernel objects of processes it may ptrace-read; pid ns bounds it"),
    ),
    (libc::SYS_finit_module, Entry::denied("finit_module", Errno::EPERM, "no kernel modules")),
    (libc::SYS_sched_setattr, Entry::native("sched_setattr", "pid namespace bounds targets; RT needs CAP_SYS_NICE")),
    (libc::SYS_sched_getattr, Entry::native("sched_getattr", "the pid namespace bounds the targets to the sandbox")),
    (
        libc::SYS_renameat2,
        Entry::emulated("renameat2", fs::sys_renameat2, "both paths resolved and policy-checked by the sentry"),
    ),
    (
        libc::SYS_seccomp,
        Entry::guarded(
            "seccomp",
            Errno::EBUSY,
            SECCOMP_LISTENER_GUARD,
            "adding filters only narrows; a second user-notify listener is refused (EBUSY, as the kernel would)",
        ),
    ),
    (libc::SYS_getrandom, Entry::native("getrandom", "reads the kernel's random pool")),
    (libc::SYS_memfd_create, Entry::native("memfd_create", "anonymous memory file; its name is only a label")),
    (libc::SYS_kexec_file_load, Entry::denied("kexec_file_load", Errno::EPERM, "would replace the host kernel")),
    (libc::SYS_bpf, Entry::denied("bpf", Errno::EPERM, "eBPF is kernel attack surface, and BPF_OBJ_GET takes a path")),
    (
        libc::SYS_execveat,
        Entry::emulated(
            "execveat",
            process::sys_execveat,
            "checked by the sentry, then continued in the agent; the read-only view bounds a raced path",
        ),
    ),
    (
        libc::SYS_userfaultfd,
        Entry::denied("userfaultfd", Errno::EPERM, "stalls the kernel at chosen faults, widening exploit races"),
    ),
    (libc::SYS_membarrier, Entry::native("membarrier", "memory barriers across the agent's own threads")),
    (libc::SYS_mlock2, Entry::native("mlock2", "the agent's own memory; bounded by RLIMIT_MEMLOCK")),
    (libc::SYS_copy_file_range, Entry::native("copy_file_range", "copies between fds the agent already holds")),
    (libc::SYS_preadv2, Entry::native("preadv2", "I/O on an fd the agent already holds")),
    (libc::SYS_pwritev2, Entry::native("pwritev2", "I/O on an fd the agent already holds")),
    (libc::SYS_pkey_mprotect, Entry::native("pkey_mprotect", "protection keys on the agent's own memory")),
    (libc::SYS_pkey_alloc, Entry::native("pkey_alloc", "protection keys on the agent's own memory")),
    (libc::SYS_pkey_free, Entry::native("pkey_free", "protection keys on the agent's own memory")),
    (
        libc::SYS_statx,
        Entry::emulated(
            "statx",
            fs::sys_statx,
            "path resolved and policy-checked by the sentry; metadata from its view",
        ),
    ),
    (SYS_IO_PGETEVENTS, Entry::native("io_pgetevents", "the agent's own AIO context")),
    (libc::SYS_rseq, Entry::native("rseq", "the agent's own restartable sequences")),
    (
        SYS_URETPROBE,
        Entry::native("uretprobe", "only valid from the kernel's uprobe trampoline; elsewhere it raises SIGILL"),
    ),
    (SYS_UPROBE, Entry::native("uprobe", "only valid from the kernel's uprobe trampoline; elsewhere it raises SIGILL")),
    (
        libc::SYS_pidfd_send_signal,
        Entry::native("pidfd_send_signal", "the pid namespace bounds the targets to the sandbox"),
    ),
    (
        libc::SYS_io_uring_setup,
        Entry::denied(
            "io_uring_setup",
            Errno::EPERM,
            "io_uring runs openat, connect and more where the filter never sees them",
        ),
    ),
    (
        libc::SYS_io_uring_enter,
        Entry::denied(
            "io_uring_enter",
            Errno::EPERM,
            "io_uring runs openat, connect and more where the filter never sees them",
        ),
    ),
    (
        libc::SYS_io_uring_register,
        Entry::denied(
            "io_uring_register",
            Errno::EPERM,
            "io_uring runs openat, connect and more where the filter never sees them",
        ),
    ),
    (libc::SYS_open_tree, Entry::denied("open_tree", Errno::EPERM, "new mount API: no mounts inside the sandbox")),
    (libc::SYS_move_mount, Entry::denied("move_mount", Errno::EPERM, "new mount API: no mounts inside the sandbox")),
    (libc::SYS_fsopen, Entry::denied("fsopen", Errno::EPERM, "new mount API: no mounts inside the sandbox")),
    (libc::SYS_fsconfig, Entry::denied("fsconfig", Errno::EPERM, "new mount API: no mounts inside the sandbox")),
    (libc::SYS_fsmount, Entry::denied("fsmount", Errno::EPERM, "new mount API: no mounts inside the sandbox")),
    (libc::SYS_fspick, Entry::denied("fspick", Errno::EPERM, "new mount API: no mounts inside the sandbox")),
    (libc::SYS_pidfd_open, Entry::native("pidfd_open", "the pid namespace bounds the targets to the sandbox")),
    (
        libc::SYS_clone3,
        Entry::denied("clone3", Errno::ENOSYS, "so libc falls back to clone, whose flags BPF can check"),
    ),
    (libc::SYS_close_range, Entry::native("close_range", "closes fds the agent holds")),
    (
        libc::SYS_openat2,
        Entry::emulated("openat2", fs::sys_openat2, "path resolved and policy-checked by the sentry; fd injected"),
    ),
    (libc::SYS_pidfd_getfd, Entry::denied("pidfd_getfd", Errno::EPERM, "would copy fds out of another process")),
    (
        libc::SYS_faccessat2,
        Entry::emulated(
            "faccessat2",
            fs::sys_faccessat2,
            "path resolved and policy-checked by the sentry; answers from its view",
        ),
    ),
    (
        libc::SYS_process_madvise,
        Entry::native("process_madvise", "pid namespace bounds the targets; needs ptrace access to them"),
    ),
    (libc::SYS_epoll_pwait2, Entry::native("epoll_pwait2", "waits on fds the agent already holds")),
    (
        libc::SYS_mount_setattr,
        Entry::denied("mount_setattr", Errno::EPERM, "path-bearing; would change mount flags such as read-only"),
    ),
    (libc::SYS_quotactl_fd, Entry::denied("quotactl_fd", Errno::EPERM, "quota control of host filesystems")),
    (
        libc::SYS_landlock_create_ruleset,
        Entry::native("landlock_create_ruleset", "Landlock can only narrow what the agent may do"),
    ),
    (libc::SYS_landlock_add_rule, Entry::native("landlock_add_rule", "Landlock can only narrow what the agent may do")),
    (
        libc::SYS_landlock_restrict_self,
        Entry::native("landlock_restrict_self", "Landlock can only narrow what the agent may do"),
    ),
    (
        libc::SYS_memfd_secret,
        Entry::denied(
            "memfd_secret",
            Errno::EPERM,
            "memory hidden from the kernel's direct map and the sentry's reads",
        ),
    ),
    (
        libc::SYS_process_mrelease,
        Entry::native("process_mrelease", "only frees a dying process's memory; pid namespace bounds it"),
    ),
    (libc::SYS_futex_waitv, Entry::native("futex_waitv", "waits on the agent's own memory")),
    (
        libc::SYS_set_mempolicy_home_node,
        Entry::native("set_mempolicy_home_node", "NUMA policy of the agent's own memory"),
    ),
    (SYS_CACHESTAT, Entry::native("cachestat", "page-cache state of an fd the agent already holds")),
    (
        libc::SYS_fchmodat2,
        Entry::emulated("fchmodat2", fs::sys_fchmodat2, "path resolved and policy-checked (write) by the sentry"),
    ),
    (SYS_MAP_SHADOW_STACK, Entry::native("map_shadow_stack", "a shadow stack in the agent's own memory")),
    (SYS_FUTEX_WAKE, Entry::native("futex_wake", "wakes waiters on the agent's own memory")),
    (SYS_FUTEX_WAIT, Entry::native("futex_wait", "waits on the agent's own memory")),
    (SYS_FUTEX_REQUEUE, Entry::native("futex_requeue", "requeues waiters on the agent's own memory")),
    (
        SYS_STATMOUNT,
        Entry::denied("statmount", Errno::EPERM, "mount roots and sources reveal the host paths behind the grants"),
    ),
    (
        SYS_LISTMOUNT,
        Entry::denied("listmount", Errno::EPERM, "lists mount ids that statmount would turn into host paths"),
    ),
    (SYS_LSM_GET_SELF_ATTR, Entry::native("lsm_get_self_attr", "reads the task's own LSM labels")),
    (SYS_LSM_SET_SELF_ATTR, Entry::denied("lsm_set_self_attr", Errno::EPERM, "would change the task's own LSM labels")),
    (SYS_LSM_LIST_MODULES, Entry::native("lsm_list_modules", "lists the active LSMs; read-only")),
    (libc::SYS_mseal, Entry::native("mseal", "seals the agent's own mappings; can only narrow")),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::entry::{Entry, Support};
    use super::*;

    fn entry(name: &str) -> &'static Entry {
        let found = TABLE.iter().find(|(_, e)| e.name == name).map(|(_, e)| e);
        found.unwrap_or_else(|| panic!("{name} is missing from the table"))
    }

    /// Every path-bearing syscall x86_64 has (syscall_64.tbl, checked by hand).
    #[rustfmt::skip]
    const PATH_BEARING: &[&str] = &[
        "open", "stat", "lstat", "access", "execve", "truncate", "chdir", "rename", "mkdir", "rmdir", "creat", "link",
        "unlink", "symlink", "readlink", "chmod", "chown", "lchown", "utime", "mknod", "uselib", "statfs",
        "pivot_root", "chroot", "acct", "mount", "umount2", "swapon", "swapoff", "quotactl", "setxattr", "lsetxattr",
        "getxattr", "lgetxattr", "listxattr", "llistxattr", "removexattr", "lremovexattr", "utimes",
        "inotify_add_watch", "openat", "mkdirat", "mknodat", "fchownat", "futimesat", "newfstatat", "unlinkat",
        "renameat", "linkat", "symlinkat", "readlinkat", "fchmodat", "faccessat", "utimensat", "fanotify_mark",
        "name_to_handle_at", "renameat2", "bpf", "execveat", "statx", "open_tree", "move_mount", "fsconfig", "fspick",
        "openat2", "faccessat2", "mount_setattr", "fchmodat2",
    ];

    /// Denied outright, by the design (layer 2) and the decided dispositions.
    #[rustfmt::skip]
    const MUST_DENY: &[&str] = &[
        "io_uring_setup", "io_uring_enter", "io_uring_register", "open_by_handle_at", "name_to_handle_at", "bpf",
        "userfaultfd", "perf_event_open", "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load",
        "init_module", "finit_module", "delete_module", "create_module", "get_kernel_syms", "query_module",
        "nfsservctl", "getpmsg", "putpmsg", "afs_syscall", "tuxcall", "security", "vserver", "_sysctl", "uselib",
        "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
        "open_tree", "mount_setattr", "setns", "ptrace", "process_vm_writev", "reboot", "swapon", "swapoff", "acct",
        "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "syslog", "iopl", "ioperm", "clone3",
        "quotactl", "quotactl_fd", "fanotify_init", "fanotify_mark", "lookup_dcookie", "vhangup", "modify_ldt",
        "migrate_pages", "move_pages", "pidfd_getfd", "memfd_secret", "lsm_set_self_attr", "statmount", "listmount",
        "ustat",
    ];

    #[test]
    fn table_each_number_listed_once() {
        let mut seen = BTreeSet::new();
        for (nr, e) in TABLE {
            assert!(seen.insert(*nr), "number {nr} ({}) appears twice", e.name);
        }
    }

    #[test]
    fn table_each_name_nonempty_listed_once() {
        let mut seen = BTreeSet::new();
        for (_, e) in TABLE {
            assert!(!e.name.is_empty());
            assert!(seen.insert(e.name), "{} appears twice", e.name);
        }
    }

    #[test]
    fn table_numbers_below_512_never_x32() {
        for (nr, e) in TABLE {
            assert!(
                (0..512).contains(nr),
                "{} has number {nr}, outside 0..512",
                e.name
            );
        }
    }

    #[test]
    fn table_assigned_numbers_all_present_in_order() {
        let expected: Vec<c_long> = (0..=336).chain(424..=462).collect();
        let actual: Vec<c_long> = TABLE.iter().map(|(nr, _)| *nr).collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn table_notes_present_single_line() {
        for (_, e) in TABLE {
            assert!(!e.note.trim().is_empty(), "{} has no note", e.name);
            assert!(!e.note.contains('\n'), "{} has a multi-line note", e.name);
        }
    }

    #[test]
    fn table_must_deny_list_denied() {
        for name in MUST_DENY {
            assert!(
                matches!(entry(name).support, Support::Denied(_)),
                "{name} is {}",
                entry(name).disposition()
            );
        }
    }

    #[test]
    fn table_path_bearing_emulated_or_denied() {
        for name in PATH_BEARING {
            let e = entry(name);
            assert!(
                matches!(e.support, Support::Emulated(_) | Support::Denied(_)),
                "{name} carries a path but is {}",
                e.disposition()
            );
        }
    }

    #[test]
    fn table_clone3_denied_enosys() {
        assert!(matches!(
            entry("clone3").support,
            Support::Denied(Errno::ENOSYS)
        ));
    }

    #[test]
    fn table_guarded_rows_match_decided_guards() {
        for (name, guard) in [
            ("clone", CLONE_NS_GUARD),
            ("unshare", CLONE_NS_GUARD),
            ("ioctl", IOCTL_GUARD),
            ("personality", PERSONALITY_GUARD),
            ("socket", SOCKET_GUARD),
        ] {
            match entry(name).support {
                Support::Guarded(Errno::EPERM, when) => assert_eq!(when, guard, "{name}"),
                _ => panic!("{name} is {}", entry(name).disposition()),
            }
        }
        let guarded = TABLE
            .iter()
            .filter(|(_, e)| matches!(e.support, Support::Guarded(..)))
            .count();
        assert_eq!(guarded, 7);
        match entry("fchmod").support {
            Support::Guarded(Errno::EPERM, when) => assert_eq!(when, FCHMOD_SETID_GUARD),
            _ => panic!("fchmod must be guarded"),
        }
        match entry("seccomp").support {
            Support::Guarded(Errno::EBUSY, when) => assert_eq!(when, SECCOMP_LISTENER_GUARD),
            _ => panic!("seccomp must be guarded"),
        }
    }

    #[test]
    fn clone_guard_every_namespace_flag_covered() {
        for flag in [
            libc::CLONE_NEWNS,
            libc::CLONE_NEWUTS,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWCGROUP,
            libc::CLONE_NEWTIME,
        ] {
            let bit = u64::try_from(flag).expect("CLONE_NEW* flags are positive");
            assert_eq!(CLONE_NEW_FLAGS & bit, bit, "{flag:#x} missing");
        }
        assert_eq!(CLONE_NEW_FLAGS.count_ones(), 8);
    }

    #[test]
    fn clone_guard_thread_flags_not_refused() {
        let thread = u64::try_from(
            libc::CLONE_VM
                | libc::CLONE_FS
                | libc::CLONE_FILES
                | libc::CLONE_SIGHAND
                | libc::CLONE_THREAD
                | libc::CLONE_SYSVSEM
                | libc::CLONE_SETTLS
                | libc::CLONE_PARENT_SETTID
                | libc::CLONE_CHILD_CLEARTID
                | libc::SIGCHLD,
        )
        .expect("positive");
        assert_eq!(CLONE_NEW_FLAGS & thread, 0);
    }

    #[test]
    fn ioctl_guard_requests_match_libc() {
        assert_eq!(u64::from(IOCTL_TIOCSTI), libc::TIOCSTI);
        assert_eq!(u64::from(IOCTL_TIOCLINUX), libc::TIOCLINUX);
    }

    #[test]
    fn socket_guard_families_and_types_match_libc() {
        let families = SOCKET_GUARD.first().expect("the family conjunction");
        for f in [
            libc::AF_UNIX,
            libc::AF_INET,
            libc::AF_INET6,
            libc::AF_NETLINK,
        ] {
            let f = u32::try_from(f).expect("positive");
            assert!(
                families.contains(&Cond {
                    arg: 0,
                    cmp: Cmp::Ne32(f)
                }),
                "{f}"
            );
        }
        assert_eq!(families.len(), 4);
        // SOCK_PACKET (10) is the obsolete packet socket type libc deprecates by name.
        for fam in [libc::AF_INET, libc::AF_INET6] {
            for ty in [libc::SOCK_RAW, 10] {
                let fam = u32::try_from(fam).expect("positive");
                let ty = u32::try_from(ty).expect("positive");
                assert!(SOCKET_GUARD
                    .iter()
                    .any(|c| *c == [family_is(fam), type_is(ty)]));
            }
        }
        assert_eq!(libc::IPPROTO_SCTP, 132);
        let flags = u32::try_from(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC).expect("positive");
        assert_eq!(SOCK_TYPE_BITS & flags, 0);
        assert_eq!(libc::NETLINK_ROUTE, 0);
    }

    #[test]
    fn personality_guard_allows_only_linux_and_query() {
        let conj = PERSONALITY_GUARD.first().expect("one conjunction");
        assert_eq!(PERSONALITY_GUARD.len(), 1);
        assert!(conj.contains(&Cond {
            arg: 0,
            cmp: Cmp::Ne32(0)
        }));
        assert!(conj.contains(&Cond {
            arg: 0,
            cmp: Cmp::Ne32(0xffff_ffff)
        }));
    }

    #[test]
    fn table_emulated_rows_path_or_address_bearing_only() {
        // Socket calls that carry a destination address are emulated too (a unix path reaches host processes).
        const ADDRESS_BEARING: &[&str] = &["connect", "sendto", "sendmsg", "sendmmsg", "bind"];
        for (_, e) in TABLE {
            if matches!(e.support, Support::Emulated(_)) {
                assert!(
                    PATH_BEARING.contains(&e.name) || ADDRESS_BEARING.contains(&e.name),
                    "{} is emulated but neither path- nor address-bearing",
                    e.name
                );
            }
        }
        for name in ADDRESS_BEARING {
            assert!(
                matches!(entry(name).support, Support::Emulated(_)),
                "{name} must be emulated"
            );
        }
    }
}
