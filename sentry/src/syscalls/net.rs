//! The socket calls that carry a destination: connect, sendto, sendmsg, sendmmsg.
//!
//! The sandbox has its own network namespace, so inet destinations can only be its own loopback (layer 1). What the
//! namespace does not bound is a unix socket by *path*: it reaches whatever listens there, on the host too (a docker
//! socket inside a grant). So each call copies its address once, asks the policy (which refuses unix paths until the
//! network issue maps them to grants), and then either performs the call itself on a duplicate of the task's socket
//! from that copy, or CONTINUEs where no address can be re-read: sendto without an address (the pointer is a register
//! value), and sendmsg/sendmmsg on non-unix sockets (an inet socket cannot address a unix path).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;

use super::{Reply, SysResult, SyscallArgs};
use crate::kernel::task::Task;
use crate::policy::Access;
use crate::sys;
use crate::vfs::{Kind, Node};

/// sizeof(struct sockaddr_storage).
const SOCKADDR_MAX: usize = 128;
/// The most the sentry copies for one send it performs: a stream send may be short, a datagram this large fails.
const SEND_MAX: usize = 256 * 1024;

/// Copies a socket address and refuses a unix path.
fn checked_addr(t: &mut Task<'_>, ptr: u64, len: u32) -> Result<Vec<u8>, Errno> {
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    if len > SOCKADDR_MAX {
        return Err(Errno::EINVAL);
    }
    let addr = t.read_bytes(ptr, len)?;
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
                    t.check(
                        Access::Connect,
                        &Node {
                            policy_path: path.clone(),
                            path,
                            kind: Kind::Missing,
                        },
                    )?;
                }
            }
        }
    }
    Ok(addr)
}

fn is_blocking(fd: &OwnedFd) -> bool {
    nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)
        .is_ok_and(|f| f & libc::O_NONBLOCK == 0)
}

/// connect(2).
pub fn sys_connect(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let addr = checked_addr(t, a.ptr(1), a.u32(2))?;
    let sock = t.dup_fd(a.i32(0)).map_err(|_| Errno::EBADF)?;
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
    let addr = checked_addr(t, a.ptr(4), a.u32(5))?;
    let len = usize::try_from(a.u64(2))
        .map_err(|_| Errno::EINVAL)?
        .min(SEND_MAX);
    let data = if len == 0 {
        Vec::new()
    } else {
        t.read_bytes(a.ptr(1), len)?
    };
    let sock = t.dup_fd(a.i32(0)).map_err(|_| Errno::EBADF)?;
    if is_blocking(&sock) && a.i32(3) & libc::MSG_DONTWAIT == 0 {
        crate::kernel::pool::handoff(t.k);
    }
    let n = sys::sendto_raw(sock.as_fd(), &data, a.i32(3) | libc::MSG_NOSIGNAL, &addr)?;
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

/// sendmsg(2). On a unix socket the whole message is copied (address, data up to 256 KiB, SCM_RIGHTS fds translated
/// into the sentry's own duplicates) and sent by the sentry; SCM_CREDENTIALS is refused (EPERM): the sentry cannot
/// speak for the task's identity.
pub fn sys_sendmsg(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let sock = t.dup_fd(a.i32(0)).map_err(|_| Errno::EBADF)?;
    if socket_family(&sock)? != libc::AF_UNIX {
        // An inet (or netlink) socket cannot address a unix path; the network namespace bounds the rest.
        return Ok(Reply::Continue);
    }
    let n = send_one(t, &sock, a.ptr(1), a.i32(2))?;
    Ok(Reply::Val(i64::try_from(n).map_err(|_| Errno::EOVERFLOW)?))
}

/// One `struct msghdr` at `msg`, copied, checked and sent by the sentry on a unix socket.
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
    let addr = if name != 0 && namelen > 0 {
        Some(checked_addr(t, name, namelen)?)
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

/// sendmmsg(2): continued on non-unix sockets; on a unix socket each message is sent like sendmsg, and its length
/// written back into its `msg_len`.
pub fn sys_sendmmsg(t: &mut Task<'_>, a: &SyscallArgs) -> SysResult {
    let sock = t.dup_fd(a.i32(0)).map_err(|_| Errno::EBADF)?;
    if socket_family(&sock)? != libc::AF_UNIX {
        return Ok(Reply::Continue);
    }
    // struct mmsghdr: a 56-byte msghdr, then an unsigned int msg_len, padded to 64 bytes. UIO_MAXIOV messages at most.
    let count = a.u32(2).min(1024);
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
