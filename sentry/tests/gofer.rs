//! The gofer, judged from outside the sandbox: it serves the agent's host file changes (its own counters say so), it
//! is confined (its /proc entry says so), killing it stops the sandbox with nothing written afterwards, and no route to
//! a secret outside the grants or to a denied file inside one reads or writes it.
//!
//! The attack script is never run natively: as root it would succeed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{have, kill_group, run_sandboxed, sandbox_command, wait_until, TempDir};
use serde_json::Value;

fn audit_records(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn lifecycle<'a>(recs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["kind"] == kind).collect()
}

fn unique(label: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("CAPVISOR-{label}-{}-{nanos}", std::process::id())
}

/// Every kind of change a program makes to its workspace is performed by the gofer, and counted there.
#[test]
fn gofer_serves_every_change_and_counts_it() {
    if !have("/usr/bin/python3") {
        return;
    }
    let ws = TempDir::new("gofer-served");
    let audit = ws.join("../").join(format!(
        "{}.audit",
        ws.path()
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("x")
    ));
    let script = r#"
import os
open("a", "w").write("one\n")
with open("a", "a") as f: f.write("two\n")
os.mkdir("d")
os.rename("a", "d/b")
os.link("d/b", "c")
os.symlink("d/b", "s")
os.chmod("c", 0o640)
os.truncate("c", 4)
os.utime("c", (1000000000, 1000000000))
os.mkfifo("p")
os.setxattr("d/b", "user.k", b"v")
os.removexattr("d/b", "user.k")
os.unlink("p")
os.unlink("s")
os.mkdir("e"); os.rmdir("e")
with open("/tmp/t", "w") as f: f.write("tmp\n")
print(open("d/b").read().strip(), open("c").read(), oct(os.stat("c").st_mode & 0o777), os.stat("c").st_mtime)
"#;
    let audit_arg = format!("--audit={}", audit.display());
    let out = run_sandboxed(
        &[&audit_arg],
        &["/usr/bin/python3", "-c", script],
        ws.path(),
    );
    let recs = audit_records(&audit);
    let _ = std::fs::remove_file(&audit);
    assert_eq!(out.code, 0, "{out}");
    // c is a hard link of d/b, truncated to its first line.
    assert_eq!(out.stdout.trim(), "one one\n 0o640 1000000000.0", "{out}");
    // Judged on the host: the changes landed.
    assert_eq!(
        std::fs::read_to_string(ws.join("d/b")).ok().as_deref(),
        Some("one\n")
    );
    assert!(!ws.join("a").exists() && !ws.join("p").exists() && !ws.join("e").exists());
    let gofer = lifecycle(&recs, "gofer");
    assert_eq!(gofer.len(), 1, "one gofer record at exit: {recs:?}");
    let served = &gofer[0]["served"];
    for op in [
        "open",
        "mkdir",
        "rename",
        "link",
        "symlink",
        "chmod",
        "utimens",
        "truncate",
        "mknod",
        "setxattr",
        "removexattr",
        "unlink",
    ] {
        assert!(
            served[op].as_u64().unwrap_or(0) >= 1,
            "the gofer did not serve {op}: {served}"
        );
    }
    // The sandbox record names the gofer, a process of its own.
    let start = lifecycle(&recs, "sandbox_start");
    assert!(start[0]["gofer_pid"].as_i64().unwrap_or(0) > 0, "{start:?}");
}

/// The gofer's own confinement, read from the host's /proc while it runs.
#[test]
fn gofer_is_confined() {
    let ws = TempDir::new("gofer-confined");
    let audit = std::path::PathBuf::from(format!("{}.audit", ws.str()));
    let audit_arg = format!("--audit={}", audit.display());
    let mut child = sandbox_command(&[&audit_arg], &["sleep", "30"], ws.path())
        .spawn()
        .expect("spawn sentry");
    let mut pid = 0;
    let found = wait_until(Duration::from_secs(20), || {
        pid = lifecycle(&audit_records(&audit), "sandbox_start")
            .first()
            .and_then(|r| r["gofer_pid"].as_i64())
            .unwrap_or(0);
        pid > 0
    });
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    let ns = |p: i64, n: &str| std::fs::read_link(format!("/proc/{p}/ns/{n}")).ok();
    let me = i64::from(std::process::id().cast_signed());
    let separate: Vec<&str> = ["mnt", "net", "pid", "user", "ipc", "uts"]
        .into_iter()
        .filter(|n| ns(pid, n).is_some() && ns(pid, n) != ns(me, n))
        .collect();
    kill_group(&child);
    let _ = child.wait();
    let _ = std::fs::remove_file(&audit);
    assert!(found, "no gofer pid in the audit log");
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map(str::trim)
            .unwrap_or("?")
            .to_string()
    };
    assert_eq!(field("CapEff:"), "0000000000000000", "{status}");
    assert_eq!(field("CapPrm:"), "0000000000000000", "{status}");
    assert_eq!(field("CapBnd:"), "0000000000000000", "{status}");
    assert_eq!(field("NoNewPrivs:"), "1", "{status}");
    assert_eq!(field("Seccomp:"), "2", "{status}");
    assert_eq!(
        separate,
        ["mnt", "net", "pid", "user", "ipc", "uts"],
        "namespaces"
    );
    // Its mounts: its own root and the grant roots, nothing else (no /proc, no /home, no /var).
    let points: Vec<&str> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .collect();
    assert_eq!(points.first(), Some(&"/"), "{mountinfo}");
    for p in &points[1..] {
        let granted = [
            "/usr",
            "/bin",
            "/sbin",
            "/lib",
            "/lib64",
            "/etc",
            "/sys/devices/system/cpu",
        ]
        .iter()
        .any(|g| p.starts_with(g))
            || p.starts_with(ws.str());
        assert!(
            granted,
            "the gofer sees {p}, which is not a grant:\n{mountinfo}"
        );
    }
    // Running as the invoking user.
    let uid = field("Uid:");
    assert!(
        uid.split_whitespace()
            .all(|u| u == nix::unistd::getuid().to_string()),
        "{uid}"
    );
}

/// Killing the gofer stops the sandbox: non-zero exit, an integrity record, and nothing written afterwards.
#[test]
fn killing_the_gofer_stops_the_agent_and_nothing_is_written_after() {
    let ws = TempDir::new("gofer-kill");
    let audit = std::path::PathBuf::from(format!("{}.audit", ws.str()));
    let audit_arg = format!("--audit={}", audit.display());
    // Each iteration opens the file anew (through the gofer) and appends a line.
    let script = "i=0; while :; do i=$((i+1)); echo $i >> counter; done";
    let mut child = sandbox_command(&[&audit_arg], &["sh", "-c", script], ws.path())
        .spawn()
        .expect("spawn sentry");
    let counter = ws.join("counter");
    let running = wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(&counter).is_ok_and(|s| s.lines().count() > 200)
    });
    let pid = lifecycle(&audit_records(&audit), "sandbox_start")
        .first()
        .and_then(|r| r["gofer_pid"].as_i64())
        .unwrap_or(0);
    if !running || pid <= 0 {
        kill_group(&child);
        let _ = child.wait();
        panic!("the writer never got going (running={running}, gofer pid {pid})");
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid")),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the gofer");
    let mut status = None;
    let exited = wait_until(Duration::from_secs(10), || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    if !exited {
        kill_group(&child);
        let _ = child.wait();
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    let at_exit = std::fs::read_to_string(&counter).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(700));
    let later = std::fs::read_to_string(&counter).unwrap_or_default();
    let recs = audit_records(&audit);
    let _ = std::fs::remove_file(&audit);
    assert!(
        exited,
        "the sentry did not stop within 10 s of the gofer's death"
    );
    let code = status.map(common::shell_code).unwrap_or(-1);
    assert_eq!(code, 125, "exit code; stderr: {stderr}");
    assert!(stderr.contains("gofer"), "no clear message: {stderr:?}");
    assert_eq!(
        at_exit, later,
        "the file changed after the sandbox was stopped"
    );
    let integrity = lifecycle(&recs, "integrity");
    assert!(
        integrity
            .iter()
            .any(|r| r["event"].as_str().is_some_and(|e| e.contains("gofer"))),
        "no integrity record: {integrity:?}"
    );
    let exit = lifecycle(&recs, "sandbox_exit");
    assert_eq!(
        exit.last().map(|r| r["exit_code"].clone()),
        Some(Value::from(125))
    );
}

const ESCAPE: &str = r#"
import ctypes, json, os, sys, threading
OUT, WS, SUB = sys.argv[1], sys.argv[2], sys.argv[3]
secret = os.path.join(OUT, "secret.txt")
denied = os.path.join(WS, ".env")
libc = ctypes.CDLL(None, use_errno=True)

def rel(p, start=WS):
    return os.path.relpath(p, start)

def attempt(name, fn):
    try:
        got = fn()
        print(json.dumps({"name": name, "ran": True, "result": "ok", "data": got if isinstance(got, str) else ""}))
    except OSError as e:
        print(json.dumps({"name": name, "ran": True, "result": "errno %d" % e.errno}))
    sys.stdout.flush()

def read(p, **kw):
    fd = os.open(p, os.O_RDONLY, **kw)
    try:
        return os.read(fd, 200).decode(errors="replace")
    finally:
        os.close(fd)

def write(p, **kw):
    fd = os.open(p, os.O_WRONLY | os.O_APPEND, **kw)
    try:
        os.write(fd, b"PWNED\n")
        return "wrote"
    finally:
        os.close(fd)

class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]

def openat2(dirfd, p, flags, resolve):
    how = OpenHow(flags, 0, resolve)
    fd = libc.syscall(437, dirfd, p.encode(), ctypes.byref(how), ctypes.sizeof(how))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "openat2")
    try:
        return os.read(fd, 200).decode(errors="replace") if flags & 3 == 0 else (os.write(fd, b"PWNED\n") and "wrote")
    finally:
        os.close(fd)

wsfd = os.open(WS, os.O_RDONLY | os.O_DIRECTORY)
for label, target in (("secret", secret), ("denied", denied)):
    for verb, op in (("read", read), ("write", write)):
        n = label + "/" + verb + "/"
        attempt(n + "direct", lambda: op(target))
        attempt(n + "dotdot", lambda: op("a/../" * 3 + "../" * 12 + target.lstrip("/")))
        try: os.symlink(target, "abs_" + label + verb)
        except OSError: pass
        attempt(n + "symlink-absolute", lambda: op("abs_" + label + verb))
        try: os.symlink(rel(target), "rel_" + label + verb)
        except OSError: pass
        attempt(n + "symlink-relative", lambda: op("rel_" + label + verb))
        attempt(n + "hardlink", lambda: (os.link(target, "hl_" + label + verb), op("hl_" + label + verb))[1])
        attempt(n + "proc-self-root", lambda: op("/proc/self/root" + target))
        attempt(n + "proc-self-cwd", lambda: op("/proc/self/cwd/" + rel(target)))
        attempt(n + "proc-self-fd", lambda: op("/proc/self/fd/%d/%s" % (wsfd, rel(target))))
        attempt(n + "proc-1-root", lambda: op("/proc/1/root" + target))
        attempt(n + "dirfd", lambda: op(rel(target), dir_fd=wsfd))
        flags = os.O_RDONLY if verb == "read" else os.O_WRONLY | os.O_APPEND
        for rname, rflag in (("none", 0), ("beneath", 0x08), ("in-root", 0x10)):
            attempt(n + "openat2-" + rname + "-abs", lambda: openat2(wsfd, target, flags, rflag))
            attempt(n + "openat2-" + rname + "-rel", lambda: openat2(wsfd, rel(target), flags, rflag))

# A rename of granted directories while walks through them are in flight.
os.makedirs("r/a/b", exist_ok=True)
stop = False
def flipper():
    while not stop:
        try:
            os.rename("r/a/b", "r/b")
            os.rename("r/b", "r/a/b")
        except OSError:
            pass
t = threading.Thread(target=flipper); t.start()
leaks = 0
for i in range(3000):
    for p in ("r/a/b/../../../" + rel(denied), "r/a/b/" + "../" * 14 + secret.lstrip("/")):
        try:
            d = read(p)
            if "SECRET" in d:
                leaks += 1
                print(json.dumps({"name": "rename-race", "ran": True, "result": "ok", "data": d}))
        except OSError:
            pass
stop = True; t.join()
print(json.dumps({"name": "rename-race", "ran": True, "result": "leaks %d" % leaks}))

# A symlink swapped in a race, thousands of times.
open("innocent", "w").write("innocent\n")
stop = False
def swapper():
    while not stop:
        for tgt in ("innocent", secret, denied):
            try:
                os.symlink(tgt, "sw.tmp"); os.rename("sw.tmp", "sw")
            except OSError:
                try: os.unlink("sw.tmp")
                except OSError: pass
t = threading.Thread(target=swapper); t.start()
leaks = 0
for i in range(5000):
    try:
        d = read("sw")
        if "SECRET" in d:
            leaks += 1
            print(json.dumps({"name": "symlink-race", "ran": True, "result": "ok", "data": d}))
    except OSError:
        pass
    try:
        write("sw")
    except OSError:
        pass
stop = True; t.join()
print(json.dumps({"name": "symlink-race", "ran": True, "result": "leaks %d" % leaks}))

# O_CREAT through dangling symlinks: outside the grants (absolute and relative) and onto a denied name.
for name, tgt in (("dangling-abs", os.path.join(OUT, "created-abs")),
                  ("dangling-rel", rel(os.path.join(OUT, "created-rel"))),
                  ("dangling-denied", os.path.join(WS, SUB, ".env"))):
    try: os.symlink(tgt, name)
    except OSError: pass
    attempt("ocreat/" + name, lambda: (os.close(os.open(name, os.O_WRONLY | os.O_CREAT, 0o644)), "created")[1])

# A device node.
attempt("mknod/char-device", lambda: (os.mknod("devnull", 0o20666, os.makedev(1, 3)), "made")[1])
attempt("mknod/block-device", lambda: (os.mknod("devblk", 0o60666, os.makedev(7, 0)), "made")[1])
"#;

/// Every route the issue lists to a secret outside the grants, and to a denied file inside one: none reads or writes.
#[test]
fn no_route_reads_or_writes_a_secret_or_a_denied_file() {
    if !have("/usr/bin/python3") {
        return;
    }
    let out_dir = TempDir::new_in(Path::new("/var/tmp"), "gofer-escape-out");
    let ws = TempDir::new("gofer-escape-ws");
    let secret = unique("OUTSIDE-SECRET");
    let denied = unique("DENIED-SECRET");
    out_dir.write("secret.txt", &format!("{secret}\n"));
    ws.write(".env", &format!("{denied}\n"));
    std::fs::create_dir(ws.join("sub")).expect("mkdir sub");
    let before_out = listing(out_dir.path());
    let out = run_sandboxed(
        &["--deny", "**/.env"],
        &[
            "/usr/bin/python3",
            "-c",
            ESCAPE,
            out_dir.str(),
            ws.str(),
            "sub",
        ],
        ws.path(),
    );
    // Judged from outside: no secret in anything the agent printed, the files unchanged, nothing created.
    assert!(
        !out.stdout.contains(&secret) && !out.stderr.contains(&secret),
        "{out}"
    );
    assert!(
        !out.stdout.contains(&denied) && !out.stderr.contains(&denied),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("secret.txt")).ok(),
        Some(format!("{secret}\n"))
    );
    assert_eq!(
        std::fs::read_to_string(ws.join(".env")).ok(),
        Some(format!("{denied}\n"))
    );
    assert_eq!(
        listing(out_dir.path()),
        before_out,
        "something was created outside the grants"
    );
    assert!(
        !ws.join("sub/.env").exists(),
        "a denied name was created through a symlink"
    );
    assert!(
        !ws.join("devnull").exists() && !ws.join("devblk").exists(),
        "a device node was made"
    );
    // Every attack ran (so the test is not vacuous) and none succeeded.
    let recs: Vec<Value> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for r in &recs {
        let name = r["name"].as_str().unwrap_or("?").to_string();
        let result = r["result"].as_str().unwrap_or("?").to_string();
        assert!(r["ran"] == true, "{r}");
        by_name.insert(name, result);
    }
    // 2 targets × 2 verbs × (10 routes + 6 openat2 variants), 2 races, 3 dangling symlinks, 2 device nodes.
    assert_eq!(
        by_name.len(),
        2 * 2 * 16 + 2 + 3 + 2,
        "attacks that ran: {by_name:#?}\n{out}"
    );
    for (name, result) in &by_name {
        let failed = result.starts_with("errno") || result == "leaks 0";
        assert!(failed, "{name}: {result}\n{out}");
    }
    eprintln!("{} attacks, all refused", by_name.len());
}

fn listing(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// SQLite in WAL mode on a workspace file: two processes write 10,000 rows in transactions; the database passes
/// `PRAGMA integrity_check` (checked again natively afterwards, on the host).
#[test]
fn sqlite_wal_two_writers_10000_rows_integrity_ok() {
    if !have("/usr/bin/python3") {
        return;
    }
    let ws = TempDir::new("gofer-sqlite");
    let script = r#"
import os, sqlite3, sys
db = "work.db"
c = sqlite3.connect(db); c.execute("PRAGMA journal_mode=WAL"); c.execute("CREATE TABLE t (w INTEGER, i INTEGER)"); c.commit(); c.close()
pids = []
for w in range(2):
    pid = os.fork()
    if pid == 0:
        c = sqlite3.connect(db, timeout=60)
        for batch in range(50):
            with c:
                c.executemany("INSERT INTO t VALUES (?, ?)", [(w, batch * 100 + k) for k in range(100)])
        c.close()
        os._exit(0)
    pids.append(pid)
ok = all(os.waitpid(p, 0)[1] == 0 for p in pids)
c = sqlite3.connect(db)
print(ok, c.execute("PRAGMA journal_mode").fetchone()[0], c.execute("SELECT count(*) FROM t").fetchone()[0],
      c.execute("PRAGMA integrity_check").fetchone()[0])
"#;
    let out = run_sandboxed(&[], &["/usr/bin/python3", "-c", script], ws.path());
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout.trim(), "True wal 10000 ok", "{out}");
    let host = common::run_native(
        &[
            "/usr/bin/python3",
            "-c",
            "import sqlite3; c = sqlite3.connect('work.db'); print(c.execute('PRAGMA integrity_check').fetchone()[0], c.execute('SELECT count(*) FROM t').fetchone()[0])",
        ],
        ws.path(),
    );
    assert_eq!(host.stdout.trim(), "ok 10000", "{host}");
}

/// A directory of 100,000 entries lists completely (and the listing matches the host's).
#[test]
fn large_directory_lists_every_entry() {
    let ws = TempDir::new("gofer-bigdir");
    let big = ws.join("big");
    std::fs::create_dir(&big).expect("mkdir");
    for i in 0..100_000 {
        std::fs::File::create(big.join(format!("f{i:06}"))).expect("create");
    }
    let out = run_sandboxed(&[], &["sh", "-c", "ls -f big | grep -c '^f'"], ws.path());
    assert_eq!(out.stdout.trim(), "100000", "{out}");
}

/// O_TMPFILE then linkat: an unnamed file made visible; inotify on a granted directory sees changes made inside and
/// outside the sandbox.
#[test]
fn tmpfile_link_and_inotify_inside_and_outside() {
    if !have("/usr/bin/python3") {
        return;
    }
    let ws = TempDir::new("gofer-inotify");
    let script = r#"
import ctypes, os, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o600)
os.write(fd, b"anon\n")
r = libc.linkat(fd, b"", -100, b"named", 0x1000)
if r != 0:
    os.link("/proc/self/fd/%d" % fd, "named", follow_symlinks=True)
os.close(fd)
print("tmpfile", open("named").read().strip())
ifd = libc.inotify_init1(0)
wd = libc.inotify_add_watch(ifd, b".", 0x100 | 0x200)  # IN_CREATE | IN_DELETE
open("inside", "w").close()
sys.stdout.write("ready\n"); sys.stdout.flush()
names = set()
deadline = time.time() + 20
while time.time() < deadline and not {"inside", "outside"} <= names:
    buf = os.read(ifd, 4096)
    off = 0
    while off < len(buf):
        w, mask, cookie, ln = struct.unpack_from("iIII", buf, off)
        names.add(buf[off + 16: off + 16 + ln].rstrip(b"\0").decode())
        off += 16 + ln
print("events", sorted(n for n in names if n in ("inside", "outside")))
"#;
    let mut c = sandbox_command(&[], &["/usr/bin/python3", "-c", script], ws.path());
    let mut child = c.spawn().expect("spawn");
    let ready = wait_until(Duration::from_secs(30), || ws.join("inside").exists());
    std::thread::sleep(Duration::from_millis(300));
    std::fs::File::create(ws.join("outside")).expect("create outside");
    let done = wait_until(Duration::from_secs(30), || {
        child.try_wait().ok().flatten().is_some()
    });
    if !done {
        kill_group(&child);
    }
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(ready && done, "{stdout}");
    assert!(stdout.contains("tmpfile anon"), "{stdout}");
    assert!(stdout.contains("events ['inside', 'outside']"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(ws.join("named")).ok().as_deref(),
        Some("anon\n")
    );
}

/// A real workload (gcc, git, python, tar) with a policy whose view is not exact, so that no open is continued and
/// every file the sentry opens comes from the gofer: same output as natively, and the gofer's counters show it served
/// the opens.
#[test]
fn workload_with_every_open_through_the_gofer_matches_native() {
    for p in ["gcc", "git", "tar", "python3"] {
        if !have(p) {
            return;
        }
    }
    let script = "set -e; mkdir -p src; printf 'int main(void){return 3;}\\n' > src/m.c; gcc -o m src/m.c; \
                  ./m || echo rc=$?; git init -q r; cd r; echo hi > f; git add f; \
                  git -c user.email=a@b -c user.name=n commit -q -m first; git log --format=%s; \
                  python3 -c 'import json, sqlite3; c = sqlite3.connect(\"db\"); c.execute(\"create table t(x)\"); print(json.dumps([1, 2]))'; \
                  cd ..; tar czf a.tgz r/f src; tar tzf a.tgz | sort";
    let native_ws = TempDir::new("gofer-workload-native");
    let ws = TempDir::new("gofer-workload");
    let native = common::run_native(&["sh", "-c", script], native_ws.path());
    let audit = std::path::PathBuf::from(format!("{}.audit", ws.str()));
    let audit_arg = format!("--audit={}", audit.display());
    let out = run_sandboxed(
        &["--deny", "**/.capvisor-matches-nothing", &audit_arg],
        &["sh", "-c", script],
        ws.path(),
    );
    let recs = audit_records(&audit);
    let _ = std::fs::remove_file(&audit);
    assert_eq!(
        (native.code, native.stdout.clone()),
        (out.code, out.stdout.clone()),
        "native:\n{native}\nsandboxed:\n{out}"
    );
    assert!(
        out.stdout.contains("rc=3") && out.stdout.contains("first"),
        "{out}"
    );
    let continued = recs
        .iter()
        .filter(|r| {
            r["kind"] == "syscall"
                && r["continued"] == true
                && r["syscall"].as_str().is_some_and(|s| s.starts_with("open"))
        })
        .count();
    assert_eq!(
        continued, 0,
        "no open may be continued natively under this policy"
    );
    let served = lifecycle(&recs, "gofer")
        .first()
        .and_then(|g| g["served"]["open"].as_u64())
        .unwrap_or(0);
    assert!(served > 100, "the gofer served only {served} opens");
    eprintln!("the gofer served {served} opens");
}

/// The host's /tmp cannot be granted over the sandbox's private one (run from /tmp, the default policy would): a clear
/// policy error, not two different /tmps for reads and writes.
#[test]
fn granting_the_private_tmp_itself_is_a_policy_error() {
    let out = run_sandboxed(&[], &["/bin/true"], Path::new("/tmp"));
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("/tmp cannot be granted"), "{out}");
    let out = run_sandboxed(&["--rw", "/dev/shm"], &["/bin/true"], Path::new("/var/tmp"));
    assert_eq!(out.code, 3, "{out}");
}
