//! The gofer's server over a real socket pair, without the confinement (which needs a fresh process): what it does
//! for a well-formed request, what it refuses whatever the client asks, and that a malformed client loses its
//! connection. The roots are temp directories; judged on the host.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gofer::proto::{Reply, Req};
use gofer::server::{serve, Ended, Root, State};
use gofer::wire;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

struct Dir(PathBuf);

impl Dir {
    fn new(label: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "capvisor-gofer-{label}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("mkdir");
        Self(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn root(p: &Path, writable: bool) -> Root {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("path");
    Root {
        dir: gofer::sys::open_abs(&c, libc::O_PATH | libc::O_DIRECTORY).expect("open root"),
        file: None,
        writable,
    }
}

/// A server on one end of a socket pair; the other end, and the thread (which returns why it ended).
fn start(roots: Vec<Root>) -> (OwnedFd, std::thread::JoinHandle<Ended>) {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair");
    let state = Arc::new(State::new(roots));
    let h = std::thread::spawn(move || serve(&state, b));
    (a, h)
}

fn call(sock: &OwnedFd, req: &Req) -> (Reply, Option<OwnedFd>) {
    wire::send(sock.as_fd(), &req.encode(), None).expect("send");
    let (b, fd) = wire::recv(sock.as_fd()).expect("recv").expect("a reply");
    (Reply::decode(&b).expect("well-formed reply"), fd)
}

fn errno(r: &Reply) -> i32 {
    match r {
        Reply::Err(e) => *e,
        Reply::Ok { .. } => 0,
    }
}

#[test]
fn serves_operations_beneath_a_writable_root() {
    let d = Dir::new("rw");
    let (s, _h) = start(vec![root(&d.0, true)]);
    let (r, fd) = call(
        &s,
        &Req::Open {
            root: 0,
            path: b"f".to_vec(),
            flags: libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
            mode: 0o4755,
        },
    );
    assert_eq!(r, Reply::ok(0));
    let fd = fd.expect("an fd comes back");
    nix::unistd::write(&fd, b"data").expect("write through the fd");
    drop(fd);
    assert_eq!(std::fs::read(d.0.join("f")).expect("read"), b"data");
    // A set-user-id bit never reaches the host, at creation or by chmod.
    let mode = std::fs::metadata(d.0.join("f"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7000, 0, "{mode:o}");
    let (r, _) = call(
        &s,
        &Req::Chmod {
            root: 0,
            path: b"f".to_vec(),
            mode: 0o4755,
        },
    );
    assert_eq!(errno(&r), libc::EPERM);
    for req in [
        Req::Mkdir {
            root: 0,
            path: b"d".to_vec(),
            mode: 0o755,
        },
        Req::Rename {
            root: 0,
            from: b"f".to_vec(),
            to: b"d/g".to_vec(),
            flags: 0,
        },
        Req::Symlink {
            root: 0,
            target: b"/etc/passwd".to_vec(),
            path: b"d/s".to_vec(),
        },
        Req::Link {
            root: 0,
            from: b"d/g".to_vec(),
            to: b"h".to_vec(),
        },
        Req::Mknod {
            root: 0,
            path: b"p".to_vec(),
            mode: libc::S_IFIFO | 0o600,
        },
    ] {
        let (r, fd) = call(&s, &req);
        assert_eq!(r, Reply::ok(0), "{req:?}");
        assert!(fd.is_none());
    }
    assert!(d.0.join("d/g").is_file() && d.0.join("h").is_file());
    assert_eq!(
        std::fs::read_link(d.0.join("d/s")).expect("readlink"),
        Path::new("/etc/passwd")
    );
    // A symlink on the way is never followed: the symlink's own target stays untouched.
    let (r, _) = call(
        &s,
        &Req::Open {
            root: 0,
            path: b"d/s".to_vec(),
            flags: libc::O_RDONLY,
            mode: 0,
        },
    );
    assert_eq!(errno(&r), libc::ELOOP);
    // Devices are never made.
    let (r, _) = call(
        &s,
        &Req::Mknod {
            root: 0,
            path: b"null".to_vec(),
            mode: libc::S_IFCHR | 0o666,
        },
    );
    assert_eq!(errno(&r), libc::EPERM);
    assert!(!d.0.join("null").exists());
    let (r, _) = call(&s, &Req::Stats);
    let Reply::Ok { data, .. } = r else {
        panic!("stats")
    };
    assert!(
        String::from_utf8_lossy(&data).contains("open=2"),
        "{data:?}"
    );
}

#[test]
fn every_write_under_a_read_only_root_is_erofs_whatever_the_client_asks() {
    let d = Dir::new("ro");
    std::fs::write(d.0.join("f"), b"keep").expect("write");
    std::fs::create_dir(d.0.join("sub")).expect("mkdir");
    let (s, _h) = start(vec![root(&d.0, false)]);
    let p = |x: &str| x.as_bytes().to_vec();
    let writes = vec![
        Req::Open {
            root: 0,
            path: p("f"),
            flags: libc::O_WRONLY,
            mode: 0,
        },
        Req::Open {
            root: 0,
            path: p("f"),
            flags: libc::O_RDONLY | libc::O_TRUNC,
            mode: 0,
        },
        Req::Open {
            root: 0,
            path: p("new"),
            flags: libc::O_RDONLY | libc::O_CREAT,
            mode: 0o644,
        },
        Req::Open {
            root: 0,
            path: p("sub"),
            flags: libc::O_TMPFILE | libc::O_RDWR,
            mode: 0o600,
        },
        Req::Mkdir {
            root: 0,
            path: p("d"),
            mode: 0o755,
        },
        Req::Unlink {
            root: 0,
            path: p("f"),
            dir: false,
        },
        Req::Unlink {
            root: 0,
            path: p("sub"),
            dir: true,
        },
        Req::Rename {
            root: 0,
            from: p("f"),
            to: p("g"),
            flags: 0,
        },
        Req::Link {
            root: 0,
            from: p("f"),
            to: p("g"),
        },
        Req::Symlink {
            root: 0,
            target: p("f"),
            path: p("s"),
        },
        Req::Chmod {
            root: 0,
            path: p("f"),
            mode: 0o777,
        },
        Req::Chown {
            root: 0,
            path: p("f"),
            uid: 0,
            gid: 0,
        },
        Req::Utimens {
            root: 0,
            path: p("f"),
            times: None,
        },
        Req::Truncate {
            root: 0,
            path: p("f"),
            len: 0,
        },
        Req::Mknod {
            root: 0,
            path: p("fifo"),
            mode: libc::S_IFIFO | 0o600,
        },
        Req::SetXattr {
            root: 0,
            path: p("f"),
            name: p("user.x"),
            value: p("1"),
            flags: 0,
        },
        Req::RemoveXattr {
            root: 0,
            path: p("f"),
            name: p("user.x"),
        },
    ];
    for req in &writes {
        let (r, fd) = call(&s, req);
        assert_eq!(errno(&r), libc::EROFS, "{req:?}");
        assert!(fd.is_none(), "{req:?}");
    }
    // Reads are served.
    let (r, fd) = call(
        &s,
        &Req::Open {
            root: 0,
            path: p("f"),
            flags: libc::O_RDONLY,
            mode: 0,
        },
    );
    assert_eq!(r, Reply::ok(0));
    assert!(fd.is_some());
    // Judged on the host: nothing changed.
    let mut names: Vec<String> = std::fs::read_dir(&d.0)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["f", "sub"]);
    assert_eq!(std::fs::read(d.0.join("f")).expect("read"), b"keep");
}

#[test]
fn a_malformed_request_ends_the_connection() {
    let d = Dir::new("bad");
    for bad in [b"garbage".to_vec(), b"CVG1\x0a".to_vec(), {
        // An Open whose path climbs out of the root.
        let mut v = Req::Open {
            root: 0,
            path: b"x".to_vec(),
            flags: 0,
            mode: 0,
        }
        .encode();
        let i = v.len() - 9;
        v[i] = b'.';
        v.splice(i..=i, b"..".iter().copied());
        v
    }] {
        let (s, h) = start(vec![root(&d.0, true)]);
        wire::send(s.as_fd(), &bad, None).expect("send");
        assert!(
            wire::recv(s.as_fd()).expect("recv").is_none(),
            "no reply to {bad:?}"
        );
        assert!(matches!(h.join().expect("join"), Ended::Malformed(_)));
    }
    // An fd attached where none belongs.
    let (s, h) = start(vec![root(&d.0, true)]);
    let extra = gofer::sys::open_abs(c"/dev/null", libc::O_RDONLY).expect("open");
    wire::send(s.as_fd(), &Req::Stats.encode(), Some(extra.as_fd())).expect("send");
    assert!(wire::recv(s.as_fd()).expect("recv").is_none());
    assert!(matches!(h.join().expect("join"), Ended::Malformed(_)));
    let _ = s.as_raw_fd();
}

#[test]
fn no_root_is_added_after_seal_and_unknown_roots_are_refused() {
    let d = Dir::new("seal");
    let (s, _h) = start(vec![root(&d.0, false)]);
    let (r, _) = call(&s, &Req::Seal);
    assert_eq!(r, Reply::ok(0));
    let dir = gofer::sys::open_abs(c"/", libc::O_PATH | libc::O_DIRECTORY).expect("open /");
    wire::send(s.as_fd(), &Req::AddRoot.encode(), Some(dir.as_fd())).expect("send");
    let (b, _) = wire::recv(s.as_fd()).expect("recv").expect("reply");
    assert_eq!(errno(&Reply::decode(&b).expect("reply")), libc::EPERM);
    let (r, _) = call(
        &s,
        &Req::Open {
            root: 7,
            path: Vec::new(),
            flags: libc::O_RDONLY,
            mode: 0,
        },
    );
    assert_eq!(errno(&r), libc::EINVAL);
}
