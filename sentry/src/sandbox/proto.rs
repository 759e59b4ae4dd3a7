//! The messages between the sentry and its sandbox child during start-up, over a SOCK_SEQPACKET pair, with one fd
//! attached where a message carries one.

#![forbid(unsafe_code)]

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    /// sentry → child: id maps written, go on.
    Go,
    /// child → sentry: view built; the private tmpfs attached.
    Mounted,
    /// sentry → child: the view's root is held, continue.
    Viewed,
    /// child → sentry, right after `Mounted`: the delegation endpoint (a listening socket bound in the sandbox's own
    /// network namespace), attached when it could be made.
    Delegate,
    /// agent → sentry: the seccomp listener is open at this fd number in the agent (sent with plain write(2): the
    /// agent is already filtered, and sendmsg is trapped to the sentry, which is waiting for this very message).
    ListenerAt(u32),
    /// sentry → agent: the listener was taken (pidfd_getfd); the agent may close its fds and exec. On ptrace: the
    /// agent is traced (after `Seize`), or its filter is known to be in place (after `Filtered`).
    Ack,
    /// agent → sentry (ptrace platform): trace me now, before I install the filter (a trace stop with no tracer fails
    /// the syscall with ENOSYS).
    Seize,
    /// agent → sentry (ptrace platform): the filter is installed (plain write(2), as `ListenerAt`).
    Filtered,
    /// init → sentry: the agent's wait status.
    Exited(i32),
    /// child → sentry: set-up failed.
    Error(String),
    /// child → sentry (`--net sandbox`, before `Mounted`, once per socket): the resolver's UDP socket and TCP listener,
    /// bound in the sandbox's namespace.
    Resolver,
    /// agent → sentry (OCI containers, before the filter): the spawner's socket (see `spawner`).
    Spawner,
    /// sentry → agent (OCI containers held by `sentry create`): exec now (`sentry start`).
    Start,
}

fn encode(m: &Msg) -> Vec<u8> {
    match m {
        Msg::Go => b"G".to_vec(),
        Msg::Mounted => b"M".to_vec(),
        Msg::Viewed => b"V".to_vec(),
        Msg::Delegate => b"D".to_vec(),
        Msg::ListenerAt(n) => [&b"L"[..], &n.to_le_bytes()].concat(),
        Msg::Ack => b"A".to_vec(),
        Msg::Seize => b"S".to_vec(),
        Msg::Filtered => b"F".to_vec(),
        Msg::Exited(s) => [&b"X"[..], &s.to_le_bytes()].concat(),
        Msg::Error(e) => [&b"E"[..], e.as_bytes()].concat(),
        Msg::Resolver => b"R".to_vec(),
        Msg::Spawner => b"P".to_vec(),
        Msg::Start => b"T".to_vec(),
    }
}

fn decode(b: &[u8]) -> Result<Msg, Errno> {
    match b {
        b"G" => Ok(Msg::Go),
        b"M" => Ok(Msg::Mounted),
        b"V" => Ok(Msg::Viewed),
        b"D" => Ok(Msg::Delegate),
        [b'L', n @ ..] if n.len() == 4 => Ok(Msg::ListenerAt(u32::from_le_bytes([
            n[0], n[1], n[2], n[3],
        ]))),
        b"A" => Ok(Msg::Ack),
        b"S" => Ok(Msg::Seize),
        b"F" => Ok(Msg::Filtered),
        b"R" => Ok(Msg::Resolver),
        b"P" => Ok(Msg::Spawner),
        b"T" => Ok(Msg::Start),
        [b'X', s @ ..] if s.len() == 4 => {
            Ok(Msg::Exited(i32::from_le_bytes([s[0], s[1], s[2], s[3]])))
        }
        [b'E', e @ ..] => Ok(Msg::Error(String::from_utf8_lossy(e).into_owned())),
        _ => Err(Errno::EPROTO),
    }
}

/// Sends one packet of `data` with `fds` attached (SCM_RIGHTS; none when empty).
pub fn send_fds(sock: BorrowedFd<'_>, data: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), Errno> {
    let iov = [IoSlice::new(data)];
    let raw: Vec<i32> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let cmsg: Vec<ControlMessage<'_>> = if raw.is_empty() {
        vec![]
    } else {
        vec![ControlMessage::ScmRights(&raw)]
    };
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None).map(drop)
}

/// Receives one packet of at most `max` bytes with up to `MAX_FDS` fds (close-on-exec, owned: any not wanted are
/// closed with the Vec). End of file (the peer is gone) is ECONNRESET.
pub fn recv_fds(sock: BorrowedFd<'_>, max: usize) -> Result<(Vec<u8>, Vec<OwnedFd>), Errno> {
    let mut buf = vec![0u8; max];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; MAX_FDS]);
    let (n, fds) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = loop {
            match recvmsg::<()>(
                sock.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(Errno::EINTR) => continue,
                r => break r?,
            }
        };
        let mut fds = Vec::new();
        for c in msg.cmsgs().map_err(|_| Errno::EPROTO)? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                for f in raw {
                    fds.push(crate::sys::own_fd(f)?);
                }
            }
        }
        (msg.bytes, fds)
    };
    if n == 0 {
        return Err(Errno::ECONNRESET);
    }
    buf.truncate(n);
    Ok((buf, fds))
}

/// The most fds one packet carries (an exec request: the client's connection and three stdio fds).
pub const MAX_FDS: usize = 4;

pub fn send(sock: BorrowedFd<'_>, m: &Msg, fd: Option<BorrowedFd<'_>>) -> Result<(), Errno> {
    send_fds(sock, &encode(m), fd.as_slice())
}

/// Receives one message; EOF (the peer is gone) is ECONNRESET.
pub fn recv(sock: BorrowedFd<'_>) -> Result<(Msg, Option<OwnedFd>), Errno> {
    let (data, fds) = recv_fds(sock, 4096)?;
    Ok((decode(&data)?, fds.into_iter().next()))
}

/// Sends a message with plain write(2) (no fd): for the agent once its filter is installed.
pub fn send_plain(sock: BorrowedFd<'_>, m: &Msg) -> Result<(), Errno> {
    nix::unistd::write(sock, &encode(m)).map(drop)
}

/// Receives a message with plain read(2): for the agent once its filter is installed.
pub fn recv_plain(sock: BorrowedFd<'_>) -> Result<Msg, Errno> {
    let mut buf = [0u8; 64];
    let n = loop {
        match nix::unistd::read(sock.as_raw_fd(), &mut buf) {
            Err(Errno::EINTR) => continue,
            r => break r?,
        }
    };
    if n == 0 {
        return Err(Errno::ECONNRESET);
    }
    decode(&buf[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_encode_roundtrip() {
        for m in [
            Msg::Go,
            Msg::Mounted,
            Msg::Viewed,
            Msg::Delegate,
            Msg::ListenerAt(7),
            Msg::Ack,
            Msg::Seize,
            Msg::Filtered,
            Msg::Exited(-3),
            Msg::Error("x y".into()),
            Msg::Resolver,
            Msg::Spawner,
            Msg::Start,
        ] {
            assert_eq!(decode(&encode(&m)).expect("decodes"), m);
        }
    }

    #[test]
    fn decode_garbage_is_eproto() {
        assert_eq!(decode(b"Q"), Err(Errno::EPROTO));
        assert_eq!(decode(b"X12"), Err(Errno::EPROTO));
    }
}
