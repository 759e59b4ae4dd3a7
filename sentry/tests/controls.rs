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
        // The allowlist, plus the one variable the sandbox itself adds (its delegation endpoint).
        let allowed = [
            "PATH",
            "HOME",
            "LANG",
            "TERM",
            "TZ",
            "USER",
            "SENTRY_SOCKET",
        ]
        .contains(&name)
            || name.starts_with("LC_");
        assert!(allowed, "{name} entered the sandbox\n{out}");
    }
}

/// Runs `cmd` under the sentry with a host pty as its terminal (python's pty module on the host side), returning what
/// the terminal showed.
fn run_in_pty(ws: &TempDir, cmd: &[&str]) -> Output {
    let mut args = vec!["exec", "--"];
    args.extend_from_slice(cmd);
    run_sentry_in_pty(ws, &args, "", false)
}

/// Runs `sentry ARGS` on a host pty (the test's own, made by python's pty module) as its controlling terminal. When
/// `answer` is not empty it is typed once the sentry's approval prompt ("Allow?") shows. With `stdin_null`, the
/// sentry's stdin is /dev/null (the agent is not interactive; the terminal is only the sentry's).
fn run_sentry_in_pty(ws: &TempDir, args: &[&str], answer: &str, stdin_null: bool) -> Output {
    let driver = r#"
import os, pty, sys, select, time
answer = sys.argv[1].encode(); stdin_null = sys.argv[2] == "1"
pid, fd = pty.fork()
if pid == 0:
    if stdin_null:
        n = os.open("/dev/null", os.O_RDONLY); os.dup2(n, 0)
    os.execv(sys.argv[3], sys.argv[3:])
buf = b""
answered = not answer
end = time.time() + 60
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            d = os.read(fd, 4096)
        except OSError:
            break
        if not d:
            break
        buf += d
    if not answered and b"Allow?" in buf:
        time.sleep(0.2)
        os.write(fd, answer)
        answered = True
_, st = os.waitpid(pid, 0)
sys.stdout.write(buf.decode("latin-1"))
sys.exit(os.waitstatus_to_exitcode(st))
"#;
    let mut c = common::command("/usr/bin/python3", ws.path());
    c.arg("-c")
        .arg(driver)
        .arg(answer)
        .arg(if stdin_null { "1" } else { "0" })
        .arg(common::sentry_bin());
    // `sentry exec` runs on the platform under test.
    match args.split_first() {
        Some((&"exec", rest)) => c.args(common::exec_args()).args(rest),
        _ => c.args(args),
    };
    run_command(c, RUN_TIMEOUT)
}

#[test]
fn approval_default_controller_is_the_sentrys_terminal() {
    let ws = TempDir::new("approval-tty");
    ws.write("x.secret", "tty-approved-content\n");
    let audit = ws.join("audit.jsonl");
    let a = audit.to_str().expect("ascii");
    let base = [
        "exec",
        "--audit",
        a,
        "--deny",
        "**/*.secret",
        "--on-deny",
        "ask",
        "--approval-timeout",
        "20",
        "--",
        "/bin/cat",
        "x.secret",
    ];
    // Not interactive (stdin is /dev/null): the prompt reads the terminal itself; the answer is a line.
    let out = run_sentry_in_pty(&ws, &base, "y\n", true);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("tty-approved-content"), "{out}");
    // Interactive (the agent has a pty relayed from this terminal): the relay hands the keystroke to the question,
    // not to the agent.
    let out = run_sentry_in_pty(&ws, &base, "n", false);
    assert_eq!(out.code, 1, "{out}");
    assert!(!out.stdout.contains("tty-approved-content"), "{out}");
    let recs = records(&audit);
    let by: Vec<(&str, &str)> = recs
        .iter()
        .filter(|r| r["kind"] == "approval_answer")
        .map(|r| {
            (
                r["decision"].as_str().unwrap_or(""),
                r["by"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        by,
        [("allow", "terminal"), ("deny", "terminal")],
        "{recs:#?}"
    );
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

/// The agent for the approval test: one thread opens four files a deny rule refuses (c twice), another keeps doing
/// mediated work (opening an allowed file) and appending a byte per round to `ticks` in the workspace, which the test
/// watches from outside.
const ASKING_AGENT: &str = r#"
import threading, time, os
done = False
def ticker():
    with open("ticks", "ab", buffering=0) as out:
        while not done:
            with open("plain.txt") as f:
                f.read()
            out.write(b".")
            time.sleep(0.01)
t = threading.Thread(target=ticker)
t.start()
for name in ["a", "b", "c", "c", "d"]:
    try:
        with open(name + ".secret") as f:
            r = "read " + f.read().strip()
    except OSError as e:
        r = "error " + os.strerror(e.errno)
    print(name, r, flush=True)
done = True
t.join()
"#;

#[test]
fn approval_through_control_socket_allow_deny_always_timeout() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};

    let ws = TempDir::new("approval");
    for f in ["a", "b", "c", "d"] {
        ws.write(&format!("{f}.secret"), &format!("content {f}\n"));
    }
    ws.write("plain.txt", "ok\n");
    let audit = ws.join("audit.jsonl");
    let sock = ws.join("control.sock");
    let mut cmd = sandbox_command(
        &[
            "--audit",
            audit.to_str().expect("ascii"),
            "--deny",
            "**/*.secret",
            "--on-deny",
            "ask",
            "--approval-timeout",
            "3",
            "--control",
            sock.to_str().expect("ascii"),
        ],
        &["/usr/bin/python3", "-c", ASKING_AGENT],
        ws.path(),
    );
    cmd.stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn sentry");
    let guard = KillOnDrop(&mut child);

    // The controller: connect (the socket appears once the sandbox is up), then answer.
    let deadline = Instant::now() + Duration::from_secs(30);
    let conn = loop {
        if let Ok(c) = UnixStream::connect(&sock) {
            break c;
        }
        assert!(Instant::now() < deadline, "control socket never appeared");
        std::thread::sleep(Duration::from_millis(20));
    };
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut w = conn.try_clone().expect("clone");
    let mut questions = Vec::new();
    let mut ticks_while_pending = None;
    for line in BufReader::new(conn).lines() {
        let line = line.expect("a line from the control socket");
        let m: Value = serde_json::from_str(&line).expect("JSON");
        if m["type"] == "question" {
            questions.push(m.clone());
            let id = m["id"].as_u64().expect("id");
            let path = m["path"].as_str().expect("path").to_string();
            let file = Path::new(&path)
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or("");
            match file {
                "a.secret" => writeln!(
                    w,
                    "{}",
                    serde_json::json!({"type":"answer","id":id,"decision":"allow"})
                )
                .expect("write"),
                // The CLI: `sentry deny ID` and `sentry approve ID --always`.
                "b.secret" | "c.secret" => {
                    let mut args = vec![
                        if file == "b.secret" {
                            "deny"
                        } else {
                            "approve"
                        }
                        .to_string(),
                        id.to_string(),
                        "--control".into(),
                        sock.to_str().expect("ascii").into(),
                    ];
                    if file == "c.secret" {
                        args.push("--always".into());
                    }
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let out = common::run_sentry(&args, ws.path());
                    assert_eq!(out.code, 0, "sentry {args:?}\n{out}");
                }
                // d: left unanswered. Meanwhile the other thread must keep going: watch its file from outside.
                _ => {
                    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                    let before = size(&ws.join("ticks"));
                    std::thread::sleep(Duration::from_millis(1500));
                    ticks_while_pending = Some(size(&ws.join("ticks")) - before);
                }
            }
        }
        if m["type"] == "answered" && m["by"] == "timeout" {
            break;
        }
    }
    drop(guard);
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "a read content a",
            "b error Permission denied",
            "c read content c",
            "c read content c",
            "d error Permission denied"
        ],
        "{stdout}"
    );
    // Four questions: the second open of c needed none.
    let asked: Vec<&str> = questions
        .iter()
        .filter_map(|q| q["path"].as_str())
        .filter_map(|p| Path::new(p).file_name().and_then(|f| f.to_str()))
        .collect();
    assert_eq!(asked, ["a.secret", "b.secret", "c.secret", "d.secret"]);
    let ticks = ticks_while_pending.expect("question d was seen");
    assert!(
        ticks > 0,
        "the other thread made no progress while a question was pending"
    );
    println!("other thread: {ticks} rounds in 1.5 s while question d was pending");

    // Every question and answer is in the audit log, and the syscall records say which answer decided them.
    let recs = records(&audit);
    let answers: Vec<(String, String)> = recs
        .iter()
        .filter(|r| r["kind"] == "approval_answer")
        .map(|r| {
            (
                r["decision"].as_str().unwrap_or("").to_string(),
                r["by"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        [
            ("allow".to_string(), "control".to_string()),
            ("deny".into(), "control".into()),
            ("allow".into(), "control".into()),
            ("deny".into(), "timeout".into())
        ]
    );
    assert_eq!(
        recs.iter()
            .filter(|r| r["kind"] == "approval_question")
            .count(),
        4
    );
    let c_opens: Vec<&str> = recs
        .iter()
        .filter(|r| {
            r["kind"] == "syscall"
                && r["args"]["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with("c.secret"))
        })
        .filter_map(|r| r["rule"].as_str())
        .collect();
    assert!(
        c_opens
            .iter()
            .any(|r| r.starts_with("approved always by answer")),
        "{c_opens:?}"
    );
    assert!(!sock.exists(), "the control socket was left behind");
}

#[test]
fn approval_without_controller_refuses_at_once() {
    // No --control and no terminal (the test has none): the question is refused immediately, and audited.
    let ws = TempDir::new("approval-none");
    ws.write("x.secret", "x\n");
    let audit = ws.join("audit.jsonl");
    let out = common::run_sandboxed(
        &[
            "--audit",
            audit.to_str().expect("ascii"),
            "--deny",
            "**/*.secret",
            "--on-deny",
            "ask",
            // Should the test runner have a terminal after all, its prompt times out quickly instead.
            "--approval-timeout",
            "2",
        ],
        &["/bin/cat", "x.secret"],
        ws.path(),
    );
    assert_eq!(out.code, 1, "{out}");
    let recs = records(&audit);
    assert!(
        recs.iter().any(|r| r["kind"] == "approval_answer"
            && (r["by"] == "no controller" || r["by"] == "timeout")),
        "{recs:#?}"
    );
}

/// Kills the child if the test fails before it is waited for.
struct KillOnDrop<'a>(&'a mut std::process::Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            common::kill_group(self.0);
        }
    }
}
