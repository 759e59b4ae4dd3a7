//! What only the ptrace platform has to prove, judged from outside where it can be: the reserved injection socket
//! gives the agent nothing, killing the sentry kills every tracee (stopped, trapped or running), process semantics
//! (stop/continue/kill mid-syscall/exit codes/threads) match native, and an interactive bash keeps job control
//! (Ctrl-Z, fg, bg, Ctrl-C) under tmux.
//!
//! Every other integration test runs on ptrace too: `make test` runs them again with `SENTRY_TEST_PLATFORM=ptrace`.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{
    have, kill_group, pids_with_arg, run_command, run_native, sentry_bin, wait_until, Output,
    TempDir, RUN_TIMEOUT,
};

fn on_ptrace(args: &[&str], cmd: &[&str], ws: &TempDir) -> Output {
    let mut c = common::command(sentry_bin(), ws.path());
    c.args(["exec", "--platform", "ptrace"])
        .args(args)
        .arg("--")
        .args(cmd);
    let out = run_command(c, RUN_TIMEOUT);
    common::assert_no_panic(&out, "sentry exec --platform ptrace");
    out
}

fn token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}{:09}", std::process::id(), nanos)
}

/// The agent finds the reserved socket and tries everything with it: nothing is ever queued for it, what it sends
/// is refused, and closing it, moving it or putting another file at its number only costs it the socket (the next
/// install re-creates it) — never a wrong fd, never a lost file.
const RESERVED_SOCKET_PROBE: &str = r#"
import os, socket, errno, threading
def reserved():
    out = []
    for n in os.listdir("/proc/self/fd"):
        try:
            t = os.readlink("/proc/self/fd/" + n)
        except OSError:
            continue
        if t.startswith("socket:") and int(n) > 100:
            out.append(int(n))
    return out
open("data.txt", "w").write("payload\n")
f = open("data.txt")              # an fd install: the channel exists from here
r = reserved()
print("reserved", len(r))
fd = r[0]
s = socket.socket(fileno=os.dup(fd))
s.setblocking(False)
def try_recv(tag):
    try:
        data, anc, flags, _ = s.recvmsg(64, socket.CMSG_SPACE(64))
        print(tag, "GOT", data, len(anc))
    except OSError as e:
        print(tag, errno.errorcode[e.errno])
try_recv("recv-idle")
for i in range(20):
    g = open("data.txt"); g.close()
try_recv("recv-after-installs")
# A thread hammering recvmsg while the main thread opens files can only take fds of its own process's opens.
stop = False
stolen = []
def thief():
    while not stop:
        try:
            data, anc, flags, _ = s.recvmsg(64, socket.CMSG_SPACE(64))
            stolen.append(len(anc))
        except OSError:
            pass
t = threading.Thread(target=thief); t.start()
ok = 0
for i in range(200):
    try:
        g = open("data.txt"); ok += g.read() == "payload\n"; g.close()
    except OSError as e:
        print("open-during-theft", errno.errorcode[e.errno])
stop = True; t.join()
print("opens-during-theft-read-payload", ok == 200 - 0 or ok)
try:
    s.send(b"x")
    print("send OK?!")
except OSError as e:
    print("send", errno.errorcode[e.errno])
try:
    s.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(4))])
    print("sendmsg OK?!")
except OSError as e:
    print("sendmsg", errno.errorcode[e.errno])
try:
    s.connect("\0capvisor-nowhere")
    print("connect OK?!")
except OSError as e:
    print("connect", errno.errorcode[e.errno])
s.close()
# Move it away, then put a regular file at its number: installs still give the right file at the lowest number.
os.dup2(fd, 50); os.close(fd)
g = open("data.txt"); print("after-close", g.read().strip(), g.fileno() < 50); g.close()
r = reserved()
fd2 = [x for x in r if x != 50][0]
os.dup2(f.fileno(), fd2)
g = open("data.txt"); print("after-dup2-over", g.read().strip()); g.close()
os.lseek(fd2, 0, 0)
print("file-at-reserved-number", os.read(fd2, 100).decode().strip())
os.close(fd2)
g = open("data.txt"); print("after-close-all", g.read().strip()); g.close()
"#;

#[test]
fn reserved_injection_socket_gives_the_agent_nothing() {
    let ws = TempDir::new("ptrace-reserved");
    let out = on_ptrace(
        &["--rw", ws.str()],
        &["/usr/bin/python3", "-c", RESERVED_SOCKET_PROBE],
        &ws,
    );
    assert_eq!(out.code, 0, "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    for want in [
        "reserved 1",
        "recv-idle EAGAIN",
        "recv-after-installs EAGAIN",
        "send EPIPE",
        "sendmsg EPIPE",
        "after-close payload True",
        "after-dup2-over payload",
        "file-at-reserved-number payload",
        "after-close-all payload",
    ] {
        assert!(lines.contains(&want), "missing {want:?}\n{out}");
    }
    // connect on a connected SOCK_SEQPACKET: EISCONN; never a new peer.
    assert!(
        lines.iter().any(|l| l.starts_with("connect E")),
        "connect on the reserved socket must fail\n{out}"
    );
    assert!(!out.stdout.contains("OK?!"), "{out}");
    assert!(!out.stdout.contains("open-during-theft"), "{out}");
}

/// SIGKILL to the sentry: every tracee dies with it — one running, one stopped (group stop, held with LISTEN), one
/// waiting in a trapped syscall (a FIFO open the sentry serves), and the threads of a multi-threaded one.
#[test]
fn killing_the_sentry_kills_every_tracee() {
    let ws = TempDir::new("ptrace-exitkill");
    let tok = token();
    let script = format!(
        "mkfifo fifo-{tok}; \
         sleep 1000.{tok} & \
         sleep 1001.{tok} & kill -STOP $!; \
         /usr/bin/python3 -c 'open(\"fifo-{tok}\")' {tok} & \
         /usr/bin/python3 -c 'import threading,time; [threading.Thread(target=time.sleep, args=(1000,)).start() for _ in range(4)]; time.sleep(1000)' {tok} & \
         wait"
    );
    let mut child = {
        let mut c = common::command(sentry_bin(), ws.path());
        c.args(["exec", "--platform", "ptrace", "--rw", ws.str(), "--"])
            .args(["/bin/bash", "-c", &script]);
        c.spawn().expect("spawn sentry")
    };
    let started = wait_until(Duration::from_secs(30), || {
        pids_with_arg(&tok, false).len() >= 5
    });
    if !started {
        kill_group(&child);
        let _ = child.wait();
        panic!(
            "the tracees never started: {:?}",
            pids_with_arg(&tok, false)
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("kill the sentry");
    let _ = child.wait();
    let gone = wait_until(Duration::from_secs(10), || {
        pids_with_arg(&tok, false).is_empty()
    });
    let left = pids_with_arg(&tok, false);
    for p in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(gone, "tracees outlived the sentry: {left:?}");
}

/// Stop, continue, kill in the middle of a trapped syscall, exit codes, threads and signals to them: the same
/// report natively and on ptrace.
const PROCESS_SEMANTICS: &str = r#"
import os, signal, threading, time, sys
os.mkfifo("fifo")
# A child blocked in a trapped syscall (a FIFO open with no writer), killed there.
pid = os.fork()
if pid == 0:
    open("fifo"); os._exit(0)
time.sleep(0.3)
os.kill(pid, signal.SIGKILL)
_, st = os.waitpid(pid, 0)
print("killed-mid-syscall", os.WIFSIGNALED(st), os.WTERMSIG(st))
# Stop and continue, as a parent sees it.
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    os.read(r, 1)
    os._exit(5)
os.kill(pid, signal.SIGSTOP)
_, st = os.waitpid(pid, os.WUNTRACED)
print("stopped", os.WIFSTOPPED(st), os.WSTOPSIG(st))
os.kill(pid, signal.SIGCONT)
_, st = os.waitpid(pid, os.WCONTINUED)
print("continued", os.WIFCONTINUED(st))
os.write(w, b"x")
_, st = os.waitpid(pid, 0)
print("exit", os.WEXITSTATUS(st))
# SIGCHLD reaches a handler.
got = []
signal.signal(signal.SIGCHLD, lambda s, f: got.append(s))
pid = os.fork()
if pid == 0:
    os._exit(3)
os.waitpid(pid, 0)
time.sleep(0.1)
print("sigchld", len(got) >= 1)
# A signal handled while threads run trapped syscalls.
hits = []
signal.signal(signal.SIGUSR1, lambda s, f: hits.append(s))
def work():
    for _ in range(50):
        os.stat("fifo")
ts = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in ts]
for _ in range(5):
    os.kill(os.getpid(), signal.SIGUSR1)
[t.join() for t in ts]
print("usr1", len(hits) >= 1)
# vfork + exec, and an exit code through exec.
import subprocess
print("subprocess", subprocess.run(["/bin/sh", "-c", "exit 9"]).returncode)
# A thread that execs: the process image is replaced, the other threads are gone.
pid = os.fork()
if pid == 0:
    def ex():
        os.execv("/bin/sh", ["sh", "-c", "exit 4"])
    threading.Thread(target=time.sleep, args=(100,), daemon=True).start()
    threading.Thread(target=ex).start()
    time.sleep(100)
_, st = os.waitpid(pid, 0)
print("thread-exec", os.WEXITSTATUS(st))
sys.stdout.flush()
os.kill(os.getpid(), signal.SIGTERM)
"#;

#[test]
fn process_semantics_match_native() {
    let ws = TempDir::new("ptrace-proc");
    let native = run_native(&["/usr/bin/python3", "-c", PROCESS_SEMANTICS], ws.path());
    let _ = std::fs::remove_file(ws.join("fifo"));
    let traced = on_ptrace(
        &["--rw", ws.str()],
        &["/usr/bin/python3", "-c", PROCESS_SEMANTICS],
        &ws,
    );
    assert_eq!(native.code, 128 + 15, "native: {native}");
    assert!(
        native.stdout.contains("killed-mid-syscall True 9"),
        "{native}"
    );
    assert_eq!(
        (traced.code, &traced.stdout),
        (native.code, &native.stdout),
        "ptrace differs from native\nnative: {native}\nptrace: {traced}"
    );
}

fn tmux(sock: &str, args: &[&str]) -> Output {
    let mut c = common::command("tmux", std::path::Path::new("/"));
    c.arg("-L").arg(sock).args(args);
    run_command(c, Duration::from_secs(20))
}

fn pane(sock: &str) -> String {
    tmux(sock, &["capture-pane", "-p", "-t", "t"]).stdout
}

/// The state letter of /proc/PID/stat ('S' sleeping, 'T' stopped, 't' tracing stop).
fn state(pid: i32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit_once(") ")?.1.chars().next()
}

#[test]
fn interactive_bash_job_control_under_tmux() {
    if !have("tmux") {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let ws = TempDir::new("ptrace-tmux");
    let sock = format!("capvisor-pt-{}", token());
    let tok = token();
    let cmd = format!(
        "cd {} && exec env -i PATH=/usr/local/bin:/usr/bin:/bin TERM=xterm {} exec --platform ptrace -- /bin/bash --norc --noprofile -i",
        ws.str(),
        sentry_bin().display()
    );
    let out = tmux(
        &sock,
        &[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "120",
            "-y",
            "40",
            &cmd,
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    let cleanup = || {
        let _ = tmux(&sock, &["kill-server"]);
        for p in pids_with_arg(&tok, false) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    };
    let keys = |k: &[&str]| {
        let mut a = vec!["send-keys", "-t", "t"];
        a.extend_from_slice(k);
        tmux(&sock, &a);
    };
    let result = std::panic::catch_unwind(|| {
        assert!(
            wait_until(Duration::from_secs(30), || pane(&sock).contains('$')
                || pane(&sock).contains('#')),
            "no prompt: {}",
            pane(&sock)
        );
        // Ctrl-Z stops the foreground job; the shell says so and the process is stopped, seen from outside.
        keys(&[&format!("sleep 1000.1{tok}"), "Enter"]);
        assert!(wait_until(Duration::from_secs(20), || pids_with_arg(
            &format!(".1{tok}"),
            false
        )
        .len()
            == 1));
        let a = pids_with_arg(&format!(".1{tok}"), false)[0];
        keys(&["C-z"]);
        assert!(
            wait_until(Duration::from_secs(20), || pane(&sock).contains("Stopped")),
            "no 'Stopped' after Ctrl-Z: {}",
            pane(&sock)
        );
        assert!(
            wait_until(Duration::from_secs(10), || matches!(
                state(a),
                Some('T' | 't')
            )),
            "the job is not stopped: {:?}",
            state(a)
        );
        // bg: it runs again, in the background.
        keys(&["bg", "Enter"]);
        assert!(
            wait_until(Duration::from_secs(10), || state(a) == Some('S')),
            "bg did not resume the job: {:?}\n{}",
            state(a),
            pane(&sock)
        );
        keys(&["jobs", "Enter"]);
        assert!(
            wait_until(Duration::from_secs(10), || pane(&sock).contains("Running")),
            "{}",
            pane(&sock)
        );
        // fg, then Ctrl-C: the job dies of SIGINT, the shell lives on.
        keys(&["fg", "Enter"]);
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(state(a), Some('S'), "{}", pane(&sock));
        keys(&["C-c"]);
        assert!(
            wait_until(Duration::from_secs(10), || pids_with_arg(
                &format!(".1{tok}"),
                false
            )
            .is_empty()),
            "Ctrl-C did not end the foreground job: {}",
            pane(&sock)
        );
        // A second job: Ctrl-Z, then fg brings it back to the foreground, running.
        keys(&[&format!("sleep 1000.2{tok}"), "Enter"]);
        assert!(wait_until(Duration::from_secs(20), || pids_with_arg(
            &format!(".2{tok}"),
            false
        )
        .len()
            == 1));
        let b = pids_with_arg(&format!(".2{tok}"), false)[0];
        keys(&["C-z"]);
        assert!(wait_until(Duration::from_secs(10), || matches!(
            state(b),
            Some('T' | 't')
        )));
        keys(&["fg", "Enter"]);
        assert!(
            wait_until(Duration::from_secs(10), || state(b) == Some('S')),
            "fg did not resume: {:?}",
            state(b)
        );
        keys(&["C-c"]);
        assert!(wait_until(Duration::from_secs(10), || pids_with_arg(
            &format!(".2{tok}"),
            false
        )
        .is_empty()));
        // The shell still answers.
        keys(&["echo alive-$((6*7))", "Enter"]);
        assert!(
            wait_until(Duration::from_secs(10), || pane(&sock).contains("alive-42")),
            "{}",
            pane(&sock)
        );
        keys(&["exit", "Enter"]);
    });
    cleanup();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// `--platform auto` picks seccomp here (user-notify with ADDFD is offered), and --strace and the audit log name the
/// platform that ran.
#[test]
fn platform_is_shown_in_strace_and_audit() {
    let ws = TempDir::new("ptrace-shown");
    let audit = ws.join("audit.jsonl");
    let out = on_ptrace(
        &["--strace", "--audit", audit.to_str().expect("utf8")],
        &["/bin/true"],
        &ws,
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.lines().any(|l| l == "sentry: platform ptrace"),
        "{out}"
    );
    let log = std::fs::read_to_string(&audit).expect("audit log");
    let start = log
        .lines()
        .find(|l| l.contains("\"sandbox_start\""))
        .expect("a sandbox_start record");
    assert!(start.contains("\"platform\":\"ptrace\""), "{start}");

    let mut c = common::command(sentry_bin(), ws.path());
    c.args(["exec", "--platform", "auto", "--strace", "--", "/bin/true"]);
    let out = run_command(c, RUN_TIMEOUT);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.lines().any(|l| l == "sentry: platform seccomp"),
        "auto on this kernel (user-notify with ADDFD) is seccomp\n{out}"
    );
}
