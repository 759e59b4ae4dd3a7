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
        // Audit logs in the bundle's directory (removed with it), not the node's /var/log/capvisor.
        c.env("CAPVISOR_AUDIT_DIR", self.path().join("audit"));
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
    assert!(pid > 0, "the pid file names the supervisor");
    assert_eq!(st["id"], id.as_str());
    assert!(b.root.path().join(&id).join("state.json").exists());
    // Held before its first instruction: no `sleep` runs yet.
    let ps = b.sentry(&["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_str(&ps.stdout).expect("ps json");
    assert_eq!(pids.len(), 1, "{ps}");
    assert_eq!(st["pid"], pids[0], "state's pid is the container's process");
    let ns = |p: u32, n: &str| std::fs::read_link(format!("/proc/{p}/ns/{n}")).expect("ns link");
    let agent = u32::try_from(pids[0]).expect("pid");
    for n in ["mnt", "pid", "net", "user"] {
        assert_ne!(
            ns(agent, n),
            ns(std::process::id(), n),
            "its own {n} namespace"
        );
    }
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

#[test]
fn pods_name_no_host_paths_and_the_audit_log_is_bounded_in_the_node_directory() {
    if !busybox() {
        return;
    }
    for (k, v) in [
        ("dev.capvisor.control", "/run/x.sock"),
        ("dev.capvisor.on-deny", "ask"),
        ("dev.capvisor.audit", "/etc/profile.d/x.sh"),
    ] {
        let b = Bundle::new("oci-annot", |c| {
            args(c, &["true"]);
            c["annotations"] = serde_json::json!({ k: v });
        });
        let out = b.sentry(&["create", "--bundle", b.path().to_str().expect("utf8"), "a1"]);
        assert_eq!(out.code, 1, "{k}={v} must be refused: {out}");
        assert!(out.stderr.contains(k), "{out}");
        assert!(!b.root.path().join("a1").exists());
    }
    // Denials only by default: one refused write is recorded, the allowed calls are not.
    let b = Bundle::new("oci-audit", |c| {
        args(c, &["sh", "-c", "cat /etc/passwd >/dev/null; (echo x > /proc/sys/kernel/hostname) 2>/dev/null; true"]);
    });
    let id = format!("audit-{}", std::process::id());
    let out = b.sentry(&["run", "--bundle", b.path().to_str().expect("utf8"), &id]);
    assert_eq!(out.code, 0, "{out}");
    let root_name = b
        .root
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let log = b
        .path()
        .join("audit")
        .join(format!("{root_name}_{id}.jsonl"));
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    assert!(text.contains("\"sandbox_start\""), "{text}");
    assert!(
        text.contains("\"decision\":\"deny\""),
        "the refused write is recorded: {text}"
    );
    assert!(
        !text.contains("\"decision\":\"allow\""),
        "allowed calls are not recorded by default"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&log).expect("meta").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn the_spawner_survives_the_containers_own_signals_and_cgroups_go_with_delete() {
    if !busybox() {
        return;
    }
    let cg = format!("capvisor-test-{}", std::process::id());
    let b = Bundle::new("oci-spawner", |c| {
        args(
            c,
            &[
                "sh",
                "-c",
                "trap '' TERM INT HUP; kill -TERM 0; kill -INT 0; kill -HUP 0; sleep 1000",
            ],
        );
        c["linux"]["cgroupsPath"] = format!("/{cg}/c1").into();
    });
    let id = format!("spawner-{}", std::process::id());
    let out = b.sentry(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().expect("utf8"),
        &id,
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert!(b.wait_status(&id, "running"));
    std::thread::sleep(Duration::from_millis(300));
    let out = b.sentry(&["exec", &id, "echo", "still here"]);
    assert_eq!(out.code, 0, "exec after kill(0, ...) inside: {out}");
    assert_eq!(out.stdout, "still here\n");
    // The container's process is in the cgroupsPath of every mounted hierarchy.
    let st = b.state(&id);
    let agent = st["pid"].as_i64().expect("pid");
    let cgs = std::fs::read_to_string(format!("/proc/{agent}/cgroup")).expect("cgroup");
    for line in cgs.lines() {
        assert!(
            line.contains(&format!("/{cg}/c1")),
            "every hierarchy: {cgs}"
        );
    }
    // Kill the supervisor itself: delete still removes every cgroup and process.
    let sup: i32 = std::fs::read_to_string(b.root.path().join(&id).join("state.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["pid"].as_i64())
        .and_then(|p| i32::try_from(p).ok())
        .expect("supervisor pid");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sup),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert!(b.wait_status(&id, "stopped"));
    let out = b.sentry(&["delete", &id]);
    assert_eq!(out.code, 0, "{out}");
    let left: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path().join(&cg))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.is_empty() && !Path::new("/sys/fs/cgroup").join(&cg).exists(),
        "cgroups left: {left:?}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || pids_with_arg(&id, true)
            .is_empty()),
        "no process left"
    );
    // A systemd cgroupsPath that climbs out of the cgroup tree is refused.
    let b2 = Bundle::new("oci-cgpath", |c| {
        args(c, &["true"]);
        c["linux"]["cgroupsPath"] = "system.slice:x:y/../../../../tmp/capvisor-escape".into();
    });
    let out = b2.sentry(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        b2.path().to_str().expect("utf8"),
        "cg1",
    ]);
    assert_eq!(out.code, 1, "{out}");
    assert!(!Path::new("/tmp/capvisor-escape.scope").exists());
}

#[test]
fn a_dangling_symlink_under_a_bind_mount_is_made_inside_the_rootfs() {
    if !busybox() {
        return;
    }
    let host = TempDir::new_in(Path::new("/var/tmp"), "oci-resolv");
    std::fs::write(host.path().join("resolv.conf"), "nameserver 192.0.2.53\n").expect("resolv");
    let outside = TempDir::new_in(Path::new("/var/tmp"), "oci-outside");
    let b = Bundle::new("oci-dangling", |c| {
        args(c, &["cat", "/etc/resolv.conf", "/etc/hosts"]);
        let m = c["mounts"].as_array_mut().expect("mounts");
        m.push(serde_json::json!({"destination": "/etc/resolv.conf", "type": "bind", "source": host.path().join("resolv.conf"), "options": ["rbind", "ro"]}));
        m.push(serde_json::json!({"destination": "/etc/hosts", "type": "bind", "source": host.path().join("resolv.conf"), "options": ["rbind", "ro"]}));
    });
    // As systemd images have it, and one that climbs out of the rootfs (it must stay inside).
    std::os::unix::fs::symlink(
        "../run/systemd/resolve/stub-resolv.conf",
        b.rootfs().join("etc/resolv.conf"),
    )
    .expect("link");
    let escape = format!("../../../../../../..{}/hosts", outside.path().display());
    std::os::unix::fs::symlink(&escape, b.rootfs().join("etc/hosts")).expect("link");
    let id = format!("dangling-{}", std::process::id());
    let out = b.sentry(&["run", "--bundle", b.path().to_str().expect("utf8"), &id]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "nameserver 192.0.2.53\nnameserver 192.0.2.53\n");
    assert!(
        b.rootfs()
            .join("run/systemd/resolve/stub-resolv.conf")
            .exists(),
        "made inside the rootfs"
    );
    assert!(
        !outside.path().join("hosts").exists(),
        "nothing made outside the rootfs"
    );
    assert!(b
        .rootfs()
        .join(outside.path().strip_prefix("/").expect("abs"))
        .join("hosts")
        .exists());
}
