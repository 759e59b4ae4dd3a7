//! The sandbox's resolver (`--net sandbox`): a DNS server at 127.0.0.53:53 (UDP and TCP) *inside* the sandbox's
//! namespace (the sockets are made and bound there by the sandbox's init and handed to the sentry), which the agent's
//! /etc/resolv.conf points at. Questions over TCP (a client's retry after a truncated answer) are forwarded over TCP.
//!
//! - A question for a name no rule allows is answered NXDOMAIN here and never forwarded: nothing about it leaves the
//!   machine, so DNS tunnelling through disallowed names is impossible.
//! - `host.loopback` is answered with the reserved address the sentry maps to the host's loopback, when a rule names
//!   it (NXDOMAIN otherwise).
//! - An allowed name is forwarded, as asked, to the upstream (the host's first nameserver, or `dns_upstream`) from the
//!   sentry's own socket in the host's namespace; the A and AAAA records of the answer are remembered as addresses of
//!   that name (`Resolved`), which is what `*.domain` and name rules are matched against at connect time.
//!
//! The codec is our own and small: a question is parsed (uncompressed name, as every stub resolver sends it), an
//! answer is only walked to collect A/AAAA records (compression pointers skipped, bounds checked). A DNS crate
//! (hickory-proto, simple-dns) would bring a much larger parser into the sentry for these two operations.

#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::policy::net_rules::{NetPolicy, Resolved, HOST_LOOPBACK_NAME, HOST_LOOPBACK_V4};

/// The resolver's address inside the sandbox.
pub const RESOLVER_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 53);

/// The /etc/resolv.conf the agent sees.
pub const RESOLV_CONF: &str = "# capvisor: the sandbox's resolver (answers only names the policy allows)\nnameserver 127.0.0.53\noptions edns0 trust-ad\n";

/// Questions being forwarded at once (each on its own thread); more are dropped, and the client retries.
const IN_FLIGHT_MAX: usize = 64;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_SERVFAIL: u8 = 2;
const RCODE_FORMERR: u8 = 1;

/// A parsed question.
#[derive(Debug, PartialEq, Eq)]
pub struct Question {
    pub id: u16,
    /// Lowercase, dotted, no trailing dot.
    pub name: String,
    pub qtype: u16,
    /// Where the question section ends (header + question).
    pub end: usize,
}

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// Parses a query: exactly one question, no compression in its name.
pub fn parse_question(q: &[u8]) -> Option<Question> {
    if q.len() < 12 || q[2] & 0x80 != 0 || be16(q, 4)? != 1 {
        return None;
    }
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*q.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let l = q.get(i..i + len)?;
        labels.push(String::from_utf8_lossy(l).to_ascii_lowercase());
        i += len;
        if i > 12 + 255 {
            return None;
        }
    }
    let qtype = be16(q, i)?;
    be16(q, i + 2)?;
    Some(Question {
        id: be16(q, 0)?,
        name: labels.join("."),
        qtype,
        end: i + 4,
    })
}

/// An answer made here: the question echoed, `rcode`, and an A record when `a` is given.
pub fn answer(query: &[u8], q: &Question, rcode: u8, a: Option<Ipv4Addr>) -> Vec<u8> {
    let mut r = Vec::with_capacity(q.end + 16);
    r.extend_from_slice(&q.id.to_be_bytes());
    // QR, opcode 0, AA, RD copied; RA; rcode.
    let rd = query.get(2).copied().unwrap_or(0) & 0x01;
    r.push(0x84 | rd);
    r.push(0x80 | (rcode & 0x0f));
    r.extend_from_slice(&1u16.to_be_bytes());
    r.extend_from_slice(&u16::from(a.is_some()).to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(query.get(12..q.end).unwrap_or(&[]));
    if let Some(ip) = a {
        r.extend_from_slice(&[0xc0, 12]); // the question's name
        r.extend_from_slice(&TYPE_A.to_be_bytes());
        r.extend_from_slice(&1u16.to_be_bytes());
        r.extend_from_slice(&0u32.to_be_bytes());
        r.extend_from_slice(&4u16.to_be_bytes());
        r.extend_from_slice(&ip.octets());
    }
    r
}

fn skip_name(b: &[u8], mut i: usize) -> Option<usize> {
    for _ in 0..128 {
        let len = *b.get(i)?;
        if len & 0xc0 == 0xc0 {
            return Some(i + 2);
        }
        if len == 0 {
            return Some(i + 1);
        }
        i += 1 + usize::from(len);
    }
    None
}

/// The A and AAAA addresses in an upstream answer.
pub fn addresses(resp: &[u8]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let (Some(qd), Some(an)) = (be16(resp, 4), be16(resp, 6)) else {
        return out;
    };
    let mut i = 12;
    for _ in 0..qd {
        match skip_name(resp, i) {
            Some(j) => i = j + 4,
            None => return out,
        }
    }
    for _ in 0..an {
        let Some(j) = skip_name(resp, i) else { break };
        let (Some(ty), Some(len)) = (be16(resp, j), be16(resp, j + 8)) else {
            break;
        };
        let data = j + 10;
        let Some(rd) = resp.get(data..data + usize::from(len)) else {
            break;
        };
        match (ty, rd.len()) {
            (TYPE_A, 4) => out.push(IpAddr::V4(Ipv4Addr::new(rd[0], rd[1], rd[2], rd[3]))),
            (TYPE_AAAA, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rd);
                out.push(IpAddr::V6(Ipv6Addr::from(b)));
            }
            _ => {}
        }
        i = data + usize::from(len);
    }
    out
}

/// The host's first nameserver (port 53), for when the policy names no upstream.
pub fn host_upstream() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .find_map(|v| v.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
}

/// Forwards one query upstream from a fresh socket of the sentry's namespace; the matching answer, if any.
fn forward(query: &[u8], id: u16, upstream: SocketAddr) -> Option<Vec<u8>> {
    let bind: SocketAddr = if upstream.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect(upstream).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut buf = vec![0u8; 4096];
    for _ in 0..2 {
        s.send(query).ok()?;
        while let Ok(n) = s.recv(&mut buf) {
            if be16(&buf[..n], 0) == Some(id) {
                return Some(buf[..n].to_vec());
            }
        }
    }
    None
}

/// Forwards one query upstream over TCP (two-byte length prefix each way).
fn forward_tcp(query: &[u8], id: u16, upstream: SocketAddr) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&upstream, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let len = u16::try_from(query.len()).ok()?;
    s.write_all(&[&len.to_be_bytes()[..], query].concat())
        .ok()?;
    let resp = read_framed(&mut s)?;
    (be16(&resp, 0) == Some(id)).then_some(resp)
}

/// One length-prefixed DNS message from a TCP stream.
fn read_framed(s: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut m = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut m).ok()?;
    Some(m)
}

/// What the resolver answers one query with (None: drop it). `tcp`: the question came over TCP, and is forwarded so.
fn respond(
    query: &[u8],
    net: &NetPolicy,
    resolved: &Resolved,
    upstream: Option<SocketAddr>,
    tcp: bool,
) -> Option<Vec<u8>> {
    let Some(q) = parse_question(query) else {
        // Not one plain question: FORMERR when there is a header to answer, else nothing.
        let id = be16(query, 0)?;
        let mut r = id.to_be_bytes().to_vec();
        r.extend_from_slice(&[0x80, 0x80 | RCODE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0]);
        return Some(r);
    };
    if q.name == HOST_LOOPBACK_NAME {
        return Some(if net.names_host_loopback() {
            let a = (q.qtype == TYPE_A).then_some(HOST_LOOPBACK_V4);
            resolved.remember(HOST_LOOPBACK_NAME, IpAddr::V4(HOST_LOOPBACK_V4));
            answer(query, &q, 0, a)
        } else {
            answer(query, &q, RCODE_NXDOMAIN, None)
        });
    }
    if net.allows_name(&q.name).is_none() {
        tracing::debug!(name = %q.name, "resolver: not allowed, NXDOMAIN");
        return Some(answer(query, &q, RCODE_NXDOMAIN, None));
    }
    let Some(up) = upstream else {
        return Some(answer(query, &q, RCODE_SERVFAIL, None));
    };
    let forwarded = if tcp {
        forward_tcp(query, q.id, up)
    } else {
        forward(query, q.id, up)
    };
    match forwarded {
        Some(resp) => {
            for ip in addresses(&resp) {
                resolved.remember(&q.name, ip);
            }
            Some(resp)
        }
        None => Some(answer(query, &q, RCODE_SERVFAIL, None)),
    }
}

/// Serves the sandbox's resolver on `socks` (a UDP socket and a TCP listener, bound in the sandbox's namespace)
/// until the sandbox ends.
pub fn start(socks: Vec<OwnedFd>, net: NetPolicy, resolved: Arc<Resolved>) -> std::io::Result<()> {
    let upstream = net.dns_upstream.or_else(host_upstream);
    let shared = Arc::new(Shared {
        net,
        resolved,
        upstream,
        in_flight: AtomicUsize::new(0),
    });
    for fd in socks {
        let stream = crate::sys::getsockopt_int(
            std::os::fd::AsFd::as_fd(&fd),
            libc::SOL_SOCKET,
            libc::SO_TYPE,
        )
        .map_err(std::io::Error::from)?
            == libc::SOCK_STREAM;
        let sh = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("sentry-dns".into())
            .spawn(move || {
                let _ = crate::sys::drop_effective_caps_this_thread();
                if stream {
                    serve_tcp(&TcpListener::from(fd), &sh);
                } else {
                    serve_udp(&UdpSocket::from(fd), &sh);
                }
            })?;
    }
    Ok(())
}

/// What every resolver thread shares.
struct Shared {
    net: NetPolicy,
    resolved: Arc<Resolved>,
    upstream: Option<SocketAddr>,
    in_flight: AtomicUsize,
}

/// Runs `job` on its own thread unless IN_FLIGHT_MAX are running (then drops it: the client retries).
fn spawn_bounded(sh: &Arc<Shared>, job: impl FnOnce(&Shared) + Send + 'static) {
    if sh.in_flight.fetch_add(1, Ordering::AcqRel) >= IN_FLIGHT_MAX {
        sh.in_flight.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let sh2 = Arc::clone(sh);
    let spawned = std::thread::Builder::new()
        .name("sentry-dns-q".into())
        .spawn(move || {
            let _ = crate::sys::drop_effective_caps_this_thread();
            job(&sh2);
            sh2.in_flight.fetch_sub(1, Ordering::AcqRel);
        });
    if spawned.is_err() {
        sh.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

fn serve_udp(sock: &UdpSocket, sh: &Arc<Shared>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            return;
        };
        let query = buf[..n].to_vec();
        let Ok(reply) = sock.try_clone() else {
            continue;
        };
        spawn_bounded(sh, move |sh| {
            if let Some(r) = respond(&query, &sh.net, &sh.resolved, sh.upstream, false) {
                let _ = reply.send_to(&r, from);
            }
        });
    }
}

fn serve_tcp(listener: &TcpListener, sh: &Arc<Shared>) {
    loop {
        let Ok((mut c, _)) = listener.accept() else {
            return;
        };
        spawn_bounded(sh, move |sh| {
            let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
            // A client may send several questions on one connection.
            while let Some(query) = read_framed(&mut c) {
                let Some(r) = respond(&query, &sh.net, &sh.resolved, sh.upstream, true) else {
                    return;
                };
                let Ok(len) = u16::try_from(r.len()) else {
                    return;
                };
                if c.write_all(&[&len.to_be_bytes()[..], &r].concat()).is_err() {
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::net_rules::{Mode, Rule};

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            q.push(u8::try_from(l.len()).expect("short"));
            q.extend_from_slice(l.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        q
    }

    fn pol(rules: &[&str]) -> NetPolicy {
        NetPolicy {
            mode: Mode::Sandbox,
            rules: rules
                .iter()
                .map(|r| Rule::parse(r).expect("rule"))
                .collect(),
            dns_upstream: None,
            unix: vec![],
        }
    }

    #[test]
    fn parse_question_lowercases_name() {
        let q = parse_question(&query("API.Example.com", TYPE_A)).expect("parses");
        assert_eq!(q.name, "api.example.com");
        assert_eq!(q.qtype, TYPE_A);
        assert_eq!(q.id, 0x1234);
    }

    #[test]
    fn respond_disallowed_is_nxdomain_without_upstream() {
        let p = pol(&["*.example.com:443"]);
        let q = query("evil.attacker.net", TYPE_A);
        // An upstream that would fail the test if contacted: none is given, and NXDOMAIN comes back anyway.
        let r = respond(&q, &p, &Resolved::default(), None, false).expect("answer");
        assert_eq!(r[3] & 0x0f, RCODE_NXDOMAIN);
        assert_eq!(be16(&r, 0), Some(0x1234));
    }

    #[test]
    fn respond_host_loopback_only_when_named() {
        let q = query("host.loopback", TYPE_A);
        let r = respond(
            &q,
            &pol(&["host.loopback:8080"]),
            &Resolved::default(),
            None,
            false,
        )
        .expect("answer");
        assert_eq!(addresses(&r), vec![IpAddr::V4(HOST_LOOPBACK_V4)]);
        let r = respond(&q, &pol(&[]), &Resolved::default(), None, false).expect("answer");
        assert_eq!(r[3] & 0x0f, RCODE_NXDOMAIN);
    }

    #[test]
    fn parse_question_garbage_is_none() {
        assert!(parse_question(&[0u8; 5]).is_none());
        assert!(parse_question(&[0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 200]).is_none());
    }
}
