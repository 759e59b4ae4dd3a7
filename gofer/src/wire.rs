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
    let mut buf = vec![0u8; MAX_PACKET + 1];
    let mut cspace = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cspace),
            MsgFlags::MSG_CMSG_CLOEXEC,
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
        buf.truncate(n);
        return Ok(Some((buf, fds.pop())));
    }
}
