//! The sandbox's network mechanism (the policy is `policy::net_rules`): socket addresses as copied from a task,
//! host-side sockets made by the sentry in place of the agent's, and the resolver (`dns`).
//!
//! In `sandbox` mode the agent's sockets live in the sandbox's own network namespace, which has only loopback. An
//! allowed outside destination is reached by a socket the sentry makes in its own (the host's) namespace, connected
//! from the sentry's copy of the address and installed in the agent at the same fd number. The sentry remembers which
//! sockets it made (by inode): on those, every later destination is decided again and performed by the sentry, since
//! the namespace no longer bounds them.

#![forbid(unsafe_code)]

pub mod dns;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;
use std::time::Duration;

use nix::errno::Errno;

use crate::policy::net_rules::Proto;
use crate::sys;

/// Parses an AF_INET / AF_INET6 socket address as copied from a task: (ip, port). EINVAL for a short one, as the
/// kernel answers.
pub fn parse_inet(addr: &[u8]) -> Result<(IpAddr, u16), Errno> {
    let family = family(addr).ok_or(Errno::EINVAL)?;
    let port = |a: &[u8]| u16::from_be_bytes([a[2], a[3]]);
    if family == libc::AF_INET {
        if addr.len() < 16 {
            return Err(Errno::EINVAL);
        }
        let ip = Ipv4Addr::new(addr[4], addr[5], addr[6], addr[7]);
        Ok((IpAddr::V4(ip), port(addr)))
    } else if family == libc::AF_INET6 {
        // SIN6_LEN_RFC2133: the kernel accepts 24 bytes (no scope id).
        if addr.len() < 24 {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; 16];
        b.copy_from_slice(&addr[8..24]);
        Ok((IpAddr::V6(Ipv6Addr::from(b)), port(addr)))
    } else {
        Err(Errno::EAFNOSUPPORT)
    }
}

/// The address family of a copied socket address.
pub fn family(addr: &[u8]) -> Option<i32> {
    (addr.len() >= 2).then(|| i32::from(u16::from_ne_bytes([addr[0], addr[1]])))
}

/// A socket address for `ip:port` in the socket's own family (IPv4 on an AF_INET6 socket is IPv4-mapped).
pub fn sockaddr_for(domain: i32, ip: IpAddr, port: u16) -> Result<Vec<u8>, Errno> {
    let fam = |f: i32| {
        u16::try_from(f)
            .map(u16::to_ne_bytes)
            .map_err(|_| Errno::EINVAL)
    };
    match (domain, ip) {
        (libc::AF_INET, IpAddr::V4(v4)) => {
            let mut a = vec![0u8; 16];
            a[0..2].copy_from_slice(&fam(libc::AF_INET)?);
            a[2..4].copy_from_slice(&port.to_be_bytes());
            a[4..8].copy_from_slice(&v4.octets());
            Ok(a)
        }
        (libc::AF_INET6, ip) => {
            let v6 = match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            let mut a = vec![0u8; 28];
            a[0..2].copy_from_slice(&fam(libc::AF_INET6)?);
            a[2..4].copy_from_slice(&port.to_be_bytes());
            a[8..24].copy_from_slice(&v6.octets());
            Ok(a)
        }
        // An IPv6 destination for an IPv4 socket: as natively.
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// What the sentry needs to know about one of the agent's sockets.
#[derive(Clone, Copy, Debug)]
pub struct SockInfo {
    pub domain: i32,
    /// SOCK_STREAM, SOCK_DGRAM, ... (no flags).
    pub ty: i32,
    pub protocol: i32,
    /// Made by the sentry in the host's namespace (or the sandbox runs in the host's namespace).
    pub host_side: bool,
}

impl SockInfo {
    pub fn of(sock: BorrowedFd<'_>, host_mode: bool) -> Result<Self, Errno> {
        let get = |n| sys::getsockopt_int(sock, libc::SOL_SOCKET, n);
        Ok(Self {
            domain: get(libc::SO_DOMAIN)?,
            ty: get(libc::SO_TYPE)?,
            protocol: get(libc::SO_PROTOCOL)?,
            host_side: host_mode || is_host_socket(sock),
        })
    }

    pub fn proto(&self) -> Proto {
        match (self.ty, self.protocol) {
            (libc::SOCK_STREAM, 0 | libc::IPPROTO_TCP) => Proto::Tcp,
            (libc::SOCK_DGRAM, 0 | libc::IPPROTO_UDP) => Proto::Udp,
            _ => Proto::Other,
        }
    }
}

/// Inodes of the sockets the sentry made in the host's namespace and installed in the agent. A socket inode is
/// unique while the socket lives; a stale entry can only make a later socket count as host-side, which refuses more
/// (its loopback destinations), never less.
static HOST_SOCKETS: Mutex<Option<HashSet<u64>>> = Mutex::new(None);

fn ino(sock: BorrowedFd<'_>) -> Option<u64> {
    nix::sys::stat::fstat(sock.as_raw_fd())
        .ok()
        .map(|s| s.st_ino)
}

pub fn is_host_socket(sock: BorrowedFd<'_>) -> bool {
    let Some(i) = ino(sock) else { return true };
    HOST_SOCKETS
        .lock()
        .map(|g| g.as_ref().is_some_and(|s| s.contains(&i)))
        // A poisoned lock: count it as host-side (refuses more).
        .unwrap_or(true)
}

fn remember_host_socket(sock: BorrowedFd<'_>) {
    if let (Some(i), Ok(mut g)) = (ino(sock), HOST_SOCKETS.lock()) {
        g.get_or_insert_with(HashSet::new).insert(i);
    }
}

/// The agent's fd flags (O_CLOEXEC, O_NONBLOCK) from /proc/<tid>/fdinfo/<fd>.
pub fn fd_flags(tid: i32, fd: i32) -> Result<(bool, bool), Errno> {
    let s =
        std::fs::read_to_string(format!("/proc/{tid}/fdinfo/{fd}")).map_err(|_| Errno::EBADF)?;
    let flags = s
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|v| i32::from_str_radix(v.trim(), 8).ok())
        .ok_or(Errno::EIO)?;
    Ok((flags & libc::O_CLOEXEC != 0, flags & libc::O_NONBLOCK != 0))
}

/// Socket options a program commonly sets before connecting, carried over to the host-side socket.
const CARRIED: &[(i32, i32)] = &[
    (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
    (libc::SOL_SOCKET, libc::SO_REUSEADDR),
    (libc::SOL_SOCKET, libc::SO_BROADCAST),
    (libc::IPPROTO_TCP, libc::TCP_NODELAY),
    (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY),
];

/// A socket of the same domain, type and protocol as `like`, in the sentry's (the host's) namespace, non-blocking
/// for now, with the options above copied.
pub fn host_socket_like(like: BorrowedFd<'_>, info: &SockInfo) -> Result<OwnedFd, Errno> {
    let s = sys::socket_raw(
        info.domain,
        info.ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        info.protocol,
    )?;
    for &(level, name) in CARRIED {
        if let Ok(v) = sys::getsockopt_int(like, level, name) {
            if v != 0 {
                let _ = sys::setsockopt_int(s.as_fd(), level, name, v);
            }
        }
    }
    Ok(s)
}

/// Sets or clears O_NONBLOCK.
pub fn set_nonblocking(sock: BorrowedFd<'_>, on: bool) -> Result<(), Errno> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let fl = OFlag::from_bits_retain(fcntl(sock.as_raw_fd(), FcntlArg::F_GETFL)?);
    let fl = if on {
        fl | OFlag::O_NONBLOCK
    } else {
        fl - OFlag::O_NONBLOCK
    };
    fcntl(sock.as_raw_fd(), FcntlArg::F_SETFL(fl)).map(drop)
}

/// Connects a non-blocking socket and waits for the result, checking between waits that the task still waits
/// (`alive`): a task killed meanwhile does not hold a worker for a SYN timeout.
pub fn connect_and_wait(
    sock: BorrowedFd<'_>,
    addr: &[u8],
    alive: impl Fn() -> bool,
) -> Result<(), Errno> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    match sys::connect_raw(sock, addr) {
        Ok(()) => return Ok(()),
        Err(Errno::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    loop {
        let mut fds = [PollFd::new(sock, PollFlags::POLLOUT)];
        let ms = u16::try_from(Duration::from_millis(200).as_millis()).unwrap_or(200);
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(Errno::EINTR) => {
                if !alive() {
                    return Err(Errno::ESRCH);
                }
            }
            Ok(_) => break,
            Err(e) => return Err(e),
        }
    }
    match sys::getsockopt_int(sock, libc::SOL_SOCKET, libc::SO_ERROR)? {
        0 => Ok(()),
        e => Err(Errno::from_raw(e)),
    }
}

/// Unix socket files (device, inode) this sandbox bound: its own listeners, reachable without a `unix:` rule.
static OWN_SOCKETS: Mutex<Option<HashSet<(u64, u64)>>> = Mutex::new(None);

pub fn remember_own_socket(st: &libc::stat) {
    if let Ok(mut g) = OWN_SOCKETS.lock() {
        g.get_or_insert_with(HashSet::new)
            .insert((st.st_dev, st.st_ino));
    }
}

/// Was this socket file bound by the sandbox? (A stale entry names an inode on a writable mount that only the sandbox
/// or the host could have reused; the host reusing it for a daemon's socket while the sandbox runs is the residual.)
pub fn is_own_socket(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFSOCK
        && OWN_SOCKETS.lock().is_ok_and(|g| {
            g.as_ref()
                .is_some_and(|s| s.contains(&(st.st_dev, st.st_ino)))
        })
}

thread_local! {
    /// This worker has its own cwd (unshare(CLONE_FS)), so it may fchdir without moving the others'.
    static OWN_FS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Binds `sock` to `addr` (a relative unix name) from inside `dir`: the calling thread leaves the process's shared
/// cwd once (unshare(CLONE_FS)), changes into `dir` for the bind, and returns to where it was.
pub fn bind_in_dir(sock: BorrowedFd<'_>, dir: BorrowedFd<'_>, addr: &[u8]) -> Result<(), Errno> {
    if !OWN_FS.with(std::cell::Cell::get) {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)?;
        OWN_FS.with(|c| c.set(true));
    }
    let here = nix::fcntl::open(
        ".",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .and_then(sys::own_fd)?;
    nix::unistd::fchdir(dir.as_raw_fd())?;
    let r = sys::bind_raw(sock, addr);
    nix::unistd::fchdir(here.as_raw_fd())?;
    r
}

/// Marks a socket as the sentry's host-side socket (before it is installed in the agent).
pub fn adopt(sock: &OwnedFd) {
    remember_host_socket(sock.as_fd());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_roundtrip_v4_and_mapped() {
        let a = sockaddr_for(libc::AF_INET, "198.51.100.7".parse().expect("ip"), 8080).expect("v4");
        assert_eq!(
            parse_inet(&a).expect("parses"),
            ("198.51.100.7".parse().expect("ip"), 8080)
        );
        let m = sockaddr_for(libc::AF_INET6, "127.0.0.1".parse().expect("ip"), 80).expect("v6");
        let (ip, port) = parse_inet(&m).expect("parses");
        assert_eq!(ip, "::ffff:127.0.0.1".parse::<IpAddr>().expect("ip"));
        assert_eq!(port, 80);
        assert_eq!(
            sockaddr_for(libc::AF_INET, "::1".parse().expect("ip"), 1),
            Err(Errno::EAFNOSUPPORT)
        );
    }

    #[test]
    fn parse_inet_short_is_einval() {
        assert_eq!(parse_inet(&[2, 0, 0]), Err(Errno::EINVAL));
    }
}
