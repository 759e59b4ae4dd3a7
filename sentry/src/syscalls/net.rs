//! The socket calls that carry a destination: connect, sendto, sendmsg, sendmmsg, bind.
//!
//! Each call copies its address once and decides on that copy (`Policy::check_net` for inet destinations, the file
//! grants for unix paths), then performs the call itself from the copy:
//! - a destination on the sandbox's own loopback, on a socket of the sandbox's namespace: on a duplicate of the
//!   task's socket (the namespace has no other route: layer 1 bounds it);
//! - an allowed outside destination, on a socket of the sandbox's namespace: on a socket the sentry makes in the
//!   host's namespace, installed at the task's fd number (`net::host_socket_like`);
//! - any destination on a host-side socket (one the sentry installed, or any socket in `--net host`): decided again
//!   and performed by the sentry on a duplicate, never continued (the namespace no longer bounds it).
//!
//! CONTINUE remains only where no address can be re-read: sendto without an address (the pointer is a register
//! value), and sendmsg/sendmmsg on a socket of the sandbox's namespace (layer 1 bounds whatever it names).
//!
//! Denials: connect gets ECONNREFUSED (what a program sees when nothing listens, so it moves on to its next address),
//! sends and binds get EACCES (what the kernel answers for a destination a firewall or a missing capability refuses).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;

use super::{Reply, SysResult, SyscallArgs};
use crate::kernel::task::Task;
use crate::net::SockInfo;
use crate::policy::net_rules::{Dest, Mode, Route};
use crate::policy::Access;
use crate::sys;
use crate::vfs::{Kind, Node};

/// sizeof(struct sockaddr_storage).
const SOCKADDR_MAX: usize = 128;
/// The most the sentry copies for one send it performs: a stream send may be short, a datagram this large fails.
const SEND_MAX: usize = 256 * 1024;

/// A socket address as the sentry will use it: the task's copy, or for a unix path, `/proc/self/fd/N` of an O_PATH fd
/// on the very socket file the policy judged (opened in the task's view), which `_hold` keeps open. The sentry's own
/// mount namespace is the host's: the task's path bytes would resolve there (another /tmp, host symlinks), never in
/// the view.
struct Checked {
    addr: Vec<u8>,
    _hold: Option<OwnedFd>,
}

/// `sockaddr_un` for `path`.
fn sockaddr_un(path: &[u8]) -> Result<Vec<u8>, Errno> {
    // sun_path is 108 bytes, NUL included.
    if path.len() >= 108 {
        return Err(Errno::ENAMETOOLONG);
    }
    let fam = u16::try_from(libc::AF_UNIX).map_err(|_| Errno::EINVAL)?;
    let mut a = fam.to_ne_bytes().to_vec();
    a.extend_from_slice(path);
    a.push(0);
    Ok(a)
}

/// Copies a socket address; a unix path must be a socket the policy lets the task connect to.
fn checked_addr(t: &mut Task<'_>, ptr: u64, len: u32) -> Result<Checked, Errno> {
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    if len > SOCKADDR_MAX {
        return Err(Errno::EINVAL);
    }
    let addr = t.read_bytes(ptr, len)?;
    if len > 2
        && addr[2] == 0
        && crate::net::family(&addr) == Some(libc::AF_UNIX)
        && t.k.policy.net.mode == Mode::Host
    {
        // The abstract namespace belongs to the network namespace: in host mode it would be the host's (X11, D-Bus,
        // containerd shims listen there).
        return Err(t.k.policy.refuse_net(
            &t.subject,
            format!("unix @{}", String::from_utf8_lossy(&addr[3..])),
            "abstract unix sockets stay inside the sandbox (refused in --net host)",
            Errno::EACCES,
        ));
    }
    if len >= 2 {
        let family = u16::from_ne_bytes([addr[0], addr[1]]);
        if i32::from(family) == libc::AF_UNIX && len > 2 && addr[2] != 0 {
            let end = addr[2..]
                .iter()
                .position(|&b| b == 0)
                .map_or(addr.len(), |i| i + 2);
            let raw = addr[2..end].to_vec();
            t.args.path = Some(String::from_utf8_lossy(&raw).into_owned());
            // What is not there, or is not a socket, fails as it would natively; a socket meets the policy.
            let node = t.resolve(crate::vfs::Start::Cwd, &raw, true)?;
            match &node.kind {
                Kind::Missing => {
                    t.check(Access::Lookup, &node)?;
                    return Err(Errno::ENOENT);
                }
                Kind::Exists(st) if st.st_mode & libc::S_IFMT != libc::S_IFSOCK => {
                    t.check(Access::Lookup, &node)?;
                    return Err(Errno::ECONNREFUSED);
                }
                _ => {
                    let path = node.path.clone();
                    let own =
                        t.k.vfs
                            .open_view(&path, libc::O_PATH, 0)
                            .and_then(|f| nix::sys::stat::fstat(f.as_raw_fd()))
                            .is_ok_and(|st| crate::net::is_own_socket(&st));
                    if !own {
                        t.check(
                            Access::Connect,
                            &Node {
                                policy_path: path.clone(),
                                path: path.clone(),
                                kind: Kind::Missing,
                            },
                        )?;
                    }
                    // The socket file itself, in the view, no symlink followed: a racing rename cannot redirect the
                    // connect anywhere the check did not see.
                    let f = t.k.vfs.open_view(&path, libc::O_PATH, 0)?;
                    let st = nix::sys::stat::fstat(f.as_raw_fd())?;
                    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
                        return Err(Errno::ECONNREFUSED);
                    }
                    if crate::net::is_own_socket(&st) {
                        // Bound by this sandbox (its own listener): no host daemon is behind it.
                        t.k.policy.allow_own_socket(&t.subject, &path);
                    }
                    let via = sockaddr_un(format!("/proc/self/fd/{}", f.as_raw_fd()).as_bytes())?;
                    return Ok(Checked {
                        addr: via,
                        _hold: Some(f),
                    });
                }
            }
        }
    }
    Ok(Checked { addr, _hold: None })
}

fn is_blocking(fd: &OwnedFd) -> bool {
    nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)
        .is_ok_and(|f| f & libc::O_NONBLOCK == 0)
}

/// Where an inet operation goes once decided.
enum Target {
    /// The task's own socket (a duplicate), at this address.
    Dup(Vec<u8>),
    /// A new socket in the host's namespace, at this address (the task's socket is in the sandbox's namespace).
    Host(Vec<u8>),
}

/// Decides an inet destination for a socket and says where it goes. `errno` is the denial's.
fn route(t: &mut Task<'_>, info: &SockInfo, addr: &[u8], errno: Errno) -> Result<Target, Errno> {
    let (ip, port) = crate::net::parse_inet(addr)?;
    let dest = Dest {
        ip,
        port,
        proto: info.proto(),
        names: vec![],
    };
    let (route, dest) = t.k.policy.check_net(&t.subject, dest, errno);
    let mut rec = crate::audit::NetArgs {
        proto: dest.proto.as_str(),
        addr: dest.ip.to_string(),
        port,
        name: dest.names.first().cloned(),
        via: None,
    };
    let route = match route {
        Ok(r) => r,
        Err(e) => {
            t.args.net = Some(rec);
            return Err(e);
        }
    };
    let target = match route {
        Route::SandboxLoopback if info.host_side && t.k.policy.net.mode != Mode::Host => {
            t.args.net = Some(rec);
            // A socket the sentry made in the host's namespace cannot reach the sandbox's loopback, and must not
            // reach the host's.
            return Err(t.k.policy.refuse_net(
                &t.subject,
                dest.to_string(),
                "loopback from a socket already connected outside the sandbox",
                errno,
            ));
        }
        Route::SandboxLoopback => Target::Dup(addr.to_vec()),
        Route::Host(ip2, port2) => {
            if (ip2, port2) != (dest.ip, port) {
                rec.via = Some(format!("{ip2}:{port2}"));
            }
            let a = crate::net::sockaddr_for(info.domain, ip2, port2)?;
            if info.host_side {
                Target::Dup(a)
            } else {
                Target::Host(a)
            }
        }
    };
    t.args.net = Some(rec);
    Ok(target)
}

/// Makes the host-side socket for the task's socket `fd` and installs it there.
fn replace_with_host_socket(
    t: &Task<'_>,
    fd: i32,
    sock: &OwnedFd,
    info: &SockInfo,
    connect_to: Option<&[u8]>,
) -> Result<(OwnedFd, Option<Errno>), Errno> {
    let (cloexec, nonblock) = crate::net::fd_flags(t.tid, fd)?;
    let host = crate::net::host_socket_like(sock.as_fd(), info)?;
    let mut pending = None;
    if let Some(a) = connect_to {
        if nonblock {
            match sys::connect_raw(host.as_fd(), a) {
                Ok(()) => {}
                // The task polls the installed socket and reads SO_ERROR from it, as natively.
                Err(Errno::EINPROGRESS) => pending = Some(Errno::EINPROGRESS),
                Err(e) => return Err(e),
            }
        } else {
            crate::kernel::pool::handoff(t.k);
            crate::net::connect_and_wait(host.as_fd(), a, || t.k.platform.still_valid(&t.trap))?;
        }
    }
    if !nonblock {
        crate::net::set_nonblocking(host.as_fd(), false)?;
    }
    t.still_valid()?;
    crate::net::adopt(&host);
    t.k.platform
        .install_at(&t.trap, host.as_fd(), fd, cloexec)?;
    Ok((host, pending))
}

/// connect(2).
pub fn sys_connect(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let fd = a.i32(0);
    let checked = checked_addr(t, a.ptr(1), a.u32(2))?;
    let addr = checked.addr.clone();
    let sock = t.dup_fd(fd).map_err(|_| Errno::EBADF)?;
    let addr = match crate::net::family(&addr) {
        Some(libc::AF_INET | libc::AF_INET6) => {
            let info = SockInfo::of(sock.as_fd(), t.k.policy.net.mode == Mode::Host)?;
            if info.domain != libc::AF_INET && info.domain != libc::AF_INET6 {
                return Err(Errno::EAFNOSUPPORT);
            }
            match route(t, &info, &addr, Errno::ECONNREFUSED)? {
                Target::Dup(a) => a,
                Target::Host(a) => {
                    let (_host, pending) = replace_with_host_socket(t, fd, &sock, &info, Some(&a))?;
                    return match pending {
                        Some(e) => Err(e),
                        None => Ok(Reply::Val(0)),
                    };
                }
            }
        }
        // A unix path was checked against the grants; an abstract name stays in the sandbox's namespace (refused
        // in host mode above); AF_UNSPEC dissolves an association.
        _ => addr,
    };
    if is_blocking(&sock) {
        // A blocking connect may wait: let another worker lead meanwhile.
        crate::kernel::pool::handoff(t.k);
    }
    sys::connect_raw(sock.as_fd(), &addr)?;
    Ok(Reply::Val(0))
}

/// sendto(2).
pub fn sys_sendto(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    if a.ptr(4) == 0 {
        // No destination: the address pointer is a register value the kernel does not re-read.
        return Ok(Reply::Continue);
    }
    let fd = a.i32(0);
    let flags = a.i32(3);
    let checked = checked_addr(t, a.ptr(4), a.u32(5))?;
    let addr = checked.addr.clone();
    let len = usize::try_from(a.u64(2))
        .map_err(|_| Errno::EINVAL)?
        .min(SEND_MAX);
    let data = if len == 0 {
        Vec::new()
    } else {
        t.read_bytes(a.ptr(1), len)?
    };
    let mut sock = t.dup_fd(fd).map_err(|_| Errno::EBADF)?;
    let mut addr = addr;
    if matches!(
        crate::net::family(&addr),
        Some(libc::AF_INET | libc::AF_INET6)
    ) {
        let info = SockInfo::of(sock.as_fd(), t.k.policy.net.mode == Mode::Host)?;
        if info.ty == libc::SOCK_STREAM {
            if flags & libc::MSG_FASTOPEN != 0 {
                // TCP fast open connects to the address: not mediated (connect(2) is).
                return Err(Errno::EOPNOTSUPP);
            }
            // On a stream socket the kernel ignores the address.
        } else {
            match route(t, &info, &addr, Errno::EACCES)? {
                Target::Dup(a) => addr = a,
                Target::Host(a) => {
                    let (host, _) = replace_with_host_socket(t, fd, &sock, &info, None)?;
                    sock = host;
                    addr = a;
                }
            }
        }
    }
    if is_blocking(&sock) && flags & libc::MSG_DONTWAIT == 0 {
        crate::kernel::pool::handoff(t.k);
    }
    let n = sys::sendto_raw(sock.as_fd(), &data, flags | libc::MSG_NOSIGNAL, &addr)?;
    Ok(Reply::Val(i64::try_from(n).map_err(|_| Errno::EOVERFLOW)?))
}

fn socket_family(sock: &OwnedFd) -> Result<i32, Errno> {
    sys::getsockopt_int(sock.as_fd(), libc::SOL_SOCKET, libc::SO_DOMAIN)
}

fn word(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i * 8..i * 8 + 8]);
    u64::from_ne_bytes(w)
}

/// Is a sendmsg/sendmmsg on this socket left to the kernel? Only on a socket of the sandbox's own namespace (every
/// name it could carry is bounded by the namespace: layer 1), never on a unix socket (a path reaches the host) nor on
/// a host-side one.
fn continues(t: &Task<'_>, sock: &OwnedFd) -> Result<Option<SockInfo>, Errno> {
    if socket_family(sock)? == libc::AF_UNIX {
        return Ok(None);
    }
    let info = SockInfo::of(sock.as_fd(), t.k.policy.net.mode == Mode::Host)?;
    Ok((!info.host_side).then_some(info))
}

/// The msg_name of the `struct msghdr` at `msg` (a peek: only to choose a path; the sentry decides on its own later
/// copy if it serves the call).
fn peek_name(t: &Task<'_>, msg: u64) -> Result<Option<Vec<u8>>, Errno> {
    let hdr = t.read_bytes(msg, 16)?;
    let (name, len) = (word(&hdr, 0), word(&hdr, 1) & 0xffff_ffff);
    if name == 0 || len == 0 {
        return Ok(None);
    }
    let len = usize::try_from(len)
        .map_err(|_| Errno::EINVAL)?
        .min(SOCKADDR_MAX);
    t.read_bytes(name, len).map(Some)
}

/// sendmsg(2). On a unix socket, or a host-side inet socket, the whole message is copied (address, data up to
/// 256 KiB, SCM_RIGHTS fds translated into the sentry's own duplicates) and sent by the sentry; other control messages
/// are refused (EPERM): the sentry cannot speak for the task's identity. On a socket of the sandbox's namespace it
/// continues, unless it names an outside destination: then the sentry decides and sends it like sendto.
pub fn sys_sendmsg(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let fd = a.i32(0);
    let mut sock = t.dup_fd(fd).map_err(|_| Errno::EBADF)?;
    if let Some(info) = continues(t, &sock)? {
        match outside_name(t, &info, &[a.ptr(1)])? {
            // Layer 1: the sandbox's namespace has only loopback, whatever a racing thread writes into msg_name.
            None => return Ok(Reply::Continue),
            Some(dest) => sock = host_side_for(t, fd, &sock, &info, dest)?,
        }
    }
    let n = send_one(t, &sock, a.ptr(1), a.i32(2))?;
    Ok(Reply::Val(i64::try_from(n).map_err(|_| Errno::EOVERFLOW)?))
}

/// The first outside datagram destination named by the msghdrs at `msgs` (a peek: it only chooses the path; the
/// sentry decides each message again on its own copy in `send_one`). None: the kernel may be left to it.
fn outside_name(t: &Task<'_>, info: &SockInfo, msgs: &[u64]) -> Result<Option<Dest>, Errno> {
    if info.ty == libc::SOCK_STREAM {
        return Ok(None);
    }
    for &m in msgs {
        if let Some(n) = peek_name(t, m)? {
            if let Ok((ip, port)) = crate::net::parse_inet(&n) {
                let canon = crate::policy::net_rules::canonical(ip);
                if !(canon.is_loopback() || canon.is_unspecified()) {
                    return Ok(Some(Dest {
                        ip,
                        port,
                        proto: info.proto(),
                        names: vec![],
                    }));
                }
            }
        }
    }
    Ok(None)
}

/// Decides `dest` and, when allowed, replaces the task's socket with a host-side one to send it from.
fn host_side_for(
    t: &mut Task<'_>,
    fd: i32,
    sock: &OwnedFd,
    info: &SockInfo,
    dest: Dest,
) -> Result<OwnedFd, Errno> {
    t.k.policy.check_net(&t.subject, dest, Errno::EACCES).0?;
    Ok(replace_with_host_socket(t, fd, sock, info, None)?.0)
}

/// One `struct msghdr` at `msg`, copied, checked and sent by the sentry (a unix or a host-side inet socket).
fn send_one(t: &mut Task<'_>, sock: &OwnedFd, msg: u64, flags: i32) -> Result<usize, Errno> {
    let hdr = t.read_bytes(msg, 56)?;
    let (name, namelen) = (
        word(&hdr, 0),
        u32::try_from(word(&hdr, 1) & 0xffff_ffff).map_err(|_| Errno::EINVAL)?,
    );
    let (iov, iovlen) = (
        word(&hdr, 2),
        usize::try_from(word(&hdr, 3)).map_err(|_| Errno::EMSGSIZE)?,
    );
    let (control, controllen) = (
        word(&hdr, 4),
        usize::try_from(word(&hdr, 5)).map_err(|_| Errno::EINVAL)?,
    );
    // Kept until the send is done: a unix path is sent to through the fd it holds.
    let checked = if name != 0 && namelen > 0 {
        Some(checked_addr(t, name, namelen)?)
    } else {
        None
    };
    let addr = if let Some(c) = &checked {
        let a = c.addr.clone();
        match crate::net::family(&a) {
            Some(libc::AF_INET | libc::AF_INET6) => {
                let info = SockInfo::of(sock.as_fd(), t.k.policy.net.mode == Mode::Host)?;
                if info.ty == libc::SOCK_STREAM {
                    if flags & libc::MSG_FASTOPEN != 0 {
                        // TCP fast open connects to the address: not mediated (connect(2) is).
                        return Err(Errno::EOPNOTSUPP);
                    }
                    // Otherwise the kernel ignores the address of a stream socket.
                    Some(a)
                } else {
                    match route(t, &info, &a, Errno::EACCES)? {
                        Target::Dup(a) => Some(a),
                        // Only host-side sockets get here.
                        Target::Host(_) => return Err(Errno::EACCES),
                    }
                }
            }
            _ => Some(a),
        }
    } else {
        None
    };
    if iovlen > 1024 {
        return Err(Errno::EMSGSIZE);
    }
    let iovs = if iovlen == 0 {
        Vec::new()
    } else {
        t.read_bytes(iov, iovlen * 16)?
    };
    let mut data = Vec::new();
    for i in 0..iovlen {
        let base = word(&iovs, i * 2);
        let len = usize::try_from(word(&iovs, i * 2 + 1)).map_err(|_| Errno::EINVAL)?;
        let take = len.min(SEND_MAX - data.len());
        if take > 0 {
            data.extend_from_slice(&t.read_bytes(base, take)?);
        }
        if data.len() >= SEND_MAX {
            break;
        }
    }
    let mut fds: Vec<OwnedFd> = Vec::new();
    if control != 0 && controllen > 0 {
        if controllen > 4096 {
            return Err(Errno::ENOBUFS);
        }
        let c = t.read_bytes(control, controllen)?;
        let mut off = 0;
        while off + 16 <= c.len() {
            let len = usize::try_from(u64::from_ne_bytes(
                c[off..off + 8].try_into().map_err(|_| Errno::EINVAL)?,
            ))
            .map_err(|_| Errno::EINVAL)?;
            let level =
                i32::from_ne_bytes(c[off + 8..off + 12].try_into().map_err(|_| Errno::EINVAL)?);
            let kind = i32::from_ne_bytes(
                c[off + 12..off + 16]
                    .try_into()
                    .map_err(|_| Errno::EINVAL)?,
            );
            if len < 16 || off + len > c.len() {
                return Err(Errno::EINVAL);
            }
            if level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS {
                return Err(Errno::EPERM);
            }
            for chunk in c[off + 16..off + len].chunks_exact(4) {
                let n = i32::from_ne_bytes(chunk.try_into().map_err(|_| Errno::EINVAL)?);
                fds.push(t.dup_fd(n).map_err(|_| Errno::EBADF)?);
            }
            off += (len + 7) & !7;
        }
    }
    if is_blocking(sock) && flags & libc::MSG_DONTWAIT == 0 {
        crate::kernel::pool::handoff(t.k);
    }
    sys::sendmsg_raw(
        sock.as_fd(),
        &data,
        addr.as_deref(),
        &fds,
        flags | libc::MSG_NOSIGNAL,
    )
}

/// sendmmsg(2): continued on sockets of the sandbox's namespace unless a message names an outside destination (then,
/// as for sendmsg, the socket is replaced with a host-side one); on a unix or host-side socket each message is sent
/// like sendmsg, and its length written back into its `msg_len`.
pub fn sys_sendmmsg(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let fd = a.i32(0);
    let mut sock = t.dup_fd(fd).map_err(|_| Errno::EBADF)?;
    // struct mmsghdr: a 56-byte msghdr, then an unsigned int msg_len, padded to 64 bytes. UIO_MAXIOV messages at most.
    let count = a.u32(2).min(1024);
    if let Some(info) = continues(t, &sock)? {
        let msgs: Vec<u64> = (0..u64::from(count))
            .filter_map(|i| a.ptr(1).checked_add(i * 64))
            .collect();
        match outside_name(t, &info, &msgs)? {
            None => return Ok(Reply::Continue),
            Some(dest) => sock = host_side_for(t, fd, &sock, &info, dest)?,
        }
    }
    let mut sent = 0u32;
    for i in 0..u64::from(count) {
        let at = a.ptr(1).checked_add(i * 64).ok_or(Errno::EFAULT)?;
        match send_one(t, &sock, at, a.i32(3)) {
            Ok(n) => {
                let len = u32::try_from(n).map_err(|_| Errno::EOVERFLOW)?;
                t.write_out(at + 56, &len.to_ne_bytes())?;
                sent += 1;
            }
            // Like the kernel: an error after some messages went out ends the batch with their count.
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(Reply::Val(i64::from(sent)))
}

/// The lowest port only a privileged process may bind.
const PRIVILEGED_PORTS: std::ops::RangeInclusive<u16> = 1..=1023;

/// bind(2). Inet: a privileged port is refused (EACCES, audited) and anything else is bound by the sentry from its
/// copy. Unix: an abstract name in host mode is refused (the host's abstract namespace); a path is created by the
/// sentry where the policy lets the task create files (`bind_unix_path`).
pub fn sys_bind(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let len = usize::try_from(a.u32(2)).map_err(|_| Errno::EINVAL)?;
    if len > SOCKADDR_MAX {
        return Err(Errno::EINVAL);
    }
    let addr = t.read_bytes(a.ptr(1), len)?;
    match crate::net::family(&addr) {
        Some(libc::AF_INET | libc::AF_INET6) => {
            let (ip, port) = crate::net::parse_inet(&addr)?;
            t.args.net = Some(crate::audit::NetArgs {
                proto: "bind",
                addr: ip.to_string(),
                port,
                name: None,
                via: None,
            });
            if PRIVILEGED_PORTS.contains(&port) {
                return Err(t.k.policy.refuse_net(
                    &t.subject,
                    format!("bind {ip}:{port}"),
                    "binding a privileged port (below 1024) is refused",
                    Errno::EACCES,
                ));
            }
            let sock = t.dup_fd(a.i32(0)).map_err(|_| Errno::EBADF)?;
            if t.k.policy.net.mode != Mode::Host && crate::net::is_host_socket(sock.as_fd()) {
                // A socket the sentry made in the host's namespace (its connect failed, so it is unbound): binding
                // it would open a port on the host's network.
                return Err(t.k.policy.refuse_net(
                    &t.subject,
                    format!("bind {ip}:{port}"),
                    "binding a socket of the host's namespace is refused",
                    Errno::EACCES,
                ));
            }
            sys::bind_raw(sock.as_fd(), &addr)?;
            Ok(Reply::Val(0))
        }
        Some(libc::AF_UNIX) if len > 2 && addr[2] == 0 && t.k.policy.net.mode == Mode::Host => {
            Err(t.k.policy.refuse_net(
                &t.subject,
                format!("unix @{}", String::from_utf8_lossy(&addr[3..])),
                "abstract unix sockets stay inside the sandbox (refused in --net host)",
                Errno::EACCES,
            ))
        }
        Some(libc::AF_UNIX) if len > 2 && addr[2] != 0 => bind_unix_path(t, a.i32(0), &addr),
        // Abstract names in the sandbox's own namespace, netlink port ids: bounded by the namespace.
        _ => Ok(Reply::Continue),
    }
}

/// bind(2) of a unix socket to a path: decided like a file creation (write access to the grant or the private /tmp),
/// and made by the sentry through `/proc/self/fd/<parent>/<name>` on a directory fd the gofer hands out from its copy
/// of the writable mount (the view is read-only, and the sentry's namespace is the host's; bind(2) takes only a path,
/// so the gofer, which has no /proc, cannot do it for a socket it does not hold). The task's umask applies to the socket file.
fn bind_unix_path(t: &mut Task<'_>, fd: i32, addr: &[u8]) -> SysResult {
    let end = addr[2..]
        .iter()
        .position(|&b| b == 0)
        .map_or(addr.len(), |i| i + 2);
    let raw = addr[2..end].to_vec();
    t.args.path = Some(String::from_utf8_lossy(&raw).into_owned());
    let node = t.resolve(crate::vfs::Start::Cwd, &raw, false)?;
    if !matches!(node.kind, Kind::Missing) {
        t.check(Access::Lookup, &node)?;
        return Err(Errno::EADDRINUSE);
    }
    t.check(Access::Write, &node)?;
    let (mount, rel) = t.k.vfs.writable_for(&node.path).ok_or(Errno::EROFS)?;
    let (dir, name) = mount.parent(rel)?;
    let sock = t.dup_fd(fd).map_err(|_| Errno::EBADF)?;
    let umask = t.umask()?;
    // Bound by its last component from inside its directory, so getsockname shows the name (as natively for the
    // usual relative name; an absolute or multi-component path shows only its last component).
    crate::net::bind_in_dir(sock.as_fd(), dir.as_fd(), &sockaddr_un(name.as_bytes())?)?;
    if let Ok(st) = nix::sys::stat::fstatat(
        Some(dir.as_raw_fd()),
        name.as_c_str(),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    ) {
        crate::net::remember_own_socket(&st);
    }
    // Best effort, as the file exists now: a failure leaves the kernel's default mode. The gofer makes the change.
    let _ = mount.chmod(rel, 0o777 & !umask);
    Ok(Reply::Val(0))
}
