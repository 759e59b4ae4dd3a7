//! Network egress rules: parsing, the normalised destination, and the pure decision `decide`.
//!
//! A rule is `[PROTO://]HOST:PORTS`:
//! - PROTO: `tcp` or `udp` (default: both);
//! - HOST: a name (`api.example.com`), a wildcard (`*.example.com`: the subdomains, not the bare domain), an IPv4 or
//!   bracketed IPv6 address, a CIDR (`198.51.100.0/24`, `[2001:db8::/32]`), or `host.loopback` (the host's own
//!   loopback, which inside the sandbox is only reachable through this name);
//! - PORTS: a port, a range `8000-8100`, or `*`.
//!
//! Destinations are normalised before matching: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address.
//! Names match only the names the sandbox's resolver handed out for the address (never a reverse lookup).
//! Link-local addresses, the cloud metadata endpoints and the host's loopback are refused unless a rule names them
//! explicitly (an address or a CIDR inside the sensitive range, or `host.loopback`): a broad CIDR such as `0.0.0.0/0`
//! does not reach them.

#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The network mode of a sandbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Its own network namespace with only loopback.
    #[default]
    None,
    /// Its own network namespace; egress mediated by the sentry from the host's namespace.
    Sandbox,
    /// The host's network namespace; every connect decided and performed by the sentry.
    Host,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Mode::None),
            "sandbox" => Some(Mode::Sandbox),
            "host" => Some(Mode::Host),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Sandbox => "sandbox",
            Mode::Host => "host",
        }
    }
}

/// The transport a destination is reached over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    /// Anything else (ICMP datagram sockets, SCTP): no rule matches it.
    Other,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Other => "other",
        }
    }
}

/// The address the sandbox's resolver gives `host.loopback` (TEST-NET-2 would collide with tests; this is from the
/// reserved 240.0.0.0/4 block, which no network routes).
pub const HOST_LOOPBACK_V4: Ipv4Addr = Ipv4Addr::new(240, 0, 0, 1);
/// The name a rule uses for the host's loopback.
pub const HOST_LOOPBACK_NAME: &str = "host.loopback";

#[derive(Clone, Debug, PartialEq, Eq)]
enum Host {
    /// An exact name, lowercase, without a trailing dot.
    Name(String),
    /// `*.suffix`: names strictly below `suffix`.
    Suffix(String),
    /// An address block (a single address is a /32 or /128).
    Cidr(IpAddr, u8),
    /// `host.loopback`.
    Loopback,
}

/// One allow rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// As written: shown in audit records.
    pub text: String,
    host: Host,
    ports: (u16, u16),
    proto: Option<Proto>,
}

/// Why a rule did not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad network rule {rule:?}: {why} (expected [tcp://|udp://]HOST:PORT, HOST a name, *.domain, an address, a CIDR or host.loopback; PORT a number, LO-HI or *)")]
pub struct RuleError {
    pub rule: String,
    pub why: &'static str,
}

fn bad(rule: &str, why: &'static str) -> RuleError {
    RuleError {
        rule: rule.to_string(),
        why,
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
        })
}

impl Rule {
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let t = text.trim();
        let (proto, rest) = if let Some(r) = t.strip_prefix("tcp://") {
            (Some(Proto::Tcp), r)
        } else if let Some(r) = t.strip_prefix("udp://") {
            (Some(Proto::Udp), r)
        } else if t.contains("://") {
            return Err(bad(text, "the protocol must be tcp or udp"));
        } else {
            (None, t)
        };
        let (host, ports) = if let Some(r) = rest.strip_prefix('[') {
            let (h, p) = r
                .split_once("]:")
                .ok_or_else(|| bad(text, "an IPv6 address needs [ADDR]:PORT"))?;
            (h, p)
        } else {
            rest.rsplit_once(':')
                .ok_or_else(|| bad(text, "missing :PORT"))?
        };
        let ports = match ports {
            "*" => (1, 65535),
            p => {
                let num = |s: &str| {
                    s.parse::<u16>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad(text, "a port is a number from 1 to 65535"))
                };
                match p.split_once('-') {
                    Some((lo, hi)) => {
                        let (lo, hi) = (num(lo)?, num(hi)?);
                        if lo > hi {
                            return Err(bad(text, "a port range must be LO-HI with LO <= HI"));
                        }
                        (lo, hi)
                    }
                    None => {
                        let n = num(p)?;
                        (n, n)
                    }
                }
            }
        };
        let host = parse_host(host).ok_or_else(|| {
            bad(
                text,
                "the host is not a name, *.domain, an address or a CIDR",
            )
        })?;
        Ok(Rule {
            text: t.to_string(),
            host,
            ports,
            proto,
        })
    }

    fn matches_port(&self, port: u16, proto: Proto) -> bool {
        (self.ports.0..=self.ports.1).contains(&port) && self.proto.is_none_or(|p| p == proto)
    }

    /// Is this rule an exact name (to be looked up by the sentry itself in host mode)?
    pub fn exact_name(&self) -> Option<&str> {
        match &self.host {
            Host::Name(n) => Some(n),
            _ => None,
        }
    }

    /// Does this rule allow the name (for the resolver: only allowed names are ever forwarded upstream)?
    pub fn allows_name(&self, name: &str) -> bool {
        match &self.host {
            Host::Name(n) => n == name,
            Host::Suffix(s) => name
                .strip_suffix(s.as_str())
                .is_some_and(|head| head.ends_with('.') && head.len() > 1),
            Host::Loopback => name == HOST_LOOPBACK_NAME,
            Host::Cidr(..) => false,
        }
    }
}

fn parse_host(h: &str) -> Option<Host> {
    let h = h.trim_end_matches('.').to_ascii_lowercase();
    if h == HOST_LOOPBACK_NAME {
        return Some(Host::Loopback);
    }
    if let Some((a, len)) = h.split_once('/') {
        let addr: IpAddr = a.parse().ok()?;
        let len: u8 = len.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return None;
        }
        return Some(Host::Cidr(
            canonical(addr),
            if addr.is_ipv6() && canonical(addr).is_ipv4() {
                len.checked_sub(96)?
            } else {
                len
            },
        ));
    }
    if let Ok(a) = h.parse::<IpAddr>() {
        let a = canonical(a);
        return Some(Host::Cidr(a, if a.is_ipv4() { 32 } else { 128 }));
    }
    if let Some(s) = h.strip_prefix("*.") {
        return valid_name(s).then(|| Host::Suffix(s.to_string()));
    }
    // A name must not look like a half-written address.
    (valid_name(&h) && !h.bytes().all(|b| b.is_ascii_digit() || b == b'.')).then_some(Host::Name(h))
}

/// IPv4-mapped IPv6 is the IPv4 address.
pub fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn in_cidr(a: IpAddr, net: IpAddr, len: u8) -> bool {
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Address blocks refused unless a rule names an address or block inside them: (network, prefix, why).
const SENSITIVE: &[(IpAddr, u8, &str)] = &[
    (
        IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
        32,
        "the cloud metadata endpoint",
    ),
    (
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
        128,
        "the cloud metadata endpoint",
    ),
    (IpAddr::V4(Ipv4Addr::new(169, 254, 0, 0)), 16, "link-local"),
    (
        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)),
        10,
        "link-local",
    ),
    (
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
        8,
        "the host's loopback (name it as host.loopback:PORT)",
    ),
    (
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        128,
        "the host's loopback (name it as host.loopback:PORT)",
    ),
    (
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        8,
        "the host's own addresses",
    ),
    (
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        128,
        "the host's own addresses",
    ),
];

/// One destination as the policy sees it.
#[derive(Clone, Debug)]
pub struct Dest {
    /// Canonical (IPv4-mapped IPv6 is IPv4).
    pub ip: IpAddr,
    pub port: u16,
    pub proto: Proto,
    /// Names the sandbox's resolver handed out for this address.
    pub names: Vec<String>,
}

impl std::fmt::Display for Dest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addr = match self.ip {
            IpAddr::V4(a) => format!("{a}:{}", self.port),
            IpAddr::V6(a) => format!("[{a}]:{}", self.port),
        };
        match self.names.first() {
            Some(n) => write!(f, "{} {addr} ({n})", self.proto.as_str()),
            None => write!(f, "{} {addr}", self.proto.as_str()),
        }
    }
}

/// Where an allowed destination is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The sandbox's own loopback, inside its namespace (no mediation needed beyond the namespace).
    SandboxLoopback,
    /// From the host's namespace, at this address.
    Host(IpAddr, u16),
}

/// The network part of a policy.
#[derive(Clone, Debug, Default)]
pub struct NetPolicy {
    pub mode: Mode,
    pub rules: Vec<Rule>,
    /// The resolver's upstream (`ip:port`); default: the host's first nameserver.
    pub dns_upstream: Option<std::net::SocketAddr>,
    /// `unix:PATH` rules: unix sockets by path at or below these (inside a grant) may be connected to.
    pub unix: Vec<std::path::PathBuf>,
}

impl NetPolicy {
    /// Does some rule allow this name (the resolver's question)?
    pub fn allows_name(&self, name: &str) -> Option<&Rule> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.rules.iter().find(|r| r.allows_name(&name))
    }

    /// Does some rule name the host's loopback?
    pub fn names_host_loopback(&self) -> bool {
        self.rules.iter().any(|r| r.host == Host::Loopback)
    }

    /// The pure decision: (route or errno-less refusal, the rule that decided).
    pub fn decide(&self, d: &Dest) -> (Option<Route>, String) {
        let ip = canonical(d.ip);
        if self.mode != Mode::Host && (ip.is_loopback() || ip.is_unspecified()) {
            // Inside the sandbox's own namespace: its loopback, bounded by the namespace (layer 1).
            return (Some(Route::SandboxLoopback), "sandbox loopback".into());
        }
        if self.mode == Mode::None {
            return (
                None,
                "network mode none: only the sandbox's loopback".into(),
            );
        }
        let host_lo = match self.mode {
            Mode::Sandbox => ip == IpAddr::V4(HOST_LOOPBACK_V4),
            // In the host's namespace its loopback is the host's loopback.
            _ => ip.is_loopback() || ip == IpAddr::V4(HOST_LOOPBACK_V4),
        };
        if host_lo {
            for r in &self.rules {
                if r.host == Host::Loopback && r.matches_port(d.port, d.proto) {
                    // The reserved address means 127.0.0.1; in host mode a loopback address is itself.
                    let to = if ip.is_loopback() {
                        ip
                    } else {
                        IpAddr::V4(Ipv4Addr::LOCALHOST)
                    };
                    return (Some(Route::Host(to, d.port)), format!("allow {}", r.text));
                }
            }
        }
        // In host mode an explicit loopback address rule (`udp://127.0.0.53:53` for a local resolver) names it too:
        // that is the sensitive-block rule below.
        if host_lo && (self.mode != Mode::Host || ip == IpAddr::V4(HOST_LOOPBACK_V4)) {
            return (
                None,
                format!(
                    "the host's loopback port {} is not named by a host.loopback rule",
                    d.port
                ),
            );
        }
        if let Some((_, _, why)) = SENSITIVE.iter().find(|(n, l, _)| in_cidr(ip, *n, *l)) {
            // Only a rule whose block lies inside the sensitive block names it explicitly.
            let named = self.rules.iter().find(|r| match r.host {
                Host::Cidr(n, l) => {
                    r.matches_port(d.port, d.proto)
                        && in_cidr(ip, n, l)
                        && SENSITIVE
                            .iter()
                            .any(|(sn, sl, _)| l >= *sl && in_cidr(n, *sn, *sl))
                }
                _ => false,
            });
            return match named {
                Some(r) => (Some(Route::Host(ip, d.port)), format!("allow {}", r.text)),
                None => (None, format!("{why} is refused unless a rule names it")),
            };
        }
        for r in &self.rules {
            if !r.matches_port(d.port, d.proto) {
                continue;
            }
            let hit = match &r.host {
                Host::Cidr(n, l) => in_cidr(ip, *n, *l),
                Host::Name(_) | Host::Suffix(_) => d.names.iter().any(|n| r.allows_name(n)),
                Host::Loopback => false,
            };
            if hit {
                return (Some(Route::Host(ip, d.port)), format!("allow {}", r.text));
            }
        }
        (None, "no network rule allows it".into())
    }
}

/// The most addresses remembered: a program that resolves without end cannot grow the sentry without bound (the
/// oldest entries go first; a forgotten address is simply matched by address rules alone).
const RESOLVED_MAX: usize = 65536;

/// Names by address, and the addresses in the order they were first seen (the oldest is forgotten first).
type ByIp = (
    std::collections::HashMap<IpAddr, Vec<String>>,
    std::collections::VecDeque<IpAddr>,
);

/// Which allowed names the sandbox's resolver handed out for which addresses.
#[derive(Debug, Default)]
pub struct Resolved {
    by_ip: std::sync::Mutex<ByIp>,
}

impl Resolved {
    /// Remembers that `name` (an allowed name) resolved to `ip`.
    pub fn remember(&self, name: &str, ip: IpAddr) {
        let ip = canonical(ip);
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let Ok(mut g) = self.by_ip.lock() else { return };
        let (map, order) = &mut *g;
        let names = map.entry(ip).or_insert_with(|| {
            order.push_back(ip);
            Vec::new()
        });
        if !names.contains(&name) {
            names.push(name);
        }
        while order.len() > RESOLVED_MAX {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    pub fn names_of(&self, ip: IpAddr) -> Vec<String> {
        self.by_ip
            .lock()
            .ok()
            .and_then(|g| g.0.get(&canonical(ip)).cloned())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pol(mode: Mode, rules: &[&str]) -> NetPolicy {
        NetPolicy {
            mode,
            rules: rules
                .iter()
                .map(|r| Rule::parse(r).expect("rule"))
                .collect(),
            dns_upstream: None,
            unix: vec![],
        }
    }

    fn dest(ip: &str, port: u16, proto: Proto, names: &[&str]) -> Dest {
        Dest {
            ip: ip.parse().expect("ip"),
            port,
            proto,
            names: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn parse_forms_accepted() {
        for r in [
            "api.example.com:443",
            "*.example.com:443",
            "198.51.100.0/24:80",
            "[2001:db8::/32]:443",
            "[::1]:8080",
            "10.0.0.1:8000-8100",
            "udp://9.9.9.9:53",
            "tcp://host.loopback:11434",
            "example.org:*",
        ] {
            assert!(Rule::parse(r).is_ok(), "{r}");
        }
    }

    #[test]
    fn parse_malformed_rejected_naming_rule() {
        for r in [
            "example.com",
            "example.com:0",
            "example.com:70000",
            "example.com:9-3",
            "10.0.0.0/33:80",
            "ftp://x.com:21",
            "*.:80",
            "bad host:80",
            "1.2.3:80",
            "[::1:80",
        ] {
            let e = Rule::parse(r).expect_err(r);
            assert!(e.to_string().contains(r), "{e}");
        }
    }

    #[test]
    fn decide_mapped_ipv6_is_ipv4() {
        let p = pol(Mode::Sandbox, &["198.51.100.0/24:80"]);
        assert!(p
            .decide(&dest("::ffff:198.51.100.7", 80, Proto::Tcp, &[]))
            .0
            .is_some());
        assert!(p
            .decide(&dest("198.51.100.7", 81, Proto::Tcp, &[]))
            .0
            .is_none());
    }

    #[test]
    fn decide_wildcard_matches_resolved_names_only() {
        let p = pol(Mode::Sandbox, &["*.example.com:443"]);
        assert!(p
            .decide(&dest("203.0.113.5", 443, Proto::Tcp, &["api.example.com"]))
            .0
            .is_some());
        assert!(p
            .decide(&dest("203.0.113.5", 443, Proto::Tcp, &["example.com"]))
            .0
            .is_none());
        assert!(p
            .decide(&dest("203.0.113.5", 443, Proto::Tcp, &["evilexample.com"]))
            .0
            .is_none());
        assert!(p
            .decide(&dest("203.0.113.5", 443, Proto::Tcp, &[]))
            .0
            .is_none());
    }

    #[test]
    fn decide_metadata_needs_explicit_rule() {
        let p = pol(Mode::Sandbox, &["0.0.0.0/0:*"]);
        assert!(p
            .decide(&dest("169.254.169.254", 80, Proto::Tcp, &[]))
            .0
            .is_none());
        assert!(p
            .decide(&dest("fd00:ec2::254", 80, Proto::Tcp, &[]))
            .0
            .is_none());
        assert!(p
            .decide(&dest("198.51.100.1", 80, Proto::Tcp, &[]))
            .0
            .is_some());
        let p = pol(Mode::Sandbox, &["169.254.169.254:80"]);
        assert!(p
            .decide(&dest("169.254.169.254", 80, Proto::Tcp, &[]))
            .0
            .is_some());
    }

    #[test]
    fn decide_host_loopback_only_by_name() {
        let p = pol(Mode::Sandbox, &["host.loopback:8080", "0.0.0.0/0:*"]);
        assert_eq!(
            p.decide(&dest("240.0.0.1", 8080, Proto::Tcp, &[])).0,
            Some(Route::Host("127.0.0.1".parse().expect("ip"), 8080))
        );
        assert!(p
            .decide(&dest("240.0.0.1", 8081, Proto::Tcp, &[]))
            .0
            .is_none());
        // Inside the sandbox 127/8 is its own loopback.
        assert_eq!(
            p.decide(&dest("127.0.0.1", 8081, Proto::Tcp, &[])).0,
            Some(Route::SandboxLoopback)
        );
        let h = pol(Mode::Host, &["0.0.0.0/0:*", "host.loopback:8080"]);
        assert!(h
            .decide(&dest("127.0.0.1", 8081, Proto::Tcp, &[]))
            .0
            .is_none());
        assert!(h
            .decide(&dest("::ffff:127.0.0.1", 8081, Proto::Tcp, &[]))
            .0
            .is_none());
        assert!(h.decide(&dest("::1", 8081, Proto::Tcp, &[])).0.is_none());
        assert!(h
            .decide(&dest("127.0.0.1", 8080, Proto::Tcp, &[]))
            .0
            .is_some());
    }

    #[test]
    fn decide_host_mode_explicit_loopback_address_rule() {
        let h = pol(Mode::Host, &["udp://127.0.0.53:53", "0.0.0.0/0:*"]);
        assert!(h
            .decide(&dest("127.0.0.53", 53, Proto::Udp, &[]))
            .0
            .is_some());
        assert!(h
            .decide(&dest("127.0.0.53", 53, Proto::Tcp, &[]))
            .0
            .is_none());
        assert!(h
            .decide(&dest("127.0.0.1", 53, Proto::Udp, &[]))
            .0
            .is_none());
        let s = pol(Mode::Sandbox, &["udp://127.0.0.53:53"]);
        // In sandbox mode 127/8 is the sandbox's own: the rule is moot, the route stays inside.
        assert_eq!(
            s.decide(&dest("127.0.0.53", 53, Proto::Udp, &[])).0,
            Some(Route::SandboxLoopback)
        );
    }

    #[test]
    fn decide_protocol_restricts() {
        let p = pol(Mode::Sandbox, &["udp://198.51.100.1:53"]);
        assert!(p
            .decide(&dest("198.51.100.1", 53, Proto::Udp, &[]))
            .0
            .is_some());
        assert!(p
            .decide(&dest("198.51.100.1", 53, Proto::Tcp, &[]))
            .0
            .is_none());
        assert!(p
            .decide(&dest("198.51.100.1", 53, Proto::Other, &[]))
            .0
            .is_none());
    }

    #[test]
    fn decide_none_mode_refuses_outside() {
        let p = pol(Mode::None, &["0.0.0.0/0:*"]);
        assert!(p
            .decide(&dest("198.51.100.1", 80, Proto::Tcp, &[]))
            .0
            .is_none());
    }
}
