//! Agent controls other than budgets, judged from outside: secrets reach the agent's environment and nowhere else,
//! what was not passed is nowhere the agent can look, the audit log and --strace show `[redacted]`; the agent runs in
//! its own session with its own keyring and terminal.

mod common;

use std::path::Path;

use common::{run_command, sandbox_command, Output, TempDir, RUN_TIMEOUT};
use serde_json::Value;

fn records(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad audit line {l:?}: {e}")))
        .collect()
}

/// Everything the agent can see of environments and other processes, dumped for the test to search from outside.
const LOOK_EVERYWHERE: &str = r#"
import os, ctypes, errno, json
out = {"env": dict(os.environ), "proc": {}, "tries": {}}
for pid in os.listdir("/proc"):
    if not pid.isdigit() and pid not in ("self", "thread-self"):
        continue
    for f in ("environ", "cmdline"):
        try:
            with open(f"/proc/{pid}/{f}", "rb") as fh:
                out["proc"][f"{pid}/{f}"] = fh.read().decode("latin-1")
        except OSError as e:
            out["proc"][f"{pid}/{f}"] = "ERR " + errno.errorcode[e.errno]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def tryit(name, *args):
    r = libc.syscall(*args)
    out["tries"][name] = "ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]
# The sandbox init (pid 1) is a fork of the sentry: its memory holds the sentry's environment.
buf = ctypes.create_string_buffer(4096)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
local = iovec(ctypes.cast(buf, ctypes.c_void_p), 4096)
remote = iovec(0x400000, 4096)
tryit("process_vm_readv_init", 310, 1, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
tryit("ptrace_attach_init", 101, 16, 1, 0, 0)
tryit("ptrace_traceme", 101, 0, 0, 0, 0)
for f in ("/proc/1/mem", "/proc/1/environ", "/proc/1/maps"):
    try:
        open(f, "rb").read(64)
        out["tries"][f] = "ok"
    except OSError as e:
        out["tries"][f] = errno.errorcode[e.errno]
# Put the secret in a path, so that the audit log has something to redact.
key = os.environ.get("API_KEY", "")
try:
    open("/nonexistent-dir/" + key)
except OSError:
    pass
print(json.dumps(out))
"#;

const SECRET: &str = "s3cr3t-value-9d41c2";
const NOT_PASSED: &str = "notpassed-token-77e1aa";

fn run_with_secret(extra: &[&str]) -> (Output, Vec<Value>, String, TempDir) {
    let ws = TempDir::new("secret");
    let key_file = ws.write("key.txt", &format!("{SECRET}\n"));
    let audit = ws.join("audit.jsonl");
    let secret_arg = format!("API_KEY=@{}", key_file.display());
    let mut args = vec![
        "--audit",
        audit.to_str().expect("ascii"),
        "--secret",
        &secret_arg,
    ];
    args.extend_from_slice(extra);
    let mut c = sandbox_command(
        &args,
        &["/usr/bin/python3", "-c", LOOK_EVERYWHERE],
        ws.path(),
    );
    // In the sentry's own environment, and not allowlisted: must not reach the agent.
    c.env("OTHER_TOKEN", NOT_PASSED);
    let out = run_command(c, RUN_TIMEOUT);
    common::assert_no_panic(&out, "secret run");
    let raw = std::fs::read_to_string(&audit).unwrap_or_default();
    (out, records(&audit), raw, ws)
}

#[test]
fn secrets_passed_visible_to_agent_not_passed_nowhere_redacted_in_audit() {
    let (out, recs, raw_audit, _ws) = run_with_secret(&[]);
    assert_eq!(out.code, 0, "{out}");
    let seen: Value =
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{out}"));
    // Passed: in the agent's environment.
    assert_eq!(seen["env"]["API_KEY"], SECRET, "{out}");
    // Not passed: nowhere the agent looked (environment, every /proc entry it could read).
    assert!(
        !out.stdout.contains(NOT_PASSED),
        "the unpassed value is visible inside\n{out}"
    );
    assert!(seen["env"].get("OTHER_TOKEN").is_none());
    // The sentry's and the init's memory and environment are out of reach.
    for (k, want) in [
        ("process_vm_readv_init", &["EPERM", "ESRCH"][..]),
        ("ptrace_attach_init", &["EPERM"][..]),
        ("ptrace_traceme", &["EPERM"][..]),
        ("/proc/1/mem", &["EACCES", "EPERM"][..]),
        ("/proc/1/environ", &["EACCES", "EPERM"][..]),
        ("/proc/1/maps", &["EACCES", "EPERM"][..]),
    ] {
        let got = seen["tries"][k].as_str().unwrap_or("");
        assert!(want.contains(&got), "{k}: {got}\n{out}");
    }
    // The sentry itself is not in the agent's pid namespace: only the sandbox's few processes are listed.
    let pids = seen["proc"]
        .as_object()
        .map(|o| o.keys().filter(|k| k.ends_with("/environ")).count())
        .unwrap_or(0);
    assert!(pids < 10, "the agent sees {pids} processes");
    // The audit log: the secret appeared in a path, and is redacted; neither value is anywhere in it.
    assert!(!raw_audit.contains(SECRET), "secret value in the audit log");
    assert!(
        !raw_audit.contains(NOT_PASSED),
        "unpassed value in the audit log"
    );
    assert!(
        recs.iter().any(|r| r["kind"] == "syscall"
            && r["args"]["path"].as_str() == Some("/nonexistent-dir/[redacted]")),
        "no redacted path record in\n{raw_audit}"
    );
}

#[test]
fn secrets_redacted_in_strace() {
    let (out, _recs, _raw, _ws) = run_with_secret(&["--strace"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("/nonexistent-dir/[redacted]"), "{out}");
    assert!(
        !out.stderr.contains(SECRET),
        "secret value in --strace output\n{out}"
    );
}

#[test]
fn secrets_bad_source_is_policy_error() {
    let ws = TempDir::new("secret-bad");
    let out = common::run_sentry(
        &["exec", "--secret", "API_KEY=plaintext", "--", "/bin/true"],
        ws.path(),
    );
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("@FILE"), "{out}");
    let out = common::run_sentry(
        &[
            "exec",
            "--secret",
            "API_KEY=@/nonexistent/key",
            "--",
            "/bin/true",
        ],
        ws.path(),
    );
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("/nonexistent/key"), "{out}");
    // From a policy file; the value never shows in `policy explain`, the name does.
    let key = ws.write("k", "v4lue-in-file\n");
    ws.write(
        "p.toml",
        &format!("[secrets]\nTOKEN = \"@{}\"\n", key.display()),
    );
    let out = common::run_sentry(&["policy", "explain", "--policy", "p.toml"], ws.path());
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("TOKEN"), "{out}");
    assert!(!out.stdout.contains("v4lue-in-file"), "{out}");
}

#[test]
fn env_only_allowlisted_variables_enter() {
    let ws = TempDir::new("envallow");
    let mut c = sandbox_command(&[], &["/usr/bin/env"], ws.path());
    c.env("AWS_SECRET_ACCESS_KEY", "aws-should-not-pass")
        .env("LC_TIME", "C");
    let out = run_command(c, RUN_TIMEOUT);
    assert_eq!(out.code, 0, "{out}");
    assert!(!out.stdout.contains("aws-should-not-pass"), "{out}");
    assert!(
        out.stdout.contains("LC_TIME=C"),
        "allowlisted prefix LC_* not passed\n{out}"
    );
    for line in out.stdout.lines() {
        let name = line.split('=').next().unwrap_or("");
        let allowed = ["PATH", "HOME", "LANG", "TERM", "TZ", "USER"].contains(&name)
            || name.starts_with("LC_");
        assert!(allowed, "{name} entered the sandbox\n{out}");
    }
}

/// Runs `cmd` under the sentry with a host pty as its terminal (python's pty module on the host side), returning what
/// the terminal showed.
fn run_in_pty(ws: &TempDir, cmd: &[&str]) -> Output {
    let driver = r#"
import os, pty, sys, select, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
buf = b""
end = time.time() + 60
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.5)
    if r:
        try:
            d = os.read(fd, 4096)
        except OSError:
            break
        if not d:
            break
        buf += d
_, st = os.waitpid(pid, 0)
sys.stdout.write(buf.decode("latin-1"))
sys.exit(os.waitstatus_to_exitcode(st))
"#;
    let mut c = common::command("/usr/bin/python3", ws.path());
    c.arg("-c")
        .arg(driver)
        .arg(common::sentry_bin())
        .args(["exec", "--"])
        .args(cmd);
    run_command(c, RUN_TIMEOUT)
}

#[test]
fn session_own_session_keyring_and_terminal() {
    let ws = TempDir::new("session");
    let probe = r#"
import os, ctypes, errno, fcntl, termios
libc = ctypes.CDLL(None, use_errno=True)
print("own_session", os.getsid(0) == os.getpid())
print("tty", os.ttyname(0))
# keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING): refused outright by the filter.
r = libc.syscall(250, 0, -3, 0)
print("keyctl", r if r >= 0 else errno.errorcode[ctypes.get_errno()])
try:
    fcntl.ioctl(0, termios.TIOCSTI, b"X")
    print("tiocsti ok")
except OSError as e:
    print("tiocsti", errno.errorcode[e.errno])
try:
    open("/proc/keys").read()
    print("proc_keys ok")
except OSError as e:
    print("proc_keys", errno.errorcode[e.errno])
"#;
    let out = run_in_pty(&ws, &["/usr/bin/python3", "-c", probe]);
    assert_eq!(out.code, 0, "{out}");
    let t = out.stdout.replace('\r', "");
    assert!(t.contains("own_session True"), "{out}");
    // The sandbox's own devpts: not the host terminal the test created.
    assert!(t.contains("tty /dev/pts/0"), "{out}");
    assert!(t.contains("keyctl EPERM"), "{out}");
    assert!(t.contains("tiocsti EPERM"), "{out}");
    assert!(!t.contains("proc_keys ok"), "{out}");
    // Nothing was pushed into the host terminal's input: the driver saw no stray "X" echoed back.
    assert!(!t.lines().any(|l| l.trim() == "X"), "{out}");
}
