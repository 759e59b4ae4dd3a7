//! `sentry` as an OCI runtime, driven the way runc is driven (the commands, their flags, the state directory), on
//! bundles with a busybox-static rootfs built here. Each test judges from outside: the host files, the state
//! directory, /proc. (containerd driving it is sentry/tests/oci_containerd.rs.)

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const BUSYBOX: &str = "/bin/busybox";

fn busybox() -> bool {
    if Path::new(BUSYBOX).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "busybox-static is missing (run .ci/deps)"
    );
    eprintln!("SKIP: {BUSYBOX} is missing (apt-get install busybox-static)");
    false
}

/// A bundle: rootfs with busybox and its applets, and a config.json from `sentry spec`, adjusted by `edit`.
struct Bundle {
    dir: TempDir,
    root: TempDir,
}

impl Bundle {
    fn new(label: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Self {
        let dir = TempDir::new_in(Path::new("/var/tmp"), label);
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "data", "run"] {
            std::fs::create_dir_all(rootfs.join(d)).expect("mkdir");
        }
        std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).expect("copy busybox");
        for a in [
            "sh", "echo", "cat", "ls", "sleep", "id", "ps", "env", "pwd", "hostname", "tty",
            "test", "touch", "true", "false", "mkdir", "stat", "wc", "head", "grep", "stty",
        ] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).expect("applet");
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
            .expect("passwd");
        let out = Command::new(sentry_bin())
            .arg("spec")
            .current_dir(dir.path())
            .output()
            .expect("sentry spec");
        assert!(out.status.success(), "sentry spec: {out:?}");
        let path = dir.path().join("config.json");
        let mut c: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read config"))
                .expect("config json");
        c["process"]["terminal"] = false.into();
        c["root"]["readonly"] = false.into();
        // The second pass of `make test` runs every container on ptrace.
        if let Some(p) = test_platform() {
            c["annotations"] = serde_json::json!({ "dev.capvisor.platform": p });
        }
        edit(&mut c);
        std::fs::write(&path, serde_json::to_vec_pretty(&c).expect("json")).expect("write config");
        let root = TempDir::new("oci-root");
        Self { dir, root }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// `sentry --root R ARGS...`, bounded.
    fn sentry(&self, args: &[&str]) -> Output {
        let mut c = command(sentry_bin(), self.path());
        c.arg("--root").arg(self.root.path()).args(args);
        run_command(c, Duration::from_secs(60))
    }

    fn state(&self, id: &str) -> serde_json::Value {
        let out = self.sentry(&["state", id]);
        assert_eq!(out.code, 0, "state {id}: {out}");
        serde_json::from_str(&out.stdout).expect("state json")
    }

    fn wait_status(&self, id: &str, want: &str) -> bool {
        wait_until(Duration::from_secs(20), || {
            let out = self.sentry(&["state", id]);
            out.code == 0 && out.stdout.contains(&format!("\"status\": \"{want}\""))
        })
    }
}

fn args(c: &mut serde_json::Value, a: &[&str]) {
    c["process"]["args"] = a.iter().map(|s| serde_json::Value::from(*s)).collect();
}

#[test]
fn lifecycle_create_holds_start_releases_kill_stops_delete_removes_everything() {
    if !busybox() {
        return;
    }
    let b = Bundle::new("oci-life", |c| args(c, &["sleep", "1000"]));
    let id = format!("life-{}", std::process::id());
    let pidfile = b.path().join("pid");
    let out = b.sentry(&[
        "create",
        "--bundle",
        b.path().to_str().expect("utf8"),
        "--pid-file",
        pidfile.to_str().expect("utf8"),
        &id,
    ]);
    assert_eq!(out.code, 0, "create: {out}");
    let st = b.state(&id);
    assert_eq!(st["status"], "created", "{st}");
    let pid: i64 = std::fs::read_to_string(&pidfile)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert_eq!(
        st["pid"], pid,
        "the pid file names the process state reports"
    );
    assert_eq!(st["id"], id.as_str());
    assert!(b.root.path().join(&id).join("state.json").exists());
    // Held before its first instruction: no `sleep` runs yet.
    let ps = b.sentry(&["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_str(&ps.stdout).expect("ps json");
    assert_eq!(pids.len(), 1, "{ps}");
    let cmd = std::fs::read(format!("/proc/{}/cmdline", pids[0])).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&cmd).starts_with("sleep"),
        "not exec'd before start"
    );

    let out = b.sentry(&["start", &id]);
    assert_eq!(out.code, 0, "start: {out}");
    assert!(b.wait_status(&id, "running"));
    assert!(
        wait_until(Duration::from_secs(10), || {
            std::fs::read(format!("/proc/{}/cmdline", pids[0]))
                .is_ok_and(|c| c.starts_with(b"sleep\x001000"))
        }),
        "sleep runs after start"
    );
    let again = b.sentry(&["start", &id]);
    assert_eq!(again.code, 1, "a second start is refused: {again}");
    let out = b.sentry(&["delete", &id]);
    assert_eq!(
        out.code, 1,
        "delete of a running container without --force: {out}"
    );
    assert!(out.stderr.contains("not stopped"), "{out}");

    let out = b.sentry(&["kill", &id, "KILL"]);
    assert_eq!(out.code, 0, "kill: {out}");
    assert!(b.wait_status(&id, "stopped"), "stopped after SIGKILL");
    let out = b.sentry(&["kill", &id, "TERM"]);
    assert_eq!(out.code, 1, "kill of a stopped container: {out}");
    assert!(out.stderr.contains("not running"), "{out}");
    let out = b.sentry(&["delete", &id]);
    assert_eq!(out.code, 0, "delete: {out}");
    assert!(!b.root.path().join(&id).exists(), "state directory removed");
    assert!(
        wait_until(Duration::from_secs(10), || pids_with_arg(&id, true)
            .is_empty()),
        "no process left"
    );
    let out = b.sentry(&["state", &id]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("does not exist"), "{out}");
}

#[test]
fn run_reports_output_and_exit_code_and_exec_joins_the_container() {
    if !busybox() {
        return;
    }
    let b = Bundle::new("oci-run", |c| {
        args(c, &["sh", "-c", "echo hello from $(hostname); exit 7"]);
        c["hostname"] = "box".into();
    });
    let id = format!("run-{}", std::process::id());
    let out = b.sentry(&["run", "--bundle", b.path().to_str().expect("utf8"), &id]);
    assert_eq!(out.code, 7, "{out}");
    assert_eq!(out.stdout, "hello from box\n");
    assert!(
        !b.root.path().join(&id).exists(),
        "run removes the container"
    );

    let b = Bundle::new("oci-exec", |c| args(c, &["sleep", "1000"]));
    let id = format!("exec-{}", std::process::id());
    let out = b.sentry(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().expect("utf8"),
        &id,
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert!(b.wait_status(&id, "running"));
    std::fs::write(b.path().join("marker"), "x").expect("marker");
    let out = b.sentry(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo in; ps -o comm | grep -c sleep; echo x > /tmp/from-exec; exit 3",
    ]);
    assert_eq!(out.code, 3, "{out}");
    assert_eq!(out.stdout, "in\n1\n", "{out}");
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("tmp/from-exec"))
            .expect("written through the gofer"),
        "x\n"
    );
    let proc_json = b.path().join("process.json");
    std::fs::write(&proc_json, r#"{"args":["sh","-c","echo $FOO; pwd"],"env":["FOO=bar","PATH=/bin"],"cwd":"/etc","user":{"uid":0,"gid":0}}"#).expect("process.json");
    let out = b.sentry(&["exec", "--process", proc_json.to_str().expect("utf8"), &id]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "bar\n/etc\n");
    let out = b.sentry(&["exec", &id, "no-such-program"]);
    assert_ne!(out.code, 0, "{out}");
    assert!(out.stderr.contains("no-such-program"), "{out}");
    let out = b.sentry(&["delete", "--force", &id]);
    assert_eq!(out.code, 0, "{out}");
    assert!(!b.root.path().join(&id).exists());
    assert!(
        wait_until(Duration::from_secs(10), || pids_with_arg(&id, true)
            .is_empty()),
        "no process left"
    );
}

#[test]
fn bad_input_gets_runc_style_errors_and_leaves_nothing_behind() {
    if !busybox() {
        return;
    }
    let b = Bundle::new("oci-err", |c| args(c, &["true"]));
    let bundle = b.path().to_str().expect("utf8").to_string();
    let log = b.path().join("log.json");
    let logs = log.to_str().expect("utf8").to_string();
    let expect_err = |out: &Output, what: &str, text: &str| {
        assert_eq!(out.code, 1, "{what}: {out}");
        assert!(out.stderr.contains(text), "{what}: want {text:?} in {out}");
        assert_no_panic(out, what);
    };
    // No config.json.
    let empty = TempDir::new("oci-empty");
    let out = b.sentry(&[
        "--log",
        &logs,
        "--log-format",
        "json",
        "create",
        "--bundle",
        empty.path().to_str().expect("utf8"),
        "e1",
    ]);
    expect_err(&out, "missing config", "config.json");
    let line = std::fs::read_to_string(&log).expect("log written");
    let v: serde_json::Value =
        serde_json::from_str(line.lines().last().expect("a line")).expect("json log line");
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().expect("msg").contains("config.json"));
    // Unknown and unsupported fields, by name.
    for (key, val, text) in [
        ("/solaris", serde_json::json!({}), "solaris"),
        (
            "/linux/intelRdt",
            serde_json::json!({"closID": "x"}),
            "intelRdt",
        ),
        (
            "/linux/devices",
            serde_json::json!([{"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}]),
            "linux.devices",
        ),
        (
            "/mounts",
            serde_json::json!([{"destination": "/x", "type": "nfs", "source": "h:/x"}]),
            "nfs",
        ),
    ] {
        let d = Bundle::new("oci-bad", |c| {
            let parts: Vec<&str> = key.trim_start_matches('/').split('/').collect();
            match parts.as_slice() {
                [a] => c[*a] = val.clone(),
                [a, b2] => c[*a][*b2] = val.clone(),
                _ => unreachable!(),
            }
        });
        let out = d.sentry(&[
            "create",
            "--bundle",
            d.path().to_str().expect("utf8"),
            "bad1",
        ]);
        expect_err(&out, key, text);
        assert!(!d.root.path().join("bad1").exists(), "{key}: no state left");
    }
    // A missing bind source.
    let d = Bundle::new("oci-nosrc", |c| {
        c["mounts"].as_array_mut().expect("mounts").push(serde_json::json!({"destination": "/data", "type": "bind", "source": "/nonexistent/capvisor", "options": ["rbind"]}));
    });
    let out = d.sentry(&[
        "create",
        "--bundle",
        d.path().to_str().expect("utf8"),
        "bad2",
    ]);
    expect_err(&out, "missing source", "/nonexistent/capvisor");
    assert!(!d.root.path().join("bad2").exists());
    // Invalid ids; an id that exists; ids that do not.
    let out = b.sentry(&["create", "--bundle", &bundle, "../x"]);
    expect_err(&out, "bad id", "invalid container id");
    let id = format!("dup-{}", std::process::id());
    let out = b.sentry(&["create", "--bundle", &bundle, &id]);
    assert_eq!(out.code, 0, "{out}");
    let out = b.sentry(&["create", "--bundle", &bundle, &id]);
    expect_err(&out, "duplicate", "container with id exists");
    assert_eq!(
        b.state(&id)["status"],
        "created",
        "the first container is untouched"
    );
    for cmd in [
        vec!["state", "nope"],
        vec!["start", "nope"],
        vec!["kill", "nope"],
        vec!["delete", "nope"],
        vec!["exec", "nope", "true"],
    ] {
        let out = b.sentry(&cmd);
        expect_err(&out, &cmd.join(" "), "does not exist");
    }
    let out = b.sentry(&["delete", "--force", "nope"]);
    assert_eq!(out.code, 0, "delete --force of nothing is fine: {out}");
    let out = b.sentry(&["delete", &id]);
    assert_eq!(out.code, 0, "a created container can be deleted: {out}");
    assert!(!b.root.path().join(&id).exists());
    assert!(
        wait_until(Duration::from_secs(10), || pids_with_arg(&id, true)
            .is_empty()),
        "no process left"
    );
}

#[test]
fn mounts_masks_user_and_hooks_follow_the_config() {
    if !busybox() {
        return;
    }
    let host_rw = TempDir::new_in(Path::new("/var/tmp"), "oci-rw");
    let host_ro = TempDir::new_in(Path::new("/var/tmp"), "oci-ro");
    std::fs::write(host_ro.path().join("f"), "ro\n").expect("ro file");
    let hooklog = TempDir::new_in(Path::new("/var/tmp"), "oci-hooks");
    let logf = hooklog.path().join("order");
    let hook = |name: &str| serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read -r s; case \"$s\" in *'\"id\"'*) echo {name} >> {} ;; esac", logf.display())]});
    let b = Bundle::new("oci-mounts", |c| {
        args(c, &["sh", "-c", "id -u; id -g; echo w > /data/out; (echo w > /ro/f) 2>/dev/null && echo ro-written; (echo w > /etc/x) 2>/dev/null && echo root-written; echo t > /run/t && cat /run/t; cat /proc/kcore 2>/dev/null | wc -c; ls /sys/firmware | wc -l; echo $MYVAR; pwd"]);
        c["root"]["readonly"] = true.into();
        c["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
        c["process"]["env"] = serde_json::json!(["PATH=/bin", "MYVAR=set"]);
        c["process"]["cwd"] = "/data".into();
        let m = c["mounts"].as_array_mut().expect("mounts");
        m.push(serde_json::json!({"destination": "/data", "type": "bind", "source": host_rw.path(), "options": ["rbind", "rw"]}));
        m.push(serde_json::json!({"destination": "/ro", "type": "bind", "source": host_ro.path(), "options": ["rbind", "ro"]}));
        m.push(serde_json::json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}));
        c["hooks"] = serde_json::json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "createContainer": [hook("createContainer")],
            "startContainer": [hook("startContainer")],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        });
    });
    std::fs::set_permissions(
        host_rw.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let id = format!("mounts-{}", std::process::id());
    let out = b.sentry(&["run", "--bundle", b.path().to_str().expect("utf8"), &id]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "1000\n1000\nt\n0\n0\nset\n/data\n", "{out}");
    assert_eq!(
        std::fs::read_to_string(host_rw.path().join("out")).expect("bind is writable"),
        "w\n"
    );
    assert_eq!(
        std::fs::read_to_string(host_ro.path().join("f")).expect("ro"),
        "ro\n",
        "ro bind unchanged"
    );
    assert!(
        !b.rootfs().join("etc/x").exists(),
        "read-only root unchanged"
    );
    assert!(
        !b.rootfs().join("run/t").exists(),
        "tmpfs is not the rootfs"
    );
    let order = std::fs::read_to_string(&logf).unwrap_or_default();
    assert_eq!(
        order, "prestart\ncreateRuntime\ncreateContainer\nstartContainer\npoststart\npoststop\n",
        "hooks in the spec's order, each given the state"
    );
}

/// Receives one fd sent with SCM_RIGHTS on a connection accepted from `listener`.
fn receive_console(listener: &std::os::unix::net::UnixListener) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (conn, _) = listener.accept().expect("accept console");
    let mut buf = [0u8; 256];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the fd was just received and is owned by nothing else.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd on the console socket");
}

#[test]
fn terminal_goes_to_the_console_socket() {
    if !busybox() {
        return;
    }
    let b = Bundle::new("oci-tty", |c| {
        args(
            c,
            &["sh", "-c", "tty; test -t 0 && echo is-a-tty; stty size"],
        );
        c["process"]["terminal"] = true.into();
        c["process"]["consoleSize"] = serde_json::json!({"height": 33, "width": 111});
    });
    let sock = b.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind console");
    let id = format!("tty-{}", std::process::id());
    let out = b.sentry(&[
        "create",
        "--bundle",
        b.path().to_str().expect("utf8"),
        "--console-socket",
        sock.to_str().expect("utf8"),
        &id,
    ]);
    assert_eq!(out.code, 0, "{out}");
    let master = receive_console(&listener);
    let out = b.sentry(&["start", &id]);
    assert_eq!(out.code, 0, "{out}");
    let mut text = Vec::new();
    let mut f = std::fs::File::from(master);
    let _ = std::io::Read::read_to_end(&mut f, &mut text);
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("is-a-tty"), "{text}");
    assert!(text.contains("33 111"), "consoleSize: {text}");
    assert!(b.wait_status(&id, "stopped"));
    assert_eq!(b.sentry(&["delete", &id]).code, 0);
    // terminal: true without a console socket cannot detach.
    let out = b.sentry(&["create", "--bundle", b.path().to_str().expect("utf8"), &id]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("console socket"), "{out}");
}

#[test]
fn a_container_cannot_reach_host_files_outside_its_bundle() {
    if !busybox() {
        return;
    }
    let secret_dir = TempDir::new_in(Path::new("/var/tmp"), "oci-secret");
    let secret = secret_dir.path().join("secret");
    std::fs::write(&secret, "TOPSECRET\n").expect("secret");
    let s = secret.to_str().expect("utf8").to_string();
    let b = Bundle::new("oci-escape", |c| {
        args(
            c,
            &[
                "sh",
                "-c",
                &format!(
                    "cat {s} /proc/1/root{s} /proc/self/root{s} ../../../..{s} 2>&1; \
             ln -s {s} /tmp/l && cat /tmp/l; echo pwned > {s}; echo pwned > /proc/1/root{s}; \
             mknod /tmp/sda b 8 0; cat /dev/sda; ls /proc/1/root/; echo done"
                ),
            ],
        );
    });
    let id = format!("escape-{}", std::process::id());
    let out = b.sentry(&["run", "--bundle", b.path().to_str().expect("utf8"), &id]);
    assert!(out.stdout.contains("done"), "{out}");
    assert!(
        !out.stdout.contains("TOPSECRET") && !out.stderr.contains("TOPSECRET"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&secret).expect("secret"),
        "TOPSECRET\n",
        "host file unchanged"
    );
    // The writes that did land, landed in the rootfs.
    assert!(!secret_dir.path().join("l").exists());
}
