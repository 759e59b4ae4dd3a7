//! One packet and at most one fd over a SEQPACKET socket, both ways.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use crate::proto::MAX_PACKET;
use crate::sys;

/// A packet's bytes and the fd that came with it.
pub type Packet = (Vec<u8>, Option<OwnedFd>);

/// Sends one packet, with `fd` attached when given.
pub fn send(sock: BorrowedFd<'_>, bytes: &[u8], fd: Option<BorrowedFd<'_>>) -> Result<(), Errno> {
    let iov = [IoSlice::new(bytes)];
    let raw = fd.map(|f| [f.as_raw_fd()]);
    let cmsg: Vec<ControlMessage<'_>> = raw
        .as_ref()
        .map(|r| vec![ControlMessage::ScmRights(r)])
        .unwrap_or_default();
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Err(Errno::EINTR) => {}
            Ok(n) if n == bytes.len() => return Ok(()),
            Ok(_) => return Err(Errno::EMSGSIZE),
            Err(e) => return Err(e),
        }
    }
}

/// Receives one packet and the fd attached to it, if any. `Ok(None)`: the peer closed the socket. A packet that was
/// truncated, or that carries more than one fd or any other control message, is an error (EPROTO): every fd that came
/// with it is closed.
pub fn recv(sock: BorrowedFd<'_>) -> Result<Option<Packet>, Errno> {
    recv_flags(sock, MsgFlags::empty())
}

/// `recv`, but first polling without blocking for up to `spin`: when the peer answers within that time (a request
/// served from the page cache does), neither side pays a wake-up of the other's CPU, which on a small VM with an idle
/// CPU costs tens of microseconds each way.
pub fn recv_spin(sock: BorrowedFd<'_>, spin: std::time::Duration) -> Result<Option<Packet>, Errno> {
    let deadline = std::time::Instant::now() + spin;
    loop {
        match recv_flags(sock, MsgFlags::MSG_DONTWAIT) {
            Err(Errno::EAGAIN) if std::time::Instant::now() < deadline => std::hint::spin_loop(),
            Err(Errno::EAGAIN) => return recv(sock),
            r => return r,
        }
    }
}

thread_local! {
    /// One receive buffer per thread, allocated once (a packet may be up to MAX_PACKET bytes).
    static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; MAX_PACKET + 1]);
}

fn recv_flags(sock: BorrowedFd<'_>, extra: MsgFlags) -> Result<Option<Packet>, Errno> {
    BUF.with(|b| {
        let mut buf = b.borrow_mut();
        recv_into(sock, &mut buf, extra)
    })
}

fn recv_into(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    extra: MsgFlags,
) -> Result<Option<Packet>, Errno> {
    let mut cspace = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cspace),
            MsgFlags::MSG_CMSG_CLOEXEC | extra,
        ) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(m) => m,
        };
        let truncated = msg
            .flags
            .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC);
        let n = msg.bytes;
        let mut fds = Vec::new();
        let mut other = false;
        for c in msg.cmsgs().map_err(|_| Errno::EPROTO)? {
            match c {
                ControlMessageOwned::ScmRights(v) => {
                    for raw in v {
                        fds.push(sys::own_fd(raw)?);
                    }
                }
                _ => other = true,
            }
        }
        if n == 0 && fds.is_empty() {
            return Ok(None);
        }
        if truncated || other || fds.len() > 1 || n > MAX_PACKET {
            return Err(Errno::EPROTO);
        }
        return Ok(Some((buf[..n].to_vec(), fds.pop())));
    }
}
