//! Security tests, judged from outside the sandbox: what the agent saw (errno, output), what the audit log recorded,
//! and what changed on the host (nothing, outside the grants).
//!
//! Scripts that attack the sandbox are never run natively: as root, several of them would do real damage.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{
    assert_no_panic, command, compile_c, exec_args, have, kill_group, pids_with_arg, run_command,
    run_sandboxed, run_sentry, sandbox_command, sentry_bin, wait_until, Output, TempDir,
    RUN_TIMEOUT,
};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

/// A value no other test or file on the host contains.
fn unique_secret(label: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("CAPVISOR-{label}-SECRET-{}-{nanos}", std::process::id())
}

/// A temp dir whose host path the sandbox's private /tmp does not shadow, so "outside the grants" really means a
/// host path the sandbox must not reach (under /tmp, the sandbox would just see its own empty tmpfs).
fn outside_dir(label: &str) -> TempDir {
    let var_tmp = Path::new("/var/tmp");
    if var_tmp.is_dir() {
        TempDir::new_in(var_tmp, label)
    } else {
        TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR")), label)
    }
}

/// Parses the JSON lines a probe script printed (other lines are ignored).
fn json_lines(out: &Output) -> Vec<Value> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The records with `"name": name`.
fn named<'a>(recs: &'a [Value], name: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["name"] == name).collect()
}

/// The one record named `name`; panics with the whole output when it is missing.
fn one<'a>(recs: &'a [Value], name: &str, out: &Output) -> &'a Value {
    let found = named(recs, name);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {name:?} record\n{out}"
    );
    found[0]
}

/// The audit log's records.
fn audit_records(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("read audit log {}: {e}", file.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad audit line {l:?}: {e}")))
        .collect()
}

/// Whether an audit record concerns `path` (as the agent wrote it, or as the policy checked it).
fn audit_mentions(rec: &Value, path: &str) -> bool {
    rec["args"]["path"] == path
        || rec["args"]["path2"] == path
        || rec["checks"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["path"] == path))
}

/// Everything observable about a host directory tree: type, mode, size, content, mtime, link count.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, p: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let m =
            std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
        let rel = p.strip_prefix(root).expect("under root").to_path_buf();
        let content = if m.is_file() {
            String::from_utf8_lossy(&std::fs::read(p).expect("read file")).into_owned()
        } else if m.file_type().is_symlink() {
            std::fs::read_link(p)
                .expect("readlink")
                .display()
                .to_string()
        } else {
            String::new()
        };
        out.insert(
            rel,
            format!(
                "{:?} mode={:o} len={} nlink={} mtime={}.{} content={content:?}",
                m.file_type(),
                m.mode(),
                m.len(),
                m.nlink(),
                m.mtime(),
                m.mtime_nsec()
            ),
        );
        if m.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p)
                .expect("read_dir")
                .map(|e| e.expect("dir entry").path())
                .collect();
            entries.sort();
            for e in entries {
                walk(root, &e, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn errno_of(rec: &Value) -> &str {
    rec["errno"].as_str().unwrap_or("none")
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Files outside the grants are invisible, never leak, and are audited as denials.
// ---------------------------------------------------------------------------------------------------------------

/// Tries to read each path given on the command line; one JSON line per path.
const READ_PROBE: &str = r#"
import errno, json, os, sys
for p in sys.argv[1:]:
    rec = {"name": p}
    try:
        with open(p, "rb") as f:
            rec["content"] = f.read().decode(errors="replace")
        rec["errno"] = None
    except OSError as e:
        rec["errno"] = errno.errorcode.get(e.errno, str(e.errno))
    print(json.dumps(rec), flush=True)
"#;

struct OutsideSetup {
    ws: TempDir,
    secret_dir: TempDir,
    tmp_secret_dir: TempDir,
    audit_dir: TempDir,
    secret: String,
    secret_path: String,
}

fn outside_setup() -> OutsideSetup {
    let ws = TempDir::new("outside-ws");
    let secret_dir = outside_dir("outside-secret");
    let tmp_secret_dir = TempDir::new("outside-tmp-secret");
    let audit_dir = TempDir::new("outside-audit");
    let secret = unique_secret("OUTSIDE");
    let secret_path = secret_dir.write("secret.txt", &format!("{secret}\n"));
    tmp_secret_dir.write("secret.txt", &format!("{secret}\n"));
    ws.write("probe.py", READ_PROBE);
    std::os::unix::fs::symlink(&secret_path, ws.join("abs-link")).expect("symlink");
    let secret_path = secret_path.to_str().expect("ASCII").to_string();
    OutsideSetup {
        ws,
        secret_dir,
        tmp_secret_dir,
        audit_dir,
        secret,
        secret_path,
    }
}

#[test]
fn outside_grant_read_fails_enoent_without_leak() {
    let s = outside_setup();
    let dotdot = format!("../../..{}", s.secret_path);
    let tmp_secret = s.tmp_secret_dir.join("secret.txt");
    let paths = [
        s.secret_path.clone(),
        dotdot,
        "abs-link".to_string(),
        format!("/proc/self/root{}", s.secret_path),
        "/proc/self/cwd/abs-link".to_string(),
        tmp_secret.to_str().expect("ASCII").to_string(),
    ];
    let mut cmd = vec!["python3", "probe.py"];
    cmd.extend(paths.iter().map(String::as_str));
    let out = run_sandboxed(&[], &cmd, s.ws.path());
    assert_eq!(out.code, 0, "{out}");
    let recs = json_lines(&out);
    for p in &paths {
        let r = one(&recs, p, &out);
        assert_eq!(
            errno_of(r),
            "ENOENT",
            "reading {p} outside the grants\n{out}"
        );
    }
    // The shell's view of it too: cat and ls fail, and the directory itself is invisible.
    let sh = format!(
        "cat {0}/secret.txt; echo \"cat=$?\"; ls {0}; echo \"ls=$?\"; ls -la {1}; echo \"parent=$?\"",
        s.secret_dir.str(),
        s.secret_dir.path().parent().expect("parent").display()
    );
    let out2 = run_sandboxed(&[], &["sh", "-c", &sh], s.ws.path());
    assert!(out2.stdout.contains("cat=1"), "{out2}");
    assert!(out2.stdout.contains("ls=2"), "{out2}");
    assert!(out2.stderr.contains("No such file or directory"), "{out2}");
    for o in [&out, &out2] {
        assert!(!o.all().contains(&s.secret), "the secret leaked:\n{o}");
    }
}

#[test]
fn outside_grant_read_audited_as_deny() {
    let s = outside_setup();
    let audit = s.audit_dir.join("audit.jsonl");
    let audit_arg = audit.to_str().expect("ASCII").to_string();
    let out = run_sandboxed(
        &["--audit", &audit_arg],
        &["python3", "probe.py", &s.secret_path],
        s.ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(!out.all().contains(&s.secret), "the secret leaked:\n{out}");
    let recs = audit_records(&audit);
    let about: Vec<&Value> = recs
        .iter()
        .filter(|r| audit_mentions(r, &s.secret_path))
        .collect();
    assert!(
        !about.is_empty(),
        "no audit record mentions {}\n{}",
        s.secret_path,
        std::fs::read_to_string(&audit).unwrap_or_default()
    );
    assert!(
        about
            .iter()
            .any(|r| r["decision"] == "deny" && r["errno"] == "ENOENT"),
        "no record with \"decision\":\"deny\" (and errno ENOENT) for {}; records about it:\n{}",
        s.secret_path,
        about
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Writes under a read-only grant fail and change nothing on the host.
// ---------------------------------------------------------------------------------------------------------------

const WRITE_PROBE: &str = r#"
import errno, json, os, sys
d = sys.argv[1]
def attempt(name, fn):
    rec = {"name": name}
    try:
        fn()
        rec["errno"] = None
    except OSError as e:
        rec["errno"] = errno.errorcode.get(e.errno, str(e.errno))
    print(json.dumps(rec), flush=True)
def opener(path, flags):
    return lambda: os.close(os.open(path, flags, 0o644))
attempt("create", opener(f"{d}/new.txt", os.O_WRONLY | os.O_CREAT))
attempt("create_excl", opener(f"{d}/new2.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
attempt("open_wronly", opener(f"{d}/existing.txt", os.O_WRONLY))
attempt("open_rdwr", opener(f"{d}/existing.txt", os.O_RDWR))
attempt("open_trunc", opener(f"{d}/existing.txt", os.O_WRONLY | os.O_TRUNC))
attempt("open_append", opener(f"{d}/existing.txt", os.O_WRONLY | os.O_APPEND))
attempt("truncate", lambda: os.truncate(f"{d}/existing.txt", 0))
attempt("unlink", lambda: os.unlink(f"{d}/existing.txt"))
attempt("rename", lambda: os.rename(f"{d}/existing.txt", f"{d}/renamed.txt"))
attempt("mkdir", lambda: os.mkdir(f"{d}/newdir"))
attempt("rmdir", lambda: os.rmdir(f"{d}/emptydir"))
attempt("symlink", lambda: os.symlink("existing.txt", f"{d}/link"))
attempt("link", lambda: os.link(f"{d}/existing.txt", f"{d}/hardlink"))
attempt("chmod", lambda: os.chmod(f"{d}/existing.txt", 0o777))
attempt("chown", lambda: os.chown(f"{d}/existing.txt", 1, 1))
attempt("utime", lambda: os.utime(f"{d}/existing.txt", (0, 0)))
attempt("mkfifo", lambda: os.mkfifo(f"{d}/fifo"))
attempt("setxattr", lambda: os.setxattr(f"{d}/existing.txt", "user.capvisor", b"x"))
with open(f"{d}/existing.txt") as f:
    print(json.dumps({"name": "read_back", "content": f.read()}), flush=True)
"#;

#[test]
fn ro_grant_writes_fail_host_unchanged() {
    let ws = TempDir::new("ro-ws");
    let ro = TempDir::new("ro-grant");
    ro.write("existing.txt", "original\n");
    std::fs::create_dir(ro.join("emptydir")).expect("mkdir");
    ws.write("probe.py", WRITE_PROBE);
    let before = snapshot(ro.path());

    let shell = format!(
        "echo x > {0}/f; echo \"rc=$?\"; echo y >> {0}/existing.txt; echo \"rc2=$?\"",
        ro.str()
    );
    let out = run_sandboxed(&["--ro", ro.str()], &["sh", "-c", &shell], ws.path());
    assert!(
        out.stdout.contains("rc=2") && out.stdout.contains("rc2=2"),
        "{out}"
    );
    assert!(
        out.stderr.contains("Read-only file system") || out.stderr.contains("Permission denied"),
        "{out}"
    );

    let out = run_sandboxed(
        &["--ro", ro.str()],
        &["python3", "probe.py", ro.str()],
        ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    let recs = json_lines(&out);
    for name in [
        "create",
        "create_excl",
        "open_wronly",
        "open_rdwr",
        "open_trunc",
        "open_append",
        "truncate",
        "unlink",
        "rename",
        "mkdir",
        "rmdir",
        "symlink",
        "link",
        "chmod",
        "chown",
        "utime",
        "mkfifo",
        "setxattr",
    ] {
        let e = errno_of(one(&recs, name, &out));
        assert!(
            e == "EROFS" || e == "EACCES",
            "{name} under a read-only grant gave {e}, want EROFS or EACCES\n{out}"
        );
    }
    assert_eq!(
        one(&recs, "read_back", &out)["content"],
        "original\n",
        "{out}"
    );
    assert_eq!(
        before,
        snapshot(ro.path()),
        "the read-only grant changed on the host"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// 3. A deny rule inside a granted workspace holds against links, `..` and /proc.
// ---------------------------------------------------------------------------------------------------------------

const DENY_PROBE: &str = r#"
import errno, json, os, sys
def attempt(name, fn):
    rec = {"name": name}
    try:
        v = fn()
        rec["errno"] = None
        if isinstance(v, bytes):
            rec["content"] = v.decode(errors="replace")
    except OSError as e:
        rec["errno"] = errno.errorcode.get(e.errno, str(e.errno))
    print(json.dumps(rec), flush=True)
def read(p):
    return lambda: open(p, "rb").read()
target = sys.argv[1]          # absolute path of the denied file
rel = sys.argv[2]             # the same, relative to the workspace
attempt("direct", read(target))
attempt("relative", read(rel))
attempt("dotdot", read(f"{os.path.dirname(rel)}/../{rel}"))
attempt("doubled_slashes", read(rel.replace("/", "//")))
attempt("proc_cwd", read(f"/proc/self/cwd/{rel}"))
attempt("proc_root", read(f"/proc/self/root{target}"))
attempt("symlink_abs_create", lambda: os.symlink(target, "abs-link"))
attempt("symlink_abs", read("abs-link"))
attempt("symlink_rel_create", lambda: os.symlink(rel, "rel-link"))
attempt("symlink_rel", read("rel-link"))
attempt("symlink_chain_create", lambda: os.symlink("rel-link", "chain-link"))
attempt("symlink_chain", read("chain-link"))
attempt("symlink_dir_create", lambda: os.symlink(os.path.dirname(rel) or ".", "dir-link"))
attempt("symlink_dir", read(f"dir-link/{os.path.basename(rel)}"))
attempt("hardlink_create", lambda: os.link(rel, "hard-link"))
attempt("hardlink", read("hard-link"))
attempt("hardlink_at_create", lambda: os.link(rel, "hard-link2", follow_symlinks=False))
# linkat(AT_SYMLINK_FOLLOW) links the symlink's target (plain link(2) on Linux links the symlink itself).
cwdfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
attempt("hardlink_via_symlink_create",
        lambda: os.link("abs-link", "hard-link3", src_dir_fd=cwdfd, dst_dir_fd=cwdfd, follow_symlinks=True))
attempt("hardlink_via_symlink", read("hard-link3"))
attempt("rename_away", lambda: os.rename(rel, "moved"))
attempt("moved", read("moved"))
attempt("dirfd_relative", lambda: os.read(os.open(os.path.basename(rel), os.O_RDONLY,
        dir_fd=os.open(os.path.dirname(target), os.O_RDONLY | os.O_DIRECTORY)), 4096))
"#;

/// Probes that must fail because they would reveal the denied file's content.
const DENY_READS: &[&str] = &[
    "direct",
    "relative",
    "dotdot",
    "doubled_slashes",
    "proc_cwd",
    "proc_root",
    "symlink_abs",
    "symlink_rel",
    "symlink_chain",
    "symlink_dir",
    "hardlink",
    "hardlink_via_symlink",
    "moved",
    "dirfd_relative",
];

#[test]
fn deny_rule_file_unreadable_via_links_and_aliases() {
    let ws = TempDir::new("deny-ws");
    let audit_dir = TempDir::new("deny-audit");
    let secret = unique_secret("DENY");
    let secret_path = ws.write("sub/secret.txt", &format!("{secret}\n"));
    let secret_str = secret_path.to_str().expect("ASCII").to_string();
    ws.write("probe.py", DENY_PROBE);
    let audit = audit_dir.join("audit.jsonl");
    let audit_arg = audit.to_str().expect("ASCII").to_string();

    let out = run_sandboxed(
        &["--deny", &secret_str, "--audit", &audit_arg],
        &["python3", "probe.py", &secret_str, "sub/secret.txt"],
        ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(
        !out.all().contains(&secret),
        "the denied file leaked:\n{out}"
    );
    let recs = json_lines(&out);
    for name in DENY_READS {
        let r = one(&recs, name, &out);
        assert!(
            r["errno"] != Value::Null,
            "{name} read the denied file\n{out}"
        );
    }
    for name in [
        "direct",
        "relative",
        "dotdot",
        "symlink_abs",
        "symlink_rel",
        "symlink_chain",
        "symlink_dir",
    ] {
        assert_eq!(errno_of(one(&recs, name, &out)), "EACCES", "{name}\n{out}");
    }
    for name in [
        "hardlink_create",
        "hardlink_at_create",
        "hardlink_via_symlink_create",
        "rename_away",
    ] {
        let e = errno_of(one(&recs, name, &out));
        assert!(e == "EACCES" || e == "EPERM", "{name} gave {e}\n{out}");
    }

    // From outside: the file is where it was, unchanged, with no second name anywhere in the workspace.
    let meta = std::fs::metadata(&secret_path).expect("denied file still there");
    assert_eq!(
        meta.nlink(),
        1,
        "a hard link to the denied file was created"
    );
    assert_eq!(
        std::fs::read_to_string(&secret_path).expect("read"),
        format!("{secret}\n")
    );
    for (rel, desc) in snapshot(ws.path()) {
        if rel != Path::new("sub/secret.txt") && !desc.starts_with("Symlink") {
            assert!(
                !desc.contains(&secret),
                "{} holds the secret: {desc}",
                rel.display()
            );
        }
    }

    // The audit log names the rule.
    let recs = audit_records(&audit);
    assert!(
        recs.iter().any(|r| r["decision"] == "deny"
            && r["errno"] == "EACCES"
            && r["rule"].as_str().is_some_and(|s| s.contains(&secret_str))
            && audit_mentions(r, &secret_str)),
        "no deny record naming the rule for {secret_str}"
    );
}

#[test]
fn deny_rule_directory_unlistable_unreadable() {
    let ws = TempDir::new("denydir-ws");
    let secret = unique_secret("DENYDIR");
    ws.write("private/inner/key.txt", &format!("{secret}\n"));
    let private = ws.join("private");
    let private_str = private.to_str().expect("ASCII").to_string();
    let script = "cat private/inner/key.txt; echo \"cat=$?\"; \
                  ls private; echo \"ls=$?\"; \
                  cd private 2>/dev/null; echo \"cd=$?\"; \
                  ln -s private p; cat p/inner/key.txt; echo \"link=$?\"; \
                  cp -r private copy 2>/dev/null; echo \"cp=$?\"; cat copy/inner/key.txt 2>/dev/null; \
                  tar -cf - private 2>/dev/null | tar -tvf - 2>/dev/null; \
                  grep -r CAPVISOR . 2>/dev/null; echo done";
    let out = run_sandboxed(&["--deny", &private_str], &["sh", "-c", script], ws.path());
    assert!(
        !out.all().contains(&secret),
        "the denied directory leaked:\n{out}"
    );
    for want in ["cat=1", "ls=2", "cd=2", "link=1", "done"] {
        assert!(out.stdout.contains(want), "want {want}\n{out}");
    }
    assert!(
        !ws.join("copy/inner/key.txt").exists(),
        "cp copied the denied file"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Each denied syscall returns the table's errno, and its side effect does not happen.
// ---------------------------------------------------------------------------------------------------------------

/// Calls every denied or guarded syscall with harmless arguments (even if one ran, it would change nothing or fail
/// with EINVAL), one JSON line each. Never run natively.
const SYSCALL_PROBE: &str = r#"
import ctypes, errno, json, os, struct, sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
WS = os.getcwd()
AT_FDCWD = -100

def arg(a):
    if a is None: return ctypes.c_void_p(None)
    if isinstance(a, int): return ctypes.c_long(a)
    if isinstance(a, str): return ctypes.c_char_p(a.encode())
    if isinstance(a, bytes): return ctypes.c_char_p(a)
    return a

def sc(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[arg(a) for a in args])
    e = ctypes.get_errno()
    return r, (errno.errorcode.get(e, str(e)) if r == -1 else None)

def report(name, nr, r, err, **extra):
    rec = {"name": name, "nr": nr, "ret": r, "errno": err}
    rec.update(extra)
    print(json.dumps(rec), flush=True)

def call(name, nr, *args, **extra):
    r, err = sc(nr, *args)
    report(name, nr, r, err, **extra)
    return r

def call_forking(name, nr, *args):
    # clone/clone3 would return 0 in a child had they succeeded: that child leaves at once.
    r, err = sc(nr, *args)
    if r == 0:
        os._exit(0)
    if r > 0:
        os.waitpid(r, 0)
    report(name, nr, r, err)

def nslink(kind):
    try: return os.readlink(f"/proc/self/ns/{kind}")
    except OSError as e: return "unreadable:" + errno.errorcode.get(e.errno, "?")

zero = ctypes.create_string_buffer(4096)
hbuf = ctypes.create_string_buffer(struct.pack("Ii", 128, 0) + b"\0" * 128)
mount_id = ctypes.c_int(0)
dfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)

call("io_uring_setup", 425, 1, zero)
call("open_by_handle_at", 304, dfd, hbuf, os.O_RDONLY)
call("name_to_handle_at", 303, AT_FDCWD, ".", hbuf, ctypes.byref(mount_id), 0)
call("bpf", 321, 0, zero, 128)
call("userfaultfd", 323, 0)
call("perf_event_open", 298, zero, 0, -1, -1, 0)
call("keyctl", 250, 0, -3, 0)
call("add_key", 248, "user", "capvisor-test", "x", 1, -3)
call("request_key", 249, "user", "capvisor-test", None, 0)
call("kexec_load", 246, 0, 0, None, 0)
call("kexec_file_load", 320, -1, -1, 0, None, 0)
call("init_module", 175, zero, 0, "")
call("finit_module", 313, -1, "", 0)
call("delete_module", 176, "capvisor_test_no_such_module", os.O_NONBLOCK)
call("mount", 165, "none", f"{WS}/mnt", "tmpfs", 0, None)
call("umount2", 166, f"{WS}/mnt", 0)
call("pivot_root", 155, f"{WS}/newroot", f"{WS}/newroot/old")
if call("chroot", 161, f"{WS}/jail") == 0:
    try: open("/escaped-from-chroot", "w").close()
    except OSError: pass
call("fsopen", 430, "tmpfs", 0)
call("fsmount", 432, -1, 0, 0)
call("fsconfig", 431, -1, 0, None, None, 0)
call("fspick", 433, AT_FDCWD, ".", 0)
call("move_mount", 429, -1, "", AT_FDCWD, f"{WS}/mnt", 0)
call("open_tree", 428, AT_FDCWD, ".", 0)
call("mount_setattr", 442, AT_FDCWD, ".", 0, zero, 32)
try:
    nsfd, nskind = os.open("/proc/self/ns/uts", os.O_RDONLY), "own uts ns"
except OSError:
    nsfd, nskind = -1, "none"
call("setns", 308, nsfd, 0, fd=nskind)

before = {k: nslink(k) for k in ("user", "net", "mnt")}
call("unshare_CLONE_NEWUSER", 272, 0x10000000)
call("unshare_CLONE_NEWNET", 272, 0x40000000)
call_forking("clone_CLONE_NEWNS", 56, 0x00020000 | 17, 0, 0, 0, 0)
after = {k: nslink(k) for k in ("user", "net", "mnt")}
print(json.dumps({"name": "namespaces", "before": before, "after": after}), flush=True)

# ptrace and process_vm_writev: a forked child attacks this process (its parent), whose memory we then inspect.
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
target = ctypes.create_string_buffer(b"ORIGINAL-PARENT-MEMORY", 64)
r_end, w_end = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r_end)
    parent = os.getppid()
    recs = []
    r, err = sc(101, 16, parent, 0, 0)
    if r == 0:
        sc(101, 17, parent, 0, 0)
    recs.append({"name": "ptrace_attach_parent", "nr": 101, "ret": r, "errno": err})
    payload = ctypes.create_string_buffer(b"OVERWRITTEN-BY-CHILD!!", 64)
    local = iovec(ctypes.addressof(payload), 22)
    remote = iovec(ctypes.addressof(target), 22)
    r, err = sc(311, parent, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    recs.append({"name": "process_vm_writev_parent", "nr": 311, "ret": r, "errno": err})
    os.write(w_end, json.dumps(recs).encode())
    os._exit(0)
os.close(w_end)
data = b""
while True:
    chunk = os.read(r_end, 65536)
    if not chunk: break
    data += chunk
os.waitpid(pid, 0)
for rec in json.loads(data):
    print(json.dumps(rec), flush=True)
print(json.dumps({"name": "parent_memory", "value": target.value.decode()}), flush=True)
# And this process against its own parent (the sandbox's init or the process that started it).
r = call("ptrace_attach_grandparent", 101, 16, os.getppid(), 0, 0)
if r == 0:
    sc(101, 17, os.getppid(), 0, 0)

call("reboot", 169, 0xfee1dead, 0, 0, None)
call("swapon", 167, f"{WS}/swapfile", 0)
call("swapoff", 168, f"{WS}/swapfile")
call("acct", 163, f"{WS}/acct-target")
tv = ctypes.create_string_buffer(struct.pack("ll", 946684800, 0))
call("settimeofday", 164, tv, None)
call("clock_settime", 227, 0, tv)
call("adjtimex", 159, zero)
logbuf = ctypes.create_string_buffer(4096)
call("syslog", 103, 3, logbuf, 4096)
call("iopl", 172, 3)
call("ioperm", 173, 0x80, 1, 1)
call("personality", 135, 0x0040000)
call("personality_query", 135, 0xffffffff)
args = ctypes.create_string_buffer(struct.pack("QQQQQQQQQQQ", 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0))
call_forking("clone3", 435, args, 88)

# Controls: the guards must refuse only what they name.
call("control_unshare_zero", 272, 0)
call("control_ioctl_TIOCGWINSZ_fd0", 16, 0, 0x5413, zero)

targets = [("fd0", 0)]
try:
    targets.append(("dev_tty", os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)))
except OSError as e:
    print(json.dumps({"name": "open_dev_tty", "errno": errno.errorcode.get(e.errno, "?")}), flush=True)
pty = None
try:
    m, s = os.openpty()
    import tty
    tty.setraw(s)
    pty = s
    targets.append(("pty", s))
except OSError as e:
    print(json.dumps({"name": "openpty", "errno": errno.errorcode.get(e.errno, "?")}), flush=True)
ch = ctypes.c_char(b"X")
sub = ctypes.c_char(b"\x03")
for tname, fd in targets:
    call(f"ioctl_TIOCSTI_{tname}", 16, fd, 0x5412, ctypes.byref(ch))
    call(f"ioctl_TIOCLINUX_{tname}", 16, fd, 0x541C, ctypes.byref(sub))
if pty is not None:
    os.set_blocking(pty, False)
    try: injected = os.read(pty, 16).decode(errors="replace")
    except BlockingIOError: injected = ""
    print(json.dumps({"name": "pty_injected", "value": injected}), flush=True)
print(json.dumps({"name": "done"}), flush=True)
"#;

/// (probe name, table name, number, errno from table.rs).
const DENIED_CALLS: &[(&str, &str, i64, &str)] = &[
    ("io_uring_setup", "io_uring_setup", 425, "EPERM"),
    ("open_by_handle_at", "open_by_handle_at", 304, "EPERM"),
    ("name_to_handle_at", "name_to_handle_at", 303, "EPERM"),
    ("bpf", "bpf", 321, "EPERM"),
    ("userfaultfd", "userfaultfd", 323, "EPERM"),
    ("perf_event_open", "perf_event_open", 298, "EPERM"),
    ("keyctl", "keyctl", 250, "EPERM"),
    ("add_key", "add_key", 248, "EPERM"),
    ("request_key", "request_key", 249, "EPERM"),
    ("kexec_load", "kexec_load", 246, "EPERM"),
    ("kexec_file_load", "kexec_file_load", 320, "EPERM"),
    ("init_module", "init_module", 175, "EPERM"),
    ("finit_module", "finit_module", 313, "EPERM"),
    ("delete_module", "delete_module", 176, "EPERM"),
    ("mount", "mount", 165, "EPERM"),
    ("umount2", "umount2", 166, "EPERM"),
    ("pivot_root", "pivot_root", 155, "EPERM"),
    ("chroot", "chroot", 161, "EPERM"),
    ("fsopen", "fsopen", 430, "EPERM"),
    ("fsmount", "fsmount", 432, "EPERM"),
    ("fsconfig", "fsconfig", 431, "EPERM"),
    ("fspick", "fspick", 433, "EPERM"),
    ("move_mount", "move_mount", 429, "EPERM"),
    ("open_tree", "open_tree", 428, "EPERM"),
    ("mount_setattr", "mount_setattr", 442, "EPERM"),
    ("setns", "setns", 308, "EPERM"),
    ("unshare_CLONE_NEWUSER", "unshare", 272, "EPERM"),
    ("unshare_CLONE_NEWNET", "unshare", 272, "EPERM"),
    ("clone_CLONE_NEWNS", "clone", 56, "EPERM"),
    ("ptrace_attach_parent", "ptrace", 101, "EPERM"),
    ("ptrace_attach_grandparent", "ptrace", 101, "EPERM"),
    (
        "process_vm_writev_parent",
        "process_vm_writev",
        311,
        "EPERM",
    ),
    ("reboot", "reboot", 169, "EPERM"),
    ("swapon", "swapon", 167, "EPERM"),
    ("swapoff", "swapoff", 168, "EPERM"),
    ("acct", "acct", 163, "EPERM"),
    ("settimeofday", "settimeofday", 164, "EPERM"),
    ("clock_settime", "clock_settime", 227, "EPERM"),
    ("adjtimex", "adjtimex", 159, "EPERM"),
    ("syslog", "syslog", 103, "EPERM"),
    ("iopl", "iopl", 172, "EPERM"),
    ("ioperm", "ioperm", 173, "EPERM"),
    ("personality", "personality", 135, "EPERM"),
    ("clone3", "clone3", 435, "ENOSYS"),
    ("ioctl_TIOCSTI_fd0", "ioctl", 16, "EPERM"),
    ("ioctl_TIOCLINUX_fd0", "ioctl", 16, "EPERM"),
];

fn mountinfo_mentions(p: &Path) -> Vec<String> {
    let needle = p.to_str().expect("ASCII");
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

#[test]
fn denied_syscalls_return_table_errno_without_side_effects() {
    let ws = TempDir::new("denied-syscalls");
    ws.write("probe.py", SYSCALL_PROBE);
    for d in ["mnt", "newroot/old", "jail"] {
        std::fs::create_dir_all(ws.join(d)).expect("mkdir");
    }
    let swaps_before = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
    let clock_before = SystemTime::now();

    let out = run_sandboxed(&[], &["python3", "probe.py"], ws.path());

    let clock_after = SystemTime::now();
    assert_eq!(out.code, 0, "{out}");
    let recs = json_lines(&out);
    one(&recs, "done", &out);
    let mut wrong = Vec::new();
    for (name, _, nr, want) in DENIED_CALLS {
        let r = one(&recs, name, &out);
        assert_eq!(r["nr"], *nr, "{name}");
        if errno_of(r) != *want {
            wrong.push(format!(
                "{name} (nr {nr}): got ret {} errno {}, want {want}",
                r["ret"],
                errno_of(r)
            ));
        }
    }
    // Optional targets (present only where the sandbox offers /dev/tty or ptys) must be refused too.
    for r in &recs {
        let name = r["name"].as_str().unwrap_or("");
        if (name.starts_with("ioctl_TIOCSTI_") || name.starts_with("ioctl_TIOCLINUX_"))
            && errno_of(r) != "EPERM"
        {
            wrong.push(format!(
                "{name}: got ret {} errno {}, want EPERM",
                r["ret"],
                errno_of(r)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "wrong answers:\n{}\n\n{out}",
        wrong.join("\n")
    );

    // Controls: what the guards do not name still works natively.
    assert_eq!(one(&recs, "control_unshare_zero", &out)["ret"], 0, "{out}");
    assert_eq!(
        errno_of(one(&recs, "control_ioctl_TIOCGWINSZ_fd0", &out)),
        "ENOTTY",
        "{out}"
    );
    assert_eq!(
        one(&recs, "personality_query", &out)["ret"],
        0,
        "personality changed\n{out}"
    );

    // No side effects, judged from outside the attacker.
    let ns = one(&recs, "namespaces", &out);
    assert_eq!(ns["before"], ns["after"], "a namespace changed\n{out}");
    assert_eq!(
        one(&recs, "parent_memory", &out)["value"],
        "ORIGINAL-PARENT-MEMORY",
        "process_vm_writev changed the parent's memory"
    );
    if let Some(p) = named(&recs, "pty_injected").first() {
        assert_eq!(p["value"], "", "TIOCSTI injected input into the pty");
    }
    // ... and on the host.
    for d in ["mnt", "newroot", "newroot/old", "jail"] {
        let p = ws.join(d);
        assert!(
            mountinfo_mentions(&p).is_empty(),
            "{} is mounted on the host",
            p.display()
        );
        assert_eq!(
            std::fs::metadata(&p).expect("dir").dev(),
            std::fs::metadata(ws.path()).expect("ws").dev(),
            "{} became a mount point",
            p.display()
        );
    }
    assert_eq!(
        std::fs::read_dir(ws.join("jail")).expect("jail").count(),
        0,
        "chroot jail was written"
    );
    assert!(!ws.join("acct-target").exists(), "acct created its file");
    assert!(!ws.join("swapfile").exists(), "swapon created a file");
    assert_eq!(
        swaps_before,
        std::fs::read_to_string("/proc/swaps").unwrap_or_default(),
        "swap changed"
    );
    let since_epoch = clock_after.duration_since(UNIX_EPOCH).expect("after 1970");
    assert!(
        since_epoch.as_secs() > 1_600_000_000,
        "the host clock was set back"
    );
    let elapsed = clock_after
        .duration_since(clock_before)
        .expect("clock went backwards during the run");
    assert!(
        elapsed < RUN_TIMEOUT + Duration::from_secs(60),
        "the host clock jumped"
    );
}

#[test]
fn syscall_table_lists_tested_denials_with_expected_errno() {
    let ws = TempDir::new("table");
    let out = run_sentry(&["syscalls", "--json"], ws.path());
    assert_eq!(out.code, 0, "{out}");
    let rows: BTreeMap<String, Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("bad row {l:?}: {e}")))
        .map(|v| (v["name"].as_str().unwrap_or("").to_string(), v))
        .collect();
    for (probe, name, nr, errno) in DENIED_CALLS {
        let row = rows
            .get(*name)
            .unwrap_or_else(|| panic!("{name} missing from `sentry syscalls`"));
        assert_eq!(row["nr"], *nr, "{name}");
        let disp = row["disposition"].as_str().unwrap_or("");
        let guarded = ["unshare", "clone", "ioctl", "personality"].contains(name);
        let want = if guarded {
            format!("guarded({errno}")
        } else {
            format!("denied({errno}")
        };
        assert!(
            disp.starts_with(&want),
            "{probe}: table says {name} is {disp}, the test expects {want}…"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 5. TOCTOU: racing the path (or a symlink) between check and use never opens the denied file.
// ---------------------------------------------------------------------------------------------------------------

const RACE_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[4096], path_a[4096], path_b[4096];
static size_t len;
static const char *link_name, *target_a, *target_b;
static atomic_int stop;

/* Flips the shared path buffer between the allowed and the denied path as fast as it can. */
static void *flip_buffer(void *arg) {
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        memcpy(path, path_a, len + 1);
        __asm__ volatile("" ::: "memory");
        memcpy(path, path_b, len + 1);
        __asm__ volatile("" ::: "memory");
    }
    return NULL;
}

/* Atomically swaps a symlink between the two targets (symlink + rename) as fast as it can. */
static void *flip_symlink(void *arg) {
    (void)arg;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", link_name);
    unsigned long i = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        unlink(tmp);
        if (symlink((i++ & 1) ? target_b : target_a, tmp) == 0)
            rename(tmp, link_name);
    }
    return NULL;
}

/* Pads the shorter absolute path with leading slashes so both have the same length. */
static void pad(char *dst, const char *src, size_t want) {
    size_t n = strlen(src), extra = want - n;
    memset(dst, '/', extra);
    memcpy(dst + extra, src, n + 1);
}

/* Reads what fd refers to: directly, or (O_PATH) by reopening it through /proc/self/fd. */
static ssize_t read_fd(int fd, int opath, char *buf, size_t cap) {
    int rfd = fd;
    if (opath) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        rfd = open(proc, O_RDONLY);
        if (rfd < 0) return -1;
    }
    ssize_t n = read(rfd, buf, cap);
    if (rfd != fd) close(rfd);
    return n;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: race buffer|symlink|opath ALLOWED DENIED ITERATIONS DENIED_DEV DENIED_INO\n");
        return 2;
    }
    alarm(100); /* bounded, whatever happens */
    int iters = atoi(argv[4]);
    dev_t denied_dev = (dev_t)strtoull(argv[5], NULL, 10);
    ino_t denied_ino = (ino_t)strtoull(argv[6], NULL, 10);
    int opath = strcmp(argv[1], "opath") == 0;
    pthread_t th;
    const char *open_path;
    if (strcmp(argv[1], "symlink") == 0) {
        link_name = "race-link";
        target_a = argv[2];
        target_b = argv[3];
        unlink(link_name);
        if (symlink(target_a, link_name) != 0) { perror("symlink"); return 2; }
        open_path = link_name;
        pthread_create(&th, NULL, flip_symlink, NULL);
    } else {
        size_t la = strlen(argv[2]), lb = strlen(argv[3]);
        len = la > lb ? la : lb;
        pad(path_a, argv[2], len);
        pad(path_b, argv[3], len);
        memcpy(path, path_a, len + 1);
        open_path = path;
        pthread_create(&th, NULL, flip_buffer, NULL);
    }
    /* leaks: the denied content was read. fds_to_denied: an fd referred to the denied inode at all. */
    long leaks = 0, fds_to_denied = 0, allowed = 0, failed = 0, other = 0;
    char buf[512];
    for (int i = 0; i < iters; i++) {
        int fd = open(open_path, opath ? O_PATH : O_RDONLY);
        if (fd < 0) { failed++; continue; }
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_dev == denied_dev && st.st_ino == denied_ino) fds_to_denied++;
        ssize_t n = read_fd(fd, opath, buf, sizeof buf - 1);
        close(fd);
        if (n < 0) { failed++; continue; }
        buf[n] = 0;
        if (strstr(buf, "DENIED-CONTENT")) leaks++;
        else if (strstr(buf, "ALLOWED-CONTENT")) allowed++;
        else other++;
    }
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    printf("{\"leaks\":%ld,\"fds_to_denied\":%ld,\"allowed\":%ld,\"failed\":%ld,\"other\":%ld}\n",
           leaks, fds_to_denied, allowed, failed, other);
    return 0;
}
"#;

const RACE_ITERATIONS: &str = "20000";

/// Where the file the race aims at lies, and what keeps the agent from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// In the workspace, under `--deny <its path>` (a literal rule, masked in the mount view too).
    LiteralDeny,
    /// In the workspace, under a glob deny (`--deny '**/*.secret'`), which the mount view cannot mask.
    GlobDeny,
    /// In a host directory outside every grant.
    Outside,
}

/// Runs the race and asserts the denied file was never opened (no fd to its inode, its content never read), and that
/// the allowed file sometimes was, so the race tested something.
fn race(label: &str, mode: &str, target: Target) {
    if !have("gcc") {
        eprintln!("skipped: gcc is not installed on this host");
        return;
    }
    let ws = TempDir::new(label);
    let outside = outside_dir(&format!("{label}-outside"));
    let secret = unique_secret("RACE");
    let content = format!("DENIED-CONTENT {secret}\n");
    let allowed = ws.write("allowed.txt", "ALLOWED-CONTENT\n");
    let denied = match target {
        Target::LiteralDeny => ws.write("denied.txt", &content),
        Target::GlobDeny => ws.write("denied.secret", &content),
        Target::Outside => outside.write("denied.txt", &content),
    };
    let meta = std::fs::metadata(&denied).expect("denied file");
    compile_c(&ws, "race", RACE_C, &["-pthread"]);
    let denied_str = denied.to_str().expect("ASCII");
    let (a, b) = match (mode, target) {
        ("symlink", Target::LiteralDeny | Target::GlobDeny) => (
            "allowed.txt".to_string(),
            denied
                .file_name()
                .expect("name")
                .to_str()
                .expect("ASCII")
                .to_string(),
        ),
        _ => (
            allowed.to_str().expect("ASCII").to_string(),
            denied_str.to_string(),
        ),
    };
    let flags: Vec<&str> = match target {
        Target::LiteralDeny => vec!["--deny", denied_str],
        Target::GlobDeny => vec!["--deny", "**/*.secret"],
        Target::Outside => vec![],
    };
    let (dev, ino) = (meta.dev().to_string(), meta.ino().to_string());
    let out = run_sandboxed(
        &flags,
        &["./race", mode, &a, &b, RACE_ITERATIONS, &dev, &ino],
        ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(
        !out.all().contains(&secret),
        "the denied file leaked:\n{out}"
    );
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no result\n{out}"));
    let v: Value = serde_json::from_str(line).expect("JSON result");
    eprintln!("{label}: {v}");
    assert_eq!(
        v["leaks"], 0,
        "the denied file was read during the race: {v}"
    );
    assert_eq!(
        v["fds_to_denied"], 0,
        "the race got an fd to the denied file ({mode}, {target:?}): {v}"
    );
    assert!(
        v["allowed"].as_i64().unwrap_or(0) > 0,
        "no open of the allowed file succeeded, so the race tested nothing: {v}"
    );
    assert_eq!(
        std::fs::read_to_string(&denied).expect("denied file"),
        content
    );
}

#[test]
fn toctou_path_buffer_flip_deny_rule_never_opened() {
    race("race-buffer-deny", "buffer", Target::LiteralDeny);
}

#[test]
fn toctou_path_buffer_flip_glob_deny_never_opened() {
    race("race-buffer-glob", "buffer", Target::GlobDeny);
}

#[test]
fn toctou_path_buffer_flip_outside_grant_never_opened() {
    race("race-buffer-outside", "buffer", Target::Outside);
}

#[test]
fn toctou_symlink_flip_deny_rule_never_opened() {
    race("race-symlink-deny", "symlink", Target::LiteralDeny);
}

#[test]
fn toctou_symlink_flip_glob_deny_never_opened() {
    race("race-symlink-glob", "symlink", Target::GlobDeny);
}

#[test]
fn toctou_symlink_flip_outside_grant_never_opened() {
    race("race-symlink-outside", "symlink", Target::Outside);
}

#[test]
fn toctou_opath_buffer_flip_deny_rule_never_opened() {
    race("race-opath-deny", "opath", Target::LiteralDeny);
}

#[test]
fn toctou_opath_buffer_flip_glob_deny_never_opened() {
    race("race-opath-glob", "opath", Target::GlobDeny);
}

#[test]
fn toctou_opath_buffer_flip_outside_grant_never_opened() {
    race("race-opath-outside", "opath", Target::Outside);
}

// ---------------------------------------------------------------------------------------------------------------
// 6. Bad input: clear one-line messages and the documented exit codes, never a panic.
// ---------------------------------------------------------------------------------------------------------------

fn nonempty_lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

#[test]
fn cli_unknown_exec_flag_exits_usage() {
    let ws = TempDir::new("cli-flag");
    let out = run_sentry(&["exec", "--no-such-flag", "--", "/bin/true"], ws.path());
    assert_eq!(out.code, 2, "an unknown flag is a usage error\n{out}");
    let lines = nonempty_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "want a one-line message\n{out}");
    assert!(
        lines[0].contains("--no-such-flag"),
        "the message names the flag\n{out}"
    );
}

#[test]
fn cli_unknown_top_level_flag_exits_usage() {
    let ws = TempDir::new("cli-top");
    let out = run_sentry(&["--no-such-flag", "exec", "--", "/bin/true"], ws.path());
    assert_eq!(out.code, 2, "{out}");
    let lines = nonempty_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "want a one-line message\n{out}");
    assert!(lines[0].contains("--no-such-flag"), "{out}");
}

#[test]
fn cli_missing_program_exits_127() {
    let ws = TempDir::new("cli-missing");
    let out = run_sentry(&["exec", "--", "capvisor-no-such-program"], ws.path());
    assert_eq!(out.code, 127, "{out}");
    let lines = nonempty_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].contains("capvisor-no-such-program"), "{out}");
    let out = run_sentry(&["exec", "--", "./not-here"], ws.path());
    assert_eq!(out.code, 127, "{out}");
}

#[test]
fn cli_not_executable_exits_126() {
    let ws = TempDir::new("cli-noexec");
    let f = ws.write("data.txt", "not a program\n");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run_sentry(&["exec", "--", "./data.txt"], ws.path());
    assert_eq!(out.code, 126, "{out}");
    assert!(out.stderr.contains("data.txt"), "{out}");
}

#[test]
fn cli_ro_grant_nonexistent_path_exits_policy_error() {
    let ws = TempDir::new("cli-ro");
    let missing = ws.join("does-not-exist");
    let missing_str = missing.to_str().expect("ASCII");
    let out = run_sentry(&["exec", "--ro", missing_str, "--", "/bin/true"], ws.path());
    assert_eq!(out.code, 3, "{out}");
    let lines = nonempty_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains(missing_str),
        "the message names the path\n{out}"
    );
}

#[test]
fn cli_policy_unreadable_exits_policy_error() {
    let ws = TempDir::new("cli-unreadable");
    // A directory cannot be read as a file even by root; a missing file cannot be read by anyone.
    let dir = ws.join("policy-dir.toml");
    std::fs::create_dir(&dir).expect("mkdir");
    let missing = ws.join("missing.toml");
    let mut cases = vec![dir, missing];
    if !nix::unistd::geteuid().is_root() {
        let f = ws.write("mode000.toml", "[filesystem]\n");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        cases.push(f);
    }
    for p in cases {
        let ps = p.to_str().expect("ASCII");
        let out = run_sentry(&["exec", "--policy", ps, "--", "/bin/true"], ws.path());
        assert_eq!(out.code, 3, "{ps}\n{out}");
        let lines = nonempty_lines(&out.stderr);
        assert_eq!(lines.len(), 1, "{out}");
        assert!(lines[0].contains(ps), "the message names the file\n{out}");
    }
}

#[test]
fn cli_policy_unknown_key_exits_policy_error_naming_line_and_key() {
    let ws = TempDir::new("cli-malformed");
    let cases = [
        (
            "nested.toml",
            "[filesystem]\nread = [\"/usr\"]\ngrnts = [\"/\"]\n",
            3,
            "grnts",
        ),
        (
            "top.toml",
            "# a policy\nnetwork_allow = [\"*\"]\n",
            2,
            "network_allow",
        ),
        (
            "section.toml",
            "[filesystem]\nread = []\n\n[limitz]\nmemory = \"1G\"\n",
            4,
            "limitz",
        ),
        (
            "deny.toml",
            "[filesystem]\ndeny = [{ path = \"/etc\", errnoo = \"EPERM\" }]\n",
            2,
            "errnoo",
        ),
    ];
    for (name, text, line, key) in cases {
        let p = ws.write(name, text);
        let ps = p.to_str().expect("ASCII");
        let out = run_sentry(&["exec", "--policy", ps, "--", "/bin/true"], ws.path());
        assert_eq!(out.code, 3, "{name}\n{out}");
        let lines = nonempty_lines(&out.stderr);
        assert_eq!(lines.len(), 1, "{name}: want a one-line message\n{out}");
        let msg = lines[0];
        assert!(
            msg.contains(ps),
            "{name}: the message names the file\n{out}"
        );
        assert!(
            msg.contains(&format!("line {line}")),
            "{name}: the message names line {line}\n{out}"
        );
        assert!(
            msg.contains(key),
            "{name}: the message names the key {key}\n{out}"
        );
    }
}

#[test]
fn cli_bad_input_with_backtrace_env_never_panics() {
    // Even with RUST_BACKTRACE set, no error path may panic (which would print a backtrace).
    let ws = TempDir::new("cli-bt");
    let p = ws.write("bad.toml", "[filesystem\n");
    for args in [
        vec![
            "exec",
            "--policy",
            p.to_str().expect("ASCII"),
            "--",
            "/bin/true",
        ],
        vec![
            "exec",
            "--workdir",
            "/capvisor/no/such/dir",
            "--",
            "/bin/true",
        ],
        vec![
            "exec",
            "--audit",
            "/capvisor/no/such/dir/audit.jsonl",
            "--",
            "/bin/true",
        ],
        vec!["exec", "--deny", "*[", "--", "/bin/true"],
        vec!["exec"],
        vec!["policy", "explain", "--ro", "/capvisor/no/such/dir"],
        vec![],
    ] {
        let mut c = command(sentry_bin(), ws.path());
        c.args(&args).env("RUST_BACKTRACE", "1");
        let out = run_command(c, RUN_TIMEOUT);
        assert_no_panic(&out, &format!("sentry {args:?}"));
        assert_ne!(out.code, 0, "sentry {args:?} should fail\n{out}");
        assert!(out.code < 128, "sentry {args:?} died of a signal\n{out}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 7. Nothing outlives the sentry.
// ---------------------------------------------------------------------------------------------------------------

fn nothing_outlives(label: &str, signal: nix::sys::signal::Signal) {
    let ws = TempDir::new(label);
    // A sleep length no other process on the host uses, so /proc tells exactly which processes are ours.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let token = format!("1000.{}{:09}", std::process::id(), nanos);
    let script = format!("sleep {token} & sleep {token} & wait");
    let mut child = sandbox_command(&[], &["sh", "-c", &script], ws.path())
        .spawn()
        .expect("spawn sentry");
    let sentry_pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));

    let started = wait_until(Duration::from_secs(30), || {
        pids_with_arg(&token, true).len() >= 2
    });
    if !started {
        kill_group(&child);
        let _ = child.wait();
        panic!("the sandboxed sleeps never started");
    }
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(sentry_pid, signal).expect("signal the sentry");

    let mut status = None;
    let exited = wait_until(Duration::from_secs(10), || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    if !exited {
        kill_group(&child);
        let _ = child.wait();
    }
    // The sleeps, the shell, and the sentry's own helpers (whose argv holds the script): all gone.
    let gone = wait_until(Duration::from_secs(5), || {
        pids_with_arg(&token, false).is_empty()
    });
    let left = pids_with_arg(&token, false);
    for p in &left {
        // Our own leftovers: clean them up before failing.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(exited, "the sentry did not exit within 10 s of {signal}");
    assert!(gone, "processes outlived the sentry: {left:?}");
    let code = status.map(common::shell_code).unwrap_or(-1);
    assert_ne!(code, 0, "the sentry reported success after {signal}");
    eprintln!("{label}: sentry exited with {code}");
}

#[test]
fn sentry_sigterm_no_process_outlives() {
    nothing_outlives("sigterm", nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn sentry_sigkill_no_process_outlives() {
    nothing_outlives("sigkill", nix::sys::signal::Signal::SIGKILL);
}

// ---------------------------------------------------------------------------------------------------------------
// 8. An unprivileged user can run a sandbox.
// ---------------------------------------------------------------------------------------------------------------

const NOBODY: u32 = 65534;

#[test]
fn unprivileged_user_echo_runs() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to switch to uid {NOBODY}");
        return;
    }
    if !have("setpriv") {
        eprintln!("skipped: setpriv is not installed");
        return;
    }
    let dir = TempDir::new("nobody");
    std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).expect("chown");
    let as_nobody = |args: &[&str]| {
        let mut c = command("setpriv", dir.path());
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        // `sentry exec` runs on the platform under test.
        match args.split_first() {
            Some((bin, rest)) if rest.first() == Some(&"exec") => {
                c.arg(bin).args(exec_args()).args(&rest[1..])
            }
            _ => c.args(args),
        };
        run_command(c, RUN_TIMEOUT)
    };
    // The built binary must be reachable by uid 65534; if it is not, run a copy.
    let built = sentry_bin();
    let bin_dir = TempDir::new("nobody-bin");
    let bin = if as_nobody(&["/bin/test", "-x", built.to_str().expect("ASCII")]).code == 0 {
        built
    } else {
        std::fs::set_permissions(bin_dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let copy = bin_dir.join("sentry");
        std::fs::copy(&built, &copy).expect("copy sentry");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        copy
    };
    let out = as_nobody(&[
        bin.to_str().expect("ASCII"),
        "exec",
        "--workdir",
        dir.str(),
        "--",
        "/bin/echo",
        "hi",
    ]);
    assert_no_panic(&out, "sentry as uid 65534");
    assert_eq!((out.code, out.stdout.as_str()), (0, "hi\n"), "{out}");

    // And it does real work in its workspace as that user.
    let out = as_nobody(&[
        bin.to_str().expect("ASCII"),
        "exec",
        "--",
        "sh",
        "-c",
        "echo made > f.txt && cat f.txt && id -u",
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.starts_with("made\n"), "{out}");
    let f = std::fs::metadata(dir.join("f.txt")).expect("f.txt on the host");
    assert_eq!(
        f.uid(),
        NOBODY,
        "the file belongs to the unprivileged user on the host"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Defaults: a clean environment and the host's credentials denied.
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn default_env_secret_variable_not_passed() {
    let ws = TempDir::new("env");
    let secret = unique_secret("ENV");
    let mut c = sandbox_command(&[], &["sh", "-c", "env"], ws.path());
    c.env("CAPVISOR_TEST_API_KEY", &secret)
        .env("AWS_SECRET_ACCESS_KEY", &secret);
    let out = run_command(c, RUN_TIMEOUT);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        !out.all().contains(&secret),
        "a secret variable was passed in:\n{out}"
    );
    assert!(out.stdout.contains("PATH="), "{out}");

    let mut c = sandbox_command(
        &["--env", "CAPVISOR_TEST_API_KEY"],
        &["sh", "-c", "echo \"$CAPVISOR_TEST_API_KEY\""],
        ws.path(),
    );
    c.env("CAPVISOR_TEST_API_KEY", "passed-on-request");
    let out = run_command(c, RUN_TIMEOUT);
    assert_eq!(out.stdout, "passed-on-request\n", "{out}");
}

#[test]
fn default_policy_etc_shadow_denied() {
    if !Path::new("/etc/shadow").exists() {
        eprintln!("skipped: this host has no /etc/shadow");
        return;
    }
    let ws = TempDir::new("shadow");
    ws.write("probe.py", READ_PROBE);
    let out = run_sandboxed(
        &[],
        &["python3", "probe.py", "/etc/shadow", "/etc/passwd"],
        ws.path(),
    );
    assert_eq!(out.code, 0, "{out}");
    let recs = json_lines(&out);
    assert_eq!(errno_of(one(&recs, "/etc/shadow", &out)), "EACCES", "{out}");
    assert_eq!(
        one(&recs, "/etc/passwd", &out)["errno"],
        Value::Null,
        "{out}"
    );
    assert!(
        !out.stdout.contains("root:$"),
        "shadow hashes leaked\n{out}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The terminal: under a real (host) pty, TIOCSTI/TIOCLINUX are refused and nothing reaches the host terminal's input.
// ---------------------------------------------------------------------------------------------------------------

const TTY_PROBE: &str = r#"
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
print(json.dumps({"name": "isatty", "value": os.isatty(0)}), flush=True)
targets = [("fd0", 0)]
try:
    targets.append(("dev_tty", os.open("/dev/tty", os.O_RDWR)))
except OSError as e:
    print(json.dumps({"name": "open_dev_tty", "errno": errno.errorcode.get(e.errno, "?")}), flush=True)
for tname, fd in targets:
    for req, rname, byte in ((0x5412, "TIOCSTI", b"X"), (0x541C, "TIOCLINUX", b"\x03")):
        ch = ctypes.c_char(byte)
        ctypes.set_errno(0)
        r = libc.syscall(ctypes.c_long(16), ctypes.c_long(fd), ctypes.c_long(req), ctypes.byref(ch))
        e = ctypes.get_errno()
        print(json.dumps({"name": f"ioctl_{rname}_{tname}", "ret": r,
                          "errno": errno.errorcode.get(e, str(e)) if r == -1 else None}), flush=True)
print(json.dumps({"name": "done"}), flush=True)
"#;

#[test]
fn tty_tiocsti_under_host_pty_refused_nothing_injected() {
    use std::io::Read;
    use std::os::fd::AsFd;

    let ws = TempDir::new("tty");
    ws.write("probe.py", TTY_PROBE);
    let pty = nix::pty::openpty(None, None).expect("openpty on the host");
    let slave_keep = pty.slave.try_clone().expect("dup slave");
    let mut c = sandbox_command(&[], &["python3", "probe.py"], ws.path());
    c.stdin(std::process::Stdio::from(
        pty.slave.try_clone().expect("dup"),
    ))
    .stdout(std::process::Stdio::from(
        pty.slave.try_clone().expect("dup"),
    ))
    .stderr(std::process::Stdio::from(pty.slave));
    let mut child = c.spawn().expect("spawn sentry");
    drop(c);
    let mut master = std::fs::File::from(pty.master);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // EIO once every slave fd is closed.
        while let Ok(n) = master.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let _ = tx.send(buf);
    });
    let mut status = None;
    let finished = wait_until(RUN_TIMEOUT, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    if !finished {
        kill_group(&child);
        let _ = child.wait();
    }
    // Anything pushed into the host terminal's input queue is readable here once it is non-canonical.
    let mut t = nix::sys::termios::tcgetattr(slave_keep.as_fd()).expect("tcgetattr");
    nix::sys::termios::cfmakeraw(&mut t);
    nix::sys::termios::tcsetattr(slave_keep.as_fd(), nix::sys::termios::SetArg::TCSANOW, &t)
        .expect("tcsetattr");
    let mut slave_file = std::fs::File::from(slave_keep);
    let fl = nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&slave_file),
        nix::fcntl::FcntlArg::F_GETFL,
    )
    .expect("getfl");
    let fl = nix::fcntl::OFlag::from_bits_truncate(fl) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&slave_file),
        nix::fcntl::FcntlArg::F_SETFL(fl),
    )
    .expect("setfl");
    let mut pending = [0u8; 64];
    let injected = match slave_file.read(&mut pending) {
        Ok(n) => String::from_utf8_lossy(&pending[..n]).into_owned(),
        Err(_) => String::new(),
    };
    drop(slave_file);
    let text = rx
        .recv_timeout(Duration::from_secs(10))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let out = Output {
        code: status.map(common::shell_code).unwrap_or(-1),
        stdout: text.replace("\r\n", "\n"),
        stderr: String::new(),
    };
    assert!(finished, "the sandbox did not finish under a pty\n{out}");
    assert_no_panic(&out, "sentry under a pty");
    assert_eq!(out.code, 0, "{out}");
    let recs = json_lines(&out);
    one(&recs, "done", &out);
    assert_eq!(
        one(&recs, "isatty", &out)["value"],
        true,
        "the agent's stdin is a terminal\n{out}"
    );
    let ioctls: Vec<&Value> = recs
        .iter()
        .filter(|r| r["name"].as_str().is_some_and(|n| n.starts_with("ioctl_")))
        .collect();
    assert!(ioctls.len() >= 2, "{out}");
    for r in ioctls {
        assert_eq!(errno_of(r), "EPERM", "{}\n{out}", r["name"]);
    }
    assert_eq!(injected, "", "input was pushed into the host terminal");
    eprintln!("{out}");
}
