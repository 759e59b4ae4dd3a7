//! Socket and readiness wrappers that write into the caller's memory (addresses, received data, ready lists).

use nix::errno::Errno;

use super::raw::{ai, int, pm, sc6, ulen, R};

/// socketpair(2).
pub fn socketpair(domain: i32, ty: i32, proto: i32) -> Result<(i32, i32), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a writable int[2], what socketpair fills.
    unsafe {
        sc6(
            libc::SYS_socketpair,
            [ai(domain), ai(ty), ai(proto), pm(&mut fds), 0, 0],
        )
    }?;
    Ok((fds[0], fds[1]))
}

/// A socket address as raw bytes (what bind/connect take with its length).
#[derive(Clone, Debug)]
pub struct Addr(pub Vec<u8>);

impl Addr {
    /// An AF_UNIX address for a filesystem path.
    pub fn unix(path: &str) -> Self {
        let mut v = libc::AF_UNIX.to_ne_bytes()[..2].to_vec();
        v.extend_from_slice(path.as_bytes());
        v.push(0);
        Self(v)
    }

    /// An AF_UNIX address in the abstract namespace (leading NUL).
    pub fn abstract_unix(name: &str) -> Self {
        let mut v = libc::AF_UNIX.to_ne_bytes()[..2].to_vec();
        v.push(0);
        v.extend_from_slice(name.as_bytes());
        Self(v)
    }

    /// An AF_INET address.
    pub fn inet(ip: [u8; 4], port: u16) -> Self {
        let mut v = vec![0u8; 16];
        v[..2].copy_from_slice(&libc::AF_INET.to_ne_bytes()[..2]);
        v[2..4].copy_from_slice(&port.to_be_bytes());
        v[4..8].copy_from_slice(&ip);
        Self(v)
    }

    /// An AF_INET6 address.
    pub fn inet6(ip: [u8; 16], port: u16) -> Self {
        let mut v = vec![0u8; 28];
        v[..2].copy_from_slice(&libc::AF_INET6.to_ne_bytes()[..2]);
        v[2..4].copy_from_slice(&port.to_be_bytes());
        v[8..24].copy_from_slice(&ip);
        Self(v)
    }

    /// The address family.
    pub fn family(&self) -> i32 {
        if self.0.len() < 2 {
            return -1;
        }
        i32::from(u16::from_ne_bytes([self.0[0], self.0[1]]))
    }

    /// The port of an inet address.
    pub fn port(&self) -> u16 {
        if self.0.len() < 4 {
            return 0;
        }
        u16::from_be_bytes([self.0[2], self.0[3]])
    }

    /// The IPv4 address of an AF_INET address.
    pub fn ipv4(&self) -> String {
        if self.0.len() < 8 {
            return String::new();
        }
        format!("{}.{}.{}.{}", self.0[4], self.0[5], self.0[6], self.0[7])
    }

    /// The path (or `@name` for abstract) of an AF_UNIX address; `""` for unnamed.
    pub fn unix_path(&self) -> String {
        let p = self.0.get(2..).unwrap_or(&[]);
        if p.is_empty() {
            return String::new();
        }
        if p[0] == 0 {
            return format!("@{}", String::from_utf8_lossy(&p[1..]));
        }
        let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
        String::from_utf8_lossy(&p[..end]).into_owned()
    }

    /// The length to pass with this address.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the address is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// bind(2).
pub fn bind(fd: i32, addr: &Addr) -> R {
    use super::raw::{call, Arg};
    call(
        libc::SYS_bind,
        &[Arg::i(fd), Arg::b(&addr.0), Arg::n(addr.len())],
    )
}

/// connect(2).
pub fn connect(fd: i32, addr: &Addr) -> R {
    use super::raw::{call, Arg};
    call(
        libc::SYS_connect,
        &[Arg::i(fd), Arg::b(&addr.0), Arg::n(addr.len())],
    )
}

fn name_call(nr: i64, fd: i32) -> Result<Addr, Errno> {
    let mut buf = vec![0u8; 128];
    let mut len = u32::try_from(buf.len()).unwrap_or(0);
    // SAFETY: `buf` is writable for `len` bytes and `len` is a writable socklen_t holding that size.
    unsafe { sc6(nr, [ai(fd), buf.as_mut_ptr() as u64, pm(&mut len), 0, 0, 0]) }?;
    buf.truncate(usize::try_from(len).unwrap_or(0).min(128));
    Ok(Addr(buf))
}

/// getsockname(2).
pub fn getsockname(fd: i32) -> Result<Addr, Errno> {
    name_call(libc::SYS_getsockname, fd)
}

/// getpeername(2).
pub fn getpeername(fd: i32) -> Result<Addr, Errno> {
    name_call(libc::SYS_getpeername, fd)
}

/// accept4(2) without the peer address.
pub fn accept4(fd: i32, flags: i32) -> R {
    // SAFETY: both address pointers are NULL, so nothing is written.
    unsafe { sc6(libc::SYS_accept4, [ai(fd), 0, 0, ai(flags), 0, 0]) }
}

/// accept(2) with the peer address.
pub fn accept_addr(fd: i32) -> Result<(i32, Addr), Errno> {
    let mut buf = vec![0u8; 128];
    let mut len = 128u32;
    // SAFETY: `buf` is writable for `len` bytes and `len` is a writable socklen_t holding that size.
    let r = unsafe {
        sc6(
            libc::SYS_accept,
            [ai(fd), buf.as_mut_ptr() as u64, pm(&mut len), 0, 0, 0],
        )
    }?;
    buf.truncate(usize::try_from(len).unwrap_or(0).min(128));
    Ok((int(r), Addr(buf)))
}

/// recvfrom(2) of up to `n` bytes: (data, source address).
pub fn recvfrom(fd: i32, n: usize, flags: i32) -> Result<(Vec<u8>, Addr), Errno> {
    let mut b = vec![0u8; n];
    let mut abuf = vec![0u8; 128];
    let mut alen = 128u32;
    // SAFETY: `b` is writable for `n` bytes; `abuf` for `alen` bytes; `alen` is a writable socklen_t.
    let got = unsafe {
        sc6(
            libc::SYS_recvfrom,
            [
                ai(fd),
                b.as_mut_ptr() as u64,
                ulen(n),
                ai(flags),
                abuf.as_mut_ptr() as u64,
                pm(&mut alen),
            ],
        )
    }?;
    b.truncate(usize::try_from(got).unwrap_or(0));
    abuf.truncate(usize::try_from(alen).unwrap_or(0).min(128));
    Ok((b, Addr(abuf)))
}

/// sendto(2) to an address (None: connected socket).
pub fn sendto(fd: i32, data: &[u8], flags: i32, to: Option<&Addr>) -> R {
    use super::raw::{call, Arg};
    match to {
        Some(a) => call(
            libc::SYS_sendto,
            &[
                Arg::i(fd),
                Arg::b(data),
                Arg::n(data.len()),
                Arg::i(flags),
                Arg::b(&a.0),
                Arg::n(a.len()),
            ],
        ),
        None => call(
            libc::SYS_sendto,
            &[
                Arg::i(fd),
                Arg::b(data),
                Arg::n(data.len()),
                Arg::i(flags),
                Arg::I(0),
                Arg::I(0),
            ],
        ),
    }
}

/// getsockopt(2) of an int option.
pub fn getsockopt_int(fd: i32, level: i32, opt: i32) -> Result<i32, Errno> {
    let mut v = 0i32;
    let mut len = 4u32;
    // SAFETY: `v` is a writable int and `len` a writable socklen_t holding its size.
    unsafe {
        sc6(
            libc::SYS_getsockopt,
            [ai(fd), ai(level), ai(opt), pm(&mut v), pm(&mut len), 0],
        )
    }?;
    Ok(v)
}

/// setsockopt(2) of an int option.
pub fn setsockopt_int(fd: i32, level: i32, opt: i32, v: i32) -> R {
    use super::raw::{call, Arg};
    call(
        libc::SYS_setsockopt,
        &[
            Arg::i(fd),
            Arg::i(level),
            Arg::i(opt),
            Arg::r(&v),
            Arg::n(4),
        ],
    )
}

/// getsockopt(SO_PEERCRED): (pid, uid, gid).
pub fn peercred(fd: i32) -> Result<(i32, u32, u32), Errno> {
    let mut c = [0u32; 3];
    let mut len = 12u32;
    // SAFETY: `c` is a writable struct ucred (12 bytes) and `len` a writable socklen_t holding its size.
    unsafe {
        sc6(
            libc::SYS_getsockopt,
            [
                ai(fd),
                ai(libc::SOL_SOCKET),
                ai(libc::SO_PEERCRED),
                pm(&mut c),
                pm(&mut len),
                0,
            ],
        )
    }?;
    Ok((i32::from_ne_bytes(c[0].to_ne_bytes()), c[1], c[2]))
}

/// sendmsg(2) of `data` with optional fds (SCM_RIGHTS).
pub fn sendmsg_fds(fd: i32, data: &[u8], fds: &[i32]) -> R {
    use super::raw::{call, Arg};
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } followed by the fds, 8-aligned.
    let mut ctl: Vec<u64> = Vec::new();
    if !fds.is_empty() {
        let clen = 16 + 4 * fds.len();
        let mut bytes = vec![0u8; clen.div_ceil(8) * 8];
        bytes[..8].copy_from_slice(&ulen(clen).to_ne_bytes());
        bytes[8..12].copy_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
        bytes[12..16].copy_from_slice(&libc::SCM_RIGHTS.to_ne_bytes());
        for (i, f) in fds.iter().enumerate() {
            bytes[16 + 4 * i..20 + 4 * i].copy_from_slice(&f.to_ne_bytes());
        }
        ctl = bytes
            .chunks(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
    }
    // SAFETY: libc::msghdr is a plain C struct; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    if !ctl.is_empty() {
        msg.msg_control = ctl.as_mut_ptr().cast();
        msg.msg_controllen = ctl.len() * 8;
    }
    call(libc::SYS_sendmsg, &[Arg::i(fd), Arg::r(&msg), Arg::i(0)])
}

/// What recvmsg returned: data, fds received (SCM_RIGHTS), credentials (SCM_CREDENTIALS: pid, uid, gid), msg_flags.
#[derive(Debug, Default)]
pub struct Recv {
    /// The bytes received.
    pub data: Vec<u8>,
    /// Fds received.
    pub fds: Vec<i32>,
    /// Credentials received.
    pub creds: Option<(i32, u32, u32)>,
    /// msg_flags.
    pub flags: i32,
}

/// recvmsg(2) of up to `n` bytes with room for ancillary data.
pub fn recvmsg(fd: i32, n: usize, flags: i32) -> Result<Recv, Errno> {
    let mut b = vec![0u8; n];
    let mut iov = libc::iovec {
        iov_base: b.as_mut_ptr().cast(),
        iov_len: n,
    };
    let mut ctl = vec![0u64; 64];
    // SAFETY: libc::msghdr is a plain C struct; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.as_mut_ptr().cast();
    msg.msg_controllen = ctl.len() * 8;
    // SAFETY: `msg` describes `b` (writable for `n` bytes) and `ctl` (writable for its length in bytes); the kernel
    // writes within those lengths and updates `msg`.
    let got = unsafe {
        sc6(
            libc::SYS_recvmsg,
            [ai(fd), pm(&mut msg), ai(flags), 0, 0, 0],
        )
    }?;
    b.truncate(usize::try_from(got).unwrap_or(0).min(n));
    let bytes: Vec<u8> = ctl.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let clen = msg.msg_controllen.min(bytes.len());
    let mut out = Recv {
        data: b,
        flags: msg.msg_flags,
        ..Recv::default()
    };
    let mut off = 0;
    while off + 16 <= clen {
        let len = usize::try_from(u64::from_ne_bytes(
            bytes[off..off + 8].try_into().unwrap_or([0; 8]),
        ))
        .unwrap_or(0);
        let level = i32::from_ne_bytes(bytes[off + 8..off + 12].try_into().unwrap_or([0; 4]));
        let ty = i32::from_ne_bytes(bytes[off + 12..off + 16].try_into().unwrap_or([0; 4]));
        if len < 16 || off + len > clen {
            break;
        }
        let body = &bytes[off + 16..off + len];
        let ints: Vec<i32> = body
            .chunks_exact(4)
            .map(|c| i32::from_ne_bytes(c.try_into().unwrap_or([0; 4])))
            .collect();
        if level == libc::SOL_SOCKET && ty == libc::SCM_RIGHTS {
            out.fds.extend(ints);
        } else if level == libc::SOL_SOCKET && ty == libc::SCM_CREDENTIALS && ints.len() >= 3 {
            out.creds = Some((
                ints[0],
                u32::from_ne_bytes(ints[1].to_ne_bytes()),
                u32::from_ne_bytes(ints[2].to_ne_bytes()),
            ));
        }
        off += len.div_ceil(8) * 8;
    }
    Ok(out)
}

/// poll(2): the revents of each (fd, events).
pub fn poll(fds: &[(i32, i16)], timeout_ms: i32) -> Result<(i64, Vec<i16>), Errno> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` holds `p.len()` writable pollfd structs, the count passed.
    let n = unsafe {
        sc6(
            libc::SYS_poll,
            [
                p.as_mut_ptr() as u64,
                ulen(p.len()),
                ai(timeout_ms),
                0,
                0,
                0,
            ],
        )
    }?;
    Ok((n, p.iter().map(|x| x.revents).collect()))
}

/// ppoll(2) with a timeout in ms (None: forever) and an optional signal mask.
pub fn ppoll(
    fds: &[(i32, i16)],
    timeout_ms: Option<i64>,
    mask: Option<u64>,
) -> Result<(i64, Vec<i16>), Errno> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    let ts = timeout_ms.map(super::time::ts_ms);
    let pt = ts.as_ref().map_or(0, |t| std::ptr::from_ref(t) as u64);
    let m = mask.unwrap_or(0);
    let pmk = if mask.is_some() {
        std::ptr::from_ref(&m) as u64
    } else {
        0
    };
    // SAFETY: `p` holds `p.len()` writable pollfds; `pt` is NULL or a timespec ppoll may update (it is a local
    // copy); `pmk` is NULL or a readable 8-byte sigset.
    let n = unsafe {
        sc6(
            libc::SYS_ppoll,
            [p.as_mut_ptr() as u64, ulen(p.len()), pt, pmk, 8, 0],
        )
    }?;
    Ok((n, p.iter().map(|x| x.revents).collect()))
}

/// A 1024-bit fd_set.
pub type FdSet = [u64; 16];

/// An fd_set holding `fds`.
pub fn fdset(fds: &[i32]) -> FdSet {
    let mut s = [0u64; 16];
    for &f in fds {
        if let Ok(u) = usize::try_from(f) {
            if u < 1024 {
                s[u / 64] |= 1 << (u % 64);
            }
        }
    }
    s
}

/// Whether `fd` is in `s`.
pub fn fdisset(s: &FdSet, fd: i32) -> bool {
    usize::try_from(fd).is_ok_and(|u| u < 1024 && s[u / 64] & (1 << (u % 64)) != 0)
}

/// select(2) with a timeout in ms (None: forever). Returns (count, readfds, writefds).
pub fn select(
    nfds: i32,
    r: &[i32],
    w: &[i32],
    timeout_ms: Option<i64>,
) -> Result<(i64, FdSet, FdSet), Errno> {
    let mut rs = fdset(r);
    let mut ws = fdset(w);
    let mut tv = timeout_ms.map(|ms| libc::timeval {
        tv_sec: ms / 1000,
        tv_usec: (ms % 1000) * 1000,
    });
    let ptv = tv.as_mut().map_or(0, pm);
    // SAFETY: `rs` and `ws` are writable 1024-bit fd_sets (nfds is capped at 1024 by the kernel check below);
    // `ptv` is NULL or a writable timeval.
    if nfds > 1024 {
        return Err(Errno::EINVAL);
    }
    // SAFETY: see above.
    let n = unsafe {
        sc6(
            libc::SYS_select,
            [ai(nfds), pm(&mut rs), pm(&mut ws), 0, ptv, 0],
        )
    }?;
    Ok((n, rs, ws))
}

/// pselect6(2) with a timeout in ms and an optional signal mask.
pub fn pselect(
    nfds: i32,
    r: &[i32],
    timeout_ms: Option<i64>,
    mask: Option<u64>,
) -> Result<(i64, FdSet), Errno> {
    if nfds > 1024 {
        return Err(Errno::EINVAL);
    }
    let mut rs = fdset(r);
    let mut ts = timeout_ms.map(super::time::ts_ms);
    let pt = ts.as_mut().map_or(0, pm);
    let m = mask.unwrap_or(0);
    let sig = [
        if mask.is_some() {
            std::ptr::from_ref(&m) as u64
        } else {
            0
        },
        8u64,
    ];
    // SAFETY: `rs` is a writable fd_set of 1024 bits (nfds <= 1024); `pt` is NULL or a writable timespec; `sig` is
    // the {sigset pointer, size} pair pselect6 reads, whose pointer is NULL or a readable 8-byte sigset.
    let n = unsafe {
        sc6(
            libc::SYS_pselect6,
            [
                ai(nfds),
                pm(&mut rs),
                0,
                0,
                pt,
                std::ptr::from_ref(&sig) as u64,
            ],
        )
    }?;
    Ok((n, rs))
}

/// An epoll_event (packed on x86_64).
pub fn epoll_event(events: u32, data: u64) -> libc::epoll_event {
    libc::epoll_event { events, u64: data }
}

/// epoll_ctl(2).
pub fn epoll_ctl(epfd: i32, op: i32, fd: i32, ev: Option<libc::epoll_event>) -> R {
    use super::raw::{call, Arg};
    match ev {
        Some(e) => call(
            libc::SYS_epoll_ctl,
            &[Arg::i(epfd), Arg::i(op), Arg::i(fd), Arg::r(&e)],
        ),
        None => call(
            libc::SYS_epoll_ctl,
            &[Arg::i(epfd), Arg::i(op), Arg::i(fd), Arg::I(0)],
        ),
    }
}

/// epoll_wait(2) (or epoll_pwait with a mask): the (events, data) of the ready fds, in the kernel's order.
pub fn epoll_wait(
    epfd: i32,
    max: usize,
    timeout_ms: i32,
    mask: Option<u64>,
) -> Result<Vec<(u32, u64)>, Errno> {
    let mut evs = vec![epoll_event(0, 0); max.max(1)];
    let m = mask.unwrap_or(0);
    let n = match mask {
        // SAFETY: `evs` holds `max` writable epoll_events (at least one), the count passed.
        None => unsafe {
            sc6(
                libc::SYS_epoll_wait,
                [
                    ai(epfd),
                    evs.as_mut_ptr() as u64,
                    ulen(max),
                    ai(timeout_ms),
                    0,
                    0,
                ],
            )
        },
        // SAFETY: as above; the mask is a readable 8-byte sigset.
        Some(_) => unsafe {
            sc6(
                libc::SYS_epoll_pwait,
                [
                    ai(epfd),
                    evs.as_mut_ptr() as u64,
                    ulen(max),
                    ai(timeout_ms),
                    std::ptr::from_ref(&m) as u64,
                    8,
                ],
            )
        },
    }?;
    evs.truncate(usize::try_from(n).unwrap_or(0));
    Ok(evs.iter().map(|e| ({ e.events }, { e.u64 })).collect())
}
