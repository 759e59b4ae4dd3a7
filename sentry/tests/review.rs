//! Regressions for the security review's findings, each judged from outside the sandbox.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;

/// No way of setting S_ISUID/S_ISGID reaches the host: chmod, fchmodat (python's os.chmod), fchmod on a writable fd,
/// and a creating open with set-id bits in its mode.
#[test]
fn setid_bits_any_route_never_on_host() {
    let ws = TempDir::new("setid");
    let script = "import os, shutil\n\
                  shutil.copy('/usr/bin/id', 'a'); shutil.copy('/usr/bin/id', 'b'); shutil.copy('/usr/bin/id', 'c')\n\
                  os.chmod('a', 0o4755)\n\
                  fd = os.open('b', os.O_RDWR)\n\
                  try:\n    os.fchmod(fd, 0o6755)\nexcept OSError as e:\n    print('fchmod', e.errno)\n\
                  os.system('chmod u+s c')\n\
                  os.close(os.open('d', os.O_CREAT | os.O_WRONLY, 0o6777))\n\
                  os.mkdir('e', 0o2777)\n";
    let out = run_sandboxed(&[], &["python3", "-c", script], ws.path());
    assert_eq!(out.code, 0, "{out}");
    for f in ["a", "b", "c", "d", "e"] {
        let mode = std::fs::metadata(ws.join(f))
            .expect("created")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o6000,
            0,
            "{f} has set-id bits on the host: {mode:o}\n{out}"
        );
    }
}

/// A unix socket by path (a host daemon's, inside a granted directory) is unreachable: connect and sendto are
/// refused, and the listener on the host records no connection.
#[test]
fn unix_socket_by_path_host_listener_gets_nothing() {
    let ws = TempDir::new("unixsock");
    let sock = ws.join("host.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind on the host");
    listener.set_nonblocking(true).expect("nonblocking");
    let dgram_path = ws.join("host.dgram");
    let dgram = std::os::unix::net::UnixDatagram::bind(&dgram_path).expect("dgram bind");
    dgram.set_nonblocking(true).expect("nonblocking");
    let script = format!(
        "import socket\n\
         s = socket.socket(socket.AF_UNIX)\n\
         try:\n    s.connect('{0}'); print('connected')\nexcept OSError as e:\n    print('connect', e.errno)\n\
         d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
         try:\n    d.sendto(b'x', '{1}'); print('sent')\nexcept OSError as e:\n    print('sendto', e.errno)\n\
         a, b = socket.socketpair(); a.send(b'ok'); print(b.recv(2))\n",
        sock.display(),
        dgram_path.display()
    );
    let out = run_sandboxed(&[], &["python3", "-c", &script], ws.path());
    assert!(
        out.stdout.contains("connect 13") && out.stdout.contains("sendto 13"),
        "{out}"
    );
    assert!(
        out.stdout.contains("b'ok'"),
        "socketpairs still work: {out}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        listener.accept().is_err(),
        "the host listener got a connection"
    );
    let mut buf = [0u8; 8];
    assert!(
        dgram.recv(&mut buf).is_err(),
        "the host datagram socket got a message"
    );
}

/// Renaming a directory does not carry a write-denied subtree to a path the rule does not name: the hook file on the
/// host keeps its content.
#[test]
fn rename_parent_of_write_denied_hooks_refused_hook_unchanged() {
    let ws = TempDir::new("rename-deny");
    std::fs::create_dir_all(ws.join("g/.git/hooks")).expect("mkdir");
    ws.write("g/.git/hooks/pre-commit", "#!/bin/sh\necho benign\n");
    ws.write(
        "pol.toml",
        "[filesystem]\ndeny = [ { path = \"./g/.git/hooks\", access = \"write\" } ]\n",
    );
    let script = "import os\n\
                  try:\n    os.rename('g/.git', 'g/t'); print('renamed')\nexcept OSError as e:\n    print('rename', e.errno)\n\
                  for p in ['g/t/hooks/pre-commit', 'g/.git/hooks/pre-commit']:\n\
                  \x20   try:\n        open(p, 'w').write('PWNED')\n    except OSError as e:\n        print('write', e.errno)\n";
    let out = run_sandboxed(
        &["--policy", "pol.toml"],
        &["python3", "-c", script],
        ws.path(),
    );
    assert!(out.stdout.contains("rename 18"), "EXDEV expected: {out}");
    let hook =
        std::fs::read_to_string(ws.join("g/.git/hooks/pre-commit")).expect("hook still there");
    assert_eq!(hook, "#!/bin/sh\necho benign\n", "{out}");
}

/// The audit log inside the workspace cannot be truncated or forged from inside.
#[test]
fn audit_log_in_workspace_not_writable_from_inside() {
    let ws = TempDir::new("audit-self");
    let out = run_sandboxed(
        &["--audit", "audit.jsonl"],
        &[
            "sh",
            "-c",
            "cat /etc/shadow; echo '{\"forged\":1}' > audit.jsonl; truncate -s 0 audit.jsonl; true",
        ],
        ws.path(),
    );
    assert!(
        out.stderr.contains("Permission denied"),
        "the writes are refused: {out}"
    );
    let log = std::fs::read_to_string(ws.join("audit.jsonl")).expect("audit log");
    // Every line is one of the sentry's records (the start record quotes the command line, "forged" included).
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert!(
            v.get("kind").is_some() && v.get("sandbox").is_some(),
            "not a sentry record: {line}"
        );
    }
    assert!(
        log.lines()
            .next()
            .is_some_and(|l| l.contains("sandbox_start")),
        "first record is the sandbox start"
    );
    assert!(
        log.contains("/etc/shadow") && log.contains("\"decision\":\"deny\""),
        "the denial is recorded"
    );
}
