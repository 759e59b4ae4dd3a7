//! Unix and inet sockets: socketpair types, SCM_RIGHTS and SCM_CREDENTIALS, abstract and path unix sockets,
//! loopback TCP and UDP, options, error cases.
#![forbid(unsafe_code)]

use libc::{AF_INET, AF_UNIX, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM};
use nix::errno::Errno;

use super::helper::{ftype, mkfile, need, open, text};
use crate::case::{Case, Ctx, Outcome, Stop};
use crate::sc;
use crate::sys::{self, int, Addr};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new(
        "socket.socketpair_stream",
        &["socketpair", "sendto", "recvfrom", "shutdown"],
        socketpair_stream,
    ),
    Case::new(
        "socket.socketpair_dgram",
        &["socketpair", "sendto", "recvfrom"],
        socketpair_dgram,
    ),
    Case::new(
        "socket.seqpacket_trunc",
        &["socketpair", "sendmsg", "recvmsg"],
        seqpacket_trunc,
    ),
    Case::new(
        "socket.scm_rights",
        &["socketpair", "sendmsg", "recvmsg", "read"],
        scm_rights,
    ),
    Case::new(
        "socket.scm_credentials",
        &["socketpair", "setsockopt", "sendmsg", "recvmsg"],
        scm_credentials,
    ),
    Case::new("socket.peercred", &["socketpair", "getsockopt"], peercred),
    Case::new(
        "socket.unix_abstract",
        &[
            "socket",
            "bind",
            "listen",
            "connect",
            "accept4",
            "getsockname",
        ],
        unix_abstract,
    ),
    Case::new(
        "socket.unix_path",
        &["socket", "bind", "listen", "connect", "accept", "stat"],
        unix_path,
    ),
    Case::new(
        "socket.unix_connect_errors",
        &["socket", "connect"],
        unix_connect_errors,
    ),
    Case::new(
        "socket.unix_bind_errors",
        &["socket", "bind"],
        unix_bind_errors,
    ),
    Case::new(
        "socket.tcp_loopback",
        &[
            "socket",
            "bind",
            "listen",
            "connect",
            "accept4",
            "getpeername",
        ],
        tcp_loopback,
    ),
    Case::new(
        "socket.udp_loopback",
        &["socket", "bind", "sendto", "recvfrom", "connect"],
        udp_loopback,
    ),
    Case::new(
        "socket.tcp_refused",
        &["socket", "bind", "connect"],
        tcp_refused,
    ),
    Case::new(
        "socket.tcp_nonblock",
        &["socket", "listen", "accept4", "connect"],
        tcp_nonblock,
    ),
    Case::new("socket.options", &["setsockopt", "getsockopt"], options),
    Case::new(
        "socket.errors",
        &["socket", "listen", "recvfrom", "sendto"],
        errors,
    ),
    Case::new(
        "socket.type_flags",
        &["socket", "fcntl", "fstat"],
        type_flags,
    ),
    Case::new(
        "socket.peek_dontwait",
        &["socketpair", "recvfrom"],
        peek_dontwait,
    ),
    Case::new(
        "socket.inet6_loopback",
        &["socket", "bind", "listen", "connect", "accept4"],
        inet6_loopback,
    ),
    Case::new(
        "socket.epipe_after_close",
        &["socketpair", "sendto", "close"],
        epipe_after_close,
    ),
    Case::new(
        "socket.netlink_route",
        &["socket", "bind", "getsockname"],
        netlink_route,
    ),
    Case::new(
        "socket.sendmmsg_recvmmsg",
        &["sendmmsg", "recvmmsg", "socketpair"],
        sendmmsg_recvmmsg,
    ),
];

fn socketpair_stream(c: &mut Ctx) -> Outcome {
    let (a, b) = c.must("socketpair", sys::socketpair(AF_UNIX, SOCK_STREAM, 0))?;
    c.ret("send", sys::sendto(a, b"abc", 0, None)).ok();
    c.ret("send2", sys::sendto(a, b"def", 0, None)).ok();
    let (d, _) = c.must("recv", sys::recvfrom(b, 100, 0))?;
    c.rec("stream_merges", text(&d));
    c.ret("shutdown_wr", sc!(libc::SYS_shutdown, a, libc::SHUT_WR))
        .ok();
    let (d, _) = c.must("recv_eof", sys::recvfrom(b, 100, 0))?;
    c.eq("eof", d.len(), 0);
    c.errno(
        "send_after_shutdown",
        sys::sendto(a, b"x", libc::MSG_NOSIGNAL, None),
        Errno::EPIPE,
    );
    c.ret("reverse_send", sys::sendto(b, b"back", 0, None)).ok();
    let (d, _) = c.must("reverse_recv", sys::recvfrom(a, 100, 0))?;
    c.eq("reverse", text(&d), "back".into());
    Ok(())
}

fn socketpair_dgram(c: &mut Ctx) -> Outcome {
    let (a, b) = c.must("socketpair", sys::socketpair(AF_UNIX, SOCK_DGRAM, 0))?;
    sys::sendto(a, b"a", 0, None).ok();
    sys::sendto(a, b"bc", 0, None).ok();
    sys::sendto(a, b"", 0, None).ok();
    let mut got = Vec::new();
    for _ in 0..3 {
        let (d, _) = c.must("recv", sys::recvfrom(b, 100, libc::MSG_DONTWAIT))?;
        got.push(text(&d));
    }
    c.rec("messages", got);
    c.errno(
        "recv_empty",
        sys::recvfrom(b, 100, libc::MSG_DONTWAIT),
        Errno::EAGAIN,
    );
    Ok(())
}

fn seqpacket_trunc(c: &mut Ctx) -> Outcome {
    let (a, b) = c.must("socketpair", sys::socketpair(AF_UNIX, SOCK_SEQPACKET, 0))?;
    c.ret("sendmsg", sys::sendmsg_fds(a, b"0123456789", &[]))
        .ok();
    let m = c.must("recvmsg_small", sys::recvmsg(b, 4, 0))?;
    c.rec("data", text(&m.data));
    c.eq("msg_trunc", m.flags & libc::MSG_TRUNC != 0, true);
    c.ret("sendmsg2", sys::sendmsg_fds(a, b"next", &[])).ok();
    let m = c.must("recvmsg_next", sys::recvmsg(b, 100, 0))?;
    c.rec("data2", text(&m.data));
    Ok(())
}

fn scm_rights(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"passed along", 0o644)?;
    let f = open("f", libc::O_RDONLY, 0)?;
    let (a, b) = c.must("socketpair", sys::socketpair(AF_UNIX, SOCK_STREAM, 0))?;
    c.ret("sendmsg", sys::sendmsg_fds(a, b"fd", &[f])).ok();
    sys::close(f);
    let m = c.must("recvmsg", sys::recvmsg(b, 10, 0))?;
    c.rec("data", text(&m.data));
    c.eq("fd_count", m.fds.len(), 1);
    let got = m.fds.first().copied().unwrap_or(-1);
    c.rec("received_fd", got);
    let d = c.must("read_received", sys::read(got, 100))?;
    c.eq("content", text(&d), "passed along".into());
    c.ret("getfd_received", sys::fcntl(got, libc::F_GETFD, 0))
        .ok();
    let m2 = sys::sendmsg_fds(a, b"x", &[9999]);
    c.errno("send_bad_fd", m2, Errno::EBADF);
    Ok(())
}

fn scm_credentials(c: &mut Ctx) -> Outcome {
    let (a, b) = c.must("socketpair", sys::socketpair(AF_UNIX, SOCK_DGRAM, 0))?;
    c.ret(
        "passcred",
        sys::setsockopt_int(b, libc::SOL_SOCKET, libc::SO_PASSCRED, 1),
    )
    .ok();
    c.ret("sendmsg", sys::sendmsg_fds(a, b"who", &[])).ok();
    let m = c.must("recvmsg", sys::recvmsg(b, 10, 0))?;
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    let uid = sc!(libc::SYS_getuid).unwrap_or(0);
    let gid = sc!(libc::SYS_getgid).unwrap_or(0);
    match m.creds {
        Some((p, u, g)) => {
            let who = if i64::from(p) == me {
                "self".to_owned()
            } else if p == 0 {
                "0".to_owned()
            } else {
                "another pid".to_owned()
            };
            c.eq("cred_pid", who, "self".to_owned());
            c.eq("cred_uid", i64::from(u) == uid, true);
            c.eq("cred_gid", i64::from(g) == gid, true);
        }
        None => c.fail("no SCM_CREDENTIALS received".into()),
    }
    Ok(())
}

fn peercred(c: &mut Ctx) -> Outcome {
    let (a, _b) = c.must("socketpair", sys::socketpair(AF_UNIX, SOCK_STREAM, 0))?;
    let (p, u, g) = c.must("so_peercred", sys::peercred(a))?;
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    c.eq("pid_is_self", i64::from(p) == me, true);
    c.eq(
        "uid_is_self",
        i64::from(u) == sc!(libc::SYS_getuid).unwrap_or(-1),
        true,
    );
    c.eq(
        "gid_is_self",
        i64::from(g) == sc!(libc::SYS_getgid).unwrap_or(-1),
        true,
    );
    Ok(())
}

/// An abstract socket name unique to this process (abstract names are per network namespace, and native cases
/// share the host's). Never recorded.
fn abstract_name(tag: &str) -> String {
    format!("capvisor-conf-{tag}-{}", sc!(libc::SYS_getpid).unwrap_or(0))
}

fn sock(c: &mut Ctx, key: &str, domain: i32, ty: i32) -> Result<i32, Stop> {
    c.mustn(key, sc!(libc::SYS_socket, domain, ty, 0)).map(int)
}

fn unix_abstract(c: &mut Ctx) -> Outcome {
    let name = abstract_name("abs");
    let s = sock(c, "socket", AF_UNIX, SOCK_STREAM)?;
    c.ret("bind", sys::bind(s, &Addr::abstract_unix(&name)))
        .ok();
    c.ret("listen", sc!(libc::SYS_listen, s, 4)).ok();
    let cl = sock(c, "client", AF_UNIX, SOCK_STREAM)?;
    c.ret("connect", sys::connect(cl, &Addr::abstract_unix(&name)))
        .ok();
    let a = int(c.mustn("accept4", sys::accept4(s, libc::SOCK_CLOEXEC))?);
    let n = c.must("getsockname", sys::getsockname(s))?;
    c.eq("name_matches", n.unix_path() == format!("@{name}"), true);
    let pn = c.must("client_peername", sys::getpeername(cl))?;
    c.eq("peer_matches", pn.unix_path() == format!("@{name}"), true);
    let cn = c.must("client_sockname", sys::getsockname(cl))?;
    c.rec("client_unnamed", cn.unix_path());
    sys::sendto(cl, b"ping", 0, None).ok();
    let (d, _) = c.must("recv", sys::recvfrom(a, 10, 0))?;
    c.eq("data", text(&d), "ping".into());
    Ok(())
}

fn unix_path(c: &mut Ctx) -> Outcome {
    let s = sock(c, "socket", AF_UNIX, SOCK_STREAM)?;
    c.ret("bind", sys::bind(s, &Addr::unix("sock"))).ok();
    let st = c.must("stat", sys::stat("sock"))?;
    c.rec("type", ftype(st.st_mode));
    c.ret("listen", sc!(libc::SYS_listen, s, 4)).ok();
    let cl = sock(c, "client", AF_UNIX, SOCK_STREAM)?;
    c.ret("connect", sys::connect(cl, &Addr::unix("sock"))).ok();
    let (a, peer) = c.must("accept", sys::accept_addr(s))?;
    c.rec("peer_unnamed", peer.unix_path());
    let n = c.must("getsockname", sys::getsockname(s))?;
    c.rec("sockname", n.unix_path());
    sys::sendto(cl, b"path", 0, None).ok();
    let (d, _) = c.must("recv", sys::recvfrom(a, 10, 0))?;
    c.eq("data", text(&d), "path".into());
    c.ret("unlink", sc!(libc::SYS_unlink, "sock")).ok();
    Ok(())
}

fn unix_connect_errors(c: &mut Ctx) -> Outcome {
    mkfile(c, "plain", b"", 0o644)?;
    let s = sock(c, "socket", AF_UNIX, SOCK_STREAM)?;
    c.errno(
        "missing",
        sys::connect(s, &Addr::unix("nope")),
        Errno::ENOENT,
    );
    c.errno(
        "regular_file",
        sys::connect(s, &Addr::unix("plain")),
        Errno::ECONNREFUSED,
    );
    c.errno(
        "abstract_missing",
        sys::connect(s, &Addr::abstract_unix(&abstract_name("none"))),
        Errno::ECONNREFUSED,
    );
    let d = sock(c, "dgram", AF_UNIX, SOCK_DGRAM)?;
    c.errno(
        "sendto_missing",
        sys::sendto(d, b"x", 0, Some(&Addr::unix("nope"))),
        Errno::ENOENT,
    );
    Ok(())
}

fn unix_bind_errors(c: &mut Ctx) -> Outcome {
    mkfile(c, "plain", b"", 0o644)?;
    let s = sock(c, "socket", AF_UNIX, SOCK_STREAM)?;
    c.errno(
        "bind_existing_file",
        sys::bind(s, &Addr::unix("plain")),
        Errno::EADDRINUSE,
    );
    c.errno(
        "bind_missing_dir",
        sys::bind(s, &Addr::unix("nodir/s")),
        Errno::ENOENT,
    );
    let name = abstract_name("dup");
    c.ret("bind_abstract", sys::bind(s, &Addr::abstract_unix(&name)))
        .ok();
    c.errno(
        "bind_twice",
        sys::bind(s, &Addr::abstract_unix(&abstract_name("dup2"))),
        Errno::EINVAL,
    );
    let t = sock(c, "socket2", AF_UNIX, SOCK_STREAM)?;
    c.errno(
        "bind_abstract_in_use",
        sys::bind(t, &Addr::abstract_unix(&name)),
        Errno::EADDRINUSE,
    );
    Ok(())
}

fn tcp_loopback(c: &mut Ctx) -> Outcome {
    let s = sock(c, "socket", AF_INET, SOCK_STREAM)?;
    c.ret("bind", sys::bind(s, &Addr::inet([127, 0, 0, 1], 0)))
        .ok();
    let n = c.must("getsockname", sys::getsockname(s))?;
    c.eq("ephemeral_port", n.port() != 0, true);
    c.rec("bound_ip", n.ipv4());
    c.ret("listen", sc!(libc::SYS_listen, s, 8)).ok();
    let cl = sock(c, "client", AF_INET, SOCK_STREAM)?;
    c.ret("connect", sys::connect(cl, &n)).ok();
    let a = int(c.mustn("accept4", sys::accept4(s, libc::SOCK_CLOEXEC))?);
    c.ret("accepted_cloexec", sys::fcntl(a, libc::F_GETFD, 0))
        .ok();
    let p = c.must("getpeername", sys::getpeername(a))?;
    c.rec("peer_ip", p.ipv4());
    c.ret("send", sys::sendto(cl, b"over tcp", 0, None)).ok();
    let (d, _) = c.must("recv", sys::recvfrom(a, 100, 0))?;
    c.eq("data", text(&d), "over tcp".into());
    c.ret("shutdown", sc!(libc::SYS_shutdown, cl, libc::SHUT_RDWR))
        .ok();
    let (d, _) = c.must("recv_eof", sys::recvfrom(a, 100, 0))?;
    c.eq("eof", d.len(), 0);
    Ok(())
}

fn udp_loopback(c: &mut Ctx) -> Outcome {
    let a = sock(c, "socket_a", AF_INET, SOCK_DGRAM)?;
    let b = sock(c, "socket_b", AF_INET, SOCK_DGRAM)?;
    c.ret("bind_a", sys::bind(a, &Addr::inet([127, 0, 0, 1], 0)))
        .ok();
    c.ret("bind_b", sys::bind(b, &Addr::inet([127, 0, 0, 1], 0)))
        .ok();
    let na = need("getsockname", sys::getsockname(a))?;
    let nb = need("getsockname", sys::getsockname(b))?;
    c.ret("sendto", sys::sendto(a, b"datagram", 0, Some(&nb)))
        .ok();
    let (d, from) = c.must("recvfrom", sys::recvfrom(b, 100, 0))?;
    c.eq("data", text(&d), "datagram".into());
    c.eq(
        "from_is_a",
        from.port() == na.port() && from.ipv4() == "127.0.0.1",
        true,
    );
    c.ret("connect", sys::connect(b, &na)).ok();
    let p = c.must("getpeername", sys::getpeername(b))?;
    c.eq("peer_is_a", p.port() == na.port(), true);
    c.ret("send_connected", sys::sendto(b, b"reply", 0, None))
        .ok();
    let (d, _) = c.must("recv_reply", sys::recvfrom(a, 100, 0))?;
    c.eq("reply", text(&d), "reply".into());
    Ok(())
}

fn tcp_refused(c: &mut Ctx) -> Outcome {
    let s = sock(c, "socket", AF_INET, SOCK_STREAM)?;
    need("bind", sys::bind(s, &Addr::inet([127, 0, 0, 1], 0)))?;
    let n = need("getsockname", sys::getsockname(s))?;
    let cl = sock(c, "client", AF_INET, SOCK_STREAM)?;
    c.errno(
        "connect_not_listening",
        sys::connect(cl, &n),
        Errno::ECONNREFUSED,
    );
    Ok(())
}

fn tcp_nonblock(c: &mut Ctx) -> Outcome {
    let s = sock(c, "socket", AF_INET, SOCK_STREAM | libc::SOCK_NONBLOCK)?;
    need("bind", sys::bind(s, &Addr::inet([127, 0, 0, 1], 0)))?;
    c.ret("listen", sc!(libc::SYS_listen, s, 1)).ok();
    c.errno("accept_empty", sys::accept4(s, 0), Errno::EAGAIN);
    let n = need("getsockname", sys::getsockname(s))?;
    let cl = sock(c, "client", AF_INET, SOCK_STREAM | libc::SOCK_NONBLOCK)?;
    let r = sys::connect(cl, &n);
    c.check(
        "nonblocking connect succeeds or is in progress",
        r.is_ok() || r == Err(Errno::EINPROGRESS),
    );
    let (_, rev) = c.must("poll_writable", sys::poll(&[(cl, libc::POLLOUT)], 5000))?;
    c.eq(
        "writable",
        rev.first().copied().unwrap_or(0) & libc::POLLOUT != 0,
        true,
    );
    c.ret(
        "so_error",
        sys::getsockopt_int(cl, libc::SOL_SOCKET, libc::SO_ERROR).map(i64::from),
    )
    .ok();
    let a = sys::accept4(s, 0);
    c.st("accept_after_connect", a).ok();
    Ok(())
}

fn options(c: &mut Ctx) -> Outcome {
    let s = sock(c, "socket", AF_INET, SOCK_STREAM)?;
    let get = |o: i32| sys::getsockopt_int(s, libc::SOL_SOCKET, o).map(i64::from);
    c.ret("so_type", get(libc::SO_TYPE)).ok();
    c.ret("so_domain", get(libc::SO_DOMAIN)).ok();
    c.ret("so_protocol", get(libc::SO_PROTOCOL)).ok();
    c.ret("so_reuseaddr_default", get(libc::SO_REUSEADDR)).ok();
    c.ret(
        "set_reuseaddr",
        sys::setsockopt_int(s, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1),
    )
    .ok();
    c.ret("so_reuseaddr", get(libc::SO_REUSEADDR)).ok();
    c.ret(
        "set_rcvbuf",
        sys::setsockopt_int(s, libc::SOL_SOCKET, libc::SO_RCVBUF, 8192),
    )
    .ok();
    c.ret("so_rcvbuf_doubled", get(libc::SO_RCVBUF)).ok();
    c.ret(
        "set_nodelay",
        sys::setsockopt_int(s, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1),
    )
    .ok();
    c.ret(
        "tcp_nodelay",
        sys::getsockopt_int(s, libc::IPPROTO_TCP, libc::TCP_NODELAY).map(i64::from),
    )
    .ok();
    c.ret("so_error", get(libc::SO_ERROR)).ok();
    c.ret("so_acceptconn", get(libc::SO_ACCEPTCONN)).ok();
    c.errno(
        "bad_level",
        sys::getsockopt_int(s, 9999, libc::SO_TYPE),
        Errno::EOPNOTSUPP,
    );
    c.errno(
        "bad_option",
        sys::getsockopt_int(s, libc::SOL_SOCKET, 9999),
        Errno::ENOPROTOOPT,
    );
    c.errno(
        "set_type_readonly",
        sys::setsockopt_int(s, libc::SOL_SOCKET, libc::SO_TYPE, 1),
        Errno::ENOPROTOOPT,
    );
    Ok(())
}

fn errors(c: &mut Ctx) -> Outcome {
    c.errno(
        "bad_domain",
        sc!(libc::SYS_socket, 9999, SOCK_STREAM, 0),
        Errno::EAFNOSUPPORT,
    );
    c.errno(
        "bad_type",
        sc!(libc::SYS_socket, AF_INET, 99, 0),
        Errno::EINVAL,
    );
    c.errno(
        "bad_protocol",
        sc!(libc::SYS_socket, AF_INET, SOCK_STREAM, libc::IPPROTO_UDP),
        Errno::EPROTONOSUPPORT,
    );
    let s = sock(c, "tcp", AF_INET, SOCK_STREAM)?;
    c.errno("recv_unconnected", sys::recvfrom(s, 10, 0), Errno::ENOTCONN);
    c.errno(
        "send_unconnected",
        sys::sendto(s, b"x", libc::MSG_NOSIGNAL, None),
        Errno::EPIPE,
    );
    c.errno(
        "getpeername_unconnected",
        sys::getpeername(s),
        Errno::ENOTCONN,
    );
    let u = sock(c, "udp", AF_INET, SOCK_DGRAM)?;
    c.errno("listen_udp", sc!(libc::SYS_listen, u, 1), Errno::EOPNOTSUPP);
    c.errno(
        "send_udp_no_dest",
        sys::sendto(u, b"x", 0, None),
        Errno::EDESTADDRREQ,
    );
    c.errno(
        "shutdown_bad_how",
        sc!(libc::SYS_shutdown, s, 7),
        Errno::EINVAL,
    );
    c.errno(
        "shutdown_not_socket",
        sc!(libc::SYS_shutdown, 0, libc::SHUT_RD),
        Errno::ENOTSOCK,
    );
    c.errno(
        "bind_bad_family_len",
        sys::bind(s, &Addr(vec![2, 0])),
        Errno::EINVAL,
    );
    Ok(())
}

fn type_flags(c: &mut Ctx) -> Outcome {
    let s = sock(
        c,
        "socket",
        AF_UNIX,
        SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
    )?;
    c.ret("getfd", sys::fcntl(s, libc::F_GETFD, 0)).ok();
    let fl = c.must("getfl", sys::fcntl(s, libc::F_GETFL, 0))?;
    c.eq("nonblock", fl & i64::from(libc::O_NONBLOCK) != 0, true);
    let st = c.must("fstat", sys::fstat(s))?;
    c.rec("type", ftype(st.st_mode));
    c.errno("read_unconnected", sys::read(s, 1), Errno::EINVAL);
    Ok(())
}

fn peek_dontwait(c: &mut Ctx) -> Outcome {
    let (a, b) = need("socketpair", sys::socketpair(AF_UNIX, SOCK_STREAM, 0))?;
    c.errno(
        "dontwait_empty",
        sys::recvfrom(b, 10, libc::MSG_DONTWAIT),
        Errno::EAGAIN,
    );
    sys::sendto(a, b"peekaboo", 0, None).ok();
    let (d, _) = c.must("peek", sys::recvfrom(b, 4, libc::MSG_PEEK))?;
    c.rec("peeked", text(&d));
    let (d, _) = c.must("read", sys::recvfrom(b, 100, 0))?;
    c.rec("read", text(&d));
    let (x, _) = need("socketpair", sys::socketpair(AF_UNIX, SOCK_STREAM, 0))?;
    c.errno(
        "waitall_nonblock_empty",
        sys::recvfrom(x, 4, libc::MSG_DONTWAIT | libc::MSG_WAITALL),
        Errno::EAGAIN,
    );
    Ok(())
}

fn inet6_loopback(c: &mut Ctx) -> Outcome {
    let s = match sc!(libc::SYS_socket, libc::AF_INET6, SOCK_STREAM, 0) {
        Ok(s) => int(s),
        Err(Errno::EAFNOSUPPORT) => return Err(Stop::Skip("no IPv6 on this host".into())),
        Err(e) => return Err(Stop::Fail(format!("socket: {e:?}"))),
    };
    let mut lo = [0u8; 16];
    lo[15] = 1;
    let r = sys::bind(s, &Addr::inet6(lo, 0));
    if r == Err(Errno::EADDRNOTAVAIL) {
        return Err(Stop::Skip("::1 not configured on the host".into()));
    }
    c.ret("bind", r).ok();
    c.ret("listen", sc!(libc::SYS_listen, s, 1)).ok();
    let n = need("getsockname", sys::getsockname(s))?;
    c.rec("family", n.family());
    let cl = int(need(
        "socket",
        sc!(libc::SYS_socket, libc::AF_INET6, SOCK_STREAM, 0),
    )?);
    c.ret("connect", sys::connect(cl, &n)).ok();
    c.st("accept", sys::accept4(s, 0)).ok();
    Ok(())
}

fn epipe_after_close(c: &mut Ctx) -> Outcome {
    let (a, b) = need("socketpair", sys::socketpair(AF_UNIX, SOCK_STREAM, 0))?;
    sys::close(b);
    c.errno(
        "send_nosignal",
        sys::sendto(a, b"x", libc::MSG_NOSIGNAL, None),
        Errno::EPIPE,
    );
    let (d, _) = c.must("recv_eof", sys::recvfrom(a, 10, 0))?;
    c.eq("eof", d.len(), 0);
    Ok(())
}

fn netlink_route(c: &mut Ctx) -> Outcome {
    let s = sock(c, "socket", libc::AF_NETLINK, libc::SOCK_RAW)?;
    let mut addr = vec![0u8; 12];
    addr[..2].copy_from_slice(&libc::AF_NETLINK.to_ne_bytes()[..2]);
    c.ret("bind", sys::bind(s, &Addr(addr))).ok();
    let n = c.must("getsockname", sys::getsockname(s))?;
    c.rec("family", n.family());
    Ok(())
}

fn sendmmsg_recvmmsg(c: &mut Ctx) -> Outcome {
    let (a, b) = need("socketpair", sys::socketpair(AF_UNIX, SOCK_DGRAM, 0))?;
    let (n, lens) = c.must("sendmmsg", sys::sendmmsg(a, &[b"one", b"three", b""]))?;
    c.eq("sent", n, 3);
    c.rec("msg_lens", lens);
    let got = c.must("recvmmsg", sys::recvmmsg(b, 8, 16, libc::MSG_DONTWAIT))?;
    c.rec("received", got.iter().map(|m| text(m)).collect::<Vec<_>>());
    c.errno(
        "recvmmsg_empty",
        sys::recvmmsg(b, 2, 16, libc::MSG_DONTWAIT),
        Errno::EAGAIN,
    );
    Ok(())
}
